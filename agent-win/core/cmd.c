/*
 * cmd.c - the agent's commands (docs/HACKING.md, "rcptsync-agent"):
 * keygen, export, sync, run, check, diff; and the sync cycle itself.
 *
 * API:        agent_main (a command line), agent_run (the `run` loop, also
 *             the Windows service body).
 * Ownership:  everything is allocated and released within one command.
 * Errors:     only this layer turns RS_ERR_* into exit codes (agent.h):
 *             0 ok, 1 runtime failure, 2 usage/config, 3 own guard,
 *             4 relay refused, 5 partial.
 * Trust:      the guards live here: a list is never pushed when the export
 *             failed, when it is empty, or when it shrank by more than
 *             shrink_threshold (unless the administrator said
 *             --allow-shrink for this one run, which is logged loudly and
 *             travels in the signed bundle as the allow-shrink flag).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh2.h>

#include "accepted.h"
#include "agent.h"
#include "agent_int.h"
#include "buf.h"
#include "bundle.h"
#include "hash.h"
#include "ldapx.h"
#include "log.h"
#include "rlist.h"
#include "rs_err.h"
#include "sshkey.h"
#include "sshsig.h"
#include "sys.h"

static const char cmd_usage[] =
    "usage: rcptsync-agent [-c FILE] [-v] [-q] [-e] COMMAND [ARGS]\n"
    "commands:\n"
    "  keygen [-f FILE] [-I ID]   create an Ed25519 key, print the\n"
    "                             allowed_signers line\n"
    "  export [-o FILE]           audit export; pushes nothing\n"
    "  sync [--full] [--allow-shrink] [--relay NAME]   one cycle\n"
    "  run                        sync every interval until SIGTERM\n"
    "  check                      configuration, LDAP and relay checks\n"
    "  diff                       directory now vs. the last pushed list\n";

static const char *
cmd_why(int r)
{
	return r == RS_ERR_SYSTEM ? sys_errmsg() : rs_err_str(r);
}

int
agent_load_key(const struct agent_cfg *c, struct sshkey **out)
{
	struct rs_buf b;
	int r;

	*out = NULL;
	rs_buf_init(&b, RS_MAX_KEYFILE_BYTES);
	if ((r = sys_read_file(c->signing_key, RS_MAX_KEYFILE_BYTES, &b)) !=
	    RS_OK) {
		sys_event(SYS_EV_CONFIG, "read signing key %s: %s (create one "
		    "with rcptsync-agent keygen)", c->signing_key,
		    r == RS_ERR_NOTFOUND ? "no such file" : cmd_why(r));
		goto out;
	}
	if ((r = sshkey_load((const char *)b.data, b.len, out)) != RS_OK)
		sys_event(SYS_EV_CONFIG, "load signing key %s: %s",
		    c->signing_key, r == RS_ERR_KEY_ENCRYPTED ?
		    "has a passphrase; the agent needs an unencrypted key" :
		    rs_err_str(r));
out:
	rs_buf_free(&b);
	return r;
}

static void
cmd_summary(const struct agent_cfg *c, const struct acc_set *acc,
    const struct export_stats *st, const struct rlist *l)
{
	size_t i;

	fprintf(stderr, "export summary (%s)\n", st->server);
	for (i = 0; i < c->nbases; i++)
		fprintf(stderr, "  base:            %s\n", c->bases[i]);
	fprintf(stderr, "  filter:          %s\n", c->filter);
	fprintf(stderr, "  objects:         %llu\n",
	    (unsigned long long)st->entries);
	for (i = 0; i < st->nclasses; i++)
		fprintf(stderr, "    %-32s %llu\n", st->classes[i].name,
		    (unsigned long long)st->classes[i].n);
	if (st->other_classes > 0)
		fprintf(stderr, "    %-32s %llu\n", "(other)",
		    (unsigned long long)st->other_classes);
	fprintf(stderr, "  values:          %llu proxyAddresses\n",
	    (unsigned long long)st->values);
	fprintf(stderr, "  skipped:         %llu other types (X400, SIP, "
	    "X500, ...)\n", (unsigned long long)st->not_smtp);
	fprintf(stderr, "  skipped:         %llu invalid smtp: values (logged "
	    "with their DN)\n", (unsigned long long)st->invalid);
	fprintf(stderr, "  skipped:         %llu outside the accepted "
	    "domains\n", (unsigned long long)st->foreign);
	fprintf(stderr, "  skipped:         %llu auth-only objects "
	    "(msExchRequireAuthToSendTo)\n", (unsigned long long)st->auth_only);
	fprintf(stderr, "  skipped:         %llu duplicates\n",
	    (unsigned long long)st->dups);
	fprintf(stderr, "  addresses:       %zu\n", rlist_count(l));
	for (i = 0; i < acc_nlisted(acc); i++)
		fprintf(stderr, "    %-32s %zu\n", acc_listed_name(acc, i),
		    export_count_domain(l, acc_listed_name(acc, i)));
}

static int
cmd_export(const struct agent_cfg *c, const struct agent_opts *g, int argc,
    char **argv)
{
	struct export_stats *st = NULL;
	struct rlist *l = NULL;
	struct acc_set *acc = NULL;
	struct rs_buf b;
	const char *outfile = NULL;
	int i, r, rc = AGENT_EXIT_FAIL;

	rs_buf_init(&b, RS_DEF_LIST_BYTES);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			outfile = argv[++i];
		else {
			fputs(cmd_usage, stderr);
			rc = AGENT_EXIT_USAGE;
			goto out;
		}
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	if (export_run(c, !g->quiet && sys_isatty_stderr(), &l, &acc, st) !=
	    RS_OK)
		goto out;
	if ((r = state_list_text(l, &b)) != RS_OK) {
		rs_error("export: %s", rs_err_str(r));
		goto out;
	}
	if (outfile != NULL) {
		if ((r = sys_write_file(outfile, b.data, b.len, 0)) != RS_OK) {
			rs_error("write %s: %s", outfile, cmd_why(r));
			goto out;
		}
	} else if (fwrite(b.data, 1, b.len, stdout) != b.len ||
	    fflush(stdout) != 0) {
		rs_error("write standard output: failed");
		goto out;
	}
	if (!g->quiet)
		cmd_summary(c, acc, st, l);
	rc = AGENT_EXIT_OK;
out:
	rs_buf_free(&b);
	rlist_free(l);
	acc_free(acc);
	free(st);
	return rc;
}

static void
cmd_diff_line(void *arg, char op, const char *a, size_t len)
{
	(void)arg;
	printf("%c%.*s\n", op, (int)len, a);
}

static int
cmd_diff(const struct agent_cfg *c, const struct agent_opts *g)
{
	struct export_stats *st = NULL;
	struct rlist *now = NULL, *last = NULL;
	struct acc_set *acc = NULL;
	size_t added = 0, removed = 0;
	int r, rc = AGENT_EXIT_FAIL;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	if (export_run(c, !g->quiet && sys_isatty_stderr(), &now, &acc, st) !=
	    RS_OK)
		goto out;
	r = state_load_last(c, &last);
	if (r == RS_ERR_NOTFOUND) {
		rs_info("diff: nothing pushed yet; every address is new");
		if (rlist_new(&last) != RS_OK)
			goto out;
	} else if (r != RS_OK)
		goto out;
	rlist_diff(last, now, cmd_diff_line, NULL, &added, &removed);
	fflush(stdout);
	if (!g->quiet)
		fprintf(stderr, "diff: %zu added, %zu removed (%zu pushed last, "
		    "%zu now)\n", added, removed, rlist_count(last),
		    rlist_count(now));
	rc = AGENT_EXIT_OK;
out:
	rlist_free(now);
	rlist_free(last);
	acc_free(acc);
	free(st);
	return rc;
}

static int
cmd_check(const char *path)
{
	struct agent_cfg *c = NULL;
	struct sshkey *key = NULL;
	struct rs_buf fp;
	size_t i;
	int fails = 0;

	rs_buf_init(&fp, 256);
	if (agent_cfg_load(path, 1, &c) != RS_OK) {
		agent_check_line(0, "config", path, "see the message above");
		rs_buf_free(&fp);
		return AGENT_EXIT_USAGE;
	}
	agent_check_line(1, "config", path, NULL);
	if (state_init(c) != RS_OK) {
		agent_check_line(0, "state directory", c->state_dir,
		    "the agent needs to create and write it");
		fails++;
	} else
		agent_check_line(1, "state directory", c->state_dir, NULL);
	if (agent_load_key(c, &key) != RS_OK) {
		agent_check_line(0, "signing key", c->signing_key,
		    "rcptsync-agent keygen creates it");
		fails++;
	} else {
		sshkey_fingerprint(key, &fp);
		agent_check_line(1, "signing key", fp.len > 0 ?
		    (const char *)fp.data : c->signing_key, NULL);
	}
	fails += export_check(c);
	for (i = 0; i < c->nrelays; i++) {
		if (!sys_exists(c->relays[i].private_key)) {
			agent_check_line(0, "relay private key",
			    c->relays[i].private_key, "rcptsync-agent keygen "
			    "-f FILE creates one; put FILE.pub in the relay "
			    "account's authorized_keys");
			fails++;
			continue;
		}
		fails += push_check(c, &c->relays[i]);
	}
	sshkey_free(key);
	rs_buf_free(&fp);
	agent_cfg_free(c);
	return fails == 0 ? AGENT_EXIT_OK : AGENT_EXIT_FAIL;
}

static int
cmd_keygen(const char *path, int argc, char **argv)
{
	struct agent_cfg *c = NULL;
	struct sshkey *k = NULL;
	struct rs_buf priv, pub, line, fp;
	const char *file = NULL, *id = NULL;
	char comment[RS_MAX_AGENT_ID + 32], *pubpath = NULL;
	size_t n;
	int i, r, rc = AGENT_EXIT_FAIL;

	rs_buf_init(&priv, RS_MAX_KEYFILE_BYTES);
	rs_buf_init(&pub, 1024);
	rs_buf_init(&line, 1024);
	rs_buf_init(&fp, 256);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "-I") == 0 && i + 1 < argc)
			id = argv[++i];
		else {
			fputs(cmd_usage, stderr);
			rc = AGENT_EXIT_USAGE;
			goto out;
		}
	}
	/* The config supplies the defaults; with -f and -I it may be absent. */
	if ((file == NULL || id == NULL) &&
	    agent_cfg_load(path, 0, &c) != RS_OK) {
		rs_error("keygen: need the config for the defaults, or give "
		    "-f FILE and -I ID");
		rc = AGENT_EXIT_USAGE;
		goto out;
	}
	if (file == NULL) {
		file = c->signing_key;
		if (state_init(c) != RS_OK)
			goto out;
	}
	if (id == NULL)
		id = c->id;
	if (!bundle_agent_id_ok(id)) {
		rs_error("keygen: bad agent id \"%s\"", id);
		rc = AGENT_EXIT_USAGE;
		goto out;
	}
	if (sys_exists(file)) {
		rs_error("keygen %s: file exists; remove it first to replace "
		    "the key", file);
		goto out;
	}
	n = strlen(file);
	if ((pubpath = malloc(n + 5)) == NULL)
		goto out;
	memcpy(pubpath, file, n);
	memcpy(pubpath + n, ".pub", 5);
	snprintf(comment, sizeof(comment), "rcptsync-agent@%s", id);
	if ((r = sshkey_generate(&k)) != RS_OK ||
	    (r = sshkey_save(k, comment, &priv)) != RS_OK ||
	    (r = sshkey_publine(k, comment, &pub)) != RS_OK ||
	    (r = rs_buf_put_u8(&pub, '\n')) != RS_OK) {
		rs_error("keygen: %s", rs_err_str(r));
		goto out;
	}
	if ((r = sys_write_file(file, priv.data, priv.len, 1)) != RS_OK) {
		rs_error("write %s: %s", file, cmd_why(r));
		goto out;
	}
	if ((r = sys_write_file(pubpath, pub.data, pub.len, 0)) != RS_OK) {
		rs_error("write %s: %s", pubpath, cmd_why(r));
		goto out;
	}
	sshkey_fingerprint(k, &fp);
	/*
	 * The line for the relay's allowed_signers: principal = agent id,
	 * and the key is good for rcptsync signatures only.
	 */
	printf("%s namespaces=\"%s\" %s", id, SSHSIG_NAMESPACE,
	    (const char *)pub.data);
	fflush(stdout);
	fprintf(stderr, "keygen: wrote %s and %s (%s)\n"
	    "keygen: as the signing key, add the line above to the relay's "
	    "allowed_signers;\nkeygen: as a relay login key (private_key), "
	    "put %s in the account's authorized_keys\n", file, pubpath,
	    fp.len > 0 ? (const char *)fp.data : "", pubpath);
	rc = AGENT_EXIT_OK;
out:
	sshkey_free(k);
	rs_buf_free(&priv);
	rs_buf_free(&pub);
	rs_buf_free(&line);
	rs_buf_free(&fp);
	free(pubpath);
	agent_cfg_free(c);
	return rc;
}

static int
cmd_sync(const struct agent_cfg *c, const struct agent_opts *g, int argc,
    char **argv)
{
	struct cycle_ctx *cx = NULL;
	struct cycle_opts o;
	int i, rc;

	memset(&o, 0, sizeof(o));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--allow-shrink") == 0)
			o.allow_shrink = 1;
		else if (strcmp(argv[i], "--full") == 0)
			o.full = 1;
		else if (strcmp(argv[i], "--relay") == 0 && i + 1 < argc)
			o.relay = argv[++i];
		else {
			fputs(cmd_usage, stderr);
			return AGENT_EXIT_USAGE;
		}
	}
	o.progress = !g->quiet && sys_isatty_stderr();
	if (state_init(c) != RS_OK || cycle_ctx_new(&cx) != RS_OK)
		return AGENT_EXIT_FAIL;
	/* A one-shot sync continues from the cache the last one left. */
	rc = cycle_run(c, &o, cx, NULL);
	cycle_ctx_free(cx);
	return rc;
}

int
agent_run(const char *config_path)
{
	struct agent_cfg *c = NULL, *nc = NULL;
	struct cycle_ctx *cx = NULL;
	struct notify *nt = NULL;
	struct ldapx_tally t;
	struct cycle_opts o;
	unsigned retry = 0, delay;
	int w, rc;

	/* The Windows service comes here directly, not through agent_main. */
	if (sys_init() != RS_OK || libssh2_init(0) != 0) {
		sys_event(SYS_EV_CONFIG, "run: initialization failed");
		return AGENT_EXIT_FAIL;
	}
	if (agent_cfg_load(config_path, 1, &c) != RS_OK) {
		sys_event(SYS_EV_CONFIG, "run: configuration %s unusable; not "
		    "started", config_path);
		libssh2_exit();
		return AGENT_EXIT_USAGE;
	}
	if (state_init(c) != RS_OK || cycle_ctx_new(&cx) != RS_OK ||
	    notify_new(&nt) != RS_OK) {
		cycle_ctx_free(cx);
		agent_cfg_free(c);
		libssh2_exit();
		return AGENT_EXIT_FAIL;
	}
	memset(&o, 0, sizeof(o));
	o.scheduled = 1;
	/* Start from a full export: the cache may be older than we know. */
	o.full_first = 1;
	sys_event(SYS_EV_STARTED, "run: started (agent %s, %zu relay(s), "
	    "every %us)", c->id, c->nrelays, c->interval);
	for (;;) {
		/* A failed cycle never ends the loop: log, back off, retry. */
		rc = cycle_run(c, &o, cx, &retry);
		rs_debug("run: cycle ended with %d", rc);
		delay = retry > 0 && retry < c->interval ? retry : c->interval;
		/* sys_wait, or sooner when the directory says it changed. */
		w = notify_wait(nt, c, cycle_ctx_dirsync(cx), delay);
		if (w == 1)
			break;
		if (w == 3) {
			if (agent_cfg_load(config_path, 1, &nc) == RS_OK) {
				agent_cfg_free(c);
				c = nc;
				nc = NULL;
				cycle_ctx_reload(cx);
				notify_reset(nt);
				sys_event(SYS_EV_RELOADED, "run: configuration "
				    "%s reloaded", config_path);
			} else
				sys_event(SYS_EV_CONFIG, "run: reload of %s "
				    "failed; keeping the previous "
				    "configuration", config_path);
		}
	}
	ldapx_tally_get(&t);
	rs_info("run: since start: %" PRIu64 " LDAP requests (%" PRIu64
	    " pages, %" PRIu64 " reads, %" PRIu64 " range reads, %" PRIu64
	    " notification searches; %" PRIu64 " pages ahead abandoned), %"
	    PRIu64 " entries, %" PRIu64 " notifications",
	    ldapx_tally_requests(&t), t.pages, t.reads, t.ranges, t.notify,
	    t.abandoned, t.entries, t.notes);
	sys_event(SYS_EV_STOPPED, "run: stopped");
	notify_free(nt);
	cycle_ctx_free(cx);
	agent_cfg_free(c);
	libssh2_exit();
	return AGENT_EXIT_OK;
}

int
agent_main(int argc, char **argv)
{
	struct agent_opts g;
	struct agent_cfg *c = NULL;
	const char *cmd;
	int i, rc;

	memset(&g, 0, sizeof(g));
	g.config = sys_default_config();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			g.config = argv[++i];
		else if (strcmp(argv[i], "-v") == 0)
			g.verbose = 1;
		else if (strcmp(argv[i], "-q") == 0)
			g.quiet = 1;
		else if (strcmp(argv[i], "-e") == 0) {
			/* Log to stderr: the entry point's business. */
		}
		else if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("rcptsync-agent %s\n", RS_VERSION);
			return AGENT_EXIT_OK;
		} else {
			fputs(cmd_usage, stderr);
			return AGENT_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(cmd_usage, stderr);
		return AGENT_EXIT_USAGE;
	}
	rs_log_set_level(g.verbose ? RS_LOG_DEBUG : g.quiet ? RS_LOG_WARN :
	    RS_LOG_INFO);
	if (sys_init() != RS_OK || libssh2_init(0) != 0) {
		rs_error("rcptsync-agent: initialization failed");
		return AGENT_EXIT_FAIL;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;

	if (strcmp(cmd, "keygen") == 0)
		rc = cmd_keygen(g.config, argc, argv);
	else if (strcmp(cmd, "check") == 0)
		rc = argc == 1 ? cmd_check(g.config) : AGENT_EXIT_USAGE;
	else if (strcmp(cmd, "run") == 0)
		rc = argc == 1 ? agent_run(g.config) : AGENT_EXIT_USAGE;
	else if (strcmp(cmd, "export") == 0 || strcmp(cmd, "sync") == 0 ||
	    strcmp(cmd, "diff") == 0) {
		if (agent_cfg_load(g.config, cmd[0] != 'e', &c) != RS_OK) {
			rc = AGENT_EXIT_USAGE;
			goto out;
		}
		if (cmd[0] == 'e')
			rc = cmd_export(c, &g, argc, argv);
		else if (cmd[0] == 's')
			rc = cmd_sync(c, &g, argc, argv);
		else
			rc = argc == 1 ? cmd_diff(c, &g) : AGENT_EXIT_USAGE;
	} else {
		rs_error("rcptsync-agent: unknown command \"%s\"", cmd);
		fputs(cmd_usage, stderr);
		rc = AGENT_EXIT_USAGE;
	}
out:
	agent_cfg_free(c);
	libssh2_exit();
	return rc;
}
