#!/bin/sh
# t-fuzz.sh - smoke run of the libFuzzer targets (tests/fuzz/) in make check.
#
# Purpose:  builds every fuzz target with clang -fsanitize=fuzzer,address,
#           undefined and runs each for a short while from the committed
#           seed corpus: a parser change that crashes, leaks or breaks an
#           invariant on nearby inputs fails make check, not just make fuzz.
# Tests:    "fuzz-TARGET" per target (addr, cfg, sshsig, bundle,
#           bundle_text, status), from tests/fuzz/run.sh.
# Time:     RS_FUZZ_SECONDS per target (default 10; 60 under RS_LONG=1,
#           i.e. make check-long), targets two at a time on 2 CPUs.
# Needs:    clang and libclang-rt-14-dev (tools/deps.sh); a missing one is a
#           failure, not a skip.
# Trust:    runs locally built code only; writes under build/fuzz/.
# Output:   protocol lines on stdout; run.sh's summary and logs on stderr;
#           crash reproducers under build/fuzz/crashes/.

# shellcheck source=tests/lib.sh
. "${RS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

t_need clang

secs=${RS_FUZZ_SECONDS:-10}
[ -n "$RS_LONG" ] && [ -z "$RS_FUZZ_SECONDS" ] && secs=60
tmp=$(t_tmp)

"$RS_TOP/tests/fuzz/run.sh" "$secs" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/err" >&2
grep -v -E '^(ok|not ok|skip) - ' "$tmp/out" >&2
grep -E '^(ok|not ok|skip) - ' "$tmp/out"
if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' "$tmp/out"; then
	t_fail fuzz-run "tests/fuzz/run.sh exited with status $rc"
fi
if [ "$rc" -eq 0 ] && ! grep -q '^ok - fuzz-' "$tmp/out"; then
	t_fail fuzz-run "tests/fuzz/run.sh ran no target"
fi
# shellcheck disable=SC2034 # T_FAILED is read by t_done (tests/lib.sh)
grep -q '^not ok - ' "$tmp/out" && T_FAILED=1
t_done
