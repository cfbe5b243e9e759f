// SPDX-License-Identifier: GPL-2.0
/* treeprof report: a recording (or the comparison of two) in one of the report formats. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/outfile.h"
#include "profile/datafile.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_diff.h"

enum {
	OPT_MERGE = 1000,
	OPT_FORMAT,
	OPT_PID,
	OPT_TOP,
	OPT_ALL,
	OPT_GROUP,
	OPT_METRIC,
	OPT_DIFF,
	OPT_ABSOLUTE,
	OPT_STRIP,
};

struct report_args {
	const char *input;
	const char *output; /* -o, or "-": standard output */
	const char *format;
	struct report_opts r;
	const char *diff;      /* --diff OLD */
	bool group_set;	       /* --group-by given */
	const char *strip[16]; /* --strip-prefix */
};

static const struct argp_option report_options[] = {
    {"format", OPT_FORMAT, "FMT", 0,
     "text (default), folded, json, pprof, speedscope, chrome (trace events), html"},
    {"output", 'o', "FILE", 0,
     "Write to FILE instead of standard output (a file is replaced once the report is "
     "complete; a device, FIFO or socket is written in place; - is standard output)"},
    {"group-by", OPT_GROUP, "HOW", 0, "pid (default), role (same command line), none"},
    {"metric", OPT_METRIC, "METRIC", 0,
     "cpu (default), alloc_bytes, alloc_count, live_bytes (leaks), peak_bytes"},
    {"pid", OPT_PID, "PID", 0, "Only this process"},
    {"merge", OPT_MERGE, NULL, 0, "folded: merge processes (no leading process frame)"},
    {"top", OPT_TOP, "N", 0, "text: functions per top list (default 15)"},
    {"all", OPT_ALL, NULL, 0,
     "text: list every process; by default two or more short-lived helpers (exit 0 within "
     "2 s, under 0.5% or 2 samples each, no memory events) share one row"},
    {"diff", OPT_DIFF, "OLD", 0,
     "Compare with the older recording OLD: roles matched across runs (default --group-by "
     "role), shares of each run; not in pprof, speedscope, chrome"},
    {"absolute", OPT_ABSOLUTE, NULL, 0, "--diff: raw samples or bytes instead of shares"},
    {"strip-prefix", OPT_STRIP, "PREFIX", 0,
     "--diff: remove PREFIX from source paths and command lines before matching (repeatable)"},
    {}};

static const char report_doc[] =
    "Summarise a recording.\v"
    "Examples:\n"
    "  treeprof report treeprof.data\n"
    "  treeprof report treeprof.data --format folded | flamegraph.pl > cpu.svg\n"
    "  treeprof report treeprof.data --format folded --merge --pid 1234\n"
    "  treeprof report new.data --diff old.data   # what changed, by role\n"
    "  treeprof report new.data --diff old.data --format html -o diff.html\n"
    "  zstd -dc run.data.zst | treeprof report /dev/stdin";

#define NSTRIP (int)(sizeof(((struct report_args *)0)->strip) / sizeof(const char *))

static void parse_format(struct argp_state *state, const char *arg)
{
	char names[256] = "";

	if (report__format(arg))
		return;
	for (const struct report_format *f = report_formats; f->name; f++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 f == report_formats ? "" : ", ", f->name);
	argp_error(state, "unknown format '%s' (%s)", arg, names);
}

static void parse_group(struct argp_state *state, const char *arg, struct report_args *a)
{
	if (!strcmp(arg, "pid"))
		a->r.group = REPORT_GROUP_PID;
	else if (!strcmp(arg, "role"))
		a->r.group = REPORT_GROUP_ROLE;
	else if (!strcmp(arg, "none"))
		a->r.group = REPORT_GROUP_NONE;
	else
		argp_error(state, "unknown --group-by '%s' (pid, role, none)", arg);
	a->group_set = true;
}

/* The options that name or count something. */
static void parse_value_opt(struct argp_state *state, int key, char *arg, struct report_args *a)
{
	long v;

	switch (key) {
	case OPT_FORMAT:
		parse_format(state, arg);
		a->format = arg;
		break;
	case OPT_GROUP:
		parse_group(state, arg, a);
		break;
	case OPT_METRIC:
		if (metric__parse(arg) < 0)
			argp_error(state,
				   "unknown metric '%s' (cpu, alloc_bytes, alloc_count, "
				   "live_bytes, peak_bytes)",
				   arg);
		a->r.metric = arg;
		break;
	case OPT_PID:
		if (cmd__parse_long(arg, 1, INT_MAX, &v))
			argp_error(state, "invalid PID '%s'", arg);
		a->r.pid = v;
		break;
	case OPT_TOP:
		if (cmd__parse_long(arg, 1, 10000, &v))
			argp_error(state, "--top must be a whole number from 1 to 10000");
		a->r.top = v;
		break;
	case OPT_STRIP:
		if (a->r.nstrip == NSTRIP)
			argp_error(state, "at most %d --strip-prefix", NSTRIP);
		a->strip[a->r.nstrip++] = arg;
		a->r.strip_prefix = a->strip;
		break;
	}
}

static const struct cmd_flag report_flags[] = {
    {OPT_ABSOLUTE, offsetof(struct report_args, r.absolute)},
    {OPT_MERGE, offsetof(struct report_args, r.merge)},
    {OPT_ALL, offsetof(struct report_args, r.all)},
    {0}};

static error_t parse_report_opt(int key, char *arg, struct argp_state *state)
{
	struct report_args *a = state->input;

	switch (key) {
	case OPT_FORMAT:
	case OPT_GROUP:
	case OPT_METRIC:
	case OPT_PID:
	case OPT_TOP:
	case OPT_STRIP:
		parse_value_opt(state, key, arg, a);
		break;
	case OPT_DIFF:
		a->diff = arg;
		break;
	case 'o':
		a->output = arg;
		break;
	case ARGP_KEY_ARG:
		if (a->input)
			argp_error(state, "one recording at a time");
		a->input = arg;
		break;
	default: /* a flag, or not ours */
		return cmd__set_flag(report_flags, key, a) ? 0 : ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* Write the report of p (or the comparison d, when not NULL) in fmt to out: 0 or -errno. */
static int report_write(struct report_args *a, const struct report_format *fmt, struct profile *p,
			const struct report_diff *d, struct outfile *out)
{
	int fd, rc;
	FILE *f;

	fd = fcntl(outfile__fd(out), F_DUPFD_CLOEXEC, 0); /* fclose closes this one */
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		return rc;
	}
	a->r.color = !strcmp(fmt->name, "text") && isatty(fd);
	rc = d ? fmt->write_diff(d, f, &a->r) : fmt->write(p, f, &a->r);
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}

/* Write the report to -o (or standard output): 0, or 1 after one line. A file replaces the
 * old one only once complete: a failed write leaves no half report. */
static int report_output(struct report_args *a, const struct report_format *fmt, struct profile *p,
			 const struct report_diff *d)
{
	const char *name = strcmp(a->output, "-") ? a->output : "standard output";
	char err[PATH_MAX + 128];
	struct outfile *out;
	int rc;

	out = outfile__open(a->output, fmt->binary ? OUTFILE_BINARY : 0, err, sizeof(err));
	if (!out) {
		fprintf(stderr, "treeprof: %s\n", err);
		return 1;
	}
	rc = report_write(a, fmt, p, d, out);
	if (!rc)
		rc = outfile__commit(out);
	if (rc)
		outfile__abort(out);
	else
		rc = outfile__close(out);
	if (rc)
		fprintf(stderr, "treeprof: writing %s: %s\n", name, strerror(-rc));
	return rc ? 1 : 0;
}

/* The recording at path, or NULL after one line on stderr; checked for the report. */
static struct profile *report_read(struct report_args *a, const char *path)
{
	char err[PATH_MAX + 128];
	int truncated = 0;
	struct profile *p;

	p = datafile__read(path, err, sizeof(err), &truncated);
	if (!p) {
		fprintf(stderr, "treeprof: %s: %s\n", path, err);
		return NULL;
	}
	if (truncated)
		fprintf(stderr, "treeprof: %s: recording was cut short; showing what it holds\n",
			path);
	if (a->r.pid && !profile__proc_find(p, a->r.pid)) {
		fprintf(stderr, "treeprof: process %d is not in %s\n", a->r.pid, path);
		profile__free(p);
		return NULL;
	}
	if (report__check(p, &a->r, err, sizeof(err))) {
		fprintf(stderr, "treeprof: %s: %s\n", path, err);
		profile__free(p);
		return NULL;
	}
	return p;
}

/* What --diff cannot do, said before anything is read: 0, or 1 after one line. */
static int diff_refused(struct report_args *a, const struct report_format *fmt)
{
	if (!a->diff) {
		if (a->r.absolute || a->r.nstrip)
			fprintf(stderr, "treeprof: --absolute and --strip-prefix go with --diff\n");
		return a->r.absolute || a->r.nstrip;
	}
	if (!fmt->write_diff) {
		char names[128] = "";

		for (const struct report_format *f = report_formats; f->name; f++)
			if (f->write_diff)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s%s", *names ? ", " : "", f->name);
		fprintf(stderr, "treeprof: --diff writes %s, not %s\n", names, fmt->name);
	} else if (a->group_set && a->r.group == REPORT_GROUP_PID)
		fprintf(stderr, "treeprof: --diff cannot use --group-by pid: process ids differ "
				"between runs; use role (the default) or none\n");
	else if (a->r.pid)
		fprintf(stderr, "treeprof: --diff compares whole trees: use --group-by role "
				"instead of --pid\n");
	else
		return 0;
	return 1;
}

static int run_report(struct report_args *a)
{
	const struct report_format *fmt = report__format(a->format ? a->format : "text");
	struct profile *p, *old = NULL;
	struct report_diff *d = NULL;
	int rc = 1;

	if (diff_refused(a, fmt))
		return 1;
	if (a->diff && !a->group_set)
		a->r.group = REPORT_GROUP_ROLE;
	p = report_read(a, a->input);
	if (!p)
		return 1;
	if (a->diff) {
		old = report_read(a, a->diff);
		if (!old)
			goto out;
		d = report_diff__new(old, p, &a->r);
		if (!d) {
			fprintf(stderr, "treeprof: comparing %s with %s: %s\n", a->input, a->diff,
				strerror(errno));
			goto out;
		}
	}
	rc = report_output(a, fmt, p, d);
out:
	report_diff__free(d);
	profile__free(old);
	profile__free(p);
	return rc;
}

int cmd_report(int argc, char **argv, const char *cmdline)
{
	struct argp argp = {.options = report_options,
			    .parser = parse_report_opt,
			    .args_doc = "[FILE]",
			    .doc = report_doc};
	struct report_args a = {.output = "-", .r.top = 15};

	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &a))
		return 2;
	if (!a.input)
		a.input = CMD_DEFAULT_DATA;
	return run_report(&a);
}
