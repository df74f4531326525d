/*
 * priv.c - started as root, become the receiver's own user before touching
 * anything.
 *
 * API:        rcv_priv_drop.
 * Ownership:  nothing is allocated.
 * Errors:     RS_ERR_SYNTAX (logged) when the configured user does not
 *             exist; RS_ERR_SYSTEM (logged) when state_dir cannot be
 *             examined or a step of the switch fails or does not hold.
 *             Either way the caller exits without touching STATE.
 * Trust:      the configuration is the admin's.  Without a `user` setting
 *             the owner of state_dir is taken, as Postfix takes mail_owner
 *             from its queue: whoever owns the state is who may write it.
 *
 * Why: a receiver run as root (an admin typing `rcptsync-receiver
 * approve`) used to leave STATE files owned by root, mode 0600, which the
 * next run as rcptsync could not read: every install failed from then on.
 * Running as the owner of the state keeps every file writable by the
 * receiver that runs next, whoever starts it.  When that owner is root
 * (a root-owned state_dir, or user = root) nothing changes hands, and the
 * receiver keeps running as root with a warning.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "receiver.h"
#include "rs_err.h"

int
rcv_priv_drop(const struct rcv_cfg *c, const char *cmd)
{
	const struct passwd *pw;
	struct stat st;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return RS_OK;
	if (c->user != NULL) {
		errno = 0;
		if ((pw = getpwnam(c->user)) == NULL) {
			rs_error("config %s: user = %s: no such user; create "
			    "it (systemd-sysusers rcptsync.conf) or set user "
			    "to the owner of %s", c->path, c->user,
			    c->state_dir);
			return RS_ERR_SYNTAX;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		if (stat(c->state_dir, &st) == -1) {
			rs_error("%s as root: stat state_dir %s: %s; create it "
			    "(systemd-tmpfiles --create rcptsync.conf) or set "
			    "user in %s", cmd, c->state_dir, strerror(errno),
			    c->path);
			return RS_ERR_SYSTEM;
		}
		uid = st.st_uid;
		gid = st.st_gid;
		pw = getpwuid(uid);
		if (pw != NULL)
			gid = pw->pw_gid;
	}
	if (uid == 0) {
		rs_warn("%s: running as root (%s); run rcptsync-receiver as "
		    "its own user: chown state_dir to rcptsync or set user in "
		    "%s", cmd, c->user != NULL ? "user = root" :
		    "state_dir belongs to root", c->path);
		return RS_OK;
	}
	/* Groups first, then the group, then the user: each needs root. */
	if ((pw != NULL ? initgroups(pw->pw_name, gid) : setgroups(1, &gid)) ==
	    -1 || setgid(gid) == -1 || setuid(uid) == -1) {
		rs_error("%s: switch to uid %ld gid %ld: %s", cmd, (long)uid,
		    (long)gid, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	/* Checked, not assumed: no way back to root must be left. */
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid || setuid(0) != -1) {
		rs_error("%s: switch to uid %ld gid %ld did not hold", cmd,
		    (long)uid, (long)gid);
		return RS_ERR_SYSTEM;
	}
	rs_debug("%s: started as root, now running as %s (uid %ld gid %ld)",
	    cmd, pw != NULL ? pw->pw_name : "the owner of state_dir",
	    (long)uid, (long)gid);
	return RS_OK;
}
