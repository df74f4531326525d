#!/bin/sh
# t-receiver-fresh.sh - freshness, receiver side: how stale the list is.  status and
# status --nagios (UNKNOWN with no agent, OK, WARNING and CRITICAL as the
# last contact ages past stale_warning = 2s and stale_critical = 6s, a
# heartbeat back to OK, a refused bundle WARNING), the Prometheus textfile
# after every run (promtool check metrics, plus a stricter parser here:
# HELP and TYPE before the samples, families contiguous), rejection
# counters by reason that survive further runs, and fail-static: through
# all of it the map source and the postmap table stay byte-identical (and
# the table is the same inode), and smtpd keeps answering from it.
#
# Real postmap and the harness's Postfix (hash map), the receiver as user
# rcptsync, every bundle signed by ssh-keygen (tests/bundle.sh).
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
. "$RS_TOP/tests/bundle.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
# A missing promtool (Debian package prometheus, tools/deps.sh) fails.
t_need "$RCV_BIN" "$PROMTOOL" postmap postconf ssh-keygen gzip setpriv \
    python3 sha256sum

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
CONF=$T/receiver.conf
h_receiver_local "$CONF" || exit 1
cp "$CONF" "$T/defaults.conf"
PROM=$H_DIR/status/rcptsync.prom
printf 'metrics_file = %s\nstale_warning = 2s\nstale_critical = 6s\n' \
    "$PROM" >>"$CONF"
STATE=$H_RECV_STATE
TABLE=$H_MAP.db
KEY=$H_AGENT_KEY

# rcv ARGS...: the receiver as user rcptsync; stderr to $T/log (and ours).
rcv() {
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "${RCONF:-$CONF}" -v "$@" 2>"$T/log"
	_rc=$?
	sed 's/^/  rcv| /' "$T/log" >&2
	return $_rc
}

# nagios: run status --nagios into $T/nagios, set NRC and AGE (perfdata).
nagios() {
	rcv status --nagios >"$T/nagios"
	NRC=$?
	sed 's/^/  nagios| /' "$T/nagios" >&2
	AGE=$(sed -n 's/.* age=\([0-9]*\)s;.*/\1/p' "$T/nagios")
}

# human: status into $T/status.
human() {
	rcv status >"$T/status"
	t_eq "$1: status exit 0" 0 $?
	sed 's/^/  status| /' "$T/status" >&2
}

# prom_ok NAME: the metrics file parses: promtool, then the strict check.
prom_ok() {
	cp "$PROM" "$T/prom.$2" 2>/dev/null
	if "$PROMTOOL" check metrics <"$PROM" >"$T/promtool" 2>&1; then
		t_ok "$1: promtool check metrics exits 0 ($(grep -vc '^#' "$PROM") samples, $(grep -c '^# TYPE' "$PROM") families)"
	else
		t_fail "$1: promtool check metrics" "$(tr '\n' ' ' <"$T/promtool")"
	fi
	t_check "$1: strict text-format check" python3 - "$PROM" <<'EOF'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{%s(?:,%s)*\})? (\S+)$' % (name, label, label))
help_, type_, done, cur = {}, {}, set(), None
for n, line in enumerate(open(sys.argv[1], encoding="ascii"), 1):
    line = line.rstrip("\n")
    m = re.match(r'^# (HELP|TYPE) (%s) (.+)$' % name, line)
    if m:
        kind, fam, rest = m.groups()
        d = help_ if kind == "HELP" else type_
        assert fam not in d, "line %d: second %s for %s" % (n, kind, fam)
        d[fam] = rest
        assert fam not in done, "line %d: family %s not contiguous" % (n, fam)
        if kind == "TYPE":
            assert rest in ("gauge", "counter"), line
            assert (rest == "counter") == fam.endswith("_total"), line
            assert fam in help_, "line %d: TYPE before HELP" % n
        if cur is not None and cur != fam:
            done.add(cur)
        cur = fam
        continue
    assert not line.startswith("#"), "line %d: stray comment" % n
    m = sample.match(line)
    assert m, "line %d: not a sample: %r" % (n, line)
    fam = m.group(1)
    assert fam == cur and fam in type_, "line %d: %s outside its family" % (n, fam)
    float(m.group(3))
    assert fam.startswith("rcptsync_receiver_"), fam
assert help_.keys() == type_.keys()
EOF
}

# prom 'NAME{LABELS}': print the value of that sample.
prom() { awk -v k="$1" '$1 == k { print $2 }' "$PROM"; }

snap() {
	cp "$H_MAP" "$T/snap.src" && cp "$TABLE" "$T/snap.tab" &&
	    stat -c '%i %Y' "$TABLE" >"$T/snap.ino"
}
map_unchanged() {
	t_same_file "$1: map source byte-identical" "$T/snap.src" "$H_MAP"
	t_same_file "$1: postmap table byte-identical" "$T/snap.tab" "$TABLE"
	t_eq "$1: table not rebuilt (inode, mtime)" "$(cat "$T/snap.ino")" \
	    "$(stat -c '%i %Y' "$TABLE")"
}

SEQ=100
# put ENTRIES [header options]: bundle corp.$SEQ in the spool, signed.
put() {
	SEQ=$((SEQ + 1))
	_e=$1; shift
	_f=$(b_make "$SPOOL" corp "$SEQ" "$_e" "$@") && b_sign "$KEY" "$_f" &&
	    chown rcptsync "$_f" "$_f.sig"
}

# --- no agent yet: UNKNOWN; an idle run still writes the metrics --------
nagios
t_eq "no agent: status --nagios exit 3 (UNKNOWN)" 3 "$NRC"
t_grep "no agent: one UNKNOWN line with perfdata" \
    '^RCPTSYNC UNKNOWN - no agent has pushed yet \| entries=0;;;0$' "$T/nagios"
rcv run >/dev/null
t_eq "idle run, nothing to do: exit 0" 0 $?
t_check "idle run: metrics file written" test -s "$PROM"
t_eq "idle run: metrics file mode 0644" 644 "$(stat -c %a "$PROM")"
prom_ok "idle run" idle
t_eq "idle run: last_run_exit_code 0" 0 "$(prom rcptsync_receiver_last_run_exit_code)"

# --- install: OK ----------------------------------------------------------
b_list 1500 corp.test >"$T/l1"
b_list 500 example.org >>"$T/l1"
b_sort "$T/l1"
LSHA=$(sha256sum <"$T/l1" | cut -d' ' -f1)
put "$T/l1"
INST=$SEQ
rcv run >/dev/null
t_eq "install corp.$INST: exit 0" 0 $?
_t_inst=$(date +%s)
snap
nagios
t_eq "fresh install: status --nagios exit 0 (OK, age ${AGE}s)" 0 "$NRC"
t_grep "fresh install: OK line, entries and age with warn/crit thresholds" \
    "^RCPTSYNC OK - corp: 2000 entries, last contact [0-9]+s ago \| entries=2000;;;0 age=[0-9]+s;2;6;0$" "$T/nagios"
prom_ok "after install" install
t_eq "metrics: accepted_entries{corp}" 2000 "$(prom 'rcptsync_receiver_accepted_entries{agent="corp"}')"
t_eq "metrics: map_entries" 2000 "$(prom rcptsync_receiver_map_entries)"
_ls=$(prom 'rcptsync_receiver_last_success_timestamp_seconds{agent="corp"}')
t_check "metrics: last_success_timestamp_seconds{corp} = install time ($_ls)" \
    test "$_ls" -ge $((_t_inst - 5)) -a "$_ls" -le "$_t_inst"
_d=$(prom 'rcptsync_receiver_install_duration_seconds{agent="corp"}')
t_check "metrics: install_duration_seconds{corp} is a float ($_d s)" \
    sh -c "echo '$_d' | grep -Eq '^[0-9]+\.[0-9]{6}$'"
t_eq "metrics: stale thresholds exported" "2 6" \
    "$(prom rcptsync_receiver_stale_warning_seconds) $(prom rcptsync_receiver_stale_critical_seconds)"

# --- stale: WARNING, then CRITICAL; the map stays (fail-static) ----------
sleep 3
nagios
t_eq "no contact for ${AGE}s (> stale_warning 2s): status --nagios exit 1 (WARNING)" 1 "$NRC"
t_grep "stale warning: WARNING line names the threshold" \
    '^RCPTSYNC WARNING - corp: stale: no install or heartbeat for [0-9]+s \(warning after 2s\) \| entries=2000;;;0 age=[0-9]+s;2;6;0$' "$T/nagios"
human "stale warning"
t_grep "stale warning: status verdict STALE warning" \
    "^  contact   [0-9T:Z-]+, [0-9]+s ago: STALE warning \(warning after 2s, critical after 6s\)$" "$T/status"
sleep 4
nagios
t_eq "no contact for ${AGE}s (> stale_critical 6s): status --nagios exit 2 (CRITICAL)" 2 "$NRC"
t_grep "stale critical: CRITICAL line" \
    '^RCPTSYNC CRITICAL - corp: stale: no install or heartbeat for [0-9]+s \(critical after 6s\) \|' "$T/nagios"
human "stale critical"
t_grep "stale critical: status verdict STALE critical" "^agent corp: CRITICAL - stale" "$T/status"
t_grep "stale critical: status contact line" ": STALE critical \(warning after 2s, critical after 6s\)$" "$T/status"
rcv run >/dev/null
t_eq "stale critical: idle run exit 0 (staleness is not a failure)" 0 $?
prom_ok "stale idle run" stale
map_unchanged "stale warning + critical, status, idle run"
t_eq "stale critical: smtpd still answers from the map (listed/unknown)" "250 550 5.1.1" \
    "$(h_rcpt u0000007@corp.test nobody@corp.test | tr '\n' ' ' | sed 's/ $//')"

# --- a heartbeat is contact: back to OK, map not rebuilt ------------------
: >"$T/empty"
put "$T/empty" kind=heartbeat count=0 domains=corp.test sha="$LSHA"
HB=$SEQ
rcv run >/dev/null
t_eq "heartbeat corp.$HB: exit 0" 0 $?
nagios
t_eq "after heartbeat: status --nagios exit 0 (OK, age ${AGE}s)" 0 "$NRC"
map_unchanged "heartbeat"
_hb=$(prom 'rcptsync_receiver_heartbeat_timestamp_seconds{agent="corp"}')
t_eq "metrics: last_success = heartbeat time ($_hb)" "$_hb" \
    "$(prom 'rcptsync_receiver_last_success_timestamp_seconds{agent="corp"}')"
t_eq "metrics: accepted_sequence moves to the heartbeat's" "$HB" \
    "$(prom 'rcptsync_receiver_accepted_sequence{agent="corp"}')"
t_eq "metrics: install_sequence stays the install's" "$INST" \
    "$(prom 'rcptsync_receiver_install_sequence{agent="corp"}')"

# --- a refused bundle: WARNING, its counter, kept across runs ------------
put "$T/l1"
b_list 10 corp.test x >"$T/tamper"; cat "$T/l1" >>"$T/tamper"; b_sort "$T/tamper"
b_make "$SPOOL" corp "$SEQ" "$T/tamper" >/dev/null
BAD=$SEQ
rcv run >/dev/null
t_eq "bad signature corp.$BAD: exit 1" 1 $?
nagios
t_eq "latest bundle refused: status --nagios exit 1 (WARNING)" 1 "$NRC"
t_grep "refused: WARNING line names sequence and reason" \
    "^RCPTSYNC WARNING - corp: last bundle $BAD refused: signature does not verify" "$T/nagios"
prom_ok "refused run" refused
t_eq "refused run: last_run_exit_code 1" 1 "$(prom rcptsync_receiver_last_run_exit_code)"
t_eq "refused: rejections_total{corp,signature} 1" 1 \
    "$(prom 'rcptsync_receiver_rejections_total{agent="corp",reason="signature"}')"
t_eq "refused: every reason of corp exported (fixed set of 11)" 11 \
    "$(grep -c '^rcptsync_receiver_rejections_total{agent="corp",reason="[a-z]*"} [0-9]*$' "$PROM")"
map_unchanged "refused bundle"

b_list 100 corp.test >"$T/small"
put "$T/small"
rcv run >/dev/null
t_eq "shrink corp.$SEQ: exit 1" 1 $?
t_eq "shrink: rejections_total{corp,shrink} 1" 1 \
    "$(prom 'rcptsync_receiver_rejections_total{agent="corp",reason="shrink"}')"

# A name without state, signed by an unknown key: counted, but not by name.
b_key "$T/rogue"
_f=$(b_make "$SPOOL" stranger 5 "$T/l1") && b_sign "$T/rogue" "$_f" &&
    chown rcptsync "$_f" "$_f.sig"
rcv run >/dev/null
t_eq "unknown agent stranger.5: exit 1" 1 $?
t_eq "unknown agent: counted as agent=\"\" reason=signer" 1 \
    "$(prom 'rcptsync_receiver_rejections_total{agent="",reason="signer"}')"
t_eq "unknown agent: no series with its name" 0 "$(grep -c stranger "$PROM")"

for i in 1 2; do rcv run >/dev/null; done
t_eq "two more runs: counters kept (signature, shrink, unattributed signer)" "1 1 1" \
    "$(prom 'rcptsync_receiver_rejections_total{agent="corp",reason="signature"}') $(prom 'rcptsync_receiver_rejections_total{agent="corp",reason="shrink"}') $(prom 'rcptsync_receiver_rejections_total{agent="",reason="signer"}')"
t_grep "counters persisted in corp.state" "^rejections_signature 1$" "$STATE/corp.state"
t_grep "unattributed counters persisted" "^rejections_signer 1$" "$STATE/unattributed.counts"
map_unchanged "refusals and later runs"

# A damaged counts file is never reset: logged, left alone, not counted.
printf 'rejections_signer one\n' >"$STATE/unattributed.counts"
cp "$STATE/unattributed.counts" "$T/damaged"
_f=$(b_make "$SPOOL" stranger 6 "$T/l1") && b_sign "$T/rogue" "$_f" &&
    chown rcptsync "$_f" "$_f.sig"
rcv run >/dev/null
t_eq "damaged counts file: the refusal still happens (exit 1)" 1 $?
t_grep "damaged counts file: logged" "damaged counts file; fix or remove it" "$T/log"
t_same_file "damaged counts file: left as it was" "$T/damaged" "$STATE/unattributed.counts"
t_eq "damaged counts file: state_errors 1" 1 "$(prom rcptsync_receiver_state_errors)"
prom_ok "damaged counts file" damaged
printf 'rejections_signer 1\n' >"$STATE/unattributed.counts"
chown rcptsync "$STATE/unattributed.counts"

# --- human status: every field ---------------------------------------------
put "$T/empty" kind=heartbeat count=0 domains=corp.test sha="$LSHA"
HB=$SEQ
rcv run >/dev/null
t_eq "heartbeat corp.$HB after the refusals: exit 0" 0 $?
nagios
t_eq "heartbeat newer than the refusals: OK again" 0 "$NRC"
human "status"
t_grep "status: map entries" "^map       $H_MAP \(hash\): 2000 entries$" "$T/status"
t_grep "status: thresholds" "^stale     warning after 2s \(2s\), critical after 6s \(6s\)$" "$T/status"
t_grep "status: agent verdict" "^agent corp: OK - 2000 entries, last contact [0-9]+s ago$" "$T/status"
t_grep "status: last install (sequence $INST, time, entries, sha, duration)" \
    "^  accepted  sequence $INST at [0-9-]+T[0-9:]+Z, 2000 entries, list-sha256 $LSHA, install took [0-9]+\.[0-9]{3}s$" "$T/status"
t_grep "status: last heartbeat" "^  heartbeat [0-9-]+T[0-9:]+Z, [0-9]+s ago$" "$T/status"
t_grep "status: current sequence $HB" "^  sequence  $HB " "$T/status"
t_grep "status: contact age, verdict and thresholds" \
    "^  contact   [0-9-]+T[0-9:]+Z, [0-9]+s ago: ok \(warning after 2s, critical after 6s\)$" "$T/status"
t_grep "status: last rejection (sequence, time, reason)" \
    "^  refused   sequence $((BAD + 1)) at [0-9-]+T[0-9:]+Z: shrink: 100 entries, installed 2000" "$T/status"
t_grep "status: refusals by reason" "^  refusals  2 \(signature 1, shrink 1\)$" "$T/status"
t_grep "status: unattributed refusals" "^unattributed refusals .*: 1 \(signer 1\)$" "$T/status"

# --- defaults: 3h / 24h -------------------------------------------------------
RCONF=$T/defaults.conf human "defaults"
t_grep "defaults: status shows 3h and 24h" \
    "^stale     warning after 3h \(10800s\), critical after 24h \(86400s\)$" "$T/status"
t_grep "defaults: contact line shows 3h and 24h" "ok \(warning after 3h, critical after 24h\)$" "$T/status"
RCONF=$T/defaults.conf rcv status --nagios >"$T/nagios"
t_grep "defaults: perfdata thresholds 10800/86400" "age=[0-9]+s;10800;86400;0$" "$T/nagios"

# --- configuration: thresholds must make sense ---------------------------
sed 's/^stale_critical = .*/stale_critical = 1s/' "$CONF" >"$T/bad.conf"
RCONF=$T/bad.conf rcv status --nagios >"$T/nagios"
t_eq "stale_critical below stale_warning: status --nagios exit 3" 3 $?
t_grep "stale_critical below stale_warning: logged" "stale_critical at least stale_warning" "$T/log"

map_unchanged "end of test"
t_done
