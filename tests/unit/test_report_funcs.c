/* Functions (report_funcs.h): frames of one kind, name and file are one function whatever
 * their line, numbered in the order of their first frame, mapped again as a growing profile
 * interns frames, and named by one label that the text report and top both show. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "profile/profile.h"
#include "report/report.h"
#include "report/report_funcs.h"
#include "trace/tracer.h"
#include "ui/top.h"
#include "fixture.h"
#include "unit.h"

static void frames_differing_only_by_line_are_one_function(void)
{
	struct profile *p = profile__new();
	struct report_funcs rf;
	uint32_t a5, a9, other_file, native, kernel, no_file, empty_file;

	a5 = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/pool.py", 5);
	a9 = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/pool.py", 9);
	other_file = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/other.py", 5);
	native = fixture__frame(p, FRAME_NATIVE, "crunch", "/srv/app/pool.py", 0);
	kernel = fixture__frame(p, FRAME_KERNEL, "crunch", NULL, 0);
	no_file = fixture__frame(p, FRAME_NATIVE, "memcpy", NULL, 0);
	empty_file = fixture__frame(p, FRAME_NATIVE, "memcpy", "", 0);
	CHECK_EQ_INT(report_funcs__init(&rf), 0);
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0);
	CHECK_EQ_INT(report_funcs__count(&rf), 5);
	CHECK_EQ_INT(report_funcs__nframes(&rf), 7);
	CHECK_EQ_INT(report_funcs__of(&rf, a5), report_funcs__of(&rf, a9));
	CHECK(report_funcs__of(&rf, other_file) != report_funcs__of(&rf, a5));
	CHECK(report_funcs__of(&rf, native) != report_funcs__of(&rf, a5));
	CHECK(report_funcs__of(&rf, kernel) != report_funcs__of(&rf, native));
	/* no file and an empty one alike */
	CHECK_EQ_INT(report_funcs__of(&rf, no_file), report_funcs__of(&rf, empty_file));
	CHECK_EQ_INT(report_funcs__fmap(&rf)[a9], report_funcs__of(&rf, a9));
	report_funcs__fini(&rf);
	profile__free(p);
}

static void functions_are_numbered_by_first_frame_and_labelled_as_every_format(void)
{
	struct profile *p = profile__new();
	struct report_funcs rf;
	char buf[256];

	fixture__frame(p, FRAME_PYTHON, "serve", "/srv/app/pool.py", 30);
	fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/pool.py", 5);
	fixture__frame(p, FRAME_PYTHON, "serve", "/srv/app/pool.py", 31);
	fixture__frame(p, FRAME_NATIVE, "[unknown]", "/usr/lib/libc.so.6", 0);
	fixture__frame(p, FRAME_KERNEL, "do_syscall_64", NULL, 0);
	report_funcs__init(&rf);
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0);
	CHECK_EQ_INT(report_funcs__count(&rf), 4);
	for (uint32_t f = 0; f < report_funcs__count(&rf); f++)
		CHECK_EQ_STR(report_funcs__label(&rf, f),
			     report__func_label(p, report_funcs__frame(&rf, f), buf, sizeof(buf)));
	CHECK_EQ_STR(report_funcs__label(&rf, 0), "serve (/srv/app/pool.py)");
	CHECK_EQ_INT(report_funcs__frame(&rf, 0), 0);
	CHECK_EQ_STR(report_funcs__label(&rf, 1), "crunch (/srv/app/pool.py)");
	CHECK_EQ_INT(report_funcs__frame(&rf, 1), 1);
	CHECK_EQ_INT(report_funcs__of(&rf, 2), 0);
	CHECK_EQ_STR(report_funcs__label(&rf, 2), "[unknown] (libc.so.6)");
	CHECK_EQ_STR(report_funcs__label(&rf, 3), "do_syscall_64_[k]");
	report_funcs__fini(&rf);
	profile__free(p);
}

static void an_update_maps_the_frames_interned_since_and_keeps_the_numbers(void)
{
	struct profile *p = profile__new();
	struct report_funcs rf;
	uint32_t serve, crunch, late, serve_late;

	serve = fixture__frame(p, FRAME_PYTHON, "serve", "/srv/app/pool.py", 30);
	crunch = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/pool.py", 5);
	report_funcs__init(&rf);
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0);
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0); /* nothing new: nothing changes */
	CHECK_EQ_INT(report_funcs__count(&rf), 2);
	late = fixture__frame(p, FRAME_PYTHON, "steady", "/srv/app/pool.py", 8);
	serve_late = fixture__frame(p, FRAME_PYTHON, "serve", "/srv/app/pool.py", 33);
	CHECK_EQ_INT(report_funcs__nframes(&rf), 2); /* not mapped until the next update */
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0);
	CHECK_EQ_INT(report_funcs__nframes(&rf), 4);
	CHECK_EQ_INT(report_funcs__count(&rf), 3);
	CHECK_EQ_INT(report_funcs__of(&rf, serve), 0);
	CHECK_EQ_INT(report_funcs__of(&rf, crunch), 1);
	CHECK_EQ_INT(report_funcs__of(&rf, late), 2);
	CHECK_EQ_INT(report_funcs__of(&rf, serve_late), 0);
	CHECK_EQ_STR(report_funcs__label(&rf, 2), "steady (/srv/app/pool.py)");
	report_funcs__fini(&rf);
	/* fini leaves it empty and usable */
	CHECK_EQ_INT(report_funcs__count(&rf), 0);
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0);
	CHECK_EQ_INT(report_funcs__count(&rf), 3);
	report_funcs__fini(&rf);
	profile__free(p);
}

/* Many functions under a table that grows, each found again by all of its lines. */
static void many_functions_map_through_growth(void)
{
	struct profile *p = profile__new();
	struct report_funcs rf;
	char name[32];

	for (uint32_t line = 1; line <= 3; line++)
		for (int i = 0; i < 5000; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			fixture__frame(p, FRAME_PYTHON, name, "/srv/app/big.py", line);
		}
	report_funcs__init(&rf);
	CHECK_EQ_INT(report_funcs__update(&rf, p), 0);
	CHECK_EQ_INT(report_funcs__count(&rf), 5000);
	for (uint32_t id = 0; id < profile__nframes(p); id++)
		if (report_funcs__of(&rf, id) != id % 5000) {
			unit_fail("frame %u: function %u, expected %u", id,
				  report_funcs__of(&rf, id), id % 5000);
			break;
		}
	report_funcs__fini(&rf);
	profile__free(p);
}

/* top's FUNCTION pane (plain snapshot) and the text report show one label per function. */
static void top_and_the_text_report_name_a_function_alike(void)
{
	struct profile *p = profile__new();
	const char *path = unit_tmp("top");
	uint32_t mod, cr, st;
	struct tracer_sink sink;
	struct top *t;
	char *text, shot[8192];
	ssize_t n;
	int fd;

	mod = fixture__frame(p, FRAME_PYTHON, "<module>", "/srv/app/pool.py", 50);
	cr = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/pool.py", 5);
	st = fixture__frame(p, FRAME_PYTHON, "crunch", "/srv/app/pool.py", 7);
	profile__proc_start(p, 100, 1, 0, "python3", "python3 /srv/app/pool.py",
			    "/usr/bin/python3");
	fixture__samples(p, 100, 100, fixture__stack(p, (uint32_t[]){mod, cr}, 2), 0.5, 10);
	fixture__samples(p, 100, 100, fixture__stack(p, (uint32_t[]){mod, st}, 2), 0.7, 10);

	text = fixture__write(report__text, p, &(struct report_opts){0}, NULL);
	CHECK(text && strstr(text, "crunch (/srv/app/pool.py)"));

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	t = top__new(&(struct top_opts){.fd = fd, .interval = 1, .freq = 99});
	CHECK(t != NULL);
	if (t) {
		top__sink(t, &sink);
		sink.on_poll(sink.ctx, p);
		top__finish(t); /* not a terminal: the last snapshot */
		top__free(t);
	}
	n = pread(fd, shot, sizeof(shot) - 1, 0);
	CHECK(n > 0);
	shot[n > 0 ? n : 0] = 0;
	close(fd);
	if (!strstr(shot, "100.0%  crunch (/srv/app/pool.py)\n"))
		unit_fail("top: no row \"crunch (/srv/app/pool.py)\" at 100%% in:\n%s", shot);
	free(text);
	unit_tmp_remove((const char *const[]){"top"}, 1);
	profile__free(p);
}

UNIT_MAIN("report_funcs", UNIT_TEST(frames_differing_only_by_line_are_one_function),
	  UNIT_TEST(functions_are_numbered_by_first_frame_and_labelled_as_every_format),
	  UNIT_TEST(an_update_maps_the_frames_interned_since_and_keeps_the_numbers),
	  UNIT_TEST(many_functions_map_through_growth),
	  UNIT_TEST(top_and_the_text_report_name_a_function_alike))
