// SPDX-License-Identifier: GPL-2.0
/* speedscope (https://www.speedscope.app/file-format-schema.json): the frames once in
 * "shared", then one "sampled" profile per group (per process by default, per role, or
 * one for the whole tree), named by the group's label ("COMM [PID]", "ROLE [N procs]").
 *
 * A profile's samples are its unique stacks (root first, indices into shared.frames), each
 * weighted by its sample count (unit "none"), or by estimated bytes (unit "bytes") or
 * allocations ("none") with a memory --metric, ordered by their frames so that speedscope's
 * time-order view reads like a flame graph: the recording keeps no time order per stack
 * that would be worth the size of one entry per sample. Python frames carry their file
 * and line; the last frame, "[unknown]", stands for samples without any frame. The busiest
 * profile is the one shown first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"

#define LABEL_MAX (2 * 65536 + 64)

struct scope {
	const struct profile *p;
	struct report_groups *g;
	struct report_gstack *v;
	size_t n;
};

/* By group, then by frame ids root first (a prefix first), then by stack id. */
static int by_group_frames(const void *x, const void *y, void *ctx)
{
	const struct report_gstack *a = x, *b = y;
	const struct profile *p = ctx;
	const uint32_t *fa, *fb;
	uint32_t na, nb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->stack == b->stack)
		return 0;
	fa = profile__stack_get(p, a->stack, &na);
	fb = profile__stack_get(p, b->stack, &nb);
	for (uint32_t i = 0; i < na && i < nb; i++)
		if (fa[i] != fb[i])
			return fa[i] < fb[i] ? -1 : 1;
	if (na != nb)
		return na < nb ? -1 : 1;
	return a->stack < b->stack ? -1 : 1;
}

static void write_frames(const struct profile *p, FILE *out, char *lab)
{
	uint32_t nframes = profile__nframes(p);

	fputs("\"shared\":{\"frames\":[", out);
	for (uint32_t i = 0; i < nframes; i++) {
		const struct prof_frame *f = profile__frame_get(p, i);

		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
		if (f->kind == FRAME_PYTHON)
			json__write_str(out, f->name, JSON_NO_MAX, 0);
		else
			json__write_str(out, report__frame_label(p, i, lab, LABEL_MAX), JSON_NO_MAX,
					0);
		if (f->file) {
			fputs(",\"file\":", out);
			json__write_str(out, f->file, JSON_NO_MAX, 0);
		}
		if (f->line)
			fprintf(out, ",\"line\":%u", f->line);
		fputc('}', out);
	}
	fprintf(out, "%s{\"name\":\"[unknown]\"}\n]},\n", nframes ? ",\n" : "\n");
}

/* ",N" (or "N" first) without printf: profiles hold millions of numbers. */
static void put_num(FILE *out, uint64_t v, bool first)
{
	char tmp[24], *s = tmp + sizeof(tmp);

	do {
		*--s = '0' + v % 10;
		v /= 10;
	} while (v);
	if (!first)
		*--s = ',';
	fwrite(s, 1, tmp + sizeof(tmp) - s, out);
}

static void write_profile(const struct scope *sc, FILE *out, uint32_t group, size_t lo, size_t hi,
			  const char *unit)
{
	uint32_t unknown = profile__nframes(sc->p), n;
	uint64_t total = 0;
	const uint32_t *frames;
	size_t i;

	for (i = lo; i < hi; i++)
		total += sc->v[i].weight;
	fputs("{\"type\":\"sampled\",\"name\":", out);
	json__write_str(out, report_groups__get(sc->g, group)->label, JSON_NO_MAX, 0);
	fprintf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,\n\"samples\":[", unit,
		(unsigned long long)total);
	for (i = lo; i < hi; i++) {
		frames = profile__stack_get(sc->p, sc->v[i].stack, &n);
		fputs(i > lo ? ",[" : "[", out);
		for (uint32_t k = 0; k < n; k++)
			put_num(out, frames[k], !k);
		if (!n)
			put_num(out, unknown, true);
		fputc(']', out);
	}
	fputs("],\n\"weights\":[", out);
	for (i = lo; i < hi; i++)
		put_num(out, sc->v[i].weight, i == lo);
	fputs("]}", out);
}

int report__speedscope(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct scope sc = {.p = p};
	const char *cmd = profile__get_meta(p, "command");
	int metric = report__metric(o);
	const char *unit = metric == METRIC_CPU || metric == METRIC_ALLOC_COUNT ? "none" : "bytes";
	uint32_t shown = 0, active = 0;
	uint64_t best = 0;
	char *lab = malloc(LABEL_MAX);
	size_t i, j;
	int err = -ENOMEM;

	sc.g = report_groups__new(p, o);
	if (!sc.g || !lab)
		goto out;
	err = report_groups__weights(p, o, sc.g, &sc.v, &sc.n);
	if (err)
		goto out;
	if (sc.n)
		qsort_r(sc.v, sc.n, sizeof(*sc.v), by_group_frames, (void *)p);
	/* merge equal (group, stack) entries: one stack may be counted for several members */
	for (i = 0, j = 0; i < sc.n; i++) {
		if (j && sc.v[j - 1].group == sc.v[i].group && sc.v[j - 1].stack == sc.v[i].stack)
			sc.v[j - 1].weight += sc.v[i].weight;
		else
			sc.v[j++] = sc.v[i];
	}
	sc.n = j;
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n", out);
	fputs("\"exporter\":\"treeprof\",\"name\":", out);
	json__write_str(out, cmd ? cmd : "treeprof", JSON_NO_MAX, 0);
	fputs(",\n", out);
	write_frames(p, out, lab);
	fputs("\"profiles\":[\n", out);
	/* one profile per group with a weight, in group order; the heaviest is shown first */
	for (i = 0; i < sc.n; i = j) {
		uint64_t total = 0;

		for (j = i; j < sc.n && sc.v[j].group == sc.v[i].group; j++)
			total += sc.v[j].weight;
		if (shown)
			fputs(",\n", out);
		if (total > best) {
			best = total;
			active = shown;
		}
		write_profile(&sc, out, sc.v[i].group, i, j, unit);
		shown++;
	}
	fprintf(out, "\n],\n\"activeProfileIndex\":%u}\n", active);
	err = fflush(out) || ferror(out) ? -EIO : 0;
out:
	free(lab);
	free(sc.v);
	report_groups__free(sc.g);
	return err;
}
