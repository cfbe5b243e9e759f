/* memops [--exit]: known allocator operations, one noinline function each, for the memory
 * integration tests. Prints "READY <pid>", waits for a line on stdin (so that a profiler can
 * attach), runs the operations in order printing one line each, prints "DONE", then waits
 * for another line on stdin before exiting (or exits at once with --exit), so that a test can
 * read the state both before and after the exit. EOF on stdin counts as a line.
 *
 * Each operation line is "OP <function> calls=<n> bytes=<n> live=<n>": calls that allocate
 * (malloc, calloc, realloc, posix_memalign, mmap, mremap), the bytes they requested, and the
 * bytes the function still holds when it returns (kept until exit). Frees and munmaps are not
 * in calls. Everything kept is written to, so it is resident.
 *
 * build: gcc -O0 -g -fno-omit-frame-pointer -o memops tests/workloads/memops.c
 */
#define _GNU_SOURCE /* mremap */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KIB 1024UL
#define MIB (1024 * KIB)

/* Kept blocks, so that nothing looks unused. */
static void *kept[256];
static size_t nkept;

static void keep(void *p)
{
	if (!p || nkept == sizeof(kept) / sizeof(kept[0])) {
		fprintf(stderr, "memops: allocation failed or too many kept blocks\n");
		exit(1);
	}
	kept[nkept++] = p;
}

static void report(const char *fn, unsigned long calls, unsigned long bytes, unsigned long live)
{
	printf("OP %s calls=%lu bytes=%lu live=%lu\n", fn, calls, bytes, live);
	fflush(stdout);
}

static void *anon_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("memops: mmap");
		exit(1);
	}
	return p;
}

__attribute__((noinline)) void op_malloc_keep(void)
{
	for (int i = 0; i < 64; i++) {
		char *p = malloc(64 * KIB);

		keep(p);
		memset(p, 1, 64 * KIB);
	}
	report(__func__, 64, 64 * 64 * KIB, 64 * 64 * KIB);
}

__attribute__((noinline)) void op_calloc_keep(void)
{
	for (int i = 0; i < 8; i++) {
		char *p = calloc(1024, 1024);

		keep(p);
		memset(p, 1, MIB);
	}
	report(__func__, 8, 8 * MIB, 8 * MIB);
}

/* malloc(1 KiB), then realloc to 2 KiB, 4 KiB, ..., 4 MiB: 1 + 12 calls. */
__attribute__((noinline)) void op_realloc_grow(void)
{
	unsigned long calls = 1, bytes = KIB;
	size_t size = KIB;
	char *p = malloc(size);

	if (!p)
		keep(NULL);
	while (size < 4 * MIB) {
		size *= 2;
		p = realloc(p, size);
		if (!p)
			keep(NULL);
		calls++;
		bytes += size;
	}
	keep(p);
	memset(p, 1, size);
	report(__func__, calls, bytes, 4 * MIB);
}

__attribute__((noinline)) void op_posix_memalign_keep(void)
{
	for (int i = 0; i < 16; i++) {
		void *p = NULL;

		if (posix_memalign(&p, 4096, 32 * KIB) || (uintptr_t)p % 4096)
			keep(NULL);
		keep(p);
		memset(p, 1, 32 * KIB);
	}
	report(__func__, 16, 16 * 32 * KIB, 16 * 32 * KIB);
}

__attribute__((noinline)) void op_mmap_keep(void)
{
	for (int i = 0; i < 8; i++) {
		char *p = anon_map(MIB);

		keep(p);
		memset(p, 1, MIB);
	}
	report(__func__, 8, 8 * MIB, 8 * MIB);
}

__attribute__((noinline)) void op_mmap_unmap(void)
{
	char *p = anon_map(16 * MIB);

	memset(p, 1, 16 * MIB);
	if (munmap(p, 16 * MIB)) {
		perror("memops: munmap");
		exit(1);
	}
	report(__func__, 1, 16 * MIB, 0);
}

__attribute__((noinline)) void op_churn(void)
{
	for (int i = 0; i < 100000; i++) {
		volatile char *p = malloc(4 * KIB);

		if (!p)
			keep(NULL);
		p[0] = (char)i;
		free((void *)p);
	}
	report(__func__, 100000, 100000 * 4 * KIB, 0);
}

__attribute__((noinline)) void op_mremap_grow(void)
{
	char *p = anon_map(MIB);

	p = mremap(p, MIB, 4 * MIB, MREMAP_MAYMOVE);
	if (p == MAP_FAILED) {
		perror("memops: mremap");
		exit(1);
	}
	keep(p);
	memset(p, 1, 4 * MIB);
	report(__func__, 2, MIB + 4 * MIB, 4 * MIB);
}

static void wait_line(void)
{
	char line[256];

	if (!fgets(line, sizeof(line), stdin))
		clearerr(stdin);
}

int main(int argc, char **argv)
{
	int exit_at_once = argc > 1 && strcmp(argv[1], "--exit") == 0;

	if (argc > 2 || (argc == 2 && !exit_at_once)) {
		fprintf(stderr, "usage: memops [--exit]\n");
		return 2;
	}
	printf("READY %d\n", (int)getpid());
	fflush(stdout);
	wait_line();
	op_malloc_keep();
	op_calloc_keep();
	op_realloc_grow();
	op_posix_memalign_keep();
	op_mmap_keep();
	op_mmap_unmap();
	op_churn();
	op_mremap_grow();
	printf("DONE\n");
	fflush(stdout);
	if (!exit_at_once)
		wait_line();
	return 0;
}
