/* The set of sampled heap blocks (see blocks.h): open addressing with linear probing and
 * backward-shift deletion, so there are no tombstones; it doubles when half full. */
#include <stddef.h>
#include <string.h>

#include "blocks.h"
#include "shim_lock.h"

extern void *__libc_calloc(size_t nmemb, size_t size);
extern void __libc_free(void *p);

#define BLOCKS_MIN_CAP	 4096
#define FILTER_SATURATED 0xffff

struct block {
	uint64_t addr; /* 0: empty slot */
	uint64_t size;
};

uint16_t blocks_filter[1u << BLOCKS_FILTER_BITS];

static pthread_mutex_t blocks_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int blocks_lock_state;
static struct block *table;
static size_t table_cap; /* a power of two, or 0 before the first insert */
static size_t table_len;

static size_t home_slot(uint64_t addr, size_t cap)
{
	uint64_t h = (addr >> 4) * 0xc4ceb9fe1a85ec53ULL;

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static void filter_add(uint64_t addr, int delta)
{
	uint16_t *c = &blocks_filter[blocks_filter_slot(addr)];
	uint16_t v = __atomic_load_n(c, __ATOMIC_RELAXED);

	if (v == FILTER_SATURATED)
		return;
	__atomic_store_n(c, (uint16_t)(v + delta), __ATOMIC_RELAXED);
}

/* Slot holding addr, or the empty slot where it would go. */
static size_t find_slot(const struct block *t, size_t cap, uint64_t addr)
{
	size_t i = home_slot(addr, cap);

	while (t[i].addr && t[i].addr != addr)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(void)
{
	size_t ncap = table_cap ? table_cap * 2 : BLOCKS_MIN_CAP;
	struct block *nt = __libc_calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < table_cap; i++) {
		if (table[i].addr)
			nt[find_slot(nt, ncap, table[i].addr)] = table[i];
	}
	__libc_free(table);
	table = nt;
	table_cap = ncap;
	return 0;
}

int blocks__insert(uint64_t addr, uint64_t size)
{
	int prev, err = 0;
	size_t i;

	prev = shim_lock_enter(&blocks_mu, &blocks_lock_state);
	if (prev < 0)
		return prev;
	if ((table_len + 1) * 2 > table_cap) {
		err = grow();
		if (err)
			goto out;
	}
	i = find_slot(table, table_cap, addr);
	if (!table[i].addr) {
		table[i].addr = addr;
		table_len++;
		filter_add(addr, 1);
	}
	table[i].size = size;
out:
	shim_lock_leave(&blocks_mu, &blocks_lock_state, prev);
	return err;
}

/* Close the hole at slot i: move back every later entry of the run that may live there. */
static void delete_slot(size_t i)
{
	size_t mask = table_cap - 1, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!table[j].addr)
			break;
		size_t home = home_slot(table[j].addr, table_cap);

		/* j's entry stays if its home lies cyclically in (i, j]. */
		if (((j - home) & mask) < ((j - i) & mask))
			continue;
		table[i] = table[j];
		i = j;
	}
	table[i].addr = 0;
	table[i].size = 0;
}

int blocks__remove(uint64_t addr, uint64_t *size)
{
	int prev, err = -ENOENT;
	size_t i;

	prev = shim_lock_enter(&blocks_mu, &blocks_lock_state);
	if (prev < 0)
		return prev;
	if (!table_len)
		goto out;
	i = find_slot(table, table_cap, addr);
	if (!table[i].addr)
		goto out;
	if (size)
		*size = table[i].size;
	delete_slot(i);
	table_len--;
	filter_add(addr, -1);
	err = 0;
out:
	shim_lock_leave(&blocks_mu, &blocks_lock_state, prev);
	return err;
}

void blocks__at_fork(enum shim_fork phase)
{
	shim_lock_at_fork(&blocks_mu, &blocks_lock_state, phase);
}
