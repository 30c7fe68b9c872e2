#!/usr/bin/env bash
# Runs the Jazzer.js fuzz targets of the TypeScript side (test/fuzz/*.fuzz.ts,
# compiled to out/test/fuzz/ by `npm run compile`).
#
#   test/fuzz/run.sh SECONDS                   every target for SECONDS each
#   FUZZ_ONLY=image-format test/fuzz/run.sh 60 one target
#   test/fuzz/run.sh reproduce TARGET CRASH_FILE
#                                              the target on one input, once,
#                                              its report on the terminal
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
# Jazzer.js' path traversal detector reports any path with "../" built from
# the input; the paths these parsers read (IdentityFile in ~/.ssh/config, a
# connection file) are the user's own and may lead anywhere by design.
disabled_detectors=(path-traversal)

die() {
	echo "fuzz: $*" >&2
	exit 2
}

# Inside the private mount namespace: the checkout, node_modules, /tmp and the working directory.
mount_all() {
	local rootfs=$1 work=$2 node_modules=$3
	mount --make-rprivate /
	# The tmpfs first: a checkout under /tmp is then mounted on it, not hidden by it.
	mount -t tmpfs -o mode=1777 tmpfs "$rootfs/tmp"
	mkdir -p "$rootfs$repo"
	mount --bind "$repo" "$rootfs$repo"
	mount -o remount,bind,ro "$rootfs$repo"
	if [[ $node_modules != "$repo/node_modules" ]]; then
		mkdir -p "$rootfs$node_modules"
		mount --bind "$node_modules" "$rootfs$node_modules"
		mount -o remount,bind,ro "$rootfs$node_modules"
	fi
	mkdir -p "$rootfs$work"
	mount --bind "$work" "$rootfs$work"
	mount -t proc proc "$rootfs/proc"
	mount --rbind /dev "$rootfs/dev"
}

# Jazzer.js on one target in the chroot: ROOTFS WORK NODE_MODULES TARGET CORPUS_OR_INPUT LIBFUZZER_ARG...
jazzer() {
	local rootfs=$1 work=$2 node_modules=$3 target=$4 inputs=$5
	shift 5
	local mode=(--sync)
	[[ $async_targets == *" $target "* ]] && mode=()
	chroot "$rootfs" /usr/bin/env -i -C "$repo" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work" \
		/usr/bin/node "$node_modules/@jazzer.js/core/dist/cli.js" "out/test/fuzz/$target.fuzz" "$inputs" \
		"${mode[@]}" --timeout "$timeout_ms" --includes "$repo/out/src/" --excludes node_modules \
		--disableBugDetectors "${disabled_detectors[@]}" -- "$@"
}

# __inner SECONDS ROOTFS WORK NODE_MODULES TARGET...: run each target, its output in WORK/TARGET/log.
# __reproduce ROOTFS WORK NODE_MODULES TARGET: run the target on WORK/input once, output here.
case ${1:-} in
__inner)
	seconds=$2
	shift 2
	mount_all "$1" "$2" "$3"
	for target in "${@:4}"; do
		# Jazzer.js exits non-zero on a finding; the outer part reads the log.
		jazzer "$1" "$2" "$3" "$target" "$2/$target/corpus" "-max_total_time=$seconds" "-artifact_prefix=$2/$target/" \
			>"$2/$target/log" 2>&1 || true
	done
	exit 0
	;;
__reproduce)
	shift
	mount_all "$1" "$2" "$3"
	jazzer "$1" "$2" "$3" "$4" "$2/input"
	exit
	;;
esac

usage="usage: $0 SECONDS (FUZZ_ONLY=<target> for one target), or $0 reproduce TARGET CRASH_FILE"
[[ $(id -u) -eq 0 ]] || die "must run as root (mount namespaces and chroot); try: sudo $0 $*"
reproduce=
if [[ ${1:-} == reproduce ]]; then
	[[ $# -eq 3 && -f $3 ]] || die "$usage"
	reproduce=$3
	FUZZ_ONLY=$2
else
	[[ $# -eq 1 && $1 =~ ^[1-9][0-9]*$ ]] || die "$usage"
	seconds=$1
fi

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
if [[ -n $reproduce ]]; then
	cp -- "$reproduce" "$work/input"
	echo "fuzz: $FUZZ_ONLY on $reproduce (copied to $work/input)"
	exec unshare --mount --propagation private -- bash "$here/run.sh" __reproduce "$rootfs" "$work" "$node_modules" "$FUZZ_ONLY"
fi
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
	awk '/^==[0-9]+==|ERROR|Uncaught|Error:|FATAL|[Tt]imeout|out-of-memory/ { on = 1 } on && shown < 15 { print "  | " $0; shown++ }' "$log"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
