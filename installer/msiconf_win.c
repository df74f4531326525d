/*
 * msiconf_win.c - the MSI's configuration step: write the public properties
 * of a silent install (RELAY_HOST=..., BASE_DN=...) into the agent's
 * config file.  Built by installer/build-msi.sh and installed beside the
 * agent (wixl cannot run an exe from the Binary table); Windows Installer
 * runs it as a deferred, elevated custom action after InstallFiles and
 * before StartServices (installer/rcptsync.wxs).
 *
 *   rcptsync-msiconf.exe CONFIG TEMPLATE DATADIR [NAME=VALUE]...
 *
 * DATADIR (%ProgramData%\rcptsync) is created if missing.  CONFIG
 * (DATADIR\agent.conf) is started from TEMPLATE (the installed
 * agent.conf.default, from installer/agent.conf.in) when it does not exist:
 * the config is never an MSI component, so that no upgrade, repair or
 * uninstall can overwrite or remove it.  A property fills its template
 * line: a line that reads exactly
 * "#key = @NAME@" or "key = @NAME@" becomes "key = VALUE".  A line the
 * administrator has edited no longer matches, so a later upgrade never
 * overwrites an edit, and an empty property leaves its line commented.
 * AGENT_ID, when empty, defaults to the computer name in lower case.
 *
 * DATADIR: any local user may create folders under %ProgramData%, so a
 * DATADIR that exists before the first install may be planted, with an
 * agent.conf that would configure a LocalSystem service.  Hence, before
 * anything is written (acl_win.h, the agent's own rule):
 *   - a DATADIR that someone else owns, or that others may write to, or
 *     that is a junction, is refused: nothing is changed, the install
 *     fails and rolls back, and the reason goes to stderr and to the
 *     Application event log (source rcptsync-agent, event 3005).  Its
 *     owner is the only witness of who created it; resetting it would
 *     bless whatever that owner put inside;
 *   - a trusted DATADIR (owned by SYSTEM or Administrators, writable by
 *     no one else) can only contain what SYSTEM and administrators put
 *     there, such as keys an earlier version wrote owned by the admin who
 *     ran keygen.  It and everything below it get the owner
 *     Administrators and the protected DACL (SYSTEM and Administrators,
 *     full control, nothing inherited), so that the service's own check
 *     accepts them.  Junctions and links inside are left alone, never
 *     followed;
 *   - a missing DATADIR is created with that owner and DACL in the same
 *     call.
 * So an existing agent.conf is kept only inside a trusted DATADIR.  New
 * files (the config from the template, the log) are created with the
 * same owner and DACL.
 *
 * Exit status: 0 done (also when nothing needed changing), 1 failure, 2
 * usage.  Windows Installer fails (and rolls back) the installation on a
 * non-zero exit.  Messages go to stderr and to DATADIR\log\msiconf.log,
 * since an MSI does not show a custom action's output.
 *
 * Ownership: everything is freed before exit; no allocation outlives
 * main.
 *
 * Trust boundary: property values come from whoever runs msiexec, which
 * needs administrator rights anyway; the check here is that a value can
 * never become more than the one line it is meant for (no newline or
 * control character, no quote, no leading or trailing space, a character
 * set per property).  The agent validates the result again when it reads
 * the config.
 */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "acl_win.h"
#include "rs_attr.h"
#include "utf16_win.h"

/* Limits of this program: a config file, a line, a value. */
#define MC_MAX_FILE	(1024 * 1024)
#define MC_MAX_VALUE	1024
#define MC_MAX_PATH	4096
#define MC_RENAME_TRIES	50	/* 100 ms apart: antivirus holds new files */
#define MC_MAX_DEPTH	16	/* folder levels under DATADIR */
/* The agent's MSG_CONFIG ("Configuration error: %1"), messages.mc. */
#define MC_EVENT_CONFIG	0xC0000BBDUL

enum mc_class {
	MC_HOST,	/* host name or address: [A-Za-z0-9.:-] */
	MC_NAME,	/* account or id: [a-z0-9._-] */
	MC_FPR,		/* SHA256:base64 */
	MC_DOMAINS,	/* [a-z0-9.-] words, spaces or commas */
	MC_DURATION,	/* [0-9]+[smhd]? */
	MC_TEXT		/* printable UTF-8 (DNs) */
};

struct mc_prop {
	const char	*name;		/* MSI property */
	const char	*key;		/* config key on the template line */
	enum mc_class	 cls;
	char		*value;		/* from the command line, or NULL */
	char		*buf;		/* owns value: "NAME=VALUE", or NULL */
};

static struct mc_prop mc_props[] = {
	{ "AGENT_ID",		"id",			MC_NAME,	NULL, NULL },
	{ "DOMAINS",		"domains",		MC_DOMAINS,	NULL, NULL },
	{ "INTERVAL",		"interval",		MC_DURATION,	NULL, NULL },
	{ "BASE_DN",		"base",			MC_TEXT,	NULL, NULL },
	{ "RELAY_HOST",		"host",			MC_HOST,	NULL, NULL },
	{ "RELAY_USER",		"user",			MC_NAME,	NULL, NULL },
	{ "HOSTKEY_SHA256",	"hostkey_sha256",	MC_FPR,		NULL, NULL },
};
#define MC_NPROPS	(sizeof(mc_props) / sizeof(mc_props[0]))

static FILE	*mc_log;

static HANDLE	mc_create(const wchar_t *, int, DWORD, DWORD);

static void	mc_msg(const char *fmt, ...)
    RS_PRINTF(1, 2)
    ;

static void
mc_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("rcptsync-msiconf: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (mc_log != NULL) {
		va_start(ap, fmt);
		vfprintf(mc_log, fmt, ap);
		fputc('\n', mc_log);
		fflush(mc_log);
		va_end(ap);
	}
}

static int
mc_in(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* Is value acceptable for cls?  Empty values are handled by the caller. */
static int
mc_valid(const char *v, enum mc_class cls)
{
	static const char alnum_lc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t i, n = strlen(v);

	if (n == 0 || n > MC_MAX_VALUE || v[0] == ' ' || v[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f || c == '"')
			return 0;
		switch (cls) {
		case MC_HOST:
			if (!mc_in((char)c, alnum) && !mc_in((char)c, ".:-"))
				return 0;
			break;
		case MC_NAME:
			if (!mc_in((char)c, alnum_lc) && !mc_in((char)c, "._-"))
				return 0;
			break;
		case MC_FPR:
			if (i < 7 ? c != (unsigned char)"SHA256:"[i] :
			    !mc_in((char)c, alnum) && !mc_in((char)c, "+/="))
				return 0;
			break;
		case MC_DOMAINS:
			if (!mc_in((char)c, alnum_lc) && !mc_in((char)c, ".-, "))
				return 0;
			break;
		case MC_DURATION:
			if (!(c >= '0' && c <= '9') &&
			    !(i == n - 1 && i > 0 && mc_in((char)c, "smhd")))
				return 0;
			break;
		case MC_TEXT:
			break;	/* printable UTF-8; control bytes refused above */
		}
	}
	return cls == MC_FPR ? n > 7 : 1;
}

/* AGENT_ID's default: the NetBIOS computer name, lower case. */
static char *
mc_default_id(void)
{
	wchar_t w[MAX_COMPUTERNAME_LENGTH + 1];
	DWORD n = MAX_COMPUTERNAME_LENGTH + 1;
	char *s, *p;

	if (!GetComputerNameW(w, &n))
		return NULL;
	if ((s = win_utf8(w)) == NULL)
		return NULL;
	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!mc_valid(s, MC_NAME)) {
		free(s);
		return NULL;
	}
	return s;
}

/* Read a whole file into a new NUL-terminated buffer. */
static int
mc_read(const wchar_t *path, char **out, size_t *outlen)
{
	HANDLE h;
	LARGE_INTEGER sz;
	DWORD got;
	char *p = NULL;
	int r = -1;

	*out = NULL;
	h = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL,
	    OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		mc_msg("open %ls: error %lu", path, GetLastError());
		return -1;
	}
	if (!GetFileSizeEx(h, &sz) || sz.QuadPart > MC_MAX_FILE) {
		mc_msg("read config: larger than %d bytes", MC_MAX_FILE);
		goto out;
	}
	if ((p = malloc((size_t)sz.QuadPart + 1)) == NULL) {
		mc_msg("read config: out of memory");
		goto out;
	}
	if (!ReadFile(h, p, (DWORD)sz.QuadPart, &got, NULL) ||
	    got != (DWORD)sz.QuadPart) {
		mc_msg("read config: error %lu", GetLastError());
		goto out;
	}
	p[got] = '\0';
	if (strlen(p) != got) {
		mc_msg("read config: contains a NUL byte");
		goto out;
	}
	*out = p;
	*outlen = got;
	p = NULL;
	r = 0;
out:
	free(p);
	CloseHandle(h);
	return r;
}

/*
 * Replace path with the n bytes at p: a temporary file beside it, flushed,
 * then MoveFileExW over the original, retried while another process (an
 * antivirus scanner) holds the file.
 */
static int
mc_write(const wchar_t *path, const char *p, size_t n)
{
	wchar_t tmp[MC_MAX_PATH];
	HANDLE h;
	DWORD put;
	int i, r = -1;

	if (swprintf(tmp, MC_MAX_PATH, L"%ls.msiconf.tmp", path) < 0) {
		mc_msg("write config: path too long");
		return -1;
	}
	h = mc_create(tmp, 0, GENERIC_WRITE, CREATE_ALWAYS);
	if (h == INVALID_HANDLE_VALUE) {
		mc_msg("create temporary config: error %lu", GetLastError());
		return -1;
	}
	if (!WriteFile(h, p, (DWORD)n, &put, NULL) || put != (DWORD)n ||
	    !FlushFileBuffers(h)) {
		mc_msg("write temporary config: error %lu", GetLastError());
		CloseHandle(h);
		goto out;
	}
	CloseHandle(h);
	for (i = 0; i < MC_RENAME_TRIES; i++) {
		if (MoveFileExW(tmp, path,
		    MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
			r = 0;
			break;
		}
		Sleep(100);
	}
	if (r != 0)
		mc_msg("rename config: error %lu", GetLastError());
out:
	if (r != 0)
		DeleteFileW(tmp);
	return r;
}

/*
 * The template line for one property, if the line [p, p+len) is one:
 * "key = @NAME@" or "#key = @NAME@" (CR already stripped).
 */
static struct mc_prop *
mc_match(const char *p, size_t len)
{
	char want[128];
	size_t i;
	int n;

	if (len > 0 && p[0] == '#') {
		p++;
		len--;
	}
	for (i = 0; i < MC_NPROPS; i++) {
		n = snprintf(want, sizeof want, "%s = @%s@", mc_props[i].key,
		    mc_props[i].name);
		if (n > 0 && (size_t)n == len && memcmp(p, want, len) == 0)
			return &mc_props[i];
	}
	return NULL;
}

/* Apply the properties to text; *out is the new file.  Returns changes. */
static int
mc_apply(const char *text, size_t len, char **out, size_t *outlen)
{
	const char *p = text, *end = text + len, *nl;
	struct mc_prop *m;
	size_t cap = len + MC_NPROPS * (MC_MAX_VALUE + 64) + 1, o = 0, ll;
	char *buf;
	int n, changed = 0;

	*out = NULL;
	if ((buf = malloc(cap)) == NULL) {
		mc_msg("apply properties: out of memory");
		return -1;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		{
			size_t body = ll;
			int crlf = body > 0 && p[body - 1] == '\r';

			if (crlf)
				body--;
			m = mc_match(p, body);
			if (m != NULL && m->value != NULL && m->value[0] != '\0') {
				n = snprintf(buf + o, cap - o, "%s = %s%s%s",
				    m->key, m->value, crlf ? "\r" : "",
				    nl != NULL ? "\n" : "");
				if (n < 0 || (size_t)n >= cap - o)
					goto overflow;
				o += (size_t)n;
				changed++;
				mc_msg("set %s from %s", m->key, m->name);
			} else {
				if (ll + 1 > cap - o)
					goto overflow;
				memcpy(buf + o, p, ll);
				o += ll;
				if (nl != NULL)
					buf[o++] = '\n';
			}
		}
		p += ll + (nl != NULL);
	}
	*out = buf;
	*outlen = o;
	return changed;
overflow:
	free(buf);
	mc_msg("apply properties: result too large");
	return -1;
}

/* Tell the administrator why the install stops: stderr and the event log. */
static void
mc_refuse(const wchar_t *path, const char *why)
{
	char msg[1200];
	wchar_t wmsg[1200];
	const wchar_t *strs[1];
	HANDLE ev;

	snprintf(msg, sizeof msg, "install: refuse %ls: %s; remove it (after "
	    "saving what you need from it) and install again, or see "
	    "docs/ADMIN.md, Windows security", path, why);
	mc_msg("%s", msg);
	if (MultiByteToWideChar(CP_UTF8, 0, msg, -1, wmsg, 1200) <= 0)
		return;
	strs[0] = wmsg;
	if ((ev = RegisterEventSourceW(NULL, L"rcptsync-agent")) != NULL) {
		ReportEventW(ev, EVENTLOG_ERROR_TYPE, 0, MC_EVENT_CONFIG, NULL, 1,
		    0, strs, NULL);
		DeregisterEventSource(ev);
	}
}

/*
 * Open path itself, never what a junction or link points at, to read
 * (READ_CONTROL) or also reset (WRITE_DAC | WRITE_OWNER) its descriptor.
 * INVALID_HANDLE_VALUE with GetLastError.
 */
static HANDLE
mc_open_sd(const wchar_t *path, DWORD access)
{
	return CreateFileW(path, access,
	    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
	    OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS |
	    FILE_FLAG_OPEN_REPARSE_POINT, NULL);
}

/*
 * A new file or folder with the owner and DACL of acl_win.h in the same
 * call; a folder is opened with READ_CONTROL.
 */
static HANDLE
mc_create(const wchar_t *path, int dir, DWORD access, DWORD disposition)
{
	if (dir)
		return acl_create_dir(path) ? mc_open_sd(path, READ_CONTROL) :
		    INVALID_HANDLE_VALUE;
	return acl_create_file(path, acl_sddl_file, access, 0, disposition);
}

/*
 * Owner Administrators and the protected DACL on path and, for a folder,
 * everything below it.  Only called inside a trusted DATADIR (see the
 * header).  Junctions and links are reported and left alone.
 */
static int
mc_reset_tree(const wchar_t *path, int depth)
{
	BY_HANDLE_FILE_INFORMATION fi;
	WIN32_FIND_DATAW fd;
	wchar_t sub[MC_MAX_PATH];
	HANDLE h, find;
	char why[ACL_WHY_MAX];
	DWORD e;
	int r = -1, owner_ok, dir;

	if ((h = mc_open_sd(path, READ_CONTROL | WRITE_DAC | WRITE_OWNER)) ==
	    INVALID_HANDLE_VALUE) {
		mc_msg("open %ls: error %lu", path, GetLastError());
		return -1;
	}
	if (!GetFileInformationByHandle(h, &fi)) {
		mc_msg("stat %ls: error %lu", path, GetLastError());
		goto out;
	}
	if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
		mc_msg("secure %ls: a junction or link, left alone", path);
		r = 0;
		goto out;
	}
	dir = (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
	if (acl_handle_trusted(h, 0, &owner_ok, why, sizeof why, &e) == 0)
		mc_msg("secure %ls: %s; now owned by Administrators, SYSTEM "
		    "and Administrators only", path, why);
	if ((e = acl_reset(h, dir)) != ERROR_SUCCESS) {
		mc_msg("secure %ls: error %lu", path, e);
		goto out;
	}
	r = 0;
	if (!dir)
		goto out;
	if (depth >= MC_MAX_DEPTH) {
		mc_msg("secure %ls: more than %d folder levels", path,
		    MC_MAX_DEPTH);
		r = -1;
		goto out;
	}
	if (swprintf(sub, MC_MAX_PATH, L"%ls\\*", path) < 0 ||
	    (find = FindFirstFileW(sub, &fd)) == INVALID_HANDLE_VALUE)
		goto out;	/* empty or unlistable: nothing below */
	do {
		if (wcscmp(fd.cFileName, L".") == 0 ||
		    wcscmp(fd.cFileName, L"..") == 0)
			continue;
		if (swprintf(sub, MC_MAX_PATH, L"%ls\\%ls", path,
		    fd.cFileName) < 0 || mc_reset_tree(sub, depth + 1) != 0)
			r = -1;
	} while (r == 0 && FindNextFileW(find, &fd));
	FindClose(find);
out:
	CloseHandle(h);
	return r;
}

/*
 * DATADIR (one level: its parent, %ProgramData%, exists): 0 created; 1
 * it exists and is trusted, so mc_reset_tree is next; -1 refused (the
 * header says why) or failed.  Only read here: a refused folder is left
 * exactly as it was.
 */
static int
mc_datadir(const wchar_t *dir)
{
	BY_HANDLE_FILE_INFORMATION fi;
	HANDLE h;
	char why[ACL_WHY_MAX];
	DWORD e;
	int owner_ok, ok;

	if ((h = mc_open_sd(dir, READ_CONTROL)) == INVALID_HANDLE_VALUE) {
		e = GetLastError();
		if (e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND) {
			mc_msg("open data folder %ls: error %lu", dir, e);
			return -1;
		}
		if ((h = mc_create(dir, 1, 0, 0)) == INVALID_HANDLE_VALUE) {
			mc_msg("create data folder %ls: error %lu", dir,
			    GetLastError());
			return -1;
		}
		CloseHandle(h);
		return 0;
	}
	if (!GetFileInformationByHandle(h, &fi)) {
		mc_msg("stat data folder %ls: error %lu", dir, GetLastError());
		CloseHandle(h);
		return -1;
	}
	if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
		CloseHandle(h);
		mc_refuse(dir, "it is a junction or symbolic link, not a folder");
		return -1;
	}
	ok = acl_handle_trusted(h, 0, &owner_ok, why, sizeof why, &e);
	CloseHandle(h);
	if (ok < 0) {
		mc_msg("read the owner of %ls: error %lu", dir, e);
		return -1;
	}
	if (ok == 0) {
		mc_refuse(dir, why);
		return -1;
	}
	return 1;
}

static void
mc_open_log(const wchar_t *datadir)
{
	wchar_t p[MC_MAX_PATH];
	HANDLE h;

	if (swprintf(p, MC_MAX_PATH, L"%ls\\log", datadir) < 0)
		return;
	/* Exists (and was reset with DATADIR): fine; fails: no log file. */
	if ((h = mc_create(p, 1, 0, 0)) != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	if (swprintf(p, MC_MAX_PATH, L"%ls\\log\\msiconf.log", datadir) < 0)
		return;
	mc_log = _wfopen(p, L"a");
}

int	wmain(int, wchar_t **);	/* the -municode entry point */

int
wmain(int argc, wchar_t **argv)
{
	char *text = NULL, *out = NULL, *arg, *eq, *id = NULL;
	size_t len = 0, outlen = 0, i;
	int a, changed, r, rc = 1;

	wchar_t datadir[MC_MAX_PATH];
	size_t dl;

	if (argc < 4) {
		fputs("usage: rcptsync-msiconf CONFIG TEMPLATE DATADIR "
		    "[NAME=VALUE]...\n", stderr);
		return 2;
	}
	/*
	 * The MSI passes "[DATADIR]." because a formatted directory ends in a
	 * backslash, which would escape the closing quote; drop the "\.".
	 */
	if (swprintf(datadir, MC_MAX_PATH, L"%ls", argv[3]) < 0) {
		fputs("rcptsync-msiconf: DATADIR too long\n", stderr);
		return 2;
	}
	dl = wcslen(datadir);
	if (dl > 2 && datadir[dl - 1] == L'.' && datadir[dl - 2] == L'\\')
		datadir[dl - 2] = L'\0';
	if ((r = mc_datadir(datadir)) < 0)
		return 1;
	/* The log first: the reset reports what it changed. */
	mc_open_log(datadir);
	if (r == 1 && mc_reset_tree(datadir, 0) != 0)
		goto out;
	for (a = 4; a < argc; a++) {
		if ((arg = win_utf8(argv[a])) == NULL ||
		    (eq = strchr(arg, '=')) == NULL) {
			mc_msg("argument %d: not NAME=VALUE in UTF-8", a);
			free(arg);
			goto out;
		}
		*eq = '\0';
		for (i = 0; i < MC_NPROPS; i++)
			if (strcmp(mc_props[i].name, arg) == 0)
				break;
		if (i == MC_NPROPS) {
			mc_msg("argument %d: unknown property %s", a, arg);
			free(arg);
			goto out;
		}
		if (eq[1] != '\0' && !mc_valid(eq + 1, mc_props[i].cls)) {
			mc_msg("property %s: invalid value", arg);
			free(arg);
			goto out;
		}
		free(mc_props[i].buf);		/* repeated: last wins */
		mc_props[i].buf = arg;
		mc_props[i].value = eq + 1;
	}
	if (mc_props[0].value == NULL || mc_props[0].value[0] == '\0') {
		if ((id = mc_default_id()) == NULL)
			mc_msg("AGENT_ID: computer name unusable, left unset");
		mc_props[0].value = id;
	}

	if (GetFileAttributesW(argv[1]) == INVALID_FILE_ATTRIBUTES) {
		if (GetLastError() != ERROR_FILE_NOT_FOUND) {
			mc_msg("stat config: error %lu", GetLastError());
			goto out;
		}
		mc_msg("new config from the template");
		if (mc_read(argv[2], &text, &len) != 0)
			goto out;
		if (mc_write(argv[1], text, len) != 0)
			goto out;
		free(text);
		text = NULL;
	}
	if (mc_read(argv[1], &text, &len) != 0)
		goto out;
	if ((changed = mc_apply(text, len, &out, &outlen)) < 0)
		goto out;
	if (changed > 0 && mc_write(argv[1], out, outlen) != 0)
		goto out;
	mc_msg("configured: %d line(s) set", changed);
	rc = 0;
out:
	for (i = 0; i < MC_NPROPS; i++)
		free(mc_props[i].buf);
	free(id);
	free(text);
	free(out);
	if (mc_log != NULL)
		fclose(mc_log);
	return rc;
}
