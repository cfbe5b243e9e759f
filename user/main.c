// SPDX-License-Identifier: GPL-2.0
/* treeprof: sample whole Python process trees with eBPF.
 * main.c only parses the command line and wires the tracer, the profile and the sinks. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datafile.h"
#include "live.h"
#include "proctree.h"
#include "profile.h"
#include "report.h"
#include "report_diff.h"
#include "top.h"
#include "tracer.h"
#include "memprof.h"
#include "memtrace.h"
#include "outfile.h"

#define DEFAULT_FREQ   99
#define MAX_FREQ       10000
#define DEFAULT_OUTPUT "treeprof.data"

enum cmd { CMD_RECORD, CMD_LIVE, CMD_TOP, CMD_REPORT };

struct args {
	enum cmd cmd;
	struct tracer_opts t;
	const char *output;
	const char *input;
	const char *format;
	struct report_opts r;
	bool quiet;
	bool output_set;       /* -o given */
	bool json;	       /* live --json */
	unsigned every;	       /* live --every N */
	double interval;       /* live, top --interval S */
	char cmdline[1024];    /* how treeprof was run, for the recording */
	bool as_root;	       /* --as-root */
	const char *diff;      /* report --diff OLD */
	bool group_set;	       /* report --group-by given */
	const char *strip[16]; /* report --strip-prefix */
	bool sudo_user;	       /* run by sudo: SUDO_UID/SUDO_GID name the invoking user */
	uid_t sudo_uid;
	gid_t sudo_gid;
};

static int parse_long(const char *s, long min, long max, long *out);

/* The user sudo was invoked by, from SUDO_UID and SUDO_GID (both needed, both numbers). */
static void find_sudo_user(struct args *a)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	long uid, gid;

	if (getuid() != 0 || !u || !g || parse_long(u, 0, INT_MAX, &uid) ||
	    parse_long(g, 0, INT_MAX, &gid))
		return;
	a->sudo_user = true;
	a->sudo_uid = uid;
	a->sudo_gid = gid;
}

enum {
	OPT_RINGBUF = 1000,
	OPT_NATIVE,
	OPT_MERGE,
	OPT_FORMAT,
	OPT_PID,
	OPT_TOP,
	OPT_GROUP,
	OPT_METRIC,
	OPT_JSON,
	OPT_EVERY,
	OPT_INTERVAL,
	OPT_AS_ROOT,
	OPT_MEM,
	OPT_NO_CPU,
	OPT_MEM_SAMPLE,
	OPT_MEM_PROBE,
	OPT_DIFF,
	OPT_ABSOLUTE,
	OPT_STRIP,
};

const char *argp_program_version = "treeprof 0.1";
const char *argp_program_bug_address = NULL;

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

static const struct argp_option live_options[] = {
    {"json", OPT_JSON, NULL, 0, "JSON Lines: an object per sample and process event"},
    {"every", OPT_EVERY, "N", 0, "One aggregate line per N samples instead of each sample"},
    {"interval", OPT_INTERVAL, "S", 0, "One aggregate line every S seconds instead of each sample"},
    {}};

static const struct argp_option top_options[] = {
    {"interval", OPT_INTERVAL, "S", 0, "Refresh every S seconds (default 1)"}, {}};

static const struct argp_option report_options[] = {
    {"format", OPT_FORMAT, "FMT", 0, "text (default), folded, json, ... (see below)"},
    {"output", 'o', "FILE", 0,
     "Write to FILE instead of standard output (a file is replaced once the report is "
     "complete; a device, FIFO or socket is written in place; - is standard output)"},
    {"group-by", OPT_GROUP, "HOW", 0, "pid (default), role (same command line), none"},
    {"metric", OPT_METRIC, "METRIC", 0,
     "cpu (default), alloc_bytes, alloc_count, live_bytes (leaks), peak_bytes"},
    {"pid", OPT_PID, "PID", 0, "Only this process"},
    {"merge", OPT_MERGE, NULL, 0, "folded: merge processes (no leading process frame)"},
    {"top", OPT_TOP, "N", 0, "text: functions per top list (default 15)"},
    {"diff", OPT_DIFF, "OLD", 0,
     "Compare with the older recording OLD: roles matched across runs (default --group-by "
     "role), shares of each run; not in pprof, speedscope, chrome"},
    {"absolute", OPT_ABSOLUTE, NULL, 0, "--diff: raw samples or bytes instead of shares"},
    {"strip-prefix", OPT_STRIP, "PREFIX", 0,
     "--diff: remove PREFIX from source paths and command lines before matching (repeatable)"},
    {}};

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static error_t parse_trace_opt(int key, char *arg, struct argp_state *state)
{
	struct args *a = state->input;
	long v;
	char *end;

	switch (key) {
	case 'p':
		if (parse_long(arg, 1, INT_MAX, &v))
			argp_error(state, "invalid PID '%s'", arg);
		a->t.pid = v;
		break;
	case 'F':
		if (parse_long(arg, 1, MAX_FREQ, &v))
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
	case 'o':
		a->output = arg;
		a->output_set = true;
		break;
	case OPT_RINGBUF:
		if (parse_long(arg, 1, 1024, &v) || (v & (v - 1)))
			argp_error(state, "--ringbuf-mb must be a power of two from 1 to 1024");
		a->t.ringbuf_mb = v;
		break;
	case OPT_AS_ROOT:
		a->as_root = true;
		break;
	case OPT_NATIVE:
		a->t.native = true;
		break;
	case OPT_MEM:
		a->t.mem = true;
		break;
	case OPT_NO_CPU:
		a->t.no_cpu = true;
		break;
	case OPT_MEM_SAMPLE: {
		unsigned long long b;

		errno = 0;
		b = strtoull(arg, &end, 10);
		if (*end == 'k' || *end == 'K')
			b <<= 10, end++;
		else if (*end == 'm' || *end == 'M')
			b <<= 20, end++;
		if (errno || end == arg || *end || arg[0] == '-' || b < 1 || b > (1ULL << 40))
			argp_error(state,
				   "--mem-sample must be a number of bytes (1 to 1T, K/M "
				   "suffixes), not '%s'",
				   arg);
		a->t.mem_rate = b;
		break;
	}
	case OPT_MEM_PROBE:
		if (!strcmp(arg, "auto"))
			a->t.mem_mode = MEM_PROBE_AUTO;
		else if (!strcmp(arg, "uprobes"))
			a->t.mem_mode = MEM_PROBE_UPROBES;
		else if (!strcmp(arg, "preload"))
			a->t.mem_mode = MEM_PROBE_PRELOAD;
		else
			argp_error(state, "unknown --mem-probe '%s' (auto, uprobes, preload)", arg);
		break;
	case 'q':
		a->quiet = true;
		break;
	case 'v':
		a->t.verbose = true;
		break;
	case ARGP_KEY_INIT:
		if (a->cmd != CMD_RECORD) /* live/top options (a child argp) fill these too */
			state->child_inputs[0] = a;
		break;
	case ARGP_KEY_ARG:
		/* Everything from the first operand on is the command to launch. */
		a->t.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
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
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static error_t parse_view_opt(int key, char *arg, struct argp_state *state)
{
	struct args *a = state->input;
	char *end;
	long v;

	switch (key) {
	case OPT_JSON:
		a->json = true;
		break;
	case OPT_EVERY:
		if (parse_long(arg, 1, 1000000000, &v))
			argp_error(state, "--every must be a whole number of samples, not '%s'",
				   arg);
		a->every = v;
		break;
	case OPT_INTERVAL:
		errno = 0;
		a->interval = strtod(arg, &end);
		if (errno || end == arg || *end || !(a->interval >= 0.1) || a->interval > 86400)
			argp_error(state, "--interval must be from 0.1 to 86400 seconds, not '%s'",
				   arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static error_t parse_report_opt(int key, char *arg, struct argp_state *state)
{
	struct args *a = state->input;
	long v;

	switch (key) {
	case OPT_FORMAT:
		if (!report__format(arg)) {
			char names[256] = "";

			for (const struct report_format *f = report_formats; f->name; f++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s%s", f == report_formats ? "" : ", ", f->name);
			argp_error(state, "unknown format '%s' (%s)", arg, names);
		}
		a->format = arg;
		break;
	case OPT_GROUP:
		if (!strcmp(arg, "pid"))
			a->r.group = REPORT_GROUP_PID;
		else if (!strcmp(arg, "role"))
			a->r.group = REPORT_GROUP_ROLE;
		else if (!strcmp(arg, "none"))
			a->r.group = REPORT_GROUP_NONE;
		else
			argp_error(state, "unknown --group-by '%s' (pid, role, none)", arg);
		a->group_set = true;
		break;
	case OPT_DIFF:
		a->diff = arg;
		break;
	case OPT_ABSOLUTE:
		a->r.absolute = true;
		break;
	case OPT_STRIP:
		if (a->r.nstrip == (int)(sizeof(a->strip) / sizeof(a->strip[0])))
			argp_error(state, "at most %zu --strip-prefix",
				   sizeof(a->strip) / sizeof(a->strip[0]));
		a->strip[a->r.nstrip++] = arg;
		a->r.strip_prefix = a->strip;
		break;
	case OPT_METRIC:
		if (tp_metric_parse(arg) < 0)
			argp_error(
			    state,
			    "unknown metric '%s' (cpu, alloc_bytes, alloc_count, live_bytes, "
			    "peak_bytes)",
			    arg);
		a->r.metric = arg;
		break;
	case 'o':
		a->output = arg;
		a->output_set = true;
		break;
	case OPT_PID:
		if (parse_long(arg, 1, INT_MAX, &v))
			argp_error(state, "invalid PID '%s'", arg);
		a->r.pid = v;
		break;
	case OPT_MERGE:
		a->r.merge = true;
		break;
	case OPT_TOP:
		if (parse_long(arg, 1, 10000, &v))
			argp_error(state, "--top must be a whole number from 1 to 10000");
		a->r.top = v;
		break;
	case ARGP_KEY_ARG:
		if (a->input)
			argp_error(state, "one recording at a time");
		a->input = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char record_doc[] =
    "Record CPU samples (and with --mem, allocations) of a whole process tree.\v"
    "Examples:\n"
    "  sudo treeprof record -p 1234            # 1234 and all its descendants, until Ctrl-C\n"
    "  sudo treeprof record -F 999 -d 10 -p 1234\n"
    "  sudo treeprof record -- python3 app.py  # launch and trace from the first instruction\n"
    "  sudo treeprof record --mem -- python3 app.py\n"
    "  sudo treeprof record -o /dev/null -- python3 app.py   # the summary only\n"
    "  sudo treeprof record -o - -- python3 app.py | zstd > run.data.zst\n"
    "  treeprof report treeprof.data --metric live_bytes\n"
    "\n"
    "Cost of --mem (measured, make bench): a launched tree gets a preloaded sampler, about "
    "14 ns per malloc/free plus one probe hit (~1 us and a stack walk) per sampled block; "
    "an allocation-heavy tree ran 1.15x slower at the default --mem-sample (memray: 1.87x)."
    " With -p, uprobes on the C allocator cost ~1-1.5 us per call (~9 us on C libraries "
    "whose malloc or free cannot be probed on an emulated instruction, e.g. glibc 2.42).";
static const char live_doc[] = "Print each sample of a whole process tree as it arrives.\v"
			       "Examples:\n"
			       "  sudo treeprof live -p 1234\n"
			       "  sudo treeprof live -F 20 -- python3 app.py\n"
			       "  sudo treeprof live --json -o run.data -p 1234 > samples.jsonl\n"
			       "  sudo treeprof live --interval 2 -F 999 -p 1234";
static const char top_doc[] =
    "A refreshing view of a whole process tree: CPU per process, hottest functions.\v"
    "Keys: j/k or arrows select a process, Enter shows its functions, t the whole tree, "
    "s cycles the sort (cpu, pid, name), q quits. Not on a terminal: plain snapshots.\n\n"
    "Examples:\n"
    "  sudo treeprof top -p 1234\n"
    "  sudo treeprof top -F 999 --interval 2 -- python3 app.py";
static const char report_doc[] =
    "Summarise a recording.\v"
    "Examples:\n"
    "  treeprof report treeprof.data\n"
    "  treeprof report treeprof.data --format folded | flamegraph.pl > cpu.svg\n"
    "  treeprof report treeprof.data --format folded --merge --pid 1234\n"
    "  treeprof report new.data --diff old.data   # what changed, by role\n"
    "  treeprof report new.data --diff old.data --format html -o diff.html\n"
    "  zstd -dc run.data.zst | treeprof report /dev/stdin";

static void usage(FILE *f)
{
	fprintf(f, "Usage: treeprof COMMAND [OPTIONS]\n\n"
		   "Commands:\n"
		   "  record   record a process tree's CPU samples to a file\n"
		   "  live     print a process tree's samples as they happen\n"
		   "  top      a refreshing view of a process tree's CPU and hottest functions\n"
		   "  report   summarise a recording (text, folded stacks)\n\n"
		   "'treeprof COMMAND --help' shows each command's options.\n");
}

static void on_signal(int sig)
{
	tracer__request_stop();
}

/* The sinks of one run, fanned out: the view (live or top, if any) and the recording (record,
 * or live/top with -o), pushed to disk about once a second so a crash loses at most that. */
struct run_sinks {
	struct tracer_sink view;
	struct outfile *out;	   /* where the recording goes (-o) */
	struct datafile_writer *w; /* the recording written to it */
	char path[PATH_MAX + 32];  /* its name, for messages (out is freed before the last) */
	int write_err;		   /* the first write error, reported once */
};

static void fan_sample(void *ctx, const struct profile *p, const struct tp_sample_rec *s, pid_t pid)
{
	struct run_sinks *r = ctx;

	if (r->view.on_sample)
		r->view.on_sample(r->view.ctx, p, s, pid);
}

static void fan_proc(void *ctx, const struct profile *p, const struct tp_process *proc,
		     const char *what, uint64_t ts_ns)
{
	struct run_sinks *r = ctx;

	if (r->view.on_proc)
		r->view.on_proc(r->view.ctx, p, proc, what, ts_ns);
}

static void fan_tick(void *ctx, const struct profile *p)
{
	struct run_sinks *r = ctx;

	if (r->w && !r->write_err) {
		r->write_err = datafile__flush(r->w);
		/* A full disk: say so now and stop, rather than trace on into nothing. */
		if (r->write_err) {
			fprintf(stderr,
				"treeprof: writing %s: %s; stopping (the recording holds "
				"what was written before)\n",
				r->path, strerror(-r->write_err));
			tracer__request_stop();
		}
	}
	if (r->view.on_tick)
		r->view.on_tick(r->view.ctx, p);
}

static void fan_poll(void *ctx, const struct profile *p)
{
	struct run_sinks *r = ctx;

	if (r->view.on_poll)
		r->view.on_poll(r->view.ctx, p);
}

static int summary_to(const struct profile *p, FILE *out, bool color)
{
	struct report_opts ro = {.top = 10, .color = color};

	return report__text(p, out, &ro);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The view of a live or top run on standard output; 0 or negative errno. */
static int view_new(struct args *a, struct run_sinks *rs, struct live **live, struct top **top)
{
	uint64_t start = mono_ns();

	if (a->cmd == CMD_LIVE) {
		struct live_opts lo = {.fd = STDOUT_FILENO,
				       .start_ns = start,
				       .json = a->json,
				       .every = a->every,
				       .interval = a->interval};

		*live = live__new(&lo);
		if (!*live)
			return -errno;
		live__sink(*live, &rs->view);
	} else if (a->cmd == CMD_TOP) {
		struct top_opts to = {.fd = STDOUT_FILENO,
				      .interval = a->interval,
				      .freq = a->t.freq,
				      .start_ns = start};

		*top = top__new(&to);
		if (!*top)
			return -errno;
		top__sink(*top, &rs->view);
	}
	return 0;
}

/* Open the recording (-o) of a trace command: 0, or -errno after one line on stderr. */
static int recording_open(struct args *a, struct run_sinks *rs)
{
	char why[PATH_MAX + 128];
	int err;

	rs->out = outfile__open(a->output, OUTFILE_BINARY, why, sizeof(why));
	if (!rs->out) {
		err = -errno;
		fprintf(stderr, "treeprof: %s\n", why);
		return err;
	}
	snprintf(rs->path, sizeof(rs->path), "%s", outfile__name(rs->out));
	rs->w = datafile__new(outfile__fd(rs->out));
	if (!rs->w) {
		err = -errno;
		fprintf(stderr, "treeprof: cannot write %s: %s\n", rs->path, strerror(-err));
		outfile__abort(rs->out);
		rs->out = NULL;
		return err;
	}
	/* Under sudo a recording file we create belongs to the user who asked for it, and
	 * only to them: it holds their processes' command lines and code. A device, a FIFO or
	 * standard output is left as it is. */
	if (a->sudo_user && (err = outfile__chown(rs->out, a->sudo_uid, a->sudo_gid, 0640)))
		fprintf(stderr, "treeprof: cannot give %s to uid %d: %s\n", rs->path,
			(int)a->sudo_uid, strerror(-err));
	return 0;
}

static int run_trace(struct args *a)
{
	bool recording = a->cmd == CMD_RECORD || a->output_set;
	struct sigaction sa = {.sa_handler = on_signal};
	struct run_sinks rs = {0};
	struct tracer_sink sink = {.ctx = &rs,
				   .on_sample = fan_sample,
				   .on_proc = fan_proc,
				   .on_tick = fan_tick,
				   .on_poll = fan_poll};
	struct live *live = NULL;
	struct top *top = NULL;
	struct profile *p;
	struct tracer *t;
	char buf[64];
	int err, e, f;

	if (tracer__check_env())
		return 1;
	if (a->t.pid) {
		err = proc_check_target(a->t.pid);
		if (err == -ESRCH) {
			fprintf(stderr, "treeprof: no such process: %d\n", a->t.pid);
			return 1;
		}
		if (err == -EINVAL) {
			fprintf(stderr,
				"treeprof: %d is a kernel thread: nothing to profile in "
				"user space\n",
				a->t.pid);
			return 1;
		}
	}
	p = profile__new();
	if (!p) {
		fprintf(stderr, "treeprof: out of memory\n");
		return 1;
	}
	/* The recording keeps every sample; record and live keep only aggregates, so their
	 * memory stays flat. top reads the last interval's samples back from the profile. */
	profile__keep_samples(p, a->cmd == CMD_TOP);
	/* Memory events are needed whole for peaks: the summary of a sampled record keeps them;
	 * a --mem-sample 1 run (millions of events) leaves them to the report. */
	profile__keep_mem(p, a->cmd == CMD_RECORD && a->t.mem_rate > 1);
	find_sudo_user(a);
	if (recording) {
		err = recording_open(a, &rs);
		if (err) {
			profile__free(p);
			return 1;
		}
		profile__set_journal(p, rs.w);
	}
	if (a->t.cmd && a->sudo_user && !a->as_root && a->sudo_uid != 0) {
		a->t.run_as_user = true;
		a->t.run_uid = a->sudo_uid;
		a->t.run_gid = a->sudo_gid;
	}
	snprintf(buf, sizeof(buf), "%d", a->t.freq);
	profile__set_meta(p, "frequency", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)time(NULL));
	profile__set_meta(p, "start_unix", buf);
	profile__set_meta(p, "command", a->cmdline);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = view_new(a, &rs, &live, &top);
	if (err)
		fprintf(stderr, "treeprof: setting up the output: %s\n", strerror(-err));
	t = err ? NULL : tracer__start(&a->t, p, &sink);
	if (!t) {
		profile__set_journal(p, NULL);
		datafile__finish(rs.w);
		outfile__abort(rs.out);
		top__free(top);
		live__free(live);
		profile__free(p);
		return 1;
	}
	/* Tracing has started: the recording takes the old file's place (a regular file). */
	if (rs.out && (e = outfile__commit(rs.out))) {
		fprintf(stderr, "treeprof: cannot write %s: %s\n", rs.path, strerror(-e));
		rs.write_err = e; /* said once; the run fails */
		tracer__request_stop();
	}
	if (top)
		top__set_tracer(top, t);
	if (a->cmd == CMD_RECORD && !a->quiet)
		fprintf(stderr, "treeprof: recording at %d Hz to %s; Ctrl-C to stop\n", a->t.freq,
			rs.path);
	err = tracer__run(t);
	if (top)
		top__finish(top);
	tracer__free(t); /* stores the run's statistics in the profile (and its journal) */
	top__free(top);	 /* the terminal is restored before anything else is said */
	/* Detached first: waiting for a slow reader must not leave the sampler running. */
	if (live && (e = live__finish(live)) && !err)
		err = e;
	live__free(live);
	if (rs.w) {
		profile__set_journal(p, NULL);
		e = datafile__finish(rs.w);
		f = outfile__close(rs.out);
		e = e ? e : f;
		if (e && !rs.write_err)
			fprintf(stderr,
				"treeprof: writing %s: %s (the recording holds what was "
				"written before)\n",
				rs.path, strerror(-e));
		if (e || rs.write_err)
			err = err ? err : (e ? e : rs.write_err);
		else if (err)
			fprintf(stderr, "treeprof: %s\n", strerror(-err));
	} else if (err) {
		fprintf(stderr, "treeprof: %s\n", strerror(-err));
	}
	if (a->cmd == CMD_RECORD && !a->quiet)
		summary_to(p, stdout, isatty(STDOUT_FILENO));
	if (rs.w && !a->quiet && !rs.write_err && !err)
		fprintf(stderr, "treeprof: wrote %s (%zu samples, %u processes)\n", rs.path,
			profile__nsamples(p), profile__nprocs(p));
	profile__free(p);
	return err ? 1 : 0;
}

/* Write the report of p (or the comparison d, when not NULL) in fmt to out: 0 or -errno. */
static int report_write(struct args *a, const struct report_format *fmt, struct profile *p,
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

/* The recording at path, or NULL after one line on stderr; checked for the report. */
static struct profile *report_read(struct args *a, const char *path)
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
static int diff_refused(struct args *a, const struct report_format *fmt)
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

static int run_report(struct args *a)
{
	const char *name = a->output_set && strcmp(a->output, "-") ? a->output : "standard output";
	const struct report_format *fmt = report__format(a->format ? a->format : "text");
	struct profile *p, *old = NULL;
	struct report_diff *d = NULL;
	char err[PATH_MAX + 128];
	struct outfile *out;
	int rc = 1, e;

	if (!a->input)
		a->input = DEFAULT_OUTPUT;
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
	out = outfile__open(a->output_set ? a->output : "-", fmt->binary ? OUTFILE_BINARY : 0, err,
			    sizeof(err));
	if (!out) {
		fprintf(stderr, "treeprof: %s\n", err);
		goto out;
	}
	/* A file replaces the old one only once complete: a failed write leaves no half
	 * report. */
	rc = report_write(a, fmt, p, d, out);
	if (!rc)
		rc = outfile__commit(out);
	if (rc) {
		fprintf(stderr, "treeprof: writing %s: %s\n", name, strerror(-rc));
		outfile__abort(out);
	} else if ((e = outfile__close(out))) {
		fprintf(stderr, "treeprof: writing %s: %s\n", name, strerror(-e));
		rc = e;
	}
	rc = rc ? 1 : 0;
out:
	report_diff__free(d);
	profile__free(old);
	profile__free(p);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = {.output = DEFAULT_OUTPUT};
	struct argp argp = {0}, view_argp = {.parser = parse_view_opt};
	struct argp_child view_children[] = {{&view_argp, 0, NULL, 0}, {0}};

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		puts(argp_program_version);
		return 0;
	}
	for (int i = 0, off = 0; i < argc && off < (int)sizeof(a.cmdline) - 1; i++)
		off += snprintf(a.cmdline + off, sizeof(a.cmdline) - off, "%s%s", i ? " " : "",
				argv[i]);
	a.t.freq = DEFAULT_FREQ;
	a.t.ringbuf_mb = 8;
	a.r.top = 15;
	if (!strcmp(argv[1], "record") || !strcmp(argv[1], "live") || !strcmp(argv[1], "top")) {
		a.cmd = argv[1][0] == 'r' ? CMD_RECORD : argv[1][0] == 'l' ? CMD_LIVE : CMD_TOP;
		argp.options = trace_options;
		argp.parser = parse_trace_opt;
		argp.args_doc = "-p PID | -- COMMAND [ARGS...]";
		argp.doc = a.cmd == CMD_RECORD ? record_doc
			   : a.cmd == CMD_LIVE ? live_doc
					       : top_doc;
		view_argp.options = a.cmd == CMD_LIVE ? live_options : top_options;
		view_children[0].header = a.cmd == CMD_LIVE ? "Live output:" : "Top view:";
		if (a.cmd != CMD_RECORD)
			argp.children = view_children;
	} else if (!strcmp(argv[1], "report")) {
		a.cmd = CMD_REPORT;
		argp.options = report_options;
		argp.parser = parse_report_opt;
		argp.args_doc = "[FILE]";
		argp.doc = report_doc;
	} else {
		fprintf(stderr, "treeprof: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	/* argv[0] becomes "treeprof record" for argp's messages. */
	char name[64];

	snprintf(name, sizeof(name), "treeprof %s", argv[1]);
	argv[1] = name;
	if (argp_parse(&argp, argc - 1, argv + 1, ARGP_IN_ORDER, NULL, &a))
		return 2;
	return a.cmd == CMD_REPORT ? run_report(&a) : run_trace(&a);
}
