// SPDX-License-Identifier: GPL-2.0
/* treeprof top: a refreshing view of a process tree on standard output. */
#include <errno.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_trace.h"
#include "ui/top.h"

enum { OPT_INTERVAL = OPT_VIEW };

static const struct argp_option top_options[] = {
    {"interval", OPT_INTERVAL, "S", 0, "Refresh every S seconds (default 1)"}, {}};

static const char top_doc[] =
    "A refreshing view of a whole process tree: CPU per process, hottest functions.\v"
    "Keys: j/k or arrows select a process, Enter shows its functions, t the whole tree, "
    "s cycles the sort (cpu, pid, name), q quits. Not on a terminal: plain snapshots.\n\n"
    "Examples:\n"
    "  sudo treeprof top -p 1234\n"
    "  sudo treeprof top -F 999 --interval 2 -- python3 app.py";

static error_t parse_top_opt(int key, char *arg, struct argp_state *state)
{
	if (key != OPT_INTERVAL)
		return ARGP_ERR_UNKNOWN;
	cmd_trace__interval(state, arg);
	return 0;
}

static void *top_open(const struct trace_args *a, uint64_t start_ns, struct tracer_sink *sink)
{
	struct top_opts to = {
	    .fd = STDOUT_FILENO, .interval = a->interval, .freq = a->t.freq, .start_ns = start_ns};
	struct top *t = top__new(&to);

	if (t)
		top__sink(t, sink);
	return t;
}

static void top_started(void *v, struct tracer *t)
{
	top__set_tracer(v, t);
}

static void top_stop(void *v)
{
	top__finish(v);
}

/* Restores the terminal: before anything else is said. */
static void top_free(void *v)
{
	top__free(v);
}

static const struct trace_view top_view = {
    .keep_samples = true,
    .argp = {.options = top_options, .parser = parse_top_opt},
    .header = "Top view:",
    .open = top_open,
    .started = top_started,
    .stop = top_stop,
    .free = top_free};

int cmd_top(int argc, char **argv, const char *cmdline)
{
	return cmd_trace__main(argc, argv, cmdline, top_doc, &top_view);
}
