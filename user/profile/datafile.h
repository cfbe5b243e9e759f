/* The recording format (treeprof.data): versioned, self-contained, written incrementally.
 *
 * A file is a header followed by records, each framed with its type, length and a CRC32,
 * so a recording cut short (SIGKILL, full disk) is readable up to its last complete record,
 * and a corrupt or foreign file is refused with a one-line reason. The format is described
 * in the comment at the top of datafile.c. */
#ifndef TREEPROF_DATAFILE_H
#define TREEPROF_DATAFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct profile;
struct prof_frame;
struct datafile_writer;

/* Start a recording on fd: writes the header. The writer only appends (never seeks), so fd
 * may be a pipe, a socket or a device as well as a file (outfile.h opens it); fd stays the
 * caller's, to sync and close after datafile__finish. NULL with errno set. */
struct datafile_writer *datafile__new(int fd);
/* Append records (called by profile.c through its journal; usable directly). Records are
 * buffered and reach the file at least every flush. 0 or negative errno; after a write
 * error every later call returns it too. */
int datafile__frame(struct datafile_writer *w, uint32_t id, const struct prof_frame *f);
int datafile__stack(struct datafile_writer *w, uint32_t id, const uint32_t *frames, uint32_t n);
int datafile__proc_start(struct datafile_writer *w, pid_t pid, pid_t ppid, uint64_t ts_ns,
			 const char *comm, const char *cmdline, const char *exe);
int datafile__proc_exec(struct datafile_writer *w, pid_t pid, uint64_t ts_ns, const char *comm,
			const char *cmdline, const char *exe);
int datafile__proc_exit(struct datafile_writer *w, pid_t pid, uint64_t ts_ns, int exit_code);
int datafile__sample(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, pid_t tid, uint32_t cpu,
		     uint32_t stack, uint64_t weight);
int datafile__stat(struct datafile_writer *w, const char *name, uint64_t value);
int datafile__meta(struct datafile_writer *w, const char *key, const char *value);
struct tp_memcounters;
int datafile__mem_alloc(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, pid_t tid,
			uint32_t kind, uint32_t stack, uint64_t addr, uint64_t size, uint64_t rate);
int datafile__mem_free(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, uint32_t kind,
		       uint64_t addr);
int datafile__mem_fork(struct datafile_writer *w, uint64_t ts_ns, pid_t child, pid_t parent);
int datafile__mem_rss(struct datafile_writer *w, uint64_t ts_ns, pid_t pid, uint64_t bytes);
int datafile__mem_counters(struct datafile_writer *w, uint64_t ts_ns, pid_t pid,
			   const struct tp_memcounters *c);
/* Push buffered records to the file (the tracer calls this about once a second). */
int datafile__flush(struct datafile_writer *w);
/* Write the end marker and flush. 0 or negative errno. Frees w either way; the descriptor
 * stays open. Takes NULL. */
int datafile__finish(struct datafile_writer *w);

/* Read a recording into a new profile. NULL on failure with a one-line reason in err
 * ("not a treeprof recording", "unsupported version 7", "corrupt record at offset N"...).
 * A file cut short is read up to its last complete record; *truncated is set to 1 then
 * (truncated may be NULL). path may name a stream (a FIFO, /dev/stdin on a pipe): it is read
 * to its end into memory. */
struct profile *datafile__read(const char *path, char *err, size_t errlen, int *truncated);

#endif
