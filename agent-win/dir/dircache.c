/*
 * dircache.c - the directory as the agent last read it, for change
 * detection (docs/CONFIG.md, "Change detection"): per object, keyed by its
 * objectGUID, the accepted addresses it contributes; and which DC, at which
 * highestCommittedUSN, the data is complete to.
 *
 * Objects are kept in an array sorted by GUID; their addresses live back to
 * back in one arena ("a@x\0b@x\0", sorted, unique).  A changed object's old
 * bytes become garbage, reclaimed when garbage passes half the arena.  An
 * object that contributes no address is not kept: a delta that empties an
 * object removes it.
 *
 * The file form (STATE/dircache), text, so an administrator can read it:
 *
 *     rcptsync-dircache 1
 *     query 5e0c...(SHA-256 of bases, filter, domains, include_auth_only)
 *     server CN=NTDS Settings,CN=DC1,CN=Servers,...
 *     invocation 8acb1876aea7d44e97af60726fb5d6c8
 *     usn 3937
 *     full 1763900000
 *     objects 2
 *
 *     4b64ccb56afa2749b13deb6ba8194c89 a@example.test alice@example.test
 *     ...
 *
 * API:        dircache_* (agent_int.h).
 * Ownership:  the cache owns its memory; dircache_list hands out a new
 *             rlist that borrows the cache's arena: it must be freed
 *             before the cache is changed (dircache_add, _set, _seal) or
 *             freed, since a change may move or overwrite those bytes.
 * Errors:     RS_ERR_NOMEM, RS_ERR_LIMIT; dircache_load: RS_ERR_NOTFOUND
 *             (no file) or RS_ERR_FORMAT with the line in *lineno.  A bad
 *             file costs a full export, nothing more, so the caller only
 *             warns.
 * Trust:      the file is the agent's own (0700 state directory); it is
 *             still checked strictly (every address through addr_check,
 *             GUIDs ascending) because a list is built from it.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "addr.h"
#include "buf.h"
#include "hash.h"
#include "rlist.h"
#include "rs_err.h"
#include "sys.h"

#define DC_MAGIC	"rcptsync-dircache 1"

struct dc_obj {
	unsigned char	guid[RS_GUID_LEN];
	uint32_t	len;		/* bytes of its addresses, NULs included */
	size_t		off;		/* into the arena */
};

struct dircache {
	struct dircache_src src;
	struct dc_obj	*obj;
	size_t		 n, cap;
	char		*arena;
	size_t		 used, acap, garbage;
};

int
dircache_new(struct dircache **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return RS_ERR_NOMEM;
	return RS_OK;
}

void
dircache_free(struct dircache *d)
{
	if (d == NULL)
		return;
	free(d->obj);
	free(d->arena);
	free(d);
}

struct dircache_src *
dircache_src(struct dircache *d)
{
	return &d->src;
}

size_t
dircache_count(const struct dircache *d)
{
	return d->n;
}

/* Copy addrs into the arena; *off gets where. */
static int
dc_store(struct dircache *d, const char *addrs, size_t len, size_t *off)
{
	void *a = d->arena;
	int r;

	if (len > UINT32_MAX)
		return RS_ERR_LIMIT;
	if ((r = rs_grow(&a, &d->acap, d->used + len, 1, 1024)) != RS_OK)
		return r;
	d->arena = a;
	memcpy(d->arena + d->used, addrs, len);
	*off = d->used;
	d->used += len;
	return RS_OK;
}

int
dircache_add(struct dircache *d, const unsigned char *guid,
    const char *addrs, size_t len)
{
	void *o = d->obj;
	size_t off;
	int r;

	if (len == 0)
		return RS_OK;
	if ((r = rs_grow(&o, &d->cap, d->n + 1, sizeof(*d->obj), 1024)) !=
	    RS_OK)
		return r;
	d->obj = o;
	if ((r = dc_store(d, addrs, len, &off)) != RS_OK)
		return r;
	memcpy(d->obj[d->n].guid, guid, RS_GUID_LEN);
	d->obj[d->n].len = (uint32_t)len;
	d->obj[d->n].off = off;
	d->n++;
	return RS_OK;
}

static int
dc_cmp(const void *a, const void *b)
{
	return memcmp(((const struct dc_obj *)a)->guid,
	    ((const struct dc_obj *)b)->guid, RS_GUID_LEN);
}

/* By GUID, then by arena offset: the order they were added in. */
static int
dc_cmp_seal(const void *a, const void *b)
{
	const struct dc_obj *x = a, *y = b;
	int c = dc_cmp(a, b);

	if (c != 0)
		return c;
	return x->off < y->off ? -1 : x->off > y->off;
}

size_t
dircache_seal(struct dircache *d)
{
	size_t i, j, dups = 0;

	if (d->n > 1)
		qsort(d->obj, d->n, sizeof(*d->obj), dc_cmp_seal);
	/*
	 * Overlapping bases return an object twice; keep the first copy
	 * (the same object read in one export has the same values).
	 */
	for (i = j = 0; i < d->n; i++) {
		if (j > 0 && dc_cmp(&d->obj[j - 1], &d->obj[i]) == 0) {
			d->garbage += d->obj[i].len;
			dups++;
			continue;
		}
		d->obj[j++] = d->obj[i];
	}
	d->n = j;
	return dups;
}

/* Index of guid, or where it would go (*found 0). */
static size_t
dc_find(const struct dircache *d, const unsigned char *guid, int *found)
{
	size_t lo = 0, hi = d->n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(d->obj[mid].guid, guid, RS_GUID_LEN);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Drop the garbage: copy the live addresses into a new arena. */
static int
dc_compact(struct dircache *d)
{
	char *na;
	size_t i, used = 0;

	if ((na = malloc(d->used - d->garbage + 1)) == NULL)
		return RS_ERR_NOMEM;
	for (i = 0; i < d->n; i++) {
		memcpy(na + used, d->arena + d->obj[i].off, d->obj[i].len);
		d->obj[i].off = used;
		used += d->obj[i].len;
	}
	free(d->arena);
	d->arena = na;
	d->used = used;
	d->acap = used + 1;
	d->garbage = 0;
	return RS_OK;
}

int
dircache_set(struct dircache *d, const unsigned char *guid,
    const char *addrs, size_t len, int *changed)
{
	struct dc_obj *o;
	void *p;
	size_t i, off;
	int found, r;

	*changed = 0;
	i = dc_find(d, guid, &found);
	if (found) {
		o = &d->obj[i];
		if (o->len == len && memcmp(d->arena + o->off, addrs, len) == 0)
			return RS_OK;
		if (len == 0) {
			d->garbage += o->len;
			memmove(&d->obj[i], &d->obj[i + 1],
			    (d->n - i - 1) * sizeof(*d->obj));
			d->n--;
		} else if (len <= o->len) {
			memcpy(d->arena + o->off, addrs, len);
			d->garbage += o->len - len;
			o->len = (uint32_t)len;
		} else {
			if ((r = dc_store(d, addrs, len, &off)) != RS_OK)
				return r;
			o = &d->obj[i];
			d->garbage += o->len;
			o->off = off;
			o->len = (uint32_t)len;
		}
	} else {
		if (len == 0)
			return RS_OK;
		p = d->obj;
		if ((r = rs_grow(&p, &d->cap, d->n + 1, sizeof(*d->obj),
		    1024)) !=
		    RS_OK)
			return r;
		d->obj = p;
		if ((r = dc_store(d, addrs, len, &off)) != RS_OK)
			return r;
		memmove(&d->obj[i + 1], &d->obj[i],
		    (d->n - i) * sizeof(*d->obj));
		memcpy(d->obj[i].guid, guid, RS_GUID_LEN);
		d->obj[i].off = off;
		d->obj[i].len = (uint32_t)len;
		d->n++;
	}
	*changed = 1;
	if (d->garbage > 1024 * 1024 && d->garbage > d->used / 2)
		return dc_compact(d);
	return RS_OK;
}

static int
dc_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
dircache_norm(struct rs_buf *b)
{
	char **v = NULL, *copy = NULL, *p, *end;
	size_t n = 0, i, len, o = 0;
	int r = RS_ERR_NOMEM;

	for (i = 0; i < b->len; i++)
		n += b->data[i] == '\0';
	if (n < 2)
		return RS_OK;
	if ((v = calloc(n, sizeof(*v))) == NULL ||
	    (copy = malloc(b->len)) == NULL)
		goto out;
	memcpy(copy, b->data, b->len);
	end = copy + b->len;
	for (p = copy, i = 0; p < end; p += strlen(p) + 1)
		v[i++] = p;
	/* strcmp orders as unsigned char: bytewise, as the list is. */
	qsort(v, n, sizeof(*v), dc_strcmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i - 1], v[i]) == 0)
			continue;
		len = strlen(v[i]) + 1;
		memcpy(b->data + o, v[i], len);
		o += len;
	}
	b->len = o;
	b->data[o] = '\0';
	r = RS_OK;
out:
	free(v);
	free(copy);
	return r;
}

/*
 * The list borrows the arena (rlist_new_over): a copy would hold every
 * address twice, 24 MB more at a million.  Hence the rule in agent_int.h:
 * the list lives only while the cache is left alone.
 */
int
dircache_list(const struct dircache *d, struct rlist **out)
{
	struct rlist *l = NULL;
	size_t i, off, end, n;
	int r;

	*out = NULL;
	if ((r = rlist_new_over(d->arena, d->used, &l)) != RS_OK)
		return r;
	for (i = 0; i < d->n; i++) {
		off = d->obj[i].off;
		end = off + d->obj[i].len;
		for (; off < end; off += n + 1) {
			n = strlen(d->arena + off);
			if ((r = rlist_add_at(l, off, n)) != RS_OK) {
				rlist_free(l);
				return r;
			}
		}
	}
	rlist_finish(l);
	*out = l;
	return RS_OK;
}

int
dircache_save(const struct dircache *d, const char *path)
{
	struct rs_buf b;
	const char *p, *end;
	char hex[2 * RS_GUID_LEN + 1];
	size_t i, n;
	int r;

	rs_buf_init(&b, RS_MAX_CACHE_BYTES);
	r = rs_buf_printf(&b, DC_MAGIC "\nquery %s\nserver %s\n",
	    d->src.query, d->src.server);
	rs_hex(d->src.invocation, RS_GUID_LEN, hex);
	if (r == RS_OK)
		r = rs_buf_printf(&b, "invocation %s\nusn %" PRIu64 "\nfull %"
		    PRId64 "\nobjects %zu\n\n", hex, d->src.usn,
		    d->src.full_time, d->n);
	for (i = 0; r == RS_OK && i < d->n; i++) {
		rs_hex(d->obj[i].guid, RS_GUID_LEN, hex);
		r = rs_buf_put_str(&b, hex);
		p = d->arena + d->obj[i].off;
		end = p + d->obj[i].len;
		for (; r == RS_OK && p < end; p += n + 1) {
			n = strlen(p);
			if ((r = rs_buf_put_u8(&b, ' ')) == RS_OK)
				r = rs_buf_put(&b, p, n);
		}
		if (r == RS_OK)
			r = rs_buf_put_u8(&b, '\n');
	}
	if (r == RS_OK)
		r = sys_write_file(path, b.data, b.len, 1);
	rs_buf_free(&b);
	return r;
}

/* "key value" where value is a decimal without leading zeros. */
static int
dc_u64(const char *line, const char *key, uint64_t *v)
{
	size_t k = strlen(key);

	if (strncmp(line, key, k) != 0 || line[k] != ' ')
		return RS_ERR_FORMAT;
	return rs_parse_dec(line + k + 1, strlen(line + k + 1), 1,
	    UINT64_MAX, v);
}

/* One object line: GUID, then its addresses, ascending. */
static int
dc_load_obj(struct dircache *d, char *line, unsigned char *prev, int first,
    struct rs_buf *scratch)
{
	unsigned char guid[RS_GUID_LEN];
	char *a, *sp, *last = NULL;
	size_t n;
	int r;

	if (strlen(line) < 2 * RS_GUID_LEN + 2 ||
	    line[2 * RS_GUID_LEN] != ' ' ||
	    rs_unhex(line, RS_GUID_LEN, guid) != RS_OK)
		return RS_ERR_FORMAT;
	if (!first && memcmp(prev, guid, RS_GUID_LEN) >= 0)
		return RS_ERR_FORMAT;
	memcpy(prev, guid, RS_GUID_LEN);
	rs_buf_reset(scratch);
	for (a = line + 2 * RS_GUID_LEN + 1; a != NULL; a = sp) {
		if ((sp = strchr(a, ' ')) != NULL)
			*sp++ = '\0';
		n = strlen(a);
		if (addr_check(a, n, NULL) != RS_OK)
			return RS_ERR_FORMAT;
		if (last != NULL && strcmp(last, a) >= 0)
			return RS_ERR_FORMAT;
		last = a;
		if ((r = rs_buf_put(scratch, a, n + 1)) != RS_OK)
			return r;
	}
	return dircache_add(d, guid, (const char *)scratch->data,
	    scratch->len);
}

int
dircache_load(const char *path, struct dircache **out, size_t *lineno)
{
	struct dircache *d = NULL;
	struct rs_buf b, scratch;
	unsigned char prev[RS_GUID_LEN], qmd[RS_SHA256_LEN];
	char *line, *nl;
	uint64_t v, nobj = 0, seen = 0;
	size_t ln = 0;
	int r;

	*out = NULL;
	*lineno = 0;
	rs_buf_init(&b, RS_MAX_CACHE_BYTES);
	rs_buf_init(&scratch, 1024 * 1024);
	if ((r = sys_read_file(path, RS_MAX_CACHE_BYTES, &b)) != RS_OK)
		goto out;
	if ((r = dircache_new(&d)) != RS_OK)
		goto out;
	r = RS_ERR_FORMAT;
	/* Empty: no header (and b.data is still NULL). */
	if (b.len == 0)
		goto out;
	/* A NUL byte: report the line it is on. */
	if ((nl = memchr(b.data, '\0', b.len)) != NULL) {
		for (line = (char *)b.data; line < nl; line++)
			ln += *line == '\n';
		ln++;
		goto out;
	}
	for (line = (char *)b.data; *line != '\0'; line = nl) {
		ln++;
		if ((nl = strchr(line, '\n')) == NULL)
			goto out;
		*nl++ = '\0';
		if (ln == 1 && strcmp(line, DC_MAGIC) != 0)
			goto out;
		if (ln == 2 && (strncmp(line, "query ", 6) != 0 ||
		    strlen(line + 6) != 2 * RS_SHA256_LEN ||
		    rs_unhex(line + 6, RS_SHA256_LEN, qmd) != RS_OK))
			goto out;
		if (ln == 2)
			memcpy(d->src.query, line + 6, 2 * RS_SHA256_LEN + 1);
		if (ln == 3) {
			if (strncmp(line, "server ", 7) != 0 ||
			    strlen(line + 7) > RS_MAX_DSNAME)
				goto out;
			memcpy(d->src.server, line + 7, strlen(line + 7) + 1);
		}
		if (ln == 4 && (strncmp(line, "invocation ", 11) != 0 ||
		    strlen(line + 11) != 2 * RS_GUID_LEN ||
		    rs_unhex(line + 11, RS_GUID_LEN, d->src.invocation) !=
		    RS_OK))
			goto out;
		if (ln == 5 && dc_u64(line, "usn", &d->src.usn) != RS_OK)
			goto out;
		if (ln == 6) {
			if (dc_u64(line, "full", &v) != RS_OK ||
			    v > (uint64_t)INT64_MAX)
				goto out;
			d->src.full_time = (int64_t)v;
		}
		if (ln == 7 && dc_u64(line, "objects", &nobj) != RS_OK)
			goto out;
		if (ln == 8 && line[0] != '\0')
			goto out;
		if (ln <= 8)
			continue;
		if (seen == nobj)
			goto out;
		if ((r = dc_load_obj(d, line, prev, seen == 0, &scratch)) !=
		    RS_OK)
			goto out;
		r = RS_ERR_FORMAT;
		seen++;
	}
	if (ln < 8 || seen != nobj)
		goto out;
	*out = d;
	d = NULL;
	r = RS_OK;
out:
	if (r != RS_OK && r != RS_ERR_NOTFOUND)
		*lineno = ln;
	dircache_free(d);
	rs_buf_free(&b);
	rs_buf_free(&scratch);
	return r;
}
