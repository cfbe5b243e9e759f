/* Turns one kernel sample into an interned profile stack: Python frames (root first),
 * then native user frames that can be proven real, then kernel frames at the leaf end.
 * Also finds the interpreter of each new process image for the BPF walker. */
#ifndef TREEPROF_SYMBOLIZE_H
#define TREEPROF_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct profile;
struct tp_sample;
struct tp_pyconfig;

struct symbolizer;

/* native: keep the interpreter's own native frames under Python frames. NULL + errno. */
struct symbolizer *symbolizer__new(bool native);
void symbolizer__free(struct symbolizer *s);

/* Intern the sample's stack in p: 0 and *stack_id, or negative errno. */
int symbolizer__stack(struct symbolizer *s, struct profile *p, const struct tp_sample *smp,
		      uint32_t *stack_id);

/* Process lifecycle, so maps and caches follow the tree. */
void symbolizer__seen(struct symbolizer *s, pid_t pid);
void symbolizer__fork(struct symbolizer *s, pid_t child, pid_t parent);
void symbolizer__exec(struct symbolizer *s, pid_t pid);
void symbolizer__exit(struct symbolizer *s, pid_t pid);

/* Find the Python interpreter in pid's current image: 0 and *cfg for the BPF walker,
 * -ENOENT when the process runs no Python we know, other negative errno on failure. */
int symbolizer__python(struct symbolizer *s, pid_t pid, struct tp_pyconfig *cfg);

/* Counters for the end of the run: name or NULL past the end. */
const char *symbolizer__stat_at(const struct symbolizer *s, uint32_t i, uint64_t *value);

#endif
