// SPDX-License-Identifier: GPL-2.0
/* Allocation tracing: which processes get the allocator uprobes (memprobes.c), the
 * preloaded sampler in launch mode, and what is sampled besides them (RSS, exact totals). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "lib/clock.h"
#include "treeprof.h"
#include "treeprof.skel.h"
#include "trace/memtrace.h"
#include "trace/memprobes.h"
#include "lib/fileio.h"
#include "symbols/elfsym.h"
#include "symbols/procmaps.h"
#include "lib/pidset.h"
#include "trace/proctree.h"
#include "profile/profile.h"

#define MEM_POLL_NS    100000000ULL
#define MEM_RETRY_NS   2000000ULL
#define MEM_PENDING_NS 2000000000ULL /* give up on an image that maps no C library */
#define MEM_SHIM_NAME  "libtreeprof-mem.so"
#define MEM_MAX_LAT    4096 /* fork-to-probes latencies kept for the statistics */

#define MEM_MAX_PYFILES 32 /* distinct interpreter files probed at Py_FinalizeEx */

struct mem_pyfile {
	dev_t dev;
	ino_t ino;
	struct bpf_link *link; /* NULL: the file has no Py_FinalizeEx (looked at once) */
};

struct memtrace {
	struct treeprof_bpf *skel;
	struct memtrace_opts o;
	struct profile *prof;
	bool use_shim;
	char shim_path[PATH_MAX];
	struct bpf_link *shim_link, *sys_enter, *sys_exit;
	struct memprobes *probes; /* NULL until a process needs uprobes */
	struct pidset *pending;	  /* exec'd images whose C library is not mapped yet */
	uint64_t next_poll_ns, next_retry_ns, pending_since_ns;
	uint64_t no_sampler;
	uint32_t fork_lat_us[MEM_MAX_LAT]; /* fork to its probes attached */
	size_t nfork_lat;
	struct mem_pyfile pyfiles[MEM_MAX_PYFILES]; /* interpreters whose Py_FinalizeEx is probed */
	size_t npyfiles;
};

/* ln(x) for x > 0 without libm: x = m * 2^k, m in [0.5, 1), then the atanh series. */
static double mem_ln(double x)
{
	double y, y2, term, sum = 0;
	int k = 0;

	while (x < 0.5) {
		x *= 2;
		k--;
	}
	while (x >= 1) {
		x /= 2;
		k++;
	}
	y = (x - 1) / (x + 1);
	y2 = y * y;
	term = y;
	for (int n = 1; n < 200; n += 2) {
		sum += term / n;
		term *= y2;
	}
	return 2 * sum + k * 0.69314718055994530942;
}

void memtrace__configure(struct treeprof_bpf *skel, const struct memtrace_opts *o, bool mem)
{
	struct bpf_program *progs[] = {
	    skel->progs.mem_malloc,	  skel->progs.mem_calloc,    skel->progs.mem_realloc,
	    skel->progs.mem_reallocarray, skel->progs.mem_memalign,  skel->progs.mem_posix_memalign,
	    skel->progs.mem_valloc,	  skel->progs.mem_pvalloc,   skel->progs.mem_ret,
	    skel->progs.mem_free,	  skel->progs.mem_sys_enter, skel->progs.mem_sys_exit,
	    skel->progs.mem_shim_hook,	  skel->progs.mem_py_final,
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		bpf_program__set_autoload(progs[i], mem);
		bpf_program__set_autoattach(progs[i], false);
	}
	if (!mem) {
		/* A run without --mem never fills the memory maps: one entry each. Creating
		 * them at full size was 60 ms of every run's start (mem_live alone 35 ms). */
		bpf_map__set_max_entries(skel->maps.mem_live, 1);
		bpf_map__set_max_entries(skel->maps.mem_counts, 1);
		bpf_map__set_max_entries(skel->maps.mem_shim_addr, 1);
		return;
	}
	skel->rodata->mem_rate = o->rate ? o->rate : 1;
	for (int i = 0; i < 256; i++)
		skel->rodata->mem_exp[i] = (__u32)(-mem_ln((i + 0.5) / 256.0) * 65536.0);
	/* Every block is remembered when every allocation is sampled. */
	if (o->rate <= 1)
		bpf_map__set_max_entries(skel->maps.mem_live, 1 << 21);
}

static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) ||
	       (!strncmp(base, "libc-", 5) && strstr(base, ".so")) || !strncmp(base, "ld-musl-", 8);
}

/* The allocator probes, created on first need. */
static struct memprobes *mem_probes(struct memtrace *m)
{
	if (!m->probes) {
		m->probes = memprobes__new(m->skel, m->o.verbose);
		if (!m->probes)
			fprintf(stderr, "treeprof: the uprobe event source: %s\n", strerror(errno));
	}
	return m->probes;
}

/* pid's C library: probe pid's calls into it. 0 when done (attached, already, or the
 * process has none or is gone), -EAGAIN when not mapped yet. */
static int mem_find_libc(struct memtrace *m, pid_t pid)
{
	struct procmaps *pm = procmaps__load(pid);
	struct memprobes *probes = mem_probes(m);
	char path[PATH_MAX];
	struct stat st;
	int err = -EAGAIN, fd = -1;

	if (!pm || !probes) {
		procmaps__free(pm);
		return 0; /* gone, or no uprobes on this kernel (said once) */
	}
	for (size_t i = 0; i < pm->n; i++) {
		const struct procmap *mp = &pm->maps[i];

		if (mp->perms[2] != 'x' || !mp->path || !is_libc_name(mp->path))
			continue;
		/* The mapped file itself, wherever the process's root is. */
		snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid,
			 (unsigned long)mp->start, (unsigned long)mp->end);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			err = 0; /* gone */
			break;
		}
		err = memprobes__attach(probes, pid, fd, &st, mp->path);
		if (err && err != -ESRCH && err != -EMFILE && m->o.verbose)
			fprintf(stderr, "treeprof: pid %d: no allocator probes in %s: %s\n", pid,
				mp->path, strerror(-err));
		err = 0;
		break;
	}
	if (fd >= 0)
		close(fd);
	procmaps__free(pm);
	return err;
}

/* The sampler: $TREEPROF_MEM_SHIM, else next to the binary (the build tree), else in
 * ../lib/treeprof/ relative to it (an installed PREFIX/bin/treeprof). */
static int mem_find_shim(struct memtrace *m)
{
	static const char *const dirs[] = {"", "/../lib/treeprof"};
	char exe[PATH_MAX - 64], *slash; /* room for the directory and file name */
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("TREEPROF_MEM_SHIM");
	int err = -ENOENT;

	if (env && *env) {
		snprintf(m->shim_path, sizeof(m->shim_path), "%s", env);
		return access(m->shim_path, R_OK) ? -errno : 0;
	}
	if (n <= 0)
		return -errno;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(m->shim_path, sizeof(m->shim_path), "%s%s/%s", exe, dirs[i],
			 MEM_SHIM_NAME);
		if (!access(m->shim_path, R_OK))
			return 0;
		err = -errno;
	}
	return err;
}

struct memtrace *memtrace__new(struct treeprof_bpf *skel, const struct memtrace_opts *o,
			       struct profile *prof)
{
	struct memtrace *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return NULL;
	m->skel = skel;
	m->o = *o;
	m->prof = prof;
	m->pending = pidset__new();
	if (!m->pending) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	/* Any image may need allocator probes (launched ones that miss the sampler too):
	 * none may queue behind an earlier run's closes. */
	memprobes__wait_previous();
	m->use_shim = o->launch && o->mode != MEM_PROBE_UPROBES;
	if (m->use_shim) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "treeprof_mem_hook");

		err = mem_find_shim(m);
		if (!err) {
			m->shim_link = bpf_program__attach_uprobe_opts(skel->progs.mem_shim_hook,
								       -1, m->shim_path, 0, &uo);
			err = m->shim_link ? 0 : -errno;
		}
		if (err && o->mode == MEM_PROBE_PRELOAD) {
			fprintf(stderr, "treeprof: the allocation sampler %s: %s\n", m->shim_path,
				strerror(-err));
			memtrace__free(m);
			errno = -err;
			return NULL;
		}
		if (err) {
			fprintf(stderr,
				"treeprof: warning: allocation sampler %s unusable (%s): using "
				"uprobes on the C allocator\n",
				m->shim_path, strerror(-err));
			m->use_shim = false;
		}
	}
	if (!m->use_shim) {
		m->sys_enter = bpf_program__attach(skel->progs.mem_sys_enter);
		m->sys_exit = bpf_program__attach(skel->progs.mem_sys_exit);
		if (!m->sys_enter || !m->sys_exit) {
			err = -errno;
			fprintf(stderr, "treeprof: attaching the mmap tracepoints: %s\n",
				strerror(-err));
			memtrace__free(m);
			errno = -err;
			return NULL;
		}
		if (!mem_probes(m)) {
			err = -errno;
			memtrace__free(m);
			errno = -err;
			return NULL;
		}
	}
	return m;
}

int memtrace__child_env(const struct memtrace *m)
{
	const char *old = getenv("LD_PRELOAD");
	char rate[32], *pre;

	if (!m || !m->use_shim)
		return 0;
	snprintf(rate, sizeof(rate), "%llu", (unsigned long long)m->o.rate);
	if (setenv("TREEPROF_MEM_SAMPLE", rate, 1))
		return -1;
	if (old && *old) {
		if (asprintf(&pre, "%s:%s", m->shim_path, old) < 0)
			return -1;
	} else {
		pre = strdup(m->shim_path);
		if (!pre)
			return -1;
	}
	return setenv("LD_PRELOAD", pre, 1);
}

/* An executable mapping of the interpreter: the python executable (Python linked in) or
 * libpython. */
static bool is_python_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "python", 6) || !strncmp(base, "libpython", 9);
}

/* Probe Py_FinalizeEx in the interpreter file open at fd, once per file. */
static void mem_probe_final(struct memtrace *m, int fd, const struct stat *st, const char *name)
{
	struct mem_pyfile *f = &m->pyfiles[m->npyfiles];
	uint64_t vaddr, size, off;
	struct elfsym *e;
	char path[32];

	for (size_t i = 0; i < m->npyfiles; i++)
		if (m->pyfiles[i].dev == st->st_dev && m->pyfiles[i].ino == st->st_ino)
			return;
	if (m->npyfiles >= MEM_MAX_PYFILES)
		return;
	*f = (struct mem_pyfile){st->st_dev, st->st_ino, NULL};
	m->npyfiles++;
	e = elfsym__open_fd(fd, name);
	if (e && !elfsym__symbol(e, "Py_FinalizeEx", &vaddr, &size) &&
	    !elfsym__vaddr_to_offset(e, vaddr, &off)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		f->link =
		    bpf_program__attach_uprobe(m->skel->progs.mem_py_final, false, -1, path, off);
		if (!f->link && m->o.verbose)
			fprintf(stderr, "treeprof: Py_FinalizeEx in %s: %s\n", name,
				strerror(errno));
	}
	elfsym__free(e);
}

/* pid's interpreter, if it has one mapped: its Py_FinalizeEx probed (what the application
 * holds when its code is done is what it kept). */
static void mem_find_python(struct memtrace *m, pid_t pid)
{
	struct procmaps *pm = procmaps__load(pid);
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; pm && i < pm->n; i++) {
		const struct procmap *mp = &pm->maps[i];
		int fd;

		if (mp->perms[2] != 'x' || !mp->path || !is_python_name(mp->path))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid,
			 (unsigned long)mp->start, (unsigned long)mp->end);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		if (!fstat(fd, &st))
			mem_probe_final(m, fd, &st, mp->path);
		close(fd);
	}
	procmaps__free(pm);
}

/* What ld.so has mapped of pid's new image so far. */
enum mem_image { IMG_NOT_YET, IMG_SAMPLER, IMG_NO_SAMPLER, IMG_GONE };

/* Launch mode: did pid's image load the sampler? Preloaded objects are mapped before the
 * C library, so once the C library is there the answer is final. An image whose root
 * lacks the file (a chroot, a container), or whose environment was cleared (env -i, sudo),
 * or a static binary never maps it. */
static enum mem_image mem_image_state(const struct memtrace *m, pid_t pid)
{
	struct procmaps *pm = procmaps__load(pid);
	const char *shim = strrchr(m->shim_path, '/');
	bool libc = false, sampler = false;

	if (!pm)
		return IMG_GONE;
	shim = shim ? shim + 1 : m->shim_path;
	for (size_t i = 0; i < pm->n; i++) {
		const char *path = pm->maps[i].path, *base;

		if (!path || !*path)
			continue;
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		sampler |= !strcmp(base, shim);
		libc |= pm->maps[i].perms[2] == 'x' && is_libc_name(path);
	}
	procmaps__free(pm);
	if (sampler)
		return IMG_SAMPLER;
	return libc ? IMG_NO_SAMPLER : IMG_NOT_YET;
}

static void mem_set_shim_flag(struct memtrace *m, pid_t pid)
{
	int fd = bpf_map__fd(m->skel->maps.traced);
	struct tp_proc val;
	__u32 key = pid;

	if (!bpf_map_lookup_elem(fd, &key, &val)) {
		val.flags |= TP_PROC_SHIM;
		bpf_map_update_elem(fd, &key, &val, BPF_EXIST);
	}
}

/* Launch mode, an image whose C library is mapped: the sampler's, or uprobes on its libc. */
static int mem_settle_image(struct memtrace *m, pid_t pid)
{
	switch (mem_image_state(m, pid)) {
	case IMG_NOT_YET:
		return -EAGAIN;
	case IMG_GONE:
		return 0;
	case IMG_SAMPLER:
		mem_find_python(m, pid);   /* libpython is mapped by now */
		mem_set_shim_flag(m, pid); /* its allocator calls are the sampler's to count */
		memprobes__detach(m->probes, pid); /* the image before had none */
		return 0;
	case IMG_NO_SAMPLER:
		break;
	}
	mem_find_python(m, pid);
	m->no_sampler++;
	if (m->o.verbose)
		fprintf(stderr,
			"treeprof: pid %d did not load the allocation sampler (other root, cleared "
			"environment, static binary): uprobes on its C library\n",
			pid);
	if (!m->sys_enter)
		m->sys_enter = bpf_program__attach(m->skel->progs.mem_sys_enter);
	if (!m->sys_exit)
		m->sys_exit = bpf_program__attach(m->skel->progs.mem_sys_exit);
	return mem_find_libc(m, pid);
}

/* A pid to look at again soon; given up on after MEM_PENDING_NS (an image that never maps a
 * C library). */
static void mem_pend(struct memtrace *m, pid_t pid)
{
	pidset__add(m->pending, pid);
	if (!m->pending_since_ns)
		m->pending_since_ns = clock__mono_ns();
}

void memtrace__proc(struct memtrace *m, pid_t pid, bool exec)
{
	if (!m)
		return;
	mem_find_python(m, pid);
	if (m->use_shim) {
		/* Only exec'd images can have it: the launched command before its exec is ours. */
		if (exec && mem_settle_image(m, pid) == -EAGAIN)
			mem_pend(m, pid);
		return;
	}
	if (mem_find_libc(m, pid) == -EAGAIN && exec)
		mem_pend(m, pid);
}

void memtrace__fork(struct memtrace *m, pid_t pid, pid_t ppid, uint64_t fork_ns)
{
	uint64_t lat_us;

	if (!m)
		return;
	/* Launch mode: only the children of images without the sampler need probes. */
	if (m->use_shim && !memprobes__has(m->probes, ppid))
		return;
	if (mem_find_libc(m, pid) || !memprobes__has(m->probes, pid))
		return;
	lat_us = (clock__mono_ns() - fork_ns) / 1000;
	if (m->nfork_lat < MEM_MAX_LAT)
		m->fork_lat_us[m->nfork_lat++] = lat_us > UINT32_MAX ? UINT32_MAX : lat_us;
	if (m->o.verbose)
		fprintf(stderr, "treeprof: pid %d: allocator probes %llu us after its fork\n", pid,
			(unsigned long long)lat_us);
}

bool memtrace__pending(const struct memtrace *m)
{
	return m && pidset__count(m->pending);
}

void memtrace__exit(struct memtrace *m, pid_t pid)
{
	if (!m)
		return;
	pidset__del(m->pending, pid);
	memprobes__detach(m->probes, pid);
}

void memtrace__poll(struct memtrace *m, const struct pidset *tree, uint64_t now_ns)
{
	pid_t live[1024];
	size_t n;
	int fd;

	if (!m)
		return;
	if (pidset__count(m->pending) && now_ns >= m->next_retry_ns) {
		pid_t pids[64];
		size_t np = pidset__list(m->pending, pids, 64);

		m->next_retry_ns = now_ns + MEM_RETRY_NS;
		for (size_t i = 0; i < np; i++) {
			int err =
			    m->use_shim ? mem_settle_image(m, pids[i]) : mem_find_libc(m, pids[i]);

			if (err == -EAGAIN)
				continue;
			if (!m->use_shim) /* a libpython is mapped with the C library */
				mem_find_python(m, pids[i]);
			pidset__del(m->pending, pids[i]);
		}
		if (!pidset__count(m->pending))
			m->pending_since_ns = 0;
		else if (now_ns - m->pending_since_ns > MEM_PENDING_NS) {
			for (size_t i = 0; i < np; i++)
				pidset__del(m->pending, pids[i]);
			m->pending_since_ns = 0;
		}
	}
	if (now_ns < m->next_poll_ns)
		return;
	m->next_poll_ns = now_ns + MEM_POLL_NS;
	n = pidset__list(tree, live, sizeof(live) / sizeof(live[0]));
	fd = bpf_map__fd(m->skel->maps.mem_counts);
	for (size_t i = 0; i < n; i++) {
		struct tp_memcounters c;
		__u32 key = live[i];
		uint64_t rss = proc_read_rss(live[i]), addr;

		if (rss)
			profile__mem_rss(m->prof, now_ns, live[i], rss);
		/* Launch mode: the sampler's totals, read from the process (they are only
		 * numbers: nothing in them is followed). Else what BPF counted. */
		if (!bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.mem_shim_addr), &key, &addr)) {
			struct iovec local = {&c, sizeof(c)}, remote = {(void *)addr, sizeof(c)};

			if (process_vm_readv(live[i], &local, 1, &remote, 1, 0) == sizeof(c))
				profile__mem_counters(m->prof, now_ns, live[i], &c);
			continue;
		}
		if (!bpf_map_lookup_elem(fd, &key, &c))
			profile__mem_counters(m->prof, now_ns, live[i], &c);
	}
}

static int mem_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void memtrace__store_stats(struct memtrace *m, struct profile *prof)
{
	struct memprobes_stats s;

	if (!m)
		return;
	memprobes__stats(m->probes, &s);
	profile__set_stat(prof, "mem_sample_bytes", m->o.rate);
	profile__set_stat(prof, "mem_preload_sampler", m->use_shim);
	profile__set_stat(prof, "mem_libcs_probed", s.libcs);
	profile__set_stat(prof, "mem_probes_on_entry", s.probes_on_entry);
	profile__set_stat(prof, "mem_probes_past_null_test", s.probes_past_null_test);
	profile__set_stat(prof, "mem_probe_attach_failures", s.attach_failures);
	profile__set_stat(prof, "mem_processes_probed", s.procs_probed);
	profile__set_stat(prof, "mem_processes_unprobed", s.procs_unprobed);
	profile__set_stat(prof, "mem_probe_links_peak", s.links_peak);
	profile__set_stat(prof, "mem_probe_links_budget", s.links_budget);
	profile__set_stat(prof, "mem_processes_without_sampler", m->no_sampler);
	if (m->nfork_lat) {
		qsort(m->fork_lat_us, m->nfork_lat, sizeof(m->fork_lat_us[0]), mem_cmp_u32);
		profile__set_stat(prof, "mem_fork_to_probes_us_median",
				  m->fork_lat_us[m->nfork_lat / 2]);
		profile__set_stat(prof, "mem_fork_to_probes_us_max",
				  m->fork_lat_us[m->nfork_lat - 1]);
	}
}

void memtrace__free(struct memtrace *m)
{
	if (!m)
		return;
	memprobes__free(m->probes);
	bpf_link__destroy(m->shim_link);
	bpf_link__destroy(m->sys_enter);
	bpf_link__destroy(m->sys_exit);
	for (size_t i = 0; i < m->npyfiles; i++)
		bpf_link__destroy(m->pyfiles[i].link);
	pidset__free(m->pending);
	free(m);
}
