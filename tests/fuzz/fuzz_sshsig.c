/*
 * fuzz_sshsig.c - libFuzzer target for the signature modules: the armored
 * SSHSIG parser and verifier (sshsig.c), the allowed_signers parser and its
 * check (signers.c), and the openssh-key-v1 loader (sshkey.c), all over
 * the strict base64 of base64.c.
 *
 * API:        LLVMFuzzerTestOneInput.  Every input goes to all three
 *             parsers: the seed corpus has signatures, allowed_signers
 *             files and one key file, and coverage feedback sorts out which
 *             mutations make progress where.
 * Ownership:  all objects are created and freed per input; the fixed
 *             digests and the fixed signer set are built once.
 * Errors:     an invariant that does not hold aborts (FZ_ASSERT).
 * Trust:      signatures come from the DMZ spool; this is the receiver's
 *             trust boundary.  Beyond "no crash, no leak, no UB", it checks
 *             that verification cannot succeed without the signer's key:
 *             the seed signatures are over one fixed message by one of two
 *             fixed keys (tests/fuzz/corpus/sshsig/), so a signature that
 *             verifies over that message with any other key, or over a
 *             digest with one bit flipped, or a signer check that succeeds
 *             for a key absent from the input, is a bug.  A line of
 *             allowed_signers left out must name a line that exists, in
 *             order, with a printable reason.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "hash.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "signers.h"
#include "sshkey.h"
#include "sshsig.h"

#include "fuzz.h"

/* The message every seed signature signs (tests/fuzz/corpus/sshsig/). */
static const char fz_msg[] = "rcptsync fuzz seed message\n";

/* The two Ed25519 keys that signed seeds ("fuzz-seed@rcptsync", "other"). */
static const unsigned char fz_pub1[SSHKEY_ED25519_PUB] = {
	0x1b, 0x1d, 0x85, 0x65, 0xd3, 0x49, 0x58, 0xeb, 0x95, 0xb1, 0x2f,
	0xe1, 0x7a, 0x37, 0xdb, 0x87, 0xe8, 0x54, 0xa7, 0x0f, 0x73, 0x5a,
	0xef, 0xda, 0x92, 0xc4, 0xa5, 0xb5, 0xb5, 0xf1, 0x75, 0x0b,
};
static const unsigned char fz_pub2[SSHKEY_ED25519_PUB] = {
	0x6c, 0x54, 0xe9, 0x6b, 0x47, 0x28, 0x85, 0xe5, 0x0e, 0x75, 0x02,
	0xd2, 0x6b, 0x8a, 0xe5, 0x86, 0xe8, 0x17, 0x32, 0xad, 0x8a, 0xab,
	0x9f, 0x63, 0x40, 0xd0, 0x9c, 0x1c, 0x42, 0xa8, 0xfb, 0xf8,
};
/* Their public key blobs in base64, as an allowed_signers line has them. */
#define FZ_PUB1_B64 \
	"AAAAC3NzaC1lZDI1NTE5AAAAIBsdhWXTSVjrlbEv4Xo324foVKcPc1rv2pLEpbW18XUL"
#define FZ_PUB2_B64 \
	"AAAAC3NzaC1lZDI1NTE5AAAAIGxU6WtHKIXlDnUC0muK5YboFzKtiqufY0DQnBxCqPv4"

/* The receiver's view: only key 1, for agent "corp". */
static const char fz_signers_text[] =
    "# fixed signer set of the fuzz harness\n"
    "corp namespaces=\"rcptsync\" ssh-ed25519 " FZ_PUB1_B64 " fuzz\n";

static const char *const fz_principals[] = { "corp", "mx-1.corp", "a" };
static const char *const fz_namespaces[] = { SSHSIG_NAMESPACE, "file" };
static const time_t fz_times[] = { 0, 1763848200, 4102444800 };

#define FZ_N(a)	(sizeof(a) / sizeof((a)[0]))

static unsigned char fz_d512[RS_HASH_MAX], fz_d256[RS_HASH_MAX];
static size_t fz_d512_len, fz_d256_len;
static struct signers *fz_signers;

static void
fz_digest(const char *alg, unsigned char *md, size_t *mdlen)
{
	struct rs_hash *h = NULL;

	FZ_ASSERT(rs_hash_new(alg, &h) == RS_OK, "rs_hash_new");
	FZ_ASSERT(rs_hash_update(h, fz_msg, sizeof(fz_msg) - 1) == RS_OK,
	    "rs_hash_update");
	FZ_ASSERT(rs_hash_final(h, md, mdlen) == RS_OK, "rs_hash_final");
	rs_hash_free(h);
}

static void
fz_init(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	fz_digest("sha512", fz_d512, &fz_d512_len);
	fz_digest("sha256", fz_d256, &fz_d256_len);
	FZ_ASSERT(fz_d512_len == 64 && fz_d256_len == 32, "digest lengths");
	FZ_ASSERT(signers_parse(fz_signers_text,
	    sizeof(fz_signers_text) - 1, &fz_signers) == RS_OK &&
	    signers_nbad(fz_signers) == 0,
	    "fixed allowed_signers does not parse");
}

static int
fz_contains(const uint8_t *p, size_t n, const char *s)
{
	size_t sl = strlen(s), i;

	for (i = 0; i + sl <= n; i++)
		if (memcmp(p + i, s, sl) == 0)
			return 1;
	return 0;
}

/* A parsed signature: verify it as the receiver would, and check. */
static void
fz_sig(const struct sshsig *s)
{
	const char *alg, *ns;
	const unsigned char *pub, *d;
	unsigned char flip[RS_HASH_MAX];
	struct rs_buf fp;
	size_t dlen, i;
	int r, known;

	alg = sshsig_hash_alg(s);
	ns = sshsig_namespace(s);
	pub = sshsig_pubkey(s);
	FZ_ASSERT(alg != NULL && ns != NULL && pub != NULL, "accessors");
	FZ_ASSERT(strcmp(alg, "sha512") == 0 || strcmp(alg, "sha256") == 0,
	    "hash algorithm outside sha256/sha512");
	FZ_ASSERT(ns[0] != '\0', "empty namespace accepted");

	rs_buf_init(&fp, 256);
	FZ_ASSERT(sshsig_fingerprint(s, &fp) == RS_OK, "fingerprint");
	FZ_ASSERT(fp.len > 7 && memcmp(fp.data, "SHA256:", 7) == 0,
	    "fingerprint form");
	rs_buf_free(&fp);

	if (strcmp(alg, "sha512") == 0) {
		d = fz_d512;
		dlen = fz_d512_len;
	} else {
		d = fz_d256;
		dlen = fz_d256_len;
	}
	known = memcmp(pub, fz_pub1, SSHKEY_ED25519_PUB) == 0 ||
	    memcmp(pub, fz_pub2, SSHKEY_ED25519_PUB) == 0;

	r = sshsig_verify(s, SSHSIG_NAMESPACE, d, dlen);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SIG || r == RS_ERR_NAMESPACE ||
	    r == RS_ERR_CRYPTO, "sshsig_verify return code");
	if (strcmp(ns, SSHSIG_NAMESPACE) != 0)
		FZ_ASSERT(r == RS_ERR_NAMESPACE, "foreign namespace verified");
	if (r == RS_OK) {
		FZ_ASSERT(known, "signature by an unknown key verified");
		for (i = 0; i < dlen; i++) {
			memcpy(flip, d, dlen);
			flip[i] ^= (unsigned char)(1u << (i % 8));
			FZ_ASSERT(sshsig_verify(s, SSHSIG_NAMESPACE, flip, dlen)
			    == RS_ERR_SIG, "signature verified a changed digest");
		}
	}
	/* The other algorithm's digest length is refused, not read past. */
	FZ_ASSERT(sshsig_verify(s, SSHSIG_NAMESPACE, fz_d512,
	    dlen == 64 ? 32 : 64) != RS_OK, "digest of the wrong length");

	/* The receiver's lookup: only key 1 as "corp" in rcptsync. */
	for (i = 0; i < FZ_N(fz_principals); i++) {
		r = signers_check(fz_signers, pub, fz_principals[i],
		    SSHSIG_NAMESPACE, 1763848200);
		FZ_ASSERT(r == RS_OK || r == RS_ERR_SIGNER ||
		    r == RS_ERR_NAMESPACE || r == RS_ERR_EXPIRED,
		    "signers_check return code");
		if (r == RS_OK)
			FZ_ASSERT(i == 0 && memcmp(pub, fz_pub1,
			    SSHKEY_ED25519_PUB) == 0, "untrusted signer accepted");
	}
}

/* A parsed allowed_signers file: check known keys against it. */
static void
fz_signers_check(const struct signers *ss, const uint8_t *data,
    size_t size)
{
	size_t i, j, k;
	int r, r1, r2;

	for (i = 0; i < FZ_N(fz_principals); i++)
	for (j = 0; j < FZ_N(fz_namespaces); j++)
	for (k = 0; k < FZ_N(fz_times); k++) {
		r1 = signers_check(ss, fz_pub1, fz_principals[i],
		    fz_namespaces[j], fz_times[k]);
		r2 = signers_check(ss, fz_pub2, fz_principals[i],
		    fz_namespaces[j], fz_times[k]);
		r = r1 != RS_OK ? r1 : r2;
		FZ_ASSERT(r == RS_OK || r == RS_ERR_SIGNER ||
		    r == RS_ERR_NAMESPACE || r == RS_ERR_EXPIRED,
		    "signers_check return code");
		/* Strict base64: a trusted key appears in the file as is. */
		if (r1 == RS_OK)
			FZ_ASSERT(fz_contains(data, size, FZ_PUB1_B64),
			    "key 1 trusted but not in the file");
		if (r2 == RS_OK)
			FZ_ASSERT(fz_contains(data, size, FZ_PUB2_B64),
			    "key 2 trusted but not in the file");
	}
}

/* A loaded private key: it must sign something that verifies. */
static void
fz_key(const struct sshkey *k)
{
	struct rs_buf sig, line, fp1, fp2, saved;
	struct sshsig *s = NULL;
	struct sshkey *k2 = NULL;

	rs_buf_init(&sig, RS_MAX_SIG_BYTES);
	rs_buf_init(&line, 1024);
	rs_buf_init(&fp1, 256);
	rs_buf_init(&fp2, 256);
	rs_buf_init(&saved, RS_MAX_KEYFILE_BYTES);
	FZ_ASSERT(sshkey_publine(k, "c", &line) == RS_OK, "publine");
	FZ_ASSERT(line.len > 12 && memcmp(line.data, "ssh-ed25519 ", 12) == 0,
	    "publine form");
	FZ_ASSERT(sshkey_fingerprint(k, &fp1) == RS_OK, "key fingerprint");
	FZ_ASSERT(sshsig_sign(k, SSHSIG_NAMESPACE, "sha512", fz_d512,
	    fz_d512_len, &sig) == RS_OK, "sign");
	FZ_ASSERT(sshsig_parse((const char *)sig.data, sig.len, &s) == RS_OK,
	    "own signature does not parse");
	FZ_ASSERT(sshsig_verify(s, SSHSIG_NAMESPACE, fz_d512, fz_d512_len)
	    == RS_OK, "own signature does not verify");
	FZ_ASSERT(sshsig_fingerprint(s, &fp2) == RS_OK, "sig fingerprint");
	FZ_ASSERT(fp1.len == fp2.len && memcmp(fp1.data, fp2.data, fp1.len)
	    == 0, "signature carries another key");
	FZ_ASSERT(sshkey_save(k, "c", &saved) == RS_OK, "key save");
	FZ_ASSERT(sshkey_load((const char *)saved.data, saved.len, &k2)
	    == RS_OK, "saved key does not load");
	rs_buf_reset(&fp2);
	FZ_ASSERT(sshkey_fingerprint(k2, &fp2) == RS_OK &&
	    fp1.len == fp2.len && memcmp(fp1.data, fp2.data, fp1.len) == 0,
	    "saved key differs");
	sshkey_free(k2);
	sshsig_free(s);
	rs_buf_free(&saved);
	rs_buf_free(&fp2);
	rs_buf_free(&fp1);
	rs_buf_free(&line);
	rs_buf_free(&sig);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshsig *s = NULL;
	struct signers *ss = NULL;
	struct sshkey *k = NULL;
	const char *why;
	size_t line, prev = 0, nlines, i;
	char *p;
	int r;

	fz_init();
	p = fz_dup(data, size, 0);

	r = sshsig_parse(p, size, &s);
	FZ_ASSERT((r == RS_OK) == (s != NULL), "sshsig_parse out pointer");
	FZ_ASSERT(r <= 0, "sshsig_parse return code");
	if (r == RS_OK)
		fz_sig(s);
	sshsig_free(s);

	r = signers_parse(p, size, &ss);
	FZ_ASSERT((r == RS_OK) == (ss != NULL), "signers_parse out pointer");
	FZ_ASSERT(r == RS_OK || r == RS_ERR_LIMIT || r == RS_ERR_NOMEM,
	    "signers_parse return code");
	if (r == RS_OK) {
		/* Each line left out: a real line number, a printable why. */
		for (nlines = 1, i = 0; i < size; i++)
			nlines += data[i] == '\n';
		for (i = 0; (why = signers_bad(ss, i, &line)) != NULL; i++) {
			FZ_ASSERT(line >= 1 && line <= nlines &&
			    line > prev,
			    "line left out: bad line number");
			FZ_ASSERT(why[0] != '\0' && strlen(why) <
			    SIGNERS_WHY_LEN, "line left out: no reason");
			for (; *why != '\0'; why++)
				FZ_ASSERT(*why >= 0x20 && *why < 0x7f,
				    "reason with a control byte");
			prev = line;
		}
		FZ_ASSERT(i <= signers_nbad(ss), "signers_nbad");
		fz_signers_check(ss, data, size);
	}
	signers_free(ss);

	r = sshkey_load(p, size, &k);
	FZ_ASSERT((r == RS_OK) == (k != NULL), "sshkey_load out pointer");
	FZ_ASSERT(r == RS_OK || r == RS_ERR_KEY || r == RS_ERR_KEY_ENCRYPTED ||
	    r == RS_ERR_ALG || r == RS_ERR_LIMIT || r == RS_ERR_NOMEM ||
	    r == RS_ERR_FORMAT || r == RS_ERR_TRUNC || r == RS_ERR_TRAILING ||
	    r == RS_ERR_CRYPTO, "sshkey_load return code");
	if (r == RS_OK)
		fz_key(k);
	sshkey_free(k);

	free(p);
	return 0;
}
