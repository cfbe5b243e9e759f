/* Hot call paths, for the text report and top: a stack condensed to its functions, leaf first,
 * without the functions on nearly every stack of its group (REPORT_EVERYWHERE: <module>,
 * main...) but for the leaf, recursion folded, at most REPORT_PATH_LEN functions; then the
 * stacks' paths merged with the same path of the same group, and shown as
 * "spin < parent_share_major". Functions are the caller's numbers (an index in its table of
 * functions); this file only condenses, merges, sorts and names. */
#ifndef TREEPROF_REPORT_PATHS_H
#define TREEPROF_REPORT_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/hash.h"

#define REPORT_PATH_LEN	      4	   /* functions in a hot call path */
#define REPORT_EVERYWHERE     0.90 /* a function with this share of its group's largest total */
#define REPORT_EVERYWHERE_MIN 20   /* ... in a group of at least this weight */
#define REPORT_PATH_NAME_MAX  100  /* bytes of one function's name in a path, its NUL included */

struct report_path {
	uint32_t group, n;
	uint32_t func[REPORT_PATH_LEN]; /* leaf first */
	uint64_t weight;
};

/* The merged paths: v[0..n), by group then heaviest first after report_paths__sort(). */
struct report_paths {
	struct report_path *v;
	size_t n, cap;
	struct htab index; /* hash of a path -> its indices in v (duplicates compared) */
};

/* Whether func is on nearly every stack of group (the callback of report_path__condense()). */
typedef bool report_everywhere_fn(const void *ctx, uint32_t group, uint32_t func);

/* The path of a stack of group: frames[0..n) root first, fmap[frame] its function. */
void report_path__condense(struct report_path *h, uint32_t group, uint64_t weight,
			   const uint32_t *frames, uint32_t n, const uint32_t *fmap,
			   report_everywhere_fn *everywhere, const void *ctx);
/* "spin < parent_share_major" into buf (cut to len): label(ctx, func) is a function's label,
 * "name (file)", which a path shows without the file ("[unknown] (module)" stays whole). */
const char *report_path__name(const struct report_path *h,
			      const char *(*label)(const void *ctx, uint32_t func), const void *ctx,
			      char *buf, size_t len);

void report_paths__init(struct report_paths *ps);
/* Add h's weight to its path (a new one when absent): 0 or -ENOMEM. Empty paths are skipped. */
int report_paths__add(struct report_paths *ps, const struct report_path *h);
/* By group, then heaviest first. */
void report_paths__sort(struct report_paths *ps);
/* Empty again, the memory kept (top's refreshes). */
void report_paths__clear(struct report_paths *ps);
void report_paths__fini(struct report_paths *ps);

#endif
