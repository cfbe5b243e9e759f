/* /proc/PID/maps parsing. Paths are cut in place from one private copy of the text, so a
 * procmaps is three allocations however many mappings it has. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "symbols/procmaps.h"

/* A maps file is KiBs, MiBs for huge processes; more than this is not a maps file. */
#define PROCMAPS_MAX_TEXT (64u << 20)

struct procmaps_priv {
	struct procmaps pub; /* first: procmaps__free casts back */
	char *text;	     /* owns every path */
};

static int mapping_cmp(const void *a, const void *b)
{
	const struct procmap *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static bool parse_hex(char **p, char stop, uint64_t *v)
{
	char *s = *p, *e;

	if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
		return false;
	errno = 0;
	*v = strtoull(s, &e, 16);
	if (errno || *e != stop)
		return false;
	*p = e + 1;
	return true;
}

/* "start-end perms offset major:minor inode [path]", line NUL-terminated. */
static bool parse_line(char *line, struct procmap *m)
{
	char *p = line, *path;
	uint64_t v;

	if (!parse_hex(&p, '-', &m->start) || !parse_hex(&p, ' ', &m->end) || m->start >= m->end)
		return false;
	if (strlen(p) < 5 || p[4] != ' ')
		return false;
	memcpy(m->perms, p, 4);
	m->perms[4] = '\0';
	p += 5;
	if (!parse_hex(&p, ' ', &m->offset) || !parse_hex(&p, ':', &v) || v > UINT32_MAX)
		return false;
	m->dev_major = v;
	if (!parse_hex(&p, ' ', &v) || v > UINT32_MAX)
		return false;
	m->dev_minor = v;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	m->inode = strtoull(p, &path, 10);
	if (errno || (*path != ' ' && *path != '\0'))
		return false;
	/* The path is the rest of the line after the padding; it may contain spaces and end
	 * in " (deleted)", both kept as /proc shows them. */
	while (*path == ' ')
		path++;
	m->path = path;
	return true;
}

struct procmaps *procmaps__parse(const char *text, size_t len)
{
	struct procmaps_priv *pp;
	struct procmaps *pm;
	size_t lines = 1, out;
	char *p, *end, *nl;
	int err;

	if (len > PROCMAPS_MAX_TEXT) {
		errno = EFBIG;
		return NULL;
	}
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return NULL;
	pm = &pp->pub;
	pp->text = malloc(len + 1);
	if (!pp->text) {
		err = -ENOMEM;
		goto err_out;
	}
	memcpy(pp->text, text, len);
	pp->text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lines += pp->text[i] == '\n';
	pm->maps = calloc(lines, sizeof(*pm->maps));
	if (!pm->maps) {
		err = -ENOMEM;
		goto err_out;
	}
	end = pp->text + len;
	for (p = pp->text; p < end && pm->n < lines; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		*nl = '\0';
		/* A NUL inside the text would cut a line short; the parse then just fails. */
		if (parse_line(p, &pm->maps[pm->n]))
			pm->n++;
	}
	qsort(pm->maps, pm->n, sizeof(*pm->maps), mapping_cmp);
	/* The kernel never shows overlaps; drop any a forged text has, keeping the first. */
	for (size_t i = out = 0; i < pm->n; i++) {
		if (out > 0 && pm->maps[i].start < pm->maps[out - 1].end)
			continue;
		pm->maps[out++] = pm->maps[i];
	}
	pm->n = out;
	return pm;

err_out:
	procmaps__free(pm);
	errno = -err;
	return NULL;
}

struct procmaps *procmaps__load(pid_t pid)
{
	struct procmaps *pm;
	char path[64], *buf;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	err = file__read_all(path, PROCMAPS_MAX_TEXT, &buf, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	pm = procmaps__parse(buf, len);
	err = errno;
	free(buf);
	errno = err;
	return pm;
}

/* bsearch(): where the address *key lies against the mapping [start, end). */
static int addr_vs_map(const void *key, const void *elem)
{
	uint64_t addr = *(const uint64_t *)key;
	const struct procmap *m = elem;

	return addr < m->start ? -1 : addr >= m->end;
}

const struct procmap *procmaps__find(const struct procmaps *pm, uint64_t addr)
{
	if (!pm || !pm->n)
		return NULL;
	return bsearch(&addr, pm->maps, pm->n, sizeof(*pm->maps), addr_vs_map);
}

void procmaps__free(struct procmaps *pm)
{
	struct procmaps_priv *pp = (struct procmaps_priv *)pm;

	if (!pp)
		return;
	free(pm->maps);
	free(pp->text);
	free(pp);
}
