/*
 * test_hash.c - unit tests for common/hash.c: known-answer vectors for
 * SHA-256 and SHA-512 (FIPS 180-2 examples), streaming in odd chunk sizes
 * against the one-shot result, rs_hex, algorithm refusal, rs_random.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "rs_err.h"
#include "unit.h"

struct kat {
	const char	*alg;
	const char	*msg;
	size_t		 repeat;	/* msg repeated this many times */
	const char	*hex;
};

static const struct kat kats[] = {
	{ "sha256", "", 1,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "sha256", "abc", 1,
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "sha256", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "sha256", "a", 1000000,
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ "sha512", "abc", 1,
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
	{ "sha512", "", 1,
	  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
};

static int
kat_stream(const struct kat *k, char *hex)
{
	struct rs_hash *h = NULL;
	unsigned char md[RS_HASH_MAX];
	size_t mdlen, i, ml = strlen(k->msg);
	int r;

	if ((r = rs_hash_new(k->alg, &h)) != RS_OK)
		return r;
	for (i = 0; i < k->repeat; i++)
		if ((r = rs_hash_update(h, k->msg, ml)) != RS_OK)
			goto out;
	if ((r = rs_hash_final(h, md, &mdlen)) != RS_OK)
		goto out;
	rs_hex(md, mdlen, hex);
out:
	rs_hash_free(h);
	return r;
}

int
main(void)
{
	char hex[2 * RS_HASH_MAX + 1], hex2[2 * RS_HASH_MAX + 1];
	char name[128];
	unsigned char md[RS_HASH_MAX], md2[RS_SHA256_LEN], *data;
	struct rs_hash *h;
	size_t i, off, step, mdlen;
	int r, ok;

	for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		snprintf(name, sizeof(name), "hash kat %zu (%s)", i,
		    kats[i].alg);
		r = kat_stream(&kats[i], hex);
		UT_CHECK(name, r == RS_OK && strcmp(hex, kats[i].hex) == 0);
	}

	/* One-shot SHA-256 of "abc" and of nothing. */
	r = rs_sha256("abc", 3, md2);
	rs_hex(md2, sizeof(md2), hex);
	UT_CHECK("rs_sha256 abc", r == RS_OK && strcmp(hex, kats[1].hex) == 0);
	r = rs_sha256(NULL, 0, md2);
	rs_hex(md2, sizeof(md2), hex);
	UT_CHECK("rs_sha256 empty", r == RS_OK &&
	    strcmp(hex, kats[0].hex) == 0);

	/* Streaming in every chunk size 1..97 equals one-shot. */
	data = malloc(4099);
	if (data == NULL)
		return 1;
	if (rs_random(data, 4099) != RS_OK)
		return 1;
	rs_sha256(data, 4099, md2);
	rs_hex(md2, sizeof(md2), hex2);
	ok = 1;
	for (step = 1; step < 98 && ok; step++) {
		h = NULL;
		if (rs_hash_new("sha256", &h) != RS_OK) {
			ok = 0;
			break;
		}
		for (off = 0; off < 4099; off += step)
			rs_hash_update(h, data + off,
			    4099 - off < step ? 4099 - off : step);
		if (rs_hash_final(h, md, &mdlen) != RS_OK ||
		    mdlen != RS_SHA256_LEN)
			ok = 0;
		rs_hex(md, RS_SHA256_LEN, hex);
		if (strcmp(hex, hex2) != 0)
			ok = 0;
		rs_hash_free(h);
	}
	UT_CHECK("hash chunked streaming equals one-shot", ok);
	free(data);

	/* Algorithms other than sha256/sha512 are refused. */
	h = (struct rs_hash *)1;
	UT_CHECK("hash refuses md5", rs_hash_new("md5", &h) == RS_ERR_ALG &&
	    h == NULL);
	UT_CHECK("hash refuses SHA256 (case)",
	    rs_hash_new("SHA256", &h) == RS_ERR_ALG);
	UT_CHECK("hash refuses sha1", rs_hash_new("sha1", &h) == RS_ERR_ALG);
	UT_CHECK("hash refuses NULL name", rs_hash_new(NULL, &h) == RS_ERR_ALG);

	/* Update after final is a misuse. */
	h = NULL;
	r = rs_hash_new("sha512", &h);
	if (r == RS_OK)
		r = rs_hash_final(h, md, &mdlen);
	UT_CHECK("hash sha512 length", r == RS_OK && mdlen == 64);
	UT_CHECK("hash update after final refused",
	    rs_hash_update(h, "x", 1) == RS_ERR_INVAL);
	rs_hash_free(h);
	rs_hash_free(NULL);

	/* rs_hex. */
	{
		static const unsigned char b[] = { 0x00, 0x0f, 0xa5, 0xff };

		rs_hex(b, sizeof(b), hex);
		UT_CHECK("rs_hex", strcmp(hex, "000fa5ff") == 0);
		rs_hex(b, 0, hex);
		UT_CHECK("rs_hex empty", hex[0] == '\0');
	}

	/* rs_random: fills, differs between calls. */
	{
		unsigned char a[32], b[32];

		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		UT_CHECK("rs_random ok", rs_random(a, sizeof(a)) == RS_OK &&
		    rs_random(b, sizeof(b)) == RS_OK);
		UT_CHECK("rs_random differs", memcmp(a, b, sizeof(a)) != 0);
		UT_CHECK("rs_random zero length", rs_random(NULL, 0) == RS_OK);
	}
	return ut_exit();
}
