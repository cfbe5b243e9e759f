/* A set of process ids (> 0), owned by its creator; not thread-safe. */
#ifndef TREEPROF_PIDSET_H
#define TREEPROF_PIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pidset;
/* NULL with errno set. */
struct pidset *pidset__new(void);
void pidset__free(struct pidset *s);
/* 0 (also when already there), -EINVAL for pid <= 0, -ENOMEM. */
int pidset__add(struct pidset *s, pid_t pid);
void pidset__del(struct pidset *s, pid_t pid);
bool pidset__has(const struct pidset *s, pid_t pid);
size_t pidset__count(const struct pidset *s);
/* Copy up to max members into out (any order); returns how many were copied. */
size_t pidset__list(const struct pidset *s, pid_t *out, size_t max);

#endif
