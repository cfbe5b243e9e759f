// SPDX-License-Identifier: GPL-2.0
/* What the commands share. */
#include <errno.h>
#include <stdlib.h>

#include "cmd.h"

int cmd__parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

bool cmd__set_flag(const struct cmd_flag *flags, int key, void *args)
{
	for (; flags->key; flags++) {
		if (flags->key == key) {
			*(bool *)((char *)args + flags->offset) = true;
			return true;
		}
	}
	return false;
}
