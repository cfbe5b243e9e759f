/* The anonymous mappings the program made through mmap/mremap (not the allocator's own,
 * which glibc makes with its internal mmap): every one is tracked, sampled or not, because
 * in_use needs its length when it goes away and munmap works on address ranges.
 *
 * A sorted array of [start, start + len) ranges, allocated with __libc_realloc. The rule
 * for ranges (munmap, MAP_FIXED, mremap): an operation on [lo, hi) takes away every tracked
 * mapping that *starts* inside [lo, hi), whole; a mapping that only loses its tail or a
 * middle part stays tracked at its full length until its start goes. maps__release() calls
 * fn on each mapping it takes away, with the lock held.
 * Errors: 0 or a negative errno (-ENOMEM, -EBUSY as in blocks.h, -ENOENT). */
#ifndef TREEPROF_SHIM_MAPS_H
#define TREEPROF_SHIM_MAPS_H

#include <stdint.h>

#include "shim_lock.h"

struct shim_map {
	uint64_t start;
	uint64_t len;	  /* page-rounded: what in_use counts */
	uint64_t size;	  /* bytes requested */
	uint64_t sampled; /* 1: the hook was told about it */
};

int maps__insert(const struct shim_map *m);
/* Take away the mapping starting exactly at start, into *out. */
int maps__take(uint64_t start, struct shim_map *out);
/* Take away every mapping starting in [lo, hi); fn(m) for each. */
int maps__release(uint64_t lo, uint64_t hi, void (*fn)(const struct shim_map *m));

/* The fork handler (memshim.c's pthread_atfork): the table stays locked across fork(). */
void maps__at_fork(enum shim_fork phase);

#endif
