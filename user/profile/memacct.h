/* Memory accounting of a recording: what each (process, stack) allocated, what it still
 * held when its process exited (leaks) or the recording ended, what it held when the tree
 * and when each process peaked, and a time series of heap in use and RSS per process.
 *
 * Input: the memory events of a profile (profile__mem_* in profile.h), which the tracer
 * feeds as they arrive and datafile__read() replays from a recording. Allocations are
 * byte-sampled (Poisson, mean interval `rate` bytes); each sampled allocation stands for
 * size / (1 - exp(-size / rate)) bytes, or exactly size when rate <= 1. Exact per-process
 * totals (struct tp_memcounters) come separately and are reported as they are.
 *
 * memacct__compute() replays the events in time order (arrival order among equal times:
 * the tracer reads two ring buffers, so an exit may arrive before frees that preceded it);
 * the result is read-only for writers. The rules of the replay:
 *  - each process holds its blocks by address; an allocation at an address it already
 *    holds replaces that block (its free was missed); a free of an address it does not
 *    hold counts in unmatched_frees;
 *  - a mapping (kind TP_MEM_MMAP or TP_MEM_MREMAP) spans [addr, addr + size): a range free
 *    (MEMREC_FREE_RANGE) releases exactly its bytes of every mapping it overlaps, and a new
 *    mapping those of every mapping under it; a mapping cut so keeps its site for the rest,
 *    whose weight is the block's in proportion to its bytes (a PROT_NONE reservation is no
 *    allocation: only what an mprotect made accessible of it comes as a mapping);
 *  - a fork's child starts with a copy of its parent's blocks: followed so that their frees
 *    match (inherited_frees; the parent's copy is left alone), but they are the parent's
 *    memory (shared copy-on-write): not in the child's heap, peaks or live bytes; what of
 *    them it still holds at its end is live_inherited_bytes;
 *  - an exec or an exit ends what the process holds: that is its live bytes (leaks), per
 *    stack; a process alive at the end leaves what it holds then. Events of a process
 *    after its exit count as allocated, never as held;
 *  - the tree's heap is the sum of what every process holds; its peak is the first event
 *    after which it is largest, and the stacks held then are peak_bytes (the same for each
 *    process's own peak, proc_peak_bytes).
 * Block weights are rounded to whole bytes when made, so what is held is an exact sum. */
#ifndef TREEPROF_MEMACCT_H
#define TREEPROF_MEMACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "treeprof.h"

struct profile;

/* What a report weighs stacks by (report --metric). */
enum metric {
	METRIC_CPU = 0,		/* CPU samples (the default) */
	METRIC_ALLOC_BYTES = 1, /* bytes allocated (estimated from samples) */
	METRIC_ALLOC_COUNT = 2, /* allocations (estimated from samples) */
	METRIC_LIVE_BYTES = 3,	/* bytes still held at process exit or end of recording */
	METRIC_PEAK_BYTES = 4,	/* bytes held when the whole tree's heap peaked */
};
/* "cpu", "alloc_bytes", ... -> metric; -1 if unknown. */
int metric__parse(const char *name);
const char *metric__name(int metric);
/* Unit for writers: "samples", "bytes" or "allocations". */
const char *metric__unit(int metric);

/* Weight of one sampled allocation in bytes (see above); 0 for size 0. An allocation
 * counts as weight / size allocations (1 when rate <= 1 or size is 0). */
double memacct__weight(uint64_t size, uint64_t rate);
/* v rounded to the nearest integer, 0 for negative or NaN, UINT64_MAX past its range. */
uint64_t memacct__round(double v);

/* One (process, stack) line of the memory accounts. */
struct mem_site {
	uint32_t proc, stack;
	double alloc_count; /* estimated allocations */
	double alloc_bytes; /* estimated bytes allocated */
	double live_bytes;  /* held at process exit (or exec), or at the end if still alive */
	double live_inherited_bytes; /* blocks copied from the parent at fork, still held (not in
					live_bytes) */
	double peak_bytes;	     /* held at the moment the tree's heap peaked */
	double proc_peak_bytes;	     /* held at the moment this process's heap peaked */
};

struct mem_proc {
	uint32_t proc;		     /* process index */
	bool has_counters;	     /* exact totals were received */
	struct tp_memcounters c;     /* the last exact totals (at exit when it exited) */
	double alloc_count;	     /* estimated from samples */
	double alloc_bytes;	     /* estimated from samples */
	double live_bytes;	     /* estimated: held at exit / exec / end */
	double live_inherited_bytes; /* blocks copied from the parent at fork, still held (not in
					live_bytes) */
	double peak_bytes;	     /* estimated: this process's heap peak */
	uint64_t peak_ts;	     /* when */
	uint64_t final_ts;	     /* when its interpreter began finalizing: live_bytes were
					taken then (0: at exit, exec or the end) */
	uint64_t rss_peak;	     /* largest RSS sampled, bytes (0: none) */
	uint64_t inherited_frees;    /* frees of blocks inherited from the parent at fork */
	uint64_t unmatched_frees;    /* frees of addresses it did not hold */
};

/* Every 100 ms from the first memory event, per process with an event in the bucket. */
struct mem_point {
	uint64_t ts_ns; /* the bucket's start */
	uint32_t proc;
	double heap_bytes;  /* estimated heap held at the bucket's end */
	uint64_t rss_bytes; /* the last RSS sampled in the bucket; 0: none */
};

struct memacct {
	struct mem_site *sites; /* sorted by process index, then alloc_bytes descending */
	size_t nsites;
	struct mem_proc *procs; /* one per process that had any memory event, by index */
	size_t nprocs;
	struct mem_point *series; /* by time, then process index */
	size_t npoints;
	double tree_peak_bytes; /* the tree's estimated heap peak */
	uint64_t tree_peak_ts;
	uint64_t unmatched_frees; /* frees of sampled addresses never seen allocated */
};

/* Whether the profile has memory events or exact totals (a recording made with --mem). */
bool memacct__has_data(const struct profile *p);
/* NULL with errno ENODATA when the profile has no memory data, ENOMEM when out of memory.
 * Linear in the events, plus, per fork, the parent's blocks held at that moment. */
struct memacct *memacct__compute(const struct profile *p);
void memacct__free(struct memacct *m);

#endif
