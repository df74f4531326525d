#!/bin/sh
# t-accepted-domains.sh - [agent] domains = auto: the agent takes the
# list's domains from Exchange's accepted domains (docs/ADMIN.md
# "Accepted domains"), and bundle format 2 carries them to the relay.
#
# Samba AD DC with Exchange's msExchAcceptedDomain class and its two
# attributes added to its schema (H_SAMBA_ACCEPTED_DOMAINS, harness
# samba.sh), and one accepted domain of each kind under CN=Accepted
# Domains,CN=Transport Settings,CN=Corp,CN=Microsoft Exchange,CN=Services
# in the configuration partition: corp.test (authoritative, the default),
# example.org (authoritative), branch.corp.test (internal relay),
# partner.example (external relay) and *.corp.test (a wildcard), and two
# that are not Exchange's (a name with a space, flags -1): left out, with a
# warning.
#
#   check     lists each accepted domain with its kind and whether it is
#             listed
#   export    domains = auto lists exactly the authoritative domains'
#             addresses (the fixture's ground truth, by domain);
#             "auto corp.test" restricts to corp.test; auto that finds no
#             authoritative domain fails, naming the setting and the DN
#   sync      example.org becomes an internal relay: the next sync reads
#             it through change detection (a delta, not a full export),
#             and losing its addresses is a shrink the agent's guard
#             refuses (exit 3, the relay's map unchanged byte for byte)
#             until `sync --allow-shrink`; then the list's domains are
#             corp.test alone.  Made authoritative again: a delta, and
#             the addresses are back.  Deleted: the cached domains
#             changed, so a full export, and the shrink guard again
#   run       the kept connection of `run` sees a kind change too: a
#             delta that names the new listed domains
#   wine      the .exe (client = wldap32, plain LDAP, simple bind): check
#             and export with domains = auto give what Linux gives
#
# The sections above run with bundle_format = 1 (receivers not yet
# upgraded): relay domains and wildcards are left out of the list, and a
# domain that becomes a relay domain loses its addresses through the
# shrink guard.  Then format 2, the default:
#
#   format 2  the list's relay-domains and wildcards; the receiver with
#             relay_domains = any and relay_domains_map, and Postfix's
#             relay_domains = hash: of that table.  Postfix, from a new
#             connection: a known recipient of the authoritative domain
#             250, an unknown one 550 5.1.1, an unknown one in the
#             internal and the external relay domain 250, a domain that
#             is not accepted 554 5.7.1.  A kind change (authoritative to
#             internal relay) takes effect through change detection with
#             no shrink; a removed authoritative domain goes through the
#             shrink guard, then Postfix answers 554 for it.  Postfix
#             reads relay_domains in trivial-rewrite(8), which keeps it
#             until a reload: the receiver rewrites RDM.changed when the
#             domains change, and the test does what
#             rcptsync-postfix-reload.path does then
#   v1 relay  a receiver that reads format 1 only (built from the same
#             sources with BUNDLE_READ_MAX 1): the agent's version-2 list
#             is refused with a message that names bundle_format, the
#             map stays byte-identical, and bundle_format = 1 is accepted
#   wine v2   the .exe's export with format 2 equals Linux's
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
EXE=$RS_TOP/build/win/rcptsync-agent.exe
t_need "$AGENT" "$RECEIVER" "$EXE" ldapmodify zcat cmp
T=$(t_tmp)

H_SAMBA_ACCEPTED_DOMAINS=yes
h_samba_start 600 || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1

# accdom NAME FLAGS: an msExchAcceptedDomain as Exchange writes one (the
# object's cn is the domain's name).
accdom() {
	printf 'dn: CN=%s,%s\nchangetype: add\nobjectClass: msExchAcceptedDomain\nmsExchAcceptedDomainName: %s\nmsExchAcceptedDomainFlags: %s\n\n' \
	    "$1" "$H_SAMBA_ACCDOM_DN" "$1" "$2"
}
# kind NAME FLAGS: set a domain's msExchAcceptedDomainFlags.
kind() {
	printf 'dn: CN=%s,%s\nchangetype: modify\nreplace: msExchAcceptedDomainFlags\nmsExchAcceptedDomainFlags: %s\n-\n\n' \
	    "$1" "$H_SAMBA_ACCDOM_DN" "$2" | h_samba_modify >>"$T/modify.out" 2>&1
}
# only RE: the ground truth's addresses whose domain matches RE.
only() { grep -E "@($1)\$" "$H_SAMBA_EXPECTED"; }
# bundle_domains: the domains: line of the last bundle the agent pushed.
bundle_domains() { zcat "$H_AGENT_STATE/last.rcpt.gz" | sed -n 's/^domains: //p'; }

{
	accdom corp.test 4
	accdom example.org 0
	accdom branch.corp.test 2
	accdom partner.example 1
	accdom '*.corp.test' 0
	# Not Exchange's: a name that is no domain, flags that are no bits.
	accdom 'spaced name.test' 0
	accdom neg.test -1
} | h_samba_modify >"$T/add.out" 2>&1
t_eq accepted-domains-added 0 $?
# The service account reads them, as any authenticated user can in AD.
n=$(ldapsearch -x -LLL -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" \
    -b "CN=Configuration,$H_SAMBA_BASE" '(objectClass=msExchAcceptedDomain)' \
    msExchAcceptedDomainName | grep -c '^msExchAcceptedDomainName: ')
t_eq accepted-domains-readable 7 "$n"

h_receiver_conf "$T/receiver.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.3
h_agent_conf "$T/base1.conf" || exit 1
h_agent_conf_with "$T/base1.conf" "$T/base.conf" bundle_format=1
sed 's/^domains = .*/domains = auto/' "$T/base.conf" >"$T/auto.conf"
sed 's/^domains = .*/domains = auto corp.test/' "$T/base.conf" >"$T/corp.conf"
sed 's/^domains = .*/domains = auto nothere.test/' "$T/base.conf" >"$T/none.conf"

# --- check --------------------------------------------------------------------
"$AGENT" -c "$T/auto.conf" check >"$T/check.out" 2>"$T/check.err"
cat "$T/check.out" >&2
t_grep check-corp 'accepted domain corp\.test: authoritative \(default\), listed' "$T/check.out"
t_grep check-example 'accepted domain example\.org: authoritative, listed' "$T/check.out"
t_grep check-internal 'accepted domain branch\.corp\.test: internal relay, not listed' "$T/check.out"
t_grep check-external 'accepted domain partner\.example: external relay, not listed' "$T/check.out"
t_grep check-wildcard 'accepted domain \*\.corp\.test: authoritative, wildcard, not listed' "$T/check.out"
t_grep check-listed '^OK +domains = auto under CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=corp,DC=test: corp\.test example\.org' "$T/check.out"

# --- export -------------------------------------------------------------------
"$AGENT" -c "$T/auto.conf" export -o "$T/auto.txt" 2>"$T/auto.err"
t_eq export-auto-exit 0 $?
only 'corp\.test|example\.org' >"$T/want-auth.txt"
t_same_file export-auto-authoritative-only "$T/want-auth.txt" "$T/auto.txt"
t_grep export-auto-logs-internal 'domains = auto: branch\.corp\.test: internal relay, not listed: its unknown recipients are Exchange.s to route' "$T/auto.err"
t_grep export-auto-logs-wildcard 'domains = auto: \*\.corp\.test: authoritative, wildcard, not listed' "$T/auto.err"
t_grep export-auto-summary-example 'example\.org +[1-9]' "$T/auto.err"
t_grep export-auto-bad-name 'warning: accepted domains: msExchAcceptedDomainName "spaced name\.test": .*; left out' "$T/auto.err"
t_grep export-auto-bad-flags 'warning: accepted domains: neg\.test: msExchAcceptedDomainFlags "-1" is not a number; left out' "$T/auto.err"

"$AGENT" -c "$T/corp.conf" export -o "$T/corp.txt" 2>"$T/corp.err"
t_eq export-restricted-exit 0 $?
only 'corp\.test' >"$T/want-corp.txt"
t_same_file export-restricted-to-corp "$T/want-corp.txt" "$T/corp.txt"

echo "sentinel" >"$T/none.txt"
"$AGENT" -c "$T/none.conf" export -o "$T/none.txt" 2>"$T/none.err"
rc=$?
[ "$rc" -ne 0 ] && t_ok "export-nothing-found: refused (exit $rc)" ||
    t_fail export-nothing-found "exit 0"
t_grep export-nothing-names-it '\[agent\] domains = auto nothere\.test: no authoritative accepted domain among those named under CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=corp,DC=test' "$T/none.err"
t_grep export-nothing-warns 'nothere\.test \(in \[agent\] domains\) is no accepted domain' "$T/none.err"
echo "sentinel" >"$T/sentinel"
t_same_file export-nothing-written "$T/sentinel" "$T/none.txt"

# --- sync: a kind changes, through change detection ---------------------------
# The guard must see example.org's loss: its share of the list is above
# this threshold.
h_agent_conf_with "$T/auto.conf" "$T/sync.conf" shrink_threshold=1%
total=$(wc -l <"$T/want-auth.txt")
ex=$(only 'example\.org' | wc -l)
t_check "sync-example-share ($ex of $total) above 1%" test $((ex * 100)) -gt "$total"

"$AGENT" -c "$T/sync.conf" sync 2>"$T/sync1.err"
t_eq sync1-exit 0 $?
t_grep sync1-installed 'sync mx1: installed sequence' "$T/sync1.err"
t_eq sync1-domains "corp.test example.org" "$(bundle_domains)"
cut -f1 "$H_MAP" | LC_ALL=C sort >"$T/map1.txt"
t_same_file sync1-map "$T/want-auth.txt" "$T/map1.txt"

# A write that changes neither the list nor the domains: a one-shot sync
# knows the listed domains of the last (STATE/domains) and says so.
printf 'dn: %s\nchangetype: modify\nreplace: description\ndescription: touched\n-\n\n' \
    "$H_SAMBA_BINDDN" | h_samba_modify >>"$T/modify.out" 2>&1
"$AGENT" -c "$T/sync.conf" sync 2>"$T/sync1b.err"
t_eq sync1b-exit 0 $?
t_grep sync1b-none-for-the-list 'cycle 1: changes from USN [0-9]+ to [0-9]+: none for the list' "$T/sync1b.err"
t_eq sync1b-listed-domains-kept "corp.test example.org" "$(cat "$H_AGENT_STATE/domains")"

kind example.org 2
cp "$H_MAP" "$T/map-before"
"$AGENT" -c "$T/sync.conf" sync 2>"$T/sync2.err"
t_eq sync2-refused-exit 3 $?
t_grep sync2-delta 'cycle 1: changes from USN [0-9]+ to [0-9]+: 0 object\(s\), listed domains now corp\.test;' "$T/sync2.err"
t_eq sync2-no-full 0 "$(grep -c 'full export' "$T/sync2.err")"
t_grep sync2-shrink-guard 'list shrank from [0-9]+ to [0-9]+ entries \(more than shrink_threshold 1%\); refusing to push' "$T/sync2.err"
t_grep sync2-logs-relay 'domains = auto: example\.org: internal relay, not listed' "$T/sync2.err"
sleep 1
t_same_file sync2-map-unchanged "$T/map-before" "$H_MAP"

"$AGENT" -c "$T/sync.conf" sync --allow-shrink 2>"$T/sync3.err"
t_eq sync3-approved-exit 0 $?
# The refused sync read the change already: the cache is the directory's.
t_grep sync3-no-change 'cycle 1: no change \(USN [0-9]+\)' "$T/sync3.err"
t_eq sync3-no-full 0 "$(grep -c 'full export' "$T/sync3.err")"
t_grep sync3-installed 'sync mx1: installed sequence' "$T/sync3.err"
t_eq sync3-domains "corp.test" "$(bundle_domains)"
cut -f1 "$H_MAP" | LC_ALL=C sort >"$T/map3.txt"
t_same_file sync3-map-corp-only "$T/want-corp.txt" "$T/map3.txt"

kind example.org 0
"$AGENT" -c "$T/sync.conf" sync 2>"$T/sync4.err"
t_eq sync4-exit 0 $?
t_grep sync4-delta 'cycle 1: changes from USN [0-9]+ to [0-9]+: 0 object\(s\), listed domains now corp\.test example\.org;' "$T/sync4.err"
t_eq sync4-no-full 0 "$(grep -c 'full export' "$T/sync4.err")"
t_eq sync4-domains "corp.test example.org" "$(bundle_domains)"
cut -f1 "$H_MAP" | LC_ALL=C sort >"$T/map4.txt"
t_same_file sync4-map-back "$T/want-auth.txt" "$T/map4.txt"

printf 'dn: CN=example.org,%s\nchangetype: delete\n\n' "$H_SAMBA_ACCDOM_DN" |
    h_samba_modify >>"$T/modify.out" 2>&1
t_eq accepted-domain-deleted 0 $?
cp "$H_MAP" "$T/map-before"
"$AGENT" -c "$T/sync.conf" sync 2>"$T/sync5.err"
t_eq sync5-refused-exit 3 $?
t_grep sync5-full 'cycle 1: full export \(base, filter, domains or include_auth_only changed\)' "$T/sync5.err"
t_grep sync5-shrink-guard 'refusing to push' "$T/sync5.err"
sleep 1
t_same_file sync5-map-unchanged "$T/map-before" "$H_MAP"
"$AGENT" -c "$T/sync.conf" sync --allow-shrink 2>"$T/sync6.err"
t_eq sync6-approved-exit 0 $?
t_eq sync6-domains "corp.test" "$(bundle_domains)"

# --- run: the same through the kept connection ---------------------------------
# branch.corp.test becomes authoritative while `run` polls: the domains are
# read again because the USN moved, and the list grows by a delta.
h_agent_conf_with "$T/sync.conf" "$T/run.conf" interval=2s
"$AGENT" -e -c "$T/run.conf" run 2>"$T/run.err" &
RUN_PID=$!
t_cleanup "kill $RUN_PID 2>/dev/null"
t_check run-first-poll t_wait_log "$T/run.err" 'cycle 1: full export \(first poll since start\)' 30
kind branch.corp.test 0
t_check run-delta-domains t_wait_log "$T/run.err" \
    'cycle [0-9]+: changes from USN [0-9]+ to [0-9]+: 0 object\(s\), listed domains now branch\.corp\.test corp\.test;' 30
t_check run-installed t_wait_log "$T/run.err" 'sync mx1: installed sequence' 30
kill "$RUN_PID" 2>/dev/null
wait "$RUN_PID" 2>/dev/null
t_eq run-one-full-export 1 "$(grep -cE 'cycle [0-9]+: full export' "$T/run.err")"
t_eq run-domains "branch.corp.test corp.test" "$(bundle_domains)"
only 'corp\.test|branch\.corp\.test' >"$T/want-run.txt"
cut -f1 "$H_MAP" | LC_ALL=C sort >"$T/map-run.txt"
t_same_file run-map "$T/want-run.txt" "$T/map-run.txt"
kind branch.corp.test 2

# --- the .exe under Wine --------------------------------------------------------
# Back to the first state of the domains, for the same answers as Linux.
accdom example.org 0 | h_samba_modify >>"$T/modify.out" 2>&1
"$AGENT" -c "$T/auto.conf" check >"$T/check2.out" 2>/dev/null
"$AGENT" -c "$T/auto.conf" export -o "$T/auto2.txt" 2>/dev/null
t_same_file linux-export-again "$T/want-auth.txt" "$T/auto2.txt"

h_wine_init || exit 1
H_AGENT_STATE=$T/wstate h_agent_conf "$T/w0.conf" wine || exit 1
sed -e 's/^domains = .*/domains = auto/' \
    -e 's|^\[ldap\]$|[ldap]\nclient = wldap32|' \
    -e 's|^\[agent\]$|[agent]\nbundle_format = 1|' "$T/w0.conf" >"$T/w.conf"
printf '%s\n' "$LDAP_PASSWORD" |
    h_wine "$EXE" -c "$(h_winpath "$T/w.conf")" set-password >"$T/setpw.out" 2>&1
t_grep wine-set-password '^password = [A-Za-z0-9+/]+=*' "$T/w.conf"
h_wine "$EXE" -c "$(h_winpath "$T/w.conf")" check >"$T/wcheck.out" 2>"$T/wcheck.err"
tr -d '\r' <"$T/wcheck.out" >"$T/wcheck.txt"
cat "$T/wcheck.txt" >&2
grep -E 'accepted domain|domains = auto' "$T/check2.out" >"$T/check-lines"
grep -E 'accepted domain|domains = auto' "$T/wcheck.txt" >"$T/wcheck-lines"
t_check wine-check-lines test -s "$T/wcheck-lines"
t_same_file wine-check-equals-linux "$T/check-lines" "$T/wcheck-lines"
h_wine "$EXE" -c "$(h_winpath "$T/w.conf")" export -o "$(h_winpath "$T/wauto.txt")" \
    2>"$T/wauto.err"
t_eq wine-export-exit 0 $?
t_same_file wine-export-equals-linux "$T/auto2.txt" "$T/wauto.txt"
# --- format 2 ------------------------------------------------------------------
# A receiver that follows the agents' domains: relay_domains = any, and
# Postfix's relay_domains from the table it keeps.
RDM=$(dirname "$H_MAP")/relay_domains
kill "$H_RWATCH_PID" 2>/dev/null
sed '/^relay_domains = /d' "$T/receiver.conf" >"$T/r2.conf"
printf 'relay_domains = any\nrelay_domains_map = %s\n' "$RDM" >>"$T/r2.conf"
h_receiver_watch "$T/r2.conf" "$T/receiver2.log" 0.3
sed 's/^domains = .*/domains = auto/' "$T/base1.conf" >"$T/v2a.conf"
H_AGENT_STATE=$T/v2state h_agent_conf_with "$T/v2a.conf" "$T/v2.conf" \
    shrink_threshold=1%
sed -i "s|^state_dir = .*|state_dir = $T/v2state|" "$T/v2.conf"
mkdir -p "$T/v2state"
# hdr FIELD: a header field of the last list this agent pushed.
hdr() { zcat "$T/v2state/last.rcpt.gz" | sed -n "s/^$1: //p"; }
# The ground truth: *.corp.test and example.org are authoritative,
# branch.corp.test (more specific than *.corp.test) is a relay domain.
grep -E '@(corp\.test|example\.org|[a-z0-9.-]+\.corp\.test)$' "$H_SAMBA_EXPECTED" |
    grep -v '@branch\.corp\.test$' >"$T/want-v2.txt"

"$AGENT" -c "$T/v2.conf" sync --allow-shrink 2>"$T/v2sync1.err"
t_eq v2-sync1-exit 0 $?
t_eq v2-version "rcptsync-list 2" "$(zcat "$T/v2state/last.rcpt.gz" | head -n 1)"
t_eq v2-domains "*.corp.test corp.test example.org" "$(hdr domains)"
t_eq v2-relay-domains "branch.corp.test partner.example" "$(hdr relay-domains)"
zcat "$T/v2state/last.rcpt.gz" | sed '1,/^$/d' >"$T/v2list1.txt"
t_same_file v2-list-ground-truth "$T/want-v2.txt" "$T/v2list1.txt"
t_grep v2-map-relay-key '^@branch\.corp\.test	OK$' "$H_MAP"
t_grep v2-map-external-key '^@partner\.example	OK$' "$H_MAP"
t_grep v2-relay-domains-table '^partner\.example	OK$' "$RDM"
t_check v2-relay-domains-changed-sign test -s "$RDM.changed"
# reload_unit: what rcptsync-postfix-reload.path does when the receiver
# rewrote $RDM.changed (trivial-rewrite keeps relay_domains until then).
reload_unit() { postfix -c "$POSTFIX_DIR" reload >&2 2>&1; }
postconf -c "$POSTFIX_DIR" -e "relay_domains = $H_MAP_TYPE:$RDM" && reload_unit
t_eq v2-postfix-relay-domains "$H_MAP_TYPE:$RDM" \
    "$(postconf -c "$POSTFIX_DIR" -h relay_domains)"
known=$(grep '@corp\.test$' "$T/want-v2.txt" | head -n 1)
rcpt_v2() {
	h_rcpt "$known" nobody.here@corp.test nobody.here@branch.corp.test \
	    nobody.here@partner.example nobody.here@example.org \
	    someone@not-accepted.example | tr '\n' ' ' | sed 's/ $//'
}
t_eq v2-postfix-answers "250 550 5.1.1 250 250 550 5.1.1 554 5.7.1" "$(rcpt_v2)"
"$RECEIVER" -c "$T/r2.conf" check >"$T/r2check.out" 2>&1
t_grep v2-check-postfix-names-the-table "^OK   relay_domains: includes $H_MAP_TYPE:$RDM" \
    "$T/r2check.out"

# A kind change: example.org becomes an internal relay.  A delta, and no
# shrink: the relays now take any recipient there.
kind example.org 2
sign=$(stat -c %Y.%i "$RDM.changed")
"$AGENT" -c "$T/v2.conf" sync 2>"$T/v2sync2.err"
t_eq v2-kind-change-exit 0 $?
t_grep v2-kind-change-delta 'cycle 1: changes from USN [0-9]+ to [0-9]+: 0 object' "$T/v2sync2.err"
t_eq v2-kind-change-no-full 0 "$(grep -c 'full export' "$T/v2sync2.err")"
t_grep v2-kind-change-no-shrink 'addresses are in relay domains now' "$T/v2sync2.err"
t_eq v2-kind-change-relay-domains "branch.corp.test example.org partner.example" \
    "$(hdr relay-domains)"
t_eq v2-kind-change-answers "250 550 5.1.1 250 250 250 554 5.7.1" "$(rcpt_v2)"
t_eq v2-kind-change-same-domains-no-reload "$sign" "$(stat -c %Y.%i "$RDM.changed")"

# A removed authoritative domain: the agent's shrink guard refuses (its
# addresses are a loss), the map stays; approved, Postfix answers 554.
kind example.org 0
"$AGENT" -c "$T/v2.conf" sync 2>"$T/v2sync3.err"
t_eq v2-back-exit 0 $?
printf 'dn: CN=example.org,%s\nchangetype: delete\n\n' "$H_SAMBA_ACCDOM_DN" |
    h_samba_modify >>"$T/modify.out" 2>&1
cp "$H_MAP" "$T/v2map-before"
"$AGENT" -c "$T/v2.conf" sync 2>"$T/v2sync4.err"
t_eq v2-removed-refused-exit 3 $?
t_grep v2-removed-shrink-guard 'list shrank from [0-9]+ to [0-9]+ entries' "$T/v2sync4.err"
sleep 1
t_same_file v2-removed-map-unchanged "$T/v2map-before" "$H_MAP"
"$AGENT" -c "$T/v2.conf" sync --allow-shrink 2>"$T/v2sync5.err"
t_eq v2-removed-approved-exit 0 $?
t_check v2-removed-asks-for-a-reload test "$sign" != "$(stat -c %Y.%i "$RDM.changed")"
reload_unit
t_eq v2-removed-answers "250 550 5.1.1 250 250 554 5.7.1 554 5.7.1" "$(rcpt_v2)"
accdom example.org 0 | h_samba_modify >>"$T/modify.out" 2>&1

# --- a receiver that reads format 1 only -----------------------------------------
# A new mailbox, so that the next sync has a new list to push.
h_samba_add_user v1.probe v1.probe@corp.test >>"$T/modify.out" 2>&1
kill "$H_RWATCH_PID" 2>/dev/null
RECEIVER=$RS_TOP/build/receiver-v1/rcptsync-receiver
t_need "$RECEIVER"
h_receiver_watch "$T/r2.conf" "$T/receiver-v1.log" 0.3
cp "$H_MAP" "$T/v1map-before"
cp "$H_MAP.db" "$T/v1tab-before" 2>/dev/null
"$AGENT" -c "$T/v2.conf" sync --allow-shrink 2>"$T/v1sync1.err"
t_eq v1-receiver-refuses-exit 4 $?
t_grep v1-receiver-says-why 'format version 2: this receiver reads versions 1 to 1; upgrade it, or set bundle_format = 1' \
    "$T/v1sync1.err"
t_same_file v1-receiver-map-unchanged "$T/v1map-before" "$H_MAP"
[ -f "$T/v1tab-before" ] &&
    t_same_file v1-receiver-table-unchanged "$T/v1tab-before" "$H_MAP.db"
h_agent_conf_with "$T/v2.conf" "$T/v1.conf" bundle_format=1
"$AGENT" -c "$T/v1.conf" sync --allow-shrink 2>"$T/v1sync2.err"
t_eq v1-receiver-bundle-format-1-exit 0 $?
t_eq v1-receiver-version "rcptsync-list 1" "$(zcat "$T/v2state/last.rcpt.gz" | head -n 1)"

# --- the .exe, format 2 ------------------------------------------------------------
printf 'v1.probe@corp.test\n' >>"$T/want-v2.txt"
resort() { LC_ALL=C sort -u "$1" >"$1.s" && mv "$1.s" "$1"; }
resort "$T/want-v2.txt"
"$AGENT" -c "$T/v2.conf" export -o "$T/v2export.txt" 2>/dev/null
t_same_file v2-export-ground-truth "$T/want-v2.txt" "$T/v2export.txt"
sed '/^bundle_format = /d' "$T/w.conf" >"$T/w2.conf"
h_wine "$EXE" -c "$(h_winpath "$T/w2.conf")" export -o "$(h_winpath "$T/wv2.txt")" \
    2>"$T/wv2.err"
t_eq wine-v2-export-exit 0 $?
t_same_file wine-v2-export-equals-linux "$T/v2export.txt" "$T/wv2.txt"

t_done
