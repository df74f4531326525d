#!/bin/sh
# t-win-service.sh - rcptsync-agent.exe end to end under Wine, as a
# service and from the console:
#
#   - export through wldap32 is byte-identical to the Linux build's export
#     on the same >= 20,000-recipient fixture;
#   - a base DN (OU=Zürich) and config/state paths with non-ASCII
#     characters work; DNs come back as UTF-8;
#   - set-password stores the simple-bind password DPAPI-protected;
#   - in a fresh prefix: install registers the service (and its event
#     source), `net start` starts it, the service syncs against the
#     harness slapd (simple bind) and sshd, the receiver (a loop standing
#     in for the systemd path unit) installs the map, Postfix answers 250 /
#     550 5.1.1; sync-now triggers a second sync that picks up an LDAP
#     change; reload (PARAMCHANGE) re-reads the config; `net stop`
#     completes within 10 s even mid-cycle; uninstall removes the service.
#
# The Event Log is a stub under Wine, so sync results are read from the
# service's log file, %ProgramData%\rcptsync\log\agent.log.
# RS_WIN_N overrides the fixture size (default 20000).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/harness.sh"

cd "$RS_TOP" || exit 1
tmp=$(t_tmp)
exe=$RS_TOP/build/win/rcptsync-agent.exe
lagent=$RS_TOP/rcptsync-agent
receiver=$RS_TOP/rcptsync-receiver
N=${RS_WIN_N:-20000}

t_need "$exe" "$lagent" "$receiver" base64 awk

b64() { printf '%s' "$1" | base64 -w0; }

# --- servers and fixture ---------------------------------------------------
h_fixture "$N" "$tmp/fx" || exit 1
h_slapd_start "$tmp/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$tmp/receiver.conf" || exit 1
h_wine_init || exit 1
# A freshly booted prefix can be left with two services.exe (wineboot's
# and the one of the first command after the prefix update), each with
# its own service database: CreateService lands in one, `net start` asks
# the other ("Could not get handle", "Service database locked").  Restart
# the server so that exactly one SCM runs.
wineserver -k >&2 2>&1; wineserver -w >&2 2>&1; wineserver -p >&2 2>&1

# An OU and a user with non-ASCII names, added online.  LDIF carries them
# base64-encoded (RFC 2849).  The second value is invalid, so the export
# reports it with the entry's DN: proof that DNs arrive as UTF-8.
zou="OU=Zürich,DC=corp,DC=test"
cat >"$tmp/zuerich.ldif" <<EOF
dn:: $(b64 "$zou")
changetype: add
objectClass: top
objectClass: organizationalUnit
ou:: $(b64 "Zürich")

dn:: $(b64 "CN=Jürg Müller,$zou")
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn:: $(b64 "Jürg Müller")
sn:: $(b64 "Müller")
sAMAccountName: jmueller
userAccountControl: 512
proxyAddresses: SMTP:Juerg.Mueller@Corp.Test
proxyAddresses: smtp:not valid@corp.test
EOF
h_ldap_modify "$tmp/zuerich.ldif" || { t_fail "ldap-add-zuerich" "ldapmodify failed"; exit 1; }
{ cat "$tmp/fx/expected.txt"; echo "juerg.mueller@corp.test"; } |
    LC_ALL=C sort -u >"$tmp/expected.txt"

# --- export: Windows vs Linux ----------------------------------------------
# The Windows config lives in a directory with a non-ASCII name.
wdir="$tmp/wü"
mkdir -p "$wdir"
h_agent_conf "$tmp/linux.conf" || exit 1
H_AGENT_STATE="$wdir/state" h_agent_conf "$wdir/agent.conf" wine || exit 1
wconf=$(h_winpath "$wdir/agent.conf")

printf '%s\n' "$LDAP_PASSWORD" |
    h_wine "$exe" -c "$wconf" set-password >"$tmp/setpw.out" 2>&2
t_eq "set-password-exit" 0 $?
if grep -Eq '^password = [A-Za-z0-9+/]+=*' "$wdir/agent.conf" &&
    ! grep -Fq "$LDAP_PASSWORD" "$wdir/agent.conf"; then
	t_ok "set-password-dpapi-blob"
else
	t_fail "set-password-dpapi-blob" "no base64 blob, or the plaintext, in the config"
fi

"$lagent" -c "$tmp/linux.conf" export -o "$tmp/linux.txt" 2>"$tmp/linux.err"
t_eq "export-linux-exit" 0 $?
t_same_file "export-linux-ground-truth" "$tmp/expected.txt" "$tmp/linux.txt"
start=$(date +%s)
h_wine "$exe" -c "$wconf" export -o "$(h_winpath "$tmp/win.txt")" \
    2>"$tmp/win.err"
t_eq "export-win-exit" 0 $?
echo "windows export of $N: $(($(date +%s) - start)) s" >&2
t_eq "export-win-count-ge-20000" yes \
    "$([ "$(wc -l <"$tmp/win.txt")" -ge 20000 ] || [ "$N" -lt 20000 ] && echo yes)"
t_same_file "export-win-identical-to-linux" "$tmp/linux.txt" "$tmp/win.txt"
t_grep "export-win-dn-utf8" 'Z\\xc3\\xbcrich' "$tmp/win.err"

# A non-ASCII base DN: only the Zürich entries.
sed "s/^base = .*/base = $zou/" "$wdir/agent.conf" >"$wdir/zuerich.conf"
h_wine "$exe" -c "$(h_winpath "$wdir/zuerich.conf")" export \
    -o "$(h_winpath "$tmp/win-zuerich.txt")" 2>"$tmp/win-zuerich.err"
t_eq "export-win-nonascii-base" "juerg.mueller@corp.test" \
    "$(cat "$tmp/win-zuerich.txt" 2>/dev/null)"

# --- the service ------------------------------------------------------------
h_wine_programdata || exit 1
pd=$H_PD
log="$pd/log/agent.log"
# The service reads the default config; its state directory has a
# non-ASCII name.  One sync at start, then only on request (interval 1h).
awk -v st='C:\\ProgramData\\rcptsync\\Zustand-ü' '
    /^state_dir = / { print "state_dir = " st; next }
    /^\[agent\]/ { print; print "interval = 1h"; next }
    { print }' "$wdir/agent.conf" >"$pd/agent.conf"

h_wine "$exe" install >"$tmp/install.out" 2>&1
t_eq "install-exit" 0 $?
cat "$tmp/install.out" >&2
# reg.exe with its suffix: a bare "reg" once went to ShellExecute under
# Wine ("no application associated"); retried once for the same reason.
h_wine reg.exe query 'HKLM\System\CurrentControlSet\Services\rcptsync-agent' \
    >"$tmp/svc.reg" 2>&1 ||
    h_wine reg.exe query 'HKLM\System\CurrentControlSet\Services\rcptsync-agent' \
    >"$tmp/svc.reg" 2>&1
t_grep "install-registers-service" 'ImagePath.*rcptsync-agent\.exe.* service' "$tmp/svc.reg"
t_grep "install-auto-start" 'Start[[:space:]]+REG_DWORD[[:space:]]+0x2' "$tmp/svc.reg"
# Wine's SCM lacks two ChangeServiceConfig2W levels: it rejects delayed
# auto-start and the non-crash flag with ERROR_INVALID_LEVEL (124), and
# accepts recovery actions without storing them.  Windows stores all three
# under the service key, which is what is checked when they are there.
if grep -q 'set delayed auto-start: .*(error 124)' "$tmp/install.out"; then
	t_skip "install-delayed-start" "Wine's ChangeServiceConfig2W rejects SERVICE_CONFIG_DELAYED_AUTO_START_INFO (error 124)"
else
	t_grep "install-delayed-start" 'DelayedAutostart[[:space:]]+REG_DWORD[[:space:]]+0x1' "$tmp/svc.reg"
fi
if grep -q 'FailureActions' "$tmp/svc.reg" ||
    ! grep -q 'set recovery on error exit: .*(error 124)' "$tmp/install.out"; then
	t_grep "install-recovery-actions" 'FailureActions[[:space:]]+REG_BINARY' "$tmp/svc.reg"
else
	t_skip "install-recovery-actions" "Wine's ChangeServiceConfig2W accepts SERVICE_CONFIG_FAILURE_ACTIONS but stores nothing"
fi
h_wine reg.exe query \
    'HKLM\System\CurrentControlSet\Services\EventLog\Application\rcptsync-agent' \
    >"$tmp/ev.reg" 2>&1
t_grep "install-event-source" 'EventMessageFile.*rcptsync-agent\.exe' "$tmp/ev.reg"

# The receiver, as the systemd path unit would run it.
RECEIVER=$receiver h_receiver_watch "$tmp/receiver.conf" "$tmp/receiver.log"

h_wine sc query rcptsync-agent >&2 2>&1
h_wine net start rcptsync-agent >&2 2>&1
t_eq "net-start" 0 $?
h_wine sc query rcptsync-agent >&2 2>&1
if t_wait_log "$log" 'installed sequence' 180 1; then
	t_ok "service-first-sync"
else
	t_fail "service-first-sync" "no 'installed sequence' in $log"
	tail -n 30 "$log" >&2
fi
t_eq "postfix-known-250" "250" "$(h_rcpt "$(head -n 1 "$tmp/expected.txt")")"
t_eq "postfix-zuerich-250" "250" "$(h_rcpt juerg.mueller@corp.test)"
t_eq "postfix-unknown-550" "550 5.1.1" "$(h_rcpt no-such-user@corp.test)"

# An LDAP change, then sync-now.
cat >"$tmp/syncnow.ldif" <<EOF
dn: CN=Sync Now,OU=Corp,DC=corp,DC=test
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Sync Now
sn: Now
sAMAccountName: syncnow
userAccountControl: 512
proxyAddresses: SMTP:sync.now@corp.test
EOF
h_ldap_modify "$tmp/syncnow.ldif" || t_fail "ldap-add-syncnow" "ldapmodify failed"
t_eq "postfix-before-sync-now-550" "550 5.1.1" "$(h_rcpt sync.now@corp.test)"
h_wine "$exe" sync-now >&2 2>&1
t_eq "sync-now-exit" 0 $?
if t_wait_log "$log" 'installed sequence' 180 2; then
	t_ok "service-sync-now"
else
	t_fail "service-sync-now" "no second 'installed sequence' in $log"
	tail -n 30 "$log" >&2
fi
t_eq "postfix-after-sync-now-250" "250" "$(h_rcpt sync.now@corp.test)"

# PARAMCHANGE (rcptsync-agent.exe reload) re-reads the configuration.
h_wine "$exe" reload >&2 2>&1
t_eq "reload-exit" 0 $?
if t_wait_log "$log" 'configuration .* reloaded' 60 1; then
	t_ok "service-reload"
else
	t_fail "service-reload" "no 'reloaded' in $log"
fi

# STOP in the middle of a cycle: start a third sync, stop it while the
# export runs (Wine's LDAP reads 20,000 entries in about 11 s).
n=$(grep -c 'export: full export of' "$log")
h_wine "$exe" sync-now >&2 2>&1
t_wait_log "$log" 'export: full export of' 60 $((n + 1)) ||
    t_fail "stop-mid-cycle-started" "the third cycle did not start"
# Wine's `net stop` may return while the service is still STOP_PENDING,
# so the time counts until the SCM reports STOPPED.
t0=$(date +%s%N)
h_wine net stop rcptsync-agent >&2 2>&1
rc=$?
_w=0
while [ "$_w" -lt 60 ]; do
	h_wine sc query rcptsync-agent >"$tmp/sc.out" 2>&1
	grep -q 'STATE.*STOPPED' "$tmp/sc.out" && break
	sleep 0.25; _w=$((_w + 1))
done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "net stop to STOPPED took $ms ms" >&2
t_eq "net-stop" 0 "$rc"
t_grep "service-stopped" 'STATE.*STOPPED' "$tmp/sc.out"
t_eq "net-stop-within-10s" yes "$([ "$ms" -lt 10000 ] && echo yes)"
t_grep "stop-mid-cycle" 'interrupted' "$log"
t_grep "stop-logged" 'run: stopped' "$log"

h_wine "$exe" uninstall >&2 2>&1
t_eq "uninstall-exit" 0 $?
if h_wine sc query rcptsync-agent >"$tmp/sc2.out" 2>&1 &&
    grep -q 'STATE' "$tmp/sc2.out"; then
	t_fail "uninstall-removes-service" "sc query still finds it"
else
	t_ok "uninstall-removes-service"
fi
if h_wine reg.exe query \
    'HKLM\System\CurrentControlSet\Services\EventLog\Application\rcptsync-agent' \
    >/dev/null 2>&1; then
	t_fail "uninstall-removes-event-source" "registry key still there"
else
	t_ok "uninstall-removes-event-source"
fi

t_skip "task-scheduler" "Wine's schtasks /create /xml drops trigger, principal and command"

t_done
