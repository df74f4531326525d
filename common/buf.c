/*
 * buf.c - growable byte buffer with a maximum, and a length-checked reader.
 * See buf.h for the contract.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rs_err.h"

/*
 * memset through a volatile pointer: the compiler cannot know which
 * function it calls, so it cannot drop the call as a dead store (the
 * buffer is freed next).  A byte loop through a volatile pointer does the
 * same at a byte a cycle, which showed in every freed page of a directory
 * read.
 */
static void *(*volatile const rs_wipe_memset)(void *, int, size_t) = memset;

void
rs_wipe(void *p, size_t n)
{
	if (n > 0)
		rs_wipe_memset(p, 0, n);
}

void
rs_buf_init(struct rs_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
rs_buf_free(struct rs_buf *b)
{
	if (b->data != NULL) {
		rs_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
rs_buf_reset(struct rs_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
rs_buf_truncate(struct rs_buf *b, size_t len)
{
	if (b->len > len) {
		rs_wipe(b->data + len, b->len - len);
		b->len = len;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

/* Make room for n more bytes plus the trailing NUL. */
int
rs_buf_reserve(struct rs_buf *b, size_t n)
{
	size_t need, cap;
	unsigned char *p;

	if (n > b->max || b->len > b->max - n)
		return RS_ERR_LIMIT;
	need = b->len + n + 1;
	if (need <= b->cap)
		return RS_OK;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	/*
	 * Not realloc: the old block may hold key material, and realloc would
	 * free it without wiping.
	 */
	if ((p = malloc(cap)) == NULL)
		return RS_ERR_NOMEM;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len + 1);
		rs_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return RS_OK;
}

int
rs_buf_put(struct rs_buf *b, const void *p, size_t n)
{
	int r;

	if ((r = rs_buf_reserve(b, n)) != RS_OK)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return RS_OK;
}

int
rs_buf_put_str(struct rs_buf *b, const char *s)
{
	return rs_buf_put(b, s, strlen(s));
}

int
rs_buf_put_u8(struct rs_buf *b, uint8_t v)
{
	return rs_buf_put(b, &v, 1);
}

int
rs_buf_put_u32(struct rs_buf *b, uint32_t v)
{
	unsigned char x[4];

	x[0] = (unsigned char)(v >> 24);
	x[1] = (unsigned char)(v >> 16);
	x[2] = (unsigned char)(v >> 8);
	x[3] = (unsigned char)v;
	return rs_buf_put(b, x, sizeof(x));
}

int
rs_buf_put_string(struct rs_buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return RS_ERR_LIMIT;
	if ((r = rs_buf_reserve(b, 4 + n)) != RS_OK)
		return r;
	if ((r = rs_buf_put_u32(b, (uint32_t)n)) != RS_OK)
		return r;
	return rs_buf_put(b, p, n);
}

int
rs_buf_put_cstring(struct rs_buf *b, const char *s)
{
	return rs_buf_put_string(b, s, strlen(s));
}

int
rs_buf_printf(struct rs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RS_ERR_INVAL;
	if ((r = rs_buf_reserve(b, (size_t)n)) != RS_OK)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return RS_OK;
}

void
rs_rd_init(struct rs_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

size_t
rs_rd_left(const struct rs_rd *r)
{
	return r->len - r->off;
}

int
rs_rd_bytes(struct rs_rd *r, size_t n, const unsigned char **p)
{
	if (rs_rd_left(r) < n)
		return RS_ERR_TRUNC;
	if (p != NULL)
		*p = r->p + r->off;
	r->off += n;
	return RS_OK;
}

int
rs_rd_u8(struct rs_rd *r, uint8_t *v)
{
	const unsigned char *p;
	int e;

	if ((e = rs_rd_bytes(r, 1, &p)) != RS_OK)
		return e;
	*v = p[0];
	return RS_OK;
}

int
rs_rd_u32(struct rs_rd *r, uint32_t *v)
{
	const unsigned char *p;
	int e;

	if ((e = rs_rd_bytes(r, 4, &p)) != RS_OK)
		return e;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return RS_OK;
}

int
rs_rd_string(struct rs_rd *r, const unsigned char **p, size_t *n)
{
	struct rs_rd save = *r;
	uint32_t len;
	int e;

	if ((e = rs_rd_u32(r, &len)) != RS_OK)
		return e;
	if ((e = rs_rd_bytes(r, len, p)) != RS_OK) {
		*r = save;
		return e;
	}
	*n = len;
	return RS_OK;
}

int
rs_rd_string_eq(struct rs_rd *r, const char *want)
{
	struct rs_rd save = *r;
	const unsigned char *p;
	size_t n;
	int e;

	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return e;
	if (n != strlen(want) || memcmp(p, want, n) != 0) {
		*r = save;
		return RS_ERR_FORMAT;
	}
	return RS_OK;
}

int
rs_rd_sub(struct rs_rd *r, struct rs_rd *sub)
{
	const unsigned char *p;
	size_t n;
	int e;

	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return e;
	rs_rd_init(sub, p, n);
	return RS_OK;
}

int
rs_rd_done(const struct rs_rd *r)
{
	return rs_rd_left(r) == 0 ? RS_OK : RS_ERR_TRAILING;
}

/*
 * Decimal without leading zeros (a lone "0" only when zero_ok), at most
 * max.  Returns RS_OK or RS_ERR_SYNTAX.
 */
int
rs_grow(void **p, size_t *cap, size_t need, size_t elsize, size_t init)
{
	size_t ncap = *cap == 0 ? init : *cap;
	void *np;

	if (need <= *cap)
		return RS_OK;
	if (ncap == 0 || elsize == 0)
		return RS_ERR_NOMEM;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return RS_ERR_NOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elsize)
		return RS_ERR_NOMEM;
	/* Not for key material: see rs_buf_reserve, which never reallocs. */
	if ((np = realloc(*p, ncap * elsize)) == NULL)
		return RS_ERR_NOMEM;
	*p = np;
	*cap = ncap;
	return RS_OK;
}

int
rs_parse_dec(const char *s, size_t len, int zero_ok, uint64_t max,
    uint64_t *v)
{
	uint64_t x = 0;
	size_t i;
	unsigned d;

	if (len == 0 || len > 20)
		return RS_ERR_SYNTAX;
	if (s[0] == '0' && !(len == 1 && zero_ok))
		return RS_ERR_SYNTAX;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return RS_ERR_SYNTAX;
		d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return RS_ERR_SYNTAX;
		x = x * 10 + d;
	}
	if (x > max)
		return RS_ERR_SYNTAX;
	*v = x;
	return RS_OK;
}
