#!/bin/sh
# t-agent-run.sh - several relays and the `run` loop.
#
#   Two relays, one with a wrong pin: sync exits 5 (partial), the good
#   relay installs, the bad one's failure is kept in its own state file
#   with a backoff; --relay limits a sync to one relay.
#   `run` (foreground, -e: log to stderr): the first cycle installs,
#   SIGUSR1 starts an immediate cycle that picks up an LDAP change,
#   SIGHUP reloads the config, SIGTERM stops the loop with exit 0.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER"
T=$(t_tmp)

h_fixture 500 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/one.conf" || exit 1
h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.5
RLOOP=$H_RWATCH_PID

# A second relay section: the same sshd, pinned to a key it does not have.
ssh-keygen -q -t ed25519 -N '' -f "$T/not_the_host" </dev/null
notpin=$(ssh-keygen -lf "$T/not_the_host.pub" | awk '{print $2}')
cp "$T/one.conf" "$T/two.conf"
sed -n '/^\[relay mx1\]/,$p' "$T/one.conf" |
    sed -e 's/^\[relay mx1\]/[relay mx2]/' \
	-e "s|^hostkey_sha256 = .*|hostkey_sha256 = $notpin|" \
	-e 's/^backoff = .*/backoff = 7s/' >>"$T/two.conf"

"$AGENT" -c "$T/two.conf" sync 2>"$T/two.err"
t_eq partial-exit 5 $?
t_grep partial-mx1-installed 'sync mx1: installed sequence' "$T/two.err"
t_grep partial-mx2-failed 'sync mx2: sequence [0-9]+ not installed: host key mismatch' "$T/two.err"
t_grep partial-mx2-state '^failures 1$' "$H_AGENT_STATE/relay-mx2.state"
t_grep partial-mx2-backoff '^next_attempt [1-9][0-9]+$' "$H_AGENT_STATE/relay-mx2.state"
t_grep partial-mx1-state '^accepted_sha256 [0-9a-f]{64}$' "$H_AGENT_STATE/relay-mx1.state"

"$AGENT" -c "$T/two.conf" sync --relay mx1 2>"$T/only1.err"
t_eq relay-option-exit 0 $?
t_grep relay-option-unchanged 'sync mx1: unchanged' "$T/only1.err"
t_check relay-option-skips-mx2 sh -c "! grep -q mx2 '$T/only1.err'"
"$AGENT" -c "$T/two.conf" sync --relay nosuch 2>"$T/nosuch.err"
t_eq relay-option-unknown 2 $?

# The receiver refuses (its own shrink guard): exit 4, with its reason.
sed -e "s|^state_dir = .*|state_dir = $T/state-fresh|" \
    -e "s|^bind_dn = |filter = (\&(proxyAddresses=smtp:*)(objectClass=group))\nbind_dn = |" \
    "$T/one.conf" >"$T/refuse.conf"
"$AGENT" -c "$T/refuse.conf" sync 2>"$T/refuse.err"
t_eq refused-exit 4 $?
t_grep refused-reason 'the receiver refused sequence [0-9]+: .*shrink' "$T/refuse.err"

# A relay that does not answer: retries with backoff, then exit 1.
sed -e "s|^state_dir = .*|state_dir = $T/state-down|" -e 's/^port = .*/port = 1/' \
    -e 's/^retries = .*/retries = 3/' "$T/one.conf" >"$T/down.conf"
start=$(date +%s)
"$AGENT" -c "$T/down.conf" sync 2>"$T/down.err"
t_eq down-exit 1 $?
t_grep down-retry-1 'attempt 1 of 3, retrying in 1s' "$T/down.err"
t_grep down-retry-2 'attempt 2 of 3, retrying in 2s' "$T/down.err"
t_grep down-gives-up 'giving up after 3 attempts' "$T/down.err"
t_check down-backoff-waited test $(( $(date +%s) - start )) -ge 3

# --- run ---------------------------------------------------------------
sed 's/^interval = .*//; s/^\[agent\]/[agent]\ninterval = 1h/' "$T/one.conf" \
    >"$T/run.conf"
"$AGENT" -e -c "$T/run.conf" run 2>"$T/run.err" &
apid=$!
t_cleanup "kill $apid 2>/dev/null"
t_wait_log "$T/run.err" 'run: started' 10
t_check run-started t_wait_log "$T/run.err" 'sync mx1: (unchanged|installed)' 30

printf 'dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:run.loop@corp.test\n' \
    "$(sed -n 's/^dn: //p' "$T/fx/fixture.ldif" | grep -m1 '^CN=User')" >"$T/add.ldif"
t_check run-ldap-change h_ldap_modify "$T/add.ldif"
kill -USR1 "$apid"
t_check run-usr1-syncs t_wait_log "$T/run.err" 'sync mx1: installed sequence' 60
t_eq run-usr1-rcpt 250 "$(h_rcpt run.loop@corp.test)"

kill -HUP "$apid"
t_check run-hup-reloads t_wait_log "$T/run.err" 'run: configuration .* reloaded' 10

kill -TERM "$apid"
wait "$apid"
t_eq run-term-exit 0 $?
t_grep run-term-stopped 'run: stopped' "$T/run.err"

# No receiver: the upload lands, the verdict never comes: exit 1.
kill "$RLOOP"
sed -e 's/^wait = .*/wait = 2s/' "$T/one.conf" >"$T/nowait.conf"
printf 'dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:no.verdict@corp.test\n' \
    "$(sed -n 's/^dn: //p' "$T/fx/fixture.ldif" | grep -m1 '^CN=User')" >"$T/add2.ldif"
h_ldap_modify "$T/add2.ldif" || t_fail no-verdict-ldap "ldapmodify failed"
"$AGENT" -c "$T/nowait.conf" sync 2>"$T/nowait.err"
t_eq no-verdict-exit 1 $?
t_grep no-verdict-message 'no verdict from the receiver within 2s' "$T/nowait.err"
t_check no-verdict-uploaded sh -c "ls '$SFTP_INCOMING' | grep -q '^corp\.[0-9]*\.rcpt\.gz\$'"

t_done
