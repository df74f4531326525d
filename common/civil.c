/*
 * civil.c - days since the epoch of a Gregorian date, and back (civil.h).
 *
 * Eras of 400 years (146097 days) make the leap rule a matter of
 * arithmetic; the year is taken to start on March 1, so that Feb 29 is
 * the last day of it.  719468 is the number of days from 0000-03-01 to
 * 1970-01-01.
 */
#include "civil.h"

int
civil_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int64_t
civil_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;					/* 0..399 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;		/* 0..337 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;		/* 0..146096 */
	/* The day last, so that one past the month's end rolls over. */
	return era * 146097 + doe - 719468 + (int64_t)d - 1;
}

void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}
