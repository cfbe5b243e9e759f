/* Reports by a memory metric (--metric) and the memory sections, on a small hand-built
 * profile: a parent that allocates and forks, a worker that allocates and exits. */
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "treeprof.h"
#include "fixture.h"
#include "unit.h"

#define S 1000000000ULL

static void alloc(struct profile *p, uint64_t ts, pid_t pid, uint64_t addr, uint64_t size,
		  uint32_t st)
{
	CHECK_EQ_INT(profile__mem_alloc(p, ts, pid, pid, TP_MEM_MALLOC, addr, size, 1, st), 0);
}

/* 100 holds 1000 B (load) and 500 B (parse), forks 101, which allocates 4 KiB (load,
 * no native frame) and exits holding everything; 100 frees the parse block. What 101
 * inherited is 100's memory: not in 101's heap, peak or leaks (only in its
 * live_inherited_bytes). The tree peaks when 101 has allocated: 1500 + 4096 = 5596 B. */
static struct profile *mem_profile(bool with_memory)
{
	struct profile *p = profile__new();
	uint32_t mod, load, parse, mal, s[3];

	profile__set_meta(p, "frequency", "100");
	mod = fixture__frame(p, FRAME_PYTHON, "<module>", "app.py", 1);
	load = fixture__frame(p, FRAME_PYTHON, "load", "app.py", 10);
	parse = fixture__frame(p, FRAME_PYTHON, "parse", "app.py", 20);
	mal = fixture__frame(p, FRAME_NATIVE, "malloc", "/usr/lib/libc.so.6", 0);
	s[0] = fixture__stack(p, (uint32_t[]){mod, load, mal}, 3);
	s[1] = fixture__stack(p, (uint32_t[]){mod, parse, mal}, 3);
	s[2] = fixture__stack(p, (uint32_t[]){mod, load}, 2);
	profile__proc_start(p, 100, 1, 0, "python3", "python3 app.py", "/usr/bin/python3");
	CHECK_EQ_INT(profile__sample(p, S, 100, 100, 0, s[2], 3), 0);
	if (with_memory) {
		alloc(p, S, 100, 0x1000, 1000, s[0]);
		alloc(p, S, 100, 0x2000, 500, s[1]);
		CHECK_EQ_INT(profile__mem_rss(p, S + S / 20, 100, 50 << 20), 0);
		CHECK_EQ_INT(profile__mem_fork(p, S + S / 10, 101, 100), 0);
	}
	profile__proc_start(p, 101, 100, S + S / 10, "worker", "python3 app.py", "");
	CHECK_EQ_INT(profile__sample(p, S + S / 5, 101, 101, 0, s[2], 1), 0);
	if (with_memory) {
		alloc(p, S + S / 5, 101, 0x3000, 4096, s[2]);
		CHECK_EQ_INT(profile__mem_free(p, S + 3 * S / 10, 100, TP_MEM_FREE, 0x2000), 0);
		CHECK_EQ_INT(
		    profile__mem_counters(p, S + S / 2, 100,
					  &(struct tp_memcounters){10, 20000, 4, 1, 0, 0, 2, 1}),
		    0);
	}
	profile__proc_exit(p, 101, S + 2 * S / 5, 0);
	profile__set_stat(p, "duration_ns", S);
	return p;
}

/* What fn writes of p weighed by metric, checked to succeed. */
static char *run(fixture_writer fn, const struct profile *p, const char *metric, size_t *len)
{
	return fixture__write(fn, p, &(struct report_opts){.metric = metric, .top = 15}, len);
}

/* Each of the strings want[0..n) is in out: each one missing fails the test. */
static void expect_in(const char *out, const char *const *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!out || !strstr(out, want[i]))
			unit_fail("missing: \"%s\"", want[i]);
}

#define EXPECT_IN(out, ...)                                                                        \
	expect_in(out, (const char *const[]){__VA_ARGS__},                                         \
		  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* The memory metrics weigh each process's own blocks: what the worker inherited at fork
 * is in none of them. */
static void folded_weighs_stacks_by_the_memory_metrics(void)
{
	static const char *const want[][2] = {
	    {"live_bytes", "python3 [100];<module> (app.py:1);load (app.py:10);malloc 1000\n"
			   "worker [101];<module> (app.py:1);load (app.py:10) 4096\n"},
	    {"peak_bytes", "python3 [100];<module> (app.py:1);load (app.py:10);malloc 1000\n"
			   "python3 [100];<module> (app.py:1);parse (app.py:20);malloc 500\n"
			   "worker [101];<module> (app.py:1);load (app.py:10) 4096\n"},
	    {"alloc_bytes", "python3 [100];<module> (app.py:1);load (app.py:10);malloc 1000\n"
			    "python3 [100];<module> (app.py:1);parse (app.py:20);malloc 500\n"
			    "worker [101];<module> (app.py:1);load (app.py:10) 4096\n"},
	    {"alloc_count", "python3 [100];<module> (app.py:1);load (app.py:10);malloc 1\n"
			    "python3 [100];<module> (app.py:1);parse (app.py:20);malloc 1\n"
			    "worker [101];<module> (app.py:1);load (app.py:10) 1\n"},
	    {"cpu", "python3 [100];<module> (app.py:1);load (app.py:10) 3\n"
		    "worker [101];<module> (app.py:1);load (app.py:10) 1\n"},
	};
	struct profile *p = mem_profile(true);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *out = run(report__folded, p, want[i][0], NULL);

		CHECK_EQ_STR(out, want[i][1]);
		free(out);
	}
	profile__free(p);
}

static void memory_metric_without_memory_events_is_an_error(void)
{
	static int (*const writers[])(const struct profile *, FILE *,
				      const struct report_opts *) = {
	    report__text,	report__folded, report__json, report__pprof,
	    report__speedscope, report__chrome, report__html,
	};
	struct profile *p = mem_profile(false);
	struct report_opts o = {.metric = "live_bytes"};
	char err[128] = "";
	int e;

	CHECK_EQ_INT(report__check(p, &o, err, sizeof(err)), -ENODATA);
	CHECK_EQ_STR(err, "this recording has no memory events: record with --mem");
	o.metric = "heap";
	CHECK_EQ_INT(report__check(p, &o, err, sizeof(err)), -EINVAL);
	o.metric = NULL;
	CHECK_EQ_INT(report__check(p, &o, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		free(fixture__write_err(writers[i], p,
					&(struct report_opts){.metric = "alloc_bytes", .top = 15},
					&e, NULL));
		CHECK_EQ_INT(e, -ENODATA);
	}
	profile__free(p);
}

/* gunzip a pprof output; NULL on failure. */
static char *gunzip(const char *data, size_t len, size_t *out_len)
{
	z_stream zs = {0};
	size_t cap = 1 << 20;
	char *buf = malloc(cap);

	if (!buf || inflateInit2(&zs, 31) != Z_OK) {
		free(buf);
		return NULL;
	}
	zs.next_in = (Bytef *)data;
	zs.avail_in = len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = cap;
	if (inflate(&zs, Z_FINISH) != Z_STREAM_END) {
		free(buf);
		buf = NULL;
	}
	*out_len = zs.total_out;
	inflateEnd(&zs);
	return buf;
}

static bool has(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

static void pprof_names_memory_sample_types_as_go_does(void)
{
	static const char *const want[][2] = {{"alloc_bytes", "alloc_space"},
					      {"alloc_count", "alloc_objects"},
					      {"live_bytes", "inuse_space"},
					      {"peak_bytes", "peak_space"}};
	struct profile *p = mem_profile(true);

	for (size_t i = 0; i < 4; i++) {
		size_t len, plen = 0;
		char *gz = run(report__pprof, p, want[i][0], &len);
		char *pb = gz ? gunzip(gz, len, &plen) : NULL;

		CHECK(pb != NULL);
		if (pb) {
			CHECK(has(pb, plen, want[i][1]));
			CHECK(has(pb, plen, i == 1 ? "count" : "bytes"));
			CHECK(!has(pb, plen, "nanoseconds"));
		}
		free(pb);
		free(gz);
	}
	profile__free(p);
}

static void text_has_a_memory_section_within_100_columns(void)
{
	struct profile *p = mem_profile(true);
	char *out = run(report__text, p, NULL, NULL), *line, *save = NULL;
	static const char *const want[] = {
	    "Memory (~: from every allocation traced)",
	    "    PID COMM           ALLOCS ALLOCATED    FREES FAILED   IN USE     PEAK  LEAKED~    "
	    "PEAK~ RSS PEAK",
	    "    100 python3            10   19.5KiB        4      1        -        -    1000B  "
	    "1.46KiB  50.0MiB",
	    /* the worker's own 4 KiB, not the 1500 B it inherited */
	    "    101 worker              -         -        -      -        -        -  4.00KiB  "
	    "4.00KiB        -",
	    "Top allocation sites (~ bytes allocated)",
	    "  4.00KiB        1     101 worker        load (app.py:10)",
	    "    1000B        1     100 python3       load (app.py:10)",
	    "     500B        1     100 python3       parse (app.py:20)",
	    "Top leak sites (~ held when the code ended: Py_FinalizeEx, exit, exec; INHERIT: the "
	    "parent's copies)",
	    "   LEAKED  INHERIT     PID COMM          FUNCTION",
	    /* leaked: its own 4 KiB; INHERIT: the 1000 B load block it inherited, held at exit */
	    "  4.00KiB    1000B     101 worker        load (app.py:10)",
	    "    1000B       0B     100 python3       load (app.py:10)",
	    "Held at the tree's peak (~ 5.46KiB, 0.20 s after the first memory event)",
	    "  4.00KiB    73.2%     101 worker        load (app.py:10)",
	    "    1000B    17.9%     100 python3       load (app.py:10)",
	    "     500B     8.9%     100 python3       parse (app.py:20)",
	};

	expect_in(out, want, sizeof(want) / sizeof(want[0]));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		CHECK(strlen(line) <= 100);
	free(out);
	/* exact totals only (a record summary whose events were not kept): no site lists */
	p = (profile__free(p), mem_profile(false));
	CHECK_EQ_INT(profile__mem_counters(p, S, 100, &(struct tp_memcounters){.alloc_count = 1}),
		     0);
	out = run(report__text, p, NULL, NULL);
	CHECK(out && strstr(out, "\nMemory (") && !strstr(out, "Top allocation sites"));
	free(out);
	p = (profile__free(p), mem_profile(true));
	/* by a memory metric, the CPU lists weigh by it */
	out = run(report__text, p, "live_bytes", NULL);
	EXPECT_IN(out, "Top functions by self live_bytes",
		  /* 1000 + 4096 B */
		  "live_bytes 4.98KiB (estimated)   processes 2",
		  "    101     100     0.30s   4.00KiB  80.4% exit 0",
		  "pid 101: python3 app.py (4.00KiB)\n");
	free(out);
	profile__free(p);
}

static void json_has_the_memory_object(void)
{
	struct profile *p = mem_profile(true);
	char *out = run(report__json, p, "live_bytes", NULL);

	EXPECT_IN(
	    out,
	    "{\"format\":\"treeprof-report\",\"version\":1,\"metric\":"
	    "\"live_bytes\",\"unit\":\"bytes\",",
	    "\"memory\":{\"tree_peak_bytes\":5596,\"tree_peak_ns\":1200000000,"
	    "\"unmatched_frees\":0,",
	    "{\"pid\":100,\"exact\":{\"alloc_count\":10,\"alloc_bytes\":20000,"
	    "\"free_count\":4,\"failed\":1,\"in_use\":0,\"peak_in_use\":0,"
	    "\"sampled\":2,\"rate\":1},\"alloc_count\":2,\"alloc_bytes\":1500,"
	    "\"live_bytes\":1000,\"live_inherited_bytes\":0,\"peak_bytes\":1500,",
	    "{\"pid\":101,\"exact\":null,",
	    "{\"pid\":101,\"alloc_count\":1,\"alloc_bytes\":4096,"
	    "\"live_bytes\":4096,\"live_inherited_bytes\":0,\"peak_bytes\":4096,"
	    "\"proc_peak_bytes\":4096,\"frames\":[0,1]}",
	    "{\"pid\":101,\"exact\":null,\"alloc_count\":1,\"alloc_bytes\":4096,"
	    "\"live_bytes\":4096,\"live_inherited_bytes\":1500,\"peak_bytes\":4096,"
	    "\"peak_ns\":1200000000,\"rss_peak\":0,\"inherited_frees\":0,"
	    "\"unmatched_frees\":0,\"finalize_ns\":0}",
	    /* the worker's sites of the blocks it inherited: held at its exit, nothing else */
	    "{\"pid\":101,\"alloc_count\":0,\"alloc_bytes\":0,\"live_bytes\":0,"
	    "\"live_inherited_bytes\":1000,\"peak_bytes\":0,\"proc_peak_bytes\":0,"
	    "\"frames\":[0,1,3]}",
	    "{\"pid\":101,\"alloc_count\":0,\"alloc_bytes\":0,\"live_bytes\":0,"
	    "\"live_inherited_bytes\":500,\"peak_bytes\":0,\"proc_peak_bytes\":0,"
	    "\"frames\":[0,2,3]}",
	    "{\"t_ns\":1000000000,\"pid\":100,\"heap_bytes\":1500,"
	    "\"rss_bytes\":52428800}",
	    /* right after the fork the worker holds nothing of its own */
	    "{\"t_ns\":1100000000,\"pid\":101,\"heap_bytes\":0,"
	    "\"rss_bytes\":0}",
	    "{\"pid\":101,\"group\":1,\"count\":4096,\"frames\":[0,1]}");
	free(out);
	/* no memory events: no memory object, and the CPU report unchanged */
	p = (profile__free(p), mem_profile(false));
	out = run(report__json, p, NULL, NULL);
	CHECK(out && !strstr(out, "\"memory\"") && !strstr(out, "\"metric\""));
	free(out);
	profile__free(p);
}

static void html_and_speedscope_and_chrome_carry_the_memory_metrics(void)
{
	struct profile *p = mem_profile(true);
	char *out = run(report__html, p, "peak_bytes", NULL);

	EXPECT_IN(out, "\"metrics\":[{\"id\":\"peak_bytes\",",
		  "{\"id\":\"cpu\",\"label\":\"CPU\",\"unit\":\"samples\"}",
		  "\"alloc_bytes\":{\"stacks\":[",
		  /* the worker at the tree's peak: its own 4096 B (stack node 1), not its
		   * inherited copies */
		  "\"peak_bytes\":{\"stacks\":[1,4096],\"timeline\":[99,4096,",
		  "\"total\":4096},\n \"alloc_bytes\":{\"stacks\":[1,4096],",
		  "\"peak_bytes\":{\"stacks\":[2,1000,4,500],",
		  "\"cpu\":{\"stacks\":[1,3],\"timeline\":[0,3]},\n \"peak_bytes\":{");
	free(out);
	out = run(report__speedscope, p, "alloc_bytes", NULL);
	CHECK(out && strstr(out, "\"unit\":\"bytes\",\"startValue\":0,\"endValue\":1500,"));
	free(out);
	out = run(report__chrome, p, "live_bytes", NULL);
	EXPECT_IN(out,
		  "{\"ph\":\"C\",\"pid\":100,\"ts\":0,\"name\":\"heap (estimated)\","
		  "\"args\":{\"bytes\":1500}}",
		  "\"name\":\"rss\",\"args\":{\"bytes\":52428800}}",
		  "{\"ph\":\"C\",\"pid\":101,\"ts\":100000,\"name\":\"heap "
		  "(estimated)\",\"args\":{\"bytes\":0}}");
	free(out);
	profile__free(p);
}

UNIT_MAIN("report_mem", UNIT_TEST(folded_weighs_stacks_by_the_memory_metrics),
	  UNIT_TEST(memory_metric_without_memory_events_is_an_error),
	  UNIT_TEST(pprof_names_memory_sample_types_as_go_does),
	  UNIT_TEST(text_has_a_memory_section_within_100_columns),
	  UNIT_TEST(json_has_the_memory_object),
	  UNIT_TEST(html_and_speedscope_and_chrome_carry_the_memory_metrics))
