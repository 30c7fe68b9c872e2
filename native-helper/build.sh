#!/usr/bin/env bash
# Builds the native helper inside the project's Debian trixie root file
# system (gcc 14, protoc-c, static libprotobuf-c, CRIU's rpc.proto).
#
#   native-helper/build.sh         build; copies the static binary to
#                                  <repo>/dist/helper/checkpoint-helper-<uname -m>
#   native-helper/build.sh test    build and run the unit tests (ASan + UBSan)
#   native-helper/build.sh clean   remove native-helper/build
#
# Runs as root on the host. The sources are bind-mounted into the root file
# system inside a private mount namespace (unshare --mount), so nothing stays
# mounted afterwards; commands are passed as argument vectors, never as shell
# strings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
mnt=/mnt/ckpt-src

die() {
	echo "build.sh: $*" >&2
	exit 1
}

# Inside the private mount namespace: mount, chroot, run make.
inner() {
	local rootfs=$1 target=$2
	mount --make-rprivate /
	mkdir -p "$rootfs$mnt/native-helper" "$rootfs$mnt/proto"
	mount --bind "$here" "$rootfs$mnt/native-helper"
	mount --bind "$repo/proto" "$rootfs$mnt/proto"
	mount -o remount,bind,ro "$rootfs$mnt/proto"
	mount -t proc proc "$rootfs/proc"
	mount --rbind /dev "$rootfs/dev"
	exec chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		make -C "$mnt/native-helper" "$target"
}

if [[ ${1:-} == __inner ]]; then
	inner "$2" "$3"
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (mount namespaces and chroot); try: sudo $0 $*"

target=all
case ${1:-} in
'' | all) target=all ;;
test) target=test ;;
clean) target=clean ;;
*) die "unknown argument '$1' (use: all, test, clean)" ;;
esac

rootfs=$(bash "$repo/test/target/target.sh" build | tail -n1)
[[ -x $rootfs/usr/bin/protoc-c && -f $rootfs/usr/include/criu/rpc.proto ]] ||
	die "$rootfs lacks protoc-c or /usr/include/criu/rpc.proto (protobuf-c-compiler, libcriu-dev)"

unshare --mount --propagation private -- bash "$here/build.sh" __inner "$rootfs" "$target"

if [[ $target == all ]]; then
	out="$repo/dist/helper/checkpoint-helper-$(uname -m)"
	mkdir -p "$repo/dist/helper"
	install -m 0755 "$here/build/checkpoint-helper" "$out"
	echo "build.sh: $out"
fi
