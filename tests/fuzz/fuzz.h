/*
 * fuzz.h - shared helpers for the libFuzzer targets in tests/fuzz/.
 *
 * API:        FZ_ASSERT(cond, what) aborts with a message on stderr when an
 *             invariant of the code under test does not hold; libFuzzer then
 *             saves the input as a crash.  fz_dup copies fuzzer bytes into a
 *             fresh heap block of exactly that size (plus an optional NUL),
 *             so AddressSanitizer sees any read past the end.
 * Ownership:  fz_dup returns memory the caller frees with free().
 * Errors:     an allocation failure aborts: inside a fuzzer there is nothing
 *             sensible to fall back to, and libFuzzer's malloc limit reports
 *             oversized requests on its own.
 * Trust:      the bytes are hostile by construction; that is the point.
 *
 * Each target is one C file with LLVMFuzzerTestOneInput; tests/fuzz/run.sh
 * builds it with clang -fsanitize=fuzzer,address,undefined against common/.
 */
#ifndef RS_FUZZ_H
#define RS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_ASSERT(cond, what) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz invariant failed: %s (%s) at %s:%d\n", \
		    (what), #cond, __FILE__, __LINE__);			\
		abort();						\
	}								\
} while (0)

/* Copy n bytes into a heap block of n + nul bytes; nul adds a '\0'. */
static inline char *
fz_dup(const uint8_t *p, size_t n, int nul)
{
	size_t sz = n + (nul ? 1 : 0);
	char *q;

	if ((q = malloc(sz > 0 ? sz : 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(q, p, n);
	if (nul)
		q[n] = '\0';
	return q;
}

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* RS_FUZZ_H */
