/*
 * spool.c - pick the pending bundles and decide about each: install,
 * heartbeat, or refuse into quarantine.
 *
 * API:        rcv_spool_run (one pass over the spool, under the lock held
 *             by the caller), rcv_spool_approve.
 * Ownership:  all memory is local; decisions are reported through the
 *             caller's callback as one line each.
 * Errors:     rcv_spool_run returns the worst outcome: RCV_DONE,
 *             RCV_REFUSED (something was quarantined) or RCV_SYSFAIL
 *             (left in the spool for the next run), or a negative RS_ERR_*
 *             for a configuration problem (allowed_signers).
 * Trust:      names in the spool are matched against FORMAT.md section 1
 *             and nothing else is touched, except upload temporaries
 *             (".*") older than RS_STALE_UPLOAD_SECS.
 *
 * Order per bundle (docs/FORMAT.md, issue 3):
 *   signature (verify.c) -> sequence (replay/rollback) -> content,
 *   streamed into STATE/AGENT.list.new -> empty and shrink guards ->
 *   install (install.c) -> AGENT.list, AGENT.state -> history.
 * A crash after the install but before the bundle left the spool is
 * recognised on the next run by "same sequence, same list-sha256" and
 * finished quietly.
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

/* Remove the spool's copy of a bundle and its signature. */
static void
rcv_spool_unlink(const struct rcv_cfg *c, const char *name)
{
	char path[4096];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", c->spool_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path) - 4)
		return;
	if (unlink(path) == -1 && errno != ENOENT)
		rs_error("remove %s: %s", path, strerror(errno));
	memcpy(path + n, ".sig", 5);
	if (unlink(path) == -1 && errno != ENOENT)
		rs_error("remove %s: %s", path, strerror(errno));
}

/*
 * Record a refusal: state (with its counter), quarantine, status, log,
 * report.  why is the RCV_WHY_* class, the metrics' reason label.
 */
static int
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
	r = rcv_st_quarantine(c, b->agent, b->seq, from,
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
	if (b->work_path[0] != '\0' && rcv_st_history_add(c, b->agent,
	    b->seq, b->work_path, b->sig, b->siglen) == RS_OK)
		b->work_path[0] = '\0';
	rcv_spool_drop_work(b);
}

static int
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

static int
rcv_spool_one(struct rcv_spool_ctx *x, const char *agent, uint64_t seq)
{
	const struct rcv_cfg *c = x->c;
	struct rcv_bundle *b = NULL;
	struct rcv_state st;
	struct rcv_listres res;
	char reason[RS_MAX_REASON], sha[2 * RS_SHA256_LEN + 1],
	    list_new[4096], list_cur[4096], fname[RS_MAX_AGENT_ID + 16],
	    qpath[4096];
	uint64_t entries = 0, t0 = rcv_util_usec();
	int r, ret = RCV_SYSFAIL;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return RCV_SYSFAIL;
	snprintf(b->agent, sizeof(b->agent), "%s", agent);
	b->seq = seq;
	if (bundle_name(agent, seq, b->name, sizeof(b->name)) != RS_OK)
		goto out;
	snprintf(fname, sizeof(fname), "%s.list.new", agent);
	if (rcv_util_path(list_new, sizeof(list_new), c->state_dir, fname) !=
	    RS_OK)
		goto out;
	snprintf(fname, sizeof(fname), "%s.list", agent);
	if (rcv_util_path(list_cur, sizeof(list_cur), c->state_dir, fname) !=
	    RS_OK)
		goto out;
	if (rcv_st_load(c, agent, &st) != RS_OK)
		goto out;

	/* 1. The signature, over a private copy, before anything else. */
	snprintf(reason, sizeof(reason), "internal error");
	r = rcv_vfy_signature(c, x->trusted, b, reason, sizeof(reason));
	if (rcv_spool_is_sys(r))
		goto out;
	if (r == RS_ERR_NOTFOUND && b->work_path[0] == '\0' &&
	    rcv_util_path(qpath, sizeof(qpath), c->spool_dir, b->name) ==
	    RS_OK && access(qpath, F_OK) == -1 && errno == ENOENT) {
		/* Removed since the scan (by its uploader): nothing to do. */
		rs_info("skip %s: gone from the spool", b->name);
		ret = RCV_DONE;
		goto out;
	}
	if (r != RS_OK) {
		ret = rcv_spool_refuse(x, b, &st, b->why, reason);
		goto out;
	}

	/* 2. Replay and rollback. */
	if (st.have && seq <= st.seq) {
		/*
		 * Same sequence and list, not yet in history: we installed
		 * it and died before it left the spool.  Already in history:
		 * a replay, refused like any other.
		 */
		if (seq == st.seq && rcv_util_path(qpath, sizeof(qpath),
		    c->history_dir, b->name) == RS_OK &&
		    access(qpath, F_OK) == -1 && errno == ENOENT) {
			r = rcv_vfy_content(c, b, NULL, NULL, reason,
			    sizeof(reason));
			if (rcv_spool_is_sys(r))
				goto out;
			if (r == RS_OK) {
				rs_hex(b->hdr->list_sha256, RS_SHA256_LEN, sha);
				if (strcmp(sha, st.sha256) == 0) {
					rs_info("finish %s: already installed "
					    "(sequence %" PRIu64 ")", b->name,
					    seq);
					rcv_spool_to_history(c, b);
					ret = RCV_DONE;
					goto out;
				}
			}
		}
		snprintf(reason, sizeof(reason), "sequence %" PRIu64 " is not "
		    "greater than the last accepted %" PRIu64 " (replay or "
		    "rollback)", seq, st.seq);
		ret = rcv_spool_refuse(x, b, &st, RCV_WHY_REPLAY, reason);
		goto out;
	}

	/* 3. Content, streamed into the new list file. */
	r = rcv_vfy_content(c, b, list_new, &res, reason, sizeof(reason));
	if (rcv_spool_is_sys(r))
		goto out;
	if (r != RS_OK) {
		ret = rcv_spool_refuse(x, b, &st, b->why, reason);
		goto out;
	}
	rs_hex(b->hdr->list_sha256, RS_SHA256_LEN, sha);
	if (b->hdr->kind == BUNDLE_HEARTBEAT) {
		unlink(list_new);
		ret = rcv_spool_heartbeat(x, b, &st, sha);
		goto out;
	}
	if (res.dropped > 0)
		rs_info("filter %s: dropped %" PRIu64 " entries outside the "
		    "accepted domains (%s): not in relay_domains%s",
		    b->name, res.dropped, res.dropped_domains,
		    rcv_cfg_signer(c, agent) != NULL &&
		    rcv_cfg_signer(c, agent)->domains != NULL ?
		    " or [signer] domains" : "");

	/* 4. Guards: never an empty list, never a silent large shrink. */
	if (res.accepted == 0) {
		unlink(list_new);
		snprintf(reason, sizeof(reason), "empty: no entries in the "
		    "accepted domains (%" PRIu64 " dropped)", res.dropped);
		ret = rcv_spool_refuse(x, b, &st, RCV_WHY_EMPTY, reason);
		goto out;
	}
	if (st.have && res.accepted * 100 < st.count * (100 - c->shrink_pct)) {
		if (b->hdr->flags & BUNDLE_FLAG_ALLOW_SHRINK) {
			rs_warn("shrink %s: %" PRIu64 " entries, installed %"
			    PRIu64 ", threshold %u%%: APPROVED by the signed "
			    "flag allow-shrink in %s (key %s)", b->name,
			    res.accepted, st.count, c->shrink_pct, b->name,
			    b->fpr);
		} else if (st.approved_seq == seq) {
			rs_warn("shrink %s: %" PRIu64 " entries, installed %"
			    PRIu64 ", threshold %u%%: APPROVED by the "
			    "administrator (rcptsync-receiver approve)",
			    b->name, res.accepted, st.count, c->shrink_pct);
		} else {
			unlink(list_new);
			snprintf(reason, sizeof(reason), "shrink: %" PRIu64
			    " entries, installed %" PRIu64 ", threshold %u%%",
			    res.accepted, st.count, c->shrink_pct);
			ret = rcv_spool_refuse(x, b, &st, RCV_WHY_SHRINK,
			    reason);
			if (rcv_util_path(qpath, sizeof(qpath),
			    c->quarantine_dir, b->name) == RS_OK)
				rs_error("shrink %s: if the shrink is "
				    "intended, approve it with "
				    "'rcptsync-receiver approve %s', or push "
				    "again with 'rcptsync-agent sync "
				    "--allow-shrink'", b->name, qpath);
			goto out;
		}
	}

	/* 5. Install, then record. */
	r = rcv_inst_map(c, agent, list_new, &entries);
	if (r != RS_OK) {
		unlink(list_new);
		rs_error("install %s: failed; the live map is unchanged, the "
		    "bundle stays in the spool for the next run", b->name);
		rcv_spool_report(x, "error %s %" PRIu64 ": install failed, "
		    "will retry", agent, seq);
		goto out;
	}
	if (rename(list_new, list_cur) == -1) {
		rs_error("rename %s to %s: %s", list_new, list_cur,
		    strerror(errno));
		goto out;
	}
	if (rcv_util_fsync_dir(c->state_dir) != RS_OK)
		goto out;
	st.have = 1;
	st.seq = seq;
	st.count = res.accepted;
	memcpy(st.sha256, sha, sizeof(st.sha256));
	st.accepted_time = time(NULL);
	st.approved_seq = 0;
	/* From the signature check to the new map in place. */
	st.install_seq = seq;
	st.install_usec = rcv_util_usec() - t0;
	if (rcv_st_save(c, agent, &st) != RS_OK ||
	    rcv_st_map_entries_save(c, entries) != RS_OK)
		goto out;
	rs_info("install %s: %" PRIu64 " entries accepted, %" PRIu64
	    " dropped, map %s now %" PRIu64 " entries (key %s)", b->name,
	    res.accepted, res.dropped, c->map, entries, b->fpr);
	rcv_spool_report(x, "installed %s %" PRIu64 ": %" PRIu64 " entries",
	    agent, seq, res.accepted);
	rcv_spool_to_history(c, b);
	(void)rcv_st_status_write(c);
	ret = RCV_DONE;
 out:
	if (ret == RCV_SYSFAIL) {
		unlink(list_new);
		rcv_spool_drop_work(b);
	}
	if (b != NULL)
		rcv_bundle_clear(b);
	free(b);
	return ret;
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
	    lstat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    now - st.st_mtime <= RS_STALE_UPLOAD_SECS)
		return;
	if (unlink(path) == 0)
		rs_info("clean %s: signature without bundle removed", path);
}

static int
rcv_spool_scan(const struct rcv_cfg *c, struct rcv_spool_ent **out,
    size_t *nout)
{
	struct rcv_spool_ent *v = NULL, *nv;
	struct dirent *e;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);
	DIR *d;

	*out = NULL;
	*nout = 0;
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

/* An older pending bundle of an agent: never installed, kept a while. */
static int
rcv_spool_supersede(struct rcv_spool_ctx *x, const struct rcv_spool_ent *e,
    uint64_t newer)
{
	const struct rcv_cfg *c = x->c;
	char name[RS_MAX_BUNDLE_NAME], src[4096], sig[4096], dst[4096],
	    reason[RS_MAX_REASON];
	struct rcv_state st;
	int r;

	if (bundle_name(e->agent, e->seq, name, sizeof(name)) != RS_OK ||
	    rcv_util_path(src, sizeof(src), c->spool_dir, name) != RS_OK)
		return RCV_SYSFAIL;
	snprintf(reason, sizeof(reason), "superseded by sequence %" PRIu64,
	    newer);
	/* The signature travels too (unverified: the bundle never is). */
	if (snprintf(sig, sizeof(sig), "%s.sig", src) < (int)sizeof(sig) &&
	    snprintf(dst, sizeof(dst), "%s/%s.sig", c->quarantine_dir, name) <
	    (int)sizeof(dst) && rename(sig, dst) == -1 && errno != ENOENT)
		unlink(sig);
	r = rcv_st_quarantine(c, e->agent, e->seq, src, NULL, 0, reason);
	if (r != RS_OK)
		return RCV_SYSFAIL;
	/*
	 * Counted like a refusal, under the agent's name only when it has
	 * state (never verified: the bundle is not even opened).  A damaged
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
	    rcv_util_mkdir(c->history_dir, 0750) != RS_OK ||
	    rcv_util_mkdir(c->quarantine_dir, 0750) != RS_OK)
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

int
rcv_spool_run(const struct rcv_cfg *c, rcv_report_fn *report, void *arg)
{
	struct rcv_spool_ctx x;
	struct signers *trusted = NULL;
	struct rcv_spool_ent *v = NULL;
	size_t n = 0, i;
	int r, worst = RCV_DONE;

	x.c = c;
	x.report = report;
	x.arg = arg;
	if (rcv_spool_dirs(c) != RS_OK)
		return RCV_SYSFAIL;
	if ((r = rcv_cfg_signers_load(c, &trusted)) != RS_OK)
		return r;
	x.trusted = trusted;
	if (rcv_spool_scan(c, &v, &n) != RS_OK) {
		worst = RCV_SYSFAIL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(v[i].agent, v[i + 1].agent) == 0)
			r = rcv_spool_supersede(&x, &v[i], v[i + 1].seq);
		else
			r = rcv_spool_one(&x, v[i].agent, v[i].seq);
		if (r == RCV_SYSFAIL || (r == RCV_REFUSED && worst == RCV_DONE))
			worst = r;
	}
	/* The caller rewrites the status file after every run. */
	if (n == 0)
		rs_debug("scan %s: nothing pending", c->spool_dir);
 out:
	free(v);
	signers_free(trusted);
	return worst;
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
	if (access(src, F_OK) == -1) {
		rs_error("approve %s: not in the quarantine %s", name,
		    c->quarantine_dir);
		return RS_ERR_NOTFOUND;
	}
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
