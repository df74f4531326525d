/*
 * ldap_wldap32_win.h - what the wldap32 backend's two files share,
 * Windows only: ldap_wldap32_win.c (connect, bind, search, entries) and
 * ldap_wldap32_notify_win.c (change notification).  No other file
 * includes it.
 *
 * API:        struct ldapx_conn; wldap_seterr (msg: "what: text (LDAP n)
 *             [: server's text]"), wldap_result_err, wldap_wide_attrs / wldap_free_attrs
 *             (a query's attribute names, wide), wldap_hold (an entry
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
