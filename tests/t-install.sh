#!/bin/sh
# t-install.sh - the relay-side installation: systemd units, man pages,
# `make install`, and the installed receiver end to end.
#
#   1. `systemd-analyze verify` on every unit in installer/.  systemd is not
#      PID 1 on the test machine, so this is systemd's offline check: the
#      units are parsed and checked as they would be loaded, ExecStart= is
#      pointed at the tree `make install` produced, and Documentation=
#      man: references are resolved against that tree's man pages.
#   2. `systemd-analyze security --offline=true` on both service units: the
#      overall exposure must be <= 2.0; the score is part of the ok line.
#   3. sysusers.d/tmpfiles.d files applied to a scratch root give the
#      directory ownership that sshd's ChrootDirectory requires.
#   4. installer/sshd_config.rcptsync passes `sshd -t` and `sshd -T` shows
#      the Match block in force for the upload account.
#   5. Every man page renders with `groff -ww -z` and `man -l` without a
#      warning.
#   6. `make install DESTDIR=... PREFIX=/usr` puts the programs, man pages
#      and units under DESTDIR, then the INSTALLED receiver processes a
#      bundle uploaded through the harness's chrooted sshd into the
#      harness's Postfix, which then answers 250 / 550 5.1.1.
#
# Needs: systemd (systemd-analyze, -sysusers, -tmpfiles), groff, man-db,
# openssh-server, postfix; the harness (tests/harness.sh).

. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

t_need systemd-analyze systemd-sysusers systemd-tmpfiles groff man make \
    /usr/sbin/sshd ssh-keygen gzip sha256sum setpriv

cd "$RS_TOP" || exit 1
tmp=$(t_tmp)
inst=installer
units="rcptsync-receiver.service rcptsync-receiver@.service
 rcptsync-receiver.path rcptsync-receiver.timer rcptsync-receiver.socket
 rcptsync-postfix-reload.path rcptsync-postfix-reload.service"
pages="docs/rcptsync-agent.8 docs/rcptsync-receiver.8 docs/rcptsync.conf.5"
root=$tmp/root

# --- make install ----------------------------------------------------------
# Done first: the unit checks below resolve ExecStart= and man: against it.
# OBJ keeps this build apart from a developer's parallel one.
if make OBJ=build/obj-t-install install DESTDIR="$root" PREFIX=/usr \
    >"$tmp/make.log" 2>&1; then
	t_ok "make-install"
else
	t_fail "make-install" "make install DESTDIR=$root PREFIX=/usr failed"
	tail -n 30 "$tmp/make.log" >&2
fi
for f in usr/sbin/rcptsync-receiver usr/sbin/rcptsync-agent \
    usr/share/man/man8/rcptsync-agent.8 usr/share/man/man8/rcptsync-receiver.8 \
    usr/share/man/man5/rcptsync.conf.5; do
	if [ -f "$root/$f" ]; then t_ok "installed-$f"; else
		t_fail "installed-$f" "make install did not create DESTDIR/$f"; fi
done
for u in $units; do
	f=usr/lib/systemd/system/$u
	if [ -f "$root/$f" ] && cmp -s "$inst/$u" "$root/$f"; then
		t_ok "installed-$f"
	else
		t_fail "installed-$f" "make install did not install $inst/$u as DESTDIR/$f"
	fi
done
for f in usr/lib/sysusers.d/rcptsync.conf:rcptsync.sysusers \
    usr/lib/tmpfiles.d/rcptsync.conf:rcptsync.tmpfiles \
    etc/rcptsync/receiver.conf:receiver.conf; do
	if cmp -s "$inst/${f#*:}" "$root/${f%%:*}"; then t_ok "installed-${f%%:*}"; else
		t_fail "installed-${f%%:*}" "make install did not install $inst/${f#*:} as DESTDIR/${f%%:*}"
	fi
done
# Nothing may land outside DESTDIR/PREFIX except the documented /etc.
stray=$(cd "$root" 2>/dev/null && find . -mindepth 1 -maxdepth 1 \
    ! -name usr ! -name etc | head -n 3)
t_eq "install-stays-in-prefix" "" "$stray"

# --- systemd-analyze verify (offline) ----------------------------------------
echo "t-install: systemd is not PID 1 here; verify and security run offline" >&2
mkdir -p "$tmp/units" "$tmp/fakeroot/usr/sbin"
# ExecStart= must name an executable: the installed one when make install
# worked, else a stand-in, so that a failed build still checks the units.
recv_bin=$root/usr/sbin/rcptsync-receiver
if [ ! -x "$recv_bin" ]; then
	recv_bin=$tmp/fakeroot/usr/sbin/rcptsync-receiver
	printf '#!/bin/sh\nexit 0\n' >"$recv_bin" && chmod 0755 "$recv_bin"
fi
for u in $units; do
	sed "s|^ExecStart=/usr/sbin/rcptsync-receiver|ExecStart=$recv_bin|" \
	    "$inst/$u" >"$tmp/units/$u"
done
# Documentation=man:... is checked with man(1): give it the pages from docs/.
mkdir -p "$tmp/man/man5" "$tmp/man/man8"
for p in $pages; do
	[ -f "$p" ] && cp "$p" "$tmp/man/man${p##*.}/"
done
for u in $units; do
	if (cd "$tmp/units" && MANPATH="$tmp/man" \
	    systemd-analyze verify "./$u") >"$tmp/verify.out" 2>&1 &&
	    ! grep -q . "$tmp/verify.out"; then
		t_ok "systemd-verify-offline $u"
	else
		t_fail "systemd-verify-offline $u" "$(head -n 3 "$tmp/verify.out" | tr '\n' ' ')"
		cat "$tmp/verify.out" >&2
	fi
done

# --- systemd-analyze security ---------------------------------------------------
for u in rcptsync-receiver.service rcptsync-receiver@.service; do
	(cd "$tmp/units" && systemd-analyze security --offline=true --no-pager "./$u") \
	    >"$tmp/security.out" 2>&1
	score=$(sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p' \
	    "$tmp/security.out" | head -n 1)
	echo "t-install: systemd-analyze security $u: exposure $score" >&2
	if [ -z "$score" ]; then
		t_fail "systemd-security $u" "no exposure level in the output"
		cat "$tmp/security.out" >&2
	elif awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		t_ok "systemd-security $u exposure $score <= 2.0 (offline)"
	else
		t_fail "systemd-security $u" "exposure $score > 2.0"
		grep '✗' "$tmp/security.out" >&2
	fi
done

# --- sysusers.d, tmpfiles.d ----------------------------------------------------
sr=$tmp/sysroot
mkdir -p "$sr/etc"
for f in passwd group shadow gshadow; do
	: >"$sr/etc/$f"; chmod 0600 "$sr/etc/$f"
done
chmod 0644 "$sr/etc/passwd" "$sr/etc/group"
if systemd-sysusers --root="$sr" "$RS_TOP/$inst/rcptsync.sysusers" >&2 2>&1 &&
    systemd-tmpfiles --root="$sr" --create "$RS_TOP/$inst/rcptsync.tmpfiles" >&2 2>&1; then
	t_ok "sysusers-tmpfiles-apply"
else
	t_fail "sysusers-tmpfiles-apply" "systemd-sysusers/-tmpfiles --root failed"
fi
uid() { awk -F: -v u="$1" '$1 == u { print $3 }' "$sr/etc/passwd"; }
gid() { awk -F: -v g="$1" '$1 == g { print $3 }' "$sr/etc/group"; }
t_eq "upload-user-group" "$(gid rcptsync)" \
    "$(awk -F: '$1 == "rcptsync-up" { print $4 }' "$sr/etc/passwd")"
own() { stat -c '%u:%g %a' "$sr/$1" 2>/dev/null; }
t_eq "chroot-owner" "0:0 755" "$(own var/spool/rcptsync)"
t_eq "incoming-owner" "$(uid rcptsync-up):$(gid rcptsync) 2770" \
    "$(own var/spool/rcptsync/incoming)"
t_eq "status-owner" "$(uid rcptsync):$(gid rcptsync) 755" \
    "$(own var/spool/rcptsync/status)"
t_eq "quarantine-private" "$(uid rcptsync):$(gid rcptsync) 700" \
    "$(own var/lib/rcptsync/quarantine)"
# The receiver unit may write exactly where the config and tmpfiles say.
rw=$(sed -n 's/^ReadWritePaths=//p' "$inst/rcptsync-receiver.service" | tr ' ' '\n' |
    sort | tr '\n' ' ')
t_eq "unit-readwritepaths" \
    "/var/lib/rcptsync /var/spool/rcptsync/incoming /var/spool/rcptsync/status " "$rw"
for k in spool_dir status_file state_dir map; do
	v=$(sed -n "s/^$k *= *//p" "$inst/receiver.conf")
	case $v in
	/var/spool/rcptsync/incoming|/var/spool/rcptsync/incoming/*|\
	/var/spool/rcptsync/status/*|/var/lib/rcptsync|/var/lib/rcptsync/*)
		t_ok "receiver-conf-$k-writable" ;;
	*)	t_fail "receiver-conf-$k-writable" "$k = '$v' is outside ReadWritePaths=" ;;
	esac
done

# --- sshd snippet ----------------------------------------------------------------
[ -d /run/sshd ] || install -d -m 0755 /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey" </dev/null >&2
printf 'HostKey %s\nInclude %s\n' "$tmp/hostkey" "$RS_TOP/$inst/sshd_config.rcptsync" \
    >"$tmp/sshd_config"
t_check "sshd-snippet-parses" /usr/sbin/sshd -t -f "$tmp/sshd_config"
/usr/sbin/sshd -T -f "$tmp/sshd_config" -C user=rcptsync-up,host=exch1,addr=192.0.2.10 \
    >"$tmp/sshd-T.out" 2>&1
t_grep "sshd-snippet-chroot" '^chrootdirectory /var/spool/rcptsync$' "$tmp/sshd-T.out"
t_grep "sshd-snippet-sftp-only" '^forcecommand internal-sftp' "$tmp/sshd-T.out"
t_grep "sshd-snippet-no-tty" '^permittty no$' "$tmp/sshd-T.out"
t_grep "sshd-snippet-no-forwarding" '^allowtcpforwarding no$' "$tmp/sshd-T.out"
t_grep "sshd-snippet-keys" '^authorizedkeysfile /etc/rcptsync/authorized_keys/%u$' \
    "$tmp/sshd-T.out"

# --- man pages -----------------------------------------------------------------
for p in $pages; do
	n=$(basename "$p")
	if [ ! -f "$p" ]; then t_fail "man-groff $n" "$p is missing"; continue; fi
	if groff -ww -z -man "$p" >"$tmp/groff.out" 2>&1 && ! grep -q . "$tmp/groff.out"; then
		t_ok "man-groff $n"
	else
		t_fail "man-groff $n" "$(head -n 2 "$tmp/groff.out" | tr '\n' ' ')"
		cat "$tmp/groff.out" >&2
	fi
	if MANWIDTH=80 man --warnings=w -l "$p" >"$tmp/man.txt" 2>"$tmp/man.err" &&
	    ! grep -q . "$tmp/man.err" && [ -s "$tmp/man.txt" ]; then
		t_ok "man-l $n"
	else
		t_fail "man-l $n" "$(head -n 2 "$tmp/man.err" | tr '\n' ' ')"
	fi
done

# --- the installed receiver, end to end -------------------------------------------
if [ ! -x "$root/usr/sbin/rcptsync-receiver" ]; then
	t_fail "e2e-installed-receiver" "no installed receiver (make install failed)"
	t_done; exit
fi
for f in h_sshd_start h_postfix_start h_receiver_conf h_rcpt h_sftp; do
	command -v "$f" >/dev/null 2>&1 || {
		t_fail "e2e-harness" "tests/harness.sh has no $f yet"; t_done; exit; }
done
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$tmp/receiver.conf" || exit 1
[ -n "${H_AGENT_KEY:-}" ] && [ -f "$H_AGENT_KEY" ] || {
	t_fail "e2e-harness" "h_receiver_conf set no H_AGENT_KEY"; exit 1; }

# A bundle per docs/FORMAT.md, built here with shell tools and signed with
# ssh-keygen, so this test needs nothing of rcptsync but the installed
# receiver.
seq=$(date +%s)
printf '%s\n' alice@corp.test bob@example.org carol@branch.corp.test \
    | LC_ALL=C sort >"$tmp/entries"
sum=$(sha256sum <"$tmp/entries" | cut -d' ' -f1)
{
	echo "rcptsync-list 1"
	echo "agent: corp"
	echo "sequence: $seq"
	echo "created: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kind: full"
	echo "source: t-install"
	echo "domains: branch.corp.test corp.test example.org"
	echo "count: $(wc -l <"$tmp/entries" | tr -d ' ')"
	echo "list-sha256: $sum"
	echo
	cat "$tmp/entries"
} | gzip -n >"$tmp/corp.$seq.rcpt.gz"
ssh-keygen -q -Y sign -f "$H_AGENT_KEY" -n rcptsync "$tmp/corp.$seq.rcpt.gz" >&2 ||
    { t_fail "e2e-sign" "ssh-keygen -Y sign failed"; exit 1; }

# Upload as an agent does: temporary names, signature first, bundle last.
cat >"$tmp/sftp.batch" <<EOF
put $tmp/corp.$seq.rcpt.gz.sig incoming/.corp.$seq.0123456789abcdef.tmp
put $tmp/corp.$seq.rcpt.gz incoming/.corp.$seq.fedcba9876543210.tmp
rename incoming/.corp.$seq.0123456789abcdef.tmp incoming/corp.$seq.rcpt.gz.sig
rename incoming/.corp.$seq.fedcba9876543210.tmp incoming/corp.$seq.rcpt.gz
EOF
t_check "e2e-upload-sftp" h_sftp "$tmp/sftp.batch"

# The receiver runs as its own unprivileged user, as the unit runs it; its
# state directory belongs to it, as rcptsync.tmpfiles makes it.
as_rcptsync() { setpriv --reuid=rcptsync --regid=rcptsync --init-groups -- "$@"; }
chmod 0644 "$tmp/receiver.conf"
st_dir=$(sed -n 's/^state_dir *= *//p' "$tmp/receiver.conf")
[ -n "$st_dir" ] && chown rcptsync:rcptsync "$st_dir"
t_check "e2e-installed-receiver-check" \
    as_rcptsync "$root/usr/sbin/rcptsync-receiver" -c "$tmp/receiver.conf" check
as_rcptsync "$root/usr/sbin/rcptsync-receiver" -v -c "$tmp/receiver.conf" run >&2 2>&1
t_eq "e2e-installed-receiver-run-exit" 0 "$?"
t_eq "e2e-rcpt-listed" 250 "$(h_rcpt bob@example.org)"
t_eq "e2e-rcpt-unknown" "550 5.1.1" "$(h_rcpt nobody@corp.test)"
st=$(sed -n 's/^status_file *= *//p' "$tmp/receiver.conf")
[ -n "$st" ] || st=$SFTP_STATUS_DIR/status.json
t_grep "e2e-status-accepted" "\"accepted_sequence\": *$seq" "$st"
as_rcptsync "$root/usr/sbin/rcptsync-receiver" -c "$tmp/receiver.conf" status >&2 2>&1
t_eq "e2e-installed-receiver-status-exit" 0 "$?"

t_done
