/* libFuzzer: /proc/PID/maps and /proc/kallsyms text parsers. */
#include <stdint.h>

#include "symbols/ksym.h"
#include "symbols/procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procmaps *pm = procmaps__parse((const char *)data, size);
	struct ksyms *ks = ksyms__parse((const char *)data, size);

	if (pm) {
		procmaps__find(pm, 0x400000);
		procmaps__free(pm);
	}
	if (ks) {
		ksyms__lookup(ks, 0xffffffff81000000ULL, NULL, NULL);
		ksyms__free(ks);
	}
	return 0;
}
