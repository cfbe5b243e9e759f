/* What the profile and report unit tests share: interning frames and stacks under a check,
 * samples 10 ms apart, running a report writer into memory, comparing its output with a
 * golden file in tests/unit/golden/ (on a mismatch the output seen is written next to the
 * golden file as NAME.seen: diff the two, and copy .seen over the golden file when the
 * change is meant), and the clock and valgrind test for the speed tests. */
#ifndef TREEPROF_FIXTURE_H
#define TREEPROF_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "profile/profile.h"
#include "report/report.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

typedef int (*fixture_writer)(const struct profile *, FILE *, const struct report_opts *);

/* The id of the frame or stack, checked to intern without error. */
uint32_t fixture__frame(struct profile *p, int kind, const char *name, const char *file,
			uint32_t line);
uint32_t fixture__stack(struct profile *p, const uint32_t *ids, uint32_t n);
/* count samples of stack st on pid/tid, 10 ms apart from t (seconds). */
void fixture__samples(struct profile *p, pid_t pid, pid_t tid, uint32_t st, double t, int count);

/* What fn writes of p (malloc'd, *len bytes), with what it returned in *err. */
char *fixture__write_err(fixture_writer fn, const struct profile *p, const struct report_opts *o,
			 int *err, size_t *len);
/* The same, checked to return 0. */
char *fixture__write(fixture_writer fn, const struct profile *p, const struct report_opts *o,
		     size_t *len);
/* Compare seen with tests/unit/golden/NAME byte for byte; a mismatch fails the test. */
void fixture__check_golden(const char *name, const char *seen, size_t len);
/* What fn writes of the profile make() builds against the golden file name. */
void fixture__golden(const char *name, fixture_writer fn, struct profile *(*make)(void),
		     const struct report_opts *o);

/* CLOCK_MONOTONIC in seconds. */
double fixture__now(void);

#endif
