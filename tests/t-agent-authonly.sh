#!/bin/sh
# t-agent-authonly.sh - recipients that accept mail only from
# authenticated senders (msExchRequireAuthToSendTo TRUE) against the
# harness slapd: left out of the export by default and counted in the
# summary; [agent] include_auth_only = yes keeps them and says so;
# clearing the flag brings the addresses back; a bad value is refused.
#
# Needs: slapd (harness), python3, ldapmodify, the agent built.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
t_need "$AGENT" cmp ldapmodify
T=$(t_tmp)

h_fixture 200 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
echo "hostkey_sha256 = SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    >>"$T/agent.conf"

# The first mail-enabled object of the fixture, and its smtp: addresses
# inside the accepted domains (as the export lists them).
"$AGENT" -q -c "$T/agent.conf" export -o "$T/all.txt" 2>/dev/null
t_same_file baseline-equals-expected "$T/fx/expected.txt" "$T/all.txt"
dn=$(awk '/^dn: / { dn = $0 } /^proxyAddresses: smtp:/ && dn != "" {
	print substr(dn, 5); exit }' "$T/fx/fixture.ldif")
flag() {
	printf 'dn: %s\nchangetype: modify\nreplace: msExchRequireAuthToSendTo\nmsExchRequireAuthToSendTo: %s\n' \
	    "$dn" "$1" | ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ROOTDN" \
	    -w "$LDAP_ROOTPW" >/dev/null
}

# 1. Flag set: the object's addresses leave the list, nothing else does.
flag TRUE
t_eq flag-set-ldapmodify 0 $?
"$AGENT" -c "$T/agent.conf" export -o "$T/auth.txt" 2>"$T/auth.err"
t_eq authonly-exit 0 $?
t_grep authonly-summary 'skipped: +1 auth-only objects' "$T/auth.err"
t_grep authonly-info-line 'export: .* 1 auth-only objects' "$T/auth.err"
LC_ALL=C comm -23 "$T/all.txt" "$T/auth.txt" >"$T/gone.txt"
LC_ALL=C comm -13 "$T/all.txt" "$T/auth.txt" >"$T/new.txt"
t_check authonly-removed-some test -s "$T/gone.txt"
t_check authonly-added-none test ! -s "$T/new.txt"
# Every address that left belongs to that object.
awk -v dn="dn: $dn" '/^dn: / { on = ($0 == dn) }
    on && /^proxyAddresses: / { sub(/^proxyAddresses: [sS][mM][tT][pP]:/, "");
    print tolower($0) }' "$T/fx/fixture.ldif" | LC_ALL=C sort -u >"$T/obj.txt"
LC_ALL=C comm -23 "$T/gone.txt" "$T/obj.txt" >"$T/stray.txt"
t_check authonly-only-that-object test ! -s "$T/stray.txt"

# 2. The keep setting lists them again, and says so.
sed 's/^\[agent\]$/[agent]\ninclude_auth_only = yes/' "$T/agent.conf" \
    >"$T/keep.conf"
"$AGENT" -c "$T/keep.conf" export -o "$T/keep.txt" 2>"$T/keep.err"
t_eq keep-exit 0 $?
t_same_file keep-equals-expected "$T/fx/expected.txt" "$T/keep.txt"
t_grep keep-logged 'include_auth_only = yes' "$T/keep.err"
t_grep keep-summary 'skipped: +0 auth-only objects' "$T/keep.err"

# 3. A bad value is refused with the key's name, and no list is written.
sed 's/^\[agent\]$/[agent]\ninclude_auth_only = maybe/' "$T/agent.conf" \
    >"$T/bad.conf"
cp "$T/auth.txt" "$T/bad.txt"
"$AGENT" -c "$T/bad.conf" export -o "$T/bad.txt" 2>"$T/bad.err"
t_eq bad-exit 2 $?
t_grep bad-names-key 'include_auth_only.*not yes or no' "$T/bad.err"
t_same_file bad-list-untouched "$T/auth.txt" "$T/bad.txt"

# 4. Flag cleared (FALSE): the addresses come back.
flag FALSE
"$AGENT" -q -c "$T/agent.conf" export -o "$T/back.txt" 2>/dev/null
t_same_file cleared-equals-expected "$T/fx/expected.txt" "$T/back.txt"

t_done
