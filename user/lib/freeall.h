/* free_all(a, b, ...): free() each pointer given, NULL ones included — the arrays and
 * strings a destructor owns, in one line instead of one free() per field. */
#ifndef TREEPROF_LIB_FREEALL_H
#define TREEPROF_LIB_FREEALL_H

#include <stddef.h>
#include <stdlib.h>

static inline void free_each(void *const *ptrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ptrs[i]);
}

#define free_all(...)                                                                              \
	free_each((void *const[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))

#endif
