// SPDX-License-Identifier: GPL-2.0
/* The live heap estimate of heapest.h: a table of processes by pid, each with a table of the
 * blocks its current image holds by address + 1 (as profile/memacct.c keeps them), so that an
 * exec or an exit drops one process's blocks at once without looking at anyone else's. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/hash.h"
#include "profile/memacct.h"
#include "ui/heapest.h"

/* The bytes one block stands for at most: 2^19 of them still sum exactly in 64 bits. */
#define MAX_WEIGHT (1ULL << 44)

struct hproc {
	struct htab blocks; /* value: uint64_t weight in bytes, by block_key() */
	uint64_t held;	    /* the sum of the weights */
	uint64_t image_ns;  /* when the current image started (0: before the run) */
};

struct heapest {
	struct htab procs; /* value: struct hproc, by pid */
	size_t nblocks, max_blocks;
};

/* 0 (never stored) only for the address UINT64_MAX, which no block starts at. */
static uint64_t block_key(uint64_t addr)
{
	return addr + 1;
}

struct heapest *heapest__new(size_t max_blocks)
{
	struct heapest *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	htab__init(&h->procs, sizeof(struct hproc));
	h->max_blocks = max_blocks;
	return h;
}

void heapest__free(struct heapest *h)
{
	struct hproc *p;
	size_t iter = 0;

	if (!h)
		return;
	while ((p = htab__next(&h->procs, &iter, NULL)))
		htab__fini(&p->blocks);
	htab__fini(&h->procs);
	free(h);
}

/* pid's entry; when absent and add is set, a new one that holds nothing (its image from
 * before the run). NULL when absent, or out of memory. */
static struct hproc *proc_get(struct heapest *h, pid_t pid, bool add)
{
	struct hproc *p;
	int created;

	if (!add)
		return htab__get(&h->procs, (uint64_t)pid);
	p = htab__put(&h->procs, (uint64_t)pid, &created);
	if (p && created)
		htab__init(&p->blocks, sizeof(uint64_t));
	return p;
}

static void drop_blocks(struct heapest *h, struct hproc *p)
{
	h->nblocks -= htab__count(&p->blocks);
	htab__fini(&p->blocks);
	p->held = 0;
}

int heapest__alloc(struct heapest *h, pid_t pid, uint64_t addr, double bytes, uint64_t ts_ns)
{
	uint64_t key = block_key(addr), w = memacct__round(bytes), *slot;
	struct hproc *p;

	if (pid <= 0 || !(bytes > 0) || !key)
		return -EINVAL;
	p = proc_get(h, pid, true);
	if (!p)
		return -ENOMEM;
	if (ts_ns < p->image_ns)
		return -ESTALE;
	slot = htab__get(&p->blocks, key);
	if (slot) {
		p->held -= *slot; /* its free was missed: replaced */
	} else {
		if (h->nblocks >= h->max_blocks)
			return -ENOSPC;
		slot = htab__put(&p->blocks, key, NULL);
		if (!slot)
			return -ENOMEM;
		h->nblocks++;
	}
	*slot = w > MAX_WEIGHT ? MAX_WEIGHT : w;
	p->held += *slot;
	return 0;
}

void heapest__release(struct heapest *h, pid_t pid, uint64_t addr, uint64_t ts_ns)
{
	struct hproc *p = pid > 0 ? proc_get(h, pid, false) : NULL;
	uint64_t *slot;

	if (!p || ts_ns < p->image_ns || !(slot = htab__get(&p->blocks, block_key(addr))))
		return;
	p->held -= *slot;
	htab__del_val(&p->blocks, slot);
	h->nblocks--;
}

int heapest__image(struct heapest *h, pid_t pid, uint64_t ts_ns)
{
	struct hproc *p;

	if (pid <= 0)
		return -EINVAL;
	p = proc_get(h, pid, true);
	if (!p)
		return -ENOMEM;
	drop_blocks(h, p);
	p->image_ns = ts_ns;
	return 0;
}

void heapest__exit(struct heapest *h, pid_t pid)
{
	struct hproc *p = pid > 0 ? proc_get(h, pid, false) : NULL;

	if (!p)
		return;
	drop_blocks(h, p);
	htab__del_val(&h->procs, p);
}

uint64_t heapest__bytes(const struct heapest *h, pid_t pid)
{
	const struct hproc *p = pid > 0 ? htab__get(&h->procs, (uint64_t)pid) : NULL;

	return p ? p->held : 0;
}

size_t heapest__blocks(const struct heapest *h)
{
	return h->nblocks;
}
