/*
 * postfix_check.c - check-postfix: does the Postfix on this relay use the
 * map the receiver installs?  Reads `postconf` and the map's table file,
 * never writes anything: it prints one line per finding and, for each
 * problem, the exact command that fixes it.
 *
 *   OK   NAME: what was found
 *   WARN NAME: not wrong, but worth a look
 *   FAIL NAME: the problem; fix: postconf -e 'NAME = VALUE'
 *
 * Checks, each its own function:
 *   relay_recipient_maps  names TYPE:MAP, the receiver's map_type and map
 *                         (else Postfix accepts every recipient, or reads
 *                         another table, and rcptsync does nothing);
 *   relay_domains         covers every domain the receiver accepts:
 *                         relay_domains in receiver.conf and each [signer]
 *                         domain (else that domain's mail is refused as
 *                         relaying denied, or never reaches the map);
 *   unlisted recipients   smtpd_reject_unlisted_recipient is not off, and
 *                         unknown_relay_recipient_reject_code is not a
 *                         4xx once lists have been installed for
 *                         RCV_PFC_SETTLED (rollout over);
 *   table                 the table file exists and Postfix's mail_owner
 *                         can reach and read it.
 *
 * API:        rcv_pfc_run (receiver.h); returns RCV_EXIT_OK when nothing
 *             failed (warnings allowed), RCV_EXIT_REFUSED when a check
 *             failed, RCV_EXIT_SYSTEM when postconf could not be run.
 * Ownership:  everything is allocated and released here.
 * Errors:     postconf and postmap run by absolute path without a shell;
 *             their output is read into a bounded buffer
 *             (RS_MAX_POSTCONF_OUT; the rest is dropped).
 * Trust:      main.cf and postconf's output are the admin's.  The advice
 *             quotes values for the shell, so a value holding a quote
 *             still yields a command that sets exactly that value.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"

/* Lists installed this long ago mean the rollout is over (450 -> 550). */
#define RCV_PFC_SETTLED		(7 * 24 * 3600)
/* Supplementary groups of mail_owner we look at. */
#define RCV_PFC_MAX_GROUPS	64

/* The parameters read, in this order, with and without $expansion. */
enum {
	PFC_RCPT_MAPS, PFC_RELAY_DOMAINS, PFC_REJ_UNLISTED, PFC_RELAY_CODE,
	PFC_PARENT_MATCH, PFC_MAIL_OWNER, PFC_N
};
static const char *const rcv_pfc_names[PFC_N] = {
	"relay_recipient_maps", "relay_domains",
	"smtpd_reject_unlisted_recipient",
	"unknown_relay_recipient_reject_code",
	"parent_domain_matches_subdomains", "mail_owner"
};

/* Postfix's list separators (CHARS_COMMA_SP). */
static const char rcv_pfc_sep[] = ", \t\r\n";

struct rcv_pfc {
	const struct rcv_cfg *c;
	char	*buf[2];		/* postconf output: raw, expanded */
	char	*raw[PFC_N];		/* into buf[0] */
	char	*val[PFC_N];		/* into buf[1] */
	int	 failed;
};

/* Print a value in single quotes for a POSIX shell. */
static void
rcv_pfc_quote(const char *s)
{
	putchar('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

/* "; fix: postconf [-c DIR] -e 'NAME = VALUE'" and the newline. */
static void
rcv_pfc_fix(const struct rcv_pfc *p, const char *name, const char *value)
{
	char set[RS_MAX_POSTCONF_OUT];

	fputs("; fix: postconf ", stdout);
	if (p->c->postfix_config != NULL) {
		fputs("-c ", stdout);
		rcv_pfc_quote(p->c->postfix_config);
		putchar(' ');
	}
	snprintf(set, sizeof(set), "%s = %s", name, value);
	fputs("-e ", stdout);
	rcv_pfc_quote(set);
	putchar('\n');
}

/* A problem: "FAIL NAME: WHY; fix: ...". */
static void
rcv_pfc_fail(struct rcv_pfc *p, const char *name, const char *why,
    const char *value)
{
	p->failed = 1;
	printf("FAIL %s: %s", name, why);
	rcv_pfc_fix(p, name, value);
}

/*
 * Run argv, capture stdout into a new buffer; *status as waitpid's.  The
 * tool gets postmap_timeout, like every Postfix tool the receiver runs.
 */
static int
rcv_pfc_exec(const struct rcv_cfg *c, const char *const *argv, char **out,
    int *status)
{
	size_t len;
	int r;

	if ((*out = malloc(RS_MAX_POSTCONF_OUT)) == NULL)
		return RS_ERR_NOMEM;
	r = rcv_cfg_exec_capture(argv, 0, c->postmap_timeout, *out,
	    RS_MAX_POSTCONF_OUT, &len, status);
	if (r == RS_OK && strlen(*out) != len) {
		rs_error("run %s: NUL in output", argv[0]);
		r = RS_ERR_FORMAT;
	}
	return r;
}

/*
 * postconf [-c DIR] [-x] NAME...: "NAME = VALUE" lines, one per name, in
 * any order.  Each value is pointed to from vals[] (in *buf).
 */
static int
rcv_pfc_postconf(const struct rcv_cfg *c, int expand, char **buf,
    char *vals[PFC_N])
{
	const char *argv[5 + PFC_N];
	char *line, *next, *eq;
	size_t k = 0, i;
	int r, status;

	argv[k++] = c->postconf;
	if (c->postfix_config != NULL) {
		argv[k++] = "-c";
		argv[k++] = c->postfix_config;
	}
	if (expand)
		argv[k++] = "-x";
	for (i = 0; i < PFC_N; i++)
		argv[k++] = rcv_pfc_names[i];
	argv[k] = NULL;
	if ((r = rcv_pfc_exec(c, argv, buf, &status)) != RS_OK)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rs_error("run %s%s%s: failed (status %d)", c->postconf,
		    c->postfix_config != NULL ? " -c " : "",
		    c->postfix_config != NULL ? c->postfix_config : "",
		    status);
		return RS_ERR_SYSTEM;
	}
	for (line = *buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((eq = strstr(line, " = ")) == NULL) {
			/* An empty value prints as "NAME =". */
			if ((eq = strstr(line, " =")) == NULL || eq[2] != '\0')
				continue;
		}
		*eq = '\0';
		for (i = 0; i < PFC_N; i++)
			if (strcmp(line, rcv_pfc_names[i]) == 0)
				vals[i] = eq[1] == '=' && eq[2] == ' ' ?
				    eq + 3 : eq + 2;
	}
	for (i = 0; i < PFC_N; i++)
		if (vals[i] == NULL) {
			rs_error("run %s: no value for %s", c->postconf,
			    rcv_pfc_names[i]);
			return RS_ERR_FORMAT;
		}
	return RS_OK;
}

/* Append sep and w to the list in buf (bounded; truncation is harmless
 * for advice, the value is re-checked on the next run). */
static void
rcv_pfc_append(char *buf, size_t size, const char *sep, const char *w)
{
	size_t len = strlen(buf);

	if (len < size)
		snprintf(buf + len, size - len, "%s%s", len > 0 ? sep : "", w);
}

/* Is w one of the space-separated words of list? */
static int
rcv_pfc_listed(const char *list, const char *w)
{
	const char *at = list;
	size_t n = strlen(w);

	while ((at = strstr(at, w)) != NULL) {
		if ((at == list || at[-1] == ' ') &&
		    (at[n] == ' ' || at[n] == '\0'))
			return 1;
		at += n;
	}
	return 0;
}

/*
 * Next list element of s (Postfix's separators), NUL-terminated in place;
 * *s moves past it.  NULL at the end.
 */
static char *
rcv_pfc_word(char **s)
{
	char *w;

	*s += strspn(*s, rcv_pfc_sep);
	if (**s == '\0')
		return NULL;
	w = *s;
	*s += strcspn(*s, rcv_pfc_sep);
	if (**s != '\0')
		*(*s)++ = '\0';
	return w;
}

/* Does a maps element name TYPE:PATH?  "proxy:" in front is Postfix's. */
static int
rcv_pfc_is_our_map(const struct rcv_cfg *c, const char *w, int *same_path)
{
	const char *colon;
	size_t tlen;

	if (strncmp(w, "proxy:", 6) == 0)
		w += 6;
	if ((colon = strchr(w, ':')) == NULL)
		return 0;
	tlen = (size_t)(colon - w);
	*same_path = strcmp(colon + 1, c->map) == 0;
	return *same_path && strlen(c->map_type) == tlen &&
	    strncmp(w, c->map_type, tlen) == 0;
}

static void
rcv_pfc_rcpt_maps(struct rcv_pfc *p)
{
	const struct rcv_cfg *c = p->c;
	char *copy = NULL, *s, *w, *fix = NULL, want[4200], why[4400];
	size_t fixlen;
	int found = 0, same, other_type = 0;

	snprintf(want, sizeof(want), "%s:%s", c->map_type, c->map);
	if ((copy = strdup(p->val[PFC_RCPT_MAPS])) == NULL)
		goto out;
	for (s = copy; (w = rcv_pfc_word(&s)) != NULL; ) {
		if (rcv_pfc_is_our_map(c, w, &same))
			found = 1;
		else if (same)
			other_type = 1;
	}
	if (found) {
		printf("OK   relay_recipient_maps: includes %s\n", want);
		goto out;
	}
	/* The fix: ours first, every other table kept, a wrong type of ours
	 * dropped (the receiver rebuilds only its own type). */
	fixlen = strlen(want) + strlen(p->raw[PFC_RCPT_MAPS]) + 3;
	if ((fix = malloc(fixlen)) == NULL)
		goto out;
	snprintf(fix, fixlen, "%s", want);
	free(copy);
	if ((copy = strdup(p->raw[PFC_RCPT_MAPS])) == NULL)
		goto out;
	for (s = copy; (w = rcv_pfc_word(&s)) != NULL; ) {
		if (rcv_pfc_is_our_map(c, w, &same) || same)
			continue;
		rcv_pfc_append(fix, fixlen, ", ", w);
	}
	if (p->val[PFC_RCPT_MAPS][0] == '\0')
		snprintf(why, sizeof(why), "empty, so Postfix accepts every "
		    "recipient in relay_domains; the receiver installs %s",
		    want);
	else
		snprintf(why, sizeof(why), "'%s' does not include %s%s",
		    p->val[PFC_RCPT_MAPS], want, other_type ? " (the same "
		    "file with another type: map_type in receiver.conf and "
		    "main.cf differ)" : "");
	rcv_pfc_fail(p, "relay_recipient_maps", why, fix);
 out:
	if (copy == NULL)
		rs_error("check relay_recipient_maps: out of memory");
	free(fix);
	free(copy);
}

/* Is d listed by the literal relay_domains pattern w? */
static int
rcv_pfc_domain_pattern(const char *w, const char *d, int parent)
{
	size_t wl = strlen(w), dl = strlen(d);

	if (strcasecmp(w, d) == 0)
		return 1;
	if (w[0] == '.')
		return dl > wl && strcasecmp(d + dl - wl, w) == 0;
	return parent && dl > wl + 1 && d[dl - wl - 1] == '.' &&
	    strcasecmp(d + dl - wl, w) == 0;
}

/* postmap [-c DIR] -q d TABLE: 1 found, 0 not, -1 cannot tell. */
static int
rcv_pfc_domain_table(const struct rcv_cfg *c, const char *table,
    const char *d)
{
	const char *argv[8];
	char *out = NULL;
	size_t k = 0;
	int status, r = -1;

	argv[k++] = c->postmap;
	if (c->postfix_config != NULL) {
		argv[k++] = "-c";
		argv[k++] = c->postfix_config;
	}
	argv[k++] = "-q";
	argv[k++] = d;
	argv[k++] = table;
	argv[k] = NULL;
	if (rcv_pfc_exec(c, argv, &out, &status) == RS_OK && WIFEXITED(status) &&
	    WEXITSTATUS(status) <= 1)
		r = WEXITSTATUS(status) == 0;
	free(out);
	return r;
}

/*
 * Does Postfix's relay_domains match d?  Elements in order, the first
 * match decides ("!pattern" excludes): a name, ".parent", a parent with
 * parent_domain_matches_subdomains, a type:table (asked with postmap -q).
 * Returns 1, 0, or -1 when an element could not be evaluated (a /file
 * list, a table that did not answer) before any match.
 */
static int
rcv_pfc_relay_match(struct rcv_pfc *p, const char *d, int parent)
{
	char *copy, *s, *w;
	int neg, m, unsure = 0, r = 0;

	if ((copy = strdup(p->val[PFC_RELAY_DOMAINS])) == NULL)
		return -1;
	for (s = copy; (w = rcv_pfc_word(&s)) != NULL; ) {
		neg = w[0] == '!';
		w += neg;
		if (w[0] == '/')
			m = -1;
		else if (strchr(w, ':') != NULL)
			m = rcv_pfc_domain_table(p->c, w, d);
		else
			m = rcv_pfc_domain_pattern(w, d, parent);
		if (m < 0)
			unsure = 1;
		if (m == 1) {
			r = !neg;
			break;
		}
	}
	free(copy);
	return r == 0 && unsure ? -1 : r;
}

/*
 * One domain the receiver accepts: in Postfix's relay_domains?  A
 * wildcard "*.d" stands for d and the names below it: both are asked
 * (a made-up subdomain for the latter), and the missing one is named as
 * Postfix would list it (d, or .d for its subdomains).
 */
static void
rcv_pfc_relay_one(struct rcv_pfc *p, const char *d, const char *from,
    int parent, char *missing, size_t msize, int *unsure)
{
	char sub[RS_MAX_DOMAIN_LEN + 16];
	int m;

	if (d[0] == '*' && d[1] == '.') {
		rcv_pfc_relay_one(p, d + 2, from, parent, missing, msize,
		    unsure);
		snprintf(sub, sizeof(sub), "any-subdomain.%s", d + 2);
		m = rcv_pfc_relay_match(p, sub, parent);
		if (m == 0 && !rcv_pfc_listed(missing, d + 1))
			rcv_pfc_append(missing, msize, " ", d + 1);
		if (m == -1)
			*unsure = 1;
		return;
	}
	m = rcv_pfc_relay_match(p, d, parent);

	if (m == -1) {
		printf("WARN relay_domains: cannot tell whether it covers %s "
		    "(%s): a /file or table element did not answer\n", d,
		    from);
		*unsure = 1;
	} else if (m == 0 && !rcv_pfc_listed(missing, d))
		rcv_pfc_append(missing, msize, " ", d);
}

/*
 * With relay_domains_map, Postfix's relay_domains must name that table:
 * then it follows the agents' domains, whatever they are.
 */
static void
rcv_pfc_relay_map(struct rcv_pfc *p)
{
	const struct rcv_cfg *c = p->c;
	char want[4200], fix[RS_MAX_POSTCONF_OUT], why[RS_MAX_POSTCONF_OUT];
	char *copy, *s, *w;
	int found = 0;

	snprintf(want, sizeof(want), "%s:%s", c->map_type,
	    c->relay_domains_map);
	if ((copy = strdup(p->val[PFC_RELAY_DOMAINS])) == NULL)
		return;
	for (s = copy; (w = rcv_pfc_word(&s)) != NULL && !found; )
		found = strcmp(w, want) == 0;
	free(copy);
	if (found) {
		printf("OK   relay_domains: includes %s (relay_domains_map)\n",
		    want);
		return;
	}
	snprintf(why, sizeof(why), "'%s' does not include %s, the table of "
	    "the agents' domains the receiver keeps (relay_domains_map)",
	    p->val[PFC_RELAY_DOMAINS], want);
	snprintf(fix, sizeof(fix), "%s%s%s", p->raw[PFC_RELAY_DOMAINS],
	    p->raw[PFC_RELAY_DOMAINS][0] != '\0' ? ", " : "", want);
	rcv_pfc_fail(p, "relay_domains", why, fix);
}

static void
rcv_pfc_relay_domains(struct rcv_pfc *p)
{
	const struct rcv_cfg *c = p->c;
	char missing[RS_MAX_POSTCONF_OUT / 2], from[RS_MAX_AGENT_ID + 16];
	char fix[RS_MAX_POSTCONF_OUT], why[RS_MAX_POSTCONF_OUT];
	size_t i, k;
	int parent, unsure = 0;

	if (c->relay_domains_map != NULL) {
		rcv_pfc_relay_map(p);
		return;
	}
	missing[0] = '\0';
	parent = strstr(p->val[PFC_PARENT_MATCH], "relay_domains") != NULL;
	for (i = 0; i < c->nrelay; i++)
		rcv_pfc_relay_one(p, c->relay_domains[i], "relay_domains",
		    parent, missing, sizeof(missing), &unsure);
	for (i = 0; i < c->nsigners; i++) {
		snprintf(from, sizeof(from), "[signer %s]", c->signers[i].name);
		for (k = 0; k < c->signers[i].ndomains; k++)
			rcv_pfc_relay_one(p, c->signers[i].domains[k], from,
			    parent, missing, sizeof(missing), &unsure);
	}
	if (missing[0] == '\0') {
		if (!unsure)
			printf("OK   relay_domains: covers the receiver's %zu "
			    "relay domains and every [signer] domain\n",
			    c->nrelay);
		return;
	}
	snprintf(why, sizeof(why), "does not cover %s (listed in %s), so "
	    "Postfix refuses their mail as relaying denied", missing,
	    c->path);
	snprintf(fix, sizeof(fix), "%s%s%s", p->raw[PFC_RELAY_DOMAINS],
	    p->raw[PFC_RELAY_DOMAINS][0] != '\0' ? ", " : "", missing);
	rcv_pfc_fail(p, "relay_domains", why, fix);
}

/* Age of the oldest list kept in history: how long lists have flowed. */
static int
rcv_pfc_oldest_install(const struct rcv_cfg *c, time_t *when)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	*when = 0;
	if ((d = opendir(c->history_dir)) == NULL)
		return RS_ERR_NOTFOUND;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    rcv_util_path(path, sizeof(path), c->history_dir,
		    de->d_name) != RS_OK || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (*when == 0 || st.st_mtime < *when)
			*when = st.st_mtime;
	}
	closedir(d);
	return *when != 0 ? RS_OK : RS_ERR_NOTFOUND;
}

static void
rcv_pfc_unlisted(struct rcv_pfc *p)
{
	const char *v = p->val[PFC_REJ_UNLISTED], *code = p->val[PFC_RELAY_CODE];
	char why[256];
	time_t since;

	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0) {
		rcv_pfc_fail(p, "smtpd_reject_unlisted_recipient", "is off, so "
		    "Postfix accepts recipients missing from the map at RCPT "
		    "TO and bounces them later (backscatter)", "yes");
		return;
	}
	printf("OK   smtpd_reject_unlisted_recipient: %s\n", v);
	if (code[0] != '4') {
		printf("OK   unknown_relay_recipient_reject_code: %s\n", code);
		return;
	}
	if (rcv_pfc_oldest_install(p->c, &since) == RS_OK &&
	    time(NULL) - since > RCV_PFC_SETTLED) {
		snprintf(why, sizeof(why), "is %s (rollout mode), but lists "
		    "have been installed for %lld days; senders to unknown "
		    "addresses keep retrying", code,
		    (long long)((time(NULL) - since) / 86400));
		printf("WARN unknown_relay_recipient_reject_code: %s", why);
		rcv_pfc_fix(p, "unknown_relay_recipient_reject_code", "550");
	} else
		printf("OK   unknown_relay_recipient_reject_code: %s "
		    "(rollout mode: unknown recipients are deferred)\n", code);
}

/* May (uid, groups) do `bit` (4 read, 1 search) on st? */
static int
rcv_pfc_may(const struct stat *st, uid_t uid, const gid_t *g, int ng,
    unsigned bit)
{
	int i;

	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		return (st->st_mode & (bit << 6)) != 0;
	for (i = 0; i < ng; i++)
		if (st->st_gid == g[i])
			return (st->st_mode & (bit << 3)) != 0;
	return (st->st_mode & bit) != 0;
}

static void
rcv_pfc_table(struct rcv_pfc *p)
{
	const char *owner = p->val[PFC_MAIL_OWNER];
	char table[4200], dir[4200], *slash;
	gid_t groups[RCV_PFC_MAX_GROUPS];
	struct passwd *pw;
	struct stat st;
	int ng = RCV_PFC_MAX_GROUPS;

	if (rcv_inst_table_path(p->c, p->c->map, table, sizeof(table)) !=
	    RS_OK)
		return;
	if (stat(table, &st) != 0) {
		if (errno == ENOENT)
			printf("WARN table: %s not installed yet; until the "
			    "first list is, Postfix defers mail for the relay "
			    "domains\n", table);
		else {
			p->failed = 1;
			printf("FAIL table: stat %s: %s\n", table,
			    strerror(errno));
		}
		return;
	}
	if ((pw = getpwnam(owner)) == NULL) {
		printf("WARN table: mail_owner %s is not a user here; cannot "
		    "check that Postfix may read %s\n", owner, table);
		return;
	}
	if (getgrouplist(owner, pw->pw_gid, groups, &ng) == -1)
		ng = 1;		/* more than we keep: the primary group */
	if (!rcv_pfc_may(&st, pw->pw_uid, groups, ng, 4)) {
		p->failed = 1;
		printf("FAIL table: %s is not readable by %s (mail_owner); "
		    "fix: chmod a+r %s\n", table, owner, table);
		return;
	}
	/* Every directory on the way must be searchable by mail_owner. */
	snprintf(dir, sizeof(dir), "%s", table);
	while ((slash = strrchr(dir, '/')) != NULL) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		if (stat(dir, &st) != 0 ||
		    !rcv_pfc_may(&st, pw->pw_uid, groups, ng, 1)) {
			p->failed = 1;
			printf("FAIL table: %s cannot be entered by %s "
			    "(mail_owner), so Postfix cannot open %s; fix: "
			    "chmod a+x %s\n", dir, owner, table, dir);
			return;
		}
		if (slash == dir)
			break;
	}
	printf("OK   table: %s readable by %s\n", table, owner);
}

int
rcv_pfc_run(const struct rcv_cfg *c)
{
	struct rcv_pfc p;
	int r, i;

	memset(&p, 0, sizeof(p));
	p.c = c;
	for (i = 0; i < 2; i++) {
		r = rcv_pfc_postconf(c, i, &p.buf[i], i ? p.val : p.raw);
		if (r != RS_OK) {
			printf("FAIL postconf: cannot read the Postfix "
			    "configuration (%s)\n", rs_err_str(r));
			r = RCV_EXIT_SYSTEM;
			goto out;
		}
	}
	rcv_pfc_rcpt_maps(&p);
	rcv_pfc_relay_domains(&p);
	rcv_pfc_unlisted(&p);
	rcv_pfc_table(&p);
	r = p.failed ? RCV_EXIT_REFUSED : RCV_EXIT_OK;
 out:
	free(p.buf[0]);
	free(p.buf[1]);
	return r;
}
