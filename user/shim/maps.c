/* Tracked anonymous mappings (see maps.h). Programs make few of them (CPython: one per
 * 1 MiB arena), and each costs a system call, so a sorted array with memmove is enough; a
 * cut segment keeps its sampled flag in each piece (the accounting cuts its block alike). */
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

/* Make room for extra more segments: 0 or -ENOMEM. */
static int room(size_t extra)
{
	size_t ncap = maps_cap ? maps_cap : 64;
	struct shim_map *n;

	if (maps_len + extra <= maps_cap)
		return 0;
	while (ncap < maps_len + extra)
		ncap *= 2;
	n = __libc_realloc(maps, ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	maps = n;
	maps_cap = ncap;
	return 0;
}

static void remove_at(size_t i)
{
	memmove(&maps[i], &maps[i + 1], (maps_len - i - 1) * sizeof(*maps));
	maps_len--;
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
	err = room(1);
	if (err)
		goto out;
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
		remove_at(i);
		err = 0;
	}
	shim_lock_leave(&maps_mu, &maps_lock_state, prev);
	return err;
}

static uint64_t end_of(const struct shim_map *m)
{
	return m->start + m->len;
}

/* Index of the first segment that ends after lo. */
static size_t first_overlap(uint64_t lo)
{
	size_t i = lower_bound(lo);

	return i > 0 && end_of(&maps[i - 1]) > lo ? i - 1 : i;
}

/* Segment i becomes [start, at) and [at, end) at i + 1 (room for one more is made). */
static void split_at(size_t i, uint64_t at)
{
	struct shim_map right = maps[i];

	right.start = at;
	right.len = right.size = end_of(&maps[i]) - at;
	memmove(&maps[i + 2], &maps[i + 1], (maps_len - i - 1) * sizeof(*maps));
	maps[i + 1] = right;
	maps[i].len = maps[i].size = at - maps[i].start;
	maps_len++;
}

/* Cut segment i so that its part in [lo, hi) is a segment of its own: that segment's index,
 * or -ENOMEM (segment i left as it was). */
static long isolate(size_t i, uint64_t lo, uint64_t hi)
{
	if (room(2))
		return -ENOMEM;
	if (maps[i].start < lo)
		split_at(i++, lo);
	if (end_of(&maps[i]) > hi)
		split_at(i, hi);
	return (long)i;
}

int maps__release(uint64_t lo, uint64_t hi, void (*fn)(const struct shim_map *piece, bool whole))
{
	size_t i;
	int prev;

	prev = shim_lock_enter(&maps_mu, &maps_lock_state);
	if (prev < 0)
		return prev;
	for (i = first_overlap(lo); i < maps_len && maps[i].start < hi;) {
		bool whole = maps[i].start >= lo && end_of(&maps[i]) <= hi;
		long k = whole ? (long)i : isolate(i, lo, hi);

		if (k >= 0)
			i = (size_t)k;
		fn(&maps[i], whole || k < 0);
		remove_at(i);
	}
	shim_lock_leave(&maps_mu, &maps_lock_state, prev);
	return 0;
}

int maps__protect(uint64_t lo, uint64_t hi, bool reserve, void (*fn)(struct shim_map *piece))
{
	size_t i;
	int prev;
	long k;

	prev = shim_lock_enter(&maps_mu, &maps_lock_state);
	if (prev < 0)
		return prev;
	for (i = first_overlap(lo); i < maps_len && maps[i].start < hi; i++) {
		if ((bool)maps[i].reserved == reserve || (k = isolate(i, lo, hi)) < 0)
			continue;
		i = (size_t)k;
		maps[i].reserved = reserve;
		fn(&maps[i]);
	}
	shim_lock_leave(&maps_mu, &maps_lock_state, prev);
	return 0;
}

void maps__at_fork(enum shim_fork phase)
{
	shim_lock_at_fork(&maps_mu, &maps_lock_state, phase);
}
