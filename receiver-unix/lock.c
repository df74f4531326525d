/*
 * lock.c - one rcptsync-receiver at a time.
 *
 * API:        rcv_lock_acquire, rcv_lock_release.
 * Ownership:  the caller holds the returned descriptor until release; the
 *             kernel drops the lock when the process (and any postmap it
 *             started) is gone, so a killed receiver never blocks the
 *             next one for longer than its orphaned postmap runs.
 * Errors:     RS_ERR_SYSTEM (logged) when STATE/lock cannot be opened, or
 *             when another receiver holds the lock longer than
 *             RS_LOCK_WAIT_SECS.
 * Trust:      STATE is the receiver's own directory; O_NOFOLLOW still
 *             keeps a planted symlink from redirecting the open.
 *
 * A second receiver (a systemd .path trigger racing an inetd connection)
 * waits for the first and then processes whatever is left in the spool.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"

int
rcv_lock_acquire(const struct rcv_cfg *c, int *fdp)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	char path[4096];
	time_t start;
	int fd, warned = 0;

	*fdp = -1;
	if (rcv_util_path(path, sizeof(path), c->state_dir, "lock") != RS_OK)
		return RS_ERR_LIMIT;
	/*
	 * Deliberately not O_CLOEXEC: postmap inherits the descriptor and
	 * with it the lock.  If this receiver is killed while postmap runs,
	 * the orphaned postmap keeps the lock until it exits, so the next
	 * receiver cannot race it on MAP.new's table.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
	if (fd == -1) {
		rs_error("open %s: %s", path, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	start = time(NULL);
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rs_error("lock %s: %s", path, strerror(errno));
			close(fd);
			return RS_ERR_SYSTEM;
		}
		if (!warned) {
			rs_info("lock %s: another receiver is running, "
			    "waiting", path);
			warned = 1;
		}
		if (time(NULL) - start > RS_LOCK_WAIT_SECS) {
			rs_error("lock %s: still held after %d seconds",
			    path, RS_LOCK_WAIT_SECS);
			close(fd);
			return RS_ERR_SYSTEM;
		}
		nanosleep(&pause, NULL);
	}
	*fdp = fd;
	return RS_OK;
}

void
rcv_lock_release(int fd)
{
	if (fd != -1)
		close(fd);
}
