/*
 * notify.c - change notification in `run` and the service:
 * the directory says that something changed, so a new mailbox reaches
 * the relays in seconds instead of at the next poll.
 *
 * Active Directory's LDAP change notification control
 * (1.2.840.113556.1.4.528, MS-ADTS 3.1.1.3.4.1.9) keeps a search open;
 * the DC sends an object's current state each time any of its
 * attributes changes.  Its rules: the filter (objectClass=*), a subtree
 * scope only on a naming context's root, at most five per connection.
 * So, when the poll connection's server lists the control in its root
 * DSE's supportedControl, the agent keeps one such search for each
 * naming context its bases live in, on a connection of its own (the
 * poll connection stays as it is), to the same server: USNs are one
 * DC's, and another DC might not have the change yet.
 *
 * A notification is not applied.  It only says "poll now": the normal
 * USN delta cycle runs notify_debounce after the last of a burst (a new
 * user is a dozen writes), or RS_NOTIFY_DEBOUNCE_CAP debounces after its
 * first, whichever is sooner.  Each entry brings its uSNChanged: one at
 * or below the USN the cache already has was read by a cycle, and is
 * dropped.  The poll every interval stays the safety net.
 *
 * A notification search that fails, is ended by the server or loses its
 * connection, and a poll that moved to another DC, are said once; then
 * the agent polls, and registers again with backoff (RS_NOTIFY_BACKOFF_*),
 * each time followed by one cycle for what changed while it was away.
 *
 * API:        notify_new, notify_free, notify_reset, notify_wait
 *             (agent_int.h).
 * Ownership:  struct notify owns its connections and naming contexts.
 * Errors:     none to the caller: a failure is logged and polling goes
 *             on; notify_wait returns what sys_wait does, or
 *             NOTIFY_CHANGED.
 * Trust:      the root DSE and notified entries are untrusted: a naming
 *             context is bounded text, a USN a plain decimal; nothing
 *             from a notification reaches the list.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "buf.h"
#include "log.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "sys.h"

#define NOTIFY_MAX_NC	(RS_MAX_NOTIFY_PER_CONN * RS_MAX_NOTIFY_CONNS)
/* The root DSE's namingContexts we look at (AD has five or so). */
#define NOTIFY_MAX_DSE_NC	64

static const char *const notify_attrs[] = { "uSNChanged", NULL };

struct notify {
	struct ldapx	*conn[RS_MAX_NOTIFY_CONNS];
	size_t		 nconn;
	char		*nc[NOTIFY_MAX_NC];
	size_t		 nnc;
	char		 server[512];	/* registered on, or "" */
	int		 failed;	/* a failure was said, not yet back */
	unsigned	 attempts;	/* since that failure */
	unsigned	 backoff;	/* seconds, the next one */
	uint64_t	 retry_at;	/* sys_msec: register then */
	uint64_t	 since;		/* sys_msec: registered at */
	char		 told_off[512];	/* said: this server lacks it */
	int		 told_cfg;	/* said: off by configuration */
	uint64_t	 usn;		/* of the entry being read */
	int		 have_usn;
};

/* What the root DSE says about notification. */
struct notify_dse {
	int	 control;	/* supportedControl lists it */
	size_t	 nnc;
	char	*nc[NOTIFY_MAX_DSE_NC];
	char	*config;	/* configurationNamingContext */
	char	*schema;	/* schemaNamingContext */
};

int
notify_new(struct notify **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return RS_ERR_NOMEM;
	(*out)->backoff = RS_NOTIFY_BACKOFF_MIN;
	return RS_OK;
}

void
notify_reset(struct notify *n)
{
	size_t i;

	for (i = 0; i < n->nconn; i++)
		ldapx_close(n->conn[i]);
	for (i = 0; i < n->nnc; i++)
		free(n->nc[i]);
	n->nconn = n->nnc = 0;
	n->server[0] = '\0';
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	notify_reset(n);
	free(n);
}

/* A DN from the server: printable, bounded, NUL-free. */
static char *
notify_dn(const struct ldapx_val *v)
{
	char *s;
	size_t i;

	if (v->len == 0 || v->len > RS_MAX_DSNAME)
		return NULL;
	for (i = 0; i < v->len; i++)
		if ((unsigned char)v->p[i] < 0x20 || v->p[i] == 0x7f)
			return NULL;
	if ((s = malloc(v->len + 1)) == NULL)
		return NULL;
	memcpy(s, v->p, v->len);
	s[v->len] = '\0';
	return s;
}

static int
notify_dse_entry(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals)
{
	struct notify_dse *d = arg;
	size_t i;

	(void)dn;
	for (i = 0; i < nvals[0]; i++)
		if (vals[0][i].len == strlen(LDAPX_NOTIFY_OID) &&
		    memcmp(vals[0][i].p, LDAPX_NOTIFY_OID, vals[0][i].len) == 0)
			d->control = 1;
	for (i = 0; i < nvals[1] && d->nnc < NOTIFY_MAX_DSE_NC; i++)
		if ((d->nc[d->nnc] = notify_dn(&vals[1][i])) != NULL)
			d->nnc++;
	if (nvals[2] == 1)
		d->config = notify_dn(&vals[2][0]);
	if (nvals[3] == 1)
		d->schema = notify_dn(&vals[3][0]);
	return RS_OK;
}

static void
notify_dse_free(struct notify_dse *d)
{
	size_t i;

	for (i = 0; i < d->nnc; i++)
		free(d->nc[i]);
	free(d->config);
	free(d->schema);
}

/* Is base at or below nc (a whole RDN suffix, case-insensitively)? */
static int
notify_below(const char *base, const char *nc)
{
	size_t bl = strlen(base), nl = strlen(nc);

	if (nl > bl || !ldapx_ascii_ieq(base + bl - nl, nc, nl))
		return 0;
	return bl == nl || base[bl - nl - 1] == ',';
}

/* Add nc to n's list unless it is there; RS_ERR_LIMIT when full. */
static int
notify_add_nc(struct notify *n, const char *nc)
{
	size_t i;

	for (i = 0; i < n->nnc; i++)
		if (strlen(n->nc[i]) == strlen(nc) &&
		    ldapx_ascii_ieq(n->nc[i], nc, strlen(nc)))
			return RS_OK;
	if (n->nnc == NOTIFY_MAX_NC)
		return RS_ERR_LIMIT;
	if ((n->nc[n->nnc] = agent_strdup(nc)) == NULL)
		return RS_ERR_NOMEM;
	n->nnc++;
	return RS_OK;
}

/*
 * The naming contexts the bases live in: for each base the longest one
 * it is at or below; base "" (a GC's forest) is every one but the
 * configuration and schema partitions, which hold no recipients.
 */
static int
notify_pick_nc(struct notify *n, const struct agent_cfg *c,
    const struct notify_dse *d, char *why, size_t whysize)
{
	const char *best;
	size_t b, i;
	int r;

	for (b = 0; b < c->nbases; b++) {
		for (i = 0, best = NULL; i < d->nnc; i++) {
			if (c->bases[b][0] == '\0') {
				if ((d->config == NULL ||
				    strcmp(d->nc[i], d->config) != 0) &&
				    (d->schema == NULL ||
				    strcmp(d->nc[i], d->schema) != 0) &&
				    (r = notify_add_nc(n, d->nc[i])) != RS_OK)
					goto full;
				best = d->nc[i];
			} else if (notify_below(c->bases[b], d->nc[i]) &&
			    (best == NULL || strlen(d->nc[i]) > strlen(best)))
				best = d->nc[i];
		}
		if (best == NULL) {
			snprintf(why, whysize, "base %.200s lies in no naming "
			    "context the root DSE lists", c->bases[b]);
			return RS_ERR_NOTFOUND;
		}
		if (c->bases[b][0] != '\0' &&
		    (r = notify_add_nc(n, best)) != RS_OK)
			goto full;
	}
	return RS_OK;
full:
	snprintf(why, whysize, "more than %d naming contexts",
	    NOTIFY_MAX_NC);
	return r;
}

/*
 * Register on poll's server: RS_OK; RS_ERR_NOTFOUND when the server
 * cannot (no control, a base outside its naming contexts), which stays
 * so until another server answers; anything else is worth a retry.
 */
static int
notify_register(struct notify *n, const struct agent_cfg *c,
    struct ldapx *poll, char *why, size_t whysize)
{
	static const char *const dse_attrs[] = {
		"supportedControl", "namingContexts",
		"configurationNamingContext", "schemaNamingContext", NULL
	};
	struct notify_dse d;
	struct ldapx_opts o;
	struct rs_buf pw;
	const char *srv = ldapx_server(poll);
	size_t i;
	int r;

	notify_reset(n);
	memset(&d, 0, sizeof(d));
	rs_buf_init(&pw, 4096);
	if ((r = export_opts(c, &o, &pw)) != RS_OK) {
		snprintf(why, whysize, "ldap password: %s", rs_err_str(r));
		goto out;
	}
	/*
	 * The same DC as the poll ("(DC locator)": the locator again), but
	 * not its connection, which may be the dead one of a DC that
	 * restarted: the root DSE is read on the first of our own.
	 */
	o.server = srv[0] != '(' ? srv : NULL;
	why[0] = '\0';
	if ((r = ldapx_open(&o, &n->conn[0], why, whysize)) != RS_OK)
		goto out;
	n->nconn = 1;
	if ((r = ldapx_read(n->conn[0], "", dse_attrs, notify_dse_entry, &d,
	    NULL)) != RS_OK) {
		snprintf(why, whysize, "read the root DSE: %s",
		    ldapx_errmsg(n->conn[0])[0] != '\0' ?
		    ldapx_errmsg(n->conn[0]) : rs_err_str(r));
		r = r == RS_ERR_NOTFOUND ? RS_ERR_SYSTEM : r;
		goto out;
	}
	if (!d.control) {
		snprintf(why, whysize, "the server does not offer change "
		    "notification (no %s in the root DSE's supportedControl)",
		    LDAPX_NOTIFY_OID);
		r = RS_ERR_NOTFOUND;
		goto out;
	}
	if ((r = notify_pick_nc(n, c, &d, why, whysize)) != RS_OK)
		goto out;
	for (i = 0; i < n->nnc; i++) {
		if (i > 0 && i % RS_MAX_NOTIFY_PER_CONN == 0) {
			why[0] = '\0';
			if ((r = ldapx_open(&o, &n->conn[n->nconn], why,
			    whysize)) != RS_OK)
				goto out;
			n->nconn++;
		}
		if ((r = ldapx_notify_start(n->conn[n->nconn - 1], n->nc[i],
		    notify_attrs)) != RS_OK) {
			snprintf(why, whysize, "%s",
			    ldapx_errmsg(n->conn[n->nconn - 1]));
			goto out;
		}
	}
	snprintf(n->server, sizeof(n->server), "%s", srv);
out:
	rs_buf_free(&pw);
	notify_dse_free(&d);
	if (r != RS_OK)
		notify_reset(n);
	return r;
}

/* The names of the naming contexts, for the log. */
static void
notify_ncs(const struct notify *n, char *out, size_t outsize)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < n->nnc && len < outsize; i++)
		len += (size_t)snprintf(out + len, outsize - len, "%s%s",
		    i > 0 ? "; " : "", n->nc[i]);
}

/* A failure: say it once, then retry with backoff. */
static void
notify_failed(struct notify *n, const struct agent_cfg *c, const char *srv,
    const char *why)
{
	uint64_t now = sys_msec();

	/* A registration that held for a while starts the backoff over. */
	if (n->since != 0 && now - n->since >= RS_NOTIFY_STABLE_SECS * 1000ULL)
		n->backoff = RS_NOTIFY_BACKOFF_MIN;
	if (!n->failed)
		rs_warn("notify %s: %s; polling every %us, registering again "
		    "in %us (then with backoff)", srv, why, c->interval,
		    n->backoff);
	else
		rs_debug("notify %s: register again: %s; next in %us", srv,
		    why, n->backoff);
	/* Counts the registrations tried since the failure that was said. */
	if (n->failed)
		n->attempts++;
	n->failed = 1;
	n->since = 0;
	n->retry_at = now + n->backoff * 1000ULL;
	n->backoff = n->backoff * 2 > RS_NOTIFY_BACKOFF_MAX ?
	    RS_NOTIFY_BACKOFF_MAX : n->backoff * 2;
	notify_reset(n);
}

/*
 * Registered, or not.  Returns 1 when the searches were just registered
 * (a cycle should follow, for what came before them).
 */
static int
notify_ensure(struct notify *n, const struct agent_cfg *c, struct dirsync *ds)
{
	struct ldapx *poll = dirsync_ldap(ds);
	char why[512], ncs[512];
	int r;

	if (poll == NULL)
		return 0;
	/* The poll moved to another DC: follow it. */
	if (n->nconn > 0 && strcmp(ldapx_server(poll), n->server) != 0) {
		rs_info("notify: the poll connection is on %s now (was %s); "
		    "registering there", ldapx_server(poll), n->server);
		notify_reset(n);
		n->retry_at = 0;
	}
	if (n->nconn > 0 || sys_msec() < n->retry_at ||
	    strcmp(n->told_off, ldapx_server(poll)) == 0)
		return 0;
	why[0] = '\0';
	r = notify_register(n, c, poll, why, sizeof(why));
	if (r == RS_ERR_NOTFOUND) {
		rs_info("notify %s: %s; polling every %us", ldapx_server(poll),
		    why, c->interval);
		snprintf(n->told_off, sizeof(n->told_off), "%s",
		    ldapx_server(poll));
		return 0;
	}
	if (r != RS_OK) {
		notify_failed(n, c, ldapx_server(poll), why);
		return 0;
	}
	n->told_off[0] = '\0';
	notify_ncs(n, ncs, sizeof(ncs));
	if (n->failed)
		rs_info("notify %s: registered again after %u attempt(s), for "
		    "changes below %s; one cycle for what changed meanwhile",
		    n->server, n->attempts + 1, ncs);
	else
		rs_info("notify %s: registered for changes below %s (change "
		    "notification, %s); a cycle %us after a change, a poll "
		    "every %us", n->server, ncs, LDAPX_NOTIFY_OID,
		    c->notify_debounce, c->interval);
	n->failed = 0;
	n->attempts = 0;
	n->since = sys_msec();
	return 1;
}

/* ldapx_entry_fn: keep the notified object's uSNChanged. */
static int
notify_entry(void *arg, const char *dn, const struct ldapx_val *const *vals,
    const size_t *nvals)
{
	struct notify *n = arg;

	rs_debug("notify: %s changed", dn);
	n->have_usn = nvals[0] == 1 && rs_parse_dec(vals[0][0].p,
	    vals[0][0].len, 1, UINT64_MAX, &n->usn) == RS_OK;
	return RS_OK;
}

/*
 * One slice on every connection: 1 when a change the cache does not
 * have yet came, -1 when a connection failed (said, and closed).
 */
static int
notify_slice(struct notify *n, const struct agent_cfg *c, struct dirsync *ds)
{
	char srv[512];
	size_t i;
	int got, any = 0;
	unsigned ms = RS_NOTIFY_SLICE_MS / (unsigned)n->nconn;

	for (i = 0; i < n->nconn; i++) {
		n->have_usn = 0;
		if (ldapx_notify_wait(n->conn[i], ms, notify_entry, n,
		    notify_attrs, &got) != RS_OK) {
			snprintf(srv, sizeof(srv), "%s", n->server);
			notify_failed(n, c, srv, ldapx_errmsg(n->conn[i]));
			return -1;
		}
		/* Read by a cycle already: the cache is at that USN. */
		if (got && (!n->have_usn || n->usn > dirsync_usn(ds)))
			any = 1;
	}
	return any;
}

/* Sleep towards until (sys_msec), in whole seconds of sys_wait. */
static int
notify_sleep(uint64_t until)
{
	uint64_t now = sys_msec();

	return sys_wait(until > now ? (unsigned)((until - now + 999) / 1000) :
	    0);
}

int
notify_wait(struct notify *n, const struct agent_cfg *c, struct dirsync *ds,
    unsigned secs)
{
	uint64_t now = sys_msec(), end = now + secs * 1000ULL, first = 0;
	uint64_t last = 0, debounce = c->notify_debounce * 1000ULL;
	int w;

	if (!c->change_notification || !c->change_detection) {
		if (!n->told_cfg && c->change_notification)
			rs_info("notify: change notification needs "
			    "change_detection; polling every %us",
			    c->interval);
		n->told_cfg = 1;
		return sys_wait(secs);
	}
	for (;;) {
		if (notify_ensure(n, c, ds))
			return NOTIFY_CHANGED;
		now = sys_msec();
		if (first != 0 && (now - last >= debounce || now - first >=
		    RS_NOTIFY_DEBOUNCE_CAP * debounce))
			return NOTIFY_CHANGED;
		if (now >= end)
			return 0;
		if (n->nconn == 0) {
			/* A change came before the connection failed. */
			if (first != 0)
				return NOTIFY_CHANGED;
			/* Polling: until the poll, or the next registration. */
			w = notify_sleep(n->retry_at > now && n->retry_at < end ?
			    n->retry_at : end);
			if (w != 0)
				return w;
			continue;
		}
		if ((w = sys_wait(0)) != 0)
			return w;
		if (notify_slice(n, c, ds) == 1) {
			last = sys_msec();
			if (first == 0)
				first = last;
		}
	}
}
