/*
 * rs_attr.h - compiler attributes, spelled once.
 *
 * RS_PRINTF(fmt, args) marks a printf-like function so the compiler checks
 * its callers' formats.  mingw's gcc takes plain "printf" to mean the
 * Microsoft printf, which lacks %zu; with __USE_MINGW_ANSI_STDIO the C99
 * printf is the one linked, and __MINGW_PRINTF_FORMAT names it.
 */
#ifndef RS_ATTR_H
#define RS_ATTR_H

#include <stdio.h>		/* defines __MINGW_PRINTF_FORMAT on mingw */

#if defined(__MINGW_PRINTF_FORMAT)
#define RS_PRINTF(f, a)	__attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#elif defined(__GNUC__)
#define RS_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#else
#define RS_PRINTF(f, a)
#endif

#endif /* RS_ATTR_H */
