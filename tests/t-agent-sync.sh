#!/bin/sh
# t-agent-sync.sh - rcptsync-agent end to end against the harness: slapd
# (AD stand-in), sshd with the chrooted SFTP account, the receiver (run in
# a loop, as the systemd .path unit would), Postfix answering RCPT TO.
#
#   keygen -> allowed_signers; check; sync -> 250 / 550 5.1.1; the pushed
#   bundle verifies with ssh-keygen -Y verify; an unchanged list is not
#   pushed; one address added and one removed in LDAP shows in Postfix;
#   a wrong host key pin (SHA-256 and known_hosts) is refused naming both
#   fingerprints and uploads nothing; a pin of the sshd's ECDSA key alone
#   (SHA-256, or a hashed known_hosts line) matches although the sshd also
#   has an Ed25519 key; a @revoked key is not used; key and known_hosts under a
#   non-ASCII path work; an empty list and a 50% shrink are
#   refused by the agent (exit 3) with the map untouched; --allow-shrink
#   then passes, flagged in the signed bundle.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" ssh-keygen zcat cmp python3
T=$(t_tmp)

h_fixture 2000 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1

# --- keygen: the agent's signing key and the relay's allowed_signers ----
"$AGENT" keygen -f "$T/agent_ed25519" -I corp >"$T/signers.line" \
    2>"$T/keygen.err"
t_eq keygen-exit 0 $?
t_grep keygen-line '^corp namespaces="rcptsync" ssh-ed25519 AAAA[A-Za-z0-9+/=]+ ' \
    "$T/signers.line"
t_eq keygen-mode 600 "$(stat -c %a "$T/agent_ed25519")"
t_check keygen-loads-in-ssh-keygen ssh-keygen -y -f "$T/agent_ed25519"
"$AGENT" keygen -f "$T/agent_ed25519" -I corp >/dev/null 2>"$T/keygen2.err"
t_eq keygen-no-overwrite 1 $?

H_AGENT_KEY=$T/agent_ed25519
H_ALLOWED_SIGNERS=$T/allowed_signers
cp "$T/signers.line" "$H_ALLOWED_SIGNERS"
export H_AGENT_KEY H_ALLOWED_SIGNERS
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf" || exit 1

# The receiver, as its systemd .path unit would run it.
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5

incoming() { ls -A "$SFTP_INCOMING" | sort; }
# t_has NAME STRING FILE: a fixed string (fingerprints hold '+' and '/').
t_has() {
	if grep -Fq -- "$2" "$3"; then t_ok "$1"; else
		t_fail "$1" "no '$2' in $3"; tail -n 5 "$3" >&2; fi
}

# --- check ---------------------------------------------------------------
"$AGENT" -c "$T/agent.conf" check >"$T/check.out" 2>"$T/check.err"
t_eq check-exit 0 $?
t_check check-no-fail sh -c "! grep -q '^FAIL' '$T/check.out'"
t_grep check-host-key '^OK   relay mx1: host key' "$T/check.out"
t_grep check-write-test '^OK   relay mx1: write test' "$T/check.out"
t_grep check-ldap '^OK   ldap: search .*[1-9][0-9]* entries' "$T/check.out"
t_eq check-left-nothing "" "$(incoming)"

# --- first sync: installed, Postfix answers ------------------------------
real=$(head -n 1 "$T/fx/expected.txt")
fake=made-up-nobody-4711@corp.test
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync1.err"
t_eq sync1-exit 0 $?
t_grep sync1-installed 'sync mx1: installed sequence [0-9]+' "$T/sync1.err"
t_eq sync1-rcpt-real 250 "$(h_rcpt "$real")"
t_eq sync1-rcpt-fake "550 5.1.1" "$(h_rcpt "$fake")"

# The bundle verifies by hand, as docs/FORMAT.md section 4 shows.
b=$(find "$H_RECV_STATE" -name 'corp.*.rcpt.gz' | sort | tail -n 1)
if [ -z "$b" ] || [ ! -f "$b.sig" ]; then
	b=$H_AGENT_STATE/last.rcpt.gz	# the agent's own audit copy
fi
t_check bundle-verifies-ssh-keygen sh -c "ssh-keygen -Y verify -f \
    '$H_ALLOWED_SIGNERS' -I corp -n rcptsync -s '$b.sig' <'$b'"
zcat "$b" | sed '1,/^$/d' >"$T/bundle-entries.txt"
t_same_file bundle-entries-equal-expected "$T/fx/expected.txt" \
    "$T/bundle-entries.txt"
seq1=$(cat "$H_AGENT_STATE/seq")

# --- unchanged: nothing pushed --------------------------------------------
before=$(incoming)
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync2.err"
t_eq sync2-exit 0 $?
t_grep sync2-unchanged 'sync mx1: unchanged' "$T/sync2.err"
t_eq sync2-no-upload "$before" "$(incoming)"
t_eq sync2-seq-kept "$seq1" "$(cat "$H_AGENT_STATE/seq")"

# --- one address added, one removed in LDAP --------------------------------
python3 - "$T/fx/fixture.ldif" "$T/fx/expected.txt" >"$T/change.ldif" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
text = text.replace("\n ", "")		# unfold LDIF continuation lines
truth = set(open(sys.argv[2]).read().split())
entries, count = [], {}
for block in text.split("\n\n"):
    lines = block.strip().split("\n")
    if not lines or not lines[0].startswith("dn: "):
        continue
    vals = [l[len("proxyAddresses: "):] for l in lines
            if l.startswith("proxyAddresses: ")]
    entries.append((lines[0][4:], vals))
    for v in vals:
        if v[:5].lower() == "smtp:":
            count[v[5:].lower()] = count.get(v[5:].lower(), 0) + 1
for dn, vals in entries:
    for v in vals:
        a = v[5:].lower()
        if v[:5].lower() == "smtp:" and a in truth and count[a] == 1:
            print("dn: %s\nchangetype: modify\ndelete: proxyAddresses\n"
                  "proxyAddresses: %s\n-\nadd: proxyAddresses\n"
                  "proxyAddresses: smtp:added.by-test@corp.test\n" % (dn, v))
            sys.stderr.write("REMOVED %s\n" % a)
            sys.exit(0)
sys.exit(1)
PY
removed=$(python3 - "$T/change.ldif" <<'PY'
import sys
for l in open(sys.argv[1]):
    if l.startswith("proxyAddresses: ") and "added.by-test" not in l:
        print(l.split(":", 2)[2].strip().lower())
PY
)
t_check ldap-change h_ldap_modify "$T/change.ldif"
"$AGENT" -c "$T/agent.conf" diff >"$T/diff.out" 2>"$T/diff.err"
t_eq diff-shows-change "+added.by-test@corp.test -$removed" \
    "$(sort "$T/diff.out" | tr '\n' ' ' | sed 's/ $//')"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync3.err"
t_eq sync3-exit 0 $?
t_eq sync3-rcpt-added 250 "$(h_rcpt added.by-test@corp.test)"
t_eq sync3-rcpt-removed "550 5.1.1" "$(h_rcpt "$removed")"
t_eq sync3-rcpt-real 250 "$(h_rcpt "$real")"

# sync --full says it was asked for, not "first poll since start".
"$AGENT" -c "$T/agent.conf" sync --full 2>"$T/full.err"
t_eq full-exit 0 $?
t_grep full-reason-asked 'full export \(asked for \(--full\)\)' "$T/full.err"
t_check full-reason-not-first sh -c "! grep -q 'first poll' '$T/full.err'"
t_eq full-rcpt-added 250 "$(h_rcpt added.by-test@corp.test)"

# --- one cycle at a time per state directory -----------------------------
# Another holder of STATE/lock (the service, while Task Scheduler starts a
# sync) makes sync wait for it instead of taking a sequence number too.
state=$(sed -n 's/^state_dir *= *//p' "$T/agent.conf" | tail -n 1)
flock "$state/lock" sleep 3 &
holder=$!
sleep 1
start=$(date +%s)
"$AGENT" -c "$T/agent.conf" sync 2>"$T/locked.err"
t_eq lock-wait-exit 0 $?
t_check lock-waited test $(( $(date +%s) - start )) -ge 2
wait "$holder"

# --- wrong host key pin: refused before auth, nothing uploaded -----------
wrongpin() {	# NAME CONFIG-EDIT: run sync with a fresh state and the edit
	sed -e "s|^state_dir = .*|state_dir = $T/state-$1|" -e "$2" \
	    "$T/agent.conf" >"$T/$1.conf"
}
before=$(incoming)
auth_before=$(grep -c 'Accepted publickey' "$H_SSHD_LOG")
ssh-keygen -q -t ed25519 -N '' -f "$T/other_host" </dev/null
other=$(ssh-keygen -lf "$T/other_host.pub" | awk '{print $2}')
wrongpin pin "s|^hostkey_sha256 = .*|hostkey_sha256 = $other|"
"$AGENT" -c "$T/pin.conf" sync 2>"$T/pin.err"
t_eq pin-exit 1 $?
t_has pin-names-expected "expected $other" "$T/pin.err"
t_has pin-names-presented "presented $SFTP_HOSTKEY_SHA256 (ssh-ed25519)" "$T/pin.err"
t_has pin-names-presented-ecdsa "$SFTP_HOSTKEY_ECDSA_SHA256 (ecdsa-sha2-nistp256)" "$T/pin.err"
t_eq pin-no-upload "$before" "$(incoming)"
t_eq pin-no-auth "$auth_before" "$(grep -c 'Accepted publickey' "$H_SSHD_LOG")"

# The sshd has an Ed25519 and an ECDSA key: a pin of the ECDSA one alone
# matches (only one host key type is offered per handshake).
wrongpin ecdsa "s|^hostkey_sha256 = .*|hostkey_sha256 = $SFTP_HOSTKEY_ECDSA_SHA256|"
"$AGENT" -v -c "$T/ecdsa.conf" check >"$T/ecdsa.out" 2>"$T/ecdsa.err"
t_eq ecdsa-pin-check-exit 0 $?
t_grep ecdsa-pin-host-key '^OK   relay mx1: host key' "$T/ecdsa.out"
t_grep ecdsa-pin-write-test '^OK   relay mx1: write test' "$T/ecdsa.out"

# known_hosts: the right file passes check, a wrong key is refused.
wrongpin kh "s|^hostkey_sha256 = .*|known_hosts = $SFTP_KNOWN_HOSTS|"
"$AGENT" -c "$T/kh.conf" check >"$T/kh.out" 2>"$T/kh.err"
t_grep known-hosts-ok '^OK   relay mx1: host key' "$T/kh.out"
# Only the ECDSA key pinned, hashed as ssh-keygen -H writes it, after an
# Ed25519 line for another host: only the ECDSA type is offered.
ecdsa_pub=$(dirname "$SFTP_KNOWN_HOSTS")/host_ecdsa.pub
{ printf 'other.example %s\n' "$(cut -d' ' -f1,2 "$T/other_host.pub")"
  printf '[127.0.0.1]:%s %s\n' "$SFTP_PORT" "$(cut -d' ' -f1,2 "$ecdsa_pub")"
} >"$T/ecdsa_known_hosts"
ssh-keygen -q -H -f "$T/ecdsa_known_hosts" >/dev/null 2>&1
t_check kh-ecdsa-hashed grep -q '^|1|' "$T/ecdsa_known_hosts"
wrongpin khecdsa "s|^hostkey_sha256 = .*|known_hosts = $T/ecdsa_known_hosts|"
"$AGENT" -c "$T/khecdsa.conf" check >"$T/khecdsa.out" 2>"$T/khecdsa.err"
t_eq kh-ecdsa-check-exit 0 $?
t_grep kh-ecdsa-host-key '^OK   relay mx1: host key' "$T/khecdsa.out"
# @revoked wins over a line that pins the same key: with no other key
# pinned, nothing is offered, nothing uploaded.
{ cat "$SFTP_KNOWN_HOSTS"
  printf '@revoked * %s\n' "$(cut -d' ' -f1,2 "$(dirname "$SFTP_KNOWN_HOSTS")/host_ed25519.pub")"
} >"$T/revoked_known_hosts"
wrongpin khrev "s|^hostkey_sha256 = .*|known_hosts = $T/revoked_known_hosts|"
"$AGENT" -c "$T/khrev.conf" sync 2>"$T/khrev.err"
t_eq kh-revoked-exit 1 $?
t_grep kh-revoked-message 'known_hosts .*/revoked_known_hosts: no usable key for \[127\.0\.0\.1\]:[0-9]+' "$T/khrev.err"
t_eq kh-revoked-no-upload "$before" "$(incoming)"

# Key and known_hosts under a non-ASCII path: read by the agent itself
# and handed to libssh2 in memory.
u="$T/clés-ключи"
mkdir -p "$u"
cp "$SFTP_KEY" "$u/relay é.key" && chmod 600 "$u/relay é.key"
cp "$SFTP_KNOWN_HOSTS" "$u/known_hosts ü"
wrongpin utf8 "s|^hostkey_sha256 = .*|known_hosts = $u/known_hosts ü|
s|^private_key = .*|private_key = $u/relay é.key|"
"$AGENT" -c "$T/utf8.conf" check >"$T/utf8.out" 2>"$T/utf8.err"
t_eq utf8-paths-check-exit 0 $?
t_grep utf8-paths-auth '^OK   relay mx1: authenticate as' "$T/utf8.out"
t_grep utf8-paths-write '^OK   relay mx1: write test' "$T/utf8.out"

printf '[127.0.0.1]:%s %s\n' "$SFTP_PORT" "$(cut -d' ' -f1,2 "$T/other_host.pub")" \
    >"$T/wrong_known_hosts"
wrongpin khbad "s|^hostkey_sha256 = .*|known_hosts = $T/wrong_known_hosts|"
"$AGENT" -c "$T/khbad.conf" sync 2>"$T/khbad.err"
t_eq known-hosts-wrong-exit 1 $?
t_has known-hosts-wrong-both "expected $other, presented $SFTP_HOSTKEY_SHA256" \
    "$T/khbad.err"
t_eq known-hosts-wrong-no-upload "$before" "$(incoming)"

# --- guards: an empty list and a 50% shrink are refused -------------------
cp "$H_MAP" "$T/map.before"
wrongpin empty "s|^bind_dn = |filter = (proxyAddresses=smtp:no-such-*)\nbind_dn = |"
"$AGENT" -c "$T/empty.conf" sync 2>"$T/empty.err"
t_eq empty-exit 3 $?
t_grep empty-message 'refusing to push an empty list' "$T/empty.err"
t_eq empty-no-upload "$before" "$(incoming)"

# Delete every second mail-enabled entry.
awk '/^dn: / { dn = $0 } /^proxyAddresses: / && dn != "" {
	if (n++ % 2 == 0) printf "%s\nchangetype: delete\n\n", dn; dn = "" }' \
    "$T/fx/fixture.ldif" >"$T/shrink.ldif"
t_check shrink-ldap-delete h_ldap_modify "$T/shrink.ldif"
seq_before=$(cat "$H_AGENT_STATE/seq")
"$AGENT" -c "$T/agent.conf" sync 2>"$T/shrink.err"
t_eq shrink-exit 3 $?
t_grep shrink-message 'shrank from [0-9]+ to [0-9]+ entries.*--allow-shrink' \
    "$T/shrink.err"
t_eq shrink-no-upload "$before" "$(incoming)"
t_eq shrink-seq-unused "$seq_before" "$(cat "$H_AGENT_STATE/seq")"
t_same_file shrink-map-unchanged "$T/map.before" "$H_MAP"
t_eq shrink-rcpt-still-real 250 "$(h_rcpt "$real")"

# The administrator approves it once.
gone=$("$AGENT" -q -c "$T/agent.conf" diff 2>/dev/null | sed -n 's/^-//p' |
    head -n 1)
"$AGENT" -c "$T/agent.conf" sync --allow-shrink 2>"$T/allow.err"
t_eq allow-shrink-exit 0 $?
t_grep allow-shrink-loud 'ALLOW-SHRINK' "$T/allow.err"
t_check allow-shrink-flag-signed sh -c "zcat '$H_AGENT_STATE/last.rcpt.gz' |
    sed '/^\$/q' | grep -qx 'flags: allow-shrink'"
t_eq allow-shrink-rcpt-gone "550 5.1.1" "$(h_rcpt "$gone")"
t_done
