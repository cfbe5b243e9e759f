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
/* Where treeprof keeps what it derives from the running kernel (symbols, types). */
#define FILE_CACHE_DIR "/var/cache/treeprof"

/* The boot id (/proc/sys/kernel/random/boot_id, no newline): 0, or -errno. */
int file__boot_id(char *buf, size_t cap);
/* Caches of what the kernel gives (symbols, types) live in dir, created 0700 if missing: 0
 * when it is a directory owned by root and not writable by others and we are root (only
 * then is a file in it written or trusted), else -errno. */
int file__root_cache_dir(const char *dir);
/* Open a cache file read-only: a regular file owned by root, not writable by others, not a
 * link. The descriptor, or -errno. */
int file__open_cached(const char *path);

#endif
