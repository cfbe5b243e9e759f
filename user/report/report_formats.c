// SPDX-License-Identifier: GPL-2.0
/* The table of report formats: a new format is one writer file and one line here. Kept apart
 * from report.c so that the writers of single runs and of comparisons (report_diff.h) both
 * sit below it and no module includes the other's header in a circle. */
#include <string.h>

#include "report/report.h"
#include "report/report_diff.h"

const struct report_format report_formats[] = {
    {"text", report__text, false, report_diff__text},
    {"folded", report__folded, false, report_diff__folded},
    {"json", report__json, false, report_diff__json},
    {"pprof", report__pprof, true, NULL},
    {"speedscope", report__speedscope, false, NULL},
    {"chrome", report__chrome, false, NULL},
    {"html", report__html, false, report_diff__html},
    {NULL, NULL, false, NULL},
};

const struct report_format *report__format(const char *name)
{
	for (const struct report_format *f = report_formats; f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}
