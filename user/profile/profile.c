/* The core of a profile: the process table with its pid index, the samples (kept whole, or
 * summed per (process, stack) in compact mode) and the stack counts writers read. Interned
 * frames, stacks, statistics and metadata are in intern.c, memory events in profile_mem.c.
 * Every change is passed to the journal when one is attached, so replaying a journal
 * through these same calls rebuilds an identical profile. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"
#include "profile/journal.h"
#include "profile/profile.h"
#include "profile/profile_priv.h"
#include "treeprof.h"

struct profile *profile__new(void)
{
	struct profile *p = calloc(1, sizeof(struct profile));

	if (!p)
		return NULL;
	prof_intern_init(p);
	htab__init(&p->pid_tab, sizeof(uint32_t));
	htab__init(&p->agg, sizeof(uint64_t));
	return p;
}

/* The three strings of a process, for loops over them. */
static void proc_strings(struct prof_proc *t, char **field[3])
{
	field[0] = &t->comm;
	field[1] = &t->cmdline;
	field[2] = &t->exe;
}

static void proc_free(struct prof_proc *t)
{
	char **field[3];

	if (!t)
		return;
	proc_strings(t, field);
	for (int i = 0; i < 3; i++)
		free(*field[i]);
	free(t);
}

void profile__free(struct profile *p)
{
	if (!p)
		return;
	prof_intern_free(p);
	for (uint32_t i = 0; i < p->nprocs; i++)
		proc_free(p->procs[i]);
	free(p->procs);
	htab__fini(&p->pid_tab);
	free(p->samples);
	htab__fini(&p->agg);
	free(p->mem);
	free(p->memc);
	free(p->memc_set);
	free(p);
}

void profile__set_journal(struct profile *p, const struct profile_journal *j)
{
	p->journal = j;
}

/* ---- processes ---- */

static uint64_t pid_key(pid_t pid)
{
	return (uint64_t)(uint32_t)pid + 1;
}

struct prof_proc *profile__proc_find(const struct profile *p, pid_t pid)
{
	const uint32_t *v = htab__get(&p->pid_tab, pid_key(pid));

	return v ? p->procs[*v] : NULL;
}

uint32_t profile__nprocs(const struct profile *p)
{
	return p->nprocs;
}

const struct prof_proc *profile__proc_at(const struct profile *p, uint32_t idx)
{
	return idx < p->nprocs ? p->procs[idx] : NULL;
}

/* Replace a process's strings; NULL arguments keep the old value. All or nothing. */
static int proc_set_strings(struct prof_proc *t, const char *comm, const char *cmdline,
			    const char *exe)
{
	const char *in[3] = {comm, cmdline, exe};
	char *copy[3] = {NULL, NULL, NULL};
	char **field[3];

	for (int i = 0; i < 3; i++) {
		if (in[i] && !(copy[i] = prof_str_copy(in[i]))) {
			while (i--)
				free(copy[i]);
			return -ENOMEM;
		}
	}
	proc_strings(t, field);
	for (int i = 0; i < 3; i++) {
		if (copy[i]) {
			free(*field[i]);
			*field[i] = copy[i];
		}
	}
	return 0;
}

/* A new, newest entry for pid with empty strings; NULL with errno set. */
static struct prof_proc *proc_add(struct profile *p, pid_t pid, pid_t ppid)
{
	struct prof_proc *t;
	int err;

	if (p->nprocs == UINT32_MAX - 1) {
		errno = ENOSPC;
		return NULL;
	}
	err = htab__reserve(&p->pid_tab, htab__count(&p->pid_tab) + 1);
	if (!err)
		err = vec__grow32((void **)&p->procs, &p->procs_cap, (size_t)p->nprocs + 1,
				  sizeof(*p->procs));
	if (err) {
		errno = -err;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || proc_set_strings(t, "", "", "")) {
		proc_free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->idx = p->nprocs;
	t->pid = pid;
	t->ppid = ppid;
	p->procs[p->nprocs++] = t;
	/* reserved: cannot fail; a pid seen before now maps to this newest entry */
	*(uint32_t *)htab__put(&p->pid_tab, pid_key(pid), NULL) = t->idx;
	return t;
}

struct prof_proc *prof_proc_get(struct profile *p, pid_t pid, pid_t ppid, bool after_exit)
{
	struct prof_proc *t = profile__proc_find(p, pid);

	if (t && !(after_exit && t->exited))
		return t;
	return proc_add(p, pid, ppid);
}

int profile__proc_start(struct profile *p, pid_t pid, pid_t ppid, uint64_t ts_ns, const char *comm,
			const char *cmdline, const char *exe)
{
	struct prof_proc *t = prof_proc_get(p, pid, ppid, true);
	int err;

	if (!t)
		return -errno;
	t->ppid = ppid;
	t->start_ns = ts_ns;
	err = proc_set_strings(t, comm, cmdline, exe);
	if (!err && p->journal)
		err = p->journal->proc_start(p->journal->ctx, pid, ppid, ts_ns, comm, cmdline, exe);
	return err;
}

int profile__proc_exec(struct profile *p, pid_t pid, uint64_t ts_ns, const char *comm,
		       const char *cmdline, const char *exe)
{
	struct prof_proc *t = prof_proc_get(p, pid, 0, true);
	int err;

	if (!t)
		return -errno;
	err = proc_set_strings(t, comm, cmdline, exe);
	if (!err)
		err = prof_mem_mark(p, MEMREC_EXEC, ts_ns, t->idx);
	if (!err && p->journal)
		err = p->journal->proc_exec(p->journal->ctx, pid, ts_ns, comm, cmdline, exe);
	return err;
}

/* An exit for an unknown pid, or for one already exited, makes a new, exited entry. */
int profile__proc_exit(struct profile *p, pid_t pid, uint64_t ts_ns, int exit_code)
{
	struct prof_proc *t = prof_proc_get(p, pid, 0, true);

	if (!t)
		return -errno;
	t->exited = true;
	t->end_ns = ts_ns;
	t->exit_code = exit_code;
	if (prof_mem_mark(p, MEMREC_EXIT, ts_ns, t->idx))
		return -ENOMEM;
	if (p->journal)
		return p->journal->proc_exit(p->journal->ctx, pid, ts_ns, exit_code);
	return 0;
}

/* ---- samples ---- */

void profile__keep_samples(struct profile *p, bool keep)
{
	p->compact = !keep;
}

/* Add weight to (proc, stack) in t (key (proc << 32 | stack) + 1, value the summed weight). */
static int agg_add(struct htab *t, uint32_t proc, uint32_t stack, uint64_t weight)
{
	uint64_t *w = htab__put(t, ((uint64_t)proc << 32 | stack) + 1, NULL);

	if (!w)
		return -ENOMEM;
	*w += weight;
	return 0;
}

/* Samples go to the newest entry for pid even after its exit (a late sample of an exiting
 * process); a sample adds its weight to the process's count. */
int profile__sample(struct profile *p, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu,
		    uint32_t stack, uint64_t weight)
{
	struct prof_proc *t;
	int err;

	if (stack >= p->nstacks)
		return -EINVAL;
	err = vec__grow((void **)&p->samples, &p->samples_cap, p->compact ? 1 : p->nsamples + 1,
			sizeof(*p->samples));
	if (err)
		return err;
	t = profile__proc_find(p, pid);
	if (!t)
		t = proc_add(p, pid, 0);
	if (!t)
		return -errno;
	if (p->compact && agg_add(&p->agg, t->idx, stack, weight))
		return -ENOMEM;
	p->samples[p->compact ? 0 : p->nsamples] = (struct prof_sample){.ts_ns = ts_ns,
									.proc = t->idx,
									.tid = (uint32_t)tid,
									.cpu = cpu,
									.stack = stack,
									.weight = weight};
	p->nsamples++;
	t->samples += weight;
	if (p->journal)
		return p->journal->sample(p->journal->ctx, ts_ns, pid, tid, cpu, stack, weight);
	return 0;
}

size_t profile__nsamples(const struct profile *p)
{
	return p->nsamples;
}

const struct prof_sample *profile__sample_at(const struct profile *p, size_t i)
{
	if (p->compact) /* only the last one is kept */
		return i + 1 == p->nsamples ? &p->samples[0] : NULL;
	return i < p->nsamples ? &p->samples[i] : NULL;
}

/* ---- stack counts ---- */

static int agg_walk(const struct htab *t,
		    int (*fn)(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx), void *ctx)
{
	size_t iter = 0;
	uint64_t *w, key;
	int err = 0;

	while (!err && (w = htab__next(t, &iter, &key)))
		err = fn((key - 1) >> 32, (uint32_t)(key - 1), *w, ctx);
	return err;
}

int profile__for_each_stack_count(const struct profile *p,
				  int (*fn)(uint32_t proc, uint32_t stack, uint64_t weight,
					    void *ctx),
				  void *ctx)
{
	struct htab t;
	int err = 0;

	if (p->compact)
		return agg_walk(&p->agg, fn, ctx);
	htab__init(&t, sizeof(uint64_t));
	/* room for as many pairs as samples, so that it never grows (an error here is not
	 * one: the table then grows as needed) */
	htab__reserve(&t, p->nsamples);
	for (size_t i = 0; i < p->nsamples && !err; i++)
		err = agg_add(&t, p->samples[i].proc, p->samples[i].stack, p->samples[i].weight);
	if (!err)
		err = agg_walk(&t, fn, ctx);
	htab__fini(&t);
	return err;
}

struct counts_ctx {
	bool (*keep)(uint32_t proc, void *ctx);
	void *ctx;
	struct prof_stack *v;
	size_t n, cap;
};

static int counts_add(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	struct counts_ctx *c = ctx;

	if (c->keep && !c->keep(proc, c->ctx))
		return 0;
	if (vec__grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)))
		return -ENOMEM;
	c->v[c->n++] = (struct prof_stack){proc, stack, weight};
	return 0;
}

int profile__order_by_weight(uint32_t proc_a, uint64_t weight_a, uint32_t stack_a, uint32_t proc_b,
			     uint64_t weight_b, uint32_t stack_b)
{
	if (proc_a != proc_b)
		return proc_a < proc_b ? -1 : 1;
	if (weight_a != weight_b)
		return weight_a > weight_b ? -1 : 1;
	return stack_a < stack_b ? -1 : stack_a > stack_b;
}

int profile__stack_count_order(const void *a, const void *b)
{
	const struct prof_stack *x = a, *y = b;

	return profile__order_by_weight(x->proc, x->weight, x->stack, y->proc, y->weight, y->stack);
}

int profile__stack_counts(const struct profile *p, bool (*keep)(uint32_t proc, void *ctx),
			  void *ctx, struct prof_stack **out, size_t *n)
{
	struct counts_ctx c = {.keep = keep, .ctx = ctx};
	int err = profile__for_each_stack_count(p, counts_add, &c);

	if (err) {
		free(c.v);
		return err;
	}
	if (c.n) /* qsort of a NULL array is undefined, even when empty */
		qsort(c.v, c.n, sizeof(*c.v), profile__stack_count_order);
	*out = c.v;
	*n = c.n;
	return 0;
}
