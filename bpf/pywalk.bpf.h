/* SPDX-License-Identifier: GPL-2.0 */
/* The Python frame walker: finds the sampled thread's PyThreadState by matching its
 * thread_id (pthread_self(), which equals the thread's fs base on glibc and musl) over the
 * interpreter's thread list, so it works while the thread has released the GIL and in any
 * pid namespace; then follows the frame chain, leaf first, for at most TP_MAX_PYFRAMES
 * frames. Every read is a bpf_probe_read_user that may fail; failures end the walk and are
 * counted, never guessed around. Offsets come from struct tp_pyconfig (user/symbols/pyfind.c).
 *
 * Both walks run under bpf_loop, whose callback the verifier checks once, so the stack depth
 * costs nothing at load time. The walk state lives in a per-CPU scratch map, and the frames
 * are copied into the sample record in one go at the end. */
#ifndef TREEPROF_PYWALK_BPF_H
#define TREEPROF_PYWALK_BPF_H

#include "common.bpf.h"

#define PY_MAX_INTERPS 4
#define PY_MAX_THREADS 256
#define PY_CODE_READ   136 /* bytes of a code object read at once; covers the check fields */
#define PY_CODE_MASK   255 /* code field offsets are taken modulo 256 (see py_field64) */
/* Entry markers and shim frames also take steps: allow one per Python frame. */
#define PY_MAX_STEPS (2 * TP_MAX_PYFRAMES)
#define PY_WIN	     4096 /* bytes of data stack read at once (one page at most) */

struct py_walk {
	struct tp_pyconfig cfg;
	struct tp_pyframe frames[TP_MAX_PYFRAMES];
	/* PY_CODE_READ bytes read; the rest stays zero, so a field past them reads 0 */
	__u8 code[PY_CODE_MASK + 1 + 8];
	__u8 fbuf[256]; /* the current frame, read at once (frame_read is a u8) */
	/* 3.11+: frames are pushed on a contiguous data stack, so one read of the page below a
	 * frame usually holds its callers too: [win_start, win_end) is what win holds. */
	__u8 win[PY_WIN + 256];
	__u64 win_start, win_end;
	__u64 last_code; /* code object of the previous frame emitted, and its check */
	__u32 last_check;
	__u64 fsbase;
	__u64 interp;  /* thread search: current interpreter */
	__u64 tstate;  /* thread search: candidate; then the match */
	__u64 frame;   /* frame walk: next frame */
	__u32 n;       /* frames emitted */
	__u32 status;  /* enum tp_py_status */
	__u32 interps; /* interpreters visited */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_walk);
} py_walk_map SEC(".maps");

static __always_inline int read_ptr(__u64 addr, __u64 *out)
{
	return bpf_probe_read_user(out, sizeof(*out), (const void *)addr);
}

static __always_inline struct py_walk *py_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&py_walk_map, &zero);
}

/* Each thread's PyThreadState, so most samples find theirs with one validating read. A
 * value is trusted only after tstate->thread_id is read back equal to the fs base. Task
 * storage: nothing to preallocate (an LRU hash of 16384 threads was 3 ms of every start),
 * no limit on threads, and gone with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} py_tstate_cache SEC(".maps");

/* One step of the thread search: 0 to go on, 1 to stop (found, failed or exhausted). */
static long py_thread_step(__u32 i, void *unused)
{
	struct py_walk *w = py_state();
	__u64 tid_val;

	if (!w)
		return 1;
	/* This interpreter has no (more) threads: on to the next one. An if, not a loop: a
	 * next interpreter without threads takes a step of its own (older verifiers cannot
	 * bound a loop whose counter lives in the map value). */
	if (!w->tstate) {
		if (!w->interp || w->interps >= PY_MAX_INTERPS ||
		    read_ptr(w->interp + w->cfg.interp_next, &w->interp))
			return 1;
		w->interps++;
		if (!w->interp || read_ptr(w->interp + w->cfg.interp_threads, &w->tstate))
			return 1;
		if (!w->tstate)
			return 0;
	}
	if (read_ptr(w->tstate + w->cfg.tstate_thread_id, &tid_val))
		return 1;
	if (tid_val == w->fsbase) {
		w->status = TP_PY_OK;
		return 1;
	}
	if (read_ptr(w->tstate + w->cfg.tstate_next, &w->tstate))
		return 1;
	return 0;
}

/* Fields at an offset of the code object (py_field*) or of the frame (py_buf64): one load
 * each (a memcpy of an unknown offset is eight byte loads; an unaligned load is allowed on
 * x86-64, the only architecture built). The offset is masked, not tested: a test is a
 * branch, and each branch of the frame step multiplies what the verifier explores. Masking is exact
 * for the offsets userspace gives: a frame's fields end within TP_FRAME_READ_MAX
 * (tp_pyconfig_frame_read), and a code field past the PY_CODE_READ bytes read lands in the zeroed
 * rest of the buffer, as 0. One past 255 (a target's bogus debug offsets) reads another field: its
 * frames get a check that userspace does not find, so they are reported stale, never misnamed. */
static __always_inline __u32 py_field32(const __u8 *buf, __u16 off)
{
	return *(const __u32 *)(buf + (off & PY_CODE_MASK));
}

static __always_inline __u64 py_field64(const __u8 *buf, __u16 off)
{
	return *(const __u64 *)(buf + (off & PY_CODE_MASK));
}

static __always_inline __u64 py_buf64(const __u8 *buf, __u16 off)
{
	return *(const __u64 *)(buf + (off & (TP_FRAME_READ_MAX - 1)));
}

/* One step of the frame walk: 0 to go on, 1 to stop. Sets w->status when it stops early.
 * One read of the frame; one read of its code object, unless it is the same code object as
 * the frame emitted before (recursion), which is then alive and unchanged. */
static long py_frame_step(__u32 i, void *unused)
{
	struct py_walk *w = py_state();
	__u64 frame, code, lasti_ptr;
	struct tp_pyframe *out;
	__u32 lasti, n, size;
	const __u8 *fb;
	__u64 len;
	__u16 off;

	if (!w)
		return 1;
	frame = w->frame;
	if (!frame)
		return 1;
	size = w->cfg.frame_read;
	fb = w->fbuf;
	if (w->cfg.lasti_kind == TP_LASTI_PTR) {
		if (frame < w->win_start || frame + size > w->win_end) {
			/* Read from the frame's end down to its page start, at most PY_WIN. */
			w->win_end = frame + size;
			w->win_start = (frame & ~(__u64)(PY_WIN - 1));
			len = w->win_end - w->win_start;
			if (len > PY_WIN || bpf_probe_read_user(w->win, len & (2 * PY_WIN - 1),
								(const void *)w->win_start))
				w->win_start = w->win_end = 0;
		}
		if (frame >= w->win_start && frame + size <= w->win_end)
			fb = w->win + ((frame - w->win_start) & (PY_WIN - 1));
	}
	if (fb == w->fbuf && bpf_probe_read_user(w->fbuf, size, (const void *)frame))
		goto fail;
	w->frame = py_buf64(fb, w->cfg.frame_back);
	off = w->cfg.frame_owner;
	if (off != TP_OFF_NONE && off < TP_FRAME_READ_MAX &&
	    fb[off & (TP_FRAME_READ_MAX - 1)] >= w->cfg.entry_owner)
		return 0; /* C-stack entry marker, not a Python frame */
	code = py_buf64(fb, w->cfg.frame_code) & ~(__u64)w->cfg.tag_bits;
	if (!code || code == w->cfg.none_addr || code == w->cfg.init_cleanup)
		return 0;
	n = w->n;
	if (n >= TP_MAX_PYFRAMES) {
		w->status = TP_PY_TRUNCATED;
		w->frame = frame;
		return 1;
	}
	if (w->cfg.lasti_kind == TP_LASTI_PTR) {
		lasti_ptr = py_buf64(fb, w->cfg.frame_lasti);
		lasti = lasti_ptr > code && lasti_ptr - code < 0xffffffffULL
			    ? (__u32)(lasti_ptr - code)
			    : 0xffffffff;
	} else {
		lasti = (__u32)py_buf64(fb, w->cfg.frame_lasti);
	}
	out = &w->frames[n & (TP_MAX_PYFRAMES - 1)];
	out->code = code;
	out->lasti = lasti;
	if (code != w->last_code) {
		if (bpf_probe_read_user(w->code, PY_CODE_READ, (const void *)code))
			goto fail;
		w->last_code = code;
		w->last_check = tp_code_check(py_field32(w->code, w->cfg.code_firstlineno),
					      py_field32(w->code, w->cfg.code_argcount),
					      py_field64(w->code, w->cfg.code_filename),
					      py_field64(w->code, w->cfg.code_name));
	}
	out->check = w->last_check;
	w->n = n + 1;
	return 0;
fail:
	w->status = TP_PY_READ_FAIL;
	return 1;
}

/* Walk the current thread's Python stack into dst (room for TP_MAX_PYFRAMES frames);
 * *n_py and *py_status say what came of it. (Writing the frames straight into a CPU
 * sample's record instead of copying them once at the end measured no faster.) */
static __always_inline void pywalk(const struct tp_pyconfig *cfg, struct tp_pyframe *dst,
				   __u16 *n_py, __u16 *py_status)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct py_walk *w = py_state();
	__u64 frame, tid_val, *cached;
	__u32 n;

	if (!w)
		return;
	__builtin_memcpy(&w->cfg, cfg, sizeof(w->cfg));
	w->fsbase = BPF_CORE_READ(task, thread.fsbase);
	w->n = 0;
	w->interps = 0;
	w->tstate = 0;
	w->last_code = 0;
	w->win_start = w->win_end = 0;
	w->status = TP_PY_NO_TSTATE;
	cached = bpf_task_storage_get(&py_tstate_cache, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (cached && *cached && !read_ptr(*cached + cfg->tstate_thread_id, &tid_val) &&
	    tid_val == w->fsbase) {
		w->tstate = *cached;
		w->status = TP_PY_OK;
	} else if (w->fsbase && !read_ptr(cfg->runtime + cfg->rt_interp_head, &w->interp) &&
		   w->interp && !read_ptr(w->interp + cfg->interp_threads, &w->tstate)) {
		bpf_loop(PY_MAX_INTERPS * PY_MAX_THREADS, py_thread_step, NULL, 0);
		if (w->status == TP_PY_OK && cached)
			*cached = w->tstate;
	}
	if (w->status != TP_PY_OK) {
		*py_status = TP_PY_NO_TSTATE;
		stat_inc(TP_STAT_PY_NO_TSTATE);
		return;
	}

	w->status = 0;
	if (read_ptr(w->tstate + cfg->tstate_frame, &frame) ||
	    (cfg->cframe_frame != TP_OFF_NONE && frame &&
	     read_ptr(frame + cfg->cframe_frame, &frame))) {
		*py_status = TP_PY_READ_FAIL;
		stat_inc(TP_STAT_PY_READ_FAIL);
		return;
	}
	w->frame = frame;
	bpf_loop(PY_MAX_STEPS, py_frame_step, NULL, 0);

	n = w->n;
	if (n > TP_MAX_PYFRAMES)
		n = TP_MAX_PYFRAMES;
	*n_py = n;
	if (n)
		bpf_probe_read_kernel(dst, n * sizeof(*dst), w->frames);
	if (!w->status && w->frame) /* ran out of steps with frames left */
		w->status = TP_PY_TRUNCATED;
	if (!w->status)
		w->status = n ? TP_PY_OK : TP_PY_NO_FRAME;
	*py_status = w->status;
	if (w->status == TP_PY_TRUNCATED)
		stat_inc(TP_STAT_PY_TRUNCATED);
	else if (w->status == TP_PY_READ_FAIL)
		stat_inc(TP_STAT_PY_READ_FAIL);
	else if (w->status == TP_PY_NO_FRAME)
		stat_inc(TP_STAT_PY_NO_FRAME);
}

#endif
