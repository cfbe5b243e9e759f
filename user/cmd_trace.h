/* What record, live and top share: the tracing options, and one run of the tracer with the
 * recording (record, or -o) and the view (live, top) as its sinks. */
#ifndef TREEPROF_CMD_TRACE_H
#define TREEPROF_CMD_TRACE_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "trace/tracer.h"

/* Keys of the tracing options; a view's own options start at OPT_VIEW. */
enum {
	OPT_RINGBUF = 1000,
	OPT_NATIVE,
	OPT_AS_ROOT,
	OPT_MEM,
	OPT_NO_CPU,
	OPT_MEM_SAMPLE,
	OPT_MEM_PROBE,
	OPT_VIEW = 1100,
};

struct trace_view;

struct trace_args {
	struct tracer_opts t;
	const struct trace_view *view; /* live, top; NULL: record */
	const char *output;
	bool output_set;     /* -o given */
	bool quiet;	     /* -q */
	bool as_root;	     /* --as-root */
	bool json;	     /* live --json */
	unsigned every;	     /* live --every N */
	double interval;     /* live, top --interval S */
	const char *cmdline; /* how treeprof was run, for the recording */
	bool sudo_user;	     /* run by sudo: SUDO_UID/SUDO_GID name the invoking user */
	uid_t sudo_uid;
	gid_t sudo_gid;
};

/* The view of a live or top run on standard output. */
struct trace_view {
	/* The profile keeps every sample (top reads the last interval back). */
	bool keep_samples;
	/* Its own options (a child parser filling the struct trace_args), listed under header
	 * in --help. */
	struct argp argp;
	const char *header;
	/* Create it, and the sink the tracer feeds it through: it, or NULL with errno set. */
	void *(*open)(const struct trace_args *a, uint64_t start_ns, struct tracer_sink *sink);
	/* Optional: tracing has started. */
	void (*started)(void *v, struct tracer *t);
	/* Optional: tracing has ended, the tracer is still there. */
	void (*stop)(void *v);
	/* Optional: after the tracer is gone, before free: 0 or -errno (e.g. output lost). */
	int (*finish)(void *v);
	void (*free)(void *v);
};

/* A tracing command: parse argv (doc: its --help text; view: NULL for record), then run the
 * tracer. The exit status (2 after a usage error). */
int cmd_trace__main(int argc, char **argv, const char *cmdline, const char *doc,
		    const struct trace_view *view);
/* A view's --interval value into the struct trace_args (argp_error, which exits, when out of
 * range). */
void cmd_trace__interval(struct argp_state *state, const char *arg);
/* Run the tracer as a says; the exit status. */
int cmd_trace__run(struct trace_args *a);

#endif
