# tests/harness.sh - real servers for the regress tests, on 127.0.0.1.
#
# Source it after tests/lib.sh; POSIX sh (dash), like lib.sh.  Every server
# is started by the test that needs it, on its own free port, and stopped
# by PID at exit through t_cleanup, also when the test fails or is
# interrupted.  Call the h_* start functions directly, never inside $(...):
# a subshell would lose the variables and the cleanup registration.
#
# API (docs/HACKING.md, "Servers"):
#
#   h_fixture N DIR [hostile]
#       run tests/fixture/gen.py: DIR/fixture.ldif, DIR/expected.txt (ground
#       truth, sorted bytewise, unique, at least N lines), DIR/domains (one
#       line "branch.corp.test corp.test example.org"), DIR/summary
#       ("key: value"; smtp_objects = entries (proxyAddresses=smtp:*)
#       matches, recipients = lines of expected.txt).  "hostile" adds the
#       hostile values (none of them in expected.txt).  H_FIXTURE_SEED
#       picks another deterministic variant.
#
#   h_slapd_start [LDIF]
#       slapd with the AD-like schema (tests/fixture/ad-schema.ldif), mdb,
#       suffix dc=corp,dc=test, AD's MaxPageSize behaviour (size.soft=1000
#       size.hard=1000 size.prtotal=unlimited).  The first start loads the
#       base entries (root, CN=Users, the bind user) and LDIF offline with
#       slapadd -q.  A later start without LDIF reuses the data (restart);
#       with LDIF it reloads from scratch.  One slapd per test: starting
#       while one runs stops that one first.  Sets LDAP_URI LDAP_HOST
#       LDAP_PORT LDAP_BASE LDAP_BINDDN LDAP_PWFILE (password, no newline)
#       LDAP_PASSWORD LDAP_ROOTDN LDAP_ROOTPW H_SLAPD_PID.  The bind user
#       is an ordinary user with read access: the rootdn ignores limits.
#   h_slapd_stop        SIGTERM, wait until gone
#   h_slapd_kill        SIGKILL, wait until gone
#   h_ldap_modify LDIF  ldapmodify as the rootdn, online
#
#   h_sshd_start
#       OpenSSH sshd (own config, ed25519 + ecdsa host keys made per run)
#       with the chrooted SFTP-only account rcptsync-up (group rcptsync).
#       Chroot SFTP_ROOT is a root-owned directory under /run (sshd refuses
#       /tmp-like paths); inside it incoming/ (rcptsync-up:rcptsync 02770)
#       and status/ (rcptsync:rcptsync 0755).  Sets SFTP_HOST SFTP_PORT
#       SFTP_USER SFTP_KEY (ed25519 client key, OpenSSH format, no
#       passphrase) SFTP_PUBKEY SFTP_HOSTKEY_SHA256 (as ssh-keygen -lf
#       prints it) SFTP_HOSTKEY_ECDSA_SHA256 SFTP_KNOWN_HOSTS
#       ("[127.0.0.1]:PORT ssh-ed25519 ..." line) SFTP_ROOT SFTP_INCOMING
#       SFTP_STATUS_DIR H_SSHD_PID H_SSHD_LOG.
#       h_sftp BATCHFILE runs the sftp client with all of the above.
#       Each call starts another instance (another relay) with its own
#       chroot, keys and port: save the variables of the first before.
#   h_sshd_stop
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
#   h_rcpt ADDR...
#       one SMTP session (EHLO, MAIL FROM:<test@outside.example>, then one
#       RCPT TO:<ADDR> per argument, QUIT); prints one line per ADDR: for a
#       2xx reply the code alone ("250"), otherwise the code and the
#       enhanced status code when the server sent one ("550 5.1.1",
#       "554 5.7.1"), or the code alone; "000" when the session broke.
#
#   h_wine_init
#       WINEPREFIX=build/tests/wine/RUNID, created fresh once per tests/run
#       invocation (RUNID: RS_RUN_ID, else tests/run's PID and start time;
#       the prefixes of finished runs are deleted), WINEDEBUG=-all,
#       WINEDLLOVERRIDES="mscoree,mshtml=", WINEARCH=win64, wineboot -i,
#       and "wineserver -p" kept running until the test exits (then
#       wineserver -k; wineserver -w).  H_WINE is the wine64 loader.
#   h_wine CMD...       run CMD under wine64
#   h_winpath PATH      print PATH as Wine sees it (Z:\...)
#
#   h_receiver_conf FILE, h_agent_conf FILE [wine]
#       configs per docs/CONFIG.md wired to the servers started above; the
#       agent's signing key (H_AGENT_KEY, made with ssh-keygen) is the one
#       listed for principal "corp" in H_ALLOWED_SIGNERS.  With "wine", the
#       agent config's paths are Windows paths.
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
H_WINE=/usr/lib/wine/wine64
H_DIR="$RS_TOP/build/tests/tmp/$T_NAME-h"
rm -rf "$H_DIR" && mkdir -p "$H_DIR" || exit 1

LDAP_BASE="dc=corp,dc=test"
LDAP_BINDDN="cn=svc-rcptsync,cn=Users,dc=corp,dc=test"
LDAP_ROOTDN="cn=admin,dc=corp,dc=test"
LDAP_ROOTPW="rootsecret"
H_RELAY_DOMAINS="corp.test example.org branch.corp.test"
H_MAP_TYPE=${H_MAP_TYPE:-hash}
export LDAP_BASE LDAP_BINDDN LDAP_ROOTDN LDAP_ROOTPW H_RELAY_DOMAINS H_MAP_TYPE

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

# --- fixture -------------------------------------------------------------

h_fixture() {
	[ $# -ge 2 ] || { _h_fail fixture "usage: h_fixture N DIR [hostile]"; return 1; }
	_hf=
	[ "${3:-}" = hostile ] && _hf=--hostile
	"$H_PY" "$RS_TOP/tests/fixture/gen.py" --seed "${H_FIXTURE_SEED:-1}" \
	    $_hf "$1" "$2" >&2 || { _h_fail fixture "gen.py $1 $2 failed"; return 1; }
}

# --- slapd ---------------------------------------------------------------

_h_slapd_config() {
	_d=$1
	cat >"$_d/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $_d/slapd.pid
olcArgsFile: $_d/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
	# core/cosine/ad carry their own dn lines; join with blank lines.
	awk 'FNR == 1 && NR > 1 { print "" } { print }' \
	    /etc/ldap/schema/core.ldif /etc/ldap/schema/cosine.ldif \
	    "$RS_TOP/tests/fixture/ad-schema.ldif" >>"$_d/config.ldif" || return 1
	cat >>"$_d/config.ldif" <<EOF

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: size.soft=1000 size.hard=1000 size.prtotal=unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $_d/db
olcSuffix: $LDAP_BASE
olcRootDN: $LDAP_ROOTDN
olcRootPW: $LDAP_ROOTPW
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcSizeLimit: size.soft=1000 size.hard=1000 size.prtotal=unlimited
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by users read by * none
EOF
	cat >"$_d/base.ldif" <<EOF
dn: $LDAP_BASE
objectClass: top
objectClass: domain
dc: corp

dn: cn=Users,$LDAP_BASE
objectClass: top
objectClass: container
cn: Users

dn: $LDAP_BINDDN
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: svc-rcptsync
sn: svc-rcptsync
sAMAccountName: svc-rcptsync
userAccountControl: 66048
userPassword: $LDAP_PASSWORD
EOF
}

# _h_slapd_load [LDIF]: build cn=config and the database from scratch.
_h_slapd_load() {
	_d=$H_DIR/slapd
	rm -rf "$_d" && mkdir -p "$_d/slapd.d" "$_d/db" || return 1
	_h_slapd_config "$_d" || return 1
	slapadd -n0 -F "$_d/slapd.d" -l "$_d/config.ldif" >"$_d/slapadd.log" 2>&1 ||
	    { cat "$_d/slapadd.log" >&2; return 1; }
	slapadd -q -F "$_d/slapd.d" -b "$LDAP_BASE" -l "$_d/base.ldif" \
	    >>"$_d/slapadd.log" 2>&1 || { cat "$_d/slapadd.log" >&2; return 1; }
	if [ -n "${1:-}" ]; then
		slapadd -q -F "$_d/slapd.d" -b "$LDAP_BASE" -l "$1" \
		    >>"$_d/slapadd.log" 2>&1 ||
		    { tail -n 20 "$_d/slapadd.log" >&2; return 1; }
	fi
}

h_slapd_start() {
	t_need slapd slapadd ldapsearch ldapmodify
	LDAP_PASSWORD="readerpw-$$"
	LDAP_PWFILE=$H_DIR/ldap.pw
	printf '%s' "$LDAP_PASSWORD" >"$LDAP_PWFILE" && chmod 0600 "$LDAP_PWFILE"
	# One slapd per test: a second start replaces the first.
	h_alive "${H_SLAPD_PID:-}" && h_slapd_stop
	if [ -n "${1:-}" ] || [ ! -d "$H_DIR/slapd/slapd.d" ]; then
		_h_slapd_load "${1:-}" ||
		    { _h_fail slapd-start "slapadd failed (see log)"; return 1; }
	fi
	_d=$H_DIR/slapd
	# Port clashes with other processes are possible: retry on another.
	for _try in 1 2 3; do
		LDAP_PORT=$(_h_port)
		slapd -d stats -h "ldap://127.0.0.1:$LDAP_PORT/" -F "$_d/slapd.d" \
		    >>"$_d/slapd.log" 2>&1 </dev/null &
		H_SLAPD_PID=$!
		t_cleanup "_h_stop $H_SLAPD_PID slapd TERM"
		if _h_wait_port "$LDAP_PORT" "$H_SLAPD_PID" 30; then
			LDAP_HOST=127.0.0.1
			LDAP_URI="ldap://127.0.0.1:$LDAP_PORT"
			export LDAP_URI LDAP_HOST LDAP_PORT LDAP_PWFILE LDAP_PASSWORD H_SLAPD_PID
			return 0
		fi
		_h_stop "$H_SLAPD_PID" slapd KILL
		tail -n 5 "$_d/slapd.log" >&2
	done
	_h_fail slapd-start "slapd did not come up (see $_d/slapd.log)"
}

h_slapd_stop() { _h_stop "${H_SLAPD_PID:-}" slapd TERM; }
h_slapd_kill() { _h_stop "${H_SLAPD_PID:-}" slapd KILL; }

h_ldap_modify() {
	ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ROOTDN" -w "$LDAP_ROOTPW" \
	    -f "$1" >&2
}

# --- sshd ----------------------------------------------------------------

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

h_sshd_start() {
	t_need /usr/sbin/sshd ssh-keygen sftp
	_h_users || { _h_fail sshd-start "cannot create users rcptsync, rcptsync-up"; return 1; }
	# Privilege separation directory; Debian's sshd unit would make it.
	[ -d /run/sshd ] || install -d -m 0755 -o root -g root /run/sshd
	_d=$H_DIR/sshd${H_SSHD_N:+.$H_SSHD_N}
	H_SSHD_N=$((${H_SSHD_N:-0} + 1))
	rm -rf "$_d" && mkdir -p "$_d" && chmod 0755 "$_d" || return 1

	# sshd wants the chroot and every directory above it owned by root
	# and writable by nobody else, which rules out /tmp and may rule out
	# the build tree: /run is root's.
	SFTP_ROOT=$(mktemp -d /run/rcptsync-test.XXXXXX) ||
	    { _h_fail sshd-start "mktemp under /run"; return 1; }
	t_cleanup "rm -rf '$SFTP_ROOT'"
	chmod 0755 "$SFTP_ROOT"
	SFTP_INCOMING=$SFTP_ROOT/incoming
	SFTP_STATUS_DIR=$SFTP_ROOT/status
	install -d -o rcptsync-up -g rcptsync -m 02770 "$SFTP_INCOMING" &&
	install -d -o rcptsync -g rcptsync -m 0755 "$SFTP_STATUS_DIR" || return 1

	ssh-keygen -q -t ed25519 -N '' -C harness-host -f "$_d/host_ed25519" &&
	ssh-keygen -q -t ecdsa -N '' -C harness-host -f "$_d/host_ecdsa" &&
	ssh-keygen -q -t ed25519 -N '' -C harness-client -f "$_d/client_ed25519" ||
	    { _h_fail sshd-start "ssh-keygen failed"; return 1; }
	SFTP_KEY=$_d/client_ed25519
	SFTP_PUBKEY=$_d/client_ed25519.pub
	# Read as the upload user (sshd drops to it), hence 0644.  StrictModes
	# also wants every directory above it owned by root and writable by
	# nobody else, which the build tree is not when it lives under /tmp.
	_k=$(mktemp -d /run/rcptsync-keys.XXXXXX) ||
	    { _h_fail sshd-start "mktemp under /run"; return 1; }
	t_cleanup "rm -rf '$_k'"
	chmod 0755 "$_k"
	install -m 0644 "$SFTP_PUBKEY" "$_k/authorized_keys"
	SFTP_HOSTKEY_SHA256=$(ssh-keygen -lf "$_d/host_ed25519.pub" | awk '{print $2}')
	SFTP_HOSTKEY_ECDSA_SHA256=$(ssh-keygen -lf "$_d/host_ecdsa.pub" | awk '{print $2}')
	SFTP_USER=rcptsync-up
	SFTP_HOST=127.0.0.1

	for _try in 1 2 3; do
		SFTP_PORT=$(_h_port)
		cat >"$_d/sshd_config" <<EOF
# harness sshd: SFTP-only, chrooted upload account
Port $SFTP_PORT
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $_d/host_ed25519
HostKey $_d/host_ecdsa
PidFile $_d/sshd.pid
LogLevel VERBOSE
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
StrictModes yes
AllowUsers $SFTP_USER
PrintMotd no
Subsystem sftp internal-sftp

Match User $SFTP_USER
	AuthorizedKeysFile $_k/authorized_keys
	ChrootDirectory $SFTP_ROOT
	ForceCommand internal-sftp -u 0027
	AllowTcpForwarding no
	AllowAgentForwarding no
	AllowStreamLocalForwarding no
	X11Forwarding no
	PermitTunnel no
	PermitTTY no
	PasswordAuthentication no
EOF
		/usr/sbin/sshd -t -f "$_d/sshd_config" >&2 ||
		    { _h_fail sshd-start "sshd -t rejects $_d/sshd_config"; return 1; }
		/usr/sbin/sshd -D -f "$_d/sshd_config" -E "$_d/sshd.log" </dev/null &
		H_SSHD_PID=$!
		t_cleanup "_h_stop $H_SSHD_PID sshd TERM"
		if _h_wait_port "$SFTP_PORT" "$H_SSHD_PID" 15; then
			printf '[127.0.0.1]:%s %s\n' "$SFTP_PORT" \
			    "$(cut -d' ' -f1,2 "$_d/host_ed25519.pub")" >"$_d/known_hosts"
			SFTP_KNOWN_HOSTS=$_d/known_hosts
			H_SSHD_LOG=$_d/sshd.log
			export SFTP_HOST SFTP_PORT SFTP_USER SFTP_KEY SFTP_PUBKEY \
			    SFTP_HOSTKEY_SHA256 SFTP_HOSTKEY_ECDSA_SHA256 \
			    SFTP_KNOWN_HOSTS SFTP_ROOT SFTP_INCOMING \
			    SFTP_STATUS_DIR H_SSHD_PID H_SSHD_LOG
			return 0
		fi
		_h_stop "$H_SSHD_PID" sshd KILL
		tail -n 5 "$_d/sshd.log" >&2
	done
	_h_fail sshd-start "sshd did not come up (see $_d/sshd.log)"
}

h_sshd_stop() { _h_stop "${H_SSHD_PID:-}" sshd TERM; }

# h_sftp BATCHFILE: the OpenSSH sftp client against the harness sshd,
# host key pinned; exits non-zero when a batch command fails.
h_sftp() {
	sftp -b "$1" -i "$SFTP_KEY" -P "$SFTP_PORT" \
	    -o UserKnownHostsFile="$SFTP_KNOWN_HOSTS" \
	    -o GlobalKnownHostsFile=/dev/null \
	    -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \
	    -o BatchMode=yes -o ConnectTimeout=10 \
	    "$SFTP_USER@127.0.0.1"
}

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

# --- Wine ----------------------------------------------------------------

# _h_run_id: what identifies one tests/run invocation: RS_RUN_ID when the
# driver exports it, else the parent's PID and start time (tests/run runs
# each test as its child).  Printed as [0-9A-Za-z._-] only.
_h_run_id() {
	if [ -n "${RS_RUN_ID:-}" ]; then
		printf '%s\n' "$RS_RUN_ID" | tr -c '0-9A-Za-z._\n-' _
		return
	fi
	echo "$PPID.$(awk '{print $22}' "/proc/$PPID/stat" 2>/dev/null)"
}

# _h_run_alive ID: is the run ID (PID.STARTTIME) still going?
_h_run_alive() {
	_rp=${1%%.*}
	_rs=${1#*.}
	[ -r "/proc/$_rp/stat" ] &&
	    [ "$(awk '{print $22}' "/proc/$_rp/stat" 2>/dev/null)" = "$_rs" ]
}

# _h_wineserver_pids: wineservers serving $WINEPREFIX.
_h_wineserver_pids() {
	for _wp in $(pgrep -x 'wineserver64|wineserver' 2>/dev/null); do
		tr '\0' '\n' <"/proc/$_wp/environ" 2>/dev/null |
		    grep -qxF "WINEPREFIX=$WINEPREFIX" && echo "$_wp"
	done
	return 0
}

# One prefix per run, build/tests/wine/RUNID: tests of one run share it
# (wineboot costs seconds), runs never do, not even runs in parallel.
# Prefixes of runs that have ended are removed here.
h_wine_init() {
	t_need "$H_WINE" wineserver wineboot
	_id=$(_h_run_id)
	WINEPREFIX=$RS_TOP/build/tests/wine/$_id
	WINEDEBUG=-all
	WINEDLLOVERRIDES="mscoree,mshtml="
	WINEARCH=win64
	export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES WINEARCH
	for _old in "$RS_TOP"/build/tests/wine/*/.rs-owner; do
		[ -f "$_old" ] || continue
		_old=${_old%/.rs-owner}
		[ "$_old" != "$WINEPREFIX" ] || continue
		_h_run_alive "$(cat "$_old/.rs-owner")" && continue
		WINEPREFIX=$_old wineserver -k 2>/dev/null
		rm -rf "$_old"
	done
	_fresh=
	if [ ! -f "$WINEPREFIX/.rs-ready" ]; then
		rm -rf "$WINEPREFIX" && mkdir -p "$WINEPREFIX" || return 1
		# The run (tests/run, our parent) owns it; gone, it is deleted.
		echo "$PPID.$(awk '{print $22}' "/proc/$PPID/stat")" \
		    >"$WINEPREFIX/.rs-owner"
		_fresh=1
	fi
	# Persistent server first: otherwise it exits a second after the
	# last wine process and takes a service under test with it.
	wineserver -p >&2 2>&1 || { _h_fail wine-init "wineserver -p failed"; return 1; }
	t_cleanup "_h_wine_stop"
	if [ -n "$_fresh" ]; then
		wineboot -i >&2 2>&1 || { _h_fail wine-init "wineboot -i failed"; return 1; }
		# wineboot under a persistent server can leave two services.exe
		# running, each with its own service database.  Tests that
		# register services restart the session themselves (wineserver
		# -k, -w, -p): doing it here would start the next services.exe
		# from whatever command comes first, and one run inside $(...)
		# would then hold that pipe open forever.
		: >"$WINEPREFIX/.rs-ready"
	fi
}

# h_receiver_local CONF: a receiver config for tests that drop bundles into
# the spool themselves, without sshd: the spool is $H_DIR/incoming and the
# status file lives in $H_DIR/status, both owned by the receiver's user as
# the packaged tmpfiles.d would make them.  Sets SPOOL.
h_receiver_local() {
	SPOOL=$H_DIR/incoming
	mkdir -p "$SPOOL" "$H_DIR/status" || return 1
	h_receiver_conf "$1" || return 1
	chown -R rcptsync:rcptsync "$SPOOL" "$H_DIR/status" "$H_RECV_STATE" &&
	    chmod 0644 "$H_ALLOWED_SIGNERS"
}

# h_receiver_watch CONF LOG [INTERVAL [OPTION...]]: run the receiver every
# INTERVAL seconds (default 0.5), as its systemd .path unit would when files
# arrive, appending to LOG, until the test ends.  The receiver binary is
# $RECEIVER, else $RS_RECEIVER, else the one at the top of the tree.
# Sets H_RWATCH_PID.
# h_agent_conf_with SRC OUT KEY=VALUE...: SRC (an h_agent_conf file) with
# more [agent] keys, into OUT.
h_agent_conf_with() {
	_src=$1 _out=$2; shift 2
	_add=
	for _kv in "$@"; do
		_add="$_add\\n${_kv%%=*} = ${_kv#*=}"
	done
	sed "s/^\\[agent\\]\$/[agent]$_add/" "$_src" >"$_out"
}

h_receiver_watch() {
	_conf=$1 _log=$2 _every=${3:-0.5}
	shift 2; [ $# -gt 0 ] && shift
	_bin=${RECEIVER:-${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}}
	( while :; do
		"$_bin" -c "$_conf" "$@" run >>"$_log" 2>&1
		sleep "$_every"
	done ) &
	H_RWATCH_PID=$!
	t_cleanup "kill $H_RWATCH_PID 2>/dev/null"
}

_h_wine_stop() {
	[ -n "${WINEPREFIX:-}" ] || return 0
	wineserver -k 2>/dev/null
	wineserver -w 2>/dev/null
	return 0
}

h_wine() { "$H_WINE" "$@"; }

# h_winpath PATH: the Wine name of an absolute Unix path (drive Z: is /).
h_winpath() { printf 'Z:%s\n' "$1" | tr / '\\'; }

# --- configs -------------------------------------------------------------

# _h_agent_key: the test agent's signing key and the receiver's
# allowed_signers naming it for principal "corp".
_h_agent_key() {
	H_AGENT_KEY=${H_AGENT_KEY:-$H_DIR/agent_ed25519}
	H_ALLOWED_SIGNERS=${H_ALLOWED_SIGNERS:-$H_DIR/allowed_signers}
	if [ ! -f "$H_AGENT_KEY" ]; then
		ssh-keygen -q -t ed25519 -N '' -C corp -f "$H_AGENT_KEY" || return 1
	fi
	if [ ! -f "$H_ALLOWED_SIGNERS" ]; then
		printf 'corp namespaces="rcptsync" %s\n' \
		    "$(cut -d' ' -f1,2 "$H_AGENT_KEY.pub")" >"$H_ALLOWED_SIGNERS" ||
		    return 1
	fi
	export H_AGENT_KEY H_ALLOWED_SIGNERS
}

h_receiver_conf() {
	_h_agent_key || { _h_fail receiver-conf "ssh-keygen failed"; return 1; }
	H_RECV_STATE=${H_RECV_STATE:-$H_DIR/receiver-state}
	mkdir -p "$H_RECV_STATE"
	export H_RECV_STATE
	cat >"$1" <<EOF
# written by tests/harness.sh h_receiver_conf
[receiver]
spool_dir = ${SFTP_INCOMING:-$H_DIR/incoming}
status_file = ${SFTP_STATUS_DIR:-$H_DIR/status}/status.json
state_dir = $H_RECV_STATE
allowed_signers = $H_ALLOWED_SIGNERS
map = ${H_MAP:-$H_DIR/relay_recipients}
map_type = $H_MAP_TYPE
postmap = /usr/sbin/postmap
postconf = /usr/sbin/postconf
relay_domains = $H_RELAY_DOMAINS
EOF
	[ -n "${POSTFIX_DIR:-}" ] && printf 'postfix_config = %s\n' "$POSTFIX_DIR" >>"$1"
	return 0
}

h_agent_conf() {
	_h_agent_key || { _h_fail agent-conf "ssh-keygen failed"; return 1; }
	H_AGENT_STATE=${H_AGENT_STATE:-$H_DIR/agent-state}
	mkdir -p "$H_AGENT_STATE"
	export H_AGENT_STATE
	if [ "${2:-}" = wine ]; then _p=h_winpath; else _p=echo; fi
	cat >"$1" <<EOF
# written by tests/harness.sh h_agent_conf
[agent]
id = corp
domains = $H_RELAY_DOMAINS
signing_key = $($_p "$H_AGENT_KEY")
state_dir = $($_p "$H_AGENT_STATE")

[ldap]
server = ${LDAP_URI:-ldap://127.0.0.1:389}
base = $LDAP_BASE
bind = simple
bind_dn = $LDAP_BINDDN
EOF
	if [ "${2:-}" = wine ]; then
		# Windows keeps no plaintext password file: set-password.
		printf '%s\n' "timeout = 10s" >>"$1"
	else
		printf 'password_file = %s\ntimeout = 10s\n' "${LDAP_PWFILE:-}" >>"$1"
	fi
	cat >>"$1" <<EOF

[relay mx1]
host = 127.0.0.1
port = ${SFTP_PORT:-22}
user = ${SFTP_USER:-rcptsync-up}
hostkey_sha256 = ${SFTP_HOSTKEY_SHA256:-}
private_key = $($_p "${SFTP_KEY:-$H_DIR/none}")
remote_dir = incoming
status_file = status/status.json
connect_timeout = 5s
wait = 30s
retries = 1
backoff = 1s
EOF
}

# --- Samba AD DC (the Active Directory stand-in for freshness tests) -------
#
# Debian's Samba AD DC keeps what issue 9 relies on and slapd cannot fake:
# highestCommittedUSN and dsServiceName in the rootDSE, uSNChanged on every
# object, objectGUID, the invocationId of the NTDS Settings object,
# tombstones.  docs/HACKING.md ("Samba AD DC as the directory") says what
# is faithful and what is not.  Samba always listens on port 389 (and 636),
# which a system slapd may hold: it runs in the test's own network
# namespace, and so does everything else the test starts.
#
#   h_netns_enter "$@"
#       call first, right after sourcing this file and before starting
#       anything: re-executes the test script (same PID, stdout, stderr)
#       under "unshare -n" and brings lo up; a no-op inside the namespace
#       (also for child scripts).  Sets H_NETNS (the namespace's
#       /proc/self/ns/net).  Without unshare/ip or the privilege for a
#       namespace the test fails ("not ok - harness-netns") and exits.
#
#   h_samba_start [N]
#       a domain controller for realm CORP.TEST, base DC=corp,DC=test
#       (LDAP_BASE's), on ldap://127.0.0.1:389 and ldaps://127.0.0.1:636,
#       only the LDAP service, simple binds allowed without TLS.  The
#       provisioned domain is made once per tests/run invocation in
#       build/tests/samba/RUNID (samba-tool domain provision, about 8 s;
#       the templates of finished runs are deleted) and copied into
#       $H_DIR/samba.  Then, before Samba starts, ldbadd loads the service
#       account and the fixture of tests/fixture/samba-gen.py (N objects,
#       default 1200, hostile values included; H_FIXTURE_SEED picks
#       another variant) into sam.ldb.  The service account has bound once
#       when this returns (its first logon writes lastLogonTimestamp and
#       moves highestCommittedUSN; later binds do not).  Without N and
#       with an instance stopped by h_samba_stop: a restart on the same
#       data.  One Samba per test.  Sets
#         H_SAMBA_URI        ldap://127.0.0.1:389
#         H_SAMBA_LDAPS_URI  ldaps://127.0.0.1:636, certificate for
#                            dc1.corp.test and IP 127.0.0.1
#         H_SAMBA_CAFILE     that certificate (self-signed, the trust anchor)
#         H_SAMBA_BASE       DC=corp,DC=test
#         H_SAMBA_BINDDN     CN=svc-rcpt,CN=Users,DC=corp,DC=test, a plain
#                            Domain User (UPN svc-rcpt@corp.test)
#         H_SAMBA_PWFILE     its password, no newline, mode 0600
#         H_SAMBA_ADMIN_DN   CN=Administrator,CN=Users,DC=corp,DC=test
#         H_SAMBA_ADMIN_PWFILE
#         H_SAMBA_FIXTURE    samba-gen.py's output directory (summary ...)
#         H_SAMBA_EXPECTED   ground truth: sorted addresses, as h_fixture's
#         H_SAMBA_DIR H_SAMBA_CONF (for samba-tool -s, with
#                            -H $H_SAMBA_DIR/private/sam.ldb) H_SAMBA_LOG
#         H_SAMBA_PID
#   h_samba_stop        SIGTERM, wait until gone
#   h_samba_modify [FILE]
#                       ldapmodify as Administrator, LDIF from FILE or stdin
#   h_samba_add_user LOGIN VALUE...
#                       a mail-enabled user CN=LOGIN,OU=Engineering,OU=Corp:
#                       the first address VALUE becomes SMTP:, the others
#                       smtp:; a VALUE with a ':' (X500:...) is kept as is
#   h_samba_search ARG...
#                       ldapsearch as the service account below
#                       H_SAMBA_BASE, paged (1000), unwrapped LDIF; ARG...
#                       are more options, the filter and attributes
#   h_samba_usn         print highestCommittedUSN (anonymous rootDSE read:
#                       no account logs on, nothing is written)
#   h_samba_use         point LDAP_URI LDAP_HOST LDAP_PORT LDAP_BASE
#                       LDAP_BINDDN LDAP_PWFILE LDAP_PASSWORD LDAP_ROOTDN
#                       LDAP_ROOTPW at Samba, so that h_agent_conf and
#                       h_ldap_modify work against it

H_SAMBA_BASE="DC=corp,DC=test"
H_SAMBA_BINDDN="CN=svc-rcpt,CN=Users,$H_SAMBA_BASE"
H_SAMBA_ADMIN_DN="CN=Administrator,CN=Users,$H_SAMBA_BASE"
H_SAMBA_URI="ldap://127.0.0.1:389"
H_SAMBA_LDAPS_URI="ldaps://127.0.0.1:636"
export H_SAMBA_BASE H_SAMBA_BINDDN H_SAMBA_ADMIN_DN H_SAMBA_URI H_SAMBA_LDAPS_URI

h_netns_enter() {
	t_need unshare ip
	_ns=$(readlink /proc/self/ns/net) ||
	    { _h_fail netns "cannot read /proc/self/ns/net"; exit 1; }
	# Inside already: this script after the re-exec, or a child of it.
	[ "${H_NETNS:-}" = "$_ns" ] && return 0
	if [ -n "${H_NETNS_OUTER:-}" ]; then
		[ "$H_NETNS_OUTER" != "$_ns" ] ||
		    { _h_fail netns "unshare -n kept the old network namespace"; exit 1; }
		ip link set lo up ||
		    { _h_fail netns "ip link set lo up failed"; exit 1; }
		H_NETNS=$_ns
		unset H_NETNS_OUTER
		export H_NETNS
		return 0
	fi
	# Try first: after exec there is nobody left to report the failure.
	_e=$(unshare -n true 2>&1) ||
	    { _h_fail netns "unshare -n: ${_e:-failed} (needs root)"; exit 1; }
	H_NETNS_OUTER=$_ns
	export H_NETNS_OUTER
	# Nothing to clean up yet (the caller started nothing), and exec
	# skips the EXIT trap: the new script registers its own.
	exec unshare -n -- /bin/sh "$0" "$@"
}

# _h_samba_template: a provisioned domain in H_SAMBA_TEMPLATE, made once
# per tests/run invocation (like the Wine prefix): provisioning costs about
# 8 s, a copy a fraction of a second.  Holds p/ (the provisioned tree, TLS
# key and certificate in p/private/tls) and admin.pw.
_h_samba_template() {
	_sroot=$RS_TOP/build/tests/samba
	H_SAMBA_TEMPLATE=$_sroot/$(_h_run_id)
	for _old in "$_sroot"/*/.rs-owner; do
		[ -f "$_old" ] || continue
		_old=${_old%/.rs-owner}
		[ "$_old" != "$H_SAMBA_TEMPLATE" ] || continue
		_h_run_alive "$(cat "$_old/.rs-owner")" || rm -rf "$_old"
	done
	[ -f "$H_SAMBA_TEMPLATE/.rs-ready" ] && return 0
	# Built under a temporary name, renamed when complete: an interrupted
	# provision never passes for a template.
	_tt=$H_SAMBA_TEMPLATE.tmp.$$
	rm -rf "$_tt" && mkdir -p "$_tt" && chmod 0700 "$_tt" || return 1
	_apw="Adm-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-9"
	printf '%s' "$_apw" >"$_tt/admin.pw" && chmod 0600 "$_tt/admin.pw" || return 1
	samba-tool domain provision --targetdir="$_tt/p" --realm=CORP.TEST \
	    --domain=CORP --server-role=dc --dns-backend=NONE \
	    --host-name=dc1 --adminpass="$_apw" \
	    --option="interfaces=lo" --option="bind interfaces only=yes" \
	    >"$_tt/provision.log" 2>&1 ||
	    { tail -n 20 "$_tt/provision.log" >&2; rm -rf "$_tt"; return 1; }
	# Our own key and certificate, so that Samba need not make its own at
	# every start (a second each), and with 127.0.0.1 in it for ldaps.
	_tls=$_tt/p/private/tls
	mkdir -p "$_tls" && rm -f "$_tls"/*.pem &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$_tls/key.pem" -out "$_tls/cert.pem" -days 60 \
	    -subj "/CN=dc1.corp.test" \
	    -addext "subjectAltName=DNS:dc1.corp.test,DNS:localhost,IP:127.0.0.1" \
	    >"$_tt/openssl.log" 2>&1 && chmod 0600 "$_tls/key.pem" ||
	    { cat "$_tt/openssl.log" >&2; rm -rf "$_tt"; return 1; }
	# The owner is tests/run, our parent: when it is gone, so is this.
	echo "$PPID.$(awk '{print $22}' "/proc/$PPID/stat")" >"$_tt/.rs-owner"
	: >"$_tt/.rs-ready"
	rm -rf "$H_SAMBA_TEMPLATE"
	mv "$_tt" "$H_SAMBA_TEMPLATE"
}

# _h_samba_conf DIR: the smb.conf this instance runs with.  Only the LDAP
# service: no KDC, no DNS, no replication, no SMB; nothing of Samba's runs
# in the background that would write to the directory.
_h_samba_conf() {
	cat >"$1/min.conf" <<EOF
# written by tests/harness.sh: Samba AD DC, LDAP only
[global]
	netbios name = DC1
	realm = CORP.TEST
	workgroup = CORP
	server role = active directory domain controller
	server services = ldap
	ldap server require strong auth = no
	interfaces = 127.0.0.1
	bind interfaces only = yes
	private dir = $1/private
	state directory = $1/state
	cache directory = $1/cache
	lock directory = $1
	pid directory = $1
	ncalrpc dir = $1/ncalrpc
	binddns dir = $1/bind-dns
	tls enabled = yes
	tls keyfile = $1/private/tls/key.pem
	tls certfile = $1/private/tls/cert.pem
	tls cafile = $1/private/tls/cert.pem
	log level = 1
EOF
}

# _h_samba_load N: a fresh copy of the template, the service account and
# the fixture loaded offline.  ldbadd into sam.ldb runs the same dsdb
# modules as an LDAP add (objectGUID, USNs, SIDs, password hashing, schema
# checks) in a quarter of the time of ldapadd.
_h_samba_load() {
	_d=$H_DIR/samba
	_t0=$(date +%s)
	_h_samba_template || { _h_fail samba-start "samba-tool domain provision failed"; return 1; }
	_t1=$(date +%s)
	rm -rf "$_d" && cp -a "$H_SAMBA_TEMPLATE/p" "$_d" && chmod 0700 "$_d" &&
	    mkdir -p "$_d/cache" "$_d/ncalrpc" || return 1
	_h_samba_conf "$_d"
	install -m 0600 "$H_SAMBA_TEMPLATE/admin.pw" "$H_DIR/samba-admin.pw" || return 1
	rm -rf "$H_DIR/samba-fixture"
	"$H_PY" "$RS_TOP/tests/fixture/samba-gen.py" --seed "${H_FIXTURE_SEED:-1}" \
	    --hostile "$1" "$H_DIR/samba-fixture" >&2 ||
	    { _h_fail samba-start "samba-gen.py $1 failed"; return 1; }
	# A password Samba's default policy takes (length, three classes).
	_spw="Svc-rcpt-$$-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	printf '%s' "$_spw" >"$H_DIR/samba-svc.pw" && chmod 0600 "$H_DIR/samba-svc.pw"
	# unicodePwd: the password in double quotes, UTF-16LE, base64.
	cat >"$H_DIR/samba-svc.ldif" <<EOF
dn: $H_SAMBA_BINDDN
objectClass: user
sAMAccountName: svc-rcpt
userPrincipalName: svc-rcpt@corp.test
displayName: rcptsync service account
userAccountControl: 66048
unicodePwd:: $(printf '"%s"' "$_spw" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)

EOF
	ldbadd -H "$_d/private/sam.ldb" "$H_DIR/samba-svc.ldif" \
	    "$H_DIR/samba-fixture/fixture.ldif" >"$_d/ldbadd.log" 2>&1 ||
	    { tail -n 5 "$_d/ldbadd.log" >&2;
	      _h_fail samba-start "ldbadd of the fixture failed"; return 1; }
	echo "harness: samba template $((_t1 - _t0))s, copy and load $(( $(date +%s) - _t1 ))s" >&2
}

h_samba_start() {
	t_need samba samba-tool ldbadd ldapsearch ldapmodify openssl iconv base64 od
	[ -n "${H_NETNS:-}" ] ||
	    { _h_fail samba-start "call h_netns_enter first (Samba needs port 389)"; return 1; }
	h_alive "${H_SAMBA_PID:-}" && h_samba_stop
	if [ -n "${1:-}" ] || [ ! -f "$H_DIR/samba/min.conf" ]; then
		_h_samba_load "${1:-1200}" || return 1
	fi
	H_SAMBA_DIR=$H_DIR/samba
	H_SAMBA_CONF=$H_SAMBA_DIR/min.conf
	H_SAMBA_LOG=$H_SAMBA_DIR/samba.log
	H_SAMBA_CAFILE=$H_SAMBA_DIR/private/tls/cert.pem
	H_SAMBA_PWFILE=$H_DIR/samba-svc.pw
	H_SAMBA_ADMIN_PWFILE=$H_DIR/samba-admin.pw
	H_SAMBA_FIXTURE=$H_DIR/samba-fixture
	H_SAMBA_EXPECTED=$H_SAMBA_FIXTURE/expected.txt
	_t0=$(date +%s)
	# -F: no daemon, so $! is Samba; stdin stays /dev/null (-i would end
	# Samba at EOF); --no-process-group: a ^C reaches it too.
	samba -F -M single --no-process-group --debug-stdout -s "$H_SAMBA_CONF" \
	    </dev/null >>"$H_SAMBA_LOG" 2>&1 &
	H_SAMBA_PID=$!
	t_cleanup "_h_stop $H_SAMBA_PID samba TERM"
	# Ready when the service account binds and reads the rootDSE.
	_i=0
	while [ $_i -lt 300 ] && h_alive "$H_SAMBA_PID"; do
		if ldapsearch -x -LLL -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" \
		    -y "$H_SAMBA_PWFILE" -b '' -s base highestCommittedUSN \
		    >/dev/null 2>&1; then
			echo "harness: samba answers after $(( $(date +%s) - _t0 ))s" >&2
			export H_SAMBA_DIR H_SAMBA_CONF H_SAMBA_LOG H_SAMBA_CAFILE \
			    H_SAMBA_PWFILE H_SAMBA_ADMIN_PWFILE H_SAMBA_FIXTURE \
			    H_SAMBA_EXPECTED H_SAMBA_PID
			return 0
		fi
		sleep 0.1; _i=$((_i + 1))
	done
	tail -n 20 "$H_SAMBA_LOG" >&2
	_h_stop "$H_SAMBA_PID" samba KILL
	_h_fail samba-start "samba did not answer (see $H_SAMBA_LOG)"
}

h_samba_stop() { _h_stop "${H_SAMBA_PID:-}" samba TERM; }

h_samba_modify() {
	ldapmodify -x -H "$H_SAMBA_URI" -D "$H_SAMBA_ADMIN_DN" \
	    -y "$H_SAMBA_ADMIN_PWFILE" ${1:+-f "$1"} >&2
}

h_samba_add_user() {
	_u=$1; shift
	{
		printf 'dn: CN=%s,OU=Engineering,OU=Corp,%s\n' "$_u" "$H_SAMBA_BASE"
		printf 'changetype: add\nobjectClass: user\nsAMAccountName: %s\n' "$_u"
		_p=SMTP:
		for _a in "$@"; do
			case $_a in
			*:*)	printf 'proxyAddresses: %s\n' "$_a" ;;
			*)	printf 'proxyAddresses: %s%s\n' "$_p" "$_a"; _p=smtp: ;;
			esac
		done
	} | h_samba_modify
}

h_samba_search() {
	ldapsearch -x -LLL -o ldif-wrap=no -E pr=1000/noprompt -H "$H_SAMBA_URI" \
	    -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" -b "$H_SAMBA_BASE" "$@"
}

h_samba_usn() {
	ldapsearch -x -LLL -H "$H_SAMBA_URI" -b '' -s base highestCommittedUSN |
	    sed -n 's/^highestCommittedUSN: //p'
}

h_samba_use() {
	LDAP_URI=$H_SAMBA_URI
	LDAP_HOST=127.0.0.1
	LDAP_PORT=389
	LDAP_BASE=$H_SAMBA_BASE
	LDAP_BINDDN=$H_SAMBA_BINDDN
	LDAP_PWFILE=$H_SAMBA_PWFILE
	LDAP_PASSWORD=$(cat "$H_SAMBA_PWFILE")
	LDAP_ROOTDN=$H_SAMBA_ADMIN_DN
	LDAP_ROOTPW=$(cat "$H_SAMBA_ADMIN_PWFILE")
	export LDAP_URI LDAP_HOST LDAP_PORT LDAP_BASE LDAP_BINDDN LDAP_PWFILE \
	    LDAP_PASSWORD LDAP_ROOTDN LDAP_ROOTPW
}
