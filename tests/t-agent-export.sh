#!/bin/sh
# t-agent-export.sh - rcptsync-agent's directory export against the
# harness slapd: a 20,000-recipient AD-like fixture with hostile values
# must export to exactly the generator's ground truth; the summary, the
# failover to the next server, diff before any push, and the config and
# password-file refusals.
#
# Needs: slapd (harness), python3, the agent built (RS_AGENT overrides
# the binary's path).
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
t_need "$AGENT" cmp
T=$(t_tmp)

h_fixture 20000 "$T/fx" hostile || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
# No sshd in this test: any well-formed pin will do.
h_agent_pin_none "$T/agent.conf"
want=$(wc -l <"$T/fx/expected.txt")

# 1. The export equals the ground truth, byte for byte.
"$AGENT" -c "$T/agent.conf" export -o "$T/list.txt" 2>"$T/export.err"
t_eq export-exit 0 $?
t_same_file export-equals-expected "$T/fx/expected.txt" "$T/list.txt"
t_grep export-summary-addresses "^  addresses: +$want\$" "$T/export.err"
t_grep export-summary-group '^    group +[0-9]+$' "$T/export.err"
t_grep export-summary-contact '^    contact +[0-9]+$' "$T/export.err"
t_grep export-summary-domain '^    branch\.corp\.test +[0-9]+$' "$T/export.err"
t_grep export-summary-other-types 'skipped: +[1-9][0-9]* other types' "$T/export.err"
t_grep export-summary-invalid 'skipped: +[1-9][0-9]* invalid' "$T/export.err"
t_grep export-summary-foreign 'skipped: +[1-9][0-9]* outside' "$T/export.err"
# Hostile values are reported with the object's DN, and nothing
# unprintable reaches the log (no forged or split lines).
t_grep export-warn-names-dn 'warning: export (CN|cn)=.*,dc=corp,dc=test: skipped proxyAddresses "' "$T/export.err"
bad=$(LC_ALL=C tr -d '\n\040-\176' <"$T/export.err" | wc -c)
t_eq export-log-printable 0 "$bad"

# 2. The same to standard output.
"$AGENT" -q -c "$T/agent.conf" export >"$T/stdout.txt" 2>"$T/q.err"
t_same_file export-stdout "$T/fx/expected.txt" "$T/stdout.txt"

# 3. Failover: a dead first server, then the real one.
sed "s|^server = .*|server = ldap://127.0.0.1:1\nserver = $LDAP_URI|" \
    "$T/agent.conf" >"$T/failover.conf"
"$AGENT" -c "$T/failover.conf" export -o "$T/fo.txt" 2>"$T/fo.err"
t_eq failover-exit 0 $?
t_same_file failover-equals-expected "$T/fx/expected.txt" "$T/fo.txt"
t_grep failover-logged '127\.0\.0\.1:1.*trying the next server' "$T/fo.err"

# Several bases are searched in turn; overlaps are deduplicated.  A base
# that does not exist fails the export (never a silently shorter list).
sed "s|^base = .*|base = OU=Corp,$LDAP_BASE\nbase = $LDAP_BASE|" \
    "$T/agent.conf" >"$T/bases.conf"
"$AGENT" -c "$T/bases.conf" export -o "$T/bases.txt" 2>"$T/bases.err"
t_eq bases-exit 0 $?
t_same_file bases-equals-expected "$T/fx/expected.txt" "$T/bases.txt"
sed "s|^base = .*|base = $LDAP_BASE\nbase = OU=Nowhere,$LDAP_BASE|" \
    "$T/agent.conf" >"$T/nobase.conf"
"$AGENT" -c "$T/nobase.conf" export -o "$T/nobase.txt" 2>"$T/nobase.err"
t_eq nobase-exit 1 $?
t_grep nobase-message 'export OU=Nowhere,dc=corp,dc=test from .*: No such object' "$T/nobase.err"
t_check nobase-no-output test ! -e "$T/nobase.txt"

# 4. diff before anything was pushed: every address is new.
"$AGENT" -c "$T/agent.conf" diff >"$T/diff.txt" 2>"$T/diff.err"
t_eq diff-exit 0 $?
t_eq diff-all-added "$want" "$(grep -c '^+' "$T/diff.txt")"

# 5. An unknown key is a configuration error naming the line.
cp "$T/agent.conf" "$T/typo.conf"
echo "retires = 3" >>"$T/typo.conf"
n=$(wc -l <"$T/typo.conf")
"$AGENT" -c "$T/typo.conf" export -o "$T/typo.txt" 2>"$T/typo.err"
t_eq typo-exit 2 $?
t_grep typo-names-line "typo\.conf:$n: retires" "$T/typo.err"
t_check typo-no-output test ! -e "$T/typo.txt"

# 6. A password file others can read is refused, with the fix.
cp "$LDAP_PWFILE" "$T/open.pw" && chmod 0644 "$T/open.pw"
sed "s|^password_file = .*|password_file = $T/open.pw|" "$T/agent.conf" \
    >"$T/openpw.conf"
"$AGENT" -c "$T/openpw.conf" export -o "$T/openpw.txt" 2>"$T/openpw.err"
rc=$?
t_check openpw-fails test "$rc" -ne 0
t_grep openpw-message 'open\.pw: readable by others.*chmod 600' "$T/openpw.err"

# 7. A wrong password: clear LDAP error, non-zero.
printf 'wrong' >"$T/wrong.pw" && chmod 0600 "$T/wrong.pw"
sed "s|^password_file = .*|password_file = $T/wrong.pw|" "$T/agent.conf" \
    >"$T/wrongpw.conf"
"$AGENT" -c "$T/wrongpw.conf" export -o "$T/wrong.txt" 2>"$T/wrongpw.err"
t_eq wrongpw-exit 1 $?
t_grep wrongpw-message 'Invalid credentials' "$T/wrongpw.err"

# 8. An audit export needs only [agent] and [ldap]: no [relay NAME].
awk '/^\[relay /{skip=1; next} /^\[/{skip=0} !skip' "$T/agent.conf" \
    >"$T/norelay.conf"
t_check norelay-conf-has-none sh -c "! grep -q '^\[relay' '$T/norelay.conf'"
"$AGENT" -c "$T/norelay.conf" export -o "$T/norelay.txt" 2>"$T/norelay.err"
t_eq norelay-export-exit 0 $?
t_same_file norelay-equals-expected "$T/fx/expected.txt" "$T/norelay.txt"
"$AGENT" -c "$T/norelay.conf" sync 2>"$T/norelay-sync.err"
t_eq norelay-sync-exit 2 $?
t_grep norelay-sync-message 'no \[relay NAME\] section \(sync, run' \
    "$T/norelay-sync.err"
t_done
