/*
 * signers.c - allowed_signers files (ssh-keygen(1) ALLOWED SIGNERS): who
 * may sign what.  See signers.h.
 *
 * API:        signers_parse, signers_check, signers_free.
 * Ownership:  signers_parse returns an object the caller releases with
 *             signers_free; it keeps copies of what it needs.
 * Errors:     negative RS_ERR_* codes (signers.h says which); nothing is
 *             printed.
 * Trust:      the file is the administrator's but parsed as if hostile:
 *             its size is bounded by RS_MAX_SIGNERS_BYTES, a key's base64
 *             is decoded strictly (base64.c), and pattern matching is
 *             iterative, so no line can make the receiver recurse or loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "buf.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "signers.h"
#include "sshkey.h"

struct signer {
	char		*principals;	/* pattern list */
	char		*namespaces;	/* pattern list, or NULL: any */
	unsigned char	 pub[SSHKEY_ED25519_PUB];
	int		 has_after;
	int		 has_before;
	time_t		 after;
	time_t		 before;
};

struct signers {
	struct signer	*v;
	size_t		 n;
	size_t		 cap;
};

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
	rs_buf_init(&blob, SSHKEY_BLOB_MAX);
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
	ed = n == strlen(SSHKEY_TYPE) && memcmp(p, SSHKEY_TYPE, n) == 0;
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
	if (sshkey_pub_get(&r, sg->pub) != RS_OK) {
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
signers_add(struct signers *ss, struct signer *sg)
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
signers_parse(const char *text, size_t len,
    struct signers **out, size_t *errline)
{
	struct signers *ss = NULL;
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
	signers_free(ss);
	return e;
}

int
signers_check(const struct signers *s,
    const unsigned char pubkey[SSHKEY_ED25519_PUB],
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
		if (memcmp(sg->pub, pubkey, SSHKEY_ED25519_PUB) != 0 ||
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
signers_free(struct signers *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		signer_clear(&s->v[i]);
	free(s->v);
	free(s);
}
