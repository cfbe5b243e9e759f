/* Launching the traced command: forked at once but held before exec until the tracer has
 * attached everything, so its first instruction is traced; under sudo it becomes the user who
 * ran sudo first. The launcher owns the child's two pipes until launch__release or
 * launch__abort; the caller owns the child (waits for it) once it runs. */
#ifndef TREEPROF_LAUNCH_H
#define TREEPROF_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct launch_opts {
	char **cmd;	  /* argv, searched in PATH */
	bool run_as_user; /* become run_uid/run_gid (with the user's groups) before exec */
	uid_t run_uid;
	gid_t run_gid;
	/* Called in the child just before exec (the environment it needs); 0, or -1 with
	 * errno set to fail the launch. Optional. */
	int (*child_setup)(void *ctx);
	void *ctx;
};

/* A held child. pid is 0 when there is none. */
struct launch {
	pid_t pid;
	int go_fd;  /* written once to let the child exec; closed: the child exits */
	int err_fd; /* what failed in the child (EOF: exec succeeded) */
	const struct launch_opts *opts;
};

/* Fork the held child. 0 or -errno (nothing to clean up then); o must outlive l. */
int launch__hold(struct launch *l, const struct launch_opts *o);
/* Let it exec. 0, or -errno after one line on stderr (the child is reaped then, pid 0). */
int launch__release(struct launch *l);
/* Never release it: the held child exits without running anything and is reaped. Takes a
 * struct launch that holds nothing. */
void launch__abort(struct launch *l);

#endif
