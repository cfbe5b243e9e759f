/* The aggregate of one recording: interned frames and stacks, the process tree, samples
 * and run statistics. The tracer fills it as events arrive; datafile__read() fills it by
 * replaying a recording; report writers read it and never change it.
 *
 * A profile may have a journal (journal.h; the recording implements one): every frame,
 * stack, process event, sample and statistic that enters the profile is passed to the
 * journal as it arrives, so the recording on disk is written incrementally by the same
 * calls that build it. */
#ifndef TREEPROF_PROFILE_H
#define TREEPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum prof_frame_kind {
	FRAME_PYTHON = 1, /* name: qualified name; file: source file; line */
	FRAME_NATIVE = 2, /* name: symbol or "[unknown]"; file: module path or NULL */
	FRAME_KERNEL = 3, /* name: kernel symbol; file: module or NULL for vmlinux */
};

struct prof_frame {
	uint8_t kind;	  /* enum prof_frame_kind */
	const char *name; /* never NULL */
	const char *file; /* may be NULL */
	uint32_t line;	  /* 0: unknown or not applicable */
};

struct prof_proc {
	uint32_t idx; /* index in the profile's process table */
	pid_t pid, ppid;
	uint64_t start_ns; /* CLOCK_MONOTONIC; 0 when it was already running at attach */
	uint64_t end_ns;   /* 0 while alive / alive at the end of the recording */
	bool exited;
	int exit_code;	  /* wait status (code << 8 | signal) when exited */
	char *comm;	  /* kernel comm, updated on exec */
	char *cmdline;	  /* argv joined by spaces, may be "" */
	char *exe;	  /* executable path as the process sees it, may be "" */
	uint64_t samples; /* CPU samples attributed to this process */
};

struct prof_sample {
	uint64_t ts_ns;
	uint32_t proc; /* process index */
	uint32_t tid;
	uint32_t cpu;
	uint32_t stack; /* stack id */
	uint64_t weight;
};

struct profile;
struct profile_journal;

struct profile *profile__new(void);
void profile__free(struct profile *p);

/* Attach a journal (every member set; it must stay valid while attached); the profile does
 * not own it. Pass NULL to detach. */
void profile__set_journal(struct profile *p, const struct profile_journal *j);

/* Intern a frame (strings copied); equal frames get the same id. Ids are dense from 0. */
int profile__frame(struct profile *p, const struct prof_frame *f, uint32_t *id);
const struct prof_frame *profile__frame_get(const struct profile *p, uint32_t id);
uint32_t profile__nframes(const struct profile *p);

/* Intern a stack of frame ids, root first; equal stacks get the same id (dense from 0). */
int profile__stack(struct profile *p, const uint32_t *frames, uint32_t n, uint32_t *id);
const uint32_t *profile__stack_get(const struct profile *p, uint32_t id, uint32_t *n);
uint32_t profile__nstacks(const struct profile *p);

/* Process events. A pid seen again after it exited starts a new process entry; events and
 * samples for a pid go to its newest entry. proc_start of a live pid updates it. */
int profile__proc_start(struct profile *p, pid_t pid, pid_t ppid, uint64_t ts_ns, const char *comm,
			const char *cmdline, const char *exe);
int profile__proc_exec(struct profile *p, pid_t pid, uint64_t ts_ns, const char *comm,
		       const char *cmdline, const char *exe);
int profile__proc_exit(struct profile *p, pid_t pid, uint64_t ts_ns, int exit_code);
/* The newest entry for pid, or NULL. */
struct prof_proc *profile__proc_find(const struct profile *p, pid_t pid);
uint32_t profile__nprocs(const struct profile *p);
const struct prof_proc *profile__proc_at(const struct profile *p, uint32_t idx);

/* One CPU sample of pid/tid on stack. The pid must have a process entry (one is made with
 * unknown parent if not). */
int profile__sample(struct profile *p, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu,
		    uint32_t stack, uint64_t weight);
size_t profile__nsamples(const struct profile *p);
/* keep false: a profile for a live run keeps only its last sample (profile__sample_at
 * answers only for nsamples - 1) and sums (process, stack) weights as they come, so its
 * memory does not grow with the run; the recording on disk holds every sample. */
void profile__keep_samples(struct profile *p, bool keep);
const struct prof_sample *profile__sample_at(const struct profile *p, size_t i);

/* Named run statistics (drops, truncations, duration...): set replaces. */
int profile__set_stat(struct profile *p, const char *name, uint64_t value);
/* 0 and *value, or -ENOENT. */
int profile__get_stat(const struct profile *p, const char *name, uint64_t *value);
/* Iterate statistics in the order they were first set: name or NULL past the end. */
const char *profile__stat_at(const struct profile *p, uint32_t i, uint64_t *value);

/* Run metadata: sampling frequency, start time (CLOCK_REALTIME ns), command line of the run. */
int profile__set_meta(struct profile *p, const char *key, const char *value);
const char *profile__get_meta(const struct profile *p, const char *key);
/* Iterate metadata in the order keys were first set: key (and *value) or NULL past the end. */
const char *profile__meta_at(const struct profile *p, uint32_t i, const char **value);

/* Aggregate counts per (process index, stack id), for writers: calls fn for each pair
 * with its summed weight, in no particular order; a non-zero return stops the walk. */
int profile__for_each_stack_count(const struct profile *p,
				  int (*fn)(uint32_t proc, uint32_t stack, uint64_t weight,
					    void *ctx),
				  void *ctx);

/* Every (process, stack) weight as an array sorted by process index, then heaviest first,
 * then stack id (a stable order for writers); keep, when not NULL, selects the processes.
 * 0 with *out (the caller frees it; NULL when *n is 0) and *n, or -ENOMEM. */
struct prof_stack {
	uint32_t proc, stack;
	uint64_t weight;
};
/* The order profile__stack_counts sorts in (a qsort comparator of struct prof_stack). */
int profile__stack_count_order(const void *a, const void *b);
/* That order for any (process, weight, stack) triples: <0, 0 or >0 as a comes first, ties,
 * or comes after b (memacct's sites sort by it too). */
int profile__order_by_weight(uint32_t proc_a, uint64_t weight_a, uint32_t stack_a, uint32_t proc_b,
			     uint64_t weight_b, uint32_t stack_b);
int profile__stack_counts(const struct profile *p, bool (*keep)(uint32_t proc, void *ctx),
			  void *ctx, struct prof_stack **out, size_t *n);

/* --- Memory events (see memacct.h for what is made of them). Kept in order in the
 * profile (also in compact mode: a recording's memory events are needed whole to find
 * peaks, so the tracer keeps them only when it must, see profile__keep_mem) and journaled.
 * kind: enum tp_mem_kind. rate: the sampling interval in force (1: every allocation). */
struct prof_memrec {
	uint64_t ts_ns;
	uint64_t addr;
	uint64_t size;	/* alloc: bytes requested; free: 0; free range: its length */
	uint64_t rate;	/* alloc: sampling interval; free: 0 */
	uint32_t proc;	/* process index */
	uint32_t stack; /* alloc: stack id; free: UINT32_MAX */
	uint32_t tid;
	uint16_t kind; /* enum tp_mem_kind */
	uint16_t type; /* TP_MEMREC_* */
};
enum {
	MEMREC_ALLOC = 1,
	MEMREC_FREE = 2,
	/* proc (the child) starts with a copy of the blocks of process index addr (the parent) */
	MEMREC_FORK = 3,
	MEMREC_RSS = 4, /* size: resident bytes of proc at ts */
	/* Added by the profile itself, not journaled (the recording has the process record):
	 * proc replaced its image or exited, which ends what it holds. Only made once the
	 * profile has memory events, so a CPU-only profile keeps nmem at 0; the first memory
	 * event is preceded by an EXIT for each process already exited. */
	MEMREC_EXEC = 5,
	MEMREC_EXIT = 6,
	/* proc's interpreter began finalizing (Py_FinalizeEx): its application code is done,
	 * what it holds now is what it kept; the frees and allocations of the teardown that
	 * follows are not the application's (journaled) */
	MEMREC_FINAL = 7,
	/* [addr, addr + size) of proc's anonymous mappings went (munmap, MAP_FIXED, mprotect
	 * PROT_NONE): the sampled mappings there are released for those bytes (journaled) */
	MEMREC_FREE_RANGE = 8,
};
struct tp_memcounters;
/* 0, -EINVAL (stack id undefined, kind not an allocation kind of enum tp_mem_kind, or for
 * a free not TP_MEM_FREE / TP_MEM_MUNMAP), -ENOMEM, or the journal's error. */
int profile__mem_alloc(struct profile *p, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t kind,
		       uint64_t addr, uint64_t size, uint64_t rate, uint32_t stack);
int profile__mem_free(struct profile *p, uint64_t ts_ns, pid_t pid, uint32_t kind, uint64_t addr);
/* [addr, addr + len) of pid's mappings went (MEMREC_FREE_RANGE): 0, -EINVAL (len 0 or the
 * range wraps), -ENOMEM or the journal's error. */
int profile__mem_free_range(struct profile *p, uint64_t ts_ns, pid_t pid, uint64_t addr,
			    uint64_t len);
/* child is a fork of parent: it holds a copy of every block parent holds at ts_ns. */
int profile__mem_fork(struct profile *p, uint64_t ts_ns, pid_t child, pid_t parent);
int profile__mem_rss(struct profile *p, uint64_t ts_ns, pid_t pid, uint64_t rss_bytes);
/* pid's Python interpreter entered Py_FinalizeEx (MEMREC_FINAL). */
int profile__mem_final(struct profile *p, uint64_t ts_ns, pid_t pid);
/* The exact totals of pid (replaces the previous ones). */
int profile__mem_counters(struct profile *p, uint64_t ts_ns, pid_t pid,
			  const struct tp_memcounters *c);
/* keep false: memory events are journaled but not kept (record and live). Default: kept. */
void profile__keep_mem(struct profile *p, bool keep);
size_t profile__nmem(const struct profile *p);
const struct prof_memrec *profile__mem_at(const struct profile *p, size_t i);
/* The last exact totals of process index proc: NULL if none. */
const struct tp_memcounters *profile__mem_counters_get(const struct profile *p, uint32_t proc);

#endif
