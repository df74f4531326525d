/*
 * test_civil.c - unit tests for common/civil.c (calendar arithmetic) and
 * common/strv.c (the binary search over sorted strings): known dates,
 * the leap rules, roll-over past a month's end, every day of 1969..2401
 * there and back; found, not found, prefixes and longer rows.
 */
#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "strv.h"
#include "unit.h"

static const struct {
	int64_t		y;
	unsigned	m, d;
	int64_t		days;
} dates[] = {
	{ 1970, 1, 1, 0 },
	{ 1969, 12, 31, -1 },
	{ 1972, 2, 29, 789 },
	{ 1972, 3, 1, 790 },
	{ 2000, 2, 29, 11016 },
	{ 2000, 3, 1, 11017 },
	{ 2026, 12, 2, 20789 },
	{ 2038, 1, 19, 24855 },
	{ 2100, 3, 1, 47541 },
	{ 9999, 12, 31, 2932896 },
};

int
main(void)
{
	static const char *const v[] = { "a.test", "corp.test",
	    "corp.test.example", "example.org", "zz" };
	static const char rows[3][8] = { "b", "bb", "c" };
	char name[96];
	int64_t z, y, prev;
	unsigned m, d;
	size_t i;
	int ok;

	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		snprintf(name, sizeof(name), "civil_days %04lld-%02u-%02u",
		    (long long)dates[i].y, dates[i].m, dates[i].d);
		UT_CHECK(name, civil_days(dates[i].y, dates[i].m,
		    dates[i].d) == dates[i].days);
		civil_from_days(dates[i].days, &y, &m, &d);
		snprintf(name, sizeof(name), "civil_from_days %lld",
		    (long long)dates[i].days);
		UT_CHECK(name, y == dates[i].y && m == dates[i].m &&
		    d == dates[i].d);
	}
	UT_CHECK("leap 2000", civil_leap(2000));
	UT_CHECK("leap 1900 not", !civil_leap(1900));
	UT_CHECK("leap 2024", civil_leap(2024));
	UT_CHECK("leap 2026 not", !civil_leap(2026));
	/* timegm's roll-over: April 31 is May 1, Feb 30 1972 is March 1. */
	UT_CHECK("roll-over april 31",
	    civil_days(2026, 4, 31) == civil_days(2026, 5, 1));
	UT_CHECK("roll-over feb 30 leap",
	    civil_days(1972, 2, 30) == civil_days(1972, 3, 1));
	/* Every day there and back, each the day after the one before. */
	ok = 1;
	prev = civil_days(1969, 1, 1) - 1;
	for (z = civil_days(1969, 1, 1); z <= civil_days(2401, 1, 1); z++) {
		civil_from_days(z, &y, &m, &d);
		if (civil_days(y, m, d) != z || z != prev + 1 || m < 1 ||
		    m > 12 || d < 1 || d > 31)
			ok = 0;
		prev = z;
	}
	UT_CHECK("civil every day 1969..2401 round trip", ok);

	UT_CHECK("strv first", strv_find(v, 5, "a.test", 6) == 0);
	UT_CHECK("strv last", strv_find(v, 5, "zz", 2) == 4);
	UT_CHECK("strv middle", strv_find(v, 5, "corp.test", 9) == 1);
	UT_CHECK("strv by length, not NUL",
	    strv_find(v, 5, "corp.test.example.x", 17) == 2);
	UT_CHECK("strv prefix of an entry is not it",
	    strv_find(v, 5, "corp", 4) == -1);
	UT_CHECK("strv longer than an entry is not it",
	    strv_find(v, 5, "zzz", 3) == -1);
	UT_CHECK("strv empty array", strv_find(v, 0, "a.test", 6) == -1);
	UT_CHECK("strv rows found", strv_find_rows(rows[0], sizeof(rows[0]),
	    3, "bb", 2) == 1);
	UT_CHECK("strv rows prefix", strv_find_rows(rows[0], sizeof(rows[0]),
	    3, "bbb", 2) == 1 && strv_find_rows(rows[0], sizeof(rows[0]), 3,
	    "bbb", 3) == -1);
	UT_CHECK("strv rows zero size", strv_find_rows(rows[0], 0, 3, "b",
	    1) == -1);
	return ut_exit();
}
