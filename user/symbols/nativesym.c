/* Native symbolization across a process tree. Per-pid state lives in a hash table keyed by
 * pid; ELF files in one keyed by the (st_dev, st_ino) of the opened file.
 * Every maps snapshot ever read stays on a list until nativesym__free, so the module
 * strings handed out stay valid while the cache lives and a forked child can share its
 * parent's snapshot without reference counts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/hash.h"
#include "symbols/elfsym.h"
#include "symbols/procmaps.h"
#include "symbols/nativesym.h"

/* A miss re-reads a live process's maps at most this often: frame-pointer walks through
 * code built without frame pointers produce garbage addresses, each one a miss. */
#define REREAD_INTERVAL_NS (100 * 1000 * 1000ull)
/* Decoded call sites, direct-mapped: the same return addresses recur in every sample, and
 * decoding one costs a pread or two. */
#define CALLMEMO_SIZE 4096

struct callmemo {
	const struct elfsym *elf; /* NULL: empty; ELF objects live as long as the cache */
	uint64_t ret;		  /* file vaddr of the return address */
	uint64_t target;	  /* file vaddr the call goes to, valid when is_call */
	const char *plt;	  /* what the PLT stub at target names, valid when plt_done */
	bool is_call, plt_done;
};

struct mapinfo {
	struct elfsym *elf; /* NULL: anonymous, not ELF, or could not be opened */
	uint64_t bias;
	bool tried;
};

struct snapshot {
	struct snapshot *next;
	struct procmaps *pm;
	struct mapinfo *info; /* parallel to pm->maps */
};

struct pent {
	pid_t pid;
	bool exited;
	bool own;		 /* maps were read from this pid, not inherited by fork */
	struct snapshot *snap;	 /* NULL until read */
	uint64_t last_reread_ns; /* of a miss-triggered re-read */
};

struct elfent {
	uint64_t dev, ino;
	bool used;
	struct elfsym *elf; /* NULL: that file is not a usable ELF */
};

struct nativesym {
	struct htab pids;  /* pid -> struct pent */
	struct htab elves; /* hash of (dev, ino) -> struct elfent */
	struct snapshot *snaps;
	struct callmemo *calls; /* CALLMEMO_SIZE entries */
};

/* The entry of pid; with create, a new zeroed one if absent (NULL on ENOMEM). */
static struct pent *pid_slot(struct nativesym *sc, pid_t pid, bool create)
{
	struct pent *pe;
	int created;

	if (pid <= 0)
		return NULL;
	if (!create)
		return htab__get(&sc->pids, pid);
	pe = htab__put(&sc->pids, pid, &created);
	if (pe && created)
		pe->pid = pid;
	return pe;
}

/* The entry of the file (dev, ino), created untried if absent (NULL on ENOMEM). */
static struct elfent *elf_slot(struct nativesym *sc, uint64_t dev, uint64_t ino)
{
	uint64_t key = (hash__mix64(dev) ^ ino) ?: 1;
	struct elfent *e;
	size_t pos = 0;

	while ((e = htab__next_dup(&sc->elves, key, &pos)))
		if (e->dev == dev && e->ino == ino)
			return e;
	e = htab__add(&sc->elves, key);
	if (e) {
		e->dev = dev;
		e->ino = ino;
	}
	return e;
}

struct nativesym *nativesym__new(void)
{
	struct nativesym *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return NULL;
	sc->calls = calloc(CALLMEMO_SIZE, sizeof(*sc->calls));
	if (!sc->calls || htab__init(&sc->pids, sizeof(struct pent)) ||
	    htab__init(&sc->elves, sizeof(struct elfent))) {
		free(sc->calls);
		free(sc);
		errno = ENOMEM;
		return NULL;
	}
	return sc;
}

void nativesym__free(struct nativesym *sc)
{
	struct snapshot *s, *next;
	struct elfent *e;
	size_t it = 0;

	if (!sc)
		return;
	while ((e = htab__next(&sc->elves, &it, NULL)))
		elfsym__free(e->elf);
	for (s = sc->snaps; s; s = next) {
		next = s->next;
		procmaps__free(s->pm);
		free(s->info);
		free(s);
	}
	free(sc->calls);
	htab__fini(&sc->elves);
	htab__fini(&sc->pids);
	free(sc);
}

/* Read pid's maps into a new snapshot owned by sc: 0 or a negative errno. */
static int read_own(struct nativesym *sc, struct pent *pe)
{
	struct snapshot *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pm = procmaps__load(pe->pid);
	if (!s->pm) {
		err = -errno;
		free(s);
		return err;
	}
	s->info = calloc(s->pm->n ? s->pm->n : 1, sizeof(*s->info));
	if (!s->info) {
		procmaps__free(s->pm);
		free(s);
		return -ENOMEM;
	}
	s->next = sc->snaps;
	sc->snaps = s;
	pe->snap = s;
	pe->own = true;
	return 0;
}

int nativesym__refresh(struct nativesym *sc, pid_t pid)
{
	struct pent *pe = pid_slot(sc, pid, true);

	if (!pe)
		return pid <= 0 ? -EINVAL : -ENOMEM;
	pe->exited = false;
	return read_own(sc, pe); /* on failure the old maps stay for late samples */
}

void nativesym__fork(struct nativesym *sc, pid_t child, pid_t parent)
{
	struct pent *pp = pid_slot(sc, parent, false);
	struct snapshot *snap = pp ? pp->snap : NULL;
	struct pent *ce = pid_slot(sc, child, true);

	if (!ce)
		return;
	/* A reused pid starts over: nothing of the previous process applies. */
	*ce = (struct pent){.pid = child, .snap = snap};
}

void nativesym__exec(struct nativesym *sc, pid_t pid)
{
	struct pent *pe = pid_slot(sc, pid, true);

	if (!pe)
		return;
	*pe = (struct pent){.pid = pid};
	read_own(sc, pe); /* failure leaves no maps; resolve retries while pid lives */
}

void nativesym__exit(struct nativesym *sc, pid_t pid)
{
	struct pent *pe = pid_slot(sc, pid, false);

	if (pe)
		pe->exited = true;
}

/* Open a regular file without side effects (O_PATH first: no device open, no FIFO
 * block) and accept it only when its inode is the mapping's. */
static int open_checked(const char *path, uint64_t inode)
{
	char self[64];
	struct stat st;
	int pfd, fd;

	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) || !S_ISREG(st.st_mode) || (inode && st.st_ino != inode)) {
		close(pfd);
		return -ENOENT;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		fd = -errno;
	close(pfd);
	return fd;
}

/* The file behind mapping m: the target's view (/proc/PID/root), the mapped file itself
 * (/proc/PID/map_files), then the host path; /proc/PID only while pid lives. */
static int open_mapped(pid_t pid, bool exited, const struct procmap *m)
{
	static const char deleted[] = " (deleted)";
	char path[PATH_MAX], buf[PATH_MAX + 64];
	size_t len = strlen(m->path);
	int fd;

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, m->path, len + 1);
	if (len > sizeof(deleted) - 1 && !strcmp(path + len - (sizeof(deleted) - 1), deleted))
		path[len - (sizeof(deleted) - 1)] = '\0';
	if (!exited) {
		snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, path);
		fd = open_checked(buf, m->inode);
		if (fd >= 0)
			return fd;
		snprintf(buf, sizeof(buf), "/proc/%d/map_files/%llx-%llx", (int)pid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
		fd = open_checked(buf, m->inode);
		if (fd >= 0)
			return fd;
	}
	return open_checked(path, m->inode);
}

/* Find the ELF behind mapping m once; failures are remembered per mapping and per file. */
static void mapinfo_open(struct nativesym *sc, pid_t pid, bool exited, const struct procmap *m,
			 struct mapinfo *mi)
{
	struct elfent *ee;
	struct stat st;
	int fd;

	mi->tried = true;
	if (m->path[0] != '/' || !strncmp(m->path, "/dev/", 5) || !m->inode)
		return;
	fd = open_mapped(pid, exited, m);
	if (fd < 0)
		return;
	if (fstat(fd, &st))
		goto out;
	ee = elf_slot(sc, st.st_dev, st.st_ino);
	if (!ee)
		goto out;
	if (!ee->used) {
		ee->used = true;
		ee->elf = elfsym__open_fd(fd, m->path);
	}
	if (ee->elf && !elfsym__bias(ee->elf, m->start, m->offset, &mi->bias))
		mi->elf = ee->elf;
out:
	close(fd);
}

/* The mapping of pid holding addr and its ELF info, re-reading maps once on a miss. */
/* The mapping holding addr in pid. may_reread: re-read the maps on a miss (a new dlopen);
 * false for addresses that may be garbage, which must not cost a /proc read each. */
static struct mapinfo *mapping_at(struct nativesym *sc, pid_t pid, uint64_t addr,
				  const struct procmap **mp, bool may_reread)
{
	struct pent *pe = pid_slot(sc, pid, true);
	const struct procmap *m = NULL;
	struct mapinfo *mi;
	uint64_t now;

	if (!pe)
		return NULL;
	/* A pid never seen and already gone: stop trying /proc for it. */
	if (!pe->snap && !pe->exited && read_own(sc, pe) == -ENOENT)
		pe->exited = true;
	if (pe->snap)
		m = procmaps__find(pe->snap->pm, addr);
	if (!m && may_reread && pe->snap && !pe->exited) {
		/* Inherited maps are re-read at the first miss; own ones at most so often. */
		now = clock__mono_ns();
		if (!pe->own || now - pe->last_reread_ns >= REREAD_INTERVAL_NS) {
			pe->last_reread_ns = now;
			if (!read_own(sc, pe))
				m = procmaps__find(pe->snap->pm, addr);
		}
	}
	if (!m)
		return NULL;
	mi = &pe->snap->info[m - pe->snap->pm->maps];
	if (!mi->tried)
		mapinfo_open(sc, pid, pe->exited, m, mi);
	*mp = m;
	return mi;
}

int nativesym__resolve(struct nativesym *sc, pid_t pid, uint64_t addr, struct native_sym *out)
{
	const struct procmap *m;
	struct mapinfo *mi = mapping_at(sc, pid, addr, &m, true);

	if (!mi)
		return -ENOENT;
	*out = (struct native_sym){.module = m->path[0] ? m->path : NULL};
	if (!mi->elf) {
		out->file_addr = addr - m->start + m->offset;
		return 0;
	}
	out->file_addr = addr - mi->bias;
	out->name = elfsym__lookup(mi->elf, out->file_addr, &out->sym_start, NULL);
	return 0;
}

static struct elfsym *elf_at(struct nativesym *sc, pid_t pid, uint64_t addr, uint64_t *bias,
			     bool may_reread)
{
	const struct procmap *m;
	struct mapinfo *mi = mapping_at(sc, pid, addr, &m, may_reread);

	if (!mi || !mi->elf)
		return NULL;
	if (bias)
		*bias = mi->bias;
	return mi->elf;
}

struct elfsym *nativesym__elf_at(struct nativesym *sc, pid_t pid, uint64_t addr, uint64_t *bias)
{
	return elf_at(sc, pid, addr, bias, true);
}

/* The call ending at file vaddr ret in caller, decoded once and then remembered. */
static struct callmemo *call_at(struct nativesym *sc, const struct elfsym *caller, uint64_t ret)
{
	struct callmemo *cm =
	    &sc->calls[hash__mix64((uintptr_t)caller ^ ret) & (CALLMEMO_SIZE - 1)];
	unsigned char insn[5];
	int32_t rel;

	if (cm->elf == caller && cm->ret == ret)
		return cm;
	*cm = (struct callmemo){.elf = caller, .ret = ret};
	/* Only `call rel32`; an indirect call (FF /2) names no target we could check. */
	if (ret < sizeof(insn) || elfsym__read(caller, ret - sizeof(insn), insn, sizeof(insn)) ||
	    insn[0] != 0xe8)
		return cm;
	memcpy(&rel, insn + 1, sizeof(rel));
	cm->target = ret + (int64_t)rel;
	cm->is_call = true;
	return cm;
}

bool nativesym__verify_call(struct nativesym *sc, pid_t pid, uint64_t ret_addr, uint64_t callee_pc)
{
	struct elfsym *callee, *caller;
	uint64_t cbias = 0, rbias = 0, cstart = 0, vaddr;
	struct callmemo *cm;
	const char *cname;

	callee = elf_at(sc, pid, callee_pc, &cbias, false);
	caller = elf_at(sc, pid, ret_addr, &rbias, false);
	if (!callee || !caller)
		return false;
	cm = call_at(sc, caller, ret_addr - rbias);
	if (!cm->is_call)
		return false;
	/* NULL in stripped code (libc's __strlen_avx2): only the IFUNC rule below can help. */
	cname = elfsym__lookup(callee, callee_pc - cbias, &cstart, NULL);
	if (cname && caller == callee && cm->target == cstart)
		return true;
	/* A call through the caller's PLT: the stub's GOT slot names the callee, possibly by
	 * an alias of the name the callee's symbol table ranks first (malloc/__libc_malloc). */
	if (!cm->plt_done) {
		cm->plt = elfsym__plt_target(caller, cm->target);
		cm->plt_done = true;
	}
	if (!cm->plt)
		return false;
	if (cname && !strcmp(cm->plt, cname))
		return true;
	if (cname && !elfsym__symbol(callee, cm->plt, &vaddr, NULL) && vaddr == cstart)
		return true;
	/* memcpy, strlen...: the slot holds whichever implementation the resolver picked, so
	 * any code of the file defining the IFUNC is accepted. */
	return elfsym__is_ifunc(callee, cm->plt);
}

const struct procmaps *nativesym__maps(struct nativesym *sc, pid_t pid)
{
	struct pent *pe = pid_slot(sc, pid, false);

	return pe && pe->snap ? pe->snap->pm : NULL;
}

int nativesym__open_in(pid_t pid, const char *path)
{
	char buf[PATH_MAX + 64];
	int fd;

	if (path[0] != '/')
		return -EINVAL;
	if ((size_t)snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, path) >= sizeof(buf))
		return -ENAMETOOLONG;
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
