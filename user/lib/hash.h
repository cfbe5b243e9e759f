/* Hashing and a generic open-addressing hash table.
 *
 * hash__mix64() scrambles a 64-bit value so that its low bits depend on all of its bits
 * (murmur3's finalizer); hash__bytes() and hash__str() are FNV-1a, to be seeded with
 * HASH_FNV_SEED (or a previous result, to hash several fields in a row) and usually
 * finished with hash__mix64() before indexing a table.
 *
 * struct htab maps a nonzero uint64_t key to a value slot of a fixed size chosen at init,
 * zero-filled when created and aligned to 8 bytes. Linear probing over a power-of-two array
 * kept at most half full; deletion shifts the following entries back, so there are no
 * tombstones and lookups stay short under any amount of churn. Key 0 marks an empty slot
 * and is never stored (put and add fail with -EINVAL).
 *
 * Tables of interned objects whose identity is not a number (strings, frames, stacks) use
 * their hash as the key, htab__add() to store an entry even when the key is already there,
 * and htab__next_dup() to walk the entries under one key and compare the objects.
 *
 * A value pointer returned by get, put, add, next or next_dup stays valid until the next
 * put, add, del, reserve, clear or fini on that table: anything that may move entries.
 * Iteration visits each entry once if the table is not changed meanwhile; the order is
 * unspecified. Not thread safe. */
#ifndef TREEPROF_LIB_HASH_H
#define TREEPROF_LIB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_SEED 0xcbf29ce484222325ULL

static inline uint64_t hash__mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* FNV-1a of n bytes at p, continuing from h. */
static inline uint64_t hash__bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* FNV-1a of the NUL-terminated string s (its NUL not included), continuing from h. */
static inline uint64_t hash__str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Embeddable: the fields are private, public only so that a table can live inside another
 * struct and htab__get() can be inlined. Each slot is the key then the value. */
struct htab {
	unsigned char *slots;
	size_t cap;   /* slots, a power of two, or 0 before the first insertion */
	size_t count; /* entries stored */
	size_t stride;
	size_t val_size;
};

/* Set up an empty table (nothing allocated until the first insertion): 0, or -EINVAL when
 * val_size is absurdly large. A zeroed struct htab is not ready: call this. */
int htab__init(struct htab *h, size_t val_size);
/* Free the slots; the table is then empty and usable again. Takes a zeroed struct too. */
void htab__fini(struct htab *h);

/* A heap-allocated table: NULL with errno set (ENOMEM, EINVAL) on failure. */
struct htab *htab__new(size_t val_size);
/* Takes NULL. */
void htab__free(struct htab *h);

static inline uint64_t *htab__key_at_(const struct htab *h, size_t i)
{
	return (uint64_t *)(h->slots + i * h->stride);
}

/* The slot holding key, or the empty slot that ends key's probe sequence when key is absent.
 * The table must have slots (cap > 0). */
static inline uint64_t *htab__probe_(const struct htab *h, uint64_t key)
{
	size_t mask = h->cap - 1, j;
	uint64_t *k;

	for (j = hash__mix64(key) & mask;; j = (j + 1) & mask) {
		k = htab__key_at_(h, j);
		if (*k == key || !*k)
			return k;
	}
}

/* The value stored under key, or NULL (always NULL for key 0). */
static inline void *htab__get(const struct htab *h, uint64_t key)
{
	uint64_t *k;

	if (!h->cap || !key)
		return NULL;
	k = htab__probe_(h, key);
	return *k ? k + 1 : NULL;
}

/* The insertion of htab__put(), for a key known to be absent. */
void *htab__put_slow(struct htab *h, uint64_t key, int *created);

/* The value under key, created zero-filled when absent (*created, if not NULL, says
 * which). NULL with errno ENOMEM (the table is unchanged) or EINVAL (key 0). The lookup of
 * a present key is inline; insertion is not. */
static inline void *htab__put(struct htab *h, uint64_t key, int *created)
{
	uint64_t *k;

	if (h->cap && key) {
		k = htab__probe_(h, key);
		if (*k) {
			if (created)
				*created = 0;
			return k + 1;
		}
	}
	return htab__put_slow(h, key, created);
}
/* A new zero-filled entry under key, even if key is already stored (a hash-keyed table
 * whose caller resolves collisions). NULL with errno ENOMEM or EINVAL (key 0). */
void *htab__add(struct htab *h, uint64_t key);
/* The entries under key in turn: start with *pos = 0; NULL after the last. */
void *htab__next_dup(const struct htab *h, uint64_t key, size_t *pos);

/* Remove one entry under key: 0, or -ENOENT. */
int htab__del(struct htab *h, uint64_t key);
/* Remove the entry whose value val points to (from get, put, add, next, next_dup). */
void htab__del_val(struct htab *h, void *val);

static inline size_t htab__count(const struct htab *h)
{
	return h->count;
}

/* Make room for n entries in all, so that the next insertions cannot fail or move entries
 * until there are n: 0 or -ENOMEM. */
int htab__reserve(struct htab *h, size_t n);
/* Remove every entry, keeping the memory. */
void htab__clear(struct htab *h);

/* Iterate: start with *iter = 0; each call returns the next entry's value and stores its
 * key in *key (if not NULL), NULL after the last. */
void *htab__next(const struct htab *h, size_t *iter, uint64_t *key);

#endif
