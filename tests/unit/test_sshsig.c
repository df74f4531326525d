/*
 * test_sshsig.c - tests for the product's trust boundary: common/sshkey.c
 * (keys), sshsig.c (signatures), signers.c (allowed_signers) and, through
 * them, base64.c.  One program, since the three share the ssh-keygen
 * fixtures (keys and signatures made once in build/tests/tmp).
 *
 * Interoperability with the real OpenSSH ssh-keygen (run through the shell
 * in build/tests/tmp/test_sshsig):
 *   keys:        ours are read by `ssh-keygen -y`; ssh-keygen's load here;
 *                a passphrase-protected one is RS_ERR_KEY_ENCRYPTED;
 *                fingerprints equal `ssh-keygen -l`;
 *   signatures:  ours verify with `ssh-keygen -Y verify`, and are byte for
 *                byte what `ssh-keygen -Y sign` writes (Ed25519 is
 *                deterministic); ssh-keygen's verify here;
 *   signers:     a table of allowed_signers files, each checked here and
 *                by ssh-keygen, which must agree; a line left out must be
 *                named with its number and reason.
 * Then hand-made hostile blobs (each field wrong in turn), limits, and
 * randomized mutation loops over a signature, a message and an
 * allowed_signers file: nothing crashes and nothing mutated verifies.
 *
 * Output: the tests/run protocol through unit.h; diagnostics and the
 * output of ssh-keygen go to stderr.  RS_SEED=N repeats a mutation run.
 * A missing ssh-keygen is a failure, not a skip.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/evp.h>

#include "rs_attr.h"
#include "buf.h"
#include "hash.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "signers.h"
#include "sshkey.h"
#include "sshsig.h"
#include "unit.h"

#define NS		SSHSIG_NAMESPACE
#define BIG		(1024 * 1024)
#define INTEROP_SIGS	25
#define KEYGEN_SIGS	10
#define MUT_SIG		5000
#define MUT_MSG		2000
#define MUT_SIGNERS	5000

static char tmpdir[1024];
static uint64_t rng_state;

/* Helpers ------------------------------------------------------------ */

static uint64_t
rng(void)
{
	/* xorshift64*: reproducible from RS_SEED, good enough to mutate. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

static void
check_rc(const char *name, int got, int want)
{
	if (got != want)
		fprintf(stderr, "%s: got %d (%s), want %d (%s)\n", name, got,
		    rs_err_str(got), want, rs_err_str(want));
	UT_CHECK(name, got == want);
}

static int
path_of(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", tmpdir, name);

	return n > 0 && (size_t)n < size ? 0 : -1;
}

static int
write_file(const char *name, const void *p, size_t n, int mode)
{
	char path[1200];
	FILE *f;
	int ok;

	if (path_of(path, sizeof(path), name) != 0 ||
	    (f = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(p, 1, n, f) == n;
	if (fclose(f) != 0)
		ok = 0;
	if (chmod(path, (mode_t)mode) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Read tmpdir/name into out (reset first). */
static int
read_file(const char *name, struct rs_buf *out)
{
	char path[1200], chunk[4096];
	FILE *f;
	size_t n;
	int r = 0;

	rs_buf_reset(out);
	if (path_of(path, sizeof(path), name) != 0 ||
	    (f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (rs_buf_put(out, chunk, n) != RS_OK)
			r = -1;
	if (ferror(f))
		r = -1;
	fclose(f);
	return r;
}

/*
 * Run a shell command in tmpdir; its stdout goes to our stderr unless
 * capture is given.  Returns the exit status, or -1.
 */
static int
vsh(struct rs_buf *capture, const char *fmt, va_list ap)
{
	struct rs_buf cmd;
	char chunk[4096];
	FILE *p;
	size_t n;
	int st = -1;

	rs_buf_init(&cmd, 65536);
	if (rs_buf_printf(&cmd, "cd '%s' && ( ", tmpdir) != RS_OK)
		goto out;
	{
		va_list aq;
		struct rs_buf tail;
		int len;

		rs_buf_init(&tail, 65536);
		va_copy(aq, ap);
		len = vsnprintf(NULL, 0, fmt, aq);
		va_end(aq);
		if (len < 0 || rs_buf_reserve(&tail, (size_t)len) != RS_OK) {
			rs_buf_free(&tail);
			goto out;
		}
		vsnprintf((char *)tail.data, (size_t)len + 1, fmt, ap);
		tail.len = (size_t)len;
		if (rs_buf_put(&cmd, tail.data, tail.len) != RS_OK) {
			rs_buf_free(&tail);
			goto out;
		}
		rs_buf_free(&tail);
	}
	if (rs_buf_put_str(&cmd, capture != NULL ? " )" : " ) >&2") != RS_OK)
		goto out;
	fprintf(stderr, "+ %s\n", (char *)cmd.data);
	if (capture == NULL) {
		st = system((char *)cmd.data);
	} else {
		rs_buf_reset(capture);
		if ((p = popen((char *)cmd.data, "r")) == NULL)
			goto out;
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
			(void)rs_buf_put(capture, chunk, n);
		st = pclose(p);
	}
	if (st != -1)
		st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
out:
	rs_buf_free(&cmd);
	return st;
}

static int
sh(const char *fmt, ...)
    RS_PRINTF(1, 2)
    ;

static int
sh(const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = vsh(NULL, fmt, ap);
	va_end(ap);
	return st;
}

static int
sh_out(struct rs_buf *out, const char *fmt, ...)
    RS_PRINTF(2, 3)
    ;

static int
sh_out(struct rs_buf *out, const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = vsh(out, fmt, ap);
	va_end(ap);
	return st;
}

/* Strip trailing newlines. */
static void
chomp(struct rs_buf *b)
{
	while (b->len > 0 && (b->data[b->len - 1] == '\n' ||
	    b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
}

static int
digest(const char *alg, const void *m, size_t n, unsigned char *md,
    size_t *mdlen)
{
	struct rs_hash *h = NULL;
	int r;

	if ((r = rs_hash_new(alg, &h)) == RS_OK &&
	    (r = rs_hash_update(h, m, n)) == RS_OK)
		r = rs_hash_final(h, md, mdlen);
	rs_hash_free(h);
	return r;
}

static int
sign_msg(const struct sshkey *k, const char *ns, const char *alg,
    const void *m, size_t n, struct rs_buf *sig)
{
	unsigned char md[RS_HASH_MAX];
	size_t mdlen;
	int r;

	if ((r = digest(alg, m, n, md, &mdlen)) != RS_OK)
		return r;
	return sshsig_sign(k, ns, alg, md, mdlen, sig);
}

/* The receiver's order: parse, namespace, hash, verify. */
static int
verify_msg(const void *sig, size_t siglen, const void *m, size_t n,
    const char *ns, struct sshsig **keep)
{
	struct sshsig *s = NULL;
	unsigned char md[RS_HASH_MAX];
	size_t mdlen;
	int r;

	if (keep != NULL)
		*keep = NULL;
	if ((r = sshsig_parse(sig, siglen, &s)) != RS_OK)
		goto out;
	if (strcmp(sshsig_namespace(s), ns) != 0) {
		r = RS_ERR_NAMESPACE;
		goto out;
	}
	if ((r = digest(sshsig_hash_alg(s), m, n, md, &mdlen)) != RS_OK)
		goto out;
	r = sshsig_verify(s, ns, md, mdlen);
	if (r == RS_OK && keep != NULL) {
		*keep = s;
		s = NULL;
	}
out:
	sshsig_free(s);
	return r;
}

/* Test-side base64 (OpenSSL's), to build hostile inputs by hand. */
static int
b64(const unsigned char *p, size_t n, struct rs_buf *out)
{
	size_t need = 4 * ((n + 2) / 3);
	int r;

	if ((r = rs_buf_reserve(out, need)) != RS_OK)
		return r;
	if (EVP_EncodeBlock(out->data + out->len, p, (int)n) != (int)need)
		return RS_ERR_CRYPTO;
	out->len += need;
	out->data[out->len] = '\0';
	return RS_OK;
}

static int
armor(const char *what, const unsigned char *p, size_t n, struct rs_buf *out)
{
	struct rs_buf t;
	size_t i;
	int r;

	rs_buf_init(&t, BIG);
	rs_buf_reset(out);
	if ((r = b64(p, n, &t)) != RS_OK ||
	    (r = rs_buf_printf(out, "-----BEGIN %s-----\n", what)) != RS_OK)
		goto out;
	for (i = 0; i < t.len; i += 70)
		if ((r = rs_buf_put(out, t.data + i,
		    t.len - i < 70 ? t.len - i : 70)) != RS_OK ||
		    (r = rs_buf_put_u8(out, '\n')) != RS_OK)
			goto out;
	r = rs_buf_printf(out, "-----END %s-----\n", what);
out:
	rs_buf_free(&t);
	return r;
}

/* Decode an armored text the lenient way (for building test inputs). */
static int
dearmor(const unsigned char *text, size_t n, struct rs_buf *out)
{
	struct rs_buf t;
	size_t i, pad = 0;
	int first = 1, r = RS_ERR_FORMAT, len;

	rs_buf_init(&t, BIG);
	rs_buf_reset(out);
	for (i = 0; i < n; i++) {
		if (first) {
			if (text[i] == '\n')
				first = 0;
			continue;
		}
		if (text[i] == '-')
			break;
		if (text[i] != '\n' && rs_buf_put_u8(&t, text[i]) != RS_OK)
			goto out;
	}
	if (t.len == 0 || t.len % 4 != 0)
		goto out;
	pad = (t.data[t.len - 1] == '=') + (t.data[t.len - 2] == '=');
	if (rs_buf_reserve(out, t.len) != RS_OK)
		goto out;
	len = EVP_DecodeBlock(out->data, t.data, (int)t.len);
	if (len < 0 || (size_t)len < pad)
		goto out;
	out->len = (size_t)len - pad;
	out->data[out->len] = '\0';
	r = RS_OK;
out:
	rs_buf_free(&t);
	return r;
}

/* Does p[0..n), which may hold NUL bytes, contain the string s? */
static int
mem_has(const unsigned char *p, size_t n, const char *s)
{
	size_t sl = strlen(s), i;

	for (i = 0; i + sl <= n; i++)
		if (memcmp(p + i, s, sl) == 0)
			return 1;
	return 0;
}

/* Replace every "KEY" by key and every "OTHER" by other. */
static int
subst(const char *tmpl, const char *key, const char *other,
    struct rs_buf *out)
{
	const char *p = tmpl;
	int r = RS_OK;

	rs_buf_reset(out);
	while (*p != '\0' && r == RS_OK) {
		if (strncmp(p, "KEY", 3) == 0) {
			r = rs_buf_put_str(out, key);
			p += 3;
		} else if (strncmp(p, "OTHER", 5) == 0) {
			r = rs_buf_put_str(out, other);
			p += 5;
		} else
			r = rs_buf_put_u8(out, (uint8_t)*p++);
	}
	return r;
}

/* Keys: ours read by ssh-keygen, and ssh-keygen's read here ---------- */

static struct sshkey *kg_key;	/* made by ssh-keygen, for corp */
static struct rs_buf kg_pub;		/* "ssh-ed25519 AAAA..." no comment */
static struct rs_buf other_pub;		/* an unrelated Ed25519 key */

static void
test_keys(void)
{
	struct sshkey *k = NULL, *k2 = NULL;
	struct rs_buf file, line, out, line2;
	char *sp;
	int st, r;

	rs_buf_init(&file, BIG);
	rs_buf_init(&line, BIG);
	rs_buf_init(&line2, BIG);
	rs_buf_init(&out, BIG);

	/* (a) our key, saved, read back by ssh-keygen -y. */
	r = sshkey_generate(&k);
	check_rc("key generate", r, RS_OK);
	if (k == NULL)
		goto out;
	r = sshkey_save(k, "corp@test", &file);
	UT_CHECK("key save", r == RS_OK && write_file("ours", file.data,
	    file.len, 0600) == 0);
	r = sshkey_publine(k, "corp@test", &line);
	st = sh_out(&out, "ssh-keygen -y -f ours");
	chomp(&out);
	if (st != 0 || strcmp((char *)out.data, (char *)line.data) != 0)
		fprintf(stderr, "ssh-keygen -y: status %d, '%s'; ours '%s'\n",
		    st, (char *)out.data, (char *)line.data);
	UT_CHECK("interop ssh-keygen -y reads our key", r == RS_OK &&
	    st == 0 && strcmp((char *)out.data, (char *)line.data) == 0);
	rs_buf_reset(&line2);
	UT_CHECK("key publine without comment",
	    sshkey_publine(k, NULL, &line2) == RS_OK &&
	    line.len == line2.len + strlen(" corp@test") &&
	    memcmp(line.data, line2.data, line2.len) == 0);
	UT_CHECK("key publine refuses newline in comment",
	    sshkey_publine(k, "a\nb", &line2) == RS_ERR_INVAL);

	/* ssh-keygen signs with our key file exactly as we do. */
	rs_buf_reset(&line2);
	r = sign_msg(k, NS, "sha512", "m\n", 2, &line2);
	st = write_file("om", "m\n", 2, 0644) == 0 ?
	    sh("rm -f om.sig && ssh-keygen -Y sign -f ours -n rcptsync om") :
	    -1;
	UT_CHECK("interop ssh-keygen -Y sign with our key file", r == RS_OK &&
	    st == 0 && read_file("om.sig", &out) == 0 &&
	    out.len == line2.len && memcmp(out.data, line2.data, out.len) == 0);

	/* Our own file loads back to the same key. */
	r = sshkey_load((char *)file.data, file.len, &k2);
	rs_buf_reset(&line2);
	UT_CHECK("key save/load round trip", r == RS_OK &&
	    sshkey_publine(k2, "corp@test", &line2) == RS_OK &&
	    strcmp((char *)line.data, (char *)line2.data) == 0);
	sshkey_free(k2);
	k2 = NULL;

	/* Fingerprint of our key equals ssh-keygen -l on it. */
	rs_buf_reset(&line2);
	st = sh_out(&out, "ssh-keygen -lf ours | cut -d' ' -f2");
	chomp(&out);
	r = sshkey_fingerprint(k, &line2);
	UT_CHECK("interop fingerprint of our key equals ssh-keygen -l",
	    r == RS_OK && st == 0 && out.len > 7 &&
	    strcmp((char *)out.data, (char *)line2.data) == 0);

	/* (b) ssh-keygen's key loads here. */
	st = sh("rm -f kg kg.pub && ssh-keygen -q -t ed25519 -N '' -C corp "
	    "-f kg");
	UT_CHECK("ssh-keygen -t ed25519 -N ''", st == 0);
	r = read_file("kg", &file) == 0 ?
	    sshkey_load((char *)file.data, file.len, &kg_key) : -1;
	check_rc("interop sshkey_load of ssh-keygen key", r, RS_OK);
	if (read_file("kg.pub", &out) == 0)
		chomp(&out);
	rs_buf_reset(&line);
	UT_CHECK("interop publine equals ssh-keygen's .pub", kg_key != NULL &&
	    sshkey_publine(kg_key, "corp", &line) == RS_OK &&
	    strcmp((char *)line.data, (char *)out.data) == 0);
	rs_buf_reset(&kg_pub);
	if (kg_key != NULL)
		(void)sshkey_publine(kg_key, NULL, &kg_pub);

	/* The same file with CRLF line ends still loads. */
	{
		struct rs_buf crlf;
		size_t i;

		rs_buf_init(&crlf, BIG);
		for (i = 0; i < file.len; i++) {
			if (file.data[i] == '\n')
				(void)rs_buf_put_u8(&crlf, '\r');
			(void)rs_buf_put_u8(&crlf, file.data[i]);
		}
		r = sshkey_load((char *)crlf.data, crlf.len, &k2);
		check_rc("key load with CRLF", r, RS_OK);
		sshkey_free(k2);
		k2 = NULL;
		rs_buf_free(&crlf);
	}

	/* Fingerprint of ssh-keygen's key. */
	st = sh_out(&out, "ssh-keygen -lf kg.pub | cut -d' ' -f2");
	chomp(&out);
	rs_buf_reset(&line2);
	UT_CHECK("interop fingerprint equals ssh-keygen -lf", kg_key != NULL &&
	    st == 0 && sshkey_fingerprint(kg_key, &line2) == RS_OK &&
	    strcmp((char *)out.data, (char *)line2.data) == 0);

	/* Passphrase-protected and other key types. */
	st = sh("rm -f enc enc.pub && ssh-keygen -q -t ed25519 -N pass "
	    "-f enc");
	r = st == 0 && read_file("enc", &file) == 0 ?
	    sshkey_load((char *)file.data, file.len, &k2) : -1;
	check_rc("interop encrypted key is RS_ERR_KEY_ENCRYPTED", r,
	    RS_ERR_KEY_ENCRYPTED);
	UT_CHECK("encrypted key gives no object", k2 == NULL);
	st = sh("rm -f ec ec.pub && ssh-keygen -q -t ecdsa -N '' -f ec");
	r = st == 0 && read_file("ec", &file) == 0 ?
	    sshkey_load((char *)file.data, file.len, &k2) : -1;
	check_rc("interop ecdsa key is RS_ERR_ALG", r, RS_ERR_ALG);
	st = sh("rm -f rsa rsa.pub && ssh-keygen -q -t rsa -b 2048 -N '' "
	    "-f rsa");
	r = st == 0 && read_file("rsa", &file) == 0 ?
	    sshkey_load((char *)file.data, file.len, &k2) : -1;
	check_rc("interop rsa key is RS_ERR_ALG", r, RS_ERR_ALG);

	/* An unrelated key for "unknown signer" cases. */
	st = sh("rm -f oth oth.pub && ssh-keygen -q -t ed25519 -N '' -f oth");
	rs_buf_reset(&other_pub);
	if (st == 0 && read_file("oth.pub", &other_pub) == 0) {
		chomp(&other_pub);
		if ((sp = strchr((char *)other_pub.data + 12, ' ')) != NULL) {
			*sp = '\0';
			other_pub.len = (size_t)(sp - (char *)other_pub.data);
		}
	}
	UT_CHECK("other key made", st == 0 && other_pub.len > 20);
out:
	sshkey_free(k);
	sshkey_free(k2);
	rs_buf_free(&file);
	rs_buf_free(&line);
	rs_buf_free(&line2);
	rs_buf_free(&out);
}

/* Hand-made key files: every field wrong in turn. */
struct keycase {
	const char	*name;
	const char	*magic;
	const char	*cipher;
	const char	*kdf;
	const char	*kdfopts;
	uint32_t	 nkeys;
	const char	*pubtype;
	int		 check_differs;
	const char	*privtype;
	int		 inner_pub_differs;
	int		 sk_pub_differs;
	int		 seed_differs;
	int		 bad_pad;
	int		 extra_block;
	int		 outer_trailing;
	int		 want;
};

static const struct keycase keycases[] = {
	{ "keyfile crafted ok", NULL, NULL, NULL, NULL, 1, NULL, 0, NULL,
	    0, 0, 0, 0, 0, 0, RS_OK },
	{ "keyfile bad magic", "openssh-key-v2", NULL, NULL, NULL, 1, NULL,
	    0, NULL, 0, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile cipher aes256-ctr", NULL, "aes256-ctr", "bcrypt", NULL, 1,
	    NULL, 0, NULL, 0, 0, 0, 0, 0, 0, RS_ERR_KEY_ENCRYPTED },
	{ "keyfile kdf without cipher", NULL, NULL, "bcrypt", NULL, 1, NULL,
	    0, NULL, 0, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile kdf options", NULL, NULL, NULL, "x", 1, NULL, 0, NULL,
	    0, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile two keys", NULL, NULL, NULL, NULL, 2, NULL, 0, NULL,
	    0, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile zero keys", NULL, NULL, NULL, NULL, 0, NULL, 0, NULL,
	    0, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile rsa public", NULL, NULL, NULL, NULL, 1, "ssh-rsa", 0, NULL,
	    0, 0, 0, 0, 0, 0, RS_ERR_ALG },
	{ "keyfile check-int mismatch", NULL, NULL, NULL, NULL, 1, NULL, 1,
	    NULL, 0, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile rsa private", NULL, NULL, NULL, NULL, 1, NULL, 0,
	    "ssh-rsa", 0, 0, 0, 0, 0, 0, RS_ERR_ALG },
	{ "keyfile inner public differs", NULL, NULL, NULL, NULL, 1, NULL, 0,
	    NULL, 1, 0, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile private half public differs", NULL, NULL, NULL, NULL, 1,
	    NULL, 0, NULL, 0, 1, 0, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile seed not for public", NULL, NULL, NULL, NULL, 1, NULL, 0,
	    NULL, 0, 0, 1, 0, 0, 0, RS_ERR_KEY },
	{ "keyfile bad padding", NULL, NULL, NULL, NULL, 1, NULL, 0, NULL,
	    0, 0, 0, 1, 0, 0, RS_ERR_KEY },
	{ "keyfile padding too long", NULL, NULL, NULL, NULL, 1, NULL, 0,
	    NULL, 0, 0, 0, 0, 1, 0, RS_ERR_KEY },
	{ "keyfile trailing data", NULL, NULL, NULL, NULL, 1, NULL, 0, NULL,
	    0, 0, 0, 0, 0, 1, RS_ERR_KEY },
};

static int
build_keyfile(const struct keycase *c, const unsigned char seed[32],
    const unsigned char pub[32], struct rs_buf *out)
{
	struct rs_buf blob, priv, pb;
	unsigned char p2[32], s2[32];
	size_t i;
	int r;

	rs_buf_init(&blob, BIG);
	rs_buf_init(&priv, BIG);
	rs_buf_init(&pb, BIG);
	memcpy(p2, pub, 32);
	memcpy(s2, seed, 32);
	p2[5] ^= 0x10;
	s2[7] ^= 0x01;
	r = RS_ERR_INTERNAL;
	if (rs_buf_put_cstring(&pb, c->pubtype ? c->pubtype : "ssh-ed25519") ||
	    rs_buf_put_string(&pb, pub, 32))
		goto out;
	if (rs_buf_put_u32(&priv, 0x01020304) ||
	    rs_buf_put_u32(&priv, c->check_differs ? 0x01020305 : 0x01020304) ||
	    rs_buf_put_cstring(&priv, c->privtype ? c->privtype :
	    "ssh-ed25519") ||
	    rs_buf_put_string(&priv, c->inner_pub_differs ? p2 : pub, 32) ||
	    rs_buf_put_u32(&priv, 64) ||
	    rs_buf_put(&priv, c->seed_differs ? s2 : seed, 32) ||
	    rs_buf_put(&priv, c->sk_pub_differs ? p2 : pub, 32) ||
	    rs_buf_put_cstring(&priv, "comment"))
		goto out;
	for (i = 1; priv.len % 8 != 0; i++)
		if (rs_buf_put_u8(&priv, (uint8_t)(c->bad_pad ? i + 1 : i)))
			goto out;
	if (c->extra_block)
		for (i = 0; i < 8; i++)
			if (rs_buf_put_u8(&priv, (uint8_t)(priv.len % 8 + 1)))
				goto out;
	if (rs_buf_put_str(&blob, c->magic ? c->magic : "openssh-key-v1") ||
	    rs_buf_put_u8(&blob, 0) ||
	    rs_buf_put_cstring(&blob, c->cipher ? c->cipher : "none") ||
	    rs_buf_put_cstring(&blob, c->kdf ? c->kdf : "none") ||
	    rs_buf_put_cstring(&blob, c->kdfopts ? c->kdfopts : "") ||
	    rs_buf_put_u32(&blob, c->nkeys) ||
	    rs_buf_put_string(&blob, pb.data, pb.len) ||
	    rs_buf_put_string(&blob, priv.data, priv.len))
		goto out;
	if (c->outer_trailing && rs_buf_put_u8(&blob, 0))
		goto out;
	r = armor("OPENSSH PRIVATE KEY", blob.data, blob.len, out);
out:
	rs_buf_free(&blob);
	rs_buf_free(&priv);
	rs_buf_free(&pb);
	return r;
}

static void
test_keyfiles(void)
{
	struct sshkey *k = NULL;
	struct rs_buf f;
	unsigned char seed[32], pub[32];
	size_t i, n = 32;
	EVP_PKEY *pk = NULL;
	int r;

	rs_buf_init(&f, BIG);
	/* A fixed seed; its public half from OpenSSL, independently. */
	for (i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i * 13 + 1);
	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    32)) == NULL || EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1) {
		UT_CHECK("keyfile openssl", 0);
		goto out;
	}
	for (i = 0; i < sizeof(keycases) / sizeof(keycases[0]); i++) {
		r = build_keyfile(&keycases[i], seed, pub, &f);
		if (r == RS_OK)
			r = sshkey_load((char *)f.data, f.len, &k);
		check_rc(keycases[i].name, r, keycases[i].want);
		if (r != RS_OK && k != NULL)
			UT_CHECK("keyfile failure leaves out NULL", 0);
		sshkey_free(k);
		k = NULL;
	}
	r = build_keyfile(&keycases[0], seed, pub, &f);
	f.len -= 30;		/* cut inside the END line */
	check_rc("keyfile truncated armor", sshkey_load((char *)f.data,
	    f.len, &k), RS_ERR_KEY);
	check_rc("keyfile empty", sshkey_load("", 0, &k), RS_ERR_KEY);
	check_rc("keyfile public key text", sshkey_load(
	    (char *)kg_pub.data, kg_pub.len, &k), RS_ERR_KEY);
	{
		char *big = malloc(RS_MAX_KEYFILE_BYTES + 1);

		if (big != NULL)
			memset(big, 'A', RS_MAX_KEYFILE_BYTES + 1);
		check_rc("keyfile over RS_MAX_KEYFILE_BYTES", big == NULL ? -1 :
		    sshkey_load(big, RS_MAX_KEYFILE_BYTES + 1, &k),
		    RS_ERR_LIMIT);
		free(big);
	}
out:
	EVP_PKEY_free(pk);
	rs_buf_free(&f);
}

/* Signatures: ours verified by ssh-keygen, and the other way round ---- */

static void
test_sign_interop(void)
{
	struct rs_buf sig, msg, as, theirs;
	struct sshsig *s = NULL;
	struct signers *ss = NULL;
	size_t i, good = 0, same = 0;
	unsigned char len2[2];
	int st, r;

	rs_buf_init(&sig, BIG);
	rs_buf_init(&msg, BIG);
	rs_buf_init(&as, BIG);
	rs_buf_init(&theirs, BIG);
	if (kg_key == NULL) {
		UT_CHECK("interop sign: no ssh-keygen key", 0);
		goto out;
	}
	(void)rs_buf_printf(&as, "corp %s\n", (char *)kg_pub.data);
	if (write_file("allowed_signers", as.data, as.len, 0644) != 0)
		UT_CHECK("write allowed_signers", 0);

	/* (c) our signatures over random messages verify in ssh-keygen. */
	for (i = 0; i < INTEROP_SIGS; i++) {
		rs_buf_reset(&msg);
		rs_buf_reset(&sig);
		if (rs_random(len2, sizeof(len2)) != RS_OK ||
		    rs_buf_reserve(&msg, 8192) != RS_OK)
			break;
		msg.len = i == 0 ? 0 : (size_t)(len2[0] << 5 | len2[1]) % 8192;
		if (rs_random(msg.data, msg.len) != RS_OK)
			break;
		if ((r = sign_msg(kg_key, NS, "sha512", msg.data, msg.len,
		    &sig)) != RS_OK) {
			fprintf(stderr, "sign %zu: %s\n", i, rs_err_str(r));
			continue;
		}
		if (write_file("f", msg.data, msg.len, 0644) != 0 ||
		    write_file("f.sig", sig.data, sig.len, 0644) != 0)
			continue;
		st = sh("ssh-keygen -Y verify -f allowed_signers -I corp "
		    "-n rcptsync -s f.sig < f");
		if (st == 0)
			good++;
		/* Ed25519 is deterministic: ssh-keygen writes the same. */
		if (sh("rm -f f.sig && ssh-keygen -Y sign -f kg -n rcptsync f")
		    == 0 && read_file("f.sig", &theirs) == 0 &&
		    theirs.len == sig.len &&
		    memcmp(theirs.data, sig.data, sig.len) == 0)
			same++;
		else
			fprintf(stderr, "ours:\n%s\ntheirs:\n%s\n",
			    (char *)sig.data, (char *)theirs.data);
	}
	if (good != INTEROP_SIGS)
		fprintf(stderr, "ssh-keygen verified %zu of %d\n", good,
		    INTEROP_SIGS);
	UT_CHECK("interop ssh-keygen -Y verify accepts our signatures",
	    good == INTEROP_SIGS);
	UT_CHECK("interop our signature is byte-identical to ssh-keygen's",
	    same == INTEROP_SIGS);

	/* sha256 is allowed by the format; ssh-keygen takes it too. */
	rs_buf_reset(&sig);
	r = sign_msg(kg_key, NS, "sha256", "hello\n", 6, &sig);
	st = r == RS_OK && write_file("h", "hello\n", 6, 0644) == 0 &&
	    write_file("h.sig", sig.data, sig.len, 0644) == 0 ?
	    sh("ssh-keygen -Y verify -f allowed_signers -I corp -n rcptsync "
	    "-s h.sig < h") : -1;
	UT_CHECK("interop sha256 signature verifies in ssh-keygen", st == 0);
	check_rc("sha256 signature verifies here", verify_msg(sig.data,
	    sig.len, "hello\n", 6, NS, NULL), RS_OK);
	rs_buf_reset(&sig);
	check_rc("sign refuses md5", sign_msg(kg_key, NS, "md5", "x", 1, &sig),
	    RS_ERR_ALG);
	{
		unsigned char md[64] = { 0 };

		check_rc("sign refuses a short digest", sshsig_sign(kg_key, NS,
		    "sha512", md, 32, &sig), RS_ERR_INVAL);
		check_rc("sign refuses an empty namespace", sshsig_sign(kg_key,
		    "", "sha512", md, 64, &sig), RS_ERR_INVAL);
		UT_CHECK("failed sign leaves output untouched", sig.len == 0);
	}

	/* (d) ssh-keygen's signatures verify here; the signer is corp. */
	(void)signers_parse((char *)as.data, as.len, &ss);
	for (i = 0, good = 0; i < KEYGEN_SIGS; i++) {
		rs_buf_reset(&msg);
		(void)rs_buf_printf(&msg, "message %zu\n", i);
		if (rs_buf_reserve(&msg, 300) != RS_OK ||
		    rs_random(msg.data + msg.len, i * 29) != RS_OK)
			break;
		msg.len += i * 29;
		if (write_file("g", msg.data, msg.len, 0644) != 0 ||
		    sh("rm -f g.sig && ssh-keygen -Y sign -f kg -n rcptsync g")
		    != 0 || read_file("g.sig", &sig) != 0)
			continue;
		r = verify_msg(sig.data, sig.len, msg.data, msg.len, NS, &s);
		if (r == RS_OK && ss != NULL && signers_check(ss,
		    sshsig_pubkey(s), "corp", NS, time(NULL)) == RS_OK)
			good++;
		else
			fprintf(stderr, "ssh-keygen sig %zu: %s\n", i,
			    rs_err_str(r));
		sshsig_free(s);
		s = NULL;
	}
	UT_CHECK("interop ssh-keygen -Y sign verifies here for corp",
	    good == KEYGEN_SIGS);

	/* The signer's fingerprint, for log lines. */
	rs_buf_reset(&theirs);
	rs_buf_reset(&msg);
	r = verify_msg(sig.data, sig.len, "", 0, NS, NULL);
	check_rc("signature over another message does not verify", r,
	    RS_ERR_SIG);
	if (sshsig_parse((char *)sig.data, sig.len, &s) == RS_OK &&
	    sshsig_fingerprint(s, &theirs) == RS_OK &&
	    sh_out(&msg, "ssh-keygen -lf kg.pub | cut -d' ' -f2") == 0) {
		chomp(&msg);
		UT_CHECK("interop signature fingerprint equals ssh-keygen -l",
		    strcmp((char *)msg.data, (char *)theirs.data) == 0);
	} else
		UT_CHECK("interop signature fingerprint equals ssh-keygen -l",
		    0);
	UT_CHECK("signature accessors", s != NULL &&
	    strcmp(sshsig_hash_alg(s), "sha512") == 0 &&
	    strcmp(sshsig_namespace(s), NS) == 0);
	sshsig_free(s);
	s = NULL;
out:
	signers_free(ss);
	rs_buf_free(&sig);
	rs_buf_free(&msg);
	rs_buf_free(&as);
	rs_buf_free(&theirs);
}

/* (e) Negative cases on whole signatures. */
static void
test_sig_negative(void)
{
	static const char m[] = "corp.17.rcpt.gz bytes\n";
	struct rs_buf sig, t, blob;
	struct sshsig *s = NULL;
	size_t i, ml = sizeof(m) - 1;
	int r, st;

	rs_buf_init(&sig, BIG);
	rs_buf_init(&t, BIG);
	rs_buf_init(&blob, BIG);
	if (kg_key == NULL || sign_msg(kg_key, NS, "sha512", m, ml, &sig) !=
	    RS_OK) {
		UT_CHECK("negative: setup", 0);
		goto out;
	}
	check_rc("negative baseline verifies", verify_msg(sig.data, sig.len,
	    m, ml, NS, NULL), RS_OK);

	/* A flipped bit anywhere in the message. */
	for (i = 0, r = RS_OK; i < ml * 8; i++) {
		char mm[sizeof(m)];

		memcpy(mm, m, sizeof(m));
		mm[i / 8] ^= (char)(1 << (i % 8));
		if (verify_msg(sig.data, sig.len, mm, ml, NS, NULL) !=
		    RS_ERR_SIG)
			r = RS_ERR_INTERNAL;
	}
	check_rc("flipped bit in message (every bit)", r, RS_OK);

	/* Flipped bits in the signature bytes, re-armored. */
	if (dearmor(sig.data, sig.len, &blob) != RS_OK) {
		UT_CHECK("negative: dearmor", 0);
		goto out;
	}
	for (i = 0, r = RS_OK; i < 64 * 8; i++) {
		blob.data[blob.len - 64 + i / 8] ^= (unsigned char)(1 << i % 8);
		if (armor("SSH SIGNATURE", blob.data, blob.len, &t) != RS_OK ||
		    verify_msg(t.data, t.len, m, ml, NS, NULL) != RS_ERR_SIG)
			r = RS_ERR_INTERNAL;
		blob.data[blob.len - 64 + i / 8] ^= (unsigned char)(1 << i % 8);
	}
	check_rc("flipped bit in signature (every bit)", r, RS_OK);
	/* Our re-armoring of the intact blob is the signature itself. */
	UT_CHECK("test armor reproduces signature", armor("SSH SIGNATURE",
	    blob.data, blob.len, &t) == RS_OK && t.len == sig.len &&
	    memcmp(t.data, sig.data, t.len) == 0);
	/* A flipped bit in the public key inside the signature. */
	blob.data[6 + 4 + 4 + 15 + 4 + 3] ^= 0x04;
	(void)armor("SSH SIGNATURE", blob.data, blob.len, &t);
	check_rc("flipped bit in embedded public key", verify_msg(t.data,
	    t.len, m, ml, NS, NULL), RS_ERR_SIG);
	blob.data[6 + 4 + 4 + 15 + 4 + 3] ^= 0x04;

	/* Wrong namespace, from ssh-keygen. */
	if (write_file("n", m, ml, 0644) == 0 &&
	    sh("rm -f n.sig && ssh-keygen -Y sign -f kg -n other n") == 0 &&
	    read_file("n.sig", &t) == 0) {
		check_rc("wrong namespace (ssh-keygen -n other)", verify_msg(
		    t.data, t.len, m, ml, NS, NULL), RS_ERR_NAMESPACE);
		r = sshsig_parse((char *)t.data, t.len, &s);
		if (r == RS_OK) {
			unsigned char md[64];
			size_t mdlen;

			(void)digest("sha512", m, ml, md, &mdlen);
			r = sshsig_verify(s, NS, md, mdlen);
		}
		check_rc("sshsig_verify checks the namespace itself", r,
		    RS_ERR_NAMESPACE);
		sshsig_free(s);
		s = NULL;
	} else
		UT_CHECK("wrong namespace (ssh-keygen -n other)", 0);

	/* ECDSA signature from ssh-keygen: algorithm refused. */
	st = sh("rm -f n.sig && ssh-keygen -Y sign -f ec -n rcptsync n");
	r = st == 0 && read_file("n.sig", &t) == 0 ?
	    sshsig_parse((char *)t.data, t.len, &s) : -1;
	check_rc("ecdsa signature (ssh-keygen) is RS_ERR_ALG", r, RS_ERR_ALG);
	sshsig_free(s);
	s = NULL;

	/* Armor damage. */
	for (i = 1; i < sig.len - 1; i += 7) {
		r = sshsig_parse((char *)sig.data, i, &s);
		sshsig_free(s);
		s = NULL;
		if (r != RS_ERR_TRUNC) {
			fprintf(stderr, "cut at %zu: %s\n", i, rs_err_str(r));
			break;
		}
	}
	check_rc("truncated armor (every 7th length)", r, RS_ERR_TRUNC);
	check_rc("empty signature file", sshsig_parse("", 0, &s),
	    RS_ERR_TRUNC);
	(void)rs_buf_reset(&t);
	(void)rs_buf_put(&t, sig.data, sig.len);
	t.data[40] = '!';
	check_rc("garbage base64", sshsig_parse((char *)t.data, t.len, &s),
	    RS_ERR_FORMAT);
	t.data[40] = ' ';
	check_rc("space inside base64", sshsig_parse((char *)t.data, t.len,
	    &s), RS_ERR_FORMAT);
	t.data[40] = sig.data[40];
	{
		/*
		 * The character before "==" carries 4 unused bits: a
		 * different value there decodes to the same bytes and must
		 * be refused (one encoding per blob).
		 */
		char *eq = strstr((char *)t.data, "==\n");

		if (eq != NULL) {
			eq[-1] = (char)(eq[-1] == 'A' ? 'B' :
			    eq[-1] == 'Q' ? 'R' : eq[-1] == 'g' ? 'h' : 'x');
			r = sshsig_parse((char *)t.data, t.len, &s);
			eq[-1] = (char)sig.data[eq - 1 - (char *)t.data];
		} else
			r = RS_ERR_INTERNAL;
		check_rc("non-canonical base64 padding bits", r,
		    RS_ERR_FORMAT);
		sshsig_free(s);
		s = NULL;
	}
	(void)rs_buf_put_str(&t, "x");
	check_rc("trailing data after armor", sshsig_parse((char *)t.data,
	    t.len, &s), RS_ERR_TRAILING);
	t.len = sig.len - 1;			/* no final newline: fine */
	check_rc("no final newline", sshsig_parse((char *)t.data, t.len, &s),
	    RS_OK);
	sshsig_free(s);
	s = NULL;
	rs_buf_reset(&t);
	(void)rs_buf_put_str(&t, "junk\n");
	(void)rs_buf_put(&t, sig.data, sig.len);
	check_rc("junk before armor", sshsig_parse((char *)t.data, t.len, &s),
	    RS_ERR_FORMAT);
	rs_buf_reset(&t);
	for (i = 0; i < sig.len; i++) {
		if (sig.data[i] == '\n')
			(void)rs_buf_put_u8(&t, '\r');
		(void)rs_buf_put_u8(&t, sig.data[i]);
	}
	check_rc("CRLF signature refused", sshsig_parse((char *)t.data, t.len,
	    &s), RS_ERR_FORMAT);
	rs_buf_reset(&t);
	(void)rs_buf_put(&t, sig.data, sig.len);
	(void)rs_buf_put(&t, sig.data, sig.len);
	check_rc("two signatures", sshsig_parse((char *)t.data, t.len, &s),
	    RS_ERR_TRAILING);
	{
		char *big = malloc(RS_MAX_SIG_BYTES + 1);

		if (big != NULL)
			memset(big, 'A', RS_MAX_SIG_BYTES + 1);
		check_rc("signature over RS_MAX_SIG_BYTES", big == NULL ? -1 :
		    sshsig_parse(big, RS_MAX_SIG_BYTES + 1, &s), RS_ERR_LIMIT);
		free(big);
	}
	UT_CHECK("failed parse leaves out NULL", s == NULL);

	/* Trailing bytes inside the blob. */
	(void)rs_buf_put_u8(&blob, 0);
	(void)armor("SSH SIGNATURE", blob.data, blob.len, &t);
	check_rc("trailing data inside blob", sshsig_parse((char *)t.data,
	    t.len, &s), RS_ERR_TRAILING);
	blob.len--;
	(void)armor("SSH SIGNATURE", blob.data, blob.len - 1, &t);
	check_rc("truncated blob", sshsig_parse((char *)t.data, t.len, &s),
	    RS_ERR_TRUNC);
out:
	sshsig_free(s);
	rs_buf_free(&sig);
	rs_buf_free(&t);
	rs_buf_free(&blob);
}

/* Hand-built signature blobs, one field wrong at a time. */
struct sigcase {
	const char	*name;
	const char	*magic;
	uint32_t	 version;
	const char	*keytype;
	size_t		 pklen;
	int		 pk_trailing;
	const char	*ns;
	size_t		 nslen;
	const char	*reserved;
	const char	*hash;
	const char	*sigtype;
	size_t		 siglen;
	int		 sig_trailing;
	const char	*verify_hash;	/* digest to verify with */
	int		 want_parse;
	int		 want_verify;
};

static const struct sigcase sigcases[] = {
	{ "sigblob crafted ok", "SSHSIG", 1, "ssh-ed25519", 32, 0, NS, 8, "",
	    "sha512", "ssh-ed25519", 64, 0, "sha512", RS_OK, RS_OK },
	{ "sigblob bad magic", "SSHSIX", 1, "ssh-ed25519", 32, 0, NS, 8, "",
	    "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_FORMAT, 0 },
	{ "sigblob version 2", "SSHSIG", 2, "ssh-ed25519", 32, 0, NS, 8, "",
	    "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_VERSION, 0 },
	{ "sigblob version 0", "SSHSIG", 0, "ssh-ed25519", 32, 0, NS, 8, "",
	    "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_VERSION, 0 },
	{ "sigblob rsa key", "SSHSIG", 1, "ssh-rsa", 32, 0, NS, 8, "",
	    "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_ALG, 0 },
	{ "sigblob ed25519 cert key", "SSHSIG", 1,
	    "ssh-ed25519-cert-v01@openssh.com", 32, 0, NS, 8, "", "sha512",
	    "ssh-ed25519", 64, 0, "sha512", RS_ERR_ALG, 0 },
	{ "sigblob key 31 bytes", "SSHSIG", 1, "ssh-ed25519", 31, 0, NS, 8,
	    "", "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_FORMAT, 0 },
	{ "sigblob key 33 bytes", "SSHSIG", 1, "ssh-ed25519", 33, 0, NS, 8,
	    "", "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_FORMAT, 0 },
	{ "sigblob key blob trailing", "SSHSIG", 1, "ssh-ed25519", 32, 1, NS,
	    8, "", "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_TRAILING,
	    0 },
	{ "sigblob empty namespace", "SSHSIG", 1, "ssh-ed25519", 32, 0, "",
	    0, "", "sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_FORMAT,
	    0 },
	{ "sigblob NUL in namespace", "SSHSIG", 1, "ssh-ed25519", 32, 0,
	    "rcptsync\0x", 10, "", "sha512", "ssh-ed25519", 64, 0, "sha512",
	    RS_ERR_FORMAT, 0 },
	{ "sigblob namespace prefix", "SSHSIG", 1, "ssh-ed25519", 32, 0,
	    "rcptsyn", 7, "", "sha512", "ssh-ed25519", 64, 0, "sha512", RS_OK,
	    RS_ERR_NAMESPACE },
	{ "sigblob reserved not empty", "SSHSIG", 1, "ssh-ed25519", 32, 0,
	    NS, 8, "x", "sha512", "ssh-ed25519", 64, 0, "sha512",
	    RS_ERR_FORMAT, 0 },
	{ "sigblob hash md5", "SSHSIG", 1, "ssh-ed25519", 32, 0, NS, 8, "",
	    "md5", "ssh-ed25519", 64, 0, "sha512", RS_ERR_ALG, 0 },
	{ "sigblob hash sha384", "SSHSIG", 1, "ssh-ed25519", 32, 0, NS, 8,
	    "", "sha384", "ssh-ed25519", 64, 0, "sha512", RS_ERR_ALG, 0 },
	{ "sigblob hash long name", "SSHSIG", 1, "ssh-ed25519", 32, 0, NS, 8,
	    "", "sha512sha512", "ssh-ed25519", 64, 0, "sha512", RS_ERR_ALG,
	    0 },
	{ "sigblob hash relabelled sha256", "SSHSIG", 1, "ssh-ed25519", 32,
	    0, NS, 8, "", "sha256", "ssh-ed25519", 64, 0, "sha256", RS_OK,
	    RS_ERR_SIG },
	{ "sigblob rsa signature", "SSHSIG", 1, "ssh-ed25519", 32, 0, NS, 8,
	    "", "sha512", "rsa-sha2-512", 64, 0, "sha512", RS_ERR_ALG, 0 },
	{ "sigblob signature 63 bytes", "SSHSIG", 1, "ssh-ed25519", 32, 0,
	    NS, 8, "", "sha512", "ssh-ed25519", 63, 0, "sha512",
	    RS_ERR_FORMAT, 0 },
	{ "sigblob signature 65 bytes", "SSHSIG", 1, "ssh-ed25519", 32, 0,
	    NS, 8, "", "sha512", "ssh-ed25519", 65, 0, "sha512",
	    RS_ERR_FORMAT, 0 },
	{ "sigblob signature blob trailing", "SSHSIG", 1, "ssh-ed25519", 32,
	    0, NS, 8, "", "sha512", "ssh-ed25519", 64, 1, "sha512",
	    RS_ERR_TRAILING, 0 },
};

static void
test_sigblobs(void)
{
	static const char m[] = "some bundle";
	struct rs_buf sig, blob, b, pk, sb, t;
	struct rs_rd r, sub;
	const unsigned char *pkp = NULL, *sigp = NULL, *p;
	unsigned char md[64], sigx[65];
	struct sshsig *s = NULL;
	size_t i, n, mdlen;
	int rc;

	rs_buf_init(&sig, BIG);
	rs_buf_init(&blob, BIG);
	rs_buf_init(&b, BIG);
	rs_buf_init(&pk, BIG);
	rs_buf_init(&sb, BIG);
	rs_buf_init(&t, BIG);
	/* The key and signature bytes of a real signature. */
	if (kg_key == NULL || sign_msg(kg_key, NS, "sha512", m, sizeof(m) - 1,
	    &sig) != RS_OK || dearmor(sig.data, sig.len, &blob) != RS_OK) {
		UT_CHECK("sigblob setup", 0);
		goto out;
	}
	rs_rd_init(&r, blob.data, blob.len);
	if (rs_rd_bytes(&r, 10, NULL) != RS_OK ||
	    rs_rd_sub(&r, &sub) != RS_OK ||
	    rs_rd_string(&sub, &p, &n) != RS_OK ||
	    rs_rd_string(&sub, &pkp, &n) != RS_OK || n != 32 ||
	    rs_rd_string(&r, &p, &n) != RS_OK ||
	    rs_rd_string(&r, &p, &n) != RS_OK ||
	    rs_rd_string(&r, &p, &n) != RS_OK ||
	    rs_rd_sub(&r, &sub) != RS_OK ||
	    rs_rd_string(&sub, &p, &n) != RS_OK ||
	    rs_rd_string(&sub, &sigp, &n) != RS_OK || n != 64) {
		UT_CHECK("sigblob setup parse", 0);
		goto out;
	}
	memcpy(sigx, sigp, 64);
	sigx[64] = 0;
	for (i = 0; i < sizeof(sigcases) / sizeof(sigcases[0]); i++) {
		const struct sigcase *c = &sigcases[i];
		unsigned char pkx[33];

		memset(pkx, 0, sizeof(pkx));
		memcpy(pkx, pkp, 32);
		rs_buf_reset(&b);
		rs_buf_reset(&pk);
		rs_buf_reset(&sb);
		if (rs_buf_put_cstring(&pk, c->keytype) ||
		    rs_buf_put_string(&pk, pkx, c->pklen) ||
		    (c->pk_trailing && rs_buf_put_u8(&pk, 0)) ||
		    rs_buf_put_cstring(&sb, c->sigtype) ||
		    rs_buf_put_string(&sb, sigx, c->siglen) ||
		    (c->sig_trailing && rs_buf_put_u8(&sb, 0)) ||
		    rs_buf_put_str(&b, c->magic) ||
		    rs_buf_put_u32(&b, c->version) ||
		    rs_buf_put_string(&b, pk.data, pk.len) ||
		    rs_buf_put_string(&b, c->ns, c->nslen) ||
		    rs_buf_put_cstring(&b, c->reserved) ||
		    rs_buf_put_cstring(&b, c->hash) ||
		    rs_buf_put_string(&b, sb.data, sb.len) ||
		    armor("SSH SIGNATURE", b.data, b.len, &t)) {
			UT_CHECK(c->name, 0);
			continue;
		}
		rc = sshsig_parse((char *)t.data, t.len, &s);
		if (rc == RS_OK && c->want_parse == RS_OK) {
			(void)digest(c->verify_hash, m, sizeof(m) - 1, md,
			    &mdlen);
			rc = sshsig_verify(s, NS, md, mdlen);
			check_rc(c->name, rc, c->want_verify);
		} else
			check_rc(c->name, rc, c->want_parse);
		sshsig_free(s);
		s = NULL;
	}
	/* Misuse: a digest of the wrong length for the signature's hash. */
	if (sshsig_parse((char *)sig.data, sig.len, &s) == RS_OK) {
		(void)digest("sha256", m, sizeof(m) - 1, md, &mdlen);
		check_rc("verify with a digest of the wrong length",
		    sshsig_verify(s, NS, md, mdlen), RS_ERR_INVAL);
	}
out:
	sshsig_free(s);
	rs_buf_free(&sig);
	rs_buf_free(&blob);
	rs_buf_free(&b);
	rs_buf_free(&pk);
	rs_buf_free(&sb);
	rs_buf_free(&t);
}

/* allowed_signers: ours and ssh-keygen's verdicts ---------------------- */

struct signcase {
	const char	*name;
	const char	*text;		/* KEY / OTHER substituted */
	size_t		 badline;	/* first line left out, 0: none */
	const char	*why;		/* in that line's reason */
	int		 want_check;	/* principal corp, namespace rcptsync */
	int		 keygen;	/* 1 accepts, 0 refuses */
};

/*
 * Each file goes to signers_parse + signers_check here and to ssh-keygen
 * -Y verify: where one accepts, so must the other (the product accepts
 * what ssh-keygen accepts), and a line left out names its number and why.
 */
static const struct signcase signcases[] = {
	{ "signers plain", "corp KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers comments and blank lines",
	    "# trusted agents\n\n   \n  corp KEY agent on dc1\n", 0, NULL,
	    RS_OK, 1 },
	{ "signers no final newline", "corp KEY", 0, NULL, RS_OK, 1 },
	{ "signers tabs and runs of blanks", "corp\t \tKEY \t comment\n", 0,
	    NULL, RS_OK, 1 },
	{ "signers unknown signer", "corp OTHER\n", 0, NULL, RS_ERR_SIGNER,
	    0 },
	{ "signers principal mismatch", "other KEY\n", 0, NULL,
	    RS_ERR_SIGNER, 0 },
	{ "signers principal is case-sensitive", "CORP KEY\n", 0, NULL,
	    RS_ERR_SIGNER, 0 },
	{ "signers principal list", "a,corp,b KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers principal star", "c*p KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers principal question mark", "co?p KEY\n", 0, NULL, RS_OK,
	    1 },
	{ "signers principal pattern mismatch", "c?rp*x KEY\n", 0, NULL,
	    RS_ERR_SIGNER, 0 },
	{ "signers negated principal", "!corp,* KEY\n", 0, NULL,
	    RS_ERR_SIGNER, 0 },
	{ "signers quoted principals", "\"x,corp\" KEY\n", 0, NULL, RS_OK,
	    1 },
	{ "signers quoted principal, key right after the quote",
	    "\"corp\"KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers quoted principal with options right after",
	    "\"corp\"namespaces=\"rcptsync\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers empty quoted principals", "\"\"KEY\n", 1,
	    "empty principals", RS_ERR_SIGNER, 0 },
	{ "signers unterminated quoted principals", "\"corp KEY\n", 1,
	    "principals: missing closing quote", RS_ERR_SIGNER, 0 },
	{ "signers namespaces excludes rcptsync",
	    "corp namespaces=\"git,file\" KEY\n", 0, NULL, RS_ERR_NAMESPACE,
	    0 },
	{ "signers namespaces includes rcptsync",
	    "corp namespaces=\"git,rcptsync\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers namespaces pattern", "corp namespaces=\"rcpt*\" KEY\n",
	    0, NULL, RS_OK, 1 },
	{ "signers namespaces with a blank inside the quotes",
	    "corp namespaces=\"a b,rcptsync\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers namespaces with an escaped quote",
	    "corp namespaces=\"a\\\"b,rcptsync\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers escaped quote is part of the value",
	    "corp namespaces=\"rcpt\\\"sync\" KEY\n", 0, NULL,
	    RS_ERR_NAMESPACE, 0 },
	{ "signers empty namespaces matches none",
	    "corp namespaces=\"\" KEY\n", 0, NULL, RS_ERR_NAMESPACE, 0 },
	{ "signers option name case", "corp NAMESPACES=\"rcptsync\" KEY\n",
	    0, NULL, RS_OK, 1 },
	{ "signers option name case, valid-before",
	    "corp Valid-Before=\"20990101\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers leading comma in the options",
	    "corp ,namespaces=\"rcptsync\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers valid-before in the past",
	    "corp valid-before=\"20200101Z\" KEY\n", 0, NULL,
	    RS_ERR_EXPIRED, 0 },
	{ "signers valid-before in the past, local time",
	    "corp valid-before=\"202001011200\" KEY\n", 0, NULL,
	    RS_ERR_EXPIRED, 0 },
	{ "signers valid-before with UTC",
	    "corp valid-before=\"20990101UTC\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers valid-before with utc",
	    "corp valid-before=\"20990101utc\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers valid-before with z",
	    "corp valid-before=\"209901011200z\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers valid-before in the past with UTC",
	    "corp valid-before=\"20200101UTC\" KEY\n", 0, NULL,
	    RS_ERR_EXPIRED, 0 },
	{ "signers valid-after in the future",
	    "corp valid-after=\"29991231\" KEY\n", 0, NULL, RS_ERR_EXPIRED,
	    0 },
	{ "signers inside validity window",
	    "corp valid-after=\"20000101\",valid-before=\"29990101120000Z\" "
	    "KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers all options",
	    "corp namespaces=\"rcptsync\",valid-after=\"20000101000000Z\","
	    "valid-before=\"29990101\" KEY c\n", 0, NULL, RS_OK, 1 },
	{ "signers day past the month's end rolls over",
	    "corp valid-before=\"20990231\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers leap second rolls over",
	    "corp valid-before=\"20990101235960Z\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers blank inside a time field (as strptime)",
	    "corp valid-before=\"2099 101\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers valid-after one second after the epoch",
	    "corp valid-after=\"19700101000001Z\" KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers valid-after at the epoch",
	    "corp valid-after=\"19700101Z\" KEY\n", 1,
	    "valid-after: invalid time \"19700101Z\"", RS_ERR_SIGNER, 0 },
	{ "signers a later line allows",
	    "corp namespaces=\"git\" KEY\ncorp KEY\n", 0, NULL, RS_OK, 1 },
	{ "signers other key first", "corp OTHER\ncorp KEY\n", 0, NULL,
	    RS_OK, 1 },
	{ "signers CRLF", "corp KEY\r\n# x\r\n", 0, NULL, RS_OK, 1 },
	{ "signers rsa line left out, the next one works",
	    "corp ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x\ncorp KEY\n", 1,
	    "ssh-rsa key: rcptsync verifies only ssh-ed25519", RS_OK, 1 },
	{ "signers only rsa", "corp ssh-rsa AAAAB3NzaC1yc2E=\n", 1,
	    "ssh-rsa key", RS_ERR_SIGNER, 0 },
	{ "signers rsa with options: the reason names the key type",
	    "corp namespaces=\"rcptsync\" ssh-rsa AAAAB3NzaC1yc2E=\n", 1,
	    "ssh-rsa key: rcptsync verifies only", RS_ERR_SIGNER, 0 },
	{ "signers cert-authority left out", "corp cert-authority KEY\n", 1,
	    "cert-authority is not supported", RS_ERR_SIGNER, 0 },
	{ "signers cert-authority with options left out",
	    "# x\ncorp namespaces=\"rcptsync\",CERT-AUTHORITY KEY\n", 2,
	    "cert-authority", RS_ERR_SIGNER, 0 },
	{ "signers bad lines leave the good one working",
	    "corp cert-authority OTHER\ncorp restrict KEY\ncorp KEY\n"
	    "corp valid-before=\"2099\" KEY\n", 1, "cert-authority", RS_OK,
	    1 },
	{ "signers unknown option", "corp foo=\"bar\" KEY\n", 1,
	    "unknown option or key type \"foo=\"bar\"\"", RS_ERR_SIGNER, 0 },
	{ "signers bare unknown option", "corp restrict KEY\n", 1,
	    "unknown option or key type \"restrict\"", RS_ERR_SIGNER, 0 },
	{ "signers duplicate option",
	    "corp namespaces=\"a\",namespaces=\"rcptsync\" KEY\n", 1,
	    "namespaces given twice", RS_ERR_SIGNER, 0 },
	{ "signers duplicate valid-before",
	    "corp valid-before=\"20200101\",valid-before=\"20990101\" KEY\n",
	    1, "valid-before given twice", RS_ERR_SIGNER, 0 },
	{ "signers unquoted value", "corp valid-before=20990101 KEY\n", 1,
	    "valid-before: value not in double quotes", RS_ERR_SIGNER, 0 },
	{ "signers unterminated quote", "corp namespaces=\"rcptsync KEY\n",
	    1, "options: missing closing quote", RS_ERR_SIGNER, 0 },
	{ "signers comma ends the options",
	    "corp namespaces=\"rcptsync\", KEY\n", 1,
	    "a comma ends the options", RS_ERR_SIGNER, 0 },
	{ "signers bad month", "corp valid-before=\"20991301\" KEY\n", 1,
	    "valid-before: invalid time \"20991301\"", RS_ERR_SIGNER, 0 },
	{ "signers bad minute", "corp valid-before=\"209901012360\" KEY\n",
	    1, "invalid time", RS_ERR_SIGNER, 0 },
	{ "signers bad second", "corp valid-before=\"20990101235962\" KEY\n",
	    1, "invalid time", RS_ERR_SIGNER, 0 },
	{ "signers bad time length", "corp valid-before=\"2099022812\" KEY\n",
	    1, "invalid time", RS_ERR_SIGNER, 0 },
	{ "signers unknown key type", "# a\n\ncorp ssh-foo AAAA\n", 3,
	    "unknown option or key type \"ssh-foo\"", RS_ERR_SIGNER, 0 },
	{ "signers missing key", "corp\n", 1, "no key after the principals",
	    RS_ERR_SIGNER, 0 },
	{ "signers options but no key", "corp namespaces=\"rcptsync\"\n", 1,
	    "no key after the options", RS_ERR_SIGNER, 0 },
	{ "signers missing base64", "corp ssh-ed25519\n", 1,
	    "ssh-ed25519 key: no key data", RS_ERR_SIGNER, 0 },
	{ "signers garbage base64", "corp ssh-ed25519 AAAA!AAA\n", 1,
	    "ssh-ed25519 key: invalid base64", RS_ERR_SIGNER, 0 },
	{ "signers blob of another type",
	    "corp ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB\n", 1,
	    "ssh-ed25519 key: the key data is of another type",
	    RS_ERR_SIGNER, 0 },
	{ "signers error line number", "corp KEY\n\n# c\nbroken\n", 4,
	    "no key after the principals", RS_OK, 1 },
};

static void
test_signers(void)
{
	struct rs_buf text, sig;
	struct signers *ss = NULL;
	struct sshsig *s = NULL;
	const char *why;
	size_t i, line;
	char name[200];
	int r, st;

	rs_buf_init(&text, BIG);
	rs_buf_init(&sig, BIG);
	if (kg_key == NULL || write_file("sm", "signed\n", 7, 0644) != 0 ||
	    sh("rm -f sm.sig && ssh-keygen -Y sign -f kg -n rcptsync sm") != 0
	    || read_file("sm.sig", &sig) != 0 ||
	    verify_msg(sig.data, sig.len, "signed\n", 7, NS, &s) != RS_OK) {
		UT_CHECK("signers setup", 0);
		goto out;
	}
	for (i = 0; i < sizeof(signcases) / sizeof(signcases[0]); i++) {
		const struct signcase *c = &signcases[i];

		if (subst(c->text, (char *)kg_pub.data, (char *)other_pub.data,
		    &text) != RS_OK) {
			UT_CHECK(c->name, 0);
			continue;
		}
		r = signers_parse((char *)text.data, text.len, &ss);
		if (r == RS_OK)
			r = signers_check(ss, sshsig_pubkey(s), "corp", NS,
			    time(NULL));
		check_rc(c->name, r, c->want_check);
		line = 0;
		why = signers_bad(ss, 0, &line);
		if (c->badline == 0) {
			if (why != NULL)
				fprintf(stderr, "%s: line %zu left out: %s\n",
				    c->name, line, why);
			snprintf(name, sizeof(name), "%s: no line left out",
			    c->name);
			UT_CHECK(name, why == NULL);
		} else {
			if (why == NULL || line != c->badline ||
			    strstr(why, c->why) == NULL)
				fprintf(stderr, "%s: line %zu: %s; want line "
				    "%zu: %s\n", c->name, line, why == NULL ?
				    "(none)" : why, c->badline, c->why);
			snprintf(name, sizeof(name), "%s: line %zu left out, "
			    "why named", c->name, c->badline);
			UT_CHECK(name, why != NULL && line == c->badline &&
			    strstr(why, c->why) != NULL);
		}
		signers_free(ss);
		ss = NULL;
		/* ssh-keygen, given the same file, must agree. */
		if (write_file("as", text.data, text.len, 0644) != 0)
			st = -1;
		else
			st = sh("ssh-keygen -Y verify -f as -I corp "
			    "-n rcptsync -s sm.sig < sm");
		snprintf(name, sizeof(name), "interop ssh-keygen agrees: %s",
		    c->name);
		if ((st == 0) != (c->keygen == 1))
			fprintf(stderr, "%s: ssh-keygen status %d\n", c->name,
			    st);
		UT_CHECK(name, st >= 0 && (st == 0) == (c->keygen == 1));
	}

	/* Other principals and namespaces against one file. */
	(void)subst("corp,branch-* namespaces=\"rcptsync\" KEY\n",
	    (char *)kg_pub.data, (char *)other_pub.data, &text);
	r = signers_parse((char *)text.data, text.len, &ss);
	UT_CHECK("signers check several principals", r == RS_OK &&
	    signers_check(ss, sshsig_pubkey(s), "branch-7", NS,
	    time(NULL)) == RS_OK &&
	    signers_check(ss, sshsig_pubkey(s), "branch", NS,
	    time(NULL)) == RS_ERR_SIGNER &&
	    signers_check(ss, sshsig_pubkey(s), "corp", "file",
	    time(NULL)) == RS_ERR_NAMESPACE);
	signers_free(ss);
	ss = NULL;

	/* Validity bounds at the exact second, as ssh-keygen treats them. */
	(void)subst("corp valid-after=\"20300101Z\",valid-before=\"20300102Z\""
	    " KEY\n", (char *)kg_pub.data, (char *)other_pub.data, &text);
	r = signers_parse((char *)text.data, text.len, &ss);
	UT_CHECK("signers validity bounds (UTC)", r == RS_OK &&
	    signers_check(ss, sshsig_pubkey(s), "corp", NS,
	    (time_t)1893455999) == RS_ERR_EXPIRED &&
	    signers_check(ss, sshsig_pubkey(s), "corp", NS,
	    (time_t)1893456000) == RS_OK &&
	    signers_check(ss, sshsig_pubkey(s), "corp", NS,
	    (time_t)1893542400) == RS_OK &&
	    signers_check(ss, sshsig_pubkey(s), "corp", NS,
	    (time_t)1893542401) == RS_ERR_EXPIRED);
	signers_free(ss);
	ss = NULL;

	check_rc("signers empty file parses", signers_parse("", 0, &ss),
	    RS_OK);
	check_rc("signers empty file trusts nobody", ss == NULL ? -1 :
	    signers_check(ss, sshsig_pubkey(s), "corp", NS,
	    time(NULL)), RS_ERR_SIGNER);
	signers_free(ss);
	ss = NULL;
	r = signers_parse("# a\ncorp\0x\n", 11, &ss);
	why = signers_bad(ss, 0, &line);
	UT_CHECK("signers NUL byte: that line left out", r == RS_OK &&
	    why != NULL && line == 2 && strstr(why, "NUL byte") != NULL &&
	    signers_nbad(ss) == 1);
	signers_free(ss);
	ss = NULL;
	{
		struct rs_buf many;

		/* More bad lines than are kept: all counted, the first kept. */
		rs_buf_init(&many, BIG);
		for (i = 0; i < RS_MAX_SIGNERS_BAD + 5; i++)
			(void)rs_buf_put_str(&many, "corp restrict KEY\n");
		(void)rs_buf_put_str(&many, "corp ");
		(void)rs_buf_put_str(&many, (char *)kg_pub.data);
		r = signers_parse((char *)many.data, many.len, &ss);
		UT_CHECK("signers many bad lines: counted, first ones kept, "
		    "the good line works", r == RS_OK &&
		    signers_nbad(ss) == RS_MAX_SIGNERS_BAD + 5 &&
		    signers_bad(ss, RS_MAX_SIGNERS_BAD - 1, &line) != NULL &&
		    line == RS_MAX_SIGNERS_BAD &&
		    signers_bad(ss, RS_MAX_SIGNERS_BAD, &line) == NULL &&
		    signers_check(ss, sshsig_pubkey(s), "corp", NS,
		    time(NULL)) == RS_OK);
		signers_free(ss);
		ss = NULL;
		rs_buf_free(&many);
	}
	{
		char *big = malloc(RS_MAX_SIGNERS_BYTES + 1);

		if (big != NULL)
			memset(big, '#', RS_MAX_SIGNERS_BYTES + 1);
		check_rc("signers over RS_MAX_SIGNERS_BYTES", big == NULL ? -1 :
		    signers_parse(big, RS_MAX_SIGNERS_BYTES + 1, &ss),
		    RS_ERR_LIMIT);
		free(big);
	}
	UT_CHECK("failed signers parse leaves out NULL", ss == NULL);
out:
	sshsig_free(s);
	signers_free(ss);
	rs_buf_free(&text);
	rs_buf_free(&sig);
}

/* (f) Randomized mutation ------------------------------------------- */

/* Apply 1..4 random edits: flip a bit, set a byte, delete, insert, cut. */
static void
mutate(const unsigned char *in, size_t n, struct rs_buf *out,
    const char *alphabet)
{
	size_t edits = 1 + rng_below(4), i, pos, alen = strlen(alphabet);
	unsigned char c;

	rs_buf_reset(out);
	(void)rs_buf_put(out, in, n);
	for (i = 0; i < edits; i++) {
		pos = rng_below(out->len + 1);
		c = rng() & 1 ? (unsigned char)alphabet[rng_below(alen)] :
		    (unsigned char)rng();
		switch (rng_below(5)) {
		case 0:
			if (pos < out->len)
				out->data[pos] ^= (unsigned char)(1 <<
				    rng_below(8));
			break;
		case 1:
			if (pos < out->len)
				out->data[pos] = c;
			break;
		case 2:
			if (pos < out->len) {
				memmove(out->data + pos, out->data + pos + 1,
				    out->len - pos - 1);
				out->len--;
			}
			break;
		case 3:
			if (rs_buf_put_u8(out, 0) == RS_OK) {
				memmove(out->data + pos + 1, out->data + pos,
				    out->len - 1 - pos);
				out->data[pos] = c;
			}
			break;
		default:
			if (rng_below(8) == 0)
				out->len = pos;
			break;
		}
	}
	out->data[out->len] = '\0';
}

/* Equal once newlines are ignored (the same base64, so the same blob). */
static int
same_but_newlines(const unsigned char *a, size_t an, const unsigned char *b,
    size_t bn)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < an && a[i] == '\n')
			i++;
		while (j < bn && b[j] == '\n')
			j++;
		if (i == an || j == bn)
			return i == an && j == bn;
		if (a[i++] != b[j++])
			return 0;
	}
}

static void
test_mutation(void)
{
	static const char b64chars[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n-";
	static const char textchars[] =
	    "abcorp*?!,\"= \t\n#-ABCKEYZ019+/vnalidsfterbo";
	struct rs_buf sig, mut, msg, text, key;
	struct signers *ss = NULL;
	struct sshsig *s = NULL;
	size_t i, accepted = 0, parsed = 0, bad = 0;
	const char *keyb64;
	int r;

	rs_buf_init(&sig, BIG);
	rs_buf_init(&mut, BIG);
	rs_buf_init(&msg, BIG);
	rs_buf_init(&text, BIG);
	rs_buf_init(&key, BIG);
	(void)rs_buf_put_str(&msg, "corp.42.rcpt.gz: the bundle bytes\n");
	if (kg_key == NULL || sign_msg(kg_key, NS, "sha512", msg.data,
	    msg.len, &sig) != RS_OK) {
		UT_CHECK("mutation setup", 0);
		goto out;
	}

	/* Mutated signature text, original message. */
	for (i = 0; i < MUT_SIG; i++) {
		mutate(sig.data, sig.len, &mut, b64chars);
		r = verify_msg(mut.data, mut.len, msg.data, msg.len, NS, NULL);
		if (r == RS_OK) {
			accepted++;
			if (!same_but_newlines(mut.data, mut.len, sig.data,
			    sig.len) && bad++ == 0)
				fprintf(stderr, "mutated signature verified:\n"
				    "%s\n", (char *)mut.data);
		}
	}
	fprintf(stderr, "signature mutations: %d, %zu still the same "
	    "signature\n", MUT_SIG, accepted);
	UT_CHECK("mutated signatures never verify (5000 runs)", bad == 0);

	/* Mutated message, original signature. */
	for (i = 0, bad = 0; i < MUT_MSG; i++) {
		mutate(msg.data, msg.len, &mut, textchars);
		r = verify_msg(sig.data, sig.len, mut.data, mut.len, NS, NULL);
		if (r == RS_OK && (mut.len != msg.len ||
		    memcmp(mut.data, msg.data, msg.len) != 0) && bad++ == 0)
			fprintf(stderr, "mutated message verified: %s\n",
			    (char *)mut.data);
	}
	UT_CHECK("mutated messages never verify (2000 runs)", bad == 0);

	/*
	 * Mutated allowed_signers.  It may still trust the key (a comment
	 * changed), but only if the key's base64 survived intact.
	 */
	if (verify_msg(sig.data, sig.len, msg.data, msg.len, NS, &s) != RS_OK)
		goto out;
	(void)subst("# agents\ncorp,branch-? namespaces=\"rcptsync,git\","
	    "valid-after=\"20000101\",valid-before=\"29990101000000Z\" KEY "
	    "dc1\n\"x,y\" OTHER\ncorp ssh-rsa AAAAB3NzaC1yc2E= old\n",
	    (char *)kg_pub.data, (char *)other_pub.data, &text);
	keyb64 = strchr((char *)kg_pub.data, ' ') + 1;
	r = signers_parse((char *)text.data, text.len, &ss);
	UT_CHECK("mutation signers baseline", r == RS_OK &&
	    signers_check(ss, sshsig_pubkey(s), "corp", NS,
	    time(NULL)) == RS_OK);
	signers_free(ss);
	ss = NULL;
	for (i = 0, bad = 0, accepted = 0; i < MUT_SIGNERS; i++) {
		mutate(text.data, text.len, &mut, textchars);
		r = signers_parse((char *)mut.data, mut.len, &ss);
		if (r != RS_OK)
			continue;
		parsed++;
		if (signers_check(ss, sshsig_pubkey(s), "corp", NS,
		    time(NULL)) == RS_OK) {
			accepted++;
			/* Binary-safe: a NUL byte leaves out only its line. */
			if (!mem_has(mut.data, mut.len, keyb64) &&
			    bad++ == 0)
				fprintf(stderr, "mutated signers trusts the "
				    "key:\n%s\n", (char *)mut.data);
		}
		signers_free(ss);
		ss = NULL;
	}
	fprintf(stderr, "signers mutations: %d, %zu parsed, %zu trust corp\n",
	    MUT_SIGNERS, parsed, accepted);
	UT_CHECK("mutated allowed_signers never trusts a damaged key "
	    "(5000 runs)", bad == 0);

	/* Mutated key files load or fail cleanly, never crash. */
	if (read_file("kg", &key) == 0) {
		struct sshkey *k = NULL;
		size_t loaded = 0;

		for (i = 0; i < 2000; i++) {
			mutate(key.data, key.len, &mut, b64chars);
			if (sshkey_load((char *)mut.data, mut.len, &k) ==
			    RS_OK)
				loaded++;
			sshkey_free(k);
			k = NULL;
		}
		fprintf(stderr, "key mutations: 2000, %zu loaded\n", loaded);
		UT_CHECK("mutated key files never crash (2000 runs)", 1);
	}
out:
	sshsig_free(s);
	signers_free(ss);
	rs_buf_free(&sig);
	rs_buf_free(&mut);
	rs_buf_free(&msg);
	rs_buf_free(&text);
	rs_buf_free(&key);
}

int
main(void)
{
	const char *top = getenv("RS_TOP"), *seed = getenv("RS_SEED");
	int n;

	n = snprintf(tmpdir, sizeof(tmpdir), "%s/build/tests/tmp/test_sshsig",
	    top != NULL ? top : ".");
	if (n < 0 || (size_t)n >= sizeof(tmpdir) || strchr(tmpdir, '\'')) {
		UT_CHECK("temp directory name", 0);
		return ut_exit();
	}
	rng_state = seed != NULL ? strtoull(seed, NULL, 10) :
	    (uint64_t)time(NULL);
	if (rng_state == 0)
		rng_state = 1;
	fprintf(stderr, "RS_SEED=%llu\n", (unsigned long long)rng_state);
	rs_buf_init(&kg_pub, BIG);
	rs_buf_init(&other_pub, BIG);
	{
		struct rs_buf cmd;
		int st;

		rs_buf_init(&cmd, 4096);
		st = rs_buf_printf(&cmd, "rm -rf '%s' && mkdir -p '%s'",
		    tmpdir, tmpdir) == RS_OK ? system((char *)cmd.data) : -1;
		rs_buf_free(&cmd);
		if (st != 0) {
			UT_CHECK("temp directory", 0);
			return ut_exit();
		}
	}
	UT_CHECK("ssh-keygen present",
	    system("command -v ssh-keygen >/dev/null 2>&1") == 0);

	test_keys();
	test_keyfiles();
	test_sign_interop();
	test_sig_negative();
	test_sigblobs();
	test_signers();
	test_mutation();

	sshkey_free(kg_key);
	rs_buf_free(&kg_pub);
	rs_buf_free(&other_pub);
	return ut_exit();
}
