#!/bin/sh
# t-agent-winpath.sh - rcptsync-agent.exe under Wine with its relay login
# key and known_hosts under non-ASCII paths: the agent
# reads both through its sys layer (UTF-16 at the Win32 call) and hands
# them to libssh2 in memory, where libssh2's own fopen would fail.
#
#   `check` against the harness sshd, with private_key and known_hosts in
#   a folder named "clés-ключи", the files "relay é.key" and
#   "known_hosts ü": the host key, authentication and the write test pass.
#   A missing key under such a path is reported with its name, as UTF-8.
#   Log file and separators: `export` writes its lines,
#   the failed LDAP connect (event 3001) among them, to [agent] log_file
#   as sync does; the signing key's default path, which the agent joins
#   from state_dir, has backslashes only, on the console and in the file.
# LDAP is not started: check's LDAP lines fail, the relay lines count.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

exe=$RS_TOP/build/win/rcptsync-agent.exe
t_need "$exe"
T=$(t_tmp)

h_sshd_start || exit 1
LDAP_URI=ldap://127.0.0.1:1 LDAP_BASE=dc=example,dc=test \
    LDAP_BINDDN=cn=nobody h_agent_conf "$T/agent.conf" wine || exit 1
h_wine_init || exit 1

u="$T/clés-ключи"
mkdir -p "$u" || exit 1
cp "$SFTP_KEY" "$u/relay é.key" && chmod 600 "$u/relay é.key"
cp "$SFTP_KNOWN_HOSTS" "$u/known_hosts ü"
wkey=$(h_winpath "$u/relay é.key" | sed 's/\\/\\\\/g')
wkh=$(h_winpath "$u/known_hosts ü" | sed 's/\\/\\\\/g')
sed -e "s|^hostkey_sha256 = .*|known_hosts = $wkh|" \
    -e "s|^private_key = .*|private_key = $wkey|" "$T/agent.conf" >"$T/utf8.conf"
sed -e 's|relay é.key|relay ö.key|' "$T/utf8.conf" >"$T/missing.conf"

# Wine maps Unix file names through the locale's character set.
LC_ALL=C.UTF-8 h_wine "$exe" -c "$(h_winpath "$T/utf8.conf")" check \
    >"$T/utf8.out" 2>"$T/utf8.err"
cat "$T/utf8.out" "$T/utf8.err" >&2
t_grep "exe: host key from known_hosts ü" '^OK   relay mx1: host key' "$T/utf8.out"
t_grep "exe: authenticated with relay é.key" '^OK   relay mx1: authenticate as' "$T/utf8.out"
t_grep "exe: write test" '^OK   relay mx1: write test' "$T/utf8.out"

LC_ALL=C.UTF-8 h_wine "$exe" -c "$(h_winpath "$T/missing.conf")" check \
    >"$T/missing.out" 2>"$T/missing.err"
t_grep "exe: a missing key is named" '^FAIL relay private key: .*\\clés-ключи\\relay ö\.key' "$T/missing.out"

# --- the log file, and paths with one kind of separator ------------------
wlog=$(h_winpath "$T/log/agent.log")
sed -e '/^signing_key = /d' \
    -e "s|^\[agent\]\$|[agent]\nlog_file = $(printf '%s' "$wlog" | sed 's/\\/\\\\/g')|" \
    "$T/utf8.conf" >"$T/log.conf"
# A password, so that export gets as far as the (absent) LDAP server.
printf 'x\n' | LC_ALL=C.UTF-8 h_wine "$exe" -c "$(h_winpath "$T/log.conf")" \
    set-password >"$T/setpw.out" 2>&1
t_eq "exe: set-password" 0 $?
LC_ALL=C.UTF-8 h_wine "$exe" -c "$(h_winpath "$T/log.conf")" export -o "$(h_winpath "$T/x.txt")" \
    >"$T/export.out" 2>"$T/export.err"
t_eq "exe: export exits 1 without LDAP" 1 $?
cat "$T/export.err" >&2
t_grep "exe: export's event on the console" 'ldap connect .*\(event 3001\)' \
    "$T/export.err"
t_grep "exe: export's event in log_file" \
    '^[0-9T:-]+Z \[[0-9]+\] error: ldap connect .*\(event 3001\)' "$T/log/agent.log"
LC_ALL=C.UTF-8 h_wine "$exe" -c "$(h_winpath "$T/log.conf")" sync >"$T/sync.out" 2>"$T/sync.err"
t_eq "exe: sync exits 2 without a signing key" 2 $?
cat "$T/sync.err" >&2
# What the agent joined: STATE + \agent_ed25519, not STATE/agent_ed25519.
want="$(h_winpath "$H_AGENT_STATE")\\agent_ed25519"
for f in sync.err log/agent.log; do
	got=$(sed -n 's/^.*read signing key \(.*\): no such file.*$/\1/p' "$T/$f" |
	    tail -n 1)
	t_eq "exe: the signing key's path in $f" "$want" "$got"
	case $got in
	*/*)	t_fail "exe: one separator in $f" "$got" ;;
	*)	t_ok "exe: one separator in $f" ;;
	esac
done
t_done
