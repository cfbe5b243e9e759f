#!/bin/sh
# Regenerate vmlinux.h from the running kernel's BTF. The checked-in file is what CO-RE
# compiles against; relocations adapt the programs to the kernel they load on.
set -eu
btf=${1:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen.sh: $btf not readable: kernel lacks BTF" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$(dirname "$0")/vmlinux.h.tmp"
mv "$(dirname "$0")/vmlinux.h.tmp" "$(dirname "$0")/vmlinux.h"
