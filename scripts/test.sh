#!/usr/bin/env bash
# The whole test suite, set-up included (see scripts/setup.sh): the native
# helper's unit tests under ASan/UBSan, then the TypeScript unit tests and
# the integration tests against the target host over SSH, and the
# end-to-end tests of the packaged extension in a real VS Code (code-server),
# then a short run of every fuzz target (CKPT_FUZZ_SECONDS, 10). Takes the target
# host down at the end if it started it. The last line is "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

was_up=yes
bash test/target/target.sh status >/dev/null 2>&1 || was_up=no

if ! bash scripts/setup.sh; then
	echo "test: set-up failed (see above)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

printf '\n== native helper unit tests (ASan, UBSan)\n'
bash native-helper/build.sh test 2>&1 | tee "$results/helper.log"
helper_status=${PIPESTATUS[0]}
read -r c_passed c_failed < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$results/helper.log" | tail -n1)
c_passed=${c_passed:-0}
c_failed=${c_failed:-0}
if ((helper_status != 0 && c_failed == 0)); then c_failed=1; fi

# What gdb and the debug adapter said during the run, kept for finding out why a test failed or hung
traces=${CKPT_TEST_TRACES:-/tmp/checkpoint-debugger-test-traces/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$traces"
export CKPT_GDB_TRACE=${CKPT_GDB_TRACE:-$traces/gdb-dap.log}
export CKPT_TEST_EVENTS=${CKPT_TEST_EVENTS:-$traces/adapter-events.log}

printf '\n== unit and integration tests\n'
node --test --test-concurrency=1 --test-timeout=300000 \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=./scripts/count-reporter.mjs --test-reporter-destination="$results/node.json" \
	out/test/unit/ out/test/integration/ out/test/e2e/
node_status=$?
counts=$(cat "$results/node.json" 2>/dev/null || echo '{}')
n_passed=$(node -p "(${counts}).passed ?? 0")
n_failed=$(node -p "(${counts}).failed ?? 0")
if ((node_status != 0 && n_failed == 0)); then n_failed=1; fi

# every fuzz target briefly (a long run: npm run fuzz -- --seconds N)
printf '\n== fuzz targets, %s s each\n' "${CKPT_FUZZ_SECONDS:-10}"
bash scripts/fuzz.sh --seconds "${CKPT_FUZZ_SECONDS:-10}" 2>&1 | tee "$results/fuzz.log"
fuzz_status=${PIPESTATUS[0]}
read -r f_passed f_failed < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$results/fuzz.log" | tail -n1)
f_passed=${f_passed:-0}
f_failed=${f_failed:-0}
if ((fuzz_status != 0 && f_failed == 0)); then f_failed=1; fi

if [[ $was_up == no ]]; then
	printf '\n== target host down\n'
	bash test/target/target.sh down
fi

passed=$((c_passed + n_passed + f_passed))
failed=$((c_failed + n_failed + f_failed))
if ((failed > 0)); then
	printf '\ngdb'"'"'s DAP traffic and the debug adapter'"'"'s events of this run (timestamped): %s\n' "$traces"
else
	rm -rf "$traces"
fi
echo "$passed passed, $failed failed"
((failed == 0))
