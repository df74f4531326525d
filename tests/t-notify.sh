#!/bin/sh
# t-notify.sh - change notification in `run` (docs/CONFIG.md "Change
# notification"): Samba's AD DC (h_samba_start), sshd, the
# receiver and a Postfix; `interval` is 10 minutes throughout, so every
# cycle after the first ones comes from a notification.
#
#   registered  the agent registers one notification search on the naming
#               context its base lives in, and says so once
#   change      a new mail-enabled user gets 250 from Postfix within 30 s,
#               through a delta cycle, not the poll
#   burst       50 writes in one burst (a user gets 50 addresses) are one
#               cycle with a push: one installed sequence
#   killed      the notification connection alone is killed (ss -K): said
#               once, registered again, and a change after it still
#               arrives; the poll connection is the one it was
#   restart     Samba restarts: the failure is said once however many
#               registrations fail, then it is registered again
#   slapd       a server without the control (the harness slapd): said
#               once, and the agent polls every interval
#   off         change_notification = no: no notification search
#   wine        the .exe under Wine against Samba, with wldap32 and with
#               the OpenLDAP client: a new user arrives without the poll
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
h_netns_enter "$@"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" ssh-keygen python3 ldapmodify ss
T=$(t_tmp)

h_samba_start || exit 1
h_samba_use
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/base.conf" || exit 1
h_agent_conf_with "$T/base.conf" "$T/agent.conf" interval=10m \
    full_interval=1h
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5

wait_rcpt() { h_wait_rcpt "$@" 0.5; }
agent_start() {
	"$AGENT" -e -v -c "$1" run 2>"$2" &
	AGENT_PID=$!
	t_cleanup "kill $AGENT_PID 2>/dev/null"
}
agent_stop() {
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	return 0
}
installs() { grep -c 'sync mx1: installed sequence' "$1"; }
# agent_conns PID: the agent's connections to the DC, one line each,
# "LOCALPORT BYTES_SENT".
agent_conns() {
	ss -tinpH state established "( dport = :389 )" | awk -v pid="pid=$1," '
	    /users:/ { keep = index($0, pid) > 0; split($3, a, ":"); port = a[2]; next }
	    keep { s = 0
		if (match($0, /bytes_sent:[0-9]+/))
			s = substr($0, RSTART + 11, RLENGTH - 11)
		print port, s; keep = 0 }' | sort
}
# which_conns BEFORE AFTER: agent_conns before and after a poll; sets
# notify_port (sent nothing in between) and poll_port (sent the poll).
which_conns() {
	notify_port=$(join "$1" "$2" | awk '$2 == $3 { print $1 }')
	poll_port=$(join "$1" "$2" | awk '$2 != $3 { print $1 }')
}
# kill_notify: ss -K the connection on notify_port, if one was found.
kill_notify() {
	if [ -n "$notify_port" ] && [ -n "$poll_port" ]; then
		ss -K -tn dst 127.0.0.1 dport = 389 sport = "$notify_port" \
		    >/dev/null 2>&1
	else
		t_fail "$1-which" "cannot tell the connections apart: $(cat "$2" "$3")"
	fi
}
# user_add LOGIN ADDR: a mail-enabled user, timed; sets T0.
user_add() {
	T0=$(date +%s)
	h_samba_add_user "$1" "$2" >"$T/add-$1.out" 2>&1 ||
	    t_fail "add-$1" "ldapmodify failed: $(cat "$T/add-$1.out")"
}

# --- registered, change --------------------------------------------------
agent_start "$T/agent.conf" "$T/run1.err"
t_check registered t_wait_log "$T/run1.err" \
    'notify .*: registered for changes below DC=corp,DC=test \(change notification' 60
t_check first-installed t_wait_log "$T/run1.err" \
    'sync mx1: installed sequence' 60
t_grep interval-10m 'every 600s' "$T/run1.err"
# The cycle after the registration, for what came before it.
t_check registered-cycle t_wait_log "$T/run1.err" 'cycle 2: ' 20
sleep 2
ncyc=$(grep -c 'cycle [0-9]*: ' "$T/run1.err")
user_add notify.one notify.one@corp.test
if secs=$(wait_rcpt notify.one@corp.test 250 30 "$T0"); then
	t_ok "change: 250 from Postfix ${secs}s after the user was created (interval 10m)"
else
	t_fail change-within-30s "still $(h_rcpt notify.one@corp.test) after ${secs}s"
fi
t_check change-delta t_wait_log "$T/run1.err" \
    'cycle [0-9]+: changes from USN [0-9]+ to [0-9]+: 1 object' 10
t_eq registered-once 1 "$(grep -c 'notify .*: registered' "$T/run1.err")"

# --- burst: 50 writes, one push --------------------------------------------
sleep 4
n0=$(installs "$T/run1.err")
burst_dn="CN=notify.one,OU=Engineering,OU=Corp,$H_SAMBA_BASE"
i=1
while [ $i -le 50 ]; do
	printf 'dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:burst.%d@corp.test\n\n' \
	    "$burst_dn" "$i"
	i=$((i + 1))
done >"$T/burst.ldif"
T0=$(date +%s)
h_samba_modify "$T/burst.ldif" >"$T/burst.out" 2>&1
t_eq burst-written 0 $?
if secs=$(wait_rcpt burst.50@corp.test 250 30 "$T0"); then
	t_ok "burst: the 50th address gets 250 ${secs}s after the first write"
else
	t_fail burst-within-30s "still $(h_rcpt burst.50@corp.test) after ${secs}s"
fi
t_eq burst-first-too 250 "$(h_rcpt burst.1@corp.test)"
# Everything Samba notifies about the burst has arrived by now.
sleep 8
t_eq burst-one-push $((n0 + 1)) "$(installs "$T/run1.err")"

# --- killed: the notification connection alone ------------------------------
# Which is which: a poll (SIGUSR1, sync now) sends on the poll
# connection; the notification connection sends nothing after its search.
agent_conns "$AGENT_PID" >"$T/conns.txt"
t_eq killed-two-connections 2 "$(wc -l <"$T/conns.txt")"
ncyc=$(grep -c 'cycle [0-9]*: ' "$T/run1.err")
kill -USR1 "$AGENT_PID"
t_check killed-sync-now t_wait_log "$T/run1.err" 'cycle [0-9]*: ' 20 \
    $((ncyc + 1))
agent_conns "$AGENT_PID" >"$T/conns1.txt"
which_conns "$T/conns.txt" "$T/conns1.txt"
# A signal during the wait is no failure of the connection.
t_eq killed-sync-now-no-drop 0 "$(grep -c 'polling every 600s, registering again' "$T/run1.err")"
kill_notify killed "$T/conns.txt" "$T/conns1.txt"
t_check killed-said t_wait_log "$T/run1.err" \
    'notify .*: .*; polling every 600s, registering again in 2s' 10
t_check killed-registered-again t_wait_log "$T/run1.err" \
    'notify .*: registered again after 1 attempt' 15
t_eq killed-said-once 1 "$(grep -c 'polling every 600s, registering again' "$T/run1.err")"
agent_conns "$AGENT_PID" | sed 's/ .*//' >"$T/conns2.txt"
t_grep killed-poll-kept "^$poll_port\$" "$T/conns2.txt"
user_add notify.two notify.two@corp.test
if secs=$(wait_rcpt notify.two@corp.test 250 30 "$T0"); then
	t_ok "killed: after the notification connection was killed and registered again, a new user gets 250 in ${secs}s"
else
	t_fail killed-change "still $(h_rcpt notify.two@corp.test) after ${secs}s"
fi

# --- restart: Samba goes away for a while ------------------------------------
h_samba_stop
sleep 7
h_samba_start || exit 1
t_check restart-registered-again t_wait_log "$T/run1.err" \
    'notify .*: registered again after [0-9]+ attempt' 40 2
t_eq restart-said-once 2 "$(grep -c 'polling every 600s, registering again' "$T/run1.err")"
user_add notify.three notify.three@corp.test
if secs=$(wait_rcpt notify.three@corp.test 250 30 "$T0"); then
	t_ok "restart: after Samba restarted, a new user gets 250 in ${secs}s"
else
	t_fail restart-change "still $(h_rcpt notify.three@corp.test) after ${secs}s"
fi
agent_stop
t_eq no-full-after-first 1 "$(grep -c 'cycle [0-9]*: full export' "$T/run1.err")"

# --- off: change_notification = no ----------------------------------------
h_agent_conf_ldap "$T/agent.conf" "$T/off.conf" change_notification=no
agent_start "$T/off.conf" "$T/off.err"
t_check off-installed-or-same t_wait_log "$T/off.err" 'cycle 1: ' 60
sleep 3
t_eq off-no-registration 0 "$(grep -c 'notify .*registered' "$T/off.err")"
t_eq off-one-connection 1 "$(agent_conns "$AGENT_PID" | wc -l)"
agent_stop

# --- slapd: no control, polling ------------------------------------------
h_fixture 50 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
LDAP_BASE="dc=corp,dc=test"
H_AGENT_STATE=$T/state-slapd
h_agent_conf "$T/slapd-base.conf" || exit 1
h_agent_conf_with "$T/slapd-base.conf" "$T/slapd.conf" interval=2s
agent_start "$T/slapd.conf" "$T/slapd.err"
t_check slapd-said t_wait_log "$T/slapd.err" \
    'notify .*: the server does not offer change notification \(no 1\.2\.840\.113556\.1\.4\.528 in the root DSE.s supportedControl\); polling every 2s' 30
t_check slapd-polls t_wait_log "$T/slapd.err" 'cycle 4: ' 30
t_eq slapd-said-once 1 "$(grep -c 'does not offer change notification' "$T/slapd.err")"
agent_stop

# --- wine: the .exe, with each LDAP client ---------------------------------
exe=$RS_TOP/build/win/rcptsync-agent.exe
t_need "$exe"
h_slapd_stop
h_samba_use
h_wine_init || exit 1
H_AGENT_STATE=$T/wstate
h_agent_conf "$T/w-base.conf" wine || exit 1
h_agent_conf_with "$T/w-base.conf" "$T/w.conf" interval=10m full_interval=1h
printf '%s\n' "$LDAP_PASSWORD" |
    h_wine "$exe" -c "$(h_winpath "$T/w.conf")" set-password >"$T/setpw.out" 2>&1
t_grep wine-set-password '^password = [A-Za-z0-9+/]+=*' "$T/w.conf"
for client in wldap32 openldap; do
	h_agent_conf_ldap "$T/w.conf" "$T/w-$client.conf" client=$client
	"$H_WINE" "$exe" -e -v -c "$(h_winpath "$T/w-$client.conf")" run \
	    2>"$T/w-$client.err" &
	AGENT_PID=$!
	t_cleanup "kill $AGENT_PID 2>/dev/null"
	if ! t_wait_log "$T/w-$client.err" \
	    'notify .*: (registered for changes below|.*; polling every)' 90; then
		t_fail "wine-$client-registered" "neither registered nor a failure said"
		agent_stop
		continue
	fi
	if ! grep -q 'notify .*: registered for changes below DC=corp,DC=test' \
	    "$T/w-$client.err"; then
		t_fail "wine-$client-registered" "$(grep 'notify ' "$T/w-$client.err" | head -n 3)"
		agent_stop
		continue
	fi
	t_ok "wine $client: registered for changes below DC=corp,DC=test"
	t_check "wine-$client-cycle-2" t_wait_log "$T/w-$client.err" 'cycle 2: ' 30
	sleep 2
	agent_conns "$AGENT_PID" >"$T/wc-$client.txt"
	user_add "wine.$client" "wine.$client@corp.test"
	if secs=$(wait_rcpt "wine.$client@corp.test" 250 30 "$T0"); then
		t_ok "wine $client: a new user gets 250 ${secs}s after its creation (interval 10m)"
	else
		t_fail "wine-$client-change" "still $(h_rcpt "wine.$client@corp.test") after ${secs}s"
	fi
	t_check "wine-$client-delta" t_wait_log "$T/w-$client.err" \
	    'cycle [0-9]+: changes from USN [0-9]+ to [0-9]+: 1 object' 10
	# The cycle the change started sent on the poll connection only.
	agent_conns "$AGENT_PID" >"$T/wc1-$client.txt"
	t_eq "wine-$client-two-connections" 2 "$(wc -l <"$T/wc1-$client.txt")"
	which_conns "$T/wc-$client.txt" "$T/wc1-$client.txt"
	kill_notify "wine-$client-killed" "$T/wc-$client.txt" "$T/wc1-$client.txt"
	t_check "wine-$client-killed-said" t_wait_log "$T/w-$client.err" \
	    'notify .*: .*; polling every 600s, registering again in 2s' 10
	t_check "wine-$client-killed-registered-again" t_wait_log \
	    "$T/w-$client.err" 'notify .*: registered again after 1 attempt' 15
	t_eq "wine-$client-killed-said-once" 1 \
	    "$(grep -c 'polling every 600s, registering again' "$T/w-$client.err")"
	grep 'notify .*: .*; polling every 600s' "$T/w-$client.err" >&2
	user_add "wine2.$client" "wine2.$client@corp.test"
	if secs=$(wait_rcpt "wine2.$client@corp.test" 250 30 "$T0"); then
		t_ok "wine $client: registered again after the kill, a new user gets 250 in ${secs}s"
	else
		t_fail "wine-$client-killed-change" "still $(h_rcpt "wine2.$client@corp.test") after ${secs}s"
	fi
	agent_stop
done
