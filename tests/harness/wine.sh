# tests/harness/wine.sh - a Wine prefix per test run, for the
# Windows agent.
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, h_alive, H_DIR,
# t_cleanup registration) it uses.  POSIX sh.  Call the start functions
# directly, never inside $(...), or the variables and the cleanup
# registration are lost.
#
# API:
#
#   h_wine_init
#       WINEPREFIX=build/tests/wine/RUNID, created fresh once per tests/run
#       invocation (RUNID: RS_RUN_ID, else tests/run's PID and start time;
#       the prefixes of finished runs are deleted: a prefix's .rs-owner
#       names the run's tests/run process, RS_RUN_OWNER), WINEDEBUG=-all,
#       WINEDLLOVERRIDES="mscoree,mshtml=", WINEARCH=win64, wineboot -i,
#       and "wineserver -p" kept running until the test exits (then
#       wineserver -k; wineserver -w).  H_WINE is the wine64 loader.
#   h_wine CMD...       run CMD under wine64
#   h_winpath PATH      print PATH as Wine sees it (Z:\...)
#   h_wine_set_password EXE CONF
#       $LDAP_PASSWORD, DPAPI-protected by EXE's set-password, into the
#       agent config CONF (a Unix path); true when CONF then holds the
#       blob.  Output in $H_DIR/setpw.out.
#   h_wine_programdata
#       empty the prefix's C:\ProgramData\rcptsync (config, state, log of
#       the service) and set H_PD to it.  Tests of one run share the
#       prefix, so a test that runs the service starts here: a log line an
#       earlier test's service wrote ("installed sequence") would otherwise
#       count as this test's.

H_WINE=/usr/lib/wine/wine64

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
		# The run (tests/run, RS_RUN_OWNER; else our parent) owns it;
		# gone, it is deleted.
		echo "${RS_RUN_OWNER:-$PPID.$(awk '{print $22}' "/proc/$PPID/stat")}" \
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
	else
		# A prefix an earlier test of the run made: this new session
		# has no services.exe yet, and the first wine command starts
		# it, with that command's stdout.  Were that command inside
		# $(...) (h_wine cmd /c echo ... | tr), services.exe would hold
		# the pipe open and the test would hang for good; so start the
		# session here, writing nowhere.
		"$H_WINE" cmd /c exit </dev/null >/dev/null 2>&1 ||
		    { _h_fail wine-init "first command of the session failed"; return 1; }
	fi
}

_h_wine_stop() {
	[ -n "${WINEPREFIX:-}" ] || return 0
	wineserver -k 2>/dev/null
	wineserver -w 2>/dev/null
	return 0
}

h_wine() { "$H_WINE" "$@"; }

h_wine_programdata() {
	H_PD=$WINEPREFIX/drive_c/ProgramData/rcptsync
	rm -rf "$H_PD" && mkdir -p "$H_PD" ||
	    { _h_fail wine-programdata "cannot empty $H_PD"; return 1; }
}

# h_winpath PATH: the Wine name of an absolute Unix path (drive Z: is /).
h_winpath() { printf 'Z:%s\n' "$1" | tr / '\\'; }

h_wine_set_password() {
	printf '%s\n' "$LDAP_PASSWORD" |
	    h_wine "$1" -c "$(h_winpath "$2")" set-password >"$H_DIR/setpw.out" 2>&1 &&
	    grep -Eq '^password = [A-Za-z0-9+/]+=*' "$2"
}
