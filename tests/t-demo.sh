#!/bin/sh
# t-demo.sh - `make demo` runs in make check (and so in CI): the demo must
# exit 0, show 250 for real addresses and 550 5.1.1 for a made-up one,
# and leave no server running.
. "$(dirname "$0")/lib.sh"

T=$(t_tmp)
sh "$RS_TOP/tests/demo.sh" >"$T/demo.out" 2>"$T/demo.err"
t_eq demo-exit 0 $?
sed 's/^/  | /' "$T/demo.out" >&2
t_grep demo-real-250 'RCPT TO:<[^>]+>  ->  250   \(as expected\)' "$T/demo.out"
t_grep demo-fake-550 'RCPT TO:<no-such-person@corp.test>  ->  550 5.1.1   \(as expected\)' "$T/demo.out"
t_grep demo-ok '^demo OK$' "$T/demo.out"
# The demo's servers are stopped by PID; none may outlive it.
left=$(ps -eo stat=,args= | awk '$1 !~ /^Z/' |
    grep -E "build/tests/tmp/demo(-h)?/" | grep -v grep)
t_eq demo-nothing-left "" "$left"
t_done
