#!/bin/sh
# tests/bench-b7.sh - B7 and B7b of tests/bench.sh (docs/BENCH.md), against
# Samba's AD DC (which needs its own network namespace, hence a script of
# its own), sshd, the receiver and a Postfix, with `run` at its defaults
# (interval 60s).
#
# Usage: bench-b7.sh ROWS NOTES TRIALS WINDOW   (0 skips B7 or B7b)
#
# B7, end-to-end latency of a recipient change.  Per mode (change
# notification on, the default; then change_notification = no, polling
# only) TRIALS trials of:
#   add     the clock starts before h_samba_add_user creates a mail-enabled
#           user, and stops at the first 250 for it from a new SMTP
#           connection (h_rcpt, every 0.1 s);
#   remove  the same user's proxyAddresses cleared, until 550 5.1.1.
# Polling only waits a random 0..59 s before each change, so the change
# falls anywhere in the poll's period, not just after a poll.  The
# baseline is EdgeSync's documented 5 minutes.
#
# B7b, what change notification costs the DC when the changes are not the
# list's.  Per mode, after the agent's first cycle, WINDOW seconds of one
# unrelated write per second (a new description on an OU, through one
# ldapmodify), then SIGTERM.  What the window cost:
#   - the agent's LDAP requests and the entries it read, from its log:
#     the cycle lines' "LDAP: N requests" and "read E entries" of every
#     cycle after the first, and the stop line's notifications;
#   - Samba's CPU time (utime + stime of its processes, /proc), before
#     and after;
#   - pushes: "sync mx1: installed" in the window, which must be none.
# Polling only is the baseline.  A third mode, notification with a
# debounce of an hour (no cycle of its own in the window, only the
# interval's polls), tells Samba's own cost of serving the notifications
# from the cost of the cycles they start.
#
# Appends bench.sh rows (ID WHAT RCPTSYNC BASELINE RATIO TARGET RESULT,
# tab-separated) to ROWS and notes to NOTES.  Asserts nothing; stdout
# stays silent.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

ROWS=$1 NOTES=$2 TRIALS=${3:-20} WINDOW=${4:-600}
AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
T=$(t_tmp)
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }
note() { printf '%s\n' "$*" >>"$NOTES"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
max() { sort -g | tail -n 1; }

h_samba_start || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf" || exit 1
h_agent_conf_ldap "$T/agent.conf" "$T/poll.conf" change_notification=no
# B7b's third mode: registered, but the debounce never ends in the window,
# so Samba serves the notifications and only the interval's polls run.
h_agent_conf_ldap "$T/agent.conf" "$T/quiet.conf" notify_debounce=1h
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.2

# until_rcpt ADDR WANT: until Postfix answers WANT (at most 180 s); prints
# the time it did, or nothing.
until_rcpt() {
	_end=$(($(date +%s) + 180))
	while [ "$(date +%s)" -lt "$_end" ]; do
		[ "$(h_rcpt "$1")" = "$2" ] && { now; return 0; }
		sleep 0.1
	done
	return 1
}

# agent_up MODE CONF: `run` with CONF in the background ($_pid), its log in
# $T/MODE.err, after its first cycle and a few quiet seconds.
agent_up() {
	"$AGENT" -c "$2" run 2>"$T/$1.err" &
	_pid=$!
	t_cleanup "kill $_pid 2>/dev/null"
	t_wait_log "$T/$1.err" 'sync mx1: (installed|unchanged)' 120 ||
	    echo "bench-b7: $1: no first cycle" >&2
	sleep 3
}

# trials MODE CONF: TRIALS adds and removals; $T/MODE.add, $T/MODE.remove
# get one latency (s) a line, "timeout" for none within 180 s.
trials() {
	: >"$T/$1.add"
	: >"$T/$1.remove"
	agent_up "$1" "$2"
	_i=1
	while [ "$_i" -le "$TRIALS" ]; do
		_u=b7.$1.$_i
		for _what in add remove; do
			[ "$1" = poll ] && sleep "$(awk 'BEGIN { srand(); print int(rand() * 60) }')"
			_t0=$(now)
			if [ "$_what" = add ]; then
				h_samba_add_user "$_u" "$_u@corp.test" >/dev/null 2>&1
				_t1=$(until_rcpt "$_u@corp.test" 250)
			else
				printf 'dn: CN=%s,OU=Engineering,OU=Corp,%s\nchangetype: modify\ndelete: proxyAddresses\n' \
				    "$_u" "$H_SAMBA_BASE" | h_samba_modify >/dev/null 2>&1
				_t1=$(until_rcpt "$_u@corp.test" "550 5.1.1")
			fi
			if [ -n "$_t1" ]; then
				sub "$_t1" "$_t0" >>"$T/$1.$_what"
				echo >>"$T/$1.$_what"
			else
				echo timeout >>"$T/$1.$_what"
			fi
			echo "bench-b7: $1 $_what $_i: $(tail -n 1 "$T/$1.$_what")" >&2
		done
		_i=$((_i + 1))
	done
	kill "$_pid" 2>/dev/null
	wait "$_pid" 2>/dev/null
	return 0
}

# report MODE WHAT LABEL TARGET_MEDIAN TARGET_MAX
report() {
	_f=$T/$1.$2
	_to=$(grep -c timeout "$_f")
	_med=$(grep -v timeout "$_f" | median)
	_max=$(grep -v timeout "$_f" | max)
	if [ "$_to" -gt 0 ] || [ -z "$_med" ]; then
		_res=MISS
	elif [ "$4" = - ]; then
		_res=info
	elif le "$_med" "$4" && le "$_max" "$5"; then
		_res=PASS
	else
		_res=MISS
	fi
	row B7 "$3, median (max) of $TRIALS" "${_med:--} s (${_max:--})" "300 s" \
	    "$(awk -v a="${_med:-0}" 'BEGIN { printf "%.3f", a / 300 }')x" \
	    "$(if [ "$4" = - ]; then echo -; else echo "<= ${4} s (${5})"; fi)" "$_res"
	[ "$_to" -gt 0 ] && note "B7: $3: $_to of $TRIALS trials saw no change within 180 s."
	return 0
}

if [ "$TRIALS" -gt 0 ]; then
	trials notify "$T/agent.conf"
	trials poll "$T/poll.conf"
	report notify add "new user -> 250, notification" 5 10
	report notify remove "cleared -> 550 5.1.1, notification" 5 10
	report poll add "new user -> 250, polling only (60s)" - -
	report poll remove "cleared -> 550 5.1.1, polling only" - -
	row B7 "EdgeSync (Exchange Edge), its documented period" "-" "300 s" "-" "-" info
	note "B7: Samba sends a notification a second or two after a write (NOTES.md, and the issue's hand check: 2 s); the agent waits notify_debounce (1 s) after the last one, then polls (root DSE, USN delta) and pushes; the receiver runs every 0.2 s here (its .path unit: at once)."
fi

# ms_each A B N: (A - B) seconds over N writes, in milliseconds a write.
ms_each() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (a - b) * 1000 / n }'; }

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

# window MODE CONF: the agent, WINDOW seconds of writes, then its log of the
# window in $T/MODE.window and Samba's ticks in $T/MODE.cpu.
window() {
	agent_up "$1" "$2"
	_mark=$(wc -l <"$T/$1.err")
	_c0=$(samba_cpu)
	writes "$WINDOW"
	_c1=$(samba_cpu)
	kill "$_pid" 2>/dev/null
	wait "$_pid" 2>/dev/null
	echo $((_c1 - _c0)) >"$T/$1.cpu"
	tail -n +"$((_mark + 1))" "$T/$1.err" >"$T/$1.window"
	echo "bench-b7: B7b $1: $(grep -c '^.*cycle [0-9]*:' "$T/$1.window") cycles, Samba $(cat "$T/$1.cpu") ticks" >&2
}

# sums MODE: "CYCLES REQUESTS ENTRIES NOTIFICATIONS PUSHES" of the window.
sums() {
	_w=$T/$1.window
	sed -n 's/^.*cycle [0-9]*: .*; read \([0-9]*\) entries, .*; LDAP: \([0-9]*\) requests.*$/\1 \2/p' "$_w" |
	    awk '{ n++; e += $1; r += $2 } END { printf "%d %d %d", n, r, e }'
	_notes=$(sed -n 's/^.*run: since start: .*, \([0-9]*\) notifications$/\1/p' "$_w")
	printf ' %s %s\n' "${_notes:-0}" "$(grep -c 'sync mx1: installed' "$_w")"
}

b7b() {
	window notify "$T/agent.conf"
	window poll "$T/poll.conf"
	window quiet "$T/quiet.conf"
	set -- $(sums notify)
	n_cyc=$1 n_req=$2 n_ent=$3 n_notes=$4 n_push=$5
	set -- $(sums poll)
	p_cyc=$1 p_req=$2 p_ent=$3 p_push=$5
	set -- $(sums quiet)
	q_cyc=$1 q_notes=$4
	n_cpu=$(cat "$T/notify.cpu") p_cpu=$(cat "$T/poll.cpu")
	q_cpu=$(cat "$T/quiet.cpu")
	hz=$(getconf CLK_TCK)
	n_s=$(ratio "$n_cpu" "$hz") p_s=$(ratio "$p_cpu" "$hz")
	q_s=$(ratio "$q_cpu" "$hz")
	w=$WINDOW

	row B7b "$w unrelated writes in $w s: cycles" "$n_cyc" "$p_cyc" \
	    "$(ratio "$n_cyc" "$p_cyc")x" - info
	row B7b "  LDAP requests of the polls" "$n_req" "$p_req" \
	    "$(ratio "$n_req" "$p_req")x" - info
	row B7b "  entries the polls read" "$n_ent" "$p_ent" \
	    "$(ratio "$n_ent" "$p_ent")x" - info
	row B7b "  notifications received" "$n_notes" "-" "-" - info
	row B7b "  Samba CPU (user+sys)" "$n_s s" "$p_s s" \
	    "$(ratio "$n_cpu" "$p_cpu")x" - info
	row B7b "  Samba CPU, notifications but no cycles" "$q_s s" "$p_s s" \
	    "$(ratio "$q_cpu" "$p_cpu")x" - info
	if [ "$n_push" -eq 0 ] && [ "$p_push" -eq 0 ] && [ "$n_cyc" -gt 0 ]; then
		_res=PASS
	else
		_res=MISS
	fi
	row B7b "  pushes (no write is the list's)" "$n_push" "$p_push" "-" 0 "$_res"
	note "B7b: per unrelated write, with notification: $(ratio "$n_req" "$w") LDAP requests (polling only: $(ratio "$p_req" "$w")), $(ratio "$n_ent" "$w") entries read ($(ratio "$p_ent" "$w")), $(ms_each "$n_s" "$p_s" "$w") ms more of Samba's CPU, of which $(ms_each "$q_s" "$p_s" "$w") ms is Samba serving the notification search itself (the third mode: $q_notes notifications, and only the $q_cyc interval polls the baseline has too) and the rest the cycles they start; $(ratio "$n_req" "$n_cyc") requests a cycle (the root DSE, the DC's invocationId, and the USN delta's two searches: objects that match the filter, and objects that do not any more)."
	note "B7b: the notification connection, and all the rest, from the agent's stop line: $(sed -n 's/^.*run: since start: \(.*\)$/\1/p' "$T/notify.window")."
}

[ "$WINDOW" -gt 0 ] && b7b
exit 0
