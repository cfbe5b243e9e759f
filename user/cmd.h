/* The commands of treeprof (one file each: cmd_record.c, cmd_live.c, cmd_top.c,
 * cmd_report.c; what record, live and top share is in cmd_trace.c). Each parses its own
 * options with argp, from argv[0] = "treeprof NAME", says what went wrong on stderr, and
 * returns the process's exit status: 0, 1 for a failure, 2 for a usage error. */
#ifndef TREEPROF_CMD_H
#define TREEPROF_CMD_H

/* The recording record writes and report reads unless told otherwise. */
#define CMD_DEFAULT_DATA "treeprof.data"

/* cmdline: how treeprof was run, kept in a recording. */
int cmd_record(int argc, char **argv, const char *cmdline);
int cmd_live(int argc, char **argv, const char *cmdline);
int cmd_top(int argc, char **argv, const char *cmdline);
int cmd_report(int argc, char **argv, const char *cmdline);

/* A whole decimal number in [min, max]: 0, or -EINVAL (out untouched). */
int cmd__parse_long(const char *s, long min, long max, long *out);

#endif
