/*
 * signers.c - allowed_signers files (ssh-keygen(1) ALLOWED SIGNERS): who
 * may sign what.  See signers.h.
 *
 * API:        signers_parse, signers_nbad, signers_bad, signers_check,
 *             signers_free.
 * Ownership:  signers_parse returns an object the caller releases with
 *             signers_free; it keeps copies of what it needs, and the
 *             reason texts signers_bad returns live as long as it does.
 * Errors:     negative RS_ERR_* codes (signers.h says which); nothing is
 *             printed.  A line that cannot be used is not an error of the
 *             file: it is left out and recorded with its number and why.
 * Trust:      the file is the administrator's but parsed as if hostile:
 *             its size is bounded by RS_MAX_SIGNERS_BYTES, a key's base64
 *             is decoded strictly (base64.c), pattern matching is
 *             iterative, and the values quoted in reasons are cut short
 *             and stripped of control bytes before they reach a log line.
 *
 * Compatibility: each line is split as OpenSSH 9's sshsig.c does (the
 * principals as misc.c strdelimw(), then a key, or options up to the first
 * blank outside quotes and then a key), options are read as sshsigopt_parse
 * reads them (names in any case, values in double quotes with \" for a
 * quote), and times as misc.c parse_absolute_time().  A line ssh-keygen -Y
 * verify would use for an Ed25519 key, this file uses the same way.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rs_attr.h"
#include "base64.h"
#include "buf.h"
#include "civil.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "signers.h"
#include "sshkey.h"

#define WS		" \t\r\n"	/* ssh-keygen's WHITESPACE */
#define BLANK		" \t"		/* ends the options and the key */
#define SHOW_MAX	40		/* bytes of a value shown in a reason */

struct signer {
	char		*principals;	/* pattern list */
	char		*namespaces;	/* pattern list, or NULL: any */
	unsigned char	 pub[SSHKEY_ED25519_PUB];
	int		 ca;		/* cert-authority */
	int		 has_after;
	int		 has_before;
	time_t		 after;
	time_t		 before;
};

struct signers_bad_line {
	size_t		 line;
	char		 why[SIGNERS_WHY_LEN];
};

struct signers {
	struct signer		*v;
	size_t			 n;
	size_t			 cap;
	struct signers_bad_line	 bad[RS_MAX_SIGNERS_BAD];
	size_t			 nbad;	/* unusable lines, kept or not */
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

/* Set the reason a line cannot be used; returns RS_ERR_FORMAT. */
static int	why_set(char *why, const char *fmt, ...) RS_PRINTF(2, 3);

static int
why_set(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, SIGNERS_WHY_LEN, fmt, ap);	/* cut is fine */
	va_end(ap);
	return RS_ERR_FORMAT;
}

/* p[0..n) fit for a log line: printable ASCII, at most SHOW_MAX bytes. */
static const char *
show(const char *p, size_t n, char out[SHOW_MAX + 4])
{
	size_t i, k = 0;

	for (i = 0; i < n && i < SHOW_MAX; i++)
		out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	if (n > SHOW_MAX)
		for (i = 0; i < 3; i++)
			out[k++] = '.';
	out[k] = '\0';
	return out;
}

/* Does p start with want (lowercase), ignoring case as ssh-keygen does? */
static int
prefix_is(const char *p, const char *want)
{
	size_t i;
	char a;

	for (i = 0; want[i] != '\0'; i++) {
		a = p[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != want[i])
			return 0;
	}
	return 1;
}

/*
 * The key type names OpenSSH reads (sshkey.c), so a line's key can be told
 * from its options the way ssh-keygen does: it tries to read a key first.
 */
static const char *const keytypes[] = {
	"ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
	"ssh-ed25519-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com",
	"ssh-dss-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"sk-ssh-ed25519-cert-v01@openssh.com",
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
};

static int
keytype_known(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (n == strlen(keytypes[i]) && memcmp(p, keytypes[i], n) == 0)
			return 1;
	return 0;
}

/*
 * One field of a time, w bytes read as glibc's strptime reads %Y, %m and
 * the others (ssh-keygen builds "YYYY-MM-DD..." and hands it over): white
 * space, then digits, taking a further digit only while the value so far
 * times ten is in range, and the whole field must be used.
 */
static int
time_field(const char *p, size_t w, int lo, int hi, int *v)
{
	size_t i = 0;
	int n = 0, digits = 0;

	while (i < w && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r')))
		i++;
	for (; i < w; i++) {
		if (p[i] < '0' || p[i] > '9' || (digits > 0 && n * 10 > hi))
			return RS_ERR_FORMAT;
		n = n * 10 + (p[i] - '0');
		digits++;
	}
	if (digits == 0 || n < lo || n > hi)
		return RS_ERR_FORMAT;
	*v = n;
	return RS_OK;
}

/*
 * valid-after / valid-before as ssh-keygen reads them (sshd(8) AUTHORIZED
 * KEYS FILE FORMAT, expiry-time): YYYYMMDD, YYYYMMDDHHMM or
 * YYYYMMDDHHMMSS, in UTC with a trailing Z or UTC (any case), else in
 * local time.  Out-of-month days and leap seconds roll over as timegm()
 * and mktime() roll them; the epoch itself and earlier are refused.
 */
static int
time_parse(const char *v, time_t *out)
{
	static const struct {
		size_t	w;
		int	lo, hi;
	} fld[6] = {
		{ 4, 0, 9999 }, { 2, 1, 12 }, { 2, 1, 31 },
		{ 2, 0, 23 }, { 2, 0, 59 }, { 2, 0, 61 },
	};
	int f[6] = { 0, 1, 1, 0, 0, 0 };	/* Y M D h m s */
	int utc = 0;
	int64_t days, secs;
	size_t l = strlen(v), nf, off, i;
	struct tm tm;
	time_t t;

	if (l > 1 && (v[l - 1] == 'Z' || v[l - 1] == 'z')) {
		utc = 1;
		l--;
	} else if (l > 3 && prefix_is(v + l - 3, "utc")) {
		utc = 1;
		l -= 3;
	}
	if (l == 8)
		nf = 3;
	else if (l == 12)
		nf = 5;
	else if (l == 14)
		nf = 6;
	else
		return RS_ERR_FORMAT;
	for (i = 0, off = 0; i < nf; off += fld[i].w, i++)
		if (time_field(v + off, fld[i].w, fld[i].lo, fld[i].hi,
		    &f[i]) != RS_OK)
			return RS_ERR_FORMAT;
	if (utc) {
		if (f[0] < 1970)
			return RS_ERR_FORMAT;
		/* Day 31 of a 30-day month rolls over, as with timegm(). */
		days = civil_days(f[0], (unsigned)f[1], (unsigned)f[2]);
		secs = days * 86400 + f[3] * 3600 + f[4] * 60 + f[5];
		t = (time_t)secs;
		if ((int64_t)t != secs)
			return RS_ERR_FORMAT;
	} else {
		/* ssh-keygen zeroes the struct tm: tm_isdst = 0, as here. */
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = f[0] - 1900;
		tm.tm_mon = f[1] - 1;
		tm.tm_mday = f[2];
		tm.tm_hour = f[3];
		tm.tm_min = f[4];
		tm.tm_sec = f[5];
		t = mktime(&tm);
	}
	/* ssh-keygen refuses a negative time, and 0 means "no limit" there. */
	if (t <= 0)
		return RS_ERR_FORMAT;
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

/*
 * The principals, split off as ssh-keygen's strdelimw() does: up to the
 * first white space, or with a quoted part, up to its closing quote, which
 * the key may follow directly ("corp"ssh-ed25519 ...).  *pp moves past
 * the white space that follows.
 */
static int
principals_read(char **pp, struct signer *sg, char *why)
{
	char *p = *pp, *q, *e;
	size_t n;

	q = p + strcspn(p, WS "\"");
	if (*q == '\0')
		return why_set(why, "no key after the principals");
	if (*q == '"') {
		if ((e = strchr(q + 1, '"')) == NULL)
			return why_set(why, "principals: missing closing "
			    "quote");
		n = (size_t)(q - p) + (size_t)(e - q - 1);
		if (n > 0 && (sg->principals = malloc(n + 1)) != NULL) {
			memcpy(sg->principals, p, (size_t)(q - p));
			memcpy(sg->principals + (q - p), q + 1,
			    (size_t)(e - q - 1));
			sg->principals[n] = '\0';
		}
		p = e + 1;
	} else {
		n = (size_t)(q - p);
		sg->principals = dup_n(p, n);
		p = q + 1;
	}
	if (n == 0)
		return why_set(why, "empty principals");
	if (sg->principals == NULL)
		return RS_ERR_NOMEM;
	*pp = p + strspn(p, WS);
	return RS_OK;
}

/*
 * Where the options end, as sshkey_advance_past_options(): at the first
 * blank outside double quotes, \" being no quote.
 */
static int
options_end(char *p, char **end)
{
	int quoted = 0;

	for (; *p != '\0' && (quoted || strchr(BLANK, *p) == NULL); p++) {
		if (*p == '\\' && p[1] == '"')
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	*end = p;
	return *p == '\0' && quoted ? RS_ERR_FORMAT : RS_OK;
}

/* A double-quoted option value at *op, \" unescaped (opt_dequote()). */
static int
opt_value(const char **op, const char *name, char **out, char *why)
{
	const char *s = *op;
	char *v;
	size_t i = 0;

	*out = NULL;
	if (*s != '"')
		return why_set(why, "%s: value not in double quotes", name);
	s++;
	if ((v = malloc(strlen(s) + 1)) == NULL)
		return RS_ERR_NOMEM;
	while (*s != '\0' && *s != '"') {
		if (s[0] == '\\' && s[1] == '"')
			s++;
		v[i++] = *s++;
	}
	if (*s == '\0') {
		free(v);
		return why_set(why, "%s: missing closing quote", name);
	}
	v[i] = '\0';
	*op = s + 1;
	*out = v;
	return RS_OK;
}

/* valid-after="..." or valid-before="..." at *op, past the '='. */
static int
opt_time(const char **op, const char *name, int *has, time_t *t, char *why)
{
	char sh[SHOW_MAX + 4], *v;
	int e;

	if (*has)
		return why_set(why, "%s given twice", name);
	if ((e = opt_value(op, name, &v, why)) != RS_OK)
		return e;
	if (time_parse(v, t) != RS_OK)
		e = why_set(why, "%s: invalid time \"%s\" (want YYYYMMDD, "
		    "YYYYMMDDHHMM or YYYYMMDDHHMMSS, with Z or UTC for UTC)",
		    name, show(v, strlen(v), sh));
	free(v);
	*has = e == RS_OK;
	return e;
}

/*
 * The options, comma-separated, as sshsigopt_parse() reads them.
 * cert-authority is only noted here; the caller refuses the line.
 */
static int
options_read(const char *o, struct signer *sg, char *why)
{
	const char *start;
	char sh[SHOW_MAX + 4];
	int e;

	while (*o != '\0') {
		start = o;
		if (prefix_is(o, "cert-authority")) {
			sg->ca = 1;
			o += strlen("cert-authority");
		} else if (prefix_is(o, "namespaces=")) {
			o += strlen("namespaces=");
			if (sg->namespaces != NULL)
				return why_set(why, "namespaces given twice");
			if ((e = opt_value(&o, "namespaces", &sg->namespaces,
			    why)) != RS_OK)
				return e;
		} else if (prefix_is(o, "valid-after=")) {
			o += strlen("valid-after=");
			if ((e = opt_time(&o, "valid-after", &sg->has_after,
			    &sg->after, why)) != RS_OK)
				return e;
		} else if (prefix_is(o, "valid-before=")) {
			o += strlen("valid-before=");
			if ((e = opt_time(&o, "valid-before", &sg->has_before,
			    &sg->before, why)) != RS_OK)
				return e;
		}
		if (*o == '\0')
			break;
		if (*o != ',')
			return why_set(why, "unknown option or key type \"%s\"",
			    show(start, strcspn(start, ","), sh));
		if (*++o == '\0')
			return why_set(why, "a comma ends the options");
	}
	return RS_OK;
}

/*
 * "keytype base64" at p, as sshkey_read() reads it: a known type, blanks,
 * and a blob whose own type is that type.  An Ed25519 key is decoded into
 * sg->pub and sets *ed; of other types only the blob's type is checked.
 */
static int
key_read(const char *p, struct signer *sg, int *ed, char *why)
{
	struct rs_buf blob;
	struct rs_rd r;
	const unsigned char *t;
	char sh[SHOW_MAX + 4];
	size_t n, b, tn;
	int e;

	*ed = 0;
	rs_buf_init(&blob, RS_MAX_SIGNERS_BYTES);
	n = strcspn(p, BLANK);
	if (!keytype_known(p, n)) {
		e = why_set(why, "unknown key type \"%s\"", show(p, n, sh));
		goto out;
	}
	b = n + strspn(p + n, BLANK);
	if (p[b] == '\0') {
		e = why_set(why, "%.*s key: no key data", (int)n, p);
		goto out;
	}
	tn = strcspn(p + b, BLANK);
	if ((e = b64_decode((const unsigned char *)p + b, tn, &blob)) !=
	    RS_OK) {
		if (e != RS_ERR_NOMEM)
			e = why_set(why, "%.*s key: invalid base64", (int)n, p);
		goto out;
	}
	rs_rd_init(&r, blob.data, blob.len);
	if (rs_rd_string(&r, &t, &tn) != RS_OK || tn != n ||
	    memcmp(t, p, n) != 0) {
		e = why_set(why, "%.*s key: the key data is of another type",
		    (int)n, p);
		goto out;
	}
	if (n == strlen(SSHKEY_TYPE) && memcmp(p, SSHKEY_TYPE, n) == 0) {
		rs_rd_init(&r, blob.data, blob.len);
		if (sshkey_pub_get(&r, sg->pub) != RS_OK) {
			e = why_set(why, SSHKEY_TYPE " key: invalid key data");
			goto out;
		}
		*ed = 1;
	}
	e = RS_OK;
out:
	rs_buf_free(&blob);
	return e;
}

/*
 * One non-comment line: principals [options] keytype base64 [comment].
 * RS_OK with *keep set for an Ed25519 key to trust; RS_ERR_FORMAT with
 * why for a line that cannot be used; RS_ERR_NOMEM.
 */
static int
line_read(char *p, struct signer *sg, int *keep, char *why)
{
	char *key, *end;
	int e, ed;

	*keep = 0;
	if ((e = principals_read(&p, sg, why)) != RS_OK)
		return e;
	if (*p == '\0')
		return why_set(why, "no key after the principals");
	key = p;
	if (!keytype_known(p, strcspn(p, BLANK))) {
		if (options_end(p, &end) != RS_OK)
			return why_set(why, "options: missing closing quote");
		if (*end == '\0')
			return why_set(why, "no key after the options");
		*end++ = '\0';
		if ((e = options_read(p, sg, why)) != RS_OK)
			return e;
		key = end + strspn(end, BLANK);
	}
	if ((e = key_read(key, sg, &ed, why)) != RS_OK)
		return e;
	/*
	 * cert-authority would trust every key a CA signs; rcptsync pins
	 * each agent's own key and reads no certificates.
	 */
	if (sg->ca)
		return why_set(why, "cert-authority is not supported: list "
		    "the agent's own key");
	if (!ed)
		return why_set(why, "%.*s key: rcptsync verifies only "
		    SSHKEY_TYPE " signatures", (int)strcspn(key, BLANK), key);
	*keep = 1;
	return RS_OK;
}

static void
signer_clear(struct signer *sg)
{
	free(sg->principals);
	free(sg->namespaces);
	memset(sg, 0, sizeof(*sg));
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

static void
signers_bad_add(struct signers *ss, size_t line, const char *why)
{
	if (ss->nbad < RS_MAX_SIGNERS_BAD) {
		ss->bad[ss->nbad].line = line;
		memcpy(ss->bad[ss->nbad].why, why, SIGNERS_WHY_LEN);
	}
	ss->nbad++;
}

int
signers_parse(const char *text, size_t len, struct signers **out)
{
	struct signers *ss = NULL;
	struct signer sg;
	char *line = NULL, *p, why[SIGNERS_WHY_LEN];
	const char *nl;
	size_t pos = 0, n, lineno = 0;
	int e, keep = 0;

	memset(&sg, 0, sizeof(sg));
	if (out == NULL || (text == NULL && len > 0))
		return RS_ERR_INVAL;
	*out = NULL;
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
		memcpy(line, text + pos, n);
		pos += n + (nl != NULL ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		memset(why, 0, sizeof(why));
		if (memchr(line, '\0', n) != NULL)
			e = why_set(why, "NUL byte in the line");
		else {
			p = line + strspn(line, WS);
			if (*p == '\0' || *p == '#')
				continue;
			e = line_read(p, &sg, &keep, why);
		}
		if (e == RS_OK && keep)
			e = signers_add(ss, &sg);
		else if (e == RS_ERR_FORMAT) {
			signers_bad_add(ss, lineno, why);
			e = RS_OK;
		}
		signer_clear(&sg);
		if (e != RS_OK)
			goto out;
	}
	*out = ss;
	ss = NULL;
	e = RS_OK;
out:
	signer_clear(&sg);
	free(line);
	signers_free(ss);
	return e;
}

size_t
signers_nbad(const struct signers *s)
{
	return s != NULL ? s->nbad : 0;
}

const char *
signers_bad(const struct signers *s, size_t i, size_t *line)
{
	if (s == NULL || i >= s->nbad || i >= RS_MAX_SIGNERS_BAD)
		return NULL;
	if (line != NULL)
		*line = s->bad[i].line;
	return s->bad[i].why;
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
