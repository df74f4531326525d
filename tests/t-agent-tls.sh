#!/bin/sh
# t-agent-tls.sh - the agent's LDAP over StartTLS verifies the server's
# certificate, always: the right CA exports the list; another CA, or a
# server name the certificate does not carry, aborts before any search.
#
# The harness slapd gets a certificate offline (slapmodify on its
# cn=config, $H_DIR/slapd/slapd.d) and is restarted; StartTLS then works
# on its plain port.
. "$(dirname "$0")/lib.sh"
. "$RS_TOP/tests/harness.sh"

AGENT=${RS_AGENT:-$RS_TOP/rcptsync-agent}
t_need "$AGENT" openssl slapmodify
T=$(t_tmp)

h_fixture 200 "$T/fx" || exit 1
h_slapd_start "$T/fx/fixture.ldif" || exit 1
h_slapd_stop

# A CA, a server certificate for 127.0.0.1 (IP only), and another CA.
mkcert() {	# NAME SUBJECT [CA]
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$2" 2>/dev/null ||
	    return 1
	if [ -z "${3:-}" ]; then
		printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n' \
		    >"$T/$1.ext"
		openssl x509 -req -in "$T/$1.csr" -signkey "$T/$1.key" -days 2 \
		    -extfile "$T/$1.ext" -out "$T/$1.crt" 2>/dev/null
	else
		printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
		    >"$T/$1.ext"
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.crt" \
		    -CAkey "$T/$3.key" -CAcreateserial -days 2 \
		    -extfile "$T/$1.ext" -out "$T/$1.crt" 2>/dev/null
	fi
}
mkcert ca "rcptsync test CA" &&
    mkcert other "another CA" && mkcert server 127.0.0.1 ca ||
    { t_fail tls-certs "openssl failed"; exit 1; }
cat >"$T/tls.ldif" <<EOF2
dn: cn=config
changetype: modify
replace: olcTLSCertificateFile
olcTLSCertificateFile: $T/server.crt
-
replace: olcTLSCertificateKeyFile
olcTLSCertificateKeyFile: $T/server.key
EOF2
t_check tls-slapd-config slapmodify -n0 -F "$H_DIR/slapd/slapd.d" -l "$T/tls.ldif"
h_slapd_start || exit 1

h_agent_conf "$T/base.conf" || exit 1
h_agent_pin_none "$T/base.conf"
tlsconf() {	# NAME CA SERVER
	sed "s|^server = .*|server = $3\ntls = starttls\nca_file = $2|" \
	    "$T/base.conf" >"$T/$1.conf"
}

tlsconf good "$T/ca.crt" "$LDAP_URI"
"$AGENT" -c "$T/good.conf" export -o "$T/good.txt" 2>"$T/good.err"
t_eq starttls-exit 0 $?
t_same_file starttls-equals-expected "$T/fx/expected.txt" "$T/good.txt"

tlsconf wrongca "$T/other.crt" "$LDAP_URI"
"$AGENT" -c "$T/wrongca.conf" export -o "$T/wrongca.txt" 2>"$T/wrongca.err"
t_eq wrong-ca-exit 1 $?
t_grep wrong-ca-message 'StartTLS: .*TLS handshake failed .*other\.crt' "$T/wrongca.err"
t_check wrong-ca-no-output test ! -e "$T/wrongca.txt"

tlsconf wrongname "$T/ca.crt" "ldap://localhost:$LDAP_PORT"
"$AGENT" -c "$T/wrongname.conf" export -o "$T/wrongname.txt" \
    2>"$T/wrongname.err"
t_eq wrong-name-exit 1 $?
t_grep wrong-name-message 'StartTLS: .*TLS handshake failed .*ldap://localhost' "$T/wrongname.err"
t_check wrong-name-no-output test ! -e "$T/wrongname.txt"
t_done
