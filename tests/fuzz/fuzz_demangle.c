/* libFuzzer: C++ symbol names as a hostile target's ELF files could hold them. The first
 * byte picks the output buffer's size; the rest, after "_Z", is the name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/demangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[DEMANGLE_OUT_MAX + 64];
	char *sym;
	size_t len;
	const char *r;

	if (size < 1 || size > 2 * DEMANGLE_IN_MAX)
		return 0;
	len = (size_t)data[0] * 32;
	sym = malloc(size + 2);
	if (!sym)
		return 0;
	memcpy(sym, "_Z", 2);
	memcpy(sym + 2, data + 1, size - 1);
	sym[size + 1] = '\0';
	memset(out, 'x', sizeof(out));
	r = demangle__name(sym, out, len);
	/* the raw name, or a whole demangling within the buffer, nothing written past it */
	if (r != sym && (r != out || strlen(out) >= len || strlen(out) >= DEMANGLE_OUT_MAX))
		abort();
	for (size_t i = len < DEMANGLE_OUT_MAX ? len : DEMANGLE_OUT_MAX; i < sizeof(out); i++)
		if (out[i] != 'x')
			abort();
	free(sym);
	return 0;
}
