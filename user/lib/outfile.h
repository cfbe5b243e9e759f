/* Where an output named by -o goes: the one rule for every command (record, live and top
 * recordings, report) and every writer.
 *
 * What is at the path decides how it is written:
 *
 *   "-"                standard output. It is taken over: the output gets a private
 *                      descriptor and descriptor 1 is pointed at standard error, so nothing
 *                      else (a summary, a view, a launched command) can mix into it.
 *   nothing, or a      safe replace: written as PATH.tmp.PID (created exclusively, 0644)
 *   regular file       and renamed over PATH by outfile__commit, so a run that fails before
 *                      then leaves PATH as it was.
 *   a character        written in place: never truncated, replaced or removed. A FIFO
 *   device, a FIFO     without a reader is waited for (open blocks), after a line on stderr
 *                      saying so; Ctrl-C ends the wait.
 *   a unix socket      connected to (SOCK_STREAM) and written.
 *   anything else      refused: a symbolic link (never followed), a directory, a block
 *                      device. A path in a missing directory or on a read-only file system
 *                      fails when the temporary file is created, before anything is traced.
 *
 * With OUTFILE_BINARY a terminal (standard output or a named one) is refused: binary output
 * is unreadable there and can garble it. Nothing ever seeks: every kind takes a stream. */
#ifndef TREEPROF_OUTFILE_H
#define TREEPROF_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum outfile_kind {
	OUTFILE_STDOUT,	  /* "-" */
	OUTFILE_IN_PLACE, /* a character device, FIFO or socket, written where it is */
	OUTFILE_REPLACE,  /* a temporary file renamed over a regular file (or a new name) */
};

enum {
	OUTFILE_BINARY = 1 << 0, /* refuse a terminal */
};

struct outfile;

/* Open the output at path ("-": standard output). NULL with errno set and a one-line reason
 * naming the path in err, e.g. "cannot write x/y: No such file or directory" or "x is a
 * symbolic link: not writing through it". */
struct outfile *outfile__open(const char *path, unsigned flags, char *err, size_t errlen);
/* The descriptor to write to; owned by o (write only, never close it). */
int outfile__fd(const struct outfile *o);
enum outfile_kind outfile__kind(const struct outfile *o);
/* The path, or "standard output", for messages. */
const char *outfile__name(const struct outfile *o);
/* Give a file this run created (OUTFILE_REPLACE) to uid/gid with mode, on the descriptor;
 * anything else (a device, a FIFO, standard output) is left alone. 0 or negative errno. */
int outfile__chown(struct outfile *o, uid_t uid, gid_t gid, mode_t mode);
/* The output may take the old file's place: rename the temporary file over the path
 * (OUTFILE_REPLACE, once; writing may go on afterwards); nothing for other kinds. 0 or
 * negative errno (the temporary file then stays until outfile__close/abort removes it). */
int outfile__commit(struct outfile *o);
/* Sync a regular file and close. A temporary file never committed is removed. 0 or the
 * negative errno of the sync or close. Frees o; takes NULL. */
int outfile__close(struct outfile *o);
/* Give up: close, removing a temporary file never committed (only that). Frees o; takes
 * NULL. */
void outfile__abort(struct outfile *o);

#endif
