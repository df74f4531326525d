#!/bin/sh
# t-deb.sh - the Debian packages, installed for real in a throwaway Debian 12
# root (tools/debroot.sh; the debootstrap tarball is cached in build/debroot).
#
#   make deb; lintian on both packages: no errors, no warnings.
#   apt install ./rcptsync-receiver_*.deb ./rcptsync-agent_*.deb pulls in
#   postfix and openssh-server, creates the users and directories, marks
#   receiver.conf a conffile, enables the .path and .timer units, and does
#   not enable the sshd snippet.
#   Postfix configured from installer/postfix-main.cf.snippet; the sshd
#   snippet installed by hand as ADMIN.md says; the installed agent (as its
#   user, against the harness slapd) pushes a signed list over SFTP; the
#   installed receiver, run by its unit's ExecStart as the unit's User,
#   installs it; Postfix answers 250 and 550 5.1.1; check-postfix is clean.
#   Upgrade: the package built from the previous commit (HEAD~1, or
#   RS_DEB_OLD) is installed over it, then this one over that: edited
#   receiver.conf, state and map byte-identical, Postfix still answers.
#   apt remove: programs gone; config, state, spool, map kept.
#   apt purge: config, state, spool and map gone; users kept.
#
# RS_DEB_KEEP=1 keeps the root.  Takes about 5 minutes (two package builds, one root, one apt install of
# postfix and openssh-server from the mirror).  Needs root, network access
# to the Debian mirror, debhelper, lintian, debootstrap.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

t_need dpkg-buildpackage lintian debootstrap unshare git python3
T=$(t_tmp)
R=$T/root
DEBROOT=$RS_TOP/tools/debroot.sh
START=$(date +%s)

# inroot SCRIPT: run a shell script inside the root, as root.
inroot() { "$DEBROOT" enter "$R" /bin/sh -c "$1"; }
apt_in() { inroot "DEBIAN_FRONTEND=noninteractive apt-get $*"; }

# --- build and lintian ----------------------------------------------------
tree() { git -C "$RS_TOP" status --porcelain --untracked-files=all -- . ':!build'; }
tree >"$T/tree.before"
(cd "$RS_TOP" && make deb) >"$T/make-deb.log" 2>&1
t_eq "make deb: exit 0" 0 $?
VERSION=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$RS_TOP/Makefile")
NEW_R=$RS_TOP/build/deb/rcptsync-receiver_${VERSION}_amd64.deb
NEW_A=$RS_TOP/build/deb/rcptsync-agent_${VERSION}_amd64.deb
t_check "make deb: both packages, debian/changelog version = Makefile VERSION" \
    test -f "$NEW_R" -a -f "$NEW_A"
[ -f "$NEW_R" ] && [ -f "$NEW_A" ] || { tail -n 30 "$T/make-deb.log" >&2; exit 1; }
tree >"$T/tree.after"
t_same_file "make deb: the work tree is left as it was (git status)" "$T/tree.before" "$T/tree.after"

lintian --display-level '>=warning' "$NEW_R" "$NEW_A" >"$T/lintian" 2>&1
t_eq "lintian: no errors, no warnings" "" \
    "$(grep -E '^[EW]: ' "$T/lintian" | tr '\n' ' ')"

# The package of the previous commit, at a lower version; a commit from
# before debian/ existed gets today's debian/ (the upgrade path of the
# program and its files is what is tested).
OLD=${RS_DEB_OLD:-HEAD~1}
OLD_SRC=$T/old/src
mkdir -p "$OLD_SRC/build"
git -C "$RS_TOP" archive "$OLD" | tar -xf - -C "$OLD_SRC"
[ -d "$OLD_SRC/debian" ] || cp -r "$RS_TOP/debian" "$OLD_SRC/"
sed -i "1s/(\([^)]*\))/(\1~prev)/" "$OLD_SRC/debian/changelog"
ln -s "$RS_TOP/build/unix-deps" "$OLD_SRC/build/unix-deps"
touch "$OLD_SRC/build/deps-unix.stamp"
(cd "$OLD_SRC" && dpkg-buildpackage -b -us -uc) >"$T/old-build.log" 2>&1
OLD_R=$(ls "$T"/old/rcptsync-receiver_*~prev_amd64.deb 2>/dev/null)
OLD_A=$(ls "$T"/old/rcptsync-agent_*~prev_amd64.deb 2>/dev/null)
t_check "previous commit ($(git -C "$RS_TOP" log -1 --format=%h "$OLD")): packages built" \
    test -n "$OLD_R" -a -n "$OLD_A"

# --- the root -------------------------------------------------------------
"$DEBROOT" create "$R" >"$T/debroot.log" 2>&1 || { cat "$T/debroot.log" >&2; exit 1; }
# RS_DEB_KEEP=1 keeps the root for a look inside.
[ "${RS_DEB_KEEP:-}" = 1 ] || t_cleanup "'$DEBROOT' remove '$R' >/dev/null 2>&1"
mkdir -p "$R/tmp/debs"
cp "$NEW_R" "$NEW_A" "$R/tmp/debs/"
apt_in "update -qq" >"$T/apt.log" 2>&1
apt_in "install -y -q /tmp/debs/rcptsync-receiver_${VERSION}_amd64.deb /tmp/debs/rcptsync-agent_${VERSION}_amd64.deb" \
    >"$T/install.log" 2>&1
t_eq "apt install ./rcptsync-receiver ./rcptsync-agent: exit 0" 0 $?
t_eq "install: dependencies pulled in" \
    "postfix=installed openssh-server=installed rcptsync-receiver=installed rcptsync-agent=installed" \
    "$(inroot 'for p in postfix openssh-server rcptsync-receiver rcptsync-agent; do
	dpkg-query -W -f "\${Package}=\${db:Status-Status} " $p; done' | sed 's/ $//')"
t_grep "install: postinst prints check-postfix's advice" \
    "^rcptsync-receiver check-postfix \(advice" "$T/install.log"
t_eq "install: users" "rcptsync rcptsync-up rcptsync-agent" \
    "$(inroot 'for u in rcptsync rcptsync-up rcptsync-agent; do id -un $u; done' | tr '\n' ' ' | sed 's/ $//')"
t_eq "install: directories (tmpfiles)" \
    "/var/spool/rcptsync 755 root:root|/var/spool/rcptsync/incoming 2770 rcptsync-up:rcptsync|/var/spool/rcptsync/status 755 rcptsync:rcptsync|/var/lib/rcptsync/map 755 rcptsync:rcptsync|/var/lib/rcptsync/history 700 rcptsync:rcptsync|/var/lib/rcptsync-agent 700 rcptsync-agent:rcptsync-agent" \
    "$(inroot 'stat -c "%n %a %U:%G" /var/spool/rcptsync /var/spool/rcptsync/incoming /var/spool/rcptsync/status /var/lib/rcptsync/map /var/lib/rcptsync/history /var/lib/rcptsync-agent' | tr '\n' '|' | sed 's/|$//')"
t_eq "install: receiver.conf is a conffile" "/etc/rcptsync/receiver.conf" \
    "$(cat "$R/var/lib/dpkg/info/rcptsync-receiver.conffiles")"
t_check "install: .path and .timer enabled" test -L \
    "$R/etc/systemd/system/paths.target.wants/rcptsync-receiver.path" -a -L \
    "$R/etc/systemd/system/timers.target.wants/rcptsync-receiver.timer"
t_check "install: the socket is not enabled" test ! -e \
    "$R/etc/systemd/system/sockets.target.wants/rcptsync-receiver.socket"
t_check "install: the sshd snippet is not enabled" sh -c \
    "! grep -rqs rcptsync-up '$R/etc/ssh/sshd_config' '$R/etc/ssh/sshd_config.d'"
t_check "install: man pages" test -f "$R/usr/share/man/man8/rcptsync-receiver.8.gz" -a \
    -f "$R/usr/share/man/man5/rcptsync.conf.5.gz" -a -f "$R/usr/share/man/man8/rcptsync-agent.8.gz"

# --- Postfix from the documented snippet; sshd snippet as ADMIN.md says ---
SMTP_PORT=$(_h_port)
SSH_PORT=$(_h_port)
while [ "$SSH_PORT" = "$SMTP_PORT" ]; do SSH_PORT=$(_h_port); done
export SMTP_PORT
grep -Ev '^[[:space:]]*(#|$)' "$RS_TOP/installer/postfix-main.cf.snippet" >"$R/tmp/snippet"
inroot "
set -e
while IFS= read -r l; do postconf -e \"\$l\"; done </tmp/snippet
for d in corp.test example.org branch.corp.test; do echo \"\$d smtp:[127.0.0.1]:9\"; done >/etc/postfix/transport
postmap /etc/postfix/transport
# test only: loopback, a free port, a log file
postconf -e inet_interfaces=127.0.0.1 inet_protocols=ipv4 maillog_file=/var/log/postfix.log
sed -i 's/^smtp[[:space:]]*inet.*smtpd\$/127.0.0.1:$SMTP_PORT inet n - y - - smtpd/' /etc/postfix/master.cf
cp /usr/share/doc/rcptsync-receiver/examples/sshd_config.rcptsync /etc/ssh/sshd_config.d/rcptsync.conf
" >"$T/config.log" 2>&1
t_eq "Postfix and sshd configured from the shipped snippets" 0 $?

h_fixture 300 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
cp "$LDAP_PWFILE" "$R/etc/rcptsync/agent.password"
sed -e "s|^server = .*|server = $LDAP_URI|" -e "s|^base = .*|base = $LDAP_BASE|" \
    -e "s|^tls = .*|tls = none|" -e "s|^bind_dn = .*|bind_dn = $LDAP_BINDDN|" \
    -e "s|^domains = .*|domains = $H_RELAY_DOMAINS|" \
    -e "s|^host = .*|host = 127.0.0.1\nport = $SSH_PORT\nwait = 60s\nretries = 1|" \
    "$R/usr/share/doc/rcptsync-agent/examples/agent.conf" >"$R/etc/rcptsync/agent.conf"
inroot "
set -e
chown rcptsync-agent /etc/rcptsync/agent.password && chmod 0600 /etc/rcptsync/agent.password
sed -i \"s|^hostkey_sha256 = .*|hostkey_sha256 = \$(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2)|\" /etc/rcptsync/agent.conf
runuser -u rcptsync-agent -- rcptsync-agent keygen >/etc/rcptsync/allowed_signers
runuser -u rcptsync-agent -- ssh-keygen -q -t ed25519 -N '' -f /var/lib/rcptsync-agent/relay_ed25519
printf 'restrict %s\n' \"\$(cat /var/lib/rcptsync-agent/relay_ed25519.pub)\" >/etc/rcptsync/authorized_keys/rcptsync-up
# The admin's edit of the conffile (kept across the upgrade below).
sed -i 's/^#relay_domains = .*/relay_domains = $H_RELAY_DOMAINS/' /etc/rcptsync/receiver.conf
mkdir -p /run/sshd
sshd -t
/usr/sbin/sshd -p $SSH_PORT -o ListenAddress=127.0.0.1 -o PidFile=/root/sshd.pid
" >"$T/start.log" 2>&1
t_eq "keys and sshd started in the root" 0 $?
t_cleanup "kill \$(cat '$R/root/sshd.pid' 2>/dev/null) 2>/dev/null"
t_cleanup "inroot 'postfix stop' >/dev/null 2>&1; _h_stop \"\$(awk '{print \$1}' '$R/var/spool/postfix/pid/master.pid' 2>/dev/null)\" master TERM"
_h_wait_port "$SSH_PORT" self 10 ||
    { t_fail "sshd in the root" "not listening"; cat "$T/start.log" >&2; exit 1; }

# unit_cmd UNIT: the unit's User and ExecStart, as "runuser -u USER -- CMD".
unit_cmd() {
	_f=$R/lib/systemd/system/$1
	printf 'runuser -u %s -- %s' "$(sed -n 's/^User=//p' "$_f")" \
	    "$(sed -n 's/^ExecStart=//p' "$_f")"
}
RCV_CMD=$(unit_cmd rcptsync-receiver.service)
t_eq "receiver unit: command line" "runuser -u rcptsync -- /usr/sbin/rcptsync-receiver run" "$RCV_CMD"

# push: the installed agent syncs (its unit runs `run`, the same cycle in a
# loop) while the installed receiver runs as its unit would, once the
# bundle is in the spool.
push() {
	inroot "runuser -u rcptsync-agent -- rcptsync-agent sync" >"$T/agent.log" 2>&1 &
	_apid=$!
	_w=0
	until ls "$R/var/spool/rcptsync/incoming/" 2>/dev/null | grep -q '\.rcpt\.gz\.sig$'; do
		_w=$((_w + 1)); [ $_w -gt 300 ] && break; sleep 0.2
	done
	inroot "$RCV_CMD" >"$T/receiver.log" 2>&1
	_rrc=$?
	wait $_apid
	_arc=$?
	t_eq "$1: receiver (unit command line) exit 0" 0 $_rrc
	t_eq "$1: agent sync exit 0" 0 $_arc
	[ $_arc -eq 0 ] && [ $_rrc -eq 0 ] || sed 's/^/  | /' "$T/agent.log" "$T/receiver.log" >&2
}
KNOWN=$(head -n 1 "$T/fx/expected.txt")
smtp_ok() {
	t_eq "$1: Postfix answers 250 and 550 5.1.1" "250 550 5.1.1" \
	    "$(h_rcpt "$KNOWN" nobody-here@corp.test | tr '\n' ' ' | sed 's/ $//')"
}

push "first push"
MAP=$R/var/lib/rcptsync/map/relay_recipients
t_eq "first push: the map holds the directory's recipients" \
    "$(wc -l <"$T/fx/expected.txt")" "$(wc -l <"$MAP" 2>/dev/null)"
# Postfix starts after the first install: an smtpd that opened the table
# while it did not exist yet keeps deferring until it exits (ADMIN.md 4.2).
inroot "postfix start" >"$T/postfix-start.log" 2>&1 &&
    _h_wait_port "$SMTP_PORT" self 20 ||
    { t_fail "Postfix in the root" "not listening"; cat "$T/postfix-start.log" >&2; exit 1; }
smtp_ok "first push"
inroot "runuser -u rcptsync -- rcptsync-receiver check-postfix" >"$T/pfc" 2>&1
t_eq "check-postfix in the root: exit 0" 0 $?
t_eq "check-postfix in the root: no FAIL or WARN" 0 "$(grep -Ec '^(FAIL|WARN)' "$T/pfc")"

# --- upgrade from the previous commit's package ---------------------------
snapshot() {
	rm -rf "$T/snap.$1" && mkdir -p "$T/snap.$1" &&
	    cp -a "$R/etc/rcptsync" "$R/var/lib/rcptsync" "$T/snap.$1/"
}
if [ -n "$OLD_R" ] && [ -n "$OLD_A" ]; then
	cp "$OLD_R" "$OLD_A" "$R/tmp/debs/"
	apt_in "install -y -q --allow-downgrades /tmp/debs/$(basename "$OLD_R") /tmp/debs/$(basename "$OLD_A")" >"$T/old.log" 2>&1
	t_eq "previous package installed over ours (set-up)" 0 $?
	snapshot before
	apt_in "install -y -q /tmp/debs/rcptsync-receiver_${VERSION}_amd64.deb /tmp/debs/rcptsync-agent_${VERSION}_amd64.deb" \
	    >"$T/upgrade.log" 2>&1
	t_eq "upgrade: exit 0" 0 $?
	t_eq "upgrade: now $VERSION" "$VERSION" \
	    "$(inroot 'dpkg-query -W -f "\${Version}" rcptsync-receiver')"
	snapshot after
	t_check "upgrade: edited config, state and map byte-identical" \
	    diff -r "$T/snap.before" "$T/snap.after"
	t_grep "upgrade: the conffile edit kept" "^relay_domains = $H_RELAY_DOMAINS" \
	    "$R/etc/rcptsync/receiver.conf"
	smtp_ok "upgrade"
	# A new address in the directory, pushed through the upgraded pair.
	awk '/^dn: / { dn = $0 } /^proxyAddresses: / && dn != "" {
		printf "%s\nchangetype: modify\nadd: proxyAddresses\n", dn
		print "proxyAddresses: smtp:upgraded@corp.test"; exit }' \
	    "$T/fx/fixture.ldif" >"$T/add.ldif"
	t_check "after the upgrade: a new address in LDAP" h_ldap_modify "$T/add.ldif"
	push "after the upgrade"
	t_eq "after the upgrade: Postfix knows the new address" 250 "$(h_rcpt upgraded@corp.test)"
else
	t_fail "upgrade" "no package from $OLD (see $T/old-build.log)"
fi

# --- remove, then purge ---------------------------------------------------
cp "$MAP" "$T/map.before-remove"
apt_in "remove -y -q rcptsync-receiver rcptsync-agent" >"$T/remove.log" 2>&1
t_eq "apt remove: exit 0" 0 $?
t_check "apt remove: programs gone" test ! -e "$R/usr/sbin/rcptsync-receiver" -a \
    ! -e "$R/usr/sbin/rcptsync-agent"
t_check "apt remove: config kept" test -f "$R/etc/rcptsync/receiver.conf" -a \
    -f "$R/etc/rcptsync/allowed_signers" -a -f "$R/etc/rcptsync/agent.conf"
t_check "apt remove: state, spool and agent state kept" test -d "$R/var/lib/rcptsync/history" \
    -a -d "$R/var/spool/rcptsync/incoming" -a -f "$R/var/lib/rcptsync-agent/agent_ed25519"
t_same_file "apt remove: the installed map byte-identical" "$T/map.before-remove" "$MAP"
smtp_ok "apt remove"
apt_in "purge -y -q rcptsync-receiver rcptsync-agent" >"$T/purge.log" 2>&1
t_eq "apt purge: exit 0" 0 $?
for _p in /etc/rcptsync /var/lib/rcptsync /var/spool/rcptsync /var/lib/rcptsync-agent; do
	t_check "apt purge: $_p gone" test ! -e "$R$_p"
done
t_grep "apt purge: says main.cf still names the map" "relay_recipient_maps in main.cf" "$T/purge.log"
t_eq "apt purge: users kept" "rcptsync" "$(inroot 'id -un rcptsync')"

echo "# t-deb: $(( $(date +%s) - START )) s" >&2
t_done
