/*
 * strv.c - sorted arrays of C strings: search, and sort (strv.h).
 */
#include "strv.h"

#include <stdlib.h>
#include <string.h>

/* Row i: v[i] of an array of pointers, or the i-th row of size rowsize. */
static const char *
strv_at(const void *base, size_t rowsize, size_t i)
{
	if (rowsize == 0)
		return ((const char *const *)base)[i];
	return (const char *)base + i * rowsize;
}

static long
strv_search(const void *base, size_t rowsize, size_t n, const char *s,
    size_t len)
{
	size_t lo = 0, hi = n, mid;
	const char *v;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		v = strv_at(base, rowsize, mid);
		/* strncmp stops at v's NUL; a longer v sorts after s. */
		cmp = strncmp(v, s, len);
		if (cmp == 0 && v[len] != '\0')
			cmp = 1;
		if (cmp == 0)
			return (long)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

long
strv_find(const char *const *v, size_t n, const char *s, size_t len)
{
	return strv_search(v, 0, n, s, len);
}

long
strv_find_rows(const char *rows, size_t rowsize, size_t n, const char *s,
    size_t len)
{
	return rowsize == 0 ? -1 : strv_search(rows, rowsize, n, s, len);
}

static int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
strv_sort_unique(char **v, size_t n)
{
	size_t i, j;

	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), strv_cmp);
	for (i = 1, j = 1; i < n; i++) {
		if (strcmp(v[i], v[j - 1]) == 0) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	return j;
}
