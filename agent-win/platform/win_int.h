/*
 * win_int.h - internal interfaces between the Windows-only files of the
 * agent: sys_win.c, eventlog_win.c, service_win.c, main_win.c.  The
 * portable core never includes this header; it sees only sys.h, ldapx.h
 * and agent.h.
 *
 * Strings: UTF-8 everywhere except the *_w helpers, which convert at the
 * Win32 boundary.  Returned wide and narrow strings from win_wide() and
 * win_utf8() are malloc'ed and owned by the caller (free()).
 * Errors: RS_OK or a negative RS_ERR_*; RS_ERR_SYSTEM sets the text that
 * sys_errmsg() returns (win_set_error).
 */
#ifndef RS_WIN_INT_H
#define RS_WIN_INT_H

#include <winsock2.h>	/* before windows.h, as libssh2.h needs */
#include <windows.h>
#include <stddef.h>

#include "log.h"
#include "sys.h"
#include "utf16_win.h"

/* The service name (SCM key, event source, log file name). */
#define WIN_SERVICE_NAME	L"rcptsync-agent"
#define WIN_DISPLAY_NAME	L"rcptsync agent"
/* Custom service control: run a sync now (sys_wait returns 2). */
#define WIN_CONTROL_SYNC_NOW	128

/* --- sys_win.c ----------------------------------------------------- */

/* UTF-8 <-> UTF-16: win_wide, win_utf8 (utf16_win.h). */
/*
 * DPAPI (machine scope) protect pw[0..n) for the [ldap] password key:
 * *b64 is the base64 blob (malloc'ed, caller frees).  sys_get_password
 * undoes it.
 */
int	 win_protect_password(const char *pw, size_t n, char **b64);

/*
 * Trust (Win32-OpenSSH's check_secure_file_permission): may the agent use
 * the file or folder open as h (with READ_CONTROL)?  It must be owned by
 * SYSTEM, Administrators or the agent's own account, and no one else may
 * write to it.  RS_OK, or RS_ERR_SYSTEM with sys_errmsg "refused: WHY"
 * (naming the account) after a SYS_EV_CONFIG event naming path.
 * secret (a private key): nobody else may read it either.
 */
int	 win_check_handle(HANDLE h, const char *path, int secret);
/* Events for refusals on (the default) or off (a read the core repeats). */
void	 win_trust_events(int on);
/* The same rule on an SDDL string (tests): 1 trusted, 0 not, -1 bad SDDL. */
int	 win_check_sddl(const char *sddl, int secret, char *why,
	    size_t whysize);
/*
 * CreateFileW with the agent's owner (Administrators) and, when private,
 * the protected DACL (SYSTEM and Administrators only) set in the same
 * call; a process that may not make Administrators the owner creates the
 * file as its own.  GetLastError on INVALID_HANDLE_VALUE.
 */
HANDLE	 win_create_file(const wchar_t *path, int private, DWORD access,
	    DWORD share, DWORD disposition);

/* Record err (a GetLastError/WSAGetLastError value) for sys_errmsg. */
void	 win_set_error(DWORD err);
/* Record a text of our own for sys_errmsg. */
void	 win_set_errtext(const char *text);
/* The text of err, UTF-8, without the trailing newline. */
void	 win_strerror(DWORD err, char *out, size_t outsize);

/* %ProgramData%\rcptsync (known folder, never the environment), UTF-8. */
const char *win_data_dir(void);
/* %ProgramData%\rcptsync\log\agent.log */
const char *win_default_log(void);

/*
 * Signal the waits of sys_wait/sys_stop_requested: 1 stop (stays set),
 * 2 sync now, 3 reload.  Safe from any thread and from console and
 * service control handlers (it only sets an event).
 */
void	 win_signal(int what);

/* --- eventlog_win.c ------------------------------------------------ */

/*
 * The log sink of every command: a line to stderr when there is a
 * console, and to the rotating log file once win_log_open succeeded.
 */
int	 win_log_open(const char *path);
void	 win_log_close(void);
void	 win_log_sink(enum rs_level level, const char *line, void *arg);
void	 win_log_stderr(int on);
/* Report one event to the Windows event log (a no-op when unavailable). */
void	 win_eventlog_report(enum sys_event ev, const char *msg);
/* Register / remove the event source (HKLM ...\EventLog\Application). */
int	 win_eventlog_register(const wchar_t *exe);
int	 win_eventlog_unregister(void);

/* --- main_win.c ---------------------------------------------------- */

/* What the config names that win_preflight checks (win_config_paths). */
#define WIN_PATH_MAX		(MAX_PATH * 3)
#define WIN_MAX_KEY_FILES	40	/* signing key, 2 per relay (16) */
struct win_paths {
	char	 log[WIN_PATH_MAX];	/* [agent] log_file or the default */
	char	 state[WIN_PATH_MAX];	/* [agent] state_dir or the default */
	size_t	 nkeys;			/* signing_key, private_key, */
	char	 keys[WIN_MAX_KEY_FILES][WIN_PATH_MAX];	/* known_hosts */
	unsigned char secret[WIN_MAX_KEY_FILES];	/* a private key */
};

/*
 * Fill p from config.  The core reports a config that does not read or
 * parse when it loads it; p then holds the defaults.
 */
void	 win_config_paths(const char *config, struct win_paths *p);
/*
 * The trust check, before the config is read: the config's folder, the
 * state folder's owner, every file in the state folder, and the key
 * files p names (absent ones are fine).  AGENT_EXIT_OK, or
 * AGENT_EXIT_USAGE after the reason went to the log and an event.
 */
int	 win_preflight(const char *config, const struct win_paths *p);

/* --- service_win.c ------------------------------------------------- */

/* `service`: hand the process to the SCM; returns the exit code. */
int	 service_dispatch(const char *config, const struct win_paths *p);
/* install [-c CONFIG]: create, configure and register the service. */
int	 service_install(const char *config);
int	 service_uninstall(void);
int	 service_start(void);
int	 service_stop(void);
int	 service_sync_now(void);
int	 service_reload(void);

#endif /* RS_WIN_INT_H */
