/*
 * state.c - what the receiver remembers: per-agent state (STATE/AGENT.state)
 * with its rejection counters, the counters of refusals no agent can be
 * blamed for (STATE/unattributed.counts), the install journal
 * (STATE/install.pending, see install.c), the history of accepted bundles,
 * the quarantine of refused ones, and the status file the agents read over
 * SFTP.
 *
 * API:        rcv_st_*, rcv_why_name (receiver.h).
 * Ownership:  rcv_st_agents returns a malloc'd array of strings
 *             (rcv_util_words_free); everything else fills caller memory.
 * Errors:     RS_ERR_SYSTEM (logged with the path) for file system
 *             failures; RS_ERR_FORMAT for a damaged state or counts file,
 *             which is never silently reset: the sequence in a state file
 *             is what stops replays, and counters must never go back.
 * Trust:      STATE is the receiver's own; the status file is written for
 *             the untrusted upload account to read, so every string in it
 *             is JSON-escaped and it carries nothing but the decisions.
 *
 * Every file is replaced atomically (rcv_util_write_atomic): a crash leaves
 * the old or the new version, never a mixture.  Copies renamed into
 * history or quarantine are fsynced first.  Only regular files are ever
 * moved into the quarantine, and its pruning counts every name there.
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

#define RCV_ST_SUFFIX	".state"
#define RCV_ST_UNATTRIBUTED	"unattributed.counts"
#define RCV_ST_REJ_PREFIX	"rejections_"
#define RCV_ST_JOURNAL		"install.pending"

/* Indexed by enum rcv_why; persisted (state keys, metric labels). */
static const char *const rcv_st_why[RCV_WHY_N] = {
	"signature", "signer", "replay", "format", "limit", "domain", "empty",
	"shrink", "heartbeat", "superseded", "other"
};

const char *
rcv_why_name(int why)
{
	if (why < 0 || why >= RCV_WHY_N)
		why = RCV_WHY_OTHER;
	return rcv_st_why[why];
}

/* "rejections_NAME" -> its index, or -1. */
static int
rcv_st_why_key(const char *key)
{
	size_t pl = strlen(RCV_ST_REJ_PREFIX);
	int i;

	if (strncmp(key, RCV_ST_REJ_PREFIX, pl) != 0)
		return -1;
	for (i = 0; i < RCV_WHY_N; i++)
		if (strcmp(key + pl, rcv_st_why[i]) == 0)
			return i;
	return -1;
}

/* The nonzero counters as "rejections_NAME N" lines. */
static int
rcv_st_put_counts(struct rs_buf *b, const uint64_t counts[RCV_WHY_N])
{
	int i, r = RS_OK;

	for (i = 0; r == RS_OK && i < RCV_WHY_N; i++)
		if (counts[i] != 0)
			r = rs_buf_printf(b, "%s%s %" PRIu64 "\n",
			    RCV_ST_REJ_PREFIX, rcv_st_why[i], counts[i]);
	return r;
}

static int
rcv_st_path(const struct rcv_cfg *c, const char *agent, char *out,
    size_t outsize)
{
	int n;

	n = snprintf(out, outsize, "%s/%s%s", c->state_dir, agent,
	    RCV_ST_SUFFIX);
	return n < 0 || (size_t)n >= outsize ? RS_ERR_LIMIT : RS_OK;
}

static int
rcv_st_u64(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return RS_ERR_FORMAT;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return RS_ERR_FORMAT;
	*out = x;
	return RS_OK;
}

/*
 * Read a small "key value" file and hand each line to fn, which returns
 * RS_OK or RS_ERR_FORMAT.  A missing file is RS_OK with no lines.  On a
 * damaged file (no final newline, a NUL, a line without a space, or fn's
 * refusal) *lineno names the line.
 */
typedef int rcv_st_kv_fn(void *arg, const char *key, const char *val);

static int
rcv_st_kv_read(const char *path, rcv_st_kv_fn *fn, void *arg, size_t *lineno)
{
	char *text = NULL, *line, *next, *val;
	size_t len;
	int r;

	*lineno = 0;
	r = rcv_util_read_small(path, RS_MAX_STATE_BYTES, &text, &len);
	if (r == RS_ERR_NOTFOUND)
		return RS_OK;
	if (r != RS_OK)
		return RS_ERR_SYSTEM;
	r = RS_ERR_FORMAT;
	if (strlen(text) != len)
		goto out;
	for (line = text; *line != '\0'; line = next) {
		++*lineno;
		if ((next = strchr(line, '\n')) == NULL)
			goto out;
		*next++ = '\0';
		if ((val = strchr(line, ' ')) == NULL)
			goto out;
		*val++ = '\0';
		if (fn(arg, line, val) != RS_OK)
			goto out;
	}
	r = RS_OK;
out:
	free(text);
	return r;
}

static int
rcv_st_load_kv(void *arg, const char *key, const char *val)
{
	struct rcv_state *st = arg;
	uint64_t v;
	int w;

	if (strcmp(key, "rejected_reason") == 0) {
		snprintf(st->rej_reason, sizeof(st->rej_reason), "%s", val);
		return RS_OK;
	}
	if (strcmp(key, "sha256") == 0) {
		if (strlen(val) != 2 * RS_SHA256_LEN)
			return RS_ERR_FORMAT;
		memcpy(st->sha256, val, sizeof(st->sha256));
		return RS_OK;
	}
	if (rcv_st_u64(val, &v) != RS_OK)
		return RS_ERR_FORMAT;
	if (strcmp(key, "seq") == 0) {
		st->seq = v;
		st->have = 1;
	} else if (strcmp(key, "count") == 0)
		st->count = v;
	else if (strcmp(key, "accepted_time") == 0)
		st->accepted_time = (time_t)v;
	else if (strcmp(key, "heartbeat_time") == 0)
		st->heartbeat_time = (time_t)v;
	else if (strcmp(key, "rejected_seq") == 0)
		st->rej_seq = v;
	else if (strcmp(key, "rejected_time") == 0)
		st->rej_time = (time_t)v;
	else if (strcmp(key, "approved_seq") == 0)
		st->approved_seq = v;
	else if (strcmp(key, "install_seq") == 0)
		st->install_seq = v;
	else if (strcmp(key, "install_usec") == 0)
		st->install_usec = v;
	else if ((w = rcv_st_why_key(key)) >= 0)
		st->rejections[w] = v;
	else
		return RS_ERR_FORMAT;
	return RS_OK;
}

int
rcv_st_load(const struct rcv_cfg *c, const char *agent, struct rcv_state *st)
{
	struct rcv_journal j;
	char path[4096];
	size_t lineno;
	int r, committed;

	memset(st, 0, sizeof(*st));
	if ((r = rcv_st_path(c, agent, path, sizeof(path))) != RS_OK)
		return r;
	r = rcv_st_kv_read(path, rcv_st_load_kv, st, &lineno);
	if (r == RS_ERR_FORMAT)
		rs_error("read %s line %zu: damaged state file; fix or remove "
		    "it (removing it forgets the last accepted sequence)", path,
		    lineno);
	/* A committed install not yet recorded: the table already has it. */
	if (r == RS_OK && rcv_st_journal_load(c, &j, &committed) == RS_OK &&
	    committed && strcmp(j.agent, agent) == 0)
		rcv_st_journal_apply(&j, st);
	return r;
}

void
rcv_st_journal_apply(const struct rcv_journal *j, struct rcv_state *st)
{
	if (j->retire) {
		st->have = 0;
		st->approved_seq = 0;
		return;
	}
	st->have = 1;
	st->seq = j->seq;
	st->count = j->count;
	memcpy(st->sha256, j->sha256, sizeof(st->sha256));
	st->accepted_time = j->time;
	st->approved_seq = 0;
	st->install_seq = j->seq;
	st->install_usec = j->usec;
}

static int
rcv_st_journal_kv(void *arg, const char *key, const char *val)
{
	struct rcv_journal *j = arg;
	uint64_t v;

	if (strcmp(key, "agent") == 0) {
		if (!bundle_agent_id_ok(val))
			return RS_ERR_FORMAT;
		snprintf(j->agent, sizeof(j->agent), "%s", val);
		return RS_OK;
	}
	if (strcmp(key, "sha256") == 0) {
		if (strlen(val) != 2 * RS_SHA256_LEN)
			return RS_ERR_FORMAT;
		memcpy(j->sha256, val, sizeof(j->sha256));
		return RS_OK;
	}
	if (rcv_st_u64(val, &v) != RS_OK)
		return RS_ERR_FORMAT;
	if (strcmp(key, "retire") == 0)
		j->retire = v != 0;
	else if (strcmp(key, "seq") == 0)
		j->seq = v;
	else if (strcmp(key, "count") == 0)
		j->count = v;
	else if (strcmp(key, "entries") == 0)
		j->entries = v;
	else if (strcmp(key, "usec") == 0)
		j->usec = v;
	else if (strcmp(key, "time") == 0)
		j->time = (time_t)v;
	else if (strcmp(key, "dev") == 0)
		j->dev = v;
	else if (strcmp(key, "ino") == 0)
		j->ino = v;
	else
		return RS_ERR_FORMAT;
	return RS_OK;
}

int
rcv_st_journal_save(const struct rcv_cfg *c, const struct rcv_journal *j)
{
	struct rs_buf b;
	char path[4096];
	int r;

	if (rcv_util_path(path, sizeof(path), c->state_dir, RCV_ST_JOURNAL) !=
	    RS_OK)
		return RS_ERR_LIMIT;
	rs_buf_init(&b, RS_MAX_STATE_BYTES);
	r = rs_buf_printf(&b, "agent %s\nretire %d\nseq %" PRIu64 "\ncount %"
	    PRIu64 "\nsha256 %s\nentries %" PRIu64 "\nusec %" PRIu64
	    "\ntime %lld\ndev %" PRIu64 "\nino %" PRIu64 "\n", j->agent,
	    j->retire, j->seq, j->count, j->retire ? "0000000000000000000000"
	    "000000000000000000000000000000000000000000" : j->sha256,
	    j->entries, j->usec, (long long)j->time, j->dev, j->ino);
	if (r == RS_OK)
		r = rcv_util_write_atomic(path, b.data, b.len, 0600);
	rs_buf_free(&b);
	return r;
}

int
rcv_st_journal_load(const struct rcv_cfg *c, struct rcv_journal *j,
    int *committed)
{
	char path[4096], tab[4096];
	struct stat st;
	size_t lineno;
	int r;

	memset(j, 0, sizeof(*j));
	*committed = 0;
	if (rcv_util_path(path, sizeof(path), c->state_dir, RCV_ST_JOURNAL) !=
	    RS_OK || rcv_inst_table_path(c, c->map, tab, sizeof(tab)) != RS_OK)
		return RS_ERR_LIMIT;
	if (lstat(path, &st) == -1 && errno == ENOENT)
		return RS_ERR_NOTFOUND;
	r = rcv_st_kv_read(path, rcv_st_journal_kv, j, &lineno);
	if (r == RS_OK && j->agent[0] == '\0')
		r = RS_ERR_FORMAT;
	if (r != RS_OK) {
		if (r == RS_ERR_FORMAT)
			rs_error("read %s line %zu: damaged install journal",
			    path, lineno);
		return r;
	}
	/* Committed: the live table is the file postmap built for it. */
	*committed = stat(tab, &st) == 0 && (uint64_t)st.st_dev == j->dev &&
	    (uint64_t)st.st_ino == j->ino;
	return RS_OK;
}

int
rcv_st_journal_clear(const struct rcv_cfg *c)
{
	char path[4096];

	if (rcv_util_path(path, sizeof(path), c->state_dir, RCV_ST_JOURNAL) !=
	    RS_OK)
		return RS_ERR_LIMIT;
	if (unlink(path) == -1 && errno != ENOENT) {
		rs_error("remove %s: %s", path, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	return rcv_util_fsync_dir(c->state_dir);
}

int
rcv_st_save(const struct rcv_cfg *c, const char *agent,
    const struct rcv_state *st)
{
	struct rs_buf b;
	char path[4096];
	size_t i;
	int r;

	if ((r = rcv_st_path(c, agent, path, sizeof(path))) != RS_OK)
		return r;
	rs_buf_init(&b, RS_MAX_STATE_BYTES);
	if (st->have) {
		r = rs_buf_printf(&b, "seq %" PRIu64 "\ncount %" PRIu64
		    "\nsha256 %s\naccepted_time %lld\n", st->seq, st->count,
		    st->sha256, (long long)st->accepted_time);
		if (r == RS_OK && st->heartbeat_time != 0)
			r = rs_buf_printf(&b, "heartbeat_time %lld\n",
			    (long long)st->heartbeat_time);
		if (r == RS_OK && st->install_seq != 0)
			r = rs_buf_printf(&b, "install_seq %" PRIu64
			    "\ninstall_usec %" PRIu64 "\n", st->install_seq,
			    st->install_usec);
		if (r != RS_OK)
			goto out;
	}
	if (st->rej_seq != 0) {
		r = rs_buf_printf(&b, "rejected_seq %" PRIu64
		    "\nrejected_time %lld\nrejected_reason ", st->rej_seq,
		    (long long)st->rej_time);
		/* Keep the file line-oriented whatever the reason holds. */
		for (i = 0; r == RS_OK && st->rej_reason[i] != '\0'; i++)
			r = rs_buf_put_u8(&b, st->rej_reason[i] < 0x20 ||
			    st->rej_reason[i] > 0x7e ? '?' :
			    (uint8_t)st->rej_reason[i]);
		if (r == RS_OK)
			r = rs_buf_put_u8(&b, '\n');
		if (r != RS_OK)
			goto out;
	}
	if (st->approved_seq != 0 && (r = rs_buf_printf(&b, "approved_seq %"
	    PRIu64 "\n", st->approved_seq)) != RS_OK)
		goto out;
	if ((r = rcv_st_put_counts(&b, st->rejections)) != RS_OK)
		goto out;
	r = rcv_util_write_atomic(path, b.data, b.len, 0600);
 out:
	rs_buf_free(&b);
	return r;
}

static int
rcv_st_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
rcv_st_agents(const struct rcv_cfg *c, char ***out, size_t *nout)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL, **nv, name[RS_MAX_AGENT_ID + 1];
	size_t n = 0, cap = 0, l, sl = strlen(RCV_ST_SUFFIX);
	int r = RS_ERR_SYSTEM;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(c->state_dir)) == NULL) {
		rs_error("open %s: %s", c->state_dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	while ((e = readdir(d)) != NULL) {
		l = strlen(e->d_name);
		if (l <= sl || l - sl > RS_MAX_AGENT_ID ||
		    strcmp(e->d_name + l - sl, RCV_ST_SUFFIX) != 0)
			continue;
		memcpy(name, e->d_name, l - sl);
		name[l - sl] = '\0';
		if (!bundle_agent_id_ok(name))
			continue;
		if (n >= RS_MAX_AGENTS) {
			rs_error("scan %s: more than %d agents", c->state_dir,
			    RS_MAX_AGENTS);
			r = RS_ERR_LIMIT;
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = RS_ERR_NOMEM;
				goto out;
			}
			v = nv;
		}
		if ((v[n] = strdup(name)) == NULL) {
			r = RS_ERR_NOMEM;
			goto out;
		}
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), rcv_st_cmp);
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	r = RS_OK;
 out:
	rcv_util_words_free(v, n);
	closedir(d);
	return r;
}

/* A JSON string: quotes, backslashes and anything outside 0x20-0x7e. */
static int
rcv_st_json_str(struct rs_buf *b, const char *s)
{
	const unsigned char *p;
	int r = rs_buf_put_u8(b, '"');

	for (p = (const unsigned char *)s; r == RS_OK && *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			r = rs_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p > 0x7e)
			r = rs_buf_printf(b, "\\u%04x", *p);
		else
			r = rs_buf_put_u8(b, *p);
	}
	if (r == RS_OK)
		r = rs_buf_put_u8(b, '"');
	return r;
}

static int
rcv_st_json_time(struct rs_buf *b, const char *key, time_t t, int *first)
{
	char ts[32];
	int r;

	rcv_util_time(t, ts, sizeof(ts));
	r = rs_buf_printf(b, "%s\n      \"%s\": ", *first ? "" : ",", key);
	*first = 0;
	return r == RS_OK ? rcv_st_json_str(b, ts) : r;
}

static int
rcv_st_json_u64(struct rs_buf *b, const char *key, uint64_t v, int *first)
{
	int r;

	r = rs_buf_printf(b, "%s\n      \"%s\": %" PRIu64, *first ? "" : ",",
	    key, v);
	*first = 0;
	return r;
}

static int
rcv_st_json_agent(struct rs_buf *b, const char *agent,
    const struct rcv_state *st, int firstagent)
{
	int r, first = 1;

	r = rs_buf_printf(b, "%s\n    ", firstagent ? "" : ",");
	if (r == RS_OK)
		r = rcv_st_json_str(b, agent);
	if (r == RS_OK)
		r = rs_buf_put_str(b, ": {");
	if (r == RS_OK && st->have) {
		r = rcv_st_json_u64(b, "accepted_sequence", st->seq, &first);
		if (r == RS_OK)
			r = rcv_st_json_time(b, "accepted_time",
			    st->accepted_time, &first);
		if (r == RS_OK)
			r = rcv_st_json_u64(b, "accepted_count", st->count,
			    &first);
		if (r == RS_OK)
			r = rs_buf_put_str(b, ",\n      \"list_sha256\": ");
		if (r == RS_OK)
			r = rcv_st_json_str(b, st->sha256);
		if (r == RS_OK && st->heartbeat_time != 0)
			r = rcv_st_json_time(b, "heartbeat_time",
			    st->heartbeat_time, &first);
	}
	if (r == RS_OK && st->rej_seq != 0) {
		r = rcv_st_json_u64(b, "rejected_sequence", st->rej_seq,
		    &first);
		if (r == RS_OK)
			r = rcv_st_json_time(b, "rejected_time", st->rej_time,
			    &first);
		if (r == RS_OK)
			r = rs_buf_put_str(b, ",\n      \"rejected_reason\": ");
		if (r == RS_OK)
			r = rcv_st_json_str(b, st->rej_reason);
	}
	if (r == RS_OK)
		r = rs_buf_put_str(b, first ? "}" : "\n    }");
	return r;
}

int
rcv_st_status_write(const struct rcv_cfg *c)
{
	struct rcv_state st;
	struct rs_buf b;
	char **agents = NULL, ts[32];
	size_t n = 0, i;
	uint64_t entries = 0;
	int r;

	rs_buf_init(&b, RS_MAX_STATUS_BYTES);
	if ((r = rcv_st_agents(c, &agents, &n)) != RS_OK)
		goto out;
	(void)rcv_st_map_entries_load(c, &entries);
	rcv_util_time(time(NULL), ts, sizeof(ts));
	r = rs_buf_printf(&b, "{\n  \"version\": 1,\n  \"updated\": \"%s\",\n"
	    "  \"map_entries\": %" PRIu64 ",\n  \"agents\": {", ts, entries);
	for (i = 0; r == RS_OK && i < n; i++) {
		if ((r = rcv_st_load(c, agents[i], &st)) != RS_OK)
			goto out;
		r = rcv_st_json_agent(&b, agents[i], &st, i == 0);
	}
	if (r == RS_OK)
		r = rs_buf_put_str(&b, n > 0 ? "\n  }\n}\n" : "}\n}\n");
	if (r != RS_OK) {
		rs_error("write %s: %s", c->status_file, rs_err_str(r));
		goto out;
	}
	/* 0644: the upload account reads it to learn its verdict. */
	r = rcv_util_write_atomic(c->status_file, b.data, b.len, 0644);
 out:
	rcv_util_words_free(agents, n);
	rs_buf_free(&b);
	return r;
}

int
rcv_st_map_entries_save(const struct rcv_cfg *c, uint64_t n)
{
	char path[4096], text[32];
	int l;

	if (rcv_util_path(path, sizeof(path), c->state_dir, "map.entries") !=
	    RS_OK)
		return RS_ERR_LIMIT;
	l = snprintf(text, sizeof(text), "%" PRIu64 "\n", n);
	return rcv_util_write_atomic(path, text, (size_t)l, 0600);
}

int
rcv_st_map_entries_load(const struct rcv_cfg *c, uint64_t *n)
{
	struct rcv_journal j;
	char path[4096], *text = NULL, *nl;
	size_t len;
	int r, committed;

	*n = 0;
	if (rcv_st_journal_load(c, &j, &committed) == RS_OK && committed) {
		*n = j.entries;
		return RS_OK;
	}
	if (rcv_util_path(path, sizeof(path), c->state_dir, "map.entries") !=
	    RS_OK)
		return RS_ERR_LIMIT;
	if ((r = rcv_util_read_small(path, 64, &text, &len)) != RS_OK)
		return r;
	if ((nl = strchr(text, '\n')) != NULL)
		*nl = '\0';
	r = rcv_st_u64(text, n);
	free(text);
	return r;
}

static int
rcv_st_counts_kv(void *arg, const char *key, const char *val)
{
	uint64_t *counts = arg, v;
	int w;

	if ((w = rcv_st_why_key(key)) < 0 || rcv_st_u64(val, &v) != RS_OK)
		return RS_ERR_FORMAT;
	counts[w] = v;
	return RS_OK;
}

int
rcv_st_unattributed_load(const struct rcv_cfg *c, uint64_t counts[RCV_WHY_N])
{
	char path[4096];
	size_t lineno;
	int r;

	memset(counts, 0, RCV_WHY_N * sizeof(counts[0]));
	if (rcv_util_path(path, sizeof(path), c->state_dir,
	    RCV_ST_UNATTRIBUTED) != RS_OK)
		return RS_ERR_LIMIT;
	r = rcv_st_kv_read(path, rcv_st_counts_kv, counts, &lineno);
	if (r == RS_ERR_FORMAT) {
		rs_error("read %s line %zu: damaged counts file; fix or remove "
		    "it (removing it resets these counters)", path, lineno);
		memset(counts, 0, RCV_WHY_N * sizeof(counts[0]));
	}
	return r;
}

int
rcv_st_unattributed_add(const struct rcv_cfg *c, int why)
{
	uint64_t counts[RCV_WHY_N];
	struct rs_buf b;
	char path[4096];
	int r;

	if (why < 0 || why >= RCV_WHY_N)
		why = RCV_WHY_OTHER;
	if (rcv_util_path(path, sizeof(path), c->state_dir,
	    RCV_ST_UNATTRIBUTED) != RS_OK)
		return RS_ERR_LIMIT;
	/* Damaged: keep it for the admin to look at; count nothing. */
	if ((r = rcv_st_unattributed_load(c, counts)) != RS_OK)
		return r;
	counts[why]++;
	rs_buf_init(&b, RS_MAX_STATE_BYTES);
	if ((r = rcv_st_put_counts(&b, counts)) == RS_OK)
		r = rcv_util_write_atomic(path, b.data, b.len, 0600);
	rs_buf_free(&b);
	return r;
}

/*
 * A name in history or quarantine that is not a regular file (a directory
 * an older receiver moved there) would make every rename onto it fail,
 * and with it every later run: it goes first.
 */
static int
rcv_st_clear_slot(const char *dir, const char *name)
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
rcv_st_write_sig(const char *dir, const char *name, const char *sig,
    size_t siglen)
{
	char path[4096], base[RS_MAX_BUNDLE_NAME + 8];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s.sig", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return RS_ERR_LIMIT;
	snprintf(base, sizeof(base), "%s.sig", name);
	if ((n = rcv_st_clear_slot(dir, base)) != RS_OK)
		return n;
	return rcv_util_write_atomic(path, sig, siglen, 0640);
}

/* Sequence numbers of AGENT's bundles in dir, ascending. */
static int
rcv_st_seqs(const char *dir, const char *agent, uint64_t **out, size_t *nout)
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
rcv_st_history_seqs(const struct rcv_cfg *c, const char *agent,
    uint64_t **seqs, size_t *n)
{
	return rcv_st_seqs(c->history_dir, agent, seqs, n);
}

int
rcv_st_history_add(const struct rcv_cfg *c, const char *agent, uint64_t seq,
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
	if ((r = rcv_st_write_sig(c->history_dir, name, sig, siglen)) !=
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
	if (rcv_st_seqs(c->history_dir, agent, &seqs, &n) != RS_OK)
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
rcv_st_quarantine_move(const struct rcv_cfg *c, const char *name,
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
	if ((r = rcv_st_clear_slot(c->quarantine_dir, name)) != RS_OK ||
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
rcv_st_quarantine(const struct rcv_cfg *c, const char *agent, uint64_t seq,
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
	    (r = rcv_st_write_sig(c->quarantine_dir, name, sig, siglen)) !=
	    RS_OK)
		return r;
	if (src != NULL && (r = rcv_st_quarantine_move(c, name, src, dst)) !=
	    RS_OK)
		return r;
	if ((r = rcv_util_write_atomic(rpath, text, (size_t)n, 0640)) != RS_OK)
		return r;
	rcv_st_quarantine_prune(c);
	return RS_OK;
}

/* One refusal in the quarantine: all names sharing the stem AGENT.SEQ. */
struct rcv_st_qent {
	char	*stem;
	time_t	 mtime;		/* the newest of its files */
};

static int
rcv_st_qcmp(const void *a, const void *b)
{
	const struct rcv_st_qent *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->stem, y->stem);
}

/* "corp.5.rcpt.gz", "corp.5.rcpt.gz.sig", "corp.5.reason": "corp.5". */
static size_t
rcv_st_qstem(const char *name)
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
rcv_st_qscan(const struct rcv_cfg *c, struct rcv_st_qent **out, size_t *nout)
{
	struct rcv_st_qent *v = NULL, *nv;
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
		l = rcv_st_qstem(e->d_name);
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
rcv_st_quarantine_prune(const struct rcv_cfg *c)
{
	struct rcv_st_qent *v = NULL;
	struct dirent *e;
	size_t n = 0, i, l;
	DIR *d;

	if (rcv_st_qscan(c, &v, &n) != RS_OK)
		return;
	if (n > RS_QUARANTINE_KEEP) {
		qsort(v, n, sizeof(*v), rcv_st_qcmp);
		if ((d = opendir(c->quarantine_dir)) == NULL)
			rs_warn("open %s: %s", c->quarantine_dir,
			    strerror(errno));
		/* One pass: each name is removed if its refusal is old. */
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			l = rcv_st_qstem(e->d_name);
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
