/*
 * ldap_client_unix.c - the LDAP clients of the Unix build: OpenLDAP's
 * libldap only.
 *
 * API:        ldapx_pick and ldapx_openldap_roots (ldap_backend.h).
 * Ownership:  nothing is allocated.
 * Errors:     ldapx_pick returns NULL and says why in msg for client =
 *             wldap32, which is the Windows library.
 * Trust:      without ca_file, libldap checks server certificates against
 *             its own default roots (ldap.conf's TLS_CACERT, or the TLS
 *             library's system store), as the system's ldapsearch does.
 */
#include <stdio.h>

#include "ldap_backend.h"
#include "rs_err.h"

const struct ldapx_backend *
ldapx_pick(const struct ldapx_opts *o, char *msg, size_t msgsize)
{
	if (o->client == LDAPX_CLIENT_WLDAP32) {
		snprintf(msg, msgsize, "client = wldap32: the Windows LDAP "
		    "client is not in the Unix build; use client = openldap "
		    "(or leave client unset)");
		return NULL;
	}
	return &ldapx_openldap;
}

int
ldapx_openldap_roots(void *ld, const char *ca_file, char *msg,
    size_t msgsize)
{
	(void)ld;
	(void)ca_file;
	(void)msg;
	(void)msgsize;
	return RS_OK;
}
