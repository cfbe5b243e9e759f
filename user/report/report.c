// SPDX-License-Identifier: GPL-2.0
/* The one place that turns the report's metric into weighted stacks for every writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"

int report__metric(const struct report_opts *o)
{
	int m = metric__parse(o->metric);

	return m < 0 ? -EINVAL : m;
}

int report__check(const struct profile *p, const struct report_opts *o, char *err, size_t len)
{
	int m = report__metric(o);

	if (m < 0) {
		snprintf(err, len, "unknown metric '%s'", o->metric);
		return -EINVAL;
	}
	if (m != METRIC_CPU && !memacct__has_data(p)) {
		snprintf(err, len, "this recording has no memory events: record with --mem");
		return -ENODATA;
	}
	return 0;
}

double report__site_weight(const struct mem_site *s, int metric)
{
	switch (metric) {
	case METRIC_ALLOC_BYTES:
		return s->alloc_bytes;
	case METRIC_ALLOC_COUNT:
		return s->alloc_count;
	case METRIC_LIVE_BYTES:
		return s->live_bytes;
	case METRIC_PEAK_BYTES:
		return s->peak_bytes;
	}
	return 0;
}

static int site_weights(const struct memacct *m, int metric, bool (*keep)(uint32_t proc, void *ctx),
			void *ctx, struct prof_stack **out, size_t *n)
{
	struct prof_stack *v = calloc(m->nsites + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->nsites; i++) {
		const struct mem_site *s = &m->sites[i];
		uint64_t w = memacct__round(report__site_weight(s, metric));

		if (w && (!keep || keep(s->proc, ctx)))
			v[k++] = (struct prof_stack){s->proc, s->stack, w};
	}
	if (k)
		qsort(v, k, sizeof(*v), profile__stack_count_order);
	if (!k) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = k;
	return 0;
}

int report__stack_weights(const struct profile *p, const struct report_opts *o,
			  bool (*keep)(uint32_t proc, void *ctx), void *ctx,
			  struct prof_stack **out, size_t *n, struct memacct **mem)
{
	int metric = report__metric(o), err;
	struct memacct *m = NULL;

	*out = NULL;
	*n = 0;
	if (mem)
		*mem = NULL;
	if (metric < 0)
		return metric;
	if (metric != METRIC_CPU || (mem && memacct__has_data(p))) {
		m = memacct__compute(p);
		if (!m)
			return -errno;
	}
	if (metric == METRIC_CPU)
		err = profile__stack_counts(p, keep, ctx, out, n);
	else
		err = site_weights(m, metric, keep, ctx, out, n);
	if (err || !mem)
		memacct__free(m);
	else
		*mem = m;
	return err;
}
