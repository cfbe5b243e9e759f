// SPDX-License-Identifier: GPL-2.0
/* Memory accounting of a recording (contract in memacct.h).
 *
 * The events are replayed in time order (stable: arrival order among equal times). Each process has
 * a hash table of the sampled blocks it holds (address -> site, weight); a site is one (process,
 * stack) pair with its totals. Weights are rounded to whole bytes when a block is made, so
 * what a process holds is an exact integer sum and peaks do not depend on rounding drift.
 *
 * Peaks take two passes: the first accounts everything and finds at which event the tree
 * and each process held the most; the second replays the blocks alone and, right after
 * those events, copies what each site holds (every site for the tree's peak, the sites of
 * that process for its own peak). Both passes are linear in the events, plus a fork's copy
 * of its parent's blocks.
 *
 * Mappings are also found by address range: each process keeps the starts of its mapping
 * blocks sorted, so that a range free cuts exactly the blocks it overlaps (a cut block keeps
 * its site; its pieces share its weight in proportion to their bytes).
 *
 * The rules (forks, exec and exit, replaced and unmatched blocks, ranges) are stated in
 * memacct.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/freeall.h"
#include "lib/hash.h"
#include "lib/vec.h"
#include "profile/memacct.h"
#include "profile/profile.h"

#define BUCKET_NS  100000000ULL /* the time series' step: 100 ms */
#define MAX_WEIGHT (1ULL << 50) /* one block weighs at most 1 PiB: sums stay exact */
#define NONE	   UINT32_MAX

/* A held block, in its process's table under key addr + 1 (see block_key). */
struct block {
	uint64_t weight; /* bytes */
	uint64_t len;	 /* a mapping (TP_MEM_MMAP, TP_MEM_MREMAP): the bytes it spans; else 0 */
	uint32_t site;
	bool inherited; /* copied from the parent at fork */
};

struct site_acc {
	uint32_t proc, stack;
	uint32_t next; /* the next site of the same process, or NONE */
	double alloc_count;
	uint64_t alloc_bytes, cur, live, live_inh, peak, proc_peak;
};

struct pstate {
	struct htab t;	/* value: struct block */
	uint64_t *maps; /* the start of every mapping block held, ascending (they are disjoint) */
	size_t nmaps, maps_cap;
	uint64_t held, peak, peak_ts;
	size_t peak_ev;
	uint32_t first_site;
	bool active, dead, dirty;
	bool final;	     /* the image entered Py_FinalizeEx: its teardown is not followed */
	uint64_t final_ts;   /* when it last did (0: never) */
	uint64_t bucket_rss; /* the last RSS of the current bucket, 0 if none */
	double alloc_count;
	uint64_t alloc_bytes, live, live_inh, rss_peak, inherited_frees, unmatched;
};

struct mp {
	const struct profile *p;
	struct pstate *ps;
	uint32_t nprocs;
	struct site_acc *sites;
	uint32_t nsites, sites_cap;
	struct htab site_tab; /* value: uint32_t site index, by site_key */
	bool first;	      /* pass 1: accounting; pass 2: block state and snapshots only */
	uint64_t tree_held, tree_peak, tree_peak_ts;
	size_t tree_peak_ev;
	/* series (pass 1) */
	uint64_t t0, now, bucket;
	bool started;
	uint32_t *dirty;
	uint32_t ndirty;
	struct mem_point *series;
	size_t npoints, series_cap;
	uint64_t unmatched;
	size_t *order; /* event indexes in time order (the arrival order of two ring buffers
			* is not: an exit can be read before the frees that preceded it) */
	int err;
};

/* 1 - e^-x for x >= 0, without libm (the build does not link it): a series where it has
 * no cancellation, else e^-x as e^-n e^-f with f in [0, 1). Good to a few ulps. */
static double one_minus_exp_neg(double x)
{
	double term = 1, sum = 0, en = 1, ef = 0;
	int n;

	if (!(x > 0))
		return 0;
	if (x > 50)
		return 1;
	if (x < 1) {
		for (int k = 1; k < 30 && term != 0; k++) {
			term *= x / k;
			sum += k & 1 ? term : -term;
		}
		return sum;
	}
	n = (int)x;
	for (int k = 0; k < n; k++)
		en *= 0.36787944117144233; /* e^-1 */
	x -= n;
	for (int k = 0; k < 30 && term != 0; k++) {
		ef += k & 1 ? -term : term;
		term *= x / (k + 1);
	}
	return 1 - en * ef;
}

double memacct__weight(uint64_t size, uint64_t rate)
{
	if (rate <= 1 || !size)
		return (double)size;
	return (double)size / one_minus_exp_neg((double)size / (double)rate);
}

uint64_t memacct__round(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 18446744073709549568.0) /* the largest double below 2^64 */
		return UINT64_MAX;
	return (uint64_t)(v + 0.5);
}

static const char *const metric_names[] = {"cpu", "alloc_bytes", "alloc_count", "live_bytes",
					   "peak_bytes"};
#define NMETRICS (int)(sizeof(metric_names) / sizeof(metric_names[0]))

int metric__parse(const char *name)
{
	if (!name)
		return METRIC_CPU;
	for (int i = 0; i < NMETRICS; i++)
		if (!strcmp(name, metric_names[i]))
			return i;
	return -1;
}

const char *metric__name(int metric)
{
	return metric >= 0 && metric < NMETRICS ? metric_names[metric] : "?";
}

const char *metric__unit(int metric)
{
	switch (metric) {
	case METRIC_CPU:
		return "samples";
	case METRIC_ALLOC_COUNT:
		return "allocations";
	default:
		return "bytes";
	}
}

/* ---- a process's blocks ---- */

/* The table key of a block at addr. A block at the last address of all, which no allocator
 * returns (it is not aligned), would have key 0, which no table holds: it is not tracked. */
static uint64_t block_key(uint64_t addr)
{
	return addr + 1;
}

/* ---- sites ---- */

/* Never 0: proc is below UINT32_MAX. */
static uint64_t site_key(uint32_t proc, uint32_t stack)
{
	return ((uint64_t)proc + 1) << 32 | stack;
}

/* The site of (proc, stack), made in pass 1 when new; NONE when out of memory. */
static uint32_t site_get(struct mp *m, uint32_t proc, uint32_t stack)
{
	uint64_t key = site_key(proc, stack);
	uint32_t *v = htab__get(&m->site_tab, key);

	if (v)
		return *v;
	if (m->nsites == NONE - 1 ||
	    vec__grow32((void **)&m->sites, &m->sites_cap, (size_t)m->nsites + 1,
			sizeof(*m->sites)) ||
	    !(v = htab__put(&m->site_tab, key, NULL))) {
		m->err = -ENOMEM;
		return NONE;
	}
	m->sites[m->nsites] =
	    (struct site_acc){.proc = proc, .stack = stack, .next = m->ps[proc].first_site};
	m->ps[proc].first_site = m->nsites;
	*v = m->nsites++;
	return *v;
}

/* ---- replay ---- */

static void mark_dirty(struct mp *m, uint32_t proc)
{
	if (!m->first || m->ps[proc].dirty)
		return;
	m->ps[proc].dirty = true;
	m->dirty[m->ndirty++] = proc;
}

static int by_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* One point per process touched in the current bucket: what it holds at the bucket's end. */
static void flush_bucket(struct mp *m)
{
	if (!m->ndirty)
		return;
	if (m->npoints + m->ndirty > m->series_cap) {
		size_t ncap = m->series_cap ? m->series_cap : 256;
		struct mem_point *ns;

		while (ncap < m->npoints + m->ndirty)
			ncap *= 2;
		ns = reallocarray(m->series, ncap, sizeof(*ns));
		if (!ns) {
			m->err = -ENOMEM;
			return;
		}
		m->series = ns;
		m->series_cap = ncap;
	}
	qsort(m->dirty, m->ndirty, sizeof(*m->dirty), by_u32);
	for (uint32_t i = 0; i < m->ndirty; i++) {
		struct pstate *ps = &m->ps[m->dirty[i]];

		m->series[m->npoints++] = (struct mem_point){
		    .ts_ns = m->t0 + m->bucket * BUCKET_NS,
		    .proc = m->dirty[i],
		    .heap_bytes = (double)ps->held,
		    .rss_bytes = ps->bucket_rss,
		};
		ps->dirty = false;
		ps->bucket_rss = 0;
	}
	m->ndirty = 0;
}

static void hold(struct mp *m, uint32_t proc, uint32_t site, uint64_t w)
{
	m->ps[proc].held += w;
	m->sites[site].cur += w;
	m->tree_held += w;
}

/* Blocks copied from the parent at fork are followed so that their frees match, but they
 * are the parent's memory (shared copy-on-write until written): they count in neither the
 * child's heap, the tree's peak, nor the child's leaks (live_inherited_bytes shows them). */
static void release(struct mp *m, uint32_t proc, const struct block *b)
{
	if (b->inherited)
		return;
	m->ps[proc].held -= b->weight;
	m->sites[b->site].cur -= b->weight;
	m->tree_held -= b->weight;
}

/* ---- a process's mapping blocks, by address ---- */

/* Index of the first mapping start at or after addr. */
static size_t maps_index(const struct pstate *ps, uint64_t addr)
{
	size_t lo = 0, hi = ps->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ps->maps[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void maps_add(struct mp *m, struct pstate *ps, uint64_t addr)
{
	size_t i = maps_index(ps, addr);

	if (i < ps->nmaps && ps->maps[i] == addr)
		return;
	if (vec__grow((void **)&ps->maps, &ps->maps_cap, ps->nmaps + 1, sizeof(*ps->maps))) {
		m->err = -ENOMEM;
		return;
	}
	memmove(&ps->maps[i + 1], &ps->maps[i], (ps->nmaps - i) * sizeof(*ps->maps));
	ps->maps[i] = addr;
	ps->nmaps++;
}

static void maps_del(struct pstate *ps, uint64_t addr)
{
	size_t i = maps_index(ps, addr);

	if (i == ps->nmaps || ps->maps[i] != addr)
		return;
	memmove(&ps->maps[i], &ps->maps[i + 1], (ps->nmaps - i - 1) * sizeof(*ps->maps));
	ps->nmaps--;
}

/* Put a block in proc's table, replacing one at the same address (its free was missed). */
static void put_block(struct mp *m, uint32_t proc, uint64_t key, const struct block *b)
{
	struct block *slot;
	int created;

	if (!key)
		return;
	slot = htab__put(&m->ps[proc].t, key, &created);
	if (!slot) {
		m->err = -ENOMEM;
		return;
	}
	if (!created)
		release(m, proc, slot);
	*slot = *b;
	if (!b->inherited)
		hold(m, proc, b->site, b->weight);
	if (b->len)
		maps_add(m, &m->ps[proc], key - 1);
}

/* Take the block b (in proc's table) away: no longer held. */
static void drop_block(struct mp *m, uint32_t proc, struct block *b, uint64_t addr)
{
	struct pstate *ps = &m->ps[proc];

	if (b->len)
		maps_del(ps, addr);
	release(m, proc, b);
	htab__del_val(&ps->t, b);
}

/* round(w * part / whole), part < whole. */
static uint64_t share(uint64_t w, uint64_t part, uint64_t whole)
{
	return memacct__round((double)w * ((double)part / (double)whole));
}

/* The mapping block at addr loses what of it lies in [lo, hi): what is left on either side
 * stays, with the same site and its share of the weight. */
static void cut_block(struct mp *m, uint32_t proc, struct block *bp, uint64_t addr, uint64_t lo,
		      uint64_t hi)
{
	struct block b = *bp, left = b, right = b;
	uint64_t end = addr + b.len;

	left.len = lo > addr ? lo - addr : 0;
	right.len = end > hi ? end - hi : 0;
	left.weight = left.len ? share(b.weight, left.len, b.len) : 0;
	right.weight = right.len ? share(b.weight, right.len, b.len) : 0;
	if (right.weight > b.weight - left.weight)
		right.weight = b.weight - left.weight;
	if (m->first && b.inherited)
		m->ps[proc].inherited_frees++;
	drop_block(m, proc, bp, addr);
	if (left.len)
		put_block(m, proc, block_key(addr), &left);
	if (right.len)
		put_block(m, proc, block_key(hi), &right);
}

/* The bytes [lo, hi) of proc's mappings went: cut every mapping block there. */
static void free_range(struct mp *m, uint32_t proc, uint64_t lo, uint64_t hi)
{
	struct pstate *ps = &m->ps[proc];
	size_t i = maps_index(ps, lo);

	if (i > 0) {
		const struct block *prev = htab__get(&ps->t, block_key(ps->maps[i - 1]));

		if (prev && ps->maps[i - 1] + prev->len > lo)
			i--;
	}
	while (!m->err && i < ps->nmaps && ps->maps[i] < hi) {
		uint64_t addr = ps->maps[i];
		struct block *b = htab__get(&ps->t, block_key(addr));

		if (!b || !b->len) { /* a heap block took the address: not a mapping any more */
			maps_del(ps, addr);
			continue;
		}
		if (addr + b->len <= lo) {
			i++;
			continue;
		}
		cut_block(m, proc, b, addr, lo, hi);
		i = maps_index(ps, addr < lo ? lo : addr);
	}
}

static bool is_mapping(uint32_t kind)
{
	return kind == TP_MEM_MMAP || kind == TP_MEM_MREMAP;
}

/* addr + len, at most the last address (a range to the top of the address space). */
static uint64_t range_end(uint64_t addr, uint64_t len)
{
	return addr + len < addr ? UINT64_MAX : addr + len;
}

static void on_alloc(struct mp *m, const struct prof_memrec *r)
{
	struct pstate *ps = &m->ps[r->proc];
	double w = memacct__weight(r->size, r->rate);
	uint64_t wb = memacct__round(w);
	uint32_t site = site_get(m, r->proc, r->stack);

	if (site == NONE)
		return;
	wb = wb > MAX_WEIGHT ? MAX_WEIGHT : wb;
	if (m->first) {
		double count = r->size && r->rate > 1 ? w / (double)r->size : 1;

		m->sites[site].alloc_count += count;
		m->sites[site].alloc_bytes += wb;
		ps->alloc_count += count;
		ps->alloc_bytes += wb;
	}
	if (ps->dead || ps->final)
		return;
	if (is_mapping(r->kind) && r->size) {
		/* it replaces whatever was mapped there (MAP_FIXED, or an unmap not seen) */
		free_range(m, r->proc, r->addr, range_end(r->addr, r->size));
		put_block(m, r->proc, block_key(r->addr),
			  &(struct block){.weight = wb, .len = r->size, .site = site});
		return;
	}
	put_block(m, r->proc, block_key(r->addr), &(struct block){.weight = wb, .site = site});
}

static void on_free_range(struct mp *m, const struct prof_memrec *r)
{
	struct pstate *ps = &m->ps[r->proc];

	if (!ps->dead && !ps->final)
		free_range(m, r->proc, r->addr, range_end(r->addr, r->size));
}

static void on_free(struct mp *m, const struct prof_memrec *r)
{
	struct pstate *ps = &m->ps[r->proc];
	struct block *b = ps->dead ? NULL : htab__get(&ps->t, block_key(r->addr));

	if (ps->final)
		return; /* its blocks were left behind when it began finalizing */
	if (!b) {
		if (m->first && !ps->dead) {
			ps->unmatched++;
			m->unmatched++;
		}
		return;
	}
	if (m->first && b->inherited)
		ps->inherited_frees++;
	drop_block(m, r->proc, b, r->addr);
}

static void on_fork(struct mp *m, const struct prof_memrec *r)
{
	uint32_t parent = r->addr < m->nprocs ? (uint32_t)r->addr : NONE;
	const struct block *pb;
	size_t iter = 0;
	uint64_t key;

	if (parent == NONE || parent == r->proc || m->ps[r->proc].dead)
		return;
	while (!m->err && (pb = htab__next(&m->ps[parent].t, &iter, &key))) {
		struct block b = {.weight = pb->weight, .len = pb->len, .inherited = true};

		b.site = site_get(m, r->proc, m->sites[pb->site].stack);
		if (b.site != NONE)
			put_block(m, r->proc, key, &b);
	}
}

/* Pass 1: a block still held when its image ends counts in its site's live bytes. */
static void leave(struct mp *m, uint32_t proc, const struct block *b)
{
	struct site_acc *s = &m->sites[b->site];

	if (b->inherited) {
		s->live_inh += b->weight;
		m->ps[proc].live_inh += b->weight;
		return;
	}
	s->live += b->weight;
	m->ps[proc].live += b->weight;
}

/* Exec or exit: what the image still holds is left behind (its leaks). */
static void end_image(struct mp *m, uint32_t proc, bool exited)
{
	struct pstate *ps = &m->ps[proc];
	const struct block *b;
	size_t iter = 0;

	while ((b = htab__next(&ps->t, &iter, NULL))) {
		if (m->first)
			leave(m, proc, b);
		release(m, proc, b);
	}
	htab__fini(&ps->t);
	ps->nmaps = 0;
	ps->dead = ps->dead || exited;
	ps->final = false; /* an exec's new image starts afresh */
}

static void apply(struct mp *m, const struct prof_memrec *r)
{
	struct pstate *ps = &m->ps[r->proc];

	switch (r->type) {
	case MEMREC_ALLOC:
		on_alloc(m, r);
		break;
	case MEMREC_FREE:
		on_free(m, r);
		break;
	case MEMREC_FREE_RANGE:
		on_free_range(m, r);
		break;
	case MEMREC_FORK:
		on_fork(m, r);
		break;
	case MEMREC_RSS:
		if (m->first) {
			ps->rss_peak = r->size > ps->rss_peak ? r->size : ps->rss_peak;
			ps->bucket_rss = r->size;
		}
		break;
	case MEMREC_EXEC:
	case MEMREC_EXIT:
		end_image(m, r->proc, r->type == MEMREC_EXIT);
		break;
	case MEMREC_FINAL:
		/* What the application's code kept is its live bytes: the interpreter's teardown
		 * frees nearly everything, which would hide every leak. */
		end_image(m, r->proc, false);
		ps->final = !ps->dead;
		if (m->first && ps->final)
			ps->final_ts = r->ts_ns;
		break;
	}
}

/* Pass 2, right after event i: copy what sites hold for the peaks reached there. */
struct peak_at {
	size_t ev;
	uint32_t proc;
};

static void snapshot(struct mp *m, size_t i, const struct peak_at *pk, size_t npk, size_t *k)
{
	if (i == m->tree_peak_ev && m->tree_peak)
		for (uint32_t s = 0; s < m->nsites; s++)
			m->sites[s].peak = m->sites[s].cur;
	for (; *k < npk && pk[*k].ev == i; (*k)++)
		for (uint32_t s = m->ps[pk[*k].proc].first_site; s != NONE; s = m->sites[s].next)
			m->sites[s].proc_peak = m->sites[s].cur;
}

static void replay(struct mp *m, const struct peak_at *pk, size_t npk)
{
	size_t n = profile__nmem(m->p), k = 0;

	m->tree_held = 0;
	for (size_t i = 0; i < n && !m->err; i++) {
		const struct prof_memrec *r = profile__mem_at(m->p, m->order[i]);
		struct pstate *ps;

		if (r->proc >= m->nprocs)
			continue;
		ps = &m->ps[r->proc];
		if (m->first) {
			uint64_t b;

			if (!m->started)
				m->t0 = m->now = r->ts_ns;
			m->started = true;
			m->now = r->ts_ns > m->now ? r->ts_ns : m->now;
			b = (m->now - m->t0) / BUCKET_NS;
			if (b != m->bucket) {
				flush_bucket(m);
				m->bucket = b;
			}
			ps->active = true;
			mark_dirty(m, r->proc);
		}
		apply(m, r);
		if (!m->first) {
			snapshot(m, i, pk, npk, &k);
			continue;
		}
		if (ps->held > ps->peak) {
			ps->peak = ps->held;
			ps->peak_ev = i;
			ps->peak_ts = r->ts_ns;
		}
		if (m->tree_held > m->tree_peak) {
			m->tree_peak = m->tree_held;
			m->tree_peak_ev = i;
			m->tree_peak_ts = r->ts_ns;
		}
	}
	if (m->first)
		flush_bucket(m);
}

/* Pass 1, after the last event: what the processes still alive hold is their live bytes. */
static void held_at_end(struct mp *m)
{
	for (uint32_t i = 0; i < m->nprocs; i++) {
		const struct block *b;
		size_t iter = 0;

		while ((b = htab__next(&m->ps[i].t, &iter, NULL)))
			leave(m, i, b);
	}
}

static int by_ev(const void *a, const void *b)
{
	const struct peak_at *x = a, *y = b;

	if (x->ev != y->ev)
		return x->ev < y->ev ? -1 : 1;
	return x->proc < y->proc ? -1 : x->proc > y->proc;
}

/* Pass 2: reset the block state (sites and their totals stay) and replay for snapshots. */
static void second_pass(struct mp *m)
{
	struct peak_at *pk = calloc((size_t)m->nprocs + 1, sizeof(*pk));
	size_t npk = 0;

	if (!pk) {
		m->err = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < m->nprocs; i++) {
		struct pstate *ps = &m->ps[i];

		htab__fini(&ps->t);
		ps->nmaps = 0;
		ps->held = 0;
		ps->dead = ps->final = false;
		if (ps->peak)
			pk[npk++] = (struct peak_at){ps->peak_ev, i};
	}
	for (uint32_t s = 0; s < m->nsites; s++)
		m->sites[s].cur = 0;
	if (npk)
		qsort(pk, npk, sizeof(*pk), by_ev);
	m->first = false;
	replay(m, pk, npk);
	free(pk);
}

/* ---- result ---- */

static int site_order(const void *a, const void *b)
{
	const struct mem_site *x = a, *y = b;

	return profile__order_by_weight(x->proc, x->alloc_bytes, x->stack, y->proc, y->alloc_bytes,
					y->stack);
}

static int build(struct mp *m, struct memacct *out)
{
	out->sites = calloc((size_t)m->nsites + 1, sizeof(*out->sites));
	out->procs = calloc((size_t)m->nprocs + 1, sizeof(*out->procs));
	if (!out->sites || !out->procs)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->nsites; i++) {
		const struct site_acc *s = &m->sites[i];

		if (!s->alloc_count && !s->alloc_bytes && !s->live && !s->live_inh && !s->peak &&
		    !s->proc_peak)
			continue;
		out->sites[out->nsites++] = (struct mem_site){
		    .proc = s->proc,
		    .stack = s->stack,
		    .alloc_count = s->alloc_count,
		    .alloc_bytes = (double)s->alloc_bytes,
		    .live_bytes = (double)s->live,
		    .live_inherited_bytes = (double)s->live_inh,
		    .peak_bytes = (double)s->peak,
		    .proc_peak_bytes = (double)s->proc_peak,
		};
	}
	if (out->nsites)
		qsort(out->sites, out->nsites, sizeof(*out->sites), site_order);
	for (uint32_t i = 0; i < m->nprocs; i++) {
		const struct tp_memcounters *c = profile__mem_counters_get(m->p, i);
		const struct pstate *ps = &m->ps[i];
		struct mem_proc *mp;

		if (!ps->active && !c)
			continue;
		mp = &out->procs[out->nprocs++];
		mp->proc = i;
		mp->has_counters = c != NULL;
		if (c) {
			mp->c = *c;
			/* A fork child's sampler counts in_use from the fork, signed
			 * (shim/memshim.c): below 0 it freed more of its parent's copies than it
			 * allocated, and holds none of its own. */
			if ((int64_t)mp->c.in_use < 0)
				mp->c.in_use = 0;
			if ((int64_t)mp->c.peak_in_use < 0)
				mp->c.peak_in_use = 0;
		}
		mp->alloc_count = ps->alloc_count;
		mp->alloc_bytes = (double)ps->alloc_bytes;
		mp->live_bytes = (double)ps->live;
		mp->live_inherited_bytes = (double)ps->live_inh;
		mp->peak_bytes = (double)ps->peak;
		mp->peak_ts = ps->peak_ts;
		mp->final_ts = ps->final_ts;
		mp->rss_peak = ps->rss_peak;
		mp->inherited_frees = ps->inherited_frees;
		mp->unmatched_frees = ps->unmatched;
	}
	out->series = m->series;
	out->npoints = m->npoints;
	m->series = NULL;
	out->tree_peak_bytes = (double)m->tree_peak;
	out->tree_peak_ts = m->tree_peak_ts;
	out->unmatched_frees = m->unmatched;
	return 0;
}

struct ev_key {
	uint64_t ts;
	size_t i;
};

static int by_time(const void *a, const void *b)
{
	const struct ev_key *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i; /* stable: arrival order among equals */
}

/* The events in time order: 0 or -ENOMEM. */
static int time_order(struct mp *m)
{
	size_t n = profile__nmem(m->p);
	struct ev_key *k = calloc(n + 1, sizeof(*k));

	m->order = calloc(n + 1, sizeof(*m->order));
	if (!k || !m->order) {
		free(k);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		k[i] = (struct ev_key){profile__mem_at(m->p, i)->ts_ns, i};
	qsort(k, n, sizeof(*k), by_time);
	for (size_t i = 0; i < n; i++)
		m->order[i] = k[i].i;
	free(k);
	return 0;
}

bool memacct__has_data(const struct profile *p)
{
	if (profile__nmem(p))
		return true;
	for (uint32_t i = 0; i < profile__nprocs(p); i++)
		if (profile__mem_counters_get(p, i))
			return true;
	return false;
}

struct memacct *memacct__compute(const struct profile *p)
{
	struct mp m = {.p = p, .first = true, .nprocs = profile__nprocs(p)};
	struct memacct *out = NULL;
	int err = -ENOMEM;

	if (!memacct__has_data(p)) {
		errno = ENODATA;
		return NULL;
	}
	htab__init(&m.site_tab, sizeof(uint32_t));
	m.ps = calloc((size_t)m.nprocs + 1, sizeof(*m.ps));
	m.dirty = calloc((size_t)m.nprocs + 1, sizeof(*m.dirty));
	out = calloc(1, sizeof(*out));
	if (!m.ps || !m.dirty || !out)
		goto out;
	for (uint32_t i = 0; i < m.nprocs; i++) {
		m.ps[i].first_site = NONE;
		htab__init(&m.ps[i].t, sizeof(struct block));
	}
	if (time_order(&m))
		goto out;
	replay(&m, NULL, 0);
	held_at_end(&m);
	if (!m.err && m.tree_peak) /* else nothing was ever held: no stacks to find */
		second_pass(&m);
	err = m.err ? m.err : build(&m, out);
out:
	for (uint32_t i = 0; m.ps && i < m.nprocs; i++) {
		htab__fini(&m.ps[i].t);
		free(m.ps[i].maps);
	}
	htab__fini(&m.site_tab);
	free(m.ps);
	free(m.dirty);
	free(m.sites);
	free(m.series);
	free(m.order);
	if (err) {
		memacct__free(out);
		errno = -err;
		return NULL;
	}
	return out;
}

void memacct__free(struct memacct *m)
{
	if (!m)
		return;
	free_all(m->sites, m->procs, m->series, m);
}
