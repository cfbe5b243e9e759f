/* Native symbolization for the processes of a traced tree: per-process mappings (from
 * /proc/PID/maps), ELF files opened through /proc/PID/root so targets in another mount
 * namespace resolve, and an ELF cache shared across processes (keyed by device and inode,
 * so forty workers of one interpreter open it once). Maps survive a process's exit so late
 * samples still resolve; forked children share their parent's maps until they exec. */
#ifndef TREEPROF_NATIVESYM_H
#define TREEPROF_NATIVESYM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct elfsym;
struct procmaps;

struct native_sym {
	const char *name;   /* symbol, or NULL when the address is in a file without one */
	const char *module; /* path of the file as the process sees it, or NULL (anonymous) */
	uint64_t file_addr; /* address in the file's own virtual address space */
	uint64_t sym_start; /* file address where the symbol starts (0 if name is NULL) */
};

struct nativesym;

struct nativesym *nativesym__new(void);
void nativesym__free(struct nativesym *sc);

/* Read pid's maps now (call when a process is first seen and after exec). */
int nativesym__refresh(struct nativesym *sc, pid_t pid);
/* A forked child: it shares the parent's maps until it execs or misses. */
void nativesym__fork(struct nativesym *sc, pid_t child, pid_t parent);
/* pid replaced its image: forget its maps and read them anew. */
void nativesym__exec(struct nativesym *sc, pid_t pid);
/* pid exited: keep what is known for late samples; no more reads of /proc/PID. */
void nativesym__exit(struct nativesym *sc, pid_t pid);

/* Resolve addr in pid: 0 and *out (strings valid while sc lives), or -ENOENT when no
 * mapping holds it (maps are re-read once on a miss while the process lives). */
int nativesym__resolve(struct nativesym *sc, pid_t pid, uint64_t addr, struct native_sym *out);
/* True when the instruction right before ret_addr is a call whose target is the start of
 * the function that contains callee_pc (direct call, or a PLT stub for it): proof that
 * ret_addr is a real return address of a frame that called callee_pc's function. */
bool nativesym__verify_call(struct nativesym *sc, pid_t pid, uint64_t ret_addr, uint64_t callee_pc);
/* The ELF file mapped at addr in pid and its load bias (runtime = file vaddr + bias), or
 * NULL. The elfsym belongs to the cache. */
struct elfsym *nativesym__elf_at(struct nativesym *sc, pid_t pid, uint64_t addr, uint64_t *bias);
/* pid's current maps (NULL if unknown); owned by the cache. */
const struct procmaps *nativesym__maps(struct nativesym *sc, pid_t pid);
/* Open path as the process pid sees it (through /proc/PID/root), O_RDONLY|O_CLOEXEC. */
int nativesym__open_in(pid_t pid, const char *path);

#endif
