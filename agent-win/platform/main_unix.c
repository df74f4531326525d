/*
 * main_unix.c - rcptsync-agent's entry point on Unix: pick the log sink,
 * then hand the command line to agent_main.
 *
 * Log sink: stderr for the foreground commands (and for `run` when stderr
 * is a terminal or -e is given); syslog (LOG_MAIL, "rcptsync-agent") for
 * `run` otherwise, i.e. under systemd or cron.  syslog(3) drops lines
 * without a word when no syslog daemon listens, so `run` first tries to
 * connect to the log socket itself: when that fails it says so once on
 * stderr and logs to stderr.  That is decided at start; a daemon started
 * later is not used until the next start.
 *
 * API:        main.
 * Ownership:  none.
 * Errors:     the exit code of agent_main (agent.h).
 * Trust:      none beyond the command line.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

/* Where syslog(3) sends its lines (glibc and the BSDs name it _PATH_LOG). */
#ifndef _PATH_LOG
#define _PATH_LOG	"/dev/log"
#endif

static void
main_stderr_sink(enum rs_level level, const char *line, void *arg)
{
	static const char *const prefix[] = { "debug: ", "", "warning: ",
	    "error: " };

	(void)arg;
	fprintf(stderr, "rcptsync-agent: %s%s\n", prefix[level], line);
}

static void
main_syslog_sink(enum rs_level level, const char *line, void *arg)
{
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING,
	    LOG_ERR };

	(void)arg;
	syslog(prio[level], "%s", line);
}

/*
 * Does a syslog daemon listen on _PATH_LOG?  Connect as syslog(3) does: a
 * datagram socket, or a stream socket where the daemon made one of that
 * type.  On failure, errno says why.
 */
static int
main_syslog_listens(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un addr;
	size_t i;
	int fd, ok, e = 0;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", _PATH_LOG);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i], 0)) == -1)
			return 0;
		ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
		e = errno;
		close(fd);
		if (ok)
			return 1;
		if (e != EPROTOTYPE)
			break;
	}
	errno = e;
	return 0;
}

/*
 * The command word (the first argument after the global options), and
 * whether -e (log to stderr) was among those options.
 */
static const char *
main_command(int argc, char **argv, int *to_stderr)
{
	int i;

	*to_stderr = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0)
			i++;
		else if (strcmp(argv[i], "-e") == 0)
			*to_stderr = 1;
		else if (argv[i][0] != '-')
			return argv[i];
	}
	return "";
}

int
main(int argc, char **argv)
{
	int to_stderr;

	rs_log_set_sink(main_stderr_sink, NULL);
	if (strcmp(main_command(argc, argv, &to_stderr), "run") != 0 ||
	    to_stderr || isatty(STDERR_FILENO))
		return agent_main(argc, argv);
	if (main_syslog_listens()) {
		openlog("rcptsync-agent", LOG_PID, LOG_MAIL);
		rs_log_set_sink(main_syslog_sink, NULL);
	} else
		fprintf(stderr, "rcptsync-agent: syslog: connect %s: %s; "
		    "logging to stderr\n", _PATH_LOG, strerror(errno));
	return agent_main(argc, argv);
}
