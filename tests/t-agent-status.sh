#!/bin/sh
# t-agent-status.sh - the relay's status file as hostile input to the
# agent (docs/FORMAT.md section 6; agent-win/push/verdict.c).
#
# No receiver runs: the test writes the status files itself.  Two relay
# sections on the harness sshd share one upload: mx1 reads
# status/status.json, which the test fills with what a compromised relay
# could serve; mx2 reads status/good.json, which holds a valid verdict for
# the sequence the agent is about to push (its seq file is set first).
#
#   huge (2 MB), nested 100000 deep, truncated, binary (gzip bytes), a
#   string beyond RS_MAX_STATUS_STRING: each sync exits 5 (partial), with
#   exactly one warning naming the file and the rule broken, mx1's
#   sequence "not installed: no verdict ... unusable", mx1's state with
#   one failure and no accepted list, and mx2 installed all the same.
#   `run` against a broken file logs the warning (once per push: it
#   retries after its backoff), finishes its cycle and stops cleanly on
#   SIGTERM.  The verdict's own fields: a refusal reason
#   with control characters and escapes arrives sanitized; a newer
#   accepted sequence is not our verdict; a float sequence is refused.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
t_need "$AGENT" python3
T=$(t_tmp)

h_fixture 200 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_agent_conf "$T/one.conf" || exit 1
sed -i 's/^wait = .*/wait = 2s/' "$T/one.conf"
cp "$T/one.conf" "$T/two.conf"
sed -n '/^\[relay mx1\]/,$p' "$T/one.conf" |
    sed -e 's/^\[relay mx1\]/[relay mx2]/' \
	-e 's|^status_file = .*|status_file = status/good.json|' >>"$T/two.conf"

status=$SFTP_STATUS_DIR/status.json
good=$SFTP_STATUS_DIR/good.json
SEQ=99999999999
printf '{"agents": {"corp": {"accepted_sequence": %s}}}\n' "$SEQ" >"$good"

# hostile NAME CONF: sync with a fresh state (next sequence $SEQ).
hostile() {
	rm -f "$SFTP_INCOMING"/*
	sed -e "s|^state_dir = .*|state_dir = $T/state-$1|" "$2" >"$T/$1.conf"
	mkdir -p "$T/state-$1" && echo $((SEQ - 1)) >"$T/state-$1/seq"
	"$AGENT" -c "$T/$1.conf" sync 2>"$T/$1.err"
}

# unusable NAME WHAT: the status file in $status broke rule WHAT (a fixed
# string of the warning); mx2 still installs.
unusable() {
	hostile "$1" "$T/two.conf"
	t_eq "$1: exit 5 (partial)" 5 $?
	t_eq "$1: one warning" 1 "$(grep -c 'push mx1: status file status/status.json on 127.0.0.1 is unusable: ' "$T/$1.err")"
	if grep -F 'is unusable: ' "$T/$1.err" | grep -Fq -- "$2"; then
		t_ok "$1: names the rule"
	else
		t_fail "$1: names the rule" "no '$2' in the warning"
		grep -F unusable "$T/$1.err" >&2
	fi
	t_grep "$1: verdict unknown" "sync mx1: sequence $SEQ not installed: no verdict within 2s: the status file status/status.json is unusable" "$T/$1.err"
	t_grep "$1: mx2 installed" "sync mx2: installed sequence $SEQ" "$T/$1.err"
	t_grep "$1: mx1 failure recorded" '^failures 1$' "$T/state-$1/relay-mx1.state"
	t_grep "$1: mx1 has no accepted list" '^accepted_sha256 -$' "$T/state-$1/relay-mx1.state"
}

python3 -c 'print("{\"pad\": \"" + "x" * 2000000 + "\"}")' >"$status"
unusable huge "larger than 1048576 bytes (RS_MAX_STATUS_BYTES)"
python3 -c 'print("{\"agents\": " + "{\"x\": " * 100000)' >"$status"
unusable deep "nested deeper than 16 levels at byte "
printf '{"agents": {"corp": {"accepted_sequence": %s, "rejected_re' "$SEQ" >"$status"
unusable truncated "a string is not closed at byte 67 of 67"
printf '\037\213\010\000\000\000\000\000\000\003\000\001\377\376' >"$status"
unusable binary "expected an object at byte 0 of 14"
python3 -c 'print("{\"agents\": {\"corp\": {\"rejected_reason\": \"" + "r" * 5000 + "\"}}}")' >"$status"
unusable longstring "a string is longer than 1024 bytes at byte 1065"

# `run` keeps going: the warning, the cycle's end, a clean stop.
python3 -c 'print("[" * 50000)' >"$status"
sed -e "s|^state_dir = .*|state_dir = $T/state-run|" \
    -e 's/^\[agent\]/[agent]\ninterval = 1h/' "$T/one.conf" >"$T/run.conf"
"$AGENT" -e -c "$T/run.conf" run 2>"$T/run.err" &
apid=$!
t_cleanup "kill $apid 2>/dev/null"
t_check "run: warns" t_wait_log "$T/run.err" 'status/status.json on 127.0.0.1 is unusable: expected an object at byte 0' 30
t_check "run: finishes the cycle" t_wait_log "$T/run.err" 'cycle 1: ' 30
sleep 1
t_check "run: still running" kill -0 "$apid"
kill -TERM "$apid"
wait "$apid"
t_eq "run: SIGTERM exit 0" 0 $?
t_eq "run: one warning per push" "$(grep -c 'uploaded corp\.' "$T/run.err")" \
    "$(grep -c 'warning: .*is unusable' "$T/run.err")"

# --- the verdict's fields ------------------------------------------------
printf '{"version": 1, "agents": {"other": {"accepted_sequence": 1},\n "corp": {"rejected_sequence": %s, "rejected_reason": "evil\\nline \\u0007 bell\\t\\"q\\""}}}\n' \
    "$SEQ" >"$status"
hostile evil "$T/one.conf"
t_eq "reason: refused, exit 4" 4 $?
t_grep "reason: sanitized" 'refused sequence [0-9]+: evil line   bell "q"$' "$T/evil.err"
printf '{"agents": {"corp": {"accepted_sequence": %s}}}' $((SEQ + 5)) >"$status"
hostile newer "$T/one.conf"
t_eq "newer sequence: exit 1" 1 $?
t_grep "newer sequence: another agent?" "relay reports sequence $((SEQ + 5)), newer than ours" "$T/newer.err"
printf '{"agents": {"corp": {"accepted_sequence": 1.5e99}}}' >"$status"
hostile float "$T/one.conf"
t_eq "float sequence: exit 1" 1 $?
t_grep "float sequence: refused" 'unusable: a sequence is not a whole number at byte 42' "$T/float.err"

# check says the same.
"$AGENT" -c "$T/float.conf" check >"$T/check.out" 2>&1
t_grep "check: names the rule" '^FAIL relay mx1: status file status/status.json: a sequence is not a whole number at byte 42' "$T/check.out"
t_done
