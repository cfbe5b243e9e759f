/* The commands of treeprof (one file each: cmd_record.c, cmd_live.c, cmd_top.c,
 * cmd_report.c; what record, live and top share is in cmd_trace.c). Each parses its own
 * options with argp, from argv[0] = "treeprof NAME", says what went wrong on stderr, and
 * returns the process's exit status: 0, 1 for a failure, 2 for a usage error. */
#ifndef TREEPROF_CMD_H
#define TREEPROF_CMD_H

#include <stdbool.h>
#include <stddef.h>

/* The recording record writes and report reads unless told otherwise. */
#define CMD_DEFAULT_DATA "treeprof.data"

/* cmdline: how treeprof was run, kept in a recording. */
int cmd_record(int argc, char **argv, const char *cmdline);
int cmd_live(int argc, char **argv, const char *cmdline);
int cmd_top(int argc, char **argv, const char *cmdline);
int cmd_report(int argc, char **argv, const char *cmdline);

/* A whole decimal number in [min, max]: 0, or -EINVAL (out untouched). */
int cmd__parse_long(const char *s, long min, long max, long *out);

/* An option without an argument that only sets a bool of the command's arguments: its key,
 * and the bool's offsetof() in them. */
struct cmd_flag {
	int key;
	size_t offset;
};

/* When key is one of flags (a table ended by key 0), set that bool in args and return true;
 * else false. */
bool cmd__set_flag(const struct cmd_flag *flags, int key, void *args);

#endif
