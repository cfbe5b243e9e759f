// SPDX-License-Identifier: GPL-2.0
/* JSON comparison, for scripts and CI gates: both runs' figures per group, stack and
 * function. Every "weight" (and "self", "total") is a pair [old, new] in the report's
 * metric; every "share" the same as percentages of each run's total, whatever
 * --absolute says ("absolute" records what the other formats were asked to show). Frames
 * are the matched frames of both runs (after --strip-prefix); stacks index them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"

/* "key":[old,new],"key_share":[old%,new%] */
static void pair(const struct report_diff *d, FILE *out, const char *key, const uint64_t w[2])
{
	fprintf(out, "\"%s\":[%llu,%llu],\"%s%sshare\":[%.4f,%.4f]", key, (unsigned long long)w[0],
		(unsigned long long)w[1], strcmp(key, "weight") ? key : "",
		strcmp(key, "weight") ? "_" : "",
		d->total[0] ? 100.0 * (double)w[0] / (double)d->total[0] : 0.0,
		d->total[1] ? 100.0 * (double)w[1] / (double)d->total[1] : 0.0);
}

static void print_runs(const struct report_diff *d, FILE *out)
{
	fputs("\"runs\":[", out);
	for (int k = 0; k < 2; k++) {
		fprintf(out, "%s{\"run\":\"%s\",\"command\":", k ? ",\n" : "\n", k ? "new" : "old");
		if (d->command[k])
			report__json_str(out, d->command[k]);
		else
			fputs("null", out);
		fprintf(out, ",\"duration_ns\":%llu,\"processes\":%u,\"total\":%llu}",
			(unsigned long long)d->duration_ns[k], d->nprocs[k],
			(unsigned long long)d->total[k]);
	}
	fputs("],\n", out);
}

static void print_groups(const struct report_diff *d, FILE *out)
{
	fputs("\"groups\":[", out);
	for (uint32_t i = 0; i < d->ngroups; i++) {
		const struct diff_group *g = &d->groups[i];

		fprintf(out, "%s{\"id\":%u,\"label\":", i ? ",\n" : "\n", i);
		report__json_str(out, g->label);
		fputs(",\"name\":", out);
		report__json_str(out, g->name);
		if (g->parent == DIFF_NONE)
			fputs(",\"parent\":null", out);
		else
			fprintf(out, ",\"parent\":%u", g->parent);
		fprintf(out, ",\"status\":\"%s\",\"procs\":[%u,%u],",
			!g->nprocs[0]	? "added"
			: !g->nprocs[1] ? "removed"
					: "both",
			g->nprocs[0], g->nprocs[1]);
		pair(d, out, "weight", g->weight);
		fputc('}', out);
	}
	fputs("],\n", out);
}

int report_diff__json(const struct report_diff *d, FILE *out, const struct report_opts *o)
{
	static const char *const how[] = {"pid", "role", "none"};

	fprintf(out,
		"{\"format\":\"treeprof-diff\",\"version\":1,\"metric\":\"%s\",\"unit\":\"%s\","
		"\"absolute\":%s,\"group_by\":\"%s\",\n",
		metric__name(d->metric), metric__unit(d->metric), d->absolute ? "true" : "false",
		(unsigned)o->group < 3 ? how[o->group] : "role");
	print_runs(d, out);
	print_groups(d, out);
	report__json_frames(d->ids, out);
	fputs("\"stacks\":[", out);
	for (size_t i = 0; i < d->nstacks; i++) {
		const struct diff_stack *s = &d->stacks[i];
		uint32_t n;
		const uint32_t *fr = profile__stack_get(d->ids, s->stack, &n);

		fprintf(out, "%s{\"group\":%u,", i ? ",\n" : "\n", s->group);
		pair(d, out, "weight", s->weight);
		fputs(",\"frames\":[", out);
		for (uint32_t j = 0; j < n; j++)
			fprintf(out, "%s%u", j ? "," : "", fr[j]);
		fputs("]}", out);
	}
	fputs("],\n\"functions\":[", out);
	for (uint32_t i = 0; i < d->nfuncs; i++) {
		const struct diff_func *fn = &d->funcs[i];

		fprintf(out, "%s{\"label\":", i ? ",\n" : "\n");
		report__json_str(out, fn->label);
		fprintf(out, ",\"frame\":%u,", fn->frame);
		pair(d, out, "self", fn->self);
		fputc(',', out);
		pair(d, out, "total", fn->total);
		fputc('}', out);
	}
	fputs("]}\n", out);
	return fflush(out) || ferror(out) ? -EIO : 0;
}
