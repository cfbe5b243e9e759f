// SPDX-License-Identifier: GPL-2.0
/* The held command: two close-on-exec pipes. The child blocks reading "go"; once released it
 * drops privileges, sets up its environment and execs, and any failure before exec comes back
 * on the second pipe as {step, errno} (EOF there means the exec succeeded). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace/launch.h"

enum { STEP_EXEC, STEP_USER };

/* In the launched child: become uid/gid with the user's supplementary groups. 0 or -1
 * with errno set. */
static int drop_privileges(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL))
		return -1;
	if (setgid(gid) || setuid(uid))
		return -1;
	/* Refuse to go on as root if the switch did not stick. */
	if (uid != 0 && (setuid(0) == 0 || geteuid() != uid)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* The child: wait for "go", then become the command; never returns. */
static void run_child(const struct launch_opts *o, int go_fd, int err_fd)
{
	int e[2] = {STEP_USER, 0}; /* what failed, errno */
	char c;

	if (read(go_fd, &c, 1) != 1)
		_exit(127);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (o->run_as_user && drop_privileges(o->run_uid, o->run_gid))
		goto fail;
	e[0] = STEP_EXEC;
	if (o->child_setup && o->child_setup(o->ctx))
		goto fail;
	execvp(o->cmd[0], o->cmd);
fail:
	e[1] = errno;
	if (write(err_fd, e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int launch__hold(struct launch *l, const struct launch_opts *o)
{
	int go[2], ex[2], err;
	pid_t pid;

	*l = (struct launch){.go_fd = -1, .err_fd = -1, .opts = o};
	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(ex, O_CLOEXEC)) {
		err = -errno;
		goto close_go;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(ex[0]);
		close(ex[1]);
		goto close_go;
	}
	if (pid == 0) {
		close(go[1]);
		close(ex[0]);
		run_child(o, go[0], ex[1]);
	}
	close(go[0]);
	close(ex[1]);
	l->pid = pid;
	l->go_fd = go[1];
	l->err_fd = ex[0];
	return 0;

close_go:
	close(go[0]);
	close(go[1]);
	return err;
}

int launch__release(struct launch *l)
{
	const struct launch_opts *o = l->opts;
	int e[2] = {0, 0};
	ssize_t n;

	if (write(l->go_fd, "g", 1) != 1) {
		launch__abort(l);
		return -EPIPE;
	}
	close(l->go_fd);
	n = read(l->err_fd, e, sizeof(e)); /* EOF: exec succeeded (the pipe is close-on-exec) */
	close(l->err_fd);
	l->go_fd = l->err_fd = -1;
	if (n != sizeof(e))
		return 0;
	if (e[0] == STEP_USER)
		fprintf(stderr, "treeprof: cannot run '%s' as uid %d: %s (use --as-root)\n",
			o->cmd[0], (int)o->run_uid, strerror(e[1]));
	else
		fprintf(stderr, "treeprof: cannot run '%s': %s\n", o->cmd[0], strerror(e[1]));
	waitpid(l->pid, NULL, 0);
	l->pid = 0;
	return -e[1];
}

void launch__abort(struct launch *l)
{
	if (l->go_fd < 0)
		return;
	close(l->go_fd); /* the held child reads EOF and exits */
	close(l->err_fd);
	l->go_fd = l->err_fd = -1;
	waitpid(l->pid, NULL, 0);
	l->pid = 0;
}
