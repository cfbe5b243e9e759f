/* Short-lived helpers: the rule and the folded row (report_fold.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "report/report_fold.h"

bool report_fold__short_lived(const struct prof_proc *pr)
{
	return pr->exited && !(pr->exit_code & 0x7f) && pr->start_ns &&
	       pr->end_ns >= pr->start_ns && pr->end_ns - pr->start_ns < REPORT_SHORT_LIFE_NS;
}

struct fold_name {
	const char *comm;
	uint32_t n;
};

static int by_count(const void *x, const void *y)
{
	const struct fold_name *a = x, *b = y;

	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->comm, b->comm);
}

int report_fold__row(const struct profile *p, const uint32_t *procs, uint32_t n, char *row,
		     size_t len)
{
	struct fold_name *names = calloc(n + 1, sizeof(*names));
	uint32_t nnames = 0;
	size_t at;

	if (!names)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const char *comm = profile__proc_at(p, procs[i])->comm;
		uint32_t k;

		comm = comm && *comm ? comm : "?";
		for (k = 0; k < nnames && strcmp(names[k].comm, comm); k++)
			;
		names[k].comm = comm;
		names[k].n++;
		nnames += k == nnames;
	}
	qsort(names, nnames, sizeof(*names), by_count);
	at = (size_t)snprintf(row, len, "%u short-lived: ", n);
	for (uint32_t k = 0; k < nnames && at < len; k++) {
		if (k == REPORT_SHORT_NAMES) {
			snprintf(row + at, len - at, ", ...");
			break;
		}
		at += (size_t)snprintf(row + at, len - at, "%s%s x%u", k ? ", " : "", names[k].comm,
				       names[k].n);
	}
	for (char *c = row; *c; c++) /* comm comes from the target: no terminal controls */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	free(names);
	return 0;
}
