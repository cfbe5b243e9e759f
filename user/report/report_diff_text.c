// SPDX-License-Identifier: GPL-2.0
/* Text comparison of two runs, at most 100 columns: both runs' headers, the roles with
 * their processes and weights in each run (added and removed roles marked), then the
 * functions and the call paths whose share changed most, up and down: both figures and
 * the difference, in percentage points (or raw with --absolute). Functions rank by self
 * weight (where the time or the bytes went), call paths are whole stacks of one role. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/demangle.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"
#include "report/report_mem.h"

#define WIDTH	   100
#define ROLE_COLS  54 /* columns before the role's name */
#define FUNC_COLS  29 /* columns before the function or path */
#define MAX_INDENT 16
#define NAME_MAX   4096

struct dtext {
	const struct report_diff *d;
	const struct report_opts *o;
	char *buf; /* NAME_MAX: a call path being named */
};

static bool bytes(const struct report_diff *d)
{
	return d->metric != METRIC_CPU && d->metric != METRIC_ALLOC_COUNT;
}

/* A raw weight as the metric reads: a count, or a size. */
static const char *raw(const struct report_diff *d, char *buf, size_t len, double v)
{
	if (bytes(d))
		return report__human_size(buf, len, v);
	snprintf(buf, len, "%.0f", v);
	return buf;
}

static const char *share(const struct report_diff *d, char *buf, size_t len, int side, uint64_t w)
{
	snprintf(buf, len, "%.1f%%",
		 d->total[side] ? 100.0 * (double)w / (double)d->total[side] : 0.0);
	return buf;
}

/* What a writer shows for w of one run: its share, or the raw weight. */
static const char *shown(const struct report_diff *d, char *buf, size_t len, int side, uint64_t w)
{
	return d->absolute ? raw(d, buf, len, (double)w) : share(d, buf, len, side, w);
}

static const char *delta(const struct report_diff *d, char *buf, size_t len, const uint64_t w[2])
{
	double v = report_diff__delta(d, w);
	char tmp[32];

	if (!d->absolute)
		snprintf(buf, len, "%+.1f", v);
	else if (bytes(d))
		snprintf(buf, len, "%c%s", v < 0 ? '-' : '+',
			 raw(d, tmp, sizeof(tmp), v < 0 ? -v : v));
	else
		snprintf(buf, len, "%+.0f", v);
	return buf;
}

static void print_header(const struct dtext *t, FILE *out)
{
	static const char *const side[] = {"old", "new"};
	const struct report_diff *d = t->d;
	const char *what = d->metric == METRIC_CPU ? "samples" : metric__name(d->metric);
	char buf[WIDTH + 1], v[32];

	fputs(t->o->color ? "\033[1mtreeprof diff\033[0m\n" : "treeprof diff\n", out);
	for (int k = 0; k < 2; k++) {
		fprintf(out, "%s   %.2f s   %s %s   processes %u\n", side[k],
			(double)d->duration_ns[k] / 1e9, what, raw(d, v, sizeof(v), d->total[k]),
			d->nprocs[k]);
		if (d->command[k])
			fprintf(out, "      %s\n", report__fit(buf, d->command[k], WIDTH - 6));
	}
	if (d->absolute)
		fprintf(out, "shown  raw %s; DIFF is new - old\n", what);
	else
		fprintf(out, "shown  share of each run's %s; DIFF in percentage points\n",
			d->metric == METRIC_CPU ? "samples" : "total");
}

static void print_group(const struct dtext *t, FILE *out, uint32_t i)
{
	const struct diff_group *g = &t->d->groups[i];
	uint32_t indent = g->depth * 2 > MAX_INDENT ? MAX_INDENT : g->depth * 2;
	char v[4][32], buf[WIDTH + 1], name[WIDTH + 16];

	snprintf(name, sizeof(name), "%s%s", g->label,
		 !g->nprocs[0]	 ? "  (added)"
		 : !g->nprocs[1] ? "  (removed)"
				 : "");
	fprintf(out, "%4u %4u %9s %9s %8s %8s  %*s%s\n", g->nprocs[0], g->nprocs[1],
		raw(t->d, v[0], sizeof(v[0]), g->weight[0]),
		raw(t->d, v[1], sizeof(v[1]), g->weight[1]),
		share(t->d, v[2], sizeof(v[2]), 0, g->weight[0]),
		share(t->d, v[3], sizeof(v[3]), 1, g->weight[1]), (int)indent, "",
		report__fit(buf, name, WIDTH - ROLE_COLS - indent));
}

/* Groups as a tree, depth first, children in group order; then any left in a cycle. */
static int print_groups(const struct dtext *t, FILE *out)
{
	const struct report_diff *d = t->d;
	uint32_t n = d->ngroups, *stack = calloc(n + 1, sizeof(*stack));
	bool *seen = calloc(n + 1, sizeof(*seen));
	bool cpu = d->metric == METRIC_CPU;

	if (!stack || !seen) {
		free(stack);
		free(seen);
		return -ENOMEM;
	}
	report__heading(out, t->o->group == REPORT_GROUP_NONE ? "Processes (all)" : "Roles",
			t->o->color);
	fprintf(out, "%4s %4s %9s %9s %8s %8s  %s\n", "OLD", "NEW", cpu ? "OLD SAMP" : "OLD",
		cpu ? "NEW SAMP" : "NEW", "OLD%", "NEW%", "ROLE (PROCESSES OLD, NEW)");
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t r = 0; r < n; r++) {
			uint32_t sp = 0;

			if (seen[r] || (!pass && d->groups[r].parent != DIFF_NONE))
				continue;
			stack[sp++] = r;
			seen[r] = true;
			while (sp) {
				uint32_t i = stack[--sp];

				print_group(t, out, i);
				for (uint32_t c = n; c-- > 0;) {
					if (seen[c] || d->groups[c].parent != i)
						continue;
					seen[c] = true;
					stack[sp++] = c;
				}
			}
		}
	}
	free(stack);
	free(seen);
	return 0;
}

static int func_order(const void *x, const void *y, void *ctx)
{
	const struct report_diff *d = ctx;
	const struct diff_func *a = &d->funcs[*(const uint32_t *)x];
	const struct diff_func *b = &d->funcs[*(const uint32_t *)y];
	double da = report_diff__delta(d, a->self), db = report_diff__delta(d, b->self);

	if (da != db)
		return da > db ? -1 : 1;
	return strcmp(a->label, b->label);
}

static int print_funcs(const struct dtext *t, FILE *out)
{
	const struct report_diff *d = t->d;
	uint32_t *order = malloc((d->nfuncs + 1) * sizeof(*order)), shown_n;
	char v[3][32], buf[WIDTH + 1];

	if (!order)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nfuncs; i++)
		order[i] = i;
	if (d->nfuncs)
		qsort_r(order, d->nfuncs, sizeof(*order), func_order, (void *)d);
	for (int up = 1; up >= 0; up--) {
		report__heading(out,
				up ? "Functions that grew (self)" : "Functions that shrank (self)",
				t->o->color);
		fprintf(out, "%8s %8s %9s  %s\n", "OLD", "NEW", "DIFF", "FUNCTION");
		shown_n = 0;
		for (uint32_t k = 0; k < d->nfuncs && shown_n < (uint32_t)t->o->top; k++) {
			const struct diff_func *fn = &d->funcs[order[up ? k : d->nfuncs - 1 - k]];
			double dv = report_diff__delta(d, fn->self);

			if (up ? dv <= 0 : dv >= 0)
				break;
			fprintf(out, "%8s %8s %9s  %s\n",
				shown(d, v[0], sizeof(v[0]), 0, fn->self[0]),
				shown(d, v[1], sizeof(v[1]), 1, fn->self[1]),
				delta(d, v[2], sizeof(v[2]), fn->self),
				report__fit(buf, fn->label, WIDTH - FUNC_COLS));
			shown_n++;
		}
		if (!shown_n)
			fprintf(out, "%8s\n", "(none)");
	}
	free(order);
	return 0;
}

static int stack_order(const void *x, const void *y, void *ctx)
{
	const struct report_diff *d = ctx;
	const struct diff_stack *a = &d->stacks[*(const size_t *)x];
	const struct diff_stack *b = &d->stacks[*(const size_t *)y];
	double da = report_diff__delta(d, a->weight), db = report_diff__delta(d, b->weight);

	if (da != db)
		return da > db ? -1 : 1;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

/* "role: root > ... > leaf", with frames' names only. */
static const char *path_name(const struct dtext *t, const struct diff_stack *s)
{
	uint32_t n;
	const uint32_t *fr = profile__stack_get(t->d->ids, s->stack, &n);
	char dm[DEMANGLE_OUT_MAX];
	size_t len = 0;

	if (t->o->group != REPORT_GROUP_NONE)
		len = snprintf(t->buf, NAME_MAX, "%s: ", t->d->groups[s->group].label);
	if (!n && len < NAME_MAX)
		snprintf(t->buf + len, NAME_MAX - len, "(no stack captured)");
	for (uint32_t i = 0; i < n && len < NAME_MAX; i++)
		len += snprintf(
		    t->buf + len, NAME_MAX - len, "%s%s", i ? " > " : "",
		    report__frame_name(profile__frame_get(t->d->ids, fr[i]), dm, sizeof(dm)));
	return t->buf;
}

static int print_paths(const struct dtext *t, FILE *out)
{
	const struct report_diff *d = t->d;
	size_t *order = malloc((d->nstacks + 1) * sizeof(*order)), shown_n;
	char v[3][32], buf[WIDTH + 1];

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < d->nstacks; i++)
		order[i] = i;
	if (d->nstacks)
		qsort_r(order, d->nstacks, sizeof(*order), stack_order, (void *)d);
	for (int up = 1; up >= 0; up--) {
		report__heading(out, up ? "Call paths that grew" : "Call paths that shrank",
				t->o->color);
		fprintf(out, "%8s %8s %9s  %s\n", "OLD", "NEW", "DIFF", "PATH (ROOT > LEAF)");
		shown_n = 0;
		for (size_t k = 0; k < d->nstacks && shown_n < (size_t)t->o->top; k++) {
			const struct diff_stack *s = &d->stacks[order[up ? k : d->nstacks - 1 - k]];
			double dv = report_diff__delta(d, s->weight);

			if (up ? dv <= 0 : dv >= 0)
				break;
			fprintf(out, "%8s %8s %9s  %s\n",
				shown(d, v[0], sizeof(v[0]), 0, s->weight[0]),
				shown(d, v[1], sizeof(v[1]), 1, s->weight[1]),
				delta(d, v[2], sizeof(v[2]), s->weight),
				report__fit(buf, path_name(t, s), WIDTH - FUNC_COLS));
			shown_n++;
		}
		if (!shown_n)
			fprintf(out, "%8s\n", "(none)");
	}
	free(order);
	return 0;
}

int report_diff__text(const struct report_diff *d, FILE *out, const struct report_opts *o)
{
	struct report_opts opts = *o;
	struct dtext t = {.d = d, .o = &opts, .buf = malloc(NAME_MAX)};
	int err;

	if (!t.buf)
		return -ENOMEM;
	if (opts.top <= 0)
		opts.top = 15;
	print_header(&t, out);
	err = print_groups(&t, out);
	if (!err)
		err = print_funcs(&t, out);
	if (!err)
		err = print_paths(&t, out);
	free(t.buf);
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
	return err;
}
