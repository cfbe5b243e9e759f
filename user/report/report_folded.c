/* Folded stacks (flamegraph.pl, speedscope, inferno): one line per unique stack,
 * "GROUP;root;...;leaf COUNT", sorted byte-wise so the output is stable. GROUP is the
 * group's label: "COMM [PID]" per process (the default), "ROLE [N procs]" per role, and
 * absent with --group-by none or --merge. COUNT is in the report's metric (--metric):
 * samples, or estimated bytes or allocations, whole numbers without a unit.
 *
 * Also home of report__frame_label() and report__frame_name(), the one naming of frames all
 * formats share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/demangle.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"

/* Large enough for any label: names and files are capped at 64 KiB by the profile. */
#define LABEL_MAX (2 * 65536 + 64)

/* ';' separates frames and '\n' lines: replace them so every format stays parseable. */
static void label_sanitize(char *s)
{
	for (; *s; s++) {
		if (*s == ';')
			*s = ':';
		else if (*s == '\n' || *s == '\r')
			*s = ' ';
	}
}

const char *report__frame_name(const struct prof_frame *f, char *buf, size_t len)
{
	return f->kind == FRAME_NATIVE ? demangle__name(f->name, buf, len) : f->name;
}

const char *report__frame_label(const struct profile *p, uint32_t frame_id, char *buf, size_t len)
{
	const struct prof_frame *f = profile__frame_get(p, frame_id);
	char name[DEMANGLE_OUT_MAX];
	const char *base;

	if (!len)
		return "";
	if (!f) {
		snprintf(buf, len, "[unknown]");
		return buf;
	}
	switch (f->kind) {
	case FRAME_PYTHON:
		if (f->file && f->line)
			snprintf(buf, len, "%s (%s:%u)", f->name, f->file, f->line);
		else if (f->file)
			snprintf(buf, len, "%s (%s)", f->name, f->file);
		else
			snprintf(buf, len, "%s", f->name);
		break;
	case FRAME_KERNEL:
		snprintf(buf, len, "%s_[k]", f->name);
		break;
	default:
		if (strcmp(f->name, "[unknown]") == 0 && f->file && *f->file) {
			base = strrchr(f->file, '/');
			snprintf(buf, len, "[unknown] (%s)", base ? base + 1 : f->file);
		} else {
			snprintf(buf, len, "%s", report__frame_name(f, name, sizeof(name)));
		}
		break;
	}
	label_sanitize(buf);
	return buf;
}

const char *report__func_label(const struct profile *p, uint32_t frame_id, char *buf, size_t len)
{
	const struct prof_frame *f = profile__frame_get(p, frame_id);

	report__frame_label(p, frame_id, buf, len);
	if (f && f->kind == FRAME_PYTHON && f->line && f->file) {
		char *colon = strrchr(buf, ':');

		if (colon)
			strcpy(colon, ")");
	}
	return buf;
}

struct folded {
	const struct profile *p;
	const struct report_opts *o;
	struct report_gstack *lines;
	size_t n;
	char **labels; /* per frame id; labels[nframes] is for empty stacks */
	struct report_groups *groups;
	char **heads;		/* per group: its label, or NULL (merge, group none) */
	uint32_t unknown_frame; /* = nframes, stands in for an empty stack */
};

/* Walks the characters of one line (without its count) as if it had been printed. */
struct line_iter {
	const char *s;		/* rest of the current segment */
	const uint32_t *frames; /* root first */
	uint32_t n, i;		/* frames, next frame */
	bool sep;		/* a ';' goes before the next label */
};

static void iter_init(const struct folded *fo, const struct report_gstack *l, struct line_iter *it)
{
	it->frames = profile__stack_get(fo->p, l->stack, &it->n);
	if (!it->n) {
		it->frames = &fo->unknown_frame;
		it->n = 1;
	}
	it->i = 0;
	it->s = fo->heads ? fo->heads[l->group] : "";
	it->sep = fo->heads != NULL;
}

/* The next character, or -1 at the end of the line. */
static int iter_next(const struct folded *fo, struct line_iter *it)
{
	while (!*it->s) {
		if (it->i >= it->n)
			return -1;
		it->s = fo->labels[it->frames[it->i++]];
		if (it->sep)
			return ';';
		it->sep = true;
	}
	return (unsigned char)*it->s++;
}

/* Byte-wise order of the printed lines, skipping frames both lines share. */
static int line_cmp(const void *x, const void *y, void *ctx)
{
	const struct report_gstack *la = x, *lb = y;
	const struct folded *fo = ctx;
	struct line_iter a, b;
	int ca, cb;

	iter_init(fo, la, &a);
	iter_init(fo, lb, &b);
	if (fo->heads && la->group == lb->group)
		a.s = b.s = "";
	for (;;) {
		if (!*a.s && !*b.s && a.sep == b.sep) {
			while (a.i < a.n && b.i < b.n && a.frames[a.i] == b.frames[b.i]) {
				a.i++;
				b.i++;
				a.sep = b.sep = true;
			}
		}
		ca = iter_next(fo, &a);
		cb = iter_next(fo, &b);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca < 0)
			return 0;
	}
}

static void line_print(const struct folded *fo, const struct report_gstack *l, uint64_t count,
		       FILE *out)
{
	struct line_iter it;

	iter_init(fo, l, &it);
	fputs(it.s, out);
	for (uint32_t i = 0; i < it.n; i++) {
		if (fo->heads || i)
			fputc(';', out);
		fputs(fo->labels[it.frames[i]], out);
	}
	fprintf(out, " %llu\n", (unsigned long long)count);
}

static int build_labels(struct folded *fo)
{
	uint32_t nframes = profile__nframes(fo->p), ngroups = report_groups__count(fo->groups);
	bool heads = !fo->o->merge && fo->o->group != REPORT_GROUP_NONE;
	char *buf = malloc(LABEL_MAX);
	int err = -ENOMEM;

	fo->unknown_frame = nframes;
	fo->labels = calloc((size_t)nframes + 1, sizeof(*fo->labels));
	if (heads)
		fo->heads = calloc(ngroups ? ngroups : 1, sizeof(*fo->heads));
	if (!buf || !fo->labels || (heads && !fo->heads))
		goto out;
	for (uint32_t i = 0; i < nframes; i++) {
		fo->labels[i] = strdup(report__frame_label(fo->p, i, buf, LABEL_MAX));
		if (!fo->labels[i])
			goto out;
	}
	fo->labels[nframes] = strdup("[unknown]");
	if (!fo->labels[nframes])
		goto out;
	for (uint32_t i = 0; fo->heads && i < ngroups; i++) {
		fo->heads[i] = strdup(report_groups__get(fo->groups, i)->label);
		if (!fo->heads[i])
			goto out;
	}
	err = 0;
out:
	free(buf);
	return err;
}

int report__folded(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct folded fo = {.p = p, .o = o};
	uint32_t nframes = profile__nframes(p), ngroups = 0;
	size_t i, j;
	int err;

	fo.groups = report_groups__new(p, o);
	if (!fo.groups)
		return -errno;
	ngroups = report_groups__count(fo.groups);
	err = build_labels(&fo);
	if (!err)
		err = report_groups__weights(p, o, fo.groups, &fo.lines, &fo.n);
	if (err)
		goto out;
	if (fo.n) /* qsort of a NULL array is undefined, even when empty */
		qsort_r(fo.lines, fo.n, sizeof(*fo.lines), line_cmp, &fo);
	for (i = 0; i < fo.n; i = j) {
		uint64_t count = 0;

		for (j = i; j < fo.n && (j == i || !line_cmp(&fo.lines[i], &fo.lines[j], &fo)); j++)
			count += fo.lines[j].weight;
		line_print(&fo, &fo.lines[i], count, out);
	}
	if (fflush(out) || ferror(out))
		err = -EIO;
out:
	for (uint32_t k = 0; fo.labels && k <= nframes; k++)
		free(fo.labels[k]);
	for (uint32_t k = 0; fo.heads && k < ngroups; k++)
		free(fo.heads[k]);
	report_groups__free(fo.groups);
	free(fo.labels);
	free(fo.heads);
	free(fo.lines);
	return err;
}
