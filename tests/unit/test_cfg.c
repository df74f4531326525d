/*
 * test_cfg.c - unit tests for common/cfg.c.
 *
 * A realistic file (comments, CRLF, byte order mark, repeated keys, named
 * sections), a table of files that must be refused with the line number,
 * tables for every typed getter (including overflow), cfg_words, and
 * randomized tests: random configurations written out and parsed back must
 * give the same sections, keys and values; random bytes never crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "rs_limits.h"
#include "rs_err.h"
#include "unit.h"

#define L(s)	s, sizeof(s) - 1

static const char good[] =
    "\xef\xbb\xbf# rcptsync agent configuration\r\n"
    "; another comment\r\n"
    "\r\n"
    "[agent]\r\n"
    "id = corp\r\n"
    "domains = corp.test, example.org  branch.corp.test\r\n"
    "  interval=5m  \r\n"
    "shrink_threshold = 10%\r\n"
    "empty =\r\n"
    "utf8 = J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x98\x80\r\n"
    "\t# indented comment\r\n"
    "[ldap]\n"
    "server = dc1.corp.test\n"
    "server = dc2.corp.test:389\n"
    "base = DC=corp,DC=test\n"
    "filter = (&(proxyAddresses=smtp:*)(!(cn=x # y)))\n"
    "[relay mx1]\n"
    "host = mx1.corp.test\n"
    "port = 2222\n"
    "[ relay   MX-2.b_c ]\n"
    "host = mx2.corp.test\n"
    "host = mx2b.corp.test\n";

struct bad {
	const char	*name;
	const char	*text;
	size_t		 len;
	size_t		 line;
};

static const struct bad bads[] = {
	{ "key before section", L("id = x\n[agent]\n"), 1 },
	{ "upper case key", L("[a]\nKey = x\n"), 2 },
	{ "missing =", L("[a]\nkey x\n"), 2 },
	{ "no key", L("[a]\n= x\n"), 2 },
	{ "space in key", L("[a]\nmy key = x\n"), 2 },
	{ "section unclosed", L("[a]\n[relay mx1\n"), 2 },
	{ "section empty", L("[]\n"), 1 },
	{ "section upper type", L("[Agent]\n"), 1 },
	{ "section three words", L("[relay mx1 extra]\n"), 1 },
	{ "section bad name", L("[relay mx/1]\n"), 1 },
	{ "section text after", L("[a] x\n"), 1 },
	{ "section twice", L("[a]\n[b]\n[a]\n"), 3 },
	{ "named section twice", L("[relay x]\n[relay y]\n[relay x]\n"), 3 },
	{ "NUL byte", L("[a]\nk = a\0b\n"), 2 },
	{ "CR inside line", L("[a]\nk = a\rb\n"), 2 },
	{ "escape char", L("[a]\nk = \x1b[31m\n"), 2 },
	{ "DEL", L("[a]\nk = a\x7f\n"), 2 },
	{ "control in comment", L("[a]\n# \x01\n"), 2 },
	{ "tab inside value", L("[a]\nk = a\tb\n"), 2 },
	{ "invalid UTF-8", L("[a]\nk = \xc3\n"), 2 },
	{ "overlong UTF-8", L("[a]\nk = \xc0\xaf\n"), 2 },
	{ "UTF-8 surrogate", L("[a]\nk = \xed\xa0\x80\n"), 2 },
	{ "UTF-8 above U+10FFFF", L("[a]\nk = \xf4\x90\x80\x80\n"), 2 },
	{ "C1 control", L("[a]\nk = \xc2\x85\n"), 2 },
	{ "BOM not at start", L("[a]\n\xef\xbb\xbfk = x\n"), 2 },
};

struct gcase {
	const char	*value;
	int		 ok;
	uint64_t	 want;
};

static const struct gcase durations[] = {
	{ "90", 1, 90 }, { "90s", 1, 90 }, { "5m", 1, 300 },
	{ "1h", 1, 3600 }, { "1d", 1, 86400 }, { "0", 1, 0 },
	{ "1w", 0, 0 }, { "-1", 0, 0 }, { "5 m", 0, 0 }, { "5mm", 0, 0 },
	{ "m", 0, 0 }, { "", 0, 0 }, { "1.5h", 0, 0 }, { "5M", 0, 0 },
	{ "18446744073709551615", 1, UINT64_MAX },
	{ "18446744073709551616", 0, 0 },
	{ "213503982334601d", 1, UINT64_C(213503982334601) * 86400 },
	{ "213503982334602d", 0, 0 },
	{ "0x10", 0, 0 }, { "+5", 0, 0 },
};

static const struct gcase sizes[] = {
	{ "512", 1, 512 }, { "64k", 1, 65536 }, { "16M", 1, 16777216 },
	{ "1G", 1, 1073741824 }, { "1g", 1, 1073741824 }, { "1T", 0, 0 },
	{ "k", 0, 0 }, { "1kb", 0, 0 }, { "-1", 0, 0 },
	{ "17179869183G", 1, UINT64_C(17179869183) << 30 },
	{ "17179869184G", 0, 0 },
};

static const struct gcase percents[] = {
	{ "10", 1, 10 }, { "10%", 1, 10 }, { "0", 1, 0 }, { "100%", 1, 100 },
	{ "101", 0, 0 }, { "10%%", 0, 0 }, { "%", 0, 0 }, { "-5", 0, 0 },
	{ "5.5", 0, 0 }, { "99999999999999999999", 0, 0 },
};

static const struct gcase bools[] = {
	{ "yes", 1, 1 }, { "no", 1, 0 }, { "true", 1, 1 }, { "false", 1, 0 },
	{ "on", 1, 1 }, { "off", 1, 0 }, { "1", 1, 1 }, { "0", 1, 0 },
	{ "Yes", 1, 1 }, { "OFF", 1, 0 }, { "y", 0, 0 }, { "2", 0, 0 },
	{ "", 0, 0 }, { "yess", 0, 0 },
};

static const struct gcase uints[] = {
	{ "0", 0, 0 }, { "1", 1, 1 }, { "1000", 1, 1000 }, { "1001", 0, 0 },
	{ "01", 1, 1 }, { "-1", 0, 0 }, { "1k", 0, 0 }, { "", 0, 0 },
	{ "99999999999999999999", 0, 0 },
};

/* Parse "[s]\nk = VALUE\n" and return the section (cfg in *c). */
static const struct cfg_section *
one(const char *value, struct cfg **c)
{
	char text[200];
	size_t line;
	const char *why;

	snprintf(text, sizeof(text), "[s]\nk = %s\n", value);
	*c = NULL;
	if (cfg_parse(text, strlen(text), c, &line, &why) != RS_OK)
		return NULL;
	return cfg_section(*c, "s", 0);
}

int
main(void)
{
	struct cfg *c = NULL;
	const struct cfg_section *s;
	const char *why, *bad;
	char name[200], **w;
	size_t line, n, i, j;
	uint64_t u;
	unsigned pct;
	int r, b, ok;

	ut_seed(0x082efa98ec4e6c89ULL);

	/* The realistic file. */
	r = cfg_parse(good, sizeof(good) - 1, &c, &line, &why);
	if (r != RS_OK)
		fprintf(stderr, "good: line %zu: %s\n", line, why);
	UT_CHECK("cfg parses a realistic file", r == RS_OK && c != NULL);
	s = cfg_section(c, "agent", 0);
	UT_CHECK("cfg [agent] values (CRLF, BOM, spaces trimmed)",
	    s != NULL && strcmp(cfg_get(s, "id"), "corp") == 0 &&
	    strcmp(cfg_get(s, "interval"), "5m") == 0 &&
	    strcmp(cfg_get(s, "empty"), "") == 0 &&
	    strcmp(cfg_get(s, "domains"),
	    "corp.test, example.org  branch.corp.test") == 0 &&
	    cfg_section_line(s) == 4 && cfg_key_line(s, "interval") == 7 &&
	    strcmp(cfg_section_name(s), "") == 0);
	UT_CHECK("cfg UTF-8 value kept",
	    s != NULL && strcmp(cfg_get(s, "utf8"),
	    "J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x98\x80") == 0);
	UT_CHECK("cfg absent key", cfg_get(s, "nope") == NULL &&
	    cfg_get_n(s, "nope") == 0 && cfg_key_line(s, "nope") == 0 &&
	    cfg_get(NULL, "id") == NULL);
	s = cfg_section(c, "ldap", 0);
	UT_CHECK("cfg repeated key in order", s != NULL &&
	    cfg_get_n(s, "server") == 2 &&
	    strcmp(cfg_nth(s, "server", 0), "dc1.corp.test") == 0 &&
	    strcmp(cfg_nth(s, "server", 1), "dc2.corp.test:389") == 0 &&
	    cfg_nth(s, "server", 2) == NULL &&
	    strcmp(cfg_get(s, "server"), "dc2.corp.test:389") == 0);
	UT_CHECK("cfg '#' inside a value is not a comment", s != NULL &&
	    strcmp(cfg_get(s, "filter"),
	    "(&(proxyAddresses=smtp:*)(!(cn=x # y)))") == 0);
	UT_CHECK("cfg section count", cfg_count(c, "relay") == 2 &&
	    cfg_count(c, "agent") == 1 && cfg_count(c, "nope") == 0);
	s = cfg_section(c, "relay", 1);
	UT_CHECK("cfg named sections", s != NULL &&
	    strcmp(cfg_section_name(s), "MX-2.b_c") == 0 &&
	    strcmp(cfg_get(s, "host"), "mx2b.corp.test") == 0 &&
	    cfg_section_line(s) == 20 &&
	    strcmp(cfg_section_name(cfg_section(c, "relay", 0)), "mx1") == 0 &&
	    cfg_section(c, "relay", 2) == NULL);
	{
		static const char *const ok_secs[] = { "agent", "ldap",
		    "relay", NULL };
		static const char *const few_secs[] = { "agent", "ldap",
		    NULL };
		static const char *const ok_keys[] = { "host", "port", NULL };
		static const char *const few_keys[] = { "host", NULL };

		UT_CHECK("cfg_check_sections ok",
		    cfg_check_sections(c, ok_secs, &bad) == RS_OK &&
		    bad == NULL);
		UT_CHECK("cfg_check_sections names the bad one",
		    cfg_check_sections(c, few_secs, &bad) == RS_ERR_SYNTAX &&
		    bad != NULL && strcmp(bad, "relay") == 0);
		s = cfg_section(c, "relay", 0);
		UT_CHECK("cfg_check_keys ok",
		    cfg_check_keys(s, ok_keys, &bad) == RS_OK);
		UT_CHECK("cfg_check_keys names the bad one",
		    cfg_check_keys(s, few_keys, &bad) == RS_ERR_SYNTAX &&
		    strcmp(bad, "port") == 0);
		UT_CHECK("cfg_check_keys NULL section",
		    cfg_check_keys(NULL, few_keys, &bad) == RS_OK);
	}
	s = cfg_section(c, "agent", 0);
	UT_CHECK("cfg typed getters on the file",
	    cfg_duration(s, "interval", 1, &u) == RS_OK && u == 300 &&
	    cfg_percent(s, "shrink_threshold", 1, &pct) == RS_OK &&
	    pct == 10 &&
	    cfg_uint(cfg_section(c, "relay", 0), "port", 22, 1, 65535, &u) ==
	    RS_OK && u == 2222);
	UT_CHECK("cfg defaults for absent keys",
	    cfg_duration(s, "nope", 42, &u) == RS_OK && u == 42 &&
	    cfg_size(s, "nope", 7, &u) == RS_OK && u == 7 &&
	    cfg_bool(s, "nope", 1, &b) == RS_OK && b == 1 &&
	    cfg_percent(s, "nope", 3, &pct) == RS_OK && pct == 3 &&
	    cfg_uint(NULL, "nope", 9, 0, 10, &u) == RS_OK && u == 9);
	cfg_free(c);
	c = NULL;

	/* Files that must be refused, with the line. */
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		line = 0;
		why = NULL;
		c = (struct cfg *)&line;	/* must be reset to NULL */
		r = cfg_parse(bads[i].text, bads[i].len, &c, &line, &why);
		snprintf(name, sizeof(name), "cfg refuses: %s",
		    bads[i].name);
		if (r != RS_ERR_SYNTAX || line != bads[i].line)
			fprintf(stderr, "%s: %d line %zu (%s)\n", name, r,
			    line, why ? why : "-");
		UT_CHECK(name, r == RS_ERR_SYNTAX && line == bads[i].line &&
		    why != NULL && c == NULL);
	}
	{
		struct rs_buf big;

		rs_buf_init(&big, 4 * RS_MAX_CONFIG_BYTES);
		rs_buf_put_str(&big, "[a]\nk = ");
		for (i = 0; i < RS_MAX_CONFIG_LINE; i++)
			rs_buf_put_u8(&big, 'x');
		rs_buf_put_str(&big, "\n");
		r = cfg_parse((char *)big.data, big.len, &c, &line, &why);
		UT_CHECK("cfg refuses an over-long line",
		    r == RS_ERR_SYNTAX && line == 2);
		rs_buf_reset(&big);
		rs_buf_put_str(&big, "[a]\nk = ");
		for (i = 0; i < RS_MAX_CONFIG_LINE - 8; i++)
			rs_buf_put_u8(&big, 'x');
		rs_buf_put_str(&big, "\r\n");
		r = cfg_parse((char *)big.data, big.len, &c, &line, &why);
		UT_CHECK("cfg accepts a line of RS_MAX_CONFIG_LINE",
		    r == RS_OK);
		cfg_free(c);
		c = NULL;
		rs_buf_reset(&big);
		while (big.len <= RS_MAX_CONFIG_BYTES)
			rs_buf_put_str(&big, "# padding padding padding\n");
		r = cfg_parse((char *)big.data, big.len, &c, &line, &why);
		UT_CHECK("cfg refuses a file over RS_MAX_CONFIG_BYTES",
		    r == RS_ERR_LIMIT && c == NULL);
		rs_buf_free(&big);
	}
	r = cfg_parse("", 0, &c, &line, &why);
	UT_CHECK("cfg empty file", r == RS_OK && cfg_count(c, "agent") == 0 &&
	    cfg_section(c, "agent", 0) == NULL);
	cfg_free(c);
	c = NULL;
	r = cfg_parse(L("[a]\nk = v"), &c, &line, &why);
	UT_CHECK("cfg last line without newline", r == RS_OK &&
	    strcmp(cfg_get(cfg_section(c, "a", 0), "k"), "v") == 0);
	cfg_free(c);
	c = NULL;

	/* Typed getters. */
#define GETTER_TABLE(tab, label, call, outv)				\
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {		\
		s = one(tab[i].value, &c);				\
		snprintf(name, sizeof(name), "%s \"%s\" %s", label,	\
		    tab[i].value, tab[i].ok ? "accepted" : "refused");	\
		outv = 12345;						\
		r = (call);						\
		if (tab[i].ok)						\
			UT_CHECK(name, s != NULL && r == RS_OK &&	\
			    (uint64_t)outv == tab[i].want);		\
		else							\
			UT_CHECK(name, r == RS_ERR_SYNTAX &&		\
			    outv == 12345);				\
		cfg_free(c);						\
		c = NULL;						\
	}
	GETTER_TABLE(durations, "cfg_duration",
	    cfg_duration(s, "k", 7, &u), u)
	GETTER_TABLE(sizes, "cfg_size", cfg_size(s, "k", 7, &u), u)
	GETTER_TABLE(percents, "cfg_percent", cfg_percent(s, "k", 7, &pct),
	    pct)
	GETTER_TABLE(bools, "cfg_bool", cfg_bool(s, "k", 7, &b), b)
	GETTER_TABLE(uints, "cfg_uint [1,1000]",
	    cfg_uint(s, "k", 7, 1, 1000, &u), u)

	/* cfg_words. */
	r = cfg_words("corp.test, example.org  branch.corp.test,,x", &w, &n);
	UT_CHECK("cfg_words splits on spaces and commas", r == RS_OK &&
	    n == 4 && strcmp(w[0], "corp.test") == 0 &&
	    strcmp(w[1], "example.org") == 0 &&
	    strcmp(w[2], "branch.corp.test") == 0 && strcmp(w[3], "x") == 0);
	cfg_words_free(w, n);
	r = cfg_words(" , ,, ", &w, &n);
	UT_CHECK("cfg_words nothing", r == RS_OK && n == 0);
	cfg_words_free(w, n);
	r = cfg_words("one", &w, &n);
	UT_CHECK("cfg_words one", r == RS_OK && n == 1 &&
	    strcmp(w[0], "one") == 0);
	cfg_words_free(w, n);

	/* Random configurations round trip. */
	ok = 1;
	for (i = 0; i < 500 && ok; i++) {
		struct rs_buf t;
		char keys[8][32], vals[8][40], types[4][32], names[4][32];
		size_t nsec = 1 + ut_rng() % 4, nk[4], si, ki;

		rs_buf_init(&t, 1 << 20);
		for (si = 0; si < nsec; si++) {
			snprintf(types[si], sizeof(types[si]), "t%zu", si);
			snprintf(names[si], sizeof(names[si]), "%s",
			    ut_rng() % 2 ? "" : "N.a-m_e");
			rs_buf_printf(&t, "%s[%s%s%s]%s\n",
			    ut_rng() % 2 ? " " : "", types[si],
			    names[si][0] ? " " : "", names[si],
			    ut_rng() % 2 ? "\r" : "");
			nk[si] = ut_rng() % 8;
			for (ki = 0; ki < nk[si]; ki++) {
				size_t vl = ut_rng() % 30, q;

				snprintf(keys[ki], sizeof(keys[ki]), "k_%zu",
				    ki);
				for (q = 0; q < vl; q++)
					vals[ki][q] =
					    "ab =#;[]%,.:/\"'xyz"[ut_rng() % 18];
				vals[ki][vl] = '\0';
				/* Outer spaces are trimmed: avoid them. */
				if (vl > 0 && vals[ki][0] == ' ')
					vals[ki][0] = 'a';
				if (vl > 0 && vals[ki][vl - 1] == ' ')
					vals[ki][vl - 1] = 'z';
				rs_buf_printf(&t, "%s%s%s=%s%s%s\n",
				    ut_rng() % 2 ? "\t" : "", keys[ki],
				    ut_rng() % 2 ? " " : "", ut_rng() % 2 ? " " : "",
				    vals[ki], ut_rng() % 2 ? "  " : "");
				if (ut_rng() % 4 == 0)
					rs_buf_put_str(&t, "# c = [x]\n\n");
			}
			/* Check this section right after writing it. */
			r = cfg_parse((char *)t.data, t.len, &c, &line, &why);
			if (r != RS_OK) {
				fprintf(stderr, "random cfg: line %zu: %s\n%s",
				    line, why, (char *)t.data);
				ok = 0;
				break;
			}
			s = cfg_section(c, types[si], 0);
			if (s == NULL || strcmp(cfg_section_name(s),
			    names[si]) != 0)
				ok = 0;
			for (ki = 0; ok && ki < nk[si]; ki++) {
				const char *v = cfg_get(s, keys[ki]);

				if (v == NULL || strcmp(v, vals[ki]) != 0) {
					fprintf(stderr, "key %s: [%s] vs "
					    "[%s]\n", keys[ki], v ? v : "-",
					    vals[ki]);
					ok = 0;
				}
			}
			cfg_free(c);
			c = NULL;
		}
		rs_buf_free(&t);
	}
	UT_CHECK("cfg random configurations round trip", ok);

	/* Random bytes and random line soup never crash. */
	ok = 1;
	for (i = 0; i < 20000; i++) {
		char t[300];

		n = ut_rng() % sizeof(t);
		for (j = 0; j < n; j++)
			t[j] = ut_rng() % 3 ? "[]= \n\r#;ab_-.\t\xc3\xa9"[ut_rng() %
			    17] : (char)ut_rng();
		r = cfg_parse(t, n, &c, &line, &why);
		if (r == RS_OK) {
			if (c == NULL)
				ok = 0;
		} else if (r != RS_ERR_SYNTAX || why == NULL || line == 0 ||
		    c != NULL)
			ok = 0;
		cfg_free(c);
		c = NULL;
	}
	UT_CHECK("cfg random input handled", ok);
	return ut_exit();
}
