/*
 * log.h - the logging API of common/ and the programs.
 *
 * common/ code never writes to stdout, stderr or syslog itself.  It calls
 * rs_log(), which hands the formatted line to the sink the program installed
 * (syslog, stderr, the Windows event log plus a log file).  Without a sink,
 * lines are dropped.  Lines have no trailing newline and are truncated to
 * RS_LOG_LINE bytes.
 */
#ifndef RS_LOG_H
#define RS_LOG_H

#include "rs_attr.h"

#define RS_LOG_LINE	2048

enum rs_level {
	RS_LOG_DEBUG,
	RS_LOG_INFO,
	RS_LOG_WARN,
	RS_LOG_ERR,
};

typedef void rs_log_sink(enum rs_level level, const char *line, void *arg);

void	rs_log_set_sink(rs_log_sink *sink, void *arg);
void	rs_log_set_level(enum rs_level min);
void	rs_log(enum rs_level level, const char *fmt, ...)
    RS_PRINTF(2, 3)
    ;

#define rs_debug(...)	rs_log(RS_LOG_DEBUG, __VA_ARGS__)
#define rs_info(...)	rs_log(RS_LOG_INFO, __VA_ARGS__)
#define rs_warn(...)	rs_log(RS_LOG_WARN, __VA_ARGS__)
#define rs_error(...)	rs_log(RS_LOG_ERR, __VA_ARGS__)

#endif /* RS_LOG_H */
