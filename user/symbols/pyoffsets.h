/* Where things are inside a CPython interpreter, per version.
 *
 * 3.8 to 3.12: a reviewed table (values checked with offsetof() against the internal headers
 * of pyenv 3.8.18, 3.9.18, 3.10.13, 3.11.7 and 3.12.1; default build: GIL, non-debug, x86_64).
 * 3.13 and later: parsed from the _Py_DebugOffsets the interpreter publishes at the start of
 * _PyRuntime, for the struct layouts we know (3.13, 3.14, 3.15); anything else is refused
 * rather than guessed.
 *
 * Both produce the walker's struct tp_pyconfig (include/treeprof.h; the runtime, none_addr
 * and init_cleanup addresses are left 0 for pyfind.c to fill) and the code-object and string
 * layout the symbolizer needs (struct py_code_layout).
 */
#ifndef TREEPROF_PYOFFSETS_H
#define TREEPROF_PYOFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "treeprof.h"

/* Bytes to read at _PyRuntime to hold any _Py_DebugOffsets layout we parse. */
#define PYOFFSETS_DEBUG_READ 1024
/* Largest code object header we agree to read. */
#define PYOFFSETS_MAX_CODE_SIZE 512

#define PY_MINOR(version) (((version) >> 16) & 0xff)

/* How to read a code object and its strings. Offsets in bytes; TP_OFF_NONE when absent. */
struct py_code_layout {
	uint32_t version; /* PY_VERSION_HEX; micro may be 0 when only the file name told us */
	uint8_t minor;
	uint16_t co_size;	   /* bytes to read to see every field below */
	uint16_t co_argcount;	   /* int */
	uint16_t co_firstlineno;   /* int */
	uint16_t co_filename;	   /* PyObject * (str) */
	uint16_t co_name;	   /* PyObject * (str) */
	uint16_t co_qualname;	   /* PyObject * (str), 3.11+ */
	uint16_t co_linetable;	   /* PyObject * (bytes): co_lnotab (3.8/3.9) or co_linetable */
	uint16_t co_code_adaptive; /* start of the inline bytecode, 3.11+ */
	uint16_t bytes_ob_size;	   /* Py_ssize_t */
	uint16_t bytes_ob_sval;	   /* first data byte */
	uint16_t str_length;	   /* Py_ssize_t, in code points */
	uint16_t str_state;	   /* u32 bit field */
	uint16_t str_ascii_data;   /* data of a compact ASCII string (sizeof PyASCIIObject) */
	uint16_t str_compact_data; /* data of a compact non-ASCII string */
	uint8_t str_kind_shift;	   /* kind = (state >> shift) & 7: 1, 2 or 4 bytes per char */
	uint32_t str_compact_mask; /* state bit: compact */
	uint32_t str_ascii_mask;   /* state bit: ascii */
	/* Runtime addresses of PyCode_Type and PyUnicode_Type in the target (pyfind), 0 when
	 * unknown: an object read whose ob_type (offset 8 in every layout we accept) is not its
	 * type was freed and its memory reused, and is not read as one. */
	uint64_t code_type, str_type;
};

/* The reviewed table for 3.minor, minor 8..12: 0, or -ENOTSUP. cfg->version is set to
 * 0x03MM0000 (the caller may refine it); addresses are left 0. */
int pyoffsets__table(unsigned int minor, struct tp_pyconfig *cfg, struct py_code_layout *code);

/* Parse the _Py_DebugOffsets bytes read at _PyRuntime (len >= the layout's size; reading
 * PYOFFSETS_DEBUG_READ bytes always suffices). 0 with *cfg and *code filled, or:
 *   -EINVAL   no "xdebugpy" cookie, too short, or offsets that make no sense
 *   -ENOTSUP  a version or build we have no layout for (free-threaded, pre-release, 3.16+)
 */
int pyoffsets__parse_debug(const void *buf, size_t len, struct tp_pyconfig *cfg,
			   struct py_code_layout *code);

/* Size of the _Py_DebugOffsets struct of a version we can parse, or 0. */
size_t pyoffsets__debug_size(uint32_t version);

#endif
