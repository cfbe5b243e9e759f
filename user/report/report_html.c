// SPDX-License-Identifier: GPL-2.0
/* HTML: one self-contained page, opened offline in any browser, with a flame graph, a
 * process tree selector and a per-process CPU timeline.
 *
 * The page itself (HTML, CSS, JS) is user/report/report_html.html, turned into the C string
 * report_html_template by the Makefile ($(OUTPUT)/report_html_tmpl.h). This writer only
 * fills the page's data block with the profile as JSON, small enough for a million
 * samples: interned frames, the stacks as a prefix tree (each stack id is its parent's id
 * plus a leaf frame), per-process (stack id, count) pairs and per-process timeline buckets.
 * The page computes the flame graph of any selection from those. Every string from the
 * recording is escaped for both JSON and the <script> element holding it.
 *
 * Metrics are the page's tabs: "cpu", and with memory events also "alloc_bytes",
 * "alloc_count", "live_bytes" and "peak_bytes" (memacct.h), the --metric one first (the
 * tab shown). A memory metric's timeline is what was allocated per bucket (alloc_*) or the
 * estimated heap held (live_bytes, peak_bytes: the last level in the bucket), and each
 * process carries its "total" in that metric. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/demangle.h"
#include "lib/json.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"
#include "report_html_tmpl.h" /* generated: static const char report_html_template[] */

#define DATA_MARK  "@@TREEPROF_DATA@@" /* where the template takes the JSON */
#define TL_BUCKETS 200		       /* timeline buckets over the whole recording */
#define NONE	   UINT32_MAX

struct html {
	const struct profile *p;
	pid_t pid; /* only this process (0: all) */
	/* (process, stack) counts of the kept processes, by process then count */
	struct prof_stack *counts;
	size_t ncounts;
	/* page frames: profile frame id -> page frame id (NONE: unused), and back */
	uint32_t *fmap, *frames, nframes;
	/* the prefix tree: node i is (parent[i] or NONE, page frame frame[i]); parents come
	 * before their children. smap: profile stack id -> node (NONE: not yet mapped). */
	uint32_t *parent, *frame, nnodes, nodes_cap;
	uint32_t *slots, nslots; /* hash of nodes by (parent, frame): node + 1, 0 empty */
	uint32_t *smap;
	/* timeline: nprocs x TL_BUCKETS summed weights over [t0, t0 + TL_BUCKETS * bucket_ns) */
	uint64_t t0, bucket_ns, *buckets;
	/* roles, as every other format groups them (report_group.h) */
	struct report_groups *roles;
	/* memory (NULL: none): nprocs x TL_BUCKETS each for allocated bytes, allocations and
	 * the heap held; the metrics shown, the --metric one first */
	struct memacct *mem;
	double *mb_bytes, *mb_count, *mb_heap;
	int metrics[5], nmetrics;
};

static bool proc_kept(const struct html *h, uint32_t idx)
{
	return !h->pid || profile__proc_at(h->p, idx)->pid == h->pid;
}

static bool keep_proc(uint32_t proc, void *ctx)
{
	return proc_kept(ctx, proc);
}

static uint32_t node_hash(uint32_t parent, uint32_t frame)
{
	uint64_t k = ((uint64_t)parent << 32 | frame) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(k >> 32);
}

static int nodes_grow(struct html *h)
{
	uint32_t ncap = h->nodes_cap ? h->nodes_cap * 2 : 4096, nslots = ncap * 2;
	uint32_t *np, *nf, *ns;

	np = realloc(h->parent, ncap * sizeof(*np));
	if (!np)
		return -ENOMEM;
	h->parent = np;
	nf = realloc(h->frame, ncap * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	h->frame = nf;
	ns = calloc(nslots, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->nnodes; i++) {
		uint32_t j = node_hash(h->parent[i], h->frame[i]) & (nslots - 1);

		while (ns[j])
			j = (j + 1) & (nslots - 1);
		ns[j] = i + 1;
	}
	free(h->slots);
	h->slots = ns;
	h->nslots = nslots;
	h->nodes_cap = ncap;
	return 0;
}

/* The node for (parent, page frame), made if new. */
static int node_intern(struct html *h, uint32_t parent, uint32_t frame, uint32_t *id)
{
	uint32_t j;
	int err;

	if (h->nnodes == h->nodes_cap) {
		err = nodes_grow(h);
		if (err)
			return err;
	}
	j = node_hash(parent, frame) & (h->nslots - 1);
	for (; h->slots[j]; j = (j + 1) & (h->nslots - 1)) {
		uint32_t n = h->slots[j] - 1;

		if (h->parent[n] == parent && h->frame[n] == frame) {
			*id = n;
			return 0;
		}
	}
	h->parent[h->nnodes] = parent;
	h->frame[h->nnodes] = frame;
	h->slots[j] = ++h->nnodes;
	*id = h->nnodes - 1;
	return 0;
}

/* Map a profile stack to its node, interning its frames and prefixes on first use. */
static int stack_node(struct html *h, uint32_t stack, uint32_t *id)
{
	const uint32_t *fr;
	uint32_t n, node = NONE;
	int err;

	if (h->smap[stack] != NONE) {
		*id = h->smap[stack];
		return 0;
	}
	fr = profile__stack_get(h->p, stack, &n);
	for (uint32_t i = 0; i < n; i++) {
		if (h->fmap[fr[i]] == NONE) {
			h->frames[h->nframes] = fr[i];
			h->fmap[fr[i]] = h->nframes++;
		}
		err = node_intern(h, node, h->fmap[fr[i]], &node);
		if (err)
			return err;
	}
	h->smap[stack] = node; /* NONE for an empty stack: counted, not in the graph */
	*id = node;
	return 0;
}

/* Bucket the kept processes' samples over the span of their samples and lifetimes. */
static int timeline(struct html *h)
{
	const struct profile *p = h->p;
	size_t ns = profile__nsamples(p);
	uint64_t t0 = UINT64_MAX, t1 = 0;

	for (uint32_t i = 0; i < profile__nprocs(p); i++) {
		const struct prof_proc *pr = profile__proc_at(p, i);

		if (!proc_kept(h, i))
			continue;
		if (pr->start_ns && pr->start_ns < t0)
			t0 = pr->start_ns;
		if (pr->end_ns > t1)
			t1 = pr->end_ns;
	}
	for (size_t i = 0; i < ns; i++) {
		const struct prof_sample *s = profile__sample_at(p, i);

		if (!proc_kept(h, s->proc))
			continue;
		if (s->ts_ns < t0)
			t0 = s->ts_ns;
		if (s->ts_ns > t1)
			t1 = s->ts_ns;
	}
	for (size_t i = 0; h->mem && i < profile__nmem(p); i++) {
		const struct prof_memrec *r = profile__mem_at(p, i);

		if (!proc_kept(h, r->proc))
			continue;
		t0 = r->ts_ns < t0 ? r->ts_ns : t0;
		t1 = r->ts_ns > t1 ? r->ts_ns : t1;
	}
	if (t0 > t1)
		t0 = t1;
	h->t0 = t0;
	h->bucket_ns = (t1 - t0) / TL_BUCKETS + 1;
	h->buckets = calloc((size_t)profile__nprocs(p) * TL_BUCKETS, sizeof(*h->buckets));
	if (!h->buckets)
		return -ENOMEM;
	for (size_t i = 0; i < ns; i++) {
		const struct prof_sample *s = profile__sample_at(p, i);

		if (proc_kept(h, s->proc) && s->ts_ns >= t0)
			h->buckets[(size_t)s->proc * TL_BUCKETS + (s->ts_ns - t0) / h->bucket_ns] +=
			    s->weight;
	}
	return 0;
}

static size_t bucket_of(const struct html *h, uint64_t ts)
{
	uint64_t b = ts > h->t0 ? (ts - h->t0) / h->bucket_ns : 0;

	return b < TL_BUCKETS ? b : TL_BUCKETS - 1;
}

/* Memory timelines: bytes and allocations per bucket from the sampled allocations; the
 * heap held from the time series, carried over the buckets without a point. */
static int mem_timeline(struct html *h)
{
	size_t n = (size_t)profile__nprocs(h->p) * TL_BUCKETS, *next;
	const struct memacct *m = h->mem;

	h->mb_bytes = calloc(n + 1, sizeof(double));
	h->mb_count = calloc(n + 1, sizeof(double));
	h->mb_heap = calloc(n + 1, sizeof(double));
	if (!h->mb_bytes || !h->mb_count || !h->mb_heap)
		return -ENOMEM;
	for (size_t i = 0; i < profile__nmem(h->p); i++) {
		const struct prof_memrec *r = profile__mem_at(h->p, i);
		size_t b = (size_t)r->proc * TL_BUCKETS + bucket_of(h, r->ts_ns);
		double w;

		if (r->type != MEMREC_ALLOC || !proc_kept(h, r->proc))
			continue;
		w = memacct__weight(r->size, r->rate);
		h->mb_bytes[b] += w;
		h->mb_count[b] += r->size && r->rate > 1 ? w / (double)r->size : 1;
	}
	/* backwards, so each point knows where the process's next one starts; a level holds
	 * until then, and a bucket keeps the last level reached in it */
	next = malloc(((size_t)profile__nprocs(h->p) + 1) * sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (uint32_t i = 0; i < profile__nprocs(h->p); i++)
		next[i] = TL_BUCKETS;
	for (size_t i = m->npoints; i-- > 0;) {
		const struct mem_point *pt = &m->series[i];
		size_t b = bucket_of(h, pt->ts_ns);

		if (!proc_kept(h, pt->proc))
			continue;
		for (size_t k = b; k < next[pt->proc]; k++)
			h->mb_heap[(size_t)pt->proc * TL_BUCKETS + k] = pt->heap_bytes;
		next[pt->proc] = b;
	}
	free(next);
	return 0;
}

static void emit_head(const struct html *h, FILE *out)
{
	const char *key, *val, *sep = "";
	uint64_t v;

	fprintf(out, "{\"format\":\"treeprof-html\",\"version\":1,\"pid\":%d,\n\"meta\":{", h->pid);
	for (uint32_t i = 0; (key = profile__meta_at(h->p, i, &val)); i++) {
		fputs(sep, out);
		json__write_str(out, key, JSON_NO_MAX, JSON_HTML);
		fputc(':', out);
		json__write_str(out, val, JSON_NO_MAX, JSON_HTML);
		sep = ",";
	}
	fputs("},\n\"stats\":{", out);
	sep = "";
	for (uint32_t i = 0; (key = profile__stat_at(h->p, i, &v)); i++) {
		fputs(sep, out);
		json__write_str(out, key, JSON_NO_MAX, JSON_HTML);
		fprintf(out, ":%llu", (unsigned long long)v);
		sep = ",";
	}
	static const char *const labels[] = {"CPU", "Allocated (est.)", "Allocations (est.)",
					     "Live at exit (est.)", "At the tree's peak (est.)"};

	fputs("},\n\"metrics\":[", out);
	for (int i = 0; i < h->nmetrics; i++)
		fprintf(out, "%s{\"id\":\"%s\",\"label\":\"%s\",\"unit\":\"%s\"}", i ? "," : "",
			metric__name(h->metrics[i]), labels[h->metrics[i]],
			metric__unit(h->metrics[i]));
	fputs("],\n", out);
	fprintf(out, "\"timeline\":{\"buckets\":%d,\"bucket_ns\":%llu},\n", TL_BUCKETS,
		(unsigned long long)h->bucket_ns);
}

void report__html_frames(const struct profile *p, const uint32_t *ids, uint32_t n, FILE *out)
{
	static const char *const cols[] = {"kind", "name", "file", "line"};
	char dm[DEMANGLE_OUT_MAX];

	fputs("\"frames\":{", out);
	for (int c = 0; c < 4; c++) {
		fprintf(out, "%s\"%s\":[", c ? ",\n" : "", cols[c]);
		for (uint32_t i = 0; i < n; i++) {
			const struct prof_frame *f = profile__frame_get(p, ids ? ids[i] : i);

			if (i)
				fputc(',', out);
			if (c == 0)
				fprintf(out, "%u", f->kind);
			else if (c == 1)
				json__write_str(out, report__frame_name(f, dm, sizeof(dm)),
						JSON_NO_MAX, JSON_HTML);
			else if (c == 2 && f->file)
				json__write_str(out, f->file, JSON_NO_MAX, JSON_HTML);
			else if (c == 2)
				fputs("null", out);
			else
				fprintf(out, "%u", f->line);
		}
		fputc(']', out);
	}
	fputc('}', out);
}

/* the frames (report__html_frames()), then the prefix tree as columns (parent -1 for a
 * root frame). */
static void emit_frames_stacks(const struct html *h, FILE *out)
{
	report__html_frames(h->p, h->frames, h->nframes, out);
	fputs(",\n\"stacks\":{\"parent\":[", out);
	for (uint32_t i = 0; i < h->nnodes; i++)
		fprintf(out, "%s%lld", i ? "," : "",
			h->parent[i] == NONE ? -1LL : (long long)h->parent[i]);
	fputs("],\n\"frame\":[", out);
	for (uint32_t i = 0; i < h->nnodes; i++)
		fprintf(out, "%s%u", i ? "," : "", h->frame[i]);
	fputs("]},\n", out);
}

/* A time relative to t0, or null when unknown. */
static void emit_time(const struct html *h, FILE *out, const char *key, uint64_t ns)
{
	if (ns)
		fprintf(out, ",\"%s\":%llu", key,
			(unsigned long long)(ns > h->t0 ? ns - h->t0 : 0));
	else
		fprintf(out, ",\"%s\":null", key);
}

/* Roles: label and member count, in the order of report_groups (ids used by "role"). */
static void emit_roles(const struct html *h, FILE *out)
{
	fputs(",\n\"roles\":[", out);
	for (uint32_t i = 0; i < report_groups__count(h->roles); i++) {
		const struct report_group_info *g = report_groups__get(h->roles, i);

		fputs(i ? ",\n{\"label\":" : "\n{\"label\":", out);
		json__write_str(out, g->label, JSON_NO_MAX, JSON_HTML);
		fprintf(out, ",\"nprocs\":%u}", g->nprocs);
	}
	fputs("]}", out);
}

/* One memory metric of process i: (stack node, weight) pairs, (bucket, weight) pairs. */
static void emit_mem_metric(const struct html *h, FILE *out, uint32_t i, int metric, size_t c)
{
	const struct memacct *m = h->mem;
	const double *b = metric == METRIC_ALLOC_BYTES	 ? h->mb_bytes
			  : metric == METRIC_ALLOC_COUNT ? h->mb_count
							 : h->mb_heap;
	const char *vsep = "";
	uint64_t total = 0;

	fprintf(out, ",\n \"%s\":{\"stacks\":[", metric__name(metric));
	for (size_t k = c; k < m->nsites && m->sites[k].proc == i; k++) {
		uint64_t w = memacct__round(report__site_weight(&m->sites[k], metric));

		total += w;
		if (!w || h->smap[m->sites[k].stack] == NONE)
			continue;
		fprintf(out, "%s%u,%llu", vsep, h->smap[m->sites[k].stack], (unsigned long long)w);
		vsep = ",";
	}
	fputs("],\"timeline\":[", out);
	vsep = "";
	for (int k = 0; k < TL_BUCKETS; k++) {
		uint64_t w = memacct__round(b[(size_t)i * TL_BUCKETS + k]);

		if (!w)
			continue;
		fprintf(out, "%s%d,%llu", vsep, k, (unsigned long long)w);
		vsep = ",";
	}
	fprintf(out, "],\"total\":%llu}", (unsigned long long)total);
}

static void emit_procs(const struct html *h, FILE *out)
{
	const char *sep = "\n";
	size_t c = 0, mc = 0;

	fputs("\"procs\":[", out);
	for (uint32_t i = 0; i < profile__nprocs(h->p); i++) {
		const struct prof_proc *pr = profile__proc_at(h->p, i);
		const uint64_t *b = &h->buckets[(size_t)i * TL_BUCKETS];
		const char *vsep = "";

		if (!proc_kept(h, i))
			continue;
		fprintf(out, "%s{\"pid\":%d,\"ppid\":%d,\"role\":%u,\"comm\":", sep, pr->pid,
			pr->ppid, report_groups__of(h->roles, i));
		json__write_str(out, pr->comm, JSON_NO_MAX, JSON_HTML);
		fputs(",\"cmdline\":", out);
		json__write_str(out, pr->cmdline, JSON_NO_MAX, JSON_HTML);
		fputs(",\"exe\":", out);
		json__write_str(out, pr->exe, JSON_NO_MAX, JSON_HTML);
		emit_time(h, out, "start", pr->start_ns);
		emit_time(h, out, "end", pr->end_ns);
		fprintf(out, ",\"exited\":%s,\"exit_code\":%d,\"samples\":%llu,",
			pr->exited ? "true" : "false", pr->exit_code,
			(unsigned long long)pr->samples);
		/* per metric: (stack id, count) pairs, heaviest first; (bucket, count) pairs */
		fputs("\n \"cpu\":{\"stacks\":[", out);
		for (; c < h->ncounts && h->counts[c].proc < i; c++)
			;
		for (; c < h->ncounts && h->counts[c].proc == i; c++) {
			if (h->smap[h->counts[c].stack] == NONE)
				continue;
			fprintf(out, "%s%u,%llu", vsep, h->smap[h->counts[c].stack],
				(unsigned long long)h->counts[c].weight);
			vsep = ",";
		}
		fputs("],\"timeline\":[", out);
		vsep = "";
		for (int k = 0; k < TL_BUCKETS; k++) {
			if (!b[k])
				continue;
			fprintf(out, "%s%d,%llu", vsep, k, (unsigned long long)b[k]);
			vsep = ",";
		}
		fputs("]}", out);
		/* the sites of process i start at mc (they are sorted by process) */
		for (; h->mem && mc < h->mem->nsites && h->mem->sites[mc].proc < i; mc++)
			;
		for (int k = 0; k < h->nmetrics; k++)
			if (h->metrics[k] != METRIC_CPU)
				emit_mem_metric(h, out, i, h->metrics[k], mc);
		fputc('}', out);
		sep = ",\n";
	}
	fputs("]", out);
}

int report__html(const struct profile *p, FILE *out, const struct report_opts *o)
{
	const char *mark = strstr(report_html_template, DATA_MARK);
	uint32_t nf = profile__nframes(p), nst = profile__nstacks(p), node;
	struct html h = {.p = p, .pid = o->pid};
	struct report_opts ro = *o;
	int err = -EINVAL, metric = report__metric(o);

	if (!mark || metric < 0) /* a broken template is a build bug */
		return err;
	if (metric != METRIC_CPU && !memacct__has_data(p))
		return -ENODATA;
	h.metrics[h.nmetrics++] = metric;
	if (memacct__has_data(p)) {
		h.mem = memacct__compute(p);
		if (!h.mem)
			return -errno;
	}
	for (int k = METRIC_CPU; k <= METRIC_PEAK_BYTES; k++)
		if (k != metric && (k == METRIC_CPU || h.mem))
			h.metrics[h.nmetrics++] = k;
	h.fmap = malloc((nf + 1) * sizeof(*h.fmap));
	h.frames = malloc((nf + 1) * sizeof(*h.frames));
	h.smap = malloc((nst + 1) * sizeof(*h.smap));
	if (!h.fmap || !h.frames || !h.smap) {
		err = -ENOMEM;
		goto out;
	}
	memset(h.fmap, 0xff, (nf + 1) * sizeof(*h.fmap));
	memset(h.smap, 0xff, (nst + 1) * sizeof(*h.smap));
	err = profile__stack_counts(p, keep_proc, &h, &h.counts, &h.ncounts);
	if (err)
		goto out;
	for (size_t i = 0; i < h.ncounts; i++) {
		err = stack_node(&h, h.counts[i].stack, &node);
		if (err)
			goto out;
	}
	for (size_t i = 0; h.mem && i < h.mem->nsites; i++) {
		if (!proc_kept(&h, h.mem->sites[i].proc))
			continue;
		err = stack_node(&h, h.mem->sites[i].stack, &node);
		if (err)
			goto out;
	}
	err = timeline(&h);
	if (!err && h.mem)
		err = mem_timeline(&h);
	if (err)
		goto out;
	ro.group = REPORT_GROUP_ROLE;
	h.roles = report_groups__new(p, &ro);
	if (!h.roles) {
		err = -errno;
		goto out;
	}

	fwrite(report_html_template, 1, mark - report_html_template, out);
	emit_head(&h, out);
	emit_frames_stacks(&h, out);
	emit_procs(&h, out);
	emit_roles(&h, out);
	fputs(mark + strlen(DATA_MARK), out);
	err = ferror(out) ? -EIO : 0;
out:
	free(h.counts);
	free(h.fmap);
	free(h.frames);
	free(h.parent);
	free(h.frame);
	free(h.slots);
	free(h.smap);
	free(h.buckets);
	free(h.mb_bytes);
	free(h.mb_count);
	free(h.mb_heap);
	memacct__free(h.mem);
	report_groups__free(h.roles);
	return err;
}
