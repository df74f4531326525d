/*
 * spool.c - pick the pending bundles and decide about each: install,
 * heartbeat, or refuse into quarantine.
 *
 * API:        rcv_spool_run (one pass over the spool, under the lock held
 *             by the caller), rcv_spool_approve.
 * Ownership:  all memory is local; decisions are reported through the
 *             caller's callback as one line each.
 * Errors:     rcv_spool_run returns the worst enum rcv_outcome: RCV_DONE,
 *             RCV_REFUSED (something was quarantined) or RCV_SYSFAIL
 *             (left in the spool for the next run), or RCV_CONFIG for a
 *             configuration problem (allowed_signers).  Each stage of
 *             rcv_spool_one returns the same type, RCV_NEXT to pass the
 *             bundle on; RS_ERR_* stays with the layers below.
 * Trust:      names in the spool are matched against FORMAT.md section 1
 *             and nothing else is touched, except upload temporaries
 *             (".*") older than RS_STALE_UPLOAD_SECS, old orphaned .sig
 *             names, and names of the pattern whose sequence is above
 *             2^63-1 (refused and removed).  Nothing is followed, and
 *             only regular files reach the quarantine (state.c): a
 *             directory, link or FIFO under a bundle's name is removed.
 *
 * Per agent, the pending bundles are taken newest first until one's
 * signature verifies; the older ones are then superseded unopened.  A
 * bundle that does not verify is anyone's upload and displaces nothing.
 *
 * Order per bundle (rcptsync-receiver(8), DESCRIPTION):
 *   signature (verify.c) -> sequence (replay/rollback) -> content,
 *   streamed into STATE/AGENT.list.new -> empty and shrink guards ->
 *   install (install.c: map, AGENT.list, AGENT.state, via its journal)
 *   -> history.
 * A crash after the install but before the bundle left the spool is
 * recognised on the next run by "the last install's sequence and
 * list-sha256, a list, not in history" and finished quietly; a heartbeat
 * or a bundle already in history with that sequence is a replay.
 *
 * Every refusal (and every superseded bundle) is counted by its class,
 * RCV_WHY_*: in the agent's state when the agent is known, otherwise in
 * STATE/unattributed.counts.  The status file is rewritten after each
 * decision, so that a waiting agent learns its verdict at once; the caller
 * rewrites it, and the metrics, once more at the end of the run.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rs_attr.h"
#include "addr.h"
#include "bundle.h"
#include "hash.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "signers.h"

struct rcv_spool_ent {
	char		agent[RS_MAX_AGENT_ID + 1];
	uint64_t	seq;
};

struct rcv_spool_ctx {
	const struct rcv_cfg		*c;
	const struct signers		*trusted;
	rcv_report_fn			*report;
	void				*arg;
};

static void
rcv_spool_report(struct rcv_spool_ctx *x, const char *fmt, ...)
    RS_PRINTF(2, 3)
    ;

static void
rcv_spool_report(struct rcv_spool_ctx *x, const char *fmt, ...)
{
	char line[RS_LOG_LINE];
	va_list ap;

	if (x->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	x->report(x->arg, line);
}

static int
rcv_spool_ent_cmp(const void *a, const void *b)
{
	const struct rcv_spool_ent *x = a, *y = b;
	int r = strcmp(x->agent, y->agent);

	if (r != 0)
		return r;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Remove the spool's copy of a bundle and its signature, whatever they are
 * (a directory with its contents too): nothing in the spool is followed.
 */
static void
rcv_spool_unlink(const struct rcv_cfg *c, const char *name)
{
	char sig[RS_MAX_BUNDLE_NAME + 8];

	(void)rcv_util_remove(c->spool_dir, name);
	if (snprintf(sig, sizeof(sig), "%s.sig", name) < (int)sizeof(sig))
		(void)rcv_util_remove(c->spool_dir, sig);
}

/*
 * Record a refusal: state (with its counter), quarantine, status, log,
 * report.  why is the RCV_WHY_* class, the metrics' reason label.
 */
static enum rcv_outcome
rcv_spool_refuse(struct rcv_spool_ctx *x, struct rcv_bundle *b,
    struct rcv_state *st, int why, const char *reason)
{
	const struct rcv_cfg *c = x->c;
	char src[4096];
	const char *from = NULL;
	int r;

	if (why < 0 || why >= RCV_WHY_N)
		why = RCV_WHY_OTHER;
	rs_error("refuse %s: %s", b->name, reason);
	rcv_spool_report(x, "refused %s %" PRIu64 ": %s", b->agent, b->seq,
	    reason);
	/*
	 * Only agents we know get a state file: anyone can upload under any
	 * name, and state files decide which lists make up the map.  For
	 * the same reason the others' refusals are counted without a name:
	 * a name per upload would let anyone grow the metrics without end.
	 */
	if (b->verified || st->have || st->rej_seq != 0) {
		st->rej_seq = b->seq;
		st->rej_time = time(NULL);
		snprintf(st->rej_reason, sizeof(st->rej_reason), "%s",
		    reason);
		st->rejections[why]++;
		if ((r = rcv_st_save(c, b->agent, st)) != RS_OK)
			return RCV_SYSFAIL;
	} else
		(void)rcv_st_unattributed_add(c, why);
	if (b->work_path[0] != '\0')
		from = b->work_path;
	else if (rcv_util_path(src, sizeof(src), c->spool_dir, b->name) ==
	    RS_OK)
		from = src;
	r = rcv_keep_quarantine(c, b->agent, b->seq, from,
	    b->siglen > 0 ? b->sig : NULL, b->siglen, reason);
	if (r != RS_OK)
		return RCV_SYSFAIL;
	rcv_spool_unlink(c, b->name);
	(void)rcv_st_status_write(c);
	return RCV_REFUSED;
}

static void
rcv_spool_drop_work(struct rcv_bundle *b)
{
	if (b->work_path[0] != '\0') {
		unlink(b->work_path);
		b->work_path[0] = '\0';
	}
}

/* Is an install journal waiting for its finish (rcv_inst_recover)? */
static int
rcv_spool_committed(const struct rcv_cfg *c)
{
	struct rcv_journal j;
	int committed;

	return rcv_st_journal_load(c, &j, &committed) == RS_OK && committed;
}

static int
rcv_spool_is_sys(int r)
{
	return r == RS_ERR_SYSTEM || r == RS_ERR_NOMEM ||
	    r == RS_ERR_INTERNAL || r == RS_ERR_CRYPTO;
}

/*
 * Accepted, or finished after a crash: the bundle goes to history.  The
 * spool copy goes first: "in history" must mean "left the spool", so that
 * the same bundle found in the spool again is a replay, and one not in
 * history is our own unfinished install.
 */
static void
rcv_spool_to_history(const struct rcv_cfg *c, struct rcv_bundle *b)
{
	rcv_spool_unlink(c, b->name);
	if (b->work_path[0] != '\0' && rcv_keep_history_add(c, b->agent,
	    b->seq, b->work_path, b->sig, b->siglen) == RS_OK)
		b->work_path[0] = '\0';
	rcv_spool_drop_work(b);
}

static enum rcv_outcome
rcv_spool_heartbeat(struct rcv_spool_ctx *x, struct rcv_bundle *b,
    struct rcv_state *st, const char *sha)
{
	const struct rcv_cfg *c = x->c;
	char reason[RS_MAX_REASON];

	if (!st->have) {
		snprintf(reason, sizeof(reason), "heartbeat, but no list of "
		    "agent %s is installed", b->agent);
		return rcv_spool_refuse(x, b, st, RCV_WHY_HEARTBEAT, reason);
	}
	if (strcmp(sha, st->sha256) != 0) {
		snprintf(reason, sizeof(reason), "heartbeat for list "
		    "%.16s..., but the installed list is %.16s...", sha,
		    st->sha256);
		return rcv_spool_refuse(x, b, st, RCV_WHY_HEARTBEAT, reason);
	}
	st->seq = b->seq;
	st->heartbeat_time = time(NULL);
	if (rcv_st_save(c, b->agent, st) != RS_OK)
		return RCV_SYSFAIL;
	rcv_spool_drop_work(b);
	rcv_spool_unlink(c, b->name);
	rs_info("heartbeat %s: list %.16s... is installed (%" PRIu64
	    " entries)", b->name, sha, st->count);
	rcv_spool_report(x, "heartbeat %s %" PRIu64 ": %" PRIu64 " entries",
	    b->agent, b->seq, st->count);
	(void)rcv_st_status_write(c);
	return RCV_DONE;
}

/* One bundle on its way through the stages of rcv_spool_one. */
struct rcv_spool_job {
	struct rcv_spool_ctx	*x;
	struct rcv_bundle	*b;
	struct rcv_state	 st;		/* the agent's, as loaded */
	struct rcv_listres	 res;		/* after the content stage */
	char			 reason[RS_MAX_REASON];
	char			 sha[2 * RS_SHA256_LEN + 1];	/* header's */
	char			 list_new[4096]; /* STATE/AGENT.list.new */
	uint64_t		 t0;
};

/* 1. The signature, over a private copy, before anything else. */
static enum rcv_outcome
rcv_spool_signature(struct rcv_spool_job *j)
{
	const struct rcv_cfg *c = j->x->c;
	struct rcv_bundle *b = j->b;
	char path[4096];
	int r;

	snprintf(j->reason, sizeof(j->reason), "internal error");
	r = rcv_vfy_signature(c, j->x->trusted, b, j->reason,
	    sizeof(j->reason));
	if (rcv_spool_is_sys(r))
		return RCV_SYSFAIL;
	if (r == RS_ERR_NOTFOUND && b->work_path[0] == '\0' &&
	    rcv_util_path(path, sizeof(path), c->spool_dir, b->name) ==
	    RS_OK && access(path, F_OK) == -1 && errno == ENOENT) {
		/* Removed since the scan (by its uploader): nothing to do. */
		rs_info("skip %s: gone from the spool", b->name);
		return RCV_DONE;
	}
	if (r != RS_OK)
		return rcv_spool_refuse(j->x, b, &j->st, b->why, j->reason);
	return RCV_NEXT;
}

/*
 * Is this our own install, interrupted before the bundle left the spool?
 * The list of the last install (its sequence and list-sha256), not yet in
 * history.  A heartbeat never is: it is never kept in history, so "not in
 * history" proves nothing for it.  install_seq 0 is a state file from
 * before it was kept.  RCV_DONE: finished; RCV_NEXT: not ours.
 */
static enum rcv_outcome
rcv_spool_unfinished(struct rcv_spool_job *j)
{
	const struct rcv_cfg *c = j->x->c;
	struct rcv_bundle *b = j->b;
	char path[4096], sha[2 * RS_SHA256_LEN + 1];
	int r;

	if (b->seq != j->st.seq || rcv_util_path(path, sizeof(path),
	    c->history_dir, b->name) != RS_OK || access(path, F_OK) == 0 ||
	    errno != ENOENT)
		return RCV_NEXT;
	r = rcv_vfy_content(c, b, NULL, NULL, j->reason, sizeof(j->reason));
	if (rcv_spool_is_sys(r))
		return RCV_SYSFAIL;
	if (r != RS_OK)
		return RCV_NEXT;
	rs_hex(b->hdr->list_sha256, RS_SHA256_LEN, sha);
	if (b->hdr->kind == BUNDLE_HEARTBEAT || (j->st.install_seq != b->seq &&
	    j->st.install_seq != 0) || strcmp(sha, j->st.sha256) != 0)
		return RCV_NEXT;
	rs_info("finish %s: already installed (sequence %" PRIu64 ")",
	    b->name, b->seq);
	rcv_spool_to_history(c, b);
	return RCV_DONE;
}

/* 2. Replay and rollback. */
static enum rcv_outcome
rcv_spool_sequence(struct rcv_spool_job *j)
{
	struct rcv_bundle *b = j->b;
	enum rcv_outcome o;

	if (!j->st.have || b->seq > j->st.seq)
		return RCV_NEXT;
	if ((o = rcv_spool_unfinished(j)) != RCV_NEXT)
		return o;
	snprintf(j->reason, sizeof(j->reason), "sequence %" PRIu64 " is not "
	    "greater than the last accepted %" PRIu64 " (replay or "
	    "rollback)", b->seq, j->st.seq);
	return rcv_spool_refuse(j->x, b, &j->st, RCV_WHY_REPLAY, j->reason);
}

/* 3. Content, streamed into the new list file; a heartbeat ends here. */
static enum rcv_outcome
rcv_spool_content(struct rcv_spool_job *j)
{
	const struct rcv_cfg *c = j->x->c;
	const struct rcv_signer *sg;
	struct rcv_bundle *b = j->b;
	int r;

	r = rcv_vfy_content(c, b, j->list_new, &j->res, j->reason,
	    sizeof(j->reason));
	if (rcv_spool_is_sys(r))
		return RCV_SYSFAIL;
	if (r != RS_OK)
		return rcv_spool_refuse(j->x, b, &j->st, b->why, j->reason);
	rs_hex(b->hdr->list_sha256, RS_SHA256_LEN, j->sha);
	if (b->hdr->kind == BUNDLE_HEARTBEAT) {
		unlink(j->list_new);
		return rcv_spool_heartbeat(j->x, b, &j->st, j->sha);
	}
	if (j->res.dropped > 0) {
		sg = rcv_cfg_signer(c, b->agent);
		rs_info("filter %s: dropped %" PRIu64 " entries outside the "
		    "accepted domains (%s): not in relay_domains%s",
		    b->name, j->res.dropped, j->res.dropped_domains,
		    sg != NULL && sg->domains != NULL ?
		    " or [signer] domains" : "");
	}
	return RCV_NEXT;
}

/*
 * The addresses of the agent's installed list that the new list's relay
 * domains accept: a domain that became a relay domain loses no mail (its
 * "@domain" key takes any recipient), so its addresses are no shrink.  A
 * domain that disappears, or one left out by relay_domains, still is.
 */
static uint64_t
rcv_spool_relay_covered(const struct rcv_cfg *c, const struct rcv_bundle *b)
{
	const struct rcv_signer *sg = rcv_cfg_signer(c, b->agent);
	const struct bundle_hdr *h = b->hdr;
	char path[4096], name[RS_MAX_AGENT_ID + 8], line[RS_MAX_ADDR_LEN + 2];
	const char *dom;
	uint64_t n = 0;
	size_t len, dlen;
	long gi;
	FILE *fp;

	snprintf(name, sizeof(name), "%s.list", b->agent);
	if (h->nrelay == 0 ||
	    rcv_util_path(path, sizeof(path), c->state_dir, name) != RS_OK ||
	    (fp = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		len = strcspn(line, "\n");
		if (len == 0 || line[0] == '@' ||
		    (dom = addr_domain(line, len, &dlen)) == NULL)
			continue;
		gi = bundle_domain_find(h, dom, dlen);
		if (gi >= 0 && (size_t)gi >= h->ndomains &&
		    rcv_cfg_allows(c, sg, h->domains[gi],
		    strlen(h->domains[gi])))
			n++;
	}
	fclose(fp);
	return n;
}

/* 4. Guards: never an empty list, never a silent large shrink. */
static enum rcv_outcome
rcv_spool_guards(struct rcv_spool_job *j)
{
	const struct rcv_cfg *c = j->x->c;
	struct rcv_bundle *b = j->b;
	const struct rcv_state *st = &j->st;
	uint64_t n = j->res.accepted, covered;
	enum rcv_outcome o;
	char path[4096];

	if (n == 0) {
		unlink(j->list_new);
		snprintf(j->reason, sizeof(j->reason), "empty: no entries in "
		    "the accepted domains (%" PRIu64 " dropped)",
		    j->res.dropped);
		return rcv_spool_refuse(j->x, b, &j->st, RCV_WHY_EMPTY,
		    j->reason);
	}
	if (!st->have || n * 100 >= st->count * (100 - c->shrink_pct))
		return RCV_NEXT;
	if ((covered = rcv_spool_relay_covered(c, b)) > 0 &&
	    (n + covered) * 100 >= st->count * (100 - c->shrink_pct)) {
		rs_info("shrink %s: %" PRIu64 " entries, installed %" PRIu64
		    ", of which %" PRIu64 " are now in relay domains, whose "
		    "every recipient the map accepts: no shrink", b->name, n,
		    st->count, covered);
		return RCV_NEXT;
	}
	if (b->hdr->flags & BUNDLE_FLAG_ALLOW_SHRINK) {
		rs_warn("shrink %s: %" PRIu64 " entries, installed %" PRIu64
		    ", threshold %u%%: APPROVED by the signed flag "
		    "allow-shrink in %s (key %s)", b->name, n, st->count,
		    c->shrink_pct, b->name, b->fpr);
		return RCV_NEXT;
	}
	if (st->approved_seq == b->seq) {
		rs_warn("shrink %s: %" PRIu64 " entries, installed %" PRIu64
		    ", threshold %u%%: APPROVED by the administrator "
		    "(rcptsync-receiver approve)", b->name, n, st->count,
		    c->shrink_pct);
		return RCV_NEXT;
	}
	unlink(j->list_new);
	snprintf(j->reason, sizeof(j->reason), "shrink: %" PRIu64 " entries, "
	    "installed %" PRIu64 ", threshold %u%%", n, st->count,
	    c->shrink_pct);
	o = rcv_spool_refuse(j->x, b, &j->st, RCV_WHY_SHRINK, j->reason);
	if (rcv_util_path(path, sizeof(path), c->quarantine_dir, b->name) ==
	    RS_OK)
		rs_error("shrink %s: if the shrink is intended, approve it "
		    "with 'rcptsync-receiver approve %s', or push again with "
		    "'rcptsync-agent sync --allow-shrink'", b->name, path);
	return o;
}

/*
 * Domains the agent's list speaks for that this relay leaves out: said
 * once per install, and kept in the state for status and the metrics.
 */
static void
rcv_spool_unrelayed(const struct rcv_cfg *c, const struct rcv_bundle *b,
    const struct rcv_listres *res)
{
	struct rcv_state st;

	if (res->nunrelayed > 0)
		rs_warn("install %s: %" PRIu64 " of the list's domains are "
		    "not relayed here (%s): not in relay_domains%s, so mail "
		    "for them is refused (554 relay denied where Postfix "
		    "does not relay them)", b->name, res->nunrelayed,
		    res->unrelayed, rcv_cfg_signer(c, b->agent) != NULL ?
		    " or the [signer]'s domains" : "");
	if (rcv_st_load(c, b->agent, &st) != RS_OK)
		return;
	st.nunrelayed = res->nunrelayed;
	snprintf(st.unrelayed, sizeof(st.unrelayed), "%s", res->unrelayed);
	(void)rcv_st_save(c, b->agent, &st);
}

/* 5. Install and record (install.c commits through its journal). */
static enum rcv_outcome
rcv_spool_install(struct rcv_spool_job *j)
{
	const struct rcv_cfg *c = j->x->c;
	struct rcv_bundle *b = j->b;
	struct rcv_inst_req q;
	uint64_t entries = 0;

	memset(&q, 0, sizeof(q));
	q.agent = b->agent;
	q.seq = b->seq;
	q.count = j->res.accepted;
	q.sha256 = j->sha;
	q.t0 = j->t0;
	if (rcv_inst_map(c, &q, &entries) != RS_OK) {
		if (rcv_spool_committed(c))
			return RCV_SYSFAIL;	/* the next run finishes it */
		unlink(j->list_new);
		rs_error("install %s: failed; the live map is unchanged, the "
		    "bundle stays in the spool for the next run", b->name);
		rcv_spool_report(j->x, "error %s %" PRIu64 ": install failed, "
		    "will retry", b->agent, b->seq);
		return RCV_SYSFAIL;
	}
	rs_info("install %s: %" PRIu64 " entries accepted, %" PRIu64
	    " dropped, map %s now %" PRIu64 " entries (key %s)", b->name,
	    j->res.accepted, j->res.dropped, c->map, entries, b->fpr);
	rcv_spool_unrelayed(c, b, &j->res);
	rcv_spool_report(j->x, "installed %s %" PRIu64 ": %" PRIu64
	    " entries", b->agent, b->seq, j->res.accepted);
	rcv_spool_to_history(c, b);
	(void)rcv_st_status_write(c);
	return RCV_DONE;
}

/*
 * Decide about one bundle: the stages in the order of docs/FORMAT.md,
 * each passing it on (RCV_NEXT) or deciding.  *verified tells whether its
 * signature verified for its agent: only such a bundle supersedes older
 * ones.
 */
static enum rcv_outcome
rcv_spool_one(struct rcv_spool_ctx *x, const char *agent, uint64_t seq,
    int *verified)
{
	const struct rcv_cfg *c = x->c;
	struct rcv_spool_job *j;
	char fname[RS_MAX_AGENT_ID + 16];
	enum rcv_outcome o = RCV_SYSFAIL;

	*verified = 0;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return RCV_SYSFAIL;
	if ((j->b = calloc(1, sizeof(*j->b))) == NULL) {
		free(j);
		return RCV_SYSFAIL;
	}
	j->x = x;
	j->t0 = rcv_util_usec();
	snprintf(j->b->agent, sizeof(j->b->agent), "%s", agent);
	j->b->seq = seq;
	snprintf(fname, sizeof(fname), "%s.list.new", agent);
	if (bundle_name(agent, seq, j->b->name, sizeof(j->b->name)) !=
	    RS_OK || rcv_util_path(j->list_new, sizeof(j->list_new),
	    c->state_dir, fname) != RS_OK ||
	    rcv_st_load(c, agent, &j->st) != RS_OK)
		goto out;
	if ((o = rcv_spool_signature(j)) == RCV_NEXT &&
	    (o = rcv_spool_sequence(j)) == RCV_NEXT &&
	    (o = rcv_spool_content(j)) == RCV_NEXT &&
	    (o = rcv_spool_guards(j)) == RCV_NEXT)
		o = rcv_spool_install(j);
	*verified = j->b->verified;
 out:
	if (o == RCV_SYSFAIL) {
		/* A committed install still needs its list: recovery. */
		if (!rcv_spool_committed(c))
			unlink(j->list_new);
		rcv_spool_drop_work(j->b);
	}
	rcv_bundle_clear(j->b);
	free(j->b);
	free(j);
	return o;
}

/* Names starting with '.' are upload temporaries; old ones are dead. */
static void
rcv_spool_stale(const struct rcv_cfg *c, const char *name, time_t now)
{
	struct stat st;
	char path[4096];

	if (rcv_util_path(path, sizeof(path), c->spool_dir, name) != RS_OK ||
	    lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	if (now - st.st_mtime <= RS_STALE_UPLOAD_SECS)
		return;
	if (unlink(path) == 0)
		rs_info("clean %s: stale upload temporary removed", path);
	else
		rs_warn("remove %s: %s", path, strerror(errno));
}

/* A ".sig" whose bundle never arrived (or was removed) and is old. */
static void
rcv_spool_orphan_sig(const struct rcv_cfg *c, const char *name, time_t now)
{
	char a[RS_MAX_AGENT_ID + 1], base[RS_MAX_BUNDLE_NAME], path[4096];
	struct stat st;
	size_t l = strlen(name);
	uint64_t seq;

	if (l < 5 || l - 4 >= sizeof(base) ||
	    strcmp(name + l - 4, ".sig") != 0)
		return;
	memcpy(base, name, l - 4);
	base[l - 4] = '\0';
	if (bundle_name_parse(base, a, &seq) != RS_OK)
		return;
	if (rcv_util_path(path, sizeof(path), c->spool_dir, base) != RS_OK ||
	    lstat(path, &st) == 0)
		return;
	if (rcv_util_path(path, sizeof(path), c->spool_dir, name) != RS_OK ||
	    lstat(path, &st) == -1 || now - st.st_mtime <= RS_STALE_UPLOAD_SECS)
		return;
	/* Whatever it is: a directory named *.sig is no upload either. */
	if (rcv_util_remove(c->spool_dir, name) == RS_OK)
		rs_info("clean %s: signature without bundle removed", path);
}

/*
 * A name of FORMAT.md's pattern whose sequence is above 2^63-1: no valid
 * bundle, but it looks like one to anyone reading the spool.  Refused and
 * removed with the rule named, rather than left there for ever.
 */
static int
rcv_spool_overflow(struct rcv_spool_ctx *x, const char *name)
{
	static const char sfx[] = ".rcpt.gz";
	char agent[RS_MAX_AGENT_ID + 1];
	size_t l = strlen(name), end, dot, i;

	if (l <= sizeof(sfx) - 1 || strcmp(name + l - (sizeof(sfx) - 1),
	    sfx) != 0)
		return 0;
	end = l - (sizeof(sfx) - 1);
	for (dot = end; dot > 0 && name[dot - 1] != '.'; dot--)
		;
	/* 19 digits, no leading zero: the only lengths above 2^63-1. */
	if (dot < 2 || dot - 1 > RS_MAX_AGENT_ID || end - dot != 19 ||
	    name[dot] == '0')
		return 0;
	for (i = dot; i < end; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	memcpy(agent, name, dot - 1);
	agent[dot - 1] = '\0';
	if (!bundle_agent_id_ok(agent))
		return 0;
	rs_error("refuse %s: sequence %.19s is above 9223372036854775807 "
	    "(2^63-1), the largest docs/FORMAT.md allows; removed", name,
	    name + dot);
	rcv_spool_report(x, "refused %s %.19s: sequence above 2^63-1", agent,
	    name + dot);
	(void)rcv_st_unattributed_add(x->c, RCV_WHY_FORMAT);
	rcv_spool_unlink(x->c, name);
	return 1;
}

/*
 * The pending bundles, sorted by agent and sequence.  *refused counts the
 * names refused on sight (sequence out of range).
 */
static int
rcv_spool_scan(struct rcv_spool_ctx *x, struct rcv_spool_ent **out,
    size_t *nout, size_t *refused)
{
	const struct rcv_cfg *c = x->c;
	struct rcv_spool_ent *v = NULL, *nv;
	struct dirent *e;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);
	DIR *d;

	*out = NULL;
	*nout = 0;
	*refused = 0;
	if ((d = opendir(c->spool_dir)) == NULL) {
		rs_error("open %s: %s", c->spool_dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			if (strcmp(e->d_name, ".") != 0 &&
			    strcmp(e->d_name, "..") != 0)
				rcv_spool_stale(c, e->d_name, now);
			continue;
		}
		if (n == cap) {
			if (n >= RS_MAX_SPOOL_FILES) {
				rs_warn("scan %s: more than %d bundles; the "
				    "rest waits for the next run",
				    c->spool_dir, RS_MAX_SPOOL_FILES);
				break;
			}
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				return RS_ERR_NOMEM;
			}
			v = nv;
		}
		if (bundle_name_parse(e->d_name, v[n].agent, &v[n].seq) ==
		    RS_OK)
			n++;
		else if (rcv_spool_overflow(x, e->d_name))
			++*refused;
		else
			rcv_spool_orphan_sig(c, e->d_name, now);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), rcv_spool_ent_cmp);
	*out = v;
	*nout = n;
	return RS_OK;
}

/*
 * An older pending bundle of an agent, displaced by a newer one whose
 * signature verified: never installed, kept a while.
 */
static enum rcv_outcome
rcv_spool_supersede(struct rcv_spool_ctx *x, const struct rcv_spool_ent *e,
    uint64_t newer)
{
	const struct rcv_cfg *c = x->c;
	char name[RS_MAX_BUNDLE_NAME], signame[RS_MAX_BUNDLE_NAME + 8],
	    src[4096], sig[4096], dst[4096], reason[RS_MAX_REASON];
	struct rcv_state st;
	struct stat sst;
	int r;

	if (bundle_name(e->agent, e->seq, name, sizeof(name)) != RS_OK ||
	    rcv_util_path(src, sizeof(src), c->spool_dir, name) != RS_OK)
		return RCV_SYSFAIL;
	snprintf(reason, sizeof(reason), "superseded by sequence %" PRIu64,
	    newer);
	/*
	 * The signature travels too (unverified: the bundle never is), when
	 * it is a regular file; anything else is removed.
	 */
	if (snprintf(signame, sizeof(signame), "%s.sig", name) <
	    (int)sizeof(signame) && rcv_util_path(sig, sizeof(sig),
	    c->spool_dir, signame) == RS_OK && rcv_util_path(dst, sizeof(dst),
	    c->quarantine_dir, signame) == RS_OK && lstat(sig, &sst) == 0 &&
	    (!S_ISREG(sst.st_mode) || rename(sig, dst) == -1))
		(void)rcv_util_remove(c->spool_dir, signame);
	r = rcv_keep_quarantine(c, e->agent, e->seq, src, NULL, 0, reason);
	if (r != RS_OK)
		return RCV_SYSFAIL;
	/*
	 * Counted like a refusal, under the agent's name only when it has
	 * state (never verified: the bundle is not even opened; the newer
	 * one that displaced it was).  A damaged
	 * state file is left alone; its load already logged why.
	 */
	if (rcv_st_load(c, e->agent, &st) == RS_OK) {
		if (st.have || st.rej_seq != 0) {
			st.rejections[RCV_WHY_SUPERSEDED]++;
			(void)rcv_st_save(c, e->agent, &st);
		} else
			(void)rcv_st_unattributed_add(c, RCV_WHY_SUPERSEDED);
	}
	rs_info("skip %s: %s", name, reason);
	rcv_spool_report(x, "superseded %s %" PRIu64 ": %s", e->agent, e->seq,
	    reason);
	return RCV_DONE;
}

static int
rcv_spool_dirs(const struct rcv_cfg *c)
{
	struct dirent *e;
	char path[4096];
	DIR *d;

	if (rcv_util_mkdir(c->work_dir, 0700) != RS_OK ||
	    rcv_util_mkdir(c->history_dir, 0700) != RS_OK ||
	    rcv_util_mkdir(c->quarantine_dir, 0700) != RS_OK)
		return RS_ERR_SYSTEM;
	/* We hold the lock: whatever is in work/ a killed run left behind. */
	if ((d = opendir(c->work_dir)) == NULL) {
		rs_error("open %s: %s", c->work_dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || rcv_util_path(path, sizeof(path),
		    c->work_dir, e->d_name) != RS_OK)
			continue;
		if (unlink(path) == 0)
			rs_debug("clean %s: left by an interrupted run", path);
	}
	closedir(d);
	return RS_OK;
}

enum rcv_outcome
rcv_spool_run(const struct rcv_cfg *c, rcv_report_fn *report, void *arg)
{
	struct rcv_spool_ctx x;
	struct signers *trusted = NULL;
	struct rcv_spool_ent *v = NULL;
	size_t n = 0, i, j, k, bad = 0;
	uint64_t top = 0;
	enum rcv_outcome o, worst = RCV_DONE;
	int verified;

	x.c = c;
	x.report = report;
	x.arg = arg;
	if (rcv_spool_dirs(c) != RS_OK || rcv_inst_recover(c) != RS_OK)
		return RCV_SYSFAIL;
	if (rcv_cfg_signers_load(c, &trusted) != RS_OK)
		return RCV_CONFIG;
	x.trusted = trusted;
	if (rcv_spool_scan(&x, &v, &n, &bad) != RS_OK) {
		worst = RCV_SYSFAIL;
		goto out;
	}
	if (bad > 0)
		worst = RCV_REFUSED;
	/*
	 * Per agent, newest first, until one bundle's signature verifies:
	 * it is the agent's latest word, and the older ones are superseded.
	 * A bundle that does not verify is anyone's upload and displaces
	 * nothing: 5 bytes of junk named corp.9000... must not push a
	 * signed corp.200 aside.
	 */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(v[i].agent, v[j].agent) == 0;
		    j++)
			;
		verified = 0;
		for (k = j; k-- > i; ) {
			if (verified)
				o = rcv_spool_supersede(&x, &v[k], top);
			else {
				o = rcv_spool_one(&x, v[k].agent, v[k].seq,
				    &verified);
				top = v[k].seq;
				if (!verified && o == RCV_SYSFAIL)
					k = i;	/* the rest waits as well */
			}
			if (o == RCV_SYSFAIL || (o == RCV_REFUSED &&
			    worst == RCV_DONE))
				worst = o;
		}
	}
	/* The caller rewrites the status file after every run. */
	if (n == 0)
		rs_debug("scan %s: nothing pending", c->spool_dir);
 out:
	free(v);
	signers_free(trusted);
	return worst;
}

/*
 * Only what the shrink guard refused can be approved: every other refusal
 * would be refused again by the next run (a bad signature, an invalid
 * entry), so re-queueing it would only promise an install that never
 * comes.  The quarantine's .reason file says which guard refused it.
 */
static int
rcv_spool_approvable(const struct rcv_cfg *c, const char *agent,
    uint64_t seq, const char *name, const char *src)
{
	char rpath[4096], sig[4096], *text = NULL, *nl;
	struct stat st, sst;
	size_t len;
	int r;

	if (lstat(src, &st) == -1) {
		rs_error("approve %s: not in the quarantine %s", name,
		    c->quarantine_dir);
		return RS_ERR_NOTFOUND;
	}
	if (snprintf(sig, sizeof(sig), "%s.sig", src) >= (int)sizeof(sig) ||
	    snprintf(rpath, sizeof(rpath), "%s/%s.%" PRIu64 ".reason",
	    c->quarantine_dir, agent, seq) >= (int)sizeof(rpath))
		return RS_ERR_LIMIT;
	if (!S_ISREG(st.st_mode) || lstat(sig, &sst) == -1 ||
	    !S_ISREG(sst.st_mode)) {
		rs_error("approve %s: the quarantine holds no regular bundle "
		    "and signature under this name; nothing to approve",
		    name);
		return RS_ERR_INVAL;
	}
	r = rcv_util_read_small(rpath, RS_MAX_REASON + 2, &text, &len);
	if (r != RS_OK) {
		rs_error("approve %s: no reason file %s; only a bundle refused "
		    "by the shrink guard can be approved", name, rpath);
		return RS_ERR_INVAL;
	}
	if ((nl = strchr(text, '\n')) != NULL)
		*nl = '\0';
	r = RS_OK;
	if (strncmp(text, "shrink: ", 8) != 0) {
		rs_error("approve %s: refused for \"%s\", not by the shrink "
		    "guard; only a shrink can be approved (fix the list on "
		    "the agent and push again)", name, text);
		r = RS_ERR_INVAL;
	}
	free(text);
	return r;
}

int
rcv_spool_approve(const struct rcv_cfg *c, const char *file)
{
	char agent[RS_MAX_AGENT_ID + 1], src[4096], dst[4096];
	const char *name = strrchr(file, '/');
	struct rcv_state st;
	uint64_t seq;
	int r;

	name = name != NULL ? name + 1 : file;
	if (bundle_name_parse(name, agent, &seq) != RS_OK) {
		rs_error("approve %s: not a bundle name (AGENT.SEQ.rcpt.gz)",
		    file);
		return RS_ERR_INVAL;
	}
	if (rcv_util_path(src, sizeof(src), c->quarantine_dir, name) !=
	    RS_OK || rcv_util_path(dst, sizeof(dst), c->spool_dir, name) !=
	    RS_OK)
		return RS_ERR_LIMIT;
	if ((r = rcv_spool_approvable(c, agent, seq, name, src)) != RS_OK)
		return r;
	if ((r = rcv_st_load(c, agent, &st)) != RS_OK)
		return RS_ERR_SYSTEM;
	if (st.have && seq <= st.seq) {
		rs_error("approve %s: sequence %" PRIu64 " is not greater than "
		    "the last accepted %" PRIu64 "; it can never be "
		    "installed", name, seq, st.seq);
		return RS_ERR_INVAL;
	}
	st.approved_seq = seq;
	if ((r = rcv_st_save(c, agent, &st)) != RS_OK)
		return r;
	/* Signature first, then the bundle: the upload protocol's order. */
	if (snprintf(src + strlen(src), sizeof(src) - strlen(src), ".sig") <
	    4 || snprintf(dst + strlen(dst), sizeof(dst) - strlen(dst),
	    ".sig") < 4)
		return RS_ERR_LIMIT;
	if (rename(src, dst) == -1) {
		rs_error("rename %s to %s: %s", src, dst, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	src[strlen(src) - 4] = '\0';
	dst[strlen(dst) - 4] = '\0';
	if (rename(src, dst) == -1) {
		rs_error("rename %s to %s: %s", src, dst, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	if (snprintf(src, sizeof(src), "%s/%s.%" PRIu64 ".reason",
	    c->quarantine_dir, agent, seq) < (int)sizeof(src))
		unlink(src);
	rs_warn("approve %s: re-queued with a one-shot approval of the "
	    "shrink guard; it is installed by the next run", name);
	return RS_OK;
}
