#!/usr/bin/env bash
# The helper's unit tests (ASan, UBSan) and the shape of its sources; the
# last line sums both: "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-build}
cd "$here"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# into a file, not a pipe: a process a crashed test left behind may hold its output for good
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"./$build/unit-tests" >"$out" 2>&1
unit_status=$?
cat "$out"
BUILD=$build bash tests/shape.sh | tee -a "$out"

read -r up uf < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$out" | tail -n1)
read -r sp sf < <(sed -nE 's/^shape: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$out" | tail -n1)
up=${up:-0} uf=${uf:-0} sp=${sp:-0} sf=${sf:-0}
if ((unit_status != 0 && uf == 0)); then uf=1; fi
echo "$((up + sp)) passed, $((uf + sf)) failed"
((uf + sf == 0))
