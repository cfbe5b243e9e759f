/* libFuzzer: CPython str objects as a hostile target could forge them (names, files). */
#include <stddef.h>
#include <stdint.h>

#include "symbols/pyoffsets.h"
#include "symbols/pysym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_code_layout code;
	struct tp_pyconfig cfg;
	char out[1100];
	size_t need = 0;

	if (size < 1 || pyoffsets__table(8 + data[0] % 5, &cfg, &code))
		return 0;
	/* Whole object, then every cut: a short read must ask for more, never over-read. */
	pystr__decode(&code, data + 1, size - 1, &need, out, sizeof(out));
	for (size_t cut = 0; cut < size - 1 && cut < 256; cut += 7)
		pystr__decode(&code, data + 1, cut, &need, out, sizeof(out));
	return 0;
}
