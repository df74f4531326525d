# tests/reach.sh - run the tests from a path the daemons' users can reach.
#
# Sourced first thing by tests/run, tests/demo.sh and tests/bench.sh.  The
# tests run daemons and the receiver as other users (postfix, rcptsync,
# nobody), and those must reach the tree: its programs, the test configs,
# the spool, state and map directories under build/tests.  A clone in
# /root (mode 0700 on Debian) is out of their reach, so on a fresh machine
# Postfix could not even open its lock file.
#
# When user nobody cannot read this file, the calling script is run again,
# with its arguments, from a bind mount of the tree at /run/rcptsync-tree.*
# inside a private mount namespace (unshare -m): no permission on the
# machine changes, and the mount goes away with the run.  In a chroot
# (make check-fresh's root), where "/" is no mount point, the namespace
# keeps its propagation, which is safe there because no mount is shared
# (tools/mountns.sh).  RS_TOP then names the mount.  Nothing happens when the tree is reachable, when not
# root (the tests need root anyway and say so), or inside such a run.

_rs_top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${RS_REACHABLE:-}" ] && [ "$(id -u)" = 0 ] &&
    ! setpriv --reuid=65534 --regid=65534 --clear-groups -- \
    test -r "$_rs_top/tests/reach.sh" 2>/dev/null; then
	_rs_self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
	echo "# $_rs_top is out of reach for the users the tests run daemons as" \
	    "(a parent directory lacks o+x): running from a bind mount of it" \
	    "under /run, in a private mount namespace"
	# Private propagation where possible, so that the bind mount is seen
	# nowhere else (tools/mountns.sh).
	. "$_rs_top/tools/mountns.sh"
	if ! _rs_prop=$(mountns_prop); then
		echo "# cannot make a private mount for the tree: unshare cannot" \
		    "change propagation here and a mount is shared" >&2
		exit 2
	fi
	exec unshare --mount --propagation "$_rs_prop" -- /bin/sh -c '
		top=$1 rel=$2
		shift 2
		d=$(mktemp -d /run/rcptsync-tree.XXXXXX) || exit 1
		if ! mount --bind "$top" "$d"; then rmdir "$d"; exit 1; fi
		cd "$d" || exit 1
		RS_REACHABLE=1 RS_TOP=$d sh "$d/$rel" "$@"
		rc=$?
		cd / && umount "$d" && rmdir "$d"
		exit $rc
	' rs-reach "$_rs_top" "${_rs_self#"$_rs_top"/}" "$@"
fi
unset _rs_top _rs_prop
