/* Reading whole files, bounded: /proc files and other inputs we do not control. */
#ifndef TREEPROF_FILEIO_H
#define TREEPROF_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read all of path (at most max bytes) into a new NUL-terminated buffer: 0 with *buf and
 * *len set (the caller frees *buf), or negative errno (-EFBIG when longer than max). */
int file__read_all(const char *path, size_t max, char **buf, size_t *len);
/* The same from an open descriptor (a pipe, a socket, a file), read to its end; fd stays
 * open. */
int file__read_fd(int fd, size_t max, char **buf, size_t *len);
/* Read at most cap-1 bytes of path into buf, NUL-terminated: bytes read, or -errno. */
ssize_t file__read_small(const char *path, char *buf, size_t cap);

#endif
