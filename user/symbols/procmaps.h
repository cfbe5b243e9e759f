/* A process's memory mappings, from /proc/PID/maps. */
#ifndef TREEPROF_PROCMAPS_H
#define TREEPROF_PROCMAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procmap {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;     /* file offset of start */
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	char perms[5]; /* "r-xp" */
	char *path;    /* as /proc shows it: "/usr/lib/x.so", "[heap]", "" for anonymous */
};

struct procmaps {
	struct procmap *maps; /* sorted by start, non-overlapping */
	size_t n;
};

/* Parse the text of a maps file; malformed lines are skipped. NULL with errno on failure. */
struct procmaps *procmaps__parse(const char *text, size_t len);
/* Read /proc/PID/maps. NULL with errno set (ENOENT / ESRCH when the process is gone). */
struct procmaps *procmaps__load(pid_t pid);
/* The mapping containing addr, or NULL. */
const struct procmap *procmaps__find(const struct procmaps *pm, uint64_t addr);
void procmaps__free(struct procmaps *pm);

#endif
