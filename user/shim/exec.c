/* exec and posix_spawn, interposed: the sampler follows a tree into another root.
 *
 * treeprof preloads the sampler by its path (LD_PRELOAD=/.../libtreeprof-mem.so). A process
 * that moves to another root (chroot, a container's pivot_root) and then execs can no longer
 * open that path: ld.so would print an error and the new image would run on uprobes. So at
 * each exec made through these functions, an LD_PRELOAD entry naming the sampler (its file
 * name is libtreeprof-mem.so) is rewritten for the image about to start:
 *
 *  1. kept, when it can be opened from here (the same root: the common case, nothing
 *     changes);
 *  2. else /proc/self/fd/N, N the descriptor on the sampler's own file that every process
 *     running it holds (opened at start-up, close-on-exec, at 256 or above), passed through
 *     this one exec: a magic link, it opens whatever the root;
 *  3. else, when that descriptor was closed before the exec (subprocess's close_fds, which
 *     runs in the child between fork and exec), /proc/PPID/fd/N: the parent still holds it
 *     (checked: the same file as ours);
 *  4. else dropped: the image starts without the sampler and without an error line, and
 *     treeprof gives it uprobes (mem_processes_without_sampler), as before.
 * /proc must be mounted in the new root for 2 and 3. An image loaded through
 * /proc/self/fd/N keeps that descriptor open across its own execs (not close-on-exec), so
 * that an exec these wrappers do not see (a raw system call, posix_spawn inside another
 * library) still finds it.
 *
 * The wrappers may run in a vfork child: they write nothing but their own stack and the
 * child's descriptor flags, take no lock and allocate nothing. An environment of more than
 * ENV_MAX variables, or an LD_PRELOAD longer than PRELOAD_MAX, is passed on unchanged. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#define SELF_NAME   "libtreeprof-mem.so"
#define SELF_FD_MIN 256
#define ENV_MAX	    1024
#define PRELOAD_MAX 4096
#define PROC_FD_MAX 48 /* "/proc/4294967295/fd/2147483647" and its NUL */

extern char **environ;

typedef int execvpe_fn(const char *, char *const[], char *const[]);
typedef int fexecve_fn(int, char *const[], char *const[]);
typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *,
		     const posix_spawnattr_t *, char *const[], char *const[]);

static int self_fd = -1;	    /* the sampler's own file */
static bool self_fd_inherited;	    /* loaded through /proc/self/fd/self_fd: never close-on-exec */
static char loaded_by[PROC_FD_MAX]; /* the path, when it was a /proc one */
static dev_t self_dev;
static ino_t self_ino;
static execvpe_fn *real_execvpe;
static fexecve_fn *real_fexecve;
static spawn_fn *real_posix_spawn, *real_posix_spawnp;

/* "/proc/" pid "/fd/" fd into out[PROC_FD_MAX]; pid 0: "self". No stdio (vfork child). */
static void proc_fd_path(char *out, pid_t pid, int fd)
{
	char digits[12];
	size_t n = 0, len = 0;
	const char *parts[] = {"/proc/", NULL, "/fd/", NULL};
	char pid_s[12], fd_s[12];

	for (int k = 0; k < 2; k++) {
		unsigned long v = k ? (unsigned long)fd : (unsigned long)pid;
		char *dst = k ? fd_s : pid_s;

		n = 0;
		do {
			digits[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v && n < sizeof(digits));
		for (size_t i = 0; i < n; i++)
			dst[i] = digits[n - 1 - i];
		dst[n] = 0;
	}
	parts[1] = pid ? pid_s : "self";
	parts[3] = fd_s;
	for (int k = 0; k < 4; k++)
		for (const char *p = parts[k]; *p && len + 1 < PROC_FD_MAX; p++)
			out[len++] = *p;
	out[len] = 0;
}

static bool is_self_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == self_dev && st.st_ino == self_ino;
}

/* The path under which the image about to be exec'd can open the sampler, in out
 * (PROC_FD_MAX bytes; entry when it works as it is), or NULL: none. *pass_fd: self_fd
 * must stay open across the exec. */
static const char *usable_path(const char *entry, char *out, bool *pass_fd, bool spawn)
{
	if (spawn) {
		/* posix_spawn's file actions may close any descriptor in the child (Python's
		 * subprocess closes all from 3 on): name ours through this process, which
		 * holds it while the child starts. */
		if (strncmp(entry, "/proc/", 6) && !access(entry, R_OK) && is_self_file(entry))
			return entry;
		if (self_fd < 0)
			return NULL;
		proc_fd_path(out, getpid(), self_fd);
		return is_self_file(out) ? out : NULL;
	}
	if (!access(entry, R_OK) && is_self_file(entry))
		return entry;
	if (self_fd < 0)
		return NULL;
	if (fcntl(self_fd, F_GETFD) >= 0) {
		proc_fd_path(out, 0, self_fd);
		if (!access(out, R_OK)) {
			*pass_fd = true;
			return out;
		}
		return NULL; /* no /proc here */
	}
	proc_fd_path(out, getppid(), self_fd);
	return is_self_file(out) ? out : NULL;
}

/* An LD_PRELOAD entry (n bytes at s) naming the sampler: by its file name, or the path this
 * image loaded it by (/proc/self/fd/N, /proc/PPID/fd/N). */
static bool is_self_entry(const char *s, size_t n)
{
	size_t k = sizeof(SELF_NAME) - 1;

	if (n >= k && !memcmp(s + n - k, SELF_NAME, k) && (n == k || s[n - k - 1] == '/'))
		return true;
	return loaded_by[0] && n == strlen(loaded_by) && !memcmp(s, loaded_by, n);
}

/* The environment for an exec from here: envp itself, or a copy in out[ENV_MAX] whose
 * LD_PRELOAD (rebuilt in buf[PRELOAD_MAX]) names the sampler by a path the new image can
 * open, or no longer names it. */
static char *const *exec_env(char *const *envp, char **out, char *buf, bool *pass_fd, bool spawn)
{
	static const char key[] = "LD_PRELOAD=";
	char path[PROC_FD_MAX];
	const char *val = NULL;
	size_t at = 0, n = 0, len = 0;
	bool changed = false, placed = false;

	*pass_fd = false;
	if (!envp)
		return envp;
	for (; envp[n]; n++)
		if (!val && !strncmp(envp[n], key, sizeof(key) - 1)) {
			val = envp[n] + sizeof(key) - 1;
			at = n;
		}
	if (!val || n >= ENV_MAX || strlen(val) + sizeof(key) >= PRELOAD_MAX)
		return envp;
	memcpy(buf, key, sizeof(key) - 1);
	len = sizeof(key) - 1;
	for (const char *p = val; *p;) {
		size_t elen = strcspn(p, ": \t"), plen = elen;
		bool self = elen && is_self_entry(p, elen);
		const char *put = p;
		char entry[PRELOAD_MAX];

		if (self) {
			memcpy(entry, p, elen);
			entry[elen] = 0;
			put = placed ? NULL : usable_path(entry, path, pass_fd, spawn); /* once */
			placed = true;
			changed |= !put || strcmp(put, entry);
			plen = put ? strlen(put) : 0;
		}
		if (elen && put) {
			/* a longer path that does not fit: the environment as it is */
			if (len + plen + 2 > PRELOAD_MAX) {
				*pass_fd = false;
				return envp;
			}
			if (len > sizeof(key) - 1)
				buf[len++] = ':';
			memcpy(buf + len, put, plen);
			len += plen;
		}
		p += elen;
		if (*p)
			p++;
	}
	buf[len] = 0;
	if (!changed) {
		*pass_fd = false;
		return envp;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = i == at ? buf : envp[i];
	out[n] = NULL;
	return out;
}

/* Around an exec: self_fd open in the new image when it needs it; back to close-on-exec
 * when the exec failed. */
static void pass_begin(bool pass)
{
	if (pass && !self_fd_inherited)
		fcntl(self_fd, F_SETFD, 0);
}

static void pass_end(bool pass)
{
	if (pass && !self_fd_inherited)
		fcntl(self_fd, F_SETFD, FD_CLOEXEC);
}

#define WITH_ENV(envp, spawn, call)                                                                \
	({                                                                                         \
		char *env_[ENV_MAX], buf_[PRELOAD_MAX];                                            \
		bool pass_;                                                                        \
		char *const *e_ = exec_env(envp, env_, buf_, &pass_, spawn);                       \
		int rc_, err_;                                                                     \
                                                                                                   \
		(void)e_;                                                                          \
		pass_begin(pass_);                                                                 \
		rc_ = (call);                                                                      \
		err_ = errno;                                                                      \
		pass_end(pass_);                                                                   \
		errno = err_;                                                                      \
		rc_;                                                                               \
	})

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return WITH_ENV(envp, false, (int)syscall(SYS_execve, path, argv, e_));
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!real_execvpe) {
		errno = ENOSYS;
		return -1;
	}
	return WITH_ENV(envp, false, real_execvpe(file, argv, e_));
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!real_fexecve) {
		errno = ENOSYS;
		return -1;
	}
	return WITH_ENV(envp, false, real_fexecve(fd, argv, e_));
}

/* execl, execle, execlp: their arguments as an argv on the stack. */
#define ARGV_FROM_VA(arg0, ap, argv)                                                               \
	size_t argc_ = 1;                                                                          \
	va_list count_;                                                                            \
	va_copy(count_, ap);                                                                       \
	while (va_arg(count_, char *))                                                             \
		argc_++;                                                                           \
	va_end(count_);                                                                            \
	char *argv[argc_ + 1];                                                                     \
	argv[0] = (char *)(arg0);                                                                  \
	for (size_t i_ = 1; i_ <= argc_; i_++)                                                     \
		argv[i_] = va_arg(ap, char *);

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	va_start(ap, arg);
	ARGV_FROM_VA(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	va_start(ap, arg);
	ARGV_FROM_VA(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	va_list ap;

	va_start(ap, arg);
	ARGV_FROM_VA(arg, ap, argv);
	envp = va_arg(ap, char *const *); /* after the NULL that ends the arguments */
	va_end(ap);
	return execve(path, argv, envp);
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!real_posix_spawn)
		return ENOSYS;
	return WITH_ENV(envp, true, real_posix_spawn(pid, path, fa, attr, argv, e_));
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!real_posix_spawnp)
		return ENOSYS;
	return WITH_ENV(envp, true, real_posix_spawnp(pid, file, fa, attr, argv, e_));
}

void shim_exec_init(void)
{
	static const char fd_prefix[] = "/proc/self/fd/";
	Dl_info di;
	struct stat st;
	int fd;

	real_execvpe = (execvpe_fn *)dlsym(RTLD_NEXT, "execvpe");
	real_fexecve = (fexecve_fn *)dlsym(RTLD_NEXT, "fexecve");
	real_posix_spawn = (spawn_fn *)dlsym(RTLD_NEXT, "posix_spawn");
	real_posix_spawnp = (spawn_fn *)dlsym(RTLD_NEXT, "posix_spawnp");
	if (!dladdr((void *)shim_exec_init, &di) || !di.dli_fname || !*di.dli_fname)
		return;
	if (!strncmp(di.dli_fname, "/proc/", 6) && strlen(di.dli_fname) < sizeof(loaded_by))
		strcpy(loaded_by, di.dli_fname);
	if (!strncmp(di.dli_fname, fd_prefix, sizeof(fd_prefix) - 1)) {
		/* Loaded through a descriptor an exec passed: keep it, open across execs. */
		char *end;
		long v = strtol(di.dli_fname + sizeof(fd_prefix) - 1, &end, 10);

		if (!*end && v >= 0 && v < (1L << 30) && !fstat((int)v, &st)) {
			self_fd = (int)v;
			self_fd_inherited = true;
			self_dev = st.st_dev;
			self_ino = st.st_ino;
			fcntl(self_fd, F_SETFD, 0);
			return;
		}
	}
	fd = open(di.dli_fname, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	self_fd = fcntl(fd, F_DUPFD_CLOEXEC, SELF_FD_MIN);
	if (self_fd < 0) /* RLIMIT_NOFILE at SELF_FD_MIN or below: where it was opened */
		self_fd = fd;
	else
		close(fd);
	if (self_fd >= 0 && fstat(self_fd, &st)) {
		close(self_fd);
		self_fd = -1;
	}
	if (self_fd >= 0) {
		self_dev = st.st_dev;
		self_ino = st.st_ino;
	}
}
