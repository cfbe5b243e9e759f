/* Allocation tracing for the tracer (--mem): configures the BPF side before load, attaches
 * the allocator probes (attach mode: uprobes on each process's C library, bound to it;
 * launch mode: the hook of the sampler preloaded into the tree), and samples RSS and the
 * exact totals every 100 ms. */
#ifndef TREEPROF_MEMTRACE_H
#define TREEPROF_MEMTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct treeprof_bpf;
struct profile;
struct memtrace;
struct pidset;

enum mem_probe_mode {
	MEM_PROBE_AUTO = 0, /* launch: preloaded sampler; -p: uprobes */
	MEM_PROBE_UPROBES,  /* uprobes on the C allocator of every traced process */
	MEM_PROBE_PRELOAD,  /* the preloaded sampler only */
};

struct memtrace_opts {
	uint64_t rate; /* --mem-sample: mean bytes between sampled allocations (1: all) */
	enum mem_probe_mode mode;
	bool launch; /* the tree is launched by us (-- CMD) */
	bool verbose;
};

/* Before load: sampling parameters, which programs load. mem false: none of them. */
void memtrace__configure(struct treeprof_bpf *skel, const struct memtrace_opts *o, bool mem);
/* After load. NULL with errno set (after one line on stderr). */
struct memtrace *memtrace__new(struct treeprof_bpf *skel, const struct memtrace_opts *o,
			       struct profile *prof);
void memtrace__free(struct memtrace *m);
/* Launch mode: the environment the launched command needs (called in the child before
 * exec). 0 or -1 with errno. */
int memtrace__child_env(const struct memtrace *m);
/* A process joined the tree (seeded or exec'd): probe its calls into its C library when it
 * needs uprobes (every process in attach mode; in launch mode, images that did not load
 * the sampler). Exec'd images are retried from memtrace__poll until it is mapped. */
void memtrace__proc(struct memtrace *m, pid_t pid, bool exec);
/* A traced process forked pid at fork_ns (CLOCK_MONOTONIC): the child gets its own probes
 * when its parent had them; the delay is kept for the statistics. */
void memtrace__fork(struct memtrace *m, pid_t pid, pid_t ppid, uint64_t fork_ns);
/* pid is gone: its probes are closed. */
void memtrace__exit(struct memtrace *m, pid_t pid);
/* Images are waiting for their C library to be mapped: poll often. */
bool memtrace__pending(const struct memtrace *m);
/* Every pass of the poll loop: RSS and exact totals of live processes every 100 ms. */
void memtrace__poll(struct memtrace *m, const struct pidset *tree, uint64_t now_ns);
/* Run statistics into the profile (libraries probed, probe placement). */
void memtrace__store_stats(struct memtrace *m, struct profile *prof);

#endif
