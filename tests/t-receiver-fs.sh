#!/bin/sh
# t-receiver-fs.sh - the receiver on a full disk, with a btree map, and
# with two signers whose lists are merged.
#
# A 1 MB tmpfs holds the map directory: the first small list fits, a large
# one does not (ENOSPC while writing MAP.new or while postmap builds the
# table).  The receiver must exit 3, leave the bundle in the spool, keep
# the live map source and table byte-identical and leave no MAP.new
# behind.  Postfix is not needed here, only postmap with a minimal
# main.cf; the receiver runs as user rcptsync.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv mount umount sha256sum

T=$(t_tmp)
umask 022
PF=$T/postfix
mkdir -p "$PF" "$T/spool" "$T/status" "$T/state" "$T/mnt" "$T/bt"
printf 'compatibility_level = 3.6\n' >"$PF/main.cf"
: >"$PF/master.cf"
b_key "$T/agent"
b_signer_line corp "$T/agent" >"$T/allowed_signers"
chmod 0644 "$T/allowed_signers"

mount -t tmpfs -o size=1m,mode=0755 tmpfs "$T/mnt" || { t_fail mount "cannot mount a tmpfs"; exit 1; }
t_cleanup "umount '$T/mnt'"
chown rcptsync:rcptsync "$T/mnt" "$T/spool" "$T/status" "$T/state" "$T/bt"

conf() { # FILE MAP TYPE
	cat >"$1" <<EOF
[receiver]
spool_dir = $T/spool
status_file = $T/status/status.json
state_dir = $T/state
allowed_signers = $T/allowed_signers
map = $2
map_type = $3
postfix_config = $PF
relay_domains = corp.test example.org
EOF
}
conf "$T/full.conf" "$T/mnt/relay_recipients" hash
conf "$T/bt.conf" "$T/bt/relay_recipients" btree

rcv() {
	_c=$1; shift
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "$_c" -v "$@" 2>"$T/log"
	_rc=$?
	sed 's/^/  rcv| /' "$T/log" >&2
	return $_rc
}
put() { # SEQ LIST [opts]
	_s=$1 _l=$2; shift 2
	_f=$(b_make "$T/spool" corp "$_s" "$_l" "$@") && b_sign "$T/agent" "$_f" &&
	    chown rcptsync "$_f" "$_f.sig"
}

# --- disk full --------------------------------------------------------------
b_list 200 corp.test >"$T/small"
put 1 "$T/small"
rcv "$T/full.conf" run
t_eq "small list on a 1 MB file system: exit 0" 0 $?
cp "$T/mnt/relay_recipients" "$T/snap.src"
cp "$T/mnt/relay_recipients.db" "$T/snap.tab"

b_list 40000 corp.test >"$T/big"
put 2 "$T/big"
rcv "$T/full.conf" run
t_eq "disk full: exit 3" 3 $?
t_grep "disk full: logged" "No space left on device|failed with exit status|postmap" "$T/log"
t_same_file "disk full: map source byte-identical" "$T/snap.src" "$T/mnt/relay_recipients"
t_same_file "disk full: map table byte-identical" "$T/snap.tab" "$T/mnt/relay_recipients.db"
t_check "disk full: no MAP.new left" test ! -e "$T/mnt/relay_recipients.new" -a ! -e "$T/mnt/relay_recipients.new.db"
t_check "disk full: bundle stays in the spool" test -f "$T/spool/corp.2.rcpt.gz" -a -f "$T/spool/corp.2.rcpt.gz.sig"
t_check "disk full: not quarantined" test ! -e "$T/state/quarantine/corp.2.rcpt.gz"
t_eq "disk full: postmap -q still answers" OK "$(postmap -c "$PF" -q u0000007@corp.test "hash:$T/mnt/relay_recipients")"

# ENOSPC while writing MAP.new itself (the source alone is over 1 MB).
rm -f "$T/spool"/*
b_list 80000 corp.test >"$T/huge"
put 3 "$T/huge"
rcv "$T/full.conf" run
t_eq "disk full while writing MAP.new: exit 3" 3 $?
t_grep "disk full while writing MAP.new: logged" "write .*relay_recipients\.new: No space left on device" "$T/log"
t_same_file "disk full while writing MAP.new: map source byte-identical" "$T/snap.src" "$T/mnt/relay_recipients"
t_same_file "disk full while writing MAP.new: map table byte-identical" "$T/snap.tab" "$T/mnt/relay_recipients.db"
t_check "disk full while writing MAP.new: no MAP.new left" test ! -e "$T/mnt/relay_recipients.new"
t_check "disk full while writing MAP.new: bundle stays" test -f "$T/spool/corp.3.rcpt.gz"

# --- btree ------------------------------------------------------------------
rm -f "$T/spool"/*
rm -rf "$T/state" && mkdir -p "$T/state" && chown rcptsync:rcptsync "$T/state"
put 4 "$T/big"
rcv "$T/bt.conf" run
t_eq "btree: exit 0" 0 $?
t_eq "btree: postmap -q listed" OK "$(postmap -c "$PF" -q u0039999@corp.test "btree:$T/bt/relay_recipients")"
t_eq "btree: postmap -q unknown" "" "$(postmap -c "$PF" -q nobody@corp.test "btree:$T/bt/relay_recipients")"
t_check "btree: no MAP.new left" test ! -e "$T/bt/relay_recipients.new" -a ! -e "$T/bt/relay_recipients.new.db"

# --- several signers: each agent's list is kept and merged -----------------
b_key "$T/agent2"
b_signer_line forest2 "$T/agent2" >>"$T/allowed_signers"
printf '[signer forest2]\ndomains = example.org\n' >>"$T/bt.conf"
b_list 300 example.org f >"$T/f2"
printf 'u0000001@corp.test\n' >>"$T/f2"	# not forest2's domain: dropped
b_sort "$T/f2"
_f=$(b_make "$T/spool" forest2 9 "$T/f2") && b_sign "$T/agent2" "$_f" && chown rcptsync "$_f" "$_f.sig"
rcv "$T/bt.conf" run
t_eq "second signer: exit 0" 0 $?
t_grep "second signer: its foreign domain dropped" "install forest2\.9\.rcpt\.gz: 300 entries accepted, 1 dropped" "$T/log"
t_eq "second signer: map has both lists" 40300 "$(wc -l <"$T/bt/relay_recipients" | tr -d ' ')"
b_list 40001 corp.test >"$T/big2"
put 5 "$T/big2"
rcv "$T/bt.conf" run
t_eq "first signer again: exit 0" 0 $?
t_eq "first signer again: the other list is kept" 40301 "$(wc -l <"$T/bt/relay_recipients" | tr -d ' ')"
t_eq "first signer again: both answer" "OK OK" "$(postmap -c "$PF" -q f0000299@example.org "btree:$T/bt/relay_recipients") $(postmap -c "$PF" -q u0040000@corp.test "btree:$T/bt/relay_recipients")"
_f=$(b_make "$T/spool" forest2 10 "$T/small") && b_sign "$T/agent2" "$_f" && chown rcptsync "$_f" "$_f.sig"
rcv "$T/bt.conf" run
t_eq "second signer outside its domains: refused" 1 $?
t_grep "second signer outside its domains: reason" "refuse forest2\.10\.rcpt\.gz: empty: no entries in the accepted domains" "$T/log"

t_done
