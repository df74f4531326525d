/*
 * sys.h - what the agent needs from the operating system, implemented by
 * sys_unix.c and sys_win.c.  The agent core (export, push, state, commands)
 * calls only these and the portable libraries (libssh2, zlib, OpenSSL).
 *
 * Paths are UTF-8; sys_win.c converts to UTF-16 at each Win32 call.
 * Errors: RS_ERR_* (RS_ERR_SYSTEM with sys_errmsg() for the OS's text).
 */
#ifndef RS_SYS_H
#define RS_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rs_attr.h"

#include <libssh2.h>		/* libssh2_socket_t */

struct rs_buf;

/* One-time setup (Winsock, OpenSSL init without config files). */
int	sys_init(void);

/* The OS's text for the last RS_ERR_SYSTEM of this thread. */
const char *sys_errmsg(void);

/* Read a whole file, at most max bytes (RS_ERR_LIMIT beyond). */
int	sys_read_file(const char *path, size_t max, struct rs_buf *out);
/*
 * Read a file in chunks: fn(arg, p, n) for each, in order; a non-zero
 * return stops the read and is returned.  For files read only once from
 * end to end (the last list, 24 MB at a million addresses): nothing is
 * kept.  RS_ERR_NOTFOUND when there is no file.  Windows: the same
 * ownership check as sys_read_file, on the open handle.
 */
typedef int sys_chunk_fn(void *arg, const void *p, size_t n);
int	sys_read_each(const char *path, sys_chunk_fn *fn, void *arg);
/*
 * Replace path atomically: write a temporary file in the same directory,
 * flush it to disk, rename it over path (Windows: MoveFileExW with
 * REPLACE_EXISTING, retried for a bounded time while antivirus holds the
 * file), then flush the directory where the OS allows.  private: readable
 * by the owner only (Unix 0600; Windows ACL SYSTEM + Administrators).
 */
int	sys_write_file(const char *path, const void *p, size_t n, int private);
/*
 * The same in steps, for a file written as it is made (the bundle, the
 * last list): open creates the temporary file, commit flushes it and
 * renames it over path, abort removes it.  commit and abort free f
 * (abort takes NULL); on a failed write, call abort.
 */
struct sys_wfile;
int	sys_wfile_open(const char *path, int private, struct sys_wfile **out);
int	sys_wfile_write(struct sys_wfile *f, const void *p, size_t n);
int	sys_wfile_commit(struct sys_wfile *f);
void	sys_wfile_abort(struct sys_wfile *f);
int	sys_remove(const char *path);		/* absent is RS_OK */
/* Create a directory and its parents; private as above. */
int	sys_mkdirs(const char *path, int private);
int	sys_exists(const char *path);

/*
 * The separator the platform writes between path parts: '/' on Unix, '\\'
 * on Windows (which also reads '/').  agent_path joins with it.
 */
char	sys_path_sep(void);

/* Default paths: config file and state directory. */
const char *sys_default_config(void);
const char *sys_default_state_dir(void);

/* TCP connect with a timeout; on failure *s is invalid and msg is set. */
int	sys_tcp_connect(const char *host, unsigned port, unsigned timeout,
	    libssh2_socket_t *s, char *msg, size_t msgsize);
void	sys_tcp_close(libssh2_socket_t s);

/*
 * Wait up to secs, returning early with 1 when the program was asked to stop
 * (SIGTERM/SIGINT, or SERVICE_CONTROL_STOP), 2 when an immediate sync was
 * requested (SIGUSR1, or the service's custom control), 3 when the config
 * should be reloaded (SIGHUP, SERVICE_CONTROL_PARAMCHANGE), 0 on timeout.
 */
int	sys_wait(unsigned secs);
/* Non-blocking check of the same: 1 when a stop is pending. */
int	sys_stop_requested(void);
/* Milliseconds of a clock that never goes back (for short waits). */
uint64_t sys_msec(void);

/*
 * Serialize cycles that share a state directory (the service and a Task
 * Scheduler `sync`, or two shells): take an exclusive lock on STATE/lock,
 * waiting up to wait_secs.  RS_ERR_LIMIT when another agent still holds
 * it after that; the error text names the lock file.  *h is released by
 * sys_unlock_state (NULL is fine), and by the OS if the process dies.
 */
int	sys_lock_state(const char *state_dir, unsigned wait_secs, void **h);
void	sys_unlock_state(void *h);

/* Default [ldap] bind: negotiate on Windows, simple on Unix. */
int	sys_default_bind(void);		/* an enum ldapx_bind */

/* Is stderr a terminal (progress output)? */
int	sys_isatty_stderr(void);

/*
 * The LDAP simple-bind password from the [ldap] section: Unix reads
 * password_file (first line); Windows decrypts the DPAPI blob in
 * `password`.  The caller wipes out with rs_buf_free.
 */
struct cfg_section;
int	sys_get_password(const struct cfg_section *ldap, struct rs_buf *out);

/*
 * Events an administrator acts on.  Unix logs them at the matching level;
 * Windows reports them to the event log (message table messages.mc, IDs
 * below) and to the log file.  1xxx information, 2xxx warning, 3xxx error.
 */
enum sys_event {
	SYS_EV_SYNC_OK		= 1000,	/* list installed by a relay */
	SYS_EV_UNCHANGED	= 1001,	/* list unchanged, nothing pushed */
	SYS_EV_STARTED		= 1002,	/* service started */
	SYS_EV_STOPPED		= 1003,	/* service stopped */
	SYS_EV_RELOADED		= 1004,	/* configuration reloaded */
	SYS_EV_SHRINK		= 2001,	/* agent's shrink guard refused the list */
	SYS_EV_RELAY_STALE	= 2002,	/* relay unconfirmed past stale_warning */
	SYS_EV_RETRY		= 2003,	/* a step failed, will retry */
	SYS_EV_LDAP		= 3001,	/* LDAP connect, bind or search failed */
	SYS_EV_SFTP		= 3002,	/* SSH or SFTP failed */
	SYS_EV_HOSTKEY		= 3003,	/* relay host key does not match the pin */
	SYS_EV_REFUSED		= 3004,	/* relay refused the list (reason given) */
	SYS_EV_CONFIG		= 3005,	/* configuration error */
	SYS_EV_NO_VERDICT	= 3006,	/* relay did not process the list in time */
	SYS_EV_RELAY_STALE_CRIT	= 3007,	/* relay unconfirmed past stale_critical */
	SYS_EV_CRASH		= 3008,	/* Windows: unhandled exception, exit 70 */
};
void	sys_event(enum sys_event ev, const char *fmt, ...)
    RS_PRINTF(2, 3)
    ;

#endif /* RS_SYS_H */
