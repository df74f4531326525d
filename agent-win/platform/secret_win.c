/*
 * secret_win.c - the LDAP password of a simple bind on Windows, kept in
 * the config as a DPAPI blob.
 *
 * API: sys_get_password (sys.h) reads [ldap] password and decrypts it;
 * win_protect_password (win_int.h) makes the blob for set-password.
 *
 * The blob is CryptProtectData's output in machine scope (the service,
 * whatever its account, decrypts what an administrator encrypted; the
 * blob is useless on another machine), with an entropy string of ours
 * bound in, so that a blob another program made for another purpose does
 * not decrypt as our password.  It is stored in strict base64
 * (common/base64.c), the one codec of the tree.
 *
 * Errors: RS_OK or a negative RS_ERR_*, each after a message that says
 * what to run (set-password).  RS_ERR_SYSTEM records the Win32 error for
 * sys_errmsg.
 * Ownership: the plaintext lives only in the caller's rs_buf (wiped on
 * free) and in DPAPI's buffer, wiped here before it is released; *b64
 * belongs to the caller.
 * Trust boundary: the config's value is input (an administrator's file,
 * checked by acl_win.h before it is read); a value that is not a blob is
 * refused, never used as a password.
 */
#include "win_int.h"

#include <wincrypt.h>

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "cfg.h"
#include "rs_err.h"

/* Bound into every blob: see the header. */
static const char secret_entropy[] = "rcptsync-agent ldap password v1";

/* A blob is a few hundred bytes; refuse a config value far past that. */
enum { SECRET_BLOB_MAX = 48 * 1024 };

static void
secret_entropy_blob(DATA_BLOB *ent)
{
	ent->cbData = (DWORD)(sizeof(secret_entropy) - 1);
	ent->pbData = (BYTE *)secret_entropy;
}

int
sys_get_password(const struct cfg_section *ldap, struct rs_buf *out)
{
	DATA_BLOB in, plain = { 0, NULL }, ent;
	struct rs_buf raw;
	const char *b64;
	int rc;

	rs_buf_reset(out);
	rs_buf_init(&raw, SECRET_BLOB_MAX);
	b64 = cfg_get(ldap, "password");
	if (b64 == NULL) {
		rs_error("ldap password: no [ldap] password; run "
		    "rcptsync-agent.exe set-password");
		rc = RS_ERR_NOTFOUND;
		goto out;
	}
	if (b64_decode((const unsigned char *)b64, strlen(b64), &raw) !=
	    RS_OK) {
		rs_error("ldap password: [ldap] password is not a base64 "
		    "DPAPI blob; run rcptsync-agent.exe set-password");
		rc = RS_ERR_FORMAT;
		goto out;
	}
	in.cbData = (DWORD)raw.len;
	in.pbData = raw.data;
	secret_entropy_blob(&ent);
	if (!CryptUnprotectData(&in, NULL, &ent, NULL, NULL,
	    CRYPTPROTECT_UI_FORBIDDEN, &plain)) {
		win_set_error(GetLastError());
		rs_error("ldap password: cannot decrypt the DPAPI blob "
		    "(written on another machine?): %s; run "
		    "rcptsync-agent.exe set-password", sys_errmsg());
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	if (memchr(plain.pbData, '\0', plain.cbData) != NULL) {
		rs_error("ldap password: contains a NUL byte");
		rc = RS_ERR_FORMAT;
		goto out;
	}
	rc = rs_buf_put(out, plain.pbData, plain.cbData);
 out:
	if (plain.pbData != NULL) {
		rs_wipe(plain.pbData, plain.cbData);
		LocalFree(plain.pbData);
	}
	rs_buf_free(&raw);
	return rc;
}

int
win_protect_password(const char *pw, size_t n, char **b64)
{
	DATA_BLOB in, blob = { 0, NULL }, ent;
	struct rs_buf text;
	int rc;

	*b64 = NULL;
	rs_buf_init(&text, SECRET_BLOB_MAX / 3 * 4 + 8);
	in.cbData = (DWORD)n;
	in.pbData = (BYTE *)pw;
	secret_entropy_blob(&ent);
	if (!CryptProtectData(&in, L"rcptsync-agent LDAP password", &ent,
	    NULL, NULL, CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN,
	    &blob)) {
		win_set_error(GetLastError());
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	if (blob.cbData > SECRET_BLOB_MAX) {
		rc = RS_ERR_LIMIT;
		goto out;
	}
	if ((rc = b64_encode(&text, blob.pbData, blob.cbData, 0, 1)) !=
	    RS_OK || (rc = rs_buf_put_u8(&text, 0)) != RS_OK)
		goto out;
	*b64 = (char *)text.data;
	text.data = NULL;
	rc = RS_OK;
 out:
	if (blob.pbData != NULL)
		LocalFree(blob.pbData);
	rs_buf_free(&text);
	return rc;
}
