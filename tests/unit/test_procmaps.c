/* Process mappings: parsing /proc/PID/maps text and finding the mapping of an address. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "symbols/procmaps.h"
#include "unit.h"

static const char sample[] =
    "7f0000002000-7f0000003000 r-xp 00001000 fe:01 1234     /usr/lib/lib with space.so\n"
    "55550000-55551000 r--p 00000000 08:02 42   /usr/bin/prog\n"
    "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
    "garbage line\n"
    "7f0000004000-7f0000003000 r-xp 00000000 00:00 0    bad range\n"
    "7f0000010000-7f0000011000 r-xp 00000000 fe:01 99    /tmp/old.so (deleted)\n"
    "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0      [stack]\n"
    "7f0000002800-7f0000002900 r-xp 00000000 00:00 0    /overlapping\n"
    "7f0000020000-7f0000021000 r-xp 00000000 fe:01 7";

static void test_parse_fields_and_paths_with_spaces(void)
{
	/* the path of the mapping at each address: none, deleted, a pseudo-path, no path */
	static const struct {
		uint64_t addr;
		const char *path;
	} paths[] = {{0x7f0000000fffull, ""},
		     {0x7f0000010000ull, "/tmp/old.so (deleted)"},
		     {0x7ffc00020fffull, "[stack]"},
		     {0x7f0000020000ull, ""}};
	struct procmaps *pm = procmaps__parse(sample, sizeof(sample) - 1);
	const struct procmap *m;

	CHECK(pm != NULL);
	if (!pm)
		return;
	CHECK_EQ_INT(pm->n, 6);
	for (size_t i = 1; i < pm->n; i++)
		CHECK(pm->maps[i - 1].end <= pm->maps[i].start);
	m = procmaps__find(pm, 0x7f0000002abcull);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_STR(m->path, "/usr/lib/lib with space.so");
		CHECK_EQ_STR(m->perms, "r-xp");
		CHECK_EQ_INT(m->offset, 0x1000);
		CHECK_EQ_INT(m->dev_major, 0xfe);
		CHECK_EQ_INT(m->dev_minor, 1);
		CHECK_EQ_INT(m->inode, 1234);
	}
	m = procmaps__find(pm, 0x55550000);
	CHECK(m && !strcmp(m->path, "/usr/bin/prog") && m->dev_major == 8 && m->inode == 42);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		m = procmaps__find(pm, paths[i].addr);
		CHECK(m != NULL);
		if (m)
			CHECK_EQ_STR(m->path, paths[i].path);
	}
	procmaps__free(pm);
}

static void test_find_bounds_are_half_open(void)
{
	struct procmaps *pm = procmaps__parse(sample, sizeof(sample) - 1);

	CHECK(pm != NULL);
	if (!pm)
		return;
	CHECK(procmaps__find(pm, 0x55550000 - 1) == NULL);
	CHECK(procmaps__find(pm, 0x55551000 - 1) != NULL);
	CHECK(procmaps__find(pm, 0x55551000) == NULL);
	CHECK(procmaps__find(pm, 0x7f0000003000ull) == NULL);
	CHECK(procmaps__find(pm, 0) == NULL);
	CHECK(procmaps__find(pm, UINT64_MAX) == NULL);
	CHECK(procmaps__find(NULL, 1) == NULL);
	procmaps__free(pm);
	pm = procmaps__parse("", 0);
	CHECK(pm != NULL && pm->n == 0);
	CHECK(procmaps__find(pm, 1) == NULL);
	procmaps__free(pm);
	procmaps__free(NULL);
}

static void test_load_self_finds_own_code_and_stack_memory(void)
{
	struct procmaps *pm = procmaps__load(getpid());
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const struct procmap *m;
	int local = 0;

	CHECK(pm != NULL);
	CHECK(n > 0);
	if (!pm || n <= 0)
		return;
	exe[n] = '\0';
	CHECK(pm->n > 5);
	m = procmaps__find(pm, (uint64_t)(uintptr_t)test_load_self_finds_own_code_and_stack_memory);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_STR(m->path, exe);
		CHECK(m->perms[2] == 'x');
		CHECK(m->inode != 0);
	}
	m = procmaps__find(pm, (uint64_t)(uintptr_t)&local);
	CHECK(m != NULL); /* "[stack]", but valgrind runs us on a stack of its own */
	if (m)
		CHECK(m->perms[0] == 'r' && m->perms[1] == 'w');
	procmaps__free(pm);
}

static void test_load_missing_pid_fails_with_enoent(void)
{
	errno = 0;
	CHECK(procmaps__load(999999999) == NULL);
	CHECK_EQ_INT(errno, ENOENT);
}

UNIT_MAIN("procmaps", UNIT_TEST(test_parse_fields_and_paths_with_spaces),
	  UNIT_TEST(test_find_bounds_are_half_open),
	  UNIT_TEST(test_load_self_finds_own_code_and_stack_memory),
	  UNIT_TEST(test_load_missing_pid_fails_with_enoent))
