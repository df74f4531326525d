#!/bin/sh
# build-msi.sh - build the Windows installer with wixl (msitools).
#
#   installer/build-msi.sh [-v VERSION] [-o OUT.msi] EXE
#
# EXE is the agent to ship (build/win/rcptsync-agent.exe; Makefile.mingw's
# `msi` target passes it).  VERSION defaults to the top Makefile's
# "VERSION = " line; OUT to build/win/rcptsync-VERSION-x64.msi.  The
# tests use -v to build a higher version for the upgrade check.
#
# Steps: cross-compile installer/msiconf_win.c (the custom action that
# secures %ProgramData%\rcptsync and writes the silent-install properties
# into the config) with agent-win/platform/acl_win.c (the agent's trust rule)
# and utf16_win.c, turn
# installer/agent.conf.in into a CRLF agent.conf.default for Notepad, stage
# them with EXE, then run wixl on installer/rcptsync.wxs.  Intermediate files go to build/obj-msi (or
# $MSI_OBJ, for parallel builds).  Prints the MSI's path on stdout.
#
# Exit status 0 on success; 1 with a message on stderr otherwise.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
version=
out=
while getopts v:o: opt; do
	case $opt in
	v) version=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: build-msi.sh [-v VERSION] [-o OUT.msi] EXE" >&2; exit 1 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: build-msi.sh [-v VERSION] [-o OUT.msi] EXE" >&2; exit 1; }
exe=$1
case $exe in /*) ;; *) exe=$(pwd)/$exe ;; esac
[ -f "$exe" ] || { echo "build-msi: $exe: no such file (make -f Makefile.mingw)" >&2; exit 1; }

if [ -z "$version" ]; then
	version=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*\([0-9.]*\)[[:space:]]*$/\1/p' \
	    "$top/Makefile" | head -n 1)
fi
# Windows Installer compares the first three fields, each at most 255
# for the first two and 65535 for the third.
echo "$version" | grep -Eq '^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,5}$' ||
    { echo "build-msi: version '$version' is not MAJOR.MINOR.PATCH" >&2; exit 1; }
[ -n "$out" ] || out=$top/build/win/rcptsync-$version-x64.msi
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

for t in wixl x86_64-w64-mingw32-gcc; do
	command -v "$t" >/dev/null 2>&1 ||
	    { echo "build-msi: $t is not installed (tools/deps.sh apt)" >&2; exit 1; }
done

obj=${MSI_OBJ:-$top/build/obj-msi}
mkdir -p "$obj" "$(dirname "$out")"

# The custom action: the same warnings as the agent; static, so that it
# needs nothing but system DLLs when Windows Installer runs it from a
# temporary file.
x86_64-w64-mingw32-gcc -std=c11 -O2 -municode \
    -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
    -Wmissing-prototypes -Wvla -Werror \
    -D_WIN32_WINNT=0x0601 -DWINVER=0x0601 -DUNICODE -D_UNICODE \
    -D__USE_MINGW_ANSI_STDIO=1 -I"$top/common" -I"$top/agent-win/platform" \
    -static -s -Wl,--dynamicbase,--nxcompat,--high-entropy-va \
    -o "$obj/rcptsync-msiconf.exe" "$top/installer/msiconf_win.c" \
    "$top/agent-win/platform/acl_win.c" \
    "$top/agent-win/platform/utf16_win.c" -ladvapi32

# Config for Notepad: CRLF line endings (the agent accepts both).
sed 's/\r*$/\r/' "$top/installer/agent.conf.in" >"$obj/agent.conf.default"
cp -f "$exe" "$obj/rcptsync-agent.exe"

# wixl resolves Source= against the directory it runs in.
(cd "$obj" && wixl -a x64 -o "$out.tmp" -D Version="$version" \
    "$top/installer/rcptsync.wxs")
mv -f "$out.tmp" "$out"
echo "$out"
