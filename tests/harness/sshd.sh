# tests/harness/sshd.sh - OpenSSH sshd with the chrooted SFTP-only
# upload account (each call: another relay).
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, h_alive, H_DIR,
# t_cleanup registration) it uses.  POSIX sh.  Call the start functions
# directly, never inside $(...), or the variables and the cleanup
# registration are lost.
#
# API:
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

# --- sshd ----------------------------------------------------------------

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
