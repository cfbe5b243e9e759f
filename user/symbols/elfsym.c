/* One ELF file indexed with libelf. Everything needed later (symbols, sections, PT_LOAD
 * segments, build id, DT_NEEDED, PLT relocations) is copied out at open time, then libelf's
 * handle is released; only the descriptor stays, for elfsym__read. The file is read with
 * pread (ELF_C_READ), never mmap'd, so a target truncating it cannot SIGBUS us. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/freeall.h"
#include "lib/vec.h"
#include "symbols/elfsym.h"

#define ELFSYM_MAX_SYMS	  (64u << 20) /* per file, all tables together */
#define ELFSYM_MAX_SECS	  (1u << 16)
#define ELFSYM_MAX_PHDRS  (1u << 16)
#define ELFSYM_MAX_NEEDED 4096
#define ELFSYM_MAX_POOL	  (1u << 31) /* names, as 32-bit pool offsets */

#ifndef R_X86_64_GLOB_DAT
#define R_X86_64_GLOB_DAT  6
#define R_X86_64_JUMP_SLOT 7
#endif

struct esym {
	uint64_t start, end; /* functions: [start, end); objects: end = start + size */
	uint32_t name;	     /* offset in pool */
	uint8_t local;
	uint8_t sized; /* st_size was not 0 */
	uint8_t ifunc;
};

struct esec {
	uint64_t addr, size, off;
	uint32_t name;
};

struct eload {
	uint64_t vaddr, off, filesz;
};

struct erel {
	uint64_t slot; /* GOT slot address */
	uint32_t name;
};

struct elfsym {
	char *path;
	int fd;
	bool dyn;
	char build_id[2 * 64 + 1];
	char *pool;
	size_t pool_len, pool_cap;
	struct esym *funcs; /* sorted by start, one per address */
	size_t nfuncs, funcs_cap;
	struct esym *named; /* functions and objects, sorted by name */
	size_t nnamed, named_cap;
	struct esec *secs;
	size_t nsecs;
	struct eload *loads;
	size_t nloads;
	uint32_t needed[ELFSYM_MAX_NEEDED];
	int nneeded;
	struct erel *rels; /* sorted by slot */
	size_t nrels, rels_cap;
};

/* The NUL-terminated string at off in a string section's data, or NULL if out of range. */
static const char *data_str(const Elf_Data *d, uint64_t off)
{
	if (!d || !d->d_buf || off >= d->d_size)
		return NULL;
	if (!memchr((const char *)d->d_buf + off, '\0', d->d_size - off))
		return NULL;
	return (const char *)d->d_buf + off;
}

/* Data of section index ndx when it is a string table, else NULL. */
static Elf_Data *strtab_data(Elf *elf, size_t ndx)
{
	Elf_Scn *scn = elf_getscn(elf, ndx);
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_STRTAB)
		return NULL;
	return elf_getdata(scn, NULL);
}

/* Copy s into the pool: 0 and *off, or a negative errno. */
static int pool_add(struct elfsym *e, const char *s, uint32_t *off)
{
	size_t len = strlen(s) + 1;

	if (e->pool_len + len > ELFSYM_MAX_POOL)
		return -E2BIG;
	if (vec__grow((void **)&e->pool, &e->pool_cap, e->pool_len + len, 1))
		return -ENOMEM;
	memcpy(e->pool + e->pool_len, s, len);
	*off = e->pool_len;
	e->pool_len += len;
	return 0;
}

static int load_sections(struct elfsym *e, Elf *elf)
{
	Elf_Data *names = NULL;
	Elf_Scn *scn = NULL;
	size_t shnum, shstrndx;
	const char *name;
	GElf_Shdr sh;

	if (elf_getshdrnum(elf, &shnum) || shnum > ELFSYM_MAX_SECS)
		return -ENOEXEC;
	if (shnum == 0)
		return 0;
	if (elf_getshdrstrndx(elf, &shstrndx) == 0)
		names = strtab_data(elf, shstrndx);
	e->secs = calloc(shnum, sizeof(*e->secs));
	if (!e->secs)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn)) && e->nsecs < shnum) {
		struct esec *s = &e->secs[e->nsecs];
		int err;

		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		name = data_str(names, sh.sh_name);
		err = pool_add(e, name ? name : "", &s->name);
		if (err)
			return err;
		s->addr = sh.sh_addr;
		s->size = sh.sh_size;
		s->off = sh.sh_offset;
		e->nsecs++;
	}
	return 0;
}

static int load_phdrs(struct elfsym *e, Elf *elf)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n) || n > ELFSYM_MAX_PHDRS)
		return -ENOEXEC;
	e->loads = calloc(n ? n : 1, sizeof(*e->loads));
	if (!e->loads)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || ph.p_filesz > ph.p_memsz)
			continue;
		if (ph.p_offset + ph.p_filesz < ph.p_offset || ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			continue;
		e->loads[e->nloads++] = (struct eload){ph.p_vaddr, ph.p_offset, ph.p_filesz};
	}
	return 0;
}

/* End of the section holding a symbol, to bound zero-size symbols; 0 when unknown. */
static uint64_t section_end(const struct elfsym *e, size_t shndx)
{
	/* secs[] skips section 0, so section index i is secs[i - 1]. */
	if (shndx == 0 || shndx > e->nsecs)
		return 0;
	return e->secs[shndx - 1].addr + e->secs[shndx - 1].size;
}

static int load_symtab(struct elfsym *e, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL), *strs = strtab_data(elf, sh->sh_link);
	GElf_Sym sym;
	const char *name;
	int err;

	if (!data || !strs)
		return 0; /* an unusable table is skipped, the rest of the file still helps */
	for (size_t i = 1; gelf_getsym(data, i, &sym); i++) {
		int type = GELF_ST_TYPE(sym.st_info);
		bool func = type == STT_FUNC || type == STT_GNU_IFUNC;
		struct esym s;

		if (e->nfuncs + e->nnamed >= ELFSYM_MAX_SYMS)
			return -E2BIG;
		if ((!func && type != STT_OBJECT) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = data_str(strs, sym.st_name);
		if (!name || !name[0])
			continue;
		err = pool_add(e, name, &s.name);
		if (err)
			return err;
		s.start = sym.st_value;
		s.end = sym.st_value + sym.st_size;
		if (s.end < s.start)
			s.end = UINT64_MAX;
		s.local = GELF_ST_BIND(sym.st_info) == STB_LOCAL;
		s.sized = sym.st_size != 0;
		s.ifunc = type == STT_GNU_IFUNC;
		if (vec__grow((void **)&e->named, &e->named_cap, e->nnamed + 1, sizeof(s)))
			return -ENOMEM;
		e->named[e->nnamed++] = s;
		if (!func)
			continue;
		if (s.end == s.start) /* zero size: bound by section now, next symbol later */
			s.end = section_end(e, sym.st_shndx);
		if (vec__grow((void **)&e->funcs, &e->funcs_cap, e->nfuncs + 1, sizeof(s)))
			return -ENOMEM;
		e->funcs[e->nfuncs++] = s;
	}
	return 0;
}

/* x86-64 GOT-slot relocations against .dynsym: how PLT stubs name their targets. */
static int load_rela(struct elfsym *e, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	Elf_Data *data = elf_getdata(scn, NULL), *syms, *strs;
	GElf_Shdr symsh;
	GElf_Rela r;
	GElf_Sym sym;
	const char *name;
	int err;

	if (!data || !symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_DYNSYM)
		return 0;
	syms = elf_getdata(symscn, NULL);
	strs = strtab_data(elf, symsh.sh_link);
	if (!syms || !strs)
		return 0;
	for (int i = 0; gelf_getrela(data, i, &r); i++) {
		uint64_t type = GELF_R_TYPE(r.r_info);

		if (e->nrels >= ELFSYM_MAX_SYMS)
			return -E2BIG;
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		if (!gelf_getsym(syms, GELF_R_SYM(r.r_info), &sym))
			continue;
		name = data_str(strs, sym.st_name);
		if (!name || !name[0])
			continue;
		if (vec__grow((void **)&e->rels, &e->rels_cap, e->nrels + 1, sizeof(*e->rels)))
			return -ENOMEM;
		err = pool_add(e, name, &e->rels[e->nrels].name);
		if (err)
			return err;
		e->rels[e->nrels++].slot = r.r_offset;
	}
	return 0;
}

static int load_needed(struct elfsym *e, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL), *strs = strtab_data(elf, sh->sh_link);
	const char *name;
	GElf_Dyn dyn;
	int err;

	if (!data || !strs)
		return 0;
	for (int i = 0; gelf_getdyn(data, i, &dyn) && dyn.d_tag != DT_NULL; i++) {
		if (dyn.d_tag != DT_NEEDED || e->nneeded >= ELFSYM_MAX_NEEDED)
			continue;
		name = data_str(strs, dyn.d_un.d_val);
		if (!name)
			continue;
		err = pool_add(e, name, &e->needed[e->nneeded]);
		if (err)
			return err;
		e->nneeded++;
	}
	return 0;
}

/* Take the GNU build id from note data if it holds one. */
static void scan_notes(struct elfsym *e, Elf_Data *d)
{
	size_t off = 0, next, name_off, desc_off;
	const unsigned char *p;
	GElf_Nhdr nh;

	if (!d || !d->d_buf)
		return;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off))) {
		if (next <= off)
			return;
		off = next;
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || !nh.n_descsz ||
		    nh.n_descsz > 64 || name_off + 4 > d->d_size ||
		    desc_off + nh.n_descsz > d->d_size)
			continue;
		p = d->d_buf;
		if (memcmp(p + name_off, "GNU", 4))
			continue;
		for (size_t i = 0; i < nh.n_descsz; i++) {
			e->build_id[2 * i] = "0123456789abcdef"[p[desc_off + i] >> 4];
			e->build_id[2 * i + 1] = "0123456789abcdef"[p[desc_off + i] & 15];
		}
		e->build_id[2 * nh.n_descsz] = '\0';
		return;
	}
}

static void load_build_id(struct elfsym *e, Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Phdr ph;
	size_t n;

	while (!e->build_id[0] && (scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE)
			scan_notes(e, elf_getdata(scn, NULL));
	/* Section headers can be stripped; the PT_NOTE segments cannot. */
	if (e->build_id[0] || elf_getphdrnum(elf, &n) || n > ELFSYM_MAX_PHDRS)
		return;
	for (size_t i = 0; i < n && !e->build_id[0]; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_NOTE)
			scan_notes(e,
				   elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_NHDR));
}

static int esym_cmp_addr(const void *a, const void *b)
{
	const struct esym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* The representative of an address: sized, then longest, then global, then the
	 * first seen (.dynsym or .symtab order decides; qsort is not stable). */
	if (x->sized != y->sized)
		return x->sized ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	if (x->local != y->local)
		return x->local - y->local;
	return x->name < y->name ? -1 : x->name > y->name;
}

static int esym_cmp_name(const void *a, const void *b, void *pool)
{
	const struct esym *x = a, *y = b;
	int c = strcmp((char *)pool + x->name, (char *)pool + y->name);

	/* Equal names: globals first, then by address, so lookups are deterministic. */
	if (c)
		return c;
	if (x->local != y->local)
		return x->local - y->local;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort functions, keep one per start address, bound zero-size ones by the next start. */
static void index_funcs(struct elfsym *e)
{
	size_t out = 0;

	if (e->nfuncs)
		qsort(e->funcs, e->nfuncs, sizeof(*e->funcs), esym_cmp_addr);
	for (size_t i = 0; i < e->nfuncs; i++)
		if (!out || e->funcs[out - 1].start != e->funcs[i].start)
			e->funcs[out++] = e->funcs[i];
	e->nfuncs = out;
	for (size_t i = 0; i < e->nfuncs; i++) {
		struct esym *s = &e->funcs[i];
		uint64_t next = i + 1 < e->nfuncs ? e->funcs[i + 1].start : UINT64_MAX;

		if (s->sized)
			continue;
		/* Zero size: up to the next symbol, within its section when that is known. */
		if (s->end <= s->start || s->end > next)
			s->end = next;
		if (s->end == UINT64_MAX)
			s->end = s->start + 1;
	}
	if (e->nnamed)
		qsort_r(e->named, e->nnamed, sizeof(*e->named), esym_cmp_name, e->pool);
}

static int erel_cmp(const void *a, const void *b)
{
	const struct erel *x = a, *y = b;

	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* The header tables must lie inside the file: libelf quietly reports zero sections when
 * they do not, which would turn a truncated file into an empty but "valid" one. */
static bool header_tables_fit(Elf *elf, const GElf_Ehdr *eh, uint64_t file_size)
{
	size_t shnum, phnum;

	if (elf_getshdrnum(elf, &shnum) || elf_getphdrnum(elf, &phnum))
		return false;
	if (eh->e_shoff && !shnum)
		return false;
	if (shnum && (eh->e_shoff >= file_size || eh->e_shentsize == 0 ||
		      (file_size - eh->e_shoff) / eh->e_shentsize < shnum))
		return false;
	if (phnum && (eh->e_phoff >= file_size || eh->e_phentsize == 0 ||
		      (file_size - eh->e_phoff) / eh->e_phentsize < phnum))
		return false;
	return true;
}

static int index_symbols(struct elfsym *e, Elf *elf, uint64_t file_size)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	GElf_Shdr sh;
	int err;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		return -ENOEXEC;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOEXEC;
	if (!header_tables_fit(elf, &eh, file_size))
		return -ENOEXEC;
	e->dyn = eh.e_type == ET_DYN;
	err = load_sections(e, elf);
	if (!err)
		err = load_phdrs(e, elf);
	while (!err && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM)
			err = load_symtab(e, elf, scn, &sh);
		else if (sh.sh_type == SHT_RELA && eh.e_machine == EM_X86_64)
			err = load_rela(e, elf, scn, &sh);
		else if (sh.sh_type == SHT_DYNAMIC)
			err = load_needed(e, elf, scn, &sh);
	}
	if (err)
		return err;
	load_build_id(e, elf);
	index_funcs(e);
	if (e->nrels)
		qsort(e->rels, e->nrels, sizeof(*e->rels), erel_cmp);
	return 0;
}

struct elfsym *elfsym__open_fd(int fd, const char *display_path)
{
	struct elfsym *e;
	struct stat st;
	Elf *elf = NULL;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOEXEC;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = -1;
	e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (e->fd < 0) {
		err = -errno;
		goto err_out;
	}
	e->path = strdup(display_path ? display_path : "");
	if (!e->path) {
		err = -ENOMEM;
		goto err_out;
	}
	if (fstat(e->fd, &st)) {
		err = -errno;
		goto err_out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -ENOEXEC;
		goto err_out;
	}
	elf = elf_begin(e->fd, ELF_C_READ, NULL);
	if (!elf) {
		err = -ENOEXEC;
		goto err_out;
	}
	err = index_symbols(e, elf, st.st_size);
	if (err)
		goto err_out;
	elf_end(elf);
	return e;

err_out:
	elf_end(elf);
	elfsym__free(e);
	errno = err == -E2BIG ? ENOEXEC : -err;
	return NULL;
}

struct elfsym *elfsym__open(const char *path)
{
	struct elfsym *e;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	e = elfsym__open_fd(fd, path);
	err = errno;
	close(fd);
	errno = err;
	return e;
}

void elfsym__free(struct elfsym *e)
{
	if (!e)
		return;
	if (e->fd >= 0)
		close(e->fd);
	free_all(e->path, e->pool, e->funcs, e->named, e->secs, e->loads, e->rels, e);
}

const char *elfsym__path(const struct elfsym *e)
{
	return e->path;
}

const char *elfsym__build_id(const struct elfsym *e)
{
	return e->build_id[0] ? e->build_id : NULL;
}

bool elfsym__is_dyn(const struct elfsym *e)
{
	return e->dyn;
}

const char *elfsym__lookup(const struct elfsym *e, uint64_t vaddr, uint64_t *start, uint64_t *size)
{
	size_t lo = 0, hi = e->nfuncs;
	const struct esym *s;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->funcs[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	s = &e->funcs[lo - 1];
	if (vaddr >= s->end)
		return NULL;
	if (start)
		*start = s->start;
	if (size)
		*size = s->end - s->start;
	return e->pool + s->name;
}

/* Index in named[] of the first symbol called name, or -1. */
static ssize_t find_named(const struct elfsym *e, const char *name)
{
	size_t lo = 0, hi = e->nnamed;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, e->pool + e->named[mid].name);

		if (c == 0) {
			while (mid > 0 && !strcmp(name, e->pool + e->named[mid - 1].name))
				mid--;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

int elfsym__symbol(const struct elfsym *e, const char *name, uint64_t *vaddr, uint64_t *size)
{
	ssize_t i = find_named(e, name);

	if (i < 0)
		return -ENOENT;
	if (vaddr)
		*vaddr = e->named[i].start;
	if (size)
		*size = e->named[i].end - e->named[i].start;
	return 0;
}

bool elfsym__is_ifunc(const struct elfsym *e, const char *name)
{
	for (ssize_t i = find_named(e, name); i >= 0 && (size_t)i < e->nnamed; i++) {
		if (strcmp(name, e->pool + e->named[i].name))
			break;
		if (e->named[i].ifunc)
			return true;
	}
	return false;
}

int elfsym__section(const struct elfsym *e, const char *name, uint64_t *vaddr, uint64_t *size,
		    uint64_t *file_off)
{
	for (size_t i = 0; i < e->nsecs; i++) {
		const struct esec *s = &e->secs[i];

		if (strcmp(e->pool + s->name, name))
			continue;
		if (vaddr)
			*vaddr = s->addr;
		if (size)
			*size = s->size;
		if (file_off)
			*file_off = s->off;
		return 0;
	}
	return -ENOENT;
}

/* File bytes available from vaddr to the end of its PT_LOAD's file part; 0 if none. */
static uint64_t file_bytes_at(const struct elfsym *e, uint64_t vaddr, uint64_t *off)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct eload *l = &e->loads[i];

		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->filesz) {
			*off = l->off + (vaddr - l->vaddr);
			return l->filesz - (vaddr - l->vaddr);
		}
	}
	return 0;
}

int elfsym__read(const struct elfsym *e, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off;
	ssize_t r;

	if (len == 0)
		return 0;
	if (file_bytes_at(e, vaddr, &off) < len)
		return -EFAULT;
	do
		r = pread(e->fd, buf, len, off);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)len ? 0 : -EFAULT; /* short: the file is shorter than it claims */
}

/* x in the file (from_file) or in memory, translated to the other through the PT_LOAD
 * segment holding it: 0, or -ENOENT when none does. */
static int load_translate(const struct elfsym *e, uint64_t x, bool from_file, uint64_t *out)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const struct eload *l = &e->loads[i];
		uint64_t from = from_file ? l->off : l->vaddr, to = from_file ? l->vaddr : l->off;

		if (x >= from && x - from < l->filesz) {
			*out = to + (x - from);
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym__offset_to_vaddr(const struct elfsym *e, uint64_t file_off, uint64_t *vaddr)
{
	return load_translate(e, file_off, true, vaddr);
}

int elfsym__vaddr_to_offset(const struct elfsym *e, uint64_t vaddr, uint64_t *file_off)
{
	return load_translate(e, vaddr, false, file_off);
}

int elfsym__bias(const struct elfsym *e, uint64_t map_start, uint64_t map_offset, uint64_t *bias)
{
	/* The kernel maps a segment from its page-aligned file offset, so the mapping's
	 * offset is p_offset rounded down to a page (4 KiB granularity at least). */
	for (size_t i = 0; i < e->nloads; i++) {
		const struct eload *l = &e->loads[i];
		uint64_t page_off = l->off & ~(uint64_t)0xfff;
		uint64_t file_end = l->off + l->filesz;

		if (map_offset < page_off ||
		    map_offset >= (file_end > page_off ? file_end : page_off + 1))
			continue;
		/* runtime(map_start) corresponds to file vaddr p_vaddr - (p_offset - map_offset) */
		*bias = map_start - (l->vaddr - l->off + map_offset);
		return 0;
	}
	return -ENOENT;
}

int elfsym__needed(const struct elfsym *e, const char **names, int max)
{
	int n = 0;

	for (; n < e->nneeded && n < max; n++)
		names[n] = e->pool + e->needed[n];
	return n;
}

const char *elfsym__plt_target(const struct elfsym *e, uint64_t stub)
{
	unsigned char b[11] = {0};
	uint64_t off, avail = file_bytes_at(e, stub, &off), slot;
	size_t i = 0, lo = 0, hi = e->nrels;
	int32_t rel;

	if (avail < 6)
		return NULL;
	if (elfsym__read(e, stub, b, avail < sizeof(b) ? avail : sizeof(b)))
		return NULL;
	if (avail >= 11 && !memcmp(b, "\xf3\x0f\x1e\xfa", 4)) /* endbr64 (IBT .plt.sec) */
		i = 4;
	if (b[i] == 0xf2 && avail >= i + 7) /* bnd prefix (MPX-era stubs) */
		i++;
	if (b[i] != 0xff || b[i + 1] != 0x25) /* jmp *rel32(%rip) */
		return NULL;
	memcpy(&rel, b + i + 2, 4);
	slot = stub + i + 6 + (int64_t)rel;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->rels[mid].slot == slot)
			return e->pool + e->rels[mid].name;
		if (e->rels[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
