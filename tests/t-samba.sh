#!/bin/sh
# tests/t-samba.sh - the Samba AD DC stand-in behaves like Active Directory
# where rcptsync's incremental change detection relies on it.
#
# Runs in its own network namespace (h_netns_enter; Samba takes port 389).
# Proves, against a real Samba AD DC with the samba-gen.py fixture: paged
# search returns every object; unlike AD, Samba limits neither an unpaged
# search nor a page to MaxPageSize (checked, so that a change shows); the
# schema has proxyAddresses and mail but no Exchange attributes; a
# subtree search from the domain root carries a continuation reference;
# objectGUID is binary; the rootDSE has highestCommittedUSN and
# dsServiceName, and the NTDS Settings object's invocationId is readable by
# the unprivileged service account; highestCommittedUSN stays put while
# nothing changes, also across the service account's binds; what a logon
# writes (first bind vs later binds, bad password); an add moves the USN
# and (uSNChanged>=N+1) finds exactly that object; removing proxyAddresses
# bumps uSNChanged, found only without a proxyAddresses filter; a rename
# keeps objectGUID; a deleted object is gone from normal searches (the USN
# moves, the incremental search finds nothing); a restart keeps data, USN
# and invocationId.  Then sshd, Postfix, h_rcpt and h_receiver_watch inside
# the namespace, with the agent exporting and syncing from Samba.
#
# The numbers (timings, counts, USNs) go to stderr, build/tests/logs/t-samba.log,
# as lines starting "t-samba:".
#
# Output: lib.sh's "ok - NAME" / "not ok - NAME: WHY" lines on stdout.

. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need /usr/bin/python3 ldapsearch ldapmodify samba samba-tool base64 od \
    "$AGENT" "$RECEIVER"
T=$(t_tmp)
T0=$(date +%s)
say() { echo "t-samba: $*" >&2; }

# --- the namespace ---------------------------------------------------------

t_check netns-private test "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)"
t_eq netns-only-lo "lo" "$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ' | sed 's/ $//')"

# --- fixture ---------------------------------------------------------------

"$H_PY" "$RS_TOP/tests/fixture/samba-gen.py" --hostile 1200 "$T/fx1" >&2 &&
"$H_PY" "$RS_TOP/tests/fixture/samba-gen.py" --hostile 1200 "$T/fx2" >&2
t_same_file fixture-deterministic "$T/fx1/fixture.ldif" "$T/fx2/fixture.ldif"

# --- start -----------------------------------------------------------------

t1=$(date +%s)
h_samba_start || exit 1
start_s=$(( $(date +%s) - t1 ))
say "h_samba_start: ${start_s}s (first in this run includes the provision)"
FX=$H_SAMBA_FIXTURE
sv() { sed -n "s/^$1: //p" "$FX/summary"; }
t_same_file fixture-is-generators "$T/fx1/expected.txt" "$H_SAMBA_EXPECTED"
t_check fixture-sorted-unique env LC_ALL=C sort -c -u "$H_SAMBA_EXPECTED"
t_eq fixture-recipients "$(sv recipients)" "$(wc -l <"$H_SAMBA_EXPECTED")"
for a in john.doe@corp.test john.doe@branch.corp.test jdoe@example.org \
    shared.sales@corp.test room.berlin@branch.corp.test all-staff@corp.test \
    sales-list@example.org jane.partner.contact@corp.test \
    bob.mailuser@corp.test hostile.anchor@corp.test change.me@corp.test; do
	if grep -qxF "$a" "$H_SAMBA_EXPECTED"; then t_ok "fixture-has-$a"; else
		t_fail "fixture-has-$a" "missing from expected.txt"; fi
done
for a in jane.partner@partner.example bob.ext@gmail.com john.doe@gmail.com \
    legacy@old-corp.example trailing.space@corp.test a@corp.test \
    evil@corp.test leading.space@corp.test plain.user@corp.test; do
	if grep -qxF "$a" "$H_SAMBA_EXPECTED"; then
		t_fail "fixture-lacks-$a" "in expected.txt"; else t_ok "fixture-lacks-$a"; fi
done

dn_count() { grep -c '^dn: '; }
# svc [ldapsearch options] FILTER ATTRS: as the service account, unpaged.
svc() {
	ldapsearch -x -LLL -o ldif-wrap=no -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" \
	    -y "$H_SAMBA_PWFILE" -b "$H_SAMBA_BASE" "$@"
}
adm() {
	ldapsearch -x -LLL -o ldif-wrap=no -H "$H_SAMBA_URI" -D "$H_SAMBA_ADMIN_DN" \
	    -y "$H_SAMBA_ADMIN_PWFILE" -b "$H_SAMBA_BASE" "$@"
}
# b64len VALUE: the length in bytes of a base64 value.
b64len() { printf '%s' "$1" | base64 -d | wc -c | tr -d ' '; }

# --- paging, referrals, binary values ---------------------------------------

h_samba_search '(objectClass=user)' dn >"$T/paged.out" 2>"$T/paged.err"
t_eq paged-users-rc 0 $?
paged=$(dn_count <"$T/paged.out")
grep '^dn: ' "$T/paged.out" | sort >"$T/paged.dns"
awk '/^dn: /{dn = $0} /^objectClass: user$/{print dn}' "$FX/fixture.ldif" | sort >"$T/fixture-users.dns"
t_eq paged-users-fixture-all "" "$(comm -13 "$T/paged.dns" "$T/fixture-users.dns" | head -n 3)"
say "paged search of users: $paged entries, of them the domain's own: $(comm -23 "$T/paged.dns" "$T/fixture-users.dns" | sed 's/^dn: CN=//; s/,.*//' | tr '\n' ' ')"
t_check paged-users-over-1000 test "$paged" -gt 1000
h_samba_search '(proxyAddresses=smtp:*)' dn >"$T/smtp.out" 2>&1
smtp=$(dn_count <"$T/smtp.out")
t_eq paged-smtp-objects "$(sv smtp_objects)" "$smtp"
t_check paged-smtp-over-1000 test "$smtp" -gt 1000
t_eq paged-smtp-unique "$smtp" "$(grep '^dn: ' "$T/smtp.out" | sort -u | wc -l | tr -d ' ')"

# AD ends an unpaged search at MaxPageSize (1000) with sizeLimitExceeded
# (4).  Samba 4.17 does not: it returns everything, rc 0.  Tests of the
# agent's paging against that limit belong to slapd (t-harness).
svc '(objectClass=user)' dn >"$T/plain.out" 2>"$T/plain.err"
plain_rc=$?
plain=$(dn_count <"$T/plain.out")
say "unpaged search of users: rc $plain_rc, $plain entries (AD: rc 4 after 1000)"
t_eq unpaged-samba-returns-all-rc0 "0 $paged" "$plain_rc $plain"
# Nor does Samba cap a page at MaxPageSize: one page of 2000 holds them all.
ldapsearch -x -LL -o ldif-wrap=no -E pr=2000/noprompt -H "$H_SAMBA_URI" \
    -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" -b "$H_SAMBA_BASE" \
    '(objectClass=user)' dn >"$T/p2000.out" 2>&1
pages=$(grep -c '^# pagedresults:' "$T/p2000.out")
say "paged search with size 2000: $pages page(s) (AD: pages of at most 1000)"
t_eq page-2000-one-page 1 "$pages"
svc -z 10 '(objectClass=user)' dn >"$T/z10.out" 2>&1
z10_rc=$?
say "unpaged search with client size limit 10: rc $z10_rc, $(dn_count <"$T/z10.out") entries (AD: rc 4 after 10)"
t_eq client-sizelimit-ignored "0 $paged" "$z10_rc $(dn_count <"$T/z10.out")"
adm -b "CN=Default Query Policy,CN=Query-Policies,CN=Directory Service,CN=Windows NT,CN=Services,CN=Configuration,$H_SAMBA_BASE" \
    -s base lDAPAdminLimits >"$T/policy.out" 2>&1
t_grep query-policy-maxpagesize-1000 '^lDAPAdminLimits: MaxPageSize=1000$' "$T/policy.out"

# The base AD schema has proxyAddresses (on top: every class) and mail;
# none of Exchange's attributes and classes.
schema() {
	svc -b "CN=Schema,CN=Configuration,$H_SAMBA_BASE" "(lDAPDisplayName=$1)" "${2:-dn}" \
	    2>/dev/null
}
t_eq schema-proxyaddresses-on-top "lDAPDisplayName: top" \
    "$(schema top systemMayContain | grep -qx 'systemMayContain: proxyAddresses' &&
    schema top lDAPDisplayName | grep '^lDAPDisplayName: ')"
t_eq schema-mail 1 "$(schema mail | dn_count)"
for a in mailNickname targetAddress msExchHideFromAddressLists \
    msExchRecipientTypeDetails publicFolder msExchDynamicDistributionList; do
	t_eq "schema-no-$a" 0 "$(schema "$a" | dn_count)"
done

# A subtree search from the domain root returns a continuation reference
# for the Configuration partition (the agent must ignore it).
grep '^# refldap://' "$T/plain.out" >"$T/refs.out"
say "continuation references: $(tr '\n' ' ' <"$T/refs.out")"
t_eq referral-one "1" "$(wc -l <"$T/refs.out" | tr -d ' ')"
t_grep referral-configuration "^# refldap://corp.test/CN=Configuration,$H_SAMBA_BASE\$" "$T/refs.out"

h_samba_search '(sAMAccountName=jdoe)' objectGUID uSNChanged proxyAddresses >"$T/jd.out" 2>&1
t_eq objectguid-16-bytes 16 "$(b64len "$(sed -n 's/^objectGUID:: //p' "$T/jd.out")")"
t_grep usnchanged-returned '^uSNChanged: [0-9]+$' "$T/jd.out"
t_grep proxyaddresses-as-stored '^proxyAddresses: SMTP:John.Doe@Corp.Test$' "$T/jd.out"
t_eq proxyaddresses-case-insensitive 1 \
    "$(h_samba_search '(proxyAddresses=smtp:john.doe@corp.test)' dn 2>/dev/null | dn_count)"
h_samba_search '(sAMAccountName=hostile.values)' proxyAddresses >"$T/h.out" 2>&1
t_eq hostile-values-stored 13 "$(grep -c '^proxyAddresses' "$T/h.out")"
t_eq hostile-nul-kept 1 "$(sed -n 's/^proxyAddresses:: //p' "$T/h.out" |
    while read -r v; do printf '%s' "$v" | base64 -d | od -An -c | tr -d ' \n'; echo; done |
    grep -c 'nul\\0byte')"

# --- rootDSE, invocationId ----------------------------------------------------

ldapsearch -x -LLL -o ldif-wrap=no -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" \
    -y "$H_SAMBA_PWFILE" -b '' -s base highestCommittedUSN dsServiceName \
    >"$T/rootdse.out" 2>&1
t_grep rootdse-usn '^highestCommittedUSN: [0-9]+$' "$T/rootdse.out"
LDAPTLS_CACERT=$H_SAMBA_CAFILE LDAPTLS_REQCERT=demand ldapsearch -x -LLL \
    -H "$H_SAMBA_LDAPS_URI" -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" -b '' \
    -s base highestCommittedUSN >"$T/ldaps.out" 2>&1
t_grep ldaps-verified-cafile '^highestCommittedUSN: [0-9]+$' "$T/ldaps.out"
ds=$(sed -n 's/^dsServiceName: //p' "$T/rootdse.out")
t_check rootdse-dsservicename test -n "$ds"
say "dsServiceName: $ds"
inv_of() {	# print the base64 invocationId of dsServiceName, as svc-rcpt
	ldapsearch -x -LLL -o ldif-wrap=no -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" \
	    -y "$H_SAMBA_PWFILE" -b "$ds" -s base invocationId 2>/dev/null |
	    sed -n 's/^invocationId:: //p'
}
inv=$(inv_of)
say "invocationId (base64): $inv"
t_eq invocationid-readable-16-bytes 16 "$(b64len "$inv")"

# --- idle: nothing changes, nothing moves -----------------------------------

u0=$(h_samba_usn)
sleep 5
u1=$(h_samba_usn)
say "idle: highestCommittedUSN $u0, 5 s later $u1"
t_eq idle-usn-stable "$u0" "$u1"
# Ten agent-like cycles: bind as the service account, read the rootDSE.
i=0
while [ $i -lt 10 ]; do
	ldapsearch -x -LLL -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" \
	    -b '' -s base highestCommittedUSN >/dev/null 2>&1
	sleep 0.3; i=$((i + 1))
done
u2=$(h_samba_usn)
say "10 binds of the service account: highestCommittedUSN $u1 -> $u2"
t_eq idle-svc-binds-usn-stable "$u1" "$u2"
t_eq idle-nothing-changed 0 "$(h_samba_search "(uSNChanged>=$((u2 + 1)))" dn 2>/dev/null | dn_count)"

# --- the harness inside the namespace; the agent against Samba -----------------

h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5
t_eq netns-postfix-initial 250 "$(h_rcpt harness-initial@corp.test)"
printf 'put %s incoming/probe.txt\n' "$T/refs.out" >"$T/batch"
t_check netns-sftp-put h_sftp "$T/batch"
rm -f "$SFTP_INCOMING/probe.txt"

u0=$(h_samba_usn)
"$AGENT" -c "$T/agent.conf" export -o "$T/export.txt" 2>"$T/export.err"
t_eq agent-export-exit 0 $?
t_same_file agent-export-equals-ground-truth "$H_SAMBA_EXPECTED" "$T/export.txt"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync.err"
t_eq agent-sync-exit 0 $?
t_grep agent-sync-installed 'sync mx1: installed sequence [0-9]+' "$T/sync.err"
t_eq agent-sync-rcpt "250
250
554 5.7.1
550 5.1.1" "$(h_rcpt john.doe@branch.corp.test sales-list@example.org \
    jane.partner@partner.example nobody.4711@corp.test)"
"$AGENT" -c "$T/agent.conf" export -o "$T/export2.txt" 2>>"$T/export.err"
u1=$(h_samba_usn)
say "agent export, sync, export: highestCommittedUSN $u0 -> $u1"
t_eq agent-cycles-usn-stable "$u0" "$u1"

# --- what a logon writes ---------------------------------------------------------

samba-tool user create bind.probe 'Probe-pw-4711' -H "$H_SAMBA_DIR/private/sam.ldb" \
    -s "$H_SAMBA_CONF" >&2 2>&1
t_eq probe-user-created 0 $?
printf 'Probe-pw-4711' >"$T/probe.pw"
printf 'Wrong-pw-4711' >"$T/wrong.pw"
chmod 0600 "$T/probe.pw" "$T/wrong.pw"
probe_bind() {	# PWFILE
	ldapsearch -x -LLL -H "$H_SAMBA_URI" -D "bind.probe@corp.test" -y "$1" \
	    -b '' -s base highestCommittedUSN >/dev/null 2>&1
}
u0=$(h_samba_usn)
probe_bind "$T/probe.pw"
t_eq probe-first-bind-ok 0 $?
u1=$(h_samba_usn)
h_samba_search "(uSNChanged>=$((u0 + 1)))" dn lastLogonTimestamp lastLogon logonCount \
    >"$T/firstbind.out" 2>&1
say "first bind of a new account: highestCommittedUSN $u0 -> $u1, changed: $(grep -E '^(dn|lastLogon|logonCount)' "$T/firstbind.out" | tr '\n' ' ')"
t_eq first-bind-moves-usn-by-1 "$((u0 + 1))" "$u1"
t_eq first-bind-changes-only-the-account \
    "dn: CN=bind.probe,CN=Users,$H_SAMBA_BASE" "$(grep '^dn: ' "$T/firstbind.out")"
t_grep first-bind-sets-lastlogontimestamp '^lastLogonTimestamp: [1-9][0-9]*$' "$T/firstbind.out"
i=0
while [ $i -lt 5 ]; do probe_bind "$T/probe.pw"; i=$((i + 1)); done
u2=$(h_samba_usn)
say "5 more binds: highestCommittedUSN $u1 -> $u2"
t_eq later-binds-usn-stable "$u1" "$u2"
probe_bind "$T/wrong.pw"
t_eq bad-password-refused 49 $?
probe_bind "$T/probe.pw"
u3=$(h_samba_usn)
say "bad password, then a good bind: highestCommittedUSN $u2 -> $u3"
t_eq bad-password-usn-stable "$u2" "$u3"
h_samba_search '(sAMAccountName=bind.probe)' lastLogon logonCount badPwdCount >"$T/probe.out" 2>&1
say "after 7 binds: $(grep -E '^(lastLogon|logonCount|badPwdCount)' "$T/probe.out" | tr '\n' ' ')"

# --- add ---------------------------------------------------------------------------

u0=$(h_samba_usn)
h_samba_modify <<EOF
dn: CN=New Contact,OU=Contacts,OU=Corp,$H_SAMBA_BASE
changetype: add
objectClass: contact
displayName: New Contact
mail: new.contact@partner.example
proxyAddresses: SMTP:new.contact@partner.example
proxyAddresses: smtp:new.contact@corp.test
EOF
t_eq add-ok 0 $?
u1=$(h_samba_usn)
h_samba_search "(uSNChanged>=$((u0 + 1)))" dn uSNChanged >"$T/add.out" 2>&1
say "add: highestCommittedUSN $u0 -> $u1; (uSNChanged>=$((u0 + 1))): $(grep -E '^(dn|uSNChanged)' "$T/add.out" | tr '\n' ' ')"
t_check add-usn-increases test "$u1" -gt "$u0"
t_eq add-usn-search-exact "dn: CN=New Contact,OU=Contacts,OU=Corp,$H_SAMBA_BASE" \
    "$(grep '^dn: ' "$T/add.out")"
t_eq add-usnchanged-is-highest "uSNChanged: $u1" "$(grep '^uSNChanged: ' "$T/add.out")"

# --- remove every proxyAddresses value of a user -------------------------------------

cm="CN=Change Me,OU=Sales,OU=Corp,$H_SAMBA_BASE"
guid0=$(h_samba_search '(sAMAccountName=change.me)' objectGUID 2>/dev/null |
    sed -n 's/^objectGUID:: //p')
u0=$(h_samba_usn)
printf 'dn: %s\nchangetype: modify\ndelete: proxyAddresses\n' "$cm" | h_samba_modify
t_eq unmail-ok 0 $?
u1=$(h_samba_usn)
h_samba_search "(uSNChanged>=$((u0 + 1)))" dn uSNChanged proxyAddresses >"$T/unmail.out" 2>&1
say "proxyAddresses removed: highestCommittedUSN $u0 -> $u1; (uSNChanged>=$((u0 + 1))): $(grep -E '^(dn|uSNChanged)' "$T/unmail.out" | tr '\n' ' ')"
t_eq unmail-usn-search-finds-it "dn: $cm" "$(grep '^dn: ' "$T/unmail.out")"
t_eq unmail-usnchanged-bumped "uSNChanged: $u1" "$(grep '^uSNChanged: ' "$T/unmail.out")"
t_eq unmail-no-proxyaddresses 0 "$(grep -c '^proxyAddresses' "$T/unmail.out")"
# With the export filter, the change is invisible: an incremental search
# must not filter on proxyAddresses.
t_eq unmail-filtered-search-misses-it 0 \
    "$(h_samba_search "(&(uSNChanged>=$((u0 + 1)))(proxyAddresses=smtp:*))" dn 2>/dev/null | dn_count)"

# --- rename and move: objectGUID stays -------------------------------------------------

u0=$(h_samba_usn)
h_samba_modify <<EOF
dn: $cm
changetype: modrdn
newrdn: CN=Changed Name
deleteoldrdn: 1
newsuperior: OU=Engineering,OU=Corp,$H_SAMBA_BASE
EOF
t_eq rename-ok 0 $?
h_samba_search "(uSNChanged>=$((u0 + 1)))" dn objectGUID >"$T/rename.out" 2>&1
t_eq rename-usn-search-new-dn "dn: CN=Changed Name,OU=Engineering,OU=Corp,$H_SAMBA_BASE" \
    "$(grep '^dn: ' "$T/rename.out")"
t_eq rename-objectguid-kept "$guid0" "$(sed -n 's/^objectGUID:: //p' "$T/rename.out")"

# --- delete: gone from normal searches, a tombstone for the privileged ------------------

victim="CN=Jon Duplicate,OU=Sales,OU=Corp,$H_SAMBA_BASE"
vguid=$(h_samba_search '(sAMAccountName=jon.duplicate)' objectGUID 2>/dev/null |
    sed -n 's/^objectGUID:: //p')
u0=$(h_samba_usn)
printf 'dn: %s\nchangetype: delete\n' "$victim" | h_samba_modify
t_eq delete-ok 0 $?
u1=$(h_samba_usn)
n=$(h_samba_search "(uSNChanged>=$((u0 + 1)))" dn 2>/dev/null | dn_count)
say "delete: highestCommittedUSN $u0 -> $u1; (uSNChanged>=$((u0 + 1))) as svc-rcpt: $n entries"
t_check delete-usn-increases test "$u1" -gt "$u0"
t_eq delete-usn-search-finds-nothing 0 "$n"
t_eq delete-gone-from-search 0 \
    "$(h_samba_search '(sAMAccountName=jon.duplicate)' dn 2>/dev/null | dn_count)"
t_eq delete-gone-by-proxyaddress 0 \
    "$(h_samba_search '(proxyAddresses=smtp:jon.duplicate@corp.test)' dn 2>/dev/null | dn_count)"
# The show-deleted control (1.2.840.113556.1.4.417): nothing for the
# service account, the tombstone for Administrator.
t_eq delete-tombstone-hidden-from-svc 0 \
    "$(svc -E '!1.2.840.113556.1.4.417' "(uSNChanged>=$((u0 + 1)))" dn 2>/dev/null | dn_count)"
adm -E '!1.2.840.113556.1.4.417' "(uSNChanged>=$((u0 + 1)))" \
    objectGUID isDeleted proxyAddresses >"$T/tomb.out" 2>&1
say "tombstone: $(grep -E '^(dn|isDeleted|objectGUID)' "$T/tomb.out" | tr '\n' ' ')"
t_grep delete-tombstone-isdeleted '^isDeleted: TRUE$' "$T/tomb.out"
t_eq delete-tombstone-same-guid "$vguid" "$(sed -n 's/^objectGUID:: //p' "$T/tomb.out")"
t_eq delete-tombstone-no-proxyaddresses 0 "$(grep -c '^proxyAddresses' "$T/tomb.out")"

# --- restart: same data, same USN, same invocationId --------------------------------------

u0=$(h_samba_usn)
old=$H_SAMBA_PID
say "stopping samba $old"
h_samba_stop
if h_alive "$old"; then t_fail samba-stopped "pid $old still running"; else
	t_ok samba-stopped; fi
h_samba_start || exit 1
say "restarted samba: $H_SAMBA_PID"
u1=$(h_samba_usn)
say "restart: highestCommittedUSN $u0 -> $u1"
t_eq restart-usn-kept "$u0" "$u1"
t_eq restart-invocationid-kept "$inv" "$(inv_of)"
t_eq restart-data-kept 1 \
    "$(h_samba_search '(proxyAddresses=smtp:new.contact@corp.test)' dn 2>/dev/null | dn_count)"

say "total ${start_s}s start, $(( $(date +%s) - T0 ))s in all"
t_done
