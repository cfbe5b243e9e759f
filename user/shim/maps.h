/* The anonymous mappings the program made through mmap/mremap (not the allocator's own,
 * which glibc makes with its internal mmap): every one is tracked, sampled or not, because
 * in_use needs its length when it goes away and munmap and mprotect work on address ranges.
 *
 * A sorted array of disjoint segments [start, start + len), allocated with __libc_realloc.
 * A segment is accessible (counted in in_use) or reserved (mapped PROT_NONE: address space,
 * not memory). The rule for ranges: an operation on [lo, hi) (munmap, MAP_FIXED, mremap's
 * target, mprotect) acts on exactly the bytes of the tracked segments inside [lo, hi): a
 * segment it covers in part is cut there, its other parts stay as they were (a hole in the
 * middle leaves two). The callbacks get each piece acted on, with the lock held.
 * Errors: 0 or a negative errno (-ENOMEM, -EBUSY as in blocks.h, -ENOENT). */
#ifndef TREEPROF_SHIM_MAPS_H
#define TREEPROF_SHIM_MAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "shim_lock.h"

struct shim_map {
	uint64_t start;
	uint64_t len;	   /* page-rounded: what in_use counts when accessible */
	uint64_t size;	   /* bytes requested (a piece cut from a mapping: its len) */
	uint32_t sampled;  /* 1: the hook was told about it */
	uint32_t reserved; /* 1: PROT_NONE, not counted */
};

int maps__insert(const struct shim_map *m);
/* Take away the segment starting exactly at start, into *out. */
int maps__take(uint64_t start, struct shim_map *out);
/* Take away every tracked byte of [lo, hi); fn(piece, whole) for each piece, whole when it
 * is a whole segment. A segment that cannot be cut (no memory) goes whole. */
int maps__release(uint64_t lo, uint64_t hi, void (*fn)(const struct shim_map *piece, bool whole));
/* Make every tracked byte of [lo, hi) reserved (reserve) or accessible; fn(piece) for each
 * piece whose state changes, after the change (it may set piece->sampled). */
int maps__protect(uint64_t lo, uint64_t hi, bool reserve, void (*fn)(struct shim_map *piece));

/* The fork handler (memshim.c's pthread_atfork): the table stays locked across fork(). */
void maps__at_fork(enum shim_fork phase);

#endif
