/*
 * test_addr.c - unit tests for common/addr.c.
 *
 * Tables of valid and invalid addresses (every hostile form FORMAT.md
 * section 3 names, with the reason we expect), proxyAddresses derivation,
 * addr_domain, addr_check_domain, and a randomized differential test:
 * random strings over a small alphabet are checked by addr_check and by an
 * independent, deliberately naive reference implementation of the rules,
 * which must agree; random bytes must never crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "unit.h"

struct tcase {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 want;
	const char	*why;		/* expected reason, or NULL: any */
};

#define L(s)	s, sizeof(s) - 1

static char long_local[300 + 20];
static char local64[64 + 20], local65[65 + 20];
static char label63[63 + 20], label64[64 + 20];
static char addr254[260], addr255[260], dom253[260], dom254[260];

static void
make_long(void)
{
	size_t i, n;

	memset(long_local, 'a', 300);
	memcpy(long_local + 300, "@corp.test", 11);
	memset(local64, 'b', 64);
	memcpy(local64 + 64, "@corp.test", 11);
	memset(local65, 'b', 65);
	memcpy(local65 + 65, "@corp.test", 11);
	memcpy(label63, "x@", 2);
	memset(label63 + 2, 'c', 63);
	memcpy(label63 + 65, ".test", 6);
	memcpy(label64, "x@", 2);
	memset(label64 + 2, 'c', 64);
	memcpy(label64 + 66, ".test", 6);
	/* 253-octet domain: labels of 49 + '.' ... ending in ".test". */
	n = 0;
	while (n + 50 < 253 - 5) {
		memset(dom253 + n, 'd', 49);
		dom253[n + 49] = '.';
		n += 50;
	}
	memset(dom253 + n, 'e', 253 - 5 - n);
	n = 253 - 5;
	memcpy(dom253 + n, ".test", 6);
	memcpy(dom254, "f", 1);
	memcpy(dom254 + 1, dom253, 254);
	/* 254-octet address: 64-octet local part, '@', 189-octet domain. */
	memset(addr254, 'g', 64);
	addr254[64] = '@';
	for (i = 65; i < 254; i++)
		addr254[i] = (i - 65) % 60 == 59 ? '.' : 'h';
	memcpy(addr254 + 254 - 5, ".test", 6);
	memcpy(addr255, addr254, 64);
	addr255[64] = '@';
	addr255[65] = 'i';
	memcpy(addr255 + 66, addr254 + 65, 190);
}

static struct tcase checks[] = {
	{ L("alice@corp.test"), RS_OK, NULL },
	{ L("a@b.c"), RS_OK, NULL },
	{ L("first.last@sub.corp.test"), RS_OK, NULL },
	{ L("x!$%&'*+-/=?^_`{|}~y@corp.test"), RS_OK, NULL },
	{ L("0123@123.example"), RS_OK, NULL },
	{ L("a-b@xn--bcher-kva.example"), RS_OK, NULL },
	{ L("a@a-b.c-d.test"), RS_OK, NULL },
	{ L(""), RS_ERR_SYNTAX, "empty address" },
	{ L("a"), RS_ERR_SYNTAX, "no @" },
	{ L("@corp.test"), RS_ERR_SYNTAX, "empty local part" },
	{ L("alice@"), RS_ERR_SYNTAX, "empty domain" },
	{ L("Alice@corp.test"), RS_ERR_SYNTAX, "upper case letter" },
	{ L("alice@Corp.test"), RS_ERR_SYNTAX, "upper case letter" },
	{ L(" alice@corp.test"), RS_ERR_SYNTAX, "leading white space" },
	{ L("alice@corp.test "), RS_ERR_SYNTAX, "trailing white space" },
	{ L("\talice@corp.test"), RS_ERR_SYNTAX, "leading white space" },
	{ L("ali ce@corp.test"), RS_ERR_SYNTAX, "embedded white space" },
	{ L("alice@corp .test"), RS_ERR_SYNTAX, "embedded white space" },
	{ L("alice@corp.test\r"), RS_ERR_SYNTAX, "line break" },
	{ L("alice@corp.test\n"), RS_ERR_SYNTAX, "line break" },
	{ L("alice\r\n@corp.test"), RS_ERR_SYNTAX, "line break" },
	{ L("alice\0@corp.test"), RS_ERR_SYNTAX, "NUL byte" },
	{ L("alice@corp.test\0"), RS_ERR_SYNTAX, "NUL byte" },
	{ L("al\x01ice@corp.test"), RS_ERR_SYNTAX, "control character" },
	{ L("alice@corp.test\x7f"), RS_ERR_SYNTAX, "control character" },
	{ L("al\x1bice@corp.test"), RS_ERR_SYNTAX, "control character" },
	{ L("j\xc3\xb6rg@corp.test"), RS_ERR_SYNTAX, "non-ASCII octet" },
	{ L("jorg@b\xc3\xbc" "cher.test"), RS_ERR_SYNTAX, "non-ASCII octet" },
	{ L("\xff@corp.test"), RS_ERR_SYNTAX, "non-ASCII octet" },
	{ L("\"alice\"@corp.test"), RS_ERR_SYNTAX,
	  "quoted local part not accepted" },
	{ L("\"a@b\"@corp.test"), RS_ERR_SYNTAX,
	  "quoted local part not accepted" },
	{ L("a\\b@corp.test"), RS_ERR_SYNTAX, "quoted local part not accepted" },
	{ L("#alice@corp.test"), RS_ERR_SYNTAX, "'#' in local part" },
	{ L("al#ice@corp.test"), RS_ERR_SYNTAX, "'#' in local part" },
	{ L("alice@@corp.test"), RS_ERR_SYNTAX, "more than one @" },
	{ L("a@b@corp.test"), RS_ERR_SYNTAX, "more than one @" },
	{ L(".alice@corp.test"), RS_ERR_SYNTAX, "local part starts with a dot" },
	{ L("alice.@corp.test"), RS_ERR_SYNTAX, "local part ends with a dot" },
	{ L("al..ice@corp.test"), RS_ERR_SYNTAX,
	  "consecutive dots in local part" },
	{ L("al(ice)@corp.test"), RS_ERR_SYNTAX,
	  "invalid character in local part" },
	{ L("al,ice@corp.test"), RS_ERR_SYNTAX,
	  "invalid character in local part" },
	{ L("a:b@corp.test"), RS_ERR_SYNTAX, "invalid character in local part" },
	{ L("a<b>@corp.test"), RS_ERR_SYNTAX,
	  "invalid character in local part" },
	{ L("alice@[192.0.2.1]"), RS_ERR_SYNTAX,
	  "address literal not accepted" },
	{ L("alice@[IPv6:2001:db8::1]"), RS_ERR_SYNTAX, NULL },
	{ L("alice@localhost"), RS_ERR_SYNTAX, "domain has only one label" },
	{ L("alice@.corp.test"), RS_ERR_SYNTAX, "domain starts with a dot" },
	{ L("alice@corp.test."), RS_ERR_SYNTAX, "domain ends with a dot" },
	{ L("alice@corp..test"), RS_ERR_SYNTAX, "empty domain label" },
	{ L("alice@-corp.test"), RS_ERR_SYNTAX,
	  "domain label starts with a hyphen" },
	{ L("alice@corp-.test"), RS_ERR_SYNTAX,
	  "domain label ends with a hyphen" },
	{ L("alice@corp.test-"), RS_ERR_SYNTAX,
	  "domain label ends with a hyphen" },
	{ L("alice@corp_x.test"), RS_ERR_SYNTAX,
	  "invalid character in domain" },
	{ L("alice@corp.test,bob@corp.test"), RS_ERR_SYNTAX, NULL },
};

static struct tcase proxies[] = {
	{ L("smtp:alice@corp.test"), RS_OK, NULL },
	{ L("SMTP:Alice@Corp.Test"), RS_OK, NULL },
	{ L("SmTp:ALICE@CORP.TEST"), RS_OK, NULL },
	{ L("X400:c=US;a= ;p=Corp;o=Exchange;s=Alice;"), RS_ERR_NOT_SMTP, NULL },
	{ L("X500:/o=Corp/ou=Exchange/cn=Recipients/cn=alice"),
	  RS_ERR_NOT_SMTP, NULL },
	{ L("SIP:alice@corp.test"), RS_ERR_NOT_SMTP, NULL },
	{ L("sip:alice@corp.test"), RS_ERR_NOT_SMTP, NULL },
	{ L("EUM:1234;phone-context=corp.test"), RS_ERR_NOT_SMTP, NULL },
	{ L("alice@corp.test"), RS_ERR_NOT_SMTP, NULL },
	{ L("smtp"), RS_ERR_NOT_SMTP, NULL },
	{ L("smtpx:alice@corp.test"), RS_ERR_NOT_SMTP, NULL },
	{ L(""), RS_ERR_NOT_SMTP, NULL },
	{ L("smtp:"), RS_ERR_SYNTAX, "empty address" },
	{ L(" smtp:alice@corp.test"), RS_ERR_SYNTAX, "leading white space" },
	{ L("smtp: alice@corp.test"), RS_ERR_SYNTAX, "leading white space" },
	{ L("smtp:alice@corp.test "), RS_ERR_SYNTAX, "trailing white space" },
	{ L("smtp:alice@corp.test\t"), RS_ERR_SYNTAX, "trailing white space" },
	{ L("smtp:al ice@corp.test"), RS_ERR_SYNTAX, "embedded white space" },
	{ L("smtp:alice@corp.test\r\n"), RS_ERR_SYNTAX, "line break" },
	{ L("smtp:alice\n@corp.test"), RS_ERR_SYNTAX, "line break" },
	{ L("smtp:alice\0@corp.test"), RS_ERR_SYNTAX, "NUL byte" },
	{ L("smtp:al\x02ice@corp.test"), RS_ERR_SYNTAX, "control character" },
	{ L("smtp:J\xc3\xb6rg@corp.test"), RS_ERR_SYNTAX, "non-ASCII octet" },
	{ L("smtp:\"Alice\"@corp.test"), RS_ERR_SYNTAX,
	  "quoted local part not accepted" },
	{ L("smtp:#alice@corp.test"), RS_ERR_SYNTAX, "'#' in local part" },
	{ L("smtp:alice@@corp.test"), RS_ERR_SYNTAX, "more than one @" },
	{ L("SMTP:alice@[10.0.0.1]"), RS_ERR_SYNTAX,
	  "address literal not accepted" },
	{ L("smtp:alice"), RS_ERR_SYNTAX, "no @" },
};

/* Reference implementation: slow, obvious, written from the text. */
static int
ref_label_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", s[i]) ||
		    s[i] == '\0')
			return 0;
	return 1;
}

static int
ref_check(const char *a, size_t len)
{
	const char *at = NULL;
	size_t i, llen, dlen, start, labels = 0;
	static const char atext[] = "abcdefghijklmnopqrstuvwxyz0123456789"
	    "!$%&'*+-/=?^_`{|}~";

	if (len < 3 || len > 254)
		return 0;
	for (i = 0; i < len; i++) {
		if (a[i] == '@') {
			if (at != NULL)
				return 0;
			at = a + i;
		}
	}
	if (at == NULL)
		return 0;
	llen = (size_t)(at - a);
	dlen = len - llen - 1;
	if (llen < 1 || llen > 64 || dlen < 1 || dlen > 253)
		return 0;
	if (a[0] == '.' || a[llen - 1] == '.')
		return 0;
	for (i = 0; i < llen; i++) {
		if (a[i] == '.') {
			if (a[i + 1] == '.')
				return 0;
		} else if (a[i] == '\0' || strchr(atext, a[i]) == NULL)
			return 0;
	}
	start = 0;
	for (i = 0; i <= dlen; i++) {
		if (i == dlen || at[1 + i] == '.') {
			if (!ref_label_ok(at + 1 + start, i - start))
				return 0;
			labels++;
			start = i + 1;
		}
	}
	return labels >= 2;
}

int
main(void)
{
	char name[400], out[RS_MAX_ADDR_LEN + 1], small[16], s[300];
	const char *why, *d;
	size_t i, j, n, outlen, dlen, agree, nvalid;
	int r, ok;
	static const char alpha[] = "ab.@-#A z\"[]09_!\r\0\xc3";

	ut_seed(0x9e3779b97f4a7c15ULL);

	make_long();
	{
		struct tcase longs[] = {
			{ long_local, strlen(long_local), RS_ERR_SYNTAX,
			  "local part longer than 64 octets" },
			{ local64, strlen(local64), RS_OK, NULL },
			{ local65, strlen(local65), RS_ERR_SYNTAX,
			  "local part longer than 64 octets" },
			{ label63, strlen(label63), RS_OK, NULL },
			{ label64, strlen(label64), RS_ERR_SYNTAX,
			  "domain label longer than 63 octets" },
			{ addr254, strlen(addr254), RS_OK, NULL },
			{ addr255, strlen(addr255), RS_ERR_SYNTAX,
			  "address longer than 254 octets" },
		};

		for (i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
			r = addr_check(longs[i].in, longs[i].len, &why);
			snprintf(name, sizeof(name),
			    "addr_check long case %zu (len %zu)", i,
			    longs[i].len);
			if (r != longs[i].want || (longs[i].why != NULL &&
			    (why == NULL || strcmp(why, longs[i].why) != 0)))
				fprintf(stderr, "%s: got %d (%s)\n", name, r,
				    why ? why : "-");
			UT_CHECK(name, r == longs[i].want &&
			    (longs[i].why == NULL ||
			    (why != NULL && strcmp(why, longs[i].why) == 0)));
		}
	}
	UT_CHECK("addr_check_domain 253 octets",
	    strlen(dom253) == 253 &&
	    addr_check_domain(dom253, 253, &why) == RS_OK);
	UT_CHECK("addr_check_domain 254 octets refused",
	    addr_check_domain(dom254, 254, &why) == RS_ERR_SYNTAX &&
	    strcmp(why, "domain longer than 253 octets") == 0);

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		struct tcase *t = &checks[i];
		char shown[120];

		for (j = n = 0; j < t->len && n + 5 < sizeof(shown); j++) {
			unsigned char c = (unsigned char)t->in[j];

			if (c >= 0x21 && c < 0x7f)
				shown[n++] = (char)c;
			else
				n += (size_t)snprintf(shown + n,
				    sizeof(shown) - n, "\\x%02x", c);
		}
		shown[n] = '\0';
		why = NULL;
		r = addr_check(t->in, t->len, &why);
		snprintf(name, sizeof(name), "addr_check \"%s\" %s", shown,
		    t->want == RS_OK ? "valid" : "invalid");
		if (r != t->want || (t->why != NULL &&
		    (why == NULL || strcmp(why, t->why) != 0)))
			fprintf(stderr, "%s: got %d (%s), want %s\n", name, r,
			    why ? why : "-", t->why ? t->why : "-");
		UT_CHECK(name, r == t->want && (t->why == NULL ||
		    (why != NULL && strcmp(why, t->why) == 0)));
		if (r != RS_OK) {
			snprintf(name, sizeof(name),
			    "addr_check \"%s\" gives a reason", shown);
			UT_CHECK(name, why != NULL && *why != '\0');
		}
	}
	UT_CHECK("addr_check NULL reason pointer",
	    addr_check("x", 1, NULL) == RS_ERR_SYNTAX);

	for (i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++) {
		struct tcase *t = &proxies[i];

		why = NULL;
		r = addr_from_proxy(t->in, t->len, out, sizeof(out), &outlen,
		    &why);
		snprintf(name, sizeof(name), "addr_from_proxy case %zu", i);
		if (r != t->want || (t->why != NULL &&
		    (why == NULL || strcmp(why, t->why) != 0)))
			fprintf(stderr, "%s: got %d (%s), want %s\n", name, r,
			    why ? why : "-", t->why ? t->why : "-");
		ok = r == t->want && (t->why == NULL ||
		    (why != NULL && strcmp(why, t->why) == 0));
		if (r == RS_OK) {
			/* Lowercased, prefix gone, and canonical. */
			ok = ok && outlen == t->len - 5 &&
			    strlen(out) == outlen &&
			    addr_check(out, outlen, NULL) == RS_OK;
			for (j = 0; j < outlen; j++)
				if (out[j] != t->in[5 + j] &&
				    out[j] != t->in[5 + j] - 'A' + 'a')
					ok = 0;
		}
		UT_CHECK(name, ok);
	}
	r = addr_from_proxy(L("SMTP:Alice@Corp.Test"), out, sizeof(out),
	    &outlen, NULL);
	UT_CHECK("addr_from_proxy lowercases",
	    r == RS_OK && strcmp(out, "alice@corp.test") == 0 && outlen == 15);
	UT_CHECK("addr_from_proxy small buffer",
	    addr_from_proxy(L("smtp:a@b.c"), small, sizeof(small), &outlen,
	    NULL) == RS_ERR_INVAL);
	{
		char big[400];

		memcpy(big, "SMTP:", 5);
		memcpy(big + 5, addr254, 254);
		big[5] = 'G';
		r = addr_from_proxy(big, 5 + 254, out, sizeof(out), &outlen,
		    &why);
		UT_CHECK("addr_from_proxy 254-octet address",
		    r == RS_OK && outlen == 254 && out[0] == 'g');
		memcpy(big + 5, addr255, 255);
		r = addr_from_proxy(big, 5 + 255, out, sizeof(out), &outlen,
		    &why);
		UT_CHECK("addr_from_proxy 255-octet address refused",
		    r == RS_ERR_SYNTAX && outlen == 0);
		memcpy(big + 5, long_local, strlen(long_local));
		r = addr_from_proxy(big, 5 + strlen(long_local), out,
		    sizeof(out), &outlen, &why);
		UT_CHECK("addr_from_proxy 300-octet local part refused",
		    r == RS_ERR_SYNTAX &&
		    strcmp(why, "local part longer than 64 octets") == 0);
	}

	d = addr_domain(L("alice@corp.test"), &dlen);
	UT_CHECK("addr_domain", d != NULL && dlen == 9 &&
	    memcmp(d, "corp.test", 9) == 0);
	d = addr_domain(L("nodomain"), &dlen);
	UT_CHECK("addr_domain without @", d == NULL && dlen == 0);

	UT_CHECK("addr_check_domain ok",
	    addr_check_domain(L("corp.test"), &why) == RS_OK);
	UT_CHECK("addr_check_domain one label",
	    addr_check_domain(L("test"), &why) == RS_ERR_SYNTAX);
	UT_CHECK("addr_check_domain upper case",
	    addr_check_domain(L("Corp.test"), &why) == RS_ERR_SYNTAX);
	UT_CHECK("addr_check_domain with @",
	    addr_check_domain(L("a@corp.test"), &why) == RS_ERR_SYNTAX);
	UT_CHECK("addr_check_domain empty",
	    addr_check_domain("", 0, &why) == RS_ERR_SYNTAX);
	UT_CHECK("addr_check_domain trailing space",
	    addr_check_domain(L("corp.test "), &why) == RS_ERR_SYNTAX);

	/* Differential: addr_check agrees with the reference. */
	agree = 0;
	nvalid = 0;
	for (i = 0; i < 200000; i++) {
		n = 1 + ut_rng() % 24;
		for (j = 0; j < n; j++) {
			/* Mostly letters, '.', '@' so that valid ones occur. */
			uint64_t k = ut_rng() % 64;

			s[j] = k < 40 ? "aab.@-z0"[k % 8] :
			    alpha[k % (sizeof(alpha) - 1)];
		}
		r = addr_check(s, n, &why);
		if ((r == RS_OK) == ref_check(s, n))
			agree++;
		else
			fprintf(stderr, "disagree on %.*s: %d\n", (int)n, s, r);
		if (r == RS_OK)
			nvalid++;
		if (r != RS_OK && r != RS_ERR_SYNTAX)
			break;
	}
	fprintf(stderr, "differential: %zu agree, %zu valid\n", agree, nvalid);
	UT_CHECK("addr_check agrees with reference on random strings",
	    agree == 200000 && nvalid > 100);

	/*
	 * Differential on structured candidates: a local part and labels of
	 * lengths around the limits, then up to two hostile mutations.
	 */
	agree = 0;
	nvalid = 0;
	for (i = 0; i < 100000; i++) {
		static const char lc[] = "abz09!$%&'*+-/=?^_`{|}~.";
		static const char dc[] = "abz09-";
		static const char hostile[] = "@.-#\"[] \t\r\nA\x01\x7f\x80";
		size_t ll, nl, k, lab;

		ll = ut_rng() % 4 == 0 ? 60 + ut_rng() % 8 : 1 + ut_rng() % 10;
		for (n = 0; n < ll; n++)
			s[n] = lc[ut_rng() % (sizeof(lc) - 1)];
		s[n++] = '@';
		nl = 1 + ut_rng() % (ut_rng() % 8 == 0 ? 5 : 3);
		for (k = 0; k < nl && n < sizeof(s) - 70; k++) {
			lab = ut_rng() % 6 == 0 ? 60 + ut_rng() % 6 : 1 + ut_rng() % 8;
			if (k > 0)
				s[n++] = '.';
			for (j = 0; j < lab; j++)
				s[n++] = dc[ut_rng() % (sizeof(dc) - 1)];
		}
		for (k = ut_rng() % 3; k > 0; k--) {
			j = ut_rng() % n;
			s[j] = hostile[ut_rng() % (sizeof(hostile) - 1)];
		}
		r = addr_check(s, n, &why);
		if ((r == RS_OK) == ref_check(s, n))
			agree++;
		else
			fprintf(stderr, "disagree on %.*s: %d\n", (int)n, s, r);
		if (r == RS_OK)
			nvalid++;
	}
	fprintf(stderr, "structured: %zu agree, %zu valid\n", agree, nvalid);
	UT_CHECK("addr_check agrees with reference on structured strings",
	    agree == 100000 && nvalid > 1000 && nvalid < 99000);

	/* Random bytes of any length never crash and fail cleanly. */
	ok = 1;
	for (i = 0; i < 100000; i++) {
		n = ut_rng() % sizeof(s);
		for (j = 0; j < n; j++)
			s[j] = (char)(ut_rng() & 0xff);
		if (ut_rng() % 2) {
			memcpy(s, "smtp:", n < 5 ? n : 5);
		}
		r = addr_check(s, n, &why);
		if (r != RS_OK && (r != RS_ERR_SYNTAX || why == NULL))
			ok = 0;
		r = addr_from_proxy(s, n, out, sizeof(out), &outlen, &why);
		if (r == RS_OK && addr_check(out, outlen, NULL) != RS_OK)
			ok = 0;
		if (r != RS_OK && r != RS_ERR_SYNTAX && r != RS_ERR_NOT_SMTP)
			ok = 0;
	}
	UT_CHECK("addr random bytes handled", ok);
	return ut_exit();
}
