#!/bin/sh
# t-agent-shrink.sh - an approved shrink (`sync --allow-shrink`) reaches
# every relay, also one that was down when it was approved.
#
# Two relays on the harness sshd, each with its own receiver (own spool,
# status file, state and map), run in a loop as the .path unit would:
# mx1 (incoming/, shrink_threshold 10%) and mx2 (incoming2/, 2%).
#
#   A first sync installs on both.  Half the directory goes: sync is
#   refused by the agent (exit 3), both maps stay byte for byte.
#   `sync --allow-shrink` while mx2 is down (its port closed): mx1
#   installs the flagged list, mx2 fails, and mx2's state keeps the
#   approval.  A plain sync with mx2 back: mx2 gets the list with the
#   flag (its receiver logs the signed approval), installs it, and the
#   approval is cleared; a later shrink is refused again.
#   The --relay form: another 5% goes; mx1 installs it, mx2's own 2%
#   guard refuses it (exit 5); `sync --allow-shrink --relay mx2` sends
#   the flag to mx2 only, and mx2 installs.
#   last.list, read line by line by the guard: every line twice counts
#   once (one object less is no shrink); cut short, sync fails naming
#   the file and line, and nothing is pushed.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" python3 cmp
T=$(t_tmp)

h_fixture 600 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1

# Receiver 1: the harness layout.  Receiver 2: a second spool and status
# directory in the same chroot, its own state and map.
h_receiver_conf "$T/r1.conf" || exit 1
install -d -o rcptsync-up -g rcptsync -m 02770 "$SFTP_ROOT/incoming2" &&
    install -d -o rcptsync -g rcptsync -m 0755 "$SFTP_ROOT/status2" &&
    mkdir -p "$T/r2-state" "$T/r2-map" || exit 1
MAP2=$T/r2-map/relay_recipients
sed -e "s|^spool_dir = .*|spool_dir = $SFTP_ROOT/incoming2|" \
    -e "s|^status_file = .*|status_file = $SFTP_ROOT/status2/status.json|" \
    -e "s|^state_dir = .*|state_dir = $T/r2-state|" \
    -e "s|^map = .*|map = $MAP2|" "$T/r1.conf" >"$T/r2.conf"
printf 'shrink_threshold = 2%%\n' >>"$T/r2.conf"
h_receiver_watch "$T/r1.conf" "$T/r1.log" 0.3 -v
h_receiver_watch "$T/r2.conf" "$T/r2.log" 0.3 -v

h_agent_conf "$T/one.conf" || exit 1
cp "$T/one.conf" "$T/two.conf"
sed -n '/^\[relay mx1\]/,$p' "$T/one.conf" |
    sed -e 's/^\[relay mx1\]/[relay mx2]/' \
	-e 's|^remote_dir = .*|remote_dir = incoming2|' \
	-e 's|^status_file = .*|status_file = status2/status.json|' \
	>>"$T/two.conf"
# mx2 down: the same state, its port closed.
awk '/^\[relay mx2\]/ { m = 1 } m && /^port = / { $0 = "port = 1" } { print }' \
    "$T/two.conf" >"$T/down.conf"
STATE=$H_AGENT_STATE

keys() { cut -f1 "$1" | LC_ALL=C sort; }
approval() { sed -n 's/^allow_shrink_entries //p' "$STATE/relay-$1.state"; }
# delete EVERY REM: remove the mail-enabled entries whose index in the
# fixture is REM modulo EVERY (ldapmodify -c: some may be gone already).
delete() {
	"$AGENT" -q -c "$T/one.conf" export -o "$T/now.txt" 2>/dev/null
	awk -v every="$1" -v rem="$2" '/^dn: / { dn = $0 }
	    /^proxyAddresses: / && dn != "" {
		if (n++ % every == rem) printf "%s\nchangetype: delete\n\n", dn
		dn = "" }' "$T/fx/fixture.ldif" >"$T/del.ldif"
	ldapmodify -c -x -H "$LDAP_URI" -D "$LDAP_ROOTDN" -w "$LDAP_ROOTPW" \
	    -f "$T/del.ldif" >/dev/null 2>&1
	return 0
}

"$AGENT" -c "$T/two.conf" sync 2>"$T/first.err"
t_eq "first sync: exit 0" 0 $?
t_grep "first sync: mx1 installed" 'sync mx1: installed sequence' "$T/first.err"
t_grep "first sync: mx2 installed" 'sync mx2: installed sequence' "$T/first.err"
t_eq "first sync: the same list on both" "$(keys "$H_MAP")" "$(keys "$MAP2")"

# --- half the directory goes: the agent refuses -------------------------
delete 2 0
cp "$H_MAP" "$T/map1.before"; cp "$MAP2" "$T/map2.before"
"$AGENT" -c "$T/two.conf" sync 2>"$T/refused.err"
t_eq "shrink: refused by the agent, exit 3" 3 $?
t_grep "shrink: says how to approve" 'shrank from [0-9]+ to [0-9]+ entries.*--allow-shrink' "$T/refused.err"
t_same_file "shrink: mx1 map unchanged" "$T/map1.before" "$H_MAP"
t_same_file "shrink: mx2 map unchanged" "$T/map2.before" "$MAP2"

# --- approved while mx2 is down -------------------------------------------
"$AGENT" -c "$T/down.conf" sync --allow-shrink 2>"$T/approve.err"
t_eq "approve with mx2 down: exit 5 (partial)" 5 $?
t_grep "approve: mx1 installed" 'sync mx1: installed sequence' "$T/approve.err"
t_grep "approve: mx2 not installed" 'sync mx2: sequence [0-9]+ not installed' "$T/approve.err"
t_grep "approve: mx1 took it flagged" 'APPROVED by the signed flag allow-shrink' "$T/r1.log"
n=$(wc -l <"$T/now.txt")
t_check "approve: mx1 has the shrunk list" test "$(keys "$H_MAP" | wc -l)" -lt $((n * 9 / 10))
t_same_file "approve: mx2 map unchanged" "$T/map2.before" "$MAP2"
kept=$(approval mx2)
t_check "approve: mx2 keeps the approval" test "${kept:-0}" -gt 0
t_eq "approve: mx1's approval done" 0 "$(approval mx1)"

# --- mx2 is back: a plain sync brings it the flag ---------------------------
"$AGENT" -c "$T/two.conf" sync 2>"$T/back.err"
t_eq "mx2 back: exit 0" 0 $?
t_grep "mx2 back: flag from the kept approval" "sync mx2: ALLOW-SHRINK approved at .* \\(a list of $kept entries\\) and not yet installed there" "$T/back.err"
t_grep "mx2 back: installed" 'sync mx2: installed sequence' "$T/back.err"
t_grep "mx2 back: mx1 unchanged" 'sync mx1: unchanged' "$T/back.err"
t_grep "mx2 back: receiver approved by the signed flag" 'APPROVED by the signed flag allow-shrink' "$T/r2.log"
t_eq "mx2 back: the same list on both" "$(keys "$H_MAP")" "$(keys "$MAP2")"
t_eq "mx2 back: approval done" 0 "$(approval mx2)"

# The approval was for that shrink only.
delete 3 1
cp "$H_MAP" "$T/map1.before"; cp "$MAP2" "$T/map2.before"
"$AGENT" -c "$T/two.conf" sync 2>"$T/again.err"
t_eq "next shrink: refused again, exit 3" 3 $?
t_same_file "next shrink: mx1 map unchanged" "$T/map1.before" "$H_MAP"
t_same_file "next shrink: mx2 map unchanged" "$T/map2.before" "$MAP2"
"$AGENT" -c "$T/two.conf" sync --allow-shrink 2>"$T/again2.err"
t_eq "next shrink approved: exit 0" 0 $?

# --- the --relay form: only mx2's own guard objects -------------------------
delete 40 39
cp "$MAP2" "$T/map2.before"
"$AGENT" -c "$T/two.conf" sync 2>"$T/small.err"
t_eq "5% shrink: mx1 installs, mx2 refuses (exit 5)" 5 $?
t_grep "5% shrink: mx2's reason" 'sync mx2: the receiver refused sequence [0-9]+: shrink' "$T/small.err"
t_same_file "5% shrink: mx2 map unchanged" "$T/map2.before" "$MAP2"
"$AGENT" -c "$T/two.conf" sync --allow-shrink --relay mx2 2>"$T/relay.err"
t_eq "--relay mx2 --allow-shrink: exit 0" 0 $?
t_grep "--relay mx2: approval logged" 'sync mx2: ALLOW-SHRINK: the administrator approved a list of' "$T/relay.err"
t_check "--relay mx2: nothing about mx1" sh -c "! grep -q 'mx1' '$T/relay.err'"
t_grep "--relay mx2: installed" 'sync mx2: installed sequence' "$T/relay.err"
t_eq "--relay mx2: the same list on both" "$(keys "$H_MAP")" "$(keys "$MAP2")"
t_eq "--relay mx2: approval done" 0 "$(approval mx2)"

# --- last.list as the guard reads it: line by line, never whole ------------
# Every line twice: a line equal to the one before counts once, so one
# object less is no shrink (counted twice it would be one of 50%).
# delete_one: one object with an address goes.
delete_one() {
	_dn=$(ldapsearch -LLL -x -H "$LDAP_URI" -D "$LDAP_ROOTDN" \
	    -w "$LDAP_ROOTPW" -b "$LDAP_BASE" -z 1 '(proxyAddresses=smtp:*)' \
	    dn 2>/dev/null | sed -n 's/^dn: //p' | head -n 1)
	printf 'dn: %s\nchangetype: delete\n\n' "$_dn" >"$T/del1.ldif"
	ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ROOTDN" -w "$LDAP_ROOTPW" \
	    -f "$T/del1.ldif" >/dev/null 2>&1
}
cp "$STATE/last.list" "$T/last.keep"
sed p "$T/last.keep" >"$STATE/last.list"
delete_one
"$AGENT" -c "$T/one.conf" sync 2>"$T/dup.err"
t_eq "last.list with every line twice: one object less is no shrink (exit 0)" \
    0 $?
# Cut short (no LF after the last address): the guard refuses to guess.
cp "$STATE/last.list" "$T/last.keep"
head -c -1 "$T/last.keep" >"$STATE/last.list"
delete_one
cp "$H_MAP" "$T/map1.before"
"$AGENT" -c "$T/one.conf" sync 2>"$T/cut.err"
t_eq "last.list cut short: sync fails (exit 1)" 1 $?
t_grep "last.list cut short: the file and the line named" \
    "read .*last\.list: line [0-9]+: " "$T/cut.err"
t_same_file "last.list cut short: mx1 map unchanged" "$T/map1.before" "$H_MAP"
t_done
