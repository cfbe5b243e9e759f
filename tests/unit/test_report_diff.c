/* Comparing two runs (report --diff): roles lined up across runs, frames matched after
 * --strip-prefix, shares and their differences, and each diff writer against golden files
 * in tests/unit/golden/ (on a mismatch the output seen is written as NAME.seen). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"
#include "fixture.h"
#include "unit.h"

/* A pool run: a parent serving (10 samples), nworkers forked workers each crunching
 * `crunch` samples and doing 4 samples of steady work, and a helper exec'd by the first
 * worker (old: gzip) or by the parent (new: sh). Sources live under root. */
static struct profile *pool_run(bool new, const char *root, int nworkers, int crunch)
{
	struct profile *p = profile__new();
	char cmd[128], file[128];
	uint32_t mod, serve, work, cr, steady, gz, s[4];
	pid_t base = new ? 200 : 100;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %sapp/pool.py", root);
	snprintf(file, sizeof(file), "%sapp/pool.py", root);
	profile__set_meta(p, "frequency", "100");
	profile__set_meta(p, "command",
			  new ? "treeprof record -- pool v2" : "treeprof record -- pool");
	mod = fixture__frame(p, FRAME_PYTHON, "<module>", file, 50);
	serve = fixture__frame(p, FRAME_PYTHON, "serve", file, 30);
	work = fixture__frame(p, FRAME_PYTHON, "Worker.run", file, 12);
	cr = fixture__frame(p, FRAME_PYTHON, "crunch", file, 5);
	steady = fixture__frame(p, FRAME_PYTHON, "steady", file, 8);
	gz = fixture__frame(p, FRAME_NATIVE, new ? "sync" : "deflate",
			    new ? "/bin/sync" : "/bin/gzip", 0);
	s[0] = fixture__stack(p, (uint32_t[]){mod, serve}, 2);
	s[1] = fixture__stack(p, (uint32_t[]){mod, work, cr}, 3);
	s[2] = fixture__stack(p, (uint32_t[]){mod, work, steady}, 3);
	s[3] = fixture__stack(p, (uint32_t[]){gz}, 1);

	profile__proc_start(p, base, 1, 0, "python3", cmd, "/usr/bin/python3");
	fixture__samples(p, base, base, s[0], 0.5, 10);
	for (int i = 1; i <= nworkers; i++) {
		profile__proc_start(p, base + i, base, 1000000000, "python3", cmd,
				    "/usr/bin/python3");
		fixture__samples(p, base + i, base + i, s[1], 1.0, crunch);
		fixture__samples(p, base + i, base + i, s[2], 1.5, 4);
		profile__proc_exit(p, base + i, 2000000000, 0);
	}
	profile__proc_start(p, base + 50, new ? base : base + 1, 1100000000, "python3", cmd,
			    "/usr/bin/python3");
	profile__proc_exec(p, base + 50, 1100000000, new ? "sh" : "gzip",
			   new ? "sh -c sync" : "gzip -9 out", new ? "/bin/sh" : "/bin/gzip");
	fixture__samples(p, base + 50, base + 50, s[3], 1.2, 2);
	profile__proc_exit(p, base + 50, 1300000000, 0);
	profile__set_stat(p, "duration_ns", new ? 3000000000 : 2500000000);
	return p;
}

static const char *const strip[] = {"/srv/", "/home/ci/"};

#define BY_ROLE                                                                                    \
	(&(struct report_opts){                                                                    \
	    .group = REPORT_GROUP_ROLE, .top = 5, .strip_prefix = strip, .nstrip = 2})
#define BY_NONE_ABS                                                                                \
	(&(struct report_opts){.group = REPORT_GROUP_NONE,                                         \
			       .top = 5,                                                           \
			       .absolute = true,                                                   \
			       .strip_prefix = strip,                                              \
			       .nstrip = 2})

/* old: 3 workers crunching 4 samples each; new: 4 workers crunching 8, sources moved */
static struct report_diff *pair_diff(const struct report_opts *o)
{
	struct profile *old = pool_run(false, "/srv/", 3, 4);
	struct profile *new = pool_run(true, "/home/ci/", 4, 8);
	struct report_diff *d = report_diff__new(old, new, o);

	profile__free(old);
	profile__free(new);
	return d;
}

static const struct diff_func *func(const struct report_diff *d, const char *name)
{
	for (uint32_t i = 0; i < d->nfuncs; i++)
		if (!strcmp(profile__frame_get(d->ids, d->funcs[i].frame)->name, name))
			return &d->funcs[i];
	return NULL;
}

static void roles_line_up_across_runs_with_added_and_removed(void)
{
	struct report_diff *d = pair_diff(BY_ROLE);

	CHECK(d != NULL);
	CHECK_EQ_INT(d->ngroups, 4);
	CHECK_EQ_STR(d->groups[0].label, "python3 app/pool.py");
	CHECK_EQ_INT(d->groups[0].nprocs[0], 1);
	CHECK_EQ_INT(d->groups[0].nprocs[1], 1);
	CHECK_EQ_STR(d->groups[1].label, "python3 app/pool.py #2");
	CHECK_EQ_INT(d->groups[1].parent, 0);
	CHECK_EQ_INT(d->groups[1].nprocs[0], 3);
	CHECK_EQ_INT(d->groups[1].nprocs[1], 4);
	CHECK_EQ_STR(d->groups[2].label, "sh -c sync"); /* added: new run only */
	CHECK_EQ_INT(d->groups[2].nprocs[0], 0);
	CHECK_EQ_STR(d->groups[3].label, "gzip -9 out"); /* removed: old run only */
	CHECK_EQ_INT(d->groups[3].nprocs[1], 0);
	CHECK_EQ_INT(d->groups[3].parent, 1);
	CHECK_EQ_INT(d->total[0], 36);
	CHECK_EQ_INT(d->total[1], 60);
	report_diff__free(d);
}

static void shares_compare_runs_of_different_length(void)
{
	struct report_diff *d = pair_diff(BY_ROLE);
	const struct diff_func *cr = func(d, "crunch"), *serve = func(d, "serve");

	CHECK(cr && serve);
	/* crunch: 12 of 36 samples, then 32 of 60: +20 points */
	CHECK(fabs(report_diff__delta(d, cr->self) - 20.0) < 1e-9);
	CHECK(fabs(report_diff__value(d, 0, serve->self[0]) - 100.0 * 10 / 36) < 1e-9);
	CHECK(report_diff__delta(d, serve->self) < 0); /* the same 10 samples of a larger run */
	report_diff__free(d);
}

static void frames_match_only_after_strip_prefix(void)
{
	struct report_diff *d = pair_diff(&(struct report_opts){.group = REPORT_GROUP_ROLE});
	const struct diff_func *cr;

	CHECK(d != NULL);
	/* /srv/app/pool.py and /home/ci/app/pool.py differ: two crunch functions */
	cr = func(d, "crunch");
	CHECK(cr && (!cr->self[0] || !cr->self[1]));
	report_diff__free(d);
}

static void group_none_compares_whole_trees_and_pid_is_refused(void)
{
	struct report_diff *d = pair_diff(BY_NONE_ABS);

	CHECK(d != NULL);
	CHECK_EQ_INT(d->ngroups, 1);
	CHECK_EQ_INT(d->groups[0].nprocs[0], 5);
	CHECK_EQ_INT(d->groups[0].nprocs[1], 6);
	CHECK_EQ_INT(report_diff__delta(d, func(d, "crunch")->self), 20);
	report_diff__free(d);
	errno = 0;
	CHECK(pair_diff(&(struct report_opts){.group = REPORT_GROUP_PID}) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
}

typedef int (*diff_writer)(const struct report_diff *, FILE *, const struct report_opts *);

/* The golden file of name against what fn writes; with data_only (HTML), the page's data
 * block only, so that the golden file does not change with the page around it. */
static void golden_of(const char *name, diff_writer fn, const struct report_opts *o, bool data_only)
{
	static const char open_tag[] = "<script type=\"application/json\" id=\"profile-data\">\n";
	struct report_diff *d = pair_diff(o);
	char *seen = NULL, *a, *b;
	size_t len = 0;
	FILE *f = open_memstream(&seen, &len);

	CHECK(d && f);
	CHECK_EQ_INT(fn(d, f, o), 0);
	fclose(f);
	if (data_only) {
		a = strstr(seen, open_tag);
		b = a ? strstr(a, "\n</script>") : NULL;
		CHECK(a && b);
		if (a && b) {
			a += strlen(open_tag);
			len = b + 1 - a;
			memmove(seen, a, len);
		}
	}
	fixture__check_golden(name, seen, len);
	free(seen);
	report_diff__free(d);
}

static void golden(const char *name, diff_writer fn, const struct report_opts *o)
{
	golden_of(name, fn, o, false);
}

static void text_lists_roles_then_what_grew_and_shrank(void)
{
	golden("diff_text_role.txt", report_diff__text, BY_ROLE);
	golden("diff_text_none_absolute.txt", report_diff__text, BY_NONE_ABS);
}

static void folded_has_two_counts_per_stack(void)
{
	golden("diff_folded_role.txt", report_diff__folded, BY_ROLE);
	golden("diff_folded_none_absolute.txt", report_diff__folded, BY_NONE_ABS);
}

static void json_has_both_figures_per_stack_and_group(void)
{
	golden("diff_json_role.json", report_diff__json, BY_ROLE);
}

static void html_embeds_runs_groups_frames_and_stacks(void)
{
	golden_of("diff_html_role.json", report_diff__html, BY_ROLE, true);
}

UNIT_MAIN("report_diff", UNIT_TEST(roles_line_up_across_runs_with_added_and_removed),
	  UNIT_TEST(shares_compare_runs_of_different_length),
	  UNIT_TEST(frames_match_only_after_strip_prefix),
	  UNIT_TEST(group_none_compares_whole_trees_and_pid_is_refused),
	  UNIT_TEST(text_lists_roles_then_what_grew_and_shrank),
	  UNIT_TEST(folded_has_two_counts_per_stack),
	  UNIT_TEST(json_has_both_figures_per_stack_and_group),
	  UNIT_TEST(html_embeds_runs_groups_frames_and_stacks))
