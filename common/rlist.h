/*
 * rlist.h - an in-memory list of canonical addresses, for the agent.
 *
 * Addresses are stored back to back in one arena, so a million of them cost
 * about their text plus 8 bytes each.  rlist_add copies; rlist_finish sorts
 * bytewise and removes duplicates, after which rlist_get returns them in
 * order.  The list owns all memory; rlist_free releases it.
 */
#ifndef RS_RLIST_H
#define RS_RLIST_H

#include <stddef.h>
#include <stdint.h>

struct rlist;

int	rlist_new(struct rlist **out);
void	rlist_free(struct rlist *l);
/* Add a copy of a[0..len).  The caller has already run addr_check. */
int	rlist_add(struct rlist *l, const char *a, size_t len);
/*
 * A list over someone else's bytes: rlist_add_at(l, off, len) adds the
 * address bytes[off..off+len) without copying it (8 bytes an entry, not
 * the text again).  The caller has run addr_check on it.  The borrowed
 * bytes must stay where they are, unchanged, until rlist_free: the
 * owner must not be modified or freed while the list lives.  Such a
 * list refuses rlist_add and rlist_parse_text (RS_ERR_INVAL).
 */
int	rlist_new_over(const char *bytes, size_t len, struct rlist **out);
int	rlist_add_at(struct rlist *l, size_t off, size_t len);
/* Sort bytewise and drop duplicates; returns how many were dropped. */
size_t	rlist_finish(struct rlist *l);
size_t	rlist_count(const struct rlist *l);
/* The i-th address (not NUL-terminated), valid until the next rlist_add. */
const char *rlist_get(const struct rlist *l, size_t i, size_t *len);

/*
 * Read a plaintext list (one address per line, as written by the agent's
 * audit export or stored as the last pushed list) into l.  Lines that fail
 * addr_check are an error (RS_ERR_SYNTAX, *lineno set).  The caller calls
 * rlist_finish afterwards if it needs order.
 */
int	rlist_parse_text(struct rlist *l, const char *text, size_t len,
	    size_t *lineno);

/*
 * Compare two finished lists.  Calls cb(arg, '+', addr, len) for each
 * address only in b and cb(arg, '-', addr, len) for each only in a, in
 * bytewise order; *added and *removed get the counts.  cb may be NULL.
 */
typedef void rlist_diff_cb(void *arg, char op, const char *a, size_t len);
void	rlist_diff(const struct rlist *a, const struct rlist *b,
	    rlist_diff_cb *cb, void *arg, size_t *added, size_t *removed);

#endif /* RS_RLIST_H */
