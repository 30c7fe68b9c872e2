#!/usr/bin/env bash
# Runs as pid 1 of the target's fresh pid namespace, in its private mount
# namespace: makes the root file system a mount point of its own (CRIU needs
# that), mounts what a Linux host has, pivots into it and hands over to tini.
set -euo pipefail

root=$1
port=$2

mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
# A fresh sysfs hides the cgroup mounts; bring them in recursively.
mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mkdir -p "$root/run/sshd" "$root/.oldroot"

cd "$root"
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
cd /

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# tini -s reaps orphans even as pid 1; sshd stays in the foreground (-D) and
# logs to stderr (-e), which target.sh captures in target.log.
exec /usr/bin/tini -s -- /usr/sbin/sshd -D -e \
	-o ListenAddress=127.0.0.1 -o Port="$port" \
	-o HostKey=/etc/ssh/ssh_host_ed25519_key \
	-o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
	-o KbdInteractiveAuthentication=no -o UsePAM=no \
	-o PidFile=none -o MaxSessions=64 -o MaxStartups=64:30:128
