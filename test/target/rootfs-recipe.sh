#!/usr/bin/env bash
# Builds the Debian trixie root file system of the test target host into "$1".
# The target cache is keyed by a hash of this file: change it and the next
# `target.sh up` builds a new root file system.
set -euo pipefail

dest=$1
mirror=$2

packages=(
	criu python3-pycriu openssh-server tini procps iproute2 python3
	gcc make libc6-dev libcriu-dev libprotobuf-c-dev protobuf-c-compiler
	iptables nftables util-linux sudo
)

debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
	trixie "$dest" "$mirror"

# sshd wants its privilege-separation directory; keys are made at `up` time.
rm -f "$dest"/etc/ssh/ssh_host_*
mkdir -p "$dest/run/sshd" "$dest/root/.ssh"
chmod 0700 "$dest/root/.ssh"
# The apt caches are not needed on the target and take room in the cache.
rm -rf "$dest"/var/cache/apt/archives/*.deb
