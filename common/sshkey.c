/*
 * sshkey.c - Ed25519 keys: the public blob, fingerprints, signing and
 * verifying through OpenSSL EVP, and openssh-key-v1 private key files.
 * See sshkey.h for the contract.
 *
 * Format: OpenSSH PROTOCOL.key (openssh-key-v1, cipher "none" only) and
 * RFC 8709 (the ssh-ed25519 public key blob).  Private key bytes are
 * wiped from every buffer that held them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base64.h"
#include "buf.h"
#include "hash.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "sshkey.h"

#define KEY_MAGIC		"openssh-key-v1"	/* and its NUL */
#define KEY_MAGIC_LEN		(sizeof(KEY_MAGIC))
#define KEY_BEGIN		"-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_END			"-----END OPENSSH PRIVATE KEY-----"
#define KEY_BLOCK		8	/* cipher "none": pad to this */
#define ED25519_SK_LEN		64	/* OpenSSH stores seed || public */

struct sshkey {
	unsigned char	seed[SSHKEY_ED25519_SEED];
	unsigned char	pub[SSHKEY_ED25519_PUB];
};

/* Ed25519 through EVP --------------------------------------------------- */

/* Derive the public key from a seed. */
static int
ed25519_public(const unsigned char seed[SSHKEY_ED25519_SEED],
    unsigned char pub[SSHKEY_ED25519_PUB])
{
	EVP_PKEY *pk = NULL;
	size_t n = SSHKEY_ED25519_PUB;
	int r = RS_ERR_CRYPTO;

	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    SSHKEY_ED25519_SEED)) == NULL)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 ||
	    n != SSHKEY_ED25519_PUB)
		goto out;
	r = RS_OK;
out:
	EVP_PKEY_free(pk);
	return r;
}

int
sshkey_sign(const struct sshkey *k, const unsigned char *msg, size_t mlen,
    unsigned char sig[SSHKEY_ED25519_SIG])
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t n = SSHKEY_ED25519_SIG;
	int r = RS_ERR_CRYPTO;

	if (k == NULL || (msg == NULL && mlen > 0) || sig == NULL)
		return RS_ERR_INVAL;
	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed,
	    SSHKEY_ED25519_SEED)) == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	/* Ed25519 is one-shot and hashes internally: no digest here. */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, msg, mlen) != 1 ||
	    n != SSHKEY_ED25519_SIG)
		goto out;
	r = RS_OK;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

/*
 * The key and signature are the attacker's: any failure inside OpenSSL
 * means "does not verify".
 */
int
sshkey_pub_verify(const unsigned char pub[SSHKEY_ED25519_PUB],
    const unsigned char *msg, size_t mlen,
    const unsigned char sig[SSHKEY_ED25519_SIG])
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	int r = RS_ERR_SIG;

	if ((pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    SSHKEY_ED25519_PUB)) == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, SSHKEY_ED25519_SIG, msg, mlen) != 1)
		goto out;
	r = RS_OK;
out:
	/*
	 * A hostile signature leaves errors on OpenSSL's per-thread queue;
	 * clear them so they are not blamed on a later, unrelated call.
	 */
	if (r != RS_OK)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

/* The public key blob and fingerprint ------------------------------- */

/* string "ssh-ed25519" || string pub */
int
sshkey_pub_put(struct rs_buf *b,
    const unsigned char pub[SSHKEY_ED25519_PUB])
{
	int r;

	if ((r = rs_buf_put_cstring(b, SSHKEY_TYPE)) != RS_OK ||
	    (r = rs_buf_put_string(b, pub, SSHKEY_ED25519_PUB)) != RS_OK)
		return r;
	return RS_OK;
}

int
sshkey_pub_get(struct rs_rd *r, unsigned char pub[SSHKEY_ED25519_PUB])
{
	const unsigned char *p;
	size_t n;
	int e;

	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return e;
	if (n != strlen(SSHKEY_TYPE) || memcmp(p, SSHKEY_TYPE, n) != 0)
		return RS_ERR_ALG;
	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return e;
	if (n != SSHKEY_ED25519_PUB)
		return RS_ERR_FORMAT;
	memcpy(pub, p, n);
	return rs_rd_done(r);
}

/* A comment that can go on one line of a key or allowed_signers file. */
static int
comment_ok(const char *c)
{
	return c == NULL || strpbrk(c, "\r\n") == NULL;
}

int
sshkey_blob_fingerprint(const unsigned char *blob, size_t len,
    struct rs_buf *out)
{
	unsigned char md[RS_SHA256_LEN];
	size_t len0;
	int r;

	if (blob == NULL || out == NULL)
		return RS_ERR_INVAL;
	len0 = out->len;
	if ((r = rs_sha256(blob, len, md)) != RS_OK ||
	    (r = rs_buf_put_str(out, "SHA256:")) != RS_OK ||
	    (r = b64_encode(out, md, sizeof(md), 0, 0)) != RS_OK)
		rs_buf_truncate(out, len0);
	return r;
}

int
sshkey_pub_fingerprint(const unsigned char pub[SSHKEY_ED25519_PUB],
    struct rs_buf *out)
{
	struct rs_buf blob;
	int r;

	if (pub == NULL || out == NULL)
		return RS_ERR_INVAL;
	rs_buf_init(&blob, SSHKEY_BLOB_MAX);
	if ((r = sshkey_pub_put(&blob, pub)) == RS_OK)
		r = sshkey_blob_fingerprint(blob.data, blob.len, out);
	rs_buf_free(&blob);
	return r;
}

/* Keys ---------------------------------------------------------------- */

int
sshkey_generate(struct sshkey **out)
{
	struct sshkey *k = NULL;
	int r;

	if (out == NULL)
		return RS_ERR_INVAL;
	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = rs_random(k->seed, sizeof(k->seed))) != RS_OK ||
	    (r = ed25519_public(k->seed, k->pub)) != RS_OK)
		goto out;
	*out = k;
	k = NULL;
	r = RS_OK;
out:
	sshkey_free(k);
	return r;
}

/*
 * The private section of an unencrypted openssh-key-v1 file: two equal
 * check ints, the key (type, public, seed || public), a comment, and the
 * padding bytes 1, 2, 3, ... up to the cipher block size.
 */
static int
key_private(struct rs_rd *r, const unsigned char pub[SSHKEY_ED25519_PUB],
    struct sshkey *k)
{
	const unsigned char *p;
	unsigned char derived[SSHKEY_ED25519_PUB];
	uint32_t c1, c2;
	uint8_t pad;
	size_t n, i;
	int e;

	if (rs_rd_left(r) % KEY_BLOCK != 0)
		return RS_ERR_KEY;
	if (rs_rd_u32(r, &c1) != RS_OK || rs_rd_u32(r, &c2) != RS_OK ||
	    c1 != c2)
		return RS_ERR_KEY;
	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return RS_ERR_KEY;
	if (n != strlen(SSHKEY_TYPE) || memcmp(p, SSHKEY_TYPE, n) != 0)
		return RS_ERR_ALG;
	if (rs_rd_string(r, &p, &n) != RS_OK || n != SSHKEY_ED25519_PUB ||
	    memcmp(p, pub, n) != 0)
		return RS_ERR_KEY;
	if (rs_rd_string(r, &p, &n) != RS_OK || n != ED25519_SK_LEN ||
	    memcmp(p + SSHKEY_ED25519_SEED, pub, SSHKEY_ED25519_PUB) != 0)
		return RS_ERR_KEY;
	memcpy(k->seed, p, SSHKEY_ED25519_SEED);
	if (rs_rd_string(r, &p, &n) != RS_OK)		/* comment */
		return RS_ERR_KEY;
	for (i = 1; rs_rd_left(r) > 0; i++) {
		if (rs_rd_u8(r, &pad) != RS_OK || pad != (uint8_t)i ||
		    i >= KEY_BLOCK)
			return RS_ERR_KEY;
	}
	/* The public half must really belong to the seed. */
	if ((e = ed25519_public(k->seed, derived)) != RS_OK)
		return e;
	if (memcmp(derived, pub, SSHKEY_ED25519_PUB) != 0)
		return RS_ERR_KEY;
	memcpy(k->pub, pub, SSHKEY_ED25519_PUB);
	return RS_OK;
}

int
sshkey_load(const char *text, size_t len, struct sshkey **out)
{
	struct sshkey *k = NULL;
	struct rs_buf blob;
	struct rs_rd r, sub;
	const unsigned char *p;
	unsigned char pub[SSHKEY_ED25519_PUB];
	uint32_t nkeys;
	size_t n;
	int e;

	rs_buf_init(&blob, RS_MAX_KEYFILE_BYTES);
	if (out == NULL || (text == NULL && len > 0))
		return RS_ERR_INVAL;
	*out = NULL;
	if (len > RS_MAX_KEYFILE_BYTES) {
		e = RS_ERR_LIMIT;
		goto out;
	}
	if ((e = b64_armor_decode(text, len, KEY_BEGIN, KEY_END, 1,
	    RS_MAX_KEYFILE_BYTES, &blob)) != RS_OK) {
		if (e != RS_ERR_NOMEM && e != RS_ERR_LIMIT)
			e = RS_ERR_KEY;
		goto out;
	}
	rs_rd_init(&r, blob.data, blob.len);
	e = RS_ERR_KEY;
	if (rs_rd_bytes(&r, KEY_MAGIC_LEN, &p) != RS_OK ||
	    memcmp(p, KEY_MAGIC, KEY_MAGIC_LEN) != 0)
		goto out;
	if (rs_rd_string(&r, &p, &n) != RS_OK)
		goto out;
	if (n != 4 || memcmp(p, "none", 4) != 0) {
		e = RS_ERR_KEY_ENCRYPTED;
		goto out;
	}
	if (rs_rd_string_eq(&r, "none") != RS_OK ||
	    rs_rd_string_eq(&r, "") != RS_OK ||
	    rs_rd_u32(&r, &nkeys) != RS_OK || nkeys != 1)
		goto out;
	if (rs_rd_sub(&r, &sub) != RS_OK)
		goto out;
	if ((e = sshkey_pub_get(&sub, pub)) != RS_OK) {
		if (e != RS_ERR_ALG)
			e = RS_ERR_KEY;
		goto out;
	}
	e = RS_ERR_KEY;
	if (rs_rd_sub(&r, &sub) != RS_OK || rs_rd_done(&r) != RS_OK)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		e = RS_ERR_NOMEM;
		goto out;
	}
	if ((e = key_private(&sub, pub, k)) != RS_OK)
		goto out;
	*out = k;
	k = NULL;
	e = RS_OK;
out:
	sshkey_free(k);
	rs_buf_free(&blob);
	return e;
}

int
sshkey_save(const struct sshkey *k, const char *comment,
    struct rs_buf *out)
{
	struct rs_buf file, priv, pub;
	size_t len0, i;
	uint32_t check;
	int r;

	if (k == NULL || out == NULL || !comment_ok(comment))
		return RS_ERR_INVAL;
	if (comment == NULL)
		comment = "";
	len0 = out->len;
	rs_buf_init(&file, RS_MAX_KEYFILE_BYTES);
	rs_buf_init(&priv, RS_MAX_KEYFILE_BYTES);
	rs_buf_init(&pub, SSHKEY_BLOB_MAX);
	if ((r = rs_random(&check, sizeof(check))) != RS_OK)
		goto out;
	if ((r = sshkey_pub_put(&pub, k->pub)) != RS_OK)
		goto out;
	if ((r = rs_buf_put_u32(&priv, check)) != RS_OK ||
	    (r = rs_buf_put_u32(&priv, check)) != RS_OK ||
	    (r = sshkey_pub_put(&priv, k->pub)) != RS_OK ||
	    (r = rs_buf_put_u32(&priv, ED25519_SK_LEN)) != RS_OK ||
	    (r = rs_buf_put(&priv, k->seed, sizeof(k->seed))) != RS_OK ||
	    (r = rs_buf_put(&priv, k->pub, sizeof(k->pub))) != RS_OK ||
	    (r = rs_buf_put_cstring(&priv, comment)) != RS_OK)
		goto out;
	for (i = 1; priv.len % KEY_BLOCK != 0; i++)
		if ((r = rs_buf_put_u8(&priv, (uint8_t)i)) != RS_OK)
			goto out;
	if ((r = rs_buf_put(&file, KEY_MAGIC, KEY_MAGIC_LEN)) != RS_OK ||
	    (r = rs_buf_put_cstring(&file, "none")) != RS_OK ||
	    (r = rs_buf_put_cstring(&file, "none")) != RS_OK ||
	    (r = rs_buf_put_string(&file, NULL, 0)) != RS_OK ||
	    (r = rs_buf_put_u32(&file, 1)) != RS_OK ||
	    (r = rs_buf_put_string(&file, pub.data, pub.len)) != RS_OK ||
	    (r = rs_buf_put_string(&file, priv.data, priv.len)) != RS_OK)
		goto out;
	if ((r = b64_armor_encode(file.data, file.len, KEY_BEGIN, KEY_END,
	    out)) != RS_OK)
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		rs_buf_truncate(out, len0);
	rs_wipe(&check, sizeof(check));
	rs_buf_free(&file);
	rs_buf_free(&priv);
	rs_buf_free(&pub);
	return r;
}

int
sshkey_publine(const struct sshkey *k, const char *comment,
    struct rs_buf *out)
{
	struct rs_buf blob;
	size_t len0;
	int r;

	if (k == NULL || out == NULL || !comment_ok(comment))
		return RS_ERR_INVAL;
	len0 = out->len;
	rs_buf_init(&blob, SSHKEY_BLOB_MAX);
	if ((r = sshkey_pub_put(&blob, k->pub)) != RS_OK ||
	    (r = rs_buf_put_str(out, SSHKEY_TYPE " ")) != RS_OK ||
	    (r = b64_encode(out, blob.data, blob.len, 0, 1)) != RS_OK)
		goto out;
	if (comment != NULL && *comment != '\0' &&
	    ((r = rs_buf_put_u8(out, ' ')) != RS_OK ||
	    (r = rs_buf_put_str(out, comment)) != RS_OK))
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		rs_buf_truncate(out, len0);
	rs_buf_free(&blob);
	return r;
}

int
sshkey_fingerprint(const struct sshkey *k, struct rs_buf *out)
{
	if (k == NULL)
		return RS_ERR_INVAL;
	return sshkey_pub_fingerprint(k->pub, out);
}

const unsigned char *
sshkey_pub(const struct sshkey *k)
{
	return k->pub;
}

void
sshkey_free(struct sshkey *k)
{
	if (k == NULL)
		return;
	rs_wipe(k, sizeof(*k));
	free(k);
}
