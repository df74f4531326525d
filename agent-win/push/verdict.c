/*
 * verdict.c - pick the receiver's verdict on one agent out of the relay's
 * status file (docs/FORMAT.md section 6):
 *
 *     { ..., "agents": { ..., "AGENT": { "accepted_sequence": N,
 *       "rejected_sequence": N, "rejected_reason": "...", ... } } }
 *
 * The whole file must be one well-formed JSON object (RFC 8259), within
 * the limits of rs_limits.h: at most RS_MAX_STATUS_BYTES, objects and
 * arrays nested at most RS_MAX_STATUS_DEPTH deep, no string longer than
 * RS_MAX_STATUS_STRING bytes as written.  Everything but our three fields
 * is only checked and skipped.  Our fields must have their types:
 * sequences are whole numbers 0..2^63-1, the reason a string of at most
 * RS_MAX_REASON bytes; "agents", our agent and each of our fields may
 * appear once.
 *
 * API:        verdict_parse (verdict.h).
 * Ownership:  nothing is allocated; the scan keeps pointers into the text.
 * Errors:     see verdict.h; the first error found is reported, with the
 *             byte it was found at.
 * Trust:      the text is hostile (a compromised relay writes it).  Each
 *             read is bounds-checked against the end of the text, the
 *             recursion is bounded by RS_MAX_STATUS_DEPTH, and the reason
 *             kept is made printable ASCII: escaped control characters
 *             become spaces and anything beyond ASCII '?'.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "verdict.h"

#define VD_STR_(x)	#x
#define VD_STR(x)	VD_STR_(x)

/* Keys longer than this never match: our fields and agent ids are short. */
#define VD_KEY_MAX	RS_MAX_AGENT_ID

struct vd_scan {
	const char	*p, *end;
	int		 depth;
	const char	*what;		/* the first error */
	const char	*where;
};

struct vd_ctx {
	const char	*agent;
	struct verdict	*v;
	unsigned	 seen;		/* VD_SEEN_* */
};

enum {
	VD_SEEN_AGENTS	= 1 << 0,
	VD_SEEN_OURS	= 1 << 1,
	VD_SEEN_ACC	= 1 << 2,
	VD_SEEN_REJ	= 1 << 3,
	VD_SEEN_REASON	= 1 << 4,
};

typedef int vd_member_fn(struct vd_scan *s, const char *key, void *arg);

static int	vd_value(struct vd_scan *s);

static int
vd_fail(struct vd_scan *s, int err, const char *what)
{
	if (s->what == NULL) {
		s->what = what;
		s->where = s->p;
	}
	return err;
}

static int
vd_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
vd_ws(struct vd_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* White space, then c. */
static int
vd_expect(struct vd_scan *s, char c, const char *what)
{
	vd_ws(s);
	if (s->p >= s->end)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	if (*s->p != c)
		return vd_fail(s, RS_ERR_FORMAT, what);
	s->p++;
	return RS_OK;
}

static int
vd_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A string.  Its text, made printable ASCII, goes into out when outsize >
 * 0; *n (if not NULL) is the decoded length, even when out only holds
 * the first outsize - 1 bytes.
 */
static int
vd_string(struct vd_scan *s, char *out, size_t outsize, size_t *n)
{
	const char *open;
	size_t o = 0;
	unsigned char c;
	int i, h, r;
	unsigned u;

	if ((r = vd_expect(s, '"', "expected a string")) != RS_OK)
		return r;
	open = s->p;
	for (;;) {
		if (s->p >= s->end)
			return vd_fail(s, RS_ERR_TRUNC, "a string is not closed");
		if ((size_t)(s->p - open) >= RS_MAX_STATUS_STRING &&
		    *s->p != '"')
			return vd_fail(s, RS_ERR_LIMIT, "a string is longer "
			    "than " VD_STR(RS_MAX_STATUS_STRING) " bytes");
		c = (unsigned char)*s->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return vd_fail(s, RS_ERR_FORMAT, "control character "
			    "in a string");
		s->p++;
		if (c == '\\') {
			if (s->p >= s->end)
				return vd_fail(s, RS_ERR_TRUNC, "a string is "
				    "not closed");
			c = (unsigned char)*s->p;
			switch (c) {
			case '"': case '\\': case '/':
				s->p++;
				break;
			case 'b': case 'f': case 'n': case 'r': case 't':
				s->p++;
				c = ' ';
				break;
			case 'u':
				s->p++;
				if (s->end - s->p < 4)
					return vd_fail(s, RS_ERR_TRUNC, "a "
					    "string is not closed");
				for (u = 0, i = 0; i < 4; i++) {
					if ((h = vd_hex(s->p[i])) < 0)
						return vd_fail(s, RS_ERR_FORMAT,
						    "bad \\u escape");
					u = u * 16 + (unsigned)h;
				}
				s->p += 4;
				c = u < 0x20 ? ' ' : u < 0x7f ? (unsigned char)u :
				    '?';
				break;
			default:
				return vd_fail(s, RS_ERR_FORMAT, "unknown escape "
				    "in a string");
			}
		} else if (c >= 0x7f)
			c = '?';
		if (o + 1 < outsize)
			out[o] = (char)c;
		o++;
	}
	if ((size_t)(s->p - open) > RS_MAX_STATUS_STRING)
		return vd_fail(s, RS_ERR_LIMIT, "a string is longer than "
		    VD_STR(RS_MAX_STATUS_STRING) " bytes");
	s->p++;
	if (outsize > 0)
		out[o < outsize ? o : outsize - 1] = '\0';
	if (n != NULL)
		*n = o;
	return RS_OK;
}

/* One or more digits (a fraction or an exponent). */
static int
vd_digits(struct vd_scan *s)
{
	if (s->p >= s->end)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	if (!vd_digit(*s->p))
		return vd_fail(s, RS_ERR_FORMAT, "bad number");
	while (s->p < s->end && vd_digit(*s->p))
		s->p++;
	return RS_OK;
}

/* Any number, by the JSON grammar; skipped. */
static int
vd_number(struct vd_scan *s)
{
	int r;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	if (*s->p == '0')
		s->p++;
	else if (vd_digit(*s->p))
		while (s->p < s->end && vd_digit(*s->p))
			s->p++;
	else
		return vd_fail(s, RS_ERR_FORMAT, "expected a value");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if ((r = vd_digits(s)) != RS_OK)
			return r;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if ((r = vd_digits(s)) != RS_OK)
			return r;
	}
	return RS_OK;
}

/* One of our sequence numbers: a whole number, 0 to 2^63-1. */
static int
vd_seq(struct vd_scan *s, uint64_t *v)
{
	const char *d;

	vd_ws(s);
	d = s->p;
	while (s->p < s->end && vd_digit(*s->p))
		s->p++;
	if (s->p == d && s->p >= s->end)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	if (s->p == d || (s->p < s->end && (*s->p == '.' || *s->p == 'e' ||
	    *s->p == 'E'))) {
		s->p = d;
		return vd_fail(s, RS_ERR_SYNTAX, "a sequence is not a whole "
		    "number");
	}
	if (rs_parse_dec(d, (size_t)(s->p - d), 1, (uint64_t)INT64_MAX, v) !=
	    RS_OK) {
		s->p = d;
		return vd_fail(s, RS_ERR_SYNTAX, "a sequence is out of range "
		    "(leading zero, or above 2^63-1)");
	}
	return RS_OK;
}

static int
vd_word(struct vd_scan *s, const char *w)
{
	size_t n = strlen(w), left = (size_t)(s->end - s->p);

	if (left < n && memcmp(s->p, w, left) == 0)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	if (left < n || memcmp(s->p, w, n) != 0)
		return vd_fail(s, RS_ERR_FORMAT, "expected a value");
	s->p += n;
	return RS_OK;
}

static int
vd_deeper(struct vd_scan *s)
{
	if (++s->depth > RS_MAX_STATUS_DEPTH)
		return vd_fail(s, RS_ERR_LIMIT, "nested deeper than "
		    VD_STR(RS_MAX_STATUS_DEPTH) " levels");
	return RS_OK;
}

/* After a member or element: 1 for ',', 0 for close, or an error. */
static int
vd_next(struct vd_scan *s, char close, const char *what)
{
	vd_ws(s);
	if (s->p >= s->end)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	if (*s->p == ',') {
		s->p++;
		return 1;
	}
	if (*s->p != close)
		return vd_fail(s, RS_ERR_FORMAT, what);
	s->p++;
	s->depth--;
	return 0;
}

/* An object; fn (NULL: skip all) consumes the value of each member. */
static int
vd_object(struct vd_scan *s, vd_member_fn *fn, void *arg)
{
	char key[VD_KEY_MAX + 1];
	size_t klen;
	int r;

	if ((r = vd_expect(s, '{', "expected an object")) != RS_OK ||
	    (r = vd_deeper(s)) != RS_OK)
		return r;
	vd_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		s->depth--;
		return RS_OK;
	}
	do {
		if ((r = vd_string(s, key, sizeof(key), &klen)) != RS_OK ||
		    (r = vd_expect(s, ':', "expected ':' after a key")) !=
		    RS_OK)
			return r;
		/* A key that did not fit is none of ours. */
		if (fn != NULL && klen < sizeof(key))
			r = fn(s, key, arg);
		else
			r = vd_value(s);
		if (r != RS_OK)
			return r;
	} while ((r = vd_next(s, '}', "expected ',' or '}'")) == 1);
	return r;
}

static int
vd_array(struct vd_scan *s)
{
	int r;

	if ((r = vd_expect(s, '[', "expected an array")) != RS_OK ||
	    (r = vd_deeper(s)) != RS_OK)
		return r;
	vd_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		s->depth--;
		return RS_OK;
	}
	do {
		if ((r = vd_value(s)) != RS_OK)
			return r;
	} while ((r = vd_next(s, ']', "expected ',' or ']'")) == 1);
	return r;
}

/* Any value, checked and skipped. */
static int
vd_value(struct vd_scan *s)
{
	vd_ws(s);
	if (s->p >= s->end)
		return vd_fail(s, RS_ERR_TRUNC, "the file ends early");
	switch (*s->p) {
	case '{':
		return vd_object(s, NULL, NULL);
	case '[':
		return vd_array(s);
	case '"':
		return vd_string(s, NULL, 0, NULL);
	case 't':
		return vd_word(s, "true");
	case 'f':
		return vd_word(s, "false");
	case 'n':
		return vd_word(s, "null");
	default:
		return vd_number(s);
	}
}

static int
vd_once(struct vd_scan *s, struct vd_ctx *x, unsigned bit, const char *what)
{
	if (x->seen & bit)
		return vd_fail(s, RS_ERR_FORMAT, what);
	x->seen |= bit;
	return RS_OK;
}

static int
vd_ours(struct vd_scan *s, const char *key, void *arg)
{
	struct vd_ctx *x = arg;
	size_t n;
	int r;

	if (strcmp(key, "accepted_sequence") == 0)
		return (r = vd_once(s, x, VD_SEEN_ACC, "accepted_sequence "
		    "appears twice")) != RS_OK ? r : vd_seq(s, &x->v->accepted);
	if (strcmp(key, "rejected_sequence") == 0)
		return (r = vd_once(s, x, VD_SEEN_REJ, "rejected_sequence "
		    "appears twice")) != RS_OK ? r : vd_seq(s, &x->v->rejected);
	if (strcmp(key, "rejected_reason") == 0) {
		if ((r = vd_once(s, x, VD_SEEN_REASON, "rejected_reason "
		    "appears twice")) != RS_OK ||
		    (r = vd_string(s, x->v->reason, sizeof(x->v->reason),
		    &n)) != RS_OK)
			return r;
		if (n > RS_MAX_REASON)
			return vd_fail(s, RS_ERR_LIMIT, "rejected_reason is "
			    "longer than " VD_STR(RS_MAX_REASON) " bytes");
		return RS_OK;
	}
	return vd_value(s);
}

static int
vd_agents(struct vd_scan *s, const char *key, void *arg)
{
	struct vd_ctx *x = arg;
	int r;

	if (strcmp(key, x->agent) != 0)
		return vd_value(s);
	if ((r = vd_once(s, x, VD_SEEN_OURS, "our agent appears twice")) !=
	    RS_OK)
		return r;
	return vd_object(s, vd_ours, x);
}

static int
vd_top(struct vd_scan *s, const char *key, void *arg)
{
	struct vd_ctx *x = arg;
	int r;

	if (strcmp(key, "agents") != 0)
		return vd_value(s);
	if ((r = vd_once(s, x, VD_SEEN_AGENTS, "agents appears twice")) !=
	    RS_OK)
		return r;
	return vd_object(s, vd_agents, x);
}

int
verdict_parse(const char *text, size_t len, const char *agent,
    struct verdict *v, struct verdict_err *e)
{
	struct vd_scan s;
	struct vd_ctx x;
	int r;

	memset(v, 0, sizeof(*v));
	e->offset = 0;
	e->what = NULL;
	if (len > RS_MAX_STATUS_BYTES) {
		e->offset = RS_MAX_STATUS_BYTES;
		e->what = "larger than RS_MAX_STATUS_BYTES";
		return RS_ERR_LIMIT;
	}
	memset(&s, 0, sizeof(s));
	s.p = text;
	s.end = text + len;
	x.agent = agent;
	x.v = v;
	x.seen = 0;
	vd_ws(&s);
	if (s.p == s.end)
		r = vd_fail(&s, RS_ERR_TRUNC, "the file is empty");
	else if ((r = vd_object(&s, vd_top, &x)) == RS_OK) {
		vd_ws(&s);
		if (s.p != s.end)
			r = vd_fail(&s, RS_ERR_TRAILING, "data after the "
			    "object");
	}
	if (r != RS_OK) {
		memset(v, 0, sizeof(*v));
		e->what = s.what != NULL ? s.what : rs_err_str(r);
		e->offset = s.where != NULL ? (size_t)(s.where - text) : 0;
	}
	return r;
}
