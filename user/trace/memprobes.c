// SPDX-License-Identifier: GPL-2.0
/* The C allocator's uprobes, per traced process (see memprobes.h).
 *
 * Every probe hit is a trap, so placement matters. The kernel emulates some instructions
 * at a probe (push of a register, jumps and calls) and single-steps the others out of line,
 * which costs about ten times more. A return probe must sit on a function's first
 * instruction; free needs none, so when free starts with the NULL test glibc puts first
 * (`test %rdi,%rdi; je`) and a push follows, its probe goes on the push: free(NULL) does
 * nothing anyway.
 *
 * The perf events are opened here rather than through libbpf: libbpf would read the ELF
 * file again for every process, and keeps the event's descriptor open beside the link's;
 * the link holds the event, so one descriptor per probe is enough. */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/vec.h"
#include "treeprof.skel.h"
#include "trace/memprobes.h"
#include "symbols/elfsym.h"
#include "lib/fileio.h"

#define MP_MAX_LIBCS  16
#define MP_MAX_PROBES 24  /* entry and return probes of one library */
#define MP_FD_RESERVE 512 /* descriptors left for everything else */

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

struct mp_probe {
	const char *fn;
	int prog_fd;
	uint64_t off; /* file offset */
	bool ret;
};

struct mp_libc {
	dev_t dev;
	ino_t ino;
	int fd;	       /* held open: the probes name the file by it */
	char path[32]; /* /proc/self/fd/N */
	char name[128];
	struct mp_probe probes[MP_MAX_PROBES];
	int nprobes;
};

struct mp_proc {
	pid_t pid;
	int libc;
	int nlinks;
	int links[MP_MAX_PROBES];
};

struct memprobes {
	struct treeprof_bpf *skel;
	bool verbose, warned_budget;
	int pmu_type, ret_bit;
	struct mp_libc libcs[MP_MAX_LIBCS];
	int nlibcs;
	struct mp_proc *procs; /* unordered; few enough to scan */
	size_t nprocs, cap;
	struct memprobes_stats st;
	/* Closing a link waits for RCU grace periods under a kernel-wide mutex (about 60 ms
	 * on 6.18): a thread does it, so that the event loop never waits. */
	pthread_t closer;
	bool has_closer, stop;
	pthread_mutex_t lock; /* links, doomed, stop */
	/* Held by an attach, and by the closer around each close: opening an event waits for
	 * the same kernel mutex, so an attach waits for one close at most, not the queue. */
	pthread_mutex_t gate;
	pthread_cond_t cv;
	uint64_t links; /* open, queued for closing included */
	int *doomed;
	size_t ndoomed, doomed_head, doomed_cap;
};

static struct bpf_program *mp_prog(struct treeprof_bpf *skel, const char *fn)
{
	const struct {
		const char *fn;
		struct bpf_program *prog;
	} progs[] = {
	    {"malloc", skel->progs.mem_malloc},
	    {"calloc", skel->progs.mem_calloc},
	    {"realloc", skel->progs.mem_realloc},
	    {"reallocarray", skel->progs.mem_reallocarray},
	    {"memalign", skel->progs.mem_memalign},
	    {"aligned_alloc", skel->progs.mem_memalign},
	    {"posix_memalign", skel->progs.mem_posix_memalign},
	    {"valloc", skel->progs.mem_valloc},
	    {"pvalloc", skel->progs.mem_pvalloc},
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (!strcmp(fn, progs[i].fn))
			return progs[i].prog;
	return skel->progs.mem_free;
}

/* Where the probe of fn goes, as an offset from its symbol: 0 (entry), or past the NULL
 * test of free when a push follows it. */
static uint64_t mp_placement(const struct elfsym *e, uint64_t vaddr, bool is_free)
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

/* The uprobe PMU's type and the bit of config that makes a return probe. */
static int mp_read_pmu(struct memprobes *mp)
{
	char buf[64];
	long v;

	if (file__read_small("/sys/bus/event_source/devices/uprobe/type", buf, sizeof(buf)) <= 0)
		return -ENOENT;
	mp->pmu_type = (int)strtol(buf, NULL, 10);
	mp->ret_bit = 0;
	if (file__read_small("/sys/bus/event_source/devices/uprobe/format/retprobe", buf,
			     sizeof(buf)) > 0 &&
	    !strncmp(buf, "config:", 7)) {
		v = strtol(buf + 7, NULL, 10);
		if (v >= 0 && v < 64)
			mp->ret_bit = (int)v;
	}
	return 0;
}

/* Raise the descriptor limit to the hard one; the links may use all but a reserve. */
static uint64_t mp_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};

		if (!setrlimit(RLIMIT_NOFILE, &want))
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1 << 20;
	return rl.rlim_cur > 2 * MP_FD_RESERVE ? rl.rlim_cur - MP_FD_RESERVE : rl.rlim_cur / 2;
}

static void *mp_closer(void *arg);

struct memprobes *memprobes__new(struct treeprof_bpf *skel, bool verbose)
{
	struct memprobes *mp = calloc(1, sizeof(*mp));
	int err;

	if (!mp)
		return NULL;
	mp->skel = skel;
	mp->verbose = verbose;
	err = mp_read_pmu(mp);
	if (err) {
		free(mp);
		errno = -err;
		return NULL;
	}
	mp->st.links_budget = mp_budget();
	pthread_mutex_init(&mp->lock, NULL);
	pthread_mutex_init(&mp->gate, NULL);
	pthread_cond_init(&mp->cv, NULL);
	mp->doomed_cap = mp->st.links_budget;
	mp->doomed = calloc(mp->doomed_cap, sizeof(*mp->doomed));
	mp->has_closer = mp->doomed && !pthread_create(&mp->closer, NULL, mp_closer, mp);
	return mp;
}

static int mp_libc_find(const struct memprobes *mp, const struct stat *st)
{
	for (int i = 0; i < mp->nlibcs; i++)
		if (mp->libcs[i].dev == st->st_dev && mp->libcs[i].ino == st->st_ino)
			return i;
	return -1;
}

/* A C library met for the first time: where each of its probes goes. Its index, or
 * -ENOSPC, -ENOENT (no allocator symbol), another errno. */
static int mp_libc_add(struct memprobes *mp, int fd, const struct stat *st, const char *name)
{
	struct mp_libc *l = &mp->libcs[mp->nlibcs];
	uint64_t seen[MP_MAX_PROBES], on_entry = 0, past_test = 0;
	int nseen = 0, err;
	struct elfsym *e;

	if (mp->nlibcs >= MP_MAX_LIBCS)
		return -ENOSPC;
	e = elfsym__open_fd(fd, name);
	if (!e)
		return -errno;
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < sizeof(mem_fns) / sizeof(mem_fns[0]); i++) {
		const struct mem_fn *fn = &mem_fns[i];
		uint64_t vaddr, size, skip, off;
		bool dup = false;

		if (elfsym__symbol(e, fn->name, &vaddr, &size))
			continue;
		for (int j = 0; j < nseen; j++)
			dup |= seen[j] == vaddr;
		if (dup || l->nprobes + 2 > MP_MAX_PROBES ||
		    elfsym__vaddr_to_offset(e, vaddr, &off))
			continue;
		seen[nseen++] = vaddr;
		skip = mp_placement(e, vaddr, fn->free);
		if (skip)
			past_test++;
		else
			on_entry++;
		/* The return probe first: placed in this order, no call is seen entering
		 * without its return being seen too (a call pending for ever would hide the
		 * process's later system calls, and its calls deeper in the stack as nested). */
		if (fn->ret)
			l->probes[l->nprobes++] = (struct mp_probe){
			    fn->name, bpf_program__fd(mp->skel->progs.mem_ret), off, true};
		l->probes[l->nprobes++] = (struct mp_probe){
		    fn->name, bpf_program__fd(mp_prog(mp->skel, fn->name)), off + skip, false};
	}
	elfsym__free(e);
	if (!l->nprobes)
		return -ENOENT; /* not remembered: the next process using it tries again */
	l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (l->fd < 0) {
		err = -errno;
		return err;
	}
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	snprintf(l->path, sizeof(l->path), "/proc/self/fd/%d", l->fd);
	snprintf(l->name, sizeof(l->name), "%s", name);
	mp->st.libcs++;
	mp->st.probes_on_entry += on_entry;
	mp->st.probes_past_null_test += past_test;
	if (mp->verbose)
		fprintf(stderr, "treeprof: allocator probes in %s: %d functions\n", name, nseen);
	return mp->nlibcs++;
}

/* One probe of library l in process pid: the link's descriptor, or a negative errno. */
static int mp_link(struct memprobes *mp, const struct mp_libc *l, const struct mp_probe *p,
		   pid_t pid)
{
	struct perf_event_attr attr = {
	    .size = sizeof(attr),
	    .type = mp->pmu_type,
	    .config = p->ret ? 1ULL << mp->ret_bit : 0,
	    .config1 = (uint64_t)(uintptr_t)l->path, /* uprobe_path */
	    .config2 = p->off,			     /* probe_offset */
	};
	int pfd, lfd, err;

	pfd = syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return -errno;
	lfd = bpf_link_create(p->prog_fd, pfd, BPF_PERF_EVENT, NULL);
	err = lfd < 0 ? -errno : 0;
	if (!err && ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0))
		err = -errno;
	close(pfd); /* the link holds the event */
	if (err && lfd >= 0)
		close(lfd);
	return err ? err : lfd;
}

static struct mp_proc *mp_proc_find(const struct memprobes *mp, pid_t pid)
{
	for (size_t i = 0; i < mp->nprocs; i++)
		if (mp->procs[i].pid == pid)
			return &mp->procs[i];
	return NULL;
}

bool memprobes__has(const struct memprobes *mp, pid_t pid)
{
	return mp && mp_proc_find(mp, pid);
}

/* The closer thread: closes the links of processes that are gone, oldest first, once they
 * hold half the budget, and all of them at the end. A dead process's links are inert. */
static void *mp_closer(void *arg)
{
	struct memprobes *mp = arg;

	pthread_mutex_lock(&mp->lock);
	for (;;) {
		int fd;

		/* Only under pressure while the run lasts: a close in flight delays the
		 * attach of a new child by as much. */
		while (!mp->stop && !(mp->ndoomed && 2 * mp->links > mp->st.links_budget))
			pthread_cond_wait(&mp->cv, &mp->lock);
		if (mp->stop || !mp->ndoomed) /* what is left goes to mp_close_detached */
			break;
		fd = mp->doomed[mp->doomed_head];
		mp->doomed_head = (mp->doomed_head + 1) % mp->doomed_cap;
		mp->ndoomed--;
		pthread_mutex_unlock(&mp->lock);
		pthread_mutex_lock(&mp->gate);
		close(fd); /* tens of ms: the kernel waits for RCU grace periods */
		pthread_mutex_unlock(&mp->gate);
		pthread_mutex_lock(&mp->lock);
		mp->links--;
	}
	pthread_mutex_unlock(&mp->lock);
	return NULL;
}

/* Queue fd for the closer thread; closed here when there is none or the queue is full. */
static void mp_close_link(struct memprobes *mp, int fd)
{
	if (mp->has_closer) {
		pthread_mutex_lock(&mp->lock);
		if (mp->ndoomed < mp->doomed_cap) {
			mp->doomed[(mp->doomed_head + mp->ndoomed) % mp->doomed_cap] = fd;
			mp->ndoomed++;
			pthread_cond_signal(&mp->cv);
			pthread_mutex_unlock(&mp->lock);
			return;
		}
		pthread_mutex_unlock(&mp->lock);
	}
	close(fd);
	pthread_mutex_lock(&mp->lock);
	mp->links--;
	pthread_mutex_unlock(&mp->lock);
}

void memprobes__detach(struct memprobes *mp, pid_t pid)
{
	struct mp_proc *p = mp ? mp_proc_find(mp, pid) : NULL;

	if (!p)
		return;
	for (int i = 0; i < p->nlinks; i++)
		mp_close_link(mp, p->links[i]);
	*p = mp->procs[--mp->nprocs];
}

static struct mp_proc *mp_proc_add(struct memprobes *mp, pid_t pid, int libc)
{
	struct mp_proc *p;

	if (vec__grow((void **)&mp->procs, &mp->cap, mp->nprocs + 1, sizeof(*mp->procs)))
		return NULL;
	p = &mp->procs[mp->nprocs++];
	p->pid = pid;
	p->libc = libc;
	p->nlinks = 0;
	return p;
}

int memprobes__attach(struct memprobes *mp, pid_t pid, int fd, const struct stat *st,
		      const char *name)
{
	int li = mp_libc_find(mp, st), err = 0;
	uint64_t links;
	struct mp_proc *p;
	struct mp_libc *l;

	if (li < 0)
		li = mp_libc_add(mp, fd, st, name);
	if (li < 0)
		return li;
	l = &mp->libcs[li];
	p = mp_proc_find(mp, pid);
	if (p && p->libc == li)
		return 0;
	memprobes__detach(mp, pid); /* its image before an exec used another library */
	pthread_mutex_lock(&mp->lock);
	links = mp->links;
	pthread_mutex_unlock(&mp->lock);
	if (links + l->nprobes > mp->st.links_budget) {
		mp->st.procs_unprobed++;
		if (!mp->warned_budget)
			fprintf(stderr,
				"treeprof: warning: pid %d and later ones get no allocator probes: "
				"%llu links reach the open-file budget (raise ulimit -n)\n",
				pid, (unsigned long long)links);
		mp->warned_budget = true;
		return -EMFILE;
	}
	p = mp_proc_add(mp, pid, li);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&mp->gate);
	for (int i = 0; i < l->nprobes; i++) {
		int lfd = mp_link(mp, l, &l->probes[i], pid);

		if (lfd == -ESRCH) { /* exited meanwhile */
			err = lfd;
			break;
		}
		if (lfd < 0) {
			mp->st.attach_failures++;
			err = lfd;
			if (mp->verbose)
				fprintf(stderr, "treeprof: pid %d: %sprobe %s in %s: %s\n", pid,
					l->probes[i].ret ? "ret" : "u", l->probes[i].fn, l->name,
					strerror(-lfd));
			continue;
		}
		p->links[p->nlinks++] = lfd;
		pthread_mutex_lock(&mp->lock);
		links = ++mp->links;
		pthread_mutex_unlock(&mp->lock);
	}
	pthread_mutex_unlock(&mp->gate);
	if (err == -ESRCH || !p->nlinks) {
		memprobes__detach(mp, pid);
		return err ? err : -ENOENT;
	}
	mp->st.procs_probed++;
	if (links > mp->st.links_peak)
		mp->st.links_peak = links;
	return 0;
}

void memprobes__stats(const struct memprobes *mp, struct memprobes_stats *s)
{
	if (mp)
		*s = mp->st;
	else
		memset(s, 0, sizeof(*s));
}

/* A run's detached closer (below) holds this lock shared until its last probe is closed;
 * a run that is about to place probes takes it exclusively once, so it does not start
 * while an earlier run's closes still hold the kernel mutex its attaches need. */
#define MP_LOCK_PATH "/run/treeprof-probes.lock"

static int mp_lock_open(void)
{
	return open(MP_LOCK_PATH, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

void memprobes__wait_previous(void)
{
	int fd = mp_lock_open();

	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK) {
		fprintf(stderr, "treeprof: waiting for an earlier run's allocator probes to be "
				"closed\n");
		flock(fd, LOCK_EX);
	}
	close(fd); /* releases it */
}

/* The links still open at the end go to a child process that closes them and exits, so
 * the run ends at once instead of a second per process later. The child first closes every
 * other descriptor (the recording: a FIFO's reader waits for its EOF; the perf events; the
 * maps) and leaves the terminal's session. Between fork and _exit it calls only
 * async-signal-safe functions. 0, or negative errno when the caller must close them. */
static int mp_close_detached(const int *fds, size_t n)
{
	struct rlimit rl;
	unsigned char *keep;
	int lock;
	size_t max;
	pid_t pid;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	max = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1 << 20) ? 1 << 20 : rl.rlim_cur;
	keep = calloc(max / 8 + 1, 1);
	if (!keep)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && (size_t)fds[i] < max)
			keep[fds[i] / 8] |= 1 << (fds[i] % 8);
	lock = mp_lock_open();
	if (lock >= 0 && (size_t)lock < max && !flock(lock, LOCK_SH))
		keep[lock / 8] |= 1 << (lock % 8); /* the child's until it exits */
	pid = fork();
	if (pid != 0 && lock >= 0)
		close(lock); /* the lock stays with the child's copy */
	if (pid < 0) {
		free(keep);
		return -errno;
	}
	if (pid == 0) {
		for (size_t fd = 0; fd < max; fd++)
			if (!(keep[fd / 8] & (1 << (fd % 8))))
				close(fd);
		setsid();
		for (size_t i = 0; i < n; i++)
			close(fds[i]); /* tens of ms each: RCU grace periods */
		_exit(0);	       /* the lock goes with it */
	}
	free(keep);
	for (size_t i = 0; i < n; i++)
		close(fds[i]); /* ours only: the child holds the probes */
	return 0;
}

void memprobes__free(struct memprobes *mp)
{
	int *fds = NULL;
	size_t n = 0;

	if (!mp)
		return;
	if (mp->has_closer) {
		pthread_mutex_lock(&mp->lock);
		mp->stop = true;
		pthread_cond_signal(&mp->cv);
		pthread_mutex_unlock(&mp->lock);
		pthread_join(mp->closer, NULL);
	}
	fds = calloc(mp->links ? mp->links : 1, sizeof(*fds));
	for (size_t i = 0; fds && i < mp->nprocs; i++)
		for (int j = 0; j < mp->procs[i].nlinks && n < mp->links; j++)
			fds[n++] = mp->procs[i].links[j];
	for (size_t i = 0; fds && i < mp->ndoomed && n < mp->links; i++)
		fds[n++] = mp->doomed[(mp->doomed_head + i) % mp->doomed_cap];
	if (fds && n == mp->links && !mp_close_detached(fds, n)) {
		mp->nprocs = mp->ndoomed = 0;
		mp->links = 0;
	}
	free(fds);
	mp->has_closer = false; /* what is left, if anything, is closed here */
	while (mp->nprocs)
		memprobes__detach(mp, mp->procs[0].pid);
	for (; mp->ndoomed; mp->ndoomed--) {
		close(mp->doomed[mp->doomed_head]);
		mp->doomed_head = (mp->doomed_head + 1) % mp->doomed_cap;
	}
	pthread_mutex_destroy(&mp->lock);
	pthread_mutex_destroy(&mp->gate);
	pthread_cond_destroy(&mp->cv);
	free(mp->doomed);
	for (int i = 0; i < mp->nlibcs; i++)
		close(mp->libcs[i].fd);
	free(mp->procs);
	free(mp);
}
