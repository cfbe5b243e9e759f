/* fork_alloc: allocations in a second thread and in a child forked after treeprof
 * attached, for the tests of allocator probes bound to the traced processes
 * (tests/integration/test_memory_isolation.py).
 *
 *   fork_alloc DELAY_MS N TSFILE
 *
 * Prints "READY <pid>" and waits for a line on stdin. Then a second thread makes N
 * malloc(1000) calls in thread_allocs and a child, forked at once, waits DELAY_MS and makes N
 * malloc(2000) calls in child_allocs, writing the CLOCK_MONOTONIC time of each call, in ns
 * since the fork, to TSFILE (N native-endian uint64). Every block is kept. Prints
 * "CHILD <pid>" and "THREAD <tid>", then "DONE" once both are finished, and exits on the next
 * line (or EOF) on stdin.
 *
 * build: gcc -O0 -g -fno-omit-frame-pointer -pthread -o fork_alloc fork_alloc.c
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long n_calls;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__attribute__((noinline)) static void thread_allocs(void)
{
	for (long i = 0; i < n_calls; i++)
		if (!malloc(1000))
			abort();
}

static void *thread_main(void *arg)
{
	(void)arg;
	printf("THREAD %ld\n", (long)syscall(SYS_gettid));
	fflush(stdout);
	thread_allocs();
	return NULL;
}

__attribute__((noinline)) static void child_allocs(uint64_t *ts, uint64_t t0)
{
	for (long i = 0; i < n_calls; i++) {
		ts[i] = now_ns() - t0;
		if (!malloc(2000))
			abort();
	}
}

int main(int argc, char **argv)
{
	long delay_ms = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	const char *ts_path = argc > 3 ? argv[3] : "/dev/null";
	uint64_t *ts, t0;
	pthread_t th;
	char line[16];
	pid_t child;
	FILE *f;

	n_calls = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
	ts = calloc(n_calls, sizeof(*ts));
	if (!ts)
		return 1;
	printf("READY %d\n", getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	if (pthread_create(&th, NULL, thread_main, NULL))
		return 1;
	t0 = now_ns();
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		if (delay_ms)
			usleep(delay_ms * 1000);
		child_allocs(ts, t0);
		f = fopen(ts_path, "w");
		if (!f || fwrite(ts, sizeof(*ts), n_calls, f) != (size_t)n_calls || fclose(f))
			_exit(1);
		_exit(0);
	}
	printf("CHILD %d\n", child);
	fflush(stdout);
	pthread_join(th, NULL);
	waitpid(child, NULL, 0);
	printf("DONE\n");
	fflush(stdout);
	fgets(line, sizeof(line), stdin);
	return 0;
}
