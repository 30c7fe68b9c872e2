#!/usr/bin/env bash
# The command-line demo: set everything up (scripts/setup.sh), start a small
# counting program on the target host, checkpoint it with `ckpt`, let it
# change, roll it back to the checkpoint, and show each step.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/setup.sh >&2
conn=$(bash test/target/target.sh status | tail -n1)
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$conn" "$1"; }
target_ssh() {
	ssh -q -p "$(field port)" -i "$(field identityFile)" -o UserKnownHostsFile="$(field knownHostsFile)" \
		-o BatchMode=yes "$(field user)@$(field host)" "$@"
}
ckpt() { node bin/ckpt.js --target /run/checkpoint-debugger-target/connection.json "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show_counter() { echo "counter on the target: $(target_ssh cat "$dir/state" | awk '{ print $2 }')"; }

say "the target host"
ckpt hello

say "a demo program on the target: it counts, 50 times a second"
target_ssh 'mkdir -p /opt/checkpoint-demo && cat > /opt/checkpoint-demo/workload.c' <test/workloads/workload.c
target_ssh 'cat > /opt/checkpoint-demo/record.h' <test/workloads/record.h
target_ssh gcc -std=c11 -O1 -pthread -o /opt/checkpoint-demo/counter /opt/checkpoint-demo/workload.c
dir=$(target_ssh mktemp -d /tmp/checkpoint-demo-XXXXXX)
pid=$(target_ssh "cd $dir && { setsid /opt/checkpoint-demo/counter counter $dir </dev/null >/dev/null 2>&1 & echo \$!; }")
trap 'target_ssh kill "$pid" 2>/dev/null || true' EXIT
sleep 1
echo "started as pid $pid"
show_counter

say "what it shares with processes outside it (leaks), and what each policy would do"
ckpt leaks "$pid"

say "checkpoint it, leaving it running"
id=$(ckpt --json dump "$pid" --leave-running --name demo | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
ckpt ls
show_counter

say "let it run on: its state changes"
sleep 2
show_counter

say "roll back: kill it and restore the checkpoint"
ckpt restore "$id" --kill-running
show_counter
sleep 1
echo "one second later, counting on from the checkpoint:"
show_counter

say "clean up"
ckpt rm "$id"
target_ssh kill "$pid"
trap - EXIT
echo "done; the target host stays up (npm run target:down stops it)"
