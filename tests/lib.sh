# tests/lib.sh - helpers for regress tests.  Source it; see docs/HACKING.md.
#
# Output protocol (stdout): "ok - NAME", "not ok - NAME: WHY",
# "skip - NAME: WHY".  Diagnostics go to stderr.  t_cleanup registers
# commands run at exit in reverse order, also when the test fails or is
# interrupted, so no server outlives its test.

RS_TOP=${RS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export RS_TOP
T_NAME=$(basename "$0" .sh)
T_CLEANUP=
T_FAILED=0

t_ok()   { echo "ok - $1"; }
t_fail() { echo "not ok - $1: $2"; T_FAILED=$((T_FAILED + 1)); }
t_skip() { echo "skip - $1: $2"; }

# t_check NAME CMD...: ok when CMD exits 0.
t_check() {
	_n=$1; shift
	if "$@" >&2; then t_ok "$_n"; else t_fail "$_n" "command failed: $*"; fi
}

# t_eq NAME WANT GOT
t_eq() {
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1" "want '$2', got '$3'"; fi
}

# t_same_file NAME A B: byte-identical (both absent also counts as same).
t_same_file() {
	if [ ! -e "$2" ] && [ ! -e "$3" ]; then t_ok "$1"; return; fi
	if cmp -s "$2" "$3"; then t_ok "$1"; else t_fail "$1" "$2 and $3 differ"; fi
}

# t_grep NAME PATTERN FILE: ok when an extended regex matches in FILE.
t_grep() {
	if grep -Eq -- "$2" "$3"; then t_ok "$1"; else
		t_fail "$1" "no line matching '$2' in $3"; sed 's/^/  | /' "$3" | tail -n 20 >&2; fi
}

# t_wait_log FILE ERE SECS [COUNT]: wait until at least COUNT (default 1)
# lines of FILE match; 1 after SECS seconds.  For logs a program is
# still writing.
t_wait_log() {
	_w=0
	while :; do
		_c=$(grep -Ec -- "$2" "$1" 2>/dev/null)
		[ "${_c:-0}" -ge "${4:-1}" ] && return 0
		_w=$((_w + 1))
		[ "$_w" -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}

t_cleanup() { T_CLEANUP="$1
$T_CLEANUP"; }

t_run_cleanup() {
	_c=$T_CLEANUP; T_CLEANUP=
	# stdin from /dev/null: a command that reads stdin (ssh, wine) would
	# otherwise eat the rest of the list, and those servers would live on.
	printf '%s\n' "$_c" | while IFS= read -r _l; do
		[ -n "$_l" ] && eval "$_l" </dev/null >&2 2>&1
	done
	return 0
}
trap 't_run_cleanup' EXIT
trap 't_run_cleanup; exit 1' INT TERM HUP

# t_tmp: a fresh scratch directory for this test, printed.
t_tmp() {
	_d="$RS_TOP/build/tests/tmp/$T_NAME"
	rm -rf "$_d" && mkdir -p "$_d" && echo "$_d"
}

# t_need TOOL...: a missing tool is a failure, not a skip.
t_need() {
	for _t in "$@"; do
		command -v "$_t" >/dev/null 2>&1 || [ -x "$_t" ] || {
			t_fail "need-$_t" "$_t is not installed (run make deps)"; exit 1; }
	done
}

# t_done: exit status for the end of a test script.
t_done() { [ "$T_FAILED" -eq 0 ]; }
