/* Bounded, non-blocking output on a file descriptor, for the views that must never block the
 * tracer (a blocked tracer fills the ring buffer and loses samples): live lines, top's
 * frames. What the reader does not take stays in a buffer of a fixed size; what does not
 * fit is refused (-ENOSPC) and the caller decides what to drop.
 *
 * A pipe, terminal or socket is reopened through /proc/self/fd with O_NONBLOCK (a private
 * file description: a launched command sharing the descriptor keeps blocking writes); if
 * that fails the descriptor itself is made non-blocking and its flags are restored by
 * outbuf__free. A regular file is written as is. The caller keeps fd open until
 * outbuf__free. */
#ifndef TREEPROF_UI_OUTBUF_H
#define TREEPROF_UI_OUTBUF_H

#include <stddef.h>

struct outbuf;
/* A buffer of cap bytes on fd: NULL with errno set. */
struct outbuf *outbuf__new(int fd, size_t cap);
/* Append s[0..n) if it fits leaving reserve bytes free, and write what the reader takes.
 * 0, -ENOSPC (nothing appended), or the negative errno of a failed write (-EPIPE: the
 * reader went away); after a write error every call returns it. */
int outbuf__put(struct outbuf *o, const char *s, size_t n, size_t reserve);
/* Write what the reader takes now. 0 or the negative errno of a failed write. */
int outbuf__flush(struct outbuf *o);
/* Wait up to timeout_ms for the reader to take everything; returns the bytes left. */
size_t outbuf__drain(struct outbuf *o, int timeout_ms);
/* Restores the descriptor's flags (or closes the reopened one). Takes NULL. */
void outbuf__free(struct outbuf *o);

#endif
