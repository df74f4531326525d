/*
 * base64.c - strict base64 and the OpenSSH armor.  See base64.h.
 *
 * Every decoded input has one encoding: the alphabet only, exact padding,
 * zero padding bits.  The armor decoder is line based and bounded by the
 * caller's maximum; it never reads past len.
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "rs_err.h"

#define B64_WRAP	70	/* columns, as ssh-keygen writes */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A byte that may appear in armored base64 (padding included). */
static int
b64_is_char(unsigned char c)
{
	return c == '=' || b64_value(c) >= 0;
}

int
b64_encode(struct rs_buf *out, const unsigned char *p, size_t n,
    size_t wrap, int pad)
{
	char q[4];
	size_t i, j, m, nq, col = 0;
	uint32_t v;
	int r;

	for (i = 0; i < n; i += 3) {
		m = n - i < 3 ? n - i : 3;
		v = (uint32_t)p[i] << 16;
		if (m > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (m > 2)
			v |= p[i + 2];
		q[0] = b64_chars[(v >> 18) & 0x3f];
		q[1] = b64_chars[(v >> 12) & 0x3f];
		q[2] = m > 1 ? b64_chars[(v >> 6) & 0x3f] : '=';
		q[3] = m > 2 ? b64_chars[v & 0x3f] : '=';
		nq = pad ? 4 : m + 1;
		for (j = 0; j < nq; j++) {
			if (wrap > 0 && col == wrap) {
				if ((r = rs_buf_put_u8(out, '\n')) != RS_OK)
					return r;
				col = 0;
			}
			if ((r = rs_buf_put_u8(out, (uint8_t)q[j])) != RS_OK)
				return r;
			col++;
		}
	}
	return RS_OK;
}

int
b64_decode(const unsigned char *s, size_t n, struct rs_buf *out)
{
	unsigned char o[3];
	size_t i, no;
	int a, b, c, d, last, r;

	if (n == 0 || n % 4 != 0)
		return RS_ERR_FORMAT;
	for (i = 0; i < n; i += 4) {
		last = i + 4 == n;
		a = b64_value(s[i]);
		b = b64_value(s[i + 1]);
		if (a < 0 || b < 0)
			return RS_ERR_FORMAT;
		no = 3;
		if (last && s[i + 2] == '=' && s[i + 3] == '=') {
			if ((b & 0x0f) != 0)
				return RS_ERR_FORMAT;
			c = d = 0;
			no = 1;
		} else if (last && s[i + 3] == '=') {
			if ((c = b64_value(s[i + 2])) < 0 || (c & 0x03) != 0)
				return RS_ERR_FORMAT;
			d = 0;
			no = 2;
		} else {
			c = b64_value(s[i + 2]);
			d = b64_value(s[i + 3]);
			if (c < 0 || d < 0)
				return RS_ERR_FORMAT;
		}
		o[0] = (unsigned char)(a << 2 | b >> 4);
		o[1] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
		o[2] = (unsigned char)((c & 0x03) << 6 | d);
		r = rs_buf_put(out, o, no);
		rs_wipe(o, sizeof(o));
		if (r != RS_OK)
			return r;
	}
	return RS_OK;
}

/* Armor ---------------------------------------------------------------- */

static int
line_is(const unsigned char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

int
b64_armor_decode(const char *text, size_t len, const char *begin,
    const char *end, int lenient, size_t max, struct rs_buf *out)
{
	const unsigned char *t = (const unsigned char *)text, *l;
	struct rs_buf b64;
	size_t pos = 0, n, i;
	int first = 1, done = 0, eol, r;

	rs_buf_init(&b64, max);
	while (pos < len) {
		l = t + pos;
		for (n = 0; pos + n < len && l[n] != '\n'; n++)
			;
		eol = pos + n < len;		/* a newline ends this line */
		pos += n + (eol ? 1 : 0);
		if (lenient && n > 0 && l[n - 1] == '\r')
			n--;
		if (first) {
			if (!line_is(l, n, begin)) {
				r = (!eol && n < strlen(begin) &&
				    memcmp(l, begin, n) == 0) ?
				    RS_ERR_TRUNC : RS_ERR_FORMAT;
				goto out;
			}
			first = 0;
			continue;
		}
		if (line_is(l, n, end)) {
			done = 1;
			break;
		}
		for (i = 0; i < n; i++)
			if (!b64_is_char(l[i]))
				break;
		if (i < n || n == 0) {
			/* The END line itself, cut short, is truncation. */
			if (!eol && n < strlen(end) && memcmp(l, end, n) == 0)
				r = RS_ERR_TRUNC;
			else
				r = RS_ERR_FORMAT;
			goto out;
		}
		if ((r = rs_buf_put(&b64, l, n)) != RS_OK)
			goto out;
	}
	if (!done) {		/* empty, or cut before the END line */
		r = RS_ERR_TRUNC;
		goto out;
	}
	for (; pos < len; pos++) {
		if (!lenient || (t[pos] != '\n' && t[pos] != '\r' &&
		    t[pos] != ' ' && t[pos] != '\t')) {
			r = RS_ERR_TRAILING;
			goto out;
		}
	}
	r = b64_decode(b64.data, b64.len, out);
out:
	rs_buf_free(&b64);
	return r;
}

int
b64_armor_encode(const unsigned char *p, size_t n, const char *begin,
    const char *end, struct rs_buf *out)
{
	int r;

	if ((r = rs_buf_put_str(out, begin)) != RS_OK ||
	    (r = rs_buf_put_u8(out, '\n')) != RS_OK ||
	    (r = b64_encode(out, p, n, B64_WRAP, 1)) != RS_OK ||
	    (r = rs_buf_put_u8(out, '\n')) != RS_OK ||
	    (r = rs_buf_put_str(out, end)) != RS_OK ||
	    (r = rs_buf_put_u8(out, '\n')) != RS_OK)
		return r;
	return RS_OK;
}
