// SPDX-License-Identifier: GPL-2.0
/* Folded comparison: "GROUP;root;...;leaf OLD NEW" per stack, sorted byte-wise, the input
 * of flamegraph.pl's differential mode (what difffolded.pl writes). GROUP is the role's
 * label (report_diff.h), absent with --group-by none or --merge. By default OLD is the old
 * run's count scaled to the new run's total (as difffolded.pl -n does), with two decimals
 * so that many small stacks do not round away, so OLD / total and NEW / total are each
 * run's shares and the graph's widths are the new run's; --absolute prints both runs' raw
 * counts as whole numbers. Counts are in the report's metric. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"

#define LABEL_MAX (2 * 65536 + 64) /* any frame label: names and files are capped at 64 KiB */

struct fline {
	char *text;
	uint64_t weight[2];
};

static int fline_order(const void *x, const void *y)
{
	return strcmp(((const struct fline *)x)->text, ((const struct fline *)y)->text);
}

/* The printed line of s without its counts; NULL when out of memory. */
static char *line_text(const struct report_diff *d, const struct diff_stack *s, bool head,
		       char *lab)
{
	uint32_t n;
	const uint32_t *fr = profile__stack_get(d->ids, s->stack, &n);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (head)
		fputs(d->groups[s->group].label, f);
	if (!n)
		fprintf(f, "%s[unknown]", head ? ";" : "");
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s%s", head || i ? ";" : "",
			report__frame_label(d->ids, fr[i], lab, LABEL_MAX));
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

int report_diff__folded(const struct report_diff *d, FILE *out, const struct report_opts *o)
{
	bool head = !o->merge && o->group != REPORT_GROUP_NONE;
	struct fline *v = calloc(d->nstacks + 1, sizeof(*v));
	char *lab = malloc(LABEL_MAX);
	double scale = 0.0; /* 0: raw counts */
	size_t n = 0, i, j;
	int err = -ENOMEM;

	if (!v || !lab)
		goto out;
	for (i = 0; i < d->nstacks; i++) {
		v[i].text = line_text(d, &d->stacks[i], head, lab);
		if (!v[i].text)
			goto out;
		v[i].weight[0] = d->stacks[i].weight[0];
		v[i].weight[1] = d->stacks[i].weight[1];
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), fline_order);
	if (!d->absolute && d->total[0] && d->total[1])
		scale = (double)d->total[1] / (double)d->total[0];
	for (i = 0; i < n; i = j) {
		uint64_t w[2] = {0, 0};

		for (j = i; j < n && !strcmp(v[i].text, v[j].text); j++) {
			w[0] += v[j].weight[0];
			w[1] += v[j].weight[1];
		}
		if (scale)
			fprintf(out, "%s %.2f %llu\n", v[i].text, (double)w[0] * scale,
				(unsigned long long)w[1]);
		else
			fprintf(out, "%s %llu %llu\n", v[i].text, (unsigned long long)w[0],
				(unsigned long long)w[1]);
	}
	err = fflush(out) || ferror(out) ? -EIO : 0;
out:
	for (i = 0; v && i < n; i++)
		free(v[i].text);
	free(v);
	free(lab);
	return err;
}
