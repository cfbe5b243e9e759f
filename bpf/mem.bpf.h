/* SPDX-License-Identifier: GPL-2.0 */
/* Allocation tracing (--mem). Two sources feed the same records:
 *
 *  - attach mode: uprobes on the C allocator's entry points in every C library the tree
 *    maps, attached by file, filtered here by traced tgid; one uretprobe program for the
 *    returned blocks; and the mmap/munmap/mremap system calls for anonymous memory taken
 *    outside the allocator, and mprotect: what the kernel gives the process counts (a
 *    PROT_NONE mapping is a reservation; an mprotect that makes part of a reservation
 *    accessible allocates that part, found in the process's VMAs; munmap and mprotect
 *    PROT_NONE release exactly their range, TP_REC_FREE_RANGE). Exact totals are counted
 *    here for every call; a Poisson
 *    byte-sampled subset (mean interval mem_rate bytes, per thread) is sent with its stack.
 *  - launch mode: the sampler preloaded into the tree (user/shim/memshim.c) decides what to
 *    sample and calls treeprof_mem_hook() only for those and for frees of sampled blocks;
 *    mem_shim_hook reads its exact totals from the process.
 *
 * Sampled blocks are remembered in mem_live (attach mode) so that only their frees are
 * sent. A call the allocator makes itself (reallocarray -> realloc, malloc -> mmap) is
 * recognised by the stack pointer of the outer call still pending on the thread. */
#ifndef TREEPROF_MEM_BPF_H
#define TREEPROF_MEM_BPF_H

#include "common.bpf.h"
#include "pywalk.bpf.h"

/* Mean bytes between sampled allocations; 1: every allocation. */
const volatile __u64 mem_rate = 524288;
/* -ln((i + 0.5) / 256) * 65536: exponential intervals without floating point. */
const volatile __u32 mem_exp[256];
/* Maximum blocks remembered in mem_live before the oldest are forgotten. */
#define MEM_LIVE_MAX (1 << 18)

#define MAP_ANON_FLAG  0x20
#define MAP_FIXED_FLAG 0x10
#define NR_MMAP	       9
#define NR_MPROTECT    10
#define NR_MUNMAP      11
#define NR_MREMAP      25
#define MEM_PAGE       4096ULL
#define VM_PROT_FLAGS  0x7 /* VM_READ | VM_WRITE | VM_EXEC */
#define MEM_MAX_VMAS   8   /* VMAs an mprotect is looked at in */
#define MEM_EBUSY      16  /* errno EBUSY (bpf_find_vma: the mmap lock is taken) */
/* mem_task.sys_kind besides TP_MEM_MMAP / TP_MEM_MREMAP: what to do when the call succeeds */
#define MEM_SYS_COMMIT 100 /* allocate [sys_addr, + sys_len) (an mprotect of a reservation) */
#define MEM_SYS_RANGE  101 /* release [sys_addr, + sys_len) (mprotect PROT_NONE, MAP_FIXED) */

/* Per thread: the allocator call in progress, and the sampling countdown. */
struct mem_task {
	__u64 sp;	 /* stack pointer at the entry of the pending call; 0: none */
	__u64 size;	 /* bytes requested */
	__u64 aux;	 /* realloc: old block; posix_memalign: where the block is stored */
	__s64 countdown; /* bytes to allocate before the next sample */
	__u32 kind;	 /* enum tp_mem_kind of the pending call */
	__u32 sys_kind;	 /* pending mmap/mremap system call, MEM_SYS_*, or 0 */
	__u64 sys_len;	 /* its length */
	__u64 sys_old;	 /* mremap: old address */
	__u64 sys_addr;	 /* MEM_SYS_*: the range's start */
	__u32 sys_fixed; /* mmap: MAP_FIXED (it replaces what was mapped there) */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mem_task);
} mem_tasks SEC(".maps");

struct mem_key {
	__u32 tgid;
	__u32 _pad;
	__u64 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MEM_LIVE_MAX); /* resized by userspace */
	__type(key, struct mem_key);
	__type(value, __u64); /* bytes requested */
} mem_live SEC(".maps");

/* Exact totals per tgid (attach mode: counted here; launch mode: copied from the sampler). */
PROCESS_MAP(mem_counts, struct tp_memcounters);

/* Launch mode: where each process keeps its sampler's totals (same address after fork). */
PROCESS_MAP(mem_shim_addr, __u64);

static __always_inline struct tp_memcounters *mem_counters(__u32 tgid)
{
	struct tp_memcounters *c = bpf_map_lookup_elem(&mem_counts, &tgid);
	struct tp_memcounters zero = {};

	if (c)
		return c;
	zero.rate = mem_rate;
	bpf_map_update_elem(&mem_counts, &tgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&mem_counts, &tgid);
}

static __always_inline struct mem_task *mem_task_get(void)
{
	return bpf_task_storage_get(&mem_tasks, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* A new exponential interval with mean mem_rate bytes. */
static __always_inline __s64 mem_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & 255;

	return (__s64)((mem_rate * mem_exp[i]) >> 16) + 1;
}

struct mem_scan {
	__u64 sp, ip, found;
};

/* Where a call to target lands: target itself, or the function a PLT stub there jumps to
 * (jmp *GOT(%rip), with or without endbr64 / bnd prefixes; the GOT is read from the
 * process). 0 when unreadable. */
/* Byte k (a constant) of the 16 bytes held in q[0], q[1]: register shifts, no pointer
 * arithmetic, which the verifier refuses on the stack when clang merges branches. */
#define MEM_B(q, k) ((__u8)((k) < 8 ? (q)[0] >> (8 * ((k)&7)) : (q)[1] >> (8 * ((k)&7))))
#define MEM_D32(q, k)                                                                              \
	((__s32)(MEM_B(q, k) | MEM_B(q, (k) + 1) << 8 | MEM_B(q, (k) + 2) << 16 |                  \
		 (__u32)MEM_B(q, (k) + 3) << 24))

static __always_inline __u64 mem_call_dest(__u64 target)
{
	__u64 q[2] = {}, dest = 0, next;
	__s32 disp;

	if (bpf_probe_read_user(q, sizeof(q), (void *)target))
		return 0;
	/* jmp *disp(%rip), after endbr64 (f3 0f 1e fa) and bnd (f2) when present */
	if ((q[0] & 0xffff) == 0x25ff) {
		disp = MEM_D32(q, 2);
		next = target + 6;
	} else if ((q[0] & 0xffffff) == 0x25fff2) {
		disp = MEM_D32(q, 3);
		next = target + 7;
	} else if ((q[0] & 0xffffffffffffULL) == 0x25fffa1e0ff3ULL) {
		disp = MEM_D32(q, 6);
		next = target + 10;
	} else if ((q[0] & 0xffffffffffffffULL) == 0x25fff2fa1e0ff3ULL) {
		disp = MEM_D32(q, 7);
		next = target + 11;
	} else {
		return target; /* not a stub: a direct call */
	}
	if (bpf_probe_read_user(&dest, sizeof(dest), (void *)(next + (__s64)disp)))
		return 0;
	return dest;
}

static long mem_scan_step(__u32 i, void *arg)
{
	struct mem_scan *m = arg;
	__u64 w = 0, dest, call = 0;
	__s32 rel;

	if (bpf_probe_read_user(&w, sizeof(w), (void *)(m->sp + 8 * (__u64)i)))
		return 1;
	/* the 8 bytes ending at w: a call rel32 is e8 in the fourth */
	if (w <= 8 || bpf_probe_read_user(&call, sizeof(call), (void *)(w - 8)) ||
	    ((call >> 24) & 0xff) != 0xe8)
		return 0;
	/* A return address after a call rel32: it is the wrapper's caller only if the call
	 * leads to the wrapper (a stale one from an earlier call may lie deeper). */
	rel = (__s32)(call >> 32);
	dest = mem_call_dest(w + (__s64)rel);
	if (dest && dest <= m->ip && m->ip - dest < 256) {
		m->found = w;
		return 1;
	}
	return 0;
}

/* The return address into the caller of the system call wrapper running at ip, user sp. */
static __always_inline __u64 mem_syscall_caller(__u64 sp, __u64 ip)
{
	struct mem_scan m = {.sp = sp, .ip = ip};

	bpf_loop(32, mem_scan_step, &m, 0);
	return m.found;
}

struct mem_shift {
	struct tp_sample *s;
	__u32 from, n;
};

static long mem_shift_step(__u32 i, void *arg)
{
	struct mem_shift *m = arg;
	__u32 src = m->from + i;

	if (src >= TP_MAX_USTACK || i >= TP_MAX_USTACK || src >= m->n)
		return 1;
	/* The masks repeat the bounds in a form the verifier sees (clang would drop them as
	 * redundant without the barrier; TP_MAX_USTACK is 32). */
	asm volatile("%0 &= 31" : "+r"(src));
	asm volatile("%0 &= 31" : "+r"(i));
	m->s->ustack[i] = m->s->ustack[src];
	return 0;
}

/* The user stack from the frame whose return address is caller down to the root, or just
 * caller when the walk does not reach it. */
static __always_inline void mem_stack_from(void *ctx, struct tp_sample *s, __u64 caller)
{
	struct mem_shift m = {.s = s};
	long n = bpf_get_stack(ctx, s->ustack, sizeof(s->ustack), BPF_F_USER_STACK);
	__u32 i;

	if (n <= 0) {
		s->ustack[0] = caller;
		s->n_ustack = 1;
		return;
	}
	m.n = n / 8;
	for (i = 0; i < TP_MAX_USTACK; i++)
		if (i < m.n && s->ustack[i] == caller)
			break;
	if (i >= m.n) {
		s->ustack[0] = caller;
		s->n_ustack = 1;
		return;
	}
	m.from = i;
	bpf_loop(TP_MAX_USTACK, mem_shift_step, &m, 0);
	s->n_ustack = m.n - i;
}

/* Send one sampled block with the current stack. */
static __always_inline void mem_send_alloc(void *ctx, __u32 tgid, __u32 tid, __u64 addr, __u64 size,
					   __u64 rate, __u32 kind, bool from_regs, __u64 caller)
{
	struct tp_pyconfig *cfg;
	struct task_struct *task;
	struct tp_alloc *a;
	long n;

	a = record_reserve(&samples, sizeof(*a), TP_REC_ALLOC, tgid, tid);
	if (!a)
		return;
	a->addr = addr;
	a->size = size;
	a->rate = rate;
	a->kind = kind;
	a->_pad = 0;
	fill_hdr(&a->s.hdr, TP_REC_SAMPLE, sizeof(a->s), tgid, tid);
	a->s.cpu = bpf_get_smp_processor_id();
	a->s._pad = 0;
	bpf_get_current_comm(a->s.comm, sizeof(a->s.comm));
	a->s.n_kstack = 0;
	a->s.n_py = 0;
	a->s.py_status = TP_PY_NONE;
	cfg = bpf_map_lookup_elem(&pyconfigs, &tgid);
	if (caller) {
		/* The preloaded sampler names the allocation's caller; its own frames are of
		 * no interest. A native program gets the frame-pointer walk from there on (the
		 * sampler keeps frame pointers, so the caller's return address is in the
		 * chain); a Python one, as for CPU samples, only the caller. */
		a->s.ustack[0] = caller;
		a->s.n_ustack = 1;
		if (!cfg || native_stacks)
			mem_stack_from(ctx, &a->s, caller);
	} else if (cfg && !native_stacks) {
		/* As for CPU samples: the user instruction (here the allocator's caller),
		 * then the Python stack. */
		task = bpf_get_current_task_btf();
		a->s.ustack[0] = BPF_CORE_READ((struct pt_regs *)bpf_task_pt_regs(task), ip);
		a->s.n_ustack = a->s.ustack[0] ? 1 : 0;
	} else {
		if (from_regs) {
			n = bpf_get_stack(ctx, a->s.ustack, sizeof(a->s.ustack), BPF_F_USER_STACK);
		} else {
			/* In a system call: the libc wrapper keeps no frame, so the frame-pointer
			 * walk skips its caller. That caller's return address is near the top of
			 * the user stack: the first word there that follows a call instruction
			 * replaces the wrapper's instruction (the symbolizer still checks that
			 * the call goes to the wrapper). */
			struct pt_regs *regs;
			__u64 ret;

			task = bpf_get_current_task_btf();
			n = bpf_get_task_stack(task, a->s.ustack, sizeof(a->s.ustack),
					       BPF_F_USER_STACK);
			regs = (struct pt_regs *)bpf_task_pt_regs(task);
			ret = mem_syscall_caller(BPF_CORE_READ(regs, sp), BPF_CORE_READ(regs, ip));
			if (n >= 8 && ret)
				a->s.ustack[0] = ret;
		}
		if (n < 0)
			stat_inc(TP_STAT_USTACK_ERR);
		a->s.n_ustack = n < 0 ? n : n / 8;
	}
	if (cfg)
		pywalk(cfg, a->s.py, &a->s.n_py, &a->s.py_status);
	stat_inc(TP_STAT_MEM_SAMPLED);
	bpf_ringbuf_submit(a, samples_wakeup(false));
}

static __always_inline void mem_send_free(__u32 tgid, __u32 tid, __u64 addr, __u32 kind)
{
	struct tp_free *f = record_reserve(&samples, sizeof(*f), TP_REC_FREE, tgid, tid);

	if (!f)
		return;
	f->addr = addr;
	f->kind = kind;
	f->_pad = 0;
	bpf_ringbuf_submit(f, BPF_RB_NO_WAKEUP);
}

static __always_inline void mem_send_free_range(__u32 tgid, __u32 tid, __u64 addr, __u64 len)
{
	struct tp_free_range *f;

	if (!len)
		return;
	f = record_reserve(&samples, sizeof(*f), TP_REC_FREE_RANGE, tgid, tid);
	if (!f)
		return;
	f->addr = addr;
	f->len = len;
	bpf_ringbuf_submit(f, BPF_RB_NO_WAKEUP);
}

static __always_inline __u64 mem_page_round(__u64 len)
{
	return (len + MEM_PAGE - 1) & ~(MEM_PAGE - 1);
}

/* munmap [addr, addr + len): a sampled mapping that starts there and lies inside goes as a
 * whole (TP_MEM_MUNMAP), whatever else the range holds as a range (userspace cuts the
 * sampled mappings it overlaps). A forked child may unmap what its parent sampled. */
static __always_inline void mem_unmap(struct tp_proc *proc, __u32 tgid, __u32 tid, __u64 addr,
				      __u64 len)
{
	struct mem_key k = {.tgid = tgid, .addr = addr};
	__u64 *size = bpf_map_lookup_elem(&mem_live, &k), whole;

	if (!size && (proc->flags & TP_PROC_FORKED)) {
		k.tgid = proc->ppid;
		size = bpf_map_lookup_elem(&mem_live, &k);
	}
	whole = size ? mem_page_round(*size) : 0;
	if (size && whole && whole <= len) {
		if (k.tgid == tgid)
			bpf_map_delete_elem(&mem_live, &k);
		mem_send_free(tgid, tid, addr, TP_MEM_MUNMAP);
		addr += whole;
		len -= whole;
	}
	mem_send_free_range(tgid, tid, addr, len);
}

struct mem_vma {
	__u64 start, end, flags, file;
};

static long mem_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *arg)
{
	struct mem_vma *v = arg;

	v->start = vma->vm_start;
	v->end = vma->vm_end;
	v->flags = vma->vm_flags;
	v->file = (__u64)vma->vm_file;
	return 0;
}

/* The bytes of [addr, end) that lie in PROT_NONE anonymous VMAs (reservations) of the
 * current task, from the first of them on (*first): what an mprotect that makes the range
 * accessible gives the process. At most MEM_MAX_VMAS VMAs are looked at. */
static __always_inline __u64 mem_reserved_in(__u64 addr, __u64 end, __u64 *first)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 bytes = 0, lo, hi;
	struct mem_vma v;

	*first = 0;
	for (int i = 0; i < MEM_MAX_VMAS && addr < end; i++) {
		long err;

		v = (struct mem_vma){};
		err = bpf_find_vma(task, addr, mem_vma_cb, &v, 0);
		/* -EBUSY: the mmap lock could not be taken without waiting (a uprobe being
		 * placed or removed write-locks every process mapping the file): counted, as
		 * the allocation is then missed */
		if (err == -MEM_EBUSY)
			stat_inc(TP_STAT_MEM_VMA_BUSY);
		if (err || v.end <= addr)
			break;
		lo = v.start > addr ? v.start : addr;
		hi = v.end < end ? v.end : end;
		if (!v.file && !(v.flags & VM_PROT_FLAGS) && hi > lo) {
			if (!bytes)
				*first = lo;
			bytes += hi - lo;
		}
		addr = v.end;
	}
	return bytes;
}

/* A block of a traced process is released: send it if it was sampled. A forked child
 * that has not exec'd may release a block its parent sampled before the fork. */
static __always_inline void mem_release(struct tp_proc *proc, __u32 tgid, __u32 tid, __u64 addr,
					__u32 kind)
{
	struct mem_key k = {.tgid = tgid, .addr = addr};

	if (!bpf_map_delete_elem(&mem_live, &k)) {
		mem_send_free(tgid, tid, addr, kind);
		return;
	}
	if (proc && (proc->flags & TP_PROC_FORKED)) {
		k.tgid = proc->ppid;
		if (bpf_map_lookup_elem(&mem_live, &k))
			mem_send_free(tgid, tid, addr, kind);
	}
}

/* A successful allocation of a traced process: count it; sample it or not. */
static __always_inline void mem_allocated(void *ctx, struct mem_task *t, __u32 tgid, __u32 tid,
					  __u64 addr, __u64 size, __u32 kind, bool from_regs)
{
	struct tp_memcounters *c = mem_counters(tgid);
	struct mem_key k = {.tgid = tgid, .addr = addr};

	if (c) {
		__sync_fetch_and_add(&c->alloc_count, 1);
		__sync_fetch_and_add(&c->alloc_bytes, size);
	}
	if (mem_rate > 1) {
		t->countdown -= (__s64)size;
		if (t->countdown > 0)
			return;
		t->countdown = mem_interval();
	}
	if (c)
		__sync_fetch_and_add(&c->sampled, 1);
	if (bpf_map_update_elem(&mem_live, &k, &size, BPF_ANY))
		stat_inc(TP_STAT_MEM_LIVE_FULL);
	mem_send_alloc(ctx, tgid, tid, addr, size, mem_rate, kind, from_regs, 0);
}

static __always_inline struct tp_proc *mem_traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced, &tgid);
}

/* n * each, or ~0 when it overflows (the call then fails). The barrier keeps clang from
 * turning the check into a 128-bit multiply, which BPF lacks. */
static __always_inline __u64 mem_mul(__u64 n, __u64 each)
{
	__u64 size = n * each;

	asm volatile("" : "+r"(size));
	if (each && size / each != n)
		return ~0ULL;
	return size;
}

/* Entry of an allocating function: remember the call unless it is nested in another. */
static __always_inline int mem_enter(struct pt_regs *ctx, __u32 kind, __u64 size, __u64 aux)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 sp = PT_REGS_SP(ctx);
	struct tp_proc *proc;
	struct mem_task *t;

	proc = mem_traced(tgid);
	if (!proc || (proc->flags & TP_PROC_SHIM)) /* not traced, or the sampler counts it */
		return 0;
	stat_inc(TP_STAT_MEM_CALLS);
	t = mem_task_get();
	if (!t)
		return 0;
	/* A pending call deeper in the stack than this one means we are inside it. A pending
	 * call at or below this stack pointer is stale (its return was never seen). */
	if (t->sp && sp < t->sp) {
		stat_inc(TP_STAT_MEM_NESTED);
		return 0;
	}
	if (mem_rate > 1 && t->countdown == 0)
		t->countdown = mem_interval();
	t->sp = sp;
	t->size = size;
	t->aux = aux;
	t->kind = kind;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mem_malloc, __u64 size)
{
	return mem_enter(ctx, TP_MEM_MALLOC, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_calloc, __u64 n, __u64 each)
{
	__u64 size = mem_mul(n, each);

	return mem_enter(ctx, TP_MEM_CALLOC, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_realloc, __u64 old, __u64 size)
{
	return mem_enter(ctx, TP_MEM_REALLOC, size, old);
}

SEC("uprobe")
int BPF_KPROBE(mem_reallocarray, __u64 old, __u64 n, __u64 each)
{
	__u64 size = mem_mul(n, each);

	return mem_enter(ctx, TP_MEM_REALLOC, size, old);
}

SEC("uprobe")
int BPF_KPROBE(mem_memalign, __u64 align, __u64 size)
{
	return mem_enter(ctx, TP_MEM_MEMALIGN, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_posix_memalign, __u64 memptr, __u64 align, __u64 size)
{
	return mem_enter(ctx, TP_MEM_POSIX_MEMALIGN, size, memptr);
}

SEC("uprobe")
int BPF_KPROBE(mem_valloc, __u64 size)
{
	return mem_enter(ctx, TP_MEM_VALLOC, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_pvalloc, __u64 size)
{
	return mem_enter(ctx, TP_MEM_PVALLOC, size, 0);
}

/* The return of any of the above (one uretprobe per function, one program). */
SEC("uretprobe")
int BPF_KRETPROBE(mem_ret, __u64 rc)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct tp_memcounters *c;
	struct mem_task *t;
	__u64 addr = rc, size, aux;
	__u32 kind;

	t = bpf_task_storage_get(&mem_tasks, bpf_get_current_task_btf(), 0, 0);
	/* After the return the stack pointer is one slot above the entry's. */
	if (!t || !t->sp || t->sp + 8 != PT_REGS_SP(ctx))
		return 0;
	t->sp = 0;
	kind = t->kind;
	size = t->size;
	aux = t->aux;
	if (kind == TP_MEM_POSIX_MEMALIGN) {
		addr = 0;
		if ((int)rc == 0 && bpf_probe_read_user(&addr, sizeof(addr), (void *)aux))
			addr = 0;
	}
	if (!addr) {
		if (kind == TP_MEM_REALLOC && aux && size == 0) {
			/* realloc(p, 0) frees p */
			c = mem_counters(tgid);
			if (c)
				__sync_fetch_and_add(&c->free_count, 1);
			mem_release(mem_traced(tgid), tgid, tid, aux, TP_MEM_FREE);
			return 0;
		}
		c = mem_counters(tgid);
		if (c)
			__sync_fetch_and_add(&c->failed, 1);
		return 0;
	}
	if (kind == TP_MEM_REALLOC && aux) {
		c = mem_counters(tgid);
		if (c)
			__sync_fetch_and_add(&c->free_count, 1);
		mem_release(mem_traced(tgid), tgid, tid, aux, TP_MEM_FREE);
	}
	mem_allocated(ctx, t, tgid, tid, addr, size, kind, true);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mem_free, __u64 addr)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct tp_memcounters *c;
	struct tp_proc *proc;

	if (!addr)
		return 0;
	proc = mem_traced(tgid);
	if (!proc || (proc->flags & TP_PROC_SHIM))
		return 0;
	stat_inc(TP_STAT_MEM_CALLS);
	c = mem_counters(tgid);
	if (c)
		__sync_fetch_and_add(&c->free_count, 1);
	mem_release(proc, tgid, (__u32)id, addr, TP_MEM_FREE);
	return 0;
}

/* Attach mode: anonymous mappings made outside the allocator. */
static __always_inline void mem_sys_mmap(struct mem_task *t, struct pt_regs *regs)
{
	__u64 flags = BPF_CORE_READ(regs, r10), len = BPF_CORE_READ(regs, si);
	bool fixed = flags & MAP_FIXED_FLAG;

	if ((flags & MAP_ANON_FLAG) && BPF_CORE_READ(regs, dx)) {
		t->sys_kind = TP_MEM_MMAP;
		t->sys_len = len;
		t->sys_old = 0;
		t->sys_fixed = fixed;
	} else if (fixed) {
		/* a reservation or a file mapping in place of what was there */
		t->sys_kind = MEM_SYS_RANGE;
		t->sys_addr = BPF_CORE_READ(regs, di);
		t->sys_len = mem_page_round(len);
	}
}

static __always_inline void mem_sys_mprotect(struct mem_task *t, struct pt_regs *regs)
{
	__u64 addr = BPF_CORE_READ(regs, di), len = mem_page_round(BPF_CORE_READ(regs, si));
	__u64 first = 0, bytes;

	if ((addr & (MEM_PAGE - 1)) || !len)
		return;
	if (!BPF_CORE_READ(regs, dx)) {
		t->sys_kind = MEM_SYS_RANGE;
		t->sys_addr = addr;
		t->sys_len = len;
		return;
	}
	bytes = mem_reserved_in(addr, addr + len, &first);
	if (!bytes)
		return;
	t->sys_kind = MEM_SYS_COMMIT;
	t->sys_addr = first;
	t->sys_len = bytes;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(mem_sys_enter, struct pt_regs *regs, long nr)
{
	__u32 tgid, tid;
	struct mem_task *t;
	struct tp_proc *proc;
	__u64 id, addr;

	if (nr != NR_MMAP && nr != NR_MUNMAP && nr != NR_MREMAP && nr != NR_MPROTECT)
		return 0;
	id = bpf_get_current_pid_tgid();
	tgid = id >> 32;
	tid = (__u32)id;
	proc = mem_traced(tgid);
	if (!proc || (proc->flags & TP_PROC_SHIM))
		return 0;
	t = mem_task_get();
	if (!t)
		return 0;
	/* Inside an allocator call (the system call's stack pointer below the call's): its own
	 * business. At or above it the call has returned without its return being seen (its
	 * return probe was not placed yet): stale. */
	if (t->sp && BPF_CORE_READ(regs, sp) < t->sp)
		return 0;
	t->sp = 0;
	t->sys_kind = 0;
	addr = BPF_CORE_READ(regs, di);
	if (nr == NR_MUNMAP) {
		if (!(addr & (MEM_PAGE - 1)))
			mem_unmap(proc, tgid, tid, addr, mem_page_round(BPF_CORE_READ(regs, si)));
		return 0;
	}
	if (nr == NR_MMAP) {
		mem_sys_mmap(t, regs);
	} else if (nr == NR_MPROTECT) {
		mem_sys_mprotect(t, regs);
	} else {
		t->sys_kind = TP_MEM_MREMAP;
		t->sys_len = BPF_CORE_READ(regs, dx);
		t->sys_old = addr;
	}
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(mem_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct tp_memcounters *c;
	struct mem_task *t;
	__u32 kind;

	t = bpf_task_storage_get(&mem_tasks, bpf_get_current_task_btf(), 0, 0);
	if (!t || !t->sys_kind)
		return 0;
	kind = t->sys_kind;
	t->sys_kind = 0;
	if (ret < 0 && ret > -4096) {
		c = kind == TP_MEM_MMAP || kind == TP_MEM_MREMAP ? mem_counters(tgid) : NULL;
		if (c)
			__sync_fetch_and_add(&c->failed, 1);
		return 0;
	}
	if (kind == MEM_SYS_RANGE) {
		mem_send_free_range(tgid, tid, t->sys_addr, t->sys_len);
		return 0;
	}
	if (kind == MEM_SYS_COMMIT) {
		mem_allocated(ctx, t, tgid, tid, t->sys_addr, t->sys_len, TP_MEM_MMAP, false);
		return 0;
	}
	if (kind == TP_MEM_MREMAP) {
		/* Only a tracked mapping is followed: the old range is released. */
		struct mem_key k = {.tgid = tgid, .addr = t->sys_old};

		if (bpf_map_delete_elem(&mem_live, &k))
			return 0;
		mem_send_free(tgid, tid, t->sys_old, TP_MEM_MUNMAP);
	} else if (t->sys_fixed) {
		mem_send_free_range(tgid, tid, (__u64)ret, mem_page_round(t->sys_len));
	}
	mem_allocated(ctx, t, tgid, tid, (__u64)ret, t->sys_len, kind, false);
	return 0;
}

/* Py_FinalizeEx, probed per interpreter file with --mem: the application's code is done and
 * what it holds now is what it kept (the interpreter then frees most of it). Once per
 * process, so the cost to other processes of the host that run the same file is one trap
 * when they finalize. */
SEC("uprobe")
int BPF_KPROBE(mem_py_final)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct tp_hdr *h;

	if (!mem_traced(tgid))
		return 0;
	h = record_reserve(&samples, sizeof(*h), TP_REC_PYFINAL, tgid, (__u32)id);
	if (h)
		bpf_ringbuf_submit(h, BPF_RB_NO_WAKEUP);
	return 0;
}

/* Launch mode: the preloaded sampler's hook. */
SEC("uprobe")
int BPF_KPROBE(mem_shim_hook, __u64 kind, __u64 addr, __u64 size, __u64 counters, __u64 caller)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct tp_memcounters *c;
	struct tp_proc *proc;

	proc = mem_traced(tgid);
	if (!proc)
		return 0;
	proc->flags |= TP_PROC_SHIM; /* its allocator calls are the sampler's to count */
	stat_inc(TP_STAT_MEM_CALLS);
	c = mem_counters(tgid);
	if (c && bpf_probe_read_user(c, sizeof(*c), (void *)counters))
		c->rate = 0;
	if (!bpf_map_lookup_elem(&mem_shim_addr, &tgid)) /* once per image (a fork inherits it) */
		bpf_map_update_elem(&mem_shim_addr, &tgid, &counters, BPF_ANY);
	if (kind == TP_MEM_FREE || kind == TP_MEM_MUNMAP) {
		if (size) /* part of a sampled mapping (user/shim/mmap.c) */
			mem_send_free_range(tgid, tid, addr, size);
		else
			mem_send_free(tgid, tid, addr, kind);
		return 0;
	}
	mem_send_alloc(ctx, tgid, tid, addr, size, c ? c->rate : 0, kind, true, caller);
	return 0;
}

/* The final totals of a process that ends (exit) or replaces its image (exec). */
static __always_inline void mem_final(__u32 tgid, __u32 tid, bool read_shim)
{
	struct tp_memcounters *c = bpf_map_lookup_elem(&mem_counts, &tgid), local = {};
	__u64 *shim = bpf_map_lookup_elem(&mem_shim_addr, &tgid);
	struct tp_memstat *ev;

	/* At exit the sampler's last word, if its memory is still mapped, even when the image
	 * never called the hook (a fork that inherited the sampler's address); at exec the new
	 * image is already in place: the copy from the last hook call stands. */
	if (shim && read_shim && bpf_probe_read_user(&local, sizeof(local), (void *)*shim) == 0)
		c = &local;
	if (!c)
		goto out;
	ev = record_reserve(&proc_events, sizeof(*ev), TP_REC_MEMSTAT, tgid, tid);
	if (ev) {
		__builtin_memcpy(&ev->c, c, sizeof(ev->c));
		bpf_ringbuf_submit(ev, 0);
	}
out:
	/* Both go whatever happened: a stale sampler address must not outlive its image. */
	bpf_map_delete_elem(&mem_counts, &tgid);
	bpf_map_delete_elem(&mem_shim_addr, &tgid);
}

#endif
