# tests/harness.sh - real servers for the regress tests, on 127.0.0.1.
#
# Source it after tests/lib.sh; POSIX sh (dash), like lib.sh.  Every server
# is started by the test that needs it, on its own free port, and stopped
# by PID at exit through t_cleanup, also when the test fails or is
# interrupted.  Call the h_* start functions directly, never inside $(...):
# a subshell would lose the variables and the cleanup registration.
#
# The servers live in one file each under tests/harness/, each with its
# own documented interface (its header):
#
#   slapd.sh    h_fixture, h_slapd_start/stop/kill, h_ldap_modify
#   sshd.sh     h_sshd_start/stop, h_sftp
#   postfix.sh  h_postfix_start/stop, h_postfix_map, h_rcpt
#   wine.sh     h_wine_init, h_wine, h_winpath
#   samba.sh    h_netns_enter, h_samba_start/stop/modify/add_user/
#               search/usn/use; h_mntns_enter, h_samba_strong,
#               h_samba_kinit (a DC that enforces LDAP signing)
#   adproxy.sh  h_adproxy_start/stop (AD's MaxValRange in front of either)
#   configs.sh  h_receiver_conf, h_receiver_local, h_receiver_watch,
#               h_agent_conf, h_agent_conf_with, h_agent_conf_ldap
#
# This file holds what they share, then loads them.  Shared API:
#
#   h_alive PID         true when PID runs (a zombie does not count)
#
#   H_DIR  this test's harness scratch directory (build/tests/tmp/NAME-h),
#          wiped when the file is sourced; apart from t_tmp's directory.
#
# Errors: a start function that fails prints "not ok - harness-...: WHY"
# (through t_fail) and returns 1; the caller should stop (|| exit 1).
#
# Trust boundary: none.  This runs as root on a test machine; it creates
# the system users rcptsync and rcptsync-up and the directory /run/sshd
# when missing, and nothing else outside build/ and /run/rcptsync-test.*.

H_PY=/usr/bin/python3
H_DIR="$RS_TOP/build/tests/tmp/$T_NAME-h"
rm -rf "$H_DIR" && mkdir -p "$H_DIR" || exit 1

# --- common helpers ------------------------------------------------------

# _h_port: print a TCP port that is free on 127.0.0.1 now.  Taken from
# below the ephemeral range so outgoing connections do not race for it.
_h_port() {
	"$H_PY" - <<'EOF'
import random, socket
r = random.SystemRandom()
for _ in range(200):
    p = r.randint(20000, 30999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
EOF
}

# _h_wait_port PORT PID SECS: wait until PORT accepts while PID lives (a
# zombie does not live).  One probe connection: smtp-sink and smtpd log it.
_h_wait_port() {
	"$H_PY" - "$@" <<'EOF'
import socket, sys, time
port, pid, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.monotonic() + secs
while time.monotonic() < end:
    try:
        with open("/proc/%s/status" % pid) as f:
            if any(l.startswith("State:") and "Z" in l for l in f):
                sys.exit(1)
    except OSError:
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# _h_stop PID NAME SIGNAL: signal PID if it still is NAME, wait until gone.
_h_stop() {
	[ -n "$1" ] || return 0
	[ -r "/proc/$1/comm" ] || return 0
	case $(cat "/proc/$1/comm" 2>/dev/null) in
	"$2"*) ;;
	*) return 0 ;;	# gone, and the PID reused: not ours
	esac
	kill "-$3" "$1" 2>/dev/null
	_i=0
	while [ -d "/proc/$1" ] && [ "$_i" -lt 300 ]; do
		# A zombie child of this shell is gone for our purposes.
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && break
		sleep 0.1; _i=$((_i + 1))
	done
	wait "$1" 2>/dev/null
	if h_alive "$1"; then
		kill -KILL "$1" 2>/dev/null
		echo "harness: $2 (pid $1) ignored SIG$3, killed" >&2
	fi
	return 0
}

_h_fail() { t_fail "harness-$1" "$2"; return 1; }

# h_alive PID: the process exists and is not a zombie (this machine's PID 1
# may never reap daemons that were reparented to it).
h_alive() {
	[ -n "$1" ] && [ -r "/proc/$1/status" ] &&
	    ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# _h_users: the system accounts the product uses on a relay.  The upload
# account's password field is "*" (no password, but not "locked"), since
# sshd without PAM refuses locked accounts even for public keys.
_h_users() {
	getent group rcptsync >/dev/null || groupadd -r rcptsync || return 1
	getent passwd rcptsync >/dev/null ||
	    useradd -r -g rcptsync -d /nonexistent -M -s /usr/sbin/nologin \
	    -c "rcptsync receiver" rcptsync || return 1
	if ! getent passwd rcptsync-up >/dev/null; then
		useradd -r -g rcptsync -d /nonexistent -M -s /usr/sbin/nologin \
		    -p '*' -c "rcptsync uploads" rcptsync-up || return 1
	fi
	case $(getent shadow rcptsync-up | cut -d: -f2) in
	'!'*) usermod -p '*' rcptsync-up || return 1 ;;
	esac
}

# --- the servers -------------------------------------------------------

for _h_part in slapd sshd postfix wine samba adproxy configs; do
	. "$RS_TOP/tests/harness/$_h_part.sh"
done
unset _h_part
