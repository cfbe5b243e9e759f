// SPDX-License-Identifier: GPL-2.0
/* treeprof's kernel side: keeps the set of traced processes current from the fork, exec and
 * exit tracepoints, and samples the CPU stacks (kernel, native user, Python) of their
 * threads from a cpu-clock perf event on every CPU. Records go to two ring buffers:
 * process events (small, never starved by samples) and samples. */
#include "common.bpf.h"
#include "pywalk.bpf.h"
#include "mem.bpf.h" /* mem_final: the end of a process's memory totals */

char LICENSE[] SEC("license") = "GPL";

/* A process is young (its samples wake the reader at once) for its first second. */
#define YOUNG_NS    1000000000ULL
#define WAKE_GAP_NS 10000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} wake_times SEC(".maps");

SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct tp_proc proc = {.ppid = ptgid, .flags = TP_PROC_FORKED}, *pproc;
	__u64 *shim;
	struct tp_pyconfig *cfg;
	struct tp_fork *ev;

	if (ctgid == ptgid) /* a new thread, not a new process */
		return 0;
	pproc = bpf_map_lookup_elem(&traced, &ptgid);
	if (!pproc)
		return 0;
	proc.flags |= pproc->flags & TP_PROC_SHIM; /* same image, same sampler */
	if (bpf_map_update_elem(&traced, &ctgid, &proc, BPF_ANY)) {
		stat_inc(TP_STAT_TRACED_FULL);
		return 0;
	}
	stat_inc(TP_STAT_FORKS);
	/* The child is a copy of the parent: same interpreter at the same addresses, so its
	 * first samples already have Python frames. */
	cfg = bpf_map_lookup_elem(&pyconfigs, &ptgid);
	if (cfg)
		bpf_map_update_elem(&pyconfigs, &ctgid, cfg, BPF_ANY);
	shim = bpf_map_lookup_elem(&mem_shim_addr, &ptgid);
	if (shim)
		bpf_map_update_elem(&mem_shim_addr, &ctgid, shim, BPF_ANY);

	ev = record_reserve(&proc_events, sizeof(*ev), TP_REC_FORK, ctgid,
			    BPF_CORE_READ(child, pid));
	if (!ev)
		return 0;
	ev->ppid = ptgid;
	ev->_pad = 0;
	BPF_CORE_READ_STR_INTO(&ev->comm, child, comm);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct tp_proc *proc;
	struct tp_exec *ev;

	proc = bpf_map_lookup_elem(&traced, &tgid);
	if (!proc)
		return 0;
	proc->flags &= ~(TP_PROC_FORKED | TP_PROC_SHIM);
	/* The old image's memory is gone: its totals end here. */
	mem_final(tgid, BPF_CORE_READ(p, pid), false);
	/* A new image: the old interpreter config is void until userspace finds the new one. */
	bpf_map_delete_elem(&pyconfigs, &tgid);
	stat_inc(TP_STAT_EXECS);

	ev = record_reserve(&proc_events, sizeof(*ev), TP_REC_EXEC, tgid, BPF_CORE_READ(p, pid));
	if (!ev)
		return 0;
	BPF_CORE_READ_STR_INTO(&ev->comm, p, comm);
	bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename),
				  BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct tp_exit *ev;

	if (!bpf_map_lookup_elem(&traced, &tgid))
		return 0;
	/* Only the last thread of the process ends it. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	mem_final(tgid, BPF_CORE_READ(p, pid), true);
	bpf_map_delete_elem(&traced, &tgid);
	bpf_map_delete_elem(&pyconfigs, &tgid);
	stat_inc(TP_STAT_EXITS);

	ev = record_reserve(&proc_events, sizeof(*ev), TP_REC_EXIT, tgid, BPF_CORE_READ(p, pid));
	if (!ev)
		return 0;
	ev->exit_code = BPF_CORE_READ(p, exit_code);
	ev->_pad = 0;
	BPF_CORE_READ_STR_INTO(&ev->comm, p, comm);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct task_struct *task;
	struct tp_pyconfig *cfg;
	struct tp_psample *s;
	__u64 nk, nu, np, size; /* 64-bit: no zero-extension copies that lose bounds */
	__u32 zero = 0;
	__u64 *last_wake, *u;
	bool young;
	long n;

	if (!tgid)
		return 0;
	if (!bpf_map_lookup_elem(&traced, &tgid))
		return 0;
	s = bpf_map_lookup_elem(&psample_buf, &zero);
	if (!s)
		return 0;
	fill_hdr(&s->hdr, TP_REC_SAMPLE, 0, tgid, tid);
	s->cpu = bpf_get_smp_processor_id();
	s->_pad = 0;
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	n = bpf_get_stack(ctx, s->data, TP_MAX_KSTACK * 8, 0);
	if (n < 0)
		stat_inc(TP_STAT_KSTACK_ERR);
	/* Masks on the registers themselves: 6.1's verifier loses the bounds of a
	 * helper's signed return shifted down, and then of every pointer made from it. */
	nk = n > 0 ? (__u64)n : 0;
	barrier_var(nk);
	nk = (nk >> 3) & 0x7f;
	s->n_kstack = n < 0 ? n : nk;
	if (nk > TP_MAX_KSTACK)
		nk = TP_MAX_KSTACK;
	u = &s->data[nk];
	s->n_py = 0;
	s->py_status = TP_PY_NONE;
	cfg = bpf_map_lookup_elem(&pyconfigs, &tgid);
	if (cfg && !native_stacks) {
		/* A Python process: its frames come from the walker, and without frame
		 * pointers the callers of the interrupted C function can almost never be
		 * proven. The interrupted user instruction is enough, and costs a register
		 * read instead of a frame-pointer walk (about 1.3 us a sample here). */
		task = bpf_get_current_task_btf();
		u[0] = BPF_CORE_READ((struct pt_regs *)bpf_task_pt_regs(task), ip);
		n = u[0] ? 8 : 0;
	} else {
		n = bpf_get_stack(ctx, u, TP_MAX_USTACK * 8, BPF_F_USER_STACK);
		if (n < 0)
			stat_inc(TP_STAT_USTACK_ERR);
	}
	nu = n > 0 ? (__u64)n : 0;
	barrier_var(nu);
	nu = (nu >> 3) & 0x3f;
	s->n_ustack = n < 0 ? n : nu;
	if (nu > TP_MAX_USTACK)
		nu = TP_MAX_USTACK;
	if (cfg)
		pywalk(cfg, (struct tp_pyframe *)&s->data[nk + nu], &s->n_py, &s->py_status);

	/* Waking the reader costs as much as the rest of a sample: userspace polls every
	 * 100 ms anyway, so wake it when a quarter of the buffer is waiting, or when the
	 * process is young: short-lived processes must be read while they are alive, since
	 * their code objects are read from their memory. */
	task = bpf_get_current_task_btf();
	young = s->hdr.ts_ns - BPF_CORE_READ(task, group_leader, start_time) < YOUNG_NS;
	last_wake = bpf_map_lookup_elem(&wake_times, &zero);
	/* A wake-up is a self-interrupt, costly in a VM: at most one per 10 ms per
	 * CPU for young processes, which bounds how stale their samples get. */
	if (young && last_wake && s->hdr.ts_ns - *last_wake >= WAKE_GAP_NS)
		*last_wake = s->hdr.ts_ns;
	else
		young = false;
	/* Only what was filled goes on the ring: a copy of a few hundred bytes, where
	 * reserving the whole record touched 2.9 KiB of cold ring per sample. */
	np = s->n_py;
	if (np > TP_MAX_PYFRAMES)
		np = TP_MAX_PYFRAMES;
	/* At most sizeof(*s) already; the masks say so again for 6.1's verifier, which
	 * otherwise loses the bounds of nk + nu on the way. */
	barrier_var(nk);
	barrier_var(nu);
	barrier_var(np);
	size = TP_PSAMPLE_HEAD + 8 * ((nk & 0x7f) + (nu & 0x3f)) + 16 * (np & 0xff);
	barrier_var(size);
	if (size > sizeof(*s))
		size = sizeof(*s);
	barrier_var(size);
	s->hdr.size = size;
	if (bpf_ringbuf_output(&samples, s, size, samples_wakeup(young)))
		stat_inc(TP_STAT_RB_DROPS); /* counted as a drop, not as a sample sent */
	else
		stat_inc(TP_STAT_SAMPLES);
	return 0;
}
