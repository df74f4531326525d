#!/bin/sh
# t-fault-receivers.sh - two receivers started at the same time (the
# systemd .path unit and the cron fallback firing together) against one
# spool with a pending bundle.
#
# Each trial pushes the other of two 50k-address lists (same size: the
# shrink guard stays quiet), releases two receivers at once through a
# barrier file, and checks: both exit 0; exactly one of them installed the
# bundle (one "install corp.SEQ" log line between them); the history holds
# the bundle once, the quarantine holds nothing; status.json's
# accepted_sequence is SEQ; the map source is the new list and Postfix
# answers from it; the spool is empty; and while they run, every sample of
# the live map source is the old or the new list and postmap -q answers.  At least one trial must show the
# lock at work (the second receiver logged that it waited).
# TRIALS (default 4, 12 with RS_LONG=1) sets the number of trials.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"
. "$RS_TOP/tests/fault/lib.sh"

RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
if [ -n "${RS_LONG:-}" ]; then TRIALS=${TRIALS:-12}; else TRIALS=${TRIALS:-4}; fi
N=${RECV_LIST:-50000}
t_need "$RECEIVER" postmap ssh-keygen gzip setpriv python3 sha256sum
T=$(t_tmp)
umask 022

h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1
STATUS=$H_DIR/status/status.json

b_list "$N" corp.test a >"$T/A"
b_list "$N" corp.test b >"$T/B"
for l in A B; do sed 's/$/\tOK/' "$T/$l" >"$T/$l.map"; done

SEQ=1000
push() {
	SEQ=$((SEQ + 1))
	_f=$(b_make "$SPOOL" corp "$SEQ" "$T/$1") && b_sign "$H_AGENT_KEY" "$_f" &&
	    chown rcptsync "$_f" "$_f.sig"
}
# rcv_at GO LOG: a receiver (as user rcptsync) that starts when GO exists.
rcv_at() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups sh -c \
	    'while [ ! -e "$1" ]; do sleep 0.01; done; shift; exec "$@"' sh \
	    "$1" "$RECEIVER" -c "$CONF" -v run 2>"$2"
}
accepted() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agents"]["corp"].get("accepted_sequence", ""))' "$STATUS" 2>/dev/null
}

# A first install, alone.
push A
setpriv --reuid rcptsync --regid rcptsync --init-groups \
    "$RECEIVER" -c "$CONF" run 2>"$T/first.log"
t_eq "first install: exit 0" 0 $?

CUR=A bad=0 waited=0 i=0
while [ "$i" -lt "$TRIALS" ]; do
	i=$((i + 1))
	if [ "$CUR" = A ]; then NEXT=B; else NEXT=A; fi
	push "$NEXT"
	rm -f "$T/go"
	rcv_at "$T/go" "$T/r1.$i.log" & p1=$!
	rcv_at "$T/go" "$T/r2.$i.log" & p2=$!
	t_cleanup "kill $p1 $p2 2>/dev/null"
	sleep 0.2	# both are polling for the barrier (no assumption on speed:
	touch "$T/go"	# a late one merely finds the lock free or the work done)
	# While they run, the live map source is always the old or the new
	# list (sampled), and the table answers.
	samples=0 torn=0
	while kill -0 "$p1" 2>/dev/null || kill -0 "$p2" 2>/dev/null; do
		samples=$((samples + 1))
		if ! cmp -s "$H_MAP" "$T/$CUR.map" && ! cmp -s "$H_MAP" "$T/$NEXT.map"; then
			torn=$((torn + 1))
		fi
		postmap -c "$POSTFIX_DIR" -q a0000007@corp.test "$H_MAP_TYPE:$H_MAP" >/dev/null 2>&1
		[ $? -le 1 ] || torn=$((torn + 1))
	done
	echo "trial $i: $samples samples while the receivers ran" >&2
	wait "$p1"; rc1=$?
	wait "$p2"; rc2=$?
	why=
	[ "$torn" -eq 0 ] || why="$why $torn samples saw a map neither old nor new;"
	[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] || why="$why exit $rc1/$rc2;"
	inst=$(cat "$T/r1.$i.log" "$T/r2.$i.log" | grep -c "install corp.$SEQ.rcpt.gz: ")
	[ "$inst" -eq 1 ] || why="$why $inst install lines;"
	hist=$(ls "$H_RECV_STATE/history" | grep -c "^corp\.$SEQ\.rcpt\.gz$")
	[ "$hist" -eq 1 ] || why="$why history has it $hist times;"
	q=$(ls -A "$H_RECV_STATE/quarantine" 2>/dev/null | tr '\n' ' ')
	[ -z "$q" ] || why="$why quarantine: $q;"
	[ "$(accepted)" = "$SEQ" ] || why="$why status accepted_sequence $(accepted);"
	cmp -s "$H_MAP" "$T/$NEXT.map" || why="$why map source is not $NEXT;"
	[ -z "$(ls -A "$SPOOL")" ] || why="$why spool: $(ls -A "$SPOOL" | tr '\n' ' ');"
	if grep -q 'another receiver is running, waiting' "$T/r1.$i.log" "$T/r2.$i.log"; then
		waited=$((waited + 1))
	fi
	if [ -n "$why" ]; then
		t_fail "trial $i (seq $SEQ)" "$why"
		cat "$T/r1.$i.log" "$T/r2.$i.log" >&2
		bad=$((bad + 1))
	fi
	CUR=$NEXT
done
t_eq "$TRIALS trials of two concurrent receivers: one install each, none failed" 0 "$bad"
if [ "$waited" -ge 1 ]; then
	t_ok "lock serialized them ($waited of $TRIALS trials a receiver waited)"
else
	t_fail "lock serialized them" "in no trial did a receiver wait for the lock"
fi
t_eq "Postfix answers from the last list" \
    "$(if [ "$CUR" = A ]; then echo '250 550 5.1.1'; else echo '550 5.1.1 250'; fi)" \
    "$(h_rcpt a0000007@corp.test b0000007@corp.test | tr '\n' ' ' | sed 's/ $//')"
t_done
