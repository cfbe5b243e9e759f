// SPDX-License-Identifier: GPL-2.0
/* The slow paths of strbuf.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/strbuf.h"

#define STRBUF_MIN_CAP 256

int strbuf__reserve(struct strbuf *b, size_t more)
{
	size_t ncap = b->cap ? b->cap : STRBUF_MIN_CAP;
	char *s;

	if (b->err)
		return b->err;
	if (more >= SIZE_MAX / 2 - b->len)
		goto nomem;
	while (ncap - b->len <= more)
		ncap *= 2;
	if (ncap == b->cap)
		return 0;
	s = realloc(b->s, ncap);
	if (!s)
		goto nomem;
	if (!b->s)
		s[0] = 0;
	b->s = s;
	b->cap = ncap;
	return 0;
nomem:
	b->err = -ENOMEM;
	return b->err;
}

void strbuf__vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	if (strbuf__reserve(b, 64))
		return;
	va_copy(again, ap);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	if (n >= 0 && (size_t)n >= b->cap - b->len) { /* did not fit: grow, format again */
		if (!strbuf__reserve(b, n))
			vsnprintf(b->s + b->len, n + 1, fmt, again);
		else
			n = -1;
	}
	va_end(again);
	if (n < 0) {
		b->s[b->len] = 0; /* drop any partial output */
		return;
	}
	b->len += n;
}

void strbuf__printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf__vprintf(b, fmt, ap);
	va_end(ap);
}

void strbuf__reset(struct strbuf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->s)
		b->s[0] = 0;
}

void strbuf__truncate(struct strbuf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = 0;
	}
}

char *strbuf__take(struct strbuf *b, size_t *len)
{
	char *s = b->s;

	if (b->err) {
		strbuf__fini(b);
		errno = ENOMEM;
		return NULL;
	}
	if (!s) {
		s = strdup("");
		if (!s)
			return NULL;
	}
	if (len)
		*len = b->len;
	*b = (struct strbuf){0};
	return s;
}

void strbuf__fini(struct strbuf *b)
{
	free(b->s);
	*b = (struct strbuf){0};
}
