# tests/fault/lib.sh - helpers shared by the fault-injection tests
# (tests/t-fault-*.sh).  Source it after tests/lib.sh and tests/harness.sh.
#
#   f_proxy_start NAME TARGET_PORT
#       start tests/fault/tcpproxy.py in front of 127.0.0.1:TARGET_PORT;
#       sets F_PORT (where it listens), F_MODE (the mode file: write
#       "pass", "cut N" or "slow N SECS" into it), F_LOG (its per-connection
#       log), F_PID.  Stopped at exit.
#   f_wait SECS CMD...
#       poll CMD every 0.1 s until it succeeds; fails after SECS seconds.
#   f_map_keys MAP
#       print the keys of a map source, sorted bytewise.
#
# Errors: non-zero return, with the reason on stderr.
# Trust boundary: none; test code.

f_wait() {
	_fw_end=$(( $(date +%s) + $1 )); shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -ge "$_fw_end" ] && return 1
		sleep 0.1
	done
	return 0
}

f_proxy_start() {
	_fd=$H_DIR/proxy-$1
	mkdir -p "$_fd" && rm -f "$_fd/port" "$_fd/log" || return 1
	echo pass >"$_fd/mode"
	python3 "$RS_TOP/tests/fault/tcpproxy.py" "$2" "$_fd/port" "$_fd/mode" \
	    "$_fd/log" </dev/null >&2 &
	F_PID=$!
	t_cleanup "kill $F_PID 2>/dev/null"
	f_wait 20 test -s "$_fd/port" ||
	    { echo "proxy $1 did not start" >&2; return 1; }
	F_PORT=$(cat "$_fd/port") F_MODE=$_fd/mode F_LOG=$_fd/log
	touch "$F_LOG"
}

f_map_keys() { cut -f1 "$1" | LC_ALL=C sort; }

# f_anchor_dn FIXTURE_DIR: print the DN of an entry one of whose smtp:
# values is in expected.txt; f_add_addr adds values onto it, so an added
# address counts exactly as the fixture's own do.
f_anchor_dn() {
	python3 - "$1/fixture.ldif" "$1/expected.txt" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
text = text.replace("\n ", "")
truth = set(open(sys.argv[2]).read().split())
for block in text.split("\n\n"):
    lines = block.strip().split("\n")
    if not lines or not lines[0].startswith("dn: "):
        continue
    for l in lines:
        if l.startswith("proxyAddresses: ") and l[16:21].lower() == "smtp:" \
                and l[21:].lower() in truth:
            print(lines[0][4:])
            sys.exit(0)
sys.exit(1)
PY
}

# f_add_addr DN ADDR: one more proxyAddresses value smtp:ADDR on DN.
f_add_addr() {
	printf 'dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:%s\n' \
	    "$1" "$2" >"$H_DIR/f_add.ldif"
	h_ldap_modify "$H_DIR/f_add.ldif" >/dev/null
}
