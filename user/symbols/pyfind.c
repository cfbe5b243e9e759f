/* Interpreter detection (see pyfind.h). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "symbols/procmaps.h"
#include "symbols/pyfind.h"
#include "symbols/nativesym.h"

#define MAX_CANDIDATES 4 /* the executable and the libpython mappings we look at */

/* One ELF file mapped in the process that may hold the interpreter. */
struct candidate {
	const char *path; /* as in /proc/PID/maps; valid while the maps live */
	struct elfsym *elf;
	uint64_t bias;
	bool is_lib; /* libpython3.X.so */
};

int pyfind__read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (len == 0)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* "libpython3.X..." or "python3.X...": the minor version X, or -1. */
static int minor_from_name(const char *path)
{
	const char *b = base_name(path);
	char *end;
	long minor;

	if (!strncmp(b, "lib", 3))
		b += 3;
	if (strncmp(b, "python3.", 8))
		return -1;
	minor = strtol(b + 8, &end, 10);
	if (end == b + 8 || minor < 0 || minor > 99)
		return -1;
	return (int)minor;
}

static bool is_libpython(const char *path)
{
	return !strncmp(base_name(path), "libpython3.", 11) && strstr(base_name(path), ".so");
}

static bool needs_libpython(const struct elfsym *e)
{
	const char *needed[64];
	int n = elfsym__needed(e, needed, 64);

	for (int i = 0; i < n; i++) {
		if (is_libpython(needed[i]))
			return true;
	}
	return false;
}

static int exe_path(pid_t pid, char *buf, size_t size)
{
	char link[64];
	ssize_t n;
	char *del;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	del = strstr(buf, " (deleted)");
	if (del && del[10] == '\0')
		*del = '\0';
	return 0;
}

/* The executable first, then each distinct libpython, opened through nativesym. */
static int find_candidates(struct nativesym *sc, pid_t pid, const struct procmaps *pm,
			   const char *exe, struct candidate *c)
{
	int n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < pm->n && n < MAX_CANDIDATES; i++) {
			const struct procmap *m = &pm->maps[i];
			bool lib = is_libpython(m->path);
			bool dup = false;

			if (pass == 0 ? strcmp(m->path, exe) != 0 : !lib)
				continue;
			for (int j = 0; j < n; j++)
				dup |= !strcmp(c[j].path, m->path);
			if (dup)
				continue;
			c[n].elf = nativesym__elf_at(sc, pid, m->start, &c[n].bias);
			if (!c[n].elf)
				continue;
			c[n].path = m->path;
			c[n].is_lib = lib;
			n++;
			if (pass == 0)
				break;
		}
	}
	return n;
}

/* Runtime address of a defined data symbol, executable first (copy relocations). */
static int data_symbol(const struct candidate *c, int n, const char *name, uint64_t *addr,
		       int *which)
{
	for (int i = 0; i < n; i++) {
		uint64_t vaddr;

		if (elfsym__symbol(c[i].elf, name, &vaddr, NULL) || vaddr == 0)
			continue;
		*addr = vaddr + c[i].bias;
		if (which)
			*which = i;
		return 0;
	}
	return -ENOENT;
}

/* Py_Version (3.11+) straight from the file (.rodata), else the file names. */
static uint32_t find_version(const struct candidate *c, int n, int core)
{
	int minor;

	for (int i = 0; i < n; i++) {
		uint64_t vaddr, v;

		if (elfsym__symbol(c[i].elf, "Py_Version", &vaddr, NULL) || vaddr == 0)
			continue;
		if (elfsym__read(c[i].elf, vaddr, &v, sizeof(v)))
			continue; /* a copy in .bss: try the next file */
		if ((v >> 24) == 3)
			return (uint32_t)v;
	}
	minor = minor_from_name(c[core].path);
	for (int i = 0; minor < 0 && i < n; i++)
		minor = minor_from_name(c[i].path);
	return minor < 0 ? 0 : 0x03000000u | (uint32_t)minor << 16;
}

static int find_runtime(const struct candidate *c, int n, uint64_t *runtime, int *which)
{
	if (!data_symbol(c, n, "_PyRuntime", runtime, which))
		return 0;
	/* Stripped of .dynsym entries: 3.10+ keep _PyRuntime in its own section. */
	for (int i = 0; i < n; i++) {
		uint64_t vaddr, size;

		if (elfsym__section(c[i].elf, ".PyRuntime", &vaddr, &size, NULL) || !size)
			continue;
		*runtime = vaddr + c[i].bias;
		*which = i;
		return 0;
	}
	return -ENOENT;
}

static int layout_for(pid_t pid, uint32_t version, uint64_t runtime, struct tp_pyconfig *cfg,
		      struct py_code_layout *code)
{
	unsigned char buf[PYOFFSETS_DEBUG_READ];
	unsigned int minor = PY_MINOR(version);
	int err;

	if (minor < 13) {
		err = pyoffsets__table(minor, cfg, code);
		if (err)
			return err;
		cfg->version = code->version = version;
		return 0;
	}
	err = pyfind__read(pid, runtime, buf, sizeof(buf));
	if (err)
		return err;
	err = pyoffsets__parse_debug(buf, sizeof(buf), cfg, code);
	if (err)
		return err;
	/* The published version is the truth; it must still be the minor the files named. */
	return PY_MINOR(cfg->version) == minor ? 0 : -EINVAL;
}

static int detect(struct nativesym *sc, pid_t pid, struct tp_pyconfig *cfg,
		  struct py_runtime_info *info)
{
	struct candidate c[MAX_CANDIDATES];
	const struct procmaps *pm;
	char exe[PATH_MAX];
	uint64_t runtime, addr;
	uint32_t version;
	int n, err, holder, core = 0;

	err = nativesym__refresh(sc, pid);
	if (err)
		return err;
	pm = nativesym__maps(sc, pid);
	if (!pm)
		return -ESRCH;
	err = exe_path(pid, exe, sizeof(exe));
	if (err)
		return err;
	n = find_candidates(sc, pid, pm, exe, c);
	if (n == 0)
		return -ENOENT;
	if (n == 1 && needs_libpython(c[0].elf))
		return -EAGAIN; /* right after exec: ld.so has not mapped libpython yet */
	for (int i = 0; i < n; i++) {
		if (c[i].is_lib) {
			core = i; /* interpreter code lives in libpython when there is one */
			break;
		}
	}
	if (find_runtime(c, n, &runtime, &holder))
		return -ENOENT;
	version = find_version(c, n, core);
	if (!version)
		return -ENOENT;
	if (PY_MINOR(version) < 8)
		return -ENOTSUP;

	err = layout_for(pid, version, runtime, cfg, &info->code);
	if (!err)
		err = tp_pyconfig_frame_read(cfg);
	if (err)
		return err;
	cfg->runtime = runtime;
	if (data_symbol(c, n, "PyCode_Type", &info->code.code_type, NULL))
		info->code.code_type = 0;
	if (data_symbol(c, n, "PyUnicode_Type", &info->code.str_type, NULL))
		info->code.str_type = 0;
	if (PY_MINOR(cfg->version) >= 13) {
		if (!data_symbol(c, n, "_Py_NoneStruct", &addr, NULL))
			cfg->none_addr = addr;
		/* LOCAL, in .symtab only: absent from stripped builds. */
		if (!elfsym__symbol(c[core].elf, "_Py_InitCleanup", &addr, NULL) && addr)
			cfg->init_cleanup = addr + c[core].bias;
	}
	info->version = cfg->version;
	info->runtime = runtime;
	info->bias = c[holder].bias;
	snprintf(info->path, sizeof(info->path), "%s", c[holder].path);
	return 0;
}

int pyfind__detect(struct nativesym *sc, pid_t pid, struct tp_pyconfig *cfg,
		   struct py_runtime_info *info)
{
	struct nativesym *own = NULL;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	memset(info, 0, sizeof(*info));
	if (!sc) {
		own = nativesym__new();
		if (!own)
			return -ENOMEM;
		sc = own;
	}
	err = detect(sc, pid, cfg, info);
	nativesym__free(own);
	if (err) {
		memset(cfg, 0, sizeof(*cfg));
		memset(info, 0, sizeof(*info));
	}
	return err;
}
