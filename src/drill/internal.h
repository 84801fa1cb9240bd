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
/* Appends and keeps the buffer NUL-terminated (not counted in len), so its
 * data can be used as a string. */
void drill_buf_puts(rd_buf *b, const char *s);
void drill_buf_putc(rd_buf *b, char c);
void drill_buf_printf(rd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
