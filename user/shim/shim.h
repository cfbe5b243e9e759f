/* Internals shared by the files of libtreeprof-mem.so (memshim.c: state, sampling, hook;
 * alloc.c: the malloc family; mmap.c: mmap, munmap, mremap, mprotect; exec.c: the exec
 * family and posix_spawn, which keep the sampler in an image exec'd in another root). Only
 * SHIM_EXPORT symbols leave the library: the interposed functions, treeprof_mem_hook,
 * treeprof_mem_counters and treeprof_mem_hook_calls. */
#ifndef TREEPROF_SHIM_H
#define TREEPROF_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/single_threaded.h>

#include "treeprof.h"

#define SHIM_EXPORT	 __attribute__((visibility("default")))
#define SHIM_LIKELY(x)	 __builtin_expect(!!(x), 1)
#define SHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* glibc's allocator under its exported second names: calling these never comes back here. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

extern SHIM_EXPORT struct tp_memcounters treeprof_mem_counters;
extern uint64_t shim_page_size;
/* Bytes this thread may still allocate before its next sample. */
extern __thread int64_t shim_bytes_left;

bool shim_sample_slow(uint64_t bytes);
/* exec.c, from the constructor: the descriptor on the sampler's own file, the real exec
 * functions. */
void shim_exec_init(void);
/* The return address of the interposed allocating function this thread is in: passed to
 * the hook, it is the allocation's caller (the sampler's own frames are of no interest). */
extern __thread uintptr_t shim_caller;
#define SHIM_CALLER() (shim_caller = (uintptr_t)__builtin_return_address(0))
/* Tell the hook about a sampled allocation (counts it in `sampled`) or a released block:
 * len 0 the whole block at addr, else [addr, addr + len) of a sampled mapping. */
void shim_hook_alloc(uint64_t kind, uint64_t addr, uint64_t size);
void shim_hook_free(uint64_t kind, uint64_t addr, uint64_t len);
void shim_peak_update(uint64_t in_use);

/* Counter updates are relaxed atomic adds. While the process has a single thread (glibc's
 * __libc_single_threaded, cleared before a second thread starts) they are a plain load and
 * store instead: the same result without the lock prefix, which costs ~10 ns an update.
 * The flag is read once per call (a store to a counter could alias it, as far as the
 * compiler knows). */
static inline void shim_add_st(__u64 *counter, uint64_t v, bool single)
{
	if (single)
		__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + v,
				 __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
}

/* counter: a field of treeprof_mem_counters. */
static inline void shim_add(__u64 *counter, uint64_t v)
{
	shim_add_st(counter, v, __libc_single_threaded);
}

static inline void shim_in_use_add_st(uint64_t usable, bool single)
{
	struct tp_memcounters *c = &treeprof_mem_counters;
	uint64_t now;

	if (single) {
		now = __atomic_load_n(&c->in_use, __ATOMIC_RELAXED) + usable;
		__atomic_store_n(&c->in_use, now, __ATOMIC_RELAXED);
	} else {
		now = __atomic_add_fetch(&c->in_use, usable, __ATOMIC_RELAXED);
	}
	/* Signed: in a fork child in_use is the change since the fork, below 0 when the child
	 * frees more of its parent's copies than it allocates. */
	if (SHIM_UNLIKELY((int64_t)now >
			  (int64_t)__atomic_load_n(&c->peak_in_use, __ATOMIC_RELAXED)))
		shim_peak_update(now);
}

static inline void shim_in_use_add(uint64_t usable)
{
	shim_in_use_add_st(usable, __libc_single_threaded);
}

static inline void shim_in_use_sub(uint64_t usable)
{
	shim_add(&treeprof_mem_counters.in_use, -usable);
}

/* A successful allocation of `bytes` requested and `usable` bytes held. */
static inline void shim_count_alloc(uint64_t bytes, uint64_t usable)
{
	bool single = __libc_single_threaded;

	shim_add_st(&treeprof_mem_counters.alloc_count, 1, single);
	shim_add_st(&treeprof_mem_counters.alloc_bytes, bytes, single);
	shim_in_use_add_st(usable, single);
}

static inline void shim_count_free(uint64_t usable)
{
	bool single = __libc_single_threaded;

	shim_add_st(&treeprof_mem_counters.free_count, 1, single);
	shim_add_st(&treeprof_mem_counters.in_use, -usable, single);
}

static inline void shim_count_failed(void)
{
	shim_add(&treeprof_mem_counters.failed, 1);
}

/* Poisson byte sampling: true when this allocation crosses the thread's countdown. */
static inline bool shim_sample(uint64_t bytes)
{
	shim_bytes_left -= (int64_t)bytes;
	if (SHIM_LIKELY(shim_bytes_left > 0))
		return false;
	return shim_sample_slow(bytes);
}

#endif
