/* The set of sampled heap blocks: the addresses the hook was told about and whose free
 * must be reported. Keyed by address, each with the size that was requested.
 *
 * blocks__maybe() is the lock-free pre-filter every free() goes through: 65536 counters,
 * one per hash bucket of addresses, each the number of sampled blocks in its bucket. A zero
 * counter (nearly every free) proves the address is not in the set; otherwise the caller
 * takes the lock in blocks__remove(). The counters change only under the lock. A counter
 * that reaches 65535 stays there (it can no longer prove anything, never the wrong way).
 *
 * The table is allocated with __libc_calloc/__libc_free, never through the interposed
 * functions. Errors: 0 or a negative errno (-ENOMEM: the table could not grow; -EBUSY: called
 * from a signal handler that interrupted an operation on the set; -ENOENT: not in the set). */
#ifndef TREEPROF_SHIM_BLOCKS_H
#define TREEPROF_SHIM_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include "shim_lock.h"

#define BLOCKS_FILTER_BITS 16

extern uint16_t blocks_filter[1u << BLOCKS_FILTER_BITS];

static inline uint32_t blocks_filter_slot(uint64_t addr)
{
	return (uint32_t)((addr * 0x9e3779b97f4a7c15ULL) >> (64 - BLOCKS_FILTER_BITS));
}

/* false: addr is certainly not in the set. */
static inline bool blocks__maybe(uint64_t addr)
{
	return __atomic_load_n(&blocks_filter[blocks_filter_slot(addr)], __ATOMIC_RELAXED) != 0;
}

/* Add addr (replacing a stale entry at the same address). */
int blocks__insert(uint64_t addr, uint64_t size);
/* Remove addr; its requested size goes to *size when size is not NULL. */
int blocks__remove(uint64_t addr, uint64_t *size);

/* The fork handler (memshim.c's pthread_atfork): the table stays locked across fork(). */
void blocks__at_fork(enum shim_fork phase);

#endif
