/*
 * fresh.c - "rcptsync-receiver status [--nagios]": what each agent last
 * did, how long ago, and whether that is still fresh.
 *
 * API:        rcv_fresh_status (returns the command's exit code).
 * Ownership:  all memory is local.
 * Errors:     an unreadable state directory is exit 3 (UNKNOWN with
 *             --nagios); a damaged agent state file makes that agent
 *             UNKNOWN and the others are still shown.
 * Trust:      reads only STATE, and never writes anything: staleness only
 *             alarms, the map stays as it is (fail-static).  Reason strings
 *             in the state files came from bundles, so control characters
 *             are shown as '?' and, in the one-line plugin output, '|' as
 *             '/' (it would start the performance data).
 *
 * Verdict per agent, first match wins:
 *   UNKNOWN   its state file cannot be read
 *   CRITICAL  nothing installed yet, or no install or heartbeat (contact)
 *             for more than stale_critical
 *   WARNING   no contact for more than stale_warning, or the newest thing
 *             it sent was refused
 *   OK
 * The plugin reports the worst agent, CRITICAL over UNKNOWN over WARNING
 * (an unreadable state must not hide behind a mere warning), and UNKNOWN
 * when there is no agent at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"

#define RCV_FRESH_OK		0
#define RCV_FRESH_WARNING	1
#define RCV_FRESH_CRITICAL	2
#define RCV_FRESH_UNKNOWN	3

static const char *const rcv_fresh_word[] = {
	"OK", "WARNING", "CRITICAL", "UNKNOWN"
};
static const char *const rcv_fresh_stale_word[] = {
	"ok", "STALE warning", "STALE critical"
};
/* Which verdict wins when agents differ, indexed by verdict. */
static const int rcv_fresh_rank[] = { 0, 1, 3, 2 };

struct rcv_fresh {
	int		level;		/* RCV_FRESH_* */
	int		stale;		/* 0 ok, 1 warning, 2 critical (age) */
	int		contact;	/* has had an install */
	time_t		last;		/* last install or heartbeat */
	uint64_t	age;		/* seconds since last */
	char		msg[RS_LOG_LINE];	/* without the agent's name */
};

/* "45s", "7m12s", "3h", "26h5m": hours are the largest unit. */
static void
rcv_fresh_dur(uint64_t s, char *out, size_t outsize)
{
	if (s >= 3600 && (s % 3600) / 60 != 0)
		snprintf(out, outsize, "%" PRIu64 "h%" PRIu64 "m", s / 3600,
		    (s % 3600) / 60);
	else if (s >= 3600)
		snprintf(out, outsize, "%" PRIu64 "h", s / 3600);
	else if (s >= 60 && s % 60 != 0)
		snprintf(out, outsize, "%" PRIu64 "m%" PRIu64 "s", s / 60,
		    s % 60);
	else if (s >= 60)
		snprintf(out, outsize, "%" PRIu64 "m", s / 60);
	else
		snprintf(out, outsize, "%" PRIu64 "s", s);
}

/* Printable ASCII only; for the plugin line also no '|'. */
static void
rcv_fresh_clean(char *s, int nagios)
{
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
		else if (nagios && *s == '|')
			*s = '/';
	}
}

static void
rcv_fresh_eval(const struct rcv_cfg *c, const struct rcv_state *st,
    time_t now, struct rcv_fresh *f)
{
	char age[32], lim[32];

	memset(f, 0, sizeof(*f));
	f->last = st->accepted_time > st->heartbeat_time ?
	    st->accepted_time : st->heartbeat_time;
	f->contact = st->have;
	/* A clock set back makes the last contact "now", not 2^64 ago. */
	f->age = now > f->last ? (uint64_t)(now - f->last) : 0;
	if (!st->have) {
		f->stale = 2;
		f->level = RCV_FRESH_CRITICAL;
		if (st->rej_seq != 0)
			snprintf(f->msg, sizeof(f->msg), "nothing installed; "
			    "last rejection: %s", st->rej_reason);
		else
			snprintf(f->msg, sizeof(f->msg), "nothing installed");
		return;
	}
	rcv_fresh_dur(f->age, age, sizeof(age));
	if (f->age > c->stale_critical) {
		f->stale = 2;
		f->level = RCV_FRESH_CRITICAL;
		rcv_fresh_dur(c->stale_critical, lim, sizeof(lim));
		snprintf(f->msg, sizeof(f->msg), "stale: no install or "
		    "heartbeat for %s (critical after %s)", age, lim);
		return;
	}
	if (f->age > c->stale_warning) {
		f->stale = 1;
		f->level = RCV_FRESH_WARNING;
		rcv_fresh_dur(c->stale_warning, lim, sizeof(lim));
		snprintf(f->msg, sizeof(f->msg), "stale: no install or "
		    "heartbeat for %s (warning after %s)", age, lim);
		return;
	}
	/*
	 * The newest bundle was refused: the map still has the old list,
	 * which is fine for now, but someone should look.  Same second:
	 * the higher sequence is the newer one.
	 */
	if (st->rej_seq != 0 && (st->rej_time > f->last ||
	    (st->rej_time == f->last && st->rej_seq > st->seq))) {
		f->level = RCV_FRESH_WARNING;
		snprintf(f->msg, sizeof(f->msg), "last bundle %" PRIu64
		    " refused: %s", st->rej_seq, st->rej_reason);
		return;
	}
	if (st->nunrelayed > 0) {
		f->level = RCV_FRESH_WARNING;
		snprintf(f->msg, sizeof(f->msg), "%" PRIu64 " entries; %"
		    PRIu64 " of the list's domains are not relayed here (%s): "
		    "mail for them is refused", st->count, st->nunrelayed,
		    st->unrelayed);
		return;
	}
	snprintf(f->msg, sizeof(f->msg), "%" PRIu64 " entries, last contact "
	    "%s ago", st->count, age);
}

/*
 * The sequence of the last install.  States written before install_seq
 * was recorded: seq, if no heartbeat moved it on since; else the newest
 * kept bundle not above it.  0: unknown.
 */
static uint64_t
rcv_fresh_install_seq(const struct rcv_cfg *c, const char *agent,
    const struct rcv_state *st)
{
	uint64_t *seqs = NULL, found = 0;
	size_t n = 0, i;

	if (st->install_seq != 0)
		return st->install_seq;
	if (st->heartbeat_time == 0 || st->heartbeat_time < st->accepted_time)
		return st->seq;
	if (rcv_keep_history_seqs(c, agent, &seqs, &n) != RS_OK)
		return 0;
	for (i = 0; i < n; i++)
		if (seqs[i] <= st->seq)
			found = seqs[i];
	free(seqs);
	return found;
}

/* "3 (shrink 1, signature 2)" or "0". */
static void
rcv_fresh_counts(const uint64_t *counts, char *out, size_t outsize)
{
	uint64_t total = 0;
	size_t used;
	int w, n, first = 1;

	for (w = 0; w < RCV_WHY_N; w++)
		total += counts[w];
	n = snprintf(out, outsize, "%" PRIu64, total);
	if (total == 0 || n < 0 || (size_t)n >= outsize)
		return;
	used = (size_t)n;
	for (w = 0; w < RCV_WHY_N; w++) {
		if (counts[w] == 0)
			continue;
		n = snprintf(out + used, outsize - used, "%s%s %" PRIu64,
		    first ? " (" : ", ", rcv_why_name(w), counts[w]);
		if (n < 0 || (size_t)n >= outsize - used)
			return;
		used += (size_t)n;
		first = 0;
	}
	snprintf(out + used, outsize - used, ")");
}

static void
rcv_fresh_print_agent(const struct rcv_cfg *c, const char *agent,
    const struct rcv_state *st, const struct rcv_fresh *f, time_t now)
{
	char t[32], age[32], warn[32], crit[32], counts[256],
	    reason[RS_MAX_REASON + 1];
	uint64_t iseq;

	rcv_fresh_dur(c->stale_warning, warn, sizeof(warn));
	rcv_fresh_dur(c->stale_critical, crit, sizeof(crit));
	rcv_fresh_dur(f->age, age, sizeof(age));
	if (st->have) {
		rcv_util_time(st->accepted_time, t, sizeof(t));
		iseq = rcv_fresh_install_seq(c, agent, st);
		if (iseq != 0)
			printf("  accepted  sequence %" PRIu64, iseq);
		else
			printf("  accepted  sequence unknown");
		printf(" at %s, %" PRIu64 " entries, list-sha256 %s", t,
		    st->count, st->sha256);
		if (st->install_seq != 0)
			printf(", install took %" PRIu64 ".%03" PRIu64 "s",
			    st->install_usec / 1000000,
			    st->install_usec / 1000 % 1000);
		printf("\n");
	} else
		printf("  accepted  never\n");
	if (st->have && st->heartbeat_time != 0) {
		rcv_util_time(st->heartbeat_time, t, sizeof(t));
		rcv_fresh_dur(now > st->heartbeat_time ?
		    (uint64_t)(now - st->heartbeat_time) : 0, age, sizeof(age));
		printf("  heartbeat %s, %s ago\n", t, age);
		rcv_fresh_dur(f->age, age, sizeof(age));
	} else
		printf("  heartbeat never\n");
	if (st->have)
		printf("  sequence  %" PRIu64 " (last accepted, list or "
		    "heartbeat)\n", st->seq);
	else
		printf("  sequence  none\n");
	if (f->contact) {
		rcv_util_time(f->last, t, sizeof(t));
		printf("  contact   %s, %s ago: %s", t, age,
		    rcv_fresh_stale_word[f->stale]);
	} else
		printf("  contact   never: %s", rcv_fresh_stale_word[2]);
	printf(" (warning after %s, critical after %s)\n", warn, crit);
	if (st->rej_seq != 0) {
		rcv_util_time(st->rej_time, t, sizeof(t));
		snprintf(reason, sizeof(reason), "%s", st->rej_reason);
		rcv_fresh_clean(reason, 0);
		printf("  refused   sequence %" PRIu64 " at %s: %s\n",
		    st->rej_seq, t, reason);
	} else
		printf("  refused   never\n");
	rcv_fresh_counts(st->rejections, counts, sizeof(counts));
	printf("  refusals  %s\n", counts);
}

int
rcv_fresh_status(const struct rcv_cfg *c, int nagios)
{
	struct rcv_state st;
	struct rcv_fresh f;
	char **agents = NULL, msg[RS_LOG_LINE + RS_MAX_AGENT_ID + 64] = "",
	    warn[32], crit[32],
	    counts[256];
	uint64_t entries = 0, maxage = 0, unattr[RCV_WHY_N];
	size_t n = 0, i, notok = 0;
	time_t now = time(NULL);
	int worst = RCV_FRESH_OK, have_worst = 0, anyage = 0, r;
	uint64_t worst_age = 0;

	if (rcv_st_agents(c, &agents, &n) != RS_OK) {
		if (nagios)
			printf("RCPTSYNC UNKNOWN - cannot read %s\n",
			    c->state_dir);
		return nagios ? RCV_FRESH_UNKNOWN : RCV_EXIT_SYSTEM;
	}
	(void)rcv_st_map_entries_load(c, &entries);
	rcv_fresh_dur(c->stale_warning, warn, sizeof(warn));
	rcv_fresh_dur(c->stale_critical, crit, sizeof(crit));
	if (!nagios) {
		printf("map       %s (%s): %" PRIu64 " entries\n", c->map,
		    c->map_type, entries);
		printf("stale     warning after %s (%" PRIu64 "s), critical "
		    "after %s (%" PRIu64 "s)\n", warn, c->stale_warning, crit,
		    c->stale_critical);
	}
	for (i = 0; i < n; i++) {
		r = rcv_st_load(c, agents[i], &st);
		if (r != RS_OK) {
			memset(&f, 0, sizeof(f));
			f.level = RCV_FRESH_UNKNOWN;
			snprintf(f.msg, sizeof(f.msg), "%s state file (see the "
			    "log)", r == RS_ERR_FORMAT ? "damaged" :
			    "cannot read the");
		} else
			rcv_fresh_eval(c, &st, now, &f);
		rcv_fresh_clean(f.msg, nagios);
		if (f.level != RCV_FRESH_OK)
			notok++;
		if (f.contact && (!anyage || f.age > maxage)) {
			maxage = f.age;
			anyage = 1;
		}
		/* The worst agent; among equals, the longest silent. */
		if (!have_worst || rcv_fresh_rank[f.level] >
		    rcv_fresh_rank[worst] || (f.level == worst &&
		    f.age > worst_age)) {
			worst = f.level;
			worst_age = f.age;
			have_worst = 1;
			snprintf(msg, sizeof(msg), "%s: %s", agents[i], f.msg);
		}
		if (nagios)
			continue;
		printf("agent %s: %s - %s\n", agents[i],
		    rcv_fresh_word[f.level], f.msg);
		if (r == RS_OK)
			rcv_fresh_print_agent(c, agents[i], &st, &f, now);
	}
	if (!nagios) {
		if (rcv_st_unattributed_load(c, unattr) == RS_OK)
			rcv_fresh_counts(unattr, counts, sizeof(counts));
		else
			snprintf(counts, sizeof(counts), "unknown, damaged "
			    "counts file (see the log)");
		printf("unattributed refusals (names without state, not "
		    "verified): %s\n", counts);
		rcv_util_words_free(agents, n);
		return RCV_EXIT_OK;
	}
	if (n == 0) {
		worst = RCV_FRESH_UNKNOWN;
		snprintf(msg, sizeof(msg), "no agent has pushed yet");
	} else if (worst != RCV_FRESH_OK && notok > 1)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    "; %zu more not OK", notok - 1);
	else if (n > 1)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    " (%zu agents)", n);
	/* Performance data: 'label'=value[UOM];[warn];[crit];[min];[max] */
	printf("RCPTSYNC %s - %s | entries=%" PRIu64 ";;;0", rcv_fresh_word[
	    worst], msg, entries);
	if (anyage)
		printf(" age=%" PRIu64 "s;%" PRIu64 ";%" PRIu64 ";0", maxage,
		    c->stale_warning, c->stale_critical);
	printf("\n");
	rcv_util_words_free(agents, n);
	return worst;
}
