/* shim_check: the promises of libtreeprof-mem.so (user/shim/), checked from inside a process
 * it is preloaded into. Run by `make shim-check` (tests/shim/run.sh) as
 *
 *   LD_PRELOAD=$PWD/libtreeprof-mem.so TREEPROF_MEM_SAMPLE=1 .output/tests/shim_check
 *   LD_PRELOAD=$PWD/libtreeprof-mem.so .output/tests/shim_check      (default rate)
 *   .output/tests/shim_check                                         (must exit 77)
 *
 * It reads treeprof_mem_counters and treeprof_mem_hook_calls through dlsym and compares
 * their changes around known calls with what the calls must count. Built with -fno-builtin
 * so that the compiler keeps every malloc/free pair. Exits 77 when the shim is not loaded. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "treeprof.h"
#include "unit.h"

#define MIB		      (1024 * 1024)
#define SHIM_CHECK_NOT_LOADED 77
#define DEFAULT_RATE	      524288

/* Through volatiles, so that the compiler neither warns about nor reasons on the calls that
 * must fail. */
static volatile size_t huge_size = SIZE_MAX / 2;
static void *(*volatile reallocarray_fn)(void *, size_t, size_t) = reallocarray;
static void *(*volatile realloc_fn)(void *, size_t) = realloc;
#define HUGE_SIZE huge_size

static volatile struct tp_memcounters *ctr;
static volatile uint64_t *hook_calls;
static uint64_t rate; /* what TREEPROF_MEM_SAMPLE asks for */
static uint64_t in_use_at_start;
static size_t page;

struct snap {
	struct tp_memcounters c;
	uint64_t hooks;
};

static struct snap snap(void)
{
	struct snap s;

	s.c.alloc_count = ctr->alloc_count;
	s.c.alloc_bytes = ctr->alloc_bytes;
	s.c.free_count = ctr->free_count;
	s.c.failed = ctr->failed;
	s.c.in_use = ctr->in_use;
	s.c.peak_in_use = ctr->peak_in_use;
	s.c.sampled = ctr->sampled;
	s.c.rate = ctr->rate;
	s.hooks = *hook_calls;
	return s;
}

#define DELTA(a, b, field) ((int64_t)((b).c.field - (a).c.field))

/* What a sequence of calls must have changed (in_use: usable bytes, signed). */
struct expect {
	int64_t allocs, bytes, frees, failed, in_use;
	int64_t resampled; /* sampled blocks dropped and sampled again (failed realloc/mremap) */
};

/* Compare the counters' change from a to b with e. Every block sampled in between has been
 * released again, so the hook saw two calls per sample; at rate 1 every allocation is
 * sampled. */
static void check_delta(const char *what, struct snap a, struct snap b, struct expect e)
{
	int64_t sampled = DELTA(a, b, sampled);

	if (DELTA(a, b, alloc_count) != e.allocs || DELTA(a, b, alloc_bytes) != e.bytes ||
	    DELTA(a, b, free_count) != e.frees || DELTA(a, b, failed) != e.failed ||
	    DELTA(a, b, in_use) != e.in_use)
		unit_fail("%s: expected allocs %+lld bytes %+lld frees %+lld failed %+lld in_use "
			  "%+lld, saw %+lld %+lld %+lld %+lld %+lld",
			  what, (long long)e.allocs, (long long)e.bytes, (long long)e.frees,
			  (long long)e.failed, (long long)e.in_use,
			  (long long)DELTA(a, b, alloc_count), (long long)DELTA(a, b, alloc_bytes),
			  (long long)DELTA(a, b, free_count), (long long)DELTA(a, b, failed),
			  (long long)DELTA(a, b, in_use));
	if (rate == 1 && sampled != e.allocs + e.resampled)
		unit_fail("%s: rate 1: expected %lld sampled, saw %lld", what,
			  (long long)(e.allocs + e.resampled), (long long)sampled);
	if ((int64_t)(b.hooks - a.hooks) != 2 * sampled)
		unit_fail("%s: expected %lld hook calls (2 per sampled block), saw %lld", what,
			  (long long)(2 * sampled), (long long)(b.hooks - a.hooks));
}

static void test_malloc_free_counted(void)
{
	struct snap a = snap(), b;
	char *p = malloc(1000);
	size_t u = malloc_usable_size(p);

	b = snap();
	CHECK(p != NULL);
	CHECK_EQ_INT(DELTA(a, b, in_use), u);
	CHECK(u >= 1000);
	free(p);
	free(NULL);
	check_delta("malloc+free", a, snap(),
		    (struct expect){.allocs = 1, .bytes = 1000, .frees = 1});
}

static void test_calloc_counted_and_zeroed(void)
{
	struct snap a = snap();
	unsigned char *p = calloc(10, 100);
	int zero = 1;

	for (int i = 0; p && i < 1000; i++)
		zero &= p[i] == 0;
	CHECK(p && zero);
	free(p);
	check_delta("calloc", a, snap(), (struct expect){.allocs = 1, .bytes = 1000, .frees = 1});
}

static void test_realloc_counts_free_and_alloc(void)
{
	struct snap a = snap(), b;
	char *p = malloc(100), *q, *r;

	q = realloc(p, 5000);
	b = snap();
	CHECK(q != NULL);
	CHECK_EQ_INT(b.c.in_use - a.c.in_use, malloc_usable_size(q));
	r = realloc(NULL, 64);
	CHECK(r != NULL);
	CHECK(realloc(q, 0) == NULL); /* glibc: frees q */
	free(r);
	check_delta("malloc, realloc x2, realloc(p, 0), free", a, snap(),
		    (struct expect){.allocs = 3, .bytes = 100 + 5000 + 64, .frees = 3});
}

/* Before a resize of p that must fail: p's last byte set to 7 (a failed resize leaves it
 * alone), the counters then in *after, errno cleared. False (the test stops) when p is NULL. */
static bool mark_then_snap(void *p, size_t size, struct snap *after)
{
	CHECK(p != NULL);
	if (!p)
		return false;
	((char *)p)[size - 1] = 7;
	*after = snap();
	errno = 0;
	return true;
}

static void test_reallocarray_overflow_is_enomem(void)
{
	struct snap a = snap(), b;
	long *p = reallocarray(NULL, 10, sizeof(long)), *q;

	if (!mark_then_snap(p, 10 * sizeof(long), &b))
		return;
	q = reallocarray_fn(p, HUGE_SIZE, 4);
	CHECK(q == NULL);
	CHECK_EQ_INT(errno, ENOMEM);
	check_delta("reallocarray overflow", b, snap(), (struct expect){.failed = 1});
	CHECK_EQ_INT(((char *)p)[10 * sizeof(long) - 1], 7);
	free(p);
	check_delta("reallocarray", a, snap(),
		    (struct expect){.allocs = 1, .bytes = 80, .frees = 1, .failed = 1});
}

static void test_aligned_allocations_are_aligned(void)
{
	struct snap a = snap();
	void *p = NULL, *q, *r, *s, *t;

	CHECK_EQ_INT(posix_memalign(&p, 4096, 100), 0);
	q = aligned_alloc(64, 128);
	r = memalign(256, 100);
	s = valloc(100);
	t = pvalloc(100);
	CHECK(p && q && r && s && t);
	CHECK_EQ_INT((uintptr_t)p % 4096, 0);
	CHECK_EQ_INT((uintptr_t)q % 64, 0);
	CHECK_EQ_INT((uintptr_t)r % 256, 0);
	CHECK_EQ_INT((uintptr_t)s % page, 0);
	CHECK_EQ_INT((uintptr_t)t % page, 0);
	CHECK(malloc_usable_size(t) >= page);
	free(p);
	free(q);
	free(r);
	free(s);
	free(t);
	check_delta("posix_memalign, aligned_alloc, memalign, valloc, pvalloc", a, snap(),
		    (struct expect){.allocs = 5, .bytes = 100 + 128 + 100 + 100 + 100, .frees = 5});
}

static void test_bad_alignment_is_einval(void)
{
	struct snap a = snap();
	void *sentinel = &a, *p = sentinel;

	errno = EAGAIN;
	CHECK_EQ_INT(posix_memalign(&p, 3, 8), EINVAL);
	CHECK_EQ_INT(posix_memalign(&p, 4, 8), EINVAL); /* not a multiple of sizeof(void *) */
	CHECK_EQ_INT(posix_memalign(&p, 0, 8), EINVAL);
	CHECK_EQ_INT(posix_memalign(&p, 4096, HUGE_SIZE), ENOMEM);
	CHECK(p == sentinel);
	CHECK_EQ_INT(errno, EAGAIN); /* posix_memalign leaves errno alone */
	errno = 0;
	CHECK(aligned_alloc(3, 8) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	check_delta("bad alignments", a, snap(), (struct expect){.failed = 5});
}

static void test_failed_allocations_counted(void)
{
	struct snap a = snap(), b;
	char *p = malloc(64), *q;

	if (!mark_then_snap(p, 64, &b))
		return;
	CHECK(malloc(HUGE_SIZE) == NULL);
	CHECK_EQ_INT(errno, ENOMEM);
	CHECK(calloc(HUGE_SIZE, 4) == NULL);
	q = realloc_fn(p, HUGE_SIZE);
	CHECK(q == NULL);
	CHECK_EQ_INT(p[63], 7); /* p survives the failed realloc, still counted in use */
	check_delta("malloc, calloc, realloc that fail", b, snap(),
		    (struct expect){.failed = 3, .resampled = rate == 1});
	free(p);
	check_delta("failures", a, snap(),
		    (struct expect){
			.allocs = 1, .bytes = 64, .frees = 1, .failed = 3, .resampled = rate == 1});
}

static void test_free_keeps_errno(void)
{
	char *p = malloc(10);

	errno = EAGAIN;
	free(p);
	CHECK_EQ_INT(errno, EAGAIN);
}

static void test_cfree_is_free(void)
{
	void (*cf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
	struct snap a = snap();

	CHECK(cf != NULL);
	if (cf)
		cf(malloc(10));
	check_delta("cfree", a, snap(), (struct expect){.allocs = 1, .bytes = 10, .frees = 1});
}

static void test_anonymous_mmap_counted(void)
{
	struct snap a = snap(), b;
	char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	b = snap();
	CHECK_EQ_INT(DELTA(a, b, in_use), MIB);
	CHECK_EQ_INT(munmap(p, MIB), 0);
	check_delta("mmap+munmap 1 MiB", a, snap(),
		    (struct expect){.allocs = 1, .bytes = MIB, .frees = 1});
	a = snap();
	p = mmap(NULL, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_EQ_INT(DELTA(a, snap(), in_use), page); /* a mapping holds whole pages */
	munmap(p, 1);
	check_delta("mmap 1 byte", a, snap(), (struct expect){.allocs = 1, .bytes = 1, .frees = 1});
}

static void test_file_mmap_not_counted(void)
{
	struct snap a = snap();
	int fd = memfd_create("shim_check", 0);
	void *p;

	CHECK(fd >= 0 && ftruncate(fd, 65536) == 0);
	p = mmap(NULL, 65536, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
	munmap(p, 65536);
	close(fd);
	check_delta("file mmap", a, snap(), (struct expect){0});
	errno = 0;
	CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
	CHECK_EQ_INT(errno, EINVAL);
	check_delta("failed anonymous mmap", a, snap(), (struct expect){.failed = 1});
}

static void test_mremap_is_munmap_and_mremap(void)
{
	struct snap a = snap(), b;
	char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;

	CHECK(p != MAP_FAILED);
	p[0] = 1;
	q = mremap(p, MIB, 4 * MIB, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	b = snap();
	CHECK_EQ_INT(DELTA(a, b, in_use), 4 * MIB);
	CHECK_EQ_INT(q[0], 1);
	/* MREMAP_FIXED without MREMAP_MAYMOVE is invalid: q stays, tracked as before. */
	errno = 0;
	CHECK(mremap(q, 4 * MIB, 8 * MIB, MREMAP_FIXED, NULL) == MAP_FAILED);
	CHECK_EQ_INT(errno, EINVAL);
	check_delta("failed mremap", b, snap(),
		    (struct expect){.failed = 1, .resampled = rate == 1});
	munmap(q, 4 * MIB);
	check_delta(
	    "mmap, mremap, munmap", a, snap(),
	    (struct expect){
		.allocs = 2, .bytes = 5 * MIB, .frees = 2, .failed = 1, .resampled = rate == 1});
}

/* The counters' change from a to b is allocs / bytes / frees / in_use exactly, and at rate 1
 * the hook saw `hooks` calls (a piece released is one call, not two per block). */
static void check_pieces(const char *what, struct snap a, struct snap b, struct expect e,
			 int64_t hooks)
{
	if (DELTA(a, b, alloc_count) != e.allocs || DELTA(a, b, alloc_bytes) != e.bytes ||
	    DELTA(a, b, free_count) != e.frees || DELTA(a, b, in_use) != e.in_use)
		unit_fail("%s: expected allocs %+lld bytes %+lld frees %+lld in_use %+lld", what,
			  (long long)e.allocs, (long long)e.bytes, (long long)e.frees,
			  (long long)e.in_use);
	if (rate == 1 && (int64_t)(b.hooks - a.hooks) != hooks)
		unit_fail("%s: rate 1: expected %lld hook calls, saw %lld", what, (long long)hooks,
			  (long long)(b.hooks - a.hooks));
}

static void test_partial_munmap_frees_that_part(void)
{
	int64_t p4 = 4 * (int64_t)page;
	struct snap a = snap();
	char *p = mmap(NULL, 4 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	munmap(p + 3 * page, page); /* the tail */
	check_pieces(
	    "tail", a, snap(),
	    (struct expect){.allocs = 1, .bytes = p4, .frees = 1, .in_use = p4 - (int64_t)page}, 2);
	munmap(p + page, page); /* a hole in the middle: pages 0 and 2 stay */
	check_pieces(
	    "hole", a, snap(),
	    (struct expect){.allocs = 1, .bytes = p4, .frees = 2, .in_use = 2 * (int64_t)page}, 3);
	munmap(p, page); /* the head, now a whole piece */
	munmap(p + 2 * page, page);
	check_pieces("partial munmaps", a, snap(),
		     (struct expect){.allocs = 1, .bytes = p4, .frees = 4}, 5);
}

static void test_prot_none_reservation_counts_what_is_made_accessible(void)
{
	int64_t pg = (int64_t)page;
	struct snap a = snap();
	char *r = mmap(NULL, 64 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(r != MAP_FAILED);
	check_pieces("reservation", a, snap(), (struct expect){0}, 0);
	CHECK_EQ_INT(mprotect(r + 8 * page, 4 * page, PROT_READ | PROT_WRITE), 0);
	r[8 * page] = 1;
	check_pieces("4 pages made accessible", a, snap(),
		     (struct expect){.allocs = 1, .bytes = 4 * pg, .in_use = 4 * pg}, 1);
	/* accessible already: no change; a part PROT_NONE again: freed */
	CHECK_EQ_INT(mprotect(r + 8 * page, 4 * page, PROT_READ), 0);
	CHECK_EQ_INT(mprotect(r + 10 * page, 2 * page, PROT_NONE), 0);
	check_pieces("2 pages back to PROT_NONE", a, snap(),
		     (struct expect){.allocs = 1, .bytes = 4 * pg, .frees = 1, .in_use = 2 * pg},
		     2);
	/* a failed mprotect (misaligned) changes nothing */
	CHECK(mprotect(r + 1, page, PROT_READ) != 0);
	CHECK_EQ_INT(munmap(r, 64 * page), 0);
	check_pieces("reservation unmapped", a, snap(),
		     (struct expect){.allocs = 1, .bytes = 4 * pg, .frees = 2}, 3);
	/* a PROT_NONE MAP_FIXED over an accessible mapping frees it */
	r = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mmap(r, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == r);
	check_pieces("decommitted by MAP_FIXED", a, snap(),
		     (struct expect){.allocs = 2, .bytes = 8 * pg, .frees = 3}, 5);
	munmap(r, 4 * page);
}

static void test_munmap_spans_several_mappings(void)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	struct snap a = snap();
	char *r = mmap(NULL, 2 * MIB, prot, flags, -1, 0);

	CHECK(r != MAP_FAILED);
	/* Each MAP_FIXED half replaces the half of the 2 MiB mapping under it. */
	CHECK(mmap(r, MIB, prot, flags | MAP_FIXED, -1, 0) == r);
	CHECK(mmap(r + MIB, MIB, prot, flags | MAP_FIXED, -1, 0) == r + MIB);
	CHECK_EQ_INT(DELTA(a, snap(), in_use), 2 * MIB);
	munmap(r, 2 * MIB);
	check_pieces("2 MiB, 2 x MAP_FIXED 1 MiB, one munmap", a, snap(),
		     (struct expect){.allocs = 3, .bytes = 4 * MIB, .frees = 4}, 7);
}

static void test_hook_starts_with_push_rbp(void)
{
	const unsigned char *hook = dlsym(RTLD_DEFAULT, "treeprof_mem_hook");

	CHECK(hook != NULL);
	if (hook)
		CHECK_EQ_INT(hook[0], 0x55);
}

static void test_rate_from_environment(void)
{
	CHECK_EQ_INT(ctr->rate, rate);
}

/* 128 expected samples: far from 0 and from the 64/256 bounds (Poisson: 1e-8 each way). */
static void test_poisson_sampling_rate(void)
{
	size_t n = rate == 1 ? 1000 : (size_t)(128 * rate / 1024);
	void **v = malloc(n * sizeof(*v));
	struct snap a, b;
	int64_t sampled;

	if (!v || rate > 8 * MIB) {
		free(v);
		return;
	}
	a = snap();
	for (size_t i = 0; i < n; i++)
		v[i] = malloc(1024);
	b = snap();
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	check_delta("1 KiB blocks", a, snap(),
		    (struct expect){.allocs = n, .bytes = n * 1024, .frees = n});
	sampled = DELTA(a, b, sampled);
	if (rate > 1 && (sampled < 64 || sampled > 256))
		unit_fail("%zu x 1 KiB at rate %llu: expected 64..256 samples, saw %lld", n,
			  (unsigned long long)rate, (long long)sampled);
	/* Much larger than the mean interval: sampled (but for e^-64). */
	a = snap();
	free(malloc(64 * rate));
	CHECK_EQ_INT(DELTA(a, snap(), sampled), 1);
	free(v);
}

static void test_in_use_back_to_start(void)
{
	/* Every test above freed what it allocated. */
	CHECK_EQ_INT(ctr->in_use, in_use_at_start);
	CHECK(ctr->peak_in_use >= in_use_at_start + 4 * MIB);
}

/* The child of a fork starts every count at 0, in_use and peak too (its parent's blocks are the
 * parent's memory), and keeps the sampled set: freeing an inherited block takes in_use below 0. */
static void test_fork_child_counters_restart(void)
{
	struct snap a = snap(), b, c;
	char *p = malloc(3000);
	int status = -1;
	pid_t pid;

	b = snap();
	pid = fork();
	if (pid == 0) {
		int before = unit_failed_checks;

		c = snap();
		CHECK_EQ_INT(c.c.alloc_count, 0);
		CHECK_EQ_INT(c.c.alloc_bytes, 0);
		CHECK_EQ_INT(c.c.free_count, 0);
		CHECK_EQ_INT(c.c.failed, 0);
		CHECK_EQ_INT(c.c.sampled, 0);
		CHECK_EQ_INT(c.hooks, 0);
		CHECK_EQ_INT(c.c.in_use, 0);
		CHECK_EQ_INT(c.c.peak_in_use, 0);
		CHECK_EQ_INT(c.c.rate, b.c.rate);
		free(p); /* inherited: a sampled block is still known to the child */
		c = snap();
		CHECK_EQ_INT(c.c.free_count, 1);
		CHECK_EQ_INT((int64_t)c.c.in_use, -(int64_t)(b.c.in_use - a.c.in_use));
		CHECK_EQ_INT(c.c.peak_in_use, 0);
		if (rate == 1)
			CHECK_EQ_INT(c.hooks, 1);
		p = malloc(5000); /* its own: counted from 0, peak signed */
		c = snap();
		CHECK_EQ_INT((int64_t)c.c.in_use,
			     (int64_t)malloc_usable_size(p) - (int64_t)(b.c.in_use - a.c.in_use));
		CHECK_EQ_INT(c.c.peak_in_use, (int64_t)c.c.in_use > 0 ? c.c.in_use : 0);
		_exit(unit_failed_checks != before);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		unit_fail("fork child: expected its counters restarted (exit 0), saw status 0x%x",
			  status);
	free(p);
	check_delta("malloc, fork, free", a, snap(),
		    (struct expect){.allocs = 1, .bytes = 3000, .frees = 1});
}
#define NTHREADS 8
#define NITERS	 50000
#define NLIVE	 64

struct worker {
	pthread_t tid;
	uint64_t allocs, bytes, frees, rng;
};

static pthread_barrier_t barrier;

static uint64_t worker_rand(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/* Random mallocs, callocs, reallocs, frees and mmaps, tallied as they go. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	void *live[NLIVE] = {0};
	size_t maplen[NLIVE] = {0};

	pthread_barrier_wait(&barrier); /* main takes its "before" snapshot */
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < NITERS; i++) {
		uint64_t r = worker_rand(w);
		size_t k = r % NLIVE, size = 1 + (r >> 8) % 8192;

		if (live[k] && maplen[k]) {
			munmap(live[k], maplen[k]);
			w->frees++;
			live[k] = NULL;
			maplen[k] = 0;
		} else if (live[k] && (r >> 40) % 3 == 0) {
			void *q = realloc(live[k], size);

			if (q) {
				live[k] = q;
				w->allocs++, w->bytes += size, w->frees++;
			}
		} else if (live[k]) {
			free(live[k]);
			w->frees++;
			live[k] = NULL;
		} else if ((r >> 40) % 64 == 0) {
			size = 65536;
			live[k] = mmap(NULL, size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (live[k] == MAP_FAILED) {
				live[k] = NULL;
				continue;
			}
			maplen[k] = size;
			w->allocs++, w->bytes += size;
		} else {
			live[k] = (r >> 40) % 2 ? malloc(size) : calloc(1, size);
			if (live[k])
				w->allocs++, w->bytes += size;
		}
	}
	for (size_t k = 0; k < NLIVE; k++) {
		if (live[k] && maplen[k])
			munmap(live[k], maplen[k]);
		else if (live[k])
			free(live[k]);
		w->frees += live[k] != NULL;
	}
	pthread_barrier_wait(&barrier); /* main takes its "after" snapshot */
	pthread_barrier_wait(&barrier);
	return NULL;
}

/* Many threads at once: the totals are exact and every sampled block is found again. */
static void test_threads_exact_totals(void)
{
	struct worker w[NTHREADS] = {0};
	struct expect e = {0};
	struct snap a, b;
	int n = 0;

	pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		if (pthread_create(&w[i].tid, NULL, worker_run, &w[i]) == 0)
			n++;
	}
	CHECK_EQ_INT(n, NTHREADS);
	if (n != NTHREADS)
		abort(); /* the barrier would never open */
	pthread_barrier_wait(&barrier);
	a = snap();
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	b = snap();
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		e.allocs += w[i].allocs;
		e.bytes += w[i].bytes;
		e.frees += w[i].frees;
	}
	pthread_barrier_destroy(&barrier);
	check_delta("8 threads", a, b, e);
}

/* Run /bin/sh -c script with environment env through execve (the sampler's wrapper) in a
 * child: its stdout and stderr, joined, in out[cap]. */
static void exec_child(char *const env[], const char *script, char *out, size_t cap)
{
	char *const argv[] = {"sh", "-c", (char *)script, NULL};
	int fds[2];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	out[0] = 0;
	if (pipe(fds))
		return;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(fds[0]);
	waitpid(pid, NULL, 0);
}

/* user/shim/exec.c: an LD_PRELOAD entry naming the sampler by a path the new image cannot
 * open becomes /proc/self/fd/N of the sampler's own file, which the child then loads, with
 * no ld.so error; an entry that can be opened stays; other entries are kept in order. */
static void test_exec_rewrites_a_preload_path_the_child_cannot_open(void)
{
	static const char script[] =
	    "printf '%s|' \"$LD_PRELOAD\"; grep -c libtreeprof-mem /proc/self/maps";
	char *const gone[] = {"LD_PRELOAD=/nonexistent/dir/libtreeprof-mem.so", NULL};
	char *const both[] = {"A=1", "LD_PRELOAD=/nonexistent/dir/libtreeprof-mem.so:libm.so.6",
			      NULL};
	const char *self = getenv("LD_PRELOAD");
	char here[512], out[4096];
	int n = 0;

	exec_child(gone, script, out, sizeof(out));
	CHECK(!strncmp(out, "/proc/self/fd/", 14) && sscanf(out + 14, "%*d|%d", &n) == 1 && n > 0);
	CHECK(!strstr(out, "ld.so"));
	exec_child(both, script, out, sizeof(out));
	CHECK(!strncmp(out, "/proc/self/fd/", 14) && strstr(out, ":libm.so.6|"));
	if (self && strlen(self) < sizeof(here) - 16) {
		char env0[sizeof(here)];
		char *const same[] = {env0, NULL};

		snprintf(env0, sizeof(env0), "LD_PRELOAD=%s", self);
		exec_child(same, script, out, sizeof(out));
		snprintf(here, sizeof(here), "%s|", self);
		CHECK(!strncmp(out, here, strlen(here)));
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
	    UNIT_TEST(test_rate_from_environment),
	    UNIT_TEST(test_malloc_free_counted),
	    UNIT_TEST(test_calloc_counted_and_zeroed),
	    UNIT_TEST(test_realloc_counts_free_and_alloc),
	    UNIT_TEST(test_reallocarray_overflow_is_enomem),
	    UNIT_TEST(test_aligned_allocations_are_aligned),
	    UNIT_TEST(test_bad_alignment_is_einval),
	    UNIT_TEST(test_failed_allocations_counted),
	    UNIT_TEST(test_free_keeps_errno),
	    UNIT_TEST(test_cfree_is_free),
	    UNIT_TEST(test_anonymous_mmap_counted),
	    UNIT_TEST(test_file_mmap_not_counted),
	    UNIT_TEST(test_mremap_is_munmap_and_mremap),
	    UNIT_TEST(test_partial_munmap_frees_that_part),
	    UNIT_TEST(test_prot_none_reservation_counts_what_is_made_accessible),
	    UNIT_TEST(test_munmap_spans_several_mappings),
	    UNIT_TEST(test_hook_starts_with_push_rbp),
	    UNIT_TEST(test_poisson_sampling_rate),
	    UNIT_TEST(test_in_use_back_to_start),
	    UNIT_TEST(test_fork_child_counters_restart),
	    UNIT_TEST(test_threads_exact_totals),
	    UNIT_TEST(test_exec_rewrites_a_preload_path_the_child_cannot_open),
	};
	const char *env = getenv("TREEPROF_MEM_SAMPLE");

	ctr = dlsym(RTLD_DEFAULT, "treeprof_mem_counters");
	hook_calls = dlsym(RTLD_DEFAULT, "treeprof_mem_hook_calls");
	if (!ctr || !hook_calls) {
		fprintf(stderr,
			"shim_check: libtreeprof-mem.so is not loaded (no "
			"treeprof_mem_counters): run it as "
			"LD_PRELOAD=$PWD/libtreeprof-mem.so %s\n",
			"shim_check");
		return SHIM_CHECK_NOT_LOADED;
	}
	rate = env && *env ? strtoull(env, NULL, 10) : DEFAULT_RATE;
	page = (size_t)sysconf(_SC_PAGESIZE);
	in_use_at_start = ctr->in_use;
	return unit_main("shim_check", tests, sizeof(tests) / sizeof(tests[0]));
}
