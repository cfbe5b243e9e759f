#!/bin/sh
# The demo: record a Python process tree (fork, spawn, forkserver, exec'd helper, late and
# short-lived children) from its first instruction, then show the report and the hottest
# folded stacks.
set -eu
cd "$(dirname "$0")/.."
# Debian's interpreter: present on every bookworm machine and runnable by the sudo user.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
out=${TREEPROF_DEMO_OUT:-demo.data}
manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
# Under sudo, treeprof runs the command as the user who ran sudo: let it write there.
[ -n "${SUDO_UID:-}" ] && chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$manifest"
echo "== sudo ./treeprof record -F 199 -o $out -- $py tests/workloads/tree.py"
./treeprof record -F 199 -o "$out" -- "$py" tests/workloads/tree.py --manifest "$manifest"
echo
echo "== ./treeprof report $out --format folded | sort -k2 -nr | head   (hottest stacks)"
./treeprof report "$out" --format folded | awk '{print $NF, $0}' | sort -nr | cut -d' ' -f2- | head
echo
# Memory: the same kind of tree with known allocations (kept, churned, held at a peak,
# leaked by a forked child), CPU and memory together.
memout=${out%.data}-mem.data
echo "== sudo ./treeprof record --mem -o $memout -- $py tests/workloads/mem_tree.py"
./treeprof record --mem -q -o "$memout" -- "$py" tests/workloads/mem_tree.py >/dev/null
./treeprof report "$memout" | sed -n '/^Memory/,/^Statistics/p'
echo "== ./treeprof report $memout --metric live_bytes --format folded   (leaks)"
./treeprof report "$memout" --metric live_bytes --format folded | awk '{print $NF, $0}' |
	sort -nr | cut -d' ' -f2- | head -5
