// SPDX-License-Identifier: GPL-2.0
/* Allocation tracing: where the probes go and what is sampled besides them.
 *
 * Every probe hit is a trap, so placement matters. The kernel emulates some instructions
 * at a probe (push of a register, jumps and calls) and single-steps the others out of line,
 * which costs about ten times more. A return probe must sit on a function's first
 * instruction; free needs none, so when free starts with the NULL test glibc puts first
 * (`test %rdi,%rdi; je`) and a push follows, its probe goes on the push: free(NULL) does
 * nothing anyway. The placement of each probe is recorded in the run's statistics. */
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

#include "treeprof.h"
#include "treeprof.skel.h"
#include "memtrace.h"
#include "elfsym.h"
#include "fileio.h"
#include "procmaps.h"
#include "proctree.h"
#include "profile.h"

#define MEM_POLL_NS    100000000ULL
#define MEM_RETRY_NS   2000000ULL
#define MEM_MAX_LIBCS  16
#define MEM_PENDING_NS 2000000000ULL /* give up on an image that maps no C library */
#define MEM_SHIM_NAME  "libtreeprof-mem.so"
#define MEM_MAX_PROBES 12

struct mem_fn {
	const char *name;
	bool ret;  /* needs the returned block */
	bool free; /* free: may skip the NULL test */
};

/* The allocator's entry points; aliases (same address) are probed once. */
static const struct mem_fn mem_fns[] = {
    {"malloc", true, false},	     {"calloc", true, false},	{"realloc", true, false},
    {"reallocarray", true, false},   {"memalign", true, false}, {"aligned_alloc", true, false},
    {"posix_memalign", true, false}, {"valloc", true, false},	{"pvalloc", true, false},
    {"free", false, true},
};

struct libc_ent {
	dev_t dev;
	ino_t ino;
	struct bpf_link *links[2 * MEM_MAX_PROBES];
	int nlinks;
};

struct memtrace {
	struct treeprof_bpf *skel;
	struct memtrace_opts o;
	struct profile *prof;
	bool use_shim;
	char shim_path[PATH_MAX];
	struct bpf_link *shim_link, *sys_enter, *sys_exit;
	struct libc_ent libcs[MEM_MAX_LIBCS];
	int nlibcs;
	struct pidset *pending; /* exec'd images whose C library is not mapped yet */
	uint64_t next_poll_ns, next_retry_ns, pending_since_ns;
	uint64_t probes_on_entry, probes_past_null_test, attach_failures, no_sampler;
};

static uint64_t mem_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static struct bpf_program *mem_prog(struct treeprof_bpf *skel, const char *fn)
{
	if (!strcmp(fn, "malloc"))
		return skel->progs.mem_malloc;
	if (!strcmp(fn, "calloc"))
		return skel->progs.mem_calloc;
	if (!strcmp(fn, "realloc"))
		return skel->progs.mem_realloc;
	if (!strcmp(fn, "reallocarray"))
		return skel->progs.mem_reallocarray;
	if (!strcmp(fn, "memalign") || !strcmp(fn, "aligned_alloc"))
		return skel->progs.mem_memalign;
	if (!strcmp(fn, "posix_memalign"))
		return skel->progs.mem_posix_memalign;
	if (!strcmp(fn, "valloc"))
		return skel->progs.mem_valloc;
	if (!strcmp(fn, "pvalloc"))
		return skel->progs.mem_pvalloc;
	return skel->progs.mem_free;
}

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
	    skel->progs.mem_shim_hook,
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

/* Where the probe of fn goes, as an offset from its symbol: 0 (entry), or past the NULL
 * test of free when a push follows it. */
static uint64_t mem_placement(const struct elfsym *e, uint64_t vaddr, bool is_free)
{
	unsigned char b[16];
	size_t at;

	if (!is_free || elfsym__read(e, vaddr, b, sizeof(b)))
		return 0;
	if (b[0] != 0x48 || b[1] != 0x85 || b[2] != 0xff) /* test %rdi,%rdi */
		return 0;
	if (b[3] == 0x74) /* je rel8 */
		at = 5;
	else if (b[3] == 0x0f && b[4] == 0x84) /* je rel32 */
		at = 9;
	else
		return 0;
	if ((b[at] >= 0x50 && b[at] <= 0x57) ||
	    (b[at] == 0x41 && b[at + 1] >= 0x50 && b[at + 1] <= 0x57)) /* push %reg */
		return at;
	return 0;
}

static int mem_attach_libc(struct memtrace *m, const char *path, const struct stat *st)
{
	struct libc_ent *l;
	uint64_t seen[MEM_MAX_PROBES];
	int nseen = 0, attached = 0;
	struct elfsym *e;

	if (m->nlibcs >= MEM_MAX_LIBCS)
		return -ENOSPC;
	e = elfsym__open(path);
	if (!e)
		return -errno;
	l = &m->libcs[m->nlibcs];
	memset(l, 0, sizeof(*l));
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	for (size_t i = 0; i < sizeof(mem_fns) / sizeof(mem_fns[0]); i++) {
		const struct mem_fn *fn = &mem_fns[i];
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = fn->name);
		struct bpf_link *link;
		uint64_t vaddr, size, skip;
		bool dup = false;

		if (elfsym__symbol(e, fn->name, &vaddr, &size))
			continue;
		for (int j = 0; j < nseen; j++)
			dup |= seen[j] == vaddr;
		if (dup || nseen >= MEM_MAX_PROBES)
			continue;
		seen[nseen++] = vaddr;
		skip = mem_placement(e, vaddr, fn->free);
		if (skip)
			m->probes_past_null_test++;
		else
			m->probes_on_entry++;
		link = bpf_program__attach_uprobe_opts(mem_prog(m->skel, fn->name), -1, path, skip,
						       &uo);
		if (!link) {
			m->attach_failures++;
			if (m->o.verbose)
				fprintf(stderr, "treeprof: uprobe %s in %s: %s\n", fn->name, path,
					strerror(errno));
			continue;
		}
		l->links[l->nlinks++] = link;
		attached++;
		if (!fn->ret)
			continue;
		uo.retprobe = true;
		link = bpf_program__attach_uprobe_opts(m->skel->progs.mem_ret, -1, path, 0, &uo);
		if (!link) {
			m->attach_failures++;
			continue;
		}
		l->links[l->nlinks++] = link;
	}
	elfsym__free(e);
	if (!attached)
		return -ENOENT; /* not remembered: the next process using it tries again */
	m->nlibcs++;
	if (m->o.verbose)
		fprintf(stderr, "treeprof: allocator probes in %s: %d functions\n", path, attached);
	return attached ? 0 : -ENOENT;
}

static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) ||
	       (!strncmp(base, "libc-", 5) && strstr(base, ".so")) || !strncmp(base, "ld-musl-", 8);
}

/* pid's C library: attach to it if it is one we have not seen. 0 when done (attached, known,
 * or the process has none), -EAGAIN when not mapped yet. */
static int mem_find_libc(struct memtrace *m, pid_t pid)
{
	struct procmaps *pm = procmaps__load(pid);
	char path[PATH_MAX];
	struct stat st;
	int err = -EAGAIN, fd = -1;

	if (!pm)
		return 0; /* gone */
	for (size_t i = 0; i < pm->n; i++) {
		const struct tp_mapping *mp = &pm->maps[i];

		if (mp->perms[2] != 'x' || !mp->path || !is_libc_name(mp->path))
			continue;
		/* The mapped file itself, wherever the process's root is; held open, so that
		 * the process may exec or exit while its probes are attached. */
		snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid,
			 (unsigned long)mp->start, (unsigned long)mp->end);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			err = 0; /* gone */
			break;
		}
		err = 0;
		for (int j = 0; j < m->nlibcs; j++)
			if (m->libcs[j].dev == st.st_dev && m->libcs[j].ino == st.st_ino)
				goto out;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (mem_attach_libc(m, path, &st) && m->o.verbose)
			fprintf(stderr, "treeprof: pid %d: no allocator probes in %s\n", pid,
				mp->path);
		break;
	}
out:
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
		mem_set_shim_flag(m, pid); /* its allocator calls are the sampler's to count */
		return 0;
	case IMG_NO_SAMPLER:
		break;
	}
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
		m->pending_since_ns = mem_now_ns();
}

void memtrace__proc(struct memtrace *m, pid_t pid, bool exec)
{
	if (!m)
		return;
	if (m->use_shim) {
		/* Only exec'd images can have it: the launched command before its exec is ours. */
		if (exec && mem_settle_image(m, pid) == -EAGAIN)
			mem_pend(m, pid);
		return;
	}
	if (mem_find_libc(m, pid) == -EAGAIN && exec)
		mem_pend(m, pid);
}

bool memtrace__pending(const struct memtrace *m)
{
	return m && pidset__count(m->pending);
}

void memtrace__exit(struct memtrace *m, pid_t pid)
{
	if (m)
		pidset__del(m->pending, pid);
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

			if (err != -EAGAIN)
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

void memtrace__store_stats(struct memtrace *m, struct profile *prof)
{
	if (!m)
		return;
	profile__set_stat(prof, "mem_sample_bytes", m->o.rate);
	profile__set_stat(prof, "mem_preload_sampler", m->use_shim);
	profile__set_stat(prof, "mem_libcs_probed", m->nlibcs);
	profile__set_stat(prof, "mem_probes_on_entry", m->probes_on_entry);
	profile__set_stat(prof, "mem_probes_past_null_test", m->probes_past_null_test);
	profile__set_stat(prof, "mem_probe_attach_failures", m->attach_failures);
	profile__set_stat(prof, "mem_processes_without_sampler", m->no_sampler);
}

void memtrace__free(struct memtrace *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nlibcs; i++)
		for (int j = 0; j < m->libcs[i].nlinks; j++)
			bpf_link__destroy(m->libcs[i].links[j]);
	bpf_link__destroy(m->shim_link);
	bpf_link__destroy(m->sys_enter);
	bpf_link__destroy(m->sys_exit);
	pidset__free(m->pending);
	free(m);
}
