// SPDX-License-Identifier: GPL-2.0
/* make bench only (tests/tools/uprobe_cost.c): the cheapest possible uprobe program, so
 * that what a probe costs at a given instruction is the trap and nothing else. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u64 hits;

SEC("uprobe")
int count_hit(void *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}
