#!/bin/sh
# t-agent-ldapfail.sh - an LDAP failure in the middle of the paged export
# aborts the whole cycle: slapd is killed (and, separately, frozen past
# the timeout) while the agent is between pages.  The agent must exit
# non-zero with a clear message naming the server and the LDAP error,
# push nothing (the relay's incoming/ untouched, no sequence number used,
# the installed map unchanged), and succeed on the next run once slapd is
# back.
#
# Reliability: page_size = 1 turns the export into thousands of round
# trips, and the test waits for the agent's own "page N" debug line before
# it strikes, so the failure always lands mid-paging.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER"
T=$(t_tmp)

h_fixture 20000 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1

conf() {	# write the agent config for the current slapd port
	h_agent_conf "$T/agent.conf.in" || exit 1
	sed "s|^bind = simple|bind = simple\npage_size = 1\ntimeout = 3s|" \
	    "$T/agent.conf.in" | grep -v '^timeout = 10s' >"$T/agent.conf"
}
conf
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5

# wait_page FILE N: until the agent logged page N (at most 60 s).
wait_page() {
	_i=0
	while ! grep -q "page $2, " "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -gt 600 ] && return 1
		sleep 0.1
	done
}

cp "$H_MAP" "$T/map.before"
before=$(ls -A "$SFTP_INCOMING")

# --- slapd killed between pages -------------------------------------------
"$AGENT" -v -c "$T/agent.conf" sync 2>"$T/kill.err" &
apid=$!
t_cleanup "kill $apid 2>/dev/null"
if wait_page "$T/kill.err" 50; then
	h_slapd_kill
	t_ok kill-mid-paging
else
	t_fail kill-mid-paging "the agent never reached page 50"
fi
wait $apid
rc=$?
t_check kill-exit-nonzero test "$rc" -ne 0
t_eq kill-exit-code 1 "$rc"
t_grep kill-message-server "export dc=corp,dc=test from $LDAP_URI: page [0-9]+ failed after [0-9]+ entries: .*(contact|Can't|connect|server)" "$T/kill.err"
t_grep kill-nothing-pushed 'export failed; nothing pushed' "$T/kill.err"
t_check kill-export-incomplete sh -c "! grep -q 'page [0-9]*, 1[0-9][0-9][0-9][0-9] entries' '$T/kill.err'"
t_eq kill-incoming-untouched "$before" "$(ls -A "$SFTP_INCOMING")"
t_check kill-no-sequence test ! -e "$H_AGENT_STATE/seq"
t_check kill-no-last-list test ! -e "$H_AGENT_STATE/last.list"
t_same_file kill-map-unchanged "$T/map.before" "$H_MAP"

# --- slapd back: the next run succeeds ------------------------------------
h_slapd_start || exit 1
conf
"$AGENT" -c "$T/agent.conf" sync 2>"$T/again.err"
t_eq again-exit 0 $?
t_grep again-installed 'sync mx1: installed sequence' "$T/again.err"
t_eq again-rcpt 250 "$(h_rcpt "$(head -n 1 "$T/fx/expected.txt")")"
cp "$H_MAP" "$T/map.good"
seq=$(cat "$H_AGENT_STATE/seq")

# --- slapd frozen between pages: the timeout aborts the cycle -------------
before=$(ls -A "$SFTP_INCOMING")
"$AGENT" -v -c "$T/agent.conf" sync 2>"$T/stop.err" &
apid=$!
t_cleanup "kill $apid 2>/dev/null"
if wait_page "$T/stop.err" 50; then
	kill -STOP "$H_SLAPD_PID"
	t_ok stop-mid-paging
else
	t_fail stop-mid-paging "the agent never reached page 50"
fi
wait $apid
rc=$?
kill -CONT "$H_SLAPD_PID"
t_eq stop-exit-code 1 "$rc"
t_grep stop-message "page [0-9]+ failed after [0-9]+ entries: .*(Timed out|time|Time)" "$T/stop.err"
t_eq stop-incoming-untouched "$before" "$(ls -A "$SFTP_INCOMING")"
t_eq stop-seq-unused "$seq" "$(cat "$H_AGENT_STATE/seq")"
t_same_file stop-map-unchanged "$T/map.good" "$H_MAP"
t_done
