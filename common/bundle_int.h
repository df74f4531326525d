/*
 * bundle_int.h - what bundle.c (names, times, the writer) and bundle_read.c
 * (the streaming reader) share: the format's constants, the header fields
 * in their one order, and the checks both sides apply.  Not for other
 * modules: they use bundle.h.
 *
 * Errors: the checks return 1 (ok) or 0; bundle_cmp_n is a memcmp-style
 * order.  Ownership: nothing is allocated.  Trust: the checks take
 * untrusted bytes with their length; nothing is assumed NUL-terminated.
 */
#ifndef RS_BUNDLE_INT_H
#define RS_BUNDLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

#define BUNDLE_MAGIC		"rcptsync-list"
#define BUNDLE_SEQ_MAX		UINT64_C(9223372036854775807)	/* 2^63-1 */
#define BUNDLE_SUFFIX		".rcpt.gz"
#define BUNDLE_SUFFIX_LEN	(sizeof(BUNDLE_SUFFIX) - 1)
#define BUNDLE_GZ_LEVEL		6
/* Decompressed bytes pulled from the gz_dec at a time. */
#define BUNDLE_CHUNK		(32 * 1024)
/* Longest time value we format or accept: 9999-12-31T23:59:59Z. */
#define BUNDLE_TIME_MAX		INT64_C(253402300799)
#define BUNDLE_TIME_LEN		20
#define BUNDLE_DETAIL		160

/* Header fields, in the one order they may appear. */
enum {
	F_AGENT, F_SEQUENCE, F_CREATED, F_KIND, F_SOURCE, F_DOMAINS, F_RELAY,
	F_COUNT, F_SHA, F_FLAGS, F_NFIELDS
};

/* Fields that may be absent. */
#define F_OPTIONAL(f)	((f) == F_RELAY || (f) == F_FLAGS)

extern const char *const bundle_fields[F_NFIELDS];
#define BUNDLE_FLAG_SHRINK	"allow-shrink"
extern const char bundle_flag_allow_shrink[sizeof(BUNDLE_FLAG_SHRINK)];

/* A header value: printable ASCII, not empty, no space at either end. */
int	 bundle_value_ok(const char *v, size_t len);

/* Byte order of a[0..alen) and b[0..blen), the shorter first on a tie. */
int	 bundle_cmp_n(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Is t[0..len) a domain of part part (0: domains, 1: relay-domains) of
 * h?  Each part is sorted.
 */
int	 bundle_domain_in(const struct bundle_hdr *h, int part, const char *t,
	    size_t len);

/* Is id[0..len) a valid agent id (bundle_agent_id_ok without the NUL)? */
int	 bundle_agent_id_okn(const char *id, size_t len);

#endif
