#!/bin/sh
# t-agent-authonly.sh - recipients that accept mail only from
# authenticated senders (msExchRequireAuthToSendTo TRUE).
#
# Against the harness slapd (full exports): left out of the export by
# default and counted in the summary; [agent] include_auth_only = yes
# keeps them and says so; clearing the flag brings the addresses back; a
# bad value is refused.
#
# Against the Samba AD DC, its schema extended with the attribute under
# AD's OID (tests/fixture/samba-exchange.ldif), through sshd, the
# receiver and Postfix, by change detection:
#   sync    a user mail-enabled from the start; the flag set (TRUE): the
#           next one-shot sync is a delta of one object, not a full
#           export, and the pushed list is the first one without that
#           user's addresses (Postfix 550 5.1.1); the flag cleared (FALSE):
#           the next delta brings them back (250), the list is the first
#   run     a mail-enabled group, `run` polling every 2 s: the flag set
#           leaves the group out at the next poll (a delta), the attribute
#           deleted brings it back; one full export only, the first poll's
# The service account, a plain Domain User, reads the flag (else the
# agent would list the object silently); Samba refuses a value that is
# not a Boolean.
#
# Needs: slapd, Samba, sshd, Postfix (harness), ldapmodify, comm, the
# agent and the receiver built.  Samba holds port 389: the test runs in
# its own network namespace.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" cmp comm ldapmodify
T=$(t_tmp)

h_fixture 200 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
h_agent_pin_none "$T/agent.conf"

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

h_slapd_stop

# --- Samba: the flag in delta cycles ---------------------------------------
h_samba_start 300 || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
H_AGENT_STATE=$T/sstate
h_agent_conf "$T/samba.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5

# One user and one group, mail-enabled before the first export.
h_samba_add_user auth.user auth.user@corp.test au.alias@example.org \
    >"$T/add-user.out" 2>&1
t_eq samba-user-added 0 $?
udn="CN=auth.user,OU=Engineering,OU=Corp,$H_SAMBA_BASE"
gdn="CN=auth-staff,OU=Corp,$H_SAMBA_BASE"
h_samba_modify <<EOF >"$T/add-group.out" 2>&1
dn: $gdn
changetype: add
objectClass: group
sAMAccountName: auth-staff
proxyAddresses: SMTP:auth-staff@corp.test
proxyAddresses: smtp:auth-everyone@example.org

EOF
t_eq samba-group-added 0 $?
printf '%s\n' au.alias@example.org auth.user@corp.test >"$T/user.addrs"
printf '%s\n' auth-everyone@example.org auth-staff@corp.test >"$T/group.addrs"

# sflag DN VALUE: set the flag, or delete the attribute when VALUE is -.
sflag() {
	if [ "$2" = - ]; then
		printf 'dn: %s\nchangetype: modify\ndelete: %s\n\n' "$1" \
		    msExchRequireAuthToSendTo
	else
		printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n\n' \
		    "$1" msExchRequireAuthToSendTo msExchRequireAuthToSendTo "$2"
	fi | h_samba_modify
}
# rcpt_all WANT FILE: Postfix answers WANT for every address in FILE.
rcpt_all() {
	while read -r _a; do
		[ "$(h_rcpt "$_a")" = "$1" ] || return 1
	done <"$2"
}
# wait_rcpt_all WANT FILE SECS: until rcpt_all holds, at most SECS.
wait_rcpt_all() {
	_i=0
	until rcpt_all "$1" "$2"; do
		_i=$((_i + 1))
		[ "$_i" -le "$3" ] || return 1
		sleep 1
	done
}
# ssync NAME: one one-shot sync, its log in NAME.err.
ssync() {
	"$AGENT" -c "$T/samba.conf" sync 2>"$T/$1.err"
	_rc=$?
	cat "$T/$1.err" >&2
	t_eq "$1-exit" 0 "$_rc"
}
# list_is NAME WANT: the list last pushed is WANT, byte for byte.
list_is() { t_same_file "$1" "$2" "$H_AGENT_STATE/last.list"; }
# one_delta NAME FILE [COUNT]: a cycle that read one changed object.
one_delta() {
	t_check "$1" t_wait_log "$2" \
	    'cycle [0-9]+: changes from USN [0-9]+ to [0-9]+: 1 object\(s\)' \
	    20 "${3:-1}"
}

# 1. sync: a user, flag set then cleared, each seen by a delta.
ssync sync-first
t_grep sync-first-full 'cycle 1: full export' "$T/sync-first.err"
t_check sync-first-user-250 wait_rcpt_all 250 "$T/user.addrs" 10
t_check sync-first-group-250 wait_rcpt_all 250 "$T/group.addrs" 10
cp "$H_AGENT_STATE/last.list" "$T/first.list"
LC_ALL=C comm -23 "$T/first.list" "$T/user.addrs" >"$T/no-user.list"
LC_ALL=C comm -23 "$T/first.list" "$T/group.addrs" >"$T/no-group.list"
t_eq sync-first-lists-user 2 \
    "$(LC_ALL=C comm -12 "$T/first.list" "$T/user.addrs" | wc -l)"

sflag "$udn" TRUE 2>"$T/flag1.err"
t_eq user-flag-set 0 $?
# The service account must read the flag, or the agent lists the object.
t_eq user-flag-readable-by-service-account \
    "msExchRequireAuthToSendTo: TRUE" "$(h_samba_search '(cn=auth.user)' \
    msExchRequireAuthToSendTo | grep '^msExchRequireAuthToSendTo:')"
ssync sync-set
one_delta sync-set-delta "$T/sync-set.err"
t_check sync-set-not-full sh -c "! grep -q 'full export' '$T/sync-set.err'"
t_grep sync-set-installed 'sync mx1: installed sequence' "$T/sync-set.err"
list_is sync-set-list-without-user "$T/no-user.list"
t_check sync-set-user-550 wait_rcpt_all "550 5.1.1" "$T/user.addrs" 10
t_check sync-set-group-still-250 rcpt_all 250 "$T/group.addrs"

sflag "$udn" FALSE 2>"$T/flag2.err"
t_eq user-flag-cleared 0 $?
ssync sync-clear
one_delta sync-clear-delta "$T/sync-clear.err"
t_check sync-clear-not-full sh -c "! grep -q 'full export' '$T/sync-clear.err'"
list_is sync-clear-list-is-first "$T/first.list"
t_check sync-clear-user-250 wait_rcpt_all 250 "$T/user.addrs" 10

# Samba keeps the Boolean syntax: ldapmodify exits 21 (invalidAttributeSyntax).
sflag "$udn" maybe 2>"$T/flag3.err"
t_eq user-flag-not-boolean-refused 21 $?

# 2. run, polling every 2 s: a group, flag set then the attribute deleted.
h_agent_conf_with "$T/samba.conf" "$T/run.conf" interval=2s full_interval=1h
"$AGENT" -e -c "$T/run.conf" run 2>"$T/run.err" &
apid=$!
t_cleanup "kill $apid 2>/dev/null"
t_check run-first-cycle t_wait_log "$T/run.err" 'cycle 1: ' 30
sflag "$gdn" TRUE 2>"$T/flag4.err"
t_eq group-flag-set 0 $?
one_delta run-set-delta "$T/run.err"
t_check run-set-group-550 wait_rcpt_all "550 5.1.1" "$T/group.addrs" 20
list_is run-set-list-without-group "$T/no-group.list"
sflag "$gdn" - 2>"$T/flag5.err"
t_eq group-flag-deleted 0 $?
one_delta run-clear-delta "$T/run.err" 2
t_check run-clear-group-250 wait_rcpt_all 250 "$T/group.addrs" 20
kill "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
cat "$T/run.err" >&2
list_is run-clear-list-is-first "$T/first.list"
t_eq run-one-full-export 1 \
    "$(grep -c 'cycle [0-9]*: full export' "$T/run.err")"
h_samba_stop

t_done
