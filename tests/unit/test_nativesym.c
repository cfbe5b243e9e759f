/* Native symbolization across processes: resolving in this process and in libc, proving
 * return addresses with call decoding, and fork / exec / exit semantics on real children. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "symbols/procmaps.h"
#include "symbols/nativesym.h"
#include "unit.h"

static uint64_t recorded_ret;

__attribute__((noinline, noipa)) int nativesym_test_callee(int x)
{
	recorded_ret = (uint64_t)(uintptr_t)__builtin_return_address(0);
	return x + 1;
}

__attribute__((noinline, noipa)) int nativesym_test_unrelated(int x)
{
	return x * 7;
}

/* A direct `call nativesym_test_callee` with work after it, so it is not a tail jump. */
__attribute__((noinline, noipa)) int nativesym_test_caller(int x)
{
	int r = nativesym_test_callee(x);

	return r * 2 + x;
}

static int (*volatile indirect)(int) = nativesym_test_callee;

__attribute__((noinline, noipa)) int nativesym_test_indirect_caller(int x)
{
	int r = indirect(x);

	return r * 2 + x;
}

/* strlen is an IFUNC in glibc: this calls it through a PLT stub named "strlen". */
__attribute__((noinline, noipa)) size_t nativesym_test_strlen(const char *s)
{
	return strlen(s) + 1;
}

static uint64_t addr_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static const char *self_exe(void)
{
	static char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	return exe;
}

static void test_resolves_own_function_and_libc_malloc(void)
{
	struct nativesym *sc;
	struct native_sym s;
	uint64_t fn = addr_of(nativesym_test_callee);

	if (UNIT_SANITIZED) /* these libc functions are ASan's here; the plain build checks */
		return;
	sc = nativesym__new();

	CHECK(sc != NULL);
	if (!sc)
		return;
	CHECK_EQ_INT(nativesym__refresh(sc, getpid()), 0);
	CHECK_EQ_INT(nativesym__resolve(sc, getpid(), fn + 3, &s), 0);
	CHECK_EQ_STR(s.name, "nativesym_test_callee");
	CHECK_EQ_STR(s.module, self_exe());
	CHECK_EQ_INT(s.file_addr - s.sym_start, 3);
	CHECK_EQ_INT(nativesym__resolve(sc, getpid(), addr_of(malloc), &s), 0);
	CHECK(s.name && strstr(s.name, "malloc"));
	CHECK(s.module && strstr(s.module, "libc"));
	CHECK_EQ_INT(s.file_addr, s.sym_start);
	CHECK(nativesym__maps(sc, getpid()) != NULL);
	nativesym__free(sc);
}

static void test_anonymous_memory_and_unknown_addresses(void)
{
	struct nativesym *sc = nativesym__new();
	struct native_sym s;
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(anon != MAP_FAILED);
	/* no refresh: the first resolve reads the maps itself */
	CHECK_EQ_INT(nativesym__resolve(sc, getpid(), addr_of(anon) + 8, &s), 0);
	CHECK(s.name == NULL);
	CHECK(s.module == NULL);
	CHECK_EQ_INT(nativesym__resolve(sc, getpid(), 16, &s), -ENOENT);
	CHECK_EQ_INT(nativesym__resolve(sc, 999999999, 0x400000, &s), -ENOENT);
	CHECK(nativesym__elf_at(sc, getpid(), addr_of(anon), NULL) == NULL);
	munmap(anon, 4096);
	nativesym__free(sc);
}

static void test_maps_reread_on_miss_finds_new_library_mapping(void)
{
	struct nativesym *sc = nativesym__new();
	struct native_sym s;
	int fd = open("/proc/self/exe", O_RDONLY);
	void *p;

	CHECK_EQ_INT(nativesym__refresh(sc, getpid()), 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK_EQ_INT(nativesym__resolve(sc, getpid(), addr_of(p) + 1, &s), 0);
	CHECK_EQ_STR(s.module, self_exe());
	munmap(p, 4096);
	close(fd);
	nativesym__free(sc);
}

static void test_verify_call_accepts_real_return_address(void)
{
	struct nativesym *sc = nativesym__new();
	uint64_t callee = addr_of(nativesym_test_callee), ret;

	nativesym_test_caller(1);
	ret = recorded_ret;
	CHECK(ret != 0);
	CHECK(nativesym__verify_call(sc, getpid(), ret, callee));
	CHECK(nativesym__verify_call(sc, getpid(), ret, callee + 4)); /* any pc inside it */
	CHECK(!nativesym__verify_call(sc, getpid(), ret, addr_of(nativesym_test_unrelated)));
	CHECK(!nativesym__verify_call(sc, getpid(), ret + 1, callee));
	CHECK(!nativesym__verify_call(sc, getpid(), ret, addr_of(malloc)));
	/* an indirect call (FF /2) proves nothing */
	nativesym_test_indirect_caller(1);
	CHECK(recorded_ret != ret);
	CHECK(!nativesym__verify_call(sc, getpid(), recorded_ret, callee));
	nativesym__free(sc);
}

/* Find a `call rel32` in this executable's .text whose target is a PLT stub for name. */
static uint64_t find_plt_call_site(struct nativesym *sc, const char *name)
{
	uint64_t bias, vaddr, size;
	struct elfsym *e = nativesym__elf_at(sc, getpid(), addr_of(nativesym_test_callee), &bias);
	unsigned char *text;
	uint64_t found = 0;

	if (!e || elfsym__section(e, ".text", &vaddr, &size, NULL) || !(text = malloc(size)))
		return 0;
	if (!elfsym__read(e, vaddr, text, size))
		for (uint64_t i = 0; !found && i + 5 <= size; i++) {
			int32_t rel;
			const char *t;

			if (text[i] != 0xe8)
				continue;
			memcpy(&rel, text + i + 1, 4);
			t = elfsym__plt_target(e, vaddr + i + 5 + (int64_t)rel);
			if (t && !strcmp(t, name))
				found = vaddr + i + 5 + bias;
		}
	free(text);
	return found;
}

static void test_verify_call_through_plt_stub(void)
{
	struct nativesym *sc;
	uint64_t ret;

	if (UNIT_SANITIZED) /* these libc functions are ASan's here; the plain build checks */
		return;
	sc = nativesym__new();
	ret = find_plt_call_site(sc, "free");

	CHECK(ret != 0);
	CHECK(nativesym__verify_call(sc, getpid(), ret, addr_of(free)));
	CHECK(nativesym__verify_call(sc, getpid(), ret, addr_of(free) + 1));
	CHECK(!nativesym__verify_call(sc, getpid(), ret, addr_of(nativesym_test_unrelated)));
	CHECK(!nativesym__verify_call(sc, getpid(), ret, addr_of(getpid)));
	/* &strlen here is the implementation the resolver chose (__strlen_avx2, which has
	 * no symbol in a stripped libc; valgrind substitutes its own, with one) */
	ret = find_plt_call_site(sc, "strlen");
	CHECK(ret != 0);
	CHECK(nativesym_test_strlen("abc") == 4);
	CHECK(nativesym__verify_call(sc, getpid(), ret, addr_of(strlen)));
	CHECK(!nativesym__verify_call(sc, getpid(), ret, addr_of(nativesym_test_unrelated)));
	nativesym__free(sc);
}

/* fork a child that maps a file region after a go signal, reports its address, and waits. */
static void test_fork_shares_parent_maps_until_miss_then_survives_exit(void)
{
	struct nativesym *sc = nativesym__new();
	int go[2], back[2], st;
	uint64_t child_addr = 0;
	struct native_sym s;
	pid_t child;
	char c;

	CHECK_EQ_INT(pipe(go), 0);
	CHECK_EQ_INT(pipe(back), 0);
	CHECK_EQ_INT(nativesym__refresh(sc, getpid()), 0);
	child = fork();
	if (child == 0) {
		int fd = open("/proc/self/exe", O_RDONLY);
		void *p;

		if (read(go[0], &c, 1) != 1)
			_exit(1);
		p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
		child_addr = addr_of(p);
		if (write(back[1], &child_addr, sizeof(child_addr)) != sizeof(child_addr))
			_exit(1);
		(void)read(go[0], &c, 1);
		_exit(0);
	}
	CHECK(child > 0);
	nativesym__fork(sc, child, getpid());
	CHECK(nativesym__maps(sc, child) == nativesym__maps(sc, getpid()));
	CHECK_EQ_INT(nativesym__resolve(sc, child, addr_of(nativesym_test_callee) + 1, &s), 0);
	CHECK_EQ_STR(s.name, "nativesym_test_callee");
	/* one ELF object for both processes */
	CHECK(nativesym__elf_at(sc, child, addr_of(nativesym_test_callee), NULL) ==
	      nativesym__elf_at(sc, getpid(), addr_of(nativesym_test_callee), NULL));

	CHECK_EQ_INT(write(go[1], "g", 1), 1);
	CHECK_EQ_INT(read(back[0], &child_addr, sizeof(child_addr)), sizeof(child_addr));
	/* the child's new mapping misses the inherited maps: its own are read */
	CHECK_EQ_INT(nativesym__resolve(sc, child, child_addr + 4096, &s), 0);
	CHECK_EQ_STR(s.module, self_exe());
	CHECK(nativesym__maps(sc, child) != nativesym__maps(sc, getpid()));

	CHECK_EQ_INT(write(go[1], "x", 1), 1);
	CHECK_EQ_INT(waitpid(child, &st, 0), child);
	nativesym__exit(sc, child);
	/* late samples of the dead child still resolve */
	CHECK_EQ_INT(nativesym__resolve(sc, child, child_addr + 1, &s), 0);
	CHECK_EQ_STR(s.module, self_exe());
	CHECK_EQ_INT(nativesym__resolve(sc, child, addr_of(nativesym_test_callee), &s), 0);
	CHECK_EQ_STR(s.name, "nativesym_test_callee");
	CHECK(nativesym__maps(sc, child) != NULL);
	close(go[0]), close(go[1]), close(back[0]), close(back[1]);
	nativesym__free(sc);
}

static void test_exec_replaces_maps(void)
{
	struct nativesym *sc = nativesym__new();
	const struct procmaps *pm;
	char exe[PATH_MAX] = "", link[64];
	int found = 0, st;
	pid_t child;

	CHECK_EQ_INT(nativesym__refresh(sc, getpid()), 0);
	child = fork();
	if (child == 0) {
		execl("/bin/sleep", "sleep", "5", (char *)NULL);
		_exit(127);
	}
	CHECK(child > 0);
	nativesym__fork(sc, child, getpid());
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)child);
	for (int i = 0; i < 500 && !strstr(exe, "sleep"); i++) {
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);

		exe[n > 0 ? n : 0] = '\0';
		usleep(2000);
	}
	CHECK(strstr(exe, "sleep") != NULL);
	nativesym__exec(sc, child);
	pm = nativesym__maps(sc, child);
	CHECK(pm != NULL && pm != nativesym__maps(sc, getpid()));
	for (size_t i = 0; pm && i < pm->n; i++)
		found |= !strcmp(pm->maps[i].path, exe);
	CHECK(found);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	nativesym__free(sc);
}

static void test_open_in_uses_process_root(void)
{
	int fd = nativesym__open_in(getpid(), "/proc/self/exe");

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(nativesym__open_in(getpid(), "relative/path"), -EINVAL);
	CHECK_EQ_INT(nativesym__open_in(getpid(), "/no/such/file"), -ENOENT);
	nativesym__free(NULL);
}

UNIT_MAIN("nativesym", UNIT_TEST(test_resolves_own_function_and_libc_malloc),
	  UNIT_TEST(test_anonymous_memory_and_unknown_addresses),
	  UNIT_TEST(test_maps_reread_on_miss_finds_new_library_mapping),
	  UNIT_TEST(test_verify_call_accepts_real_return_address),
	  UNIT_TEST(test_verify_call_through_plt_stub),
	  UNIT_TEST(test_fork_shares_parent_maps_until_miss_then_survives_exit),
	  UNIT_TEST(test_exec_replaces_maps), UNIT_TEST(test_open_in_uses_process_root))
