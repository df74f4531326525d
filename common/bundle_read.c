/*
 * bundle_read.c - the streaming, validating reader of rcptsync bundles
 * (docs/FORMAT.md sections 1-3); the writer is bundle.c.
 *
 * API:        bundle_reader_new/read_header/next/lineno/detail/
 *             reader_free (bundle.h).
 * Ownership:  the reader borrows the caller's gz_dec, which must outlive
 *             it; the address bundle_next hands out lives in the reader
 *             until the next call.
 * Errors:     negative RS_ERR_*, sticky, with a line number (bundle_lineno)
 *             and a detail string (bundle_detail), e.g. "line 1234: entry
 *             not greater than previous".  RS_ERR_FORMAT / RS_ERR_VERSION
 *             for the header, RS_ERR_SYNTAX / RS_ERR_ORDER / RS_ERR_DOMAIN
 *             for an entry, RS_ERR_COUNT / RS_ERR_DIGEST at the end,
 *             RS_ERR_EMPTY for a full list without entries, RS_ERR_LIMIT
 *             for a line, header or count above its limit, and the gz_dec
 *             codes passed through.
 * Trust:      the reader parses untrusted bytes (signed, but signed by an
 *             agent that may be broken or compromised).  Its memory is
 *             fixed: one input chunk, one line, the previous entry; nothing
 *             grows with the list.  No entry reaches the caller before it
 *             has passed addr_check, the order check and the domain check;
 *             the count and list-sha256 can only be checked at the end, so
 *             a caller must not act on the entries before bundle_next
 *             returned 0.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_attr.h"
#include "addr.h"
#include "buf.h"
#include "bundle.h"
#include "bundle_int.h"
#include "gz.h"
#include "hash.h"
#include "rs_limits.h"
#include "rlist.h"
#include "rs_err.h"

#define BUNDLE_CR_FOUND	"CR found at the end of the line (lines end in LF, " \
			"not CRLF)"

struct bundle_reader {
	struct gz_dec	*dec;
	uint64_t	 max_entries;
	struct rs_hash	*sha;		/* over the entry section */
	int		 state;		/* R_* */
	int		 err;		/* sticky */
	size_t		 lineno;
	uint64_t	 nentries;
	int		 eof;		/* gz_dec reported the clean end */
	int		 whole;		/* the error is the container's */
	size_t		 ipos, ilen;
	char		 line[RS_MAX_HDR_LINE + 1];
	size_t		 linelen;
	char		 prev[RS_MAX_ADDR_LEN + 1];
	size_t		 prevlen;
	char		 detail[BUNDLE_DETAIL];
	struct bundle_hdr hdr;
	unsigned char	 ibuf[BUNDLE_CHUNK];
};

enum { R_NEW, R_ENTRIES, R_DONE };


/* ---- reader ---- */

static int
bundle_fail(struct bundle_reader *r, int err, const char *fmt, ...)
    RS_PRINTF(3, 4)
    ;

static int
bundle_fail(struct bundle_reader *r, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;
	int k;

	/*
	 * Errors found at the end of the data, and those of the gzip
	 * container (r->whole), concern no single line.
	 */
	if (r->lineno > 0 && !r->eof && !r->whole) {
		k = snprintf(r->detail, sizeof(r->detail), "line %zu: ",
		    r->lineno);
		n = k > 0 && (size_t)k < sizeof(r->detail) ? (size_t)k : 0;
	}
	va_start(ap, fmt);
	vsnprintf(r->detail + n, sizeof(r->detail) - n, fmt, ap);
	va_end(ap);
	r->err = err;
	return err;
}

int
bundle_reader_new(struct gz_dec *dec, uint64_t max_entries,
    struct bundle_reader **out)
{
	struct bundle_reader *r;
	int e;

	if (out == NULL)
		return RS_ERR_INVAL;
	*out = NULL;
	if (dec == NULL)
		return RS_ERR_INVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return RS_ERR_NOMEM;
	r->dec = dec;
	r->max_entries = max_entries;
	r->state = R_NEW;
	if ((e = rs_hash_new("sha256", &r->sha)) != RS_OK) {
		free(r);
		return e;
	}
	*out = r;
	return RS_OK;
}

void
bundle_reader_free(struct bundle_reader *r)
{
	if (r == NULL)
		return;
	rs_hash_free(r->sha);
	free(r);
}

size_t
bundle_lineno(const struct bundle_reader *r)
{
	return r == NULL ? 0 : r->lineno;
}

const char *
bundle_detail(const struct bundle_reader *r)
{
	if (r == NULL)
		return "";
	return r->detail;
}

/*
 * Read one line of at most max bytes (without its LF) into r->line; a
 * longer one is the error toolong.  Returns 1 with the line, 0 at the
 * clean end of the data (no partial line), or a negative error (detail
 * set).
 */
static int
bundle_getline(struct bundle_reader *r, size_t max, int toolong,
    const char *what)
{
	const unsigned char *p, *nl;
	size_t take;
	long got;

	r->linelen = 0;
	r->lineno++;
	for (;;) {
		if (r->ipos == r->ilen) {
			if (r->eof)
				got = 0;
			else
				got = gz_dec_read(r->dec, r->ibuf,
				    sizeof(r->ibuf));
			if (got < 0) {
				r->whole = 1;
				return bundle_fail(r, (int)got,
				    "decompress: %s", gz_dec_detail(r->dec));
			}
			if (got == 0) {
				r->eof = 1;
				if (r->linelen > 0)
					return bundle_fail(r, RS_ERR_FORMAT,
					    "line %zu: last line has no "
					    "newline", r->lineno);
				r->lineno--;
				return 0;
			}
			r->ipos = 0;
			r->ilen = (size_t)got;
		}
		p = r->ibuf + r->ipos;
		nl = memchr(p, '\n', r->ilen - r->ipos);
		take = nl != NULL ? (size_t)(nl - p) : r->ilen - r->ipos;
		if (take > max - r->linelen)
			return bundle_fail(r, toolong,
			    "%s longer than %zu octets", what, max);
		memcpy(r->line + r->linelen, p, take);
		r->linelen += take;
		r->ipos += take;
		if (nl != NULL) {
			r->ipos++;		/* the LF */
			r->line[r->linelen] = '\0';
			return 1;
		}
	}
}

/* Digits only, no leading zero: a decimal, if perhaps too large. */
static int
bundle_is_dec(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return len > 0 && (s[0] != '0' || len == 1);
}

static int
bundle_is_hex_lower(const char *s, size_t len, unsigned char *out)
{
	size_t i;
	unsigned v, hi = 0;

	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = (unsigned)(s[i] - 'a' + 10);
		else
			return 0;
		if (i % 2 == 0)
			hi = v;
		else
			out[i / 2] = (unsigned char)(hi << 4 | v);
	}
	return 1;
}

/*
 * Field domains (part 0) or relay-domains (part 1): domains separated by
 * one space, sorted, unique, valid for the list's version; relay domains
 * come after the authoritative ones in h->domains and none is also one.
 */
static int
bundle_parse_domains(struct bundle_reader *r, int part, const char *v,
    size_t len)
{
	struct bundle_hdr *h = &r->hdr;
	const char *name = bundle_fields[part == 0 ? F_DOMAINS : F_RELAY];
	size_t i = 0, j, dlen, first = part == 0 ? 0 : h->ndomains, *n;
	const char *why, *prev;

	n = part == 0 ? &h->ndomains : &h->nrelay;
	*n = 0;
	while (i < len) {
		for (j = i; j < len && v[j] != ' '; j++)
			;
		dlen = j - i;
		if (dlen == 0)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "%s: more than one space", name);
		if (first + *n == RS_MAX_DOMAINS)
			return bundle_fail(r, RS_ERR_LIMIT, "%s: more than %d "
			    "domains in all", name, RS_MAX_DOMAINS);
		if (dlen > BUNDLE_DOMAIN_MAX ||
		    !bundle_domain_ok(v + i, dlen, h->version, &why))
			return bundle_fail(r, RS_ERR_FORMAT,
			    "%s: %.*s: %s", name, (int)(dlen > 64 ? 64 : dlen),
			    v + i, dlen > BUNDLE_DOMAIN_MAX ? "too long" : why);
		prev = *n > 0 ? h->domains[first + *n - 1] : NULL;
		if (prev != NULL && bundle_cmp_n(prev, strlen(prev), v + i,
		    dlen) >= 0)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "%s: not sorted or not unique", name);
		if (part == 1 && bundle_domain_in(h, 0, v + i, dlen))
			return bundle_fail(r, RS_ERR_FORMAT, "%s: %.*s is also "
			    "in domains", name, (int)(dlen > 64 ? 64 : dlen),
			    v + i);
		memcpy(h->domains[first + *n], v + i, dlen);
		h->domains[first + *n][dlen] = '\0';
		(*n)++;
		i = j + 1;
		if (j + 1 == len)	/* a trailing space */
			return bundle_fail(r, RS_ERR_FORMAT,
			    "%s: trailing space", name);
	}
	return RS_OK;
}

static int
bundle_parse_flags(struct bundle_reader *r, const char *v, size_t len)
{
	/* Only one flag exists, so "sorted, unique" means exactly it. */
	if (len == sizeof(bundle_flag_allow_shrink) - 1 &&
	    memcmp(v, bundle_flag_allow_shrink, len) == 0) {
		r->hdr.flags |= BUNDLE_FLAG_ALLOW_SHRINK;
		return RS_OK;
	}
	return bundle_fail(r, RS_ERR_FORMAT, "flags: unknown or repeated flag");
}

static int
bundle_parse_field(struct bundle_reader *r, int f, const char *v,
    size_t len)
{
	struct bundle_hdr *h = &r->hdr;
	uint64_t x;
	time_t t;

	switch (f) {
	case F_AGENT:
		if (!bundle_agent_id_okn(v, len))
			return bundle_fail(r, RS_ERR_FORMAT,
			    "agent: invalid agent id");
		memcpy(h->agent, v, len);
		h->agent[len] = '\0';
		break;
	case F_SEQUENCE:
		if (rs_parse_dec(v, len, 0, BUNDLE_SEQ_MAX, &x) != RS_OK)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "sequence: not a number from 1 to 2^63-1");
		h->seq = x;
		break;
	case F_CREATED:
		if (bundle_time_parse(v, &t) != RS_OK)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "created: not YYYY-MM-DDTHH:MM:SSZ");
		h->created = t;
		break;
	case F_KIND:
		if (len == 4 && memcmp(v, "full", 4) == 0)
			h->kind = BUNDLE_FULL;
		else if (len == 9 && memcmp(v, "heartbeat", 9) == 0)
			h->kind = BUNDLE_HEARTBEAT;
		else
			return bundle_fail(r, RS_ERR_FORMAT,
			    "kind: neither full nor heartbeat");
		break;
	case F_SOURCE:
		if (len > RS_MAX_SOURCE)
			return bundle_fail(r, RS_ERR_LIMIT,
			    "source: longer than %d octets", RS_MAX_SOURCE);
		memcpy(h->source, v, len);
		h->source[len] = '\0';
		break;
	case F_DOMAINS:
		return bundle_parse_domains(r, 0, v, len);
	case F_RELAY:
		if (h->version < 2)
			return bundle_fail(r, RS_ERR_FORMAT, "relay-domains: "
			    "a field of format version 2 in a version %u list",
			    h->version);
		return bundle_parse_domains(r, 1, v, len);
	case F_COUNT:
		if (rs_parse_dec(v, len, 1, UINT64_MAX, &x) != RS_OK)
			return bundle_fail(r, RS_ERR_FORMAT, bundle_is_dec(v,
			    len) ? "count: %.*s is out of range (at most "
			    "18446744073709551615)" : "count: %.*s is not a "
			    "decimal number", (int)(len > 40 ? 40 : len), v);
		if (x > r->max_entries)
			return bundle_fail(r, RS_ERR_LIMIT,
			    "count: %llu entries, limit %llu",
			    (unsigned long long)x,
			    (unsigned long long)r->max_entries);
		h->count = x;
		break;
	case F_SHA:
		if (len != 2 * RS_SHA256_LEN ||
		    !bundle_is_hex_lower(v, len, h->list_sha256))
			return bundle_fail(r, RS_ERR_FORMAT,
			    "list-sha256: not 64 lowercase hex digits");
		break;
	case F_FLAGS:
		return bundle_parse_flags(r, v, len);
	default:
		return bundle_fail(r, RS_ERR_INTERNAL, "bad field index");
	}
	return RS_OK;
}

/*
 * The first line, "rcptsync-list N", in r->line: RS_OK with the version
 * in r->hdr, or an error that names what the line is instead.
 */
static int
bundle_magic(struct bundle_reader *r)
{
	size_t nlen = sizeof(BUNDLE_MAGIC);	/* the magic and the space */
	uint64_t v;

	if (r->linelen > nlen && memcmp(r->line, BUNDLE_MAGIC " ", nlen) == 0 &&
	    rs_parse_dec(r->line + nlen, r->linelen - nlen, 0, UINT32_MAX,
	    &v) == RS_OK) {
		if (v > BUNDLE_READ_MAX)
			return bundle_fail(r, RS_ERR_VERSION, "format version "
			    "%llu: this receiver reads versions 1 to %d; "
			    "upgrade it, or set bundle_format = %d in the "
			    "agent's [agent] section", (unsigned long long)v,
			    BUNDLE_READ_MAX, BUNDLE_READ_MAX);
		r->hdr.version = (unsigned)v;
		return RS_OK;
	}
	/* What editors and Windows tools add, named as such. */
	if (r->linelen >= 3 && memcmp(r->line, "\xef\xbb\xbf", 3) == 0)
		return bundle_fail(r, RS_ERR_FORMAT,
		    "not an rcptsync list: byte-order mark (EF BB BF) "
		    "before \"" BUNDLE_MAGIC "\"");
	if (r->linelen > 0 && r->line[r->linelen - 1] == '\r')
		return bundle_fail(r, RS_ERR_FORMAT,
		    "not an rcptsync list: " BUNDLE_CR_FOUND);
	return bundle_fail(r, RS_ERR_FORMAT, "not an rcptsync list");
}

int
bundle_read_header(struct bundle_reader *r, struct bundle_hdr *h)
{
	size_t total = 0, i, nlen;
	const char *colon;
	int e, f, last = -1, seen[F_NFIELDS];

	if (h != NULL)
		memset(h, 0, sizeof(*h));
	if (r == NULL || h == NULL)
		return RS_ERR_INVAL;
	if (r->err != RS_OK)
		return r->err;
	if (r->state != R_NEW)
		return bundle_fail(r, RS_ERR_INVAL, "header already read");
	memset(&r->hdr, 0, sizeof(r->hdr));
	memset(seen, 0, sizeof(seen));

	if ((e = bundle_getline(r, RS_MAX_HDR_LINE, RS_ERR_LIMIT,
	    "header line")) <= 0)
		return e < 0 ? e : bundle_fail(r, RS_ERR_FORMAT, "empty bundle");
	total += r->linelen + 1;
	if ((e = bundle_magic(r)) != RS_OK)
		return e;
	for (;;) {
		if ((e = bundle_getline(r, RS_MAX_HDR_LINE, RS_ERR_LIMIT,
	    "header line")) < 0)
			return e;
		if (e == 0)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "no empty line after the header");
		total += r->linelen + 1;
		if (total > RS_MAX_HDR_BYTES)
			return bundle_fail(r, RS_ERR_LIMIT,
			    "header longer than %d octets", RS_MAX_HDR_BYTES);
		if (r->linelen == 0)
			break;
		if (r->line[r->linelen - 1] == '\r')
			return bundle_fail(r, RS_ERR_FORMAT, BUNDLE_CR_FOUND);
		colon = memchr(r->line, ':', r->linelen);
		if (colon == NULL)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "header line without a colon");
		nlen = (size_t)(colon - r->line);
		for (i = 0; i < nlen; i++) {
			char c = r->line[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
			    || c == '-'))
				break;
		}
		if (nlen == 0 || i < nlen)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "invalid field name");
		for (f = 0; f < F_NFIELDS; f++)
			if (strlen(bundle_fields[f]) == nlen &&
			    memcmp(bundle_fields[f], r->line, nlen) == 0)
				break;
		if (f == F_NFIELDS)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "unknown field \"%.*s\"",
			    (int)(nlen > 40 ? 40 : nlen), r->line);
		if (seen[f])
			return bundle_fail(r, RS_ERR_FORMAT,
			    "field \"%s\" repeated", bundle_fields[f]);
		if (f < last)
			return bundle_fail(r, RS_ERR_FORMAT,
			    "field \"%s\" out of order", bundle_fields[f]);
		if (r->linelen < nlen + 2 || colon[1] != ' ' ||
		    !bundle_value_ok(colon + 2, r->linelen - nlen - 2))
			return bundle_fail(r, RS_ERR_FORMAT,
			    "%s: value must follow one space and be printable "
			    "ASCII without spaces at either end",
			    bundle_fields[f]);
		if ((e = bundle_parse_field(r, f, colon + 2,
		    r->linelen - nlen - 2)) != RS_OK)
			return e;
		seen[f] = 1;
		last = f;
	}
	for (f = 0; f < F_NFIELDS; f++)
		if (!seen[f] && !F_OPTIONAL(f))
			return bundle_fail(r, RS_ERR_FORMAT,
			    "header has no \"%s\" field", bundle_fields[f]);
	if (r->hdr.kind == BUNDLE_HEARTBEAT && r->hdr.count != 0)
		return bundle_fail(r, RS_ERR_FORMAT,
		    "heartbeat with a count other than 0");
	if (r->hdr.kind == BUNDLE_FULL && r->hdr.count == 0)
		return bundle_fail(r, RS_ERR_EMPTY,
		    "count: 0 in a full list: an empty list is never "
		    "installed");
	r->state = R_ENTRIES;
	memcpy(h, &r->hdr, sizeof(*h));
	return RS_OK;
}

/* All entries read: check what the header promised. */
static int
bundle_finish(struct bundle_reader *r)
{
	unsigned char md[RS_HASH_MAX];
	size_t mdlen;
	int e;

	if (r->nentries != r->hdr.count)
		return bundle_fail(r, RS_ERR_COUNT,
		    "count: the header says %llu, the list has %llu entries",
		    (unsigned long long)r->hdr.count,
		    (unsigned long long)r->nentries);
	/* A heartbeat's hash names the list it vouches for, not itself. */
	if (r->hdr.kind == BUNDLE_FULL) {
		if ((e = rs_hash_final(r->sha, md, &mdlen)) != RS_OK)
			return bundle_fail(r, e, "hash: %s", rs_err_str(e));
		if (mdlen != RS_SHA256_LEN ||
		    memcmp(md, r->hdr.list_sha256, RS_SHA256_LEN) != 0)
			return bundle_fail(r, RS_ERR_DIGEST,
			    "list-sha256 does not match the entries");
	}
	r->state = R_DONE;
	return 0;
}

int
bundle_next(struct bundle_reader *r, const char **addr, size_t *len)
{
	const char *why, *dom;
	size_t dlen;
	long gi;
	int e, c;

	if (addr != NULL)
		*addr = NULL;
	if (len != NULL)
		*len = 0;
	if (r == NULL)
		return RS_ERR_INVAL;
	if (r->err != RS_OK)
		return r->err;
	if (r->state == R_DONE)
		return 0;
	if (r->state != R_ENTRIES)
		return bundle_fail(r, RS_ERR_INVAL, "header not read");
	if ((e = bundle_getline(r, RS_MAX_ADDR_LEN, RS_ERR_SYNTAX,
	    "entry")) < 0)
		return e;
	if (e == 0)
		return bundle_finish(r);
	if (r->hdr.kind == BUNDLE_HEARTBEAT)
		return bundle_fail(r, RS_ERR_FORMAT, "entry in a heartbeat");
	if (r->nentries == r->hdr.count)
		return bundle_fail(r, RS_ERR_COUNT,
		    "count: more entries than the header's %llu",
		    (unsigned long long)r->hdr.count);
	if (addr_check(r->line, r->linelen, &why) != RS_OK)
		return bundle_fail(r, RS_ERR_SYNTAX, "%s", why);
	if (r->nentries > 0) {
		c = bundle_cmp_n(r->prev, r->prevlen, r->line, r->linelen);
		if (c >= 0)
			return bundle_fail(r, RS_ERR_ORDER,
			    "entry not greater than previous");
	}
	dom = addr_domain(r->line, r->linelen, &dlen);
	gi = dom == NULL ? -1 : bundle_domain_find(&r->hdr, dom, dlen);
	if (gi < 0)
		return bundle_fail(r, RS_ERR_DOMAIN,
		    "domain not in the header's domains");
	if ((size_t)gi >= r->hdr.ndomains)
		return bundle_fail(r, RS_ERR_DOMAIN, "entry in relay domain %s "
		    "(a relay domain lists no addresses)",
		    r->hdr.domains[gi]);
	if ((e = rs_hash_update(r->sha, r->line, r->linelen)) != RS_OK ||
	    (e = rs_hash_update(r->sha, "\n", 1)) != RS_OK)
		return bundle_fail(r, e, "hash: %s", rs_err_str(e));
	memcpy(r->prev, r->line, r->linelen);
	r->prevlen = r->linelen;
	r->nentries++;
	if (addr != NULL)
		*addr = r->prev;
	if (len != NULL)
		*len = r->prevlen;
	return 1;
}
