/*
 * test_ldap_page.c - unit tests for agent-win/ldap/ldap_page.c, the rules
 * above the LDAP backends, over a scripted fake backend:
 *
 * - ldapx_attr_slot: a table of attribute names as a server may send
 *   them, against the requested ones: whole names (any case) are theirs,
 *   options other than range are not, a ranged reply is RS_ERR_LIMIT
 *   (never an absent attribute);
 * - ldapx_search_page: a page whose result code is an error
 *   (sizeLimitExceeded, noSuchObject) hands on none of its entries and
 *   keeps the old cookie; a page without the paged results control is an
 *   error; a good page hands on every entry and the new cookie; a ranged
 *   attribute fails the page, loudly, before the cookie moves;
 * - ldapx_read: noSuchObject, or no entry, is RS_ERR_NOTFOUND; busy is a
 *   failure, not an absent entry;
 * - ldapx_open: a client the build cannot use is RS_ERR_INVAL with the
 *   picker's message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ldap_backend.h"
#include "ldapx.h"
#include "rs_err.h"
#include "unit.h"

/* --- the fake backend ---------------------------------------------------- */

struct fake_entry {
	const char	*dn;
	const char	*names[4];	/* attribute names sent, NULL-ended */
};

static struct {
	int			 code;
	int			 paged;
	const struct fake_entry	*entries;
	size_t			 nentries;
	const char		*cookie;	/* the server's next cookie */
	int			 refuse;	/* ldapx_pick says no */
} fake;

struct ldapx_conn { int unused; };
struct ldapx_res { int unused; };

static struct ldapx_conn fake_conn;
static struct ldapx_res fake_res;

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

static int
fake_search(struct ldapx_conn *c, const struct ldapx_query *q,
    struct ldapx_res **res, char *msg, size_t msgsize)
{
	(void)c;
	(void)q;
	(void)msg;
	(void)msgsize;
	*res = &fake_res;
	return RS_OK;
}

static int
fake_status(struct ldapx_conn *c, struct ldapx_res *res,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	(void)c;
	(void)res;
	(void)msg;
	(void)msgsize;
	st->code = fake.code;
	st->paged = fake.paged;
	snprintf(st->diag, sizeof(st->diag), "%s", fake.code != 0 ?
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

static int
fake_entries(struct ldapx_conn *c, struct ldapx_res *res,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
    uint64_t *bytes, size_t *n, char *msg, size_t msgsize)
{
	static const struct ldapx_val v = { "smtp:a@corp.test", 16 };
	const struct ldapx_val *vals[8];
	size_t nvals[8], i, j, slot;
	int r;

	(void)c;
	(void)res;
	(void)bytes;
	*n = 0;
	for (i = 0; i < fake.nentries; i++) {
		memset(vals, 0, sizeof(vals));
		memset(nvals, 0, sizeof(nvals));
		for (j = 0; fake.entries[i].names[j] != NULL; j++) {
			if ((r = ldapx_attr_slot(q, fake.entries[i].dn,
			    fake.entries[i].names[j], &slot, msg, msgsize)) !=
			    RS_OK)
				return r;
			if (slot != LDAPX_SLOT_NONE) {
				vals[slot] = &v;
				nvals[slot] = 1;
			}
		}
		if ((r = fn(arg, fake.entries[i].dn, vals, nvals)) != RS_OK)
			return r;
		(*n)++;
	}
	return RS_OK;
}

static void
fake_res_free(struct ldapx_res *res)
{
	(void)res;
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

static const struct ldapx_backend fake_backend = {
	.name = "fake", .open = fake_open, .search = fake_search,
	.status = fake_status, .cookie = fake_cookie,
	.entries = fake_entries, .res_free = fake_res_free,
	.errstr = fake_errstr, .server = fake_server, .close = fake_close,
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

static void
test_attr_slot(void)
{
	static const struct {
		const char	*name;
		int		 r;
		size_t		 slot;
	} t[] = {
		{ "proxyAddresses", RS_OK, 0 },
		{ "PROXYADDRESSES", RS_OK, 0 },
		{ "objectGUID", RS_OK, 1 },
		{ "objectguid", RS_OK, 1 },
		{ "proxyAddresses;range=0-1499", RS_ERR_LIMIT, LDAPX_SLOT_NONE },
		{ "proxyAddresses;Range=1500-*", RS_ERR_LIMIT, LDAPX_SLOT_NONE },
		{ "proxyAddresses;lang-en;range=0-9", RS_ERR_LIMIT,
		    LDAPX_SLOT_NONE },
		{ "objectGUID;range=0-0", RS_ERR_LIMIT, LDAPX_SLOT_NONE },
		{ "proxyAddresses;binary", RS_OK, LDAPX_SLOT_NONE },
		{ "proxyAddressesX", RS_OK, LDAPX_SLOT_NONE },
		{ "proxyAddresse", RS_OK, LDAPX_SLOT_NONE },
		{ "mail", RS_OK, LDAPX_SLOT_NONE },
		{ "mail;range=0-5", RS_OK, LDAPX_SLOT_NONE },
		{ "", RS_OK, LDAPX_SLOT_NONE },
	};
	struct ldapx_query q;
	char msg[256], name[128];
	size_t i, slot;
	int r;

	memset(&q, 0, sizeof(q));
	q.attrs = attrs;
	q.nattrs = 2;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg[0] = '\0';
		r = ldapx_attr_slot(&q, "cn=x", t[i].name, &slot, msg,
		    sizeof(msg));
		snprintf(name, sizeof(name), "attr_slot \"%s\"", t[i].name);
		UT_CHECK(name, r == t[i].r && slot == t[i].slot);
		if (t[i].r == RS_ERR_LIMIT) {
			snprintf(name, sizeof(name), "attr_slot \"%s\" says "
			    "range retrieval", t[i].name);
			UT_CHECK(name, strstr(msg, "cn=x") != NULL &&
			    strstr(msg, t[i].name) != NULL &&
			    strstr(msg, "range retrieval") != NULL);
		}
	}
}

static size_t seen;

static int
count_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	(void)arg;
	(void)dn;
	(void)vals;
	(void)nvals;
	seen++;
	return RS_OK;
}

static const struct fake_entry two[] = {
	{ "cn=a", { "proxyAddresses", "objectGUID", NULL } },
	{ "cn=b", { "objectGUID", "proxyAddresses", NULL } },
};
static const struct fake_entry ranged[] = {
	{ "cn=a", { "proxyAddresses", "objectGUID", NULL } },
	{ "cn=big", { "objectGUID", "proxyAddresses;range=0-1499", NULL } },
};

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
	return ldapx_search_page(*ld, "dc=corp,dc=test", "(x=*)", attrs, 1000,
	    cookie, count_entry, NULL, NULL);
}

static int
cookie_is(const struct rs_buf *b, const char *s)
{
	return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

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

	fake.entries = ranged;
	r = page(&ld, &cookie);
	UT_CHECK("ranged attribute: the page fails", r == RS_ERR_LIMIT);
	UT_CHECK("ranged attribute: cookie kept", cookie_is(&cookie, "old"));
	UT_CHECK("ranged attribute: said loudly",
	    strstr(ldapx_errmsg(ld), "cn=big") != NULL &&
	    strstr(ldapx_errmsg(ld), "proxyAddresses;range=0-1499") != NULL);
	ldapx_close(ld);
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

int
main(void)
{
	test_attr_slot();
	test_pages();
	test_read();
	return ut_exit();
}
