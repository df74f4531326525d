/*
 * cfg.c - the INI-style configuration file shared by agent and receiver
 * (syntax in cfg.h; keys documented in docs/CONFIG.md).
 *
 * API:        cfg_parse/free; cfg_count, cfg_section, cfg_section_name,
 *             cfg_section_line; cfg_get, cfg_get_n, cfg_nth, cfg_key_line;
 *             typed getters cfg_bool/uint/duration/size/percent;
 *             cfg_check_keys, cfg_check_sections; cfg_words(_free).
 * Ownership:  the cfg owns every section and string it hands out, until
 *             cfg_free.  cfg_words returns an array the caller frees with
 *             cfg_words_free.
 * Errors:     cfg_parse returns RS_ERR_SYNTAX with the line number and a
 *             static reason, RS_ERR_LIMIT for a file over
 *             RS_MAX_CONFIG_BYTES (line 0), RS_ERR_NOMEM.  Getters return
 *             RS_ERR_SYNTAX for a value they cannot read and leave the
 *             output alone.
 * Trust:      the file is written by an administrator, but may have been
 *             edited with any editor on any platform: CRLF and a UTF-8 byte
 *             order mark are tolerated; control characters, invalid UTF-8
 *             and over-long lines are errors, so that no value smuggles a
 *             line break into a log line or a path.  Numbers are checked for
 *             overflow; nothing wraps.
 *
 * Grammar, per line (after removing one trailing CR):
 *   blank | [ws] ('#'|';') anything | [ws] '[' type [ws name] ']' [ws]
 *   | [ws] key [ws] '=' [ws] value [ws]
 * Keys may repeat (in file order); a section type and name pair may not.
 * A key before the first section is an error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "rs_limits.h"
#include "rs_err.h"

struct cfg_kv {
	char		*key;
	char		*value;
	size_t		 line;
};

struct cfg_section {
	char		*type;
	char		*name;		/* "" when none */
	size_t		 line;
	struct cfg_kv	*kv;
	size_t		 nkv;
	size_t		 cap;
};

struct cfg {
	struct cfg_section **secs;
	size_t		 n;
	size_t		 cap;
};

/* ---- parsing ---- */

static int
cfg_is_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '-';
}

static int
cfg_is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
cfg_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Is p[0..n) well-formed UTF-8 without control characters?  Rejects
 * overlong forms, surrogates and code points above U+10FFFF.  Tab is not
 * allowed here: the caller trims it from the ends of keys and values.
 */
static const char *
cfg_check_text(const unsigned char *p, size_t n)
{
	size_t i = 0, k, need;
	uint32_t cp;
	unsigned char c;

	while (i < n) {
		c = p[i];
		if (c < 0x20 || c == 0x7f)
			return c == '\r' ? "carriage return inside a line" :
			    "control character";
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else
			return "invalid UTF-8";
		if (n - i - 1 < need)
			return "invalid UTF-8";
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return "invalid UTF-8";
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return "invalid UTF-8";
		if (cp >= 0x80 && cp < 0xa0)	/* C1 controls */
			return "control character";
		i += need + 1;
	}
	return NULL;
}

static char *
cfg_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
cfg_section_free(struct cfg_section *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nkv; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->type);
	free(s->name);
	free(s);
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		cfg_section_free(c->secs[i]);
	free(c->secs);
	free(c);
}

/* Parse "[type]" or "[type name]"; l[0] is '['. */
static int
cfg_parse_section(struct cfg *c, const char *l, size_t n, size_t line,
    const char **why)
{
	struct cfg_section *s = NULL;
	size_t i = 1, t0, t1, n0, n1, k;
	int r;

	while (n > 0 && cfg_is_ws((unsigned char)l[n - 1]))
		n--;
	if (n < 2 || l[n - 1] != ']') {
		*why = "section header does not end with ']'";
		return RS_ERR_SYNTAX;
	}
	n--;				/* drop ']' */
	while (i < n && cfg_is_ws((unsigned char)l[i]))
		i++;
	for (t0 = i; i < n && cfg_is_key_char((unsigned char)l[i]); i++)
		;
	t1 = i;
	while (i < n && cfg_is_ws((unsigned char)l[i]))
		i++;
	for (n0 = i; i < n && cfg_is_name_char((unsigned char)l[i]); i++)
		;
	n1 = i;
	while (i < n && cfg_is_ws((unsigned char)l[i]))
		i++;
	if (t1 == t0) {
		*why = "section type must be [a-z0-9_-]";
		return RS_ERR_SYNTAX;
	}
	if (i != n || (n1 > n0 && t1 == n0)) {
		*why = "section header must be [type] or [type name], name "
		    "of [A-Za-z0-9._-]";
		return RS_ERR_SYNTAX;
	}
	for (k = 0; k < c->n; k++) {
		if (strlen(c->secs[k]->type) == t1 - t0 &&
		    memcmp(c->secs[k]->type, l + t0, t1 - t0) == 0 &&
		    strlen(c->secs[k]->name) == n1 - n0 &&
		    memcmp(c->secs[k]->name, l + n0, n1 - n0) == 0) {
			*why = "section appears twice";
			return RS_ERR_SYNTAX;
		}
	}
	if ((r = rs_grow((void **)&c->secs, &c->cap, c->n + 1,
	    sizeof(*c->secs), 8)) != RS_OK)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return RS_ERR_NOMEM;
	s->line = line;
	if ((s->type = cfg_strndup(l + t0, t1 - t0)) == NULL ||
	    (s->name = cfg_strndup(l + n0, n1 - n0)) == NULL) {
		cfg_section_free(s);
		return RS_ERR_NOMEM;
	}
	c->secs[c->n++] = s;
	return RS_OK;
}

/* Parse "key = value" into the last section. */
static int
cfg_parse_kv(struct cfg *c, const char *l, size_t n, size_t line,
    const char **why)
{
	struct cfg_section *s;
	struct cfg_kv *kv;
	size_t i = 0, k1, v0;
	int r;

	for (i = 0; i < n && cfg_is_key_char((unsigned char)l[i]); i++)
		;
	k1 = i;
	while (i < n && cfg_is_ws((unsigned char)l[i]))
		i++;
	if (k1 == 0 || i == n || l[i] != '=') {
		*why = k1 == 0 ? "expected a key of [a-z0-9_-], a section or "
		    "a comment" : "expected '=' after the key";
		return RS_ERR_SYNTAX;
	}
	i++;
	while (i < n && cfg_is_ws((unsigned char)l[i]))
		i++;
	v0 = i;
	while (n > v0 && cfg_is_ws((unsigned char)l[n - 1]))
		n--;
	if ((*why = cfg_check_text((const unsigned char *)l + v0, n - v0)) !=
	    NULL)
		return RS_ERR_SYNTAX;
	if (c->n == 0) {
		*why = "key before the first [section]";
		return RS_ERR_SYNTAX;
	}
	s = c->secs[c->n - 1];
	if ((r = rs_grow((void **)&s->kv, &s->cap, s->nkv + 1,
	    sizeof(*s->kv), 8)) != RS_OK)
		return r;
	kv = &s->kv[s->nkv];
	kv->line = line;
	if ((kv->key = cfg_strndup(l, k1)) == NULL)
		return RS_ERR_NOMEM;
	if ((kv->value = cfg_strndup(l + v0, n - v0)) == NULL) {
		free(kv->key);
		return RS_ERR_NOMEM;
	}
	s->nkv++;
	return RS_OK;
}

int
cfg_parse(const char *text, size_t len, struct cfg **out, size_t *errline,
    const char **why)
{
	struct cfg *c = NULL;
	const char *l, *nl, *reason = NULL;
	size_t pos = 0, n, line = 0, i;
	int r;

	if (errline != NULL)
		*errline = 0;
	if (why != NULL)
		*why = NULL;
	if (out == NULL || (text == NULL && len > 0))
		return RS_ERR_INVAL;
	*out = NULL;
	if (len > RS_MAX_CONFIG_BYTES) {
		reason = "file too large";
		r = RS_ERR_LIMIT;
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	/* A UTF-8 byte order mark, as some Windows editors write. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		line++;
		l = text + pos;
		nl = memchr(l, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - l) : len - pos;
		pos += n + (nl != NULL);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (n > RS_MAX_CONFIG_LINE) {
			reason = "line too long";
			r = RS_ERR_SYNTAX;
			goto out;
		}
		/*
		 * Control characters anywhere (comments included) mean the
		 * file is not what it looks like in an editor.
		 */
		for (i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)l[i];

			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				reason = ch == '\r' ?
				    "carriage return inside a line" :
				    "control character";
				r = RS_ERR_SYNTAX;
				goto out;
			}
		}
		for (i = 0; i < n && cfg_is_ws((unsigned char)l[i]); i++)
			;
		l += i;
		n -= i;
		if (n == 0 || l[0] == '#' || l[0] == ';')
			continue;
		if (l[0] == '[')
			r = cfg_parse_section(c, l, n, line, &reason);
		else
			r = cfg_parse_kv(c, l, n, line, &reason);
		if (r != RS_OK)
			goto out;
	}
	*out = c;
	c = NULL;
	r = RS_OK;
out:
	if (r != RS_OK) {
		if (errline != NULL)
			*errline = line;
		if (why != NULL)
			*why = reason != NULL ? reason : rs_err_str(r);
	}
	cfg_free(c);
	return r;
}

/* ---- lookups ---- */

size_t
cfg_count(const struct cfg *c, const char *type)
{
	size_t i, n = 0;

	if (c == NULL || type == NULL)
		return 0;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->secs[i]->type, type) == 0)
			n++;
	return n;
}

const struct cfg_section *
cfg_section(const struct cfg *c, const char *type, size_t idx)
{
	size_t i;

	if (c == NULL || type == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->secs[i]->type, type) == 0 && idx-- == 0)
			return c->secs[i];
	return NULL;
}

const char *
cfg_section_name(const struct cfg_section *s)
{
	return s == NULL ? "" : s->name;
}

size_t
cfg_section_line(const struct cfg_section *s)
{
	return s == NULL ? 0 : s->line;
}

/* The last occurrence of key in s, or NULL. */
static const struct cfg_kv *
cfg_last(const struct cfg_section *s, const char *key)
{
	size_t i;

	if (s == NULL || key == NULL)
		return NULL;
	for (i = s->nkv; i > 0; i--)
		if (strcmp(s->kv[i - 1].key, key) == 0)
			return &s->kv[i - 1];
	return NULL;
}

const char *
cfg_get(const struct cfg_section *s, const char *key)
{
	const struct cfg_kv *kv = cfg_last(s, key);

	return kv == NULL ? NULL : kv->value;
}

size_t
cfg_get_n(const struct cfg_section *s, const char *key)
{
	size_t i, n = 0;

	if (s == NULL || key == NULL)
		return 0;
	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			n++;
	return n;
}

const char *
cfg_nth(const struct cfg_section *s, const char *key, size_t idx)
{
	size_t i;

	if (s == NULL || key == NULL)
		return NULL;
	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0 && idx-- == 0)
			return s->kv[i].value;
	return NULL;
}

size_t
cfg_key_line(const struct cfg_section *s, const char *key)
{
	const struct cfg_kv *kv = cfg_last(s, key);

	return kv == NULL ? 0 : kv->line;
}

/* ---- typed getters ---- */

/* Leading decimal digits of v into *x (overflow checked); *end after. */
static int
cfg_num(const char *v, uint64_t *x, const char **end)
{
	uint64_t n = 0;
	unsigned d;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return RS_ERR_SYNTAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return RS_ERR_SYNTAX;
		n = n * 10 + d;
	}
	*x = n;
	*end = p;
	return RS_OK;
}

static int
cfg_mul(uint64_t x, uint64_t m, uint64_t *v)
{
	if (m != 0 && x > UINT64_MAX / m)
		return RS_ERR_SYNTAX;
	*v = x * m;
	return RS_OK;
}

static int
cfg_lower_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char c = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;

		if (c != *b)
			return 0;
	}
	return *a == *b;
}

int
cfg_bool(const struct cfg_section *s, const char *key, int def, int *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	const char *val = cfg_get(s, key);
	size_t i;

	if (val == NULL) {
		*v = def;
		return RS_OK;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (cfg_lower_eq(val, yes[i])) {
			*v = 1;
			return RS_OK;
		}
		if (cfg_lower_eq(val, no[i])) {
			*v = 0;
			return RS_OK;
		}
	}
	return RS_ERR_SYNTAX;
}

int
cfg_uint(const struct cfg_section *s, const char *key, uint64_t def,
    uint64_t min, uint64_t max, uint64_t *v)
{
	const char *val = cfg_get(s, key), *end;
	uint64_t x;

	if (val == NULL) {
		*v = def;
		return RS_OK;
	}
	if (cfg_num(val, &x, &end) != RS_OK || *end != '\0' || x < min ||
	    x > max)
		return RS_ERR_SYNTAX;
	*v = x;
	return RS_OK;
}

/* A unit suffix and its multiplier; the table ends with c == 0. */
struct cfg_unit {
	char		c;
	uint64_t	m;
};

static const struct cfg_unit cfg_time_units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 0, 0 }
};

static const struct cfg_unit cfg_size_units[] = {
	{ 'k', UINT64_C(1) << 10 }, { 'K', UINT64_C(1) << 10 },
	{ 'm', UINT64_C(1) << 20 }, { 'M', UINT64_C(1) << 20 },
	{ 'g', UINT64_C(1) << 30 }, { 'G', UINT64_C(1) << 30 }, { 0, 0 }
};

/* A number with at most one unit suffix from units (none: times 1). */
static int
cfg_scaled(const struct cfg_section *s, const char *key, uint64_t def,
    const struct cfg_unit *units, uint64_t *v)
{
	const char *val = cfg_get(s, key), *end;
	uint64_t x, m = 0;

	if (val == NULL) {
		*v = def;
		return RS_OK;
	}
	if (cfg_num(val, &x, &end) != RS_OK)
		return RS_ERR_SYNTAX;
	if (*end == '\0')
		m = 1;
	else if (end[1] == '\0')
		for (; units->c != 0; units++)
			if (units->c == *end)
				m = units->m;
	if (m == 0 || cfg_mul(x, m, &x) != RS_OK)
		return RS_ERR_SYNTAX;
	*v = x;
	return RS_OK;
}

int
cfg_duration(const struct cfg_section *s, const char *key, uint64_t def,
    uint64_t *v)
{
	return cfg_scaled(s, key, def, cfg_time_units, v);
}

int
cfg_size(const struct cfg_section *s, const char *key, uint64_t def,
    uint64_t *v)
{
	return cfg_scaled(s, key, def, cfg_size_units, v);
}

int
cfg_percent(const struct cfg_section *s, const char *key, unsigned def,
    unsigned *v)
{
	const char *val = cfg_get(s, key), *end;
	uint64_t x;

	if (val == NULL) {
		*v = def;
		return RS_OK;
	}
	if (cfg_num(val, &x, &end) != RS_OK || x > 100)
		return RS_ERR_SYNTAX;
	if (*end == '%')
		end++;
	if (*end != '\0')
		return RS_ERR_SYNTAX;
	*v = (unsigned)x;
	return RS_OK;
}

/* ---- validation ---- */

static int
cfg_in(const char *s, const char *const *allowed)
{
	size_t i;

	if (allowed == NULL)
		return 0;
	for (i = 0; allowed[i] != NULL; i++)
		if (strcmp(s, allowed[i]) == 0)
			return 1;
	return 0;
}

int
cfg_check_keys(const struct cfg_section *s, const char *const *allowed,
    const char **bad)
{
	size_t i;

	if (bad != NULL)
		*bad = NULL;
	if (s == NULL)
		return RS_OK;
	for (i = 0; i < s->nkv; i++) {
		if (!cfg_in(s->kv[i].key, allowed)) {
			if (bad != NULL)
				*bad = s->kv[i].key;
			return RS_ERR_SYNTAX;
		}
	}
	return RS_OK;
}

int
cfg_check_sections(const struct cfg *c, const char *const *allowed,
    const char **bad)
{
	size_t i;

	if (bad != NULL)
		*bad = NULL;
	if (c == NULL)
		return RS_OK;
	for (i = 0; i < c->n; i++) {
		if (!cfg_in(c->secs[i]->type, allowed)) {
			if (bad != NULL)
				*bad = c->secs[i]->type;
			return RS_ERR_SYNTAX;
		}
	}
	return RS_OK;
}

/* ---- word lists ---- */

static int
cfg_is_sep(char c)
{
	return c == ' ' || c == ',' || c == '\t';
}

int
cfg_words(const char *value, char ***words, size_t *n)
{
	char **w = NULL;
	size_t cnt = 0, i, j, k;
	int r;

	if (words != NULL)
		*words = NULL;
	if (n != NULL)
		*n = 0;
	if (value == NULL || words == NULL || n == NULL)
		return RS_ERR_INVAL;
	/* Count first, then allocate exactly. */
	for (i = 0; value[i] != '\0'; ) {
		while (cfg_is_sep(value[i]))
			i++;
		if (value[i] == '\0')
			break;
		cnt++;
		while (value[i] != '\0' && !cfg_is_sep(value[i]))
			i++;
	}
	if (cnt == 0)
		return RS_OK;
	if ((w = calloc(cnt, sizeof(*w))) == NULL)
		return RS_ERR_NOMEM;
	for (i = 0, k = 0; k < cnt; k++) {
		while (cfg_is_sep(value[i]))
			i++;
		for (j = i; value[j] != '\0' && !cfg_is_sep(value[j]); j++)
			;
		if ((w[k] = cfg_strndup(value + i, j - i)) == NULL) {
			r = RS_ERR_NOMEM;
			goto out;
		}
		i = j;
	}
	*words = w;
	*n = cnt;
	w = NULL;
	r = RS_OK;
out:
	cfg_words_free(w, cnt);
	return r;
}

void
cfg_words_free(char **words, size_t n)
{
	size_t i;

	if (words == NULL)
		return;
	for (i = 0; i < n; i++)
		free(words[i]);
	free(words);
}
