#!/usr/bin/env bash
# `npm run bench`: set-up (scripts/setup.sh), then the checkpoint/restore
# benchmark of ckpt against raw CRIU on the target host (test/bench/bench.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >&2
node out/test/bench/bench.js
