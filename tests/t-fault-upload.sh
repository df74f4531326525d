#!/bin/sh
# t-fault-upload.sh - the SSH connection cut in the middle of an upload.
#
# The agent talks to sshd through tests/fault/tcpproxy.py.  A first sync
# through the proxy (mode "pass") installs the fixture and measures how many
# bytes the client sends in one whole session.  Then one address is added in
# LDAP and the proxy cuts the next session after about half that byte count,
# which lands inside the bundle upload (the bundle is nearly all of the
# session).  Asserts:
#   - the agent exits 1 with a message naming the relay;
#   - the leftover dot-temporaries in incoming/ are not processed: the
#     receiver exits 0, the live map is byte-identical, they stay put while
#     young, the receiver's state and history do not move;
#   - aged past RS_STALE_UPLOAD_SECS (touch -d '2 hours ago'), the next
#     receiver run deletes them;
#   - with the fault cleared (mode "pass", same config) the next agent sync
#     installs the new list and Postfix answers for the added address.
# A second fault kills sshd's per-session process of the agent's connection
# mid-upload (no proxy): same assertions, briefer.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/fault/lib.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" python3 cmp ps
T=$(t_tmp)

h_fixture 60000 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf.direct" || exit 1
f_proxy_start ssh "$SFTP_PORT" || { t_fail proxy-start "see log"; exit 1; }
sed "s|^port = .*|port = $F_PORT|" "$T/agent.conf.direct" >"$T/agent.conf"

rcv() { "$RECEIVER" -c "$T/receiver.conf" -v run >>"$T/receiver.log" 2>&1; }
# The receiver as its .path unit would run it, while the agent waits for
# its verdict; stopped around the assertions that run it by hand.
rloop_start() {
	( while :; do rcv; sleep 0.3; done ) &
	RLOOP=$!
	t_cleanup "kill $RLOOP 2>/dev/null"
}
rloop_stop() { kill "$RLOOP" 2>/dev/null; wait "$RLOOP" 2>/dev/null; }
temps() { ls -A "$SFTP_INCOMING" | grep '^\.' ; }
ANCHOR_DN=$(f_anchor_dn "$T/fx")
add_addr() { f_add_addr "$ANCHOR_DN" "$1"; }

# --- a clean sync through the proxy: the byte count of a whole session ---
rloop_start
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync1.err"
t_eq "sync through the proxy: exit 0" 0 $?
rloop_stop
up=$(awk '$1 == "conn" { for (i = 3; i < NF; i++) if ($i == "up" && $(i + 1) > m) m = $(i + 1) }
    END { print m + 0 }' "$F_LOG")
echo "largest session sent $up bytes; bundle $(stat -c %s "$H_AGENT_STATE/last.rcpt.gz" 2>/dev/null) bytes" >&2
real=$(head -n 1 "$T/fx/expected.txt")
t_eq "sync through the proxy: Postfix answers" 250 "$(h_rcpt "$real")"

# --- cut mid-upload -------------------------------------------------------
t_check "ldap: add cut.test.one" add_addr cut.test.one@corp.test
cp "$H_MAP" "$T/map.before"
cp "$H_RECV_STATE/corp.state" "$T/state.before" 2>/dev/null
hist_before=$(ls "$H_RECV_STATE/history" | sort | tr '\n' ' ')
t_check "measured a whole session" test "$up" -gt 50000
echo "cut $((up / 2))" >"$F_MODE"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/cut.err"
t_eq "cut: agent exits 1" 1 $?
t_grep "cut: agent says which relay failed" 'error: push mx1: .+' "$T/cut.err"
t_grep "cut: the proxy did cut the session" '^cut [0-9]+ at ' "$F_LOG"
# sshd's session may need a moment to notice the cut and close the file.
f_wait 20 sh -c "[ -n \"\$(ls -A '$SFTP_INCOMING' | grep '^\.')\" ]"
tl=$(temps | tr '\n' ' ')
echo "left in incoming/: $tl" >&2
t_check "cut: a dot-temporary is left in incoming/" test -n "$tl"
t_eq "cut: no final bundle name appeared" "" "$(ls "$SFTP_INCOMING" | grep -v '^\.')"
rcv
t_eq "cut: receiver run exits 0" 0 $?
t_same_file "cut: live map byte-identical" "$T/map.before" "$H_MAP"
t_same_file "cut: receiver state unchanged" "$T/state.before" "$H_RECV_STATE/corp.state"
t_eq "cut: history unchanged" "$hist_before" "$(ls "$H_RECV_STATE/history" | sort | tr '\n' ' ')"
t_eq "cut: young temporaries stay" "$tl" "$(temps | tr '\n' ' ')"
t_eq "cut: Postfix still on the old list" "250 550 5.1.1" \
    "$(h_rcpt "$real" cut.test.one@corp.test | tr '\n' ' ' | sed 's/ $//')"

# --- aged past RS_STALE_UPLOAD_SECS: removed -------------------------------
for f in $(temps); do touch -d '2 hours ago' "$SFTP_INCOMING/$f"; done
rcv
t_eq "stale: receiver run exits 0" 0 $?
t_eq "stale: temporaries deleted" "" "$(temps | tr '\n' ' ')"
t_grep "stale: removal logged" 'stale upload temporary removed' "$T/receiver.log"
t_same_file "stale: live map still byte-identical" "$T/map.before" "$H_MAP"

# --- fault cleared: the same config syncs -------------------------------
echo pass >"$F_MODE"
rloop_start
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync2.err"
t_eq "recovered: agent exits 0" 0 $?
t_grep "recovered: installed" 'sync mx1: installed sequence [0-9]+' "$T/sync2.err"
rloop_stop
t_eq "recovered: Postfix answers the new list" "250 250" \
    "$(h_rcpt "$real" cut.test.one@corp.test | tr '\n' ' ' | sed 's/ $//')"
t_eq "recovered: map keys = expected + added" \
    "$( (cat "$T/fx/expected.txt"; echo cut.test.one@corp.test) | LC_ALL=C sort | sha256sum)" \
    "$(f_map_keys "$H_MAP" | sha256sum)"

# --- sshd's session process killed mid-upload ------------------------------
# sshd -D is the listener; each connection forks a privileged monitor
# whose child runs internal-sftp as the upload user.  The proxy holds the
# session after half the bytes (mode "hold": the upload stalls with a
# partial temporary on the relay), and the test kills sshd's processes of
# that session; sshd's end of the connection closes, and so does the proxy.
t_check "ldap: add cut.test.two" add_addr cut.test.two@corp.test
cp "$H_MAP" "$T/map.before2"
echo "hold $((up / 2))" >"$F_MODE"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/kill.err" &
apid=$!
t_cleanup "kill $apid 2>/dev/null"
killed=no
if f_wait 120 grep -q '^hold ' "$F_LOG"; then
	# The listener's only child is the session's privileged monitor; its
	# child (user@notty) holds the connection, and runs internal-sftp.
	# Kill the whole session tree, collected first.
	tree=
	kids=$(ps -o pid= --ppid "$H_SSHD_PID")
	while [ -n "$(echo $kids)" ]; do
		tree="$tree $kids"
		next=
		for p in $kids; do next="$next $(ps -o pid= --ppid "$p")"; done
		kids=$next
	done
	for p in $tree; do
		echo "killing sshd session process $p: $(ps -o args= -p "$p")" >&2
		kill -KILL "$p" && killed=yes
	done
fi
f_wait 60 sh -c "! kill -0 $apid"
wait "$apid"
rc=$?
t_eq "kill-session: sshd's session process killed mid-upload" yes "$killed"
t_eq "kill-session: agent exits 1" 1 "$rc"
t_grep "kill-session: agent says which relay failed" 'error: push mx1: .+' "$T/kill.err"
f_wait 20 sh -c "[ -n \"\$(ls -A '$SFTP_INCOMING' | grep '^\.')\" ]"
tl=$(temps | tr '\n' ' ')
t_check "kill-session: a dot-temporary is left" test -n "$tl"
rcv
t_same_file "kill-session: live map byte-identical" "$T/map.before2" "$H_MAP"
t_eq "kill-session: no final bundle name appeared" "" "$(ls "$SFTP_INCOMING" | grep -v '^\.')"
t_eq "kill-session: young temporaries stay" "$tl" "$(temps | tr '\n' ' ')"
for f in $(temps); do touch -d '2 hours ago' "$SFTP_INCOMING/$f"; done
rcv
t_eq "kill-session: stale temporaries deleted" "" "$(temps | tr '\n' ' ')"
echo pass >"$F_MODE"
rloop_start
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync3.err"
t_eq "kill-session: next sync exits 0" 0 $?
rloop_stop
t_eq "kill-session: Postfix answers the new list" "250 250" \
    "$(h_rcpt cut.test.one@corp.test cut.test.two@corp.test | tr '\n' ' ' | sed 's/ $//')"

# --- the agent itself SIGKILLed mid-upload -----------------------------------
# The proxy holds the session after half the bytes; the agent is killed
# while it waits on the write.  Its temporaries stay unprocessed, and the
# restarted agent pushes under a higher sequence number.
t_check "ldap: add cut.test.three" add_addr cut.test.three@corp.test
cp "$H_MAP" "$T/map.before3"
seq_before=$(cat "$H_AGENT_STATE/seq")
: >"$F_LOG"
echo "hold $((up / 2))" >"$F_MODE"
"$AGENT" -c "$T/agent.conf" sync 2>"$T/akill.err" &
apid=$!
t_cleanup "kill -KILL $apid 2>/dev/null"
if f_wait 120 grep -q '^hold ' "$F_LOG"; then
	kill -KILL "$apid"
	t_ok "agent-kill: agent killed mid-upload"
else
	t_fail "agent-kill: agent killed mid-upload" "the upload never reached the hold"
	kill -KILL "$apid" 2>/dev/null
fi
wait "$apid" 2>/dev/null
echo pass >"$F_MODE"
# The proxy closes sshd's side once the agent's socket is gone.
f_wait 30 grep -q '^conn .* hold ' "$F_LOG"
f_wait 20 sh -c "[ -n \"\$(ls -A '$SFTP_INCOMING' | grep '^\.')\" ]"
tl=$(temps | tr '\n' ' ')
t_check "agent-kill: a dot-temporary is left" test -n "$tl"
rcv
t_eq "agent-kill: receiver run exits 0" 0 $?
t_same_file "agent-kill: live map byte-identical" "$T/map.before3" "$H_MAP"
t_eq "agent-kill: young temporaries stay" "$tl" "$(temps | tr '\n' ' ')"
rloop_start
"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync4.err"
t_eq "agent-kill: restarted sync exits 0" 0 $?
rloop_stop
seq_after=$(cat "$H_AGENT_STATE/seq")
t_check "agent-kill: restart used a higher sequence" test "$seq_after" -gt "$seq_before"
t_eq "agent-kill: Postfix answers the new list" 250 "$(h_rcpt cut.test.three@corp.test)"
for f in $(temps); do touch -d '2 hours ago' "$SFTP_INCOMING/$f"; done
rcv
t_eq "agent-kill: stale temporaries deleted" "" "$(temps | tr '\n' ' ')"

# --- a complete, validly signed bundle under a dot-name is never processed --
# Only the final name commits (FORMAT.md 5).  A whole bundle and signature
# left under temporary-style names (as a crash between upload and rename
# would leave them, or a hostile uploader could) must not be installed.
cp "$H_MAP" "$T/map.before5"
nseq=$((seq_after + 100))
mkdir -p "$T/dot"
f_map_keys "$H_MAP" | grep -v '^cut\.test\.three@' >"$T/dot.list"
( cd "$T/dot" && rm -f ./* &&
  . "$RS_TOP/tests/bundle.sh" &&
  b=$(b_make "$T/dot" corp "$nseq" "$T/dot.list") && b_sign "$H_AGENT_KEY" "$b" ) >&2
cp "$T/dot/corp.$nseq.rcpt.gz.sig" "$SFTP_INCOMING/.corp.$nseq.0123456789abcdef.tmp"
cp "$T/dot/corp.$nseq.rcpt.gz" "$SFTP_INCOMING/.corp.$nseq.fedcba9876543210.tmp"
cp "$T/dot/corp.$nseq.rcpt.gz.sig" "$SFTP_INCOMING/.corp.$nseq.rcpt.gz.sig"
cp "$T/dot/corp.$nseq.rcpt.gz" "$SFTP_INCOMING/.corp.$nseq.rcpt.gz"
rcv
t_eq "dot-names: receiver run exits 0" 0 $?
t_same_file "dot-names: live map byte-identical" "$T/map.before5" "$H_MAP"
t_eq "dot-names: not installed" 250 "$(h_rcpt cut.test.three@corp.test)"
t_eq "dot-names: left alone while young" 4 "$(temps | wc -l)"
for f in $(temps); do touch -d '2 hours ago' "$SFTP_INCOMING/$f"; done
rcv
t_eq "dot-names: deleted once stale" "" "$(temps | tr '\n' ' ')"
t_same_file "dot-names: live map still byte-identical" "$T/map.before5" "$H_MAP"
t_done
