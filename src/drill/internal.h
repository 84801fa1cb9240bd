/* Helpers shared by the files of src/drill; not part of its interface. */
#ifndef RD_DRILL_INTERNAL_H
#define RD_DRILL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* "45.2 s", "12 min 03 s", "1 h 02 min"; "not measured" when negative. */
void drill_fmt_duration(double seconds, char *out, size_t len);
/* ISO 8601 UTC with microseconds, "2026-11-26T02:15:00.123456Z" (outlen >= 28). */
void drill_fmt_time_us(int64_t us, char *out, size_t len);
/* Inverse of drill_fmt_time_us; also accepts no fraction. -1 when invalid. */
int drill_parse_time_us(const char *text, int64_t *us);

#endif
