# tests/harness/postfix.sh - a throwaway Postfix with smtp-sink behind
# it, and an SMTP client.
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, h_alive, H_DIR,
# t_cleanup registration) it uses.  POSIX sh.  Call the start functions
# directly, never inside $(...), or the variables and the cleanup
# registration are lost.
#
# API:
#
#   h_postfix_start
#       throwaway Postfix (config dir POSTFIX_DIR, own queue and data
#       directories, log H_MAILLOG) with smtpd on 127.0.0.1:SMTP_PORT,
#       relay_domains = H_RELAY_DOMAINS, relay_recipient_maps =
#       H_MAP_TYPE:H_MAP, and transport_maps sending the relay domains to
#       smtp-sink (playing Exchange) on 127.0.0.1:H_SINK_PORT.  H_MAP_TYPE
#       defaults to hash; set it before the call for btree, cdb or lmdb.
#       The initial map holds the one line "harness-initial@corp.test OK".
#       The map directory and files belong to rcptsync:rcptsync.
#       Sets also H_POSTFIX_PID (master) H_SINK_PID.  After h_postfix_stop
#       the next start restarts the same instance (ports, queue, map kept);
#       while one runs, the next start makes a second instance (another
#       relay): save the variables of the first before.
#   h_postfix_stop
#   h_postfix_map FILE
#       make FILE (a "key value" source) the live map, the way the receiver
#       installs one: copy it next to H_MAP, postmap the copy, then rename
#       the copy's table and source over the live ones.  A table rebuilt
#       in place by postmap within the second Postfix opened it goes
#       unnoticed (docs/ADMIN.md, "When Postfix sees a new table"); a
#       renamed one never does.
#   h_wait_rcpt ADDR WANT SECS START STEP
#       h_rcpt ADDR until it prints WANT, or SECS after START: see below.
#   h_rcpt ADDR...
#       one SMTP session (EHLO, MAIL FROM:<test@outside.example>, then one
#       RCPT TO:<ADDR> per argument, QUIT); prints one line per ADDR: for a
#       2xx reply the code alone ("250"), otherwise the code and the
#       enhanced status code when the server sent one ("550 5.1.1",
#       "554 5.7.1"), or the code alone; "000" when the session broke.

H_RELAY_DOMAINS="corp.test example.org branch.corp.test"
H_MAP_TYPE=${H_MAP_TYPE:-hash}
export H_RELAY_DOMAINS H_MAP_TYPE

# --- Postfix -------------------------------------------------------------

# A throwaway instance: every command gets "-c $POSTFIX_DIR" (absolute; with
# a relative path "postfix stop" fails silently), logging goes to a file
# listed in maillog_file_prefixes (else "postfix start" fails without a
# word), and master.cf is our own (Debian's listens on port 25).
h_postfix_start() {
	t_need postfix postconf postmap smtp-sink /usr/lib/postfix/sbin/master
	_h_users || { _h_fail postfix-start "cannot create users"; return 1; }
	if [ -n "${POSTFIX_DIR:-}" ] && [ -f "$POSTFIX_DIR/main.cf" ] &&
	    ! h_alive "${H_POSTFIX_PID:-}"; then
		_h_postfix_run
		return
	fi
	# Another instance still running: this is a second relay.
	H_POSTFIX_N=$((${H_POSTFIX_N:-0} + 1))
	_d=$H_DIR/postfix
	[ "$H_POSTFIX_N" -gt 1 ] && _d=$_d.$H_POSTFIX_N
	rm -rf "$_d" && mkdir -p "$_d/etc" "$_d/spool" "$_d/data" "$_d/maps" || return 1
	chmod 0755 "$_d" "$_d/etc" "$_d/spool"
	chown postfix "$_d/data" && chown rcptsync:rcptsync "$_d/maps" || return 1
	POSTFIX_DIR=$_d/etc
	H_MAILLOG=$_d/maillog
	H_MAP=$_d/maps/relay_recipients
	SMTP_PORT=$(_h_port)
	H_SINK_PORT=$(_h_port)
	while [ "$H_SINK_PORT" = "$SMTP_PORT" ]; do H_SINK_PORT=$(_h_port); done

	printf 'harness-initial@corp.test OK\n' >"$H_MAP"
	: >"$_d/transport"
	for _dom in $H_RELAY_DOMAINS; do
		printf '%s smtp:[127.0.0.1]:%s\n' "$_dom" "$H_SINK_PORT" >>"$_d/transport"
	done
	cat >"$POSTFIX_DIR/main.cf" <<EOF
# harness Postfix: a relay for the relay domains, Exchange is smtp-sink
compatibility_level = 3.6
queue_directory = $_d/spool
data_directory = $_d/data
maillog_file = $H_MAILLOG
maillog_file_prefixes = $_d
myhostname = relay.harness.test
mydomain = harness.test
myorigin = \$myhostname
mydestination =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
relay_domains = $H_RELAY_DOMAINS
relay_recipient_maps = $H_MAP_TYPE:$H_MAP
transport_maps = texthash:$_d/transport
smtpd_soft_error_limit = 10000
smtpd_hard_error_limit = 10000
smtpd_error_sleep_time = 0
smtpd_junk_command_limit = 10000
smtpd_client_connection_rate_limit = 0
smtpd_banner = \$myhostname ESMTP harness
biff = no
EOF
	cat >"$POSTFIX_DIR/master.cf" <<EOF
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
smtp      unix  - - n -   - smtp
relay     unix  - - n -   - smtp
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
showq     unix  n - n -   - showq
scache    unix  - - n -   1 scache
anvil     unix  - - n -   1 anvil
postlog   unix-dgram n - n - 1 postlogd
EOF
	postmap -c "$POSTFIX_DIR" "$H_MAP_TYPE:$H_MAP" &&
	    chown rcptsync:rcptsync "$H_MAP"* ||
	    { _h_fail postfix-start "postmap $H_MAP_TYPE:$H_MAP failed"; return 1; }

	_h_postfix_run
}

h_postfix_map() {
	case $H_MAP_TYPE in
	cdb) _x=.cdb ;;
	lmdb) _x=.lmdb ;;
	*) _x=.db ;;
	esac
	cp "$1" "$H_MAP.new" &&
	    postmap -c "$POSTFIX_DIR" "$H_MAP_TYPE:$H_MAP.new" &&
	    chown rcptsync:rcptsync "$H_MAP.new" "$H_MAP.new$_x" &&
	    mv -f "$H_MAP.new$_x" "$H_MAP$_x" &&
	    mv -f "$H_MAP.new" "$H_MAP"
}

# _h_postfix_run: start smtp-sink and the instance at POSTFIX_DIR (a
# restart after h_postfix_stop keeps ports, queue and map).
_h_postfix_run() {
	_d=${POSTFIX_DIR%/etc}
	smtp-sink -u nobody "127.0.0.1:$H_SINK_PORT" 100 </dev/null >>"$_d/sink.log" 2>&1 &
	H_SINK_PID=$!
	t_cleanup "_h_stop $H_SINK_PID smtp-sink TERM"

	# "start" runs postfix-script check-fatal (and makes the queue).
	postfix -c "$POSTFIX_DIR" start >&2 ||
	    { _h_fail postfix-start "postfix start failed (see $H_MAILLOG)";
	      tail -n 20 "$H_MAILLOG" >&2; return 1; }
	H_POSTFIX_PID=$(awk '{print $1; exit}' "$_d/spool/pid/master.pid" 2>/dev/null)
	t_cleanup "_h_postfix_stop_at '$POSTFIX_DIR' $H_POSTFIX_PID"
	if [ -z "$H_POSTFIX_PID" ] || ! _h_wait_port "$SMTP_PORT" "$H_POSTFIX_PID" 20 ||
	    ! _h_wait_port "$H_SINK_PORT" "$H_SINK_PID" 10; then
		tail -n 20 "$H_MAILLOG" >&2
		_h_fail postfix-start "smtpd or smtp-sink did not come up"
		return 1
	fi
	export POSTFIX_DIR SMTP_PORT H_MAP H_MAP_TYPE H_MAILLOG H_SINK_PORT \
	    H_SINK_PID H_POSTFIX_PID
}

# _h_postfix_stop_at DIR PID: stop the instance at DIR if PID is its master.
_h_postfix_stop_at() {
	h_alive "$2" || return 0
	postfix -c "$1" stop >&2 2>&1
	_h_stop "$2" master TERM
}

# h_postfix_stop: "postfix stop" returns before master is gone; wait on
# master's PID so that the queue can be wiped and the instance restarted.
h_postfix_stop() {
	[ -n "${POSTFIX_DIR:-}" ] || return 0
	_h_postfix_stop_at "$POSTFIX_DIR" "${H_POSTFIX_PID:-}"
	_h_stop "${H_SINK_PID:-}" smtp-sink TERM
}

# h_wait_rcpt ADDR WANT SECS START STEP: ask (h_rcpt, a new session each
# time, every STEP seconds) until Postfix answers WANT, at most SECS after
# START (Unix time); prints the seconds since START, fails on the limit.
h_wait_rcpt() {
	while :; do
		_got=$(h_rcpt "$1")
		_n=$(($(date +%s) - $4))
		[ "$_got" = "$2" ] && { echo "$_n"; return 0; }
		[ "$_n" -ge "$3" ] && { echo "$_n"; return 1; }
		sleep "$5"
	done
}

# h_rcpt ADDR...: see the header for the output format.
h_rcpt() {
	"$H_PY" - "$SMTP_PORT" "$@" <<'EOF'
import socket, sys

def reply(f):
    """Read one (multi-line) SMTP reply; return its last line."""
    while True:
        line = f.readline(4096)
        if not line:
            raise EOFError
        line = line.rstrip(b"\r\n").decode("latin-1")
        if len(line) < 4 or line[3] != "-":
            return line

def brief(line):
    code = line[:3]
    if code.startswith("2"):
        return code
    parts = line.split()
    if len(parts) > 1 and len(parts[1].split(".")) == 3 and \
            all(p.isdigit() for p in parts[1].split(".")):
        return code + " " + parts[1]
    return code

port, addrs = int(sys.argv[1]), sys.argv[2:]
out = []
try:
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.settimeout(30)
    f = s.makefile("rb")
    def cmd(c):
        s.sendall(c.encode("latin-1") + b"\r\n")
        return reply(f)
    reply(f)
    cmd("EHLO client.outside.example")
    cmd("MAIL FROM:<test@outside.example>")
    for a in addrs:
        out.append(brief(cmd("RCPT TO:<%s>" % a)))
    cmd("QUIT")
except (OSError, EOFError):
    pass
out += ["000"] * (len(addrs) - len(out))
print("\n".join(out))
EOF
}
