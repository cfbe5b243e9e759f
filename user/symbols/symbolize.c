// SPDX-License-Identifier: GPL-2.0
/* Sample -> stack. The native user stack comes from a frame-pointer walk in the kernel, and
 * Debian's Python and glibc have no frame pointers, so past the first frame it is mostly
 * garbage. Only frames that can be proven are kept: the interrupted instruction, then each
 * return address whose preceding instruction is a call into the function below it. The first
 * frame that fails the proof ends the native stack. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "treeprof.h"
#include "lib/fileio.h"
#include "symbols/ksym.h"
#include "profile/profile.h"
#include "symbols/pysym.h"
#include "symbols/pyfind.h"
#include "symbols/symbolize.h"
#include "symbols/nativesym.h"

enum sym_stat {
	SYM_NATIVE_DROPPED, /* native frames dropped as unproven (frame-pointer garbage) */
	SYM_NATIVE_UNKNOWN, /* native frames with no symbol */
	SYM_KERNEL_UNKNOWN, /* kernel frames with no symbol */
	SYM_PY_FRAMES,	    /* Python frames symbolized */
	SYM_PY_UNKNOWN,	    /* Python frames whose code object could not be read */
	SYM_PY_STALE,	    /* Python frames whose code object changed before it was read */
	SYM_PY_SAMPLES,	    /* samples with at least one Python frame */
	SYM_PY_COMPLETE,    /* samples whose Python walk reached the bottom of the stack */
	SYM_NR,
};

static const char *const sym_stat_names[SYM_NR] = {
    [SYM_NATIVE_DROPPED] = "native_frames_unproven_dropped",
    [SYM_NATIVE_UNKNOWN] = "native_frames_unknown",
    [SYM_KERNEL_UNKNOWN] = "kernel_frames_unknown",
    [SYM_PY_FRAMES] = "python_frames",
    [SYM_PY_UNKNOWN] = "python_frames_unreadable",
    [SYM_PY_STALE] = "python_frames_stale",
    [SYM_PY_SAMPLES] = "python_samples",
    [SYM_PY_COMPLETE] = "python_samples_complete",
};

#define MAX_FRAMES (TP_MAX_PYFRAMES + TP_MAX_USTACK + TP_MAX_KSTACK)

/* Recently resolved frames: (what, address, detail) -> frame id, so a hot frame costs a
 * probe of this table instead of a symbol lookup and the interning of its strings. It is a
 * cache (colliding entries replace each other). Any exec bumps the epoch, which is part
 * of every user-space key, so an address is never resolved against a replaced image. */
#define FCACHE_SIZE   16384
#define FCACHE_INTERP 0x80000000u /* native frame of the interpreter itself */
#define FCACHE_UNREAD 0x40000000u /* Python frame that could not be symbolized */

struct fcache_ent {
	uint64_t k0, k1, k2, epoch;
	uint32_t val;
	uint32_t used;
};

struct symbolizer {
	bool native;
	struct nativesym *sc;
	struct ksyms *ks;
	bool ks_tried;
	struct pysym *py;
	uint64_t stats[SYM_NR];
	uint32_t frames[MAX_FRAMES];
	uint64_t epoch;
	struct fcache_ent fcache[FCACHE_SIZE];
};

static struct fcache_ent *fcache_slot(struct symbolizer *s, uint64_t k0, uint64_t k1, uint64_t k2)
{
	uint64_t h = (k0 * 0x9e3779b97f4a7c15ULL) ^ (k1 * 0xc2b2ae3d27d4eb4fULL) ^ k2;

	h ^= h >> 29;
	return &s->fcache[(h * 0xbf58476d1ce4e5b9ULL >> 40) & (FCACHE_SIZE - 1)];
}

static bool fcache_get(struct symbolizer *s, uint64_t k0, uint64_t k1, uint64_t k2, uint32_t *val)
{
	struct fcache_ent *e = fcache_slot(s, k0, k1, k2);

	if (!e->used || e->k0 != k0 || e->k1 != k1 || e->k2 != k2 || (k0 && e->epoch != s->epoch))
		return false;
	*val = e->val;
	return true;
}

static void fcache_put(struct symbolizer *s, uint64_t k0, uint64_t k1, uint64_t k2, uint32_t val)
{
	*fcache_slot(s, k0, k1, k2) = (struct fcache_ent){k0, k1, k2, s->epoch, val, 1};
}

/* Key of a user-space frame of pid (kernel frames use 0 and ignore the epoch). */
static uint64_t ukey(uint8_t kind, pid_t pid)
{
	return (uint64_t)kind << 32 | (uint32_t)pid;
}

/* The kernel's symbols, mapped on first use; NULL when kallsyms is hidden (kernel frames
 * then stay unnamed). */
static struct ksyms *ksym_table(struct symbolizer *s)
{
	if (!s->ks_tried) {
		s->ks_tried = true;
		s->ks = ksyms__load_cached(FILE_CACHE_DIR);
	}
	return s->ks;
}

struct symbolizer *symbolizer__new(bool native)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->native = native;
	s->sc = nativesym__new();
	s->py = pysym__new();
	if (!s->sc || !s->py) {
		symbolizer__free(s);
		errno = ENOMEM;
		return NULL;
	}
	/* Mapped now, before anything is traced: on the first kernel frame instead, the
	 * mapping and its check delayed the reading of short-lived processes' code objects
	 * until some had exited (test_faults' forked children then showed [unknown]). */
	ksym_table(s);
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	nativesym__free(s->sc);
	ksyms__free(s->ks);
	pysym__free(s->py);
	free(s);
}

static int add_frame(struct symbolizer *s, struct profile *p, uint32_t *n, uint8_t kind,
		     const char *name, const char *file, uint32_t line)
{
	struct prof_frame f = {.kind = kind, .name = name, .file = file, .line = line};
	int err;

	if (*n >= MAX_FRAMES)
		return -E2BIG;
	err = profile__frame(p, &f, &s->frames[*n]);
	if (err)
		return err;
	(*n)++;
	return 0;
}

static bool is_interpreter_module(const char *module)
{
	const char *base = module ? strrchr(module, '/') : NULL;

	base = base ? base + 1 : module;
	return base && (!strncmp(base, "libpython", 9) || !strncmp(base, "python", 6));
}

static int add_python(struct symbolizer *s, struct profile *p, const struct tp_sample *smp,
		      uint32_t *n)
{
	struct pysym_frame pf;
	int err, err2, i, npy = smp->n_py;

	if (npy > TP_MAX_PYFRAMES)
		npy = TP_MAX_PYFRAMES;
	if (npy > 0) {
		s->stats[SYM_PY_SAMPLES]++;
		if (smp->py_status == TP_PY_OK)
			s->stats[SYM_PY_COMPLETE]++;
	}
	for (i = npy - 1; i >= 0; i--) { /* root first */
		const struct tp_pyframe *f = &smp->py[i];
		uint64_t k0 = ukey(FRAME_PYTHON, smp->hdr.pid);
		uint64_t k2 = (uint64_t)f->check << 32 | f->lasti;
		uint32_t val;

		/* Failures are cached too: a hostile or dying target must not cost a failed
		 * read of every frame of every sample. */
		if (*n < MAX_FRAMES && fcache_get(s, k0, f->code, k2, &val)) {
			s->frames[(*n)++] = val & ~FCACHE_UNREAD;
			s->stats[val & FCACHE_UNREAD ? SYM_PY_UNKNOWN : SYM_PY_FRAMES]++;
			continue;
		}
		err = pysym__resolve(s->py, smp->hdr.pid, f, &pf);
		if (err == -ESTALE)
			s->stats[SYM_PY_STALE]++;
		else if (err)
			s->stats[SYM_PY_UNKNOWN]++;
		else
			s->stats[SYM_PY_FRAMES]++;
		if (err)
			err2 = add_frame(s, p, n, FRAME_PYTHON, "[unknown]", NULL, 0);
		else
			err2 = add_frame(s, p, n, FRAME_PYTHON, pf.name, pf.file, pf.line);
		if (err2)
			return err2;
		/* Not -ENOENT (no interpreter known for the pid yet): that can change. */
		if (err != -ENOENT)
			fcache_put(s, k0, f->code, k2,
				   s->frames[*n - 1] | (err ? FCACHE_UNREAD : 0));
	}
	return npy;
}

static int add_native(struct symbolizer *s, struct profile *p, const struct tp_sample *smp,
		      uint32_t *n, bool have_python)
{
	pid_t pid = smp->hdr.pid;
	int i, count = smp->n_ustack, err;

	if (count <= 0)
		return 0;
	if (count > TP_MAX_USTACK)
		count = TP_MAX_USTACK;
	/* Keep the proven prefix, leaf first. */
	for (i = 1; i < count; i++) {
		if (!nativesym__verify_call(s->sc, pid, smp->ustack[i],
					    i == 1 ? smp->ustack[0] : smp->ustack[i - 1] - 1))
			break;
	}
	s->stats[SYM_NATIVE_DROPPED] += count - i;
	count = i;
	for (i = count - 1; i >= 0; i--) { /* root first */
		/* A return address points after the call: look up the call itself. */
		uint64_t pc = i == 0 ? smp->ustack[0] : smp->ustack[i] - 1;
		uint64_t k0 = ukey(FRAME_NATIVE, pid);
		struct native_sym ns;
		const char *module;
		uint32_t val;
		bool found;

		if (!fcache_get(s, k0, pc, 0, &val)) {
			found = nativesym__resolve(s->sc, pid, pc, &ns) == 0;
			module = found ? ns.module : NULL;
			if (!found || !ns.name)
				s->stats[SYM_NATIVE_UNKNOWN]++;
			err = add_frame(s, p, n, FRAME_NATIVE,
					found && ns.name ? ns.name : "[unknown]", module, 0);
			if (err)
				return err;
			val = s->frames[--(*n)];
			if (is_interpreter_module(module))
				val |= FCACHE_INTERP;
			if (found)
				fcache_put(s, k0, pc, 0, val);
		}
		if (have_python && !s->native && (val & FCACHE_INTERP))
			continue;
		if (*n >= MAX_FRAMES)
			return -E2BIG;
		s->frames[(*n)++] = val & ~FCACHE_INTERP;
	}
	return 0;
}

static int add_kernel(struct symbolizer *s, struct profile *p, const struct tp_sample *smp,
		      uint32_t *n)
{
	int i, count = smp->n_kstack, err;
	const char *name, *module;

	if (count > TP_MAX_KSTACK)
		count = TP_MAX_KSTACK;
	for (i = count - 1; i >= 0; i--) { /* root first */
		if (*n < MAX_FRAMES && fcache_get(s, 0, smp->kstack[i], 0, &s->frames[*n])) {
			(*n)++;
			continue;
		}
		module = NULL;
		name = ksyms__lookup(ksym_table(s), smp->kstack[i], &module, NULL);
		if (!name)
			s->stats[SYM_KERNEL_UNKNOWN]++;
		err = add_frame(s, p, n, FRAME_KERNEL, name ? name : "[kernel]", module, 0);
		if (err)
			return err;
		if (name)
			fcache_put(s, 0, smp->kstack[i], 0, s->frames[*n - 1]);
	}
	return 0;
}

int symbolizer__stack(struct symbolizer *s, struct profile *p, const struct tp_sample *smp,
		      uint32_t *stack_id)
{
	uint32_t n = 0;
	int npy, err;

	npy = add_python(s, p, smp, &n);
	if (npy < 0)
		return npy;
	err = add_native(s, p, smp, &n, npy > 0);
	if (!err)
		err = add_kernel(s, p, smp, &n);
	if (err)
		return err;
	return profile__stack(p, s->frames, n, stack_id);
}

void symbolizer__seen(struct symbolizer *s, pid_t pid)
{
	nativesym__refresh(s->sc, pid);
}

void symbolizer__fork(struct symbolizer *s, pid_t child, pid_t parent)
{
	nativesym__fork(s->sc, child, parent);
	pysym__fork(s->py, child, parent);
}

void symbolizer__exec(struct symbolizer *s, pid_t pid)
{
	s->epoch++;
	nativesym__exec(s->sc, pid);
	pysym__exec(s->py, pid);
}

void symbolizer__exit(struct symbolizer *s, pid_t pid)
{
	nativesym__exit(s->sc, pid);
}

int symbolizer__python(struct symbolizer *s, pid_t pid, struct tp_pyconfig *cfg)
{
	struct py_runtime_info info;
	int err;

	err = pyfind__detect(s->sc, pid, cfg, &info);
	if (err)
		return err;
	return pysym__set_runtime(s->py, pid, &info);
}

const char *symbolizer__stat_at(const struct symbolizer *s, uint32_t i, uint64_t *value)
{
	if (i >= SYM_NR)
		return NULL;
	*value = s->stats[i];
	return sym_stat_names[i];
}
