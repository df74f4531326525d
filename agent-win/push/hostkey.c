/*
 * hostkey.c - the relay host keys pinned in a known_hosts file (the
 * OpenSSH format, sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), and SHA-256
 * key fingerprints.
 *
 * The agent reads the file itself (through sys_read_file, so a path with
 * any characters works on Windows, where libssh2 would use fopen) and
 * picks out the lines for one host and port:
 *
 *     [@revoked|@cert-authority] PATTERNS KEYTYPE BASE64 [COMMENT]
 *
 * PATTERNS is a comma-separated list of names (* and ? wildcards, a
 * leading ! negates) or one hashed name |1|BASE64(salt)|BASE64(HMAC-SHA1
 * of the name).  The name looked up is "host" for port 22, "[host]:port"
 * otherwise, as ssh(1) does.  Only the types of the pinned keys are then
 * offered in the handshake, so a relay with several host keys presents
 * one we can check, and the key it presents must equal one of them.
 *
 * API:        hostkey.h.
 * Ownership:  struct hostkey_pins owns copies of the key blobs.
 * Errors:     RS_ERR_NOMEM, RS_ERR_LIMIT (more than RS_MAX_HOST_PINS
 *             keys for one host), RS_ERR_NOTFOUND, RS_ERR_SIG.  Malformed
 *             lines are skipped, as ssh(1) skips them.
 * Trust:      the file is admin-owned configuration; still, every field is
 *             length-checked and each key blob must carry the type its
 *             line names.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64.h"
#include "buf.h"
#include "hash.h"
#include "hostkey.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "sshkey.h"

/* Key types we pin, in the order we offer them, with their methods. */
static const struct {
	const char	*type;		/* in known_hosts and the key blob */
	const char	*methods;	/* host key algorithms for it */
} hk_types[] = {
	{ "ssh-ed25519",		"ssh-ed25519" },
	{ "ecdsa-sha2-nistp256",	"ecdsa-sha2-nistp256" },
	{ "ecdsa-sha2-nistp384",	"ecdsa-sha2-nistp384" },
	{ "ecdsa-sha2-nistp521",	"ecdsa-sha2-nistp521" },
	{ "ssh-rsa",			"rsa-sha2-512,rsa-sha2-256" },
};
#define HK_NTYPES	(sizeof(hk_types) / sizeof(hk_types[0]))

/* A SHA-1 HMAC, the hash of a hashed known_hosts name. */
#define HK_SHA1_LEN	20

struct hk_key {
	size_t		 type;		/* index into hk_types */
	unsigned char	*blob;
	size_t		 len;
	int		 revoked;
};

struct hostkey_pins {
	size_t		 n;
	struct hk_key	 k[RS_MAX_HOST_PINS];
};

/*
 * Decode base64 s[0..n) with common/base64.c's strict decoder.  OpenSSH
 * writes known_hosts with padding; a hand-copied value may have lost its
 * '=', so they are put back first: padding stays optional, and nothing
 * else about the encoding is.
 */
static int
hk_unb64(const char *s, size_t n, struct rs_buf *out)
{
	struct rs_buf pad;
	int r;

	rs_buf_init(&pad, n + 3);
	r = rs_buf_put(&pad, s, n);
	while (r == RS_OK && pad.len % 4 != 0)
		r = rs_buf_put_u8(&pad, '=');
	if (r == RS_OK)
		r = b64_decode(pad.data, pad.len, out);
	rs_buf_free(&pad);
	return r;
}

int
hostkey_fp(const unsigned char *blob, size_t len, char *out,
    size_t outsize)
{
	struct rs_buf b;
	int r;

	if (outsize < SSHKEY_FP_LEN + 1)
		return RS_ERR_INVAL;
	rs_buf_init(&b, outsize - 1);
	if ((r = sshkey_blob_fingerprint(blob, len, &b)) == RS_OK) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	rs_buf_free(&b);
	return r;
}

/* Does the wildcard pattern p[0..pn) match name (* and ?)? */
static int
hk_glob(const char *p, size_t pn, const char *name)
{
	size_t i = 0, star = (size_t)-1;
	const char *n = name, *mark = NULL;

	while (*n != '\0') {
		if (i < pn && (p[i] == '?' || p[i] == *n)) {
			i++;
			n++;
		} else if (i < pn && p[i] == '*') {
			star = i++;
			mark = n;
		} else if (star != (size_t)-1) {
			i = star + 1;
			n = ++mark;
		} else
			return 0;
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

/* A hashed name |1|salt|hash: is it name? */
static int
hk_hashed(const char *f, size_t fn, const char *name)
{
	struct rs_buf salt, want;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *bar;
	int ok = 0;

	if (fn < 3 || memcmp(f, "|1|", 3) != 0)
		return 0;
	f += 3;
	fn -= 3;
	if ((bar = memchr(f, '|', fn)) == NULL)
		return 0;
	rs_buf_init(&salt, 256);
	rs_buf_init(&want, 256);
	if (hk_unb64(f, (size_t)(bar - f), &salt) == RS_OK &&
	    hk_unb64(bar + 1, fn - (size_t)(bar - f) - 1, &want) == RS_OK &&
	    want.len == HK_SHA1_LEN && salt.len > 0 &&
	    HMAC(EVP_sha1(), salt.data, (int)salt.len,
	    (const unsigned char *)name, strlen(name), md, &mdlen) != NULL &&
	    mdlen == HK_SHA1_LEN && memcmp(md, want.data, HK_SHA1_LEN) == 0)
		ok = 1;
	rs_buf_free(&salt);
	rs_buf_free(&want);
	return ok;
}

/* Do the patterns f[0..fn) select name (a match, and no negated one)? */
static int
hk_hosts(const char *f, size_t fn, const char *name)
{
	const char *p, *comma, *end = f + fn;
	size_t pn;
	int hit = 0, neg;

	if (fn > 0 && f[0] == '|')
		return hk_hashed(f, fn, name);
	for (p = f; p < end; p = comma + 1) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		pn = (size_t)(comma - p);
		neg = pn > 0 && p[0] == '!';
		if (neg && hk_glob(p + 1, pn - 1, name))
			return 0;
		if (!neg && pn > 0 && hk_glob(p, pn, name))
			hit = 1;
		if (comma == end)
			break;
	}
	return hit;
}

/* The next white-space separated field of a line; 0 when there is none. */
static int
hk_field(const char **p, const char *end, const char **f, size_t *fn)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	*f = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*fn = (size_t)(*p - *f);
	return *fn > 0;
}

/* One line; adds its key to pins when it is for name. */
static int
hk_line(const char *p, const char *end, const char *name,
    struct hostkey_pins *pins)
{
	const char *f, *type, *key;
	size_t fn, tn, kn, t;
	struct rs_buf blob;
	struct rs_rd rd;
	int revoked = 0, r = RS_OK;

	if (!hk_field(&p, end, &f, &fn) || f[0] == '#')
		return RS_OK;
	if (f[0] == '@') {
		if (fn == 8 && memcmp(f, "@revoked", 8) == 0)
			revoked = 1;
		else
			return RS_OK;	/* @cert-authority: no certificates */
		if (!hk_field(&p, end, &f, &fn))
			return RS_OK;
	}
	if (!hk_hosts(f, fn, name) || !hk_field(&p, end, &type, &tn) ||
	    !hk_field(&p, end, &key, &kn))
		return RS_OK;
	for (t = 0; t < HK_NTYPES; t++)
		if (strlen(hk_types[t].type) == tn &&
		    memcmp(hk_types[t].type, type, tn) == 0)
			break;
	if (t == HK_NTYPES)
		return RS_OK;
	rs_buf_init(&blob, RS_MAX_KEYFILE_BYTES);
	rs_rd_init(&rd, NULL, 0);
	if (hk_unb64(key, kn, &blob) != RS_OK)
		goto out;
	/* The blob must be of the type the line says. */
	rs_rd_init(&rd, blob.data, blob.len);
	if (rs_rd_string_eq(&rd, hk_types[t].type) != RS_OK)
		goto out;
	if (pins->n == RS_MAX_HOST_PINS) {
		r = RS_ERR_LIMIT;
		goto out;
	}
	pins->k[pins->n].type = t;
	pins->k[pins->n].len = blob.len;
	pins->k[pins->n].revoked = revoked;
	if ((pins->k[pins->n].blob = malloc(blob.len)) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	memcpy(pins->k[pins->n].blob, blob.data, blob.len);
	pins->n++;
out:
	rs_buf_free(&blob);
	return r;
}

/* Key i is pinned and not revoked by any line of the file. */
static int
hk_usable(const struct hostkey_pins *p, size_t i)
{
	size_t j;

	if (p->k[i].revoked)
		return 0;
	for (j = 0; j < p->n; j++)
		if (p->k[j].revoked && p->k[j].len == p->k[i].len &&
		    memcmp(p->k[j].blob, p->k[i].blob, p->k[i].len) == 0)
			return 0;
	return 1;
}

int
hostkey_pins_parse(const char *text, size_t len, const char *host,
    unsigned port, struct hostkey_pins **out)
{
	struct hostkey_pins *pins = NULL;
	const char *p = text, *end = text + len, *nl, *e;
	char name[RS_MAX_DOMAIN_LEN + 16];
	size_t i, usable = 0;
	int r, n;

	*out = NULL;
	if (port == 22)
		n = snprintf(name, sizeof(name), "%s", host);
	else
		n = snprintf(name, sizeof(name), "[%s]:%u", host, port);
	if (n < 0 || (size_t)n >= sizeof(name))
		return RS_ERR_LIMIT;
	if ((pins = calloc(1, sizeof(*pins))) == NULL)
		return RS_ERR_NOMEM;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		e = nl;
		if (e > p && e[-1] == '\r')
			e--;
		if ((r = hk_line(p, e, name, pins)) != RS_OK)
			goto out;
		p = nl < end ? nl + 1 : end;
	}
	for (i = 0; i < pins->n; i++)
		if (hk_usable(pins, i))
			usable++;
	if (usable == 0) {
		r = RS_ERR_NOTFOUND;
		goto out;
	}
	*out = pins;
	pins = NULL;
	r = RS_OK;
out:
	hostkey_pins_free(pins);
	return r;
}

void
hostkey_pins_free(struct hostkey_pins *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->k[i].blob);
	free(p);
}

int
hostkey_pins_methods(const struct hostkey_pins *p, char *out,
    size_t outsize)
{
	size_t t, i, o = 0, m;

	if (outsize == 0)
		return RS_ERR_INVAL;
	out[0] = '\0';
	for (t = 0; t < HK_NTYPES; t++) {
		for (i = 0; i < p->n; i++)
			if (p->k[i].type == t && hk_usable(p, i))
				break;
		if (i == p->n)
			continue;
		m = strlen(hk_types[t].methods);
		if (o + (o > 0) + m + 1 > outsize)
			return RS_ERR_LIMIT;
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, hk_types[t].methods, m + 1);
		o += m;
	}
	return o > 0 ? RS_OK : RS_ERR_NOTFOUND;
}

int
hostkey_pins_check(const struct hostkey_pins *p, const unsigned char *blob,
    size_t len, int *revoked)
{
	size_t i;
	int found = 0;

	*revoked = 0;
	for (i = 0; i < p->n; i++) {
		if (p->k[i].len != len || memcmp(p->k[i].blob, blob, len) != 0)
			continue;
		/* A revoked key stays refused, whatever else lists it. */
		if (p->k[i].revoked)
			*revoked = 1;
		else
			found = 1;
	}
	return found && !*revoked ? RS_OK : RS_ERR_SIG;
}

void
hostkey_pins_expected(const struct hostkey_pins *p, char *out,
    size_t outsize)
{
	char fp[64];
	size_t i;

	snprintf(out, outsize, "no usable key");
	for (i = 0; i < p->n; i++) {
		if (!hk_usable(p, i) ||
		    hostkey_fp(p->k[i].blob, p->k[i].len, fp, sizeof(fp)) !=
		    RS_OK)
			continue;
		snprintf(out, outsize, "%s", fp);
		return;
	}
}
