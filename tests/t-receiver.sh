#!/bin/sh
# t-receiver.sh - rcptsync-receiver against real postmap and the harness's
# Postfix (hash map), run as the unprivileged user rcptsync.
#
# Covers the receiver's whole contract except the SIGKILL trials and the 1M
# bundle (t-receiver-kill.sh, t-receiver-big.sh): a valid install answered
# 250 / 550 5.1.1 by smtpd, interop with ssh-keygen -Y sign (every bundle
# here is signed by OpenSSH, none by rcptsync's code), and every refusal:
# each checks the exit code, the log line, the quarantine (bundle and
# .reason) and that the live map source AND table are byte-identical.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv python3 sha256sum

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
SPOOL=$H_DIR/incoming
STATUS_DIR=$H_DIR/status
mkdir -p "$SPOOL" "$STATUS_DIR"
CONF=$T/receiver.conf
h_receiver_conf "$CONF" || exit 1
cat >"$T/static" <<'EOF'
# admin additions
postmaster@corp.test OK
left@corp.test 550 5.1.1 gone
EOF
printf 'static_file = %s\nhistory = 3\nmetrics_file = %s\n' "$T/static" "$STATUS_DIR/rcptsync.prom" >>"$CONF"
chown -R rcptsync:rcptsync "$SPOOL" "$STATUS_DIR" "$H_RECV_STATE"
chmod 0644 "$H_ALLOWED_SIGNERS"
STATE=$H_RECV_STATE
Q=$STATE/quarantine
TABLE=$H_MAP.db
KEY=$H_AGENT_KEY

# rcv ARGS...: the receiver as user rcptsync; stderr to $T/log (and ours).
rcv() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "${RCONF:-$CONF}" -v "$@" 2>"$T/log"
	_rc=$?
	sed 's/^/  rcv| /' "$T/log" >&2
	return $_rc
}

SEQ=1000
next_seq() { SEQ=$((SEQ + 1)); }

# put ENTRIES [header options]: bundle corp.$SEQ in the spool, signed.
put() {
	_e=$1; shift
	_f=$(b_make "$SPOOL" corp "$SEQ" "$_e" "$@") && b_sign "$KEY" "$_f" &&
	    chown rcptsync "$_f" "$_f.sig"
}

snap() { cp "$H_MAP" "$T/snap.src" && cp "$TABLE" "$T/snap.tab"; }

map_unchanged() {
	t_same_file "$1: map source byte-identical" "$T/snap.src" "$H_MAP"
	t_same_file "$1: map table byte-identical" "$T/snap.tab" "$TABLE"
}

# refused NAME PATTERN: run, expect a refusal of corp.$SEQ matching PATTERN.
refused() {
	snap
	rcv run >"$T/out"
	t_eq "$1: exit 1" 1 $?
	t_grep "$1: log line" "refuse corp\.$SEQ\.rcpt\.gz: .*$2" "$T/log"
	if [ -f "$Q/corp.$SEQ.rcpt.gz" ] && [ -s "$Q/corp.$SEQ.reason" ]; then
		t_ok "$1: quarantined with reason"
	else
		t_fail "$1: quarantined with reason" "no $Q/corp.$SEQ.{rcpt.gz,reason}"
	fi
	if [ -e "$SPOOL/corp.$SEQ.rcpt.gz" ] || [ -e "$SPOOL/corp.$SEQ.rcpt.gz.sig" ]; then
		t_fail "$1: spool cleaned" "corp.$SEQ still in the spool"
	else
		t_ok "$1: spool cleaned"
	fi
	map_unchanged "$1"
}

# refused_gone NAME PATTERN: like refused, for a corp.$SEQ that is no
# regular file: the reason is kept, the thing itself never enters the
# quarantine.
refused_gone() {
	snap
	rcv run >"$T/out"
	t_eq "$1: exit 1" 1 $?
	t_grep "$1: log line" "refuse corp\.$SEQ\.rcpt\.gz: .*$2" "$T/log"
	t_check "$1: reason kept" test -s "$Q/corp.$SEQ.reason"
	t_check "$1: not moved into the quarantine" \
	    test ! -e "$Q/corp.$SEQ.rcpt.gz" -a ! -L "$Q/corp.$SEQ.rcpt.gz"
	t_check "$1: spool cleaned" test ! -e "$SPOOL/corp.$SEQ.rcpt.gz" \
	    -a ! -L "$SPOOL/corp.$SEQ.rcpt.gz" -a ! -e "$SPOOL/corp.$SEQ.rcpt.gz.sig"
	map_unchanged "$1"
}

# --- lists ---------------------------------------------------------------
b_list 2000 corp.test >"$T/l1"
b_list 1000 example.org >>"$T/l1"
b_list 50 gmail.com >>"$T/l1"
echo left@corp.test >>"$T/l1"
b_sort "$T/l1"

# --- a valid bundle is installed -----------------------------------------
next_seq
put "$T/l1"
FIRST=$SEQ
rcv run >"$T/out"
t_eq "install: exit 0" 0 $?
t_grep "install: log counts" "install corp\.$SEQ\.rcpt\.gz: 3001 entries accepted, 50 dropped" "$T/log"
t_grep "install: dropped domains logged" "dropped 50 entries outside the accepted domains \(gmail.com:50\)" "$T/log"
t_eq "install: map lines (3000 + 1 static OK)" 3001 "$(wc -l <"$H_MAP" | tr -d ' ')"
t_eq "install: postmap -q listed" OK "$(postmap -c "$POSTFIX_DIR" -q u0000007@corp.test "hash:$H_MAP")"
t_eq "install: static reject removes a listed key" "" "$(postmap -c "$POSTFIX_DIR" -q left@corp.test "hash:$H_MAP")"
t_eq "install: smtpd answers listed/unknown/static/dropped" \
    "250 250 550 5.1.1 250 550 5.1.1 550 5.1.1" \
    "$(h_rcpt u0000001@corp.test u0000999@example.org nobody@corp.test postmaster@corp.test left@corp.test harness-initial@corp.test | tr '\n' ' ' | sed 's/ $//')"
t_check "install: bundle in history" test -f "$STATE/history/corp.$SEQ.rcpt.gz" -a -f "$STATE/history/corp.$SEQ.rcpt.gz.sig"
t_check "install: spool empty" test -z "$(ls -A "$SPOOL")"
t_check "install: status.json" python3 -c '
import json, os, stat, sys
p = sys.argv[1]
d = json.load(open(p))
a = d["agents"]["corp"]
assert d["version"] == 1 and d["map_entries"] == 3001, d
assert a["accepted_sequence"] == int(sys.argv[2]) and a["accepted_count"] == 3001, a
assert stat.S_IMODE(os.stat(p).st_mode) == 0o644
' "$STATUS_DIR/status.json" "$SEQ"
t_grep "install: metrics file" "^rcptsync_receiver_accepted_entries\\{agent=\"corp\"\\} 3001$" "$STATUS_DIR/rcptsync.prom"
t_eq "install: map owned by rcptsync" rcptsync "$(stat -c %U "$H_MAP")"
t_check "interop: ssh-keygen -Y verify accepts the kept bundle" \
    sh -c "ssh-keygen -Y verify -f '$H_ALLOWED_SIGNERS' -I corp -n rcptsync -s '$STATE/history/corp.$SEQ.rcpt.gz.sig' <'$STATE/history/corp.$SEQ.rcpt.gz' >/dev/null"
cp "$T/l1" "$T/installed"

# --- nothing pending ------------------------------------------------------
rcv run >"$T/out"
t_eq "idle run: exit 0" 0 $?

# --- signature refusals ---------------------------------------------------
next_seq
put "$T/l1"
# Same name, different bytes: the signature is over the old bytes.
b_list 10 corp.test x >"$T/tamper"; cat "$T/l1" >>"$T/tamper"; b_sort "$T/tamper"
b_make "$SPOOL" corp "$SEQ" "$T/tamper" >/dev/null
refused "bad signature" "signature does not verify"

next_seq
b_key "$T/rogue"
_f=$(b_make "$SPOOL" corp "$SEQ" "$T/l1") && b_sign "$T/rogue" "$_f"
refused "unknown signer" "not trusted for agent corp"

next_seq
_f=$(b_make "$SPOOL" corp "$SEQ" "$T/l1") && b_sign "$KEY" "$_f" file
refused "wrong namespace" "namespace"

next_seq
b_make "$SPOOL" corp "$SEQ" "$T/l1" >/dev/null
refused "missing signature" "signature file .*missing"

# --- sequence refusals ----------------------------------------------------
_s=$SEQ; SEQ=$((FIRST - 1))
put "$T/l1"
refused "older sequence" "not greater than the last accepted"
SEQ=$FIRST
cp "$STATE/history/corp.$FIRST.rcpt.gz" "$STATE/history/corp.$FIRST.rcpt.gz.sig" "$SPOOL/"
chown rcptsync "$SPOOL/corp.$FIRST.rcpt.gz" "$SPOOL/corp.$FIRST.rcpt.gz.sig"
refused "replayed bundle" "replay"
SEQ=$_s

# --- compressed data -----------------------------------------------------
next_seq
b_make "$T" corp "$SEQ" "$T/l1" >/dev/null
head -c $(( $(stat -c %s "$T/corp.$SEQ.rcpt.gz") / 2 )) "$T/corp.$SEQ.rcpt.gz" >"$SPOOL/corp.$SEQ.rcpt.gz"
b_sign "$KEY" "$SPOOL/corp.$SEQ.rcpt.gz"
refused "truncated gzip" "trunc|corrupt"

next_seq
b_list 3000 corp.test >"$T/one"
_start=$(date +%s)
b_header corp "$SEQ" "$T/one" >"$T/one.hdr"
python3 -c '
import sys, zlib
c = zlib.compressobj(1, zlib.DEFLATED, 31)
o = open(sys.argv[2], "wb")
o.write(c.compress(open(sys.argv[1], "rb").read()))
z = bytes(1 << 20)
for i in range(1024):
    o.write(c.compress(z))
o.write(c.flush())
' "$T/one.hdr" "$SPOOL/corp.$SEQ.rcpt.gz"
b_sign "$KEY" "$SPOOL/corp.$SEQ.rcpt.gz"
echo "bomb: $(stat -c %s "$SPOOL/corp.$SEQ.rcpt.gz") bytes compressed, made in $(( $(date +%s) - _start ))s" >&2
refused "gzip bomb (1 GiB of zeros)" "line 1[0-9]"

# A list bigger than max_list_size, otherwise valid: the byte limit.
next_seq
put "$T/l1"
sed 's/^max_list_size.*//' "$CONF" >"$T/small.conf"
printf 'max_list_size = 16k\n' >>"$T/small.conf"
RCONF=$T/small.conf refused "decompressed size limit" "limit"

# --- entries --------------------------------------------------------------
bad_entries() {
	next_seq
	head -n 5 "$T/l1" >"$T/bad"
	printf "$2" >>"$T/bad"
	tail -n 5 "$T/l1" >>"$T/bad"
	put "$T/bad" domains="corp.test example.org gmail.com"
	refused "$1" "$3"
}
bad_entries "unsorted entries" 'zzz@corp.test\na@corp.test\n' "line 1[0-9]"
UNSORTED_SEQ=$SEQ
bad_entries "duplicate entry" 'u0000005@corp.test\nu0000005@corp.test\n' "line 1[0-9]"
bad_entries "uppercase entry" 'U0000005x@corp.test\n' "line 1[0-9]"
bad_entries "space inside an entry" 'u0000005 x@corp.test\n' "line 1[0-9]"
bad_entries "tab inside an entry" 'u0000005\tx@corp.test\n' "line 1[0-9]"
bad_entries "CR inside an entry" 'u0000005x@corp.test\r\n' "line 1[0-9]"
bad_entries "NUL inside an entry" 'u00000\000x@corp.test\n' "line 1[0-9]"
bad_entries "oversized line" "$(head -c 5000 /dev/zero | tr '\0' a)@corp.test\n" "line 1[0-9]"

next_seq
put "$T/l1" count=3050
refused "header count mismatch" "count"

next_seq
: >"$T/empty"
put "$T/empty" domains=corp.test
refused "empty list" "empty|count"

next_seq
b_list 20 gmail.com >"$T/gm"
put "$T/gm"
refused "empty after the relay-domain filter" "empty: no entries in the accepted domains"

next_seq
put "$T/l1" domains="corp.test example.org"
refused "entry outside the header domains" "line 1[0-9]"

next_seq
put "$T/l1" sha=0000000000000000000000000000000000000000000000000000000000000000
refused "list-sha256 mismatch" "digest|sha"

# --- shrink guard -----------------------------------------------------------
next_seq
b_list 1500 corp.test >"$T/l2"
b_list 1000 example.org >>"$T/l2"
b_sort "$T/l2"
put "$T/l2"
SHRINK_SEQ=$SEQ
refused "shrink beyond threshold" "shrink: 2500 entries, installed 3001, threshold 10%"
t_grep "shrink: log names the approve command" "rcptsync-receiver approve $Q/corp\.$SEQ\.rcpt\.gz" "$T/log"
t_grep "shrink: status.json has the reason" '"rejected_reason": "shrink: 2500 entries' "$STATUS_DIR/status.json"
# Only shrink refusals can be approved.
rcv approve "$Q/corp.$UNSORTED_SEQ.rcpt.gz"
t_eq "approve an invalid list: exit 2" 2 $?
t_grep "approve an invalid list: says why" "approve corp\.$UNSORTED_SEQ\.rcpt\.gz: refused for \"line 1[0-9].*not by the shrink guard" "$T/log"
t_check "approve an invalid list: stays in the quarantine" \
    test -f "$Q/corp.$UNSORTED_SEQ.rcpt.gz" -a -f "$Q/corp.$UNSORTED_SEQ.reason" -a ! -e "$SPOOL/corp.$UNSORTED_SEQ.rcpt.gz"
# As root, as ADMIN.md shows it: the receiver becomes the owner of
# state_dir first, so the next run as rcptsync can still read its state.
"$RCV_BIN" -c "$CONF" -v approve "$Q/corp.$SEQ.rcpt.gz" 2>"$T/log"
t_eq "approve as root: exit 0" 0 $?
sed 's/^/  root| /' "$T/log" >&2
t_eq "approve as root: state still rcptsync's" "rcptsync 600" "$(stat -c '%U %a' "$STATE/corp.state")"
t_eq "approve as root: no root-owned file in STATE" "" "$(find "$STATE" "$STATUS_DIR" -maxdepth 1 -user root | tr '\n' ' ')"
rcv run >"$T/out"
t_eq "approved shrink: exit 0" 0 $?
t_grep "approved shrink: logged loudly" "APPROVED by the administrator" "$T/log"
t_eq "approved shrink: map lines" 2501 "$(wc -l <"$H_MAP" | tr -d ' ')"
cp "$T/l2" "$T/installed"

next_seq
b_list 1000 corp.test >"$T/l3"
put "$T/l3" flags=allow-shrink
rcv run >"$T/out"
t_eq "signed allow-shrink: exit 0" 0 $?
t_grep "signed allow-shrink: logged loudly" "APPROVED by the signed flag allow-shrink in corp\.$SEQ\.rcpt\.gz" "$T/log"
t_eq "signed allow-shrink: map lines" 1001 "$(wc -l <"$H_MAP" | tr -d ' ')"
t_eq "signed allow-shrink: smtpd" "250 550 5.1.1" "$(h_rcpt u0000999@corp.test u0000999@example.org | tr '\n' ' ' | sed 's/ $//')"
cp "$T/l3" "$T/installed"

# --- heartbeat ------------------------------------------------------------
next_seq
snap
put "$T/empty" kind=heartbeat count=0 domains=corp.test sha="$(sha256sum <"$T/l3" | cut -d' ' -f1)"
cp -p "$SPOOL/corp.$SEQ.rcpt.gz" "$SPOOL/corp.$SEQ.rcpt.gz.sig" "$T/"
rcv run >"$T/out"
t_eq "heartbeat: exit 0" 0 $?
t_grep "heartbeat: logged" "heartbeat corp\.$SEQ\.rcpt\.gz: list .* is installed" "$T/log"
map_unchanged "heartbeat"
t_grep "heartbeat: status.json" '"heartbeat_time"' "$STATUS_DIR/status.json"

# The same heartbeat again: a replay, not an interrupted install, and it
# must not push a real list out of history.
ls "$STATE/history" >"$T/hist.before"
cp -p "$T/corp.$SEQ.rcpt.gz" "$T/corp.$SEQ.rcpt.gz.sig" "$SPOOL/"
refused "replayed heartbeat" "not greater than the last accepted .*replay"
ls "$STATE/history" >"$T/hist.after"
t_same_file "replayed heartbeat: history unchanged" "$T/hist.before" "$T/hist.after"

next_seq
put "$T/empty" kind=heartbeat count=0 domains=corp.test sha="$(sha256sum <"$T/l1" | cut -d' ' -f1)"
refused "heartbeat for another list" "heartbeat for list"

# --- superseded, inetd, crash finish --------------------------------------
next_seq
b_list 1100 corp.test >"$T/l4"
put "$T/l4"
OLD=$SEQ
next_seq
b_list 1050 corp.test >"$T/l5"
put "$T/l5"
# inetd/xinetd style: stdin, stdout and stderr are all the connection.
python3 - "$RCV_BIN" "$CONF" >"$T/out" <<'EOF'
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen(["setpriv", "--reuid", "rcptsync", "--regid", "rcptsync",
    "--init-groups", sys.argv[1], "-c", sys.argv[2], "-v", "run", "--inetd"],
    stdin=a, stdout=a, stderr=a)
a.close()
b.sendall(b"hello\r\n")
out = b""
while True:
    d = b.recv(4096)
    if not d:
        break
    out += d
sys.stdout.write(out.decode("latin-1"))
sys.exit(p.wait())
EOF
t_eq "inetd: exit 0" 0 $?
sed 's/^/  inetd| /' "$T/out" >&2
t_grep "superseded: reported" "^superseded corp $OLD: superseded by sequence $SEQ" "$T/out"
t_check "superseded: quarantined" test -f "$Q/corp.$OLD.rcpt.gz" -a -f "$Q/corp.$OLD.reason"
t_grep "inetd: result line" "^installed corp $SEQ: 1050 entries$" "$T/out"
t_grep "inetd: final line" "^done 0$" "$T/out"
t_eq "inetd: only result lines on the connection" 0 "$(grep -cvE '^(installed|superseded|refused|heartbeat|error|done) ' "$T/out")"
t_eq "after inetd: map lines" 1051 "$(wc -l <"$H_MAP" | tr -d ' ')"

# A crash after the install but before the bundle left the spool.
mv "$STATE/history/corp.$SEQ.rcpt.gz" "$STATE/history/corp.$SEQ.rcpt.gz.sig" "$SPOOL/"
snap
rcv run >"$T/out"
t_eq "crash finish: exit 0" 0 $?
t_grep "crash finish: logged" "finish corp\.$SEQ\.rcpt\.gz: already installed" "$T/log"
map_unchanged "crash finish"
t_check "crash finish: back in history" test -f "$STATE/history/corp.$SEQ.rcpt.gz"

# --- diff, status -------------------------------------------------------------
rcv diff corp >"$T/diff"
t_eq "diff: exit 0" 0 $?
t_eq "diff: added lines" 50 "$(grep -c '^+' "$T/diff")"
t_eq "diff: removed lines" 0 "$(grep -c '^-' "$T/diff")"
t_eq "diff: first added" "+u0001000@corp.test" "$(head -n 1 "$T/diff")"
rcv diff corp "$SHRINK_SEQ" "$SEQ" >"$T/diff"
t_eq "diff SEQ1 SEQ2: removed lines" 1450 "$(grep -c '^-' "$T/diff")"
t_eq "history: pruned to 3" 3 "$(ls "$STATE/history" | grep -c 'rcpt\.gz$')"

rcv status --nagios >"$T/out"
t_eq "status --nagios: exit 0" 0 $?
t_grep "status --nagios: line" "^RCPTSYNC OK - corp: 1050 entries" "$T/out"
rcv status >"$T/out"
t_grep "status: accepted line" "accepted  sequence $SEQ" "$T/out"

rcv check >"$T/out"
t_eq "check: exit 0" 0 $?
t_eq "check: no FAIL" 0 "$(grep -c '^FAIL' "$T/out")"

# --- unsigned junk with a higher sequence displaces nothing ------
next_seq
put "$T/l3"
printf 'junk\n' >"$SPOOL/corp.9000000000000000000.rcpt.gz"
printf 'x' >"$SPOOL/corp.9999999999999999999.rcpt.gz"
printf 'x' >"$SPOOL/corp.9999999999999999999.rcpt.gz.sig"
chown rcptsync "$SPOOL"/corp.9*
rcv run >"$T/out"
t_eq "junk with a higher sequence: exit 1" 1 $?
t_grep "junk: refused for its signature" "refuse corp\.9000000000000000000\.rcpt\.gz: signature file .*missing" "$T/log"
t_grep "junk: the signed bundle is installed" "install corp\.$SEQ\.rcpt\.gz: 1000 entries" "$T/log"
t_check "junk: nothing superseded" test ! -e "$Q/corp.$SEQ.rcpt.gz"
t_check "junk: status.json has the signed bundle" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["agents"]["corp"]
assert a["accepted_sequence"] == int(sys.argv[2]), a
' "$STATUS_DIR/status.json" "$SEQ"
t_grep "sequence above 2^63-1: refused with the rule" "refuse corp\.9999999999999999999\.rcpt\.gz: sequence 9999999999999999999 is above 9223372036854775807 \(2\^63-1\)" "$T/log"
t_check "sequence above 2^63-1: removed with its .sig" \
    test ! -e "$SPOOL/corp.9999999999999999999.rcpt.gz" -a ! -e "$SPOOL/corp.9999999999999999999.rcpt.gz.sig"
cp "$T/l3" "$T/installed"

# --- directories and other non-regular files in the spool --------
next_seq
mkdir -p "$SPOOL/corp.$SEQ.rcpt.gz/sub" && head -c 100000 /dev/urandom >"$SPOOL/corp.$SEQ.rcpt.gz/sub/payload"
cp "$(ls "$STATE"/history/*.sig | head -n 1)" "$SPOOL/corp.$SEQ.rcpt.gz.sig"
chown -R rcptsync "$SPOOL/corp.$SEQ.rcpt.gz" "$SPOOL/corp.$SEQ.rcpt.gz.sig"
refused_gone "directory named like a bundle" "not a regular file"
mkdir -p "$SPOOL/corp.$SEQ.rcpt.gz/sub" && chown -R rcptsync "$SPOOL/corp.$SEQ.rcpt.gz"
refused_gone "the same directory again (no .sig)" "signature file .*missing"
next_seq
put "$T/l3"
rm -f "$SPOOL/corp.$SEQ.rcpt.gz.sig" && mkdir "$SPOOL/corp.$SEQ.rcpt.gz.sig" && chown rcptsync "$SPOOL/corp.$SEQ.rcpt.gz.sig"
refused "a .sig that is a directory" "signature file .*not a regular file"
t_check "a .sig that is a directory: removed" test ! -e "$SPOOL/corp.$SEQ.rcpt.gz.sig" -a ! -e "$Q/corp.$SEQ.rcpt.gz.sig"
next_seq
mkfifo "$SPOOL/corp.$SEQ.rcpt.gz" && chown rcptsync "$SPOOL/corp.$SEQ.rcpt.gz"
cp "$(ls "$STATE"/history/*.sig | head -n 1)" "$SPOOL/corp.$SEQ.rcpt.gz.sig" && chown rcptsync "$SPOOL/corp.$SEQ.rcpt.gz.sig"
refused_gone "a FIFO named like a bundle" "not a regular file"

# A directory an older receiver moved into the quarantine under the name
# a new refusal needs: it makes way, instead of failing every run.
next_seq
mkdir -p "$Q/corp.$SEQ.rcpt.gz/x" "$Q/corp.$SEQ.rcpt.gz.sig" && chown -R rcptsync "$Q/corp.$SEQ.rcpt.gz" "$Q/corp.$SEQ.rcpt.gz.sig"
b_make "$SPOOL" corp "$SEQ" "$T/l3" >/dev/null && chown rcptsync "$SPOOL/corp.$SEQ.rcpt.gz"
cp "$(ls "$STATE"/history/*.sig | head -n 1)" "$SPOOL/corp.$SEQ.rcpt.gz.sig" && chown rcptsync "$SPOOL/corp.$SEQ.rcpt.gz.sig"
refused "a directory in the quarantine's way" "signature does not verify"
t_check "a directory in the quarantine's way: replaced by the refused file" \
    test -f "$Q/corp.$SEQ.rcpt.gz" -a -f "$Q/corp.$SEQ.rcpt.gz.sig"

# Pruning covers everything in the quarantine: a directory an older
# receiver moved there goes too, and what cannot be removed is logged.
mkdir -p "$Q/old.1.rcpt.gz/deep" "$Q/stuck.1.rcpt.gz/locked/in"
head -c 100000 /dev/urandom >"$Q/old.1.rcpt.gz/deep/payload"
chown -R rcptsync "$Q/old.1.rcpt.gz" "$Q/stuck.1.rcpt.gz"
chown root "$Q/stuck.1.rcpt.gz/locked"
i=0
while [ $i -lt 60 ]; do
	i=$((i + 1))
	echo "old refusal" >"$Q/filler.$i.reason"
done
chown rcptsync "$Q"/filler.*
touch -h -d '3 days ago' "$Q"/filler.*
touch -h -d '4 days ago' "$Q/old.1.rcpt.gz" "$Q/stuck.1.rcpt.gz"
next_seq
b_make "$SPOOL" corp "$SEQ" "$T/l3" >/dev/null && chown rcptsync "$SPOOL/corp.$SEQ.rcpt.gz"
refused "a refusal that prunes" "signature file .*missing"
t_check "prune: the old directory is gone" test ! -e "$Q/old.1.rcpt.gz"
t_grep "prune: what it could not remove is logged" "remove $Q/stuck\.1\.rcpt\.gz/locked/in: Permission denied" "$T/log"
_kept=$(ls "$Q" | sed -E 's/\.(rcpt\.gz(\.sig)?|reason)$//' | sort -u | wc -l)
t_check "prune: at most 51 refusals kept (50, and the stuck one): $_kept" test "$_kept" -le 51
rm -rf "$Q/stuck.1.rcpt.gz"

# --- system failure: postmap fails -> exit 3, bundle stays, map unchanged --
next_seq
b_list 1040 corp.test >"$T/l6"
put "$T/l6"
snap
sed 's|^postmap = .*|postmap = /bin/false|' "$CONF" >"$T/bad.conf"
RCONF=$T/bad.conf rcv run >"$T/out"
t_eq "postmap failure: exit 3" 3 $?
t_grep "postmap failure: logged" "postmap .*failed with exit status 1" "$T/log"
map_unchanged "postmap failure"
t_check "postmap failure: bundle stays in the spool" test -f "$SPOOL/corp.$SEQ.rcpt.gz"
t_check "postmap failure: not quarantined" test ! -e "$Q/corp.$SEQ.rcpt.gz"
t_check "postmap failure: no leftovers" test ! -e "$H_MAP.new" -a ! -e "$H_MAP.new.db"
# A postmap that hangs is killed at postmap_timeout.
printf '#!/bin/sh\nsleep 600\n' >"$T/hang-postmap" && chmod 755 "$T/hang-postmap"
sed "s|^postmap = .*|postmap = $T/hang-postmap|" "$CONF" >"$T/hang.conf"
printf 'postmap_timeout = 2s\n' >>"$T/hang.conf"
_t0=$(date +%s)
RCONF=$T/hang.conf rcv run >"$T/out"
t_eq "postmap hangs: exit 3" 3 $?
t_check "postmap hangs: killed within 10s" test $(( $(date +%s) - _t0 )) -lt 10
t_grep "postmap hangs: logged with the setting" "no result after 2 seconds \(postmap_timeout = 2s\); killed it" "$T/log"
t_grep "postmap hangs: map unchanged, logged" "the live map is unchanged" "$T/log"
map_unchanged "postmap hangs"
t_check "postmap hangs: bundle stays in the spool" test -f "$SPOOL/corp.$SEQ.rcpt.gz"
t_check "postmap hangs: no leftovers" test ! -e "$H_MAP.new" -a ! -e "$H_MAP.new.db"
t_eq "postmap hangs: no sleep left running" "" "$(pgrep -f "$T/hang-postmap" | tr '\n' ' ')"
rcv run >"$T/out"
t_eq "retry after postmap failure: exit 0" 0 $?
t_eq "retry: map lines" 1041 "$(wc -l <"$H_MAP" | tr -d ' ')"

# --- spool hygiene ------------------------------------------------------------
next_seq
printf 'x' >"$SPOOL/.corp.$SEQ.0123456789abcdef.tmp"
touch -d '2 hours ago' "$SPOOL/.corp.$SEQ.0123456789abcdef.tmp"
printf 'x' >"$SPOOL/.corp.$SEQ.fedcba9876543210.tmp"
printf 'x' >"$SPOOL/README"
printf 'x' >"$SPOOL/corp.0$SEQ.rcpt.gz"
printf 'x' >"$SPOOL/Corp.$SEQ.rcpt.gz"
chown rcptsync "$SPOOL"/.corp.* "$SPOOL"/README "$SPOOL"/*corp.*
snap
rcv run >"$T/out"
t_eq "hygiene: exit 0" 0 $?
t_check "hygiene: stale temporary removed" test ! -e "$SPOOL/.corp.$SEQ.0123456789abcdef.tmp"
t_check "hygiene: fresh temporary kept" test -e "$SPOOL/.corp.$SEQ.fedcba9876543210.tmp"
t_check "hygiene: other names ignored" test -e "$SPOOL/README" -a -e "$SPOOL/corp.0$SEQ.rcpt.gz" -a -e "$SPOOL/Corp.$SEQ.rcpt.gz"
map_unchanged "hygiene"
rm -f "$SPOOL"/.corp.* "$SPOOL/README" "$SPOOL/corp.0$SEQ.rcpt.gz" "$SPOOL/Corp.$SEQ.rcpt.gz"

ln -s /etc/passwd "$SPOOL/corp.$SEQ.rcpt.gz"
cp "$(ls "$STATE"/history/*.sig | head -n 1)" "$SPOOL/corp.$SEQ.rcpt.gz.sig"
chown -h rcptsync "$SPOOL/corp.$SEQ.rcpt.gz" "$SPOOL/corp.$SEQ.rcpt.gz.sig"
refused_gone "symlink in the spool" "symbolic link"

next_seq
_f=$(b_make "$SPOOL" other "$SEQ" "$T/l6") && b_sign "$KEY" "$_f" && chown rcptsync "$_f" "$_f.sig"
snap
rcv run >"$T/out"
t_eq "key of another agent: exit 1" 1 $?
t_grep "key of another agent: log line" "refuse other\.$SEQ\.rcpt\.gz: signer key .* is not trusted for agent other" "$T/log"
map_unchanged "key of another agent"
t_check "key of another agent: no state for an unknown agent" test ! -e "$STATE/other.state"

# --- lock: a second receiver waits, then processes what is left ------------
next_seq
put "$T/l6" flags=allow-shrink
flock "$STATE/lock" sleep 2 &
_lp=$!
sleep 0.3
_t0=$(date +%s)
rcv run >"$T/out"
_rc=$?
wait "$_lp"
t_eq "lock: waited, then exit 0" 0 "$_rc"
t_grep "lock: logged the wait" "another receiver is running, waiting" "$T/log"
t_check "lock: bundle processed" test ! -e "$SPOOL/corp.$SEQ.rcpt.gz"

# --- [signer corp] domains restrict what the agent may speak for ----------
next_seq
cp "$T/l6" "$T/l7"
b_list 500 example.org >>"$T/l7"
b_sort "$T/l7"
put "$T/l7"
cp "$CONF" "$T/signer.conf"
printf '[signer corp]\ndomains = corp.test\n' >>"$T/signer.conf"
RCONF=$T/signer.conf rcv run >"$T/out"
t_eq "signer domains: exit 0" 0 $?
t_grep "signer domains: dropped" "install corp\.$SEQ\.rcpt\.gz: 1040 entries accepted, 500 dropped" "$T/log"
t_eq "signer domains: smtpd" "250 550 5.1.1" "$(h_rcpt u0001039@corp.test u0000001@example.org | tr '\n' ' ' | sed 's/ $//')"

# --- relay_domains from postconf ------------------------------------------
grep -v '^relay_domains' "$CONF" >"$T/nord.conf"
RCONF=$T/nord.conf rcv check >"$T/out"
t_eq "relay_domains from postconf: check exit 0" 0 $?
mkdir -p "$T/pf"
sed 's/^relay_domains = .*/relay_domains = $mydestination, hash:\/etc\/postfix\/relay/' "$POSTFIX_DIR/main.cf" >"$T/pf/main.cf"
cp "$POSTFIX_DIR/master.cf" "$T/pf/"
sed "s|^postfix_config = .*|postfix_config = $T/pf|" "$T/nord.conf" >"$T/pfref.conf"
RCONF=$T/pfref.conf rcv run >"$T/out"
t_eq "relay_domains with \$references: exit 2" 2 $?
t_grep "relay_domains with \$references: asks for an explicit setting" "set relay_domains in \[receiver\] explicitly" "$T/log"

# --- the admin's files may be symbolic links ---------------------
cp "$T/static" "$T/static.real" && ln -sf "$T/static.real" "$T/static.link"
sed "s|^static_file = .*|static_file = $T/static.link|" "$CONF" >"$T/real.conf"
ln -sf "$T/real.conf" "$T/link.conf"
RCONF=$T/link.conf rcv check >"$T/out"
t_eq "symlinked config and static_file: check exit 0" 0 $?
t_eq "symlinked config: no FAIL" 0 "$(grep -c '^FAIL' "$T/out")"
RCONF=$T/link.conf rcv run >"$T/out"
t_eq "symlinked config: run exit 0" 0 $?

# --- the user setting ----------------------------------------------
cp "$CONF" "$T/user.conf" && printf 'user = no-such-user-x\n' >>"$T/user.conf"
"$RCV_BIN" -c "$T/user.conf" -v status >"$T/out" 2>"$T/log"
t_eq "user = unknown, as root: exit 2" 2 $?
t_grep "user = unknown: says so" "user = no-such-user-x: no such user" "$T/log"
"$RCV_BIN" -c "$CONF" status >"$T/out" 2>"$T/log"
t_eq "status as root: exit 0" 0 $?
"$RCV_BIN" -c "$CONF" -v run >"$T/out" 2>"$T/log"
t_eq "run as root: exit 0" 0 $?
t_grep "run as root: switched to the owner of state_dir" "started as root, now running as rcptsync" "$T/log"
t_eq "run as root: no root-owned file in STATE" "" "$(find "$STATE" "$STATUS_DIR" -maxdepth 1 -user root | tr '\n' ' ')"

# --- retiring an agent ---------------------------------------------
rcv retire nosuch >"$T/out"
t_eq "retire an unknown agent: exit 2" 2 $?
t_grep "retire an unknown agent: says so" "retire nosuch: no such agent" "$T/log"
b_key "$T/branchkey"
{ cat "$H_ALLOWED_SIGNERS"; b_signer_line branch "$T/branchkey"; } >"$T/signers2"
chmod 0644 "$T/signers2"
sed "s|^allowed_signers = .*|allowed_signers = $T/signers2|" "$CONF" >"$T/two.conf"
b_list 60 branch.corp.test >"$T/lb"
_f=$(b_make "$SPOOL" branch 5 "$T/lb") && b_sign "$T/branchkey" "$_f" && chown rcptsync "$_f" "$_f.sig"
RCONF=$T/two.conf rcv run >"$T/out"
t_eq "retire: a second agent installed" 0 $?
_lines=$(wc -l <"$H_MAP" | tr -d ' ')
t_eq "retire: its address is served" 250 "$(h_rcpt u0000007@branch.corp.test)"
snap
RCONF=$T/two.conf rcv retire branch >"$T/out"
t_eq "retire within the shrink threshold: exit 0" 0 $?
t_eq "retire: map lines" $((_lines - 60)) "$(wc -l <"$H_MAP" | tr -d ' ')"
t_eq "retire: its address is gone" "550 5.1.1" "$(h_rcpt u0000007@branch.corp.test)"
t_check "retire: list and state removed" test ! -e "$STATE/branch.list" -a ! -e "$STATE/branch.state"
t_check "retire: history kept" test -f "$STATE/history/branch.5.rcpt.gz"
t_check "retire: status.json no longer lists it" python3 -c '
import json, sys
assert "branch" not in json.load(open(sys.argv[1]))["agents"]
' "$STATUS_DIR/status.json"
t_grep "retire: reminds of allowed_signers" "Remove its line from $T/signers2" "$T/log"
snap
rcv retire corp >"$T/out"
t_eq "retire beyond the shrink threshold: exit 1" 1 $?
t_grep "retire beyond the threshold: names the numbers and --yes" "retire corp: shrink: the map would go from [0-9]+ to 1 entries, threshold 10% .*retire --yes corp" "$T/log"
map_unchanged "retire refused"
t_check "retire refused: state kept" test -f "$STATE/corp.state" -a -f "$STATE/corp.list"
rcv retire --yes corp >"$T/out"
t_eq "retire --yes: exit 0" 0 $?
t_grep "retire --yes: logged loudly" "APPROVED by the administrator \(retire --yes\)" "$T/log"
t_eq "retire --yes: only the static entry is left" "postmaster@corp.test	OK" "$(cat "$H_MAP")"
t_eq "retire --yes: smtpd" "550 5.1.1 250" "$(h_rcpt u0000001@corp.test postmaster@corp.test | tr '\n' ' ' | sed 's/ $//')"

# --- format version 2: relay domains, wildcards, relay_domains_map ------------
# A second agent, "edge", signed by the same key.
b_signer_line edge "$KEY" >>"$H_ALLOWED_SIGNERS"
ESEQ=5000
# eput ENTRIES [header options]: bundle edge.$ESEQ, version 2, signed.
eput() {
	_e=$1; shift
	ESEQ=$((ESEQ + 1))
	_f=$(b_make "$SPOOL" edge "$ESEQ" "$_e" version=2 "$@") &&
	    b_sign "$KEY" "$_f" && chown rcptsync "$_f" "$_f.sig"
}
b_list 100 corp.test e >"$T/e1"
b_list 300 example.org e >>"$T/e1"
b_sort "$T/e1"
eput "$T/e1" domains="corp.test example.org" relay=branch.corp.test
rcv run >"$T/out"
t_eq "v2 relay domain: exit 0" 0 $?
t_grep "v2 relay domain: @domain in the map" '^@branch\.corp\.test	OK$' "$H_MAP"
t_eq "v2 relay domain: smtpd" "250 250 550 5.1.1" \
    "$(h_rcpt anyone@branch.corp.test e0000001@corp.test nobody@corp.test | tr '\n' ' ' | sed 's/ $//')"
t_grep "v2: status has the agent" '"edge"' "$STATUS_DIR/status.json"

# Authoritative to relay: its addresses go, the @domain key takes any
# recipient, and the guard sees no shrink.
b_list 100 corp.test e >"$T/e2"
eput "$T/e2" domains=corp.test relay="branch.corp.test example.org"
rcv run >"$T/out"
t_eq "v2 kind change: exit 0 (no shrink)" 0 $?
t_grep "v2 kind change: said why" 'of which 300 are now in relay domains' "$T/log"
t_eq "v2 kind change: smtpd" "250 250" \
    "$(h_rcpt whoever@example.org e0000001@corp.test | tr '\n' ' ' | sed 's/ $//')"

# An authoritative domain that disappears takes its addresses with it:
# the shrink guard refuses, and the map stays.
eput "$T/e1" domains="corp.test example.org" relay=branch.corp.test
rcv run >"$T/out"
t_eq "v2 back to authoritative: exit 0" 0 $?
eput "$T/e2" domains=corp.test
snap
rcv run >"$T/out"
t_eq "v2 domain removed: refused (exit 1)" 1 $?
t_grep "v2 domain removed: the shrink guard" "refuse edge\.$ESEQ\.rcpt\.gz: shrink: 100 entries, installed 401" "$T/log"
map_unchanged "v2 domain removed"

# A domain this relay does not relay: left out, said, and in the status.
eput "$T/e1" domains="corp.test example.org" relay="branch.corp.test partner.example"
rcv run >"$T/out"
t_eq "v2 unrelayed domain: exit 0" 0 $?
t_grep "v2 unrelayed domain: warned" 'not relayed here \(partner\.example\)' "$T/log"
t_grep "v2 unrelayed domain: status.json" '"unrelayed_domains": "partner\.example"' \
    "$STATUS_DIR/status.json"
t_grep "v2 unrelayed domain: metrics" '^rcptsync_receiver_unrelayed_domains\{agent="edge"\} 1$' \
    "$STATUS_DIR/rcptsync.prom"
rcv status --nagios >"$T/out"
t_grep "v2 unrelayed domain: nagios warns" 'edge.*not relayed here' "$T/out"
t_check "v2 unrelayed domain: no @partner.example" sh -c "! grep -q '^@partner' '$H_MAP'"

# relay_domains = any and relay_domains_map: wildcards, and Postfix's
# relay_domains from the receiver's table.
cp "$CONF" "$T/any.conf"
sed -i '/^relay_domains = /d' "$T/any.conf"
printf 'relay_domains = any\nrelay_domains_map = %s\n[signer edge]\ndomains = *.corp.test example.org\n' \
    "$T/relay_domains" >>"$T/any.conf"
chown rcptsync "$T"
b_list 50 hq.corp.test w >"$T/e3"
cat "$T/e1" >>"$T/e3"
b_sort "$T/e3"
eput "$T/e3" domains="*.corp.test example.org" relay="lab.corp.test partner.example"
RCONF=$T/any.conf rcv run >"$T/out"
t_eq "v2 wildcard, any: exit 0" 0 $?
t_grep "v2 any: said at start" 'relay_domains = any: each agent' "$T/log"
t_eq "v2 wildcard: relay_domains_map" \
    "corp.test OK example.org OK hq.corp.test OK lab.corp.test OK" \
    "$(tr '\t\n' '  ' <"$T/relay_domains" | sed 's/ $//')"
t_eq "v2 wildcard: the [signer] leaves partner.example out" 10 \
    "$(grep -c '^@lab\.corp\.test	OK$' "$H_MAP")$(grep -c '^@partner' "$H_MAP")" 
t_eq "v2 relay_domains_map: postmap finds a domain" OK \
    "$(postmap -c "$POSTFIX_DIR" -q hq.corp.test "$H_MAP_TYPE:$T/relay_domains")"
RCONF=$T/any.conf rcv check >"$T/out"
t_grep "v2 check: Postfix's relay_domains must name the table" \
    "^FAIL relay_domains: .* does not include $H_MAP_TYPE:$T/relay_domains" "$T/out"

# --- configuration errors ---------------------------------------------------
printf '[receiver]\nspool_dirr = /x\n' >"$T/typo.conf"
RCONF=$T/typo.conf rcv run >"$T/out"
t_eq "config typo: exit 2" 2 $?
t_grep "config typo: names the key" "unknown key 'spool_dirr'" "$T/log"

t_done
