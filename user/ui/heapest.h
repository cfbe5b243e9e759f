/* The heap of each process as a live view estimates it from its sampled blocks, for when the
 * preloaded sampler's exact counters are absent (--mem-probe uprobes, -p).
 *
 * It keeps the accounting rules of the report (README "Memory", profile/memacct.h) as far
 * as events read as they arrive allow:
 *  - a sampled block counts from its allocation to its free; an allocation at an address the
 *    process already holds replaces that block (its free was missed);
 *  - a free of a block never seen changes nothing: so a fork child's frees of the blocks it
 *    inherited, which are its parent's memory, never count against it;
 *  - an exec ends the old image: the heap restarts at 0 and the old image's blocks are
 *    forgotten, so a later free at one of their addresses subtracts nothing (heapest__image,
 *    also at a fork: a new process holds nothing of its own yet);
 *  - an exit forgets the process (heapest__exit).
 * The tracer reads two ring buffers in turn, so a record of the old image may be read after
 * the exec's: an event older than its process's image start is ignored.
 *
 * Weights are rounded to whole bytes when a block is made, so what a process holds is an
 * exact sum. At most max_blocks blocks are followed in all (the memory stays bounded: 32 to
 * 64 bytes a block); past that, new blocks are not followed and the estimate reads low until
 * frees make room. Not thread safe. */
#ifndef TREEPROF_UI_HEAPEST_H
#define TREEPROF_UI_HEAPEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct heapest;
/* NULL with errno set. */
struct heapest *heapest__new(size_t max_blocks);
/* Takes NULL. */
void heapest__free(struct heapest *h);

/* A sampled block of pid at addr, standing for bytes (> 0), allocated at ts_ns: 0, -ENOSPC
 * (max_blocks are followed: not followed), -ESTALE (older than pid's image: ignored),
 * -EINVAL (pid <= 0, bytes <= 0) or -ENOMEM. */
int heapest__alloc(struct heapest *h, pid_t pid, uint64_t addr, double bytes, uint64_t ts_ns);
/* The block of pid at addr was freed at ts_ns; nothing when it is not followed. */
void heapest__release(struct heapest *h, pid_t pid, uint64_t addr, uint64_t ts_ns);
/* pid starts a new image at ts_ns (an exec, or a fork child's start): it holds nothing, and
 * its events older than ts_ns are ignored from now on. 0 or -ENOMEM. */
int heapest__image(struct heapest *h, pid_t pid, uint64_t ts_ns);
/* pid exited: forget it and its blocks. */
void heapest__exit(struct heapest *h, pid_t pid);

/* The bytes pid's current image holds (0 when unknown). */
uint64_t heapest__bytes(const struct heapest *h, pid_t pid);
/* The blocks followed, all processes together. */
size_t heapest__blocks(const struct heapest *h);

#endif
