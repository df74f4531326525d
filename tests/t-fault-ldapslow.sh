#!/bin/sh
# t-fault-ldapslow.sh - slapd alive but answering slowly, past the agent's
# timeout, in the middle of the paged export.
#
# The agent reaches slapd through tests/fault/tcpproxy.py.  In mode
# "slow N 8" the proxy passes the bind and the first pages (N bytes of
# answers) at once, then holds every further chunk of slapd's answers for
# 8 s: the server is alive, the TCP connection open, but each answer comes
# later than the agent's 3 s timeout.  (A SIGSTOPped slapd is covered by
# t-agent-ldapfail.sh.)  Asserts: the agent exits 1 with a message naming
# the page and a timeout; nothing is pushed (incoming/ untouched, no
# sequence used); the live map is byte-identical.  With the proxy back to
# "pass" and the same config, the next sync installs the list.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/fault/lib.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" python3
T=$(t_tmp)

h_fixture 5000 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
f_proxy_start ldap "$LDAP_PORT" || { t_fail proxy-start "see log"; exit 1; }
h_agent_conf "$T/agent.conf.in" || exit 1
sed -e "s|^server = .*|server = ldap://127.0.0.1:$F_PORT|" \
    -e "s|^bind = simple|bind = simple\npage_size = 100\ntimeout = 3s|" \
    "$T/agent.conf.in" | grep -v '^timeout = 10s' >"$T/agent.conf"

h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.3

"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync1.err"
t_eq "sync through the proxy: exit 0" 0 $?
real=$(head -n 1 "$T/fx/expected.txt")
t_eq "sync through the proxy: Postfix answers" 250 "$(h_rcpt "$real")"
cp "$H_MAP" "$T/map.good"
seq=$(cat "$H_AGENT_STATE/seq")
down=$(awk '$1 == "conn" { for (i = 3; i < NF; i++) if ($i == "down" && $(i + 1) > m) m = $(i + 1) }
    END { print m + 0 }' "$F_LOG")
echo "one export reads $down bytes from slapd" >&2

# A change, so that a completed export would push.
ANCHOR_DN=$(f_anchor_dn "$T/fx")
t_check "ldap: add slow.tester" f_add_addr "$ANCHOR_DN" slow.tester@corp.test

before=$(ls -A "$SFTP_INCOMING")
echo "slow $((down / 3)) 8" >"$F_MODE"
_t0=$(date +%s)
"$AGENT" -v -c "$T/agent.conf" sync 2>"$T/slow.err"
rc=$?
el=$(( $(date +%s) - _t0 ))
echo "slow sync gave up after ${el}s" >&2
t_eq "slow slapd: agent exits 1" 1 "$rc"
t_grep "slow slapd: it was mid-paging" 'page [0-9]+, ' "$T/slow.err"
t_grep "slow slapd: message names the page and the timeout" \
    "page [0-9]+ failed after [0-9]+ entries: .*(Timed out|time|Time)" "$T/slow.err"
t_grep "slow slapd: nothing pushed" 'export failed; nothing pushed' "$T/slow.err"
t_eq "slow slapd: incoming untouched" "$before" "$(ls -A "$SFTP_INCOMING")"
t_eq "slow slapd: sequence unused" "$seq" "$(cat "$H_AGENT_STATE/seq")"
t_same_file "slow slapd: live map byte-identical" "$T/map.good" "$H_MAP"
t_eq "slow slapd: Postfix unchanged" "250 550 5.1.1" \
    "$(h_rcpt "$real" slow.tester@corp.test | tr '\n' ' ' | sed 's/ $//')"

echo pass >"$F_MODE"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/again.err"
t_eq "recovered: agent exits 0" 0 $?
t_grep "recovered: installed" 'sync mx1: installed sequence' "$T/again.err"
t_eq "recovered: Postfix answers the new list" "250 250" \
    "$(h_rcpt "$real" slow.tester@corp.test | tr '\n' ' ' | sed 's/ $//')"
t_done
