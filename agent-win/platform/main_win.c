/*
 * main_win.c - entry point of rcptsync-agent.exe.
 *
 *   rcptsync-agent.exe [-c FILE] [-v] [-q] COMMAND [ARGS]
 *
 * Windows-only commands are handled here and in service_win.c:
 *   install        register the service (automatic, delayed start, restart
 *                  on failure) and its event source
 *   uninstall      remove both (config, keys and state are kept)
 *   start, stop    start / stop the service and wait for it
 *   sync-now       ask the running service for an immediate sync
 *   reload         make the running service re-read its configuration
 *                  (SERVICE_CONTROL_PARAMCHANGE)
 *   set-password   read the LDAP simple-bind password (console without
 *                  echo, or the first line of stdin), protect it with DPAPI
 *                  (machine scope) and store it as [ldap] password
 *   service        what the service control manager starts (hidden)
 *   check-acl [--secret] PATH | --sddl SDDL
 *                  the trust verdict of acl_win.h on a file or folder, or
 *                  on a security descriptor (hidden; tests, diagnosis)
 * Every other command (keygen, export, sync, run, check, diff) goes to
 * agent_main() with UTF-8 arguments, exactly as on Unix.
 *
 * Order at startup matters: OpenSSL is initialized first, with
 * OPENSSL_INIT_NO_LOAD_CONFIG, before anything could make it read an
 * openssl.cnf from a build-time path that any user may create on Windows.
 * stdout is binary (lists must not get CRLF).  Ctrl-C in a console sets
 * the stop event (the same path as a service stop); a second Ctrl-C ends
 * the process.
 *
 * Trust: before every command but keygen reads the config, the config's
 * folder, the state folder and each file in it, and the key and
 * known_hosts files the config names must pass the check of acl_win.h
 * (win_preflight), the private keys also unreadable by others; a
 * refusal exits 2 with event 3005.  Files are checked
 * again as they are read (sys_read_file).
 *
 * Logging: rs_log lines go to stderr and, for the service, export, sync,
 * run and diff, also to the rotating log file ([agent] log_file, default
 * %ProgramData%\rcptsync\log\agent.log); events also to the Event Log.
 * Not for keygen, which runs before there is a config to name the file,
 * nor for check: it reports on stdout and changes nothing, and opening
 * the log creates its folder, or secures an existing one (sys_mkdirs),
 * before the folder checks below could refuse it.
 *
 * Crashes: an unhandled exception (in the agent or a DLL) logs one line
 * naming the exception code and the module, raises event 3008 and exits
 * 70 (AGENT_EXIT_CRASH), never the exception code, whose low byte could
 * pass for one of the codes below.
 *
 * Ownership: the UTF-8 argv lives until exit.  Errors: exit codes of
 * docs/HACKING.md.  Trust boundary: the command line and stdin are the
 * administrator's; the password read is wiped after use; the files and
 * folders named by the config are checked as above.
 */
#include "win_int.h"
#include "acl_win.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "rs_limits.h"
#include "log.h"
#include "rs_err.h"
#include "sys.h"

int	wmain(int argc, wchar_t **wargv);

/* Longest password set-password accepts (bytes of UTF-8). */

static LONG main_ctrl_count;

/* What an exception code is, for the one line a crash leaves. */
static const char *
main_exc_name(DWORD code)
{
	switch (code) {
	case EXCEPTION_ACCESS_VIOLATION:	return "access violation";
	case EXCEPTION_STACK_OVERFLOW:		return "stack overflow";
	case EXCEPTION_ILLEGAL_INSTRUCTION:	return "illegal instruction";
	case EXCEPTION_INT_DIVIDE_BY_ZERO:	return "division by zero";
	case EXCEPTION_IN_PAGE_ERROR:		return "in-page error";
	case EXCEPTION_BREAKPOINT:		return "breakpoint";
	default:				return "exception";
	}
}

/* The base name of the module that holds address at, or "?". */
static void
main_exc_module(const void *at, char *out, size_t outsize)
{
	wchar_t w[MAX_PATH], *base;
	HMODULE m = NULL;
	DWORD n;

	snprintf(out, outsize, "?");
	if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
	    GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, (LPCWSTR)at, &m) ||
	    (n = GetModuleFileNameW(m, w, MAX_PATH)) == 0 || n >= MAX_PATH)
		return;
	base = wcsrchr(w, L'\\');
	base = base != NULL ? base + 1 : w;
	if (WideCharToMultiByte(CP_UTF8, 0, base, -1, out, (int)outsize, NULL,
	    NULL) == 0)
		snprintf(out, outsize, "?");
}

/*
 * The top-level filter for an exception nobody handled: a crash here or
 * in a DLL (Wine 8's wldap32 reads through the NULL credentials of a
 * negotiate bind, docs/HACKING.md).  Windows would end the process with
 * the exception code as its status, and its low byte can be one of ours
 * (0xC0000005 ends in 5, "some relays installed").  So: one line on
 * stderr and in the log file (rs_log; their locks are critical
 * sections, which the crashing thread may re-enter), one event, and exit
 * with AGENT_EXIT_CRASH, which means nothing else.  TerminateProcess,
 * not ExitProcess: no DLL detach code runs in a broken process.
 */
static LONG WINAPI
main_crash_filter(EXCEPTION_POINTERS *ep)
{
	const EXCEPTION_RECORD *er = ep != NULL ? ep->ExceptionRecord : NULL;
	DWORD code = er != NULL ? er->ExceptionCode : 0;
	const void *at = er != NULL ? er->ExceptionAddress : NULL;
	char mod[MAX_PATH * 3], what[64], line[RS_LOG_LINE / 2];

	main_exc_module(at, mod, sizeof(mod));
	what[0] = '\0';
	if (code == EXCEPTION_ACCESS_VIOLATION && er->NumberParameters >= 2)
		snprintf(what, sizeof(what), " %s %p",
		    er->ExceptionInformation[0] == 1 ? "writing" :
		    er->ExceptionInformation[0] == 8 ? "executing" : "reading",
		    (void *)er->ExceptionInformation[1]);
	snprintf(line, sizeof(line), "crash: unhandled exception 0x%08lx "
	    "(%s%s) at %p in %s; exiting with status %d",
	    (unsigned long)code, main_exc_name(code), what, at, mod,
	    AGENT_EXIT_CRASH);
	rs_log(RS_LOG_ERR, "%s", line);
	win_eventlog_report(SYS_EV_CRASH, line);
	TerminateProcess(GetCurrentProcess(), AGENT_EXIT_CRASH);
	return EXCEPTION_EXECUTE_HANDLER;
}

static BOOL WINAPI
main_ctrl_handler(DWORD type)
{
	switch (type) {
	case CTRL_C_EVENT:
	case CTRL_BREAK_EVENT:
	case CTRL_CLOSE_EVENT:
		/* First: a clean stop, as the service's.  Second: default. */
		if (InterlockedIncrement(&main_ctrl_count) > 1)
			return FALSE;
		win_signal(1);
		return TRUE;
	default:
		return FALSE;
	}
}

static void
main_usage(void)
{
	fprintf(stderr,
	    "usage: rcptsync-agent.exe [-c FILE] [-v] [-q] COMMAND [ARGS]\n"
	    "commands: keygen, export, sync, run, check, diff (see the "
	    "manual), and on Windows:\n"
	    "  install       register the Windows service and its event "
	    "source\n"
	    "  uninstall     remove the service (config and state are "
	    "kept)\n"
	    "  start, stop   start or stop the service\n"
	    "  sync-now      make the running service sync now\n"
	    "  reload        make the running service re-read its config\n"
	    "  set-password  store the LDAP password DPAPI-protected in the "
	    "config\n"
	    "default config: %s\n", sys_default_config());
}

/*
 * Does cmd write to the log file (see the file header)?  An event on the
 * console only, such as an audit export's failed LDAP bind (3001), would
 * be missing from the file an administrator reads.
 */
static int
main_logs_to_file(const char *cmd)
{
	static const char *const cmds[] = {
		"export", "sync", "run", "diff", NULL
	};
	size_t i;

	for (i = 0; cmds[i] != NULL; i++)
		if (strcmp(cmd, cmds[i]) == 0)
			return 1;
	return 0;
}

/* Copy v into dst (WIN_PATH_MAX); 0 when it does not fit. */
static int
main_path_copy(char *dst, const char *v)
{
	return snprintf(dst, WIN_PATH_MAX, "%s", v) < WIN_PATH_MAX;
}

/* Add path (or STATE\\name when path is NULL) to p's key files. */
static void
main_add_key(struct win_paths *p, const char *path, const char *name,
    int secret)
{
	int n;

	if (p->nkeys >= WIN_MAX_KEY_FILES)
		return;
	if (path != NULL)
		n = snprintf(p->keys[p->nkeys], WIN_PATH_MAX, "%s", path);
	else
		n = snprintf(p->keys[p->nkeys], WIN_PATH_MAX, "%s\\%s",
		    p->state, name);
	if (n > 0 && n < WIN_PATH_MAX)
		p->secret[p->nkeys++] = (unsigned char)secret;
}

void
win_config_paths(const char *config, struct win_paths *p)
{
	struct rs_buf text;
	struct cfg *c = NULL;
	const struct cfg_section *agent, *relay;
	const char *v, *why;
	size_t line, i, n;
	int r;

	memset(p, 0, sizeof(*p));
	main_path_copy(p->log, win_default_log());
	main_path_copy(p->state, sys_default_state_dir());
	rs_buf_init(&text, RS_MAX_CONFIG_BYTES);
	/* Before the log is open: the core's load reports a refusal. */
	win_trust_events(0);
	r = sys_read_file(config, RS_MAX_CONFIG_BYTES, &text);
	win_trust_events(1);
	if (r != RS_OK || memchr(text.data, '\0', text.len) != NULL ||
	    cfg_parse((const char *)text.data, text.len, &c, &line, &why) !=
	    RS_OK)
		goto out;
	agent = cfg_section(c, "agent", 0);
	if ((v = cfg_get(agent, "log_file")) != NULL &&
	    !main_path_copy(p->log, v))
		main_path_copy(p->log, win_default_log());
	if ((v = cfg_get(agent, "state_dir")) != NULL &&
	    !main_path_copy(p->state, v))
		main_path_copy(p->state, sys_default_state_dir());
	/* The defaults of agent_cfg.c: keys in the state folder. */
	main_add_key(p, cfg_get(agent, "signing_key"), "agent_ed25519", 1);
	n = cfg_count(c, "relay");
	for (i = 0; i < n; i++) {
		relay = cfg_section(c, "relay", i);
		main_add_key(p, cfg_get(relay, "private_key"), "relay_ed25519",
		    1);
		if ((v = cfg_get(relay, "known_hosts")) != NULL && v[0] != '\0')
			main_add_key(p, v, NULL, 0);
	}
 out:
	if (c != NULL)
		cfg_free(c);
	rs_buf_free(&text);
}

/* How main_check_path judges. */
enum main_check {
	MAIN_CHECK_FULL,	/* owner, and nobody else may write */
	MAIN_CHECK_OWNER,	/* the owner alone: the state folder, whose
				   DACL sys_mkdirs resets */
	MAIN_CHECK_SECRET	/* a private key: nobody else may read it */
};

/*
 * The trust check (win_check_handle) on an existing file or folder.
 * Absent is fine: whoever creates it later creates it with the right
 * owner and DACL.
 */
static int
main_check_path(const char *path, enum main_check how)
{
	char why[ACL_WHY_MAX];
	wchar_t *w;
	HANDLE h;
	DWORD e;
	int rc, owner_ok;

	if ((w = win_wide(path)) == NULL)
		return RS_OK;		/* the core names the bad path */
	h = CreateFileW(w, READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE |
	    FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS,
	    NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		e = GetLastError();
		if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
			return RS_OK;
		win_set_error(e);
		return RS_ERR_SYSTEM;
	}
	/* A refused owner is the first reason the full check gives. */
	if (how == MAIN_CHECK_OWNER && acl_handle_trusted(h, 0, &owner_ok, why,
	    sizeof(why), &e) != -1 && owner_ok)
		rc = RS_OK;
	else
		rc = win_check_handle(h, path, how == MAIN_CHECK_SECRET);
	CloseHandle(h);
	return rc;
}

/*
 * Every file directly in the state folder, for win_preflight.  The
 * folder's listing comes from the OS; a name too long for the buffer
 * cannot be one the agent wrote, and is skipped.
 */
static int
main_check_state_files(const char *state)
{
	WIN32_FIND_DATAW fd;
	HANDLE find;
	char path[MAX_PATH * 4], *name;
	wchar_t *w;
	int rc = RS_OK, n;

	n = snprintf(path, sizeof(path), "%s\\*", state);
	if (n < 0 || n >= (int)sizeof(path) || (w = win_wide(path)) == NULL)
		return RS_OK;
	find = FindFirstFileW(w, &fd);
	free(w);
	if (find == INVALID_HANDLE_VALUE)
		return RS_OK;		/* empty or absent */
	do {
		if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
			continue;
		if ((name = win_utf8(fd.cFileName)) == NULL)
			continue;
		n = snprintf(path, sizeof(path), "%s\\%s", state, name);
		free(name);
		if (n > 0 && n < (int)sizeof(path) &&
		    (rc = main_check_path(path, MAIN_CHECK_FULL)) != RS_OK)
			rs_error("check state file %s: %s", path,
			    sys_errmsg());
	} while (rc == RS_OK && FindNextFileW(find, &fd));
	FindClose(find);
	return rc;
}

/*
 * The config's folder must be trusted, the state folder must not be
 * someone else's (sys_mkdirs resets its DACL), and the files must be
 * trusted.  Who may write to a folder may swap the files in it between
 * runs; the files are checked again as they are read (sys_read_file).
 * The relay keys and known_hosts are read by libssh2, so this is their
 * only check.
 */
int
win_preflight(const char *config, const struct win_paths *p)
{
	size_t i;
	char dir[MAX_PATH * 3], *cut;

	snprintf(dir, sizeof(dir), "%s", config);
	cut = strrchr(dir, '\\');
	if (strrchr(dir, '/') > cut)
		cut = strrchr(dir, '/');
	if (cut != NULL && cut > dir && cut[-1] != ':') {
		*cut = '\0';
		if (main_check_path(dir, MAIN_CHECK_FULL) != RS_OK) {
			rs_error("check config folder %s: %s", dir,
			    sys_errmsg());
			return AGENT_EXIT_USAGE;
		}
	}
	if (main_check_path(p->state, MAIN_CHECK_OWNER) != RS_OK) {
		rs_error("check state folder %s: %s", p->state, sys_errmsg());
		return AGENT_EXIT_USAGE;
	}
	if (main_check_state_files(p->state) != RS_OK)
		return AGENT_EXIT_USAGE;
	for (i = 0; i < p->nkeys; i++)
		if (main_check_path(p->keys[i], p->secret[i] ?
		    MAIN_CHECK_SECRET : MAIN_CHECK_FULL) != RS_OK) {
			rs_error("check key file %s: %s", p->keys[i],
			    sys_errmsg());
			return AGENT_EXIT_USAGE;
		}
	return AGENT_EXIT_OK;
}

/*
 * check-acl [--secret] PATH | --sddl SDDL (hidden; tests and diagnosis):
 * the trust verdict on a file or folder, or on a descriptor; --secret as
 * for a private key.  0 trusted, 1 refused, 2 usage.
 */
static int
main_check_acl(int argc, char **argv)
{
	char why[ACL_WHY_MAX];
	int r, secret = 0;

	if (argc > 0 && strcmp(argv[0], "--secret") == 0) {
		secret = 1;
		argc--;
		argv++;
	}
	if (argc == 2 && strcmp(argv[0], "--sddl") == 0) {
		if ((r = win_check_sddl(argv[1], secret, why, sizeof(why))) <
		    0) {
			fprintf(stderr, "rcptsync-agent: check-acl: %s: %s\n",
			    argv[1], why);
			return AGENT_EXIT_USAGE;
		}
		printf("%s: %s\n", argv[1], r ? "trusted" : why);
		return r ? AGENT_EXIT_OK : AGENT_EXIT_FAIL;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: rcptsync-agent.exe check-acl "
		    "[--secret] PATH | --sddl SDDL\n");
		return AGENT_EXIT_USAGE;
	}
	if (!sys_exists(argv[0])) {
		fprintf(stderr, "rcptsync-agent: check-acl: %s: no such file "
		    "or folder\n", argv[0]);
		return AGENT_EXIT_USAGE;
	}
	if (main_check_path(argv[0], secret ? MAIN_CHECK_SECRET :
	    MAIN_CHECK_FULL) != RS_OK) {
		printf("%s: %s\n", argv[0], sys_errmsg());
		return AGENT_EXIT_FAIL;
	}
	printf("%s: trusted\n", argv[0]);
	return AGENT_EXIT_OK;
}

/*
 * Read one line: from the console without echo (UTF-16, converted), or
 * from a pipe or file (bytes, taken as UTF-8).  Trailing CR/LF removed.
 */
static int
main_read_password(const char *prompt, struct rs_buf *out)
{
	HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
	wchar_t wbuf[RS_MAX_PASSWORD + 2];
	char *s = NULL, c;
	DWORD mode, got = 0, total = 0;
	int rc;

	rs_buf_reset(out);
	if (GetConsoleMode(in, &mode)) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		SetConsoleMode(in, (mode & ~(DWORD)ENABLE_ECHO_INPUT) |
		    ENABLE_LINE_INPUT | ENABLE_PROCESSED_INPUT);
		if (!ReadConsoleW(in, wbuf, RS_MAX_PASSWORD + 1, &got,
		    NULL))
			got = 0;
		SetConsoleMode(in, mode);
		fprintf(stderr, "\n");
		wbuf[got] = L'\0';
		while (got > 0 && (wbuf[got - 1] == L'\n' ||
		    wbuf[got - 1] == L'\r'))
			wbuf[--got] = L'\0';
		s = win_utf8(wbuf);
		SecureZeroMemory(wbuf, sizeof(wbuf));
		if (s == NULL) {
			rc = RS_ERR_SYNTAX;
			goto out;
		}
		rc = rs_buf_put_str(out, s);
		goto out;
	}
	/* Not a console: the first line of stdin, byte by byte. */
	for (;;) {
		if (!ReadFile(in, &c, 1, &got, NULL) || got == 0 ||
		    c == '\n')
			break;
		if (++total > RS_MAX_PASSWORD) {
			rc = RS_ERR_LIMIT;
			goto out;
		}
		if ((rc = rs_buf_put(out, &c, 1)) != RS_OK)
			goto out;
	}
	while (out->len > 0 && out->data[out->len - 1] == '\r')
		out->data[--out->len] = '\0';
	rc = RS_OK;
 out:
	if (s != NULL) {
		rs_wipe(s, strlen(s));
		free(s);
	}
	return rc;
}

/* Is line (len bytes, no line end) "[ldap]", or another section header? */
static int
main_is_section(const char *p, size_t len, int *is_ldap)
{
	size_t i = 0, j;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == len || p[i] != '[')
		return 0;
	j = len;
	while (j > i && (p[j - 1] == ' ' || p[j - 1] == '\t'))
		j--;
	*is_ldap = j - i == 6 && memcmp(p + i, "[ldap]", 6) == 0;
	return 1;
}

/* Is line a "password = ..." key line? */
static int
main_is_password(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len - i < 8 || memcmp(p + i, "password", 8) != 0)
		return 0;
	i += 8;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < len && p[i] == '=';
}

/*
 * The config text with [ldap] password = b64: the first password line of
 * [ldap] replaced, further ones dropped, or a line added right after the
 * [ldap] header, or a new [ldap] section at the end.  Everything else is
 * copied byte for byte; new lines use the file's line ending.
 */
static int
main_edit_config(const struct rs_buf *in, const char *b64, struct rs_buf *out)
{
	const char *p = (const char *)in->data, *end = p + in->len, *nl;
	const char *eol;
	size_t len;
	int in_ldap = 0, is_ldap, done = 0, rc;

	/* The first line's ending; CRLF for a file without one. */
	nl = in->len > 0 ? memchr(p, '\n', in->len) : NULL;
	eol = nl != NULL && (nl == p || nl[-1] != '\r') ? "\n" : "\r\n";
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (main_is_section(p, len, &is_ldap)) {
			in_ldap = is_ldap;
			if ((rc = rs_buf_put(out, p, nl != NULL ?
			    (size_t)(nl - p) + 1 : (size_t)(end - p))) != RS_OK)
				return rc;
			if (nl == NULL && (rc = rs_buf_put_str(out, eol)) !=
			    RS_OK)
				return rc;
			if (is_ldap && !done) {
				if ((rc = rs_buf_printf(out, "password = %s%s",
				    b64, eol)) != RS_OK)
					return rc;
				done = 1;
			}
		} else if (in_ldap && main_is_password(p, len)) {
			/* Dropped: the new line is right after [ldap]. */
		} else if ((rc = rs_buf_put(out, p, nl != NULL ?
		    (size_t)(nl - p) + 1 : (size_t)(end - p))) != RS_OK)
			return rc;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (!done) {
		if (out->len > 0 && out->data[out->len - 1] != '\n' &&
		    (rc = rs_buf_put_str(out, eol)) != RS_OK)
			return rc;
		if ((rc = rs_buf_printf(out, "%s[ldap]%spassword = %s%s",
		    out->len > 0 ? eol : "", eol, b64, eol)) != RS_OK)
			return rc;
	}
	return RS_OK;
}

static int
main_set_password(const char *config)
{
	struct rs_buf pw, text, edited, check;
	struct cfg *c = NULL;
	const char *why = NULL;
	char *b64 = NULL;
	size_t line = 0;
	int rc, ex = AGENT_EXIT_FAIL;

	rs_buf_init(&pw, RS_MAX_PASSWORD);
	rs_buf_init(&text, RS_MAX_CONFIG_BYTES);
	rs_buf_init(&edited, RS_MAX_CONFIG_BYTES);
	rs_buf_init(&check, RS_MAX_PASSWORD);
	if ((rc = sys_read_file(config, RS_MAX_CONFIG_BYTES, &text)) !=
	    RS_OK) {
		fprintf(stderr, "rcptsync-agent: set-password: read %s: %s\n",
		    config, rc == RS_ERR_SYSTEM || rc == RS_ERR_NOTFOUND ?
		    sys_errmsg() : rs_err_str(rc));
		ex = AGENT_EXIT_USAGE;
		goto out;
	}
	if ((rc = main_read_password("LDAP password: ", &pw)) != RS_OK ||
	    pw.len == 0) {
		fprintf(stderr, "rcptsync-agent: set-password: %s\n",
		    rc != RS_OK ? "password too long or not valid text" :
		    "empty password");
		ex = AGENT_EXIT_USAGE;
		goto out;
	}
	if ((rc = win_protect_password((const char *)pw.data, pw.len,
	    &b64)) != RS_OK) {
		fprintf(stderr, "rcptsync-agent: set-password: "
		    "CryptProtectData: %s\n", sys_errmsg());
		goto out;
	}
	if ((rc = main_edit_config(&text, b64, &edited)) != RS_OK) {
		fprintf(stderr, "rcptsync-agent: set-password: edit %s: %s\n",
		    config, rs_err_str(rc));
		goto out;
	}
	/* Prove the result parses and decrypts before replacing the file. */
	if ((rc = cfg_parse((const char *)edited.data, edited.len, &c, &line,
	    &why)) != RS_OK) {
		fprintf(stderr, "rcptsync-agent: set-password: %s:%zu: %s; "
		    "file left unchanged\n", config, line,
		    why != NULL ? why : rs_err_str(rc));
		ex = AGENT_EXIT_USAGE;
		goto out;
	}
	if ((rc = sys_get_password(cfg_section(c, "ldap", 0), &check)) !=
	    RS_OK || check.len != pw.len ||
	    memcmp(check.data, pw.data, pw.len) != 0) {
		fprintf(stderr, "rcptsync-agent: set-password: the stored "
		    "password does not decrypt; file left unchanged\n");
		goto out;
	}
	if ((rc = sys_write_file(config, edited.data, edited.len, 1)) !=
	    RS_OK) {
		fprintf(stderr, "rcptsync-agent: set-password: write %s: "
		    "%s\n", config, rc == RS_ERR_SYSTEM ? sys_errmsg() :
		    rs_err_str(rc));
		goto out;
	}
	printf("set-password: [ldap] password in %s is the new "
	    "DPAPI-protected password\n", config);
	ex = AGENT_EXIT_OK;
 out:
	if (c != NULL)
		cfg_free(c);
	free(b64);
	rs_buf_free(&pw);
	rs_buf_free(&check);
	rs_buf_free(&text);
	rs_buf_free(&edited);
	return ex;
}

int
wmain(int argc, wchar_t **wargv)
{
	static struct win_paths paths;	/* large; the service keeps it */
	const char *config = NULL, *cmd;
	char **argv;
	int i, rc;

	/* First: no crash may exit with one of our codes (see above). */
	SetUnhandledExceptionFilter(main_crash_filter);
	/* Before any other OpenSSL call (see the file header). */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) {
		fprintf(stderr, "rcptsync-agent: OpenSSL initialization "
		    "failed\n");
		return AGENT_EXIT_FAIL;
	}
	_setmode(_fileno(stdout), _O_BINARY);
	_setmode(_fileno(stdin), _O_BINARY);

	if ((argv = calloc((size_t)argc + 1, sizeof(*argv))) == NULL)
		return AGENT_EXIT_FAIL;
	for (i = 0; i < argc; i++) {
		if ((argv[i] = win_utf8(wargv[i])) == NULL) {
			fprintf(stderr, "rcptsync-agent: argument %d is not "
			    "valid UTF-16\n", i);
			return AGENT_EXIT_USAGE;
		}
	}
	rs_log_set_sink(win_log_sink, NULL);
	if ((rc = sys_init()) != RS_OK) {
		fprintf(stderr, "rcptsync-agent: initialize: %s\n",
		    sys_errmsg());
		return AGENT_EXIT_FAIL;
	}
	SetConsoleCtrlHandler(main_ctrl_handler, TRUE);

	/* The global options, as agent_main parses them, to find COMMAND. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "-v") != 0 &&
		    strcmp(argv[i], "-q") != 0)
			break;		/* -V, or wrong: agent_main answers */
	}
	if (i >= argc) {
		main_usage();
		return AGENT_EXIT_USAGE;
	}
	cmd = argv[i];
	if (strcmp(cmd, "install") == 0)
		return service_install(config);
	if (strcmp(cmd, "uninstall") == 0)
		return service_uninstall();
	if (strcmp(cmd, "start") == 0)
		return service_start();
	if (strcmp(cmd, "stop") == 0)
		return service_stop();
	if (strcmp(cmd, "sync-now") == 0)
		return service_sync_now();
	if (strcmp(cmd, "reload") == 0)
		return service_reload();
	if (strcmp(cmd, "set-password") == 0)
		return main_set_password(config != NULL ? config :
		    sys_default_config());
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		main_usage();
		return AGENT_EXIT_OK;
	}
	if (strcmp(cmd, "check-acl") == 0)
		return main_check_acl(argc - i - 1, argv + i + 1);
	if (config == NULL)
		config = sys_default_config();
	win_config_paths(config, &paths);
	if (strcmp(cmd, "service") == 0) {
		/* No console: the log file and the Event Log only. */
		win_log_stderr(0);
		if (win_log_open(paths.log) != RS_OK)
			win_eventlog_report(SYS_EV_CONFIG, "cannot open the "
			    "log file");
		rc = service_dispatch(config, &paths);
		win_log_close();
		return rc;
	}
	/* A failed log file is no reason not to run in a console. */
	if (main_logs_to_file(cmd) && win_log_open(paths.log) != RS_OK)
		fprintf(stderr, "rcptsync-agent: log file %s: %s (logging to "
		    "the console only)\n", paths.log, sys_errmsg());
	if (strcmp(cmd, "keygen") != 0 &&
	    (rc = win_preflight(config, &paths)) != AGENT_EXIT_OK)
		return rc;
	rc = agent_main(argc, argv);
	win_log_close();
	return rc;
}
