/* libFuzzer: ELF files as a hostile target could ship them. */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols/elfsym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("elf", MFD_CLOEXEC);
	const char *needed[8];
	uint64_t a, b, c;
	struct elfsym *e;
	uint8_t buf[64];

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && (e = elfsym__open_fd(fd, "fuzz"))) {
		elfsym__build_id(e);
		elfsym__symbol(e, "_PyRuntime", &a, &b);
		elfsym__section(e, ".PyRuntime", &a, &b, &c);
		elfsym__needed(e, needed, 8);
		for (uint64_t v = 0; v < 0x10000; v += 0x333) {
			elfsym__lookup(e, v, &a, &b);
			elfsym__read(e, v, buf, sizeof(buf));
			elfsym__offset_to_vaddr(e, v, &a);
			elfsym__bias(e, 0x400000 + v, v, &a);
		}
		elfsym__free(e);
	}
	close(fd);
	return 0;
}
