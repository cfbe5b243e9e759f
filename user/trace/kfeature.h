/* What the running kernel lacks of what treeprof's BPF programs need, said in one line. */
#ifndef TREEPROF_KFEATURE_H
#define TREEPROF_KFEATURE_H

#include <stdbool.h>
#include <stddef.h>

/* The oldest Linux release every program of treeprof loads on. */
#define KFEATURE_MIN_LINUX "5.17"

/* When the running kernel lacks a feature treeprof needs (BTF, or a BPF helper), write one
 * line naming it, the release that brought it and the running release into msg and return
 * -EOPNOTSUPP; 0 when nothing is missing (a load failure then has another cause). Loads a
 * few tiny probe programs: call it after a failed load, not on every start. */
int kfeature__missing(char *msg, size_t len);

/* Whether hash maps without preallocation are allowed in perf_event programs (Linux 6.1). */
bool kfeature__hash_no_prealloc(void);

#endif
