// SPDX-License-Identifier: GPL-2.0
/* JSON: everything in the recording, for scripts and CI gates. Schema in README.md.
 * Grouping (--group-by) adds "group_by", a "groups" array and a "group" id on each stack
 * entry; stacks stay per process, so every key of version 1 keeps its meaning. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "report.h"
#include "report_group.h"

void report__json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		switch (*c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*c < 0x20)
				fprintf(out, "\\u%04x", *c);
			else
				fputc(*c, out);
		}
	}
	fputc('"', out);
}

static bool in_a_group(uint32_t proc, void *groups)
{
	return report_groups__of(groups, proc) != REPORT_NO_GROUP;
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case TP_FRAME_PYTHON:
		return "python";
	case TP_FRAME_NATIVE:
		return "native";
	case TP_FRAME_KERNEL:
		return "kernel";
	}
	return "unknown";
}

static void print_groups(const struct profile *p, const struct report_groups *g,
			 const struct report_opts *o, FILE *out)
{
	static const char *const how[] = {"pid", "role", "none"};
	const char *sep = "\n";

	fprintf(out, "\"group_by\":\"%s\",\n\"groups\":[",
		(unsigned)o->group < 3 ? how[o->group] : "pid");
	for (uint32_t i = 0; i < report_groups__count(g); i++) {
		const struct report_group_info *gi = report_groups__get(g, i);

		fprintf(out, "%s{\"id\":%u,\"label\":", sep, i);
		report__json_str(out, gi->label);
		fputs(",\"name\":", out);
		report__json_str(out, gi->name);
		if (gi->parent == REPORT_NO_GROUP)
			fputs(",\"parent\":null", out);
		else
			fprintf(out, ",\"parent\":%u", gi->parent);
		fprintf(out,
			",\"count\":%u,\"samples\":%llu,\"min_samples\":%llu,"
			"\"max_samples\":%llu,\"spread\":%llu,\"pids\":[",
			gi->nprocs, (unsigned long long)gi->samples,
			(unsigned long long)gi->min_samples, (unsigned long long)gi->max_samples,
			(unsigned long long)(gi->max_samples - gi->min_samples));
		for (uint32_t k = 0; k < gi->nprocs; k++)
			fprintf(out, "%s%d", k ? "," : "",
				(int)profile__proc_at(p, gi->procs[k])->pid);
		fputs("]}", out);
		sep = ",\n";
	}
	fputs("],\n", out);
}

int report__json(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct tp_stack_count *sc = NULL;
	size_t nsc = 0;
	const char *name, *sep = "";
	struct report_groups *g;
	uint64_t v;
	int err;

	g = report_groups__new(p, o);
	if (!g)
		return -errno;
	err = profile__stack_counts(p, in_a_group, g, &sc, &nsc);
	if (err) {
		report_groups__free(g);
		return err;
	}

	fputs("{\"format\":\"treeprof-report\",\"version\":1,\n\"meta\":{", out);
	static const char *const meta_keys[] = {"frequency", "start_unix", "command"};
	for (size_t i = 0; i < sizeof(meta_keys) / sizeof(meta_keys[0]); i++) {
		const char *val = profile__get_meta(p, meta_keys[i]);

		if (!val)
			continue;
		fprintf(out, "%s", sep);
		report__json_str(out, meta_keys[i]);
		fputc(':', out);
		report__json_str(out, val);
		sep = ",";
	}
	fputs("},\n\"stats\":{", out);
	sep = "";
	for (uint32_t i = 0; (name = profile__stat_at(p, i, &v)); i++) {
		fprintf(out, "%s", sep);
		report__json_str(out, name);
		fprintf(out, ":%llu", (unsigned long long)v);
		sep = ",";
	}
	fputs("},\n\"processes\":[", out);
	sep = "\n";
	for (uint32_t i = 0; i < profile__nprocs(p); i++) {
		const struct tp_process *pr = profile__proc_at(p, i);

		if (report_groups__of(g, i) == REPORT_NO_GROUP)
			continue;
		fprintf(out, "%s{\"pid\":%d,\"ppid\":%d,\"comm\":", sep, pr->pid, pr->ppid);
		report__json_str(out, pr->comm);
		fputs(",\"cmdline\":", out);
		report__json_str(out, pr->cmdline);
		fputs(",\"exe\":", out);
		report__json_str(out, pr->exe);
		fprintf(out,
			",\"start_ns\":%llu,\"end_ns\":%llu,\"exited\":%s,\"exit_code\":%d,"
			"\"samples\":%llu}",
			(unsigned long long)pr->start_ns, (unsigned long long)pr->end_ns,
			pr->exited ? "true" : "false", pr->exit_code,
			(unsigned long long)pr->samples);
		sep = ",\n";
	}
	fputs("],\n", out);
	print_groups(p, g, o, out);
	fputs("\"frames\":[", out);
	sep = "\n";
	for (uint32_t i = 0; i < profile__nframes(p); i++) {
		const struct tp_frame *f = profile__frame_get(p, i);

		fprintf(out, "%s{\"kind\":\"%s\",\"name\":", sep, kind_name(f->kind));
		report__json_str(out, f->name);
		fputs(",\"file\":", out);
		if (f->file)
			report__json_str(out, f->file);
		else
			fputs("null", out);
		fprintf(out, ",\"line\":%u}", f->line);
		sep = ",\n";
	}
	fputs("],\n\"stacks\":[", out);
	sep = "\n";
	for (size_t i = 0; i < nsc; i++) {
		uint32_t n;
		const uint32_t *frames = profile__stack_get(p, sc[i].stack, &n);

		fprintf(out, "%s{\"pid\":%d,\"group\":%u,\"count\":%llu,\"frames\":[", sep,
			profile__proc_at(p, sc[i].proc)->pid, report_groups__of(g, sc[i].proc),
			(unsigned long long)sc[i].weight);
		for (uint32_t j = 0; j < n; j++)
			fprintf(out, "%s%u", j ? "," : "", frames[j]);
		fputs("]}", out);
		sep = ",\n";
	}
	fputs("]}\n", out);
	free(sc);
	report_groups__free(g);
	return ferror(out) ? -EIO : 0;
}
