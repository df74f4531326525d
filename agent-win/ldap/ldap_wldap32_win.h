/*
 * ldap_wldap32_win.h - what the wldap32 backend's files share, Windows
 * only: ldap_wldap32_win.c (connect, bind, search, entries),
 * ldap_wldap32_gc_win.c (the Global Catalog locator) and
 * ldap_wldap32_notify_win.c (change notification).  No other file
 * includes it.
 *
 * API:        struct ldapx_conn; wldap_connect, wldap_connect_gc;
 *             wldap_seterr (msg: "what: text (LDAP n) [: server's
 *             text]"), wldap_result_err; wldap_wide_attrs /
 *             wldap_free_attrs (a query's attribute names, wide), wldap_hold (an entry
 *             parsed into a struct ldapx_held, as a page's are);
 *             wldap_notify_start / wldap_notify_next (ldap_backend.h).
 * Ownership:  as in ldap_wldap32_win.c.
 * Errors:     RS_ERR_* with the reason in msg.
 * Trust:      everything from the server is untrusted (ldap_backend.h).
 */
#ifndef RS_LDAP_WLDAP32_WIN_H
#define RS_LDAP_WLDAP32_WIN_H

#include <winsock2.h>
#include <windows.h>
#include <winldap.h>

#include <stddef.h>
#include <stdint.h>

#include "ldap_backend.h"
#include "rs_limits.h"

struct ldapx_conn {
	LDAP		*ld;
	ULONG		 note_id[RS_MAX_NOTIFY_PER_CONN];	/* searches */
	size_t		 nnote;
	unsigned	 timeout;
	char		 server[512];
	char		 err[512];
};

/* Not in every mingw header set. */
#ifndef DS_FORCE_REDISCOVERY
#define DS_FORCE_REDISCOVERY	0x00000001
#endif

/*
 * Create the handle and connect (LDAPv3, no referrals); serverless when
 * host is NULL; rediscover: the DC locator skips its cached choice.
 */
ULONG	wldap_connect(struct ldapx_conn *c, wchar_t *host, ULONG port,
	    int ssl, int rediscover);
/*
 * ldap_wldap32_gc_win.c: connect to a Global Catalog the locator names
 * (no server configured): its choice, its new choice, then the forest's
 * other GCs.  0 or RS_ERR_SYSTEM with the reason in msg, which names the
 * setting.
 */
int	wldap_connect_gc(struct ldapx_conn *c, int ssl, char *msg,
	    size_t msgsize);
void	wldap_seterr(char *msg, size_t msgsize, const char *what, ULONG rc,
	    const wchar_t *srv);
/*
 * An ldap_result that failed (-1, or no message): LdapGetLastError's
 * reason, or, where there is none (Wine 8 after a lost connection), that.
 */
void	wldap_result_err(char *msg, size_t msgsize, const char *what);
wchar_t	**wldap_wide_attrs(const struct ldapx_query *q);
void	wldap_free_attrs(wchar_t **w);
int	wldap_hold(struct ldapx_conn *c, LDAPMessage *e,
	    struct ldapx_held *h, char *msg, size_t msgsize);

int	wldap_notify_start(struct ldapx_conn *c, const struct ldapx_query *q,
	    char *msg, size_t msgsize);
int	wldap_notify_next(struct ldapx_conn *c, unsigned ms,
	    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
	    int *kind, struct ldapx_status *st, char *msg, size_t msgsize);

#endif /* RS_LDAP_WLDAP32_WIN_H */
