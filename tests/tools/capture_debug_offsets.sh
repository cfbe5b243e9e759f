#!/bin/sh
# Capture the _Py_DebugOffsets bytes of a live interpreter (3.13+) for the unit tests:
# start PYTHON, find _PyRuntime (its .dynsym value plus the load bias of the library or
# executable that defines it), and copy BYTES bytes from /proc/PID/mem. Run as root.
#
#   tests/tools/capture_debug_offsets.sh PYTHON OUT [BYTES]
#   e.g. tests/tools/capture_debug_offsets.sh ~/.pyenv/versions/3.13.0/bin/python3.13 \
#        tests/unit/data/debug_offsets_3_13_0.bin
set -eu
py=$1 out=$2 bytes=${3:-1024}

"$py" -c 'import time; time.sleep(30)' &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1

# The file that defines _PyRuntime: libpython when the executable links it, else itself.
exe=$(readlink -f "/proc/$pid/exe")
lib=$(awk '$6 ~ /libpython3/ {print $6; exit}' "/proc/$pid/maps")
file=$exe
if ! nm -D --defined-only "$exe" 2>/dev/null | grep -q ' _PyRuntime$'; then
	file=$lib
fi
sym=$(nm -D --defined-only "$file" | awk '$3 == "_PyRuntime" {print $1}')
# Load bias from the mapping at file offset 0 (the first PT_LOAD has vaddr 0 for PIE/.so).
base=$(awk -v f="$file" '$6 == f && $3 == "00000000" {split($1, a, "-"); print a[1]; exit}' \
	"/proc/$pid/maps")
if [ "$(readelf -h "$file" | awk '/Type:/ {print $2}')" = EXEC ]; then
	base=0
fi
addr=$(printf '%d' "0x$sym")
addr=$((addr + $(printf '%d' "0x$base")))
dd if="/proc/$pid/mem" of="$out" bs=1 skip="$addr" count="$bytes" status=none
printf 'captured %s bytes at 0x%x from %s (pid %d)\n' "$bytes" "$addr" "$file" "$pid"
head -c 8 "$out"; echo
