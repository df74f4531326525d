/*
 * utf16_win.h - UTF-8 <-> UTF-16 at the Win32 boundary, for the agent and
 * the installer's custom action (rcptsync-msiconf.exe), which links this
 * file and acl_win.c and nothing else of the agent.
 *
 * Strings are UTF-8 inside both programs; only the *W functions of Win32
 * are called, with what these return.
 * Ownership: the result is malloc'ed, the caller frees it.
 * Errors: NULL for NULL, for input that is not valid UTF-8 / UTF-16 (no
 * replacement characters: a path must never change on the way), or for
 * no memory.
 */
#ifndef RS_UTF16_WIN_H
#define RS_UTF16_WIN_H

#include <wchar.h>

wchar_t	*win_wide(const char *s);
char	*win_utf8(const wchar_t *w);

#endif /* RS_UTF16_WIN_H */
