// SPDX-License-Identifier: GPL-2.0
/* forker OUT RATE SECONDS: fork RATE children a second for SECONDS (each exits at once),
 * reaping them as it goes, then write "child PID PPID" per child and "COUNT N" to OUT.
 * The fork storm of tests/stress.py: a C parent forks far faster than a Python one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double rate, seconds, start;
	size_t n = 0, cap = 1024;
	pid_t *pids;
	FILE *out;

	if (argc != 4) {
		fprintf(stderr, "usage: forker OUT RATE SECONDS\n");
		return 2;
	}
	rate = strtod(argv[2], NULL);
	seconds = strtod(argv[3], NULL);
	pids = malloc(cap * sizeof(*pids));
	if (!pids)
		return 1;
	start = now();
	for (;;) {
		double t = now() - start;
		size_t due = (size_t)(t * rate) + 1;

		if (t >= seconds)
			break;
		while (n < due) {
			pid_t pid = fork();

			if (pid < 0) {
				perror("fork");
				return 1;
			}
			if (pid == 0)
				_exit(0);
			if (n == cap) {
				pid_t *np = realloc(pids, (cap *= 2) * sizeof(*pids));

				if (!np)
					return 1;
				pids = np;
			}
			pids[n++] = pid;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(1000);
	}
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	out = fopen(argv[1], "a");
	if (!out)
		return 1;
	for (size_t i = 0; i < n; i++)
		fprintf(out, "child %d %d\n", pids[i], getpid());
	fprintf(out, "COUNT %zu\n", n);
	return fclose(out) ? 1 : 0;
}
