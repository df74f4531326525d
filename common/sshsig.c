/*
 * sshsig.c - OpenSSH SSHSIG signatures over Ed25519, openssh-key-v1
 * private key files, and allowed_signers files.  See sshsig.h.
 *
 * API:        sshsig_key_* (generate, load, save, publine, fingerprint),
 *             sshsig_sign, sshsig_parse/verify and accessors,
 *             sshsig_signers_parse/check/free.
 * Ownership:  every object returned through an out pointer is the
 *             caller's and is released with the matching *_free.  Output
 *             that goes to a caller's struct rs_buf is appended; on failure
 *             the buffer is put back to the length it had.
 * Errors:     negative RS_ERR_* codes (sshsig.h says which for each call);
 *             nothing is printed.
 * Trust:      this file is the product's trust boundary.  The signature
 *             file comes from the DMZ spool and is hostile; the
 *             allowed_signers file is the administrator's but parsed as if
 *             hostile too.  Every read of such bytes goes through struct
 *             rs_rd, every size is bounded by common/limits.h, armor and
 *             base64 are decoded strictly (no whitespace inside lines, no
 *             non-canonical padding bits), and trailing data is an error
 *             at every level.  Only ssh-ed25519 is accepted.  Private key
 *             bytes are wiped from every buffer that held them.
 *
 * Formats: OpenSSH PROTOCOL.sshsig (blob and signed data), PROTOCOL.key
 * (openssh-key-v1, unencrypted only), ssh-keygen(1) ALLOWED SIGNERS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "buf.h"
#include "hash.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "sshsig.h"

#define SIG_MAGIC		"SSHSIG"
#define SIG_MAGIC_LEN		6
#define SIG_VERSION		1
#define SIG_BEGIN		"-----BEGIN SSH SIGNATURE-----"
#define SIG_END			"-----END SSH SIGNATURE-----"

#define KEY_MAGIC		"openssh-key-v1"	/* and its NUL */
#define KEY_MAGIC_LEN		(sizeof(KEY_MAGIC))
#define KEY_BEGIN		"-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_END			"-----END OPENSSH PRIVATE KEY-----"
#define KEY_BLOCK		8	/* cipher "none": pad to this */

#define KEY_TYPE		"ssh-ed25519"
#define ED25519_SIG_LEN		64
#define ED25519_SK_LEN		64	/* OpenSSH stores seed || public */

#define B64_WRAP		70	/* columns, as ssh-keygen writes */
#define SHA256_LEN		32
#define SHA512_LEN		64

/*
 * Largest public key blob and signature blob we build ourselves (fixed
 * sizes for Ed25519; the bound only sizes the buffers).
 */
#define BLOB_MAX		256

struct sshsig_key {
	unsigned char	seed[SSHSIG_ED25519_SEED];
	unsigned char	pub[SSHSIG_ED25519_PUB];
};

struct sshsig {
	unsigned char	 pub[SSHSIG_ED25519_PUB];
	char		*ns;
	char		 hash_alg[8];
	unsigned char	 sig[ED25519_SIG_LEN];
};

struct signer {
	char		*principals;	/* pattern list */
	char		*namespaces;	/* pattern list, or NULL: any */
	unsigned char	 pub[SSHSIG_ED25519_PUB];
	int		 has_after;
	int		 has_before;
	time_t		 after;
	time_t		 before;
};

struct sshsig_signers {
	struct signer	*v;
	size_t		 n;
	size_t		 cap;
};

/* Base64 ------------------------------------------------------------- */

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

/*
 * Append base64 of p[0..n) to out; a newline before every wrap-th output
 * character if wrap > 0 (none at the end); '=' padding if pad.
 */
static int
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

/*
 * Strict decode of s[0..n): only the alphabet, a length that is a multiple
 * of four, at most two '=' and only at the very end, and zero bits where
 * the padding cuts a group (so every input has one encoding).
 */
static int
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

/* Armor -------------------------------------------------------------- */

static int
line_is(const unsigned char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

/*
 * Undo "BEGIN\n" base64 lines "END\n" into the decoded bytes in out.
 *
 * Strict for signatures: LF only, no empty or space-containing lines,
 * and nothing after the END line but one optional newline.  The lenient
 * mode, for key files an administrator may have carried through a
 * Windows editor, also takes CRLF and trailing blank space at the end.
 * Text that stops before the END line (a cut upload) is RS_ERR_TRUNC.
 */
static int
armor_decode(const char *text, size_t len, const char *begin,
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

/* Append "BEGIN\n" base64 wrapped at 70 "\nEND\n" to out. */
static int
armor_encode(const unsigned char *p, size_t n, const char *begin,
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

/* Ed25519 through EVP --------------------------------------------------- */

/* Derive the public key from a seed. */
static int
ed25519_public(const unsigned char seed[SSHSIG_ED25519_SEED],
    unsigned char pub[SSHSIG_ED25519_PUB])
{
	EVP_PKEY *pk = NULL;
	size_t n = SSHSIG_ED25519_PUB;
	int r = RS_ERR_CRYPTO;

	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    SSHSIG_ED25519_SEED)) == NULL)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 ||
	    n != SSHSIG_ED25519_PUB)
		goto out;
	r = RS_OK;
out:
	EVP_PKEY_free(pk);
	return r;
}

static int
ed25519_sign(const unsigned char seed[SSHSIG_ED25519_SEED],
    const unsigned char *msg, size_t mlen, unsigned char sig[ED25519_SIG_LEN])
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t n = ED25519_SIG_LEN;
	int r = RS_ERR_CRYPTO;

	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    SSHSIG_ED25519_SEED)) == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	/* Ed25519 is one-shot and hashes internally: no digest here. */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, msg, mlen) != 1 ||
	    n != ED25519_SIG_LEN)
		goto out;
	r = RS_OK;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

/*
 * RS_OK when sig is pub's signature over msg, else RS_ERR_SIG.  The key
 * and signature are the attacker's: any failure inside OpenSSL means "does
 * not verify".
 */
static int
ed25519_verify(const unsigned char pub[SSHSIG_ED25519_PUB],
    const unsigned char *msg, size_t mlen,
    const unsigned char sig[ED25519_SIG_LEN])
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	int r = RS_ERR_SIG;

	if ((pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    SSHSIG_ED25519_PUB)) == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, msg, mlen) != 1)
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

/* Wire helpers --------------------------------------------------------- */

/* string "ssh-ed25519" || string pub */
static int
put_pubblob(struct rs_buf *b, const unsigned char pub[SSHSIG_ED25519_PUB])
{
	int r;

	if ((r = rs_buf_put_cstring(b, KEY_TYPE)) != RS_OK ||
	    (r = rs_buf_put_string(b, pub, SSHSIG_ED25519_PUB)) != RS_OK)
		return r;
	return RS_OK;
}

/*
 * Read a public key blob that must be exactly an Ed25519 key: another
 * key type is RS_ERR_ALG, a wrong length RS_ERR_FORMAT, extra bytes
 * RS_ERR_TRAILING.
 */
static int
get_pubblob(struct rs_rd *r, unsigned char pub[SSHSIG_ED25519_PUB])
{
	const unsigned char *p;
	size_t n;
	int e;

	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return e;
	if (n != strlen(KEY_TYPE) || memcmp(p, KEY_TYPE, n) != 0)
		return RS_ERR_ALG;
	if ((e = rs_rd_string(r, &p, &n)) != RS_OK)
		return e;
	if (n != SSHSIG_ED25519_PUB)
		return RS_ERR_FORMAT;
	memcpy(pub, p, n);
	return rs_rd_done(r);
}

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

/* Put b back to length len after a failed append. */
static void
buf_restore(struct rs_buf *b, size_t len)
{
	if (b->len > len) {
		rs_wipe(b->data + len, b->len - len);
		b->len = len;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

/* A comment that can go on one line of a key or allowed_signers file. */
static int
comment_ok(const char *c)
{
	return c == NULL || strpbrk(c, "\r\n") == NULL;
}

static int
fingerprint(const unsigned char pub[SSHSIG_ED25519_PUB], struct rs_buf *out)
{
	unsigned char md[RS_SHA256_LEN];
	struct rs_buf blob;
	size_t len0 = out->len;
	int r;

	rs_buf_init(&blob, BLOB_MAX);
	if ((r = put_pubblob(&blob, pub)) != RS_OK ||
	    (r = rs_sha256(blob.data, blob.len, md)) != RS_OK)
		goto out;
	if ((r = rs_buf_put_str(out, "SHA256:")) != RS_OK ||
	    (r = b64_encode(out, md, sizeof(md), 0, 0)) != RS_OK)
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		buf_restore(out, len0);
	rs_buf_free(&blob);
	return r;
}

/* Keys ---------------------------------------------------------------- */

int
sshsig_key_generate(struct sshsig_key **out)
{
	struct sshsig_key *k = NULL;
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
	sshsig_key_free(k);
	return r;
}

/*
 * The private section of an unencrypted openssh-key-v1 file: two equal
 * check ints, the key (type, public, seed || public), a comment, and the
 * padding bytes 1, 2, 3, ... up to the cipher block size.
 */
static int
key_private(struct rs_rd *r, const unsigned char pub[SSHSIG_ED25519_PUB],
    struct sshsig_key *k)
{
	const unsigned char *p;
	unsigned char derived[SSHSIG_ED25519_PUB];
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
	if (n != strlen(KEY_TYPE) || memcmp(p, KEY_TYPE, n) != 0)
		return RS_ERR_ALG;
	if (rs_rd_string(r, &p, &n) != RS_OK || n != SSHSIG_ED25519_PUB ||
	    memcmp(p, pub, n) != 0)
		return RS_ERR_KEY;
	if (rs_rd_string(r, &p, &n) != RS_OK || n != ED25519_SK_LEN ||
	    memcmp(p + SSHSIG_ED25519_SEED, pub, SSHSIG_ED25519_PUB) != 0)
		return RS_ERR_KEY;
	memcpy(k->seed, p, SSHSIG_ED25519_SEED);
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
	if (memcmp(derived, pub, SSHSIG_ED25519_PUB) != 0)
		return RS_ERR_KEY;
	memcpy(k->pub, pub, SSHSIG_ED25519_PUB);
	return RS_OK;
}

int
sshsig_key_load(const char *text, size_t len, struct sshsig_key **out)
{
	struct sshsig_key *k = NULL;
	struct rs_buf blob;
	struct rs_rd r, sub;
	const unsigned char *p;
	unsigned char pub[SSHSIG_ED25519_PUB];
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
	if ((e = armor_decode(text, len, KEY_BEGIN, KEY_END, 1,
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
	if ((e = get_pubblob(&sub, pub)) != RS_OK) {
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
	sshsig_key_free(k);
	rs_buf_free(&blob);
	return e;
}

int
sshsig_key_save(const struct sshsig_key *k, const char *comment,
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
	rs_buf_init(&pub, BLOB_MAX);
	if ((r = rs_random(&check, sizeof(check))) != RS_OK)
		goto out;
	if ((r = put_pubblob(&pub, k->pub)) != RS_OK)
		goto out;
	if ((r = rs_buf_put_u32(&priv, check)) != RS_OK ||
	    (r = rs_buf_put_u32(&priv, check)) != RS_OK ||
	    (r = put_pubblob(&priv, k->pub)) != RS_OK ||
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
	if ((r = armor_encode(file.data, file.len, KEY_BEGIN, KEY_END,
	    out)) != RS_OK)
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		buf_restore(out, len0);
	rs_wipe(&check, sizeof(check));
	rs_buf_free(&file);
	rs_buf_free(&priv);
	rs_buf_free(&pub);
	return r;
}

int
sshsig_key_publine(const struct sshsig_key *k, const char *comment,
    struct rs_buf *out)
{
	struct rs_buf blob;
	size_t len0;
	int r;

	if (k == NULL || out == NULL || !comment_ok(comment))
		return RS_ERR_INVAL;
	len0 = out->len;
	rs_buf_init(&blob, BLOB_MAX);
	if ((r = put_pubblob(&blob, k->pub)) != RS_OK ||
	    (r = rs_buf_put_str(out, KEY_TYPE " ")) != RS_OK ||
	    (r = b64_encode(out, blob.data, blob.len, 0, 1)) != RS_OK)
		goto out;
	if (comment != NULL && *comment != '\0' &&
	    ((r = rs_buf_put_u8(out, ' ')) != RS_OK ||
	    (r = rs_buf_put_str(out, comment)) != RS_OK))
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		buf_restore(out, len0);
	rs_buf_free(&blob);
	return r;
}

int
sshsig_key_fingerprint(const struct sshsig_key *k, struct rs_buf *out)
{
	if (k == NULL || out == NULL)
		return RS_ERR_INVAL;
	return fingerprint(k->pub, out);
}

void
sshsig_key_free(struct sshsig_key *k)
{
	if (k == NULL)
		return;
	rs_wipe(k, sizeof(*k));
	free(k);
}

/* Signatures ---------------------------------------------------------- */

int
sshsig_sign(const struct sshsig_key *k, const char *ns,
    const char *hash_alg, const unsigned char *digest, size_t dlen,
    struct rs_buf *out)
{
	struct rs_buf tbs, blob, sigblob, pub;
	unsigned char sig[ED25519_SIG_LEN];
	size_t len0;
	int r;

	if (k == NULL || ns == NULL || *ns == '\0' || hash_alg == NULL ||
	    digest == NULL || out == NULL || hash_len(hash_alg) != dlen)
		return RS_ERR_INVAL;
	len0 = out->len;
	rs_buf_init(&tbs, RS_MAX_SIG_BYTES);
	rs_buf_init(&blob, RS_MAX_SIG_BYTES);
	rs_buf_init(&sigblob, BLOB_MAX);
	rs_buf_init(&pub, BLOB_MAX);
	if ((r = signed_data(&tbs, ns, hash_alg, digest, dlen)) != RS_OK ||
	    (r = ed25519_sign(k->seed, tbs.data, tbs.len, sig)) != RS_OK)
		goto out;
	if ((r = put_pubblob(&pub, k->pub)) != RS_OK ||
	    (r = rs_buf_put_cstring(&sigblob, KEY_TYPE)) != RS_OK ||
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
	if ((r = armor_encode(blob.data, blob.len, SIG_BEGIN, SIG_END,
	    out)) != RS_OK)
		goto out;
	r = RS_OK;
out:
	if (r != RS_OK)
		buf_restore(out, len0);
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
	if ((e = armor_decode(text, len, SIG_BEGIN, SIG_END, 0,
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
	    (e = get_pubblob(&sub, s->pub)) != RS_OK)
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
	if (n != strlen(KEY_TYPE) || memcmp(p, KEY_TYPE, n) != 0) {
		e = RS_ERR_ALG;
		goto out;
	}
	if ((e = rs_rd_string(&sub, &p, &n)) != RS_OK)
		goto out;
	if (n != ED25519_SIG_LEN) {
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
	r = ed25519_verify(s->pub, tbs.data, tbs.len, s->sig);
out:
	rs_buf_free(&tbs);
	return r;
}

int
sshsig_fingerprint(const struct sshsig *s, struct rs_buf *out)
{
	if (s == NULL || out == NULL)
		return RS_ERR_INVAL;
	return fingerprint(s->pub, out);
}

void
sshsig_free(struct sshsig *s)
{
	if (s == NULL)
		return;
	free(s->ns);
	free(s);
}

/* allowed_signers ---------------------------------------------------- */

/*
 * Glob match of s against p[0..plen) with '*' (any run) and '?' (one
 * byte).  Iterative, remembering only the last star: O(len(s) * plen) in
 * the worst case, no recursion for hostile patterns to exploit.
 */
static int
glob_match(const char *s, const char *p, size_t plen)
{
	size_t si = 0, pi = 0, star = 0, mark = 0;
	int have_star = 0;

	while (s[si] != '\0') {
		if (pi < plen && p[pi] == '*') {
			have_star = 1;
			star = pi++;
			mark = si;
		} else if (pi < plen && (p[pi] == '?' || p[pi] == s[si])) {
			si++;
			pi++;
		} else if (have_star) {
			pi = star + 1;
			si = ++mark;
		} else
			return 0;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

/*
 * Does s match the comma-separated pattern list?  As in OpenSSH, a
 * pattern starting with '!' that matches vetoes the whole list.
 */
static int
pattern_list_match(const char *s, const char *list)
{
	const char *p = list, *e;
	size_t n;
	int neg, found = 0;

	for (;;) {
		e = strchr(p, ',');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		neg = n > 0 && *p == '!';
		if (glob_match(s, p + neg, n - (size_t)neg)) {
			if (neg)
				return 0;
			found = 1;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return found;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
skip_ws(const char *p)
{
	while (is_ws(*p))
		p++;
	return p;
}

/*
 * The OpenSSH key type names, so a line's key can be told from its
 * options the way ssh-keygen does (it tries to read a key first).
 */
static const char *const keytypes[] = {
	"ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
	"ssh-xmss@openssh.com",
	"ssh-ed25519-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com",
	"ssh-dss-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"sk-ssh-ed25519-cert-v01@openssh.com",
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ssh-xmss-cert-v01@openssh.com",
};

/* Length of the key type word at p, or 0 if p does not start with one. */
static size_t
keytype_at(const char *p)
{
	size_t i, n;

	for (n = 0; p[n] != '\0' && !is_ws(p[n]); n++)
		;
	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (n == strlen(keytypes[i]) && memcmp(p, keytypes[i], n) == 0)
			return n;
	return 0;
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * valid-after / valid-before: YYYYMMDD[HHMM[SS]], UTC with a trailing Z,
 * else local time (as ssh-keygen reads it).
 */
static int
parse_time(const char *v, size_t n, time_t *out)
{
	static const int mdays[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int f[6] = { 0, 0, 0, 0, 0, 0 };	/* Y M D h m s */
	int utc = 0, y, dim;
	int64_t days, secs;
	struct tm tm;
	time_t t;
	size_t i;

	if (n > 0 && v[n - 1] == 'Z') {
		utc = 1;
		n--;
	}
	if (n != 8 && n != 12 && n != 14)
		return RS_ERR_FORMAT;
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return RS_ERR_FORMAT;
	f[0] = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
	    (v[3] - '0');
	for (i = 4; i < n; i += 2)
		f[i / 2 - 1] = (v[i] - '0') * 10 + (v[i + 1] - '0');
	if (f[0] < 1970 || f[1] < 1 || f[1] > 12)
		return RS_ERR_FORMAT;
	dim = mdays[f[1] - 1] + (f[1] == 2 && leap(f[0]) ? 1 : 0);
	if (f[2] < 1 || f[2] > dim || f[3] > 23 || f[4] > 59 || f[5] > 59)
		return RS_ERR_FORMAT;
	if (utc) {
		days = 0;
		for (y = 1970; y < f[0]; y++)
			days += leap(y) ? 366 : 365;
		for (i = 0; i + 1 < (size_t)f[1]; i++)
			days += mdays[i] + (i == 1 && leap(f[0]) ? 1 : 0);
		days += f[2] - 1;
		secs = days * 86400 + f[3] * 3600 + f[4] * 60 + f[5];
		t = (time_t)secs;
		if ((int64_t)t != secs)
			return RS_ERR_FORMAT;
	} else {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = f[0] - 1900;
		tm.tm_mon = f[1] - 1;
		tm.tm_mday = f[2];
		tm.tm_hour = f[3];
		tm.tm_min = f[4];
		tm.tm_sec = f[5];
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1)
			return RS_ERR_FORMAT;
	}
	*out = t;
	return RS_OK;
}

static char *
dup_n(const char *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Does p[0..n) equal the option name want, ignoring case as OpenSSH? */
static int
opt_is(const char *p, size_t n, const char *want)
{
	size_t i;
	char a, b;

	if (n != strlen(want))
		return 0;
	for (i = 0; i < n; i++) {
		a = p[i];
		b = want[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

/*
 * Options: name or name="value", separated by commas, ending at the first
 * blank outside quotes.  *pp moves past them.
 */
static int
parse_options(const char **pp, struct signer *sg)
{
	const char *p = *pp, *name, *val;
	size_t nlen, vlen;
	int has_ns = 0;

	for (;;) {
		name = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-')
			p++;
		if ((nlen = (size_t)(p - name)) == 0)
			return RS_ERR_FORMAT;
		val = NULL;
		vlen = 0;
		if (*p == '=') {
			if (*++p != '"')
				return RS_ERR_FORMAT;
			val = ++p;
			while (*p != '\0' && *p != '"')
				p++;
			if (*p != '"')
				return RS_ERR_FORMAT;
			vlen = (size_t)(p - val);
			p++;
		}
		/*
		 * cert-authority would trust every key a CA signs; this
		 * product pins keys, so such a line is an error, not a no-op.
		 */
		if (opt_is(name, nlen, "namespaces") && val != NULL) {
			if (has_ns || vlen == 0)
				return RS_ERR_FORMAT;
			if ((sg->namespaces = dup_n(val, vlen)) == NULL)
				return RS_ERR_NOMEM;
			has_ns = 1;
		} else if (opt_is(name, nlen, "valid-after") && val != NULL) {
			if (sg->has_after ||
			    parse_time(val, vlen, &sg->after) != RS_OK)
				return RS_ERR_FORMAT;
			sg->has_after = 1;
		} else if (opt_is(name, nlen, "valid-before") && val != NULL) {
			if (sg->has_before ||
			    parse_time(val, vlen, &sg->before) != RS_OK)
				return RS_ERR_FORMAT;
			sg->has_before = 1;
		} else
			return RS_ERR_FORMAT;
		if (*p == ',') {
			p++;
			continue;
		}
		if (!is_ws(*p))
			return RS_ERR_FORMAT;
		break;
	}
	*pp = p;
	return RS_OK;
}

static void
signer_clear(struct signer *sg)
{
	free(sg->principals);
	free(sg->namespaces);
	memset(sg, 0, sizeof(*sg));
}

/*
 * One non-comment line: principals [options] keytype base64 [comment].
 * *keep is set when the line is an Ed25519 key to add; other key types
 * are checked as far as their options and then skipped.
 */
static int
parse_signer_line(const char *line, struct signer *sg, int *keep)
{
	struct rs_buf blob;
	struct rs_rd r;
	const char *p = line, *s;
	size_t n;
	int e, ed;

	*keep = 0;
	rs_buf_init(&blob, BLOB_MAX);
	if (*p == '"') {
		s = ++p;
		while (*p != '\0' && *p != '"')
			p++;
		if (*p != '"') {
			e = RS_ERR_FORMAT;
			goto out;
		}
		n = (size_t)(p - s);
		p++;
	} else {
		s = p;
		while (*p != '\0' && !is_ws(*p))
			p++;
		n = (size_t)(p - s);
	}
	if (n == 0 || !is_ws(*p)) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	if ((sg->principals = dup_n(s, n)) == NULL) {
		e = RS_ERR_NOMEM;
		goto out;
	}
	p = skip_ws(p);
	if (keytype_at(p) == 0) {
		if ((e = parse_options(&p, sg)) != RS_OK)
			goto out;
		p = skip_ws(p);
	}
	if ((n = keytype_at(p)) == 0) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	ed = n == strlen(KEY_TYPE) && memcmp(p, KEY_TYPE, n) == 0;
	p = skip_ws(p + n);
	for (s = p; *p != '\0' && !is_ws(*p); p++)
		;
	if (p == s) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	if (!ed) {			/* cannot sign rcptsync lists */
		e = RS_OK;
		goto out;
	}
	if ((e = b64_decode((const unsigned char *)s, (size_t)(p - s),
	    &blob)) != RS_OK)
		goto out;
	rs_rd_init(&r, blob.data, blob.len);
	if (get_pubblob(&r, sg->pub) != RS_OK) {
		e = RS_ERR_FORMAT;
		goto out;
	}
	/* The rest, if any, is a comment after a blank. */
	*keep = 1;
	e = RS_OK;
out:
	rs_buf_free(&blob);
	return e;
}

static int
signers_add(struct sshsig_signers *ss, struct signer *sg)
{
	struct signer *v;
	size_t cap;

	if (ss->n == ss->cap) {
		cap = ss->cap == 0 ? 8 : ss->cap * 2;
		if (cap > SIZE_MAX / sizeof(*v) ||
		    (v = realloc(ss->v, cap * sizeof(*v))) == NULL)
			return RS_ERR_NOMEM;
		ss->v = v;
		ss->cap = cap;
	}
	ss->v[ss->n++] = *sg;
	memset(sg, 0, sizeof(*sg));
	return RS_OK;
}

int
sshsig_signers_parse(const char *text, size_t len,
    struct sshsig_signers **out, size_t *errline)
{
	struct sshsig_signers *ss = NULL;
	struct signer sg;
	char *line = NULL;
	const char *p, *nl;
	size_t pos = 0, n, lineno = 0;
	int e, keep;

	memset(&sg, 0, sizeof(sg));
	if (out == NULL || (text == NULL && len > 0))
		return RS_ERR_INVAL;
	*out = NULL;
	if (errline != NULL)
		*errline = 0;
	if (len > RS_MAX_SIGNERS_BYTES) {
		e = RS_ERR_LIMIT;
		goto out;
	}
	if ((ss = calloc(1, sizeof(*ss))) == NULL ||
	    (line = malloc(len + 1)) == NULL) {
		e = RS_ERR_NOMEM;
		goto out;
	}
	while (pos < len) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		if (memchr(text + pos, '\0', n) != NULL) {
			e = RS_ERR_FORMAT;
			goto out;
		}
		memcpy(line, text + pos, n);
		pos += n + (nl != NULL ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		p = skip_ws(line);
		if (*p == '\0' || *p == '#')
			continue;
		e = parse_signer_line(p, &sg, &keep);
		if (e == RS_OK && keep)
			e = signers_add(ss, &sg);
		signer_clear(&sg);
		if (e != RS_OK)
			goto out;
	}
	*out = ss;
	ss = NULL;
	e = RS_OK;
out:
	if (e == RS_ERR_FORMAT && errline != NULL)
		*errline = lineno;
	signer_clear(&sg);
	free(line);
	sshsig_signers_free(ss);
	return e;
}

int
sshsig_signers_check(const struct sshsig_signers *s,
    const unsigned char pubkey[SSHSIG_ED25519_PUB],
    const char *principal, const char *ns, time_t now)
{
	const struct signer *sg;
	size_t i;
	int r = RS_ERR_SIGNER;

	if (s == NULL || pubkey == NULL || principal == NULL || ns == NULL)
		return RS_ERR_INVAL;
	/*
	 * Any line that names this key for this principal and allows this
	 * use is enough (as in ssh-keygen).  When lines match but all
	 * exclude the use, report why the first one did.
	 */
	for (i = 0; i < s->n; i++) {
		sg = &s->v[i];
		if (memcmp(sg->pub, pubkey, SSHSIG_ED25519_PUB) != 0 ||
		    !pattern_list_match(principal, sg->principals))
			continue;
		if (sg->namespaces != NULL &&
		    !pattern_list_match(ns, sg->namespaces)) {
			if (r == RS_ERR_SIGNER)
				r = RS_ERR_NAMESPACE;
			continue;
		}
		if ((sg->has_after && now < sg->after) ||
		    (sg->has_before && now > sg->before)) {
			if (r == RS_ERR_SIGNER)
				r = RS_ERR_EXPIRED;
			continue;
		}
		return RS_OK;
	}
	return r;
}

void
sshsig_signers_free(struct sshsig_signers *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		signer_clear(&s->v[i]);
	free(s->v);
	free(s);
}
