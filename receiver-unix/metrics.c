/*
 * metrics.c - the Prometheus textfile (metrics_file), for node_exporter's
 * textfile collector.  Rewritten at the end of every run, whatever the run
 * did, so that its last-run time alone shows the receiver runs at all.
 *
 * API:        rcv_met_write.
 * Ownership:  all memory is local.
 * Errors:     RS_ERR_SYSTEM and friends from the atomic write (logged);
 *             the run's exit code does not depend on them.  A state file
 *             that cannot be read leaves its agent out and is counted in
 *             rcptsync_receiver_state_errors; nothing else is skipped.
 * Trust:      reads only STATE, which is the receiver's own.  The strings
 *             that reach the file are agent ids (rcv_st_agents accepts only
 *             names that pass bundle_agent_id_ok, [a-z0-9._-]) and the
 *             fixed reason names; label values are escaped all the same,
 *             so that a future, looser id cannot break the format.  No
 *             reason text from a bundle is ever written here.
 *
 * Format (text format 0.0.4): every family has # HELP and # TYPE and its
 * samples follow in one block; counters end in _total, times in _seconds.
 * Families and labels are listed in docs/CONFIG.md, "Metrics".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rs_attr.h"
#include "buf.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"

#define RCV_MET_PREFIX	"rcptsync_receiver_"

struct rcv_met_agent {
	const char		*name;
	struct rcv_state	 st;
};

struct rcv_met {
	struct rs_buf		 b;
	struct rcv_met_agent	*a;		/* readable agents */
	size_t			 n;
	int			 r;		/* first error; then no-ops */
};

static void
rcv_met_printf(struct rcv_met *m, const char *fmt, ...)
    RS_PRINTF(2, 3)
    ;

static void
rcv_met_printf(struct rcv_met *m, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (m->r != RS_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		m->r = RS_ERR_LIMIT;
		return;
	}
	m->r = rs_buf_put(&m->b, line, (size_t)n);
}

/* # HELP and # TYPE; name without the common prefix. */
static void
rcv_met_family(struct rcv_met *m, const char *name, const char *type,
    const char *help)
{
	rcv_met_printf(m, "# HELP " RCV_MET_PREFIX "%s %s\n# TYPE "
	    RCV_MET_PREFIX "%s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
rcv_met_label(struct rcv_met *m, const char *key, const char *v)
{
	rcv_met_printf(m, "%s=\"", key);
	for (; m->r == RS_OK && *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			rcv_met_printf(m, "\\%c", *v);
		else if (*v == '\n')
			rcv_met_printf(m, "\\n");
		else
			m->r = rs_buf_put_u8(&m->b, (uint8_t)*v);
	}
	rcv_met_printf(m, "\"");
}

/* name{agent="..."[,reason="..."]} VALUE\n; value already formatted. */
static void
rcv_met_sample(struct rcv_met *m, const char *name, const char *agent,
    const char *reason, const char *value)
{
	rcv_met_printf(m, RCV_MET_PREFIX "%s", name);
	if (agent != NULL) {
		rcv_met_printf(m, "{");
		rcv_met_label(m, "agent", agent);
		if (reason != NULL) {
			rcv_met_printf(m, ",");
			rcv_met_label(m, "reason", reason);
		}
		rcv_met_printf(m, "}");
	}
	rcv_met_printf(m, " %s\n", value);
}

static void
rcv_met_u64(struct rcv_met *m, const char *name, const char *agent,
    uint64_t v)
{
	char val[32];

	snprintf(val, sizeof(val), "%" PRIu64, v);
	rcv_met_sample(m, name, agent, NULL, val);
}

/* Microseconds as decimal seconds, without floating point. */
static void
rcv_met_usec(struct rcv_met *m, const char *name, const char *agent,
    uint64_t usec)
{
	char val[32];

	snprintf(val, sizeof(val), "%" PRIu64 ".%06" PRIu64, usec / 1000000,
	    usec % 1000000);
	rcv_met_sample(m, name, agent, NULL, val);
}

static void
rcv_met_time(struct rcv_met *m, const char *name, const char *agent,
    time_t t)
{
	rcv_met_u64(m, name, agent, t < 0 ? 0 : (uint64_t)t);
}

/*
 * One family per agent field.  Agents without the field (never installed,
 * never a heartbeat, never refused) have no sample: an absent series says
 * "never" more honestly than a 0 timestamp.
 */
enum rcv_met_field {
	RCV_MET_LAST_SUCCESS, RCV_MET_ACCEPTED_TIME, RCV_MET_ACCEPTED_SEQ,
	RCV_MET_ENTRIES, RCV_MET_INSTALL_SEQ, RCV_MET_INSTALL_DURATION,
	RCV_MET_HEARTBEAT, RCV_MET_REJECTED_SEQ, RCV_MET_REJECTED_TIME,
	RCV_MET_UNRELAYED, RCV_MET_NFIELDS
};

static const struct {
	const char	*name;
	const char	*help;
} rcv_met_fields[RCV_MET_NFIELDS] = {
	{ "last_success_timestamp_seconds",
	  "Unix time of the agent's last install or heartbeat." },
	{ "accepted_timestamp_seconds",
	  "Unix time of the agent's last install (full list)." },
	{ "accepted_sequence",
	  "Sequence of the agent's last accepted bundle, full list or "
	  "heartbeat." },
	{ "accepted_entries",
	  "Entries installed from the agent's last list." },
	{ "install_sequence",
	  "Sequence of the agent's last installed full list." },
	{ "install_duration_seconds",
	  "Duration of the agent's last install: verify, validate, build "
	  "the map, postmap, rename." },
	{ "heartbeat_timestamp_seconds",
	  "Unix time of the agent's last accepted heartbeat." },
	{ "rejected_sequence",
	  "Sequence of the agent's last refused bundle." },
	{ "rejected_timestamp_seconds",
	  "Unix time of the agent's last refused bundle." },
	{ "unrelayed_domains",
	  "Domains of the agent's last list that relay_domains or its "
	  "[signer] domains leave out: mail for them is refused here." },
};

static void
rcv_met_agent_field(struct rcv_met *m, int f)
{
	const struct rcv_state *st;
	const char *a, *name = rcv_met_fields[f].name;
	size_t i;
	time_t last;

	rcv_met_family(m, name, "gauge", rcv_met_fields[f].help);
	for (i = 0; i < m->n; i++) {
		st = &m->a[i].st;
		a = m->a[i].name;
		last = st->accepted_time > st->heartbeat_time ?
		    st->accepted_time : st->heartbeat_time;
		switch (f) {
		case RCV_MET_LAST_SUCCESS:
			if (st->have)
				rcv_met_time(m, name, a, last);
			break;
		case RCV_MET_ACCEPTED_TIME:
			if (st->have)
				rcv_met_time(m, name, a, st->accepted_time);
			break;
		case RCV_MET_ACCEPTED_SEQ:
			if (st->have)
				rcv_met_u64(m, name, a, st->seq);
			break;
		case RCV_MET_ENTRIES:
			if (st->have)
				rcv_met_u64(m, name, a, st->count);
			break;
		case RCV_MET_INSTALL_SEQ:
			if (st->have && st->install_seq != 0)
				rcv_met_u64(m, name, a, st->install_seq);
			break;
		case RCV_MET_INSTALL_DURATION:
			if (st->have && st->install_seq != 0)
				rcv_met_usec(m, name, a, st->install_usec);
			break;
		case RCV_MET_HEARTBEAT:
			if (st->have && st->heartbeat_time != 0)
				rcv_met_time(m, name, a, st->heartbeat_time);
			break;
		case RCV_MET_REJECTED_SEQ:
			if (st->rej_seq != 0)
				rcv_met_u64(m, name, a, st->rej_seq);
			break;
		case RCV_MET_REJECTED_TIME:
			if (st->rej_seq != 0)
				rcv_met_time(m, name, a, st->rej_time);
			break;
		case RCV_MET_UNRELAYED:
			if (st->have)
				rcv_met_u64(m, name, a, st->nunrelayed);
			break;
		}
	}
}

/*
 * Every reason for every agent, zeros included: a counter that appears
 * only at its first increment hides that increment from rate().  The
 * label set is bounded: at most RS_MAX_AGENTS agents (plus agent="" for
 * refusals no agent can be blamed for) times RCV_WHY_N reasons.
 */
static void
rcv_met_rejections(struct rcv_met *m, const uint64_t *unattributed)
{
	char val[32];
	size_t i;
	int w;

	rcv_met_family(m, "rejections_total", "counter", "Bundles refused "
	    "or set aside, by reason, since the state was created; "
	    "agent=\"\" counts bundles under names without state whose "
	    "signature did not verify.");
	for (i = 0; i < m->n; i++)
		for (w = 0; w < RCV_WHY_N; w++) {
			snprintf(val, sizeof(val), "%" PRIu64,
			    m->a[i].st.rejections[w]);
			rcv_met_sample(m, "rejections_total", m->a[i].name,
			    rcv_why_name(w), val);
		}
	if (unattributed == NULL)
		return;
	for (w = 0; w < RCV_WHY_N; w++) {
		snprintf(val, sizeof(val), "%" PRIu64, unattributed[w]);
		rcv_met_sample(m, "rejections_total", "", rcv_why_name(w), val);
	}
}

int
rcv_met_write(const struct rcv_cfg *c, int exit_code, uint64_t run_usec)
{
	struct rcv_met m;
	char **agents = NULL;
	uint64_t entries = 0, unattr[RCV_WHY_N], errors = 0;
	size_t nagents = 0, i;
	time_t now = time(NULL);
	int f, unattr_ok;

	if (c->metrics_file == NULL)
		return RS_OK;
	memset(&m, 0, sizeof(m));
	rs_buf_init(&m.b, RS_MAX_STATUS_BYTES);
	if (rcv_st_agents(c, &agents, &nagents) != RS_OK)
		errors++;
	if (nagents > 0 && (m.a = calloc(nagents, sizeof(*m.a))) == NULL) {
		m.r = RS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nagents; i++) {
		if (rcv_st_load(c, agents[i], &m.a[m.n].st) != RS_OK) {
			errors++;
			continue;
		}
		m.a[m.n++].name = agents[i];
	}
	unattr_ok = rcv_st_unattributed_load(c, unattr) == RS_OK;
	if (!unattr_ok)
		errors++;
	(void)rcv_st_map_entries_load(c, &entries);

	rcv_met_family(&m, "last_run_timestamp_seconds", "gauge",
	    "Unix time the last run of rcptsync-receiver ended.");
	rcv_met_time(&m, "last_run_timestamp_seconds", NULL, now);
	rcv_met_family(&m, "last_run_exit_code", "gauge", "Exit code of the "
	    "last run: 0 ok, 1 a bundle was refused, 2 configuration error, "
	    "3 system failure.");
	rcv_met_u64(&m, "last_run_exit_code", NULL, (uint64_t)exit_code);
	rcv_met_family(&m, "last_run_duration_seconds", "gauge",
	    "Duration of the last run.");
	rcv_met_usec(&m, "last_run_duration_seconds", NULL, run_usec);
	rcv_met_family(&m, "map_entries", "gauge",
	    "Lines in the installed map source.");
	rcv_met_u64(&m, "map_entries", NULL, entries);
	rcv_met_family(&m, "stale_warning_seconds", "gauge", "Configured "
	    "stale_warning: status --nagios warns after this long without an "
	    "install or heartbeat.");
	rcv_met_u64(&m, "stale_warning_seconds", NULL, c->stale_warning);
	rcv_met_family(&m, "stale_critical_seconds", "gauge", "Configured "
	    "stale_critical: status --nagios is critical after this long.");
	rcv_met_u64(&m, "stale_critical_seconds", NULL, c->stale_critical);
	rcv_met_family(&m, "state_errors", "gauge", "State files that could "
	    "not be read (damaged or unreadable; see the log): their agents "
	    "or counters are missing here.");
	rcv_met_u64(&m, "state_errors", NULL, errors);
	for (f = 0; f < RCV_MET_NFIELDS; f++)
		rcv_met_agent_field(&m, f);
	rcv_met_rejections(&m, unattr_ok ? unattr : NULL);
	if (m.r != RS_OK) {
		rs_error("write %s: %s", c->metrics_file, rs_err_str(m.r));
		goto out;
	}
	/* 0644: node_exporter runs as its own user. */
	m.r = rcv_util_write_atomic(c->metrics_file, m.b.data, m.b.len, 0644);
 out:
	free(m.a);
	rcv_util_words_free(agents, nagents);
	rs_buf_free(&m.b);
	return m.r;
}
