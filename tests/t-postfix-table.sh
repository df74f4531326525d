#!/bin/sh
# t-postfix-table.sh - the receiver's install is seen by Postfix at once,
# even twice within one second.
#
# A Postfix daemon checks its open tables before it accepts a connection:
# a changed mtime (whole seconds) or a link count of 0 means "changed",
# and the daemon exits so that a fresh one opens the new table.  A table
# rebuilt in place by postmap within the second it was opened therefore
# goes unnoticed (../shared/NOTES.md; docs/ADMIN.md, "When Postfix sees a
# new table").  The receiver never rebuilds in place: it renames a new
# table over the old one, so the old inode's link count drops to 0.
#
# Each trial: install list A, open an SMTP session (an smtpd now holds
# A's table and stays for the next connection), install list B within
# the same second, then open a new session: it must answer 250 for the
# address only B has.  Trials start just after a second boundary; the
# test needs at least one trial whose two installs fell in one second
# (by the table's mtime), and every trial must pass.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv python3

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1
TABLE=$H_MAP.db

rcv() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "$CONF" run 2>>"$T/log"
}

SEQ=100
# install ENTRIES: bundle corp.$SEQ signed into the spool, then one run.
install() {
	SEQ=$((SEQ + 1))
	_f=$(b_make "$SPOOL" corp "$SEQ" "$1") && b_sign "$H_AGENT_KEY" "$_f" &&
	    chown rcptsync "$_f" "$_f.sig" && rcv
}

# next_second: return just after the wall clock's next second begins.
next_second() {
	python3 -c 'import time; time.sleep(1.02 - time.time() % 1)'
}

b_list 20 corp.test >"$T/a"
printf 'only-b@corp.test\n' | cat - "$T/a" >"$T/b"
b_sort "$T/b"

same=0 trials=0 bad=0
while [ $trials -lt 10 ] && [ $same -lt 3 ]; do
	trials=$((trials + 1))
	# The previous trial left B installed (the first, the harness's
	# initial map), so A is a real change.
	next_second
	install "$T/a" || { t_fail "trial $trials: install A" "receiver failed: $(tail -n 3 "$T/log")"; break; }
	t1=$(stat -c %Y "$TABLE")
	r1=$(h_rcpt u0000000@corp.test only-b@corp.test)
	install "$T/b" || { t_fail "trial $trials: install B" "receiver failed: $(tail -n 3 "$T/log")"; break; }
	t2=$(stat -c %Y "$TABLE")
	r2=$(h_rcpt only-b@corp.test)
	[ "$t1" = "$t2" ] && same=$((same + 1))
	echo "trial $trials: table mtimes $t1 $t2; A answered $(echo $r1); new session after B: $r2" >&2
	if [ "$r1" != "250
550 5.1.1" ] || [ "$r2" != 250 ]; then
		bad=$((bad + 1))
		t_fail "trial $trials: a new session after the second install answers from it" \
		    "after A: '$r1' (want 250, 550 5.1.1); after B: '$r2' (want 250); table mtimes $t1 $t2"
	fi
done
t_eq "every trial: the new session answered from the newest table ($trials trials)" 0 "$bad"
if [ $same -gt 0 ]; then
	t_ok "two installs within one second: $same of $trials trials (table mtime unchanged), each seen at once"
else
	t_fail "two installs within one second" \
	    "no trial had both installs in one second ($trials trials); the machine is too slow to show it"
fi
t_done
