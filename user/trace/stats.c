// SPDX-License-Identifier: GPL-2.0
/* BPF statistics: names for the TP_STAT_* counters, sums over CPUs, the programs' cost. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "treeprof.h"
#include "trace/stats.h"
#include "profile/profile.h"

static const char *const stat_names[TP_STAT_NR] = {
    [TP_STAT_SAMPLES] = "bpf_samples",
    [TP_STAT_RB_DROPS] = "ringbuf_drops",
    [TP_STAT_KSTACK_ERR] = "kernel_stack_errors",
    [TP_STAT_USTACK_ERR] = "user_stack_errors",
    [TP_STAT_FORKS] = "forks",
    [TP_STAT_TRACED_FULL] = "traced_map_full",
    [TP_STAT_EXECS] = "execs",
    [TP_STAT_EXITS] = "exits",
    [TP_STAT_PY_NO_TSTATE] = "python_no_thread_state",
    [TP_STAT_PY_READ_FAIL] = "python_read_failures",
    [TP_STAT_PY_TRUNCATED] = "python_truncated_stacks",
    [TP_STAT_PY_NO_FRAME] = "python_idle_no_frame",
    [TP_STAT_MEM_CALLS] = "mem_calls",
    [TP_STAT_MEM_SAMPLED] = "mem_sampled",
    [TP_STAT_MEM_LIVE_FULL] = "mem_live_map_full",
    [TP_STAT_MEM_NESTED] = "mem_nested_calls",
    [TP_STAT_MEM_VMA_BUSY] = "mem_mprotect_unresolved",
};

const char *stats__name(uint32_t k)
{
	return k < TP_STAT_NR ? stat_names[k] : NULL;
}

/* Counter k summed over CPUs, with vals a scratch array of ncpu values. 0 or -errno. */
static int sum_counter(int map_fd, __u32 k, __u64 *vals, int ncpu, uint64_t *value)
{
	if (bpf_map_lookup_elem(map_fd, &k, vals))
		return -errno;
	*value = 0;
	for (int c = 0; c < ncpu; c++)
		*value += vals[c];
	return 0;
}

int stats__counter(int map_fd, const char *name, uint64_t *value)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	__u64 *vals;
	__u32 k;

	for (k = 0; k < TP_STAT_NR; k++)
		if (stat_names[k] && !strcmp(stat_names[k], name))
			break;
	if (k == TP_STAT_NR)
		return -ENOENT;
	vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	if (!vals)
		return -ENOMEM;
	err = sum_counter(map_fd, k, vals, ncpu, value);
	free(vals);
	return err;
}

void stats__store_counters(int map_fd, bool mem, struct profile *prof)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;
	uint64_t v = 0;

	vals = ncpu > 0 ? calloc(ncpu, sizeof(*vals)) : NULL;
	if (!vals)
		return;
	for (__u32 k = 0; k < TP_STAT_NR; k++) {
		if (!stat_names[k] || sum_counter(map_fd, k, vals, ncpu, &v))
			continue;
		if (!mem && !strncmp(stat_names[k], "mem_", 4))
			continue; /* no --mem: no memory statistics */
		profile__set_stat(prof, stat_names[k], v);
	}
	free(vals);
}

void stats__store_cost(struct bpf_object *obj, struct profile *prof)
{
	struct bpf_program *prog;
	uint64_t run_ns = 0, run_cnt = 0;
	struct rusage ru;

	bpf_object__for_each_program(prog, obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		run_ns += info.run_time_ns;
		run_cnt += info.run_cnt;
		if (!strcmp(bpf_program__name(prog), "on_sample")) {
			profile__set_stat(prof, "bpf_sample_run_ns", info.run_time_ns);
			profile__set_stat(prof, "bpf_sample_run_cnt", info.run_cnt);
		}
	}
	profile__set_stat(prof, "bpf_run_ns", run_ns);
	profile__set_stat(prof, "bpf_run_cnt", run_cnt);
	if (!getrusage(RUSAGE_SELF, &ru))
		profile__set_stat(prof, "treeprof_cpu_ns",
				  (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
				      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL);
}
