/* Compare our line-table decoders with CPython's own mapping.
 *
 * Reads the records written by tests/integration/linetable_dump.py (a file argument, or
 * stdin), decodes each table with user/symbols/linetable.c and checks, for every code unit of the
 * code object, that the line we compute equals the line CPython reported. Prints one line
 * per mismatching code object and "N passed, N failed" last; exits 1 on any failure or
 * when no record was checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/linetable.h"

#define NO_EXPECTATION INT32_MIN
#define MAX_CODE_BYTES (64u << 20)
#define LOOKUP_SAMPLES 32

struct record {
	int minor;
	int32_t firstlineno;
	uint32_t codelen;
	uint8_t *table;
	size_t table_len;
	char name[512];
	int32_t *expected; /* per code unit */
	uint32_t *starts;  /* range starts, for sampled point lookups */
	size_t n_starts, cap_starts;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_header(struct record *rec, const char *line)
{
	char hex_first;
	unsigned long codelen;
	int n, pos = 0;
	const char *hex;
	size_t hex_len;

	n = sscanf(line, "C %d %d %lu %c%n", &rec->minor, &rec->firstlineno, &codelen, &hex_first,
		   &pos);
	if (n != 4 || codelen > MAX_CODE_BYTES)
		return -EINVAL;
	rec->codelen = codelen;
	hex = line + pos - 1;
	hex_len = strcspn(hex, "\n");
	rec->table_len = 0;
	if (hex_first == '-')
		return 0;
	if (hex_len % 2)
		return -EINVAL;
	rec->table = malloc(hex_len / 2 + 1);
	if (!rec->table)
		return -ENOMEM;
	for (size_t i = 0; i < hex_len; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		rec->table[rec->table_len++] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int add_range(struct record *rec, const char *line)
{
	unsigned long start, end;
	long lineno;

	if (sscanf(line, "R %lu %lu %ld", &start, &end, &lineno) != 3 || end > rec->codelen ||
	    start > end)
		return -EINVAL;
	for (unsigned long u = start / 2; u < end / 2; u++)
		rec->expected[u] = (int32_t)lineno;
	if (rec->n_starts == rec->cap_starts) {
		size_t cap = rec->cap_starts ? rec->cap_starts * 2 : 64;
		uint32_t *s = realloc(rec->starts, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		rec->starts = s;
		rec->cap_starts = cap;
	}
	rec->starts[rec->n_starts++] = start;
	return 0;
}

/* 0 when our decoding agrees with the expectation, 1 otherwise (one message printed). */
static int check(const struct record *rec)
{
	uint32_t units = rec->codelen / 2;
	int32_t *ours = malloc((units + 1) * sizeof(*ours));
	struct linetable_iter it;
	struct linetable_range r;
	int err, bad = 0;

	if (!ours) {
		fprintf(stderr, "linetable_check: out of memory\n");
		exit(2);
	}
	for (uint32_t u = 0; u < units; u++)
		ours[u] = 0;
	linetable__iter_init(&it, rec->minor, rec->table, rec->table_len, rec->firstlineno);
	while ((err = linetable__next(&it, &r)) == 1) {
		uint32_t end = r.end / 2 < units ? r.end / 2 : units;

		for (uint32_t u = r.start / 2; u < end; u++)
			ours[u] = r.line;
	}
	if (err < 0) {
		printf("MISMATCH %s (3.%d): malformed table\n", rec->name, rec->minor);
		bad = 1;
	}
	for (uint32_t u = 0; u < units && !bad; u++) {
		if (rec->expected[u] == NO_EXPECTATION || rec->expected[u] == ours[u])
			continue;
		printf("MISMATCH %s (3.%d): byte %u: expected line %d, decoded %d\n", rec->name,
		       rec->minor, u * 2, rec->expected[u], ours[u]);
		bad = 1;
	}
	/* The one-shot lookup must agree with the iterator. */
	for (size_t i = 0; i < LOOKUP_SAMPLES && i < rec->n_starts && !bad; i++) {
		uint32_t off = rec->starts[i * rec->n_starts / LOOKUP_SAMPLES];
		int32_t want = rec->expected[off / 2];
		int32_t got =
		    linetable__line(rec->minor, rec->table, rec->table_len, rec->firstlineno, off);

		if (off / 2 < units && want != NO_EXPECTATION && got != want) {
			printf("MISMATCH %s (3.%d): lookup at byte %u: expected %d, got %d\n",
			       rec->name, rec->minor, off, want, got);
			bad = 1;
		}
	}
	free(ours);
	return bad;
}

static void reset(struct record *rec)
{
	free(rec->table);
	free(rec->expected);
	free(rec->starts);
	memset(rec, 0, sizeof(*rec));
}

int main(int argc, char **argv)
{
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0;
	struct record rec = {0};
	int in_record = 0, passed = 0, failed = 0;
	long lineno = 0;

	if (argc > 2 || (argc == 2 && !strcmp(argv[1], "-h"))) {
		fprintf(stderr, "usage: %s [DUMP]   (records from linetable_dump.py)\n", argv[0]);
		return 2;
	}
	if (argc == 2 && !(in = fopen(argv[1], "r"))) {
		fprintf(stderr, "linetable_check: open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	while (getline(&line, &cap, in) > 0) {
		int err = 0;

		lineno++;
		if (line[0] == 'C') {
			reset(&rec);
			err = parse_header(&rec, line);
			if (!err) {
				rec.expected = malloc((rec.codelen / 2 + 1) * sizeof(int32_t));
				err = rec.expected ? 0 : -ENOMEM;
				for (uint32_t u = 0; !err && u <= rec.codelen / 2; u++)
					rec.expected[u] = NO_EXPECTATION;
			}
			in_record = !err;
		} else if (line[0] == 'N' && in_record) {
			snprintf(rec.name, sizeof(rec.name), "%.*s", (int)strcspn(line + 2, "\n"),
				 line + 2);
		} else if (line[0] == 'R' && in_record) {
			err = add_range(&rec, line);
		} else if (line[0] == 'E' && in_record) {
			if (check(&rec))
				failed++;
			else
				passed++;
			in_record = 0;
		}
		if (err) {
			fprintf(stderr, "linetable_check: line %ld: bad record (%s)\n", lineno,
				strerror(-err));
			failed++;
			in_record = 0;
		}
	}
	reset(&rec);
	free(line);
	if (in != stdin)
		fclose(in);
	printf("%d passed, %d failed\n", passed, failed);
	return failed || !passed ? 1 : 0;
}
