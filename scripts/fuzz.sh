#!/usr/bin/env bash
# Every fuzz target of the project, each for SECONDS (default 10):
#   npm run fuzz -- --seconds 600
#   npm run fuzz -- --seconds 600 --only frame      (the targets whose name is that)
# The helper's (C, libFuzzer with ASan and UBSan: native-helper/fuzz/) and
# the client's (TypeScript, Jazzer.js: test/fuzz/), both run inside the
# target root file system (its clang, its Node.js), as root. Prints a line
# per target, "fuzz <target>: <N> executions, <K> crashes", and last
# "N passed, N failed" (a target passes when it found no crash). Crash
# inputs are kept (native-helper/build/fuzz/artifacts/, test/fuzz/artifacts/);
# native-helper/README.md and docs/fuzzing.md say how to replay one.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

seconds=10
only=
while (($#)); do
	case $1 in
	--seconds) seconds=${2:-}; shift 2 ;;
	--only) only=${2:-}; shift 2 ;;
	*) echo "fuzz: unknown argument '$1' (use --seconds N, --only TARGET)" >&2; exit 2 ;;
	esac
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz: --seconds needs a whole number of seconds above 0" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "fuzz: must run as root (it enters the target root file system); try: sudo npm run fuzz -- --seconds $seconds" >&2; exit 2; }

c_side=yes
ts_side=yes
if [[ -n $only ]]; then
	[[ -f native-helper/fuzz/fuzz_$only.c ]] || c_side=no
	[[ -f test/fuzz/$only.fuzz.ts ]] || ts_side=no
	[[ $c_side == yes || $ts_side == yes ]] || { echo "fuzz: no target $only (see native-helper/fuzz/fuzz_*.c, test/fuzz/*.fuzz.ts)" >&2; exit 2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# Adds a part's "N passed, N failed" to the totals; a part that ended without one (it did not build, say) is a failure.
count() {
	local log=$1 status=$2 p f
	read -r p f < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -n1)
	if [[ -z ${p:-} ]]; then
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + p))
	failed=$((failed + f + (status != 0 && f == 0 ? 1 : 0)))
}

if [[ $c_side == yes ]]; then
	printf '== the helper (C: libFuzzer, ASan, UBSan)\n'
	FUZZ_ONLY=$only bash native-helper/build.sh fuzz "$seconds" 2>&1 | tee "$work/c.log"
	count "$work/c.log" "${PIPESTATUS[0]}"
fi

if [[ $ts_side == no ]]; then
	:
elif printf '\n== the client (TypeScript: Jazzer.js)\n' && npm run -s compile >"$work/compile.log" 2>&1; then
	FUZZ_ONLY=$only bash test/fuzz/run.sh "$seconds" 2>&1 | tee "$work/ts.log"
	count "$work/ts.log" "${PIPESTATUS[0]}"
else
	cat "$work/compile.log"
	echo "fuzz: the TypeScript does not compile (npm run compile)"
	failed=$((failed + 1))
fi

printf '\n%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
