#!/bin/sh
# t-receiver-big.sh - a 1M-address bundle is installed (cdb map, the
# harness's Postfix) with the receiver's own peak RSS under 16 MB.
#
# The receiver logs getrusage(RUSAGE_SELF).ru_maxrss at -v; that excludes
# postmap, whose memory is its own (NOTES.md: /usr/bin/time would report
# the largest child instead).  The number is printed in the test name.
. "$(dirname "$0")/lib.sh"
H_MAP_TYPE=cdb
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
N=${BIG_LIST:-1000000}
LIMIT_KB=16384
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv sha256sum

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1

b_list $((N / 2)) corp.test >"$T/list"
b_list $((N - N / 2)) example.org >>"$T/list"
b_sort "$T/list"
_f=$(b_make "$SPOOL" corp 7 "$T/list") && b_sign "$H_AGENT_KEY" "$_f" &&
    chown rcptsync "$_f" "$_f.sig"
echo "bundle: $(stat -c %s "$_f") bytes for $N addresses" >&2

_t0=$(date +%s)
setpriv --reuid rcptsync --regid rcptsync --init-groups \
    "$RCV_BIN" -c "$CONF" -v run 2>"$T/log"
rc=$?
cat "$T/log" >&2
echo "install took $(( $(date +%s) - _t0 ))s" >&2
t_eq "1M install: exit 0" 0 "$rc"
t_grep "1M install: log counts" "install corp\.7\.rcpt\.gz: $N entries accepted" "$T/log"
t_eq "1M install: map lines" "$N" "$(wc -l <"$H_MAP" | tr -d ' ')"
rss=$(sed -n 's/.*peak RSS \([0-9][0-9]*\) kB.*/\1/p' "$T/log" | tail -n 1)
if [ -n "$rss" ] && [ "$rss" -lt "$LIMIT_KB" ]; then
	t_ok "1M install: receiver peak RSS $rss kB < $LIMIT_KB kB"
else
	t_fail "1M install: receiver peak RSS" "${rss:-none} kB, limit $LIMIT_KB kB"
fi
t_eq "1M install (cdb): smtpd answers" "250 250 550 5.1.1" \
    "$(h_rcpt u0499999@corp.test u0000000@example.org u0500000@corp.test | tr '\n' ' ' | sed 's/ $//')"

t_done
