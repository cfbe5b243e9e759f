// SPDX-License-Identifier: GPL-2.0
/* A pid set is a hash table of pids with empty values. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/hash.h"
#include "lib/pidset.h"

struct pidset {
	struct htab t;
};

struct pidset *pidset__new(void)
{
	struct pidset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	htab__init(&s->t, 0);
	return s;
}

void pidset__free(struct pidset *s)
{
	if (!s)
		return;
	htab__fini(&s->t);
	free(s);
}

int pidset__add(struct pidset *s, pid_t pid)
{
	if (pid <= 0)
		return -EINVAL;
	return htab__put(&s->t, pid, NULL) ? 0 : -ENOMEM;
}

void pidset__del(struct pidset *s, pid_t pid)
{
	if (pid > 0)
		htab__del(&s->t, pid);
}

bool pidset__has(const struct pidset *s, pid_t pid)
{
	return pid > 0 && htab__get(&s->t, pid) != NULL;
}

size_t pidset__count(const struct pidset *s)
{
	return htab__count(&s->t);
}

size_t pidset__list(const struct pidset *s, pid_t *out, size_t max)
{
	size_t it = 0, n = 0;
	uint64_t key;

	while (n < max && htab__next(&s->t, &it, &key))
		out[n++] = (pid_t)key;
	return n;
}
