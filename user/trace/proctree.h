/* What /proc says about processes. Every read is bounded; a process that
 * is gone yields NULL / -1, never an error message (it may exit at any moment). */
#ifndef TREEPROF_PROCTREE_H
#define TREEPROF_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_ent {
	pid_t pid, ppid;
};

struct proc_list {
	struct proc_ent *ents;
	size_t n;
};

/* Every process on the system with its parent (threads are not listed). NULL + errno. */
struct proc_list *proc_list__scan(void);
void proc_list__free(struct proc_list *pl);

/* Parse the text of /proc/PID/stat: ppid, flags and start time in clock ticks.
 * 0, or -EINVAL when malformed (comm may hold spaces and parentheses). */
int proc_parse_stat(const char *text, pid_t *ppid, unsigned long *flags,
		    unsigned long long *starttime);
pid_t proc_read_ppid(pid_t pid);
/* Start time of pid on the CLOCK_MONOTONIC scale in ns, 0 if unknown. */
uint64_t proc_start_ns(pid_t pid);
/* argv joined by spaces (at most 4 KiB), or NULL. Caller frees. */
char *proc_read_cmdline(pid_t pid);
/* Target of /proc/PID/exe, or NULL. Caller frees. */
char *proc_read_exe(pid_t pid);
/* comm into buf, "?" if unknown. */
void proc_read_comm(pid_t pid, char *buf, size_t len);
/* Resident bytes of pid (/proc/PID/statm), or 0 when it cannot be read. */
uint64_t proc_read_rss(pid_t pid);
/* True when pid is gone or a zombie: it has exited, whether or not anyone saw it. */
bool proc_is_dead(pid_t pid);
/* 0 if pid exists and is a user process; -ESRCH if no such process; -EINVAL if it is a
 * kernel thread. */
int proc_check_target(pid_t pid);
/* True when this process may load BPF and open perf events for all processes. */
bool proc_has_bpf_caps(void);

#endif
