/* Unit tests for src/core/buf: growable buffers, little-endian encoding, the
 * bounds-checked reader over untrusted bytes, hex, and the string helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void test_buf_append_grows(void **state)
{
    (void)state;
    rd_buf b = RD_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        rd_buf_append_u8(&b, (uint8_t)i);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], (uint8_t)i);

    /* A large append after small ones keeps the earlier bytes. */
    static uint8_t big[100000];
    memset(big, 0x5a, sizeof big);
    rd_buf_append(&b, big, sizeof big);
    assert_int_equal(b.len, 10000 + sizeof big);
    assert_int_equal(b.data[9999], (uint8_t)9999);
    assert_int_equal(b.data[10000], 0x5a);
    assert_int_equal(b.data[b.len - 1], 0x5a);

    size_t cap = b.cap;
    rd_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);

    rd_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    rd_buf_free(&b);    /* twice is harmless */
}

static void test_buf_empty_append_is_noop(void **state)
{
    (void)state;
    rd_buf b = RD_BUF_INIT;
    rd_buf_append(&b, NULL, 0);
    assert_int_equal(b.len, 0);
    rd_buf_reserve(&b, 0);
    assert_int_equal(b.len, 0);
    rd_buf_reserve(&b, 1000);
    assert_true(b.cap >= 1000);
    assert_int_equal(b.len, 0);
    rd_buf_free(&b);
}

static void test_little_endian_encoding(void **state)
{
    (void)state;
    rd_buf b = RD_BUF_INIT;
    rd_buf_append_u32(&b, 0x04030201u);
    rd_buf_append_u64(&b, 0x0c0b0a0908070605ull);
    static const uint8_t expect[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    assert_int_equal(b.len, sizeof expect);
    assert_memory_equal(b.data, expect, sizeof expect);
    assert_int_equal(rd_get_u32(b.data), 0x04030201u);
    assert_int_equal(rd_get_u64(b.data + 4), 0x0c0b0a0908070605ull);

    uint8_t p[8];
    rd_put_u64(p, UINT64_MAX);
    assert_true(rd_get_u64(p) == UINT64_MAX);
    rd_put_u32(p, 0xdeadbeefu);
    assert_int_equal(rd_get_u32(p), 0xdeadbeefu);
    rd_buf_free(&b);
}

static void test_reader_round_trip(void **state)
{
    (void)state;
    rd_buf b = RD_BUF_INIT;
    rd_buf_append_u8(&b, 0xab);
    rd_buf_append_u32(&b, 123456789u);
    rd_buf_append_u64(&b, 0x1122334455667788ull);
    rd_buf_append_str(&b, "hello");
    rd_buf_append_str(&b, NULL);          /* written as the empty string */
    rd_buf_append_bytes(&b, "raw", 3);

    rd_reader r;
    rd_reader_init(&r, b.data, b.len);
    assert_int_equal(rd_read_u8(&r), 0xab);
    assert_int_equal(rd_read_u32(&r), 123456789u);
    assert_true(rd_read_u64(&r) == 0x1122334455667788ull);
    char *s = rd_read_str(&r, 100);
    assert_string_equal(s, "hello");
    free(s);
    s = rd_read_str(&r, 100);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(rd_read_u32(&r), 3);
    uint8_t raw[3];
    rd_read_raw(&r, raw, 3);
    assert_memory_equal(raw, "raw", 3);
    assert_false(r.bad);
    assert_int_equal(r.left, 0);
    rd_buf_free(&b);
}

static void test_reader_short_reads_set_bad_and_stick(void **state)
{
    (void)state;
    static const uint8_t data[] = { 1, 2, 3 };
    rd_reader r;

    rd_reader_init(&r, data, sizeof data);
    assert_int_equal(rd_read_u32(&r), 0);
    assert_true(r.bad);
    /* Failure is sticky: even a read that would fit now returns zero. */
    assert_int_equal(rd_read_u8(&r), 0);
    assert_null(rd_read_ptr(&r, 0));
    assert_true(r.bad);

    rd_reader_init(&r, data, sizeof data);
    assert_true(rd_read_u64(&r) == 0);
    assert_true(r.bad);

    rd_reader_init(&r, data, sizeof data);
    uint8_t out[4] = { 9, 9, 9, 9 };
    rd_read_raw(&r, out, sizeof out);
    assert_true(r.bad);
    static const uint8_t zero[4] = { 0 };
    assert_memory_equal(out, zero, sizeof out);

    /* Exactly the available bytes is fine; one more is not. */
    rd_reader_init(&r, data, sizeof data);
    const uint8_t *p = rd_read_ptr(&r, 3);
    assert_ptr_equal(p, data);
    assert_false(r.bad);
    assert_int_equal(r.left, 0);
    assert_int_equal(rd_read_u8(&r), 0);
    assert_true(r.bad);

    /* A huge length never wraps the bounds check. */
    rd_reader_init(&r, data, sizeof data);
    assert_null(rd_read_ptr(&r, SIZE_MAX));
    assert_true(r.bad);

    /* Empty input. */
    rd_reader_init(&r, NULL, 0);
    assert_int_equal(rd_read_u8(&r), 0);
    assert_true(r.bad);
}

static void test_read_str_rejects_nul_and_overlong(void **state)
{
    (void)state;
    rd_buf b = RD_BUF_INIT;
    rd_reader r;

    /* Embedded NUL. */
    rd_buf_append_bytes(&b, "ab\0cd", 5);
    rd_reader_init(&r, b.data, b.len);
    assert_null(rd_read_str(&r, 100));
    assert_true(r.bad);

    /* Longer than max, even though the bytes are there. */
    rd_buf_reset(&b);
    rd_buf_append_str(&b, "abcdef");
    rd_reader_init(&r, b.data, b.len);
    assert_null(rd_read_str(&r, 5));
    assert_true(r.bad);
    /* ... and exactly max is accepted. */
    rd_reader_init(&r, b.data, b.len);
    char *s = rd_read_str(&r, 6);
    assert_string_equal(s, "abcdef");
    free(s);
    assert_false(r.bad);

    /* A length prefix that claims more bytes than follow. */
    rd_buf_reset(&b);
    rd_buf_append_u32(&b, 10);
    rd_buf_append(&b, "abc", 3);
    rd_reader_init(&r, b.data, b.len);
    assert_null(rd_read_str(&r, 100));
    assert_true(r.bad);

    /* A huge length prefix is rejected by max before anything is allocated. */
    rd_buf_reset(&b);
    rd_buf_append_u32(&b, UINT32_MAX);
    rd_reader_init(&r, b.data, b.len);
    assert_null(rd_read_str(&r, SIZE_MAX));
    assert_true(r.bad);

    /* A truncated length prefix. */
    rd_reader_init(&r, "\x01\x00", 2);
    assert_null(rd_read_str(&r, 100));
    assert_true(r.bad);
    rd_buf_free(&b);
}

static void test_hex_round_trip(void **state)
{
    (void)state;
    uint8_t in[256], back[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    char hex[2 * 256 + 1];
    rd_hex_encode(in, sizeof in, hex);
    assert_int_equal(strlen(hex), 512);
    assert_memory_equal(hex, "000102", 6);
    assert_string_equal(hex + 506, "fdfeff");
    assert_int_equal(rd_hex_decode(hex, back, sizeof back), 0);
    assert_memory_equal(in, back, sizeof in);

    /* Upper case is accepted on input. */
    uint8_t two[2];
    assert_int_equal(rd_hex_decode("ABcd", two, 2), 0);
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);

    char empty[1];
    rd_hex_encode(in, 0, empty);
    assert_string_equal(empty, "");
    assert_int_equal(rd_hex_decode("", two, 0), 0);
}

static void test_hex_rejects_bad_digits_and_length(void **state)
{
    (void)state;
    uint8_t out[2];
    assert_int_equal(rd_hex_decode("0g12", out, 2), -1);
    assert_int_equal(rd_hex_decode("12 4", out, 2), -1);
    assert_int_equal(rd_hex_decode("-123", out, 2), -1);
    assert_int_equal(rd_hex_decode("12G4", out, 2), -1);
    assert_int_equal(rd_hex_decode("123", out, 2), -1);
    assert_int_equal(rd_hex_decode("12345", out, 2), -1);
    assert_int_equal(rd_hex_decode("", out, 2), -1);
    assert_int_equal(rd_hex_decode("0x12", out, 2), -1);
}

static void test_string_helpers(void **state)
{
    (void)state;
    assert_true(rd_str_starts_with("radiant.conf", "radiant"));
    assert_true(rd_str_starts_with("x", ""));
    assert_false(rd_str_starts_with("rad", "radiant"));
    assert_null(rd_strdup(NULL));
    char *s = rd_strdup("abc");
    assert_string_equal(s, "abc");
    free(s);
    s = rd_asprintf("%s-%d", "repo", 42);
    assert_string_equal(s, "repo-42");
    free(s);
    void *p = rd_malloc(0);     /* never NULL, even for zero bytes */
    assert_non_null(p);
    free(p);
    p = rd_calloc(0, 0);
    assert_non_null(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grows),
        cmocka_unit_test(test_buf_empty_append_is_noop),
        cmocka_unit_test(test_little_endian_encoding),
        cmocka_unit_test(test_reader_round_trip),
        cmocka_unit_test(test_reader_short_reads_set_bad_and_stick),
        cmocka_unit_test(test_read_str_rejects_nul_and_overlong),
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_hex_rejects_bad_digits_and_length),
        cmocka_unit_test(test_string_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
