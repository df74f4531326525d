/*
 * hash.c - streaming SHA-256 / SHA-512, hex output and random bytes, over
 * OpenSSL's EVP interface.  See hash.h for the contract.
 *
 * API:        rs_hash_new/update/final/free, rs_sha256, rs_hex, rs_random.
 * Ownership:  rs_hash_new hands out a context the caller releases with
 *             rs_hash_free (also after rs_hash_final).
 * Errors:     RS_ERR_ALG for an algorithm name other than "sha256" or
 *             "sha512", RS_ERR_NOMEM, RS_ERR_CRYPTO when OpenSSL fails,
 *             RS_ERR_INVAL for misuse (update after final, NULL context).
 * Trust:      none; the bytes hashed may be untrusted, nothing is parsed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hash.h"
#include "rs_err.h"

/* Largest request handed to RAND_bytes at once. */
#define RANDOM_CHUNK	((size_t)1 << 20)

struct rs_hash {
	EVP_MD_CTX	*ctx;
	int		 done;		/* final called: no more updates */
};

/* Map an SSH hash name to an OpenSSL digest; NULL when not allowed. */
static const EVP_MD *
hash_md(const char *alg)
{
	if (alg == NULL)
		return NULL;
	if (strcmp(alg, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(alg, "sha512") == 0)
		return EVP_sha512();
	return NULL;
}

int
rs_hash_new(const char *alg, struct rs_hash **out)
{
	const EVP_MD *md;
	struct rs_hash *h = NULL;
	int r;

	if (out == NULL)
		return RS_ERR_INVAL;
	*out = NULL;
	if ((md = hash_md(alg)) == NULL)
		return RS_ERR_ALG;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((h->ctx = EVP_MD_CTX_new()) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		r = RS_ERR_CRYPTO;
		goto out;
	}
	*out = h;
	h = NULL;
	r = RS_OK;
out:
	rs_hash_free(h);
	return r;
}

int
rs_hash_update(struct rs_hash *h, const void *p, size_t n)
{
	if (h == NULL || h->done || (p == NULL && n > 0))
		return RS_ERR_INVAL;
	if (n == 0)
		return RS_OK;
	if (EVP_DigestUpdate(h->ctx, p, n) != 1)
		return RS_ERR_CRYPTO;
	return RS_OK;
}

int
rs_hash_final(struct rs_hash *h, unsigned char *md, size_t *mdlen)
{
	unsigned int len = 0;

	if (mdlen != NULL)
		*mdlen = 0;
	if (h == NULL || h->done || md == NULL)
		return RS_ERR_INVAL;
	h->done = 1;
	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1)
		return RS_ERR_CRYPTO;
	if (len > RS_HASH_MAX)		/* cannot happen for sha256/512 */
		return RS_ERR_INTERNAL;
	if (mdlen != NULL)
		*mdlen = len;
	return RS_OK;
}

void
rs_hash_free(struct rs_hash *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int
rs_sha256(const void *p, size_t n, unsigned char md[RS_SHA256_LEN])
{
	unsigned int len = 0;

	if (md == NULL || (p == NULL && n > 0))
		return RS_ERR_INVAL;
	/* EVP_Digest accepts a NULL data pointer only with a zero length. */
	if (EVP_Digest(n > 0 ? p : "", n, md, &len, EVP_sha256(), NULL) != 1)
		return RS_ERR_CRYPTO;
	if (len != RS_SHA256_LEN)
		return RS_ERR_INTERNAL;
	return RS_OK;
}

void
rs_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int
rs_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
rs_unhex(const char *s, size_t n, unsigned char *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if ((hi = rs_hexval(s[2 * i])) < 0 ||
		    (lo = rs_hexval(s[2 * i + 1])) < 0)
			return RS_ERR_FORMAT;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return RS_OK;
}

int
rs_random(void *p, size_t n)
{
	unsigned char *q = p;
	size_t chunk;

	if (p == NULL && n > 0)
		return RS_ERR_INVAL;
	/* RAND_bytes takes an int: feed it in pieces that surely fit. */
	while (n > 0) {
		chunk = n > RANDOM_CHUNK ? RANDOM_CHUNK : n;
		if (RAND_bytes(q, (int)chunk) != 1)
			return RS_ERR_CRYPTO;
		q += chunk;
		n -= chunk;
	}
	return RS_OK;
}
