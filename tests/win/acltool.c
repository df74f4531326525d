/*
 * acltool.c - read and plant Windows security descriptors for
 * tests/t-win-acl.sh.  Wine does not enforce access lists and keeps of
 * them only what maps onto the Unix mode (no owner); this tool reads back
 * what the agent and the installer's custom action set, as far as Wine
 * keeps it, and plants the world-writable files that they must refuse.
 *
 *   acltool.exe show PATH          print "O:owner D:dacl" as SDDL
 *   acltool.exe set PATH SDDL      set the owner and/or DACL that SDDL
 *                                  names (SetNamedSecurityInfoW)
 *   acltool.exe whoami             the SID of the process's user
 *
 * Exit status 0 done, 1 a Win32 call failed (message on stderr), 2 usage.
 *
 * Built by `make -f Makefile.mingw test-exe` (build/win/acltool.exe); it
 * links nothing but advapi32.  Ownership: nothing outlives main.
 * Trust boundary: none (a test program).
 */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <stdio.h>
#include <wchar.h>

int	wmain(int argc, wchar_t **argv);

static int
acl_fail(const char *op, const wchar_t *path, DWORD e)
{
	fprintf(stderr, "acltool: %s %ls: error %lu\n", op, path,
	    (unsigned long)e);
	return 1;
}

static int
acl_show(const wchar_t *path)
{
	const SECURITY_INFORMATION what = OWNER_SECURITY_INFORMATION |
	    DACL_SECURITY_INFORMATION;
	PSECURITY_DESCRIPTOR sd = NULL;
	wchar_t *s = NULL;
	DWORD e;

	e = GetNamedSecurityInfoW(path, SE_FILE_OBJECT, what, NULL, NULL,
	    NULL, NULL, &sd);
	if (e != ERROR_SUCCESS)
		return acl_fail("GetNamedSecurityInfo", path, e);
	if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd,
	    SDDL_REVISION_1, what, &s, NULL)) {
		e = GetLastError();
		LocalFree(sd);
		return acl_fail("ConvertSecurityDescriptorToString", path, e);
	}
	printf("%ls\n", s);
	LocalFree(s);
	LocalFree(sd);
	return 0;
}

static int
acl_set(const wchar_t *path, const wchar_t *sddl)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	SECURITY_INFORMATION what = 0;
	PSID owner = NULL;
	PACL dacl = NULL;
	BOOL present = FALSE, def = FALSE;
	SECURITY_DESCRIPTOR_CONTROL ctl = 0;
	DWORD rev, e;

	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl,
	    SDDL_REVISION_1, &sd, NULL))
		return acl_fail("parse SDDL for", path, GetLastError());
	if (GetSecurityDescriptorOwner(sd, &owner, &def) && owner != NULL)
		what |= OWNER_SECURITY_INFORMATION;
	if (GetSecurityDescriptorDacl(sd, &present, &dacl, &def) && present) {
		what |= DACL_SECURITY_INFORMATION;
		if (GetSecurityDescriptorControl(sd, &ctl, &rev) &&
		    (ctl & SE_DACL_PROTECTED))
			what |= PROTECTED_DACL_SECURITY_INFORMATION;
		else
			what |= UNPROTECTED_DACL_SECURITY_INFORMATION;
	}
	e = SetNamedSecurityInfoW((wchar_t *)path, SE_FILE_OBJECT, what,
	    owner, NULL, dacl, NULL);
	LocalFree(sd);
	if (e != ERROR_SUCCESS)
		return acl_fail("SetNamedSecurityInfo", path, e);
	return 0;
}

static int
acl_whoami(void)
{
	HANDLE tok;
	BYTE buf[256];
	DWORD n;
	wchar_t *s;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return acl_fail("OpenProcessToken", L"self", GetLastError());
	if (!GetTokenInformation(tok, TokenUser, buf, sizeof(buf), &n) ||
	    !ConvertSidToStringSidW(((TOKEN_USER *)buf)->User.Sid, &s)) {
		CloseHandle(tok);
		return acl_fail("TokenUser", L"self", GetLastError());
	}
	printf("%ls\n", s);
	LocalFree(s);
	CloseHandle(tok);
	return 0;
}

int
wmain(int argc, wchar_t **argv)
{
	if (argc == 2 && wcscmp(argv[1], L"whoami") == 0)
		return acl_whoami();
	if (argc == 3 && wcscmp(argv[1], L"show") == 0)
		return acl_show(argv[2]);
	if (argc == 4 && wcscmp(argv[1], L"set") == 0)
		return acl_set(argv[2], argv[3]);
	fprintf(stderr, "usage: acltool.exe show PATH | set PATH SDDL | "
	    "whoami\n");
	return 2;
}
