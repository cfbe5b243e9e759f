/* Interpreter layouts: the reviewed 3.8-3.12 table and the _Py_DebugOffsets parser (3.13+).
 * Where each value comes from and how it was checked is written next to it below. */
#include <errno.h>
#include <string.h>

#include "symbols/pyoffsets.h"

#define N TP_OFF_NONE

/* PyASCIIObject.state bits in GIL builds, 3.8 to 3.15: interned 0-1, kind 2-4, compact 5,
 * ascii 6 (checked with the pyenv headers 3.8-3.13; 3.14/3.15 from their headers). */
#define STR_KIND_SHIFT	 2
#define STR_COMPACT_MASK (1u << 5)
#define STR_ASCII_MASK	 (1u << 6)
/* PyCompactUnicodeObject adds utf8_length and utf8 to PyASCIIObject. */
#define STR_COMPACT_EXTRA 16
/* Entry frames (C stack) carry owner >= 3 on 3.12 (CSTACK), 3.13 (CSTACK) and 3.14+
 * (INTERPRETER). */
#define ENTRY_OWNER 3

/* The 3.8-3.12 table. Every number was checked with offsetof() and sizeof() compiled (gcc,
 * x86_64, -DPy_BUILD_CORE) against the installed headers of pyenv CPython 3.8.18, 3.9.18,
 * 3.10.13, 3.11.7 and 3.12.1 (default build: GIL, non-debug). The structs are defined in
 * these headers of each version (paths under Include/):
 *   _PyRuntimeState            internal/pycore_pystate.h (3.8), internal/pycore_runtime.h (3.9+)
 *   PyInterpreterState         internal/pycore_pystate.h (3.8), internal/pycore_interp.h (3.9+)
 *   PyThreadState, _PyCFrame   cpython/pystate.h (_PyCFrame: 3.11, 3.12)
 *   PyFrameObject              frameobject.h (3.8), cpython/frameobject.h (3.9, 3.10)
 *   _PyInterpreterFrame        internal/pycore_frame.h (3.11, 3.12)
 *   PyCodeObject               code.h (3.8), cpython/code.h (3.9+)
 *   PyBytesObject              bytesobject.h (3.8), cpython/bytesobject.h (3.9+)
 *   PyASCIIObject, PyCompactUnicodeObject   cpython/unicodeobject.h
 * The code-object offsets the walker needs (tp_pyconfig.code_*) are the same fields as the
 * symbolizer's (py_code_layout.co_*): pyoffsets__table copies them, so each is typed once. */
struct table_row {
	uint8_t minor;
	struct tp_pyconfig cfg;
	struct py_code_layout code;
};

/* _PyRuntimeState.interpreters.head, PyInterpreterState.next, and the head of its thread list
 * (.tstate_head up to 3.10, .threads.head from 3.11). */
#define RUNTIME(head, next, threads)                                                               \
	.rt_interp_head = head, .interp_next = next, .interp_threads = threads
/* PyThreadState.next, .thread_id, and where the frames start: .frame (3.8-3.10), .cframe
 * (3.11, 3.12). */
#define TSTATE(next, thread_id, frame)                                                             \
	.tstate_next = next, .tstate_thread_id = thread_id, .tstate_frame = frame
/* 3.8-3.10: PyFrameObject.f_back, .f_code, .f_lasti (bytes on 3.8/3.9, code units on 3.10). */
#define FRAME_OBJECT(back, code, lasti, kind)                                                      \
	.lasti_kind = kind, .cframe_frame = N, .frame_back = back, .frame_code = code,             \
	.frame_lasti = lasti, .frame_owner = N, .frame_is_entry = N
/* 3.11, 3.12: _PyCFrame.current_frame, then _PyInterpreterFrame.previous, .f_code,
 * .prev_instr, .owner (3.12) and .is_entry (3.11). */
#define INTERP_FRAME(current, previous, code, prev_instr, owner, is_entry)                         \
	.lasti_kind = TP_LASTI_PTR, .cframe_frame = current, .frame_back = previous,               \
	.frame_code = code, .frame_lasti = prev_instr, .frame_owner = owner,                       \
	.frame_is_entry = is_entry
/* sizeof(PyCodeObject) and its co_argcount, co_firstlineno, co_filename, co_name,
 * co_qualname (3.11+), co_lnotab (3.8/3.9) or co_linetable (3.10+), co_code_adaptive
 * (3.11+). */
#define CODE(size, argcount, firstlineno, filename, name, qualname, linetable, adaptive)           \
	.co_size = size, .co_argcount = argcount, .co_firstlineno = firstlineno,                   \
	.co_filename = filename, .co_name = name, .co_qualname = qualname,                         \
	.co_linetable = linetable, .co_code_adaptive = adaptive
/* PyBytesObject.ob_base.ob_size and .ob_sval; PyASCIIObject.length and .state;
 * sizeof(PyASCIIObject) (where a compact ASCII string's data starts) and
 * sizeof(PyCompactUnicodeObject) (a compact non-ASCII string's): 3.12 dropped wstr. */
#define STRINGS(ascii_size, compact_size)                                                          \
	.bytes_ob_size = 16, .bytes_ob_sval = 32, .str_length = 16, .str_state = 32,               \
	.str_ascii_data = ascii_size, .str_compact_data = compact_size,                            \
	.str_kind_shift = STR_KIND_SHIFT, .str_compact_mask = STR_COMPACT_MASK,                    \
	.str_ascii_mask = STR_ASCII_MASK

static const struct table_row table[] = {
    {.minor = 8,
     .cfg = {RUNTIME(32, 0, 8), TSTATE(8, 176, 24), FRAME_OBJECT(24, 32, 104, TP_LASTI_BYTES)},
     .code = {CODE(176, 16, 40, 104, 112, N, 120, N), STRINGS(48, 72)}},
    {.minor = 9,
     .cfg = {RUNTIME(32, 0, 8), TSTATE(8, 176, 24), FRAME_OBJECT(24, 32, 104, TP_LASTI_BYTES)},
     .code = {CODE(176, 16, 40, 104, 112, N, 120, N), STRINGS(48, 72)}},
    {.minor = 10,
     .cfg = {RUNTIME(32, 0, 8), TSTATE(8, 176, 24), FRAME_OBJECT(24, 32, 96, TP_LASTI_UNITS)},
     .code = {CODE(176, 16, 40, 104, 112, N, 120, N), STRINGS(48, 72)}},
    /* 3.11: is_entry marks the outermost frame of one C-level eval call. */
    {.minor = 11,
     .cfg = {RUNTIME(40, 0, 16), TSTATE(8, 152, 56), INTERP_FRAME(8, 48, 32, 56, N, 68)},
     .code = {CODE(192, 56, 72, 112, 120, 128, 136, 184), STRINGS(48, 72)}},
    /* 3.12: entry frames are separate frames with owner == 3 (FRAME_OWNED_BY_CSTACK). */
    {.minor = 12,
     .cfg = {RUNTIME(40, 0, 72), TSTATE(8, 136, 56), INTERP_FRAME(0, 8, 0, 56, 70, N),
	     .entry_owner = ENTRY_OWNER},
     .code = {CODE(200, 52, 68, 112, 120, 128, 136, 192), STRINGS(40, 56)}},
};

int pyoffsets__table(unsigned int minor, struct tp_pyconfig *cfg, struct py_code_layout *code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].minor != minor)
			continue;
		*cfg = table[i].cfg;
		*code = table[i].code;
		cfg->version = code->version = 0x03000000u | minor << 16;
		code->minor = minor;
		cfg->code_firstlineno = code->co_firstlineno;
		cfg->code_argcount = code->co_argcount;
		cfg->code_filename = code->co_filename;
		cfg->code_name = code->co_name;
		return 0;
	}
	return -ENOTSUP;
}

/* Byte positions of the fields we use inside one _Py_DebugOffsets layout (each field is a
 * u64). The struct is defined in Include/internal/pycore_runtime.h (3.13) and
 * Include/internal/pycore_debug_offsets.h (3.14, 3.15). 3.13: every position checked with
 * offsetof(_Py_DebugOffsets, ...) against the installed headers of pyenv CPython 3.13.0.
 * 3.14 and 3.15: unverified (no such headers on the machines this was checked on): read off
 * the struct in those headers, field by field. */
struct debug_layout {
	uint8_t minor;
	uint32_t min_version; /* lowest PY_VERSION_HEX this layout is known for */
	uint16_t size;	      /* sizeof(_Py_DebugOffsets) */
	uint16_t rt_size, rt_interp_head;
	uint16_t is_size, is_next, is_threads_head;
	uint16_t ts_size, ts_prev, ts_next, ts_current_frame, ts_thread_id, ts_native_thread_id;
	uint16_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	uint16_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno,
	    co_argcount, co_code_adaptive;
	uint16_t po_size, po_ob_type;
	uint16_t by_ob_size, by_ob_sval;
	uint16_t un_state, un_length, un_ascii_size, un_compact_size; /* compact: 0 = absent */
};

/* The _Py_DebugOffsets fields we read, grouped by the struct they describe (in the order
 * of the struct, each the byte position of a u64 in _Py_DebugOffsets). */
#define DBG_RUNTIME(size, interp_head) .rt_size = size, .rt_interp_head = interp_head
#define DBG_INTERP(size, next, threads_head)                                                       \
	.is_size = size, .is_next = next, .is_threads_head = threads_head
#define DBG_TSTATE(size, prev, next, current_frame, thread_id, native_thread_id)                   \
	.ts_size = size, .ts_prev = prev, .ts_next = next, .ts_current_frame = current_frame,      \
	.ts_thread_id = thread_id, .ts_native_thread_id = native_thread_id
#define DBG_FRAME(size, previous, executable, instr_ptr, owner)                                    \
	.fr_size = size, .fr_previous = previous, .fr_executable = executable,                     \
	.fr_instr_ptr = instr_ptr, .fr_owner = owner
#define DBG_CODE(size, filename, name, qualname, linetable, firstlineno, argcount, adaptive)       \
	.co_size = size, .co_filename = filename, .co_name = name, .co_qualname = qualname,        \
	.co_linetable = linetable, .co_firstlineno = firstlineno, .co_argcount = argcount,         \
	.co_code_adaptive = adaptive
/* pyobject.size and .ob_type, bytes_object.ob_size and .ob_sval, unicode_object.state,
 * .length, .asciiobject_size, and the compact object's size (0 where absent). */
#define DBG_OBJECTS(obj_size, ob_type, ob_size, ob_sval, state, length, ascii_size, compact_size)  \
	.po_size = obj_size, .po_ob_type = ob_type, .by_ob_size = ob_size, .by_ob_sval = ob_sval,  \
	.un_state = state, .un_length = length, .un_ascii_size = ascii_size,                       \
	.un_compact_size = compact_size

static const struct debug_layout layouts[] = {
    /* 3.13: 584 bytes. */
    {.minor = 13,
     .min_version = 0x030d00c0,
     .size = 584,
     DBG_RUNTIME(24, 40),
     DBG_INTERP(48, 64, 72),
     DBG_TSTATE(152, 160, 168, 184, 192, 200),
     DBG_FRAME(224, 232, 240, 248, 264),
     DBG_CODE(272, 280, 288, 296, 304, 312, 320, 344),
     DBG_OBJECTS(352, 360, 520, 528, 544, 552, 560, 0)},
    /* 3.14: 760 bytes; threads_main, generations, stackpointer and tlbc added. */
    {.minor = 14,
     .min_version = 0x030e00c0,
     .size = 760,
     DBG_RUNTIME(24, 40),
     DBG_INTERP(48, 64, 72),
     DBG_TSTATE(176, 184, 192, 208, 216, 224),
     DBG_FRAME(248, 256, 264, 272, 288),
     DBG_CODE(312, 320, 328, 336, 344, 352, 360, 384),
     DBG_OBJECTS(400, 408, 600, 608, 624, 632, 640, 0)},
    /* 3.15 as of its development branch with last_profiled_frame_seq in the thread
     * state (beta 4 on): 888 bytes. Earlier 3.15 pre-releases differ and are
     * refused. */
    {.minor = 15,
     .min_version = 0x030f00b4,
     .size = 888,
     DBG_RUNTIME(24, 40),
     DBG_INTERP(48, 64, 72),
     DBG_TSTATE(176, 184, 192, 208, 240, 248),
     DBG_FRAME(312, 320, 328, 336, 352),
     DBG_CODE(376, 384, 392, 400, 408, 416, 424, 448),
     DBG_OBJECTS(464, 472, 696, 704, 720, 728, 736, 744)},
};

#define DEBUG_COOKIE	 "xdebugpy"
#define DEBUG_VERSION	 8
#define DEBUG_FREE_THR	 16
#define RELEASE_LEVEL(v) (((v) >> 4) & 0xf)
#define LEVEL_FINAL	 0xf

static const struct debug_layout *find_layout(uint32_t version)
{
	if ((version >> 24) != 3)
		return NULL;
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		const struct debug_layout *l = &layouts[i];

		if (PY_MINOR(version) == l->minor && version >= l->min_version)
			return l;
	}
	return NULL;
}

size_t pyoffsets__debug_size(uint32_t version)
{
	const struct debug_layout *l = find_layout(version);

	return l ? l->size : 0;
}

static uint64_t u64_at(const uint8_t *buf, uint16_t pos)
{
	uint64_t v;

	memcpy(&v, buf + pos, sizeof(v));
	return v;
}

/* A field offset that fits the config (u16, not TP_OFF_NONE) and lies, with width bytes,
 * inside a struct of the given size. */
static int field_ok(uint64_t off, unsigned int width, uint64_t size)
{
	return off < TP_OFF_NONE && size < (1u << 20) && off + width <= size;
}

int pyoffsets__parse_debug(const void *data, size_t len, struct tp_pyconfig *cfg,
			   struct py_code_layout *code)
{
	const uint8_t *b = data;
	const struct debug_layout *l;
	uint64_t version, rt, is, ts, fr, co, ascii, compact, ob_size, sval, state, length;

	if (len < 24 || memcmp(b, DEBUG_COOKIE, 8) != 0)
		return -EINVAL;
	version = u64_at(b, DEBUG_VERSION);
	if (version > UINT32_MAX)
		return -EINVAL;
	if (u64_at(b, DEBUG_FREE_THR) != 0)
		return -ENOTSUP; /* free-threaded: every object header is different */
	l = find_layout(version);
	if (!l)
		return -ENOTSUP;
	if (PY_MINOR(version) < 15 && RELEASE_LEVEL(version) < 0xc)
		return -ENOTSUP; /* alphas and betas of 3.13/3.14 changed the layout */
	if (len < l->size)
		return -EINVAL;

	rt = u64_at(b, l->rt_size);
	is = u64_at(b, l->is_size);
	ts = u64_at(b, l->ts_size);
	fr = u64_at(b, l->fr_size);
	co = u64_at(b, l->co_size);
	ascii = u64_at(b, l->un_ascii_size);
	compact = l->un_compact_size ? u64_at(b, l->un_compact_size) : ascii + STR_COMPACT_EXTRA;
	ob_size = u64_at(b, l->by_ob_size);
	sval = u64_at(b, l->by_ob_sval);
	state = u64_at(b, l->un_state);
	length = u64_at(b, l->un_length);

	/* Every offset we hand on must lie inside its struct; thread ids sit side by side and
	 * a thread state starts with prev: a layout read at the wrong positions fails here. */
	if (!field_ok(u64_at(b, l->rt_interp_head), 8, rt) ||
	    !field_ok(u64_at(b, l->is_next), 8, is) ||
	    !field_ok(u64_at(b, l->is_threads_head), 8, is) ||
	    !field_ok(u64_at(b, l->ts_next), 8, ts) ||
	    !field_ok(u64_at(b, l->ts_current_frame), 8, ts) ||
	    !field_ok(u64_at(b, l->ts_thread_id), 8, ts) || u64_at(b, l->ts_prev) != 0 ||
	    u64_at(b, l->ts_native_thread_id) != u64_at(b, l->ts_thread_id) + 8 ||
	    !field_ok(u64_at(b, l->fr_previous), 8, fr) ||
	    !field_ok(u64_at(b, l->fr_executable), 8, fr) ||
	    !field_ok(u64_at(b, l->fr_instr_ptr), 8, fr) ||
	    !field_ok(u64_at(b, l->fr_owner), 1, fr))
		return -EINVAL;
	if (co > PYOFFSETS_MAX_CODE_SIZE || !field_ok(u64_at(b, l->co_filename), 8, co) ||
	    !field_ok(u64_at(b, l->co_name), 8, co) ||
	    !field_ok(u64_at(b, l->co_qualname), 8, co) ||
	    !field_ok(u64_at(b, l->co_linetable), 8, co) ||
	    !field_ok(u64_at(b, l->co_firstlineno), 4, co) ||
	    !field_ok(u64_at(b, l->co_argcount), 4, co) ||
	    !field_ok(u64_at(b, l->co_code_adaptive), 0, co))
		return -EINVAL;
	if (ascii > 128 || compact <= ascii || compact > 128 || !field_ok(state, 4, ascii) ||
	    !field_ok(length, 8, ascii) || sval > 64 || !field_ok(ob_size, 8, sval))
		return -EINVAL;

	/* A default (GIL, non-trace-refs) build has a 16-byte PyObject header. */
	if (u64_at(b, l->po_size) != 16 || u64_at(b, l->po_ob_type) != 8)
		return -ENOTSUP;

	memset(cfg, 0, sizeof(*cfg));
	cfg->version = (uint32_t)version;
	cfg->lasti_kind = TP_LASTI_PTR;
	cfg->tag_bits = l->minor >= 14 ? 3 : 0; /* _PyStackRef f_executable from 3.14 */
	cfg->entry_owner = ENTRY_OWNER;
	cfg->rt_interp_head = u64_at(b, l->rt_interp_head);
	cfg->interp_next = u64_at(b, l->is_next);
	cfg->interp_threads = u64_at(b, l->is_threads_head);
	cfg->tstate_next = u64_at(b, l->ts_next);
	cfg->tstate_thread_id = u64_at(b, l->ts_thread_id);
	cfg->tstate_frame = u64_at(b, l->ts_current_frame);
	cfg->cframe_frame = TP_OFF_NONE;
	cfg->frame_back = u64_at(b, l->fr_previous);
	cfg->frame_code = u64_at(b, l->fr_executable);
	cfg->frame_lasti = u64_at(b, l->fr_instr_ptr);
	cfg->frame_owner = u64_at(b, l->fr_owner);
	cfg->frame_is_entry = TP_OFF_NONE;
	cfg->code_firstlineno = u64_at(b, l->co_firstlineno);
	cfg->code_argcount = u64_at(b, l->co_argcount);
	cfg->code_filename = u64_at(b, l->co_filename);
	cfg->code_name = u64_at(b, l->co_name);

	memset(code, 0, sizeof(*code));
	code->version = (uint32_t)version;
	code->minor = l->minor;
	code->co_size = co;
	code->co_argcount = cfg->code_argcount;
	code->co_firstlineno = cfg->code_firstlineno;
	code->co_filename = cfg->code_filename;
	code->co_name = cfg->code_name;
	code->co_qualname = u64_at(b, l->co_qualname);
	code->co_linetable = u64_at(b, l->co_linetable);
	code->co_code_adaptive = u64_at(b, l->co_code_adaptive);
	code->bytes_ob_size = ob_size;
	code->bytes_ob_sval = sval;
	code->str_length = length;
	code->str_state = state;
	code->str_ascii_data = ascii;
	code->str_compact_data = compact;
	code->str_kind_shift = STR_KIND_SHIFT;
	code->str_compact_mask = STR_COMPACT_MASK;
	code->str_ascii_mask = STR_ASCII_MASK;
	return 0;
}
