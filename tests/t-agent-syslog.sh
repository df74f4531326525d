#!/bin/sh
# t-agent-syslog.sh - where the Linux agent's `run` logs when it is not
# on a terminal and has no -e: syslog when a daemon listens on /dev/log,
# otherwise stderr, after one line that says why ("run without -e, with
# stderr not a terminal and no /dev/log, prints nothing
# at all").
#
#   absent    /dev/log does not exist: exactly one notice on stderr
#             ("syslog: connect /dev/log: No such file or directory;
#             logging to stderr"), then the log lines themselves there
#   listening a datagram socket on /dev/log with a reader (python3): the
#             lines reach it, stderr stays empty
#   stale     the socket file left behind by a reader that is gone: one
#             notice ("Connection refused"), then the lines on stderr
#
# /dev is a tmpfs in the test's own mount namespace, holding only the
# device nodes a shell and the agent use, bound from the real /dev; the
# machine's own /dev/log, if any, is never touched.  The agent's LDAP
# server is a closed port: every cycle fails and logs ("ldap connect ..."), which
# is all the test needs; the agent is stopped by its PID.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
if [ "${T_SYSLOG_NS:-}" != in ]; then
	t_need unshare mount
	. "$RS_TOP/tools/mountns.sh"
	prop=$(mountns_prop) || { t_fail mount-namespace \
	    "no private mount namespace can be made here"; exit 1; }
	T_SYSLOG_NS=in exec unshare -m --propagation "$prop" -- \
	    /bin/sh "$0" "$@"
fi

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
t_need "$AGENT" python3
T=$(t_tmp)

# Our own /dev: the nodes we need, bound from the real one first.
mkdir -p "$T/realdev" && mount --bind /dev "$T/realdev" &&
    mount -t tmpfs -o mode=0755 rs-dev /dev ||
    { t_fail private-dev "cannot mount a tmpfs on /dev"; exit 1; }
for n in null zero random urandom full tty; do
	[ -e "$T/realdev/$n" ] || continue
	: >"/dev/$n" && mount --bind "$T/realdev/$n" "/dev/$n" ||
	    { t_fail private-dev "cannot bind /dev/$n"; exit 1; }
done
for n in fd stdin stdout stderr; do
	[ -L "$T/realdev/$n" ] && ln -s "$(readlink "$T/realdev/$n")" "/dev/$n"
done
t_check dev-log-absent test ! -e /dev/log

echo secret >"$T/ldap.pw" && chmod 600 "$T/ldap.pw"
LDAP_URI=ldap://127.0.0.1:1 LDAP_BASE=dc=example,dc=test \
    LDAP_BINDDN=cn=nobody LDAP_PWFILE=$T/ldap.pw \
    h_agent_conf "$T/agent.conf" || exit 1
# No sshd either: any pin will do, the relay is never reached.
h_agent_pin_none "$T/agent.conf"

# agent_run NAME: `run` (no -e) with stdin and stdout from /dev/null and
# stderr to NAME.err, until it has logged its first failed bind (in
# NAME.err or, when given, in the file $2), then stopped.
agent_run() {
	"$AGENT" -c "$T/agent.conf" run </dev/null >/dev/null 2>"$T/$1.err" &
	apid=$!
	t_cleanup "kill $apid 2>/dev/null"
	t_check "$1-logged" t_wait_log "${2:-$T/$1.err}" \
	    'ldap connect ldap://127.0.0.1:1: ' 20
	kill "$apid" 2>/dev/null
	wait "$apid" 2>/dev/null
	cat "$T/$1.err" >&2
}
notice='^rcptsync-agent: syslog: connect /dev/log: '

# --- absent ----------------------------------------------------------------
agent_run absent
t_eq absent-one-notice 1 "$(grep -c "$notice" "$T/absent.err")"
t_grep absent-notice-says-why \
    "${notice}No such file or directory; logging to stderr\$" "$T/absent.err"
t_eq absent-notice-first 1 "$(grep -n "$notice" "$T/absent.err" | cut -d: -f1)"
t_grep absent-lines-on-stderr '^rcptsync-agent: error: ldap connect ' \
    "$T/absent.err"

# --- listening: a reader on /dev/log gets the lines ------------------------
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("ready", flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
' "$T/syslog.txt" >"$T/reader.out" 2>&1 &
rpid=$!
t_cleanup "kill $rpid 2>/dev/null"
t_check reader-ready t_wait_log "$T/reader.out" '^ready$' 10
agent_run listening "$T/syslog.txt"
t_check listening-stderr-empty test ! -s "$T/listening.err"
t_grep listening-tagged 'rcptsync-agent\[[0-9]+\]: ldap connect ' "$T/syslog.txt"

# --- stale: the socket is left, nobody reads it ----------------------------
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null
t_check stale-socket-left test -S /dev/log
agent_run stale
t_eq stale-one-notice 1 "$(grep -c "$notice" "$T/stale.err")"
t_grep stale-notice-says-why "${notice}Connection refused; logging to stderr\$" \
    "$T/stale.err"
t_grep stale-lines-on-stderr '^rcptsync-agent: error: ldap connect ' \
    "$T/stale.err"
t_done
