/*
 * gz.h - gzip (RFC 1952) compression and bounded decompression over zlib.
 *
 * The encoder appends to an rs_buf (whose maximum bounds the output).  The
 * decoder reads a FILE and hands out decompressed bytes, never more than the
 * caller's max_out in total: past it, gz_dec_read returns RS_ERR_LIMIT, so
 * a gzip bomb costs at most the caller's limit in work and none in memory.
 * Exactly one gzip member is accepted; bytes after it are RS_ERR_TRAILING, a
 * file that ends early is RS_ERR_TRUNC, and a bad CRC or header RS_ERR_GZIP.
 */
#ifndef RS_GZ_H
#define RS_GZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct rs_buf;
struct gz_enc;
struct gz_dec;

int	gz_enc_new(struct rs_buf *out, int level, struct gz_enc **enc);
int	gz_enc_write(struct gz_enc *enc, const void *p, size_t n);
/* Flush the trailer.  The encoder is freed whatever the result. */
int	gz_enc_finish(struct gz_enc *enc);
void	gz_enc_free(struct gz_enc *enc);	/* abandon without finishing */

int	gz_dec_new(FILE *in, uint64_t max_out, struct gz_dec **dec);
/*
 * Read up to n decompressed bytes into p.  Returns the count (> 0), 0 at
 * the clean end of the member (trailer checked, no trailing bytes), or a
 * negative RS_ERR_*.
 */
long	gz_dec_read(struct gz_dec *dec, void *p, size_t n);
/* The sticky error of the decoder (RS_OK while healthy). */
int	gz_dec_error(const struct gz_dec *dec);
/*
 * That error in words, without a line number (the container has none):
 * "not gzip (...)", "a second gzip member follows the first (...)",
 * "decompressed size over the limit of N bytes", ...; "" while healthy.
 * Valid until the decoder is freed.
 */
const char *gz_dec_detail(const struct gz_dec *dec);
uint64_t gz_dec_total_in(const struct gz_dec *dec);
uint64_t gz_dec_total_out(const struct gz_dec *dec);
void	gz_dec_free(struct gz_dec *dec);

#endif /* RS_GZ_H */
