# tools/mountns.sh - which propagation a new mount namespace can have.
#
# Sourced by tools/debroot.sh and tests/reach.sh.  mountns_prop prints
# the --propagation value for "unshare --mount": "private" wherever
# unshare can make it so, which keeps every mount made inside from being
# seen in any other namespace.  In a chroot (make check-fresh's root) "/"
# is no mount point and unshare fails to change it (EINVAL); there it
# prints "unchanged", which is as safe only when no mount visible here is
# shared (the chroot's own namespace was made private already).  Returns
# 1, printing nothing, when neither holds.
mountns_prop() {
	if unshare --mount --propagation private true 2>/dev/null; then
		echo private
	elif ! grep -q ' shared:' /proc/self/mountinfo; then
		echo unchanged
	else
		return 1
	fi
}
