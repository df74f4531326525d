#!/bin/sh
# t-check-postfix.sh - `rcptsync-receiver check-postfix` (and `check`)
# against a correct throwaway Postfix and against four misconfigured ones,
# one per problem: relay_recipient_maps without the receiver's map (wrong
# type), relay_domains missing receiver and [signer] domains,
# smtpd_reject_unlisted_recipient = no, and a table Postfix cannot read.
#
# Each misconfigured instance is a copy of the running instance's config
# directory changed with `postconf -e`.  For each: exit 1, the FAIL line
# names the parameter, and its advice, run exactly as printed, makes the
# next check pass.  Also: the 450 rollout warning only once lists have
# been installed for a week; exit 3 when postconf cannot read main.cf;
# check-postfix never changes main.cf; `check` includes its lines.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

RCV_BIN=${RCV_BIN:-$RS_TOP/rcptsync-receiver}
t_need "$RCV_BIN" postmap postconf setpriv

T=$(t_tmp)
umask 022
h_postfix_start || exit 1
mkdir -p "$H_DIR/incoming" "$H_DIR/status"
CONF=$T/receiver.conf
h_receiver_conf "$CONF" || exit 1
printf '\n[signer corp]\ndomains = corp.test example.org\n' >>"$CONF"
mkdir -p "$H_RECV_STATE/history"
chown -R rcptsync:rcptsync "$H_DIR/incoming" "$H_DIR/status" "$H_RECV_STATE"
chmod 0644 "$H_ALLOWED_SIGNERS"

# pfc CONF ARGS...: the receiver as rcptsync; stdout to $T/out.
pfc() {
	_c=$1; shift
	setpriv --reuid rcptsync --regid rcptsync --init-groups \
	    "$RCV_BIN" -c "$_c" "$@" >"$T/out" 2>"$T/err"
	_rc=$?
	sed 's/^/  out| /' "$T/out" >&2
	sed 's/^/  err| /' "$T/err" >&2
	return $_rc
}

# instance NAME: a copy of the running instance's config dir, and a
# receiver.conf pointing at it; sets PF and PC.
instance() {
	PF=$T/$1
	rm -rf "$PF" && mkdir -p "$PF" &&
	    cp "$POSTFIX_DIR/main.cf" "$POSTFIX_DIR/master.cf" "$PF/" &&
	    sed "s|^postfix_config = .*|postfix_config = $PF|" "$CONF" >"$T/$1.conf"
	PC=$T/$1.conf
}

# broken NAME PARAM ADVICE-ERE: check-postfix exits 1 with one FAIL line
# for PARAM matching ADVICE-ERE; main.cf untouched; the advice, run as
# printed, fixes it (exit 0, no FAIL).
broken() {
	cp "$PF/main.cf" "$T/main.cf.before"
	pfc "$PC" check-postfix
	t_eq "$1: exit 1" 1 $?
	t_eq "$1: one FAIL line" 1 "$(grep -c '^FAIL' "$T/out")"
	t_grep "$1: advice" "^FAIL $2: .*; fix: $3\$" "$T/out"
	t_same_file "$1: main.cf not edited" "$T/main.cf.before" "$PF/main.cf"
	_fix=$(sed -n "s/^FAIL $2: .*; fix: //p" "$T/out")
	if [ -n "$_fix" ] && eval "$_fix" >&2; then
		pfc "$PC" check-postfix
		t_eq "$1: after the advice: exit 0" 0 $?
		t_eq "$1: after the advice: no FAIL" 0 "$(grep -c '^FAIL' "$T/out")"
	else
		t_fail "$1: the advice runs" "'$_fix'"
	fi
}

# --- the correct instance -------------------------------------------------
cp "$POSTFIX_DIR/main.cf" "$T/main.cf.before"
pfc "$CONF" check-postfix
t_eq "correct: exit 0" 0 $?
t_eq "correct: no FAIL or WARN" 0 "$(grep -Ec '^(FAIL|WARN)' "$T/out")"
for _p in relay_recipient_maps relay_domains smtpd_reject_unlisted_recipient \
    unknown_relay_recipient_reject_code table; do
	t_grep "correct: OK $_p" "^OK   $_p: " "$T/out"
done
t_same_file "correct: main.cf not edited" "$T/main.cf.before" "$POSTFIX_DIR/main.cf"
t_eq "correct: smtpd answers 250 and 550 5.1.1" "250 550 5.1.1" \
    "$(h_rcpt harness-initial@corp.test nobody@corp.test | tr '\n' ' ' | sed 's/ $//')"
pfc "$CONF" check
t_eq "check: exit 0" 0 $?
t_grep "check: includes check-postfix" "^OK   relay_recipient_maps: includes $H_MAP_TYPE:$H_MAP\$" "$T/out"

# --- 1. relay_recipient_maps: the right file, the wrong type ---------------
instance maps
postconf -c "$PF" -e "relay_recipient_maps = btree:$H_MAP, texthash:$T/other"
: >"$T/other"
pfc "$PC" check-postfix
t_grep "wrong map type: says why" "same file with another type" "$T/out"
broken "wrong map type" relay_recipient_maps \
    "postconf -c '$PF' -e 'relay_recipient_maps = $H_MAP_TYPE:$H_MAP, texthash:$T/other'"
instance nomaps
postconf -c "$PF" -e "relay_recipient_maps ="
pfc "$PC" check-postfix
t_grep "empty relay_recipient_maps: accepts every recipient" \
    "^FAIL relay_recipient_maps: empty, so Postfix accepts every recipient" "$T/out"
pfc "$PC" check
t_eq "check with a problem: exit 2" 2 $?
t_grep "check with a problem: FAIL line" "^FAIL relay_recipient_maps: " "$T/out"

# --- 2. relay_domains: a receiver domain and a [signer] domain missing -----
# (branch.corp.test is covered: parent_domain_matches_subdomains names
# relay_domains by default; other.test only in receiver.conf, example.org
# only in [signer corp].)
instance domains
sed 's/^relay_domains = .*/relay_domains = corp.test branch.corp.test other.test/' "$PC" >"$PC.x" &&
    mv "$PC.x" "$PC"
postconf -c "$PF" -e "relay_domains = corp.test"
broken "relay_domains" relay_domains \
    "postconf -c '$PF' -e 'relay_domains = corp.test, other.test example.org'"
instance parent
postconf -c "$PF" -e "relay_domains = .corp.test, corp.test, example.org"
pfc "$PC" check-postfix
t_eq "relay_domains .parent covers a subdomain: exit 0" 0 $?

# --- 3. unlisted recipients accepted at RCPT TO ---------------------------
instance unlisted
postconf -c "$PF" -e "smtpd_reject_unlisted_recipient = no"
broken "smtpd_reject_unlisted_recipient" smtpd_reject_unlisted_recipient \
    "postconf -c '$PF' -e 'smtpd_reject_unlisted_recipient = yes'"
# 450: fine while rolling out, a warning once lists flowed for a week.
postconf -c "$PF" -e "unknown_relay_recipient_reject_code = 450"
pfc "$PC" check-postfix
t_eq "450, no lists yet: exit 0" 0 $?
t_grep "450, no lists yet: rollout mode" "^OK   unknown_relay_recipient_reject_code: 450 \(rollout" "$T/out"
: >"$H_RECV_STATE/history/corp.7.rcpt.gz"
touch -d '8 days ago' "$H_RECV_STATE/history/corp.7.rcpt.gz"
pfc "$PC" check-postfix
t_eq "450 after 8 days: exit 0 (a warning)" 0 $?
t_grep "450 after 8 days: WARN with advice" \
    "^WARN unknown_relay_recipient_reject_code: is 450 .* 8 days; .*fix: postconf -c '$PF' -e 'unknown_relay_recipient_reject_code = 550'\$" "$T/out"
rm -f "$H_RECV_STATE/history/corp.7.rcpt.gz"

# --- 4. a table Postfix cannot read ---------------------------------------
instance table
PRIV=$T/priv
mkdir -p "$PRIV" && cp "$H_MAP" "$PRIV/relay_recipients" &&
    postmap -c "$PF" "$H_MAP_TYPE:$PRIV/relay_recipients"
chown -R rcptsync:rcptsync "$PRIV" && chmod 0700 "$PRIV"
sed "s|^map = .*|map = $PRIV/relay_recipients|" "$PC" >"$PC.x" && mv "$PC.x" "$PC"
postconf -c "$PF" -e "relay_recipient_maps = $H_MAP_TYPE:$PRIV/relay_recipients"
broken "map directory not searchable" table "chmod a\+x $PRIV"
chmod 0600 "$PRIV/relay_recipients.db"
broken "table not readable" table "chmod a\+r $PRIV/relay_recipients.db"
rm -f "$PRIV/relay_recipients.db"
pfc "$PC" check-postfix
t_eq "table not installed yet: exit 0" 0 $?
t_grep "table not installed yet: WARN" "^WARN table: .* not installed yet" "$T/out"

# --- postconf cannot read the configuration -------------------------------
mkdir -p "$T/empty"
sed "s|^postfix_config = .*|postfix_config = $T/empty|;s|^relay_domains = .*|relay_domains = corp.test|;s|^#*map_type = .*|map_type = hash|" "$CONF" >"$T/empty.conf"
pfc "$T/empty.conf" check-postfix
t_eq "no main.cf: exit 3" 3 $?
t_grep "no main.cf: FAIL postconf" "^FAIL postconf: " "$T/out"
pfc "$CONF" check-postfix extra
t_eq "check-postfix with an argument: exit 2" 2 $?

t_done
