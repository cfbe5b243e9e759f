/* Memory accounting: the profile's memory events, weights, leaks, peaks (tree and per
 * process, with the stacks held then), fork inheritance, realloc, unmatched frees, the
 * replay in time order and the time series, on hand-built event sequences with exact
 * expected values, and on random ones against a plain model. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "treeprof.h"
#include "unit.h"

#define MS 1000000ULL

static uint32_t st[4]; /* four distinct stacks of the test profile */

static struct profile *new_profile(void)
{
	struct profile *p = profile__new();
	uint32_t f[4];

	for (uint32_t i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%u", i);
		CHECK_EQ_INT(profile__frame(
				 p, &(struct prof_frame){FRAME_PYTHON, name, "m.py", i + 1}, &f[i]),
			     0);
		CHECK_EQ_INT(profile__stack(p, f, i + 1, &st[i]), 0);
	}
	return p;
}

/* An exact (rate 1) malloc. */
static void alloc(struct profile *p, uint64_t ts, pid_t pid, uint64_t addr, uint64_t size,
		  int stack)
{
	CHECK_EQ_INT(profile__mem_alloc(p, ts, pid, pid, TP_MEM_MALLOC, addr, size, 1, st[stack]),
		     0);
}

static void mfree(struct profile *p, uint64_t ts, pid_t pid, uint64_t addr)
{
	CHECK_EQ_INT(profile__mem_free(p, ts, pid, TP_MEM_FREE, addr), 0);
}

static uint32_t idx(const struct profile *p, pid_t pid)
{
	const struct prof_proc *t = profile__proc_find(p, pid);

	return t ? t->idx : UINT32_MAX;
}

/* Processes 10 ("a") and 20 ("b"), started at 0: their indexes in *a and *b. */
static void two_procs(struct profile *p, uint32_t *a, uint32_t *b)
{
	CHECK_EQ_INT(profile__proc_start(p, 10, 1, 0, "a", "a", ""), 0);
	CHECK_EQ_INT(profile__proc_start(p, 20, 1, 0, "b", "b", ""), 0);
	*a = idx(p, 10);
	*b = idx(p, 20);
}

/* Process 10 holding 100 B at 0x1000 (stack 0) from time 1: its index. */
static uint32_t one_block(struct profile *p)
{
	alloc(p, 1, 10, 0x1000, 100, 0);
	return idx(p, 10);
}

static const struct mem_site *site(const struct memacct *m, uint32_t proc, int stack)
{
	for (size_t i = 0; i < m->nsites; i++)
		if (m->sites[i].proc == proc && m->sites[i].stack == st[stack])
			return &m->sites[i];
	return NULL;
}

static const struct mem_proc *mproc(const struct memacct *m, uint32_t proc)
{
	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].proc == proc)
			return &m->procs[i];
	return NULL;
}

/* One expected value of the accounts: a field of the site of process proc (by index) at
 * stack, of the process itself (stack P) or of the tree (stack T; proc unused). A site or
 * process that is absent reads -1, or 0 with OPT (a site with nothing in any field may be
 * left out). */
enum field {
	ALLOC_COUNT,
	ALLOC_BYTES,
	LIVE,
	LIVE_INH,
	PEAK,
	PROC_PEAK,
	PEAK_TS,
	RSS_PEAK,
	INH_FREES,
	UNMATCHED,
	NFIELDS
};
#define OPT 0x100
#define P   -1
#define T   -2

struct want {
	uint32_t proc;
	int stack, field;
	long long value;
};

#define NO    ((size_t)-1)
#define S_(f) offsetof(struct mem_site, f)
#define P_(f) offsetof(struct mem_proc, f)
#define T_(f) offsetof(struct memacct, f)
/* Where each field is in a site, a process and the tree (NO: not there), and whether it is
 * a uint64_t there rather than a double (peak_ts, rss_peak and the counts of frees). */
static const struct {
	const char *name;
	size_t site, proc, tree;
	bool u64;
} fields[NFIELDS] = {
    [ALLOC_COUNT] = {"alloc_count", S_(alloc_count), P_(alloc_count), NO, false},
    [ALLOC_BYTES] = {"alloc_bytes", S_(alloc_bytes), P_(alloc_bytes), NO, false},
    [LIVE] = {"live_bytes", S_(live_bytes), P_(live_bytes), NO, false},
    [LIVE_INH] = {"live_inherited_bytes", S_(live_inherited_bytes), P_(live_inherited_bytes), NO,
		  false},
    [PEAK] = {"peak_bytes", S_(peak_bytes), P_(peak_bytes), T_(tree_peak_bytes), false},
    [PROC_PEAK] = {"proc_peak_bytes", S_(proc_peak_bytes), NO, NO, false},
    [PEAK_TS] = {"peak_ts", NO, P_(peak_ts), T_(tree_peak_ts), true},
    [RSS_PEAK] = {"rss_peak", NO, P_(rss_peak), NO, true},
    [INH_FREES] = {"inherited_frees", NO, P_(inherited_frees), NO, true},
    [UNMATCHED] = {"unmatched_frees", NO, P_(unmatched_frees), T_(unmatched_frees), true},
};

static long long value_of(const struct memacct *m, const struct want *w)
{
	int f = w->field & ~OPT;
	const void *base = w->stack == T   ? (const void *)m
			   : w->stack == P ? (const void *)mproc(m, w->proc)
					   : (const void *)site(m, w->proc, w->stack);
	size_t off = w->stack == T   ? fields[f].tree
		     : w->stack == P ? fields[f].proc
				     : fields[f].site;
	const char *at;

	if (!base)
		return w->field & OPT ? 0 : -1;
	at = (const char *)base + off;
	return fields[f].u64 ? (long long)*(const uint64_t *)at : (long long)*(const double *)at;
}

/* Each of want[0..n) holds in m; m NULL (the compute failed) fails the test. */
static void expect(const struct memacct *m, const struct want *want, size_t n)
{
	if (!m) {
		unit_fail("memacct__compute() failed");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		long long seen = value_of(m, &want[i]);

		if (seen != want[i].value)
			unit_fail("proc %u stack %d %s: expected %lld, saw %lld", want[i].proc,
				  want[i].stack, fields[want[i].field & ~OPT].name, want[i].value,
				  seen);
	}
}

/* The values of the profile's accounts, computed here. */
static void expect_of(const struct profile *p, const struct want *want, size_t n)
{
	struct memacct *m = memacct__compute(p);

	expect(m, want, n);
	memacct__free(m);
}

/* WANTS({proc, stack, field, value}...): the array and its length, for expect(). */
#define WANTS(...)                                                                                 \
	(const struct want[]){__VA_ARGS__},                                                        \
	    sizeof((const struct want[]){__VA_ARGS__}) / sizeof(struct want)
#define EXPECT(p, ...) expect_of(p, WANTS(__VA_ARGS__))

static bool near(double a, double b)
{
	double d = a > b ? a - b : b - a;

	return d <= 1e-12 * (b > 0 ? b : -b) + 1e-12;
}

static void weights_follow_the_formula(void)
{
	/* size / (1 - exp(-size / rate)), from Python's math.expm1 */
	static const struct {
		uint64_t size, rate;
		double w;
	} want[] = {
	    {4096, 524288, 526338.666663954},
	    {1, 524288, 524288.5000001589},
	    {1048576, 524288, 1212696.6437638735},
	    {100, 1000, 1050.833194477505},
	    {524288, 524288, 829411.4036911054},
	    {10485760, 524288, 10485760.021612762},
	    {1000, 3, 1000.0},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		double w = memacct__weight(want[i].size, want[i].rate);

		if (!near(w, want[i].w)) {
			fprintf(stderr, "  weight(%llu, %llu): expected %.10g, saw %.10g\n",
				(unsigned long long)want[i].size, (unsigned long long)want[i].rate,
				want[i].w, w);
			unit_failed_checks++;
		}
	}
	CHECK(memacct__weight(4096, 1) == 4096.0);
	CHECK(memacct__weight(4096, 0) == 4096.0);
	CHECK(memacct__weight(0, 524288) == 0.0);
	CHECK(memacct__weight(UINT64_MAX, UINT64_MAX) > 1e19);
	CHECK_EQ_INT(memacct__round(2.5), 3);
	CHECK_EQ_INT(memacct__round(-4), 0);
	CHECK(memacct__round(1e30) == UINT64_MAX);
	CHECK(memacct__round(0.0 / 0.0) == 0);
}

static void metrics_parse_and_name(void)
{
	CHECK_EQ_INT(metric__parse(NULL), METRIC_CPU);
	CHECK_EQ_INT(metric__parse("cpu"), METRIC_CPU);
	CHECK_EQ_INT(metric__parse("alloc_bytes"), METRIC_ALLOC_BYTES);
	CHECK_EQ_INT(metric__parse("alloc_count"), METRIC_ALLOC_COUNT);
	CHECK_EQ_INT(metric__parse("live_bytes"), METRIC_LIVE_BYTES);
	CHECK_EQ_INT(metric__parse("peak_bytes"), METRIC_PEAK_BYTES);
	CHECK_EQ_INT(metric__parse("heap"), -1);
	CHECK_EQ_STR(metric__name(METRIC_PEAK_BYTES), "peak_bytes");
	CHECK_EQ_STR(metric__unit(METRIC_CPU), "samples");
	CHECK_EQ_STR(metric__unit(METRIC_ALLOC_COUNT), "allocations");
	CHECK_EQ_STR(metric__unit(METRIC_LIVE_BYTES), "bytes");
}

static void profile_keeps_memory_events_in_order(void)
{
	struct profile *p = new_profile();
	struct tp_memcounters c = {.alloc_count = 5, .alloc_bytes = 500, .rate = 1};
	const struct prof_memrec *r;

	CHECK_EQ_INT(profile__nmem(p), 0);
	CHECK_EQ_INT(profile__proc_exit(p, 5, 1, 0), 0); /* before any memory event: no record */
	CHECK_EQ_INT(profile__nmem(p), 0);
	alloc(p, 10, 40, 0x1000, 64, 1); /* pid 40 has no entry yet: one is made */
	CHECK(profile__proc_find(p, 40) != NULL);
	CHECK_EQ_INT(profile__mem_alloc(p, 11, 40, 40, TP_MEM_FREE, 1, 1, 1, st[0]), -EINVAL);
	CHECK_EQ_INT(profile__mem_alloc(p, 11, 40, 40, TP_MEM_MALLOC, 1, 1, 1, 99), -EINVAL);
	CHECK_EQ_INT(profile__mem_free(p, 11, 40, TP_MEM_MALLOC, 1), -EINVAL);
	CHECK_EQ_INT(profile__mem_fork(p, 12, 41, 40), 0);
	CHECK_EQ_INT(profile__proc_find(p, 41)->ppid, 40);
	CHECK_EQ_INT(profile__mem_rss(p, 13, 41, 1 << 20), 0);
	mfree(p, 14, 40, 0x1000);
	CHECK_EQ_INT(profile__proc_exec(p, 41, 15, "sh", "sh", "/bin/sh"), 0);
	CHECK_EQ_INT(profile__proc_exit(p, 41, 16, 0), 0);
	CHECK_EQ_INT(profile__mem_counters(p, 17, 40, &c), 0);
	c.alloc_count = 6;
	CHECK_EQ_INT(profile__mem_counters(p, 18, 40, &c), 0);

	/* pid 5's exit (at its own time), then the events */
	CHECK_EQ_INT(profile__nmem(p), 7);
	r = profile__mem_at(p, 0);
	CHECK(r && r->type == MEMREC_EXIT && r->proc == idx(p, 5) && r->ts_ns == 1);
	r = profile__mem_at(p, 1);
	CHECK(r && r->type == MEMREC_ALLOC && r->addr == 0x1000 && r->size == 64 && r->rate == 1 &&
	      r->stack == st[1] && r->kind == TP_MEM_MALLOC && r->ts_ns == 10);
	r = profile__mem_at(p, 2);
	CHECK(r && r->type == MEMREC_FORK && r->proc == idx(p, 41) && r->addr == idx(p, 40));
	r = profile__mem_at(p, 3);
	CHECK(r && r->type == MEMREC_RSS && r->size == 1 << 20);
	r = profile__mem_at(p, 4);
	CHECK(r && r->type == MEMREC_FREE && r->kind == TP_MEM_FREE && r->addr == 0x1000);
	CHECK(profile__mem_at(p, 5)->type == MEMREC_EXEC);
	CHECK(profile__mem_at(p, 6)->type == MEMREC_EXIT);
	CHECK(profile__mem_at(p, 7) == NULL);
	CHECK(profile__mem_counters_get(p, idx(p, 41)) == NULL);
	CHECK(profile__mem_counters_get(p, idx(p, 40)) &&
	      profile__mem_counters_get(p, idx(p, 40))->alloc_count == 6);
	CHECK(profile__mem_counters_get(p, 12345) == NULL);

	profile__keep_mem(p, false);
	alloc(p, 20, 40, 0x2000, 64, 1);
	CHECK_EQ_INT(profile__nmem(p), 7);
	profile__free(p);
}

static void no_memory_events_compute_to_null(void)
{
	struct profile *p = new_profile();
	struct memacct *m;

	CHECK_EQ_INT(profile__sample(p, 1, 10, 10, 0, st[0], 1), 0);
	errno = 0;
	CHECK(memacct__compute(p) == NULL);
	CHECK_EQ_INT(errno, ENODATA);
	CHECK(!memacct__has_data(p));
	/* exact totals alone are memory data */
	CHECK_EQ_INT(profile__mem_counters(p, 2, 10, &(struct tp_memcounters){.alloc_count = 3}),
		     0);
	m = memacct__compute(p);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_INT(m->nprocs, 1);
		CHECK(m->procs[0].has_counters && m->procs[0].c.alloc_count == 3);
		CHECK_EQ_INT(m->nsites, 0);
	}
	memacct__free(m);
	memacct__free(NULL);
	profile__free(p);
}

static void leaks_are_what_a_process_holds_at_exit_or_at_the_end(void)
{
	struct profile *p = new_profile();
	struct memacct *m;
	uint32_t a, b;

	two_procs(p, &a, &b);
	alloc(p, 1, 10, 0x1000, 100, 0);
	alloc(p, 2, 10, 0x2000, 200, 1);
	alloc(p, 3, 10, 0x3000, 50, 1);
	alloc(p, 4, 20, 0x1000, 70, 0); /* the same address in another process */
	mfree(p, 5, 10, 0x2000);
	profile__proc_exit(p, 10, 6, 0);
	alloc(p, 7, 10, 0x4000, 999, 2); /* after the exit: allocated, never held */
	m = memacct__compute(p);
	expect(m, WANTS({a, 0, LIVE, 100}, {a, 1, LIVE, 50}, {a, 1, ALLOC_BYTES, 250},
			{a, 1, ALLOC_COUNT, 2}, {a, 2, ALLOC_BYTES, 999}, {a, 2, LIVE, 0},
			{b, 0, LIVE, 70}, {a, P, LIVE, 150}, {a, P, ALLOC_BYTES, 1349},
			{b, P, LIVE, 70}, {0, T, UNMATCHED, 0}));
	/* sorted by process, then bytes allocated */
	for (size_t i = 1; m && i < m->nsites; i++)
		CHECK(m->sites[i - 1].proc < m->sites[i].proc ||
		      (m->sites[i - 1].proc == m->sites[i].proc &&
		       m->sites[i - 1].alloc_bytes >= m->sites[i].alloc_bytes));
	memacct__free(m);
	profile__free(p);
}

static void peaks_hold_the_right_stacks_for_the_tree_and_each_process(void)
{
	struct profile *p = new_profile();
	uint32_t a, b;

	two_procs(p, &a, &b);
	alloc(p, 100, 10, 0x10, 1000, 0); /* a 1000, tree 1000 */
	alloc(p, 200, 20, 0x20, 3000, 1); /* b 3000 (b's peak), tree 4000 */
	alloc(p, 300, 10, 0x30, 500, 2);  /* a 1500, tree 4500: the tree's peak */
	mfree(p, 400, 20, 0x20);	  /* b 0, tree 1500 */
	alloc(p, 500, 10, 0x50, 2000, 0); /* a 3500 (a's peak), tree 3500 */
	alloc(p, 600, 20, 0x60, 100, 1);  /* b 100, tree 3600 */
	EXPECT(p, {0, T, PEAK, 4500}, {0, T, PEAK_TS, 300}, {a, 0, PEAK, 1000}, {a, 2, PEAK, 500},
	       {b, 1, PEAK, 3000}, {a, P, PEAK, 3500}, {a, P, PEAK_TS, 500},
	       {a, 0, PROC_PEAK, 3000}, {a, 2, PROC_PEAK, 500}, {b, P, PEAK, 3000},
	       {b, P, PEAK_TS, 200}, {b, 1, PROC_PEAK, 3000}, {a, 0, LIVE, 3000},
	       {b, 1, LIVE, 100});
	profile__free(p);
}

/* A peak reached again later is still the first one, with the stacks held then. */
static void the_first_moment_of_a_peak_counts(void)
{
	struct profile *p = new_profile();

	alloc(p, 1, 10, 0x1, 100, 0);
	mfree(p, 2, 10, 0x1);
	alloc(p, 3, 10, 0x2, 100, 1);
	EXPECT(p, {0, T, PEAK_TS, 1}, {idx(p, 10), 0, PEAK, 100}, {idx(p, 10), 1, PEAK, 0},
	       {idx(p, 10), 0, PROC_PEAK, 100}, {idx(p, 10), 1, PROC_PEAK, 0});
	profile__free(p);
}

/* The child follows the blocks it inherits so that their frees match (a free on either side
 * removes the block there only), but they are its parent's memory, shared copy-on-write:
 * neither allocated nor held by the child, so they count in neither its heap nor the tree's
 * (which is not doubled by the fork). */
static void fork_child_follows_the_parent_blocks_without_holding_them(void)
{
	struct profile *p = new_profile();
	uint32_t par, ch;

	profile__proc_start(p, 10, 1, 0, "parent", "parent", "");
	par = idx(p, 10);
	alloc(p, 1, 10, 0x1000, 100, 0);
	alloc(p, 2, 10, 0x2000, 200, 1);		  /* parent 300, tree 300: both peaks */
	CHECK_EQ_INT(profile__mem_fork(p, 3, 11, 10), 0); /* child 0, tree still 300 */
	profile__proc_start(p, 11, 10, 3, "child", "child", "");
	ch = idx(p, 11);
	mfree(p, 4, 10, 0x1000);	/* the parent's copy only: parent 200, tree 200 */
	mfree(p, 5, 11, 0x2000);	/* inherited */
	mfree(p, 6, 11, 0x1000);	/* inherited: the parent's free did not touch it */
	mfree(p, 7, 11, 0x1000);	/* gone now: unmatched */
	alloc(p, 8, 11, 0x3000, 50, 2); /* child 50 (its peak), tree 250 */
	profile__proc_exit(p, 11, 9, 0);
	EXPECT(p, {0, T, PEAK, 300}, {0, T, PEAK_TS, 2}, {par, 0, PEAK, 100}, {par, 1, PEAK, 200},
	       {ch, 0, PEAK | OPT, 0}, {ch, 1, PEAK | OPT, 0}, {ch, 2, PEAK, 0},
	       {ch, 0, ALLOC_BYTES | OPT, 0}, {ch, 1, ALLOC_BYTES | OPT, 0},
	       {ch, 2, ALLOC_BYTES, 50}, {ch, P, ALLOC_BYTES, 50}, {ch, P, INH_FREES, 2},
	       {ch, P, UNMATCHED, 1}, {ch, P, PEAK, 50}, {ch, P, PEAK_TS, 8},
	       {ch, 0, PROC_PEAK | OPT, 0}, {ch, 1, PROC_PEAK | OPT, 0}, {ch, 2, PROC_PEAK, 50},
	       {ch, P, LIVE, 50}, {ch, 2, LIVE, 50}, {ch, P, LIVE_INH, 0}, /* it freed both */
	       {par, P, PEAK, 300}, {par, P, PEAK_TS, 2},
	       {par, 1, LIVE, 200}, /* the parent still holds it */
	       {par, 0, LIVE, 0}, {par, P, LIVE, 200}, {par, P, INH_FREES, 0},
	       {0, T, UNMATCHED, 1});
	profile__free(p);
}

/* Inherited blocks a child still holds when its image ends (exit, exec, or the end of the
 * recording) are not its leaks: they count in its live_inherited_bytes, per site and per
 * process, and nowhere else; what it allocated itself is its live bytes. */
static void inherited_blocks_left_at_exit_exec_or_end_are_only_live_inherited(void)
{
	struct profile *p = new_profile();
	uint32_t par, ex, ec, al;

	alloc(p, 1, 10, 0x1000, 100, 0);
	alloc(p, 2, 10, 0x2000, 40, 1); /* tree 140 */
	CHECK_EQ_INT(profile__mem_fork(p, 3, 11, 10), 0);
	CHECK_EQ_INT(profile__mem_fork(p, 4, 12, 10), 0);
	CHECK_EQ_INT(profile__mem_fork(p, 5, 13, 10), 0);
	par = idx(p, 10);
	ex = idx(p, 11);
	ec = idx(p, 12);
	al = idx(p, 13);
	alloc(p, 6, 11, 0x3000, 7, 2); /* tree 147: its peak */
	CHECK_EQ_INT(profile__proc_exit(p, 11, 7, 0), 0);
	CHECK_EQ_INT(profile__proc_exec(p, 12, 8, "sh", "sh", "/bin/sh"), 0);
	mfree(p, 9, 12, 0x1000);  /* the new image never had it: unmatched */
	mfree(p, 10, 13, 0x2000); /* 13 lives on with 0x1000 alone */
	EXPECT(
	    p, {0, T, PEAK, 147}, {0, T, PEAK_TS, 6},
	    /* exited */
	    {ex, 0, LIVE_INH, 100}, {ex, 1, LIVE_INH, 40}, {ex, 0, LIVE, 0}, {ex, 1, LIVE, 0},
	    {ex, 2, LIVE, 7}, {ex, 2, LIVE_INH, 0}, {ex, P, LIVE, 7}, {ex, P, LIVE_INH, 140},
	    {ex, P, PEAK, 7}, {ex, 2, PEAK, 7}, {ex, 0, PEAK, 0},
	    /* exec'd */
	    {ec, 0, LIVE_INH, 100}, {ec, 1, LIVE_INH, 40}, {ec, 0, LIVE, 0}, {ec, P, LIVE, 0},
	    {ec, P, LIVE_INH, 140}, {ec, P, UNMATCHED, 1}, {ec, P, INH_FREES, 0}, {ec, P, PEAK, 0},
	    /* alive at the end */
	    {al, 0, LIVE_INH, 100}, {al, 1, LIVE_INH | OPT, 0}, {al, 0, LIVE, 0}, {al, P, LIVE, 0},
	    {al, P, LIVE_INH, 100}, {al, P, INH_FREES, 1}, {al, P, PEAK, 0},
	    /* the parent's own */
	    {par, 0, LIVE, 100}, {par, 1, LIVE, 40}, {par, 0, LIVE_INH, 0}, {par, P, LIVE, 140},
	    {par, P, LIVE_INH, 0}, {par, 0, PEAK, 100}, {par, 1, PEAK, 40}, {0, T, UNMATCHED, 1});
	profile__free(p);
}

/* The tracer reads two ring buffers, so an exit can be read before frees that happened
 * before it: the events are replayed by time, and those frees still match. Among events at
 * the same time, the order they were read in stands. */
static void an_exit_read_before_earlier_frees_does_not_leak_their_blocks(void)
{
	struct profile *p = new_profile();
	uint32_t a, b;

	two_procs(p, &a, &b);
	alloc(p, 1, 10, 0x1000, 100, 0);
	alloc(p, 2, 10, 0x2000, 30, 1); /* a 130: its peak */
	alloc(p, 2, 20, 0x1000, 70, 2); /* tree 200: its peak */
	CHECK_EQ_INT(profile__proc_exit(p, 10, 5, 0), 0);
	CHECK_EQ_INT(profile__proc_exit(p, 20, 4, 0), 0);
	mfree(p, 3, 10, 0x1000); /* before a's exit: matched, so not a leak */
	mfree(p, 6, 10, 0x2000); /* after it: too late, 0x2000 is a leak */
	mfree(p, 4, 20, 0x1000); /* at b's exit, read after it: after it */
	EXPECT(p, {a, 0, LIVE, 0}, {a, 1, LIVE, 30}, {a, P, LIVE, 30}, {a, P, UNMATCHED, 0},
	       {a, P, PEAK, 130}, {a, P, PEAK_TS, 2}, {b, 2, LIVE, 70}, {b, P, LIVE, 70},
	       {b, P, UNMATCHED, 0}, {0, T, PEAK, 200}, {0, T, PEAK_TS, 2}, {0, T, UNMATCHED, 0});
	profile__free(p);
}

static void realloc_is_a_free_and_an_alloc(void)
{
	struct profile *p = new_profile();
	uint32_t a = one_block(p);

	/* realloc(0x1000, 300) moved to 0x2000 */
	mfree(p, 2, 10, 0x1000);
	CHECK_EQ_INT(profile__mem_alloc(p, 2, 10, 10, TP_MEM_REALLOC, 0x2000, 300, 1, st[1]), 0);
	/* realloc(0x2000, 40) in place */
	mfree(p, 3, 10, 0x2000);
	CHECK_EQ_INT(profile__mem_alloc(p, 3, 10, 10, TP_MEM_REALLOC, 0x2000, 40, 1, st[2]), 0);
	/* a second allocation at a live address replaces the block (its free was missed) */
	alloc(p, 4, 10, 0x2000, 10, 3);
	EXPECT(p, {a, P, ALLOC_BYTES, 450}, {a, P, ALLOC_COUNT, 4}, {a, P, PEAK, 300},
	       {a, P, LIVE, 10}, {a, 1, PROC_PEAK, 300}, {a, 0, PROC_PEAK, 0}, {a, 2, LIVE, 0},
	       {a, 3, LIVE, 10}, {0, T, UNMATCHED, 0});
	profile__free(p);
}

static void exec_ends_the_image(void)
{
	struct profile *p = new_profile();
	uint32_t a = one_block(p);

	CHECK_EQ_INT(profile__proc_exec(p, 10, 2, "sh", "sh", "/bin/sh"), 0);
	mfree(p, 3, 10, 0x1000); /* the old image's block is gone */
	alloc(p, 4, 10, 0x1000, 50, 1);
	EXPECT(p, {a, 0, LIVE, 100}, {a, 1, LIVE, 50}, {a, P, UNMATCHED, 1}, {a, P, PEAK, 100});
	profile__free(p);
}

static void unmatched_frees_are_counted_not_fatal(void)
{
	struct profile *p = new_profile();

	mfree(p, 1, 10, 0xdead);
	CHECK_EQ_INT(profile__mem_free(p, 2, 10, TP_MEM_MUNMAP, 0xbeef), 0);
	alloc(p, 3, 10, 0x1000, 8, 0);
	EXPECT(p, {0, T, UNMATCHED, 2}, {idx(p, 10), P, UNMATCHED, 2}, {0, T, PEAK, 8});
	profile__free(p);
}

static void sampled_allocations_are_weighted(void)
{
	struct profile *p = new_profile();
	struct memacct *m;
	const struct mem_site *s;

	CHECK_EQ_INT(profile__mem_alloc(p, 1, 10, 10, TP_MEM_MALLOC, 0x1000, 4096, 524288, st[0]),
		     0);
	CHECK_EQ_INT(
	    profile__mem_alloc(p, 2, 10, 10, TP_MEM_MALLOC, 0x2000, 1 << 20, 524288, st[0]), 0);
	m = memacct__compute(p);
	CHECK(m != NULL);
	s = m ? site(m, idx(p, 10), 0) : NULL;
	CHECK(s != NULL);
	if (s) {
		/* 526338.67 + 1212696.64, each rounded to whole bytes */
		CHECK_EQ_INT(s->alloc_bytes, 526339 + 1212697);
		CHECK(near(s->alloc_count, 128.5006510410044 + 1.1565176427496657));
		CHECK_EQ_INT(s->live_bytes, 526339 + 1212697);
	}
	memacct__free(m);
	profile__free(p);
}

static void series_has_the_heap_at_each_bucket_end_and_the_last_rss(void)
{
	/* the points: ms after the first event, pid, heap, RSS (-1: not checked) */
	static const struct {
		uint64_t ms;
		pid_t pid;
		long long heap, rss;
	} points[] = {{0, 10, 100, 3 << 20},
		      {100, 20, 10, 0},
		      {200, 10, 100, 2 << 20},
		      {200, 20, 15, -1},
		      {900, 10, 101, -1}};
	struct profile *p = new_profile();
	uint64_t t0 = 1000 * MS;
	struct memacct *m;
	uint32_t a, b;

	two_procs(p, &a, &b);
	alloc(p, t0, 10, 0x1, 100, 0);
	alloc(p, t0 + 50 * MS, 10, 0x2, 200, 0);
	CHECK_EQ_INT(profile__mem_rss(p, t0 + 60 * MS, 10, 1 << 20), 0);
	CHECK_EQ_INT(profile__mem_rss(p, t0 + 70 * MS, 10, 3 << 20), 0);
	alloc(p, t0 + 150 * MS, 20, 0x1, 10, 1);
	alloc(p, t0 + 260 * MS, 20, 0x2, 5, 1); /* b first in its bucket: a still listed first */
	mfree(p, t0 + 90 * MS, 10, 0x2);	/* read late: in its own bucket, by its time */
	CHECK_EQ_INT(profile__mem_rss(p, t0 + 280 * MS, 10, 2 << 20), 0);
	alloc(p, t0 + 900 * MS, 10, 0x3, 1, 0);
	m = memacct__compute(p);
	expect(m,
	       WANTS({a, P, RSS_PEAK, 3 << 20}, {a, P, PEAK, 300}, {a, P, PEAK_TS, t0 + 50 * MS}));
	CHECK_EQ_INT(m ? m->npoints : 0, 5);
	for (size_t i = 0; m && m->npoints == 5 && i < 5; i++) {
		const struct mem_point *pt = &m->series[i];

		CHECK(pt->ts_ns == t0 + points[i].ms * MS &&
		      pt->proc == (points[i].pid == 10 ? a : b));
		CHECK_EQ_INT(pt->heap_bytes, points[i].heap);
		if (points[i].rss >= 0)
			CHECK_EQ_INT(pt->rss_bytes, points[i].rss);
	}
	memacct__free(m);
	profile__free(p);
}

/* A plain model of the same rules, quadratic and obviously right, for random sequences.
 * The events are made by time on two streams, as the tracer reads them from two ring
 * buffers: memory events (alloc, free, RSS) and process events (fork, exec, exit). The
 * profile gets a random interleaving of the two, so that an exit is often read before frees
 * that happened before it; the model sorts what it was given back by time (the order read
 * among equal times: two events share each timestamp) and replays that. */
#define RP	6  /* pids 10..15 */
#define RADDR	40 /* addresses 0..39 */
#define RB	(RP * RADDR)
#define REV	600
#define RT0	(1000 * MS)
#define RSTEP	(7 * MS)
#define RBUCKET (100 * MS)

enum { R_ALLOC, R_FREE, R_RSS, R_FORK, R_EXEC, R_EXIT };

struct ref_ev {
	int type, q, parent, stack; /* q: the process (a fork's child) */
	uint64_t ts, addr, size;    /* size: bytes allocated, or RSS */
};

struct ref_block {
	int proc, stack;
	uint64_t addr, w;
	bool inherited;
};

struct ref_point {
	uint64_t ts, heap, rss;
	int q;
};

struct ref {
	struct ref_block b[RB];
	int nb;
	bool dead[RP];
	uint64_t alloc[RP][4], live[RP][4], live_inh[RP][4], peak[RP][4], ppeak[RP][4];
	uint64_t held_peak[RP], peak_ts[RP], rss_peak[RP], unmatched[RP], inh_frees[RP];
	uint64_t tree_peak, tree_peak_ts;
	/* the series: the current bucket, the processes with an event in it, their last RSS */
	uint64_t t0, bucket, bucket_rss[RP];
	bool touched[RP];
	struct ref_point pts[REV];
	int npts;
};

/* What proc holds at stack (-1: any): the blocks it did not inherit. */
static uint64_t ref_held(const struct ref *r, int proc, int stack)
{
	uint64_t sum = 0;

	for (int i = 0; i < r->nb; i++)
		if (!r->b[i].inherited && (proc < 0 || r->b[i].proc == proc) &&
		    (stack < 0 || r->b[i].stack == stack))
			sum += r->b[i].w;
	return sum;
}

static int ref_find(const struct ref *r, int proc, uint64_t addr)
{
	for (int i = 0; i < r->nb; i++)
		if (r->b[i].proc == proc && r->b[i].addr == addr)
			return i;
	return -1;
}

static void ref_drop(struct ref *r, int i)
{
	r->b[i] = r->b[--r->nb];
}

/* b replaces the block of its process at its address, if any. */
static void ref_put(struct ref *r, struct ref_block b)
{
	int i = ref_find(r, b.proc, b.addr);

	if (i >= 0)
		ref_drop(r, i);
	r->b[r->nb++] = b;
}

static void ref_end_image(struct ref *r, int q)
{
	for (int i = r->nb; i-- > 0;) {
		if (r->b[i].proc != q)
			continue;
		if (r->b[i].inherited)
			r->live_inh[q][r->b[i].stack] += r->b[i].w;
		else
			r->live[q][r->b[i].stack] += r->b[i].w;
		ref_drop(r, i);
	}
}

/* q starts with a copy of each block of its parent, inherited. */
static void ref_fork(struct ref *r, int q, int parent)
{
	struct ref_block copy[RB];
	int n = 0;

	for (int i = 0; i < r->nb; i++)
		if (r->b[i].proc == parent)
			copy[n++] = r->b[i];
	for (int i = 0; i < n; i++) {
		copy[i].proc = q;
		copy[i].inherited = true;
		ref_put(r, copy[i]);
	}
}

static void ref_apply(struct ref *r, const struct ref_ev *e)
{
	int q = e->q, i;

	switch (e->type) {
	case R_ALLOC:
		r->alloc[q][e->stack] += e->size;
		if (!r->dead[q])
			ref_put(r, (struct ref_block){q, e->stack, e->addr, e->size, false});
		break;
	case R_FREE:
		if (r->dead[q])
			break;
		i = ref_find(r, q, e->addr);
		if (i < 0) {
			r->unmatched[q]++;
			break;
		}
		r->inh_frees[q] += r->b[i].inherited;
		ref_drop(r, i);
		break;
	case R_RSS:
		r->rss_peak[q] = e->size > r->rss_peak[q] ? e->size : r->rss_peak[q];
		r->bucket_rss[q] = e->size;
		break;
	case R_FORK:
		if (!r->dead[q])
			ref_fork(r, q, e->parent);
		break;
	case R_EXEC: /* an exit ends the image too, and the process */
	case R_EXIT:
		ref_end_image(r, q);
		r->dead[q] = r->dead[q] || e->type == R_EXIT;
		break;
	}
}

/* After an event at ts: the first moments of the tree's and each process's largest heap. */
static void ref_after(struct ref *r, uint64_t ts)
{
	uint64_t tree = ref_held(r, -1, -1);

	if (tree > r->tree_peak) {
		r->tree_peak = tree;
		r->tree_peak_ts = ts;
		for (int q = 0; q < RP; q++)
			for (int s = 0; s < 4; s++)
				r->peak[q][s] = ref_held(r, q, s);
	}
	for (int q = 0; q < RP; q++) {
		uint64_t h = ref_held(r, q, -1);

		if (h > r->held_peak[q]) {
			r->held_peak[q] = h;
			r->peak_ts[q] = ts;
			for (int s = 0; s < 4; s++)
				r->ppeak[q][s] = ref_held(r, q, s);
		}
	}
}

static void ref_flush(struct ref *r)
{
	for (int q = 0; q < RP; q++) {
		if (!r->touched[q])
			continue;
		r->pts[r->npts++] = (struct ref_point){r->t0 + r->bucket * RBUCKET,
						       ref_held(r, q, -1), r->bucket_rss[q], q};
		r->touched[q] = false;
		r->bucket_rss[q] = 0;
	}
}

/* Replay the events in the order given, then end what the live processes hold. */
static void ref_replay(struct ref *r, const struct ref_ev *v, int n)
{
	for (int k = 0; k < n; k++) {
		uint64_t bucket;

		if (!k)
			r->t0 = v[k].ts;
		bucket = (v[k].ts - r->t0) / RBUCKET;
		if (bucket != r->bucket) {
			ref_flush(r);
			r->bucket = bucket;
		}
		r->touched[v[k].q] = true;
		ref_apply(r, &v[k]);
		ref_after(r, v[k].ts);
	}
	ref_flush(r);
	for (int q = 0; q < RP; q++)
		ref_end_image(r, q);
}

/* Sort by time, keeping the given order among equal times (insertion sort: stable). */
static void ref_by_time(struct ref_ev *v, int n)
{
	for (int i = 1; i < n; i++) {
		struct ref_ev e = v[i];
		int j = i;

		for (; j > 0 && v[j - 1].ts > e.ts; j--)
			v[j] = v[j - 1];
		v[j] = e;
	}
}

/* REV events by time, split by stream; the first is an allocation. Process q allocates from
 * stacks q % 4 and (q + 1) % 4. */
static void ref_generate(struct ref_ev *mem, int *nmem, struct ref_ev *proc, int *nproc)
{
	bool dead[RP] = {0};

	*nmem = *nproc = 0;
	for (int e = 0; e < REV; e++) {
		int op = e ? (int)(unit_rand() % 100) : 0;
		struct ref_ev v = {
		    .ts = RT0 + (uint64_t)(e / 2) * RSTEP,
		    .q = unit_rand() % RP,
		    .stack = unit_rand() % 2,
		    .addr = unit_rand() % RADDR,
		    .size = 1 + unit_rand() % 1000,
		};

		if (op < 50) {
			/* two stacks per process: a child often inherits blocks of stacks it
			 * never allocates from itself */
			v.type = R_ALLOC;
			v.stack = (v.q + v.stack) % 4;
		} else if (op < 82) {
			v.type = R_FREE;
		} else if (op < 85) {
			v.type = R_RSS;
			v.size <<= 20;
		} else if (op < 93) {
			v.type = R_FORK;
			v.parent = unit_rand() % RP;
			/* a fork into an exited pid would make a new process */
			if (v.parent == v.q || dead[v.q])
				continue;
		} else {
			v.type = op < 97 ? R_EXEC : R_EXIT;
			if (dead[v.q]) /* an exec or exit after the exit would be a new process */
				continue;
			dead[v.q] = v.type == R_EXIT;
		}
		if (v.type <= R_RSS)
			mem[(*nmem)++] = v;
		else
			proc[(*nproc)++] = v;
	}
}

static void ref_feed(struct profile *p, const struct ref_ev *e)
{
	pid_t pid = 10 + e->q;

	switch (e->type) {
	case R_ALLOC:
		alloc(p, e->ts, pid, e->addr, e->size, e->stack);
		break;
	case R_FREE:
		mfree(p, e->ts, pid, e->addr);
		break;
	case R_RSS:
		CHECK_EQ_INT(profile__mem_rss(p, e->ts, pid, e->size), 0);
		break;
	case R_FORK:
		CHECK_EQ_INT(profile__mem_fork(p, e->ts, pid, 10 + e->parent), 0);
		break;
	case R_EXEC:
		CHECK_EQ_INT(profile__proc_exec(p, pid, e->ts, "x", "x", ""), 0);
		break;
	case R_EXIT:
		CHECK_EQ_INT(profile__proc_exit(p, pid, e->ts, 0), 0);
		break;
	}
}

static int ndiff;

static void expect_eq(const char *what, int q, int s, uint64_t want, double saw)
{
	if ((double)want == saw)
		return;
	if (!ndiff++)
		fprintf(stderr, "  pid %d stack %d: %s: expected %llu, saw %.0f\n", 10 + q, s, what,
			(unsigned long long)want, saw);
}

static void compare(const struct ref *r, const struct memacct *m, const uint32_t *ix)
{
	static const struct mem_proc no_proc;
	static const struct mem_site no_site;

	expect_eq("tree peak", -10, -1, r->tree_peak, m->tree_peak_bytes);
	expect_eq("tree peak time", -10, -1, r->tree_peak_ts, (double)m->tree_peak_ts);
	for (int q = 0; q < RP; q++) {
		const struct mem_proc *mp = mproc(m, ix[q]) ? mproc(m, ix[q]) : &no_proc;
		uint64_t alloc = 0, live = 0, live_inh = 0;

		for (int s = 0; s < 4; s++) {
			const struct mem_site *ms =
			    site(m, ix[q], s) ? site(m, ix[q], s) : &no_site;

			expect_eq("alloc_bytes", q, s, r->alloc[q][s], ms->alloc_bytes);
			expect_eq("live_bytes", q, s, r->live[q][s], ms->live_bytes);
			expect_eq("live_inherited_bytes", q, s, r->live_inh[q][s],
				  ms->live_inherited_bytes);
			expect_eq("peak_bytes", q, s, r->peak[q][s], ms->peak_bytes);
			expect_eq("proc_peak_bytes", q, s, r->ppeak[q][s], ms->proc_peak_bytes);
			alloc += r->alloc[q][s];
			live += r->live[q][s];
			live_inh += r->live_inh[q][s];
		}
		expect_eq("process alloc_bytes", q, -1, alloc, mp->alloc_bytes);
		expect_eq("process live_bytes", q, -1, live, mp->live_bytes);
		expect_eq("process live_inherited_bytes", q, -1, live_inh,
			  mp->live_inherited_bytes);
		expect_eq("process peak_bytes", q, -1, r->held_peak[q], mp->peak_bytes);
		expect_eq("process peak time", q, -1, r->peak_ts[q], (double)mp->peak_ts);
		expect_eq("process rss_peak", q, -1, r->rss_peak[q], (double)mp->rss_peak);
		expect_eq("unmatched_frees", q, -1, r->unmatched[q], (double)mp->unmatched_frees);
		expect_eq("inherited_frees", q, -1, r->inh_frees[q], (double)mp->inherited_frees);
	}
	for (size_t i = 0; i < m->nsites; i++) {
		int known = 0;

		for (int q = 0; q < RP; q++)
			for (int s = 0; s < 4; s++)
				known += m->sites[i].proc == ix[q] && m->sites[i].stack == st[s];
		expect_eq("a site of a known process and stack", -10, -1, 1, known);
	}
	expect_eq("series points", -10, -1, r->npts, (double)m->npoints);
	for (int k = 0; k < r->npts && k < (int)m->npoints; k++) {
		const struct mem_point *pt = &m->series[k];

		expect_eq("point time", r->pts[k].q, k, r->pts[k].ts, (double)pt->ts_ns);
		expect_eq("point process", r->pts[k].q, k, ix[r->pts[k].q], pt->proc);
		expect_eq("point heap", r->pts[k].q, k, r->pts[k].heap, pt->heap_bytes);
		expect_eq("point rss", r->pts[k].q, k, r->pts[k].rss, (double)pt->rss_bytes);
	}
}

static void random_sequences_read_out_of_time_order_match_a_plain_model(void)
{
	static struct ref r;
	static struct ref_ev mem[REV], proc[REV], read[REV];
	int early_frees = 0;

	for (int round = 0; round < 40; round++) {
		struct profile *p = new_profile();
		uint64_t exit_read[RP];
		int nmem, nproc, a = 0, b = 0, n = 0;
		struct memacct *m;
		uint32_t ix[RP];

		memset(&r, 0, sizeof(r));
		for (int q = 0; q < RP; q++) {
			profile__proc_start(p, 10 + q, 1, 0, "x", "x", "");
			ix[q] = idx(p, 10 + q);
			CHECK(!q || ix[q] > ix[q - 1]); /* the series lists processes by index */
			exit_read[q] = UINT64_MAX;
		}
		ref_generate(mem, &nmem, proc, &nproc);
		/* a random interleaving, the first memory event first (before it, the profile
		 * keeps no exec or exit record) */
		while (a < nmem || b < nproc) {
			uint64_t left = (uint64_t)(nmem - a + nproc - b);
			bool from_mem =
			    b == nproc ||
			    (a < nmem && (!n || unit_rand() % left < (uint64_t)(nmem - a)));
			const struct ref_ev *e = from_mem ? &mem[a++] : &proc[b++];

			if (e->type == R_EXIT)
				exit_read[e->q] = e->ts;
			early_frees += e->type == R_FREE && e->ts < exit_read[e->q];
			ref_feed(p, e);
			read[n++] = *e;
		}
		CHECK_EQ_INT(profile__nprocs(p), RP);
		ref_by_time(read, n);
		ref_replay(&r, read, n);
		m = memacct__compute(p);
		CHECK(m != NULL);
		ndiff = 0;
		if (m)
			compare(&r, m, ix);
		if (ndiff) {
			fprintf(stderr, "  round %d: %d differences from the model\n", round,
				ndiff);
			unit_failed_checks++;
		}
		memacct__free(m);
		profile__free(p);
	}
	/* the case this is about happened often: frees read after a later exit */
	CHECK(early_frees >= 400);
}

/* A million events: linear, not quadratic (a few hundred ms here). */
static void a_million_events_compute_fast(void)
{
	size_t n = UNIT_SANITIZED ? 200000 : 1000000;
	struct profile *p = new_profile();
	struct timespec t0, t1;
	struct memacct *m;
	double secs;

	for (size_t i = 0; i < n; i++) {
		pid_t pid = 100 + unit_rand() % 20;
		uint64_t addr = (unit_rand() % 50000) * 16;

		if (unit_rand() % 3)
			alloc(p, i * 1000, pid, addr, 1 + unit_rand() % 4096, unit_rand() % 4);
		else
			mfree(p, i * 1000, pid, addr);
		if (i % 100000 == 99999)
			CHECK_EQ_INT(profile__mem_fork(p, i * 1000, 200 + i / 100000, pid), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = memacct__compute(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  %zu events: %.3f s\n", n, secs);
	CHECK(m != NULL);
	CHECK(secs < (UNIT_SANITIZED ? 20 : 5));
	if (m) {
		double sum = 0;

		for (size_t i = 0; i < m->nsites; i++)
			sum += m->sites[i].peak_bytes;
		CHECK(sum == m->tree_peak_bytes);
	}
	memacct__free(m);
	profile__free(p);
}

UNIT_MAIN("memacct", UNIT_TEST(weights_follow_the_formula), UNIT_TEST(metrics_parse_and_name),
	  UNIT_TEST(profile_keeps_memory_events_in_order),
	  UNIT_TEST(no_memory_events_compute_to_null),
	  UNIT_TEST(leaks_are_what_a_process_holds_at_exit_or_at_the_end),
	  UNIT_TEST(peaks_hold_the_right_stacks_for_the_tree_and_each_process),
	  UNIT_TEST(the_first_moment_of_a_peak_counts),
	  UNIT_TEST(fork_child_follows_the_parent_blocks_without_holding_them),
	  UNIT_TEST(inherited_blocks_left_at_exit_exec_or_end_are_only_live_inherited),
	  UNIT_TEST(an_exit_read_before_earlier_frees_does_not_leak_their_blocks),
	  UNIT_TEST(realloc_is_a_free_and_an_alloc), UNIT_TEST(exec_ends_the_image),
	  UNIT_TEST(unmatched_frees_are_counted_not_fatal),
	  UNIT_TEST(sampled_allocations_are_weighted),
	  UNIT_TEST(series_has_the_heap_at_each_bucket_end_and_the_last_rss),
	  UNIT_TEST(random_sequences_read_out_of_time_order_match_a_plain_model),
	  UNIT_TEST(a_million_events_compute_fast))
