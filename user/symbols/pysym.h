/* Python frame symbolization: a struct tp_pyframe (code object address, instruction offset,
 * check value) from the BPF walker becomes a name, a file and a line.
 *
 * The code object is read from the target with process_vm_readv once per (process, address,
 * check) and cached; every size, pointer and string read from the target is bounded (names
 * and files are cut at 1 KiB, line tables refused over 1 MiB). A code object whose fields no
 * longer hash to the check value the kernel saw has been freed and its memory reused: that
 * frame is reported stale, never misnamed.
 *
 * A forked child shares its parent's cache (the code objects existing at fork are the same
 * objects at the same addresses); exec drops what a process knew.
 */
#ifndef TREEPROF_PYSYM_H
#define TREEPROF_PYSYM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "treeprof.h"

struct py_runtime_info;
struct pysym;

struct pysym_frame {
	const char *name;     /* co_qualname (3.11+) or co_name, UTF-8 */
	const char *file;     /* co_filename, UTF-8 */
	uint32_t firstlineno; /* co_firstlineno */
	uint32_t line;	      /* line of the instruction, 0 when unknown */
};

/* NULL with errno set (ENOMEM). Strings handed out live until pysym__free. */
struct pysym *pysym__new(void);
void pysym__free(struct pysym *ps);

/* pid runs the interpreter described by info (from pyfind__detect): 0 or -ENOMEM. */
int pysym__set_runtime(struct pysym *ps, pid_t pid, const struct py_runtime_info *info);
/* child was forked from parent: it reads code objects like the parent and may use the
 * parent's cache entries. No effect when the parent is unknown. */
void pysym__fork(struct pysym *ps, pid_t child, pid_t parent);
/* pid replaced its image: forget its interpreter and its own cache entries. */
void pysym__exec(struct pysym *ps, pid_t pid);

/* Symbolize one frame sampled in pid: 0 and *out, or
 *   -ENOENT  no interpreter known for pid (pysym__set_runtime not called)
 *   -ESTALE  the code object at that address is not the one the kernel saw
 *   -EFAULT  the code object or its strings could not be read or make no sense
 *   -ESRCH   the process is gone and the frame was not in the cache
 */
int pysym__resolve(struct pysym *ps, pid_t pid, const struct tp_pyframe *f,
		   struct pysym_frame *out);

/* Decode a compact CPython str object, header then data, held in obj[0, objlen) (as read
 * from a target: untrusted) into UTF-8 in out[cap], cut at 1 KiB of characters. 0; -EAGAIN
 * with *need set when the object needs more bytes than objlen; -EFAULT when it is not a
 * compact str of a kind we know. */
struct py_code_layout;
int pystr__decode(const struct py_code_layout *L, const uint8_t *obj, size_t objlen, size_t *need,
		  char *out, size_t cap);

#endif
