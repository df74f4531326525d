/*
 * bundle.c - write rcptsync bundles (docs/FORMAT.md sections 1-3): names,
 * times, the header checks both sides share, the writer.  The streaming
 * reader is bundle_read.c; bundle_int.h is what the two share.
 *
 * API:        bundle_agent_id_ok, bundle_name_parse, bundle_name,
 *             bundle_write, bundle_write_to, bundle_time_fmt,
 *             bundle_time_parse (bundle.h);
 *             bundle_domain_ok, bundle_domain_find (bundle.h);
 *             bundle_value_ok, bundle_cmp_n, bundle_domain_in,
 *             bundle_agent_id_okn, bundle_fields (bundle_int.h).
 * Ownership:  bundle_write appends to the caller's rs_buf (on failure the
 *             buffer is put back to its old length); bundle_write_to hands
 *             the file's bytes to the caller's sink as deflate makes them
 *             (on failure the sink has had a partial file: the caller
 *             discards it).  The reader borrows the
 *             caller's gz_dec, which must outlive it; the address bundle_next
 *             hands out lives in the reader until the next call.
 * Errors:     negative RS_ERR_*.  The reader's errors are sticky and come
 *             with a line number (bundle_lineno) and a detail string
 *             (bundle_detail), e.g. "line 1234: entry not greater than
 *             previous".  RS_ERR_FORMAT / RS_ERR_VERSION for the header,
 *             RS_ERR_SYNTAX / RS_ERR_ORDER / RS_ERR_DOMAIN for an entry,
 *             RS_ERR_COUNT / RS_ERR_DIGEST at the end, RS_ERR_EMPTY for a
 *             full list without entries, RS_ERR_LIMIT for a line, header or
 *             count above its limit, and the gz_dec codes passed through.
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
#include "civil.h"
#include "gz.h"
#include "hash.h"
#include "rs_limits.h"
#include "rlist.h"
#include "rs_err.h"
#include "bundle_int.h"
#include "strv.h"

const char *const bundle_fields[F_NFIELDS] = {
	"agent", "sequence", "created", "kind", "source", "domains",
	"relay-domains", "count", "list-sha256", "flags",
};

const char bundle_flag_allow_shrink[sizeof(BUNDLE_FLAG_SHRINK)] =
    BUNDLE_FLAG_SHRINK;

/* ---- names ---- */

static int
bundle_is_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-';
}

int
bundle_agent_id_okn(const char *id, size_t len)
{
	size_t i;
	unsigned char c0;

	if (id == NULL || len == 0 || len > RS_MAX_AGENT_ID)
		return 0;
	c0 = (unsigned char)id[0];
	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= '0' && c0 <= '9')))
		return 0;
	for (i = 1; i < len; i++)
		if (!bundle_is_id_char((unsigned char)id[i]))
			return 0;
	return 1;
}

int
bundle_agent_id_ok(const char *id)
{
	size_t len;

	if (id == NULL)
		return 0;
	/* Bounded strlen: an over-long id fails without scanning it all. */
	for (len = 0; len <= RS_MAX_AGENT_ID && id[len] != '\0'; len++)
		;
	return bundle_agent_id_okn(id, len);
}

int
bundle_name_parse(const char *name, char *agent, uint64_t *seq)
{
	size_t len, dot, alen;
	uint64_t v;

	if (agent != NULL)
		agent[0] = '\0';
	if (seq != NULL)
		*seq = 0;
	if (name == NULL)
		return RS_ERR_FORMAT;
	/* Longest match: 64 + 1 + 19 + suffix; stop scanning past it. */
	for (len = 0; name[len] != '\0'; len++)
		if (len > RS_MAX_AGENT_ID + 1 + 19 + BUNDLE_SUFFIX_LEN)
			return RS_ERR_FORMAT;
	if (len <= BUNDLE_SUFFIX_LEN ||
	    memcmp(name + len - BUNDLE_SUFFIX_LEN, BUNDLE_SUFFIX,
	    BUNDLE_SUFFIX_LEN) != 0)
		return RS_ERR_FORMAT;
	len -= BUNDLE_SUFFIX_LEN;
	/* SEQ has no dot, so it starts after the last dot before the suffix. */
	for (dot = len; dot > 0 && name[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return RS_ERR_FORMAT;
	alen = dot - 1;
	if (!bundle_agent_id_okn(name, alen))
		return RS_ERR_FORMAT;
	if (len - dot > 19 ||
	    rs_parse_dec(name + dot, len - dot, 0, BUNDLE_SEQ_MAX, &v) !=
	    RS_OK)
		return RS_ERR_FORMAT;
	if (agent != NULL) {
		memcpy(agent, name, alen);
		agent[alen] = '\0';
	}
	if (seq != NULL)
		*seq = v;
	return RS_OK;
}

int
bundle_name(const char *agent, uint64_t seq, char *out, size_t outsize)
{
	int n;

	if (out != NULL && outsize > 0)
		out[0] = '\0';
	if (out == NULL || !bundle_agent_id_ok(agent) || seq == 0 ||
	    seq > BUNDLE_SEQ_MAX)
		return RS_ERR_INVAL;
	n = snprintf(out, outsize, "%s.%llu%s", agent,
	    (unsigned long long)seq, BUNDLE_SUFFIX);
	if (n < 0 || (size_t)n >= outsize) {
		out[0] = '\0';
		return RS_ERR_LIMIT;
	}
	return RS_OK;
}

/* ---- time ---- */

/* Dates: civil.c (no timegm() on Windows, no thread-safe gmtime()). */

void
bundle_time_fmt(time_t t, char *out, size_t outsize)
{
	int64_t s = (int64_t)t, days, secs, y;
	unsigned m, d;

	if (out == NULL || outsize == 0)
		return;
	out[0] = '\0';
	if (outsize < BUNDLE_TIME_LEN + 1)
		return;
	/* Clamp to what the format can say: 1970 to the end of 9999. */
	if (s < 0)
		s = 0;
	if (s > BUNDLE_TIME_MAX)
		s = BUNDLE_TIME_MAX;
	days = s / 86400;
	secs = s % 86400;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, outsize, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Exactly n digits at s into *v. */
static int
bundle_digits(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 1;
}

int
bundle_time_parse(const char *s, time_t *t)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se, dim;
	int64_t v;

	if (t != NULL)
		*t = 0;
	if (s == NULL || t == NULL)
		return RS_ERR_SYNTAX;
	/* YYYY-MM-DDTHH:MM:SSZ, and nothing after it. */
	if (!bundle_digits(s, 4, &y) || s[4] != '-' ||
	    !bundle_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !bundle_digits(s + 8, 2, &d) || s[10] != 'T' ||
	    !bundle_digits(s + 11, 2, &h) || s[13] != ':' ||
	    !bundle_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !bundle_digits(s + 17, 2, &se) || s[19] != 'Z' || s[20] != '\0')
		return RS_ERR_SYNTAX;
	if (y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59)
		return RS_ERR_SYNTAX;
	dim = mdays[mo - 1] + (mo == 2 && civil_leap(y));
	if (d < 1 || d > dim)
		return RS_ERR_SYNTAX;
	v = civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	/* A 32-bit time_t cannot hold every year we accept. */
	if ((int64_t)(time_t)v != v)
		return RS_ERR_SYNTAX;
	*t = (time_t)v;
	return RS_OK;
}

/* ---- shared checks ---- */

/* A header value: printable ASCII, not empty, no space at either end. */
int
bundle_value_ok(const char *v, size_t len)
{
	size_t i;

	if (len == 0 || v[0] == ' ' || v[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return 0;
	return 1;
}

int
bundle_cmp_n(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int
bundle_domain_in(const struct bundle_hdr *h, int part, const char *t,
    size_t len)
{
	size_t first = part == 0 ? 0 : h->ndomains;
	size_t n = part == 0 ? h->ndomains : h->nrelay;

	return strv_find_rows(h->domains[first], sizeof(h->domains[0]), n, t,
	    len) >= 0;
}

int
bundle_domain_ok(const char *t, size_t len, unsigned v, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (len >= 2 && t[0] == '*' && t[1] == '.') {
		if (v < 2) {
			*why = "a wildcard domain needs format version 2";
			return 0;
		}
		t += 2;
		len -= 2;
	}
	return addr_check_domain(t, len, why) == RS_OK;
}

/* The index of token t[0..len) in either part of h, or -1. */
static long
bundle_domain_index(const struct bundle_hdr *h, const char *t, size_t len)
{
	long i;

	i = strv_find_rows(h->domains[0], sizeof(h->domains[0]), h->ndomains,
	    t, len);
	if (i >= 0)
		return i;
	i = strv_find_rows(h->domains[h->ndomains], sizeof(h->domains[0]),
	    h->nrelay, t, len);
	return i >= 0 ? (long)h->ndomains + i : -1;
}

long
bundle_domain_find(const struct bundle_hdr *h, const char *d, size_t dlen)
{
	char w[BUNDLE_DOMAIN_MAX + 1];
	const char *dot;
	long i;

	if (dlen > RS_MAX_DOMAIN_LEN)
		return -1;
	if ((i = bundle_domain_index(h, d, dlen)) >= 0)
		return i;
	/* Then "*.d", "*." and d's parent, and so on up. */
	w[0] = '*';
	w[1] = '.';
	for (;;) {
		memcpy(w + 2, d, dlen);
		if ((i = bundle_domain_index(h, w, dlen + 2)) >= 0)
			return i;
		if ((dot = memchr(d, '.', dlen)) == NULL)
			return -1;
		dlen -= (size_t)(dot + 1 - d);
		d = dot + 1;
	}
}

/* One part of the header's domains: valid, sorted, unique. */
static int
bundle_part_ok(const struct bundle_hdr *h, size_t first, size_t n)
{
	size_t i, len, prevlen = 0;
	const char *t;

	for (i = first; i < first + n; i++) {
		t = h->domains[i];
		len = strnlen(t, BUNDLE_DOMAIN_MAX + 1);
		if (len > BUNDLE_DOMAIN_MAX ||
		    !bundle_domain_ok(t, len, h->version, NULL))
			return 0;
		if (i > first && bundle_cmp_n(h->domains[i - 1], prevlen, t,
		    len) >= 0)
			return 0;
		prevlen = len;
	}
	return 1;
}

/*
 * The header's domains: 1..RS_MAX_DOMAINS in all, at least one
 * authoritative, each part valid, sorted, unique, none in both; relay
 * domains only in version 2.
 */
static int
bundle_domains_ok(const struct bundle_hdr *h)
{
	size_t i;

	if (h->ndomains == 0 || h->ndomains > RS_MAX_DOMAINS ||
	    h->nrelay > RS_MAX_DOMAINS - h->ndomains ||
	    (h->version < 2 && h->nrelay > 0) ||
	    !bundle_part_ok(h, 0, h->ndomains) ||
	    !bundle_part_ok(h, h->ndomains, h->nrelay))
		return 0;
	for (i = h->ndomains; i < h->ndomains + h->nrelay; i++)
		if (bundle_domain_in(h, 0, h->domains[i],
		    strlen(h->domains[i])))
			return 0;
	return 1;
}

/* ---- writer (the reader is bundle_read.c) ---- */

/*
 * Pass over the list: every entry canonical, strictly increasing and in
 * one of h's domains; hash the entry section.
 */
static int
bundle_scan_list(const struct bundle_hdr *h, const struct rlist *list,
    unsigned char md[RS_SHA256_LEN])
{
	struct rs_hash *sha = NULL;
	const char *a, *prev = NULL, *dom;
	size_t i, n, len, prevlen = 0, dlen, mdlen;
	long gi;
	int r;

	if ((r = rs_hash_new("sha256", &sha)) != RS_OK)
		return r;
	n = rlist_count(list);
	for (i = 0; i < n; i++) {
		a = rlist_get(list, i, &len);
		if (addr_check(a, len, NULL) != RS_OK) {
			r = RS_ERR_SYNTAX;
			goto out;
		}
		if (prev != NULL && bundle_cmp_n(prev, prevlen, a, len) >= 0) {
			r = RS_ERR_ORDER;	/* rlist_finish not called */
			goto out;
		}
		dom = addr_domain(a, len, &dlen);
		/* Governed by an authoritative domain, not a relay one. */
		gi = dom == NULL ? -1 : bundle_domain_find(h, dom, dlen);
		if (gi < 0 || (size_t)gi >= h->ndomains) {
			r = RS_ERR_DOMAIN;
			goto out;
		}
		if ((r = rs_hash_update(sha, a, len)) != RS_OK ||
		    (r = rs_hash_update(sha, "\n", 1)) != RS_OK)
			goto out;
		prev = a;
		prevlen = len;
	}
	if ((r = rs_hash_final(sha, md, &mdlen)) != RS_OK)
		goto out;
	r = mdlen == RS_SHA256_LEN ? RS_OK : RS_ERR_INTERNAL;
out:
	rs_hash_free(sha);
	return r;
}

/* One header line: name and h's n domains from first on. */
static int
bundle_put_domains(struct rs_buf *hb, const char *name,
    const struct bundle_hdr *h, size_t first, size_t n)
{
	size_t i, start = hb->len;
	int r;

	if ((r = rs_buf_put_str(hb, name)) != RS_OK)
		return r;
	for (i = first; i < first + n; i++)
		if ((r = rs_buf_printf(hb, " %s", h->domains[i])) != RS_OK)
			return r;
	if (hb->len - start > RS_MAX_HDR_LINE)
		return RS_ERR_LIMIT;
	return rs_buf_put_str(hb, "\n");
}

static int
bundle_put_header(const struct bundle_hdr *h, struct rs_buf *hb)
{
	char when[BUNDLE_TIME_LEN + 1], hex[2 * RS_SHA256_LEN + 1];
	int r;

	bundle_time_fmt(h->created, when, sizeof(when));
	rs_hex(h->list_sha256, RS_SHA256_LEN, hex);
	if ((r = rs_buf_printf(hb, "%s %u\n", BUNDLE_MAGIC,
	    h->version)) != RS_OK ||
	    (r = rs_buf_printf(hb, "agent: %s\n", h->agent)) != RS_OK ||
	    (r = rs_buf_printf(hb, "sequence: %llu\n",
	    (unsigned long long)h->seq)) != RS_OK ||
	    (r = rs_buf_printf(hb, "created: %s\n", when)) != RS_OK ||
	    (r = rs_buf_printf(hb, "kind: %s\n", h->kind == BUNDLE_FULL ?
	    "full" : "heartbeat")) != RS_OK ||
	    (r = rs_buf_printf(hb, "source: %s\n", h->source)) != RS_OK)
		return r;
	if ((r = bundle_put_domains(hb, "domains:", h, 0, h->ndomains)) !=
	    RS_OK || (h->nrelay > 0 && (r = bundle_put_domains(hb,
	    "relay-domains:", h, h->ndomains, h->nrelay)) != RS_OK) ||
	    (r = rs_buf_printf(hb, "count: %llu\n",
	    (unsigned long long)h->count)) != RS_OK ||
	    (r = rs_buf_printf(hb, "list-sha256: %s\n", hex)) != RS_OK)
		return r;
	if ((h->flags & BUNDLE_FLAG_ALLOW_SHRINK) &&
	    (r = rs_buf_printf(hb, "flags: %s\n", bundle_flag_allow_shrink)) != RS_OK)
		return r;
	return rs_buf_put_str(hb, "\n");
}

/* Hand what the encoder has put out to the sink, and empty it. */
static int
bundle_drain(struct rs_buf *gz, bundle_sink_fn *sink, void *arg)
{
	int r = RS_OK;

	if (gz->len > 0)
		r = sink(arg, gz->data, gz->len);
	rs_buf_reset(gz);
	return r;
}

/* Check h, and for a full list scan it: fills count and list_sha256. */
static int
bundle_prepare(struct bundle_hdr *h, const struct rlist *list, size_t *n)
{
	unsigned char md[RS_SHA256_LEN];
	size_t srclen;
	int r;

	*n = 0;
	srclen = strnlen(h->source, sizeof(h->source));
	if (h->version < 1 || h->version > BUNDLE_VERSION ||
	    !bundle_agent_id_ok(h->agent) || h->seq == 0 ||
	    h->seq > BUNDLE_SEQ_MAX || (int64_t)h->created < 0 ||
	    (int64_t)h->created > BUNDLE_TIME_MAX ||
	    srclen > RS_MAX_SOURCE || !bundle_value_ok(h->source, srclen) ||
	    !bundle_domains_ok(h) ||
	    (h->flags & ~BUNDLE_FLAG_ALLOW_SHRINK) != 0)
		return RS_ERR_INVAL;
	if (h->kind == BUNDLE_HEARTBEAT) {
		if (list != NULL)
			return RS_ERR_INVAL;
		h->count = 0;
		return RS_OK;
	}
	if (h->kind != BUNDLE_FULL || list == NULL)
		return RS_ERR_INVAL;
	if ((*n = rlist_count(list)) == 0)
		return RS_ERR_EMPTY;
	if ((r = bundle_scan_list(h, list, md)) != RS_OK)
		return r;
	h->count = *n;
	memcpy(h->list_sha256, md, sizeof(md));
	return RS_OK;
}

int
bundle_write_to(struct bundle_hdr *h, const struct rlist *list,
    bundle_sink_fn *sink, void *arg)
{
	struct rs_buf hb, eb, gz;
	struct gz_enc *enc = NULL;
	const char *a;
	size_t i, n = 0, len;
	int r;

	rs_buf_init(&hb, RS_MAX_HDR_BYTES);
	rs_buf_init(&eb, BUNDLE_CHUNK + RS_MAX_ADDR_LEN + 2);
	/* What one chunk can deflate to, and zlib's flush at the end. */
	rs_buf_init(&gz, RS_DEF_BUNDLE_BYTES);
	if (h == NULL || sink == NULL) {
		r = RS_ERR_INVAL;
		goto out;
	}
	if ((r = bundle_prepare(h, list, &n)) != RS_OK ||
	    (r = bundle_put_header(h, &hb)) != RS_OK ||
	    (r = gz_enc_new(&gz, BUNDLE_GZ_LEVEL, &enc)) != RS_OK ||
	    (r = gz_enc_write(enc, hb.data, hb.len)) != RS_OK)
		goto out;
	/*
	 * Entries go to zlib in chunks, not one deflate call per line, and
	 * what comes out goes to the sink at once: the compressed file is
	 * never whole in memory.
	 */
	for (i = 0; i < n; i++) {
		a = rlist_get(list, i, &len);
		if ((r = rs_buf_put(&eb, a, len)) != RS_OK ||
		    (r = rs_buf_put(&eb, "\n", 1)) != RS_OK)
			goto out;
		if (eb.len >= BUNDLE_CHUNK) {
			if ((r = gz_enc_write(enc, eb.data, eb.len)) != RS_OK ||
			    (r = bundle_drain(&gz, sink, arg)) != RS_OK)
				goto out;
			rs_buf_reset(&eb);
		}
	}
	if (eb.len > 0 && (r = gz_enc_write(enc, eb.data, eb.len)) != RS_OK)
		goto out;
	r = gz_enc_finish(enc);
	enc = NULL;
	if (r == RS_OK)
		r = bundle_drain(&gz, sink, arg);
out:
	gz_enc_free(enc);
	rs_buf_free(&hb);
	rs_buf_free(&eb);
	rs_buf_free(&gz);
	return r;
}

/* bundle_write's sink: append to the caller's buffer. */
static int
bundle_sink_buf(void *arg, const void *p, size_t n)
{
	return rs_buf_put(arg, p, n);
}

int
bundle_write(struct bundle_hdr *h, const struct rlist *list,
    struct rs_buf *out)
{
	size_t len0;
	int r;

	if (out == NULL)
		return RS_ERR_INVAL;
	len0 = out->len;
	if ((r = bundle_write_to(h, list, bundle_sink_buf, out)) != RS_OK &&
	    out->len > len0) {
		/* Leave no partial bundle behind. */
		rs_wipe(out->data + len0, out->len - len0);
		out->len = len0;
		out->data[len0] = '\0';
	}
	return r;
}
