#!/bin/sh
# debroot.sh - a throwaway Debian 12 root, for make check-fresh and t-deb.
#
# Usage:
#   tools/debroot.sh create ROOT        debootstrap bookworm (minbase, plus
#                                       ca-certificates, git and make) into ROOT
#   tools/debroot.sh enter ROOT CMD...  run CMD chrooted in ROOT, as root
#   tools/debroot.sh remove ROOT        end what still runs in ROOT, delete it
#
# create unpacks a tarball that debootstrap made once and that is cached as
# build/debroot/bookworm.tgz, so a second root costs about 20 seconds and
# no download; the packages come from the mirror this machine's apt already
# uses for bookworm (apt-get indextargets).  The root's apt sources name
# bookworm, bookworm-updates and bookworm-security on those mirrors, as on
# a freshly installed Debian 12.
#
# enter runs CMD in a private mount namespace (unshare -m; inside another
# such root, where "/" is no mount point, see tools/mountns.sh), with /proc,
# /sys, /dev (bound), /dev/pts, a new /run and a new /dev/shm mounted for
# it alone: when CMD ends, the namespace and its mounts go away with it, so
# nothing is left mounted inside ROOT, whatever CMD did.  The network
# namespace is the host's: apt inside the root must reach the registry.
# The servers the tests start listen on free loopback ports, and those
# that need fixed ports (Samba) enter a network namespace of their own, as
# outside the root.  CMD gets a clean environment (HOME=/root, a standard
# PATH, LANG=C.UTF-8), plus CI when it is set.
#
# Exit status: create and remove 0 or 1; enter CMD's status (1 if the
# root cannot be entered).  Needs root, debootstrap and unshare.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache="$top/build/debroot"
SUITE=bookworm
INCLUDE=ca-certificates,git,make

say() { printf 'debroot: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

apt_site() {	# apt_site RELEASE: the mirror of the first deb entry for it
	apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' |
	    awk -v r="$1" '$2 == r && $3 == "deb" { print $1; exit }'
}

create() {
	root=$1
	[ -e "$root" ] && die "create $root: already exists"
	command -v debootstrap >/dev/null || die "create $root: debootstrap is not installed"
	main=$(apt_site "$SUITE") sec=$(apt_site "$SUITE-security")
	[ -n "$main" ] && [ -n "$sec" ] ||
	    die "create $root: no apt entry for $SUITE and $SUITE-security to take the mirrors from"
	mkdir -p "$cache"
	if [ ! -f "$cache/$SUITE.tgz" ]; then
		say "making $cache/$SUITE.tgz (once; a few minutes)"
		t=$(mktemp -d "$cache/tarball.XXXXXX")
		debootstrap --variant=minbase --include="$INCLUDE" \
		    --make-tarball="$cache/$SUITE.tgz.new" "$SUITE" "$t" "$main" \
		    >"$cache/make-tarball.log" 2>&1 ||
		    { tail -n 20 "$cache/make-tarball.log" >&2; rm -rf "$t"; die "debootstrap --make-tarball failed"; }
		rm -rf "$t"
		mv "$cache/$SUITE.tgz.new" "$cache/$SUITE.tgz"
	fi
	mkdir -p "$root"
	debootstrap --variant=minbase --include="$INCLUDE" \
	    --unpack-tarball="$cache/$SUITE.tgz" "$SUITE" "$root" "$main" \
	    >"$root.debootstrap.log" 2>&1 ||
	    { tail -n 20 "$root.debootstrap.log" >&2; die "debootstrap into $root failed"; }
	rm -f "$root.debootstrap.log" "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $main
	Suites: $SUITE $SUITE-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: $sec
	Suites: $SUITE-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	echo rcptsync-fresh >"$root/etc/hostname"
	say "created $root ($SUITE)"
}

enter() {
	root=$1
	shift
	[ -x "$root/bin/sh" ] || die "enter $root: not a root made by create"
	# Everything below happens inside the new mount namespace: the mounts
	# are private to it and vanish with it.
	. "$top/tools/mountns.sh"
	prop=$(mountns_prop) ||
	    die "enter $root: no private mount namespace can be made here (a mount is shared)"
	exec unshare --mount --propagation "$prop" -- /bin/sh -eu -c '
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs -o mode=0755 tmpfs "$r/run"
		mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
		exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
		    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		    ${CI:+CI=$CI} "$@"
	' debroot-enter "$root" "$@"
}

remove() {
	root=$1
	[ -d "$root" ] || return 0
	# A root is only ever mounted inside an enter's own namespace, so
	# there is nothing to unmount here; refuse if something is anyway,
	# rather than delete through a bind mount.
	if awk -v r="$(cd "$root" && pwd -P)/" 'index($2 "/", r) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
		die "remove $root: something is still mounted below it"
	fi
	# Processes still running inside (an interrupted enter: the namespace
	# went, its children did not) are ended first, by their root.
	real=$(cd "$root" && pwd -P)
	for sig in TERM KILL; do
		for p in /proc/[0-9]*; do
			case $(readlink "$p/root" 2>/dev/null) in
			"$real" | "$real (deleted)") kill -s "$sig" "${p#/proc/}" 2>/dev/null ;;
			esac
		done
		[ "$sig" = TERM ] && sleep 2
	done
	rm -rf "$root"
	say "removed $root"
}

[ "$(id -u)" = 0 ] || die "needs root"
[ $# -ge 2 ] || die "usage: debroot.sh create|enter|remove ROOT [CMD...]"
cmd=$1
shift
case $cmd in
create) create "$1" ;;
enter) enter "$@" ;;
remove) remove "$1" ;;
*) die "unknown command: $cmd" ;;
esac
