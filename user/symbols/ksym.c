/* Kernel symbols from /proc/kallsyms: a copy of the text with fields cut in place, and an
 * array of text symbols sorted by address for binary search. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/fileio.h"
#include "symbols/ksym.h"

/* kallsyms is a few MiB to tens of MiB; anything larger is not kallsyms. */
#define KSYMS_MAX_TEXT (256u << 20)

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module; /* NULL for vmlinux */
};

/* One entry of the cache file, used in place through a read-only mapping. */
struct kcache_ent {
	uint64_t addr;
	uint32_t name, module;
};

/* Either parsed from kallsyms text (syms, text) or a mapped cache file (ents, strs): the
 * mapping costs no copy and no parse, which at every start used to be tens of ms. */
struct ksyms {
	struct ksym *syms;
	size_t n;
	char *text; /* owns the strings */
	const struct kcache_ent *ents;
	const char *strs;
	void *map;
	size_t map_len;
};

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Among aliases prefer vmlinux, then the name that sorts first: stable output. */
	if (!x->module != !y->module)
		return x->module ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The kernel lists most symbols in address order already: then only runs of aliases (one
 * address, several names) need ordering, which is far cheaper than sorting 200k entries. */
static void sort_ksyms(struct ksyms *ks)
{
	size_t i, j;

	for (i = 1; i < ks->n; i++) {
		if (ks->syms[i - 1].addr > ks->syms[i].addr) {
			qsort(ks->syms, ks->n, sizeof(*ks->syms), ksym_cmp);
			return;
		}
	}
	for (i = 0; i < ks->n; i = j) {
		for (j = i + 1; j < ks->n && ks->syms[j].addr == ks->syms[i].addr; j++)
			;
		if (j - i > 1)
			qsort(ks->syms + i, j - i, sizeof(*ks->syms), ksym_cmp);
	}
}

/* Cut the next space-separated field of line [*p, end) in place; NULL when none is left. */
static char *next_field(char **p, char *end)
{
	char *s = *p, *f;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s >= end)
		return NULL;
	f = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*s = '\0';
	*p = s < end ? s + 1 : s;
	return f;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse one line (NUL-terminated at end) into *k; false when it is not a text symbol. */
static bool parse_line(char *line, char *end, struct ksym *k)
{
	char *p = line, *addr, *type, *name, *mod, *stop;
	size_t mlen;

	addr = next_field(&p, end);
	type = next_field(&p, end);
	name = next_field(&p, end);
	mod = next_field(&p, end);
	if (!addr || !type || !name || type[1] != '\0')
		return false;
	if (!strchr("tTwW", type[0]))
		return false;
	/* Hand-rolled hex: this runs for each of ~200k lines at every start. */
	k->addr = 0;
	for (stop = addr; *stop; stop++) {
		int d = hexval(*stop);

		if (d < 0 || stop - addr >= 16)
			return false;
		k->addr = k->addr << 4 | d;
	}
	if (stop == addr || k->addr == 0)
		return false;
	k->name = name;
	k->module = NULL;
	if (mod) {
		mlen = strlen(mod);
		if (mlen >= 3 && mod[0] == '[' && mod[mlen - 1] == ']') {
			mod[mlen - 1] = '\0';
			k->module = mod + 1;
		}
	}
	return true;
}

struct ksyms *ksyms__parse(const char *text, size_t len)
{
	struct ksyms *ks;
	size_t cap = 0, lines = 0;
	char *p, *end, *nl;
	int err;

	if (len > KSYMS_MAX_TEXT) {
		errno = EFBIG;
		return NULL;
	}
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		return NULL;
	ks->text = malloc(len + 1);
	if (!ks->text) {
		err = -ENOMEM;
		goto err_out;
	}
	memcpy(ks->text, text, len);
	ks->text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lines += ks->text[i] == '\n';
	cap = lines + 1;
	ks->syms = calloc(cap, sizeof(*ks->syms));
	if (!ks->syms) {
		err = -ENOMEM;
		goto err_out;
	}
	end = ks->text + len;
	for (p = ks->text; p < end && ks->n < cap; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		*nl = '\0';
		if (parse_line(p, nl, &ks->syms[ks->n]))
			ks->n++;
	}
	sort_ksyms(ks);
	return ks;

err_out:
	ksyms__free(ks);
	errno = -err;
	return NULL;
}

struct ksyms *ksyms__load(void)
{
	struct ksyms *ks;
	size_t len;
	char *buf;
	int err;

	err = file__read_all("/proc/kallsyms", KSYMS_MAX_TEXT, &buf, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	ks = ksyms__parse(buf, len);
	err = ks ? 0 : -errno;
	free(buf);
	/* kptr_restrict shows every address as zero; those lines were all skipped. */
	if (ks && ks->n == 0) {
		ksyms__free(ks);
		ks = NULL;
		err = -ENOENT;
	}
	if (err)
		errno = -err;
	return ks;
}

#define KCACHE_NO_MODULE 0xffffffffu

static uint64_t sym_addr(const struct ksyms *ks, size_t i)
{
	return ks->ents ? ks->ents[i].addr : ks->syms[i].addr;
}

const char *ksyms__lookup(const struct ksyms *ks, uint64_t addr, const char **module,
			  uint64_t *offset)
{
	size_t lo = 0, hi;
	uint64_t start;

	if (!ks || ks->n == 0 || addr < sym_addr(ks, 0))
		return NULL;
	/* Find the last symbol with start <= addr; aliases sort best-first, so step back to
	 * the first of an equal-address run. */
	hi = ks->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (sym_addr(ks, mid) <= addr)
			lo = mid;
		else
			hi = mid;
	}
	start = sym_addr(ks, lo);
	while (lo > 0 && sym_addr(ks, lo - 1) == start)
		lo--;
	if (offset)
		*offset = addr - start;
	if (ks->ents) { /* offsets were checked against the string table when mapped */
		if (module)
			*module = ks->ents[lo].module == KCACHE_NO_MODULE
				      ? NULL
				      : ks->strs + ks->ents[lo].module;
		return ks->strs + ks->ents[lo].name;
	}
	if (module)
		*module = ks->syms[lo].module;
	return ks->syms[lo].name;
}

size_t ksyms__count(const struct ksyms *ks)
{
	return ks ? ks->n : 0;
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->text);
	if (ks->map)
		munmap(ks->map, ks->map_len);
	free(ks);
}

/* The on-disk cache: reading /proc/kallsyms costs tens of milliseconds of CPU at every
 * start, for a table that changes only with the boot and the loaded modules. The file is
 *   "TPKSYMS1" | u64 n | u64 strsz | n x {u64 addr, u32 name, u32 module} | strings
 * (module 0xffffffff: vmlinux), written by root into a root-owned 0700 directory and still
 * checked in full when read, like any other input. */
#define KCACHE_MAGIC "TPKSYMS1"
#define KCACHE_MAX   (256u << 20)

/* "<boot id>-<hash of /proc/modules>", or -errno. */
static int kcache_key(char *key, size_t len)
{
	static char mods[1 << 20];
	char boot[64];
	ssize_t n;
	size_t m;
	uint64_t h;

	if (file__boot_id(boot, sizeof(boot)))
		return -ENOENT;
	n = file__read_small("/proc/modules", mods, sizeof(mods));
	m = n > 0 ? (size_t)n : 0;
	h = hash__bytes(HASH_FNV_SEED, mods, m);
	snprintf(key, len, "%s-%016llx", boot, (unsigned long long)h);
	return 0;
}

/* Map the cache file read-only and check all of it (header, order, every string offset)
 * before use: populated in one call, the check is a pass over memory, not a copy. */
static struct ksyms *kcache_read(int fd)
{
	struct ksyms *ks = NULL;
	uint64_t n, strsz;
	const char *base;
	struct stat st;
	size_t off;

	if (fstat(fd, &st) || st.st_size < 24 || st.st_size > KCACHE_MAX)
		return NULL;
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		return NULL;
	ks->map_len = st.st_size;
	ks->map = mmap(NULL, ks->map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (ks->map == MAP_FAILED) {
		ks->map = NULL;
		goto bad;
	}
	base = ks->map;
	memcpy(&n, base + 8, 8);
	memcpy(&strsz, base + 16, 8);
	if (memcmp(base, KCACHE_MAGIC, 8) || n == 0 || n > KCACHE_MAX / sizeof(*ks->ents) ||
	    strsz == 0 || strsz > KCACHE_MAX ||
	    24 + n * sizeof(*ks->ents) + strsz != (uint64_t)st.st_size)
		goto bad;
	off = 24 + n * sizeof(*ks->ents);
	ks->ents = (const struct kcache_ent *)(base + 24);
	ks->strs = base + off;
	if (ks->strs[strsz - 1] != 0) /* every string ends inside the table */
		goto bad;
	for (uint64_t i = 0; i < n; i++) {
		const struct kcache_ent *e = &ks->ents[i];

		if (e->name >= strsz || (e->module != KCACHE_NO_MODULE && e->module >= strsz) ||
		    (i && e->addr < ks->ents[i - 1].addr))
			goto bad;
	}
	ks->n = n;
	return ks;
bad:
	ksyms__free(ks);
	return NULL;
}

/* Write ks to fd: 0 or -errno. Names are written once each, in table order. */
static int kcache_write(const struct ksyms *ks, int fd)
{
	uint64_t n = ks->n, strsz = 0;
	struct kcache_ent *ents = calloc(ks->n, sizeof(*ents));
	char hdr[24];
	FILE *f;
	int err = 0;

	if (!ents)
		return -ENOMEM;
	for (size_t i = 0; i < ks->n; i++) {
		ents[i].addr = ks->syms[i].addr;
		ents[i].name = strsz;
		strsz += strlen(ks->syms[i].name) + 1;
		ents[i].module = KCACHE_NO_MODULE;
		if (ks->syms[i].module) {
			ents[i].module = strsz;
			strsz += strlen(ks->syms[i].module) + 1;
		}
	}
	f = fdopen(dup(fd), "w");
	if (!f) {
		free(ents);
		return -errno;
	}
	memcpy(hdr, KCACHE_MAGIC, 8);
	memcpy(hdr + 8, &n, 8);
	memcpy(hdr + 16, &strsz, 8);
	fwrite(hdr, 1, sizeof(hdr), f);
	fwrite(ents, sizeof(*ents), ks->n, f);
	for (size_t i = 0; i < ks->n; i++) {
		fwrite(ks->syms[i].name, 1, strlen(ks->syms[i].name) + 1, f);
		if (ks->syms[i].module)
			fwrite(ks->syms[i].module, 1, strlen(ks->syms[i].module) + 1, f);
	}
	if (ferror(f))
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	free(ents);
	return err;
}

struct ksyms *ksyms__load_cached(const char *dir)
{
	char key[128], path[PATH_MAX], tmp[PATH_MAX];
	struct ksyms *ks;
	int fd;

	if (!dir || kcache_key(key, sizeof(key)))
		return ksyms__load();
	snprintf(path, sizeof(path), "%s/kallsyms-%s", dir, key);
	fd = file__open_cached(path);
	if (fd >= 0) {
		ks = kcache_read(fd);
		close(fd);
		if (ks)
			return ks;
	}
	ks = ksyms__load();
	/* Only into a directory that is ours: root-owned, not a link, not writable by others. */
	if (!ks || file__root_cache_dir(dir))
		return ks;
	snprintf(tmp, sizeof(tmp), "%s/.kallsyms-%d.tmp", dir, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ks;
	if (kcache_write(ks, fd) || rename(tmp, path))
		unlink(tmp);
	close(fd);
	return ks;
}
