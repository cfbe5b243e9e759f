/* Minimal unit-test harness: each test is a function; CHECK records a failure with the
 * expression, the file and line, and what was expected versus seen. unit_main() runs the
 * tests and prints "N passed, N failed" as its last line. Also a fixed random sequence and a
 * temporary directory for the tests that need them. */
#ifndef TREEPROF_UNIT_H
#define TREEPROF_UNIT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

extern int unit_failed_checks;

/* 1 in the AddressSanitizer build (make unit-san): timings and memory limits mean nothing
 * there, and ASan's own malloc, free and string functions replace libc's. */
#if defined(__SANITIZE_ADDRESS__)
#define UNIT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_SANITIZED 1
#endif
#endif
#ifndef UNIT_SANITIZED
#define UNIT_SANITIZED 0
#endif

/* Record one failed check: print "  " and the message (printf format; the newline is
 * added) to stderr and count it, so the running test is reported as failed. For checks the
 * macros below do not cover. */
void unit_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			unit_fail("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);           \
	} while (0)

#define CHECK_EQ_INT(seen, expected)                                                               \
	do {                                                                                       \
		long long _s = (long long)(seen), _e = (long long)(expected);                      \
		if (_s != _e)                                                                      \
			unit_fail("%s:%d: %s: expected %lld, saw %lld", __FILE__, __LINE__, #seen, \
				  _e, _s);                                                         \
	} while (0)

#define CHECK_EQ_STR(seen, expected)                                                               \
	do {                                                                                       \
		const char *_s = (seen), *_e = (expected);                                         \
		if (!_s || !_e || strcmp(_s, _e) != 0)                                             \
			unit_fail("%s:%d: %s: expected \"%s\", saw \"%s\"", __FILE__, __LINE__,    \
				  #seen, _e ? _e : "(null)", _s ? _s : "(null)");                  \
	} while (0)

int unit_main(const char *suite, const struct unit_test *tests, int n);

/* A xorshift64 sequence, the same in every run (each test binary starts it afresh). */
uint64_t unit_rand(void);

/* The path of name in a directory of this run's own under /tmp, made on first use (the last
 * 16 paths stay valid); unit_tmp_remove() unlinks the names given and checks that the
 * directory is then empty, removing it. */
const char *unit_tmp(const char *name);
const char *unit_tmp_dir(void);
void unit_tmp_remove(const char *const *names, size_t n);

#define UNIT_MAIN(suite, ...)                                                                      \
	int main(void)                                                                             \
	{                                                                                          \
		static const struct unit_test tests[] = {__VA_ARGS__};                             \
		return unit_main(suite, tests, sizeof(tests) / sizeof(tests[0]));                  \
	}
#define UNIT_TEST(fn)                                                                              \
	{                                                                                          \
#fn, fn                                                                            \
	}

#endif
