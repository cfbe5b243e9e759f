/* A growable string builder. Appends never fail visibly: the first allocation failure sets
 * a sticky error, later appends do nothing, and the caller checks strbuf__err() once when
 * the text is complete. The contents are always NUL-terminated (strbuf__str() is "" when
 * empty) and, after an error, are what was appended before it.
 *
 * Embeddable: start from a zeroed struct ({0}); the fields are private. The
 * buffer owns its memory until strbuf__take() hands it over or strbuf__fini() frees it. */
#ifndef TREEPROF_LIB_STRBUF_H
#define TREEPROF_LIB_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct strbuf {
	char *s;
	size_t len, cap; /* cap includes the NUL's byte */
	int err;	 /* 0 or -ENOMEM */
};

/* Make room for more bytes after the contents (and the NUL): 0, or the sticky error. */
int strbuf__reserve(struct strbuf *b, size_t more);

static inline void strbuf__put(struct strbuf *b, const void *p, size_t n)
{
	if ((b->cap - b->len <= n || b->err) && strbuf__reserve(b, n))
		return;
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = 0;
}

static inline void strbuf__putc(struct strbuf *b, char c)
{
	if ((b->cap - b->len <= 1 || b->err) && strbuf__reserve(b, 1))
		return;
	b->s[b->len++] = c;
	b->s[b->len] = 0;
}

/* s may be NULL: nothing is appended. */
static inline void strbuf__puts(struct strbuf *b, const char *s)
{
	if (s)
		strbuf__put(b, s, strlen(s));
}

void strbuf__printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf__vprintf(struct strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The contents, NUL-terminated; valid until the next change. Never NULL. */
static inline const char *strbuf__str(const struct strbuf *b)
{
	return b->s ? b->s : "";
}

static inline size_t strbuf__len(const struct strbuf *b)
{
	return b->len;
}

/* 0, or -ENOMEM when an append failed since the last reset. */
static inline int strbuf__err(const struct strbuf *b)
{
	return b->err;
}

/* Empty the buffer and clear the error, keeping the memory for the next text. */
void strbuf__reset(struct strbuf *b);
/* Cut the contents to len bytes (no-op when already shorter). */
void strbuf__truncate(struct strbuf *b, size_t len);

/* Hand the contents over: a malloc'd NUL-terminated string the caller frees, its length in
 * *len if not NULL; the buffer is left empty and without memory. NULL with errno ENOMEM
 * after an error (the buffer is then emptied as by strbuf__fini()). */
char *strbuf__take(struct strbuf *b, size_t *len);
/* Free the memory; the buffer is empty and usable again. */
void strbuf__fini(struct strbuf *b);

#endif
