/* Kernel symbols from /proc/kallsyms: a copy of the text with fields cut in place, and an
 * array of text symbols sorted by address for binary search. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksym.h"

/* kallsyms is a few MiB to tens of MiB; anything larger is not kallsyms. */
#define KSYMS_MAX_TEXT (256u << 20)

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module; /* NULL for vmlinux */
};

struct ksyms {
	struct ksym *syms;
	size_t n;
	char *text; /* owns the strings */
};

static int ksym__cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Among aliases prefer vmlinux, then the name that sorts first: stable output. */
	if (!x->module != !y->module)
		return x->module ? 1 : -1;
	return strcmp(x->name, y->name);
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
	/* The kernel lists most symbols in address order already: sort only if needed. */
	for (size_t i = 1; i < ks->n; i++) {
		if (ksym__cmp(&ks->syms[i - 1], &ks->syms[i]) > 0) {
			qsort(ks->syms, ks->n, sizeof(*ks->syms), ksym__cmp);
			break;
		}
	}
	return ks;

err_out:
	ksyms__free(ks);
	errno = -err;
	return NULL;
}

struct ksyms *ksyms__load(void)
{
	struct ksyms *ks = NULL;
	size_t len = 0, cap = 1 << 20;
	char *buf, *tmp;
	ssize_t r;
	int fd, err = 0;

	fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= KSYMS_MAX_TEXT) {
				err = -EFBIG;
				goto out;
			}
			tmp = realloc(buf, cap * 2);
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			buf = tmp;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += r;
	}
	ks = ksyms__parse(buf, len);
	if (!ks) {
		err = -errno;
		goto out;
	}
	/* kptr_restrict shows every address as zero; those lines were all skipped. */
	if (ks->n == 0) {
		ksyms__free(ks);
		ks = NULL;
		err = -ENOENT;
	}
out:
	free(buf);
	close(fd);
	if (err)
		errno = -err;
	return ks;
}

const char *ksyms__lookup(const struct ksyms *ks, uint64_t addr, const char **module,
			  uint64_t *offset)
{
	size_t lo = 0, hi;
	const struct ksym *k;

	if (!ks || ks->n == 0 || addr < ks->syms[0].addr)
		return NULL;
	/* Find the last symbol with start <= addr; aliases sort best-first, so step back to
	 * the first of an equal-address run. */
	hi = ks->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && ks->syms[lo - 1].addr == ks->syms[lo].addr)
		lo--;
	k = &ks->syms[lo];
	if (module)
		*module = k->module;
	if (offset)
		*offset = addr - k->addr;
	return k->name;
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
	free(ks);
}
