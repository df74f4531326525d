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
	size_t		 ndomains;
	char		**domains;	/* lowercase, sorted, unique */
	char		*domains_str;	/* "a.test b.test" for the bundle */
	char		*signing_key;
	const char	*state_dir;
	unsigned	 interval;
	unsigned	 shrink_pct;
	const char	*audit_file;

	/* [ldap] */
	const struct cfg_section *ldap;	/* for sys_get_password */
	size_t		 nservers;
	const char	*servers[AGENT_MAX_SERVERS];
	size_t		 nbases;
	const char	*bases[AGENT_MAX_BASES];
	const char	*filter;
	unsigned	 page_size;
	enum ldapx_bind	 bind;
	const char	*bind_dn;
	const char	*sasl_mech;
	enum ldapx_tls	 tls;
	const char	*ca_file;
	unsigned	 timeout;

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
int	agent_cfg_load(const char *path, struct agent_cfg **out);
void	agent_cfg_free(struct agent_cfg *c);
/* Copy a C string (NULL on allocation failure); ISO C has no strdup. */
char	*agent_strdup(const char *s);
/* Join dir and name with the platform-neutral '/' (Windows accepts it). */
char	*agent_path(const char *dir, const char *name);

/* What the export saw, for the audit summary and the log. */
#define EXPORT_MAX_CLASSES	32
struct export_stats {
	uint64_t	 entries;	/* objects returned */
	uint64_t	 values;	/* proxyAddresses values seen */
	uint64_t	 not_smtp;	/* X400:, SIP:, X500:, ... */
	uint64_t	 invalid;	/* smtp: values failing addr_check */
	uint64_t	 foreign;	/* valid, but outside [agent] domains */
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
int	export_run(const struct agent_cfg *c, int progress,
	    struct rlist **out, struct export_stats *st);
/* `check` for LDAP: connect, bind, count; prints lines, returns failures. */
int	export_check(const struct agent_cfg *c);
/* Count of list entries in domain d (for the summary). */
size_t	export_count_domain(const struct rlist *l, const char *d);

/* State directory files. */
int	state_init(const struct agent_cfg *c);
/* The next sequence number, persisted before it is returned. */
int	state_next_seq(const struct agent_cfg *c, uint64_t *seq);
/* The last pushed list; RS_ERR_NOTFOUND when there is none yet. */
int	state_load_last(const struct agent_cfg *c, struct rlist **out);
int	state_save_last(const struct agent_cfg *c, const struct rlist *l);
/* Write the list as plaintext lines into out. */
int	state_list_text(const struct rlist *l, struct rs_buf *out);
/* Keep the pushed bundle and signature (audit). */
int	state_save_bundle(const struct agent_cfg *c, const char *name,
	    const struct rs_buf *bundle, const struct rs_buf *sig);

struct relay_state {
	char		accepted_sha[2 * RS_SHA256_LEN + 1];	/* hex or "" */
	uint64_t	accepted_seq;
	unsigned	failures;	/* consecutive failed cycles */
	int64_t		next_attempt;	/* unix time; 0: now */
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
	const struct rs_buf	*bundle;
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

/* Print one check line on stdout: "OK   what" or "FAIL what: why (hint)". */
void	agent_check_line(int ok, const char *what, const char *why,
	    const char *hint);

#endif /* RS_AGENT_INT_H */
