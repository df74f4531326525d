/*
 * ldapx_unix.c - ldapx.h over OpenLDAP's libldap.
 *
 * API:        ldapx.h.
 * Ownership:  ldapx_open hands out a connection the caller releases with
 *             ldapx_close.  Values passed to the entry callback live until
 *             it returns.
 * Errors:     RS_ERR_SYSTEM for connection and protocol failures,
 *             RS_ERR_LIMIT for size/time limits, RS_ERR_SIGNER for a
 *             refused bind; ldapx_errmsg() has libldap's text plus the
 *             server's diagnostic.  Any non-success result of a page is an
 *             error: a partial result must never look like the whole.
 * Trust:      the server is authenticated by TLS when configured (the
 *             certificate is always verified, LDAP_OPT_X_TLS_HARD); its
 *             answers are data for addr_from_proxy, nothing more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ldap.h>

#include "buf.h"
#include "ldapx.h"
#include "log.h"
#include "rs_err.h"

/* Attributes one search may request. */
#define LDAPX_MAX_ATTRS	8

struct ldapx {
	LDAP		*ld;
	char		 server[512];
	char		 msg[512];
	unsigned	 timeout;
};

static void
ldapx_set_msg(struct ldapx *c, const char *op, int rc, const char *diag)
{
	snprintf(c->msg, sizeof(c->msg), "%s: %s%s%s", op, ldap_err2string(rc),
	    diag != NULL && diag[0] != '\0' ? " - " : "",
	    diag != NULL ? diag : "");
}

/* libldap's diagnostic message of the connection, if any. */
static void
ldapx_set_ld_msg(struct ldapx *c, const char *op, int rc)
{
	char *diag = NULL;

	if (c->ld != NULL)
		ldap_get_option(c->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	ldapx_set_msg(c, op, rc, diag);
	if (diag != NULL)
		ldap_memfree(diag);
}

/*
 * libldap says only "Connect error" when the TLS handshake fails, which
 * is nearly always the certificate: say what to check.
 */
static void
ldapx_tls_msg(struct ldapx *c, const struct ldapx_opts *o, const char *op,
    int rc)
{
	if (rc == LDAP_CONNECT_ERROR || rc == LDAP_SERVER_DOWN)
		snprintf(c->msg, sizeof(c->msg), "%s: %s: TLS handshake failed "
		    "(is the server's certificate signed by ca_file %.150s, "
		    "and does it carry the name in %.150s?)", op, ldap_err2string(rc),
		    o->ca_file != NULL ? o->ca_file : "(system store)",
		    c->server);
	else
		ldapx_set_ld_msg(c, op, rc);
}

/* The SASL mechanisms we use (GSSAPI, EXTERNAL) ask nothing. */
static int
ldapx_sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	(void)ld;
	(void)flags;
	(void)defaults;
	(void)in;
	return LDAP_SUCCESS;
}

static int
ldapx_uri(const struct ldapx_opts *o, char *out, size_t outsize)
{
	if (o->server == NULL) {
		snprintf(out, outsize, "no server configured");
		return RS_ERR_INVAL;
	}
	if (strstr(o->server, "://") != NULL) {
		if (snprintf(out, outsize, "%s", o->server) >= (int)outsize)
			return RS_ERR_LIMIT;
	} else if (snprintf(out, outsize, "%s://%s", o->tls ==
	    LDAPX_TLS_LDAPS ? "ldaps" : "ldap", o->server) >= (int)outsize)
		return RS_ERR_LIMIT;
	return RS_OK;
}

int
ldapx_open(const struct ldapx_opts *o, struct ldapx **out, char *msg,
    size_t msgsize)
{
	struct ldapx *c = NULL;
	struct berval cred;
	struct timeval tv;
	int rc, v, r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(msg, msgsize, "out of memory");
		return RS_ERR_NOMEM;
	}
	c->timeout = o->timeout;
	if ((r = ldapx_uri(o, c->server, sizeof(c->server))) != RS_OK) {
		snprintf(msg, msgsize, "bad server %s", o->server != NULL ?
		    o->server : "(none)");
		goto out;
	}
	if ((rc = ldap_initialize(&c->ld, c->server)) != LDAP_SUCCESS) {
		ldapx_set_msg(c, "initialize", rc, NULL);
		r = RS_ERR_SYSTEM;
		goto fail;
	}
	/* libldap would speak LDAPv2, which AD and slapd refuse. */
	v = LDAP_VERSION3;
	tv.tv_sec = (time_t)o->timeout;
	tv.tv_usec = 0;
	if (ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v) != 0 ||
	    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != 0 ||
	    ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != 0 ||
	    ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &tv) != 0) {
		snprintf(c->msg, sizeof(c->msg), "set LDAP options: failed");
		r = RS_ERR_SYSTEM;
		goto fail;
	}
	v = (int)o->timeout;
	ldap_set_option(c->ld, LDAP_OPT_TIMELIMIT, &v);
	if (o->tls != LDAPX_TLS_NONE || strncmp(c->server, "ldaps:", 6) == 0) {
		/* Verify the server's certificate, always. */
		v = LDAP_OPT_X_TLS_HARD;
		if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &v) !=
		    0 || (o->ca_file != NULL && ldap_set_option(c->ld,
		    LDAP_OPT_X_TLS_CACERTFILE, o->ca_file) != 0)) {
			snprintf(c->msg, sizeof(c->msg), "set TLS options: "
			    "failed (ca_file %s)", o->ca_file != NULL ?
			    o->ca_file : "system");
			r = RS_ERR_SYSTEM;
			goto fail;
		}
		v = 0;
		if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &v) != 0) {
			snprintf(c->msg, sizeof(c->msg), "TLS context: failed "
			    "(is ca_file %s readable?)", o->ca_file != NULL ?
			    o->ca_file : "system");
			r = RS_ERR_SYSTEM;
			goto fail;
		}
	}
	if (o->tls == LDAPX_TLS_STARTTLS &&
	    (rc = ldap_start_tls_s(c->ld, NULL, NULL)) != LDAP_SUCCESS) {
		ldapx_tls_msg(c, o, "StartTLS", rc);
		r = RS_ERR_SYSTEM;
		goto fail;
	}
	switch (o->bind) {
	case LDAPX_BIND_SIMPLE:
		cred.bv_val = (char *)(o->password != NULL ? o->password : "");
		cred.bv_len = strlen(cred.bv_val);
		/* An empty password would be an unauthenticated bind. */
		if (cred.bv_len == 0) {
			snprintf(c->msg, sizeof(c->msg), "bind: empty password");
			r = RS_ERR_INVAL;
			goto fail;
		}
		rc = ldap_sasl_bind_s(c->ld, o->bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
		break;
	case LDAPX_BIND_SASL:
		rc = ldap_sasl_interactive_bind_s(c->ld, NULL, o->sasl_mech,
		    NULL, NULL, LDAP_SASL_QUIET, ldapx_sasl_interact, NULL);
		break;
	case LDAPX_BIND_NONE:
		/* Anonymous; binding still proves the server answers. */
		cred.bv_val = (char *)"";
		cred.bv_len = 0;
		rc = ldap_sasl_bind_s(c->ld, "", LDAP_SASL_SIMPLE, &cred, NULL,
		    NULL, NULL);
		break;
	default:
		snprintf(c->msg, sizeof(c->msg), "bind: negotiate needs the "
		    "Windows agent; use simple or sasl");
		r = RS_ERR_INVAL;
		goto fail;
	}
	if (rc != LDAP_SUCCESS && o->tls == LDAPX_TLS_LDAPS &&
	    (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
		ldapx_tls_msg(c, o, "bind over ldaps", rc);
		r = RS_ERR_SYSTEM;
		goto fail;
	}
	if (rc != LDAP_SUCCESS) {
		ldapx_set_ld_msg(c, "bind", rc);
		r = rc == LDAP_INVALID_CREDENTIALS ? RS_ERR_SIGNER :
		    RS_ERR_SYSTEM;
		goto fail;
	}
	*out = c;
	return RS_OK;
fail:
	snprintf(msg, msgsize, "%s", c->msg);
out:
	ldapx_close(c);
	return r;
}

/*
 * AD hands out at most MaxValRange (1500) values of an attribute at once
 * and names the rest "attr;range=0-1499".  Such an entry would silently
 * lose addresses, so it fails the export instead (range retrieval is not
 * implemented: no real mailbox has that many proxyAddresses).
 */
static int
ldapx_check_ranges(struct ldapx *c, LDAPMessage *e, const char *dn,
    const char *const *attrs)
{
	BerElement *ber = NULL;
	char *a;
	size_t i, n;
	int r = RS_OK;

	for (a = ldap_first_attribute(c->ld, e, &ber); a != NULL;
	    a = ldap_next_attribute(c->ld, e, ber)) {
		for (i = 0; attrs[i] != NULL; i++) {
			n = strlen(attrs[i]);
			if (strncasecmp(a, attrs[i], n) == 0 && a[n] == ';' &&
			    strstr(a + n, ";range=") != NULL) {
				snprintf(c->msg, sizeof(c->msg), "entry %.200s: "
				    "%.100s: more values than the server sends "
				    "at once (range retrieval is not supported)",
				    dn, a);
				r = RS_ERR_LIMIT;
			}
		}
		ldap_memfree(a);
	}
	if (ber != NULL)
		ber_free(ber, 0);
	return r;
}

/* Attributes in attrs; 0 when there are too many for one search. */
static size_t
ldapx_nattrs(const char *const *attrs)
{
	size_t na;

	for (na = 0; attrs[na] != NULL; na++)
		if (na + 1 >= LDAPX_MAX_ATTRS)
			return 0;
	return na;
}

/*
 * Hand every entry of res to fn (continuation references, which AD sends
 * for other partitions under a base, are not entries and are skipped).
 */
static int
ldapx_entries(struct ldapx *c, LDAPMessage *res, const char *const *attrs,
    size_t na, ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	struct ldapx_val *vals[LDAPX_MAX_ATTRS];
	struct berval **bv[LDAPX_MAX_ATTRS];
	size_t nvals[LDAPX_MAX_ATTRS], i, j;
	LDAPMessage *e;
	char *dn;
	int r = RS_OK;

	memset(vals, 0, sizeof(vals));
	memset(bv, 0, sizeof(bv));
	for (e = ldap_first_entry(c->ld, res); e != NULL;
	    e = ldap_next_entry(c->ld, e)) {
		if ((dn = ldap_get_dn(c->ld, e)) == NULL) {
			snprintf(c->msg, sizeof(c->msg), "search: entry "
			    "without a DN");
			return RS_ERR_FORMAT;
		}
		if ((r = ldapx_check_ranges(c, e, dn, attrs)) != RS_OK) {
			ldap_memfree(dn);
			return r;
		}
		for (i = 0; i < na; i++) {
			bv[i] = ldap_get_values_len(c->ld, e, attrs[i]);
			nvals[i] = bv[i] != NULL ?
			    (size_t)ldap_count_values_len(bv[i]) : 0;
			vals[i] = NULL;
			if (nvals[i] > 0 && (vals[i] = calloc(nvals[i],
			    sizeof(*vals[i]))) == NULL) {
				r = RS_ERR_NOMEM;
				break;
			}
			for (j = 0; j < nvals[i]; j++) {
				vals[i][j].p = bv[i][j]->bv_val;
				vals[i][j].len = bv[i][j]->bv_len;
				if (bytes != NULL)
					*bytes += bv[i][j]->bv_len;
			}
		}
		if (r == RS_OK)
			r = fn(arg, dn, (const struct ldapx_val *const *)vals,
			    nvals);
		for (i = 0; i < na; i++) {
			free(vals[i]);
			vals[i] = NULL;
			if (bv[i] != NULL)
				ldap_value_free_len(bv[i]);
			bv[i] = NULL;
		}
		ldap_memfree(dn);
		if (r != RS_OK) {
			if (c->msg[0] == '\0')
				snprintf(c->msg, sizeof(c->msg), "search: %s",
				    rs_err_str(r));
			return r;
		}
	}
	return RS_OK;
}

int
ldapx_search_page(struct ldapx *c, const char *base, const char *filter,
    const char *const *attrs, unsigned page_size, struct rs_buf *cookie,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	struct berval ck, newck;
	LDAPControl *pc = NULL, *ctrls[2], **sctrls = NULL, *rctl;
	LDAPMessage *res = NULL;
	struct timeval tv;
	char *diag = NULL, *matched = NULL;
	ber_int_t count;
	size_t na;
	int rc, err, r = RS_OK;

	memset(&newck, 0, sizeof(newck));
	if ((na = ldapx_nattrs(attrs)) == 0)
		return RS_ERR_LIMIT;
	c->msg[0] = '\0';
	ck.bv_val = (char *)cookie->data;
	ck.bv_len = cookie->len;
	/* Critical: a server without paging must refuse, not truncate. */
	if ((rc = ldap_create_page_control(c->ld, (ber_int_t)page_size,
	    cookie->len > 0 ? &ck : NULL, 1, &pc)) != LDAP_SUCCESS) {
		ldapx_set_msg(c, "paged results control", rc, NULL);
		return RS_ERR_SYSTEM;
	}
	ctrls[0] = pc;
	ctrls[1] = NULL;
	tv.tv_sec = (time_t)c->timeout;
	tv.tv_usec = 0;
	rc = ldap_search_ext_s(c->ld, base, LDAP_SCOPE_SUBTREE, filter,
	    (char **)attrs, 0, ctrls, NULL, &tv, LDAP_NO_LIMIT, &res);
	if (rc != LDAP_SUCCESS && res == NULL) {
		ldapx_set_ld_msg(c, "search", rc);
		r = rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED ||
		    rc == LDAP_SIZELIMIT_EXCEEDED ? RS_ERR_LIMIT :
		    RS_ERR_SYSTEM;
		goto out;
	}
	if ((r = ldapx_entries(c, res, attrs, na, fn, arg, bytes)) != RS_OK)
		goto out;
	if ((rc = ldap_parse_result(c->ld, res, &err, &matched, &diag, NULL,
	    &sctrls, 0)) != LDAP_SUCCESS) {
		ldapx_set_ld_msg(c, "search result", rc);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if (err != LDAP_SUCCESS) {
		/* sizeLimitExceeded included: a partial page is a failure. */
		ldapx_set_msg(c, "search", err, diag);
		r = err == LDAP_SIZELIMIT_EXCEEDED ||
		    err == LDAP_TIMELIMIT_EXCEEDED ||
		    err == LDAP_ADMINLIMIT_EXCEEDED ? RS_ERR_LIMIT :
		    RS_ERR_SYSTEM;
		goto out;
	}
	rctl = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
	if (rctl == NULL) {
		snprintf(c->msg, sizeof(c->msg), "search: the server returned "
		    "no paged results control");
		r = RS_ERR_FORMAT;
		goto out;
	}
	if ((rc = ldap_parse_pageresponse_control(c->ld, rctl, &count,
	    &newck)) != LDAP_SUCCESS) {
		ldapx_set_msg(c, "paged results response", rc, NULL);
		r = RS_ERR_FORMAT;
		goto out;
	}
	rs_buf_reset(cookie);
	if (newck.bv_len > 0 && (r = rs_buf_put(cookie, newck.bv_val,
	    newck.bv_len)) != RS_OK) {
		snprintf(c->msg, sizeof(c->msg), "search: paging cookie too "
		    "large");
		goto out;
	}
out:
	if (newck.bv_val != NULL)
		ldap_memfree(newck.bv_val);
	if (sctrls != NULL)
		ldap_controls_free(sctrls);
	if (pc != NULL)
		ldap_control_free(pc);
	if (diag != NULL)
		ldap_memfree(diag);
	if (matched != NULL)
		ldap_memfree(matched);
	if (res != NULL)
		ldap_msgfree(res);
	return r;
}

int
ldapx_read(struct ldapx *c, const char *dn, const char *const *attrs,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	LDAPMessage *res = NULL;
	struct timeval tv;
	char *diag = NULL;
	size_t na;
	int rc, err, r;

	c->msg[0] = '\0';
	if ((na = ldapx_nattrs(attrs)) == 0)
		return RS_ERR_LIMIT;
	tv.tv_sec = (time_t)c->timeout;
	tv.tv_usec = 0;
	rc = ldap_search_ext_s(c->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)",
	    (char **)attrs, 0, NULL, NULL, &tv, 1, &res);
	if (rc == LDAP_NO_SUCH_OBJECT) {
		r = RS_ERR_NOTFOUND;
		goto out;
	}
	if (rc != LDAP_SUCCESS && res == NULL) {
		ldapx_set_ld_msg(c, "read", rc);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if ((rc = ldap_parse_result(c->ld, res, &err, NULL, &diag, NULL, NULL,
	    0)) != LDAP_SUCCESS) {
		ldapx_set_ld_msg(c, "read result", rc);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if (err == LDAP_NO_SUCH_OBJECT) {
		r = RS_ERR_NOTFOUND;
		goto out;
	}
	if (err != LDAP_SUCCESS) {
		ldapx_set_msg(c, "read", err, diag);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if (ldap_first_entry(c->ld, res) == NULL) {
		r = RS_ERR_NOTFOUND;
		goto out;
	}
	r = ldapx_entries(c, res, attrs, na, fn, arg, bytes);
out:
	if (diag != NULL)
		ldap_memfree(diag);
	if (res != NULL)
		ldap_msgfree(res);
	return r;
}

const char *
ldapx_server(const struct ldapx *c)
{
	return c->server;
}

const char *
ldapx_errmsg(const struct ldapx *c)
{
	return c->msg;
}

void
ldapx_close(struct ldapx *c)
{
	if (c == NULL)
		return;
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	free(c);
}
