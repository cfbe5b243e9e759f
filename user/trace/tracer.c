// SPDX-License-Identifier: GPL-2.0
/* The tracer: open -> configure -> load -> attach tracepoints -> seed the tree (or launch the
 * held command) -> attach one cpu-clock perf event per CPU -> poll both ring buffers.
 *
 * Ordering is what makes "no child missed" true: the fork tracepoint is attached before the
 * tree is seeded from /proc, and seeding repeats until a scan finds no untraced descendant,
 * so a child forked during the scan is caught either by the kernel or by the next scan. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "lib/freeall.h"
#include "lib/clock.h"
#include "treeprof.h"
#include "treeprof.skel.h"
#include "lib/fileio.h"
#include "trace/kbtf.h"
#include "trace/kfeature.h"
#include "trace/launch.h"
#include "trace/stats.h"
#include "trace/tracer.h"
#include "lib/pidset.h"
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
	struct launch_opts launch_opts;
	struct launch launch; /* the launched command (-- CMD): launch.pid, 0 if none */
	int child_status;
	uint64_t start_ns, last_tick_ns;
	uint64_t py_configs, py_config_fail;
};

void tracer__request_stop(void)
{
	stop_requested = 1;
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
static void configure_python(struct tracer *t, pid_t pid)
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
static int adopt(struct tracer *t, pid_t pid, pid_t ppid, bool root)
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
	configure_python(t, pid);
	memtrace__proc(t->mem, pid, false);
	return 0;
}

/* Trace root and every current descendant; repeat until a scan adds nobody. */
static int seed(struct tracer *t, pid_t root)
{
	int err, pass, added;

	err = adopt(t, root, proc_read_ppid(root), true);
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
			if (adopt(t, pid, ppid, false) == 0)
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
		configure_python(t, e->hdr.pid);
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

static void retry_python(struct tracer *t, uint64_t now);

/* A sampled allocation or the release of one. */
static int on_mem_event(struct tracer *t, const void *data, size_t size)
{
	const struct tp_hdr *h = data;
	uint32_t stack;

	if (h->type == TP_REC_PYFINAL) {
		profile__mem_final(t->prof, h->ts_ns, h->pid);
		return 0;
	}
	if (h->type == TP_REC_FREE_RANGE) {
		const struct tp_free_range *f = data;

		/* Not passed to on_mem: live's estimate keeps a mapping whole until its start
		 * goes (its exact heap, from the counters, is right). */
		if (size >= sizeof(*f))
			profile__mem_free_range(t->prof, f->hdr.ts_ns, f->hdr.pid, f->addr, f->len);
		return 0;
	}
	if (h->type == TP_REC_FREE) {
		const struct tp_free *f = data;

		if (size < sizeof(*f))
			return 0;
		profile__mem_free(t->prof, f->hdr.ts_ns, f->hdr.pid, f->kind, f->addr);
		if (t->sink.on_mem)
			t->sink.on_mem(t->sink.ctx, t->prof, f->hdr.pid, f->addr, 0, f->hdr.ts_ns);
		return 0;
	}
	if (h->type == TP_REC_ALLOC && size >= sizeof(struct tp_alloc)) {
		const struct tp_alloc *a = data;

		if (pidset__has(t->py_pending, a->hdr.pid))
			retry_python(t, clock__mono_ns());
		if (symbolizer__stack(t->sym, t->prof, &a->s, &stack))
			return 0;
		profile__mem_alloc(t->prof, a->hdr.ts_ns, a->hdr.pid, a->hdr.tid, a->kind, a->addr,
				   a->size, a->rate, stack);
		if (t->sink.on_mem && a->size)
			t->sink.on_mem(t->sink.ctx, t->prof, a->hdr.pid, a->addr,
				       memacct__weight(a->size, a->rate), a->hdr.ts_ns);
	}
	return 0;
}

/* A packed CPU sample (tp_psample) into out: 0, or -EINVAL when its counts or its size do
 * not add up (the record is then dropped). */
int tracer__unpack_sample(const void *data, size_t size, struct tp_sample *out)
{
	const struct tp_psample *p = data;
	size_t nk, nu, np;

	if (size < TP_PSAMPLE_HEAD)
		return -EINVAL;
	memcpy(out, p, TP_PSAMPLE_HEAD);
	nk = out->n_kstack > 0 ? (size_t)out->n_kstack : 0;
	nu = out->n_ustack > 0 ? (size_t)out->n_ustack : 0;
	np = out->n_py;
	if (nk > TP_MAX_KSTACK || nu > TP_MAX_USTACK || np > TP_MAX_PYFRAMES ||
	    size < TP_PSAMPLE_HEAD + 8 * (nk + nu) + sizeof(struct tp_pyframe) * np)
		return -EINVAL;
	memcpy(out->kstack, p->data, 8 * nk);
	memcpy(out->ustack, p->data + nk, 8 * nu);
	memcpy(out->py, p->data + nk + nu, sizeof(struct tp_pyframe) * np);
	return 0;
}

static int on_sample_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct tp_hdr *h = data;
	static struct tp_sample unpacked;
	const struct tp_sample *s = &unpacked;
	const struct prof_sample *rec;
	uint32_t stack;

	if (size >= sizeof(struct tp_hdr) && h->type != TP_REC_SAMPLE) {
		ring_buffer__consume(t->proc_rb);
		return on_mem_event(t, data, size);
	}
	if (size < sizeof(*h) || h->type != TP_REC_SAMPLE ||
	    tracer__unpack_sample(data, size, &unpacked))
		return 0;
	ring_buffer__consume(t->proc_rb); /* the fork/exec before this sample, if unread */
	if (pidset__has(t->py_pending, s->hdr.pid))
		retry_python(t, clock__mono_ns());
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

static int open_perf(struct tracer *t)
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

/* In the launched child, before exec: what --mem needs there. */
static int child_setup(void *ctx)
{
	const struct tracer *t = ctx;

	return memtrace__child_env(t->mem);
}

/* Trace the tree: fork the command (held until everything is attached) and trace it from
 * there, or seed from -p's process. 0, or -errno after one line on stderr. */
static int add_tree(struct tracer *t)
{
	int err;

	if (t->opts.cmd) {
		err = launch__hold(&t->launch, &t->launch_opts);
		if (err) {
			fprintf(stderr, "treeprof: fork: %s\n", strerror(-err));
			return err;
		}
		err = adopt(t, t->launch.pid, getpid(), true);
	} else {
		err = seed(t, t->opts.pid);
	}
	if (err)
		fprintf(stderr, "treeprof: adding the process tree: %s\n", strerror(-err));
	return err;
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

/* Open and configure the BPF object, relocated against btf (a cut-down kernel BTF file, or
 * NULL for the kernel's own), and load it: 0, or -errno. */
static int open_and_load(struct tracer *t, const struct memtrace_opts *mo, const char *btf)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf);
	const struct tracer_opts *o = &t->opts;

	t->skel = treeprof_bpf__open_opts(&oo);
	if (!t->skel)
		return -errno;
	bpf_map__set_max_entries(t->skel->maps.samples, (__u32)o->ringbuf_mb << 20);
	/* The per-process maps hold as many entries as the tree has processes, a few dozen
	 * mostly: preallocating 65536 each cost 20 ms of every start. */
	if (kfeature__hash_no_prealloc()) {
		struct bpf_map *per_process[] = {t->skel->maps.traced, t->skel->maps.pyconfigs,
						 t->skel->maps.mem_counts,
						 t->skel->maps.mem_shim_addr};

		for (size_t i = 0; i < sizeof(per_process) / sizeof(per_process[0]); i++)
			bpf_map__set_map_flags(per_process[i], BPF_F_NO_PREALLOC);
	}
	t->skel->rodata->wake_bytes = ((__u64)o->ringbuf_mb << 20) / 4;
	t->skel->rodata->native_stacks = o->native;
	memtrace__configure(t->skel, mo, o->mem);
	return treeprof_bpf__load(t->skel);
}

/* Open, configure, load and attach the BPF side (tracepoints first, so no fork between the
 * seeding scan and now is missed). 0, or -errno after one line on stderr. */
static int load_bpf(struct tracer *t, const struct memtrace_opts *mo)
{
	char why[256], btf[PATH_MAX];
	const void *obj;
	size_t obj_size;
	int err = -ENOENT;

	/* Relocate against the few kernel types the object reads, cached per boot: reading
	 * the kernel's whole BTF is most of a start's CPU. Any trouble: the whole, as before. */
	obj = treeprof_bpf__elf_bytes(&obj_size);
	if (!kbtf__path(FILE_CACHE_DIR, obj, obj_size, btf, sizeof(btf))) {
		err = open_and_load(t, mo, btf);
		if (!err && t->opts.verbose)
			fprintf(stderr, "treeprof: relocated against %s\n", btf);
		if (err) {
			if (t->opts.verbose)
				fprintf(stderr,
					"treeprof: %s did not serve (%s): using the "
					"kernel's BTF\n",
					btf, strerror(-err));
			treeprof_bpf__destroy(t->skel);
			t->skel = NULL;
			kbtf__forget(btf); /* the next start makes it again */
		}
	}
	if (err)
		err = open_and_load(t, mo, NULL);
	if (err && !t->skel) {
		fprintf(stderr, "treeprof: opening the BPF object: %s\n", strerror(-err));
		return err;
	}
	if (err) {
		if (kfeature__missing(why, sizeof(why)))
			fprintf(stderr, "treeprof: %s\n", why);
		else
			fprintf(stderr,
				"treeprof: loading the BPF programs: %s (run with -v for the "
				"verifier log)\n",
				strerror(-err));
		return err;
	}
	err = treeprof_bpf__attach(t->skel);
	if (err)
		fprintf(stderr, "treeprof: attaching the fork/exec/exit tracepoints: %s\n",
			strerror(-err));
	return err;
}

/* One manager for both rings: libbpf's epoll then watches the map descriptors themselves,
 * and a wake-up from either ring ends the wait. A second reader of proc_events (the consumer
 * position lives in the map, so the two never read a record twice): each sample first drains
 * it, so the fork or exec that came before a sample is always handled before the sample.
 * 0, or -errno after one line on stderr. */
static int open_rings(struct tracer *t)
{
	int proc_fd = bpf_map__fd(t->skel->maps.proc_events), err;

	t->rb = ring_buffer__new(proc_fd, on_proc_event, t, NULL);
	t->proc_rb = ring_buffer__new(proc_fd, on_proc_event, t, NULL);
	if (!t->rb || !t->proc_rb ||
	    ring_buffer__add(t->rb, bpf_map__fd(t->skel->maps.samples), on_sample_event, t)) {
		err = -errno;
		fprintf(stderr, "treeprof: ring buffers: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

static struct tracer *alloc_tracer(const struct tracer_opts *o, struct profile *prof,
				   const struct tracer_sink *sink)
{
	struct tracer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->opts = *o;
	t->prof = prof;
	if (sink)
		t->sink = *sink;
	t->child_status = -1;
	t->launch = (struct launch){.go_fd = -1, .err_fd = -1};
	t->launch_opts = (struct launch_opts){.cmd = o->cmd,
					      .run_as_user = o->run_as_user,
					      .run_uid = o->run_uid,
					      .run_gid = o->run_gid,
					      .child_setup = child_setup,
					      .ctx = t};
	t->live = pidset__new();
	t->py_pending = pidset__new();
	t->sym = symbolizer__new(o->native);
	if (!t->live || !t->py_pending || !t->sym) {
		tracer__free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

struct tracer *tracer__start(const struct tracer_opts *o, struct profile *prof,
			     const struct tracer_sink *sink)
{
	struct memtrace_opts mo = {.rate = o->mem_rate,
				   .mode = o->mem_mode,
				   .launch = o->cmd != NULL,
				   .verbose = o->verbose};
	struct tracer *t;
	int err;

	err = tracer__check_env();
	if (err) {
		errno = -err;
		return NULL;
	}
	t = alloc_tracer(o, prof, sink);
	if (!t)
		return NULL;
	stop_requested = 0;
	libbpf_set_print(o->verbose ? libbpf_print : libbpf_quiet);
	err = load_bpf(t, &mo);
	if (err)
		goto fail;
	if (o->mem) {
		t->mem = memtrace__new(t->skel, &mo, prof);
		if (!t->mem) {
			err = -errno;
			goto fail;
		}
	}
	t->start_ns = clock__mono_ns();
	t->last_tick_ns = t->start_ns;
	err = add_tree(t);
	if (!err)
		err = open_rings(t);
	if (!err && !o->no_cpu)
		err = open_perf(t);
	if (!err && o->cmd)
		err = launch__release(&t->launch);
	if (err)
		goto fail;
	return t;

fail:
	launch__abort(&t->launch);
	tracer__free(t);
	errno = -err;
	return NULL;
}

static void reap_child(struct tracer *t)
{
	int status;

	if (t->launch.pid > 0 && t->child_status == -1 &&
	    waitpid(t->launch.pid, &status, WNOHANG) > 0)
		t->child_status = status;
}

/* A process that exited between the seeding scan and its entry in the traced map never
 * sends an exit event: find such processes once a second, so the run can end. */
static void sweep_dead(struct tracer *t, uint64_t now)
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
static void retry_python(struct tracer *t, uint64_t now)
{
	pid_t pids[64];
	size_t n;

	if (!pidset__count(t->py_pending) || now < t->py_retry_ns)
		return;
	t->py_retry_ns = now + 2000000ULL;
	n = pidset__list(t->py_pending, pids, 64);
	for (size_t i = 0; i < n; i++)
		configure_python(t, pids[i]);
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
		reap_child(t);
		now = clock__mono_ns();
		retry_python(t, now);
		memtrace__poll(t->mem, t->live, now);
		if (now - t->last_tick_ns >= 1000000000ULL) {
			t->last_tick_ns = now;
			sweep_dead(t, now);
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
	if (t->launch.pid > 0 && t->child_status == -1 && pidset__count(t->live) == 0 &&
	    waitpid(t->launch.pid, &status, 0) == t->launch.pid)
		t->child_status = status;
	ring_buffer__consume(t->rb);
	return 0;
}

/* Stop sampling: the perf events are closed (the tracepoints stay until tracer__free). */
static void stop_sampling(struct tracer *t)
{
	for (int i = 0; t->perf_links && i < t->ncpus; i++) {
		bpf_link__destroy(t->perf_links[i]);
		t->perf_links[i] = NULL;
	}
	for (int i = 0; t->perf_fds && i < t->ncpus; i++) {
		if (t->perf_fds[i] >= 0)
			close(t->perf_fds[i]);
		t->perf_fds[i] = -1;
	}
}

void tracer__finish(struct tracer *t)
{
	uint64_t v;

	stop_sampling(t);
	stats__store_counters(bpf_map__fd(t->skel->maps.stats), t->mem != NULL, t->prof);
	profile__set_stat(t->prof, "python_processes_configured", t->py_configs);
	profile__set_stat(t->prof, "python_config_failures", t->py_config_fail);
	for (uint32_t i = 0;; i++) {
		const char *name = symbolizer__stat_at(t->sym, i, &v);

		if (!name)
			break;
		profile__set_stat(t->prof, name, v);
	}
	memtrace__store_stats(t->mem, t->prof);
	stats__store_cost(t->skel->obj, t->prof);
	profile__set_stat(t->prof, "duration_ns", clock__mono_ns() - t->start_ns);
}

int tracer__bpf_stat(const struct tracer *t, const char *name, uint64_t *value)
{
	return stats__counter(bpf_map__fd(t->skel->maps.stats), name, value);
}

int tracer__cmd_status(const struct tracer *t)
{
	return t->child_status;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	stop_sampling(t);
	memtrace__free(t->mem);
	ring_buffer__free(t->rb);
	ring_buffer__free(t->proc_rb);
	treeprof_bpf__destroy(t->skel);
	symbolizer__free(t->sym);
	pidset__free(t->live);
	pidset__free(t->py_pending);
	free_all(t->perf_fds, t->perf_links, t);
}
