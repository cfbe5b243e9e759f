// SPDX-License-Identifier: GPL-2.0
/* The non-blocking output buffer of outbuf.h: pending bytes are buf[head .. head + len),
 * moved to the front only when an append would run past the end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ui/outbuf.h"

struct outbuf {
	int fd;
	bool own_fd;	 /* fd is our reopened description */
	int saved_flags; /* flags to restore on fd, or -1 */
	char *buf;
	size_t cap, head, len; /* pending bytes: buf[head .. head + len) */
	int err;
};

struct outbuf *outbuf__new(int fd, size_t cap)
{
	struct outbuf *o = calloc(1, sizeof(*o));
	char path[64];
	struct stat st;
	int flags;

	if (!o || !(o->buf = malloc(cap))) {
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	o->cap = cap;
	o->fd = fd;
	o->saved_flags = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return o;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	o->fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (o->fd >= 0) {
		o->own_fd = true;
		return o;
	}
	o->fd = fd;
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && !(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0)
		o->saved_flags = flags;
	return o;
}

int outbuf__flush(struct outbuf *o)
{
	ssize_t w;

	while (o->len && !o->err) {
		w = write(o->fd, o->buf + o->head, o->len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			o->err = -errno;
			o->len = 0;
			break;
		}
		o->head += w;
		o->len -= w;
	}
	if (!o->len)
		o->head = 0;
	return o->err;
}

int outbuf__put(struct outbuf *o, const char *s, size_t n, size_t reserve)
{
	if (o->err)
		return o->err;
	if (o->len + n + reserve > o->cap) {
		outbuf__flush(o);
		if (o->err)
			return o->err;
		if (o->len + n + reserve > o->cap)
			return -ENOSPC;
	}
	if (o->head + o->len + n > o->cap) {
		memmove(o->buf, o->buf + o->head, o->len);
		o->head = 0;
	}
	memcpy(o->buf + o->head + o->len, s, n);
	o->len += n;
	return outbuf__flush(o);
}

size_t outbuf__drain(struct outbuf *o, int timeout_ms)
{
	struct timespec ts;
	long long end, now;
	struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + timeout_ms;
	while (!outbuf__flush(o) && o->len) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
		if (now >= end || poll(&pfd, 1, end - now) < 0)
			break;
	}
	return o->len;
}

void outbuf__free(struct outbuf *o)
{
	if (!o)
		return;
	if (o->own_fd)
		close(o->fd);
	else if (o->saved_flags >= 0)
		fcntl(o->fd, F_SETFL, o->saved_flags);
	free(o->buf);
	free(o);
}
