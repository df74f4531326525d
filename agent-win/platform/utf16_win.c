/*
 * utf16_win.c - UTF-8 <-> UTF-16 (utf16_win.h).
 */
#include <windows.h>

#include <stdlib.h>

#include "utf16_win.h"

wchar_t *
win_wide(const char *s)
{
	wchar_t *w;
	int n;

	if (s == NULL)
		return NULL;
	n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	if (n <= 0)
		return NULL;
	if ((w = malloc((size_t)n * sizeof(*w))) == NULL)
		return NULL;
	if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w,
	    n) != n) {
		free(w);
		return NULL;
	}
	return w;
}

char *
win_utf8(const wchar_t *w)
{
	char *s;
	int n;

	if (w == NULL)
		return NULL;
	n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, NULL, 0,
	    NULL, NULL);
	if (n <= 0)
		return NULL;
	if ((s = malloc((size_t)n)) == NULL)
		return NULL;
	if (WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, s, n,
	    NULL, NULL) != n) {
		free(s);
		return NULL;
	}
	return s;
}
