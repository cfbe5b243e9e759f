/* The aggregate of one recording: frames and stacks interned in open-addressing hash tables
 * with dense ids, a process table with a pid index, a flat sample array, statistics and
 * metadata. Every change is mirrored to the journal when one is attached, so replaying a
 * journal through these same calls rebuilds an identical profile.
 *
 * Strings are capped at PROFILE_STR_MAX bytes when stored and stacks at PROFILE_STACK_MAX
 * frames (-E2BIG past it): the same bounds as the recording format, so a profile and its
 * recording always agree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/journal.h"
#include "profile/limits.h"
#include "profile/profile.h"
#include "treeprof.h"

struct named_value {
	char *name;
	uint64_t hash;
	char *value;  /* meta only */
	uint64_t num; /* stat only */
};

struct frame_ent {
	struct prof_frame f;
	uint64_t hash;
};

struct stack_ent {
	uint64_t hash;
	size_t off; /* into frame_pool */
	uint32_t n;
};

/* Open-addressing table of id + 1 (0 is empty), linear probing, load kept under 1/2. */
struct idtab {
	uint32_t *slots;
	size_t cap; /* power of two, or 0 */
};

/* Statistics or metadata: in the order names were first set, indexed by a hash table. */
struct named_list {
	struct named_value *v;
	uint32_t n, cap;
	struct idtab tab;
};

struct profile {
	const struct profile_journal *journal; /* or NULL */

	struct frame_ent *frames;
	uint32_t nframes, frames_cap;
	struct idtab frame_tab;

	struct stack_ent *stacks;
	uint32_t nstacks, stacks_cap;
	uint32_t *frame_pool;
	size_t pool_len, pool_cap;
	struct idtab stack_tab;

	struct prof_proc **procs;
	uint32_t nprocs, procs_cap;
	struct idtab pid_tab; /* keyed by pid; value: newest process index */

	struct prof_sample *samples;
	size_t nsamples, samples_cap;
	/* Compact mode (profile__keep_samples(p, false)): only the last sample is kept, and
	 * the (process, stack) weights are summed as samples arrive, so memory follows the
	 * number of distinct stacks, not the length of the run. */
	bool compact;
	uint64_t *agg_keys, *agg_weights; /* open addressing; key (proc << 32 | stack) + 1 */
	size_t agg_cap, agg_n;

	struct named_list stats, meta;

	/* memory events in arrival order, and the last exact totals per process index */
	struct prof_memrec *mem;
	size_t nmem, mem_cap;
	bool mem_drop; /* profile__keep_mem(p, false) */
	struct tp_memcounters *memc;
	bool *memc_set;
	size_t memc_cap;
};

static uint64_t hash_mix(uint64_t h);

static int agg_add(struct profile *p, uint32_t proc, uint32_t stack, uint64_t weight)
{
	uint64_t key = ((uint64_t)proc << 32 | stack) + 1;
	size_t j, mask;

	if ((p->agg_n + 1) * 2 > p->agg_cap) {
		size_t ncap = p->agg_cap ? p->agg_cap * 2 : 1024;
		uint64_t *k = calloc(ncap, sizeof(*k)), *w = calloc(ncap, sizeof(*w));

		if (!k || !w) {
			free(k);
			free(w);
			return -ENOMEM;
		}
		for (size_t i = 0; i < p->agg_cap; i++) {
			if (!p->agg_keys[i])
				continue;
			for (j = hash_mix(p->agg_keys[i]) & (ncap - 1); k[j];
			     j = (j + 1) & (ncap - 1))
				;
			k[j] = p->agg_keys[i];
			w[j] = p->agg_weights[i];
		}
		free(p->agg_keys);
		free(p->agg_weights);
		p->agg_keys = k;
		p->agg_weights = w;
		p->agg_cap = ncap;
	}
	mask = p->agg_cap - 1;
	for (j = hash_mix(key) & mask; p->agg_keys[j] && p->agg_keys[j] != key; j = (j + 1) & mask)
		;
	if (!p->agg_keys[j]) {
		p->agg_keys[j] = key;
		p->agg_n++;
	}
	p->agg_weights[j] += weight;
	return 0;
}

void profile__keep_samples(struct profile *p, bool keep)
{
	p->compact = !keep;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *s = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Grow an array of elements of size sz to hold at least need elements. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz)
{
	size_t ncap = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = reallocarray(*arr, ncap, sz);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

static int grow32(void **arr, uint32_t *cap, size_t need, size_t sz)
{
	size_t c = *cap;
	int err;

	if (need > UINT32_MAX)
		return -ENOSPC;
	err = grow(arr, &c, need, sz);
	if (!err)
		*cap = c > UINT32_MAX ? UINT32_MAX : c;
	return err;
}

static char *str_copy(const char *s)
{
	size_t len = strnlen(s, PROFILE_STR_MAX);

	return strndup(s, len);
}

/* Make room for count + 1 entries; rehash calls hash_of(ctx, id) for every stored id. */
static int idtab_reserve(struct idtab *t, size_t count, uint64_t (*hash_of)(const void *, uint32_t),
			 const void *ctx)
{
	size_t ncap = t->cap ? t->cap : 64;
	uint32_t *slots;

	if ((count + 1) * 2 <= t->cap)
		return 0;
	while ((count + 1) * 2 > ncap)
		ncap *= 2;
	slots = calloc(ncap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		uint32_t v = t->slots[i];
		size_t j;

		if (!v)
			continue;
		j = hash_of(ctx, v - 1) & (ncap - 1);
		while (slots[j])
			j = (j + 1) & (ncap - 1);
		slots[j] = v;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = ncap;
	return 0;
}

static uint64_t frame_hash(const struct prof_frame *f)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = hash_bytes(h, &f->kind, 1);
	/* hash what is stored: strings cut at the cap, each followed by a separator */
	h = hash_bytes(h, f->name, strnlen(f->name, PROFILE_STR_MAX));
	h = hash_bytes(h, "", 1);
	if (f->file)
		h = hash_bytes(h, f->file, strnlen(f->file, PROFILE_STR_MAX));
	h = hash_bytes(h, f->file ? "" : "\xff", 1);
	h = hash_bytes(h, &f->line, sizeof(f->line));
	return hash_mix(h);
}

static uint64_t stored_frame_hash(const void *ctx, uint32_t id)
{
	return ((const struct profile *)ctx)->frames[id].hash;
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

int profile__frame(struct profile *p, const struct prof_frame *f, uint32_t *id)
{
	struct prof_frame *nf;
	uint64_t h;
	size_t j;
	int err;

	if (!f || !f->name)
		return -EINVAL;
	h = frame_hash(f);
	if (p->frame_tab.cap) {
		for (j = h & (p->frame_tab.cap - 1); p->frame_tab.slots[j];
		     j = (j + 1) & (p->frame_tab.cap - 1)) {
			uint32_t cand = p->frame_tab.slots[j] - 1;

			if (p->frames[cand].hash == h && frame_eq(&p->frames[cand].f, f)) {
				*id = cand;
				return 0;
			}
		}
	}
	if (p->nframes == UINT32_MAX - 1)
		return -ENOSPC;
	err = idtab_reserve(&p->frame_tab, p->nframes, stored_frame_hash, p);
	if (err)
		return err;
	err = grow32((void **)&p->frames, &p->frames_cap, p->nframes + 1, sizeof(*p->frames));
	if (err)
		return err;
	nf = &p->frames[p->nframes].f;
	nf->kind = f->kind;
	nf->line = f->line;
	nf->name = str_copy(f->name);
	nf->file = f->file ? str_copy(f->file) : NULL;
	if (!nf->name || (f->file && !nf->file)) {
		free((char *)nf->name);
		free((char *)nf->file);
		return -ENOMEM;
	}
	p->frames[p->nframes].hash = h;
	for (j = h & (p->frame_tab.cap - 1); p->frame_tab.slots[j];
	     j = (j + 1) & (p->frame_tab.cap - 1))
		;
	p->frame_tab.slots[j] = p->nframes + 1;
	*id = p->nframes++;
	if (p->journal)
		return p->journal->frame(p->journal->ctx, *id, nf);
	return 0;
}

const struct prof_frame *profile__frame_get(const struct profile *p, uint32_t id)
{
	return id < p->nframes ? &p->frames[id].f : NULL;
}

uint32_t profile__nframes(const struct profile *p)
{
	return p->nframes;
}

static uint64_t ids_hash(const uint32_t *ids, uint32_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ ids[i]) * 0x100000001b3ULL + (h >> 29);
	return hash_mix(h);
}

static uint64_t stored_stack_hash(const void *ctx, uint32_t id)
{
	return ((const struct profile *)ctx)->stacks[id].hash;
}

int profile__stack(struct profile *p, const uint32_t *frames, uint32_t n, uint32_t *id)
{
	struct stack_ent *s;
	uint64_t h;
	size_t j;
	int err;

	if (n > PROFILE_STACK_MAX)
		return -E2BIG;
	if (n && !frames)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (frames[i] >= p->nframes)
			return -EINVAL;
	h = ids_hash(frames, n);
	if (p->stack_tab.cap) {
		for (j = h & (p->stack_tab.cap - 1); p->stack_tab.slots[j];
		     j = (j + 1) & (p->stack_tab.cap - 1)) {
			uint32_t cand = p->stack_tab.slots[j] - 1;

			s = &p->stacks[cand];
			if (s->hash == h && s->n == n &&
			    (!n || !memcmp(p->frame_pool + s->off, frames, n * sizeof(*frames)))) {
				*id = cand;
				return 0;
			}
		}
	}
	if (p->nstacks == UINT32_MAX - 1)
		return -ENOSPC;
	err = idtab_reserve(&p->stack_tab, p->nstacks, stored_stack_hash, p);
	if (!err)
		err =
		    grow32((void **)&p->stacks, &p->stacks_cap, p->nstacks + 1, sizeof(*p->stacks));
	if (!err)
		err = grow((void **)&p->frame_pool, &p->pool_cap, p->pool_len + n,
			   sizeof(*p->frame_pool));
	if (err)
		return err;
	s = &p->stacks[p->nstacks];
	s->hash = h;
	s->n = n;
	s->off = p->pool_len;
	if (n)
		memcpy(p->frame_pool + p->pool_len, frames, n * sizeof(*frames));
	p->pool_len += n;
	for (j = h & (p->stack_tab.cap - 1); p->stack_tab.slots[j];
	     j = (j + 1) & (p->stack_tab.cap - 1))
		;
	p->stack_tab.slots[j] = p->nstacks + 1;
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

static uint64_t pid_hash(pid_t pid)
{
	return hash_mix((uint64_t)(uint32_t)pid);
}

static uint64_t stored_pid_hash(const void *ctx, uint32_t idx)
{
	return pid_hash(((const struct profile *)ctx)->procs[idx]->pid);
}

/* The pid table's slot for pid: the one holding it, or the empty one where it goes. */
static size_t pid_slot(const struct profile *p, pid_t pid)
{
	size_t mask = p->pid_tab.cap - 1, j;

	for (j = pid_hash(pid) & mask; p->pid_tab.slots[j]; j = (j + 1) & mask)
		if (p->procs[p->pid_tab.slots[j] - 1]->pid == pid)
			break;
	return j;
}

struct prof_proc *profile__proc_find(const struct profile *p, pid_t pid)
{
	uint32_t v;

	if (!p->pid_tab.cap)
		return NULL;
	v = p->pid_tab.slots[pid_slot(p, pid)];
	return v ? p->procs[v - 1] : NULL;
}

uint32_t profile__nprocs(const struct profile *p)
{
	return p->nprocs;
}

const struct prof_proc *profile__proc_at(const struct profile *p, uint32_t idx)
{
	return idx < p->nprocs ? p->procs[idx] : NULL;
}

static void proc_free(struct prof_proc *t)
{
	if (!t)
		return;
	free(t->comm);
	free(t->cmdline);
	free(t->exe);
	free(t);
}

/* Replace a process's strings; NULL arguments keep the old value. All or nothing. */
static int proc_set_strings(struct prof_proc *t, const char *comm, const char *cmdline,
			    const char *exe)
{
	char *c = comm ? str_copy(comm) : NULL;
	char *l = cmdline ? str_copy(cmdline) : NULL;
	char *e = exe ? str_copy(exe) : NULL;

	if ((comm && !c) || (cmdline && !l) || (exe && !e)) {
		free(c);
		free(l);
		free(e);
		return -ENOMEM;
	}
	if (c) {
		free(t->comm);
		t->comm = c;
	}
	if (l) {
		free(t->cmdline);
		t->cmdline = l;
	}
	if (e) {
		free(t->exe);
		t->exe = e;
	}
	return 0;
}

/* A new, newest entry for pid with empty strings. */
static struct prof_proc *proc_add(struct profile *p, pid_t pid, pid_t ppid)
{
	struct prof_proc *t;
	size_t j;
	int err;

	if (p->nprocs == UINT32_MAX - 1) {
		errno = ENOSPC;
		return NULL;
	}
	err = idtab_reserve(&p->pid_tab, p->nprocs, stored_pid_hash, p);
	if (!err)
		err = grow32((void **)&p->procs, &p->procs_cap, p->nprocs + 1, sizeof(*p->procs));
	if (err) {
		errno = -err;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (proc_set_strings(t, "", "", "")) {
		proc_free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->idx = p->nprocs;
	t->pid = pid;
	t->ppid = ppid;
	p->procs[p->nprocs++] = t;
	j = pid_slot(p, pid);
	p->pid_tab.slots[j] = t->idx + 1;
	return t;
}

static int mem_mark(struct profile *p, uint16_t type, uint64_t ts_ns, uint32_t proc);

int profile__proc_start(struct profile *p, pid_t pid, pid_t ppid, uint64_t ts_ns, const char *comm,
			const char *cmdline, const char *exe)
{
	struct prof_proc *t = profile__proc_find(p, pid);
	int err;

	if (!t || t->exited) {
		t = proc_add(p, pid, ppid);
		if (!t)
			return -errno;
	}
	t->ppid = ppid;
	t->start_ns = ts_ns;
	err = proc_set_strings(t, comm, cmdline, exe);
	if (!err && p->journal)
		err = p->journal->proc_start(p->journal->ctx, pid, ppid, ts_ns, comm, cmdline, exe);
	return err;
}

int profile__proc_exec(struct profile *p, pid_t pid, uint64_t ts_ns, const char *comm,
		       const char *cmdline, const char *exe)
{
	struct prof_proc *t = profile__proc_find(p, pid);
	int err;

	if (!t || t->exited) {
		t = proc_add(p, pid, 0);
		if (!t)
			return -errno;
	}
	err = proc_set_strings(t, comm, cmdline, exe);
	if (!err)
		err = mem_mark(p, MEMREC_EXEC, ts_ns, t->idx);
	if (!err && p->journal)
		err = p->journal->proc_exec(p->journal->ctx, pid, ts_ns, comm, cmdline, exe);
	return err;
}

/* An exit for an unknown pid, or for one already exited, makes a new, exited entry. */
int profile__proc_exit(struct profile *p, pid_t pid, uint64_t ts_ns, int exit_code)
{
	struct prof_proc *t = profile__proc_find(p, pid);

	if (!t || t->exited) {
		t = proc_add(p, pid, 0);
		if (!t)
			return -errno;
	}
	t->exited = true;
	t->end_ns = ts_ns;
	t->exit_code = exit_code;
	if (mem_mark(p, MEMREC_EXIT, ts_ns, t->idx))
		return -ENOMEM;
	if (p->journal)
		return p->journal->proc_exit(p->journal->ctx, pid, ts_ns, exit_code);
	return 0;
}

/* Samples go to the newest entry for pid even after its exit (a late sample of an exiting
 * process); a sample adds its weight to the process's count. */
int profile__sample(struct profile *p, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu,
		    uint32_t stack, uint64_t weight)
{
	struct prof_proc *t;
	struct prof_sample *s;
	int err;

	if (stack >= p->nstacks)
		return -EINVAL;
	err = grow((void **)&p->samples, &p->samples_cap, p->compact ? 1 : p->nsamples + 1,
		   sizeof(*p->samples));
	if (err)
		return err;
	t = profile__proc_find(p, pid);
	if (!t) {
		t = proc_add(p, pid, 0);
		if (!t)
			return -errno;
	}
	if (p->compact && agg_add(p, t->idx, stack, weight))
		return -ENOMEM;
	s = &p->samples[p->compact ? 0 : p->nsamples];
	p->nsamples++;
	s->ts_ns = ts_ns;
	s->proc = t->idx;
	s->tid = (uint32_t)tid;
	s->cpu = cpu;
	s->stack = stack;
	s->weight = weight;
	t->samples += weight;
	if (p->journal)
		return p->journal->sample(p->journal->ctx, ts_ns, pid, tid, cpu, stack, weight);
	return 0;
}

size_t profile__nsamples(const struct profile *p)
{
	return p->nsamples;
}

const struct prof_sample *profile__sample_at(const struct profile *p, size_t i)
{
	if (p->compact) /* only the last one is kept */
		return i + 1 == p->nsamples ? &p->samples[0] : NULL;
	return i < p->nsamples ? &p->samples[i] : NULL;
}

static uint64_t name_hash(const char *name)
{
	return hash_mix(hash_bytes(0xcbf29ce484222325ULL, name, strnlen(name, PROFILE_STR_MAX)));
}

static uint64_t stored_name_hash(const void *ctx, uint32_t i)
{
	return ((const struct named_list *)ctx)->v[i].hash;
}

/* The slot of name in l's table: the one holding it, or the empty one where it goes. */
static size_t named_slot(const struct named_list *l, const char *name, uint64_t h)
{
	size_t mask = l->tab.cap - 1, j;

	for (j = h & mask; l->tab.slots[j]; j = (j + 1) & mask) {
		const struct named_value *e = &l->v[l->tab.slots[j] - 1];

		if (e->hash == h && strncmp(e->name, name, PROFILE_STR_MAX) == 0)
			break;
	}
	return j;
}

static struct named_value *named_find(const struct named_list *l, const char *name)
{
	uint32_t v;

	if (!l->tab.cap)
		return NULL;
	v = l->tab.slots[named_slot(l, name, name_hash(name))];
	return v ? &l->v[v - 1] : NULL;
}

/* Find name in the list or append it (value NULL, num 0). */
static struct named_value *named_get(struct named_list *l, const char *name)
{
	struct named_value *e = named_find(l, name);
	size_t j;

	if (e)
		return e;
	if (idtab_reserve(&l->tab, l->n, stored_name_hash, l) ||
	    grow32((void **)&l->v, &l->cap, (size_t)l->n + 1, sizeof(*l->v)))
		return NULL;
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->name = str_copy(name);
	if (!e->name)
		return NULL;
	e->hash = name_hash(name);
	j = named_slot(l, name, e->hash);
	l->tab.slots[j] = ++l->n;
	return e;
}

static void named_free(struct named_list *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	free(l->tab.slots);
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
	if (i >= p->stats.n)
		return NULL;
	if (value)
		*value = p->stats.v[i].num;
	return p->stats.v[i].name;
}

int profile__set_meta(struct profile *p, const char *key, const char *value)
{
	struct named_value *e;
	char *v;

	if (!key || !value)
		return -EINVAL;
	v = str_copy(value);
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
	if (i >= p->meta.n)
		return NULL;
	if (value)
		*value = p->meta.v[i].value;
	return p->meta.v[i].name;
}

int profile__for_each_stack_count(const struct profile *p,
				  int (*fn)(uint32_t proc, uint32_t stack, uint64_t weight,
					    void *ctx),
				  void *ctx)
{
	uint64_t *keys, *weights;
	size_t cap = 64, mask, i;
	int err = 0;

	if (p->compact) {
		for (i = 0; i < p->agg_cap && !err; i++)
			if (p->agg_keys[i])
				err = fn((p->agg_keys[i] - 1) >> 32, (uint32_t)(p->agg_keys[i] - 1),
					 p->agg_weights[i], ctx);
		return err;
	}
	while (cap < p->nsamples * 2)
		cap *= 2;
	mask = cap - 1;
	keys = calloc(cap, sizeof(*keys));
	weights = calloc(cap, sizeof(*weights));
	if (!keys || !weights) {
		err = -ENOMEM;
		goto out;
	}
	/* key = proc << 32 | stack, plus one so that 0 marks an empty slot */
	for (i = 0; i < p->nsamples; i++) {
		const struct prof_sample *s = &p->samples[i];
		uint64_t key = ((uint64_t)s->proc << 32 | s->stack) + 1;
		size_t j;

		for (j = hash_mix(key) & mask; keys[j] && keys[j] != key; j = (j + 1) & mask)
			;
		keys[j] = key;
		weights[j] += s->weight;
	}
	for (i = 0; i < cap && !err; i++) {
		uint64_t key = keys[i] - 1;

		if (keys[i])
			err = fn(key >> 32, (uint32_t)key, weights[i], ctx);
	}
out:
	free(keys);
	free(weights);
	return err;
}

void profile__set_journal(struct profile *p, const struct profile_journal *j)
{
	p->journal = j;
}

struct profile *profile__new(void)
{
	return calloc(1, sizeof(struct profile));
}

void profile__free(struct profile *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nframes; i++) {
		free((char *)p->frames[i].f.name);
		free((char *)p->frames[i].f.file);
	}
	free(p->frames);
	free(p->frame_tab.slots);
	free(p->stacks);
	free(p->frame_pool);
	free(p->stack_tab.slots);
	for (uint32_t i = 0; i < p->nprocs; i++)
		proc_free(p->procs[i]);
	free(p->procs);
	free(p->pid_tab.slots);
	free(p->samples);
	free(p->agg_keys);
	free(p->agg_weights);
	named_free(&p->stats);
	named_free(&p->meta);
	free(p->mem);
	free(p->memc);
	free(p->memc_set);
	free(p);
}

struct counts_ctx {
	bool (*keep)(uint32_t proc, void *ctx);
	void *ctx;
	struct prof_stack *v;
	size_t n, cap;
};

static int counts_add(uint32_t proc, uint32_t stack, uint64_t weight, void *ctx)
{
	struct counts_ctx *c = ctx;

	if (c->keep && !c->keep(proc, c->ctx))
		return 0;
	if (grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)))
		return -ENOMEM;
	c->v[c->n++] = (struct prof_stack){proc, stack, weight};
	return 0;
}

int profile__stack_count_order(const void *a, const void *b)
{
	const struct prof_stack *x = a, *y = b;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

int profile__stack_counts(const struct profile *p, bool (*keep)(uint32_t proc, void *ctx),
			  void *ctx, struct prof_stack **out, size_t *n)
{
	struct counts_ctx c = {.keep = keep, .ctx = ctx};
	int err = profile__for_each_stack_count(p, counts_add, &c);

	if (err) {
		free(c.v);
		return err;
	}
	if (c.n) /* qsort of a NULL array is undefined, even when empty */
		qsort(c.v, c.n, sizeof(*c.v), profile__stack_count_order);
	*out = c.v;
	*n = c.n;
	return 0;
}

/* --- Memory events ------------------------------------------------------------------ */

static bool alloc_kind(uint32_t kind)
{
	return kind >= TP_MEM_MALLOC && kind <= TP_MEM_MREMAP;
}

static bool free_kind(uint32_t kind)
{
	return kind == TP_MEM_FREE || kind == TP_MEM_MUNMAP;
}

static int mem_append(struct profile *p, const struct prof_memrec *r)
{
	int err = grow((void **)&p->mem, &p->mem_cap, p->nmem + 1, sizeof(*p->mem));

	if (err)
		return err;
	p->mem[p->nmem++] = *r;
	return 0;
}

/* Append a record (unless memory events are not kept). The first one is preceded by an
 * exit record (at its own time) for every process that exited before it, so that events
 * for those entries are known to come after their exit. */
static int mem_push(struct profile *p, const struct prof_memrec *r)
{
	uint32_t n = p->nmem ? 0 : p->nprocs;
	int err;

	if (p->mem_drop)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!p->procs[i]->exited)
			continue;
		err =
		    mem_append(p, &(struct prof_memrec){
				      .ts_ns = p->procs[i]->end_ns ? p->procs[i]->end_ns : r->ts_ns,
				      .proc = i,
				      .stack = UINT32_MAX,
				      .type = MEMREC_EXIT});
		if (err)
			return err;
	}
	return mem_append(p, r);
}

/* An exec or exit ends the image's heap: in the event order, once there are events. */
static int mem_mark(struct profile *p, uint16_t type, uint64_t ts_ns, uint32_t proc)
{
	if (!p->nmem)
		return 0;
	return mem_push(p, &(struct prof_memrec){
			       .ts_ns = ts_ns, .proc = proc, .stack = UINT32_MAX, .type = type});
}

/* The newest entry for pid, made (with parent ppid) when there is none. */
static struct prof_proc *mem_proc(struct profile *p, pid_t pid, pid_t ppid)
{
	struct prof_proc *t = profile__proc_find(p, pid);

	return t ? t : proc_add(p, pid, ppid);
}

int profile__mem_alloc(struct profile *p, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t kind,
		       uint64_t addr, uint64_t size, uint64_t rate, uint32_t stack)
{
	struct prof_proc *t;
	int err;

	if (stack >= p->nstacks || !alloc_kind(kind))
		return -EINVAL;
	t = mem_proc(p, pid, 0);
	if (!t)
		return -errno;
	err = mem_push(p, &(struct prof_memrec){ts_ns, addr, size, rate, t->idx, stack,
						(uint32_t)tid, (uint16_t)kind, MEMREC_ALLOC});
	if (!err && p->journal)
		err = p->journal->mem_alloc(p->journal->ctx, ts_ns, pid, tid, kind, stack, addr,
					    size, rate);
	return err;
}

int profile__mem_free(struct profile *p, uint64_t ts_ns, pid_t pid, uint32_t kind, uint64_t addr)
{
	struct prof_proc *t;
	int err;

	if (!free_kind(kind))
		return -EINVAL;
	t = mem_proc(p, pid, 0);
	if (!t)
		return -errno;
	err = mem_push(p, &(struct prof_memrec){.ts_ns = ts_ns,
						.addr = addr,
						.proc = t->idx,
						.stack = UINT32_MAX,
						.kind = (uint16_t)kind,
						.type = MEMREC_FREE});
	if (!err && p->journal)
		err = p->journal->mem_free(p->journal->ctx, ts_ns, pid, kind, addr);
	return err;
}

/* A child already exited (a pid reused) gets a new entry, as profile__proc_start does. */
int profile__mem_fork(struct profile *p, uint64_t ts_ns, pid_t child, pid_t parent)
{
	struct prof_proc *c, *par;
	int err;

	par = mem_proc(p, parent, 0);
	if (!par)
		return -errno;
	c = profile__proc_find(p, child);
	if (!c || c->exited)
		c = proc_add(p, child, parent);
	if (!c)
		return -errno;
	if (!c->ppid)
		c->ppid = parent;
	err = mem_push(p, &(struct prof_memrec){.ts_ns = ts_ns,
						.addr = par->idx,
						.proc = c->idx,
						.stack = UINT32_MAX,
						.type = MEMREC_FORK});
	if (!err && p->journal)
		err = p->journal->mem_fork(p->journal->ctx, ts_ns, child, parent);
	return err;
}

int profile__mem_rss(struct profile *p, uint64_t ts_ns, pid_t pid, uint64_t rss_bytes)
{
	struct prof_proc *t = mem_proc(p, pid, 0);
	int err;

	if (!t)
		return -errno;
	err = mem_push(p, &(struct prof_memrec){.ts_ns = ts_ns,
						.size = rss_bytes,
						.proc = t->idx,
						.stack = UINT32_MAX,
						.type = MEMREC_RSS});
	if (!err && p->journal)
		err = p->journal->mem_rss(p->journal->ctx, ts_ns, pid, rss_bytes);
	return err;
}

int profile__mem_counters(struct profile *p, uint64_t ts_ns, pid_t pid,
			  const struct tp_memcounters *c)
{
	struct prof_proc *t;
	size_t cap;
	int err;

	if (!c)
		return -EINVAL;
	t = mem_proc(p, pid, 0);
	if (!t)
		return -errno;
	if (t->idx >= p->memc_cap) {
		cap = p->memc_cap;
		err = grow((void **)&p->memc, &cap, (size_t)t->idx + 1, sizeof(*p->memc));
		if (err)
			return err;
		cap = p->memc_cap;
		err = grow((void **)&p->memc_set, &cap, (size_t)t->idx + 1, sizeof(*p->memc_set));
		if (err)
			return err;
		memset(p->memc_set + p->memc_cap, 0, (cap - p->memc_cap) * sizeof(*p->memc_set));
		p->memc_cap = cap;
	}
	p->memc[t->idx] = *c;
	p->memc_set[t->idx] = true;
	if (p->journal)
		return p->journal->mem_counters(p->journal->ctx, ts_ns, pid, c);
	return 0;
}

void profile__keep_mem(struct profile *p, bool keep)
{
	p->mem_drop = !keep;
}

size_t profile__nmem(const struct profile *p)
{
	return p->nmem;
}

const struct prof_memrec *profile__mem_at(const struct profile *p, size_t i)
{
	return i < p->nmem ? &p->mem[i] : NULL;
}

const struct tp_memcounters *profile__mem_counters_get(const struct profile *p, uint32_t proc)
{
	return proc < p->memc_cap && p->memc_set[proc] ? &p->memc[proc] : NULL;
}
