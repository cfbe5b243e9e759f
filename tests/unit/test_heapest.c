/* The live heap estimate (ui/heapest.h): the report's accounting rules, read as events
 * arrive. */
#include <errno.h>

#include "ui/heapest.h"
#include "unit.h"

#define MIB (1ULL << 20)

static void heapest_follows_blocks_from_alloc_to_free(void)
{
	struct heapest *h = heapest__new(1024);

	CHECK(h != NULL);
	CHECK_EQ_INT(heapest__alloc(h, 10, 0x1000, MIB, 1), 0);
	CHECK_EQ_INT(heapest__alloc(h, 10, 0x2000, 0.4 * MIB, 2), 0);
	CHECK_EQ_INT(heapest__alloc(h, 11, 0x1000, 3 * MIB, 3), 0); /* another process */
	CHECK_EQ_INT(heapest__bytes(h, 10), MIB + (uint64_t)(0.4 * MIB + 0.5));
	CHECK_EQ_INT(heapest__bytes(h, 11), 3 * MIB);
	heapest__release(h, 10, 0x2000, 4);
	CHECK_EQ_INT(heapest__bytes(h, 10), MIB);
	CHECK_EQ_INT(heapest__bytes(h, 11), 3 * MIB);
	/* An allocation where a block is held replaces it (its free was missed). */
	CHECK_EQ_INT(heapest__alloc(h, 10, 0x1000, 2 * MIB, 5), 0);
	CHECK_EQ_INT(heapest__bytes(h, 10), 2 * MIB);
	CHECK_EQ_INT(heapest__blocks(h), 2);
	/* A free of a block never seen (a fork child's inherited one) changes nothing. */
	heapest__release(h, 10, 0x9000, 6);
	heapest__release(h, 12, 0x1000, 6);
	CHECK_EQ_INT(heapest__bytes(h, 10), 2 * MIB);
	CHECK_EQ_INT(heapest__bytes(h, 12), 0);
	CHECK_EQ_INT(heapest__alloc(h, 0, 0x1000, MIB, 7), -EINVAL);
	CHECK_EQ_INT(heapest__alloc(h, 10, 0x3000, 0, 7), -EINVAL);
	heapest__free(h);
	heapest__free(NULL);
}

static void heapest_exec_ends_the_old_image(void)
{
	struct heapest *h = heapest__new(1024);

	for (int i = 0; i < 48; i++)
		CHECK_EQ_INT(heapest__alloc(h, 20, 0x100000ULL * (i + 1), MIB, 100 + i), 0);
	CHECK_EQ_INT(heapest__bytes(h, 20), 48 * MIB);
	CHECK_EQ_INT(heapest__image(h, 20, 1000), 0); /* exec */
	CHECK_EQ_INT(heapest__bytes(h, 20), 0);
	CHECK_EQ_INT(heapest__blocks(h), 0);
	/* The old image's late records: ignored, frees and allocations alike. */
	CHECK_EQ_INT(heapest__alloc(h, 20, 0x7000000, MIB, 999), -ESTALE);
	heapest__release(h, 20, 0x100000, 999);
	/* The new image's blocks count; a free at an old block's address subtracts nothing
	 * it did not allocate there. */
	CHECK_EQ_INT(heapest__alloc(h, 20, 0x200000, 2 * MIB, 1001), 0);
	heapest__release(h, 20, 0x100000, 1002);
	CHECK_EQ_INT(heapest__bytes(h, 20), 2 * MIB);
	heapest__release(h, 20, 0x200000, 1003);
	CHECK_EQ_INT(heapest__bytes(h, 20), 0);
	/* A fork child starts with nothing of its own. */
	CHECK_EQ_INT(heapest__image(h, 21, 1100), 0);
	heapest__release(h, 21, 0x300000, 1101); /* inherited from 20 */
	CHECK_EQ_INT(heapest__alloc(h, 21, 0x400000, MIB, 1102), 0);
	CHECK_EQ_INT(heapest__bytes(h, 21), MIB);
	heapest__free(h);
}

static void heapest_exit_forgets_the_process(void)
{
	struct heapest *h = heapest__new(1024);

	CHECK_EQ_INT(heapest__alloc(h, 30, 0x1000, MIB, 1), 0);
	CHECK_EQ_INT(heapest__alloc(h, 31, 0x1000, MIB, 1), 0);
	heapest__exit(h, 30);
	heapest__exit(h, 30); /* again: nothing */
	heapest__exit(h, 99); /* never seen */
	CHECK_EQ_INT(heapest__bytes(h, 30), 0);
	CHECK_EQ_INT(heapest__bytes(h, 31), MIB);
	CHECK_EQ_INT(heapest__blocks(h), 1);
	heapest__free(h);
}

static void heapest_follows_at_most_max_blocks(void)
{
	struct heapest *h = heapest__new(100);

	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(heapest__alloc(h, 40 + i % 3, 0x1000ULL * (i + 1), 1000, 1), 0);
	CHECK_EQ_INT(heapest__alloc(h, 40, 0x1000ULL * 1000, 1000, 2), -ENOSPC);
	/* Replacing a followed block needs no room. */
	CHECK_EQ_INT(heapest__alloc(h, 40, 0x1000, 5000, 2), 0);
	CHECK_EQ_INT(heapest__blocks(h), 100);
	/* A free, an exec or an exit makes room again. */
	heapest__release(h, 40, 0x1000, 3);
	CHECK_EQ_INT(heapest__alloc(h, 40, 0x1000ULL * 1000, 1000, 4), 0);
	CHECK_EQ_INT(heapest__image(h, 41, 5), 0);
	CHECK_EQ_INT(heapest__blocks(h), 100 - 33);
	heapest__exit(h, 42);
	CHECK_EQ_INT(heapest__blocks(h), 100 - 33 - 33);
	CHECK_EQ_INT(heapest__bytes(h, 40), 34 * 1000);
	heapest__free(h);
}

/* Churn: many blocks allocated and freed across processes leave the sums exact. */
static void heapest_churn_keeps_exact_sums(void)
{
	struct heapest *h = heapest__new(1 << 16);
	uint64_t want[4] = {0};

	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 5000; i++)
			heapest__alloc(h, 50 + i % 4, 0x10000ULL * (round * 5000 + i + 1), 777.3,
				       1);
		for (int i = 0; i < 5000; i += 2)
			heapest__release(h, 50 + i % 4, 0x10000ULL * (round * 5000 + i + 1), 1);
	}
	for (int i = 1; i < 5000; i += 2)
		want[i % 4] += 20 * 777;
	for (int p = 0; p < 4; p++)
		CHECK_EQ_INT(heapest__bytes(h, 50 + p), want[p]);
	CHECK_EQ_INT(heapest__blocks(h), 20 * 2500);
	heapest__free(h);
}

UNIT_MAIN("heapest", UNIT_TEST(heapest_follows_blocks_from_alloc_to_free),
	  UNIT_TEST(heapest_exec_ends_the_old_image), UNIT_TEST(heapest_exit_forgets_the_process),
	  UNIT_TEST(heapest_follows_at_most_max_blocks), UNIT_TEST(heapest_churn_keeps_exact_sums))
