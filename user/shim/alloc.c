/* The malloc family, interposed: each forwards to glibc's __libc_* function, counts the
 * result in treeprof_mem_counters, and reports sampled blocks to the hook (see memshim.c).
 * A block is reported released (removed from the set, hook called) *before* glibc gets it
 * back, so that no other thread can be handed the same address and have it sampled first. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "blocks.h"
#include "shim.h"

/* glibc 2.26 dropped the declaration; old binaries may still call it. */
SHIM_EXPORT void cfree(void *p);

static void sample_block(uint64_t kind, void *p, uint64_t size)
{
	if (blocks__insert((uintptr_t)p, size) == 0)
		shim_hook_alloc(kind, (uintptr_t)p, size);
}

/* Count the result of an allocation of `size` bytes and maybe sample it. */
static void *allocated(uint64_t kind, void *p, uint64_t size)
{
	if (SHIM_UNLIKELY(!p)) {
		shim_count_failed();
		return NULL;
	}
	shim_count_alloc(size, malloc_usable_size(p));
	if (SHIM_UNLIKELY(shim_sample(size)))
		sample_block(kind, p, size);
	return p;
}

/* Forget the sampled block p (before it goes back to glibc); true if it was sampled. The
 * caller has seen blocks__maybe(p). */
static __attribute__((noinline)) bool unsample_slow(void *p, uint64_t *size)
{
	if (blocks__remove((uintptr_t)p, size))
		return false;
	shim_hook_free(TP_MEM_FREE, (uintptr_t)p, 0);
	return true;
}

static inline bool unsample(void *p, uint64_t *size)
{
	return SHIM_UNLIKELY(blocks__maybe((uintptr_t)p)) && unsample_slow(p, size);
}

/* Count the free of the non-NULL block p before glibc gets it back. */
static inline __attribute__((always_inline)) void releasing(void *p)
{
	shim_count_free(malloc_usable_size(p));
	unsample(p, NULL);
}

SHIM_EXPORT void *malloc(size_t size)
{
	SHIM_CALLER();
	return allocated(TP_MEM_MALLOC, __libc_malloc(size), size);
}

SHIM_EXPORT void *calloc(size_t nmemb, size_t size)
{
	SHIM_CALLER();
	size_t bytes;

	if (__builtin_mul_overflow(nmemb, size, &bytes))
		bytes = SIZE_MAX; /* glibc fails it (ENOMEM) */
	return allocated(TP_MEM_CALLOC, __libc_calloc(nmemb, size), bytes);
}

static void free_block(void *p)
{
	if (!p)
		return;
	releasing(p);
	__libc_free(p);
}

SHIM_EXPORT void free(void *p)
{
	free_block(p);
}

SHIM_EXPORT void cfree(void *p)
{
	free_block(p);
}

/* realloc(p, n): the old block counts as freed and the new one as allocated (kind
 * TP_MEM_REALLOC); realloc(NULL, n) is an allocation only; realloc(p, 0) frees p and returns
 * NULL, as glibc does. When it fails, p is left as it was: still counted in in_use and, if it
 * was sampled, sampled again at once (the hook has already seen its free). */
static void *realloc_block(void *old, size_t size)
{
	uint64_t old_usable, old_size = 0;
	bool was_sampled;
	void *p;

	if (!old)
		return allocated(TP_MEM_REALLOC, __libc_malloc(size), size);
	if (size == 0) {
		free_block(old);
		return NULL;
	}
	old_usable = malloc_usable_size(old);
	shim_in_use_sub(old_usable);
	was_sampled = unsample(old, &old_size);
	p = __libc_realloc(old, size);
	if (SHIM_UNLIKELY(!p)) {
		shim_in_use_add(old_usable);
		shim_count_failed();
		if (was_sampled)
			sample_block(TP_MEM_REALLOC, old, old_size);
		return NULL;
	}
	shim_add(&treeprof_mem_counters.free_count, 1);
	return allocated(TP_MEM_REALLOC, p, size);
}

SHIM_EXPORT void *realloc(void *p, size_t size)
{
	SHIM_CALLER();
	return realloc_block(p, size);
}

SHIM_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	SHIM_CALLER();
	size_t bytes;

	if (__builtin_mul_overflow(nmemb, size, &bytes)) {
		shim_count_failed();
		errno = ENOMEM;
		return NULL;
	}
	return realloc_block(p, bytes);
}

static bool valid_alignment(size_t alignment)
{
	return alignment && !(alignment & (alignment - 1));
}

SHIM_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
	SHIM_CALLER();
	int saved = errno;
	void *p;

	if (!valid_alignment(alignment) || alignment % sizeof(void *)) {
		shim_count_failed();
		return EINVAL;
	}
	p = allocated(TP_MEM_POSIX_MEMALIGN, __libc_memalign(alignment, size), size);
	errno = saved; /* posix_memalign reports through its return value only */
	if (!p)
		return ENOMEM;
	*memptr = p;
	return 0;
}

/* C11/C17: an alignment that is not a power of two fails with EINVAL (glibc >= 2.38 does the
 * same; older glibc rounded it up like memalign). */
SHIM_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	SHIM_CALLER();
	if (!valid_alignment(alignment)) {
		shim_count_failed();
		errno = EINVAL;
		return NULL;
	}
	return allocated(TP_MEM_MEMALIGN, __libc_memalign(alignment, size), size);
}

SHIM_EXPORT void *memalign(size_t alignment, size_t size)
{
	SHIM_CALLER();
	return allocated(TP_MEM_MEMALIGN, __libc_memalign(alignment, size), size);
}

SHIM_EXPORT void *valloc(size_t size)
{
	SHIM_CALLER();
	return allocated(TP_MEM_VALLOC, __libc_valloc(size), size);
}

SHIM_EXPORT void *pvalloc(size_t size)
{
	SHIM_CALLER();
	return allocated(TP_MEM_PVALLOC, __libc_pvalloc(size), size);
}
