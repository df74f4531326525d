#!/bin/sh
# deps.sh - install and build everything rcptsync needs, once.
#
# Usage: tools/deps.sh [apt] [unix] [win]     (no argument: all three)
#
#   apt   Debian packages (compilers, servers the tests start, wine, wixl).
#   unix  libssh2 1.11.1, static, on the system OpenSSL, into build/unix-deps.
#   win   OpenSSL 3.5 and libssh2 1.11.1, static, for x86_64-w64-mingw32,
#         into build/win-deps.
#
# Sources come only from Debian: `apt-get source` of trixie's libssh2 and
# openssl.  If no deb-src entry names trixie, one is added in its own file.
# Every step leaves a stamp, so a second run costs a few dpkg queries.
# Must run as root for the apt part (the tests need root anyway).

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
src="$build/src"
jobs=$(nproc 2>/dev/null || echo 2)

LIBSSH2_VER=1.11.1
OPENSSL_SUITE=trixie

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
 ldb-tools prometheus"

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

add_deb_src() {
	if grep -rqsE '^(Types:.*deb-src|deb-src)' /etc/apt/sources.list \
	    /etc/apt/sources.list.d/ 2>/dev/null &&
	    apt-cache showsrc "libssh2=$LIBSSH2_VER-1+deb13u2" >/dev/null 2>&1 ||
	    apt-cache showsrc libssh2 2>/dev/null | grep -q "^Version: $LIBSSH2_VER"; then
		return 0
	fi
	need_root "adding a deb-src entry"
	say "adding deb-src entry /etc/apt/sources.list.d/rcptsync-src.sources"
	cat >/etc/apt/sources.list.d/rcptsync-src.sources <<-EOF
	Types: deb-src
	URIs: http://deb.debian.org/debian
	Suites: trixie
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt-get update -q
}

# fetch NAME: download and unpack Debian's source of NAME/trixie into
# $src/NAME, once.  Patches listed in debian/patches/series are applied in
# order, except those named in $skip_patches.
fetch() {
	name=$1
	[ -f "$src/$name.stamp" ] && return 0
	add_deb_src
	mkdir -p "$src/dl"
	(cd "$src/dl" && apt-get source -q --download-only "$name/$OPENSSL_SUITE")
	rm -rf "$src/$name"
	mkdir -p "$src/$name"
	tar xf "$(ls "$src/dl/${name}_"*.orig.tar.* | grep -v '\.asc$' | head -n 1)" \
	    -C "$src/$name" --strip-components=1
	tar xf "$(ls "$src/dl/${name}_"*.debian.tar.* | head -n 1)" -C "$src/$name"
	series="$src/$name/debian/patches/series"
	if [ -f "$series" ]; then
		grep -v '^[[:space:]]*#' "$series" | while read -r p _; do
			[ -n "$p" ] || continue
			case " ${skip_patches:-} " in *" $p "*) continue ;; esac
			patch -s -d "$src/$name" -p1 <"$src/$name/debian/patches/$p"
		done
	fi
	touch "$src/$name.stamp"
}

# The -lgpg-error patch only matters for libgcrypt builds; it breaks the
# mingw pkg-config data, so it is left out (shared/NOTES.md).
skip_patches="0001-Add-lgpg-error-to-.pc-to-facilitate-static-linking.patch"

build_libssh2() {	# build_libssh2 PREFIX HOST SSL_PREFIX ZLIB_PREFIX EXTRA_LIBS
	prefix=$1 host=$2 ssl=$3 zlib=$4 libs=$5
	[ -f "$prefix/lib/libssh2.a" ] && return 0
	fetch libssh2
	b="$build/obj-libssh2-$(basename "$prefix")"
	rm -rf "$b"
	cp -a "$src/libssh2" "$b"
	set -- --prefix="$prefix" --libdir="$prefix/lib" \
	    --disable-shared --enable-static --with-crypto=openssl \
	    --with-libz --disable-examples-build \
	    --disable-docker-tests --disable-sshd-tests
	[ -n "$host" ] && set -- "$@" --host="$host"
	[ -n "$ssl" ] && set -- "$@" --with-libssl-prefix="$ssl"
	[ -n "$zlib" ] && set -- "$@" --with-libz-prefix="$zlib"
	say "building libssh2 $LIBSSH2_VER into $prefix"
	(cd "$b" && ./configure "$@" LIBS="$libs" >configure.out 2>&1 ||
	    { tail -n 30 configure.out; exit 1; })
	(cd "$b" && make -j"$jobs" >make.out 2>&1 && make install >>make.out 2>&1) ||
	    { tail -n 30 "$b/make.out"; exit 1; }
	rm -rf "$b"
}

do_unix() {
	build_libssh2 "$build/unix-deps" "" "" "" ""
}

do_win() {
	p="$build/win-deps"
	if [ ! -f "$p/lib/libcrypto.a" ]; then
		fetch openssl
		b="$build/obj-openssl-win"
		rm -rf "$b"
		cp -a "$src/openssl" "$b"
		say "cross-building OpenSSL (several minutes, once) into $p"
		(cd "$b" && ./Configure mingw64 no-shared no-tests no-legacy \
		    no-engine no-dso no-apps \
		    --cross-compile-prefix=x86_64-w64-mingw32- \
		    --prefix="$p" --libdir=lib >configure.out 2>&1 &&
		    make -j"$jobs" build_libs >make.out 2>&1 &&
		    make install_dev >>make.out 2>&1) ||
		    { tail -n 30 "$b/make.out" "$b/configure.out" 2>/dev/null; exit 1; }
		rm -rf "$b"
	fi
	build_libssh2 "$p" x86_64-w64-mingw32 "$p" /usr/x86_64-w64-mingw32 \
	    "-lws2_32 -lgdi32 -lcrypt32"
}

[ $# -eq 0 ] && set -- apt unix win
for what in "$@"; do
	case $what in
	apt) do_apt ;;
	unix) do_unix ;;
	win) do_win ;;
	*) say "unknown part: $what"; exit 2 ;;
	esac
done
