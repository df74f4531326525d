#!/bin/sh
# t-messages.sh - what the receiver says when it refuses a bundle.
#
# A mail admin reads these at 3 a.m.: each must name the rule, and the
# setting with its value where one is involved, once, without a line number
# that points nowhere.  Each case drops a hostile bundle into the spool,
# runs the receiver as user rcptsync, and compares the reason of the
# "refuse AGENT.SEQ.rcpt.gz: REASON" log line with the exact expected text;
# then checks that the installed map (source and table) is byte for byte
# what it was.  Cases: CRLF line endings, a UTF-8 byte-order mark, a list
# over max_list_size, two gzip members, plain text instead of gzip, a
# signature that does not verify, a count of 2^64+1, an empty .sig file.
#
# Real postmap and the harness's Postfix (hash map), bundles signed by
# ssh-keygen (tests/bundle.sh); no sshd (h_receiver_local).
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv sha256sum

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1
TABLE=$H_MAP.db
KEY=$H_AGENT_KEY

# rcv ARGS...: the receiver as user rcptsync (-v), stderr to $T/log.
rcv() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "${RCONF:-$CONF}" -v "$@" >"$T/out" 2>"$T/log"
	_rc=$?
	sed 's/^/  rcv| /' "$T/out" "$T/log" >&2
	return $_rc
}

SEQ=100
next_seq() { SEQ=$((SEQ + 1)); B=$SPOOL/corp.$SEQ.rcpt.gz; }

# own: hand the spool files to the upload account, as sshd would.
own() { chown rcptsync "$B" "$B.sig" 2>/dev/null; return 0; }

# text RAW [header options]: the bundle text (header + list) into RAW.
text() {
	_raw=$1; shift
	{ b_header corp "$SEQ" "$T/list" "$@" && cat "$T/list"; } >"$_raw"
}

# refused NAME WANT: run; exit 1, the reason is exactly WANT, map kept.
refused() {
	cp "$H_MAP" "$T/snap.src" && cp "$TABLE" "$T/snap.tab"
	rcv run
	t_eq "$1: exit 1" 1 $?
	got=$(sed -n "s/.*refuse corp\\.$SEQ\\.rcpt\\.gz: //p" "$T/log" | head -n 1)
	t_eq "$1: reason" "$2" "$got"
	t_same_file "$1: map source byte-identical" "$T/snap.src" "$H_MAP"
	t_same_file "$1: map table byte-identical" "$T/snap.tab" "$TABLE"
}

# --- a first list, installed ---------------------------------------------
b_list 200 corp.test >"$T/list"
next_seq
b_make "$SPOOL" corp "$SEQ" "$T/list" >/dev/null && b_sign "$KEY" "$B" && own
rcv run
t_eq "first install: exit 0" 0 $?

# --- the text of the list ----------------------------------------------------
next_seq
text "$T/raw"
sed 's/$/\r/' "$T/raw" | gzip -n -c >"$B" && b_sign "$KEY" "$B" && own
refused "CRLF line endings" \
    "line 1: not an rcptsync list: CR found at the end of the line (lines end in LF, not CRLF)"

next_seq
text "$T/raw"
{ printf '\357\273\277'; cat "$T/raw"; } | gzip -n -c >"$B" &&
    b_sign "$KEY" "$B" && own
refused "UTF-8 byte-order mark" \
    "line 1: not an rcptsync list: byte-order mark (EF BB BF) before \"rcptsync-list\""

next_seq
text "$T/raw" count=18446744073709551617
gzip -n -c <"$T/raw" >"$B" && b_sign "$KEY" "$B" && own
refused "count 2^64+1" \
    "line 8: count: 18446744073709551617 is out of range (at most 18446744073709551615)"

# --- the gzip container --------------------------------------------------------
next_seq
RCONF=$T/small.conf
cp "$CONF" "$RCONF"
printf 'max_list_size = 1K\n' >>"$RCONF"
chmod 0644 "$RCONF"
b_make "$SPOOL" corp "$SEQ" "$T/list" >/dev/null && b_sign "$KEY" "$B" && own
refused "over max_list_size = 1K" \
    "decompress: the list is larger than the limit max_list_size = 1024 bytes"
RCONF=

next_seq
text "$T/raw"
{ gzip -n -c <"$T/raw"; gzip -n -c <"$T/raw"; } >"$B" && b_sign "$KEY" "$B" && own
refused "two gzip members" \
    "decompress: a second gzip member follows the first (one member only)"

next_seq
text "$B"
b_sign "$KEY" "$B" && own
refused "plain text, not gzip" \
    "decompress: not gzip (the data does not start with 1f 8b)"

# --- the signature --------------------------------------------------------------
next_seq
b_make "$SPOOL" corp "$SEQ" "$T/list" >/dev/null && b_sign "$KEY" "$B" &&
    printf 'x' >>"$B" && own
refused "signature over other bytes" "signature does not verify"

next_seq
b_make "$SPOOL" corp "$SEQ" "$T/list" >/dev/null && : >"$B.sig" && own
refused "empty .sig" "signature file corp.$SEQ.rcpt.gz.sig: empty"

# --- and a good list still installs ----------------------------------------
next_seq
echo "last@corp.test" >>"$T/list"
b_sort "$T/list"
b_make "$SPOOL" corp "$SEQ" "$T/list" >/dev/null && b_sign "$KEY" "$B" && own
rcv run
t_eq "a good list after the refusals: exit 0" 0 $?
t_grep "  ...installed" '^last@corp\.test	OK$' "$H_MAP"
t_done
