#!/bin/sh
# t-ad-range.sh - ranged attribute values (AD's MaxValRange, range
# retrieval of MS-ADTS 3.1.1.3.1.3.3), against the real Samba AD DC behind
# adproxy.py, which ranges values as AD does (Samba itself never ranges).
#
#   stand-in  the proxy's replies, read with ldapsearch: 1500 values come
#             whole, 1501 as "proxyAddresses;range=0-1499", the rest on a
#             range read of "proxyAddresses;range=1500-*"
#   1500      users with 1499, 1500, 1501, 1601 and 5000 addresses at
#             MaxValRange 1500: the Linux build's export is the ground
#             truth, and the proxy shows which objects took the range path
#   100, 3    the same at MaxValRange 100; and at 3 (without the big users)
#             every object with more than 3 addresses,
#             and objectClass as well as proxyAddresses, take the range
#             path, with pages of 7, so that pages end on ranged objects
#   delta     `sync` through the proxy, then a ranged user gets more
#             addresses, another is added with 1550 and a third loses
#             hers: the next sync reads them through the delta search, and
#             its list is the new ground truth
#   hostile   a range that skips values: the export fails, naming the
#             object and the range, and writes nothing
#   wine      the .exe's export through the proxy, with its wldap32 client
#             at 1500 and at 3, and with its OpenLDAP client at 3: the
#             ground truth, byte for byte; and with the OpenLDAP client,
#             a sync, a change to a ranged user, and a delta sync that
#             reads it ranged
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
EXE=$RS_TOP/build/win/rcptsync-agent.exe
t_need "$AGENT" "$RECEIVER" "$EXE" ldapsearch ldapmodify zcat
T=$(t_tmp)

h_samba_start 300 || exit 1
h_samba_use

# --- users with many addresses ----------------------------------------------
# ranged_user LOGIN N: LOGIN with N addresses LOGIN.1@corp.test ... (the
# first the primary), as LDIF for h_samba_modify.
ranged_user() {
	awk -v u="$1" -v n="$2" -v base="$H_SAMBA_BASE" 'BEGIN {
		printf "dn: CN=%s,OU=Engineering,OU=Corp,%s\n", u, base
		printf "changetype: add\nobjectClass: user\nsAMAccountName: %s\n", u
		for (i = 1; i <= n; i++)
			printf "proxyAddresses: %s:%s.%d@corp.test\n",
			    i == 1 ? "SMTP" : "smtp", u, i
		print ""
	}'
}
addrs() { awk -v u="$1" -v n="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "%s.%d@corp.test\n", u, i }'; }

for n in 1499 1500 1501 1601 5000; do
	ranged_user "r$n" "$n"
	addrs "r$n" "$n" >>"$T/ranged.txt"
done >"$T/ranged.ldif"
h_samba_modify "$T/ranged.ldif" >"$T/add.out" 2>&1
t_eq ranged-users-added 0 $?
LC_ALL=C sort -u "$H_SAMBA_EXPECTED" "$T/ranged.txt" >"$T/expected.txt"
t_eq expected-count "$(($(wc -l <"$H_SAMBA_EXPECTED") + 1499 + 1500 + 1501 + 1601 + 5000))" \
    "$(wc -l <"$T/expected.txt" | tr -d ' ')"

# --- the stand-in ------------------------------------------------------------
h_adproxy_start 127.0.0.1 389 1500 || exit 1
# pq USER ATTR: the attribute names and value counts the proxy sends.
pq() {
	ldapsearch -x -LLL -o ldif-wrap=no -H "$H_ADPROXY_URI" -D "$LDAP_BINDDN" \
	    -y "$LDAP_PWFILE" -b "$LDAP_BASE" "(sAMAccountName=$1)" "$2" 2>&1 |
	    sed -n 's/^\([A-Za-z;=0-9*-]*\):.*/\1/p' | grep -v '^dn$' | uniq -c |
	    awk '{print $2, $1}'
}
t_eq stand-in-1500-whole "proxyAddresses 1500" "$(pq r1500 proxyAddresses)"
t_eq stand-in-1501-ranged "proxyAddresses;range=0-1499 1500" "$(pq r1501 proxyAddresses)"
t_eq stand-in-1501-rest "proxyAddresses;range=1500-* 1" \
    "$(pq r1501 'proxyAddresses;range=1500-*')"
t_eq stand-in-5000-middle "proxyAddresses;range=1500-2999 1500" \
    "$(pq r5000 'proxyAddresses;range=1500-*')"
t_eq stand-in-5000-last "proxyAddresses;range=4500-* 500" \
    "$(pq r5000 'proxyAddresses;range=4500-*')"

# --- exports at MaxValRange 1500, 100 and 3 -----------------------------------
LDAP_URI=$H_ADPROXY_URI
h_agent_conf "$T/agent.conf" || exit 1
h_agent_pin_none "$T/agent.conf"
h_agent_conf_ldap "$T/agent.conf" "$T/page7.conf" page_size=7
# point CONF...: the configs at the proxy started last.
point() { for _c; do sed -i "s|^server = .*|server = $H_ADPROXY_URI|" "$_c"; done; }

# lexport NAME CONF [EXPECTED]: the Linux build's export, checked against
# EXPECTED (the ground truth with the big users); the proxy's log of it in
# $T/NAME.proxy.
lexport() {
	: >"$H_ADPROXY_LOG"
	"$AGENT" -c "$2" export -o "$T/$1.txt" 2>"$T/$1.err"
	t_eq "$1-export-exit" 0 $?
	t_same_file "$1-export-ground-truth" "${3:-$T/expected.txt}" "$T/$1.txt"
	cp "$H_ADPROXY_LOG" "$T/$1.proxy"
}
lexport l1500 "$T/agent.conf"
for n in 1501 1601 5000; do
	t_grep "l1500-r$n-ranged" "^ranged CN=r$n,.* proxyAddresses;range=0-1499 1500\$" \
	    "$T/l1500.proxy"
done
t_grep l1500-r5000-read-to-the-end "^ranged CN=r5000,.* proxyAddresses;range=4500-\\* 500\$" \
    "$T/l1500.proxy"
t_eq l1500-r5000-four-replies 4 "$(grep -c '^ranged CN=r5000,' "$T/l1500.proxy")"
t_eq l1500-r1500-not-ranged 0 "$(grep -c '^ranged CN=r1500,' "$T/l1500.proxy")"
t_eq l1500-r1499-not-ranged 0 "$(grep -c '^ranged CN=r1499,' "$T/l1500.proxy")"

h_adproxy_start 127.0.0.1 389 100 || exit 1
point "$T/agent.conf" "$T/page7.conf"
lexport l100 "$T/agent.conf"
t_eq l100-r5000-fifty-replies 50 "$(grep -c '^ranged CN=r5000,' "$T/l100.proxy")"

# --- a hostile range: values skipped -------------------------------------------
# A server whose ranged replies claim one value more than they hold: the
# export fails, names the object and the range, and writes nothing.
h_adproxy_start 127.0.0.1 389 1500 skip || exit 1
point "$T/agent.conf"
echo "sentinel" >"$T/skip.txt"
"$AGENT" -c "$T/agent.conf" export -o "$T/skip.txt" 2>"$T/skip.err"
t_eq skip-export-fails 1 $?
t_grep skip-says-why 'CN=r[0-9]+,.*proxyAddresses;range=0-1500 came with 1500 values' \
    "$T/skip.err"
t_eq skip-nothing-written sentinel "$(cat "$T/skip.txt")"

# --- delta: sync, change ranged objects, sync again -----------------------------
h_adproxy_start 127.0.0.1 389 1500 || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
LDAP_URI=$H_ADPROXY_URI
h_receiver_conf "$T/receiver.conf" || exit 1
H_AGENT_STATE=$T/sync-state h_agent_conf "$T/sync.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5
# listof: the entries of the last list the agent made.
listof() { zcat "$T/sync-state/last.rcpt.gz" | sed '1,/^$/d'; }

"$AGENT" -c "$T/sync.conf" sync 2>"$T/sync1.err"
t_eq sync1-exit 0 $?
t_grep sync1-full 'cycle 1: full export' "$T/sync1.err"
listof >"$T/sync1.txt"
t_same_file sync1-ground-truth "$T/expected.txt" "$T/sync1.txt"

addrs r1601x 200 | sed 's/^r1601x/r1601/; s/\.\([0-9]*\)@/.x\1@/' >"$T/more.txt"
{
	printf 'dn: CN=r1601,OU=Engineering,OU=Corp,%s\nchangetype: modify\nadd: proxyAddresses\n' \
	    "$H_SAMBA_BASE"
	sed 's/^/proxyAddresses: smtp:/' "$T/more.txt"
	printf '\ndn: CN=r1499,OU=Engineering,OU=Corp,%s\nchangetype: modify\ndelete: proxyAddresses\n\n' \
	    "$H_SAMBA_BASE"
	ranged_user r1550 1550
} >"$T/change.ldif"
h_samba_modify "$T/change.ldif" >"$T/change.out" 2>&1
t_eq delta-changes-made 0 $?
addrs r1499 1499 >"$T/gone.txt"
addrs r1550 1550 >>"$T/more.txt"
LC_ALL=C sort -u "$T/gone.txt" >"$T/gone.sorted"
LC_ALL=C sort -u "$T/expected.txt" "$T/more.txt" |
    LC_ALL=C comm -23 - "$T/gone.sorted" >"$T/expected2.txt"
: >"$H_ADPROXY_LOG"
"$AGENT" -c "$T/sync.conf" sync --allow-shrink 2>"$T/sync2.err"
t_eq sync2-exit 0 $?
t_grep sync2-delta 'cycle 1: changes from USN [0-9]+ to [0-9]+: 3 object' "$T/sync2.err"
t_eq sync2-not-full 0 "$(grep -c 'full export' "$T/sync2.err")"
listof >"$T/sync2.txt"
t_same_file sync2-ground-truth "$T/expected2.txt" "$T/sync2.txt"
t_grep sync2-r1601-ranged '^ranged CN=r1601,.* proxyAddresses;range=1500-\* 301$' \
    "$H_ADPROXY_LOG"
t_grep sync2-r1550-ranged '^ranged CN=r1550,.* proxyAddresses;range=1500-\* 50$' \
    "$H_ADPROXY_LOG"

# --- the .exe under Wine, at 1500 ------------------------------------------------
h_wine_init || exit 1
H_AGENT_STATE=$T/wstate h_agent_conf "$T/w0.conf" wine || exit 1
h_agent_pin_none "$T/w0.conf"
printf '%s\n' "$LDAP_PASSWORD" |
    h_wine "$EXE" -c "$(h_winpath "$T/w0.conf")" set-password >"$T/setpw.out" 2>&1
t_grep wine-set-password '^password = [A-Za-z0-9+/]+=*' "$T/w0.conf"
# wexport NAME CONF EXPECTED: the .exe's export, checked against EXPECTED.
wexport() {
	: >"$H_ADPROXY_LOG"
	h_wine "$EXE" -c "$(h_winpath "$2")" export -o "$(h_winpath "$T/$1.txt")" \
	    2>"$T/$1.err"
	t_eq "$1-export-exit" 0 $?
	t_same_file "$1-export-ground-truth" "$3" "$T/$1.txt"
	cp "$H_ADPROXY_LOG" "$T/$1.proxy"
}
point "$T/w0.conf"
wexport w1500 "$T/w0.conf" "$T/expected2.txt"
t_grep w1500-r5000-ranged '^ranged CN=r5000,.* proxyAddresses;range=4500-\* 500$' \
    "$T/w1500.proxy"
t_grep w1500-r1550-ranged '^ranged CN=r1550,.* proxyAddresses;range=1500-\* 50$' \
    "$T/w1500.proxy"

# Change detection with the .exe's OpenLDAP client: a sync (full, its
# state is new), a ranged user gets 100 more addresses, the next sync
# reads it through the delta search, ranged.
h_agent_conf_ldap "$T/w0.conf" "$T/wo.conf" client=openldap
h_wine "$EXE" -c "$(h_winpath "$T/wo.conf")" sync --allow-shrink 2>"$T/wsync1.err"
t_eq wine-openldap-sync1-exit 0 $?
t_grep wine-openldap-sync1-full 'cycle 1: full export' "$T/wsync1.err"
zcat "$T/wstate/last.rcpt.gz" | sed '1,/^$/d' >"$T/wsync1.txt"
t_same_file wine-openldap-sync1-ground-truth "$T/expected2.txt" "$T/wsync1.txt"
addrs r5000 100 | sed 's/\.\([0-9]*\)@/.w\1@/' >"$T/wmore.txt"
{
	printf 'dn: CN=r5000,OU=Engineering,OU=Corp,%s\nchangetype: modify\nadd: proxyAddresses\n' \
	    "$H_SAMBA_BASE"
	sed 's/^/proxyAddresses: smtp:/' "$T/wmore.txt"
} | h_samba_modify >"$T/wchange.out" 2>&1
t_eq wine-delta-change-made 0 $?
LC_ALL=C sort -u "$T/expected2.txt" "$T/wmore.txt" >"$T/expected3.txt"
: >"$H_ADPROXY_LOG"
h_wine "$EXE" -c "$(h_winpath "$T/wo.conf")" sync 2>"$T/wsync2.err"
t_eq wine-openldap-sync2-exit 0 $?
t_grep wine-openldap-sync2-delta 'cycle 1: changes from USN [0-9]+ to [0-9]+: 1 object' \
    "$T/wsync2.err"
zcat "$T/wstate/last.rcpt.gz" | sed '1,/^$/d' >"$T/wsync2.txt"
t_same_file wine-openldap-sync2-ground-truth "$T/expected3.txt" "$T/wsync2.txt"
t_grep wine-openldap-sync2-ranged '^ranged CN=r5000,.* proxyAddresses;range=4500-\* 600$' \
    "$H_ADPROXY_LOG"

# --- MaxValRange 3: ordinary objects take the range path -------------------------
# Without the big users (at 3 values a reply, 5000 values take 1667 reads
# of the whole entry from Samba): the fixture's objects with more than 3
# addresses, and objectClass (4 values on a user) too, pages of 7.
for u in r1500 r1501 r1550 r1601 r5000; do
	printf 'dn: CN=%s,OU=Engineering,OU=Corp,%s\nchangetype: delete\n\n' \
	    "$u" "$H_SAMBA_BASE"
done >"$T/del.ldif"
h_samba_modify "$T/del.ldif" >"$T/del.out" 2>&1
t_eq big-users-deleted 0 $?
# The objects with more than 3 proxyAddresses, straight from Samba.
h_samba_search '(proxyAddresses=*)' proxyAddresses 2>/dev/null |
    awk '/^dn: /{ if (n > 3) c++; n = 0 } /^proxyAddresses/{ n++ }
    END { if (n > 3) c++; print c + 0 }' >"$T/over3"
h_adproxy_start 127.0.0.1 389 3 || exit 1
point "$T/agent.conf" "$T/page7.conf" "$T/w0.conf"
h_agent_conf_ldap "$T/w0.conf" "$T/w7.conf" page_size=7
h_agent_conf_ldap "$T/w7.conf" "$T/wo7.conf" client=openldap
lexport l3 "$T/page7.conf" "$H_SAMBA_EXPECTED"
nobj=$(sed -n 's/^ranged \(.*\) proxyAddresses;range=0-2 3$/\1/p' "$T/l3.proxy" |
    sort -u | wc -l | tr -d ' ')
echo "t-ad-range: at MaxValRange 3, $nobj objects ranged proxyAddresses" >&2
t_eq l3-every-object-over-3-ranged "$(cat "$T/over3")" "$nobj"
t_check l3-some-objects test "$nobj" -gt 10
t_grep l3-objectclass-ranged '^ranged .* objectClass;range=0-2 3$' "$T/l3.proxy"
t_grep l3-page-ends-on-ranged '^page-ends-ranged ' "$T/l3.proxy"
wexport w3 "$T/w7.conf" "$H_SAMBA_EXPECTED"
t_grep w3-page-ends-on-ranged '^page-ends-ranged ' "$T/w3.proxy"
t_grep w3-objectclass-ranged '^ranged .* objectClass;range=0-2 3$' "$T/w3.proxy"
wexport wo3 "$T/wo7.conf" "$H_SAMBA_EXPECTED"
t_grep wo3-page-ends-on-ranged '^page-ends-ranged ' "$T/wo3.proxy"

t_done
