/*
 * retire.c - "rcptsync-receiver retire [--yes] AGENT": take the list of an
 * agent that is gone out of the map.
 *
 * API:        rcv_retire (returns the command's exit code).
 * Ownership:  all memory is local.
 * Errors:     exit 1 when the shrink guard refuses (nothing changed), 2 for
 *             an unknown agent or an invalid name, 3 for a system failure
 *             (the map is unchanged, or the next run finishes the commit).
 * Trust:      the argument is the admin's.  The change goes through the
 *             same guard as a list: a map that would shrink by more than
 *             shrink_threshold needs --yes, and that choice is logged.
 *             Retiring every agent is refused: an empty map rejects all
 *             relay mail.
 *
 * The agent's STATE/AGENT.list and AGENT.state go; its history and
 * quarantine stay for the audit trail.  An agent still listed in
 * allowed_signers is back with its next bundle: remove its line first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"

int
rcv_retire(const struct rcv_cfg *c, const char *agent, int yes)
{
	struct rcv_inst_req q;
	struct stat sb;
	char path[4096], name[RS_MAX_AGENT_ID + 8];
	uint64_t before = 0, after = 0;
	int r;

	if (!bundle_agent_id_ok(agent)) {
		rs_error("retire %s: not a valid agent id", agent);
		return RCV_EXIT_USAGE;
	}
	if (rcv_inst_recover(c) != RS_OK)
		return RCV_EXIT_SYSTEM;
	snprintf(name, sizeof(name), "%s.state", agent);
	if (rcv_util_path(path, sizeof(path), c->state_dir, name) != RS_OK)
		return RCV_EXIT_USAGE;
	if (lstat(path, &sb) == -1) {
		rs_error("retire %s: no such agent (no %s)", agent, path);
		return RCV_EXIT_USAGE;
	}
	(void)rcv_st_map_entries_load(c, &before);
	memset(&q, 0, sizeof(q));
	q.agent = agent;
	q.retire = 1;
	q.dry = 1;
	q.t0 = rcv_util_usec();
	/* First the merge alone, for the guard. */
	r = rcv_inst_map(c, &q, &after);
	if (r == RS_ERR_EMPTY) {
		rs_error("retire %s: the map would be empty without it; "
		    "refused", agent);
		return RCV_EXIT_REFUSED;
	}
	if (r != RS_OK)
		return r == RS_ERR_SYNTAX ? RCV_EXIT_USAGE : RCV_EXIT_SYSTEM;
	if (after * 100 < before * (100 - c->shrink_pct)) {
		if (!yes) {
			rs_error("retire %s: shrink: the map would go from %"
			    PRIu64 " to %" PRIu64 " entries, threshold %u%% "
			    "(shrink_threshold); confirm with "
			    "'rcptsync-receiver retire --yes %s'", agent,
			    before, after, c->shrink_pct, agent);
			return RCV_EXIT_REFUSED;
		}
		rs_warn("retire %s: shrink: the map goes from %" PRIu64 " to %"
		    PRIu64 " entries, threshold %u%%: APPROVED by the "
		    "administrator (retire --yes)", agent, before, after,
		    c->shrink_pct);
	}
	q.dry = 0;
	if (rcv_inst_map(c, &q, &after) != RS_OK)
		return RCV_EXIT_SYSTEM;
	(void)rcv_st_status_write(c);
	rs_warn("retire %s: its list left the map (%" PRIu64 " entries now); "
	    "history and quarantine are kept.  Remove its line from %s, or "
	    "its next bundle installs it again", agent, after,
	    c->allowed_signers);
	return RCV_EXIT_OK;
}
