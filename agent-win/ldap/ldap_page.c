/*
 * ldap_page.c - ldapx.h: the rules every LDAP backend follows, once.
 *
 * API:        ldapx.h; ldapx_attr_slot for the backends (ldap_backend.h).
 * Rules:      - a page is one search with the critical simple paged
 *               results control (RFC 2696): a server without paging
 *               must refuse, not truncate; a reply without the control
 *               is an error;
 *             - a reply's result code is read before its entries are
 *               handed on: a page that ends in an error
 *               (sizeLimitExceeded, busy, unwilling) hands none of its
 *               entries on, so a partial result never looks like the
 *               whole.  The backends read a page one message at a time
 *               (ldap_result, LDAP_MSG_ONE) and parse each entry as it
 *               arrives, overlapping the decoding with the server; they
 *               hold the parsed entries back (ldap_held.c) and hand
 *               them on in the entries step, which ldapx_run calls only
 *               after status said success.  Held back, not undone: the
 *               callers' work (a list, a cache) is not undoable, and a
 *               delta's changes to the cache must not be half applied
 *               from a page that failed;
 *             - so the entry callback, and the range reads it issues
 *               (below), run only after the page's result message has
 *               arrived;
 *             - a page ahead: once a page's result said success and
 *               gave a cookie, the next page's request (the same base,
 *               filter, attributes and size, with the new cookie) goes
 *               out before the entries are handed on, so the server
 *               reads the next page while the caller works through this
 *               one; the next ldapx_search_page that asks for exactly
 *               that page collects it, and any other call abandons it
 *               first (RFC 4511 4.11).  Not when a held name has
 *               options (a ranged attribute): then range reads follow,
 *               and no search of ours is outstanding on the connection
 *               when one is sent, with either library;
 *             - a ranged attribute ("proxyAddresses;range=0-1499", what
 *               AD sends past MaxValRange) is neither an absent
 *               attribute nor all of its values: before the caller sees
 *               the entry, base reads of "attr;range=1500-*" fetch the
 *               rest until a reply's upper bound is "*" (range
 *               retrieval, MS-ADTS 3.1.1.3.1.3.3), for every search and
 *               read, full or delta, whatever the backend; a reply that
 *               skips values, repeats an attribute or does not move on
 *               fails the search.
 * Ownership:  struct ldapx owns the backend's connection and the page
 *             ahead, if any; ldapx_close abandons the page and closes
 *             the connection.  Other replies are freed before each call
 *             returns.
 * Errors:     RS_ERR_SYSTEM for connection and protocol failures,
 *             RS_ERR_LIMIT for size and time limits and for more than
 *             RS_MAX_RANGED_VALUES values, RS_ERR_FORMAT for a reply that
 *             breaks the rules above,
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

/* What identifies a page ahead: base, filter, attributes, size, cookie. */
#define LDAPX_KEY_MAX	(128UL * 1024)

struct ldapx {
	const struct ldapx_backend *be;
	struct ldapx_conn	*conn;
	unsigned		 timeout;
	unsigned		 nnotify;	/* notification searches sent */
	struct ldapx_res	*ahead;		/* the next page, sent */
	struct rs_buf		 ahead_key;	/* ...for this query */
	char			 msg[512];
};

int
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

/* A range's upper bound "*": the attribute's last values. */
#define LDAPX_RANGE_END		UINT64_MAX

/* How one requested attribute came in the entry being read. */
struct ldapx_range {
	int		 seen;		/* in the entry (at most once) */
	int		 ranged;	/* as "attr;range=LOW-HIGH" */
	uint64_t	 high;		/* LDAPX_RANGE_END for "*" */
};

/*
 * Range retrieval (MS-ADTS 3.1.1.3.1.3.3) of the entry being read:
 * ldapx_attr_slot fills it from the names the backend finds, and
 * ldapx_whole_entry reads it, then clears it for the next entry.
 */
struct ldapx_ranges {
	int			 read;	/* a range read: every name is ranged */
	uint64_t		 low;	/* ...from this value on (else 0) */
	struct ldapx_range	 a[RS_MAX_LDAP_ATTRS];
};

/* The values of one ranged attribute after the entry's own reply. */
struct ldapx_rest {
	struct rs_buf	 data;		/* the values, back to back */
	size_t		*lens;
	size_t		 n, cap;
};

static struct ldapx_tally tally;

void
ldapx_tally_get(struct ldapx_tally *t)
{
	*t = tally;
}

uint64_t
ldapx_tally_requests(const struct ldapx_tally *t)
{
	return t->pages + t->reads + t->ranges + t->notify;
}

/* A request that went out, by kind. */
static void
ldapx_tally_send(const struct ldapx_query *q)
{
	if (q->page_size > 0)
		tally.pages++;
	else if (q->ranges != NULL && q->ranges->read)
		tally.ranges++;
	else
		tally.reads++;
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
	rs_buf_init(&c->ahead_key, LDAPX_KEY_MAX);
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

/* q as the page ahead's key: every field the request is made of. */
static int
ldapx_key(const struct ldapx_query *q, struct rs_buf *key)
{
	size_t i;
	int r;

	rs_buf_reset(key);
	r = rs_buf_put_cstring(key, q->base);
	if (r == RS_OK)
		r = rs_buf_put_cstring(key, q->filter);
	for (i = 0; i < q->nattrs && r == RS_OK; i++)
		r = rs_buf_put_cstring(key, q->attrs[i]);
	if (r == RS_OK)
		r = rs_buf_put_u32(key, (uint32_t)q->nattrs);
	if (r == RS_OK)
		r = rs_buf_put_u32(key, q->page_size);
	if (r == RS_OK)
		r = rs_buf_put_string(key, q->cookie->data, q->cookie->len);
	return r;
}

/* Abandon the page ahead, if any: the caller asked for something else. */
static void
ldapx_ahead_drop(struct ldapx *c)
{
	if (c->ahead == NULL)
		return;
	tally.abandoned++;
	c->be->res_free(c->ahead);
	c->ahead = NULL;
	rs_buf_reset(&c->ahead_key);
}

/*
 * Send the next page of q, from cookie next, before the caller sees this
 * one.  Best effort: when it cannot go out, the next call sends it as
 * usual and reports what went wrong then.
 */
static void
ldapx_ahead_send(struct ldapx *c, const struct ldapx_query *q,
    const struct rs_buf *next)
{
	struct ldapx_query nq = *q;
	char msg[256];

	nq.cookie = next;
	nq.ranges = NULL;
	if (ldapx_key(&nq, &c->ahead_key) != RS_OK)
		return;
	if (c->be->send(c->conn, &nq, &c->ahead, msg, sizeof(msg)) != RS_OK) {
		c->ahead = NULL;
		rs_buf_reset(&c->ahead_key);
		return;
	}
	ldapx_tally_send(&nq);
}

/* q's request: the page ahead when it is exactly q, else sent now. */
static int
ldapx_send(struct ldapx *c, const struct ldapx_query *q,
    struct ldapx_res **res)
{
	struct rs_buf key;
	int same, r;

	*res = NULL;
	if (c->ahead != NULL && q->page_size > 0) {
		rs_buf_init(&key, LDAPX_KEY_MAX);
		same = ldapx_key(q, &key) == RS_OK &&
		    key.len == c->ahead_key.len &&
		    memcmp(key.data, c->ahead_key.data, key.len) == 0;
		rs_buf_free(&key);
		if (same) {
			*res = c->ahead;
			c->ahead = NULL;
			rs_buf_reset(&c->ahead_key);
			return RS_OK;
		}
	}
	ldapx_ahead_drop(c);
	if ((r = c->be->send(c->conn, q, res, c->msg, sizeof(c->msg))) ==
	    RS_OK)
		ldapx_tally_send(q);
	return r;
}

/*
 * Run q and hand its entries to fn, checking the reply's result code
 * first.  cookie (NULL for a read) gets the server's next cookie, once
 * every entry has been handed on.
 */
static int
ldapx_run(struct ldapx *c, const struct ldapx_query *q, const char *op,
    struct rs_buf *cookie, ldapx_entry_fn *fn, void *arg, uint64_t *bytes,
    size_t *n)
{
	struct ldapx_res *res = NULL;
	struct ldapx_status st;
	struct rs_buf next;
	char why[128];
	int r;

	*n = 0;
	c->msg[0] = '\0';
	if (q->nattrs == 0 || q->nattrs >= RS_MAX_LDAP_ATTRS) {
		snprintf(c->msg, sizeof(c->msg), "%s %s: 1 to %d attributes, "
		    "not %zu", op, q->base, RS_MAX_LDAP_ATTRS - 1, q->nattrs);
		return RS_ERR_LIMIT;
	}
	rs_buf_init(&next, cookie != NULL ? cookie->max : 0);
	if ((r = ldapx_send(c, q, &res)) != RS_OK ||
	    (r = c->be->collect(c->conn, q, res, c->msg, sizeof(c->msg))) !=
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
	if (cookie != NULL) {
		if ((r = c->be->cookie(c->conn, res, &next, c->msg,
		    sizeof(c->msg))) != RS_OK)
			goto out;
		if (next.len > 0 && !st.options)
			ldapx_ahead_send(c, q, &next);
	}
	r = c->be->entries(c->conn, res, q, fn, arg, bytes, n, c->msg,
	    sizeof(c->msg));
	tally.entries += *n;
	if (r != RS_OK) {
		if (c->msg[0] == '\0')
			snprintf(c->msg, sizeof(c->msg), "%s: %s", op,
			    rs_err_str(r));
		goto out;
	}
	if (cookie != NULL) {
		rs_buf_reset(cookie);
		r = rs_buf_put(cookie, next.data, next.len);
	}
out:
	/* A page that failed: its callers stop, or start over. */
	if (r != RS_OK)
		ldapx_ahead_drop(c);
	if (res != NULL)
		c->be->res_free(res);
	rs_buf_free(&next);
	return r;
}

/*
 * The range among the options of an attribute description
 * ("proxyAddresses;range=1500-2999", options as in RFC 4512 2.5): RS_OK
 * with *has 0 when there is none, RS_ERR_FORMAT when it does not parse
 * or when there are two.
 */
static int
ldapx_range_parse(const char *opts, int *has, uint64_t *low, uint64_t *high)
{
	const char *o, *end, *dash;

	*has = 0;
	for (o = opts; (o = strchr(o, ';')) != NULL; o = end) {
		o++;
		end = o + strcspn(o, ";");
		if (!ldapx_ascii_ieq(o, "range=", 6))
			continue;
		if (*has)
			return RS_ERR_FORMAT;
		*has = 1;
		o += 6;
		if ((dash = memchr(o, '-', (size_t)(end - o))) == NULL ||
		    rs_parse_dec(o, (size_t)(dash - o), 1, LDAPX_RANGE_END - 1,
		    low) != RS_OK)
			return RS_ERR_FORMAT;
		dash++;
		if (end - dash == 1 && *dash == '*')
			*high = LDAPX_RANGE_END;
		else if (rs_parse_dec(dash, (size_t)(end - dash), 1,
		    LDAPX_RANGE_END - 1, high) != RS_OK || *high < *low)
			return RS_ERR_FORMAT;
	}
	return RS_OK;
}

/*
 * Which of q's attributes name is, by the part before any option; *bad
 * when its range does not parse.
 */
static size_t
ldapx_attr_find(const struct ldapx_query *q, const char *name, int *has,
    uint64_t *low, uint64_t *high, int *bad)
{
	size_t i, n;

	*bad = 0;
	for (i = 0; i < q->nattrs; i++) {
		n = strcspn(q->attrs[i], ";");
		if (!ldapx_ascii_ieq(name, q->attrs[i], n) ||
		    (name[n] != '\0' && name[n] != ';'))
			continue;
		if (ldapx_range_parse(name + n, has, low, high) != RS_OK) {
			*bad = 1;
			return i;
		}
		/* Another option (";binary"): not what was asked for. */
		if (name[n] == '\0' || *has)
			return i;
	}
	return LDAPX_SLOT_NONE;
}

int
ldapx_attr_slot(const struct ldapx_query *q, const char *dn,
    const char *name, size_t *slot, char *msg, size_t msgsize)
{
	struct ldapx_ranges *rs = q->ranges;
	uint64_t low = 0, high = 0;
	size_t i;
	int has = 0, bad;

	*slot = LDAPX_SLOT_NONE;
	if ((i = ldapx_attr_find(q, name, &has, &low, &high, &bad)) ==
	    LDAPX_SLOT_NONE)
		return RS_OK;
	if (bad) {
		snprintf(msg, msgsize, "entry %.200s: %.100s: not a valid "
		    "range (range retrieval, MS-ADTS 3.1.1.3.1.3.3)", dn, name);
		return RS_ERR_FORMAT;
	}
	if (rs->a[i].seen) {
		snprintf(msg, msgsize, "entry %.200s: %.100s: the attribute "
		    "came twice in one entry", dn, name);
		return RS_ERR_FORMAT;
	}
	/* A range read must get what it asked for: values from low on. */
	if ((rs->read && !has) || (has && low != rs->low)) {
		snprintf(msg, msgsize, "entry %.200s: %.100s: values from "
		    "%llu on were asked for", dn, name,
		    (unsigned long long)rs->low);
		return RS_ERR_FORMAT;
	}
	rs->a[i].seen = 1;
	rs->a[i].ranged = has;
	rs->a[i].high = high;
	*slot = i;
	return RS_OK;
}

/*
 * A ranged reply from low to high holds exactly the values it names, so
 * that none is skipped; "*" (the last ones) may hold any number, even
 * none.
 */
static int
ldapx_range_count(struct ldapx *c, const char *dn, const char *attr,
    uint64_t low, uint64_t high, size_t n)
{
	if (high == LDAPX_RANGE_END || (uint64_t)n == high - low + 1)
		return RS_OK;
	snprintf(c->msg, sizeof(c->msg), "entry %.200s: %.100s;range=%llu-"
	    "%llu came with %zu values", dn, attr, (unsigned long long)low,
	    (unsigned long long)high, n);
	return RS_ERR_FORMAT;
}

/* One range read of an attribute's values from rs.low on. */
struct ldapx_rest_read {
	struct ldapx		*c;
	struct ldapx_ranges	 rs;
	struct ldapx_rest	*rest;
	const char		*attr;
	size_t			 nfirst;	/* values in the entry's reply */
	int			 got;		/* the entry had the attribute */
	uint64_t		 high;
};

/* ldapx_entry_fn of a range read: keep its one attribute's values. */
static int
ldapx_rest_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	struct ldapx_rest_read *rd = arg;
	struct ldapx_rest *rest = rd->rest;
	size_t i;
	int r;

	if (!rd->rs.a[0].seen)
		return RS_OK;
	rd->got = 1;
	rd->high = rd->rs.a[0].high;
	if ((r = ldapx_range_count(rd->c, dn, rd->attr, rd->rs.low, rd->high,
	    nvals[0])) != RS_OK)
		return r;
	if (nvals[0] > RS_MAX_RANGED_VALUES - rd->nfirst - rest->n) {
		snprintf(rd->c->msg, sizeof(rd->c->msg), "entry %.200s: "
		    "%.100s: more than %d values", dn, rd->attr,
		    RS_MAX_RANGED_VALUES);
		return RS_ERR_LIMIT;
	}
	if ((r = rs_grow((void **)&rest->lens, &rest->cap, rest->n +
	    nvals[0], sizeof(*rest->lens), 64)) != RS_OK)
		return r;
	for (i = 0; i < nvals[0]; i++) {
		if (rs_buf_put(&rest->data, vals[0][i].p, vals[0][i].len) !=
		    RS_OK) {
			snprintf(rd->c->msg, sizeof(rd->c->msg), "entry "
			    "%.200s: %.100s: values over %lu bytes", dn,
			    rd->attr, (unsigned long)RS_MAX_RANGED_BYTES);
			return RS_ERR_LIMIT;
		}
		rest->lens[rest->n++] = vals[0][i].len;
	}
	return RS_OK;
}

/*
 * Read the values of attribute attr of entry dn from low on, one
 * base-scope read of "attr;range=LOW-*" at a time (MS-ADTS
 * 3.1.1.3.1.3.3), until a reply's upper bound is "*".  Every reply moves
 * low on by at least one value (ldapx_range_count), so a hostile server
 * is stopped by RS_MAX_RANGED_VALUES.
 */
static int
ldapx_range_rest(struct ldapx *c, const char *dn, const char *attr,
    uint64_t low, size_t nfirst, struct ldapx_rest *rest, uint64_t *bytes)
{
	struct ldapx_rest_read rd;
	struct ldapx_query q;
	const char *attrs[2];
	char name[128], op[160];
	size_t n;
	int r;

	for (;;) {
		memset(&rd, 0, sizeof(rd));
		rd.c = c;
		rd.rest = rest;
		rd.attr = attr;
		rd.nfirst = nfirst;
		rd.rs.read = 1;
		rd.rs.low = low;
		snprintf(name, sizeof(name), "%s;range=%llu-*", attr,
		    (unsigned long long)low);
		snprintf(op, sizeof(op), "range retrieval of %s", name);
		attrs[0] = name;
		attrs[1] = NULL;
		memset(&q, 0, sizeof(q));
		q.base = dn;
		q.filter = "(objectClass=*)";
		q.attrs = attrs;
		q.nattrs = 1;
		q.sizelimit = 1;
		q.timeout = c->timeout;
		q.ranges = &rd.rs;
		r = ldapx_run(c, &q, op, NULL, ldapx_rest_entry, &rd, bytes,
		    &n);
		/* The entry, or the values, went away since the page. */
		if ((r == RS_OK && !rd.got) || r == RS_ERR_NOTFOUND) {
			snprintf(c->msg, sizeof(c->msg), "entry %.200s: %s: "
			    "the values changed while they were read; the "
			    "next cycle reads them again", dn, name);
			return RS_ERR_SYSTEM;
		}
		if (r != RS_OK || rd.high == LDAPX_RANGE_END)
			return r;
		low = rd.high + 1;
	}
}

/* The caller's entry: what ldapx_whole_entry hands on, and to whom. */
struct ldapx_whole {
	struct ldapx		*c;
	const struct ldapx_query *q;
	ldapx_entry_fn		*fn;
	void			*arg;
	uint64_t		*bytes;
	struct ldapx_rest	 rest[RS_MAX_LDAP_ATTRS];
	struct ldapx_val	*all[RS_MAX_LDAP_ATTRS];
};

/*
 * Attribute i of an entry, whole: its first nvals values from the
 * entry's reply, then the rest.  *out points into both, which must stay
 * until the caller has seen the entry.
 */
static int
ldapx_whole_attr(struct ldapx_whole *w, const char *dn, size_t i,
    const struct ldapx_val *vals, size_t nvals,
    const struct ldapx_val **out, size_t *nout)
{
	const struct ldapx_range *ra = &w->q->ranges->a[i];
	struct ldapx_rest *rest = &w->rest[i];
	size_t j, off;
	int r;

	*out = vals;
	*nout = nvals;
	if (!ra->ranged)
		return RS_OK;
	if ((r = ldapx_range_count(w->c, dn, w->q->attrs[i], 0, ra->high,
	    nvals)) != RS_OK || ra->high == LDAPX_RANGE_END)
		return r;
	rs_buf_init(&rest->data, RS_MAX_RANGED_BYTES);
	if ((r = ldapx_range_rest(w->c, dn, w->q->attrs[i], ra->high + 1,
	    nvals, rest, w->bytes)) != RS_OK)
		return r;
	if ((w->all[i] = calloc(nvals + rest->n, sizeof(*w->all[i]))) ==
	    NULL)
		return RS_ERR_NOMEM;
	if (nvals > 0)
		memcpy(w->all[i], vals, nvals * sizeof(*vals));
	for (j = 0, off = 0; j < rest->n; j++) {
		w->all[i][nvals + j].p = (const char *)rest->data.data + off;
		w->all[i][nvals + j].len = rest->lens[j];
		off += rest->lens[j];
	}
	*out = w->all[i];
	*nout = nvals + rest->n;
	return RS_OK;
}

static void
ldapx_whole_init(struct ldapx_whole *w, struct ldapx *c,
    struct ldapx_query *q, struct ldapx_ranges *rs, ldapx_entry_fn *fn,
    void *arg, uint64_t *bytes)
{
	memset(rs, 0, sizeof(*rs));
	memset(w, 0, sizeof(*w));
	q->ranges = rs;
	w->c = c;
	w->q = q;
	w->fn = fn;
	w->arg = arg;
	w->bytes = bytes;
}

/*
 * ldapx_entry_fn between a backend and the caller: a ranged attribute
 * gets the rest of its values first, so the caller sees each entry with
 * all of its values, or the search fails.
 */
static int
ldapx_whole_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	struct ldapx_whole *w = arg;
	const struct ldapx_val *call[RS_MAX_LDAP_ATTRS];
	size_t nall[RS_MAX_LDAP_ATTRS], i;
	int r = RS_OK;

	for (i = 0; i < w->q->nattrs && r == RS_OK; i++)
		r = ldapx_whole_attr(w, dn, i, vals[i], nvals[i], &call[i],
		    &nall[i]);
	if (r == RS_OK)
		r = w->fn(w->arg, dn, call, nall);
	for (i = 0; i < w->q->nattrs; i++) {
		rs_buf_free(&w->rest[i].data);
		free(w->rest[i].lens);
		free(w->all[i]);
	}
	memset(w->rest, 0, sizeof(w->rest));
	memset(w->all, 0, sizeof(w->all));
	/* The next entry's attributes start unseen. */
	memset(w->q->ranges->a, 0, sizeof(w->q->ranges->a));
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
	struct ldapx_ranges rs;
	struct ldapx_query q;
	struct ldapx_whole w;
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
	ldapx_whole_init(&w, c, &q, &rs, fn, arg, bytes);
	return ldapx_run(c, &q, "search", cookie, ldapx_whole_entry, &w,
	    bytes, &n);
}

int
ldapx_read(struct ldapx *c, const char *dn, const char *const *attrs,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes)
{
	struct ldapx_ranges rs;
	struct ldapx_query q;
	struct ldapx_whole w;
	size_t n;
	int r;

	memset(&q, 0, sizeof(q));
	q.base = dn;
	q.filter = "(objectClass=*)";
	q.attrs = attrs;
	q.nattrs = ldapx_count(attrs);
	q.sizelimit = 1;
	q.timeout = c->timeout;
	ldapx_whole_init(&w, c, &q, &rs, fn, arg, bytes);
	r = ldapx_run(c, &q, "read", NULL, ldapx_whole_entry, &w, bytes, &n);
	return r == RS_OK && n == 0 ? RS_ERR_NOTFOUND : r;
}

/*
 * Change notification (MS-ADTS 3.1.1.3.4.1.9): AD accepts the control
 * only with (objectClass=*), and a subtree scope only on a naming
 * context's root; the caller picks the roots (notify.c).
 */
int
ldapx_notify_start(struct ldapx *c, const char *nc, const char *const *attrs)
{
	struct ldapx_query q;
	int r;

	c->msg[0] = '\0';
	if (c->be->notify_start == NULL) {
		snprintf(c->msg, sizeof(c->msg), "notify %s: the %s client "
		    "has no change notification", nc, c->be->name);
		return RS_ERR_INVAL;
	}
	if (c->nnotify >= RS_MAX_NOTIFY_PER_CONN) {
		snprintf(c->msg, sizeof(c->msg), "notify %s: at most %d "
		    "notification searches per connection "
		    "(MaxNotificationPerConnection)", nc,
		    RS_MAX_NOTIFY_PER_CONN);
		return RS_ERR_LIMIT;
	}
	ldapx_ahead_drop(c);
	memset(&q, 0, sizeof(q));
	q.base = nc;
	q.subtree = 1;
	q.filter = "(objectClass=*)";
	q.attrs = attrs;
	q.nattrs = ldapx_count(attrs);
	c->nnotify++;
	if ((r = c->be->notify_start(c->conn, &q, c->msg, sizeof(c->msg))) ==
	    RS_OK)
		tally.notify++;
	return r;
}

int
ldapx_notify_wait(struct ldapx *c, unsigned ms, ldapx_entry_fn *fn,
    void *arg, const char *const *attrs, int *got)
{
	struct ldapx_ranges rs;
	struct ldapx_status st;
	struct ldapx_query q;
	char why[128];
	int kind = LDAPX_NOTE_NONE, r;

	*got = 0;
	c->msg[0] = '\0';
	memset(&rs, 0, sizeof(rs));
	memset(&st, 0, sizeof(st));
	memset(&q, 0, sizeof(q));
	q.subtree = 1;
	q.filter = "(objectClass=*)";
	q.attrs = attrs;
	q.nattrs = ldapx_count(attrs);
	/* A notified entry is never ranged: its values are not the list's. */
	q.ranges = &rs;
	if ((r = c->be->notify_next(c->conn, ms, &q, fn, arg, &kind, &st,
	    c->msg, sizeof(c->msg))) != RS_OK)
		return r;
	if (kind == LDAPX_NOTE_ENTRY) {
		*got = 1;
		tally.notes++;
	}
	if (kind != LDAPX_NOTE_DONE)
		return RS_OK;
	/* A notification search has no end of its own: the server ended it. */
	c->be->errstr(st.code, why, sizeof(why));
	snprintf(c->msg, sizeof(c->msg), "the server ended the notification "
	    "search: %s%s%s", why, st.diag[0] != '\0' ? " - " : "", st.diag);
	return RS_ERR_SYSTEM;
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
	ldapx_ahead_drop(c);
	rs_buf_free(&c->ahead_key);
	if (c->conn != NULL)
		c->be->close(c->conn);
	free(c);
}
