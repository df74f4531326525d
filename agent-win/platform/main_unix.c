/*
 * main_unix.c - rcptsync-agent's entry point on Unix: pick the log sink,
 * then hand the command line to agent_main.
 *
 * Log sink: stderr for the foreground commands (and for `run` when stderr
 * is a terminal or -e is given); syslog (LOG_MAIL, "rcptsync-agent") for
 * `run` otherwise, i.e. under systemd or cron.
 *
 * API:        main.
 * Ownership:  none.
 * Errors:     the exit code of agent_main (agent.h).
 * Trust:      none beyond the command line.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

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

	if (strcmp(main_command(argc, argv, &to_stderr), "run") == 0 &&
	    !to_stderr && !isatty(STDERR_FILENO)) {
		openlog("rcptsync-agent", LOG_PID, LOG_MAIL);
		rs_log_set_sink(main_syslog_sink, NULL);
	} else
		rs_log_set_sink(main_stderr_sink, NULL);
	return agent_main(argc, argv);
}
