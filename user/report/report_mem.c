// SPDX-License-Identifier: GPL-2.0
/* The memory section of the text report (report_mem.h), at most 100 columns:
 *
 *   Memory (~: estimated from allocations sampled every 512KiB on average)
 *       PID COMM           ALLOCS ALLOCATED    FREES FAILED   IN USE     PEAK  LEAKED~ ...
 *
 * then three lists of sites. A site here is a process and the leaf function of the stacks
 * (the innermost Python frame, or the innermost frame when there is none): the stacks of
 * one site differ only in their callers, which the flame graph of --metric shows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"
#include "report/report_mem.h"
#include "treeprof.h"

#define WIDTH	  100
#define SITE_COLS 41 /* columns before the function in the site lists */
#define LABEL_MAX (2 * 65536 + 64)
#define NO_FRAME  UINT32_MAX

const char *report__human_size(char *buf, size_t len, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;

	if (!(bytes > 0))
		bytes = 0;
	while (bytes >= 1023.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0fB", bytes);
	else
		snprintf(buf, len, "%.*f%s",
			 bytes < 9.995	 ? 2
			 : bytes < 99.95 ? 1
					 : 0,
			 bytes, units[u]);
	return buf;
}

struct leaf_site {
	uint32_t proc, frame; /* frame: NO_FRAME for stacks without frames */
	double alloc_bytes, alloc_count, live, live_inh, peak;
};

struct memtext {
	const struct profile *p;
	const struct report_opts *o;
	FILE *out;
	struct leaf_site *v;
	size_t n;
};

const char *report__fit(char *buf, const char *s, size_t width)
{
	size_t len = strlen(s), head;

	if (len <= width)
		return strcpy(buf, s);
	if (width < 8) {
		memcpy(buf, s, width);
		buf[width] = 0;
		return buf;
	}
	head = (width - 3) / 2;
	memcpy(buf, s, head);
	memcpy(buf + head, "...", 3);
	strcpy(buf + head + 3, s + len - (width - 3 - head));
	return buf;
}

void report__heading(FILE *out, const char *title, bool color)
{
	if (color)
		fprintf(out, "\n\033[1m%s\033[0m\n", title);
	else
		fprintf(out, "\n%s\n", title);
}

static const char *size_or_dash(char *buf, size_t len, double v, bool known)
{
	if (!known)
		return strcpy(buf, "-");
	return report__human_size(buf, len, v);
}

static const char *count_or_dash(char *buf, size_t len, uint64_t v, bool known)
{
	if (!known)
		snprintf(buf, len, "-");
	else if (v >= 100000000ULL)
		snprintf(buf, len, "%.1fG", (double)v / 1e9);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* The sampling interval in force: the largest in the exact totals, else the first
 * sampled allocation's. 0: unknown. */
static uint64_t sampling_rate(const struct profile *p, const struct memacct *m)
{
	uint64_t rate = 0;

	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].has_counters && m->procs[i].c.rate > rate)
			rate = m->procs[i].c.rate;
	for (size_t i = 0; !rate && i < profile__nmem(p); i++) {
		const struct prof_memrec *r = profile__mem_at(p, i);

		if (r->type == MEMREC_ALLOC)
			rate = r->rate ? r->rate : 1;
	}
	return rate;
}

static void print_procs(const struct memtext *t, const struct memacct *m,
			const struct report_groups *g)
{
	char title[96], b[10][32];
	uint64_t rate = sampling_rate(t->p, m);

	if (rate > 1)
		snprintf(title, sizeof(title),
			 "Memory (~: estimated from allocations sampled every %s on average)",
			 report__human_size(b[0], sizeof(b[0]), (double)rate));
	else
		snprintf(title, sizeof(title), "Memory (~: from every allocation traced)");
	report__heading(t->out, title, t->o->color);
	fprintf(t->out, "%7s %-12s %8s %9s %8s %6s %8s %8s %8s %8s %8s\n", "PID", "COMM", "ALLOCS",
		"ALLOCATED", "FREES", "FAILED", "IN USE", "PEAK", "LEAKED~", "PEAK~", "RSS PEAK");
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mem_proc *mp = &m->procs[i];
		const struct prof_proc *pr = profile__proc_at(t->p, mp->proc);
		const struct tp_memcounters *c = &mp->c;
		bool exact = mp->has_counters, in_use = exact && c->peak_in_use;

		if (report_groups__of(g, mp->proc) == REPORT_NO_GROUP)
			continue;
		fprintf(t->out, "%7d %-12.12s %8s %9s %8s %6s %8s %8s %8s %8s %8s\n", (int)pr->pid,
			pr->comm, count_or_dash(b[0], 32, c->alloc_count, exact),
			size_or_dash(b[1], 32, (double)c->alloc_bytes, exact),
			count_or_dash(b[2], 32, c->free_count, exact),
			count_or_dash(b[3], 32, c->failed, exact),
			size_or_dash(b[4], 32, (double)c->in_use, in_use),
			size_or_dash(b[5], 32, (double)c->peak_in_use, in_use),
			report__human_size(b[6], 32, mp->live_bytes),
			report__human_size(b[7], 32, mp->peak_bytes),
			size_or_dash(b[8], 32, (double)mp->rss_peak, mp->rss_peak));
	}
	if (m->unmatched_frees)
		fprintf(t->out,
			"%llu frees of addresses not seen allocated (sampled before the "
			"trace began, or lost)\n",
			(unsigned long long)m->unmatched_frees);
}

/* The innermost Python frame of a stack, else its innermost frame. */
static uint32_t leaf_frame(const struct profile *p, uint32_t stack)
{
	uint32_t n;
	const uint32_t *f = profile__stack_get(p, stack, &n);

	for (uint32_t i = n; i-- > 0;)
		if (profile__frame_get(p, f[i])->kind == FRAME_PYTHON)
			return f[i];
	return n ? f[n - 1] : NO_FRAME;
}

static int by_proc_frame(const void *a, const void *b)
{
	const struct leaf_site *x = a, *y = b;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* The sites of the kept processes merged by (process, leaf function). */
static int build_sites(struct memtext *t, const struct memacct *m, const struct report_groups *g)
{
	size_t k = 0;

	t->v = calloc(m->nsites + 1, sizeof(*t->v));
	if (!t->v)
		return -ENOMEM;
	for (size_t i = 0; i < m->nsites; i++) {
		const struct mem_site *s = &m->sites[i];

		if (report_groups__of(g, s->proc) == REPORT_NO_GROUP)
			continue;
		t->v[k++] = (struct leaf_site){
		    .proc = s->proc,
		    .frame = leaf_frame(t->p, s->stack),
		    .alloc_bytes = s->alloc_bytes,
		    .alloc_count = s->alloc_count,
		    .live = s->live_bytes,
		    .live_inh = s->live_inherited_bytes,
		    .peak = s->peak_bytes,
		};
	}
	if (k)
		qsort(t->v, k, sizeof(*t->v), by_proc_frame);
	for (size_t i = 0; i < k; i++) {
		struct leaf_site *d = &t->v[t->n];

		if (t->n && !by_proc_frame(&t->v[t->n - 1], &t->v[i])) {
			d = &t->v[t->n - 1];
			d->alloc_bytes += t->v[i].alloc_bytes;
			d->alloc_count += t->v[i].alloc_count;
			d->live += t->v[i].live;
			d->live_inh += t->v[i].live_inh;
			d->peak += t->v[i].peak;
		} else {
			*d = t->v[i];
			t->n++;
		}
	}
	return 0;
}

enum { BY_ALLOC, BY_LIVE, BY_PEAK };

static double key_of(const struct leaf_site *s, int by)
{
	return by == BY_ALLOC ? s->alloc_bytes : by == BY_LIVE ? s->live : s->peak;
}

static int by_key(const void *a, const void *b, void *ctx)
{
	const struct leaf_site *x = a, *y = b;
	int by = *(const int *)ctx;
	double kx = key_of(x, by), ky = key_of(y, by);

	if (kx != ky)
		return kx > ky ? -1 : 1;
	return by_proc_frame(a, b);
}

static void print_list(struct memtext *t, int by, double whole, char *lab)
{
	static const char *const head[][2] = {
	    {"ALLOCATED", "ALLOCS"}, {"LEAKED", "INHERIT"}, {"AT PEAK", "SHARE"}};
	char a[32], b[32], buf[WIDTH + 1];
	int shown = 0;

	qsort_r(t->v, t->n, sizeof(*t->v), by_key, &by);
	fprintf(t->out, "%9s %8s %7s %-12s  %s\n", head[by][0], head[by][1], "PID", "COMM",
		"FUNCTION");
	for (size_t i = 0; i < t->n && shown < t->o->top; i++) {
		const struct leaf_site *s = &t->v[i];
		const struct prof_proc *pr = profile__proc_at(t->p, s->proc);
		double v = key_of(s, by);

		if (memacct__round(v) == 0)
			break;
		report__human_size(a, sizeof(a), v);
		if (by == BY_ALLOC)
			snprintf(b, sizeof(b), "%llu",
				 (unsigned long long)memacct__round(s->alloc_count));
		else if (by == BY_LIVE)
			report__human_size(b, sizeof(b), s->live_inh);
		else
			snprintf(b, sizeof(b), "%.1f%%", whole > 0 ? 100 * v / whole : 0);
		if (s->frame == NO_FRAME)
			strcpy(lab, "(no stack captured)");
		else
			report__frame_label(t->p, s->frame, lab, LABEL_MAX);
		fprintf(t->out, "%9s %8s %7d %-12.12s  %s\n", a, b, (int)pr->pid, pr->comm,
			report__fit(buf, lab, WIDTH - SITE_COLS));
		shown++;
	}
	if (!shown)
		fprintf(t->out, "%9s\n", "(none)");
}

int report__text_memory(const struct profile *p, const struct memacct *m,
			const struct report_groups *g, const struct report_opts *o, FILE *out)
{
	struct memtext t = {.p = p, .o = o, .out = out};
	char *lab = malloc(LABEL_MAX), title[96], a[32];
	uint64_t t0 = m->npoints ? m->series[0].ts_ns : m->tree_peak_ts;
	int err = 0;

	if (!lab)
		return -ENOMEM;
	print_procs(&t, m, g);
	if (!m->nsites) /* exact totals only (the events were not kept): no sites to list */
		goto out;
	err = build_sites(&t, m, g);
	if (err)
		goto out;
	report__heading(t.out, "Top allocation sites (~ bytes allocated)", t.o->color);
	print_list(&t, BY_ALLOC, 0, lab);
	report__heading(t.out,
			"Top leak sites (~ held when the code ended: Py_FinalizeEx, exit, exec; "
			"INHERIT: the parent's copies)",
			t.o->color);
	print_list(&t, BY_LIVE, 0, lab);
	snprintf(title, sizeof(title),
		 "Held at the tree's peak (~ %s, %.2f s after the first "
		 "memory event)",
		 report__human_size(a, sizeof(a), m->tree_peak_bytes),
		 (double)(m->tree_peak_ts > t0 ? m->tree_peak_ts - t0 : 0) / 1e9);
	report__heading(t.out, title, t.o->color);
	print_list(&t, BY_PEAK, m->tree_peak_bytes, lab);
out:
	free(t.v);
	free(lab);
	return err;
}
