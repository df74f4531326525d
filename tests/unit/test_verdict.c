/*
 * test_verdict.c - unit tests for agent-win/push/verdict.c, the agent's reader
 * of the relay's status file (docs/FORMAT.md section 6).
 *
 * A table of status files, each with the expected return code, the
 * verdict for agent "corp" (accepted, rejected, reason) or, for a refused
 * file, the byte the error is reported at and a word of its reason: the
 * receiver's own layout, other agents and unknown fields skipped, escapes
 * made printable, every JSON value type; then what a hostile relay could
 * serve: truncated, binary, trailing data, duplicate fields, numbers that
 * are no sequence, and each limit (RS_MAX_STATUS_BYTES, _DEPTH, _STRING,
 * RS_MAX_REASON) just within and just beyond.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_err.h"
#include "rs_limits.h"
#include "unit.h"
#include "verdict.h"

struct vt {
	const char	*name;
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	int		 rc;
	uint64_t	 accepted, rejected;
	const char	*reason;	/* OK: the reason; else a word of what */
	long		 offset;	/* error byte; -1: not checked */
};

static const char vt_receiver[] =
    "{\n  \"version\": 1,\n  \"updated\": \"2026-11-22T21:50:03Z\",\n"
    "  \"map_entries\": 20134,\n  \"agents\": {\n"
    "    \"branch\": {\"accepted_sequence\": 99, \"rejected_reason\": "
    "\"not ours\"},\n"
    "    \"corp\": {\n      \"accepted_sequence\": 1763848200,\n"
    "      \"accepted_time\": \"2026-11-22T21:50:03Z\",\n"
    "      \"accepted_count\": 20131,\n      \"list_sha256\": \"5e0c\",\n"
    "      \"rejected_sequence\": 1763848100,\n"
    "      \"rejected_reason\": \"shrink: 9000 entries, installed 20131, "
    "threshold 10%\"\n    }\n  }\n}\n";

static const struct vt vt_table[] = {
	{ "receiver layout", vt_receiver, 0, RS_OK, 1763848200, 1763848100,
	    "shrink: 9000 entries, installed 20131, threshold 10%", -1 },
	{ "no agents", "{}", 0, RS_OK, 0, 0, "", -1 },
	{ "other agents only", "{\"agents\": {\"corpx\": {\"accepted_sequence"
	    "\": 5}, \"cor\": {\"accepted_sequence\": 6}}}", 0, RS_OK, 0, 0,
	    "", -1 },
	{ "agent key escaped", "{\"agents\": {\"co\\u0072p\": "
	    "{\"accepted_sequence\": 5}}}", 0, RS_OK, 5, 0, "", -1 },
	{ "every value type skipped", "{\"a\": [1, -0, -2.5e+3, 0.5E-7, true, "
	    "false, null, \"s\\/\", {\"b\": [[]]}, {}], \"agents\": {\"corp\": "
	    "{\"x\": {\"accepted_sequence\": 1}, \"rejected_sequence\": 0}}}",
	    0, RS_OK, 0, 0, "", -1 },
	{ "reason sanitized", "{\"agents\": {\"corp\": {\"rejected_sequence\": "
	    "8, \"rejected_reason\": \"evil\\nline \\u0007 \\\"q\\\" \\u00e9 "
	    "\xc3\xa9 \\\\\"}}}", 0, RS_OK, 0, 8,
	    "evil line   \"q\" ? ?? \\", -1 },
	{ "largest sequence", "{\"agents\": {\"corp\": {\"accepted_sequence\": "
	    "9223372036854775807}}}", 0, RS_OK, 9223372036854775807ULL, 0, "",
	    -1 },

	{ "empty", "", 0, RS_ERR_TRUNC, 0, 0, "empty", 0 },
	{ "white space only", " \n\t", 0, RS_ERR_TRUNC, 0, 0, "empty", 3 },
	{ "truncated in agents", "{\"agents\": {\"corp\": ", 0, RS_ERR_TRUNC,
	    0, 0, "ends early", 20 },
	{ "truncated in a string", "{\"agents\": {\"corp", 0, RS_ERR_TRUNC, 0,
	    0, "not closed", 17 },
	{ "truncated in a word", "{\"a\": nul", 0, RS_ERR_TRUNC, 0, 0,
	    "ends early", 6 },
	{ "truncated in a number", "{\"a\": 1.", 0, RS_ERR_TRUNC, 0, 0,
	    "ends early", 8 },
	{ "truncated after a value", "{\"agents\": {\"corp\": "
	    "{\"accepted_sequence\": 7}", 0, RS_ERR_TRUNC, 0, 0, "ends early",
	    44 },
	{ "binary", "\x1f\x8b\x08\x00\x00", 5, RS_ERR_FORMAT, 0, 0,
	    "expected an object", 0 },
	{ "NUL in a string", "{\"a\": \"x\0y\"}", 12, RS_ERR_FORMAT, 0, 0,
	    "control character", 8 },
	{ "top level array", "[{\"agents\": {}}]", 0, RS_ERR_FORMAT, 0, 0,
	    "expected an object", 0 },
	{ "trailing data", "{} {}", 0, RS_ERR_TRAILING, 0, 0, "after", 3 },
	{ "trailing comma", "{\"a\": 1,}", 0, RS_ERR_FORMAT, 0, 0,
	    "expected a string", 8 },
	{ "missing colon", "{\"a\" 1}", 0, RS_ERR_FORMAT, 0, 0, "':'", 5 },
	{ "bad escape", "{\"a\": \"\\x\"}", 0, RS_ERR_FORMAT, 0, 0, "escape",
	    8 },
	{ "bad \\u escape", "{\"a\": \"\\u12g4\"}", 0, RS_ERR_FORMAT, 0, 0,
	    "\\u", 9 },
	{ "bad word", "{\"a\": nope}", 0, RS_ERR_FORMAT, 0, 0, "value", 6 },
	{ "bad number", "{\"a\": 1.e5}", 0, RS_ERR_FORMAT, 0, 0, "number", 8 },
	{ "agents not an object", "{\"agents\": [1]}", 0, RS_ERR_FORMAT, 0, 0,
	    "object", 11 },
	{ "our agent not an object", "{\"agents\": {\"corp\": 5}}", 0,
	    RS_ERR_FORMAT, 0, 0, "object", 20 },
	{ "our agent twice", "{\"agents\": {\"corp\": {\"accepted_sequence\": "
	    "5}, \"corp\": {}}}", 0, RS_ERR_FORMAT, 0, 0, "twice", -1 },
	{ "a field twice", "{\"agents\": {\"corp\": {\"rejected_sequence\": 5, "
	    "\"rejected_sequence\": 6}}}", 0, RS_ERR_FORMAT, 0, 0, "twice", -1 },
	{ "agents twice", "{\"agents\": {}, \"agents\": {}}", 0, RS_ERR_FORMAT,
	    0, 0, "twice", -1 },
	{ "float sequence", "{\"agents\": {\"corp\": {\"accepted_sequence\": "
	    "1.5e99}}}", 0, RS_ERR_SYNTAX, 0, 0, "whole", 42 },
	{ "negative sequence", "{\"agents\": {\"corp\": {\"accepted_sequence\": "
	    "-1}}}", 0, RS_ERR_SYNTAX, 0, 0, "whole", 42 },
	{ "string sequence", "{\"agents\": {\"corp\": {\"accepted_sequence\": "
	    "\"7\"}}}", 0, RS_ERR_SYNTAX, 0, 0, "whole", 42 },
	{ "sequence above 2^63-1", "{\"agents\": {\"corp\": "
	    "{\"rejected_sequence\": 9223372036854775808}}}", 0, RS_ERR_SYNTAX,
	    0, 0, "range", 42 },
	{ "sequence with a leading zero", "{\"agents\": {\"corp\": "
	    "{\"rejected_sequence\": 07}}}", 0, RS_ERR_SYNTAX, 0, 0, "range",
	    42 },
	{ "reason not a string", "{\"agents\": {\"corp\": {\"rejected_reason\": "
	    "7}}}", 0, RS_ERR_FORMAT, 0, 0, "string", 40 },
};

/* A status file built to size: prefix, n times unit, suffix. */
static char *
vt_build(const char *pre, const char *unit, size_t n, const char *suf,
    size_t *len)
{
	size_t lp = strlen(pre), lu = strlen(unit), ls = strlen(suf), i;
	char *p;

	if ((p = malloc(lp + n * lu + ls + 1)) == NULL)
		abort();
	memcpy(p, pre, lp);
	for (i = 0; i < n; i++)
		memcpy(p + lp + i * lu, unit, lu);
	memcpy(p + lp + n * lu, suf, ls + 1);
	*len = lp + n * lu + ls;
	return p;
}

static void
vt_run(const char *name, const char *text, size_t len, int rc,
    uint64_t acc, uint64_t rej, const char *reason, long offset)
{
	struct verdict v;
	struct verdict_err e;
	char n[160];
	int r;

	r = verdict_parse(text, len, "corp", &v, &e);
	snprintf(n, sizeof(n), "%s: return code %d", name, rc);
	UT_CHECK(n, r == rc);
	if (r != rc)
		fprintf(stderr, "%s: got %d (%s at byte %zu)\n", name, r,
		    e.what != NULL ? e.what : "-", e.offset);
	if (rc == RS_OK) {
		snprintf(n, sizeof(n), "%s: verdict", name);
		UT_CHECK(n, v.accepted == acc && v.rejected == rej &&
		    strcmp(v.reason, reason) == 0);
		return;
	}
	snprintf(n, sizeof(n), "%s: says '%s'", name, reason);
	UT_CHECK(n, e.what != NULL && strstr(e.what, reason) != NULL);
	if (offset >= 0) {
		snprintf(n, sizeof(n), "%s: at byte %ld", name, offset);
		UT_CHECK(n, e.offset == (size_t)offset);
		if (e.offset != (size_t)offset)
			fprintf(stderr, "%s: at byte %zu\n", name, e.offset);
	}
	snprintf(n, sizeof(n), "%s: no partial verdict", name);
	UT_CHECK(n, v.accepted == 0 && v.rejected == 0 && v.reason[0] == '\0');
}

/* Each limit, just within and just beyond. */
static void
vt_limits(void)
{
	char want[RS_MAX_REASON + 1];
	char *p, *q;
	size_t len, n;

	/* Nesting: the object itself is level 1. */
	n = RS_MAX_STATUS_DEPTH - 1;
	p = vt_build("{\"a\": ", "[", n, "", &len);
	q = vt_build(p, "]", n, "}", &len);
	vt_run("nesting at the limit", q, len, RS_OK, 0, 0, "", -1);
	free(q);
	free(p);
	p = vt_build("{\"a\": ", "[", RS_MAX_STATUS_DEPTH, "", &len);
	vt_run("nesting beyond the limit", p, len, RS_ERR_LIMIT, 0, 0,
	    "deeper", (long)len);
	free(p);
	p = vt_build("{\"agents\": ", "{\"x\": ", 100000, "", &len);
	vt_run("nesting 100000 deep", p, len, RS_ERR_LIMIT, 0, 0, "deeper",
	    -1);
	free(p);

	/* A string as written; the reason after decoding. */
	p = vt_build("{\"a\": \"", "x", RS_MAX_STATUS_STRING, "\"}", &len);
	vt_run("string at the limit", p, len, RS_OK, 0, 0, "", -1);
	free(p);
	p = vt_build("{\"a\": \"", "x", RS_MAX_STATUS_STRING + 1, "\"}", &len);
	vt_run("string beyond the limit", p, len, RS_ERR_LIMIT, 0, 0,
	    "longer", 7 + RS_MAX_STATUS_STRING);
	free(p);
	p = vt_build("{\"a\": \"", "x", 3 * RS_MAX_STATUS_BYTES / 4, "", &len);
	vt_run("unclosed long string", p, len, RS_ERR_LIMIT, 0, 0, "longer",
	    7 + RS_MAX_STATUS_STRING);
	free(p);
	/* A reason of RS_MAX_REASON quotes, each written as \". */
	memset(want, '"', RS_MAX_REASON);
	want[RS_MAX_REASON] = '\0';
	p = vt_build("{\"agents\": {\"corp\": {\"rejected_reason\": \"", "\\\"",
	    RS_MAX_REASON, "\"}}}", &len);
	vt_run("reason at the limit, all escaped", p, len, RS_OK, 0, 0, want,
	    -1);
	free(p);
	p = vt_build("{\"agents\": {\"corp\": {\"rejected_reason\": \"", "r",
	    RS_MAX_REASON + 1, "\"}}}", &len);
	vt_run("reason beyond the limit", p, len, RS_ERR_LIMIT, 0, 0,
	    "rejected_reason", -1);
	free(p);
	p = vt_build("{\"agents\": {\"", "k", 4 * RS_MAX_AGENT_ID,
	    "\": {\"accepted_sequence\": 1}}}", &len);
	vt_run("long agent key skipped", p, len, RS_OK, 0, 0, "", -1);
	free(p);

	/* The whole file. */
	p = vt_build("{\"a\": [", "1,", (RS_MAX_STATUS_BYTES - 16) / 2, "1]}",
	    &len);
	vt_run("file at the limit", p, len, RS_OK, 0, 0, "", -1);
	free(p);
	p = vt_build("{\"a\": \"", " ", RS_MAX_STATUS_BYTES, "\"}", &len);
	vt_run("file beyond the limit", p, len, RS_ERR_LIMIT, 0, 0,
	    "RS_MAX_STATUS_BYTES", -1);
	free(p);
}

int
main(void)
{
	const struct vt *t;
	size_t i;

	for (i = 0; i < sizeof(vt_table) / sizeof(vt_table[0]); i++) {
		t = &vt_table[i];
		vt_run(t->name, t->text, t->len ? t->len : strlen(t->text),
		    t->rc, t->accepted, t->rejected, t->reason, t->offset);
	}
	vt_limits();
	return ut_exit();
}
