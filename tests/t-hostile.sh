#!/bin/sh
# t-hostile.sh - hostile directory data end to end: values a directory
# admin can store must never become a map line.
#
# The fixture's hostile object (tests/fixture/gen.py --hostile) carries
# proxyAddresses values with CR, LF, NUL, a tab, '#', '@@', a quoted local
# part, a 300-octet local part, non-ASCII, leading and inner spaces and a
# value that tries to inject a second map line ("a@corp.test OK\nevil@...").
# The full pipeline runs: slapd -> agent sync -> SFTP -> receiver -> Postfix.
# Asserts:
#   - the sync succeeds (hostile values are skipped, not fatal);
#   - the map source's keys, and the built table's (postmap -s), are
#     exactly expected.txt: no hostile value and no fragment of one;
#   - Postfix answers 550 5.1.1 for the injected "evil" address and the
#     fragments, 250 for the object's one legitimate address;
#   - the agent's log has one "skipped proxyAddresses" warning per hostile
#     value, naming the object's DN and showing the value escaped (no raw
#     control character, no forged log line).
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/fault/lib.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
RECEIVER=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$AGENT" "$RECEIVER" python3 postmap sha256sum
T=$(t_tmp)

h_fixture 500 "$T/fx" hostile || exit 1
t_grep "fixture is hostile" '^hostile: yes' "$T/fx/summary"
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
h_agent_conf "$T/agent.conf" || exit 1

h_receiver_watch "$T/receiver.conf" "$T/receiver.log" 0.3
RLOOP=$H_RWATCH_PID

"$AGENT" -c "$T/agent.conf" sync 2>"$T/sync.err"
t_eq "sync with hostile values: exit 0" 0 $?
t_grep "sync: installed" 'sync mx1: installed sequence [0-9]+' "$T/sync.err"
kill "$RLOOP" 2>/dev/null; wait "$RLOOP" 2>/dev/null

# --- nothing hostile reaches the map -----------------------------------------
LC_ALL=C sort "$T/fx/expected.txt" >"$T/expected.sorted"
f_map_keys "$H_MAP" >"$T/map.keys"
t_same_file "map source keys = expected.txt" "$T/expected.sorted" "$T/map.keys"
t_eq "map source: every line is KEY<TAB>OK" 0 \
    "$(LC_ALL=C grep -cvE '^[a-z0-9.!$%&'"'"'*+/=?^_`{|}~-]+@[a-z0-9.-]+	OK$' "$H_MAP")"
postmap -c "$POSTFIX_DIR" -s "$H_MAP_TYPE:$H_MAP" 2>"$T/postmap.err" |
    cut -f1 | LC_ALL=C sort >"$T/table.keys"
t_same_file "postmap -s table keys = expected.txt" "$T/expected.sorted" "$T/table.keys"
t_eq "map: nothing outside printable ASCII" 0 \
    "$(LC_ALL=C grep -c '[^ -~	]' "$H_MAP")"
nfrag=0
for frag in evil feed lf@ byte@ here@ '#' '"' 'at@@' xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx \
    spaced out@ leading.space 'OK'; do
	if LC_ALL=C grep -Fq -- "$frag" "$T/map.keys" "$T/table.keys"; then
		echo "hostile fragment '$frag' in the map:" >&2
		LC_ALL=C grep -F -- "$frag" "$T/map.keys" | head -n 3 >&2
		nfrag=$((nfrag + 1))
	fi
done
t_eq "map: no hostile fragment (evil, feed, '#', '\"', '@@', x*64, ...)" 0 "$nfrag"

# --- Postfix answers -----------------------------------------------------------
t_eq "rcpt: legitimate address of the hostile object" 250 \
    "$(h_rcpt hostile.anchor@corp.test)"
t_eq "rcpt: injected evil@corp.test" "550 5.1.1" "$(h_rcpt evil@corp.test)"
for a in feed@corp.test lf@corp.test byte@corp.test here@corp.test \
    hash@corp.test quoted@corp.test out@corp.test leading.space@corp.test \
    rg@corp.test; do
	grep -qx "$a" "$T/fx/expected.txt" && continue	# a real user by chance
	t_eq "rcpt: fragment $a" "550 5.1.1" "$(h_rcpt "$a")"
done
if ! grep -qx 'a@corp.test' "$T/fx/expected.txt"; then
	t_eq "rcpt: the injection's first half a@corp.test" "550 5.1.1" \
	    "$(h_rcpt a@corp.test)"
fi

# --- each skipped value reported with its DN -----------------------------------
python3 - "$T/fx/fixture.ldif" "$T/sync.err" >"$T/report.out" 2>&1 <<'PY'
import base64, sys
raw = open(sys.argv[1], "rb").read().replace(b"\n ", b"")
log = open(sys.argv[2], "rb").read()
# The hostile object: the entry holding hostile.anchor@corp.test.
dn, vals = None, None
for block in raw.split(b"\n\n"):
    cur, vs = None, []
    for l in block.strip().split(b"\n"):
        if l.startswith(b"dn: "):
            cur = l[4:]
        elif l.startswith(b"dn:: "):
            cur = base64.b64decode(l[5:])
        elif l.startswith(b"proxyAddresses: "):
            vs.append(l[16:])
        elif l.startswith(b"proxyAddresses:: "):
            vs.append(base64.b64decode(l[17:]))
    if any(v.lower() == b"smtp:hostile.anchor@corp.test" for v in vs):
        dn, vals = cur, vs
if dn is None:
    print("no hostile object in the fixture"); sys.exit(1)

def esc(b):
    # agent-win/dir/export.c export_escape: printable ASCII but '\', else \xHH;
    # at most 300 input octets.
    out = []
    for c in b[:300]:
        if 0x20 <= c < 0x7f and c != 0x5c:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out).encode()

lines = log.split(b"\n")
bad = 0
hostile = [v for v in vals if v.lower() != b"smtp:hostile.anchor@corp.test"]
for v in hostile:
    want = b"export " + esc(dn) + b': skipped proxyAddresses "' + esc(v) + b'"'
    # slapd hands the DN back with its own attribute-type case.
    hits = [l for l in lines if want.lower() in l.lower()]
    if len(hits) != 1:
        print("value %r: %d report lines (want 1) containing %r"
              % (v, len(hits), want)); bad += 1
# No raw control character in the log, and no line that a hostile value
# started (the injection's second half, the LF-split halves).
for l in lines:
    if any(c < 0x20 and c != 0x09 for c in l):
        print("raw control character in log line %r" % l); bad += 1
    if l.startswith(b"evil@") or l.startswith(b"feed@"):
        print("forged log line %r" % l); bad += 1
print("%d hostile values, %d problems" % (len(hostile), bad))
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$T/report.out" >&2
if [ "$rc" -eq 0 ]; then
	t_ok "agent log: each hostile value reported with its DN, escaped"
else
	t_fail "agent log: each hostile value reported with its DN" "$(tail -n 1 "$T/report.out")"
fi
t_done
