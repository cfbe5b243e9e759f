// SPDX-License-Identifier: GPL-2.0
/* The table of report formats: a new format is one writer file and one line here. */
#include <string.h>

#include "report.h"

const struct report_format report_formats[] = {
    {"text", report__text, false},
    {"folded", report__folded, false},
    {"json", report__json, false},
    {"pprof", report__pprof, true},
    {"speedscope", report__speedscope, false},
    {"chrome", report__chrome, false},
    {"html", report__html, false},
    {NULL, NULL, false},
};

const struct report_format *report__format(const char *name)
{
	for (const struct report_format *f = report_formats; f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}
