/*
 * eventlog_win.c - where the Windows agent's messages go: the Windows Event
 * Log (events of sys.h, message table messages.mc), a rotating log file
 * under %ProgramData%\rcptsync\log, and the console.
 *
 * API (win_int.h):
 *   win_log_open(path)      start writing the log file (directory created)
 *   win_log_sink            the rs_log sink: timestamped line to the file,
 *                           plain line to stderr when enabled
 *   win_log_stderr(on)      console output on/off (off in the service)
 *   win_eventlog_report     one event, ReportEventW with the message ID
 *   win_eventlog_register   HKLM\SYSTEM\CurrentControlSet\Services\EventLog
 *                           \Application\rcptsync-agent, EventMessageFile =
 *                           the exe (its message table), TypesSupported
 *
 * The file is rotated when it passes RS_WIN_LOG_ROTATE bytes: agent.log ->
 * agent.log.1 -> ... -> agent.log.RS_WIN_LOG_KEEP (the oldest is dropped).  It
 * is opened with full sharing so that an administrator (or a test) can read
 * it while the service runs, and each line is written with one WriteFile
 * call, so readers never see half a line from us.
 *
 * Under Wine, ReportEventW is a stub; the log file is what tests check.
 *
 * Errors: logging never fails its caller; a log file that cannot be
 * opened or written is reported once on stderr and then ignored.
 * Ownership: all state is file-local and lives until win_log_close.
 * Trust boundary: the text comes from the agent itself; an existing log
 * file must pass the trust check of acl_win.h (a planted file would
 * receive what the service writes), a new one is created private.
 */
#include "win_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "rs_limits.h"
#include "messages.h"
#include "rs_err.h"
#include "sys.h"

/*
 * Rotation size and the number of old files kept.  Not in limits.h yet
 * (requested): they bound disk use of the log, not untrusted input.
 */

static CRITICAL_SECTION	log_lock;
static INIT_ONCE	log_once = INIT_ONCE_STATIC_INIT;
static HANDLE		log_file = INVALID_HANDLE_VALUE;
static wchar_t		*log_path;
static int		 log_to_stderr = 1;
static int		 log_broken;
static HANDLE		 ev_source;

static BOOL CALLBACK
log_init_once(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
	(void)once;
	(void)param;
	(void)ctx;
	InitializeCriticalSection(&log_lock);
	return TRUE;
}

static void
log_lock_init(void)
{
	InitOnceExecuteOnce(&log_once, log_init_once, NULL, NULL);
}

/*
 * Append-only (FILE_APPEND_DATA without FILE_WRITE_DATA), private when
 * new; an existing file must pass the trust check, or a planted log
 * (another user's file) would receive what the service writes.
 */
static HANDLE
log_open_handle(const wchar_t *path)
{
	HANDLE h;
	char *u;

	h = win_create_file(path, 1, FILE_APPEND_DATA | SYNCHRONIZE |
	    READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE |
	    FILE_SHARE_DELETE, OPEN_ALWAYS);
	if (h == INVALID_HANDLE_VALUE || GetLastError() != ERROR_ALREADY_EXISTS)
		return h;
	u = win_utf8(path);
	if (win_check_handle(h, u != NULL ? u : "the log file", 0) != RS_OK) {
		CloseHandle(h);
		h = INVALID_HANDLE_VALUE;
		SetLastError(ERROR_SUCCESS);	/* sys_errmsg says why */
	}
	free(u);
	return h;
}

/* agent.log.N as a new wide string; NULL on no memory. */
static wchar_t *
log_numbered(const wchar_t *path, int n)
{
	size_t len = wcslen(path) + 16;
	wchar_t *w;

	if ((w = malloc(len * sizeof(*w))) == NULL)
		return NULL;
	if (n == 0)
		_snwprintf(w, len, L"%ls", path);
	else
		_snwprintf(w, len, L"%ls.%d", path, n);
	w[len - 1] = L'\0';
	return w;
}

/* Called with log_lock held: shift agent.log.N up by one, reopen. */
static void
log_rotate(void)
{
	wchar_t *from = NULL, *to = NULL;
	int n;

	CloseHandle(log_file);
	log_file = INVALID_HANDLE_VALUE;
	for (n = RS_WIN_LOG_KEEP - 1; n >= 0; n--) {
		from = log_numbered(log_path, n);
		to = log_numbered(log_path, n + 1);
		if (from != NULL && to != NULL)
			MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING);
		free(from);
		free(to);
	}
	log_file = log_open_handle(log_path);
}

int
win_log_open(const char *path)
{
	char dir[MAX_PATH * 3];
	char *slash;
	wchar_t *w = NULL;
	HANDLE h;
	int rc = RS_ERR_SYSTEM;

	log_lock_init();
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		rc = RS_ERR_LIMIT;
		goto out;
	}
	slash = strrchr(dir, '\\');
	if (strrchr(dir, '/') > slash)
		slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		if ((rc = sys_mkdirs(dir, 1)) != RS_OK)
			goto out;
	}
	if ((w = win_wide(path)) == NULL) {
		rc = RS_ERR_INVAL;
		goto out;
	}
	if ((h = log_open_handle(w)) == INVALID_HANDLE_VALUE) {
		if (GetLastError() != ERROR_SUCCESS)
			win_set_error(GetLastError());
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	EnterCriticalSection(&log_lock);
	if (log_file != INVALID_HANDLE_VALUE)
		CloseHandle(log_file);
	free(log_path);
	log_file = h;
	log_path = w;
	w = NULL;
	log_broken = 0;
	LeaveCriticalSection(&log_lock);
	rc = RS_OK;
 out:
	free(w);
	return rc;
}

void
win_log_close(void)
{
	log_lock_init();
	EnterCriticalSection(&log_lock);
	if (log_file != INVALID_HANDLE_VALUE)
		CloseHandle(log_file);
	log_file = INVALID_HANDLE_VALUE;
	free(log_path);
	log_path = NULL;
	LeaveCriticalSection(&log_lock);
	if (ev_source != NULL) {
		DeregisterEventSource(ev_source);
		ev_source = NULL;
	}
}

void
win_log_stderr(int on)
{
	log_to_stderr = on;
}

static const char *
log_level_name(enum rs_level level)
{
	switch (level) {
	case RS_LOG_DEBUG:	return "debug";
	case RS_LOG_INFO:	return "info";
	case RS_LOG_WARN:	return "warning";
	case RS_LOG_ERR:	return "error";
	}
	return "?";
}

void
win_log_sink(enum rs_level level, const char *line, void *arg)
{
	char buf[RS_LOG_LINE + 128];
	LARGE_INTEGER size;
	SYSTEMTIME st;
	DWORD done;
	int n;

	(void)arg;
	log_lock_init();
	EnterCriticalSection(&log_lock);
	if (log_to_stderr) {
		fprintf(stderr, "rcptsync-agent: %s\n", line);
		fflush(stderr);
	}
	if (log_file == INVALID_HANDLE_VALUE || log_broken)
		goto out;
	GetSystemTime(&st);
	n = snprintf(buf, sizeof(buf),
	    "%04u-%02u-%02uT%02u:%02u:%02uZ [%lu] %s: %s\r\n",
	    st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute, st.wSecond,
	    (unsigned long)GetCurrentProcessId(), log_level_name(level), line);
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(buf)) {
		/* Truncated: keep the line ending. */
		n = (int)sizeof(buf) - 1;
		buf[n - 2] = '\r';
		buf[n - 1] = '\n';
	}
	if (!WriteFile(log_file, buf, (DWORD)n, &done, NULL)) {
		if (log_to_stderr)
			fprintf(stderr, "rcptsync-agent: write log file: "
			    "error %lu; logging to the file stops\n",
			    (unsigned long)GetLastError());
		log_broken = 1;
		goto out;
	}
	if (GetFileSizeEx(log_file, &size) && size.QuadPart > RS_WIN_LOG_ROTATE)
		log_rotate();
 out:
	LeaveCriticalSection(&log_lock);
}

static const struct {
	enum sys_event	 ev;
	DWORD		 msg;
	WORD		 type;
} ev_table[] = {
	{ SYS_EV_SYNC_OK,	MSG_SYNC_OK,	EVENTLOG_INFORMATION_TYPE },
	{ SYS_EV_UNCHANGED,	MSG_UNCHANGED,	EVENTLOG_INFORMATION_TYPE },
	{ SYS_EV_STARTED,	MSG_STARTED,	EVENTLOG_INFORMATION_TYPE },
	{ SYS_EV_STOPPED,	MSG_STOPPED,	EVENTLOG_INFORMATION_TYPE },
	{ SYS_EV_RELOADED,	MSG_RELOADED,	EVENTLOG_INFORMATION_TYPE },
	{ SYS_EV_SHRINK,	MSG_SHRINK,	EVENTLOG_WARNING_TYPE },
	{ SYS_EV_RELAY_STALE,	MSG_RELAY_STALE, EVENTLOG_WARNING_TYPE },
	{ SYS_EV_RETRY,		MSG_RETRY,	EVENTLOG_WARNING_TYPE },
	{ SYS_EV_LDAP,		MSG_LDAP,	EVENTLOG_ERROR_TYPE },
	{ SYS_EV_SFTP,		MSG_SFTP,	EVENTLOG_ERROR_TYPE },
	{ SYS_EV_HOSTKEY,	MSG_HOSTKEY,	EVENTLOG_ERROR_TYPE },
	{ SYS_EV_REFUSED,	MSG_REFUSED,	EVENTLOG_ERROR_TYPE },
	{ SYS_EV_CONFIG,	MSG_CONFIG,	EVENTLOG_ERROR_TYPE },
	{ SYS_EV_NO_VERDICT,	MSG_NO_VERDICT,	EVENTLOG_ERROR_TYPE },
	{ SYS_EV_RELAY_STALE_CRIT, MSG_RELAY_STALE_CRIT, EVENTLOG_ERROR_TYPE },
	{ SYS_EV_CRASH,		MSG_CRASH,	EVENTLOG_ERROR_TYPE },
};

void
win_eventlog_report(enum sys_event ev, const char *msg)
{
	DWORD id = MSG_GENERIC;
	WORD type = EVENTLOG_ERROR_TYPE;
	const wchar_t *strs[1];
	wchar_t *w;
	size_t i;

	for (i = 0; i < sizeof(ev_table) / sizeof(ev_table[0]); i++) {
		if (ev_table[i].ev == ev) {
			id = ev_table[i].msg;
			type = ev_table[i].type;
			break;
		}
	}
	/* The source is opened lazily and kept: RegisterEventSource is cheap
	 * but not free, and a service reports every few minutes. */
	if (ev_source == NULL &&
	    (ev_source = RegisterEventSourceW(NULL, WIN_SERVICE_NAME)) == NULL)
		return;
	if ((w = win_wide(msg)) == NULL)
		return;
	strs[0] = w;
	ReportEventW(ev_source, type, 0, id, NULL, 1, 0, strs, NULL);
	free(w);
}

void
sys_event(enum sys_event ev, const char *fmt, ...)
{
	char msg[RS_LOG_LINE];
	enum rs_level level;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((int)ev >= 3000)
		level = RS_LOG_ERR;
	else if ((int)ev >= 2000)
		level = RS_LOG_WARN;
	else
		level = RS_LOG_INFO;
	rs_log(level, "%s (event %d)", msg, (int)ev);
	win_eventlog_report(ev, msg);
}

/* Set one value under key; returns a Win32 error code. */
static LONG
ev_set(HKEY key, const wchar_t *name, DWORD type, const void *p, DWORD n)
{
	return RegSetValueExW(key, name, 0, type, (const BYTE *)p, n);
}

#define EV_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\"

int
win_eventlog_register(const wchar_t *exe)
{
	DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE |
	    EVENTLOG_INFORMATION_TYPE;
	HKEY key = NULL;
	LONG e;
	int rc = RS_ERR_SYSTEM;

	e = RegCreateKeyExW(HKEY_LOCAL_MACHINE, EV_KEY WIN_SERVICE_NAME, 0,
	    NULL, REG_OPTION_NON_VOLATILE, KEY_SET_VALUE, NULL, &key, NULL);
	if (e != ERROR_SUCCESS)
		goto fail;
	e = ev_set(key, L"EventMessageFile", REG_EXPAND_SZ, exe,
	    (DWORD)((wcslen(exe) + 1) * sizeof(*exe)));
	if (e != ERROR_SUCCESS)
		goto fail;
	if ((e = ev_set(key, L"TypesSupported", REG_DWORD, &types,
	    sizeof(types))) != ERROR_SUCCESS)
		goto fail;
	rc = RS_OK;
	goto out;
 fail:
	win_set_error((DWORD)e);
 out:
	if (key != NULL)
		RegCloseKey(key);
	return rc;
}

int
win_eventlog_unregister(void)
{
	LONG e;

	e = RegDeleteKeyW(HKEY_LOCAL_MACHINE, EV_KEY WIN_SERVICE_NAME);
	if (e != ERROR_SUCCESS && e != ERROR_FILE_NOT_FOUND) {
		win_set_error((DWORD)e);
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}
