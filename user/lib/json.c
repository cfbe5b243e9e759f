// SPDX-License-Identifier: GPL-2.0
/* The JSON string escaper of json.h: one loop, writing to a FILE, a strbuf or any sink.
 * Bytes that need no escaping are written in runs, not one call per byte. */
#include <string.h>

#include "lib/json.h"

struct json_sink {
	json_put_fn *put;
	void *ctx;
};

static void sink_put(const struct json_sink *k, const void *p, size_t n)
{
	if (n)
		k->put(k->ctx, p, n);
}

static void put_file(void *out, const void *p, size_t n)
{
	fwrite(p, 1, n, out);
}

static void put_strbuf(void *b, const void *p, size_t n)
{
	strbuf__put(b, p, n);
}

size_t utf8__valid_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t cp;
	size_t len;

	if (!n)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0; /* continuation byte, overlong lead C0/C1, or past U+10FFFF */
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

size_t utf8__text(struct strbuf *b, const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max) : 0, chars = 0, len;

	for (size_t i = 0; i < n; i += len, chars++) {
		unsigned char c = (unsigned char)s[i];

		len = c < 0x80 ? 1 : utf8__valid_len(s + i, n - i);
		if (!len) {
			strbuf__put(b, "\xef\xbf\xbd", 3); /* U+FFFD for the one byte */
			len = 1;
		} else if (c < 0x20 || c == 0x7f) {
			strbuf__putc(b, '?');
		} else {
			strbuf__put(b, s + i, len);
		}
	}
	return chars;
}

/* The escape for byte c, or NULL when it stands for itself. esc holds a \u00XX. */
static const char *escape_of(unsigned char c, unsigned int flags, char esc[7])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '<':
	case '>':
	case '&':
		if (!(flags & JSON_HTML))
			return NULL;
		break;
	default:
		if (c >= 0x20 && c != 0x7f)
			return NULL;
	}
	memcpy(esc, "\\u00", 4);
	esc[4] = hex[c >> 4];
	esc[5] = hex[c & 15];
	esc[6] = 0;
	return esc;
}

static void json_escape(const struct json_sink *k, const char *s, size_t n, unsigned int flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0, i = 0; /* p[run..i) is waiting to be written as it is */
	char esc[7];

	sink_put(k, "\"", 1);
	while (i < n) {
		const char *e;
		size_t len;

		if (p[i] >= 0x80) {
			len = utf8__valid_len((const char *)p + i, n - i);
			if (len) {
				i += len;
				continue;
			}
			e = "\\ufffd";
		} else {
			e = escape_of(p[i], flags, esc);
			if (!e) {
				i++;
				continue;
			}
		}
		sink_put(k, p + run, i - run);
		sink_put(k, e, strlen(e));
		run = ++i;
	}
	sink_put(k, p + run, i - run);
	sink_put(k, "\"", 1);
}

void json__write_mem(FILE *out, const void *s, size_t n, unsigned int flags)
{
	json_escape(&(struct json_sink){put_file, out}, s, n, flags);
}

void json__write_str(FILE *out, const char *s, size_t max, unsigned int flags)
{
	json__emit_str(put_file, out, s, max, flags);
}

void json__mem(struct strbuf *b, const void *s, size_t n, unsigned int flags)
{
	json_escape(&(struct json_sink){put_strbuf, b}, s, n, flags);
}

void json__str(struct strbuf *b, const char *s, size_t max, unsigned int flags)
{
	json__emit_str(put_strbuf, b, s, max, flags);
}

void json__emit_str(json_put_fn *put, void *ctx, const char *s, size_t max, unsigned int flags)
{
	s = s ? s : "";
	json_escape(&(struct json_sink){put, ctx}, s, strnlen(s, max), flags);
}
