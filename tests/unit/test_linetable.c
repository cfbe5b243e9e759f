/* Line-table decoders on hand-built tables, one per format, including the rare entries:
 * multi-chunk lnotab deltas, the 3.10 "no line" delta -128, and 3.11+ code-15 (no location)
 * entries, long-form and multi-byte varints; then malformed and random tables. All offsets
 * are bytes. */
#include <errno.h>
#include <stdlib.h>

#include "symbols/linetable.h"
#include "unit.h"

#define LINE(minor, t, first, off) linetable__line(minor, t, sizeof(t), first, off)

/* The line expected at one byte offset. */
struct at {
	uint32_t off;
	int32_t line;
};

static void check_lines(int minor, const unsigned char *t, size_t len, int32_t first,
			const struct at *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int32_t line = linetable__line(minor, t, len, first, want[i].off);

		if (line != want[i].line)
			unit_fail("3.%d, offset %u: expected line %d, saw %d", minor, want[i].off,
				  want[i].line, line);
	}
}

/* CHECK_LINES(minor, t, first, {offset, line}...): the line at each offset of table t. */
#define CHECK_LINES(minor, t, first, ...)                                                          \
	check_lines(minor, t, sizeof(t), first, (const struct at[]){__VA_ARGS__},                  \
		    sizeof((const struct at[]){__VA_ARGS__}) / sizeof(struct at))

static void test_lnotab_3_8_pairs_move_address_then_line(void)
{
	/* (6,+1) (8,+2) (4,-1) from line 10 */
	static const unsigned char t[] = {6, 1, 8, 2, 4, 0xff};

	/* from 18 a negative delta; the last range never ends */
	for (int minor = 8; minor <= 9; minor++)
		CHECK_LINES(minor, t, 10, {0, 10}, {5, 10}, {6, 11}, {13, 11}, {14, 13}, {17, 13},
			    {18, 12}, {100000, 12});
}

static void test_lnotab_3_9_long_deltas_come_in_chunks(void)
{
	/* 300 bytes as (255,0)(45,1); then a jump of 130 lines as (0,127)(2,3). */
	static const unsigned char bytes[] = {255, 0, 45, 1};
	static const unsigned char lines[] = {0, 127, 2, 3};
	static const unsigned char odd[] = {4, 1, 7}; /* a trailing half pair is ignored */

	CHECK_EQ_INT(LINE(9, bytes, 1, 299), 1);
	CHECK_EQ_INT(LINE(9, bytes, 1, 300), 2);
	CHECK_EQ_INT(LINE(9, lines, 1, 0), 128);
	CHECK_EQ_INT(LINE(9, lines, 1, 2), 131);
	CHECK_EQ_INT(LINE(9, odd, 1, 4), 2);
	CHECK_EQ_INT(linetable__line(8, NULL, 0, 42, 0), 42); /* empty table: first line */
}

static void test_linetable_3_10_minus_128_is_no_line_and_keeps_the_line(void)
{
	/* (6,+1) (4,-128) (8,+2) (0,+1) (2,0) from line 20 */
	static const unsigned char t[] = {6, 1, 4, 0x80, 8, 2, 0, 1, 2, 0};
	struct linetable_iter it;
	struct linetable_range r;
	int n = 0;

	/* 6-9: no line; 10: 21 + 2, -128 did not touch the line; 18: the empty range moved it,
	 * delta 0 kept it; 20: past the table */
	CHECK_LINES(10, t, 20, {0, 21}, {5, 21}, {6, 0}, {9, 0}, {10, 23}, {18, 24}, {20, 0});

	CHECK_EQ_INT(linetable__iter_init(&it, 10, t, sizeof(t), 20), 0);
	while (linetable__next(&it, &r) == 1)
		n++;
	CHECK_EQ_INT(n, 4); /* the empty range is skipped */
}

/* Entry byte: bit 7, code in bits 3-6, length - 1 in bits 0-2. */
#define ENTRY(code, units) (0x80 | (code) << 3 | ((units)-1))

static const unsigned char loc_table[] = {
    ENTRY(13, 1), 0x02,			  /* no columns, +1            [0,2)   101 */
    ENTRY(2, 2),  0x05,			  /* short form, +0            [2,6)   101 */
    ENTRY(15, 3),			  /* no location               [6,12)  none */
    ENTRY(11, 1), 0x04, 0x08,		  /* one line, +1              [12,14) 102 */
    ENTRY(14, 1), 0x07, 0x00, 0x01, 0x05, /* long form, -3         [14,16) 99 */
    ENTRY(13, 2), 0x48, 0x03,		  /* varint +100 in 2 chunks   [16,20) 199 */
    ENTRY(10, 1), 0x00, 0x00,		  /* one line, +0              [20,22) 199 */
};

static void test_locations_3_11_plus_decode_every_entry_form(void)
{
	for (int minor = 11; minor <= 15; minor++)
		CHECK_LINES(minor, loc_table, 100, {0, 101}, {1, 101}, {2, 101}, {5, 101}, {6, 0},
			    {11, 0}, {12, 102}, {14, 99}, {16, 199}, {19, 199}, {20, 199}, {22, 0});
}

static void test_locations_code_15_does_not_reset_the_running_line(void)
{
	/* +5, no location, then a relative +0 one-line entry: still firstlineno + 5. */
	static const unsigned char t[] = {ENTRY(13, 1), 0x0a, ENTRY(15, 1), ENTRY(15, 8),
					  ENTRY(10, 1), 0x00, 0x00};
	struct linetable_iter it;
	struct linetable_range r;

	CHECK_LINES(12, t, 1, {0, 6}, {2, 0}, {17, 0}, {20, 6});

	CHECK_EQ_INT(linetable__iter_init(&it, 13, t, sizeof(t), 1), 0);
	CHECK_EQ_INT(linetable__next(&it, &r), 1);
	CHECK_EQ_INT(linetable__next(&it, &r), 1);
	CHECK_EQ_INT(r.start, 2);
	CHECK_EQ_INT(r.end, 4);
	CHECK_EQ_INT(r.line, 0);
	CHECK_EQ_INT(linetable__next(&it, &r), 1);
	CHECK_EQ_INT(r.end, 20); /* 8 code units */
}

static void test_malformed_tables_stop_without_reading_past_the_end(void)
{
	static const unsigned char no_entry[] = {0x05, ENTRY(10, 1), 0, 0};
	static const unsigned char cut_varint[] = {ENTRY(13, 1), 0x40};
	static const unsigned char long_varint[] = {ENTRY(13, 1), 0x7f, 0x7f, 0x7f, 0x7f,
						    0x7f,	  0x7f, 0x7f, 0x01};
	static const unsigned char cut_long[] = {ENTRY(14, 1)}; /* no line delta at all */
	struct linetable_iter it;
	struct linetable_range r;

	CHECK_EQ_INT(linetable__iter_init(&it, 11, no_entry, sizeof(no_entry), 1), 0);
	CHECK_EQ_INT(linetable__next(&it, &r), -EINVAL);
	CHECK_EQ_INT(linetable__next(&it, &r), 0);
	CHECK_EQ_INT(LINE(11, no_entry, 1, 0), 0);
	CHECK_EQ_INT(linetable__iter_init(&it, 11, cut_varint, sizeof(cut_varint), 1), 0);
	CHECK_EQ_INT(linetable__next(&it, &r), -EINVAL);
	CHECK_EQ_INT(linetable__iter_init(&it, 11, long_varint, sizeof(long_varint), 1), 0);
	CHECK_EQ_INT(linetable__next(&it, &r), -EINVAL);
	CHECK_EQ_INT(linetable__iter_init(&it, 14, cut_long, sizeof(cut_long), 1), 0);
	CHECK_EQ_INT(linetable__next(&it, &r), -EINVAL);
}

static void test_unknown_versions_are_refused(void)
{
	struct linetable_iter it;

	CHECK_EQ_INT(linetable__iter_init(&it, 7, loc_table, sizeof(loc_table), 1), -ENOTSUP);
	CHECK_EQ_INT(linetable__iter_init(&it, 16, loc_table, sizeof(loc_table), 1), -ENOTSUP);
	CHECK_EQ_INT(LINE(16, loc_table, 100, 0), 0);
}

/* Random bytes: every walk ends, ranges are contiguous from 0 and no more than one per
 * table byte (plus the open 3.8/3.9 tail). Run under ASan/valgrind to see no overread. */
static void test_random_tables_walk_bounded_and_contiguous(void)
{
	unsigned int seed = 12345;

	for (int round = 0; round < 20000; round++) {
		unsigned char *t;
		size_t len = rand_r(&seed) % 48;
		int minor = 8 + round % 8;
		struct linetable_iter it;
		struct linetable_range r;
		uint32_t expect_start = 0;
		size_t n = 0;
		int err;

		t = malloc(len ? len : 1); /* exact size, so ASan sees any overread */
		for (size_t i = 0; i < len; i++)
			t[i] = rand_r(&seed);
		CHECK_EQ_INT(linetable__iter_init(&it, minor, t, len, 1), 0);
		while ((err = linetable__next(&it, &r)) == 1 && n <= len + 1) {
			if (r.start != expect_start || r.end <= r.start) {
				CHECK(r.start == expect_start && r.end > r.start);
				break;
			}
			expect_start = r.end;
			n++;
		}
		CHECK(n <= len + 1);
		linetable__line(minor, t, len, 1, rand_r(&seed) % 256);
		free(t);
	}
}

UNIT_MAIN("linetable", UNIT_TEST(test_lnotab_3_8_pairs_move_address_then_line),
	  UNIT_TEST(test_lnotab_3_9_long_deltas_come_in_chunks),
	  UNIT_TEST(test_linetable_3_10_minus_128_is_no_line_and_keeps_the_line),
	  UNIT_TEST(test_locations_3_11_plus_decode_every_entry_form),
	  UNIT_TEST(test_locations_code_15_does_not_reset_the_running_line),
	  UNIT_TEST(test_malformed_tables_stop_without_reading_past_the_end),
	  UNIT_TEST(test_unknown_versions_are_refused),
	  UNIT_TEST(test_random_tables_walk_bounded_and_contiguous))
