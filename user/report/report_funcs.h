/* Functions: what every view lists and what hot call paths are made of. A function is the
 * frames of one kind, name and file (no file and "" alike) whatever their line: a Python
 * function over all its lines, a native or kernel symbol of one module. This is the one
 * mapping from frames to functions, for the text report, the diff and top, and each function
 * has the one label of report__func_label(), "qualname (file)" for Python, so that all of
 * them name a function alike.
 *
 * Incremental: report_funcs__update() maps the frames a profile interned since the last call
 * (all of them the first time), so that top can call it at each refresh while its profile
 * grows. Functions are numbered from 0 in the order of their first frame: frame 0 is in
 * function 0, and a function's number, first frame and label never change once given.
 *
 * The object owns its arrays and labels and keeps frame ids, no pointer into the profile;
 * every update must be given the same profile, which may only have grown since. A label
 * stays valid until fini, the frame map until the next update or fini. Not thread safe. */
#ifndef TREEPROF_REPORT_FUNCS_H
#define TREEPROF_REPORT_FUNCS_H

#include <stdint.h>
#include <string.h>

#include "lib/hash.h"

struct profile;

struct report_func {
	uint32_t frame; /* its first frame */
	char *label;	/* report__func_label() of that frame */
};

/* Embeddable: the fields are private, public only so that the accessors can be inlined. */
struct report_funcs {
	uint32_t *fmap; /* frame id -> function */
	uint32_t nframes, fmap_cap;
	struct report_func *funcs;
	uint32_t nfuncs, funcs_cap;
	struct htab index; /* hash of kind, name and file -> functions (duplicates compared) */
};

/* An empty mapping (nothing allocated until the first update): 0. */
int report_funcs__init(struct report_funcs *rf);
/* Map every frame p interned since the last call: 0, or -ENOMEM (-ENOSPC past 2^32
 * functions). On failure the frames mapped so far stay mapped, and the next call goes on
 * from the first that was not. */
int report_funcs__update(struct report_funcs *rf, const struct profile *p);
/* Free everything; the mapping is then empty and usable again. */
void report_funcs__fini(struct report_funcs *rf);

/* Functions numbered so far: their numbers are 0..count-1. */
static inline uint32_t report_funcs__count(const struct report_funcs *rf)
{
	return rf->nfuncs;
}

/* Frames mapped so far: frames 0..nframes-1 (a frame interned since has no function yet). */
static inline uint32_t report_funcs__nframes(const struct report_funcs *rf)
{
	return rf->nframes;
}

/* The function of a mapped frame. */
static inline uint32_t report_funcs__of(const struct report_funcs *rf, uint32_t frame)
{
	return rf->fmap[frame];
}

/* The function of every mapped frame, indexed by frame id (report_path__condense()'s fmap). */
static inline const uint32_t *report_funcs__fmap(const struct report_funcs *rf)
{
	return rf->fmap;
}

static inline const char *report_funcs__label(const struct report_funcs *rf, uint32_t func)
{
	return rf->funcs[func].label;
}

/* The function's first frame (the lowest frame id in it). */
static inline uint32_t report_funcs__frame(const struct report_funcs *rf, uint32_t func)
{
	return rf->funcs[func].frame;
}

/* The order of function lists, for qsort-style comparators: functions i and j with their
 * self and total weights; more self first, then more total, then by label. */
static inline int report_funcs__order(const struct report_funcs *rf, uint32_t i, uint64_t self_i,
				      uint64_t total_i, uint32_t j, uint64_t self_j,
				      uint64_t total_j)
{
	if (self_i != self_j)
		return self_i > self_j ? -1 : 1;
	if (total_i != total_j)
		return total_i > total_j ? -1 : 1;
	return strcmp(report_funcs__label(rf, i), report_funcs__label(rf, j));
}

#endif
