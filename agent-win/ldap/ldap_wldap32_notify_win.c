/*
 * ldap_wldap32_notify_win.c - change notification for the wldap32
 * backend (ldap_backend.h's notify_start, notify_next), Windows only.
 *
 * API:        wldap_notify_start: ldap_search_extW, asynchronous, with the
 *             control 1.2.840.113556.1.4.528, critical, no time or size
 *             limit; wldap_notify_next: ldap_result with a timeout, one
 *             message, on each search's own message id: Wine 8's
 *             ldap_result refuses LDAP_RES_ANY (it returns -1 at once, and
 *             LdapGetLastError says success).  Windows takes either.
 * Ownership:  the search ids live in struct ldapx_conn; a message is
 *             freed before notify_next returns.
 * Errors:     RS_ERR_SYSTEM for a failed search or connection (Wine sets
 *             no error for a lost one: said as such), with msg.
 * Trust:      an entry goes through wldap_hold and ldapx_held_replay
 *             (ldapx_attr_slot per name), as a page's do.
 * Names shared with libldap: ldap_result, ldap_first_entry and
 * ldap_msgfree are looked up in wldap32.dll, as ldap_wldap32_win.c does
 * for its eight.
 */
#include <winsock2.h>
#include <windows.h>
#include <winldap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap_backend.h"
#include "ldap_wldap32_win.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "win_int.h"

static struct {
	ULONG		 (LDAPAPI *result)(LDAP *, ULONG, ULONG,
			    struct l_timeval *, LDAPMessage **);
	LDAPMessage	*(LDAPAPI *first_entry)(LDAP *, LDAPMessage *);
	ULONG		 (LDAPAPI *msgfree)(LDAPMessage *);
} wn;
static INIT_ONCE wn_once = INIT_ONCE_STATIC_INIT;
static int wn_loaded;

/* Through void (*)(void): the one cast of FARPROC gcc does not flag. */
#define WN_GET(m, field, name) \
	((wn.field = (__typeof__(wn.field))(void (*)(void)) \
	    GetProcAddress((m), (name))) != NULL)

static BOOL CALLBACK
wldap_notify_load(PINIT_ONCE once, PVOID arg, PVOID *ctx)
{
	HMODULE m = GetModuleHandleW(L"wldap32.dll");

	(void)once;
	(void)arg;
	(void)ctx;
	wn_loaded = m != NULL && WN_GET(m, result, "ldap_result") &&
	    WN_GET(m, first_entry, "ldap_first_entry") &&
	    WN_GET(m, msgfree, "ldap_msgfree");
	return TRUE;
}

int
wldap_notify_start(struct ldapx_conn *c, const struct ldapx_query *q,
    char *msg, size_t msgsize)
{
	LDAPControlW ctl = { (wchar_t *)L"1.2.840.113556.1.4.528", { 0, NULL },
	    TRUE }, *sctrls[2] = { &ctl, NULL };
	wchar_t *wbase = NULL, *wfilter = NULL, **wattrs = NULL;
	ULONG lrc, id = 0;
	int rc = RS_OK;

	if (c->nnote == RS_MAX_NOTIFY_PER_CONN)		/* ldap_page.c's rule */
		return RS_ERR_LIMIT;
	InitOnceExecuteOnce(&wn_once, wldap_notify_load, NULL, NULL);
	if (!wn_loaded) {
		snprintf(msg, msgsize, "load wldap32.dll: no ldap_result");
		return RS_ERR_SYSTEM;
	}
	if ((wbase = win_wide(q->base)) == NULL ||
	    (wfilter = win_wide(q->filter)) == NULL ||
	    (wattrs = wldap_wide_attrs(q)) == NULL) {
		snprintf(msg, msgsize, "notify %s: base or attributes not "
		    "valid UTF-8", q->base);
		rc = RS_ERR_INVAL;
		goto out;
	}
	/* No time limit: the server keeps the search open. */
	if ((lrc = ldap_search_extW(c->ld, wbase, LDAP_SCOPE_SUBTREE, wfilter,
	    wattrs, 0, sctrls, NULL, 0, 0, &id)) != LDAP_SUCCESS) {
		wldap_seterr(msg, msgsize, "notification search", lrc, NULL);
		rc = RS_ERR_SYSTEM;
	} else
		c->note_id[c->nnote++] = id;
 out:
	wldap_free_attrs(wattrs);
	free(wfilter);
	free(wbase);
	return rc;
}

/* A notified entry, through the held path a page's entries take. */
static int
wldap_note_entry(struct ldapx_conn *c, LDAPMessage *e,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg, char *msg,
    size_t msgsize)
{
	struct ldapx_held *h = NULL;
	size_t n;
	int r;

	if ((r = ldapx_held_new(&h)) == RS_OK &&
	    (r = wldap_hold(c, e, h, msg, msgsize)) == RS_OK)
		r = ldapx_held_replay(h, q, fn, arg, NULL, &n, msg, msgsize);
	ldapx_held_free(h);
	return r;
}

int
wldap_notify_next(struct ldapx_conn *c, unsigned ms,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg, int *kind,
    struct ldapx_status *st, char *msg, size_t msgsize)
{
	LDAPMessage *m = NULL, *e;
	struct l_timeval tv;
	wchar_t *srvmsg = NULL;
	ULONG rc = 0, code = 0;
	size_t i;
	char *s;
	int r = RS_OK;

	*kind = LDAPX_NOTE_NONE;
	ms = c->nnote > 0 ? ms / (unsigned)c->nnote : ms;
	tv.tv_sec = (LONG)(ms / 1000);
	tv.tv_usec = (LONG)(ms % 1000) * 1000;
	for (i = 0; i < c->nnote && rc == 0; i++)
		rc = wn.result(c->ld, c->note_id[i], LDAP_MSG_ONE, &tv, &m);
	if (rc == 0)
		return RS_OK;
	/* Wine sets no error for a lost connection: say that much. */
	if (rc == (ULONG)-1 || m == NULL) {
		wldap_result_err(msg, msgsize, "notification search");
		return RS_ERR_SYSTEM;
	}
	if (rc == LDAP_RES_SEARCH_ENTRY) {
		*kind = LDAPX_NOTE_ENTRY;
		if ((e = wn.first_entry(c->ld, m)) != NULL)
			r = wldap_note_entry(c, e, q, fn, arg, msg, msgsize);
	} else if (rc == LDAP_RES_SEARCH_RESULT) {
		*kind = LDAPX_NOTE_DONE;
		if (ldap_parse_resultW(c->ld, m, &code, NULL, &srvmsg, NULL,
		    NULL, FALSE) != LDAP_SUCCESS)
			code = LDAP_OTHER;
		st->code = (int)code;
		if (srvmsg != NULL && (s = win_utf8(srvmsg)) != NULL) {
			snprintf(st->diag, sizeof(st->diag), "%s", s);
			free(s);
		}
		if (srvmsg != NULL)
			ldap_memfreeW(srvmsg);
	}
	wn.msgfree(m);
	return r;
}
