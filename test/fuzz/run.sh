#!/usr/bin/env bash
# Runs the Jazzer.js fuzz targets of the TypeScript side (test/fuzz/*.fuzz.ts,
# compiled to out/test/fuzz/ by `npm run compile`).
#
#   test/fuzz/run.sh SECONDS                   every target for SECONDS each
#   FUZZ_ONLY=image-format test/fuzz/run.sh 60 one target
#
# Prints per target one line "fuzz <target>: <N> executions, <K> crashes"
# (a crash, a timeout or running out of memory each count; each is followed
# by the path of its input and the first lines of its report), then
# "<P> passed, <F> failed"; exits 0 iff no target failed.
#
# Jazzer.js 4.0's prebuilt fuzzer needs glibc 2.38, so the targets run in the
# project's Debian trixie root file system (test/target/target.sh build), as
# root, in a private mount namespace (unshare --mount) like
# native-helper/build.sh: the checkout (and node_modules where it lives, when
# it is a link out of the checkout) is bind-mounted read-only at its own path,
# a fresh tmpfs is the root file system's /tmp, and the run's working
# directory (the host's /tmp/ckpt-fuzz.XXXXXX, kept afterwards) is mounted at
# the same path inside. Each target starts from a copy of
# test/fuzz/corpus/<target>/ there; nothing is written to the checkout.
# Commands are argument vectors, never shell strings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# Targets whose fuzz function is async (it returns a promise); the others run with --sync, which is faster.
async_targets=" checkpoint dap elf "
# A run longer than this is a hang (libFuzzer's -timeout, via Jazzer.js' --timeout in ms).
timeout_ms=10000

die() {
	echo "fuzz: $*" >&2
	exit 2
}

# Inside the private mount namespace: mount, then run each target in the chroot.
inner() {
	local rootfs=$1 work=$2 node_modules=$3
	shift 3
	mount --make-rprivate /
	mkdir -p "$rootfs$repo"
	mount --bind "$repo" "$rootfs$repo"
	mount -o remount,bind,ro "$rootfs$repo"
	if [[ $node_modules != "$repo/node_modules" ]]; then
		mkdir -p "$rootfs$node_modules"
		mount --bind "$node_modules" "$rootfs$node_modules"
		mount -o remount,bind,ro "$rootfs$node_modules"
	fi
	mount -t tmpfs -o mode=1777 tmpfs "$rootfs/tmp"
	mkdir -p "$rootfs$work"
	mount --bind "$work" "$rootfs$work"
	mount -t proc proc "$rootfs/proc"
	mount --rbind /dev "$rootfs/dev"
	local target mode
	for target in "$@"; do
		mode=(--sync)
		[[ $async_targets == *" $target "* ]] && mode=()
		# Jazzer.js exits non-zero on a finding; the outer part reads the log.
		chroot "$rootfs" /usr/bin/env -i -C "$repo" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work" \
			/usr/bin/node "$node_modules/@jazzer.js/core/dist/cli.js" "out/test/fuzz/$target.fuzz" "$work/$target/corpus" \
			"${mode[@]}" --timeout "$timeout_ms" --includes "$repo/out/src/" --excludes node_modules -- \
			"-max_total_time=$seconds" "-artifact_prefix=$work/$target/" \
			>"$work/$target/log" 2>&1 || true
	done
}

if [[ ${1:-} == __inner ]]; then
	shift
	seconds=$1
	shift
	inner "$@"
	exit 0
fi

[[ $# -eq 1 && $1 =~ ^[1-9][0-9]*$ ]] || die "usage: $0 SECONDS (FUZZ_ONLY=<target> for one target)"
seconds=$1
[[ $(id -u) -eq 0 ]] || die "must run as root (mount namespaces and chroot); try: sudo $0 $*"

targets=()
for source in "$here"/*.fuzz.ts; do
	targets+=("$(basename "$source" .fuzz.ts)")
done
if [[ -n ${FUZZ_ONLY:-} ]]; then
	[[ " ${targets[*]} " == *" $FUZZ_ONLY "* ]] || die "no target $FUZZ_ONLY; the targets are: ${targets[*]}"
	targets=("$FUZZ_ONLY")
fi
for target in "${targets[@]}"; do
	[[ -f $repo/out/test/fuzz/$target.fuzz.js ]] || die "out/test/fuzz/$target.fuzz.js is missing: run npm run compile first"
done
node_modules=$(readlink -f "$repo/node_modules")
[[ -f $node_modules/@jazzer.js/core/dist/cli.js ]] || die "@jazzer.js/core is not installed: run npm ci first"

rootfs=$(bash "$repo/test/target/target.sh" build | tail -n1)
[[ -x $rootfs/usr/bin/node ]] || die "$rootfs has no /usr/bin/node (Node.js for Jazzer.js): rebuild it with test/target/target.sh build"

work=$(mktemp -d /tmp/ckpt-fuzz.XXXXXX)
echo "fuzz: working directory $work (corpora, logs, crash inputs)"
for target in "${targets[@]}"; do
	mkdir -p "$work/$target/corpus"
	if [[ -d $here/corpus/$target ]]; then
		cp -- "$here/corpus/$target"/* "$work/$target/corpus/" 2>/dev/null || true
	fi
done

unshare --mount --propagation private -- bash "$here/run.sh" __inner "$seconds" "$rootfs" "$work" "$node_modules" "${targets[@]}"

# The report: libFuzzer's "Done N runs" when it ran out its time; after a
# finding, the last "#N" status line says how far it got.
passed=0
failed=0
for target in "${targets[@]}"; do
	log=$work/$target/log
	executions=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
	findings=("$work/$target"/crash-* "$work/$target"/timeout-* "$work/$target"/oom-* "$work/$target"/leak-*)
	crash_files=()
	for f in "${findings[@]}"; do
		[[ -e $f ]] && crash_files+=("$f")
	done
	crashes=${#crash_files[@]}
	if [[ -z $executions ]]; then
		executions=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | sort -n | tail -n1)
		# Ended without finishing and without an input saved (the process died): still a crash.
		[[ $crashes -eq 0 ]] && crashes=1
	fi
	echo "fuzz $target: ${executions:-0} executions, $crashes crashes"
	if [[ $crashes -eq 0 ]]; then
		passed=$((passed + 1))
		continue
	fi
	failed=$((failed + 1))
	for f in "${crash_files[@]}"; do
		echo "  input: $f"
	done
	[[ ${#crash_files[@]} -gt 0 ]] || echo "  no input saved; the whole log: $log"
	# The report starts at libFuzzer's or Jazzer.js' first error line.
	awk '/ERROR|Uncaught|Error:|FATAL|[Tt]imeout|out-of-memory/ { on = 1 } on && shown < 15 { print "  | " $0; shown++ }' "$log"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
