#!/bin/sh
# t-signers.sh - allowed_signers as OpenSSH reads it, end to end.
#
# For each line of a table, the same one-line allowed_signers file goes to
# `ssh-keygen -Y verify` and to the receiver (`run` on a bundle signed by
# `ssh-keygen -Y sign`): both must accept, or both refuse.  The table has
# what ssh-keygen accepts and the product once refused (valid-before with
# a UTC suffix, a quoted principal followed directly by the key, \" in an
# option value) and lines neither can use (cert-authority, an unknown key
# type or option, a bad time).  A line left out is named by `check` (FAIL,
# file, line number, reason) and by `run`'s log; every refusal leaves the
# map byte for byte as it was.  Then a file with bad lines among good
# ones: installs keep working, and `check` names each bad line.
#
# Real postmap and the harness's Postfix (hash map), the receiver as user
# rcptsync, every bundle signed by ssh-keygen (tests/bundle.sh).
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
t_need "$RCV_BIN" postmap postconf ssh-keygen gzip setpriv sha256sum

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1
AS=$H_ALLOWED_SIGNERS
PUB=$(cut -d' ' -f1,2 "$H_AGENT_KEY.pub")

# rcv ARGS...: the receiver as user rcptsync, stdout to $T/out, stderr
# (-v) to $T/log.
rcv() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "$CONF" -v "$@" >"$T/out" 2>"$T/log"
	_rc=$?
	sed 's/^/  rcv| /' "$T/out" "$T/log" >&2
	return $_rc
}

# push: a signed bundle with the next sequence, ten addresses, one of them
# new each time (so each install changes the map and the size stays put).
SEQ=100
push() {
	SEQ=$((SEQ + 1))
	{ b_list 9 corp.test; echo "s$SEQ@corp.test"; } >"$T/list"
	b_sort "$T/list"
	BUNDLE=$(b_make "$SPOOL" corp "$SEQ" "$T/list") &&
	    b_sign "$H_AGENT_KEY" "$BUNDLE" && chown rcptsync "$BUNDLE" "$BUNDLE.sig"
}

# signers TEXT: the allowed_signers file, with KEY replaced by the key.
signers() {
	printf '%s\n' "$1" | sed "s|KEY|$PUB|g" >"$AS" && chmod 0644 "$AS"
}

push || exit 1
rcv run
t_eq "first install with the harness's allowed_signers: exit 0" 0 $?

# want|why in check and run (empty: the line is fine)|line
while IFS='|' read -r want why line; do
	case $want in ''|'#'*) continue ;; esac
	signers "$line"
	push || { t_fail "push for: $line" "b_make or b_sign failed"; continue; }
	cp "$H_MAP" "$T/map.before"
	if ssh-keygen -Y verify -f "$AS" -I corp -n rcptsync -s "$BUNDLE.sig" \
	    <"$BUNDLE" >"$T/kg" 2>&1; then kg=ok; else kg=no; fi
	sed 's/^/  ssh-keygen| /' "$T/kg" >&2
	rcv run
	case $? in 0) got=ok ;; 1) got=no ;; *) got="exit $?" ;; esac
	t_eq "ssh-keygen -Y verify: $want: $line" "$want" "$kg"
	t_eq "receiver run: $want: $line" "$want" "$got"
	if [ "$want" = ok ]; then
		t_grep "installed: $line" "^s$SEQ@corp.test	OK\$" "$H_MAP"
	else
		t_same_file "refused, map unchanged: $line" "$T/map.before" "$H_MAP"
	fi
	[ -n "$why" ] || continue
	t_grep "run names line 1 and why: $line" \
	    "parse $AS line 1: $why.* \\(line ignored\\)" "$T/log"
	rcv check
	t_eq "check exits 2 (a FAIL) for: $line" 2 $?
	t_grep "check names line 1 and why: $line" \
	    "^FAIL allowed_signers: $AS line 1: $why.* \\(line ignored\\)\$" "$T/out"
done <<'EOF'
ok||corp KEY
ok||corp valid-before="20990101UTC" KEY
ok||corp valid-before="20990101utc" KEY
ok||corp valid-before="209901011200Z" KEY
ok||corp valid-after="20000101",valid-before="20990101235959" KEY
ok||corp valid-before="20990231" KEY
ok||"corp"KEY
ok||"x,corp" namespaces="rcptsync" KEY
ok||corp namespaces="a\"b,rcptsync" KEY
ok||corp NAMESPACES="git,rcpt*" KEY comment
ok||corp ,namespaces="rcptsync" KEY
no||corp valid-before="20200101UTC" KEY
no||corp valid-after="20980101" KEY
no||corp namespaces="rcpt\"sync" KEY
no||corp namespaces="git" KEY
no||c"or"p KEY
no|cert-authority is not supported|corp cert-authority KEY
no|cert-authority is not supported|corp namespaces="rcptsync",cert-authority KEY
no|unknown option or key type "ssh-foo"|corp ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIBsdhWXTSVjrlbEv4Xo324foVKcPc1rv2pLEpbW18XUL
no|unknown option or key type "restrict"|corp restrict KEY
no|valid-before: invalid time "20991301"|corp valid-before="20991301" KEY
no|valid-before: value not in double quotes|corp valid-before=20990101 KEY
no|namespaces given twice|corp namespaces="a",namespaces="rcptsync" KEY
no|a comma ends the options|corp namespaces="rcptsync", KEY
no|no key after the principals|corp
no|ssh-rsa key: rcptsync verifies only ssh-ed25519 signatures|corp ssh-rsa AAAAB3NzaC1yc2E=
EOF

# --- bad lines among good ones ----------------------------------------------
cat >"$AS" <<EOF
# agents
corp cert-authority $PUB
other restrict $PUB

corp valid-before="20990101UTC" $PUB
branch valid-before="2099" $PUB
EOF
chmod 0644 "$AS"
push || exit 1
cp "$H_MAP" "$T/map.before"
rcv run
t_eq "three bad lines around a good one: run installs (exit 0)" 0 $?
t_grep "  ...and the map has the new list" "^s$SEQ@corp.test	OK\$" "$H_MAP"
t_eq "run logs each bad line once" 3 \
    "$(grep -c "parse $AS line [0-9]*: .* (line ignored)" "$T/log")"
rcv check
t_eq "check with bad lines: exit 2 (a FAIL)" 2 $?
grep '^[A-Z]* *allowed_signers' "$T/out" >"$T/check.signers"
cat >"$T/check.want" <<EOF
FAIL allowed_signers: $AS line 2: cert-authority is not supported: list the agent's own key (line ignored)
FAIL allowed_signers: $AS line 3: unknown option or key type "restrict" (line ignored)
FAIL allowed_signers: $AS line 6: valid-before: invalid time "2099" (want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, with Z or UTC for UTC) (line ignored)
EOF
t_same_file "check names file, line and reason of each bad line" \
    "$T/check.want" "$T/check.signers"

signers "corp KEY"
rcv check
t_eq "check with a clean file: exit 0" 0 $?
t_grep "check with a clean file: OK line" "^OK   allowed_signers: $AS\$" "$T/out"
t_done
