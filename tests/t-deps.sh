#!/bin/sh
# t-deps.sh - tools/deps.sh's source fetch falls back, without a network.
#
# A stub apt-cache and apt-get on PATH play a Debian mirror whose deb-src
# index lists versions the pool does not have: "apt-get source" answers
# 404 for the versions in $STUB_404, and for the others writes a tiny orig
# and debian tarball.  tools/deps.sh runs with RS_DEPS_BUILD (a scratch
# build/) and RS_DEPS_SOURCES (a scratch deb-src file), so the machine's
# own build/ and /etc/apt are never touched.  Shown here:
#   - the newest listed version answers 404, the second is used, and the
#     skipped one is named with apt's reason; versions are ordered as dpkg
#     orders them (3.5.10 is newer than 3.5.9), not as text;
#   - a binary-package line of the index is never taken for a source;
#   - no 3.5 downloadable: bookworm-security's 3.0 is used, loudly;
#   - nothing downloadable: exit 1, naming every version tried;
#   - a second run uses the unpacked source without asking apt;
#   - a prefix built from another OpenSSL is removed and rebuilt, never
#     reused; a part whose own version differs is rebuilt alone; the real
#     build/*-deps record what they hold.
. "$(dirname "$0")/lib.sh"
t_need dpkg tar gzip xz

T=$(t_tmp)
DEPS=$RS_TOP/tools/deps.sh
mkdir -p "$T/bin"

cat >"$T/bin/apt-cache" <<'EOF'
#!/bin/sh
# Stub: only "apt-cache madison NAME", from $STUB_INDEX.
[ "$1" = madison ] || { echo "stub apt-cache: $*" >&2; exit 1; }
grep "^ *$2 |" "$STUB_INDEX"
EOF
cat >"$T/bin/apt-get" <<'EOF'
#!/bin/sh
# Stub: indextargets, update, and "source -q --download-only NAME=VER".
echo "apt-get $*" >>"$STUB_CALLS"
case $1 in
indextargets)
	echo 'http://mirror.invalid/debian bookworm deb'
	echo 'http://mirror.invalid/debian-security bookworm-security deb'
	exit 0 ;;
update) exit 0 ;;
source) ;;
*) echo "stub apt-get: $*" >&2; exit 1 ;;
esac
spec=$4 name=${4%%=*} ver=${4#*=}
case " $STUB_404 " in *" $ver "*)
	echo "Err:1 http://mirror.invalid/debian trixie/main $name $ver (dsc)"
	echo "  404  Not Found [IP: 192.0.2.1 80]"
	echo "E: Failed to fetch http://mirror.invalid/debian/pool/main/${name}_$ver.dsc  404  Not Found [IP: 192.0.2.1 80]"
	echo "E: Failed to fetch some archives."
	exit 100 ;;
esac
up=${ver%-*}
mkdir -p "s/$name-$up" "s/debian/patches"
echo "$name $ver" >"s/$name-$up/VERSION"
: >"s/debian/patches/series"
tar czf "${name}_$up.orig.tar.gz" -C s "$name-$up"
tar cJf "${name}_$ver.debian.tar.xz" -C s debian
rm -rf s
echo "dpkg-source: stub: downloaded $spec"
EOF
chmod +x "$T/bin/apt-cache" "$T/bin/apt-get"

cat >"$T/index" <<'EOF'
   openssl | 3.0.17-1~deb12u2 | http://mirror.invalid/debian bookworm/main amd64 Packages
   openssl | 3.5.7-1~deb13u2 | http://mirror.invalid/debian trixie/main Sources
   openssl | 3.5.10-1~deb13u1 | http://mirror.invalid/debian trixie/main Sources
   openssl | 3.5.9-1~deb13u1 | http://mirror.invalid/debian trixie/main Sources
   openssl | 3.0.17-1~deb12u2 | http://mirror.invalid/debian-security bookworm-security/main Sources
   openssl | 3.0.16-1~deb12u1 | http://mirror.invalid/debian-security bookworm-security/main Sources
   openssl | 3.0.15-1~deb12u1 | http://mirror.invalid/debian bookworm/main Sources
   libssh2 | 1.11.1-1+deb13u2 | http://mirror.invalid/debian trixie/main Sources
   libssh2 | 1.10.0-3 | http://mirror.invalid/debian bookworm/main Sources
   openldap | 2.6.10+dfsg-1 | http://mirror.invalid/debian trixie/main Sources
EOF

# deps ARGS...: tools/deps.sh against the stubs, in build dir $T/b$RUN.
RUN=0
deps() {
	RUN=$((RUN + 1))
	B=$T/b$RUN
	PATH=$T/bin:$PATH RS_DEPS_BUILD=$B RS_DEPS_SOURCES=$T/sources \
	    STUB_INDEX=$T/index STUB_CALLS=$T/calls$RUN \
	    sh "$DEPS" "$@" >"$T/out$RUN" 2>&1
	RC=$?
	sed "s/^/  run $RUN| /" "$T/out$RUN" >&2
}

# 1. The newest 404s: the second is used.
STUB_404="3.5.10-1~deb13u1" deps fetch openssl
t_eq "newest 404: exit 0" 0 "$RC"
t_eq "newest 404: the second newest is unpacked" \
    "openssl 3.5.9-1~deb13u1 trixie" "$(cat "$B/src/openssl.stamp")"
t_eq "newest 404: its tree is the one downloaded" \
    "openssl 3.5.9-1~deb13u1" "$(cat "$B/src/openssl/VERSION")"
t_grep "newest 404: the skipped version is named with apt's reason" \
    '^deps: openssl 3\.5\.10-1~deb13u1 \(trixie\): download failed, trying the next version: 404  Not Found$' "$T/out$RUN"
t_grep "newest 404: the version used is said" \
    '^deps: openssl: using 3\.5\.9-1~deb13u1 \(trixie\), after 3\.5\.10-1~deb13u1 failed$' "$T/out$RUN"
t_eq "newest 404: tried in dpkg order, newest first, trixie only" \
    "apt-get source -q --download-only openssl=3.5.10-1~deb13u1
apt-get source -q --download-only openssl=3.5.9-1~deb13u1" \
    "$(grep '^apt-get source' "$T/calls$RUN")"
t_check "deb-src entries for trixie and bookworm-security, from apt's mirrors" \
    grep -qzE 'URIs: http://mirror.invalid/debian
Suites: trixie
.*URIs: http://mirror.invalid/debian-security
Suites: bookworm-security' "$T/sources"
first=$B

# 2. A second run with the unpacked source asks apt nothing.
PATH=$T/bin:$PATH RS_DEPS_BUILD=$first RS_DEPS_SOURCES=$T/sources \
    STUB_INDEX=$T/index STUB_CALLS=$T/calls-again STUB_404= \
    sh "$DEPS" fetch openssl >"$T/out-again" 2>&1
t_eq "second run: exit 0" 0 $?
t_check "second run: no apt call" test ! -e "$T/calls-again"

# 3. No 3.5 downloadable: bookworm-security's 3.0, loudly.
STUB_404="3.5.10-1~deb13u1 3.5.9-1~deb13u1 3.5.7-1~deb13u2" deps fetch openssl
t_eq "no 3.5: exit 0" 0 "$RC"
t_eq "no 3.5: bookworm-security's newest 3.0 is used, not bookworm's" \
    "openssl 3.0.17-1~deb12u2 bookworm-security" "$(cat "$B/src/openssl.stamp")"
t_grep "no 3.5: the fallback is said loudly" \
    '^deps: openssl: \*\*\* FALLBACK: OpenSSL 3\.0 from bookworm-security, not 3\.5 from trixie' "$T/out$RUN"
t_eq "no 3.5: every 3.5 was tried first" 3 \
    "$(grep -c 'openssl=3\.5\.' "$T/calls$RUN")"
fallback=$B

# 3b. A fallback tree is not kept for good: the next run tries 3.5 again.
PATH=$T/bin:$PATH RS_DEPS_BUILD=$fallback RS_DEPS_SOURCES=$T/sources \
    STUB_INDEX=$T/index STUB_CALLS=$T/calls-retry STUB_404= \
    sh "$DEPS" fetch openssl >"$T/out-retry" 2>&1
t_eq "after a fallback: 3.5 is used once it downloads" \
    "openssl 3.5.10-1~deb13u1 trixie" "$(cat "$fallback/src/openssl.stamp")"
t_grep "after a fallback: the retry is said" 'is a fallback; trying the preferred versions again' "$T/out-retry"

# 4. Nothing downloadable: a clear error naming every version tried.
STUB_404="3.5.10-1~deb13u1 3.5.9-1~deb13u1 3.5.7-1~deb13u2 3.0.17-1~deb12u2 3.0.16-1~deb12u1" \
    deps fetch openssl
t_eq "all fail: exit 1" 1 "$RC"
t_grep "all fail: one error naming every version tried" \
    '^deps: openssl: no version could be downloaded; tried: 3\.5\.10-1~deb13u1 3\.5\.9-1~deb13u1 3\.5\.7-1~deb13u2 3\.0\.17-1~deb12u2 3\.0\.16-1~deb12u1$' "$T/out$RUN"
t_check "all fail: nothing unpacked" test ! -e "$B/src/openssl.stamp"

# 5. libssh2: only the wanted upstream version, never bookworm's 1.10.
STUB_404= deps fetch libssh2
t_eq "libssh2: trixie's 1.11.1" "libssh2 1.11.1-1+deb13u2 trixie" \
    "$(cat "$B/src/libssh2.stamp")"

# 6. A prefix built from another OpenSSL is removed and rebuilt.  The
# stub sources cannot really build, so the rebuild fails right after the
# stale prefix is gone, which is all this checks.
mkdir -p "$first/win-deps/lib"
printf 'openssl 3.5.7-1~deb13u2 trixie\nlibssh2 1.11.1-1+deb13u2 trixie\n' \
    >"$first/win-deps/VERSIONS"
: >"$first/win-deps/lib/libcrypto.a"
PATH=$T/bin:$PATH RS_DEPS_BUILD=$first RS_DEPS_SOURCES=$T/sources \
    STUB_INDEX=$T/index STUB_CALLS=$T/calls-win STUB_404= \
    sh "$DEPS" win >"$T/out-win" 2>&1
sed 's/^/  win| /' "$T/out-win" >&2
t_grep "stale prefix: what it had and what is wanted" \
    'win-deps: openssl was built from 3\.5\.7-1~deb13u2 trixie; rebuilding it from 3\.5\.9-1~deb13u1 trixie$' "$T/out-win"
t_check "stale prefix: removed, not reused" test ! -e "$first/win-deps/lib/libcrypto.a"

# 6b. Only a part's own line differs: that part alone is rebuilt.
rm -rf "$first/win-deps"
mkdir -p "$first/win-deps/lib"
printf '%s\n' "$(cat "$first/src/openssl.stamp")" \
    'libssh2 1.11.1-1+deb13u1 trixie' >"$first/win-deps/VERSIONS"
: >"$first/win-deps/lib/libcrypto.a"
PATH=$T/bin:$PATH RS_DEPS_BUILD=$first RS_DEPS_SOURCES=$T/sources \
    STUB_INDEX=$T/index STUB_CALLS=$T/calls-win2 STUB_404= \
    sh "$DEPS" win >"$T/out-win2" 2>&1
sed 's/^/  win2| /' "$T/out-win2" >&2
t_grep "stale libssh2: said" \
    'win-deps: libssh2 was built from 1\.11\.1-1\+deb13u1 trixie; rebuilding it from 1\.11\.1-1\+deb13u2 trixie$' "$T/out-win2"
t_check "stale libssh2: OpenSSL kept" test -e "$first/win-deps/lib/libcrypto.a"

# 7. The real prefixes say what they were built from.
for p in unix-deps win-deps; do
	v=$RS_TOP/build/$p/VERSIONS
	if [ -f "$v" ]; then
		t_grep "build/$p/VERSIONS names libssh2" '^libssh2 1\.11\.1-' "$v"
	else
		t_fail "build/$p/VERSIONS" "missing: tools/deps.sh records the versions of every prefix it builds"
	fi
done
t_grep "build/win-deps/VERSIONS names OpenSSL" '^openssl 3\.' "$RS_TOP/build/win-deps/VERSIONS"
t_grep "build/win-deps/VERSIONS names OpenLDAP" '^openldap 2\.' "$RS_TOP/build/win-deps/VERSIONS"
t_done
