#!/usr/bin/env bash
# Builds the native helper inside the project's Debian trixie root file
# system (gcc 14, protoc-c, static libprotobuf-c, CRIU's rpc.proto).
#
#   native-helper/build.sh         build; copies the static binary to
#                                  <repo>/dist/helper/checkpoint-helper-<uname -m>
#   native-helper/build.sh test    build and run the unit tests (ASan + UBSan)
#   native-helper/build.sh clean   remove native-helper/build
#   native-helper/build.sh make ARGS...
#                                  run make with ARGS there, nothing installed
#                                  (CKPT_TEST=leak_files build.sh make test
#                                  runs the test groups whose name holds it)
#   native-helper/build.sh fuzz SECONDS
#                                  build the fuzz targets (clang, libFuzzer) and
#                                  run each for SECONDS (fuzz/run.sh;
#                                  FUZZ_ONLY=frame runs one target)
#
# Runs as root on the host. The sources are bind-mounted into the root file
# system inside a private mount namespace (unshare --mount), with /proc, /dev
# and /sys (the host's cgroup mounts in it, for the freezer's tests), so
# nothing stays mounted afterwards; commands are passed as argument vectors,
# never as shell strings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
mnt=/mnt/ckpt-src

die() {
	echo "build.sh: $*" >&2
	exit 1
}

# Inside the private mount namespace: mount, chroot, run the command after the root file system
# (make with its arguments, or fuzz with its seconds).
inner() {
	local rootfs=$1 cmd
	shift
	if [[ $1 == fuzz ]]; then
		cmd=(bash "$mnt/native-helper/fuzz/run.sh" "${@:2}")
	else
		cmd=(make -C "$mnt/native-helper" "$@")
	fi
	mount --make-rprivate /
	mkdir -p "$rootfs$mnt/native-helper" "$rootfs$mnt/proto"
	mount --bind "$here" "$rootfs$mnt/native-helper"
	mount --bind "$repo/proto" "$rootfs$mnt/proto"
	mount -o remount,bind,ro "$rootfs$mnt/proto"
	mount -t proc proc "$rootfs/proc"
	mount --rbind /dev "$rootfs/dev"
	# the freezer's tests: a fresh sysfs hides the cgroup mounts, so they come in recursively
	mount -t sysfs sysfs "$rootfs/sys"
	mount --rbind /sys/fs/cgroup "$rootfs/sys/fs/cgroup"
	exec chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${CKPT_TEST:+CKPT_TEST=$CKPT_TEST} \
		${FUZZ_ONLY:+FUZZ_ONLY=$FUZZ_ONLY} "${cmd[@]}"
}

if [[ ${1:-} == __inner ]]; then
	shift
	inner "$@"
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (mount namespaces and chroot); try: sudo $0 $*"

target=all
make_args=()
case ${1:-} in
'' | all) target=all ;;
test) target=test ;;
clean) target=clean ;;
make)
	target=make
	make_args=("${@:2}")
	;;
fuzz)
	target=fuzz
	[[ ${2:-} =~ ^[0-9]+$ ]] || die "fuzz needs the seconds each target runs (build.sh fuzz 60)"
	make_args=(fuzz "$2")
	;;
*) die "unknown argument '$1' (use: all, test, clean, make ARGS..., fuzz SECONDS)" ;;
esac
[[ $target == make || $target == fuzz ]] || make_args=("$target")

rootfs=$(bash "$repo/test/target/target.sh" build | tail -n1)
[[ -x $rootfs/usr/bin/protoc-c && -f $rootfs/usr/include/criu/rpc.proto ]] ||
	die "$rootfs lacks protoc-c or /usr/include/criu/rpc.proto (protobuf-c-compiler, libcriu-dev)"

unshare --mount --propagation private -- bash "$here/build.sh" __inner "$rootfs" "${make_args[@]}"

if [[ $target == all ]]; then
	out="$repo/dist/helper/checkpoint-helper-$(uname -m)"
	mkdir -p "$repo/dist/helper"
	install -m 0755 "$here/build/checkpoint-helper" "$out"
	echo "build.sh: $out"
fi
