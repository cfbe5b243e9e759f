/* Interpreter layouts: the reviewed 3.8-3.12 table and the _Py_DebugOffsets parser (3.13+).
 * Sources and how each value was checked: /work/shared/python-internals.md and pyoffsets.h. */
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

struct table_row {
	struct tp_pyconfig cfg;
	struct py_code_layout code;
};

/* Strings and bytes, 3.8 to 3.11: PyASCIIObject still has its wstr pointer. */
#define STR_38                                                                                     \
	.bytes_ob_size = 16, .bytes_ob_sval = 32, .str_length = 16, .str_state = 32,               \
	.str_ascii_data = 48, .str_compact_data = 72, .str_kind_shift = STR_KIND_SHIFT,            \
	.str_compact_mask = STR_COMPACT_MASK, .str_ascii_mask = STR_ASCII_MASK
#define STR_312                                                                                    \
	.bytes_ob_size = 16, .bytes_ob_sval = 32, .str_length = 16, .str_state = 32,               \
	.str_ascii_data = 40, .str_compact_data = 56, .str_kind_shift = STR_KIND_SHIFT,            \
	.str_compact_mask = STR_COMPACT_MASK, .str_ascii_mask = STR_ASCII_MASK

/* 3.8-3.10: PyFrameObject chain; f_lasti is bytes (3.8/3.9) or code units (3.10). */
#define FRAME_OBJECT_CFG(lasti_off, kind)                                                          \
	.lasti_kind = kind, .rt_interp_head = 32, .interp_next = 0, .interp_threads = 8,           \
	.tstate_next = 8, .tstate_thread_id = 176, .tstate_frame = 24, .cframe_frame = N,          \
	.frame_back = 24, .frame_code = 32, .frame_lasti = lasti_off, .frame_owner = N,            \
	.frame_is_entry = N, .code_firstlineno = 40, .code_argcount = 16, .code_filename = 104,    \
	.code_name = 112
#define CODE_38                                                                                    \
	.co_size = 176, .co_argcount = 16, .co_firstlineno = 40, .co_filename = 104,               \
	.co_name = 112, .co_qualname = N, .co_linetable = 120, .co_code_adaptive = N, STR_38

static const struct table_row table[] = {
    {
	.cfg = {.version = 0x03080000, FRAME_OBJECT_CFG(104, TP_LASTI_BYTES)},
	.code = {.version = 0x03080000, .minor = 8, CODE_38},
    },
    {
	.cfg = {.version = 0x03090000, FRAME_OBJECT_CFG(104, TP_LASTI_BYTES)},
	.code = {.version = 0x03090000, .minor = 9, CODE_38},
    },
    {
	.cfg = {.version = 0x030a0000, FRAME_OBJECT_CFG(96, TP_LASTI_UNITS)},
	.code = {.version = 0x030a0000, .minor = 10, CODE_38},
    },
    {
	/* 3.11: _PyInterpreterFrame via tstate->cframe->current_frame; is_entry marks
	 * the outermost frame of one C-level eval call. */
	.cfg = {.version = 0x030b0000,
		.lasti_kind = TP_LASTI_PTR,
		.rt_interp_head = 40,
		.interp_next = 0,
		.interp_threads = 16,
		.tstate_next = 8,
		.tstate_thread_id = 152,
		.tstate_frame = 56,
		.cframe_frame = 8,
		.frame_back = 48,
		.frame_code = 32,
		.frame_lasti = 56,
		.frame_owner = N,
		.frame_is_entry = 68,
		.code_firstlineno = 72,
		.code_argcount = 56,
		.code_filename = 112,
		.code_name = 120},
	.code = {.version = 0x030b0000,
		 .minor = 11,
		 .co_size = 192,
		 .co_argcount = 56,
		 .co_firstlineno = 72,
		 .co_filename = 112,
		 .co_name = 120,
		 .co_qualname = 128,
		 .co_linetable = 136,
		 .co_code_adaptive = 184,
		 STR_38},
    },
    {
	/* 3.12: entry frames are separate frames with owner == 3 (CSTACK). */
	.cfg = {.version = 0x030c0000,
		.lasti_kind = TP_LASTI_PTR,
		.entry_owner = ENTRY_OWNER,
		.rt_interp_head = 40,
		.interp_next = 0,
		.interp_threads = 72,
		.tstate_next = 8,
		.tstate_thread_id = 136,
		.tstate_frame = 56,
		.cframe_frame = 0,
		.frame_back = 8,
		.frame_code = 0,
		.frame_lasti = 56,
		.frame_owner = 70,
		.frame_is_entry = N,
		.code_firstlineno = 68,
		.code_argcount = 52,
		.code_filename = 112,
		.code_name = 120},
	.code = {.version = 0x030c0000,
		 .minor = 12,
		 .co_size = 200,
		 .co_argcount = 52,
		 .co_firstlineno = 68,
		 .co_filename = 112,
		 .co_name = 120,
		 .co_qualname = 128,
		 .co_linetable = 136,
		 .co_code_adaptive = 192,
		 STR_312},
    },
};

int pyoffsets__table(unsigned int minor, struct tp_pyconfig *cfg, struct py_code_layout *code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].code.minor != minor)
			continue;
		*cfg = table[i].cfg;
		*code = table[i].code;
		return 0;
	}
	return -ENOTSUP;
}

/* Byte positions of the fields we use inside one _Py_DebugOffsets layout (each field is a
 * u64). From Include/internal/pycore_runtime.h (3.13) and pycore_debug_offsets.h (3.14,
 * 3.15); 3.13 is also checked by offsetof() on pyenv's 3.13.0 headers. */
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

static const struct debug_layout layouts[] = {
    {
	/* 3.13: 584 bytes. */
	.minor = 13,
	.min_version = 0x030d00c0,
	.size = 584,
	.rt_size = 24,
	.rt_interp_head = 40,
	.is_size = 48,
	.is_next = 64,
	.is_threads_head = 72,
	.ts_size = 152,
	.ts_prev = 160,
	.ts_next = 168,
	.ts_current_frame = 184,
	.ts_thread_id = 192,
	.ts_native_thread_id = 200,
	.fr_size = 224,
	.fr_previous = 232,
	.fr_executable = 240,
	.fr_instr_ptr = 248,
	.fr_owner = 264,
	.co_size = 272,
	.co_filename = 280,
	.co_name = 288,
	.co_qualname = 296,
	.co_linetable = 304,
	.co_firstlineno = 312,
	.co_argcount = 320,
	.co_code_adaptive = 344,
	.po_size = 352,
	.po_ob_type = 360,
	.by_ob_size = 520,
	.by_ob_sval = 528,
	.un_state = 544,
	.un_length = 552,
	.un_ascii_size = 560,
	.un_compact_size = 0,
    },
    {
	/* 3.14: 760 bytes; threads_main, generations, stackpointer and tlbc added. */
	.minor = 14,
	.min_version = 0x030e00c0,
	.size = 760,
	.rt_size = 24,
	.rt_interp_head = 40,
	.is_size = 48,
	.is_next = 64,
	.is_threads_head = 72,
	.ts_size = 176,
	.ts_prev = 184,
	.ts_next = 192,
	.ts_current_frame = 208,
	.ts_thread_id = 216,
	.ts_native_thread_id = 224,
	.fr_size = 248,
	.fr_previous = 256,
	.fr_executable = 264,
	.fr_instr_ptr = 272,
	.fr_owner = 288,
	.co_size = 312,
	.co_filename = 320,
	.co_name = 328,
	.co_qualname = 336,
	.co_linetable = 344,
	.co_firstlineno = 352,
	.co_argcount = 360,
	.co_code_adaptive = 384,
	.po_size = 400,
	.po_ob_type = 408,
	.by_ob_size = 600,
	.by_ob_sval = 608,
	.un_state = 624,
	.un_length = 632,
	.un_ascii_size = 640,
	.un_compact_size = 0,
    },
    {
	/* 3.15 as of its development branch with last_profiled_frame_seq in the thread
	 * state (beta 4 on): 888 bytes. Earlier 3.15 pre-releases differ and are
	 * refused. */
	.minor = 15,
	.min_version = 0x030f00b4,
	.size = 888,
	.rt_size = 24,
	.rt_interp_head = 40,
	.is_size = 48,
	.is_next = 64,
	.is_threads_head = 72,
	.ts_size = 176,
	.ts_prev = 184,
	.ts_next = 192,
	.ts_current_frame = 208,
	.ts_thread_id = 240,
	.ts_native_thread_id = 248,
	.fr_size = 312,
	.fr_previous = 320,
	.fr_executable = 328,
	.fr_instr_ptr = 336,
	.fr_owner = 352,
	.co_size = 376,
	.co_filename = 384,
	.co_name = 392,
	.co_qualname = 400,
	.co_linetable = 408,
	.co_firstlineno = 416,
	.co_argcount = 424,
	.co_code_adaptive = 448,
	.po_size = 464,
	.po_ob_type = 472,
	.by_ob_size = 696,
	.by_ob_sval = 704,
	.un_state = 720,
	.un_length = 728,
	.un_ascii_size = 736,
	.un_compact_size = 744,
    },
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
