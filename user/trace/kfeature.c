// SPDX-License-Identifier: GPL-2.0
/* Kernel feature probes, for a load failure that an old kernel explains. Each feature is
 * probed directly (a helper is either accepted by the verifier or not), never guessed from
 * the version number: distribution kernels backport. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace/kfeature.h"

struct kfeature {
	enum bpf_func_id helper;
	const char *name;
	const char *since; /* the mainline release that brought it */
};

/* Newest first: the first one missing is what the kernel needs to be upgraded past. */
static const struct kfeature helpers[] = {
    {BPF_FUNC_loop, "the bpf_loop helper", "5.17"},
    {BPF_FUNC_find_vma, "the bpf_find_vma helper", "5.17"},
    {BPF_FUNC_task_pt_regs, "the bpf_task_pt_regs helper", "5.15"},
    {BPF_FUNC_get_current_task_btf, "the bpf_get_current_task_btf helper", "5.11"},
    {BPF_FUNC_get_task_stack, "the bpf_get_task_stack helper", "5.9"},
    {BPF_FUNC_ringbuf_reserve, "the BPF ring buffer", "5.8"},
};

int kfeature__missing(char *msg, size_t len)
{
	struct utsname u;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(msg, len,
			 "this kernel (%s) has no BTF (/sys/kernel/btf/vmlinux): treeprof needs "
			 "Linux %s or later built with CONFIG_DEBUG_INFO_BTF",
			 u.release, KFEATURE_MIN_LINUX);
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		/* 1: accepted; 0: unknown to this kernel; < 0: could not tell. */
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, helpers[i].helper, NULL))
			continue;
		snprintf(msg, len,
			 "this kernel (%s) lacks %s (Linux %s): treeprof needs Linux %s or later",
			 u.release, helpers[i].name, helpers[i].since, KFEATURE_MIN_LINUX);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Whether a perf_event program may use a hash map created without preallocation (Linux
 * 6.1 moved hash maps to the BPF memory allocator; before, the verifier refused). Probed by
 * loading "lookup key 0 in such a map; return 0": a map create and a 7-instruction load. */
bool kfeature__hash_no_prealloc(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_NO_PREALLOC);
	int map_fd, prog_fd;

	map_fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, 4, 8, 1, &mopts);
	if (map_fd < 0)
		return false;
	struct bpf_insn insns[] = {
	    /* *(u32 *)(r10 - 4) = 0 */
	    {.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0},
	    /* r2 = r10 - 4 */
	    {.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10},
	    {.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4},
	    /* r1 = the map (a two-slot load) */
	    {.code = BPF_LD | BPF_DW | BPF_IMM,
	     .dst_reg = BPF_REG_1,
	     .src_reg = BPF_PSEUDO_MAP_FD,
	     .imm = map_fd},
	    {0},
	    {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem},
	    /* return 0 */
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_PERF_EVENT, NULL, "GPL", insns,
				sizeof(insns) / sizeof(insns[0]), NULL);
	close(map_fd);
	if (prog_fd < 0)
		return false;
	close(prog_fd);
	return true;
}
