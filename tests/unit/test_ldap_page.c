/*
 * test_ldap_page.c - unit tests for agent-win/ldap/ldap_page.c, the rules
 * above the LDAP backends, over a scripted fake backend:
 *
 * - ldapx_attr_slot: a table of attribute names as a server may send
 *   them, against the requested ones: whole names (any case) are theirs,
 *   options other than range are not, a range must parse and start where
 *   it was asked to, and an attribute sent twice is an error;
 * - range retrieval: the fake ranges values past its MaxValRange as AD
 *   does, and answers range reads; an entry reaches the caller with all
 *   of its values, in order, after one base read per further range
 *   (1500, 1501, 5000 values; two ranged attributes; a read); a reply
 *   that skips values, names another start, or loses the attribute
 *   fails the search and says so; RS_MAX_RANGED_VALUES holds;
 * - ldapx_search_page: a page whose result code is an error
 *   (sizeLimitExceeded, noSuchObject) hands on none of its entries and
 *   keeps the old cookie; a page without the paged results control is an
 *   error; a good page hands on every entry and the new cookie, also when
 *   its last entry was ranged;
 * - held entries (ldap_held.c, how both backends read a page): the same
 *   page rules when entries are parsed on arrival and replayed after
 *   the result code;
 * - a page ahead: the next page's request goes out before the caller
 *   sees a good page's entries and is collected by the call for exactly
 *   that page; anything else abandons it; none after the last page or a
 *   page with a ranged attribute;
 * - ldapx_read: noSuchObject, or no entry, is RS_ERR_NOTFOUND; busy is a
 *   failure, not an absent entry;
 * - ldapx_open: a client the build cannot use is RS_ERR_INVAL with the
 *   picker's message;
 * - change notification: (objectClass=*) and subtree, at most
 *   RS_MAX_NOTIFY_PER_CONN per connection, an entry is a change, a
 *   search result of any code ends the search, so does a failed
 *   connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ldap_backend.h"
#include "ldapx.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "unit.h"

/* --- the fake backend ---------------------------------------------------- */

/* An entry: attribute names as sent, each with its number of values. */
struct fake_entry {
	const char	*dn;
	const char	*names[4];	/* NULL-ended */
	size_t		 nvals[4];	/* 0: one value */
};

static struct {
	int			 code;
	int			 paged;
	const struct fake_entry	*entries;
	size_t			 nentries;
	const char		*cookie;	/* the server's next cookie */
	int			 refuse;	/* ldapx_pick says no */
	size_t			 maxval;	/* MaxValRange; 0: none */
	int			 skip;		/* ranged bounds claim one more */
	int			 wronglow;	/* a range read's reply starts
						   elsewhere */
	int			 lose;		/* range reads find no values */
	size_t			 searches;	/* replies collected */
	size_t			 sent;		/* requests sent */
	size_t			 abandoned;	/* sent, never collected */
	char			 ahead[64];	/* the cookie of the last
						   request sent */
	int			 held;		/* pages as the real backends
						   read them: parsed on arrival
						   into ldap_held.c, replayed */
	char			 asked[8][64];	/* range reads' attribute */
} fake;

struct ldapx_conn { int unused; };
struct ldapx_res {
	const struct ldapx_query *q;	/* the collecting call's */
	int			 pending;
	struct ldapx_held	*held;
};

static struct ldapx_conn fake_conn;

#define NVALUE	120000
static char value_text[NVALUE][16];
static struct ldapx_val value[NVALUE];

static void
fake_values(void)
{
	size_t i;

	for (i = 0; i < NVALUE; i++) {
		snprintf(value_text[i], sizeof(value_text[i]), "v%zu", i);
		value[i].p = value_text[i];
		value[i].len = strlen(value_text[i]);
	}
}

static int
fake_open(const struct ldapx_opts *o, struct ldapx_conn **out, char *msg,
    size_t msgsize)
{
	(void)o;
	(void)msg;
	(void)msgsize;
	*out = &fake_conn;
	return RS_OK;
}

/*
 * The page's entries as a backend holds them on arrival: every name as
 * scripted, values v0, v1, ... (no MaxValRange).
 */
static int
fake_hold(struct ldapx_res *res)
{
	size_t i, j, k, n;
	int r;

	if ((r = ldapx_held_new(&res->held)) != RS_OK)
		return r;
	for (i = 0; i < fake.nentries; i++) {
		if ((r = ldapx_held_entry(res->held, fake.entries[i].dn,
		    strlen(fake.entries[i].dn))) != RS_OK)
			return r;
		for (j = 0; fake.entries[i].names[j] != NULL; j++) {
			if ((r = ldapx_held_attr(res->held,
			    fake.entries[i].names[j],
			    strlen(fake.entries[i].names[j]))) != RS_OK)
				return r;
			n = fake.entries[i].nvals[j] > 0 ?
			    fake.entries[i].nvals[j] : 1;
			for (k = 0; k < n; k++)
				if ((r = ldapx_held_value(res->held, value[k].p,
				    value[k].len)) != RS_OK)
					return r;
		}
	}
	return RS_OK;
}

static int
fake_send(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res **res, char *msg, size_t msgsize)
{
	(void)c;
	(void)msg;
	(void)msgsize;
	if ((*res = calloc(1, sizeof(**res))) == NULL)
		return RS_ERR_NOMEM;
	(*res)->pending = 1;
	fake.sent++;
	snprintf(fake.ahead, sizeof(fake.ahead), "%.*s", q->page_size > 0 ?
	    (int)q->cookie->len : 0, q->page_size > 0 ?
	    (const char *)q->cookie->data : "");
	return RS_OK;
}

static int
fake_collect(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res *res, char *msg, size_t msgsize)
{
	(void)c;
	(void)msg;
	(void)msgsize;
	if (strstr(q->attrs[0], ";range=") != NULL && fake.searches > 0 &&
	    fake.searches <= 8)
		snprintf(fake.asked[fake.searches - 1], sizeof(fake.asked[0]),
		    "%s", q->attrs[0]);
	fake.searches++;
	res->q = q;
	res->pending = 0;
	return fake.held && q->subtree ? fake_hold(res) : RS_OK;
}

/*
 * Whether a page's names have options: the held ones', or, as the fake
 * sends them at the entries step, a scripted name with one or values
 * past MaxValRange.
 */
static int
fake_options(const struct ldapx_res *res)
{
	size_t i, j;

	if (res->held != NULL)
		return ldapx_held_options(res->held);
	for (i = 0; i < fake.nentries; i++)
		for (j = 0; fake.entries[i].names[j] != NULL; j++)
			if (strchr(fake.entries[i].names[j], ';') != NULL ||
			    (fake.maxval > 0 &&
			    fake.entries[i].nvals[j] > fake.maxval))
				return 1;
	return 0;
}

static int
fake_status(struct ldapx_conn *c, struct ldapx_res *res,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	(void)c;
	(void)msg;
	(void)msgsize;
	/* Range reads succeed; the script's code is the page's. */
	st->code = strstr(res->q->attrs[0], ";range=") != NULL ? 0 :
	    fake.code;
	st->paged = fake.paged;
	st->options = fake_options(res);
	snprintf(st->diag, sizeof(st->diag), "%s", st->code != 0 ?
	    "the server's words" : "");
	return RS_OK;
}

static int
fake_cookie(struct ldapx_conn *c, struct ldapx_res *res,
    struct rs_buf *cookie, char *msg, size_t msgsize)
{
	(void)c;
	(void)res;
	(void)msg;
	(void)msgsize;
	rs_buf_reset(cookie);
	return rs_buf_put(cookie, fake.cookie, strlen(fake.cookie));
}

/*
 * The name and values of attribute name (of n values) as the fake's
 * MaxValRange cuts them, from value low on.
 */
static void
fake_cut(const char *name, size_t n, size_t low, char *out, size_t outsize,
    size_t *first, size_t *count)
{
	size_t base = strcspn(name, ";"), last;

	*first = low;
	if (fake.maxval == 0 || (low == 0 && n <= fake.maxval &&
	    name[base] == '\0')) {
		snprintf(out, outsize, "%s", name);
		*count = n;
		return;
	}
	last = n - 1;
	if (last > low + fake.maxval - 1)
		last = low + fake.maxval - 1;
	*count = n > low ? last - low + 1 : 0;
	if (last >= n - 1)
		snprintf(out, outsize, "%.*s;range=%zu-*", (int)base, name,
		    low + (fake.wronglow && low > 0));
	else
		snprintf(out, outsize, "%.*s;range=%zu-%zu", (int)base, name,
		    low + (fake.wronglow && low > 0), last + (fake.skip != 0));
}

/* One entry to fn: a page's entry, or the read entry of a range read. */
static int
fake_entry(const struct ldapx_query *q, const struct fake_entry *e,
    ldapx_entry_fn *fn, void *arg, char *msg, size_t msgsize)
{
	const struct ldapx_val *vals[8];
	size_t nvals[8], j, slot, n, first, count, low = 0;
	const char *ranged;
	char name[96];
	int r;

	memset(vals, 0, sizeof(vals));
	memset(nvals, 0, sizeof(nvals));
	if ((ranged = strstr(q->attrs[0], ";range=")) != NULL)
		low = (size_t)strtoul(ranged + 7, NULL, 10);
	for (j = 0; e->names[j] != NULL; j++) {
		n = e->nvals[j] > 0 ? e->nvals[j] : 1;
		if (ranged != NULL && (fake.lose || strncmp(e->names[j],
		    q->attrs[0], (size_t)(ranged - q->attrs[0])) != 0))
			continue;
		if (strchr(e->names[j], ';') != NULL && ranged == NULL) {
			/* A scripted name: sent as it is, one value. */
			snprintf(name, sizeof(name), "%s", e->names[j]);
			first = 0;
			count = e->nvals[j] > 0 ? e->nvals[j] : 1;
		} else
			fake_cut(e->names[j], n, low, name, sizeof(name),
			    &first, &count);
		if ((r = ldapx_attr_slot(q, e->dn, name, &slot, msg,
		    msgsize)) != RS_OK)
			return r;
		if (slot != LDAPX_SLOT_NONE) {
			vals[slot] = value + first;
			nvals[slot] = count;
		}
	}
	return fn(arg, e->dn, vals, nvals);
}

static int
fake_entries(struct ldapx_conn *c, struct ldapx_res *res,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
    uint64_t *bytes, size_t *n, char *msg, size_t msgsize)
{
	size_t i;
	int r;

	(void)c;
	(void)bytes;
	*n = 0;
	if (res->held != NULL)
		return ldapx_held_replay(res->held, q, fn, arg, NULL, n, msg,
		    msgsize);
	for (i = 0; i < fake.nentries; i++) {
		/* A read (range reads too) finds its one entry by DN. */
		if (!q->subtree && q->base[0] != '\0' &&
		    strcmp(q->base, fake.entries[i].dn) != 0)
			continue;
		if ((r = fake_entry(q, &fake.entries[i], fn, arg, msg,
		    msgsize)) != RS_OK)
			return r;
		(*n)++;
	}
	return RS_OK;
}

static void
fake_res_free(struct ldapx_res *res)
{
	if (res->pending)
		fake.abandoned++;
	ldapx_held_free(res->held);
	free(res);
}

static void
fake_errstr(int code, char *out, size_t outsize)
{
	snprintf(out, outsize, "code %d", code);
}

static const char *
fake_server(const struct ldapx_conn *c)
{
	(void)c;
	return "fake";
}

static void
fake_close(struct ldapx_conn *c)
{
	(void)c;
}

/* Change notification: the script's next message, once. */
static struct {
	size_t	 started;
	int	 kind;		/* LDAPX_NOTE_* */
	int	 code;		/* of a DONE */
	int	 fail;		/* the connection failed */
	char	 filter[64];
} note;

static int
fake_notify_start(struct ldapx_conn *c, const struct ldapx_query *q,
    char *msg, size_t msgsize)
{
	(void)c;
	(void)msg;
	(void)msgsize;
	note.started++;
	snprintf(note.filter, sizeof(note.filter), "%s%s", q->filter,
	    q->subtree ? " subtree" : "");
	return RS_OK;
}

static int
fake_notify_next(struct ldapx_conn *c, unsigned ms,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg, int *kind,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	(void)c;
	(void)ms;
	if (note.fail) {
		snprintf(msg, msgsize, "notification search: gone");
		return RS_ERR_SYSTEM;
	}
	*kind = note.kind;
	st->code = note.code;
	note.kind = LDAPX_NOTE_NONE;
	if (*kind == LDAPX_NOTE_ENTRY)
		return fake_entry(q, &fake.entries[0], fn, arg, msg, msgsize);
	return RS_OK;
}

static const struct ldapx_backend fake_backend = {
	.name = "fake", .open = fake_open, .send = fake_send,
	.collect = fake_collect,
	.status = fake_status, .cookie = fake_cookie,
	.entries = fake_entries, .res_free = fake_res_free,
	.errstr = fake_errstr, .server = fake_server, .close = fake_close,
	.notify_start = fake_notify_start, .notify_next = fake_notify_next,
};

const struct ldapx_backend *
ldapx_pick(const struct ldapx_opts *o, char *msg, size_t msgsize)
{
	(void)o;
	if (fake.refuse) {
		snprintf(msg, msgsize, "client = fake: use another");
		return NULL;
	}
	return &fake_backend;
}

/* --- the tests ---------------------------------------------------------- */

static const char *const attrs[] = { "proxyAddresses", "objectGUID", NULL };

/*
 * What the caller saw: entries, and the last entry's number of values of
 * proxyAddresses (got[0]) and objectGUID (got[1]), and whether each
 * attribute's values were v0, v1, ... (the fake sends them so).
 */
static size_t seen;
static size_t got[2];
static int in_order;

static int
count_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	size_t i, j;

	(void)arg;
	(void)dn;
	seen++;
	in_order = 1;
	for (i = 0; i < 2; i++) {
		got[i] = nvals[i];
		for (j = 0; j < nvals[i]; j++)
			if (vals[i][j].len != value[j].len ||
			    memcmp(vals[i][j].p, value[j].p, value[j].len) != 0)
				in_order = 0;
	}
	return RS_OK;
}

/* One page from a fresh connection; the cookie starts as "old". */
static int
page(struct ldapx **ld, struct rs_buf *cookie)
{
	struct ldapx_opts o;
	char msg[256];
	int r;

	memset(&o, 0, sizeof(o));
	if ((r = ldapx_open(&o, ld, msg, sizeof(msg))) != RS_OK)
		return r;
	rs_buf_reset(cookie);
	rs_buf_put(cookie, "old", 3);
	seen = 0;
	got[0] = got[1] = 0;
	fake.searches = 0;
	memset(fake.asked, 0, sizeof(fake.asked));
	return ldapx_search_page(*ld, "dc=corp,dc=test", "(x=*)", attrs, 1000,
	    cookie, count_entry, NULL, NULL);
}

static int
cookie_is(const struct rs_buf *b, const char *s)
{
	return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

/* One scripted entry on a page: the page's result and the error text. */
static int
page_of(const struct fake_entry *e, size_t n, char *msg, size_t msgsize)
{
	struct ldapx *ld = NULL;
	struct rs_buf cookie;
	int r;

	rs_buf_init(&cookie, 1024);
	fake.entries = e;
	fake.nentries = n;
	r = page(&ld, &cookie);
	snprintf(msg, msgsize, "%s", ldapx_errmsg(ld));
	ldapx_close(ld);
	rs_buf_free(&cookie);
	return r;
}

static void
test_attr_slot(void)
{
	static const struct {
		const char	*name;
		int		 r;
		int		 slot;	/* -1: none */
	} t[] = {
		{ "proxyAddresses", RS_OK, 0 },
		{ "PROXYADDRESSES", RS_OK, 0 },
		{ "objectGUID", RS_OK, 1 },
		{ "objectguid", RS_OK, 1 },
		{ "proxyAddresses;range=0-*", RS_OK, 0 },
		{ "proxyAddresses;Range=0-*", RS_OK, 0 },
		{ "proxyAddresses;lang-en;range=0-*", RS_OK, 0 },
		{ "objectGUID;RANGE=0-*", RS_OK, 1 },
		{ "proxyAddresses;binary", RS_OK, -1 },
		{ "proxyAddressesX", RS_OK, -1 },
		{ "proxyAddresse", RS_OK, -1 },
		{ "mail", RS_OK, -1 },
		{ "mail;range=0-5", RS_OK, -1 },
		{ "", RS_OK, -1 },
		{ "proxyAddresses;range=1500-*", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=x-*", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=0-", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=-5", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=5-2", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=00-*", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=0-**", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=0-1;range=0-1", RS_ERR_FORMAT, -1 },
		{ "proxyAddresses;range=0-99999999999999999999999", RS_ERR_FORMAT,
		    -1 },
	};
	struct fake_entry e;
	char msg[512], name[160];
	size_t i;
	int r;

	memset(&fake, 0, sizeof(fake));
	fake.paged = 1;
	fake.cookie = "";
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&e, 0, sizeof(e));
		e.dn = "cn=x";
		e.names[0] = t[i].name;
		r = page_of(&e, 1, msg, sizeof(msg));
		snprintf(name, sizeof(name), "attr_slot \"%s\"", t[i].name);
		UT_CHECK(name, r == t[i].r && (r != RS_OK ||
		    (t[i].slot < 0 ? got[0] + got[1] == 0 :
		    got[t[i].slot] == 1 && got[1 - t[i].slot] == 0)));
		if (t[i].r != RS_OK) {
			snprintf(name, sizeof(name), "attr_slot \"%s\": the "
			    "entry and the name in the message", t[i].name);
			UT_CHECK(name, strstr(msg, "cn=x") != NULL &&
			    strstr(msg, t[i].name) != NULL);
		}
	}
	memset(&e, 0, sizeof(e));
	e.dn = "cn=twice";
	e.names[0] = "proxyAddresses";
	e.names[1] = "PROXYADDRESSES";
	r = page_of(&e, 1, msg, sizeof(msg));
	UT_CHECK("an attribute twice in one entry: RS_ERR_FORMAT",
	    r == RS_ERR_FORMAT && seen == 0 &&
	    strstr(msg, "came twice") != NULL);
}

/*
 * An entry of n proxyAddresses and guids objectGUID values at MaxValRange
 * max: what the caller saw.
 */
static int
ranged_page2(size_t n, size_t guids, size_t max, char *msg, size_t msgsize)
{
	static struct fake_entry e;

	memset(&e, 0, sizeof(e));
	e.dn = "cn=big";
	e.names[0] = "objectGUID";
	e.names[1] = "proxyAddresses";
	e.nvals[0] = guids;
	e.nvals[1] = n;
	fake.maxval = max;
	return page_of(&e, 1, msg, msgsize);
}

static int
ranged_page(size_t n, size_t max, char *msg, size_t msgsize)
{
	return ranged_page2(n, 1, max, msg, msgsize);
}

static void
test_ranges(void)
{
	static const size_t sizes[] = { 1499, 1500, 1501, 1601, 3000, 3001,
	    5000 };
	char msg[512], name[128];
	size_t i, reads;
	int r;

	memset(&fake, 0, sizeof(fake));
	fake.paged = 1;
	fake.cookie = "next";
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		r = ranged_page(sizes[i], 1500, msg, sizeof(msg));
		reads = (sizes[i] - 1) / 1500;
		snprintf(name, sizeof(name), "%zu values at MaxValRange 1500: "
		    "all, in order, after %zu range reads", sizes[i], reads);
		UT_CHECK(name, r == RS_OK && seen == 1 && got[0] == sizes[i] &&
		    in_order && got[1] == 1 && fake.searches == 1 + reads);
	}
	UT_CHECK("range reads ask for the next value on",
	    strcmp(fake.asked[0], "proxyAddresses;range=1500-*") == 0 &&
	    strcmp(fake.asked[1], "proxyAddresses;range=3000-*") == 0 &&
	    strcmp(fake.asked[2], "proxyAddresses;range=4500-*") == 0);
	r = ranged_page2(7, 3, 1, msg, sizeof(msg));
	UT_CHECK("MaxValRange 1, two ranged attributes: every value",
	    r == RS_OK && got[0] == 7 && got[1] == 3 && in_order &&
	    fake.searches == 1 + 6 + 2);

	fake.skip = 1;
	r = ranged_page(1601, 1500, msg, sizeof(msg));
	UT_CHECK("a range that claims more values than it holds: "
	    "RS_ERR_FORMAT, nothing handed on", r == RS_ERR_FORMAT &&
	    seen == 0);
	UT_CHECK("...and says which", strstr(msg, "cn=big") != NULL &&
	    strstr(msg, "proxyAddresses;range=0-1500 came with 1500 values") !=
	    NULL);
	fake.skip = 0;
	fake.wronglow = 1;
	r = ranged_page(1601, 1500, msg, sizeof(msg));
	UT_CHECK("a range read answered from elsewhere: RS_ERR_FORMAT",
	    r == RS_ERR_FORMAT && seen == 0 &&
	    strstr(msg, "values from 1500 on were asked for") != NULL);
	fake.wronglow = 0;
	fake.lose = 1;
	r = ranged_page(1601, 1500, msg, sizeof(msg));
	UT_CHECK("values gone between the page and the range read: a "
	    "failure, said", r == RS_ERR_SYSTEM && seen == 0 &&
	    strstr(msg, "changed while they were read") != NULL);
	fake.lose = 0;
	r = ranged_page(RS_MAX_RANGED_VALUES, 1000, msg, sizeof(msg));
	UT_CHECK("RS_MAX_RANGED_VALUES values: all", r == RS_OK &&
	    got[0] == RS_MAX_RANGED_VALUES && in_order);
	r = ranged_page(RS_MAX_RANGED_VALUES + 1, 1000, msg, sizeof(msg));
	UT_CHECK("one more: RS_ERR_LIMIT, said", r == RS_ERR_LIMIT &&
	    seen == 0 && strstr(msg, "more than") != NULL);
}

static const struct fake_entry two[] = {
	{ "cn=a", { "proxyAddresses", "objectGUID", NULL }, { 0 } },
	{ "cn=b", { "objectGUID", "proxyAddresses", NULL }, { 0 } },
};
static const struct fake_entry ends_ranged[] = {
	{ "cn=a", { "proxyAddresses", "objectGUID", NULL }, { 0 } },
	{ "cn=big", { "objectGUID", "proxyAddresses", NULL }, { 0, 1601 } },
};

static void
test_pages(void)
{
	struct ldapx *ld = NULL;
	struct rs_buf cookie;
	int r;

	rs_buf_init(&cookie, 1024);
	memset(&fake, 0, sizeof(fake));
	fake.entries = two;
	fake.nentries = 2;
	fake.cookie = "next";

	fake.code = 4;
	fake.paged = 1;
	r = page(&ld, &cookie);
	UT_CHECK("sizeLimitExceeded: RS_ERR_LIMIT", r == RS_ERR_LIMIT);
	UT_CHECK("sizeLimitExceeded: no entry handed on", seen == 0);
	UT_CHECK("sizeLimitExceeded: cookie kept", cookie_is(&cookie, "old"));
	UT_CHECK("sizeLimitExceeded: the server's words",
	    strcmp(ldapx_errmsg(ld), "search: code 4 - the server's words") ==
	    0);
	ldapx_close(ld);

	fake.code = 32;
	r = page(&ld, &cookie);
	UT_CHECK("search of a missing base: a failure", r == RS_ERR_SYSTEM &&
	    seen == 0 && strstr(ldapx_errmsg(ld), "code 32") != NULL);
	ldapx_close(ld);

	fake.code = 0;
	fake.paged = 0;
	r = page(&ld, &cookie);
	UT_CHECK("no paged results control: RS_ERR_FORMAT",
	    r == RS_ERR_FORMAT && seen == 0 && cookie_is(&cookie, "old"));
	ldapx_close(ld);

	fake.paged = 1;
	r = page(&ld, &cookie);
	UT_CHECK("good page: every entry, the new cookie", r == RS_OK &&
	    seen == 2 && cookie_is(&cookie, "next"));
	ldapx_close(ld);

	fake.entries = ends_ranged;
	fake.maxval = 1500;
	r = page(&ld, &cookie);
	UT_CHECK("a page that ends in a ranged entry: every value, then the "
	    "page's cookie", r == RS_OK && seen == 2 && got[0] == 1601 &&
	    in_order && cookie_is(&cookie, "next"));
	ldapx_close(ld);
	fake.skip = 1;
	r = page(&ld, &cookie);
	UT_CHECK("...with a broken range: the page fails, cookie kept",
	    r == RS_ERR_FORMAT && cookie_is(&cookie, "old"));
	ldapx_close(ld);
	rs_buf_free(&cookie);
}

/*
 * The same rules when entries are parsed on arrival and held back, as
 * both real backends read a page: nothing of a failed page reaches the
 * caller, a good page reaches it whole and in order, and the held names
 * still go through ldapx_attr_slot (an attribute twice fails).
 */
static void
test_held(void)
{
	static const struct fake_entry big[] = {
		{ "cn=a", { "mail", "proxyAddresses", "objectGUID", NULL },
		    { 3, 1400, 1, 0 } },
		{ "cn=b", { "objectguid", "PROXYADDRESSES", NULL },
		    { 2, 5, 0, 0 } },
	};
	static const struct fake_entry twice[] = {
		{ "cn=t", { "proxyAddresses", "proxyAddresses;range=0-*",
		    NULL }, { 0 } },
	};
	struct ldapx *ld = NULL;
	struct rs_buf cookie;
	int r;

	rs_buf_init(&cookie, 1024);
	memset(&fake, 0, sizeof(fake));
	fake.held = 1;
	fake.entries = big;
	fake.nentries = 2;
	fake.cookie = "next";
	fake.paged = 1;
	fake.code = 4;
	r = page(&ld, &cookie);
	UT_CHECK("held: sizeLimitExceeded hands on none of the parsed "
	    "entries", r == RS_ERR_LIMIT && seen == 0 &&
	    cookie_is(&cookie, "old"));
	ldapx_close(ld);
	fake.code = 0;
	r = page(&ld, &cookie);
	UT_CHECK("held: a good page, every entry and value in order",
	    r == RS_OK && seen == 2 && got[0] == 5 && got[1] == 2 &&
	    in_order && cookie_is(&cookie, "next"));
	ldapx_close(ld);
	fake.entries = twice;
	fake.nentries = 1;
	r = page(&ld, &cookie);
	UT_CHECK("held: an attribute twice in one entry fails the page",
	    r == RS_ERR_FORMAT && seen == 0 &&
	    strstr(ldapx_errmsg(ld), "came twice") != NULL);
	ldapx_close(ld);
	rs_buf_free(&cookie);
}

/* count_entry, noting how many requests were out at the first entry. */
static size_t sent_at_entry;

static int
ahead_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	if (seen == 0)
		sent_at_entry = fake.sent;
	count_entry(NULL, dn, vals, nvals);
	return arg != NULL ? *(const int *)arg : RS_OK;
}

/* The next page of "(x=*)" with ahead_entry; fail: what it returns. */
static int
next_page(struct ldapx *ld, const char *filter, struct rs_buf *cookie,
    int fail)
{
	seen = 0;
	sent_at_entry = 0;
	return ldapx_search_page(ld, "dc=corp,dc=test", filter, attrs, 1000,
	    cookie, ahead_entry, fail ? &fail : NULL, NULL);
}

/*
 * A page ahead (ldap_page.c): after a good page with a cookie, the next
 * page's request is out before the caller sees an entry; the call for
 * exactly that page collects it; any other call, a page whose entries
 * failed, and ldapx_close abandon it; the last page, and a page with a
 * ranged attribute (range reads follow), send nothing ahead.
 */
static void
test_ahead(void)
{
	static const struct fake_entry ranged[] = {
		{ "cn=r", { "proxyAddresses;range=0-*", NULL }, { 2 } },
	};
	struct ldapx_opts o;
	struct ldapx *ld = NULL;
	struct rs_buf cookie;
	char msg[256];
	int r;

	memset(&o, 0, sizeof(o));
	rs_buf_init(&cookie, 1024);
	memset(&fake, 0, sizeof(fake));
	fake.held = 1;
	fake.entries = two;
	fake.nentries = 2;
	fake.paged = 1;
	UT_CHECK("ahead: open", ldapx_open(&o, &ld, msg, sizeof(msg)) ==
	    RS_OK);
	fake.cookie = "c1";
	r = next_page(ld, "(x=*)", &cookie, 0);
	UT_CHECK("ahead: a good page with a cookie: the next page's request "
	    "is out before its first entry", r == RS_OK && seen == 2 &&
	    sent_at_entry == 2 && fake.sent == 2 &&
	    strcmp(fake.ahead, "c1") == 0 && cookie_is(&cookie, "c1"));
	fake.cookie = "";
	r = next_page(ld, "(x=*)", &cookie, 0);
	UT_CHECK("ahead: the next call collects it, and the last page sends "
	    "none", r == RS_OK && seen == 2 && fake.sent == 2 &&
	    fake.searches == 2 && fake.abandoned == 0 && cookie.len == 0);

	fake.cookie = "c2";
	r = next_page(ld, "(x=*)", &cookie, 0);
	r = r == RS_OK ? next_page(ld, "(y=*)", &cookie, 0) : r;
	UT_CHECK("ahead: a call for another search abandons it and sends "
	    "its own", r == RS_OK && fake.abandoned == 1 && fake.sent == 6 &&
	    fake.searches == 4 && seen == 2);
	r = ldapx_read(ld, "", attrs, count_entry, NULL, NULL);
	UT_CHECK("ahead: so does a read", r == RS_OK && fake.abandoned == 2 &&
	    fake.sent == 7);

	rs_buf_reset(&cookie);
	r = next_page(ld, "(x=*)", &cookie, RS_ERR_LIMIT);
	UT_CHECK("ahead: a page whose caller failed abandons it, cookie kept",
	    r == RS_ERR_LIMIT && fake.sent == 9 && fake.abandoned == 3 &&
	    cookie.len == 0);

	r = next_page(ld, "(x=*)", &cookie, 0);
	ldapx_close(ld);
	UT_CHECK("ahead: ldapx_close abandons it", r == RS_OK &&
	    fake.sent == 11 && fake.abandoned == 4);

	UT_CHECK("ahead: open", ldapx_open(&o, &ld, msg, sizeof(msg)) ==
	    RS_OK);
	fake.entries = ranged;
	fake.nentries = 1;
	rs_buf_reset(&cookie);
	r = next_page(ld, "(x=*)", &cookie, 0);
	UT_CHECK("ahead: none after a page with a ranged attribute",
	    r == RS_OK && seen == 1 && got[0] == 2 && fake.sent == 12 &&
	    cookie_is(&cookie, "c2"));
	ldapx_close(ld);
	UT_CHECK("ahead: every request collected or abandoned",
	    fake.sent == fake.searches + fake.abandoned);
	rs_buf_free(&cookie);
}

static void
test_read(void)
{
	struct ldapx_opts o;
	struct ldapx *ld = NULL;
	char msg[256];
	int r;

	memset(&o, 0, sizeof(o));
	memset(&fake, 0, sizeof(fake));
	fake.entries = two;
	fake.nentries = 1;
	UT_CHECK("open", ldapx_open(&o, &ld, msg, sizeof(msg)) == RS_OK);
	seen = 0;
	r = ldapx_read(ld, "", attrs, count_entry, NULL, NULL);
	UT_CHECK("read: the entry", r == RS_OK && seen == 1);
	fake.entries = ends_ranged + 1;
	fake.maxval = 100;
	seen = 0;
	r = ldapx_read(ld, "cn=big", attrs, count_entry, NULL, NULL);
	UT_CHECK("read of a ranged entry: every value", r == RS_OK &&
	    seen == 1 && got[0] == 1601 && in_order);
	fake.entries = two;
	fake.maxval = 0;
	fake.code = 32;
	r = ldapx_read(ld, "", attrs, count_entry, NULL, NULL);
	UT_CHECK("read noSuchObject: RS_ERR_NOTFOUND", r == RS_ERR_NOTFOUND);
	fake.code = 51;
	seen = 0;
	r = ldapx_read(ld, "", attrs, count_entry, NULL, NULL);
	UT_CHECK("read busy: a failure, not an absent entry",
	    r == RS_ERR_SYSTEM && seen == 0 &&
	    strstr(ldapx_errmsg(ld), "read: code 51") != NULL);
	fake.code = 0;
	fake.nentries = 0;
	r = ldapx_read(ld, "", attrs, count_entry, NULL, NULL);
	UT_CHECK("read, no entry: RS_ERR_NOTFOUND", r == RS_ERR_NOTFOUND);
	ldapx_close(ld);

	fake.refuse = 1;
	ld = NULL;
	r = ldapx_open(&o, &ld, msg, sizeof(msg));
	UT_CHECK("open, client refused: RS_ERR_INVAL and why",
	    r == RS_ERR_INVAL && ld == NULL &&
	    strcmp(msg, "client = fake: use another") == 0);
}

/*
 * Change notification: AD's filter and scope, five searches per
 * connection, an entry is a change, and a search result of any code
 * (even success) is the end of the search, as is a failed connection.
 */
static void
test_notify(void)
{
	static const char *const usn[] = { "uSNChanged", NULL };
	struct ldapx_opts o;
	struct ldapx *ld = NULL;
	char msg[256];
	int i, r, n = 0, ok = 1;

	memset(&o, 0, sizeof(o));
	memset(&fake, 0, sizeof(fake));
	memset(&note, 0, sizeof(note));
	fake.entries = two;
	fake.nentries = 1;
	UT_CHECK("notify: open", ldapx_open(&o, &ld, msg, sizeof(msg)) ==
	    RS_OK);
	for (i = 0; i < RS_MAX_NOTIFY_PER_CONN; i++)
		ok = ok && ldapx_notify_start(ld, "dc=x", usn) == RS_OK;
	UT_CHECK("notify: five searches, (objectClass=*), subtree", ok &&
	    note.started == 5 &&
	    strcmp(note.filter, "(objectClass=*) subtree") == 0);
	r = ldapx_notify_start(ld, "dc=y", usn);
	UT_CHECK("notify: a sixth is RS_ERR_LIMIT, and not sent",
	    r == RS_ERR_LIMIT && note.started == 5 &&
	    strstr(ldapx_errmsg(ld), "MaxNotificationPerConnection") != NULL);
	r = ldapx_notify_wait(ld, 10, count_entry, NULL, usn, &n);
	UT_CHECK("notify: nothing in time", r == RS_OK && n == 0);
	note.kind = LDAPX_NOTE_ENTRY;
	seen = 0;
	r = ldapx_notify_wait(ld, 10, count_entry, NULL, usn, &n);
	UT_CHECK("notify: an entry is a change", r == RS_OK && n == 1 &&
	    seen == 1);
	note.kind = LDAPX_NOTE_DONE;
	note.code = 0;
	r = ldapx_notify_wait(ld, 10, count_entry, NULL, usn, &n);
	UT_CHECK("notify: a result, even success, ends the search",
	    r == RS_ERR_SYSTEM && n == 0 && strstr(ldapx_errmsg(ld),
	    "the server ended the notification search: code 0") != NULL);
	note.kind = LDAPX_NOTE_DONE;
	note.code = 12;
	r = ldapx_notify_wait(ld, 10, count_entry, NULL, usn, &n);
	UT_CHECK("notify: unavailableCriticalExtension says the code",
	    r == RS_ERR_SYSTEM && strstr(ldapx_errmsg(ld), "code 12") != NULL);
	note.fail = 1;
	r = ldapx_notify_wait(ld, 10, count_entry, NULL, usn, &n);
	UT_CHECK("notify: a failed connection is an error with its reason",
	    r == RS_ERR_SYSTEM && strcmp(ldapx_errmsg(ld),
	    "notification search: gone") == 0);
	ldapx_close(ld);
}

int
main(void)
{
	fake_values();
	test_attr_slot();
	test_ranges();
	test_pages();
	test_held();
	test_ahead();
	test_read();
	test_notify();
	return ut_exit();
}
