/*
 * ldap_wldap32_win.c - the wldap32 backend (ldap_backend.h), Windows only.
 *
 * API: ldapx_wldap32, a struct ldapx_backend.  Only the wide (*W) wldap32
 * functions are used: base DNs, filters, attribute names and host names
 * are converted from UTF-8 at the call, DNs and attribute names back to
 * UTF-8.  Attribute values come as struct berval, bytes
 * the server sent (UTF-8 in AD), and are passed through untouched.
 *
 * Binds:
 *   negotiate  ldap_bind_sW(LDAP_AUTH_NEGOTIATE) with NULL credentials:
 *              the process's own identity (LocalSystem = the computer
 *              account, or a gMSA / virtual account), as Microsoft
 *              documents it.  With bind_dn DOMAIN\user: that account,
 *              its password from set-password, in a
 *              SEC_WINNT_AUTH_IDENTITY_W (for a machine outside the
 *              domain).  Wine 8 crashes on the NULL credentials
 *              (docs/HACKING.md); main_win.c's filter makes that exit 70.
 *              An identity with every field NULL is not the same call on
 *              Windows, so it is never sent for "own logon".  Signing and sealing
 *              (LDAP_OPT_SIGN, LDAP_OPT_ENCRYPT) are switched on first, so
 *              DCs that require LDAP signing accept the bind; over LDAPS
 *              TLS already protects the session and they stay off (AD
 *              refuses both at once).
 *   simple     ldap_simple_bind_sW(DN or UPN, password).
 *   none       no bind (anonymous).
 *   sasl       not available on Windows: refused by ldapx_pick.
 * Server NULL: serverless bind; wldap32 asks the DC locator for a DC of
 * the machine's domain.  If that DC does not answer, the locator is asked
 * once more with DS_FORCE_REDISCOVERY, which skips its cached choice: the
 * locator's own failover.  Configured server lists are iterated by the
 * caller (export.c).
 * Server NULL with global_catalog: ldap_wldap32_gc_win.c.
 *
 * Paging: ldap_create_page_controlW + ldap_search_extW, then
 * ldap_result(LDAP_MSG_ONE) per message, each entry parsed on arrival and
 * held back (ldap_held.c) until ldap_parse_resultW has read the result
 * code; ldap_parse_page_controlW, one page per search.
 * (Not ldap_search_init_page: a stub in Wine.)  The rules (a critical
 * control, the result code before the entries, ranged attributes) are
 * ldap_page.c's.  TLS: wldap32 checks the server's certificate against
 * the Windows certificate store, never ca_file (ldapx_pick refuses
 * ca_file with this backend).  Change notification is
 * ldap_wldap32_notify_win.c's, over the connection and helpers
 * ldap_wldap32_win.h shares.
 *
 * Ownership: struct ldapx_conn owns the connection; close frees it.  A
 * reply (struct ldapx_res) holds wldap32's messages until res_free,
 * which abandons a search that was sent and not collected.
 * Errors: RS_ERR_SYSTEM for LDAP failures, with the library's or the
 * server's text in msg; RS_ERR_NOMEM, RS_ERR_INVAL (bad UTF-8,
 * unsupported option), RS_ERR_LIMIT (a value or cookie too large).
 * Trust boundary: everything from the server is untrusted; values go to
 * the callback with their length, never as C strings.
 * Names shared with libldap: ten functions (wldap_dll below) are
 * looked up in wldap32.dll, not linked by name.
 */
#include <winsock2.h>
#include <windows.h>
#include <winldap.h>
#include <winber.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ldap_backend.h"
#include "ldap_wldap32_win.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "win_int.h"

/* Not in every mingw header set. */
#ifndef LDAP_OPT_GETDSNAME_FLAGS
#define LDAP_OPT_GETDSNAME_FLAGS 0x3D
#endif

/*
 * The server's reply to one search: its result message, and its entries
 * as they were parsed on arrival, held back (ldap_held.c) until
 * ldap_page.c has read the result code.
 */
struct ldapx_res {
	LDAP			*ld;
	ULONG			 msgid;
	int			 pending;	/* sent, not collected */
	LDAPMessage		*msgs;		/* the result */
	struct ldapx_held	*held;
};

/*
 * The wldap32 functions whose names libldap, linked into the same .exe
 * for ldap_openldap.c, defines as well: the linker cannot take both, so
 * these are not called by name but looked up in wldap32.dll, once.
 */
struct wldap_dll {
	ULONG		 (LDAPAPI *connect)(LDAP *, struct l_timeval *);
	ULONG		 (LDAPAPI *unbind)(LDAP *);
	LDAPMessage	*(LDAPAPI *first_entry)(LDAP *, LDAPMessage *);
	LDAPMessage	*(LDAPAPI *next_entry)(LDAP *, LDAPMessage *);
	ULONG		 (LDAPAPI *msgfree)(LDAPMessage *);
	ULONG		 (LDAPAPI *value_free_len)(struct berval **);
	VOID		 (BERAPI *ber_free)(BerElement *, INT);
	VOID		 (BERAPI *ber_bvfree)(struct berval *);
	ULONG		 (LDAPAPI *result)(LDAP *, ULONG, ULONG,
			    struct l_timeval *, LDAPMessage **);
	ULONG		 (LDAPAPI *abandon)(LDAP *, ULONG);
};

static struct wldap_dll wl;
static INIT_ONCE wl_once = INIT_ONCE_STATIC_INIT;
static int wl_loaded;

/* Through void (*)(void): the one cast of FARPROC gcc does not flag. */
#define WL_GET(m, field, name) \
	((wl.field = (__typeof__(wl.field))(void (*)(void)) \
	    GetProcAddress((m), (name))) != NULL)

static BOOL CALLBACK
wldap_load_once(PINIT_ONCE once, PVOID arg, PVOID *ctx)
{
	HMODULE m = GetModuleHandleW(L"wldap32.dll");

	(void)once;
	(void)arg;
	(void)ctx;
	wl_loaded = m != NULL && WL_GET(m, connect, "ldap_connect") &&
	    WL_GET(m, unbind, "ldap_unbind") &&
	    WL_GET(m, first_entry, "ldap_first_entry") &&
	    WL_GET(m, next_entry, "ldap_next_entry") &&
	    WL_GET(m, msgfree, "ldap_msgfree") &&
	    WL_GET(m, value_free_len, "ldap_value_free_len") &&
	    WL_GET(m, ber_free, "ber_free") &&
	    WL_GET(m, ber_bvfree, "ber_bvfree") &&
	    WL_GET(m, result, "ldap_result") &&
	    WL_GET(m, abandon, "ldap_abandon");
	return TRUE;
}

static int
wldap_load(char *msg, size_t msgsize)
{
	InitOnceExecuteOnce(&wl_once, wldap_load_once, NULL, NULL);
	if (!wl_loaded) {
		snprintf(msg, msgsize, "load wldap32.dll: a function is "
		    "missing (error %lu)", GetLastError());
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* Text of an LDAP result code, UTF-8. */
static void
wldap_rcstr(ULONG rc, char *out, size_t outsize)
{
	char *s = win_utf8(ldap_err2stringW(rc));

	snprintf(out, outsize, "%s (LDAP %lu)", s != NULL ? s : "LDAP error",
	    (unsigned long)rc);
	free(s);
}

void
wldap_seterr(char *msg, size_t msgsize, const char *what, ULONG rc,
    const wchar_t *srv)
{
	char why[256], *s = NULL;

	wldap_rcstr(rc, why, sizeof(why));
	if (srv != NULL && srv[0] != L'\0')
		s = win_utf8(srv);
	if (s != NULL)
		snprintf(msg, msgsize, "%s: %s: %s", what, why, s);
	else
		snprintf(msg, msgsize, "%s: %s", what, why);
	free(s);
}

void
wldap_result_err(char *msg, size_t msgsize, const char *what)
{
	ULONG code = LdapGetLastError();

	if (code != LDAP_SUCCESS)
		wldap_seterr(msg, msgsize, what, code, NULL);
	else
		snprintf(msg, msgsize, "%s: ldap_result failed, with no reason "
		    "(connection lost)", what);
}

/*
 * Split "host", "host:port", "[v6]:port", "ldap://host:port/..." into
 * *host (malloc'ed, wide) and *port; *ssl set by an ldaps:// scheme.
 */
static int
wldap_parse_server(const char *server, enum ldapx_tls tls, wchar_t **host,
    ULONG *port, int *ssl)
{
	char buf[512], *h, *p, *end;
	uint64_t v;

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
		if (rs_parse_dec(p, strlen(p), 0, 65535, &v) != RS_OK)
			return RS_ERR_SYNTAX;
		*port = (ULONG)v;
	}
	if (h[0] == '\0')
		return RS_ERR_SYNTAX;
	if ((*host = win_wide(h)) == NULL)
		return RS_ERR_INVAL;
	return RS_OK;
}

/*
 * bind_dn "DOMAIN\user" (NetBIOS or DNS domain) into the wide strings of
 * a SEC_WINNT_AUTH_IDENTITY_W.  agent_cfg.c refuses any other form (a DN;
 * a UPN, which Wine's SASL bridge fails without a domain); this only
 * splits it, and refuses what it cannot split.
 */
static int
wldap_identity(const struct ldapx_opts *o, SEC_WINNT_AUTH_IDENTITY_W *id,
    wchar_t **dom, wchar_t **user, wchar_t **pw, char *msg, size_t msgsize)
{
	char buf[512], *bs;

	memset(id, 0, sizeof(*id));
	if (snprintf(buf, sizeof(buf), "%s", o->bind_dn) >= (int)sizeof(buf) ||
	    (bs = strchr(buf, '\\')) == NULL || bs == buf || bs[1] == '\0' ||
	    strchr(buf, '=') != NULL) {
		snprintf(msg, msgsize, "bind: bind = negotiate with bind_dn "
		    "%.200s: give DOMAIN\\user (CORP\\svc-rcpt), or no bind_dn "
		    "for the service's own logon", o->bind_dn);
		return RS_ERR_INVAL;
	}
	if (o->password == NULL || o->password[0] == '\0') {
		snprintf(msg, msgsize, "bind: bind = negotiate as %.200s needs "
		    "its password (set-password)", o->bind_dn);
		return RS_ERR_INVAL;
	}
	*bs = '\0';
	if ((*dom = win_wide(buf)) == NULL || (*user = win_wide(bs + 1)) ==
	    NULL || (*pw = win_wide(o->password)) == NULL) {
		snprintf(msg, msgsize, "bind: bind_dn or password is not valid "
		    "UTF-8");
		return RS_ERR_INVAL;
	}
	id->Domain = (unsigned short *)*dom;
	id->DomainLength = (unsigned long)wcslen(*dom);
	id->User = (unsigned short *)*user;
	id->UserLength = (unsigned long)wcslen(*user);
	id->Password = (unsigned short *)*pw;
	id->PasswordLength = (unsigned long)wcslen(*pw);
	id->Flags = SEC_WINNT_AUTH_IDENTITY_UNICODE;
	return RS_OK;
}

ULONG
wldap_connect(struct ldapx_conn *c, wchar_t *host, ULONG port, int ssl,
    int rediscover)
{
	struct l_timeval tv;
	ULONG v, rc;

	if (c->ld != NULL) {
		wl.unbind(c->ld);
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
	return wl.connect(c->ld, &tv);
}

static void wldap_close(struct ldapx_conn *c);

static int
wldap_open(const struct ldapx_opts *o, struct ldapx_conn **out, char *msg,
    size_t msgsize)
{
	struct ldapx_conn *c = NULL;
	wchar_t *host = NULL, *wdn = NULL, *wpw = NULL, *hn = NULL, *wdom = NULL;
	SEC_WINNT_AUTH_IDENTITY_W id;
	ULONG port = LDAP_PORT, lrc, srv;
	char *s;
	int ssl = 0, rc;

	*out = NULL;
	if (msgsize > 0)
		msg[0] = '\0';
	if ((rc = wldap_load(msg, msgsize)) != RS_OK)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = RS_ERR_NOMEM;
		goto out;
	}
	c->timeout = o->timeout > 0 ? o->timeout : 30;
	if (o->server != NULL) {
		if ((rc = wldap_parse_server(o->server, o->tls, &host, &port,
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

	if (host == NULL && o->global_catalog) {
		/* c->server: the GC that answered. */
		if ((rc = wldap_connect_gc(c, ssl, msg, msgsize)) != RS_OK)
			goto out;
		lrc = LDAP_SUCCESS;
	} else
		lrc = wldap_connect(c, host, port, ssl, 0);
	if (lrc != LDAP_SUCCESS && host == NULL) {
		/* The locator's cached DC is gone: ask it for another. */
		lrc = wldap_connect(c, NULL, port, ssl, 1);
	}
	if (lrc != LDAP_SUCCESS) {
		wldap_seterr(c->err, sizeof(c->err), "connect", lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto fail;
	}
	/* The DC the locator chose, for logs and the bundle's source. */
	if (host == NULL && !o->global_catalog && ldap_get_optionW(c->ld, LDAP_OPT_HOST_NAME, &hn) ==
	    LDAP_SUCCESS && hn != NULL && (s = win_utf8(hn)) != NULL) {
		snprintf(c->server, sizeof(c->server), "%s", s);
		free(s);
	}
	if (o->tls == LDAPX_TLS_STARTTLS && !ssl) {
		srv = 0;
		if ((lrc = ldap_start_tls_sW(c->ld, &srv, NULL, NULL, NULL)) !=
		    LDAP_SUCCESS) {
			wldap_seterr(c->err, sizeof(c->err), "starttls", lrc, NULL);
			rc = RS_ERR_SYSTEM;
			goto fail;
		}
	}
	/* TLS: wldap32 verifies against the Windows certificate store. */
	switch (o->bind) {
	case LDAPX_BIND_NEGOTIATE:
		if (!ssl && o->tls != LDAPX_TLS_STARTTLS) {
			ldap_set_optionW(c->ld, LDAP_OPT_SIGN, LDAP_OPT_ON);
			ldap_set_optionW(c->ld, LDAP_OPT_ENCRYPT, LDAP_OPT_ON);
		}
		/* "bind_dn =" (empty) is no bind_dn, as elsewhere. */
		if (o->bind_dn == NULL || o->bind_dn[0] == '\0') {
			lrc = ldap_bind_sW(c->ld, NULL, NULL,
			    LDAP_AUTH_NEGOTIATE);
			break;
		}
		if ((rc = wldap_identity(o, &id, &wdom, &wdn, &wpw, msg,
		    msgsize)) != RS_OK)
			goto out;
		lrc = ldap_bind_sW(c->ld, NULL, (PWCHAR)&id,
		    LDAP_AUTH_NEGOTIATE);
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
		wldap_seterr(c->err, sizeof(c->err), "bind", lrc, NULL);
		/* Up to LDAP_OTHER: the server's resultCode; above: wldap32's. */
		rc = lrc <= LDAP_OTHER ? ldapx_bind_refused(o, (int)lrc, c->err,
		    sizeof(c->err)) : RS_ERR_SYSTEM;
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
	free(wdom);
	free(host);
	wldap_close(c);
	return rc;
}

void
wldap_free_attrs(wchar_t **w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; w[i] != NULL; i++)
		free(w[i]);
	free(w);
}

/* The query's attribute names, wide, NULL-terminated. */
wchar_t **
wldap_wide_attrs(const struct ldapx_query *q)
{
	wchar_t **w;
	size_t i;

	if ((w = calloc(q->nattrs + 1, sizeof(*w))) == NULL)
		return NULL;
	for (i = 0; i < q->nattrs; i++) {
		if ((w[i] = win_wide(q->attrs[i])) == NULL) {
			wldap_free_attrs(w);
			return NULL;
		}
	}
	return w;
}

static void wldap_res_free(struct ldapx_res *res);

/* wldap32's UTF-16 name or DN as UTF-8 into the held page. */
static int
wldap_hold_str(struct ldapx_held *h, const wchar_t *w, int dn)
{
	char *s;
	int rc;

	if ((s = win_utf8(w)) == NULL)
		return RS_ERR_FORMAT;
	rc = dn ? ldapx_held_entry(h, s, strlen(s)) :
	    ldapx_held_attr(h, s, strlen(s));
	free(s);
	return rc;
}

/* One attribute's values into the held page, as they came. */
static int
wldap_hold_vals(struct ldapx_held *h, struct berval **bv)
{
	size_t j;
	int rc;

	for (j = 0; bv != NULL && bv[j] != NULL; j++)
		/* bv_len is a ULONG (32 bits) on Win64. */
		if ((rc = ldapx_held_value(h, bv[j]->bv_val,
		    (size_t)bv[j]->bv_len)) != RS_OK)
			return rc;
	return RS_OK;
}

/*
 * Parse entry e as it arrives and keep its DN, attribute names and
 * values: the decoding overlaps with the server sending the rest of the
 * page, and the message is freed at once.  Nothing reaches the caller
 * here (see wldap_entries).
 */
int
wldap_hold(struct ldapx_conn *c, LDAPMessage *e, struct ldapx_held *h,
    char *msg, size_t msgsize)
{
	struct berval **bv;
	BerElement *ber = NULL;
	wchar_t *wdn, *wa;
	int rc;

	if ((wdn = ldap_get_dnW(c->ld, e)) == NULL) {
		snprintf(msg, msgsize, "search: entry without a DN");
		return RS_ERR_FORMAT;
	}
	rc = wldap_hold_str(h, wdn, 1);
	ldap_memfreeW(wdn);
	if (rc != RS_OK) {
		snprintf(msg, msgsize, "search: %s", rc == RS_ERR_FORMAT ?
		    "DN is not valid UTF-16" : rs_err_str(rc));
		return rc;
	}
	for (wa = ldap_first_attributeW(c->ld, e, &ber); wa != NULL &&
	    rc == RS_OK; wa = ldap_next_attributeW(c->ld, e, ber)) {
		bv = ldap_get_values_lenW(c->ld, e, wa);
		if ((rc = wldap_hold_str(h, wa, 0)) == RS_OK)
			rc = wldap_hold_vals(h, bv);
		if (bv != NULL)
			wl.value_free_len(bv);
		ldap_memfreeW(wa);
	}
	if (wa != NULL)
		ldap_memfreeW(wa);
	if (ber != NULL)
		wl.ber_free(ber, 0);
	if (rc != RS_OK)
		snprintf(msg, msgsize, "search: %s", rc == RS_ERR_FORMAT ?
		    "attribute name is not valid UTF-16" : rs_err_str(rc));
	return rc;
}

static int
wldap_send(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res **out, char *msg, size_t msgsize)
{
	LDAPControlW *page = NULL, *sctrls[2];
	struct ldapx_res *res = NULL;
	struct berval in;
	wchar_t *wbase = NULL, *wfilter = NULL, **wattrs = NULL;
	const char *op = q->subtree ? "search" : "read";
	ULONG lrc;
	int rc = RS_OK;

	*out = NULL;
	sctrls[0] = sctrls[1] = NULL;
	if ((wbase = win_wide(q->base)) == NULL ||
	    (wfilter = win_wide(q->filter)) == NULL ||
	    (wattrs = wldap_wide_attrs(q)) == NULL) {
		snprintf(msg, msgsize, "%s %s: base, filter or attributes not "
		    "valid UTF-8", op, q->base);
		rc = RS_ERR_INVAL;
		goto out;
	}
	if (q->page_size > 0) {
		in.bv_len = (ULONG)q->cookie->len;
		in.bv_val = q->cookie->len > 0 ? (char *)q->cookie->data :
		    NULL;
		if ((lrc = ldap_create_page_controlW(c->ld, q->page_size, &in,
		    1, &page)) != LDAP_SUCCESS) {
			wldap_seterr(msg, msgsize, "create page control", lrc,
			    NULL);
			rc = RS_ERR_SYSTEM;
			goto out;
		}
		sctrls[0] = page;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL ||
	    ldapx_held_new(&res->held) != RS_OK) {
		rc = RS_ERR_NOMEM;
		goto out;
	}
	res->ld = c->ld;
	lrc = ldap_search_extW(c->ld, wbase, q->subtree ? LDAP_SCOPE_SUBTREE :
	    LDAP_SCOPE_BASE, wfilter, wattrs, 0, page != NULL ? sctrls : NULL,
	    NULL, 0, (ULONG)q->sizelimit, &res->msgid);
	if (lrc != LDAP_SUCCESS) {
		wldap_seterr(msg, msgsize, op, lrc, NULL);
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	res->pending = 1;
	*out = res;
	res = NULL;
 out:
	wldap_res_free(res);
	if (page != NULL)
		ldap_control_freeW(page);
	wldap_free_attrs(wattrs);
	free(wfilter);
	free(wbase);
	return rc;
}

/*
 * Read the reply one message at a time (ldap_result, LDAP_MSG_ONE), each
 * entry parsed on arrival, until the result message; q->timeout bounds
 * the whole reply.  A reply that fails is abandoned (by res_free).
 */
static int
wldap_collect(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res *res, char *msg, size_t msgsize)
{
	const char *op = q->subtree ? "search" : "read";
	LDAPMessage *m = NULL;
	struct l_timeval tv;
	ULONGLONG deadline = GetTickCount64() + (ULONGLONG)q->timeout * 1000,
	    now;
	ULONG type;
	int rc;

	for (;;) {
		now = GetTickCount64();
		tv.tv_sec = now < deadline ? (LONG)((deadline - now) / 1000) :
		    0;
		tv.tv_usec = 0;
		m = NULL;
		type = wl.result(c->ld, res->msgid, LDAP_MSG_ONE, &tv, &m);
		if (type == 0 || type == (ULONG)-1 || m == NULL) {
			/* 0: the time is up; -1: the connection failed. */
			if (m != NULL)
				wl.msgfree(m);
			if (type == 0) {
				wldap_seterr(msg, msgsize, op, LDAP_TIMEOUT,
				    NULL);
				return RS_ERR_LIMIT;
			}
			wldap_result_err(msg, msgsize, op);
			return RS_ERR_SYSTEM;
		}
		if (type == LDAP_RES_SEARCH_RESULT) {
			res->pending = 0;
			res->msgs = m;
			return RS_OK;
		}
		/* Continuation references (AD's other partitions): none. */
		rc = type == LDAP_RES_SEARCH_ENTRY ?
		    wldap_hold(c, m, res->held, msg, msgsize) : RS_OK;
		wl.msgfree(m);
		if (rc != RS_OK)
			return rc;
	}
}

/* The reply's result code, its text and its controls (*rctrls). */
static int
wldap_result(struct ldapx_conn *c, struct ldapx_res *res, ULONG *code,
    wchar_t **srvmsg, LDAPControlW ***rctrls, char *msg, size_t msgsize)
{
	ULONG lrc;

	*code = LDAP_SUCCESS;
	lrc = ldap_parse_resultW(c->ld, res->msgs, code, NULL, srvmsg, NULL,
	    rctrls, FALSE);
	if (lrc != LDAP_SUCCESS) {
		wldap_seterr(msg, msgsize, "search result", lrc, NULL);
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

static int
wldap_status(struct ldapx_conn *c, struct ldapx_res *res,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	LDAPControlW **rctrls = NULL, **p;
	wchar_t *srvmsg = NULL;
	ULONG code;
	char *s;
	int rc;

	if ((rc = wldap_result(c, res, &code, &srvmsg, &rctrls, msg,
	    msgsize)) != RS_OK)
		return rc;
	st->code = (int)code;
	for (p = rctrls; p != NULL && *p != NULL; p++)
		if (wcscmp((*p)->ldctl_oid, LDAP_PAGED_RESULT_OID_STRING_W) ==
		    0)
			st->paged = 1;
	st->options = ldapx_held_options(res->held);
	if (srvmsg != NULL && (s = win_utf8(srvmsg)) != NULL) {
		snprintf(st->diag, sizeof(st->diag), "%s", s);
		free(s);
	}
	if (rctrls != NULL)
		ldap_controls_freeW(rctrls);
	if (srvmsg != NULL)
		ldap_memfreeW(srvmsg);
	return RS_OK;
}

static int
wldap_cookie(struct ldapx_conn *c, struct ldapx_res *res,
    struct rs_buf *cookie, char *msg, size_t msgsize)
{
	LDAPControlW **rctrls = NULL;
	struct berval *next = NULL;
	ULONG code, total = 0, lrc;
	int rc;

	if ((rc = wldap_result(c, res, &code, NULL, &rctrls, msg, msgsize)) !=
	    RS_OK)
		return rc;
	if (rctrls == NULL || (lrc = ldap_parse_page_controlW(c->ld, rctrls,
	    &total, &next)) != LDAP_SUCCESS) {
		snprintf(msg, msgsize, "search: the server did not return a "
		    "paged results control");
		rc = RS_ERR_FORMAT;
		goto out;
	}
	rs_buf_reset(cookie);
	if (next != NULL && next->bv_len > 0 &&
	    (rc = rs_buf_put(cookie, next->bv_val, next->bv_len)) != RS_OK)
		snprintf(msg, msgsize, "search: paging cookie too large");
 out:
	if (next != NULL)
		wl.ber_bvfree(next);
	if (rctrls != NULL)
		ldap_controls_freeW(rctrls);
	return rc;
}

/*
 * ldap_page.c calls this only after the result code said success: the
 * entries were parsed on arrival but are handed on only now, so a page
 * that ends in an error hands on none of them.
 */
static int
wldap_entries(struct ldapx_conn *c, struct ldapx_res *res,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
    uint64_t *bytes, size_t *n, char *msg, size_t msgsize)
{
	(void)c;
	return ldapx_held_replay(res->held, q, fn, arg, bytes, n, msg,
	    msgsize);
}

static void
wldap_res_free(struct ldapx_res *res)
{
	if (res == NULL)
		return;
	if (res->pending)
		wl.abandon(res->ld, res->msgid);
	if (res->msgs != NULL)
		wl.msgfree(res->msgs);
	ldapx_held_free(res->held);
	free(res);
}

static void
wldap_errstr(int code, char *out, size_t outsize)
{
	wldap_rcstr((ULONG)code, out, outsize);
}

static const char *
wldap_server(const struct ldapx_conn *c)
{
	return c->server;
}

static void
wldap_close(struct ldapx_conn *c)
{
	if (c == NULL)
		return;
	if (c->ld != NULL)
		wl.unbind(c->ld);
	free(c);
}

const struct ldapx_backend ldapx_wldap32 = {
	.name = "wldap32",
	.open = wldap_open,
	.send = wldap_send,
	.collect = wldap_collect,
	.status = wldap_status,
	.cookie = wldap_cookie,
	.entries = wldap_entries,
	.res_free = wldap_res_free,
	.errstr = wldap_errstr,
	.server = wldap_server,
	.close = wldap_close,
	.notify_start = wldap_notify_start,
	.notify_next = wldap_notify_next,
};
