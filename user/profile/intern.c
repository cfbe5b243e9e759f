/* The interned parts of a profile: frames and stacks (equal ones share one dense id) and
 * the named statistics and metadata (one entry per name, in the order first set). Each is
 * an array indexed by a hash table of content hashes; entries under one hash are compared.
 * Strings are stored cut at PROFILE_STR_MAX bytes and compared as stored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"
#include "profile/limits.h"
#include "profile/journal.h"
#include "profile/profile.h"
#include "profile/profile_priv.h"
#include "treeprof.h"

char *prof_str_copy(const char *s)
{
	return strndup(s, strnlen(s, PROFILE_STR_MAX));
}

/* A table key from a hash: 0 means an empty slot. */
static uint64_t key_of(uint64_t h)
{
	return h ? h : 1;
}

/* Room for one more entry of an interned array whose next id is next: a slot in its table
 * t (reserved, so that htab__add cannot fail) and an element of *arr. */
static int reserve_one(struct htab *t, void **arr, uint32_t *cap, uint32_t next, size_t elem)
{
	int err;

	if (next == UINT32_MAX - 1)
		return -ENOSPC;
	err = htab__reserve(t, (size_t)next + 1);
	return err ? err : vec__grow32(arr, cap, (size_t)next + 1, elem);
}

/* ---- frames ---- */

static uint64_t frame_key(const struct prof_frame *f)
{
	uint64_t h = HASH_FNV_SEED;

	h = hash__bytes(h, &f->kind, 1);
	/* hash what is stored: strings cut at the cap, each followed by a separator */
	h = hash__bytes(h, f->name, strnlen(f->name, PROFILE_STR_MAX));
	h = hash__bytes(h, "", 1);
	if (f->file)
		h = hash__bytes(h, f->file, strnlen(f->file, PROFILE_STR_MAX));
	h = hash__bytes(h, f->file ? "" : "\xff", 1);
	h = hash__bytes(h, &f->line, sizeof(f->line));
	return key_of(h);
}

static bool capped_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strncmp(a, b, PROFILE_STR_MAX) == 0;
}

static bool frame_eq(const struct prof_frame *a, const struct prof_frame *b)
{
	return a->kind == b->kind && a->line == b->line && capped_eq(a->name, b->name) &&
	       capped_eq(a->file, b->file);
}

/* Store a copy of f as the next frame: its id is p->nframes. */
static int frame_store(struct profile *p, const struct prof_frame *f, uint64_t key)
{
	struct prof_frame *nf;
	int err;

	err = reserve_one(&p->frame_tab, (void **)&p->frames, &p->frames_cap, p->nframes,
			  sizeof(*p->frames));
	if (err)
		return err;
	nf = &p->frames[p->nframes];
	*nf = (struct prof_frame){.kind = f->kind, .line = f->line};
	nf->name = prof_str_copy(f->name);
	nf->file = f->file ? prof_str_copy(f->file) : NULL;
	if (!nf->name || (f->file && !nf->file)) {
		free((char *)nf->name);
		free((char *)nf->file);
		return -ENOMEM;
	}
	*(uint32_t *)htab__add(&p->frame_tab, key) = p->nframes; /* reserved: cannot fail */
	return 0;
}

int profile__frame(struct profile *p, const struct prof_frame *f, uint32_t *id)
{
	uint64_t key;
	size_t pos = 0;
	uint32_t *v;
	int err;

	if (!f || !f->name)
		return -EINVAL;
	key = frame_key(f);
	while ((v = htab__next_dup(&p->frame_tab, key, &pos))) {
		if (frame_eq(&p->frames[*v], f)) {
			*id = *v;
			return 0;
		}
	}
	err = frame_store(p, f, key);
	if (err)
		return err;
	*id = p->nframes++;
	if (p->journal)
		return p->journal->frame(p->journal->ctx, *id, &p->frames[*id]);
	return 0;
}

const struct prof_frame *profile__frame_get(const struct profile *p, uint32_t id)
{
	return id < p->nframes ? &p->frames[id] : NULL;
}

uint32_t profile__nframes(const struct profile *p)
{
	return p->nframes;
}

/* ---- stacks ---- */

/* Word by word (an FNV-like step per frame id): stacks are hashed on every sample. */
static uint64_t stack_key(const uint32_t *ids, uint32_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ ids[i]) * 0x100000001b3ULL + (h >> 29);
	return key_of(h);
}

static bool stack_eq(const struct profile *p, uint32_t id, const uint32_t *frames, uint32_t n)
{
	const struct stack_ent *s = &p->stacks[id];

	return s->n == n && (!n || !memcmp(p->frame_pool + s->off, frames, n * sizeof(*frames)));
}

/* Store frames[n] as the next stack: its id is p->nstacks. */
static int stack_store(struct profile *p, const uint32_t *frames, uint32_t n, uint64_t key)
{
	int err;

	err = reserve_one(&p->stack_tab, (void **)&p->stacks, &p->stacks_cap, p->nstacks,
			  sizeof(*p->stacks));
	if (!err)
		err = vec__grow((void **)&p->frame_pool, &p->pool_cap, p->pool_len + n,
				sizeof(*p->frame_pool));
	if (err)
		return err;
	p->stacks[p->nstacks] = (struct stack_ent){.off = p->pool_len, .n = n};
	if (n)
		memcpy(p->frame_pool + p->pool_len, frames, n * sizeof(*frames));
	p->pool_len += n;
	*(uint32_t *)htab__add(&p->stack_tab, key) = p->nstacks; /* reserved: cannot fail */
	return 0;
}

int profile__stack(struct profile *p, const uint32_t *frames, uint32_t n, uint32_t *id)
{
	size_t pos = 0;
	uint64_t key;
	uint32_t *v;
	int err;

	if (n > PROFILE_STACK_MAX)
		return -E2BIG;
	if (n && !frames)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (frames[i] >= p->nframes)
			return -EINVAL;
	key = stack_key(frames, n);
	while ((v = htab__next_dup(&p->stack_tab, key, &pos))) {
		if (stack_eq(p, *v, frames, n)) {
			*id = *v;
			return 0;
		}
	}
	err = stack_store(p, frames, n, key);
	if (err)
		return err;
	*id = p->nstacks++;
	if (p->journal)
		return p->journal->stack(p->journal->ctx, *id, frames, n);
	return 0;
}

const uint32_t *profile__stack_get(const struct profile *p, uint32_t id, uint32_t *n)
{
	static const uint32_t none[1];

	if (id >= p->nstacks) {
		*n = 0;
		return NULL;
	}
	*n = p->stacks[id].n;
	return *n ? p->frame_pool + p->stacks[id].off : none;
}

uint32_t profile__nstacks(const struct profile *p)
{
	return p->nstacks;
}

/* ---- statistics and metadata ---- */

static uint64_t name_key(const char *name)
{
	return key_of(hash__bytes(HASH_FNV_SEED, name, strnlen(name, PROFILE_STR_MAX)));
}

static struct named_value *named_find(const struct named_list *l, const char *name)
{
	uint64_t key = name_key(name);
	size_t pos = 0;
	uint32_t *v;

	while ((v = htab__next_dup(&l->tab, key, &pos)))
		if (strncmp(l->v[*v].name, name, PROFILE_STR_MAX) == 0)
			return &l->v[*v];
	return NULL;
}

/* Find name in the list or append it (value NULL, num 0); NULL when out of memory. */
static struct named_value *named_get(struct named_list *l, const char *name)
{
	struct named_value *e = named_find(l, name);

	if (e)
		return e;
	if (reserve_one(&l->tab, (void **)&l->v, &l->cap, l->n, sizeof(*l->v)))
		return NULL;
	e = &l->v[l->n];
	*e = (struct named_value){.name = prof_str_copy(name)};
	if (!e->name)
		return NULL;
	*(uint32_t *)htab__add(&l->tab, name_key(name)) = l->n++; /* reserved: cannot fail */
	return e;
}

static void named_free(struct named_list *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	htab__fini(&l->tab);
}

/* The entry at i of a list, or NULL past the end. */
static const struct named_value *named_at(const struct named_list *l, uint32_t i)
{
	return i < l->n ? &l->v[i] : NULL;
}

int profile__set_stat(struct profile *p, const char *name, uint64_t value)
{
	struct named_value *e;

	if (!name)
		return -EINVAL;
	e = named_get(&p->stats, name);
	if (!e)
		return -ENOMEM;
	e->num = value;
	if (p->journal)
		return p->journal->stat(p->journal->ctx, name, value);
	return 0;
}

int profile__get_stat(const struct profile *p, const char *name, uint64_t *value)
{
	struct named_value *e = named_find(&p->stats, name);

	if (!e)
		return -ENOENT;
	*value = e->num;
	return 0;
}

const char *profile__stat_at(const struct profile *p, uint32_t i, uint64_t *value)
{
	const struct named_value *e = named_at(&p->stats, i);

	if (e && value)
		*value = e->num;
	return e ? e->name : NULL;
}

int profile__set_meta(struct profile *p, const char *key, const char *value)
{
	struct named_value *e;
	char *v;

	if (!key || !value)
		return -EINVAL;
	v = prof_str_copy(value);
	if (!v)
		return -ENOMEM;
	e = named_get(&p->meta, key);
	if (!e) {
		free(v);
		return -ENOMEM;
	}
	free(e->value);
	e->value = v;
	if (p->journal)
		return p->journal->meta(p->journal->ctx, key, value);
	return 0;
}

const char *profile__get_meta(const struct profile *p, const char *key)
{
	struct named_value *e = named_find(&p->meta, key);

	return e ? e->value : NULL;
}

const char *profile__meta_at(const struct profile *p, uint32_t i, const char **value)
{
	const struct named_value *e = named_at(&p->meta, i);

	if (e && value)
		*value = e->value;
	return e ? e->name : NULL;
}

void prof_intern_init(struct profile *p)
{
	htab__init(&p->frame_tab, sizeof(uint32_t));
	htab__init(&p->stack_tab, sizeof(uint32_t));
	htab__init(&p->stats.tab, sizeof(uint32_t));
	htab__init(&p->meta.tab, sizeof(uint32_t));
}

void prof_intern_free(struct profile *p)
{
	for (uint32_t i = 0; i < p->nframes; i++) {
		free((char *)p->frames[i].name);
		free((char *)p->frames[i].file);
	}
	free(p->frames);
	htab__fini(&p->frame_tab);
	free(p->stacks);
	free(p->frame_pool);
	htab__fini(&p->stack_tab);
	named_free(&p->stats);
	named_free(&p->meta);
}
