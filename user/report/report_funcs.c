// SPDX-License-Identifier: GPL-2.0
/* Frames to functions: a hash table of kind, name and file to the functions under that
 * hash, each compared through its first frame. The rules are stated in report_funcs.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_funcs.h"

#define LABEL_MAX (2 * 65536 + 64) /* any frame label: names and files are capped at 64 KiB */

int report_funcs__init(struct report_funcs *rf)
{
	*rf = (struct report_funcs){0};
	return htab__init(&rf->index, sizeof(uint32_t));
}

void report_funcs__fini(struct report_funcs *rf)
{
	for (uint32_t i = 0; i < rf->nfuncs; i++)
		free(rf->funcs[i].label);
	free(rf->funcs);
	free(rf->fmap);
	htab__fini(&rf->index);
	report_funcs__init(rf);
}

static const char *file_of(const struct prof_frame *f)
{
	return f->file ? f->file : "";
}

/* The table key of f's function: kind, name and file, the line left out. */
static uint64_t func_key(const struct prof_frame *f)
{
	uint64_t h = hash__bytes(HASH_FNV_SEED, &f->kind, sizeof(f->kind));

	h = hash__str(h, f->name);
	h = hash__bytes(h, "", 1); /* the name's end: "ab" "c" is not "a" "bc" */
	h = hash__str(h, file_of(f));
	return h ? h : 1; /* key 0 marks an empty slot */
}

static bool same_func(const struct prof_frame *a, const struct prof_frame *b)
{
	return a->kind == b->kind && !strcmp(a->name, b->name) && !strcmp(file_of(a), file_of(b));
}

/* Give frame id its function, a new one when no earlier frame has its kind, name and file.
 * lab: LABEL_MAX bytes of scratch. */
static int map_frame(struct report_funcs *rf, const struct profile *p, uint32_t id, char *lab)
{
	const struct prof_frame *f = profile__frame_get(p, id);
	uint64_t key = func_key(f);
	size_t pos = 0;
	uint32_t *v;
	char *label;
	int err;

	while ((v = htab__next_dup(&rf->index, key, &pos))) {
		if (same_func(profile__frame_get(p, rf->funcs[*v].frame), f)) {
			rf->fmap[id] = *v;
			return 0;
		}
	}
	err = vec__grow32((void **)&rf->funcs, &rf->funcs_cap, (size_t)rf->nfuncs + 1,
			  sizeof(*rf->funcs));
	if (!err)
		err = htab__reserve(&rf->index, (size_t)rf->nfuncs + 1);
	if (err)
		return err;
	label = strdup(report__func_label(p, id, lab, LABEL_MAX));
	if (!label)
		return -ENOMEM;
	*(uint32_t *)htab__add(&rf->index, key) = rf->nfuncs; /* reserved: cannot fail */
	rf->funcs[rf->nfuncs] = (struct report_func){.frame = id, .label = label};
	rf->fmap[id] = rf->nfuncs++;
	return 0;
}

int report_funcs__update(struct report_funcs *rf, const struct profile *p)
{
	uint32_t n = profile__nframes(p);
	char *lab;
	int err;

	if (rf->nframes >= n)
		return 0;
	err = vec__grow32((void **)&rf->fmap, &rf->fmap_cap, n, sizeof(*rf->fmap));
	if (err)
		return err;
	lab = malloc(LABEL_MAX);
	if (!lab)
		return -ENOMEM;
	while (!err && rf->nframes < n) {
		err = map_frame(rf, p, rf->nframes, lab);
		if (!err)
			rf->nframes++;
	}
	free(lab);
	return err;
}
