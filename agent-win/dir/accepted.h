/*
 * accepted.h - the domains a list speaks for: [agent] domains as
 * configured, or (domains = auto) Exchange's accepted domains, read from
 * the configuration partition of the DC the agent uses (docs/ADMIN.md,
 * "Accepted domains").
 *
 * A set has two views:
 *   listed  the list's `domains:` (the bundle header, the shrink and empty
 *           guards): the configured domains, or the authoritative accepted
 *           domains.  Bundle format 1 can say nothing else: a relay domain
 *           in a list that Postfix answers with 550 for unknown recipients
 *           would lose the mail Exchange relays on.
 *   cached  the domains whose addresses change detection keeps
 *           (dircache.c): every exact accepted domain, of any kind, so that
 *           a domain that changes kind is a delta, not a full export.  For
 *           a configured list it is the list.
 * With auto, the configured names (`auto a.test b.test`) restrict both.
 *
 * API:        acc_new, acc_free, acc_load (read or build the set),
 *             acc_listed, acc_cached (is this domain in the view),
 *             acc_nlisted, acc_listed_name, acc_listed_str, acc_cached_str,
 *             acc_filter (a list cut down to the listed domains),
 *             acc_last_listed, acc_save_listed (STATE/domains),
 *             acc_check (the `check` lines).
 * Ownership:  the set owns its strings; acc_filter hands a new rlist to
 *             the caller.
 * Errors:     RS_ERR_* after logging; auto that finds no authoritative
 *             domain is RS_ERR_NOTFOUND, naming the setting and the DN
 *             searched: an empty domain list is never a result.
 * Trust:      msExchAcceptedDomainName and msExchAcceptedDomainFlags come
 *             from the directory: a name is lowercased and must pass
 *             addr_check_domain, the flags must be a plain decimal; an
 *             entry that fails is left out with a warning (escaped).
 */
#ifndef RS_ACCEPTED_H
#define RS_ACCEPTED_H

#include <stddef.h>
#include <stdint.h>

struct agent_cfg;
struct ldapx;
struct rlist;
struct acc_set;

/* msExchAcceptedDomainFlags (docs/ADMIN.md gives the sources). */
#define ACC_FLAG_TYPE_MASK	0x3u		/* the domain type */
#define ACC_FLAG_DEFAULT	0x4u		/* the organization's default */
#define ACC_FLAG_SUBDOMAINS	0x10000u	/* MatchSubDomains */

enum acc_kind {
	ACC_AUTHORITATIVE = 0,
	ACC_EXTERNAL_RELAY = 1,
	ACC_INTERNAL_RELAY = 2,
	ACC_UNKNOWN_KIND = 3,
};

int	acc_new(struct acc_set **out);
void	acc_free(struct acc_set *s);
/*
 * Fill s for configuration c: the configured list, or (auto) read the
 * rootDSE's configurationNamingContext and page through the accepted
 * domains with ld.  *entries and *bytes (may be NULL) grow by what was
 * read.  Logs each accepted domain left out of the list, once per call.
 */
int	acc_load(struct acc_set *s, const struct agent_cfg *c,
	    struct ldapx *ld, uint64_t *entries, uint64_t *bytes);
/*
 * Is the address domain d[0..len) the list's (listed), a relay domain's
 * (relayed: format 2, its addresses are no entries), or kept by the cache
 * (cached)?  With format 2's wildcards and relay domains, the most
 * specific domain governs (FORMAT.md 2.3).
 */
int	acc_listed(const struct acc_set *s, const char *d, size_t len);
int	acc_relayed(const struct acc_set *s, const char *d, size_t len);
int	acc_cached(const struct acc_set *s, const char *d, size_t len);
size_t	acc_nlisted(const struct acc_set *s);
const char *acc_listed_name(const struct acc_set *s, size_t i);
/* Format 2: the relay domains, for the list's relay-domains. */
size_t	acc_nrelay(const struct acc_set *s);
const char *acc_relay_name(const struct acc_set *s, size_t i);
/* "a.test b.test": the bundle header's domains. */
const char *acc_listed_str(const struct acc_set *s);
/* The cached view as text, for change detection's query hash. */
const char *acc_cached_str(const struct acc_set *s);
/*
 * The addresses of in that are in a listed domain, as a new finished
 * list in *out; *out = NULL when the views are equal: in is the list.
 */
int	acc_filter(const struct acc_set *s, const struct rlist *in,
	    struct rlist **out);
/*
 * The listed domains the last poll read, as kept in STATE/domains, so that
 * a one-shot sync tells a change of the listed domains from none: a new
 * string (free), or NULL when there is none or it is damaged.  Losing it
 * costs a misnamed log line, never a wrong list.
 */
char	*acc_last_listed(const struct agent_cfg *c);
void	acc_save_listed(const struct agent_cfg *c, const struct acc_set *s);
/* `check`: read the set with ld and print one line per domain. */
int	acc_check(const struct agent_cfg *c, struct ldapx *ld);

#endif /* RS_ACCEPTED_H */
