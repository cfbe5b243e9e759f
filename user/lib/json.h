/* JSON strings from arbitrary bytes, and UTF-8 validation.
 *
 * Whatever the input (names and command lines of traced processes are any bytes), the
 * output is one valid JSON string, quotes included, in valid UTF-8: valid UTF-8 passes
 * through unchanged; each byte that does not start a valid sequence (a stray continuation
 * byte, an overlong form, a surrogate, a code point past U+10FFFF, a sequence cut short)
 * becomes U+FFFD, written as the escape \ufffd; '"' and '\\' are backslash-escaped; \b \f \n \r
 * \t use their short escapes; the other control characters and DEL are written \u00XX.
 * With JSON_HTML, '<', '>' and '&' are also written \u003c \u003e \u0026, so that the
 * string can sit inside an HTML <script> element ("</script>" and "<!--" cannot appear).
 *
 * The FILE writers leave write errors to ferror(out), as every writer checks once at the
 * end; the strbuf ones to strbuf__err(). This is the only JSON string escaper: every JSON
 * writer (report formats, the HTML pages' data, live --json) goes through it. */
#ifndef TREEPROF_LIB_JSON_H
#define TREEPROF_LIB_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/strbuf.h"

#define JSON_HTML (1u << 0) /* also escape < > & */

/* No bound for the _str functions' max. */
#define JSON_NO_MAX SIZE_MAX

/* The n bytes at s (NULs included, written \u0000). */
void json__write_mem(FILE *out, const void *s, size_t n, unsigned int flags);
/* The NUL-terminated s (NULL is written as ""), at most its first max bytes: a UTF-8
 * sequence cut by the bound becomes U+FFFD. */
void json__write_str(FILE *out, const char *s, size_t max, unsigned int flags);

/* The same, appended to b. */
void json__mem(struct strbuf *b, const void *s, size_t n, unsigned int flags);
void json__str(struct strbuf *b, const char *s, size_t max, unsigned int flags);

/* The same, handed in pieces to put(ctx, bytes, n): for a buffer of another kind. */
typedef void json_put_fn(void *ctx, const void *p, size_t n);
void json__emit_str(json_put_fn *put, void *ctx, const char *s, size_t max, unsigned int flags);

/* The length (1 to 4) of the valid UTF-8 sequence that starts at s and ends within its n
 * bytes, or 0 when n is 0 or the bytes there are not valid UTF-8 (see above). An ASCII
 * byte, NUL included, is a sequence of 1. */
size_t utf8__valid_len(const char *s, size_t n);

/* Text for a terminal, from any bytes: at most the first max bytes of s (NULL: none; it
 * ends at its NUL) appended to b, valid UTF-8 passed through, each byte that is not (a
 * sequence cut by the bound included) as U+FFFD and each control character and DEL as '?',
 * so that what a traced process names itself can neither drive the terminal nor make a
 * reader's strict decoder fail. Returns the characters appended, for padding columns. */
size_t utf8__text(struct strbuf *b, const char *s, size_t max);

#endif
