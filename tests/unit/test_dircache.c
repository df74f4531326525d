/*
 * test_dircache.c - unit tests for agent-win/dir/dircache.c, the agent's cache
 * of the directory by objectGUID (change detection).
 *
 * - A randomized model test: a full export (dircache_add with duplicates,
 *   dircache_seal), then tens of thousands of dircache_set calls (insert,
 *   replace with a longer, shorter, same-length or equal set, remove,
 *   remove an absent object) over a few hundred GUIDs, checked against a
 *   reference model after every batch: dircache_count, dircache_list (the
 *   sorted unique union) and every *changed flag; now and then the saved
 *   file against the model's own rendering of it, byte for byte, which
 *   shows every object's addresses.  The addresses are long and the
 *   replacements many, so the garbage rule (more than 1 MiB and more than
 *   half the arena) fires many times: the model follows the arena's
 *   bookkeeping and counts the compactions, and the heap in use at the end
 *   (glibc's mallinfo2, or ASan's allocator statistics) shows the replaced
 *   bytes were really given back.
 * - dircache_add of duplicates and dircache_seal; dircache_norm (table and
 *   random sets against a reference sort).
 * - dircache_save/dircache_load round trips, and damaged files: each must
 *   be RS_ERR_FORMAT at the right line.  Each damaged file is loaded in a
 *   child process first, so a crash is one failure and not the end of the
 *   test, then again in this process, so the leak checker sees the error
 *   path.
 *
 * RS_SEED (decimal, or 0x hex) picks the random sequence; the default is
 * fixed; the seed in use is printed on stderr.  Scratch files live in
 * RS_TOP/build/tests/tmp/test_dircache.XXXXXX, removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_int.h"
#include "buf.h"
#include "rlist.h"
#include "rs_err.h"
#include "rs_limits.h"
#include "unit.h"

/* Heap in use, to see that dc_compact gave the replaced bytes back. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UT_ASAN	1
#endif
#if defined(UT_ASAN)
size_t	__sanitizer_get_current_allocated_bytes(void);
#define HAVE_HEAP_IN_USE 1
static size_t
heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#elif defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_HEAP_IN_USE 1
static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}
#endif

#define L(s)		s, sizeof(s) - 1
#define NGUID		300		/* objects in the model test */
#define MAXADDRS	16		/* addresses per object, at most */
#define MAXSET		(MAXADDRS * (RS_MAX_ADDR_LEN + 1))
#define NOPS		120000		/* dircache_set calls */
#define BATCH		1000		/* calls between full checks */
#define MIB		(1024 * 1024)

static char tmpdir[1024];

/* ---- helpers ---------------------------------------------------------- */

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
tmp_path(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", tmpdir, name);

	return n > 0 && (size_t)n < size;
}

static int
write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return 0;
	ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

/* Read a whole file into out (reset first); 0 on failure. */
static int
read_bytes(const char *path, struct rs_buf *out)
{
	char chunk[8192];
	FILE *f;
	size_t n;
	int ok = 1;

	rs_buf_reset(out);
	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (rs_buf_put(out, chunk, n) != RS_OK)
			ok = 0;
	if (ferror(f))
		ok = 0;
	fclose(f);
	return ok;
}

static int
same_bytes(const struct rs_buf *a, const struct rs_buf *b)
{
	return a->len == b->len &&
	    (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Random canonical local part of length n (no dot first, last, twice). */
static void
rand_local(char *buf, size_t n)
{
	static const char cs[] = "abcdefghijklmnopqrstuvwxyz0123456789-_+.";
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = cs[ut_rng() % (sizeof(cs) - 1)];
		if (c == '.' && (i == 0 || i == n - 1 || buf[i - 1] == '.'))
			c = 'x';
		buf[i] = c;
	}
}

static const char *const doms[] = { "corp.test", "example.org",
    "branch.corp.test", "a-rather-long-department-name.branch.corp.test" };

/* A random canonical address into buf; returns its length. */
static size_t
rand_addr(char *buf, size_t minlocal, size_t maxlocal)
{
	size_t n = minlocal + ut_rng() % (maxlocal - minlocal + 1), dl;
	const char *d = doms[ut_rng() % 4];

	rand_local(buf, n);
	buf[n++] = '@';
	dl = strlen(d);
	memcpy(buf + n, d, dl + 1);
	return n + dl;
}

/* Shared addresses, so objects overlap and the union has duplicates. */
#define NPOOL	150
static char pool[NPOOL][RS_MAX_ADDR_LEN + 1];

static void
pool_init(void)
{
	size_t i;

	for (i = 0; i < NPOOL; i++)
		rand_addr(pool[i], 1, 12);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The reference for "sorted, unique": split p[0..len) at its NULs, sort
 * (insertion sort, strcmp compares as unsigned char), drop repeats, and
 * write the result back.  Returns the new length.
 */
static size_t
ref_norm(char *p, size_t len)
{
	const char *v[4 * MAXADDRS];
	char tmp[4 * MAXSET];
	size_t n = 0, i, j, o = 0, k;
	const char *x;

	for (i = 0; i < len; i += strlen(p + i) + 1)
		v[n++] = p + i;
	for (i = 1; i < n; i++) {
		x = v[i];
		for (j = i; j > 0 && strcmp(v[j - 1], x) > 0; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i - 1], v[i]) == 0)
			continue;
		k = strlen(v[i]) + 1;
		memcpy(tmp + o, v[i], k);
		o += k;
	}
	memcpy(p, tmp, o);
	return o;
}

/* k random addresses, packed, sorted and unique; returns the length. */
static size_t
rand_set(char *out, size_t k)
{
	size_t i, len = 0;

	for (i = 0; i < k; i++) {
		if (ut_rng() % 4 == 0) {
			const char *s = pool[ut_rng() % NPOOL];

			memcpy(out + len, s, strlen(s) + 1);
			len += strlen(s) + 1;
		} else
			len += rand_addr(out + len, 20, 64) + 1;
	}
	return ref_norm(out, len);
}

/* ---- the model -------------------------------------------------------- */

struct mobj {
	unsigned char	guid[RS_GUID_LEN];
	size_t		len;		/* 0: not in the cache */
	char		addrs[MAXSET];
};

static struct mobj model[NGUID];	/* sorted by GUID */

/* The arena's bookkeeping as dircache.c documents it. */
struct acct {
	size_t		used, garbage, live;
	uint64_t	appended;	/* bytes ever stored */
	unsigned	compactions;
};

static int
cmp_mobj(const void *a, const void *b)
{
	return memcmp(((const struct mobj *)a)->guid,
	    ((const struct mobj *)b)->guid, RS_GUID_LEN);
}

/*
 * Random GUIDs, sorted and unique; some share all bytes but the last, and
 * some all but the first, so the whole 16 bytes take part in the order.
 */
static void
model_init(void)
{
	size_t i, j;
	int again;

	do {
		for (i = 0; i < NGUID; i++) {
			model[i].len = 0;
			for (j = 0; j < RS_GUID_LEN; j++)
				model[i].guid[j] = (unsigned char)ut_rng();
			if (i % 10 == 1) {
				memcpy(model[i].guid, model[i - 1].guid,
				    RS_GUID_LEN);
				model[i].guid[RS_GUID_LEN - 1] ^= 1;
			} else if (i % 10 == 2) {
				memcpy(model[i].guid, model[i - 1].guid,
				    RS_GUID_LEN);
				model[i].guid[0] ^= 0x80;
			}
		}
		model[0].guid[0] = 0;		/* an extreme at each end */
		model[3].guid[0] = 0xff;
		qsort(model, NGUID, sizeof(model[0]), cmp_mobj);
		again = 0;
		for (i = 1; i < NGUID; i++)
			if (cmp_mobj(&model[i - 1], &model[i]) == 0)
				again = 1;
	} while (again);
}

/* Record a set in the model and the bookkeeping; returns "changed". */
static int
model_set(struct acct *a, size_t g, const char *addrs, size_t len)
{
	struct mobj *o = &model[g];
	size_t old = o->len;

	if (old == len && memcmp(o->addrs, addrs, len) == 0)
		return 0;
	if (old == 0) {
		a->used += len;
		a->appended += len;
	} else if (len <= old) {
		a->garbage += old - len;
	} else {
		a->used += len;
		a->appended += len;
		a->garbage += old;
	}
	a->live = a->live - old + len;
	memcpy(o->addrs, addrs, len);
	o->len = len;
	if (a->garbage > MIB && a->garbage > a->used / 2) {
		a->compactions++;
		a->used = a->live;
		a->garbage = 0;
	}
	return 1;
}

/* dircache_list against the sorted unique union of objs[0..n). */
static int
check_list(const struct dircache *dc, const struct mobj *objs, size_t n,
    const char *when)
{
	static const char *v[NGUID * MAXADDRS];
	struct rlist *l = NULL;
	size_t nv = 0, k = 0, i, len;
	const char *p, *end, *q;
	int ok = 0;

	for (i = 0; i < n; i++) {
		p = objs[i].addrs;
		end = p + objs[i].len;
		for (; p < end; p += strlen(p) + 1)
			v[nv++] = p;
	}
	qsort(v, nv, sizeof(v[0]), cmp_strp);
	for (i = 0; i < nv; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	if (dircache_list(dc, &l) != RS_OK) {
		fprintf(stderr, "%s: dircache_list failed\n", when);
		goto out;
	}
	if (rlist_count(l) != k) {
		fprintf(stderr, "%s: list has %zu entries, model %zu\n", when,
		    rlist_count(l), k);
		goto out;
	}
	for (i = 0; i < k; i++) {
		q = rlist_get(l, i, &len);
		if (q == NULL || len != strlen(v[i]) ||
		    memcmp(q, v[i], len) != 0) {
			fprintf(stderr, "%s: list entry %zu differs (%s)\n",
			    when, i, v[i]);
			goto out;
		}
	}
	ok = 1;
out:
	rlist_free(l);
	return ok;
}

/*
 * The file dircache_save should write for src and the present objects of
 * objs[0..n) (sorted by GUID), rendered here independently.
 */
static int
render(struct rs_buf *out, const struct dircache_src *src,
    const struct mobj *objs, size_t n)
{
	char h[2 * RS_GUID_LEN + 1];
	const char *p, *end;
	size_t i, count = 0;
	int r;

	rs_buf_reset(out);
	for (i = 0; i < n; i++)
		count += objs[i].len > 0;
	hex(src->invocation, RS_GUID_LEN, h);
	r = rs_buf_printf(out, "rcptsync-dircache 1\nquery %s\nserver %s\n"
	    "invocation %s\nusn %" PRIu64 "\nfull %" PRId64 "\nobjects %zu\n\n",
	    src->query, src->server, h, src->usn, src->full_time, count);
	for (i = 0; r == RS_OK && i < n; i++) {
		if (objs[i].len == 0)
			continue;
		hex(objs[i].guid, RS_GUID_LEN, h);
		r = rs_buf_put(out, h, 2 * RS_GUID_LEN);
		p = objs[i].addrs;
		end = p + objs[i].len;
		for (; r == RS_OK && p < end; p += strlen(p) + 1)
			if ((r = rs_buf_put(out, " ", 1)) == RS_OK)
				r = rs_buf_put(out, p, strlen(p));
		if (r == RS_OK)
			r = rs_buf_put(out, "\n", 1);
	}
	return r == RS_OK;
}

/* Save dc and compare the file with the rendering of objs. */
static int
check_saved(const struct dircache *dc, const struct dircache_src *src,
    const struct mobj *objs, size_t n, const char *path, const char *when)
{
	struct rs_buf want, got;
	int ok = 0, r;

	rs_buf_init(&want, RS_MAX_CACHE_BYTES);
	rs_buf_init(&got, RS_MAX_CACHE_BYTES);
	if ((r = dircache_save(dc, path)) != RS_OK) {
		fprintf(stderr, "%s: dircache_save: %s\n", when,
		    rs_err_str(r));
		goto out;
	}
	if (!render(&want, src, objs, n) || !read_bytes(path, &got))
		goto out;
	if (!same_bytes(&want, &got)) {
		fprintf(stderr, "%s: %s is not what the model renders "
		    "(%zu vs %zu bytes)\n", when, path, got.len, want.len);
		goto out;
	}
	ok = 1;
out:
	rs_buf_free(&want);
	rs_buf_free(&got);
	return ok;
}

static void
set_src(struct dircache_src *s, uint64_t usn, int64_t full,
    const char *server)
{
	unsigned char q[RS_SHA256_LEN];
	size_t i;

	for (i = 0; i < RS_SHA256_LEN; i++)
		q[i] = (unsigned char)ut_rng();
	hex(q, RS_SHA256_LEN, s->query);
	snprintf(s->server, sizeof(s->server), "%s", server);
	for (i = 0; i < RS_GUID_LEN; i++)
		s->invocation[i] = (unsigned char)ut_rng();
	s->usn = usn;
	s->full_time = full;
}

static int
same_src(const struct dircache_src *a, const struct dircache_src *b)
{
	return strcmp(a->query, b->query) == 0 &&
	    strcmp(a->server, b->server) == 0 &&
	    memcmp(a->invocation, b->invocation, RS_GUID_LEN) == 0 &&
	    a->usn == b->usn && a->full_time == b->full_time;
}

/* What the next dircache_set does to a present or absent object. */
enum opkind {
	OP_INSERT, OP_LONGER, OP_SHORTER, OP_SAMELEN, OP_EQUAL, OP_REMOVE,
	OP_REMOVE_ABSENT, OP_NKINDS
};
static const char *const opnames[OP_NKINDS] = { "insert", "longer",
    "shorter", "same length", "equal", "remove", "remove absent" };

/* A new set for present object o; the kind of change is whatever results. */
static size_t
next_set(const struct mobj *o, char *out)
{
	size_t len = o->len, i, n, pos, k, drop;
	unsigned x = (unsigned)(ut_rng() % 100);
	const char *p;
	char *a;

	if (x < 12)
		return 0;				/* remove */
	memcpy(out, o->addrs, len);
	if (x < 25)
		return len;				/* equal */
	for (n = 0, p = out; p < out + len; p += strlen(p) + 1)
		n++;
	if (x < 45) {					/* add some */
		k = 1 + ut_rng() % 4;
		for (i = 0; i < k && n + i < MAXADDRS; i++)
			len += rand_addr(out + len, 20, 64) + 1;
		return ref_norm(out, len);
	}
	if (x < 65 && n > 1) {				/* drop some */
		drop = 1 + ut_rng() % (n - 1);
		while (drop-- > 0) {
			pos = ut_rng() % n--;
			for (a = out; pos-- > 0; a += strlen(a) + 1)
				;
			k = strlen(a) + 1;
			memmove(a, a + k, (size_t)(out + len - a) - k);
			len -= k;
		}
		return len;
	}
	if (x < 85) {					/* same length */
		pos = ut_rng() % n;
		for (a = out; pos-- > 0; a += strlen(a) + 1)
			;
		/* A letter of the local part becomes another letter. */
		for (i = 0; a[i] != '@'; i++)
			if (a[i] >= 'a' && a[i] <= 'z') {
				a[i] = (char)('a' + (a[i] - 'a' + 1 +
				    ut_rng() % 25) % 26);
				break;
			}
		return ref_norm(out, len);
	}
	return rand_set(out, 1 + ut_rng() % MAXADDRS);	/* fresh */
}

static void
test_model(void)
{
	static char buf[4 * MAXSET];
	struct dircache *dc = NULL;
	struct dircache_src *src;
	struct acct a;
	struct rs_buf nb;
	unsigned long kinds[OP_NKINDS];
	char path[1200], name[200];
	size_t i, g, len, old, dups = 0, extra = 0, heap0 = 0, heap1 = 0;
	size_t batch_fail = 0, compact_checks = 0, lastc = 0, present;
	int changed, want, r, ok_changed = 1, ok_count = 1, ok_list = 1;
	int ok_file = 1, ok_norm = 1, ok_set = 1;

	memset(&a, 0, sizeof(a));
	memset(kinds, 0, sizeof(kinds));
	rs_buf_init(&nb, 4 * MAXSET);
	model_init();
	if (!tmp_path(path, sizeof(path), "model"))
		ok_file = 0;
#if defined(HAVE_HEAP_IN_USE)
	heap0 = heap_in_use();
#endif
	if (dircache_new(&dc) != RS_OK) {
		UT_CHECK("dircache model: dircache_new", 0);
		return;
	}
	src = dircache_src(dc);
	set_src(src, 1000, 1763900000, "CN=NTDS Settings,CN=DC1,CN=Servers,"
	    "CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,"
	    "DC=test");

	/* A full export of every other object, some of them read twice. */
	for (i = 0; i < NGUID; i += 2) {
		len = rand_set(buf, 1 + ut_rng() % MAXADDRS);
		model_set(&a, i, buf, len);	/* inserts: no garbage yet */
	}
	for (i = NGUID; i-- > 0;) {
		if (model[i].len == 0)
			continue;
		if (dircache_add(dc, model[i].guid, model[i].addrs,
		    model[i].len) != RS_OK)
			ok_set = 0;
		if (i % 7 == 0) {
			dircache_add(dc, model[i].guid, model[i].addrs,
			    model[i].len);
			a.used += model[i].len;
			a.garbage += model[i].len;
			dups++;
		}
	}
	extra = dircache_seal(dc);
	UT_CHECK("dircache model: full export sealed", ok_set &&
	    extra == dups && dircache_count(dc) == NGUID / 2 &&
	    check_list(dc, model, NGUID, "after seal"));

	for (i = 1; i <= NOPS; i++) {
		g = ut_rng() % NGUID;
		old = model[g].len;
		if (old == 0)
			len = ut_rng() % 4 == 0 ? 0 :
			    rand_set(buf, 1 + ut_rng() % MAXADDRS);
		else
			len = next_set(&model[g], buf);

		/* dircache_norm on a shuffled copy with repeats. */
		if (len > 0 && i % 5 == 0) {
			const char *p, *q[2 * MAXADDRS];
			size_t n = 0, j, t;

			for (p = buf; p < buf + len; p += strlen(p) + 1) {
				q[n++] = p;
				if (ut_rng() % 3 == 0)
					q[n++] = p;
			}
			for (j = n; j > 1; j--) {
				t = ut_rng() % j;
				p = q[t];
				q[t] = q[j - 1];
				q[j - 1] = p;
			}
			rs_buf_reset(&nb);
			for (j = 0; j < n; j++)
				rs_buf_put(&nb, q[j], strlen(q[j]) + 1);
			if (dircache_norm(&nb) != RS_OK || nb.len != len ||
			    memcmp(nb.data, buf, len) != 0 ||
			    nb.data[nb.len] != '\0')
				ok_norm = 0;
		}

		if (old == 0)
			kinds[len == 0 ? OP_REMOVE_ABSENT : OP_INSERT]++;
		else if (len == 0)
			kinds[OP_REMOVE]++;
		else if (len == old && memcmp(buf, model[g].addrs, len) == 0)
			kinds[OP_EQUAL]++;
		else
			kinds[len > old ? OP_LONGER : len < old ? OP_SHORTER :
			    OP_SAMELEN]++;

		changed = -1;
		r = dircache_set(dc, model[g].guid, buf, len, &changed);
		want = model_set(&a, g, buf, len);
		if (r != RS_OK) {
			if (ok_set)
				fprintf(stderr, "op %zu: dircache_set: %s\n",
				    i, rs_err_str(r));
			ok_set = 0;
		}
		if (changed != want) {
			if (ok_changed)
				fprintf(stderr, "op %zu: changed %d, want %d "
				    "(len %zu -> %zu)\n", i, changed, want,
				    old, len);
			ok_changed = 0;
		}
		if (i % BATCH != 0)
			continue;
		snprintf(name, sizeof(name), "after op %zu", i);
		for (g = present = 0; g < NGUID; g++)
			present += model[g].len > 0;
		if (dircache_count(dc) != present) {
			if (ok_count)
				fprintf(stderr, "%s: count %zu, model %zu\n",
				    name, dircache_count(dc), present);
			ok_count = 0;
		}
		if (!check_list(dc, model, NGUID, name)) {
			ok_list = 0;
			batch_fail++;
		}
		/* After a batch in which the rule fired: every object. */
		if (a.compactions != lastc || i == NOPS) {
			lastc = a.compactions;
			compact_checks++;
			if (!check_saved(dc, src, model, NGUID, path, name))
				ok_file = 0;
		}
	}
#if defined(HAVE_HEAP_IN_USE)
	heap1 = heap_in_use();
#endif
	fprintf(stderr, "model: %d ops, %zu objects, live %zu bytes, %" PRIu64
	    " bytes stored in all, %u compactions, heap %zu -> %zu\n", NOPS,
	    dircache_count(dc), a.live, a.appended, a.compactions, heap0,
	    heap1);
	for (i = 0; i < OP_NKINDS; i++)
		fprintf(stderr, "model: %-13s %lu\n", opnames[i], kinds[i]);
	if (batch_fail > 0)
		fprintf(stderr, "model: %zu batches with a wrong list\n",
		    batch_fail);

	UT_CHECK("dircache model: dircache_set returns RS_OK", ok_set);
	UT_CHECK("dircache model: *changed flags", ok_changed);
	UT_CHECK("dircache model: dircache_count", ok_count);
	UT_CHECK("dircache model: dircache_list is the union", ok_list);
	UT_CHECK("dircache model: saved file has every object", ok_file &&
	    compact_checks >= 4);
	UT_CHECK("dircache model: dircache_norm on random sets", ok_norm);
	{
		int all = 1;

		for (i = 0; i < OP_NKINDS; i++)
			if (kinds[i] < 100)
				all = 0;
		UT_CHECK("dircache model: every kind of change exercised",
		    all);
	}
	UT_CHECK("dircache model: garbage rule fired 10+ times",
	    a.compactions >= 10);
#if defined(HAVE_HEAP_IN_USE)
	/*
	 * Without compaction the arena would hold every byte ever stored;
	 * with it, at most the live bytes plus 1 MiB of garbage (or as
	 * much as live), doubled by growth: under 3 MiB here.
	 */
	UT_CHECK("dircache model: compaction frees the garbage",
	    a.appended >= 16 * MIB && heap1 >= heap0 &&
	    heap1 - heap0 < 4 * MIB);
#else
	printf("skip - dircache model: compaction frees the garbage: no heap "
	    "statistics in this C library\n");
#endif

	/* The saved file loads back to the same objects. */
	{
		struct dircache *d2 = NULL;
		size_t line = 99;

		r = dircache_load(path, &d2, &line);
		UT_CHECK("dircache model: reload", r == RS_OK && d2 != NULL &&
		    line == 0 && same_src(src, dircache_src(d2)) &&
		    dircache_count(d2) == dircache_count(dc) &&
		    check_list(d2, model, NGUID, "reloaded") &&
		    check_saved(d2, src, model, NGUID, path, "reloaded"));
		dircache_free(d2);
	}
	rs_buf_free(&nb);
	dircache_free(dc);
	remove(path);
}

/* ---- dircache_add + dircache_seal -------------------------------------- */

static void
test_seal(void)
{
	static struct mobj objs[64];
	struct dircache *dc = NULL;
	struct dircache_src *src;
	struct rlist *l = NULL;
	char path[1200], seen[64];
	size_t i, n, k, dups, want_dups = 0, len, order[64 * 3];
	int changed, ok;

	if (!tmp_path(path, sizeof(path), "seal"))
		path[0] = '\0';
	/* Sorted unique GUIDs, each with a set. */
	for (i = 0; i < 64; i++) {
		for (k = 0; k < RS_GUID_LEN; k++)
			objs[i].guid[k] = (unsigned char)ut_rng();
		objs[i].guid[0] = (unsigned char)(i * 4);	/* unique */
		objs[i].len = rand_set(objs[i].addrs, 1 + ut_rng() % 5);
	}
	/* Every object once, every third twice more, in a random order. */
	for (i = n = 0; i < 64; i++) {
		order[n++] = i;
		if (i % 3 == 0) {
			order[n++] = i;
			order[n++] = i;
			want_dups += 2;
		}
	}
	for (i = n; i > 1; i--) {
		size_t t = ut_rng() % i, x = order[t];

		order[t] = order[i - 1];
		order[i - 1] = x;
	}
	dircache_new(&dc);
	src = dircache_src(dc);
	set_src(src, 42, 1763900000, "CN=NTDS Settings,CN=DC2,DC=corp,DC=test");
	ok = 1;
	for (i = 0; i < n; i++)
		if (dircache_add(dc, objs[order[i]].guid, objs[order[i]].addrs,
		    objs[order[i]].len) != RS_OK)
			ok = 0;
	/* An object with no address is not kept. */
	ok = ok && dircache_add(dc, objs[5].guid, "", 0) == RS_OK;
	dups = dircache_seal(dc);
	UT_CHECK("dircache_seal returns the duplicates", ok &&
	    dups == want_dups);
	UT_CHECK("dircache_seal keeps one of each", dircache_count(dc) == 64);
	UT_CHECK("dircache_seal sorts by GUID (saved file)",
	    path[0] != '\0' && check_saved(dc, src, objs, 64, path, "seal"));
	UT_CHECK("dircache_seal again finds none", dircache_seal(dc) == 0 &&
	    dircache_count(dc) == 64);
	UT_CHECK("dircache_seal: dircache_list",
	    check_list(dc, objs, 64, "seal"));
	/* Searchable after the seal: equal sets change nothing. */
	ok = 1;
	for (i = 0; i < 64; i++) {
		changed = -1;
		if (dircache_set(dc, objs[i].guid, objs[i].addrs, objs[i].len,
		    &changed) != RS_OK || changed != 0)
			ok = 0;
	}
	UT_CHECK("dircache_set after seal finds every object", ok &&
	    dircache_count(dc) == 64);
	dircache_free(dc);
	dc = NULL;

	/* Copies that differ: one of them stays, whole. */
	dircache_new(&dc);
	dircache_add(dc, objs[1].guid, L("b@corp.test\0"));
	dircache_add(dc, objs[0].guid, L("x@corp.test\0"));
	dircache_add(dc, objs[1].guid, L("a@corp.test\0c@corp.test\0"));
	dups = dircache_seal(dc);
	ok = dups == 1 && dircache_count(dc) == 2 &&
	    dircache_list(dc, &l) == RS_OK;
	memset(seen, 0, sizeof(seen));
	for (i = 0; ok && i < rlist_count(l); i++) {
		const char *p = rlist_get(l, i, &len);

		if (len == 11 && p[1] == '@')
			seen[(unsigned char)p[0] - 'a'] = 1;
	}
	UT_CHECK("dircache_seal keeps one copy whole", ok && seen['x' - 'a'] &&
	    ((seen[1] && !seen[0] && !seen[2] && rlist_count(l) == 2) ||
	    (!seen[1] && seen[0] && seen[2] && rlist_count(l) == 3)));
	rlist_free(l);
	dircache_free(dc);
	dc = NULL;

	/* Empty and single-object caches. */
	dircache_new(&dc);
	ok = dircache_seal(dc) == 0 && dircache_count(dc) == 0;
	dircache_add(dc, objs[0].guid, objs[0].addrs, objs[0].len);
	ok = ok && dircache_seal(dc) == 0 && dircache_count(dc) == 1;
	UT_CHECK("dircache_seal on 0 and 1 objects", ok);
	dircache_free(dc);
	dircache_free(NULL);
	if (path[0] != '\0')
		remove(path);
}

/* ---- dircache_norm ---------------------------------------------------- */

struct normcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*want;
	size_t		 wantlen;
};

static const struct normcase normcases[] = {
	{ "empty", L(""), L("") },
	{ "no NUL (0 elements) left alone", L("b@x.y"), L("b@x.y") },
	{ "one element", L("b@x.y\0"), L("b@x.y\0") },
	{ "two, swapped", L("b@x.y\0a@x.y\0"), L("a@x.y\0b@x.y\0") },
	{ "two, in order", L("a@x.y\0b@x.y\0"), L("a@x.y\0b@x.y\0") },
	{ "two equal", L("a@x.y\0a@x.y\0"), L("a@x.y\0") },
	{ "three equal", L("a@x.y\0a@x.y\0a@x.y\0"), L("a@x.y\0") },
	{ "repeats apart", L("c@x.y\0a@x.y\0c@x.y\0b@x.y\0a@x.y\0"),
	    L("a@x.y\0b@x.y\0c@x.y\0") },
	{ "prefix first", L("a@x.yz\0a@x.y\0"), L("a@x.y\0a@x.yz\0") },
	{ "bytewise", L("a~@x.y\0aa@x.y\0a0@x.y\0a.b@x.y\0a-@x.y\0"),
	    L("a-@x.y\0a.b@x.y\0a0@x.y\0aa@x.y\0a~@x.y\0") },
	{ "unsigned bytes", L("\xc3\xa9@x.y\0z@x.y\0\x7f@x.y\0"),
	    L("z@x.y\0\x7f@x.y\0\xc3\xa9@x.y\0") },
	{ "'@' against letters", L("ab@x.y\0a@x.y\0"),
	    L("a@x.y\0ab@x.y\0") },
};

static void
test_norm(void)
{
	struct rs_buf b;
	char name[200];
	size_t i;
	int r, ok;

	for (i = 0; i < sizeof(normcases) / sizeof(normcases[0]); i++) {
		const struct normcase *c = &normcases[i];

		rs_buf_init(&b, 4096);
		if (c->inlen > 0)
			rs_buf_put(&b, c->in, c->inlen);
		r = dircache_norm(&b);
		ok = r == RS_OK && b.len == c->wantlen &&
		    (b.len == 0 || memcmp(b.data, c->want, b.len) == 0) &&
		    (b.data == NULL || b.data[b.len] == '\0');
		snprintf(name, sizeof(name), "dircache_norm %s", c->name);
		UT_CHECK(name, ok);
		rs_buf_free(&b);
	}
}

/* ---- save/load round trips --------------------------------------------- */

static void
test_roundtrip(void)
{
	static struct mobj objs[40];
	static char longsrv[RS_MAX_DSNAME + 1];
	struct dircache *dc = NULL, *d2 = NULL;
	struct rs_buf f1, f2;
	struct stat st;
	char path[1200], path2[1200];
	size_t i, k, line;
	int r, ok;

	rs_buf_init(&f1, RS_MAX_CACHE_BYTES);
	rs_buf_init(&f2, RS_MAX_CACHE_BYTES);
	if (!tmp_path(path, sizeof(path), "dircache") ||
	    !tmp_path(path2, sizeof(path2), "dircache2")) {
		UT_CHECK("dircache round trip: paths", 0);
		return;
	}
	for (i = 0; i < 40; i++) {
		for (k = 0; k < RS_GUID_LEN; k++)
			objs[i].guid[k] = (unsigned char)ut_rng();
		objs[i].guid[0] = (unsigned char)(i * 6);
		objs[i].len = rand_set(objs[i].addrs, 1 + ut_rng() % 8);
	}
	/* The longest address there is, alone. */
	{
		char *a = objs[7].addrs;

		memset(a, 'l', RS_MAX_LOCAL_LEN);
		a[RS_MAX_LOCAL_LEN] = '@';
		k = RS_MAX_LOCAL_LEN + 1;
		while (k + 64 < RS_MAX_ADDR_LEN) {
			memset(a + k, 'd', 62);
			a[k + 62] = '.';
			k += 63;
		}
		memset(a + k, 'e', RS_MAX_ADDR_LEN - k);
		a[RS_MAX_ADDR_LEN] = '\0';
		objs[7].len = RS_MAX_ADDR_LEN + 1;
	}
	dircache_new(&dc);
	for (i = 0; i < 40; i++)
		dircache_add(dc, objs[i].guid, objs[i].addrs, objs[i].len);
	dircache_seal(dc);
	set_src(dircache_src(dc), UINT64_MAX, INT64_MAX,
	    "CN=NTDS Settings,CN=DC1 Zürich – Süd,CN=Servers,"
	    "CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,"
	    "DC=test");
	r = dircache_save(dc, path);
	UT_CHECK("dircache_save", r == RS_OK);
	UT_CHECK("dircache_save writes the documented format",
	    check_saved(dc, dircache_src(dc), objs, 40, path, "roundtrip"));
	UT_CHECK("dircache_save mode 0600", stat(path, &st) == 0 &&
	    (st.st_mode & 0777) == 0600);
	line = 99;
	r = dircache_load(path, &d2, &line);
	ok = r == RS_OK && d2 != NULL && line == 0;
	UT_CHECK("dircache_load", ok);
	UT_CHECK("dircache round trip: src (UTF-8 server, max usn, time)",
	    ok && same_src(dircache_src(dc), dircache_src(d2)));
	UT_CHECK("dircache round trip: objects", ok &&
	    dircache_count(d2) == 40 && dircache_save(d2, path2) == RS_OK &&
	    read_bytes(path, &f1) && read_bytes(path2, &f2) &&
	    same_bytes(&f1, &f2));
	dircache_free(d2);
	d2 = NULL;

	/* A server name of the longest length, usn 0, time 0. */
	memset(longsrv, 'x', RS_MAX_DSNAME);
	memcpy(longsrv, "CN=NTDS Settings,", 17);
	set_src(dircache_src(dc), 0, 0, longsrv);
	r = dircache_save(dc, path);
	r = r == RS_OK ? dircache_load(path, &d2, &line) : r;
	UT_CHECK("dircache round trip: longest server, zeros", r == RS_OK &&
	    same_src(dircache_src(dc), dircache_src(d2)) &&
	    dircache_count(d2) == 40);
	dircache_free(d2);
	d2 = NULL;
	dircache_free(dc);
	dc = NULL;

	/* An empty cache. */
	dircache_new(&dc);
	set_src(dircache_src(dc), 3937, 1763900000, "");
	r = dircache_save(dc, path);
	ok = r == RS_OK && check_saved(dc, dircache_src(dc), objs, 0, path,
	    "empty");
	r = dircache_load(path, &d2, &line);
	UT_CHECK("dircache round trip: empty cache", ok && r == RS_OK &&
	    d2 != NULL && dircache_count(d2) == 0 &&
	    same_src(dircache_src(dc), dircache_src(d2)));
	dircache_free(d2);
	dircache_free(dc);
	remove(path);
	remove(path2);
	rs_buf_free(&f1);
	rs_buf_free(&f2);
}

/* ---- damaged files ----------------------------------------------------- */

#define Q	"5e0c8b4f2f0e1d7a9c3b6a5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
#define H1	"rcptsync-dircache 1\n"
#define H2	"query " Q "\n"
#define H3	"server CN=NTDS Settings,CN=DC1,CN=Servers,DC=corp,DC=test\n"
#define H4	"invocation 8acb1876aea7d44e97af60726fb5d6c8\n"
#define H5	"usn 3937\n"
#define H6	"full 1763900000\n"
#define H7	"objects 2\n"
#define H8	"\n"
#define G1	"00112233445566778899aabbccddeeff"
#define G2	"4b64ccb56afa2749b13deb6ba8194c89"
#define O9	G1 " a@example.test b@example.test\n"
#define O10	G2 " alice@example.test\n"
#define HEAD	H1 H2 H3 H4 H5 H6 H7 H8
#define HEAD5	H1 H2 H3 H4
#define HEAD7	H7 H8

struct dmgcase {
	const char	*name;
	const char	*text;
	size_t		 len;
	size_t		 line;		/* 0 with RS_OK: loads */
};

static const struct dmgcase dmgcases[] = {
	{ "valid file (control)", L(HEAD O9 O10), 0 },
	{ "usn 0 (control)", L(HEAD5 "usn 0\n" H6 HEAD7
	    O9 O10), 0 },
	{ "largest usn (control)", L(HEAD5 "usn 18446744073709551615\n" H6
	    HEAD7 O9 O10), 0 },
	{ "empty file", L(""), 0 },
	{ "wrong magic", L("rcptsync-dircache 2\n" H2 H3 H4 H5 H6 HEAD7 O9
	    O10), 1 },
	{ "magic with a trailing space", L("rcptsync-dircache 1 \n" H2 H3 H4
	    H5 H6 HEAD7 O9 O10), 1 },
	{ "CRLF", L("rcptsync-dircache 1\r\n" H2 H3 H4 H5 H6 HEAD7 O9 O10),
	    1 },
	{ "magic only", L(H1), 1 },
	{ "short header (5 lines)", L(H1 H2 H3 H4 H5), 5 },
	{ "header without the blank line", L(H1 H2 H3 H4 H5 H6
	    "objects 0\n"), 7 },
	{ "line 8 not blank", L(H1 H2 H3 H4 H5 H6 H7 "x\n" O9 O10), 8 },
	{ "query too short", L(H1 "query 5e0c\n" H3 H4 H5 H6 HEAD7 O9 O10),
	    2 },
	{ "no query key", L(H1 "qurey " Q "\n" H3 H4 H5 H6 HEAD7 O9 O10), 2 },
	{ "invocation not hex", L(H1 H2 H3
	    "invocation 8acb1876aea7d44e97af60726fb5d6cg\n" H5 H6 HEAD7 O9 O10),
	    4 },
	{ "objects with a leading zero", L(HEAD5 H5 H6 "objects 02\n" H8 O9
	    O10), 7 },
	{ "bad hex in GUID", L(HEAD "00112233445566778899aabbccddeefg "
	    "a@example.test\n" O10), 9 },
	{ "upper case hex in GUID", L(HEAD "00112233445566778899AABBCCDDEEFF "
	    "a@example.test\n" O10), 9 },
	{ "GUID too short", L(HEAD "00112233445566778899aabbccddeef "
	    "a@example.test\n" O10), 9 },
	{ "GUID without addresses", L(HEAD G1 "\n" O10), 9 },
	{ "GUID, space, nothing", L(HEAD G1 " \n" O10), 9 },
	{ "two spaces between addresses", L(HEAD G1 " a@example.test  "
	    "b@example.test\n" O10), 9 },
	{ "trailing space", L(HEAD O9 G2 " alice@example.test \n"), 10 },
	{ "GUIDs not ascending", L(HEAD O10 O9), 10 },
	{ "duplicate GUID", L(HEAD O9 G1 " c@example.test\n"), 10 },
	{ "addresses not ascending", L(HEAD O9 G2 " bob@example.test "
	    "alice@example.test\n"), 10 },
	{ "address repeated", L(HEAD G1 " a@example.test a@example.test\n"
	    O10), 9 },
	{ "address with upper case", L(HEAD O9 G2 " Alice@example.test\n"),
	    10 },
	{ "address with one label", L(HEAD O9 G2 " alice@localhost\n"), 10 },
	{ "address with '#'", L(HEAD O9 G2 " al#ice@example.test\n"), 10 },
	{ "address without @", L(HEAD G1 " a.example.test\n" O10), 9 },
	{ "more lines than objects", L(H1 H2 H3 H4 H5 H6 "objects 1\n" H8 O9
	    O10), 10 },
	{ "objects 0 with a line", L(H1 H2 H3 H4 H5 H6 "objects 0\n" H8 O9),
	    9 },
	{ "fewer lines than objects", L(H1 H2 H3 H4 H5 H6 "objects 3\n" H8 O9
	    O10), 10 },
	{ "objects but no lines", L(HEAD), 8 },
	{ "missing final newline", L(HEAD O9 G2 " alice@example.test"), 10 },
	{ "missing final newline in the header", L(H1 H2 H3 H4 H5 H6
	    "objects 0"), 7 },
	{ "NUL in an address", L(HEAD O9 G2 " alice@exa\0mple.test\n"), 10 },
	{ "NUL in the server line", L(H1 H2 "server CN=NTDS\0 Settings\n" H4
	    H5 H6 HEAD7 O9 O10), 3 },
	{ "usn with a leading zero", L(HEAD5 "usn 03937\n" H6 HEAD7 O9 O10),
	    5 },
	{ "usn 00", L(HEAD5 "usn 00\n" H6 HEAD7 O9 O10), 5 },
	{ "usn overflow", L(HEAD5 "usn 18446744073709551616\n" H6 HEAD7 O9
	    O10), 5 },
	{ "usn far too large", L(HEAD5 "usn 99999999999999999999999\n" H6
	    HEAD7 O9 O10), 5 },
	{ "usn negative", L(HEAD5 "usn -1\n" H6 HEAD7 O9 O10), 5 },
	{ "usn empty", L(HEAD5 "usn \n" H6 HEAD7 O9 O10), 5 },
	{ "usn with a plus", L(HEAD5 "usn +1\n" H6 HEAD7 O9 O10), 5 },
	{ "usn with trailing junk", L(HEAD5 "usn 12x\n" H6 HEAD7 O9 O10), 5 },
	{ "full time beyond int64", L(HEAD5 H5 "full 9223372036854775808\n"
	    HEAD7 O9 O10), 6 },
	{ "full time with a leading zero", L(HEAD5 H5 "full 01\n" HEAD7 O9
	    O10), 6 },
};

/* What one dircache_load did. */
struct loadres {
	int	r;
	size_t	line;
	int	out_null;
};

static void
load_once(const char *path, struct loadres *res)
{
	struct dircache *d = NULL;

	res->line = 99;
	res->r = dircache_load(path, &d, &res->line);
	res->out_null = d == NULL;
	dircache_free(d);
}

/*
 * Load path in a child: 1 with *res filled, 0 if the child died (the
 * reason on stderr).
 */
static int
load_in_child(const char *path, struct loadres *res, const char *name)
{
	unsigned char *p = (unsigned char *)res;
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	int fds[2], st;

	fflush(stdout);
	fflush(stderr);
	if (pipe(fds) != 0)
		return 0;
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	if (pid == 0) {
		close(fds[0]);
		load_once(path, res);
		n = write(fds[1], res, sizeof(*res));
		_exit(n == (ssize_t)sizeof(*res) ? 0 : 1);
	}
	close(fds[1]);
	while (got < sizeof(*res)) {
		n = read(fds[0], p + got, sizeof(*res) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (got == sizeof(*res) && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	if (WIFSIGNALED(st))
		fprintf(stderr, "%s: dircache_load died of signal %d\n", name,
		    WTERMSIG(st));
	else
		fprintf(stderr, "%s: dircache_load child exited %d\n", name,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

static void
test_damaged(void)
{
	struct loadres res;
	char path[1200], name[300];
	size_t i, want;
	int wantr, ok;

	if (!tmp_path(path, sizeof(path), "damaged")) {
		UT_CHECK("dircache_load damaged: path", 0);
		return;
	}
	for (i = 0; i < sizeof(dmgcases) / sizeof(dmgcases[0]); i++) {
		const struct dmgcase *c = &dmgcases[i];

		snprintf(name, sizeof(name), "dircache_load %s", c->name);
		/* Controls load; everything else is damaged. */
		wantr = strstr(c->name, "(control)") != NULL ? RS_OK :
		    RS_ERR_FORMAT;
		want = c->line;
		if (!write_bytes(path, c->text, c->len)) {
			UT_CHECK(name, 0);
			continue;
		}
		ok = load_in_child(path, &res, name);
		if (ok)
			load_once(path, &res);
		if (ok && (res.r != wantr || res.line != want ||
		    res.out_null != (wantr != RS_OK)))
			fprintf(stderr, "%s: got %s line %zu, want %s line %zu\n",
			    name, rs_err_str(res.r), res.line,
			    rs_err_str(wantr), want);
		UT_CHECK(name, ok && res.r == wantr && res.line == want &&
		    res.out_null == (wantr != RS_OK));
	}
	remove(path);
	load_once(path, &res);
	UT_CHECK("dircache_load missing file: RS_ERR_NOTFOUND",
	    res.r == RS_ERR_NOTFOUND && res.out_null && res.line == 0);
}

/* ---- main -------------------------------------------------------------- */

static int
make_tmpdir(void)
{
	const char *top = getenv("RS_TOP");
	static const char *const parts[] = { "/build", "/build/tests",
	    "/build/tests/tmp" };
	char d[1024];
	size_t i;
	int n;

	for (i = 0; i < 3; i++) {
		n = snprintf(d, sizeof(d), "%s%s", top != NULL ? top : ".",
		    parts[i]);
		if (n < 0 || (size_t)n >= sizeof(d) ||
		    (mkdir(d, 0755) != 0 && errno != EEXIST))
			return 0;
	}
	n = snprintf(tmpdir, sizeof(tmpdir), "%s/test_dircache.XXXXXX", d);
	if (n < 0 || (size_t)n >= sizeof(tmpdir) - 100)
		return 0;
	return mkdtemp(tmpdir) != NULL;
}

/* Remove the scratch directory and what is left in it. */
static void
remove_tmpdir(void)
{
	char p[1200];
	struct dirent *e;
	DIR *dir;

	if ((dir = opendir(tmpdir)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0 &&
		    tmp_path(p, sizeof(p), e->d_name))
			remove(p);
	closedir(dir);
	rmdir(tmpdir);
}

int
main(void)
{
	const char *s = getenv("RS_SEED");
	uint64_t seed = 0x452821e638d01377ULL;
	char *end;

	if (s != NULL && *s != '\0') {
		errno = 0;
		seed = strtoull(s, &end, 0);
		if (errno != 0 || *end != '\0') {
			UT_CHECK("RS_SEED is a number", 0);
			return ut_exit();
		}
	}
	ut_seed(seed);
	fprintf(stderr, "RS_SEED=%" PRIu64 "\n", seed);
	if (!make_tmpdir()) {
		UT_CHECK("scratch directory", 0);
		return ut_exit();
	}
	fprintf(stderr, "scratch: %s\n", tmpdir);
	pool_init();

	test_norm();
	test_seal();
	test_roundtrip();
	test_damaged();
	test_model();

	remove_tmpdir();
	return ut_exit();
}
