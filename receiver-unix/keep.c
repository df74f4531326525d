/*
 * keep.c - the copies of bundles the receiver keeps: the history of
 * accepted bundles (STATE/history, the last [receiver] history of each
 * agent, which "status" and "diff" read) and the quarantine of refused ones
 * (STATE/quarantine, with the signature and a .reason file beside each,
 * for the administrator to look at).
 *
 * API:        rcv_keep_* (receiver.h).
 * Ownership:  rcv_keep_history_seqs returns a malloc'd array (free()).
 * Errors:     RS_ERR_SYSTEM (logged with the path) for file system
 *             failures; pruning only warns.
 * Trust:      STATE is the receiver's own; what is moved in came from the
 *             DMZ spool and is never parsed here.
 *
 * Copies renamed into history or quarantine are fsynced first.  Only
 * regular files are ever moved into the quarantine, and its pruning
 * counts every name there.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "bundle.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"

/*
 * A name in history or quarantine that is not a regular file (a directory
 * an older receiver moved there) would make every rename onto it fail,
 * and with it every later run: it goes first.
 */
static int
rcv_keep_clear_slot(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	if (rcv_util_path(path, sizeof(path), dir, name) != RS_OK)
		return RS_ERR_LIMIT;
	if (lstat(path, &st) == -1 || S_ISREG(st.st_mode))
		return RS_OK;
	rs_warn("remove %s: not a regular file, in the way", path);
	return rcv_util_remove(dir, name);
}

static int
rcv_keep_write_sig(const char *dir, const char *name, const char *sig,
    size_t siglen)
{
	char path[4096], base[RS_MAX_BUNDLE_NAME + 8];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s.sig", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return RS_ERR_LIMIT;
	snprintf(base, sizeof(base), "%s.sig", name);
	if ((n = rcv_keep_clear_slot(dir, base)) != RS_OK)
		return n;
	return rcv_util_write_atomic(path, sig, siglen, 0640);
}

/* Sequence numbers of AGENT's bundles in dir, ascending. */
static int
rcv_keep_seqs(const char *dir, const char *agent, uint64_t **out, size_t *nout)
{
	DIR *d;
	struct dirent *e;
	char a[RS_MAX_AGENT_ID + 1];
	uint64_t seq, *v = NULL, *nv;
	size_t n = 0, cap = 0, i, j;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL) {
		rs_error("open %s: %s", dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	while ((e = readdir(d)) != NULL) {
		if (bundle_name_parse(e->d_name, a, &seq) != RS_OK ||
		    strcmp(a, agent) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				return RS_ERR_NOMEM;
			}
			v = nv;
		}
		v[n++] = seq;
	}
	closedir(d);
	/* Insertion sort: history is small (at most a few hundred). */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			seq = v[j];
			v[j] = v[j - 1];
			v[j - 1] = seq;
		}
	*out = v;
	*nout = n;
	return RS_OK;
}

int
rcv_keep_history_seqs(const struct rcv_cfg *c, const char *agent,
    uint64_t **seqs, size_t *n)
{
	return rcv_keep_seqs(c->history_dir, agent, seqs, n);
}

int
rcv_keep_history_add(const struct rcv_cfg *c, const char *agent, uint64_t seq,
    const char *work_path, const char *sig, size_t siglen)
{
	char name[RS_MAX_BUNDLE_NAME], dst[4096];
	uint64_t *seqs = NULL;
	size_t n = 0, i;
	int r;

	if ((r = bundle_name(agent, seq, name, sizeof(name))) != RS_OK ||
	    (r = rcv_util_path(dst, sizeof(dst), c->history_dir, name)) !=
	    RS_OK)
		return r;
	if ((r = rcv_keep_write_sig(c->history_dir, name, sig, siglen)) !=
	    RS_OK)
		return r;
	/* The copy is the audit record: on disk before its name is. */
	if ((r = rcv_util_fsync_path(work_path)) != RS_OK)
		return r;
	if (rename(work_path, dst) == -1) {
		rs_error("rename %s to %s: %s", work_path, dst,
		    strerror(errno));
		return RS_ERR_SYSTEM;
	}
	if ((r = rcv_util_fsync_dir(c->history_dir)) != RS_OK)
		return r;
	/* Prune: keep the newest c->history bundles of this agent. */
	if (rcv_keep_seqs(c->history_dir, agent, &seqs, &n) != RS_OK)
		return RS_OK;
	for (i = 0; n > c->history && i < n - c->history; i++) {
		if (bundle_name(agent, seqs[i], name, sizeof(name)) != RS_OK ||
		    rcv_util_path(dst, sizeof(dst), c->history_dir, name) !=
		    RS_OK)
			continue;
		unlink(dst);
		if (strlen(dst) + 4 < sizeof(dst)) {
			memcpy(dst + strlen(dst), ".sig", 5);
			unlink(dst);
		}
	}
	free(seqs);
	return RS_OK;
}

/*
 * Move src into the quarantine as dst.  Only a regular file is ever moved:
 * anything else (a directory, a symlink, a FIFO) is hostile, carries
 * nothing worth keeping and is removed where it is.
 */
static int
rcv_keep_quarantine_move(const struct rcv_cfg *c, const char *name,
    const char *src, const char *dst)
{
	char dir[4096];
	const char *base = strrchr(src, '/');
	struct stat st;
	int r;

	if (lstat(src, &st) == -1) {
		if (errno == ENOENT)
			return RS_OK;
		rs_error("stat %s: %s", src, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	if (!S_ISREG(st.st_mode)) {
		rs_warn("quarantine %s: %s, not a regular file; removed, not "
		    "kept", src, S_ISDIR(st.st_mode) ? "a directory" :
		    S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file");
		if ((r = rcv_util_dirname(src, dir, sizeof(dir))) != RS_OK)
			return r;
		(void)rcv_util_remove(dir, base != NULL ? base + 1 : src);
		return RS_OK;
	}
	if ((r = rcv_keep_clear_slot(c->quarantine_dir, name)) != RS_OK ||
	    (r = rcv_util_fsync_path(src)) != RS_OK)
		return r;
	if (rename(src, dst) == -1 && errno != ENOENT) {
		if (errno != EXDEV) {
			rs_error("rename %s to %s: %s", src, dst,
			    strerror(errno));
			return RS_ERR_SYSTEM;
		}
		/* Spool on another file system: keep the reason only. */
		if (unlink(src) == -1 && errno != ENOENT) {
			rs_error("remove %s: %s", src, strerror(errno));
			return RS_ERR_SYSTEM;
		}
	}
	return rcv_util_fsync_dir(c->quarantine_dir);
}

int
rcv_keep_quarantine(const struct rcv_cfg *c, const char *agent, uint64_t seq,
    const char *src, const char *sig, size_t siglen, const char *reason)
{
	char name[RS_MAX_BUNDLE_NAME], dst[4096], rpath[4096], text[
	    RS_MAX_REASON + 2];
	int r, n;

	if ((r = bundle_name(agent, seq, name, sizeof(name))) != RS_OK ||
	    (r = rcv_util_path(dst, sizeof(dst), c->quarantine_dir, name)) !=
	    RS_OK)
		return r;
	n = snprintf(rpath, sizeof(rpath), "%s/%s.%" PRIu64 ".reason",
	    c->quarantine_dir, agent, seq);
	if (n < 0 || (size_t)n >= sizeof(rpath))
		return RS_ERR_LIMIT;
	n = snprintf(text, sizeof(text), "%s\n", reason);
	if (n < 0)
		return RS_ERR_INTERNAL;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	if (sig != NULL && siglen > 0 &&
	    (r = rcv_keep_write_sig(c->quarantine_dir, name, sig, siglen)) !=
	    RS_OK)
		return r;
	if (src != NULL && (r = rcv_keep_quarantine_move(c, name, src, dst)) !=
	    RS_OK)
		return r;
	if ((r = rcv_util_write_atomic(rpath, text, (size_t)n, 0640)) != RS_OK)
		return r;
	rcv_keep_quarantine_prune(c);
	return RS_OK;
}

/* One refusal in the quarantine: all names sharing the stem AGENT.SEQ. */
struct rcv_keep_qent {
	char	*stem;
	time_t	 mtime;		/* the newest of its files */
};

static int
rcv_keep_qcmp(const void *a, const void *b)
{
	const struct rcv_keep_qent *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->stem, y->stem);
}

/* "corp.5.rcpt.gz", "corp.5.rcpt.gz.sig", "corp.5.reason": "corp.5". */
static size_t
rcv_keep_qstem(const char *name)
{
	static const char *const sfx[] = { ".rcpt.gz.sig", ".rcpt.gz",
	    ".reason" };
	size_t l = strlen(name), i, k;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		k = strlen(sfx[i]);
		if (l > k && strcmp(name + l - k, sfx[i]) == 0)
			return l - k;
	}
	return l;	/* anything else is a refusal of its own */
}

/* Group the quarantine's names into refusals, each with its newest mtime. */
static int
rcv_keep_qscan(const struct rcv_cfg *c, struct rcv_keep_qent **out, size_t *nout)
{
	struct rcv_keep_qent *v = NULL, *nv;
	struct dirent *e;
	struct stat st;
	char path[4096];
	size_t n = 0, cap = 0, i, l;
	DIR *d;
	int r = RS_ERR_NOMEM;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(c->quarantine_dir)) == NULL) {
		rs_warn("open %s: %s", c->quarantine_dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") ==
		    0 || rcv_util_path(path, sizeof(path), c->quarantine_dir,
		    e->d_name) != RS_OK || lstat(path, &st) == -1)
			continue;
		l = rcv_keep_qstem(e->d_name);
		for (i = 0; i < n; i++)
			if (strlen(v[i].stem) == l &&
			    memcmp(v[i].stem, e->d_name, l) == 0)
				break;
		if (i == n) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((nv = realloc(v, cap * sizeof(*v))) ==
				    NULL)
					goto out;
				v = nv;
			}
			if ((v[n].stem = strndup(e->d_name, l)) == NULL)
				goto out;
			v[n++].mtime = st.st_mtime;
		} else if (st.st_mtime > v[i].mtime)
			v[i].mtime = st.st_mtime;
	}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	r = RS_OK;
 out:
	for (i = 0; i < n; i++)
		free(v[i].stem);
	free(v);
	closedir(d);
	return r;
}

/*
 * Keep the newest RS_QUARANTINE_KEEP refusals.  A hostile uploader can
 * refill the quarantine at will; bounding it keeps the disk safe, and
 * the log keeps the record of every refusal.  Everything in the
 * quarantine counts, whatever its name or type (a directory an older
 * receiver moved there included), and what cannot be removed is logged.
 */
void
rcv_keep_quarantine_prune(const struct rcv_cfg *c)
{
	struct rcv_keep_qent *v = NULL;
	struct dirent *e;
	size_t n = 0, i, l;
	DIR *d;

	if (rcv_keep_qscan(c, &v, &n) != RS_OK)
		return;
	if (n > RS_QUARANTINE_KEEP) {
		qsort(v, n, sizeof(*v), rcv_keep_qcmp);
		if ((d = opendir(c->quarantine_dir)) == NULL)
			rs_warn("open %s: %s", c->quarantine_dir,
			    strerror(errno));
		/* One pass: each name is removed if its refusal is old. */
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			l = rcv_keep_qstem(e->d_name);
			for (i = 0; i < n - RS_QUARANTINE_KEEP; i++)
				if (strlen(v[i].stem) == l &&
				    memcmp(v[i].stem, e->d_name, l) == 0)
					break;
			if (i < n - RS_QUARANTINE_KEEP)
				(void)rcv_util_remove(c->quarantine_dir,
				    e->d_name);
		}
		if (d != NULL)
			closedir(d);
	}
	for (i = 0; i < n; i++)
		free(v[i].stem);
	free(v);
}
