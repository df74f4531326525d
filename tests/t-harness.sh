#!/bin/sh
# tests/t-harness.sh - acceptance tests of the test harness itself.
#
# Proves that the servers every other test relies on behave as documented
# in tests/harness.sh and docs/HACKING.md: the fixture's ground truth, slapd
# as an AD stand-in (MaxPageSize: 1000 entries then sizeLimitExceeded, paged
# search returns everything), the chrooted SFTP account, Postfix answering
# 250 / 550 5.1.1 from a hand-made map, the Wine prefix, the config writers,
# and that nothing is left running afterwards, also after a failing test.
#
# Output: lib.sh's "ok - NAME" / "not ok - NAME: WHY" lines on stdout.

. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

t_need /usr/bin/python3 ldapsearch sftp ssh-keygen postfix smtp-sink runuser
T0=$(date +%s)

# t_dead NAME PID: ok when PID is no longer running.
t_dead() {
	if h_alive "$2"; then t_fail "$1" "pid $2 still running"; else t_ok "$1"; fi
}
# Section timestamps in the log, to see where the time goes.
t_mark() { echo "== $1 at $(( $(date +%s) - T0 ))s" >&2; }
FX=$H_DIR/fixture
N=7000

t_mark "fixture"
# --- fixture ---------------------------------------------------------------

h_fixture "$N" "$FX" hostile || exit 1
E=$FX/expected.txt

t_check fixture-sorted-unique env LC_ALL=C sort -c -u "$E"
lines=$(wc -l <"$E")
t_check fixture-at-least-n test "$lines" -ge "$N"
t_eq fixture-recipients-in-summary "recipients: $lines" \
    "$(grep '^recipients: ' "$FX/summary")"
t_eq fixture-domains "branch.corp.test corp.test example.org" "$(cat "$FX/domains")"

# Every line canonical and in an accepted domain (a coarse second check).
bad=$(LC_ALL=C grep -Evc \
    '^[a-z0-9!$%&'"'"'*+/=?^_`{|}~-]+(\.[a-z0-9!$%&'"'"'*+/=?^_`{|}~-]+)*@(corp\.test|example\.org|branch\.corp\.test)$' "$E")
t_eq fixture-all-canonical 0 "$bad"

for a in shared.sales@corp.test room.berlin@branch.corp.test \
    all-staff@corp.test pf.support@corp.test dyn.managers@example.org \
    jane.partner.contact@corp.test bob.mailuser@corp.test \
    john.doe@corp.test john.doe@branch.corp.test jdoe@example.org \
    hostile.anchor@corp.test; do
	if grep -qxF "$a" "$E"; then t_ok "fixture-has-$a"; else
		t_fail "fixture-has-$a" "missing from expected.txt"; fi
done
for a in jane.partner@partner.example bob.ext@gmail.com john.doe@gmail.com \
    legacy@old-corp.example trailing.space@corp.test double..dot@corp.test \
    a@corp.test evil@corp.test cr@corp.test lf@corp.test '#hash@corp.test' \
    'jörg@corp.test' leading.space@corp.test only@corp.test; do
	if grep -qxF "$a" "$E"; then t_fail "fixture-lacks-$a" "in expected.txt"; else
		t_ok "fixture-lacks-$a"; fi
done
t_check fixture-no-x400-x500 sh -c "! grep -Eiq 'x400|x500|c=us|/o=|sip:|eum:' '$E'"
t_check fixture-no-space-or-ctl sh -c "! LC_ALL=C grep -q '[^!-~]' '$E'"

h_fixture "$N" "$H_DIR/fixture2" hostile || exit 1
t_same_file fixture-deterministic-ldif "$FX/fixture.ldif" "$H_DIR/fixture2/fixture.ldif"
t_same_file fixture-deterministic-expected "$E" "$H_DIR/fixture2/expected.txt"
rm -rf "$H_DIR/fixture2"

t_mark "slapd"
# --- slapd -----------------------------------------------------------------

objects=$(sed -n 's/^smtp_objects: //p' "$FX/summary")
t_check fixture-over-5000-objects test "$objects" -ge 5000

h_slapd_start "$FX/fixture.ldif" || exit 1

ls_dn() { grep -c '^dn: ' "$1"; }
ldapsearch -x -LLL -H "$LDAP_URI" -D "$LDAP_BINDDN" -y "$LDAP_PWFILE" \
    -b "$LDAP_BASE" '(proxyAddresses=smtp:*)' dn >"$H_DIR/plain.out" 2>"$H_DIR/plain.err"
rc=$?
t_eq slapd-plain-rc-4 4 "$rc"
t_eq slapd-plain-1000 1000 "$(ls_dn "$H_DIR/plain.out")"

ldapsearch -x -LLL -E pr=500/noprompt -H "$LDAP_URI" -D "$LDAP_BINDDN" \
    -y "$LDAP_PWFILE" -b "$LDAP_BASE" '(proxyAddresses=smtp:*)' dn \
    >"$H_DIR/paged.out" 2>"$H_DIR/paged.err"
t_eq slapd-paged-rc-0 0 "$?"
t_eq slapd-paged-all "$objects" "$(ls_dn "$H_DIR/paged.out")"
t_eq slapd-paged-unique "$objects" "$(sort -u "$H_DIR/paged.out" | grep -c '^dn: ')"

# The rootdn is not limited; the bind user is.  (Proves the bind is not
# the rootdn's in disguise.)
ldapsearch -x -LLL -H "$LDAP_URI" -D "$LDAP_ROOTDN" -w "$LDAP_ROOTPW" \
    -b "$LDAP_BASE" '(proxyAddresses=smtp:*)' dn >"$H_DIR/root.out" 2>&1
t_eq slapd-rootdn-unlimited "$objects" "$(ls_dn "$H_DIR/root.out")"

# Anonymous reads nothing (AD does not allow it either).
ldapsearch -x -LLL -H "$LDAP_URI" -b "$LDAP_BASE" '(proxyAddresses=smtp:*)' dn \
    >"$H_DIR/anon.out" 2>&1
t_eq slapd-anonymous-sees-nothing 0 "$(ls_dn "$H_DIR/anon.out")"

q() { ldapsearch -x -LLL -o ldif-wrap=no -E pr=1000/noprompt -H "$LDAP_URI" \
    -D "$LDAP_BINDDN" -y "$LDAP_PWFILE" -b "$LDAP_BASE" "$@"; }

# Case-insensitive values and substring filter; the value comes back as
# stored.
q '(proxyAddresses=smtp:john.doe@corp.test)' proxyAddresses >"$H_DIR/jd.out" 2>&1
t_grep slapd-case-insensitive-match '^proxyAddresses: SMTP:John.Doe@Corp.Test$' "$H_DIR/jd.out"
t_eq slapd-multivalued 8 "$(grep -c '^proxyAddresses' "$H_DIR/jd.out")"

# AD's bitwise filter finds the disabled (shared/room) mailboxes.
disabled=$(q '(userAccountControl:1.2.840.113556.1.4.803:=2)' dn 2>/dev/null |
    grep -c '^dn: ')
want=$(sed -n 's/^mailbox_disabled: //p' "$FX/summary")
t_eq slapd-bitwise-uac "$want" "$disabled"

# Binary and hostile values round-trip byte for byte.
q '(cn=Hostile Values)' proxyAddresses objectGUID >"$H_DIR/h.out" 2>&1
t_grep slapd-objectguid-binary '^objectGUID:: ' "$H_DIR/h.out"
nulval=$(grep '^proxyAddresses:: ' "$H_DIR/h.out" | cut -d' ' -f2 |
    while read -r b; do printf '%s' "$b" | base64 -d | od -An -c | tr -d ' \n'; echo; done |
    grep -c 'nul\\0byte')
t_eq slapd-nul-value-kept 1 "$nulval"

# Classes and AD attributes in use.
for c in user group contact publicFolder msExchDynamicDistributionList organizationalUnit; do
	n=$(q "(objectClass=$c)" dn 2>/dev/null | grep -c '^dn: ')
	t_check "slapd-class-$c" test "$n" -gt 0
done
t_grep slapd-mail-user-target '^targetAddress: SMTP:bob.ext@gmail.com$' \
    "$(q '(mailNickname=bob.external)' targetAddress >"$H_DIR/mu.out" 2>&1; echo "$H_DIR/mu.out")"

# Online modification as the rootdn, then restart on the same data.
cat >"$H_DIR/mod.ldif" <<EOF
dn: CN=Jon Duplicate,OU=Sales,OU=Corp,DC=corp,DC=test
changetype: modify
add: proxyAddresses
proxyAddresses: smtp:added.online@corp.test
EOF
t_check slapd-modify h_ldap_modify "$H_DIR/mod.ldif"
old_pid=$H_SLAPD_PID
h_slapd_stop
t_dead slapd-stopped "$old_pid"
h_slapd_start || exit 1
t_check slapd-restart-new-pid test "$H_SLAPD_PID" != "$old_pid"
t_eq slapd-restart-keeps-data 1 \
    "$(q '(proxyAddresses=smtp:added.online@corp.test)' dn 2>/dev/null | grep -c '^dn: ')"
old_pid=$H_SLAPD_PID
h_slapd_kill
t_dead slapd-killed "$old_pid"
h_slapd_start || exit 1
t_eq slapd-after-kill-paged "$((objects))" \
    "$(q '(proxyAddresses=smtp:*)' dn 2>/dev/null | grep -c '^dn: ')"
SLAPD_PID=$H_SLAPD_PID

t_mark "sshd"
# --- sshd ------------------------------------------------------------------

h_sshd_start || exit 1
SSHD_PORT1=$SFTP_PORT
t_grep sshd-known-hosts "^\\[127.0.0.1\\]:$SFTP_PORT ssh-ed25519 " "$SFTP_KNOWN_HOSTS"
t_check sshd-hostkey-sha256 sh -c "echo '$SFTP_HOSTKEY_SHA256' | grep -Eq '^SHA256:[A-Za-z0-9+/]{43}$'"
t_grep sftp-key-openssh '^-----BEGIN OPENSSH PRIVATE KEY-----$' "$SFTP_KEY"

printf 'upload %s\n' "$$" >"$H_DIR/up.txt"
b=$H_DIR/batch
printf 'put %s incoming/up.txt\nls incoming\n' "$H_DIR/up.txt" >"$b"
t_check sftp-put-incoming h_sftp "$b"
t_same_file sftp-uploaded-bytes "$H_DIR/up.txt" "$SFTP_INCOMING/up.txt"
t_eq sftp-upload-owner "rcptsync-up:rcptsync" "$(stat -c %U:%G "$SFTP_INCOMING/up.txt")"
printf 'rename incoming/up.txt incoming/up2.txt\n' >"$b"
t_check sftp-rename-in-incoming h_sftp "$b"

for dst in /x /status/x /incoming/../x ../x; do
	printf 'put %s %s\n' "$H_DIR/up.txt" "$dst" >"$b"
	if h_sftp "$b" >&2 2>&1; then t_fail "sftp-no-write-$dst" "upload succeeded"; else
		t_ok "sftp-no-write-$dst"; fi
done
t_check sftp-nothing-outside sh -c "[ ! -e '$SFTP_ROOT/x' ] && [ ! -e '$SFTP_STATUS_DIR/x' ]"
for src in /etc/passwd ../../etc/passwd /../etc/shadow; do
	printf 'get %s %s\n' "$src" "$H_DIR/got" >"$b"
	rm -f "$H_DIR/got"
	if h_sftp "$b" >&2 2>&1 || [ -e "$H_DIR/got" ]; then
		t_fail "sftp-no-read-$src" "download succeeded"; else t_ok "sftp-no-read-$src"; fi
done
printf 'mkdir /newdir\n' >"$b"
if h_sftp "$b" >&2 2>&1; then t_fail sftp-no-mkdir-root "mkdir succeeded"; else
	t_ok sftp-no-mkdir-root; fi

# The receiver's side of the layout: group rcptsync reads and deletes
# uploads, and writes a status file the upload account can read.
t_check recv-reads-upload runuser -u rcptsync -- cat "$SFTP_INCOMING/up2.txt"
printf '{"version": 1}\n' >"$H_DIR/st.json"
t_check recv-writes-status runuser -u rcptsync -- \
    sh -c "cat '$H_DIR/st.json' >'$SFTP_STATUS_DIR/status.json'"
rm -f "$H_DIR/st.got"
printf 'get status/status.json %s\n' "$H_DIR/st.got" >"$b"
t_check sftp-reads-status h_sftp "$b"
t_same_file sftp-status-bytes "$H_DIR/st.json" "$H_DIR/st.got"
t_check recv-deletes-upload runuser -u rcptsync -- rm "$SFTP_INCOMING/up2.txt"

# Host key pinning: a different key for the same host is refused.
ssh-keygen -q -t ed25519 -N '' -f "$H_DIR/other" && printf '[127.0.0.1]:%s %s\n' \
    "$SFTP_PORT" "$(cut -d' ' -f1,2 "$H_DIR/other.pub")" >"$H_DIR/bad_known_hosts"
printf 'ls\n' >"$b"
if SFTP_KNOWN_HOSTS=$H_DIR/bad_known_hosts h_sftp "$b" >&2 2>&1; then
	t_fail sftp-wrong-hostkey-refused "connected"; else t_ok sftp-wrong-hostkey-refused; fi
# No shell: a command is replaced by internal-sftp.
out=$(timeout 20 ssh -i "$SFTP_KEY" -p "$SFTP_PORT" -o BatchMode=yes \
    -o UserKnownHostsFile="$SFTP_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
    "$SFTP_USER@127.0.0.1" 'echo shell-ran' </dev/null 2>/dev/null)
t_check sshd-no-shell test "$out" != shell-ran
SSHD_PID=$H_SSHD_PID
SROOT=$SFTP_ROOT

# A second relay: its own port, chroot and keys.
h_sshd_start || exit 1
t_check sshd-second-instance test "$SFTP_PORT" != "$SSHD_PORT1" -a \
    "$SFTP_ROOT" != "$SROOT" -a "$H_SSHD_PID" != "$SSHD_PID"
printf 'put %s incoming/two.txt\n' "$H_DIR/up.txt" >"$b"
t_check sftp-second-upload h_sftp "$b"
t_check sftp-second-separate test -f "$SFTP_INCOMING/two.txt" -a \
    ! -e "$SROOT/incoming/two.txt"
SSHD2_PID=$H_SSHD_PID
SROOT2=$SFTP_ROOT

t_mark "Postfix"
# --- Postfix ---------------------------------------------------------------

h_postfix_start || exit 1
t_eq postfix-initial-map 250 "$(h_rcpt harness-initial@corp.test)"
# Installed as the receiver does (new table renamed over the old): an
# in-place postmap within the second Postfix opened the old table would
# go unnoticed, and the next session would still see the old one.
printf 'alice@corp.test OK\nbob@example.org OK\n' >"$H_DIR/map.src"
t_check postfix-map-replace h_postfix_map "$H_DIR/map.src"
t_eq postfix-rcpt-known 250 "$(h_rcpt alice@corp.test)"
t_eq postfix-rcpt-unknown "550 5.1.1" "$(h_rcpt carol@corp.test)"
t_eq postfix-rcpt-foreign "554 5.7.1" "$(h_rcpt x@elsewhere.example)"
t_eq postfix-rcpt-many "250
550 5.1.1
250
550 5.1.1" "$(h_rcpt alice@corp.test nobody@branch.corp.test bob@example.org harness-initial@corp.test)"
many=$(i=0; while [ $i -lt 30 ]; do echo "u$i@corp.test"; i=$((i + 1)); done)
# shellcheck disable=SC2086
t_eq postfix-no-tarpit 30 "$(h_rcpt $many | grep -c '^550 5.1.1$')"

# A message to a listed recipient reaches smtp-sink through transport_maps.
/usr/bin/python3 - "$SMTP_PORT" >&2 <<'EOF' && sent=ok || sent=
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.sendmail("test@outside.example", ["alice@corp.test"],
           "Subject: harness\r\n\r\nhello\r\n")
s.quit()
EOF
i=0
while [ -n "$sent" ] && [ $i -lt 100 ] &&
    ! grep -q "to=<alice@corp.test>, relay=127.0.0.1\\[127.0.0.1\\]:$H_SINK_PORT.*status=sent" "$H_MAILLOG"; do
	sleep 0.2; i=$((i + 1))
done
t_grep postfix-delivers-to-sink "to=<alice@corp.test>, relay=127.0.0.1\\[127.0.0.1\\]:$H_SINK_PORT.*status=sent" "$H_MAILLOG"
MASTER_PID=$H_POSTFIX_PID
SINK_PID=$H_SINK_PID
h_postfix_stop
t_dead postfix-stopped "$MASTER_PID"
t_dead postfix-sink-stopped "$SINK_PID"
h_postfix_start || exit 1
t_eq postfix-restart-keeps-map "250
550 5.1.1" "$(h_rcpt alice@corp.test harness-initial@corp.test)"
MASTER_PID=$H_POSTFIX_PID
SINK_PID=$H_SINK_PID

t_mark "configs"
# --- configs ---------------------------------------------------------------

# Every key the writers use must be documented in docs/CONFIG.md under the
# same section, so the configs cannot drift from the reference.
doc_keys() {	# SECTION-HEADING-PREFIX
	awk -v s="$1" '/^### /{on = index($0, s) > 0; next}
	    on && /^\| `/ { split($0, f, "`"); print f[2] }' "$RS_TOP/docs/CONFIG.md"
}
cfg_keys() {	# FILE SECTION-PREFIX
	awk -v s="$2" '/^\[/{on = index($0, s) == 1; next}
	    on && /=/ { sub(/[ \t]*=.*/, ""); print }' "$1"
}
h_receiver_conf "$H_DIR/receiver.conf"
h_agent_conf "$H_DIR/agent.conf"
h_agent_conf "$H_DIR/agent-wine.conf" wine
und=
for k in $(cfg_keys "$H_DIR/receiver.conf" "[receiver]"); do
	doc_keys '`[receiver]`' | grep -qx "$k" || und="$und receiver.$k"; done
for f in agent.conf agent-wine.conf; do
	for k in $(cfg_keys "$H_DIR/$f" "[agent]"); do
		doc_keys '`[agent]`' | grep -qx "$k" || und="$und agent.$k"; done
	for k in $(cfg_keys "$H_DIR/$f" "[ldap]"); do
		doc_keys '`[ldap]`' | grep -qx "$k" || und="$und ldap.$k"; done
	for k in $(cfg_keys "$H_DIR/$f" "[relay "); do
		doc_keys '`[relay NAME]`' | grep -qx "$k" || und="$und relay.$k"; done
done
t_eq conf-keys-documented "" "$und"
t_grep conf-receiver-spool "^spool_dir = $SFTP_INCOMING\$" "$H_DIR/receiver.conf"
t_grep conf-receiver-map "^map = $H_MAP\$" "$H_DIR/receiver.conf"
t_grep conf-receiver-postfix "^postfix_config = $POSTFIX_DIR\$" "$H_DIR/receiver.conf"
t_grep conf-agent-ldap "^server = $LDAP_URI\$" "$H_DIR/agent.conf"
t_check conf-agent-hostkey grep -qxF "hostkey_sha256 = $SFTP_HOSTKEY_SHA256" "$H_DIR/agent.conf"
t_grep conf-agent-wine-paths '^private_key = Z:\\' "$H_DIR/agent-wine.conf"
t_grep conf-allowed-signers '^corp namespaces="rcptsync" ssh-ed25519 ' "$H_ALLOWED_SIGNERS"

t_mark "Wine"
# --- Wine ------------------------------------------------------------------

if h_wine_init; then
	out=$(h_wine cmd /c echo harness-wine 2>&1 | tr -d '\r')
	t_eq wine-cmd-runs harness-wine "$out"
	t_check wine-prefix-ready test -f "$WINEPREFIX/.rs-ready"
	sleep 3
	t_check wine-server-persistent test -n "$(_h_wineserver_pids)"
fi

t_mark "cleanup"
# --- cleanup, also after a failing test --------------------------------------

# A child test that starts slapd and then fails, and one that is killed:
# both must leave nothing running.
for how in fail term; do
	c=$H_DIR/child-$how.sh
	cat >"$c" <<EOF
. "$RS_TOP/tests/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_slapd_start || exit 1
t_cleanup "cat >/dev/null"	# a cleanup that reads stdin runs first
echo "\$H_SLAPD_PID" >"$H_DIR/child-$how.pid"
[ $how = fail ] && exit 3
sleep 120 &
t_cleanup "kill \$!"
wait
EOF
	RS_TOP=$RS_TOP sh "$c" >"$H_DIR/child-$how.out" 2>&1 &
	cpid=$!
	i=0
	while [ ! -s "$H_DIR/child-$how.pid" ] && [ $i -lt 300 ] && kill -0 $cpid 2>/dev/null; do
		sleep 0.1; i=$((i + 1)); done
	[ $how = term ] && kill -TERM $cpid
	wait $cpid
	p=$(cat "$H_DIR/child-$how.pid" 2>/dev/null)
	if [ -z "$p" ]; then t_fail "cleanup-on-$how" "child did not start slapd"
	elif h_alive "$p"; then
		t_fail "cleanup-on-$how" "slapd $p still running"
	else t_ok "cleanup-on-$how"; fi
	rm -rf "$RS_TOP/build/tests/tmp/child-$how-h"
done

# Our own servers: run the cleanup now and check with ps.
t_run_cleanup
alive=
for p in $SLAPD_PID $SSHD_PID $SSHD2_PID $MASTER_PID $SINK_PID; do
	h_alive "$p" && alive="$alive $p"
done
t_eq cleanup-pids-gone "" "$alive"
# Zombies are not running: this machine's PID 1 may not reap them.
left=$(ps -eo stat=,args= | awk '$1 !~ /^Z/' |
    grep -F -e "$H_DIR" -e "$SROOT" -e "$SROOT2" | grep -v -e grep -e awk)
t_eq cleanup-ps-clean "" "$left"
t_check cleanup-chroot-removed test ! -e "$SROOT" -a ! -e "$SROOT2"
if [ -n "${WINEPREFIX:-}" ]; then
	t_eq cleanup-wineserver-gone "" "$(_h_wineserver_pids)"
fi

echo "t-harness: $(( $(date +%s) - T0 ))s" >&2
t_done
