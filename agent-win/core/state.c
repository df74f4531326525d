/*
 * state.c - the agent's state directory:
 *
 *   seq                  last sequence number handed out (decimal)
 *   last.list            the last list uploaded to a relay (plaintext),
 *                        for the shrink guard and `diff`
 *   relay-NAME.state     per relay: last accepted list hash and sequence,
 *                        consecutive failed cycles, next attempt time,
 *                        last confirmation (install or heartbeat), the
 *                        staleness already reported, the last refused
 *                        list, and a shrink the administrator approved
 *                        that the relay has not installed yet
 *   dircache             the directory by objectGUID, for change
 *                        detection (dircache.c)
 *   last.rcpt.gz(.sig)   the last bundle and signature pushed (audit)
 *   outgoing.rcpt.gz     the bundle being pushed, written as it is made
 *                        and uploaded from the file; removed after the
 *                        push (a crash may leave it: the next push
 *                        replaces it)
 *
 * API:        state_init, state_next_seq, state_load_last, state_count_last,
 *             state_save_last, state_list_text, state_list_sha,
 *             state_save_bundle, state_relay_load/save.
 * Ownership:  state_load_last hands a new rlist to the caller.
 * Errors:     RS_ERR_* after logging "<operation> <file>: <reason>".
 * Trust:      the directory is the agent's own (0700); its files are still
 *             parsed strictly, since a corrupt seq file must stop the
 *             agent rather than reuse a sequence number.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_int.h"
#include "addr.h"
#include "buf.h"
#include "hash.h"
#include "log.h"
#include "rlist.h"
#include "rs_err.h"
#include "sys.h"

/* A state file (other than the list) is a few short lines. */
static const size_t state_small_max = 4096;

/* The list goes to disk in pieces of about this size. */
#define STATE_CHUNK	(64 * 1024)

static const char *
state_why(int r)
{
	return r == RS_ERR_SYSTEM ? sys_errmsg() : rs_err_str(r);
}

int
state_init(const struct agent_cfg *c)
{
	int r;

	if ((r = sys_mkdirs(c->state_dir, 1)) != RS_OK)
		rs_error("create state directory %s: %s", c->state_dir,
		    state_why(r));
	return r;
}

int
state_next_seq(const struct agent_cfg *c, uint64_t *seq)
{
	struct rs_buf b;
	char *path = NULL, num[32];
	uint64_t last = 0, now, next;
	size_t n;
	int r, len;

	*seq = 0;
	rs_buf_init(&b, state_small_max);
	if ((path = agent_path(c->state_dir, "seq")) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	r = sys_read_file(path, state_small_max, &b);
	if (r == RS_OK) {
		n = b.len;
		while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
			n--;
		if ((r = rs_parse_dec((const char *)b.data, n, 1, UINT64_MAX,
		    &last)) !=
		    RS_OK) {
			/* Never guess: a reused number would be refused. */
			rs_error("read %s: not a sequence number; fix or "
			    "remove it (the next number is then the time)",
			    path);
			goto out;
		}
	} else if (r != RS_ERR_NOTFOUND) {
		rs_error("read %s: %s", path, state_why(r));
		goto out;
	}
	now = (uint64_t)time(NULL);
	next = last + 1 > now ? last + 1 : now;
	if (next > (uint64_t)INT64_MAX) {
		rs_error("sequence in %s: exhausted", path);
		r = RS_ERR_LIMIT;
		goto out;
	}
	/*
	 * Persist before the number is used anywhere: a crash after an
	 * upload must never hand the same number, or a smaller one, to a
	 * different list.
	 */
	len = snprintf(num, sizeof(num), "%" PRIu64 "\n", next);
	if ((r = sys_write_file(path, num, (size_t)len, 0)) != RS_OK) {
		rs_error("write %s: %s", path, state_why(r));
		goto out;
	}
	*seq = next;
	r = RS_OK;
out:
	free(path);
	rs_buf_free(&b);
	return r;
}

/* Bytes of the list as text lines. */
static size_t
state_text_size(const struct rlist *l)
{
	size_t i, len, total = 0;

	for (i = 0; i < rlist_count(l); i++) {
		(void)rlist_get(l, i, &len);
		total += len + 1;
	}
	return total;
}

int
state_list_text(const struct rlist *l, struct rs_buf *out)
{
	size_t i, len;
	const char *a;
	int r;

	/*
	 * One allocation: growing by doubling copies the text, and old and
	 * new blocks together cost twice the list (48 MB at a million
	 * addresses) at the sync's peak.
	 */
	if ((r = rs_buf_reserve(out, state_text_size(l))) != RS_OK)
		return r;
	for (i = 0; i < rlist_count(l); i++) {
		a = rlist_get(l, i, &len);
		if ((r = rs_buf_put(out, a, len)) != RS_OK ||
		    (r = rs_buf_put_u8(out, '\n')) != RS_OK)
			return r;
	}
	return RS_OK;
}

/*
 * Entry by entry, as the bundle's entry section would read: a text copy
 * of the list would cost as much memory again as the list (24 MB at 1M).
 */
int
state_list_sha(const struct rlist *l, char hex[2 * RS_SHA256_LEN + 1])
{
	unsigned char md[RS_SHA256_LEN];
	struct rs_hash *sha = NULL;
	const char *a;
	size_t i, len, mdlen = 0;
	int r;

	if ((r = rs_hash_new("sha256", &sha)) != RS_OK)
		return r;
	for (i = 0; i < rlist_count(l); i++) {
		a = rlist_get(l, i, &len);
		if ((r = rs_hash_update(sha, a, len)) != RS_OK ||
		    (r = rs_hash_update(sha, "\n", 1)) != RS_OK)
			goto out;
	}
	if ((r = rs_hash_final(sha, md, &mdlen)) != RS_OK)
		goto out;
	if (mdlen != RS_SHA256_LEN) {
		r = RS_ERR_INTERNAL;
		goto out;
	}
	rs_hex(md, sizeof(md), hex);
out:
	rs_hash_free(sha);
	return r;
}

/*
 * Counting last.list's lines as its chunks come (sys_read_each): the
 * line being read, and the one before it.  Each line is checked as
 * rlist_parse_text checks it; a line equal to the one before counts once
 * (the agent writes the file sorted and unique, so this is the count the
 * list had).
 */
struct state_count {
	char		 cur[RS_MAX_ADDR_LEN + 1], prev[RS_MAX_ADDR_LEN + 1];
	size_t		 curlen, prevlen;
	size_t		 n, nmatch, line;
	int		 have_prev;
	state_match_fn	*match;
	void		*arg;
};

static int
state_count_line(struct state_count *sc)
{
	int r;

	sc->line++;
	if ((r = addr_check(sc->cur, sc->curlen, NULL)) != RS_OK)
		return r;
	if (!sc->have_prev || sc->curlen != sc->prevlen ||
	    memcmp(sc->cur, sc->prev, sc->curlen) != 0) {
		sc->n++;
		if (sc->match != NULL && sc->match(sc->arg, sc->cur,
		    sc->curlen))
			sc->nmatch++;
	}
	memcpy(sc->prev, sc->cur, sc->curlen);
	sc->prevlen = sc->curlen;
	sc->have_prev = 1;
	sc->curlen = 0;
	return RS_OK;
}

static int
state_count_chunk(void *arg, const void *p, size_t n)
{
	struct state_count *sc = arg;
	const char *c = p, *end = c + n, *nl;
	size_t k;
	int r;

	while (c < end) {
		nl = memchr(c, '\n', (size_t)(end - c));
		k = (size_t)((nl != NULL ? nl : end) - c);
		if (k > RS_MAX_ADDR_LEN - sc->curlen) {
			sc->line++;
			return RS_ERR_SYNTAX;	/* longer than any address */
		}
		memcpy(sc->cur + sc->curlen, c, k);
		sc->curlen += k;
		if (nl == NULL)
			break;
		if ((r = state_count_line(sc)) != RS_OK)
			return r;
		c = nl + 1;
	}
	return RS_OK;
}

int
state_count_last(const struct agent_cfg *c, state_match_fn *match,
    void *arg, size_t *n, size_t *nmatch)
{
	struct state_count *sc = NULL;
	char *path = NULL;
	int r;

	*n = *nmatch = 0;
	if ((path = agent_path(c->state_dir, "last.list")) == NULL ||
	    (sc = calloc(1, sizeof(*sc))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	sc->match = match;
	sc->arg = arg;
	r = sys_read_each(path, state_count_chunk, sc);
	/* A last line without LF is a file cut short. */
	if (r == RS_OK && sc->curlen > 0) {
		sc->line++;
		r = RS_ERR_TRUNC;
	}
	if (r == RS_ERR_SYSTEM)
		rs_error("read %s: %s", path, state_why(r));
	else if (r != RS_OK && r != RS_ERR_NOTFOUND)
		rs_error("read %s: line %zu: %s", path, sc->line,
		    rs_err_str(r));
	else if (r == RS_OK) {
		*n = sc->n;
		*nmatch = sc->nmatch;
	}
out:
	free(sc);
	free(path);
	return r;
}

int
state_load_last(const struct agent_cfg *c, struct rlist **out)
{
	struct rlist *l = NULL;
	struct rs_buf b;
	char *path = NULL;
	size_t line = 0;
	int r;

	*out = NULL;
	rs_buf_init(&b, RS_DEF_LIST_BYTES);
	if ((path = agent_path(c->state_dir, "last.list")) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = sys_read_file(path, RS_DEF_LIST_BYTES, &b)) != RS_OK) {
		if (r != RS_ERR_NOTFOUND)
			rs_error("read %s: %s", path, state_why(r));
		goto out;
	}
	if ((r = rlist_new(&l)) != RS_OK)
		goto out;
	if ((r = rlist_parse_text(l, (const char *)b.data, b.len, &line)) !=
	    RS_OK) {
		rs_error("read %s: line %zu: %s", path, line, rs_err_str(r));
		goto out;
	}
	rlist_finish(l);
	*out = l;
	l = NULL;
out:
	rlist_free(l);
	free(path);
	rs_buf_free(&b);
	return r;
}

/*
 * Write the list as text lines to f, a chunk at a time: a text copy of
 * the whole list would cost as much memory again as the list.
 */
static int
state_write_list(struct sys_wfile *f, const struct rlist *l)
{
	struct rs_buf b;
	const char *a;
	size_t i, len;
	int r = RS_OK;

	rs_buf_init(&b, 2 * STATE_CHUNK);
	for (i = 0; i < rlist_count(l) && r == RS_OK; i++) {
		a = rlist_get(l, i, &len);
		if ((r = rs_buf_put(&b, a, len)) != RS_OK ||
		    (r = rs_buf_put_u8(&b, '\n')) != RS_OK)
			break;
		if (b.len >= STATE_CHUNK) {
			r = sys_wfile_write(f, b.data, b.len);
			rs_buf_reset(&b);
		}
	}
	if (r == RS_OK && b.len > 0)
		r = sys_wfile_write(f, b.data, b.len);
	rs_buf_free(&b);
	return r;
}

/* Replace path with the list's lines. */
static int
state_write_list_file(const char *path, const struct rlist *l, int private)
{
	struct sys_wfile *f = NULL;
	int r;

	if ((r = sys_wfile_open(path, private, &f)) != RS_OK)
		return r;
	if ((r = state_write_list(f, l)) != RS_OK) {
		sys_wfile_abort(f);
		return r;
	}
	return sys_wfile_commit(f);
}

int
state_save_last(const struct agent_cfg *c, const struct rlist *l)
{
	char *path = NULL;
	int r;

	if ((path = agent_path(c->state_dir, "last.list")) == NULL)
		return RS_ERR_NOMEM;
	if ((r = state_write_list_file(path, l, 1)) != RS_OK) {
		rs_error("write %s: %s", path, state_why(r));
		goto out;
	}
	if (c->audit_file != NULL &&
	    (r = state_write_list_file(c->audit_file, l, 0)) != RS_OK) {
		rs_error("write audit file %s: %s", c->audit_file,
		    state_why(r));
		goto out;
	}
out:
	free(path);
	return r;
}

/* sys_read_each callback: copy into a file being written. */
static int
state_copy_chunk(void *arg, const void *p, size_t n)
{
	return sys_wfile_write(arg, p, n);
}

/* Replace to with a copy of from, a chunk at a time. */
static int
state_copy_file(const char *from, const char *to)
{
	struct sys_wfile *f = NULL;
	int r;

	if ((r = sys_wfile_open(to, 1, &f)) != RS_OK)
		return r;
	if ((r = sys_read_each(from, state_copy_chunk, f)) != RS_OK) {
		sys_wfile_abort(f);
		return r;
	}
	return sys_wfile_commit(f);
}

int
state_save_bundle(const struct agent_cfg *c, const char *name,
    const char *path, const struct rs_buf *sig)
{
	char *pb = NULL, *ps = NULL, *pn = NULL;
	int r;

	/* One copy, overwritten each time: the relay keeps the history. */
	if ((pb = agent_path(c->state_dir, "last.rcpt.gz")) == NULL ||
	    (ps = agent_path(c->state_dir, "last.rcpt.gz.sig")) == NULL ||
	    (pn = agent_path(c->state_dir, "last.name")) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = state_copy_file(path, pb)) != RS_OK ||
	    (r = sys_write_file(ps, sig->data, sig->len, 1)) != RS_OK ||
	    (r = sys_write_file(pn, name, strlen(name), 1)) != RS_OK)
		rs_error("write %s: %s", pb, state_why(r));
out:
	free(pb);
	free(ps);
	free(pn);
	return r;
}

static char *
state_relay_path(const struct agent_cfg *c, const char *relay)
{
	char name[128];

	if (snprintf(name, sizeof(name), "relay-%s.state", relay) >=
	    (int)sizeof(name))
		return NULL;
	return agent_path(c->state_dir, name);
}

int
state_relay_load(const struct agent_cfg *c, const char *relay,
    struct relay_state *rs)
{
	struct rs_buf b;
	char *path = NULL, *line, *nl, *sp;
	uint64_t v;
	int r;

	memset(rs, 0, sizeof(*rs));
	rs_buf_init(&b, state_small_max);
	if ((path = state_relay_path(c, relay)) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = sys_read_file(path, state_small_max, &b)) != RS_OK) {
		if (r == RS_ERR_NOTFOUND)
			r = RS_OK;
		else
			rs_error("read %s: %s", path, state_why(r));
		goto out;
	}
	/*
	 * "key value" lines.  A damaged file only costs an extra upload,
	 * so unknown or bad lines are ignored rather than fatal.
	 */
	for (line = (char *)b.data; *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		if (strcmp(line, "accepted_sha256") == 0 &&
		    strlen(sp) == 2 * RS_SHA256_LEN)
			memcpy(rs->accepted_sha, sp, 2 * RS_SHA256_LEN + 1);
		else if (strcmp(line, "refused_sha256") == 0 &&
		    strlen(sp) == 2 * RS_SHA256_LEN)
			memcpy(rs->refused_sha, sp, 2 * RS_SHA256_LEN + 1);
		else if (rs_parse_dec(sp, strlen(sp), 1, UINT64_MAX, &v) != RS_OK)
			continue;
		else if (strcmp(line, "accepted_sequence") == 0)
			rs->accepted_seq = v;
		else if (strcmp(line, "failures") == 0 && v < 64)
			rs->failures = (unsigned)v;
		else if (v > (uint64_t)INT64_MAX)
			continue;
		else if (strcmp(line, "next_attempt") == 0)
			rs->next_attempt = (int64_t)v;
		else if (strcmp(line, "confirmed") == 0)
			rs->confirmed = (int64_t)v;
		else if (strcmp(line, "since") == 0)
			rs->since = (int64_t)v;
		else if (strcmp(line, "stale_level") == 0 && v <= 2)
			rs->stale_level = (unsigned)v;
		else if (strcmp(line, "stale_told") == 0)
			rs->stale_told = (int64_t)v;
		else if (strcmp(line, "refused_time") == 0)
			rs->refused_time = (int64_t)v;
		else if (strcmp(line, "allow_shrink_entries") == 0)
			rs->shrink_ok_entries = v;
		else if (strcmp(line, "allow_shrink_time") == 0)
			rs->shrink_ok_time = (int64_t)v;
	}
out:
	free(path);
	rs_buf_free(&b);
	return r;
}

int
state_relay_save(const struct agent_cfg *c, const char *relay,
    const struct relay_state *rs)
{
	struct rs_buf b;
	char *path = NULL;
	int r;

	rs_buf_init(&b, state_small_max);
	if ((path = state_relay_path(c, relay)) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = rs_buf_printf(&b, "accepted_sha256 %s\n"
	    "accepted_sequence %" PRIu64 "\nfailures %u\n"
	    "next_attempt %" PRId64 "\nconfirmed %" PRId64 "\n"
	    "since %" PRId64 "\nstale_level %u\nstale_told %" PRId64 "\n"
	    "refused_sha256 %s\nrefused_time %" PRId64 "\n"
	    "allow_shrink_entries %" PRIu64 "\nallow_shrink_time %" PRId64
	    "\n",
	    rs->accepted_sha[0] != '\0' ? rs->accepted_sha : "-",
	    rs->accepted_seq, rs->failures, rs->next_attempt, rs->confirmed,
	    rs->since, rs->stale_level, rs->stale_told,
	    rs->refused_sha[0] != '\0' ? rs->refused_sha : "-",
	    rs->refused_time, rs->shrink_ok_entries,
	    rs->shrink_ok_time)) != RS_OK ||
	    (r = sys_write_file(path, b.data, b.len, 0)) != RS_OK)
		rs_error("write %s: %s", path, state_why(r));
out:
	free(path);
	rs_buf_free(&b);
	return r;
}
