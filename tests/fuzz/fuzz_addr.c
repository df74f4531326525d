/*
 * fuzz_addr.c - libFuzzer target for the address checker and the
 * proxyAddresses normalizer (common/addr.c, docs/FORMAT.md section 3).
 *
 * API:        LLVMFuzzerTestOneInput; the input is one candidate address,
 *             domain and proxyAddresses value at once.
 * Ownership:  every buffer is allocated and freed here, each of exactly the
 *             size the API promises to use, so ASan sees any overrun.
 * Errors:     an invariant that does not hold aborts (FZ_ASSERT).
 * Trust:      this is the gate between directory data (anyone who can edit
 *             proxyAddresses) and a Postfix table key.  The invariants are
 *             the properties the map depends on: whatever addr_from_proxy
 *             accepts passes addr_check, is lowercase, has no byte below
 *             0x21 or above 0x7e, and has no '#' (a comment in a table).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "rs_limits.h"
#include "rs_err.h"

#include "fuzz.h"

#define FZ_OUTSIZE	(RS_MAX_ADDR_LEN + 1)

/* Bytes a Postfix table key may contain, as addr_check promises. */
static void
fz_key_bytes_ok(const char *a, size_t len)
{
	size_t i, nat = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)a[i];
		FZ_ASSERT(c >= 0x21 && c <= 0x7e, "byte outside 0x21-0x7e");
		FZ_ASSERT(!(c >= 'A' && c <= 'Z'), "upper case letter");
		FZ_ASSERT(c != '#', "'#' in an address");
		FZ_ASSERT(c != '"' && c != '\\', "quoting character");
		if (c == '@')
			nat++;
	}
	FZ_ASSERT(nat == 1, "not exactly one '@'");
}

/* Everything that must hold for an address addr_check accepted. */
static void
fz_accepted(const char *a, size_t len)
{
	const char *d, *why = NULL;
	size_t dlen = 99999;

	FZ_ASSERT(len >= 3 && len <= RS_MAX_ADDR_LEN, "address length");
	fz_key_bytes_ok(a, len);
	d = addr_domain(a, len, &dlen);
	FZ_ASSERT(d != NULL, "addr_domain found no domain");
	FZ_ASSERT(d > a && d <= a + len && d[-1] == '@', "domain pointer");
	FZ_ASSERT((size_t)(d - a) + dlen == len, "domain length");
	FZ_ASSERT((size_t)(d - a) - 1 >= 1 &&
	    (size_t)(d - a) - 1 <= RS_MAX_LOCAL_LEN, "local part length");
	FZ_ASSERT(a[0] != '.' && d[-2] != '.', "local part dot at an end");
	FZ_ASSERT(addr_check_domain(d, dlen, &why) == RS_OK,
	    "domain of a valid address fails addr_check_domain");
}

static void
fz_check(const char *a, size_t len)
{
	const char *why = NULL;
	int r, r2;

	r = addr_check(a, len, &why);
	r2 = addr_check(a, len, NULL);
	FZ_ASSERT(r == r2, "result depends on the why pointer");
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "addr_check return code");
	if (r != RS_OK) {
		FZ_ASSERT(why != NULL && why[0] != '\0', "refusal without reason");
		return;
	}
	fz_accepted(a, len);
}

static void
fz_domain(const char *d, size_t len)
{
	const char *why = NULL;
	char *a;
	size_t i;
	int r;

	r = addr_check_domain(d, len, &why);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX,
	    "addr_check_domain return code");
	if (r != RS_OK) {
		FZ_ASSERT(why != NULL && why[0] != '\0', "refusal without reason");
		return;
	}
	FZ_ASSERT(len >= 1 && len <= RS_MAX_DOMAIN_LEN, "domain length");
	for (i = 0; i < len; i++)
		FZ_ASSERT((d[i] >= 'a' && d[i] <= 'z') ||
		    (d[i] >= '0' && d[i] <= '9') || d[i] == '-' || d[i] == '.',
		    "domain byte outside [a-z0-9.-]");
	/* A valid domain makes a valid address with a valid local part. */
	if (len + 2 <= RS_MAX_ADDR_LEN) {
		a = malloc(len + 2);
		if (a == NULL)
			abort();
		a[0] = 'x';
		a[1] = '@';
		memcpy(a + 2, d, len);
		FZ_ASSERT(addr_check(a, len + 2, &why) == RS_OK,
		    "x@DOMAIN refused for a valid DOMAIN");
		free(a);
	}
}

static unsigned char
fz_fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static void
fz_proxy(const char *v, size_t len)
{
	const char *why = NULL;
	char *out, *small;
	size_t i, outlen = 99999;
	int r;

	out = malloc(FZ_OUTSIZE);
	small = malloc(FZ_OUTSIZE - 1);
	if (out == NULL || small == NULL)
		abort();

	r = addr_from_proxy(v, len, out, FZ_OUTSIZE, &outlen, &why);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX || r == RS_ERR_NOT_SMTP,
	    "addr_from_proxy return code");
	if (r == RS_ERR_SYNTAX)
		FZ_ASSERT(why != NULL && why[0] != '\0', "refusal without reason");
	if (r == RS_OK) {
		FZ_ASSERT(outlen <= RS_MAX_ADDR_LEN, "output length");
		FZ_ASSERT(out[outlen] == '\0', "output not NUL-terminated");
		FZ_ASSERT(strlen(out) == outlen, "NUL inside the output");
		FZ_ASSERT(addr_check(out, outlen, &why) == RS_OK,
		    "addr_from_proxy result fails addr_check");
		fz_accepted(out, outlen);
		/* The value is "smtp:" in any case, then the address. */
		FZ_ASSERT(len == outlen + 5, "output is not the value minus smtp:");
		for (i = 0; i < 5; i++)
			FZ_ASSERT(fz_fold((unsigned char)v[i]) ==
			    (unsigned char)"smtp:"[i], "prefix is not smtp:");
		for (i = 0; i < outlen; i++)
			FZ_ASSERT((unsigned char)out[i] ==
			    fz_fold((unsigned char)v[5 + i]),
			    "output is not the lowercased value");
	} else if (r == RS_ERR_NOT_SMTP && len >= 5) {
		for (i = 0; i < 5; i++)
			if (fz_fold((unsigned char)v[i]) !=
			    (unsigned char)"smtp:"[i])
				break;
		FZ_ASSERT(i < 5, "smtp: value called another type");
	}

	/* Too small an output buffer is refused before anything is written. */
	r = addr_from_proxy(v, len, small, FZ_OUTSIZE - 1, &outlen, &why);
	FZ_ASSERT(r == RS_ERR_INVAL, "small output buffer accepted");
	free(small);
	free(out);
}

/* An address addr_check accepts survives the trip through smtp:/SMTP:. */
static void
fz_roundtrip(const char *a, size_t len)
{
	static const char *const pfx[] = { "smtp:", "SMTP:", "SmTp:" };
	const char *why = NULL;
	char *v, *out;
	size_t i, outlen = 0;

	if (addr_check(a, len, NULL) != RS_OK)
		return;
	if ((out = malloc(FZ_OUTSIZE)) == NULL ||
	    (v = malloc(len + 5)) == NULL)
		abort();
	for (i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
		memcpy(v, pfx[i], 5);
		memcpy(v + 5, a, len);
		FZ_ASSERT(addr_from_proxy(v, len + 5, out, FZ_OUTSIZE,
		    &outlen, &why) == RS_OK, "prefixed valid address refused");
		FZ_ASSERT(outlen == len && memcmp(out, a, len) == 0,
		    "prefixed valid address changed");
	}
	free(v);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p;

	/* Exactly size bytes, no terminator: the API takes lengths. */
	p = fz_dup(data, size, 0);
	fz_check(p, size);
	fz_domain(p, size);
	fz_proxy(p, size);
	fz_roundtrip(p, size);
	free(p);
	return 0;
}
