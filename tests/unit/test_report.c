/* Report writers against golden files, frame labels, and the report's speed on a large
 * recording. On a golden mismatch the output seen is written next to the golden file as
 * NAME.seen: diff the two, and copy .seen over the golden file when the change is meant. */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "profile/datafile.h"
#include "profile/profile.h"
#include "report/report.h"
#include "fixture.h"
#include "unit.h"

static void samples(struct profile *p, pid_t pid, uint32_t st, int count)
{
	for (int i = 0; i < count; i++)
		CHECK_EQ_INT(profile__sample(p, 1000000000ULL + i, pid, pid, 0, st, 1), 0);
}

/* A small tree: a server (already running at attach) with two workers, one of which ran
 * a shell that exited; a crashed helper; pid 103 reused after its exit. */
static struct profile *tree_profile(void)
{
	struct profile *p = profile__new();
	uint32_t mod, serve, handle, parse, slow, eval, libc, sys, odd, s[8];

	profile__set_meta(p, "frequency", "99");
	profile__set_meta(p, "command", "treeprof record -o run.data -- python3 server.py");
	mod = fixture__frame(p, FRAME_PYTHON, "<module>", "/srv/app/server.py", 40);
	serve = fixture__frame(p, FRAME_PYTHON, "Server.serve", "/srv/app/server.py", 22);
	handle = fixture__frame(p, FRAME_PYTHON, "handle", "/srv/app/handlers.py", 8);
	parse =
	    fixture__frame(p, FRAME_PYTHON, "parse", "/usr/lib/python3.11/json/decoder.py", 353);
	slow = fixture__frame(p, FRAME_PYTHON, "handle", "/srv/app/handlers.py", 12);
	eval =
	    fixture__frame(p, FRAME_NATIVE, "_PyEval_EvalFrameDefault", "/usr/bin/python3.11", 0);
	libc =
	    fixture__frame(p, FRAME_NATIVE, "[unknown]", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0);
	sys = fixture__frame(p, FRAME_KERNEL, "do_syscall_64", NULL, 0);
	odd = fixture__frame(p, FRAME_PYTHON, "weird;name\nhere", "/srv/app/odd.py", 1);
	s[0] = fixture__stack(p, (uint32_t[]){mod, serve}, 2);
	s[1] = fixture__stack(p, (uint32_t[]){mod, serve, handle, parse}, 4);
	s[2] = fixture__stack(p, (uint32_t[]){mod, serve, slow}, 3);
	s[3] = fixture__stack(p, (uint32_t[]){mod, serve, handle, eval, libc, sys}, 6);
	s[4] = fixture__stack(p, (uint32_t[]){mod, odd}, 2);
	s[5] = fixture__stack(p, NULL, 0);
	s[6] = fixture__stack(p, (uint32_t[]){mod, serve, handle, handle}, 4);

	profile__proc_start(p, 100, 1, 0, "python3", "python3 server.py --port 8080",
			    "/usr/bin/python3.11");
	profile__proc_start(p, 101, 100, 1000000000, "python3", "python3 server.py --worker 1",
			    "/usr/bin/python3.11");
	profile__proc_start(p, 102, 100, 1100000000, "python3", "python3 server.py --worker 2",
			    "/usr/bin/python3.11");
	profile__proc_start(p, 103, 101, 1500000000, "python3", "", "/usr/bin/python3.11");
	profile__proc_exec(p, 103, 1600000000, "sh",
			   "/bin/sh -c 'find / -name \"*.py\" -newer /srv/app/server.py -print "
			   "| xargs grep -l import | sort | uniq -c | sort -rn | head -n 100'",
			   "/bin/sh");
	profile__proc_start(p, 104, 100, 2000000000, "helper", "helper --crash", "/usr/bin/helper");
	samples(p, 100, s[0], 20);
	samples(p, 101, s[1], 30);
	samples(p, 101, s[2], 10);
	samples(p, 101, s[6], 4);
	samples(p, 102, s[3], 25);
	samples(p, 102, s[1], 5);
	samples(p, 103, s[5], 3);
	samples(p, 104, s[4], 2);
	profile__proc_exit(p, 103, 3850000000, 0);
	profile__proc_exit(p, 104, 2500000000, 11);
	profile__proc_start(p, 103, 102, 4000000000, "python3", "python3 -c 'import sys'", "");
	samples(p, 103, s[0], 1);
	profile__proc_exit(p, 103, 4200000000, 2 << 8);
	profile__set_stat(p, "duration_ns", 5000000000);
	profile__set_stat(p, "ringbuf_lost", 2);
	profile__set_stat(p, "py_walk_truncated", 0);
	return p;
}

static void folded_matches_golden(void)
{
	fixture__golden("folded.txt", report__folded, tree_profile,
			&(struct report_opts){.top = 15});
}

static void folded_merge_matches_golden(void)
{
	fixture__golden("folded_merge.txt", report__folded, tree_profile,
			&(struct report_opts){.merge = true});
}

static void text_matches_golden(void)
{
	fixture__golden("text.txt", report__text, tree_profile, &(struct report_opts){.top = 15});
}

static void folded_pid_filter_keeps_only_that_pid(void)
{
	struct profile *p = tree_profile();
	size_t len;
	char *out = fixture__write(report__folded, p, &(struct report_opts){.pid = 102}, &len);

	CHECK_EQ_STR(out, "python3 [102];<module> (/srv/app/server.py:40);Server.serve "
			  "(/srv/app/server.py:22);handle (/srv/app/handlers.py:8);"
			  "_PyEval_EvalFrameDefault;[unknown] (libc.so.6);do_syscall_64_[k] 25\n"
			  "python3 [102];<module> (/srv/app/server.py:40);Server.serve "
			  "(/srv/app/server.py:22);handle (/srv/app/handlers.py:8);parse "
			  "(/usr/lib/python3.11/json/decoder.py:353) 5\n");
	free(out);
	profile__free(p);
}

static void frame_labels_follow_the_flamegraph_conventions(void)
{
	struct profile *p = profile__new();
	char buf[128];

	fixture__frame(p, FRAME_PYTHON, "Cls.m", "a.py", 3);
	fixture__frame(p, FRAME_PYTHON, "f", "a.py", 0);
	fixture__frame(p, FRAME_NATIVE, "malloc", "/lib/libc.so.6", 0);
	fixture__frame(p, FRAME_NATIVE, "[unknown]", "/opt/lib/libfoo.so", 0);
	fixture__frame(p, FRAME_NATIVE, "[unknown]", NULL, 0);
	fixture__frame(p, FRAME_KERNEL, "schedule", NULL, 0);
	fixture__frame(p, FRAME_PYTHON, "a;b\nc", "x;y.py", 2);
	CHECK_EQ_STR(report__frame_label(p, 0, buf, sizeof(buf)), "Cls.m (a.py:3)");
	CHECK_EQ_STR(report__frame_label(p, 1, buf, sizeof(buf)), "f (a.py)");
	CHECK_EQ_STR(report__frame_label(p, 2, buf, sizeof(buf)), "malloc");
	CHECK_EQ_STR(report__frame_label(p, 3, buf, sizeof(buf)), "[unknown] (libfoo.so)");
	CHECK_EQ_STR(report__frame_label(p, 4, buf, sizeof(buf)), "[unknown]");
	CHECK_EQ_STR(report__frame_label(p, 5, buf, sizeof(buf)), "schedule_[k]");
	CHECK_EQ_STR(report__frame_label(p, 6, buf, sizeof(buf)), "a:b c (x:y.py:2)");
	CHECK_EQ_STR(report__frame_label(p, 99, buf, sizeof(buf)), "[unknown]");
	CHECK_EQ_STR(report__frame_label(p, 0, buf, 6), "Cls.m");
	profile__free(p);
}

static void text_fits_100_columns_and_colours_only_when_asked(void)
{
	struct profile *p = tree_profile();
	size_t len, col = 0, widest = 0;
	char *plain = fixture__write(report__text, p, &(struct report_opts){0}, &len);
	char *color = fixture__write(report__text, p, &(struct report_opts){.color = true}, &len);

	for (const char *c = plain; *c; c++) {
		col = *c == '\n' ? 0 : col + 1;
		widest = col > widest ? col : widest;
	}
	CHECK(widest <= 100);
	CHECK(strchr(plain, '\033') == NULL);
	CHECK(strchr(color, '\033') != NULL);
	free(plain);
	free(color);
	profile__free(p);
}

/* Read a 1 M-sample recording (50 processes, 5000 stacks of 30 frames) and write both
 * reports in a child process: under 2 s and 200 MB. */
static void million_sample_recording_reports_fast_and_small(void)
{
	char path[] = "/tmp/treeprof-unit-big-XXXXXX";
	int fd = mkstemp(path), status = 0;
	size_t n = RUNNING_ON_VALGRIND ? 20000 : 1000000;
	struct datafile_writer *w;
	struct profile *p = profile__new();
	uint32_t ids[30], st[5000];
	uint64_t rng = 7;
	struct rusage ru;
	char name[64];
	double t0;
	pid_t child;

	CHECK(fd >= 0);
	w = datafile__new(fd);
	CHECK(w != NULL);
	profile__set_journal(p, datafile__journal(w));
	for (int i = 0; i < 50; i++)
		profile__proc_start(p, 2000 + i, i ? 2000 : 1, i, "python3", "python3 job.py", "");
	for (int s = 0; s < 5000; s++) {
		for (int d = 0; d < 30; d++) {
			snprintf(name, sizeof(name), "mod%d.func_%d", d, s % (d * 20 + 3));
			ids[d] =
			    fixture__frame(p, d < 25 ? FRAME_PYTHON : FRAME_NATIVE, name,
					   "/usr/lib/python3/dist-packages/pkg/module.py", 10 + d);
		}
		st[s] = fixture__stack(p, ids, 30);
	}
	for (size_t i = 0; i < n; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		profile__sample(p, i * 1000, 2000 + (rng >> 40) % 50, 1, 0, st[(rng >> 33) % 5000],
				1);
	}
	CHECK_EQ_INT(datafile__finish(w), 0);
	close(fd);
	profile__free(p);

	t0 = fixture__now();
	child = fork();
	if (child == 0) {
		char err[256];
		int trunc = 0, ok;
		FILE *null = fopen("/dev/null", "w");
		struct profile *r = datafile__read(path, err, sizeof(err), &trunc);

		ok = r && null && !trunc && profile__nsamples(r) == n &&
		     !report__folded(r, null, &(struct report_opts){0}) &&
		     !report__text(r, null, &(struct report_opts){.top = 15});
		profile__free(r);
		if (null)
			fclose(null);
		_exit(ok ? 0 : 1);
	}
	CHECK(child > 0);
	waitpid(child, &status, 0);
	getrusage(RUSAGE_CHILDREN, &ru);
	CHECK_EQ_INT(status, 0);
	if (!RUNNING_ON_VALGRIND && !UNIT_SANITIZED) {
		double dt = fixture__now() - t0;
		long mb = ru.ru_maxrss / 1024;

		if (dt > 2.0 || mb > 200) {
			fprintf(stderr,
				"  report of 1 M samples: %.2f s, %ld MB (limits 2 s, 200 MB)\n",
				dt, mb);
			unit_failed_checks++;
		}
	}
	unlink(path);
}

UNIT_MAIN("report", UNIT_TEST(folded_matches_golden), UNIT_TEST(folded_merge_matches_golden),
	  UNIT_TEST(text_matches_golden), UNIT_TEST(folded_pid_filter_keeps_only_that_pid),
	  UNIT_TEST(frame_labels_follow_the_flamegraph_conventions),
	  UNIT_TEST(text_fits_100_columns_and_colours_only_when_asked),
	  UNIT_TEST(million_sample_recording_reports_fast_and_small))
