/* One ELF file: its symbols, sections, program headers and build id, read with libelf.
 * Every offset, size and string in the file is treated as untrusted: lookups are bounded
 * by the file's real size and a malformed file yields errors, never out-of-range reads. */
#ifndef TREEPROF_ELFSYM_H
#define TREEPROF_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfsym;

/* Open and index the ELF file at path (function and object symbols from .symtab and
 * .dynsym). NULL with errno set: ENOENT, ENOEXEC (not ELF / malformed), ENOMEM. */
struct elfsym *elfsym__open(const char *path);
/* Same, from an open descriptor (duplicated; the caller keeps its own). */
struct elfsym *elfsym__open_fd(int fd, const char *display_path);
void elfsym__free(struct elfsym *e);

const char *elfsym__path(const struct elfsym *e);
/* Hex build id from .note.gnu.build-id, or NULL. */
const char *elfsym__build_id(const struct elfsym *e);
/* ET_EXEC (not relocated) or ET_DYN (PIE executable or shared object). */
bool elfsym__is_dyn(const struct elfsym *e);

/* The function symbol containing the file virtual address vaddr: its name, start and size
 * via the optional out pointers; NULL when none contains it. Zero-size symbols match only
 * up to the next symbol. */
const char *elfsym__lookup(const struct elfsym *e, uint64_t vaddr, uint64_t *start, uint64_t *size);
/* Exact symbol by name (functions and objects; .dynsym and .symtab, LOCAL included).
 * 0 and *vaddr and *size set, or -ENOENT. */
int elfsym__symbol(const struct elfsym *e, const char *name, uint64_t *vaddr, uint64_t *size);
/* Section by name: 0 and its address, size and file offset, or -ENOENT. */
int elfsym__section(const struct elfsym *e, const char *name, uint64_t *vaddr, uint64_t *size,
		    uint64_t *file_off);
/* Copy len bytes found at file virtual address vaddr from the file (PT_LOAD contents,
 * not .bss). 0, or -EFAULT when the range is not entirely file-backed. */
int elfsym__read(const struct elfsym *e, uint64_t vaddr, void *buf, size_t len);
/* Translate a file offset inside a PT_LOAD segment to its file virtual address:
 * 0 and *vaddr, or -ENOENT. */
int elfsym__offset_to_vaddr(const struct elfsym *e, uint64_t file_off, uint64_t *vaddr);
/* The reverse: the file offset of file virtual address vaddr (what a uprobe is placed by):
 * 0 and *file_off, or -ENOENT when vaddr has no file bytes. */
int elfsym__vaddr_to_offset(const struct elfsym *e, uint64_t vaddr, uint64_t *file_off);
/* Load bias of a mapping of this file at runtime address map_start with file offset
 * map_offset: runtime address = file vaddr + bias. -ENOENT if no PT_LOAD matches. */
int elfsym__bias(const struct elfsym *e, uint64_t map_start, uint64_t map_offset, uint64_t *bias);
/* DT_NEEDED entries; returns how many (up to max), names valid while e lives. */
int elfsym__needed(const struct elfsym *e, const char **names, int max);
/* x86-64: the name of the symbol whose GOT slot the PLT stub at file vaddr stub jumps
 * through (`[endbr64] [bnd] jmp *slot(%rip)`, slot named by a JUMP_SLOT or GLOB_DAT
 * relocation against .dynsym), or NULL when stub is not such a stub. Valid while e lives. */
const char *elfsym__plt_target(const struct elfsym *e, uint64_t stub);
/* True when name is defined here as an STT_GNU_IFUNC: its value is a resolver, and the
 * function a call through its PLT slot reaches is whichever one that resolver chose. */
bool elfsym__is_ifunc(const struct elfsym *e, const char *name);

#endif
