/*
 * ldap_held.c - a page's entries held back until its result code is
 * known (ldap_backend.h, "Held entries").
 *
 * A backend reads a page one message at a time and parses each entry as
 * it arrives, so that decoding overlaps with the server sending the rest
 * of the page; but ldap_page.c hands on no entry of a page that ends in
 * an error.  So the backend copies what it parsed here (the DN, each
 * attribute's name as the server sent it, the values) and frees the
 * message; ldap_page.c's entries step then replays the entries, each
 * attribute name through ldapx_attr_slot, as if they had just arrived.
 *
 * API:        ldapx_held_new, _entry, _attr, _value, _options, _replay,
 *             _free.
 * Memory:     one byte buffer for all names and values (at most
 *             LDAPX_HELD_MAX: a page of RS_MAX_PAGE_SIZE large entries),
 *             three index arrays into it; freed with the reply.
 * Errors:     RS_ERR_NOMEM, RS_ERR_LIMIT (past LDAPX_HELD_MAX),
 *             RS_ERR_INVAL (a value before any attribute), RS_ERR_FORMAT
 *             (a DN or attribute name holding a NUL); _replay passes
 *             on what ldapx_attr_slot or the callback returned.
 * Trust:      the bytes are the server's, untrusted: values keep their
 *             length and may hold NUL; names and DNs are kept as the
 *             library gave them, NUL-terminated, so one holding a NUL
 *             would reach ldapx_attr_slot cut short: it is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ldap_backend.h"
#include "rs_err.h"
#include "rs_limits.h"

/* Names and values of one page's entries, at most. */
#define LDAPX_HELD_MAX	(256UL * 1024 * 1024)

struct held_entry {
	size_t	 dn;		/* offset of the DN */
	size_t	 attr0, nattr;	/* into attrs */
};

struct held_attr {
	size_t	 name;		/* offset of the name */
	size_t	 val0, nval;	/* into vals */
};

struct held_val {
	size_t	 off, len;
};

struct ldapx_held {
	struct rs_buf		 bytes;
	struct held_entry	*ents;
	size_t			 nent, capent;
	struct held_attr	*attrs;
	size_t			 nattr, capattr;
	struct held_val		*vals;
	size_t			 nval, capval;
	int			 options;	/* a name with ';' */
};

int
ldapx_held_new(struct ldapx_held **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return RS_ERR_NOMEM;
	rs_buf_init(&(*out)->bytes, LDAPX_HELD_MAX);
	return RS_OK;
}

void
ldapx_held_free(struct ldapx_held *h)
{
	if (h == NULL)
		return;
	rs_buf_free(&h->bytes);
	free(h->ents);
	free(h->attrs);
	free(h->vals);
	free(h);
}

/* s[0..len) and a NUL into the buffer; *off gets where. */
static int
held_str(struct ldapx_held *h, const char *s, size_t len, size_t *off)
{
	int r;

	if (memchr(s, '\0', len) != NULL)
		return RS_ERR_FORMAT;
	*off = h->bytes.len;
	if ((r = rs_buf_put(&h->bytes, s, len)) != RS_OK)
		return r;
	return rs_buf_put_u8(&h->bytes, 0);
}

int
ldapx_held_entry(struct ldapx_held *h, const char *dn, size_t len)
{
	struct held_entry *e;
	int r;

	if ((r = rs_grow((void **)&h->ents, &h->capent, h->nent + 1,
	    sizeof(*h->ents), 256)) != RS_OK)
		return r;
	e = &h->ents[h->nent];
	e->attr0 = h->nattr;
	e->nattr = 0;
	if ((r = held_str(h, dn, len, &e->dn)) != RS_OK)
		return r;
	h->nent++;
	return RS_OK;
}

int
ldapx_held_attr(struct ldapx_held *h, const char *name, size_t len)
{
	struct held_attr *a;
	int r;

	if (h->nent == 0)
		return RS_ERR_INVAL;
	if ((r = rs_grow((void **)&h->attrs, &h->capattr, h->nattr + 1,
	    sizeof(*h->attrs), 1024)) != RS_OK)
		return r;
	a = &h->attrs[h->nattr];
	a->val0 = h->nval;
	a->nval = 0;
	if ((r = held_str(h, name, len, &a->name)) != RS_OK)
		return r;
	if (memchr(name, ';', len) != NULL)
		h->options = 1;
	h->nattr++;
	h->ents[h->nent - 1].nattr++;
	return RS_OK;
}

int
ldapx_held_value(struct ldapx_held *h, const void *p, size_t len)
{
	struct held_val *v;
	int r;

	if (h->nattr == 0)
		return RS_ERR_INVAL;
	if ((r = rs_grow((void **)&h->vals, &h->capval, h->nval + 1,
	    sizeof(*h->vals), 1024)) != RS_OK)
		return r;
	v = &h->vals[h->nval];
	v->off = h->bytes.len;
	v->len = len;
	if ((r = rs_buf_put(&h->bytes, p, len)) != RS_OK)
		return r;
	h->nval++;
	h->attrs[h->nattr - 1].nval++;
	return RS_OK;
}

/* Held entry e to fn, its attribute names through ldapx_attr_slot. */
static int
held_one(const struct ldapx_held *h, const struct held_entry *e,
    const struct ldapx_query *q, ldapx_entry_fn *fn, void *arg,
    uint64_t *bytes, char *msg, size_t msgsize)
{
	struct ldapx_val *vals[RS_MAX_LDAP_ATTRS];
	size_t nvals[RS_MAX_LDAP_ATTRS], i, j, slot;
	const struct held_attr *a;
	const struct held_val *v;
	const char *base = (const char *)h->bytes.data;
	const char *dn = base + e->dn;
	int r = RS_OK;

	memset(vals, 0, sizeof(vals));
	memset(nvals, 0, sizeof(nvals));
	for (i = 0; i < e->nattr && r == RS_OK; i++) {
		a = &h->attrs[e->attr0 + i];
		r = ldapx_attr_slot(q, dn, base + a->name, &slot, msg,
		    msgsize);
		if (r != RS_OK || slot == LDAPX_SLOT_NONE ||
		    vals[slot] != NULL || a->nval == 0)
			continue;
		if ((vals[slot] = calloc(a->nval, sizeof(*vals[slot]))) ==
		    NULL) {
			r = RS_ERR_NOMEM;
			break;
		}
		nvals[slot] = a->nval;
		for (j = 0; j < a->nval; j++) {
			v = &h->vals[a->val0 + j];
			vals[slot][j].p = base + v->off;
			vals[slot][j].len = v->len;
			if (bytes != NULL)
				*bytes += v->len;
		}
	}
	if (r == RS_OK)
		r = fn(arg, dn, (const struct ldapx_val *const *)vals, nvals);
	for (i = 0; i < q->nattrs; i++)
		free(vals[i]);
	return r;
}

int
ldapx_held_options(const struct ldapx_held *h)
{
	return h != NULL && h->options;
}

int
ldapx_held_replay(const struct ldapx_held *h, const struct ldapx_query *q,
    ldapx_entry_fn *fn, void *arg, uint64_t *bytes, size_t *n, char *msg,
    size_t msgsize)
{
	size_t i;
	int r;

	*n = 0;
	for (i = 0; h != NULL && i < h->nent; i++) {
		if ((r = held_one(h, &h->ents[i], q, fn, arg, bytes, msg,
		    msgsize)) != RS_OK)
			return r;
		(*n)++;
	}
	return RS_OK;
}
