/* The profile's journal: where a profile reports every change as it is made, so that
 * replaying the calls through the profile__* functions rebuilds an identical profile. The
 * recording (datafile.c) implements it to write treeprof.data incrementally; the profile
 * knows only this interface, never the recording format.
 *
 * Every member must be set. ctx is the implementation's (the profile does not own it) and
 * is passed back to each call. A call returns 0 or a negative errno, which the profile call
 * that made it returns (after its own change is made). Arguments are the profile call's
 * (a string may be longer than PROFILE_STR_MAX: keep its first PROFILE_STR_MAX bytes, as the
 * profile does; NULL where the call keeps the old value); frame and stack carry the id the
 * profile gave. */
#ifndef TREEPROF_PROFILE_JOURNAL_H
#define TREEPROF_PROFILE_JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

struct prof_frame;
struct tp_memcounters;

struct profile_journal {
	void *ctx;
	int (*frame)(void *ctx, uint32_t id, const struct prof_frame *f);
	int (*stack)(void *ctx, uint32_t id, const uint32_t *frames, uint32_t n);
	int (*proc_start)(void *ctx, pid_t pid, pid_t ppid, uint64_t ts_ns, const char *comm,
			  const char *cmdline, const char *exe);
	int (*proc_exec)(void *ctx, pid_t pid, uint64_t ts_ns, const char *comm,
			 const char *cmdline, const char *exe);
	int (*proc_exit)(void *ctx, pid_t pid, uint64_t ts_ns, int exit_code);
	int (*sample)(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu, uint32_t stack,
		      uint64_t weight);
	int (*stat)(void *ctx, const char *name, uint64_t value);
	int (*meta)(void *ctx, const char *key, const char *value);
	int (*mem_alloc)(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t kind,
			 uint32_t stack, uint64_t addr, uint64_t size, uint64_t rate);
	int (*mem_free)(void *ctx, uint64_t ts_ns, pid_t pid, uint32_t kind, uint64_t addr);
	int (*mem_free_range)(void *ctx, uint64_t ts_ns, pid_t pid, uint64_t addr, uint64_t len);
	int (*mem_fork)(void *ctx, uint64_t ts_ns, pid_t child, pid_t parent);
	int (*mem_rss)(void *ctx, uint64_t ts_ns, pid_t pid, uint64_t bytes);
	int (*mem_final)(void *ctx, uint64_t ts_ns, pid_t pid);
	int (*mem_counters)(void *ctx, uint64_t ts_ns, pid_t pid, const struct tp_memcounters *c);
};

#endif
