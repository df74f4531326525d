#!/bin/sh
# t-win-acl.sh - the Windows state folder cannot be planted by a local
# user ahead of the install: rcptsync-agent.exe and the installer's custom action
# (rcptsync-msiconf.exe) under Wine.
#
#   rule      the trust rule itself (acl_win.c, Win32-OpenSSH's
#             check_secure_file_permission) on security descriptors given
#             as SDDL (the hidden `check-acl --sddl`): owners SYSTEM,
#             Administrators and the agent's own account pass; Users,
#             Everyone and an unknown domain account are refused by name
#             and SID; so is any write, delete, WRITE_DAC or WRITE_OWNER
#             right for another account, and a missing DACL; read rights,
#             deny entries and inherit-only entries pass, except read
#             rights on a private key (--secret)
#   create    what the agent creates (keygen's private key, the state
#             folder) carries the protected DACL: read back with
#             GetNamedSecurityInfoW (tests/win/acltool.c), no entry for
#             Everyone
#   refuse    a config, signing key, relay login key, state file
#             (relay-mx1.state), log file or config folder that Everyone
#             may write to is refused: the message names the file, the
#             account and the SID, an event 3005 line says what to do,
#             the exit status is 2 (a configuration error), and the file
#             is byte for byte what it was (the log file: the run goes
#             on, console only)
#   reset     a state folder of ours that others may write to gets the
#             protected DACL back, with a warning
#   service   the service started on a refused config stops with exit
#             code 2, the event 3005 line and "not started" in its log
#   installer a new DATADIR is created protected; a planted DATADIR
#             (Everyone may write) with an agent.conf is refused, exit 1,
#             agent.conf untouched and no config written; a trusted
#             DATADIR has its files and folders reset
#
# What Wine cannot show: it keeps no owner and no DACL on files.  It
# reports every file as owned by the Wine user (S-1-5-21-0-0-0-1000, the
# agent's own account, so trusted) and derives the DACL from the Unix
# mode: an entry for Everyone (WD) with 0x1301ff when "other" may write.
# A DACL that is set is turned back into a mode (for a folder always one
# that others may not write to).  So foreign owners are tested through
# the rule on SDDL, world-writable files and folders for real, and "the
# agent sets owner Administrators" only as far as Wine records it (it
# does not; acl_win.c's SDDL constants say it).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/harness.sh"

cd "$RS_TOP" || exit 1
exe=$RS_TOP/build/win/rcptsync-agent.exe
acltool=$RS_TOP/build/win/acltool.exe
# The tool is a test exe (Makefile.mingw test-exe): build it if needed.
make -f Makefile.mingw build/win/acltool.exe >&2 2>&1 ||
    { t_fail "build-acltool" "make -f Makefile.mingw build/win/acltool.exe failed"; exit 1; }
t_need "$exe" "$acltool" x86_64-w64-mingw32-gcc wixl cmp
T=$(t_tmp)
W=$(h_winpath "$T")

h_wine_init || exit 1
agent() { h_wine "$exe" "$@"; }
acl() { h_wine "$acltool" "$@"; }

# --- rule ------------------------------------------------------------------
# check_sd NAME SDDL VERDICT: VERDICT is "trusted" or an ERE of the reason.
check_sd() {
	_out=$(agent check-acl --sddl "$2" 2>&1); _rc=$?
	if [ "$3" = trusted ]; then
		t_eq "rule-$1" "$2: trusted/0" "$_out/$_rc"
	elif [ "$_rc" -eq 1 ] && printf '%s\n' "$_out" | grep -Eq -- "$3"; then
		t_ok "rule-$1"
	else
		t_fail "rule-$1" "want exit 1 and /$3/, got $_rc: $_out"
	fi
}
self=$(acl whoami | tr -d '\r')
case $self in S-1-5-*) t_ok "rule-whoami" ;; *) t_fail "rule-whoami" "got '$self'" ;; esac
check_sd system-owner 'O:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)' trusted
check_sd admins-owner 'O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)' trusted
check_sd self-owner "O:${self}D:(A;;FA;;;$self)" trusted
check_sd users-read 'O:BAD:P(A;;FA;;;SY)(A;;FR;;;BU)(A;;0x1200a9;;;WD)' trusted
check_sd inherit-only 'O:BAD:(A;OICIIO;FA;;;CO)(A;OICIIO;FA;;;BU)(A;;FA;;;SY)' trusted
check_sd deny 'O:BAD:(D;;FA;;;WD)(A;;FA;;;SY)' trusted
check_sd users-owner 'O:BUD:P(A;;FA;;;SY)' \
    'owned by BUILTIN.Users \(S-1-5-32-545\), not by SYSTEM or Administrators'
check_sd everyone-owner 'O:WDD:P(A;;FA;;;SY)' 'owned by Everyone \(S-1-1-0\)'
check_sd foreign-owner 'O:S-1-5-21-1-2-3-1001D:P(A;;FA;;;SY)' \
    'owned by .*\(S-1-5-21-1-2-3-1001\)'
check_sd everyone-write 'O:BAD:P(A;;FA;;;SY)(A;;FA;;;WD)' \
    'Everyone \(S-1-1-0\) may write to it \(access mask 0x1f01ff\)'
check_sd append 'O:BAD:(A;;0x4;;;AU)' \
    'Authenticated Users \(S-1-5-11\) may write to it \(access mask 0x4\)'
check_sd write-dac 'O:BAD:(A;;WD;;;BU)' 'BUILTIN.Users \(S-1-5-32-545\) may write'
check_sd write-owner 'O:BAD:(A;;WO;;;BU)' 'BUILTIN.Users \(S-1-5-32-545\) may write'
check_sd delete 'O:BAD:(A;;SD;;;BU)' 'BUILTIN.Users \(S-1-5-32-545\) may write'
check_sd generic-write 'O:BAD:(A;;GW;;;BU)' 'BUILTIN.Users \(S-1-5-32-545\) may write'
check_sd no-dacl 'O:BA' 'no access list'
agent check-acl --sddl 'not sddl' >/dev/null 2>&1
t_eq "rule-bad-sddl" 2 $?
# A private key: nobody else may even read it.
out=$(agent check-acl --secret --sddl 'O:BAD:P(A;;FA;;;SY)(A;;FR;;;BU)' 2>&1)
t_eq "rule-secret-read" "O:BAD:P(A;;FA;;;SY)(A;;FR;;;BU): BUILTIN\\Users (S-1-5-32-545) may read it, and it is a private key (access mask 0x120089)/1" "$out/$?"
out=$(agent check-acl --secret --sddl 'O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x100000;;;WD)' 2>&1)
t_eq "rule-secret-synchronize" "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x100000;;;WD): trusted/0" "$out/$?"

# --- a config the agent can load (no server is needed: it stops first) ----
mkdir -p "$T/a"
A=$T/a WA="$W\\a"
cat >"$A/agent.conf" <<EOF
[agent]
id = corp
domains = corp.test
signing_key = $WA\\key
state_dir = $WA\\state
log_file = $WA\\agent.log

[ldap]
server = ldap://127.0.0.1:1
base = DC=corp,DC=test
bind = simple
bind_dn = CN=x,DC=corp,DC=test
timeout = 2s

[relay mx1]
host = 127.0.0.1
port = 1
user = up
hostkey_sha256 = SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
private_key = $WA\\relaykey
remote_dir = incoming
status_file = status/status.json
connect_timeout = 2s
EOF
chmod 0644 "$A/agent.conf"
cfg="$WA\\agent.conf"

# --- create ----------------------------------------------------------------
agent -c "$cfg" keygen -f "$WA\\key" -I corp >"$T/keygen.out" 2>&1
t_eq "create-keygen" 0 $?
agent -c "$cfg" keygen -f "$WA\\relaykey" -I corp >>"$T/keygen.out" 2>&1
t_eq "create-keygen-relay" 0 $?
sd=$(acl show "$WA\\key" | tr -d '\r')
case $sd in
*';;;WD)'*|'') t_fail "create-key-dacl" "the private key has '$sd'" ;;
*'(A;;FA;;;SY)'*) t_ok "create-key-dacl" ;;
*) t_fail "create-key-dacl" "no SYSTEM entry in '$sd'" ;;
esac
agent -c "$cfg" check >"$T/check.out" 2>"$T/check.err"
t_grep "create-check-config" '^OK +config' "$T/check.out"
t_grep "create-check-state" '^OK +state directory' "$T/check.out"
t_grep "create-check-key" '^OK +signing key' "$T/check.out"
sd=$(acl show "$WA\\state" | tr -d '\r')
case $sd in
*';;;WD)'*|'') t_fail "create-state-dacl" "the state folder has '$sd'" ;;
*'(A;OICI;FA;;;SY)'*) t_ok "create-state-dacl" ;;
*) t_fail "create-state-dacl" "no inheritable SYSTEM entry in '$sd'" ;;
esac

# --- refuse ----------------------------------------------------------------
# refused NAME FILE EXIT OUT: OUT (stdout and stderr of the run) names FILE
# (its Windows path) and Everyone, has the event line, the exit status is
# EXIT, and FILE is what it was before ($FILE.before).
refused() {
	_wf=$(h_winpath "$2" | sed 's/[\\.]/\\&/g')
	t_eq "refuse-$1-exit" "$3" "$_rc"
	t_grep "refuse-$1-message" "$_wf: refused: Everyone \\(S-1-1-0\\) may write to it" "$4"
	t_grep "refuse-$1-event" "trust $_wf: Everyone \\(S-1-1-0\\) may write to it.*docs/ADMIN.md.*\\(event 3005\\)" "$4"
	t_same_file "refuse-$1-unchanged" "$2.before" "$2"
}

cp "$A/agent.conf" "$A/agent.conf.before"
chmod 0666 "$A/agent.conf"
agent -c "$cfg" check >"$T/r-conf.out" 2>&1; _rc=$?
refused config "$A/agent.conf" 2 "$T/r-conf.out"
agent -c "$cfg" sync >"$T/r-conf-sync.out" 2>&1; _rc=$?
t_eq "refuse-config-sync-exit" 2 "$_rc"
chmod 0644 "$A/agent.conf"

cp "$A/key" "$A/key.before"
chmod 0666 "$A/key"
ls -A "$A/state" | grep -v -e '^lock$' -e '^relay-.*\.state$' >"$T/state.before"
agent -c "$cfg" sync >"$T/r-key.out" 2>&1; _rc=$?
refused key "$A/key" 2 "$T/r-key.out"
ls -A "$A/state" | grep -v -e '^lock$' -e '^relay-.*\.state$' >"$T/state.after"
t_same_file "refuse-key-no-state-change" "$T/state.before" "$T/state.after"
chmod 0600 "$A/key"

# A private key that others may read: forged lists.
chmod 0644 "$A/key"
agent -c "$cfg" sync >"$T/r-keyread.out" 2>&1; _rc=$?
t_eq "refuse-key-read-exit" 2 "$_rc"
t_grep "refuse-key-read-message" "check key file .*key: refused: Everyone \\(S-1-1-0\\) may read it, and it is a private key" "$T/r-keyread.out"
t_same_file "refuse-key-read-unchanged" "$A/key.before" "$A/key"
chmod 0600 "$A/key"

# The relay login key, which libssh2 reads: checked before the command.
cp "$A/relaykey" "$A/relaykey.before"
chmod 0666 "$A/relaykey"
agent -c "$cfg" check >"$T/r-relaykey.out" 2>&1; _rc=$?
refused relay-key "$A/relaykey" 2 "$T/r-relaykey.out"
t_grep "refuse-relay-key-which" "check key file .*relaykey" "$T/r-relaykey.out"
chmod 0600 "$A/relaykey"

# A state file: what the agent remembers of relay mx1.
printf 'accepted_seq 1\n' >"$A/state/relay-mx1.state"
cp "$A/state/relay-mx1.state" "$A/state/relay-mx1.state.before"
chmod 0666 "$A/state/relay-mx1.state"
agent -c "$cfg" sync >"$T/r-state.out" 2>&1; _rc=$?
refused state "$A/state/relay-mx1.state" 2 "$T/r-state.out"
t_grep "refuse-state-which" "check state file .*relay-mx1\\.state" "$T/r-state.out"
rm -f "$A/state/relay-mx1.state" "$A/state/relay-mx1.state.before"

# A planted log file would receive what the service writes.
printf 'planted log\n' >"$A/agent.log"
cp "$A/agent.log" "$A/agent.log.before"
chmod 0666 "$A/agent.log"
agent -c "$cfg" sync >"$T/r-log.out" 2>&1
t_grep "refuse-log-message" "log file .*agent\\.log: refused: Everyone \\(S-1-1-0\\) may write to it.*console only" "$T/r-log.out"
t_same_file "refuse-log-unchanged" "$A/agent.log.before" "$A/agent.log"
rm -f "$A/agent.log" "$A/agent.log.before"

# The config's folder: whoever may write to it may swap agent.conf.
chmod 0777 "$A"
agent -c "$cfg" check >"$T/r-dir.out" 2>&1; _rc=$?
t_eq "refuse-folder-exit" 2 "$_rc"
t_grep "refuse-folder-message" "check config folder .*: refused: Everyone \\(S-1-1-0\\) may write to it" "$T/r-dir.out"
t_same_file "refuse-folder-config-unchanged" "$A/agent.conf.before" "$A/agent.conf"
chmod 0755 "$A"

# --- reset -----------------------------------------------------------------
chmod 0777 "$A/state"
agent -c "$cfg" check >"$T/reset.out" 2>&1
t_grep "reset-state-warning" "secure folder .*state: Everyone \\(S-1-1-0\\) may write to it.*now SYSTEM and Administrators only" "$T/reset.out"
t_grep "reset-state-ok" '^OK +state directory' "$T/reset.out"
sd=$(acl show "$WA\\state" | tr -d '\r')
case $sd in
*'0x1301ff;;;WD)'*|'') t_fail "reset-state-dacl" "still '$sd'" ;;
*) t_ok "reset-state-dacl" ;;
esac

# --- the service refuses at start -------------------------------------------
# One SCM: see t-win-service.sh for why the server restarts first.
wineserver -k >&2 2>&1; wineserver -w >&2 2>&1; wineserver -p >&2 2>&1
h_wine_programdata || exit 1
pd=$H_PD
agent -c "$cfg" install >"$T/svc-install.out" 2>&1
t_eq "service-install" 0 $?
chmod 0666 "$A/agent.conf"
h_wine net start rcptsync-agent >"$T/svc-start.out" 2>&1
# The config is refused, so the log is the default one.
if t_wait_log "$pd/log/agent.log" 'stopped, exit code 2' 20; then
	t_ok "service-refuses-exit-2"
else
	t_fail "service-refuses-exit-2" "no 'stopped, exit code 2' in $pd/log/agent.log"
	cat "$pd/log/agent.log" >&2
fi
_wf=$(h_winpath "$A/agent.conf" | sed 's/[\.]/\\&/g')
t_grep "service-refuses-event" "trust $_wf: Everyone \\(S-1-1-0\\) may write to it.*\\(event 3005\\)" "$pd/log/agent.log"
t_grep "service-refuses-not-started" "configuration .* unusable; not started" "$pd/log/agent.log"
t_same_file "service-refuses-config-unchanged" "$A/agent.conf.before" "$A/agent.conf"
chmod 0644 "$A/agent.conf"
h_wine net stop rcptsync-agent >&2 2>&1
agent uninstall >&2 2>&1
t_eq "service-uninstall" 0 $?
# The prefix is shared with the tests that follow; each that runs the
# service empties ProgramData first (h_wine_programdata).

# --- installer ---------------------------------------------------------------
MSI_OBJ=$T/msi "$RS_TOP/installer/build-msi.sh" -o "$T/x.msi" "$exe" \
    >"$T/build-msi.out" 2>&1 || { t_fail "installer-build" "build-msi.sh failed"; cat "$T/build-msi.out" >&2; exit 1; }
msiconf=$T/msi/rcptsync-msiconf.exe
tmpl="$W\\msi\\agent.conf.default"
# msiconf DIR: the custom action as the MSI runs it on DATADIR DIR.
msiconf() {
	h_wine "$msiconf" "$(h_winpath "$1")\\agent.conf" "$tmpl" \
	    "$(h_winpath "$1")\\." AGENT_ID=corp RELAY_HOST=mx1.corp.test
}

msiconf "$T/new" >"$T/i-new.out" 2>&1
t_eq "installer-new-exit" 0 $?
t_grep "installer-new-config" '^host = mx1\.corp\.test' "$T/new/agent.conf"
for f in "" '\agent.conf' '\log'; do
	sd=$(acl show "$W\\new$f" | tr -d '\r')
	case $sd in
	*';;;WD)'*|'') t_fail "installer-new-dacl$f" "'$sd'" ;;
	*) t_ok "installer-new-dacl$f" ;;
	esac
done

# Planted: a user made DATADIR, writable by all, with an agent.conf.
# (Wine turns a folder's DACL into mode 0775 whatever it grants, so the
# world-writable folder is made with chmod; a file's DACL maps fine.)
mkdir -p "$T/planted"
printf '[agent]\naudit_file = C:\\Windows\\win.ini\n' >"$T/planted/agent.conf"
cp "$T/planted/agent.conf" "$T/planted.conf.before"
chmod 0777 "$T/planted"
ls -A "$T/planted" >"$T/planted.ls.before"
msiconf "$T/planted" >"$T/i-planted.out" 2>&1
t_eq "installer-planted-exit" 1 $?
t_grep "installer-planted-message" "install: refuse .*planted: Everyone \\(S-1-1-0\\) may write to it.*remove it" "$T/i-planted.out"
t_same_file "installer-planted-config-unchanged" "$T/planted.conf.before" "$T/planted/agent.conf"
ls -A "$T/planted" >"$T/planted.ls.after"
t_same_file "installer-planted-nothing-added" "$T/planted.ls.before" "$T/planted.ls.after"

# Trusted DATADIR (ours) with a world-writable config and state folder,
# as an admin's mistake could leave them: reset, the config kept.
mkdir -p "$T/ours/state"
cp "$T/new/agent.conf" "$T/ours/agent.conf"
cp "$T/ours/agent.conf" "$T/ours.conf.before"
acl set "$W\\ours\\agent.conf" 'D:(A;;FA;;;SY)(A;;FA;;;WD)' >&2 2>&1
t_eq "installer-ours-plant" 0 $?
chmod 0777 "$T/ours/state"
msiconf "$T/ours" >"$T/i-ours.out" 2>&1
t_eq "installer-ours-exit" 0 $?
t_grep "installer-ours-reset" "secure .*ours.agent\\.conf: Everyone \\(S-1-1-0\\) may write to it .*; now owned by Administrators" "$T/i-ours.out"
t_grep "installer-ours-reset-logged" "secure .*ours.agent\\.conf: Everyone" "$T/ours/log/msiconf.log"
t_same_file "installer-ours-config-kept" "$T/ours.conf.before" "$T/ours/agent.conf"
for f in '\agent.conf' '\state'; do
	sd=$(acl show "$W\\ours$f" | tr -d '\r')
	case $sd in
	*'0x1301ff;;;WD)'*|'') t_fail "installer-ours-dacl$f" "'$sd'" ;;
	*) t_ok "installer-ours-dacl$f" ;;
	esac
done

t_done
