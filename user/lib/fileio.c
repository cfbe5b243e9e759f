// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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
