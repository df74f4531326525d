#!/bin/sh
# deps.sh - install and build everything rcptsync needs, once.
#
# Usage: tools/deps.sh [apt] [unix] [win]     (no argument: all three)
#
#   apt   Debian packages (compilers, servers the tests start, wine, wixl,
#         debootstrap for the throwaway roots, debhelper and lintian for
#         make deb).
#   unix  libssh2 1.11.1, static, on the system OpenSSL, into build/unix-deps.
#   win   OpenSSL 3.5, libssh2 1.11.1 and OpenLDAP 2.6's client libraries,
#         static, for x86_64-w64-mingw32, into build/win-deps (OpenLDAP
#         in build/win-deps/openldap).
#
# Sources come only from Debian: `apt-get source` of trixie's libssh2,
# openssl and openldap, with deb-src entries added in a file of their own.  The index
# may list versions whose files are not downloadable (a new upload not yet
# in the pool, or a removed one), so each acceptable version is tried,
# newest first, until one downloads; OpenSSL falls back to bookworm-security's
# 3.0, loudly, when no 3.5 can be had.  Each prefix records the versions it
# was built from in PREFIX/VERSIONS (tests/run prints them); a part built
# from another version is rebuilt (all of the prefix when it is OpenSSL,
# which the others link against).  Every step leaves a stamp, so a second
# run costs a few dpkg queries and no network.
#
# Test hooks (tests/t-deps.sh): RS_DEPS_BUILD replaces build/,
# RS_DEPS_SOURCES the deb-src file, and
# "tools/deps.sh fetch NAME" only fetches and unpacks NAME's source.
# Must run as root for the apt part (the tests need root anyway).

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${RS_DEPS_BUILD:-"$top/build"}
src="$build/src"
jobs=$(nproc 2>/dev/null || echo 2)

LIBSSH2_VER=1.11.1

# Packages the build, the tests, `make demo` and `make bench` use.  Listed
# once here; a missing one is installed, never silently skipped.
APT_PKGS="build-essential pkg-config autoconf automake libtool
 libssl-dev zlib1g-dev libldap-dev
 slapd ldap-utils openssh-server openssh-client
 postfix postfix-cdb postfix-lmdb postfix-ldap
 wine wine64 mingw-w64 libz-mingw-w64-dev wixl
 dpkg-dev xz-utils ca-certificates python3 procps psmisc iproute2
 groff man-db systemd clang llvm libclang-rt-14-dev
 samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba
 ldb-tools prometheus debootstrap debhelper lintian strace
 krb5-user libsasl2-modules-gssapi-mit stress-ng"

say() { printf 'deps: %s\n' "$*" >&2; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		say "$1 needs root (run make deps as root)"
		exit 1
	fi
}

do_apt() {
	missing=
	for p in $APT_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	need_root "installing$missing"
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix asks how to configure itself; the tests bring their own
	# configuration, so tell it to write none.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	apt-get update -q
	# The tests start their own slapd, Samba, sshd and Prometheus tools;
	# a system daemon started by a package's postinst would only hold
	# their ports (Samba's 389 above all).  policy-rc.d's 101, Debian's
	# "action forbidden", keeps invoke-rc.d and deb-systemd-invoke from
	# starting them; it is removed again unless it was already there.
	prc=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		prc=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# rcptsync tools/deps.sh, during apt-get install\nexit 101\n' >"$prc"
		chmod 755 "$prc"
	fi
	rc=0
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing || rc=$?
	if [ -n "$prc" ]; then rm -f "$prc"; fi
	return $rc
}

# Sources come from trixie, and from bookworm-security for the OpenSSL
# 3.0 fallback: one file of our own names both, on the mirrors this
# machine's apt already uses for bookworm and bookworm-security
# (apt-get indextargets), so a local mirror keeps being used.
DEB_SRC=${RS_DEPS_SOURCES:-/etc/apt/sources.list.d/rcptsync-src.sources}
apt_site() {	# apt_site RELEASE: the mirror of the first deb entry for it
	apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' |
	    awk -v r="$1" '$2 == r && $3 == "deb" { print $1; exit }'
}
add_deb_src() {
	[ -f "$DEB_SRC" ] && grep -q bookworm-security "$DEB_SRC" && return 0
	need_root "adding a deb-src entry"
	main=$(apt_site bookworm) sec=$(apt_site bookworm-security)
	if [ -z "$main" ] || [ -z "$sec" ]; then
		say "no apt entry for bookworm and bookworm-security to take the mirrors from (apt-get indextargets)"
		exit 1
	fi
	say "adding deb-src entries for trixie ($main) and bookworm-security ($sec) in $DEB_SRC"
	cat >"$DEB_SRC" <<-EOF
	Types: deb-src
	URIs: $main
	Suites: trixie
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb-src
	URIs: $sec
	Suites: bookworm-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt-get update -q
}

# Which source versions are acceptable, newest first within each rung:
#   want_NAME prints "SUITE-REGEX VERSION-GLOB NOTE" lines, best rung first.
# A rung whose NOTE is not "-" is a fallback, said loudly when it is used.
want_openssl() {
	echo 'trixie 3.5.* -'
	echo 'bookworm-security 3.0.* FALLBACK: OpenSSL 3.0 from bookworm-security, not 3.5 from trixie (no 3.5 could be downloaded; 3.0 upstream support ended in September 2026)'
}
want_libssh2() {
	echo "trixie $LIBSSH2_VER-* -"
}
want_openldap() {
	echo 'trixie 2.6.* -'
	echo 'bookworm-security 2.5.* FALLBACK: OpenLDAP 2.5 from bookworm-security, not 2.6 from trixie'
}

# candidates NAME: the source versions the deb-src index lists, as
# "VERSION SUITE" lines, in the order they are to be tried: rung by rung
# (want_NAME), newest first within a rung.  The index can list a version
# whose files the pool does not have (yet, or any more), so the caller
# tries each in turn.
candidates() {
	apt-cache madison "$1" 2>/dev/null |
	    awk -F'|' '$3 ~ /Sources[[:space:]]*$/ {
		gsub(/[[:space:]]/, "", $2)
		n = split($3, w, " "); split(w[n - 1], s, "/")
		print $2, s[1] }' | sort -u >"$src/$1.madison"
	"want_$1" | while read -r suite glob _; do
		while read -r v s; do
			# shellcheck disable=SC2254
			case $s in $suite) ;; *) continue ;; esac
			# shellcheck disable=SC2254
			case $v in $glob) echo "$v $s" ;; esac
		done <"$src/$1.madison" | newest_first
	done
}

# newest_first: "VERSION SUITE" lines, sorted newest first in dpkg's
# order (sort -V gets "~" wrong).  Each line's rank is the number of
# lines newer than it; a handful of lines, so n^2 comparisons are fine.
newest_first() {
	lines=$(cat)
	printf '%s\n' "$lines" | while read -r v s; do
		[ -n "$v" ] || continue
		printf '%s\n' "$lines" | while read -r o _; do
			dpkg --compare-versions "$o" gt "$v" && echo
		done | wc -l | tr -d ' \n'
		echo " $v $s"
	done | sort -n -s | cut -d' ' -f2-
}

# note_of NAME SUITE: the fallback note of the rung SUITE belongs to, or "-".
note_of() {
	"want_$1" | while read -r suite _ note; do
		# shellcheck disable=SC2254
		case $2 in $suite) echo "$note"; return ;; esac
	done
}

# fetch NAME: download and unpack Debian's source of NAME into $src/NAME,
# once per version.  The versions candidates() lists are tried newest
# first; each one that fails to download is reported with apt's reason,
# and the first that downloads is used (apt checks the signed .dsc).
# $src/NAME.stamp records "NAME VERSION SUITE"; an unpacked tree of a
# version the want_NAME rungs no longer accept is fetched again.  Patches
# listed in debian/patches/series are applied in order, except those
# named in $skip_patches.
fetch() {
	name=$1
	if [ -f "$src/$name.stamp" ]; then
		read -r _ v s <"$src/$name.stamp"
		if accepted "$name" "$v" "$s" && [ "$(note_of "$name" "$s")" = - ]; then
			return 0
		fi
		if accepted "$name" "$v" "$s"; then
			say "$name: the unpacked source $v ($s) is a fallback; trying the preferred versions again"
		else
			say "$name: the unpacked source $v ($s) is no longer accepted; fetching again"
		fi
		rm -f "$src/$name.stamp"
	fi
	add_deb_src
	mkdir -p "$src/dl"
	candidates "$name" >"$src/$name.try"
	if [ ! -s "$src/$name.try" ]; then
		say "$name: the deb-src index lists no acceptable version ($(want_"$name" | awk '{printf "%s%s %s", NR > 1 ? "; " : "", $1, $2}'))"
		exit 1
	fi
	used= tried=
	while read -r v s; do
		rm -rf "$src/dl/$name" && mkdir -p "$src/dl/$name"
		if (cd "$src/dl/$name" &&
		    apt-get source -q --download-only "$name=$v") \
		    >"$src/dl/$name.out" 2>&1; then
			used="$v $s"
			break
		fi
		# apt's reason: the HTTP status ("404  Not Found") if it gave
		# one, else its last error line.
		why=$(grep -m 1 -E '^ +[45][0-9][0-9] ' "$src/dl/$name.out" |
		    sed 's/^ *//; s/ *\[IP:.*//')
		[ -n "$why" ] || why=$(grep '^E:' "$src/dl/$name.out" | tail -n 1)
		say "$name $v ($s): download failed, trying the next version: ${why:-see $src/dl/$name.out}"
		tried="$tried $v"
	done <"$src/$name.try"
	if [ -z "$used" ]; then
		say "$name: no version could be downloaded; tried:$tried"
		exit 1
	fi
	set -- $used
	note=$(note_of "$name" "$2")
	[ "$note" != - ] && say "$name: *** $note ***"
	say "$name: using $1 ($2)${tried:+, after$tried failed}"
	rm -rf "$src/$name"
	mkdir -p "$src/$name"
	d="$src/dl/$name"
	tar xf "$(ls "$d/${name}_"*.orig.tar.* | grep -v '\.asc$' | head -n 1)" \
	    -C "$src/$name" --strip-components=1
	tar xf "$(ls "$d/${name}_"*.debian.tar.* | head -n 1)" -C "$src/$name"
	series="$src/$name/debian/patches/series"
	if [ -f "$series" ]; then
		grep -v '^[[:space:]]*#' "$series" | while read -r p _; do
			[ -n "$p" ] || continue
			case " ${skip_patches:-} " in *" $p "*) continue ;; esac
			patch -s -d "$src/$name" -p1 <"$src/$name/debian/patches/$p"
		done
	fi
	echo "$name $1 $2" >"$src/$name.stamp"
}

# accepted NAME VERSION SUITE: whether a want_NAME rung accepts it.
accepted() {
	"want_$1" | while read -r suite glob _; do
		# shellcheck disable=SC2254
		case $3 in $suite) ;; *) continue ;; esac
		# shellcheck disable=SC2254
		case $2 in $glob) echo yes; return ;; esac
	done | grep -q yes
}

# source_version NAME: "NAME VERSION SUITE" of the unpacked source.
source_version() { cat "$src/$1.stamp"; }

# The -lgpg-error patch only matters for libgcrypt builds; it breaks the
# mingw pkg-config data, so it is left out (shared/NOTES.md).
skip_patches="0001-Add-lgpg-error-to-.pc-to-facilitate-static-linking.patch"

# Shell variables are global: each builder's own names start with its
# part's, so that none overwrites its caller's (do_unix's and do_win's
# version lines above all).
build_libssh2() {	# build_libssh2 PREFIX HOST SSL_PREFIX ZLIB_PREFIX EXTRA_LIBS
	ssh2_prefix=$1 ssh2_host=$2 ssh2_ssl=$3 ssh2_zlib=$4 ssh2_libs=$5
	b="$build/obj-libssh2-$(basename "$ssh2_prefix")"
	rm -rf "$b"
	cp -a "$src/libssh2" "$b"
	set -- --prefix="$ssh2_prefix" --libdir="$ssh2_prefix/lib" \
	    --disable-shared --enable-static --with-crypto=openssl \
	    --with-libz --disable-examples-build \
	    --disable-docker-tests --disable-sshd-tests
	[ -n "$ssh2_host" ] && set -- "$@" --host="$ssh2_host"
	[ -n "$ssh2_ssl" ] && set -- "$@" --with-libssl-prefix="$ssh2_ssl"
	[ -n "$ssh2_zlib" ] && set -- "$@" --with-libz-prefix="$ssh2_zlib"
	say "building libssh2 $LIBSSH2_VER into $ssh2_prefix"
	(cd "$b" && ./configure "$@" LIBS="$ssh2_libs" >configure.out 2>&1 ||
	    { tail -n 30 configure.out; exit 1; })
	(cd "$b" && make -j"$jobs" >make.out 2>&1 && make install >>make.out 2>&1) ||
	    { tail -n 30 "$b/make.out"; exit 1; }
	rm -rf "$b"
}

build_openssl_win() {	# build_openssl_win PREFIX
	b="$build/obj-openssl-win"
	rm -rf "$b"
	cp -a "$src/openssl" "$b"
	say "cross-building OpenSSL (several minutes, once) into $1"
	(cd "$b" && ./Configure mingw64 no-shared no-tests no-legacy \
	    no-engine no-dso no-apps \
	    --cross-compile-prefix=x86_64-w64-mingw32- \
	    --prefix="$1" --libdir=lib >configure.out 2>&1 &&
	    make -j"$jobs" build_libs >make.out 2>&1 &&
	    make install_dev >>make.out 2>&1) ||
	    { tail -n 30 "$b/make.out" "$b/configure.out" 2>/dev/null; exit 1; }
	rm -rf "$b"
}

build_openldap_win() {	# build_openldap_win PREFIX: libldap, liblber, liblutil
	# Only the client libraries, static, TLS on the OpenSSL in PREFIX, no
	# Cyrus SASL, no threads (docs/HACKING.md: one LDAP handle per
	# thread).  Three configure answers are given, not probed: regex is
	# only for slapd and the tools; clock_gettime exists in mingw's
	# winpthreads headers, and without it include/ac/time.h redefines
	# struct timespec; HAVE_WINSOCK2 (configure only defines
	# HAVE_WINSOCK2_H) gives os-ip.c its struct addrinfo.  Installed in
	# PREFIX/openldap, apart from mingw's own winldap.h world.
	b="$build/obj-openldap-win"
	o="$1/openldap"
	rm -rf "$b" "$o"
	cp -a "$src/openldap" "$b"
	say "cross-building OpenLDAP's libldap into $o"
	(cd "$b" && ./configure --host=x86_64-w64-mingw32 --prefix="$o" \
	    --disable-slapd --disable-shared --enable-static \
	    --with-tls=openssl --without-cyrus-sasl --without-threads \
	    --without-systemd \
	    CC=x86_64-w64-mingw32-gcc AR=x86_64-w64-mingw32-ar \
	    RANLIB=x86_64-w64-mingw32-ranlib \
	    CPPFLAGS="-D_WIN32_WINNT=0x0601 -DHAVE_WINSOCK2 -I$1/include" \
	    LDFLAGS="-L$1/lib" LIBS="-lws2_32 -lcrypt32 -lgdi32" \
	    ac_cv_header_regex_h=yes ac_cv_search_regfree="none required" \
	    ac_cv_func_clock_gettime=yes >configure.out 2>&1 ||
	    { tail -n 30 configure.out; exit 1; })
	(cd "$b" && { make -C include &&
	    make -C libraries/liblber liblber.la &&
	    make -C libraries/libldap libldap.la &&
	    make -C libraries/liblutil liblutil.a; } >make.out 2>&1) ||
	    { tail -n 30 "$b/make.out"; exit 1; }
	mkdir -p "$o/lib" "$o/include"
	cp "$b/libraries/libldap/.libs/libldap.a" \
	    "$b/libraries/liblber/.libs/liblber.a" \
	    "$b/libraries/liblutil/liblutil.a" "$o/lib/"
	for h in ldap.h lber.h lber_types.h ldap_features.h ldap_cdefs.h \
	    ldap_schema.h ldap_utf8.h; do
		cp "$b/include/$h" "$o/include/"
	done
	rm -rf "$b"
}

# have PREFIX LINE: whether PREFIX/VERSIONS records LINE ("NAME VERSION
# SUITE"); if not, say what it has instead.  A part built from another
# version is rebuilt, never silently reused.
have() {
	grep -qxF "$2" "$1/VERSIONS" 2>/dev/null && return 0
	set -- "$1" "$2" "${2%% *}"
	old=$(grep "^$3 " "$1/VERSIONS" 2>/dev/null)
	if [ -n "$old" ]; then
		say "$1: $3 was built from ${old#* }; rebuilding it from ${2#* }"
	else
		say "$1: no $3 recorded there; building ${2#* }"
	fi
	return 1
}

# record PREFIX LINE...: write PREFIX/VERSIONS.
record() {
	p=$1; shift
	printf '%s\n' "$@" >"$p/VERSIONS"
}

do_unix() {
	p="$build/unix-deps"
	fetch libssh2
	ssh2=$(source_version libssh2)
	ssl="openssl $(dpkg-query -W -f='${Version}' libssl-dev) system"
	if ! have "$p" "$ssl" || ! have "$p" "$ssh2"; then
		rm -rf "$p"
		build_libssh2 "$p" "" "" "" ""
		mkdir -p "$p" && record "$p" "$ssh2" "$ssl"
	fi
}

# The Windows prefix: OpenSSL first; libssh2 and OpenLDAP link against it,
# so another OpenSSL means all of it is rebuilt.
do_win() {
	p="$build/win-deps"
	fetch openssl
	fetch libssh2
	fetch openldap
	ssl=$(source_version openssl)
	ssh2=$(source_version libssh2)
	ldap=$(source_version openldap)
	if ! have "$p" "$ssl"; then
		rm -rf "$p"
		build_openssl_win "$p"
		record "$p" "$ssl"
	fi
	have "$p" "$ssh2" || build_libssh2 "$p" x86_64-w64-mingw32 "$p" \
	    /usr/x86_64-w64-mingw32 "-lws2_32 -lgdi32 -lcrypt32"
	have "$p" "$ldap" || build_openldap_win "$p"
	record "$p" "$ssl" "$ssh2" "$ldap"
}

[ $# -eq 0 ] && set -- apt unix win
for what in "$@"; do
	case $what in
	apt) do_apt ;;
	unix) do_unix ;;
	win) do_win ;;
	fetch) shift; fetch "$1"; exit 0 ;;
	*) say "unknown part: $what"; exit 2 ;;
	esac
done
