/*
 * agent_int.h - internals shared by the portable agent core (agent_cfg.c,
 * export.c, state.c, push.c, cmd.c).  Not used by the platform files
 * (sys_*.c, ldapx_*.c, main_*.c), which see only agent.h, sys.h, ldapx.h.
 *
 * API:
 *   agent_cfg_load/free    parse and validate the configuration file
 *   export_run             paged LDAP export into a finished rlist
 *   state_*                sequence number, last pushed list, per-relay
 *                          state, all under [agent] state_dir
 *   push_relay             one relay: connect, pin, auth, upload, verdict
 *   push_check             `check` for one relay (connect ... write test)
 *
 * Ownership: struct agent_cfg owns every string it points to (including
 * the parsed struct cfg); agent_cfg_free releases it.  export_run hands a
 * new rlist to the caller (rlist_free).
 *
 * Errors: RS_OK or a negative RS_ERR_*; the functions log the reason
 * themselves ("<operation> <object>: <reason>"), so callers only map the
 * code to an exit status.
 *
 * Trust: the config file is trusted (admin-owned); everything from LDAP
 * and from the relay (host key, status file) is not.
 */
#ifndef RS_AGENT_INT_H
#define RS_AGENT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rs_limits.h"
#include "hash.h"
#include "ldapx.h"

struct cfg;
struct cfg_section;
struct rlist;
struct rs_buf;

/* Most [ldap] server / base lines, and [relay] sections, we take. */
#define AGENT_MAX_SERVERS	16
#define AGENT_MAX_BASES		16
#define AGENT_MAX_RELAYS	16

struct agent_relay {
	const char	*name;		/* [relay NAME] */
	const char	*host;
	unsigned	 port;
	const char	*user;
	const char	*hostkey_sha256;	/* "SHA256:..." or NULL */
	const char	*known_hosts;		/* path or NULL */
	char		*private_key;		/* path (owned) */
	const char	*remote_dir;
	const char	*status_file;
	unsigned	 connect_timeout;	/* seconds */
	unsigned	 io_timeout;
	unsigned	 wait;
	unsigned	 retries;		/* attempts per cycle, >= 1 */
	unsigned	 backoff;		/* first retry delay */
};

struct agent_cfg {
	struct cfg	*cfg;		/* owns the const char * below */
	char		*path;		/* the file read */

	/* [agent] */
	const char	*id;
	int		 domains_auto;	/* "auto": Exchange's accepted domains */
	size_t		 ndomains;
	char		**domains;	/* lowercase, sorted, unique; with auto:
					   the restriction (may be none) */
	char		*domains_str;	/* "a.test b.test", "auto a.test" */
	char		*signing_key;
	const char	*state_dir;
	unsigned	 interval;		/* poll */
	unsigned	 full_interval;		/* full export at least */
	unsigned	 heartbeat_interval;	/* contact each relay at least */
	unsigned	 stale_warning;		/* relay unconfirmed this long */
	unsigned	 stale_critical;
	unsigned	 shrink_pct;
	int		 include_auth_only;	/* keep msExchRequireAuthToSendTo */
	unsigned	 bundle_format;		/* 1 or 2 (FORMAT.md 2.1) */
	const char	*audit_file;

	/* [ldap] */
	const struct cfg_section *ldap;	/* for sys_get_password */
	size_t		 nservers;
	const char	*servers[AGENT_MAX_SERVERS];
	int		 global_catalog;	/* the servers are GCs */
	/* servers[i] with the GC port added (owned), or NULL. */
	char		*gc_servers[AGENT_MAX_SERVERS];
	size_t		 nbases;
	const char	*bases[AGENT_MAX_BASES];
	const char	*filter;
	unsigned	 page_size;
	enum ldapx_bind	 bind;
	const char	*bind_dn;
	const char	*sasl_mech;
	int		 sasl_nocanon;	/* the server's name as given */
	enum ldapx_tls	 tls;
	enum ldapx_client client;	/* [ldap] client */
	const char	*ca_file;
	unsigned	 timeout;
	int		 change_detection;	/* use highestCommittedUSN */
	int		 change_notification;	/* AD's notification control */
	unsigned	 notify_debounce;	/* seconds after a change */

	/* [relay NAME] */
	size_t		 nrelays;
	struct agent_relay relays[AGENT_MAX_RELAYS];
};

/* Options every command shares (global flags). */
struct agent_opts {
	const char	*config;
	int		 verbose;
	int		 quiet;
};

/*
 * Load path (RS_ERR_* on failure, with the reason already logged, naming
 * the line for syntax errors and unknown keys).  At least one [relay]
 * section is required; every relay must have a host key pin.
 */
int	agent_cfg_load(const char *path, int need_relays,
	    struct agent_cfg **out);
void	agent_cfg_free(struct agent_cfg *c);
/* Copy a C string (NULL on allocation failure); ISO C has no strdup. */
char	*agent_strdup(const char *s);
/*
 * Join dir and name with the platform's separator (sys_path_sep), so that
 * a logged path has one kind: C:\x\state\seq, not C:\x\state/seq.
 */
char	*agent_path(const char *dir, const char *name);

/* What the export saw, for the audit summary and the log. */
#define EXPORT_MAX_CLASSES	32
struct export_stats {
	uint64_t	 entries;	/* objects returned */
	uint64_t	 values;	/* proxyAddresses values seen */
	uint64_t	 not_smtp;	/* X400:, SIP:, X500:, ... */
	uint64_t	 invalid;	/* smtp: values failing addr_check */
	uint64_t	 foreign;	/* valid, but outside [agent] domains */
	uint64_t	 auth_only;	/* objects left out: auth-only */
	uint64_t	 dups;		/* duplicates removed */
	uint64_t	 bytes;		/* value bytes received */
	size_t		 nclasses;
	struct {
		char	 name[64];
		uint64_t n;
	}		 classes[EXPORT_MAX_CLASSES];
	uint64_t	 other_classes;	/* beyond EXPORT_MAX_CLASSES */
	char		 server[RS_MAX_SOURCE + 1];	/* connected to */
	char		 source[RS_MAX_SOURCE + 1];	/* for the bundle */
};

/*
 * Export the directory: open the first reachable [ldap] server, page
 * through every base, normalize, keep the accepted domains, sort and
 * dedupe.  Any failure aborts the whole export (nothing is returned).
 * progress: print a running count on stderr (a terminal).
 */
struct acc_set;
int	export_run(const struct agent_cfg *c, int progress,
	    struct rlist **out, struct acc_set **acc, struct export_stats *st);
/* `check` for LDAP: connect, bind, count; prints lines, returns failures. */
int	export_check(const struct agent_cfg *c);
/*
 * p[0..n) (untrusted, at most 300 bytes shown) as printable ASCII with
 * \xNN escapes, for a log line; out of at least 4 * 300 + 8 bytes.
 */
void	export_escape(const char *p, size_t n, char *out, size_t outsize);
/* Count of list entries in domain d (for the summary). */
size_t	export_count_domain(const struct rlist *l, const char *d);

/* The parts of an export that change detection (dirsync.c) drives. */
struct dircache;
int	export_open(const struct agent_cfg *c, struct ldapx **out);
/*
 * The same, with the last server's reason in why: RS_ERR_SIGNER when it
 * answered and refused the bind (why says what to change).
 */
int	export_open_why(const struct agent_cfg *c, struct ldapx **out,
	    char *why, size_t whysize);
/*
 * The connection options of c; pw (rs_buf_init'ed, freed by the caller)
 * gets the password (simple, or negotiate with a bind_dn).  Logs a
 * password that cannot be read.
 */
int	export_opts(const struct agent_cfg *c, struct ldapx_opts *o,
	    struct rs_buf *pw);
/* st->server and st->source (the bundle's) for connection ld. */
void	export_source(const struct agent_cfg *c, struct ldapx *ld,
	    struct export_stats *st);
/*
 * Full export into list (no cache: acc's listed domains) or into dc
 * (objects by GUID: acc's cached domains, accepted.h).
 */
int	export_full(const struct agent_cfg *c, struct ldapx *ld,
	    const struct acc_set *acc, struct rlist *list, struct dircache *dc,
	    int progress, struct export_stats *st);
/*
 * The objects changed at or above usn: those matching the filter replace
 * their cache entry, the others leave the cache.  *changed counts the
 * objects whose addresses changed.
 */
int	export_delta(const struct agent_cfg *c, struct ldapx *ld,
	    const struct acc_set *acc, uint64_t usn, struct dircache *dc,
	    struct export_stats *st, uint64_t *changed);

/*
 * The directory as last read, per objectGUID (dircache.c).  addrs
 * arguments are canonical addresses, each followed by a NUL, sorted and
 * unique (dircache_norm makes them so).
 */
struct dircache_src {
	char		 query[2 * RS_SHA256_LEN + 1];	/* bases, filter,
							   domains: hash */
	char		 server[RS_MAX_DSNAME + 1];	/* dsServiceName */
	unsigned char	 invocation[RS_GUID_LEN];	/* its invocationId */
	uint64_t	 usn;		/* complete up to this USN */
	int64_t		 full_time;	/* last full export, Unix time */
};
int	dircache_new(struct dircache **out);
void	dircache_free(struct dircache *d);
struct dircache_src *dircache_src(struct dircache *d);
size_t	dircache_count(const struct dircache *d);
/* Full export: add objects in any order, then seal (returns duplicates). */
int	dircache_add(struct dircache *d, const unsigned char *guid,
	    const char *addrs, size_t len);
size_t	dircache_seal(struct dircache *d);
/* Delta: set an object's addresses (len 0 removes it). */
int	dircache_set(struct dircache *d, const unsigned char *guid,
	    const char *addrs, size_t len, int *changed);
int	dircache_norm(struct rs_buf *addrs);
/*
 * The cache's addresses as a finished list that borrows the cache's
 * bytes (rlist_new_over): free it before the cache is changed or freed.
 * So a poll_result's list, and dirsync_list's, live no longer than the
 * cycle that got them: the next poll changes the cache.
 */
int	dircache_list(const struct dircache *d, struct rlist **out);
int	dircache_save(const struct dircache *d, const char *path);
/* RS_ERR_NOTFOUND: no file; RS_ERR_FORMAT: damaged at *lineno. */
int	dircache_load(const char *path, struct dircache **out,
	    size_t *lineno);

/*
 * One poll of the directory (dirsync.c): the root DSE says whether
 * anything changed; then a delta, a full export, or nothing.
 */
enum poll_kind {
	POLL_FULL,		/* full export; list set */
	POLL_DELTA,		/* changes applied; list set */
	POLL_SAME,		/* nothing changed; list NULL */
};
struct poll_result {
	enum poll_kind	 kind;
	struct rlist	*list;		/* owned by the caller; may borrow the
					   cache (dircache_list): freed before
					   the next poll */
	char		 sha[2 * RS_SHA256_LEN + 1];	/* of the list now */
	uint64_t	 entries;	/* read, root DSE included */
	uint64_t	 bytes;		/* value bytes read */
	uint64_t	 usn_from;	/* delta: changes at or above */
	uint64_t	 usn;		/* highestCommittedUSN; 0: none */
	uint64_t	 changed;	/* delta: objects whose addresses changed */
	char		 why[256];	/* full: why; delta: what else moved */
	const struct acc_set *acc;	/* the list's domains (the poller's,
					   valid until the next poll) */
};
struct dirsync;
int	dirsync_new(struct dirsync **out);
void	dirsync_free(struct dirsync *d);
int	dirsync_poll(struct dirsync *d, const struct agent_cfg *c,
	    int force_full, int progress, struct poll_result *res,
	    struct export_stats *st);
/* Close the kept LDAP connection (a reload may have changed [ldap]). */
void	dirsync_disconnect(struct dirsync *d);
/* `check`: says whether the server offers change detection. */
void	dirsync_check(const struct agent_cfg *c, struct ldapx *ld);
/*
 * global_catalog: whether ld's server says it is a Global Catalog that has
 * finished its first replication; RS_ERR_INVAL with the reason in msg.
 */
int	dirsync_gc_ready(struct ldapx *ld, char *msg, size_t msgsize);
/* The current list again, rebuilt from the cache (after POLL_SAME). */
int	dirsync_list(struct dirsync *d, struct rlist **out);
/* The kept poll connection (NULL: none), and the USN the cache has. */
struct ldapx *dirsync_ldap(const struct dirsync *d);
uint64_t dirsync_usn(const struct dirsync *d);

/*
 * Change notification in `run` (notify.c): notify_wait is sys_wait for
 * the run loop, and returns NOTIFY_CHANGED when the directory said a
 * change happened (after [ldap] notify_debounce), or when the
 * notification searches were (re-)registered, since a change may have
 * come before them.
 */
#define NOTIFY_CHANGED	4
struct notify;
int	notify_new(struct notify **out);
void	notify_free(struct notify *n);
/* Close the notification connections (a reload may change [ldap]). */
void	notify_reset(struct notify *n);
int	notify_wait(struct notify *n, const struct agent_cfg *c,
	    struct dirsync *ds, unsigned secs);

/* State directory files. */
int	state_init(const struct agent_cfg *c);
/* The next sequence number, persisted before it is returned. */
int	state_next_seq(const struct agent_cfg *c, uint64_t *seq);
/* The last pushed list; RS_ERR_NOTFOUND when there is none yet. */
int	state_load_last(const struct agent_cfg *c, struct rlist **out);
/*
 * Only how many entries it has (the shrink guard), checked line by line
 * as state_load_last checks them, without building a list; *nmatch gets
 * how many of them match (match NULL: 0).
 */
typedef int state_match_fn(void *arg, const char *a, size_t len);
int	state_count_last(const struct agent_cfg *c, state_match_fn *match,
	    void *arg, size_t *n, size_t *nmatch);
int	state_save_last(const struct agent_cfg *c, const struct rlist *l);
/* Write the list as plaintext lines into out. */
int	state_list_text(const struct rlist *l, struct rs_buf *out);
/* SHA-256 of those lines (the bundle's list-sha256), in hex. */
int	state_list_sha(const struct rlist *l, char hex[2 * RS_SHA256_LEN + 1]);
/*
 * STATE_OUTGOING: the bundle being pushed, in the state directory, made
 * and uploaded as a file (cycle.c); removed after the push.
 */
#define STATE_OUTGOING	"outgoing.rcpt.gz"
/* Keep the pushed bundle (a copy of the file at path) and signature. */
int	state_save_bundle(const struct agent_cfg *c, const char *name,
	    const char *path, const struct rs_buf *sig);

struct relay_state {
	char		accepted_sha[2 * RS_SHA256_LEN + 1];	/* hex or "" */
	uint64_t	accepted_seq;
	unsigned	failures;	/* consecutive failed cycles */
	int64_t		next_attempt;	/* unix time; 0: now */
	int64_t		confirmed;	/* last install or heartbeat verdict */
	int64_t		since;		/* first cycle for this relay */
	unsigned	stale_level;	/* 0 ok, 1 warning, 2 critical: told */
	int64_t		stale_told;	/* when the last stale event went out */
	char		refused_sha[2 * RS_SHA256_LEN + 1];	/* or "" */
	int64_t		refused_time;	/* that list's refusal */
	/*
	 * `sync --allow-shrink` approved a list of this many entries for
	 * this relay (0: no approval), at shrink_ok_time.  Kept until the
	 * relay confirms a list, so a relay that was down still gets the
	 * flag when it comes back.
	 */
	uint64_t	shrink_ok_entries;
	int64_t		shrink_ok_time;
};
int	state_relay_load(const struct agent_cfg *c, const char *relay,
	    struct relay_state *rs);
int	state_relay_save(const struct agent_cfg *c, const char *relay,
	    const struct relay_state *rs);

/* What became of a push to one relay. */
enum push_result {
	PUSH_INSTALLED = 0,	/* receiver accepted our sequence (or newer) */
	PUSH_UNCHANGED,		/* same list as the last accepted: skipped */
	PUSH_REFUSED,		/* receiver rejected it; reason given */
	PUSH_FAILED,		/* connect, host key, auth, SFTP, no verdict */
};

struct push_item {
	const char		*agent;
	uint64_t		 seq;
	const char		*bundle_name;	/* AGENT.SEQ.rcpt.gz */
	const char		*bundle_path;	/* the bundle, in state_dir:
						   uploaded from the file */
	uint64_t		 bundle_len;
	const struct rs_buf	*sig;
};

/*
 * Upload one bundle to relay r (with retries) and wait for the verdict.
 * reason (of reasonsize bytes) gets the receiver's reason or our error.
 * *uploaded is set once the bundle has reached the relay's spool.
 */
enum push_result push_relay(const struct agent_cfg *c,
	    const struct agent_relay *r, const struct push_item *it,
	    int *uploaded, char *reason, size_t reasonsize);

/* `check` for one relay: prints OK/FAIL lines; returns failures. */
int	push_check(const struct agent_cfg *c, const struct agent_relay *r);

/* The signing key ([agent] signing_key); logs and reports failures. */
struct sshkey;
int	agent_load_key(const struct agent_cfg *c, struct sshkey **out);

/* One sync cycle (cycle.c). */
struct cycle_opts {
	int		 allow_shrink;
	const char	*relay;		/* only this relay, or NULL */
	int		 scheduled;	/* `run`: honour per-relay backoff */
	int		 progress;
	int		 full;		/* full export, whatever changed */
	int		 full_first;	/* full until one poll succeeded */
};
struct cycle_ctx;
int	cycle_ctx_new(struct cycle_ctx **out);
void	cycle_ctx_free(struct cycle_ctx *cx);
/* The configuration was reloaded: reconnect to LDAP at the next poll. */
void	cycle_ctx_reload(struct cycle_ctx *cx);
/* The directory poller `run` keeps, for notify_wait. */
struct dirsync *cycle_ctx_dirsync(struct cycle_ctx *cx);
/* Returns an exit code (agent.h); *retry_in as for the `run` loop. */
int	cycle_run(const struct agent_cfg *c, const struct cycle_opts *o,
	    struct cycle_ctx *cx, unsigned *retry_in);

/* Print one check line on stdout: "OK   what" or "FAIL what: why (hint)". */
void	agent_check_line(int ok, const char *what, const char *why,
	    const char *hint);

#endif /* RS_AGENT_INT_H */
