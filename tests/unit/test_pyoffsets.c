/* The reviewed 3.8-3.12 table and the _Py_DebugOffsets parser. Expected values are offsetof()
 * and sizeof() against pyenv's installed headers (the sources are listed above the table in
 * user/symbols/pyoffsets.c); the 3.13 blob was read from a live pyenv 3.13.0 by
 * tests/tools/capture_debug_offsets.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/pyoffsets.h"
#include "symbols/pysym.h"
#include "unit.h"

#define BLOB_3_13_0 "tests/unit/data/debug_offsets_3_13_0.bin"

/* One parsed field: its name, the value seen and the value expected. */
struct field {
	const char *name;
	long long seen, want;
};
/* FIELD(c, version): the name and value of c->version, for a row {FIELD(c, f), expected}. */
#define FIELD(p, f) #f, (long long)(p)->f

static void check_fields(const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].seen != f[i].want)
			unit_fail("%s: expected %lld, saw %lld", f[i].name, f[i].want, f[i].seen);
}

/* What the table must give for one version (the [V] values: offsetof() on pyenv's headers). */
struct expected {
	unsigned int minor;
	int lasti_kind, entry_owner;
	int rt_interp_head, interp_threads, tstate_thread_id, tstate_frame, cframe_frame;
	int frame_back, frame_code, frame_lasti, frame_owner, frame_is_entry;
	int firstlineno, argcount, filename, name, qualname, linetable, code_adaptive;
	int ascii_data, compact_data;
};

static void check_table(const struct expected *x)
{
	struct tp_pyconfig c;
	struct py_code_layout k;

	CHECK_EQ_INT(pyoffsets__table(x->minor, &c, &k), 0);
	CHECK_EQ_INT(c.version, 0x03000000 | x->minor << 16);
	CHECK_EQ_INT(c.lasti_kind, x->lasti_kind);
	CHECK_EQ_INT(c.entry_owner, x->entry_owner);
	CHECK_EQ_INT(c.rt_interp_head, x->rt_interp_head);
	CHECK_EQ_INT(c.interp_next, 0);
	CHECK_EQ_INT(c.interp_threads, x->interp_threads);
	CHECK_EQ_INT(c.tstate_next, 8);
	CHECK_EQ_INT(c.tstate_thread_id, x->tstate_thread_id);
	CHECK_EQ_INT(c.tstate_frame, x->tstate_frame);
	CHECK_EQ_INT(c.cframe_frame, x->cframe_frame);
	CHECK_EQ_INT(c.frame_back, x->frame_back);
	CHECK_EQ_INT(c.frame_code, x->frame_code);
	CHECK_EQ_INT(c.frame_lasti, x->frame_lasti);
	CHECK_EQ_INT(c.frame_owner, x->frame_owner);
	CHECK_EQ_INT(c.frame_is_entry, x->frame_is_entry);
	CHECK_EQ_INT(c.code_firstlineno, x->firstlineno);
	CHECK_EQ_INT(c.code_argcount, x->argcount);
	CHECK_EQ_INT(c.code_filename, x->filename);
	CHECK_EQ_INT(c.code_name, x->name);
	CHECK_EQ_INT(k.minor, x->minor);
	CHECK_EQ_INT(k.co_firstlineno, x->firstlineno);
	CHECK_EQ_INT(k.co_argcount, x->argcount);
	CHECK_EQ_INT(k.co_qualname, x->qualname);
	CHECK_EQ_INT(k.co_linetable, x->linetable); /* co_lnotab up to 3.9 */
	CHECK_EQ_INT(k.co_code_adaptive, x->code_adaptive);
	CHECK_EQ_INT(k.str_ascii_data, x->ascii_data);
	CHECK_EQ_INT(k.str_compact_data, x->compact_data);
}

/* Rows in the order of struct expected: minor, lasti kind, entry owner; runtime, thread
 * state; frame; code object; string data. */
#define N TP_OFF_NONE

static void test_table_3_8_and_3_9_walk_frame_objects_with_byte_lasti(void)
{
	for (unsigned int minor = 8; minor <= 9; minor++)
		check_table(&(struct expected){minor, TP_LASTI_BYTES,
					       0,     32,
					       8,     176,
					       24,    N,
					       24,    32,
					       104,   N,
					       N,     40,
					       16,    104,
					       112,   N,
					       120,   N,
					       48,    72});
}

static void test_table_3_10_counts_lasti_in_code_units(void)
{
	check_table(&(struct expected){10,  TP_LASTI_UNITS,
				       0,   32,
				       8,   176,
				       24,  N,
				       24,  32,
				       96,  N,
				       N,   40,
				       16,  104,
				       112, N,
				       120, N,
				       48,  72});
}

static void test_table_3_11_goes_through_cframe_and_is_entry(void)
{
	check_table(&(struct expected){11, TP_LASTI_PTR, 0,  40, 16,  152, 56,	8,   48,  32, 56,
				       N,  68,		 72, 56, 112, 120, 128, 136, 184, 48, 72});
}

static void test_table_3_12_marks_entry_frames_by_owner(void)
{
	check_table(&(struct expected){12, TP_LASTI_PTR, 3,  40,  72,  136, 56,	 0,   8,  0, 56, 70,
				       N,  68,		 52, 112, 120, 128, 136, 192, 40, 56});
}

#undef N

static void test_table_refuses_versions_it_does_not_hold(void)
{
	struct tp_pyconfig c;
	struct py_code_layout k;

	CHECK_EQ_INT(pyoffsets__table(7, &c, &k), -ENOTSUP);
	CHECK_EQ_INT(pyoffsets__table(13, &c, &k), -ENOTSUP);
}

static size_t load_blob(unsigned char *buf, size_t cap)
{
	FILE *f = fopen(BLOB_3_13_0, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "  cannot open %s (run from the repository root)\n", BLOB_3_13_0);
		return 0;
	}
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* The fields of the live 3.13.0 blob (tests/tools/capture_debug_offsets.sh). */
static void check_3_13_0(const struct tp_pyconfig *c, const struct py_code_layout *k)
{
	const struct field f[] = {{FIELD(c, version), 0x030d00f0},
				  {FIELD(c, lasti_kind), TP_LASTI_PTR},
				  {FIELD(c, tag_bits), 0},
				  {FIELD(c, entry_owner), 3},
				  {FIELD(c, rt_interp_head), 632},
				  {FIELD(c, interp_next), 7264},
				  {FIELD(c, interp_threads), 7344},
				  {FIELD(c, tstate_next), 8},
				  {FIELD(c, tstate_thread_id), 152},
				  {FIELD(c, tstate_frame), 72},
				  {FIELD(c, cframe_frame), TP_OFF_NONE},
				  {FIELD(c, frame_back), 8},
				  {FIELD(c, frame_code), 0},
				  {FIELD(c, frame_lasti), 56},
				  {FIELD(c, frame_owner), 70},
				  {FIELD(c, frame_is_entry), TP_OFF_NONE},
				  {FIELD(c, code_firstlineno), 68},
				  {FIELD(c, code_argcount), 52},
				  {FIELD(c, code_filename), 112},
				  {FIELD(c, code_name), 120},
				  {FIELD(k, minor), 13},
				  {FIELD(k, co_size), 208},
				  {FIELD(k, co_qualname), 128},
				  {FIELD(k, co_linetable), 136},
				  {FIELD(k, co_code_adaptive), 200},
				  {FIELD(k, bytes_ob_size), 16},
				  {FIELD(k, bytes_ob_sval), 32},
				  {FIELD(k, str_length), 16},
				  {FIELD(k, str_state), 32},
				  {FIELD(k, str_ascii_data), 40},
				  {FIELD(k, str_compact_data), 56}};

	check_fields(f, sizeof(f) / sizeof(f[0]));
}

static void test_debug_offsets_of_live_3_13_0_parse(void)
{
	unsigned char buf[PYOFFSETS_DEBUG_READ];
	struct tp_pyconfig c;
	struct py_code_layout k;
	size_t n = load_blob(buf, sizeof(buf));

	CHECK_EQ_INT(n, PYOFFSETS_DEBUG_READ);
	CHECK_EQ_INT(pyoffsets__parse_debug(buf, n, &c, &k), 0);
	check_3_13_0(&c, &k);
	CHECK_EQ_INT(pyoffsets__debug_size(c.version), 584);
}

static void put_u64(unsigned char *buf, size_t pos, unsigned long long v)
{
	memcpy(buf + pos, &v, sizeof(v));
}

static void test_debug_offsets_refuse_what_they_do_not_know(void)
{
	/* One 8-byte value changed at pos in a good blob, and the error it must give. */
	static const struct {
		unsigned int pos;
		unsigned long long val;
		int err;
	} bad[] = {
	    {16, 1, -ENOTSUP},	       /* free-threaded build */
	    {8, 0x031000f0, -ENOTSUP}, /* 3.16: no layout */
	    {8, 0x030d00a4, -ENOTSUP}, /* 3.13.0a4: pre-release layouts differ */
	    {8, 0x030f00a7, -ENOTSUP}, /* 3.15.0a7: before the layout we know */
	    {8, 0x030e00f0, -EINVAL},  /* 3.13 bytes claiming to be 3.14: positions disagree */
	    {192, 400, -EINVAL},       /* thread_id outside its 304-byte thread state */
	    {272, 4096, -EINVAL},      /* code object too large to be true */
	    {352, 32, -ENOTSUP},       /* trace-refs object header */
	};
	unsigned char good[PYOFFSETS_DEBUG_READ], buf[PYOFFSETS_DEBUG_READ];
	struct tp_pyconfig c;
	struct py_code_layout k;
	size_t n = load_blob(good, sizeof(good));

	CHECK_EQ_INT(n, PYOFFSETS_DEBUG_READ);

	memcpy(buf, good, n);
	buf[1] = 'X'; /* corrupted cookie */
	CHECK_EQ_INT(pyoffsets__parse_debug(buf, n, &c, &k), -EINVAL);

	CHECK_EQ_INT(pyoffsets__parse_debug(good, 583, &c, &k), -EINVAL); /* short read */

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, good, n);
		put_u64(buf, bad[i].pos, bad[i].val);
		if (pyoffsets__parse_debug(buf, n, &c, &k) != bad[i].err)
			unit_fail("%llu at %u: expected %d", bad[i].val, bad[i].pos, bad[i].err);
	}
}

/* A synthetic 3.14 blob built from the header's field order, with the 3.14.0 values of
 * python-internals.md ([B]: computed from the 3.14.0 headers, not read from a process). */
static void test_debug_offsets_3_14_layout(void)
{
	unsigned char buf[PYOFFSETS_DEBUG_READ] = {0};
	struct tp_pyconfig c;
	struct py_code_layout k;
	static const struct {
		unsigned short pos;
		unsigned long long val;
	} f[] = {
	    {8, 0x030e00f0}, {24, 316512}, {40, 808},  /* runtime */
	    {48, 200000},    {64, 7272},   {72, 7344}, /* interpreter */
	    {176, 304},	     {184, 0},	   {192, 8},   {208, 72},  {216, 152}, {224, 160},
	    {248, 88},	     {256, 8},	   {264, 0},   {272, 56},  {288, 74}, /* frame */
	    {312, 216},	     {320, 112},   {328, 120}, {336, 128}, {344, 136}, {352, 68},
	    {360, 52},	     {384, 208},			  /* code */
	    {400, 16},	     {408, 8},				  /* PyObject */
	    {592, 40},	     {600, 16},	   {608, 32},		  /* bytes */
	    {616, 64},	     {624, 32},	   {632, 16},  {640, 40}, /* str */
	};

	memcpy(buf, "xdebugpy", 8);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		put_u64(buf, f[i].pos, f[i].val);
	CHECK_EQ_INT(pyoffsets__parse_debug(buf, sizeof(buf), &c, &k), 0);
	check_fields((const struct field[]){{FIELD(&c, tag_bits), 3},
					    {FIELD(&c, rt_interp_head), 808},
					    {FIELD(&c, interp_threads), 7344},
					    {FIELD(&c, tstate_frame), 72},
					    {FIELD(&c, frame_owner), 74},
					    {FIELD(&k, co_code_adaptive), 208},
					    {FIELD(&k, str_compact_data), 56}},
		     7);
	CHECK_EQ_INT(pyoffsets__debug_size(0x030e00f0), 760);
}

/* A str read from a target is decoded only when its ob_type is PyUnicode_Type, once that is
 * known: a freed and reused str (the strings of a module's code object, dropped after the
 * import) decoded garbage names. */
static void test_str_of_another_type_is_not_decoded(void)
{
	struct tp_pyconfig c;
	struct py_code_layout k;
	uint8_t obj[256] = {0};
	uint64_t type = 0x7f0000001000ULL, other = 0x7f0000002000ULL, len = 5;
	uint32_t state;
	size_t need = 0;
	char out[64];

	CHECK_EQ_INT(pyoffsets__table(11, &c, &k), 0);
	state = k.str_compact_mask | k.str_ascii_mask | 1u << k.str_kind_shift;
	memcpy(obj + 8, &type, 8);
	memcpy(obj + k.str_length, &len, 8);
	memcpy(obj + k.str_state, &state, 4);
	memcpy(obj + k.str_ascii_data, "hello", 5);
	CHECK_EQ_INT(pystr__decode(&k, obj, sizeof(obj), &need, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, "hello"); /* type unknown (0): not checked */
	k.str_type = type;
	CHECK_EQ_INT(pystr__decode(&k, obj, sizeof(obj), &need, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, "hello");
	memcpy(obj + 8, &other, 8);
	CHECK_EQ_INT(pystr__decode(&k, obj, sizeof(obj), &need, out, sizeof(out)), -EFAULT);
}

UNIT_MAIN("pyoffsets", UNIT_TEST(test_table_3_8_and_3_9_walk_frame_objects_with_byte_lasti),
	  UNIT_TEST(test_table_3_10_counts_lasti_in_code_units),
	  UNIT_TEST(test_table_3_11_goes_through_cframe_and_is_entry),
	  UNIT_TEST(test_table_3_12_marks_entry_frames_by_owner),
	  UNIT_TEST(test_table_refuses_versions_it_does_not_hold),
	  UNIT_TEST(test_debug_offsets_of_live_3_13_0_parse),
	  UNIT_TEST(test_debug_offsets_refuse_what_they_do_not_know),
	  UNIT_TEST(test_debug_offsets_3_14_layout),
	  UNIT_TEST(test_str_of_another_type_is_not_decoded))
