/* Minimal unit-test harness: each test is a function; CHECK records a failure with the
 * expression, the file and line, and what was expected versus seen. unit_main() runs the
 * tests and prints "N passed, N failed" as its last line. */
#ifndef TREEPROF_UNIT_H
#define TREEPROF_UNIT_H

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

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(seen, expected)                                                               \
	do {                                                                                       \
		long long _s = (long long)(seen), _e = (long long)(expected);                      \
		if (_s != _e) {                                                                    \
			fprintf(stderr, "  %s:%d: %s: expected %lld, saw %lld\n", __FILE__,        \
				__LINE__, #seen, _e, _s);                                          \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(seen, expected)                                                               \
	do {                                                                                       \
		const char *_s = (seen), *_e = (expected);                                         \
		if (!_s || !_e || strcmp(_s, _e) != 0) {                                           \
			fprintf(stderr, "  %s:%d: %s: expected \"%s\", saw \"%s\"\n", __FILE__,    \
				__LINE__, #seen, _e ? _e : "(null)", _s ? _s : "(null)");          \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

int unit_main(const char *suite, const struct unit_test *tests, int n);

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
