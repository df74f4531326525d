/*
 * ldap_client_win.c - the LDAP clients of the Windows build, and the
 * trusted roots of its OpenLDAP client.
 *
 * API:        ldapx_pick and ldapx_openldap_roots (ldap_backend.h).
 *
 * Choosing ([ldap] client, docs/CONFIG.md):
 *   wldap32   Windows' own client.  The only one that can bind =
 *             negotiate (Kerberos as the service's own logon, with
 *             signing).  TLS is checked against the Windows certificate
 *             store, never a ca_file.
 *   openldap  OpenLDAP's libldap on OpenSSL, linked in.  bind = simple
 *             (or none); no SASL in this build.  TLS is checked against
 *             ca_file, or else the Windows "Root" store.
 *   unset     wldap32, except for bind = simple with tls = ldaps or
 *             starttls: openldap.
 * A combination a client cannot do is refused with a message that names
 * the alternative; nothing falls back silently.
 *
 * Ownership:  ldapx_openldap_roots builds an X509_STORE that the TLS
 *             context then owns; the certificates it reads from the
 *             Windows store are copies.
 * Errors:     ldapx_pick: NULL with the reason in msg.  roots:
 *             RS_ERR_SYSTEM (store not readable, or no usable root),
 *             RS_ERR_NOMEM.
 * Trust:      the Root store is what the machine trusts (the service's
 *             LocalSystem sees the local machine's and Group Policy's
 *             roots); it replaces OpenSSL's default verify paths, which
 *             on Windows name a build-time directory anyone might create.
 *             Host names are checked by libldap (ldap_openldap.c).
 */
#include <winsock2.h>
#include <windows.h>
#include <wincrypt.h>

#include <stdio.h>
#include <stdlib.h>

/* After wincrypt.h: OpenSSL undoes its X509_NAME macros. */
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <ldap.h>

#include "ldap_backend.h"
#include "rs_err.h"

static const struct ldapx_backend *
ldapx_pick_openldap(const struct ldapx_opts *o, char *msg, size_t msgsize)
{
	if (o->bind == LDAPX_BIND_NEGOTIATE) {
		snprintf(msg, msgsize, "client = openldap cannot bind = "
		    "negotiate (no SASL in this build); use client = wldap32, "
		    "or bind = simple with tls = ldaps or starttls");
		return NULL;
	}
	if (o->bind == LDAPX_BIND_SASL) {
		snprintf(msg, msgsize, "bind = sasl: this build's OpenLDAP "
		    "client has no SASL; use bind = negotiate with client = "
		    "wldap32, or bind = simple with tls");
		return NULL;
	}
	if (o->server == NULL) {
		snprintf(msg, msgsize, "client = openldap needs a server "
		    "(it has no DC locator); set [ldap] server, or use "
		    "client = wldap32");
		return NULL;
	}
	/*
	 * libldap reads ldap.conf, ldaprc in the current directory and
	 * LDAP* variables; on Windows those paths are nobody's to guard.
	 * Everything it needs is set on the handle.
	 */
	_putenv("LDAPNOINIT=1");
	return &ldapx_openldap;
}

static const struct ldapx_backend *
ldapx_pick_wldap32(const struct ldapx_opts *o, char *msg, size_t msgsize)
{
	if (o->bind == LDAPX_BIND_SASL) {
		snprintf(msg, msgsize, "bind = sasl is not available with "
		    "client = wldap32; use bind = negotiate");
		return NULL;
	}
	if (o->ca_file != NULL) {
		snprintf(msg, msgsize, "ca_file %s: client = wldap32 checks "
		    "the Windows certificate store only; remove ca_file, or "
		    "use client = openldap with bind = simple", o->ca_file);
		return NULL;
	}
	return &ldapx_wldap32;
}

const struct ldapx_backend *
ldapx_pick(const struct ldapx_opts *o, char *msg, size_t msgsize)
{
	switch (o->client) {
	case LDAPX_CLIENT_OPENLDAP:
		return ldapx_pick_openldap(o, msg, msgsize);
	case LDAPX_CLIENT_WLDAP32:
		return ldapx_pick_wldap32(o, msg, msgsize);
	default:
		if (o->bind == LDAPX_BIND_SIMPLE && o->tls != LDAPX_TLS_NONE)
			return ldapx_pick_openldap(o, msg, msgsize);
		return ldapx_pick_wldap32(o, msg, msgsize);
	}
}

/* Copies of the certificates in the Windows "Root" store, in st. */
static int
ldapx_root_store(X509_STORE *st, size_t *n, char *msg, size_t msgsize)
{
	HCERTSTORE hs;
	PCCERT_CONTEXT cc = NULL;
	const unsigned char *p;
	X509 *x;

	*n = 0;
	if ((hs = CertOpenSystemStoreW(0, L"ROOT")) == NULL) {
		snprintf(msg, msgsize, "open the Windows Root certificate "
		    "store: error %lu; set ca_file", GetLastError());
		return RS_ERR_SYSTEM;
	}
	while ((cc = CertEnumCertificatesInStore(hs, cc)) != NULL) {
		if (cc->dwCertEncodingType != X509_ASN_ENCODING)
			continue;
		p = cc->pbCertEncoded;
		/* A root OpenSSL cannot parse is one it cannot trust. */
		if ((x = d2i_X509(NULL, &p, (long)cc->cbCertEncoded)) == NULL)
			continue;
		if (X509_STORE_add_cert(st, x) == 1)
			(*n)++;
		X509_free(x);
	}
	CertCloseStore(hs, 0);
	return RS_OK;
}

int
ldapx_openldap_roots(void *ld, const char *ca_file, char *msg,
    size_t msgsize)
{
	X509_STORE *st = NULL;
	SSL_CTX *ctx = NULL;
	size_t n;
	int r;

	/* libldap loaded ca_file into the context itself. */
	if (ca_file != NULL)
		return RS_OK;
	if (ldap_get_option(ld, LDAP_OPT_X_TLS_CTX, &ctx) != LDAP_OPT_SUCCESS ||
	    ctx == NULL) {
		snprintf(msg, msgsize, "TLS context: libldap has none");
		return RS_ERR_SYSTEM;
	}
	if ((st = X509_STORE_new()) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = ldapx_root_store(st, &n, msg, msgsize)) != RS_OK)
		goto out;
	if (n == 0) {
		snprintf(msg, msgsize, "the Windows Root certificate store "
		    "has no certificate OpenSSL can use; set ca_file");
		r = RS_ERR_SYSTEM;
		goto out;
	}
	/* The context owns st from here; the old store is freed. */
	SSL_CTX_set_cert_store(ctx, st);
	st = NULL;
	r = RS_OK;
out:
	X509_STORE_free(st);
	/* LDAP_OPT_X_TLS_CTX handed out a reference of its own. */
	SSL_CTX_free(ctx);
	return r;
}
