/*
 * test_buf.c - table tests for common/buf.c: the bounded growable buffer
 * (limits, the NUL after the data, unchanged state after a refused write)
 * and the length-checked reader (truncation never moves the cursor,
 * sub-readers stay inside their string, trailing data is reported).
 *
 * Output: the tests/run protocol through unit.h; exit status 1 when a
 * check failed.  No files, no network.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rs_err.h"
#include "unit.h"

/* Reader operations a table row can apply. */
enum op {
	OP_U8,
	OP_U32,
	OP_BYTES,	/* arg: count */
	OP_STRING,
	OP_STRING_EQ,	/* want: the string */
	OP_SUB_U32,	/* sub-reader, then read a u32 from it */
	OP_SUB_DONE,	/* sub-reader, read arg bytes, then rs_rd_done */
	OP_DONE
};

struct rd_case {
	const char	*name;
	const char	*in;		/* bytes; length in len */
	size_t		 len;
	enum op		 op;
	size_t		 arg;
	const char	*want;
	int		 rc;		/* expected return */
	size_t		 off;		/* expected cursor afterwards */
	uint32_t	 val;		/* expected value for OP_U8/OP_U32 */
};

static const struct rd_case rd_cases[] = {
	{ "rd u8 ok", "\x7f", 1, OP_U8, 0, NULL, RS_OK, 1, 0x7f },
	{ "rd u8 empty", "", 0, OP_U8, 0, NULL, RS_ERR_TRUNC, 0, 0 },
	{ "rd u32 big-endian", "\x01\x02\x03\x04", 4, OP_U32, 0, NULL,
	    RS_OK, 4, 0x01020304 },
	{ "rd u32 high bit", "\xff\xff\xff\xfe", 4, OP_U32, 0, NULL,
	    RS_OK, 4, 0xfffffffe },
	{ "rd u32 3 bytes", "\x01\x02\x03", 3, OP_U32, 0, NULL,
	    RS_ERR_TRUNC, 0, 0 },
	{ "rd bytes exact", "abc", 3, OP_BYTES, 3, NULL, RS_OK, 3, 0 },
	{ "rd bytes zero", "", 0, OP_BYTES, 0, NULL, RS_OK, 0, 0 },
	{ "rd bytes over", "abc", 3, OP_BYTES, 4, NULL, RS_ERR_TRUNC, 0, 0 },
	{ "rd bytes huge", "abc", 3, OP_BYTES, SIZE_MAX, NULL,
	    RS_ERR_TRUNC, 0, 0 },
	{ "rd string ok", "\0\0\0\x02hi", 6, OP_STRING, 0, "hi", RS_OK, 6,
	    0 },
	{ "rd string empty", "\0\0\0\0", 4, OP_STRING, 0, "", RS_OK, 4, 0 },
	{ "rd string no length", "\0\0\0", 3, OP_STRING, 0, NULL,
	    RS_ERR_TRUNC, 0, 0 },
	{ "rd string short body", "\0\0\0\x03hi", 6, OP_STRING, 0, NULL,
	    RS_ERR_TRUNC, 0, 0 },
	{ "rd string 4G length", "\xff\xff\xff\xffhi", 6, OP_STRING, 0, NULL,
	    RS_ERR_TRUNC, 0, 0 },
	{ "rd string_eq ok", "\0\0\0\x06SSHSIG", 10, OP_STRING_EQ, 0,
	    "SSHSIG", RS_OK, 10, 0 },
	{ "rd string_eq differs", "\0\0\0\x06SSHSIX", 10, OP_STRING_EQ, 0,
	    "SSHSIG", RS_ERR_FORMAT, 0, 0 },
	{ "rd string_eq prefix", "\0\0\0\x05SSHSI", 9, OP_STRING_EQ, 0,
	    "SSHSIG", RS_ERR_FORMAT, 0, 0 },
	{ "rd string_eq longer", "\0\0\0\x07SSHSIGX", 11, OP_STRING_EQ, 0,
	    "SSHSIG", RS_ERR_FORMAT, 0, 0 },
	{ "rd string_eq embedded NUL", "\0\0\0\x07SSHSIG\0", 11,
	    OP_STRING_EQ, 0, "SSHSIG", RS_ERR_FORMAT, 0, 0 },
	{ "rd string_eq truncated", "\0\0\0\x06SSH", 7, OP_STRING_EQ, 0,
	    "SSHSIG", RS_ERR_TRUNC, 0, 0 },
	{ "rd sub u32 ok", "\0\0\0\x04\0\0\0\x09", 8, OP_SUB_U32, 0, NULL,
	    RS_OK, 8, 9 },
	{ "rd sub cannot read past its string",
	    "\0\0\0\x02\0\0\0\x09", 8, OP_SUB_U32, 0, NULL, RS_ERR_TRUNC, 6,
	    0 },
	{ "rd sub truncated", "\0\0\0\x09\0\0", 6, OP_SUB_U32, 0, NULL,
	    RS_ERR_TRUNC, 0, 0 },
	{ "rd sub done", "\0\0\0\x02hiX", 7, OP_SUB_DONE, 2, NULL, RS_OK, 6,
	    0 },
	{ "rd sub trailing", "\0\0\0\x02hiX", 7, OP_SUB_DONE, 1, NULL,
	    RS_ERR_TRAILING, 6, 0 },
	{ "rd done empty", "", 0, OP_DONE, 0, NULL, RS_OK, 0, 0 },
	{ "rd done trailing", "x", 1, OP_DONE, 0, NULL, RS_ERR_TRAILING, 0,
	    0 },
};

static void
run_rd_case(const struct rd_case *c)
{
	struct rs_rd r, sub;
	const unsigned char *p = NULL;
	size_t n = 0;
	uint32_t v32 = 0;
	uint8_t v8 = 0;
	char name[128];
	int rc, ok;

	rs_rd_init(&r, c->in, c->len);
	switch (c->op) {
	case OP_U8:
		rc = rs_rd_u8(&r, &v8);
		v32 = v8;
		break;
	case OP_U32:
		rc = rs_rd_u32(&r, &v32);
		break;
	case OP_BYTES:
		rc = rs_rd_bytes(&r, c->arg, &p);
		break;
	case OP_STRING:
		rc = rs_rd_string(&r, &p, &n);
		break;
	case OP_STRING_EQ:
		rc = rs_rd_string_eq(&r, c->want);
		break;
	case OP_SUB_U32:
		if ((rc = rs_rd_sub(&r, &sub)) == RS_OK)
			rc = rs_rd_u32(&sub, &v32);
		break;
	case OP_SUB_DONE:
		if ((rc = rs_rd_sub(&r, &sub)) == RS_OK &&
		    (rc = rs_rd_bytes(&sub, c->arg, NULL)) == RS_OK)
			rc = rs_rd_done(&sub);
		break;
	case OP_DONE:
	default:
		rc = rs_rd_done(&r);
		break;
	}
	ok = rc == c->rc && r.off == c->off;
	if (ok && rc == RS_OK && (c->op == OP_U8 || c->op == OP_U32 ||
	    c->op == OP_SUB_U32))
		ok = v32 == c->val;
	if (ok && rc == RS_OK && c->op == OP_STRING)
		ok = n == strlen(c->want) && memcmp(p, c->want, n) == 0 &&
		    p == (const unsigned char *)c->in + 4;
	if (ok && rc == RS_OK && c->op == OP_BYTES && c->arg > 0)
		ok = p == (const unsigned char *)c->in;
	if (!ok)
		fprintf(stderr, "%s: rc %d (want %d) off %zu (want %zu) "
		    "val %u (want %u)\n", c->name, rc, c->rc, r.off, c->off,
		    (unsigned)v32, (unsigned)c->val);
	snprintf(name, sizeof(name), "%s", c->name);
	UT_CHECK(name, ok);
}

/* Buffer: writes within and beyond the maximum. */
static void
test_buf_limits(void)
{
	struct rs_buf b;
	int rc;

	rs_buf_init(&b, 8);
	UT_CHECK("buf init empty", b.len == 0 && b.data == NULL);
	rc = rs_buf_put(&b, "12345678", 8);
	UT_CHECK("buf put up to max", rc == RS_OK && b.len == 8 &&
	    memcmp(b.data, "12345678", 8) == 0);
	UT_CHECK("buf NUL after data", b.data[8] == '\0');
	rc = rs_buf_put(&b, "9", 1);
	UT_CHECK("buf put past max refused", rc == RS_ERR_LIMIT &&
	    b.len == 8 && memcmp(b.data, "12345678", 9) == 0);
	rc = rs_buf_put(&b, "", 0);
	UT_CHECK("buf put nothing at max", rc == RS_OK && b.len == 8);
	rs_buf_reset(&b);
	UT_CHECK("buf reset", b.len == 0 && b.data[0] == '\0');
	rc = rs_buf_put_u32(&b, 0x0a0b0c0d);
	UT_CHECK("buf put_u32 big-endian", rc == RS_OK && b.len == 4 &&
	    memcmp(b.data, "\x0a\x0b\x0c\x0d", 4) == 0);
	rc = rs_buf_put_string(&b, "abcde", 5);
	UT_CHECK("buf put_string over max leaves buffer", rc == RS_ERR_LIMIT &&
	    b.len == 4 && memcmp(b.data, "\x0a\x0b\x0c\x0d", 5) == 0);
	rc = rs_buf_reserve(&b, SIZE_MAX);
	UT_CHECK("buf reserve SIZE_MAX", rc == RS_ERR_LIMIT && b.len == 4);
	rc = rs_buf_reserve(&b, SIZE_MAX - 2);
	UT_CHECK("buf reserve wraps", rc == RS_ERR_LIMIT && b.len == 4);
	rs_buf_free(&b);
	UT_CHECK("buf free", b.data == NULL && b.len == 0 && b.cap == 0);

	rs_buf_init(&b, 0);
	UT_CHECK("buf max 0 refuses a byte",
	    rs_buf_put_u8(&b, 1) == RS_ERR_LIMIT && b.len == 0);
	UT_CHECK("buf max 0 takes nothing", rs_buf_put(&b, "", 0) == RS_OK &&
	    b.len == 0 && b.data != NULL && b.data[0] == '\0');
	rs_buf_free(&b);
}

static void
test_buf_strings(void)
{
	struct rs_buf b;
	int rc;

	rs_buf_init(&b, 64);
	rc = rs_buf_put_cstring(&b, "ssh-ed25519");
	UT_CHECK("buf put_cstring wire form", rc == RS_OK && b.len == 15 &&
	    memcmp(b.data, "\0\0\0\x0bssh-ed25519", 15) == 0);
	rc = rs_buf_put_string(&b, NULL, 0);
	UT_CHECK("buf put_string empty", rc == RS_OK && b.len == 19 &&
	    memcmp(b.data + 15, "\0\0\0\0", 4) == 0);
	rs_buf_reset(&b);
	rc = rs_buf_printf(&b, "%s=%d", "n", 42);
	UT_CHECK("buf printf", rc == RS_OK && b.len == 4 &&
	    strcmp((char *)b.data, "n=42") == 0);
	rc = rs_buf_printf(&b, "%070d", 1);
	UT_CHECK("buf printf past max refused", rc == RS_ERR_LIMIT &&
	    b.len == 4 && strcmp((char *)b.data, "n=42") == 0);
	rc = rs_buf_put_str(&b, "!");
	UT_CHECK("buf put_str", rc == RS_OK &&
	    strcmp((char *)b.data, "n=42!") == 0);
	rs_buf_free(&b);
}

/* Growth keeps earlier bytes across several reallocations. */
static void
test_buf_growth(void)
{
	struct rs_buf b;
	unsigned char x[1000];
	size_t i;
	int rc = RS_OK, ok = 1;

	for (i = 0; i < sizeof(x); i++)
		x[i] = (unsigned char)(i * 7 + 3);
	rs_buf_init(&b, 100000);
	for (i = 0; i < 60 && rc == RS_OK; i++)
		rc = rs_buf_put(&b, x, sizeof(x));
	for (i = 0; i < 60 && ok; i++)
		ok = memcmp(b.data + i * sizeof(x), x, sizeof(x)) == 0;
	UT_CHECK("buf growth keeps data", rc == RS_OK && ok &&
	    b.len == 60000 && b.data[b.len] == '\0' && b.cap <= 100001);
	rs_buf_free(&b);
}

static void
test_rd_sequence(void)
{
	static const unsigned char msg[] =
	    "SSHSIG\0\0\0\x01\0\0\0\x03" "abc" "\0\0\0\0";
	struct rs_rd r;
	const unsigned char *p;
	uint32_t v;
	size_t n;
	int ok;

	rs_rd_init(&r, msg, sizeof(msg) - 1);
	ok = rs_rd_bytes(&r, 6, &p) == RS_OK && memcmp(p, "SSHSIG", 6) == 0 &&
	    rs_rd_u32(&r, &v) == RS_OK && v == 1 &&
	    rs_rd_left(&r) == 11 &&
	    rs_rd_string(&r, &p, &n) == RS_OK && n == 3 &&
	    rs_rd_string(&r, &p, &n) == RS_OK && n == 0 &&
	    rs_rd_done(&r) == RS_OK &&
	    rs_rd_u8(&r, (uint8_t *)&v) == RS_ERR_TRUNC;
	UT_CHECK("rd sequence to the end", ok);
}

static void
test_wipe(void)
{
	unsigned char k[32];
	size_t i;
	int ok = 1;

	memset(k, 0xa5, sizeof(k));
	rs_wipe(k, sizeof(k));
	for (i = 0; i < sizeof(k); i++)
		ok &= k[i] == 0;
	UT_CHECK("wipe zeroes", ok);
}

/* rs_grow: doubling from init, need met, overflow refused, state kept. */
static void
test_grow(void)
{
	uint32_t *v = NULL;
	void *p;
	size_t cap = 0, i;
	int ok = 1;

	UT_CHECK("grow from nothing", rs_grow((void **)&v, &cap, 1,
	    sizeof(*v), 8) == RS_OK && v != NULL && cap == 8);
	for (i = 0; i < 1000; i++) {
		if (rs_grow((void **)&v, &cap, i + 1, sizeof(*v), 8) != RS_OK) {
			ok = 0;
			break;
		}
		v[i] = (uint32_t)i;
	}
	UT_CHECK("grow to 1000 keeps every element", ok && cap == 1024 &&
	    v[0] == 0 && v[999] == 999);
	UT_CHECK("grow: need within cap is a no-op",
	    rs_grow((void **)&v, &cap, 10, sizeof(*v), 8) == RS_OK &&
	    cap == 1024);
	p = v;
	UT_CHECK("grow: size overflow refused, array kept",
	    rs_grow((void **)&v, &cap, SIZE_MAX / 2 + 2, sizeof(*v), 8) ==
	    RS_ERR_NOMEM && v == p && cap == 1024);
	UT_CHECK("grow: element size overflow refused",
	    rs_grow((void **)&v, &cap, 2048, SIZE_MAX / 1024, 8) ==
	    RS_ERR_NOMEM && v == p && cap == 1024);
	free(v);
	v = NULL;
	cap = 0;
	UT_CHECK("grow: init 0 refused", rs_grow((void **)&v, &cap, 1,
	    sizeof(*v), 0) == RS_ERR_NOMEM && v == NULL && cap == 0);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rd_cases) / sizeof(rd_cases[0]); i++)
		run_rd_case(&rd_cases[i]);
	test_buf_limits();
	test_buf_strings();
	test_buf_growth();
	test_rd_sequence();
	test_grow();
	test_wipe();
	return ut_exit();
}
