/* The C allocator's uprobes, per traced process.
 *
 * Each probe is a perf uprobe bound to one process: the kernel puts its breakpoints only in
 * that process's address space (all its threads, and the image it execs next), never in
 * the rest of the host. A child forked by a probed process keeps the inherited breakpoints
 * only until its first hit; it has its own probes once memprobes__attach is called for it.
 *
 * What is costly is done once per C library file (dev, ino): the symbol lookups and the
 * placement of each probe; the file is held open for the whole run. A process then costs
 * one BPF link, one file descriptor, per probe, within a budget below RLIMIT_NOFILE (the
 * soft limit is raised to the hard one): past it a process goes unprobed and is counted. */
#ifndef TREEPROF_MEMPROBES_H
#define TREEPROF_MEMPROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct treeprof_bpf;
struct memprobes;

struct memprobes_stats {
	uint64_t libcs;			/* C library files with probes */
	uint64_t probes_on_entry;	/* per library: probes on a function's first byte */
	uint64_t probes_past_null_test; /* per library: free's probe past its NULL test */
	uint64_t attach_failures;	/* probes that failed to attach to a live process */
	uint64_t procs_probed;		/* processes that got probes */
	uint64_t procs_unprobed;	/* processes left without: the descriptor budget */
	uint64_t links_peak;		/* most links held at once */
	uint64_t links_budget;
};

/* NULL with errno set. */
struct memprobes *memprobes__new(struct treeprof_bpf *skel, bool verbose);
/* Detaches everything; takes NULL. The links still open are handed to a detached child
 * process that closes them (about 70 ms each on 6.18), so the run ends at once. */
void memprobes__free(struct memprobes *mp);
/* Wait until the detached closers of earlier runs are done: their closes hold the kernel
 * mutex that placing a probe needs, and would slow this run's attaches. Says so when it
 * has to wait. */
void memprobes__wait_previous(void);
/* Probe pid's calls into the C library open at fd (st: its stat), once: a process already
 * probed on that file is left as it is; probes on another file (the image before an exec)
 * are replaced. 0, or -ESRCH (pid gone), -ENOENT (no allocator in the file), -EMFILE
 * (over the budget: counted), -ENOSPC (too many distinct libraries), another errno. */
int memprobes__attach(struct memprobes *mp, pid_t pid, int fd, const struct stat *st,
		      const char *name);
bool memprobes__has(const struct memprobes *mp, pid_t pid);
/* pid exited or no longer needs probes: close its links. */
void memprobes__detach(struct memprobes *mp, pid_t pid);
void memprobes__stats(const struct memprobes *mp, struct memprobes_stats *s);

#endif
