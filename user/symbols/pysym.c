/* Python frame symbolization (see pysym.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "symbols/linetable.h"
#include "symbols/pysym.h"
#include "symbols/pyfind.h"

#define MAX_PARENT_DEPTH 16	    /* fork generations searched for a cached entry */
#define MAX_ENTRIES	 (1u << 18) /* cached code objects per process image */
#define MAX_STR_BYTES	 1024	    /* UTF-8 bytes kept of a name or file */
#define MAX_TABLE_BYTES	 (1u << 20) /* larger line tables are not read */
#define MAX_STR_HEADER	 128
#define LASTI_UNKNOWN	 0xffffffffu
#define OB_TYPE		 8 /* PyObject.ob_type in every layout accepted (pyoffsets.c) */

/* One code object, as read once. */
struct centry {
	uint64_t code;
	uint32_t check;
	uint32_t firstlineno;
	const char *name, *file;	/* interned in the pysym's pool */
	struct linetable_range *ranges; /* sorted, non-overlapping; NULL: no line table */
	uint32_t nranges;
};

/* One process image: how to read it, and what was read. Shared by refcount with the
 * children forked from it (through their parent link). */
struct pyproc {
	int refs;
	pid_t pid; /* the process this image was first seen in (a fork ancestor's) */
	struct py_code_layout code;
	struct pyproc *parent;
	struct htab codes; /* code object address -> struct centry * (several: other checks) */
};

struct pysym {
	struct htab pids; /* pid -> struct pyproc * (a reference) */
	struct htab strs; /* FNV-1a of the string -> char * (interned; several on collision) */
};

/* The pool's copy of s, or NULL when out of memory. */
static const char *intern(struct pysym *ps, const char *s)
{
	uint64_t key = hash__str(HASH_FNV_SEED, s) ?: 1;
	size_t pos = 0;
	char **slot, *copy;

	while ((slot = htab__next_dup(&ps->strs, key, &pos)))
		if (!strcmp(*slot, s))
			return *slot;
	copy = strdup(s);
	slot = copy ? htab__add(&ps->strs, key) : NULL;
	if (!slot) {
		free(copy);
		return NULL;
	}
	*slot = copy;
	return copy;
}

struct pysym *pysym__new(void)
{
	struct pysym *ps = calloc(1, sizeof(*ps));

	if (!ps) {
		errno = ENOMEM;
		return NULL;
	}
	htab__init(&ps->pids, sizeof(struct pyproc *));
	htab__init(&ps->strs, sizeof(char *));
	return ps;
}

static void pyproc_put(struct pyproc *p)
{
	while (p && --p->refs == 0) {
		struct pyproc *parent = p->parent;
		struct centry **e;
		size_t it = 0;

		while ((e = htab__next(&p->codes, &it, NULL))) {
			free((*e)->ranges);
			free(*e);
		}
		htab__fini(&p->codes);
		free(p);
		p = parent;
	}
}

void pysym__free(struct pysym *ps)
{
	struct pyproc **proc;
	size_t it = 0;
	char **str;

	if (!ps)
		return;
	while ((proc = htab__next(&ps->pids, &it, NULL)))
		pyproc_put(*proc);
	it = 0;
	while ((str = htab__next(&ps->strs, &it, NULL)))
		free(*str);
	htab__fini(&ps->pids);
	htab__fini(&ps->strs);
	free(ps);
}

/* The image of pid, or NULL. */
static struct pyproc *pid_proc(const struct pysym *ps, pid_t pid)
{
	struct pyproc **slot = pid > 0 ? htab__get(&ps->pids, pid) : NULL;

	return slot ? *slot : NULL;
}

/* Make p pid's image (taking over the caller's reference): 0 or -ENOMEM. */
static int pid_set(struct pysym *ps, pid_t pid, struct pyproc *p)
{
	struct pyproc **slot = htab__put(&ps->pids, pid, NULL);

	if (!slot) {
		pyproc_put(p);
		return -ENOMEM;
	}
	pyproc_put(*slot);
	*slot = p;
	return 0;
}

static struct pyproc *pyproc_new(pid_t pid, const struct py_code_layout *code,
				 struct pyproc *parent)
{
	struct pyproc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->pid = pid;
	htab__init(&p->codes, sizeof(struct centry *));
	p->code = *code;
	p->parent = parent;
	if (parent)
		parent->refs++;
	return p;
}

int pysym__set_runtime(struct pysym *ps, pid_t pid, const struct py_runtime_info *info)
{
	struct pyproc *p = pyproc_new(pid, &info->code, NULL);

	return p ? pid_set(ps, pid, p) : -ENOMEM;
}

void pysym__fork(struct pysym *ps, pid_t child, pid_t parent)
{
	struct pyproc *pp = pid_proc(ps, parent), *p;

	if (!pp)
		return;
	p = pyproc_new(child, &pp->code, pp);
	if (p)
		pid_set(ps, child, p);
}

void pysym__exec(struct pysym *ps, pid_t pid)
{
	struct pyproc *p = pid_proc(ps, pid);

	if (!p)
		return;
	htab__del(&ps->pids, pid);
	pyproc_put(p);
}

static struct centry *pyproc_find(const struct pyproc *p, uint64_t code, uint32_t check)
{
	for (int depth = 0; p && depth < MAX_PARENT_DEPTH; p = p->parent, depth++) {
		struct centry **e;
		size_t pos = 0;

		while ((e = htab__next_dup(&p->codes, code, &pos)))
			if ((*e)->check == check)
				return *e;
	}
	return NULL;
}

/* Insert e (owned by p afterwards; freed here when the table cannot take it). */
static void pyproc_add(struct pyproc *p, struct centry *e)
{
	struct centry **slot = NULL;

	if (htab__count(&p->codes) < MAX_ENTRIES)
		slot = htab__add(&p->codes, e->code);
	if (slot) {
		*slot = e;
		return;
	}
	free(e->ranges);
	free(e);
}

static uint64_t u64_at(const uint8_t *buf, uint16_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static uint32_t u32_at(const uint8_t *buf, uint16_t off)
{
	uint32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* Append code point cp as UTF-8 if it fits in cap (keeping room for the NUL). */
static bool put_utf8(char *out, size_t *len, size_t cap, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd; /* NUL, lone surrogates (e.g. surrogateescape'd file names), junk */
	if (cp < 0x80) {
		b[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		b[1] = 0x80 | (cp >> 6 & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | cp >> 18;
		b[1] = 0x80 | (cp >> 12 & 0x3f);
		b[2] = 0x80 | (cp >> 6 & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	if (*len + n >= cap)
		return false;
	memcpy(out + *len, b, n);
	*len += n;
	return true;
}

int pystr__decode(const struct py_code_layout *L, const uint8_t *obj, size_t objlen, size_t *need,
		  char *out, size_t cap)
{
	uint32_t state, kind;
	size_t n, data, len = 0;
	int64_t length;

	if (!cap || L->str_ascii_data > MAX_STR_HEADER || L->str_compact_data > MAX_STR_HEADER ||
	    L->str_length + sizeof(length) > L->str_ascii_data ||
	    L->str_state + sizeof(state) > L->str_ascii_data)
		return -EFAULT;
	if (objlen < L->str_ascii_data) {
		*need = L->str_ascii_data;
		return -EAGAIN;
	}
	if (L->str_type && L->str_ascii_data >= OB_TYPE + 8 && u64_at(obj, OB_TYPE) != L->str_type)
		return -EFAULT; /* not a str (any more): freed and reused */
	memcpy(&length, obj + L->str_length, sizeof(length));
	state = u32_at(obj, L->str_state);
	kind = (state >> L->str_kind_shift) & 7;
	if (!(state & L->str_compact_mask) || length < 0 || (kind != 1 && kind != 2 && kind != 4))
		return -EFAULT; /* code objects only hold compact strings */
	if (state & L->str_ascii_mask && kind != 1)
		return -EFAULT;
	data = state & L->str_ascii_mask ? L->str_ascii_data : L->str_compact_data;
	n = length < MAX_STR_BYTES ? (size_t)length : MAX_STR_BYTES;
	if (objlen < data + n * kind) {
		*need = data + n * kind;
		return -EAGAIN;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *c = obj + data + i * kind;
		uint32_t cp;

		if (kind == 1) {
			cp = c[0];
		} else if (kind == 2) {
			uint16_t c16;

			memcpy(&c16, c, 2);
			cp = c16;
		} else {
			memcpy(&cp, c, 4);
		}
		if (state & L->str_ascii_mask && cp >= 0x80)
			cp = 0xfffd;
		if (!put_utf8(out, &len, cap, cp))
			break;
	}
	out[len] = '\0';
	return 0;
}

/* Read the compact str at addr as UTF-8 into out[cap]: 0 or negative errno. The header is
 * read first, then as much of the object as the header says it holds (bounded). */
static int read_str(pid_t pid, uint64_t addr, const struct py_code_layout *L, char *out, size_t cap)
{
	uint8_t obj[MAX_STR_HEADER + MAX_STR_BYTES * 4];
	size_t have = 0, need = 0;
	int err;

	if (!addr || addr & 7)
		return -EFAULT;
	for (int round = 0; round < 3; round++) {
		err = pystr__decode(L, obj, have, &need, out, cap);
		if (err != -EAGAIN)
			return err;
		if (need > sizeof(obj) || need <= have)
			return -EFAULT;
		err = pyfind__read(pid, addr + have, obj + have, need - have);
		if (err)
			return err;
		have = need;
	}
	return -EFAULT;
}

static const char *read_interned(struct pysym *ps, pid_t pid, uint64_t addr,
				 const struct py_code_layout *L, int *err)
{
	char buf[MAX_STR_BYTES + 1];
	const char *s;

	*err = read_str(pid, addr, L, buf, sizeof(buf));
	if (*err)
		return NULL;
	s = intern(ps, buf);
	if (!s)
		*err = -ENOMEM;
	return s;
}

/* Read the bytes object at addr and decode it as the version's line table into e->ranges,
 * merging neighbours with the same line. Failures leave the entry without lines. */
static void read_lines(pid_t pid, uint64_t addr, const struct py_code_layout *L, struct centry *e)
{
	uint8_t hdr[MAX_STR_HEADER], *table = NULL;
	struct linetable_iter it;
	struct linetable_range r;
	int64_t size;
	size_t cap;

	if (!addr || addr & 7 || L->bytes_ob_sval > sizeof(hdr) ||
	    pyfind__read(pid, addr, hdr, L->bytes_ob_sval))
		return;
	memcpy(&size, hdr + L->bytes_ob_size, sizeof(size));
	if (size < 0 || size > MAX_TABLE_BYTES)
		return;
	table = malloc(size ? size : 1);
	/* Each range consumes at least one table byte, plus the final 3.8/3.9 range. */
	cap = size + 1;
	e->ranges = malloc(cap * sizeof(*e->ranges));
	if (!table || !e->ranges || pyfind__read(pid, addr + L->bytes_ob_sval, table, size) ||
	    linetable__iter_init(&it, L->minor, table, size, (int32_t)e->firstlineno))
		goto fail;
	while (linetable__next(&it, &r) == 1 && e->nranges < cap) {
		struct linetable_range *last = e->nranges ? &e->ranges[e->nranges - 1] : NULL;

		if (last && last->end == r.start && last->line == r.line)
			last->end = r.end;
		else
			e->ranges[e->nranges++] = r;
	}
	free(table);
	if (e->nranges < cap) { /* give back what the worst case reserved */
		struct linetable_range *fit = realloc(e->ranges, (e->nranges + 1) * sizeof(*fit));

		if (fit)
			e->ranges = fit;
	}
	return;
fail:
	free(table);
	free(e->ranges);
	e->ranges = NULL;
	e->nranges = 0;
}

static int load(struct pysym *ps, pid_t pid, const struct pyproc *p, const struct tp_pyframe *f,
		struct centry **out)
{
	const struct py_code_layout *L = &p->code;
	uint8_t buf[PYOFFSETS_MAX_CODE_SIZE];
	uint64_t filename, name;
	struct centry *e;
	int err;

	if (!f->code || f->code & 7 || L->co_size > sizeof(buf))
		return -EFAULT;
	err = pyfind__read(pid, f->code, buf, L->co_size);
	if (err)
		return err;
	if (L->code_type && L->co_size >= OB_TYPE + 8 && u64_at(buf, OB_TYPE) != L->code_type)
		return -ESTALE; /* freed, its memory now another object */
	filename = u64_at(buf, L->co_filename);
	name = u64_at(buf, L->co_name);
	if (tp_code_check(u32_at(buf, L->co_firstlineno), u32_at(buf, L->co_argcount), filename,
			  name) != f->check)
		return -ESTALE;
	if (L->co_qualname != TP_OFF_NONE)
		name = u64_at(buf, L->co_qualname);

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->code = f->code;
	e->check = f->check;
	e->firstlineno = u32_at(buf, L->co_firstlineno);
	e->name = read_interned(ps, pid, name, L, &err);
	if (!err)
		e->file = read_interned(ps, pid, filename, L, &err);
	if (err) {
		free(e);
		return err == -ENOMEM ? err : -EFAULT;
	}
	read_lines(pid, u64_at(buf, L->co_linetable), L, e);
	*out = e;
	return 0;
}

/* bsearch(): where the code offset *key lies against the range [start, end). */
static int off_vs_range(const void *key, const void *elem)
{
	uint64_t off = *(const uint64_t *)key;
	const struct linetable_range *r = elem;

	return off < r->start ? -1 : off >= r->end;
}

/* The line of the frame's instruction; lasti is in the unit the kernel reports. */
static uint32_t frame_line(const struct centry *e, const struct py_code_layout *L, uint32_t lasti)
{
	const struct linetable_range *r;
	uint64_t off = lasti;

	if (L->minor >= 11) {
		if (lasti == LASTI_UNKNOWN)
			return 0;
		/* The frame points just before its first instruction: not started yet. */
		if (lasti < L->co_code_adaptive)
			return e->firstlineno;
		off = lasti - L->co_code_adaptive;
	} else {
		if (lasti == LASTI_UNKNOWN) /* f_lasti == -1: not started yet */
			return e->firstlineno;
		if (L->minor == 10)
			off = (uint64_t)lasti * 2; /* code units to bytes */
	}
	if (!e->nranges)
		return 0;
	r = bsearch(&off, e->ranges, e->nranges, sizeof(*e->ranges), off_vs_range);
	return r && r->line > 0 ? (uint32_t)r->line : 0;
}

int pysym__resolve(struct pysym *ps, pid_t pid, const struct tp_pyframe *f, struct pysym_frame *out)
{
	struct pyproc *proc = pid_proc(ps, pid);
	struct centry *e;
	int err;

	if (!proc)
		return -ENOENT;
	e = pyproc_find(proc, f->code, f->check);
	if (!e) {
		struct pyproc *owner = proc;

		err = load(ps, pid, proc, f, &e);
		/* A short-lived forked child may be gone before its samples are read; code
		 * objects made before the fork sit at the same addresses in its ancestors, and
		 * the check proves it is the same object. */
		for (int depth = 0;
		     (err == -ESRCH || err == -EFAULT) && owner->parent && depth < MAX_PARENT_DEPTH;
		     depth++) {
			owner = owner->parent;
			err = load(ps, owner->pid, owner, f, &e);
		}
		if (err)
			return err;
		out->name = e->name;
		out->file = e->file;
		out->firstlineno = e->firstlineno;
		out->line = frame_line(e, &proc->code, f->lasti);
		pyproc_add(owner, e); /* may free e: out holds only pool strings */
		return 0;
	}
	out->name = e->name;
	out->file = e->file;
	out->firstlineno = e->firstlineno;
	out->line = frame_line(e, &proc->code, f->lasti);
	return 0;
}
