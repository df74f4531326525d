/*
 * cycle.c - one sync cycle: poll the directory, guard the list, push it to
 * the relays that need it, prove to the others that the agent is alive,
 * and say so when a relay has not confirmed our list for too long.
 *
 *   poll       dirsync_poll: nothing changed (one root DSE read), a delta,
 *              or a full export
 *   guards     a list is never pushed when it is empty, or when it shrank
 *              by more than shrink_threshold, unless the administrator
 *              approved it with `sync --allow-shrink` (logged loudly).
 *              The approval is kept per relay until that relay confirms
 *              a list, and each bundle to a relay that holds one carries
 *              the signed allow-shrink flag: a relay that was down when
 *              the shrink was approved gets the flag when it is back,
 *              and `--relay X` sends it to X even when only X's own
 *              guard objects
 *   push       relays whose accepted list differs get the full bundle
 *   heartbeat  relays that have it, but have not confirmed it for
 *              heartbeat_interval, get a heartbeat bundle: no entries,
 *              the list's hash, a new sequence (docs/FORMAT.md 2.3)
 *   staleness  a relay that has confirmed nothing for stale_warning
 *              (stale_critical) raises a warning (error) event
 *
 * API:        cycle_ctx_new, cycle_ctx_free, cycle_run (agent_int.h).
 * Ownership:  struct cycle_ctx is what `run` keeps from one cycle to the
 *             next (the directory cache, the counters).
 * Errors:     cycle_run returns an exit code (agent.h): 0 ok, 1 runtime
 *             failure, 2 usage/config, 3 own guard, 4 relay refused,
 *             5 partial.
 * Trust:      as the rest of the core: LDAP and relay data are untrusted
 *             and have been checked where they were read.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accepted.h"
#include "addr.h"
#include "agent.h"
#include "agent_int.h"
#include "buf.h"
#include "bundle.h"
#include "hash.h"
#include "ldapx.h"
#include "log.h"
#include "rlist.h"
#include "rs_err.h"
#include "sshkey.h"
#include "sshsig.h"
#include "sys.h"

struct cycle_ctx {
	struct dirsync	*ds;
	int		 polled;	/* a poll has run since start */
	uint64_t	 cycles;
	uint64_t	 entries;	/* read from the directory */
	uint64_t	 bytes;
	uint64_t	 list_bytes;	/* full bundles uploaded */
	uint64_t	 heartbeats;	/* heartbeats uploaded */
};

/* One cycle's working set. */
struct cycle {
	const struct agent_cfg	*c;
	const struct cycle_opts	*o;
	struct cycle_ctx	*cx;
	time_t			 now;
	struct sshkey	*key;
	struct relay_state	 rs[AGENT_MAX_RELAYS];
	int			 todo[AGENT_MAX_RELAYS];
	const char		*source;	/* for the bundle header */
	const struct acc_set	*acc;		/* its domains */
	size_t			 nok, nref, nfail;
	unsigned		 wait;		/* shortest backoff set */
	uint64_t		 list_bytes;
	unsigned		 heartbeats;
	struct ldapx_tally	 ldap;		/* the poll's requests */
};

int
cycle_ctx_new(struct cycle_ctx **out)
{
	struct cycle_ctx *cx;

	*out = NULL;
	if ((cx = calloc(1, sizeof(*cx))) == NULL)
		return RS_ERR_NOMEM;
	if (dirsync_new(&cx->ds) != RS_OK) {
		free(cx);
		return RS_ERR_NOMEM;
	}
	*out = cx;
	return RS_OK;
}

void
cycle_ctx_reload(struct cycle_ctx *cx)
{
	dirsync_disconnect(cx->ds);
}

struct dirsync *
cycle_ctx_dirsync(struct cycle_ctx *cx)
{
	return cx->ds;
}

void
cycle_ctx_free(struct cycle_ctx *cx)
{
	if (cx == NULL)
		return;
	dirsync_free(cx->ds);
	free(cx);
}

/* Where cycle_bundle's bytes go: the file, and the hash to sign. */
struct cycle_out {
	struct sys_wfile	*f;
	struct rs_hash		*hs;
	uint64_t		 len;
};

static int
cycle_out_write(void *arg, const void *p, size_t n)
{
	struct cycle_out *o = arg;
	int r;

	if ((r = rs_hash_update(o->hs, p, n)) != RS_OK ||
	    (r = sys_wfile_write(o->f, p, n)) != RS_OK)
		return r;
	o->len += n;
	return RS_OK;
}

/*
 * The bundle's header fields: the full list, or (list NULL) a heartbeat
 * for the list whose hash is sha.
 */
static int
cycle_hdr(const struct cycle *cy, const struct rlist *list, const char *sha,
    uint64_t seq, unsigned flags, struct bundle_hdr *h)
{
	const struct agent_cfg *c = cy->c;
	size_t i;

	h->version = c->bundle_format;
	snprintf(h->agent, sizeof(h->agent), "%s", c->id);
	h->seq = seq;
	h->created = time(NULL);
	h->kind = list != NULL ? BUNDLE_FULL : BUNDLE_HEARTBEAT;
	snprintf(h->source, sizeof(h->source), "%s", cy->source);
	h->ndomains = acc_nlisted(cy->acc);
	h->nrelay = acc_nrelay(cy->acc);
	for (i = 0; i < h->ndomains; i++)
		snprintf(h->domains[i], sizeof(h->domains[i]), "%s",
		    acc_listed_name(cy->acc, i));
	for (i = 0; i < h->nrelay; i++)
		snprintf(h->domains[h->ndomains + i], sizeof(h->domains[0]),
		    "%s", acc_relay_name(cy->acc, i));
	h->flags = flags;
	if (list == NULL)
		return rs_unhex(sha, RS_SHA256_LEN, h->list_sha256);
	return RS_OK;
}

/*
 * Bundle and signature: the full list, or (list NULL) a heartbeat for the
 * list whose hash is sha.  The bundle is written to path as it is made,
 * and hashed on the way for the signature: it is never whole in memory
 * (uploaded from the file, push.c).  *len gets its size.
 */
static int
cycle_bundle(const struct cycle *cy, const struct rlist *list,
    const char *sha, uint64_t seq, unsigned flags, const char *path,
    uint64_t *len, struct rs_buf *sig)
{
	const struct agent_cfg *c = cy->c;
	struct bundle_hdr *h = NULL;
	struct cycle_out o;
	unsigned char md[RS_HASH_MAX];
	size_t mdlen = 0;
	int r;

	memset(&o, 0, sizeof(o));
	*len = 0;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = cycle_hdr(cy, list, sha, seq, flags, h)) != RS_OK)
		goto out;
	if ((r = rs_hash_new("sha512", &o.hs)) != RS_OK ||
	    (r = sys_wfile_open(path, 1, &o.f)) != RS_OK) {
		rs_error("write %s: %s", path, r == RS_ERR_SYSTEM ?
		    sys_errmsg() : rs_err_str(r));
		goto out;
	}
	if ((r = bundle_write_to(h, list, cycle_out_write, &o)) != RS_OK) {
		rs_error("write bundle %s.%" PRIu64 " to %s: %s", c->id, seq,
		    path, r == RS_ERR_SYSTEM ? sys_errmsg() : rs_err_str(r));
		goto out;
	}
	r = sys_wfile_commit(o.f);
	o.f = NULL;
	if (r != RS_OK) {
		rs_error("write %s: %s", path, sys_errmsg());
		goto out;
	}
	*len = o.len;
	/* The signature covers the gzip file's bytes, as uploaded. */
	if ((r = rs_hash_final(o.hs, md, &mdlen)) != RS_OK ||
	    (r = sshsig_sign(cy->key, SSHSIG_NAMESPACE, "sha512", md, mdlen,
	    sig)) != RS_OK)
		rs_error("sign bundle %s.%" PRIu64 ": %s", c->id, seq,
		    rs_err_str(r));
out:
	sys_wfile_abort(o.f);
	rs_hash_free(o.hs);
	free(h);
	return r;
}

/* Does the shrink guard refuse going from last to now entries? */
static int
cycle_shrinks(size_t last, size_t now, unsigned pct)
{
	if (now >= last)
		return 0;
	return (uint64_t)(last - now) * 100 >= (uint64_t)pct * last;
}

/*
 * Does relay i hold an approval (`sync --allow-shrink`, this run or an
 * earlier one) that covers a list of n entries?  It covers the approved
 * list and any later one that is no new shrink beyond shrink_threshold
 * from it: the directory may change while the relay is down.
 */
static int
cycle_approved(const struct cycle *cy, size_t i, size_t n)
{
	const struct relay_state *rs = &cy->rs[i];

	return rs->shrink_ok_entries > 0 &&
	    !cycle_shrinks((size_t)rs->shrink_ok_entries, n, cy->c->shrink_pct);
}

/*
 * `sync --allow-shrink`: the administrator approves this list for every
 * relay it goes to now.  Each relay keeps the approval (relay-NAME.state)
 * until it confirms a list, so one that is down gets the flag later.
 */
static void
cycle_approve(struct cycle *cy, const int *mask, size_t n)
{
	const struct agent_cfg *c = cy->c;
	size_t i;

	for (i = 0; i < c->nrelays; i++) {
		if (!mask[i])
			continue;
		cy->rs[i].shrink_ok_entries = n;
		cy->rs[i].shrink_ok_time = (int64_t)cy->now;
		state_relay_save(c, c->relays[i].name, &cy->rs[i]);
		sys_event(SYS_EV_SHRINK, "sync %s: ALLOW-SHRINK: the "
		    "administrator approved a list of %zu entries; it goes "
		    "with the allow-shrink flag until the relay has "
		    "installed it", c->relays[i].name, n);
	}
}

/*
 * Is an address of the last list in a relay domain now (bundle format
 * 2)?  A domain that became a relay domain loses no mail, since the
 * relays accept any recipient there, so its addresses are no shrink.
 * (state_count_last asks this of each line.)
 */
static int
cycle_relayed(void *arg, const char *a, size_t len)
{
	const struct cycle *cy = arg;
	const char *d;
	size_t dlen;

	return (d = addr_domain(a, len, &dlen)) != NULL &&
	    acc_relayed(cy->acc, d, dlen);
}

/*
 * The guards, before a list goes to the relays in mask: RS_OK, or an
 * exit code in *rc.
 */
static int
cycle_guard(struct cycle *cy, const int *mask, const struct rlist *list,
    int *rc)
{
	const struct agent_cfg *c = cy->c;
	size_t nlast = 0, n = rlist_count(list), i, relayed = 0;
	int r, covered = 1;

	*rc = AGENT_EXIT_FAIL;
	if (n == 0) {
		/* Installing it would reject all mail for the domains. */
		sys_event(SYS_EV_SHRINK, "sync: the export found no addresses "
		    "in %s; refusing to push an empty list",
		    acc_listed_str(cy->acc));
		*rc = AGENT_EXIT_GUARD;
		return RS_ERR_INVAL;
	}
	if (cy->o->allow_shrink)
		cycle_approve(cy, mask, n);
	/*
	 * Counts are all the guard needs (its entries, and those in a relay
	 * domain now): no second list beside this one.
	 */
	r = state_count_last(c, acc_nrelay(cy->acc) > 0 ? cycle_relayed :
	    NULL, cy, &nlast, &relayed);
	if (r == RS_ERR_NOTFOUND)
		return RS_OK;
	if (r != RS_OK)
		return r;
	if (!cycle_shrinks(nlast, n, c->shrink_pct))
		return RS_OK;
	if (relayed > 0 && !cycle_shrinks(nlast, n + relayed, c->shrink_pct)) {
		rs_info("sync: list shrank from %zu to %zu entries, but %zu of "
		    "the last list's addresses are in relay domains now, "
		    "where the relays accept every recipient: no shrink",
		    nlast, n, relayed);
		return RS_OK;
	}
	for (i = 0; i < c->nrelays; i++)
		if (mask[i] && !cycle_approved(cy, i, n))
			covered = 0;
	if (!covered) {
		sys_event(SYS_EV_SHRINK, "sync: list shrank from %zu to %zu "
		    "entries (more than shrink_threshold %u%%); refusing to "
		    "push.  Check the directory; if the change is intended, "
		    "run: rcptsync-agent sync --allow-shrink", nlast, n,
		    c->shrink_pct);
		*rc = AGENT_EXIT_GUARD;
		return RS_ERR_INVAL;
	}
	sys_event(SYS_EV_SHRINK, "sync: ALLOW-SHRINK: a list of %zu entries "
	    "after %zu (beyond shrink_threshold %u%%), approved by the "
	    "administrator", n, nlast, c->shrink_pct);
	return RS_OK;
}

/*
 * Split mask into the relays whose bundle carries the allow-shrink flag
 * (an approval covers the list) and the others.
 */
static void
cycle_split(const struct cycle *cy, const int *mask, size_t n,
    int *flagged, int *plain, size_t *nflagged, size_t *nplain)
{
	const struct agent_cfg *c = cy->c;
	const struct relay_state *rs;
	char when[32];
	size_t i;

	*nflagged = *nplain = 0;
	for (i = 0; i < c->nrelays; i++) {
		flagged[i] = plain[i] = 0;
		if (!mask[i])
			continue;
		rs = &cy->rs[i];
		if (cycle_approved(cy, i, n)) {
			flagged[i] = 1;
			(*nflagged)++;
			if (cy->o->allow_shrink)
				continue;
			bundle_time_fmt((time_t)rs->shrink_ok_time, when,
			    sizeof(when));
			rs_warn("sync %s: ALLOW-SHRINK approved at %s (a list "
			    "of %" PRIu64 " entries) and not yet installed "
			    "there: this list of %zu entries carries the flag",
			    c->relays[i].name, when, rs->shrink_ok_entries, n);
			continue;
		}
		if (rs->shrink_ok_entries > 0)
			rs_warn("sync %s: the approved shrink (a list of %"
			    PRIu64 " entries) does not cover this list of %zu "
			    "entries: it goes without the allow-shrink flag",
			    c->relays[i].name, rs->shrink_ok_entries, n);
		plain[i] = 1;
		(*nplain)++;
	}
}

/* The relay has confirmed a list of ours: an approval has done its job. */
static void
cycle_approval_done(struct relay_state *rs)
{
	rs->shrink_ok_entries = 0;
	rs->shrink_ok_time = 0;
}

/* A relay failed this cycle: back off, doubling, up to interval. */
static void
cycle_backoff(struct cycle *cy, size_t i)
{
	struct relay_state *rs = &cy->rs[i];
	unsigned d = cy->c->relays[i].backoff, k;

	if (rs->failures < 30)
		rs->failures++;
	for (k = 1; k < rs->failures && d < cy->c->interval; k++)
		d *= 2;
	if (d > cy->c->interval || d == 0)
		d = cy->c->interval;
	rs->next_attempt = (int64_t)cy->now + d;
	if (cy->wait == 0 || d < cy->wait)
		cy->wait = d;
}

/*
 * Push one bundle (the list, or a heartbeat when list is NULL) to every
 * relay in mask, and record what each said.
 */
static int
cycle_push(struct cycle *cy, const int *mask, const struct rlist *list,
    const char *sha, unsigned flags)
{
	const struct agent_cfg *c = cy->c;
	const struct agent_relay *r;
	struct relay_state *rs;
	struct rs_buf sig;
	struct push_item it;
	char *path = NULL;
	uint64_t blen = 0;
	char name[RS_MAX_BUNDLE_NAME], reason[RS_MAX_REASON + 256];
	const char *what = list != NULL ? "sequence" : "heartbeat";
	uint64_t seq = 0;
	enum push_result res;
	int uploaded, saved = 0, ret = RS_ERR_SYSTEM;
	size_t i;

	rs_buf_init(&sig, RS_MAX_SIG_BYTES);
	if ((path = agent_path(c->state_dir, STATE_OUTGOING)) == NULL ||
	    state_next_seq(c, &seq) != RS_OK ||
	    cycle_bundle(cy, list, sha, seq, flags, path, &blen, &sig) !=
	    RS_OK || bundle_name(c->id, seq, name, sizeof(name)) != RS_OK)
		goto out;
	/* The audit copy is of the last list; a heartbeat has none. */
	if (list != NULL && state_save_bundle(c, name, path, &sig) != RS_OK)
		goto out;
	memset(&it, 0, sizeof(it));
	it.agent = c->id;
	it.seq = seq;
	it.bundle_name = name;
	it.bundle_path = path;
	it.bundle_len = blen;
	it.sig = &sig;

	for (i = 0; i < c->nrelays; i++) {
		if (!mask[i])
			continue;
		r = &c->relays[i];
		rs = &cy->rs[i];
		res = push_relay(c, r, &it, &uploaded, reason, sizeof(reason));
		if (uploaded && list != NULL) {
			cy->list_bytes += blen;
			/* The list has left: it is now the guard's base. */
			if (!saved++ && state_save_last(c, list) != RS_OK)
				rs_warn("sync: could not record the pushed "
				    "list; the next shrink check uses the "
				    "previous one");
		}
		if (uploaded && list == NULL)
			cy->heartbeats++;
		switch (res) {
		case PUSH_INSTALLED:
		case PUSH_UNCHANGED:
			cy->nok++;
			memcpy(rs->accepted_sha, sha, sizeof(rs->accepted_sha));
			rs->accepted_seq = seq;
			rs->failures = 0;
			rs->next_attempt = 0;
			rs->confirmed = (int64_t)time(NULL);
			cycle_approval_done(rs);
			if (list != NULL)
				sys_event(SYS_EV_SYNC_OK, "sync %s: installed "
				    "sequence %" PRIu64 " (%zu entries)%s%s",
				    r->name, seq, rlist_count(list),
				    reason[0] ? "; " : "", reason);
			else
				sys_event(SYS_EV_UNCHANGED, "sync %s: "
				    "heartbeat %" PRIu64 " confirmed: the "
				    "relay has our list %.16s...", r->name,
				    seq, sha);
			break;
		case PUSH_REFUSED:
			cy->nref++;
			rs->failures = 0;
			rs->next_attempt = 0;
			/*
			 * A refused heartbeat: the relay has another list.
			 * A refused list is not offered again for a while:
			 * the receiver would refuse it again.
			 */
			if (list == NULL)
				rs->accepted_sha[0] = '\0';
			else {
				memcpy(rs->refused_sha, sha,
				    sizeof(rs->refused_sha));
				rs->refused_time = (int64_t)time(NULL);
			}
			sys_event(SYS_EV_REFUSED, "sync %s: the receiver refused "
			    "%s %" PRIu64 ": %s", r->name, what, seq, reason);
			break;
		case PUSH_FAILED:
			cy->nfail++;
			cycle_backoff(cy, i);
			rs_error("sync %s: %s %" PRIu64 " not %s: %s",
			    r->name, what, seq, list != NULL ? "installed" :
			    "confirmed", reason);
			break;
		}
		state_relay_save(c, r->name, rs);
	}
	ret = RS_OK;
out:
	/* Sent, or not to be sent: the next push writes a new one. */
	if (path != NULL)
		(void)sys_remove(path);
	free(path);
	rs_buf_free(&sig);
	return ret;
}

/*
 * Has relay i confirmed our list (an install or a heartbeat) recently
 * enough?  Tell the administrator when it crosses stale_warning or
 * stale_critical, and again every heartbeat_interval while it stays so.
 */
static void
cycle_stale(struct cycle *cy, size_t i)
{
	const struct agent_cfg *c = cy->c;
	struct relay_state *rs = &cy->rs[i];
	int64_t base = rs->confirmed > 0 ? rs->confirmed : rs->since;
	int64_t age = (int64_t)cy->now - base;
	char when[32];
	unsigned lvl = 0;

	if (age > (int64_t)c->stale_critical)
		lvl = 2;
	else if (age > (int64_t)c->stale_warning)
		lvl = 1;
	if (lvl == 0) {
		if (rs->stale_level > 0)
			rs_info("sync %s: the relay confirmed our list again",
			    c->relays[i].name);
		rs->stale_level = 0;
		return;
	}
	if (lvl <= rs->stale_level && (int64_t)cy->now - rs->stale_told <
	    (int64_t)c->heartbeat_interval)
		return;
	if (rs->confirmed > 0)
		bundle_time_fmt((time_t)rs->confirmed, when, sizeof(when));
	else
		snprintf(when, sizeof(when), "never");
	sys_event(lvl == 2 ? SYS_EV_RELAY_STALE_CRIT : SYS_EV_RELAY_STALE,
	    "sync %s: the relay has not confirmed our list for %llds (more "
	    "than %s %us; last confirmed: %s); Postfix there answers from "
	    "an old list.  See the events above for why", c->relays[i].name,
	    (long long)age, lvl == 2 ? "stale_critical" : "stale_warning",
	    lvl == 2 ? c->stale_critical : c->stale_warning, when);
	rs->stale_level = lvl;
	rs->stale_told = (int64_t)cy->now;
}

/*
 * The relay refused this very list: offer it again only after
 * heartbeat_interval (the receiver's guard or domains may have been fixed
 * meanwhile; `sync` from the command line always offers it).
 */
static int
cycle_held_back(const struct cycle *cy, size_t i, const char *sha)
{
	const struct relay_state *rs = &cy->rs[i];
	char when[32];

	/* An approval given after the refusal may be what it waited for. */
	if (!cy->o->scheduled || strcmp(rs->refused_sha, sha) != 0 ||
	    strcmp(rs->accepted_sha, sha) == 0 ||
	    (int64_t)cy->now - rs->refused_time >=
	    (int64_t)cy->c->heartbeat_interval ||
	    (rs->shrink_ok_entries > 0 &&
	    rs->shrink_ok_time >= rs->refused_time))
		return 0;
	bundle_time_fmt((time_t)(rs->refused_time +
	    (int64_t)cy->c->heartbeat_interval), when, sizeof(when));
	rs_info("sync %s: the relay refused this list; offering it again at "
	    "%s (or run sync)", cy->c->relays[i].name, when);
	return 1;
}

/* Which relays this cycle is for; RS_OK, or an exit code in *rc. */
static int
cycle_select(struct cycle *cy, unsigned *retry_in, int *rc)
{
	const struct agent_cfg *c = cy->c;
	size_t i, nsel = 0;
	unsigned d;

	for (i = 0; i < c->nrelays; i++) {
		if (cy->o->relay != NULL &&
		    strcmp(cy->o->relay, c->relays[i].name) != 0)
			continue;
		if (state_relay_load(c, c->relays[i].name, &cy->rs[i]) !=
		    RS_OK) {
			*rc = AGENT_EXIT_FAIL;
			return RS_ERR_SYSTEM;
		}
		nsel++;
		if (cy->rs[i].since == 0)
			cy->rs[i].since = (int64_t)cy->now;
		if (cy->o->scheduled &&
		    cy->rs[i].next_attempt > (int64_t)cy->now) {
			rs_debug("sync %s: backing off until %" PRId64,
			    c->relays[i].name, cy->rs[i].next_attempt);
			d = (unsigned)(cy->rs[i].next_attempt -
			    (int64_t)cy->now);
			if (retry_in != NULL && (*retry_in == 0 ||
			    d < *retry_in))
				*retry_in = d;
			continue;
		}
		cy->todo[i] = 1;
	}
	if (nsel == 0) {
		rs_error("sync: no relay named %s in %s", cy->o->relay,
		    c->path);
		*rc = AGENT_EXIT_USAGE;
		return RS_ERR_NOTFOUND;
	}
	return RS_OK;
}

/* The cycle's one summary line: what was read, what was pushed. */
static void
cycle_log(const struct cycle *cy, const struct poll_result *pr)
{
	struct cycle_ctx *cx = cy->cx;
	char what[512];

	switch (pr->kind) {
	case POLL_SAME:
		if (pr->usn_from > 0)
			snprintf(what, sizeof(what), "changes from USN %"
			    PRIu64 " to %" PRIu64 ": none for the list",
			    pr->usn_from, pr->usn);
		else
			snprintf(what, sizeof(what), "no change (USN %" PRIu64
			    ")", pr->usn);
		break;
	case POLL_DELTA:
		snprintf(what, sizeof(what), "changes from USN %" PRIu64
		    " to %" PRIu64 ": %" PRIu64 " object(s)%s%s", pr->usn_from,
		    pr->usn, pr->changed, pr->why[0] != '\0' ? ", " : "",
		    pr->why);
		break;
	default:
		snprintf(what, sizeof(what), "full export (%s)", pr->why);
		break;
	}
	rs_info("cycle %" PRIu64 ": %s; read %" PRIu64 " entries, %" PRIu64
	    " bytes; pushed %" PRIu64 " list bytes, %u heartbeats; since "
	    "start: read %" PRIu64 " entries, %" PRIu64 " bytes in %" PRIu64
	    " cycles, pushed %" PRIu64 " list bytes, %" PRIu64 " heartbeats; "
	    "LDAP: %" PRIu64 " requests (%" PRIu64 " pages, %" PRIu64
	    " reads, %" PRIu64 " range reads)",
	    cx->cycles, what, pr->entries, pr->bytes, cy->list_bytes,
	    cy->heartbeats, cx->entries, cx->bytes, cx->cycles,
	    cx->list_bytes, cx->heartbeats, ldapx_tally_requests(&cy->ldap),
	    cy->ldap.pages, cy->ldap.reads, cy->ldap.ranges);
}

/* What the poll asked of the directory: the tally's growth from t0. */
static void
cycle_tally(struct cycle *cy, const struct ldapx_tally *t0)
{
	struct ldapx_tally t;

	ldapx_tally_get(&t);
	cy->ldap.pages = t.pages - t0->pages;
	cy->ldap.reads = t.reads - t0->reads;
	cy->ldap.ranges = t.ranges - t0->ranges;
}

int
cycle_run(const struct agent_cfg *c, const struct cycle_opts *o,
    struct cycle_ctx *cx, unsigned *retry_in)
{
	struct cycle *cy = NULL;
	struct export_stats *st = NULL;
	struct ldapx_tally t0;
	struct poll_result pr;
	struct rlist *list = NULL;
	int push[AGENT_MAX_RELAYS], beat[AGENT_MAX_RELAYS];
	int flagged[AGENT_MAX_RELAYS], plain[AGENT_MAX_RELAYS];
	size_t i, ntodo = 0, npush = 0, nbeat = 0, nflagged, nplain;
	int rc = AGENT_EXIT_FAIL, polled = 0, full, r;
	void *lock = NULL;

	if (retry_in != NULL)
		*retry_in = 0;
	memset(&pr, 0, sizeof(pr));
	memset(push, 0, sizeof(push));
	memset(beat, 0, sizeof(beat));
	if ((cy = calloc(1, sizeof(*cy))) == NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	cy->c = c;
	cy->o = o;
	cy->cx = cx;
	cy->now = time(NULL);
	/*
	 * One cycle at a time per state directory: the service and a Task
	 * Scheduler sync could otherwise take the same sequence number.
	 */
	if (sys_lock_state(c->state_dir, RS_LOCK_WAIT_SECS, &lock) != RS_OK) {
		rs_error("sync: %s", sys_errmsg());
		goto out;
	}
	if (cycle_select(cy, retry_in, &rc) != RS_OK)
		goto out;
	for (i = 0; i < c->nrelays; i++)
		ntodo += (size_t)cy->todo[i];
	if (ntodo == 0) {
		rc = AGENT_EXIT_OK;
		goto out;
	}
	/* The key first: a missing key is a config error, found at once. */
	if (agent_load_key(c, &cy->key) != RS_OK) {
		rc = AGENT_EXIT_USAGE;
		goto out;
	}
	cx->cycles++;
	full = o->full || (o->full_first && !cx->polled);
	ldapx_tally_get(&t0);
	r = dirsync_poll(cx->ds, c, full, o->progress, &pr, st);
	cycle_tally(cy, &t0);
	if (r != RS_OK) {
		cx->entries += pr.entries;
		cx->bytes += pr.bytes;
		rs_error("sync: export failed; nothing pushed, the relays keep "
		    "the last list");
		goto out;
	}
	/* dirsync knows only that it was forced; say who forced it. */
	if (o->full && pr.kind == POLL_FULL)
		snprintf(pr.why, sizeof(pr.why), "asked for (--full)");
	polled = 1;
	cx->polled = 1;
	cx->entries += pr.entries;
	cx->bytes += pr.bytes;
	cy->source = st->source[0] != '\0' ? st->source : st->server;
	cy->acc = pr.acc;

	for (i = 0; i < c->nrelays; i++) {
		if (!cy->todo[i])
			continue;
		if (cycle_held_back(cy, i, pr.sha)) {
			cy->nref++;
		} else if (strcmp(cy->rs[i].accepted_sha, pr.sha) != 0) {
			push[i] = 1;
			npush++;
		} else if ((int64_t)cy->now - cy->rs[i].confirmed >=
		    (int64_t)c->heartbeat_interval) {
			beat[i] = 1;
			nbeat++;
		} else {
			cy->nok++;
			cy->rs[i].failures = 0;
			cy->rs[i].next_attempt = 0;
			cycle_approval_done(&cy->rs[i]);
			rs_info("sync %s: unchanged (sequence %" PRIu64
			    " installed); nothing pushed", c->relays[i].name,
			    cy->rs[i].accepted_seq);
		}
	}
	if (npush > 0) {
		list = pr.list;
		pr.list = NULL;
		if (list == NULL && dirsync_list(cx->ds, &list) != RS_OK)
			goto out;
		/* A refused list is no list to vouch for: no heartbeats. */
		if (cycle_guard(cy, push, list, &rc) != RS_OK)
			goto out;
		/* One bundle with the flag, one without, as needed. */
		cycle_split(cy, push, rlist_count(list), flagged, plain,
		    &nflagged, &nplain);
		if (nflagged > 0 && cycle_push(cy, flagged, list, pr.sha,
		    BUNDLE_FLAG_ALLOW_SHRINK) != RS_OK)
			goto out;
		if (nplain > 0 && cycle_push(cy, plain, list, pr.sha, 0) !=
		    RS_OK)
			goto out;
	}
	if (nbeat > 0 && cycle_push(cy, beat, NULL, pr.sha, 0) != RS_OK)
		goto out;

	if (retry_in != NULL && cy->wait > 0 && (*retry_in == 0 ||
	    cy->wait < *retry_in))
		*retry_in = cy->wait;
	if (cy->nfail == 0 && cy->nref == 0)
		rc = AGENT_EXIT_OK;
	else if (cy->nok == 0)
		rc = cy->nref > 0 ? AGENT_EXIT_REFUSED : AGENT_EXIT_FAIL;
	else
		rc = AGENT_EXIT_PARTIAL;
out:
	if (cy != NULL && polled) {
		cx->list_bytes += cy->list_bytes;
		cx->heartbeats += cy->heartbeats;
		cycle_log(cy, &pr);
	}
	/* Every selected relay, whatever happened: is it going stale? */
	for (i = 0; cy != NULL && i < c->nrelays; i++)
		if (cy->rs[i].since != 0) {
			cycle_stale(cy, i);
			state_relay_save(c, c->relays[i].name, &cy->rs[i]);
		}
	sys_unlock_state(lock);
	rlist_free(pr.list);
	rlist_free(list);
	if (cy != NULL)
		sshkey_free(cy->key);
	free(cy);
	free(st);
	return rc;
}
