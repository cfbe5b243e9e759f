#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

int unit_failed_checks;

void unit_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("  ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unit_failed_checks++;
}

int unit_main(const char *suite, const struct unit_test *tests, int n)
{
	int passed = 0, failed = 0;

	for (int i = 0; i < n; i++) {
		int before = unit_failed_checks;

		tests[i].fn();
		if (unit_failed_checks == before) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL %s.%s\n", suite, tests[i].name);
		}
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

uint64_t unit_rand(void)
{
	static uint64_t state = 0x9e3779b97f4a7c15ULL;

	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static char tmp_dir[] = "/tmp/treeprof-unit-XXXXXX";

const char *unit_tmp_dir(void)
{
	static bool made;

	if (!made) {
		if (!mkdtemp(tmp_dir))
			unit_fail("%s:%d: mkdtemp(%s) failed", __FILE__, __LINE__, tmp_dir);
		made = true;
	}
	return tmp_dir;
}

const char *unit_tmp(const char *name)
{
	static char path[16][256];
	static int next;
	char *p = path[next++ % 16];

	snprintf(p, sizeof(path[0]), "%s/%s", unit_tmp_dir(), name);
	return p;
}

void unit_tmp_remove(const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unlink(unit_tmp(names[i]));
	if (rmdir(unit_tmp_dir()))
		unit_fail("%s:%d: rmdir(%s) failed", __FILE__, __LINE__, tmp_dir);
}
