// SPDX-License-Identifier: GPL-2.0
/* The -o rule for every command: see outfile.h. Only a file this run created is ever
 * renamed or removed; nothing is opened with O_TRUNC. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/freeall.h"
#include "lib/outfile.h"

struct outfile {
	enum outfile_kind kind;
	int fd;
	char *path; /* as given, or "standard output" */
	char *tmp;  /* OUTFILE_REPLACE: the temporary file until it is committed, then NULL */
};

static void free_outfile(struct outfile *o)
{
	free_all(o->path, o->tmp, o);
}

static int refuse_terminal(struct outfile *o, unsigned flags, char *err, size_t errlen)
{
	if (!(flags & OUTFILE_BINARY) || !isatty(o->fd))
		return 0;
	snprintf(err, errlen, "%s is a terminal: binary output needs -o FILE or a pipe", o->path);
	return -EINVAL;
}

/* "-": a private descriptor on standard output, and standard error in its place. */
static int open_stdout(struct outfile *o, unsigned flags, char *err, size_t errlen)
{
	int null, e;

	o->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (o->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(-e));
		return e;
	}
	e = refuse_terminal(o, flags, err, errlen);
	if (e)
		return e;
	fflush(stdout);
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		/* No standard error either: standard output goes nowhere rather than into the
		 * output. */
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			close(null);
		}
	}
	return 0;
}

static int connect_socket(struct outfile *o, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int e;

	if (strlen(o->path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "cannot write %s: %s (a socket path)", o->path,
			 strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, o->path);
	o->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (o->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot write %s: socket: %s", o->path, strerror(-e));
		return e;
	}
	if (connect(o->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = -errno;
		snprintf(err, errlen, "cannot write %s: connecting to the socket: %s", o->path,
			 strerror(-e));
		close(o->fd);
		o->fd = -1;
		return e;
	}
	return 0;
}

/* A character device or FIFO (lstat'ed as *st), opened where it is. */
static int open_in_place(struct outfile *o, const struct stat *st, unsigned flags, char *err,
			 size_t errlen)
{
	const int oflags = O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
	struct stat now;
	int fl, e;

	if (S_ISSOCK(st->st_mode))
		return connect_socket(o, err, errlen);
	/* Non-blocking first: a FIFO without a reader fails at once (ENXIO) instead of
	 * hanging silently, and a terminal's open does not wait for a carrier. */
	o->fd = open(o->path, oflags | O_NONBLOCK);
	if (o->fd < 0 && errno == ENXIO && S_ISFIFO(st->st_mode)) {
		fprintf(stderr,
			"treeprof: waiting for a reader on %s (a FIFO); Ctrl-C to give up\n",
			o->path);
		o->fd = open(o->path, oflags);
	}
	if (o->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(-e));
		return e;
	}
	fl = fcntl(o->fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(o->fd, F_SETFL, fl & ~O_NONBLOCK);
	/* What was opened must be what was looked at: a regular file put there meanwhile
	 * would be written without the safe replace. */
	if (fstat(o->fd, &now) || now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
	    (now.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
		snprintf(err, errlen, "cannot write %s: it changed while being opened", o->path);
		return -EAGAIN;
	}
	return refuse_terminal(o, flags, err, errlen);
}

/* A new file next to the path, renamed over it by outfile__commit. */
static int open_replace(struct outfile *o, char *err, size_t errlen)
{
	mode_t um;
	int e;

	if (asprintf(&o->tmp, "%s.tmp.%d", o->path, (int)getpid()) < 0) {
		o->tmp = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (o->fd < 0 && errno == EEXIST) {
		/* Left by a run killed with our pid (a container's pid 1): not ours to remove. */
		free(o->tmp);
		if (asprintf(&o->tmp, "%s.tmp.%d.XXXXXX", o->path, (int)getpid()) < 0) {
			o->tmp = NULL;
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		o->fd = mkostemp(o->tmp, O_CLOEXEC);
		um = umask(0);
		umask(um);
		if (o->fd >= 0)
			fchmod(o->fd, 0644 & ~um);
	}
	if (o->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(-e));
		free(o->tmp);
		o->tmp = NULL;
		return e;
	}
	return 0;
}

static int open_path(struct outfile *o, unsigned flags, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if (!o->path[0]) {
		snprintf(err, errlen, "-o needs a path (or - for standard output)");
		return -ENOENT;
	}
	if (lstat(o->path, &st)) {
		e = -errno;
		if (e == -ENOENT)
			return open_replace(o, err, errlen);
		snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(-e));
		return e;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return open_replace(o, err, errlen);
	case S_IFCHR:
	case S_IFIFO:
	case S_IFSOCK:
		o->kind = OUTFILE_IN_PLACE;
		return open_in_place(o, &st, flags, err, errlen);
	case S_IFLNK:
		snprintf(err, errlen, "%s is a symbolic link: not writing through it", o->path);
		return -ELOOP;
	case S_IFDIR:
		snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(EISDIR));
		return -EISDIR;
	default:
		snprintf(err, errlen, "%s is a block device: not writing to it", o->path);
		return -EINVAL;
	}
}

struct outfile *outfile__open(const char *path, unsigned flags, char *err, size_t errlen)
{
	bool std = !strcmp(path, "-");
	struct outfile *o = calloc(1, sizeof(*o));
	int e;

	if (!o || !(o->path = strdup(std ? "standard output" : path))) {
		free(o);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	o->fd = -1;
	o->kind = std ? OUTFILE_STDOUT : OUTFILE_REPLACE;
	e = std ? open_stdout(o, flags, err, errlen) : open_path(o, flags, err, errlen);
	if (e) {
		outfile__abort(o);
		errno = -e;
		return NULL;
	}
	return o;
}

int outfile__fd(const struct outfile *o)
{
	return o->fd;
}

enum outfile_kind outfile__kind(const struct outfile *o)
{
	return o->kind;
}

const char *outfile__name(const struct outfile *o)
{
	return o->path;
}

int outfile__chown(struct outfile *o, uid_t uid, gid_t gid, mode_t mode)
{
	if (o->kind != OUTFILE_REPLACE)
		return 0;
	if (fchown(o->fd, uid, gid) || fchmod(o->fd, mode))
		return -errno;
	return 0;
}

int outfile__commit(struct outfile *o)
{
	struct stat st;

	if (o->kind != OUTFILE_REPLACE || !o->tmp)
		return 0;
	/* Only a regular file (or nothing) is replaced, even one put there since the open. */
	if (!lstat(o->path, &st) && !S_ISREG(st.st_mode))
		return -EEXIST;
	if (fsync(o->fd) || rename(o->tmp, o->path))
		return -errno;
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

int outfile__close(struct outfile *o)
{
	struct stat st;
	int err = 0;

	if (!o)
		return 0;
	if (o->tmp) {
		outfile__abort(o);
		return 0;
	}
	if (!fstat(o->fd, &st) && S_ISREG(st.st_mode) && fsync(o->fd))
		err = -errno;
	if (close(o->fd) && !err)
		err = -errno;
	free_outfile(o);
	return err;
}

void outfile__abort(struct outfile *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	free_outfile(o);
}
