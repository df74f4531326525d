/*
 * ldapx_win.c - the LDAP shim of ldapx.h on Windows, over wldap32.
 *
 * API: ldapx.h.  Only the wide (*W) wldap32 functions are used: base DNs,
 * filters, attribute names and host names are converted from UTF-8 at the
 * call, DNs back to UTF-8.  Attribute values come as struct berval, bytes
 * the server sent (UTF-8 in AD), and are passed through untouched.
 *
 * Binds:
 *   negotiate  ldap_bind_sW(LDAP_AUTH_NEGOTIATE) with NULL credentials:
 *              the process's own identity (LocalSystem = the computer
 *              account, or a gMSA / virtual account).  Signing and sealing
 *              (LDAP_OPT_SIGN, LDAP_OPT_ENCRYPT) are switched on first, so
 *              DCs that require LDAP signing accept the bind; over LDAPS
 *              TLS already protects the session and they stay off (AD
 *              refuses both at once).
 *   simple     ldap_simple_bind_sW(DN or UPN, password).
 *   none       no bind (anonymous).
 *   sasl       not available on Windows: a configuration error.
 * Server NULL: serverless bind; wldap32 asks the DC locator for a DC of
 * the machine's domain.  If that DC does not answer, the locator is asked
 * once more with DS_FORCE_REDISCOVERY, which skips its cached choice: the
 * locator's own failover.  Configured server lists are iterated by the
 * caller (export.c).
 *
 * Paging: ldap_create_page_controlW + ldap_search_ext_sW +
 * ldap_parse_resultW + ldap_parse_page_controlW, one page per call.  (Not
 * ldap_search_init_page: a stub in Wine.)  The page control is critical,
 * so a server without paging fails the search instead of silently
 * returning its size limit's worth of entries.
 *
 * Ownership: struct ldapx owns the connection; ldapx_close frees it.
 * Everything wldap32 returns is freed before each call returns.
 * Errors: RS_ERR_SYSTEM for LDAP failures, with the library's or the
 * server's text in ldapx_errmsg() (and msg for ldapx_open); RS_ERR_NOMEM,
 * RS_ERR_INVAL (bad UTF-8, unsupported option), RS_ERR_LIMIT (a value or
 * cookie too large).
 * Trust boundary: everything from the server is untrusted; values go to
 * the callback with their length, never as C strings.
 */
#include <winsock2.h>
#include <windows.h>
#include <winldap.h>
#include <winber.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ldapx.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "win_int.h"

/* Not in every mingw header set. */
#ifndef LDAP_OPT_GETDSNAME_FLAGS
#define LDAP_OPT_GETDSNAME_FLAGS 0x3D
#endif
#ifndef DS_FORCE_REDISCOVERY
#define DS_FORCE_REDISCOVERY	0x00000001
#endif

/* Most attributes one search asks for (export uses one or two). */

struct ldapx {
	LDAP		*ld;
	unsigned	 timeout;
	char		 server[512];
	char		 err[512];
};

/* Text of an LDAP result code, UTF-8. */
static void
ldapx_rcstr(ULONG rc, char *out, size_t outsize)
{
	char *s = win_utf8(ldap_err2stringW(rc));

	snprintf(out, outsize, "%s (LDAP %lu)", s != NULL ? s : "LDAP error",
	    (unsigned long)rc);
	free(s);
}

static void
ldapx_seterr(struct ldapx *c, const char *what, ULONG rc, const wchar_t *srv)
{
	char why[256], *s = NULL;

	ldapx_rcstr(rc, why, sizeof(why));
	if (srv != NULL && srv[0] != L'\0')
		s = win_utf8(srv);
	if (s != NULL)
		snprintf(c->err, sizeof(c->err), "%s: %s: %s", what, why, s);
	else
		snprintf(c->err, sizeof(c->err), "%s: %s", what, why);
	free(s);
}

/*
 * Split "host", "host:port", "[v6]:port", "ldap://host:port/..." into
 * *host (malloc'ed, wide) and *port; *ssl set by an ldaps:// scheme.
 */
static int
ldapx_parse_server(const char *server, enum ldapx_tls tls, wchar_t **host,
    ULONG *port, int *ssl)
{
	char buf[512], *h, *p, *end;
	unsigned long v;

	*host = NULL;
	*ssl = tls == LDAPX_TLS_LDAPS;
	if (snprintf(buf, sizeof(buf), "%s", server) >= (int)sizeof(buf))
		return RS_ERR_LIMIT;
	h = buf;
	if (_strnicmp(h, "ldaps://", 8) == 0) {
		*ssl = 1;
		h += 8;
	} else if (_strnicmp(h, "ldap://", 7) == 0)
		h += 7;
	if ((p = strchr(h, '/')) != NULL)
		*p = '\0';
	*port = *ssl ? LDAP_SSL_PORT : LDAP_PORT;
	p = NULL;
	if (h[0] == '[') {
		if ((end = strchr(h, ']')) == NULL)
			return RS_ERR_SYNTAX;
		*end = '\0';
		h++;
		if (end[1] == ':')
			p = end + 2;
		else if (end[1] != '\0')
			return RS_ERR_SYNTAX;
	} else if ((p = strchr(h, ':')) != NULL)
		*p++ = '\0';
	if (p != NULL) {
		v = strtoul(p, &end, 10);
		if (p[0] < '0' || p[0] > '9' || *end != '\0' || v == 0 ||
		    v > 65535)
			return RS_ERR_SYNTAX;
		*port = (ULONG)v;
	}
	if (h[0] == '\0')
		return RS_ERR_SYNTAX;
	if ((*host = win_wide(h)) == NULL)
		return RS_ERR_INVAL;
	return RS_OK;
}

/* Create the handle and connect; serverless when host is NULL. */
static ULONG
ldapx_connect(struct ldapx *c, wchar_t *host, ULONG port, int ssl,
    int rediscover)
{
	struct l_timeval tv;
	ULONG v, rc;

	if (c->ld != NULL) {
		ldap_unbind(c->ld);
		c->ld = NULL;
	}
	c->ld = ssl ? ldap_sslinitW(host, port, 1) : ldap_initW(host, port);
	if (c->ld == NULL)
		return LdapGetLastError();
	v = LDAP_VERSION3;
	if ((rc = ldap_set_optionW(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v)) !=
	    LDAP_SUCCESS)
		return rc;
	/* AD returns referrals to other partitions; chasing them hangs. */
	ldap_set_optionW(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	v = c->timeout;
	ldap_set_optionW(c->ld, LDAP_OPT_TIMELIMIT, &v);
	if (rediscover) {
		v = DS_FORCE_REDISCOVERY;
		ldap_set_optionW(c->ld, LDAP_OPT_GETDSNAME_FLAGS, &v);
	}
	tv.tv_sec = (LONG)c->timeout;
	tv.tv_usec = 0;
	return ldap_connect(c->ld, &tv);
}

int
ldapx_open(const struct ldapx_opts *o, struct ldapx **out, char *msg,
    size_t msgsize)
{
	struct ldapx *c = NULL;
	wchar_t *host = NULL, *wdn = NULL, *wpw = NULL, *hn = NULL;
	ULONG port = LDAP_PORT, lrc, srv;
	char *s;
	int ssl = 0, rc;

	*out = NULL;
	if (msgsize > 0)
		msg[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = RS_ERR_NOMEM;
		goto out;
	}
	c->timeout = o->timeout > 0 ? o->timeout : 30;
	if (o->bind == LDAPX_BIND_SASL) {
		snprintf(msg, msgsize, "bind: sasl is not available on "
		    "Windows; use bind = negotiate");
		rc = RS_ERR_INVAL;
		goto out;
	}
	if (o->server != NULL) {
		if ((rc = ldapx_parse_server(o->server, o->tls, &host, &port,
		    &ssl)) != RS_OK) {
			snprintf(msg, msgsize, "server %s: not host, host:port "
			    "or an ldap:// URI", o->server);
			goto out;
		}
		snprintf(c->server, sizeof(c->server), "%s", o->server);
	} else {
		ssl = o->tls == LDAPX_TLS_LDAPS;
		port = ssl ? LDAP_SSL_PORT : LDAP_PORT;
		snprintf(c->server, sizeof(c->server), "(DC locator)");
	}

	lrc = ldapx_connect(c, host, port, ssl, 0);
	if (lrc != LDAP_SUCCESS && host == NULL) {
		/* The locator's cached DC is gone: ask it for another. */
		lrc = ldapx_connect(c, NULL, port, ssl, 1);
	}
	if (lrc != LDAP_SUCCESS) {
		ldapx_seterr(c, "connect", lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto fail;
	}
	/* The DC the locator chose, for logs and the bundle's source. */
	if (host == NULL && ldap_get_optionW(c->ld, LDAP_OPT_HOST_NAME, &hn) ==
	    LDAP_SUCCESS && hn != NULL && (s = win_utf8(hn)) != NULL) {
		snprintf(c->server, sizeof(c->server), "%s", s);
		free(s);
	}
	if (o->tls == LDAPX_TLS_STARTTLS && !ssl) {
		srv = 0;
		if ((lrc = ldap_start_tls_sW(c->ld, &srv, NULL, NULL, NULL)) !=
		    LDAP_SUCCESS) {
			ldapx_seterr(c, "starttls", lrc, NULL);
			rc = RS_ERR_SYSTEM;
			goto fail;
		}
	}
	/* ca_file: wldap32 verifies against the Windows certificate store. */
	switch (o->bind) {
	case LDAPX_BIND_NEGOTIATE:
		if (!ssl && o->tls != LDAPX_TLS_STARTTLS) {
			ldap_set_optionW(c->ld, LDAP_OPT_SIGN, LDAP_OPT_ON);
			ldap_set_optionW(c->ld, LDAP_OPT_ENCRYPT, LDAP_OPT_ON);
		}
		lrc = ldap_bind_sW(c->ld, NULL, NULL, LDAP_AUTH_NEGOTIATE);
		break;
	case LDAPX_BIND_SIMPLE:
		if (o->bind_dn == NULL || o->password == NULL) {
			snprintf(msg, msgsize, "bind: simple bind needs "
			    "bind_dn and a password");
			rc = RS_ERR_INVAL;
			goto out;
		}
		if ((wdn = win_wide(o->bind_dn)) == NULL ||
		    (wpw = win_wide(o->password)) == NULL) {
			snprintf(msg, msgsize, "bind: bind_dn or password is "
			    "not valid UTF-8");
			rc = RS_ERR_INVAL;
			goto out;
		}
		lrc = ldap_simple_bind_sW(c->ld, wdn, wpw);
		break;
	default:
		lrc = LDAP_SUCCESS;
		break;
	}
	if (lrc != LDAP_SUCCESS) {
		ldapx_seterr(c, "bind", lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto fail;
	}
	c->err[0] = '\0';
	*out = c;
	c = NULL;
	rc = RS_OK;
	goto out;
 fail:
	snprintf(msg, msgsize, "%s", c->err);
 out:
	if (wpw != NULL) {
		rs_wipe(wpw, wcslen(wpw) * sizeof(*wpw));
		free(wpw);
	}
	free(wdn);
	free(host);
	ldapx_close(c);
	return rc;
}

/* Free a NULL-terminated array of wide attribute names. */
static void
ldapx_free_attrs(wchar_t **w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; w[i] != NULL; i++)
		free(w[i]);
	free(w);
}

static wchar_t **
ldapx_wide_attrs(const char *const *attrs, size_t *nattrs)
{
	wchar_t **w;
	size_t i, n;

	for (n = 0; attrs[n] != NULL; n++)
		;
	*nattrs = n;
	if (n > RS_MAX_LDAP_ATTRS || (w = calloc(n + 1, sizeof(*w))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((w[i] = win_wide(attrs[i])) == NULL) {
			ldapx_free_attrs(w);
			return NULL;
		}
	}
	return w;
}

/* Hand one entry to fn. */
static int
ldapx_entry(struct ldapx *c, LDAPMessage *e, wchar_t **wattrs, size_t nattrs,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	struct berval **bv[RS_MAX_LDAP_ATTRS];
	struct ldapx_val *vals[RS_MAX_LDAP_ATTRS];
	const struct ldapx_val *cvals[RS_MAX_LDAP_ATTRS];
	size_t nvals[RS_MAX_LDAP_ATTRS], i, j;
	wchar_t *wdn;
	char *dn = NULL;
	int rc;

	memset(bv, 0, sizeof(bv));
	memset(vals, 0, sizeof(vals));
	if ((wdn = ldap_get_dnW(c->ld, e)) == NULL) {
		snprintf(c->err, sizeof(c->err), "entry without a DN");
		rc = RS_ERR_FORMAT;
		goto out;
	}
	dn = win_utf8(wdn);
	ldap_memfreeW(wdn);
	if (dn == NULL) {
		snprintf(c->err, sizeof(c->err), "DN is not valid UTF-16");
		rc = RS_ERR_FORMAT;
		goto out;
	}
	for (i = 0; i < nattrs; i++) {
		nvals[i] = 0;
		bv[i] = ldap_get_values_lenW(c->ld, e, wattrs[i]);
		if (bv[i] == NULL)
			continue;
		for (j = 0; bv[i][j] != NULL; j++)
			;
		if ((vals[i] = calloc(j + 1, sizeof(*vals[i]))) == NULL) {
			rc = RS_ERR_NOMEM;
			goto out;
		}
		for (j = 0; bv[i][j] != NULL; j++) {
			/* bv_len is a ULONG (32 bits) on Win64. */
			vals[i][j].p = bv[i][j]->bv_val;
			vals[i][j].len = (size_t)bv[i][j]->bv_len;
			if (bytes != NULL)
				*bytes += bv[i][j]->bv_len;
		}
		nvals[i] = j;
	}
	for (i = 0; i < nattrs; i++)
		cvals[i] = vals[i];
	rc = fn(arg, dn, cvals, nvals);
 out:
	for (i = 0; i < nattrs; i++) {
		if (bv[i] != NULL)
			ldap_value_free_len(bv[i]);
		free(vals[i]);
	}
	free(dn);
	return rc;
}

int
ldapx_search_page(struct ldapx *c, const char *base, const char *filter,
    const char *const *attrs, unsigned page_size, struct rs_buf *cookie,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	LDAPControlW *page = NULL, *sctrls[2], **rctrls = NULL;
	LDAPMessage *res = NULL, *e;
	struct berval in, *next = NULL;
	struct l_timeval tv;
	wchar_t *wbase = NULL, *wfilter = NULL, **wattrs = NULL;
	wchar_t *srvmsg = NULL;
	size_t nattrs = 0;
	ULONG lrc, code = LDAP_SUCCESS, total = 0;
	int rc;

	c->err[0] = '\0';
	if ((wbase = win_wide(base)) == NULL ||
	    (wfilter = win_wide(filter)) == NULL ||
	    (wattrs = ldapx_wide_attrs(attrs, &nattrs)) == NULL) {
		snprintf(c->err, sizeof(c->err), "search %s: base, filter or "
		    "attributes not valid UTF-8 (or too many)", base);
		rc = RS_ERR_INVAL;
		goto out;
	}
	in.bv_len = (ULONG)cookie->len;
	in.bv_val = cookie->len > 0 ? (char *)cookie->data : NULL;
	if ((lrc = ldap_create_page_controlW(c->ld, page_size, &in, 1,
	    &page)) != LDAP_SUCCESS) {
		ldapx_seterr(c, "create page control", lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	sctrls[0] = page;
	sctrls[1] = NULL;
	tv.tv_sec = (LONG)c->timeout;
	tv.tv_usec = 0;
	lrc = ldap_search_ext_sW(c->ld, wbase, LDAP_SCOPE_SUBTREE, wfilter,
	    wattrs, 0, sctrls, NULL, &tv, 0, &res);
	if (res == NULL) {
		ldapx_seterr(c, "search", lrc != LDAP_SUCCESS ? lrc :
		    LdapGetLastError(), NULL);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	/* The result code of the page, and the server's cookie. */
	lrc = ldap_parse_resultW(c->ld, res, &code, NULL, &srvmsg, NULL,
	    &rctrls, FALSE);
	if (lrc != LDAP_SUCCESS) {
		ldapx_seterr(c, "search result", lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	if (code != LDAP_SUCCESS) {
		/* Never a partial page: sizeLimitExceeded included. */
		ldapx_seterr(c, "search", code, srvmsg);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	if (rctrls == NULL || (lrc = ldap_parse_page_controlW(c->ld, rctrls,
	    &total, &next)) != LDAP_SUCCESS) {
		snprintf(c->err, sizeof(c->err), "search: the server did "
		    "not return a paged results control");
		rc = RS_ERR_FORMAT;
		goto out;
	}
	for (e = ldap_first_entry(c->ld, res); e != NULL;
	    e = ldap_next_entry(c->ld, e)) {
		if ((rc = ldapx_entry(c, e, wattrs, nattrs, fn, arg, bytes)) !=
		    RS_OK)
			goto out;
	}
	rs_buf_reset(cookie);
	if (next != NULL && next->bv_len > 0 &&
	    (rc = rs_buf_put(cookie, next->bv_val, next->bv_len)) != RS_OK) {
		snprintf(c->err, sizeof(c->err), "search: paging cookie too "
		    "large");
		goto out;
	}
	rc = RS_OK;
 out:
	if (next != NULL)
		ber_bvfree(next);
	if (rctrls != NULL)
		ldap_controls_freeW(rctrls);
	if (srvmsg != NULL)
		ldap_memfreeW(srvmsg);
	if (res != NULL)
		ldap_msgfree(res);
	if (page != NULL)
		ldap_control_freeW(page);
	ldapx_free_attrs(wattrs);
	free(wfilter);
	free(wbase);
	return rc;
}

int
ldapx_read(struct ldapx *c, const char *dn, const char *const *attrs,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	LDAPMessage *res = NULL, *e;
	struct l_timeval tv;
	wchar_t *wdn = NULL, **wattrs = NULL, *srvmsg = NULL;
	size_t nattrs = 0;
	ULONG lrc, code = LDAP_SUCCESS;
	int rc;

	c->err[0] = '\0';
	if ((wdn = win_wide(dn)) == NULL ||
	    (wattrs = ldapx_wide_attrs(attrs, &nattrs)) == NULL) {
		snprintf(c->err, sizeof(c->err), "read %s: DN or attributes "
		    "not valid UTF-8 (or too many)", dn);
		rc = RS_ERR_INVAL;
		goto out;
	}
	tv.tv_sec = (LONG)c->timeout;
	tv.tv_usec = 0;
	lrc = ldap_search_ext_sW(c->ld, wdn, LDAP_SCOPE_BASE,
	    L"(objectClass=*)", wattrs, 0, NULL, NULL, &tv, 1, &res);
	if (lrc == LDAP_NO_SUCH_OBJECT) {
		rc = RS_ERR_NOTFOUND;
		goto out;
	}
	if (res == NULL) {
		ldapx_seterr(c, "read", lrc != LDAP_SUCCESS ? lrc :
		    LdapGetLastError(), NULL);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	lrc = ldap_parse_resultW(c->ld, res, &code, NULL, &srvmsg, NULL, NULL,
	    FALSE);
	if (lrc != LDAP_SUCCESS) {
		ldapx_seterr(c, "read result", lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	if (code == LDAP_NO_SUCH_OBJECT) {
		rc = RS_ERR_NOTFOUND;
		goto out;
	}
	/*
	 * The result code before the entry: a busy or unwilling DC sends an
	 * error and no entry, and that is a failed read, not an absent
	 * entry (a root DSE "not found" would turn change detection off).
	 */
	if (code != LDAP_SUCCESS) {
		ldapx_seterr(c, "read", code, srvmsg);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	if ((e = ldap_first_entry(c->ld, res)) == NULL) {
		rc = RS_ERR_NOTFOUND;
		goto out;
	}
	rc = ldapx_entry(c, e, wattrs, nattrs, fn, arg, bytes);
 out:
	if (srvmsg != NULL)
		ldap_memfreeW(srvmsg);
	if (res != NULL)
		ldap_msgfree(res);
	ldapx_free_attrs(wattrs);
	free(wdn);
	return rc;
}

const char *
ldapx_server(const struct ldapx *c)
{
	return c->server;
}

const char *
ldapx_errmsg(const struct ldapx *c)
{
	return c != NULL ? c->err : "";
}

void
ldapx_close(struct ldapx *c)
{
	if (c == NULL)
		return;
	if (c->ld != NULL)
		ldap_unbind(c->ld);
	free(c);
}
