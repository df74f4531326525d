/*
 * sys_win.c - the operating system services of sys.h on Windows.
 *
 * API: sys.h (files, default paths, TCP connect, waits) plus the helpers
 * of win_int.h (UTF-8 <-> UTF-16, error text, %ProgramData%\rcptsync, the
 * stop/sync/reload events).  The DPAPI-protected LDAP password is
 * secret_win.c's.
 *
 * Strings are UTF-8 inside the program; every path is converted to UTF-16
 * at the Win32 call and only *W functions are used, so non-ASCII paths
 * work whatever the ANSI code page.  Both '/' and '\' separate path parts.
 *
 * Files: sys_write_file writes a temporary file in the target's directory,
 * flushes it (FlushFileBuffers), then MoveFileExW(REPLACE_EXISTING |
 * WRITE_THROUGH) over the target, retried for a bounded time while another
 * process (antivirus, backup, an editor) holds the target open.  Every
 * file and folder is created with its owner (Administrators) set in the
 * same call; private ones also with a protected DACL: SYSTEM and
 * Administrators full control, nothing inherited, nobody else
 * (acl_win.c).  An existing private folder is checked, then gets that
 * owner and DACL: a junction and a folder someone else owns are refused.
 *
 * Trust: every file sys_read_file reads (config, keys, state, dircache)
 * must pass the check of acl_win.h on the open handle, so what is checked
 * is what is read: owned by SYSTEM, Administrators or the agent's own
 * account, writable by no one else.  A refusal names the file, the
 * account and the reason, in an event (SYS_EV_CONFIG) and in sys_errmsg.
 *
 * Paths: %ProgramData% comes from SHGetKnownFolderPath(FOLDERID_ProgramData),
 * never from the environment: inside a service the variable may point
 * elsewhere (Wine: C:\users\Public) and an attacker may set it for a
 * process they start.
 *
 * Waits: three events.  stop (manual reset: once set, every later wait
 * returns at once), sync-now and reload (auto reset).  The service control
 * handler and the console Ctrl-C handler only set them (win_signal).
 *
 * Errors: RS_OK or a negative RS_ERR_*; RS_ERR_SYSTEM records the Win32
 * error, whose text sys_errmsg() returns (per thread).
 * Ownership: returned default paths are static; win_wide/win_utf8 results
 * belong to the caller.
 * Trust boundary: local users other than SYSTEM and Administrators
 * (planted files and folders, see above).
 */
#include "win_int.h"
#include "acl_win.h"

#include <ws2tcpip.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
#include <knownfolders.h>
#include <io.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "hash.h"
#include "ldapx.h"
#include "log.h"
#include "rs_limits.h"
#include "rs_err.h"


/* Write in chunks WriteFile can take (DWORD lengths). */
enum { SYS_IO_CHUNK = 1 << 20 };

static _Thread_local char sys_err[512];

static HANDLE	ev_stop, ev_sync, ev_reload;
static INIT_ONCE sys_ev_once = INIT_ONCE_STATIC_INIT;

static char	sys_data_dir[MAX_PATH * 3];
static char	sys_config[MAX_PATH * 3 + 32];
static char	sys_state[MAX_PATH * 3 + 32];
static char	sys_log[MAX_PATH * 3 + 32];
static INIT_ONCE sys_path_once = INIT_ONCE_STATIC_INIT;

/* --- strings and errors ------------------------------------------- */

void
win_strerror(DWORD err, char *out, size_t outsize)
{
	wchar_t wbuf[512];
	DWORD n;
	char *s;
	size_t len;

	n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM |
	    FORMAT_MESSAGE_IGNORE_INSERTS | FORMAT_MESSAGE_MAX_WIDTH_MASK,
	    NULL, err, MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), wbuf,
	    sizeof(wbuf) / sizeof(wbuf[0]), NULL);
	if (n == 0 || (s = win_utf8(wbuf)) == NULL) {
		snprintf(out, outsize, "Windows error %lu", (unsigned long)err);
		return;
	}
	/* Drop the trailing blank, newline and period FormatMessage adds. */
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\r' ||
	    s[len - 1] == '\n' || s[len - 1] == '.'))
		s[--len] = '\0';
	snprintf(out, outsize, "%s (error %lu)", s, (unsigned long)err);
	free(s);
}

void
win_set_error(DWORD err)
{
	win_strerror(err, sys_err, sizeof(sys_err));
}

void
win_set_errtext(const char *text)
{
	snprintf(sys_err, sizeof(sys_err), "%s", text);
}

const char *
sys_errmsg(void)
{
	return sys_err[0] != '\0' ? sys_err : "unknown error";
}

/* Record the last error and return RS_ERR_SYSTEM (or NOTFOUND). */
static int
sys_fail(DWORD err)
{
	win_set_error(err);
	if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
		return RS_ERR_NOTFOUND;
	return RS_ERR_SYSTEM;
}

/* --- events -------------------------------------------------------- */

static BOOL CALLBACK
sys_ev_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
	(void)once;
	(void)param;
	(void)ctx;
	ev_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
	ev_sync = CreateEventW(NULL, FALSE, FALSE, NULL);
	ev_reload = CreateEventW(NULL, FALSE, FALSE, NULL);
	return ev_stop != NULL && ev_sync != NULL && ev_reload != NULL;
}

static int
sys_events(void)
{
	if (!InitOnceExecuteOnce(&sys_ev_once, sys_ev_init, NULL, NULL))
		return sys_fail(GetLastError());
	return RS_OK;
}

void
win_signal(int what)
{
	if (sys_events() != RS_OK)
		return;
	switch (what) {
	case 1:
		SetEvent(ev_stop);
		break;
	case 2:
		SetEvent(ev_sync);
		break;
	case 3:
		SetEvent(ev_reload);
		break;
	}
}

int
sys_wait(unsigned secs)
{
	HANDLE h[3];
	DWORD ms, r;

	if (sys_events() != RS_OK) {
		Sleep(1000);
		return 0;
	}
	h[0] = ev_stop;
	h[1] = ev_sync;
	h[2] = ev_reload;
	/* INFINITE is 0xffffffff ms; clamp well below it (~49 days). */
	ms = secs > 4000000u ? 4000000000u : (DWORD)secs * 1000u;
	r = WaitForMultipleObjects(3, h, FALSE, ms);
	switch (r) {
	case WAIT_OBJECT_0:
		return 1;
	case WAIT_OBJECT_0 + 1:
		return 2;
	case WAIT_OBJECT_0 + 2:
		return 3;
	case WAIT_TIMEOUT:
		return 0;
	default:
		/* Never spin on a broken wait. */
		Sleep(1000);
		return 0;
	}
}

int
sys_stop_requested(void)
{
	if (sys_events() != RS_OK)
		return 0;
	return WaitForSingleObject(ev_stop, 0) == WAIT_OBJECT_0;
}

uint64_t
sys_msec(void)
{
	return (uint64_t)GetTickCount64();
}

/* --- initialization ------------------------------------------------ */

int
sys_init(void)
{
	WSADATA wsa;
	int e;

	/* main_win.c did this first; repeating it is harmless. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) {
		win_set_errtext("OpenSSL initialization failed");
		return RS_ERR_CRYPTO;
	}
	if ((e = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0)
		return sys_fail((DWORD)e);
	return sys_events();
}

char
sys_path_sep(void)
{
	return '\\';
}

int
sys_isatty_stderr(void)
{
	DWORD mode;

	return GetConsoleMode(GetStdHandle(STD_ERROR_HANDLE), &mode) != 0;
}

/* --- default paths ------------------------------------------------- */

static BOOL CALLBACK
sys_path_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
	PWSTR w = NULL;
	char *s = NULL;

	(void)once;
	(void)param;
	(void)ctx;
	if (SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, NULL, &w) == S_OK)
		s = win_utf8(w);
	if (w != NULL)
		CoTaskMemFree(w);
	/* Without the known folder, the documented default location. */
	snprintf(sys_data_dir, sizeof(sys_data_dir), "%s\\rcptsync",
	    s != NULL ? s : "C:\\ProgramData");
	free(s);
	snprintf(sys_config, sizeof(sys_config), "%s\\agent.conf",
	    sys_data_dir);
	snprintf(sys_state, sizeof(sys_state), "%s\\state", sys_data_dir);
	snprintf(sys_log, sizeof(sys_log), "%s\\log\\agent.log", sys_data_dir);
	return TRUE;
}

const char *
win_data_dir(void)
{
	InitOnceExecuteOnce(&sys_path_once, sys_path_init, NULL, NULL);
	return sys_data_dir;
}

const char *
sys_default_config(void)
{
	InitOnceExecuteOnce(&sys_path_once, sys_path_init, NULL, NULL);
	return sys_config;
}

const char *
sys_default_state_dir(void)
{
	InitOnceExecuteOnce(&sys_path_once, sys_path_init, NULL, NULL);
	return sys_state;
}

int
sys_default_bind(void)
{
	return LDAPX_BIND_NEGOTIATE;
}

int
sys_lock_state(const char *state_dir, unsigned wait_secs, void **h)
{
	OVERLAPPED ov;
	wchar_t *w = NULL;
	char *path = NULL;
	size_t n;
	unsigned waited = 0;
	HANDLE f = INVALID_HANDLE_VALUE;
	int r = RS_ERR_NOMEM;

	*h = NULL;
	n = strlen(state_dir) + sizeof("\\lock");
	if ((path = malloc(n)) == NULL)
		goto out;
	snprintf(path, n, "%s\\lock", state_dir);
	if ((w = win_wide(path)) == NULL)
		goto out;
	f = win_create_file(w, 1, GENERIC_READ | GENERIC_WRITE,
	    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
	    OPEN_ALWAYS);
	if (f == INVALID_HANDLE_VALUE) {
		r = sys_fail(GetLastError());
		goto out;
	}
	/* The lock dies with the handle, so a killed agent frees it. */
	for (;;) {
		memset(&ov, 0, sizeof(ov));
		if (LockFileEx(f, LOCKFILE_EXCLUSIVE_LOCK |
		    LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
			break;
		if (GetLastError() != ERROR_LOCK_VIOLATION) {
			r = sys_fail(GetLastError());
			goto out;
		}
		if (waited++ >= wait_secs || sys_wait(1) == 1) {
			char msg[512];

			snprintf(msg, sizeof(msg), "lock %.400s: another "
			    "rcptsync-agent is running", path);
			win_set_errtext(msg);
			r = RS_ERR_LIMIT;
			goto out;
		}
	}
	*h = f;
	f = INVALID_HANDLE_VALUE;
	r = RS_OK;
out:
	if (f != INVALID_HANDLE_VALUE)
		CloseHandle(f);
	free(w);
	free(path);
	return r;
}

void
sys_unlock_state(void *h)
{
	if (h != NULL)
		CloseHandle((HANDLE)h);
}

const char *
win_default_log(void)
{
	InitOnceExecuteOnce(&sys_path_once, sys_path_init, NULL, NULL);
	return sys_log;
}

/* --- trust: owner and access list (acl_win.c) --------------------- */

static _Thread_local int sys_trust_quiet;

void
win_trust_events(int on)
{
	sys_trust_quiet = !on;
}

/*
 * Refuse path for why: the text goes to sys_errmsg for the caller's
 * message, and to an event that also says what to do.  One event per
 * path and reason, in a row: a refused file read again (a reload, the
 * next cycle) need not flood the event log.
 */
static int
sys_refuse(const char *path, const char *why)
{
	static _Thread_local char last[1024];
	char key[1024];

	snprintf(sys_err, sizeof(sys_err), "refused: %s", why);
	snprintf(key, sizeof(key), "%s\n%s", path, why);
	if (!sys_trust_quiet && strcmp(key, last) != 0) {
		snprintf(last, sizeof(last), "%s", key);
		sys_event(SYS_EV_CONFIG, "trust %s: %s; the agent uses only "
		    "files and folders that SYSTEM or Administrators own and "
		    "that no one else may write to (docs/ADMIN.md, Windows "
		    "security)", path, why);
	}
	return RS_ERR_SYSTEM;
}

int
win_check_handle(HANDLE h, const char *path, int secret)
{
	char why[ACL_WHY_MAX];
	DWORD e;
	int owner_ok;

	switch (acl_handle_trusted(h, secret, &owner_ok, why, sizeof(why),
	    &e)) {
	case 1:
		return RS_OK;
	case 0:
		return sys_refuse(path, why);
	default:
		return sys_fail(e);
	}
}

int
win_check_sddl(const char *sddl, int secret, char *why, size_t whysize)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL;
	PACL dacl = NULL;
	BOOL present = FALSE, def = FALSE;
	wchar_t *w;
	int ok;

	snprintf(why, whysize, "not an SDDL string");
	if ((w = win_wide(sddl)) == NULL)
		return -1;
	ok = ConvertStringSecurityDescriptorToSecurityDescriptorW(w,
	    SDDL_REVISION_1, &sd, NULL);
	free(w);
	if (!ok)
		return -1;
	GetSecurityDescriptorOwner(sd, &owner, &def);
	if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &def) || !present)
		dacl = NULL;
	ok = acl_sd_trusted(owner, dacl, secret, why, whysize);
	LocalFree(sd);
	return ok;
}

/* --- files --------------------------------------------------------- */

HANDLE
win_create_file(const wchar_t *path, int private, DWORD access,
    DWORD share, DWORD disposition)
{
	return acl_create_file(path, private ? acl_sddl_file :
	    acl_sddl_public, access, share, disposition);
}

/*
 * An existing private folder.  Refused: a junction or symbolic link (the
 * reset would land on its target) and a folder that someone else owns
 * (resetting it would bless whatever its owner put inside; each file the
 * agent reads is checked on its own anyway).  Otherwise Administrators
 * become the owner and the protected DACL replaces the old one, which may
 * be %ProgramData%'s inherited "Users may create files here".
 */
static int
sys_secure_dir(const wchar_t *w, const char *path)
{
	BY_HANDLE_FILE_INFORMATION fi;
	HANDLE h;
	char why[ACL_WHY_MAX];
	DWORD e;
	int rc, owner_ok;

	h = CreateFileW(w, READ_CONTROL | WRITE_DAC | WRITE_OWNER,
	    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
	    OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS |
	    FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	if (h == INVALID_HANDLE_VALUE)
		return sys_fail(GetLastError());
	if (!GetFileInformationByHandle(h, &fi)) {
		rc = sys_fail(GetLastError());
		goto out;
	}
	if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
		rc = sys_refuse(path, "it is a junction or symbolic link, "
		    "not a folder");
		goto out;
	}
	switch (acl_handle_trusted(h, 0, &owner_ok, why, sizeof(why), &e)) {
	case -1:
		rc = sys_fail(e);
		goto out;
	case 0:
		if (!owner_ok) {
			rc = sys_refuse(path, why);
			goto out;
		}
		rs_warn("secure folder %s: %s; its access list is now SYSTEM "
		    "and Administrators only", path, why);
		break;
	}
	e = acl_reset(h, 1);
	rc = e == ERROR_SUCCESS ? RS_OK : sys_fail(e);
 out:
	CloseHandle(h);
	return rc;
}

int
sys_read_file(const char *path, size_t max, struct rs_buf *out)
{
	HANDLE h = INVALID_HANDLE_VALUE;
	LARGE_INTEGER size;
	unsigned char *p;
	wchar_t *w = NULL;
	DWORD want, got;
	size_t left;
	int rc;

	rs_buf_reset(out);
	if ((w = win_wide(path)) == NULL) {
		rc = RS_ERR_INVAL;
		win_set_errtext("path is not valid UTF-8");
		goto out;
	}
	/* Share everything: a reader must never block a writer's rename. */
	h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE |
	    FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL,
	    NULL);
	if (h == INVALID_HANDLE_VALUE) {
		rc = sys_fail(GetLastError());
		goto out;
	}
	/* The handle's own descriptor: what is checked is what is read. */
	if ((rc = win_check_handle(h, path, 0)) != RS_OK)
		goto out;
	if (!GetFileSizeEx(h, &size)) {
		rc = sys_fail(GetLastError());
		goto out;
	}
	if (size.QuadPart < 0 || (unsigned long long)size.QuadPart > max) {
		rc = RS_ERR_LIMIT;
		goto out;
	}
	left = (size_t)size.QuadPart;
	if ((rc = rs_buf_reserve(out, left)) != RS_OK)
		goto out;
	p = out->data;
	while (left > 0) {
		want = left > SYS_IO_CHUNK ? SYS_IO_CHUNK : (DWORD)left;
		if (!ReadFile(h, p, want, &got, NULL)) {
			rc = sys_fail(GetLastError());
			goto out;
		}
		if (got == 0)
			break;		/* shrank under us: take what is there */
		p += got;
		left -= got;
	}
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
	/* Grown under us beyond what we read: read the rest, within max. */
	for (;;) {
		unsigned char tmp[4096];

		if (!ReadFile(h, tmp, sizeof(tmp), &got, NULL)) {
			rc = sys_fail(GetLastError());
			goto out;
		}
		if (got == 0)
			break;
		if ((rc = rs_buf_put(out, tmp, got)) != RS_OK)
			goto out;
	}
	rc = RS_OK;
 out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(w);
	return rc;
}

/* Index just past the last separator of w (0 when none). */
static size_t
sys_dir_len(const wchar_t *w)
{
	size_t i, cut = 0;

	for (i = 0; w[i] != L'\0'; i++)
		if (w[i] == L'\\' || w[i] == L'/')
			cut = i + 1;
	return cut;
}

int
sys_read_each(const char *path, sys_chunk_fn *fn, void *arg)
{
	HANDLE h = INVALID_HANDLE_VALUE;
	unsigned char chunk[65536];
	wchar_t *w = NULL;
	DWORD got;
	int rc = RS_OK;

	if ((w = win_wide(path)) == NULL) {
		win_set_errtext("path is not valid UTF-8");
		return RS_ERR_INVAL;
	}
	/* As sys_read_file: share everything, check the open handle. */
	h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE |
	    FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL,
	    NULL);
	if (h == INVALID_HANDLE_VALUE) {
		rc = sys_fail(GetLastError());	/* NOTFOUND when absent */
		goto out;
	}
	if ((rc = win_check_handle(h, path, 0)) != RS_OK)
		goto out;
	while (rc == RS_OK) {
		if (!ReadFile(h, chunk, sizeof(chunk), &got, NULL)) {
			rc = sys_fail(GetLastError());
			break;
		}
		if (got == 0)
			break;
		rc = fn(arg, chunk, got);
	}
out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(w);
	return rc;
}

struct sys_wfile {
	HANDLE		 h;
	wchar_t		*path, *tmp;
};

void
sys_wfile_abort(struct sys_wfile *f)
{
	if (f == NULL)
		return;
	if (f->h != INVALID_HANDLE_VALUE) {
		CloseHandle(f->h);
		DeleteFileW(f->tmp);
	}
	free(f->tmp);
	free(f->path);
	free(f);
}

int
sys_wfile_open(const char *path, int private, struct sys_wfile **out)
{
	struct sys_wfile *f;
	unsigned char rnd[8];
	size_t dlen, tlen;
	int rc;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return RS_ERR_NOMEM;
	f->h = INVALID_HANDLE_VALUE;
	if ((f->path = win_wide(path)) == NULL) {
		win_set_errtext("path is not valid UTF-8");
		rc = RS_ERR_INVAL;
		goto fail;
	}
	if ((rc = rs_random(rnd, sizeof(rnd))) != RS_OK)
		goto fail;
	/* DIR\.NAME.RANDOM.tmp: same directory, so the rename is atomic. */
	dlen = sys_dir_len(f->path);
	tlen = wcslen(f->path) + 32;
	if ((f->tmp = malloc(tlen * sizeof(*f->tmp))) == NULL) {
		rc = RS_ERR_NOMEM;
		goto fail;
	}
	_snwprintf(f->tmp, tlen,
	    L"%.*ls.%ls.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", (int)dlen,
	    f->path, f->path + dlen, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5], rnd[6], rnd[7]);
	f->tmp[tlen - 1] = L'\0';
	/* Owner and DACL in the same call; the rename keeps them. */
	f->h = win_create_file(f->tmp, private, GENERIC_WRITE, 0, CREATE_NEW);
	if (f->h == INVALID_HANDLE_VALUE) {
		rc = sys_fail(GetLastError());
		goto fail;
	}
	*out = f;
	return RS_OK;
fail:
	sys_wfile_abort(f);
	return rc;
}

int
sys_wfile_write(struct sys_wfile *f, const void *p, size_t n)
{
	const unsigned char *q = p;
	size_t left;
	DWORD want, done;

	for (left = n; left > 0; left -= done, q += done) {
		want = left > SYS_IO_CHUNK ? SYS_IO_CHUNK : (DWORD)left;
		if (!WriteFile(f->h, q, want, &done, NULL) || done == 0)
			return sys_fail(GetLastError());
	}
	return RS_OK;
}

int
sys_wfile_commit(struct sys_wfile *f)
{
	DWORD e = 0;
	int rc, i;

	/* On disk before the name points at it. */
	if (!FlushFileBuffers(f->h)) {
		rc = sys_fail(GetLastError());
		sys_wfile_abort(f);
		return rc;
	}
	CloseHandle(f->h);
	f->h = INVALID_HANDLE_VALUE;
	/*
	 * Antivirus and backup agents open new files briefly; the rename
	 * then fails with a sharing or access error.  Retry for a bounded
	 * time, then give up and leave the old file in place.
	 */
	for (i = 0; i < RS_WIN_RENAME_TRIES; i++) {
		if (MoveFileExW(f->tmp, f->path, MOVEFILE_REPLACE_EXISTING |
		    MOVEFILE_WRITE_THROUGH)) {
			sys_wfile_abort(f);	/* nothing left to remove */
			return RS_OK;
		}
		e = GetLastError();
		if (e != ERROR_SHARING_VIOLATION && e != ERROR_ACCESS_DENIED &&
		    e != ERROR_LOCK_VIOLATION)
			break;
		Sleep(RS_WIN_RENAME_SLEEP_MS);
	}
	rc = sys_fail(e);
	DeleteFileW(f->tmp);
	sys_wfile_abort(f);
	return rc;
}

int
sys_write_file(const char *path, const void *p, size_t n, int private)
{
	struct sys_wfile *f = NULL;
	int rc;

	if ((rc = sys_wfile_open(path, private, &f)) != RS_OK)
		return rc;
	if ((rc = sys_wfile_write(f, p, n)) != RS_OK) {
		sys_wfile_abort(f);
		return rc;
	}
	return sys_wfile_commit(f);
}

int
sys_remove(const char *path)
{
	wchar_t *w;
	DWORD e, attr;
	BOOL ok;

	if ((w = win_wide(path)) == NULL) {
		win_set_errtext("path is not valid UTF-8");
		return RS_ERR_INVAL;
	}
	attr = GetFileAttributesW(w);
	if (attr != INVALID_FILE_ATTRIBUTES &&
	    (attr & FILE_ATTRIBUTE_DIRECTORY))
		ok = RemoveDirectoryW(w);
	else
		ok = DeleteFileW(w);
	e = ok ? 0 : GetLastError();
	free(w);
	if (ok || e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
		return RS_OK;
	return sys_fail(e);
}

int
sys_exists(const char *path)
{
	wchar_t *w;
	DWORD attr;

	if ((w = win_wide(path)) == NULL)
		return 0;
	attr = GetFileAttributesW(w);
	free(w);
	return attr != INVALID_FILE_ATTRIBUTES;
}

int
sys_mkdirs(const char *path, int private)
{
	wchar_t *w = NULL, save;
	size_t i, len, start = 0;
	DWORD attr, e;
	int rc;

	if ((w = win_wide(path)) == NULL) {
		win_set_errtext("path is not valid UTF-8");
		rc = RS_ERR_INVAL;
		goto out;
	}
	len = wcslen(w);
	while (len > 0 && (w[len - 1] == L'\\' || w[len - 1] == L'/'))
		w[--len] = L'\0';
	if (len == 0) {
		rc = RS_ERR_INVAL;
		goto out;
	}
	/* Skip what cannot be created: "C:\" and "\\server\share\". */
	if (len >= 2 && w[1] == L':')
		start = 3;
	else if (len >= 2 && (w[0] == L'\\' || w[0] == L'/') &&
	    (w[1] == L'\\' || w[1] == L'/')) {
		int seps = 0;

		for (start = 2; start < len && seps < 2; start++)
			if (w[start] == L'\\' || w[start] == L'/')
				seps++;
	}
	for (i = start; i <= len; i++) {
		if (i < len && w[i] != L'\\' && w[i] != L'/')
			continue;
		if (i == 0)
			continue;
		save = w[i];
		w[i] = L'\0';
		if (!(private ? acl_create_dir(w) : CreateDirectoryW(w,
		    NULL))) {
			e = GetLastError();
			attr = GetFileAttributesW(w);
			if (e != ERROR_ALREADY_EXISTS && (attr ==
			    INVALID_FILE_ATTRIBUTES ||
			    !(attr & FILE_ATTRIBUTE_DIRECTORY))) {
				rc = sys_fail(e);
				goto out;
			}
		} else if (i == len) {
			/* Created by us, with owner and DACL already. */
			rc = RS_OK;
			goto out;
		}
		w[i] = save;
	}
	/* The directory existed: checked, then owner and DACL reset. */
	if (private && (rc = sys_secure_dir(w, path)) != RS_OK)
		goto out;
	rc = RS_OK;
 out:
	free(w);
	return rc;
}

/* --- network ------------------------------------------------------- */

int
sys_tcp_connect(const char *host, unsigned port, unsigned timeout,
    libssh2_socket_t *s, char *msg, size_t msgsize)
{
	ADDRINFOW hints, *res = NULL, *ai;
	wchar_t *whost = NULL, wport[16];
	SOCKET fd = INVALID_SOCKET;
	ULONGLONG deadline, now;
	char why[256] = "no address";
	u_long nb;
	fd_set wfds, efds;
	struct timeval tv;
	int e, rc = RS_ERR_SYSTEM, soerr;
	int len;

	*s = LIBSSH2_INVALID_SOCKET;
	if (msgsize > 0)
		msg[0] = '\0';
	if ((whost = win_wide(host)) == NULL) {
		snprintf(msg, msgsize, "connect %s: host name is not valid "
		    "UTF-8", host);
		rc = RS_ERR_INVAL;
		goto out;
	}
	_snwprintf(wport, sizeof(wport) / sizeof(wport[0]), L"%u", port);
	wport[sizeof(wport) / sizeof(wport[0]) - 1] = L'\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if ((e = GetAddrInfoW(whost, wport, &hints, &res)) != 0) {
		win_strerror((DWORD)e, why, sizeof(why));
		snprintf(msg, msgsize, "resolve %s: %s", host, why);
		win_set_error((DWORD)e);
		goto out;
	}
	deadline = GetTickCount64() + (ULONGLONG)timeout * 1000;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		now = GetTickCount64();
		if (now >= deadline) {
			snprintf(why, sizeof(why), "timed out after %u s",
			    timeout);
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == INVALID_SOCKET) {
			win_strerror((DWORD)WSAGetLastError(), why,
			    sizeof(why));
			continue;
		}
		nb = 1;
		ioctlsocket(fd, FIONBIO, &nb);
		if (connect(fd, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
			e = WSAGetLastError();
			if (e != WSAEWOULDBLOCK) {
				win_strerror((DWORD)e, why, sizeof(why));
				goto next;
			}
			FD_ZERO(&wfds);
			FD_ZERO(&efds);
			FD_SET(fd, &wfds);
			FD_SET(fd, &efds);
			tv.tv_sec = (long)((deadline - now) / 1000);
			tv.tv_usec = (long)((deadline - now) % 1000) * 1000;
			e = select(0, NULL, &wfds, &efds, &tv);
			if (e == 0) {
				snprintf(why, sizeof(why),
				    "timed out after %u s", timeout);
				goto next;
			}
			if (e == SOCKET_ERROR) {
				win_strerror((DWORD)WSAGetLastError(), why,
				    sizeof(why));
				goto next;
			}
			/* Windows reports a refused connect in efds. */
			soerr = 0;
			len = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    (char *)&soerr, &len) != 0)
				soerr = WSAGetLastError();
			if (soerr != 0 || FD_ISSET(fd, &efds)) {
				win_strerror(soerr != 0 ? (DWORD)soerr :
				    WSAECONNREFUSED, why, sizeof(why));
				goto next;
			}
		}
		/* libssh2 does its own waiting: hand it a blocking socket. */
		nb = 0;
		ioctlsocket(fd, FIONBIO, &nb);
		*s = fd;
		fd = INVALID_SOCKET;
		rc = RS_OK;
		goto out;
 next:
		closesocket(fd);
		fd = INVALID_SOCKET;
	}
	snprintf(msg, msgsize, "connect %s port %u: %s", host, port, why);
	win_set_errtext(why);
 out:
	if (res != NULL)
		FreeAddrInfoW(res);
	free(whost);
	return rc;
}

void
sys_tcp_close(libssh2_socket_t s)
{
	if (s != LIBSSH2_INVALID_SOCKET)
		closesocket(s);
}
