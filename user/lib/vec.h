/* Growable arrays: the caller keeps the pointer, the count and the capacity; vec__grow()
 * makes room. The capacity doubles (from VEC_MIN_CAP), so n appends cost O(n) in all. */
#ifndef TREEPROF_LIB_VEC_H
#define TREEPROF_LIB_VEC_H

#include <stddef.h>
#include <stdint.h>

#define VEC_MIN_CAP 16

int vec__grow_slow(void **arr, size_t *cap, size_t need, size_t elem);
int vec__grow32_slow(void **arr, uint32_t *cap, size_t need, size_t elem);

/* Make *arr (an array of elem-sized elements, *cap of them allocated) hold at least need:
 * 0, or -ENOMEM when out of memory or when need * elem would exceed PTRDIFF_MAX. On success *arr
 * may have moved and *cap >= need; on failure both are unchanged and *arr still valid.
 * *arr may start NULL with *cap 0. */
static inline int vec__grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	return vec__grow_slow(arr, cap, need, elem);
}

/* The same for a uint32_t capacity (arrays indexed by 32-bit ids): also -ENOSPC when need
 * exceeds UINT32_MAX. The capacity stops at UINT32_MAX instead of overflowing. */
static inline int vec__grow32(void **arr, uint32_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	return vec__grow32_slow(arr, cap, need, elem);
}

#endif
