#!/bin/sh
# t-ad-gc.sh - the whole forest through a Global Catalog,
# against the Samba AD DC's GC port 3268 (docs/ADMIN.md "Global Catalog").
#
#   export    through the GC with base "" (the whole GC), the domain's DN,
#             and global_catalog = yes with a server without a port (3268
#             added; 3269 with tls = ldaps, certificate checked against
#             ca_file): each list equals the domain export on 389 and the
#             fixture's ground truth; `check` names the GC
#   rules     base "" on a DC's port, global_catalog = no with port 3268,
#             a server list that mixes GC and DC ports, global_catalog =
#             yes with port 389: each is a configuration error (exit 2)
#             naming the setting, and nothing is exported; a server whose
#             root DSE says no isGlobalCatalogReady TRUE (slapd, like a DC
#             that is no GC) is refused with global_catalog = yes (exit 1)
#   switch    a sync through 389, then through 3268: a full export, and
#             the log says why (a Global Catalog answers now); back to 389
#             the same the other way
#   delta     through the GC: a new mail-enabled user and a user whose
#             proxyAddresses were removed are one delta (not a full
#             export); Postfix answers 250 and 550 5.1.1, and the pushed
#             list is the ground truth with both changes
#   wine      the .exe with client wldap32, a simple bind over plain LDAP
#             to 127.0.0.1:3268 and base "": the Linux list, byte for
#             byte; its sync through the GC (the root DSE and NTDS
#             Settings read over 3268 by wldap32): a full export, then a
#             new user as a delta of one object, Postfix 250 for it;
#             global_catalog = yes without a server (the GC locator,
#             DsGetDcNameW) fails under Wine, and the message names the
#             setting and says to set server; what Wine returned is in the
#             log ("t-ad-gc: wine locator:")
#
# Not tested here, and why:
#   - a multi-domain forest: Samba here provisions one domain, so the GC
#     holds one domain and base "" returns what base DC=corp,DC=test does.
#     Objects of other domains, their referrals on 389 and a GC's
#     partial replicas of them are not exercised;
#   - the partial attribute set: Samba 4.17's GC port returns every
#     attribute (proxyAddresses and invocationId too, although neither is
#     in its schema's partial attribute set), so the agent's fallbacks for
#     a GC that withholds them (ADMIN.md) are not exercised;
#   - the locator's success and its failover to the next GC: Wine's
#     DsGetDcNameW does not find a GC here (no DNS, no domain member), and
#     its netapi32 has no DsGetDcOpenW; a real Windows member is needed.
# Samba holds port 389: the test runs in its own network namespace.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

cd "$RS_TOP" || exit 1
AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
exe=$RS_TOP/build/win/rcptsync-agent.exe
t_need "$AGENT" "$RECEIVER" "$exe" ssh-keygen ldapsearch ldapmodify zcat cmp
T=$(t_tmp)
say() { echo "t-ad-gc: $*" >&2; }
GC=127.0.0.1:3268

h_samba_start 600 || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1
h_agent_keygen "$AGENT" "$T" || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/dc.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5
say "ground truth: $(wc -l <"$H_SAMBA_EXPECTED") addresses"

# lexport NAME CONF [wine]: `export -o $T/NAME.txt` of the Linux agent, or
# of the .exe under Wine; stderr in $T/NAME.err, exit status in $rc.
# NAME.txt starts as a sentinel, so a refused export shows that it wrote
# nothing.
lexport() {
	echo "sentinel: nothing written" >"$T/$1.txt"
	if [ "${3:-}" = wine ]; then
		h_wine "$exe" -c "$(h_winpath "$2")" export \
		    -o "$(h_winpath "$T/$1.txt")" 2>"$T/$1.err"
	else
		"$AGENT" -c "$2" export -o "$T/$1.txt" 2>"$T/$1.err"
	fi
	rc=$?
	echo "--- $1: exit $rc" >&2
	cat "$T/$1.err" >&2
}
# refused NAME WHAT ERE: lexport NAME exited 2, its message matches ERE,
# it wrote nothing.
refused() {
	t_eq "$2: exit 2" 2 "$rc"
	t_grep "$2: the message" "$3" "$T/$1.err"
	echo "sentinel: nothing written" >"$T/sentinel"
	t_same_file "$2: nothing written" "$T/sentinel" "$T/$1.txt"
}

# --- export: the GC's list is the domain's --------------------------------
lexport dc "$T/dc.conf"
t_eq dc-export-exit 0 "$rc"
t_same_file dc-export-ground-truth "$H_SAMBA_EXPECTED" "$T/dc.txt"

h_agent_conf_ldap "$T/dc.conf" "$T/gc-root.conf" server="$GC" base=
lexport gc-root "$T/gc-root.conf"
t_eq gc-root-export-exit 0 "$rc"
t_same_file "GC, base \"\": the domain export on 389" "$T/dc.txt" "$T/gc-root.txt"
t_grep gc-root-connected "export: connected to (ldap://)?$GC" "$T/gc-root.err"

h_agent_conf_ldap "$T/dc.conf" "$T/gc-quoted.conf" server="ldap://$GC" 'base=""'
lexport gc-quoted "$T/gc-quoted.conf"
t_eq gc-quoted-export-exit 0 "$rc"
t_same_file "GC, base = \"\" written with quotes: the same" "$T/dc.txt" \
    "$T/gc-quoted.txt"

h_agent_conf_ldap "$T/dc.conf" "$T/gc-dom.conf" server="$GC"
lexport gc-dom "$T/gc-dom.conf"
t_eq gc-dom-export-exit 0 "$rc"
t_same_file "GC, base $H_SAMBA_BASE: the same" "$T/dc.txt" "$T/gc-dom.txt"

h_agent_conf_ldap "$T/dc.conf" "$T/gc-yes.conf" server=127.0.0.1 base= \
    global_catalog=yes
lexport gc-yes "$T/gc-yes.conf"
t_eq gc-yes-export-exit 0 "$rc"
t_grep "global_catalog = yes: a server without a port gets 3268" \
    "export: connected to (ldap://)?127.0.0.1:3268" \
    "$T/gc-yes.err"
t_same_file gc-yes-export-same "$T/dc.txt" "$T/gc-yes.txt"
h_agent_conf_ldap "$T/dc.conf" "$T/gc-uri.conf" server=ldap://127.0.0.1/ \
    global_catalog=yes
lexport gc-uri "$T/gc-uri.conf"
t_grep "global_catalog = yes: a URI without a port gets 3268 before its path" \
    "export: connected to ldap://127.0.0.1:3268/" "$T/gc-uri.err"
t_same_file gc-uri-export-same "$T/dc.txt" "$T/gc-uri.txt"
h_agent_conf_ldap "$T/dc.conf" "$T/gc-tls.conf" server=127.0.0.1 base= \
    global_catalog=yes tls=ldaps ca_file="$H_SAMBA_CAFILE"
lexport gc-tls "$T/gc-tls.conf"
t_eq gc-tls-export-exit 0 "$rc"
t_grep "global_catalog = yes, tls = ldaps: a server without a port gets 3269" \
    "export: connected to ldaps://127.0.0.1:3269" "$T/gc-tls.err"
t_same_file gc-tls-export-same "$T/dc.txt" "$T/gc-tls.txt"

"$AGENT" -c "$T/gc-root.conf" check >"$T/check.out" 2>"$T/check.err"
t_eq gc-check-exit 0 $?
t_grep gc-check-change-detection \
    '^OK   ldap: change detection: highestCommittedUSN [0-9]+ on CN=NTDS Settings,.*, a Global Catalog' \
    "$T/check.out"
t_grep gc-check-search '^OK   ldap: search .*[1-9][0-9]* entries' "$T/check.out"

# --- rules: what a GC is not -----------------------------------------------
h_agent_conf_ldap "$T/dc.conf" "$T/r-root.conf" base=
lexport r-root "$T/r-root.conf"
refused r-root "base \"\" on 389" 'base: "" \(the whole forest\) is served only by a Global Catalog: set global_catalog = yes'
h_agent_conf_ldap "$T/dc.conf" "$T/r-no.conf" server="$GC" global_catalog=no
lexport r-no "$T/r-no.conf"
refused r-no "global_catalog = no with port 3268" \
    "server: $GC: port 3268 is a Global Catalog's, but global_catalog = no"
h_agent_conf_ldap "$T/dc.conf" "$T/r-mix.conf" server="$GC" \
    server+=127.0.0.1:389
lexport r-mix "$T/r-mix.conf"
refused r-mix "a GC and a DC in one server list" \
    'server: some servers are on a Global Catalog port .* a failover would switch between the forest and one domain'
h_agent_conf_ldap "$T/dc.conf" "$T/r-389.conf" server=127.0.0.1:389 \
    global_catalog=yes
lexport r-389 "$T/r-389.conf"
refused r-389 "global_catalog = yes with port 389" \
    "server: 127.0.0.1:389: port 389 is a domain controller's LDAP port"

# --- switch: 389 -> 3268 (same base) is a full export ---------------------
"$AGENT" -c "$T/dc.conf" sync 2>"$T/sync-dc.err"
t_eq sync-dc-exit 0 $?
t_grep sync-dc-installed 'sync mx1: installed sequence [0-9]+' "$T/sync-dc.err"
"$AGENT" -c "$T/gc-dom.conf" sync 2>"$T/sync-gc1.err"
t_eq sync-gc-exit 0 $?
t_grep "389 -> 3268: a full export, and why" \
    'cycle 1: full export \(a Global Catalog answers now, a domain controller.s LDAP port before' \
    "$T/sync-gc1.err"
# The whole GC from here: base "" is another query, so one more full export.
"$AGENT" -c "$T/gc-root.conf" sync 2>"$T/sync-gc-root.err"
t_grep "GC, base \"\" after base $H_SAMBA_BASE: a full export" \
    'cycle 1: full export \(base, filter, domains or include_auth_only changed\)' \
    "$T/sync-gc-root.err"
"$AGENT" -c "$T/gc-root.conf" sync 2>"$T/sync-gc2.err"
t_grep "GC again: no change, one entry read" \
    'cycle 1: no change \(USN [0-9]+\); read 1 entries' "$T/sync-gc2.err"

# --- delta through the GC ----------------------------------------------------
new=gc.hire@corp.test
gone=$(grep '^user\.[0-9]*@corp\.test$' "$H_SAMBA_EXPECTED" | head -n 1)
gone_dn=$(h_samba_search "(proxyAddresses=smtp:$gone)" dn | sed -n 's/^dn: //p')
[ -n "$gone_dn" ] || t_fail cleared-user-found "no object has $gone"
t_eq delta-new-absent "550 5.1.1" "$(h_rcpt "$new")"
t_eq delta-gone-present 250 "$(h_rcpt "$gone")"
h_samba_add_user gc.hire "$new" >"$T/add.out" 2>&1
t_eq delta-user-added 0 $?
h_samba_modify <<EOF >"$T/clear.out" 2>&1
dn: $gone_dn
changetype: modify
delete: proxyAddresses
EOF
t_eq delta-proxy-removed 0 $?
"$AGENT" -c "$T/gc-root.conf" sync 2>"$T/sync-gc3.err"
t_eq sync-delta-exit 0 $?
t_grep "GC: both changes in one delta" \
    'cycle 1: changes from USN [0-9]+ to [0-9]+: 2 object\(s\)' "$T/sync-gc3.err"
t_check "GC: the delta is no full export" \
    sh -c "! grep -q 'full export' '$T/sync-gc3.err'"
t_grep sync-delta-installed 'sync mx1: installed sequence [0-9]+' \
    "$T/sync-gc3.err"
t_eq delta-new-250 250 "$(h_rcpt "$new")"
t_eq delta-gone-550 "550 5.1.1" "$(h_rcpt "$gone")"
{ grep -vx "$gone" "$H_SAMBA_EXPECTED"; echo "$new"; } | LC_ALL=C sort \
    >"$T/expected2.txt"
zcat "$H_AGENT_STATE/last.rcpt.gz" | sed '1,/^$/d' >"$T/pushed.txt"
t_same_file "the list the GC delta pushed: ground truth with both changes" \
    "$T/expected2.txt" "$T/pushed.txt"
lexport dc2 "$T/dc.conf"
t_same_file "the GC delta's list: the domain export on 389 now" \
    "$T/dc2.txt" "$T/pushed.txt"

"$AGENT" -c "$T/gc-dom.conf" sync 2>"$T/sync-gc-dom.err"
"$AGENT" -c "$T/dc.conf" sync 2>"$T/sync-dc2.err"
t_grep "3268 -> 389: a full export, and why" \
    'cycle 1: full export \(a domain controller.s LDAP port answers now, a Global Catalog before' \
    "$T/sync-dc2.err"

# --- wine: the .exe against the GC port -------------------------------------
lstate=$H_AGENT_STATE
H_AGENT_STATE=$T/wstate
h_agent_conf "$T/w0.conf" wine || exit 1
h_wine_init || exit 1
printf '%s\n' "$LDAP_PASSWORD" |
    h_wine "$exe" -c "$(h_winpath "$T/w0.conf")" set-password \
    >"$T/setpw.out" 2>&1
t_check wine-set-password grep -Eq '^password = [A-Za-z0-9+/]+=*' "$T/w0.conf"
h_agent_conf_ldap "$T/w0.conf" "$T/w-gc.conf" server="$GC" base= \
    client=wldap32
lexport w-gc "$T/w-gc.conf" wine
t_eq wine-gc-export-exit 0 "$rc"
t_same_file "wine, wldap32, GC base \"\": the Linux list" "$T/dc2.txt" \
    "$T/w-gc.txt"

# Change detection through wldap32 on the GC port: the root DSE and the
# NTDS Settings read over 3268.  The sequence goes on from the Linux
# agent's, which pushed as the same agent id.
t_check wine-gc-seq-from-linux cp "$lstate/seq" "$T/wstate/seq"
h_wine "$exe" -c "$(h_winpath "$T/w-gc.conf")" sync 2>"$T/w-sync1.err"
t_eq wine-gc-sync1-exit 0 $?
t_grep "wine, GC: the first sync is a full export" \
    'cycle 1: full export \(no cache of the directory yet\)' "$T/w-sync1.err"
t_grep wine-gc-sync1-installed 'sync mx1: installed sequence [0-9]+' \
    "$T/w-sync1.err"
wnew=gc.wine@corp.test
h_samba_add_user gc.wine "$wnew" >"$T/wadd.out" 2>&1
t_eq wine-gc-user-added 0 $?
h_wine "$exe" -c "$(h_winpath "$T/w-gc.conf")" sync 2>"$T/w-sync2.err"
t_eq wine-gc-sync2-exit 0 $?
t_grep "wine, GC: a new user is a delta of one object" \
    'cycle 1: changes from USN [0-9]+ to [0-9]+: 1 object\(s\)' "$T/w-sync2.err"
t_grep wine-gc-sync2-installed 'sync mx1: installed sequence [0-9]+' \
    "$T/w-sync2.err"
t_eq "wine, GC delta: Postfix 250 for $wnew" 250 "$(h_rcpt "$wnew")"
cat "$T/w-sync1.err" "$T/w-sync2.err" >&2

h_agent_conf_ldap "$T/w0.conf" "$T/w-loc.conf" server=- base= \
    client=wldap32 global_catalog=yes
lexport w-loc "$T/w-loc.conf" wine
say "wine locator: exit $rc: $(grep -E 'Global Catalog|DsGetDc' "$T/w-loc.err" | head -n 3 | tr '\n' ' ')"
t_eq wine-locator-exit-1 1 "$rc"
t_grep "wine, no server: the message names global_catalog and says to set server" \
    'ldap connect \(GC locator\): locate a Global Catalog \(global_catalog = yes without a server\): DsGetDcNameW: .*error [0-9]+.*; set \[ldap\] server' \
    "$T/w-loc.err"
echo "sentinel: nothing written" >"$T/sentinel"
t_same_file wine-locator-nothing-written "$T/sentinel" "$T/w-loc.txt"
# What Wine's netapi32 did, from its own debug channel.
WINEDEBUG=fixme+netapi32,trace+netapi32,trace+dnsapi h_wine "$exe" -c "$(h_winpath "$T/w-loc.conf")" \
    export -o "$(h_winpath "$T/w-loc2.txt")" 2>"$T/w-loc-trace.err"
grep -E "DsGetDc|DnsQuery_W|get_dc_info" "$T/w-loc-trace.err" | head -n 6 |
    sed 's/^/t-ad-gc: wine locator trace: /' >&2

# --- a server that is no GC: refused, also when told it is one -------------
# slapd's root DSE has no isGlobalCatalogReady, like a DC that is no GC.
h_samba_stop
h_fixture 20 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
H_AGENT_STATE=$T/sstate
h_agent_conf "$T/slapd.conf" || exit 1
lexport slapd "$T/slapd.conf"
t_same_file slapd-export-ground-truth "$T/fx/expected.txt" "$T/slapd.txt"
h_agent_conf_ldap "$T/slapd.conf" "$T/slapd-gc.conf" global_catalog=yes
lexport slapd-gc "$T/slapd-gc.conf"
t_eq "global_catalog = yes, a server that is no GC: exit 1" 1 "$rc"
t_grep "global_catalog = yes, a server that is no GC: the message" \
    'ldap connect .*: the server says it is no Global Catalog, or one still replicating \(root DSE isGlobalCatalogReady absent\)' \
    "$T/slapd-gc.err"
echo "sentinel: nothing written" >"$T/sentinel"
t_same_file "global_catalog = yes, a server that is no GC: nothing written" \
    "$T/sentinel" "$T/slapd-gc.txt"
t_done
