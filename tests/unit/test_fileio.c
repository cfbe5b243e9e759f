/* Bounded whole-file reads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fileio.h"
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

/* A stream longer than one read (and than the first buffer), read to its end. */
static void reads_a_pipe_to_its_end(void)
{
	static char chunk[100000];
	char *buf = NULL;
	size_t len = 0;
	int p[2];

	memset(chunk, 'x', sizeof(chunk));
	CHECK_EQ_INT(pipe(p), 0);
	if (fork() == 0) {
		close(p[0]);
		for (int i = 0; i < 3; i++)
			if (write(p[1], chunk, sizeof(chunk)) != sizeof(chunk))
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	CHECK_EQ_INT(file__read_fd(p[0], 1 << 20, &buf, &len), 0);
	CHECK_EQ_INT(len, 3 * sizeof(chunk));
	CHECK(buf && buf[len] == 0 && buf[len - 1] == 'x');
	close(p[0]);
	wait(NULL);
	free(buf);
}

static void small_read_is_cut_and_terminated(void)
{
	char small[8];

	CHECK_EQ_INT(file__read_small("/proc/self/status", small, sizeof(small)), 7);
	CHECK_EQ_STR(small, "Name:\tt");
}

UNIT_MAIN("fileio", UNIT_TEST(reads_whole_proc_file), UNIT_TEST(larger_than_max_is_refused),
	  UNIT_TEST(missing_file), UNIT_TEST(reads_a_pipe_to_its_end),
	  UNIT_TEST(small_read_is_cut_and_terminated))
