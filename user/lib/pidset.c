// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/pidset.h"

/* Open addressing with tombstones; pid 0 is empty, -1 is a deleted slot. */
struct pidset {
	pid_t *slots;
	size_t cap, count, used;
};

struct pidset *pidset__new(void)
{
	struct pidset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = 256;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

void pidset__free(struct pidset *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s);
}

static size_t pid_hash(pid_t pid, size_t cap)
{
	return ((uint32_t)pid * 2654435761u) & (cap - 1);
}

static pid_t *find_slot(const struct pidset *s, pid_t pid, bool for_insert)
{
	size_t i = pid_hash(pid, s->cap);
	pid_t *tomb = NULL;

	for (size_t probe = 0; probe < s->cap; probe++, i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == pid)
			return &s->slots[i];
		if (s->slots[i] == -1 && !tomb)
			tomb = &s->slots[i];
		if (s->slots[i] == 0)
			return for_insert ? (tomb ? tomb : &s->slots[i]) : NULL;
	}
	return for_insert ? tomb : NULL;
}

/* Rehash: double when live entries fill a quarter, else same size to drop tombstones. */
static int rehash(struct pidset *s)
{
	struct pidset n = {.cap = s->count * 4 >= s->cap ? s->cap * 2 : s->cap};

	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slots[i] > 0) {
			*find_slot(&n, s->slots[i], true) = s->slots[i];
			n.count++;
			n.used++;
		}
	}
	free(s->slots);
	*s = n;
	return 0;
}

int pidset__add(struct pidset *s, pid_t pid)
{
	pid_t *slot;

	if (pid <= 0)
		return -EINVAL;
	if ((s->used + 1) * 2 > s->cap && rehash(s))
		return -ENOMEM;
	slot = find_slot(s, pid, true);
	if (*slot == pid)
		return 0;
	if (*slot == 0)
		s->used++;
	*slot = pid;
	s->count++;
	return 0;
}

void pidset__del(struct pidset *s, pid_t pid)
{
	pid_t *slot = pid > 0 ? find_slot(s, pid, false) : NULL;

	if (slot) {
		*slot = -1;
		s->count--;
	}
}

bool pidset__has(const struct pidset *s, pid_t pid)
{
	return pid > 0 && find_slot(s, pid, false) != NULL;
}

size_t pidset__count(const struct pidset *s)
{
	return s->count;
}

size_t pidset__list(const struct pidset *s, pid_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->cap && n < max; i++)
		if (s->slots[i] > 0)
			out[n++] = s->slots[i];
	return n;
}
