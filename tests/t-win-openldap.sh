#!/bin/sh
# t-win-openldap.sh - rcptsync-agent.exe under Wine with its OpenLDAP
# client ([ldap] client = openldap, or unset with bind = simple and TLS),
# the path the Windows build takes where Wine's wldap32 cannot:
#
#   slapd     the harness slapd with AD's MaxPageSize (size.hard=1000):
#             2500 objects come through pages of 1000, and the list is
#             the fixture's ground truth and the Linux agent's export
#   strong    Samba as a hardened DC (h_samba_strong: ldap server require
#             strong auth = yes, what Windows Server 2025 enforces): a
#             plain simple bind is refused by the server itself
#   ldaps     by host name (dc1.corp.test, mapped in /etc/hosts in this
#             test's own mount namespace), with ca_file: the export is the
#             Linux build's, byte for byte, and the ground truth; client
#             unset picks openldap
#   starttls  the same on port 389
#   wrong CA  ca_file of another CA, a name the certificate does not
#             carry, and no ca_file (the Windows Root store, which does
#             not hold the test CA): refused before any search, with the
#             handshake's reason; the earlier list is untouched
#   root      the test CA added to the machine's Root store (registry):
#             without ca_file the export works
#   plain     a simple bind on 389 with client = openldap: refused with
#             the server's words (Strong(er) authentication required)
#   choosing  client = openldap with bind = negotiate, and client =
#             wldap32 with a ca_file: config errors that name the other
#             client; nothing is written
#   service   installed, net start, one sync over ldaps through openldap
#             to the harness relay (sshd, receiver, Postfix answers 250),
#             net stop, uninstall
#
# Range retrieval and change detection with this client are in
# t-ad-range.sh: the .exe's export through the AD stand-in proxy at
# MaxValRange 3, and a sync, a change to a ranged object and a delta sync.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"
# Our own mount namespace (for /etc/hosts), then h_netns_enter's network
# namespace (Samba holds port 389) inside it.
h_mntns_enter "$@"
h_netns_enter "$@"

cd "$RS_TOP" || exit 1
exe=$RS_TOP/build/win/rcptsync-agent.exe
lagent=${RS_AGENT:-$RS_TOP/rcptsync-agent}
t_need "$exe" "$lagent" openssl cmp
T=$(t_tmp)

h_wine_init || exit 1

# wexport NAME CONF: `export -o $T/NAME.txt` of the .exe (h_agent_export:
# stderr in $T/NAME.txt.err), exit status in $rc.
wexport() {
	h_agent_export "$T/$1.txt" "$2" wine
	rc=$H_RC
}
# refused NAME: the export failed and left its output as it was.
refused() {
	if [ "$rc" -ne 0 ]; then
		t_ok "$1: refused (exit $rc)"
	else
		t_fail "$1" "exit 0"
	fi
	h_agent_unwritten "$1-nothing-written" "$T/$1.txt"
}
# conf BASE NAME KEY=VALUE...: BASE with [ldap] keys set (server, tls,
# ca_file, client, bind, page_size) into $T/NAME.conf.
conf() {
	_b=$1 _n=$2; shift 2
	h_agent_conf_ldap "$_b" "$T/$_n.conf" "$@"
}
# agentconf FILE [wine]: h_agent_conf, with a relay key pinned (export
# pushes nothing, but the config must be whole).
agentconf() {
	h_agent_conf "$@" || return 1
	h_agent_pin_none "$1"
}
# setpw CONF: the DPAPI-protected password into CONF (set-password).
setpw() { h_wine_set_password "$exe" "$1"; }

# --- slapd: paging with AD's cap of 1000 ------------------------------------
h_fixture 2500 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
H_AGENT_STATE=$T/sstate agentconf "$T/slapd-l.conf" || exit 1
H_AGENT_STATE=$T/sstate agentconf "$T/slapd-w0.conf" wine || exit 1
t_check slapd-set-password setpw "$T/slapd-w0.conf"
conf "$T/slapd-w0.conf" slapd client=openldap page_size=1000
wexport slapd "$T/slapd.conf"
t_eq slapd-export-exit 0 "$rc"
t_same_file slapd-export-ground-truth "$T/fx/expected.txt" "$T/slapd.txt"
"$lagent" -c "$T/slapd-l.conf" export -o "$T/slapd-linux.txt" 2>"$T/slapd-linux.err"
t_same_file slapd-export-equals-linux "$T/slapd-linux.txt" "$T/slapd.txt"
# Proof that 1000 is a cap: one search of everything is refused.
ldapsearch -x -H "$LDAP_URI" -D "$LDAP_BINDDN" -y "$LDAP_PWFILE" \
    -b "$LDAP_BASE" '(proxyAddresses=*)' dn >/dev/null 2>"$T/nopage.err"
t_eq slapd-unpaged-search-size-limit 4 $?
h_slapd_stop

# --- Samba as a hardened DC -------------------------------------------------
h_samba_strong 300 wrong.corp.test || exit 1
h_samba_use
t_grep samba-strong-auth 'ldap server require strong auth = yes' "$H_SAMBA_CONF"
t_eq hosts-dc1 127.0.0.1 "$(getent hosts dc1.corp.test | awk '{print $1}')"
ldapsearch -x -H ldap://127.0.0.1:389 -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" \
    -b '' -s base >/dev/null 2>"$T/strong.err"
t_eq samba-plain-simple-bind-refused 8 $?

ca=$(h_winpath "$H_SAMBA_CAFILE")
H_AGENT_STATE=$T/lstate agentconf "$T/linux0.conf" || exit 1
conf "$T/linux0.conf" linux server=ldaps://dc1.corp.test:636 tls=ldaps \
    ca_file="$H_SAMBA_CAFILE"
"$lagent" -c "$T/linux.conf" export -o "$T/linux.txt" 2>"$T/linux.err"
t_eq linux-ldaps-export-exit 0 $?
t_same_file linux-ldaps-ground-truth "$H_SAMBA_EXPECTED" "$T/linux.txt"

H_AGENT_STATE=$T/wstate agentconf "$T/w0.conf" wine || exit 1
t_check samba-set-password setpw "$T/w0.conf"

# --- ldaps and StartTLS by host name ----------------------------------------
conf "$T/w0.conf" ldaps server=ldaps://dc1.corp.test:636 tls=ldaps ca_file="$ca"
wexport ldaps "$T/ldaps.conf"
t_eq ldaps-export-exit 0 "$rc"
t_same_file ldaps-export-equals-linux "$T/linux.txt" "$T/ldaps.txt"
t_same_file ldaps-export-ground-truth "$H_SAMBA_EXPECTED" "$T/ldaps.txt"

conf "$T/w0.conf" starttls server=ldap://dc1.corp.test:389 tls=starttls \
    ca_file="$ca" client=openldap
wexport starttls "$T/starttls.conf"
t_eq starttls-export-exit 0 "$rc"
t_same_file starttls-export-equals-linux "$T/linux.txt" "$T/starttls.txt"

# --- a certificate from another CA ------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other.key" -out "$T/other.crt" -days 2 -subj "/CN=another CA" \
    2>/dev/null || { t_fail other-ca "openssl failed"; exit 1; }
conf "$T/w0.conf" wrongca server=ldaps://dc1.corp.test:636 tls=ldaps \
    ca_file="$(h_winpath "$T/other.crt")"
wexport wrongca "$T/wrongca.conf"
refused wrongca
t_grep wrongca-message 'bind over ldaps: .*TLS handshake failed \(.*certificate verify failed.*ca_file .*other\.crt' \
    "$T/wrongca.txt.err"

# The right CA, but a name the certificate does not carry.
conf "$T/w0.conf" wrongname server=ldaps://wrong.corp.test:636 tls=ldaps \
    ca_file="$ca"
wexport wrongname "$T/wrongname.conf"
refused wrongname
t_grep wrongname-message 'bind over ldaps: .*TLS handshake failed .*carry the name in ldaps://wrong\.corp\.test:636' \
    "$T/wrongname.txt.err"

# No ca_file: the Windows Root store, which Wine fills from the system's
# roots; the test CA is not among them.
conf "$T/w0.conf" rootstore server=ldap://dc1.corp.test:389 tls=starttls \
    client=openldap
wexport rootstore "$T/rootstore.conf"
refused rootstore
t_grep rootstore-message 'StartTLS: .*(TLS handshake failed \(.*certificate verify failed.*a CA the system trusts \(no ca_file set\)|Windows Root certificate store)' \
    "$T/rootstore.txt.err"

# The test CA in the machine's Root store (HKLM, as Group Policy puts an
# enterprise CA there; a serialized certificate: property 32, the DER),
# then without ca_file the same StartTLS export works.  Taken out again
# at the end: the Wine prefix is the run's.
thumb=$(openssl x509 -in "$H_SAMBA_CAFILE" -noout -fingerprint -sha1 |
    sed 's/.*=//; s/://g')
rootkey="HKEY_LOCAL_MACHINE\\Software\\Microsoft\\SystemCertificates\\Root\\Certificates\\$thumb"
openssl x509 -in "$H_SAMBA_CAFILE" -outform DER -out "$T/ca.der" &&
"$H_PY" - "$T/ca.der" "$rootkey" >"$T/root.reg" <<'EOF2'
import struct, sys
der = open(sys.argv[1], "rb").read()
blob = struct.pack("<III", 32, 1, len(der)) + der
print("REGEDIT4\n\n[%s]\n\"Blob\"=hex:%s\n" % (sys.argv[2],
    ",".join("%02x" % b for b in blob)))
EOF2
t_check root-store-add h_wine regedit /S "$(h_winpath "$T/root.reg")"
t_cleanup "h_wine reg delete '$rootkey' /f >/dev/null 2>&1"
wexport rootok "$T/rootstore.conf"
t_eq root-store-export-exit 0 "$rc"
t_same_file root-store-export-equals-linux "$T/linux.txt" "$T/rootok.txt"

# --- a simple bind on plain 389 ---------------------------------------------
conf "$T/w0.conf" plain server=ldap://dc1.corp.test:389 tls=none client=openldap
wexport plain "$T/plain.conf"
refused plain
t_grep plain-server-reason 'bind: Strong\(er\) authentication required' "$T/plain.txt.err"

# --- choosing the client ------------------------------------------------------
conf "$T/w0.conf" negotiate server=ldap://dc1.corp.test:389 bind=negotiate \
    client=openldap
wexport negotiate "$T/negotiate.conf"
refused negotiate
t_grep negotiate-names-wldap32 'client: client = openldap cannot bind = negotiate \(no SASL in this build\); use client = wldap32' \
    "$T/negotiate.txt.err"

conf "$T/w0.conf" wl-cafile server=ldaps://dc1.corp.test:636 tls=ldaps \
    ca_file="$ca" client=wldap32
wexport wl-cafile "$T/wl-cafile.conf"
refused wl-cafile
t_grep wl-cafile-names-openldap 'ca_file .*: client = wldap32 checks the Windows certificate store only; .*client = openldap' \
    "$T/wl-cafile.txt.err"

# --- the service with this client --------------------------------------------
# install, net start, one sync over ldaps to the harness relay, net stop
# (as tests/t-win-service.sh does it through wldap32).
receiver=${RS_RECEIVER:-$RS_TOP/rcptsync-receiver}
t_need "$receiver"
h_sshd_start || exit 1
h_postfix_start || exit 1
h_receiver_conf "$T/receiver.conf" || exit 1
# One services.exe: see tests/t-win-service.sh.
wineserver -k >&2 2>&1; wineserver -w >&2 2>&1; wineserver -p >&2 2>&1
H_AGENT_STATE=$T/svcstate agentconf "$T/svc0.conf" wine || exit 1
t_check service-set-password setpw "$T/svc0.conf"
h_wine_programdata || exit 1
pd=$H_PD
log="$pd/log/agent.log"
conf "$T/svc0.conf" svc server=ldaps://dc1.corp.test:636 tls=ldaps ca_file="$ca"
awk '/^\[agent\]/ { print; print "interval = 1h"; next } { print }' \
    "$T/svc.conf" >"$pd/agent.conf"
h_wine "$exe" install >"$T/install.out" 2>&1
t_eq service-install-exit 0 $?
t_cleanup "h_wine '$exe' uninstall >/dev/null 2>&1"
RECEIVER=$receiver h_receiver_watch "$T/receiver.conf" "$T/receiver.log"
h_wine net start rcptsync-agent >&2 2>&1
t_eq service-net-start 0 $?
if t_wait_log "$log" 'installed sequence' 180 1; then
	t_ok "service-first-sync over ldaps through openldap"
else
	t_fail service-first-sync "no 'installed sequence' in $log"
	tail -n 30 "$log" >&2
fi
t_grep service-connected-ldaps 'connected to ldaps://dc1\.corp\.test:636' "$log"
t_eq service-postfix-known-250 250 "$(h_rcpt "$(head -n 1 "$H_SAMBA_EXPECTED")")"
h_wine net stop rcptsync-agent >&2 2>&1
t_eq service-net-stop 0 $?
_w=0
while [ "$_w" -lt 60 ]; do
	h_wine sc query rcptsync-agent >"$T/sc.out" 2>&1
	grep -q 'STATE.*STOPPED' "$T/sc.out" && break
	sleep 0.25; _w=$((_w + 1))
done
t_grep service-stopped 'STATE.*STOPPED' "$T/sc.out"
h_wine "$exe" uninstall >&2 2>&1
t_eq service-uninstall-exit 0 $?

t_done
