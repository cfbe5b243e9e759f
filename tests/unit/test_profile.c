/* The aggregate: interning, the process table, samples, statistics and metadata. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "profile/profile.h"
#include "fixture.h"
#include "unit.h"

/* PROFILE_TEST(name) { body }: a test whose body gets a new profile p, freed after it. */
#define PROFILE_TEST(name)                                                                         \
	static void name##_body(struct profile *p);                                                \
	static void name(void)                                                                     \
	{                                                                                          \
		struct profile *p = profile__new();                                                \
		name##_body(p);                                                                    \
		profile__free(p);                                                                  \
	}                                                                                          \
	static void name##_body(struct profile *p)

PROFILE_TEST(equal_frames_get_the_same_id)
{
	char name[] = "work";
	uint32_t a, b, c, d, e;
	const struct prof_frame *f;

	a = fixture__frame(p, FRAME_PYTHON, name, "app.py", 10);
	name[0] = 'W'; /* the profile keeps its own copy */
	b = fixture__frame(p, FRAME_PYTHON, "work", "app.py", 10);
	c = fixture__frame(p, FRAME_PYTHON, "work", "app.py", 11);
	d = fixture__frame(p, FRAME_NATIVE, "work", "app.py", 10);
	e = fixture__frame(p, FRAME_PYTHON, "work", NULL, 10);
	CHECK_EQ_INT(a, 0);
	CHECK_EQ_INT(b, 0);
	CHECK_EQ_INT(c, 1);
	CHECK_EQ_INT(d, 2);
	CHECK_EQ_INT(e, 3);
	CHECK_EQ_INT(fixture__frame(p, FRAME_PYTHON, "work", "", 10), 4);
	CHECK_EQ_INT(fixture__frame(p, FRAME_PYTHON, "work", NULL, 10), 3);
	CHECK_EQ_INT(profile__nframes(p), 5);
	f = profile__frame_get(p, 0);
	CHECK_EQ_STR(f->name, "work");
	CHECK_EQ_STR(f->file, "app.py");
	CHECK_EQ_INT(f->line, 10);
	CHECK(profile__frame_get(p, 3)->file == NULL);
	CHECK(profile__frame_get(p, 5) == NULL);
}

PROFILE_TEST(equal_stacks_get_the_same_id)
{
	uint32_t s1[] = {0, 1, 2}, s2[] = {0, 1}, s3[] = {2, 1, 0}, s4[] = {0, 9};
	uint32_t a, b, c, d, e, n;
	const uint32_t *got;

	for (int i = 0; i < 3; i++)
		fixture__frame(p, FRAME_NATIVE, i == 0 ? "a" : i == 1 ? "b" : "c", NULL, 0);
	CHECK_EQ_INT(profile__stack(p, s1, 3, &a), 0);
	CHECK_EQ_INT(profile__stack(p, s2, 2, &b), 0);
	CHECK_EQ_INT(profile__stack(p, s3, 3, &c), 0);
	CHECK_EQ_INT(profile__stack(p, NULL, 0, &d), 0);
	CHECK_EQ_INT(profile__stack(p, (uint32_t[]){0, 1, 2}, 3, &e), 0);
	CHECK_EQ_INT(a, 0);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(c, 2);
	CHECK_EQ_INT(d, 3);
	CHECK_EQ_INT(e, 0);
	CHECK_EQ_INT(profile__nstacks(p), 4);
	got = profile__stack_get(p, 2, &n);
	CHECK_EQ_INT(n, 3);
	CHECK(got && got[0] == 2 && got[1] == 1 && got[2] == 0);
	CHECK(profile__stack_get(p, 3, &n) != NULL);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(profile__stack(p, s4, 2, &a), -EINVAL); /* frame 9 is not defined */
	CHECK_EQ_INT(profile__nstacks(p), 4);
}

PROFILE_TEST(stack_longer_than_4096_frames_is_refused)
{
	uint32_t *ids = calloc(4097, sizeof(*ids)), id;

	fixture__frame(p, FRAME_KERNEL, "k", NULL, 0);
	CHECK_EQ_INT(profile__stack(p, ids, 4097, &id), -E2BIG);
	CHECK_EQ_INT(profile__stack(p, ids, 4096, &id), 0);
	free(ids);
}

PROFILE_TEST(interning_many_frames_keeps_ids_dense)
{
	char name[32];
	uint32_t id;
	int bad = 0;

	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < 20000; i++) {
			snprintf(name, sizeof(name), "f%u", i);
			id = fixture__frame(p, FRAME_PYTHON, name, "x.py", i % 7);
			bad += id != i;
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(profile__nframes(p), 20000);
}

PROFILE_TEST(reused_pid_after_exit_is_a_new_process)
{
	const struct prof_proc *a, *b;
	uint32_t st;

	fixture__frame(p, FRAME_PYTHON, "main", "a.py", 1);
	profile__stack(p, (uint32_t[]){0}, 1, &st);
	CHECK_EQ_INT(profile__proc_start(p, 100, 1, 1000, "python3", "python3 a.py", "/bin/py"), 0);
	CHECK_EQ_INT(profile__sample(p, 1500, 100, 100, 0, st, 1), 0);
	CHECK_EQ_INT(profile__proc_exit(p, 100, 2000, 3 << 8), 0);
	CHECK_EQ_INT(profile__proc_start(p, 100, 7, 3000, "bash", "bash -c x", "/bin/bash"), 0);
	CHECK_EQ_INT(profile__sample(p, 3500, 100, 100, 1, st, 2), 0);
	CHECK_EQ_INT(profile__nprocs(p), 2);
	a = profile__proc_at(p, 0);
	b = profile__proc_at(p, 1);
	CHECK(a->exited);
	CHECK_EQ_INT(a->exit_code, 3 << 8);
	CHECK_EQ_INT(a->end_ns, 2000);
	CHECK_EQ_INT(a->samples, 1);
	CHECK_EQ_STR(a->comm, "python3");
	CHECK(!b->exited);
	CHECK_EQ_INT(b->ppid, 7);
	CHECK_EQ_INT(b->samples, 2);
	CHECK_EQ_STR(b->cmdline, "bash -c x");
	CHECK(profile__proc_find(p, 100) == b);
	CHECK_EQ_INT(profile__sample_at(p, 1)->proc, 1);
	CHECK(profile__proc_find(p, 555) == NULL);
}

PROFILE_TEST(exec_and_start_update_a_live_process)
{
	struct prof_proc *t;

	profile__proc_start(p, 10, 1, 5, "sh", "sh -c python3", "/bin/sh");
	profile__proc_exec(p, 10, 6, "python3", "python3 x.py", "/usr/bin/python3");
	profile__proc_start(p, 10, 2, 7, "python3", NULL, NULL);
	CHECK_EQ_INT(profile__nprocs(p), 1);
	t = profile__proc_find(p, 10);
	CHECK_EQ_STR(t->comm, "python3");
	CHECK_EQ_STR(t->cmdline, "python3 x.py");
	CHECK_EQ_STR(t->exe, "/usr/bin/python3");
	CHECK_EQ_INT(t->ppid, 2);
	CHECK_EQ_INT(t->start_ns, 7);
}

PROFILE_TEST(sample_of_unknown_pid_makes_an_entry)
{
	uint32_t st;

	profile__stack(p, NULL, 0, &st);
	CHECK_EQ_INT(profile__sample(p, 1, 42, 43, 0, st, 1), 0);
	CHECK_EQ_INT(profile__sample(p, 1, 42, 43, 0, st + 1, 1), -EINVAL);
	CHECK_EQ_INT(profile__nprocs(p), 1);
	CHECK_EQ_INT(profile__proc_find(p, 42)->ppid, 0);
	CHECK_EQ_STR(profile__proc_find(p, 42)->comm, "");
	CHECK_EQ_INT(profile__nsamples(p), 1);
	CHECK_EQ_INT(profile__sample_at(p, 0)->tid, 43);
	CHECK(profile__sample_at(p, 1) == NULL);
}

PROFILE_TEST(stats_and_meta_keep_first_set_order)
{
	const char *v;
	uint64_t x = 0;

	profile__set_stat(p, "lost", 1);
	profile__set_stat(p, "drops", 2);
	profile__set_stat(p, "lost", 5);
	CHECK_EQ_STR(profile__stat_at(p, 0, &x), "lost");
	CHECK_EQ_INT(x, 5);
	CHECK_EQ_STR(profile__stat_at(p, 1, &x), "drops");
	CHECK(profile__stat_at(p, 2, &x) == NULL);
	CHECK_EQ_INT(profile__get_stat(p, "drops", &x), 0);
	CHECK_EQ_INT(x, 2);
	CHECK_EQ_INT(profile__get_stat(p, "nope", &x), -ENOENT);
	profile__set_meta(p, "frequency", "99");
	profile__set_meta(p, "command", "a");
	profile__set_meta(p, "frequency", "49");
	CHECK_EQ_STR(profile__get_meta(p, "frequency"), "49");
	CHECK_EQ_STR(profile__meta_at(p, 1, &v), "command");
	CHECK_EQ_STR(v, "a");
	CHECK(profile__get_meta(p, "nope") == NULL);
}

struct agg {
	uint64_t w[4][3];
	int calls;
};

static int agg_fn(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	struct agg *a = ctx;

	a->calls++;
	if (proc < 4 && stack < 3)
		a->w[proc][stack] += weight;
	return 0;
}

static int stop_fn(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	++*(int *)ctx;
	return 7;
}

PROFILE_TEST(stack_counts_sum_per_process_and_stack)
{
	struct agg a = {0};
	uint32_t st[3];
	int calls = 0;

	fixture__frame(p, FRAME_NATIVE, "x", NULL, 0);
	profile__stack(p, (uint32_t[]){0}, 1, &st[0]);
	profile__stack(p, (uint32_t[]){0, 0}, 2, &st[1]);
	profile__stack(p, NULL, 0, &st[2]);
	for (int i = 0; i < 100; i++)
		profile__sample(p, i, 10 + i % 4, 1, 0, st[i % 3], 1 + (i % 2));
	CHECK_EQ_INT(profile__for_each_stack_count(p, agg_fn, &a), 0);
	CHECK_EQ_INT(a.calls, 12);
	for (int proc = 0; proc < 4; proc++) {
		for (int s = 0; s < 3; s++) {
			uint64_t want = 0;

			for (int i = 0; i < 100; i++)
				if (i % 4 == proc && i % 3 == s)
					want += 1 + (i % 2);
			CHECK_EQ_INT(a.w[proc][s], want);
		}
	}
	CHECK_EQ_INT(profile__for_each_stack_count(p, stop_fn, &calls), 7);
	CHECK_EQ_INT(calls, 1);
}

static int count_fn(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	*(uint64_t *)ctx += weight;
	return 0;
}

/* 1 M samples over 50 processes, 5000 distinct stacks of 20 frames, each sample interning
 * its stack as the tracer does: build and aggregate well under 2 s. */
static void million_samples_over_fifty_processes_are_fast(void)
{
	size_t n = RUNNING_ON_VALGRIND ? 50000 : 1000000;
	struct profile *p = profile__new();
	uint32_t(*stacks)[20] = calloc(5000, sizeof(*stacks)), st;
	uint64_t total = 0, rng = 1;
	double t0, dt;
	char name[32];
	int err = 0;

	for (int s = 0; s < 5000; s++) {
		for (int d = 0; d < 20; d++) {
			snprintf(name, sizeof(name), "f%d_%d", d, s % (d * 50 + 7));
			err |= profile__frame(
			    p, &(struct prof_frame){FRAME_PYTHON, name, "w.py", (uint32_t)d},
			    &stacks[s][d]);
		}
	}
	t0 = fixture__now();
	for (int i = 0; i < 50; i++)
		profile__proc_start(p, 1000 + i, 1000, i, "python3", "python3 w.py", "");
	for (size_t i = 0; i < n; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		err |= profile__stack(p, stacks[(rng >> 33) % 5000], 20, &st);
		err |= profile__sample(p, i, 1000 + (rng >> 40) % 50, 1, 0, st, 1);
	}
	CHECK_EQ_INT(profile__for_each_stack_count(p, count_fn, &total), 0);
	dt = fixture__now() - t0;
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(total, n);
	CHECK_EQ_INT(profile__nprocs(p), 50);
	if (!RUNNING_ON_VALGRIND && !UNIT_SANITIZED && dt > 2.0) {
		fprintf(stderr, "  interning and aggregating %zu samples took %.2f s (limit 2 s)\n",
			n, dt);
		unit_failed_checks++;
	}
	free(stacks);
	profile__free(p);
}

static int sum_fn(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	uint64_t *sums = ctx;

	sums[(proc * 3 + stack) % 64] += weight * (1 + proc * 1000 + stack * 100000);
	return 0;
}

/* A live run's profile (keep_samples false) gives the same per-(process, stack) weights as
 * a full one, keeps only the last sample, and does not grow with the number of samples. */
static void compact_profile_aggregates_like_a_full_one(void)
{
	struct profile *full = profile__new(), *live = profile__new();
	uint64_t a[64] = {0}, b[64] = {0};
	uint32_t st[3];

	profile__keep_samples(live, false);
	for (int k = 0; k < 2; k++) {
		struct profile *p = k ? live : full;

		fixture__frame(p, FRAME_NATIVE, "x", NULL, 0);
		profile__stack(p, (uint32_t[]){0}, 1, &st[0]);
		profile__stack(p, (uint32_t[]){0, 0}, 2, &st[1]);
		profile__stack(p, NULL, 0, &st[2]);
		for (int i = 0; i < 100000; i++)
			CHECK_EQ_INT(profile__sample(p, i, 10 + i % 7, 1, 0, st[i % 3], 1 + i % 2),
				     0);
	}
	CHECK_EQ_INT(profile__for_each_stack_count(full, sum_fn, a), 0);
	CHECK_EQ_INT(profile__for_each_stack_count(live, sum_fn, b), 0);
	CHECK(!memcmp(a, b, sizeof(a)));
	CHECK_EQ_INT(profile__nsamples(live), 100000);
	CHECK(profile__sample_at(live, 99998) == NULL);
	CHECK(profile__sample_at(live, 99999) != NULL);
	CHECK_EQ_INT(profile__sample_at(live, 99999)->ts_ns, 99999);
	CHECK_EQ_INT(profile__proc_find(live, 10)->samples, profile__proc_find(full, 10)->samples);
	profile__free(full);
	profile__free(live);
}

UNIT_MAIN("profile", UNIT_TEST(equal_frames_get_the_same_id),
	  UNIT_TEST(compact_profile_aggregates_like_a_full_one),
	  UNIT_TEST(equal_stacks_get_the_same_id),
	  UNIT_TEST(stack_longer_than_4096_frames_is_refused),
	  UNIT_TEST(interning_many_frames_keeps_ids_dense),
	  UNIT_TEST(reused_pid_after_exit_is_a_new_process),
	  UNIT_TEST(exec_and_start_update_a_live_process),
	  UNIT_TEST(sample_of_unknown_pid_makes_an_entry),
	  UNIT_TEST(stats_and_meta_keep_first_set_order),
	  UNIT_TEST(stack_counts_sum_per_process_and_stack),
	  UNIT_TEST(million_samples_over_fifty_processes_are_fast))
