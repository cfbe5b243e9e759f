/* libFuzzer: the recording reader on any bytes (a truncated, corrupt or foreign file). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profile/datafile.h"
#include "profile/profile.h"
#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("rec", MFD_CLOEXEC), truncated;
	struct report_opts o = {.top = 5};
	struct profile *p;
	char path[64], err[256];
	FILE *null;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	p = datafile__read(path, err, sizeof(err), &truncated);
	if (p) {
		/* What was read must be printable by every writer, by every metric, without
		 * crashing (memory metrics replay the memory records through memprof.c). */
		static const char *const metrics[] = {"cpu", "alloc_bytes", "alloc_count",
						      "live_bytes", "peak_bytes"};

		null = fopen("/dev/null", "w");
		for (size_t m = 0; null && m < sizeof(metrics) / sizeof(metrics[0]); m++) {
			o.metric = metrics[m];
			for (const struct report_format *f = report_formats; f->name; f++)
				f->write(p, null, &o);
		}
		if (null)
			fclose(null);
		profile__free(p);
	}
	close(fd);
	return 0;
}
