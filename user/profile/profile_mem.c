/* The memory part of a profile: memory events in arrival order (unless not kept), with an
 * EXEC or EXIT event added wherever a process's image ends once there are events, and the
 * last exact totals of each process. Every event is passed to the journal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"
#include "profile/journal.h"
#include "profile/profile.h"
#include "profile/profile_priv.h"
#include "treeprof.h"

static bool alloc_kind(uint32_t kind)
{
	return kind >= TP_MEM_MALLOC && kind <= TP_MEM_MREMAP;
}

static bool free_kind(uint32_t kind)
{
	return kind == TP_MEM_FREE || kind == TP_MEM_MUNMAP;
}

static int mem_append(struct profile *p, const struct prof_memrec *r)
{
	int err = vec__grow((void **)&p->mem, &p->mem_cap, p->nmem + 1, sizeof(*p->mem));

	if (err)
		return err;
	p->mem[p->nmem++] = *r;
	return 0;
}

/* A record of proc's end (EXEC, EXIT) at ts_ns: it holds no block. */
static struct prof_memrec end_rec(uint16_t type, uint64_t ts_ns, uint32_t proc)
{
	return (struct prof_memrec){
	    .ts_ns = ts_ns, .proc = proc, .stack = UINT32_MAX, .type = type};
}

/* Append a record (unless memory events are not kept). The first one is preceded by an
 * exit record (at its own time) for every process that exited before it, so that events
 * for those entries are known to come after their exit. */
static int mem_push(struct profile *p, const struct prof_memrec *r)
{
	uint32_t n = p->nmem ? 0 : p->nprocs;
	struct prof_memrec e;
	int err;

	if (p->mem_drop)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_proc *t = p->procs[i];

		if (!t->exited)
			continue;
		e = end_rec(MEMREC_EXIT, t->end_ns ? t->end_ns : r->ts_ns, i);
		err = mem_append(p, &e);
		if (err)
			return err;
	}
	return mem_append(p, r);
}

int prof_mem_mark(struct profile *p, uint16_t type, uint64_t ts_ns, uint32_t proc)
{
	struct prof_memrec r = end_rec(type, ts_ns, proc);

	return p->nmem ? mem_push(p, &r) : 0;
}

/* Push r as an event of the newest entry for pid (made when there is none). */
static int push_for(struct profile *p, pid_t pid, struct prof_memrec *r)
{
	struct prof_proc *t = prof_proc_get(p, pid, 0, false);

	if (!t)
		return -errno;
	r->proc = t->idx;
	return mem_push(p, r);
}

int profile__mem_alloc(struct profile *p, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t kind,
		       uint64_t addr, uint64_t size, uint64_t rate, uint32_t stack)
{
	int err;

	if (stack >= p->nstacks || !alloc_kind(kind))
		return -EINVAL;
	err = push_for(p, pid,
		       &(struct prof_memrec){.ts_ns = ts_ns,
					     .addr = addr,
					     .size = size,
					     .rate = rate,
					     .stack = stack,
					     .tid = (uint32_t)tid,
					     .kind = (uint16_t)kind,
					     .type = MEMREC_ALLOC});
	if (!err && p->journal)
		err = p->journal->mem_alloc(p->journal->ctx, ts_ns, pid, tid, kind, stack, addr,
					    size, rate);
	return err;
}

int profile__mem_free(struct profile *p, uint64_t ts_ns, pid_t pid, uint32_t kind, uint64_t addr)
{
	struct prof_memrec r = end_rec(MEMREC_FREE, ts_ns, 0);
	int err;

	if (!free_kind(kind))
		return -EINVAL;
	r.addr = addr;
	r.kind = (uint16_t)kind;
	err = push_for(p, pid, &r);
	if (!err && p->journal)
		err = p->journal->mem_free(p->journal->ctx, ts_ns, pid, kind, addr);
	return err;
}

int profile__mem_free_range(struct profile *p, uint64_t ts_ns, pid_t pid, uint64_t addr,
			    uint64_t len)
{
	struct prof_memrec r = end_rec(MEMREC_FREE_RANGE, ts_ns, 0);
	int err;

	if (!len || addr + len < addr)
		return -EINVAL;
	r.addr = addr;
	r.size = len;
	r.kind = TP_MEM_MUNMAP;
	err = push_for(p, pid, &r);
	if (!err && p->journal)
		err = p->journal->mem_free_range(p->journal->ctx, ts_ns, pid, addr, len);
	return err;
}

/* A child already exited (a pid reused) gets a new entry, as profile__proc_start does. */
int profile__mem_fork(struct profile *p, uint64_t ts_ns, pid_t child, pid_t parent)
{
	struct prof_proc *c, *par = prof_proc_get(p, parent, 0, false);
	struct prof_memrec r;
	int err;

	if (!par)
		return -errno;
	c = prof_proc_get(p, child, parent, true);
	if (!c)
		return -errno;
	if (!c->ppid)
		c->ppid = parent;
	r = end_rec(MEMREC_FORK, ts_ns, c->idx);
	r.addr = par->idx;
	err = mem_push(p, &r);
	if (!err && p->journal)
		err = p->journal->mem_fork(p->journal->ctx, ts_ns, child, parent);
	return err;
}

int profile__mem_rss(struct profile *p, uint64_t ts_ns, pid_t pid, uint64_t rss_bytes)
{
	struct prof_memrec r = end_rec(MEMREC_RSS, ts_ns, 0);
	int err;

	r.size = rss_bytes;
	err = push_for(p, pid, &r);
	if (!err && p->journal)
		err = p->journal->mem_rss(p->journal->ctx, ts_ns, pid, rss_bytes);
	return err;
}

int profile__mem_final(struct profile *p, uint64_t ts_ns, pid_t pid)
{
	struct prof_memrec r = end_rec(MEMREC_FINAL, ts_ns, 0);
	int err = push_for(p, pid, &r);

	if (!err && p->journal)
		err = p->journal->mem_final(p->journal->ctx, ts_ns, pid);
	return err;
}

/* Make room for the totals of process index idx. */
static int memc_reserve(struct profile *p, uint32_t idx)
{
	size_t cap = p->memc_cap;
	int err;

	if (idx < p->memc_cap)
		return 0;
	err = vec__grow((void **)&p->memc, &cap, (size_t)idx + 1, sizeof(*p->memc));
	if (err)
		return err;
	cap = p->memc_cap;
	err = vec__grow((void **)&p->memc_set, &cap, (size_t)idx + 1, sizeof(*p->memc_set));
	if (err)
		return err;
	memset(p->memc_set + p->memc_cap, 0, (cap - p->memc_cap) * sizeof(*p->memc_set));
	p->memc_cap = cap;
	return 0;
}

int profile__mem_counters(struct profile *p, uint64_t ts_ns, pid_t pid,
			  const struct tp_memcounters *c)
{
	struct prof_proc *t;
	int err;

	if (!c)
		return -EINVAL;
	t = prof_proc_get(p, pid, 0, false);
	if (!t)
		return -errno;
	err = memc_reserve(p, t->idx);
	if (err)
		return err;
	p->memc[t->idx] = *c;
	p->memc_set[t->idx] = true;
	if (p->journal)
		return p->journal->mem_counters(p->journal->ctx, ts_ns, pid, c);
	return 0;
}

void profile__keep_mem(struct profile *p, bool keep)
{
	p->mem_drop = !keep;
}

size_t profile__nmem(const struct profile *p)
{
	return p->nmem;
}

const struct prof_memrec *profile__mem_at(const struct profile *p, size_t i)
{
	return i < p->nmem ? &p->mem[i] : NULL;
}

const struct tp_memcounters *profile__mem_counters_get(const struct profile *p, uint32_t proc)
{
	return proc < p->memc_cap && p->memc_set[proc] ? &p->memc[proc] : NULL;
}
