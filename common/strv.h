/*
 * strv.h - sorted arrays of C strings: the one binary search of the tree.
 *
 * API:        strv_find (an array of pointers), strv_find_rows (a
 *             two-dimensional char array, such as a bundle header's
 *             domains), strv_sort_unique.
 * Ownership:  nothing is copied or kept; strv_sort_unique frees the
 *             duplicates it drops.
 * Errors:     none: -1 means "not there".
 * Trust:      s[0..len) may be hostile (a domain from a bundle header);
 *             it is compared by length, never read past len.
 */
#ifndef RS_STRV_H
#define RS_STRV_H

#include <stddef.h>

/*
 * Index of s[0..len) in v[0..n), sorted by strcmp and without
 * duplicates, or -1.  s holds no NUL in its first len bytes.
 */
long	strv_find(const char *const *v, size_t n, const char *s, size_t len);
/* The same over char rows[n][rowsize], each row NUL-terminated. */
long	strv_find_rows(const char *rows, size_t rowsize, size_t n,
	    const char *s, size_t len);

/*
 * Sort the malloc'd strings v[0..n) by strcmp and free the duplicates;
 * returns how many remain, at the front of v.
 */
size_t	strv_sort_unique(char **v, size_t n);

#endif /* RS_STRV_H */
