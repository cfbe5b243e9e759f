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

struct report_opts {
	pid_t pid;  /* only this process (0: the whole tree) */
	bool merge; /* folded: drop the leading process frame, merging the tree */
	bool color; /* text: ANSI colour (only when stdout is a TTY) */
	int top;    /* text: how many functions in top lists (default 15) */
};

/* Folded stacks: "COMM [PID];root;...;leaf COUNT" per unique stack, sorted. */
int report__folded(const struct profile *p, FILE *out, const struct report_opts *o);
/* JSON: processes, frames, stacks with counts, statistics (schema in README.md). */
int report__json(const struct profile *p, FILE *out, const struct report_opts *o);
/* Text summary: process tree, top functions by self and total, statistics. */
int report__text(const struct profile *p, FILE *out, const struct report_opts *o);

/* How a frame is named in every format: "qualname (file:line)" for Python,
 * "symbol" or "[unknown] (module)" for native, "symbol [k]" for kernel. Writes into buf. */
const char *report__frame_label(const struct profile *p, uint32_t frame_id, char *buf, size_t len);

#endif
