#!/bin/sh
# t-fault-agent.sh - the agent SIGKILLed at random points of a sync cycle,
# then restarted.
#
# The receiver runs in a loop (as its .path unit would).  Each trial adds
# one address in LDAP, starts `rcptsync-agent sync`, kills it with SIGKILL
# after a random delay within 1.1 times one measured sync, and restarts it.
# Checks, per trial: at the kill, the live map is the old or the new list,
# never partial or empty; the restarted sync exits 0 and Postfix answers
# for the new address; status.json's accepted_sequence moved strictly up.
# At the end: the sequences the receiver installed (its log, in order) are
# strictly increasing with no duplicates; the quarantine holds nothing but
# "superseded" bundles (no replay, no out-of-order refusal); status.json
# has no rejected_sequence; the history's sequences are unique.
# TRIALS (default 6, 20 with RS_LONG=1) sets the number of trials.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/fault/lib.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
if [ -n "${RS_LONG:-}" ]; then TRIALS=${TRIALS:-20}; else TRIALS=${TRIALS:-6}; fi
t_need "$AGENT" "$RECEIVER" python3 sha256sum
T=$(t_tmp)

h_fixture 20000 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
printf 'history = 1000\n' >>"$T/receiver.conf"
h_agent_conf "$T/agent.conf" || exit 1
STATUS=$SFTP_STATUS_DIR/status.json

h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.3 -v
RLOOP=$H_RWATCH_PID

ANCHOR_DN=$(f_anchor_dn "$T/fx")
add_addr() { f_add_addr "$ANCHOR_DN" "$1"; }
accepted() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agents"]["corp"].get("accepted_sequence", 0))' "$STATUS" 2>/dev/null || echo 0
}
keys_sha() { f_map_keys "$H_MAP" | sha256sum | cut -c1-64; }

cp "$T/fx/expected.txt" "$T/list"
# A first sync, timed: the kill delays are drawn within it.
_t0=$(date +%s%N)
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync0.err"
t_eq "first sync: exit 0" 0 $?
D=$(( ($(date +%s%N) - _t0) / 1000000 ))
echo "one sync takes ${D} ms" >&2
t_eq "first sync: map = expected" "$(LC_ALL=C sort "$T/list" | sha256sum | cut -c1-64)" "$(keys_sha)"

prev=$(accepted) bad=0 killed=0 i=0
while [ "$i" -lt "$TRIALS" ]; do
	i=$((i + 1))
	a=restart.$i@corp.test
	old=$(LC_ALL=C sort "$T/list" | sha256sum | cut -c1-64)
	echo "$a" >>"$T/list"
	new=$(LC_ALL=C sort "$T/list" | sha256sum | cut -c1-64)
	add_addr "$a" || { t_fail "trial $i: ldap" "ldapmodify failed"; bad=$((bad + 1)); continue; }
	delay=$(python3 -c 'import random, sys; print("%.3f" % (random.uniform(0, int(sys.argv[1]) * 1.1) / 1000))' "$D")
	"$AGENT" -v -c "$T/agent.conf" sync 2>"$T/kill.$i.err" &
	apid=$!
	sleep "$delay"
	if kill -KILL "$apid" 2>/dev/null; then killed=$((killed + 1)); fi
	wait "$apid" 2>/dev/null
	at=$(keys_sha)
	if [ "$at" != "$old" ] && [ "$at" != "$new" ]; then
		t_fail "trial $i: map at the kill" "neither old nor new after a kill at ${delay}s"
		bad=$((bad + 1))
	fi
	echo "trial $i: killed at ${delay}s, last line: $(tail -n 1 "$T/kill.$i.err")" >&2
	"$AGENT" -c "$T/agent.conf" sync 2>"$T/restart.$i.err"
	rc=$?
	now=$(accepted)
	why=
	[ "$rc" -eq 0 ] || why="$why restart exit $rc;"
	[ "$(keys_sha)" = "$new" ] || why="$why map is not the new list;"
	[ "$(h_rcpt "$a")" = 250 ] || why="$why Postfix does not accept $a;"
	[ "$now" -gt "$prev" ] 2>/dev/null || why="$why accepted_sequence $prev -> $now;"
	if [ -n "$why" ]; then
		t_fail "trial $i: restart" "$why"; bad=$((bad + 1))
		tail -n 5 "$T/restart.$i.err" >&2
	fi
	prev=$now
done
echo "$killed of $TRIALS kills hit a running agent" >&2
t_eq "$TRIALS agent kills and restarts: old-or-new map, converged" 0 "$bad"
if [ "$killed" -ge $(( (TRIALS + 1) / 2 )) ]; then
	t_ok "kills: $killed of $TRIALS hit a running agent"
else
	t_fail "kills" "only $killed of $TRIALS hit a running agent"
fi

# --- what the receiver accepted, in order -------------------------------------
kill "$RLOOP" 2>/dev/null; wait "$RLOOP" 2>/dev/null
sed -n 's/.*install corp\.\([0-9]*\)\.rcpt\.gz: .*/\1/p' "$T/receiver.log" >"$T/installed"
echo "installed sequences: $(tr '\n' ' ' <"$T/installed")" >&2
t_check "installed sequences strictly increasing, no duplicates" \
    sh -c "sort -n -c -u '$T/installed' && [ \$(wc -l <'$T/installed') -ge $((TRIALS + 1)) ]"
ls "$H_RECV_STATE/history" | sed -n 's/^corp\.\([0-9]*\)\.rcpt\.gz$/\1/p' | sort -n >"$T/history"
t_eq "history: every sequence once" "$(sort -n -u "$T/history" | wc -l)" "$(wc -l <"$T/history")"
t_eq "history = installed sequences" "$(sort -n "$T/installed" | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/history")"
other=
for r in "$H_RECV_STATE"/quarantine/*.reason; do
	[ -e "$r" ] || continue
	grep -qi superseded "$r" || other="$other $(basename "$r"): $(head -c 200 "$r")"
done
t_eq "quarantine: nothing but superseded bundles" "" "$other"
t_eq "status.json: no rejected_sequence" "" \
    "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agents"]["corp"].get("rejected_sequence", ""))' "$STATUS")"
t_eq "final: Postfix answers for every added address" 0 \
    "$(i=0; n=0; while [ "$i" -lt "$TRIALS" ]; do i=$((i + 1)); [ "$(h_rcpt restart.$i@corp.test)" = 250 ] || n=$((n + 1)); done; echo $n)"
t_done
