#!/bin/sh
# t-receiver-kill.sh - SIGKILL the receiver at random points of an install
# (lmdb map, the harness's Postfix): the map must always be the old or the
# new one, never broken, and the next run must finish the job.
#
# Each trial pushes the other of two 50k-address lists (same size, so the
# shrink guard stays quiet), starts the receiver as user rcptsync, kills it
# with SIGKILL after a random delay within one measured install time, then
# checks: postmap -q answers; the whole table (postmap -s) equals the old
# or the new map; the map source too.  A second run then must install the
# new list (or finish quietly) and exit 0.
. "$(dirname "$0")/lib.sh"
H_MAP_TYPE=lmdb
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
if [ -n "${RS_LONG:-}" ]; then TRIALS=${TRIALS:-100}; else TRIALS=${TRIALS:-24}; fi
N=${KILL_LIST:-50000}
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv python3 sha256sum strace

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1
TABLE=$H_MAP.lmdb

rcv_bg() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "$CONF" -v run 2>>"$T/log" &
	RCV_PID=$!
}
rcv() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "$CONF" -v "$@" 2>>"$T/log"
}

# Two lists of the same size with disjoint halves; expected map dumps.
b_list "$N" corp.test a >"$T/A"
b_list "$N" corp.test b >"$T/B"
for l in A B; do
	sed 's/$/\tOK/' "$T/$l" >"$T/$l.map"
done

SEQ=100
push() {
	SEQ=$((SEQ + 1))
	_f=$(b_make "$SPOOL" corp "$SEQ" "$T/$1") && b_sign "$H_AGENT_KEY" "$_f" &&
	    chown rcptsync "$_f" "$_f.sig"
}

# which: print A, B or "broken" for the live table and source.
table_is() {
	postmap -c "$POSTFIX_DIR" -s "lmdb:$H_MAP" 2>>"$T/log" | LC_ALL=C sort >"$T/dump" ||
	    { echo broken; return; }
	if cmp -s "$T/dump" "$T/A.map"; then echo A
	elif cmp -s "$T/dump" "$T/B.map"; then echo B
	else echo broken; fi
}
source_is() {
	if cmp -s "$H_MAP" "$T/A.map"; then echo A
	elif cmp -s "$H_MAP" "$T/B.map"; then echo B
	else echo broken; fi
}
# probe: postmap -q must answer (0 found, 1 not found), never fail.
probe() {
	postmap -c "$POSTFIX_DIR" -q "${1}0000007@corp.test" "lmdb:$H_MAP" >/dev/null 2>>"$T/log"
	[ $? -le 1 ]
}

# First install, timed: the kill delays are drawn within it.
push A
_t0=$(date +%s%N)
rcv run
t_eq "first install (lmdb): exit 0" 0 $?
_t1=$(date +%s%N)
D=$(( (_t1 - _t0) / 1000000 ))
echo "one install of $N addresses takes ${D} ms" >&2
t_eq "first install: table is A" A "$(table_is)"
t_eq "lmdb end-to-end: smtpd answers" "250 550 5.1.1" \
    "$(h_rcpt a0000007@corp.test b0000007@corp.test | tr '\n' ' ' | sed 's/ $//')"

CUR=A
bad=0 killed=0 i=0
while [ "$i" -lt "$TRIALS" ]; do
	i=$((i + 1))
	if [ "$CUR" = A ]; then NEXT=B; else NEXT=A; fi
	push "$NEXT"
	delay=$(python3 -c 'import random, sys; print("%.3f" % (random.uniform(0, int(sys.argv[1]) * 1.1) / 1000))' "$D")
	rcv_bg
	sleep "$delay"
	if kill -KILL "$RCV_PID" 2>/dev/null; then killed=$((killed + 1)); fi
	wait "$RCV_PID" 2>/dev/null
	tab=$(table_is) src=$(source_is)
	if ! probe a || ! probe b; then
		t_fail "trial $i: postmap -q" "lookup failed after kill at ${delay}s"; bad=$((bad + 1))
	fi
	case $tab in
	"$CUR"|"$NEXT") ;;
	*) t_fail "trial $i: table" "neither old nor new after kill at ${delay}s"; bad=$((bad + 1)) ;;
	esac
	case $src in
	"$CUR"|"$NEXT") ;;
	*) t_fail "trial $i: source" "neither old nor new after kill at ${delay}s"; bad=$((bad + 1)) ;;
	esac
	echo "trial $i: killed after ${delay}s: table $tab, source $src" >&2
	# The next run finishes the job (it waits for an orphaned postmap).
	rcv run
	rc=$?
	# The source is compared whole; the table by a lookup on each side.
	src=$(source_is) tab=broken
	_a=$(postmap -c "$POSTFIX_DIR" -q a0000007@corp.test "lmdb:$H_MAP")
	_b=$(postmap -c "$POSTFIX_DIR" -q b0000007@corp.test "lmdb:$H_MAP")
	if [ "$_a$_b" = OK ]; then
		if [ -n "$_a" ]; then tab=A; else tab=B; fi
	fi
	if [ "$rc" -ne 0 ] || [ "$tab" != "$NEXT" ] || [ "$src" != "$NEXT" ]; then
		t_fail "trial $i: recovery" "exit $rc, table $tab, source $src, want $NEXT"
		bad=$((bad + 1))
	fi
	if [ -n "$(ls -A "$SPOOL")" ]; then
		t_fail "trial $i: spool" "not empty after recovery: $(ls "$SPOOL" | tr '\n' ' ')"
		bad=$((bad + 1))
	fi
	CUR=$NEXT
done
echo "$killed of $TRIALS trials killed a running receiver" >&2
t_eq "$TRIALS SIGKILL trials: map always old or new, recovered" 0 "$bad"
if [ "$killed" -ge $((TRIALS / 2)) ]; then
	t_ok "SIGKILL trials: $killed of $TRIALS hit a running receiver"
else
	t_fail "SIGKILL trials: kills" "only $killed of $TRIALS hit a running receiver"
fi
t_eq "after trials: smtpd answers from the last list" "$(if [ "$CUR" = A ]; then echo '250 550 5.1.1'; else echo '550 5.1.1 250'; fi)" \
    "$(h_rcpt a0000007@corp.test b0000007@corp.test | tr '\n' ' ' | sed 's/ $//')"
# --- a kill exactly between the two renames -------------
# strace kills the receiver on its rename of MAP.new over MAP, just after
# the new table went live: status must already report the new list.
if [ "$CUR" = A ]; then NEXT=B; else NEXT=A; fi
push "$NEXT"
strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 -P "$H_MAP.new" \
    -e inject=rename,renameat,renameat2:signal=KILL \
    setpriv --reuid rcptsync --regid rcptsync --init-groups \
    "$RCV_BIN" -c "$CONF" -v run 2>>"$T/log"
t_check "torn pair: the receiver was killed" test $? -ne 0
t_eq "torn pair: the table is the new list" "$NEXT" "$(table_is)"
t_eq "torn pair: the source is still the old one" "$CUR" "$(source_is)"
rcv status >"$T/status"
t_grep "torn pair: status reports the table's list" "accepted  sequence $SEQ" "$T/status"
t_grep "torn pair: status reports the table's entries" "^map .*: $N entries$" "$T/status"
rcv run
t_eq "torn pair: the next run finishes: exit 0" 0 $?
t_eq "torn pair: then the source is the new list" "$NEXT" "$(source_is)"
t_grep "torn pair: the recovery is logged" "recover .*finishing the install of agent corp interrupted after the new table" "$T/log"
t_check "torn pair: journal gone, spool empty, bundle in history" \
    test ! -e "$H_RECV_STATE/install.pending" -a -z "$(ls -A "$SPOOL")" -a \
    -f "$H_RECV_STATE/history/corp.$SEQ.rcpt.gz"
t_grep "torn pair: the state file has it" "^seq $SEQ$" "$H_RECV_STATE/corp.state"

t_check "no MAP.new leftovers" test ! -e "$H_MAP.new" -a ! -e "$H_MAP.new.lmdb"
t_eq "no atomic-write temporaries left" "" \
    "$(find "$H_RECV_STATE" "$H_DIR/status" -name '*.tmp' | tr '\n' ' ')"

t_done
