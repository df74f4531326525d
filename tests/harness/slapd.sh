# tests/harness/slapd.sh - slapd, the AD-like directory for export and
# paging tests, and its fixture.
#
# Part of the test harness: sourced by tests/harness.sh, whose common
# helpers (_h_port, _h_wait_port, _h_stop, _h_fail, h_alive, H_DIR,
# t_cleanup registration) it uses.  POSIX sh.  Call the start functions
# directly, never inside $(...), or the variables and the cleanup
# registration are lost.
#
# API:
#
#   h_fixture N DIR [hostile]
#       run tests/fixture/gen.py: DIR/fixture.ldif, DIR/expected.txt (ground
#       truth, sorted bytewise, unique, at least N lines), DIR/domains (one
#       line "branch.corp.test corp.test example.org"), DIR/summary
#       ("key: value"; smtp_objects = entries (proxyAddresses=smtp:*)
#       matches, recipients = lines of expected.txt).  "hostile" adds the
#       hostile values (none of them in expected.txt).  H_FIXTURE_SEED
#       picks another deterministic variant.
#
#   h_slapd_start [LDIF]
#       slapd with the AD-like schema (tests/fixture/ad-schema.ldif), mdb,
#       suffix dc=corp,dc=test, AD's MaxPageSize behaviour (size.soft=1000
#       size.hard=1000 size.prtotal=unlimited).  The first start loads the
#       base entries (root, CN=Users, the bind user) and LDIF offline with
#       slapadd -q.  A later start without LDIF reuses the data (restart);
#       with LDIF it reloads from scratch.  One slapd per test: starting
#       while one runs stops that one first.  Sets LDAP_URI LDAP_HOST
#       LDAP_PORT LDAP_BASE LDAP_BINDDN LDAP_PWFILE (password, no newline)
#       LDAP_PASSWORD LDAP_ROOTDN LDAP_ROOTPW H_SLAPD_PID.  The bind user
#       is an ordinary user with read access: the rootdn ignores limits.
#   h_slapd_stop        SIGTERM, wait until gone
#   h_slapd_kill        SIGKILL, wait until gone
#   h_ldap_modify LDIF  ldapmodify as the rootdn, online

LDAP_BASE="dc=corp,dc=test"
LDAP_BINDDN="cn=svc-rcptsync,cn=Users,dc=corp,dc=test"
LDAP_ROOTDN="cn=admin,dc=corp,dc=test"
LDAP_ROOTPW="rootsecret"
export LDAP_BASE LDAP_BINDDN LDAP_ROOTDN LDAP_ROOTPW

# --- fixture -------------------------------------------------------------

h_fixture() {
	[ $# -ge 2 ] || { _h_fail fixture "usage: h_fixture N DIR [hostile]"; return 1; }
	_hf=
	[ "${3:-}" = hostile ] && _hf=--hostile
	"$H_PY" "$RS_TOP/tests/fixture/gen.py" --seed "${H_FIXTURE_SEED:-1}" \
	    $_hf "$1" "$2" >&2 || { _h_fail fixture "gen.py $1 $2 failed"; return 1; }
}

# --- slapd ---------------------------------------------------------------

_h_slapd_config() {
	_d=$1
	cat >"$_d/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $_d/slapd.pid
olcArgsFile: $_d/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
	# core/cosine/ad carry their own dn lines; join with blank lines.
	awk 'FNR == 1 && NR > 1 { print "" } { print }' \
	    /etc/ldap/schema/core.ldif /etc/ldap/schema/cosine.ldif \
	    "$RS_TOP/tests/fixture/ad-schema.ldif" >>"$_d/config.ldif" || return 1
	cat >>"$_d/config.ldif" <<EOF

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: size.soft=1000 size.hard=1000 size.prtotal=unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $_d/db
olcSuffix: $LDAP_BASE
olcRootDN: $LDAP_ROOTDN
olcRootPW: $LDAP_ROOTPW
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcSizeLimit: size.soft=1000 size.hard=1000 size.prtotal=unlimited
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by users read by * none
EOF
	cat >"$_d/base.ldif" <<EOF
dn: $LDAP_BASE
objectClass: top
objectClass: domain
dc: corp

dn: cn=Users,$LDAP_BASE
objectClass: top
objectClass: container
cn: Users

dn: $LDAP_BINDDN
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: svc-rcptsync
sn: svc-rcptsync
sAMAccountName: svc-rcptsync
userAccountControl: 66048
userPassword: $LDAP_PASSWORD
EOF
}

# _h_slapd_load [LDIF]: build cn=config and the database from scratch.
_h_slapd_load() {
	_d=$H_DIR/slapd
	rm -rf "$_d" && mkdir -p "$_d/slapd.d" "$_d/db" || return 1
	_h_slapd_config "$_d" || return 1
	slapadd -n0 -F "$_d/slapd.d" -l "$_d/config.ldif" >"$_d/slapadd.log" 2>&1 ||
	    { cat "$_d/slapadd.log" >&2; return 1; }
	slapadd -q -F "$_d/slapd.d" -b "$LDAP_BASE" -l "$_d/base.ldif" \
	    >>"$_d/slapadd.log" 2>&1 || { cat "$_d/slapadd.log" >&2; return 1; }
	if [ -n "${1:-}" ]; then
		slapadd -q -F "$_d/slapd.d" -b "$LDAP_BASE" -l "$1" \
		    >>"$_d/slapadd.log" 2>&1 ||
		    { tail -n 20 "$_d/slapadd.log" >&2; return 1; }
	fi
}

h_slapd_start() {
	t_need slapd slapadd ldapsearch ldapmodify
	LDAP_PASSWORD="readerpw-$$"
	LDAP_PWFILE=$H_DIR/ldap.pw
	printf '%s' "$LDAP_PASSWORD" >"$LDAP_PWFILE" && chmod 0600 "$LDAP_PWFILE"
	# One slapd per test: a second start replaces the first.
	h_alive "${H_SLAPD_PID:-}" && h_slapd_stop
	if [ -n "${1:-}" ] || [ ! -d "$H_DIR/slapd/slapd.d" ]; then
		_h_slapd_load "${1:-}" ||
		    { _h_fail slapd-start "slapadd failed (see log)"; return 1; }
	fi
	_d=$H_DIR/slapd
	# Port clashes with other processes are possible: retry on another.
	for _try in 1 2 3; do
		LDAP_PORT=$(_h_port)
		slapd -d stats -h "ldap://127.0.0.1:$LDAP_PORT/" -F "$_d/slapd.d" \
		    >>"$_d/slapd.log" 2>&1 </dev/null &
		H_SLAPD_PID=$!
		t_cleanup "_h_stop $H_SLAPD_PID slapd TERM"
		if _h_wait_port "$LDAP_PORT" "$H_SLAPD_PID" 30; then
			LDAP_HOST=127.0.0.1
			LDAP_URI="ldap://127.0.0.1:$LDAP_PORT"
			export LDAP_URI LDAP_HOST LDAP_PORT LDAP_PWFILE LDAP_PASSWORD H_SLAPD_PID
			return 0
		fi
		_h_stop "$H_SLAPD_PID" slapd KILL
		tail -n 5 "$_d/slapd.log" >&2
	done
	_h_fail slapd-start "slapd did not come up (see $_d/slapd.log)"
}

h_slapd_stop() { _h_stop "${H_SLAPD_PID:-}" slapd TERM; }
h_slapd_kill() { _h_stop "${H_SLAPD_PID:-}" slapd KILL; }

h_ldap_modify() {
	ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ROOTDN" -w "$LDAP_ROOTPW" \
	    -f "$1" >&2
}
