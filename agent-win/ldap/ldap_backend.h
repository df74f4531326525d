/*
 * ldap_backend.h - what an LDAP client library provides to ldap_page.c.
 *
 * In the manner of curl's lib/vtls: ldap_page.c holds every rule that is
 * the same whatever library speaks LDAP (paging, the result code of a
 * reply before its entries, ranged attributes), and a backend only
 * translates calls.  A backend is a struct ldapx_backend of function
 * pointers; ldapx_pick (ldap_client_*.c) chooses one per connection.
 *
 *   ldap_openldap.c     ldapx_openldap: OpenLDAP libldap (both builds)
 *   ldap_wldap32_win.c  ldapx_wldap32: wldap32.dll (Windows)
 *
 * A search is four steps, so that ldap_page.c decides their order: send
 * sends the request and returns; collect reads the whole reply, one
 * message at a time, parsing each entry as it arrives and holding it
 * back (below, "Held entries"); status reads the reply's result code
 * (and its paging cookie); entries hands the held entries to the
 * caller's ldapx_entry_fn.  ldap_page.c calls entries only after status
 * said success, and may send the next page's request before it (a page
 * ahead, ldap_page.c).
 *
 * Ownership: open hands out a connection that close frees; send hands
 * out a reply that res_free frees, abandoning the search (RFC 4511
 * 4.11) when it was never collected.  Messages go into the caller's msg
 * buffer, "<operation>: <library's text>[ - <server's text>]".
 * Trust: everything in a reply is untrusted.  entries passes each
 * attribute name of an entry to ldapx_attr_slot before using its values,
 * and values to the callback with their length, never as C strings.
 */
#ifndef RS_LDAP_BACKEND_H
#define RS_LDAP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ldapx.h"

struct rs_buf;
struct ldapx_conn;		/* a backend's connection */
struct ldapx_res;		/* a backend's reply to one search */
struct ldapx_ranges;		/* ldap_page.c's range retrieval state */

/* One search, as ldap_page.c asks for it. */
struct ldapx_query {
	const char		*base;
	int			 subtree;	/* 0: base scope (a read) */
	const char		*filter;
	const char *const	*attrs;
	size_t			 nattrs;
	unsigned		 page_size;	/* 0: no paged results control */
	const struct rs_buf	*cookie;	/* with page_size */
	int			 sizelimit;	/* 0: none */
	unsigned		 timeout;	/* seconds */
	struct ldapx_ranges	*ranges;	/* ldap_page.c's; backends only
						   pass q on */
};

/* A reply's outcome, as the server sent it. */
struct ldapx_status {
	int	 code;		/* LDAP resultCode (RFC 4511 numbers) */
	int	 paged;		/* a paged results control came back */
	int	 options;	/* an attribute name with options came
				   (ldapx_held_options): range reads may
				   follow in the entries step */
	char	 diag[256];	/* the server's diagnosticMessage */
};

struct ldapx_backend {
	const char *name;	/* the [ldap] client value */
	int	(*open)(const struct ldapx_opts *o, struct ldapx_conn **out,
		    char *msg, size_t msgsize);
	/*
	 * send: RS_OK with *res, the request sent (the reply is read by
	 * collect).  collect: RS_OK, the server replied (maybe with an
	 * error code); other errors: no reply (connection, timeout), said
	 * in msg, and the search is abandoned.  q's timeout bounds collect.
	 */
	int	(*send)(struct ldapx_conn *c, const struct ldapx_query *q,
		    struct ldapx_res **res, char *msg, size_t msgsize);
	int	(*collect)(struct ldapx_conn *c, const struct ldapx_query *q,
		    struct ldapx_res *res, char *msg, size_t msgsize);
	int	(*status)(struct ldapx_conn *c, struct ldapx_res *res,
		    struct ldapx_status *st, char *msg, size_t msgsize);
	/* The server's paging cookie (empty after the last page). */
	int	(*cookie)(struct ldapx_conn *c, struct ldapx_res *res,
		    struct rs_buf *cookie, char *msg, size_t msgsize);
	/* Every entry of res to fn; *n counts them. */
	int	(*entries)(struct ldapx_conn *c, struct ldapx_res *res,
		    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
		    uint64_t *bytes, size_t *n, char *msg, size_t msgsize);
	void	(*res_free)(struct ldapx_res *res);
	/* The library's text for an LDAP result code. */
	void	(*errstr)(int code, char *out, size_t outsize);
	const char *(*server)(const struct ldapx_conn *c);
	void	(*close)(struct ldapx_conn *c);
	/*
	 * Change notification (ldapx.h): notify_start sends q (subtree,
	 * no paging) asynchronously with the notification control,
	 * critical, and no time or size limit.  notify_next waits up to ms
	 * for the next message of any of them: *kind LDAPX_NOTE_NONE
	 * (nothing in time, or a reference), LDAPX_NOTE_ENTRY (handed to
	 * fn as entries does), LDAPX_NOTE_DONE (the server ended a search:
	 * st holds its result).  Errors: the connection failed, said in
	 * msg.
	 */
	int	(*notify_start)(struct ldapx_conn *c,
		    const struct ldapx_query *q, char *msg, size_t msgsize);
	int	(*notify_next)(struct ldapx_conn *c, unsigned ms,
		    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
		    int *kind, struct ldapx_status *st, char *msg,
		    size_t msgsize);
};

/* What notify_next got. */
#define LDAPX_NOTE_NONE		0
#define LDAPX_NOTE_ENTRY	1
#define LDAPX_NOTE_DONE		2

extern const struct ldapx_backend ldapx_openldap;
extern const struct ldapx_backend ldapx_wldap32;	/* Windows only */

/* Not a requested attribute: its values are not looked at. */
#define LDAPX_SLOT_NONE	((size_t)-1)

/*
 * ldap_page.c: which of q's attributes an attribute name in a reply is
 * (*slot), or LDAPX_SLOT_NONE.  A ranged name ("proxyAddresses;range=
 * 0-1499", what AD sends past MaxValRange, MS-ADTS 3.1.1.3.1.3.3) is the
 * attribute's slot too: ldap_page.c notes the range and reads the rest
 * of the values before the entry reaches the caller, so a ranged reply
 * is never mistaken for an absent attribute or for all of its values.
 * Backends call it once per attribute of an entry, then hand the entry
 * to the fn they were given; a malformed range or an attribute sent
 * twice is RS_ERR_FORMAT, said in msg.
 */
int	ldapx_attr_slot(const struct ldapx_query *q, const char *dn,
	    const char *name, size_t *slot, char *msg, size_t msgsize);

/*
 * Held entries (ldap_held.c): a backend that reads a page one message at
 * a time parses each entry on arrival into a struct ldapx_held (_entry
 * with its DN, then per attribute _attr with the name as sent and _value
 * per value; a DN or name is dn[0..len), and one holding a NUL is
 * RS_ERR_FORMAT), frees the message, and in its entries step hands them on
 * with _replay, which calls ldapx_attr_slot per name and then fn, in the
 * order they came.  ldap_page.c calls entries only after status said
 * success, so a page that ends in an error hands on none of them.
 * _options: whether a held name has options (";range=0-1499"), which
 * the backend's status step reports (struct ldapx_status).
 */
struct ldapx_held;
int	ldapx_held_new(struct ldapx_held **out);
int	ldapx_held_entry(struct ldapx_held *h, const char *dn, size_t len);
int	ldapx_held_attr(struct ldapx_held *h, const char *name, size_t len);
int	ldapx_held_value(struct ldapx_held *h, const void *p, size_t len);
int	ldapx_held_options(const struct ldapx_held *h);
int	ldapx_held_replay(const struct ldapx_held *h,
	    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
	    uint64_t *bytes, size_t *n, char *msg, size_t msgsize);
void	ldapx_held_free(struct ldapx_held *h);

/*
 * ldap_client_*.c: the backend for o (the config's client, bind and
 * tls), or NULL with the reason in msg when this build cannot do what o
 * asks.
 */
const struct ldapx_backend *ldapx_pick(const struct ldapx_opts *o,
	    char *msg, size_t msgsize);

/*
 * ldap_bind.c: for a bind the server answered with result code rc (RFC
 * 4511), msg (the backend's "bind: <text>") gets what to change in
 * [ldap] appended.  Returns RS_ERR_SIGNER, "the server refused the bind",
 * which callers tell apart from a server that never answered.
 */
int	ldapx_bind_refused(const struct ldapx_opts *o, int rc, char *msg,
	    size_t msgsize);

/*
 * ldap_client_*.c: for ldap_openldap.c, after the OpenLDAP handle ld has
 * its TLS context: the roots its server certificates are checked
 * against.  Unix: ca_file, or libldap's own default.  Windows: ca_file,
 * or else the "Root" certificate store.
 */
int	ldapx_openldap_roots(void *ld, const char *ca_file, char *msg,
	    size_t msgsize);

#endif /* RS_LDAP_BACKEND_H */
