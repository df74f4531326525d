/*
 * test_ldap_bind.c - ldapx_bind_refused (agent-win/ldap/ldap_bind.c):
 * the hint a refused bind gets, by result code, bind and TLS; the
 * return code; a message buffer that is full already.
 */
#include <stdio.h>
#include <string.h>

#include "ldap_backend.h"
#include "rs_err.h"
#include "unit.h"

static const struct {
	const char	*name;
	enum ldapx_bind	 bind;
	enum ldapx_tls	 tls;
	const char	*server;
	int		 rc;
	const char	*want;		/* in the hint; NULL: no hint */
} cases[] = {
	{ "simple-389-strong", LDAPX_BIND_SIMPLE, LDAPX_TLS_NONE,
	    "ldap://dc1:389", 8, "no simple bind without TLS: set tls = "
	    "ldaps or tls = starttls" },
	{ "simple-389-confidentiality", LDAPX_BIND_SIMPLE, LDAPX_TLS_NONE,
	    "dc1", 13, "no simple bind without TLS" },
	{ "simple-ldaps-uri-strong", LDAPX_BIND_SIMPLE, LDAPX_TLS_NONE,
	    "ldaps://dc1", 8, "stronger bind than this one over TLS" },
	{ "simple-starttls-strong", LDAPX_BIND_SIMPLE, LDAPX_TLS_STARTTLS,
	    "dc1", 8, "over TLS" },
	{ "sasl-strong", LDAPX_BIND_SASL, LDAPX_TLS_NONE, "dc1", 8,
	    "signed and sealed bind" },
	{ "negotiate-strong", LDAPX_BIND_NEGOTIATE, LDAPX_TLS_NONE, "dc1", 8,
	    "signed and sealed bind" },
	{ "none-strong", LDAPX_BIND_NONE, LDAPX_TLS_NONE, "dc1", 8,
	    "no anonymous bind without TLS" },
	{ "simple-credentials", LDAPX_BIND_SIMPLE, LDAPX_TLS_LDAPS, "dc1", 49,
	    "check bind_dn and the password" },
	{ "sasl-credentials", LDAPX_BIND_SASL, LDAPX_TLS_NONE, "dc1", 49,
	    "the account was refused" },
	{ "sasl-mech", LDAPX_BIND_SASL, LDAPX_TLS_NONE, "dc1", 7,
	    "does not offer this sasl_mech" },
	{ "simple-mech", LDAPX_BIND_SIMPLE, LDAPX_TLS_NONE, "dc1", 7, NULL },
	{ "busy", LDAPX_BIND_SIMPLE, LDAPX_TLS_NONE, "dc1", 51, NULL },
};

static void
test_hints(void)
{
	struct ldapx_opts o;
	char msg[512], name[96];
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.bind = cases[i].bind;
		o.tls = cases[i].tls;
		o.server = cases[i].server;
		snprintf(msg, sizeof(msg), "bind: text");
		r = ldapx_bind_refused(&o, cases[i].rc, msg, sizeof(msg));
		snprintf(name, sizeof(name), "bind-refused-%s-code",
		    cases[i].name);
		UT_CHECK(name, r == RS_ERR_SIGNER);
		snprintf(name, sizeof(name), "bind-refused-%s-hint",
		    cases[i].name);
		if (cases[i].want != NULL)
			UT_CHECK(name, strncmp(msg, "bind: text; ", 12) == 0 &&
			    strstr(msg, cases[i].want) != NULL);
		else
			UT_CHECK(name, strcmp(msg, "bind: text") == 0);
	}
}

/* A message that fills its buffer stays terminated and unchanged. */
static void
test_full(void)
{
	struct ldapx_opts o;
	char msg[16];

	memset(&o, 0, sizeof(o));
	o.bind = LDAPX_BIND_SIMPLE;
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	ldapx_bind_refused(&o, 8, msg, sizeof(msg));
	UT_CHECK("bind-refused-full-buffer", strlen(msg) == sizeof(msg) - 1 &&
	    msg[0] == 'x');
	memset(msg, 'x', sizeof(msg) - 2);
	msg[sizeof(msg) - 2] = '\0';
	ldapx_bind_refused(&o, 8, msg, sizeof(msg));
	UT_CHECK("bind-refused-one-byte-left", strlen(msg) == sizeof(msg) - 1);
}

int
main(void)
{
	test_hints();
	test_full();
	return ut_exit();
}
