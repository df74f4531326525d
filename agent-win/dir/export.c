/*
 * export.c - the paged directory export: every proxyAddresses smtp: value
 * under the configured bases, normalized, limited to the accepted domains,
 * sorted and deduplicated.  Objects with msExchRequireAuthToSendTo TRUE
 * are left out unless [agent] include_auth_only = yes.
 *
 * API:        export_run, export_count_domain.
 * Ownership:  export_run hands a finished rlist to the caller (rlist_free);
 *             on failure nothing is returned.
 * Errors:     RS_ERR_* after logging; an LDAP failure at any page aborts
 *             the whole export, because a partial list pushed to the relay
 *             would reject mail for everyone not yet read.
 * Trust:      directory values are untrusted: each goes through
 *             addr_from_proxy (which rejects whitespace, control characters
 *             and anything not canonical) before it can enter the list, and
 *             DNs and values are escaped before they reach a log line.
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
#include "log.h"
#include "rlist.h"
#include "rs_err.h"
#include "sys.h"

/*
 * Attributes requested: only what the list and the cache use.  objectClass
 * gives the export's count of objects by class; objectGUID keys the cache,
 * so it comes last and is asked for only with one (export_attrs_plain is
 * the same array without it).  uSNChanged is not read: a delta's filter
 * uses it, its values are of no use.
 */
static const char *const export_attrs[] = {
	"proxyAddresses", "objectClass", "msExchRequireAuthToSendTo",
	"objectGUID", NULL
};
static const char *const export_attrs_plain[] = {
	"proxyAddresses", "objectClass", "msExchRequireAuthToSendTo", NULL
};

/* How much of a DN or value a warning shows. */
static const size_t export_show_max = 300;

/* Indexes into export_attrs, as the entry callback sees the values. */
enum { EXPORT_PROXY, EXPORT_CLASS, EXPORT_AUTH, EXPORT_GUID };

struct export_ctx {
	const struct agent_cfg	*cfg;
	const struct acc_set	*acc;		/* the domains kept */
	struct rlist		*list;		/* no cache: the list itself */
	struct dircache		*dc;		/* or the objects, by GUID */
	int			 delta;		/* dc: set, not add */
	uint64_t		 changed;	/* delta: objects changed */
	struct rs_buf		 addrs;		/* one object's addresses */
	struct export_stats	*st;
	int			 progress;
};

/*
 * Copy p[0..n) into out as printable ASCII: backslash escapes for
 * anything else, so a hostile value cannot forge or split log lines.
 */
void
export_escape(const char *p, size_t n, char *out, size_t outsize)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char ch;

	if (n > export_show_max)
		n = export_show_max;
	for (i = 0; i < n && o + 5 < outsize; i++) {
		ch = (unsigned char)p[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			out[o++] = (char)ch;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[ch >> 4];
		out[o++] = hex[ch & 0xf];
	}
	out[o] = '\0';
}

/* The most specific object class: the last one that is not "top". */
static void
export_count_class(struct export_stats *st, const struct ldapx_val *v,
    size_t n)
{
	const struct ldapx_val *pick = NULL;
	char name[sizeof(st->classes[0].name)];
	size_t i, len;

	for (i = 0; i < n; i++)
		if (!(v[i].len == 3 && strncmp(v[i].p, "top", 3) == 0))
			pick = &v[i];
	if (pick == NULL) {
		st->other_classes++;
		return;
	}
	len = pick->len < sizeof(name) - 1 ? pick->len : sizeof(name) - 1;
	export_escape(pick->p, len, name, sizeof(name));
	for (i = 0; i < st->nclasses; i++)
		if (strcmp(st->classes[i].name, name) == 0) {
			st->classes[i].n++;
			return;
		}
	if (st->nclasses == EXPORT_MAX_CLASSES) {
		st->other_classes++;
		return;
	}
	memcpy(st->classes[st->nclasses].name, name, sizeof(name));
	st->classes[st->nclasses++].n = 1;
}

/*
 * The cache keeps every accepted domain's addresses, whatever its kind,
 * and the list is cut to the listed ones as it leaves the cache: so a
 * domain that changes kind needs no full export (accepted.h).
 */
static int
export_domain_ok(const struct export_ctx *x, const char *a, size_t len)
{
	size_t dlen;
	const char *d = addr_domain(a, len, &dlen);

	if (d == NULL)
		return 0;
	return x->dc != NULL ? acc_cached(x->acc, d, dlen) :
	    acc_listed(x->acc, d, dlen);
}

/* The entry's objectGUID, which change detection keys the cache by. */
static int
export_guid(const char *dn, const struct ldapx_val *v, size_t n,
    const unsigned char **guid)
{
	char edn[4 * 300 + 8];

	if (n == 1 && v[0].len == RS_GUID_LEN) {
		*guid = (const unsigned char *)v[0].p;
		return RS_OK;
	}
	export_escape(dn, strlen(dn), edn, sizeof(edn));
	rs_error("export %s: no usable objectGUID (%zu values); change "
	    "detection needs one per object: set [ldap] change_detection = no "
	    "for this directory", edn, n);
	return RS_ERR_FORMAT;
}

/* Record the object's addresses (x->addrs) in the cache. */
static int
export_cache_put(struct export_ctx *x, const char *dn,
    const struct ldapx_val *v, size_t n)
{
	const unsigned char *guid = NULL;
	int r, changed;

	if ((r = export_guid(dn, v, n, &guid)) != RS_OK)
		return r;
	if ((r = dircache_norm(&x->addrs)) != RS_OK)
		return r;
	if (!x->delta)
		return dircache_add(x->dc, guid, (const char *)x->addrs.data,
		    x->addrs.len);
	if ((r = dircache_set(x->dc, guid, (const char *)x->addrs.data,
	    x->addrs.len, &changed)) != RS_OK)
		return r;
	x->changed += (uint64_t)changed;
	return RS_OK;
}

/* Delta: a changed object that no longer matches the filter. */
static int
export_gone(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	struct export_ctx *x = arg;
	const unsigned char *guid = NULL;
	int r, changed;

	x->st->entries++;
	if ((r = export_guid(dn, vals[0], nvals[0], &guid)) != RS_OK)
		return r;
	if ((r = dircache_set(x->dc, guid, "", 0, &changed)) != RS_OK)
		return r;
	x->changed += (uint64_t)changed;
	return RS_OK;
}

/* msExchRequireAuthToSendTo is TRUE (LDAP Boolean: "TRUE" or "FALSE"). */
static int
export_auth_only(const struct ldapx_val *v, size_t n)
{
	return n == 1 && v[0].len == 4 && strncmp(v[0].p, "TRUE", 4) == 0;
}

static int
export_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	struct export_ctx *x = arg;
	struct export_stats *st = x->st;
	char addr[RS_MAX_ADDR_LEN + 1];
	char edn[4 * 300 + 8], ev[4 * 300 + 8];
	const char *why;
	size_t i, alen;
	int r;

	st->entries++;
	export_count_class(st, vals[EXPORT_CLASS], nvals[EXPORT_CLASS]);
	rs_buf_reset(&x->addrs);
	/*
	 * Exchange rejects internet mail to an auth-only recipient, and
	 * EdgeSync does not replicate it: listing it would only confirm an
	 * internal address to a dictionary attack.  In the cache it is an
	 * object without addresses, so setting the flag removes them at the
	 * next delta and clearing it brings them back.
	 */
	if (!x->cfg->include_auth_only && export_auth_only(vals[EXPORT_AUTH],
	    nvals[EXPORT_AUTH])) {
		st->auth_only++;
		goto done;
	}
	for (i = 0; i < nvals[EXPORT_PROXY]; i++) {
		st->values++;
		why = NULL;
		r = addr_from_proxy(vals[EXPORT_PROXY][i].p,
		    vals[EXPORT_PROXY][i].len, addr, sizeof(addr), &alen,
		    &why);
		if (r == RS_ERR_NOT_SMTP) {
			st->not_smtp++;
			continue;
		}
		if (r != RS_OK) {
			st->invalid++;
			export_escape(dn, strlen(dn), edn, sizeof(edn));
			export_escape(vals[EXPORT_PROXY][i].p,
			    vals[EXPORT_PROXY][i].len, ev, sizeof(ev));
			rs_warn("export %s: skipped proxyAddresses \"%s\": %s",
			    edn, ev, why != NULL ? why : rs_err_str(r));
			continue;
		}
		if (!export_domain_ok(x, addr, alen)) {
			st->foreign++;
			continue;
		}
		if (x->dc != NULL)
			r = rs_buf_put(&x->addrs, addr, alen + 1);
		else
			r = rlist_add(x->list, addr, alen);
		if (r != RS_OK) {
			rs_error("export: %s", rs_err_str(r));
			return r;
		}
	}
done:
	if (x->dc != NULL && (r = export_cache_put(x, dn, vals[EXPORT_GUID],
	    nvals[EXPORT_GUID])) != RS_OK)
		return r;
	if (x->progress && st->entries % 1000 == 0)
		fprintf(stderr, "\rexport: %llu entries",
		    (unsigned long long)st->entries);
	return RS_OK;
}

size_t
export_count_domain(const struct rlist *l, const char *d)
{
	size_t i, n = 0, len, dlen, want = strlen(d);
	const char *a, *ad;

	for (i = 0; i < rlist_count(l); i++) {
		a = rlist_get(l, i, &len);
		ad = addr_domain(a, len, &dlen);
		if (ad != NULL && dlen == want && memcmp(ad, d, dlen) == 0)
			n++;
	}
	return n;
}

/* The connection options every connection to the directory uses. */
int
export_opts(const struct agent_cfg *c, struct ldapx_opts *o,
    struct rs_buf *pw)
{
	int r;

	memset(o, 0, sizeof(*o));
	o->client = c->client;
	o->global_catalog = c->global_catalog;
	o->tls = c->tls;
	o->ca_file = c->ca_file;
	o->bind = c->bind;
	o->bind_dn = c->bind_dn;
	o->sasl_mech = c->sasl_mech;
	o->sasl_nocanon = c->sasl_nocanon;
	o->timeout = c->timeout;
	/* negotiate with a bind_dn: that account's password (Windows). */
	if (c->bind == LDAPX_BIND_SIMPLE || (c->bind == LDAPX_BIND_NEGOTIATE &&
	    c->bind_dn != NULL && c->bind_dn[0] != '\0')) {
		if ((r = sys_get_password(c->ldap, pw)) != RS_OK) {
			/* sys_get_password logged the reason. */
			sys_event(SYS_EV_CONFIG, "ldap password: %s",
			    rs_err_str(r));
			return r;
		}
		o->password = (const char *)pw->data;
	}
	return RS_OK;
}

/* Connect to the first server that answers and binds. */
int
export_open(const struct agent_cfg *c, struct ldapx **out)
{
	char why[1024];

	return export_open_why(c, out, why, sizeof(why));
}

int
export_open_why(const struct agent_cfg *c, struct ldapx **out, char *why,
    size_t whysize)
{
	struct ldapx_opts o;
	struct rs_buf pw;
	char msg[512];
	size_t i, n;
	int r = RS_ERR_NOTFOUND;

	*out = NULL;
	if (whysize > 0)
		why[0] = '\0';
	rs_buf_init(&pw, 4096);
	if ((r = export_opts(c, &o, &pw)) != RS_OK) {
		snprintf(why, whysize, "ldap password: %s (see the message "
		    "above)", rs_err_str(r));
		goto out;
	}
	/* No server listed: the platform's locator (Windows), one try. */
	n = c->nservers > 0 ? c->nservers : 1;
	for (i = 0; i < n; i++) {
		o.server = c->nservers > 0 ? c->servers[i] : NULL;
		msg[0] = '\0';
		r = ldapx_open(&o, out, msg, sizeof(msg));
		if (r == RS_OK && c->global_catalog &&
		    (r = dirsync_gc_ready(*out, msg, sizeof(msg))) != RS_OK) {
			ldapx_close(*out);
			*out = NULL;
		}
		if (r == RS_OK)
			break;
		snprintf(why, whysize, "%s: %s", o.server != NULL ? o.server :
		    c->global_catalog ? "(GC locator)" : "(DC locator)",
		    msg[0] != '\0' ? msg : rs_err_str(r));
		sys_event(SYS_EV_LDAP, "ldap connect %s%s", why,
		    i + 1 < n ? "; trying the next server" : "");
	}
out:
	rs_buf_free(&pw);
	return r;
}

/*
 * Page through every base with filter, handing entries to fn.  A failed
 * page abandons the whole search: the caller pushes nothing and keeps the
 * last good state.
 */
static int
export_pages(const struct agent_cfg *c, struct ldapx *ld, const char *filter,
    const char *const *attrs, ldapx_entry_fn *fn, struct export_ctx *x)
{
	struct export_stats *st = x->st;
	struct rs_buf cookie;
	uint64_t pages = 0;
	size_t b;
	int r = RS_OK;

	rs_buf_init(&cookie, 64 * 1024);
	for (b = 0; b < c->nbases; b++) {
		rs_buf_reset(&cookie);
		do {
			if (sys_stop_requested()) {
				rs_error("export %s: interrupted", c->bases[b]);
				r = RS_ERR_SYSTEM;
				goto out;
			}
			r = ldapx_search_page(ld, c->bases[b], filter, attrs,
			    c->page_size, &cookie, fn, x, &st->bytes);
			if (r != RS_OK) {
				if (x->progress)
					fputc('\n', stderr);
				sys_event(SYS_EV_LDAP, "export %s from %s: "
				    "page %llu failed after %llu entries: %s",
				    c->bases[b], st->server,
				    (unsigned long long)pages + 1,
				    (unsigned long long)st->entries,
				    ldapx_errmsg(ld)[0] != '\0' ?
				    ldapx_errmsg(ld) : rs_err_str(r));
				goto out;
			}
			pages++;
			rs_debug("export %s: page %llu, %llu entries so far",
			    c->bases[b], (unsigned long long)pages,
			    (unsigned long long)st->entries);
		} while (cookie.len > 0);
	}
out:
	rs_buf_free(&cookie);
	return r;
}

static void
export_ctx_init(struct export_ctx *x, const struct agent_cfg *c,
    const struct acc_set *acc, struct export_stats *st, int progress)
{
	memset(x, 0, sizeof(*x));
	x->cfg = c;
	x->acc = acc;
	x->st = st;
	x->progress = progress;
	/* One object's addresses: AD sends at most 1500 values at once. */
	rs_buf_init(&x->addrs, 1500 * (RS_MAX_ADDR_LEN + 1));
}

void
export_source(const struct agent_cfg *c, struct ldapx *ld,
    struct export_stats *st)
{
	snprintf(st->server, sizeof(st->server), "%s", ldapx_server(ld));
	if (snprintf(st->source, sizeof(st->source), "%s/%s", st->server,
	    c->bases[0]) >= (int)sizeof(st->source))
		memcpy(st->source + sizeof(st->source) - 4, "...", 4);
}

int
export_full(const struct agent_cfg *c, struct ldapx *ld,
    const struct acc_set *acc, struct rlist *list, struct dircache *dc,
    int progress, struct export_stats *st)
{
	struct export_ctx x;
	size_t twice;
	int r;

	export_ctx_init(&x, c, acc, st, progress);
	x.list = list;
	x.dc = dc;
	export_source(c, ld, st);
	rs_info("export: full export of %zu base(s) from %s", c->nbases,
	    st->server);
	r = export_pages(c, ld, c->filter, dc != NULL ? export_attrs :
	    export_attrs_plain, export_entry, &x);
	rs_buf_free(&x.addrs);
	if (r != RS_OK)
		return r;
	if (progress)
		fprintf(stderr, "\rexport: %llu entries\n",
		    (unsigned long long)st->entries);
	if (dc != NULL) {
		twice = dircache_seal(dc);
		rs_info("export: %llu entries, %llu values, %zu objects with "
		    "addresses (%llu other types, %llu invalid, %llu outside "
		    "the domains, %llu auth-only objects, %zu objects seen "
		    "twice) from %s",
		    (unsigned long long)st->entries,
		    (unsigned long long)st->values, dircache_count(dc),
		    (unsigned long long)st->not_smtp,
		    (unsigned long long)st->invalid,
		    (unsigned long long)st->foreign,
		    (unsigned long long)st->auth_only, twice, st->server);
		return RS_OK;
	}
	st->dups = rlist_finish(list);
	rs_info("export: %llu entries, %llu values, %zu addresses "
	    "(%llu other types, %llu invalid, %llu outside the domains, "
	    "%llu auth-only objects, %llu duplicates) from %s",
	    (unsigned long long)st->entries, (unsigned long long)st->values,
	    rlist_count(list), (unsigned long long)st->not_smtp,
	    (unsigned long long)st->invalid, (unsigned long long)st->foreign,
	    (unsigned long long)st->auth_only, (unsigned long long)st->dups,
	    st->server);
	return RS_OK;
}

int
export_delta(const struct agent_cfg *c, struct ldapx *ld,
    const struct acc_set *acc, uint64_t usn, struct dircache *dc,
    struct export_stats *st, uint64_t *changed)
{
	static const char *const gone_attrs[] = { "objectGUID", NULL };
	struct export_ctx x;
	struct rs_buf f;
	int r;

	*changed = 0;
	export_ctx_init(&x, c, acc, st, 0);
	x.dc = dc;
	x.delta = 1;
	rs_buf_init(&f, 2 * strlen(c->filter) + 128);
	export_source(c, ld, st);
	/*
	 * Two searches over the changed objects: those that match the
	 * filter (their addresses now), and those that do not (any more):
	 * an object whose proxyAddresses were cleared, or that was hidden,
	 * must leave the list too.
	 */
	if ((r = rs_buf_printf(&f, "(&(uSNChanged>=%" PRIu64 ")%s)", usn,
	    c->filter)) != RS_OK ||
	    (r = export_pages(c, ld, (const char *)f.data, export_attrs,
	    export_entry, &x)) != RS_OK)
		goto out;
	rs_buf_reset(&f);
	if ((r = rs_buf_printf(&f, "(&(uSNChanged>=%" PRIu64 ")(!%s))", usn,
	    c->filter)) != RS_OK ||
	    (r = export_pages(c, ld, (const char *)f.data, gone_attrs,
	    export_gone, &x)) != RS_OK)
		goto out;
	*changed = x.changed;
out:
	rs_buf_free(&x.addrs);
	rs_buf_free(&f);
	return r;
}

int
export_run(const struct agent_cfg *c, int progress, struct rlist **out,
    struct acc_set **accp, struct export_stats *st)
{
	struct ldapx *ld = NULL;
	struct rlist *list = NULL;
	struct acc_set *acc = NULL;
	int r;

	*out = NULL;
	*accp = NULL;
	memset(st, 0, sizeof(*st));
	if ((r = rlist_new(&list)) != RS_OK || (r = acc_new(&acc)) != RS_OK)
		goto out;
	if ((r = export_open(c, &ld)) != RS_OK)
		goto out;
	rs_info("export: connected to %s", ldapx_server(ld));
	if ((r = acc_load(acc, c, ld, NULL, &st->bytes)) != RS_OK ||
	    (r = export_full(c, ld, acc, list, NULL, progress, st)) != RS_OK)
		goto out;
	*out = list;
	list = NULL;
	*accp = acc;
	acc = NULL;
out:
	if (ld != NULL)
		ldapx_close(ld);
	rlist_free(list);
	acc_free(acc);
	return r;
}

/* Count entries only: the `check` command's LDAP probe. */
static int
export_count_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	uint64_t *n = arg;

	(void)dn;
	(void)vals;
	(void)nvals;
	(*n)++;
	return RS_OK;
}

int
export_check(const struct agent_cfg *c)
{
	static const char *const attrs[] = { "objectClass", NULL };
	struct ldapx *ld = NULL;
	struct rs_buf cookie;
	char what[RS_MAX_SOURCE + 64], info[128], why[1024];
	uint64_t n;
	size_t b;
	int r, fails = 0;

	rs_buf_init(&cookie, 64 * 1024);
	/*
	 * The last server's own words: a server that refused the bind
	 * answered, and its reason already says what to change.
	 */
	if ((r = export_open_why(c, &ld, why, sizeof(why))) != RS_OK) {
		agent_check_line(0, "ldap: connect and bind", why[0] != '\0' ?
		    why : rs_err_str(r), r == RS_ERR_SIGNER ? NULL : c->nservers
		    > 1 ? "the other servers' reasons are above; check [ldap] "
		    "server, tls, ca_file, bind_dn and the password file" :
		    "check [ldap] server, tls, ca_file, bind_dn and the "
		    "password file");
		fails++;
		goto out;
	}
	snprintf(what, sizeof(what), "ldap: connect and bind to %s",
	    ldapx_server(ld));
	agent_check_line(1, what, NULL, NULL);
	dirsync_check(c, ld);
	fails += acc_check(c, ld);
	for (b = 0; b < c->nbases; b++) {
		n = 0;
		rs_buf_reset(&cookie);
		snprintf(what, sizeof(what), "ldap: search %s", c->bases[b]);
		do {
			r = ldapx_search_page(ld, c->bases[b], c->filter, attrs,
			    c->page_size, &cookie, export_count_entry, &n,
			    NULL);
		} while (r == RS_OK && cookie.len > 0);
		if (r != RS_OK) {
			agent_check_line(0, what, ldapx_errmsg(ld), "check "
			    "base, filter and the account's read rights");
			fails++;
			continue;
		}
		snprintf(info, sizeof(info), "%llu entries match %s",
		    (unsigned long long)n, c->filter);
		agent_check_line(n > 0, what, info, "an empty result is "
		    "never pushed: check base and filter");
		fails += n == 0;
	}
out:
	if (ld != NULL)
		ldapx_close(ld);
	rs_buf_free(&cookie);
	return fails;
}
