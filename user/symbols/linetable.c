/* Decoders for the three CPython line-table formats (see linetable.h). The semantics follow
 * CPython's own readers: PyCode_Addr2Line (3.8/3.9), advance() in Objects/codeobject.c
 * (3.10) and the location-table walk of Objects/locations.md (3.11+). */
#include <errno.h>

#include "symbols/linetable.h"

#define LOC_NO_LOCATION	 15	/* 3.11+ entry code: the range has no line */
#define LOC_LONG	 14	/* signed varint line delta, then three varints */
#define LOC_NO_COLUMNS	 13	/* signed varint line delta */
#define LOC_ONE_LINE0	 10	/* 10..12: line delta is code - 10, two column bytes */
#define NO_LINE_310	 (-128) /* 3.10 line delta meaning "no line" */
#define CODE_UNIT	 2	/* bytes per bytecode unit (3.6+) */
#define VARINT_MAX_SHIFT 30	/* longer varints are malformed */

int linetable__iter_init(struct linetable_iter *it, int minor, const void *table, size_t len,
			 int32_t firstlineno)
{
	if (minor < 8 || minor > 15)
		return -ENOTSUP;
	if (!table)
		len = 0;
	it->p = table;
	it->end = table ? it->p + len : it->p; /* no arithmetic on NULL */
	it->minor = minor;
	it->line = firstlineno;
	it->addr = 0;
	it->done = 0;
	return 0;
}

/* Line arithmetic wraps instead of overflowing: a hostile table yields odd lines, not UB. */
static int32_t line_add(int32_t line, int64_t delta)
{
	return (int32_t)((uint32_t)line + (uint32_t)delta);
}

static void set_range(struct linetable_range *r, uint32_t start, uint32_t end, int32_t line)
{
	r->start = start;
	r->end = end;
	r->line = line;
}

/* 3.8/3.9: a pair (b, l) ends the current range b bytes later, then moves the line by l.
 * Pairs with b == 0 only move the line. The last range has no end in the table. */
static int next_lnotab(struct linetable_iter *it, struct linetable_range *r)
{
	while (it->end - it->p >= 2) {
		uint8_t b = it->p[0];
		int8_t l = (int8_t)it->p[1];
		int32_t line = it->line;
		uint32_t start = it->addr;

		it->p += 2;
		it->line = line_add(it->line, l);
		if (b == 0)
			continue;
		it->addr += b;
		set_range(r, start, it->addr, line);
		return 1;
	}
	if (it->done)
		return 0;
	it->done = 1;
	set_range(r, it->addr, LINETABLE_END, it->line);
	return 1;
}

/* 3.10: each pair (b, l) covers [addr, addr + b); l == -128 means no line and leaves the
 * running line alone. Empty ranges still move the line. */
static int next_310(struct linetable_iter *it, struct linetable_range *r)
{
	while (it->end - it->p >= 2) {
		uint8_t b = it->p[0];
		int8_t l = (int8_t)it->p[1];
		int32_t line = 0;
		uint32_t start = it->addr;

		it->p += 2;
		if (l != NO_LINE_310) {
			it->line = line_add(it->line, l);
			line = it->line;
		}
		if (b == 0)
			continue;
		it->addr += b;
		set_range(r, start, it->addr, line);
		return 1;
	}
	return 0;
}

/* 6-bit little-endian chunks, 0x40 = more follows; never reads at or past end. */
static int read_varint(const uint8_t **pp, const uint8_t *end, uint32_t *out)
{
	const uint8_t *p = *pp;
	uint32_t val = 0;
	unsigned int shift = 0;

	for (;;) {
		if (p >= end || shift > VARINT_MAX_SHIFT)
			return -EINVAL;
		val |= (uint32_t)(*p & 63) << shift;
		if (!(*p++ & 64))
			break;
		shift += 6;
	}
	*pp = p;
	*out = val;
	return 0;
}

static int read_signed_varint(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
	uint32_t v;
	int err = read_varint(pp, end, &v);

	if (err)
		return err;
	*out = (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
	return 0;
}

/* 3.11+: an entry starts with a byte whose bit 7 is set: code in bits 3-6, length in code
 * units minus one in bits 0-2. Its payload runs up to the next byte with bit 7 set. */
static int next_locations(struct linetable_iter *it, struct linetable_range *r)
{
	const uint8_t *q, *entry_end;
	uint8_t first;
	int code;
	uint32_t len;
	int64_t delta = 0;
	int32_t line;

	if (it->p >= it->end)
		return 0;
	first = *it->p;
	if (!(first & 0x80)) {
		it->p = it->end;
		return -EINVAL;
	}
	code = (first >> 3) & 15;
	len = ((first & 7) + 1) * CODE_UNIT;
	q = it->p + 1;
	entry_end = q;
	while (entry_end < it->end && !(*entry_end & 0x80))
		entry_end++;

	if (code == LOC_LONG || code == LOC_NO_COLUMNS) {
		if (read_signed_varint(&q, entry_end, &delta)) {
			it->p = it->end;
			return -EINVAL;
		}
	} else if (code >= LOC_ONE_LINE0 && code < LOC_NO_COLUMNS) {
		delta = code - LOC_ONE_LINE0;
	}
	it->line = line_add(it->line, delta);
	line = code == LOC_NO_LOCATION ? 0 : it->line;

	set_range(r, it->addr, it->addr + len, line);
	it->addr += len;
	it->p = entry_end;
	return 1;
}

int linetable__next(struct linetable_iter *it, struct linetable_range *r)
{
	if (it->minor <= 9)
		return next_lnotab(it, r);
	if (it->minor == 10)
		return next_310(it, r);
	return next_locations(it, r);
}

int32_t linetable__line(int minor, const void *table, size_t len, int32_t firstlineno,
			uint32_t offset)
{
	struct linetable_iter it;
	struct linetable_range r;

	if (linetable__iter_init(&it, minor, table, len, firstlineno))
		return 0;
	/* Each step consumes at least one byte (or ends), so this loop is bounded by len. */
	while (linetable__next(&it, &r) == 1) {
		if (offset < r.start)
			return 0;
		if (offset < r.end)
			return r.line;
	}
	return 0;
}
