/*
 * fuzz_bundle.c - libFuzzer targets for the bundle reader and validator
 * (common/gz.c, common/bundle.c; docs/FORMAT.md section 2).
 *
 * API:        LLVMFuzzerTestOneInput, built twice by tests/fuzz/run.sh:
 *               fuzz_bundle       the input is the bundle file (gzip data),
 *                                 handed to gz_dec through fmemopen(); it
 *                                 also goes to bundle_name_parse and
 *                                 bundle_time_parse as a C string;
 *               fuzz_bundle_text  (-DFZ_BUNDLE_TEXT) the input is the
 *                                 decompressed text, gzip-compressed here
 *                                 first, so mutations reach the header
 *                                 parser and the line validator instead of
 *                                 dying on a CRC.
 *             -DFZ_TRACE prints each read's outcome on stderr (for checking
 *             that the seeds reach what they should).
 * Ownership:  everything is created and freed per input.
 * Errors:     an invariant that does not hold aborts (FZ_ASSERT).
 * Trust:      bundles come from the DMZ spool.  The signature only says
 *             which agent wrote them, not that the agent is sane, so the
 *             reader is the last line before the Postfix map.  Checked:
 *             every entry handed out passes addr_check, lies in a declared
 *             domain and is strictly greater than the one before; a clean
 *             end means count and list-sha256 match what was handed out
 *             (recomputed here); errors are sticky; the decompression limit
 *             holds to the byte (fz_limits); and a text that reads
 *             clean is exactly what bundle_write makes of its header and
 *             entries (the format has one spelling per list).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "addr.h"
#include "buf.h"
#include "bundle.h"
#include "gz.h"
#include "hash.h"
#include "rs_limits.h"
#include "rlist.h"
#include "rs_err.h"

#include "fuzz.h"

/*
 * Decompressed bytes and entries allowed per input: small, so a gzip bomb
 * costs milliseconds, yet far above what a 64 KiB input normally holds.
 */
#define FZ_MAX_OUT	(4u * 1024 * 1024)
#define FZ_MAX_ENTRIES	100000u

/* What one pass of the reader saw. */
struct fz_read {
	int		 hdr_rc;	/* bundle_read_header */
	int		 rc;		/* last bundle_next: 0 or an error */
	struct bundle_hdr hdr;
	uint64_t	 n;		/* entries handed out */
	unsigned char	 sha[RS_SHA256_LEN];	/* over the entries read */
	uint64_t	 total_out;	/* decompressed bytes */
	struct rlist	*list;		/* the entries, when collected */
};

static struct bundle_hdr fz_hdr_buf;	/* large: keep it off the stack */

static int
fz_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static size_t
fz_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

/* A header the reader accepted. */
static void
fz_header_ok(const struct bundle_hdr *h)
{
	char t[32];
	time_t back;
	size_t i, n;

	FZ_ASSERT(bundle_agent_id_ok(h->agent), "agent id");
	FZ_ASSERT(h->seq >= 1 && h->seq <= UINT64_C(9223372036854775807),
	    "sequence range");
	FZ_ASSERT(h->kind == BUNDLE_FULL || h->kind == BUNDLE_HEARTBEAT,
	    "kind");
	n = fz_strnlen(h->source, sizeof(h->source));
	FZ_ASSERT(n < sizeof(h->source) && n > 0, "source length");
	for (i = 0; i < n; i++)
		FZ_ASSERT(h->source[i] >= 0x20 && h->source[i] <= 0x7e,
		    "source not printable");
	FZ_ASSERT(h->ndomains >= 1 && h->ndomains <= RS_MAX_DOMAINS,
	    "number of domains");
	for (i = 0; i < h->ndomains; i++) {
		n = fz_strnlen(h->domains[i], sizeof(h->domains[i]));
		FZ_ASSERT(n < sizeof(h->domains[i]), "domain not terminated");
		FZ_ASSERT(addr_check_domain(h->domains[i], n, NULL) == RS_OK,
		    "header domain fails addr_check_domain");
		if (i > 0)
			FZ_ASSERT(strcmp(h->domains[i - 1], h->domains[i]) < 0,
			    "domains not sorted and unique");
	}
	FZ_ASSERT((h->flags & ~BUNDLE_FLAG_ALLOW_SHRINK) == 0, "flags");
	FZ_ASSERT(h->count <= FZ_MAX_ENTRIES, "count above max_entries");
	if (h->kind == BUNDLE_HEARTBEAT)
		FZ_ASSERT(h->count == 0, "heartbeat with entries");
	else
		FZ_ASSERT(h->count >= 1, "full list with count 0");
	/* The created time reads back as itself. */
	bundle_time_fmt(h->created, t, sizeof(t));
	FZ_ASSERT(bundle_time_parse(t, &back) == RS_OK && back == h->created,
	    "created does not survive format and parse");
}

/* An entry the reader handed out. */
static void
fz_entry_ok(const struct bundle_hdr *h, const char *a, size_t len,
    const char *prev, size_t prevlen, uint64_t n)
{
	const char *d;
	size_t dlen, i;

	FZ_ASSERT(a != NULL && len > 0, "entry pointer");
	FZ_ASSERT(addr_check(a, len, NULL) == RS_OK, "entry fails addr_check");
	FZ_ASSERT(n < h->count, "more entries than count");
	if (n > 0)
		FZ_ASSERT(fz_cmp(prev, prevlen, a, len) < 0,
		    "entry not greater than the previous");
	d = addr_domain(a, len, &dlen);
	FZ_ASSERT(d != NULL, "entry without domain");
	for (i = 0; i < h->ndomains; i++)
		if (strlen(h->domains[i]) == dlen &&
		    memcmp(h->domains[i], d, dlen) == 0)
			break;
	FZ_ASSERT(i < h->ndomains, "entry outside the declared domains");
}

/*
 * Read the gzip file p[0..n) to the end or the first error, at most
 * max_out bytes decompressed, checking as it goes.  With collect, the
 * entries are also put into fr->list.
 */
static void
fz_read(const unsigned char *p, size_t n, uint64_t max_out, int collect,
    struct fz_read *fr)
{
	static unsigned char one;
	struct gz_dec *dec = NULL;
	struct bundle_reader *r = NULL;
	struct rs_hash *sha = NULL;
	char prev[RS_MAX_ADDR_LEN];
	const char *a, *det;
	size_t len, prevlen = 0, mdlen = 0;
	FILE *f;
	int rc, again;

	memset(fr, 0, sizeof(*fr));
	/* fmemopen wants a buffer even for an empty file. */
	f = fmemopen(n > 0 ? (void *)(uintptr_t)p : &one, n, "rb");
	FZ_ASSERT(f != NULL, "fmemopen");
	FZ_ASSERT(gz_dec_new(f, max_out, &dec) == RS_OK, "gz_dec_new");
	FZ_ASSERT(bundle_reader_new(dec, FZ_MAX_ENTRIES, &r) == RS_OK,
	    "bundle_reader_new");
	FZ_ASSERT(rs_hash_new("sha256", &sha) == RS_OK, "rs_hash_new");
	if (collect)
		FZ_ASSERT(rlist_new(&fr->list) == RS_OK, "rlist_new");

	fr->hdr_rc = bundle_read_header(r, &fr->hdr);
	FZ_ASSERT(fr->hdr_rc <= 0, "bundle_read_header return code");
	if (fr->hdr_rc != RS_OK) {
		fr->rc = fr->hdr_rc;
		goto fail;
	}
	fz_header_ok(&fr->hdr);
	for (;;) {
		rc = bundle_next(r, &a, &len);
		if (rc != 1)
			break;
		fz_entry_ok(&fr->hdr, a, len, prev, prevlen, fr->n);
		FZ_ASSERT(rs_hash_update(sha, a, len) == RS_OK &&
		    rs_hash_update(sha, "\n", 1) == RS_OK, "rs_hash_update");
		if (collect)
			FZ_ASSERT(rlist_add(fr->list, a, len) == RS_OK,
			    "rlist_add");
		memcpy(prev, a, len);
		prevlen = len;
		fr->n++;
	}
	fr->rc = rc;
	FZ_ASSERT(rc <= 0, "bundle_next return code");
	FZ_ASSERT(rs_hash_final(sha, fr->sha, &mdlen) == RS_OK &&
	    mdlen == RS_SHA256_LEN, "rs_hash_final");
	if (rc == 0) {
		/* A clean end: the header's promises hold for what we saw. */
		FZ_ASSERT(fr->n == fr->hdr.count, "count differs at the end");
		if (fr->hdr.kind == BUNDLE_FULL)
			FZ_ASSERT(memcmp(fr->sha, fr->hdr.list_sha256,
			    RS_SHA256_LEN) == 0, "list-sha256 differs at the end");
		FZ_ASSERT(gz_dec_total_out(dec) <= max_out,
		    "more decompressed than allowed");
		FZ_ASSERT(bundle_next(r, &a, &len) == 0, "read after the end");
		goto out;
	}
fail:
	/* Errors are sticky and explained. */
	det = bundle_detail(r);
	FZ_ASSERT(det != NULL, "no detail");
	FZ_ASSERT(fz_strnlen(det, 4096) < 4096, "detail not terminated");
	(void)bundle_lineno(r);
	again = bundle_next(r, &a, &len);
	FZ_ASSERT(again == fr->rc, "error not sticky");
	FZ_ASSERT(a == NULL, "entry handed out after an error");
out:
	fr->total_out = gz_dec_total_out(dec);
#ifdef FZ_TRACE
	fprintf(stderr, "fz_read: header %d, end %d, %llu entries: %s\n",
	    fr->hdr_rc, fr->rc, (unsigned long long)fr->n, bundle_detail(r));
#endif
	rs_hash_free(sha);
	bundle_reader_free(r);
	gz_dec_free(dec);
	fclose(f);
}

static void
fz_read_free(struct fz_read *fr)
{
	rlist_free(fr->list);
	fr->list = NULL;
}

/*
 * The decompression limit at its edge: a file that read clean with T
 * bytes of output reads the same with max_out T, and with T - 1 it cannot
 * end clean (gz_dec must see that more is coming).
 */
static void
fz_limits(const unsigned char *p, size_t n, const struct fz_read *fr)
{
	struct fz_read x;
	uint64_t t = fr->total_out;

	fz_read(p, n, t, 0, &x);
	FZ_ASSERT(x.rc == 0 && x.n == fr->n && x.total_out == t,
	    "a clean file fails with max_out equal to its size");
	fz_read_free(&x);
	if (t == 0)
		return;
	fz_read(p, n, t - 1, 0, &x);
	FZ_ASSERT(x.rc == RS_ERR_LIMIT, "output beyond max_out not refused");
	FZ_ASSERT(x.n <= fr->n && x.total_out <= t - 1, "read past max_out");
	fz_read_free(&x);
}

/* Inflate a gzip member into a new heap block (*out, *outlen). */
static void
fz_gunzip(const unsigned char *p, size_t n, unsigned char **out,
    size_t *outlen)
{
	z_stream z;
	size_t cap = n * 8 + 1024;
	unsigned char *b;
	int zr;

	memset(&z, 0, sizeof(z));
	FZ_ASSERT(inflateInit2(&z, 15 + 16) == Z_OK, "inflateInit2");
	if ((b = malloc(cap)) == NULL)
		abort();
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	for (;;) {
		z.next_out = b + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zr = inflate(&z, Z_FINISH);
		if (zr == Z_STREAM_END)
			break;
		FZ_ASSERT(zr == Z_OK || zr == Z_BUF_ERROR, "inflate");
		cap *= 2;
		if ((b = realloc(b, cap)) == NULL)
			abort();
	}
	*outlen = z.total_out;
	*out = b;
	inflateEnd(&z);
}

/*
 * A list that read clean goes through bundle_write and reads back the
 * same.  Given the decompressed text, the writer's output must be that
 * text byte for byte.
 */
static void
fz_rewrite(const struct fz_read *fr, const unsigned char *text,
    size_t textlen)
{
	struct bundle_hdr *h = &fz_hdr_buf;
	struct fz_read back;
	struct rs_buf out;
	unsigned char *plain = NULL;
	size_t plainlen = 0;
	int rc;

	memcpy(h, &fr->hdr, sizeof(*h));
	rs_buf_init(&out, FZ_MAX_OUT);
	if (fr->hdr.kind == BUNDLE_FULL)
		FZ_ASSERT(rlist_finish(fr->list) == 0,
		    "duplicates in a list that read clean");
	rc = bundle_write(h, fr->hdr.kind == BUNDLE_FULL ? fr->list : NULL,
	    &out);
	FZ_ASSERT(rc == RS_OK, "bundle_write refuses a list that read clean");
	FZ_ASSERT(h->count == fr->hdr.count &&
	    memcmp(h->list_sha256, fr->hdr.list_sha256, RS_SHA256_LEN) == 0,
	    "bundle_write computed another count or hash");

	fz_read(out.data, out.len, FZ_MAX_OUT, 0, &back);
	FZ_ASSERT(back.rc == 0, "bundle_write output does not read clean");
	FZ_ASSERT(back.n == fr->n, "rewritten entry count");
	FZ_ASSERT(memcmp(back.sha, fr->sha, RS_SHA256_LEN) == 0,
	    "rewritten entries differ");
	FZ_ASSERT(memcmp(&back.hdr, &fr->hdr, sizeof(back.hdr)) == 0,
	    "rewritten header differs");
	fz_read_free(&back);

	if (text != NULL) {
		fz_gunzip(out.data, out.len, &plain, &plainlen);
		FZ_ASSERT(plainlen == textlen &&
		    memcmp(plain, text, textlen) == 0,
		    "a clean text is not what bundle_write makes of it");
		free(plain);
	}
	rs_buf_free(&out);
}

#ifdef FZ_BUNDLE_TEXT

/*
 * Compress text into a fresh gzip member.  Level 1, a 512-byte window and
 * the least memory: per-input speed matters more than size here.
 */
static void
fz_gzip(const uint8_t *p, size_t n, unsigned char **out, size_t *outlen)
{
	z_stream z;
	size_t cap;
	unsigned char *b;

	memset(&z, 0, sizeof(z));
	FZ_ASSERT(deflateInit2(&z, 1, Z_DEFLATED, 9 + 16, 1,
	    Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
	cap = deflateBound(&z, (uLong)n);
	if ((b = malloc(cap)) == NULL)
		abort();
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = b;
	z.avail_out = (uInt)cap;
	FZ_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
	*outlen = z.total_out;
	*out = b;
	deflateEnd(&z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_read fr;
	unsigned char *gz = NULL;
	size_t gzlen = 0;

	fz_gzip(data, size, &gz, &gzlen);
	fz_read(gz, gzlen, FZ_MAX_OUT, 1, &fr);
	if (fr.rc == 0) {
		FZ_ASSERT(fr.total_out == size, "decompressed size");
		fz_rewrite(&fr, data, size);
		fz_limits(gz, gzlen, &fr);
	}
	fz_read_free(&fr);
	free(gz);
	return 0;
}

#else /* !FZ_BUNDLE_TEXT */

/* The input as a spool file name and as a header time. */
static void
fz_names(const uint8_t *data, size_t size)
{
	char agent[RS_MAX_AGENT_ID + 1], name[RS_MAX_BUNDLE_NAME], *s, t[32];
	uint64_t seq = 0;
	time_t tt;
	size_t n;

	n = size < 256 ? size : 256;
	s = fz_dup(data, n, 1);		/* stops at the first NUL, if any */
	if (bundle_name_parse(s, agent, &seq) == RS_OK) {
		FZ_ASSERT(bundle_agent_id_ok(agent), "parsed agent id");
		FZ_ASSERT(bundle_name(agent, seq, name, sizeof(name)) == RS_OK,
		    "bundle_name refuses a parsed name");
		FZ_ASSERT(strcmp(name, s) == 0,
		    "spool name is not canonical");
	}
	if (bundle_time_parse(s, &tt) == RS_OK) {
		bundle_time_fmt(tt, t, sizeof(t));
		FZ_ASSERT(strcmp(t, s) == 0, "time is not canonical");
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_read fr;
	unsigned char *copy;

	fz_names(data, size);
	/* Exactly size bytes, so ASan catches a read past the file. */
	copy = (unsigned char *)fz_dup(data, size, 0);
	fz_read(copy, size, FZ_MAX_OUT, 1, &fr);
	if (fr.rc == 0) {
		fz_rewrite(&fr, NULL, 0);
		fz_limits(copy, size, &fr);
	}
	fz_read_free(&fr);
	free(copy);
	return 0;
}

#endif /* FZ_BUNDLE_TEXT */
