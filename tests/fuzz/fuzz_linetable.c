/* libFuzzer: CPython line tables of every format, as read from a hostile target. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "symbols/linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linetable_iter it;
	struct linetable_range r;
	int32_t first;

	if (size < 5)
		return 0;
	memcpy(&first, data + 1, 4);
	if (linetable__iter_init(&it, 8 + data[0] % 8, data + 5, size - 5, first))
		return 0;
	for (int n = 0; n < 1 << 20 && linetable__next(&it, &r) == 1; n++)
		;
	for (uint32_t off = 0; off < 64; off += 2)
		linetable__line(8 + data[0] % 8, data + 5, size - 5, first, off);
	return 0;
}
