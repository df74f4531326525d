/*
 * rlist.c - an arena-backed list of canonical addresses (see rlist.h).
 *
 * API:        rlist_new/free/add/finish/count/get, rlist_parse_text,
 *             rlist_diff; rlist_new_over/rlist_add_at (a borrowing list).
 * Memory:     the text of all addresses lies back to back in one growing
 *             arena (no separators); each entry is one 64-bit word holding
 *             the arena offset (high 56 bits) and the length (low 8 bits,
 *             enough for RS_MAX_ADDR_LEN).  A million addresses of 25 octets
 *             cost about 25 MB of text plus 8 MB of entries, and at most
 *             twice that while the arrays grow.  rlist_finish sorts with a
 *             merge sort that borrows one more entry array for its duration.
 *             The list owns everything; rlist_get pointers are valid until
 *             the next rlist_add (the arena may move).  A list made by
 *             rlist_new_over owns only its entries: they point into the
 *             caller's bytes, which must neither move nor change until
 *             rlist_free (rlist.h), and it takes no rlist_add.
 * Errors:     RS_ERR_NOMEM, RS_ERR_INVAL (empty or over-long address),
 *             RS_ERR_SYNTAX / RS_ERR_TRUNC from rlist_parse_text with the
 *             line number; a failed parse leaves the list as it was.
 * Trust:      rlist_add trusts the caller to have run addr_check;
 *             rlist_parse_text checks every line itself (the text comes from
 *             a file on disk that anyone with access could have edited).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "rs_limits.h"
#include "rlist.h"
#include "rs_err.h"

#define ENT_LEN_BITS	8
#define ENT_LEN_MASK	((uint64_t)0xff)
#define ENT_OFF_MAX	(UINT64_MAX >> ENT_LEN_BITS)

/* Initial sizes; both arrays double as needed. */
#define ARENA_INIT	4096
#define ENTS_INIT	256

struct rlist {
	char		*arena;		/* owned; NULL when borrowed */
	const char	*base;		/* where offsets point: arena, or the
					   borrowed bytes */
	size_t		 alen;		/* bytes used */
	size_t		 acap;
	uint64_t	*ents;		/* off << 8 | len */
	size_t		 n;
	size_t		 ncap;
	int		 sorted;	/* finished and nothing added since */
	int		 borrowed;	/* rlist_new_over: base is not ours */
	size_t		 blen;		/* its length */
};

static size_t
ent_len(uint64_t e)
{
	return (size_t)(e & ENT_LEN_MASK);
}

static const char *
ent_ptr(const struct rlist *l, uint64_t e)
{
	return l->base + (size_t)(e >> ENT_LEN_BITS);
}

/* Bytewise comparison; a proper prefix sorts first. */
static int
ent_cmp(const struct rlist *l, uint64_t a, uint64_t b)
{
	size_t la = ent_len(a), lb = ent_len(b);
	int c;

	c = memcmp(ent_ptr(l, a), ent_ptr(l, b), la < lb ? la : lb);
	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

static int
rlist_cmp2(const struct rlist *a, uint64_t ea, const struct rlist *b,
    uint64_t eb)
{
	size_t la = ent_len(ea), lb = ent_len(eb);
	int c;

	c = memcmp(ent_ptr(a, ea), ent_ptr(b, eb), la < lb ? la : lb);
	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

int
rlist_new(struct rlist **out)
{
	struct rlist *l;

	if (out == NULL)
		return RS_ERR_INVAL;
	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return RS_ERR_NOMEM;
	l->sorted = 1;			/* the empty list is in order */
	*out = l;
	return RS_OK;
}

void
rlist_free(struct rlist *l)
{
	if (l == NULL)
		return;
	free(l->arena);
	free(l->ents);
	free(l);
}

int
rlist_add(struct rlist *l, const char *a, size_t len)
{
	int r;

	if (l == NULL || a == NULL || len == 0 || len > RS_MAX_ADDR_LEN ||
	    len > ENT_LEN_MASK || l->borrowed)
		return RS_ERR_INVAL;
	if (l->alen > SIZE_MAX - len || l->alen > ENT_OFF_MAX)
		return RS_ERR_NOMEM;
	if ((r = rs_grow((void **)&l->arena, &l->acap, l->alen + len, 1,
	    ARENA_INIT)) != RS_OK)
		return r;
	if ((r = rs_grow((void **)&l->ents, &l->ncap, l->n + 1,
	    sizeof(*l->ents), ENTS_INIT)) != RS_OK)
		return r;
	l->base = l->arena;
	memcpy(l->arena + l->alen, a, len);
	l->ents[l->n] = (uint64_t)l->alen << ENT_LEN_BITS | (uint64_t)len;
	/*
	 * Appending in order keeps a sorted list sorted (a cheap win: the
	 * last pushed list is read back in order).  An equal neighbour is
	 * still in order; rlist_finish drops adjacent duplicates.
	 */
	if (l->sorted && l->n > 0 &&
	    ent_cmp(l, l->ents[l->n - 1], l->ents[l->n]) > 0)
		l->sorted = 0;
	l->alen += len;
	l->n++;
	return RS_OK;
}

int
rlist_new_over(const char *bytes, size_t len, struct rlist **out)
{
	int r;

	if (out == NULL)
		return RS_ERR_INVAL;
	*out = NULL;
	if (bytes == NULL && len > 0)
		return RS_ERR_INVAL;
	if ((r = rlist_new(out)) != RS_OK)
		return r;
	(*out)->base = bytes;
	(*out)->blen = len;
	(*out)->borrowed = 1;
	return RS_OK;
}

int
rlist_add_at(struct rlist *l, size_t off, size_t len)
{
	int r;

	if (l == NULL || !l->borrowed || len == 0 || len > RS_MAX_ADDR_LEN ||
	    len > ENT_LEN_MASK || off > l->blen || len > l->blen - off ||
	    off > ENT_OFF_MAX)
		return RS_ERR_INVAL;
	if ((r = rs_grow((void **)&l->ents, &l->ncap, l->n + 1,
	    sizeof(*l->ents), ENTS_INIT)) != RS_OK)
		return r;
	l->ents[l->n] = (uint64_t)off << ENT_LEN_BITS | (uint64_t)len;
	/* As in rlist_add: in order stays in order. */
	if (l->sorted && l->n > 0 &&
	    ent_cmp(l, l->ents[l->n - 1], l->ents[l->n]) > 0)
		l->sorted = 0;
	l->n++;
	return RS_OK;
}

/*
 * Bottom-up merge sort of v[0..n) using tmp[0..n); stable, O(n log n)
 * comparisons whatever the input.  Runs of 16 are first sorted by
 * insertion, which saves the passes where merging costs most per element.
 * Returns the array (v or tmp) that holds the result.
 */
#define RUN	16

static uint64_t *
rlist_msort(const struct rlist *l, uint64_t *v, uint64_t *tmp, size_t n)
{
	size_t lo, hi, i, j, k, mid, width;
	uint64_t x, *src = v, *dst = tmp, *t;

	for (lo = 0; lo < n; lo += RUN) {
		hi = lo + RUN < n ? lo + RUN : n;
		for (i = lo + 1; i < hi; i++) {
			x = v[i];
			for (j = i; j > lo && ent_cmp(l, v[j - 1], x) > 0; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
	}
	for (width = RUN; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = mid + width < n ? mid + width : n;
			i = lo;
			j = mid;
			k = lo;
			/* Already in order across the seam: copy. */
			if (mid < hi && ent_cmp(l, src[mid - 1], src[mid]) <= 0) {
				memcpy(dst + lo, src + lo,
				    (hi - lo) * sizeof(*src));
				continue;
			}
			while (i < mid && j < hi)
				dst[k++] = ent_cmp(l, src[j], src[i]) < 0 ?
				    src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		t = src;
		src = dst;
		dst = t;
	}
	return src;
}

/*
 * In-place shell sort (Ciura's gaps, extended): slower, but needs no
 * memory, for when the merge buffer cannot be had.  rlist_finish has no
 * error return, and an unsorted list must never look finished.
 */
static void
rlist_shellsort(struct rlist *l)
{
	static const size_t gaps[] = { 1391376, 463792, 198768, 86961, 33936,
	    13776, 4592, 1968, 861, 336, 112, 48, 21, 7, 3, 1 };
	size_t g, gap, i, k;
	uint64_t x;

	for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		gap = gaps[g];
		for (i = gap; i < l->n; i++) {
			x = l->ents[i];
			for (k = i; k >= gap &&
			    ent_cmp(l, l->ents[k - gap], x) > 0; k -= gap)
				l->ents[k] = l->ents[k - gap];
			l->ents[k] = x;
		}
	}
}

size_t
rlist_finish(struct rlist *l)
{
	uint64_t *tmp, *res;
	size_t i, k;

	if (l == NULL || l->n == 0)
		return 0;
	if (!l->sorted) {
		tmp = malloc(l->n * sizeof(*tmp));
		if (tmp == NULL)
			rlist_shellsort(l);
		else {
			res = rlist_msort(l, l->ents, tmp, l->n);
			if (res != l->ents)
				memcpy(l->ents, res, l->n * sizeof(*res));
			free(tmp);
		}
	}
	/* Drop duplicates (adjacent now); the arena keeps their text. */
	for (i = 1, k = 1; i < l->n; i++) {
		if (ent_cmp(l, l->ents[k - 1], l->ents[i]) != 0)
			l->ents[k++] = l->ents[i];
	}
	i = l->n - k;
	l->n = k;
	l->sorted = 1;
	return i;
}

size_t
rlist_count(const struct rlist *l)
{
	return l == NULL ? 0 : l->n;
}

const char *
rlist_get(const struct rlist *l, size_t i, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (l == NULL || i >= l->n)
		return NULL;
	if (len != NULL)
		*len = ent_len(l->ents[i]);
	return ent_ptr(l, l->ents[i]);
}

int
rlist_parse_text(struct rlist *l, const char *text, size_t len,
    size_t *lineno)
{
	size_t line = 0, pos = 0, n0, a0, llen;
	const char *nl;
	int r, sorted0;

	if (lineno != NULL)
		*lineno = 0;
	if (l == NULL || (text == NULL && len > 0))
		return RS_ERR_INVAL;
	/* Remember where we started so that a bad file adds nothing. */
	n0 = l->n;
	a0 = l->alen;
	sorted0 = l->sorted;
	while (pos < len) {
		line++;
		nl = memchr(text + pos, '\n', len - pos);
		if (nl == NULL) {
			/*
			 * Every line ends in LF.  A last line without one is
			 * a file cut short, whose last address may itself be
			 * cut ("alice@corp.te") and still look valid.
			 */
			r = RS_ERR_TRUNC;
			goto out;
		}
		llen = (size_t)(nl - (text + pos));
		if ((r = addr_check(text + pos, llen, NULL)) != RS_OK)
			goto out;
		if ((r = rlist_add(l, text + pos, llen)) != RS_OK)
			goto out;
		pos += llen + 1;
	}
	r = RS_OK;
out:
	if (lineno != NULL)
		*lineno = line;
	if (r != RS_OK) {
		l->n = n0;
		l->alen = a0;
		l->sorted = sorted0;
	}
	return r;
}

void
rlist_diff(const struct rlist *a, const struct rlist *b, rlist_diff_cb *cb,
    void *arg, size_t *added, size_t *removed)
{
	size_t i = 0, j = 0, na = rlist_count(a), nb = rlist_count(b);
	size_t nadd = 0, nrem = 0;
	int c;

	while (i < na || j < nb) {
		if (i == na)
			c = 1;
		else if (j == nb)
			c = -1;
		else
			c = rlist_cmp2(a, a->ents[i], b, b->ents[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			if (cb != NULL)
				cb(arg, '-', ent_ptr(a, a->ents[i]),
				    ent_len(a->ents[i]));
			nrem++;
			i++;
		} else {
			if (cb != NULL)
				cb(arg, '+', ent_ptr(b, b->ents[j]),
				    ent_len(b->ents[j]));
			nadd++;
			j++;
		}
	}
	if (added != NULL)
		*added = nadd;
	if (removed != NULL)
		*removed = nrem;
}
