// SPDX-License-Identifier: GPL-2.0
/* The slow paths of vec.h: the fast "already fits" test is inline there. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/vec.h"

static int vec__realloc(void **arr, size_t *cap, size_t need, size_t elem, size_t max)
{
	size_t ncap = *cap > VEC_MIN_CAP ? *cap : VEC_MIN_CAP;
	void *p;

	/* no object may exceed PTRDIFF_MAX bytes: refuse before asking realloc */
	if (!elem || need > PTRDIFF_MAX / elem)
		return -ENOMEM;
	if (max > PTRDIFF_MAX / elem)
		max = PTRDIFF_MAX / elem;
	while (ncap < need)
		ncap = ncap > max / 2 ? max : ncap * 2;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int vec__grow_slow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	return vec__realloc(arr, cap, need, elem, SIZE_MAX);
}

int vec__grow32_slow(void **arr, uint32_t *cap, size_t need, size_t elem)
{
	size_t c = *cap;
	int err;

	if (need <= *cap)
		return 0;
	if (need > UINT32_MAX)
		return -ENOSPC;
	err = vec__realloc(arr, &c, need, elem, UINT32_MAX);
	if (!err)
		*cap = (uint32_t)c;
	return err;
}
