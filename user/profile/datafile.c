/* The recording format, version 1.
 *
 * All integers are little-endian and fixed-width. A file is:
 *
 *   header   "TREEPROF" (8 bytes), u32 version (1), u32 flags (0, reserved)
 *   records  u32 type, u32 length, payload (length bytes), u32 CRC32
 *
 * The CRC32 (zlib's) covers type, length and payload. A string is a u32 length and that
 * many bytes, no terminator, no NUL inside; length 0xffffffff means "absent" (NULL).
 * Strings are at most 64 KiB, stacks at most 4096 frames, payloads at most 1 MiB.
 *
 *   type  record      payload
 *   1     META        str key, str value
 *   2     FRAME       u32 id, u32 kind, u32 line, str name, str file (may be absent)
 *   3     STACK       u32 id, u32 n, u32 frame_id[n] (root first)
 *   4     PROC_START  s32 pid, s32 ppid, u64 ts_ns, str comm, str cmdline, str exe
 *   5     PROC_EXEC   s32 pid, u64 ts_ns, str comm, str cmdline, str exe
 *   6     PROC_EXIT   s32 pid, u64 ts_ns, s32 exit_code (wait status)
 *   7     SAMPLE      u64 ts_ns, s32 pid, s32 tid, u32 cpu, u32 stack_id, u64 weight
 *   8     STAT        str name, u64 value
 *   9     END         (empty); nothing may follow it
 *   10    MEM_ALLOC   u64 ts_ns, s32 pid, s32 tid, u32 kind, u32 stack_id, u64 addr, u64 size,
 *                     u64 rate (kind: an allocation kind of enum tp_mem_kind, 1 to 9)
 *   11    MEM_FREE    u64 ts_ns, s32 pid, u32 kind (TP_MEM_FREE 16 or TP_MEM_MUNMAP 17),
 *                     u64 addr
 *   12    MEM_FORK    u64 ts_ns, s32 child, s32 parent (child holds a copy of parent's heap)
 *   13    MEM_RSS     u64 ts_ns, s32 pid, u64 bytes (resident set size)
 *   14    MEM_COUNTERS u64 ts_ns, s32 pid, 8 x u64: struct tp_memcounters in field order
 *                     (alloc_count, alloc_bytes, free_count, failed, in_use, peak_in_use,
 *                     sampled, rate); each replaces the process's previous totals
 *
 * Records 10 to 14 (memory, `record --mem`) were added within version 1: a reader that
 * predates them skips them as unknown types and shows the recording's CPU profile.
 *
 * Records come in the order the profile received them, and a reader replays them through
 * the profile__* calls. Frame and stack ids are dense and defined before use: a FRAME or
 * STACK record carries the next id, and anything referring to an undefined id is corrupt.
 * A reader skips record types it does not know (their CRC must still match).
 *
 * The writer buffers whole records and writes only whole records, so a recording cut short
 * ends at a record boundary (or inside the last one if the disk filled): the reader keeps
 * every complete record and reports the file as truncated. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "profile/datafile.h"
#include "lib/fileio.h"
#include "profile/profile.h"
#include "treeprof.h"

#define DF_MAGIC       "TREEPROF"
#define DF_VERSION     1
#define DF_HDR_LEN     16
#define DF_STR_MAX     65536
#define DF_STR_ABSENT  0xffffffffu
#define DF_STACK_MAX   4096
#define DF_PAYLOAD_MAX (1u << 20)
#define DF_BUF_LEN     (256u << 10)
#define DF_STREAM_MAX  ((size_t)1 << 40) /* a recording read from a pipe, in memory */

enum df_type {
	DF_META = 1,
	DF_FRAME = 2,
	DF_STACK = 3,
	DF_PROC_START = 4,
	DF_PROC_EXEC = 5,
	DF_PROC_EXIT = 6,
	DF_SAMPLE = 7,
	DF_STAT = 8,
	DF_END = 9,
	DF_MEM_ALLOC = 10,
	DF_MEM_FREE = 11,
	DF_MEM_FORK = 12,
	DF_MEM_RSS = 13,
	DF_MEM_COUNTERS = 14,
};

struct datafile_writer {
	int fd;
	int err; /* sticky: the first write error */
	size_t len, rec_start;
	unsigned char buf[DF_BUF_LEN];
};

/* ---- writer: appends only, never seeks, so any stream (a pipe, a socket) takes it ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static size_t str_len(const char *s)
{
	return s ? strnlen(s, DF_STR_MAX) : 0;
}

static size_t str_size(const char *s)
{
	return 4 + str_len(s);
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

int datafile__flush(struct datafile_writer *w)
{
	int err;

	if (w->err)
		return w->err;
	err = write_all(w->fd, w->buf, w->len);
	if (err)
		w->err = err;
	w->len = 0;
	return err;
}

/* Start a record of the given payload size; make room for it (flushing if needed). */
static int rec_begin(struct datafile_writer *w, uint32_t type, size_t payload)
{
	int err;

	if (w->err)
		return w->err;
	if (payload > DF_PAYLOAD_MAX || payload + 12 > sizeof(w->buf))
		return -E2BIG;
	if (w->len + payload + 12 > sizeof(w->buf)) {
		err = datafile__flush(w);
		if (err)
			return err;
	}
	w->rec_start = w->len;
	put_u32(w->buf + w->len, type);
	put_u32(w->buf + w->len + 4, (uint32_t)payload);
	w->len += 8;
	return 0;
}

static int rec_end(struct datafile_writer *w)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, w->buf + w->rec_start, w->len - w->rec_start);
	put_u32(w->buf + w->len, (uint32_t)crc);
	w->len += 4;
	return 0;
}

static void rec_u32(struct datafile_writer *w, uint32_t v)
{
	put_u32(w->buf + w->len, v);
	w->len += 4;
}

static void rec_u64(struct datafile_writer *w, uint64_t v)
{
	put_u64(w->buf + w->len, v);
	w->len += 8;
}

static void rec_str(struct datafile_writer *w, const char *s)
{
	size_t n = str_len(s);

	rec_u32(w, s ? (uint32_t)n : DF_STR_ABSENT);
	memcpy(w->buf + w->len, s ? s : "", n);
	w->len += n;
}

struct datafile_writer *datafile__new(int fd)
{
	unsigned char hdr[DF_HDR_LEN];
	struct datafile_writer *w;
	int err;

	w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	w->err = 0;
	w->len = 0;
	w->fd = fd;
	memcpy(hdr, DF_MAGIC, 8);
	put_u32(hdr + 8, DF_VERSION);
	put_u32(hdr + 12, 0);
	err = write_all(w->fd, hdr, sizeof(hdr));
	if (err) {
		free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

int datafile__frame(struct datafile_writer *w, uint32_t id, const struct prof_frame *f)
{
	int err = rec_begin(w, DF_FRAME, 12 + str_size(f->name) + str_size(f->file));

	if (err)
		return err;
	rec_u32(w, id);
	rec_u32(w, f->kind);
	rec_u32(w, f->line);
	rec_str(w, f->name);
	rec_str(w, f->file);
	return rec_end(w);
}

int datafile__stack(struct datafile_writer *w, uint32_t id, const uint32_t *frames, uint32_t n)
{
	int err;

	if (n > DF_STACK_MAX)
		return -E2BIG;
	err = rec_begin(w, DF_STACK, 8 + (size_t)n * 4);
	if (err)
		return err;
	rec_u32(w, id);
	rec_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		rec_u32(w, frames[i]);
	return rec_end(w);
}

int datafile__proc_start(struct datafile_writer *w, pid_t pid, pid_t ppid, uint64_t ts_ns,
			 const char *comm, const char *cmdline, const char *exe)
{
	int err =
	    rec_begin(w, DF_PROC_START, 16 + str_size(comm) + str_size(cmdline) + str_size(exe));

	if (err)
		return err;
	rec_u32(w, (uint32_t)pid);
	rec_u32(w, (uint32_t)ppid);
	rec_u64(w, ts_ns);
	rec_str(w, comm);
	rec_str(w, cmdline);
	rec_str(w, exe);
	return rec_end(w);
}

int datafile__proc_exec(struct datafile_writer *w, pid_t pid, uint64_t ts_ns, const char *comm,
			const char *cmdline, const char *exe)
{
	int err =
	    rec_begin(w, DF_PROC_EXEC, 12 + str_size(comm) + str_size(cmdline) + str_size(exe));

	if (err)
		return err;
	rec_u32(w, (uint32_t)pid);
	rec_u64(w, ts_ns);
	rec_str(w, comm);
	rec_str(w, cmdline);
	rec_str(w, exe);
	return rec_end(w);
}

int datafile__proc_exit(struct datafile_writer *w, pid_t pid, uint64_t ts_ns, int exit_code)
{
	int err = rec_begin(w, DF_PROC_EXIT, 16);

	if (err)
		return err;
	rec_u32(w, (uint32_t)pid);
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)exit_code);
	return rec_end(w);
}

int datafile__sample(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu,
		     uint32_t stack, uint64_t weight)
{
	int err = rec_begin(w, DF_SAMPLE, 32);

	if (err)
		return err;
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)pid);
	rec_u32(w, (uint32_t)tid);
	rec_u32(w, cpu);
	rec_u32(w, stack);
	rec_u64(w, weight);
	return rec_end(w);
}

int datafile__stat(struct datafile_writer *w, const char *name, uint64_t value)
{
	int err = rec_begin(w, DF_STAT, str_size(name) + 8);

	if (err)
		return err;
	rec_str(w, name);
	rec_u64(w, value);
	return rec_end(w);
}

int datafile__meta(struct datafile_writer *w, const char *key, const char *value)
{
	int err = rec_begin(w, DF_META, str_size(key) + str_size(value));

	if (err)
		return err;
	rec_str(w, key);
	rec_str(w, value);
	return rec_end(w);
}

int datafile__mem_alloc(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, pid_t tid,
			uint32_t kind, uint32_t stack, uint64_t addr, uint64_t size, uint64_t rate)
{
	int err = rec_begin(w, DF_MEM_ALLOC, 48);

	if (err)
		return err;
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)pid);
	rec_u32(w, (uint32_t)tid);
	rec_u32(w, kind);
	rec_u32(w, stack);
	rec_u64(w, addr);
	rec_u64(w, size);
	rec_u64(w, rate);
	return rec_end(w);
}

int datafile__mem_free(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, uint32_t kind,
		       uint64_t addr)
{
	int err = rec_begin(w, DF_MEM_FREE, 24);

	if (err)
		return err;
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)pid);
	rec_u32(w, kind);
	rec_u64(w, addr);
	return rec_end(w);
}

int datafile__mem_fork(struct datafile_writer *w, uint64_t ts_ns, pid_t child, pid_t parent)
{
	int err = rec_begin(w, DF_MEM_FORK, 16);

	if (err)
		return err;
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)child);
	rec_u32(w, (uint32_t)parent);
	return rec_end(w);
}

int datafile__mem_rss(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, uint64_t bytes)
{
	int err = rec_begin(w, DF_MEM_RSS, 20);

	if (err)
		return err;
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)pid);
	rec_u64(w, bytes);
	return rec_end(w);
}

int datafile__mem_counters(struct datafile_writer *w, uint64_t ts_ns, pid_t pid,
			   const struct tp_memcounters *c)
{
	int err = rec_begin(w, DF_MEM_COUNTERS, 12 + 8 * 8);

	if (err)
		return err;
	rec_u64(w, ts_ns);
	rec_u32(w, (uint32_t)pid);
	rec_u64(w, c->alloc_count);
	rec_u64(w, c->alloc_bytes);
	rec_u64(w, c->free_count);
	rec_u64(w, c->failed);
	rec_u64(w, c->in_use);
	rec_u64(w, c->peak_in_use);
	rec_u64(w, c->sampled);
	rec_u64(w, c->rate);
	return rec_end(w);
}

int datafile__finish(struct datafile_writer *w)
{
	int err = 0;

	if (!w)
		return 0;
	err = rec_begin(w, DF_END, 0);
	if (!err)
		err = rec_end(w);
	if (!err)
		err = datafile__flush(w);
	free(w);
	return err;
}

/* ---- reader: every byte is untrusted ---- */

struct cursor {
	const unsigned char *p;
	size_t left;
	bool bad;
	char *scratch; /* 3 strings of up to DF_STR_MAX bytes plus a NUL each */
	int nstr;
};

static uint32_t get_u32_raw(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t get_u32(struct cursor *c)
{
	uint32_t v;

	if (c->bad || c->left < 4) {
		c->bad = true;
		return 0;
	}
	v = get_u32_raw(c->p);
	c->p += 4;
	c->left -= 4;
	return v;
}

static uint64_t get_u64(struct cursor *c)
{
	uint64_t lo = get_u32(c);

	return lo | (uint64_t)get_u32(c) << 32;
}

/* The next string, NUL-terminated in scratch, or NULL if absent (or bad). */
static const char *get_str(struct cursor *c)
{
	uint32_t n = get_u32(c);
	char *s;

	if (c->bad || n == DF_STR_ABSENT)
		return NULL;
	if (n > DF_STR_MAX || n > c->left || c->nstr >= 3 || memchr(c->p, 0, n)) {
		c->bad = true;
		return NULL;
	}
	s = c->scratch + (size_t)c->nstr++ * (DF_STR_MAX + 1);
	memcpy(s, c->p, n);
	s[n] = 0;
	c->p += n;
	c->left -= n;
	return s;
}

/* Replay one memory record into p: 0, -EBADMSG or -EINVAL (malformed), or -ENOMEM. */
static int replay_mem(struct profile *p, uint32_t type, struct cursor *c)
{
	uint64_t ts = get_u64(c), addr, size, rate;
	int32_t pid = get_u32(c), tid;
	struct tp_memcounters mc;
	uint32_t kind, stack;

	switch (type) {
	case DF_MEM_ALLOC:
		tid = get_u32(c);
		kind = get_u32(c);
		stack = get_u32(c);
		addr = get_u64(c);
		size = get_u64(c);
		rate = get_u64(c);
		if (c->bad || c->left || stack >= profile__nstacks(p))
			return -EBADMSG;
		return profile__mem_alloc(p, ts, pid, tid, kind, addr, size, rate, stack);
	case DF_MEM_FREE:
		kind = get_u32(c);
		addr = get_u64(c);
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__mem_free(p, ts, pid, kind, addr);
	case DF_MEM_FORK:
		tid = get_u32(c); /* the parent */
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__mem_fork(p, ts, pid, tid);
	case DF_MEM_RSS:
		size = get_u64(c);
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__mem_rss(p, ts, pid, size);
	default:
		mc.alloc_count = get_u64(c);
		mc.alloc_bytes = get_u64(c);
		mc.free_count = get_u64(c);
		mc.failed = get_u64(c);
		mc.in_use = get_u64(c);
		mc.peak_in_use = get_u64(c);
		mc.sampled = get_u64(c);
		mc.rate = get_u64(c);
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__mem_counters(p, ts, pid, &mc);
	}
}

/* Replay one record into p. 0, -EBADMSG for a malformed record, or another negative errno. */
static int replay(struct profile *p, uint32_t type, struct cursor *c, uint32_t *ids)
{
	const char *a, *b, *d;
	struct prof_frame f;
	uint32_t id, got, n;
	uint64_t ts, v;
	int32_t pid, ppid, tid;
	int err = 0;

	switch (type) {
	case DF_META:
		a = get_str(c);
		b = get_str(c);
		if (c->bad || c->left || !a || !b)
			return -EBADMSG;
		return profile__set_meta(p, a, b);
	case DF_FRAME:
		id = get_u32(c);
		n = get_u32(c);
		f.line = get_u32(c);
		f.name = get_str(c);
		f.file = get_str(c);
		if (c->bad || c->left || !f.name || n < FRAME_PYTHON || n > FRAME_KERNEL ||
		    id != profile__nframes(p))
			return -EBADMSG;
		f.kind = n;
		err = profile__frame(p, &f, &got);
		return err ? err : got == id ? 0 : -EBADMSG;
	case DF_STACK:
		id = get_u32(c);
		n = get_u32(c);
		if (c->bad || n > DF_STACK_MAX || c->left != (size_t)n * 4 ||
		    id != profile__nstacks(p))
			return -EBADMSG;
		for (uint32_t i = 0; i < n; i++)
			ids[i] = get_u32(c);
		err = profile__stack(p, ids, n, &got);
		if (err == -EINVAL)
			return -EBADMSG;
		return err ? err : got == id ? 0 : -EBADMSG;
	case DF_PROC_START:
		pid = get_u32(c);
		ppid = get_u32(c);
		ts = get_u64(c);
		a = get_str(c);
		b = get_str(c);
		d = get_str(c);
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__proc_start(p, pid, ppid, ts, a, b, d);
	case DF_PROC_EXEC:
		pid = get_u32(c);
		ts = get_u64(c);
		a = get_str(c);
		b = get_str(c);
		d = get_str(c);
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__proc_exec(p, pid, ts, a, b, d);
	case DF_PROC_EXIT:
		pid = get_u32(c);
		ts = get_u64(c);
		n = get_u32(c);
		if (c->bad || c->left)
			return -EBADMSG;
		return profile__proc_exit(p, pid, ts, (int32_t)n);
	case DF_SAMPLE:
		ts = get_u64(c);
		pid = get_u32(c);
		tid = get_u32(c);
		n = get_u32(c);
		id = get_u32(c);
		v = get_u64(c);
		if (c->bad || c->left || id >= profile__nstacks(p))
			return -EBADMSG;
		return profile__sample(p, ts, pid, tid, n, id, v);
	case DF_STAT:
		a = get_str(c);
		v = get_u64(c);
		if (c->bad || c->left || !a)
			return -EBADMSG;
		return profile__set_stat(p, a, v);
	case DF_END:
		return c->left ? -EBADMSG : 0;
	case DF_MEM_ALLOC:
	case DF_MEM_FREE:
	case DF_MEM_FORK:
	case DF_MEM_RSS:
	case DF_MEM_COUNTERS:
		err = replay_mem(p, type, c);
		return err == -EINVAL ? -EBADMSG : err;
	default:
		return 0; /* a type added later: skipped */
	}
}

/* Walk the records of a mapped file into p. 0 or -1 with a message in err. */
static int read_records(struct profile *p, const unsigned char *data, size_t size, char *err,
			size_t errlen, int *truncated)
{
	struct cursor c = {0};
	uint32_t *ids = NULL;
	size_t off = DF_HDR_LEN;
	bool ended = false;
	int ret = -1, e;

	c.scratch = malloc(3 * (DF_STR_MAX + 1));
	ids = malloc(DF_STACK_MAX * sizeof(*ids));
	if (!c.scratch || !ids) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (off < size && !ended) {
		uint32_t type, len;
		uLong crc;

		if (size - off < 8)
			break; /* a record cut inside its header */
		type = get_u32_raw(data + off);
		len = get_u32_raw(data + off + 4);
		if (len > DF_PAYLOAD_MAX) {
			snprintf(err, errlen, "corrupt record at offset %zu", off);
			goto out;
		}
		if (size - off - 8 < (size_t)len + 4)
			break; /* the last record, cut short */
		crc = crc32(crc32(0L, Z_NULL, 0), data + off, 8 + len);
		if ((uint32_t)crc != get_u32_raw(data + off + 8 + len)) {
			snprintf(err, errlen, "corrupt record at offset %zu", off);
			goto out;
		}
		c.p = data + off + 8;
		c.left = len;
		c.bad = false;
		c.nstr = 0;
		e = replay(p, type, &c, ids);
		if (e == -ENOMEM) {
			snprintf(err, errlen, "out of memory reading record at offset %zu", off);
			goto out;
		}
		if (e) {
			snprintf(err, errlen, "corrupt record at offset %zu", off);
			goto out;
		}
		ended = type == DF_END;
		off += 12 + (size_t)len;
	}
	if (ended && off != size) {
		snprintf(err, errlen, "corrupt record at offset %zu (data after the end record)",
			 off);
		goto out;
	}
	if (!ended && truncated)
		*truncated = 1;
	ret = 0;
out:
	free(c.scratch);
	free(ids);
	return ret;
}

/* The whole recording at fd (fstat'ed as *st): mapped when it is a regular file, read into
 * memory when it is a stream (a pipe, /dev/stdin, a FIFO). 0 or negative errno. */
static int load(int fd, const struct stat *st, const unsigned char **data, size_t *size,
		bool *mapped)
{
	char *buf;
	void *m;
	int err;

	*mapped = S_ISREG(st->st_mode);
	if (*mapped) {
		*size = st->st_size;
		if (!*size)
			return 0;
		m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			return -errno;
		*data = m;
		return 0;
	}
	err = file__read_fd(fd, DF_STREAM_MAX, &buf, size);
	if (err)
		return err;
	*data = (const unsigned char *)buf;
	return 0;
}

struct profile *datafile__read(const char *path, char *err, size_t errlen, int *truncated)
{
	const unsigned char *data = NULL;
	struct profile *p = NULL;
	bool mapped = false;
	struct stat st;
	size_t size = 0;
	int fd, e = 0;

	if (truncated)
		*truncated = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		goto out;
	}
	if (fstat(fd, &st)) {
		e = errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(e));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		e = EISDIR;
		snprintf(err, errlen, "%s is a directory", path);
		goto out;
	}
	e = -load(fd, &st, &data, &size, &mapped);
	if (e) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		goto out;
	}
	if (size == 0) {
		e = ENODATA;
		snprintf(err, errlen, "empty file");
		goto out;
	}
	if (memcmp(data, DF_MAGIC, size < 8 ? size : 8) != 0) {
		e = EINVAL;
		snprintf(err, errlen, "not a treeprof recording");
		goto out;
	}
	if (size < DF_HDR_LEN) {
		e = EINVAL;
		snprintf(err, errlen, "truncated recording: header cut short");
		goto out;
	}
	if (get_u32_raw(data + 8) != DF_VERSION) {
		e = EINVAL;
		snprintf(err, errlen, "unsupported recording version %u", get_u32_raw(data + 8));
		goto out;
	}
	p = profile__new();
	if (!p) {
		e = ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (read_records(p, data, size, err, errlen, truncated)) {
		profile__free(p);
		p = NULL;
		e = EINVAL;
	}
out:
	if (data && mapped)
		munmap((void *)data, size);
	else if (data)
		free((void *)data);
	if (fd >= 0)
		close(fd);
	if (!p)
		errno = e;
	return p;
}
