#!/usr/bin/env bash
# The main job: everything set up (scripts/setup.sh), the target host up with
# a demo program running on it, VS Code (code-server) with the packaged
# extension installed, and a workspace whose launch.json attaches to the demo
# program. Prints the URL to open. Everything stays up until
#   bash scripts/demo.sh stop
# stops code-server and the demo program (the target host stays; npm run
# target:down stops it).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
state=/run/checkpoint-debugger-demo
port=${CKPT_DEMO_PORT:-8780}
conn_file=/run/checkpoint-debugger-target/connection.json

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
healthy() { node -e 'require("http").get(process.argv[1], (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1))' "http://127.0.0.1:$port/healthz"; }

conn() { tail -n1 "$conn_file"; }
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$(conn)" "$1"; }
target_ssh() {
	ssh -q -p "$(field port)" -i "$(field identityFile)" -o UserKnownHostsFile="$(field knownHostsFile)" \
		-o BatchMode=yes "$(field user)@$(field host)" "$@"
}

stop_demo() {
	if [[ -f $state/code-server.pid ]]; then
		local pid
		pid=$(cat "$state/code-server.pid")
		# code-server runs in its own session (setsid): end the whole session.
		pkill -TERM -s "$pid" 2>/dev/null || true
		for _ in $(seq 50); do pgrep -s "$pid" >/dev/null || break; sleep 0.1; done
		pkill -KILL -s "$pid" 2>/dev/null || true
		rm -f "$state/code-server.pid"
		echo "code-server stopped" >&2
	fi
	if [[ -f $state/program.pid ]] && [[ -f $conn_file ]] && bash test/target/target.sh status >/dev/null 2>&1; then
		target_ssh "kill -KILL $(cat "$state/program.pid") 2>/dev/null" || true
		echo "demo program stopped" >&2
	fi
	rm -f "$state/program.pid"
}

if [[ ${1:-} == stop ]]; then
	stop_demo
	exit 0
fi
[[ $# -eq 0 ]] || die "usage: $0 [stop]"

bash scripts/setup.sh >&2
stop_demo

say "the extension, packaged"
vsix=$(bash scripts/package.sh | tail -n1)
echo "$vsix" >&2

say "a demo program on the target host: it counts, 50 times a second"
target_ssh 'mkdir -p /opt/checkpoint-demo && cat > /opt/checkpoint-demo/workload.c' <test/workloads/workload.c
target_ssh 'cat > /opt/checkpoint-demo/record.h' <test/workloads/record.h
target_ssh gcc -std=c11 -O1 -pthread -o /opt/checkpoint-demo/counter /opt/checkpoint-demo/workload.c
target_ssh 'mkdir -p /tmp/checkpoint-demo'
pid=$(target_ssh "cd /tmp/checkpoint-demo && { setsid /opt/checkpoint-demo/counter counter /tmp/checkpoint-demo </dev/null >/dev/null 2>&1 & echo \$!; }")
mkdir -p "$state"
echo "$pid" >"$state/program.pid"
echo "pid $pid; its count is in /tmp/checkpoint-demo/state on the target" >&2

say "a workspace that attaches to it"
ws=$state/workspace
mkdir -p "$ws/.vscode"
node - "$ws" "$pid" "$conn_file" "$(conn)" <<'JS'
const [ws, pid, connFile, connLine] = process.argv.slice(2);
const fs = require('fs');
const c = JSON.parse(connLine);
const write = (name, value) => fs.writeFileSync(`${ws}/${name}`, JSON.stringify(value, null, '\t') + '\n');
write('.vscode/launch.json', {
	version: '0.2.0',
	configurations: [
		{ type: 'checkpoint', request: 'attach', name: 'Attach to the demo counter', target: connFile, pid: Number(pid) },
		{ type: 'checkpoint', request: 'attach', name: 'Attach to a process on the target...', target: connFile, pid: '${command:checkpoint.pickProcess}' },
		{ type: 'checkpoint', request: 'launch', name: 'Launch a printing counter', target: connFile, program: '/opt/checkpoint-demo/counter', args: ['print'] },
	],
});
write('.vscode/settings.json', {
	'checkpoint.targets': [{ name: 'demo target', host: c.host, port: c.port, user: c.user, identityFile: c.identityFile, knownHostsFile: c.knownHostsFile }],
});
fs.writeFileSync(`${ws}/README.md`, `# Checkpoint Debugger demo

A counter (pid ${pid}) runs on the demo target host; its count is in
/tmp/checkpoint-demo/state there.

1. Run and Debug: start "Attach to the demo counter".
2. Pause (freezes it), Continue (thaws it).
3. Take Checkpoint (camera button on the debug toolbar), let it count on,
   then Restore Checkpoint: it goes back to the checkpoint's count.
4. Checkpoints view: click a checkpoint to browse it in the Checkpoint Image
   view (activity bar); Show Memory Map on a process.
`);
JS

say "VS Code (code-server) with the extension"
code_server=$(bash scripts/setup-vscode.sh 2>/dev/null | tail -n1)
mkdir -p "$state/extensions" "$state/user-data/User"
cat >"$state/user-data/User/settings.json" <<'JSON'
{
	"security.workspace.trust.enabled": false,
	"workbench.startupEditor": "readme",
	"telemetry.telemetryLevel": "off",
	"update.mode": "none",
	"extensions.autoCheckUpdates": false,
	"workbench.tips.enabled": false
}
JSON
printf 'auth: none\ncert: false\n' >"$state/code-server.yaml"
cs_args=(--config "$state/code-server.yaml" --user-data-dir "$state/user-data" --extensions-dir "$state/extensions")
"$code_server" "${cs_args[@]}" --install-extension "$vsix" --force >&2
setsid "$code_server" "${cs_args[@]}" --bind-addr "127.0.0.1:$port" --auth none \
	--disable-telemetry --disable-update-check --disable-workspace-trust "$ws" \
	</dev/null >"$state/code-server.log" 2>&1 &
echo $! >"$state/code-server.pid"
for _ in $(seq 120); do
	healthy && break
	kill -0 "$(cat "$state/code-server.pid")" 2>/dev/null || die "code-server exited; see $state/code-server.log"
	sleep 0.5
done
healthy || die "code-server does not answer on port $port; see $state/code-server.log"

say "ready"
echo "Open http://localhost:$port/?folder=$ws in a browser (from another machine: ssh -L $port:localhost:$port this-host)." >&2
echo "Stop it all with: bash scripts/demo.sh stop" >&2
echo "http://localhost:$port/?folder=$ws"
