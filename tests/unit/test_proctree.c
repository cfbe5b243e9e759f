/* /proc parsing. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "trace/proctree.h"
#include "unit.h"

static void stat_with_spaces_and_parens_in_comm(void)
{
	const char *text = "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 "
			   "1 0 123456 1000 10 18446744073709551615\n";
	unsigned long long start = 0;
	unsigned long flags = 0;
	pid_t ppid = 0;

	CHECK_EQ_INT(proc_parse_stat(text, &ppid, &flags, &start), 0);
	CHECK_EQ_INT(ppid, 17);
	CHECK_EQ_INT(flags, 4194560);
	CHECK_EQ_INT(start, 123456);
}

static void stat_malformed(void)
{
	pid_t ppid;

	CHECK_EQ_INT(proc_parse_stat("", &ppid, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(proc_parse_stat("12 (x)", &ppid, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(proc_parse_stat("12 (x) S 1 2 3", &ppid, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(proc_parse_stat("12 no parens S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
				     "19 20",
				     &ppid, NULL, NULL),
		     -EINVAL);
}

static void self_is_a_user_process_with_our_parent(void)
{
	char *cmd = proc_read_cmdline(getpid()), *exe = proc_read_exe(getpid());
	char comm[32];

	CHECK_EQ_INT(proc_read_ppid(getpid()), getppid());
	CHECK_EQ_INT(proc_check_target(getpid()), 0);
	CHECK(cmd && strstr(cmd, "test_proctree"));
	CHECK(exe && strstr(exe, "test_proctree"));
	proc_read_comm(getpid(), comm, sizeof(comm));
	CHECK_EQ_STR(comm, "test_proctree");
	CHECK(proc_start_ns(getpid()) > 0);
	free(cmd);
	free(exe);
}

static void kernel_thread_and_missing_pid(void)
{
	CHECK_EQ_INT(proc_check_target(2), -EINVAL); /* kthreadd */
	CHECK_EQ_INT(proc_check_target(0), -ESRCH);
	CHECK_EQ_INT(proc_check_target(0x3fffffff), -ESRCH);
}

static void scan_lists_self_with_parent(void)
{
	struct proc_list *pl = proc_list__scan();
	int found = 0;

	CHECK(pl != NULL);
	for (size_t i = 0; pl && i < pl->n; i++)
		if (pl->ents[i].pid == getpid() && pl->ents[i].ppid == getppid())
			found = 1;
	CHECK(found);
	proc_list__free(pl);
}

UNIT_MAIN("proctree", UNIT_TEST(stat_with_spaces_and_parens_in_comm), UNIT_TEST(stat_malformed),
	  UNIT_TEST(self_is_a_user_process_with_our_parent),
	  UNIT_TEST(kernel_thread_and_missing_pid), UNIT_TEST(scan_lists_self_with_parent))
