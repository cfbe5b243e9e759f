/* ELF indexing: symbols, sections, segments and build id of real files, and errors (never
 * crashes) for truncated, garbage and corrupted ones. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "symbols/procmaps.h"
#include "unit.h"

__attribute__((noinline)) int elfsym_test_marker(int x)
{
	return x * 3 + 1;
}

/* Load bias of the mapping of e holding runtime address addr in this process. */
static int self_bias(const struct elfsym *e, uint64_t addr, uint64_t *bias)
{
	struct procmaps *pm = procmaps__load(getpid());
	const struct procmap *m = procmaps__find(pm, addr);
	int err = m ? elfsym__bias(e, m->start, m->offset, bias) : -ENOENT;

	procmaps__free(pm);
	return err;
}

static const char *libc_path(void)
{
	static Dl_info info;

	if (!dladdr((void *)malloc, &info) || !info.dli_fname)
		return NULL;
	return info.dli_fname;
}

static void test_self_exe_function_lookup(void)
{
	struct elfsym *e = elfsym__open("/proc/self/exe");
	uint64_t addr = (uint64_t)(uintptr_t)elfsym_test_marker, bias = 0, start = 0, size = 0;
	const char *needed[16];
	int n, has_libc = 0;

	CHECK(e != NULL);
	if (!e)
		return;
	CHECK_EQ_STR(elfsym__path(e), "/proc/self/exe");
	CHECK_EQ_INT(self_bias(e, addr, &bias), 0);
	CHECK_EQ_STR(elfsym__lookup(e, addr - bias + 2, &start, &size), "elfsym_test_marker");
	CHECK_EQ_INT(start, addr - bias);
	CHECK(size > 2);
	n = elfsym__needed(e, needed, 16);
	for (int i = 0; i < n; i++)
		has_libc |= !strcmp(needed[i], "libc.so.6");
	CHECK(has_libc);
	CHECK_EQ_INT(elfsym__needed(e, needed, 0), 0);
	elfsym__free(e);
}

static void test_libc_malloc_symbol_round_trip(void)
{
	const char *path = libc_path();
	struct elfsym *e;
	uint64_t vaddr = 0, size = 0, start = 0, bias = 0;
	const char *name;

	if (UNIT_SANITIZED) /* these libc functions are ASan's here; the plain build checks */
		return;
	e = path ? elfsym__open(path) : NULL;

	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(elfsym__is_dyn(e));
	CHECK_EQ_INT(elfsym__symbol(e, "malloc", &vaddr, &size), 0);
	CHECK(size > 0);
	name = elfsym__lookup(e, vaddr + 1, &start, NULL);
	CHECK(name && strstr(name, "malloc"));
	CHECK_EQ_INT(start, vaddr);
	/* the address malloc runs at in this process is its file vaddr plus the bias */
	CHECK_EQ_INT(self_bias(e, (uint64_t)(uintptr_t)malloc, &bias), 0);
	CHECK_EQ_INT(vaddr + bias, (uint64_t)(uintptr_t)malloc);
	CHECK_EQ_INT(elfsym__symbol(e, "no_such_symbol_xyz", &vaddr, &size), -ENOENT);
	/* an object symbol is found by name, but addresses resolve only to functions */
	CHECK_EQ_INT(elfsym__symbol(e, "environ", NULL, NULL), 0);
	CHECK(elfsym__build_id(e) != NULL && strlen(elfsym__build_id(e)) == 40);
	elfsym__free(e);
}

static void test_sections_read_and_offsets_agree(void)
{
	struct elfsym *e = elfsym__open("/proc/self/exe");
	uint64_t vaddr, size, off, back = 0;
	unsigned char a[64], b[64];
	int fd = open("/proc/self/exe", O_RDONLY);

	CHECK(e != NULL);
	CHECK(fd >= 0);
	if (!e || fd < 0)
		goto out;
	CHECK_EQ_INT(elfsym__section(e, ".text", &vaddr, &size, &off), 0);
	CHECK(size > sizeof(a));
	CHECK_EQ_INT(elfsym__read(e, vaddr, a, sizeof(a)), 0);
	CHECK_EQ_INT(pread(fd, b, sizeof(b), off), sizeof(b));
	CHECK(!memcmp(a, b, sizeof(a)));
	CHECK_EQ_INT(elfsym__offset_to_vaddr(e, off + 8, &back), 0);
	CHECK_EQ_INT(back, vaddr + 8);
	CHECK_EQ_INT(elfsym__vaddr_to_offset(e, vaddr + 8, &back), 0);
	CHECK_EQ_INT(back, off + 8);
	CHECK_EQ_INT(elfsym__vaddr_to_offset(e, UINT64_MAX, &back), -ENOENT);
	CHECK_EQ_INT(elfsym__section(e, ".no_such_section", NULL, NULL, NULL), -ENOENT);
	/* .bss has addresses but no file bytes */
	if (!elfsym__section(e, ".bss", &vaddr, &size, NULL) && size)
		CHECK_EQ_INT(elfsym__read(e, vaddr + size - 1, a, 1), -EFAULT);
	CHECK_EQ_INT(elfsym__read(e, UINT64_MAX - 2, a, 8), -EFAULT);
	CHECK_EQ_INT(elfsym__offset_to_vaddr(e, UINT64_MAX, &back), -ENOENT);
out:
	if (fd >= 0)
		close(fd);
	elfsym__free(e);
}

static void test_plt_stub_names_its_target(void)
{
	struct elfsym *e;
	uint64_t vaddr = 0, size = 0;
	int found = 0, named = 0;

	if (UNIT_SANITIZED) /* these libc functions are ASan's here; the plain build checks */
		return;
	e = elfsym__open("/proc/self/exe");

	CHECK(e != NULL);
	if (!e)
		return;
	/* Every stub of .plt.sec (IBT) or .plt (after the PLT0 header) names the function it
	 * jumps to; this file calls free through one of them. */
	if (!elfsym__section(e, ".plt.sec", &vaddr, &size, NULL))
		vaddr -= 16, size += 16;
	else
		CHECK_EQ_INT(elfsym__section(e, ".plt", &vaddr, &size, NULL), 0);
	for (uint64_t a = vaddr + 16; a < vaddr + size; a += 16) {
		const char *n = elfsym__plt_target(e, a);

		named += n != NULL;
		found |= n && !strcmp(n, "free");
	}
	CHECK(found);
	CHECK_EQ_INT(named, size / 16 - 1);
	CHECK(elfsym__plt_target(e, (uint64_t)0) == NULL);
	elfsym__free(e);
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, buf, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static unsigned char *read_self(size_t *len)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	struct stat st;
	unsigned char *buf = NULL;

	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st) && (buf = malloc(st.st_size)) &&
	    pread(fd, buf, st.st_size, 0) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	*len = st.st_size;
	close(fd);
	return buf;
}

static void test_garbage_and_truncated_files_are_errors(void)
{
	const char *p = "/tmp/treeprof_test_elfsym.bin";
	unsigned char junk[4096];
	size_t len;
	unsigned char *self = read_self(&len);

	CHECK(self != NULL);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	CHECK_EQ_INT(write_file(p, junk, sizeof(junk)), 0);
	errno = 0;
	CHECK(elfsym__open(p) == NULL);
	CHECK_EQ_INT(errno, ENOEXEC);
	CHECK_EQ_INT(write_file(p, "", 0), 0);
	CHECK(elfsym__open(p) == NULL);
	if (self) {
		/* an ELF header that promises section headers far beyond the file's end */
		CHECK_EQ_INT(write_file(p, self, 64), 0);
		errno = 0;
		CHECK(elfsym__open(p) == NULL);
		CHECK_EQ_INT(errno, ENOEXEC);
		CHECK_EQ_INT(write_file(p, self, len / 2), 0);
		CHECK(elfsym__open(p) == NULL);
	}
	errno = 0;
	CHECK(elfsym__open("/nonexistent/treeprof.so") == NULL);
	CHECK_EQ_INT(errno, ENOENT);
	errno = 0;
	CHECK(elfsym__open("/dev/null") == NULL);
	CHECK_EQ_INT(errno, ENOEXEC);
	unlink(p);
	free(self);
}

/* Corrupt random bytes of a real ELF file: every open either fails or gives an object
 * whose queries stay in bounds (run under valgrind to see that). */
static void test_corrupted_files_never_crash(void)
{
	const char *p = "/tmp/treeprof_test_elfsym_fuzz.bin";
	size_t len, opened = 0;
	unsigned char *self = read_self(&len), *copy;
	unsigned int seed = 12345;

	CHECK(self != NULL);
	if (!self)
		return;
	copy = malloc(len);
	CHECK(copy != NULL);
	for (int iter = 0; copy && iter < 200; iter++) {
		struct elfsym *e;
		const char *names[8];
		unsigned char b[16];

		memcpy(copy, self, len);
		/* Flip bytes in the headers and tables (the first and last 8 KiB), where a
		 * bad offset, size, count or index hurts most. */
		for (int k = 0; k < 1 + iter % 16; k++) {
			size_t at = rand_r(&seed) % 8192;

			if (rand_r(&seed) & 1)
				at = len - 1 - at % (len < 8192 ? len : 8192);
			copy[at % len] = rand_r(&seed);
		}
		if (write_file(p, copy, len))
			break;
		e = elfsym__open(p);
		if (!e)
			continue;
		opened++;
		elfsym__lookup(e, rand_r(&seed) % (1 << 20), NULL, NULL);
		elfsym__symbol(e, "main", NULL, NULL);
		elfsym__section(e, ".text", NULL, NULL, NULL);
		elfsym__read(e, rand_r(&seed) % (1 << 20), b, sizeof(b));
		elfsym__plt_target(e, rand_r(&seed) % (1 << 20));
		elfsym__needed(e, names, 8);
		elfsym__build_id(e);
		elfsym__free(e);
	}
	CHECK(opened > 0); /* most single flips leave a usable file */
	unlink(p);
	free(copy);
	free(self);
}

UNIT_MAIN("elfsym", UNIT_TEST(test_self_exe_function_lookup),
	  UNIT_TEST(test_libc_malloc_symbol_round_trip),
	  UNIT_TEST(test_sections_read_and_offsets_agree),
	  UNIT_TEST(test_plt_stub_names_its_target),
	  UNIT_TEST(test_garbage_and_truncated_files_are_errors),
	  UNIT_TEST(test_corrupted_files_never_crash))
