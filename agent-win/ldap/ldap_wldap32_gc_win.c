/*
 * ldap_wldap32_gc_win.c - the wldap32 backend's Global Catalog locator,
 * Windows only: with [ldap] global_catalog and no server, which GC to
 * connect to (ldap_wldap32_win.h: wldap_connect_gc).
 *
 * DsGetDcNameW(DS_GC_SERVER_REQUIRED) names a GC of the machine's
 * forest, reached on 3268 (3269 for ldaps).
 * One that does not answer is followed by the locator's new choice
 * (DS_FORCE_REDISCOVERY), then by every GC of the forest that
 * DsGetDcOpenW/DsGetDcNextW list (the client's site first), each tried
 * once, at most WLDAP_MAX_GC.  Wine 8's netapi32 exports those two under
 * other names (DsGetDcOpen, DsGetDcNext), so they are looked up at run
 * time: an import by name would keep the .exe from loading there.
 *
 * Ownership:  the locator's names are freed before each call returns;
 *             the connection is the caller's (wldap_connect).
 * Errors:     as wldap_connect_gc says.
 * Trust:      the locator's answers are names to connect to, nothing more.
 */
#include <winsock2.h>
#include <windows.h>
#include <winldap.h>
#include <dsgetdc.h>
#include <lmcons.h>
#include <lmapibuf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap_wldap32_win.h"
#include "rs_err.h"
#include "win_int.h"

#ifndef ERROR_FILEMARK_DETECTED
#define ERROR_FILEMARK_DETECTED	1101L
#endif

/* GC failover: how many of the forest's GCs one open tries at most. */
#define WLDAP_MAX_GC	16

/* The GCs one open has tried (DNS names), so that failover moves on. */
struct wldap_gcs {
	wchar_t		*name[WLDAP_MAX_GC];
	size_t		 n;
	char		 last[256];	/* the last GC tried, UTF-8 */
	char		 why[512];	/* why the last one failed */
};

typedef DWORD (WINAPI *wldap_dcopen_fn)(LPCWSTR, ULONG, LPCWSTR, GUID *,
    LPCWSTR, ULONG, PHANDLE);
typedef DWORD (WINAPI *wldap_dcnext_fn)(HANDLE, PULONG, LPSOCKET_ADDRESS *,
    LPWSTR *);
typedef VOID (WINAPI *wldap_dcclose_fn)(HANDLE);

static void
wldap_gcs_free(struct wldap_gcs *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->name[i]);
	g->n = 0;
}

/* A GC's DNS name and its forest's, from DsGetDcNameW (malloc'ed). */
static DWORD
wldap_gc_locate(ULONG flags, wchar_t **name, wchar_t **forest)
{
	PDOMAIN_CONTROLLER_INFOW info = NULL;
	const wchar_t *n;
	DWORD e;

	*name = NULL;
	if (forest != NULL)
		*forest = NULL;
	e = DsGetDcNameW(NULL, NULL, NULL, NULL, DS_GC_SERVER_REQUIRED |
	    DS_RETURN_DNS_NAME | flags, &info);
	if (e != ERROR_SUCCESS)
		return e;
	if ((n = info->DomainControllerName) == NULL) {
		NetApiBufferFree(info);
		return ERROR_NO_SUCH_DOMAIN;
	}
	/* "\\gc1.corp.test": the locator's UNC form. */
	while (*n == L'\\')
		n++;
	*name = _wcsdup(n);
	if (forest != NULL && info->DnsForestName != NULL)
		*forest = _wcsdup(info->DnsForestName);
	NetApiBufferFree(info);
	return *name != NULL ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
}

/* Connect to the GC name unless this open tried it; takes name. */
static ULONG
wldap_gc_try(struct ldapx_conn *c, struct wldap_gcs *g, wchar_t *name,
    ULONG port, int ssl)
{
	ULONG lrc;
	size_t i;
	char *s;

	for (i = 0; i < g->n; i++)
		if (_wcsicmp(g->name[i], name) == 0) {
			free(name);
			return LDAP_SERVER_DOWN;
		}
	if (g->n == WLDAP_MAX_GC) {
		free(name);
		return LDAP_SERVER_DOWN;
	}
	g->name[g->n++] = name;
	s = win_utf8(name);
	snprintf(g->last, sizeof(g->last), "%s:%lu", s != NULL ? s : "?",
	    (unsigned long)port);
	free(s);
	if ((lrc = wldap_connect(c, name, port, ssl, 0)) != LDAP_SUCCESS)
		wldap_seterr(g->why, sizeof(g->why), "connect", lrc, NULL);
	else
		snprintf(c->server, sizeof(c->server), "%s", g->last);
	return lrc;
}

/* Every GC of forest that DsGetDcNextW lists, until one answers. */
static ULONG
wldap_gc_next(struct ldapx_conn *c, struct wldap_gcs *g, const wchar_t *forest,
    ULONG port, int ssl)
{
	HMODULE m = GetModuleHandleW(L"netapi32.dll");
	wldap_dcopen_fn dcopen = NULL;
	wldap_dcnext_fn dcnext = NULL;
	wldap_dcclose_fn dcclose = NULL;
	HANDLE h = NULL;
	LPWSTR name = NULL;
	wchar_t *dup;
	ULONG lrc = LDAP_SERVER_DOWN;
	DWORD e;
	size_t k;
	char why[256];

	if (m != NULL) {
		dcopen = (wldap_dcopen_fn)(void (*)(void))GetProcAddress(m,
		    "DsGetDcOpenW");
		dcnext = (wldap_dcnext_fn)(void (*)(void))GetProcAddress(m,
		    "DsGetDcNextW");
		dcclose = (wldap_dcclose_fn)(void (*)(void))GetProcAddress(m,
		    "DsGetDcCloseW");
	}
	if (dcopen == NULL || dcnext == NULL || dcclose == NULL) {
		rs_info("ldap: this netapi32 has no DsGetDcOpenW: no other "
		    "Global Catalog of the forest is tried");
		return lrc;
	}
	if ((e = dcopen(forest, DS_NOTIFY_AFTER_SITE_RECORDS, NULL, NULL,
	    NULL, DS_GC_SERVER_REQUIRED, &h)) != ERROR_SUCCESS) {
		win_strerror(e, why, sizeof(why));
		rs_info("ldap: DsGetDcOpenW (the forest's Global Catalogs): "
		    "%s", why);
		return lrc;
	}
	/* Bounded also against a list that repeats names we tried. */
	for (k = 0; lrc != LDAP_SUCCESS && k < 4 * WLDAP_MAX_GC &&
	    g->n < WLDAP_MAX_GC; k++) {
		e = dcnext(h, NULL, NULL, &name);
		/* The end of the client's site's GCs: the others follow. */
		if (e == ERROR_FILEMARK_DETECTED)
			continue;
		if (e != ERROR_SUCCESS)
			break;
		if (name == NULL)
			continue;
		dup = _wcsdup(name);
		NetApiBufferFree(name);
		name = NULL;
		if (dup == NULL)
			break;
		lrc = wldap_gc_try(c, g, dup, port, ssl);
	}
	dcclose(h);
	return lrc;
}

int
wldap_connect_gc(struct ldapx_conn *c, int ssl, char *msg, size_t msgsize)
{
	struct wldap_gcs g;
	wchar_t *name = NULL, *forest = NULL;
	ULONG port = ssl ? LDAP_SSL_GC_PORT : LDAP_GC_PORT, lrc;
	DWORD e;
	char why[256];

	memset(&g, 0, sizeof(g));
	if ((e = wldap_gc_locate(0, &name, &forest)) != ERROR_SUCCESS) {
		win_strerror(e, why, sizeof(why));
		snprintf(msg, msgsize, "locate a Global Catalog "
		    "(global_catalog = yes without a server): DsGetDcNameW: "
		    "%s; set [ldap] server to a Global Catalog's host (port "
		    "3268, 3269 with tls = ldaps)", why);
		return RS_ERR_SYSTEM;
	}
	lrc = wldap_gc_try(c, &g, name, port, ssl);
	if (lrc != LDAP_SUCCESS && wldap_gc_locate(DS_FORCE_REDISCOVERY,
	    &name, NULL) == ERROR_SUCCESS)
		lrc = wldap_gc_try(c, &g, name, port, ssl);
	if (lrc != LDAP_SUCCESS && forest != NULL)
		lrc = wldap_gc_next(c, &g, forest, port, ssl);
	if (lrc != LDAP_SUCCESS)
		snprintf(msg, msgsize, "Global Catalog %s%s: %s; set [ldap] "
		    "server to list GCs by name", g.last, g.n > 1 ?
		    " (the last of those the locator named)" : "", g.why);
	free(forest);
	wldap_gcs_free(&g);
	return lrc == LDAP_SUCCESS ? RS_OK : RS_ERR_SYSTEM;
}

