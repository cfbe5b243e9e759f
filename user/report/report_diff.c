// SPDX-License-Identifier: GPL-2.0
/* Comparing two recordings: groups matched by role, frames by kind, name, file and line,
 * the weights of both runs side by side. The rules are stated in report_diff.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"
#include "report/report_funcs.h"
#include "report/report_group.h"

/* One run while it is being lined up with the other. */
struct side {
	const struct profile *p;
	struct report_groups *g;
	char **keys;	/* per group: the chain of role names, numbered among equals */
	uint32_t *gmap; /* per group: diff group */
	uint32_t *fmap; /* per frame: frame in ids, or DIFF_NONE */
	uint32_t *smap; /* per stack: stack in ids, or DIFF_NONE */
};

/* A weight of one run on its way into d->stacks. */
struct entry {
	uint32_t group, stack;
	int side;
	uint64_t weight;
};

static const char *strip(const char *file, const struct report_opts *o)
{
	for (int i = 0; file && i < o->nstrip; i++) {
		size_t n = strlen(o->strip_prefix[i]);

		if (n && !strncmp(file, o->strip_prefix[i], n))
			return file + n;
	}
	return file;
}

/* name with o's prefixes removed from each word (a role's command line, for matching runs
 * made from different checkouts); NULL when out of memory. */
static char *strip_words(const char *name, const struct report_opts *o)
{
	char *s = malloc(strlen(name) + 1), *w = s;

	if (!s)
		return NULL;
	for (const char *c = name; *c;) {
		const char *word = strip(c, o), *end = strchr(word, ' ');
		size_t n = end ? (size_t)(end - word) + 1 : strlen(word);

		memcpy(w, word, n);
		w += n;
		c = word + n;
	}
	*w = 0;
	return s;
}

static char *key_join(const char *parent, const char *name)
{
	size_t a = parent ? strlen(parent) : 0, b = strlen(name);
	char *k = malloc(a + b + 2);

	if (!k)
		return NULL;
	memcpy(k, parent ? parent : "", a);
	k[a] = '\x1f';
	memcpy(k + a + 1, name, b + 1);
	return k;
}

/* The key of group i: its parent's key and its name; a parent cycle is cut at i. */
static int group_key(struct side *s, uint32_t i, uint32_t depth, const struct report_opts *o)
{
	const struct report_group_info *gi = report_groups__get(s->g, i);
	uint32_t par = gi->parent;
	char *name;
	int err;

	if (s->keys[i])
		return 0;
	if (par != REPORT_NO_GROUP && depth < report_groups__count(s->g) && !s->keys[par]) {
		err = group_key(s, par, depth + 1, o);
		if (err)
			return err;
	}
	name = strip_words(gi->name, o);
	if (!name)
		return -ENOMEM;
	s->keys[i] = key_join(par == REPORT_NO_GROUP ? NULL : s->keys[par], name);
	free(name);
	return s->keys[i] ? 0 : -ENOMEM;
}

/* Keys of all groups of a run; the n-th group with a key already taken gets "#n". */
static int side_keys(struct side *s, const struct report_opts *o)
{
	uint32_t n = report_groups__count(s->g);
	char num[16];
	int err;

	s->keys = calloc(n + 1, sizeof(*s->keys));
	s->gmap = calloc(n + 1, sizeof(*s->gmap));
	if (!s->keys || !s->gmap)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		err = group_key(s, i, 0, o);
		if (err)
			return err;
	}
	/* backwards, so that earlier groups keep their plain keys while later ones count */
	for (uint32_t i = n; i-- > 0;) {
		uint32_t same = 0;
		char *k;

		for (uint32_t j = 0; j < i; j++)
			same += !strcmp(s->keys[j], s->keys[i]);
		if (!same)
			continue;
		snprintf(num, sizeof(num), "#%u", same + 1);
		k = key_join(s->keys[i], num);
		if (!k)
			return -ENOMEM;
		free(s->keys[i]);
		s->keys[i] = k;
	}
	return 0;
}

static int add_group(struct report_diff *d, const struct report_group_info *gi,
		     const struct report_opts *o)
{
	struct diff_group *v = reallocarray(d->groups, d->ngroups + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->groups = v;
	v[d->ngroups] = (struct diff_group){.name = strip_words(gi->name, o), .parent = DIFF_NONE};
	if (!v[d->ngroups].name)
		return -ENOMEM;
	d->ngroups++;
	return 0;
}

/* The new run's groups, then the old run's that have no match; parents, depths, labels. */
static int match_groups(struct report_diff *d, struct side *s, const struct report_opts *o)
{
	uint32_t n[2] = {report_groups__count(s[0].g), report_groups__count(s[1].g)};
	char buf[256];
	int err;

	for (uint32_t i = 0; i < n[1]; i++) {
		err = add_group(d, report_groups__get(s[1].g, i), o);
		if (err)
			return err;
		s[1].gmap[i] = i;
	}
	for (uint32_t i = 0; i < n[0]; i++) {
		s[0].gmap[i] = DIFF_NONE;
		for (uint32_t j = 0; j < n[1] && s[0].gmap[i] == DIFF_NONE; j++)
			if (!strcmp(s[0].keys[i], s[1].keys[j]))
				s[0].gmap[i] = j;
		if (s[0].gmap[i] != DIFF_NONE)
			continue;
		err = add_group(d, report_groups__get(s[0].g, i), o);
		if (err)
			return err;
		s[0].gmap[i] = d->ngroups - 1;
	}
	for (int k = 1; k >= 0; k--) {
		for (uint32_t i = 0; i < n[k]; i++) {
			const struct report_group_info *gi = report_groups__get(s[k].g, i);
			struct diff_group *dg = &d->groups[s[k].gmap[i]];

			dg->nprocs[k] = gi->nprocs;
			if (dg->parent == DIFF_NONE && gi->parent != REPORT_NO_GROUP &&
			    s[k].gmap[gi->parent] != s[k].gmap[i])
				dg->parent = s[k].gmap[gi->parent];
		}
	}
	for (uint32_t i = 0; i < d->ngroups; i++) {
		uint32_t depth = 0, same = 0, total = 0;

		for (uint32_t j = d->groups[i].parent; j != DIFF_NONE && depth <= d->ngroups;
		     j = d->groups[j].parent)
			depth++;
		d->groups[i].depth = depth;
		for (uint32_t j = 0; j < d->ngroups; j++) {
			total += !strcmp(d->groups[j].name, d->groups[i].name);
			same += j < i && !strcmp(d->groups[j].name, d->groups[i].name);
		}
		if (total > 1 && same)
			snprintf(buf, sizeof(buf), "%s #%u", d->groups[i].name, same + 1);
		else
			snprintf(buf, sizeof(buf), "%s", d->groups[i].name);
		d->groups[i].label = strdup(buf);
		if (!d->groups[i].label)
			return -ENOMEM;
	}
	return 0;
}

/* The stack of ids that stack of run s maps to, interning its frames on first use. */
static int map_stack(struct report_diff *d, struct side *s, uint32_t stack, uint32_t *id,
		     const struct report_opts *o)
{
	struct profile *ids = (struct profile *)d->ids;
	const uint32_t *fr;
	uint32_t n, *v;
	int err = 0;

	if (s->smap[stack] != DIFF_NONE) {
		*id = s->smap[stack];
		return 0;
	}
	fr = profile__stack_get(s->p, stack, &n);
	v = malloc((n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && !err; i++) {
		const struct prof_frame *f = profile__frame_get(s->p, fr[i]);
		struct prof_frame g = *f;

		if (s->fmap[fr[i]] == DIFF_NONE) {
			g.file = strip(f->file, o);
			err = profile__frame(ids, &g, &s->fmap[fr[i]]);
		}
		v[i] = s->fmap[fr[i]];
	}
	if (!err)
		err = profile__stack(ids, v, n, &s->smap[stack]);
	free(v);
	*id = s->smap[stack];
	return err;
}

static int entry_order(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* Every weighted stack of both runs, mapped to ids and merged by (group, stack). */
static int merge_stacks(struct report_diff *d, struct side *s, const struct report_opts *o)
{
	struct entry *e = NULL;
	size_t ne = 0, cap = 0;
	int err = 0;

	for (int k = 0; k < 2 && !err; k++) {
		struct prof_stack *sc = NULL;
		size_t nsc = 0;

		err = report__stack_weights(s[k].p, o, NULL, NULL, &sc, &nsc, NULL);
		for (size_t i = 0; !err && i < nsc; i++) {
			uint32_t g = report_groups__of(s[k].g, sc[i].proc), id;

			if (g == REPORT_NO_GROUP)
				continue;
			err = map_stack(d, &s[k], sc[i].stack, &id, o);
			if (!err && ne == cap) {
				struct entry *v = reallocarray(e, cap ? cap * 2 : 256, sizeof(*v));

				cap = cap ? cap * 2 : 256;
				if (v)
					e = v;
				else
					err = -ENOMEM;
			}
			if (!err)
				e[ne++] = (struct entry){s[k].gmap[g], id, k, sc[i].weight};
		}
		free(sc);
	}
	if (!err && ne)
		qsort(e, ne, sizeof(*e), entry_order);
	if (!err)
		d->stacks = calloc(ne + 1, sizeof(*d->stacks));
	if (!err && !d->stacks)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < ne; i++) {
		struct diff_stack *ds = &d->stacks[d->nstacks];

		if (!d->nstacks || ds[-1].group != e[i].group || ds[-1].stack != e[i].stack) {
			*ds = (struct diff_stack){.group = e[i].group, .stack = e[i].stack};
			d->nstacks++;
		} else {
			ds--;
		}
		ds->weight[e[i].side] += e[i].weight;
		d->groups[e[i].group].weight[e[i].side] += e[i].weight;
		d->total[e[i].side] += e[i].weight;
	}
	free(e);
	return err;
}

/* Frames by kind, name and file (the first frames of two functions never tie). */
static int frame_order(const void *x, const void *y, void *ctx)
{
	const struct prof_frame *a = profile__frame_get(ctx, *(const uint32_t *)x);
	const struct prof_frame *b = profile__frame_get(ctx, *(const uint32_t *)y);
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	c = strcmp(a->name, b->name);
	return c ? c : strcmp(a->file ? a->file : "", b->file ? b->file : "");
}

/* The functions of ids' frames (report_funcs.h) by kind, name and file, an order that does
 * not depend on which run's frames came first; their self and total weights in each run. */
static int count_funcs(struct report_diff *d)
{
	struct report_funcs rf;
	uint32_t n, *first = NULL, *rank = NULL;
	uint64_t *mark = NULL;
	int err;

	report_funcs__init(&rf);
	err = report_funcs__update(&rf, d->ids);
	if (err)
		goto out;
	n = report_funcs__count(&rf);
	first = calloc(n + 1, sizeof(*first));
	rank = calloc(n + 1, sizeof(*rank));
	mark = calloc(n + 1, sizeof(*mark));
	d->funcs = calloc(n + 1, sizeof(*d->funcs));
	err = -ENOMEM;
	if (!first || !rank || !mark || !d->funcs)
		goto out;
	d->nfuncs = n;
	for (uint32_t f = 0; f < n; f++)
		first[f] = report_funcs__frame(&rf, f);
	qsort_r(first, n, sizeof(*first), frame_order, (void *)d->ids);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t f = report_funcs__of(&rf, first[i]);

		rank[f] = i;
		d->funcs[i].frame = first[i];
		d->funcs[i].label = strdup(report_funcs__label(&rf, f));
		if (!d->funcs[i].label)
			goto out;
	}
	for (size_t i = 0; i < d->nstacks; i++) {
		const struct diff_stack *ds = &d->stacks[i];
		uint32_t k, len;
		const uint32_t *fr = profile__stack_get(d->ids, ds->stack, &len);

		for (uint32_t j = 0; j < len; j++) {
			k = rank[report_funcs__of(&rf, fr[j])];
			if (mark[k] == i + 1)
				continue;
			mark[k] = i + 1;
			d->funcs[k].total[0] += ds->weight[0];
			d->funcs[k].total[1] += ds->weight[1];
		}
		if (len) {
			k = rank[report_funcs__of(&rf, fr[len - 1])];
			d->funcs[k].self[0] += ds->weight[0];
			d->funcs[k].self[1] += ds->weight[1];
		}
	}
	err = 0;
out:
	report_funcs__fini(&rf);
	free(first);
	free(rank);
	free(mark);
	return err;
}

static int run_info(struct report_diff *d, int k, const struct profile *p)
{
	const char *cmd = profile__get_meta(p, "command");

	d->nprocs[k] = profile__nprocs(p);
	if (profile__get_stat(p, "duration_ns", &d->duration_ns[k]))
		d->duration_ns[k] = 0;
	d->command[k] = cmd ? strdup(cmd) : NULL;
	return cmd && !d->command[k] ? -ENOMEM : 0;
}

static int side_init(struct side *s, const struct profile *p, const struct report_opts *o)
{
	uint32_t nf = profile__nframes(p), nst = profile__nstacks(p);

	s->p = p;
	s->g = report_groups__new(p, o);
	if (!s->g)
		return -errno;
	s->fmap = malloc((nf + 1) * sizeof(*s->fmap));
	s->smap = malloc((nst + 1) * sizeof(*s->smap));
	if (!s->fmap || !s->smap)
		return -ENOMEM;
	memset(s->fmap, 0xff, (nf + 1) * sizeof(*s->fmap));
	memset(s->smap, 0xff, (nst + 1) * sizeof(*s->smap));
	return side_keys(s, o);
}

static void side_free(struct side *s)
{
	for (uint32_t i = 0; s->keys && i < report_groups__count(s->g); i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->gmap);
	free(s->fmap);
	free(s->smap);
	report_groups__free(s->g);
}

struct report_diff *report_diff__new(const struct profile *old, const struct profile *new,
				     const struct report_opts *o)
{
	struct side s[2] = {0};
	struct report_diff *d;
	int err = -EINVAL;

	if (o->group == REPORT_GROUP_PID || o->pid || report__metric(o) < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (report__metric(o) != METRIC_CPU &&
	    (!memacct__has_data(old) || !memacct__has_data(new))) {
		errno = ENODATA;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->metric = report__metric(o);
	d->absolute = o->absolute;
	d->ids = profile__new();
	err = d->ids ? side_init(&s[0], old, o) : -ENOMEM;
	if (!err)
		err = side_init(&s[1], new, o);
	if (!err)
		err = match_groups(d, s, o);
	if (!err)
		err = merge_stacks(d, s, o);
	if (!err)
		err = count_funcs(d);
	if (!err)
		err = run_info(d, 0, old);
	if (!err)
		err = run_info(d, 1, new);
	side_free(&s[0]);
	side_free(&s[1]);
	if (err) {
		report_diff__free(d);
		errno = -err;
		return NULL;
	}
	return d;
}

void report_diff__free(struct report_diff *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < d->ngroups; i++) {
		free((char *)d->groups[i].name);
		free((char *)d->groups[i].label);
	}
	for (uint32_t i = 0; d->funcs && i < d->nfuncs; i++)
		free((char *)d->funcs[i].label);
	free((char *)d->command[0]);
	free((char *)d->command[1]);
	free(d->groups);
	free(d->stacks);
	free(d->funcs);
	profile__free((struct profile *)d->ids);
	free(d);
}

double report_diff__value(const struct report_diff *d, int side, uint64_t w)
{
	if (d->absolute)
		return (double)w;
	return d->total[side] ? 100.0 * (double)w / (double)d->total[side] : 0.0;
}

double report_diff__delta(const struct report_diff *d, const uint64_t w[2])
{
	return report_diff__value(d, 1, w[1]) - report_diff__value(d, 0, w[0]);
}
