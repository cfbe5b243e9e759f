// SPDX-License-Identifier: GPL-2.0
/* Chrome trace-event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing: one track
 * per process (pid) and thread (tid), named by "process_name" and "thread_name" metadata
 * events (and "process_labels" with the role under --group-by role).
 *
 * Samples become "X" (complete) events, a flame chart in time: on each thread, a frame
 * that stays on the stack over consecutive samples is one event lasting from its first
 * sample to the next sample that no longer has it (the last one lasts one sample period,
 * 1e9 / the "frequency" meta); a gap of more than two periods without samples (the thread
 * was off CPU) closes every frame. The "samples"/"stackFrames" form of the format would
 * be smaller, but Perfetto's JSON importer ignores it, so X events it is. The output is
 * one event per frame opening: runs of the same stack cost one set of events, and code
 * that keeps changing deep stacks costs up to one event per frame per sample.
 *
 * Times are whole microseconds from the first sample kept; names are the frame labels of
 * every format, categories the frame kinds (python, native, kernel).
 *
 * A recording with memory events adds two counter tracks ("C" events) per process: the
 * estimated heap held and the RSS, every 100 ms where they changed (memacct.h's series),
 * and times start at the first sample or memory event. The flame chart stays the CPU
 * samples' whatever the --metric: a memory metric only has to have memory events. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"

#define LABEL_MAX (2 * 65536 + 64)

struct skey {
	uint64_t thread; /* proc << 32 | tid */
	uint64_t ts;
	uint32_t idx;
};

struct open_frame {
	uint32_t frame;
	uint64_t start;
};

struct chrome {
	const struct profile *p;
	FILE *out;
	char **names; /* per frame id (and one more for "[unknown]"): a JSON string */
	uint64_t t0, period;
	struct open_frame *open;
	uint32_t nopen, cap;
	const char *sep;
	char *buf; /* one event */
	size_t bufcap;
	int err; /* out of memory while writing events */
};

static const char *kind_name(const struct profile *p, uint32_t frame)
{
	const struct prof_frame *f = profile__frame_get(p, frame);

	if (!f)
		return "unknown";
	return f->kind == FRAME_PYTHON ? "python" : f->kind == FRAME_KERNEL ? "kernel" : "native";
}

static char *put_u64(char *s, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*s++ = tmp[--n];
	return s;
}

/* ns as whole microseconds (the format's unit; samples are 100 us apart at the least) */
static char *put_us(char *s, uint64_t ns)
{
	return put_u64(s, (ns + 500) / 1000);
}

static char *put_str(char *s, const char *str)
{
	size_t n = strlen(str);

	memcpy(s, str, n);
	return s + n;
}

static void emit(struct chrome *c, uint32_t pid, uint32_t tid, const struct open_frame *f,
		 uint64_t end)
{
	const char *name = c->names[f->frame];
	size_t need = strlen(name) + 256;
	char *s;

	if (need > c->bufcap) {
		char *nb = realloc(c->buf, need);

		if (!nb) {
			c->err = -ENOMEM;
			return;
		}
		c->buf = nb;
		c->bufcap = need;
	}
	s = put_str(c->buf, c->sep);
	s = put_str(s, "{\"ph\":\"X\",\"pid\":");
	s = put_u64(s, pid);
	s = put_str(s, ",\"tid\":");
	s = put_u64(s, tid);
	s = put_str(s, ",\"ts\":");
	s = put_us(s, f->start - c->t0);
	s = put_str(s, ",\"dur\":");
	s = put_us(s, end - f->start);
	s = put_str(s, ",\"cat\":\"");
	s = put_str(s, kind_name(c->p, f->frame));
	s = put_str(s, "\",\"name\":");
	s = put_str(s, name);
	*s++ = '}';
	fwrite(c->buf, 1, s - c->buf, c->out);
	c->sep = ",\n";
}

static void close_to(struct chrome *c, uint32_t pid, uint32_t tid, uint32_t keep, uint64_t end)
{
	while (c->nopen > keep) {
		c->nopen--;
		emit(c, pid, tid, &c->open[c->nopen], end);
	}
}

static int by_thread_ts(const void *x, const void *y)
{
	const struct skey *a = x, *b = y;

	if (a->thread != b->thread)
		return a->thread < b->thread ? -1 : 1;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The samples of one thread, in time order, as nested X events. */
static int write_thread(struct chrome *c, const struct skey *k, size_t n)
{
	const struct prof_proc *pr = profile__proc_at(c->p, k[0].thread >> 32);
	uint32_t unknown = profile__nframes(c->p), tid = (uint32_t)k[0].thread;
	uint64_t last = 0;

	c->nopen = 0;
	for (size_t i = 0; i < n; i++) {
		const struct prof_sample *s = profile__sample_at(c->p, k[i].idx);
		uint32_t nf, same = 0;
		const uint32_t *frames = profile__stack_get(c->p, s->stack, &nf);

		if (!nf) {
			frames = &unknown;
			nf = 1;
		}
		if (c->nopen && s->ts_ns > last + 2 * c->period) {
			close_to(c, pr->pid, tid, 0, last + c->period);
		} else {
			while (same < c->nopen && same < nf && c->open[same].frame == frames[same])
				same++;
			close_to(c, pr->pid, tid, same, s->ts_ns);
		}
		if (nf > c->cap) {
			struct open_frame *no = reallocarray(c->open, nf, sizeof(*no));

			if (!no)
				return -ENOMEM;
			c->open = no;
			c->cap = nf;
		}
		for (uint32_t d = c->nopen; d < nf; d++)
			c->open[d] = (struct open_frame){frames[d], s->ts_ns};
		c->nopen = nf;
		last = s->ts_ns;
	}
	close_to(c, pr->pid, tid, 0, last + c->period);
	return 0;
}

static char *json_string(const char *s)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	json__write_str(f, s, JSON_NO_MAX, 0);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void write_metadata(struct chrome *c, const struct report_groups *g,
			   const struct report_opts *o)
{
	for (uint32_t i = 0; i < profile__nprocs(c->p); i++) {
		const struct prof_proc *pr = profile__proc_at(c->p, i);
		uint32_t group = report_groups__of(g, i);

		if (group == REPORT_NO_GROUP)
			continue;
		fprintf(c->out,
			"%s{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"process_name\","
			"\"args\":{\"name\":",
			c->sep, (int)pr->pid, (int)pr->pid);
		json__write_str(c->out, *pr->cmdline ? pr->cmdline : pr->comm, JSON_NO_MAX, 0);
		fputs("}}", c->out);
		c->sep = ",\n";
		if (o->group != REPORT_GROUP_ROLE)
			continue;
		fprintf(c->out,
			",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"process_labels\","
			"\"args\":{\"labels\":",
			(int)pr->pid, (int)pr->pid);
		json__write_str(c->out, report_groups__get(g, group)->label, JSON_NO_MAX, 0);
		fputs("}}", c->out);
	}
}

static void write_thread_name(struct chrome *c, uint32_t proc, uint32_t tid)
{
	const struct prof_proc *pr = profile__proc_at(c->p, proc);

	fprintf(c->out, "%s{\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"name\":\"thread_name\",\"args\":{",
		c->sep, (int)pr->pid, tid);
	if (tid == (uint32_t)pr->pid) {
		fputs("\"name\":", c->out);
		json__write_str(c->out, pr->comm, JSON_NO_MAX, 0);
		fputs("}}", c->out);
	} else {
		fprintf(c->out, "\"name\":\"thread %u\"}}", tid);
	}
	c->sep = ",\n";
}

/* Counter events: per kept process, the heap (each point) and the RSS (when sampled). */
static void write_counters(struct chrome *c, const struct report_groups *g, const struct memacct *m)
{
	for (size_t i = 0; i < m->npoints; i++) {
		const struct mem_point *pt = &m->series[i];
		uint64_t us = (pt->ts_ns > c->t0 ? pt->ts_ns - c->t0 : 0) / 1000;
		int pid = profile__proc_at(c->p, pt->proc)->pid;

		if (report_groups__of(g, pt->proc) == REPORT_NO_GROUP)
			continue;
		fprintf(c->out,
			"%s{\"ph\":\"C\",\"pid\":%d,\"ts\":%llu,\"name\":\"heap (estimated)\","
			"\"args\":{\"bytes\":%llu}}",
			c->sep, pid, (unsigned long long)us,
			(unsigned long long)memacct__round(pt->heap_bytes));
		c->sep = ",\n";
		if (pt->rss_bytes)
			fprintf(c->out,
				",\n{\"ph\":\"C\",\"pid\":%d,\"ts\":%llu,\"name\":\"rss\","
				"\"args\":{\"bytes\":%llu}}",
				pid, (unsigned long long)us, (unsigned long long)pt->rss_bytes);
	}
}

static int collect(struct chrome *c, const struct report_groups *g, struct skey **keys,
		   size_t *nkeys)
{
	size_t ns = profile__nsamples(c->p), n = 0, np = profile__nprocs(c->p);
	struct skey *k = malloc((ns + 1) * sizeof(*k));
	size_t *at = calloc(np + 1, sizeof(*at));

	if (!k || !at) {
		free(k);
		free(at);
		return -ENOMEM;
	}
	/* samples arrive nearly in time order: bucket them by process (stable), then sort
	 * only the buckets that are not already in (tid, time) order */
	c->t0 = UINT64_MAX;
	for (size_t i = 0; i < ns; i++) {
		const struct prof_sample *s = profile__sample_at(c->p, i);

		if (report_groups__of(g, s->proc) == REPORT_NO_GROUP)
			continue;
		at[s->proc + 1]++;
		n++;
		c->t0 = s->ts_ns < c->t0 ? s->ts_ns : c->t0;
	}
	for (size_t p = 0; p < np; p++)
		at[p + 1] += at[p];
	for (size_t i = 0; i < ns; i++) {
		const struct prof_sample *s = profile__sample_at(c->p, i);

		if (report_groups__of(g, s->proc) != REPORT_NO_GROUP)
			k[at[s->proc]++] =
			    (struct skey){(uint64_t)s->proc << 32 | s->tid, s->ts_ns, (uint32_t)i};
	}
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		bool sorted = true;

		for (hi = lo + 1; hi < n && k[hi].thread >> 32 == k[lo].thread >> 32; hi++)
			sorted = sorted && by_thread_ts(&k[hi - 1], &k[hi]) < 0;
		if (!sorted)
			qsort(k + lo, hi - lo, sizeof(*k), by_thread_ts);
	}
	if (!n)
		c->t0 = 0;
	free(at);
	*keys = k;
	*nkeys = n;
	return 0;
}

int report__chrome(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct chrome c = {.p = p, .out = out, .sep = "\n"};
	const char *freq = profile__get_meta(p, "frequency"),
		   *cmd = profile__get_meta(p, "command");
	uint32_t nframes = profile__nframes(p);
	long hz = freq ? strtol(freq, NULL, 10) : 0;
	struct report_groups *g = report_groups__new(p, o);
	struct skey *keys = NULL;
	struct memacct *mem = NULL;
	char *lab = malloc(LABEL_MAX);
	size_t nkeys = 0, i, j;
	int err = -ENOMEM, metric = report__metric(o);

	if (metric < 0 || (metric != METRIC_CPU && !memacct__has_data(p))) {
		err = metric < 0 ? -EINVAL : -ENODATA;
		goto out;
	}
	if (memacct__has_data(p)) {
		mem = memacct__compute(p);
		if (!mem) {
			err = -errno;
			goto out;
		}
	}
	c.period = 1000000000ULL / (uint64_t)(hz > 0 ? hz : 99);
	c.names = calloc((size_t)nframes + 1, sizeof(*c.names));
	if (!g || !lab || !c.names)
		goto out;
	for (uint32_t f = 0; f <= nframes; f++) {
		c.names[f] = json_string(f < nframes ? report__frame_label(p, f, lab, LABEL_MAX)
						     : "[unknown]");
		if (!c.names[f])
			goto out;
	}
	err = collect(&c, g, &keys, &nkeys);
	if (err)
		goto out;
	if (mem && mem->npoints && (!nkeys || mem->series[0].ts_ns < c.t0))
		c.t0 = mem->series[0].ts_ns;
	fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"exporter\":\"treeprof\"", out);
	if (cmd) {
		fputs(",\"command\":", out);
		json__write_str(out, cmd, JSON_NO_MAX, 0);
	}
	fprintf(out, ",\"period_ns\":%llu},\n\"traceEvents\":[", (unsigned long long)c.period);
	write_metadata(&c, g, o);
	if (mem)
		write_counters(&c, g, mem);
	for (i = 0; i < nkeys; i = j) {
		for (j = i; j < nkeys && keys[j].thread == keys[i].thread; j++)
			;
		write_thread_name(&c, keys[i].thread >> 32, (uint32_t)keys[i].thread);
		err = write_thread(&c, keys + i, j - i);
		if (err)
			goto out;
	}
	fputs("\n]}\n", out);
	err = c.err ? c.err : fflush(out) || ferror(out) ? -EIO : 0;
out:
	for (uint32_t f = 0; c.names && f <= nframes; f++)
		free(c.names[f]);
	free(c.names);
	free(c.open);
	free(c.buf);
	free(keys);
	free(lab);
	report_groups__free(g);
	memacct__free(mem);
	return err;
}
