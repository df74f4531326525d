/*
 * service_win.c - rcptsync-agent.exe as a Windows service: the SCM side
 * (ServiceMain, the control handler) and the commands that manage the
 * service (install, uninstall, start, stop, sync-now, reload).
 *
 * API (win_int.h): service_dispatch, service_install, service_uninstall,
 * service_start, service_stop, service_sync_now, service_reload (sends
 * SERVICE_CONTROL_PARAMCHANGE: re-read the configuration).  Each returns an exit
 * code of docs/HACKING.md (0 ok, 1 failure, 2 usage).
 *
 * Threads and shutdown (the order matters):
 *   - The control handler runs on the dispatcher thread.  It never waits
 *     and never does work: STOP and SHUTDOWN report STOP_PENDING and set
 *     the stop event; the custom control WIN_CONTROL_SYNC_NOW (128) sets
 *     the sync event; PARAMCHANGE sets the reload event (win_signal).
 *   - ServiceMain runs agent_run() on its own thread.  The core checks
 *     sys_stop_requested() between LDAP pages and SFTP steps, and
 *     sys_wait() returns at once when the stop event is set, so a stop
 *     ends the cycle within seconds.  Only when agent_run has returned
 *     does ServiceMain report SERVICE_STOPPED: reported earlier, the SCM
 *     could start a new instance while this one still writes state.
 *   - Before agent_run, win_preflight checks the config's folder, the
 *     state folder and its files, and the key files (acl_win.h); a
 *     refusal stops the service with exit code 2 and event 3005.
 *   - While a stop is pending, a watchdog thread advances the checkpoint
 *     every second (so the SCM sees progress) and, should the cycle be
 *     stuck in a call without its own timeout, ends the process after
 *     SVC_STOP_LIMIT_MS.  All state files are replaced atomically, so an
 *     abrupt end loses nothing but the unfinished cycle.
 *
 * install: CreateServiceW (own process, LocalSystem, automatic start) with
 * delayed auto-start, a description, recovery actions (restart after 1, 1
 * and 5 minutes, also for a non-zero exit), the Event Log source, and the
 * private %ProgramData%\rcptsync directories (sys_mkdirs: owner and DACL
 * set; a folder someone else owns is refused, and install exits 2).
 * Installing again updates the existing service's command line.
 *
 * Errors: messages "<operation> <object>: <reason>" on stderr (these are
 * interactive commands) or to the log in the service.
 * Ownership: file-local state only; the config path given to
 * service_dispatch must outlive it.
 * Trust boundary: the SCM is trusted; control codes carry no data.
 */
#include "win_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "agent.h"
#include "log.h"
#include "rs_err.h"
#include "sys.h"

/* How long a stop may take before the watchdog ends the process. */
enum { SVC_STOP_LIMIT_MS = 30000, SVC_STOP_HINT_MS = 10000 };
/* How long start/stop/uninstall wait for the service to get there. */
enum { SVC_CMD_WAIT_MS = 30000 };
/* Recovery: restart after these delays; failure count reset after a day. */
static const DWORD svc_restart_ms[] = { 60000, 60000, 300000 };
enum { SVC_RESET_SECS = 86400 };

static const wchar_t svc_description[] =
    L"Exports the mail recipients of Active Directory (proxyAddresses) "
    L"and pushes the signed list to the Postfix relays (rcptsync).";

static const char	*svc_config;
static const struct win_paths *svc_paths;
static SERVICE_STATUS_HANDLE svc_handle;
static SERVICE_STATUS	 svc_status;
static CRITICAL_SECTION	 svc_lock;
static HANDLE		 svc_done;	/* set when agent_run returned */
static LONG		 svc_stopping;

/* --- the service itself ------------------------------------------- */

static void
svc_report(DWORD state, DWORD exitcode, DWORD hint)
{
	EnterCriticalSection(&svc_lock);
	/* Nothing after STOPPED: the SCM may already have moved on. */
	if (svc_status.dwCurrentState == SERVICE_STOPPED) {
		LeaveCriticalSection(&svc_lock);
		return;
	}
	svc_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	svc_status.dwCurrentState = state;
	svc_status.dwControlsAccepted = state == SERVICE_RUNNING ?
	    SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
	    SERVICE_ACCEPT_PARAMCHANGE : 0;
	if (exitcode != 0) {
		svc_status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
		svc_status.dwServiceSpecificExitCode = exitcode;
	} else {
		svc_status.dwWin32ExitCode = NO_ERROR;
		svc_status.dwServiceSpecificExitCode = 0;
	}
	svc_status.dwWaitHint = hint;
	if (state == SERVICE_RUNNING || state == SERVICE_STOPPED)
		svc_status.dwCheckPoint = 0;
	else
		svc_status.dwCheckPoint++;
	SetServiceStatus(svc_handle, &svc_status);
	LeaveCriticalSection(&svc_lock);
}

static DWORD WINAPI
svc_watchdog(LPVOID arg)
{
	DWORD waited;

	(void)arg;
	for (waited = 0; waited < SVC_STOP_LIMIT_MS; waited += 1000) {
		if (WaitForSingleObject(svc_done, 1000) == WAIT_OBJECT_0)
			return 0;
		svc_report(SERVICE_STOP_PENDING, 0, SVC_STOP_HINT_MS);
	}
	rs_error("stop service: the cycle did not end within %d s; ending "
	    "the process", SVC_STOP_LIMIT_MS / 1000);
	svc_report(SERVICE_STOPPED, AGENT_EXIT_FAIL, 0);
	ExitProcess(AGENT_EXIT_FAIL);
	return 0;
}

static DWORD WINAPI
svc_handler(DWORD ctl, DWORD type, LPVOID data, LPVOID ctx)
{
	HANDLE t;

	(void)type;
	(void)data;
	(void)ctx;
	switch (ctl) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		if (InterlockedExchange(&svc_stopping, 1) == 0) {
			svc_report(SERVICE_STOP_PENDING, 0, SVC_STOP_HINT_MS);
			win_signal(1);
			t = CreateThread(NULL, 0, svc_watchdog, NULL, 0, NULL);
			if (t != NULL)
				CloseHandle(t);
		}
		return NO_ERROR;
	case SERVICE_CONTROL_PARAMCHANGE:
		win_signal(3);
		return NO_ERROR;
	case WIN_CONTROL_SYNC_NOW:
		win_signal(2);
		return NO_ERROR;
	case SERVICE_CONTROL_INTERROGATE:
		return NO_ERROR;
	default:
		return ERROR_CALL_NOT_IMPLEMENTED;
	}
}

static void WINAPI
svc_main(DWORD argc, LPWSTR *argv)
{
	int rc;

	(void)argc;
	(void)argv;
	svc_handle = RegisterServiceCtrlHandlerExW(WIN_SERVICE_NAME,
	    svc_handler, NULL);
	if (svc_handle == NULL) {
		rs_error("start service: RegisterServiceCtrlHandlerEx: "
		    "error %lu", (unsigned long)GetLastError());
		return;
	}
	svc_report(SERVICE_START_PENDING, 0, 5000);
	svc_report(SERVICE_RUNNING, 0, 0);
	/* agent_run reports the STARTED and STOPPED events itself. */
	rs_info("service rcptsync-agent %s: running, config %s", RS_VERSION,
	    svc_config);
	/* A refused folder stops the service with exit code 2. */
	if ((rc = win_preflight(svc_config, svc_paths)) == AGENT_EXIT_OK)
		rc = agent_run(svc_config);
	SetEvent(svc_done);
	rs_info("service rcptsync-agent: stopped, exit code %d", rc);
	/* Last: the work has really stopped. */
	svc_report(SERVICE_STOPPED, (DWORD)rc, 0);
}

int
service_dispatch(const char *config, const struct win_paths *p)
{
	SERVICE_TABLE_ENTRYW table[] = {
		{ (LPWSTR)WIN_SERVICE_NAME, svc_main },
		{ NULL, NULL },
	};
	DWORD e;

	svc_config = config;
	svc_paths = p;
	InitializeCriticalSection(&svc_lock);
	/* agent_main does this for the other commands. */
	if (libssh2_init(0) != 0) {
		rs_error("start service: libssh2 initialization failed");
		return AGENT_EXIT_FAIL;
	}
	if ((svc_done = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
		rs_error("start service: CreateEvent: error %lu",
		    (unsigned long)GetLastError());
		return AGENT_EXIT_FAIL;
	}
	if (!StartServiceCtrlDispatcherW(table)) {
		e = GetLastError();
		if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			rs_error("service: only the service control manager "
			    "runs this; from a console use `rcptsync-agent.exe "
			    "run`");
			return AGENT_EXIT_USAGE;
		}
		win_set_error(e);
		rs_error("start service: StartServiceCtrlDispatcher: %s",
		    sys_errmsg());
		return AGENT_EXIT_FAIL;
	}
	return svc_status.dwServiceSpecificExitCode != 0 ?
	    (int)svc_status.dwServiceSpecificExitCode : AGENT_EXIT_OK;
}

/* --- management commands ------------------------------------------ */

static void
svc_err(const char *op, DWORD e)
{
	char why[256];

	win_strerror(e, why, sizeof(why));
	fprintf(stderr, "rcptsync-agent: %s: %s\n", op, why);
	if (e == ERROR_ACCESS_DENIED)
		fprintf(stderr, "rcptsync-agent: run it from an elevated "
		    "(administrator) prompt\n");
}

/* Close what svc_open opened (either may be NULL). */
static void
svc_close(SC_HANDLE s, SC_HANDLE scm)
{
	if (s != NULL)
		CloseServiceHandle(s);
	if (scm != NULL)
		CloseServiceHandle(scm);
}

static SC_HANDLE
svc_open(DWORD access, SC_HANDLE *scm, const char *op)
{
	SC_HANDLE s;

	*scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
	if (*scm == NULL) {
		svc_err(op, GetLastError());
		return NULL;
	}
	if ((s = OpenServiceW(*scm, WIN_SERVICE_NAME, access)) == NULL) {
		svc_err(op, GetLastError());
		CloseServiceHandle(*scm);
		*scm = NULL;
	}
	return s;
}

/* Poll until the service reaches want (or timeout); its last state. */
static DWORD
svc_wait_state(SC_HANDLE s, DWORD want, DWORD ms)
{
	SERVICE_STATUS st;
	DWORD waited;

	for (waited = 0;; waited += 250) {
		if (!QueryServiceStatus(s, &st))
			return 0;
		if (st.dwCurrentState == want || waited >= ms)
			return st.dwCurrentState;
		Sleep(250);
	}
}

static const char *
svc_state_name(DWORD state)
{
	switch (state) {
	case SERVICE_STOPPED:		return "stopped";
	case SERVICE_START_PENDING:	return "starting";
	case SERVICE_STOP_PENDING:	return "stopping";
	case SERVICE_RUNNING:		return "running";
	case SERVICE_CONTINUE_PENDING:	return "continuing";
	case SERVICE_PAUSE_PENDING:	return "pausing";
	case SERVICE_PAUSED:		return "paused";
	}
	return "unknown";
}

/* Recovery actions, delayed start, description: best effort each. */
static int
svc_configure(SC_HANDLE s)
{
	SERVICE_DESCRIPTIONW desc;
	SERVICE_DELAYED_AUTO_START_INFO delayed;
	SERVICE_FAILURE_ACTIONSW fa;
	SERVICE_FAILURE_ACTIONS_FLAG faf;
	SC_ACTION act[sizeof(svc_restart_ms) / sizeof(svc_restart_ms[0])];
	size_t i;
	int rc = 0;

	desc.lpDescription = (LPWSTR)svc_description;
	if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_DESCRIPTION, &desc)) {
		svc_err("install service: set description", GetLastError());
		rc = -1;
	}
	/* After the network and the DC locator are up at boot. */
	delayed.fDelayedAutostart = TRUE;
	if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_DELAYED_AUTO_START_INFO,
	    &delayed)) {
		svc_err("install service: set delayed auto-start",
		    GetLastError());
		rc = -1;
	}
	for (i = 0; i < sizeof(act) / sizeof(act[0]); i++) {
		act[i].Type = SC_ACTION_RESTART;
		act[i].Delay = svc_restart_ms[i];
	}
	memset(&fa, 0, sizeof(fa));
	fa.dwResetPeriod = SVC_RESET_SECS;
	fa.cActions = (DWORD)(sizeof(act) / sizeof(act[0]));
	fa.lpsaActions = act;
	if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
		svc_err("install service: set recovery actions",
		    GetLastError());
		rc = -1;
	}
	/* Also restart when the service stops itself with an error. */
	faf.fFailureActionsOnNonCrashFailures = TRUE;
	if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
	    &faf)) {
		svc_err("install service: set recovery on error exit",
		    GetLastError());
		rc = -1;
	}
	return rc;
}

int
service_install(const char *config)
{
	wchar_t exe[MAX_PATH * 4], cfgfull[MAX_PATH * 4], *wcfg = NULL;
	wchar_t *cmd = NULL;
	SC_HANDLE scm = NULL, s = NULL;
	size_t cmdlen;
	DWORD n, e;
	int rc = AGENT_EXIT_FAIL;

	n = GetModuleFileNameW(NULL, exe, sizeof(exe) / sizeof(exe[0]));
	if (n == 0 || n >= sizeof(exe) / sizeof(exe[0])) {
		svc_err("install service: GetModuleFileName", GetLastError());
		goto out;
	}
	cmdlen = wcslen(exe) + 64;
	if (config != NULL) {
		if ((wcfg = win_wide(config)) == NULL) {
			fprintf(stderr, "rcptsync-agent: install service: "
			    "config path is not valid UTF-8\n");
			rc = AGENT_EXIT_USAGE;
			goto out;
		}
		n = GetFullPathNameW(wcfg, sizeof(cfgfull) /
		    sizeof(cfgfull[0]), cfgfull, NULL);
		if (n == 0 || n >= sizeof(cfgfull) / sizeof(cfgfull[0])) {
			svc_err("install service: config path", GetLastError());
			goto out;
		}
		cmdlen += wcslen(cfgfull);
	}
	if ((cmd = malloc(cmdlen * sizeof(*cmd))) == NULL)
		goto out;
	/* Quoted: the SCM parses an unquoted path with spaces ambiguously. */
	if (config != NULL)
		_snwprintf(cmd, cmdlen, L"\"%ls\" -c \"%ls\" service", exe,
		    cfgfull);
	else
		_snwprintf(cmd, cmdlen, L"\"%ls\" service", exe);
	cmd[cmdlen - 1] = L'\0';

	scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT |
	    SC_MANAGER_CREATE_SERVICE);
	if (scm == NULL) {
		svc_err("install service: open the service manager",
		    GetLastError());
		goto out;
	}
	s = CreateServiceW(scm, WIN_SERVICE_NAME, WIN_DISPLAY_NAME,
	    SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
	    SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL);
	if (s == NULL) {
		e = GetLastError();
		if (e != ERROR_SERVICE_EXISTS) {
			svc_err("install service rcptsync-agent", e);
			goto out;
		}
		/* Reinstall (e.g. the exe moved): update in place. */
		s = OpenServiceW(scm, WIN_SERVICE_NAME, SERVICE_ALL_ACCESS);
		if (s == NULL || !ChangeServiceConfigW(s,
		    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
		    SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL,
		    WIN_DISPLAY_NAME)) {
			svc_err("update service rcptsync-agent",
			    GetLastError());
			goto out;
		}
	}
	svc_configure(s);
	if (win_eventlog_register(exe) != RS_OK)
		fprintf(stderr, "rcptsync-agent: install service: register "
		    "event source: %s\n", sys_errmsg());
	printf("installed service rcptsync-agent (automatic, delayed "
	    "start); config %s\n", config != NULL ? config :
	    sys_default_config());
	/*
	 * Config, keys and state: owned by Administrators, SYSTEM and
	 * Administrators only.  A folder someone else owns is refused: the
	 * service would not start, so say it now.
	 */
	if (sys_mkdirs(win_data_dir(), 1) != RS_OK ||
	    sys_mkdirs(sys_default_state_dir(), 1) != RS_OK) {
		fprintf(stderr, "rcptsync-agent: install service: secure "
		    "%s: %s; the service will not start until it is fixed "
		    "(docs/ADMIN.md, Windows security)\n", win_data_dir(),
		    sys_errmsg());
		rc = AGENT_EXIT_USAGE;
		goto out;
	}
	rc = AGENT_EXIT_OK;
 out:
	svc_close(s, scm);
	free(cmd);
	free(wcfg);
	return rc;
}

int
service_uninstall(void)
{
	SC_HANDLE scm = NULL, s;
	SERVICE_STATUS st;
	int rc = AGENT_EXIT_FAIL;

	s = svc_open(DELETE | SERVICE_STOP | SERVICE_QUERY_STATUS, &scm,
	    "uninstall service rcptsync-agent");
	if (s == NULL)
		goto out;
	if (QueryServiceStatus(s, &st) && st.dwCurrentState !=
	    SERVICE_STOPPED) {
		ControlService(s, SERVICE_CONTROL_STOP, &st);
		if (svc_wait_state(s, SERVICE_STOPPED, SVC_CMD_WAIT_MS) !=
		    SERVICE_STOPPED)
			fprintf(stderr, "rcptsync-agent: uninstall: the "
			    "service did not stop; it is removed when it "
			    "does\n");
	}
	if (!DeleteService(s)) {
		svc_err("uninstall service rcptsync-agent", GetLastError());
		goto out;
	}
	if (win_eventlog_unregister() != RS_OK)
		fprintf(stderr, "rcptsync-agent: uninstall: remove event "
		    "source: %s\n", sys_errmsg());
	printf("removed service rcptsync-agent; %s (config, keys, state, "
	    "log) is kept\n", win_data_dir());
	rc = AGENT_EXIT_OK;
 out:
	svc_close(s, scm);
	return rc;
}

int
service_start(void)
{
	SC_HANDLE scm = NULL, s;
	DWORD state;
	int rc = AGENT_EXIT_FAIL;

	s = svc_open(SERVICE_START | SERVICE_QUERY_STATUS, &scm,
	    "start service rcptsync-agent");
	if (s == NULL)
		goto out;
	if (!StartServiceW(s, 0, NULL) &&
	    GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
		svc_err("start service rcptsync-agent", GetLastError());
		goto out;
	}
	state = svc_wait_state(s, SERVICE_RUNNING, SVC_CMD_WAIT_MS);
	printf("service rcptsync-agent: %s\n", svc_state_name(state));
	rc = state == SERVICE_RUNNING ? AGENT_EXIT_OK : AGENT_EXIT_FAIL;
 out:
	svc_close(s, scm);
	return rc;
}

int
service_stop(void)
{
	SC_HANDLE scm = NULL, s;
	SERVICE_STATUS st;
	DWORD state;
	int rc = AGENT_EXIT_FAIL;

	s = svc_open(SERVICE_STOP | SERVICE_QUERY_STATUS, &scm,
	    "stop service rcptsync-agent");
	if (s == NULL)
		goto out;
	if (!ControlService(s, SERVICE_CONTROL_STOP, &st) &&
	    GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
		svc_err("stop service rcptsync-agent", GetLastError());
		goto out;
	}
	state = svc_wait_state(s, SERVICE_STOPPED, SVC_CMD_WAIT_MS);
	printf("service rcptsync-agent: %s\n", svc_state_name(state));
	rc = state == SERVICE_STOPPED ? AGENT_EXIT_OK : AGENT_EXIT_FAIL;
 out:
	svc_close(s, scm);
	return rc;
}

/*
 * Send a control code to the running service: what names it in messages
 * ("sync-now", "reload").  Windows reports the handler's answer; Wine
 * reports success even when the handler rejects the code, so the log the
 * service writes is the proof either way.
 */
static int
svc_control(DWORD access, DWORD code, const char *what)
{
	SC_HANDLE scm = NULL, s;
	SERVICE_STATUS st;
	char op[64];
	int rc = AGENT_EXIT_FAIL;

	snprintf(op, sizeof(op), "%s rcptsync-agent", what);
	if ((s = svc_open(access | SERVICE_QUERY_STATUS, &scm, op)) == NULL)
		goto out;
	if (!QueryServiceStatus(s, &st) ||
	    st.dwCurrentState != SERVICE_RUNNING) {
		fprintf(stderr, "rcptsync-agent: %s: the service is not "
		    "running\n", what);
		goto out;
	}
	if (!ControlService(s, code, &st)) {
		svc_err(op, GetLastError());
		goto out;
	}
	printf("%s requested; the result goes to the event log and %s\n",
	    what, win_default_log());
	rc = AGENT_EXIT_OK;
 out:
	svc_close(s, scm);
	return rc;
}

int
service_reload(void)
{
	return svc_control(SERVICE_PAUSE_CONTINUE, SERVICE_CONTROL_PARAMCHANGE,
	    "reload");
}

int
service_sync_now(void)
{
	return svc_control(SERVICE_USER_DEFINED_CONTROL, WIN_CONTROL_SYNC_NOW,
	    "sync-now");
}
