/*
 * unit.h - minimal table-driven unit test support.
 *
 * UT_CHECK(name, cond) prints "ok - name" or "not ok - name: cond" in the
 * protocol tests/run reads; ut_exit() returns the status for main().
 */
#ifndef RS_UNIT_H
#define RS_UNIT_H

#include <stdint.h>
#include <stdio.h>

static int ut_failed;

#define UT_CHECK(name, cond) do {					\
	if (cond)							\
		printf("ok - %s\n", (name));				\
	else {								\
		printf("not ok - %s: %s (%s:%d)\n", (name), #cond,	\
		    __FILE__, __LINE__);				\
		ut_failed++;						\
	}								\
	fflush(stdout);							\
} while (0)

/*
 * xorshift64*: a fixed, fast pseudo-random sequence for randomized tests,
 * the same on every run (each test picks its own seed with ut_seed).
 */
static uint64_t ut_rng_state = 0x9e3779b97f4a7c15ULL;

static inline void
ut_seed(uint64_t seed)
{
	ut_rng_state = seed != 0 ? seed : 1;
}

static inline uint64_t
ut_rng(void)
{
	ut_rng_state ^= ut_rng_state >> 12;
	ut_rng_state ^= ut_rng_state << 25;
	ut_rng_state ^= ut_rng_state >> 27;
	return ut_rng_state * 0x2545f4914f6cdd1dULL;
}

static inline int
ut_exit(void)
{
	return ut_failed ? 1 : 0;
}

#endif /* RS_UNIT_H */
