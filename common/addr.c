/*
 * addr.c - the canonical recipient address form (docs/FORMAT.md section 3)
 * and its derivation from Active Directory proxyAddresses values.
 *
 * API:        addr_check, addr_check_domain, addr_domain, addr_from_proxy
 *             (see addr.h).
 * Ownership:  nothing allocates; addr_from_proxy writes into the caller's
 *             buffer; addr_domain returns a pointer into its argument.
 * Errors:     RS_ERR_SYNTAX with a static reason naming the first rule the
 *             input breaks; RS_ERR_NOT_SMTP for a proxyAddresses value of
 *             another type; RS_ERR_INVAL for a too small output buffer.
 * Trust:      every input is untrusted (directory values on the agent,
 *             bundle lines on the receiver).  Inputs are length-delimited
 *             and may contain NUL or any other byte.  An address that passes
 *             addr_check is safe as a key of a Postfix lookup table: one
 *             token, no white space, no comment character, no control bytes.
 */
#include <stddef.h>

#include "addr.h"
#include "rs_limits.h"
#include "rs_err.h"

#define PROXY_SMTP	"smtp:"
#define PROXY_SMTP_LEN	5

static int
addr_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return RS_ERR_SYNTAX;
}

static int
addr_is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 5321 atext, lowercase, without '#' (a Postfix comment). */
static int
addr_is_atext(unsigned char c)
{
	if (addr_is_lower_alnum(c))
		return 1;
	switch (c) {
	case '!': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '/': case '=': case '?': case '^':
	case '_': case '`': case '{': case '|': case '}': case '~':
		return 1;
	}
	return 0;
}

static unsigned char
addr_fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/*
 * Reject bytes that may never appear anywhere in an address, with the most
 * telling reason.  With fold set, upper case letters count as lower case
 * (addr_from_proxy lowercases after checking).
 */
static int
addr_check_bytes(const unsigned char *a, size_t len, int fold,
    const char **why)
{
	size_t i;
	unsigned char c;

	if (len > 0 && (a[0] == ' ' || a[0] == '\t'))
		return addr_fail(why, "leading white space");
	if (len > 0 && (a[len - 1] == ' ' || a[len - 1] == '\t'))
		return addr_fail(why, "trailing white space");
	for (i = 0; i < len; i++) {
		c = a[i];
		if (c == '\0')
			return addr_fail(why, "NUL byte");
		if (c == '\r' || c == '\n')
			return addr_fail(why, "line break");
		if (c == ' ' || c == '\t')
			return addr_fail(why, "embedded white space");
		if (c < 0x20 || c == 0x7f)
			return addr_fail(why, "control character");
		if (c >= 0x80)
			return addr_fail(why, "non-ASCII octet");
		if (!fold && c >= 'A' && c <= 'Z')
			return addr_fail(why, "upper case letter");
	}
	return RS_OK;
}

/* Domain rules, bytes already known to be printable ASCII. */
static int
addr_check_domain_ci(const unsigned char *d, size_t len, int fold,
    const char **why)
{
	size_t i, lablen = 0, labels = 0;
	unsigned char c, prev = 0;

	if (len == 0)
		return addr_fail(why, "empty domain");
	if (d[0] == '[')
		return addr_fail(why, "address literal not accepted");
	if (len > RS_MAX_DOMAIN_LEN)
		return addr_fail(why, "domain longer than 253 octets");
	if (d[0] == '.')
		return addr_fail(why, "domain starts with a dot");
	if (d[len - 1] == '.')
		return addr_fail(why, "domain ends with a dot");
	for (i = 0; i < len; i++) {
		c = fold ? addr_fold(d[i]) : d[i];
		if (c == '.') {
			if (lablen == 0)
				return addr_fail(why, "empty domain label");
			if (prev == '-')
				return addr_fail(why,
				    "domain label ends with a hyphen");
			labels++;
			lablen = 0;
		} else if (addr_is_lower_alnum(c) || c == '-') {
			if (c == '-' && lablen == 0)
				return addr_fail(why,
				    "domain label starts with a hyphen");
			if (++lablen > RS_MAX_LABEL_LEN)
				return addr_fail(why,
				    "domain label longer than 63 octets");
		} else if (c >= 'A' && c <= 'Z') {
			return addr_fail(why, "upper case letter");
		} else if (c == '@') {
			return addr_fail(why, "more than one @");
		} else
			return addr_fail(why, "invalid character in domain");
		prev = c;
	}
	if (prev == '-')
		return addr_fail(why, "domain label ends with a hyphen");
	if (++labels < 2)
		return addr_fail(why, "domain has only one label");
	return RS_OK;
}

/* Local part rules (Dot-string), bytes known to be printable ASCII. */
static int
addr_check_local(const unsigned char *l, size_t len, int fold,
    const char **why)
{
	size_t i;
	unsigned char c;

	if (len == 0)
		return addr_fail(why, "empty local part");
	if (l[0] == '"')
		return addr_fail(why, "quoted local part not accepted");
	if (len > RS_MAX_LOCAL_LEN)
		return addr_fail(why, "local part longer than 64 octets");
	if (l[0] == '.')
		return addr_fail(why, "local part starts with a dot");
	if (l[len - 1] == '.')
		return addr_fail(why, "local part ends with a dot");
	for (i = 0; i < len; i++) {
		c = fold ? addr_fold(l[i]) : l[i];
		if (c == '.') {
			if (l[i + 1] == '.')	/* i + 1 < len: l ends in no dot */
				return addr_fail(why,
				    "consecutive dots in local part");
		} else if (c == '#') {
			return addr_fail(why, "'#' in local part");
		} else if (c == '"' || c == '\\') {
			return addr_fail(why, "quoted local part not accepted");
		} else if (c >= 'A' && c <= 'Z') {
			return addr_fail(why, "upper case letter");
		} else if (!addr_is_atext(c))
			return addr_fail(why, "invalid character in local part");
	}
	return RS_OK;
}

static int
addr_check_ci(const unsigned char *a, size_t len, int fold, const char **why)
{
	size_t i, at = len, nat = 0;
	int r;

	if (len == 0)
		return addr_fail(why, "empty address");
	if ((r = addr_check_bytes(a, len, fold, why)) != RS_OK)
		return r;
	for (i = 0; i < len; i++) {
		if (a[i] == '@') {
			if (nat++ == 0)
				at = i;
		}
	}
	if (nat == 0)
		return addr_fail(why, "no @");
	/*
	 * More than one '@' is only legal inside a quoted local part, which
	 * we refuse anyway; say what it most likely is.
	 */
	if (nat > 1 && a[0] == '"')
		return addr_fail(why, "quoted local part not accepted");
	if (nat > 1)
		return addr_fail(why, "more than one @");
	if ((r = addr_check_local(a, at, fold, why)) != RS_OK)
		return r;
	if ((r = addr_check_domain_ci(a + at + 1, len - at - 1, fold, why))
	    != RS_OK)
		return r;
	if (len > RS_MAX_ADDR_LEN)
		return addr_fail(why, "address longer than 254 octets");
	if (len < 3)			/* implied by the above; kept explicit */
		return addr_fail(why, "address shorter than 3 octets");
	return RS_OK;
}

int
addr_check(const char *a, size_t len, const char **why)
{
	if (why != NULL)
		*why = NULL;
	if (a == NULL)
		return addr_fail(why, "empty address");
	return addr_check_ci((const unsigned char *)a, len, 0, why);
}

int
addr_check_domain(const char *d, size_t len, const char **why)
{
	const unsigned char *u = (const unsigned char *)d;
	int r;

	if (why != NULL)
		*why = NULL;
	if (d == NULL || len == 0)
		return addr_fail(why, "empty domain");
	if ((r = addr_check_bytes(u, len, 0, why)) != RS_OK)
		return r;
	return addr_check_domain_ci(u, len, 0, why);
}

const char *
addr_domain(const char *a, size_t len, size_t *dlen)
{
	size_t i;

	if (dlen != NULL)
		*dlen = 0;
	if (a == NULL)
		return NULL;
	/* The last '@': a canonical address has exactly one. */
	for (i = len; i > 0; i--) {
		if (a[i - 1] == '@') {
			if (dlen != NULL)
				*dlen = len - i;
			return a + i;
		}
	}
	return NULL;
}

/* Does v start with "smtp:" in any case? */
static int
addr_is_smtp(const unsigned char *v, size_t len)
{
	size_t i;

	if (len < PROXY_SMTP_LEN)
		return 0;
	for (i = 0; i < PROXY_SMTP_LEN; i++)
		if (addr_fold(v[i]) != (unsigned char)PROXY_SMTP[i])
			return 0;
	return 1;
}

int
addr_from_proxy(const char *v, size_t len, char *out, size_t outsize,
    size_t *outlen, const char **why)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i, skip = 0;
	int r;

	if (why != NULL)
		*why = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || outsize < RS_MAX_ADDR_LEN + 1)
		return RS_ERR_INVAL;
	out[0] = '\0';
	if (v == NULL)
		return RS_ERR_NOT_SMTP;

	/*
	 * White space before the prefix: an smtp: value edited by hand is an
	 * error to report (it should be fixed in the directory), not a value
	 * of another type to skip quietly.
	 */
	while (skip < len && (u[skip] == ' ' || u[skip] == '\t'))
		skip++;
	if (!addr_is_smtp(u + skip, len - skip))
		return RS_ERR_NOT_SMTP;
	if (skip > 0)
		return addr_fail(why, "leading white space");
	u += PROXY_SMTP_LEN;
	len -= PROXY_SMTP_LEN;

	if ((r = addr_check_ci(u, len, 1, why)) != RS_OK)
		return r;
	/* addr_check_ci bounds len by RS_MAX_ADDR_LEN < outsize. */
	for (i = 0; i < len; i++)
		out[i] = (char)addr_fold(u[i]);
	out[len] = '\0';
	if (outlen != NULL)
		*outlen = len;
	return RS_OK;
}
