/* Tracked anonymous mappings (see maps.h). Programs make few of them (CPython: one per
 * 1 MiB arena), and each costs a system call, so a sorted array with memmove is enough. */
#include <stddef.h>
#include <string.h>

#include "maps.h"
#include "shim_lock.h"

extern void *__libc_realloc(void *p, size_t size);

static pthread_mutex_t maps_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int maps_lock_state;
static struct shim_map *maps;
static size_t maps_len, maps_cap;

/* Index of the first mapping starting at or after addr. */
static size_t lower_bound(uint64_t addr)
{
	size_t lo = 0, hi = maps_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (maps[mid].start < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int maps__insert(const struct shim_map *m)
{
	int prev, err = 0;
	size_t i;

	prev = shim_lock_enter(&maps_mu, &maps_lock_state);
	if (prev < 0)
		return prev;
	i = lower_bound(m->start);
	if (i < maps_len && maps[i].start == m->start) {
		maps[i] = *m; /* a stale entry: its mapping went away unseen */
		goto out;
	}
	if (maps_len == maps_cap) {
		size_t ncap = maps_cap ? maps_cap * 2 : 64;
		struct shim_map *n = __libc_realloc(maps, ncap * sizeof(*n));

		if (!n) {
			err = -ENOMEM;
			goto out;
		}
		maps = n;
		maps_cap = ncap;
	}
	memmove(&maps[i + 1], &maps[i], (maps_len - i) * sizeof(*maps));
	maps[i] = *m;
	maps_len++;
out:
	shim_lock_leave(&maps_mu, &maps_lock_state, prev);
	return err;
}

int maps__take(uint64_t start, struct shim_map *out)
{
	int prev, err = -ENOENT;
	size_t i;

	prev = shim_lock_enter(&maps_mu, &maps_lock_state);
	if (prev < 0)
		return prev;
	i = lower_bound(start);
	if (i < maps_len && maps[i].start == start) {
		*out = maps[i];
		memmove(&maps[i], &maps[i + 1], (maps_len - i - 1) * sizeof(*maps));
		maps_len--;
		err = 0;
	}
	shim_lock_leave(&maps_mu, &maps_lock_state, prev);
	return err;
}

int maps__release(uint64_t lo, uint64_t hi, void (*fn)(const struct shim_map *m))
{
	size_t i, j;
	int prev;

	prev = shim_lock_enter(&maps_mu, &maps_lock_state);
	if (prev < 0)
		return prev;
	i = lower_bound(lo);
	for (j = i; j < maps_len && maps[j].start < hi; j++)
		fn(&maps[j]);
	if (j > i) {
		memmove(&maps[i], &maps[j], (maps_len - j) * sizeof(*maps));
		maps_len -= j - i;
	}
	shim_lock_leave(&maps_mu, &maps_lock_state, prev);
	return 0;
}

void maps__at_fork(enum shim_fork phase)
{
	shim_lock_at_fork(&maps_mu, &maps_lock_state, phase);
}
