/*
 * sshsig.c - OpenSSH SSHSIG signatures (PROTOCOL.sshsig) over Ed25519.
 * See sshsig.h.
 *
 * API:        sshsig_sign, sshsig_parse, sshsig_verify and the accessors
 *             sshsig_hash_alg/namespace/pubkey/fingerprint, sshsig_free.
 * Ownership:  sshsig_parse returns an object the caller releases with
 *             sshsig_free.  sshsig_sign appends to the caller's struct
 *             rs_buf; on failure the buffer is put back to its length.
 * Errors:     negative RS_ERR_* codes (sshsig.h says which for each call);
 *             nothing is printed.
 * Trust:      the signature file comes from the DMZ spool and is hostile:
 *             every read goes through struct rs_rd, its size is bounded by
 *             RS_MAX_SIG_BYTES, armor and base64 are decoded strictly
 *             (base64.c), and trailing data is an error at every level.
 *             Only ssh-ed25519 signatures with sha512 or sha256 message
 *             digests are accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "sshkey.h"
#include "sshsig.h"

#define SIG_MAGIC		"SSHSIG"
#define SIG_MAGIC_LEN		6
#define SIG_VERSION		1
#define SIG_BEGIN		"-----BEGIN SSH SIGNATURE-----"
#define SIG_END			"-----END SSH SIGNATURE-----"

#define SHA256_LEN		32
#define SHA512_LEN		64

struct sshsig {
	unsigned char	 pub[SSHKEY_ED25519_PUB];
	char		*ns;
	char		 hash_alg[8];
	unsigned char	 sig[SSHKEY_ED25519_SIG];
};

/* Digest length for an allowed SSHSIG hash name; 0 if not allowed. */
static size_t
hash_len(const char *alg)
{
	if (strcmp(alg, "sha512") == 0)
		return SHA512_LEN;
	if (strcmp(alg, "sha256") == 0)
		return SHA256_LEN;
	return 0;
}

/*
 * The bytes an SSHSIG signature covers (PROTOCOL.sshsig): the magic, then
 * namespace, reserved (always empty) and hash name as strings, then the
 * message digest as a string.
 */
static int
signed_data(struct rs_buf *b, const char *ns, const char *hash_alg,
    const unsigned char *digest, size_t dlen)
{
	int r;

	if ((r = rs_buf_put(b, SIG_MAGIC, SIG_MAGIC_LEN)) != RS_OK ||
	    (r = rs_buf_put_cstring(b, ns)) != RS_OK ||
	    (r = rs_buf_put_string(b, NULL, 0)) != RS_OK ||
	    (r = rs_buf_put_cstring(b, hash_alg)) != RS_OK ||
	    (r = rs_buf_put_string(b, digest, dlen)) != RS_OK)
		return r;
	return RS_OK;
}

int
sshsig_sign(const struct sshkey *k, const char *ns,
    const char *hash_alg, const unsigned char *digest, size_t dlen,
    struct rs_buf *out)
{
	struct rs_buf tbs, blob, sigblob, pub;
	unsigned char sig[SSHKEY_ED25519_SIG];
	size_t len0;
	int r;

	if (k == NULL || ns == NULL || *ns == '\0' || hash_alg == NULL ||
	    digest == NULL || out == NULL || hash_len(hash_alg) != dlen)
		return RS_ERR_INVAL;
	len0 = out->len;
	rs_buf_init(&tbs, RS_MAX_SIG_BYTES);
	rs_buf_init(&blob, RS_MAX_SIG_BYTES);
	rs_buf_init(&sigblob, SSHKEY_BLOB_MAX);
	rs_buf_init(&pub, SSHKEY_BLOB_MAX);
	if ((r = signed_data(&tbs, ns, hash_alg, digest, dlen)) != RS_OK ||
	    (r = sshkey_sign(k, tbs.data, tbs.len, sig)) != RS_OK)
		goto out;
	if ((r = sshkey_pub_put(&pub, sshkey_pub(k))) != RS_OK ||
	    (r = rs_buf_put_cstring(&sigblob, SSHKEY_TYPE)) != RS_OK ||
	    (r = rs_buf_put_string(&sigblob, sig, sizeof(sig))) != RS_OK)
		goto out;
	if ((r = rs_buf_put(&blob, SIG_MAGIC, SIG_MAGIC_LEN)) != RS_OK ||
	    (r = rs_buf_put_u32(&blob, SIG_VERSION)) != RS_OK ||
	    (r = rs_buf_put_string(&blob, pub.data, pub.len)) != RS_OK ||
	    (r = rs_buf_put_cstring(&blob, ns)) != RS_OK ||
	    (r = rs_buf_put_string(&blob, NULL, 0)) != RS_OK ||
	    (r = rs_buf_put_cstring(&blob, hash_alg)) != RS_OK ||
	    (r = rs_buf_put_string(&blob, sigblob.data, sigblob.len)) != RS_OK)
		goto out;
	if ((r = b64_armor_encode(blob.data, blob.len, SIG_BEGIN, SIG_END,
	    out)) != RS_OK)
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		rs_buf_truncate(out, len0);
	rs_buf_free(&tbs);
	rs_buf_free(&blob);
	rs_buf_free(&sigblob);
	rs_buf_free(&pub);
	return r;
}

int
sshsig_parse(const char *text, size_t len, struct sshsig **out)
{
	struct sshsig *s = NULL;
	struct rs_buf blob;
	struct rs_rd r, sub;
	const unsigned char *p;
	uint32_t version;
	size_t n;
	int e;

	rs_buf_init(&blob, RS_MAX_SIG_BYTES);
	if (out == NULL || (text == NULL && len > 0))
		return RS_ERR_INVAL;
	*out = NULL;
	if (len > RS_MAX_SIG_BYTES) {
		e = RS_ERR_LIMIT;
		goto out;
	}
	if ((e = b64_armor_decode(text, len, SIG_BEGIN, SIG_END, 0,
	    RS_MAX_SIG_BYTES, &blob)) != RS_OK)
		goto out;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		e = RS_ERR_NOMEM;
		goto out;
	}
	rs_rd_init(&r, blob.data, blob.len);
	if ((e = rs_rd_bytes(&r, SIG_MAGIC_LEN, &p)) != RS_OK)
		goto out;
	if (memcmp(p, SIG_MAGIC, SIG_MAGIC_LEN) != 0) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	if ((e = rs_rd_u32(&r, &version)) != RS_OK)
		goto out;
	if (version != SIG_VERSION) {
		e = RS_ERR_VERSION;
		goto out;
	}
	if ((e = rs_rd_sub(&r, &sub)) != RS_OK ||
	    (e = sshkey_pub_get(&sub, s->pub)) != RS_OK)
		goto out;

	/* Namespace: a non-empty string without NUL, kept for comparing. */
	if ((e = rs_rd_string(&r, &p, &n)) != RS_OK)
		goto out;
	if (n == 0 || memchr(p, '\0', n) != NULL) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	if ((s->ns = malloc(n + 1)) == NULL) {
		e = RS_ERR_NOMEM;
		goto out;
	}
	memcpy(s->ns, p, n);
	s->ns[n] = '\0';

	/*
	 * Reserved: OpenSSH writes it empty and verifies over an empty one,
	 * so anything else could never verify there; refuse it outright.
	 */
	if ((e = rs_rd_string(&r, &p, &n)) != RS_OK)
		goto out;
	if (n != 0) {
		e = RS_ERR_FORMAT;
		goto out;
	}

	if ((e = rs_rd_string(&r, &p, &n)) != RS_OK)
		goto out;
	if (n >= sizeof(s->hash_alg) || memchr(p, '\0', n) != NULL) {
		e = RS_ERR_ALG;
		goto out;
	}
	memcpy(s->hash_alg, p, n);
	s->hash_alg[n] = '\0';
	if (hash_len(s->hash_alg) == 0) {
		e = RS_ERR_ALG;
		goto out;
	}

	/* The signature: string "ssh-ed25519" || string sig[64]. */
	if ((e = rs_rd_sub(&r, &sub)) != RS_OK)
		goto out;
	if ((e = rs_rd_string(&sub, &p, &n)) != RS_OK)
		goto out;
	if (n != strlen(SSHKEY_TYPE) || memcmp(p, SSHKEY_TYPE, n) != 0) {
		e = RS_ERR_ALG;
		goto out;
	}
	if ((e = rs_rd_string(&sub, &p, &n)) != RS_OK)
		goto out;
	if (n != SSHKEY_ED25519_SIG) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	memcpy(s->sig, p, n);
	if ((e = rs_rd_done(&sub)) != RS_OK || (e = rs_rd_done(&r)) != RS_OK)
		goto out;
	*out = s;
	s = NULL;
	e = RS_OK;
out:
	sshsig_free(s);
	rs_buf_free(&blob);
	return e;
}

const char *
sshsig_hash_alg(const struct sshsig *s)
{
	return s->hash_alg;
}

const char *
sshsig_namespace(const struct sshsig *s)
{
	return s->ns;
}

const unsigned char *
sshsig_pubkey(const struct sshsig *s)
{
	return s->pub;
}

int
sshsig_verify(const struct sshsig *s, const char *ns,
    const unsigned char *digest, size_t dlen)
{
	struct rs_buf tbs;
	int r;

	if (s == NULL || ns == NULL || digest == NULL)
		return RS_ERR_INVAL;
	/* The namespace binds the signature to its purpose: check first. */
	if (strcmp(s->ns, ns) != 0)
		return RS_ERR_NAMESPACE;
	if (hash_len(s->hash_alg) != dlen)
		return RS_ERR_INVAL;
	rs_buf_init(&tbs, RS_MAX_SIG_BYTES);
	if ((r = signed_data(&tbs, s->ns, s->hash_alg, digest, dlen)) != RS_OK)
		goto out;
	r = sshkey_pub_verify(s->pub, tbs.data, tbs.len, s->sig);
out:
	rs_buf_free(&tbs);
	return r;
}

int
sshsig_fingerprint(const struct sshsig *s, struct rs_buf *out)
{
	if (s == NULL || out == NULL)
		return RS_ERR_INVAL;
	return sshkey_pub_fingerprint(s->pub, out);
}

void
sshsig_free(struct sshsig *s)
{
	if (s == NULL)
		return;
	free(s->ns);
	free(s);
}
