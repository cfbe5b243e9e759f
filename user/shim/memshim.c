/* libtreeprof-mem.so: the allocation sampler `treeprof record --mem` preloads into every
 * process of a tree it launches (LD_PRELOAD, inherited through exec).
 *
 * Contract with the BPF side (include/treeprof.h):
 *  - treeprof_mem_hook(kind, addr, size, counters, caller) is called for each sampled allocation
 *    (kind TP_MEM_MALLOC..TP_MEM_MREMAP, size = bytes requested) and for the release of each
 *    sampled block (TP_MEM_FREE / TP_MEM_MUNMAP, size 0), before the block can be reused;
 *    a release of part of a sampled mapping (munmap of part, mprotect PROT_NONE) is
 *    TP_MEM_MUNMAP with size the bytes released from addr on (mmap.c);
 *    caller is the return address of the interposed function (0 for a release).
 *    Its first instruction is `push %rbp`, which the kernel emulates for a uprobe.
 *  - treeprof_mem_counters holds exact per-process totals, updated with relaxed atomics:
 *    every successful allocation (a realloc of a non-NULL block also counts as a free of the
 *    old one; an mprotect that makes part of a PROT_NONE reservation accessible is one),
 *    every free of a non-NULL pointer, every piece of a tracked mapping unmapped or made
 *    PROT_NONE, every failure (NULL, MAP_FAILED, or an error from posix_memalign), and in_use
 *    in usable bytes (malloc_usable_size, or the page-rounded accessible bytes of a mapping;
 *    a PROT_NONE reservation counts nowhere).
 *  - Sampling: a per-thread countdown of bytes; the allocation that takes it to zero or
 *    below is sampled and a new interval is drawn from an exponential distribution of mean
 *    `rate` (TREEPROF_MEM_SAMPLE, bytes, default 524288; 1 samples every allocation).
 *  - fork: the child keeps the sampled set; every counter restarts at 0. The copies of the
 *    parent's blocks are the parent's memory (README, Accounting rules), so the child's
 *    in_use and peak_in_use count the change since the fork, as signed 64-bit values: in_use
 *    is below 0 when the child frees more of those copies than it allocates itself.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocks.h"
#include "maps.h"
#include "shim.h"

#define DEFAULT_RATE 524288
#define MAX_RATE     (1ULL << 40)

SHIM_EXPORT struct tp_memcounters treeprof_mem_counters = {.rate = DEFAULT_RATE};
/* How many times the hook was called (since exec, or since fork in a child). */
SHIM_EXPORT uint64_t treeprof_mem_hook_calls;

uint64_t shim_page_size = 4096;
__thread int64_t shim_bytes_left;
__thread uintptr_t shim_caller;
static __thread uint64_t rng_state; /* xorshift64*; 0: this thread is not seeded yet */

SHIM_EXPORT void treeprof_mem_hook(uint64_t kind, uint64_t addr, uint64_t size,
				   struct tp_memcounters *c, uint64_t caller);
/* The same function under a hidden name: calls from here are direct, not through the PLT. */
void shim_hook_entry(uint64_t kind, uint64_t addr, uint64_t size, struct tp_memcounters *c,
		     uint64_t caller);

/* In assembly so that nothing can inline, elide or reorder it, and so that its first
 * instruction is push %rbp (a uprobe on it is emulated, not single-stepped). */
__asm__(".text\n"
	".p2align 4\n"
	".globl treeprof_mem_hook\n"
	".type treeprof_mem_hook, @function\n"
	".globl shim_hook_entry\n"
	".hidden shim_hook_entry\n"
	".type shim_hook_entry, @function\n"
	"treeprof_mem_hook:\n"
	"shim_hook_entry:\n"
	"	.cfi_startproc\n"
	"	push %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	mov %rsp, %rbp\n"
	"	.cfi_def_cfa_register %rbp\n"
	"	pop %rbp\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size treeprof_mem_hook, .-treeprof_mem_hook\n"
	".size shim_hook_entry, .-shim_hook_entry\n");

void shim_hook_alloc(uint64_t kind, uint64_t addr, uint64_t size)
{
	shim_add(&treeprof_mem_counters.sampled, 1);
	__atomic_fetch_add(&treeprof_mem_hook_calls, 1, __ATOMIC_RELAXED);
	shim_hook_entry(kind, addr, size, &treeprof_mem_counters, shim_caller);
}

void shim_hook_free(uint64_t kind, uint64_t addr, uint64_t len)
{
	__atomic_fetch_add(&treeprof_mem_hook_calls, 1, __ATOMIC_RELAXED);
	shim_hook_entry(kind, addr, len, &treeprof_mem_counters, 0);
}

void shim_peak_update(uint64_t in_use)
{
	__u64 *peak = &treeprof_mem_counters.peak_in_use;
	__u64 seen = __atomic_load_n(peak, __ATOMIC_RELAXED);

	while ((int64_t)in_use > (int64_t)seen &&
	       !__atomic_compare_exchange_n(peak, &seen, in_use, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Seed from the thread id and the time (no allocation, no errno change on success). */
static void rng_seed(void)
{
	struct timespec ts = {0};
	uint64_t s;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	s = (uint64_t)syscall(SYS_gettid) * 0x9e3779b97f4a7c15ULL;
	s ^= (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	s ^= (uint64_t)(uintptr_t)&rng_state;
	rng_state = s ? s : 1;
	for (int i = 0; i < 4; i++)
		rng_next();
}

/* An exponential interval of mean rate: -log(u) * rate with u uniform in (0, 1]. */
static int64_t draw_interval(uint64_t rate)
{
	double u = (double)((rng_next() >> 11) + 1) * 0x1p-53;
	double x = -log(u) * (double)rate;

	return x < 0x1p62 ? (int64_t)x : (int64_t)1 << 62;
}

bool shim_sample_slow(uint64_t bytes)
{
	uint64_t rate = __atomic_load_n(&treeprof_mem_counters.rate, __ATOMIC_RELAXED);

	if (rate <= 1) {
		shim_bytes_left = 0;
		return true;
	}
	if (!rng_state) {
		/* The thread's first allocation: start its first interval here. */
		rng_seed();
		shim_bytes_left = draw_interval(rate) - (int64_t)bytes;
		if (shim_bytes_left > 0)
			return false;
	}
	shim_bytes_left = draw_interval(rate);
	return true;
}

static void warn(const char *msg, const char *value)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "libtreeprof-mem: %s '%s'\n", msg, value);
	ssize_t ignored;

	if (n <= 0)
		return;
	ignored = write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	(void)ignored;
}

static uint64_t rate_from_env(void)
{
	const char *s = getenv("TREEPROF_MEM_SAMPLE");
	unsigned long long v;
	char *end;

	if (!s || !*s)
		return DEFAULT_RATE;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || *s == '-' || v < 1 || v > MAX_RATE) {
		warn("TREEPROF_MEM_SAMPLE must be a byte count from 1 to 2^40, using 524288; got",
		     s);
		return DEFAULT_RATE;
	}
	return v;
}

static void fork_prepare(void)
{
	blocks__at_fork(SHIM_FORK_PREPARE);
	maps__at_fork(SHIM_FORK_PREPARE);
}

static void fork_parent(void)
{
	maps__at_fork(SHIM_FORK_DONE);
	blocks__at_fork(SHIM_FORK_DONE);
}

static void fork_child(void)
{
	struct tp_memcounters *c = &treeprof_mem_counters;

	maps__at_fork(SHIM_FORK_DONE);
	blocks__at_fork(SHIM_FORK_DONE);
	__atomic_store_n(&c->alloc_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->alloc_bytes, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->free_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->failed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->sampled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->in_use, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->peak_in_use, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&treeprof_mem_hook_calls, 0, __ATOMIC_RELAXED);
	/* Not the parent's random sequence: reseed at this thread's next allocation. */
	rng_state = 0;
	shim_bytes_left = 0;
}

__attribute__((constructor)) static void shim_init(void)
{
	int saved = errno;
	long page = sysconf(_SC_PAGESIZE);

	if (page > 0)
		shim_page_size = (uint64_t)page;
	__atomic_store_n(&treeprof_mem_counters.rate, rate_from_env(), __ATOMIC_RELAXED);
	/* This thread may have drawn an interval with the default rate already. */
	rng_state = 0;
	shim_bytes_left = 0;
	if (pthread_atfork(fork_prepare, fork_parent, fork_child))
		warn("pthread_atfork failed: counters of forked children are inherited", "");
	shim_exec_init();
	errno = saved;
}
