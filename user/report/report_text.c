/* Text summary for a terminal, at most 100 columns: run header, process tree, top functions
 * by self and total samples, top functions per process, statistics.
 *
 * With --group-by role the process tree becomes a tree of roles (members, samples, the
 * idlest and the busiest member and the spread between them) and the top functions are
 * listed per role; with --group-by none it is one row for the whole tree and the
 * per-group lists are left out (they would repeat the global ones).
 *
 * "Functions" group frames by kind, name and file (report_funcs.h: a Python function over all its
 * lines). Self samples are those where the function is the leaf; total samples count a stack once
 * even when the function appears in it several times (recursion). A function on nearly every stack
 * of a group (EVERYWHERE: a total of at least 90% of the group's largest one, which start-up and
 * kernel-only samples keep below 100%: <module>, main, BaseProcess._bootstrap...) says nothing
 * about where that group's time goes: the "by total" list leaves out a function whose total comes
 * mostly from groups it is EVERYWHERE in, and hot call paths leave it out (but for the leaf). A
 * hot call path is a stack condensed to its functions (leaf first, recursion folded, at most
 * REPORT_PATH_LEN), e.g. "spin < parent_share_major", with its share of the group. The run's
 * duration comes from the stat "duration_ns" (else the span of the sample timestamps) and the
 * frequency from the meta key "frequency" (Hz); the meta key "command" is shown when set.
 *
 * With a memory --metric every list weighs by that metric instead of samples (estimated
 * bytes, shown as KiB/MiB/GiB, or allocations). A recording with memory events gets a
 * memory section after the CPU lists, whatever the metric (report_mem.c). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"
#include "report/report_fold.h"
#include "report/report_funcs.h"
#include "report/report_mem.h"
#include "report/report_paths.h"

#define WIDTH 100
/* Short-lived helpers (report_fold.h: exited, not killed by a signal, lived less than 2 s),
 * under SHORT_SHARE of the weight or at most SHORT_SAMPLES samples each, no memory events, and
 * nothing but such processes below them. Two or more fold into one row unless --all. */
#define SHORT_SHARE   0.005
#define SHORT_SAMPLES 2
#define PATHS_SHOWN   5	 /* hot call paths per group */
#define TREE_COLS     54 /* columns before the command in the process tree */
#define FUNC_COLS     35 /* columns before the function in the top lists */
#define GROUP_COLS    53 /* columns before the command in the table of roles */
#define MAX_INDENT    24

/* A function's weights (report_funcs.h: what a function is, its label). */
struct func {
	uint64_t self, total;
	uint64_t total_shown; /* total without the groups it is EVERYWHERE in */
	uint64_t mark;	      /* last stack walk that counted total */
};

struct proc_func {
	uint32_t group, func;
	uint64_t self, total;
	bool everywhere;
};

struct text {
	const struct profile *p;
	const struct report_opts *o;
	struct report_groups *g;
	struct report_funcs rf; /* frames to functions, their labels */
	struct func *funcs;	/* by function */
	uint32_t nfuncs;
	uint64_t walk;
	struct proc_func *pf; /* after settle(): merged, by group then function */
	size_t npf, pf_cap;
	size_t *pf_start, *pf_end; /* per group: its run of pf */
	uint32_t *ev;		   /* the EVERYWHERE functions, group after group */
	size_t *ev_start, *ev_end; /* per group: its run of ev */
	struct report_paths paths; /* by group, then weight */
	uint64_t total;		   /* weight of all samples kept */
	uint64_t *proc_total;
	uint64_t *group_total;
	uint64_t *group_nostack; /* weight of samples without any frame */
	int metric;		 /* enum metric */
	struct memacct *mem;	 /* NULL: no memory events */
	bool *folded;		 /* per process: in the short-lived row (NULL: none folded) */
};

/* A weight as the metric shows it: a number, or a size for bytes. */
static const char *val(const struct text *t, char *buf, size_t len, uint64_t v)
{
	if (t->metric == METRIC_CPU || t->metric == METRIC_ALLOC_COUNT)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		report__human_size(buf, len, (double)v);
	return buf;
}

/* The column heading of the metric in the process and role tables. */
static const char *column(const struct text *t)
{
	static const char *const names[] = {"SAMPLES", "ALLOCATED", "ALLOCS", "LIVE", "AT PEAK"};

	return names[t->metric];
}

static bool proc_kept(const struct text *t, uint32_t idx)
{
	return report_groups__of(t->g, idx) != REPORT_NO_GROUP;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Every frame's function, and the functions' weights (zero until counted). */
static int build_funcs(struct text *t)
{
	int err = report_funcs__update(&t->rf, t->p);

	if (err)
		return err;
	t->nfuncs = report_funcs__count(&t->rf);
	t->funcs = calloc(t->nfuncs + 1, sizeof(*t->funcs));
	return t->funcs ? 0 : -ENOMEM;
}

/* The totals of the process, its group and the run; the functions' totals come from the
 * groups' (count_groups()). */
static int count_stack(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	struct text *t = ctx;
	uint32_t n, group = report_groups__of(t->g, proc);

	if (group == REPORT_NO_GROUP)
		return 0;
	t->total += weight;
	t->proc_total[proc] += weight;
	t->group_total[group] += weight;
	profile__stack_get(t->p, stack, &n);
	if (!n)
		t->group_nostack[group] += weight;
	return 0;
}

static int pf_by_group_func(const void *x, const void *y)
{
	const struct proc_func *a = x, *b = y;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->func < b->func ? -1 : a->func > b->func;
}

/* Whether func is EVERYWHERE in group: a short list per group (<module>, main...). */
static bool everywhere(const void *ctx, uint32_t group, uint32_t func)
{
	const struct text *t = ctx;

	for (size_t i = t->ev_start[group]; i < t->ev_end[group]; i++)
		if (t->ev[i] == func)
			return true;
	return false;
}

/* Whether a path of this stack can be shown: its leaf function has 1% of the group's weight
 * as self (a path's weight is part of its leaf's), which leaves out most stacks cheaply. pf
 * is in group-function order here. */
static bool leaf_shown(const struct text *t, const struct prof_stack *sc)
{
	uint32_t n, group = report_groups__of(t->g, sc->proc);
	const uint32_t *frames = profile__stack_get(t->p, sc->stack, &n);
	struct proc_func key = {.group = group};
	const struct proc_func *pf;

	if (!n || group == REPORT_NO_GROUP)
		return false;
	key.func = report_funcs__of(&t->rf, frames[n - 1]);
	pf = bsearch(&key, t->pf, t->npf, sizeof(*t->pf), pf_by_group_func);
	return pf && 100.0 * (double)pf->self >= (double)t->group_total[group];
}

/* Every stack's condensed path, merged, each group's heaviest first. Only paths of 1% of their
 * group or more are ever shown: the others are dropped before sorting (paths.index is stale
 * then, and nothing is added after). */
static int build_paths(struct text *t, const struct prof_stack *sc, size_t nsc)
{
	size_t kept = 0;

	if (htab__reserve(&t->paths.index, nsc)) /* at most one path per stack: no growth */
		return -ENOMEM;
	for (size_t i = 0; i < nsc; i++) {
		uint32_t n, group = report_groups__of(t->g, sc[i].proc);
		const uint32_t *frames = profile__stack_get(t->p, sc[i].stack, &n);
		struct report_path h;

		if (group == REPORT_NO_GROUP || !leaf_shown(t, &sc[i]))
			continue;
		report_path__condense(&h, group, sc[i].weight, frames, n,
				      report_funcs__fmap(&t->rf), everywhere, t);
		if (report_paths__add(&t->paths, &h))
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->paths.n; i++)
		if (100.0 * (double)t->paths.v[i].weight >=
		    (double)t->group_total[t->paths.v[i].group])
			t->paths.v[kept++] = t->paths.v[i];
	t->paths.n = kept;
	report_paths__sort(&t->paths);
	return 0;
}

/* sc ordered by group, in linear time (a counting sort); the stacks of no group are dropped.
 * The number kept, or -ENOMEM. */
static ssize_t sort_by_group(const struct text *t, struct prof_stack *sc, size_t nsc)
{
	uint32_t n = report_groups__count(t->g);
	size_t *at = calloc((size_t)n + 1, sizeof(*at)), kept = 0;
	struct prof_stack *tmp = malloc((nsc + 1) * sizeof(*tmp));

	if (!at || !tmp) {
		free(at);
		free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nsc; i++) {
		uint32_t g = report_groups__of(t->g, sc[i].proc);

		if (g < n)
			at[g + 1]++;
	}
	for (uint32_t g = 0; g < n; g++)
		at[g + 1] += at[g];
	for (size_t i = 0; i < nsc; i++) {
		uint32_t g = report_groups__of(t->g, sc[i].proc);

		if (g < n)
			tmp[at[g]++] = sc[i];
	}
	kept = n ? at[n - 1] : 0;
	if (kept)
		memcpy(sc, tmp, kept * sizeof(*sc));
	free(at);
	free(tmp);
	return (ssize_t)kept;
}

/* One group's stacks (sc[lo, hi)) into its (group, function) pairs: sums in dense arrays
 * indexed by function, then the functions touched flushed to pf. */
static int count_group(struct text *t, const struct prof_stack *sc, size_t lo, size_t hi,
		       uint64_t *tot, uint64_t *self, uint32_t *touched)
{
	uint32_t group = report_groups__of(t->g, sc[lo].proc), nt = 0;

	for (size_t i = lo; i < hi; i++) {
		uint32_t n;
		const uint32_t *frames = profile__stack_get(t->p, sc[i].stack, &n);

		if (!n)
			continue;
		t->walk++;
		for (uint32_t k = 0; k < n; k++) {
			uint32_t f = report_funcs__of(&t->rf, frames[k]);

			if (t->funcs[f].mark == t->walk)
				continue;
			t->funcs[f].mark = t->walk;
			if (!tot[f])
				touched[nt++] = f;
			tot[f] += sc[i].weight;
		}
		self[report_funcs__of(&t->rf, frames[n - 1])] += sc[i].weight;
	}
	if (vec__grow((void **)&t->pf, &t->pf_cap, t->npf + nt, sizeof(*t->pf)))
		return -ENOMEM;
	for (uint32_t k = 0; k < nt; k++) {
		uint32_t f = touched[k];

		t->pf[t->npf++] = (struct proc_func){group, f, self[f], tot[f], false};
		t->funcs[f].self += self[f];
		t->funcs[f].total += tot[f]; /* a stack is in one group: counted once */
		tot[f] = self[f] = 0;
	}
	return 0;
}

/* Every group's (group, function) pairs; sc is sorted by group on the way (and loses the
 * stacks of no group, which no list shows). */
static int count_groups(struct text *t, struct prof_stack *sc, size_t *nsc)
{
	uint64_t *tot = calloc(t->nfuncs + 1, sizeof(*tot));
	uint64_t *self = calloc(t->nfuncs + 1, sizeof(*self));
	uint32_t *touched = calloc(t->nfuncs + 1, sizeof(*touched));
	int err = tot && self && touched ? 0 : -ENOMEM;

	ssize_t kept = err ? 0 : sort_by_group(t, sc, *nsc);

	if (kept < 0)
		err = (int)kept;
	else
		*nsc = (size_t)kept;
	for (size_t lo = 0, hi; !err && lo < (size_t)kept; lo = hi) {
		uint32_t g = report_groups__of(t->g, sc[lo].proc);

		for (hi = lo + 1; hi < (size_t)kept && report_groups__of(t->g, sc[hi].proc) == g;
		     hi++)
			;
		err = count_group(t, sc, lo, hi, tot, self, touched);
	}
	free(tot);
	free(self);
	free(touched);
	return err;
}

/* After counting: (group, function) pairs sorted, each group's run found, the EVERYWHERE
 * pairs marked and left out of the functions' shown totals; then the hot paths. */
static int settle(struct text *t, struct prof_stack *sc, size_t nsc)
{
	uint32_t n = report_groups__count(t->g);
	size_t nev = 0;
	int err = count_groups(t, sc, &nsc);

	if (err)
		return err;
	t->pf_start = calloc(n + 1, sizeof(*t->pf_start));
	t->pf_end = calloc(n + 1, sizeof(*t->pf_end));
	t->ev_start = calloc(n + 1, sizeof(*t->ev_start));
	t->ev_end = calloc(n + 1, sizeof(*t->ev_end));
	t->ev = calloc(t->npf + 1, sizeof(*t->ev));
	if (!t->pf_start || !t->pf_end || !t->ev_start || !t->ev_end || !t->ev)
		return -ENOMEM;
	if (t->npf) /* qsort's array may not be NULL, even when empty */
		qsort(t->pf, t->npf, sizeof(*t->pf), pf_by_group_func);
	for (uint32_t f = 0; f < t->nfuncs; f++)
		t->funcs[f].total_shown = t->funcs[f].total;
	for (size_t lo = 0, hi; lo < t->npf; lo = hi) {
		uint32_t g = t->pf[lo].group;
		uint64_t top = 0; /* the group's largest function total: its root's */

		for (hi = lo; hi < t->npf && t->pf[hi].group == g; hi++)
			top = t->pf[hi].total > top ? t->pf[hi].total : top;
		t->pf_start[g] = lo;
		t->pf_end[g] = hi;
		t->ev_start[g] = nev;
		for (size_t i = lo; i < hi && t->group_total[g] >= REPORT_EVERYWHERE_MIN; i++) {
			struct proc_func *pf = &t->pf[i];

			pf->everywhere = (double)pf->total >= REPORT_EVERYWHERE * (double)top;
			if (!pf->everywhere)
				continue;
			t->funcs[pf->func].total_shown -= pf->total;
			t->ev[nev++] = pf->func;
		}
		t->ev_end[g] = nev;
	}
	return build_paths(t, sc, nsc);
}

static void print_header(const struct text *t, FILE *out, uint32_t nkept)
{
	const char *freq = profile__get_meta(t->p, "frequency");
	const char *cmd = profile__get_meta(t->p, "command");
	uint64_t dur = 0, lo = UINT64_MAX, hi = 0;
	char buf[WIDTH + 1], v[32];

	if (profile__get_stat(t->p, "duration_ns", &dur)) {
		for (size_t i = 0; i < profile__nsamples(t->p); i++) {
			const struct prof_sample *s = profile__sample_at(t->p, i);

			lo = s->ts_ns < lo ? s->ts_ns : lo;
			hi = s->ts_ns > hi ? s->ts_ns : hi;
		}
		dur = hi > lo ? hi - lo : 0;
	}
	fprintf(out, t->o->color ? "\033[1mtreeprof report\033[0m\n" : "treeprof report\n");
	if (cmd)
		fprintf(out, "command    %s\n", report__fit(buf, cmd, WIDTH - 11));
	if (t->metric == METRIC_CPU)
		fprintf(out, "duration   %.2f s   frequency %s Hz   samples %llu   processes %u\n",
			(double)dur / 1e9, freq ? report__fit(buf, freq, 20) : "?",
			(unsigned long long)t->total, nkept);
	else
		fprintf(out, "duration   %.2f s   %s %s (estimated)   processes %u\n",
			(double)dur / 1e9, metric__name(t->metric), val(t, v, sizeof(v), t->total),
			nkept);
}

static void lifetime(const struct prof_proc *pr, char *buf, size_t len)
{
	if (!pr->exited)
		snprintf(buf, len, "running");
	else if (!pr->start_ns || pr->end_ns < pr->start_ns)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%.2fs", (double)(pr->end_ns - pr->start_ns) / 1e9);
}

static void exit_status(const struct prof_proc *pr, char *buf, size_t len)
{
	int sig = pr->exit_code & 0x7f;
	const char *name = sig ? sigabbrev_np(sig) : NULL;

	if (!pr->exited)
		snprintf(buf, len, "-");
	else if (name)
		snprintf(buf, len, "SIG%s", name);
	else if (sig)
		snprintf(buf, len, "signal %d", sig);
	else
		snprintf(buf, len, "exit %d", (pr->exit_code >> 8) & 0xff);
}

static void print_proc(const struct text *t, FILE *out, uint32_t idx, uint32_t depth)
{
	const struct prof_proc *pr = profile__proc_at(t->p, idx);
	const char *cmd = pr->cmdline && *pr->cmdline ? pr->cmdline : pr->comm;
	uint32_t indent = depth * 2 > MAX_INDENT ? MAX_INDENT : depth * 2;
	char life[16], status[16], share[16], buf[WIDTH + 1], v[32];

	lifetime(pr, life, sizeof(life));
	exit_status(pr, status, sizeof(status));
	snprintf(share, sizeof(share), "%5.1f%%", pct(t->proc_total[idx], t->total));
	fprintf(out, "%7d %7d %9s %9s %6s %-10s %*s%s\n", (int)pr->pid, (int)pr->ppid, life,
		val(t, v, sizeof(v), t->proc_total[idx]), share, status, (int)indent, "",
		report__fit(buf, cmd ? cmd : "", WIDTH - TREE_COLS - indent));
}

/* Depth-first from r, children in index order; seen guards against parent cycles. */
static void walk_tree(const struct text *t, FILE *out, uint32_t r, const uint32_t *first,
		      const uint32_t *next, const uint32_t *parent, bool *seen)
{
	uint32_t i = r, d = 0, c;

	for (;;) {
		seen[i] = true;
		if (proc_kept(t, i) && !(t->folded && t->folded[i]))
			print_proc(t, out, i, d);
		for (c = first[i]; c != UINT32_MAX && seen[c]; c = next[c])
			;
		if (c != UINT32_MAX) {
			i = c;
			d++;
			continue;
		}
		while (i != r) {
			for (c = next[i]; c != UINT32_MAX && seen[c]; c = next[c])
				;
			if (c != UINT32_MAX)
				break;
			i = parent[i];
			d--;
		}
		if (i == r)
			return;
		i = c;
	}
}

/* Whether process i qualifies as a short-lived helper by itself (its children aside). */
static bool short_lived(const struct text *t, uint32_t i, const bool *mem)
{
	const struct prof_proc *pr = profile__proc_at(t->p, i);

	return report_fold__short_lived(pr) && !(mem && mem[i]) &&
	       ((double)t->proc_total[i] < SHORT_SHARE * (double)t->total ||
		(t->metric == METRIC_CPU && t->proc_total[i] <= SHORT_SAMPLES));
}

/* Marks t->folded: short-lived processes with only such processes below them (children are
 * later entries, so one pass from the end settles every subtree). Leaves t->folded NULL when
 * fewer than two qualify. parent[i]: the entry of i's parent or UINT32_MAX. */
static int mark_folded(struct text *t, const uint32_t *parent)
{
	uint32_t n = profile__nprocs(t->p), nfold = 0;
	bool *mem = NULL, *blocked = calloc(n + 1, sizeof(bool));

	t->folded = calloc(n + 1, sizeof(bool));
	if (!t->folded || !blocked)
		goto nomem;
	if (t->mem) {
		mem = calloc(n + 1, sizeof(bool));
		if (!mem)
			goto nomem;
		for (uint32_t k = 0; k < t->mem->nprocs; k++) {
			const struct mem_proc *mp = &t->mem->procs[k];

			if (mp->proc < n)
				mem[mp->proc] = mp->alloc_count > 0 || mp->c.alloc_count > 0;
		}
	}
	for (uint32_t i = n; i-- > 0;) {
		t->folded[i] = !blocked[i] && proc_kept(t, i) && short_lived(t, i, mem);
		if (!t->folded[i] && proc_kept(t, i) && parent[i] != UINT32_MAX)
			blocked[parent[i]] = true;
		nfold += t->folded[i];
	}
	free(mem);
	free(blocked);
	if (nfold < 2) {
		free(t->folded);
		t->folded = NULL;
	}
	return 0;
nomem:
	free(mem);
	free(blocked);
	return -ENOMEM;
}

/* "41 short-lived: bash x38, readlink x3 -- 1.2%", in the columns of the process rows. */
static int print_folded(const struct text *t, FILE *out)
{
	uint32_t n = profile__nprocs(t->p), count = 0, *procs = calloc(n + 1, sizeof(*procs));
	char share[16], v[32], row[WIDTH * 2];
	uint64_t w = 0;
	size_t len;

	for (uint32_t i = 0; procs && i < n; i++) {
		if (!t->folded[i])
			continue;
		procs[count++] = i;
		w += t->proc_total[i];
	}
	if (!procs || report_fold__row(t->p, procs, count, row, sizeof(row))) {
		free(procs);
		return -ENOMEM;
	}
	len = strlen(row);
	if (len < sizeof(row))
		snprintf(row + len, sizeof(row) - len, " -- %.1f%%", pct(w, t->total));
	snprintf(share, sizeof(share), "%5.1f%%", pct(w, t->total));
	fprintf(out, "%7s %7s %9s %9s %6s %-10s %s\n", "-", "-", "<2s", val(t, v, sizeof(v), w),
		share, "exited", row);
	free(procs);
	return 0;
}

/* Parent of each process: the newest entry for its ppid made before it, else the newest. */
static int print_tree(struct text *t, FILE *out)
{
	uint32_t n = profile__nprocs(t->p);
	uint32_t *first = calloc(n + 1, sizeof(uint32_t)), *next = calloc(n + 1, sizeof(uint32_t));
	uint32_t *parent = calloc(n + 1, sizeof(uint32_t));
	bool *seen = calloc(n + 1, sizeof(bool));
	int err = -ENOMEM;

	if (!first || !next || !parent || !seen)
		goto out;
	fprintf(out, "%7s %7s %9s %9s %6s %-10s %s\n", "PID", "PPID", "LIFETIME", column(t),
		"SHARE", "STATUS", "COMMAND");
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_proc *pr = profile__proc_at(t->p, i), *pp;

		first[i] = next[i] = parent[i] = UINT32_MAX;
		for (uint32_t j = i; j-- > 0 && pr->ppid;) {
			if (profile__proc_at(t->p, j)->pid == pr->ppid) {
				parent[i] = j;
				break;
			}
		}
		pp = profile__proc_find(t->p, pr->ppid);
		if (parent[i] == UINT32_MAX && pp && pp->idx != i && pr->ppid)
			parent[i] = pp->idx;
		if (t->o->pid)
			parent[i] = UINT32_MAX;
	}
	for (uint32_t i = n; i-- > 0;) {
		if (parent[i] != UINT32_MAX) {
			next[i] = first[parent[i]];
			first[parent[i]] = i;
		}
	}
	if (!t->o->all) {
		err = mark_folded(t, parent);
		if (err)
			goto out;
	}
	/* roots in order, then anything left in a parent cycle */
	for (uint32_t r = 0; r < n; r++)
		if (!seen[r] && parent[r] == UINT32_MAX)
			walk_tree(t, out, r, first, next, parent, seen);
	for (uint32_t r = 0; r < n; r++)
		if (!seen[r])
			walk_tree(t, out, r, first, next, parent, seen);
	err = t->folded ? print_folded(t, out) : 0;
out:
	free(first);
	free(next);
	free(parent);
	free(seen);
	return err;
}

static void print_group(const struct text *t, FILE *out, uint32_t i, uint32_t depth)
{
	const struct report_group_info *gi = report_groups__get(t->g, i);
	uint32_t indent = depth * 2 > MAX_INDENT ? MAX_INDENT : depth * 2;
	char share[16], buf[WIDTH + 1], v[4][32];
	uint64_t lo = UINT64_MAX, hi = 0;

	/* the idlest and busiest members in the report's metric */
	for (uint32_t k = 0; k < gi->nprocs; k++) {
		uint64_t w = t->proc_total[gi->procs[k]];

		lo = w < lo ? w : lo;
		hi = w > hi ? w : hi;
	}
	lo = gi->nprocs ? lo : 0;
	snprintf(share, sizeof(share), "%5.1f%%", pct(t->group_total[i], t->total));
	fprintf(out, "%6u %9s %6s %8s %8s %8s  %*s%s\n", gi->nprocs,
		val(t, v[0], sizeof(v[0]), t->group_total[i]), share,
		val(t, v[1], sizeof(v[1]), lo), val(t, v[2], sizeof(v[2]), hi),
		val(t, v[3], sizeof(v[3]), hi - lo), (int)indent, "",
		report__fit(buf, gi->name, WIDTH - GROUP_COLS - indent));
}

/* Groups as a tree (a role's parent is the role of its first member's parent), depth
 * first, children in group order; IDLEST and BUSIEST are the members' sample counts. */
static int print_group_tree(const struct text *t, FILE *out)
{
	uint32_t n = report_groups__count(t->g), *stack = calloc(n + 1, sizeof(uint32_t));
	uint32_t *depth = calloc(n + 1, sizeof(uint32_t));
	bool *seen = calloc(n + 1, sizeof(bool));
	int err = -ENOMEM;

	if (!stack || !depth || !seen)
		goto out;
	fprintf(out, "%6s %9s %6s %8s %8s %8s  %s\n", "PROCS", column(t), "SHARE", "IDLEST",
		"BUSIEST", "SPREAD", "COMMAND");
	/* roots (and, after them, anything in a parent cycle), then their subtrees */
	for (uint32_t pass = 0; pass < 2; pass++) {
		for (uint32_t r = 0; r < n; r++) {
			uint32_t sp = 0, par = report_groups__get(t->g, r)->parent;

			if (seen[r] || (!pass && par != REPORT_NO_GROUP))
				continue;
			stack[sp++] = r;
			depth[r] = 0;
			seen[r] = true;
			while (sp) {
				uint32_t i = stack[--sp];

				print_group(t, out, i, depth[i]);
				/* push children in reverse so they print in order */
				for (uint32_t c = n; c-- > 0;) {
					if (seen[c] || report_groups__get(t->g, c)->parent != i)
						continue;
					seen[c] = true;
					depth[c] = depth[i] + 1;
					stack[sp++] = c;
				}
			}
		}
	}
	err = 0;
out:
	free(stack);
	free(depth);
	free(seen);
	return err;
}

static int by_self(const void *x, const void *y, void *ctx)
{
	const struct text *t = ctx;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	const struct func *a = &t->funcs[i], *b = &t->funcs[j];

	return report_funcs__order(&t->rf, i, a->self, a->total, j, b->self, b->total);
}

static int by_total(const void *x, const void *y, void *ctx)
{
	const struct func *a = &((const struct text *)ctx)->funcs[*(const uint32_t *)x];
	const struct func *b = &((const struct text *)ctx)->funcs[*(const uint32_t *)y];

	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return by_self(x, y, ctx);
}

static int print_top(const struct text *t, FILE *out, bool total)
{
	uint32_t *order = malloc((t->nfuncs + 1) * sizeof(*order)), shown = 0;
	char buf[WIDTH + 1], title[WIDTH], v[2][32];

	if (!order)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nfuncs; i++)
		order[i] = i;
	qsort_r(order, t->nfuncs, sizeof(*order), total ? by_total : by_self, (void *)t);
	snprintf(title, sizeof(title), "Top functions by %s %s%s", total ? "total" : "self",
		 t->metric == METRIC_CPU ? "samples" : metric__name(t->metric),
		 total ? " (left out: frames on nearly every stack of their process)" : "");
	report__heading(out, title, t->o->color);
	fprintf(out, "%8s %7s %8s %7s  %s\n", "SELF", "SELF%", "TOTAL", "TOTAL%", "FUNCTION");
	for (uint32_t i = 0; i < t->nfuncs && shown < (uint32_t)t->o->top; i++) {
		const struct func *fn = &t->funcs[order[i]];
		const char *label = report_funcs__label(&t->rf, order[i]);

		if (!(total ? fn->total : fn->self))
			break;
		if (total && fn->total_shown < fn->total / 2)
			continue; /* mostly on nearly every sample of its groups */
		fprintf(out, "%8s %6.1f%% %8s %6.1f%%  %s\n", val(t, v[0], sizeof(v[0]), fn->self),
			pct(fn->self, t->total), val(t, v[1], sizeof(v[1]), fn->total),
			pct(fn->total, t->total), report__fit(buf, label, WIDTH - FUNC_COLS));
		shown++;
	}
	if (!shown)
		fprintf(out, "%8s\n", "(none)");
	free(order);
	return 0;
}

static int pf_by_self(const void *x, const void *y, void *ctx)
{
	const struct proc_func *a = x, *b = y;
	const struct text *t = ctx;

	if (a->self != b->self)
		return a->self > b->self ? -1 : 1;
	return strcmp(report_funcs__label(&t->rf, a->func), report_funcs__label(&t->rf, b->func));
}

static int groups_by_samples(const void *x, const void *y, void *ctx)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	const struct text *t = ctx;

	if (t->group_total[a] != t->group_total[b])
		return t->group_total[a] > t->group_total[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

static const char *func_label(const void *ctx, uint32_t func)
{
	return report_funcs__label(&((const struct text *)ctx)->rf, func);
}

/* The group's hot call paths from t->paths[i] on: at most PATHS_SHOWN, each at least 1%. */
static void print_paths(const struct text *t, FILE *out, size_t i, uint64_t total)
{
	uint32_t group = t->paths.v[i].group;
	char line[WIDTH * 4], buf[WIDTH + 1], v[32];

	fprintf(out, "  hot call paths (leaf first, frames on nearly every stack left out):\n");
	for (uint32_t shown = 0;
	     i < t->paths.n && t->paths.v[i].group == group && shown < PATHS_SHOWN; i++, shown++) {
		const struct report_path *h = &t->paths.v[i];

		if (pct(h->weight, total) < 1.0)
			break;
		report_path__name(h, func_label, t, line, sizeof(line));
		fprintf(out, "%8s %6.1f%%  %s\n", val(t, v, sizeof(v), h->weight),
			pct(h->weight, total), report__fit(buf, line, WIDTH - 18));
	}
}

/* Top self functions of each group (process or role) with samples, busiest first. */
static int print_per_group(struct text *t, FILE *out)
{
	uint32_t n = report_groups__count(t->g), *order = malloc((n + 1) * sizeof(*order));
	size_t *paths = calloc(n + 1, sizeof(*paths)), *start = t->pf_start, *end = t->pf_end;
	char buf[WIDTH + 1], line[WIDTH + 1], title[80], v[32];
	const char *what = t->metric == METRIC_CPU ? "samples" : metric__name(t->metric);
	size_t i, j;
	int err = -ENOMEM;

	if (!order || !paths)
		goto out;
	/* each group's run sorted by self (settle() merged them); its first hot path */
	for (uint32_t g = 0; g < n; g++)
		if (end[g] > start[g])
			qsort_r(t->pf + start[g], end[g] - start[g], sizeof(*t->pf), pf_by_self, t);
	for (i = t->paths.n; i-- > 0;)
		paths[t->paths.v[i].group] = i + 1;
	for (uint32_t k = 0; k < n; k++)
		order[k] = k;
	qsort_r(order, n, sizeof(*order), groups_by_samples, t);
	snprintf(title, sizeof(title), "Top functions per %s (self %s)",
		 t->o->group == REPORT_GROUP_ROLE ? "role" : "process", what);
	report__heading(out, title, t->o->color);
	for (uint32_t k = 0; k < n && t->group_total[order[k]]; k++) {
		const struct report_group_info *gi = report_groups__get(t->g, order[k]);
		const struct prof_proc *pr = profile__proc_at(t->p, gi->procs[0]);
		const char *cmd = *pr->cmdline ? pr->cmdline : pr->comm;
		uint64_t total = t->group_total[order[k]], nostack = t->group_nostack[order[k]];

		if (t->o->group == REPORT_GROUP_ROLE)
			snprintf(line, sizeof(line), "%s", gi->label);
		else
			snprintf(line, sizeof(line), "pid %d: %s", (int)pr->pid, cmd);
		if (t->metric == METRIC_CPU)
			fprintf(out, "%s%s (%llu sample%s", k ? "\n" : "",
				report__fit(buf, line, WIDTH - 32), (unsigned long long)total,
				total == 1 ? "" : "s");
		else /* sizes carry their unit */
			fprintf(out, "%s%s (%s%s", k ? "\n" : "",
				report__fit(buf, line, WIDTH - 32), val(t, v, sizeof(v), total),
				t->metric == METRIC_ALLOC_COUNT ? " allocations" : "");
		if (t->o->group == REPORT_GROUP_ROLE && gi->nprocs > 1)
			fprintf(out, ", spread %llu",
				(unsigned long long)(gi->max_samples - gi->min_samples));
		fputs(")\n", out);
		for (i = start[order[k]], j = 0;
		     i < end[order[k]] && j < (size_t)t->o->top && t->pf[i].self; i++, j++)
			fprintf(out, "%8s %6.1f%%  %s\n", val(t, v, sizeof(v), t->pf[i].self),
				pct(t->pf[i].self, total),
				report__fit(buf, report_funcs__label(&t->rf, t->pf[i].func),
					    WIDTH - 18));
		if (nostack)
			fprintf(out, "%8s %6.1f%%  %s\n", val(t, v, sizeof(v), nostack),
				pct(nostack, total), "(no stack captured)");
		if (paths[order[k]])
			print_paths(t, out, paths[order[k]] - 1, total);
	}
	err = 0;
out:
	free(order);
	free(paths);
	return err;
}

static void print_stats(const struct text *t, FILE *out)
{
	const char *name;
	uint64_t v;
	char buf[WIDTH + 1];
	uint32_t i;

	report__heading(out, "Statistics", t->o->color);
	for (i = 0; (name = profile__stat_at(t->p, i, &v)); i++)
		fprintf(out, "  %-50s %20llu\n", report__fit(buf, name, 50), (unsigned long long)v);
	if (!i)
		fprintf(out, "  (none)\n");
}

int report__text(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct report_opts opts = *o;
	struct text t = {.p = p, .o = &opts, .metric = report__metric(o)};
	struct prof_stack *sc = NULL;
	uint32_t nkept = 0;
	size_t nsc = 0;
	int err;

	if (t.metric < 0)
		return t.metric;
	if (opts.top <= 0)
		opts.top = 15;
	report_paths__init(&t.paths);
	report_funcs__init(&t.rf);
	t.g = report_groups__new(p, &opts);
	if (!t.g)
		return -errno;
	t.proc_total = calloc(profile__nprocs(p) + 1, sizeof(*t.proc_total));
	t.group_total = calloc(report_groups__count(t.g) + 1, sizeof(*t.group_total));
	t.group_nostack = calloc(report_groups__count(t.g) + 1, sizeof(*t.group_nostack));
	err = t.proc_total && t.group_total && t.group_nostack ? build_funcs(&t) : -ENOMEM;
	if (!err)
		err = report__stack_weights(p, o, NULL, NULL, &sc, &nsc, &t.mem);
	for (size_t i = 0; !err && i < nsc; i++)
		err = count_stack(sc[i].proc, sc[i].stack, sc[i].weight, &t);
	if (!err)
		err = settle(&t, sc, nsc);
	free(sc);
	if (err)
		goto out;
	for (uint32_t i = 0; i < profile__nprocs(p); i++)
		nkept += proc_kept(&t, i);
	print_header(&t, out, nkept);
	if (opts.group == REPORT_GROUP_PID) {
		report__heading(out, "Processes", t.o->color);
		err = print_tree(&t, out);
	} else {
		report__heading(
		    out, opts.group == REPORT_GROUP_ROLE ? "Processes by role" : "Processes (all)",
		    t.o->color);
		err = print_group_tree(&t, out);
	}
	if (!err)
		err = print_top(&t, out, false);
	if (!err)
		err = print_top(&t, out, true);
	if (!err && opts.group != REPORT_GROUP_NONE)
		err = print_per_group(&t, out);
	if (!err && t.mem)
		err = report__text_memory(p, t.mem, t.g, &opts, out);
	if (err)
		goto out;
	print_stats(&t, out);
	if (fflush(out) || ferror(out))
		err = -EIO;
out:
	report_funcs__fini(&t.rf);
	free(t.funcs);
	free(t.folded);
	free(t.pf_start);
	free(t.pf_end);
	free(t.ev);
	free(t.ev_start);
	free(t.ev_end);
	report_paths__fini(&t.paths);
	free(t.pf);
	free(t.proc_total);
	free(t.group_total);
	free(t.group_nostack);
	report_groups__free(t.g);
	memacct__free(t.mem);
	return err;
}
