/*
 * verdict.h - the receiver's verdict on our pushes, read from the relay's
 * status file (docs/FORMAT.md section 6) by a strict, bounded JSON scanner.
 *
 * API:        verdict_parse.
 * Ownership:  the caller owns both structs; nothing is allocated.
 * Errors:     RS_OK, or RS_ERR_LIMIT (file, nesting or a string beyond
 *             RS_MAX_STATUS_*), RS_ERR_TRUNC (ends inside a value),
 *             RS_ERR_FORMAT (not JSON, or a part we read has the wrong
 *             shape), RS_ERR_SYNTAX (one of our numbers is not a sequence),
 *             RS_ERR_TRAILING (data after the object); e says what and at
 *             which byte.  On any error *v is all zero: no partial verdict.
 * Trust:      the status file comes from the relay, outside the agent's
 *             trust, and the agent may run as SYSTEM: every byte is
 *             bounds-checked, and the one string kept (the reason) is
 *             printable ASCII, so it can go into a log line as it is.
 */
#ifndef RS_VERDICT_H
#define RS_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "rs_limits.h"

/* What the receiver says about one agent; 0 or "" where it says nothing. */
struct verdict {
	uint64_t	accepted;	/* accepted_sequence */
	uint64_t	rejected;	/* rejected_sequence */
	char		reason[RS_MAX_REASON + 1];	/* rejected_reason */
};

struct verdict_err {
	size_t		 offset;	/* byte of the input where it failed */
	const char	*what;		/* static text, e.g. "nested too deep" */
};

/* Parse text[0..len) and pick out agent's fields. */
int	verdict_parse(const char *text, size_t len, const char *agent,
	    struct verdict *v, struct verdict_err *e);

#endif /* RS_VERDICT_H */
