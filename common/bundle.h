/*
 * bundle.h - write and read rcptsync bundles (docs/FORMAT.md).
 *
 * The writer makes the gzip file from a finished rlist, into memory
 * (bundle_write) or chunk by chunk to the caller (bundle_write_to): the
 * header fields that describe the entries (count, list-sha256)
 * are computed here, not trusted from the caller.
 *
 * The reader streams: it pulls decompressed bytes from a gz_dec, holds one
 * line and the previous entry, and validates as it goes (syntax, order,
 * domain), so its memory does not grow with the list.  The caller must
 * have verified the signature over the file before creating the reader.
 * Errors carry the line number and a detail string for the log.
 */
#ifndef RS_BUNDLE_H
#define RS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rs_limits.h"
#include "hash.h"

struct rs_buf;
struct rlist;
struct gz_dec;

/*
 * Format versions (FORMAT.md 2.1): the agent writes BUNDLE_VERSION unless
 * told to write 1; the reader reads 1 to BUNDLE_READ_MAX.  A test builds a
 * receiver with BUNDLE_READ_MAX 1, to stand for one not yet upgraded.
 */
#define BUNDLE_VERSION		2
#ifndef BUNDLE_READ_MAX
#define BUNDLE_READ_MAX		BUNDLE_VERSION
#endif
#define BUNDLE_FLAG_ALLOW_SHRINK	0x01u

/* A header domain: a name, or (version 2) "*." and a name. */
#define BUNDLE_DOMAIN_MAX	(RS_MAX_DOMAIN_LEN + 2)

enum bundle_kind {
	BUNDLE_FULL = 1,
	BUNDLE_HEARTBEAT = 2,
};

/*
 * domains[0..ndomains) are the authoritative domains (field "domains"),
 * domains[ndomains..ndomains+nrelay) the relay domains ("relay-domains",
 * version 2), each part sorted.
 */
struct bundle_hdr {
	unsigned	version;		/* 1 or 2 */
	char		agent[RS_MAX_AGENT_ID + 1];
	uint64_t	seq;
	time_t		created;		/* UTC */
	enum bundle_kind kind;
	char		source[RS_MAX_SOURCE + 1];
	size_t		ndomains;
	size_t		nrelay;
	char		domains[RS_MAX_DOMAINS][BUNDLE_DOMAIN_MAX + 1];
	uint64_t	count;
	unsigned char	list_sha256[RS_SHA256_LEN];
	unsigned	flags;
};

/*
 * Is t[0..len) a valid header domain in a list of version v: a domain
 * name, or in version 2 "*." and one?  If not, *why (may be NULL) says why.
 */
int	bundle_domain_ok(const char *t, size_t len, unsigned v,
	    const char **why);

/*
 * The header domain that governs the address domain d[0..dlen) (FORMAT.md
 * 2.3: the most specific match of both fields), as an index into
 * h->domains, or -1 for none.  Below h->ndomains it is authoritative,
 * from there on a relay domain.
 */
long	bundle_domain_find(const struct bundle_hdr *h, const char *d,
	    size_t dlen);

/* Is id a valid agent id (FORMAT.md section 1)? */
int	bundle_agent_id_ok(const char *id);

/*
 * Parse a spool file name "AGENT.SEQ.rcpt.gz".  RS_OK with agent and seq
 * set, RS_ERR_FORMAT for any other name.  agent has RS_MAX_AGENT_ID+1 bytes.
 */
int	bundle_name_parse(const char *name, char *agent, uint64_t *seq);
/* The name for agent and seq, into out (size >= RS_MAX_BUNDLE_NAME). */
#define RS_MAX_BUNDLE_NAME	(RS_MAX_AGENT_ID + 40)
int	bundle_name(const char *agent, uint64_t seq, char *out, size_t outsize);

/*
 * Write a bundle: h supplies agent, seq, created, kind, source, domains
 * and flags; count and list_sha256 are computed from list (NULL for a
 * heartbeat, which then takes list_sha256 from h).  Every address must be
 * in one of h's domains (RS_ERR_DOMAIN otherwise).  Appends the gzip file
 * to out.  h->count and h->list_sha256 are filled in.
 */
int	bundle_write(struct bundle_hdr *h, const struct rlist *list,
	    struct rs_buf *out);
/*
 * The same, handing the gzip file's bytes to sink(arg, p, n) in order as
 * they are made, so the file is never whole in memory.  A non-zero
 * return from sink stops the write and is returned.  On any failure the
 * sink has had part of a file, which the caller must discard.
 */
typedef int bundle_sink_fn(void *arg, const void *p, size_t n);
int	bundle_write_to(struct bundle_hdr *h, const struct rlist *list,
	    bundle_sink_fn *sink, void *arg);

struct bundle_reader;

/* max_entries bounds count; the byte limit lives in the gz_dec. */
int	bundle_reader_new(struct gz_dec *dec, uint64_t max_entries,
	    struct bundle_reader **out);
/* Read and check the header (fills h). */
int	bundle_read_header(struct bundle_reader *r, struct bundle_hdr *h);
/*
 * Next entry: returns 1 with *addr and *len set (valid until the next call),
 * 0 at the end after checking count, list-sha256 and the end of the gzip
 * member, or a negative RS_ERR_*.
 */
int	bundle_next(struct bundle_reader *r, const char **addr, size_t *len);
/* Line number of the last line read, and detail of the last error. */
size_t	bundle_lineno(const struct bundle_reader *r);
const char *bundle_detail(const struct bundle_reader *r);
void	bundle_reader_free(struct bundle_reader *r);

/* Format / parse "YYYY-MM-DDTHH:MM:SSZ" (out has >= 21 bytes). */
void	bundle_time_fmt(time_t t, char *out, size_t outsize);
int	bundle_time_parse(const char *s, time_t *t);

#endif /* RS_BUNDLE_H */
