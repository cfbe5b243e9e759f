/* user/lib: the hash table, growable arrays, the string builder and the JSON escaper. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/hash.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "lib/vec.h"
#include "unit.h"

/* ---- hash table ---- */

struct val {
	uint64_t a, b;
	uint32_t c;
};

static void htab_insert_get_many_keys(void)
{
	struct htab *h = htab__new(sizeof(struct val));
	const uint64_t n = 100000;
	int created = -1;

	CHECK(h != NULL);
	if (!h)
		return;
	CHECK(htab__get(h, 1) == NULL);
	for (uint64_t k = 1; k <= n; k++) {
		struct val *v = htab__put(h, k * 0x10000, &created);

		CHECK(v != NULL);
		CHECK_EQ_INT(created, 1);
		CHECK(v->a == 0 && v->b == 0 && v->c == 0);
		v->a = k;
		v->b = ~k;
		v->c = (uint32_t)k;
	}
	CHECK_EQ_INT(htab__count(h), n);
	CHECK(h->cap >= 2 * n); /* grown, at most half full */
	for (uint64_t k = 1; k <= n; k++) {
		struct val *v = htab__get(h, k * 0x10000);

		CHECK(v && v->a == k && v->b == ~k && v->c == (uint32_t)k);
		CHECK(htab__put(h, k * 0x10000, &created) == v);
		CHECK_EQ_INT(created, 0);
	}
	CHECK(htab__get(h, 0x10000 * (n + 1)) == NULL);
	CHECK(htab__get(h, 0) == NULL);
	htab__free(h);
	htab__free(NULL);
}

static void htab_key_zero_is_refused(void)
{
	struct htab h;

	CHECK_EQ_INT(htab__init(&h, 8), 0);
	errno = 0;
	CHECK(htab__put(&h, 0, NULL) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	errno = 0;
	CHECK(htab__add(&h, 0) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_EQ_INT(htab__del(&h, 0), -ENOENT);
	CHECK_EQ_INT(htab__count(&h), 0);
	htab__fini(&h);
	CHECK_EQ_INT(htab__init(&h, SIZE_MAX), -EINVAL);
}

/* Random puts and deletes over a small key space, checked after every step against a
 * plain array: backward-shift deletion must never lose or duplicate an entry. */
static void htab_delete_heavy_churn_matches_reference(void)
{
	enum { KEYS = 3000, STEPS = 400000 };
	static uint64_t ref[KEYS + 1]; /* value + 1 per key, 0 when absent */
	struct htab h;
	size_t count = 0, iter = 0, seen = 0;
	uint64_t key, *v;
	bool ok = true;

	memset(ref, 0, sizeof(ref));
	CHECK_EQ_INT(htab__init(&h, sizeof(uint64_t)), 0);
	for (int step = 0; step < STEPS && ok; step++) {
		uint64_t r = unit_rand(), k = 1 + r % KEYS;

		/* keys with clustered hashes too: multiples of a power of two */
		if (r & (1ULL << 40))
			k = (k << 20) % ((uint64_t)KEYS << 20);
		k = k ? k : 1;
		k = k > KEYS ? 1 + k % KEYS : k;
		if ((r >> 32) % 5 < 3) { /* delete-heavy: 60% */
			int err = htab__del(&h, k);

			if (err != (ref[k] ? 0 : -ENOENT))
				ok = false;
			if (ref[k])
				count--;
			ref[k] = 0;
		} else {
			int created;

			v = htab__put(&h, k, &created);
			if (!v || created != !ref[k])
				ok = false;
			if (!v)
				break;
			if (!ref[k])
				count++;
			*v = r;
			ref[k] = r + 1;
		}
		if (step % 1000 == 0 || step == STEPS - 1) {
			for (uint64_t j = 1; j <= KEYS; j++) {
				v = htab__get(&h, j);
				if (ref[j] ? !v || *v != ref[j] - 1 : v != NULL)
					ok = false;
			}
		}
		if (htab__count(&h) != count)
			ok = false;
	}
	CHECK(ok);
	while ((v = htab__next(&h, &iter, &key))) {
		CHECK(key >= 1 && key <= KEYS && ref[key] && *v == ref[key] - 1);
		seen++;
	}
	CHECK_EQ_INT(seen, count);
	htab__fini(&h);
}

static void htab_iterates_each_entry_once(void)
{
	struct htab h;
	static unsigned char hits[5001];
	size_t iter = 0, n = 0;
	uint64_t key;
	uint32_t *v;

	memset(hits, 0, sizeof(hits));
	htab__init(&h, sizeof(uint32_t));
	CHECK(htab__next(&h, &iter, &key) == NULL);
	iter = 0;
	for (uint32_t k = 1; k <= 5000; k++)
		*(uint32_t *)htab__put(&h, k, NULL) = k;
	while ((v = htab__next(&h, &iter, &key))) {
		CHECK(key >= 1 && key <= 5000 && *v == key);
		hits[key]++;
		n++;
	}
	CHECK_EQ_INT(n, 5000);
	for (int k = 1; k <= 5000; k++)
		CHECK_EQ_INT(hits[k], 1);
	htab__clear(&h);
	CHECK_EQ_INT(htab__count(&h), 0);
	CHECK(htab__get(&h, 7) == NULL);
	iter = 0;
	CHECK(htab__next(&h, &iter, NULL) == NULL);
	htab__fini(&h);
}

static void htab_reserve_keeps_pointers_stable(void)
{
	struct htab h;
	void *first;

	htab__init(&h, 0); /* a set */
	CHECK_EQ_INT(htab__reserve(&h, 1000), 0);
	first = htab__put(&h, 1, NULL);
	for (uint64_t k = 2; k <= 1000; k++)
		CHECK(htab__put(&h, k, NULL) != NULL);
	CHECK(htab__get(&h, 1) == first);
	CHECK_EQ_INT(htab__count(&h), 1000);
	htab__fini(&h);
}

/* Hash-keyed interning: several entries under one key, told apart by the caller. */
static void htab_duplicate_keys_for_interning(void)
{
	struct htab h;
	size_t pos = 0, n = 0;
	uint32_t *v, sum = 0;

	htab__init(&h, sizeof(uint32_t));
	for (uint32_t i = 1; i <= 5; i++)
		*(uint32_t *)htab__add(&h, 42) = i;
	for (uint64_t k = 43; k < 1000; k++) /* neighbours that share probe runs */
		htab__put(&h, k, NULL);
	while ((v = htab__next_dup(&h, 42, &pos))) {
		sum += *v;
		n++;
	}
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(sum, 15);
	pos = 0;
	while ((v = htab__next_dup(&h, 42, &pos)) && *v != 3)
		;
	CHECK(v && *v == 3);
	htab__del_val(&h, v);
	pos = n = sum = 0;
	while ((v = htab__next_dup(&h, 42, &pos))) {
		sum += *v;
		n++;
	}
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(sum, 12);
	CHECK_EQ_INT(htab__count(&h), 4 + 957);
	htab__fini(&h);
}

static void hash_functions_match_the_copies_they_replace(void)
{
	/* FNV-1a 64 of "a", and murmur3's fmix64 of 1 */
	CHECK(hash__str(HASH_FNV_SEED, "a") == 0xaf63dc4c8601ec8cULL);
	CHECK(hash__bytes(HASH_FNV_SEED, "abc", 3) == hash__str(HASH_FNV_SEED, "abc"));
	CHECK(hash__bytes(HASH_FNV_SEED, "", 0) == HASH_FNV_SEED);
	CHECK(hash__mix64(0) == 0);
	CHECK(hash__mix64(1) == 0xb456bcfc34c2cb2cULL);
}

/* ---- vec ---- */

static void vec_grows_by_doubling_and_refuses_overflow(void)
{
	int *a = NULL;
	size_t cap = 0;
	uint32_t cap32 = 0;
	void *b = NULL;

	CHECK_EQ_INT(vec__grow((void **)&a, &cap, 1, sizeof(*a)), 0);
	CHECK_EQ_INT(cap, VEC_MIN_CAP);
	CHECK_EQ_INT(vec__grow((void **)&a, &cap, 17, sizeof(*a)), 0);
	CHECK_EQ_INT(cap, 32);
	CHECK_EQ_INT(vec__grow((void **)&a, &cap, 1000, sizeof(*a)), 0);
	CHECK_EQ_INT(cap, 1024);
	a[999] = 7;
	CHECK_EQ_INT(vec__grow((void **)&a, &cap, 1024, sizeof(*a)), 0);
	CHECK_EQ_INT(cap, 1024);
	CHECK_EQ_INT(vec__grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(*a)), -ENOMEM);
	CHECK_EQ_INT(vec__grow((void **)&a, &cap, SIZE_MAX, 1), -ENOMEM);
	CHECK_EQ_INT(cap, 1024);
	CHECK_EQ_INT(a[999], 7);
	free(a);

	CHECK_EQ_INT(vec__grow32(&b, &cap32, 100, 8), 0);
	CHECK_EQ_INT(cap32, 128);
	CHECK_EQ_INT(vec__grow32(&b, &cap32, (size_t)UINT32_MAX + 1, 1), -ENOSPC);
	CHECK_EQ_INT(vec__grow32(&b, &cap32, UINT32_MAX, SIZE_MAX / 4), -ENOMEM);
	CHECK_EQ_INT(cap32, 128);
	free(b);
}

/* ---- strbuf ---- */

static void strbuf_appends_formats_and_hands_over(void)
{
	struct strbuf b = {0};
	char big[3000];
	size_t len;
	char *s;

	CHECK_EQ_STR(strbuf__str(&b), "");
	strbuf__puts(&b, "pid ");
	strbuf__printf(&b, "%d", 42);
	strbuf__putc(&b, ' ');
	strbuf__put(&b, "xyz", 2);
	strbuf__puts(&b, NULL);
	CHECK_EQ_STR(strbuf__str(&b), "pid 42 xy");
	CHECK_EQ_INT(strbuf__len(&b), 9);
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	strbuf__printf(&b, "[%s]", big); /* longer than the first allocation */
	CHECK_EQ_INT(strbuf__len(&b), 9 + 2 + 2999);
	CHECK(strbuf__str(&b)[strbuf__len(&b) - 1] == ']');
	CHECK_EQ_INT(strbuf__err(&b), 0);
	strbuf__truncate(&b, 3);
	CHECK_EQ_STR(strbuf__str(&b), "pid");
	strbuf__reset(&b);
	CHECK_EQ_STR(strbuf__str(&b), "");
	strbuf__puts(&b, "again");
	s = strbuf__take(&b, &len);
	CHECK_EQ_STR(s, "again");
	CHECK_EQ_INT(len, 5);
	CHECK_EQ_STR(strbuf__str(&b), "");
	free(s);
	s = strbuf__take(&b, &len);
	CHECK_EQ_STR(s, "");
	free(s);
	strbuf__fini(&b);
}

static void strbuf_error_is_sticky(void)
{
	struct strbuf b = {0};

	strbuf__puts(&b, "kept");
	CHECK_EQ_INT(strbuf__reserve(&b, SIZE_MAX - 10), -ENOMEM);
	strbuf__puts(&b, " lost");
	strbuf__printf(&b, "%d", 1);
	CHECK_EQ_INT(strbuf__err(&b), -ENOMEM);
	CHECK_EQ_STR(strbuf__str(&b), "kept");
	errno = 0;
	CHECK(strbuf__take(&b, NULL) == NULL);
	CHECK_EQ_INT(errno, ENOMEM);
	strbuf__puts(&b, "fresh");
	CHECK_EQ_STR(strbuf__str(&b), "fresh");
	CHECK_EQ_INT(strbuf__err(&b), 0);
	strbuf__fini(&b);
}

/* ---- JSON ---- */

/* A strict validator: one JSON string (quotes included) in valid UTF-8, nothing after it,
 * no raw control characters, and (html) no raw < > &. */
static bool valid_json_string(const char *s, size_t n, bool html)
{
	size_t i = 1, len;

	if (n < 2 || s[0] != '"')
		return false;
	while (i < n) {
		unsigned char c = s[i];

		if (c == '"')
			return i == n - 1;
		if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&')))
			return false;
		if (c == '\\') {
			if (i + 1 >= n)
				return false;
			if (strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1]) {
				i += 2;
				continue;
			}
			if (s[i + 1] != 'u' || i + 6 > n)
				return false;
			for (int k = 2; k < 6; k++)
				if (!strchr("0123456789abcdefABCDEF", s[i + k]) || !s[i + k])
					return false;
			i += 6;
			continue;
		}
		len = utf8__valid_len(s + i, n - i);
		if (!len)
			return false;
		i += len;
	}
	return false;
}

/* The escape of n bytes at in, through both the strbuf and the FILE writers (which must
 * agree); checked valid, compared with want when not NULL. */
static void check_json(const char *in, size_t n, unsigned int flags, const char *want)
{
	struct strbuf b = {0};
	char *file_out = NULL;
	size_t file_len = 0;
	FILE *f = open_memstream(&file_out, &file_len);

	json__mem(&b, in, n, flags);
	CHECK_EQ_INT(strbuf__err(&b), 0);
	CHECK(valid_json_string(strbuf__str(&b), strbuf__len(&b), flags & JSON_HTML));
	if (want)
		CHECK_EQ_STR(strbuf__str(&b), want);
	CHECK(f != NULL);
	if (f) {
		json__write_mem(f, in, n, flags);
		fclose(f);
		CHECK_EQ_STR(file_out, strbuf__str(&b));
	}
	free(file_out);
	strbuf__fini(&b);
}

#define CHECK_JSON(lit, want) check_json(lit, sizeof(lit) - 1, 0, want)

static void json_valid_utf8_passes_through(void)
{
	CHECK_JSON("", "\"\"");
	CHECK_JSON("plain ascii", "\"plain ascii\"");
	CHECK_JSON("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac "
								"\xf0\x9f\x98\x80\"");
	/* the edges of each length, U+FFFF and U+10FFFF included */
	CHECK_JSON("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
		   "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	/* the surrogates' neighbours are valid */
	CHECK_JSON("\xed\x9f\xbf\xee\x80\x80", "\"\xed\x9f\xbf\xee\x80\x80\"");
}

static void json_invalid_utf8_becomes_replacement_chars(void)
{
	CHECK_JSON("\x80", "\"\\ufffd\"");			 /* stray continuation */
	CHECK_JSON("a\xbf-", "\"a\\ufffd-\"");			 /* stray continuation */
	CHECK_JSON("\xc0\xaf", "\"\\ufffd\\ufffd\"");		 /* overlong '/' */
	CHECK_JSON("\xc1\xbf", "\"\\ufffd\\ufffd\"");		 /* overlong, 2 bytes */
	CHECK_JSON("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
	CHECK_JSON("\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong U+07FF */
	CHECK_JSON("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON("\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* overlong U+FFFF */
	CHECK_JSON("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	    /* U+D800 */
	CHECK_JSON("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");	    /* U+DFFF */
	CHECK_JSON("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* U+110000 */
	CHECK_JSON("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	CHECK_JSON("\xf8\x88\x80\x80\x80", NULL); /* 5-byte form */
	CHECK_JSON("\xfe\xff", "\"\\ufffd\\ufffd\"");
	CHECK_JSON("\xe2\x82", "\"\\ufffd\\ufffd\"");		 /* truncated at the end */
	CHECK_JSON("\xe2\x82x", "\"\\ufffd\\ufffdx\"");		 /* truncated by ASCII */
	CHECK_JSON("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\""); /* 4-byte cut at 3 */
	CHECK_JSON("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\"");	 /* a lead then a valid pair */
}

static void json_any_bytes_give_valid_json(void)
{
	unsigned char buf[64];

	/* every single byte, every pair of bytes, then random strings */
	for (int c = 0; c < 256; c++) {
		buf[0] = c;
		check_json((char *)buf, 1, 0, NULL);
		check_json((char *)buf, 1, JSON_HTML, NULL);
	}
	for (int c = 0; c < 65536; c++) {
		buf[0] = c >> 8;
		buf[1] = c & 255;
		check_json((char *)buf, 2, 0, NULL);
	}
	for (int t = 0; t < 20000; t++) {
		size_t n = unit_rand() % sizeof(buf);

		for (size_t i = 0; i < n; i++) {
			uint64_t r = unit_rand();

			/* mostly high bytes and continuation bytes: the interesting cases */
			buf[i] = r & 1 ? 0x80 | (r >> 8 & 0x7f) : r >> 16;
		}
		check_json((char *)buf, n, t & 1 ? JSON_HTML : 0, NULL);
	}
}

static void json_controls_and_quotes_are_escaped(void)
{
	CHECK_JSON("a\"b\\c", "\"a\\\"b\\\\c\"");
	CHECK_JSON("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	CHECK_JSON("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	CHECK_JSON("nul\0in", "\"nul\\u0000in\"");
	CHECK_JSON("</script>", "\"</script>\""); /* untouched without the flag */
	check_json("</script><!--&", 14, JSON_HTML, "\"\\u003c/script\\u003e\\u003c!--\\u0026\"");
}

static void json_str_bounds_and_null(void)
{
	struct strbuf b = {0};
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	json__str(&b, NULL, JSON_NO_MAX, 0);
	CHECK_EQ_STR(strbuf__str(&b), "\"\"");
	strbuf__reset(&b);
	json__str(&b, "abc\ndef", JSON_NO_MAX, 0);
	CHECK_EQ_STR(strbuf__str(&b), "\"abc\\ndef\"");
	strbuf__reset(&b);
	json__str(&b, "abcdef", 3, 0);
	CHECK_EQ_STR(strbuf__str(&b), "\"abc\"");
	strbuf__reset(&b);
	json__str(&b, "x\xe2\x82\xac", 3, 0); /* the bound cuts the euro sign */
	CHECK_EQ_STR(strbuf__str(&b), "\"x\\ufffd\\ufffd\"");
	strbuf__fini(&b);

	f = open_memstream(&out, &len);
	CHECK(f != NULL);
	if (!f)
		return;
	json__write_str(f, "<a>", JSON_NO_MAX, JSON_HTML);
	json__write_str(f, NULL, 5, 0);
	fclose(f);
	CHECK_EQ_STR(out, "\"\\u003ca\\u003e\"\"\"");
	free(out);
}

/* A sink of another kind: pieces are appended to a fixed buffer, counted. */
struct piece_sink {
	char buf[64];
	size_t len;
	int calls;
};

static void piece_put(void *ctx, const void *p, size_t n)
{
	struct piece_sink *k = ctx;

	CHECK(n > 0 && k->len + n < sizeof(k->buf));
	if (k->len + n >= sizeof(k->buf))
		return;
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	k->calls++;
}

static void json_emit_str_feeds_any_sink(void)
{
	struct piece_sink k = {0};

	json__emit_str(piece_put, &k,
		       "a\xff"
		       "b<c>\n",
		       JSON_NO_MAX, JSON_HTML);
	CHECK_EQ_STR(k.buf, "\"a\\ufffdb\\u003cc\\u003e\\n\"");
	CHECK(k.calls > 1 && k.calls < 16); /* runs, not a call per byte */
	k = (struct piece_sink){0};
	json__emit_str(piece_put, &k, NULL, JSON_NO_MAX, 0);
	CHECK_EQ_STR(k.buf, "\"\"");
}

static void utf8_valid_len_bounds(void)
{
	CHECK_EQ_INT(utf8__valid_len("", 0), 0);
	CHECK_EQ_INT(utf8__valid_len("a", 1), 1);
	CHECK_EQ_INT(utf8__valid_len("", 1), 1); /* NUL is ASCII */
	CHECK_EQ_INT(utf8__valid_len("\xc3\xa9", 2), 2);
	CHECK_EQ_INT(utf8__valid_len("\xc3\xa9", 1), 0);
	CHECK_EQ_INT(utf8__valid_len("\xe2\x82\xac", 3), 3);
	CHECK_EQ_INT(utf8__valid_len("\xe2\x82\xac", 2), 0);
	CHECK_EQ_INT(utf8__valid_len("\xf4\x8f\xbf\xbf", 4), 4);
	CHECK_EQ_INT(utf8__valid_len("\xf4\x8f\xbf\xbf", 3), 0);
	CHECK_EQ_INT(utf8__valid_len("\x80", 1), 0);
}

/* Well-formed UTF-8 by the Unicode standard's table 3-7, written apart from utf8__valid_len. */
static bool valid_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i], lo = 0x80, hi = 0xbf;
		size_t more = c < 0x80		       ? 0
			      : c >= 0xc2 && c <= 0xdf ? 1
			      : c >= 0xe0 && c <= 0xef ? 2
			      : c >= 0xf0 && c <= 0xf4 ? 3
						       : 9;

		if (more == 9 || i + more >= n)
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		for (size_t k = 1; k <= more; k++, lo = 0x80, hi = 0xbf)
			if (s[i + k] < lo || s[i + k] > hi)
				return false;
		i += more + 1;
	}
	return true;
}

/* Terminal text: valid UTF-8 kept, each bad byte (a sequence cut by the bound too) one
 * U+FFFD, controls '?', and what comes out is valid UTF-8 for any bytes in. */
static void utf8_text_is_valid_for_any_bytes(void)
{
	struct strbuf b = {0};
	char in[24];
	uint32_t x = 12345;

	CHECK(!valid_utf8("\xff", 1) && !valid_utf8("\xed\xa0\x80", 3) && !valid_utf8("\xc3", 1));
	CHECK(valid_utf8("\xc3\xa9\xf0\x9f\x98\x80", 6));
	CHECK_EQ_INT(utf8__text(&b, "caf\xc3\xa9 \xff\t<", SIZE_MAX), 8);
	CHECK_EQ_STR(strbuf__str(&b), "caf\xc3\xa9 \xef\xbf\xbd?<");
	strbuf__reset(&b);
	CHECK_EQ_INT(utf8__text(&b, "ab\xe2\x82\xac", 4), 4); /* the euro sign cut: 2 bad bytes */
	CHECK_EQ_STR(strbuf__str(&b), "ab\xef\xbf\xbd\xef\xbf\xbd");
	strbuf__reset(&b);
	CHECK_EQ_INT(utf8__text(&b, NULL, 5), 0);
	CHECK_EQ_INT(utf8__text(&b, "a\x7f", SIZE_MAX), 2);
	CHECK_EQ_STR(strbuf__str(&b), "a?");
	for (int round = 0; round < 20000; round++) {
		size_t n = 1 + round % (sizeof(in) - 1);

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			in[i] = (char)((x >> 16) | 1); /* no NUL inside */
		}
		in[n] = 0;
		strbuf__reset(&b);
		utf8__text(&b, in, SIZE_MAX);
		CHECK(valid_utf8(strbuf__str(&b), strbuf__len(&b)));
	}
	strbuf__fini(&b);
}

static void clock_is_monotonic(void)
{
	uint64_t a = clock__mono_ns(), b = clock__mono_ns();

	CHECK(a > 0 && b >= a);
	CHECK(clock__boot_ns() >= a); /* boottime counts suspend too */
	CHECK(clock__mono_ms() >= a / 1000000);
}

UNIT_MAIN("lib", UNIT_TEST(htab_insert_get_many_keys), UNIT_TEST(htab_key_zero_is_refused),
	  UNIT_TEST(htab_delete_heavy_churn_matches_reference),
	  UNIT_TEST(htab_iterates_each_entry_once), UNIT_TEST(htab_reserve_keeps_pointers_stable),
	  UNIT_TEST(htab_duplicate_keys_for_interning),
	  UNIT_TEST(hash_functions_match_the_copies_they_replace),
	  UNIT_TEST(vec_grows_by_doubling_and_refuses_overflow),
	  UNIT_TEST(strbuf_appends_formats_and_hands_over), UNIT_TEST(strbuf_error_is_sticky),
	  UNIT_TEST(json_valid_utf8_passes_through),
	  UNIT_TEST(json_invalid_utf8_becomes_replacement_chars),
	  UNIT_TEST(json_any_bytes_give_valid_json),
	  UNIT_TEST(json_controls_and_quotes_are_escaped), UNIT_TEST(json_str_bounds_and_null),
	  UNIT_TEST(json_emit_str_feeds_any_sink), UNIT_TEST(utf8_valid_len_bounds),
	  UNIT_TEST(utf8_text_is_valid_for_any_bytes), UNIT_TEST(clock_is_monotonic))
