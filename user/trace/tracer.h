/* The tracer: loads and attaches the BPF programs, keeps the traced tree, turns kernel
 * records into profile entries (through the symbolizer), and hands each sample and process
 * event to the active sinks. One tracer per run; it owns the skeleton and every BPF link,
 * and closes them all on every exit path (links also die with the process's descriptors). */
#ifndef TREEPROF_TRACER_H
#define TREEPROF_TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct profile;
struct prof_proc;
struct prof_sample;

struct tracer_opts {
	pid_t pid;	   /* -p: trace this process and its descendants */
	char **cmd;	   /* -- CMD ARGS: launch and trace from the first instruction */
	int freq;	   /* -F: samples per second per CPU */
	double duration;   /* -d: stop after this many seconds (0: until the tree exits) */
	int ringbuf_mb;	   /* sample ring buffer size in MiB (power of two) */
	bool native;	   /* keep the interpreter's own native frames under Python frames */
	bool verbose;	   /* libbpf's log on stderr */
	bool no_cpu;	   /* --no-cpu: no CPU sampling (with --mem) */
	bool mem;	   /* --mem: allocation tracing */
	uint64_t mem_rate; /* --mem-sample: mean bytes between sampled allocations (1: all) */
	int mem_mode;	   /* enum mem_probe_mode */
	bool run_as_user;  /* -- CMD runs as run_uid/run_gid (sudo's invoking user) */
	uid_t run_uid;
	gid_t run_gid;
};

/* What a sink is told; every callback is optional. The profile is the tracer's aggregate:
 * sinks may read it (frame labels, process table) while the run goes on. */
struct tracer_sink {
	void *ctx;
	void (*on_sample)(void *ctx, const struct profile *p, const struct prof_sample *s,
			  pid_t pid);
	void (*on_proc)(void *ctx, const struct profile *p, const struct prof_proc *proc,
			const char *what /* "start", "exec", "exit" */, uint64_t ts_ns);
	void (*on_tick)(void *ctx, const struct profile *p); /* about once a second */
	/* --mem: a sampled block of pid was allocated (bytes: what it stands for, > 0) or
	 * released (bytes 0) at ts_ns; records come from two rings read in turn, so one may
	 * arrive after a later fork, exec or exit of its process */
	void (*on_mem)(void *ctx, const struct profile *p, pid_t pid, uint64_t addr, double bytes,
		       uint64_t ts_ns);
	/* every pass of the poll loop (at least every 100 ms): timers, keys, pending output */
	void (*on_poll)(void *ctx, const struct profile *p);
};

struct tracer;

/* Privileges and kernel support: 0, or a negative errno after printing one line saying
 * what is missing and what to do. tracer__start calls it too. */
int tracer__check_env(void);
struct tp_sample;
/* Unpack a CPU sample record as the BPF side packs it (struct tp_psample) into out: 0, or
 * -EINVAL when its counts and size do not agree (bounded: nothing past size is read). */
int tracer__unpack_sample(const void *data, size_t size, struct tp_sample *out);

/* Check privileges and kernel support, load and attach everything, seed the tree (or launch
 * the command, held before exec until all is attached). NULL with errno set after printing
 * one line saying what failed and what to do. prof receives the aggregate (and its journal). */
struct tracer *tracer__start(const struct tracer_opts *o, struct profile *prof,
			     const struct tracer_sink *sink);
/* Poll until the tree has exited, the duration has passed, or a stop was requested.
 * 0 or negative errno. */
int tracer__run(struct tracer *t);
/* Async-signal-safe: ask tracer__run to return (SIGINT, SIGTERM). */
void tracer__request_stop(void);
/* The run is over: stop sampling and store its statistics (BPF counters, symbolizer and
 * --mem statistics, cost, duration) in the profile given to tracer__start, and so in its
 * journal. Call once, after tracer__run and before tracer__free. */
void tracer__finish(struct tracer *t);
/* Detach everything and free; stores nothing (see tracer__finish). Takes NULL. */
void tracer__free(struct tracer *t);
/* A BPF-side counter of the run so far ("bpf_samples", "ringbuf_drops", ...: the names of
 * the statistics stored at the end), summed over CPUs. 0, or -ENOENT for an unknown name
 * (trace/stats.h). */
int tracer__bpf_stat(const struct tracer *t, const char *name, uint64_t *value);
/* Wait status of the launched command (-- CMD), or -1 when none was launched or reaped. */
int tracer__cmd_status(const struct tracer *t);

#endif
