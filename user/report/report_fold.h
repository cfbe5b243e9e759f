/* Short-lived helpers (a pyenv shim's bash and readlink, sh -c children), for the text report
 * and top, which list two or more of them in one row: the rule a process must meet by itself
 * (each viewer adds its own: top nothing, the report a small weight and no memory events), and
 * the text of that row. */
#ifndef TREEPROF_REPORT_FOLD_H
#define TREEPROF_REPORT_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_SHORT_LIFE_NS 2000000000ULL
#define REPORT_SHORT_NAMES   6 /* commands named in the folded row, the most frequent first */

struct profile;
struct prof_proc;

/* Exited (not killed by a signal: a crash stays in sight) after less than REPORT_SHORT_LIFE_NS. */
bool report_fold__short_lived(const struct prof_proc *pr);
/* "41 short-lived: bash x38, readlink x3" for the processes procs[0..n) of p, into row (cut to
 * len; control bytes of the commands become '?'): 0 or -ENOMEM. */
int report_fold__row(const struct profile *p, const uint32_t *procs, uint32_t n, char *row,
		     size_t len);

#endif
