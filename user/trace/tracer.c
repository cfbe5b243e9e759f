// SPDX-License-Identifier: GPL-2.0
/* The tracer: open -> configure -> load -> attach tracepoints -> seed the tree (or launch the
 * held command) -> attach one cpu-clock perf event per CPU -> poll both ring buffers.
 *
 * Ordering is what makes "no child missed" true: the fork tracepoint is attached before the
 * tree is seeded from /proc, and seeding repeats until a scan finds no untraced descendant,
 * so a child forked during the scan is caught either by the kernel or by the next scan. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "treeprof.h"
#include "treeprof.skel.h"
#include "trace/kfeature.h"
#include "trace/tracer.h"
#include "trace/proctree.h"
#include "profile/profile.h"
#include "symbols/symbolize.h"
#include "trace/memtrace.h"
#include "profile/memacct.h"

static volatile sig_atomic_t stop_requested;

struct tracer {
	struct tracer_opts opts;
	struct treeprof_bpf *skel;
	struct profile *prof;
	struct tracer_sink sink;
	struct symbolizer *sym;
	struct memtrace *mem;	     /* --mem, else NULL */
	struct ring_buffer *rb;	     /* proc_events and samples: what the loop waits on */
	struct ring_buffer *proc_rb; /* proc_events alone, drained before each sample */
	int ncpus;
	int *perf_fds;
	struct bpf_link **perf_links;
	struct pidset *live;	   /* processes of the tree still alive */
	struct pidset *py_pending; /* images whose libpython was not mapped yet at exec */
	uint64_t py_retry_ns;
	pid_t child; /* launched command, 0 if none */
	int child_status;
	uint64_t start_ns, last_tick_ns;
	uint64_t py_configs, py_config_fail;
};

void tracer__request_stop(void)
{
	stop_requested = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/* Give the BPF walker pid's interpreter, if it runs one. */
static void tracer__python(struct tracer *t, pid_t pid)
{
	struct tp_pyconfig cfg;
	__u32 key = pid;
	int err;

	err = symbolizer__python(t->sym, pid, &cfg);
	if (err == -EAGAIN) { /* exec'd, ld.so has not mapped libpython yet: retry soon */
		pidset__add(t->py_pending, pid);
		return;
	}
	pidset__del(t->py_pending, pid);
	if (err == -ENOENT)
		return;
	if (err) {
		t->py_config_fail++;
		if (t->opts.verbose)
			fprintf(stderr, "treeprof: pid %d: Python not readable: %s\n", pid,
				strerror(-err));
		return;
	}
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.pyconfigs), &key, &cfg, BPF_ANY)) {
		t->py_config_fail++;
		return;
	}
	t->py_configs++;
}

/* Add pid to the traced set and the profile as a process that was already running. */
static int tracer__adopt(struct tracer *t, pid_t pid, pid_t ppid, bool root)
{
	struct tp_proc val = {.ppid = ppid, .flags = root ? TP_PROC_ROOT : 0};
	char comm[64], *cmdline, *exe;
	__u32 key = pid;
	int err;

	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.traced), &key, &val, BPF_NOEXIST)) {
		err = -errno;
		return err == -EEXIST ? 0 : err;
	}
	proc_read_comm(pid, comm, sizeof(comm));
	cmdline = proc_read_cmdline(pid);
	exe = proc_read_exe(pid);
	err = profile__proc_start(t->prof, pid, ppid, proc_start_ns(pid), comm,
				  cmdline ? cmdline : "", exe ? exe : "");
	free(cmdline);
	free(exe);
	if (err)
		return err;
	pidset__add(t->live, pid);
	symbolizer__seen(t->sym, pid);
	tracer__python(t, pid);
	memtrace__proc(t->mem, pid, false);
	return 0;
}

/* Trace root and every current descendant; repeat until a scan adds nobody. */
static int tracer__seed(struct tracer *t, pid_t root)
{
	int err, pass, added;

	err = tracer__adopt(t, root, proc_read_ppid(root), true);
	if (err)
		return err;
	for (pass = 0; pass < 8; pass++) {
		struct proc_list *pl = proc_list__scan();

		if (!pl)
			return -errno;
		added = 0;
		/* Parents come before children in a pid-sorted scan only by luck: iterate
		 * until the set is closed under "child of a traced process". */
		for (size_t i = 0; i < pl->n; i++) {
			pid_t pid = pl->ents[i].pid, ppid = pl->ents[i].ppid;

			if (pidset__has(t->live, pid) || !pidset__has(t->live, ppid))
				continue;
			if (tracer__adopt(t, pid, ppid, false) == 0)
				added++;
		}
		proc_list__free(pl);
		if (!added)
			break;
	}
	return 0;
}

static int on_proc_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct tp_hdr *h = data;
	struct prof_proc *proc;
	const char *what;

	if (size < sizeof(*h) || h->size > size)
		return 0;
	switch (h->type) {
	case TP_REC_FORK: {
		const struct tp_fork *f = data;
		struct prof_proc *parent = profile__proc_find(t->prof, f->ppid);
		char comm[TP_COMM_LEN + 1];

		if (size < sizeof(*f))
			return 0;
		memcpy(comm, f->comm, TP_COMM_LEN);
		comm[TP_COMM_LEN] = 0;
		profile__proc_start(t->prof, f->hdr.pid, f->ppid, f->hdr.ts_ns, comm,
				    parent ? parent->cmdline : "", parent ? parent->exe : "");
		pidset__add(t->live, f->hdr.pid);
		symbolizer__fork(t->sym, f->hdr.pid, f->ppid);
		if (t->mem)
			profile__mem_fork(t->prof, f->hdr.ts_ns, f->hdr.pid, f->ppid);
		memtrace__fork(t->mem, f->hdr.pid, f->ppid, f->hdr.ts_ns);
		what = "start";
		break;
	}
	case TP_REC_EXEC: {
		const struct tp_exec *e = data;
		char comm[TP_COMM_LEN + 1], file[TP_PATH_LEN + 1], *cmdline;

		if (size < sizeof(*e))
			return 0;
		memcpy(comm, e->comm, TP_COMM_LEN);
		comm[TP_COMM_LEN] = 0;
		memcpy(file, e->filename, TP_PATH_LEN);
		file[TP_PATH_LEN] = 0;
		cmdline = proc_read_cmdline(e->hdr.pid);
		profile__proc_exec(t->prof, e->hdr.pid, e->hdr.ts_ns, comm,
				   cmdline ? cmdline : file, file);
		free(cmdline);
		symbolizer__exec(t->sym, e->hdr.pid);
		tracer__python(t, e->hdr.pid);
		memtrace__proc(t->mem, e->hdr.pid, true);
		what = "exec";
		break;
	}
	case TP_REC_EXIT: {
		const struct tp_exit *x = data;

		if (size < sizeof(*x))
			return 0;
		profile__proc_exit(t->prof, x->hdr.pid, x->hdr.ts_ns, x->exit_code);
		pidset__del(t->live, x->hdr.pid);
		pidset__del(t->py_pending, x->hdr.pid);
		memtrace__exit(t->mem, x->hdr.pid);
		symbolizer__exit(t->sym, x->hdr.pid);
		what = "exit";
		break;
	}
	case TP_REC_MEMSTAT: {
		const struct tp_memstat *ms = data;

		if (size >= sizeof(*ms))
			profile__mem_counters(t->prof, ms->hdr.ts_ns, ms->hdr.pid, &ms->c);
		return 0;
	}
	default:
		return 0;
	}
	proc = profile__proc_find(t->prof, h->pid);
	if (proc && t->sink.on_proc)
		t->sink.on_proc(t->sink.ctx, t->prof, proc, what, h->ts_ns);
	return 0;
}

static void tracer__retry_python(struct tracer *t, uint64_t now);

/* A sampled allocation or the release of one. */
static int on_mem_event(struct tracer *t, const void *data, size_t size)
{
	const struct tp_hdr *h = data;
	uint32_t stack;

	if (h->type == TP_REC_FREE) {
		const struct tp_free *f = data;

		if (size < sizeof(*f))
			return 0;
		profile__mem_free(t->prof, f->hdr.ts_ns, f->hdr.pid, f->kind, f->addr);
		if (t->sink.on_mem)
			t->sink.on_mem(t->sink.ctx, t->prof, f->hdr.pid, f->addr, 0);
		return 0;
	}
	if (h->type == TP_REC_ALLOC && size >= sizeof(struct tp_alloc)) {
		const struct tp_alloc *a = data;

		if (pidset__has(t->py_pending, a->hdr.pid))
			tracer__retry_python(t, now_ns());
		if (symbolizer__stack(t->sym, t->prof, &a->s, &stack))
			return 0;
		profile__mem_alloc(t->prof, a->hdr.ts_ns, a->hdr.pid, a->hdr.tid, a->kind, a->addr,
				   a->size, a->rate, stack);
		if (t->sink.on_mem && a->size)
			t->sink.on_mem(t->sink.ctx, t->prof, a->hdr.pid, a->addr,
				       memacct__weight(a->size, a->rate));
	}
	return 0;
}

static int on_sample_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct tp_sample *s = data;
	const struct prof_sample *rec;
	uint32_t stack;

	if (size >= sizeof(struct tp_hdr) && s->hdr.type != TP_REC_SAMPLE) {
		ring_buffer__consume(t->proc_rb);
		return on_mem_event(t, data, size);
	}
	if (size < sizeof(*s) || s->hdr.type != TP_REC_SAMPLE)
		return 0;
	ring_buffer__consume(t->proc_rb); /* the fork/exec before this sample, if unread */
	if (pidset__has(t->py_pending, s->hdr.pid))
		tracer__retry_python(t, now_ns());
	if (symbolizer__stack(t->sym, t->prof, s, &stack))
		return 0;
	if (profile__sample(t->prof, s->hdr.ts_ns, s->hdr.pid, s->hdr.tid, s->cpu, stack, 1))
		return 0;
	if (t->sink.on_sample) {
		rec = profile__sample_at(t->prof, profile__nsamples(t->prof) - 1);
		t->sink.on_sample(t->sink.ctx, t->prof, rec, s->hdr.pid);
	}
	return 0;
}

static int tracer__open_perf(struct tracer *t)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .size = sizeof(attr),
	    .freq = 1,
	    .sample_freq = t->opts.freq,
	};
	int cpu, err;

	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0)
		return t->ncpus ? t->ncpus : -EINVAL;
	t->perf_fds = calloc(t->ncpus, sizeof(*t->perf_fds));
	t->perf_links = calloc(t->ncpus, sizeof(*t->perf_links));
	if (!t->perf_fds || !t->perf_links)
		return -ENOMEM;
	for (cpu = 0; cpu < t->ncpus; cpu++)
		t->perf_fds[cpu] = -1;
	for (cpu = 0; cpu < t->ncpus; cpu++) {
		t->perf_fds[cpu] =
		    syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (t->perf_fds[cpu] < 0) {
			err = -errno;
			if (err == -ENODEV) /* possible but not online */
				continue;
			fprintf(stderr, "treeprof: perf_event_open(cpu-clock, cpu %d): %s%s\n", cpu,
				strerror(-err),
				err == -EINVAL
				    ? " (frequency above kernel.perf_event_max_sample_rate?)"
				    : "");
			return err;
		}
		t->perf_links[cpu] =
		    bpf_program__attach_perf_event(t->skel->progs.on_sample, t->perf_fds[cpu]);
		if (!t->perf_links[cpu]) {
			err = -errno;
			fprintf(stderr, "treeprof: attaching the sampler on cpu %d: %s\n", cpu,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* In the launched child: become uid/gid with the user's supplementary groups. 0 or -1
 * with errno set. */
static int drop_privileges(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL))
		return -1;
	if (setgid(gid) || setuid(uid))
		return -1;
	/* Refuse to go on as root if the switch did not stick. */
	if (uid != 0 && (setuid(0) == 0 || geteuid() != uid)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Launch the command held on a pipe: it execs only once everything is attached. */
static int tracer__fork_cmd(struct tracer *t, int *go_fd, int *err_fd)
{
	int go[2], ex[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(ex, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int e[2]; /* what failed (0: exec, 1: becoming the user), errno */
		char c;

		close(go[1]);
		close(ex[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		e[0] = 1;
		if (t->opts.run_as_user && drop_privileges(t->opts.run_uid, t->opts.run_gid))
			goto fail;
		e[0] = 0;
		if (memtrace__child_env(t->mem))
			goto fail;
		execvp(t->opts.cmd[0], t->opts.cmd);
	fail:
		e[1] = errno;
		if (write(ex[1], e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	t->child = pid;
	*go_fd = go[1];
	*err_fd = ex[0];
	return 0;
}

static int tracer__release_cmd(struct tracer *t, int go_fd, int err_fd)
{
	int e[2] = {0, 0};
	ssize_t n;

	if (write(go_fd, "g", 1) != 1) {
		close(go_fd);
		close(err_fd);
		return -EPIPE;
	}
	close(go_fd);
	n = read(err_fd, e, sizeof(e)); /* EOF: exec succeeded (the pipe is close-on-exec) */
	close(err_fd);
	if (n == sizeof(e)) {
		if (e[0] == 1)
			fprintf(stderr, "treeprof: cannot run '%s' as uid %d: %s (use --as-root)\n",
				t->opts.cmd[0], (int)t->opts.run_uid, strerror(e[1]));
		else
			fprintf(stderr, "treeprof: cannot run '%s': %s\n", t->opts.cmd[0],
				strerror(e[1]));
		waitpid(t->child, NULL, 0);
		t->child = 0;
		return -e[1];
	}
	return 0;
}

int tracer__check_env(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "treeprof: kernel lacks BTF (/sys/kernel/btf/vmlinux): "
				"a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed\n");
		return -ENOTSUP;
	}
	if (!proc_has_bpf_caps()) {
		fprintf(stderr, "treeprof: tracing needs root (or CAP_BPF and CAP_PERFMON): "
				"run it with sudo\n");
		return -EPERM;
	}
	return 0;
}

struct tracer *tracer__start(const struct tracer_opts *o, struct profile *prof,
			     const struct tracer_sink *sink)
{
	int err, go_fd = -1, err_fd = -1;
	struct tracer *t;

	err = tracer__check_env();
	if (err) {
		errno = -err;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->opts = *o;
	t->prof = prof;
	if (sink)
		t->sink = *sink;
	t->child_status = -1;
	stop_requested = 0;
	libbpf_set_print(o->verbose ? libbpf_print : libbpf_quiet);

	t->live = pidset__new();
	t->py_pending = pidset__new();
	t->sym = symbolizer__new(o->native);
	if (!t->live || !t->py_pending || !t->sym) {
		err = -ENOMEM;
		goto fail;
	}
	t->skel = treeprof_bpf__open();
	if (!t->skel) {
		err = -errno;
		fprintf(stderr, "treeprof: opening the BPF object: %s\n", strerror(-err));
		goto fail;
	}
	bpf_map__set_max_entries(t->skel->maps.samples, (__u32)o->ringbuf_mb << 20);
	t->skel->rodata->wake_bytes = ((__u64)o->ringbuf_mb << 20) / 4;
	t->skel->rodata->native_stacks = o->native;
	struct memtrace_opts mo = {.rate = o->mem_rate,
				   .mode = o->mem_mode,
				   .launch = o->cmd != NULL,
				   .verbose = o->verbose};
	memtrace__configure(t->skel, &mo, o->mem);
	err = treeprof_bpf__load(t->skel);
	if (err) {
		char why[256];

		if (kfeature__missing(why, sizeof(why)))
			fprintf(stderr, "treeprof: %s\n", why);
		else
			fprintf(stderr,
				"treeprof: loading the BPF programs: %s (run with -v for the "
				"verifier log)\n",
				strerror(-err));
		goto fail;
	}
	/* Tracepoints first, so no fork between the seeding scan and now is missed. */
	err = treeprof_bpf__attach(t->skel);
	if (err) {
		fprintf(stderr, "treeprof: attaching the fork/exec/exit tracepoints: %s\n",
			strerror(-err));
		goto fail;
	}
	if (o->mem) {
		t->mem = memtrace__new(t->skel, &mo, prof);
		if (!t->mem) {
			err = -errno;
			goto fail;
		}
	}
	t->start_ns = now_ns();
	t->last_tick_ns = t->start_ns;
	if (o->cmd) {
		err = tracer__fork_cmd(t, &go_fd, &err_fd);
		if (err) {
			fprintf(stderr, "treeprof: fork: %s\n", strerror(-err));
			goto fail;
		}
		err = tracer__adopt(t, t->child, getpid(), true);
	} else {
		err = tracer__seed(t, o->pid);
	}
	if (err) {
		fprintf(stderr, "treeprof: adding the process tree: %s\n", strerror(-err));
		goto fail;
	}

	/* One manager for both rings: libbpf's epoll then watches the map descriptors
	 * themselves, and a wake-up from either ring ends the wait. */
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.proc_events), on_proc_event, t, NULL);
	/* A second reader of proc_events (the consumer position lives in the map, so the two
	 * never read a record twice): each sample first drains it, so the fork or exec that
	 * came before a sample is always handled before the sample. */
	t->proc_rb =
	    ring_buffer__new(bpf_map__fd(t->skel->maps.proc_events), on_proc_event, t, NULL);
	if (!t->rb || !t->proc_rb ||
	    ring_buffer__add(t->rb, bpf_map__fd(t->skel->maps.samples), on_sample_event, t)) {
		err = -errno;
		fprintf(stderr, "treeprof: ring buffers: %s\n", strerror(-err));
		goto fail;
	}
	err = o->no_cpu ? 0 : tracer__open_perf(t);
	if (err)
		goto fail;
	if (o->cmd) {
		err = tracer__release_cmd(t, go_fd, err_fd);
		go_fd = err_fd = -1;
		if (err)
			goto fail;
	}
	return t;

fail:
	if (go_fd >= 0) {
		close(go_fd); /* the held child reads EOF and exits */
		close(err_fd);
		waitpid(t->child, NULL, 0);
		t->child = 0;
	}
	tracer__free(t);
	errno = -err;
	return NULL;
}

static void tracer__reap(struct tracer *t)
{
	int status;

	if (t->child > 0 && t->child_status == -1 && waitpid(t->child, &status, WNOHANG) > 0)
		t->child_status = status;
}

/* A process that exited between the seeding scan and its entry in the traced map never
 * sends an exit event: find such processes once a second, so the run can end. */
static void tracer__sweep(struct tracer *t, uint64_t now)
{
	pid_t pids[256];
	size_t n = pidset__list(t->live, pids, 256);

	for (size_t i = 0; i < n; i++) {
		struct prof_proc *proc;

		if (!proc_is_dead(pids[i]))
			continue;
		/* Its exit event may still be in the ring buffer: give it one more round. */
		ring_buffer__consume(t->rb);
		if (!pidset__has(t->live, pids[i]) || !proc_is_dead(pids[i]))
			continue;
		profile__proc_exit(t->prof, pids[i], now, 0);
		pidset__del(t->live, pids[i]);
		memtrace__exit(t->mem, pids[i]);
		proc = profile__proc_find(t->prof, pids[i]);
		if (t->opts.verbose)
			fprintf(stderr, "treeprof: pid %d exited unseen\n", pids[i]);
		if (proc && t->sink.on_proc)
			t->sink.on_proc(t->sink.ctx, t->prof, proc, "exit", now);
	}
}

/* Images whose libpython was not mapped yet at exec: try again every 2 ms (ld.so maps it
 * within a millisecond or two; until then the walker has no config and samples have no
 * Python frames). */
static void tracer__retry_python(struct tracer *t, uint64_t now)
{
	pid_t pids[64];
	size_t n;

	if (!pidset__count(t->py_pending) || now < t->py_retry_ns)
		return;
	t->py_retry_ns = now + 2000000ULL;
	n = pidset__list(t->py_pending, pids, 64);
	for (size_t i = 0; i < n; i++)
		tracer__python(t, pids[i]);
}

int tracer__run(struct tracer *t)
{
	uint64_t end_ns = t->opts.duration > 0 ? t->start_ns + t->opts.duration * 1e9 : 0;
	uint64_t now;
	int n, status;

	while (!stop_requested) {
		n = ring_buffer__poll(
		    t->rb, pidset__count(t->py_pending) || memtrace__pending(t->mem) ? 2 : 100);
		if (n < 0 && n != -EINTR)
			return n;
		/* Samples are submitted without a wake-up: a timeout must read them too. */
		ring_buffer__consume(t->rb);
		tracer__reap(t);
		now = now_ns();
		tracer__retry_python(t, now);
		memtrace__poll(t->mem, t->live, now);
		if (now - t->last_tick_ns >= 1000000000ULL) {
			t->last_tick_ns = now;
			tracer__sweep(t, now);
			if (t->sink.on_tick)
				t->sink.on_tick(t->sink.ctx, t->prof);
		}
		if (t->sink.on_poll)
			t->sink.on_poll(t->sink.ctx, t->prof);
		if (end_ns && now >= end_ns)
			break;
		if (pidset__count(t->live) == 0)
			break;
	}
	/* The tree is gone: reap the launched command (its status, and its CPU time counts
	 * as ours for whoever waits for treeprof, as with any parent). */
	if (t->child > 0 && t->child_status == -1 && pidset__count(t->live) == 0 &&
	    waitpid(t->child, &status, 0) == t->child)
		t->child_status = status;
	ring_buffer__consume(t->rb);
	return 0;
}

static const char *const stat_names[TP_STAT_NR] = {
    [TP_STAT_SAMPLES] = "bpf_samples",
    [TP_STAT_RB_DROPS] = "ringbuf_drops",
    [TP_STAT_KSTACK_ERR] = "kernel_stack_errors",
    [TP_STAT_USTACK_ERR] = "user_stack_errors",
    [TP_STAT_FORKS] = "forks",
    [TP_STAT_TRACED_FULL] = "traced_map_full",
    [TP_STAT_EXECS] = "execs",
    [TP_STAT_EXITS] = "exits",
    [TP_STAT_PY_NO_TSTATE] = "python_no_thread_state",
    [TP_STAT_PY_READ_FAIL] = "python_read_failures",
    [TP_STAT_PY_TRUNCATED] = "python_truncated_stacks",
    [TP_STAT_PY_NO_FRAME] = "python_idle_no_frame",
    [TP_STAT_MEM_CALLS] = "mem_calls",
    [TP_STAT_MEM_SAMPLED] = "mem_sampled",
    [TP_STAT_MEM_LIVE_FULL] = "mem_live_map_full",
    [TP_STAT_MEM_NESTED] = "mem_nested_calls",
};

/* What the run cost: treeprof's own CPU time, and the BPF programs' run time when
 * kernel.bpf_stats_enabled is set (zero otherwise). */
static void tracer__store_cost(struct tracer *t)
{
	struct bpf_program *prog;
	uint64_t run_ns = 0, run_cnt = 0;
	struct rusage ru;

	bpf_object__for_each_program(prog, t->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		run_ns += info.run_time_ns;
		run_cnt += info.run_cnt;
		if (!strcmp(bpf_program__name(prog), "on_sample")) {
			profile__set_stat(t->prof, "bpf_sample_run_ns", info.run_time_ns);
			profile__set_stat(t->prof, "bpf_sample_run_cnt", info.run_cnt);
		}
	}
	profile__set_stat(t->prof, "bpf_run_ns", run_ns);
	profile__set_stat(t->prof, "bpf_run_cnt", run_cnt);
	if (!getrusage(RUSAGE_SELF, &ru))
		profile__set_stat(t->prof, "treeprof_cpu_ns",
				  (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
				      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL);
}

static void tracer__store_stats(struct tracer *t)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(t->skel->maps.stats);
	__u64 *vals;
	uint64_t v;

	vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	if (!vals)
		return;
	for (__u32 k = 0; k < TP_STAT_NR; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		v = 0;
		for (int c = 0; c < ncpu; c++)
			v += vals[c];
		if (!t->mem && !strncmp(stat_names[k], "mem_", 4))
			continue; /* no --mem: no memory statistics */
		profile__set_stat(t->prof, stat_names[k], v);
	}
	free(vals);
	profile__set_stat(t->prof, "python_processes_configured", t->py_configs);
	profile__set_stat(t->prof, "python_config_failures", t->py_config_fail);
	for (uint32_t i = 0;; i++) {
		const char *name = symbolizer__stat_at(t->sym, i, &v);

		if (!name)
			break;
		profile__set_stat(t->prof, name, v);
	}
	memtrace__store_stats(t->mem, t->prof);
	tracer__store_cost(t);
	profile__set_stat(t->prof, "duration_ns", now_ns() - t->start_ns);
}

int tracer__bpf_stat(const struct tracer *t, const char *name, uint64_t *value)
{
	int ncpu = libbpf_num_possible_cpus(), err = -ENOENT;
	__u64 *vals;
	__u32 k;

	for (k = 0; k < TP_STAT_NR; k++)
		if (stat_names[k] && !strcmp(stat_names[k], name))
			break;
	vals = k < TP_STAT_NR && ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	if (!vals)
		return err;
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.stats), &k, vals)) {
		*value = 0;
		for (int c = 0; c < ncpu; c++)
			*value += vals[c];
		err = 0;
	}
	free(vals);
	return err;
}

int tracer__cmd_status(const struct tracer *t)
{
	return t->child_status;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	if (t->perf_links)
		for (int i = 0; i < t->ncpus; i++)
			bpf_link__destroy(t->perf_links[i]);
	if (t->perf_fds)
		for (int i = 0; i < t->ncpus; i++)
			if (t->perf_fds[i] >= 0)
				close(t->perf_fds[i]);
	if (t->skel && t->prof && t->sym)
		tracer__store_stats(t);
	memtrace__free(t->mem);
	ring_buffer__free(t->rb);
	ring_buffer__free(t->proc_rb);
	treeprof_bpf__destroy(t->skel);
	symbolizer__free(t->sym);
	pidset__free(t->live);
	pidset__free(t->py_pending);
	free(t->perf_fds);
	free(t->perf_links);
	free(t);
}
