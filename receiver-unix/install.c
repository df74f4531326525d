/*
 * install.c - build the Postfix relay recipient map and put it in place
 * atomically.
 *
 * API:        rcv_inst_map, rcv_inst_recover, rcv_inst_static_check,
 *             rcv_inst_table_path.
 * Ownership:  nothing is returned to the caller but counts.
 * Errors:     RS_ERR_SYSTEM (logged) for any local failure: write error,
 *             disk full, postmap failure, rename.  Then MAP.new and its
 *             table are removed and the live map and table are untouched.
 *             RS_ERR_SYNTAX for an invalid static file (logged with the
 *             line).
 *
 * The map source MAP.new is the k-way merge of every agent's accepted list
 * (STATE/AGENT.list, plain sorted text; the agent being installed comes
 * from its new list) plus the admin's static additions, which override a
 * list entry with the same key: "KEY OK" adds KEY, "KEY 550 ..." removes
 * it (Postfix ignores the value in relay_recipient_maps, so leaving the
 * key out is the only way to refuse it there).  Memory stays flat: one
 * line per input.
 *
 * Order, and why:
 *   1. write MAP.new, fsync: the source is durable before the table.
 *   2. postmap TYPE:MAP.new: never on the live name, because postmap
 *      rewrites hash and btree tables in place (a reader, or a crash, could
 *      see a half-built table).
 *   3. fsync the built table and write the journal STATE/install.pending
 *      naming it (device and inode) with what it installs.
 *   4. rename the table over the live table: the commit point.  Postfix's
 *      dict_changed check notices the old inode's link count dropped to 0
 *      and re-opens, so no reload is needed.
 *   5. rcv_inst_finish: MAP.new over MAP, AGENT.list.new over AGENT.list
 *      (or, to retire, AGENT.list and AGENT.state removed), the state,
 *      map.entries, and last the journal.
 * Two renames cannot be one, so a kill between 4 and 5 leaves the new
 * table beside the old source and state.  While the live table is the
 * journal's, rcv_st_load reports the journal's values (status matches
 * the table at every instant), and the next run's rcv_inst_recover
 * finishes step 5; a journal whose table never went live is dropped.
 * rcv_inst_map with dry set stops after the merge and only counts.
 *
 * Trust: the list files are the receiver's own (validated on the way in);
 * they are still re-checked line by line and filtered by the current
 * relay_domains and [signer] domains, so a configuration change takes
 * effect at the next install.  postmap runs by absolute path, no shell.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bundle.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"


struct rcv_inst_static {
	char	*key;
	char	*val;
};

struct rcv_inst_src {
	FILE		*fp;
	char		 path[4096];
	const struct rcv_signer *signer;
	char		 line[RS_MAX_ADDR_LEN + 2];
	size_t		 len;
	int		 eof;
	uint64_t	 lineno;
};

int
rcv_inst_table_path(const struct rcv_cfg *c, const char *src, char *out,
    size_t outsize)
{
	const char *ext;
	int n;

	if (strcmp(c->map_type, "cdb") == 0)
		ext = ".cdb";
	else if (strcmp(c->map_type, "lmdb") == 0)
		ext = ".lmdb";
	else
		ext = ".db";
	n = snprintf(out, outsize, "%s%s", src, ext);
	return n < 0 || (size_t)n >= outsize ? RS_ERR_LIMIT : RS_OK;
}

/* An SMTP reply for the map's right-hand side: "550 5.1.1 text". */
static int
rcv_inst_reply_ok(const char *v)
{
	const char *p = v;
	int i;

	if (strcmp(v, "OK") == 0)
		return 1;
	if ((p[0] != '4' && p[0] != '5') || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return 0;
	p += 3;
	if (*p == '\0')
		return 1;
	if (*p++ != ' ')
		return 0;
	/* Optional enhanced status code, class equal to the reply's. */
	if (p[0] == v[0] && p[1] == '.') {
		p += 2;
		for (i = 0; i < 3 && *p >= '0' && *p <= '9'; i++)
			p++;
		if (i == 0 || *p++ != '.')
			return 0;
		for (i = 0; i < 3 && *p >= '0' && *p <= '9'; i++)
			p++;
		if (i == 0 || (*p != ' ' && *p != '\0'))
			return 0;
	}
	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	return 1;
}

static int
rcv_inst_static_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rcv_inst_static *)a)->key,
	    ((const struct rcv_inst_static *)b)->key);
}

static void
rcv_inst_static_free(struct rcv_inst_static *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++) {
		free(v[i].key);
		free(v[i].val);
	}
	free(v);
}

/* Read, validate and sort the static additions (a small admin file). */
static int
rcv_inst_static_load(const struct rcv_cfg *c, struct rcv_inst_static **out,
    size_t *nout)
{
	struct rcv_inst_static *v = NULL;
	char *text = NULL, *line, *next, *sp, *val;
	const char *why = "";
	size_t len, n = 0, lineno = 0, i;
	int r;

	*out = NULL;
	*nout = 0;
	if (c->static_file == NULL)
		return RS_OK;
	r = rcv_util_read_admin(c->static_file, (size_t)RS_MAX_STATIC_LINES *
	    RS_MAX_STATIC_LINE, &text, &len);
	if (r == RS_ERR_NOTFOUND) {
		rs_error("read static_file %s: no such file",
		    c->static_file);
		return RS_ERR_SYNTAX;
	}
	if (r != RS_OK)
		return r == RS_ERR_SYSTEM ? r : RS_ERR_SYNTAX;
	r = RS_ERR_SYNTAX;
	if (strlen(text) != len) {
		why = "NUL byte in file";
		goto bad;
	}
	if ((v = calloc(RS_MAX_STATIC_LINES, sizeof(*v))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	for (line = text; *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (strlen(line) >= RS_MAX_STATIC_LINE) {
			why = "line too long";
			goto bad;
		}
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if ((sp = strpbrk(line, " \t")) == NULL) {
			why = "expected: address value";
			goto bad;
		}
		*sp = '\0';
		for (val = sp + 1; *val == ' ' || *val == '\t'; val++)
			;
		for (sp = val + strlen(val); sp > val && (sp[-1] == ' ' ||
		    sp[-1] == '\t' || sp[-1] == '\r'); sp--)
			sp[-1] = '\0';
		if (line[0] == '@') {
			if (addr_check_domain(line + 1, strlen(line + 1),
			    &why) != RS_OK)
				goto bad;
		} else if (addr_check(line, strlen(line), &why) != RS_OK)
			goto bad;
		if (!rcv_inst_reply_ok(val)) {
			why = "value must be OK or an SMTP reply such as "
			    "\"550 5.1.1 text\"";
			goto bad;
		}
		if (n >= RS_MAX_STATIC_LINES) {
			why = "too many entries";
			goto bad;
		}
		if ((v[n].key = strdup(line)) == NULL ||
		    (v[n].val = strdup(val)) == NULL) {
			n++;
			r = RS_ERR_NOMEM;
			goto out;
		}
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), rcv_inst_static_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1].key, v[i].key) == 0) {
			rs_error("read static_file %s: '%s' appears twice",
			    c->static_file, v[i].key);
			goto out;
		}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	r = RS_OK;
	goto out;
 bad:
	rs_error("read static_file %s line %zu: %s", c->static_file, lineno,
	    why);
 out:
	rcv_inst_static_free(v, n);
	free(text);
	return r;
}

int
rcv_inst_static_check(const struct rcv_cfg *c, size_t *n)
{
	struct rcv_inst_static *v = NULL;
	int r;

	r = rcv_inst_static_load(c, &v, n);
	rcv_inst_static_free(v, *n);
	return r;
}

/*
 * The sources are the receiver's own lists, each written only after all
 * of its lines passed addr_check (verify.c); checking them all again cost
 * a fifth of an install (docs/BENCH.md, B2).  What the map source needs to
 * parse still holds or the line is refused: one token of printable ASCII
 * with an '@' before a non-empty domain; the local part is empty only in
 * a relay domain's "@domain" key (verify.c).  Returns the domain, or NULL.
 */
static const char *
rcv_inst_line_dom(const char *l, size_t n, size_t *dlen)
{
	const char *dom;
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)l[i] <= 0x20 || (unsigned char)l[i] >= 0x7f)
			return NULL;
	if (n > 1 && l[0] == '@') {
		*dlen = n - 1;
		return memchr(l + 1, '@', n - 1) == NULL ? l + 1 : NULL;
	}
	dom = addr_domain(l, n, dlen);
	if (dom == NULL || dom == l + 1 || *dlen == 0)
		return NULL;
	return dom;
}

/* Advance a source to its next line that belongs in the map. */
static int
rcv_inst_next(const struct rcv_cfg *c, struct rcv_inst_src *s)
{
	const char *dom;
	size_t dlen;

	for (;;) {
		if (fgets(s->line, sizeof(s->line), s->fp) == NULL) {
			if (ferror(s->fp)) {
				rs_error("read %s: %s", s->path,
				    strerror(errno));
				return RS_ERR_SYSTEM;
			}
			s->eof = 1;
			return RS_OK;
		}
		s->lineno++;
		s->len = strlen(s->line);
		if (s->len == 0 || s->line[s->len - 1] != '\n') {
			rs_error("read %s line %" PRIu64 ": line too long or "
			    "unterminated", s->path, s->lineno);
			return RS_ERR_FORMAT;
		}
		s->line[--s->len] = '\0';
		if ((dom = rcv_inst_line_dom(s->line, s->len, &dlen)) ==
		    NULL) {
			rs_error("read %s line %" PRIu64 ": not an address "
			    "(damaged state file?)", s->path, s->lineno);
			return RS_ERR_FORMAT;
		}
		if (!rcv_cfg_allows(c, s->signer, dom, dlen))
			continue;
		return RS_OK;
	}
}

static int
rcv_inst_put(FILE *out, const char *key, const char *val)
{
	if (fputs(key, out) == EOF || putc('\t', out) == EOF ||
	    fputs(val, out) == EOF || putc('\n', out) == EOF)
		return RS_ERR_SYSTEM;
	return RS_OK;
}

/* The merge: every source is sorted; emit each key once, static wins. */
static int
rcv_inst_merge(const struct rcv_cfg *c, struct rcv_inst_src *src, size_t k,
    const struct rcv_inst_static *st, size_t nst, FILE *out,
    struct rcv_rmap *doms, uint64_t *entries)
{
	char cur[RS_MAX_STATIC_LINE];
	const char *key, *val;
	size_t i, si = 0;
	int r;

	*entries = 0;
	for (i = 0; i < k; i++)
		if ((r = rcv_inst_next(c, &src[i])) != RS_OK)
			return r;
	for (;;) {
		key = NULL;
		for (i = 0; i < k; i++)
			if (!src[i].eof && (key == NULL ||
			    strcmp(src[i].line, key) < 0))
				key = src[i].line;
		val = "OK";
		if (si < nst && (key == NULL || strcmp(st[si].key, key) <= 0)) {
			key = st[si].key;
			val = st[si].val;
			si++;
		}
		if (key == NULL)
			break;
		/* A copy: advancing the sources overwrites their lines. */
		snprintf(cur, sizeof(cur), "%s", key);
		/*
		 * relay_recipient_maps ignores the right-hand side: any key
		 * found is a valid recipient.  So a static reject ("550 5.1.1
		 * gone") is honoured by leaving the key out, which makes
		 * smtpd answer 550 5.1.1 even when a list still has it.
		 */
		if (strcmp(val, "OK") == 0) {
			if (rcv_inst_put(out, cur, val) != RS_OK)
				return RS_ERR_SYSTEM;
			if (c->relay_domains_map != NULL &&
			    (r = rcv_rmap_add(doms, cur)) != RS_OK)
				return r;
			(*entries)++;
		}
		for (i = 0; i < k; i++)
			if (!src[i].eof && strcmp(src[i].line, cur) == 0 &&
			    (r = rcv_inst_next(c, &src[i])) != RS_OK)
				return r;
	}
	return RS_OK;
}

int
rcv_inst_postmap(const struct rcv_cfg *c, const char *src)
{
	char arg[4200], msg[RS_MAX_POSTMAP_OUT], *p, *nl;
	const char *argv[6];
	size_t n = 0, len;
	int status, k, lines = 0;

	k = snprintf(arg, sizeof(arg), "%s:%s", c->map_type, src);
	if (k < 0 || (size_t)k >= sizeof(arg))
		return RS_ERR_LIMIT;
	argv[n++] = c->postmap;
	if (c->postfix_config != NULL) {
		argv[n++] = "-c";
		argv[n++] = c->postfix_config;
	}
	argv[n++] = arg;
	argv[n] = NULL;
	if (rcv_cfg_exec_capture(argv, 1, c->postmap_timeout, msg,
	    sizeof(msg), &len, &status) != RS_OK) {
		rs_error("postmap %s: failed; the live map is unchanged", arg);
		return RS_ERR_SYSTEM;
	}
	for (p = msg; *p != '\0'; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		if (*p == '\0')
			continue;
		if (++lines <= RS_MAX_POSTMAP_LINES)
			rs_warn("postmap %s: %s", arg, p);
	}
	if (lines > RS_MAX_POSTMAP_LINES)
		rs_warn("postmap %s: %d more lines not logged", arg,
		    lines - RS_MAX_POSTMAP_LINES);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			rs_error("postmap %s: killed by signal %d", arg,
			    WTERMSIG(status));
		else
			rs_error("postmap %s: failed with exit status %d",
			    arg, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* STATE/AGENT + suffix (".list", ".list.new", ".state"). */
static int
rcv_inst_state_file(const struct rcv_cfg *c, const char *agent,
    const char *suffix, char *out, size_t outsize)
{
	char name[RS_MAX_AGENT_ID + 16];

	snprintf(name, sizeof(name), "%s%s", agent, suffix);
	return rcv_util_path(out, outsize, c->state_dir, name);
}

/* rename, where "already renamed" (from is gone) is fine. */
static int
rcv_inst_rename(const char *from, const char *to)
{
	if (rename(from, to) == -1 && errno != ENOENT) {
		rs_error("rename %s to %s: %s", from, to, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

static int
rcv_inst_unlink(const char *path)
{
	if (unlink(path) == -1 && errno != ENOENT) {
		rs_error("remove %s: %s", path, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/*
 * Everything after the commit point, in an order a second call can repeat
 * (the recovery does): the source beside the table, the agent's list, its
 * state, the entry count, and last the journal.  Until the journal is
 * gone, rcv_st_load reports the committed values anyway.
 */
static int
rcv_inst_finish(const struct rcv_cfg *c, const struct rcv_journal *j)
{
	struct rcv_state st;
	char newsrc[4096], dir[4096], lnew[4096], lcur[4096], spath[4096];
	int r;

	if (snprintf(newsrc, sizeof(newsrc), "%s.new", c->map) >=
	    (int)sizeof(newsrc) || rcv_util_dirname(c->map, dir,
	    sizeof(dir)) != RS_OK ||
	    rcv_inst_state_file(c, j->agent, ".list.new", lnew,
	    sizeof(lnew)) != RS_OK ||
	    rcv_inst_state_file(c, j->agent, ".list", lcur, sizeof(lcur)) !=
	    RS_OK ||
	    rcv_inst_state_file(c, j->agent, ".state", spath, sizeof(spath)) !=
	    RS_OK)
		return RS_ERR_LIMIT;
	if ((r = rcv_inst_rename(newsrc, c->map)) != RS_OK ||
	    (r = rcv_util_fsync_dir(dir)) != RS_OK)
		return r;
	if (j->retire) {
		/* The list first: a state file without it is a refusal only. */
		if ((r = rcv_inst_unlink(lnew)) != RS_OK ||
		    (r = rcv_inst_unlink(lcur)) != RS_OK ||
		    (r = rcv_util_fsync_dir(c->state_dir)) != RS_OK ||
		    (r = rcv_inst_unlink(spath)) != RS_OK)
			return r;
	} else {
		if ((r = rcv_inst_rename(lnew, lcur)) != RS_OK ||
		    (r = rcv_util_fsync_dir(c->state_dir)) != RS_OK)
			return r;
		/* Loaded with the journal applied; saved, it is recorded. */
		if ((r = rcv_st_load(c, j->agent, &st)) != RS_OK)
			return r;
		rcv_st_journal_apply(j, &st);
		if ((r = rcv_st_save(c, j->agent, &st)) != RS_OK)
			return r;
	}
	if ((r = rcv_st_map_entries_save(c, j->entries)) != RS_OK)
		return r;
	return rcv_st_journal_clear(c);
}

int
rcv_inst_recover(const struct rcv_cfg *c)
{
	struct rcv_journal j;
	char newsrc[4096], newtab[4096];
	int r, committed;

	r = rcv_st_journal_load(c, &j, &committed);
	if (r == RS_ERR_NOTFOUND)
		return RS_OK;
	if (r != RS_OK)
		return RS_ERR_SYSTEM;
	if (committed) {
		rs_warn("recover %s: finishing the %s of agent %s interrupted "
		    "after the new table was installed", c->map,
		    j.retire ? "retirement" : "install", j.agent);
		return rcv_inst_finish(c, &j);
	}
	/* Killed before the commit: the old pair is intact; drop the rest. */
	rs_info("recover %s: the %s of agent %s was interrupted before the "
	    "new table was installed; the map stays as it was", c->map,
	    j.retire ? "retirement" : "install", j.agent);
	if (snprintf(newsrc, sizeof(newsrc), "%s.new", c->map) >=
	    (int)sizeof(newsrc) ||
	    rcv_inst_table_path(c, newsrc, newtab, sizeof(newtab)) != RS_OK)
		return RS_ERR_LIMIT;
	if ((r = rcv_inst_unlink(newtab)) != RS_OK ||
	    (r = rcv_inst_unlink(newsrc)) != RS_OK)
		return r;
	return rcv_st_journal_clear(c);
}

/* Open the merge's sources: every agent's list, the request's new one. */
static int
rcv_inst_sources(const struct rcv_cfg *c, const struct rcv_inst_req *q,
    char **agents, size_t nagents, struct rcv_inst_src *src, size_t *k)
{
	const char *a;
	size_t i;
	int have_self = 0;

	*k = 0;
	for (i = 0; i <= nagents; i++) {
		a = i < nagents ? agents[i] : q->agent;
		if (strcmp(a, q->agent) == 0) {
			if (have_self)
				continue;
			have_self = 1;
			if (q->retire)
				continue;
		}
		if (rcv_inst_state_file(c, a, strcmp(a, q->agent) == 0 ?
		    ".list.new" : ".list", src[*k].path,
		    sizeof(src[*k].path)) != RS_OK)
			return RS_ERR_LIMIT;
		src[*k].signer = rcv_cfg_signer(c, a);
		src[*k].fp = fopen(src[*k].path, "re");
		if (src[*k].fp == NULL) {
			if (errno == ENOENT)
				continue;	/* agent with a refusal only */
			rs_error("open %s: %s", src[*k].path, strerror(errno));
			return RS_ERR_SYSTEM;
		}
		++*k;
	}
	return RS_OK;
}

int
rcv_inst_map(const struct rcv_cfg *c, const struct rcv_inst_req *q,
    uint64_t *entries)
{
	struct rcv_inst_src *src = NULL;
	struct rcv_inst_static *st = NULL;
	struct rcv_rmap doms;
	struct rcv_journal j;
	struct stat tst;
	char **agents = NULL, newsrc[4096], newtab[4096], livetab[4096];
	size_t nagents = 0, nst = 0, k = 0, i;
	FILE *out = NULL;
	int fd, r, made = 0;

	*entries = 0;
	memset(&doms, 0, sizeof(doms));
	if (snprintf(newsrc, sizeof(newsrc), "%s.new", c->map) >=
	    (int)sizeof(newsrc) ||
	    rcv_inst_table_path(c, newsrc, newtab, sizeof(newtab)) != RS_OK ||
	    rcv_inst_table_path(c, c->map, livetab, sizeof(livetab)) !=
	    RS_OK) {
		rs_error("install %s: path too long", c->map);
		return RS_ERR_LIMIT;
	}
	if ((r = rcv_inst_static_load(c, &st, &nst)) != RS_OK)
		goto out;
	if ((r = rcv_st_agents(c, &agents, &nagents)) != RS_OK)
		goto out;
	if ((src = calloc(nagents + 1, sizeof(*src))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = rcv_inst_sources(c, q, agents, nagents, src, &k)) != RS_OK)
		goto out;

	/* Leftovers of a crashed run are ours to remove. */
	unlink(newsrc);
	unlink(newtab);
	made = 1;
	fd = open(newsrc, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1 || fchmod(fd, 0644) == -1 ||
	    (out = fdopen(fd, "w")) == NULL) {
		rs_error("create %s: %s", newsrc, strerror(errno));
		if (fd != -1)
			close(fd);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if ((r = rcv_inst_merge(c, src, k, st, nst, out, &doms, entries)) !=
	    RS_OK) {
		if (r == RS_ERR_SYSTEM && ferror(out))
			rs_error("write %s: %s", newsrc, strerror(errno));
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if (*entries == 0) {
		/* An empty map makes Postfix reject all relay mail. */
		rs_error("install %s: the merged map would be empty; refusing",
		    c->map);
		r = RS_ERR_EMPTY;
		goto out;
	}
	if (q->dry) {
		r = RS_OK;
		goto out;
	}
	if (fflush(out) == EOF || fsync(fileno(out)) == -1) {
		rs_error("write %s: %s", newsrc, strerror(errno));
		r = RS_ERR_SYSTEM;
		goto out;
	}
	r = fclose(out);
	out = NULL;
	if (r == EOF) {
		rs_error("close %s: %s", newsrc, strerror(errno));
		r = RS_ERR_SYSTEM;
		goto out;
	}
	if ((r = rcv_inst_postmap(c, newsrc)) != RS_OK ||
	    (r = rcv_util_fsync_path(newtab)) != RS_OK ||
	    (r = rcv_rmap_build(c, &doms)) != RS_OK)
		goto out;
	if (stat(newtab, &tst) == -1) {
		rs_error("stat %s: %s", newtab, strerror(errno));
		r = RS_ERR_SYSTEM;
		goto out;
	}
	/* The journal names the new table: its rename is the commit. */
	memset(&j, 0, sizeof(j));
	snprintf(j.agent, sizeof(j.agent), "%s", q->agent);
	j.retire = q->retire;
	j.seq = q->seq;
	j.count = q->count;
	if (!q->retire)
		snprintf(j.sha256, sizeof(j.sha256), "%s", q->sha256);
	j.entries = *entries;
	j.usec = rcv_util_usec() - q->t0;
	j.time = time(NULL);
	j.dev = (uint64_t)tst.st_dev;
	j.ino = (uint64_t)tst.st_ino;
	if ((r = rcv_st_journal_save(c, &j)) != RS_OK)
		goto out;
	if (rename(newtab, livetab) == -1) {
		rs_error("rename %s to %s: %s", newtab, livetab,
		    strerror(errno));
		(void)rcv_st_journal_clear(c);
		r = RS_ERR_SYSTEM;
		goto out;
	}
	/* From here the table is live; the rest follows it. */
	made = 0;
	(void)rcv_rmap_commit(c, &doms);
	if ((r = rcv_inst_finish(c, &j)) != RS_OK)
		rs_error("install %s: table installed, but recording it "
		    "failed; the next run finishes it", c->map);
 out:
	if (out != NULL)
		fclose(out);
	if (made) {
		unlink(newsrc);
		unlink(newtab);
	}
	for (i = 0; src != NULL && i < k; i++)
		fclose(src[i].fp);
	free(src);
	rcv_util_words_free(agents, nagents);
	rcv_inst_static_free(st, nst);
	rcv_rmap_free(&doms);
	return r;
}
