/*
 * test_bundle.c - unit tests for common/bundle.c.
 *
 * Spool names (FORMAT.md section 1), the time format against gmtime_r,
 * write/read round trips of random lists, a table of hand-made bundles each
 * breaking one rule of FORMAT.md section 2 (with the error code and the
 * detail we expect), and randomized robustness: random mutations of a valid
 * bundle's text must be refused or, if accepted, be exactly what the writer
 * produces for what was read (the format has one canonical form); random
 * mutations of the gzip bytes and random bytes must be refused.  Finally a
 * million entries written and read back with flat reader memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "bundle.h"
#include "gz.h"
#include "hash.h"
#include "rlist.h"
#include "rs_err.h"
#include "unit.h"

#define MAXBUF	(512u * 1024 * 1024)
#define LABEL63	\
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static struct bundle_hdr H, G;	/* large: keep them off the stack */

struct result {
	int	 rc;			/* RS_OK at a clean end */
	size_t	 lineno;
	char	 detail[200];
	size_t	 n;			/* entries read */
};

/* Compress text into out (gzip). */
static int
gz_text(const void *text, size_t n, struct rs_buf *out)
{
	struct gz_enc *enc;
	int r;

	if ((r = gz_enc_new(out, 6, &enc)) != RS_OK)
		return r;
	if ((r = gz_enc_write(enc, text, n)) != RS_OK) {
		gz_enc_free(enc);
		return r;
	}
	return gz_enc_finish(enc);
}

/* Decompress a gzip buffer fully into out. */
static int
gunzip(const void *gz, size_t n, struct rs_buf *out)
{
	FILE *f = tmpfile();
	struct gz_dec *dec = NULL;
	unsigned char buf[8192];
	long got;
	int r = RS_ERR_SYSTEM;

	if (f == NULL || fwrite(gz, 1, n, f) != n)
		goto out;
	rewind(f);
	if ((r = gz_dec_new(f, MAXBUF, &dec)) != RS_OK)
		goto out;
	while ((got = gz_dec_read(dec, buf, sizeof(buf))) > 0)
		if ((r = rs_buf_put(out, buf, (size_t)got)) != RS_OK)
			goto out;
	r = got < 0 ? (int)got : RS_OK;
out:
	gz_dec_free(dec);
	if (f != NULL)
		fclose(f);
	return r;
}

/*
 * Read a gzip bundle from memory through the streaming reader.  The header
 * goes to *h; entries to list (if not NULL).
 */
static void
read_bundle(const void *gz, size_t n, uint64_t max_out, uint64_t max_ent,
    struct bundle_hdr *h, struct rlist *list, struct result *res)
{
	FILE *f = tmpfile();
	struct gz_dec *dec = NULL;
	struct bundle_reader *r = NULL;
	const char *a;
	size_t len;
	int e;

	memset(res, 0, sizeof(*res));
	res->rc = RS_ERR_SYSTEM;
	if (f == NULL || (n > 0 && fwrite(gz, 1, n, f) != n))
		goto out;
	rewind(f);
	if ((res->rc = gz_dec_new(f, max_out, &dec)) != RS_OK ||
	    (res->rc = bundle_reader_new(dec, max_ent, &r)) != RS_OK)
		goto out;
	if ((e = bundle_read_header(r, h)) != RS_OK) {
		res->rc = e;
		goto detail;
	}
	while ((e = bundle_next(r, &a, &len)) == 1) {
		res->n++;
		if (addr_check(a, len, NULL) != RS_OK) {
			e = RS_ERR_INTERNAL;
			break;
		}
		if (list != NULL)
			rlist_add(list, a, len);
	}
	res->rc = e;
	/* Sticky: once done or failed, it stays so. */
	if (bundle_next(r, &a, &len) != e)
		res->rc = RS_ERR_INTERNAL;
detail:
	res->lineno = bundle_lineno(r);
	snprintf(res->detail, sizeof(res->detail), "%s", bundle_detail(r));
out:
	bundle_reader_free(r);
	gz_dec_free(dec);
	if (f != NULL)
		fclose(f);
}

static void
hdr_base(struct bundle_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->version = 1;
	snprintf(h->agent, sizeof(h->agent), "corp");
	h->seq = 1763848200;
	h->created = 1763848200;
	h->kind = BUNDLE_FULL;
	snprintf(h->source, sizeof(h->source),
	    "ldap://dc1.corp.test/DC=corp,DC=test");
	h->ndomains = 3;
	snprintf(h->domains[0], sizeof(h->domains[0]), "branch.corp.test");
	snprintf(h->domains[1], sizeof(h->domains[1]), "corp.test");
	snprintf(h->domains[2], sizeof(h->domains[2]), "example.org");
}

static int
hdr_equal(const struct bundle_hdr *a, const struct bundle_hdr *b)
{
	size_t i;

	if (a->version != b->version || a->nrelay != b->nrelay ||
	    strcmp(a->agent, b->agent) != 0 || a->seq != b->seq ||
	    a->created != b->created || a->kind != b->kind ||
	    strcmp(a->source, b->source) != 0 ||
	    a->ndomains != b->ndomains || a->count != b->count ||
	    memcmp(a->list_sha256, b->list_sha256, RS_SHA256_LEN) != 0 ||
	    a->flags != b->flags)
		return 0;
	for (i = 0; i < a->ndomains + a->nrelay; i++)
		if (strcmp(a->domains[i], b->domains[i]) != 0)
			return 0;
	return 1;
}

static int
lists_equal(const struct rlist *a, const struct rlist *b)
{
	size_t i, la, lb;
	const char *pa, *pb;

	if (rlist_count(a) != rlist_count(b))
		return 0;
	for (i = 0; i < rlist_count(a); i++) {
		pa = rlist_get(a, i, &la);
		pb = rlist_get(b, i, &lb);
		if (la != lb || memcmp(pa, pb, la) != 0)
			return 0;
	}
	return 1;
}

/* A random list over h's domains. */
static struct rlist *
rand_list(const struct bundle_hdr *h, size_t n)
{
	struct rlist *l;
	char buf[300];
	size_t i, len;
	static const char cs[] = "abcdefghij0123._-+";

	if (rlist_new(&l) != RS_OK)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t ll = 1 + ut_rng() % 12, k;
		const char *d = h->domains[ut_rng() % h->ndomains];

		for (k = 0; k < ll; k++) {
			char c = cs[ut_rng() % (sizeof(cs) - 1)];

			if (c == '.' && (k == 0 || k == ll - 1 ||
			    buf[k - 1] == '.'))
				c = 'x';
			buf[k] = c;
		}
		len = ll + (size_t)snprintf(buf + ll, sizeof(buf) - ll, "@%s",
		    d);
		if (addr_check(buf, len, NULL) == RS_OK)
			rlist_add(l, buf, len);
	}
	rlist_finish(l);
	return l;
}

/* ---- hand-made bundles ---- */

/*
 * The text of a bundle with the usual header; `fields` replaces the
 * lines between the magic and the empty line when not NULL.  "@SHA@" in
 * the text is replaced by the hex SHA-256 of the entry section.
 */
static const char base_fields[] =
    "agent: corp\n"
    "sequence: 1763848200\n"
    "created: 2025-11-22T21:50:00Z\n"
    "kind: full\n"
    "source: ldap://dc1.corp.test/DC=corp,DC=test\n"
    "domains: corp.test example.org\n"
    "count: 3\n"
    "list-sha256: @SHA@\n";
/* base_fields with other domain lines. */
#define V2_FIELDS(domains)						\
    "agent: corp\n"							\
    "sequence: 1763848200\n"						\
    "created: 2025-11-22T21:50:00Z\n"					\
    "kind: full\n"							\
    "source: ldap://dc1.corp.test/DC=corp,DC=test\n"			\
    domains								\
    "count: 3\n"							\
    "list-sha256: @SHA@\n"
static const char base_entries[] =
    "alice@corp.test\n"
    "bob@example.org\n"
    "carol@corp.test\n";

struct bcase {
	const char	*name;
	const char	*magic;		/* NULL: "rcptsync-list 1\n" */
	const char	*fields;	/* NULL: base_fields */
	const char	*entries;	/* NULL: base_entries */
	int		 want;
	const char	*detail;	/* substring expected, or NULL */
};

static const struct bcase bcases[] = {
	{ "base bundle is valid", NULL, NULL, NULL, RS_OK, NULL },
	{ "version 2 without its additions", "rcptsync-list 2\n", NULL, NULL,
	  RS_OK, NULL },
	{ "version 3", "rcptsync-list 3\n", NULL, NULL, RS_ERR_VERSION,
	  "line 1: format version 3: this receiver reads versions 1 to 2; "
	  "upgrade it, or set bundle_format = 2" },
	{ "version 0", "rcptsync-list 0\n", NULL, NULL, RS_ERR_FORMAT,
	  "not an rcptsync list" },
	{ "version 2: relay domains", "rcptsync-list 2\n", V2_FIELDS(
	  "domains: corp.test example.org\n"
	  "relay-domains: lab.corp.test partner.example\n"), NULL, RS_OK,
	  NULL },
	{ "version 2: wildcard domains", "rcptsync-list 2\n", V2_FIELDS(
	  "domains: *.corp.test example.org\n"
	  "relay-domains: *.partner.example lab.corp.test\n"),
	  "alice@corp.test\nbob@example.org\ncarol@hq.corp.test\n", RS_OK,
	  NULL },
	{ "version 2: the most specific domain governs", "rcptsync-list 2\n",
	  V2_FIELDS("domains: *.corp.test example.org\n"
	  "relay-domains: lab.corp.test\n"),
	  "alice@corp.test\nbob@example.org\ncarol@lab.corp.test\n",
	  RS_ERR_DOMAIN, "line 14: entry in relay domain lab.corp.test" },
	{ "version 2: a deeper wildcard governs", "rcptsync-list 2\n",
	  V2_FIELDS("domains: *.lab.corp.test example.org\n"
	  "relay-domains: *.corp.test\n"),
	  "alice@x.lab.corp.test\nbob@example.org\ncarol@corp.test\n",
	  RS_ERR_DOMAIN, "line 14: entry in relay domain *.corp.test" },
	{ "version 2: entry in a relay domain", "rcptsync-list 2\n",
	  V2_FIELDS("domains: corp.test\nrelay-domains: example.org\n"),
	  NULL, RS_ERR_DOMAIN, "line 13: entry in relay domain example.org" },
	{ "version 2: relay domain also authoritative", "rcptsync-list 2\n",
	  V2_FIELDS("domains: corp.test example.org\n"
	  "relay-domains: example.org\n"), NULL, RS_ERR_FORMAT,
	  "relay-domains: example.org is also in domains" },
	{ "version 2: relay domains unsorted", "rcptsync-list 2\n",
	  V2_FIELDS("domains: corp.test example.org\n"
	  "relay-domains: z.example a.example\n"), NULL, RS_ERR_FORMAT,
	  "relay-domains: not sorted or not unique" },
	{ "version 2: bad wildcard", "rcptsync-list 2\n",
	  V2_FIELDS("domains: corp.test example.org\n"
	  "relay-domains: *partner.example\n"), NULL, RS_ERR_FORMAT,
	  "relay-domains: *partner.example" },
	{ "version 2: wildcard of one label", "rcptsync-list 2\n",
	  V2_FIELDS("domains: *.test corp.test example.org\n"), NULL,
	  RS_ERR_FORMAT, "domains: *.test" },
	{ "version 2: relay-domains after count", "rcptsync-list 2\n",
	  "agent: corp\nsequence: 1763848200\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3\nrelay-domains: partner.example\n", NULL, RS_ERR_FORMAT,
	  "field \"relay-domains\" out of order" },
	{ "version 1: relay-domains", NULL, V2_FIELDS(
	  "domains: corp.test example.org\n"
	  "relay-domains: partner.example\n"), NULL, RS_ERR_FORMAT,
	  "relay-domains: a field of format version 2 in a version 1 list" },
	{ "version 1: wildcard domain", NULL, V2_FIELDS(
	  "domains: *.corp.test example.org\n"), NULL, RS_ERR_FORMAT,
	  "a wildcard domain needs format version 2" },
	{ "version 10", "rcptsync-list 10\n", NULL, NULL, RS_ERR_VERSION,
	  NULL },
	{ "magic with trailing space", "rcptsync-list 1 \n", NULL, NULL,
	  RS_ERR_FORMAT, NULL },
	{ "wrong magic", "rcptsync-lisp 1\n", NULL, NULL, RS_ERR_FORMAT,
	  "not an rcptsync list" },
	{ "magic with CRLF", "rcptsync-list 1\r\n", NULL, NULL,
	  RS_ERR_FORMAT, "line 1: not an rcptsync list: CR found at the end "
	  "of the line (lines end in LF, not CRLF)" },
	{ "magic after a UTF-8 byte-order mark",
	  "\xef\xbb\xbfrcptsync-list 1\n", NULL, NULL, RS_ERR_FORMAT,
	  "line 1: not an rcptsync list: byte-order mark (EF BB BF) before "
	  "\"rcptsync-list\"" },
	{ "magic with NUL", "rcptsync-list 1\0x\n", NULL, NULL,
	  RS_ERR_FORMAT, NULL },
	{ "empty text", "", "", "", RS_ERR_FORMAT, "empty bundle" },
	{ "unknown field",
	  NULL, "agent: corp\ncolor: red\n", NULL, RS_ERR_FORMAT,
	  "line 3: unknown field \"color\"" },
	{ "fields out of order", NULL,
	  "sequence: 1763848200\n"
	  "agent: corp\n"
	  "created: 2025-11-22T21:50:00Z\n"
	  "kind: full\n"
	  "source: x\n"
	  "domains: corp.test example.org\n"
	  "count: 3\n"
	  "list-sha256: @SHA@\n", NULL, RS_ERR_FORMAT, "out of order" },
	{ "field repeated", NULL,
	  "agent: corp\n"
	  "agent: corp\n", NULL, RS_ERR_FORMAT, "line 3: field \"agent\" "
	  "repeated" },
	{ "missing source", NULL,
	  "agent: corp\n"
	  "sequence: 1763848200\n"
	  "created: 2025-11-22T21:50:00Z\n"
	  "kind: full\n"
	  "domains: corp.test example.org\n"
	  "count: 3\n"
	  "list-sha256: @SHA@\n", NULL, RS_ERR_FORMAT,
	  "no \"source\" field" },
	{ "missing list-sha256", NULL,
	  "agent: corp\n"
	  "sequence: 1763848200\n"
	  "created: 2025-11-22T21:50:00Z\n"
	  "kind: full\n"
	  "source: x\n"
	  "domains: corp.test example.org\n"
	  "count: 3\n", NULL, RS_ERR_FORMAT, NULL },
	{ "two spaces after colon", NULL, "agent:  corp\n", NULL,
	  RS_ERR_FORMAT, NULL },
	{ "no space after colon", NULL, "agent:corp\n", NULL,
	  RS_ERR_FORMAT, NULL },
	{ "space before colon", NULL, "agent : corp\n", NULL,
	  RS_ERR_FORMAT, NULL },
	{ "trailing space in value", NULL, "agent: corp \n", NULL,
	  RS_ERR_FORMAT, NULL },
	{ "empty value", NULL, "agent: \n", NULL, RS_ERR_FORMAT, NULL },
	{ "upper case field name", NULL, "Agent: corp\n", NULL,
	  RS_ERR_FORMAT, NULL },
	{ "CR in header line", NULL, "agent: corp\r\n", NULL,
	  RS_ERR_FORMAT, "line 2: CR found at the end of the line" },
	{ "tab in value", NULL,
	  "agent: corp\n"
	  "sequence: 1763848200\n"
	  "created: 2025-11-22T21:50:00Z\n"
	  "kind: full\n"
	  "source: a\tb\n", NULL, RS_ERR_FORMAT, NULL },
	{ "non-ASCII in source", NULL,
	  "agent: corp\n"
	  "sequence: 1763848200\n"
	  "created: 2025-11-22T21:50:00Z\n"
	  "kind: full\n"
	  "source: \xc3\xa9\n", NULL, RS_ERR_FORMAT, NULL },
	{ "line without colon", NULL, "agent corp\n", NULL, RS_ERR_FORMAT,
	  "without a colon" },
	{ "bad agent id", NULL, "agent: Corp\n", NULL, RS_ERR_FORMAT,
	  "agent" },
	{ "sequence 0", NULL, "agent: corp\nsequence: 0\n", NULL,
	  RS_ERR_FORMAT, "sequence" },
	{ "sequence leading zero", NULL, "agent: corp\nsequence: 01\n", NULL,
	  RS_ERR_FORMAT, "sequence" },
	{ "sequence 2^63", NULL,
	  "agent: corp\nsequence: 9223372036854775808\n", NULL,
	  RS_ERR_FORMAT, "sequence" },
	{ "sequence 2^64", NULL,
	  "agent: corp\nsequence: 18446744073709551616\n", NULL,
	  RS_ERR_FORMAT, "sequence" },
	{ "sequence negative", NULL, "agent: corp\nsequence: -1\n", NULL,
	  RS_ERR_FORMAT, "sequence" },
	{ "created without Z", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00\n", NULL,
	  RS_ERR_FORMAT, "created" },
	{ "created Feb 30", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-02-30T21:50:00Z\n", NULL,
	  RS_ERR_FORMAT, "created" },
	{ "kind other", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: delta\n", NULL, RS_ERR_FORMAT, "kind" },
	{ "domains unsorted", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: example.org corp.test\n", NULL,
	  RS_ERR_FORMAT, "domains: not sorted" },
	{ "domains repeated", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test corp.test\n", NULL,
	  RS_ERR_FORMAT, "domains: not sorted" },
	{ "domains upper case", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: Corp.test\n", NULL,
	  RS_ERR_FORMAT, "domains" },
	{ "domains two spaces", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test  example.org\n", NULL,
	  RS_ERR_FORMAT, "domains" },
	{ "domains one label", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp\n", NULL,
	  RS_ERR_FORMAT, "domains" },
	{ "domains comma", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test,example.org\n", NULL,
	  RS_ERR_FORMAT, "domains" },
	{ "count leading zero", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 03\n", NULL, RS_ERR_FORMAT, "count" },
	{ "count 2^64+1 is out of range", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 18446744073709551617\n", NULL, RS_ERR_FORMAT,
	  "line 8: count: 18446744073709551617 is out of range (at most "
	  "18446744073709551615)" },
	{ "count not a number", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3x\n", NULL, RS_ERR_FORMAT,
	  "line 8: count: 3x is not a decimal number" },
	{ "count over max_entries", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 1001\n", NULL, RS_ERR_LIMIT, "count" },
	{ "sha upper case", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3\nlist-sha256: 5E0C000000000000000000000000000000000000"
	  "000000000000000000000000\n", NULL, RS_ERR_FORMAT, "list-sha256" },
	{ "sha short", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3\nlist-sha256: 5e0c\n", NULL, RS_ERR_FORMAT,
	  "list-sha256" },
	{ "flags allow-shrink", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3\nlist-sha256: @SHA@\nflags: allow-shrink\n", NULL, RS_OK,
	  NULL },
	{ "flags unknown", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3\nlist-sha256: @SHA@\nflags: allow-everything\n", NULL,
	  RS_ERR_FORMAT, "flags" },
	{ "flags repeated", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 3\nlist-sha256: @SHA@\nflags: allow-shrink allow-shrink\n",
	  NULL, RS_ERR_FORMAT, "flags" },
	{ "full with count 0", NULL,
	  "agent: corp\nsequence: 1\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: full\nsource: x\ndomains: corp.test example.org\n"
	  "count: 0\nlist-sha256: @SHA@\n", "", RS_ERR_EMPTY,
	  "count: 0 in a full list: an empty list is never installed" },
	{ "heartbeat valid", NULL,
	  "agent: corp\nsequence: 2\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: heartbeat\nsource: x\ndomains: corp.test example.org\n"
	  "count: 0\nlist-sha256: 00112233445566778899aabbccddeeff00112233"
	  "445566778899aabbccddeeff\n", "", RS_OK, NULL },
	{ "heartbeat with count 1", NULL,
	  "agent: corp\nsequence: 2\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: heartbeat\nsource: x\ndomains: corp.test example.org\n"
	  "count: 1\nlist-sha256: @SHA@\n", "alice@corp.test\n",
	  RS_ERR_FORMAT, "heartbeat" },
	{ "heartbeat with an entry", NULL,
	  "agent: corp\nsequence: 2\ncreated: 2025-11-22T21:50:00Z\n"
	  "kind: heartbeat\nsource: x\ndomains: corp.test example.org\n"
	  "count: 0\nlist-sha256: @SHA@\n", "alice@corp.test\n",
	  RS_ERR_FORMAT, "entry in a heartbeat" },
	{ "entries out of order", NULL, NULL,
	  "bob@example.org\nalice@corp.test\ncarol@corp.test\n",
	  RS_ERR_ORDER, "line 12: entry not greater than previous" },
	{ "entries repeated", NULL, NULL,
	  "alice@corp.test\nalice@corp.test\ncarol@corp.test\n",
	  RS_ERR_ORDER, "line 12: entry not greater than previous" },
	{ "entry outside domains", NULL, NULL,
	  "alice@corp.test\nbob@gmail.com\ncarol@corp.test\n",
	  RS_ERR_DOMAIN, "line 12: domain not in" },
	{ "entry in a subdomain", NULL, NULL,
	  "alice@corp.test\nbob@x.example.org\ncarol@corp.test\n",
	  RS_ERR_DOMAIN, "line 12" },
	{ "entry upper case", NULL, NULL,
	  "alice@corp.test\nBob@example.org\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 12: upper case letter" },
	{ "entry CRLF", NULL, NULL,
	  "alice@corp.test\r\nbob@example.org\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 11: line break" },
	{ "entry trailing space", NULL, NULL,
	  "alice@corp.test \nbob@example.org\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 11: trailing white space" },
	{ "entry comment", NULL, NULL,
	  "#alice@corp.test\nbob@example.org\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 11: '#' in local part" },
	{ "entry NUL", NULL, NULL,
	  "alice@corp.test\nbob\0@example.org\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 12: NUL byte" },
	{ "empty line among entries", NULL, NULL,
	  "alice@corp.test\n\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 12: empty address" },
	{ "entry without @", NULL, NULL,
	  "alice@corp.test\nbob\ncarol@corp.test\n",
	  RS_ERR_SYNTAX, "line 12: no @" },
	{ "last line without newline", NULL, NULL,
	  "alice@corp.test\nbob@example.org\ncarol@corp.test",
	  RS_ERR_FORMAT, "line 13: last line has no newline" },
	{ "fewer entries than count", NULL, NULL,
	  "alice@corp.test\nbob@example.org\n",
	  RS_ERR_COUNT, "count: the header says 3, the list has 2 entries" },
	{ "more entries than count", NULL, NULL,
	  "alice@corp.test\nbob@example.org\ncarol@corp.test\n"
	  "dave@corp.test\n", RS_ERR_COUNT,
	  "line 14: count: more entries than the header's 3" },
	{ "no empty line after header", NULL,
	  "agent: corp\n", "", RS_ERR_FORMAT, "no empty line" },
};

/* Replace "@SHA@" in s by hex, into out. */
static void
put_sub(struct rs_buf *out, const char *s, size_t n, const char *hex)
{
	const char *p;

	while (n > 0 && (p = memchr(s, '@', n)) != NULL &&
	    (size_t)(p - s) + 5 <= n && memcmp(p, "@SHA@", 5) == 0) {
		rs_buf_put(out, s, (size_t)(p - s));
		rs_buf_put_str(out, hex);
		n -= (size_t)(p - s) + 5;
		s = p + 5;
	}
	rs_buf_put(out, s, n);
}

/* sizeof-1 of string literals with embedded NULs need the table length. */
static size_t
lit_len(const char *s, const struct bcase *c, int which)
{
	/* The only entry texts with a NUL are the "entry NUL" case. */
	if (which == 2 && strcmp(c->name, "entry NUL") == 0)
		return sizeof("alice@corp.test\nbob\0@example.org\n"
		    "carol@corp.test\n") - 1;
	if (which == 0 && strcmp(c->name, "magic with NUL") == 0)
		return sizeof("rcptsync-list 1\0x\n") - 1;
	return strlen(s);
}

static void
build_case(const struct bcase *c, struct rs_buf *text)
{
	const char *magic = c->magic ? c->magic : "rcptsync-list 1\n";
	const char *fields = c->fields ? c->fields : base_fields;
	const char *entries = c->entries ? c->entries : base_entries;
	size_t elen = lit_len(entries, c, 2);
	unsigned char md[RS_SHA256_LEN];
	char hex[2 * RS_SHA256_LEN + 1];

	rs_sha256(entries, elen, md);
	rs_hex(md, sizeof(md), hex);
	rs_buf_reset(text);
	rs_buf_put(text, magic, lit_len(magic, c, 0));
	if (c->magic != NULL && c->magic[0] == '\0')
		return;				/* the empty text */
	put_sub(text, fields, strlen(fields), hex);
	/* One case leaves out the empty line that ends the header. */
	if (strcmp(c->name, "no empty line after header") != 0)
		rs_buf_put_str(text, "\n");
	rs_buf_put(text, entries, elen);
}

/* ---- main ---- */

static long
maxrss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

struct nmcase {
	const char	*name;
	int		 ok;
	const char	*agent;
	uint64_t	 seq;
};

static const struct nmcase names[] = {
	{ "corp.17.rcpt.gz", 1, "corp", 17 },
	{ "a.1.rcpt.gz", 1, "a", 1 },
	{ "0.1.rcpt.gz", 1, "0", 1 },
	{ "corp.eu.1763848200.rcpt.gz", 1, "corp.eu", 1763848200 },
	{ "corp..5.rcpt.gz", 1, "corp.", 5 },
	{ "c_o-r.p.9223372036854775807.rcpt.gz", 1, "c_o-r.p",
	  UINT64_C(9223372036854775807) },
	{ "corp.9223372036854775808.rcpt.gz", 0, NULL, 0 },
	{ "corp.18446744073709551616.rcpt.gz", 0, NULL, 0 },
	{ "corp.99999999999999999999.rcpt.gz", 0, NULL, 0 },
	{ "corp.0.rcpt.gz", 0, NULL, 0 },
	{ "corp.017.rcpt.gz", 0, NULL, 0 },
	{ "corp.1x.rcpt.gz", 0, NULL, 0 },
	{ "corp.-1.rcpt.gz", 0, NULL, 0 },
	{ "corp.+1.rcpt.gz", 0, NULL, 0 },
	{ "corp. 1.rcpt.gz", 0, NULL, 0 },
	{ "corp.1 .rcpt.gz", 0, NULL, 0 },
	{ "corp.1.rcpt.gz.sig", 0, NULL, 0 },
	{ "corp.1.rcpt.gz.tmp", 0, NULL, 0 },
	{ ".corp.1.abcdef0123456789.tmp", 0, NULL, 0 },
	{ ".corp.1.rcpt.gz", 0, NULL, 0 },
	{ "-corp.1.rcpt.gz", 0, NULL, 0 },
	{ "_corp.1.rcpt.gz", 0, NULL, 0 },
	{ "Corp.1.rcpt.gz", 0, NULL, 0 },
	{ "corp.1.RCPT.GZ", 0, NULL, 0 },
	{ "corp.1.rcpt", 0, NULL, 0 },
	{ "corp.1.rcpt.gz ", 0, NULL, 0 },
	{ "corp.rcpt.gz", 0, NULL, 0 },
	{ "1.rcpt.gz", 0, NULL, 0 },
	{ ".1.rcpt.gz", 0, NULL, 0 },
	{ ".rcpt.gz", 0, NULL, 0 },
	{ "", 0, NULL, 0 },
	{ "co/rp.1.rcpt.gz", 0, NULL, 0 },
	{ "../x.1.rcpt.gz", 0, NULL, 0 },
	{ "corp.1.rcpt.gz/", 0, NULL, 0 },
};

int
main(void)
{
	char name[300], agent[RS_MAX_AGENT_ID + 1], nbuf[RS_MAX_BUNDLE_NAME];
	char when[32], ref[32], big[400];
	struct rs_buf gz, gz2, text, text2;
	struct rlist *list = NULL, *got = NULL;
	struct result res;
	const struct nmcase *nc;
	uint64_t seq;
	size_t i, j, nrej, nacc;
	time_t t;
	int r, ok;

	ut_seed(0xa4093822299f31d0ULL);

	rs_buf_init(&gz, MAXBUF);
	rs_buf_init(&gz2, MAXBUF);
	rs_buf_init(&text, MAXBUF);
	rs_buf_init(&text2, MAXBUF);

	/* Names. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		nc = &names[i];
		r = bundle_name_parse(nc->name, agent, &seq);
		snprintf(name, sizeof(name), "bundle_name_parse \"%s\" %s",
		    nc->name, nc->ok ? "valid" : "invalid");
		if (nc->ok)
			UT_CHECK(name, r == RS_OK &&
			    strcmp(agent, nc->agent) == 0 && seq == nc->seq);
		else
			UT_CHECK(name, r == RS_ERR_FORMAT);
	}
	memset(big, 'a', 64);
	snprintf(big + 64, sizeof(big) - 64, ".5.rcpt.gz");
	UT_CHECK("bundle_name_parse 64-octet agent",
	    bundle_name_parse(big, agent, &seq) == RS_OK &&
	    strlen(agent) == 64 && seq == 5);
	memset(big, 'a', 65);
	snprintf(big + 65, sizeof(big) - 65, ".5.rcpt.gz");
	UT_CHECK("bundle_name_parse 65-octet agent",
	    bundle_name_parse(big, agent, &seq) == RS_ERR_FORMAT);
	memset(big, 'a', 300);
	big[300] = '\0';
	UT_CHECK("bundle_name_parse long name",
	    bundle_name_parse(big, agent, &seq) == RS_ERR_FORMAT);
	UT_CHECK("bundle_name", bundle_name("corp", 17, nbuf, sizeof(nbuf)) ==
	    RS_OK && strcmp(nbuf, "corp.17.rcpt.gz") == 0);
	memset(big, 'z', 64);
	big[64] = '\0';
	r = bundle_name(big, UINT64_C(9223372036854775807), nbuf,
	    sizeof(nbuf));
	UT_CHECK("bundle_name longest fits RS_MAX_BUNDLE_NAME",
	    r == RS_OK && bundle_name_parse(nbuf, agent, &seq) == RS_OK &&
	    seq == UINT64_C(9223372036854775807));
	UT_CHECK("bundle_name refuses seq 0 and 2^63",
	    bundle_name("corp", 0, nbuf, sizeof(nbuf)) == RS_ERR_INVAL &&
	    bundle_name("corp", UINT64_C(9223372036854775808), nbuf,
	    sizeof(nbuf)) == RS_ERR_INVAL);
	UT_CHECK("bundle_name refuses bad agent",
	    bundle_name("Corp", 1, nbuf, sizeof(nbuf)) == RS_ERR_INVAL &&
	    bundle_name("", 1, nbuf, sizeof(nbuf)) == RS_ERR_INVAL);
	UT_CHECK("bundle_name small buffer",
	    bundle_name("corp", 17, nbuf, 10) == RS_ERR_LIMIT);
	UT_CHECK("bundle_agent_id_ok", bundle_agent_id_ok("corp") &&
	    bundle_agent_id_ok("9x.y_z-w") && !bundle_agent_id_ok("") &&
	    !bundle_agent_id_ok(".x") && !bundle_agent_id_ok("a/b") &&
	    !bundle_agent_id_ok("a b") && !bundle_agent_id_ok(NULL));

	/* Time: table, then random values against gmtime_r. */
	{
		static const struct { int64_t t; const char *s; } tt[] = {
			{ 0, "1970-01-01T00:00:00Z" },
			{ 951782400, "2000-02-29T00:00:00Z" },
			{ 1709164800, "2024-02-29T00:00:00Z" },
			{ 1763848200, "2025-11-22T21:50:00Z" },
			{ 4102444800, "2100-01-01T00:00:00Z" },
			{ INT64_C(253402300799), "9999-12-31T23:59:59Z" },
		};
		static const char *bad[] = { "2026-02-29T00:00:00Z",
		    "2100-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		    "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		    "2026-01-00T00:00:00Z", "2026-04-31T00:00:00Z",
		    "2026-11-22T24:00:00Z", "2026-11-22T23:60:00Z",
		    "2026-11-22T23:59:60Z", "2026-11-22 21:50:00Z",
		    "2026-11-22T21:50:00", "2026-11-22T21:50:00Z ",
		    "2026-11-22T21:50:00z", "1969-12-31T23:59:59Z",
		    "+026-11-22T21:50:00Z", "2026-1-22T21:50:00Z",
		    "2026-11-22T21:50:0Z", "", "2026" };

		ok = 1;
		for (i = 0; i < sizeof(tt) / sizeof(tt[0]); i++) {
			bundle_time_fmt((time_t)tt[i].t, when, sizeof(when));
			if (strcmp(when, tt[i].s) != 0 ||
			    bundle_time_parse(tt[i].s, &t) != RS_OK ||
			    (int64_t)t != tt[i].t) {
				fprintf(stderr, "time %lld: %s\n",
				    (long long)tt[i].t, when);
				ok = 0;
			}
		}
		UT_CHECK("bundle time table", ok);
		ok = 1;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (bundle_time_parse(bad[i], &t) != RS_ERR_SYNTAX) {
				fprintf(stderr, "time accepted: %s\n", bad[i]);
				ok = 0;
			}
		UT_CHECK("bundle time refuses bad values", ok);
		ok = 1;
		for (i = 0; i < 200000; i++) {
			struct tm tm;
			time_t x = (time_t)(ut_rng() % INT64_C(253402300800));

			if (i < 1000)
				x = (time_t)(ut_rng() % 4000000000u);
			bundle_time_fmt(x, when, sizeof(when));
			gmtime_r(&x, &tm);
			strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (strcmp(when, ref) != 0 ||
			    bundle_time_parse(when, &t) != RS_OK || t != x) {
				fprintf(stderr, "time %lld: %s vs %s\n",
				    (long long)x, when, ref);
				ok = 0;
				break;
			}
		}
		UT_CHECK("bundle time agrees with gmtime_r", ok);
		bundle_time_fmt((time_t)-5, when, sizeof(when));
		UT_CHECK("bundle time clamps negative",
		    strcmp(when, "1970-01-01T00:00:00Z") == 0);
		bundle_time_fmt(0, when, 20);
		UT_CHECK("bundle time small buffer", when[0] == '\0');
	}

	/* Writer: round trips of random lists. */
	for (i = 0; i < 30; i++) {
		size_t n = i < 5 ? i + 1 : (size_t)(ut_rng() % 5000) + 1;

		hdr_base(&H);
		H.seq = 1 + ut_rng() % 1000000;
		H.flags = i % 3 == 0 ? BUNDLE_FLAG_ALLOW_SHRINK : 0;
		if (i % 2 == 1) {
			/* Version 2 with relay domains, one a wildcard. */
			H.version = 2;
			H.nrelay = 2;
			snprintf(H.domains[3], sizeof(H.domains[3]),
			    "*.partner.example");
			snprintf(H.domains[4], sizeof(H.domains[4]),
			    "lab.corp.test");
		}
		list = rand_list(&H, n);
		rs_buf_reset(&gz);
		r = bundle_write(&H, list, &gz);
		ok = r == RS_OK && H.count == rlist_count(list);
		rlist_new(&got);
		read_bundle(gz.data, gz.len, MAXBUF, 10000000, &G, got, &res);
		ok = ok && res.rc == 0 && hdr_equal(&H, &G) &&
		    lists_equal(list, got);
		if (!ok)
			fprintf(stderr, "round trip %zu: %d %d %s\n", i, r,
			    res.rc, res.detail);
		/* Same input, same bytes. */
		rs_buf_reset(&gz2);
		r = bundle_write(&H, list, &gz2);
		ok = ok && r == RS_OK && gz.len == gz2.len &&
		    memcmp(gz.data, gz2.data, gz.len) == 0;
		snprintf(name, sizeof(name), "bundle round trip %zu (%zu "
		    "entries)", i, rlist_count(list));
		UT_CHECK(name, ok);
		rlist_free(list);
		rlist_free(got);
		list = got = NULL;
	}

	/* Writer: what version 1 cannot say, and relay domains' rules. */
	{
		static const char *const one[] = { "alice@corp.test" };
		static const char *const lab[] = { "x@lab.corp.test" };
		struct rlist *l1 = NULL, *l2 = NULL;

		rlist_new(&l1);
		rlist_add(l1, one[0], strlen(one[0]));
		rlist_finish(l1);
		rlist_new(&l2);
		rlist_add(l2, lab[0], strlen(lab[0]));
		rlist_finish(l2);
		hdr_base(&H);
		H.nrelay = 1;
		snprintf(H.domains[3], sizeof(H.domains[3]), "partner.example");
		rs_buf_reset(&gz);
		UT_CHECK("bundle writer: no relay domains in version 1",
		    bundle_write(&H, l1, &gz) == RS_ERR_INVAL && gz.len == 0);
		hdr_base(&H);
		snprintf(H.domains[0], sizeof(H.domains[0]), "*.corp.test");
		UT_CHECK("bundle writer: no wildcard in version 1",
		    bundle_write(&H, l1, &gz) == RS_ERR_INVAL);
		H.version = 2;
		UT_CHECK("bundle writer: a wildcard in version 2",
		    bundle_write(&H, l1, &gz) == RS_OK);
		UT_CHECK("bundle writer: a wildcard covers subdomains",
		    bundle_write(&H, l2, &gz) == RS_OK);
		H.nrelay = 1;
		snprintf(H.domains[3], sizeof(H.domains[3]), "lab.corp.test");
		UT_CHECK("bundle writer: no entry in a relay domain",
		    bundle_write(&H, l2, &gz) == RS_ERR_DOMAIN);
		snprintf(H.domains[3], sizeof(H.domains[3]), "example.org");
		UT_CHECK("bundle writer: no domain of both kinds",
		    bundle_write(&H, l1, &gz) == RS_ERR_INVAL);
		H.version = 3;
		UT_CHECK("bundle writer: no version 3",
		    bundle_write(&H, l1, &gz) == RS_ERR_INVAL);
		rs_buf_reset(&gz);
		rlist_free(l1);
		rlist_free(l2);
	}

	/* Writer output matches FORMAT.md's example layout exactly. */
	{
		static const char want[] =
		    "rcptsync-list 1\n"
		    "agent: corp\n"
		    "sequence: 1763848200\n"
		    "created: 2025-11-22T21:50:00Z\n"
		    "kind: full\n"
		    "source: ldap://dc1.corp.test/DC=corp,DC=test\n"
		    "domains: branch.corp.test corp.test example.org\n"
		    "count: 3\n"
		    "list-sha256: ";
		static const char ents[] = "alice@corp.test\n"
		    "bob@example.org\ncarol@corp.test\n";
		unsigned char md[RS_SHA256_LEN];
		char hex[65];

		hdr_base(&H);
		H.flags = BUNDLE_FLAG_ALLOW_SHRINK;
		rlist_new(&list);
		rlist_add(list, "carol@corp.test", 15);
		rlist_add(list, "alice@corp.test", 15);
		rlist_add(list, "bob@example.org", 15);
		rlist_finish(list);
		rs_buf_reset(&gz);
		rs_buf_reset(&text);
		r = bundle_write(&H, list, &gz);
		if (r == RS_OK)
			r = gunzip(gz.data, gz.len, &text);
		rs_sha256(ents, sizeof(ents) - 1, md);
		rs_hex(md, sizeof(md), hex);
		rs_buf_reset(&text2);
		rs_buf_printf(&text2, "%s%s\nflags: allow-shrink\n\n%s", want,
		    hex, ents);
		UT_CHECK("bundle_write exact text", r == RS_OK &&
		    text.len == text2.len &&
		    memcmp(text.data, text2.data, text.len) == 0);
		if (r != RS_OK || text.len != text2.len)
			fprintf(stderr, "got:\n%s\nwant:\n%s\n",
			    (char *)text.data, (char *)text2.data);

		/* Heartbeat: no entries, the caller's hash. */
		H.kind = BUNDLE_HEARTBEAT;
		H.flags = 0;
		memcpy(H.list_sha256, md, sizeof(md));
		rs_buf_reset(&gz);
		r = bundle_write(&H, NULL, &gz);
		read_bundle(gz.data, gz.len, MAXBUF, 100, &G, NULL, &res);
		UT_CHECK("bundle heartbeat round trip", r == RS_OK &&
		    res.rc == 0 && res.n == 0 && G.kind == BUNDLE_HEARTBEAT &&
		    G.count == 0 && memcmp(G.list_sha256, md, 32) == 0);
		UT_CHECK("bundle heartbeat with a list refused",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);

		/* Writer refusals leave out as it was. */
		hdr_base(&H);
		rs_buf_reset(&gz);
		rs_buf_put_str(&gz, "keep");
		H.ndomains = 1;			/* branch.corp.test only */
		UT_CHECK("bundle_write entry outside domains",
		    bundle_write(&H, list, &gz) == RS_ERR_DOMAIN &&
		    gz.len == 4);
		hdr_base(&H);
		snprintf(H.domains[0], sizeof(H.domains[0]), "z.test");
		UT_CHECK("bundle_write unsorted domains",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);
		hdr_base(&H);
		H.ndomains = 0;
		UT_CHECK("bundle_write no domains",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);
		hdr_base(&H);
		snprintf(H.agent, sizeof(H.agent), "Corp");
		UT_CHECK("bundle_write bad agent",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);
		hdr_base(&H);
		H.seq = 0;
		UT_CHECK("bundle_write seq 0",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);
		hdr_base(&H);
		snprintf(H.source, sizeof(H.source), "x\n");
		UT_CHECK("bundle_write source with newline",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);
		hdr_base(&H);
		H.flags = 0x80;
		UT_CHECK("bundle_write unknown flag",
		    bundle_write(&H, list, &gz) == RS_ERR_INVAL);
		hdr_base(&H);
		UT_CHECK("bundle_write full without list",
		    bundle_write(&H, NULL, &gz) == RS_ERR_INVAL);
		rlist_free(list);
		rlist_new(&list);
		UT_CHECK("bundle_write empty full list",
		    bundle_write(&H, list, &gz) == RS_ERR_EMPTY);
		rlist_add(list, "bob@corp.test", 13);
		rlist_add(list, "alice@corp.test", 15);	/* not finished */
		UT_CHECK("bundle_write unsorted list",
		    bundle_write(&H, list, &gz) == RS_ERR_ORDER &&
		    gz.len == 4);
		rlist_free(list);
		list = NULL;
		/*
		 * The most domains of the longest length must still fit in a
		 * header line (the fuzzer found RS_MAX_HDR_LINE too short).
		 */
		hdr_base(&H);
		H.ndomains = RS_MAX_DOMAINS;
		for (i = 0; i < RS_MAX_DOMAINS; i++)	/* the last one fits "a@" */
			snprintf(H.domains[i], sizeof(H.domains[i]),
			    "d%03zu.%.63s.%.63s.%.63s.%.*s", i, LABEL63, LABEL63,
			    LABEL63, i + 1 < RS_MAX_DOMAINS ? 56 : 55, LABEL63);
		UT_CHECK("longest domain is RS_MAX_DOMAIN_LEN",
		    strlen(H.domains[0]) == RS_MAX_DOMAIN_LEN);
		rlist_new(&list);
		j = (size_t)snprintf(big, sizeof(big), "a@%s",
		    H.domains[RS_MAX_DOMAINS - 1]);
		rlist_add(list, big, j);
		rlist_finish(list);
		rs_buf_reset(&gz);
		UT_CHECK("bundle_write most and longest domains",
		    bundle_write(&H, list, &gz) == RS_OK);
		{
			struct bundle_hdr h2;
			struct result rr;

			read_bundle(gz.data, gz.len, 1 << 20, 10, &h2, NULL, &rr);
			UT_CHECK("most and longest domains read back",
			    rr.rc == 0 && rr.n == 1 && hdr_equal(&H, &h2));
		}
		rlist_free(list);
		list = NULL;
	}

	/* Hand-made bundles, one broken rule each. */
	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		const struct bcase *c = &bcases[i];

		build_case(c, &text);
		rs_buf_reset(&gz);
		gz_text(text.data, text.len, &gz);
		read_bundle(gz.data, gz.len, MAXBUF, 1000, &G, NULL, &res);
		snprintf(name, sizeof(name), "bundle reader: %s", c->name);
		ok = res.rc == c->want && (c->detail == NULL ||
		    strstr(res.detail, c->detail) != NULL);
		if (c->want != RS_OK)
			ok = ok && res.detail[0] != '\0';
		if (!ok)
			fprintf(stderr, "%s: got %d (%s) \"%s\", want %d\n",
			    name, res.rc, rs_err_str(res.rc), res.detail,
			    c->want);
		UT_CHECK(name, ok);
	}

	/* Around the base bundle: compressed-level faults. */
	build_case(&bcases[0], &text);
	rs_buf_reset(&gz);
	gz_text(text.data, text.len, &gz);
	rs_buf_reset(&gz2);
	rs_buf_put(&gz2, gz.data, gz.len);
	rs_buf_put(&gz2, "\0", 1);
	read_bundle(gz2.data, gz2.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: gzip trailing byte, no line number",
	    res.rc == RS_ERR_TRAILING && strcmp(res.detail, "decompress: data "
	    "after the end of the gzip member") == 0);
	rs_buf_reset(&gz2);
	rs_buf_put(&gz2, gz.data, gz.len);
	rs_buf_put(&gz2, gz.data, gz.len);
	read_bundle(gz2.data, gz2.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: two gzip members, named, no line number",
	    res.rc == RS_ERR_TRAILING && strcmp(res.detail, "decompress: a "
	    "second gzip member follows the first (one member only)") == 0);
	read_bundle(text.data, text.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: plain text is not gzip, no line number",
	    res.rc == RS_ERR_GZIP && strcmp(res.detail, "decompress: not gzip "
	    "(the data does not start with 1f 8b)") == 0);
	read_bundle(gz.data, gz.len - 1, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: gzip truncated", res.rc == RS_ERR_TRUNC);
	read_bundle(gz.data, gz.len, text.len - 1, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: decompressed size over max_out",
	    res.rc == RS_ERR_LIMIT && strstr(res.detail, "decompress") !=
	    NULL && strstr(res.detail, "line") == NULL);
	read_bundle(gz.data, gz.len, text.len, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: decompressed size at max_out", res.rc == 0);
	read_bundle(gz.data, gz.len, MAXBUF, 2, &G, NULL, &res);
	UT_CHECK("bundle reader: count over max_entries",
	    res.rc == RS_ERR_LIMIT);
	/* A header line over the limit, and a huge header. */
	rs_buf_reset(&text);
	rs_buf_put_str(&text, "rcptsync-list 1\nagent: corp\nsequence: 1\n"
	    "created: 2025-11-22T21:50:00Z\nkind: full\nsource: ");
	for (j = 0; j < 1100; j++)
		rs_buf_put_str(&text, "s");
	rs_buf_put_str(&text, "\n");
	rs_buf_reset(&gz);
	gz_text(text.data, text.len, &gz);
	read_bundle(gz.data, gz.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: header line too long",
	    res.rc == RS_ERR_LIMIT && res.lineno == 6);
	rs_buf_reset(&text);
	rs_buf_put_str(&text, "rcptsync-list 1\n");
	for (j = 0; j < 100000; j++)
		rs_buf_put_str(&text, "agent: corp\n");
	rs_buf_reset(&gz);
	gz_text(text.data, text.len, &gz);
	read_bundle(gz.data, gz.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: repeated field stops early",
	    res.rc == RS_ERR_FORMAT && res.lineno == 3);
	/* An entry of 300 octets. */
	rs_buf_reset(&text);
	rs_buf_put_str(&text, "rcptsync-list 1\nagent: corp\nsequence: 1\n"
	    "created: 2025-11-22T21:50:00Z\nkind: full\nsource: x\n"
	    "domains: corp.test\ncount: 1\nlist-sha256: "
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\n\n");
	for (j = 0; j < 300; j++)
		rs_buf_put_str(&text, "a");
	rs_buf_put_str(&text, "@corp.test\n");
	rs_buf_reset(&gz);
	gz_text(text.data, text.len, &gz);
	read_bundle(gz.data, gz.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: 300-octet entry",
	    res.rc == RS_ERR_SYNTAX && res.lineno == 11);
	/* Digest mismatch. */
	rs_buf_reset(&text);
	rs_buf_put_str(&text, "rcptsync-list 1\nagent: corp\nsequence: 1\n"
	    "created: 2025-11-22T21:50:00Z\nkind: full\nsource: x\n"
	    "domains: corp.test\ncount: 1\nlist-sha256: "
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\n\nalice@corp.test\n");
	rs_buf_reset(&gz);
	gz_text(text.data, text.len, &gz);
	read_bundle(gz.data, gz.len, MAXBUF, 1000, &G, NULL, &res);
	UT_CHECK("bundle reader: list-sha256 mismatch",
	    res.rc == RS_ERR_DIGEST && res.n == 1 &&
	    strstr(res.detail, "list-sha256") != NULL);
	/* API misuse. */
	{
		FILE *f = tmpfile();
		struct gz_dec *dec = NULL;
		struct bundle_reader *br = NULL;
		const char *a;
		size_t len;

		if (f != NULL)
			fwrite(gz.data, 1, gz.len, f), rewind(f);
		ok = f != NULL && gz_dec_new(f, MAXBUF, &dec) == RS_OK &&
		    bundle_reader_new(dec, 10, &br) == RS_OK &&
		    bundle_next(br, &a, &len) == RS_ERR_INVAL;
		UT_CHECK("bundle_next before header refused", ok);
		bundle_reader_free(br);
		gz_dec_free(dec);
		if (f != NULL)
			fclose(f);
		UT_CHECK("bundle_reader_new NULL dec",
		    bundle_reader_new(NULL, 10, &br) == RS_ERR_INVAL &&
		    br == NULL);
	}

	/*
	 * Random text mutations of a valid bundle: refused, or accepted and
	 * then exactly the writer's text for what was read.
	 */
	hdr_base(&H);
	H.flags = BUNDLE_FLAG_ALLOW_SHRINK;
	list = rand_list(&H, 40);
	rs_buf_reset(&gz);
	bundle_write(&H, list, &gz);
	rs_buf_reset(&text);
	gunzip(gz.data, gz.len, &text);
	nrej = nacc = 0;
	ok = 1;
	for (i = 0; i < 4000 && ok; i++) {
		unsigned char *p;
		size_t n = text.len;

		rs_buf_reset(&text2);
		rs_buf_put(&text2, text.data, text.len);
		p = text2.data;
		for (j = 1 + ut_rng() % 2; j > 0; j--) {
			size_t at = ut_rng() % n;

			switch (ut_rng() % 4) {
			case 0:		/* random byte */
				p[at] = (unsigned char)ut_rng();
				break;
			case 1:		/* a nearby printable */
				p[at] = (unsigned char)(p[at] + 1);
				break;
			case 2:		/* drop a byte */
				memmove(p + at, p + at + 1, n - at - 1);
				n--;
				break;
			default:	/* a structural byte */
				p[at] = (unsigned char)"\n @.:- a0"[ut_rng() % 9];
				break;
			}
		}
		rs_buf_reset(&gz2);
		gz_text(p, n, &gz2);
		rlist_new(&got);
		read_bundle(gz2.data, gz2.len, MAXBUF, 1000000, &G, got, &res);
		if (res.rc == RS_ERR_INTERNAL || res.rc > 0)
			ok = 0;
		else if (res.rc == 0) {
			/* Accepted: must be the canonical text of G + got. */
			struct rs_buf again;

			nacc++;
			rs_buf_init(&again, MAXBUF);
			rs_buf_reset(&gz);
			rlist_finish(got);
			r = bundle_write(&G, G.kind == BUNDLE_FULL ? got :
			    NULL, &gz);
			if (r == RS_OK)
				r = gunzip(gz.data, gz.len, &again);
			if (r != RS_OK || again.len != n ||
			    memcmp(again.data, p, n) != 0) {
				fprintf(stderr, "accepted non-canonical:\n%.*s",
				    (int)n, (char *)p);
				ok = 0;
			}
			rs_buf_free(&again);
		} else
			nrej++;
		rlist_free(got);
		got = NULL;
	}
	fprintf(stderr, "text mutations: %zu refused, %zu accepted\n", nrej,
	    nacc);
	UT_CHECK("bundle random text mutations refused or canonical", ok);

	/* Random mutations of the gzip bytes, and random bytes. */
	rs_buf_reset(&gz);
	bundle_write(&H, list, &gz);
	ok = 1;
	nrej = 0;
	for (i = 0; i < 3000 && ok; i++) {
		rs_buf_reset(&gz2);
		rs_buf_put(&gz2, gz.data, gz.len);
		for (j = 1 + ut_rng() % 3; j > 0; j--)
			gz2.data[ut_rng() % gz2.len] ^=
			    (unsigned char)(1 + ut_rng() % 255);
		read_bundle(gz2.data, gz2.len, MAXBUF, 1000000, &G, NULL, &res);
		if (res.rc == RS_ERR_INTERNAL || res.rc > 0)
			ok = 0;
		if (res.rc != 0)
			nrej++;
	}
	for (i = 0; i < 2000 && ok; i++) {
		size_t n = ut_rng() % 2000;

		rs_buf_reset(&gz2);
		for (j = 0; j < n; j++)
			rs_buf_put_u8(&gz2, (uint8_t)ut_rng());
		if (n > 3 && i % 2) {
			gz2.data[0] = 0x1f;
			gz2.data[1] = 0x8b;
			gz2.data[2] = 8;
		}
		read_bundle(gz2.data, gz2.len, MAXBUF, 1000000, &G, NULL, &res);
		if (res.rc == 0 || res.rc == RS_ERR_INTERNAL || res.rc > 0)
			ok = 0;
	}
	fprintf(stderr, "gzip mutations: %zu of 3000 refused\n", nrej);
	UT_CHECK("bundle random gzip mutations and random bytes", ok);
	rlist_free(list);
	list = NULL;

	/* A million entries, streamed back with flat memory. */
	{
		char buf[64];
		clock_t t0 = clock();
		long rss0, rss1;
		size_t n;

		hdr_base(&H);
		rlist_new(&list);
		for (i = 0; i < 1000000; i++) {
			n = (size_t)snprintf(buf, sizeof(buf),
			    "u%07zu.%zx@%s", i, i * 2654435761u % 65536,
			    i % 2 ? "corp.test" : "example.org");
			rlist_add(list, buf, n);
		}
		rlist_finish(list);
		rs_buf_reset(&gz);
		r = bundle_write(&H, list, &gz);
		fprintf(stderr, "1M write: %.2f s cpu, %zu bytes\n",
		    (double)(clock() - t0) / CLOCKS_PER_SEC, gz.len);
		rs_buf_free(&text);
		rs_buf_free(&text2);
		rs_buf_free(&gz2);
		rss0 = maxrss_kib();
		t0 = clock();
		read_bundle(gz.data, gz.len, RS_DEF_LIST_BYTES,
		    RS_DEF_ENTRIES, &G, NULL, &res);
		rss1 = maxrss_kib();
		fprintf(stderr, "1M read: %.2f s cpu, maxrss %ld -> %ld KiB\n",
		    (double)(clock() - t0) / CLOCKS_PER_SEC, rss0, rss1);
		UT_CHECK("bundle 1M entries write and read", r == RS_OK &&
		    res.rc == 0 && res.n == 1000000 && G.count == 1000000);
		UT_CHECK("bundle 1M read memory flat", rss1 - rss0 < 2048);
		rlist_free(list);
	}

	rs_buf_free(&gz);
	return ut_exit();
}
