/*
 * accepted.c - the domains a list speaks for (accepted.h): [agent]
 * domains as configured, or Exchange's accepted domains.
 *
 * Exchange keeps one msExchAcceptedDomain object per accepted domain
 * under CN=Accepted Domains,CN=Transport Settings,CN=<org>,CN=Microsoft
 * Exchange,CN=Services in the configuration partition, which every DC
 * holds.  We search the subtree from CN=Microsoft Exchange,CN=Services,
 * so that the organization's name need not be configured, and take
 * msExchAcceptedDomainName with the type in the low two bits of
 * msExchAcceptedDomainFlags.
 *
 * API, ownership, errors and trust: accepted.h.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accepted.h"
#include "agent_int.h"
#include "addr.h"
#include "buf.h"
#include "bundle.h"
#include "log.h"
#include "rlist.h"
#include "rs_err.h"
#include "strv.h"
#include "sys.h"

#define ACC_NAME_MAX	(RS_MAX_DOMAIN_LEN + 2)		/* "*." + domain */
#define ACC_STATE_FILE	"domains"	/* the listed domains, last read */

struct acc_domain {
	char		 name[ACC_NAME_MAX + 1];	/* lowercase */
	char		 token[ACC_NAME_MAX + 1];	/* in a header: name, or
							   "*.name" with
							   MatchSubDomains */
	uint64_t	 flags;
	enum acc_kind	 kind;
	int		 wildcard;	/* "*.a.test" */
	int		 listed;
	int		 relayed;	/* format 2: a relay domain */
	int		 cached;
	const char	*why;		/* not listed: why */
};

struct acc_set {
	int		 from_dir;	/* auto: read from the directory */
	size_t		 n;
	struct acc_domain *d;		/* sorted by name */
	char		 base[RS_MAX_DSNAME + 64];	/* searched */
	size_t		 nlisted, ncached;
	const char	*listed[RS_MAX_DOMAINS];	/* sorted */
	const char	*cached[RS_MAX_ACCEPTED];	/* sorted */
	size_t		 nrelay;
	const char	*relay[RS_MAX_DOMAINS];		/* format 2, sorted */
	/*
	 * Format 2: the tokens of both kinds as a header holds them, so that
	 * which one governs an address is FORMAT.md 2.3's rule, in
	 * bundle_domain_find; NULL while the views are plain names.
	 */
	struct bundle_hdr *gov;
	struct rs_buf	 listed_str;
	struct rs_buf	 cached_str;
};

/* What one search hands its entry callback. */
struct acc_read {
	struct acc_set	*s;
	size_t		 cap;
	int		 r;
};

static const char acc_base_pfx[] = "CN=Microsoft Exchange,CN=Services,";
static const char acc_filter_str[] = "(objectClass=msExchAcceptedDomain)";

int
acc_new(struct acc_set **out)
{
	struct acc_set *s;

	if ((*out = s = calloc(1, sizeof(*s))) == NULL)
		return RS_ERR_NOMEM;
	rs_buf_init(&s->listed_str, RS_MAX_HDR_LINE);
	rs_buf_init(&s->cached_str, RS_MAX_ACCEPTED * (ACC_NAME_MAX + 1) + 1);
	return RS_OK;
}

static void
acc_reset(struct acc_set *s)
{
	free(s->d);
	s->d = NULL;
	s->n = s->nlisted = s->ncached = s->nrelay = 0;
	free(s->gov);
	s->gov = NULL;
	s->from_dir = 0;
	s->base[0] = '\0';
	rs_buf_reset(&s->listed_str);
	rs_buf_reset(&s->cached_str);
}

void
acc_free(struct acc_set *s)
{
	if (s == NULL)
		return;
	acc_reset(s);
	rs_buf_free(&s->listed_str);
	rs_buf_free(&s->cached_str);
	free(s);
}

static const char *
acc_kind_name(enum acc_kind k)
{
	switch (k) {
	case ACC_AUTHORITATIVE:
		return "authoritative";
	case ACC_EXTERNAL_RELAY:
		return "external relay";
	case ACC_INTERNAL_RELAY:
		return "internal relay";
	default:
		return "unknown type";
	}
}

/* The rootDSE's configurationNamingContext, into s->base. */
static int
acc_base_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	struct acc_set *s = arg;
	size_t i;

	(void)dn;
	if (nvals[0] != 1 || vals[0][0].len == 0 ||
	    vals[0][0].len > RS_MAX_DSNAME)
		return RS_OK;
	for (i = 0; i < vals[0][0].len; i++)
		if ((unsigned char)vals[0][0].p[i] < 0x20 ||
		    vals[0][0].p[i] == 0x7f)
			return RS_OK;
	snprintf(s->base, sizeof(s->base), "%s%.*s", acc_base_pfx,
	    (int)vals[0][0].len, vals[0][0].p);
	return RS_OK;
}

/* One msExchAcceptedDomain: checked, then kept. */
static int
acc_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	struct acc_read *rd = arg;
	struct acc_set *s = rd->s;
	struct acc_domain *a;
	char show[4 * 300 + 8];
	const char *why = NULL, *d;
	size_t i, len;

	if (nvals[0] != 1 || vals[0][0].len == 0 ||
	    vals[0][0].len > ACC_NAME_MAX) {
		export_escape(dn, strlen(dn), show, sizeof(show));
		rs_warn("accepted domains: %s: no usable "
		    "msExchAcceptedDomainName (%zu values); left out", show,
		    nvals[0]);
		return RS_OK;
	}
	if (s->n == RS_MAX_ACCEPTED) {
		rs_error("accepted domains under %s: more than %d",
		    s->base, RS_MAX_ACCEPTED);
		return RS_ERR_LIMIT;
	}
	if (rs_grow((void **)&s->d, &rd->cap, s->n + 1, sizeof(*s->d), 16) !=
	    RS_OK)
		return RS_ERR_NOMEM;
	a = &s->d[s->n];
	memset(a, 0, sizeof(*a));
	len = vals[0][0].len;
	for (i = 0; i < len; i++) {
		a->name[i] = vals[0][0].p[i];
		if (a->name[i] >= 'A' && a->name[i] <= 'Z')
			a->name[i] = (char)(a->name[i] - 'A' + 'a');
	}
	a->name[len] = '\0';
	a->wildcard = len > 2 && a->name[0] == '*' && a->name[1] == '.';
	d = a->wildcard ? a->name + 2 : a->name;
	if (strlen(a->name) != len || addr_check_domain(d, strlen(d), &why) !=
	    RS_OK) {
		export_escape(vals[0][0].p, len, show, sizeof(show));
		rs_warn("accepted domains: msExchAcceptedDomainName \"%s\": "
		    "%s; left out", show, why != NULL ? why : "contains NUL");
		return RS_OK;
	}
	/*
	 * Exchange writes the flags always; its default is 0.  A negative
	 * value (bit 31, which Exchange does not use) or more than one value
	 * is not Exchange's: left out, not guessed at.
	 */
	if (nvals[1] > 1 || (nvals[1] == 1 && rs_parse_dec(vals[1][0].p,
	    vals[1][0].len, 1, UINT32_MAX, &a->flags) != RS_OK)) {
		export_escape(vals[1][0].p, vals[1][0].len, show, sizeof(show));
		rs_warn("accepted domains: %s: msExchAcceptedDomainFlags "
		    "\"%s\"%s is not a number; left out", a->name, show,
		    nvals[1] > 1 ? " (and more)" : "");
		return RS_OK;
	}
	a->kind = (enum acc_kind)(a->flags & ACC_FLAG_TYPE_MASK);
	snprintf(a->token, sizeof(a->token), "%s%s", !a->wildcard &&
	    (a->flags & ACC_FLAG_SUBDOMAINS) ? "*." : "", a->name);
	s->n++;
	return RS_OK;
}

static int
acc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct acc_domain *)a)->name,
	    ((const struct acc_domain *)b)->name);
}

/* Read the accepted domains of the DC behind ld into s->d. */
static int
acc_read_dir(struct acc_set *s, struct ldapx *ld, unsigned page_size,
    uint64_t *entries, uint64_t *bytes)
{
	static const char *const dse_attrs[] = {
		"configurationNamingContext", NULL
	};
	static const char *const attrs[] = {
		"msExchAcceptedDomainName", "msExchAcceptedDomainFlags", NULL
	};
	struct acc_read rd;
	struct rs_buf cookie;
	int r;

	memset(&rd, 0, sizeof(rd));
	rd.s = s;
	rs_buf_init(&cookie, 64 * 1024);
	if ((r = ldapx_read(ld, "", dse_attrs, acc_base_entry, s, bytes)) !=
	    RS_OK || s->base[0] == '\0') {
		rs_error("domains = auto: read configurationNamingContext "
		    "from the root DSE of %s: %s", ldapx_server(ld),
		    r != RS_OK ? ldapx_errmsg(ld) : "not there");
		r = r != RS_OK ? r : RS_ERR_NOTFOUND;
		goto out;
	}
	(*entries)++;
	do {
		r = ldapx_search_page(ld, s->base, acc_filter_str, attrs,
		    page_size, &cookie, acc_entry, &rd, bytes);
		/* No Exchange in the forest: no container, "No such object". */
		if (r != RS_OK) {
			sys_event(SYS_EV_LDAP, "domains = auto: search %s in "
			    "%s on %s: %s", acc_filter_str, s->base,
			    ldapx_server(ld), ldapx_errmsg(ld)[0] != '\0' ?
			    ldapx_errmsg(ld) : rs_err_str(r));
			goto out;
		}
	} while (cookie.len > 0);
	*entries += s->n;
	if (s->n > 0)
		qsort(s->d, s->n, sizeof(*s->d), acc_cmp);
out:
	rs_buf_free(&cookie);
	return r;
}

/*
 * Decide each accepted domain's fate.  Authoritative domains are listed;
 * in format 2 relay domains go into the list's relay-domains and
 * wildcards are kept (FORMAT.md 2.3); in format 1 both are left out.
 * What is left out is said once per read, with the reason.
 */
static void
acc_classify(struct acc_set *s, const struct agent_cfg *c)
{
	struct acc_domain *a;
	const char *d;
	size_t i;
	int v2 = c->bundle_format >= 2;

	for (i = 0; i < s->n; i++) {
		a = &s->d[i];
		d = a->wildcard ? a->name + 2 : a->name;
		/* Format 1: a domain that matches subdomains lists its own. */
		if (!v2 && !a->wildcard)
			snprintf(a->token, sizeof(a->token), "%s", a->name);
		if (i > 0 && strcmp(a->name, s->d[i - 1].name) == 0)
			a->why = "listed twice in the directory";
		else if (!v2 && a->wildcard)
			a->why = "wildcard, not listed: bundle format 1 "
			    "carries no wildcards";
		else if (c->ndomains > 0 &&
		    strv_find((const char *const *)c->domains, c->ndomains,
		    d, strlen(d)) < 0)
			a->why = "not in [agent] domains";
		if (a->why != NULL)
			continue;
		a->cached = 1;
		if (a->kind == ACC_AUTHORITATIVE)
			a->listed = 1;
		else if (v2 && (a->kind == ACC_INTERNAL_RELAY ||
		    a->kind == ACC_EXTERNAL_RELAY))
			a->relayed = 1;
		else if (a->kind == ACC_INTERNAL_RELAY)
			a->why = "internal relay, not listed: its unknown "
			    "recipients are Exchange's to route (bundle "
			    "format 2 lists it as a relay domain)";
		else if (a->kind == ACC_EXTERNAL_RELAY)
			a->why = "external relay, not listed: Exchange "
			    "accepts every recipient there (bundle format 2 "
			    "lists it as a relay domain)";
		else
			a->why = "unknown type, not listed";
	}
}

static int
acc_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Format 2's header view of the tokens, for acc_listed and acc_cached:
 * a token governs an address as in a list the receiver reads.
 */
static int
acc_gov(struct acc_set *s)
{
	struct bundle_hdr *h;
	size_t i;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return RS_ERR_NOMEM;
	h->version = BUNDLE_VERSION;
	h->ndomains = s->nlisted;
	h->nrelay = s->nrelay;
	for (i = 0; i < s->nlisted; i++)
		snprintf(h->domains[i], sizeof(h->domains[i]), "%s",
		    s->listed[i]);
	for (i = 0; i < s->nrelay; i++)
		snprintf(h->domains[s->nlisted + i], sizeof(h->domains[0]),
		    "%s", s->relay[i]);
	s->gov = h;
	return RS_OK;
}

/* The two views (and format 2's relay domains), and their text. */
static int
acc_views(struct acc_set *s)
{
	size_t i;
	int r = RS_OK, tokens = 0;

	for (i = 0; i < s->n; i++) {
		if (s->d[i].cached)
			s->cached[s->ncached++] = s->d[i].token;
		if (!s->d[i].listed && !s->d[i].relayed)
			continue;
		if (s->nlisted + s->nrelay == RS_MAX_DOMAINS) {
			rs_error("domains = auto: more than %d authoritative "
			    "and relay domains under %s", RS_MAX_DOMAINS,
			    s->base);
			return RS_ERR_LIMIT;
		}
		if (s->d[i].listed)
			s->listed[s->nlisted++] = s->d[i].token;
		else
			s->relay[s->nrelay++] = s->d[i].token;
		tokens |= s->d[i].relayed || s->d[i].token[0] == '*';
	}
	/* A token "*.name" sorts apart from its name. */
	qsort(s->listed, s->nlisted, sizeof(*s->listed), acc_cmp_str);
	qsort(s->relay, s->nrelay, sizeof(*s->relay), acc_cmp_str);
	qsort(s->cached, s->ncached, sizeof(*s->cached), acc_cmp_str);
	if (tokens && (r = acc_gov(s)) != RS_OK)
		return r;
	for (i = 0; r == RS_OK && i < s->nlisted; i++)
		r = rs_buf_printf(&s->listed_str, "%s%s", i ? " " : "",
		    s->listed[i]);
	for (i = 0; r == RS_OK && i < s->ncached; i++)
		r = rs_buf_printf(&s->cached_str, "%s%s", i ? " " : "",
		    s->cached[i]);
	if (r != RS_OK)
		rs_error("domains = auto: the domains under %s are too long "
		    "for a bundle header", s->base);
	return r;
}

char *
acc_last_listed(const struct agent_cfg *c)
{
	struct rs_buf b;
	char *path, *p = NULL;
	size_t i;

	rs_buf_init(&b, RS_MAX_HDR_LINE);
	if ((path = agent_path(c->state_dir, ACC_STATE_FILE)) == NULL)
		return NULL;
	if (sys_read_file(path, RS_MAX_HDR_LINE, &b) != RS_OK || b.len == 0)
		goto out;
	/* Written by us, but checked as any file: one line of a header. */
	for (i = 0; i < b.len; i++)
		if (b.data[i] < 0x20 || b.data[i] > 0x7e)
			break;
	if (i + 1 != b.len || b.data[i] != '\n')
		goto out;
	if ((p = malloc(i + 1)) != NULL) {
		memcpy(p, b.data, i);
		p[i] = '\0';
	}
out:
	rs_buf_free(&b);
	free(path);
	return p;
}

void
acc_save_listed(const struct agent_cfg *c, const struct acc_set *s)
{
	struct rs_buf b;
	char *path;
	int r;

	rs_buf_init(&b, RS_MAX_HDR_LINE + 1);
	if ((path = agent_path(c->state_dir, ACC_STATE_FILE)) == NULL)
		return;
	if ((r = rs_buf_printf(&b, "%s\n", acc_listed_str(s))) != RS_OK ||
	    (r = sys_write_file(path, b.data, b.len, 1)) != RS_OK)
		rs_warn("write %s: %s", path, r == RS_ERR_SYSTEM ?
		    sys_errmsg() : rs_err_str(r));
	rs_buf_free(&b);
	free(path);
}

/*
 * "internal relay, not listed: ...", "authoritative (default), listed",
 * "authoritative, wildcard, not listed: ...": a relay's reason already
 * names its kind.
 */
static void
acc_describe(const struct acc_domain *a, char *out, size_t outsize)
{
	const char *sub = a->flags & ACC_FLAG_SUBDOMAINS ?
	    ", match subdomains" : "";

	if (a->listed)
		snprintf(out, outsize, "%s%s%s, listed", acc_kind_name(a->kind),
		    a->flags & ACC_FLAG_DEFAULT ? " (default)" : "", sub);
	else if (a->relayed)
		snprintf(out, outsize, "%s%s, listed as a relay domain (every "
		    "recipient accepted)", acc_kind_name(a->kind), sub);
	else if (a->cached)
		snprintf(out, outsize, "%s%s", a->why, sub);
	else
		snprintf(out, outsize, "%s%s, %s", acc_kind_name(a->kind), sub,
		    a->why);
}

/* Say what auto found: every domain left out, and the list's domains. */
static void
acc_log(const struct acc_set *s, const struct agent_cfg *c)
{
	char info[256];
	size_t i, j;

	for (i = 0; i < s->n; i++)
		if (!s->d[i].listed) {
			acc_describe(&s->d[i], info, sizeof(info));
			rs_info("domains = auto: %s: %s", s->d[i].name, info);
		}
	for (i = 0; i < c->ndomains; i++) {
		for (j = 0; j < s->n; j++)
			if (strcmp(s->d[j].name, c->domains[i]) == 0)
				break;
		if (j == s->n)
			rs_warn("domains = auto: %s (in [agent] domains) is no "
			    "accepted domain under %s", c->domains[i],
			    s->base);
	}
	rs_info("domains = auto: %zu accepted domain(s) under %s; listed: %s",
	    s->n, s->base, s->nlisted > 0 ?
	    (const char *)s->listed_str.data : "none");
}

/* A configured list: both views are the list. */
static int
acc_from_cfg(struct acc_set *s, const struct agent_cfg *c)
{
	size_t i;
	int r = RS_OK;

	for (i = 0; i < c->ndomains; i++)
		s->listed[i] = s->cached[i] = c->domains[i];
	s->nlisted = s->ncached = c->ndomains;
	if ((r = rs_buf_printf(&s->listed_str, "%s", c->domains_str)) ==
	    RS_OK)
		r = rs_buf_printf(&s->cached_str, "%s", c->domains_str);
	return r;
}

int
acc_load(struct acc_set *s, const struct agent_cfg *c, struct ldapx *ld,
    uint64_t *entries, uint64_t *bytes)
{
	uint64_t n = 0;
	int r;

	acc_reset(s);
	if (!c->domains_auto)
		return acc_from_cfg(s, c);
	s->from_dir = 1;
	if ((r = acc_read_dir(s, ld, c->page_size, &n, bytes)) != RS_OK)
		goto out;
	acc_classify(s, c);
	if ((r = acc_views(s)) != RS_OK)
		goto out;
	acc_log(s, c);
	/* An empty list would reject all mail: never a result. */
	if (s->nlisted == 0) {
		sys_event(SYS_EV_CONFIG, "[agent] domains = %s: no "
		    "authoritative accepted domain%s under %s on %s "
		    "(searched %s); nothing to list", c->domains_str,
		    c->ndomains > 0 ? " among those named" : "", s->base,
		    ldapx_server(ld), acc_filter_str);
		r = RS_ERR_NOTFOUND;
	}
out:
	if (entries != NULL)
		*entries += n;
	return r;
}

int
acc_listed(const struct acc_set *s, const char *d, size_t len)
{
	long i;

	if (s->gov == NULL)
		return strv_find(s->listed, s->nlisted, d, len) >= 0;
	i = bundle_domain_find(s->gov, d, len);
	return i >= 0 && (size_t)i < s->gov->ndomains;
}

int
acc_relayed(const struct acc_set *s, const char *d, size_t len)
{
	long i;

	if (s->gov == NULL)
		return 0;
	i = bundle_domain_find(s->gov, d, len);
	return i >= 0 && (size_t)i >= s->gov->ndomains;
}

int
acc_cached(const struct acc_set *s, const char *d, size_t len)
{
	if (s->gov == NULL)
		return strv_find(s->cached, s->ncached, d, len) >= 0;
	return bundle_domain_find(s->gov, d, len) >= 0;
}

size_t
acc_nlisted(const struct acc_set *s)
{
	return s->nlisted;
}

const char *
acc_listed_name(const struct acc_set *s, size_t i)
{
	return s->listed[i];
}

size_t
acc_nrelay(const struct acc_set *s)
{
	return s->nrelay;
}

const char *
acc_relay_name(const struct acc_set *s, size_t i)
{
	return s->relay[i];
}

const char *
acc_listed_str(const struct acc_set *s)
{
	return s->listed_str.len > 0 ? (const char *)s->listed_str.data : "";
}

const char *
acc_cached_str(const struct acc_set *s)
{
	return s->cached_str.len > 0 ? (const char *)s->cached_str.data : "";
}

int
acc_filter(const struct acc_set *s, const struct rlist *in,
    struct rlist **out)
{
	struct rlist *l = NULL;
	const char *a, *d;
	size_t i, len, dlen;
	int r;

	*out = NULL;
	if (s->nlisted == s->ncached && s->nrelay == 0)
		return RS_OK;
	if ((r = rlist_new(&l)) != RS_OK)
		return r;
	for (i = 0; i < rlist_count(in); i++) {
		a = rlist_get(in, i, &len);
		d = addr_domain(a, len, &dlen);
		if (d != NULL && acc_listed(s, d, dlen) &&
		    (r = rlist_add(l, a, len)) != RS_OK) {
			rlist_free(l);
			return r;
		}
	}
	rlist_finish(l);
	*out = l;
	return RS_OK;
}

int
acc_check(const struct agent_cfg *c, struct ldapx *ld)
{
	struct acc_set *s = NULL;
	const struct acc_domain *a;
	char what[ACC_NAME_MAX + 64], info[256];
	size_t i;
	int r, fails = 0;

	if (acc_new(&s) != RS_OK)
		return 1;
	r = acc_load(s, c, ld, NULL, NULL);
	if (!c->domains_auto) {
		agent_check_line(r == RS_OK, "domains", acc_listed_str(s),
		    NULL);
		goto out;
	}
	for (i = 0; i < s->n; i++) {
		a = &s->d[i];
		snprintf(what, sizeof(what), "accepted domain %s", a->name);
		acc_describe(a, info, sizeof(info));
		agent_check_line(1, what, info, NULL);
	}
	snprintf(info, sizeof(info), "%.200s", r == RS_OK ?
	    acc_listed_str(s) : "no authoritative domain");
	snprintf(what, sizeof(what), "domains = auto under %.*s",
	    (int)(sizeof(what) - 32), s->base[0] != '\0' ? s->base :
	    "(no configurationNamingContext)");
	agent_check_line(r == RS_OK, what, info, "an accepted domain of type "
	    "Authoritative is needed, or list the domains in [agent] domains");
	fails += r != RS_OK;
out:
	acc_free(s);
	return fails;
}
