/* Find the CPython interpreter of a live process: the ELF that holds it (the executable for a
 * static build, else libpython3.X.so), its version, the runtime address of _PyRuntime and the
 * offsets the BPF walker and the symbolizer need (pyoffsets.h).
 *
 * Files are opened the way the process sees them (through nativesym: /proc/PID/root), so
 * targets in another mount namespace work. Data symbols are resolved executable first, as
 * ld.so does, because an embedding program may own _PyRuntime through a copy relocation.
 */
#ifndef TREEPROF_PYFIND_H
#define TREEPROF_PYFIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbols/pyoffsets.h"
#include "treeprof.h"

struct nativesym;

/* What the symbolizer needs to read code objects of one process image. */
struct py_runtime_info {
	uint32_t version;	/* PY_VERSION_HEX; micro/level 0 when only a file name told it */
	uint64_t runtime;	/* runtime address of _PyRuntime */
	uint64_t bias;		/* load bias of the ELF holding _PyRuntime */
	char path[TP_PATH_LEN]; /* that ELF, as the process sees it */
	struct py_code_layout code;
};

/* Detect the interpreter of pid's current image and fill *cfg (for the BPF walker: version,
 * offsets, runtime, none_addr and init_cleanup) and *info. sc may be NULL (a private cache
 * is used for the call). Returns 0, or:
 *   -ENOENT   no CPython in the process (no _PyRuntime, or no version found)
 *   -EAGAIN   the executable needs libpython but it is not mapped yet (just after exec,
 *             before ld.so ran): try again on a later sample
 *   -ENOTSUP  a CPython we have no layout for (3.7 and older, unknown 3.13+ layouts,
 *             free-threaded builds)
 *   -EINVAL   _Py_DebugOffsets present but not valid
 *   -ESRCH    the process is gone; other negative errno from reading it
 */
int pyfind__detect(struct nativesym *sc, pid_t pid, struct tp_pyconfig *cfg,
		   struct py_runtime_info *info);

/* Read len bytes at addr in pid with process_vm_readv: 0, -EFAULT when not all of the range
 * is readable, or the negative errno (-ESRCH: gone, -EPERM: not allowed). */
int pyfind__read(pid_t pid, uint64_t addr, void *buf, size_t len);

#endif
