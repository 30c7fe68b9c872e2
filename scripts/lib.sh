# What the set-up and demo scripts share; sourced, not run.

# A step's title on stderr (stdout is kept for what a script prints as its result).
step() {
	printf '\n== %s\n' "$*" >&2
}

# Stops with a message naming the script.
die() {
	local name=${0##*/}
	echo "${name%.sh}: $*" >&2
	exit 1
}
