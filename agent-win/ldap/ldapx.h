/*
 * ldapx.h - the agent's LDAP layer: the few operations the export needs.
 *
 * Implemented once in ldap_page.c, which holds the rules every client
 * library must follow, over a backend picked at ldapx_open (ldap_backend.h):
 * ldap_openldap.c (OpenLDAP libldap, both builds) and ldap_wldap32_win.c
 * (wldap32, Windows only).  ldap_client_unix.c / ldap_client_win.c say
 * which backends a build has and which one a configuration gets.
 *
 * Everything crossing this interface is UTF-8.  The paging loop itself is
 * portable (export.c): it calls ldapx_search_page until the cookie comes
 * back empty.  A page that fails for any reason (server gone, timeout,
 * size limit, a broken range) returns an error; the caller then
 * abandons the whole export.
 *
 * Errors: RS_ERR_* codes; ldapx_errmsg() has the server's or library's text
 * for the last failure ("Can't contact LDAP server", "Time limit exceeded").
 */
#ifndef RS_LDAPX_H
#define RS_LDAPX_H

#include <stddef.h>
#include <stdint.h>

struct rs_buf;
struct ldapx;

enum ldapx_bind {
	LDAPX_BIND_NEGOTIATE,	/* Windows: the service's own Kerberos identity */
	LDAPX_BIND_SIMPLE,	/* DN or UPN plus password */
	LDAPX_BIND_SASL,	/* Unix: SASL mechanism, e.g. GSSAPI, EXTERNAL */
	LDAPX_BIND_NONE,	/* anonymous */
};

enum ldapx_tls {
	LDAPX_TLS_NONE,
	LDAPX_TLS_STARTTLS,
	LDAPX_TLS_LDAPS,
};

/* [ldap] client: which library speaks LDAP (ldap_client_*.c). */
enum ldapx_client {
	LDAPX_CLIENT_AUTO,	/* by bind and tls; the only one on Unix */
	LDAPX_CLIENT_WLDAP32,	/* Windows: wldap32.dll */
	LDAPX_CLIENT_OPENLDAP,	/* OpenLDAP's libldap, linked in */
};

struct ldapx_opts {
	enum ldapx_client client;	/* [ldap] client */
	const char	*server;	/* "host", "host:port" or an ldap[s]:// URI;
					   NULL: DC locator (Windows only) */
	int		 global_catalog;	/* no server: locate a GC */
	enum ldapx_tls	 tls;
	const char	*ca_file;	/* NULL: the system's trusted roots */
	enum ldapx_bind	 bind;
	const char	*bind_dn;	/* simple: DN or UPN */
	const char	*password;	/* simple: wiped by the caller after open */
	const char	*sasl_mech;
	int		 sasl_nocanon;	/* sasl: no reverse DNS of the server */
	unsigned	 timeout;	/* seconds, connect and each operation */
};

struct ldapx_val {
	const char	*p;		/* not NUL-terminated, may contain NUL */
	size_t		 len;
};

/*
 * Called once per entry.  vals[i]/nvals[i] hold the values of attrs[i] as
 * passed to ldapx_search_page (nvals[i] == 0 when the entry lacks it).
 * A non-zero return aborts the search and is returned by it.
 */
typedef int ldapx_entry_fn(void *arg, const char *dn,
    const struct ldapx_val *const *vals, const size_t *nvals);

/*
 * Connect, set LDAPv3, start TLS if asked, and bind.  On failure msg (of
 * msgsize bytes) gets the library's text.
 */
int	ldapx_open(const struct ldapx_opts *o, struct ldapx **out,
	    char *msg, size_t msgsize);

/*
 * One page of a subtree search with the simple paged results control
 * (RFC 2696).  cookie: empty on the first call; on return it holds the
 * server's cookie, empty after the last page.  *bytes (may be NULL) is
 * increased by the size of the values received, for the cycle log.  The
 * next page's request is sent before fn sees this page's entries (a page
 * ahead, ldap_page.c); any other call on c abandons it.
 */
int	ldapx_search_page(struct ldapx *c, const char *base,
	    const char *filter, const char *const *attrs, unsigned page_size,
	    struct rs_buf *cookie, ldapx_entry_fn *fn, void *arg,
	    uint64_t *bytes);

/*
 * Read the one entry dn (a base-scope search, no paging); dn "" is the
 * root DSE.  fn is called once, as for ldapx_search_page.  RS_ERR_NOTFOUND
 * when the entry does not exist (or is not visible to us).
 */
int	ldapx_read(struct ldapx *c, const char *dn, const char *const *attrs,
	    ldapx_entry_fn *fn, void *arg, uint64_t *bytes);

/*
 * Whether this build has an LDAP client for that configuration (the
 * choice ldapx_open makes, for config checks); RS_ERR_INVAL with the
 * reason, which names the alternative, in msg.
 */
int	ldapx_check_client(enum ldapx_client client, enum ldapx_bind bind,
	    enum ldapx_tls tls, const char *ca_file, int have_server,
	    char *msg, size_t msgsize);

/*
 * Change notification (MS-ADTS 3.1.1.3.4.1.9, the control
 * 1.2.840.113556.1.4.528), on a connection of its own from ldapx_open
 * that is used for nothing else.
 *
 * ldapx_notify_start sends one asynchronous subtree search of nc, which
 * must be the root of a naming context, with the filter (objectClass=*)
 * and the control, critical: AD's rules for it.  The server keeps it open
 * and sends an entry each time an object below nc changes.  attrs are
 * what each entry brings (e.g. uSNChanged).  At most
 * RS_MAX_NOTIFY_PER_CONN per connection (AD's
 * MaxNotificationPerConnection): RS_ERR_LIMIT beyond.
 *
 * ldapx_notify_wait waits up to ms milliseconds for the next message of
 * any of them: RS_OK with *got 1 and fn called with the entry (attrs as
 * given to ldapx_notify_start), or *got 0
 * when nothing came (or a continuation reference).  A search the server
 * ended (any result: it refused the control, a time limit, an unwilling
 * DC), or a connection that dropped, is RS_ERR_SYSTEM with the reason in
 * ldapx_errmsg; the connection is then of no more use: ldapx_close it.
 */
#define LDAPX_NOTIFY_OID	"1.2.840.113556.1.4.528"
int	ldapx_notify_start(struct ldapx *c, const char *nc,
	    const char *const *attrs);
int	ldapx_notify_wait(struct ldapx *c, unsigned ms, ldapx_entry_fn *fn,
	    void *arg, const char *const *attrs, int *got);

/*
 * Are a and b the same in their first n bytes, ignoring ASCII case, as
 * LDAP compares attribute names and DN suffixes?  Stops early, equal,
 * where both end.
 */
int	ldapx_ascii_ieq(const char *a, const char *b, size_t n);

/*
 * What this process asked of LDAP servers, for the logs and B7b
 * (docs/BENCH.md): requests by kind, and entries.  One tally for the
 * process: the agent uses its connections from one thread.
 */
struct ldapx_tally {
	uint64_t	 pages;		/* paged search requests, ahead too */
	uint64_t	 reads;		/* base reads (the root DSE, an entry) */
	uint64_t	 ranges;	/* range retrieval reads */
	uint64_t	 abandoned;	/* pages ahead no call asked for */
	uint64_t	 notify;	/* notification searches sent */
	uint64_t	 entries;	/* handed on by pages and reads */
	uint64_t	 notes;		/* notifications received */
};
void	ldapx_tally_get(struct ldapx_tally *t);
/* Requests of all kinds, the sum of pages to notify. */
uint64_t ldapx_tally_requests(const struct ldapx_tally *t);

/* The server actually connected to (for logs and the bundle's source). */
const char *ldapx_server(const struct ldapx *c);
const char *ldapx_errmsg(const struct ldapx *c);
void	ldapx_close(struct ldapx *c);

#endif /* RS_LDAPX_H */
