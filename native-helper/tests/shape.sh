#!/usr/bin/env bash
# The shape of the helper's sources, checked as the unit tests are:
#   - no two source files call into each other, directly or around a loop
#     (the symbols each object file uses and defines, read with nm);
#   - every source file but main.c has a header of its own, every source
#     file a test file of its own (tests/test_X.c), and no file, source or
#     test, is longer than MAX_FILE_LINES;
#   - no function, source or test, is longer than MAX_FUNCTION_LINES.
# The fuzz targets (fuzz/) are outside these rules: they are programs of their
# own, linked with the helper's objects, not part of it (they keep its style).
# Prints a line per failure and, last, "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-build}
cd "$here"
MAX_FILE_LINES=${MAX_FILE_LINES:-700}
MAX_FUNCTION_LINES=${MAX_FUNCTION_LINES:-60}
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL shape: $*" >&2
}

# "file symbol" lines: what each object defines (defs) and uses (uses).
symbols() {
	local o f
	for o in "$build"/obj/src/*.o; do
		f=$(basename "$o" .o)
		nm "$o" | awk -v f="$f" -v want="$1" '
			want == "defs" && NF == 3 && $2 ~ /^[TDBRC]$/ { print f, $3 }
			want == "uses" && NF == 2 && $1 == "U" { print f, $2 }'
	done
}

# Edges "from to" between source files, from the symbols one uses and the other defines.
call_edges() {
	awk 'NR == FNR { def[$2] = $1; next }
	     ($2 in def) && def[$2] != $1 { print $1, def[$2] }' <(symbols defs) <(symbols uses) | sort -u
}

# Peels off files that call no file left; what remains lies on a loop.
check_loops() {
	local edges loops
	edges=$(call_edges)
	if [[ -z $edges ]]; then
		fail "no calls between source files were found (was $build/obj built?)"
		return
	fi
	loops=$(awk '{ from[NR] = $1; to[NR] = $2; node[$1]; node[$2] }
		END {
			do {
				changed = 0
				for (n in node) {
					out = 0
					for (i in from) if (from[i] == n && (to[i] in node)) out++
					if (!out) { delete node[n]; changed = 1 }
				}
			} while (changed)
			for (i in from) if ((from[i] in node) && (to[i] in node)) print from[i] " -> " to[i]
		}' <<<"$edges" | sort)
	if [[ -n $loops ]]; then
		fail "source files call each other around a loop; the calls on loops:"
		sed 's/^/    /' <<<"$loops" >&2
	else
		pass
	fi
}

check_headers() {
	local c h
	for c in src/*.c; do
		[[ $c == src/main.c ]] && continue
		h=${c%.c}.h
		if [[ -f $h ]]; then pass; else fail "$c has no header of its own ($h)"; fi
	done
}

check_tests() {
	local c t
	for c in src/*.c; do
		t=tests/test_$(basename "$c")
		if [[ -f $t ]]; then pass; else fail "$c has no test file of its own ($t)"; fi
	done
}

check_file_sizes() {
	local f n
	for f in src/*.c src/*.h tests/*.c tests/*.h; do
		n=$(wc -l <"$f")
		if ((n > MAX_FILE_LINES)); then fail "$f has $n lines (at most $MAX_FILE_LINES)"; else pass; fi
	done
}

# Kernel style: a function's body opens with "{" alone at column 0 and closes with "}" alone.
check_function_sizes() {
	local long
	long=$(awk -v max="$MAX_FUNCTION_LINES" '
		/^[A-Za-z_].*\(/ { head = $0 }
		/^\{$/ { start = FNR; name = head }
		/^\}$/ && start {
			if (FNR - start - 1 > max) printf "%s:%d: %s has %d lines (at most %d)\n", FILENAME, start, name, FNR - start - 1, max
			start = 0
		}' src/*.c tests/*.c)
	if [[ -n $long ]]; then
		fail "functions too long:"
		sed 's/^/    /' <<<"$long" >&2
	else
		pass
	fi
}

check_loops
check_headers
check_tests
check_file_sizes
check_function_sizes
echo "shape: $passed passed, $failed failed"
