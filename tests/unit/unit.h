/*
 * unit.h - minimal table-driven unit test support.
 *
 * UT_CHECK(name, cond) prints "ok - name" or "not ok - name: cond" in the
 * protocol tests/run reads; ut_exit() returns the status for main().
 */
#ifndef RS_UNIT_H
#define RS_UNIT_H

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

static inline int
ut_exit(void)
{
	return ut_failed ? 1 : 0;
}

#endif /* RS_UNIT_H */
