/* The recording format: round trip, truncation, corruption, foreign files, hostile input. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "profile/datafile.h"
#include "profile/journal.h"
#include "profile/profile.h"
#include "treeprof.h"
#include "unit.h"

static const char *path; /* the last path tmp() gave */

static const char *tmp(const char *name)
{
	return path = unit_tmp(name);
}

/* One writer at a time on a new file at p, the way main.c uses datafile__new on the
 * descriptor outfile.h opened; finish() ends the recording and closes the file. */
static int wfd = -1;

static struct datafile_writer *create(const char *p)
{
	wfd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(wfd >= 0);
	return datafile__new(wfd);
}

static int finish(struct datafile_writer *w)
{
	int err = datafile__finish(w);

	close(wfd);
	wfd = -1;
	return err;
}

static void put_file(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(fwrite(data, 1, len, f), len);
	fclose(f);
}

static unsigned char *get_file(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	unsigned char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	if (buf && fread(buf, 1, n, f) == (size_t)n)
		*len = n;
	fclose(f);
	return buf;
}

static uint32_t frame(struct profile *p, int kind, const char *name, const char *file,
		      uint32_t line)
{
	uint32_t id = 0;

	CHECK_EQ_INT(profile__frame(p, &(struct prof_frame){kind, name, file, line}, &id), 0);
	return id;
}

/* A small profile with every kind of record, journaled to file when w is given. */
static struct profile *sample_profile(struct datafile_writer *w)
{
	struct profile *p = profile__new();
	uint32_t f[5], s[3];

	profile__set_journal(p, datafile__journal(w));
	CHECK_EQ_INT(profile__set_meta(p, "frequency", "99"), 0);
	CHECK_EQ_INT(profile__set_meta(p, "command", "treeprof record -- python3 app.py"), 0);
	f[0] = frame(p, FRAME_PYTHON, "<module>", "app.py", 3);
	f[1] = frame(p, FRAME_PYTHON, "Worker.run", "app.py", 17);
	f[2] = frame(p, FRAME_NATIVE, "[unknown]", "/usr/lib/libc.so.6", 0);
	f[3] = frame(p, FRAME_KERNEL, "do_syscall_64", NULL, 0);
	f[4] = frame(p, FRAME_NATIVE, "memcpy", "", 0);
	CHECK_EQ_INT(frame(p, FRAME_PYTHON, "<module>", "app.py", 3), f[0]);
	CHECK_EQ_INT(profile__stack(p, (uint32_t[]){f[0], f[1]}, 2, &s[0]), 0);
	CHECK_EQ_INT(profile__stack(p, (uint32_t[]){f[0], f[1], f[2], f[3]}, 4, &s[1]), 0);
	CHECK_EQ_INT(profile__stack(p, NULL, 0, &s[2]), 0);
	CHECK_EQ_INT(profile__proc_start(p, 100, 1, 0, "python3", "python3 app.py", "/usr/bin/py"),
		     0);
	CHECK_EQ_INT(profile__proc_start(p, 101, 100, 5000, "python3", "", NULL), 0);
	CHECK_EQ_INT(profile__proc_exec(p, 101, 6000, "sh", "sh -c 'ls; echo'", "/bin/sh"), 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(profile__sample(p, 7000 + i, i % 3 ? 100 : 101, 100 + i % 2, i % 4,
					     s[i % 3], 1 + i % 2),
			     0);
	CHECK_EQ_INT(profile__proc_exit(p, 101, 9000, 9), 0);
	CHECK_EQ_INT(profile__proc_start(p, 101, 100, 9500, "python3", "python3 -c pass", ""), 0);
	CHECK_EQ_INT(profile__sample(p, 9600, 101, 101, 0, s[0], 1), 0);
	CHECK_EQ_INT(profile__sample(p, 9700, 555, 556, 1, s[1], 1), 0);
	/* memory: a sampled allocation, a realloc, a fork, RSS, exact totals, an munmap */
	CHECK_EQ_INT(profile__mem_alloc(p, 9800, 100, 100, TP_MEM_MALLOC, 0x7f0000001000ULL, 4096,
					524288, s[1]),
		     0);
	CHECK_EQ_INT(profile__mem_free(p, 9810, 100, TP_MEM_FREE, 0x7f0000001000ULL), 0);
	CHECK_EQ_INT(profile__mem_alloc(p, 9810, 100, 101, TP_MEM_REALLOC, 0x7f0000002000ULL,
					UINT64_MAX, UINT64_MAX, s[2]),
		     0);
	CHECK_EQ_INT(profile__mem_fork(p, 9820, 102, 100), 0);
	CHECK_EQ_INT(profile__mem_rss(p, 9830, 102, 50ULL << 20), 0);
	CHECK_EQ_INT(profile__mem_counters(p, 9840, 100,
					   &(struct tp_memcounters){1, 2, 3, 4, 5, 6, 7, 524288}),
		     0);
	CHECK_EQ_INT(profile__mem_free(p, 9850, 102, TP_MEM_MUNMAP, 0x7f0000002000ULL), 0);
	CHECK_EQ_INT(profile__proc_exit(p, 102, 9860, 0), 0);
	CHECK_EQ_INT(profile__set_stat(p, "ringbuf_lost", 3), 0);
	CHECK_EQ_INT(profile__set_stat(p, "duration_ns", 123456789), 0);
	CHECK_EQ_INT(profile__set_stat(p, "ringbuf_lost", 4), 0);
	profile__set_journal(p, NULL);
	return p;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_same(const struct profile *a, const struct profile *b)
{
	const char *k, *v, *kb, *vb;
	uint64_t x, y;

	CHECK_EQ_INT(profile__nframes(b), profile__nframes(a));
	for (uint32_t i = 0; i < profile__nframes(a) && i < profile__nframes(b); i++) {
		const struct prof_frame *fa = profile__frame_get(a, i),
					*fb = profile__frame_get(b, i);

		CHECK(fa->kind == fb->kind && fa->line == fb->line && str_eq(fa->name, fb->name) &&
		      str_eq(fa->file, fb->file));
	}
	CHECK_EQ_INT(profile__nstacks(b), profile__nstacks(a));
	for (uint32_t i = 0; i < profile__nstacks(a) && i < profile__nstacks(b); i++) {
		uint32_t na, nb;
		const uint32_t *sa = profile__stack_get(a, i, &na),
			       *sb = profile__stack_get(b, i, &nb);

		CHECK(na == nb && !memcmp(sa, sb, na * sizeof(*sa)));
	}
	CHECK_EQ_INT(profile__nprocs(b), profile__nprocs(a));
	for (uint32_t i = 0; i < profile__nprocs(a) && i < profile__nprocs(b); i++) {
		const struct prof_proc *pa = profile__proc_at(a, i), *pb = profile__proc_at(b, i);

		CHECK(pa->pid == pb->pid && pa->ppid == pb->ppid && pa->start_ns == pb->start_ns &&
		      pa->end_ns == pb->end_ns && pa->exited == pb->exited &&
		      pa->exit_code == pb->exit_code && pa->samples == pb->samples);
		CHECK_EQ_STR(pb->comm, pa->comm);
		CHECK_EQ_STR(pb->cmdline, pa->cmdline);
		CHECK_EQ_STR(pb->exe, pa->exe);
	}
	CHECK_EQ_INT(profile__nsamples(b), profile__nsamples(a));
	for (size_t i = 0; i < profile__nsamples(a) && i < profile__nsamples(b); i++)
		CHECK(!memcmp(profile__sample_at(a, i), profile__sample_at(b, i),
			      sizeof(struct prof_sample)));
	CHECK_EQ_INT(profile__nmem(b), profile__nmem(a));
	for (size_t i = 0; i < profile__nmem(a) && i < profile__nmem(b); i++)
		CHECK(!memcmp(profile__mem_at(a, i), profile__mem_at(b, i),
			      sizeof(struct prof_memrec)));
	for (uint32_t i = 0; i < profile__nprocs(a); i++) {
		const struct tp_memcounters *ca = profile__mem_counters_get(a, i),
					    *cb = profile__mem_counters_get(b, i);

		CHECK((!ca && !cb) || (ca && cb && !memcmp(ca, cb, sizeof(*ca))));
	}
	for (uint32_t i = 0; (k = profile__stat_at(a, i, &x)); i++) {
		CHECK_EQ_STR(profile__stat_at(b, i, &y), k);
		CHECK_EQ_INT(y, x);
	}
	for (uint32_t i = 0; (k = profile__meta_at(a, i, &v)); i++) {
		kb = profile__meta_at(b, i, &vb);
		CHECK_EQ_STR(kb, k);
		CHECK_EQ_STR(kb ? vb : NULL, v);
	}
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

/* Writes the sample recording and returns its path. */
static const char *write_sample(const char *name, struct profile **out)
{
	const char *p = tmp(name);
	struct datafile_writer *w = create(p);
	struct profile *prof;

	CHECK(w != NULL);
	prof = sample_profile(w);
	CHECK_EQ_INT(finish(w), 0);
	if (out)
		*out = prof;
	else
		profile__free(prof);
	return p;
}

static void recording_reads_back_identical(void)
{
	struct profile *orig, *back;
	char err[256] = "";
	int trunc = -1;
	const char *p = write_sample("round.data", &orig);

	back = datafile__read(p, err, sizeof(err), &trunc);
	CHECK(back != NULL);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(trunc, 0);
	if (back)
		check_same(orig, back);
	CHECK_EQ_INT(profile__nprocs(orig), 5);
	/* the exit of the first 101 (before any memory event), alloc, free, realloc, fork, rss,
	 * munmap, and the exit of 102: the profile adds exits */
	CHECK_EQ_INT(profile__nmem(orig), 8);
	CHECK(profile__mem_counters_get(orig, profile__proc_find(orig, 100)->idx) != NULL);
	profile__free(orig);
	profile__free(back);
}

/* Records written directly, through the writer's journal (one record each), bypassing the
 * profile's checks. */
static int put_frame(struct datafile_writer *w, uint32_t id, const struct prof_frame *f)
{
	const struct profile_journal *j = datafile__journal(w);

	return j->frame(j->ctx, id, f);
}

static int put_stack(struct datafile_writer *w, uint32_t id, const uint32_t *frames, uint32_t n)
{
	const struct profile_journal *j = datafile__journal(w);

	return j->stack(j->ctx, id, frames, n);
}

static int put_sample(struct datafile_writer *w, uint32_t stack)
{
	const struct profile_journal *j = datafile__journal(w);

	return j->sample(j->ctx, 1, 2, 3, 4, stack, 1);
}

/* A recording with one record of the given type and payload (a valid CRC), after an
 * optional frame and stack. Returns the offset of that record. */
static size_t raw_recording(const char *name, bool with_stack, uint32_t type, const void *payload,
			    uint32_t len)
{
	struct datafile_writer *w = create(tmp(name));
	struct prof_frame f = {FRAME_PYTHON, "f", "f.py", 1};
	unsigned char *d;
	size_t n, off;
	FILE *fp;

	if (with_stack) {
		CHECK_EQ_INT(put_frame(w, 0, &f), 0);
		CHECK_EQ_INT(put_stack(w, 0, (uint32_t[]){0}, 1), 0);
	}
	CHECK_EQ_INT(datafile__flush(w), 0);
	d = get_file(path, &off);
	CHECK_EQ_INT(finish(w), 0);
	free(d);
	n = 12 + len;
	d = malloc(n);
	put32(d, type);
	put32(d + 4, len);
	memcpy(d + 8, payload, len);
	put32(d + 8 + len, crc32(crc32(0, Z_NULL, 0), d, 8 + len));
	/* the records before, this one, no END: a truncated recording at worst */
	fp = fopen(tmp(name), "r+b");
	CHECK(fp != NULL);
	if (fp) {
		fseek(fp, (long)off, SEEK_SET);
		CHECK_EQ_INT(fwrite(d, 1, n, fp), n);
		CHECK_EQ_INT(ftruncate(fileno(fp), (off_t)(off + n)), 0);
		fclose(fp);
	}
	free(d);
	return off;
}

static void memory_records_must_have_exact_lengths_and_valid_ids(void)
{
	static const struct {
		uint32_t type, len;
		bool ok;
	} cases[] = {
	    {10, 48, true},  {10, 44, false}, {10, 52, false}, {11, 24, true},
	    {11, 20, false}, {11, 28, false}, {12, 16, true},  {12, 12, false},
	    {12, 20, false}, {13, 20, true},  {13, 16, false}, {13, 24, false},
	    {14, 76, true},  {14, 72, false}, {14, 80, false}, {14, 0, false},
	};
	unsigned char payload[96];
	char err[256], want[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct profile *r;
		size_t off;

		memset(payload, 0, sizeof(payload));
		put32(payload + 8, 7); /* pid */
		if (cases[i].type == 10)
			put32(payload + 16, TP_MEM_MALLOC); /* kind; stack 0 */
		if (cases[i].type == 11)
			put32(payload + 12, TP_MEM_FREE);
		off = raw_recording("memlen", true, cases[i].type, payload, cases[i].len);
		snprintf(want, sizeof(want), "corrupt record at offset %zu", off);
		err[0] = 0;
		r = datafile__read(path, err, sizeof(err), NULL);
		if (cases[i].ok) {
			CHECK(r != NULL);
			CHECK(r && (cases[i].type == 14 || profile__nmem(r) == 1));
		} else {
			CHECK(r == NULL);
			if (strcmp(err, want))
				fprintf(stderr,
					"  type %u length %u: expected \"%s\", saw \"%s\"\n",
					cases[i].type, cases[i].len, want, err);
			CHECK_EQ_STR(err, want);
		}
		profile__free(r);
	}

	/* an allocation on a stack never defined, or with a kind that is not one */
	memset(payload, 0, sizeof(payload));
	put32(payload + 16, TP_MEM_MALLOC);
	raw_recording("memlen", false, 10, payload, 48);
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, "corrupt record at offset 16");
	for (uint32_t kind = 0; kind < 20; kind++) {
		bool ok = kind >= TP_MEM_MALLOC && kind <= TP_MEM_MREMAP;
		struct profile *r;

		put32(payload + 16, kind);
		raw_recording("memlen", true, 10, payload, 48);
		r = datafile__read(path, err, sizeof(err), NULL);
		CHECK(ok == (r != NULL));
		profile__free(r);
		memset(payload, 0, sizeof(payload));
		put32(payload + 12, kind);
		raw_recording("memlen", true, 11, payload, 24);
		r = datafile__read(path, err, sizeof(err), NULL);
		CHECK((kind == TP_MEM_FREE || kind == TP_MEM_MUNMAP) == (r != NULL));
		profile__free(r);
	}
}

static void recording_cut_at_every_length_reads_or_fails_cleanly(void)
{
	size_t len, prev = 0;
	unsigned char *data = get_file(write_sample("full.data", NULL), &len);
	char err[256];
	int bad = 0;

	CHECK(data && len > 100);
	for (size_t cut = 0; data && cut < len; cut++) {
		const char *p = tmp("cut.data");
		struct profile *r;
		int trunc = 0;

		put_file(p, data, cut);
		err[0] = 0;
		r = datafile__read(p, err, sizeof(err), &trunc);
		if (cut < 16) {
			bad += r != NULL || !err[0];
			if (cut == 0)
				CHECK_EQ_STR(err, "empty file");
		} else {
			bad += r == NULL || trunc != 1;
			if (r) {
				bad += profile__nsamples(r) < prev;
				prev = profile__nsamples(r);
			}
		}
		if (bad) {
			fprintf(stderr, "  cut at %zu of %zu: %s\n", cut, len, err);
			unit_failed_checks++;
			bad = 0;
		}
		profile__free(r);
	}
	CHECK_EQ_INT(prev, 12); /* the last cut still holds every sample, only END is gone */
	free(data);
}

static void recording_without_end_record_is_truncated_but_readable(void)
{
	const char *p = tmp("open.data");
	struct datafile_writer *w = create(p);
	struct profile *prof = sample_profile(w), *r;
	char err[256] = "";
	int trunc = 0;

	CHECK_EQ_INT(datafile__flush(w), 0);
	r = datafile__read(p, err, sizeof(err), &trunc);
	CHECK(r != NULL);
	CHECK_EQ_INT(trunc, 1);
	if (r)
		check_same(prof, r);
	CHECK_EQ_INT(finish(w), 0);
	profile__free(r);
	profile__free(prof);
}

static void flipped_byte_in_the_middle_is_corrupt(void)
{
	size_t len, off = 16;
	unsigned char *data = get_file(write_sample("flip.data", NULL), &len);
	char err[256] = "", want[64];

	/* walk to the fourth record and flip a byte of its payload */
	for (int i = 0; i < 3; i++)
		off += 12 + (data[off + 4] | data[off + 5] << 8);
	snprintf(want, sizeof(want), "corrupt record at offset %zu", off);
	data[off + 9] ^= 0x20;
	put_file(tmp("flip.data"), data, len);
	CHECK(datafile__read(tmp("flip.data"), err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, want);
	free(data);
}

static void foreign_empty_and_future_files_are_refused(void)
{
	unsigned char v7[16] = "TREEPROF\x07\0\0\0\0\0\0\0";
	const char *sh = "#!/bin/sh\necho this is not a recording\n";
	char err[256];

	put_file(tmp("foreign"), sh, strlen(sh));
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, "not a treeprof recording");
	put_file(tmp("empty"), "", 0);
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, "empty file");
	put_file(tmp("v7"), v7, sizeof(v7));
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, "unsupported recording version 7");
	CHECK(datafile__read(tmp("missing"), err, sizeof(err), NULL) == NULL);
	CHECK(strstr(err, "cannot open") != NULL);
	CHECK(datafile__read(unit_tmp_dir(), err, sizeof(err), NULL) == NULL);
}

/* Records that refer to frames or stacks never defined are corrupt, not a crash. */
static void undefined_ids_are_corrupt(void)
{
	struct prof_frame f = {FRAME_PYTHON, "f", "f.py", 1};
	struct datafile_writer *w;
	char err[256];

	w = create(tmp("ids1"));
	CHECK_EQ_INT(put_sample(w, 0), 0); /* stack 0 never defined */
	CHECK_EQ_INT(finish(w), 0);
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, "corrupt record at offset 16");

	w = create(tmp("ids2"));
	CHECK_EQ_INT(put_frame(w, 0, &f), 0);
	CHECK_EQ_INT(put_stack(w, 0, (uint32_t[]){0, 1}, 2), 0); /* frame 1 undefined */
	CHECK_EQ_INT(finish(w), 0);
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK(strncmp(err, "corrupt record at offset ", 25) == 0);

	w = create(tmp("ids3"));
	CHECK_EQ_INT(put_frame(w, 0, &f), 0);
	CHECK_EQ_INT(put_frame(w, 1, &f), 0); /* the same frame under a second id */
	CHECK_EQ_INT(finish(w), 0);
	CHECK(datafile__read(path, err, sizeof(err), NULL) == NULL);
	CHECK(strncmp(err, "corrupt record at offset ", 25) == 0);
}

/* Strings longer than 64 KiB are cut at 64 KiB, the same in the profile and the file. */
static void long_strings_are_capped_consistently(void)
{
	char *big = malloc(100001), err[256];
	struct datafile_writer *w = create(tmp("long.data"));
	struct profile *p = profile__new(), *r;
	uint32_t a, b;

	memset(big, 'a', 100000);
	big[100000] = 0;
	profile__set_journal(p, datafile__journal(w));
	a = frame(p, FRAME_PYTHON, big, "x.py", 1);
	big[65536] = 0;
	b = frame(p, FRAME_PYTHON, big, "x.py", 1);
	big[65536] = 'a';
	CHECK_EQ_INT(b, a);
	CHECK_EQ_INT(profile__proc_start(p, 1, 0, 0, "c", big, big), 0);
	CHECK_EQ_INT(strlen(profile__proc_find(p, 1)->cmdline), 65536);
	CHECK_EQ_INT(finish(w), 0);
	r = datafile__read(path, err, sizeof(err), NULL);
	CHECK(r != NULL);
	if (r)
		check_same(p, r);
	profile__free(r);
	profile__free(p);
	free(big);
}

static void writer_reports_full_disk(void)
{
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	errno = 0;
	CHECK(datafile__new(fd) == NULL);
	CHECK_EQ_INT(errno, ENOSPC);
	close(fd);
}

/* A recording that came through a pipe (record -o - | report /dev/stdin) reads in full,
 * cut short or not. */
static void recording_read_from_a_pipe(void)
{
	size_t len;
	unsigned char *d = get_file(write_sample("pipe.data", NULL), &len);
	struct profile *whole, *r;
	char err[256] = "", name[64];
	int pfd[2], trunc = -1;

	whole = datafile__read(path, err, sizeof(err), NULL);
	CHECK(whole != NULL);
	for (int cut = 0; cut < 2 && d && whole; cut++) {
		CHECK_EQ_INT(pipe(pfd), 0);
		if (fork() == 0) {
			close(pfd[0]);
			_exit(write(pfd[1], d, cut ? len - 12 : len) !=
			      (ssize_t)(cut ? len - 12 : len));
		}
		close(pfd[1]);
		snprintf(name, sizeof(name), "/proc/self/fd/%d", pfd[0]);
		r = datafile__read(name, err, sizeof(err), &trunc);
		close(pfd[0]);
		wait(NULL);
		CHECK(r != NULL);
		CHECK_EQ_INT(trunc, cut); /* the cut drops only the END record */
		if (r)
			check_same(whole, r);
		profile__free(r);
	}
	/* an empty stream */
	CHECK_EQ_INT(pipe(pfd), 0);
	close(pfd[1]);
	snprintf(name, sizeof(name), "/proc/self/fd/%d", pfd[0]);
	CHECK(datafile__read(name, err, sizeof(err), NULL) == NULL);
	CHECK_EQ_STR(err, "empty file");
	close(pfd[0]);
	profile__free(whole);
	free(d);
}

/* Recompute the CRCs so mutations get past the framing into the record parsers. */
static void fix_crcs(unsigned char *d, size_t len)
{
	size_t off = 16;

	while (len - off >= 12 && off < len) {
		uint32_t n =
		    d[off + 4] | d[off + 5] << 8 | d[off + 6] << 16 | (uint32_t)d[off + 7] << 24;

		if (n > len - off - 12)
			break;
		put32(d + off + 8 + n, crc32(crc32(0, Z_NULL, 0), d + off, 8 + n));
		off += 12 + n;
	}
}

static void random_mutations_never_crash_the_reader(void)
{
	static const uint32_t nasty[] = {0,	     1,		 4,	    0xff, 0xffff,
					 0x10000,    0x10001,	 4096,	    4097, 0x100000,
					 0x7fffffff, 0xfffffffe, 0xffffffff};
	size_t len;
	unsigned char *orig = get_file(write_sample("fuzz-orig.data", NULL), &len);
	unsigned char *d = malloc(len + 64);
	int ok = 0, refused = 0;

	for (int iter = 0; orig && d && iter < 2000; iter++) {
		size_t n = len, changes = 1 + rnd() % 4;
		struct profile *r;
		char err[256];
		int trunc;

		memcpy(d, orig, len);
		for (size_t c = 0; c < changes && n > 24; c++) {
			size_t at = 16 + rnd() % (n - 16 - 4);

			switch (rnd() % 5) {
			case 0:
				d[at] ^= 1 << (rnd() % 8);
				break;
			case 1:
				d[at] = rnd();
				break;
			case 2:
				put32(d + at, nasty[rnd() % (sizeof(nasty) / sizeof(nasty[0]))]);
				break;
			case 3:
				n = at + 4;
				break;
			default:
				memmove(d + at, d + at + 1, n - at - 1);
				n--;
				break;
			}
		}
		if (rnd() % 4)
			fix_crcs(d, n);
		put_file(tmp("fuzz.data"), d, n);
		r = datafile__read(path, err, sizeof(err), &trunc);
		ok += r != NULL;
		refused += r == NULL;
		CHECK(r || err[0]);
		profile__free(r);
	}
	fprintf(stderr, "  fuzz: %d read, %d refused\n", ok, refused);
	CHECK(ok + refused == 2000);
	free(orig);
	free(d);
}

static void cleanup(void)
{
	static const char *names[] = {"round.data", "full.data",      "cut.data",  "open.data",
				      "flip.data",  "foreign",	      "empty",	   "v7",
				      "ids1",	    "ids2",	      "ids3",	   "link",
				      "fuzz.data",  "fuzz-orig.data", "long.data", "memlen",
				      "pipe.data"};

	unit_tmp_remove(names, sizeof(names) / sizeof(names[0]));
}

UNIT_MAIN("datafile", UNIT_TEST(recording_reads_back_identical),
	  UNIT_TEST(recording_cut_at_every_length_reads_or_fails_cleanly),
	  UNIT_TEST(recording_without_end_record_is_truncated_but_readable),
	  UNIT_TEST(flipped_byte_in_the_middle_is_corrupt),
	  UNIT_TEST(foreign_empty_and_future_files_are_refused),
	  UNIT_TEST(undefined_ids_are_corrupt),
	  UNIT_TEST(memory_records_must_have_exact_lengths_and_valid_ids),
	  UNIT_TEST(long_strings_are_capped_consistently), UNIT_TEST(writer_reports_full_disk),
	  UNIT_TEST(recording_read_from_a_pipe), UNIT_TEST(random_mutations_never_crash_the_reader),
	  UNIT_TEST(cleanup))
