/* Growable buffers, bounds-checked readers and small string helpers. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Noreturn void rd_oom(void)
{
    static const char msg[] = "radiant: out of memory\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    abort();
}

void *rd_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        rd_oom();
    return p;
}

void *rd_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        rd_oom();
    return p;
}

void *rd_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        rd_oom();
    return q;
}

char *rd_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        rd_oom();
    return d;
}

char *rd_vasprintf(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        rd_oom();
    return out;
}

char *rd_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = rd_vasprintf(fmt, ap);
    va_end(ap);
    return out;
}

void rd_buf_puts(rd_buf *b, const char *s)
{
    size_t n = strlen(s);
    rd_buf_reserve(b, n + 1);
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void rd_buf_putc(rd_buf *b, char c)
{
    rd_buf_reserve(b, 2);
    b->data[b->len++] = (uint8_t)c;
    b->data[b->len] = '\0';
}

void rd_buf_printf(rd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = rd_vasprintf(fmt, ap);
    va_end(ap);
    rd_buf_puts(b, text);
    free(text);
}

bool rd_str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void rd_buf_free(rd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void rd_buf_reset(rd_buf *b) { b->len = 0; }

void rd_buf_reserve(rd_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    b->data = rd_realloc(b->data, cap);
    b->cap = cap;
}

#define HUGE_PAGE (2u << 20)

void *rd_alloc_direct(size_t len)
{
    bool huge = len >= HUGE_PAGE;
    void *p = NULL;
    if (posix_memalign(&p, huge ? HUGE_PAGE : 4096, len ? len : 1) != 0)
        rd_oom();
    /* Only a hint: without transparent huge pages (or with them off) the
     * memory is ordinary pages, which works the same, only slower. */
    if (huge)
        madvise(p, len / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
    return p;
}

void rd_buf_reserve_aligned(rd_buf *b, size_t cap)
{
    void *p = rd_alloc_direct(cap);
    free(b->data);
    b->data = p;
    b->len = 0;
    b->cap = cap;
}

void rd_buf_append(rd_buf *b, const void *data, size_t len)
{
    if (!len)
        return;
    rd_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void rd_buf_append_u8(rd_buf *b, uint8_t v) { rd_buf_append(b, &v, 1); }

void rd_buf_append_u32(rd_buf *b, uint32_t v)
{
    uint8_t tmp[4];
    rd_put_u32(tmp, v);
    rd_buf_append(b, tmp, 4);
}

void rd_buf_append_u64(rd_buf *b, uint64_t v)
{
    uint8_t tmp[8];
    rd_put_u64(tmp, v);
    rd_buf_append(b, tmp, 8);
}

void rd_buf_append_bytes(rd_buf *b, const void *data, uint32_t len)
{
    rd_buf_append_u32(b, len);
    rd_buf_append(b, data, len);
}

void rd_buf_append_str(rd_buf *b, const char *s)
{
    rd_buf_append_bytes(b, s ? s : "", s ? (uint32_t)strlen(s) : 0);
}

void rd_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void rd_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t rd_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t rd_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void rd_reader_init(rd_reader *r, const void *data, size_t len)
{
    r->p = data;
    r->left = len;
    r->bad = false;
}

const uint8_t *rd_read_ptr(rd_reader *r, size_t len)
{
    if (r->bad || r->left < len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += len;
    r->left -= len;
    return p;
}

void rd_read_raw(rd_reader *r, void *out, size_t len)
{
    const uint8_t *p = rd_read_ptr(r, len);
    if (p)
        memcpy(out, p, len);
    else
        memset(out, 0, len);
}

uint8_t rd_read_u8(rd_reader *r)
{
    const uint8_t *p = rd_read_ptr(r, 1);
    return p ? p[0] : 0;
}

uint32_t rd_read_u32(rd_reader *r)
{
    const uint8_t *p = rd_read_ptr(r, 4);
    return p ? rd_get_u32(p) : 0;
}

uint64_t rd_read_u64(rd_reader *r)
{
    const uint8_t *p = rd_read_ptr(r, 8);
    return p ? rd_get_u64(p) : 0;
}

char *rd_read_str(rd_reader *r, size_t max)
{
    uint32_t len = rd_read_u32(r);
    if (r->bad || len > max) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = rd_read_ptr(r, len);
    if (!p)
        return NULL;
    if (memchr(p, '\0', len)) {
        r->bad = true;
        return NULL;
    }
    char *s = rd_malloc((size_t)len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

void rd_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rd_hex_decode(const char *in, uint8_t *out, size_t outlen)
{
    if (strlen(in) != 2 * outlen)
        return -1;
    for (size_t i = 0; i < outlen; i++) {
        int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
