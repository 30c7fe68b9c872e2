#!/usr/bin/env bash
# Builds the .vsix: the bundled extension, the helper binary and the webview
# assets (see .vscodeignore), then checks it holds exactly that.
# Prints the .vsix path as the last line.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

npm run --silent build:ts
[[ -x dist/helper/checkpoint-helper-x86_64 ]] || bash native-helper/build.sh >&2

version=$(node -p 'require("./package.json").version')
vsix="$repo/out/checkpoint-debugger-$version.vsix"
mkdir -p out
# Dependencies are bundled by esbuild; the manifest has no repository on purpose (not published).
# The repository README links screenshots by relative path; the package gets its own, self-contained one.
npx vsce package --no-dependencies --allow-missing-repository --readme-path docs/extension-readme.md --out "$vsix" >&2

listing=$(unzip -Z1 "$vsix")
unexpected=$(grep -v -E '^(extension\.vsixmanifest|\[Content_Types\]\.xml|extension/(package\.json|readme\.md|LICENSE\.txt|LICENSE|dist/extension\.js|dist/helper/checkpoint-helper-[a-z0-9_]+|media/.*))$' <<<"$listing" || true)
if [[ -n $unexpected ]]; then
	echo "package: the .vsix holds files it should not:" >&2
	echo "$unexpected" >&2
	exit 1
fi
for needed in extension/dist/extension.js extension/dist/helper/checkpoint-helper-x86_64 extension/media/memoryMap.js; do
	grep -qx "$needed" <<<"$listing" || { echo "package: $needed is missing from the .vsix" >&2; exit 1; }
done
echo "$vsix"
