// SPDX-License-Identifier: GPL-2.0
/* JSON: everything in the recording, for scripts and CI gates. Schema in README.md.
 * Grouping (--group-by) adds "group_by", a "groups" array and a "group" id on each stack
 * entry; stacks stay per process, so every key of version 1 keeps its meaning.
 *
 * A memory metric (--metric) adds "metric" and "unit", and the stacks' "count" is in that
 * metric. A recording with memory events adds "memory": the tree's peak, per process the
 * exact totals ("exact", null when none came) and the estimates, the sites (per process
 * and stack: allocations, bytes allocated, live at exit or end, held at the tree's and at
 * the process's peak), and the time series of heap and RSS per 100 ms. Estimates are
 * rounded to whole bytes and allocations; times are CLOCK_MONOTONIC ns. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/demangle.h"
#include "lib/json.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"

static bool in_a_group(uint32_t proc, void *groups)
{
	return report_groups__of(groups, proc) != REPORT_NO_GROUP;
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case FRAME_PYTHON:
		return "python";
	case FRAME_NATIVE:
		return "native";
	case FRAME_KERNEL:
		return "kernel";
	}
	return "unknown";
}

void report__json_frames(const struct profile *p, FILE *out)
{
	char dm[DEMANGLE_OUT_MAX];

	fputs("\"frames\":[", out);
	for (uint32_t i = 0; i < profile__nframes(p); i++) {
		const struct prof_frame *f = profile__frame_get(p, i);
		const char *name = report__frame_name(f, dm, sizeof(dm));

		fprintf(out, "%s{\"kind\":\"%s\",\"name\":", i ? ",\n" : "\n", kind_name(f->kind));
		json__write_str(out, name, JSON_NO_MAX, 0);
		if (name != f->name) {
			fputs(",\"mangled\":", out);
			json__write_str(out, f->name, JSON_NO_MAX, 0);
		}
		fputs(",\"file\":", out);
		if (f->file)
			json__write_str(out, f->file, JSON_NO_MAX, 0);
		else
			fputs("null", out);
		fprintf(out, ",\"line\":%u}", f->line);
	}
	fputs("],\n", out);
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
		json__write_str(out, gi->label, JSON_NO_MAX, 0);
		fputs(",\"name\":", out);
		json__write_str(out, gi->name, JSON_NO_MAX, 0);
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

static void print_frames(FILE *out, const struct profile *p, uint32_t stack)
{
	uint32_t n;
	const uint32_t *frames = profile__stack_get(p, stack, &n);

	fputs("\"frames\":[", out);
	for (uint32_t j = 0; j < n; j++)
		fprintf(out, "%s%u", j ? "," : "", frames[j]);
	fputc(']', out);
}

static unsigned long long num(double v)
{
	return (unsigned long long)memacct__round(v);
}

/* The memory accounts of the kept processes: totals, sites, time series. */
static void print_memory(const struct profile *p, const struct report_groups *g,
			 const struct memacct *m, FILE *out)
{
	const char *sep = "\n";

	fprintf(out,
		",\n\"memory\":{\"tree_peak_bytes\":%llu,\"tree_peak_ns\":%llu,"
		"\"unmatched_frees\":%llu,\n\"processes\":[",
		num(m->tree_peak_bytes), (unsigned long long)m->tree_peak_ts,
		(unsigned long long)m->unmatched_frees);
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mem_proc *mp = &m->procs[i];
		const struct tp_memcounters *c = &mp->c;

		if (report_groups__of(g, mp->proc) == REPORT_NO_GROUP)
			continue;
		fprintf(out, "%s{\"pid\":%d,\"exact\":", sep, profile__proc_at(p, mp->proc)->pid);
		if (mp->has_counters)
			fprintf(
			    out,
			    "{\"alloc_count\":%llu,\"alloc_bytes\":%llu,\"free_count\":%llu,"
			    "\"failed\":%llu,\"in_use\":%llu,\"peak_in_use\":%llu,\"sampled\":%llu,"
			    "\"rate\":%llu}",
			    (unsigned long long)c->alloc_count, (unsigned long long)c->alloc_bytes,
			    (unsigned long long)c->free_count, (unsigned long long)c->failed,
			    (unsigned long long)c->in_use, (unsigned long long)c->peak_in_use,
			    (unsigned long long)c->sampled, (unsigned long long)c->rate);
		else
			fputs("null", out);
		fprintf(out,
			",\"alloc_count\":%llu,\"alloc_bytes\":%llu,\"live_bytes\":%llu,"
			"\"live_inherited_bytes\":%llu,\"peak_bytes\":%llu,\"peak_ns\":%llu,"
			"\"rss_peak\":%llu,\"inherited_frees\":%llu,\"unmatched_frees\":%llu,"
			"\"finalize_ns\":%llu}",
			num(mp->alloc_count), num(mp->alloc_bytes), num(mp->live_bytes),
			num(mp->live_inherited_bytes), num(mp->peak_bytes),
			(unsigned long long)mp->peak_ts, (unsigned long long)mp->rss_peak,
			(unsigned long long)mp->inherited_frees,
			(unsigned long long)mp->unmatched_frees, (unsigned long long)mp->final_ts);
		sep = ",\n";
	}
	fputs("],\n\"sites\":[", out);
	sep = "\n";
	for (size_t i = 0; i < m->nsites; i++) {
		const struct mem_site *s = &m->sites[i];

		if (report_groups__of(g, s->proc) == REPORT_NO_GROUP)
			continue;
		fprintf(
		    out,
		    "%s{\"pid\":%d,\"alloc_count\":%llu,\"alloc_bytes\":%llu,\"live_bytes\":%llu,"
		    "\"live_inherited_bytes\":%llu,\"peak_bytes\":%llu,\"proc_peak_bytes\":%llu,",
		    sep, profile__proc_at(p, s->proc)->pid, num(s->alloc_count),
		    num(s->alloc_bytes), num(s->live_bytes), num(s->live_inherited_bytes),
		    num(s->peak_bytes), num(s->proc_peak_bytes));
		print_frames(out, p, s->stack);
		fputc('}', out);
		sep = ",\n";
	}
	fputs("],\n\"series\":[", out);
	sep = "\n";
	for (size_t i = 0; i < m->npoints; i++) {
		const struct mem_point *pt = &m->series[i];

		if (report_groups__of(g, pt->proc) == REPORT_NO_GROUP)
			continue;
		fprintf(out, "%s{\"t_ns\":%llu,\"pid\":%d,\"heap_bytes\":%llu,\"rss_bytes\":%llu}",
			sep, (unsigned long long)pt->ts_ns, profile__proc_at(p, pt->proc)->pid,
			num(pt->heap_bytes), (unsigned long long)pt->rss_bytes);
		sep = ",\n";
	}
	fputs("]}", out);
}

int report__json(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct prof_stack *sc = NULL;
	struct memacct *mem = NULL;
	size_t nsc = 0;
	const char *name, *sep = "";
	struct report_groups *g;
	int err, metric = report__metric(o);
	uint64_t v;

	g = report_groups__new(p, o);
	if (!g)
		return -errno;
	err = report__stack_weights(p, o, in_a_group, g, &sc, &nsc, &mem);
	if (err) {
		report_groups__free(g);
		return err;
	}

	fputs("{\"format\":\"treeprof-report\",\"version\":1,", out);
	if (metric != METRIC_CPU) /* "count" of stacks is in this metric */
		fprintf(out, "\"metric\":\"%s\",\"unit\":\"%s\",", metric__name(metric),
			metric__unit(metric));
	fputs("\n\"meta\":{", out);
	static const char *const meta_keys[] = {"frequency", "start_unix", "command"};
	for (size_t i = 0; i < sizeof(meta_keys) / sizeof(meta_keys[0]); i++) {
		const char *val = profile__get_meta(p, meta_keys[i]);

		if (!val)
			continue;
		fprintf(out, "%s", sep);
		json__write_str(out, meta_keys[i], JSON_NO_MAX, 0);
		fputc(':', out);
		json__write_str(out, val, JSON_NO_MAX, 0);
		sep = ",";
	}
	fputs("},\n\"stats\":{", out);
	sep = "";
	for (uint32_t i = 0; (name = profile__stat_at(p, i, &v)); i++) {
		fprintf(out, "%s", sep);
		json__write_str(out, name, JSON_NO_MAX, 0);
		fprintf(out, ":%llu", (unsigned long long)v);
		sep = ",";
	}
	fputs("},\n\"processes\":[", out);
	sep = "\n";
	for (uint32_t i = 0; i < profile__nprocs(p); i++) {
		const struct prof_proc *pr = profile__proc_at(p, i);

		if (report_groups__of(g, i) == REPORT_NO_GROUP)
			continue;
		fprintf(out, "%s{\"pid\":%d,\"ppid\":%d,\"comm\":", sep, pr->pid, pr->ppid);
		json__write_str(out, pr->comm, JSON_NO_MAX, 0);
		fputs(",\"cmdline\":", out);
		json__write_str(out, pr->cmdline, JSON_NO_MAX, 0);
		fputs(",\"exe\":", out);
		json__write_str(out, pr->exe, JSON_NO_MAX, 0);
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
	report__json_frames(p, out);
	fputs("\"stacks\":[", out);
	sep = "\n";
	for (size_t i = 0; i < nsc; i++) {
		fprintf(out, "%s{\"pid\":%d,\"group\":%u,\"count\":%llu,", sep,
			profile__proc_at(p, sc[i].proc)->pid, report_groups__of(g, sc[i].proc),
			(unsigned long long)sc[i].weight);
		print_frames(out, p, sc[i].stack);
		fputc('}', out);
		sep = ",\n";
	}
	fputc(']', out);
	if (mem)
		print_memory(p, g, mem, out);
	fputs("}\n", out);
	free(sc);
	memacct__free(mem);
	report_groups__free(g);
	return ferror(out) ? -EIO : 0;
}
