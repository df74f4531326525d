# tests/harness/samba.sh - Samba AD DC, the Active Directory stand-in,
# in the test's own network namespace.
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, h_alive, H_DIR,
# t_cleanup registration) it uses.  POSIX sh.  Call the start functions
# directly, never inside $(...), or the variables and the cleanup
# registration are lost.

# --- Samba AD DC (the Active Directory stand-in for freshness tests) -------
#
# Debian's Samba AD DC keeps what change detection relies on and slapd
# cannot fake:
# highestCommittedUSN and dsServiceName in the rootDSE, uSNChanged on every
# object, objectGUID, the invocationId of the NTDS Settings object,
# tombstones.  docs/HACKING.md ("Samba AD DC as the directory") says what
# is faithful and what is not.  Samba always listens on port 389 (and 636),
# which a system slapd may hold: it runs in the test's own network
# namespace, and so does everything else the test starts.
#
#   h_netns_enter "$@"
#       call first, right after sourcing this file and before starting
#       anything: re-executes the test script (same PID, stdout, stderr)
#       under "unshare -n" and brings lo up; a no-op inside the namespace
#       (also for child scripts).  Sets H_NETNS (the namespace's
#       /proc/self/ns/net).  Without unshare/ip or the privilege for a
#       namespace the test fails ("not ok - harness-netns") and exits.
#
#   h_samba_start [N]
#       a domain controller for realm CORP.TEST, base DC=corp,DC=test
#       (LDAP_BASE's), on ldap://127.0.0.1:389 and ldaps://127.0.0.1:636,
#       only the LDAP service, simple binds allowed without TLS.  The
#       provisioned domain is made once per tests/run invocation in
#       build/tests/samba/RUNID (samba-tool domain provision, about 8 s;
#       the templates of finished runs are deleted) and copied into
#       $H_DIR/samba.  Its schema has one Exchange attribute more than
#       Samba's: msExchRequireAuthToSendTo (Boolean, AD's attributeID
#       1.2.840.113556.1.4.5062) on mailRecipient, so on users, groups and
#       contacts; tests/fixture/samba-exchange.ldif says where the values
#       come from.  It is added right after the provision, offline, with
#       two ldbmodify runs on sam.ldb (attribute, then class) under
#       "dsdb:schema update allowed=true".  Then, before Samba starts, ldbadd loads the service
#       account and the fixture of tests/fixture/samba-gen.py (N objects,
#       default 1200, hostile values included; H_FIXTURE_SEED picks
#       another variant) into sam.ldb.  The service account has bound once
#       when this returns (its first logon writes lastLogonTimestamp and
#       moves highestCommittedUSN; later binds do not).  Without N and
#       with an instance stopped by h_samba_stop: a restart on the same
#       data.  One Samba per test.  Sets
#         H_SAMBA_URI        ldap://127.0.0.1:389
#         H_SAMBA_LDAPS_URI  ldaps://127.0.0.1:636, certificate for
#                            dc1.corp.test and IP 127.0.0.1
#         H_SAMBA_CAFILE     that certificate (self-signed, the trust anchor)
#         H_SAMBA_BASE       DC=corp,DC=test
#         H_SAMBA_BINDDN     CN=svc-rcpt,CN=Users,DC=corp,DC=test, a plain
#                            Domain User (UPN svc-rcpt@corp.test)
#         H_SAMBA_PWFILE     its password, no newline, mode 0600
#         H_SAMBA_ADMIN_DN   CN=Administrator,CN=Users,DC=corp,DC=test
#         H_SAMBA_ADMIN_PWFILE
#         H_SAMBA_FIXTURE    samba-gen.py's output directory (summary ...)
#         H_SAMBA_EXPECTED   ground truth: sorted addresses, as h_fixture's
#         H_SAMBA_DIR H_SAMBA_CONF (for samba-tool -s, with
#                            -H $H_SAMBA_DIR/private/sam.ldb) H_SAMBA_LOG
#         H_SAMBA_PID
#       With H_SAMBA_ACCEPTED_DOMAINS=yes set before the start, the schema
#       also has Exchange's msExchAcceptedDomain class and its attributes
#       msExchAcceptedDomainName and msExchAcceptedDomainFlags
#       (_h_samba_schema_accepted, added offline like the fixture), and
#       the Exchange containers down to
#         H_SAMBA_ACCDOM_DN  CN=Accepted Domains,CN=Transport Settings,
#                            CN=Corp,CN=Microsoft Exchange,CN=Services,
#                            CN=Configuration,DC=corp,DC=test
#       exist, empty: the test adds the domains it wants.
#   h_samba_stop        SIGTERM, wait until gone
#   h_samba_modify [FILE]
#                       ldapmodify as Administrator, LDIF from FILE or stdin
#   h_samba_add_user LOGIN VALUE...
#                       a mail-enabled user CN=LOGIN,OU=Engineering,OU=Corp:
#                       the first address VALUE becomes SMTP:, the others
#                       smtp:; a VALUE with a ':' (X500:...) is kept as is
#   h_samba_search ARG...
#                       ldapsearch as the service account below
#                       H_SAMBA_BASE, paged (1000), unwrapped LDIF; ARG...
#                       are more options, the filter and attributes
#   h_samba_usn         print highestCommittedUSN (anonymous rootDSE read:
#                       no account logs on, nothing is written)
#   h_samba_use         point LDAP_URI LDAP_HOST LDAP_PORT LDAP_BASE
#                       LDAP_BINDDN LDAP_PWFILE LDAP_PASSWORD LDAP_ROOTDN
#                       LDAP_ROOTPW at Samba, so that h_agent_conf and
#                       h_ldap_modify work against it
#
# --- Samba as a hardened DC (what Windows Server 2025 enforces) ------------
#
#   h_mntns_enter "$@"
#       call first, before h_netns_enter: re-executes the test script
#       (same PID, stdout, stderr) under "unshare -m" with the propagation
#       tools/mountns.sh picks (private where it can), so that
#       h_samba_strong's /etc/hosts is this test's alone.  A no-op inside
#       (also for child scripts).  Sets H_MNTNS.  No namespace possible:
#       "not ok - harness-mntns", exit.
#
#   h_samba_strong [N [NAME...]]
#       h_samba_start N (default 1200) as a DC that enforces LDAP signing:
#       "ldap server require strong auth = yes" (every simple bind
#       without TLS is refused with LDAP 8, Strong(er) authentication
#       required), a KDC on 127.0.0.1:88 (server services = ldap kdc)
#       with the DC's ldap/ SPNs (and ldap/127.0.0.1, an address
#       registered as an SPN), and the certificate AD CS gives a DC:
#       names only, DNS:dc1.corp.test and DNS:corp.test, no IP address,
#       so ldaps and StartTLS work by name and are refused by IP.  dc1.corp.test and each NAME resolve
#       to 127.0.0.1 through a private /etc/hosts (bind mount; needs
#       h_mntns_enter).  Sets what h_samba_start sets, with
#         H_SAMBA_URI        ldaps://dc1.corp.test:636 (the harness's own
#                            binds need TLS now; its helpers give
#                            ldapsearch the CA through LDAPTLS_CACERT, the
#                            environment of the tests stays without it)
#         H_SAMBA_LDAPS_URI  the same
#         H_SAMBA_PLAIN_URI  ldap://dc1.corp.test:389
#       h_samba_stop and h_samba_start without N restart it hardened;
#       h_samba_start N starts a lenient one again.
#
#   h_samba_kinit
#       a ticket for svc-rcpt@CORP.TEST from that KDC: writes
#       $H_DIR/krb5.conf (realm CORP.TEST, kdc 127.0.0.1, no DNS, no
#       reverse DNS), exports KRB5_CONFIG and KRB5CCNAME
#       (FILE:$H_DIR/krb5cc), kinit with H_SAMBA_PWFILE.

H_SAMBA_BASE="DC=corp,DC=test"
H_SAMBA_BINDDN="CN=svc-rcpt,CN=Users,$H_SAMBA_BASE"
H_SAMBA_ADMIN_DN="CN=Administrator,CN=Users,$H_SAMBA_BASE"
H_SAMBA_URI="ldap://127.0.0.1:389"
H_SAMBA_ACCDOM_DN="CN=Accepted Domains,CN=Transport Settings,CN=Corp,CN=Microsoft Exchange,CN=Services,CN=Configuration,$H_SAMBA_BASE"
H_SAMBA_LDAPS_URI="ldaps://127.0.0.1:636"
export H_SAMBA_BASE H_SAMBA_BINDDN H_SAMBA_ADMIN_DN H_SAMBA_URI H_SAMBA_LDAPS_URI

h_netns_enter() {
	t_need unshare ip
	_ns=$(readlink /proc/self/ns/net) ||
	    { _h_fail netns "cannot read /proc/self/ns/net"; exit 1; }
	# Inside already: this script after the re-exec, or a child of it.
	[ "${H_NETNS:-}" = "$_ns" ] && return 0
	if [ -n "${H_NETNS_OUTER:-}" ]; then
		[ "$H_NETNS_OUTER" != "$_ns" ] ||
		    { _h_fail netns "unshare -n kept the old network namespace"; exit 1; }
		ip link set lo up ||
		    { _h_fail netns "ip link set lo up failed"; exit 1; }
		H_NETNS=$_ns
		unset H_NETNS_OUTER
		export H_NETNS
		return 0
	fi
	# Try first: after exec there is nobody left to report the failure.
	_e=$(unshare -n true 2>&1) ||
	    { _h_fail netns "unshare -n: ${_e:-failed} (needs root)"; exit 1; }
	H_NETNS_OUTER=$_ns
	export H_NETNS_OUTER
	# Nothing to clean up yet (the caller started nothing), and exec
	# skips the EXIT trap: the new script registers its own.
	exec unshare -n -- /bin/sh "$0" "$@"
}

# _h_samba_template: a provisioned domain in H_SAMBA_TEMPLATE, made once
# per tests/run invocation (like the Wine prefix): provisioning costs about
# 8 s, a copy a fraction of a second.  Holds p/ (the provisioned tree, TLS
# key and certificate in p/private/tls) and admin.pw.
_h_samba_template() {
	_sroot=$RS_TOP/build/tests/samba
	H_SAMBA_TEMPLATE=$_sroot/$(_h_run_id)
	for _old in "$_sroot"/*/.rs-owner; do
		[ -f "$_old" ] || continue
		_old=${_old%/.rs-owner}
		[ "$_old" != "$H_SAMBA_TEMPLATE" ] || continue
		_h_run_alive "$(cat "$_old/.rs-owner")" || rm -rf "$_old"
	done
	[ -f "$H_SAMBA_TEMPLATE/.rs-ready" ] && return 0
	# Built under a temporary name, renamed when complete: an interrupted
	# provision never passes for a template.
	_tt=$H_SAMBA_TEMPLATE.tmp.$$
	rm -rf "$_tt" && mkdir -p "$_tt" && chmod 0700 "$_tt" || return 1
	_apw="Adm-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-9"
	printf '%s' "$_apw" >"$_tt/admin.pw" && chmod 0600 "$_tt/admin.pw" || return 1
	samba-tool domain provision --targetdir="$_tt/p" --realm=CORP.TEST \
	    --domain=CORP --server-role=dc --dns-backend=NONE \
	    --host-name=dc1 --adminpass="$_apw" \
	    --option="interfaces=lo" --option="bind interfaces only=yes" \
	    >"$_tt/provision.log" 2>&1 ||
	    { tail -n 20 "$_tt/provision.log" >&2; rm -rf "$_tt"; return 1; }
	_h_samba_exchange "$_tt" ||
	    { tail -n 5 "$_tt/schema.log" >&2; rm -rf "$_tt"; return 1; }
	# Our own key and certificate, so that Samba need not make its own at
	# every start (a second each), and with 127.0.0.1 in it for ldaps.
	_tls=$_tt/p/private/tls
	mkdir -p "$_tls" && rm -f "$_tls"/*.pem &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$_tls/key.pem" -out "$_tls/cert.pem" -days 60 \
	    -subj "/CN=dc1.corp.test" \
	    -addext "subjectAltName=DNS:dc1.corp.test,DNS:localhost,IP:127.0.0.1" \
	    >"$_tt/openssl.log" 2>&1 && chmod 0600 "$_tls/key.pem" ||
	    { cat "$_tt/openssl.log" >&2; rm -rf "$_tt"; return 1; }
	# The owner is tests/run, our parent: when it is gone, so is this.
	echo "$PPID.$(awk '{print $22}' "/proc/$PPID/stat")" >"$_tt/.rs-owner"
	: >"$_tt/.rs-ready"
	rm -rf "$H_SAMBA_TEMPLATE"
	mv "$_tt" "$H_SAMBA_TEMPLATE"
}

# _h_samba_exchange DIR: extend the schema of the domain provisioned in
# DIR/p with tests/fixture/samba-exchange.ldif (msExchRequireAuthToSendTo
# on mailRecipient, so on users, groups and contacts), offline, before
# Samba first starts, through _h_samba_schema (log: DIR/p/schema.log).
# Samba refuses schema writes unless "dsdb:schema update allowed" is set,
# and a class may only name an attribute the loaded schema has: first the
# attributeSchema adds, then, in a second ldbmodify (a new transaction,
# the schema reloaded), the class changes.
_h_samba_exchange() {
	_sdn="CN=Schema,CN=Configuration,$H_SAMBA_BASE"
	for _pass in add modify; do
		sed "s/\${SCHEMADN}/$_sdn/" "$RS_TOP/tests/fixture/samba-exchange.ldif" |
		    awk -v want="changetype: $_pass" 'BEGIN { RS = ""; ORS = "\n\n" }
			index($0, "\n" want "\n") { print }' >"$1/exchange-$_pass.ldif" &&
		[ -s "$1/exchange-$_pass.ldif" ] || return 1
	done
	_h_samba_schema "$1/p" "$1/exchange-add.ldif" "$1/exchange-modify.ldif"
}

# _h_samba_conf DIR: the smb.conf this instance runs with.  Only the LDAP
# service: no KDC, no DNS, no replication, no SMB; nothing of Samba's runs
# in the background that would write to the directory.
_h_samba_conf() {
	cat >"$1/min.conf" <<EOF
# written by tests/harness.sh: Samba AD DC, LDAP only
[global]
	netbios name = DC1
	realm = CORP.TEST
	workgroup = CORP
	server role = active directory domain controller
	server services = ldap
	ldap server require strong auth = no
	interfaces = 127.0.0.1
	bind interfaces only = yes
	private dir = $1/private
	state directory = $1/state
	cache directory = $1/cache
	lock directory = $1
	pid directory = $1
	ncalrpc dir = $1/ncalrpc
	binddns dir = $1/bind-dns
	tls enabled = yes
	tls keyfile = $1/private/tls/key.pem
	tls certfile = $1/private/tls/cert.pem
	tls cafile = $1/private/tls/cert.pem
	log level = 1
EOF
}

# _h_samba_load N: a fresh copy of the template, the service account and
# the fixture loaded offline.  ldbadd into sam.ldb runs the same dsdb
# modules as an LDAP add (objectGUID, USNs, SIDs, password hashing, schema
# checks) in a quarter of the time of ldapadd.
_h_samba_load() {
	_d=$H_DIR/samba
	_t0=$(date +%s)
	_h_samba_template || { _h_fail samba-start "samba-tool domain provision failed"; return 1; }
	_t1=$(date +%s)
	rm -rf "$_d" && cp -a "$H_SAMBA_TEMPLATE/p" "$_d" && chmod 0700 "$_d" &&
	    mkdir -p "$_d/cache" "$_d/ncalrpc" || return 1
	_h_samba_conf "$_d"
	install -m 0600 "$H_SAMBA_TEMPLATE/admin.pw" "$H_DIR/samba-admin.pw" || return 1
	rm -rf "$H_DIR/samba-fixture"
	"$H_PY" "$RS_TOP/tests/fixture/samba-gen.py" --seed "${H_FIXTURE_SEED:-1}" \
	    --hostile "$1" "$H_DIR/samba-fixture" >&2 ||
	    { _h_fail samba-start "samba-gen.py $1 failed"; return 1; }
	# A password Samba's default policy takes (length, three classes).
	_spw="Svc-rcpt-$$-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	printf '%s' "$_spw" >"$H_DIR/samba-svc.pw" && chmod 0600 "$H_DIR/samba-svc.pw"
	# unicodePwd: the password in double quotes, UTF-16LE, base64.
	cat >"$H_DIR/samba-svc.ldif" <<EOF
dn: $H_SAMBA_BINDDN
objectClass: user
sAMAccountName: svc-rcpt
userPrincipalName: svc-rcpt@corp.test
displayName: rcptsync service account
userAccountControl: 66048
unicodePwd:: $(printf '"%s"' "$_spw" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)

EOF
	if [ "${H_SAMBA_ACCEPTED_DOMAINS:-}" = yes ]; then
		_h_samba_schema_accepted "$_d" || return 1
	fi
	ldbadd -H "$_d/private/sam.ldb" "$H_DIR/samba-svc.ldif" \
	    "$H_DIR/samba-fixture/fixture.ldif" >"$_d/ldbadd.log" 2>&1 ||
	    { tail -n 5 "$_d/ldbadd.log" >&2;
	      _h_fail samba-start "ldbadd of the fixture failed"; return 1; }
	echo "harness: samba template $((_t1 - _t0))s, copy and load $(( $(date +%s) - _t1 ))s" >&2
}

# _h_samba_schema DIR LDIF...: schema additions, offline, into DIR's
# sam.ldb (Samba takes schema writes only with "dsdb:schema update
# allowed"), one ldbmodify per LDIF, in order.  A class must come in a
# later LDIF than the attributes it names: within one ldbmodify, a
# schemaUpdateNow did not make Samba 4.17 see the new attributes.
_h_samba_schema() {
	_sd=$1; shift
	for _sf in "$@"; do
		ldbmodify -H "$_sd/private/sam.ldb" \
		    --option="dsdb:schema update allowed=true" "$_sf" \
		    >>"$_sd/schema.log" 2>&1 ||
		    { tail -n 5 "$_sd/schema.log" >&2;
		      _h_fail samba-start "schema update $_sf failed"; return 1; }
	done
}

# _h_samba_schema_accepted DIR: Exchange's accepted domains
# (docs/ADMIN.md, "Accepted domains"), with AD's names, syntaxes and
# schemaIDGUIDs.  The attributeIDs and the governsID are in the arc
# RFC 5612 reserves for documentation (1.3.6.1.4.1.32473): Exchange's own
# OIDs were in no source we could read (they are in its Setup\Data\*.ldf),
# and the agent never sees an OID, only the names.  Then the containers of
# an organization "Corp", as plain containers: Exchange's own container
# classes add nothing a subtree search sees.  A plain domain user reads
# accepted domains in a forest with Exchange; Samba gives a new class no
# read access for Authenticated Users, so its defaultSecurityDescriptor
# does.
_h_samba_schema_accepted() {
	_sc="CN=Schema,CN=Configuration,$H_SAMBA_BASE"
	cat >"$H_DIR/samba-accdom-attrs.ldif" <<EOF
dn: CN=ms-Exch-Accepted-Domain-Name,$_sc
changetype: add
objectClass: attributeSchema
cn: ms-Exch-Accepted-Domain-Name
lDAPDisplayName: msExchAcceptedDomainName
attributeID: 1.3.6.1.4.1.32473.15.1.1
schemaIDGUID: 9a895c75-f88c-4fd0-a0da-91ff20affa2c
attributeSyntax: 2.5.5.12
oMSyntax: 64
isSingleValued: TRUE
rangeLower: 1
rangeUpper: 256

dn: CN=ms-Exch-Accepted-Domain-Flags,$_sc
changetype: add
objectClass: attributeSchema
cn: ms-Exch-Accepted-Domain-Flags
lDAPDisplayName: msExchAcceptedDomainFlags
attributeID: 1.3.6.1.4.1.32473.15.1.2
schemaIDGUID: c7b9a038-99d2-48da-b22c-8a5412cf7a81
attributeSyntax: 2.5.5.9
oMSyntax: 2
isSingleValued: TRUE

EOF
	cat >"$H_DIR/samba-accdom-class.ldif" <<EOF
dn: CN=ms-Exch-Accepted-Domain,$_sc
changetype: add
objectClass: classSchema
cn: ms-Exch-Accepted-Domain
lDAPDisplayName: msExchAcceptedDomain
governsID: 1.3.6.1.4.1.32473.15.2.1
schemaIDGUID: 9d71afc6-2c40-4c23-8cd7-e55b7d3129bd
subClassOf: top
objectClassCategory: 1
rDNAttID: cn
possSuperiors: container
defaultSecurityDescriptor: D:(A;;RPLCLORC;;;AU)
mustContain: msExchAcceptedDomainName
mayContain: msExchAcceptedDomainFlags

EOF
	_h_samba_schema "$1" "$H_DIR/samba-accdom-attrs.ldif" \
	    "$H_DIR/samba-accdom-class.ldif" || return 1
	: >"$H_DIR/samba-accdom-tree.ldif"
	for _rdn in "CN=Microsoft Exchange" "CN=Corp" "CN=Transport Settings" \
	    "CN=Accepted Domains"; do
		printf 'dn: %s,%s\nobjectClass: container\n\n' "$_rdn" \
		    "${H_SAMBA_ACCDOM_DN#*"$_rdn",}" >>"$H_DIR/samba-accdom-tree.ldif"
	done
	ldbadd -H "$1/private/sam.ldb" "$H_DIR/samba-accdom-tree.ldif" \
	    >>"$1/schema.log" 2>&1 ||
	    { tail -n 5 "$1/schema.log" >&2;
	      _h_fail samba-start "the Exchange containers failed"; return 1; }
}

h_samba_start() {
	t_need samba samba-tool ldbadd ldapsearch ldapmodify openssl iconv base64 od
	[ -n "${H_NETNS:-}" ] ||
	    { _h_fail samba-start "call h_netns_enter first (Samba needs port 389)"; return 1; }
	h_alive "${H_SAMBA_PID:-}" && h_samba_stop
	if [ -n "${1:-}" ] || [ ! -f "$H_DIR/samba/min.conf" ]; then
		_h_samba_load "${1:-1200}" || return 1
	fi
	H_SAMBA_DIR=$H_DIR/samba
	H_SAMBA_CONF=$H_SAMBA_DIR/min.conf
	H_SAMBA_LOG=$H_SAMBA_DIR/samba.log
	H_SAMBA_CAFILE=$H_SAMBA_DIR/private/tls/cert.pem
	H_SAMBA_PWFILE=$H_DIR/samba-svc.pw
	H_SAMBA_ADMIN_PWFILE=$H_DIR/samba-admin.pw
	H_SAMBA_FIXTURE=$H_DIR/samba-fixture
	H_SAMBA_EXPECTED=$H_SAMBA_FIXTURE/expected.txt
	_t0=$(date +%s)
	# -F: no daemon, so $! is Samba; stdin stays /dev/null (-i would end
	# Samba at EOF); --no-process-group: a ^C reaches it too.
	samba -F -M single --no-process-group --debug-stdout -s "$H_SAMBA_CONF" \
	    </dev/null >>"$H_SAMBA_LOG" 2>&1 &
	H_SAMBA_PID=$!
	t_cleanup "_h_stop $H_SAMBA_PID samba TERM"
	# Ready when the service account binds and reads the rootDSE.
	_i=0
	while [ $_i -lt 300 ] && h_alive "$H_SAMBA_PID"; do
		if LDAPTLS_CACERT=$H_SAMBA_CAFILE ldapsearch -x -LLL \
		    -H "$H_SAMBA_URI" -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" \
		    -b '' -s base highestCommittedUSN >/dev/null 2>&1; then
			echo "harness: samba answers after $(( $(date +%s) - _t0 ))s" >&2
			export H_SAMBA_DIR H_SAMBA_CONF H_SAMBA_LOG H_SAMBA_CAFILE \
			    H_SAMBA_PWFILE H_SAMBA_ADMIN_PWFILE H_SAMBA_FIXTURE \
			    H_SAMBA_EXPECTED H_SAMBA_PID
			return 0
		fi
		sleep 0.1; _i=$((_i + 1))
	done
	tail -n 20 "$H_SAMBA_LOG" >&2
	_h_stop "$H_SAMBA_PID" samba KILL
	_h_fail samba-start "samba did not answer (see $H_SAMBA_LOG)"
}

h_samba_stop() { _h_stop "${H_SAMBA_PID:-}" samba TERM; }

h_samba_modify() {
	LDAPTLS_CACERT=$H_SAMBA_CAFILE ldapmodify -x -H "$H_SAMBA_URI" -D "$H_SAMBA_ADMIN_DN" \
	    -y "$H_SAMBA_ADMIN_PWFILE" ${1:+-f "$1"} >&2
}

h_samba_add_user() {
	_u=$1; shift
	{
		printf 'dn: CN=%s,OU=Engineering,OU=Corp,%s\n' "$_u" "$H_SAMBA_BASE"
		printf 'changetype: add\nobjectClass: user\nsAMAccountName: %s\n' "$_u"
		_p=SMTP:
		for _a in "$@"; do
			case $_a in
			*:*)	printf 'proxyAddresses: %s\n' "$_a" ;;
			*)	printf 'proxyAddresses: %s%s\n' "$_p" "$_a"; _p=smtp: ;;
			esac
		done
	} | h_samba_modify
}

h_samba_search() {
	LDAPTLS_CACERT=$H_SAMBA_CAFILE ldapsearch -x -LLL -o ldif-wrap=no -E pr=1000/noprompt -H "$H_SAMBA_URI" \
	    -D "$H_SAMBA_BINDDN" -y "$H_SAMBA_PWFILE" -b "$H_SAMBA_BASE" "$@"
}

h_samba_usn() {
	LDAPTLS_CACERT=$H_SAMBA_CAFILE ldapsearch -x -LLL -H "$H_SAMBA_URI" -b '' -s base highestCommittedUSN |
	    sed -n 's/^highestCommittedUSN: //p'
}

h_samba_use() {
	LDAP_URI=$H_SAMBA_URI
	LDAP_HOST=127.0.0.1
	LDAP_PORT=389
	LDAP_BASE=$H_SAMBA_BASE
	LDAP_BINDDN=$H_SAMBA_BINDDN
	LDAP_PWFILE=$H_SAMBA_PWFILE
	LDAP_PASSWORD=$(cat "$H_SAMBA_PWFILE")
	LDAP_ROOTDN=$H_SAMBA_ADMIN_DN
	LDAP_ROOTPW=$(cat "$H_SAMBA_ADMIN_PWFILE")
	export LDAP_URI LDAP_HOST LDAP_PORT LDAP_BASE LDAP_BINDDN LDAP_PWFILE \
	    LDAP_PASSWORD LDAP_ROOTDN LDAP_ROOTPW
}

h_mntns_enter() {
	t_need unshare mount
	[ -n "${H_MNTNS:-}" ] && return 0
	. "$RS_TOP/tools/mountns.sh"
	_prop=$(mountns_prop) ||
	    { _h_fail mntns "no private mount namespace can be made here"; exit 1; }
	H_MNTNS=$_prop
	export H_MNTNS
	# As h_netns_enter: nothing started yet, and exec skips the EXIT trap.
	exec unshare -m --propagation "$_prop" -- /bin/sh "$0" "$@"
}

# _h_hosts_map NAME...: NAME... resolve to 127.0.0.1 in this test only.
_h_hosts_map() {
	{ cat /etc/hosts; echo "127.0.0.1 $*"; } >"$H_DIR/hosts" &&
	    mount --bind "$H_DIR/hosts" /etc/hosts ||
	    { _h_fail samba-strong "cannot bind-mount $H_DIR/hosts on /etc/hosts"; return 1; }
}

# _h_samba_dc_cert DIR: a key and certificate as AD CS's Domain Controller
# template issues them, DNS names only; self-signed, so that the
# certificate is its own trust anchor (H_SAMBA_CAFILE).
_h_samba_dc_cert() {
	rm -f "$1/key.pem" "$1/cert.pem"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1/key.pem" -out "$1/cert.pem" -days 60 \
	    -subj "/CN=dc1.corp.test" \
	    -addext "subjectAltName=DNS:dc1.corp.test,DNS:corp.test" \
	    -addext "extendedKeyUsage=serverAuth,clientAuth" \
	    >"$H_DIR/dc-cert.log" 2>&1 && chmod 0600 "$1/key.pem" ||
	    { cat "$H_DIR/dc-cert.log" >&2;
	      _h_fail samba-strong "openssl could not make the DC certificate"; return 1; }
}

# _h_samba_dc_spns: the DC account's ldap/ and GC/ service principal
# names, as a Windows DC registers them and Samba's samba_spnupdate (of the
# dnsupdate service, which does not run here) would add them; without
# them the KDC answers "Server not found in Kerberos database" for
# ldap/dc1.corp.test (AD's sPNMappings map host/ to many services, never
# ldap).  And ldap/127.0.0.1: Kerberos by IP address works on AD only for
# an address registered as an SPN (setspn; Microsoft's "Kerberos for IP
# addresses"), which lets a test show that a client asks for the address
# it was given.  Offline, into sam.ldb, like the fixture.
_h_samba_dc_spns() {
	_dc="CN=DC1,OU=Domain Controllers,$H_SAMBA_BASE"
	printf 'dn: %s\nchangetype: modify\nadd: servicePrincipalName\n%s\n' "$_dc" \
	    "$(for _s in ldap/dc1.corp.test ldap/dc1.corp.test/corp.test \
	    ldap/dc1.corp.test/CORP ldap/DC1 ldap/DC1/CORP \
	    GC/dc1.corp.test/corp.test ldap/127.0.0.1; do
		printf 'servicePrincipalName: %s\n' "$_s"; done)" \
	    >"$H_DIR/samba-spn.ldif"
	ldbmodify -H "$H_DIR/samba/private/sam.ldb" "$H_DIR/samba-spn.ldif" \
	    >"$H_DIR/samba-spn.log" 2>&1 ||
	    { cat "$H_DIR/samba-spn.log" >&2;
	      _h_fail samba-strong "ldbmodify of the DC's SPNs failed"; return 1; }
}

h_samba_strong() {
	[ -n "${H_MNTNS:-}" ] ||
	    { _h_fail samba-strong "call h_mntns_enter first (dc1.corp.test goes into /etc/hosts)"; return 1; }
	_n=${1:-1200}
	[ $# -gt 0 ] && shift
	h_alive "${H_SAMBA_PID:-}" && h_samba_stop
	_h_samba_load "$_n" || return 1
	# The lenient settings of _h_samba_conf, replaced where they stand.
	sed -i -e 's/^\(	ldap server require strong auth =\).*/\1 yes/' \
	    -e 's/^\(	server services =\).*/\1 ldap kdc/' "$H_DIR/samba/min.conf"
	grep -q '^	ldap server require strong auth = yes$' "$H_DIR/samba/min.conf" &&
	    grep -q '^	server services = ldap kdc$' "$H_DIR/samba/min.conf" ||
	    { _h_fail samba-strong "min.conf kept its lenient settings"; return 1; }
	_h_samba_dc_cert "$H_DIR/samba/private/tls" || return 1
	_h_samba_dc_spns || return 1
	_h_hosts_map dc1.corp.test "$@" || return 1
	H_SAMBA_URI=ldaps://dc1.corp.test:636
	H_SAMBA_LDAPS_URI=$H_SAMBA_URI
	H_SAMBA_PLAIN_URI=ldap://dc1.corp.test:389
	export H_SAMBA_URI H_SAMBA_LDAPS_URI H_SAMBA_PLAIN_URI
	h_samba_start
}

h_samba_kinit() {
	t_need kinit
	cat >"$H_DIR/krb5.conf" <<EOF
# written by tests/harness/samba.sh h_samba_kinit
[libdefaults]
	default_realm = CORP.TEST
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
[realms]
	CORP.TEST = {
		kdc = 127.0.0.1
	}
[domain_realm]
	corp.test = CORP.TEST
	.corp.test = CORP.TEST
EOF
	KRB5_CONFIG=$H_DIR/krb5.conf
	KRB5CCNAME=FILE:$H_DIR/krb5cc
	export KRB5_CONFIG KRB5CCNAME
	kinit svc-rcpt@CORP.TEST <"$H_SAMBA_PWFILE" >"$H_DIR/kinit.log" 2>&1 ||
	    { cat "$H_DIR/kinit.log" >&2;
	      _h_fail samba-kinit "kinit svc-rcpt@CORP.TEST failed"; return 1; }
}
