/*
 * main.c - rcptsync-receiver's entry point: options, logging, commands.
 *
 *   rcptsync-receiver [-c FILE] [-v] COMMAND [ARGS]
 *     run [--inetd]             process the spool once
 *     status [--nagios]         last install, heartbeat, rejection
 *     diff AGENT [SEQ1 [SEQ2]]  added/removed between two kept versions
 *     approve FILE              re-queue a shrink-guarded bundle, once
 *     retire [--yes] AGENT      take a departed agent's list out of the map
 *     check                     configuration, signers, postmap, dirs,
 *                               and check-postfix
 *     check-postfix             main.cf uses the receiver's map
 *
 * Exit codes (run): 0 nothing pending or all installed; 1 a bundle was
 * refused; 2 usage or configuration error; 3 system failure (retry).
 * status --nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * check-postfix: 0 OK, 1 a problem (with its fix), 2 usage, 3 no postconf.
 *
 * Logging: syslog (ident rcptsync-receiver, facility mail) always; stderr
 * too when it is a terminal or with -v, but never in --inetd mode, where
 * stdout and stderr may be the connection.  Only this file decides to
 * exit.  Memory: everything is released before exit (for ASan runs).
 * Trust: the arguments are the admin's; the inetd peer only receives
 * result lines and is never read from.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "bundle.h"
#include "gz.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "signers.h"

#define RCV_DEFAULT_CONFIG	"/etc/rcptsync/receiver.conf"

static int rcv_main_stderr;

static void
rcv_main_sink(enum rs_level level, const char *line, void *arg)
{
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING,
	    LOG_ERR };
	static const char *const tag[] = { "debug: ", "", "warning: ",
	    "error: " };

	(void)arg;
	syslog(prio[level], "%s", line);
	if (rcv_main_stderr)
		fprintf(stderr, "rcptsync-receiver: %s%s\n", tag[level], line);
}

static void
rcv_main_usage(void)
{
	fprintf(stderr, "usage: rcptsync-receiver [-c FILE] [-v] COMMAND\n"
	    "  run [--inetd]\n  status [--nagios]\n"
	    "  diff AGENT [SEQ1 [SEQ2]]\n  approve FILE\n"
	    "  retire [--yes] AGENT\n  check\n"
	    "  check-postfix\n");
}

static void
rcv_main_inetd_report(void *arg, const char *line)
{
	size_t len = strlen(line), off = 0;
	ssize_t n;

	(void)arg;
	/* The peer may be gone; SIGPIPE is ignored, errors are dropped. */
	while (off < len) {
		n = write(1, line + off, len - off);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
	(void)!write(1, "\n", 1);
}

/*
 * End of an --inetd session.  Closing a socket with unread input makes the
 * kernel send a reset, which can destroy our result lines in flight; so
 * half-close, then read and drop at most RS_INETD_DRAIN bytes for at most
 * a second.  The peer's bytes are never interpreted.
 */

static void
rcv_main_inetd_close(void)
{
	struct pollfd pfd = { 0, POLLIN, 0 };
	struct stat st;
	char junk[512];
	size_t total = 0;
	ssize_t n;

	if (fstat(1, &st) == -1 || !S_ISSOCK(st.st_mode))
		return;
	(void)shutdown(1, SHUT_WR);
	if (fstat(0, &st) == -1 || !S_ISSOCK(st.st_mode))
		return;
	while (total < RS_INETD_DRAIN && poll(&pfd, 1, 1000) == 1) {
		n = read(0, junk, sizeof(junk));
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

static void
rcv_main_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		rs_info("peak RSS %ld kB", ru.ru_maxrss);
}

static int
rcv_cmd_run(const struct rcv_cfg *c, int inetd)
{
	int lock = -1, r;
	char line[64];
	char dir[4096];
	uint64_t t0 = rcv_util_usec();

	if (rcv_lock_acquire(c, &lock) != RS_OK) {
		r = RCV_EXIT_SYSTEM;
		goto out;
	}
	/* A run killed mid-write leaves temporaries; nothing else removes them. */
	rcv_util_clean_tmp(c->state_dir);
	rcv_util_clean_tmp(c->history_dir);
	rcv_util_clean_tmp(c->quarantine_dir);
	if (rcv_util_dirname(c->status_file, dir, sizeof(dir)) == RS_OK)
		rcv_util_clean_tmp(dir);
	if (c->metrics_file != NULL)
		rcv_util_clean_tmp_of(c->metrics_file);
	switch (rcv_spool_run(c, inetd ? rcv_main_inetd_report : NULL,
	    NULL)) {
	case RCV_DONE:
		r = RCV_EXIT_OK;
		break;
	case RCV_REFUSED:
		r = RCV_EXIT_REFUSED;
		break;
	case RCV_CONFIG:
		r = RCV_EXIT_USAGE;
		break;
	default:
		r = RCV_EXIT_SYSTEM;
		break;
	}
	/*
	 * After every run, whatever it did: the status file's "updated"
	 * tells the agents the receiver runs at all.
	 */
	(void)rcv_st_status_write(c);
 out:
	/*
	 * The metrics too, even without the lock (both files are replaced
	 * atomically under random temporary names, so a concurrent writer
	 * costs nothing): a run that failed is what they must show.
	 */
	(void)rcv_met_write(c, r, rcv_util_usec() - t0);
	rcv_lock_release(lock);
	if (inetd) {
		snprintf(line, sizeof(line), "done %d", r);
		rcv_main_inetd_report(NULL, line);
		rcv_main_inetd_close();
	}
	if (c->verbose)
		rcv_main_rss();
	return r;
}

static int
rcv_cmd_approve(const struct rcv_cfg *c, const char *file)
{
	int lock = -1, r;

	if (rcv_lock_acquire(c, &lock) != RS_OK)
		return RCV_EXIT_SYSTEM;
	r = rcv_spool_approve(c, file);
	rcv_lock_release(lock);
	if (r == RS_OK)
		return RCV_EXIT_OK;
	return r == RS_ERR_SYSTEM ? RCV_EXIT_SYSTEM : RCV_EXIT_USAGE;
}

static int
rcv_cmd_retire(const struct rcv_cfg *c, int argc, char **argv)
{
	int lock = -1, r, yes = argc == 2 && strcmp(argv[0], "--yes") == 0;

	if (argc != 1 + yes) {
		rcv_main_usage();
		return RCV_EXIT_USAGE;
	}
	if (rcv_lock_acquire(c, &lock) != RS_OK)
		return RCV_EXIT_SYSTEM;
	r = rcv_retire(c, argv[yes], yes);
	rcv_lock_release(lock);
	return r;
}

/* One side of a diff: a history bundle opened for streaming. */
struct rcv_diff_side {
	FILE			*fp;
	struct gz_dec		*dec;
	struct bundle_reader	*br;
	struct bundle_hdr	*hdr;
	const char		*addr;
	size_t			 len;
	int			 done;
};

static int
rcv_diff_open(const struct rcv_cfg *c, const char *agent, uint64_t seq,
    struct rcv_diff_side *s)
{
	char name[RS_MAX_BUNDLE_NAME], path[4096];
	int r;

	memset(s, 0, sizeof(*s));
	if (bundle_name(agent, seq, name, sizeof(name)) != RS_OK ||
	    rcv_util_path(path, sizeof(path), c->history_dir, name) != RS_OK)
		return RS_ERR_LIMIT;
	if ((s->fp = fopen(path, "rbe")) == NULL) {
		rs_error("open %s: %s", path, strerror(errno));
		return RS_ERR_NOTFOUND;
	}
	if ((s->hdr = calloc(1, sizeof(*s->hdr))) == NULL)
		return RS_ERR_NOMEM;
	if ((r = gz_dec_new(s->fp, c->max_list, &s->dec)) != RS_OK ||
	    (r = bundle_reader_new(s->dec, c->max_entries, &s->br)) !=
	    RS_OK || (r = bundle_read_header(s->br, s->hdr)) != RS_OK) {
		rs_error("read %s: %s", path, rs_err_str(r));
		return r;
	}
	return RS_OK;
}

static int
rcv_diff_next(struct rcv_diff_side *s)
{
	int r = bundle_next(s->br, &s->addr, &s->len);

	if (r == 0)
		s->done = 1;
	return r < 0 ? r : RS_OK;
}

static void
rcv_diff_close(struct rcv_diff_side *s)
{
	bundle_reader_free(s->br);
	gz_dec_free(s->dec);
	if (s->fp != NULL)
		fclose(s->fp);
	free(s->hdr);
}

static int
rcv_cmd_diff(const struct rcv_cfg *c, int argc, char **argv)
{
	struct rcv_diff_side a, b;
	uint64_t s1, s2, *seqs = NULL, added = 0, removed = 0;
	size_t n = 0, m;
	int r, ret = RCV_EXIT_SYSTEM, cmp;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (argc < 1 || argc > 3 || !bundle_agent_id_ok(argv[0])) {
		rcv_main_usage();
		return RCV_EXIT_USAGE;
	}
	if (rcv_keep_history_seqs(c, argv[0], &seqs, &n) != RS_OK)
		return RCV_EXIT_SYSTEM;
	if (argc == 1) {
		if (n < 2) {
			rs_error("diff %s: fewer than two kept versions",
			    argv[0]);
			ret = RCV_EXIT_USAGE;
			goto out;
		}
		s1 = seqs[n - 2];
		s2 = seqs[n - 1];
	} else {
		if (rs_parse_dec(argv[1], strlen(argv[1]), 1, UINT64_MAX,
		    &s1) != RS_OK) {
			rcv_main_usage();
			ret = RCV_EXIT_USAGE;
			goto out;
		}
		if (argc == 3) {
			if (rs_parse_dec(argv[2], strlen(argv[2]), 1,
			    UINT64_MAX, &s2) != RS_OK) {
				rcv_main_usage();
				ret = RCV_EXIT_USAGE;
				goto out;
			}
		} else {
			if (n == 0) {
				rs_error("diff %s: no kept versions",
				    argv[0]);
				ret = RCV_EXIT_USAGE;
				goto out;
			}
			s2 = seqs[n - 1];
		}
	}
	if ((r = rcv_diff_open(c, argv[0], s1, &a)) != RS_OK ||
	    (r = rcv_diff_open(c, argv[0], s2, &b)) != RS_OK ||
	    (r = rcv_diff_next(&a)) != RS_OK ||
	    (r = rcv_diff_next(&b)) != RS_OK)
		goto out;
	/* Both lists are sorted: one merge pass, flat memory. */
	while (!a.done || !b.done) {
		if (a.done)
			cmp = 1;
		else if (b.done)
			cmp = -1;
		else {
			m = a.len < b.len ? a.len : b.len;
			cmp = memcmp(a.addr, b.addr, m);
			if (cmp == 0)
				cmp = a.len < b.len ? -1 : a.len > b.len;
		}
		if (cmp < 0) {
			printf("-%.*s\n", (int)a.len, a.addr);
			removed++;
			r = rcv_diff_next(&a);
		} else if (cmp > 0) {
			printf("+%.*s\n", (int)b.len, b.addr);
			added++;
			r = rcv_diff_next(&b);
		} else {
			r = rcv_diff_next(&a);
			if (r == RS_OK)
				r = rcv_diff_next(&b);
		}
		if (r != RS_OK) {
			rs_error("diff %s: %s", argv[0], rs_err_str(r));
			goto out;
		}
	}
	rs_info("diff %s %" PRIu64 " %" PRIu64 ": %" PRIu64 " added, %" PRIu64
	    " removed", argv[0], s1, s2, added, removed);
	ret = RCV_EXIT_OK;
 out:
	rcv_diff_close(&a);
	rcv_diff_close(&b);
	free(seqs);
	return ret;
}

static int
rcv_check_line(int ok, const char *what, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "OK  " : "FAIL", what, detail[0] ? ": " :
	    "", detail);
	return ok;
}

static int
rcv_check_dir(const char *what, const char *dir, int mode)
{
	struct stat st;
	char detail[4200];
	int ok;

	ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    access(dir, mode) == 0;
	snprintf(detail, sizeof(detail), "%s%s%s", dir, ok ? "" : " - ",
	    ok ? "" : strerror(errno));
	return rcv_check_line(ok, what, detail);
}

static int
rcv_cmd_check(const struct rcv_cfg *c)
{
	struct signers *s = NULL;
	char detail[4200], mapdir[4096], *out = NULL, *p;
	const char *argv[5], *why;
	size_t nst = 0, len, k = 0, i, line;
	int ok = 1, status, found = 0, sr;

	if (c->relay_any)
		snprintf(detail, sizeof(detail), "%s (map %s:%s, relay_domains "
		    "= any: the agents' domains, within their [signer]s')",
		    c->path, c->map_type, c->map);
	else
		snprintf(detail, sizeof(detail), "%s (map %s:%s, %zu relay "
		    "domains)", c->path, c->map_type, c->map, c->nrelay);
	rcv_check_line(1, "config", detail);
	/* Each line left out is a FAIL of its own, naming line and reason. */
	sr = rcv_cfg_signers_load(c, &s);
	for (i = 0; (why = signers_bad(s, i, &line)) != NULL; i++) {
		snprintf(detail, sizeof(detail), "%s line %zu: %s (line "
		    "ignored)", c->allowed_signers, line, why);
		ok &= rcv_check_line(0, "allowed_signers", detail);
	}
	if (sr != RS_OK || signers_nbad(s) == 0)
		ok &= rcv_check_line(sr == RS_OK, "allowed_signers",
		    c->allowed_signers);
	signers_free(s);
	ok &= rcv_check_line(access(c->postmap, X_OK) == 0, "postmap",
	    c->postmap);
	/* Is the map type compiled into this Postfix (postconf -m)? */
	argv[k++] = c->postconf;
	if (c->postfix_config != NULL) {
		argv[k++] = "-c";
		argv[k++] = c->postfix_config;
	}
	argv[k++] = "-m";
	argv[k] = NULL;
	if ((out = malloc(RS_MAX_POSTCONF_OUT)) != NULL &&
	    rcv_cfg_exec_capture(argv, 0, c->postmap_timeout, out,
	    RS_MAX_POSTCONF_OUT, &len, &status) == RS_OK && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		for (p = strtok(out, "\n"); p != NULL; p = strtok(NULL, "\n"))
			if (strcmp(p, c->map_type) == 0)
				found = 1;
	}
	free(out);
	ok &= rcv_check_line(found, "map type", found ? c->map_type :
	    "not supported by this Postfix (postconf -m); install "
	    "postfix-cdb or postfix-lmdb");
	if (rcv_util_dirname(c->map, mapdir, sizeof(mapdir)) == RS_OK)
		ok &= rcv_check_dir("map directory", mapdir, W_OK | X_OK);
	ok &= rcv_check_dir("spool_dir", c->spool_dir, R_OK | W_OK | X_OK);
	ok &= rcv_check_dir("state_dir", c->state_dir, R_OK | W_OK | X_OK);
	if (rcv_util_dirname(c->status_file, mapdir, sizeof(mapdir)) == RS_OK)
		ok &= rcv_check_dir("status directory", mapdir, W_OK | X_OK);
	if (c->metrics_file != NULL && rcv_util_dirname(c->metrics_file,
	    mapdir, sizeof(mapdir)) == RS_OK)
		ok &= rcv_check_dir("metrics directory", mapdir, W_OK | X_OK);
	if (c->static_file != NULL) {
		i = rcv_inst_static_check(c, &nst) == RS_OK;
		snprintf(detail, sizeof(detail), "%s (%zu entries)",
		    c->static_file, nst);
		ok &= rcv_check_line((int)i, "static_file", detail);
	}
	if (geteuid() == 0)
		printf("WARN running as root; run as the rcptsync user\n");
	ok &= rcv_pfc_run(c) == RCV_EXIT_OK;
	return ok ? RCV_EXIT_OK : RCV_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct rcv_cfg cfg;
	const char *conf = RCV_DEFAULT_CONFIG, *cmd;
	int ch, verbose = 0, inetd = 0, nagios = 0, r, fd;

	signal(SIGPIPE, SIG_IGN);
	umask(022);
	memset(&cfg, 0, sizeof(cfg));
	while ((ch = getopt(argc, argv, "+c:vh")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			rcv_main_usage();
			return RCV_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		rcv_main_usage();
		return RCV_EXIT_USAGE;
	}
	cmd = argv[0];
	if (strcmp(cmd, "run") == 0 && argc == 2 &&
	    strcmp(argv[1], "--inetd") == 0)
		inetd = 1;
	else if (strcmp(cmd, "status") == 0 && argc == 2 &&
	    strcmp(argv[1], "--nagios") == 0)
		nagios = 1;
	else if ((strcmp(cmd, "run") == 0 || strcmp(cmd, "status") == 0 ||
	    strcmp(cmd, "check") == 0 || strcmp(cmd, "check-postfix") == 0) &&
	    argc != 1) {
		rcv_main_usage();
		return RCV_EXIT_USAGE;
	}
	if (inetd) {
		/* stderr may be the connection: keep our chatter off it. */
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 2);
			if (fd != 2)
				close(fd);
		}
	} else
		rcv_main_stderr = verbose || isatty(2);
	openlog("rcptsync-receiver", LOG_PID, LOG_MAIL);
	rs_log_set_sink(rcv_main_sink, NULL);
	rs_log_set_level(verbose ? RS_LOG_DEBUG : RS_LOG_INFO);

	if (rcv_cfg_load(conf, &cfg) != RS_OK) {
		r = RCV_EXIT_USAGE;
		if (nagios) {
			printf("RCPTSYNC UNKNOWN - configuration error in "
			    "%s\n", conf);
			r = 3;
		}
		if (inetd)
			rcv_main_inetd_report(NULL, "done 2");
		goto out;
	}
	cfg.verbose = verbose;
	cfg.inetd = inetd;
	/* Started as root: become the owner of the state first (priv.c). */
	if ((r = rcv_priv_drop(&cfg, cmd)) != RS_OK) {
		r = r == RS_ERR_SYNTAX ? RCV_EXIT_USAGE : RCV_EXIT_SYSTEM;
		if (nagios) {
			printf("RCPTSYNC UNKNOWN - cannot switch to the "
			    "receiver's user\n");
			r = 3;
		}
		if (inetd)
			rcv_main_inetd_report(NULL, r == RCV_EXIT_USAGE ?
			    "done 2" : "done 3");
		goto out;
	}
	if (strcmp(cmd, "run") == 0)
		r = rcv_cmd_run(&cfg, inetd);
	else if (strcmp(cmd, "status") == 0)
		r = rcv_fresh_status(&cfg, nagios);
	else if (strcmp(cmd, "diff") == 0)
		r = rcv_cmd_diff(&cfg, argc - 1, argv + 1);
	else if (strcmp(cmd, "approve") == 0 && argc == 2)
		r = rcv_cmd_approve(&cfg, argv[1]);
	else if (strcmp(cmd, "retire") == 0)
		r = rcv_cmd_retire(&cfg, argc - 1, argv + 1);
	else if (strcmp(cmd, "check") == 0)
		r = rcv_cmd_check(&cfg);
	else if (strcmp(cmd, "check-postfix") == 0)
		r = rcv_pfc_run(&cfg);
	else {
		rcv_main_usage();
		r = RCV_EXIT_USAGE;
	}
 out:
	/* Also after a failed load: it frees what was filled in. */
	rcv_cfg_free(&cfg);
	fflush(stdout);
	closelog();
	return r;
}
