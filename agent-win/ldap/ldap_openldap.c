/*
 * ldap_openldap.c - the OpenLDAP backend (ldap_backend.h): libldap, in
 * the Unix build (the system's) and in the Windows build (linked in
 * statically, built by tools/deps.sh on the same OpenSSL).
 *
 * API:        ldapx_openldap, a struct ldapx_backend.  Binds: simple
 *             (DN or UPN plus password), sasl (Cyrus SASL, Unix only:
 *             the Windows libldap has none; LDAP_OPT_X_SASL_NOCANON from
 *             sasl_nocanon), none (anonymous).
 * Ownership:  open hands out a connection that close frees; send a
 *             reply that res_free frees (abandoning the search when it
 *             was not collected).  Values passed to the entry
 *             callback live until it returns.
 * Errors:     RS_ERR_SYSTEM for connection and protocol failures,
 *             RS_ERR_LIMIT for size/time limits, RS_ERR_SIGNER for a
 *             bind the server (or, for sasl, the KDC) answered and
 *             refused, with what to change appended (ldapx_bind_refused,
 *             oldap_krb_hint); msg has libldap's text plus the server's
 *             diagnostic.  A failed TLS handshake, which libldap calls
 *             "Can't contact LDAP server", is said with the handshake's
 *             own reason (LDAP_OPT_DIAGNOSTIC_MESSAGE).
 * Trust:      the server is authenticated by TLS when configured: its
 *             certificate is always verified and must carry the server's
 *             name (LDAP_OPT_X_TLS_HARD), against ca_file or the roots
 *             ldapx_openldap_roots gives; there is no setting to skip it.
 *             Its answers are data for addr_from_proxy, nothing more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <ldap.h>

#include "buf.h"
#include "ldap_backend.h"
#include "rs_err.h"
#include "rs_limits.h"

struct ldapx_conn {
	LDAP		*ld;
	char		 server[512];
	char		 msg[512];
};

/*
 * The server's reply to one search: its result message, and its entries
 * as they were parsed on arrival, held back (ldap_held.c) until
 * ldap_page.c has read the result code.
 */
struct ldapx_res {
	LDAP			*ld;
	int			 msgid;
	int			 pending;	/* sent, not collected */
	LDAPMessage		*msgs;		/* the result */
	struct ldapx_held	*held;
};

static void
oldap_msg(char *msg, size_t msgsize, const char *op, int rc,
    const char *diag)
{
	snprintf(msg, msgsize, "%s: %s%s%s", op, ldap_err2string(rc),
	    diag != NULL && diag[0] != '\0' ? " - " : "",
	    diag != NULL ? diag : "");
}

/* libldap's diagnostic message of the connection, if any. */
static void
oldap_ld_msg(LDAP *ld, char *msg, size_t msgsize, const char *op, int rc)
{
	char *diag = NULL;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	oldap_msg(msg, msgsize, op, rc, diag);
	if (diag != NULL)
		ldap_memfree(diag);
}

/*
 * The URI's host, if it is an IP address literal (IPv4 dotted, or IPv6,
 * which has colons), into out; else out is "".
 */
static void
oldap_ip_host(const char *uri, char *out, size_t outsize)
{
	LDAPURLDesc *u = NULL;
	const char *h;

	out[0] = '\0';
	if (ldap_url_parse(uri, &u) != LDAP_URL_SUCCESS || u == NULL)
		return;
	h = u->lud_host != NULL ? u->lud_host : "";
	if (h[0] != '\0' && (strchr(h, ':') != NULL ||
	    strspn(h, "0123456789.") == strlen(h)))
		snprintf(out, outsize, "%s", h);
	ldap_free_urldesc(u);
}

/*
 * libldap says only "Can't contact LDAP server" or "Connect error" when
 * the TLS handshake fails, which is nearly always the certificate: give
 * the handshake's reason and say what to check.  A server named by IP
 * address is said first: a DC's certificate carries its DNS names only
 * (AD CS's templates), and libldap then reports no useful reason.
 */
static void
oldap_tls_msg(struct ldapx_conn *c, const struct ldapx_opts *o,
    const char *op, int rc)
{
	char *diag = NULL, ip[64], ipwhy[200];

	if (rc != LDAP_CONNECT_ERROR && rc != LDAP_SERVER_DOWN) {
		oldap_ld_msg(c->ld, c->msg, sizeof(c->msg), op, rc);
		return;
	}
	ldap_get_option(c->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	oldap_ip_host(c->server, ip, sizeof(ip));
	ipwhy[0] = '\0';
	if (ip[0] != '\0')
		snprintf(ipwhy, sizeof(ipwhy), "server is an IP address (%s), "
		    "which the certificate must then carry, and a DC's "
		    "certificate names only its DNS names: use one; ", ip);
	snprintf(c->msg, sizeof(c->msg), "%s: %s: TLS handshake failed (%s%s"
	    "%sis the server's certificate signed by %s%.150s, and does it "
	    "carry the name in %.150s?)", op, ldap_err2string(rc),
	    diag != NULL && diag[0] != '\0' ? diag : "",
	    diag != NULL && diag[0] != '\0' ? "; " : "", ipwhy,
	    o->ca_file != NULL ? "ca_file " : "a CA the system trusts (no "
	    "ca_file set)", o->ca_file != NULL ? o->ca_file : "", c->server);
	if (diag != NULL)
		ldap_memfree(diag);
}

/* The SASL mechanisms we use (GSSAPI, EXTERNAL) ask nothing. */
static int
oldap_sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	(void)ld;
	(void)flags;
	(void)defaults;
	(void)in;
	return LDAP_SUCCESS;
}

static int
oldap_uri(const struct ldapx_opts *o, char *out, size_t outsize)
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

/*
 * Certificates are always verified, with the server's name (libldap
 * checks the URI's host against the certificate); the roots are ca_file
 * or ldapx_openldap_roots'.  A new TLS context makes the options count.
 */
static int
oldap_tls_setup(struct ldapx_conn *c, const struct ldapx_opts *o)
{
	int v = LDAP_OPT_X_TLS_HARD;
	int r;

	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &v) != 0 ||
	    (o->ca_file != NULL && ldap_set_option(c->ld,
	    LDAP_OPT_X_TLS_CACERTFILE, o->ca_file) != 0)) {
		snprintf(c->msg, sizeof(c->msg), "set TLS options: failed "
		    "(ca_file %s)", o->ca_file != NULL ? o->ca_file : "system");
		return RS_ERR_SYSTEM;
	}
	v = 0;
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &v) != 0) {
		snprintf(c->msg, sizeof(c->msg), "TLS context: failed (is "
		    "ca_file %s readable?)", o->ca_file != NULL ? o->ca_file :
		    "system");
		return RS_ERR_SYSTEM;
	}
	if ((r = ldapx_openldap_roots(c->ld, o->ca_file, c->msg,
	    sizeof(c->msg))) != RS_OK)
		return r;
	return RS_OK;
}

static int
oldap_bind(struct ldapx_conn *c, const struct ldapx_opts *o, int *rc)
{
	struct berval cred;

	switch (o->bind) {
	case LDAPX_BIND_SIMPLE:
		cred.bv_val = (char *)(o->password != NULL ? o->password : "");
		cred.bv_len = strlen(cred.bv_val);
		/* An empty password would be an unauthenticated bind. */
		if (cred.bv_len == 0) {
			snprintf(c->msg, sizeof(c->msg), "bind: empty password");
			return RS_ERR_INVAL;
		}
		*rc = ldap_sasl_bind_s(c->ld, o->bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
		return RS_OK;
	case LDAPX_BIND_SASL:
		/*
		 * Set on the handle, so that neither LDAPSASL_NOCANON nor an
		 * ldap.conf decides how the Kerberos service name is made.
		 */
		if (ldap_set_option(c->ld, LDAP_OPT_X_SASL_NOCANON,
		    o->sasl_nocanon ? LDAP_OPT_ON : LDAP_OPT_OFF) !=
		    LDAP_OPT_SUCCESS) {
			snprintf(c->msg, sizeof(c->msg), "bind: cannot set "
			    "sasl_nocanon = %s (libldap without SASL?)",
			    o->sasl_nocanon ? "yes" : "no");
			return RS_ERR_SYSTEM;
		}
		*rc = ldap_sasl_interactive_bind_s(c->ld, NULL, o->sasl_mech,
		    NULL, NULL, LDAP_SASL_QUIET, oldap_sasl_interact, NULL);
		return RS_OK;
	case LDAPX_BIND_NONE:
		/* Anonymous; binding still proves the server answers. */
		cred.bv_val = (char *)"";
		cred.bv_len = 0;
		*rc = ldap_sasl_bind_s(c->ld, "", LDAP_SASL_SIMPLE, &cred,
		    NULL, NULL, NULL);
		return RS_OK;
	default:
		snprintf(c->msg, sizeof(c->msg), "bind: negotiate needs the "
		    "Windows agent with client = wldap32; use simple or sasl");
		return RS_ERR_INVAL;
	}
}

/*
 * A SASL bind that failed in the client: GSSAPI's reasons that have one
 * fix are said with it (RS_ERR_SIGNER: the KDC answered and refused);
 * anything else stays a connection failure.
 */
static int
oldap_krb_hint(struct ldapx_conn *c, const struct ldapx_opts *o)
{
	size_t len = strlen(c->msg);
	const char *hint = NULL;

	if (o->bind != LDAPX_BIND_SASL)
		return RS_ERR_SYSTEM;
	if (strstr(c->msg, "Server not found in Kerberos database") != NULL)
		hint = o->sasl_nocanon ? "the KDC knows no ldap/ service for "
		    "the name in server: name the DC as its account's SPNs do "
		    "(its DNS name, ldap/dc1.example.com), not by an alias "
		    "or an address without an SPN" : "with sasl_nocanon = no "
		    "the service name comes from the reverse DNS of the "
		    "server's address, which may name another host: set "
		    "sasl_nocanon = yes";
	else if (strstr(c->msg, "No Kerberos credentials") != NULL ||
	    strstr(c->msg, "No credentials cache") != NULL ||
	    strstr(c->msg, "Ticket expired") != NULL ||
	    strstr(c->msg, "ticket expired") != NULL)
		hint = "no valid Kerberos ticket: kinit, or a keytab through "
		    "KRB5_CLIENT_KTNAME or k5start (docs/ADMIN.md)";
	if (hint == NULL)
		return RS_ERR_SYSTEM;
	if (len + 1 < sizeof(c->msg))
		snprintf(c->msg + len, sizeof(c->msg) - len, "; %s", hint);
	return RS_ERR_SIGNER;
}

/*
 * Over plain TCP, libldap reads each message with two read(2)s, its tag
 * and length and then its body, after a poll(2): three system calls per
 * entry, for entries of some 200 bytes.  A read-ahead layer between the
 * library and the socket (liblber's own, which libldap stacks the same way
 * for LDAP over UDP) takes whatever the socket holds, up to 16 kB, in one
 * read; libldap asks the layers whether they hold data before it polls.
 * Under TLS or a SASL security layer it sits below them, holding their
 * records.  liblber links the layer in before it allocates its buffer,
 * and leaves it there when that fails: the connection is then of no use.
 */
static int
oldap_readahead(struct ldapx_conn *c)
{
	Sockbuf *sb = NULL;

	if (ldap_get_option(c->ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS ||
	    sb == NULL) {
		snprintf(c->msg, sizeof(c->msg), "after the bind: libldap holds no connection");
		return RS_ERR_SYSTEM;
	}
	if (ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead,
	    LBER_SBIOD_LEVEL_PROVIDER, NULL) != 0) {
		snprintf(c->msg, sizeof(c->msg), "read-ahead: out of memory");
		return RS_ERR_NOMEM;
	}
	return RS_OK;
}

static void oldap_close(struct ldapx_conn *c);

static int
oldap_open(const struct ldapx_opts *o, struct ldapx_conn **out, char *msg,
    size_t msgsize)
{
	struct ldapx_conn *c = NULL;
	struct timeval tv;
	int rc, v, r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(msg, msgsize, "out of memory");
		return RS_ERR_NOMEM;
	}
	if ((r = oldap_uri(o, c->server, sizeof(c->server))) != RS_OK) {
		snprintf(msg, msgsize, "bad server %s", o->server != NULL ?
		    o->server : "(none)");
		goto out;
	}
	if ((rc = ldap_initialize(&c->ld, c->server)) != LDAP_SUCCESS) {
		oldap_msg(c->msg, sizeof(c->msg), "initialize", rc, NULL);
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
	if ((o->tls != LDAPX_TLS_NONE || strncmp(c->server, "ldaps:", 6) ==
	    0) && (r = oldap_tls_setup(c, o)) != RS_OK)
		goto fail;
	if (o->tls == LDAPX_TLS_STARTTLS &&
	    (rc = ldap_start_tls_s(c->ld, NULL, NULL)) != LDAP_SUCCESS) {
		oldap_tls_msg(c, o, "StartTLS", rc);
		r = RS_ERR_SYSTEM;
		goto fail;
	}
	if ((r = oldap_bind(c, o, &rc)) != RS_OK)
		goto fail;
	if (rc != LDAP_SUCCESS && (o->tls == LDAPX_TLS_LDAPS ||
	    strncmp(c->server, "ldaps:", 6) == 0) &&
	    (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
		oldap_tls_msg(c, o, "bind over ldaps", rc);
		r = RS_ERR_SYSTEM;
		goto fail;
	}
	if (rc != LDAP_SUCCESS) {
		oldap_ld_msg(c->ld, c->msg, sizeof(c->msg), "bind", rc);
		/* Positive: the server's resultCode; negative: libldap's. */
		r = rc > 0 ? ldapx_bind_refused(o, rc, c->msg, sizeof(c->msg)) :
		    oldap_krb_hint(c, o);
		goto fail;
	}
	if ((r = oldap_readahead(c)) != RS_OK)
		goto fail;
	*out = c;
	return RS_OK;
fail:
	snprintf(msg, msgsize, "%s", c->msg);
out:
	oldap_close(c);
	return r;
}

/*
 * Parse entry e as it arrives and keep its DN, attribute names and
 * values: the decoding overlaps with the server sending the rest of the
 * page, and the message is freed at once.  Nothing reaches the caller
 * here (see oldap_entries).  The DN, names and values are read in place
 * from the message (ldap_get_dn_ber, ldap_get_attribute_ber), one pass,
 * without the copy of each that ldap_get_values_len would make.
 */
static int
oldap_hold(struct ldapx_conn *c, LDAPMessage *e, struct ldapx_held *h)
{
	struct berval dn, a, *bv = NULL;
	BerElement *ber = NULL;
	size_t j;
	int r;

	if (ldap_get_dn_ber(c->ld, e, &ber, &dn) != LDAP_SUCCESS ||
	    dn.bv_val == NULL) {
		r = RS_ERR_FORMAT;
		goto out;
	}
	if ((r = ldapx_held_entry(h, dn.bv_val, dn.bv_len)) != RS_OK)
		goto out;
	for (;;) {
		if (ldap_get_attribute_ber(c->ld, e, ber, &a, &bv) !=
		    LDAP_SUCCESS) {
			r = RS_ERR_FORMAT;
			break;
		}
		if (a.bv_val == NULL)
			break;
		r = ldapx_held_attr(h, a.bv_val, a.bv_len);
		for (j = 0; r == RS_OK && bv != NULL && bv[j].bv_val != NULL;
		    j++)
			r = ldapx_held_value(h, bv[j].bv_val, bv[j].bv_len);
		ber_memfree(bv);
		bv = NULL;
		if (r != RS_OK)
			break;
	}
out:
	if (ber != NULL)
		ber_free(ber, 0);
	return r;
}

static void oldap_res_free(struct ldapx_res *res);

static int
oldap_send(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res **out, char *msg, size_t msgsize)
{
	struct ldapx_res *res = NULL;
	struct berval ck;
	LDAPControl *pc = NULL, *ctrls[2];
	int rc, r = RS_OK;

	*out = NULL;
	ctrls[0] = ctrls[1] = NULL;
	if (q->page_size > 0) {
		ck.bv_val = (char *)q->cookie->data;
		ck.bv_len = q->cookie->len;
		/* Critical: a server without paging must refuse. */
		if ((rc = ldap_create_page_control(c->ld,
		    (ber_int_t)q->page_size, q->cookie->len > 0 ? &ck : NULL,
		    1, &pc)) != LDAP_SUCCESS) {
			oldap_msg(msg, msgsize, "paged results control", rc,
			    NULL);
			return RS_ERR_SYSTEM;
		}
		ctrls[0] = pc;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	res->ld = c->ld;
	if ((r = ldapx_held_new(&res->held)) != RS_OK)
		goto out;
	rc = ldap_search_ext(c->ld, q->base, q->subtree ?
	    LDAP_SCOPE_SUBTREE : LDAP_SCOPE_BASE, q->filter, (char **)q->attrs,
	    0, ctrls[0] != NULL ? ctrls : NULL, NULL, NULL,
	    q->sizelimit > 0 ? q->sizelimit : LDAP_NO_LIMIT, &res->msgid);
	if (rc != LDAP_SUCCESS) {
		oldap_ld_msg(c->ld, msg, msgsize, q->subtree ? "search" :
		    "read", rc);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	res->pending = 1;
	*out = res;
	res = NULL;
out:
	oldap_res_free(res);
	if (pc != NULL)
		ldap_control_free(pc);
	return r;
}

/*
 * Read the reply one message at a time (ldap_result with LDAP_MSG_ONE),
 * each entry parsed on arrival, until the result message; q->timeout
 * bounds the whole reply.  A reply that fails is abandoned.
 */
static int
oldap_collect(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res *res, char *msg, size_t msgsize)
{
	LDAPMessage *m = NULL;
	struct timeval tv;
	time_t deadline = time(NULL) + (time_t)q->timeout, now;
	int rc, r;

	for (;;) {
		now = time(NULL);
		tv.tv_sec = deadline > now ? deadline - now : 0;
		tv.tv_usec = 0;
		rc = ldap_result(c->ld, res->msgid, LDAP_MSG_ONE, &tv, &m);
		if (rc <= 0) {
			/*
			 * 0: the time is up (res_free abandons the search);
			 * -1: the connection failed, nothing to abandon.
			 */
			if (rc < 0)
				res->pending = 0;
			oldap_ld_msg(c->ld, msg, msgsize, q->subtree ?
			    "search" : "read", rc == 0 ? LDAP_TIMEOUT : rc);
			return rc == 0 ? RS_ERR_LIMIT : RS_ERR_SYSTEM;
		}
		if (rc == LDAP_RES_SEARCH_RESULT) {
			res->pending = 0;
			res->msgs = m;
			return RS_OK;
		}
		/* Continuation references (AD's other partitions): none. */
		r = rc == LDAP_RES_SEARCH_ENTRY ? oldap_hold(c, m, res->held) :
		    RS_OK;
		ldap_msgfree(m);
		m = NULL;
		if (r != RS_OK) {
			snprintf(msg, msgsize, "%s: %s", q->subtree ?
			    "search" : "read", r == RS_ERR_FORMAT ?
			    "an entry that does not decode (its DN or an "
			    "attribute's name or values)" : rs_err_str(r));
			return r;
		}
	}
}

static int
oldap_status(struct ldapx_conn *c, struct ldapx_res *res,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	LDAPControl **sctrls = NULL;
	char *diag = NULL;
	int rc, err;

	if ((rc = ldap_parse_result(c->ld, res->msgs, &err, NULL, &diag, NULL,
	    &sctrls, 0)) != LDAP_SUCCESS) {
		oldap_ld_msg(c->ld, msg, msgsize, "search result", rc);
		return RS_ERR_SYSTEM;
	}
	st->code = err;
	st->paged = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls,
	    NULL) != NULL;
	st->options = ldapx_held_options(res->held);
	snprintf(st->diag, sizeof(st->diag), "%s", diag != NULL ? diag : "");
	if (sctrls != NULL)
		ldap_controls_free(sctrls);
	if (diag != NULL)
		ldap_memfree(diag);
	return RS_OK;
}

static int
oldap_cookie(struct ldapx_conn *c, struct ldapx_res *res,
    struct rs_buf *cookie, char *msg, size_t msgsize)
{
	LDAPControl **sctrls = NULL, *rctl;
	struct berval newck;
	ber_int_t count;
	int rc, err, r = RS_OK;

	memset(&newck, 0, sizeof(newck));
	if ((rc = ldap_parse_result(c->ld, res->msgs, &err, NULL, NULL, NULL,
	    &sctrls, 0)) != LDAP_SUCCESS) {
		oldap_ld_msg(c->ld, msg, msgsize, "search result", rc);
		return RS_ERR_SYSTEM;
	}
	rctl = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
	if (rctl == NULL || (rc = ldap_parse_pageresponse_control(c->ld, rctl,
	    &count, &newck)) != LDAP_SUCCESS) {
		snprintf(msg, msgsize, "paged results response: %s",
		    rctl == NULL ? "missing" : ldap_err2string(rc));
		r = RS_ERR_FORMAT;
		goto out;
	}
	rs_buf_reset(cookie);
	if (newck.bv_len > 0 && (r = rs_buf_put(cookie, newck.bv_val,
	    newck.bv_len)) != RS_OK)
		snprintf(msg, msgsize, "search: paging cookie too large");
out:
	if (newck.bv_val != NULL)
		ldap_memfree(newck.bv_val);
	if (sctrls != NULL)
		ldap_controls_free(sctrls);
	return r;
}

/*
 * ldap_page.c calls this only after the result code said success: the
 * entries were parsed on arrival but are handed on only now, so a page
 * that ends in an error hands on none of them.
 */
static int
oldap_entries(struct ldapx_conn *c, struct ldapx_res *res,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
    uint64_t *bytes, size_t *n, char *msg, size_t msgsize)
{
	(void)c;
	return ldapx_held_replay(res->held, q, fn, arg, bytes, n, msg,
	    msgsize);
}

static void
oldap_res_free(struct ldapx_res *res)
{
	if (res == NULL)
		return;
	/* A reply never collected, or cut short: the server may stop. */
	if (res->pending)
		ldap_abandon_ext(res->ld, res->msgid, NULL, NULL);
	if (res->msgs != NULL)
		ldap_msgfree(res->msgs);
	ldapx_held_free(res->held);
	free(res);
}

static void
oldap_errstr(int code, char *out, size_t outsize)
{
	snprintf(out, outsize, "%s", ldap_err2string(code));
}

static const char *
oldap_server(const struct ldapx_conn *c)
{
	return c->server;
}

static void
oldap_close(struct ldapx_conn *c)
{
	if (c == NULL)
		return;
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	free(c);
}

/*
 * Change notification: an asynchronous search that the server keeps
 * open.  The connection is the notifier's alone, so its options can
 * change: no time limit (with the handle's, o->timeout, the server would
 * end the search), and interrupted waits restarted.
 */
static int
oldap_notify_start(struct ldapx_conn *c, const struct ldapx_query *q,
    char *msg, size_t msgsize)
{
	LDAPControl ctl, *ctrls[2];
	int rc, id, v = 0;

	memset(&ctl, 0, sizeof(ctl));
	ctl.ldctl_oid = (char *)LDAPX_NOTIFY_OID;
	ctl.ldctl_iscritical = 1;
	ctrls[0] = &ctl;
	ctrls[1] = NULL;
	ldap_set_option(c->ld, LDAP_OPT_TIMELIMIT, &v);
	/*
	 * A signal (SIGHUP, SIGUSR1) during ldap_result would otherwise be
	 * "Can't contact LDAP server" on a connection that is fine.
	 */
	ldap_set_option(c->ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	if ((rc = ldap_search_ext(c->ld, q->base, LDAP_SCOPE_SUBTREE,
	    q->filter, (char **)q->attrs, 0, ctrls, NULL, NULL, LDAP_NO_LIMIT,
	    &id)) != LDAP_SUCCESS) {
		oldap_ld_msg(c->ld, msg, msgsize, "notification search", rc);
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* A notified entry, through the held path a page's entries take. */
static int
oldap_note_entry(struct ldapx_conn *c, LDAPMessage *m,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg, char *msg,
    size_t msgsize)
{
	struct ldapx_held *h = NULL;
	size_t n;
	int r;

	if ((r = ldapx_held_new(&h)) == RS_OK &&
	    (r = oldap_hold(c, m, h)) != RS_OK)
		snprintf(msg, msgsize, "notified entry: %s", rs_err_str(r));
	if (r == RS_OK)
		r = ldapx_held_replay(h, q, fn, arg, NULL, &n, msg, msgsize);
	ldapx_held_free(h);
	return r;
}

static int
oldap_notify_next(struct ldapx_conn *c, unsigned ms,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg, int *kind,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	LDAPMessage *m = NULL;
	struct timeval tv;
	char *diag = NULL;
	int rc, err = 0, r = RS_OK;

	*kind = LDAPX_NOTE_NONE;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (long)(ms % 1000) * 1000;
	rc = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &tv, &m);
	if (rc == 0)
		return RS_OK;
	if (rc == -1) {
		ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &err);
		oldap_ld_msg(c->ld, msg, msgsize, "notification search", err);
		return RS_ERR_SYSTEM;
	}
	switch (rc) {
	case LDAP_RES_SEARCH_ENTRY:
		*kind = LDAPX_NOTE_ENTRY;
		r = oldap_note_entry(c, m, q, fn, arg, msg, msgsize);
		break;
	case LDAP_RES_SEARCH_RESULT:
		*kind = LDAPX_NOTE_DONE;
		if (ldap_parse_result(c->ld, m, &err, NULL, &diag, NULL, NULL,
		    0) != LDAP_SUCCESS)
			err = LDAP_OTHER;
		st->code = err;
		snprintf(st->diag, sizeof(st->diag), "%s", diag != NULL ?
		    diag : "");
		if (diag != NULL)
			ldap_memfree(diag);
		break;
	default:
		/* A continuation reference (AD's other partitions). */
		break;
	}
	ldap_msgfree(m);
	return r;
}

const struct ldapx_backend ldapx_openldap = {
	.name = "openldap",
	.open = oldap_open,
	.send = oldap_send,
	.collect = oldap_collect,
	.status = oldap_status,
	.cookie = oldap_cookie,
	.entries = oldap_entries,
	.res_free = oldap_res_free,
	.errstr = oldap_errstr,
	.server = oldap_server,
	.close = oldap_close,
	.notify_start = oldap_notify_start,
	.notify_next = oldap_notify_next,
};
