// SPDX-License-Identifier: GPL-2.0
/* treeprof live: each sample of a process tree as it arrives, on standard output. */
#include <errno.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_trace.h"
#include "ui/live.h"

enum { OPT_JSON = OPT_VIEW, OPT_EVERY, OPT_INTERVAL };

static const struct argp_option live_options[] = {
    {"json", OPT_JSON, NULL, 0, "JSON Lines: an object per sample and process event"},
    {"every", OPT_EVERY, "N", 0, "One aggregate line per N samples instead of each sample"},
    {"interval", OPT_INTERVAL, "S", 0, "One aggregate line every S seconds instead of each sample"},
    {}};

static const char live_doc[] = "Print each sample of a whole process tree as it arrives.\v"
			       "Examples:\n"
			       "  sudo treeprof live -p 1234\n"
			       "  sudo treeprof live -F 20 -- python3 app.py\n"
			       "  sudo treeprof live --json -o run.data -p 1234 > samples.jsonl\n"
			       "  sudo treeprof live --interval 2 -F 999 -p 1234";

static error_t parse_live_opt(int key, char *arg, struct argp_state *state)
{
	struct trace_args *a = state->input;
	long v;

	switch (key) {
	case OPT_JSON:
		a->json = true;
		break;
	case OPT_EVERY:
		if (cmd__parse_long(arg, 1, 1000000000, &v))
			argp_error(state, "--every must be a whole number of samples, not '%s'",
				   arg);
		a->every = v;
		break;
	case OPT_INTERVAL:
		cmd_trace__interval(state, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void *live_open(const struct trace_args *a, uint64_t start_ns, struct tracer_sink *sink)
{
	struct live_opts lo = {.fd = STDOUT_FILENO,
			       .start_ns = start_ns,
			       .json = a->json,
			       .every = a->every,
			       .interval = a->interval,
			       .mem = a->t.mem};
	struct live *l = live__new(&lo);

	if (l)
		live__sink(l, sink);
	return l;
}

static int live_finish(void *v)
{
	return live__finish(v);
}

static void live_free(void *v)
{
	live__free(v);
}

static const struct trace_view live_view = {
    .argp = {.options = live_options, .parser = parse_live_opt},
    .header = "Live output:",
    .open = live_open,
    .finish = live_finish,
    .free = live_free};

int cmd_live(int argc, char **argv, const char *cmdline)
{
	return cmd_trace__main(argc, argv, cmdline, live_doc, &live_view);
}
