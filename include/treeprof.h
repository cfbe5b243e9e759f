/* Records and maps shared by the BPF programs (bpf/) and the loader (user/).
 *
 * Every record the kernel sends through the ring buffer starts with struct tp_hdr, whose
 * type tag tells userspace which struct follows. Fields are fixed-width with explicit
 * padding, and sizes are checked at compile time on both sides, so clang -target bpf and
 * gcc agree on the layout.
 */
#ifndef TREEPROF_H
#define TREEPROF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TP_COMM_LEN	16
#define TP_MAX_KSTACK	64  /* kernel frames per sample */
#define TP_MAX_USTACK	32  /* native user frames per sample (frame-pointer walk) */
#define TP_MAX_PYFRAMES 128 /* Python frames per sample */
#define TP_PATH_LEN	256

enum tp_rec_type {
	TP_REC_SAMPLE = 1,     /* struct tp_sample: a CPU sample of a traced task */
	TP_REC_FORK = 2,       /* struct tp_fork: a traced process made a new process */
	TP_REC_EXEC = 3,       /* struct tp_exec: a traced process replaced its image */
	TP_REC_EXIT = 4,       /* struct tp_exit: the last thread of a traced process exited */
	TP_REC_ALLOC = 5,      /* struct tp_alloc: a sampled allocation, with its stack */
	TP_REC_FREE = 6,       /* struct tp_free: a sampled allocation was released */
	TP_REC_MEMSTAT = 7,    /* struct tp_memstat: a process's exact allocator totals */
	TP_REC_PYFINAL = 8,    /* struct tp_hdr alone: a traced process entered Py_FinalizeEx */
	TP_REC_FREE_RANGE = 9, /* struct tp_free_range: part of the anonymous mappings went */
};

struct tp_hdr {
	__u16 type;  /* enum tp_rec_type */
	__u16 flags; /* record-specific */
	__u32 size;  /* bytes of the whole record, header included */
	__u64 ts_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 pid;   /* tgid, in the initial pid namespace */
	__u32 tid;   /* thread id, in the initial pid namespace */
};
_Static_assert(sizeof(struct tp_hdr) == 24, "tp_hdr layout");

/* One Python frame as the walker saw it: userspace turns it into name, file and line. */
struct tp_pyframe {
	__u64 code;  /* address of the code object in the target */
	__u32 lasti; /* instruction offset in code units, or 0xffffffff if unknown */
	__u32 check; /* cheap hash of fields read with the code object (reuse guard) */
};
_Static_assert(sizeof(struct tp_pyframe) == 16, "tp_pyframe layout");

/* Why a Python walk stopped early or failed (tp_sample.py_status). */
enum tp_py_status {
	TP_PY_NONE = 0,	     /* not a Python process (no config) */
	TP_PY_OK = 1,	     /* complete stack */
	TP_PY_NO_TSTATE = 2, /* no thread state matched the sampled thread */
	TP_PY_READ_FAIL = 3, /* a frame or code object read failed */
	TP_PY_TRUNCATED = 4, /* more than TP_MAX_PYFRAMES frames */
	TP_PY_NO_FRAME = 5,  /* thread state found, no Python frame running */
};

struct tp_sample {
	struct tp_hdr hdr;
	__u32 cpu;
	__s16 n_kstack;	 /* frames in kstack, or negative errno from bpf_get_stack */
	__s16 n_ustack;	 /* frames in ustack, or negative errno */
	__u16 n_py;	 /* frames in py, leaf first */
	__u16 py_status; /* enum tp_py_status */
	__u32 _pad;
	char comm[TP_COMM_LEN];
	__u64 kstack[TP_MAX_KSTACK]; /* leaf first */
	__u64 ustack[TP_MAX_USTACK]; /* leaf first; only ustack[0] is known good */
	struct tp_pyframe py[TP_MAX_PYFRAMES];
};
_Static_assert(sizeof(struct tp_sample) ==
		   24 + 16 + 16 + 8 * (TP_MAX_KSTACK + TP_MAX_USTACK) + 16 * TP_MAX_PYFRAMES,
	       "tp_sample layout");

/* A CPU sample as it travels on the ring: tp_sample's head, then only the frames there are,
 * packed: kstack[n_kstack], ustack[n_ustack], then n_py struct tp_pyframe (a negative count
 * is an errno and takes no room). Writing the fixed 2.9 KiB record into a ring buffer far
 * larger than the cache cost ~2 us a sample in cache misses alone; a 10-frame Python sample
 * packs into about 250 bytes. hdr.size is the packed size; userspace unpacks it. */
#define TP_PSAMPLE_HEAD	 56
#define TP_PSAMPLE_WORDS (TP_MAX_KSTACK + TP_MAX_USTACK + 2 * TP_MAX_PYFRAMES)
struct tp_psample {
	struct tp_hdr hdr;
	__u32 cpu;
	__s16 n_kstack;
	__s16 n_ustack;
	__u16 n_py;
	__u16 py_status;
	__u32 _pad;
	char comm[TP_COMM_LEN];
	__u64 data[TP_PSAMPLE_WORDS];
};
_Static_assert(sizeof(struct tp_psample) == TP_PSAMPLE_HEAD + 8 * TP_PSAMPLE_WORDS,
	       "tp_psample layout");
_Static_assert(__builtin_offsetof(struct tp_sample, kstack) == TP_PSAMPLE_HEAD,
	       "tp_sample and tp_psample share their head");

struct tp_fork {
	struct tp_hdr hdr; /* pid/tid: the child */
	__u32 ppid;	   /* the parent's tgid */
	__u32 _pad;
	char comm[TP_COMM_LEN];
};
_Static_assert(sizeof(struct tp_fork) == 48, "tp_fork layout");

struct tp_exec {
	struct tp_hdr hdr;
	char comm[TP_COMM_LEN];
	char filename[TP_PATH_LEN];
};
_Static_assert(sizeof(struct tp_exec) == 24 + 16 + 256, "tp_exec layout");

struct tp_exit {
	struct tp_hdr hdr;
	__s32 exit_code; /* task->exit_code: status << 8 | signal */
	__u32 _pad;
	char comm[TP_COMM_LEN];
};
_Static_assert(sizeof(struct tp_exit) == 48, "tp_exit layout");

/* Value of the traced-process map (key: tgid). */
struct tp_proc {
	__u32 ppid;
	__u32 flags; /* TP_PROC_* */
};
#define TP_PROC_ROOT   1 /* seeded by userspace rather than found by the fork tracepoint */
#define TP_PROC_FORKED 2 /* a fork that has not exec'd: it holds copies of its parent's blocks */
#define TP_PROC_SHIM   4 /* its image runs the preloaded sampler: allocator uprobes ignore it */

/* Counters kept per CPU in the stats map; userspace sums and reports them. */
enum tp_stat {
	TP_STAT_SAMPLES = 0,   /* samples of traced tasks sent */
	TP_STAT_RB_DROPS,      /* records lost: ring buffer full */
	TP_STAT_KSTACK_ERR,    /* bpf_get_stack failed for the kernel stack */
	TP_STAT_USTACK_ERR,    /* bpf_get_stack failed for the user stack */
	TP_STAT_FORKS,	       /* children added to the traced map in the kernel */
	TP_STAT_TRACED_FULL,   /* children not added: traced map full */
	TP_STAT_EXECS,	       /* exec events */
	TP_STAT_EXITS,	       /* exit events */
	TP_STAT_PY_NO_TSTATE,  /* Python: no thread state for the sampled thread */
	TP_STAT_PY_READ_FAIL,  /* Python: a frame or code read failed */
	TP_STAT_PY_TRUNCATED,  /* Python: stack deeper than TP_MAX_PYFRAMES */
	TP_STAT_PY_NO_FRAME,   /* Python: thread idle outside Python code */
	TP_STAT_MEM_CALLS,     /* memory: allocator calls and mmaps of traced processes seen */
	TP_STAT_MEM_SAMPLED,   /* memory: allocations sent with a stack */
	TP_STAT_MEM_LIVE_FULL, /* memory: sampled blocks not tracked: live map full */
	TP_STAT_MEM_NESTED,    /* memory: calls made by the allocator itself, not counted */
	TP_STAT_MEM_VMA_BUSY,  /* memory: mprotects not resolved: the address space was locked */
	TP_STAT_NR,
};

/* How the BPF walker reads one interpreter: filled by userspace (user/symbols/pyfind.c) for each
 * Python process, keyed by tgid, and copied to a forked child in the kernel. Offsets are in
 * bytes; TP_OFF_NONE marks a field the version lacks. */
#define TP_OFF_NONE 0xffff

enum tp_lasti_kind {
	TP_LASTI_BYTES = 0, /* 3.8/3.9: frame_lasti is an int, byte offset into co_code */
	TP_LASTI_UNITS = 1, /* 3.10: frame_lasti is an int, index in code units */
	TP_LASTI_PTR = 2,   /* 3.11+: frame_lasti is a pointer into the code object */
};

struct tp_pyconfig {
	__u32 version;		/* PY_VERSION_HEX, e.g. 0x030b07f0 */
	__u8 lasti_kind;	/* enum tp_lasti_kind */
	__u8 tag_bits;		/* low bits to clear on frame_code (3.14+: 3, else 0) */
	__u8 entry_owner;	/* 3.12+: frames with owner >= this are C-stack entry markers */
	__u8 frame_read;	/* bytes read at once at each frame: covers every frame_* field */
	__u64 runtime;		/* runtime address of _PyRuntime */
	__u64 none_addr;	/* runtime address of _Py_NoneStruct (3.13+ entry frames), or 0 */
	__u64 init_cleanup;	/* runtime address of _Py_InitCleanup (3.13+ shim), or 0 */
	__u16 rt_interp_head;	/* _PyRuntime.interpreters.head */
	__u16 interp_next;	/* PyInterpreterState.next */
	__u16 interp_threads;	/* PyInterpreterState.threads.head (tstate_head) */
	__u16 tstate_next;	/* PyThreadState.next */
	__u16 tstate_thread_id; /* PyThreadState.thread_id (== pthread_self() == fs_base) */
	__u16 tstate_frame;	/* frame (<=3.10), cframe (3.11/3.12), current_frame (3.13+) */
	__u16 cframe_frame;	/* 3.11/3.12: current_frame inside _PyCFrame, else TP_OFF_NONE */
	__u16 frame_back;	/* f_back (<=3.10) / previous (3.11+) */
	__u16 frame_code;	/* f_code / f_executable */
	__u16 frame_lasti;	/* f_lasti / prev_instr / instr_ptr */
	__u16 frame_owner;	/* 3.12+: owner (u8), else TP_OFF_NONE */
	__u16 frame_is_entry;	/* 3.11: is_entry (u8), else TP_OFF_NONE */
	__u16 code_firstlineno; /* int */
	__u16 code_argcount;	/* int */
	__u16 code_filename;	/* PyObject * */
	__u16 code_name;	/* PyObject * */
};
_Static_assert(sizeof(struct tp_pyconfig) == 64, "tp_pyconfig layout");

/* The reuse guard for a code object: both sides hash the same four fields, so userspace
 * can tell that the object at an address is still the one the kernel saw. */
static inline __u32 tp_code_check(__u32 firstlineno, __u32 argcount, __u64 filename, __u64 name)
{
	__u64 h = 0x9e3779b97f4a7c15ULL;

	h ^= firstlineno + 0x100000000ULL * argcount;
	h *= 0xff51afd7ed558ccdULL;
	h ^= filename;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= name;
	h *= 0xff51afd7ed558ccdULL;
	return (__u32)(h ^ (h >> 32));
}

/* Largest frame_read the walker accepts (its scratch buffer). */
#define TP_FRAME_READ_MAX 128

/* Fill cfg->frame_read from the frame offsets: 0, or -ENOTSUP when they do not fit. */
static inline int tp_pyconfig_frame_read(struct tp_pyconfig *cfg)
{
	__u32 end = 0, e;

	e = cfg->frame_back + 8u;
	end = e > end ? e : end;
	e = cfg->frame_code + 8u;
	end = e > end ? e : end;
	e = cfg->frame_lasti + (cfg->lasti_kind == TP_LASTI_PTR ? 8u : 4u);
	end = e > end ? e : end;
	if (cfg->frame_owner != TP_OFF_NONE) {
		e = cfg->frame_owner + 1u;
		end = e > end ? e : end;
	}
	if (cfg->frame_is_entry != TP_OFF_NONE) {
		e = cfg->frame_is_entry + 1u;
		end = e > end ? e : end;
	}
	end = (end + 7u) & ~7u;
	if (end > TP_FRAME_READ_MAX)
		return -95; /* EOPNOTSUPP */
	cfg->frame_read = (__u8)end;
	return 0;
}

#define TP_MAX_TRACED 65536

/* --- Memory ---------------------------------------------------------------------------
 * Allocations reach the kernel side either from uprobes on the C allocator (attach mode) or
 * from the sampler preloaded into a launched tree (user/shim/memshim.c), which calls
 * treeprof_mem_hook() only for sampled allocations and for frees of sampled addresses. */
enum tp_mem_kind {
	TP_MEM_MALLOC = 1,
	TP_MEM_CALLOC = 2,
	TP_MEM_REALLOC = 3,  /* the new block of a realloc; the old one gets a TP_MEM_FREE */
	TP_MEM_MEMALIGN = 4, /* memalign and aligned_alloc */
	TP_MEM_POSIX_MEMALIGN = 5,
	TP_MEM_VALLOC = 6,
	TP_MEM_PVALLOC = 7,
	TP_MEM_MMAP = 8,   /* an anonymous mmap made outside the allocator, or the part of a
			    * PROT_NONE reservation an mprotect made accessible */
	TP_MEM_MREMAP = 9, /* the new range of an mremap; the old range gets a TP_MEM_MUNMAP */
	TP_MEM_FREE = 16,
	TP_MEM_MUNMAP = 17,
};

/* Exact totals of one process, counted by the BPF programs (attach mode) or by the
 * preloaded sampler (launch mode), whichever saw the process. */
struct tp_memcounters {
	__u64 alloc_count; /* successful allocations, reallocs and mmaps outside the allocator */
	__u64 alloc_bytes; /* bytes requested by them */
	__u64 free_count;  /* frees of non-NULL pointers and munmaps */
	__u64 failed;	   /* allocations that returned NULL */
	__u64 in_use;	   /* sampler: usable bytes in use (malloc_usable_size), as a signed
			    * value counted from the fork in a fork child; BPF: 0 */
	__u64 peak_in_use; /* sampler: the largest in_use seen (signed); BPF: 0 */
	__u64 sampled;	   /* allocations sampled (sent with a stack) */
	__u64 rate;	   /* mean sampling interval in bytes (1: every allocation) */
};
_Static_assert(sizeof(struct tp_memcounters) == 64, "tp_memcounters layout");

/* A sampled allocation. rate is the sampling interval in force: userspace weights the
 * allocation as size / (1 - exp(-size / rate)) bytes (size itself when rate <= 1). The
 * stack is in s (s.hdr repeats hdr with type TP_REC_SAMPLE; s.n_kstack is 0). */
struct tp_alloc {
	struct tp_hdr hdr;
	__u64 addr;
	__u64 size;
	__u64 rate;
	__u32 kind; /* enum tp_mem_kind */
	__u32 _pad;
	struct tp_sample s;
};
_Static_assert(sizeof(struct tp_alloc) == 24 + 32 + sizeof(struct tp_sample), "tp_alloc layout");

struct tp_free {
	struct tp_hdr hdr;
	__u64 addr;
	__u32 kind; /* TP_MEM_FREE or TP_MEM_MUNMAP */
	__u32 _pad;
};
_Static_assert(sizeof(struct tp_free) == 40, "tp_free layout");

/* [addr, addr + len) of a process's anonymous mappings was unmapped (munmap, or replaced by
 * a MAP_FIXED mmap) or made PROT_NONE again: whatever sampled mapping (TP_MEM_MMAP,
 * TP_MEM_MREMAP) lies in it, whole or in part, is released for those bytes. */
struct tp_free_range {
	struct tp_hdr hdr;
	__u64 addr;
	__u64 len;
};
_Static_assert(sizeof(struct tp_free_range) == 40, "tp_free_range layout");

struct tp_memstat {
	struct tp_hdr hdr;
	struct tp_memcounters c;
};
_Static_assert(sizeof(struct tp_memstat) == 88, "tp_memstat layout");

#endif
