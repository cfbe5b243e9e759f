// SPDX-License-Identifier: GPL-2.0
/* JSON: everything in the recording, for scripts and CI gates. Schema in README.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "report.h"

static void json_str(FILE *out, const char *s)
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

struct stack_count {
	uint32_t proc, stack;
	uint64_t weight;
};

struct collect {
	struct stack_count *v;
	size_t n, cap;
	const struct profile *p;
	pid_t pid;
};

static int collect_one(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	struct collect *c = ctx;

	if (c->pid && profile__proc_at(c->p, proc)->pid != c->pid)
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		struct stack_count *nv = realloc(c->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = (struct stack_count){proc, stack, weight};
	return 0;
}

static int cmp_count(const void *a, const void *b)
{
	const struct stack_count *x = a, *y = b;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
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

int report__json(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct collect c = {.p = p, .pid = o->pid};
	const char *name, *sep = "";
	uint64_t v;
	int err;

	err = profile__for_each_stack_count(p, collect_one, &c);
	if (err) {
		free(c.v);
		return err;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_count);

	fputs("{\"format\":\"treeprof-report\",\"version\":1,\n\"meta\":{", out);
	static const char *const meta_keys[] = {"frequency", "start_unix", "command"};
	for (size_t i = 0; i < sizeof(meta_keys) / sizeof(meta_keys[0]); i++) {
		const char *val = profile__get_meta(p, meta_keys[i]);

		if (!val)
			continue;
		fprintf(out, "%s", sep);
		json_str(out, meta_keys[i]);
		fputc(':', out);
		json_str(out, val);
		sep = ",";
	}
	fputs("},\n\"stats\":{", out);
	sep = "";
	for (uint32_t i = 0; (name = profile__stat_at(p, i, &v)); i++) {
		fprintf(out, "%s", sep);
		json_str(out, name);
		fprintf(out, ":%llu", (unsigned long long)v);
		sep = ",";
	}
	fputs("},\n\"processes\":[", out);
	sep = "\n";
	for (uint32_t i = 0; i < profile__nprocs(p); i++) {
		const struct tp_process *pr = profile__proc_at(p, i);

		if (o->pid && pr->pid != o->pid)
			continue;
		fprintf(out, "%s{\"pid\":%d,\"ppid\":%d,\"comm\":", sep, pr->pid, pr->ppid);
		json_str(out, pr->comm);
		fputs(",\"cmdline\":", out);
		json_str(out, pr->cmdline);
		fputs(",\"exe\":", out);
		json_str(out, pr->exe);
		fprintf(out,
			",\"start_ns\":%llu,\"end_ns\":%llu,\"exited\":%s,\"exit_code\":%d,"
			"\"samples\":%llu}",
			(unsigned long long)pr->start_ns, (unsigned long long)pr->end_ns,
			pr->exited ? "true" : "false", pr->exit_code,
			(unsigned long long)pr->samples);
		sep = ",\n";
	}
	fputs("],\n\"frames\":[", out);
	sep = "\n";
	for (uint32_t i = 0; i < profile__nframes(p); i++) {
		const struct tp_frame *f = profile__frame_get(p, i);

		fprintf(out, "%s{\"kind\":\"%s\",\"name\":", sep, kind_name(f->kind));
		json_str(out, f->name);
		fputs(",\"file\":", out);
		if (f->file)
			json_str(out, f->file);
		else
			fputs("null", out);
		fprintf(out, ",\"line\":%u}", f->line);
		sep = ",\n";
	}
	fputs("],\n\"stacks\":[", out);
	sep = "\n";
	for (size_t i = 0; i < c.n; i++) {
		uint32_t n;
		const uint32_t *frames = profile__stack_get(p, c.v[i].stack, &n);

		fprintf(out, "%s{\"pid\":%d,\"count\":%llu,\"frames\":[", sep,
			profile__proc_at(p, c.v[i].proc)->pid, (unsigned long long)c.v[i].weight);
		for (uint32_t j = 0; j < n; j++)
			fprintf(out, "%s%u", j ? "," : "", frames[j]);
		fputs("]}", out);
		sep = ",\n";
	}
	fputs("]}\n", out);
	free(c.v);
	return ferror(out) ? -EIO : 0;
}
