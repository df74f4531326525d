/*
 * ldap_page.c - ldapx.h: the rules every LDAP backend follows, once.
 *
 * API:        ldapx.h; ldapx_attr_slot for the backends (ldap_backend.h).
 * Rules:      - a page is one search with the critical simple paged
 *               results control (RFC 2696): a server without paging
 *               must refuse, not truncate; a reply without the control
 *               is an error;
 *             - a reply's result code is read before its entries: a
 *               page that ends in an error (sizeLimitExceeded, busy,
 *               unwilling) hands none of its entries on, so a partial
 *               result never looks like the whole;
 *             - a ranged attribute ("proxyAddresses;range=0-1499", what
 *               AD sends past MaxValRange) is not an absent attribute.
 *               Range retrieval (asking for "attr;range=1500-*" until
 *               the upper bound is "*") belongs here, in ldapx_attr_slot's
 *               caller; until then a ranged reply fails the search,
 *               loudly, in both builds.
 * Ownership:  struct ldapx owns the backend's connection; ldapx_close
 *             frees both.  Replies are freed before each call returns.
 * Errors:     RS_ERR_SYSTEM for connection and protocol failures,
 *             RS_ERR_LIMIT for size and time limits and ranged replies,
 *             RS_ERR_NOTFOUND for a read of an absent entry, RS_ERR_INVAL
 *             for a client this build cannot use as configured;
 *             ldapx_errmsg() has the library's text and the server's.
 * Trust:      everything from the server is untrusted; backends pass
 *             values with their length, never as C strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ldap_backend.h"
#include "ldapx.h"
#include "rs_err.h"
#include "rs_limits.h"

/* LDAP resultCodes (RFC 4511 4.1.9) the rules tell apart. */
#define LDAPX_RC_SUCCESS	0
#define LDAPX_RC_TIMELIMIT	3
#define LDAPX_RC_SIZELIMIT	4
#define LDAPX_RC_ADMINLIMIT	11
#define LDAPX_RC_NOSUCHOBJECT	32

struct ldapx {
	const struct ldapx_backend *be;
	struct ldapx_conn	*conn;
	unsigned		 timeout;
	char			 msg[512];
};

static int
ldapx_ascii_ieq(const char *a, const char *b, size_t n)
{
	size_t i;
	int ca, cb;

	for (i = 0; i < n; i++) {
		ca = (unsigned char)a[i];
		cb = (unsigned char)b[i];
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return 0;
		if (ca == '\0')
			return 1;
	}
	return 1;
}

/* Whether the options of an attribute description name a range. */
static int
ldapx_is_ranged(const char *opts)
{
	while ((opts = strchr(opts, ';')) != NULL) {
		opts++;
		if (ldapx_ascii_ieq(opts, "range=", 6))
			return 1;
	}
	return 0;
}

int
ldapx_attr_slot(const struct ldapx_query *q, const char *dn,
    const char *name, size_t *slot, char *msg, size_t msgsize)
{
	size_t i, n;

	*slot = LDAPX_SLOT_NONE;
	for (i = 0; i < q->nattrs; i++) {
		n = strlen(q->attrs[i]);
		if (!ldapx_ascii_ieq(name, q->attrs[i], n))
			continue;
		if (name[n] == '\0') {
			*slot = i;
			return RS_OK;
		}
		if (name[n] == ';' && ldapx_is_ranged(name + n)) {
			snprintf(msg, msgsize, "entry %.200s: %.100s: more "
			    "values than the server sends at once (range "
			    "retrieval is not supported)", dn, name);
			return RS_ERR_LIMIT;
		}
	}
	return RS_OK;
}

int
ldapx_open(const struct ldapx_opts *o, struct ldapx **out, char *msg,
    size_t msgsize)
{
	struct ldapx *c;
	int r;

	*out = NULL;
	if (msgsize > 0)
		msg[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(msg, msgsize, "out of memory");
		return RS_ERR_NOMEM;
	}
	c->timeout = o->timeout > 0 ? o->timeout : 30;
	if ((c->be = ldapx_pick(o, msg, msgsize)) == NULL) {
		r = RS_ERR_INVAL;
		goto out;
	}
	if ((r = c->be->open(o, &c->conn, msg, msgsize)) != RS_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	ldapx_close(c);
	return r;
}

int
ldapx_check_client(enum ldapx_client client, enum ldapx_bind bind,
    enum ldapx_tls tls, const char *ca_file, int have_server, char *msg,
    size_t msgsize)
{
	struct ldapx_opts o;

	memset(&o, 0, sizeof(o));
	o.client = client;
	o.bind = bind;
	o.tls = tls;
	o.ca_file = ca_file;
	o.server = have_server ? "" : NULL;
	return ldapx_pick(&o, msg, msgsize) != NULL ? RS_OK : RS_ERR_INVAL;
}

static int
ldapx_code_err(int code)
{
	switch (code) {
	case LDAPX_RC_TIMELIMIT:
	case LDAPX_RC_SIZELIMIT:
	case LDAPX_RC_ADMINLIMIT:
		return RS_ERR_LIMIT;
	case LDAPX_RC_NOSUCHOBJECT:
		return RS_ERR_NOTFOUND;
	default:
		return RS_ERR_SYSTEM;
	}
}

/*
 * Run q and hand its entries to fn, checking the reply's result code
 * first.  cookie (NULL for a read) gets the server's next cookie.
 */
static int
ldapx_run(struct ldapx *c, const struct ldapx_query *q, const char *op,
    struct rs_buf *cookie, ldapx_entry_fn *fn, void *arg, uint64_t *bytes,
    size_t *n)
{
	struct ldapx_res *res = NULL;
	struct ldapx_status st;
	char why[128];
	int r;

	*n = 0;
	c->msg[0] = '\0';
	if (q->nattrs == 0 || q->nattrs >= RS_MAX_LDAP_ATTRS) {
		snprintf(c->msg, sizeof(c->msg), "%s %s: 1 to %d attributes, "
		    "not %zu", op, q->base, RS_MAX_LDAP_ATTRS - 1, q->nattrs);
		return RS_ERR_LIMIT;
	}
	if ((r = c->be->search(c->conn, q, &res, c->msg, sizeof(c->msg))) !=
	    RS_OK)
		goto out;
	memset(&st, 0, sizeof(st));
	if ((r = c->be->status(c->conn, res, &st, c->msg, sizeof(c->msg))) !=
	    RS_OK)
		goto out;
	/*
	 * Before any entry: sizeLimitExceeded, timeLimitExceeded, busy or
	 * unwilling mean the entries are not the whole, and a read that
	 * failed is not an absent entry.
	 */
	if (st.code != LDAPX_RC_SUCCESS) {
		r = ldapx_code_err(st.code);
		/* Only a read's entry can be absent; a missing base fails. */
		if (r == RS_ERR_NOTFOUND && q->subtree)
			r = RS_ERR_SYSTEM;
		c->be->errstr(st.code, why, sizeof(why));
		if (r != RS_ERR_NOTFOUND)
			snprintf(c->msg, sizeof(c->msg), "%s: %s%s%s", op, why,
			    st.diag[0] != '\0' ? " - " : "", st.diag);
		goto out;
	}
	if (q->page_size > 0 && !st.paged) {
		snprintf(c->msg, sizeof(c->msg), "%s: the server returned no "
		    "paged results control", op);
		r = RS_ERR_FORMAT;
		goto out;
	}
	if ((r = c->be->entries(c->conn, res, q, fn, arg, bytes, n, c->msg,
	    sizeof(c->msg))) != RS_OK) {
		if (c->msg[0] == '\0')
			snprintf(c->msg, sizeof(c->msg), "%s: %s", op,
			    rs_err_str(r));
		goto out;
	}
	if (cookie != NULL)
		r = c->be->cookie(c->conn, res, cookie, c->msg,
		    sizeof(c->msg));
out:
	if (res != NULL)
		c->be->res_free(res);
	return r;
}

static size_t
ldapx_count(const char *const *attrs)
{
	size_t n;

	for (n = 0; attrs[n] != NULL && n < RS_MAX_LDAP_ATTRS; n++)
		;
	return n;
}

int
ldapx_search_page(struct ldapx *c, const char *base, const char *filter,
    const char *const *attrs, unsigned page_size, struct rs_buf *cookie,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	struct ldapx_query q;
	size_t n;

	memset(&q, 0, sizeof(q));
	q.base = base;
	q.subtree = 1;
	q.filter = filter;
	q.attrs = attrs;
	q.nattrs = ldapx_count(attrs);
	q.page_size = page_size > 0 ? page_size : 1;
	q.cookie = cookie;
	q.timeout = c->timeout;
	return ldapx_run(c, &q, "search", cookie, fn, arg, bytes, &n);
}

int
ldapx_read(struct ldapx *c, const char *dn, const char *const *attrs,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	struct ldapx_query q;
	size_t n;
	int r;

	memset(&q, 0, sizeof(q));
	q.base = dn;
	q.filter = "(objectClass=*)";
	q.attrs = attrs;
	q.nattrs = ldapx_count(attrs);
	q.sizelimit = 1;
	q.timeout = c->timeout;
	r = ldapx_run(c, &q, "read", NULL, fn, arg, bytes, &n);
	return r == RS_OK && n == 0 ? RS_ERR_NOTFOUND : r;
}

const char *
ldapx_server(const struct ldapx *c)
{
	return c->be->server(c->conn);
}

const char *
ldapx_errmsg(const struct ldapx *c)
{
	return c != NULL ? c->msg : "";
}

void
ldapx_close(struct ldapx *c)
{
	if (c == NULL)
		return;
	if (c->conn != NULL)
		c->be->close(c->conn);
	free(c);
}
