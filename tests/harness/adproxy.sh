# tests/harness/adproxy.sh - AD's MaxValRange in front of slapd or Samba.
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, t_cleanup
# registration) it uses.  POSIX sh.  Call the start function directly,
# never inside $(...).
#
# Neither slapd nor Samba 4.17 ranges values (NOTES.md): they return all
# of a multi-valued attribute.  adproxy.py relays LDAP to them and ranges
# values past MAXVALRANGE as AD does (its header, and docs/HACKING.md "The
# AD stand-in proxy", say how faithfully).
#
#   h_adproxy_start HOST PORT MAXVALRANGE [skip]
#       a proxy on a free port in front of ldap://HOST:PORT (plain LDAP
#       only); with "skip", one whose ranged replies hide a value each.  One per test: a second start replaces the first.  Sets
#         H_ADPROXY_URI   ldap://127.0.0.1:PORT of the proxy
#         H_ADPROXY_PORT  H_ADPROXY_LOG  H_ADPROXY_PID
#       H_ADPROXY_LOG gets "ranged DN ATTR;range=L-H N" for each ranged
#       attribute it sends and "page-ends-ranged DN" when a page's last
#       entry was ranged.
#   h_adproxy_stop

h_adproxy_start() {
	h_alive "${H_ADPROXY_PID:-}" && h_adproxy_stop
	H_ADPROXY_LOG=$H_DIR/adproxy.log
	for _try in 1 2 3; do
		H_ADPROXY_PORT=$(_h_port)
		"$H_PY" "$RS_TOP/tests/harness/adproxy.py" "$H_ADPROXY_PORT" \
		    "$1" "$2" "$3" "$H_ADPROXY_LOG" ${4:+"$4"} 2>>"$H_ADPROXY_LOG" </dev/null &
		H_ADPROXY_PID=$!
		t_cleanup "_h_stop $H_ADPROXY_PID python3 TERM"
		if _h_wait_port "$H_ADPROXY_PORT" "$H_ADPROXY_PID" 10; then
			H_ADPROXY_URI="ldap://127.0.0.1:$H_ADPROXY_PORT"
			export H_ADPROXY_URI H_ADPROXY_PORT H_ADPROXY_LOG H_ADPROXY_PID
			return 0
		fi
		_h_stop "$H_ADPROXY_PID" python3 KILL
	done
	_h_fail adproxy-start "adproxy.py did not come up (see $H_ADPROXY_LOG)"
}

h_adproxy_stop() { _h_stop "${H_ADPROXY_PID:-}" python3 TERM; }
