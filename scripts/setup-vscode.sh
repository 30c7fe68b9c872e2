#!/usr/bin/env bash
# What the end-to-end tests in a real VS Code need, each step skipped when
# already done:
#   Debian packages: chromium (driven through playwright-core), ripgrep, and
#   the build dependencies of code-server's native modules;
#   code-server (VS Code 1.100 served to a browser), from the npm registry,
#   into a cache directory outside the repository (a private npm prefix).
# Ends by checking that code-server and chromium both run, and prints the
# path of the code-server binary as its last line.
# Run as root. Environment:
#   CHECKPOINT_DEBUGGER_CACHE  the cache directory (default /var/cache/checkpoint-debugger)
#   TMPDIR                     where npm's @vscode/ripgrep looks for its download cache
set -euo pipefail

code_server_version=4.100.3
# @vscode/ripgrep as code-server 4.100.3 pins it, and the ripgrep build its
# postinstall downloads (blocked here) unless it finds it in its cache.
vscode_ripgrep_version=1.15.11
ripgrep_release=v13.0.0-10
ripgrep_target=x86_64-unknown-linux-musl

cache=${CHECKPOINT_DEBUGGER_CACHE:-/var/cache/checkpoint-debugger}
prefix=$cache/code-server-$code_server_version
code_server=$prefix/node_modules/.bin/code-server
done_marker=$prefix/.installed

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, and npm's native builds under --unsafe-perm); try: sudo $0"
command -v node >/dev/null || die "Node.js 20 is needed and not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
# code-server 4.100.3 declares engines.node "20"; newer releases need 22 or 24.
[[ $node_major == 20 ]] || die "code-server $code_server_version needs Node.js 20; this is $(node -v)"

step "Debian packages"
packages=(chromium ripgrep libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev pkg-config unzip)
command -v make >/dev/null && command -v g++ >/dev/null || packages+=(build-essential)
command -v python3 >/dev/null || packages+=(python3)
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}" >&2
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
fi

step "code-server $code_server_version in $prefix"
if [[ -f $done_marker && -x $code_server ]]; then
	echo "already installed" >&2
else
	# The ripgrep download of @vscode/ripgrep's postinstall, served from its
	# own cache: Debian's rg, packed the way the release archive is.
	rg_cache=${TMPDIR:-/tmp}/vscode-ripgrep-cache-$vscode_ripgrep_version
	rg_archive=$rg_cache/ripgrep-$ripgrep_release-$ripgrep_target.tar.gz
	if [[ ! -s $rg_archive ]]; then
		staging=$(mktemp -d)
		cp /usr/bin/rg "$staging/rg"
		mkdir -p "$rg_cache"
		tar -czf "$rg_archive.partial" -C "$staging" rg
		mv "$rg_archive.partial" "$rg_archive"
		rm -rf "$staging"
	fi
	# A half-finished install is started over.
	rm -rf "$prefix"
	mkdir -p "$prefix"
	started=$SECONDS
	npm_config_yes=true npm install --prefix "$prefix" --unsafe-perm --no-audit --no-fund \
		--loglevel=error "code-server@$code_server_version" >&2 ||
		die "npm install code-server@$code_server_version failed (see above); Debian's build packages and the ripgrep cache at $rg_archive are what it usually misses"
	[[ -x $code_server ]] || die "npm installed code-server but $code_server is missing"
	# A ripgrep the postinstall could not fetch fails search in VS Code, not the install.
	rg_installed=$(find "$prefix/node_modules/code-server/lib/vscode" -path "*/@vscode/ripgrep/bin/rg" -print -quit 2>/dev/null || true)
	[[ -n $rg_installed ]] ||
		die "code-server's @vscode/ripgrep has no bin/rg: its postinstall looked for another cache file than $rg_archive (see RIPGREP_VERSION and the cache directory in node_modules/@vscode/ripgrep/lib/postinstall.js under $prefix)"
	touch "$done_marker"
	echo "installed in $((SECONDS - started)) s" >&2
fi

step "checks"
# Its first run may log a line (a default config written) before the version.
version=$("$code_server" --version 2>/dev/null | awk '$1 ~ /^[0-9]+\.[0-9]+\.[0-9]+$/ && !v { v = $1 } END { print v }')
[[ $version == "$code_server_version" ]] ||
	die "$code_server --version says '${version}', expected $code_server_version; remove $prefix and run again"
echo "code-server $version" >&2
dom=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom about:blank 2>/dev/null) ||
	die "chromium --headless --dump-dom about:blank failed"
[[ $dom == *"<html"* ]] || die "chromium ran but printed no page: $dom"
echo "chromium $(chromium --version 2>/dev/null | awk '{print $2}')" >&2

echo "$code_server"
