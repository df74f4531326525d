/*
 * dirsync.c - change detection: decide, each poll, whether the directory
 * changed, and read only what did (docs/CONFIG.md, "Change detection").
 *
 * Active Directory numbers every write on a DC with an update sequence
 * number (USN).  The root DSE's highestCommittedUSN is the DC's newest;
 * every object carries uSNChanged, the USN of its last write.  So a poll
 * reads one entry, the root DSE, and when highestCommittedUSN has not
 * moved since the last poll nothing under it changed.  When it moved, two
 * searches with (uSNChanged>=last+1) return just the changed objects.
 *
 * USNs are local to one DC and to one incarnation of its database, so the
 * cache remembers which DC (dsServiceName) and which incarnation (the
 * invocationId of its NTDS Settings object, new after a restore).  A full
 * export runs on the first poll of `run`, when the DC or its invocationId
 * changed, when the USN went backwards, and every full_interval: deleted
 * objects are not returned to normal searches, so only a full export sees
 * that they are gone.  A directory without highestCommittedUSN (OpenLDAP)
 * gets a full export every poll.  With domains = auto the accepted
 * domains (accepted.c) are read again whenever the USN moved: they live
 * in the configuration partition, whose writes move the same USN.
 *
 * A Global Catalog ([ldap] global_catalog) is one DC too, with the same
 * USNs on its GC port as on 389, but another view: every domain of the
 * forest, only the partial attribute set.  So the view is part of what
 * the cache was read with, and a switch between a DC's port and a GC's
 * forces a full export.  invocationId is not in the partial attribute
 * set (MS-ADA1 2.314): a GC may not return it, and then a restored GC is
 * noticed only by its USN going back, or at the next full export.
 *
 * API:        dirsync_new, dirsync_free, dirsync_poll, dirsync_list,
 *             dirsync_check, dirsync_gc_ready.
 * Ownership:  struct dirsync owns the cache; the poll hands a new rlist
 *             to the caller.
 * Errors:     RS_ERR_* after logging.  A failed poll leaves the cache's
 *             watermark where it was, so the next poll reads the same
 *             changes again (applying a change twice is harmless).
 * Trust:      root DSE values are untrusted text: the USN must be a plain
 *             decimal, dsServiceName printable and bounded.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accepted.h"
#include "agent_int.h"
#include "buf.h"
#include "hash.h"
#include "log.h"
#include "rlist.h"
#include "rs_err.h"
#include "sys.h"

#define DIRSYNC_FILE	"dircache"

struct dirsync {
	struct ldapx	*ld;		/* kept open between polls */
	struct dircache	*dc;		/* NULL: no full export yet */
	int		 loaded;	/* the state file was tried */
	int		 told_no_usn;
	int		 told_no_inv;	/* a GC lacks invocationId: said */
	char		 sha[2 * RS_SHA256_LEN + 1];	/* of dc's list */
	struct acc_set	*acc;		/* the domains, as last read */
	int		 acc_ok;	/* acc is this connection's */
	uint64_t	 acc_usn;	/* ... read at this USN */
	char		*acc_listed;	/* acc's listed domains before */
};

/* What the root DSE says. */
struct dirsync_dse {
	char		 query[2 * RS_SHA256_LEN + 1];	/* ours, not the DSE's */
	/* The same through the other view (a GC's or a DC's). */
	char		 query_view[2 * RS_SHA256_LEN + 1];
	int		 have_usn;
	uint64_t	 usn;
	char		 server[RS_MAX_DSNAME + 1];	/* dsServiceName */
	int		 have_inv;
	unsigned char	 inv[RS_GUID_LEN];
};

int
dirsync_new(struct dirsync **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return RS_ERR_NOMEM;
	if (acc_new(&(*out)->acc) != RS_OK) {
		free(*out);
		*out = NULL;
		return RS_ERR_NOMEM;
	}
	return RS_OK;
}

/* Also after a reload: the domains are read again with the new config. */
void
dirsync_disconnect(struct dirsync *d)
{
	if (d->ld != NULL)
		ldapx_close(d->ld);
	d->ld = NULL;
	d->acc_ok = 0;
}

void
dirsync_free(struct dirsync *d)
{
	if (d == NULL)
		return;
	dirsync_disconnect(d);
	dircache_free(d->dc);
	acc_free(d->acc);
	free(d->acc_listed);
	free(d);
}

static int
dirsync_dse_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	struct dirsync_dse *dse = arg;
	size_t i;

	(void)dn;
	/* AD writes a USN as a plain decimal. */
	if (nvals[0] == 1 && rs_parse_dec(vals[0][0].p, vals[0][0].len, 1,
	    UINT64_MAX, &dse->usn) == RS_OK)
		dse->have_usn = 1;
	if (nvals[1] != 1 || vals[1][0].len == 0 ||
	    vals[1][0].len > RS_MAX_DSNAME)
		return RS_OK;
	for (i = 0; i < vals[1][0].len; i++)
		if ((unsigned char)vals[1][0].p[i] < 0x20 ||
		    vals[1][0].p[i] == 0x7f)
			return RS_OK;
	memcpy(dse->server, vals[1][0].p, vals[1][0].len);
	dse->server[vals[1][0].len] = '\0';
	return RS_OK;
}

static int
dirsync_inv_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	struct dirsync_dse *dse = arg;

	(void)dn;
	if (nvals[0] == 1 && vals[0][0].len == RS_GUID_LEN) {
		memcpy(dse->inv, vals[0][0].p, RS_GUID_LEN);
		dse->have_inv = 1;
	}
	return RS_OK;
}

/* Read the root DSE: one entry, every poll. */
static int
dirsync_read_dse(struct ldapx *ld, struct dirsync_dse *dse,
    struct poll_result *res, int quiet)
{
	static const char *const attrs[] = {
		"highestCommittedUSN", "dsServiceName", NULL
	};
	int r;

	r = ldapx_read(ld, "", attrs, dirsync_dse_entry, dse, &res->bytes);
	if (r == RS_OK)
		res->entries++;
	else if (r != RS_ERR_NOTFOUND && quiet) {
		return r;
	} else if (r != RS_ERR_NOTFOUND) {
		sys_event(SYS_EV_LDAP, "poll %s: read the root DSE: %s",
		    ldapx_server(ld), ldapx_errmsg(ld)[0] != '\0' ?
		    ldapx_errmsg(ld) : rs_err_str(r));
		return r;
	}
	/* Without a DC name the USN cannot be tied to a database. */
	if (dse->server[0] == '\0')
		dse->have_usn = 0;
	return RS_OK;
}

/*
 * The invocationId of the DC's NTDS Settings object.  told: NULL, or a
 * flag that a GC's missing invocationId was said once (d->told_no_inv).
 */
static void
dirsync_read_inv(struct ldapx *ld, const struct agent_cfg *c,
    struct dirsync_dse *dse, struct poll_result *res, int *told)
{
	static const char *const attrs[] = { "invocationId", NULL };
	int r;

	r = ldapx_read(ld, dse->server, attrs, dirsync_inv_entry, dse,
	    &res->bytes);
	if (r == RS_OK)
		res->entries++;
	/* Not in the partial attribute set: expected, so said once. */
	if (!dse->have_inv && c->global_catalog && told != NULL) {
		if (!*told)
			rs_info("poll %s: the Global Catalog returns no "
			    "invocationId (not in the partial attribute set); "
			    "a restored GC is noticed when its "
			    "highestCommittedUSN goes back, or at the next "
			    "full export (full_interval %us)",
			    ldapx_server(ld), c->full_interval);
		*told = 1;
	} else if (!dse->have_inv)
		rs_warn("poll %s: no invocationId on %s (%s); a restored DC "
		    "is only noticed at the next full export",
		    ldapx_server(ld), dse->server, r != RS_OK ?
		    (ldapx_errmsg(ld)[0] != '\0' ? ldapx_errmsg(ld) :
		    rs_err_str(r)) : "not readable");
}

static int
dirsync_gc_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	int *ready = arg;

	(void)dn;
	/* LDAP Boolean; anything but one TRUE is not ready. */
	if (nvals[0] == 0)
		*ready = 0;
	else
		*ready = nvals[0] == 1 && vals[0][0].len == 4 &&
		    memcmp(vals[0][0].p, "TRUE", 4) == 0 ? 1 : -1;
	return RS_OK;
}

/*
 * The root DSE's isGlobalCatalogReady: TRUE on a GC that holds a replica
 * of every domain of the forest.  A DC that is no GC, or a new GC still
 * replicating, would export a list without (some of) the other domains'
 * recipients: the shrink guard might catch it, or might not.
 */
int
dirsync_gc_ready(struct ldapx *ld, char *msg, size_t msgsize)
{
	static const char *const attrs[] = { "isGlobalCatalogReady", NULL };
	int r, ready = 0;

	r = ldapx_read(ld, "", attrs, dirsync_gc_entry, &ready, NULL);
	if (r != RS_OK && r != RS_ERR_NOTFOUND) {
		snprintf(msg, msgsize, "read the root DSE: %s",
		    ldapx_errmsg(ld)[0] != '\0' ? ldapx_errmsg(ld) :
		    rs_err_str(r));
		return r;
	}
	if (ready == 1)
		return RS_OK;
	snprintf(msg, msgsize, "the server says it is no Global Catalog, or "
	    "one still replicating (root DSE isGlobalCatalogReady %s): its "
	    "list would lack other domains' recipients; global_catalog = yes "
	    "needs GCs", ready == 0 ? "absent" : "not TRUE");
	return RS_ERR_INVAL;
}

/* Load STATE/dircache once (a one-shot `sync` continues from it). */
static void
dirsync_load(struct dirsync *d, const struct agent_cfg *c)
{
	char *path;
	size_t line = 0;
	int r;

	d->loaded = 1;
	if ((path = agent_path(c->state_dir, DIRSYNC_FILE)) == NULL)
		return;
	dircache_free(d->dc);
	d->dc = NULL;
	r = dircache_load(path, &d->dc, &line);
	if (r == RS_ERR_FORMAT)
		rs_warn("read %s: damaged at line %zu; doing a full export",
		    path, line);
	else if (r != RS_OK && r != RS_ERR_NOTFOUND)
		rs_warn("read %s: %s; doing a full export", path,
		    rs_err_str(r));
	free(path);
}

static void
dirsync_save(const struct dirsync *d, const struct agent_cfg *c)
{
	char *path;
	int r;

	if ((path = agent_path(c->state_dir, DIRSYNC_FILE)) == NULL)
		return;
	/* Losing it costs a full export at the next start, no more. */
	if ((r = dircache_save(d->dc, path)) != RS_OK)
		rs_warn("write %s: %s", path, r == RS_ERR_SYSTEM ?
		    sys_errmsg() : rs_err_str(r));
	free(path);
}

/* The cache's list, cut to the listed domains (accepted.h). */
static int
dirsync_cache_list(const struct dirsync *d, const struct dircache *dc,
    struct rlist **out)
{
	struct rlist *l = NULL, *cut = NULL;
	int r;

	*out = NULL;
	if ((r = dircache_list(dc, &l)) == RS_OK &&
	    (r = acc_filter(d->acc, l, &cut)) == RS_OK && cut != NULL) {
		rlist_free(l);
		l = cut;
	}
	if (r != RS_OK) {
		rlist_free(l);
		return r;
	}
	*out = l;
	return RS_OK;
}

/*
 * The domains (accepted.c).  With auto they are read once per connection
 * and again only when highestCommittedUSN moved: a write to an accepted
 * domain is a write on this DC (the configuration partition's writes take
 * the same USNs), so a poll that finds nothing changed still reads one
 * entry, the root DSE.  They are read whole, a few entries: a search for
 * (uSNChanged>=N) would not see an accepted domain deleted.  *moved: the
 * listed domains differ from the last read (this process's, or a one-shot
 * sync's before it: STATE/domains), so the list may have changed with no
 * object changed.
 */
static int
dirsync_domains(struct dirsync *d, const struct agent_cfg *c,
    struct ldapx *ld, const struct dirsync_dse *dse, struct poll_result *res,
    int *moved)
{
	const char *now;
	int r;

	*moved = 0;
	if (d->acc_ok && dse->have_usn && dse->usn == d->acc_usn)
		return RS_OK;
	if ((r = acc_load(d->acc, c, ld, &res->entries, &res->bytes)) !=
	    RS_OK) {
		d->acc_ok = 0;
		return r;
	}
	d->acc_ok = 1;
	d->acc_usn = dse->usn;
	if (!c->domains_auto)
		return RS_OK;
	if (d->acc_listed == NULL)
		d->acc_listed = acc_last_listed(c);
	now = acc_listed_str(d->acc);
	if (d->acc_listed == NULL || strcmp(d->acc_listed, now) != 0) {
		*moved = 1;
		d->sha[0] = '\0';
		snprintf(res->why, sizeof(res->why), "listed domains %s%.200s",
		    d->acc_listed == NULL ? "(first read) " : "now ", now);
		acc_save_listed(c, d->acc);
	}
	free(d->acc_listed);
	d->acc_listed = agent_strdup(now);
	return RS_OK;
}

/*
 * What the cache was read with: a hash of the bases, the filter, the
 * domains whose addresses it keeps (acc_cached_str: for a configured list
 * the list, as before domains = auto existed), include_auth_only and the
 * view (a GC's or a DC's: gc).  A cache read with other settings is not
 * this list's (a cache from before include_auth_only existed holds the
 * auth-only objects' addresses: one full export drops them).
 */
static int
dirsync_query(const struct agent_cfg *c, const struct acc_set *acc, int gc,
    char out[2 * RS_SHA256_LEN + 1])
{
	unsigned char md[RS_SHA256_LEN];
	struct rs_buf b;
	size_t i;
	int r = RS_OK;

	rs_buf_init(&b, 1024 * 1024);
	for (i = 0; r == RS_OK && i < c->nbases; i++)
		r = rs_buf_printf(&b, "base %s\n", c->bases[i]);
	if (r == RS_OK)
		r = rs_buf_printf(&b, "filter %s\ndomains %s\n"
		    "include_auth_only %d\n", c->filter, acc_cached_str(acc),
		    c->include_auth_only);
	/* Only when on: a DC's cache from before the key stays valid. */
	if (r == RS_OK && gc)
		r = rs_buf_printf(&b, "global_catalog 1\n");
	if (r == RS_OK && (r = rs_sha256(b.data, b.len, md)) == RS_OK)
		rs_hex(md, sizeof(md), out);
	rs_buf_free(&b);
	return r;
}

/* Why this poll must be a full export, or NULL. */
static const char *
dirsync_why_full(const struct dirsync *d, const struct agent_cfg *c,
    const struct dirsync_dse *dse, int force_full, time_t now, char *buf,
    size_t bufsize)
{
	const struct dircache_src *src;

	if (force_full)
		return "first poll since start";
	if (d->dc == NULL)
		return "no cache of the directory yet";
	src = dircache_src(d->dc);
	if (strcmp(src->query, dse->query) != 0 &&
	    strcmp(src->query, dse->query_view) == 0)
		return c->global_catalog ? "a Global Catalog answers now, "
		    "a domain controller's LDAP port before: another view of "
		    "the directory (every domain, the partial attribute set)" :
		    "a domain controller's LDAP port answers now, a Global "
		    "Catalog before: another view of the directory";
	if (strcmp(src->query, dse->query) != 0)
		return "base, filter, domains or include_auth_only "
		    "changed";
	if (strcmp(src->server, dse->server) != 0) {
		snprintf(buf, bufsize, "another DC answers (%.100s, was "
		    "%.100s)", dse->server, src->server);
		return buf;
	}
	if (dse->usn < src->usn) {
		snprintf(buf, bufsize, "highestCommittedUSN went back from %"
		    PRIu64 " to %" PRIu64 " (restore?)", src->usn, dse->usn);
		return buf;
	}
	if ((int64_t)now - src->full_time >= (int64_t)c->full_interval ||
	    (int64_t)now < src->full_time)
		return "full_interval passed";
	if (dse->have_inv &&
	    memcmp(dse->inv, src->invocation, RS_GUID_LEN) != 0)
		return "the DC's invocationId changed (restore)";
	return NULL;
}

/* Full export without change detection: the list straight away. */
static int
dirsync_full_plain(struct ldapx *ld, const struct agent_cfg *c,
    const struct acc_set *acc, int progress,
    struct poll_result *res, struct export_stats *st)
{
	struct rlist *l = NULL;
	int r;

	if ((r = rlist_new(&l)) != RS_OK ||
	    (r = export_full(c, ld, acc, l, NULL, progress, st)) != RS_OK) {
		rlist_free(l);
		return r;
	}
	res->kind = POLL_FULL;
	res->list = l;
	return RS_OK;
}

/* Full export into a new cache, which replaces the old one. */
static int
dirsync_full_cache(struct dirsync *d, struct ldapx *ld,
    const struct agent_cfg *c, const struct dirsync_dse *dse, time_t now,
    int progress, struct poll_result *res, struct export_stats *st)
{
	struct dircache *dc = NULL;
	struct dircache_src *src;
	int r;

	if ((r = dircache_new(&dc)) != RS_OK ||
	    (r = export_full(c, ld, d->acc, NULL, dc, progress, st)) != RS_OK ||
	    (r = dirsync_cache_list(d, dc, &res->list)) != RS_OK) {
		dircache_free(dc);
		return r;
	}
	src = dircache_src(dc);
	memcpy(src->query, dse->query, sizeof(src->query));
	memcpy(src->server, dse->server, sizeof(src->server));
	memcpy(src->invocation, dse->inv, RS_GUID_LEN);
	src->usn = dse->usn;
	src->full_time = (int64_t)now;
	dircache_free(d->dc);
	d->dc = dc;
	res->kind = POLL_FULL;
	dirsync_save(d, c);
	return RS_OK;
}

/* The hash of the cache's list, computed once after each change. */
static int
dirsync_sha(struct dirsync *d)
{
	struct rlist *l = NULL;
	int r;

	if (d->sha[0] != '\0')
		return RS_OK;
	if ((r = dirsync_cache_list(d, d->dc, &l)) == RS_OK)
		r = state_list_sha(l, d->sha);
	rlist_free(l);
	return r;
}

int
dirsync_poll(struct dirsync *d, const struct agent_cfg *c, int force_full,
    int progress, struct poll_result *res, struct export_stats *st)
{
	struct ldapx *ld = NULL;
	struct dirsync_dse dse;
	struct dircache_src *src;
	const char *why;
	char buf[sizeof(res->why)];
	time_t now = time(NULL);
	int r, moved = 0;

	memset(res, 0, sizeof(*res));
	memset(st, 0, sizeof(*st));
	memset(&dse, 0, sizeof(dse));
	/*
	 * `run` keeps its connection: binding every poll would be a logon on
	 * the DC (and an entry in its security log) every minute.  A kept
	 * connection the DC has dropped (idle timeout, restart) fails the
	 * first read; then connect once more, quietly.
	 */
	if (d->ld != NULL) {
		ld = d->ld;
		r = c->change_detection ?
		    dirsync_read_dse(ld, &dse, res, 1) : RS_OK;
		if (r != RS_OK) {
			rs_info("poll %s: the kept connection failed (%s); "
			    "connecting again", ldapx_server(ld),
			    ldapx_errmsg(ld));
			dirsync_disconnect(d);
			memset(&dse, 0, sizeof(dse));
		}
	}
	if (d->ld == NULL) {
		if ((r = export_open(c, &d->ld)) != RS_OK)
			return r;
		ld = d->ld;
		rs_info("poll: connected to %s", ldapx_server(ld));
		if (c->change_detection &&
		    (r = dirsync_read_dse(ld, &dse, res, 0)) != RS_OK)
			goto out;
	}
	export_source(c, ld, st);
	if ((r = dirsync_domains(d, c, ld, &dse, res, &moved)) != RS_OK ||
	    (r = dirsync_query(c, d->acc, c->global_catalog, dse.query)) !=
	    RS_OK ||
	    (r = dirsync_query(c, d->acc, !c->global_catalog,
	    dse.query_view)) != RS_OK)
		goto out;
	res->acc = d->acc;
	if (!dse.have_usn) {
		if (c->change_detection && !d->told_no_usn)
			rs_info("poll %s: the server publishes no "
			    "highestCommittedUSN; a full export every "
			    "interval", ldapx_server(ld));
		d->told_no_usn = 1;
		snprintf(res->why, sizeof(res->why), "%s", c->change_detection ?
		    "no change detection on this server" :
		    "change_detection = no");
		if ((r = dirsync_full_plain(ld, c, d->acc, progress, res,
		    st)) == RS_OK)
			r = state_list_sha(res->list, res->sha);
		goto out;
	}
	res->usn = dse.usn;
	/* Once, and only when this process has no cache of its own yet. */
	if (!d->loaded && d->dc == NULL && !force_full)
		dirsync_load(d, c);
	why = dirsync_why_full(d, c, &dse, force_full, now, buf, sizeof(buf));
	if (why == NULL && dse.usn == dircache_src(d->dc)->usn) {
		/* The common case: one entry read, nothing changed. */
		res->kind = POLL_SAME;
		r = dirsync_sha(d);
		memcpy(res->sha, d->sha, sizeof(res->sha));
		goto out;
	}
	/* Something moved: now the DC's incarnation is worth a read. */
	dirsync_read_inv(ld, c, &dse, res, &d->told_no_inv);
	if (why == NULL)
		why = dirsync_why_full(d, c, &dse, 0, now, buf, sizeof(buf));
	if (why != NULL) {
		snprintf(res->why, sizeof(res->why), "%s", why);
		r = dirsync_full_cache(d, ld, c, &dse, now, progress, res, st);
	} else {
		src = dircache_src(d->dc);
		res->usn_from = src->usn + 1;
		r = export_delta(c, ld, d->acc, res->usn_from, d->dc, st,
		    &res->changed);
		if (r != RS_OK)
			goto out;
		src->usn = dse.usn;
		if (res->changed == 0 && !moved) {
			res->kind = POLL_SAME;
			r = dirsync_sha(d);
			memcpy(res->sha, d->sha, sizeof(res->sha));
			goto out;
		}
		res->kind = POLL_DELTA;
		r = dirsync_cache_list(d, d->dc, &res->list);
		if (r == RS_OK)
			dirsync_save(d, c);
	}
	if (r == RS_OK && (r = state_list_sha(res->list, res->sha)) == RS_OK)
		memcpy(d->sha, res->sha, sizeof(d->sha));
out:
	res->entries += st->entries;
	res->bytes += st->bytes;
	if (r != RS_OK) {
		/* A delta may have half-applied: the hash is unknown. */
		d->sha[0] = '\0';
		rlist_free(res->list);
		res->list = NULL;
	}
	/*
	 * Nor is a connection that failed worth keeping; and without change
	 * detection there is no cheap read to tell a dropped one early.
	 */
	if (r != RS_OK || !c->change_detection)
		dirsync_disconnect(d);
	return r;
}

void
dirsync_check(const struct agent_cfg *c, struct ldapx *ld)
{
	struct dirsync_dse dse;
	struct poll_result res;
	char info[RS_MAX_DSNAME + 160];
	int told = 1;

	memset(&dse, 0, sizeof(dse));
	memset(&res, 0, sizeof(res));
	if (!c->change_detection) {
		agent_check_line(1, "ldap: change detection", "off "
		    "(change_detection = no): a full export every interval",
		    NULL);
		return;
	}
	if (dirsync_read_dse(ld, &dse, &res, 0) != RS_OK) {
		agent_check_line(0, "ldap: change detection", ldapx_errmsg(ld),
		    "the root DSE must be readable");
		return;
	}
	if (!dse.have_usn) {
		agent_check_line(1, "ldap: change detection", "not offered "
		    "(no highestCommittedUSN): a full export every interval",
		    NULL);
		return;
	}
	dirsync_read_inv(ld, c, &dse, &res, &told);
	snprintf(info, sizeof(info), "highestCommittedUSN %" PRIu64
	    " on %s%s%s", dse.usn, dse.server, c->global_catalog ?
	    ", a Global Catalog" : "",
	    dse.have_inv ? "" : c->global_catalog ? " (no invocationId: not "
	    "in the partial attribute set)" : " (invocationId not readable)");
	agent_check_line(1, "ldap: change detection", info, NULL);
}

int
dirsync_list(struct dirsync *d, struct rlist **out)
{
	int r;

	*out = NULL;
	if (d->dc == NULL)
		return RS_ERR_NOTFOUND;
	if ((r = dirsync_cache_list(d, d->dc, out)) == RS_OK &&
	    d->sha[0] == '\0' &&
	    (r = state_list_sha(*out, d->sha)) != RS_OK) {
		rlist_free(*out);
		*out = NULL;
	}
	return r;
}
