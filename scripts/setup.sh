#!/usr/bin/env bash
# Everything the demo, the tests and the benchmark need on a fresh machine,
# each step skipped when already done:
#   host packages (debootstrap, openssh-client, util-linux) and npm packages,
#   the generated protocol code, the TypeScript build and bundles,
#   code-server (VS Code 1.100) and chromium for the extension's end-to-end tests,
#   the Debian trixie root file system of the target host (cached),
#   the native helper (built inside that root file system),
#   the target host itself, up, with sshd on loopback.
# Run as root: namespaces, mounts and debootstrap need it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (the target host needs namespaces and mounts); try: sudo $0"
command -v node >/dev/null || die "Node.js 20 or newer is needed and not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node.js $(node -v) is too old; 20 or newer is needed"

step "npm packages"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
	npm ci --no-audit --no-fund
fi

step "build: protocol code, TypeScript, bundles"
npm run --silent build:ts
npm run --silent compile

step "VS Code for the extension and its end-to-end tests (code-server 4.100.3 and chromium, cached)"
bash scripts/setup-vscode.sh | tail -n1

step "target host root file system (cached after the first build)"
bash test/target/target.sh build >/dev/null

step "native helper"
bash native-helper/build.sh

step "target host up"
bash test/target/target.sh up | tail -n1
