/* CPython line tables: which source line an instruction belongs to.
 *
 * Three formats, chosen by the Python minor version:
 *   3.8, 3.9   co_lnotab: pairs (address delta u8, line delta s8)
 *   3.10       co_linetable (PEP 626): pairs (address delta u8, line delta s8, -128 = no line)
 *   3.11+      co_linetable location table (Objects/locations.md): variable-length entries
 *
 * Unit: every offset in this API is a BYTE offset into the code object's bytecode (co_code,
 * or co_code_adaptive on 3.11+), for every version; the caller converts what the frame holds
 * (3.8/3.9 f_lasti is already bytes, 3.10 f_lasti is code units: multiply by 2, 3.11+ is a
 * pointer: subtract the start of co_code_adaptive).
 *
 * A line of 0 means "no line" (a range without location, or an offset past the table).
 * Tables come from other processes: every byte is untrusted, loops are bounded by the table
 * length and nothing is read outside [table, table + len).
 */
#ifndef TREEPROF_LINETABLE_H
#define TREEPROF_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

#define LINETABLE_END UINT32_MAX /* end of the last 3.8/3.9 range: the table has no length */

/* One address range [start, end) of bytecode, in bytes, and its line (0: none). */
struct linetable_range {
	uint32_t start;
	uint32_t end;
	int32_t line;
};

/* Walks a table range by range. Plain data: initialise with linetable__iter_init. */
struct linetable_iter {
	const uint8_t *p;   /* next unread byte */
	const uint8_t *end; /* one past the table */
	int minor;
	int32_t line;  /* running line (computed_line in CPython) */
	uint32_t addr; /* start of the next range, bytes */
	int done;
};

/* 0, or -ENOTSUP when minor is not in 8..15. table may be NULL when len is 0. */
int linetable__iter_init(struct linetable_iter *it, int minor, const void *table, size_t len,
			 int32_t firstlineno);
/* 1 and *r for the next non-empty range, 0 at the end of the table, -EINVAL when the table
 * is malformed (the ranges returned before stay valid). */
int linetable__next(struct linetable_iter *it, struct linetable_range *r);

/* The line of the instruction at byte offset `offset`, or 0 when it has none or the table
 * does not cover it (also for a malformed table or an unknown version). */
int32_t linetable__line(int minor, const void *table, size_t len, int32_t firstlineno,
			uint32_t offset);

#endif
