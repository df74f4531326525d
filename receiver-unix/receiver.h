/*
 * receiver.h - internal interfaces of rcptsync-receiver, the relay-side
 * gatekeeper that verifies, validates and installs recipient lists.
 *
 * Modules (one prefix each):
 *   rcv_cfg_   recv_cfg.c  configuration: [receiver] and [signer NAME]
 *   rcv_lock_  lock.c      one receiver at a time (flock on STATE/lock)
 *   rcv_st_    state.c     per-agent state, rejection counters, history,
 *                          quarantine, status.json
 *   rcv_met_   metrics.c   the Prometheus textfile (metrics_file)
 *   rcv_fresh_ fresh.c     status and status --nagios: freshness verdicts
 *   rcv_spool_ spool.c     pick pending bundles, drive the decisions
 *   rcv_vfy_   verify.c    signature first, then streaming validation
 *   rcv_inst_  install.c   merge lists, postmap under a temporary name,
 *                          journal, renames, directory fsync, recovery
 *   rcv_retire retire.c    take a departed agent's list out of the map
 *   rcv_priv_  priv.c      started as root: become the receiver's user
 *   rcv_util_  util.c      small file helpers shared by the modules
 *   rcv_pfc_   postfix_check.c  check-postfix: main.cf uses our map
 *
 * Ownership: struct rcv_cfg owns every string it points to; rcv_cfg_free
 * releases them.  Functions return RS_OK or a negative RS_ERR_* and log
 * their own failure in the "<operation> <object>: <reason>" form, so
 * callers only decide what happens next; the spool's decisions are an
 * enum rcv_outcome.
 *
 * Trust boundary: everything in the spool directory is hostile (the
 * upload account lives in the DMZ).  The configuration, allowed_signers,
 * the static file and STATE are the administrator's and trusted, but still
 * parsed with limits.
 */
#ifndef RCV_RECEIVER_H
#define RCV_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bundle.h"
#include "hash.h"
#include "rs_limits.h"

struct signers;

/*
 * What the spool did with a bundle, and the worst of a run: the one
 * result vocabulary of spool.c and its stages (the layers below return
 * RS_ERR_*).  Ordered by severity for a run: SYSFAIL over REFUSED over
 * DONE; CONFIG stops a run before any bundle.
 */
enum rcv_outcome {
	RCV_DONE,		/* installed, heartbeat or nothing to do */
	RCV_REFUSED,		/* quarantined */
	RCV_SYSFAIL,		/* left in the spool, retry later */
	RCV_CONFIG,		/* configuration problem (allowed_signers) */
	RCV_NEXT		/* a stage passed the bundle on (spool.c) */
};

/*
 * Why a bundle was refused or set aside: the fixed, small label set of
 * rcptsync_receiver_rejections_total{reason=...} (docs/CONFIG.md, Metrics).
 * Every refusal path maps to exactly one; rcv_why_name gives the label and
 * the state file key.  Append only: the names are persisted.
 */
enum rcv_why {
	RCV_WHY_SIGNATURE,	/* .sig missing, malformed, wrong namespace or
				   algorithm, does not verify */
	RCV_WHY_SIGNER,		/* verifies, but the key is not trusted for
				   the agent */
	RCV_WHY_REPLAY,		/* sequence not greater than the last one */
	RCV_WHY_FORMAT,		/* not a regular file, gzip, header, entries,
				   count, checksum */
	RCV_WHY_LIMIT,		/* a size or count limit */
	RCV_WHY_DOMAIN,		/* entry outside the header's domains */
	RCV_WHY_EMPTY,		/* no entries (left after the domain filter) */
	RCV_WHY_SHRINK,		/* the shrink guard */
	RCV_WHY_HEARTBEAT,	/* heartbeat for a list that is not installed */
	RCV_WHY_SUPERSEDED,	/* a newer bundle of the agent was pending */
	RCV_WHY_OTHER,
	RCV_WHY_N
};

const char *rcv_why_name(int why);

/* Exit codes (docs/HACKING.md). */
#define RCV_EXIT_OK		0
#define RCV_EXIT_REFUSED	1
#define RCV_EXIT_USAGE		2
#define RCV_EXIT_SYSTEM		3


struct rcv_signer {
	char		  name[RS_MAX_AGENT_ID + 1];
	char		**domains;		/* NULL: all relay domains */
	size_t		  ndomains;
};

struct rcv_cfg {
	char		 *path;
	char		 *spool_dir;
	char		 *status_file;
	char		 *state_dir;
	char		 *history_dir;
	char		 *quarantine_dir;
	char		 *work_dir;		/* STATE/work: private copies */
	char		 *allowed_signers;
	char		 *map;
	char		 *map_type;
	char		 *postmap;
	char		 *postconf;
	char		 *postfix_config;	/* NULL: Postfix default */
	char		 *static_file;		/* NULL: none */
	char		 *metrics_file;
	char		**relay_domains;	/* sorted, unique; may hold
						   wildcards "*.d" */
	size_t		  nrelay;
	int		  relay_any;		/* relay_domains = any */
	char		 *relay_domains_map;	/* NULL: none */
	unsigned	  shrink_pct;
	uint64_t	  history;
	uint64_t	  max_bundle;
	uint64_t	  max_list;
	uint64_t	  max_entries;
	uint64_t	  stale_warning;
	uint64_t	  stale_critical;
	uint64_t	  postmap_timeout;	/* seconds, for postmap and
						   postconf */
	char		 *user;			/* NULL: owner of state_dir */
	struct rcv_signer *signers;
	size_t		  nsigners;
	int		  verbose;
	int		  inetd;
};

/* relaymap.c: the domains of the recipient map, for relay_domains_map. */
struct rcv_rmap {
	char	**v;		/* sorted, unique */
	size_t	  n, cap, last;
};
int	rcv_rmap_add(struct rcv_rmap *r, const char *key);
int	rcv_rmap_build(const struct rcv_cfg *c, const struct rcv_rmap *r);
int	rcv_rmap_commit(const struct rcv_cfg *c, const struct rcv_rmap *r);
void	rcv_rmap_free(struct rcv_rmap *r);

/* recv_cfg.c */
int	rcv_cfg_load(const char *path, struct rcv_cfg *c);
void	rcv_cfg_free(struct rcv_cfg *c);
int	rcv_cfg_signers_load(const struct rcv_cfg *c,
	    struct signers **out);
const struct rcv_signer *rcv_cfg_signer(const struct rcv_cfg *c,
	    const char *agent);
/* Is d[0..len) in the sorted word array w[0..n)?  Returns the index or -1. */
long	rcv_cfg_word_find(char *const *w, size_t n, const char *d, size_t len);
/*
 * May an agent's list speak for the domain, or header domain (a name or
 * "*.name"), t[0..len)?  Yes when relay_domains (unless it is "any") and
 * the agent's [signer] domains (where set; sg may be NULL) each hold t,
 * or a wildcard "*.p" where p is t's name or one of its parents.
 */
int	rcv_cfg_allows(const struct rcv_cfg *c, const struct rcv_signer *sg,
	    const char *t, size_t len);
/*
 * Run argv[0] (an absolute path: no shell, no PATH lookup) with stdin from
 * /dev/null.  Its stdout (and stderr too when merge is set) is captured
 * into out, NUL-terminated, at most outsize - 1 bytes (the rest is read
 * and dropped).  *status gets the waitpid status.  Still running after
 * timeout seconds: killed (SIGKILL), logged, RS_ERR_LIMIT.
 */
int	rcv_cfg_exec_capture(const char *const *argv, int merge,
	    uint64_t timeout, char *out, size_t outsize, size_t *outlen,
	    int *status);

/*
 * priv.c: as root, switch to c->user (default: the owner of state_dir);
 * stays root with a warning when that is root.  cmd names the command.
 */
int	rcv_priv_drop(const struct rcv_cfg *c, const char *cmd);

/* lock.c */
int	rcv_lock_acquire(const struct rcv_cfg *c, int *fd);
void	rcv_lock_release(int fd);

/* state.c: per-agent state in STATE/AGENT.state. */
struct rcv_state {
	int		have;			/* an accepted list exists */
	uint64_t	seq;			/* last accepted sequence */
	uint64_t	count;			/* entries installed from it */
	char		sha256[2 * RS_SHA256_LEN + 1];	/* header list-sha256 */
	time_t		accepted_time;
	time_t		heartbeat_time;
	uint64_t	rej_seq;
	time_t		rej_time;
	char		rej_reason[RS_MAX_REASON + 1];
	uint64_t	approved_seq;		/* one-shot admin approval */
	uint64_t	install_seq;		/* sequence of the last install
						   (seq moves on with heartbeats);
						   0: before this was recorded */
	uint64_t	install_usec;		/* how long that install took */
	uint64_t	rejections[RCV_WHY_N];	/* counters, never reset */
	/*
	 * The last list's domains that relay_domains or [signer] domains
	 * left out ("a.test b.test"): their mail is refused here.
	 */
	char		unrelayed[RS_MAX_REASON + 1];
	uint64_t	nunrelayed;
};

int	rcv_st_load(const struct rcv_cfg *c, const char *agent,
	    struct rcv_state *st);
int	rcv_st_save(const struct rcv_cfg *c, const char *agent,
	    const struct rcv_state *st);
/* Agents with a state file, sorted; caller frees with rcv_util_words_free. */
int	rcv_st_agents(const struct rcv_cfg *c, char ***agents, size_t *n);
int	rcv_st_status_write(const struct rcv_cfg *c);
/* Move the private copy to history (sig written beside it); prune. */
int	rcv_keep_history_add(const struct rcv_cfg *c, const char *agent,
	    uint64_t seq, const char *work_path, const char *sig,
	    size_t siglen);
/*
 * Quarantine: src (a private copy or a spool file, may be NULL) is
 * renamed into the quarantine with sig beside it and a .reason file.
 */
int	rcv_keep_quarantine(const struct rcv_cfg *c, const char *agent,
	    uint64_t seq, const char *src, const char *sig, size_t siglen,
	    const char *reason);
void	rcv_keep_quarantine_prune(const struct rcv_cfg *c);
/* Sequences of agent's bundles kept in history, ascending (malloc'd). */
int	rcv_keep_history_seqs(const struct rcv_cfg *c, const char *agent,
	    uint64_t **seqs, size_t *n);
/*
 * The install journal, STATE/install.pending: what an install commits to,
 * written before the new table is renamed into place (the commit point)
 * and removed once the source, the list and the state have followed.
 * While it is committed (the live table is the very file it names),
 * rcv_st_load and rcv_st_map_entries_load report its values, so that
 * status always describes the table Postfix reads, even after a kill
 * between the renames.
 */
struct rcv_journal {
	char		agent[RS_MAX_AGENT_ID + 1];
	int		retire;			/* the agent's list goes */
	uint64_t	seq;
	uint64_t	count;
	char		sha256[2 * RS_SHA256_LEN + 1];
	uint64_t	entries;		/* map entries after it */
	uint64_t	usec;			/* install time so far */
	time_t		time;
	uint64_t	dev;			/* identity of the new table */
	uint64_t	ino;
};
int	rcv_st_journal_save(const struct rcv_cfg *c,
	    const struct rcv_journal *j);
/* RS_ERR_NOTFOUND when there is none; *committed: the table is live. */
int	rcv_st_journal_load(const struct rcv_cfg *c, struct rcv_journal *j,
	    int *committed);
int	rcv_st_journal_clear(const struct rcv_cfg *c);
/* Apply a committed install to st (also used when finishing it). */
void	rcv_st_journal_apply(const struct rcv_journal *j,
	    struct rcv_state *st);
int	rcv_st_map_entries_save(const struct rcv_cfg *c, uint64_t n);
int	rcv_st_map_entries_load(const struct rcv_cfg *c, uint64_t *n);
/*
 * Refusals not attributed to an agent (no state and no verified
 * signature: the name is anyone's to choose) are counted by reason in
 * STATE/unattributed.counts.  load: all zero when absent; RS_ERR_FORMAT
 * (logged) when damaged.  add: never rewrites a damaged file.
 */
int	rcv_st_unattributed_load(const struct rcv_cfg *c,
	    uint64_t counts[RCV_WHY_N]);
int	rcv_st_unattributed_add(const struct rcv_cfg *c, int why);

/* metrics.c: rewrite metrics_file (if set) at the end of every run. */
int	rcv_met_write(const struct rcv_cfg *c, int exit_code,
	    uint64_t run_usec);

/* postfix_check.c: check-postfix (also part of check); prints one line
 * per finding; returns RCV_EXIT_OK, _REFUSED (a problem) or _SYSTEM. */
int	rcv_pfc_run(const struct rcv_cfg *c);

/* fresh.c: the status command; returns the exit code. */
int	rcv_fresh_status(const struct rcv_cfg *c, int nagios);

/* verify.c */
struct rcv_bundle {
	char		 agent[RS_MAX_AGENT_ID + 1];
	uint64_t	 seq;
	char		 name[RS_MAX_BUNDLE_NAME];
	char		 work_path[4096];	/* private copy, "" if none */
	char		 sig[RS_MAX_SIG_BYTES + 1];
	size_t		 siglen;
	char		 fpr[128];		/* signer key fingerprint */
	int		 verified;		/* signature and signer OK */
	int		 why;			/* RCV_WHY_* of a refusal */
	struct bundle_hdr *hdr;			/* after rcv_vfy_header */
};

/*
 * Copy spool/name into a private file while hashing it, read the .sig,
 * verify, check the signer.  On refusal returns RS_ERR_* with reason set;
 * RS_ERR_SYSTEM means "not the bundle's fault".
 */
int	rcv_vfy_signature(const struct rcv_cfg *c,
	    const struct signers *trusted, struct rcv_bundle *b,
	    char *reason, size_t rsize);

/* Result of streaming a bundle's entries into a list file. */
struct rcv_listres {
	uint64_t	accepted;
	uint64_t	dropped;
	char		dropped_domains[RS_MAX_REASON];
	uint64_t	nunrelayed;		/* header domains left out */
	char		unrelayed[RS_MAX_REASON];	/* their names */
};

/*
 * Decompress and validate the private copy.  With list_out NULL, stop
 * after the header (b->hdr filled).  Otherwise write accepted entries to
 * list_out (plain, sorted, LF) and fill res.
 */
int	rcv_vfy_content(const struct rcv_cfg *c, struct rcv_bundle *b,
	    const char *list_out, struct rcv_listres *res, char *reason,
	    size_t rsize);
void	rcv_bundle_clear(struct rcv_bundle *b);

/* install.c */
/* One change of the map: an agent's new list, or an agent retired. */
struct rcv_inst_req {
	const char	*agent;
	int		 retire;	/* the agent's list leaves the map */
	int		 dry;		/* merge and count only */
	uint64_t	 seq;		/* of the new list (not for retire) */
	uint64_t	 count;
	const char	*sha256;
	uint64_t	 t0;		/* rcv_util_usec() at the start */
};
/*
 * Build the map from every agent's list (the request's agent from
 * STATE/AGENT.list.new, or without it when retired), run postmap, and
 * commit: journal, table, source, AGENT.list, AGENT.state, map.entries.
 * *entries gets the map's line count.
 */
int	rcv_inst_map(const struct rcv_cfg *c, const struct rcv_inst_req *q,
	    uint64_t *entries);
/* Finish or discard what a killed install left (lock held). */
int	rcv_inst_recover(const struct rcv_cfg *c);
/* Validate the static file (used by check and by the install). */
int	rcv_inst_static_check(const struct rcv_cfg *c, size_t *n);
/* The table file name postmap builds for src ("src.db" etc.). */
/* postmap TYPE:src, its messages logged; RS_ERR_SYSTEM when it fails. */
int	rcv_inst_postmap(const struct rcv_cfg *c, const char *src);
int	rcv_inst_table_path(const struct rcv_cfg *c, const char *src,
	    char *out, size_t outsize);

/* spool.c */
typedef void rcv_report_fn(void *arg, const char *line);
enum rcv_outcome rcv_spool_run(const struct rcv_cfg *c,
	    rcv_report_fn *report, void *arg);
int	rcv_spool_approve(const struct rcv_cfg *c, const char *file);
/* retire.c: take an agent's list out of the map (lock held); exit code. */
int	rcv_retire(const struct rcv_cfg *c, const char *agent, int yes);

/* util.c */
int	rcv_util_path(char *out, size_t outsize, const char *dir,
	    const char *name);
int	rcv_util_fsync_dir(const char *dir);
int	rcv_util_dirname(const char *path, char *out, size_t outsize);
/* Write data to path atomically (tmp, fsync, rename, dir fsync). */
int	rcv_util_write_atomic(const char *path, const void *data, size_t len,
	    unsigned mode);
/* Read a whole small file, at most max bytes, refusing non-regular. */
int	rcv_util_read_small(const char *path, size_t max, char **out,
	    size_t *len);
/* The same, following symbolic links: the admin's files only. */
int	rcv_util_read_admin(const char *path, size_t max, char **out,
	    size_t *len);
int	rcv_util_fsync_path(const char *path);
/*
 * Remove dir/name whatever it is; a directory with its contents.  Never
 * follows a link.  What could not be removed is logged: RS_ERR_SYSTEM.
 */
int	rcv_util_remove(const char *dir, const char *name);
void	rcv_util_words_free(char **w, size_t n);
int	rcv_util_mkdir(const char *dir, unsigned mode);
/* Remove temporaries of interrupted atomic writes (lock held). */
void	rcv_util_clean_tmp(const char *dir);
void	rcv_util_time(time_t t, char *out, size_t outsize);
/* Remove path.<hex>.tmp files only: for directories shared with others. */
void	rcv_util_clean_tmp_of(const char *path);
/* Microseconds on the monotonic clock. */
uint64_t rcv_util_usec(void);

#endif /* RCV_RECEIVER_H */
