#!/usr/bin/env bash
# The project's test target host: a Debian trixie root file system started in
# its own mount and pid namespaces, tini as pid 1, sshd on a loopback port.
#
#   target.sh build     build (once) the cached root file system
#   target.sh up        start it; last stdout line is the connection JSON
#   target.sh down      stop it and drop everything it mounted
#   target.sh status    print the connection JSON if it is up, exit 1 if not
#   target.sh exec CMD  run CMD inside the running target (for scripts)
#   target.sh rootfs    print the path of the cached root file system
#
# Environment: CKPT_CACHE_DIR (default /var/cache/checkpoint-debugger) holds
# the root file systems; CKPT_TARGET_STATE (default /run/checkpoint-debugger-target)
# holds the running instance's keys, pid and connection line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_dir=${CKPT_CACHE_DIR:-/var/cache/checkpoint-debugger}
state_dir=${CKPT_TARGET_STATE:-/run/checkpoint-debugger-target}
recipe="$here/rootfs-recipe.sh"

die() {
	echo "target: $*" >&2
	exit 1
}

log() {
	echo "target: $*" >&2
}

require_root() {
	[[ $(id -u) -eq 0 ]] ||
		die "must run as root (namespaces, mounts and debootstrap need it); try: sudo $0 $*"
}

rootfs_path() {
	local hash
	hash=$(sha256sum "$recipe" | cut -c1-16)
	echo "$cache_dir/rootfs-trixie-$hash"
}

# The Debian mirror the machine's apt is configured with.
configured_mirror() {
	local uri
	uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		grep -v security | head -n1 | awk '{ print ($1 == "deb") ? $2 : $2 }') || true
	echo "${uri:-http://deb.debian.org/debian}"
}

ensure_host_tools() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v ssh-keygen >/dev/null || missing+=(openssh-client)
	command -v unshare >/dev/null || missing+=(util-linux)
	[[ ${#missing[@]} -eq 0 ]] && return 0
	log "installing host packages: ${missing[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		die "could not install ${missing[*]} with apt-get; install them and retry"
}

cmd_build() {
	require_root build
	local root
	root=$(rootfs_path)
	if [[ -x $root/usr/sbin/criu ]]; then
		echo "$root"
		return 0
	fi
	ensure_host_tools
	mkdir -p "$cache_dir"
	local tmp="$root.partial"
	rm -rf "$tmp"
	log "building the trixie root file system in $root (a few minutes, once)"
	"$recipe" "$tmp" "$(configured_mirror)" >"$cache_dir/build.log" 2>&1 ||
		die "debootstrap failed; see $cache_dir/build.log"
	mv "$tmp" "$root"
	prune_old_rootfs "$root"
	echo "$root"
}

# Root file systems of older recipes take 500 MB each; none is in use unless
# an instance runs.
prune_old_rootfs() {
	local keep=$1 old
	instance_pid >/dev/null && return 0
	for old in "$cache_dir"/rootfs-trixie-*; do
		[[ -d $old && $old != "$keep" ]] || continue
		log "removing the root file system of an older recipe: $old"
		rm -rf --one-file-system "$old"
	done
}

# The pid namespace this runs in (a CI run under unshare -p has its own).
own_pidns() {
	readlink /proc/self/ns/pid
}

# The running instance's pid: status 1 when none, 2 when the state names one
# started in another pid namespace (its pid means nothing here; it is reached
# over SSH only, and it is left to that namespace to end).
instance_pid() {
	local pid
	[[ -r $state_dir/pid ]] || return 1
	[[ -r $state_dir/pidns && $(<"$state_dir/pidns") != "$(own_pidns)" ]] && return 2
	pid=$(<"$state_dir/pid")
	[[ -n $pid && -d /proc/$pid ]] || return 1
	# A recycled pid is not our instance.
	grep -q unshare "/proc/$pid/comm" 2>/dev/null || return 1
	echo "$pid"
}

ssh_answers() {
	local port=$1 banner
	banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 7 <&3" 2>/dev/null) || return 1
	[[ $banner == SSH-2.0 ]]
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

make_keys() {
	rm -rf "$state_dir"
	mkdir -p "$state_dir"
	chmod 0700 "$state_dir"
	ssh-keygen -q -t ed25519 -N '' -C checkpoint-target-client -f "$state_dir/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C checkpoint-target-host -f "$state_dir/ssh_host_ed25519_key"
}

install_keys() {
	local root=$1
	install -m 0600 "$state_dir/ssh_host_ed25519_key" "$root/etc/ssh/ssh_host_ed25519_key"
	install -m 0644 "$state_dir/ssh_host_ed25519_key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
	install -d -m 0700 "$root/root/.ssh"
	install -m 0600 "$state_dir/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
	# The target shares the machine's host name (no UTS namespace); sudo
	# wants to resolve it.
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
		"$(hostname)" >"$root/etc/hosts"
}

connection_line() {
	local port=$1
	printf '{"host":"127.0.0.1","port":%d,"user":"root","identityFile":"%s","knownHostsFile":"%s"}\n' \
		"$port" "$state_dir/id_ed25519" "$state_dir/known_hosts"
}

check_namespaces() {
	unshare --mount --pid --fork --propagation private true 2>/dev/null ||
		die "cannot create mount and pid namespaces here (unshare --mount --pid failed); the target host needs CAP_SYS_ADMIN and unprivileged-namespace support in the kernel"
}

cmd_up() {
	require_root up
	local pid port root owner=0
	pid=$(instance_pid) || owner=$?
	if ((owner != 1)) && port=$(<"$state_dir/port") && ssh_answers "$port"; then
		cat "$state_dir/connection.json"
		return 0
	fi
	((owner == 0)) && cmd_down >/dev/null
	root=$(cmd_build)
	check_namespaces
	make_keys
	install_keys "$root"
	port=$(free_port)
	echo "$port" >"$state_dir/port"
	printf '[127.0.0.1]:%d %s\n' "$port" "$(cut -d' ' -f1,2 "$state_dir/ssh_host_ed25519_key.pub")" \
		>"$state_dir/known_hosts"

	# setsid + closed fds: the instance must not hold the caller's terminal or pipes.
	setsid unshare --mount --pid --fork --propagation private --kill-child \
		"$here/target-init.sh" "$root" "$port" \
		</dev/null >"$state_dir/target.log" 2>&1 &
	echo $! >"$state_dir/pid"
	own_pidns >"$state_dir/pidns"

	local i
	for ((i = 0; i < 100; i++)); do
		ssh_answers "$port" && break
		instance_pid >/dev/null || die "the target exited while starting; see $state_dir/target.log: $(tail -n 5 "$state_dir/target.log")"
		sleep 0.1
	done
	ssh_answers "$port" || die "sshd did not answer on 127.0.0.1:$port; see $state_dir/target.log"
	connection_line "$port" >"$state_dir/connection.json"
	log "up: sshd on 127.0.0.1:$port (root file system $root)"
	cat "$state_dir/connection.json"
}

cmd_down() {
	require_root down
	local pid owner=0
	pid=$(instance_pid) || owner=$?
	if ((owner == 2)); then
		log "the running target was started in another pid namespace: left to it"
		return 0
	fi
	if ((owner == 1)); then
		log "not running"
		rm -f "$state_dir/pid" "$state_dir/pidns" "$state_dir/connection.json"
		return 0
	fi
	# unshare --kill-child SIGKILLs the namespace's pid 1, which ends the whole
	# pid namespace; its private mount namespace and every mount in it go with it.
	kill -TERM "$pid"
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -d /proc/$pid ]] || break
		sleep 0.1
	done
	[[ -d /proc/$pid ]] && kill -KILL "$pid"
	rm -f "$state_dir/pid" "$state_dir/pidns" "$state_dir/connection.json"
	log "down"
}

cmd_status() {
	local port owner=0
	instance_pid >/dev/null || owner=$?
	((owner != 1)) && port=$(<"$state_dir/port") && ssh_answers "$port" || {
		echo "target: not running" >&2
		return 1
	}
	cat "$state_dir/connection.json"
}

# Runs a command inside the running target's namespaces (as its pid 1 sees them).
cmd_exec() {
	require_root exec
	local pid init
	pid=$(instance_pid) || die "not running here (or started in another pid namespace); start it with: $0 up"
	init=$(pgrep -P "$pid" | head -n1) || die "target has no init process"
	nsenter --target "$init" --mount --pid --root --wd -- "$@"
}

case ${1:-} in
build) cmd_build ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
exec)
	shift
	cmd_exec "$@"
	;;
rootfs) rootfs_path ;;
*) die "usage: $0 build|up|down|status|exec CMD...|rootfs" ;;
esac
