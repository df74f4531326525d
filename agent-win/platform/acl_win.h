/*
 * acl_win.h - who may own, and who may write, the files and folders that
 * rcptsync trusts on Windows; shared by rcptsync-agent.exe (sys_win.c,
 * eventlog_win.c, main_win.c) and the installer's custom action
 * (installer/msiconf_win.c), so that both apply the same rule.
 *
 * The rule (Win32-OpenSSH's check_secure_file_permission): the owner is
 * SYSTEM, Administrators or the account the program runs as (SYSTEM for
 * the service and the installer), and no allow entry gives anyone else a
 * right that changes the object (ACL_WRITE_RIGHTS).  What rcptsync
 * creates is owned by Administrators, the one owner that both LocalSystem
 * and an elevated administrator may set, with a protected DACL: SYSTEM
 * and Administrators, full control, nothing inherited.
 *
 * Only Windows system headers: no libssh2, no agent types.
 * Errors: Win32 error codes (DWORD) or 1/0 verdicts, as each says.
 * Ownership: descriptors from acl_sa are the caller's (LocalFree).
 */
#ifndef RS_ACL_WIN_H
#define RS_ACL_WIN_H

#include <windows.h>
#include <stddef.h>

/* Owner and DACL of what rcptsync creates (SDDL). */
extern const wchar_t acl_sddl_dir[];	/* private folder */
extern const wchar_t acl_sddl_file[];	/* private file */
extern const wchar_t acl_sddl_public[];	/* owner only, DACL inherited */

/* Room for a reason (acl_sd_trusted): two account names and a SID. */
#define ACL_WHY_MAX	600

/* SYSTEM, Administrators or this process's own account? */
int	acl_sid_trusted(PSID sid);
/* "DOMAIN\name (S-1-...)" of sid for messages, UTF-8. */
void	acl_sid_name(PSID sid, char *out, size_t outsize);
/*
 * The rule on an owner and a DACL (NULL: a NULL DACL, full access for
 * everyone): 1 trusted; 0 not, with the reason in why ("it is owned by
 * BUILTIN\Users (S-1-5-32-545), not by SYSTEM or Administrators").
 * secret (a private key): nobody else may read it either.
 */
int	acl_sd_trusted(PSID owner, PACL dacl, int secret, char *why,
	    size_t whysize);
/*
 * The rule on the object open as h (READ_CONTROL): 1, 0 (why), or -1
 * when its descriptor cannot be read (*err is the Win32 error).
 * owner_ok: set to whether the owner alone passes.
 */
int	acl_handle_trusted(HANDLE h, int secret, int *owner_ok, char *why,
	    size_t whysize, DWORD *err);
/*
 * Make Administrators the owner of h (WRITE_OWNER | WRITE_DAC) and give
 * it the protected private DACL of a folder (dir) or a file.  A process
 * that may not set that owner keeps the owner and still gets the DACL.
 * Returns a Win32 error code (ERROR_SUCCESS).
 */
DWORD	acl_reset(HANDLE h, int dir);
/*
 * Create with the owner and DACL of sddl in the same call: CreateFileW
 * (INVALID_HANDLE_VALUE on failure) and CreateDirectoryW with
 * acl_sddl_dir (FALSE).  A process that may not make Administrators the
 * owner (a console that is not elevated: ERROR_INVALID_OWNER) creates
 * the object as its own, with the same DACL; only it trusts that.
 * GetLastError tells why, or ERROR_ALREADY_EXISTS after OPEN_ALWAYS.
 */
HANDLE	acl_create_file(const wchar_t *path, const wchar_t *sddl,
	    DWORD access, DWORD share, DWORD disposition);
BOOL	acl_create_dir(const wchar_t *path);

#endif /* RS_ACL_WIN_H */
