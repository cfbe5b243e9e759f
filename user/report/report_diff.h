/* Comparing two recordings (report --diff): the old run (the --diff file) and the new one,
 * lined up by role, not by pid. Computed once from two read-only profiles and the report
 * options, then read by the diff writers (report_diff_*.c); nothing here prints.
 *
 * Groups: with --group-by role each run's roles (report_group.h) are matched by their
 * name (the command line) and their place in the tree: the chain of role names from the
 * root, and among roles with the same chain, their order. A role in one run only is added
 * (nprocs[0] == 0) or removed (nprocs[1] == 0). With --group-by none there is one group.
 *
 * Frames: matched by kind, name, file and line, after the first matching prefix of
 * o->strip_prefix is removed from the file. They are interned in a scratch profile (ids),
 * so report__frame_label() names them as in every format; stacks too.
 *
 * Weights are in the report's metric (--metric). A share is a weight divided by its run's
 * total (of the kept groups); writers show shares unless o->absolute. Index 0 is the old
 * run, 1 the new one. */
#ifndef TREEPROF_REPORT_DIFF_H
#define TREEPROF_REPORT_DIFF_H

#include <stdint.h>
#include <stdio.h>

#include "report/report.h"

#define DIFF_NONE UINT32_MAX

struct diff_group {
	const char *name;   /* the role's name (report_group.h), or "all processes" */
	const char *label;  /* name, numbered " #2"... when another group has that name;
			     * no ';' or newline */
	uint32_t parent;    /* a diff group, or DIFF_NONE */
	uint32_t depth;	    /* in the tree of groups */
	uint32_t nprocs[2]; /* members in each run; 0: not in that run */
	uint64_t weight[2]; /* summed weight in each run */
};

/* A stack of one group: frames (in ids) root first, and its weight in each run. */
struct diff_stack {
	uint32_t group, stack;
	uint64_t weight[2];
};

/* A function (report_funcs.h: frames with the same kind, name and file, a Python function
 * over all its lines). self: stacks where it is the leaf; total: stacks it is in (counted
 * once). */
struct diff_func {
	uint32_t frame; /* its first frame (in ids) */
	const char *label;
	uint64_t self[2], total[2];
};

struct report_diff {
	const struct profile *ids; /* frames and stacks of both runs */
	int metric;		   /* enum metric */
	bool absolute;		   /* writers show raw weights instead of shares */
	uint64_t total[2];	   /* weight of each run (kept groups) */
	uint32_t nprocs[2];	   /* processes of each run */
	const char *command[2];	   /* each run's "command" meta (owned; may be NULL) */
	uint64_t duration_ns[2];   /* each run's "duration_ns" stat (0: unknown) */
	struct diff_group *groups; /* new run's groups in order, then removed ones */
	uint32_t ngroups;
	struct diff_stack *stacks; /* by group, then stack id */
	size_t nstacks;
	struct diff_func *funcs; /* by kind, name and file */
	uint32_t nfuncs;
};

/* Compare old and new by o (group role or none; o->pid must be 0). NULL with errno set:
 * EINVAL (group pid, or an unknown metric), ENODATA (a memory metric and a run without
 * memory events), ENOMEM. The result borrows nothing from old or new. */
struct report_diff *report_diff__new(const struct profile *old, const struct profile *new,
				     const struct report_opts *o);
void report_diff__free(struct report_diff *d);

/* w of run side (0 old, 1 new) as the writers show it: a percentage of the run's total,
 * or w itself when absolute. */
double report_diff__value(const struct report_diff *d, int side, uint64_t w);
/* value(new) - value(old): percentage points, or the raw difference when absolute. */
double report_diff__delta(const struct report_diff *d, const uint64_t w[2]);

/* The diff writers: a finished diff and a FILE, like every writer (report.h). */
int report_diff__text(const struct report_diff *d, FILE *out, const struct report_opts *o);
int report_diff__folded(const struct report_diff *d, FILE *out, const struct report_opts *o);
int report_diff__json(const struct report_diff *d, FILE *out, const struct report_opts *o);
int report_diff__html(const struct report_diff *d, FILE *out, const struct report_opts *o);

#endif
