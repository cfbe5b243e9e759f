/* demangle.h: C++ names through libiberty's demangler (the one in GCC, binutils and
 * libstdc++'s __cxa_demangle), used through its callback interface: __cxa_demangle builds
 * the whole demangling in memory before returning it, which a hostile name can make
 * exponentially long, while the callback receives it in pieces and lets us stop at
 * DEMANGLE_OUT_MAX. The callback interface allocates nothing (libiberty/demangle.h says so),
 * so leaving it by longjmp from the callback leaks nothing. */
#include <setjmp.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "lib/demangle.h"

struct dm_out {
	char *buf;
	size_t len, n; /* room in buf (the NUL's byte included), bytes written */
	jmp_buf full;
};

static void dm_put(const char *s, size_t n, void *opaque)
{
	struct dm_out *o = opaque;

	if (n >= o->len - o->n)
		longjmp(o->full, 1);
	memcpy(o->buf + o->n, s, n);
	o->n += n;
}

/* Whether sym demangled into o whole (the setjmp's frame holds nothing to restore). */
static int dm_run(const char *sym, struct dm_out *o)
{
	if (setjmp(o->full))
		return 0;
	return cplus_demangle_v3_callback(sym, DMGL_PARAMS | DMGL_ANSI, dm_put, o) && o->n;
}

const char *demangle__name(const char *sym, char *buf, size_t len)
{
	struct dm_out o = {.buf = buf, .len = len < DEMANGLE_OUT_MAX ? len : DEMANGLE_OUT_MAX};

	if (!sym || strncmp(sym, "_Z", 2) || !o.len ||
	    strnlen(sym, DEMANGLE_IN_MAX + 1) > DEMANGLE_IN_MAX || !dm_run(sym, &o))
		return sym;
	buf[o.n] = '\0';
	return buf;
}
