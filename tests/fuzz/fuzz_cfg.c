/*
 * fuzz_cfg.c - libFuzzer target for the INI configuration parser
 * (common/cfg.c, docs/CONFIG.md): cfg_parse, the section and key lookups,
 * the typed getters and cfg_words.
 *
 * API:        LLVMFuzzerTestOneInput; the input is a configuration file.
 * Ownership:  everything is created and freed per input.
 * Errors:     an invariant that does not hold aborts (FZ_ASSERT).
 * Trust:      config files are the administrator's, but the parser treats
 *             them as hostile (and the Windows service reads a file an
 *             installer wrote).  Checked beyond memory safety: values hold
 *             no control characters and no white space at either end;
 *             "last value counts" holds; a getter that refuses a value
 *             leaves the output alone and one that accepts stays in range;
 *             cfg_words yields non-empty words without separators; and a
 *             file parses the same with CRLF line ends as with LF.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "rs_limits.h"
#include "rs_err.h"

#include "fuzz.h"

#define FZ_N(a)		(sizeof(a) / sizeof((a)[0]))
#define FZ_SENTINEL	UINT64_C(0x5a5a5a5a5a5a5a5a)

/* Section types of both programs (docs/CONFIG.md), and "" for none. */
static const char *const fz_types[] = {
	"agent", "ldap", "relay", "receiver", "signer", "", NULL,
};
/* Every key of both programs, for cfg_check_keys. */
static const char *const fz_keys[] = {
	"id", "domains", "signing_key", "state_dir", "interval",
	"shrink_threshold", "audit_file", "log_file",
	"server", "base", "filter", "page_size", "bind", "bind_dn",
	"password_file", "password", "sasl_mech", "tls", "ca_file", "timeout",
	"host", "port", "user", "hostkey_sha256", "known_hosts", "private_key",
	"remote_dir", "status_file", "connect_timeout", "io_timeout", "wait",
	"retries", "backoff",
	"spool_dir", "history_dir", "history", "quarantine_dir",
	"allowed_signers", "map", "map_type", "postmap", "postconf",
	"postfix_config", "relay_domains", "static_file", "max_bundle_size",
	"max_list_size", "max_entries", "metrics_file", "stale_warning",
	"stale_critical",
	NULL,
};

/*
 * The keys the getters are tried with: a few fixed ones (often absent, for
 * the defaults) and the names the input itself uses, scanned here, so the
 * getters see every value the fuzzer writes without trying all of
 * fz_keys on every section of every input.
 */
#define FZ_MAX_KEYS	24
#define FZ_KEY_LEN	64
static const char *const fz_fixed_keys[] = { "id", "port", "interval" };

struct fz_keyset {
	char	k[FZ_MAX_KEYS][FZ_KEY_LEN];
	size_t	n;
};

static int
fz_is_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '-';
}

static void
fz_keyset_add(struct fz_keyset *ks, const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n >= FZ_KEY_LEN || ks->n == FZ_MAX_KEYS)
		return;
	for (i = 0; i < ks->n; i++)
		if (strlen(ks->k[i]) == n && memcmp(ks->k[i], k, n) == 0)
			return;
	memcpy(ks->k[ks->n], k, n);
	ks->k[ks->n][n] = '\0';
	ks->n++;
}

static void
fz_keyset_scan(struct fz_keyset *ks, const uint8_t *p, size_t size)
{
	size_t i = 0, s, e;

	ks->n = 0;
	for (i = 0; i < sizeof(fz_fixed_keys) / sizeof(fz_fixed_keys[0]); i++)
		fz_keyset_add(ks, fz_fixed_keys[i], strlen(fz_fixed_keys[i]));
	i = 0;
	while (i < size) {
		while (i < size && (p[i] == ' ' || p[i] == '\t'))
			i++;
		s = i;
		while (i < size && fz_is_key_char(p[i]))
			i++;
		e = i;
		while (i < size && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i < size && p[i] == '=')
			fz_keyset_add(ks, (const char *)p + s, e - s);
		while (i < size && p[i] != '\n')
			i++;
		i++;
	}
}

/* A short allow-list, so that cfg_check_keys also finds unknown keys. */
static const char *const fz_some_keys[] = { "id", "domains", "host", NULL };

static int
fz_in(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static void
fz_value_ok(const char *v)
{
	size_t i, n = strlen(v);

	for (i = 0; i < n; i++)
		FZ_ASSERT((unsigned char)v[i] >= 0x20 && v[i] != 0x7f,
		    "control character in a value");
	if (n > 0) {
		FZ_ASSERT(v[0] != ' ' && v[0] != '\t', "value starts with space");
		FZ_ASSERT(v[n - 1] != ' ' && v[n - 1] != '\t',
		    "value ends with space");
	}
	FZ_ASSERT(n <= RS_MAX_CONFIG_LINE, "value longer than a line");
}

static void
fz_words(const char *v)
{
	char **w = NULL;
	size_t n = 0, i;

	if (cfg_words(v, &w, &n) != RS_OK)
		return;
	for (i = 0; i < n; i++) {
		FZ_ASSERT(w[i] != NULL && w[i][0] != '\0', "empty word");
		FZ_ASSERT(strpbrk(w[i], " ,") == NULL, "separator in a word");
		FZ_ASSERT(strstr(v, w[i]) != NULL, "word not in the value");
	}
	cfg_words_free(w, n);
}

static void
fz_typed(const struct cfg_section *s, const char *key, int present)
{
	uint64_t u;
	unsigned pct;
	int b, r;

	b = 7;
	r = cfg_bool(s, key, 1, &b);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_bool return code");
	if (r == RS_OK)
		FZ_ASSERT(b == 0 || b == 1, "cfg_bool value");
	else
		FZ_ASSERT(b == 7 && present, "cfg_bool touched its output");
	if (!present)
		FZ_ASSERT(r == RS_OK && b == 1, "cfg_bool default");

	u = FZ_SENTINEL;
	r = cfg_uint(s, key, 22, 1, 65535, &u);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_uint return code");
	if (r == RS_OK)
		FZ_ASSERT(u >= 1 && u <= 65535, "cfg_uint out of range");
	else
		FZ_ASSERT(u == FZ_SENTINEL && present,
		    "cfg_uint touched its output");
	if (!present)
		FZ_ASSERT(r == RS_OK && u == 22, "cfg_uint default");

	u = FZ_SENTINEL;
	r = cfg_uint(s, key, 0, 0, UINT64_MAX, &u);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_uint return code");
	if (r != RS_OK)
		FZ_ASSERT(u == FZ_SENTINEL, "cfg_uint touched its output");

	u = FZ_SENTINEL;
	r = cfg_duration(s, key, 300, &u);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_duration return");
	if (r != RS_OK)
		FZ_ASSERT(u == FZ_SENTINEL && present,
		    "cfg_duration touched its output");
	if (!present)
		FZ_ASSERT(r == RS_OK && u == 300, "cfg_duration default");

	u = FZ_SENTINEL;
	r = cfg_size(s, key, 4096, &u);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_size return code");
	if (r != RS_OK)
		FZ_ASSERT(u == FZ_SENTINEL && present,
		    "cfg_size touched its output");
	if (!present)
		FZ_ASSERT(r == RS_OK && u == 4096, "cfg_size default");

	pct = 777;
	r = cfg_percent(s, key, 10, &pct);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_percent return");
	if (r == RS_OK)
		FZ_ASSERT(pct <= 100, "cfg_percent above 100");
	else
		FZ_ASSERT(pct == 777 && present, "cfg_percent touched its output");
	if (!present)
		FZ_ASSERT(r == RS_OK && pct == 10, "cfg_percent default");
}

static void
fz_section(const struct cfg_section *s, const struct fz_keyset *ks)
{
	const char *name, *v, *last, *bad, *key;
	size_t k, i, n;
	int r;

	name = cfg_section_name(s);
	FZ_ASSERT(name != NULL, "section name NULL");
	for (i = 0; name[i] != '\0'; i++)
		FZ_ASSERT(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]) != NULL,
		    "section name character");
	(void)cfg_section_line(s);

	for (k = 0; k < ks->n; k++) {
		key = ks->k[k];
		v = cfg_get(s, key);
		n = cfg_get_n(s, key);
		FZ_ASSERT((v == NULL) == (n == 0), "cfg_get vs cfg_get_n");
		FZ_ASSERT(cfg_nth(s, key, n) == NULL, "cfg_nth past end");
		last = NULL;
		for (i = 0; i < n; i++) {
			last = cfg_nth(s, key, i);
			FZ_ASSERT(last != NULL, "cfg_nth inside the range");
			fz_value_ok(last);
			fz_words(last);
		}
		if (n > 0) {
			FZ_ASSERT(strcmp(v, last) == 0, "last value does not count");
			FZ_ASSERT(cfg_key_line(s, key) >= 1, "key line");
		}
		fz_typed(s, key, n > 0);
	}

	bad = NULL;
	r = cfg_check_keys(s, fz_some_keys, &bad);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_check_keys return");
	if (r != RS_OK) {
		FZ_ASSERT(bad != NULL && !fz_in(bad, fz_some_keys),
		    "cfg_check_keys names an allowed key");
		FZ_ASSERT(cfg_get(s, bad) != NULL, "unknown key not in section");
	}
	r = cfg_check_keys(s, fz_keys, &bad);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "cfg_check_keys return");
}

static void
fz_cfg(const struct cfg *c, const struct fz_keyset *ks)
{
	const struct cfg_section *s;
	const char *bad = NULL;
	size_t t, i, n;
	int r;

	for (t = 0; fz_types[t] != NULL; t++) {
		n = cfg_count(c, fz_types[t]);
		for (i = 0; i < n; i++) {
			s = cfg_section(c, fz_types[t], i);
			FZ_ASSERT(s != NULL, "cfg_section inside the count");
			fz_section(s, ks);
		}
		FZ_ASSERT(cfg_section(c, fz_types[t], n) == NULL,
		    "cfg_section past the count");
	}
	r = cfg_check_sections(c, fz_types, &bad);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_SYNTAX, "check_sections return");
	if (r != RS_OK)
		FZ_ASSERT(bad != NULL && !fz_in(bad, fz_types),
		    "cfg_check_sections names an allowed type");
	FZ_ASSERT(cfg_get(NULL, "id") == NULL, "cfg_get(NULL)");
}

/* The same file with CRLF line ends, when that stays within the limits. */
static void
fz_crlf(const uint8_t *data, size_t size, int want_rc, size_t want_line)
{
	struct cfg *c = NULL;
	const char *why = NULL;
	size_t i, j, nl = 0, run = 0, errline = 0;
	char *p;
	int r;

	for (i = 0; i < size; i++) {
		if (data[i] == '\r')
			return;
		if (data[i] == '\n') {
			nl++;
			run = 0;
		} else if (++run >= RS_MAX_CONFIG_LINE - 2)
			return;
	}
	if (nl == 0 || size + nl > RS_MAX_CONFIG_BYTES)
		return;
	if ((p = malloc(size + nl)) == NULL)
		abort();
	for (i = j = 0; i < size; i++) {
		if (data[i] == '\n')
			p[j++] = '\r';
		p[j++] = (char)data[i];
	}
	r = cfg_parse(p, j, &c, &errline, &why);
	FZ_ASSERT(r == want_rc, "CRLF changes the parse result");
	if (r != RS_OK)
		FZ_ASSERT(errline == want_line, "CRLF changes the error line");
	cfg_free(c);
	free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_keyset ks;
	struct cfg *c = NULL;
	const char *why = NULL;
	size_t errline = 0;
	char *p;
	int r;

	p = fz_dup(data, size, 0);
	r = cfg_parse(p, size, &c, &errline, &why);
	FZ_ASSERT(r <= 0, "cfg_parse return code");
	FZ_ASSERT((r == RS_OK) == (c != NULL), "cfg_parse out pointer");
	if (r != RS_OK)
		FZ_ASSERT(why != NULL && why[0] != '\0', "error without reason");
	else {
		fz_keyset_scan(&ks, data, size);
		fz_cfg(c, &ks);
	}
	cfg_free(c);
	fz_crlf(data, size, r, errline);
	free(p);

	/* cfg_words alone, on the input as a C string. */
	p = fz_dup(data, size < 4096 ? size : 4096, 1);
	fz_words(p);
	free(p);
	return 0;
}
