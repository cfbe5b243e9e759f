// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "lib/vec.h"
#include "lib/fileio.h"
#include "trace/proctree.h"

#define PF_KTHREAD 0x00200000

int proc_parse_stat(const char *text, pid_t *ppid, unsigned long *flags,
		    unsigned long long *starttime)
{
	const char *p = strrchr(text, ')');
	unsigned long long st = 0;
	unsigned long fl = 0;
	int pp = 0, field;
	char *end;

	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2; /* field 3: state */
	for (field = 3; field <= 22 && *p; field++) {
		switch (field) {
		case 4:
			pp = strtol(p, &end, 10);
			if (end == p)
				return -EINVAL;
			break;
		case 9:
			fl = strtoul(p, &end, 10);
			break;
		case 22:
			st = strtoull(p, &end, 10);
			break;
		}
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	if (field < 22)
		return -EINVAL;
	if (ppid)
		*ppid = pp;
	if (flags)
		*flags = fl;
	if (starttime)
		*starttime = st;
	return 0;
}

static int read_stat(pid_t pid, pid_t *ppid, unsigned long *flags, unsigned long long *start)
{
	char path[64], buf[1024];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = file__read_small(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	return proc_parse_stat(buf, ppid, flags, start);
}

pid_t proc_read_ppid(pid_t pid)
{
	pid_t ppid;

	return read_stat(pid, &ppid, NULL, NULL) ? -1 : ppid;
}

uint64_t proc_start_ns(pid_t pid)
{
	unsigned long long start;
	struct timespec mono, boot;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t boot_ns, delta;

	if (read_stat(pid, NULL, NULL, &start) || hz <= 0)
		return 0;
	/* starttime counts from boot (CLOCK_BOOTTIME); move it to CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	boot_ns = start * (1000000000ULL / hz);
	delta = (boot.tv_sec - mono.tv_sec) * 1000000000ULL + (boot.tv_nsec - mono.tv_nsec);
	return boot_ns > delta ? boot_ns - delta : 0;
}

char *proc_read_cmdline(pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = file__read_small(path, buf, sizeof(buf));
	if (n <= 0)
		return NULL;
	while (n > 0 && buf[n - 1] == 0)
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0 || buf[i] == '\n')
			buf[i] = ' ';
	buf[n] = 0;
	return strdup(buf);
}

char *proc_read_exe(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

void proc_read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	n = file__read_small(path, buf, len);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
}

uint64_t proc_read_rss(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long size, rss;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	if (file__read_small(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%llu %llu", &size, &rss) != 2)
		return 0;
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

bool proc_is_dead(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (file__read_small(path, buf, sizeof(buf)) <= 0)
		return true;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

int proc_check_target(pid_t pid)
{
	unsigned long flags;
	int err;

	if (pid <= 0)
		return -ESRCH;
	err = read_stat(pid, NULL, &flags, NULL);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	return (flags & PF_KTHREAD) ? -EINVAL : 0;
}

bool proc_has_bpf_caps(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return true;
	return (eff & (1ULL << CAP_BPF)) && (eff & (1ULL << CAP_PERFMON));
}

struct proc_list *proc_list__scan(void)
{
	struct proc_list *pl = calloc(1, sizeof(*pl));
	size_t cap = 0;
	struct dirent *d;
	DIR *dir;

	if (!pl)
		return NULL;
	dir = opendir("/proc");
	if (!dir) {
		free(pl);
		return NULL;
	}
	while ((d = readdir(dir))) {
		pid_t pid, ppid;
		char *end;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = strtol(d->d_name, &end, 10);
		if (*end || read_stat(pid, &ppid, NULL, NULL))
			continue;
		if (vec__grow((void **)&pl->ents, &cap, pl->n + 1, sizeof(*pl->ents))) {
			closedir(dir);
			proc_list__free(pl);
			errno = ENOMEM;
			return NULL;
		}
		pl->ents[pl->n].pid = pid;
		pl->ents[pl->n].ppid = ppid;
		pl->n++;
	}
	closedir(dir);
	return pl;
}

void proc_list__free(struct proc_list *pl)
{
	if (!pl)
		return;
	free(pl->ents);
	free(pl);
}
