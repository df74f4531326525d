#!/bin/sh
# check-fresh.sh - the README's commands on a fresh Debian 12, from scratch.
#
# Usage: tools/check-fresh.sh     (make check-fresh; as root)
#
# Makes a throwaway Debian 12 root (tools/debroot.sh), clones this
# repository's committed HEAD into it (a git bundle: what a clean checkout
# gets, nothing uncommitted and no build/), and runs the README's commands
# there exactly as written, as root:
#
#     git clone ... rcptsync && cd rcptsync && make demo && make check
#
# so every package, every dependency build and every test starts from
# nothing, as on a new machine.  The output goes to
# build/fresh/check-fresh.COMMIT.PID.log; at the end this prints the dependency
# versions the build used, the summary line of make check, and the time
# taken, and removes the root (KEEP=1 keeps it, for a look inside).
#
# Not part of make check or CI: it takes 30-45 minutes on 2 cores.
# Exit status: make check's, or 1 if the root could not be made.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=$top/build/fresh
mkdir -p "$out"
root=$out/root.$$
log=$out/check-fresh.$(git rev-parse --short HEAD).$$.log
start=$(date +%s)

cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "check-fresh: root kept at $root"
	else
		tools/debroot.sh remove "$root"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tools/debroot.sh create "$root" || exit 1
git bundle create -q "$root/root/rcptsync.bundle" HEAD ||
    { echo "check-fresh: git bundle failed" >&2; exit 1; }
printf 'check-fresh: %s in %s; log in %s\n' "$(git log -1 --format='%h %s')" "$root" "$log"

tools/debroot.sh enter "$root" /bin/sh -c '
	set -e
	cd /root
	git clone -q rcptsync.bundle rcptsync
	cd rcptsync
	echo "+ make demo"
	make demo
	echo "+ make check"
	make check
' >"$log" 2>&1
rc=$?

echo "check-fresh: make demo and make check exited $rc after $(( ($(date +%s) - start) / 60 )) min"
grep '^deps: openssl\|^deps: libssh2' "$log" | sort -u
grep '^# deps' "$log" | sort -u
grep -E '^\[.*\] (not ok|skip) - ' "$log"
grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 2
[ $rc -eq 0 ] || tail -n 30 "$log"
exit $rc
