// SPDX-License-Identifier: GPL-2.0
/* record, live and top: the tracing options, and one run. A run fans the tracer's events out
 * to the view (live or top, if any) and the recording (record, or live/top with -o), which is
 * pushed to disk about once a second so a crash loses at most that. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_trace.h"
#include "lib/outfile.h"
#include "profile/datafile.h"
#include "profile/profile.h"
#include "report/report.h"
#include "trace/memtrace.h"
#include "trace/proctree.h"
#include "trace/tracer.h"

#define DEFAULT_FREQ 99
#define MAX_FREQ     10000

static const struct argp_option trace_options[] = {
    {"pid", 'p', "PID", 0, "Trace PID and all its descendants, current and future"},
    {"freq", 'F', "HZ", 0, "Samples per second per CPU (1-10000, default 99)"},
    {"duration", 'd', "SECONDS", 0, "Stop after SECONDS (default: when the tree exits or Ctrl-C)"},
    {"output", 'o', "FILE", 0,
     "Write the recording to FILE (record: default treeprof.data; live, top: none unless -o). "
     "A file is replaced once tracing has started; a device, FIFO or socket is written in "
     "place; - is standard output (the summary, the view and COMMAND's output then go "
     "to stderr)"},
    {"ringbuf-mb", OPT_RINGBUF, "MB", 0, "Sample ring buffer size in MiB (power of 2, default 8)"},
    {"native", OPT_NATIVE, NULL, 0, "Keep the interpreter's own C frames under Python frames"},
    {"quiet", 'q', NULL, 0, "record: no summary at the end"},
    {"verbose", 'v', NULL, 0, "Show libbpf's log and per-process diagnostics"},
    {"as-root", OPT_AS_ROOT, NULL, 0,
     "Under sudo, run COMMAND as root (default: as the user who ran sudo)"},
    {"mem", OPT_MEM, NULL, 0,
     "Trace allocations too: C allocator calls and anonymous mmaps of every process"},
    {"no-cpu", OPT_NO_CPU, NULL, 0, "With --mem: no CPU sampling"},
    {"mem-sample", OPT_MEM_SAMPLE, "BYTES", 0,
     "Mean bytes between allocations sampled with a stack (Poisson; default 512K; 1: every "
     "allocation). Totals are exact either way"},
    {"mem-probe", OPT_MEM_PROBE, "HOW", 0,
     "auto (default: a sampler preloaded into a launched COMMAND, uprobes with -p), uprobes, "
     "preload"},
    {}};

/* --mem-sample: bytes with an optional K or M suffix, 1 to 1T. */
static void parse_mem_sample(struct argp_state *state, const char *arg, uint64_t *out)
{
	unsigned long long b;
	char *end;

	errno = 0;
	b = strtoull(arg, &end, 10);
	if (*end == 'k' || *end == 'K')
		b <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		b <<= 20, end++;
	if (errno || end == arg || *end || arg[0] == '-' || b < 1 || b > (1ULL << 40))
		argp_error(state,
			   "--mem-sample must be a number of bytes (1 to 1T, K/M suffixes), "
			   "not '%s'",
			   arg);
	*out = b;
}

static void parse_mem_probe(struct argp_state *state, const char *arg, int *mode)
{
	if (!strcmp(arg, "auto"))
		*mode = MEM_PROBE_AUTO;
	else if (!strcmp(arg, "uprobes"))
		*mode = MEM_PROBE_UPROBES;
	else if (!strcmp(arg, "preload"))
		*mode = MEM_PROBE_PRELOAD;
	else
		argp_error(state, "unknown --mem-probe '%s' (auto, uprobes, preload)", arg);
}

/* The options that take a number. */
static void parse_number_opt(struct argp_state *state, int key, char *arg, struct trace_args *a)
{
	char *end;
	long v;

	switch (key) {
	case 'p':
		if (cmd__parse_long(arg, 1, INT_MAX, &v))
			argp_error(state, "invalid PID '%s'", arg);
		a->t.pid = v;
		break;
	case 'F':
		if (cmd__parse_long(arg, 1, MAX_FREQ, &v))
			argp_error(state, "-F must be a whole number from 1 to %d, not '%s'",
				   MAX_FREQ, arg);
		a->t.freq = v;
		break;
	case 'd':
		errno = 0;
		a->t.duration = strtod(arg, &end);
		if (errno || end == arg || *end || !(a->t.duration > 0) || a->t.duration > 1e7)
			argp_error(state, "-d must be a positive number of seconds, not '%s'", arg);
		break;
	case OPT_RINGBUF:
		if (cmd__parse_long(arg, 1, 1024, &v) || (v & (v - 1)))
			argp_error(state, "--ringbuf-mb must be a power of two from 1 to 1024");
		a->t.ringbuf_mb = v;
		break;
	case OPT_MEM_SAMPLE:
		parse_mem_sample(state, arg, &a->t.mem_rate);
		break;
	}
}

/* What the options say together, once all are read. */
static void check_trace_args(struct argp_state *state, struct trace_args *a)
{
	if (!a->t.pid && !a->t.cmd)
		argp_error(state, "say what to trace: -p PID or -- COMMAND [ARGS]");
	if (a->t.pid && a->t.cmd)
		argp_error(state, "-p and a command exclude each other");
	if (a->every && a->interval > 0)
		argp_error(state, "--every and --interval exclude each other");
	if (a->t.no_cpu && !a->t.mem)
		argp_error(state, "--no-cpu leaves nothing to trace without --mem");
	if (!a->t.mem && (a->t.mem_rate || a->t.mem_mode))
		argp_error(state, "--mem-sample and --mem-probe go with --mem");
	if (a->t.mem_mode == MEM_PROBE_PRELOAD && !a->t.cmd)
		argp_error(state, "--mem-probe preload needs a launched COMMAND, not -p");
	if (!a->t.mem_rate)
		a->t.mem_rate = 512 << 10;
}

static const struct cmd_flag trace_flags[] = {{OPT_AS_ROOT, offsetof(struct trace_args, as_root)},
					      {OPT_NATIVE, offsetof(struct trace_args, t.native)},
					      {OPT_MEM, offsetof(struct trace_args, t.mem)},
					      {OPT_NO_CPU, offsetof(struct trace_args, t.no_cpu)},
					      {'q', offsetof(struct trace_args, quiet)},
					      {'v', offsetof(struct trace_args, t.verbose)},
					      {0}};

static error_t parse_trace_opt(int key, char *arg, struct argp_state *state)
{
	struct trace_args *a = state->input;

	switch (key) {
	case 'p':
	case 'F':
	case 'd':
	case OPT_RINGBUF:
	case OPT_MEM_SAMPLE:
		parse_number_opt(state, key, arg, a);
		break;
	case 'o':
		a->output = arg;
		a->output_set = true;
		break;
	case OPT_MEM_PROBE:
		parse_mem_probe(state, arg, &a->t.mem_mode);
		break;
	case ARGP_KEY_INIT:
		if (a->view) /* the view's options (a child argp) fill these too */
			state->child_inputs[0] = a;
		break;
	case ARGP_KEY_ARG:
		/* Everything from the first operand on is the command to launch. */
		a->t.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		check_trace_args(state, a);
		break;
	default: /* a flag, or not ours */
		return cmd__set_flag(trace_flags, key, a) ? 0 : ARGP_ERR_UNKNOWN;
	}
	return 0;
}

void cmd_trace__interval(struct argp_state *state, const char *arg)
{
	struct trace_args *a = state->input;
	char *end;

	errno = 0;
	a->interval = strtod(arg, &end);
	if (errno || end == arg || *end || !(a->interval >= 0.1) || a->interval > 86400)
		argp_error(state, "--interval must be from 0.1 to 86400 seconds, not '%s'", arg);
}

int cmd_trace__main(int argc, char **argv, const char *cmdline, const char *doc,
		    const struct trace_view *view)
{
	struct trace_args a = {.view = view,
			       .cmdline = cmdline,
			       .t.freq = DEFAULT_FREQ,
			       .t.ringbuf_mb = 8,
			       .output = CMD_DEFAULT_DATA};
	struct argp_child children[] = {
	    {view ? &view->argp : NULL, 0, view ? view->header : NULL, 0}, {0}};
	struct argp argp = {.options = trace_options,
			    .parser = parse_trace_opt,
			    .args_doc = "-p PID | -- COMMAND [ARGS...]",
			    .doc = doc,
			    .children = view ? children : NULL};

	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &a))
		return 2;
	return cmd_trace__run(&a);
}
