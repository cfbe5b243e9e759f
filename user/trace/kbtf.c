// SPDX-License-Identifier: GPL-2.0
/* The kernel types that treeprof's BPF object needs, and only those (see kbtf.h).
 *
 * libbpf relocates each CO-RE access (task->tgid, regs->ip, ...) against the kernel's BTF,
 * and to do so it reads and indexes all of /sys/kernel/btf/vmlinux: 5 MiB, 125k types, 40 ms
 * of CPU at every start on this machine, for about thirty fields. The object says which
 * fields it reads, in .BTF.ext's CO-RE records; this file follows each record's access path
 * through the kernel's types once per boot and writes a BTF that holds just those members,
 * at the kernel's offsets, in the kernel's enclosing structs and unions. libbpf then
 * relocates against that (btf_custom_path) exactly as it would against the whole.
 *
 * The file goes into a root-owned cache directory, keyed by the boot id and a hash of the
 * object, so a new build or a new kernel makes a new one. When anything here does not
 * understand a record, no file is made and libbpf reads the kernel's BTF as before. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gelf.h>
#include <libelf.h>
#include <bpf/btf.h>

#include "lib/fileio.h"
#include "lib/hash.h"
#include "trace/kbtf.h"

#define KBTF_MAX_ACCESS 32 /* steps of one access path */

/* .BTF.ext, as the compiler writes it (the layout is the kernel's BTF documentation). */
struct ext_hdr {
	uint16_t magic;
	uint8_t version, flags;
	uint32_t hdr_len;
	uint32_t func_info_off, func_info_len, line_info_off, line_info_len;
	uint32_t core_relo_off, core_relo_len;
};

struct core_relo {
	uint32_t insn_off, type_id, access_str_off, kind;
};

/* enum bpf_core_relo_kind: the field kinds, the only ones resolved here. */
#define CORE_FIELD_LAST 5

/* A kernel struct or union kept in the output, and which of its members. */
struct comp {
	uint32_t tid;
	bool *keep;
};

struct gen {
	const struct btf *k;	 /* the kernel's types */
	const struct btf *local; /* the object's types */
	uint32_t *out_id;	 /* kernel type id -> output id, 0 when not in the output */
	uint32_t *order;	 /* output id - 1 -> kernel type id */
	uint32_t n_out, n_kernel;
	struct comp *comps; /* kernel composite -> kept members */
	uint32_t *comp_of;  /* kernel type id -> index in comps + 1 */
	uint32_t n_comps;
};

static const struct btf_type *skip_mods(const struct btf *b, uint32_t *id)
{
	const struct btf_type *t = btf__type_by_id(b, *id);

	for (int i = 0; t && i < 32 && (btf_is_mod(t) || btf_is_typedef(t)); i++) {
		*id = t->type;
		t = btf__type_by_id(b, *id);
	}
	return t;
}

/* The output id of kernel type id (mods and typedefs already skipped), assigning the next
 * one on first sight: output ids are handed out in the order the types are written. */
static uint32_t want(struct gen *g, uint32_t id)
{
	if (id == 0 || id >= g->n_kernel)
		return 0;
	if (!g->out_id[id]) {
		g->order[g->n_out] = id;
		g->out_id[id] = ++g->n_out;
	}
	return g->out_id[id];
}

static struct comp *comp_for(struct gen *g, uint32_t tid)
{
	const struct btf_type *t = btf__type_by_id(g->k, tid);

	if (!g->comp_of[tid]) {
		struct comp *c = &g->comps[g->n_comps];

		c->tid = tid;
		c->keep = calloc(btf_vlen(t) + 1, sizeof(bool));
		if (!c->keep)
			return NULL;
		g->comp_of[tid] = ++g->n_comps;
		want(g, tid);
	}
	return &g->comps[g->comp_of[tid] - 1];
}

/* Find member `name` in kernel composite tid, looking inside its anonymous members as
 * libbpf does, and keep every member on the way. The member's type (mods skipped) goes
 * to *type. 0, or -ENOENT. */
static int keep_member(struct gen *g, uint32_t tid, const char *name, uint32_t *type, int depth)
{
	const struct btf_type *t = btf__type_by_id(g->k, tid);
	const struct btf_member *m;
	struct comp *c;

	if (!t || !btf_is_composite(t) || depth > 8)
		return -ENOENT;
	m = btf_members(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
		const char *mname = btf__name_by_offset(g->k, m->name_off);
		uint32_t mt = m->type;

		if (mname && mname[0]) {
			if (strcmp(mname, name))
				continue;
		} else {
			const struct btf_type *at = skip_mods(g->k, &mt);

			if (!at || !btf_is_composite(at) ||
			    keep_member(g, mt, name, type, depth + 1))
				continue;
		}
		c = comp_for(g, tid);
		if (!c)
			return -ENOMEM;
		c->keep[i] = true;
		if (mname && mname[0]) {
			skip_mods(g->k, &mt);
			*type = mt;
		}
		return 0;
	}
	return -ENOENT;
}

/* "sched_switch___v2" names the same kernel type as "sched_switch" (libbpf's flavours). */
static int essential_len(const char *name)
{
	const char *p = strstr(name, "___");

	return p ? (int)(p - name) : (int)strlen(name);
}

static int find_kernel_type(const struct btf *k, const char *name, int len, int kind)
{
	char buf[128];

	if (len <= 0 || len >= (int)sizeof(buf))
		return -ENOENT;
	memcpy(buf, name, len);
	buf[len] = 0;
	return btf__find_by_name_kind(k, buf, kind);
}

/* Follow one CO-RE field record through the object's types and the kernel's. */
static int follow(struct gen *g, const struct core_relo *r)
{
	const char *spec = btf__name_by_offset(g->local, r->access_str_off), *name;
	uint32_t lid = r->type_id, kid, idx[KBTF_MAX_ACCESS];
	const struct btf_type *lt, *kt;
	int n = 0, id;
	char *end;

	if (r->kind > CORE_FIELD_LAST || !spec)
		return -ENOTSUP;
	while (*spec && n < KBTF_MAX_ACCESS) {
		unsigned long v = strtoul(spec, &end, 10);

		if (end == spec || v > UINT32_MAX)
			return -EINVAL;
		idx[n++] = v;
		spec = *end == ':' ? end + 1 : end;
		if (*end && *end != ':')
			return -EINVAL;
	}
	lt = skip_mods(g->local, &lid);
	if (n == 0 || !lt || !btf_is_composite(lt))
		return -ENOTSUP;
	name = btf__name_by_offset(g->local, lt->name_off);
	if (!name || !name[0])
		return -ENOTSUP;
	id = find_kernel_type(g->k, name, essential_len(name), btf_kind(lt));
	if (id <= 0)
		return -ENOENT;
	kid = id;
	if (!comp_for(g, kid))
		return -ENOMEM;
	/* idx[0] indexes the root pointer as an array; the rest walk members and arrays. */
	for (int i = 1; i < n; i++) {
		kt = btf__type_by_id(g->k, kid);
		if (!kt)
			return -ENOENT;
		if (btf_is_array(lt)) {
			if (!btf_is_array(kt))
				return -ENOENT;
			lid = btf_array(lt)->type;
			kid = btf_array(kt)->type;
		} else if (btf_is_composite(lt)) {
			const struct btf_member *m;

			if (idx[i] >= btf_vlen(lt))
				return -EINVAL;
			m = btf_members(lt) + idx[i];
			name = btf__name_by_offset(g->local, m->name_off);
			lid = m->type;
			/* An anonymous local member: the kernel side is searched by the next
			 * named member's name, through its own anonymous members. */
			if (name && name[0]) {
				int err = keep_member(g, kid, name, &kid, 0);

				if (err)
					return err;
			}
		} else {
			return -ENOTSUP;
		}
		lt = skip_mods(g->local, &lid);
		skip_mods(g->k, &kid);
		if (!lt)
			return -EINVAL;
	}
	return 0;
}

/* The output id for a member's kernel type. */
static uint32_t member_type(struct gen *g, uint32_t id)
{
	const struct btf_type *t = skip_mods(g->k, &id);

	if (!t)
		return 0;
	if (btf_is_composite(t) && !comp_for(g, id))
		return 0;
	if (btf_is_array(t)) {
		uint32_t e = btf_array(t)->type;

		skip_mods(g->k, &e);
		member_type(g, e);
		want(g, btf_array(t)->index_type);
	}
	return want(g, id);
}

/* Write kernel type id as the next output type; composites with their kept members. */
static int emit(struct gen *g, struct btf *out, uint32_t id)
{
	const struct btf_type *t = btf__type_by_id(g->k, id);
	const char *name = btf__name_by_offset(g->k, t->name_off);
	int err = 0;

	if (name && !name[0])
		name = NULL;
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		return btf__add_int(out, name, t->size, btf_int_encoding(t));
	case BTF_KIND_FLOAT:
		return btf__add_float(out, name, t->size);
	case BTF_KIND_PTR: /* libbpf compares pointers by kind only */
		return btf__add_ptr(out, 0);
	case BTF_KIND_FWD:
		return btf__add_fwd(out, name, btf_kflag(t) ? BTF_FWD_UNION : BTF_FWD_STRUCT);
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		uint32_t e = a->type, ix = a->index_type;

		skip_mods(g->k, &e);
		return btf__add_array(out, g->out_id[ix], g->out_id[e], a->nelems);
	}
	case BTF_KIND_ENUM: {
		const struct btf_enum *v = btf_enum(t);

		err = btf__add_enum(out, name, t->size);
		for (uint16_t i = 0; err > 0 && i < btf_vlen(t); i++, v++)
			if (btf__add_enum_value(out, btf__name_by_offset(g->k, v->name_off),
						v->val))
				return -EINVAL;
		return err;
	}
	case BTF_KIND_ENUM64: {
		const struct btf_enum64 *v = btf_enum64(t);

		err = btf__add_enum64(out, name, t->size, btf_kflag(t));
		for (uint16_t i = 0; err > 0 && i < btf_vlen(t); i++, v++)
			if (btf__add_enum64_value(out, btf__name_by_offset(g->k, v->name_off),
						  btf_enum64_value(v)))
				return -EINVAL;
		return err;
	}
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: {
		struct comp *c = g->comp_of[id] ? &g->comps[g->comp_of[id] - 1] : NULL;
		const struct btf_member *m = btf_members(t);

		err = btf_is_struct(t) ? btf__add_struct(out, name, t->size)
				       : btf__add_union(out, name, t->size);
		for (uint16_t i = 0; err > 0 && i < btf_vlen(t); i++, m++) {
			const char *mname = btf__name_by_offset(g->k, m->name_off);
			uint32_t mt = m->type;

			if (!c || !c->keep[i])
				continue;
			skip_mods(g->k, &mt);
			if (btf__add_field(out, mname && mname[0] ? mname : NULL, g->out_id[mt],
					   btf_member_bit_offset(t, i),
					   btf_member_bitfield_size(t, i)))
				return -EINVAL;
		}
		return err;
	}
	default: /* nothing the walk keeps */
		return -ENOTSUP;
	}
}

/* The CO-RE records of the object (an ELF image): follow each. */
static int follow_object(struct gen *g, Elf_Data *ext)
{
	const uint8_t *p = ext->d_buf, *relo, *end;
	struct ext_hdr h = {0};
	uint32_t rec_size;

	if (ext->d_size < 24)
		return -EINVAL;
	memcpy(&h, p, ext->d_size < sizeof(h) ? 24 : sizeof(h));
	if (h.magic != 0xeB9F || h.hdr_len < 24 || h.hdr_len > ext->d_size)
		return -EINVAL;
	if (h.hdr_len < sizeof(h)) /* a header without the CO-RE part: nothing to relocate */
		return 0;
	if ((uint64_t)h.hdr_len + h.core_relo_off + h.core_relo_len > ext->d_size ||
	    h.core_relo_len < 4)
		return h.core_relo_len ? -EINVAL : 0;
	relo = p + h.hdr_len + h.core_relo_off;
	end = relo + h.core_relo_len;
	memcpy(&rec_size, relo, 4);
	if (rec_size < sizeof(struct core_relo))
		return -EINVAL;
	for (relo += 4; relo + 8 <= end;) {
		uint32_t sec[2];

		memcpy(sec, relo, 8);
		relo += 8;
		if (sec[1] > (uint64_t)(end - relo) / rec_size)
			return -EINVAL;
		for (uint32_t i = 0; i < sec[1]; i++, relo += rec_size) {
			struct core_relo r;
			int err;

			memcpy(&r, relo, sizeof(r));
			err = follow(g, &r);
			if (err)
				return err;
		}
	}
	return 0;
}

static int section(Elf *elf, const char *want_name, Elf_Data **data)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			return -EINVAL;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, want_name)) {
			*data = elf_getdata(scn, NULL);
			return *data ? 0 : -EINVAL;
		}
	}
	return -ENOENT;
}

static void gen_free(struct gen *g)
{
	for (uint32_t i = 0; i < g->n_comps; i++)
		free(g->comps[i].keep);
	free(g->comps);
	free(g->comp_of);
	free(g->out_id);
	free(g->order);
}

int kbtf__generate(const void *obj, size_t obj_size, const struct btf *kernel, struct btf **out)
{
	struct gen g = {.k = kernel};
	struct btf *local = NULL, *b = NULL;
	Elf_Data *btf_data, *ext_data;
	Elf *elf;
	int err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_memory((char *)obj, obj_size);
	if (!elf)
		return -EINVAL;
	err = section(elf, ".BTF", &btf_data);
	if (!err)
		err = section(elf, ".BTF.ext", &ext_data);
	if (err)
		goto out;
	local = btf__new(btf_data->d_buf, btf_data->d_size);
	if (!local) {
		err = -errno;
		goto out;
	}
	g.local = local;
	g.n_kernel = btf__type_cnt(kernel);
	g.out_id = calloc(g.n_kernel, sizeof(*g.out_id));
	g.order = calloc(g.n_kernel, sizeof(*g.order));
	g.comp_of = calloc(g.n_kernel, sizeof(*g.comp_of));
	g.comps = calloc(g.n_kernel, sizeof(*g.comps));
	if (!g.out_id || !g.order || !g.comp_of || !g.comps) {
		err = -ENOMEM;
		goto out;
	}
	err = follow_object(&g, ext_data);
	if (err)
		goto out;
	/* Give every kept member's type an id; that may keep more types, handled in turn. */
	for (uint32_t i = 0; i < g.n_out; i++) {
		uint32_t id = g.order[i];
		const struct btf_type *t = btf__type_by_id(kernel, id);

		if (!btf_is_composite(t))
			continue;
		const struct btf_member *m = btf_members(t);
		struct comp *c = comp_for(&g, id);

		for (uint16_t j = 0; c && j < btf_vlen(t); j++, m++)
			if (c->keep[j])
				member_type(&g, m->type);
	}
	b = btf__new_empty();
	if (!b) {
		err = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < g.n_out; i++) {
		int id = emit(&g, b, g.order[i]);

		if (id < 0 || (uint32_t)id != i + 1) {
			err = id < 0 ? id : -EINVAL;
			goto out;
		}
	}
	*out = b;
	b = NULL;
out:
	btf__free(b);
	btf__free(local);
	gen_free(&g);
	elf_end(elf);
	return err;
}

/* What the cut BTF depends on: the object's types (.BTF) and CO-RE records (.BTF.ext).
 * Hashing those 90 KiB rather than the whole 850 KiB image saves a millisecond a start. */
static int types_hash(const void *obj, size_t obj_size, uint64_t *h)
{
	Elf_Data *btf_data, *ext_data;
	Elf *elf;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_memory((char *)obj, obj_size);
	if (!elf)
		return -EINVAL;
	err = section(elf, ".BTF", &btf_data);
	if (!err)
		err = section(elf, ".BTF.ext", &ext_data);
	if (!err) {
		*h = hash__bytes(HASH_FNV_SEED, btf_data->d_buf, btf_data->d_size);
		*h = hash__bytes(*h, ext_data->d_buf, ext_data->d_size);
	}
	elf_end(elf);
	return err;
}

/* Remove the files of earlier boots; other builds of this boot keep theirs (an installed
 * treeprof and a development build, used in turn, would otherwise remake theirs each time). */
static void prune(const char *dir, const char *boot)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t blen = strlen(boot);

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "btf-", 4) || !strncmp(e->d_name + 4, boot, blen))
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
}

int kbtf__path(const char *dir, const void *obj, size_t obj_size, char *path, size_t len)
{
	char boot[64], name[128], tmp[PATH_MAX];
	struct btf *kernel, *b;
	const void *raw;
	uint32_t raw_size;
	uint64_t h;
	int fd, err;

	if (file__boot_id(boot, sizeof(boot)) || file__root_cache_dir(dir))
		return -ENOENT;
	err = types_hash(obj, obj_size, &h);
	if (err)
		return err;
	snprintf(name, sizeof(name), "btf-%s-%016llx", boot, (unsigned long long)h);
	if ((size_t)snprintf(path, len, "%s/%s", dir, name) >= len)
		return -ENAMETOOLONG;
	fd = file__open_cached(path);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	/* A miss: once per boot and build. */
	kernel = btf__load_vmlinux_btf();
	if (!kernel)
		return -errno;
	err = kbtf__generate(obj, obj_size, kernel, &b);
	btf__free(kernel);
	if (err)
		return err;
	raw = btf__raw_data(b, &raw_size);
	snprintf(tmp, sizeof(tmp), "%s/.btf-%d.tmp", dir, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !raw) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	if (write(fd, raw, raw_size) != (ssize_t)raw_size || fsync(fd)) {
		err = -EIO;
		unlink(tmp);
		goto out;
	}
	prune(dir, boot);
	if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	btf__free(b);
	return err;
}

void kbtf__forget(const char *path)
{
	unlink(path);
}
