/* Bounded whole-file reads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "unit.h"

static void reads_whole_proc_file(void)
{
	char *buf = NULL;
	size_t len = 0;

	CHECK_EQ_INT(file__read_all("/proc/self/status", 1 << 20, &buf, &len), 0);
	CHECK(buf && len > 100 && strlen(buf) == len && strstr(buf, "Pid:"));
	free(buf);
}

static void larger_than_max_is_refused(void)
{
	char *buf = NULL;
	size_t len = 0;

	/* /proc/self/maps of this test is a few KiB; kallsyms is MiBs. */
	CHECK_EQ_INT(file__read_all("/proc/kallsyms", 100 << 10, &buf, &len), -EFBIG);
	CHECK(buf == NULL);
}

static void missing_file(void)
{
	char *buf = NULL, small[16];
	size_t len;

	CHECK_EQ_INT(file__read_all("/no/such/file", 1024, &buf, &len), -ENOENT);
	CHECK_EQ_INT(file__read_small("/no/such/file", small, sizeof(small)), -ENOENT);
}

static void small_read_is_cut_and_terminated(void)
{
	char small[8];

	CHECK_EQ_INT(file__read_small("/proc/self/status", small, sizeof(small)), 7);
	CHECK_EQ_STR(small, "Name:\tt");
}

UNIT_MAIN("fileio", UNIT_TEST(reads_whole_proc_file), UNIT_TEST(larger_than_max_is_refused),
	  UNIT_TEST(missing_file), UNIT_TEST(small_read_is_cut_and_terminated))
