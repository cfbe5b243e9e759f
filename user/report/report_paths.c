/* Hot call paths: condensing stacks, merging them in a hash table, sorting, naming
 * (report_paths.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vec.h"
#include "report/report_paths.h"

void report_path__condense(struct report_path *h, uint32_t group, uint64_t weight,
			   const uint32_t *frames, uint32_t n, const uint32_t *fmap,
			   report_everywhere_fn *everywhere, const void *ctx)
{
	*h = (struct report_path){.group = group, .weight = weight};
	for (uint32_t i = n; i-- > 0 && h->n < REPORT_PATH_LEN;) {
		uint32_t f = fmap[frames[i]];
		bool seen = false;

		for (uint32_t k = 0; k < h->n; k++)
			seen |= h->func[k] == f;
		if (!seen && (i == n - 1 || !everywhere(ctx, group, f)))
			h->func[h->n++] = f; /* the leaf stays: it is where the time is */
	}
}

/* A function's name in a path: its label without the file, "[unknown] (module)" whole. */
static size_t func_name(const char *label, char *buf, size_t len)
{
	const char *paren = strstr(label, " (");
	size_t n =
	    paren && strncmp(label, "[unknown]", 9) ? (size_t)(paren - label) : strlen(label);

	n = n < len - 1 ? n : len - 1;
	memcpy(buf, label, n);
	buf[n] = 0;
	return n;
}

const char *report_path__name(const struct report_path *h,
			      const char *(*label)(const void *ctx, uint32_t func), const void *ctx,
			      char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (uint32_t k = 0; k < h->n && at + 4 < len; k++) {
		if (k) {
			memcpy(buf + at, " < ", 4);
			at += 3;
		}
		at += func_name(label(ctx, h->func[k]), buf + at,
				len - at < REPORT_PATH_NAME_MAX ? len - at : REPORT_PATH_NAME_MAX);
	}
	return buf;
}

static int by_key(const void *x, const void *y)
{
	const struct report_path *a = x, *b = y;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return memcmp(a->func, b->func, a->n * sizeof(a->func[0]));
}

static int by_weight(const void *x, const void *y)
{
	const struct report_path *a = x, *b = y;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	return by_key(x, y);
}

void report_paths__init(struct report_paths *ps)
{
	*ps = (struct report_paths){0};
	htab__init(&ps->index, sizeof(uint32_t));
}

int report_paths__add(struct report_paths *ps, const struct report_path *h)
{
	uint64_t key;
	uint32_t *at;
	size_t pos = 0;

	if (!h->n)
		return 0;
	key =
	    hash__mix64(hash__bytes(HASH_FNV_SEED, &h->group,
				    sizeof(h->group) + sizeof(h->n) + h->n * sizeof(h->func[0]))) |
	    1;
	while ((at = htab__next_dup(&ps->index, key, &pos)) && by_key(&ps->v[*at], h))
		;
	if (at) {
		ps->v[*at].weight += h->weight;
		return 0;
	}
	if (vec__grow((void **)&ps->v, &ps->cap, ps->n + 1, sizeof(*h)))
		return -ENOMEM;
	if (!(at = htab__add(&ps->index, key)))
		return -ENOMEM;
	*at = (uint32_t)ps->n;
	ps->v[ps->n++] = *h;
	return 0;
}

void report_paths__sort(struct report_paths *ps)
{
	if (ps->n) /* qsort's array may not be NULL, even when empty */
		qsort(ps->v, ps->n, sizeof(*ps->v), by_weight);
}

void report_paths__clear(struct report_paths *ps)
{
	ps->n = 0;
	htab__clear(&ps->index);
}

void report_paths__fini(struct report_paths *ps)
{
	htab__fini(&ps->index);
	free(ps->v);
	*ps = (struct report_paths){0};
}
