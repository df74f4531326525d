/*
 * relaymap.c - relay_domains_map: the domains of the recipient map as a
 * Postfix table, so that main.cf's relay_domains = TYPE:PATH follows
 * Exchange's accepted domains instead of a list typed by hand.
 *
 * API:        rcv_rmap_add, rcv_rmap_build, rcv_rmap_commit, rcv_rmap_free
 *             (receiver.h), called by install.c around the recipient map.
 * Keys:       every domain of a key the recipient map holds: an address's
 *             domain, a relay domain's "@domain".  A wildcard domain's
 *             subdomains are in it only as far as addresses name them.
 * Postfix:    relay_domains is read by trivial-rewrite(8), a long-running
 *             daemon that keeps its answers until `postfix reload`
 *             (measured: a removed domain still relayed 3 s later, gone
 *             at once after a reload).  The receiver has no right to
 *             reload Postfix, so when the domains changed it rewrites
 *             PATH.changed, which rcptsync-postfix-reload.path watches:
 *             systemd then runs `postfix reload` as root.  An unchanged
 *             table is not replaced, so nothing is reloaded for it.
 * Order:      the table is built (PATH.new, postmap) before the recipient
 *             map's commit, so that a postmap failure leaves both as they
 *             were; it goes live by rename right after the recipient
 *             map's, outside its journal.  A kill between the two renames
 *             leaves the old domain table beside the new map until the
 *             next install, which builds it again: for a domain added in
 *             that window Postfix says 554 relay denied, for one removed
 *             it still looks the domain up in the recipient map.
 * Ownership:  struct rcv_rmap owns its strings (rcv_rmap_free).
 * Errors:     RS_ERR_NOMEM, RS_ERR_LIMIT, RS_ERR_SYSTEM (logged).
 * Trust:      the domains come from the receiver's validated lists.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"

/* Where dom[0..len) is, or goes, in the sorted r->v. */
static size_t
rcv_rmap_lower(const struct rcv_rmap *r, const char *dom, size_t len,
    int *found)
{
	size_t lo = 0, hi = r->n, mid;
	int cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strncmp(r->v[mid], dom, len);
		if (cmp == 0 && r->v[mid][len] != '\0')
			cmp = 1;
		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
rcv_rmap_add(struct rcv_rmap *r, const char *key)
{
	const char *dom = strrchr(key, '@');
	size_t len, at;
	int found;
	char *s;

	if (dom == NULL || (len = strlen(++dom)) == 0)
		return RS_OK;
	/* Keys come sorted by address: the last domain often repeats. */
	if (r->n > 0 && r->last < r->n && strcmp(r->v[r->last], dom) == 0)
		return RS_OK;
	at = rcv_rmap_lower(r, dom, len, &found);
	if (!found) {
		if (r->n == (size_t)RS_MAX_DOMAINS * RS_MAX_AGENTS) {
			rs_error("relay_domains_map: more than %d domains",
			    RS_MAX_DOMAINS * RS_MAX_AGENTS);
			return RS_ERR_LIMIT;
		}
		if (rs_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v),
		    64) != RS_OK || (s = strdup(dom)) == NULL)
			return RS_ERR_NOMEM;
		memmove(r->v + at + 1, r->v + at, (r->n - at) * sizeof(*r->v));
		r->v[at] = s;
		r->n++;
	}
	r->last = at;
	return RS_OK;
}

/* PATH.new with "domain OK" lines, fsynced. */
static int
rcv_rmap_source(const struct rcv_rmap *r, const char *path)
{
	FILE *out;
	size_t i;
	int fd, ok = 1;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1 || fchmod(fd, 0644) == -1 ||
	    (out = fdopen(fd, "w")) == NULL) {
		rs_error("create %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return RS_ERR_SYSTEM;
	}
	for (i = 0; i < r->n && ok; i++)
		ok = fprintf(out, "%s\tOK\n", r->v[i]) > 0;
	if (!ok || fflush(out) == EOF || fsync(fileno(out)) == -1) {
		rs_error("write %s: %s", path, strerror(errno));
		fclose(out);
		return RS_ERR_SYSTEM;
	}
	if (fclose(out) == EOF) {
		rs_error("close %s: %s", path, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* The source and table names of relay_domains_map, new and live. */
static int
rcv_rmap_paths(const struct rcv_cfg *c, char *newsrc, char *newtab,
    char *livetab, size_t size)
{
	if (snprintf(newsrc, size, "%s.new", c->relay_domains_map) >=
	    (int)size || rcv_inst_table_path(c, newsrc, newtab, size) !=
	    RS_OK || rcv_inst_table_path(c, c->relay_domains_map, livetab,
	    size) != RS_OK) {
		rs_error("relay_domains_map %s: path too long",
		    c->relay_domains_map);
		return RS_ERR_LIMIT;
	}
	return RS_OK;
}

int
rcv_rmap_build(const struct rcv_cfg *c, const struct rcv_rmap *r)
{
	char newsrc[4096], newtab[4096], livetab[4096];
	int e;

	if (c->relay_domains_map == NULL)
		return RS_OK;
	if ((e = rcv_rmap_paths(c, newsrc, newtab, livetab, sizeof(newsrc))) !=
	    RS_OK)
		return e;
	unlink(newtab);
	if ((e = rcv_rmap_source(r, newsrc)) != RS_OK ||
	    (e = rcv_inst_postmap(c, newsrc)) != RS_OK ||
	    (e = rcv_util_fsync_path(newtab)) != RS_OK) {
		unlink(newsrc);
		unlink(newtab);
	}
	return e;
}

/* Does the live source hold exactly what the new one holds? */
static int
rcv_rmap_same(const char *live, const char *new)
{
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int same;

	same = rcv_util_read_small(live, RS_MAX_STATIC_LINES * 300, &a,
	    &alen) == RS_OK && rcv_util_read_small(new,
	    RS_MAX_STATIC_LINES * 300, &b, &blen) == RS_OK && alen == blen &&
	    memcmp(a, b, alen) == 0;
	free(a);
	free(b);
	return same;
}

/* PATH.changed: the sign for rcptsync-postfix-reload.path. */
static void
rcv_rmap_signal(const struct rcv_cfg *c)
{
	char path[4096], text[64];
	int n;

	n = snprintf(text, sizeof(text), "%lld\n", (long long)time(NULL));
	if (snprintf(path, sizeof(path), "%s.changed", c->relay_domains_map) >=
	    (int)sizeof(path) || n < 0 ||
	    rcv_util_write_atomic(path, text, (size_t)n, 0644) != RS_OK)
		rs_error("relay_domains_map: cannot write %s.changed: Postfix "
		    "keeps its relay_domains until 'postfix reload'",
		    c->relay_domains_map);
}

int
rcv_rmap_commit(const struct rcv_cfg *c, const struct rcv_rmap *r)
{
	char newsrc[4096], newtab[4096], livetab[4096];
	int e;

	if (c->relay_domains_map == NULL)
		return RS_OK;
	if ((e = rcv_rmap_paths(c, newsrc, newtab, livetab, sizeof(newsrc))) !=
	    RS_OK)
		return e;
	if (rcv_rmap_same(c->relay_domains_map, newsrc)) {
		unlink(newtab);
		unlink(newsrc);
		return RS_OK;
	}
	if (rename(newtab, livetab) == -1 ||
	    rename(newsrc, c->relay_domains_map) == -1) {
		rs_error("relay_domains_map: rename into %s: %s; the next "
		    "install builds it again", c->relay_domains_map,
		    strerror(errno));
		return RS_ERR_SYSTEM;
	}
	rs_info("relay_domains_map %s: %zu domains, changed; %s.changed "
	    "asks for a postfix reload", c->relay_domains_map, r->n,
	    c->relay_domains_map);
	rcv_rmap_signal(c);
	return RS_OK;
}

void
rcv_rmap_free(struct rcv_rmap *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
