/*
 * agent_cfg.c - read and validate the agent's configuration file
 * (docs/CONFIG.md, "Agent").
 *
 * API:        agent_cfg_load, agent_cfg_free, agent_strdup, agent_path.
 * Ownership:  the returned struct agent_cfg owns the parsed struct cfg and
 *             every string it points to; agent_cfg_free releases all.
 * Errors:     RS_ERR_* after logging "config FILE:LINE: reason"; a typo
 *             (unknown section or key) is an error, never a silent default.
 * Trust:      the file is the administrator's; it is still bounded
 *             (RS_MAX_CONFIG_BYTES) and every value is checked, so a bad
 *             value fails here and not half-way through a cycle.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "addr.h"
#include "bundle.h"
#include "buf.h"
#include "cfg.h"
#include "log.h"
#include "rs_err.h"
#include "sys.h"

static const char *const acfg_sections[] = { "agent", "ldap", "relay", NULL };

static const char *const acfg_agent_keys[] = {
	"id", "domains", "signing_key", "state_dir", "interval",
	"full_interval", "heartbeat_interval", "stale_warning",
	"stale_critical", "shrink_threshold", "audit_file", "log_file",
	"include_auth_only", "bundle_format", NULL
};

static const char *const acfg_ldap_keys[] = {
	"global_catalog",
	"server", "base", "filter", "page_size", "bind", "bind_dn",
	"password_file", "password", "sasl_mech", "sasl_nocanon", "tls",
	"ca_file", "timeout", "change_detection", "client", NULL
};

static const char *const acfg_relay_keys[] = {
	"host", "port", "user", "hostkey_sha256", "known_hosts",
	"private_key", "remote_dir", "status_file", "connect_timeout",
	"io_timeout", "wait", "retries", "backoff", NULL
};

/* Longest wait we accept for any duration key: a day. */
static const uint64_t acfg_max_secs = 86400;

char *
agent_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

char *
agent_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char sep = sys_path_sep();
	/* '/' ends a directory name on both systems. */
	int slash = dl > 0 && dir[dl - 1] != sep && dir[dl - 1] != '/';
	char *p = malloc(dl + (size_t)slash + nl + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	if (slash)
		p[dl] = sep;
	memcpy(p + dl + (size_t)slash, name, nl + 1);
	return p;
}

void
agent_cfg_free(struct agent_cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nrelays; i++)
		free(c->relays[i].private_key);
	for (i = 0; i < AGENT_MAX_SERVERS; i++)
		free(c->gc_servers[i]);
	if (c->domains != NULL)
		cfg_words_free(c->domains, c->ndomains);
	free(c->domains_str);
	free(c->signing_key);
	free(c->path);
	cfg_free(c->cfg);
	free(c);
}

/* Log a config error at the line of key in s (or of s itself). */
static void
acfg_err(const struct agent_cfg *c, const struct cfg_section *s,
    const char *key, const char *why)
{
	size_t line = 0;

	if (s != NULL && key != NULL)
		line = cfg_key_line(s, key);
	if (line == 0 && s != NULL)
		line = cfg_section_line(s);
	if (key != NULL)
		rs_error("config %s:%zu: %s: %s", c->path, line, key, why);
	else
		rs_error("config %s:%zu: %s", c->path, line, why);
}

/* A duration key as unsigned seconds, within [min, acfg_max_secs]. */
static int
acfg_secs(const struct agent_cfg *c, const struct cfg_section *s,
    const char *key, uint64_t def, uint64_t min, unsigned *out)
{
	uint64_t v;

	if (cfg_duration(s, key, def, &v) != RS_OK) {
		acfg_err(c, s, key, "not a duration (e.g. 90s, 5m, 1h)");
		return RS_ERR_SYNTAX;
	}
	if (v < min || v > acfg_max_secs) {
		acfg_err(c, s, key, "out of range");
		return RS_ERR_SYNTAX;
	}
	*out = (unsigned)v;
	return RS_OK;
}

static int
acfg_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * bundle_format: the list format the relays' receivers read (FORMAT.md
 * 2.1).  1 for receivers not yet upgraded: such a list cannot carry relay
 * domains or wildcards, so those are left out of it (cycle.c says so).
 */
static int
acfg_bundle_format(struct agent_cfg *c, const struct cfg_section *s)
{
	uint64_t v;

	if (cfg_uint(s, "bundle_format", BUNDLE_VERSION, 1, BUNDLE_VERSION,
	    &v) != RS_OK) {
		acfg_err(c, s, "bundle_format", "must be 1 or 2");
		return RS_ERR_SYNTAX;
	}
	c->bundle_format = (unsigned)v;
	return RS_OK;
}

/*
 * [agent] domains: a list of domain names, or "auto" (the accepted
 * domains of Exchange, read by accepted.c at each poll) with an optional
 * list that restricts auto to those names.
 */
static int
acfg_load_domains(struct agent_cfg *c, const struct cfg_section *s)
{
	const char *why, *v;
	struct rs_buf b;
	size_t i, j, k;
	char *p;
	int r;

	rs_buf_init(&b, RS_MAX_HDR_LINE);
	if ((v = cfg_get(s, "domains")) == NULL) {
		acfg_err(c, s, "domains", "required");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if ((r = cfg_words(v, &c->domains, &c->ndomains)) != RS_OK ||
	    c->ndomains == 0 || c->ndomains > RS_MAX_DOMAINS + 1) {
		acfg_err(c, s, "domains", "need auto or 1 to 256 domain names");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	for (i = 0; i < c->ndomains; i++) {
		for (p = c->domains[i]; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (strcmp(c->domains[i], "auto") == 0) {
			c->domains_auto = 1;
			free(c->domains[i]);
			c->domains[i] = NULL;
			continue;
		}
		if (addr_check_domain(c->domains[i], strlen(c->domains[i]),
		    &why) != RS_OK) {
			acfg_err(c, s, "domains", why);
			r = RS_ERR_SYNTAX;
			goto out;
		}
	}
	for (i = 0, k = 0; i < c->ndomains; i++)
		if (c->domains[i] != NULL)
			c->domains[k++] = c->domains[i];
	c->ndomains = k;
	if (c->ndomains > RS_MAX_DOMAINS ||
	    (c->ndomains == 0 && !c->domains_auto)) {
		acfg_err(c, s, "domains", "need auto or 1 to 256 domain names");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	/* The bundle header wants them sorted and unique. */
	qsort(c->domains, c->ndomains, sizeof(*c->domains), acfg_cmp_str);
	for (i = 1, j = 1; i < c->ndomains; i++) {
		if (strcmp(c->domains[i], c->domains[j - 1]) == 0) {
			free(c->domains[i]);
			continue;
		}
		c->domains[j++] = c->domains[i];
	}
	if (c->ndomains > 0)
		c->ndomains = j;
	if (c->domains_auto)
		r = rs_buf_printf(&b, "auto");
	for (i = 0; r == RS_OK && i < c->ndomains; i++)
		r = rs_buf_printf(&b, "%s%s", i || c->domains_auto ? " " : "",
		    c->domains[i]);
	if (r != RS_OK) {
		acfg_err(c, s, "domains", "too long for a bundle header");
		goto out;
	}
	if ((c->domains_str = agent_strdup((const char *)b.data)) == NULL)
		r = RS_ERR_NOMEM;
out:
	rs_buf_free(&b);
	return r;
}

static int
acfg_load_agent(struct agent_cfg *c)
{
	const struct cfg_section *s = cfg_section(c->cfg, "agent", 0);
	const char *bad, *v;
	int r;

	if (s == NULL) {
		rs_error("config %s: no [agent] section", c->path);
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if (cfg_count(c->cfg, "agent") > 1) {
		acfg_err(c, cfg_section(c->cfg, "agent", 1), NULL,
		    "[agent] appears twice");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if ((r = cfg_check_keys(s, acfg_agent_keys, &bad)) != RS_OK) {
		acfg_err(c, s, bad, "unknown key in [agent]");
		goto out;
	}
	c->id = cfg_get(s, "id");
	if (c->id == NULL || !bundle_agent_id_ok(c->id)) {
		acfg_err(c, s, "id", c->id == NULL ? "required" :
		    "must be 1-64 of [a-z0-9._-], starting with a letter "
		    "or digit");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if ((r = acfg_load_domains(c, s)) != RS_OK)
		goto out;

	c->state_dir = cfg_get(s, "state_dir");
	if (c->state_dir == NULL)
		c->state_dir = sys_default_state_dir();
	if ((v = cfg_get(s, "signing_key")) != NULL)
		c->signing_key = agent_strdup(v);
	else
		c->signing_key = agent_path(c->state_dir, "agent_ed25519");
	if (c->signing_key == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	/*
	 * interval is the poll: with change detection a poll costs one read
	 * of the root DSE, so it can be short.  The full export that catches
	 * deletions runs every full_interval.
	 */
	if ((r = acfg_secs(c, s, "interval", 60, 2, &c->interval)) != RS_OK ||
	    (r = acfg_secs(c, s, "full_interval", 3600, 2,
	    &c->full_interval)) != RS_OK ||
	    (r = acfg_secs(c, s, "heartbeat_interval", 3600, 2,
	    &c->heartbeat_interval)) != RS_OK ||
	    (r = acfg_secs(c, s, "stale_warning", 3 * 3600, 1,
	    &c->stale_warning)) != RS_OK ||
	    (r = acfg_secs(c, s, "stale_critical", 24 * 3600, 1,
	    &c->stale_critical)) != RS_OK)
		goto out;
	if (c->full_interval < c->interval) {
		acfg_err(c, s, "full_interval", "shorter than interval");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if (c->stale_critical < c->stale_warning) {
		acfg_err(c, s, "stale_critical", "shorter than stale_warning");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if (cfg_percent(s, "shrink_threshold", RS_DEF_SHRINK_PCT,
	    &c->shrink_pct) != RS_OK) {
		acfg_err(c, s, "shrink_threshold", "not a percentage");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	c->audit_file = cfg_get(s, "audit_file");
	if (cfg_bool(s, "include_auth_only", 0, &c->include_auth_only) !=
	    RS_OK) {
		acfg_err(c, s, "include_auth_only", "not yes or no");
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if (c->include_auth_only)
		rs_info("config %s: include_auth_only = yes: recipients that "
		    "accept only authenticated senders are listed", c->path);
	if ((r = acfg_bundle_format(c, s)) != RS_OK)
		goto out;
	r = RS_OK;
out:
	return r;
}

struct acfg_enum {
	const char	*name;
	int		 val;
};

static const struct acfg_enum acfg_binds[] = {
	{ "negotiate", LDAPX_BIND_NEGOTIATE }, { "simple", LDAPX_BIND_SIMPLE },
	{ "sasl", LDAPX_BIND_SASL }, { "none", LDAPX_BIND_NONE }, { NULL, 0 }
};
static const struct acfg_enum acfg_tlss[] = {
	{ "none", LDAPX_TLS_NONE }, { "starttls", LDAPX_TLS_STARTTLS },
	{ "ldaps", LDAPX_TLS_LDAPS }, { NULL, 0 }
};
static const struct acfg_enum acfg_clients[] = {
	{ "wldap32", LDAPX_CLIENT_WLDAP32 },
	{ "openldap", LDAPX_CLIENT_OPENLDAP }, { NULL, 0 }
};

static int
acfg_get_enum(const struct agent_cfg *c, const struct cfg_section *s,
    const char *key, const struct acfg_enum *e, int def, int *out)
{
	const char *v = cfg_get(s, key);

	if (v == NULL) {
		*out = def;
		return RS_OK;
	}
	for (; e->name != NULL; e++)
		if (strcmp(e->name, v) == 0) {
			*out = e->val;
			return RS_OK;
		}
	acfg_err(c, s, key, "unknown value");
	return RS_ERR_SYNTAX;
}

/*
 * [ldap] global_catalog.  A Global Catalog answers on ports of its own,
 * 3268 (3269 with TLS from the start), with every domain of the forest
 * but only the partial attribute set; on 389 the same DC serves its own
 * domain in full.  So the two are different views of the directory, and
 * a server list must not mix them: a failover would then switch silently
 * between one domain and the whole forest.
 */
#define ACFG_GC_PORT		3268
#define ACFG_GC_TLS_PORT	3269

/* Whether v starts with the scheme pre (lowercase), in any case. */
static int
acfg_scheme(const char *v, const char *pre)
{
	for (; *pre != '\0'; v++, pre++)
		if (*v != *pre && !(*v >= 'A' && *v <= 'Z' && *v - 'A' + 'a' ==
		    *pre))
			return 0;
	return 1;
}

/*
 * A server value's port (0: none); v[0..*end) is "[scheme://]host".  A
 * URI of another scheme (ldapi://, a socket) has no port: *end is 0.
 */
static int
acfg_server_port(const char *v, size_t *end, uint64_t *port)
{
	const char *h = v, *p, *stop;

	*port = 0;
	*end = 0;
	if (acfg_scheme(h, "ldap://"))
		h += 7;
	else if (acfg_scheme(h, "ldaps://"))
		h += 8;
	else if (strstr(h, "://") != NULL)
		return RS_OK;
	if ((stop = strchr(h, '/')) == NULL)
		stop = h + strlen(h);
	if (h[0] == '[') {
		if ((p = memchr(h, ']', (size_t)(stop - h))) == NULL)
			return RS_ERR_SYNTAX;
		p++;
	} else {
		p = memchr(h, ':', (size_t)(stop - h));
		/* A bare IPv6 address has no port we could tell apart. */
		if (p != NULL && memchr(p + 1, ':', (size_t)(stop - p - 1)))
			return RS_ERR_SYNTAX;
		if (p == NULL)
			p = stop;
	}
	*end = (size_t)(p - v);
	if (p == stop)
		return RS_OK;
	if (*p != ':' || rs_parse_dec(p + 1, (size_t)(stop - p - 1), 0, 65535,
	    port) != RS_OK)
		return RS_ERR_SYNTAX;
	return RS_OK;
}

/* v with ":port" inserted after its host, for a GC server without one. */
static char *
acfg_server_with_port(const char *v, size_t end, unsigned port)
{
	struct rs_buf b;
	char *p = NULL;

	rs_buf_init(&b, strlen(v) + 16);
	if (rs_buf_put(&b, v, end) == RS_OK &&
	    rs_buf_printf(&b, ":%u%s", port, v + end) == RS_OK)
		p = agent_strdup((const char *)b.data);
	rs_buf_free(&b);
	return p;
}

static int
acfg_gc_port(unsigned port)
{
	return port == ACFG_GC_PORT || port == ACFG_GC_TLS_PORT;
}

/*
 * Each server's port against global_catalog (set: the key is in the
 * file; unset, it follows the ports); end[i]: where a port would go.
 */
static int
acfg_gc_servers(struct agent_cfg *c, const struct cfg_section *s, int set,
    size_t end[])
{
	char why[600];
	uint64_t port;
	size_t i, ngc = 0;

	for (i = 0; i < c->nservers; i++) {
		if (acfg_server_port(c->servers[i], &end[i], &port) != RS_OK) {
			snprintf(why, sizeof(why), "%.300s: not host, "
			    "host:port, [v6]:port or an ldap[s]:// URI",
			    c->servers[i]);
			acfg_err(c, s, "server", why);
			return RS_ERR_SYNTAX;
		}
		ngc += acfg_gc_port((unsigned)port);
		if (set && c->global_catalog && (port == 389 || port == 636)) {
			snprintf(why, sizeof(why), "%.300s: port %u is a "
			    "domain controller's LDAP port; a Global Catalog "
			    "answers on 3268 (3269 with tls = ldaps)",
			    c->servers[i], (unsigned)port);
			acfg_err(c, s, "server", why);
			return RS_ERR_SYNTAX;
		}
		if (set && !c->global_catalog && acfg_gc_port((unsigned)port)) {
			snprintf(why, sizeof(why), "%.300s: port %u is a "
			    "Global Catalog's, but global_catalog = no; set "
			    "global_catalog = yes, or use the DC's port 389",
			    c->servers[i], (unsigned)port);
			acfg_err(c, s, "server", why);
			return RS_ERR_SYNTAX;
		}
	}
	if (!set)
		c->global_catalog = ngc > 0;
	if (!set && ngc > 0 && ngc < c->nservers) {
		acfg_err(c, s, "server", "some servers are on a Global "
		    "Catalog port (3268, 3269) and some are not: a failover "
		    "would switch between the forest and one domain; list "
		    "only GCs with global_catalog = yes (a server without a "
		    "port then uses 3268), or only DCs");
		return RS_ERR_SYNTAX;
	}
	return RS_OK;
}

/*
 * global_catalog, the GC port for servers that name none, and base ""
 * (the whole forest), which only a GC serves: a DC's port answers it with
 * noSuchObject (only AD's phantom-root search option, MS-ADTS
 * 3.1.1.3.4.1.12, searches from "", and then the DC's own partitions).
 */
static int
acfg_load_gc(struct agent_cfg *c, const struct cfg_section *s)
{
	size_t end[AGENT_MAX_SERVERS], i;
	uint64_t port;
	unsigned def;
	int set = cfg_get(s, "global_catalog") != NULL, r;

	if (cfg_bool(s, "global_catalog", 0, &c->global_catalog) != RS_OK) {
		acfg_err(c, s, "global_catalog", "not yes or no");
		return RS_ERR_SYNTAX;
	}
	if ((r = acfg_gc_servers(c, s, set, end)) != RS_OK)
		return r;
	def = c->tls == LDAPX_TLS_LDAPS ? ACFG_GC_TLS_PORT : ACFG_GC_PORT;
	for (i = 0; c->global_catalog && i < c->nservers; i++) {
		if (acfg_server_port(c->servers[i], &end[i], &port) != RS_OK ||
		    port != 0 || end[i] == 0)
			continue;
		if ((c->gc_servers[i] = acfg_server_with_port(c->servers[i],
		    end[i], acfg_scheme(c->servers[i], "ldaps://") ?
		    ACFG_GC_TLS_PORT : def)) == NULL)
			return RS_ERR_NOMEM;
		c->servers[i] = c->gc_servers[i];
	}
	for (i = 0; i < c->nbases; i++) {
		/* The root is written "base =" or, as people write it, "". */
		if (strcmp(c->bases[i], "\"\"") == 0)
			c->bases[i] = "";
		if (c->bases[i][0] == '\0' && !c->global_catalog) {
			acfg_err(c, s, "base", "\"\" (the whole forest) is "
			    "served only by a Global Catalog: set "
			    "global_catalog = yes, or a server on port 3268; "
			    "or name the domain's DN");
			return RS_ERR_SYNTAX;
		}
	}
	return RS_OK;
}

static int
acfg_load_ldap(struct agent_cfg *c)
{
	const struct cfg_section *s = cfg_section(c->cfg, "ldap", 0);
	const char *bad;
	uint64_t v;
	size_t i;
	char why[256];
	int r, e;

	if (s == NULL) {
		rs_error("config %s: no [ldap] section", c->path);
		return RS_ERR_SYNTAX;
	}
	if (cfg_count(c->cfg, "ldap") > 1) {
		acfg_err(c, cfg_section(c->cfg, "ldap", 1), NULL,
		    "[ldap] appears twice");
		return RS_ERR_SYNTAX;
	}
	if ((r = cfg_check_keys(s, acfg_ldap_keys, &bad)) != RS_OK) {
		acfg_err(c, s, bad, "unknown key in [ldap]");
		return r;
	}
	c->ldap = s;
	c->nservers = cfg_get_n(s, "server");
	if (c->nservers > AGENT_MAX_SERVERS) {
		acfg_err(c, s, "server", "too many servers (at most 16)");
		return RS_ERR_SYNTAX;
	}
	for (i = 0; i < c->nservers; i++)
		c->servers[i] = cfg_nth(s, "server", i);
	c->nbases = cfg_get_n(s, "base");
	if (c->nbases == 0 || c->nbases > AGENT_MAX_BASES) {
		acfg_err(c, s, "base", "need 1 to 16 base DNs");
		return RS_ERR_SYNTAX;
	}
	for (i = 0; i < c->nbases; i++)
		c->bases[i] = cfg_nth(s, "base", i);
	c->filter = cfg_get(s, "filter");
	if (c->filter == NULL)
		c->filter = "(proxyAddresses=smtp:*)";
	if (c->filter[0] != '(') {
		acfg_err(c, s, "filter", "an LDAP filter starts with '('");
		return RS_ERR_SYNTAX;
	}
	if (cfg_uint(s, "page_size", RS_MAX_PAGE_SIZE, 1, RS_MAX_PAGE_SIZE,
	    &v) != RS_OK) {
		acfg_err(c, s, "page_size", "must be 1 to 1000");
		return RS_ERR_SYNTAX;
	}
	c->page_size = (unsigned)v;
	/*
	 * Windows defaults to negotiate (the service's own identity, no
	 * stored password); Unix has no such identity and defaults to simple.
	 */
	if ((r = acfg_get_enum(c, s, "bind", acfg_binds, sys_default_bind(),
	    &e)) != RS_OK)
		return r;
	c->bind = (enum ldapx_bind)e;
	c->bind_dn = cfg_get(s, "bind_dn");
	if (c->bind == LDAPX_BIND_SIMPLE && c->bind_dn == NULL) {
		acfg_err(c, s, "bind_dn", "required for bind = simple");
		return RS_ERR_SYNTAX;
	}
	/*
	 * The password source (password_file on Unix, the DPAPI blob that
	 * set-password writes on Windows) is checked by sys_get_password at
	 * bind time: set-password must be able to load a config without it.
	 */
	c->sasl_mech = cfg_get(s, "sasl_mech");
	if (c->sasl_mech == NULL)
		c->sasl_mech = "GSSAPI";
	/*
	 * Default yes: Kerberos then asks for ldap/NAME with the name
	 * configured, as Microsoft's clients do.  Canonicalizing by reverse
	 * DNS trusts DNS with the server's identity, and a DC's PTR record is
	 * often missing or names another host (docs/CONFIG.md).
	 */
	if (cfg_bool(s, "sasl_nocanon", 1, &c->sasl_nocanon) != RS_OK) {
		acfg_err(c, s, "sasl_nocanon", "not yes or no");
		return RS_ERR_SYNTAX;
	}
	if ((r = acfg_get_enum(c, s, "tls", acfg_tlss, LDAPX_TLS_NONE, &e)) !=
	    RS_OK)
		return r;
	c->tls = (enum ldapx_tls)e;
	c->ca_file = cfg_get(s, "ca_file");
	if ((r = acfg_load_gc(c, s)) != RS_OK)
		return r;
	/* Unset: ldapx_pick chooses by bind and tls, and checks either. */
	if ((r = acfg_get_enum(c, s, "client", acfg_clients, LDAPX_CLIENT_AUTO,
	    &e)) != RS_OK)
		return r;
	c->client = (enum ldapx_client)e;
	if (ldapx_check_client(c->client, c->bind, c->tls, c->ca_file,
	    c->nservers > 0, why, sizeof(why)) != RS_OK) {
		acfg_err(c, s, "client", why);
		return RS_ERR_SYNTAX;
	}
	/*
	 * After the client check, whose message names the other client.
	 * SSPI takes an account as its two parts, never a DN or a UPN.
	 */
	if (c->bind == LDAPX_BIND_NEGOTIATE && c->bind_dn != NULL &&
	    c->bind_dn[0] != '\0' && (strchr(c->bind_dn, '=') != NULL ||
	    strchr(c->bind_dn, '\\') == NULL || c->bind_dn[0] == '\\' ||
	    strchr(c->bind_dn, '\\')[1] == '\0')) {
		acfg_err(c, s, "bind_dn", "for bind = negotiate: DOMAIN\\user "
		    "(CORP\\svc-rcpt), or unset for the service's own logon");
		return RS_ERR_SYNTAX;
	}
	if (cfg_bool(s, "change_detection", 1, &c->change_detection) !=
	    RS_OK) {
		acfg_err(c, s, "change_detection", "not yes or no");
		return RS_ERR_SYNTAX;
	}
	return acfg_secs(c, s, "timeout", 30, 1, &c->timeout);
}

static int
acfg_load_relay(struct agent_cfg *c, const struct cfg_section *s,
    struct agent_relay *r)
{
	const char *bad, *v, *p;
	uint64_t u;
	int e;

	if ((e = cfg_check_keys(s, acfg_relay_keys, &bad)) != RS_OK) {
		acfg_err(c, s, bad, "unknown key in [relay]");
		return e;
	}
	r->name = cfg_section_name(s);
	if (r->name[0] == '\0') {
		acfg_err(c, s, NULL, "[relay] needs a name: [relay mx1]");
		return RS_ERR_SYNTAX;
	}
	if ((r->host = cfg_get(s, "host")) == NULL) {
		acfg_err(c, s, "host", "required");
		return RS_ERR_SYNTAX;
	}
	if (cfg_uint(s, "port", 22, 1, 65535, &u) != RS_OK) {
		acfg_err(c, s, "port", "must be 1 to 65535");
		return RS_ERR_SYNTAX;
	}
	r->port = (unsigned)u;
	if ((r->user = cfg_get(s, "user")) == NULL)
		r->user = "rcptsync-up";
	/* An empty value ("hostkey_sha256 =") means none. */
	r->hostkey_sha256 = cfg_get(s, "hostkey_sha256");
	if (r->hostkey_sha256 != NULL && r->hostkey_sha256[0] == '\0')
		r->hostkey_sha256 = NULL;
	r->known_hosts = cfg_get(s, "known_hosts");
	if (r->known_hosts != NULL && r->known_hosts[0] == '\0')
		r->known_hosts = NULL;
	if (r->hostkey_sha256 == NULL && r->known_hosts == NULL) {
		/* Never trust on first use: a pin is mandatory. */
		acfg_err(c, s, "hostkey_sha256",
		    "one of hostkey_sha256 or known_hosts is required");
		return RS_ERR_SYNTAX;
	}
	if (r->hostkey_sha256 != NULL) {
		v = r->hostkey_sha256;
		if (strncmp(v, "SHA256:", 7) != 0 || strlen(v) < 7 + 43) {
			acfg_err(c, s, "hostkey_sha256", "expected SHA256:... "
			    "as ssh-keygen -lf prints it");
			return RS_ERR_SYNTAX;
		}
		for (p = v + 7; *p != '\0'; p++)
			if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
			    "qrstuvwxyz0123456789+/=", *p) == NULL) {
				acfg_err(c, s, "hostkey_sha256",
				    "not base64 after SHA256:");
				return RS_ERR_SYNTAX;
			}
	}
	if ((v = cfg_get(s, "private_key")) != NULL)
		r->private_key = agent_strdup(v);
	else
		r->private_key = agent_path(c->state_dir, "relay_ed25519");
	if (r->private_key == NULL)
		return RS_ERR_NOMEM;
	if ((r->remote_dir = cfg_get(s, "remote_dir")) == NULL)
		r->remote_dir = "incoming";
	if ((r->status_file = cfg_get(s, "status_file")) == NULL)
		r->status_file = "status/status.json";
	if ((e = acfg_secs(c, s, "connect_timeout", 15, 1,
	    &r->connect_timeout)) != RS_OK ||
	    (e = acfg_secs(c, s, "io_timeout", 60, 1, &r->io_timeout)) !=
	    RS_OK ||
	    (e = acfg_secs(c, s, "wait", 120, 0, &r->wait)) != RS_OK ||
	    (e = acfg_secs(c, s, "backoff", 5, 0, &r->backoff)) != RS_OK)
		return e;
	if (cfg_uint(s, "retries", 3, 1, 100, &u) != RS_OK) {
		acfg_err(c, s, "retries", "must be 1 to 100");
		return RS_ERR_SYNTAX;
	}
	r->retries = (unsigned)u;
	return RS_OK;
}

int
agent_cfg_load(const char *path, int need_relays, struct agent_cfg **out)
{
	struct agent_cfg *c = NULL;
	struct rs_buf text;
	const char *why = NULL, *bad;
	size_t line = 0, i, j;
	int r;

	*out = NULL;
	rs_buf_init(&text, RS_MAX_CONFIG_BYTES);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = agent_strdup(path)) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = sys_read_file(path, RS_MAX_CONFIG_BYTES, &text)) != RS_OK) {
		rs_error("read config %s: %s", path, r == RS_ERR_SYSTEM ?
		    sys_errmsg() : rs_err_str(r));
		goto out;
	}
	if ((r = cfg_parse((const char *)text.data, text.len, &c->cfg,
	    &line, &why)) != RS_OK) {
		rs_error("config %s:%zu: %s", path, line,
		    why != NULL ? why : rs_err_str(r));
		goto out;
	}
	if ((r = cfg_check_sections(c->cfg, acfg_sections, &bad)) != RS_OK) {
		rs_error("config %s: unknown section [%s]", path, bad);
		goto out;
	}
	if ((r = acfg_load_agent(c)) != RS_OK || (r = acfg_load_ldap(c)) !=
	    RS_OK)
		goto out;
	c->nrelays = cfg_count(c->cfg, "relay");
	/* export reads the directory only: [agent] and [ldap] suffice. */
	if (c->nrelays == 0 && need_relays) {
		rs_error("config %s: no [relay NAME] section (sync, run and "
		    "check push to relays; export needs none)", path);
		r = RS_ERR_SYNTAX;
		goto out;
	}
	if (c->nrelays > AGENT_MAX_RELAYS) {
		rs_error("config %s: too many relays (at most %d)", path,
		    AGENT_MAX_RELAYS);
		c->nrelays = 0;
		r = RS_ERR_SYNTAX;
		goto out;
	}
	for (i = 0; i < c->nrelays; i++) {
		if ((r = acfg_load_relay(c, cfg_section(c->cfg, "relay", i),
		    &c->relays[i])) != RS_OK)
			goto out;
		for (j = 0; j < i; j++)
			if (strcmp(c->relays[i].name, c->relays[j].name) == 0) {
				acfg_err(c, cfg_section(c->cfg, "relay", i),
				    NULL, "relay name used twice");
				r = RS_ERR_SYNTAX;
				goto out;
			}
	}
	*out = c;
	c = NULL;
	r = RS_OK;
out:
	rs_buf_free(&text);
	agent_cfg_free(c);
	return r;
}
