/*
 * test_rlist.c - unit tests for common/rlist.c.
 *
 * Sorting and de-duplication against qsort on random lists of many sizes
 * (including the sizes around the merge sort's run length), rlist_diff
 * against a reference set difference, rlist_parse_text on valid and
 * invalid text (a failed parse must leave the list as it was), and one
 * million addresses: sorted, and within the memory budget (printed on
 * stderr; the 128 MB bound is asserted, times are not).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "addr.h"
#include "rlist.h"
#include "rs_err.h"
#include "unit.h"

#define L(s)	s, sizeof(s) - 1

/* A random canonical address from a small space, so duplicates occur. */
static size_t
rand_addr(char *buf, size_t space)
{
	static const char *doms[] = { "corp.test", "example.org",
	    "branch.corp.test", "a.b" };
	size_t n = 0, ll = 1 + ut_rng() % 6, i;
	const char *d = doms[ut_rng() % 4];
	static const char cs[] = "abc.-_9~";

	for (i = 0; i < ll; i++) {
		char c = cs[ut_rng() % (space < 8 ? space : 8)];

		/* No dot first, last, or twice. */
		if (c == '.' && (i == 0 || i == ll - 1 || buf[n - 1] == '.'))
			c = 'a';
		buf[n++] = c;
	}
	buf[n++] = '@';
	memcpy(buf + n, d, strlen(d));
	n += strlen(d);
	buf[n] = '\0';
	return n;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort n random addresses with rlist and with qsort; compare. */
static int
check_sort(size_t n, size_t space)
{
	struct rlist *l = NULL;
	char **ref = NULL, **uq = NULL, buf[300];
	size_t i, k, len, dropped;
	const char *p;
	int ok = 0;

	if (rlist_new(&l) != RS_OK ||
	    (ref = calloc(n + 1, sizeof(*ref))) == NULL ||
	    (uq = calloc(n + 1, sizeof(*uq))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		len = rand_addr(buf, space);
		if (rlist_add(l, buf, len) != RS_OK)
			goto out;
		if ((ref[i] = strdup(buf)) == NULL)
			goto out;
	}
	qsort(ref, n, sizeof(*ref), cmp_str);
	for (i = k = 0; i < n; i++)
		if (k == 0 || strcmp(uq[k - 1], ref[i]) != 0)
			uq[k++] = ref[i];
	dropped = rlist_finish(l);
	if (dropped != n - k || rlist_count(l) != k)
		goto out;
	for (i = 0; i < k; i++) {
		p = rlist_get(l, i, &len);
		if (p == NULL || len != strlen(uq[i]) ||
		    memcmp(p, uq[i], len) != 0)
			goto out;
	}
	/* A second finish changes nothing. */
	if (rlist_finish(l) != 0 || rlist_count(l) != k)
		goto out;
	ok = 1;
out:
	if (ref != NULL)
		for (i = 0; i < n; i++)
			free(ref[i]);
	free(ref);
	free(uq);
	rlist_free(l);
	return ok;
}

struct diffrec {
	char	 ops[4096];
	size_t	 n;
	int	 ordered;
	char	 last[300];
	size_t	 lastlen;
};

static void
diff_cb(void *arg, char op, const char *a, size_t len)
{
	struct diffrec *d = arg;
	size_t m = len < d->lastlen ? len : d->lastlen;
	int c = memcmp(d->last, a, m);

	if (d->n > 0 && (c > 0 || (c == 0 && d->lastlen >= len)))
		d->ordered = 0;
	memcpy(d->last, a, len);
	d->lastlen = len;
	if (d->n < sizeof(d->ops))
		d->ops[d->n] = op;
	d->n++;
}

static int
list_has(const struct rlist *l, const char *a, size_t len)
{
	size_t i, n;
	const char *p;

	for (i = 0; i < rlist_count(l); i++) {
		p = rlist_get(l, i, &n);
		if (n == len && memcmp(p, a, n) == 0)
			return 1;
	}
	return 0;
}

/* rlist_diff against a quadratic reference on two random lists. */
static int
check_diff(size_t na, size_t nb)
{
	struct rlist *a = NULL, *b = NULL;
	struct diffrec d;
	char buf[300];
	size_t i, len, add = 99, rem = 99, radd = 0, rrem = 0;
	const char *p;
	int ok = 0;

	if (rlist_new(&a) != RS_OK || rlist_new(&b) != RS_OK)
		goto out;
	for (i = 0; i < na; i++) {
		len = rand_addr(buf, 5);
		rlist_add(a, buf, len);
	}
	for (i = 0; i < nb; i++) {
		len = rand_addr(buf, 5);
		rlist_add(b, buf, len);
	}
	rlist_finish(a);
	rlist_finish(b);
	for (i = 0; i < rlist_count(a); i++) {
		p = rlist_get(a, i, &len);
		if (!list_has(b, p, len))
			rrem++;
	}
	for (i = 0; i < rlist_count(b); i++) {
		p = rlist_get(b, i, &len);
		if (!list_has(a, p, len))
			radd++;
	}
	memset(&d, 0, sizeof(d));
	d.ordered = 1;
	rlist_diff(a, b, diff_cb, &d, &add, &rem);
	if (add != radd || rem != rrem || d.n != radd + rrem || !d.ordered)
		goto out;
	add = rem = 99;
	rlist_diff(a, b, NULL, NULL, &add, &rem);
	if (add != radd || rem != rrem)
		goto out;
	ok = 1;
out:
	rlist_free(a);
	rlist_free(b);
	return ok;
}

struct ptcase {
	const char	*text;
	size_t		 len;
	int		 want;
	size_t		 line;
	size_t		 count;
};

static const struct ptcase ptcases[] = {
	{ L(""), RS_OK, 0, 0 },
	{ L("a@b.c\n"), RS_OK, 1, 1 },
	{ L("b@b.c\na@b.c\nb@b.c\n"), RS_OK, 3, 3 },
	{ L("a@b.c"), RS_ERR_TRUNC, 1, 0 },
	{ L("a@b.c\nb@b.c"), RS_ERR_TRUNC, 2, 0 },
	{ L("a@b.c\r\n"), RS_ERR_SYNTAX, 1, 0 },
	{ L("a@b.c\n\n"), RS_ERR_SYNTAX, 2, 0 },
	{ L("\n"), RS_ERR_SYNTAX, 1, 0 },
	{ L("a@b.c\nA@b.c\n"), RS_ERR_SYNTAX, 2, 0 },
	{ L("a@b.c\nx y@b.c\n"), RS_ERR_SYNTAX, 2, 0 },
	{ L("a@b.c\n#x@b.c\n"), RS_ERR_SYNTAX, 2, 0 },
	{ L("a@b.c\nb@b.c\nc@b\0.c\n"), RS_ERR_SYNTAX, 3, 0 },
	{ L("a@b.c\n a@b.c\n"), RS_ERR_SYNTAX, 2, 0 },
};

static long
maxrss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

int
main(void)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 15, 16, 17, 31, 32, 33,
	    100, 255, 256, 257, 1000, 4097, 30000 };
	struct rlist *l = NULL, *m = NULL;
	char name[200], buf[300];
	const char *p;
	size_t i, j, n, len, line;
	long rss0, rss1;
	clock_t t0;
	int r, ok;

	ut_seed(0x243f6a8885a308d3ULL);

	/* Basics. */
	r = rlist_new(&l);
	UT_CHECK("rlist_new", r == RS_OK && l != NULL);
	UT_CHECK("rlist empty count", rlist_count(l) == 0 &&
	    rlist_finish(l) == 0 && rlist_get(l, 0, &len) == NULL && len == 0);
	UT_CHECK("rlist_add refuses empty", rlist_add(l, "", 0) ==
	    RS_ERR_INVAL);
	memset(buf, 'a', 255);
	UT_CHECK("rlist_add refuses 255 octets", rlist_add(l, buf, 255) ==
	    RS_ERR_INVAL);
	rlist_add(l, L("carol@corp.test"));
	rlist_add(l, L("alice@corp.test"));
	rlist_add(l, L("bob@example.org"));
	rlist_add(l, L("alice@corp.test"));
	rlist_add(l, L("alice@corp.tes"));
	n = rlist_finish(l);
	UT_CHECK("rlist_finish drops duplicates", n == 1 &&
	    rlist_count(l) == 4);
	p = rlist_get(l, 0, &len);
	ok = p != NULL && len == 14 && memcmp(p, "alice@corp.tes", 14) == 0;
	p = rlist_get(l, 1, &len);
	ok = ok && len == 15 && memcmp(p, "alice@corp.test", 15) == 0;
	p = rlist_get(l, 3, &len);
	ok = ok && len == 15 && memcmp(p, "carol@corp.test", 15) == 0;
	UT_CHECK("rlist order (prefix first)", ok);
	rlist_free(l);
	rlist_free(NULL);
	l = NULL;

	/* In-order input with adjacent duplicates (no sort needed). */
	rlist_new(&l);
	rlist_add(l, L("a@b.c"));
	rlist_add(l, L("a@b.c"));
	rlist_add(l, L("b@b.c"));
	rlist_add(l, L("b@b.c"));
	rlist_add(l, L("c@b.c"));
	n = rlist_finish(l);
	p = rlist_get(l, 1, &len);
	UT_CHECK("rlist sorted input with duplicates", n == 2 &&
	    rlist_count(l) == 3 && len == 5 && memcmp(p, "b@b.c", 5) == 0);
	rlist_add(l, L("a@b.c"));	/* out of order after finish */
	n = rlist_finish(l);
	p = rlist_get(l, 0, &len);
	UT_CHECK("rlist add after finish re-sorts", n == 1 &&
	    rlist_count(l) == 3 && len == 5 && memcmp(p, "a@b.c", 5) == 0);
	rlist_free(l);
	l = NULL;

	/*
	 * A list over borrowed bytes (as dircache_list makes): sorted and
	 * deduplicated like any other, pointing into the bytes, not copying
	 * them; it refuses copies and offsets outside the bytes.
	 */
	{
		static const char bytes[] = "c@b.c\0a@b.c\0b@b.c\0a@b.c";
		static const size_t off[] = { 0, 6, 12, 18 };

		r = rlist_new_over(bytes, sizeof(bytes) - 1, &l);
		ok = r == RS_OK;
		for (i = 0; ok && i < 4; i++)
			ok = rlist_add_at(l, off[i], 5) == RS_OK;
		n = rlist_finish(l);
		p = rlist_get(l, 0, &len);
		UT_CHECK("rlist_new_over: sorted, duplicates dropped", ok &&
		    n == 1 && rlist_count(l) == 3 && len == 5 &&
		    memcmp(p, "a@b.c", 5) == 0);
		UT_CHECK("rlist_new_over: points into the borrowed bytes",
		    p >= bytes && p < bytes + sizeof(bytes) &&
		    rlist_get(l, 2, &len) == bytes);
		UT_CHECK("rlist_new_over: refuses rlist_add and out-of-range "
		    "offsets", rlist_add(l, L("d@b.c")) == RS_ERR_INVAL &&
		    rlist_add_at(l, 20, 5) == RS_ERR_INVAL &&
		    rlist_add_at(l, 24, 1) == RS_ERR_INVAL &&
		    rlist_parse_text(l, "d@b.c\n", 6, &line) ==
		    RS_ERR_INVAL && rlist_count(l) == 3);
		rlist_free(l);
		l = NULL;
		rlist_new(&l);
		UT_CHECK("rlist_add_at refuses an owning list",
		    rlist_add_at(l, 0, 1) == RS_ERR_INVAL);
		rlist_free(l);
		l = NULL;
	}

	/* Bytewise order, not locale order: '-' < '.' < '0' < 'a' < '~'. */
	rlist_new(&l);
	rlist_add(l, L("a~@b.c"));
	rlist_add(l, L("aa@b.c"));
	rlist_add(l, L("a0@b.c"));
	rlist_add(l, L("a.b@b.c"));
	rlist_add(l, L("a-@b.c"));
	rlist_finish(l);
	{
		static const char *want[] = { "a-@b.c", "a.b@b.c", "a0@b.c",
		    "aa@b.c", "a~@b.c" };

		ok = rlist_count(l) == 5;
		for (i = 0; ok && i < 5; i++) {
			p = rlist_get(l, i, &len);
			ok = len == strlen(want[i]) &&
			    memcmp(p, want[i], len) == 0;
		}
		UT_CHECK("rlist bytewise order", ok);
	}
	rlist_free(l);
	l = NULL;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "rlist sort %zu random", sizes[i]);
		UT_CHECK(name, check_sort(sizes[i], 8) &&
		    check_sort(sizes[i], 3));
	}
	for (i = 0; i < 40; i++) {
		if (!check_diff(ut_rng() % 60, ut_rng() % 60))
			break;
	}
	UT_CHECK("rlist_diff random lists", i == 40);
	UT_CHECK("rlist_diff empty vs list", check_diff(0, 30) &&
	    check_diff(30, 0) && check_diff(0, 0));

	/* rlist_parse_text table. */
	for (i = 0; i < sizeof(ptcases) / sizeof(ptcases[0]); i++) {
		const struct ptcase *t = &ptcases[i];

		rlist_new(&l);
		rlist_add(l, L("keep@corp.test"));
		line = 999;
		r = rlist_parse_text(l, t->text, t->len, &line);
		snprintf(name, sizeof(name), "rlist_parse_text case %zu", i);
		if (r != t->want || line != t->line)
			fprintf(stderr, "%s: got %d line %zu\n", name, r, line);
		ok = r == t->want && line == t->line;
		if (r == RS_OK)
			ok = ok && rlist_count(l) == 1 + t->count;
		else
			/* A failed parse leaves the list untouched. */
			ok = ok && rlist_count(l) == 1 &&
			    (p = rlist_get(l, 0, &len)) != NULL && len == 14 &&
			    memcmp(p, "keep@corp.test", 14) == 0;
		UT_CHECK(name, ok);
		rlist_free(l);
		l = NULL;
	}

	/* Parse of random garbage never crashes. */
	ok = 1;
	for (i = 0; i < 2000; i++) {
		char t[200];

		n = ut_rng() % sizeof(t);
		for (j = 0; j < n; j++)
			t[j] = (ut_rng() % 4) ? "ab@.c\n"[ut_rng() % 6] :
			    (char)(ut_rng() & 0xff);
		rlist_new(&l);
		r = rlist_parse_text(l, t, n, &line);
		if (r != RS_OK && r != RS_ERR_SYNTAX && r != RS_ERR_TRUNC)
			ok = 0;
		if (r != RS_OK && rlist_count(l) != 0)
			ok = 0;
		rlist_free(l);
		l = NULL;
	}
	UT_CHECK("rlist_parse_text random text", ok);

	/* One million addresses, random order, some duplicates. */
	rss0 = maxrss_kib();
	t0 = clock();
	rlist_new(&l);
	ok = 1;
	for (i = 0; i < 1000000 && ok; i++) {
		uint64_t x = ut_rng() % 990000;

		n = (size_t)snprintf(buf, sizeof(buf),
		    "user.%llu.%llx@%s", (unsigned long long)x,
		    (unsigned long long)(x * 2654435761u % 4096),
		    x % 3 ? "corp.test" : "branch.corp.test");
		ok = rlist_add(l, buf, n) == RS_OK;
	}
	n = rlist_finish(l);
	rss1 = maxrss_kib();
	fprintf(stderr, "1M: %zu unique, %zu dropped, %.2f s cpu, "
	    "maxrss %ld -> %ld KiB\n", rlist_count(l), n,
	    (double)(clock() - t0) / CLOCKS_PER_SEC, rss0, rss1);
	UT_CHECK("rlist 1M add", ok && rlist_count(l) + n == 1000000);
	ok = 1;
	for (i = 1; i < rlist_count(l) && ok; i++) {
		const char *q;
		size_t qlen;

		p = rlist_get(l, i - 1, &len);
		q = rlist_get(l, i, &qlen);
		r = memcmp(p, q, len < qlen ? len : qlen);
		ok = r < 0 || (r == 0 && len < qlen);
	}
	UT_CHECK("rlist 1M strictly increasing", ok);
	UT_CHECK("rlist 1M memory under 128 MB", rss1 > 0 &&
	    rss1 < 128 * 1024);

	/* Diff of 1M against itself minus a few. */
	rlist_new(&m);
	for (i = 0; i < rlist_count(l); i++) {
		if (i % 100000 == 7)
			continue;
		p = rlist_get(l, i, &len);
		rlist_add(m, p, len);
	}
	rlist_add(m, L("zz@corp.test"));
	rlist_finish(m);
	{
		size_t add, rem;

		t0 = clock();
		rlist_diff(l, m, NULL, NULL, &add, &rem);
		fprintf(stderr, "1M diff: %.2f s cpu\n",
		    (double)(clock() - t0) / CLOCKS_PER_SEC);
		UT_CHECK("rlist 1M diff", add == 1 &&
		    rem == (rlist_count(l) + 99992) / 100000);
	}
	rlist_free(m);
	rlist_free(l);
	return ut_exit();
}
