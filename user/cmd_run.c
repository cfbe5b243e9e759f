// SPDX-License-Identifier: GPL-2.0
/* One run of record, live or top: the profile, the recording (-o) and the view as the
 * tracer's sinks, fanned out; the recording is pushed to disk about once a second so a
 * crash loses at most that. Every failure is said once on stderr; the exit status is 0 or 1. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "cmd.h"
#include "cmd_trace.h"
#include "lib/outfile.h"
#include "profile/datafile.h"
#include "profile/profile.h"
#include "report/report.h"
#include "trace/proctree.h"
#include "trace/tracer.h"

/* The sinks of one run: the view (if any) and the recording (if any). */
struct run_sinks {
	struct tracer_sink view;
	struct outfile *out;	   /* where the recording goes (-o) */
	struct datafile_writer *w; /* the recording written to it */
	char path[PATH_MAX + 32];  /* its name, for messages (out is freed before the last) */
	int write_err;		   /* the first write error, reported once */
};

static void fan_sample(void *ctx, const struct profile *p, const struct prof_sample *s, pid_t pid)
{
	struct run_sinks *r = ctx;

	if (r->view.on_sample)
		r->view.on_sample(r->view.ctx, p, s, pid);
}

static void fan_proc(void *ctx, const struct profile *p, const struct prof_proc *proc,
		     const char *what, uint64_t ts_ns)
{
	struct run_sinks *r = ctx;

	if (r->view.on_proc)
		r->view.on_proc(r->view.ctx, p, proc, what, ts_ns);
}

static void fan_mem(void *ctx, const struct profile *p, pid_t pid, uint64_t addr, double bytes,
		    uint64_t ts_ns)
{
	struct run_sinks *r = ctx;

	if (r->view.on_mem)
		r->view.on_mem(r->view.ctx, p, pid, addr, bytes, ts_ns);
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

static void on_signal(int sig)
{
	tracer__request_stop();
}

/* The user sudo was invoked by, from SUDO_UID and SUDO_GID (both needed, both numbers). */
static void find_sudo_user(struct trace_args *a)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	long uid, gid;

	if (getuid() != 0 || !u || !g || cmd__parse_long(u, 0, INT_MAX, &uid) ||
	    cmd__parse_long(g, 0, INT_MAX, &gid))
		return;
	a->sudo_user = true;
	a->sudo_uid = uid;
	a->sudo_gid = gid;
	/* A launched command runs as that user unless --as-root says otherwise. */
	if (a->t.cmd && !a->as_root && a->sudo_uid != 0) {
		a->t.run_as_user = true;
		a->t.run_uid = a->sudo_uid;
		a->t.run_gid = a->sudo_gid;
	}
}

/* Tracing is possible and -p names a user process: 0, or -errno after one line. */
static int check_target(const struct trace_args *a)
{
	int err = tracer__check_env();

	if (err || !a->t.pid)
		return err;
	err = proc_check_target(a->t.pid);
	if (err == -ESRCH)
		fprintf(stderr, "treeprof: no such process: %d\n", a->t.pid);
	else if (err == -EINVAL)
		fprintf(stderr,
			"treeprof: %d is a kernel thread: nothing to profile in user space\n",
			a->t.pid);
	return err == -ESRCH || err == -EINVAL ? err : 0;
}

/* The profile of the run, with what it keeps; NULL after one line. */
static struct profile *run_profile(const struct trace_args *a)
{
	struct profile *p = profile__new();

	if (!p) {
		fprintf(stderr, "treeprof: out of memory\n");
		return NULL;
	}
	/* The recording keeps every sample; record and live keep only aggregates, so their
	 * memory stays flat. top reads the last interval's samples back from the profile. */
	profile__keep_samples(p, a->view && a->view->keep_samples);
	/* Memory events are needed whole for peaks: the summary of a sampled record keeps them;
	 * a --mem-sample 1 run (millions of events) leaves them to the report. */
	profile__keep_mem(p, !a->view && a->t.mem_rate > 1);
	return p;
}

/* The run's metadata, once the journal is attached (the recording keeps it too). */
static void run_meta(const struct trace_args *a, struct profile *p)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d", a->t.freq);
	profile__set_meta(p, "frequency", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)time(NULL));
	profile__set_meta(p, "start_unix", buf);
	profile__set_meta(p, "command", a->cmdline);
}

/* Open the recording (-o) of a trace command: 0, or -errno after one line on stderr. */
static int recording_open(const struct trace_args *a, struct run_sinks *rs)
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

/* Close the recording after the run, whose result is err: the run's result, said once. */
static int recording_close(struct profile *p, struct run_sinks *rs, int err)
{
	int e, f;

	if (!rs->w) {
		if (err)
			fprintf(stderr, "treeprof: %s\n", strerror(-err));
		return err;
	}
	profile__set_journal(p, NULL);
	e = datafile__finish(rs->w);
	f = outfile__close(rs->out);
	e = e ? e : f;
	if (e && !rs->write_err)
		fprintf(stderr,
			"treeprof: writing %s: %s (the recording holds what was written before)\n",
			rs->path, strerror(-e));
	if (e || rs->write_err)
		return err ? err : (e ? e : rs->write_err);
	if (err)
		fprintf(stderr, "treeprof: %s\n", strerror(-err));
	return err;
}

/* Set up the view and start the tracer: it, or NULL after one line (all undone then). */
static struct tracer *run_start(struct trace_args *a, struct profile *p, struct run_sinks *rs,
				void **view)
{
	struct tracer_sink sink = {.ctx = rs,
				   .on_sample = fan_sample,
				   .on_proc = fan_proc,
				   .on_tick = fan_tick,
				   .on_mem = fan_mem,
				   .on_poll = fan_poll};
	struct sigaction sa = {.sa_handler = on_signal};
	struct tracer *t = NULL;
	int err = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (a->view && !(*view = a->view->open(a, clock__mono_ns(), &rs->view)))
		err = -errno;
	if (err)
		fprintf(stderr, "treeprof: setting up the output: %s\n", strerror(-err));
	else
		t = tracer__start(&a->t, p, &sink);
	if (t)
		return t;
	profile__set_journal(p, NULL);
	datafile__finish(rs->w);
	outfile__abort(rs->out);
	if (a->view && *view)
		a->view->free(*view);
	*view = NULL;
	return NULL;
}

/* Trace until the end, then take the tracer and the view down: 0 or -errno. */
static int run_traced(struct trace_args *a, struct tracer *t, void *view, struct run_sinks *rs)
{
	const struct trace_view *v = a->view;
	int err, e;

	/* Tracing has started: the recording takes the old file's place (a regular file). */
	if (rs->out && (e = outfile__commit(rs->out))) {
		fprintf(stderr, "treeprof: cannot write %s: %s\n", rs->path, strerror(-e));
		rs->write_err = e; /* said once; the run fails */
		tracer__request_stop();
	}
	if (v && v->started)
		v->started(view, t);
	if (!v && !a->quiet)
		fprintf(stderr, "treeprof: recording at %d Hz to %s; Ctrl-C to stop\n", a->t.freq,
			rs->path);
	err = tracer__run(t);
	if (v && v->stop)
		v->stop(view);
	tracer__finish(t); /* the run's statistics into the profile (and its journal) */
	tracer__free(t);
	/* The terminal is restored, and the sampler detached (waiting for a slow reader must
	 * not leave it running), before anything else is said. */
	if (v && v->finish && (e = v->finish(view)) && !err)
		err = e;
	if (v)
		v->free(view);
	return err;
}

int cmd_trace__run(struct trace_args *a)
{
	struct run_sinks rs = {0};
	struct profile *p;
	struct tracer *t;
	void *view = NULL;
	int err;

	if (check_target(a))
		return 1;
	p = run_profile(a);
	if (!p)
		return 1;
	find_sudo_user(a);
	if (!a->view || a->output_set) {
		if (recording_open(a, &rs)) {
			profile__free(p);
			return 1;
		}
		profile__set_journal(p, datafile__journal(rs.w));
	}
	run_meta(a, p);
	t = run_start(a, p, &rs, &view);
	if (!t) {
		profile__free(p);
		return 1;
	}
	err = run_traced(a, t, view, &rs);
	err = recording_close(p, &rs, err);
	if (!a->view && !a->quiet) {
		struct report_opts ro = {.top = 10, .color = isatty(STDOUT_FILENO)};

		report__text(p, stdout, &ro);
	}
	if (rs.w && !a->quiet && !rs.write_err && !err)
		fprintf(stderr, "treeprof: wrote %s (%zu samples, %u processes)\n", rs.path,
			profile__nsamples(p), profile__nprocs(p));
	profile__free(p);
	return err ? 1 : 0;
}
