/* Growable byte buffers, little-endian encoders/decoders and string helpers.
 * Allocation failure is treated as fatal (rd_oom) so that callers need not
 * check every append; radiant cannot do anything useful without memory. */
#ifndef RD_CORE_BUF_H
#define RD_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rd_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} rd_buf;

#define RD_BUF_INIT { NULL, 0, 0 }

void rd_buf_free(rd_buf *b);
void rd_buf_reset(rd_buf *b);
void rd_buf_reserve(rd_buf *b, size_t extra);
/* Text appenders: they keep the buffer NUL-terminated (the NUL not counted
 * in len), so b->data can be used as a string while it is built. */
void rd_buf_puts(rd_buf *b, const char *s);
void rd_buf_putc(rd_buf *b, char c);
void rd_buf_printf(rd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Memory for direct I/O (O_DIRECT), freed with free(): aligned to 4096, and
 * from 2 MiB on aligned to 2 MiB and asked for as transparent huge pages. On
 * a virtual machine the host then handles a 16 MiB direct write as a few
 * large pieces instead of 4096 pages: restores of 2.2 GB took 17 % less time
 * (bench/README.md). Never returns NULL. */
void *rd_alloc_direct(size_t len);
/* Gives an empty buffer cap bytes from rd_alloc_direct(). Growing it later
 * keeps the data but not the alignment. */
void rd_buf_reserve_aligned(rd_buf *b, size_t cap);
void rd_buf_append(rd_buf *b, const void *data, size_t len);
void rd_buf_append_u8(rd_buf *b, uint8_t v);
void rd_buf_append_u32(rd_buf *b, uint32_t v);
void rd_buf_append_u64(rd_buf *b, uint64_t v);
/* Length-prefixed (u32) byte string. */
void rd_buf_append_str(rd_buf *b, const char *s);
void rd_buf_append_bytes(rd_buf *b, const void *data, uint32_t len);

/* Bounds-checked reader over untrusted bytes: any short read sets `bad` and
 * further reads return zeros, so parsers check once at the end (cf. Redis rio). */
typedef struct rd_reader {
    const uint8_t *p;
    size_t left;
    bool bad;
} rd_reader;

void rd_reader_init(rd_reader *r, const void *data, size_t len);
uint8_t rd_read_u8(rd_reader *r);
uint32_t rd_read_u32(rd_reader *r);
uint64_t rd_read_u64(rd_reader *r);
void rd_read_raw(rd_reader *r, void *out, size_t len);
/* Returns a pointer into the input, or NULL (and sets bad) when short. */
const uint8_t *rd_read_ptr(rd_reader *r, size_t len);
/* Reads a u32-length-prefixed string into a new NUL-terminated allocation;
 * rejects embedded NULs and lengths over max. Returns NULL and sets bad on error. */
char *rd_read_str(rd_reader *r, size_t max);

void rd_put_u32(uint8_t *p, uint32_t v);
void rd_put_u64(uint8_t *p, uint64_t v);
uint32_t rd_get_u32(const uint8_t *p);
uint64_t rd_get_u64(const uint8_t *p);

void rd_hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
/* Returns 0 or -1 on a bad digit or length. */
int rd_hex_decode(const char *in, uint8_t *out, size_t outlen);

_Noreturn void rd_oom(void);
void *rd_malloc(size_t n);
void *rd_calloc(size_t n, size_t size);
void *rd_realloc(void *p, size_t n);
char *rd_strdup(const char *s);
char *rd_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *rd_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
bool rd_str_starts_with(const char *s, const char *prefix);

#endif
