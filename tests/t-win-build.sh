#!/bin/sh
# t-win-build.sh - the Windows build: a trivial .exe built with
# Makefile.mingw runs under Wine; rcptsync-agent.exe and the trivial exe
# import Windows system DLLs only (everything else is linked statically);
# a planted openssl.cnf is never read.
#
# Needs: mingw-w64, wine (tools/deps.sh apt); build/win-deps (tools/deps.sh
# win); build/win/rcptsync-agent.exe (make win).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/harness.sh"

t_need x86_64-w64-mingw32-gcc x86_64-w64-mingw32-objdump make

cd "$RS_TOP" || exit 1
tmp=$(t_tmp)
hello=build/win/hello.exe
agent=build/win/rcptsync-agent.exe

# --- build the trivial exe --------------------------------------------------
if make -f Makefile.mingw test-exe >&2 2>&1 && [ -f "$hello" ]; then
	t_ok "build-test-exe"
else
	t_fail "build-test-exe" "make -f Makefile.mingw test-exe failed"
	exit 1
fi

# --- it runs under Wine -----------------------------------------------------
h_wine_init
h_wine "$hello" "Zürich" "日本" >"$tmp/hello.out" 2>"$tmp/hello.err"
rc=$?
t_eq "hello-exit" 0 "$rc"
t_eq "hello-greets" "hello rcptsync" "$(head -n 1 "$tmp/hello.out")"
t_grep "hello-openssl-static" '^openssl 3\.' "$tmp/hello.out"
t_grep "hello-libssh2-static" '^libssh2 1\.11\.' "$tmp/hello.out"
t_grep "hello-sha256" \
    '^sha256\(abc\) ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad$' \
    "$tmp/hello.out"
t_grep "hello-zlib" '^zlib round trip ok$' "$tmp/hello.out"
# Arguments arrive as UTF-16 (wmain) and leave as UTF-8; stdout is binary,
# so no CR sneaks in.
t_grep "hello-utf8-args" '^arg 1: Zürich$' "$tmp/hello.out"
t_grep "hello-utf8-args-cjk" '^arg 2: 日本$' "$tmp/hello.out"
if grep -q "$(printf '\r')" "$tmp/hello.out"; then
	t_fail "hello-binary-stdout" "CR in stdout"
else
	t_ok "hello-binary-stdout"
fi

# --- a planted openssl.cnf is not read ----------------------------------------
# The configuration would make every digest fetch fail (fips=yes without a
# FIPS provider).  The control run lets OpenSSL load it and must fail, so
# the real run proves the program never read it.
cat >"$tmp/planted.cnf" <<EOF
openssl_conf = planted_init
[planted_init]
alg_section = planted_evp
[planted_evp]
default_properties = fips=yes
EOF
OPENSSL_CONF="Z:$tmp/planted.cnf" h_wine "$hello" --load-config \
    >"$tmp/control.out" 2>&2
if grep -q '^sha256(abc) wrong$' "$tmp/control.out"; then
	t_ok "openssl-conf-control"
else
	t_fail "openssl-conf-control" "the planted config had no effect when loaded"
fi
if OPENSSL_CONF="Z:$tmp/planted.cnf" h_wine "$hello" >"$tmp/planted.out" \
    2>&2 && grep -q '^sha256(abc) ba78' "$tmp/planted.out"; then
	t_ok "openssl-conf-not-loaded"
else
	t_fail "openssl-conf-not-loaded" "hello.exe read a planted openssl.cnf"
fi

# --- DLL imports: Windows system DLLs only ----------------------------------
# An explicit allowlist, compared case-insensitively.  A DLL of one of the
# statically linked libraries (libssh2, libcrypto, libssl, zlib) or of the
# mingw runtime (libgcc, libwinpthread) would mean the exe does not run on
# a machine without them.
allowed="kernel32.dll advapi32.dll msvcrt.dll user32.dll gdi32.dll ws2_32.dll"
allowed="$allowed crypt32.dll wldap32.dll shell32.dll ole32.dll bcrypt.dll"
allowed=" $allowed secur32.dll netapi32.dll "
check_imports() {	# check_imports NAME EXE
	if [ ! -f "$2" ]; then
		t_fail "$1" "$2 is not built (make -f Makefile.mingw)"
		return
	fi
	x86_64-w64-mingw32-objdump -p "$2" |
	    sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' |
	    sort -u >"$tmp/$1.dlls"
	echo "$2 imports: $(tr '\n' ' ' <"$tmp/$1.dlls")" >&2
	bad=
	while read -r d; do
		case $d in
		api-ms-win-crt-*.dll|api-ms-win-core-*.dll) continue ;;
		esac
		case $allowed in *" $d "*) ;; *) bad="$bad $d" ;; esac
	done <"$tmp/$1.dlls"
	if [ ! -s "$tmp/$1.dlls" ]; then
		t_fail "$1" "objdump found no imports in $2"
	elif [ -n "$bad" ]; then
		t_fail "$1" "imports non-system DLLs:$bad"
	elif grep -Eq 'ssh|crypto|ssl|zlib|libz|libgcc|pthread' "$tmp/$1.dlls"; then
		t_fail "$1" "imports a library DLL"
	else
		t_ok "$1"
	fi
}
check_imports "imports-test-exe" "$hello"
check_imports "imports-agent-exe" "$agent"

# --- the documented Task Scheduler XML -------------------------------------
# Wine cannot run it (t-win-service.sh says so); at least it must be a
# well-formed task that runs `sync` as SYSTEM.
if python3 - installer/rcptsync-agent-task.xml >&2 <<'EOF'
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
text = lambda tag: d.getElementsByTagName(tag)[0].firstChild.data
assert text("UserId") == "S-1-5-18"
assert text("Command").endswith('rcptsync-agent.exe"')
assert text("Arguments").split()[-1] == "sync"
EOF
then
	t_ok "task-xml"
else
	t_fail "task-xml" "installer/rcptsync-agent-task.xml is not the documented task"
fi

t_done
