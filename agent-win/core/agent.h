/*
 * agent.h - the portable agent core, as the entry points see it.
 *
 * main_unix.c and main_win.c convert their arguments to UTF-8, install a
 * log sink, and call agent_main.  The Windows service calls agent_run with
 * the config path; it returns when sys_wait() reports a stop.
 */
#ifndef RS_AGENT_H
#define RS_AGENT_H

/* Run one command line ("sync", "export -o f", ...); returns the exit code. */
int	agent_main(int argc, char **argv);

/* The `run` loop (also the service body).  Returns an exit code. */
int	agent_run(const char *config_path);

/* Exit codes (docs/HACKING.md). */
#define AGENT_EXIT_OK		0
#define AGENT_EXIT_FAIL		1
#define AGENT_EXIT_USAGE	2
#define AGENT_EXIT_GUARD	3
#define AGENT_EXIT_REFUSED	4
#define AGENT_EXIT_PARTIAL	5
/*
 * Windows: the process crashed (an unhandled exception, main_win.c).
 * Windows would exit with the exception code, whose low byte can be one
 * of the codes above (0xC0000005 ends in 5).  70 is sysexits.h's
 * EX_SOFTWARE, "internal software error".
 */
#define AGENT_EXIT_CRASH	70

#endif /* RS_AGENT_H */
