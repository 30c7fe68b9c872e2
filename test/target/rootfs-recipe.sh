#!/usr/bin/env bash
# Builds the Debian trixie root file system of the test target host into "$1".
# It also builds and fuzzes the helper: gcc for the static binary and its
# sanitizer tests, clang with libFuzzer for its fuzz targets, and Node.js
# (whose glibc is new enough for Jazzer.js) for the TypeScript fuzz targets.
# The target cache is keyed by a hash of this file: change it and the next
# `target.sh up` builds a new root file system.
set -euo pipefail

dest=$1
mirror=$2

packages=(
	criu python3-pycriu openssh-server tini procps iproute2 python3
	gcc make libc6-dev libcriu-dev libprotobuf-c-dev protobuf-c-compiler
	iptables nftables util-linux sudo patchelf gdb
	clang libclang-rt-19-dev llvm-19 nodejs
)

debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
	trixie "$dest" "$mirror"

# A second, newer CRIU beside trixie's 4.1.1, in /opt/criu-forky (the criu
# binary at usr/sbin/criu): CRIU 4.1.x cannot dump any AF_INET socket on
# Linux >= 6.16 (checkpoint-restore/criu#2705), so the tests of TCP
# checkpoints run this one through the helper's --criu. It comes from Debian
# forky with the libraries trixie lacks (libcompel1 4.2, libnl-3 3.12,
# libnet9), unpacked privately: RUNPATH points the binary at them, and the
# system's packages stay trixie's.
newer_criu() {
	local opt=/opt/criu-forky list=/etc/apt/sources.list.d/forky.list deb
	echo "deb $mirror forky main" >"$dest$list"
	# Testing suites carry a Valid-Until a mirror snapshot outlives; the signature is still checked.
	chroot "$dest" apt-get update -qq -o Acquire::Check-Valid-Until=false
	mkdir -p "$dest/tmp/forky-debs" "$dest$opt"
	chmod 1777 "$dest/tmp/forky-debs"	# apt downloads as _apt
	chroot "$dest" env --chdir=/tmp/forky-debs apt-get download -qq \
		criu/forky libcompel1/forky libnl-3-200/forky libnet9/forky
	for deb in "$dest"/tmp/forky-debs/*.deb; do
		dpkg-deb -x "$deb" "$dest$opt"
	done
	# absolute, not $ORIGIN: ld.so finds $ORIGIN through /proc, absent in this chroot
	chroot "$dest" patchelf --set-rpath "$opt/usr/lib/x86_64-linux-gnu" "$opt/usr/sbin/criu"
	chroot "$dest" "$opt/usr/sbin/criu" --version
	rm -rf "$dest/tmp/forky-debs" "$dest$list" "$dest"/var/lib/apt/lists/*forky*
}
newer_criu

# sshd wants its privilege-separation directory; keys are made at `up` time.
rm -f "$dest"/etc/ssh/ssh_host_*
mkdir -p "$dest/run/sshd" "$dest/root/.ssh"
chmod 0700 "$dest/root/.ssh"
# The apt caches are not needed on the target and take room in the cache.
rm -rf "$dest"/var/cache/apt/archives/*.deb
