/*
 * log.c - format a log line and hand it to the program's sink.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static rs_log_sink	*log_sink;
static void		*log_arg;
static enum rs_level	 log_min = RS_LOG_INFO;

void
rs_log_set_sink(rs_log_sink *sink, void *arg)
{
	log_sink = sink;
	log_arg = arg;
}

void
rs_log_set_level(enum rs_level min)
{
	log_min = min;
}

void
rs_log(enum rs_level level, const char *fmt, ...)
{
	char line[RS_LOG_LINE];
	va_list ap;

	if (log_sink == NULL || level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_sink(level, line, log_arg);
}
