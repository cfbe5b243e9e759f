/* mmap, munmap, mremap and mprotect, interposed. glibc's malloc maps memory with its internal
 * mmap, which never comes here, so what does come here is memory the program maps itself
 * (CPython's small-object arenas, other allocators' pools, reservations of address space).
 * Anonymous mappings are tracked in maps.c; file mappings are passed through uncounted.
 *
 * What counts is what the kernel gives the process: an accessible anonymous mapping is an
 * allocation of kind TP_MEM_MMAP; a PROT_NONE one is a reservation, tracked but not counted,
 * until an mprotect makes part of it accessible: that part is then an allocation (kind
 * TP_MEM_MMAP, the mprotect's caller), and making it PROT_NONE again frees it. An munmap (or
 * a MAP_FIXED mmap, or an mremap's target) frees exactly the accessible bytes in its range:
 * a mapping that loses its head, its tail or a middle part stays counted for the rest.
 * The hook hears of a sampled piece that goes as a release at its start (size 0) when the
 * piece is a whole tracked segment, else as a release of [addr, addr + size).
 * An mremap of a tracked segment is a TP_MEM_MUNMAP of the old range and a TP_MEM_MREMAP
 * allocation of the new one; an mremap of anything else passes through. The system calls are
 * made with syscall(2): glibc exports its __mmap only as GLIBC_PRIVATE. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "maps.h"
#include "shim.h"

static uint64_t page_round(uint64_t len)
{
	return (len + shim_page_size - 1) & ~(shim_page_size - 1);
}

/* maps__release callback: count a piece freed (before it is unmapped). */
static void unmapped(const struct shim_map *m, bool whole)
{
	if (m->reserved)
		return;
	shim_count_free(m->len);
	if (m->sampled)
		shim_hook_free(TP_MEM_MUNMAP, m->start, whole ? 0 : m->len);
}

/* maps__protect callback: a piece made accessible is allocated, one made PROT_NONE freed. */
static void protected(struct shim_map *m)
{
	if (m->reserved) {
		shim_count_free(m->len);
		if (m->sampled)
			shim_hook_free(TP_MEM_MUNMAP, m->start, m->len);
		m->sampled = 0;
		return;
	}
	m->sampled = shim_sample(m->len);
	shim_count_alloc(m->len, m->len);
	if (m->sampled)
		shim_hook_alloc(TP_MEM_MMAP, m->start, m->len);
}

/* Track the new anonymous mapping [p, p + size) of kind TP_MEM_MMAP or TP_MEM_MREMAP. */
static void track(uint64_t kind, void *p, uint64_t size, bool reserved)
{
	struct shim_map m = {.start = (uintptr_t)p, .len = page_round(size), .size = size};

	m.reserved = reserved;
	m.sampled = !reserved && shim_sample(size);
	if (SHIM_UNLIKELY(maps__insert(&m))) {
		/* No room to track it: counted allocated, but not in use (its munmap won't be
		 * recognised), and not sampled. */
		if (reserved)
			return;
		shim_add(&treeprof_mem_counters.alloc_count, 1);
		shim_add(&treeprof_mem_counters.alloc_bytes, size);
		return;
	}
	if (reserved)
		return;
	shim_count_alloc(size, m.len);
	if (m.sampled)
		shim_hook_alloc(kind, m.start, size);
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	SHIM_CALLER();
	void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	if (p == MAP_FAILED) {
		if ((flags & MAP_ANONYMOUS) && prot != PROT_NONE)
			shim_count_failed();
		return p;
	}
	/* Whatever was tracked there is gone: replaced (MAP_FIXED) or stale. */
	maps__release((uintptr_t)p, (uintptr_t)p + page_round(len), unmapped);
	if (flags & MAP_ANONYMOUS)
		track(TP_MEM_MMAP, p, len, prot == PROT_NONE);
	return p;
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
    __attribute__((alias("mmap")));

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	uint64_t start = (uintptr_t)addr;

	/* Before the unmap, or another thread could map the range and track it first. The
	 * kernel rejects an unaligned address or a zero length, and then nothing changed. */
	if (len && !(start & (shim_page_size - 1)))
		maps__release(start, start + page_round(len), unmapped);
	return (int)syscall(SYS_munmap, addr, len);
}

SHIM_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	SHIM_CALLER();
	uint64_t start = (uintptr_t)addr;
	int rc = (int)syscall(SYS_mprotect, addr, len, prot);

	if (rc == 0 && len)
		maps__protect(start, start + page_round(len), prot == PROT_NONE, protected);
	return rc;
}

SHIM_EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
	SHIM_CALLER();
	struct shim_map m;
	void *target = NULL, *p;
	bool tracked, counted;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		target = va_arg(ap, void *);
		va_end(ap);
	}
	/* old_size 0 duplicates a shared mapping and leaves the old one in place. */
	tracked = old_size && maps__take((uintptr_t)old, &m) == 0;
	counted = tracked && !m.reserved; /* a reservation moves as a reservation */
	if (counted && m.sampled)
		shim_hook_free(TP_MEM_MUNMAP, m.start, 0);
	p = (void *)syscall(SYS_mremap, old, old_size, new_size, flags, target);
	if (p == MAP_FAILED) {
		if (!tracked)
			return p;
		/* The old mapping is still there, as it was. */
		if (counted)
			shim_count_failed();
		if (maps__insert(&m) == 0 && counted && m.sampled)
			shim_hook_alloc(TP_MEM_MREMAP, m.start, m.size);
		return p;
	}
	if (counted)
		shim_count_free(m.len);
	maps__release((uintptr_t)p, (uintptr_t)p + page_round(new_size), unmapped);
	if (tracked)
		track(TP_MEM_MREMAP, p, new_size, !counted);
	return p;
}
