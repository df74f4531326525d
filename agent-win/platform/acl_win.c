/*
 * acl_win.c - the owner and access-list rule of acl_win.h: what
 * rcptsync-agent.exe and the installer's custom action trust, and the
 * owner and DACL they give what they create.
 *
 * API: acl_win.h.  Built into the agent (Makefile.mingw takes every
 * agent-win file but the *_unix.c ones) and into rcptsync-msiconf.exe
 * (installer/build-msi.sh).
 * Errors: verdicts 1/0 with a reason, or Win32 error codes.
 * Ownership: nothing is kept but the process's own SID (static).
 * Trust boundary: this is the check itself; everything it reads (owner,
 * entries) may have been set by a hostile local user.
 */
#include "acl_win.h"

#include <aclapi.h>
#include <sddl.h>

#include <stdio.h>
#include <string.h>
#include <wchar.h>

const wchar_t acl_sddl_dir[] = L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
const wchar_t acl_sddl_file[] = L"O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)";
const wchar_t acl_sddl_public[] = L"O:BA";

/*
 * Rights that let an account change what rcptsync reads: write or append
 * data, extended attributes or attributes, delete the object or (a
 * folder) its children, change its DACL or its owner.  Reading is not
 * among them.
 */
#define ACL_WRITE_RIGHTS (FILE_WRITE_DATA | FILE_APPEND_DATA | \
	FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | FILE_DELETE_CHILD | DELETE | \
	WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | GENERIC_ALL)
/* ... and, for a secret, the rights to read its content. */
#define ACL_READ_RIGHTS	(FILE_READ_DATA | GENERIC_READ | GENERIC_ALL)

/* The account this process runs as (LocalSystem for the service). */
static union {
	TOKEN_USER	tu;
	BYTE		buf[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
} acl_self;
static PSID	acl_self_sid;
static INIT_ONCE acl_self_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK
acl_self_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
	HANDLE tok;
	DWORD n;

	(void)once;
	(void)param;
	(void)ctx;
	if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
		if (GetTokenInformation(tok, TokenUser, &acl_self,
		    sizeof(acl_self), &n))
			acl_self_sid = acl_self.tu.User.Sid;
		CloseHandle(tok);
	}
	return TRUE;
}

/*
 * Our own account is trusted as well: an account can only fool its own
 * processes, and for the service and the installer that account is
 * SYSTEM.
 */
int
acl_sid_trusted(PSID sid)
{
	InitOnceExecuteOnce(&acl_self_once, acl_self_init, NULL, NULL);
	return IsWellKnownSid(sid, WinLocalSystemSid) ||
	    IsWellKnownSid(sid, WinBuiltinAdministratorsSid) ||
	    (acl_self_sid != NULL && EqualSid(sid, acl_self_sid));
}

/* UTF-16 into a UTF-8 buffer; "" when it does not convert. */
static void
acl_narrow(const wchar_t *w, char *out, int outsize)
{
	if (WideCharToMultiByte(CP_UTF8, 0, w, -1, out, outsize, NULL,
	    NULL) <= 0)
		out[0] = '\0';
}

void
acl_sid_name(PSID sid, char *out, size_t outsize)
{
	wchar_t name[256], dom[256], *wsid = NULL;
	DWORD nn = 256, dn = 256;
	SID_NAME_USE use;
	char n8[800] = "", d8[800] = "", s8[200] = "";

	if (ConvertSidToStringSidW(sid, &wsid)) {
		acl_narrow(wsid, s8, (int)sizeof(s8));
		LocalFree(wsid);
	}
	if (LookupAccountSidW(NULL, sid, name, &nn, dom, &dn, &use)) {
		acl_narrow(name, n8, (int)sizeof(n8));
		acl_narrow(dom, d8, (int)sizeof(d8));
	}
	snprintf(out, outsize, "%s%s%s (%s)", d8, d8[0] != '\0' ? "\\" : "",
	    n8[0] != '\0' ? n8 : "an unknown account",
	    s8[0] != '\0' ? s8 : "unreadable SID");
}

int
acl_sd_trusted(PSID owner, PACL dacl, int secret, char *why, size_t whysize)
{
	ACL_SIZE_INFORMATION info;
	ACCESS_ALLOWED_ACE *a;
	ACE_HEADER *h;
	char who[400];
	DWORD i;

	if (owner == NULL) {
		snprintf(why, whysize, "it has no owner");
		return 0;
	}
	if (!acl_sid_trusted(owner)) {
		acl_sid_name(owner, who, sizeof(who));
		snprintf(why, whysize, "it is owned by %s, not by SYSTEM or "
		    "Administrators", who);
		return 0;
	}
	if (dacl == NULL) {
		snprintf(why, whysize, "it has no access list (a NULL DACL), "
		    "so everyone may write to it");
		return 0;
	}
	if (!GetAclInformation(dacl, &info, sizeof(info),
	    AclSizeInformation)) {
		snprintf(why, whysize, "its access list is unreadable");
		return 0;
	}
	for (i = 0; i < info.AceCount; i++) {
		if (!GetAce(dacl, i, (void **)&h)) {
			snprintf(why, whysize, "its access list is unreadable");
			return 0;
		}
		/* Inherit-only entries apply to children, not to this. */
		if (h->AceFlags & INHERIT_ONLY_ACE)
			continue;
		if (h->AceType == ACCESS_ALLOWED_OBJECT_ACE_TYPE ||
		    h->AceType == ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE) {
			snprintf(why, whysize, "its access list has an object "
			    "entry (type %u), which files never need",
			    (unsigned)h->AceType);
			return 0;
		}
		/* Deny entries only take rights away.  A callback
		 * (conditional) allow entry has the plain one's layout. */
		if (h->AceType != ACCESS_ALLOWED_ACE_TYPE &&
		    h->AceType != ACCESS_ALLOWED_CALLBACK_ACE_TYPE)
			continue;
		a = (ACCESS_ALLOWED_ACE *)h;
		if (!(a->Mask & (ACL_WRITE_RIGHTS |
		    (secret ? ACL_READ_RIGHTS : 0))) ||
		    acl_sid_trusted((PSID)&a->SidStart))
			continue;
		acl_sid_name((PSID)&a->SidStart, who, sizeof(who));
		snprintf(why, whysize, "%s may %s (access mask 0x%lx)", who,
		    (a->Mask & ACL_WRITE_RIGHTS) ? "write to it" :
		    "read it, and it is a private key", (unsigned long)a->Mask);
		return 0;
	}
	return 1;
}

int
acl_handle_trusted(HANDLE h, int secret, int *owner_ok, char *why,
    size_t whysize, DWORD *err)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL;
	PACL dacl = NULL;
	int ok;

	*owner_ok = 0;
	*err = GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION |
	    DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &sd);
	if (*err != ERROR_SUCCESS)
		return -1;
	*owner_ok = owner != NULL && acl_sid_trusted(owner);
	ok = acl_sd_trusted(owner, dacl, secret, why, whysize);
	LocalFree(sd);
	return ok;
}

DWORD
acl_reset(HANDLE h, int dir)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PSID owner = NULL;
	PACL dacl = NULL;
	BOOL present = FALSE, def = FALSE;
	DWORD e;

	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(dir ?
	    acl_sddl_dir : acl_sddl_file, SDDL_REVISION_1, &sd, NULL))
		return GetLastError();
	if (!GetSecurityDescriptorOwner(sd, &owner, &def) ||
	    !GetSecurityDescriptorDacl(sd, &present, &dacl, &def)) {
		e = GetLastError();
		goto out;
	}
	/* PROTECTED: stop inheriting whatever the parent grants. */
	e = SetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION |
	    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
	    owner, NULL, dacl, NULL);
	if (e == ERROR_INVALID_OWNER)
		e = SetSecurityInfo(h, SE_FILE_OBJECT,
		    DACL_SECURITY_INFORMATION |
		    PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL, dacl,
		    NULL);
 out:
	LocalFree(sd);
	return e;
}

/*
 * Security attributes from sddl (*sd: LocalFree, may be NULL); owner 0
 * drops the leading "O:BA".  *psa is NULL when nothing is left.
 */
static DWORD
acl_sa(const wchar_t *sddl, int owner, SECURITY_ATTRIBUTES *sa,
    SECURITY_ATTRIBUTES **psa, PSECURITY_DESCRIPTOR *sd)
{
	*sd = NULL;
	*psa = NULL;
	if (!owner && wcsncmp(sddl, L"O:BA", 4) == 0)
		sddl += 4;
	if (sddl[0] == L'\0')
		return ERROR_SUCCESS;
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl,
	    SDDL_REVISION_1, sd, NULL))
		return GetLastError();
	sa->nLength = sizeof(*sa);
	sa->lpSecurityDescriptor = *sd;
	sa->bInheritHandle = FALSE;
	*psa = sa;
	return ERROR_SUCCESS;
}

/* acl_create_file (dir 0) and acl_create_dir (dir 1, *h unused). */
static BOOL
acl_create(const wchar_t *path, const wchar_t *sddl, int dir, DWORD access,
    DWORD share, DWORD disposition, HANDLE *h)
{
	SECURITY_ATTRIBUTES sa, *psa;
	PSECURITY_DESCRIPTOR sd;
	DWORD e = ERROR_SUCCESS;
	BOOL ok = FALSE;
	int owner;

	*h = INVALID_HANDLE_VALUE;
	for (owner = 1; owner >= 0; owner--) {
		if ((e = acl_sa(sddl, owner, &sa, &psa, &sd)) != ERROR_SUCCESS)
			break;
		if (dir)
			ok = CreateDirectoryW(path, psa);
		else
			ok = (*h = CreateFileW(path, access, share, psa,
			    disposition, FILE_ATTRIBUTE_NORMAL, NULL)) !=
			    INVALID_HANDLE_VALUE;
		e = GetLastError();
		LocalFree(sd);
		if (ok || e != ERROR_INVALID_OWNER)
			break;
	}
	SetLastError(e);
	return ok;
}

HANDLE
acl_create_file(const wchar_t *path, const wchar_t *sddl, DWORD access,
    DWORD share, DWORD disposition)
{
	HANDLE h;

	acl_create(path, sddl, 0, access, share, disposition, &h);
	return h;
}

BOOL
acl_create_dir(const wchar_t *path)
{
	HANDLE unused;

	return acl_create(path, acl_sddl_dir, 1, 0, 0, 0, &unused);
}
