# tests/harness/configs.sh - receiver and agent configs, wired to the
# servers the test started.
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, h_alive, H_DIR,
# t_cleanup registration) it uses.  POSIX sh.  Call the start functions
# directly, never inside $(...), or the variables and the cleanup
# registration are lost.
#
# API:
#
#   h_receiver_conf FILE, h_agent_conf FILE [wine]
#       configs per docs/CONFIG.md wired to the servers started above; the
#       agent's signing key (H_AGENT_KEY, made with ssh-keygen) is the one
#       listed for principal "corp" in H_ALLOWED_SIGNERS.  With "wine", the
#       agent config's paths are Windows paths.
#
#   h_receiver_local FILE, h_receiver_watch CONF LOG [SECS [OPT...]],
#   h_agent_conf_with SRC OUT KEY=VALUE...,
#   h_agent_conf_ldap SRC OUT KEY=VALUE...,
#   h_agent_export OUT CONF [wine], h_agent_unwritten NAME OUT,
#   h_agent_pin_none CONF..., h_agent_keygen AGENT DIR
#       see each function's comment below.

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

# h_agent_keygen AGENT DIR: the agent's own keygen makes DIR/agent_ed25519
# and DIR/allowed_signers (principal corp), which h_receiver_conf and
# h_agent_conf then use (H_AGENT_KEY, H_ALLOWED_SIGNERS).
h_agent_keygen() {
	"$1" keygen -f "$2/agent_ed25519" -I corp >"$2/allowed_signers" \
	    2>/dev/null || { _h_fail agent-keygen "$1 keygen failed"; return 1; }
	H_AGENT_KEY=$2/agent_ed25519
	H_ALLOWED_SIGNERS=$2/allowed_signers
	export H_AGENT_KEY H_ALLOWED_SIGNERS
}

# h_agent_pin_none CONF...: for configs written while no sshd runs
# (their agent pushes nothing: export, check of the LDAP side), whose pin
# h_agent_conf left empty: a placeholder host key pin, so that the config
# is whole.  A real pin (sshd was started first) is kept.
h_agent_pin_none() {
	for _c; do
		sed -i 's|^hostkey_sha256 = $|hostkey_sha256 = SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|' \
		    "$_c" || return 1
	done
}

# h_agent_conf_ldap SRC OUT KEY=VALUE...: SRC (an h_agent_conf file) with
# [ldap] keys set, into OUT: KEY=VALUE replaces every KEY line with one
# (KEY= gives an empty value), KEY+=VALUE adds one more KEY line, KEY=-
# removes KEY.  VALUE may hold backslashes (Windows paths).
h_agent_conf_ldap() {
	_src=$1 _out=$2; shift 2
	cp "$_src" "$_out" || return 1
	for _kv in "$@"; do
		_k=${_kv%%=*}
		_v=$(printf '%s' "${_kv#*=}" | sed 's/[\\|&]/\\&/g')
		case $_k in
		*+) _k=${_k%+} ;;
		*) sed -i "/^$_k = /d; /^$_k =\$/d" "$_out" ;;
		esac
		[ "$_v" = - ] && continue
		sed -i "s|^\\[ldap\\]\$|[ldap]\\n$_k = $_v|" "$_out"
	done
	sed -i 's/ $//' "$_out"
}

# h_agent_export OUT CONF [wine]: `export -o OUT` of the Linux agent
# ($RS_AGENT, else the tree's), or with "wine" of build/win's .exe under
# Wine; its stderr in OUT.err, its exit status in H_RC, both also on
# stderr.  OUT starts as the line "sentinel: nothing written", so that
# h_agent_unwritten NAME OUT can show that a refused export wrote nothing.
h_agent_export() {
	echo "sentinel: nothing written" >"$1"
	if [ "${3:-}" = wine ]; then
		h_wine "$RS_TOP/build/win/rcptsync-agent.exe" -c "$(h_winpath "$2")" \
		    export -o "$(h_winpath "$1")" 2>"$1.err"
	else
		"${RS_AGENT:-$RS_TOP/rcptsync-agent}" -c "$2" export -o "$1" \
		    2>"$1.err"
	fi
	H_RC=$?
	echo "--- export -o $1: exit $H_RC" >&2
	cat "$1.err" >&2
}
h_agent_unwritten() {
	echo "sentinel: nothing written" >"$H_DIR/sentinel"
	t_same_file "$1" "$H_DIR/sentinel" "$2"
}

# h_receiver_watch CONF LOG [INTERVAL [OPTION...]]: run the receiver every
# INTERVAL seconds (default 0.5), as its systemd .path unit would when files
# arrive, appending to LOG, until the test ends.  The receiver binary is
# $RECEIVER, else $RS_RECEIVER, else the one at the top of the tree.
# Sets H_RWATCH_PID.
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
