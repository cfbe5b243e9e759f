#!/bin/sh
# make shim-check: tests/shim/shim_check.c under libtreeprof-mem.so at rate 1 (every
# allocation sampled: exact hook counts) and at the default rate (Poisson sampling), then the
# self-check that a run without the library is detected (exit 77), the library's exported
# symbols, the warning for a bad TREEPROF_MEM_SAMPLE, and a Python tree under the library.
#   usage: tests/shim/run.sh /abs/path/libtreeprof-mem.so path/to/shim_check
lib=$1
check=$2
fail=0

step() { printf 'shim-check: %s\n' "$*"; }
bad() { printf 'shim-check: FAILED: %s\n' "$*" >&2; fail=1; }

step "rate 1"
LD_PRELOAD=$lib TREEPROF_MEM_SAMPLE=1 "$check" || bad "shim_check at rate 1"

step "default rate"
env -u TREEPROF_MEM_SAMPLE LD_PRELOAD="$lib" "$check" || bad "shim_check at the default rate"

# Self-check: without the library shim_check must say so and exit 77, not pass.
out=$(env -u LD_PRELOAD "$check" 2>&1)
rc=$?
if [ $rc -eq 77 ] && printf '%s' "$out" | grep -q 'not loaded'; then
	step "without the preload: detected (exit 77), as expected"
else
	bad "without the preload shim_check exited $rc, expected 77 and a 'not loaded' message: $out"
fi

# Exported: the interposed functions (allocator, mappings, exec), the hook and its two globals; nothing else.
want='aligned_alloc calloc cfree execl execle execlp execv execve execvp execvpe fexecve free malloc
memalign mmap mmap64 mprotect mremap munmap posix_memalign posix_spawn posix_spawnp pvalloc realloc
reallocarray treeprof_mem_counters treeprof_mem_hook treeprof_mem_hook_calls valloc'
want=$(printf '%s\n' $want | sort | tr '\n' ' ')
seen=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort | tr '\n' ' ')
if [ "$seen" = "$want" ]; then
	step "exported symbols: ok"
else
	bad "exported symbols: expected [$want], saw [$seen]"
fi

out=$(LD_PRELOAD=$lib TREEPROF_MEM_SAMPLE=12k /bin/true 2>&1)
if printf '%s' "$out" | grep -q 'TREEPROF_MEM_SAMPLE must be'; then
	step "bad TREEPROF_MEM_SAMPLE: warned"
else
	bad "TREEPROF_MEM_SAMPLE=12k: expected a warning, saw '$out'"
fi

# A Python process tree (fork, threads, arenas by mmap) runs and exits cleanly under it.
py=/usr/bin/python3
out=$(LD_PRELOAD=$lib TREEPROF_MEM_SAMPLE=4096 $py -c '
import os, threading, mmap
def work():
    keep = [bytearray(100000) for _ in range(50)]
    junk = [str(i) * 10 for i in range(100000)]
    m = mmap.mmap(-1, 1 << 20); m[0] = 1; m.close()
    return len(keep) + len(junk)
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]
pid = os.fork()
if pid == 0:
    work(); os._exit(0)
[t.join() for t in ts]
_, st = os.waitpid(pid, 0)
print("ok" if st == 0 else "child status %d" % st)
' 2>&1)
if [ "$out" = ok ]; then
	step "python tree under the preload: ok"
else
	bad "python tree under the preload: expected 'ok', saw '$out'"
fi
exit $fail
