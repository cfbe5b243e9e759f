/* The recording format (treeprof.data): versioned, self-contained, written incrementally.
 *
 * A file is a header followed by records, each framed with its type, length and a CRC32,
 * so a recording cut short (SIGKILL, full disk) is readable up to its last complete record,
 * and a corrupt or foreign file is refused with a one-line reason. The format is described
 * in the comment at the top of datafile.c.
 *
 * The writer is a profile journal (journal.h): attached to a profile, it writes each change
 * of the profile as a record; the reader replays the records through profile__* calls. */
#ifndef TREEPROF_DATAFILE_H
#define TREEPROF_DATAFILE_H

#include <stddef.h>

struct profile;
struct profile_journal;
struct datafile_writer;

/* Start a recording on fd: writes the header. The writer only appends (never seeks), so fd
 * may be a pipe, a socket or a device as well as a file (outfile.h opens it); fd stays the
 * caller's, to sync and close after datafile__finish. NULL with errno set. */
struct datafile_writer *datafile__new(int fd);
/* The writer as a journal, to attach with profile__set_journal() (or to call directly):
 * valid until datafile__finish(w). Each call appends one record; records are buffered and
 * reach the file at least every flush. 0 or negative errno; after a write error every later
 * call returns it too. */
const struct profile_journal *datafile__journal(struct datafile_writer *w);
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
