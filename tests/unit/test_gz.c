/*
 * test_gz.c - unit tests for common/gz.c.
 *
 * Round trips of random data at several sizes and levels, reproducible
 * output with a fixed header, interoperation with gzip(1), every prefix of
 * a valid file (truncation), trailing bytes and a second member, corrupt
 * CRC / length / magic, max_out enforced to the byte, a 1 GiB gzip bomb
 * refused quickly with flat memory, and random bytes and random mutations
 * of a valid file (never a crash; either an error or the original data).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <zlib.h>

#include "buf.h"
#include "gz.h"
#include "rs_err.h"
#include "unit.h"

/* Compressible pseudo-text: words from a small vocabulary. */
static void
fill_text(unsigned char *p, size_t n)
{
	static const char *w[] = { "alice", "@corp.test\n", "bob", ".", "x",
	    "@example.org\n", "carol", "7" };
	size_t i = 0, k;

	while (i < n) {
		const char *s = w[ut_rng() % 8];

		for (k = 0; s[k] != '\0' && i < n; k++)
			p[i++] = (unsigned char)s[k];
	}
}

static int
compress_buf(const void *p, size_t n, int level, struct rs_buf *out)
{
	struct gz_enc *enc = NULL;
	int r;

	if ((r = gz_enc_new(out, level, &enc)) != RS_OK)
		return r;
	/* Write in uneven pieces to exercise the streaming path. */
	while (n > 0) {
		size_t k = 1 + ut_rng() % 70000;

		if (k > n)
			k = n;
		if ((r = gz_enc_write(enc, p, k)) != RS_OK) {
			gz_enc_free(enc);
			return r;
		}
		p = (const unsigned char *)p + k;
		n -= k;
	}
	return gz_enc_finish(enc);
}

/* gz_dec_detail of the last decompress_mem, and its gz_dec_error. */
static char last_detail[256];
static int last_error;

/*
 * Decompress mem[0..n) (through a temporary FILE) with max_out; returns
 * the final status (RS_OK at a clean end) and the output in *out.
 */
static int
decompress_mem(const void *mem, size_t n, uint64_t max_out,
    struct rs_buf *out, size_t rdsize)
{
	FILE *f;
	struct gz_dec *dec = NULL;
	unsigned char buf[70000];
	long got;
	int r;

	if ((f = tmpfile()) == NULL)
		return RS_ERR_SYSTEM;
	if (n > 0 && fwrite(mem, 1, n, f) != n) {
		fclose(f);
		return RS_ERR_SYSTEM;
	}
	rewind(f);
	if ((r = gz_dec_new(f, max_out, &dec)) != RS_OK)
		goto out;
	if (rdsize > sizeof(buf))
		rdsize = sizeof(buf);
	for (;;) {
		got = gz_dec_read(dec, buf, rdsize);
		if (got < 0) {
			r = (int)got;
			/* Sticky: the next read says the same. */
			if (gz_dec_read(dec, buf, rdsize) != got)
				r = RS_ERR_INTERNAL;
			goto out;
		}
		if (got == 0)
			break;
		if ((size_t)got > rdsize) {
			r = RS_ERR_INTERNAL;
			goto out;
		}
		if (out != NULL && (r = rs_buf_put(out, buf, (size_t)got)) !=
		    RS_OK)
			goto out;
	}
	r = gz_dec_total_out(dec) <= max_out ? RS_OK : RS_ERR_INTERNAL;
	if (gz_dec_read(dec, buf, rdsize) != 0)	/* stays at the end */
		r = RS_ERR_INTERNAL;
out:
	snprintf(last_detail, sizeof(last_detail), "%s", gz_dec_detail(dec));
	last_error = gz_dec_error(dec);
	gz_dec_free(dec);
	fclose(f);
	return r;
}

/* The last error's words contain want, and name no line. */
static int
detail_is(const char *want)
{
	if (strstr(last_detail, want) != NULL &&
	    strstr(last_detail, "line") == NULL)
		return 1;
	fprintf(stderr, "gz detail \"%s\", want \"%s\"\n", last_detail,
	    want);
	return 0;
}

static int
roundtrip(size_t n, int level, int text)
{
	struct rs_buf z, d;
	unsigned char *p = malloc(n + 1);
	size_t i;
	int ok = 0;

	rs_buf_init(&z, 64 * 1024 * 1024);
	rs_buf_init(&d, 64 * 1024 * 1024);
	if (p == NULL)
		goto out;
	if (text)
		fill_text(p, n);
	else
		for (i = 0; i < n; i++)
			p[i] = (unsigned char)ut_rng();
	if (compress_buf(p, n, level, &z) != RS_OK)
		goto out;
	if (decompress_mem(z.data, z.len, n, &d, 1 + ut_rng() % 9000) != RS_OK)
		goto out;
	ok = d.len == n && (n == 0 || memcmp(d.data, p, n) == 0);
out:
	free(p);
	rs_buf_free(&z);
	rs_buf_free(&d);
	return ok;
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

/* Write a gzip of `size` zero bytes to f, streaming (flat memory). */
static int
write_bomb(FILE *f, uint64_t size)
{
	static unsigned char zero[1 << 20], out[1 << 16];
	z_stream zs;
	uint64_t left = size;
	int flush, zr;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + 15, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	do {
		size_t k = left > sizeof(zero) ? sizeof(zero) : (size_t)left;

		left -= k;
		zs.next_in = zero;
		zs.avail_in = (uInt)k;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			zr = deflate(&zs, flush);
			if (fwrite(out, 1, sizeof(out) - zs.avail_out, f) !=
			    sizeof(out) - zs.avail_out) {
				deflateEnd(&zs);
				return -1;
			}
		} while (zs.avail_out == 0);
	} while (flush != Z_FINISH);
	deflateEnd(&zs);
	return zr == Z_STREAM_END ? 0 : -1;
}

int
main(void)
{
	static const size_t sizes[] = { 0, 1, 2, 100, 4096, 65535, 65536,
	    65537, 300000, 2000000 };
	struct rs_buf a, b, d;
	unsigned char *text = NULL, *mut = NULL;
	char name[200];
	size_t i, j, n;
	int r, ok, level, nrej, nsame;

	ut_seed(0x13198a2e03707344ULL);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (level = -1; level <= 9; level += 5) {
			snprintf(name, sizeof(name),
			    "gz round trip %zu bytes level %d", sizes[i],
			    level);
			UT_CHECK(name, roundtrip(sizes[i], level, 1) &&
			    roundtrip(sizes[i], level, 0));
		}
	}
	UT_CHECK("gz_enc_new bad level", gz_enc_new(&a, 10, NULL) ==
	    RS_ERR_INVAL);

	/* Reproducible bytes and a fixed header. */
	n = 100000;
	text = malloc(n);
	if (text == NULL)
		return 1;
	fill_text(text, n);
	rs_buf_init(&a, 1 << 24);
	rs_buf_init(&b, 1 << 24);
	r = compress_buf(text, n, 9, &a);
	r = r == RS_OK ? compress_buf(text, n, 9, &b) : r;
	UT_CHECK("gz output reproducible", r == RS_OK && a.len == b.len &&
	    memcmp(a.data, b.data, a.len) == 0);
	UT_CHECK("gz header fixed: magic, deflate, no flags, mtime 0, OS 255",
	    a.len > 18 && a.data[0] == 0x1f && a.data[1] == 0x8b &&
	    a.data[2] == 8 && a.data[3] == 0 && a.data[4] == 0 &&
	    a.data[5] == 0 && a.data[6] == 0 && a.data[7] == 0 &&
	    a.data[9] == 255);

	/* gzip(1) reads what we write. */
	{
		FILE *f, *p;
		char cmd[300], tmp[] = "/tmp/rs-test-gz-XXXXXX";
		unsigned char back[4096];
		size_t got, total = 0;
		int fd, same = 1;

		fd = mkstemp(tmp);
		f = fd >= 0 ? fdopen(fd, "wb") : NULL;
		if (f != NULL) {
			fwrite(a.data, 1, a.len, f);
			fclose(f);
		}
		snprintf(cmd, sizeof(cmd), "gzip -dc < %s", tmp);
		p = popen(cmd, "r");
		while (p != NULL && (got = fread(back, 1, sizeof(back), p)) >
		    0) {
			if (total + got > n ||
			    memcmp(back, text + total, got) != 0)
				same = 0;
			total += got;
		}
		r = p != NULL ? pclose(p) : -1;
		remove(tmp);
		UT_CHECK("gz output readable by gzip(1)", r == 0 && same &&
		    total == n);
	}

	/* The encoder stops at the output buffer's maximum. */
	rs_buf_init(&d, 100);
	UT_CHECK("gz_enc output limit", compress_buf(text, n, 9, &d) ==
	    RS_ERR_LIMIT);
	rs_buf_free(&d);

	/* max_out: exactly n is fine, n - 1 is not. */
	UT_CHECK("gz max_out exact", decompress_mem(a.data, a.len, n, NULL,
	    4096) == RS_OK);
	UT_CHECK("gz max_out one short", decompress_mem(a.data, a.len, n - 1,
	    NULL, 4096) == RS_ERR_LIMIT);
	UT_CHECK("gz max_out zero", decompress_mem(a.data, a.len, 0, NULL,
	    4096) == RS_ERR_LIMIT);

	/* Every proper prefix is truncated (or, in the header, corrupt). */
	ok = 1;
	for (i = 0; i < a.len; i += (i < 64 || a.len - i < 64) ? 1 : 97) {
		r = decompress_mem(a.data, i, n, NULL, 8192);
		if (r != RS_ERR_TRUNC) {
			fprintf(stderr, "prefix %zu: %d\n", i, r);
			ok = 0;
		}
	}
	UT_CHECK("gz every prefix is RS_ERR_TRUNC", ok);
	UT_CHECK("gz empty file is RS_ERR_TRUNC",
	    decompress_mem("", 0, n, NULL, 10) == RS_ERR_TRUNC);
	UT_CHECK("gz empty file: detail says empty",
	    detail_is("empty file, no gzip data"));
	UT_CHECK("gz cut file: detail says it ends early",
	    decompress_mem(a.data, a.len / 2, n, NULL, 10) == RS_ERR_TRUNC &&
	    detail_is("truncated: the gzip data ends early"));
	UT_CHECK("gz plain text: RS_ERR_GZIP, detail says not gzip",
	    decompress_mem("rcptsync-list 1\n", 16, n, NULL, 10) ==
	    RS_ERR_GZIP && detail_is("not gzip (the data does not start "
	    "with 1f 8b)"));
	UT_CHECK("gz over max_out: detail names the limit",
	    decompress_mem(a.data, a.len, n - 1, NULL, 4096) == RS_ERR_LIMIT &&
	    last_error == RS_ERR_LIMIT && detail_is("decompressed size over "
	    "the limit of"));

	/* Trailing data: one byte, zeros, a second member. */
	rs_buf_init(&d, 1 << 24);
	rs_buf_put(&d, a.data, a.len);
	rs_buf_put(&d, "x", 1);
	UT_CHECK("gz trailing byte", decompress_mem(d.data, d.len, n, NULL,
	    4096) == RS_ERR_TRAILING);
	UT_CHECK("gz trailing byte: detail", detail_is("data after the end of "
	    "the gzip member"));
	rs_buf_reset(&d);
	rs_buf_put(&d, a.data, a.len);
	rs_buf_put(&d, "\0\0\0\0\0\0\0\0", 8);
	UT_CHECK("gz trailing zeros", decompress_mem(d.data, d.len, n, NULL,
	    4096) == RS_ERR_TRAILING);
	rs_buf_reset(&d);
	rs_buf_put(&d, a.data, a.len);
	rs_buf_put(&d, a.data, a.len);
	UT_CHECK("gz second member", decompress_mem(d.data, d.len, 2 * n,
	    NULL, 4096) == RS_ERR_TRAILING);
	UT_CHECK("gz second member: detail says so", detail_is("a second "
	    "gzip member follows the first"));
	/* Trailing data after a member that ends right at a chunk edge. */
	rs_buf_reset(&d);
	{
		struct rs_buf e;

		rs_buf_init(&e, 1 << 24);
		compress_buf("", 0, 9, &e);
		rs_buf_put(&d, e.data, e.len);
		UT_CHECK("gz empty content round trip",
		    decompress_mem(d.data, d.len, 0, NULL, 10) == RS_OK);
		for (j = 0; j < 70000; j++)
			rs_buf_put(&d, "\0", 1);
		UT_CHECK("gz empty member + 70000 zeros",
		    decompress_mem(d.data, d.len, 0, NULL, 10) ==
		    RS_ERR_TRAILING);
		rs_buf_free(&e);
	}

	/* Corruptions with a known answer. */
	rs_buf_reset(&d);
	rs_buf_put(&d, a.data, a.len);
	d.data[d.len - 8] ^= 1;			/* CRC32 */
	UT_CHECK("gz bad CRC", decompress_mem(d.data, d.len, n, NULL, 4096) ==
	    RS_ERR_GZIP);
	UT_CHECK("gz bad CRC: detail has zlib's words",
	    detail_is("corrupt compressed data: incorrect data check"));
	d.data[d.len - 8] ^= 1;
	d.data[d.len - 4] ^= 1;			/* ISIZE */
	UT_CHECK("gz bad length", decompress_mem(d.data, d.len, 2 * n, NULL,
	    4096) == RS_ERR_GZIP);
	d.data[d.len - 4] ^= 1;
	d.data[0] = 0x1e;
	UT_CHECK("gz bad magic", decompress_mem(d.data, d.len, n, NULL,
	    4096) == RS_ERR_GZIP && detail_is("not gzip"));
	d.data[0] = 0x1f;
	d.data[2] = 7;
	UT_CHECK("gz bad method", decompress_mem(d.data, d.len, n, NULL,
	    4096) == RS_ERR_GZIP);
	d.data[2] = 8;
	UT_CHECK("gz restored", decompress_mem(d.data, d.len, n, NULL,
	    4096) == RS_OK);
	{
		/* zlib format (not gzip) is refused. */
		unsigned char zb[256];
		uLongf zlen = sizeof(zb);

		compress(zb, &zlen, (const Bytef *)"hello", 5);
		UT_CHECK("gz refuses zlib format", decompress_mem(zb, zlen,
		    100, NULL, 10) == RS_ERR_GZIP);
	}

	/* Random bytes: never a crash, never success without the magic. */
	ok = 1;
	for (i = 0; i < 3000; i++) {
		unsigned char junk[600];

		n = ut_rng() % sizeof(junk);
		for (j = 0; j < n; j++)
			junk[j] = (unsigned char)ut_rng();
		if (i % 2 && n > 3) {
			junk[0] = 0x1f;
			junk[1] = 0x8b;
			junk[2] = 8;
		}
		r = decompress_mem(junk, n, 1 << 20, NULL, 1 + ut_rng() % 300);
		if (r == RS_OK || r == RS_ERR_INTERNAL)
			ok = 0;
	}
	UT_CHECK("gz random bytes refused", ok);

	/* Random mutations: refused, or the very same content. */
	mut = malloc(b.len);
	nrej = nsame = 0;
	ok = mut != NULL;
	for (i = 0; ok && i < 3000; i++) {
		memcpy(mut, b.data, b.len);
		for (j = 1 + ut_rng() % 3; j > 0; j--)
			mut[ut_rng() % b.len] ^= (unsigned char)(1 + ut_rng() % 255);
		rs_buf_reset(&d);
		r = decompress_mem(mut, b.len - (ut_rng() % 5 == 0 ?
		    ut_rng() % 20 : 0), 2 * 100000, &d, 4096);
		if (r == RS_OK) {
			if (d.len != 100000 || memcmp(d.data, text, d.len) != 0)
				ok = 0;
			nsame++;
		} else if (r == RS_ERR_INTERNAL)
			ok = 0;
		else
			nrej++;
	}
	fprintf(stderr, "mutations: %d refused, %d decode to the original\n",
	    nrej, nsame);
	UT_CHECK("gz random mutations refused or identical", ok);
	free(mut);

	/* The bomb: 1 GiB of zeros (about 1 MB compressed), limit 16 MiB. */
	{
		FILE *f = tmpfile();
		struct gz_dec *dec = NULL;
		unsigned char buf[65536];
		long got, rss0, rss1;
		clock_t t0;
		uint64_t total = 0;

		ok = f != NULL && write_bomb(f, (uint64_t)1 << 30) == 0;
		if (f != NULL) {
			fprintf(stderr, "bomb file: %ld bytes\n", ftell(f));
			rewind(f);
		}
		rss0 = maxrss_kib();
		t0 = clock();
		if (ok && gz_dec_new(f, 16u << 20, &dec) == RS_OK) {
			while ((got = gz_dec_read(dec, buf, sizeof(buf))) > 0)
				total += (uint64_t)got;
			ok = got == RS_ERR_LIMIT && total == 16u << 20 &&
			    gz_dec_total_out(dec) == total &&
			    gz_dec_total_in(dec) < 100000;
			fprintf(stderr, "bomb: %ld after %llu bytes out, "
			    "%llu in\n", got, (unsigned long long)total,
			    (unsigned long long)gz_dec_total_in(dec));
		} else
			ok = 0;
		rss1 = maxrss_kib();
		fprintf(stderr, "bomb: %.3f s cpu, maxrss %ld -> %ld KiB\n",
		    (double)(clock() - t0) / CLOCKS_PER_SEC, rss0, rss1);
		UT_CHECK("gz 1 GiB bomb refused at the limit", ok);
		UT_CHECK("gz bomb memory flat", rss1 - rss0 < 4096);
		/* And with the full limit the whole GiB decodes (streaming). */
		gz_dec_free(dec);
		dec = NULL;
		if (f != NULL)
			rewind(f);
		total = 0;
		t0 = clock();
		if (f != NULL && gz_dec_new(f, (uint64_t)1 << 30, &dec) ==
		    RS_OK) {
			while ((got = gz_dec_read(dec, buf, sizeof(buf))) > 0)
				total += (uint64_t)got;
			ok = got == 0 && total == (uint64_t)1 << 30;
		} else
			ok = 0;
		fprintf(stderr, "1 GiB full decode: %.3f s cpu\n",
		    (double)(clock() - t0) / CLOCKS_PER_SEC);
		UT_CHECK("gz 1 GiB within limit decodes", ok);
		UT_CHECK("gz 1 GiB memory flat", maxrss_kib() - rss0 < 4096);
		gz_dec_free(dec);
		if (f != NULL)
			fclose(f);
	}

	free(text);
	rs_buf_free(&a);
	rs_buf_free(&b);
	rs_buf_free(&d);
	return ut_exit();
}
