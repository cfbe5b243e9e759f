/* SPDX-License-Identifier: GPL-2.0 */
/* What every part of treeprof's BPF program shares: the traced set, the interpreter
 * configs, the two ring buffers, the statistics, and the helpers that write records.
 * Included first by treeprof.bpf.c, and by each *.bpf.h that uses it (they are all parts of
 * that one object: maps are defined here once, in its only translation unit). */
#ifndef TREEPROF_COMMON_BPF_H
#define TREEPROF_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "treeprof.h"

/* --native: the full frame-pointer user stack for Python processes too. */
const volatile bool native_stacks = false;
/* Set by userspace: wake the reader once this much sample data waits (a quarter). */
const volatile __u64 wake_bytes = 2 << 20;

/* A hash map with one entry per traced process, keyed by its tgid. */
#define PROCESS_MAP(name, value_type)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, TP_MAX_TRACED);                                                \
		__type(key, __u32);                                                                \
		__type(value, value_type);                                                         \
	} name SEC(".maps")

/* The traced set: every process of the tree, kept current by the fork and exit programs. */
PROCESS_MAP(traced, struct tp_proc);
/* Where the interpreter of a Python process keeps its state (set by userspace). */
PROCESS_MAP(pyconfigs, struct tp_pyconfig);

/* Process events: small, never starved by samples. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} proc_events SEC(".maps");

/* CPU samples and memory records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by userspace (--ringbuf-mb) */
} samples SEC(".maps");

/* Where a CPU sample is put together before it goes on the ring packed (tp_psample). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tp_psample);
} psample_buf SEC(".maps");

/* TP_STAT_* counters, per CPU; userspace sums and reports them at the end of a run. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TP_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

static __always_inline void fill_hdr(struct tp_hdr *h, __u16 type, __u32 size, __u32 pid, __u32 tid)
{
	h->type = type;
	h->flags = 0;
	h->size = size;
	h->ts_ns = bpf_ktime_get_ns();
	h->pid = pid;
	h->tid = tid;
}

/* A record of size bytes on ring buffer rb with its header filled, or NULL (counted as a
 * drop) when the buffer is full. */
static __always_inline void *record_reserve(void *rb, __u32 size, __u16 type, __u32 pid, __u32 tid)
{
	struct tp_hdr *h = bpf_ringbuf_reserve(rb, size, 0);

	if (!h) {
		stat_inc(TP_STAT_RB_DROPS);
		return NULL;
	}
	fill_hdr(h, type, size, pid, tid);
	return h;
}

/* Submit flags for a record on samples: wake the reader only when a quarter of the buffer
 * waits (userspace polls every 100 ms anyway), or when asked to. */
static __always_inline __u64 samples_wakeup(bool now)
{
	return now || bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) > wake_bytes
		   ? BPF_RB_FORCE_WAKEUP
		   : BPF_RB_NO_WAKEUP;
}

#endif
