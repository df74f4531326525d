/*
 * fuzz_status.c - libFuzzer target for the agent's reader of the relay's
 * status file (agent-win/push/verdict.c, docs/FORMAT.md section 6):
 * verdict_parse, for agent "corp".
 *
 * API:        LLVMFuzzerTestOneInput; the input is a status file.
 * Ownership:  everything is created and freed per input.
 * Errors:     an invariant that does not hold aborts (FZ_ASSERT).
 * Trust:      the file comes from the relay, which the agent does not
 *             trust, and the agent runs as SYSTEM.  Checked beyond memory
 *             safety: the return code is one verdict.h names; an error
 *             names its reason and a byte inside the input, and leaves no
 *             partial verdict; an accepted file yields sequences up to
 *             2^63-1 and a reason of printable ASCII within RS_MAX_REASON;
 *             white space around the file changes nothing (but may
 *             turn "truncated" into "malformed" or "too long"); and every
 *             proper prefix of an accepted file (cut before its closing
 *             brace) is reported as truncated, never as a verdict.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rs_err.h"
#include "rs_limits.h"
#include "verdict.h"

#include "fuzz.h"

static const char fz_agent[] = "corp";

static int
fz_zero(const struct verdict *v)
{
	size_t i;

	if (v->accepted != 0 || v->rejected != 0)
		return 0;
	for (i = 0; i < sizeof(v->reason); i++)
		if (v->reason[i] != '\0')
			return 0;
	return 1;
}

static int
fz_parse(const char *p, size_t n, struct verdict *v, struct verdict_err *e)
{
	int r;

	e->what = NULL;
	e->offset = (size_t)-1;
	r = verdict_parse(p, n, fz_agent, v, e);
	FZ_ASSERT(r == RS_OK || r == RS_ERR_LIMIT || r == RS_ERR_TRUNC ||
	    r == RS_ERR_FORMAT || r == RS_ERR_SYNTAX || r == RS_ERR_TRAILING,
	    "verdict_parse return code");
	if (r != RS_OK) {
		FZ_ASSERT(e->what != NULL && e->what[0] != '\0',
		    "error without a reason");
		FZ_ASSERT(e->offset <= n, "error offset outside the input");
		FZ_ASSERT(fz_zero(v), "partial verdict after an error");
	}
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict v, w;
	struct verdict_err e, f;
	size_t i, n, last;
	char *p, *q;
	int r, r2;

	p = fz_dup(data, size, 0);
	r = fz_parse(p, size, &v, &e);
	if (r == RS_OK) {
		n = strlen(v.reason);
		FZ_ASSERT(n <= RS_MAX_REASON, "reason too long");
		for (i = 0; i < n; i++)
			FZ_ASSERT(v.reason[i] >= 0x20 && v.reason[i] < 0x7f,
			    "reason not printable ASCII");
		FZ_ASSERT(v.accepted <= (uint64_t)INT64_MAX &&
		    v.rejected <= (uint64_t)INT64_MAX, "sequence out of range");
	}

	/* The same file between white space: the same answer. */
	q = malloc(size + 4);
	if (q == NULL)
		abort();
	memcpy(q, " \n", 2);
	if (size > 0)
		memcpy(q + 2, data, size);
	memcpy(q + 2 + size, "\r\t", 2);
	r2 = fz_parse(q, size + 4, &w, &f);
	if (r == RS_ERR_TRUNC) {
		/*
		 * The white space may now be inside an unclosed string:
		 * a control character, or a string over the limit.
		 */
		FZ_ASSERT(r2 == RS_ERR_TRUNC || r2 == RS_ERR_FORMAT ||
		    r2 == RS_ERR_LIMIT, "white space after a truncated file");
	} else {
		FZ_ASSERT(r2 == r, "white space around the file changes the "
		    "result");
		if (r == RS_OK)
			FZ_ASSERT(memcmp(&v, &w, sizeof(v)) == 0, "white "
			    "space around the file changes the verdict");
		else
			FZ_ASSERT(f.offset == e.offset + 2,
			    "error offset moved");
	}
	free(q);

	/* Cut before the closing brace: truncated, never a verdict. */
	if (r == RS_OK) {
		last = size;
		while (last > 0 && p[last - 1] != '}')
			last--;
		FZ_ASSERT(last > 0, "accepted without a closing brace");
		free(p);
		p = fz_dup(data, last - 1, 0);
		r2 = fz_parse(p, last - 1, &w, &f);
		FZ_ASSERT(r2 == RS_ERR_TRUNC, "a cut file is not truncated");
	}
	free(p);
	return 0;
}
