/*
 * test_hostkey.c - unit tests for agent-win/push/hostkey.c: which known_hosts
 * lines pin a key for a host and port, the host key algorithms offered
 * for them, the comparison with the key a relay presents, and the
 * SHA-256 fingerprint (against what ssh-keygen -lf printed for the same
 * keys).
 *
 * A table of known_hosts texts, each looked up for relay.test port 22
 * and port 2222, with the expected result: the methods offered (only the
 * pinned types, Ed25519 first) or RS_ERR_NOTFOUND, and whether the
 * Ed25519 and the ECDSA test key then pass hostkey_pins_check.  Covered:
 * plain names, [host]:port, wildcards, negation, a name hashed by
 * ssh-keygen -H, @revoked, @cert-authority, comments, CRLF, unknown key
 * types, a blob whose type differs from its line, bad base64, and
 * RS_MAX_HOST_PINS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hostkey.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "unit.h"

/* Throwaway keys made for this test only; their ssh-keygen -lf output. */
#define ED	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKO5OOIKFmwFLh5X8GFpPBjnFLv0zR+isUhN50IlpR6Q"
#define ED_FP	"SHA256:iDb8HONyC0JdMyS/DTw2Io8ivsFXxGD285XGDASR0EA"
#define EC	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAYq2VxsrVE/jYlG4lEgvZVCCTiq1dwfCuuBSRibvJ/gUWFnhBBLBrS7MmxGcKD3ZVuRFxy3kE8qFpeXJG0cbq8="
#define EC_FP	"SHA256:VCWdqHr3kx9CHTmAoqBPE3GMD0I2SuMzhEJLfXNAdtU"
/* ssh-keygen -H of "relay.test " ED. */
#define ED_HASHED "|1|WgEoB97I4Aq72S2zCD2Adq2OPHA=|vcGEcJnmDT5VTP6LKZ0d0ZGuJyc= " ED

#define M_ED	"ssh-ed25519"
#define M_EC	"ecdsa-sha2-nistp256"
#define M_BOTH	"ssh-ed25519,ecdsa-sha2-nistp256"

struct ht {
	const char	*name;
	const char	*text;
	unsigned	 port;
	const char	*methods;	/* NULL: RS_ERR_NOTFOUND */
	int		 ed_ok, ec_ok;	/* hostkey_pins_check passes */
};

static const struct ht ht_table[] = {
	{ "plain name", "relay.test " ED "\n", 22, M_ED, 1, 0 },
	{ "plain name, other port", "relay.test " ED "\n", 2222, NULL, 0, 0 },
	{ "bracketed port", "[relay.test]:2222 " ED "\n", 2222, M_ED, 1, 0 },
	{ "bracketed port, port 22", "[relay.test]:2222 " ED "\n", 22, NULL,
	    0, 0 },
	{ "other host", "other.test " ED "\n", 22, NULL, 0, 0 },
	{ "only ECDSA pinned", "other.test " ED "\nrelay.test " EC "\n", 22,
	    M_EC, 0, 1 },
	{ "both, ECDSA listed first", "relay.test " EC " b\nrelay.test " ED
	    " a\n", 22, M_BOTH, 1, 1 },
	{ "name list", "a.test,relay.test,b.test " ED "\n", 22, M_ED, 1, 0 },
	{ "wildcard", "*.test " ED "\n", 22, M_ED, 1, 0 },
	{ "wildcard ?", "rela?.tes? " ED "\n", 22, M_ED, 1, 0 },
	{ "wildcard, no match", "*.example " ED "\n", 22, NULL, 0, 0 },
	{ "negated", "*.test,!relay.test " ED "\n", 22, NULL, 0, 0 },
	{ "hashed", ED_HASHED "\n", 22, M_ED, 1, 0 },
	{ "hashed, other port", ED_HASHED "\n", 2222, NULL, 0, 0 },
	{ "hashed, damaged", "|1|WgEoB97I4Aq72S2zCD2Adq2OPHA=|wcGEcJnmDT5VTP6"
	    "LKZ0d0ZGuJyc= " ED "\n", 22, NULL, 0, 0 },
	{ "revoked only", "@revoked relay.test " ED "\n", 22, NULL, 0, 0 },
	{ "revoked wins", "relay.test " ED "\nrelay.test " EC "\n"
	    "@revoked * " ED "\n", 22, M_EC, 0, 1 },
	{ "cert-authority skipped", "@cert-authority relay.test " ED "\n", 22,
	    NULL, 0, 0 },
	{ "comments, blank lines, CRLF", "# pins\r\n\r\n  \r\nrelay.test " ED
	    " comment here\r\n", 22, M_ED, 1, 0 },
	{ "no final newline", "relay.test " ED, 22, M_ED, 1, 0 },
	{ "unknown type skipped", "relay.test ssh-dss AAAAB3NzaC1kc3MAAAA\n",
	    22, NULL, 0, 0 },
	{ "blob of another type", "relay.test ecdsa-sha2-nistp256 "
	    "AAAAC3NzaC1lZDI1NTE5AAAAIKO5OOIKFmwFLh5X8GFpPBjnFLv0zR+isUhN50Il"
	    "pR6Q\n", 22, NULL, 0, 0 },
	{ "bad base64", "relay.test ssh-ed25519 AAAA*AAA\n", 22, NULL, 0, 0 },
	{ "missing key", "relay.test ssh-ed25519\n", 22, NULL, 0, 0 },
	{ "empty file", "", 22, NULL, 0, 0 },
};

/* The blob of one "TYPE BASE64" line. */
static void
ht_blob(const char *line, struct rs_buf *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *s = strchr(line, ' ') + 1, *q;
	uint32_t v = 0;
	int bits = 0;

	for (; *s != '\0' && *s != '='; s++) {
		q = strchr(tab, *s);
		v = (v << 6) | (uint32_t)(q - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			rs_buf_put_u8(out, (uint8_t)(v >> bits));
		}
	}
}

int
main(void)
{
	struct hostkey_pins *p;
	struct rs_buf ed, ec, big;
	char m[256], fp[64], n[160];
	const struct ht *t;
	size_t i;
	int r, rev;

	rs_buf_init(&ed, 4096);
	rs_buf_init(&ec, 4096);
	ht_blob(ED, &ed);
	ht_blob(EC, &ec);
	UT_CHECK("fingerprint ed25519", hostkey_fp(ed.data, ed.len, fp,
	    sizeof(fp)) == RS_OK && strcmp(fp, ED_FP) == 0);
	UT_CHECK("fingerprint ecdsa", hostkey_fp(ec.data, ec.len, fp,
	    sizeof(fp)) == RS_OK && strcmp(fp, EC_FP) == 0);
	UT_CHECK("fingerprint: buffer too small",
	    hostkey_fp(ed.data, ed.len, fp, 50) == RS_ERR_INVAL);

	for (i = 0; i < sizeof(ht_table) / sizeof(ht_table[0]); i++) {
		t = &ht_table[i];
		p = NULL;
		r = hostkey_pins_parse(t->text, strlen(t->text), "relay.test",
		    t->port, &p);
		snprintf(n, sizeof(n), "%s: %s", t->name, t->methods != NULL ?
		    t->methods : "no key");
		if (t->methods == NULL) {
			UT_CHECK(n, r == RS_ERR_NOTFOUND && p == NULL);
			continue;
		}
		UT_CHECK(n, r == RS_OK && hostkey_pins_methods(p, m,
		    sizeof(m)) == RS_OK && strcmp(m, t->methods) == 0);
		if (p == NULL)
			continue;
		snprintf(n, sizeof(n), "%s: ed25519 key %s", t->name,
		    t->ed_ok ? "passes" : "refused");
		UT_CHECK(n, (hostkey_pins_check(p, ed.data, ed.len, &rev) ==
		    RS_OK) == t->ed_ok);
		snprintf(n, sizeof(n), "%s: ecdsa key %s", t->name,
		    t->ec_ok ? "passes" : "refused");
		UT_CHECK(n, (hostkey_pins_check(p, ec.data, ec.len, &rev) ==
		    RS_OK) == t->ec_ok);
		hostkey_pins_free(p);
	}

	/* What a revoked key reports, and what "expected" names. */
	p = NULL;
	r = hostkey_pins_parse(ht_table[16].text, strlen(ht_table[16].text),
	    "relay.test", 22, &p);
	UT_CHECK("revoked: flagged", r == RS_OK &&
	    hostkey_pins_check(p, ed.data, ed.len, &rev) == RS_ERR_SIG &&
	    rev == 1);
	UT_CHECK("mismatch: not flagged revoked", r == RS_OK &&
	    hostkey_pins_check(p, ed.data, ed.len - 1, &rev) == RS_ERR_SIG &&
	    rev == 0);
	if (p != NULL)
		hostkey_pins_expected(p, fp, sizeof(fp));
	UT_CHECK("expected: the first key not revoked", p != NULL &&
	    strcmp(fp, EC_FP) == 0);
	hostkey_pins_free(p);

	/* RS_MAX_HOST_PINS lines for the host, and one more. */
	rs_buf_init(&big, RS_MAX_KNOWN_HOSTS_BYTES);
	for (i = 0; i < RS_MAX_HOST_PINS; i++)
		rs_buf_put_str(&big, "relay.test " ED "\n");
	p = NULL;
	UT_CHECK("at RS_MAX_HOST_PINS", hostkey_pins_parse((const char *)
	    big.data, big.len, "relay.test", 22, &p) == RS_OK);
	hostkey_pins_free(p);
	rs_buf_put_str(&big, "relay.test " EC "\n");
	p = NULL;
	UT_CHECK("beyond RS_MAX_HOST_PINS", hostkey_pins_parse((const char *)
	    big.data, big.len, "relay.test", 22, &p) == RS_ERR_LIMIT &&
	    p == NULL);

	rs_buf_free(&big);
	rs_buf_free(&ed);
	rs_buf_free(&ec);
	return ut_exit();
}
