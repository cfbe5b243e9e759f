/* The shared fixtures of the profile and report unit tests (fixture.h). */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "unit.h"

uint32_t fixture__frame(struct profile *p, int kind, const char *name, const char *file,
			uint32_t line)
{
	uint32_t id = 0;

	CHECK_EQ_INT(profile__frame(p, &(struct prof_frame){kind, name, file, line}, &id), 0);
	return id;
}

uint32_t fixture__stack(struct profile *p, const uint32_t *ids, uint32_t n)
{
	uint32_t id = 0;

	CHECK_EQ_INT(profile__stack(p, ids, n, &id), 0);
	return id;
}

void fixture__samples(struct profile *p, pid_t pid, pid_t tid, uint32_t st, double t, int count)
{
	for (int i = 0; i < count; i++)
		CHECK_EQ_INT(
		    profile__sample(p, (uint64_t)(t * 1e9) + i * 10000000ULL, pid, tid, 0, st, 1),
		    0);
}

char *fixture__write_err(fixture_writer fn, const struct profile *p, const struct report_opts *o,
			 int *err, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	CHECK(f != NULL);
	*err = fn(p, f, o);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

char *fixture__write(fixture_writer fn, const struct profile *p, const struct report_opts *o,
		     size_t *len)
{
	int err;
	char *buf = fixture__write_err(fn, p, o, &err, len);

	CHECK_EQ_INT(err, 0);
	return buf;
}

static char *golden_path(const char *name, const char *suffix)
{
	static char buf[512];
	char src[] = __FILE__;

	snprintf(buf, sizeof(buf), "%s/golden/%s%s", dirname(src), name, suffix);
	return buf;
}

void fixture__check_golden(const char *name, const char *seen, size_t len)
{
	FILE *f = fopen(golden_path(name, ""), "rb");
	char *want = NULL;
	size_t wlen = 0;

	if (f) {
		want = malloc(1 << 20);
		wlen = want ? fread(want, 1, 1 << 20, f) : 0;
		fclose(f);
	}
	if (!want || wlen != len || memcmp(want, seen, len)) {
		f = fopen(golden_path(name, ".seen"), "wb");
		if (f) {
			fwrite(seen, 1, len, f);
			fclose(f);
		}
		unit_fail("%s differs from the golden file; seen output in %s", name,
			  golden_path(name, ".seen"));
	} else {
		unlink(golden_path(name, ".seen"));
	}
	free(want);
}

void fixture__golden(const char *name, fixture_writer fn, struct profile *(*make)(void),
		     const struct report_opts *o)
{
	struct profile *p = make();
	size_t len;
	char *out = fixture__write(fn, p, o, &len);

	fixture__check_golden(name, out, len);
	free(out);
	profile__free(p);
}

double fixture__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
