// SPDX-License-Identifier: GPL-2.0
/* Groups of processes for the report writers: per process, per role, or the whole tree.
 * The role rule is stated in report_group.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "report/report_group.h"

#define NAME_MAX_LEN 80		/* a role's name is cut (with "...") beyond this many bytes */
#define MIN_LIFETIME 1000000ULL /* 1 ms: lifetimes below count as 1 ms in the ratio */

struct report_groups {
	struct report_group_info *v;
	uint32_t n;
	uint32_t *of;	   /* per process index: group or REPORT_NO_GROUP */
	uint32_t *members; /* every group's members, back to back */
};

/* What roles are computed from: per process index. */
struct roles {
	const struct profile *p;
	uint32_t *parent; /* process index or REPORT_NO_GROUP */
	uint32_t *depth;
	uint32_t *role;
	uint64_t *life;
};

static const char *proc_cmd(const struct prof_proc *pr)
{
	return pr->cmdline && *pr->cmdline ? pr->cmdline : pr->comm;
}

/* ';' separates frames in folded stacks and '\n' lines: keep labels usable everywhere. */
static void sanitize(char *s)
{
	for (; *s; s++) {
		if (*s == ';')
			*s = ':';
		else if (*s == '\n' || *s == '\r')
			*s = ' ';
	}
}

/* Parent of each process: the newest entry for its ppid made before it, else the newest
 * entry for the ppid (the same rule as the text report's tree). */
static void find_parents(struct roles *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_proc *pr = profile__proc_at(r->p, i), *pp;

		r->parent[i] = REPORT_NO_GROUP;
		if (!pr->ppid)
			continue;
		for (uint32_t j = i; j-- > 0;) {
			if (profile__proc_at(r->p, j)->pid == pr->ppid) {
				r->parent[i] = j;
				break;
			}
		}
		pp = profile__proc_find(r->p, pr->ppid);
		if (r->parent[i] == REPORT_NO_GROUP && pp && pp->idx != i)
			r->parent[i] = pp->idx;
	}
}

/* Depth in the tree; a parent cycle is cut where it is found. path has room for n. */
static void find_depths(struct roles *r, uint32_t n, uint32_t *path)
{
	uint32_t unknown = UINT32_MAX, visiting = UINT32_MAX - 1;

	for (uint32_t i = 0; i < n; i++)
		r->depth[i] = unknown;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = 0, j = i, base;

		while (j != REPORT_NO_GROUP && r->depth[j] == unknown) {
			r->depth[j] = visiting;
			path[len++] = j;
			j = r->parent[j];
		}
		if (j != REPORT_NO_GROUP && r->depth[j] == visiting) {
			r->parent[path[len - 1]] = REPORT_NO_GROUP;
			j = REPORT_NO_GROUP;
		}
		base = j == REPORT_NO_GROUP ? 0 : r->depth[j] + 1;
		for (uint32_t k = len; k-- > 0;)
			r->depth[path[k]] = base + (len - 1 - k);
	}
}

static void find_lifetimes(struct roles *r, uint32_t n)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (size_t i = 0; i < profile__nsamples(r->p); i++) {
		const struct prof_sample *s = profile__sample_at(r->p, i);
		uint64_t ts;

		if (!s) /* a live profile keeps only its last sample */
			continue;
		ts = s->ts_ns;
		lo = ts < lo ? ts : lo;
		hi = ts > hi ? ts : hi;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_proc *pr = profile__proc_at(r->p, i);

		if (pr->start_ns && pr->start_ns < lo)
			lo = pr->start_ns;
		hi = pr->start_ns > hi ? pr->start_ns : hi;
		hi = pr->end_ns > hi ? pr->end_ns : hi;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_proc *pr = profile__proc_at(r->p, i);
		uint64_t start = pr->start_ns ? pr->start_ns : lo;
		uint64_t end = pr->exited && pr->end_ns ? pr->end_ns : hi;

		r->life[i] = end > start ? end - start : 0;
		if (r->life[i] < MIN_LIFETIME)
			r->life[i] = MIN_LIFETIME;
	}
}

/* Whether s[i] starts a number that is a whole token: digits, preceded by the start, a space,
 * '=', ',' or '(', and followed by the end, a space, ',' or ')'. Returns its length or 0. */
static size_t number_token(const char *s, size_t i)
{
	size_t k = i;

	if (i && !strchr(" =,(", s[i - 1]))
		return 0;
	while (s[k] >= '0' && s[k] <= '9')
		k++;
	if (k == i || (s[k] && !strchr(" ,)", s[k])))
		return 0;
	return k - i;
}

/* Command lines compared with every whole-token number taken as equal, so that workers that
 * differ only in a descriptor or an index (multiprocessing's spawn_main(pipe_handle=11),
 * --worker 3) share a role, while python3.11 and python3.12 do not. A total order: the
 * strings compared as if each such number were one character below every other. */
static int cmd_cmp(const char *a, const char *b)
{
	size_t i = 0, j = 0;

	for (;;) {
		size_t na = number_token(a, i), nb = number_token(b, j);
		int ca, cb;

		if (na && nb) {
			i += na;
			j += nb;
			continue;
		}
		ca = na ? -1 : (unsigned char)a[i];
		cb = nb ? -1 : (unsigned char)b[j];
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (!ca)
			return 0;
		i++;
		j++;
	}
}

static int by_depth(const void *x, const void *y, void *ctx)
{
	const struct roles *r = ctx;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	if (r->depth[a] != r->depth[b])
		return r->depth[a] < r->depth[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

static uint32_t parent_role(const struct roles *r, uint32_t i)
{
	return r->parent[i] == REPORT_NO_GROUP ? REPORT_NO_GROUP : r->role[r->parent[i]];
}

/* Same parent role, then same command, then by lifetime. */
static int by_key(const void *x, const void *y, void *ctx)
{
	const struct roles *r = ctx;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	uint32_t pa = parent_role(r, a), pb = parent_role(r, b);
	int c;

	if (pa != pb)
		return pa < pb ? -1 : 1;
	c = cmd_cmp(proc_cmd(profile__proc_at(r->p, a)), proc_cmd(profile__proc_at(r->p, b)));
	if (c)
		return c;
	if (r->life[a] != r->life[b])
		return r->life[a] < r->life[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* A provisional role id per process, level by level so that parents' roles are known. */
static int assign_roles(const struct profile *p, uint32_t n, uint32_t *role)
{
	struct roles r = {.p = p, .role = role};
	uint32_t *order = calloc(n + 1, sizeof(*order)), next = 0;
	int err = -ENOMEM;

	r.parent = calloc(n + 1, sizeof(*r.parent));
	r.depth = calloc(n + 1, sizeof(*r.depth));
	r.life = calloc(n + 1, sizeof(*r.life));
	if (!order || !r.parent || !r.depth || !r.life)
		goto out;
	find_parents(&r, n);
	find_depths(&r, n, order);
	find_lifetimes(&r, n);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_depth, &r);
	for (uint32_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo; hi < n && r.depth[order[hi]] == r.depth[order[lo]]; hi++)
			;
		qsort_r(order + lo, hi - lo, sizeof(*order), by_key, &r);
		for (uint32_t k = lo; k < hi; k++) {
			uint32_t a = order[k], b = k > lo ? order[k - 1] : 0;
			bool same = k > lo && parent_role(&r, a) == parent_role(&r, b) &&
				    !cmd_cmp(proc_cmd(profile__proc_at(p, a)),
					     proc_cmd(profile__proc_at(p, b))) &&
				    r.life[a] <= ROLE_LIFETIME_RATIO * r.life[b];

			role[a] = same ? role[b] : next++;
		}
	}
	err = 0;
out:
	free(order);
	free(r.parent);
	free(r.depth);
	free(r.life);
	return err;
}

/* "python3 /srv/app.py --x" for "/usr/bin/python3 /srv/app.py --x", cut to NAME_MAX_LEN. */
static char *role_name(const char *cmd)
{
	const char *sp = strchr(cmd, ' '), *slash;
	size_t len;
	char *s;

	slash = memrchr(cmd, '/', sp ? (size_t)(sp - cmd) : strlen(cmd));
	if (slash && slash[1] && slash[1] != ' ')
		cmd = slash + 1;
	len = strlen(cmd);
	s = malloc(NAME_MAX_LEN + 4);
	if (!s)
		return NULL;
	if (len > NAME_MAX_LEN) {
		memcpy(s, cmd, NAME_MAX_LEN - 3);
		strcpy(s + NAME_MAX_LEN - 3, "...");
	} else {
		strcpy(s, cmd);
	}
	sanitize(s);
	return s;
}

static int make_labels(struct report_groups *g, const struct profile *p, enum report_group how)
{
	char buf[NAME_MAX_LEN + 96];

	for (uint32_t i = 0; i < g->n; i++) {
		struct report_group_info *gi = &g->v[i];
		const struct prof_proc *pr = profile__proc_at(p, gi->procs[0]);
		char *name;

		if (how == REPORT_GROUP_PID)
			name = strdup(pr->comm);
		else if (how == REPORT_GROUP_NONE)
			name = strdup("all processes");
		else
			name = role_name(proc_cmd(pr));
		if (!name)
			return -ENOMEM;
		sanitize(name);
		gi->name = name;
		if (how == REPORT_GROUP_PID)
			snprintf(buf, sizeof(buf), "%s [%d]", name, (int)pr->pid);
		else
			snprintf(buf, sizeof(buf), "%s [%u proc%s]", name, gi->nprocs,
				 gi->nprocs == 1 ? "" : "s");
		/* roles with the same name and size: number the later ones */
		for (uint32_t j = 0, k = 1; how == REPORT_GROUP_ROLE && j < i; j++) {
			if (strcmp(g->v[j].label, buf))
				continue;
			snprintf(buf, sizeof(buf), "%s [%u proc%s] #%u", name, gi->nprocs,
				 gi->nprocs == 1 ? "" : "s", ++k);
			j = UINT32_MAX; /* restart: the numbered label may be taken too */
		}
		gi->label = strdup(buf);
		if (!gi->label)
			return -ENOMEM;
	}
	return 0;
}

/* Renumber provisional ids (raw) by first member, and fill in the groups. */
static int build(struct report_groups *g, const struct profile *p, const uint32_t *raw,
		 uint32_t *map, uint32_t *parent_of_first, enum report_group how)
{
	uint32_t n = profile__nprocs(p), *fill;
	uint32_t *pos;

	for (uint32_t i = 0; i < n; i++) {
		if (raw[i] == REPORT_NO_GROUP) {
			g->of[i] = REPORT_NO_GROUP;
			continue;
		}
		if (map[raw[i]] == REPORT_NO_GROUP)
			map[raw[i]] = g->n++;
		g->of[i] = map[raw[i]];
	}
	g->v = calloc(g->n + 1, sizeof(*g->v));
	fill = calloc(g->n + 1, sizeof(*fill));
	if (!g->v || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct report_group_info *gi;
		uint64_t s;

		if (g->of[i] == REPORT_NO_GROUP)
			continue;
		gi = &g->v[g->of[i]];
		s = profile__proc_at(p, i)->samples;
		if (!gi->nprocs) {
			gi->min_samples = s;
			gi->parent = parent_of_first ? parent_of_first[i] : REPORT_NO_GROUP;
		}
		gi->nprocs++;
		gi->samples += s;
		gi->min_samples = s < gi->min_samples ? s : gi->min_samples;
		gi->max_samples = s > gi->max_samples ? s : gi->max_samples;
	}
	pos = g->members;
	for (uint32_t k = 0; k < g->n; k++) {
		g->v[k].procs = pos;
		pos += g->v[k].nprocs;
	}
	for (uint32_t i = 0; i < n; i++)
		if (g->of[i] != REPORT_NO_GROUP)
			((uint32_t *)g->v[g->of[i]].procs)[fill[g->of[i]]++] = i;
	free(fill);
	/* the parent group: the group of the first member's parent process */
	for (uint32_t k = 0; k < g->n; k++) {
		uint32_t pp = g->v[k].parent;

		g->v[k].parent =
		    pp == REPORT_NO_GROUP || how == REPORT_GROUP_NONE ? REPORT_NO_GROUP : g->of[pp];
	}
	return make_labels(g, p, how);
}

struct report_groups *report_groups__new(const struct profile *p, const struct report_opts *o)
{
	uint32_t n = profile__nprocs(p);
	struct report_groups *g = calloc(1, sizeof(*g));
	uint32_t *raw = calloc(n + 1, sizeof(*raw)), *map = malloc((n + 1) * sizeof(*map));
	struct roles r = {.p = p};
	int err = -ENOMEM;

	r.parent = calloc(n + 1, sizeof(*r.parent));
	if (g) {
		g->of = calloc(n + 1, sizeof(*g->of));
		g->members = calloc(n + 1, sizeof(*g->members));
	}
	if (!g || !raw || !map || !r.parent || !g->of || !g->members)
		goto out;
	find_parents(&r, n);
	for (uint32_t i = 0; i < n; i++)
		map[i] = REPORT_NO_GROUP;
	if (o->group == REPORT_GROUP_ROLE) {
		err = assign_roles(p, n, raw);
		if (err)
			goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_proc *pr = profile__proc_at(p, i);

		if (o->pid && pr->pid != o->pid)
			raw[i] = REPORT_NO_GROUP;
		else if (o->group == REPORT_GROUP_PID)
			raw[i] = i;
		else if (o->group == REPORT_GROUP_NONE)
			raw[i] = 0;
	}
	err = build(g, p, raw, map, r.parent, o->group);
out:
	free(raw);
	free(map);
	free(r.parent);
	if (err) {
		report_groups__free(g);
		errno = -err;
		return NULL;
	}
	return g;
}

void report_groups__free(struct report_groups *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; g->v && i < g->n; i++) {
		free((char *)g->v[i].label);
		free((char *)g->v[i].name);
	}
	free(g->v);
	free(g->of);
	free(g->members);
	free(g);
}

uint32_t report_groups__count(const struct report_groups *g)
{
	return g->n;
}

const struct report_group_info *report_groups__get(const struct report_groups *g, uint32_t i)
{
	return i < g->n ? &g->v[i] : NULL;
}

uint32_t report_groups__of(const struct report_groups *g, uint32_t proc)
{
	return g->of[proc];
}

int report_groups__weights(const struct profile *p, const struct report_opts *o,
			   const struct report_groups *g, struct report_gstack **out, size_t *n)
{
	struct prof_stack *sc = NULL;
	struct report_gstack *v = NULL;
	size_t nsc = 0, k = 0;
	int err = report__stack_weights(p, o, NULL, NULL, &sc, &nsc, NULL);

	*out = NULL;
	*n = 0;
	if (!err && nsc && !(v = calloc(nsc, sizeof(*v))))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < nsc; i++) {
		uint32_t group = report_groups__of(g, sc[i].proc);

		if (group != REPORT_NO_GROUP)
			v[k++] = (struct report_gstack){group, sc[i].stack, sc[i].weight};
	}
	free(sc);
	if (err)
		return err;
	*out = v;
	*n = k;
	return 0;
}
