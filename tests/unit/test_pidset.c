/* The pid set. */
#include <errno.h>

#include "lib/pidset.h"
#include "unit.h"

static void pidset_add_del_grow(void)
{
	struct pidset *s = pidset__new();

	CHECK(s != NULL);
	for (int i = 1; i <= 5000; i++)
		CHECK_EQ_INT(pidset__add(s, i * 7), 0);
	CHECK_EQ_INT(pidset__count(s), 5000);
	CHECK_EQ_INT(pidset__add(s, 7), 0); /* again: no double count */
	CHECK_EQ_INT(pidset__count(s), 5000);
	for (int i = 1; i <= 5000; i += 2)
		pidset__del(s, i * 7);
	CHECK_EQ_INT(pidset__count(s), 2500);
	CHECK(!pidset__has(s, 7));
	CHECK(pidset__has(s, 14));
	CHECK(!pidset__has(s, 15));
	pidset__del(s, 12345678); /* absent: no effect */
	CHECK_EQ_INT(pidset__count(s), 2500);
	/* Churn through tombstones: the table must not fill up. */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 1000; i++)
			pidset__add(s, 100000 + round * 1000 + i);
		for (int i = 0; i < 1000; i++)
			pidset__del(s, 100000 + round * 1000 + i);
	}
	CHECK_EQ_INT(pidset__count(s), 2500);
	CHECK_EQ_INT(pidset__add(s, 0), -EINVAL);
	pidset__free(s);
	pidset__free(NULL);
}

UNIT_MAIN("pidset", UNIT_TEST(pidset_add_del_grow))
