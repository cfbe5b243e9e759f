// SPDX-License-Identifier: GPL-2.0
/* gen_recording OUT [SAMPLES [PROCS]]: write a synthetic recording for the report benchmark
 * (tests/bench_report.py) through the real profile and datafile code: SAMPLES samples
 * (default 1000000) over PROCS processes (default 50), one thread each, 99 Hz.
 *
 * The stacks behave like a real CPU-bound Python program rather than noise: 5000 distinct
 * stacks, 15 to 35 frames deep (the innermost one or two native or kernel), each derived from
 * the previous one by replacing its innermost 1 to 6 frames; each thread stays on its stack
 * for about 60% of its samples, otherwise moves to a nearby stack (a few calls away), and
 * 2% of the time jumps anywhere. Deterministic (a fixed LCG seed). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile/datafile.h"
#include "profile/profile.h"

#define NSTACKS	  5000
#define MAX_DEPTH 35
#define POOL	  40 /* candidate functions per depth */

static uint64_t rng = 42;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng >> 33) % n;
}

static int frame_at(struct profile *p, uint32_t depth, uint32_t k, uint32_t *id)
{
	char name[64], file[96];
	struct prof_frame f = {FRAME_PYTHON, name, file, 10 + k};

	snprintf(name, sizeof(name), "pkg.mod%u.func_%u", depth, k);
	snprintf(file, sizeof(file), "/usr/lib/python3/dist-packages/pkg/mod%u.py", depth);
	return profile__frame(p, &f, id);
}

static int leaf_at(struct profile *p, uint32_t k, uint32_t *id)
{
	static const char *const native[] = {"PyObject_GetAttr", "_PyEval_EvalFrameDefault",
					     "PyDict_GetItem", "memcpy"};
	static const char *const kernel[] = {"do_syscall_64", "clear_page_erms", "__schedule"};
	struct prof_frame f = {FRAME_NATIVE, native[k % 4], "/usr/bin/python3.11", 0};

	if (k % 7 == 0) {
		f.kind = FRAME_KERNEL;
		f.name = kernel[k % 3];
		f.file = NULL;
	}
	return profile__frame(p, &f, id);
}

int main(int argc, char **argv)
{
	size_t nsamples = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
	uint32_t nprocs = argc > 3 ? strtoul(argv[3], NULL, 10) : 50;
	uint32_t cur[MAX_DEPTH + 2], depth = 25, *stacks = malloc(NSTACKS * sizeof(*stacks));
	uint32_t *pos = calloc(nprocs + 1, sizeof(*pos));
	struct datafile_writer *w;
	struct profile *p;
	int err = 0, fd;

	if (argc < 2 || !nprocs || !stacks || !pos) {
		fprintf(stderr, "usage: gen_recording OUT [SAMPLES [PROCS]]\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	w = fd < 0 ? NULL : datafile__new(fd);
	p = profile__new();
	if (!w || !p) {
		perror("gen_recording: creating the recording");
		return 1;
	}
	profile__set_journal(p, datafile__journal(w));
	profile__set_meta(p, "frequency", "99");
	profile__set_meta(p, "start_unix", "1700000000");
	profile__set_meta(p, "command", "gen_recording (synthetic)");
	for (uint32_t i = 0; i < nprocs; i++)
		err |= profile__proc_start(p, 10000 + i, i ? 10000 : 1, 1000 + i, "python3",
					   i ? "python3 job.py --worker" : "python3 job.py", "");
	for (uint32_t d = 0; d < depth; d++)
		err |= frame_at(p, d, rnd(POOL), &cur[d]);
	for (uint32_t s = 0; s < NSTACKS; s++) {
		uint32_t keep = depth > 7 ? depth - 1 - rnd(6) : depth, leaf;

		depth = keep + 1 + rnd(7);
		depth = depth < 15 ? 15 : depth > MAX_DEPTH - 1 ? MAX_DEPTH - 1 : depth;
		for (uint32_t d = keep; d < depth; d++)
			err |= frame_at(p, d, rnd(POOL), &cur[d]);
		err |= leaf_at(p, rnd(21), &leaf);
		cur[depth] = leaf;
		err |= profile__stack(p, cur, depth + 1, &stacks[s]);
	}
	for (uint32_t i = 0; i < nprocs; i++)
		pos[i] = rnd(NSTACKS);
	for (size_t i = 0; i < nsamples && !err; i++) {
		uint32_t proc = i % nprocs, r = rnd(100);

		if (r < 2)
			pos[proc] = rnd(NSTACKS);
		else if (r >= 60)
			pos[proc] = (pos[proc] + NSTACKS - 3 + rnd(7)) % NSTACKS;
		err = profile__sample(p, 2000000000ULL + (i / nprocs) * 10101010ULL + proc * 1000,
				      10000 + proc, 10000 + proc, proc % 4, stacks[pos[proc]], 1);
	}
	for (uint32_t i = 1; i < nprocs; i++)
		err |= profile__proc_exit(p, 10000 + i,
					  2000000000ULL + nsamples / nprocs * 10101010ULL, 0);
	err |= profile__set_stat(p, "duration_ns", nsamples / nprocs * 10101010ULL);
	profile__free(p);
	err |= datafile__finish(w);
	if (close(fd) || err) {
		fprintf(stderr, "gen_recording: writing %s failed\n", argv[1]);
		return 1;
	}
	return 0;
}
