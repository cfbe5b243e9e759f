/* The -o rule (outfile.h): safe replace for regular files, in place for devices, FIFOs and
 * sockets, links and directories refused, a terminal refused for binary output. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/outfile.h"
#include "unit.h"

static void put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The file's text, or "" when it is missing. */
static const char *get(const char *p)
{
	static char buf[256];
	FILE *f = fopen(p, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static void say(struct outfile *o, const char *s)
{
	CHECK_EQ_INT(write(outfile__fd(o), s, strlen(s)), strlen(s));
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static const char *tmp_name(const char *p)
{
	static char t[300];

	snprintf(t, sizeof(t), "%s.tmp.%d", p, (int)getpid());
	return t;
}

static void new_file_appears_only_at_commit(void)
{
	const char *p = unit_tmp("new");
	char err[256] = "";
	struct outfile *o = outfile__open(p, OUTFILE_BINARY, err, sizeof(err));

	CHECK(o != NULL);
	if (!o)
		return;
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(outfile__kind(o), OUTFILE_REPLACE);
	CHECK_EQ_STR(outfile__name(o), p);
	say(o, "one ");
	CHECK(!exists(p));
	CHECK(exists(tmp_name(p)));
	CHECK_EQ_INT(outfile__commit(o), 0);
	CHECK_EQ_INT(outfile__commit(o), 0); /* once only */
	say(o, "two");			     /* writing goes on after the rename */
	CHECK_EQ_INT(outfile__close(o), 0);
	CHECK_EQ_STR(get(p), "one two");
	CHECK(!exists(tmp_name(p)));
	unlink(p);
}

static void existing_file_survives_abort_and_uncommitted_close(void)
{
	const char *p = unit_tmp("old");
	char err[256];
	struct outfile *o;

	put(p, "old");
	o = outfile__open(p, 0, err, sizeof(err));
	CHECK(o != NULL);
	say(o, "new");
	outfile__abort(o);
	CHECK_EQ_STR(get(p), "old");
	CHECK(!exists(tmp_name(p)));
	o = outfile__open(p, 0, err, sizeof(err));
	say(o, "new");
	CHECK_EQ_INT(outfile__close(o), 0);
	CHECK_EQ_STR(get(p), "old");
	CHECK(!exists(tmp_name(p)));
	o = outfile__open(p, 0, err, sizeof(err));
	say(o, "new");
	CHECK_EQ_INT(outfile__commit(o), 0);
	CHECK_EQ_INT(outfile__close(o), 0);
	CHECK_EQ_STR(get(p), "new");
	unlink(p);
}

/* A temporary name left by a killed run with our pid is not ours to remove or reuse. */
static void stale_temporary_file_is_left_alone(void)
{
	const char *p = unit_tmp("stale"), *t = tmp_name(p);
	char err[256], keep[300];
	struct outfile *o;

	snprintf(keep, sizeof(keep), "%s", t);
	put(keep, "stale");
	o = outfile__open(p, 0, err, sizeof(err));
	CHECK(o != NULL);
	say(o, "new");
	CHECK_EQ_INT(outfile__commit(o), 0);
	CHECK_EQ_INT(outfile__close(o), 0);
	CHECK_EQ_STR(get(p), "new");
	CHECK_EQ_STR(get(keep), "stale");
	unlink(keep);
	unlink(p);
}

static void symlink_directory_and_missing_directory_are_refused(void)
{
	const char *target = unit_tmp("target"), *link = unit_tmp("link"),
		   *dangling = unit_tmp("dangling");
	char err[256], want[512];

	put(target, "keep");
	CHECK_EQ_INT(symlink(target, link), 0);
	CHECK_EQ_INT(symlink(unit_tmp("nowhere"), dangling), 0);
	errno = 0;
	CHECK(outfile__open(link, 0, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, ELOOP);
	CHECK(strstr(err, "symbolic link") != NULL);
	CHECK(outfile__open(dangling, 0, err, sizeof(err)) == NULL);
	CHECK(!exists(unit_tmp("nowhere")));
	CHECK_EQ_STR(get(target), "keep");
	CHECK(!exists(tmp_name(link)));

	errno = 0;
	CHECK(outfile__open(unit_tmp_dir(), 0, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, EISDIR);
	snprintf(want, sizeof(want), "cannot write %s: Is a directory", unit_tmp_dir());
	CHECK_EQ_STR(err, want);

	errno = 0;
	CHECK(outfile__open(unit_tmp("no/such/x"), 0, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, ENOENT);
	snprintf(want, sizeof(want), "cannot write %s: No such file or directory",
		 unit_tmp("no/such/x"));
	CHECK_EQ_STR(err, want);
	CHECK(outfile__open("", 0, err, sizeof(err)) == NULL);
	unlink(link);
	unlink(dangling);
	unlink(target);
}

static void character_device_is_written_in_place(void)
{
	char err[256];
	struct stat st;
	struct outfile *o = outfile__open("/dev/null", OUTFILE_BINARY, err, sizeof(err));

	CHECK(o != NULL);
	if (!o)
		return;
	CHECK_EQ_INT(outfile__kind(o), OUTFILE_IN_PLACE);
	say(o, "gone");
	CHECK_EQ_INT(outfile__commit(o), 0);
	CHECK_EQ_INT(outfile__close(o), 0);
	CHECK_EQ_INT(lstat("/dev/null", &st), 0);
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
	CHECK(!exists(tmp_name("/dev/null")));
}

static void fifo_is_written_in_place_and_never_chowned(void)
{
	const char *p = unit_tmp("fifo");
	char err[256], buf[16] = "";
	struct outfile *o;
	struct stat st;
	int r;

	CHECK_EQ_INT(mkfifo(p, 0600), 0);
	r = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a reader, so the open does not wait */
	CHECK(r >= 0);
	o = outfile__open(p, OUTFILE_BINARY, err, sizeof(err));
	CHECK(o != NULL);
	if (o) {
		CHECK_EQ_INT(outfile__kind(o), OUTFILE_IN_PLACE);
		CHECK(!(fcntl(outfile__fd(o), F_GETFL) & O_NONBLOCK));
		say(o, "through");
		CHECK_EQ_INT(outfile__chown(o, 12345, 12345, 0640), 0);
		CHECK_EQ_INT(outfile__commit(o), 0);
		CHECK_EQ_INT(outfile__close(o), 0);
	}
	CHECK_EQ_INT(read(r, buf, sizeof(buf) - 1), 7);
	CHECK_EQ_STR(buf, "through");
	close(r);
	CHECK_EQ_INT(lstat(p, &st), 0);
	CHECK(S_ISFIFO(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 0777) == 0600);
	unlink(p);
}

static void terminal_is_refused_for_binary_output(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct outfile *o;
	char err[256];

	CHECK(m >= 0);
	if (m < 0 || grantpt(m) || unlockpt(m))
		return;
	CHECK(outfile__open(ptsname(m), OUTFILE_BINARY, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "is a terminal") != NULL);
	o = outfile__open(ptsname(m), 0, err, sizeof(err));
	CHECK(o != NULL);
	CHECK(o && outfile__kind(o) == OUTFILE_IN_PLACE);
	CHECK_EQ_INT(outfile__close(o), 0);
	close(m);
}

static void unix_socket_is_connected_to(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *p = unit_tmp("sock");
	char err[256], buf[16] = "";
	struct outfile *o;
	int l, c;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ_INT(listen(l, 1), 0);
	o = outfile__open(p, OUTFILE_BINARY, err, sizeof(err));
	CHECK(o != NULL);
	if (o) {
		CHECK_EQ_INT(outfile__kind(o), OUTFILE_IN_PLACE);
		say(o, "socket");
		CHECK_EQ_INT(outfile__close(o), 0);
	}
	c = accept(l, NULL, NULL);
	CHECK(c >= 0);
	CHECK_EQ_INT(read(c, buf, sizeof(buf) - 1), 6);
	CHECK_EQ_STR(buf, "socket");
	close(c);
	close(l);
	/* nobody listening any more: refused, and the socket is never removed */
	errno = 0;
	CHECK(outfile__open(p, 0, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, ECONNREFUSED);
	CHECK(strstr(err, "connecting to the socket") != NULL);
	CHECK(exists(p));
	unlink(p);
}

static void block_device_is_refused(void)
{
	const char *p = unit_tmp("blk");
	char err[256];

	if (mknod(p, S_IFBLK | 0600, makedev(7, 0))) /* not root: nothing to check */
		return;
	CHECK(outfile__open(p, 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "block device") != NULL);
	unlink(p);
}

static void cleanup(void)
{
	unit_tmp_remove(NULL, 0);
}

UNIT_MAIN("outfile", UNIT_TEST(new_file_appears_only_at_commit),
	  UNIT_TEST(existing_file_survives_abort_and_uncommitted_close),
	  UNIT_TEST(stale_temporary_file_is_left_alone),
	  UNIT_TEST(symlink_directory_and_missing_directory_are_refused),
	  UNIT_TEST(character_device_is_written_in_place),
	  UNIT_TEST(fifo_is_written_in_place_and_never_chowned),
	  UNIT_TEST(terminal_is_refused_for_binary_output), UNIT_TEST(unix_socket_is_connected_to),
	  UNIT_TEST(block_device_is_refused), UNIT_TEST(cleanup))
