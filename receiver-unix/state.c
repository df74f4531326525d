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
 * the old or the new version, never a mixture.
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
	if (rs_parse_dec(v, strlen(v), 1, UINT64_MAX, out) != RS_OK)
		return RS_ERR_FORMAT;
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
	if (strcmp(key, "unrelayed") == 0) {
		snprintf(st->unrelayed, sizeof(st->unrelayed), "%s", val);
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
	else if (strcmp(key, "unrelayed_count") == 0)
		st->nunrelayed = v;
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
	/* Domain names only: printable ASCII without spaces at the ends. */
	if (st->nunrelayed > 0 && (r = rs_buf_printf(&b, "unrelayed_count %"
	    PRIu64 "\nunrelayed %s\n", st->nunrelayed, st->unrelayed)) !=
	    RS_OK)
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
		if (r == RS_OK && st->nunrelayed > 0)
			r = rs_buf_put_str(b, ",\n      \"unrelayed_domains\": ");
		if (r == RS_OK && st->nunrelayed > 0)
			r = rcv_st_json_str(b, st->unrelayed);
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
