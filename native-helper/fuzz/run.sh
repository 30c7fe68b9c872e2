#!/usr/bin/env bash
# Runs the helper's fuzz targets (build/fuzz/fuzz_*), each for SECONDS, with
# libFuzzer, ASan and UBSan. Meant to run inside the build's root file system:
#   native-helper/build.sh fuzz SECONDS          (FUZZ_ONLY=frame: one target)
#
# Each target starts from a fresh working corpus in /tmp, seeded from
# fuzz/corpus/<target>/ (never written to), and its regression inputs
# fuzz/regressions/<target>/ are replayed first. Crash inputs go to
# build/fuzz/artifacts/<target>/. Prints one line per target,
#   fuzz <target>: <N> executions, <K> crashes
# (a crash, leak, timeout or OOM is a crash, shown with its input and the
# first lines of its report), then "<P> passed, <F> failed"; exits 1 on a failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-build}
seconds=${1:-}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || {
	echo "usage: run.sh SECONDS (FUZZ_ONLY=<target> for one)" >&2
	exit 2
}
cd "$here"
make -s fuzz-build || exit 2

work=$(mktemp -d /tmp/ckpt-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
# the targets' files (the images they read by name) on tmpfs when there is one: many times faster
[[ -d /dev/shm && -w /dev/shm ]] && export TMPDIR=/dev/shm
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-19/bin/llvm-symbolizer
passed=0
failed=0

# The last "Done N runs" (or the last status line's #N) of a libFuzzer log.
executions() {
	local n
	n=$(sed -nE 's/^Done ([0-9]+) runs.*/\1/p' "$1" | tail -n1)
	[[ -n $n ]] || n=$(sed -nE 's/^#([0-9]+)[[:space:]].*/\1/p' "$1" | tail -n1)
	echo "${n:-0}"
}

# The regression inputs of target t, each run once: a fixed bug stays fixed.
replay() {
	local t=$1 bin=$2 log=$3 dir="fuzz/regressions/$1"
	[[ -d $dir ]] && compgen -G "$dir/*" >/dev/null || return 0
	"$bin" -runs=1 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$build/fuzz/artifacts/$t/" \
		"$dir"/* >"$log" 2>&1
}

# Fuzzes target t for $seconds; prints its line, counts it passed or failed.
fuzz_one() {
	local t=$1 bin="$build/fuzz/fuzz_$1" corpus="$work/$1" log="$work/$1.log" crashes=0 runs status
	mkdir -p "$corpus" "$build/fuzz/artifacts/$t"
	[[ -d fuzz/corpus/$t ]] && cp -r "fuzz/corpus/$t/." "$corpus/"
	if ! replay "$t" "$bin" "$work/$t.replay.log"; then
		crashes=1
		log="$work/$t.replay.log"
		runs=0
	else
		"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$build/fuzz/artifacts/$t/" "$corpus" >"$log" 2>&1
		status=$?
		runs=$(executions "$log")
		((status == 0)) || crashes=1
	fi
	echo "fuzz $t: $runs executions, $crashes crashes"
	if ((crashes)); then
		failed=$((failed + 1))
		sed -nE 's/.*(Test unit written to|Running: )(.*)/    input: \2/p' "$log" | tail -n1
		grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer' "$log" | sed 's/^/    /'
	else
		passed=$((passed + 1))
	fi
}

targets=()
for bin in "$build"/fuzz/fuzz_*; do
	t=${bin##*/fuzz_}
	[[ -z ${FUZZ_ONLY:-} || $t == "$FUZZ_ONLY" ]] && targets+=("$t")
done
if ((${#targets[@]} == 0)); then
	echo "run.sh: no fuzz target named '${FUZZ_ONLY:-}' in $build/fuzz" >&2
	exit 2
fi
for t in "${targets[@]}"; do
	fuzz_one "$t"
done
echo "$passed passed, $failed failed"
((failed == 0))
