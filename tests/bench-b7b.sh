#!/bin/sh
# tests/bench-b7b.sh - B7b of tests/bench.sh (docs/BENCH.md): what change
# notification costs the DC when the changes are not the list's, against
# Samba's AD DC (its own network namespace, as bench-b7.sh), sshd, the
# receiver and a Postfix, with `run` at its defaults (interval 60s).
#
# Usage: bench-b7b.sh ROWS NOTES SECONDS
#
# Per mode (change notification on, the default; then change_notification
# = no, polling only): after the agent's first cycle, SECONDS seconds of
# one unrelated write per second (a new description on an OU, through one
# ldapmodify), then SIGTERM.  What the window cost:
#   - the agent's LDAP requests and the entries it read, from its log:
#     the cycle lines' "LDAP: N requests" and "read E entries" of every
#     cycle after the first, and the stop line's notifications;
#   - Samba's CPU time (utime + stime of its processes, /proc), before
#     and after;
#   - pushes: "sync mx1: installed" in the window, which must be none.
# Appends bench.sh rows (ID WHAT RCPTSYNC BASELINE RATIO TARGET RESULT,
# tab-separated) to ROWS, polling only as the baseline, and notes to
# NOTES.  Asserts nothing; stdout stays silent.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

ROWS=$1 NOTES=$2 SECONDS_=${3:-600}
AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
T=$(t_tmp)
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }
note() { printf '%s\n' "$*" >>"$NOTES"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

h_samba_start || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
h_agent_conf_ldap "$T/agent.conf" "$T/poll.conf" change_notification=no
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.2

# samba_cpu: clock ticks of Samba and every process below it.
samba_cpu() {
	_pids=$H_SAMBA_PID _all=
	while [ -n "$_pids" ]; do
		_all="$_all $_pids"
		_next=
		for _p in $_pids; do
			_next="$_next $(cat /proc/"$_p"/task/*/children 2>/dev/null)"
		done
		_pids=$(echo $_next)
	done
	for _p in $_all; do
		awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$_p"/stat 2>/dev/null
	done | awk '{ s += $1 } END { print s + 0 }'
}

# writes N: one description change a second on an OU that holds no
# recipient, through one ldapmodify (one bind for all of them).
writes() {
	_i=1
	while [ "$_i" -le "$1" ]; do
		printf 'dn: OU=Corp,%s\nchangetype: modify\nreplace: description\ndescription: b7b write %d\n\n' \
		    "$H_SAMBA_BASE" "$_i"
		sleep 1
		_i=$((_i + 1))
	done | h_samba_modify >/dev/null 2>&1
}

# window MODE CONF: the agent, SECONDS of writes, then its log in
# $T/MODE.err and Samba's ticks in $T/MODE.cpu.
window() {
	"$AGENT" -c "$2" run 2>"$T/$1.err" &
	_pid=$!
	t_cleanup "kill $_pid 2>/dev/null"
	t_wait_log "$T/$1.err" 'sync mx1: (installed|unchanged)' 120 ||
	    echo "bench-b7b: $1: no first cycle" >&2
	sleep 3
	_mark=$(wc -l <"$T/$1.err")
	_c0=$(samba_cpu)
	writes "$SECONDS_"
	_c1=$(samba_cpu)
	kill "$_pid" 2>/dev/null
	wait "$_pid" 2>/dev/null
	echo $((_c1 - _c0)) >"$T/$1.cpu"
	tail -n +"$((_mark + 1))" "$T/$1.err" >"$T/$1.window"
	echo "bench-b7b: $1: $(grep -c '^.*cycle [0-9]*:' "$T/$1.window") cycles, Samba $(cat "$T/$1.cpu") ticks" >&2
}

# sums MODE: "CYCLES REQUESTS ENTRIES NOTIFICATIONS PUSHES" of the window.
sums() {
	_w=$T/$1.window
	sed -n 's/^.*cycle [0-9]*: .*; read \([0-9]*\) entries, .*; LDAP: \([0-9]*\) requests.*$/\1 \2/p' "$_w" |
	    awk '{ n++; e += $1; r += $2 } END { printf "%d %d %d", n, r, e }'
	_notes=$(sed -n 's/^.*run: since start: .*, \([0-9]*\) notifications$/\1/p' "$_w")
	printf ' %s %s\n' "${_notes:-0}" "$(grep -c 'sync mx1: installed' "$_w")"
}

window notify "$T/agent.conf"
window poll "$T/poll.conf"
set -- $(sums notify)
n_cyc=$1 n_req=$2 n_ent=$3 n_notes=$4 n_push=$5
set -- $(sums poll)
p_cyc=$1 p_req=$2 p_ent=$3 p_push=$5
n_cpu=$(cat "$T/notify.cpu") p_cpu=$(cat "$T/poll.cpu")
hz=$(getconf CLK_TCK)
cpu_s() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }

W="$SECONDS_ unrelated writes in $SECONDS_ s"
row B7b "$W: cycles" "$n_cyc" "$p_cyc" "$(ratio "$n_cyc" "$p_cyc")x" - info
row B7b "  LDAP requests by the agent's polls" "$n_req" "$p_req" \
    "$(ratio "$n_req" "$p_req")x" - info
row B7b "  entries read by the polls" "$n_ent" "$p_ent" "-" - info
row B7b "  notifications received" "$n_notes" "-" "-" - info
row B7b "  Samba CPU (user+sys)" "$(cpu_s "$n_cpu") s" "$(cpu_s "$p_cpu") s" \
    "$(ratio "$n_cpu" "$p_cpu")x" - info
if [ "$n_push" -eq 0 ] && [ "$p_push" -eq 0 ] && [ "$n_cyc" -gt 0 ]; then
	_res=PASS
else
	_res=MISS
fi
row B7b "  pushes (none of the writes is the list's)" "$n_push" "$p_push" "-" "0" "$_res"
note "B7b: per unrelated write, notification cost $(per "$n_req" "$SECONDS_") LDAP requests (polling only: $(per "$p_req" "$SECONDS_")), $(per "$n_ent" "$SECONDS_") entries read and $(cpu_s "$(awk -v a="$n_cpu" -v b="$p_cpu" -v n="$SECONDS_" 'BEGIN { printf "%d", (a - b) }')") s of Samba CPU more in all ($(awk -v a="$n_cpu" -v b="$p_cpu" -v n="$SECONDS_" -v hz="$hz" 'BEGIN { printf "%.1f", (a - b) * 1000 / hz / n }') ms a write).  Each cycle is a root DSE read and a USN delta search (NOTES.md: Samba sends notifications on a 2 s timer, folding writes), and the notification connection's own requests are the stop line's: $(sed -n 's/^.*run: since start: \(.*\)$/\1/p' "$T/notify.window")."
exit 0
