/*
 * buf.h - growable byte buffer with a hard maximum, and a length-checked
 * reader over bytes, and a strict decimal parser.
 *
 * struct rs_buf owns its memory (rs_buf_free releases it).  It never grows
 * past the maximum given to rs_buf_init: a write that would returns
 * RS_ERR_LIMIT and leaves the buffer as it was.  The data is always followed
 * by a NUL byte that is not counted in len, so text can be used as a C string
 * once the caller has checked it has no NUL of its own.
 *
 * struct rs_rd reads untrusted bytes it does not own.  Every getter checks
 * the remaining length first and returns RS_ERR_TRUNC without moving when
 * there is not enough; the cursor only moves on success.  Strings are the
 * SSH wire form (uint32 big-endian length, then bytes); the pointers the
 * getters return point into the reader's memory.
 */
#ifndef RS_BUF_H
#define RS_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "rs_attr.h"

struct rs_buf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
};

void	rs_buf_init(struct rs_buf *b, size_t max);
void	rs_buf_free(struct rs_buf *b);		/* also wipes the bytes */
void	rs_buf_reset(struct rs_buf *b);		/* len = 0, keeps memory */
/* Cut back to len bytes (wiping the rest): undoes a failed append. */
void	rs_buf_truncate(struct rs_buf *b, size_t len);
int	rs_buf_reserve(struct rs_buf *b, size_t n);
int	rs_buf_put(struct rs_buf *b, const void *p, size_t n);
int	rs_buf_put_str(struct rs_buf *b, const char *s);	/* no NUL */
int	rs_buf_put_u8(struct rs_buf *b, uint8_t v);
int	rs_buf_put_u32(struct rs_buf *b, uint32_t v);	/* big-endian */
int	rs_buf_put_string(struct rs_buf *b, const void *p, size_t n);
int	rs_buf_put_cstring(struct rs_buf *b, const char *s);
int	rs_buf_printf(struct rs_buf *b, const char *fmt, ...)
    RS_PRINTF(2, 3)
    ;

struct rs_rd {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
};

void	rs_rd_init(struct rs_rd *r, const void *p, size_t len);
size_t	rs_rd_left(const struct rs_rd *r);
int	rs_rd_u8(struct rs_rd *r, uint8_t *v);
int	rs_rd_u32(struct rs_rd *r, uint32_t *v);
int	rs_rd_bytes(struct rs_rd *r, size_t n, const unsigned char **p);
int	rs_rd_string(struct rs_rd *r, const unsigned char **p, size_t *n);
/* A string that must equal the C string want exactly. */
int	rs_rd_string_eq(struct rs_rd *r, const char *want);
/* A string as a sub-reader. */
int	rs_rd_sub(struct rs_rd *r, struct rs_rd *sub);
/* RS_OK when all bytes were consumed, RS_ERR_TRAILING otherwise. */
int	rs_rd_done(const struct rs_rd *r);

/*
 * Parse s[0..len), untrusted, as a decimal that fills it exactly: digits
 * only, no leading zeros (a lone "0" only when zero_ok), at most max.
 * RS_OK with *v, or RS_ERR_SYNTAX.
 */
int	rs_parse_dec(const char *s, size_t len, int zero_ok, uint64_t max,
	    uint64_t *v);

/*
 * Grow the malloc'd array *p of *cap elements of elsize bytes so that it
 * holds need: doubling from *cap, or from init when *cap is 0.  RS_OK, or
 * RS_ERR_NOMEM (on overflow too) with *p and *cap unchanged.
 */
int	rs_grow(void **p, size_t *cap, size_t need, size_t elsize,
	    size_t init);

/* Zero memory in a way the compiler does not remove. */
void	rs_wipe(void *p, size_t n);

#endif /* RS_BUF_H */
