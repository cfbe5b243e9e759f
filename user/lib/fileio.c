// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"

int file__read_all(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = file__read_fd(fd, max, out, outlen);
	close(fd);
	return err;
}

int file__read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap = 64 << 10;
	char *buf = NULL, *tmp;
	int err = 0;
	ssize_t r;

	for (;;) {
		if (!buf || len + 1 >= cap) {
			if (buf && cap > max) {
				err = -EFBIG;
				break;
			}
			tmp = realloc(buf, buf ? cap * 2 : cap);
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			cap = buf ? cap * 2 : cap;
			buf = tmp;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		len += r;
		if (len > max) {
			err = -EFBIG;
			break;
		}
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = 0;
	*out = buf;
	*outlen = len;
	return 0;
}

ssize_t file__read_small(const char *path, char *buf, size_t cap)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < cap - 1) {
		n = read(fd, buf + total, cap - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				total = -errno;
			break;
		}
		total += n;
	}
	close(fd);
	if (total >= 0)
		buf[total] = 0;
	return total;
}

int file__boot_id(char *buf, size_t cap)
{
	ssize_t n = file__read_small("/proc/sys/kernel/random/boot_id", buf, cap);

	if (n < 32)
		return n < 0 ? (int)n : -ENOENT;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int file__root_cache_dir(const char *dir)
{
	struct stat st;

	if (geteuid() != 0)
		return -EPERM;
	mkdir(dir, 0700);
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int file__open_cached(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}
