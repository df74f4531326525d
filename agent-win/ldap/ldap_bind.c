/*
 * ldap_bind.c - a bind the server refused, said once for both backends:
 * what the server answered, and what to change in [ldap].
 *
 * API:        ldapx_bind_refused (ldap_backend.h).
 * Ownership:  none; it appends to the caller's message buffer.
 * Errors:     returns RS_ERR_SIGNER, the code for "the server answered
 *             and refused the bind", which export_open_why tells apart
 *             from "no server answered".
 * Trust:      the result code is the server's; it only picks a hint.
 *
 * The numbers are RFC 4511's resultCodes, which libldap and wldap32 both
 * return for an answer from the server.
 */
#include <stdio.h>
#include <string.h>

#include "ldap_backend.h"
#include "rs_err.h"

#define LDAPX_RC_AUTH_UNKNOWN	7	/* authMethodNotSupported */
#define LDAPX_RC_STRONG_AUTH	8	/* strongerAuthRequired */
#define LDAPX_RC_CONFIDENTIAL	13	/* confidentialityRequired */
#define LDAPX_RC_INAPPROPRIATE	48	/* inappropriateAuthentication */
#define LDAPX_RC_CREDENTIALS	49	/* invalidCredentials */

/*
 * What to change for result code rc under options o, or NULL.  AD (and
 * Samba with "ldap server require strong auth = yes", the default since
 * Windows Server 2025) answers a simple bind without TLS with 8: only TLS
 * or a Kerberos bind with signing gets through.
 */
static const char *
bind_hint(const struct ldapx_opts *o, int rc)
{
	int tls = o->tls != LDAPX_TLS_NONE ||
	    (o->server != NULL && strncmp(o->server, "ldaps:", 6) == 0);

	switch (rc) {
	case LDAPX_RC_STRONG_AUTH:
	case LDAPX_RC_CONFIDENTIAL:
		if (o->bind == LDAPX_BIND_SIMPLE && !tls)
			return "the server takes no simple bind without TLS: "
			    "set tls = ldaps or tls = starttls (with ca_file "
			    "on Unix), or bind with Kerberos (bind = sasl on "
			    "Unix, bind = negotiate on Windows)";
		if (tls)
			return "the server wants a stronger bind than this "
			    "one over TLS";
		if (o->bind == LDAPX_BIND_NONE)
			return "the server takes no anonymous bind without "
			    "TLS: bind as an account, or set tls = ldaps or "
			    "tls = starttls";
		return "the server wants a signed and sealed bind: use "
		    "sasl_mech GSSAPI or GSS-SPNEGO (Unix) or negotiate "
		    "(Windows), or set tls = ldaps or tls = starttls";
	case LDAPX_RC_AUTH_UNKNOWN:
		return o->bind == LDAPX_BIND_SASL ? "the server does not "
		    "offer this sasl_mech (AD offers GSSAPI and GSS-SPNEGO)" :
		    NULL;
	case LDAPX_RC_INAPPROPRIATE:
	case LDAPX_RC_CREDENTIALS:
		return o->bind == LDAPX_BIND_SIMPLE ? "check bind_dn and the "
		    "password (an expired or locked account answers the "
		    "same)" : "the account was refused: is it enabled, and "
		    "is its ticket current?";
	default:
		return NULL;
	}
}

int
ldapx_bind_refused(const struct ldapx_opts *o, int rc, char *msg,
    size_t msgsize)
{
	const char *hint = bind_hint(o, rc);
	size_t len = strnlen(msg, msgsize);

	if (hint != NULL && len + 1 < msgsize)
		snprintf(msg + len, msgsize - len, "; %s", hint);
	return RS_ERR_SIGNER;
}
