/* Functions (report_funcs.h): frames of one kind, name and file are one function whatever
 * their line, numbered in the order of their first frame, mapped again as a growing profile
 * interns frames, and named by report__func_label(). */
#include <stdlib.h>

#include "profile/profile.h"
#include "report/report.h"
#include "report/report_funcs.h"
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

UNIT_MAIN("report_funcs", UNIT_TEST(frames_differing_only_by_line_are_one_function),
	  UNIT_TEST(functions_are_numbered_by_first_frame_and_labelled_as_every_format),
	  UNIT_TEST(an_update_maps_the_frames_interned_since_and_keeps_the_numbers),
	  UNIT_TEST(many_functions_map_through_growth))
