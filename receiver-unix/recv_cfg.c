/*
 * recv_cfg.c - rcptsync-receiver's configuration: the [receiver] section,
 * [signer NAME] sections, defaults taken from Postfix (postconf), and the
 * allowed_signers file.
 *
 * API:        rcv_cfg_load, rcv_cfg_free, rcv_cfg_signers_load,
 *             rcv_cfg_signer, rcv_cfg_word_find, rcv_cfg_exec_capture.
 * Ownership:  struct rcv_cfg owns all its strings (rcv_cfg_free).  The
 *             signers object from rcv_cfg_signers_load is the caller's
 *             (signers_free).
 * Errors:     every problem is logged naming the file, line and key, and
 *             returned as RS_ERR_SYNTAX (a configuration error, exit 2) or
 *             RS_ERR_SYSTEM (postconf could not run).
 * Trust:      the configuration and postconf's output are the admin's.
 *             The configuration and allowed_signers are read following
 *             symbolic links (rcv_util_read_admin): they are the admin's
 *             own files, often links made by configuration management.
 *             Postfix's tools run with a deadline (postmap_timeout) and
 *             are killed when they pass it: the caller holds the lock.
 *             postconf's relay_domains may hold $references or table
 *             lookups; rather than guess at them the receiver refuses and
 *             asks for an explicit relay_domains, because the list decides
 *             which addresses reach the map.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "bundle.h"
#include "cfg.h"
#include "rs_limits.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "signers.h"
#include "strv.h"

static const char *const rcv_cfg_receiver_keys[] = {
	"spool_dir", "status_file", "state_dir", "history_dir", "history",
	"quarantine_dir", "allowed_signers", "map", "map_type", "postmap",
	"postconf", "postfix_config", "relay_domains", "relay_domains_map",
	"static_file",
	"shrink_threshold", "max_bundle_size", "max_list_size", "max_entries",
	"metrics_file", "stale_warning", "stale_critical", "postmap_timeout",
	"user", NULL
};
static const char *const rcv_cfg_signer_keys[] = { "domains", NULL };
static const char *const rcv_cfg_sections[] = { "receiver", "signer", NULL };
static const char *const rcv_cfg_map_types[] = {
	"hash", "btree", "cdb", "lmdb", NULL
};

/* Ceiling for the history setting: each kept bundle costs disk. */
static const uint64_t rcv_cfg_max_history = 1000;

static int
rcv_cfg_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

long
rcv_cfg_word_find(char *const *w, size_t n, const char *d, size_t len)
{
	return strv_find((const char *const *)w, n, d, len);
}

/* Does the sorted list w[0..n) hold t[0..len) or a wildcard over it? */
static int
rcv_cfg_list_allows(char *const *w, size_t n, const char *t, size_t len)
{
	char buf[BUNDLE_DOMAIN_MAX + 1];
	const char *dot;

	if (rcv_cfg_word_find(w, n, t, len) >= 0)
		return 1;
	if (len >= 2 && t[0] == '*' && t[1] == '.') {
		t += 2;
		len -= 2;
	}
	if (len > RS_MAX_DOMAIN_LEN)
		return 0;
	buf[0] = '*';
	buf[1] = '.';
	for (;;) {
		memcpy(buf + 2, t, len);
		if (rcv_cfg_word_find(w, n, buf, len + 2) >= 0)
			return 1;
		if ((dot = memchr(t, '.', len)) == NULL)
			return 0;
		len -= (size_t)(dot + 1 - t);
		t = dot + 1;
	}
}

int
rcv_cfg_allows(const struct rcv_cfg *c, const struct rcv_signer *sg,
    const char *t, size_t len)
{
	if (!c->relay_any && !rcv_cfg_list_allows(c->relay_domains, c->nrelay,
	    t, len))
		return 0;
	return sg == NULL || sg->domains == NULL ||
	    rcv_cfg_list_allows(sg->domains, sg->ndomains, t, len);
}

static void
rcv_cfg_kill(pid_t pid)
{
	if (kill(-pid, SIGKILL) == -1)
		(void)kill(pid, SIGKILL);
}

int
rcv_cfg_exec_capture(const char *const *argv, int merge, uint64_t timeout,
    char *out, size_t outsize, size_t *outlen, int *status)
{
	int pfd[2] = { -1, -1 }, nullfd = -1, r = RS_ERR_SYSTEM, killed = 0,
	    wait_ms;
	struct pollfd pl;
	uint64_t deadline, now;
	size_t got = 0;
	char drop[512];
	ssize_t n;
	pid_t pid;

	*outlen = 0;
	*status = -1;
	if (outsize == 0 || argv[0][0] != '/')
		return RS_ERR_INVAL;
	out[0] = '\0';
	if (pipe(pfd) == -1) {
		rs_error("pipe for %s: %s", argv[0], strerror(errno));
		return RS_ERR_SYSTEM;
	}
	pid = fork();
	if (pid == -1) {
		rs_error("fork for %s: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls until execv. */
		nullfd = open("/dev/null", O_RDWR);
		if (nullfd == -1 || dup2(nullfd, 0) == -1 ||
		    dup2(pfd[1], 1) == -1 ||
		    (merge && dup2(pfd[1], 2) == -1))
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		/* A group of its own: the deadline kills its children too. */
		(void)setpgid(0, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* Both sides set the group: whichever runs first wins the race. */
	(void)setpgid(pid, pid);
	close(pfd[1]);
	pfd[1] = -1;
	/*
	 * The caller holds the receiver's lock: a tool that hangs would hold
	 * it, and every later run, for ever.  So the output is read against
	 * a deadline, and at the deadline the tool is killed.
	 */
	deadline = rcv_util_usec() + timeout * 1000000u;
	pl.fd = pfd[0];
	pl.events = POLLIN;
	for (;;) {
		now = rcv_util_usec();
		if (now >= deadline) {
			rcv_cfg_kill(pid);
			killed = 1;
			break;
		}
		wait_ms = deadline - now > 1000000u ? 1000 :
		    (int)((deadline - now + 999) / 1000);
		n = poll(&pl, 1, wait_ms);
		if (n == -1 && errno != EINTR) {
			rs_error("poll for %s: %s", argv[0], strerror(errno));
			rcv_cfg_kill(pid);
			killed = 1;
			break;
		}
		if (n <= 0)
			continue;
		if (got < outsize - 1)
			n = read(pfd[0], out + got, outsize - 1 - got);
		else
			n = read(pfd[0], drop, sizeof(drop));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < outsize - 1)
			got += (size_t)n;
	}
	out[got] = '\0';
	*outlen = got;
	/* Output closed: the exit follows, or the deadline still holds. */
	while (!killed) {
		n = waitpid(pid, status, WNOHANG);
		if (n == pid)
			break;
		if (n == -1 && errno != EINTR) {
			rs_error("wait for %s: %s", argv[0], strerror(errno));
			goto out;
		}
		if (rcv_util_usec() >= deadline) {
			rcv_cfg_kill(pid);
			killed = 1;
			break;
		}
		poll(NULL, 0, 10);
	}
	if (killed) {
		while (waitpid(pid, status, 0) == -1 && errno == EINTR)
			;
		rs_error("run %s: no result after %" PRIu64 " seconds "
		    "(postmap_timeout = %" PRIu64 "s); killed it", argv[0],
		    timeout, timeout);
		r = RS_ERR_LIMIT;
		goto out;
	}
	r = RS_OK;
 out:
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	return r;
}

/* postconf [-c DIR] -h NAME: the raw (unexpanded) value, one line. */
static int
rcv_cfg_postconf(const struct rcv_cfg *c, const char *name, char **val)
{
	const char *argv[6];
	char *out = NULL;
	size_t n = 0, len;
	int r = RS_ERR_SYSTEM, status;

	*val = NULL;
	argv[n++] = c->postconf;
	if (c->postfix_config != NULL) {
		argv[n++] = "-c";
		argv[n++] = c->postfix_config;
	}
	argv[n++] = "-h";
	argv[n++] = name;
	argv[n] = NULL;
	if ((out = malloc(RS_MAX_POSTCONF_OUT)) == NULL)
		return RS_ERR_NOMEM;
	if (rcv_cfg_exec_capture(argv, 0, c->postmap_timeout, out,
	    RS_MAX_POSTCONF_OUT, &len, &status) != RS_OK)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rs_error("run %s -h %s: failed (status %d); set %s in %s",
		    c->postconf, name, status, name, c->path);
		goto out;
	}
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	if (strlen(out) != len) {
		rs_error("run %s -h %s: NUL in output", c->postconf, name);
		goto out;
	}
	*val = out;
	out = NULL;
	r = RS_OK;
 out:
	free(out);
	return r;
}

static int
rcv_cfg_str(const struct cfg_section *s, const char *key, const char *def,
    char **out)
{
	const char *v = cfg_get(s, key);

	*out = NULL;
	if (v == NULL)
		v = def;
	if (v == NULL)
		return RS_OK;
	if ((*out = strdup(v)) == NULL)
		return RS_ERR_NOMEM;
	return RS_OK;
}

static int
rcv_cfg_join(const char *dir, const char *name, char **out)
{
	size_t n = strlen(dir) + strlen(name) + 2;

	if ((*out = malloc(n)) == NULL)
		return RS_ERR_NOMEM;
	return rcv_util_path(*out, n, dir, name);
}

static int
rcv_cfg_abs(const struct rcv_cfg *c, const char *key, const char *v)
{
	if (v != NULL && v[0] != '/') {
		rs_error("config %s: %s must be an absolute path", c->path,
		    key);
		return RS_ERR_SYNTAX;
	}
	return RS_OK;
}

/*
 * Split a domain list, check every word, sort and drop duplicates.
 * what names the source for the log.
 */
static int
rcv_cfg_domains(const char *path, const char *what, const char *value,
    char ***out, size_t *nout)
{
	char **w = NULL, **mine = NULL, *tmp = NULL, *p;
	const char *why;
	size_t n = 0, i, j = 0;
	int r;

	*out = NULL;
	*nout = 0;
	if ((tmp = strdup(value)) == NULL)
		return RS_ERR_NOMEM;
	for (p = tmp; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if ((r = cfg_words(tmp, &w, &n)) != RS_OK) {
		rs_error("config %s: %s: cannot split into words", path, what);
		goto out;
	}
	if (n > RS_MAX_DOMAINS) {
		rs_error("config %s: %s: more than %d domains", path, what,
		    RS_MAX_DOMAINS);
		r = RS_ERR_SYNTAX;
		goto out;
	}
	for (i = 0; i < n; i++) {
		for (p = w[i]; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (!bundle_domain_ok(w[i], strlen(w[i]), BUNDLE_VERSION,
		    &why)) {
			rs_error("config %s: %s: domain '%s': %s", path, what,
			    w[i], why);
			r = RS_ERR_SYNTAX;
			goto out;
		}
	}
	if (n > 1)
		qsort(w, n, sizeof(*w), rcv_cfg_strcmp);
	/* Own copies: cfg_words' memory is released by cfg_words_free. */
	r = RS_ERR_NOMEM;
	if ((mine = calloc(n + 1, sizeof(*mine))) == NULL)
		goto out;
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && strcmp(mine[j - 1], w[i]) == 0)
			continue;
		if ((mine[j] = strdup(w[i])) == NULL)
			goto out;
		j++;
	}
	*out = mine;
	*nout = j;
	mine = NULL;
	r = RS_OK;
 out:
	if (mine != NULL)
		rcv_util_words_free(mine, j);
	if (w != NULL)
		cfg_words_free(w, n);
	free(tmp);
	return r;
}

static int
rcv_cfg_relay_domains(struct rcv_cfg *c, const struct cfg_section *s)
{
	const char *v = cfg_get(s, "relay_domains");
	char *pc = NULL;
	int r;

	if (v != NULL && strcmp(v, "any") == 0) {
		/* An explicit choice, said at every start. */
		c->relay_any = 1;
		rs_info("config %s: relay_domains = any: each agent's list "
		    "decides which domains the map holds, within its "
		    "[signer] domains", c->path);
		return RS_OK;
	}
	if (v == NULL) {
		if ((r = rcv_cfg_postconf(c, "relay_domains", &pc)) != RS_OK)
			return r;
		/*
		 * Postfix expands $parameters and reads type:table and /file
		 * entries; the receiver does neither, because guessing wrong
		 * would put addresses into (or keep them out of) the map.
		 */
		if (strpbrk(pc, "$/:{}") != NULL) {
			rs_error("config %s: postconf relay_domains is '%s', "
			    "which refers to other parameters, files or "
			    "tables; set relay_domains in [receiver] "
			    "explicitly (or 'any', to take the agents' "
			    "domains, within each [signer]'s)", c->path, pc);
			free(pc);
			return RS_ERR_SYNTAX;
		}
		v = pc;
	}
	r = rcv_cfg_domains(c->path, "relay_domains", v, &c->relay_domains,
	    &c->nrelay);
	if (r == RS_OK && c->nrelay == 0) {
		rs_error("config %s: relay_domains is empty; set relay_domains "
		    "in [receiver] (the domains the map may contain)", c->path);
		r = RS_ERR_SYNTAX;
	}
	free(pc);
	return r;
}

static int
rcv_cfg_signers(struct rcv_cfg *c, const struct cfg *cf)
{
	const struct cfg_section *s;
	const char *name, *v, *bad;
	size_t n, i, k;
	int r;

	n = cfg_count(cf, "signer");
	if (n == 0)
		return RS_OK;
	if ((c->signers = calloc(n, sizeof(*c->signers))) == NULL)
		return RS_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		s = cfg_section(cf, "signer", i);
		name = cfg_section_name(s);
		if (cfg_check_keys(s, rcv_cfg_signer_keys, &bad) != RS_OK) {
			rs_error("config %s line %zu: unknown key '%s' in "
			    "[signer %s]", c->path, cfg_key_line(s, bad), bad,
			    name);
			return RS_ERR_SYNTAX;
		}
		if (!bundle_agent_id_ok(name)) {
			rs_error("config %s line %zu: [signer %s]: not a "
			    "valid agent id", c->path, cfg_section_line(s),
			    name);
			return RS_ERR_SYNTAX;
		}
		for (k = 0; k < i; k++)
			if (strcmp(c->signers[k].name, name) == 0) {
				rs_error("config %s line %zu: [signer %s] "
				    "appears twice", c->path,
				    cfg_section_line(s), name);
				return RS_ERR_SYNTAX;
			}
		snprintf(c->signers[i].name, sizeof(c->signers[i].name), "%s",
		    name);
		c->nsigners = i + 1;
		if ((v = cfg_get(s, "domains")) == NULL)
			continue;
		r = rcv_cfg_domains(c->path, "signer domains", v,
		    &c->signers[i].domains, &c->signers[i].ndomains);
		if (r != RS_OK)
			return r;
		if (c->signers[i].ndomains == 0) {
			rs_error("config %s line %zu: [signer %s] domains is "
			    "empty", c->path, cfg_key_line(s, "domains"), name);
			return RS_ERR_SYNTAX;
		}
	}
	return RS_OK;
}

const struct rcv_signer *
rcv_cfg_signer(const struct rcv_cfg *c, const char *agent)
{
	size_t i;

	for (i = 0; i < c->nsigners; i++)
		if (strcmp(c->signers[i].name, agent) == 0)
			return &c->signers[i];
	return NULL;
}

/* Read and parse the file; check its sections and [receiver]'s keys. */
static int
rcv_cfg_parse(const struct rcv_cfg *c, struct cfg **cf)
{
	const struct cfg_section *s;
	const char *why = NULL, *bad = NULL;
	char *text = NULL;
	size_t len, errline = 0;
	int r;

	*cf = NULL;
	r = rcv_util_read_admin(c->path, RS_MAX_CONFIG_BYTES, &text, &len);
	if (r == RS_ERR_NOTFOUND)
		rs_error("read config %s: no such file", c->path);
	if (r != RS_OK)
		return RS_ERR_SYNTAX;
	r = cfg_parse(text, len, cf, &errline, &why);
	free(text);
	if (r != RS_OK) {
		rs_error("config %s line %zu: %s", c->path, errline,
		    why != NULL ? why : rs_err_str(r));
		return RS_ERR_SYNTAX;
	}
	if (cfg_check_sections(*cf, rcv_cfg_sections, &bad) != RS_OK) {
		rs_error("config %s: unknown section [%s]", c->path, bad);
		return RS_ERR_SYNTAX;
	}
	if (cfg_count(*cf, "receiver") > 1) {
		rs_error("config %s: more than one [receiver] section",
		    c->path);
		return RS_ERR_SYNTAX;
	}
	s = cfg_section(*cf, "receiver", 0);
	if (s != NULL && cfg_check_keys(s, rcv_cfg_receiver_keys, &bad) !=
	    RS_OK) {
		rs_error("config %s line %zu: unknown key '%s' in [receiver]",
		    c->path, cfg_key_line(s, bad), bad);
		return RS_ERR_SYNTAX;
	}
	return RS_OK;
}

/* Every path of [receiver], with its default; each must be absolute. */
static int
rcv_cfg_paths(struct rcv_cfg *c, const struct cfg_section *s)
{
	int r;

	if ((r = rcv_cfg_str(s, "spool_dir", "/var/spool/rcptsync/incoming",
	    &c->spool_dir)) != RS_OK ||
	    (r = rcv_cfg_str(s, "status_file",
	    "/var/spool/rcptsync/status/status.json", &c->status_file)) !=
	    RS_OK ||
	    (r = rcv_cfg_str(s, "state_dir", "/var/lib/rcptsync",
	    &c->state_dir)) != RS_OK ||
	    (r = rcv_cfg_str(s, "history_dir", NULL, &c->history_dir)) !=
	    RS_OK ||
	    (r = rcv_cfg_str(s, "quarantine_dir", NULL,
	    &c->quarantine_dir)) != RS_OK ||
	    (r = rcv_cfg_str(s, "allowed_signers",
	    "/etc/rcptsync/allowed_signers", &c->allowed_signers)) != RS_OK ||
	    (r = rcv_cfg_str(s, "map", "/etc/postfix/relay_recipients",
	    &c->map)) != RS_OK ||
	    (r = rcv_cfg_str(s, "postmap", "/usr/sbin/postmap",
	    &c->postmap)) != RS_OK ||
	    (r = rcv_cfg_str(s, "postconf", "/usr/sbin/postconf",
	    &c->postconf)) != RS_OK ||
	    (r = rcv_cfg_str(s, "postfix_config", NULL,
	    &c->postfix_config)) != RS_OK ||
	    (r = rcv_cfg_str(s, "relay_domains_map", NULL,
	    &c->relay_domains_map)) != RS_OK ||
	    (r = rcv_cfg_str(s, "static_file", NULL, &c->static_file)) !=
	    RS_OK ||
	    (r = rcv_cfg_str(s, "metrics_file", NULL, &c->metrics_file)) !=
	    RS_OK ||
	    (r = rcv_cfg_str(s, "user", NULL, &c->user)) != RS_OK)
		return r;
	if (c->history_dir == NULL &&
	    (r = rcv_cfg_join(c->state_dir, "history", &c->history_dir)) !=
	    RS_OK)
		return r;
	if (c->quarantine_dir == NULL &&
	    (r = rcv_cfg_join(c->state_dir, "quarantine",
	    &c->quarantine_dir)) != RS_OK)
		return r;
	if ((r = rcv_cfg_join(c->state_dir, "work", &c->work_dir)) != RS_OK)
		return r;
	if (rcv_cfg_abs(c, "spool_dir", c->spool_dir) != RS_OK ||
	    rcv_cfg_abs(c, "status_file", c->status_file) != RS_OK ||
	    rcv_cfg_abs(c, "state_dir", c->state_dir) != RS_OK ||
	    rcv_cfg_abs(c, "history_dir", c->history_dir) != RS_OK ||
	    rcv_cfg_abs(c, "quarantine_dir", c->quarantine_dir) != RS_OK ||
	    rcv_cfg_abs(c, "allowed_signers", c->allowed_signers) != RS_OK ||
	    rcv_cfg_abs(c, "map", c->map) != RS_OK ||
	    rcv_cfg_abs(c, "postmap", c->postmap) != RS_OK ||
	    rcv_cfg_abs(c, "postconf", c->postconf) != RS_OK ||
	    rcv_cfg_abs(c, "postfix_config", c->postfix_config) != RS_OK ||
	    rcv_cfg_abs(c, "static_file", c->static_file) != RS_OK ||
	    rcv_cfg_abs(c, "relay_domains_map", c->relay_domains_map) !=
	    RS_OK ||
	    rcv_cfg_abs(c, "metrics_file", c->metrics_file) != RS_OK)
		return RS_ERR_SYNTAX;
	return RS_OK;
}

/* The numbers of [receiver]: history, sizes, durations, the shrink guard. */
static int
rcv_cfg_limits(struct rcv_cfg *c, const struct cfg_section *s)
{
	unsigned pct;

	if (cfg_uint(s, "history", 10, 1, rcv_cfg_max_history,
	    &c->history) != RS_OK ||
	    cfg_size(s, "max_bundle_size", RS_DEF_BUNDLE_BYTES,
	    &c->max_bundle) != RS_OK ||
	    cfg_size(s, "max_list_size", RS_DEF_LIST_BYTES,
	    &c->max_list) != RS_OK ||
	    cfg_uint(s, "max_entries", RS_DEF_ENTRIES, 1, UINT64_MAX / 2,
	    &c->max_entries) != RS_OK ||
	    cfg_duration(s, "stale_warning", 3 * 3600,
	    &c->stale_warning) != RS_OK ||
	    cfg_duration(s, "stale_critical", 24 * 3600,
	    &c->stale_critical) != RS_OK ||
	    cfg_duration(s, "postmap_timeout", RS_DEF_POSTMAP_TIMEOUT,
	    &c->postmap_timeout) != RS_OK ||
	    cfg_percent(s, "shrink_threshold", RS_DEF_SHRINK_PCT, &pct) !=
	    RS_OK) {
		rs_error("config %s: a value in [receiver] is invalid "
		    "(history, sizes, max_entries, durations, "
		    "postmap_timeout or shrink_threshold)", c->path);
		return RS_ERR_SYNTAX;
	}
	c->shrink_pct = pct;
	/* Seconds are allowed (tests use them); 0 would always alarm. */
	if (c->stale_warning == 0 || c->stale_critical < c->stale_warning) {
		rs_error("config %s: stale_warning must be at least 1s and "
		    "stale_critical at least stale_warning", c->path);
		return RS_ERR_SYNTAX;
	}
	if (c->postmap_timeout == 0 || c->postmap_timeout > 86400) {
		rs_error("config %s: postmap_timeout = %" PRIu64 "s: must be "
		    "from 1s to 24h", c->path, c->postmap_timeout);
		return RS_ERR_SYNTAX;
	}
	if (c->max_bundle == 0 || c->max_list == 0) {
		rs_error("config %s: max_bundle_size and max_list_size must "
		    "not be 0", c->path);
		return RS_ERR_SYNTAX;
	}
	return RS_OK;
}

/* map_type: explicit, or Postfix's default_database_type; one we know. */
static int
rcv_cfg_map_type(struct rcv_cfg *c, const struct cfg_section *s)
{
	const char *const *t;
	int r;

	if ((r = rcv_cfg_str(s, "map_type", NULL, &c->map_type)) != RS_OK)
		return r;
	if (c->map_type == NULL &&
	    (r = rcv_cfg_postconf(c, "default_database_type",
	    &c->map_type)) != RS_OK)
		return r;
	for (t = rcv_cfg_map_types; *t != NULL; t++)
		if (strcmp(*t, c->map_type) == 0)
			return RS_OK;
	rs_error("config %s: map_type '%s' is not supported (hash, "
	    "btree, cdb, lmdb)", c->path, c->map_type);
	return RS_ERR_SYNTAX;
}

int
rcv_cfg_load(const char *path, struct rcv_cfg *c)
{
	struct cfg *cf = NULL;
	const struct cfg_section *s;
	int r;

	memset(c, 0, sizeof(*c));
	if ((c->path = strdup(path)) == NULL)
		return RS_ERR_NOMEM;
	if ((r = rcv_cfg_parse(c, &cf)) != RS_OK)
		goto out;
	s = cfg_section(cf, "receiver", 0);
	if ((r = rcv_cfg_paths(c, s)) != RS_OK ||
	    (r = rcv_cfg_limits(c, s)) != RS_OK ||
	    (r = rcv_cfg_map_type(c, s)) != RS_OK ||
	    (r = rcv_cfg_relay_domains(c, s)) != RS_OK ||
	    (r = rcv_cfg_signers(c, cf)) != RS_OK)
		goto out;
 out:
	cfg_free(cf);
	return r;
}

void
rcv_cfg_free(struct rcv_cfg *c)
{
	size_t i;

	free(c->path);
	free(c->spool_dir);
	free(c->status_file);
	free(c->state_dir);
	free(c->history_dir);
	free(c->quarantine_dir);
	free(c->work_dir);
	free(c->allowed_signers);
	free(c->map);
	free(c->map_type);
	free(c->postmap);
	free(c->postconf);
	free(c->postfix_config);
	free(c->static_file);
	free(c->relay_domains_map);
	free(c->metrics_file);
	free(c->user);
	rcv_util_words_free(c->relay_domains, c->nrelay);
	for (i = 0; i < c->nsigners; i++)
		rcv_util_words_free(c->signers[i].domains,
		    c->signers[i].ndomains);
	free(c->signers);
	memset(c, 0, sizeof(*c));
}

int
rcv_cfg_signers_load(const struct rcv_cfg *c, struct signers **out)
{
	const char *why;
	char *text = NULL;
	size_t len, line, i;
	int r;

	*out = NULL;
	r = rcv_util_read_admin(c->allowed_signers, RS_MAX_SIGNERS_BYTES,
	    &text, &len);
	if (r == RS_ERR_NOTFOUND)
		rs_error("read %s: no such file", c->allowed_signers);
	if (r != RS_OK)
		return RS_ERR_SYNTAX;
	r = signers_parse(text, len, out);
	if (r != RS_OK) {
		rs_error("parse %s: %s", c->allowed_signers, rs_err_str(r));
		r = RS_ERR_SYNTAX;
	}
	/* A line that cannot be used is left out; the others keep working. */
	for (i = 0; (why = signers_bad(*out, i, &line)) != NULL; i++)
		rs_error("parse %s line %zu: %s (line ignored)",
		    c->allowed_signers, line, why);
	if (signers_nbad(*out) > i)
		rs_error("parse %s: %zu more lines ignored", c->allowed_signers,
		    signers_nbad(*out) - i);
	free(text);
	return r;
}
