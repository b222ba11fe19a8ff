/*
 * timefmt: RFC 3339 timestamps and calendar dates <-> unix seconds (UTC),
 * without the process time zone or locale. Used for --now, Secret startAt and
 * lifecycle dates. Also the one monotonic clock every module measures
 * durations and deadlines with.
 */
#ifndef CFS_TIMEFMT_H
#define CFS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "2027-02-20T10:00:00Z" or with an offset ("+02:00"), fraction allowed.
 * Returns 0 and sets *out, or -1. */
int timefmt_parse_rfc3339(const char *s, int64_t *out);
/* "2027-02-20" (a real calendar date) -> midnight UTC. Returns 0 or -1. */
int timefmt_parse_date(const char *s, int64_t *out);
/* Writes "2027-02-20T10:00:00Z" into buf (at least 21 bytes). */
void timefmt_format(int64_t t, char *buf, size_t len);
/* Days since 1970-01-01 for a proleptic Gregorian date. */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Milliseconds of CLOCK_MONOTONIC: for durations and deadlines, never dates. */
int64_t mono_ms(void);

#endif
