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
 *   15    MEM_FINAL   u64 ts_ns, s32 pid (its Python interpreter entered Py_FinalizeEx)
 *   16    MEM_FREE_RANGE u64 ts_ns, s32 pid, u64 addr, u64 len (len > 0, no wrap): the bytes
 *                     [addr, addr + len) of pid's anonymous mappings were unmapped or made
 *                     PROT_NONE; the sampled mappings (kinds 8, 9) there lose those bytes
 *
 * Records 10 to 16 (memory, `record --mem`) were added within version 1: a reader that
 * predates them skips them as unknown types and shows the recording's CPU profile (one
 * that predates 15 alone counts what the interpreter frees while it finalizes, one that
 * predates 16 keeps a mapping unmapped in part, or made PROT_NONE, as held).
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
#include "profile/journal.h"
#include "profile/limits.h"
#include "profile/profile.h"
#include "treeprof.h"

#define DF_MAGIC       "TREEPROF"
#define DF_VERSION     1
#define DF_HDR_LEN     16
#define DF_STR_ABSENT  0xffffffffu
#define DF_PAYLOAD_MAX (1u << 20)
#define DF_BUF_LEN     (256u << 10)
#define DF_STREAM_MAX  ((size_t)1 << 40) /* a recording read from a pipe, in memory */
#define DF_FIELDS_MAX  10		 /* the most fields a payload has (MEM_COUNTERS) */

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
	DF_MEM_FINAL = 15,
	DF_MEM_FREE_RANGE = 16,
	DF_NTYPES
};

/* Each payload field by field, as in the table above: '4' a u32 (or s32), '8' a u64, 's' a
 * string. STACK's frame ids follow its two fields. The writer and the reader both go by it. */
static const char *const layouts[DF_NTYPES] = {
    [DF_META] = "ss",
    [DF_FRAME] = "444ss",
    [DF_STACK] = "44",
    [DF_PROC_START] = "448sss",
    [DF_PROC_EXEC] = "48sss",
    [DF_PROC_EXIT] = "484",
    [DF_SAMPLE] = "844448",
    [DF_STAT] = "s8",
    [DF_END] = "",
    [DF_MEM_ALLOC] = "84444888",
    [DF_MEM_FREE] = "8448",
    [DF_MEM_FORK] = "844",
    [DF_MEM_RSS] = "848",
    [DF_MEM_COUNTERS] = "8488888888",
    [DF_MEM_FINAL] = "84",
    [DF_MEM_FREE_RANGE] = "8488",
};

/* One field of a payload: u for '4' and '8' (a u32 in its low half), s for 's'. */
union field {
	uint64_t u;
	const char *s;
};

struct datafile_writer {
	struct profile_journal journal; /* ctx: this writer */
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
	return s ? strnlen(s, PROFILE_STR_MAX) : 0;
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

/* The size of the fields f laid out as layout. */
static size_t fields_size(const char *layout, const union field *f)
{
	size_t size = 0;

	for (size_t i = 0; layout[i]; i++)
		size += layout[i] == 's' ? 4 + str_len(f[i].s) : (size_t)(layout[i] - '0');
	return size;
}

static void rec_fields(struct datafile_writer *w, const char *layout, const union field *f)
{
	for (size_t i = 0; layout[i]; i++) {
		if (layout[i] == '4')
			rec_u32(w, (uint32_t)f[i].u);
		else if (layout[i] == '8')
			rec_u64(w, f[i].u);
		else
			rec_str(w, f[i].s);
	}
}

/* Append a record of type whose fields are f (as layouts[type] says). */
static int rec_write(struct datafile_writer *w, uint32_t type, const union field *f)
{
	int err = rec_begin(w, type, fields_size(layouts[type], f));

	if (err)
		return err;
	rec_fields(w, layouts[type], f);
	return rec_end(w);
}

/* The journal's calls (ctx: the writer): one record each. Signed values are stored as
 * their u32 bit pattern. */

static int write_frame(void *ctx, uint32_t id, const struct prof_frame *f)
{
	return rec_write(
	    ctx, DF_FRAME,
	    (union field[]){{id}, {f->kind}, {f->line}, {.s = f->name}, {.s = f->file}});
}

static int write_stack(void *ctx, uint32_t id, const uint32_t *frames, uint32_t n)
{
	struct datafile_writer *w = ctx;
	int err;

	if (n > PROFILE_STACK_MAX)
		return -E2BIG;
	err = rec_begin(w, DF_STACK, 8 + (size_t)n * 4);
	if (err)
		return err;
	rec_fields(w, layouts[DF_STACK], (union field[]){{id}, {n}});
	for (uint32_t i = 0; i < n; i++)
		rec_u32(w, frames[i]);
	return rec_end(w);
}

static int write_proc_start(void *ctx, pid_t pid, pid_t ppid, uint64_t ts_ns, const char *comm,
			    const char *cmdline, const char *exe)
{
	return rec_write(ctx, DF_PROC_START,
			 (union field[]){{(uint32_t)pid},
					 {(uint32_t)ppid},
					 {ts_ns},
					 {.s = comm},
					 {.s = cmdline},
					 {.s = exe}});
}

static int write_proc_exec(void *ctx, pid_t pid, uint64_t ts_ns, const char *comm,
			   const char *cmdline, const char *exe)
{
	return rec_write(
	    ctx, DF_PROC_EXEC,
	    (union field[]){{(uint32_t)pid}, {ts_ns}, {.s = comm}, {.s = cmdline}, {.s = exe}});
}

static int write_proc_exit(void *ctx, pid_t pid, uint64_t ts_ns, int exit_code)
{
	return rec_write(ctx, DF_PROC_EXIT,
			 (union field[]){{(uint32_t)pid}, {ts_ns}, {(uint32_t)exit_code}});
}

/* One record per CPU sample, the hot path: written field by field rather than through the
 * layout table (the same fields, layouts[DF_SAMPLE]), which costs a loop per field. */
static int write_sample(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu,
			uint32_t stack, uint64_t weight)
{
	struct datafile_writer *w = ctx;
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

static int write_stat(void *ctx, const char *name, uint64_t value)
{
	return rec_write(ctx, DF_STAT, (union field[]){{.s = name}, {value}});
}

static int write_meta(void *ctx, const char *key, const char *value)
{
	return rec_write(ctx, DF_META, (union field[]){{.s = key}, {.s = value}});
}

static int write_mem_alloc(void *ctx, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t kind,
			   uint32_t stack, uint64_t addr, uint64_t size, uint64_t rate)
{
	return rec_write(ctx, DF_MEM_ALLOC,
			 (union field[]){{ts_ns},
					 {(uint32_t)pid},
					 {(uint32_t)tid},
					 {kind},
					 {stack},
					 {addr},
					 {size},
					 {rate}});
}

static int write_mem_free(void *ctx, uint64_t ts_ns, pid_t pid, uint32_t kind, uint64_t addr)
{
	return rec_write(ctx, DF_MEM_FREE,
			 (union field[]){{ts_ns}, {(uint32_t)pid}, {kind}, {addr}});
}

static int write_mem_free_range(void *ctx, uint64_t ts_ns, pid_t pid, uint64_t addr, uint64_t len)
{
	return rec_write(ctx, DF_MEM_FREE_RANGE,
			 (union field[]){{ts_ns}, {(uint32_t)pid}, {addr}, {len}});
}

static int write_mem_fork(void *ctx, uint64_t ts_ns, pid_t child, pid_t parent)
{
	return rec_write(ctx, DF_MEM_FORK,
			 (union field[]){{ts_ns}, {(uint32_t)child}, {(uint32_t)parent}});
}

static int write_mem_rss(void *ctx, uint64_t ts_ns, pid_t pid, uint64_t bytes)
{
	return rec_write(ctx, DF_MEM_RSS, (union field[]){{ts_ns}, {(uint32_t)pid}, {bytes}});
}

static int write_mem_final(void *ctx, uint64_t ts_ns, pid_t pid)
{
	return rec_write(ctx, DF_MEM_FINAL, (union field[]){{ts_ns}, {(uint32_t)pid}});
}

static int write_mem_counters(void *ctx, uint64_t ts_ns, pid_t pid, const struct tp_memcounters *c)
{
	return rec_write(ctx, DF_MEM_COUNTERS,
			 (union field[]){{ts_ns},
					 {(uint32_t)pid},
					 {c->alloc_count},
					 {c->alloc_bytes},
					 {c->free_count},
					 {c->failed},
					 {c->in_use},
					 {c->peak_in_use},
					 {c->sampled},
					 {c->rate}});
}

struct datafile_writer *datafile__new(int fd)
{
	unsigned char hdr[DF_HDR_LEN];
	struct datafile_writer *w;
	int err;

	w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	w->journal = (struct profile_journal){
	    .ctx = w,
	    .frame = write_frame,
	    .stack = write_stack,
	    .proc_start = write_proc_start,
	    .proc_exec = write_proc_exec,
	    .proc_exit = write_proc_exit,
	    .sample = write_sample,
	    .stat = write_stat,
	    .meta = write_meta,
	    .mem_alloc = write_mem_alloc,
	    .mem_free = write_mem_free,
	    .mem_free_range = write_mem_free_range,
	    .mem_fork = write_mem_fork,
	    .mem_rss = write_mem_rss,
	    .mem_final = write_mem_final,
	    .mem_counters = write_mem_counters,
	};
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

const struct profile_journal *datafile__journal(struct datafile_writer *w)
{
	return &w->journal;
}

int datafile__finish(struct datafile_writer *w)
{
	int err = 0;

	if (!w)
		return 0;
	err = rec_write(w, DF_END, NULL);
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
	char *scratch; /* 3 strings of up to PROFILE_STR_MAX bytes plus a NUL each */
	int nstr;
};

static uint32_t get_u32_raw(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t get_u32(struct cursor *c)
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

static inline uint64_t get_u64(struct cursor *c)
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
	if (n > PROFILE_STR_MAX || n > c->left || c->nstr >= 3 || memchr(c->p, 0, n)) {
		c->bad = true;
		return NULL;
	}
	s = c->scratch + (size_t)c->nstr++ * (PROFILE_STR_MAX + 1);
	memcpy(s, c->p, n);
	s[n] = 0;
	c->p += n;
	c->left -= n;
	return s;
}

/* Read the fields of layout into f; c->bad says whether they were all there. */
static void get_fields(struct cursor *c, const char *layout, union field *f)
{
	for (size_t i = 0; layout[i]; i++) {
		if (layout[i] == '4')
			f[i].u = get_u32(c);
		else if (layout[i] == '8')
			f[i].u = get_u64(c);
		else
			f[i].s = get_str(c);
	}
}

/* Read the whole payload of a record of type into f: false when it is malformed (a field
 * cut short, a bad string, bytes left over). */
static bool get_record(struct cursor *c, uint32_t type, union field *f)
{
	get_fields(c, layouts[type], f);
	return !c->bad && !c->left;
}

/* A signed 32-bit field (pid, exit status) from its stored bit pattern. */
static int32_t s32(const union field *f)
{
	return (int32_t)(uint32_t)f->u;
}

static int replay_frame(struct profile *p, struct cursor *c)
{
	struct prof_frame fr;
	union field f[5];
	uint32_t got;
	int err;

	if (!get_record(c, DF_FRAME, f))
		return -EBADMSG;
	fr = (struct prof_frame){.line = f[2].u, .name = f[3].s, .file = f[4].s};
	if (!fr.name || f[1].u < FRAME_PYTHON || f[1].u > FRAME_KERNEL ||
	    f[0].u != profile__nframes(p))
		return -EBADMSG;
	fr.kind = f[1].u;
	err = profile__frame(p, &fr, &got);
	return err ? err : got == f[0].u ? 0 : -EBADMSG;
}

/* The frame ids follow the two fields (id, n) in c; ids has room for PROFILE_STACK_MAX. */
static int replay_stack(struct profile *p, struct cursor *c, uint32_t *ids)
{
	union field f[2];
	uint32_t n, got;
	int err;

	get_fields(c, layouts[DF_STACK], f);
	n = f[1].u;
	if (c->bad || n > PROFILE_STACK_MAX || c->left != (size_t)n * 4 ||
	    f[0].u != profile__nstacks(p))
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++)
		ids[i] = get_u32(c);
	err = profile__stack(p, ids, n, &got);
	if (err == -EINVAL)
		return -EBADMSG;
	return err ? err : got == f[0].u ? 0 : -EBADMSG;
}

/* The hot path, as write_sample: read field by field (layouts[DF_SAMPLE]). */
static int replay_sample(struct profile *p, struct cursor *c)
{
	uint64_t ts = get_u64(c);
	int32_t pid = get_u32(c);
	int32_t tid = get_u32(c);
	uint32_t cpu = get_u32(c);
	uint32_t stack = get_u32(c);
	uint64_t weight = get_u64(c);

	if (c->bad || c->left || stack >= profile__nstacks(p))
		return -EBADMSG;
	return profile__sample(p, ts, pid, tid, cpu, stack, weight);
}

/* Replay one memory record into p: 0, -EBADMSG or -EINVAL (malformed), or -ENOMEM. */
static int replay_mem(struct profile *p, uint32_t type, struct cursor *c)
{
	union field f[DF_FIELDS_MAX];
	struct tp_memcounters mc;

	switch (type) {
	case DF_MEM_ALLOC:
		if (!get_record(c, DF_MEM_ALLOC, f) || f[4].u >= profile__nstacks(p))
			return -EBADMSG;
		return profile__mem_alloc(p, f[0].u, s32(&f[1]), s32(&f[2]), f[3].u, f[5].u, f[6].u,
					  f[7].u, f[4].u);
	case DF_MEM_FREE:
		if (!get_record(c, DF_MEM_FREE, f))
			return -EBADMSG;
		return profile__mem_free(p, f[0].u, s32(&f[1]), f[2].u, f[3].u);
	case DF_MEM_FREE_RANGE:
		if (!get_record(c, DF_MEM_FREE_RANGE, f))
			return -EBADMSG;
		return profile__mem_free_range(p, f[0].u, s32(&f[1]), f[2].u, f[3].u);
	case DF_MEM_FORK:
		if (!get_record(c, DF_MEM_FORK, f))
			return -EBADMSG;
		return profile__mem_fork(p, f[0].u, s32(&f[1]), s32(&f[2]));
	case DF_MEM_RSS:
		if (!get_record(c, DF_MEM_RSS, f))
			return -EBADMSG;
		return profile__mem_rss(p, f[0].u, s32(&f[1]), f[2].u);
	case DF_MEM_FINAL:
		if (!get_record(c, DF_MEM_FINAL, f))
			return -EBADMSG;
		return profile__mem_final(p, f[0].u, s32(&f[1]));
	default:
		if (!get_record(c, DF_MEM_COUNTERS, f))
			return -EBADMSG;
		mc = (struct tp_memcounters){f[2].u, f[3].u, f[4].u, f[5].u,
					     f[6].u, f[7].u, f[8].u, f[9].u};
		return profile__mem_counters(p, f[0].u, s32(&f[1]), &mc);
	}
}

/* Replay one record into p. 0, -EBADMSG for a malformed record, or another negative errno. */
static int replay(struct profile *p, uint32_t type, struct cursor *c, uint32_t *ids)
{
	union field f[DF_FIELDS_MAX];
	int err;

	switch (type) {
	case DF_META:
		if (!get_record(c, DF_META, f) || !f[0].s || !f[1].s)
			return -EBADMSG;
		return profile__set_meta(p, f[0].s, f[1].s);
	case DF_FRAME:
		return replay_frame(p, c);
	case DF_STACK:
		return replay_stack(p, c, ids);
	case DF_PROC_START:
		if (!get_record(c, DF_PROC_START, f))
			return -EBADMSG;
		return profile__proc_start(p, s32(&f[0]), s32(&f[1]), f[2].u, f[3].s, f[4].s,
					   f[5].s);
	case DF_PROC_EXEC:
		if (!get_record(c, DF_PROC_EXEC, f))
			return -EBADMSG;
		return profile__proc_exec(p, s32(&f[0]), f[1].u, f[2].s, f[3].s, f[4].s);
	case DF_PROC_EXIT:
		if (!get_record(c, DF_PROC_EXIT, f))
			return -EBADMSG;
		return profile__proc_exit(p, s32(&f[0]), f[1].u, s32(&f[2]));
	case DF_SAMPLE:
		return replay_sample(p, c);
	case DF_STAT:
		if (!get_record(c, DF_STAT, f) || !f[0].s)
			return -EBADMSG;
		return profile__set_stat(p, f[0].s, f[1].u);
	case DF_END:
		return c->left ? -EBADMSG : 0;
	case DF_MEM_ALLOC:
	case DF_MEM_FREE:
	case DF_MEM_FORK:
	case DF_MEM_RSS:
	case DF_MEM_COUNTERS:
	case DF_MEM_FINAL:
	case DF_MEM_FREE_RANGE:
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

	c.scratch = malloc(3 * (PROFILE_STR_MAX + 1));
	ids = malloc(PROFILE_STACK_MAX * sizeof(*ids));
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
