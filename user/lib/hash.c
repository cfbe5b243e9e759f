// SPDX-License-Identifier: GPL-2.0
/* The open-addressing table of hash.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"

#define HTAB_MIN_CAP 16

/* The largest value size accepted: anything larger is a caller's mistake (EINVAL). */
#define HTAB_MAX_VAL ((size_t)1 << 30)

int htab__init(struct htab *h, size_t val_size)
{
	size_t stride = sizeof(uint64_t) + ((val_size + 7) & ~(size_t)7);

	if (val_size > HTAB_MAX_VAL)
		return -EINVAL;
	*h = (struct htab){.stride = stride, .val_size = val_size};
	return 0;
}

void htab__fini(struct htab *h)
{
	free(h->slots);
	h->slots = NULL;
	h->cap = 0;
	h->count = 0;
}

struct htab *htab__new(size_t val_size)
{
	struct htab *h;

	if (val_size > HTAB_MAX_VAL) {
		errno = EINVAL;
		return NULL;
	}
	h = malloc(sizeof(*h));
	if (h)
		htab__init(h, val_size);
	return h;
}

void htab__free(struct htab *h)
{
	if (!h)
		return;
	htab__fini(h);
	free(h);
}

/* The first empty slot on key's probe sequence. */
static uint64_t *htab__empty_slot(const struct htab *h, uint64_t key)
{
	size_t mask = h->cap - 1, j = hash__mix64(key) & mask;

	while (*htab__key_at_(h, j))
		j = (j + 1) & mask;
	return htab__key_at_(h, j);
}

int htab__reserve(struct htab *h, size_t n)
{
	struct htab nt = *h;
	size_t cap = h->cap ? h->cap : HTAB_MIN_CAP;

	if (n <= h->cap / 2)
		return 0;
	while (cap / 2 < n) {
		if (cap > SIZE_MAX / 2 / h->stride)
			return -ENOMEM;
		cap *= 2;
	}
	nt.slots = calloc(cap, h->stride);
	if (!nt.slots)
		return -ENOMEM;
	nt.cap = cap;
	for (size_t i = 0; i < h->cap; i++) {
		uint64_t *k = htab__key_at_(h, i);

		if (*k)
			memcpy(htab__empty_slot(&nt, *k), k, h->stride);
	}
	free(h->slots);
	*h = nt;
	return 0;
}

static void *htab__insert(struct htab *h, uint64_t key)
{
	uint64_t *k;

	if (htab__reserve(h, h->count + 1)) {
		errno = ENOMEM;
		return NULL;
	}
	k = htab__empty_slot(h, key);
	*k = key;
	memset(k + 1, 0, h->val_size);
	h->count++;
	return k + 1;
}

void *htab__add(struct htab *h, uint64_t key)
{
	if (!key) {
		errno = EINVAL;
		return NULL;
	}
	return htab__insert(h, key);
}

/* htab__put() once its inline probe has found key absent (or there were no slots yet, or
 * key is 0): an insertion. */
void *htab__put_slow(struct htab *h, uint64_t key, int *created)
{
	void *val = htab__add(h, key);

	if (val && created)
		*created = 1;
	return val;
}

void *htab__next_dup(const struct htab *h, uint64_t key, size_t *pos)
{
	size_t mask = h->cap - 1, j;
	uint64_t *k;

	if (!h->cap || !key)
		return NULL;
	j = *pos ? *pos & mask : hash__mix64(key) & mask;
	for (;; j = (j + 1) & mask) {
		k = htab__key_at_(h, j);
		if (!*k)
			return NULL;
		if (*k == key) {
			*pos = j + 1;
			return k + 1;
		}
	}
}

void htab__del_val(struct htab *h, void *val)
{
	size_t mask = h->cap - 1, i, j;

	i = ((unsigned char *)val - sizeof(uint64_t) - h->slots) / h->stride;
	for (j = i;;) {
		uint64_t *k;
		size_t home;

		j = (j + 1) & mask;
		k = htab__key_at_(h, j);
		if (!*k)
			break;
		home = hash__mix64(*k) & mask;
		/* move j back into the hole at i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			memcpy(htab__key_at_(h, i), k, h->stride);
			i = j;
		}
	}
	*htab__key_at_(h, i) = 0;
	h->count--;
}

int htab__del(struct htab *h, uint64_t key)
{
	void *val = htab__get(h, key);

	if (!val)
		return -ENOENT;
	htab__del_val(h, val);
	return 0;
}

void htab__clear(struct htab *h)
{
	if (h->cap)
		memset(h->slots, 0, h->cap * h->stride);
	h->count = 0;
}

void *htab__next(const struct htab *h, size_t *iter, uint64_t *key)
{
	for (size_t i = *iter; i < h->cap; i++) {
		uint64_t *k = htab__key_at_(h, i);

		if (*k) {
			*iter = i + 1;
			if (key)
				*key = *k;
			return k + 1;
		}
	}
	*iter = h->cap;
	return NULL;
}
