#!/bin/sh
# t-agent-fresh.sh - freshness (a change reaches the relay within a
# poll) against a directory that keeps
# USNs: Debian's Samba AD DC (tests/harness.sh h_samba_start, docs/HACKING.md
# "Samba AD DC as the directory"), sshd, the receiver and a Postfix.
#
#   defaults  `run` with the default settings (poll 1m, full export 1h):
#             a new mail-enabled user gets 250 within 90 s of its creation,
#             and an address whose proxyAddresses were cleared gets
#             550 5.1.1 within 90 s
#   idle      10 polls with nothing changed read <= 10 entries and push no
#             list bytes (the counters are printed)
#   delete    a deleted object stays (tombstones are not returned to a
#             delta search) until the next full export, which removes it
#   heartbeat with nothing to push, a heartbeat reaches the receiver: it
#             records it, the map is not rebuilt
#   cache     a one-shot sync continues from STATE/dircache; another DC,
#             another filter or a damaged cache each force a full export
#   feedback  a refusal is event 3004; a relay that confirms nothing for
#             stale_warning / stale_critical raises 2002 / 3007, once
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" ssh-keygen python3 ldapmodify
T=$(t_tmp)

h_samba_start || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1

h_agent_keygen "$AGENT" "$T" || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5

wait_rcpt() { h_wait_rcpt "$@" 1; }
agent_start() {
	"$AGENT" -e -c "$1" run 2>"$2" &
	AGENT_PID=$!
	t_cleanup "kill $AGENT_PID 2>/dev/null"
}
agent_stop() {
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
}
# cycles FILE FROM TO: the cycle lines FROM..TO of a run log, as
# "N WHAT; read E entries, B bytes; pushed L list bytes, H heartbeats; ...".
cycles() {
	sed -n 's/^.*cycle \([0-9]*\): \(.*\)$/\1 \2/p' "$1" |
	    awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b'
}
# sum_of N: add up field N of "E B L H" (this cycle's counters) on stdin.
sum_of() {
	sed -n 's/^.*; read \([0-9]*\) entries, \([0-9]*\) bytes; pushed \([0-9]*\) list bytes, \([0-9]*\) heartbeats;.*$/\1 \2 \3 \4/p' |
	    awk -v f="$1" '{ s += $f } END { print s + 0 }'
}

# --- defaults: a new user and a cleared user within 90 s -----------------
agent_start "$T/agent.conf" "$T/run1.err"
t_check defaults-first-full t_wait_log "$T/run1.err" \
    'cycle 1: full export \(first poll since start\)' 60
t_check defaults-installed t_wait_log "$T/run1.err" \
    'sync mx1: installed sequence' 60
t_grep defaults-interval 'every 60s' "$T/run1.err"
known=$(head -n 1 "$H_SAMBA_EXPECTED")
t_eq defaults-known-250 250 "$(h_rcpt "$known")"

# Both changes in the same minute: a new mailbox, and one whose
# proxyAddresses are cleared; each is timed from its own change.
new=fresh.hire@corp.test
gone=$(grep '^user\.[0-9]*@corp\.test$' "$H_SAMBA_EXPECTED" | head -n 1)
gone_dn=$(h_samba_search "(proxyAddresses=smtp:$gone)" dn | sed -n 's/^dn: //p')
[ -n "$gone_dn" ] || t_fail cleared-user-found "no object has $gone"
t_eq new-user-absent "550 5.1.1" "$(h_rcpt "$new")"
t_eq cleared-user-present 250 "$(h_rcpt "$gone")"
t_new=$(date +%s)
h_samba_add_user fresh.hire "$new" \
    X500:/o=Corp/ou=Exchange/cn=Recipients/cn=fresh.hire >"$T/add.out" 2>&1
t_eq new-user-added 0 $?
t_gone=$(date +%s)
h_samba_modify <<EOF >"$T/clear.out" 2>&1
dn: $gone_dn
changetype: modify
delete: proxyAddresses
EOF
t_eq cleared-user-modified 0 $?
if secs=$(wait_rcpt "$new" 250 90 "$t_new"); then
	t_ok "new mailbox: 250 from Postfix ${secs}s after it was created (limit 90s, poll 60s)"
else
	t_fail new-user-within-90s "still $(h_rcpt "$new") after ${secs}s"
fi
if secs=$(wait_rcpt "$gone" "550 5.1.1" 90 "$t_gone"); then
	t_ok "cleared proxyAddresses: 550 5.1.1 from Postfix ${secs}s after the change (limit 90s)"
else
	t_fail cleared-within-90s "still $(h_rcpt "$gone") after ${secs}s"
fi
t_check changes-one-delta t_wait_log "$T/run1.err" \
    'cycle [0-9]+: changes from USN [0-9]+ to [0-9]+: [12] object' 5
agent_stop

# --- idle: 10 polls, <= 10 entries, no list bytes -------------------------
h_agent_conf_with "$T/agent.conf" "$T/fast.conf" interval=2s full_interval=1h
agent_start "$T/fast.conf" "$T/run2.err"
t_check idle-cycles t_wait_log "$T/run2.err" 'cycle 11: ' 60
# One connection (one bind, one logon on the DC) for all the polls.
t_eq idle-one-connection 1 "$(grep -c 'poll: connected to ' "$T/run2.err")"
# The DC restarts: the kept connection fails once, the agent connects
# again and goes on incrementally (same DC, same invocationId).
h_samba_stop
h_samba_start || exit 1
t_check dc-restart-reconnect t_wait_log "$T/run2.err" \
    'the kept connection failed .*; connecting again' 30
t_check dc-restart-connected-again t_wait_log "$T/run2.err" \
    'poll: connected to ' 40 2
ncyc=$(grep -c 'cycle [0-9]*: ' "$T/run2.err")
t_check dc-restart-next-cycle t_wait_log "$T/run2.err" 'cycle [0-9]*: ' 40 \
    $((ncyc + 1))
agent_stop
grep 'cycle [0-9]*: ' "$T/run2.err" | tail -n 1 >"$T/last.txt"
t_grep dc-restart-incremental 'no change \(USN' "$T/last.txt"
t_eq dc-restart-no-full-export 1 \
    "$(grep -c 'cycle [0-9]*: full export' "$T/run2.err")"
cycles "$T/run2.err" 2 11 >"$T/idle.txt"
n=$(wc -l <"$T/idle.txt")
entries=$(sum_of 1 <"$T/idle.txt")
bytes=$(sum_of 2 <"$T/idle.txt")
lbytes=$(sum_of 3 <"$T/idle.txt")
beats=$(sum_of 4 <"$T/idle.txt")
nochange=$(grep -c '^[0-9]* no change (USN ' "$T/idle.txt")
t_eq idle-10-cycles 10 "$n"
t_eq idle-all-no-change 10 "$nochange"
if [ "$entries" -le 10 ] && [ "$lbytes" -eq 0 ]; then
	t_ok "10 idle polls: read $entries entries ($bytes bytes), pushed $lbytes list bytes, $beats heartbeats"
else
	t_fail idle-counters "read $entries entries, pushed $lbytes list bytes"
	cat "$T/idle.txt" >&2
fi

# --- delete: only a full export notices -----------------------------------
del=$(grep '^user\.[0-9]*@corp\.test$' "$H_SAMBA_EXPECTED" | tail -n 1)
del_dn=$(h_samba_search "(proxyAddresses=smtp:$del)" dn | sed -n 's/^dn: //p')
h_agent_conf_with "$T/agent.conf" "$T/full.conf" interval=2s full_interval=20s
agent_start "$T/full.conf" "$T/run3.err"
t_check delete-start t_wait_log "$T/run3.err" 'cycle 1: full export' 30
h_samba_modify <<EOF >"$T/del.out" 2>&1
dn: $del_dn
changetype: delete
EOF
t_eq delete-done 0 $?
t_del=$(date +%s)
t_check delete-delta-seen t_wait_log "$T/run3.err" \
    'cycle [0-9]+: changes from USN [0-9]+ to [0-9]+: none for the list' 10
sleep 3
t_eq "deleted object: still 250 before the full export (tombstones are not returned)" \
    250 "$(h_rcpt "$del")"
if secs=$(wait_rcpt "$del" "550 5.1.1" 60 "$t_del"); then
	t_ok "deleted object: 550 5.1.1 after the next full export (${secs}s, full_interval 20s)"
else
	t_fail delete-full-export "still $(h_rcpt "$del") after ${secs}s"
fi
t_check delete-by-full t_wait_log "$T/run3.err" \
    'full export \(full_interval passed\); read [0-9]+ entries, [0-9]+ bytes; pushed [1-9]' 30
agent_stop

# --- heartbeat: recorded by the receiver, the map not rebuilt -------------
map_db=$(ls "$H_MAP".* 2>/dev/null | head -n 1)
h_agent_conf_with "$T/agent.conf" "$T/beat.conf" interval=2s \
    heartbeat_interval=2s
agent_start "$T/beat.conf" "$T/run4.err"
t_check heartbeat-start t_wait_log "$T/run4.err" 'cycle 1: ' 30
before=$(stat -c '%i %Y %s' "$map_db")
beats0=$(grep -c 'heartbeat [0-9]* confirmed' "$T/run4.err")
t_check heartbeat-sent t_wait_log "$T/run4.err" 'heartbeat [0-9]* confirmed' \
    40 $((beats0 + 1))
agent_stop
t_grep heartbeat-cycle-line 'pushed 0 list bytes, 1 heartbeats' "$T/run4.err"
t_eq heartbeat-map-not-rebuilt "$before" "$(stat -c '%i %Y %s' "$map_db")"
"$RECEIVER" -c "$T/receiver.conf" status >"$T/status.out" 2>&1
t_grep heartbeat-in-status 'heartbeat' "$T/status.out"

# --- cache: a one-shot sync continues; what forces a full export ----------
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync1.err"
t_eq cache-sync-exit 0 $?
t_grep cache-sync-no-full 'cycle 1: no change \(USN [0-9]+\); read 1 entries' \
    "$T/sync1.err"
cache=$H_AGENT_STATE/dircache
sed -i '3s/^server .*/server CN=NTDS Settings,CN=DC9,CN=Elsewhere/' "$cache"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync2.err"
t_grep cache-other-dc 'full export \(another DC answers' "$T/sync2.err"
sed 's/^base = .*/&\nfilter = (\&(proxyAddresses=smtp:*)(objectClass=user))/' \
    "$T/agent.conf" >"$T/filter.conf"
"$AGENT" -c "$T/filter.conf" sync --allow-shrink 2>"$T/sync3.err"
t_grep cache-other-filter 'full export \(base, filter, domains or include_auth_only changed\)' \
    "$T/sync3.err"
printf 'rcptsync-dircache 1\nquery zz\n' >"$cache"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync4.err"
t_grep cache-damaged 'dircache: damaged at line 2; doing a full export' \
    "$T/sync4.err"
t_grep cache-damaged-full 'full export \(no cache of the directory yet\)' \
    "$T/sync4.err"
"$AGENT" -c "$T/agent.conf" sync --full 2>"$T/sync5.err"
t_grep cache-sync-full 'full export \(first poll since start\)|full export' \
    "$T/sync5.err"

# --- feedback: refusal and staleness become events ------------------------
kill "$H_RWATCH_PID" 2>/dev/null
# The receiver refuses lists for domains it does not serve: empty.
sed 's/^relay_domains = .*/relay_domains = elsewhere.test/' \
    "$T/receiver.conf" >"$T/refuse.conf"
h_receiver_watch "$T/refuse.conf" "$T/receiver2.log" 0.5
h_samba_add_user second.hire second.hire@corp.test >/dev/null 2>&1
h_agent_conf_with "$T/agent.conf" "$T/stale.conf" interval=2s \
    stale_warning=4s stale_critical=8s \
    heartbeat_interval=1h
agent_start "$T/stale.conf" "$T/run5.err"
t_check feedback-refused t_wait_log "$T/run5.err" \
    'the receiver refused sequence [0-9]+: .*\(event 3004\)|the receiver refused sequence' 40
t_check feedback-stale-warning t_wait_log "$T/run5.err" \
    'has not confirmed our list for [0-9]+s \(more than stale_warning 4s' 40
t_check feedback-stale-critical t_wait_log "$T/run5.err" \
    'has not confirmed our list for [0-9]+s \(more than stale_critical 8s' 40
sleep 4
agent_stop
t_eq feedback-critical-once 1 "$(grep -c 'more than stale_critical' "$T/run5.err")"
t_eq "stale relay: Postfix still answers from the last map" 250 \
    "$(h_rcpt "$known")"
t_grep feedback-held-back 'the relay refused this list; offering it again' \
    "$T/run5.err"

h_samba_stop
t_done
