/* The memory section of the text report, and sizes as people read them. */
#ifndef TREEPROF_REPORT_MEM_H
#define TREEPROF_REPORT_MEM_H

#include <stddef.h>
#include <stdio.h>

struct profile;
struct memacct;
struct report_groups;
struct report_opts;

/* "812B", "1.21KiB", "12.3MiB", "512MiB", "3.50GiB": at most 3 significant digits. */
const char *report__human_size(char *buf, size_t len, double bytes);

/* Per process (of the groups g keeps): exact totals, estimated leaks and peak, RSS peak;
 * then the top allocation sites, the top leak sites and what was held at the tree's peak,
 * each site a process and a leaf function (the innermost Python frame, else the innermost
 * frame). At most o->top sites per list; no lists without sites. 0 or -ENOMEM. */
int report__text_memory(const struct profile *p, const struct memacct *m,
			const struct report_groups *g, const struct report_opts *o, FILE *out);

#endif
