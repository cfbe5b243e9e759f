/* The memory section of the text report, and what the text writers (report_text.c,
 * report_diff_text.c, report_mem.c) share: sizes as people read them, names cut to a
 * column, section headings. */
#ifndef TREEPROF_REPORT_MEM_H
#define TREEPROF_REPORT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct profile;
struct memacct;
struct report_groups;
struct report_opts;

/* "812B", "1.21KiB", "12.3MiB", "512MiB", "3.50GiB": at most 3 significant digits. */
const char *report__human_size(char *buf, size_t len, double bytes);

/* s copied into buf (of size > width), at most width bytes: the middle elided with "..."
 * (cut short when width < 8). Returns buf. */
const char *report__fit(char *buf, const char *s, size_t width);
/* A section title after a blank line, bold (ANSI) when color. */
void report__heading(FILE *out, const char *title, bool color);

/* Per process (of the groups g keeps): exact totals, estimated leaks and peak, RSS peak;
 * then the top allocation sites, the top leak sites and what was held at the tree's peak,
 * each site a process and a leaf function (the innermost Python frame, else the innermost
 * frame). At most o->top sites per list; no lists without sites. 0 or -ENOMEM. */
int report__text_memory(const struct profile *p, const struct memacct *m,
			const struct report_groups *g, const struct report_opts *o, FILE *out);

#endif
