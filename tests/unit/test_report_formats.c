/* Grouping (--group-by) in every writer, and the pprof, speedscope and chrome formats,
 * against golden files in tests/unit/golden/. pprof is compared as a decoded dump of its
 * protobuf (after gunzip), so the golden file does not depend on zlib's version. On a
 * mismatch the output seen is written next to the golden file as NAME.seen. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"
#include "fixture.h"
#include "unit.h"

/* A pool: a parent (200) running at attach, three short forked workers with its command
 * line (201-203, one with a second thread), a long-lived sibling with the same command line
 * (204), and a shell started by two of the workers (205, 206). */
static struct profile *pool_profile(void)
{
	struct profile *p = profile__new();
	uint32_t mod, serve, work, crunch, logger, eval, sys, s[6];
	const char *cmd = "/usr/bin/python3 pool.py --jobs 3";

	profile__set_meta(p, "frequency", "100");
	profile__set_meta(p, "start_unix", "1700000000");
	profile__set_meta(p, "command", "treeprof record -- python3 pool.py --jobs 3");
	mod = fixture__frame(p, FRAME_PYTHON, "<module>", "/srv/pool.py", 50);
	serve = fixture__frame(p, FRAME_PYTHON, "serve", "/srv/pool.py", 30);
	work = fixture__frame(p, FRAME_PYTHON, "Worker.run", "/srv/pool.py", 12);
	crunch = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/pool.py", 5);
	logger = fixture__frame(p, FRAME_PYTHON, "log_loop", "/srv/log.py", 7);
	eval = fixture__frame(p, FRAME_NATIVE, "[unknown]", "/usr/lib/libc.so.6", 0);
	sys = fixture__frame(p, FRAME_KERNEL, "do_syscall_64", NULL, 0);
	s[0] = fixture__stack(p, (uint32_t[]){mod, serve}, 2);
	s[1] = fixture__stack(p, (uint32_t[]){mod, work, crunch}, 3);
	s[2] = fixture__stack(p, (uint32_t[]){mod, work}, 2);
	s[3] = fixture__stack(p, (uint32_t[]){mod, logger, eval, sys}, 4);
	s[4] = fixture__stack(p, NULL, 0);
	s[5] = fixture__stack(p, (uint32_t[]){mod, work, crunch, sys}, 4);

	profile__proc_start(p, 200, 1, 0, "python3", cmd, "/usr/bin/python3");
	profile__proc_start(p, 201, 200, 1000000000, "python3", cmd, "/usr/bin/python3");
	profile__proc_start(p, 202, 200, 1010000000, "python3", cmd, "/usr/bin/python3");
	profile__proc_start(p, 203, 200, 1020000000, "python3", cmd, "/usr/bin/python3");
	profile__proc_start(p, 204, 200, 1030000000, "python3", cmd, "/usr/bin/python3");
	profile__proc_start(p, 205, 201, 1050000000, "python3", cmd, "/usr/bin/python3");
	profile__proc_exec(p, 205, 1051000000, "sh", "sh -c 'gzip out'", "/bin/sh");
	profile__proc_start(p, 206, 202, 1060000000, "python3", cmd, "/usr/bin/python3");
	profile__proc_exec(p, 206, 1061000000, "sh", "sh -c 'gzip out'", "/bin/sh");
	fixture__samples(p, 200, 200, s[0], 0.5, 10);
	fixture__samples(p, 201, 201, s[1], 1.0, 3);
	fixture__samples(p, 201, 201, s[5], 1.03, 1);
	fixture__samples(p, 201, 201, s[2], 1.04, 1);
	fixture__samples(p, 202, 202, s[1], 1.01, 2);
	fixture__samples(p, 203, 203, s[1], 1.02, 6);
	fixture__samples(p, 203, 2031, s[2], 1.02, 2);
	fixture__samples(p, 204, 204, s[3], 1.1, 3);
	fixture__samples(p, 204, 204, s[3], 2.0, 3); /* after a gap: a new run */
	fixture__samples(p, 205, 205, s[4], 1.052, 1);
	profile__proc_exit(p, 205, 1070000000, 0);
	profile__proc_exit(p, 206, 1075000000, 0);
	profile__proc_exit(p, 201, 1100000000, 0);
	profile__proc_exit(p, 202, 1130000000, 0);
	profile__proc_exit(p, 203, 1110000000, 0);
	profile__proc_exit(p, 204, 4000000000, 0);
	profile__set_stat(p, "duration_ns", 5000000000);
	return p;
}

#define BY_PID	(&(struct report_opts){.group = REPORT_GROUP_PID, .top = 5})
#define BY_ROLE (&(struct report_opts){.group = REPORT_GROUP_ROLE, .top = 5})
#define BY_NONE (&(struct report_opts){.group = REPORT_GROUP_NONE, .top = 5})

static void roles_merge_identical_workers_not_their_parent_nor_a_long_lived_sibling(void)
{
	struct profile *p = pool_profile();
	struct report_groups *g = report_groups__new(p, BY_ROLE);
	const struct report_group_info *w;

	CHECK(g != NULL);
	CHECK_EQ_INT(report_groups__count(g), 4);
	w = report_groups__get(g, 1);
	CHECK_EQ_STR(w->label, "python3 pool.py --jobs 3 [3 procs]");
	CHECK_EQ_INT(w->nprocs, 3);
	CHECK_EQ_INT(w->samples, 15);
	CHECK_EQ_INT(w->max_samples - w->min_samples, 6);
	CHECK_EQ_INT(w->parent, 0);
	CHECK_EQ_STR(report_groups__get(g, 0)->label, "python3 pool.py --jobs 3 [1 proc]");
	CHECK_EQ_STR(report_groups__get(g, 2)->label, "python3 pool.py --jobs 3 [1 proc] #2");
	CHECK_EQ_STR(report_groups__get(g, 3)->label, "sh -c 'gzip out' [2 procs]");
	CHECK_EQ_INT(report_groups__get(g, 3)->parent, 1);
	CHECK_EQ_INT(report_groups__of(g, 4), 2); /* 204 lived 3 s: not one of the workers */
	report_groups__free(g);
	profile__free(p);
}

/* spawn workers differ only in the descriptor numbers of their command lines: one role; a
 * different interpreter version or script is not. */
static void roles_take_whole_token_numbers_as_equal(void)
{
	struct profile *p = profile__new();
	struct report_groups *g;
	static const char *spawn = "/usr/bin/python3 -c from multiprocessing.spawn import "
				   "spawn_main; spawn_main(tracker_fd=5, pipe_handle=%d) "
				   "--multiprocessing-fork";
	char cmd[160];

	CHECK(p != NULL);
	profile__proc_start(p, 300, 1, 0, "python3", "python3 train.py", "/usr/bin/python3");
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), spawn, 11 + 2 * i);
		profile__proc_start(p, 301 + i, 300, 1000000, "python3", cmd, "/usr/bin/python3");
	}
	profile__proc_start(p, 304, 300, 1000000, "python3", "python3.12 train.py", "/usr/bin/x");
	profile__proc_start(p, 305, 300, 1000000, "python3", "python3.13 train.py", "/usr/bin/x");
	g = report_groups__new(p, BY_ROLE);
	CHECK(g != NULL);
	CHECK_EQ_INT(report_groups__count(g), 4);
	CHECK_EQ_INT(report_groups__get(g, 1)->nprocs, 3);
	CHECK_EQ_INT(report_groups__of(g, 2), report_groups__of(g, 3));
	CHECK(report_groups__of(g, 4) != report_groups__of(g, 5));
	report_groups__free(g);
	profile__free(p);
}

static void groups_keep_only_the_pid_asked_for(void)
{
	struct profile *p = pool_profile();
	struct report_groups *g =
	    report_groups__new(p, &(struct report_opts){.group = REPORT_GROUP_ROLE, .pid = 202});

	CHECK_EQ_INT(report_groups__count(g), 1);
	CHECK_EQ_INT(report_groups__get(g, 0)->nprocs, 1);
	CHECK_EQ_INT(report_groups__of(g, 0), REPORT_NO_GROUP);
	CHECK_EQ_INT(report_groups__of(g, 2), 0);
	report_groups__free(g);
	profile__free(p);
}

/* The writers' golden files, by process, by role and by nothing: folded names roles or
 * nothing; text shows roles with their count and spread; JSON adds the groups and a group
 * per stack; speedscope has one profile per group. */
static const struct {
	const char *name;
	fixture_writer fn;
	const struct report_opts *o;
} goldens[] = {
    {"folded_role.txt", report__folded, BY_ROLE},
    {"folded_none.txt", report__folded, BY_NONE},
    {"text_role.txt", report__text, BY_ROLE},
    {"text_none.txt", report__text, BY_NONE},
    {"json_pid.json", report__json, BY_PID},
    {"json_role.json", report__json, BY_ROLE},
    {"speedscope_pid.json", report__speedscope, BY_PID},
    {"speedscope_role.json", report__speedscope, BY_ROLE},
};

static void writers_match_their_golden_files(void)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++)
		fixture__golden(goldens[i].name, goldens[i].fn, pool_profile, goldens[i].o);
}

/* A generic protobuf dump: which fields of which message are messages, strings or packed. */
enum pb_kind { PB_VARINT, PB_MSG, PB_STR, PB_PACKED };
struct pb_field {
	int msg, field, kind, sub;
};
enum { M_PROFILE, M_VALUETYPE, M_SAMPLE, M_LABEL, M_LOCATION, M_LINE, M_FUNCTION };
static const struct pb_field pb_schema[] = {
    {M_PROFILE, 1, PB_MSG, M_VALUETYPE}, {M_PROFILE, 2, PB_MSG, M_SAMPLE},
    {M_PROFILE, 4, PB_MSG, M_LOCATION},	 {M_PROFILE, 5, PB_MSG, M_FUNCTION},
    {M_PROFILE, 6, PB_STR, 0},		 {M_PROFILE, 11, PB_MSG, M_VALUETYPE},
    {M_SAMPLE, 1, PB_PACKED, 0},	 {M_SAMPLE, 2, PB_PACKED, 0},
    {M_SAMPLE, 3, PB_MSG, M_LABEL},	 {M_LOCATION, 4, PB_MSG, M_LINE},
};

static int pb_read_varint(const uint8_t **s, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *s < end && shift < 64; shift += 7) {
		uint8_t b = *(*s)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int pb_dump(FILE *out, int msg, const uint8_t *s, const uint8_t *end, int depth)
{
	while (s < end) {
		uint64_t key, v;
		int kind = PB_VARINT, sub = 0;

		if (pb_read_varint(&s, end, &key))
			return -1;
		for (size_t i = 0; i < sizeof(pb_schema) / sizeof(pb_schema[0]); i++)
			if (pb_schema[i].msg == msg && pb_schema[i].field == (int)(key >> 3)) {
				kind = pb_schema[i].kind;
				sub = pb_schema[i].sub;
			}
		if ((key & 7) != (kind == PB_VARINT ? 0u : 2u) || pb_read_varint(&s, end, &v))
			return -1;
		fprintf(out, "%*s%d:", depth * 2, "", (int)(key >> 3));
		if (kind == PB_VARINT) {
			fprintf(out, " %llu\n", (unsigned long long)v);
			continue;
		}
		if (v > (uint64_t)(end - s))
			return -1;
		if (kind == PB_STR) {
			fprintf(out, " \"%.*s\"\n", (int)v, (const char *)s);
		} else if (kind == PB_PACKED) {
			const uint8_t *e = s + v, *q = s;
			uint64_t x;

			while (q < e && !pb_read_varint(&q, e, &x))
				fprintf(out, " %llu", (unsigned long long)x);
			fputc('\n', out);
		} else {
			fputs(" {\n", out);
			if (pb_dump(out, sub, s, s + v, depth + 1))
				return -1;
			fprintf(out, "%*s}\n", depth * 2, "");
		}
		s += v;
	}
	return 0;
}

static void pprof_golden(const char *name, const struct report_opts *o)
{
	struct profile *p = pool_profile();
	size_t len, cap = 1 << 20;
	char *gz = fixture__write(report__pprof, p, o, &len), *dump = NULL;
	uint8_t *raw = malloc(cap);
	z_stream zs = {0};
	size_t dlen = 0;
	FILE *f;

	CHECK(len > 2 && (uint8_t)gz[0] == 0x1f && (uint8_t)gz[1] == 0x8b);
	CHECK_EQ_INT(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = (uint8_t *)gz;
	zs.avail_in = len;
	zs.next_out = raw;
	zs.avail_out = cap;
	CHECK_EQ_INT(inflate(&zs, Z_FINISH), Z_STREAM_END);
	inflateEnd(&zs);
	f = open_memstream(&dump, &dlen);
	CHECK_EQ_INT(pb_dump(f, M_PROFILE, raw, raw + zs.total_out, 0), 0);
	fclose(f);
	fixture__check_golden(name, dump, dlen);
	free(dump);
	free(raw);
	free(gz);
	profile__free(p);
}

static void pprof_is_gzipped_profile_proto(void)
{
	pprof_golden("pprof_pid.txt", BY_PID);
	pprof_golden("pprof_role.txt", BY_ROLE);
	CHECK(report__format("pprof") && report__format("pprof")->binary);
}

static void chrome_has_a_track_per_thread_and_merges_runs(void)
{
	struct profile *p = pool_profile();
	size_t len, x = 0;
	char *out = fixture__write(report__chrome, p, BY_PID, &len);

	/* pid 204: 3 + 3 samples of one 4-frame stack with a gap: 2 runs of 4 events */
	for (const char *c = out; (c = strstr(c, "\"ph\":\"X\",\"pid\":204,")); c++)
		x++;
	CHECK_EQ_INT(x, 8);
	CHECK(strstr(out, "\"pid\":203,\"tid\":2031,\"name\":\"thread_name\"") != NULL);
	free(out);
	profile__free(p);
	fixture__golden("chrome.json", report__chrome, pool_profile, BY_PID);
}

UNIT_MAIN("report_formats",
	  UNIT_TEST(roles_merge_identical_workers_not_their_parent_nor_a_long_lived_sibling),
	  UNIT_TEST(roles_take_whole_token_numbers_as_equal),
	  UNIT_TEST(groups_keep_only_the_pid_asked_for),
	  UNIT_TEST(writers_match_their_golden_files), UNIT_TEST(pprof_is_gzipped_profile_proto),
	  UNIT_TEST(chrome_has_a_track_per_thread_and_merges_runs))
