// SPDX-License-Identifier: GPL-2.0
/* HTML comparison of two runs: one self-contained page (no network) with a differential
 * flame graph (width from the new run; red grew, blue shrank, by share or --absolute), a
 * role selector, search and a table of the largest changes per function.
 *
 * The page is user/report/report_diff_html.html, turned into the C string
 * report_diff_html_template by the Makefile. This writer fills its data block with the
 * diff as JSON: the runs, the groups, frames as columns, every stack as its frame ids and
 * per (group, stack) both weights; the page computes the rest. Strings are escaped for
 * JSON and for the <script> element holding them (report__html_str). */
#include <errno.h>
#include <string.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"
#include "report_diff_html_tmpl.h" /* generated: static const char report_diff_html_template[] */

#define DATA_MARK "@@TREEPROF_DATA@@" /* where the template takes the JSON */

static void emit_runs(const struct report_diff *d, FILE *out)
{
	fprintf(out,
		"{\"format\":\"treeprof-diff-html\",\"version\":1,\"metric\":\"%s\","
		"\"unit\":\"%s\",\"absolute\":%s,\n\"runs\":[",
		metric__name(d->metric), metric__unit(d->metric), d->absolute ? "true" : "false");
	for (int k = 0; k < 2; k++) {
		fputs(k ? ",\n{\"command\":" : "\n{\"command\":", out);
		report__html_str(out, d->command[k] ? d->command[k] : "");
		fprintf(out, ",\"duration_ns\":%llu,\"processes\":%u,\"total\":%llu}",
			(unsigned long long)d->duration_ns[k], d->nprocs[k],
			(unsigned long long)d->total[k]);
	}
	fputs("],\n\"groups\":[", out);
	for (uint32_t i = 0; i < d->ngroups; i++) {
		const struct diff_group *g = &d->groups[i];

		fputs(i ? ",\n{\"label\":" : "\n{\"label\":", out);
		report__html_str(out, g->label);
		fprintf(out,
			",\"parent\":%lld,\"depth\":%u,\"procs\":[%u,%u],\"weight\":[%llu,%llu]}",
			g->parent == DIFF_NONE ? -1LL : (long long)g->parent, g->depth,
			g->nprocs[0], g->nprocs[1], (unsigned long long)g->weight[0],
			(unsigned long long)g->weight[1]);
	}
	fputs("],\n", out);
}

/* stacks: [group, old, new, frame ids root first] */
static void emit_stacks(const struct report_diff *d, FILE *out)
{
	fputs("\"stacks\":[", out);
	for (size_t i = 0; i < d->nstacks; i++) {
		const struct diff_stack *s = &d->stacks[i];
		uint32_t n;
		const uint32_t *fr = profile__stack_get(d->ids, s->stack, &n);

		fprintf(out, "%s[%u,%llu,%llu", i ? ",\n" : "\n", s->group,
			(unsigned long long)s->weight[0], (unsigned long long)s->weight[1]);
		for (uint32_t j = 0; j < n; j++)
			fprintf(out, ",%u", fr[j]);
		fputc(']', out);
	}
	fputs("]}", out);
}

int report_diff__html(const struct report_diff *d, FILE *out, const struct report_opts *o)
{
	const char *mark = strstr(report_diff_html_template, DATA_MARK);

	if (!mark) /* a broken template is a build bug */
		return -EINVAL;
	fwrite(report_diff_html_template, 1, mark - report_diff_html_template, out);
	emit_runs(d, out);
	report__html_frames(d->ids, NULL, profile__nframes(d->ids), out);
	fputs(",\n", out);
	emit_stacks(d, out);
	fputs(mark + strlen(DATA_MARK), out);
	return fflush(out) || ferror(out) ? -EIO : 0;
}
