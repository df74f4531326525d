# tests/bundle.sh - craft rcptsync bundles by hand for the receiver tests.
#
# Source it (POSIX sh).  The point is full control: the header and the
# entries are plain text the test writes, so a test can make any malformed
# bundle it wants, and the signature comes from OpenSSH's own
# `ssh-keygen -Y sign`, which doubles as the interop proof (FORMAT.md 4).
#
#   b_list N DOMAIN [PREFIX]
#       print N sorted addresses PREFIXnnnnnnn@DOMAIN (default prefix "u").
#   b_sort FILE
#       sort FILE bytewise and uniquely in place (the canonical order).
#   b_header AGENT SEQ ENTRIES [kind=full] [flags=...] [domains=...]
#            [relay=...] [count=N] [sha=HEX] [created=...] [source=...]
#            [version=1]
#       relay= is version 2's relay-domains field (left out when empty).
#       print the header and the empty line; count, list-sha256 and
#       domains are computed from the ENTRIES file unless given.
#   b_make DIR AGENT SEQ ENTRIES [header options]
#       write DIR/AGENT.SEQ.rcpt.gz (header + ENTRIES, gzip -n); prints
#       the path.
#   b_gzip RAW OUT       gzip -n RAW into OUT (no name, no time stamp).
#   b_sign KEY FILE [NAMESPACE]
#       ssh-keygen -Y sign: writes FILE.sig (namespace rcptsync by default).
#   b_key FILE           a fresh Ed25519 key (ssh-keygen, no passphrase).
#   b_signer_line PRINCIPAL KEY
#       print an allowed_signers line for KEY.pub.
#
# Errors: each function returns non-zero when a tool fails; nothing here
# prints on stdout except what the function is documented to print.

B_NS=rcptsync

b_list() {
	awk -v n="$1" -v d="$2" -v p="${3:-u}" \
	    'BEGIN { for (i = 0; i < n; i++) printf "%s%07d@%s\n", p, i, d }'
}

b_sort() {
	LC_ALL=C sort -u "$1" >"$1.sorted" && mv "$1.sorted" "$1"
}

b_header() {
	_b_agent=$1 _b_seq=$2 _b_ent=$3
	shift 3
	_b_kind=full _b_flags= _b_domains= _b_count= _b_sha= _b_version=1
	_b_relay=
	_b_created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	_b_source="ldap://dc1.corp.test/DC=corp,DC=test"
	for _b_o in "$@"; do
		case $_b_o in
		kind=*) _b_kind=${_b_o#kind=} ;;
		flags=*) _b_flags=${_b_o#flags=} ;;
		domains=*) _b_domains=${_b_o#domains=} ;;
		relay=*) _b_relay=${_b_o#relay=} ;;
		count=*) _b_count=${_b_o#count=} ;;
		sha=*) _b_sha=${_b_o#sha=} ;;
		created=*) _b_created=${_b_o#created=} ;;
		source=*) _b_source=${_b_o#source=} ;;
		version=*) _b_version=${_b_o#version=} ;;
		*) echo "b_header: unknown option $_b_o" >&2; return 1 ;;
		esac
	done
	[ -n "$_b_count" ] || _b_count=$(wc -l <"$_b_ent" | tr -d ' ')
	[ -n "$_b_sha" ] || _b_sha=$(sha256sum <"$_b_ent" | cut -d' ' -f1)
	if [ -z "$_b_domains" ]; then
		_b_domains=$(LC_ALL=C tr -d '\r' <"$_b_ent" | cut -d@ -f2 |
		    tr 'A-Z' 'a-z' | LC_ALL=C sort -u | grep -v '^$' |
		    tr '\n' ' ' | sed 's/ $//')
		[ -n "$_b_domains" ] || _b_domains=corp.test
	fi
	printf 'rcptsync-list %s\n' "$_b_version"
	printf 'agent: %s\nsequence: %s\ncreated: %s\nkind: %s\n' \
	    "$_b_agent" "$_b_seq" "$_b_created" "$_b_kind"
	printf 'source: %s\ndomains: %s\n' "$_b_source" "$_b_domains"
	[ -z "$_b_relay" ] || printf 'relay-domains: %s\n' "$_b_relay"
	printf 'count: %s\nlist-sha256: %s\n' "$_b_count" "$_b_sha"
	[ -z "$_b_flags" ] || printf 'flags: %s\n' "$_b_flags"
	printf '\n'
}

b_gzip() {
	gzip -n -c <"$1" >"$2"
}

b_make() {
	_b_dir=$1 _b_a=$2 _b_s=$3 _b_e=$4
	shift 4
	_b_out=$_b_dir/$_b_a.$_b_s.rcpt.gz
	{ b_header "$_b_a" "$_b_s" "$_b_e" "$@" && cat "$_b_e"; } |
	    gzip -n -c >"$_b_out" || return 1
	echo "$_b_out"
}

b_sign() {
	rm -f "$2.sig"
	ssh-keygen -q -Y sign -f "$1" -n "${3:-$B_NS}" "$2" >/dev/null 2>&1
}

b_key() {
	rm -f "$1" "$1.pub"
	ssh-keygen -q -t ed25519 -N '' -C test -f "$1" >/dev/null
}

b_signer_line() {
	printf '%s namespaces="rcptsync" %s\n' "$1" "$(cut -d' ' -f1,2 "$2.pub")"
}
