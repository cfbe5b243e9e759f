/* Report writers: each takes a finished, read-only profile and a FILE, and prints one
 * format. Nothing else prints report data. */
#ifndef TREEPROF_REPORT_H
#define TREEPROF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct profile;

enum report_group {
	REPORT_GROUP_PID = 0, /* one entry per process (default) */
	REPORT_GROUP_ROLE,    /* processes running the same command line merged */
	REPORT_GROUP_NONE,    /* the whole tree merged */
};

struct report_opts {
	pid_t pid;		 /* only this process (0: the whole tree) */
	enum report_group group; /* --group-by */
	const char *metric;	 /* --metric: "cpu" (samples); memory metrics join later */
	bool merge;		 /* folded: drop the leading process frame, merging the tree */
	bool color;		 /* text: ANSI colour (only when stdout is a TTY) */
	int top;		 /* text: how many functions in top lists (default 15) */
};

/* Folded stacks: "COMM [PID];root;...;leaf COUNT" per unique stack, sorted. */
int report__folded(const struct profile *p, FILE *out, const struct report_opts *o);
/* JSON: processes, frames, stacks with counts, statistics (schema in README.md). */
int report__json(const struct profile *p, FILE *out, const struct report_opts *o);
/* Text summary: process tree, top functions by self and total, statistics. */
int report__text(const struct profile *p, FILE *out, const struct report_opts *o);
/* HTML: one self-contained page (no network): flame graph, process selector, timeline. */
int report__html(const struct profile *p, FILE *out, const struct report_opts *o);

/* pprof: profile.proto, gzip'd (go tool pprof); binary. */
int report__pprof(const struct profile *p, FILE *out, const struct report_opts *o);
/* speedscope JSON: shared frames, one sampled profile per group. */
int report__speedscope(const struct profile *p, FILE *out, const struct report_opts *o);
/* Chrome trace-event JSON (Perfetto, chrome://tracing): a track per process and thread. */
int report__chrome(const struct profile *p, FILE *out, const struct report_opts *o);
/* s as a JSON string, quotes included (control characters escaped). */
void report__json_str(FILE *out, const char *s);

/* How a frame is named in every format: "qualname (file:line)" for Python,
 * "symbol" or "[unknown] (module)" for native, "symbol [k]" for kernel. Writes into buf. */
const char *report__frame_label(const struct profile *p, uint32_t frame_id, char *buf, size_t len);

/* A format: its name on the command line, its writer, and whether its output is binary
 * (then it is refused on a terminal without -o). */
struct report_format {
	const char *name;
	int (*write)(const struct profile *p, FILE *out, const struct report_opts *o);
	bool binary;
};

/* Every format, ending with a NULL name; and the one called name, or NULL. */
extern const struct report_format report_formats[];
const struct report_format *report__format(const char *name);

#endif
