/*
 * civil.h - proleptic Gregorian calendar arithmetic in UTC, without the C
 * library: timegm() is missing on Windows, and gmtime() is not
 * thread-safe and fails differently per platform.
 *
 * API:        civil_leap, civil_days, civil_from_days.
 * Ownership:  none.
 * Errors:     none; callers check the ranges their format allows.
 */
#ifndef RS_CIVIL_H
#define RS_CIVIL_H

#include <stdint.h>

/* Is y a leap year? */
int	civil_leap(int64_t y);
/*
 * Days since 1970-01-01 of year y, month m (1..12), day d.  A day past the
 * month's end rolls over into the next month, as timegm() rolls it.
 */
int64_t	civil_days(int64_t y, unsigned m, unsigned d);
/* The date of day z since 1970-01-01. */
void	civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif /* RS_CIVIL_H */
