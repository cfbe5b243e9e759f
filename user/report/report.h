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
struct memacct;
struct mem_site;
struct prof_stack;
struct prof_frame;
struct report_diff;

enum report_group {
	REPORT_GROUP_PID = 0, /* one entry per process (default) */
	REPORT_GROUP_ROLE,    /* processes running the same command line merged */
	REPORT_GROUP_NONE,    /* the whole tree merged */
};

struct report_opts {
	pid_t pid;		 /* only this process (0: the whole tree) */
	enum report_group group; /* --group-by */
	const char *metric;	 /* --metric: metric__parse() names; NULL is "cpu" */
	bool merge;		 /* folded: drop the leading process frame, merging the tree */
	bool color;		 /* text: ANSI colour (only when stdout is a TTY) */
	int top;		 /* text: how many functions in top lists (default 15) */
	bool all;		 /* text: list short-lived helpers one by one, not in one row */
	bool absolute;		 /* --diff: raw weights instead of shares of each run */
	const char *const *strip_prefix; /* --diff: file prefixes removed before matching */
	int nstrip;
};

/* The metric of o (enum metric in memacct.h), or -EINVAL when o->metric is unknown. */
int report__metric(const struct report_opts *o);
/* Whether p can be reported by o's metric: 0, or -EINVAL (unknown metric) or -ENODATA (a
 * memory metric, and the recording has no memory events) with a one-line reason in err.
 * Writers return the same errors without a message; callers check first. */
int report__check(const struct profile *p, const struct report_opts *o, char *err, size_t len);
/* What every writer weighs stacks by: each (process, stack) and its weight in o's metric,
 * sorted by process index, then heaviest first, then stack id; keep (when not NULL) selects
 * processes. CPU: summed sample weights. Memory metrics: the memory sites' estimates,
 * rounded to whole bytes or allocations (zeros left out). When mem is not NULL, *mem gets
 * the memory accounts if the recording has any (NULL otherwise), for the writer to free
 * with memacct__free(). 0, -EINVAL, -ENODATA (memory metric, no memory data), -ENOMEM. */
int report__stack_weights(const struct profile *p, const struct report_opts *o,
			  bool (*keep)(uint32_t proc, void *ctx), void *ctx,
			  struct prof_stack **out, size_t *n, struct memacct **mem);
/* A memory site's estimate in a memory metric (0 for cpu). */
double report__site_weight(const struct mem_site *s, int metric);

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
/* "frames":[...],\n: every frame of p as JSON, {"kind", "name", "mangled" (only when
 * name is a demangling), "file" (null when unknown), "line"}, as the json and diff json
 * formats give them. */
void report__json_frames(const struct profile *p, FILE *out);
/* "frames":{"kind":[...],"name":[...],"file":[...],"line":[...]}: frames ids[0..n) of p
 * (frames 0..n when ids is NULL) as columns, for the HTML pages (kind: 1 python, 2 native,
 * 3 kernel; names as report__frame_name() shows them; file null when unknown; strings
 * escaped for a <script> element, JSON_HTML). */
void report__html_frames(const struct profile *p, const uint32_t *ids, uint32_t n, FILE *out);

/* How a frame is named in every format: "qualname (file:line)" for Python,
 * "symbol" (C++ demangled: report__frame_name()) or "[unknown] (module)" for native,
 * "symbol [k]" for kernel. Writes into buf. */
const char *report__frame_label(const struct profile *p, uint32_t frame_id, char *buf, size_t len);
/* A function's label, the same without the line: "qualname (file)" for Python. */
const char *report__func_label(const struct profile *p, uint32_t frame_id, char *buf, size_t len);
/* The name a frame is shown by: a native frame's C++ symbol demangled (demangle__name(),
 * "app::Engine::spin(int)"), into buf, whose DEMANGLE_OUT_MAX bytes are enough; any other
 * name as recorded. Returns buf or f->name: the raw symbol, which JSON also gives as
 * "mangled" when it differs, is f->name. */
const char *report__frame_name(const struct prof_frame *f, char *buf, size_t len);

/* A format: its name on the command line, its writer, whether its output is binary
 * (then it is refused on a terminal without -o), and its writer of a comparison of two
 * runs (report_diff.h; NULL: --diff is refused). */
struct report_format {
	const char *name;
	int (*write)(const struct profile *p, FILE *out, const struct report_opts *o);
	bool binary;
	int (*write_diff)(const struct report_diff *d, FILE *out, const struct report_opts *o);
};

/* Every format, ending with a NULL name; and the one called name, or NULL. */
extern const struct report_format report_formats[];
const struct report_format *report__format(const char *name);

#endif
