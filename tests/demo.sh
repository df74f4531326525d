#!/bin/sh
# tests/demo.sh - `make demo`: the whole pipeline on local stand-ins, as
# root on a fresh machine, printing each step as it goes.
#
#   slapd with a small AD-like sample directory -> rcptsync-agent sync
#   (paged export, signed bundle, SFTP upload into a chrooted spool) ->
#   rcptsync-receiver (verify, validate, postmap, rename) -> Postfix
#   answering RCPT TO: 250 for a real address, 550 5.1.1 for a made-up one.
#
# Everything runs on 127.0.0.1 on free ports and is torn down at exit (also
# on failure).  Exit 0 when every answer is as expected.
. "$(dirname "$0")/reach.sh"
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() { printf '\ndemo FAILED: %s\n' "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: the demo starts sshd and Postfix"
for p in "$AGENT" "$RECEIVER"; do
	[ -x "$p" ] || die "$p is not built (run make)"
done
T=$(t_tmp)

step "1/9  sample directory: slapd on 127.0.0.1 (AD-like schema)"
h_fixture 20 "$T/fx" 2>/dev/null || die "fixture generator failed"
h_slapd_start "$T/fx/fixture.ldif" >/dev/null || die "slapd did not start"
say "$LDAP_URI, base $LDAP_BASE, $(grep -c '^dn:' "$T/fx/fixture.ldif") entries"
say "(users, disabled shared mailboxes, groups, public folders, contacts)"

step "2/9  relay: sshd with the chrooted SFTP-only upload account"
h_sshd_start >/dev/null || die "sshd did not start"
say "port $SFTP_PORT, account $SFTP_USER, chroot $SFTP_ROOT"
say "host key $SFTP_HOSTKEY_SHA256"

step "3/9  relay: Postfix with relay_recipient_maps, smtp-sink behind it"
h_postfix_start >/dev/null || die "Postfix did not start"
say "smtpd 127.0.0.1:$SMTP_PORT, relay_domains = $H_RELAY_DOMAINS"
say "relay_recipient_maps = $H_MAP_TYPE:$H_MAP"

step "4/9  signing key: rcptsync-agent keygen"
"$AGENT" keygen -f "$T/agent_ed25519" -I corp >"$T/allowed_signers" \
    2>/dev/null || die "keygen failed"
say "allowed_signers on the relay:"
sed 's/^/      /' "$T/allowed_signers"
H_AGENT_KEY=$T/agent_ed25519
H_ALLOWED_SIGNERS=$T/allowed_signers
export H_AGENT_KEY H_ALLOWED_SIGNERS

step "5/9  configuration files"
h_receiver_conf "$T/receiver.conf" || die "receiver config"
h_agent_conf "$T/agent.conf" || die "agent config"
say "agent:    $T/agent.conf"
say "receiver: $T/receiver.conf"

step "6/9  receiver: process the spool as files arrive (the .path unit)"
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5
say "rcptsync-receiver -c $T/receiver.conf run, every 0.5 s"

step "7/9  rcptsync-agent check"
"$AGENT" -c "$T/agent.conf" check 2>/dev/null | sed 's/^/    /'

step "8/9  rcptsync-agent sync"
"$AGENT" -c "$T/agent.conf" sync >"$T/sync.out" 2>&1
rc=$?
grep -v 'warning: export' "$T/sync.out" | sed 's/^/    /'
[ "$rc" -eq 0 ] || die "sync exited with $rc"
n=$(wc -l <"$T/fx/expected.txt")
say "installed: $n addresses; map $H_MAP has $(wc -l <"$H_MAP") lines"

step "9/9  Postfix answers RCPT TO"
real1=$(sed -n 1p "$T/fx/expected.txt")
real2=$(sed -n "$(( (n + 1) / 2 ))p" "$T/fx/expected.txt")
fake=no-such-person@corp.test
fail=0
for pair in "$real1 250" "$real2 250" "$fake 550 5.1.1"; do
	a=${pair%% *}
	want=${pair#* }
	got=$(h_rcpt "$a")
	printf '    RCPT TO:<%s>  ->  %s' "$a" "$got"
	if [ "$got" = "$want" ]; then echo "   (as expected)"; else
		echo "   (WRONG: want $want)"; fail=1; fi
done
[ "$fail" -eq 0 ] || die "unexpected RCPT TO answers"

step "tear down: stopping the receiver loop, Postfix, sshd and slapd"
t_run_cleanup
printf '\ndemo OK\n'
exit 0
