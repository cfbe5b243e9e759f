/* The inside of struct profile, shared by the files that implement profile.h and by no one
 * else: profile.c (the core: processes, samples, stack counts), intern.c (frames, stacks,
 * statistics and metadata) and profile_mem.c (memory events).
 *
 * Hash tables (lib/hash.h) index the arrays: frame_tab, stack_tab and the named lists map a
 * content hash to the ids under it (entries compared on lookup), pid_tab maps pid + 1 to the
 * newest process index, agg (compact mode) maps (proc << 32 | stack) + 1 to a weight. */
#ifndef TREEPROF_PROFILE_PRIV_H
#define TREEPROF_PROFILE_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/hash.h"

/* (profile.h, journal.h and treeprof.h define these; this header includes none of them, so
 * that it stays below profile.h and no include goes round in a circle) */
struct profile_journal;
struct prof_frame;
struct prof_proc;
struct prof_sample;
struct prof_memrec;
struct tp_memcounters;

struct named_value {
	char *name;
	char *value;  /* meta only */
	uint64_t num; /* stat only */
};

/* Statistics or metadata: in the order names were first set, indexed by name hash. */
struct named_list {
	struct named_value *v;
	uint32_t n, cap;
	struct htab tab; /* value: uint32_t index */
};

struct stack_ent {
	size_t off; /* into frame_pool */
	uint32_t n;
};

struct profile {
	const struct profile_journal *journal; /* or NULL */

	struct prof_frame *frames;
	uint32_t nframes, frames_cap;
	struct htab frame_tab; /* value: uint32_t id */

	struct stack_ent *stacks;
	uint32_t nstacks, stacks_cap;
	uint32_t *frame_pool;
	size_t pool_len, pool_cap;
	struct htab stack_tab; /* value: uint32_t id */

	struct prof_proc **procs;
	uint32_t nprocs, procs_cap;
	struct htab pid_tab; /* value: uint32_t newest process index */

	struct prof_sample *samples;
	size_t nsamples, samples_cap;
	/* Compact mode (profile__keep_samples(p, false)): only the last sample is kept, and
	 * the (process, stack) weights are summed as samples arrive, so memory follows the
	 * number of distinct stacks, not the length of the run. */
	bool compact;
	struct htab agg; /* value: uint64_t weight */

	struct named_list stats, meta;

	/* memory events in arrival order, and the last exact totals per process index */
	struct prof_memrec *mem;
	size_t nmem, mem_cap;
	bool mem_drop; /* profile__keep_mem(p, false) */
	struct tp_memcounters *memc;
	bool *memc_set;
	size_t memc_cap;
};

/* A copy of s cut at PROFILE_STR_MAX bytes, or NULL (out of memory). */
char *prof_str_copy(const char *s);
/* The newest entry for pid, or a new one (parent ppid, empty strings) when there is none
 * or, with after_exit, when the newest has exited. NULL with errno set. */
struct prof_proc *prof_proc_get(struct profile *p, pid_t pid, pid_t ppid, bool after_exit);
/* An exec or exit of process index proc ends its image's heap (profile_mem.c). */
int prof_mem_mark(struct profile *p, uint16_t type, uint64_t ts_ns, uint32_t proc);

/* Set up and free the interned tables (intern.c). */
void prof_intern_init(struct profile *p);
void prof_intern_free(struct profile *p);

#endif
