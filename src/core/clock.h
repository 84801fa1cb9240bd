/* The one wall clock of radiant. Retention, lifecycle and backup windows read
 * time only through rd_clock_now() so tests can move it without sleeping: the
 * environment variable RADIANT_CLOCK_OFFSET (seconds, or with a suffix s/m/h/d,
 * may be negative) shifts it for a whole process tree, rd_clock_set_offset()
 * within a unit test. */
#ifndef RD_CORE_CLOCK_H
#define RD_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time in microseconds since the Unix epoch, shifted by the offset. */
int64_t rd_clock_now_us(void);
/* Wall-clock time in whole seconds. */
int64_t rd_clock_now(void);
void rd_clock_set_offset(int64_t seconds);
/* Monotonic nanoseconds, for measuring durations and rates (never shifted). */
int64_t rd_mono_ns(void);

/* Parses "90", "90s", "15m", "4h", "35d" into seconds; returns -1 when invalid. */
int rd_duration_parse(const char *text, int64_t *seconds);
/* Parses a daily UTC window "HH:MM-HH:MM" (start and end differ; it may wrap
 * midnight) into minutes after midnight; -1 when invalid. */
int rd_window_parse(const char *text, int *start_min, int *end_min);
/* Formats seconds as ISO 8601 UTC "2024-12-24T10:30:00Z". */
void rd_time_format(int64_t seconds, char *out, size_t outlen);
/* Parses ISO 8601 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; -1 when invalid. */
int rd_time_parse(const char *text, int64_t *seconds);

/* Formats microseconds as ISO 8601 UTC with milliseconds, "2024-12-24T10:30:00.000Z",
 * the form S3 uses in XML (LastModified, Initiated). outlen >= 25. */
void rd_time_format_ms(int64_t us, char *out, size_t outlen);
/* Formats seconds as an HTTP date (RFC 9110 IMF-fixdate, "Tue, 24 Dec 2024
 * 10:30:00 GMT"), independent of the locale. outlen >= 30. */
void rd_http_date_format(int64_t seconds, char *out, size_t outlen);
/* Parses an HTTP date in any of the three forms RFC 9110 section 5.6.7 says a
 * recipient must accept: IMF-fixdate, RFC 850 ("Tuesday, 24-Dec-24 10:30:00
 * GMT") and asctime ("Tue Dec 24 10:30:00 2024"). -1 when invalid. */
int rd_http_date_parse(const char *text, int64_t *seconds);

#endif
