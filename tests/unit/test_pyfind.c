/* Interpreter detection and code-object symbolization against live interpreters: every
 * pyenv CPython 3.8-3.13 found and Debian's static /usr/bin/python3.11. Each runs a small
 * script that prints the addresses of some code objects and then sleeps; the test detects
 * the interpreter, walks the sleeping main thread the way the BPF walker does (from the
 * offsets in tp_pyconfig), and symbolizes frames the way the kernel would report them.
 * Interpreters that are not installed are skipped (and said so). Needs root or ptrace
 * rights over a child (process_vm_readv), which a parent has under the default Yama. */
#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbols/pysym.h"
#include "symbols/pyfind.h"
#include "unit.h"

/* Non-ASCII on purpose: a latin-1 file name, a latin-1 method, a UCS-2 function. */
static const char script[] =
    "import sys, time\n"
    "class Klass:\n"
    "    def m\xc3\xa9thode(self):\n"
    "        x = 1\n"
    "        y = 2\n"
    "        return x + y\n"
    "def \xd1\x84\xd1\x83\xd0\xbd\xd0\xba\xd1\x86\xd0\xb8\xd1\x8f():\n"
    "    return 1\n"
    "def offset_of_line(co, line):\n"
    "    if sys.version_info >= (3, 10):\n"
    "        return min(s for s, e, l in co.co_lines() if l == line)\n"
    "    import dis\n"
    "    return min(s for s, l in dis.findlinestarts(co) if l == line)\n"
    "m = Klass.m\xc3\xa9thode.__code__\n"
    "f = \xd1\x84\xd1\x83\xd0\xbd\xd0\xba\xd1\x86\xd0\xb8\xd1\x8f.__code__\n"
    "print(sys.hexversion, id(sys._getframe().f_code), id(m), m.co_firstlineno,\n"
    "      offset_of_line(m, m.co_firstlineno + 2), id(f), f.co_firstlineno, flush=True)\n"
    "time.sleep(30)\n";
#define SLEEP_LINE 18 /* the line of time.sleep above */

struct target {
	pid_t pid;
	unsigned long hexversion;
	uint64_t module_code, method_code, func_code;
	unsigned int method_first, func_first;
	unsigned int method_y_offset; /* bytes: first instruction of "y = 2" */
};

static char script_path[256];

static int write_script(void)
{
	char dir[] = "/tmp/treeprof-test-\xc3\xa9-XXXXXX";
	FILE *f;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(script_path, sizeof(script_path), "%s/target.py", dir);
	f = fopen(script_path, "w");
	if (!f)
		return -errno;
	fputs(script, f);
	fclose(f);
	return 0;
}

static void cleanup_script(void)
{
	char *slash = strrchr(script_path, '/');

	unlink(script_path);
	if (slash) {
		*slash = '\0';
		rmdir(script_path);
	}
}

/* Start python on the script and read its report line: 0 or negative errno. */
static int start(const char *python, const char *arg, struct target *t)
{
	char line[512] = "";
	struct pollfd pfd;
	size_t len = 0;
	int fds[2];

	memset(t, 0, sizeof(*t));
	if (pipe(fds))
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(python, python, arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (len < sizeof(line) - 1 && !strchr(line, '\n')) {
		ssize_t n;

		if (poll(&pfd, 1, 20000) <= 0)
			break;
		n = read(fds[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		line[len] = '\0';
	}
	close(fds[0]);
	if (!arg || strcmp(arg, script_path))
		return 0; /* not our script: nothing to parse */
	if (sscanf(line, "%lu %lu %lu %u %u %lu %u", &t->hexversion, &t->module_code,
		   &t->method_code, &t->method_first, &t->method_y_offset, &t->func_code,
		   &t->func_first) != 7) {
		fprintf(stderr, "  %s printed \"%s\"\n", python, line);
		return -EPROTO;
	}
	return 0;
}

static void stop(struct target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	t->pid = 0;
}

static uint64_t rd64(pid_t pid, uint64_t addr)
{
	uint64_t v = 0;

	return pyfind__read(pid, addr, &v, sizeof(v)) ? 0 : v;
}

static uint32_t rd32(pid_t pid, uint64_t addr)
{
	uint32_t v = 0;

	return pyfind__read(pid, addr, &v, sizeof(v)) ? 0 : v;
}

/* What the kernel reports for the code object at code, at instruction lasti. */
static struct tp_pyframe kernel_frame(pid_t pid, const struct tp_pyconfig *c, uint64_t code,
				      uint32_t lasti)
{
	struct tp_pyframe f = {.code = code, .lasti = lasti};

	f.check =
	    tp_code_check(rd32(pid, code + c->code_firstlineno), rd32(pid, code + c->code_argcount),
			  rd64(pid, code + c->code_filename), rd64(pid, code + c->code_name));
	return f;
}

/* Walk interpreters -> threads like the BPF walker; return the main thread's top frame. */
static uint64_t top_frame(pid_t pid, const struct tp_pyconfig *c)
{
	uint64_t interp = rd64(pid, c->runtime + c->rt_interp_head);

	for (int i = 0; interp && i < 8; i++, interp = rd64(pid, interp + c->interp_next)) {
		uint64_t ts = rd64(pid, interp + c->interp_threads);

		for (int j = 0; ts && j < 64; j++, ts = rd64(pid, ts + c->tstate_next)) {
			uint64_t frame;

			if (!rd64(pid, ts + c->tstate_thread_id))
				continue;
			frame = rd64(pid, ts + c->tstate_frame);
			if (c->cframe_frame != TP_OFF_NONE && frame)
				frame = rd64(pid, frame + c->cframe_frame);
			if (frame)
				return frame;
		}
	}
	return 0;
}

static void check_interpreter(const char *python, unsigned int minor)
{
	struct tp_pyconfig cfg;
	struct py_runtime_info info;
	struct pysym_frame out;
	struct tp_pyframe f;
	struct target t;
	struct pysym *ps;
	uint64_t frame, code;
	uint32_t lasti;
	pid_t pid;
	char cookie[9] = "";
	char want_name[64];
	int err;

	if (access(python, X_OK)) {
		printf("  skip %s: not installed\n", python);
		return;
	}
	err = start(python, script_path, &t);
	CHECK_EQ_INT(err, 0);
	if (err)
		goto out;
	err = pyfind__detect(NULL, t.pid, &cfg, &info);
	CHECK_EQ_INT(err, 0);
	if (err)
		goto out;
	CHECK_EQ_INT(PY_MINOR(cfg.version), minor);
	if (minor >= 11) /* Py_Version or _Py_DebugOffsets: the exact running version */
		CHECK_EQ_INT(cfg.version, t.hexversion);
	CHECK(cfg.runtime != 0);
	CHECK_EQ_INT(info.runtime, cfg.runtime);
	CHECK_EQ_INT(info.version, cfg.version);
	if (minor >= 13) {
		pyfind__read(t.pid, cfg.runtime, cookie, 8);
		CHECK_EQ_STR(cookie, "xdebugpy");
		CHECK(cfg.none_addr != 0);
	}

	/* The walker's view: the main thread sleeps in <module>, at the time.sleep line. */
	frame = top_frame(t.pid, &cfg);
	CHECK(frame != 0);
	code = rd64(t.pid, frame + cfg.frame_code) & ~(uint64_t)cfg.tag_bits; /* as the walker */
	CHECK_EQ_INT(code, t.module_code);
	if (cfg.lasti_kind == TP_LASTI_PTR)
		lasti = (uint32_t)(rd64(t.pid, frame + cfg.frame_lasti) - code);
	else
		lasti = rd32(t.pid, frame + cfg.frame_lasti);

	ps = pysym__new();
	CHECK(ps != NULL);
	if (!ps)
		goto out;
	CHECK_EQ_INT(pysym__set_runtime(ps, t.pid, &info), 0);
	f = kernel_frame(t.pid, &cfg, code, lasti);
	CHECK_EQ_INT(pysym__resolve(ps, t.pid, &f, &out), 0);
	CHECK_EQ_STR(out.name, "<module>");
	CHECK_EQ_STR(out.file, script_path);
	CHECK_EQ_INT(out.line, SLEEP_LINE);

	/* A method: qualified name on 3.11+, latin-1 name and file, line from lasti. */
	lasti = t.method_y_offset;
	if (cfg.lasti_kind == TP_LASTI_UNITS)
		lasti /= 2;
	else if (cfg.lasti_kind == TP_LASTI_PTR)
		lasti += info.code.co_code_adaptive;
	f = kernel_frame(t.pid, &cfg, t.method_code, lasti);
	CHECK_EQ_INT(pysym__resolve(ps, t.pid, &f, &out), 0);
	snprintf(want_name, sizeof(want_name), "%sm\xc3\xa9thode", minor >= 11 ? "Klass." : "");
	CHECK_EQ_STR(out.name, want_name);
	CHECK_EQ_STR(out.file, script_path);
	CHECK_EQ_INT(out.firstlineno, t.method_first);
	CHECK_EQ_INT(out.line, t.method_first + 2);

	/* A UCS-2 name, at "not started yet". */
	f = kernel_frame(t.pid, &cfg, t.func_code, cfg.lasti_kind == TP_LASTI_PTR ? 0 : ~0u);
	CHECK_EQ_INT(pysym__resolve(ps, t.pid, &f, &out), 0);
	CHECK_EQ_STR(out.name, "\xd1\x84\xd1\x83\xd0\xbd\xd0\xba\xd1\x86\xd0\xb8\xd1\x8f");
	CHECK_EQ_INT(out.firstlineno, t.func_first);
	CHECK_EQ_INT(out.line, t.func_first);

	/* Another object at that address (other check): stale, never misnamed. */
	f.check ^= 1;
	CHECK_EQ_INT(pysym__resolve(ps, t.pid, &f, &out), -ESTALE);
	f.check ^= 1;

	/* A forked child resolves from the parent's cache (no such pid exists to read);
	 * after exec it knows nothing. */
	pysym__fork(ps, 4194000, t.pid);
	CHECK_EQ_INT(pysym__resolve(ps, 4194000, &f, &out), 0);
	CHECK_EQ_STR(out.name, "\xd1\x84\xd1\x83\xd0\xbd\xd0\xba\xd1\x86\xd0\xb8\xd1\x8f");
	pysym__exec(ps, 4194000);
	CHECK_EQ_INT(pysym__resolve(ps, 4194000, &f, &out), -ENOENT);

	/* Once cached, a frame still resolves after its process is gone. */
	pid = t.pid;
	stop(&t);
	CHECK_EQ_INT(pysym__resolve(ps, pid, &f, &out), 0);
	CHECK_EQ_INT(out.firstlineno, t.func_first);
	pysym__free(ps);
out:
	stop(&t);
}

static const char *pyenv_python(unsigned int minor, char *buf, size_t size)
{
	const char *root = getenv("PYENV_ROOT");
	char pattern[256];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/versions/3.%u.*/bin/python3.%u",
		 root ? root : "/root/.pyenv", minor, minor);
	if (glob(pattern, 0, NULL, &g) || g.gl_pathc == 0) {
		snprintf(buf, size, "%s", pattern);
		return buf;
	}
	snprintf(buf, size, "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return buf;
}

#define PYENV_TEST(minor)                                                                          \
	static void test_detects_and_symbolizes_pyenv_3_##minor(void)                              \
	{                                                                                          \
		char buf[256];                                                                     \
                                                                                                   \
		check_interpreter(pyenv_python(minor, buf, sizeof(buf)), minor);                   \
	}
PYENV_TEST(8)
PYENV_TEST(9)
PYENV_TEST(10)
PYENV_TEST(11)
PYENV_TEST(12)
PYENV_TEST(13)

static void test_detects_and_symbolizes_debian_static_python3_11(void)
{
	check_interpreter("/usr/bin/python3.11", 11);
}

static void test_a_process_without_python_is_not_python(void)
{
	struct tp_pyconfig cfg;
	struct py_runtime_info info;
	struct target t;

	CHECK_EQ_INT(start("/bin/sleep", "30", &t), 0);
	usleep(100 * 1000);
	CHECK_EQ_INT(pyfind__detect(NULL, t.pid, &cfg, &info), -ENOENT);
	CHECK_EQ_INT(cfg.runtime, 0);
	stop(&t);
}

int main(void)
{
	static const struct unit_test tests[] = {
	    UNIT_TEST(test_detects_and_symbolizes_pyenv_3_8),
	    UNIT_TEST(test_detects_and_symbolizes_pyenv_3_9),
	    UNIT_TEST(test_detects_and_symbolizes_pyenv_3_10),
	    UNIT_TEST(test_detects_and_symbolizes_pyenv_3_11),
	    UNIT_TEST(test_detects_and_symbolizes_pyenv_3_12),
	    UNIT_TEST(test_detects_and_symbolizes_pyenv_3_13),
	    UNIT_TEST(test_detects_and_symbolizes_debian_static_python3_11),
	    UNIT_TEST(test_a_process_without_python_is_not_python),
	};
	int err = write_script();
	int rc;

	if (err) {
		fprintf(stderr, "python: cannot write the target script: %s\n", strerror(-err));
		return 1;
	}
	rc = unit_main("pyfind", tests, sizeof(tests) / sizeof(tests[0]));
	cleanup_script();
	return rc;
}
