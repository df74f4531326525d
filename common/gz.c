/*
 * gz.c - gzip (RFC 1952) compression into an rs_buf, and bounded streaming
 * decompression from a FILE, over zlib.  See gz.h for the contract.
 *
 * API:        gz_enc_new/write/finish/free; gz_dec_new/read/total_in/
 *             total_out/error/detail/free.
 * Ownership:  the encoder appends to the caller's rs_buf and never frees it;
 *             gz_enc_finish and gz_enc_free free the encoder.  The decoder
 *             reads the caller's FILE and never closes it; the FILE must be
 *             open in binary mode ("rb": on Windows text mode would turn
 *             CR LF into LF inside the compressed data).
 * Errors:     RS_ERR_NOMEM, RS_ERR_LIMIT (output buffer full; decoded size
 *             above max_out), RS_ERR_TRUNC (input ends inside the member),
 *             RS_ERR_TRAILING (bytes after the member), RS_ERR_GZIP (bad
 *             header, corrupt data, CRC or length mismatch), RS_ERR_SYSTEM
 *             (read error; errno is set), RS_ERR_INTERNAL (zlib misuse).
 *             A decoder error is sticky: every later read returns it,
 *             and gz_dec_detail words it for an administrator ("not
 *             gzip", "a second gzip member follows the first", zlib's
 *             text for corrupt data).
 * Trust:      the decoder's input is untrusted (in rcptsync it has already
 *             passed the signature check, but the limits hold regardless).
 *             It never produces more than max_out bytes in total and its
 *             memory is fixed (zlib's 32 KiB window plus one input chunk),
 *             so a gzip bomb costs at most max_out bytes of inflate work.
 *
 * The encoder writes a fixed gzip header (no name, no comment, mtime 0,
 * OS "unknown"): the same list gives the same bytes on every platform and
 * at every time, so a bundle can be compared and its hash recomputed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "gz.h"
#include "rs_err.h"

/* 16 + 15: gzip wrapper, 32 KiB window (zlib's windowBits convention). */
#define GZ_WBITS	(16 + 15)
#define GZ_MEMLEVEL	8
#define GZ_OS_UNKNOWN	255
/* Bytes handed to zlib per call, and read from the file per fread. */
#define GZ_CHUNK	(64 * 1024)
#define GZ_DETAIL	128	/* room for gz_dec_detail's text */

struct gz_enc {
	z_stream	 zs;
	gz_header	 head;
	struct rs_buf	*out;
	int		 err;		/* sticky error, RS_OK while healthy */
};

struct gz_dec {
	z_stream	 zs;
	FILE		*in;
	uint64_t	 max_out;
	uint64_t	 total_in;	/* compressed bytes consumed by inflate */
	uint64_t	 total_out;
	int		 eof;		/* fread saw the end of the file */
	int		 done;		/* member ended cleanly, nothing after */
	int		 err;		/* sticky error */
	int		 filled;	/* the first fread happened */
	int		 empty;		/* ...and found nothing */
	int		 not_gzip;	/* the data does not start 1f 8b */
	int		 second;	/* after the member: 1f 8b again */
	const char	*zmsg;		/* zlib's text for a data error */
	char		 detail[GZ_DETAIL];
	unsigned char	 ibuf[GZ_CHUNK];
};

/* Run deflate with flush until it wants more input (or ends). */
static int
gz_enc_run(struct gz_enc *enc, int flush)
{
	unsigned char obuf[GZ_CHUNK];
	size_t have;
	int zr, r;

	do {
		enc->zs.next_out = obuf;
		enc->zs.avail_out = sizeof(obuf);
		zr = deflate(&enc->zs, flush);
		if (zr == Z_STREAM_ERROR)
			return RS_ERR_INTERNAL;
		have = sizeof(obuf) - enc->zs.avail_out;
		if (have > 0 && (r = rs_buf_put(enc->out, obuf, have)) != RS_OK)
			return r;
		if (flush == Z_FINISH && zr == Z_STREAM_END)
			return RS_OK;
		/* Z_BUF_ERROR just means no progress was possible. */
	} while (enc->zs.avail_out == 0 || enc->zs.avail_in > 0 ||
	    (flush == Z_FINISH && zr != Z_STREAM_END));
	return RS_OK;
}

int
gz_enc_new(struct rs_buf *out, int level, struct gz_enc **encp)
{
	struct gz_enc *enc = NULL;
	int zr, r;

	if (encp == NULL)
		return RS_ERR_INVAL;
	*encp = NULL;
	if (out == NULL || level < Z_DEFAULT_COMPRESSION || level > 9)
		return RS_ERR_INVAL;
	if ((enc = calloc(1, sizeof(*enc))) == NULL)
		return RS_ERR_NOMEM;
	enc->out = out;
	zr = deflateInit2(&enc->zs, level, Z_DEFLATED, GZ_WBITS, GZ_MEMLEVEL,
	    Z_DEFAULT_STRATEGY);
	if (zr != Z_OK) {
		free(enc);
		return zr == Z_MEM_ERROR ? RS_ERR_NOMEM : RS_ERR_INTERNAL;
	}
	/*
	 * Without an explicit header zlib writes its build's OS code (3 on
	 * Unix, 10 on Windows): pin every field for reproducible output.
	 */
	memset(&enc->head, 0, sizeof(enc->head));
	enc->head.time = 0;
	enc->head.os = GZ_OS_UNKNOWN;
	if (deflateSetHeader(&enc->zs, &enc->head) != Z_OK) {
		r = RS_ERR_INTERNAL;
		goto out;
	}
	*encp = enc;
	enc = NULL;
	r = RS_OK;
out:
	gz_enc_free(enc);
	return r;
}

int
gz_enc_write(struct gz_enc *enc, const void *p, size_t n)
{
	const unsigned char *q = p;
	size_t chunk;
	int r;

	if (enc == NULL || (p == NULL && n > 0))
		return RS_ERR_INVAL;
	if (enc->err != RS_OK)
		return enc->err;
	/* avail_in is a 32-bit uInt: feed large writes in pieces. */
	while (n > 0) {
		chunk = n > GZ_CHUNK ? GZ_CHUNK : n;
		/* zlib's next_in is not const before 1.2.11's ZLIB_CONST. */
		enc->zs.next_in = (Bytef *)(uintptr_t)q;
		enc->zs.avail_in = (uInt)chunk;
		if ((r = gz_enc_run(enc, Z_NO_FLUSH)) != RS_OK) {
			enc->err = r;
			return r;
		}
		q += chunk;
		n -= chunk;
	}
	return RS_OK;
}

int
gz_enc_finish(struct gz_enc *enc)
{
	int r;

	if (enc == NULL)
		return RS_ERR_INVAL;
	if ((r = enc->err) == RS_OK) {
		enc->zs.next_in = NULL;
		enc->zs.avail_in = 0;
		r = gz_enc_run(enc, Z_FINISH);
	}
	gz_enc_free(enc);
	return r;
}

void
gz_enc_free(struct gz_enc *enc)
{
	if (enc == NULL)
		return;
	deflateEnd(&enc->zs);
	free(enc);
}

int
gz_dec_new(FILE *in, uint64_t max_out, struct gz_dec **decp)
{
	struct gz_dec *dec;
	int zr;

	if (decp == NULL)
		return RS_ERR_INVAL;
	*decp = NULL;
	if (in == NULL)
		return RS_ERR_INVAL;
	if ((dec = calloc(1, sizeof(*dec))) == NULL)
		return RS_ERR_NOMEM;
	dec->in = in;
	dec->max_out = max_out;
	dec->zs.next_in = dec->ibuf;
	dec->zs.avail_in = 0;
	/* 16 + 15: gzip only, no zlib or raw deflate, no auto-detection. */
	zr = inflateInit2(&dec->zs, GZ_WBITS);
	if (zr != Z_OK) {
		free(dec);
		return zr == Z_MEM_ERROR ? RS_ERR_NOMEM : RS_ERR_INTERNAL;
	}
	*decp = dec;
	return RS_OK;
}

/* Refill the input buffer when empty.  Sets eof at the end of the file. */
static int
gz_dec_fill(struct gz_dec *dec)
{
	size_t got;

	if (dec->zs.avail_in > 0 || dec->eof)
		return RS_OK;
	got = fread(dec->ibuf, 1, sizeof(dec->ibuf), dec->in);
	if (got < sizeof(dec->ibuf)) {
		if (ferror(dec->in))
			return RS_ERR_SYSTEM;
		dec->eof = 1;
	}
	if (!dec->filled) {
		dec->filled = 1;
		dec->empty = got == 0;
		dec->not_gzip = got < 2 || dec->ibuf[0] != 0x1f ||
		    dec->ibuf[1] != 0x8b;
	}
	dec->zs.next_in = dec->ibuf;
	dec->zs.avail_in = (uInt)got;
	return RS_OK;
}

/* The next input byte after the member, or EOF. */
static int
gz_dec_next_byte(struct gz_dec *dec)
{
	int c;

	if (dec->zs.avail_in > 0) {
		dec->zs.avail_in--;
		return *dec->zs.next_in++;
	}
	if (dec->eof)
		return EOF;
	if ((c = fgetc(dec->in)) == EOF && !ferror(dec->in))
		dec->eof = 1;
	return c;
}

/* Make err sticky, with the words an administrator reads. */
static int
gz_dec_fail(struct gz_dec *dec, int err)
{
	const char *why;

	switch (err) {
	case RS_ERR_TRAILING:
		why = dec->second ? "a second gzip member follows the first "
		    "(one member only)" : "data after the end of the gzip "
		    "member";
		break;
	case RS_ERR_GZIP:
	case RS_ERR_TRUNC:
		if (dec->empty)
			why = "empty file, no gzip data";
		else if (dec->not_gzip)
			why = "not gzip (the data does not start with 1f 8b)";
		else if (err == RS_ERR_TRUNC)
			why = "truncated: the gzip data ends early";
		else
			why = dec->zmsg != NULL ? dec->zmsg :
			    "corrupt compressed data";
		break;
	case RS_ERR_LIMIT:
		why = NULL;
		(void)snprintf(dec->detail, sizeof(dec->detail),
		    "decompressed size over the limit of %llu bytes",
		    (unsigned long long)dec->max_out);
		break;
	default:
		why = rs_err_str(err);
		break;
	}
	if (why != NULL)
		(void)snprintf(dec->detail, sizeof(dec->detail), "%s%s",
		    err == RS_ERR_GZIP && !dec->not_gzip && !dec->empty ?
		    "corrupt compressed data: " : "", why);
	dec->err = err;
	return err;
}

/*
 * After the member's trailer: nothing may follow, neither in what we have
 * read ahead nor in the rest of the file.  (With windowBits 16+15 zlib
 * stops at the end of the first member; a second member is trailing data,
 * not a continuation.)
 */
static int
gz_dec_check_end(struct gz_dec *dec)
{
	int c;

	if ((c = gz_dec_next_byte(dec)) == EOF)
		return ferror(dec->in) ? RS_ERR_SYSTEM : RS_OK;
	dec->second = c == 0x1f && gz_dec_next_byte(dec) == 0x8b;
	return RS_ERR_TRAILING;
}

/*
 * One inflate step into out[0..n).  Returns bytes produced (>= 0), with
 * *end set when the member ended, or a negative RS_ERR_*.
 */
static long
gz_dec_step(struct gz_dec *dec, unsigned char *out, size_t n, int *end)
{
	uInt in0;
	size_t made;
	int zr, r;

	*end = 0;
	if ((r = gz_dec_fill(dec)) != RS_OK)
		return r;
	in0 = dec->zs.avail_in;
	dec->zs.next_out = out;
	dec->zs.avail_out = (uInt)n;
	zr = inflate(&dec->zs, Z_NO_FLUSH);
	dec->total_in += in0 - dec->zs.avail_in;
	made = n - dec->zs.avail_out;
	switch (zr) {
	case Z_STREAM_END:
		*end = 1;
		break;
	case Z_OK:
		break;
	case Z_BUF_ERROR:
		/* No progress: only possible at the end of the input. */
		if (dec->zs.avail_in == 0 && dec->eof)
			return RS_ERR_TRUNC;
		break;
	case Z_MEM_ERROR:
		return RS_ERR_NOMEM;
	case Z_NEED_DICT:
	case Z_DATA_ERROR:
		dec->zmsg = dec->zs.msg;	/* zlib's static text */
		return RS_ERR_GZIP;
	default:
		return RS_ERR_INTERNAL;
	}
	if (!*end && made == 0 && dec->zs.avail_in == 0 && dec->eof)
		return RS_ERR_TRUNC;
	return (long)made;
}

long
gz_dec_read(struct gz_dec *dec, void *p, size_t n)
{
	unsigned char probe;
	uint64_t room;
	long got;
	int end = 0, r;

	if (dec == NULL || p == NULL || n == 0)
		return RS_ERR_INVAL;
	if (dec->err != RS_OK)
		return dec->err;
	if (dec->done)
		return 0;
	/* A long must be able to carry the count, and uInt the request. */
	if (n > GZ_CHUNK)
		n = GZ_CHUNK;
	for (;;) {
		room = dec->max_out - dec->total_out;
		if (room == 0) {
			/*
			 * The limit is reached.  A legitimate stream may still
			 * have its trailer to come, so inflate into one spare
			 * byte: any output at all means it is too large.
			 */
			got = gz_dec_step(dec, &probe, 1, &end);
			if (got > 0)
				got = RS_ERR_LIMIT;
		} else
			got = gz_dec_step(dec, p, room < n ? (size_t)room : n,
			    &end);
		if (got < 0)
			goto fail;
		dec->total_out += (uint64_t)got;
		if (end) {
			if ((r = gz_dec_check_end(dec)) != RS_OK)
				return gz_dec_fail(dec, r);
			dec->done = 1;
			return got;
		}
		if (got > 0)
			return got;
	}
fail:
	return gz_dec_fail(dec, (int)got);
}

int
gz_dec_error(const struct gz_dec *dec)
{
	return dec == NULL ? RS_ERR_INVAL : dec->err;
}

const char *
gz_dec_detail(const struct gz_dec *dec)
{
	return dec == NULL || dec->err == RS_OK ? "" : dec->detail;
}

uint64_t
gz_dec_total_in(const struct gz_dec *dec)
{
	return dec == NULL ? 0 : dec->total_in;
}

uint64_t
gz_dec_total_out(const struct gz_dec *dec)
{
	return dec == NULL ? 0 : dec->total_out;
}

void
gz_dec_free(struct gz_dec *dec)
{
	if (dec == NULL)
		return;
	inflateEnd(&dec->zs);
	free(dec);
}
