/* Unit tests for src/core/compress: zstd round trips at several levels and
 * sizes, and every way a block can fail to decompress (-RD_ECORRUPT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/compress.h"
#include "core/error.h"

/* Half text-like, half pseudo-random: compressible but not trivially. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    static const char words[] = "radiant backup restore wal segment chunk pack index ";
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i / 64) % 2 ? (uint8_t)(x >> 16) : (uint8_t)words[i % (sizeof words - 1)];
    }
}

static void test_round_trip_sizes_and_levels(void **state)
{
    (void)state;
    static const int levels[] = { -7, 1, 3, 19 };
    static const size_t sizes[] = { 0, 1, 100, 4096, 65537, 1 << 20 };
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        rd_zstd *z = rd_zstd_new(levels[l]);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t len = sizes[s], cap = rd_zstd_bound(len), clen = 0;
            assert_true(cap >= len);
            uint8_t *src = rd_malloc(len), *dst = rd_malloc(cap), *back = rd_malloc(len);
            fill(src, len, (uint32_t)(l * 10 + s));
            assert_int_equal(rd_zstd_compress(z, src, len, dst, cap, &clen), 0);
            assert_true(clen > 0 && clen <= cap);
            assert_int_equal(rd_zstd_decompress(z, dst, clen, back, len), 0);
            assert_memory_equal(src, back, len);
            free(src);
            free(dst);
            free(back);
        }
        rd_zstd_free(z);
    }
    rd_zstd_free(NULL);
}

static void test_compressible_data_shrinks(void **state)
{
    (void)state;
    rd_zstd *z = rd_zstd_new(3);
    static uint8_t src[100000], dst[100000 + 1024];
    memset(src, 'x', sizeof src);
    size_t clen = 0;
    assert_int_equal(rd_zstd_compress(z, src, sizeof src, dst, sizeof dst, &clen), 0);
    assert_true(clen < 1000);
    /* The frame records the content size (needed by the exact-size check). */
    assert_true(ZSTD_getFrameContentSize(dst, clen) == sizeof src);
    rd_zstd_free(z);
}

static void test_too_small_output_fails(void **state)
{
    (void)state;
    rd_zstd *z = rd_zstd_new(3);
    uint8_t src[4096], dst[16];
    fill(src, sizeof src, 7);
    size_t clen = 12345;
    assert_int_equal(rd_zstd_compress(z, src, sizeof src, dst, sizeof dst, &clen),
                     -RD_EINTERNAL);
    assert_int_equal(clen, 12345);
    /* The context is still usable afterwards. */
    uint8_t big[8192], back[4096];
    assert_int_equal(rd_zstd_compress(z, src, sizeof src, big, sizeof big, &clen), 0);
    assert_int_equal(rd_zstd_decompress(z, big, clen, back, sizeof back), 0);
    assert_memory_equal(src, back, sizeof src);
    rd_zstd_free(z);
}

static void test_wrong_expected_size_is_corrupt(void **state)
{
    (void)state;
    rd_zstd *z = rd_zstd_new(3);
    uint8_t src[5000], dst[6000], back[6000];
    fill(src, sizeof src, 1);
    size_t clen;
    assert_int_equal(rd_zstd_compress(z, src, sizeof src, dst, sizeof dst, &clen), 0);
    assert_int_equal(rd_zstd_decompress(z, dst, clen, back, sizeof src - 1), -RD_ECORRUPT);
    assert_int_equal(rd_zstd_decompress(z, dst, clen, back, sizeof src + 1), -RD_ECORRUPT);
    assert_int_equal(rd_zstd_decompress(z, dst, clen, back, 0), -RD_ECORRUPT);
    assert_int_equal(rd_exit_code(-RD_ECORRUPT), 6);
    /* An empty block must not pass for a non-empty one either. */
    size_t elen;
    assert_int_equal(rd_zstd_compress(z, src, 0, dst, sizeof dst, &elen), 0);
    assert_int_equal(rd_zstd_decompress(z, dst, elen, back, 1), -RD_ECORRUPT);
    assert_int_equal(rd_zstd_decompress(z, dst, elen, back, 0), 0);
    rd_zstd_free(z);
}

static void test_garbage_and_truncation_are_corrupt(void **state)
{
    (void)state;
    rd_zstd *z = rd_zstd_new(3);
    uint8_t src[5000], dst[6000], back[5000];
    fill(src, sizeof src, 2);
    size_t clen;
    assert_int_equal(rd_zstd_compress(z, src, sizeof src, dst, sizeof dst, &clen), 0);

    /* Not a zstd frame at all. */
    uint8_t garbage[256];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 31 + 7);
    rd_error_clear();
    assert_int_equal(rd_zstd_decompress(z, garbage, sizeof garbage, back, sizeof back),
                     -RD_ECORRUPT);
    assert_string_not_equal(rd_error(), "unknown error");
    assert_int_equal(rd_zstd_decompress(z, garbage, 0, back, sizeof back), -RD_ECORRUPT);
    assert_int_equal(rd_zstd_decompress(z, dst, 3, back, sizeof back), -RD_ECORRUPT);

    /* Every truncation of a real frame. */
    for (size_t n = 0; n < clen; n++)
        if (rd_zstd_decompress(z, dst, n, back, sizeof back) != -RD_ECORRUPT)
            fail_msg("frame truncated to %zu of %zu bytes was accepted", n, clen);

    /* A real header followed by garbage blocks. */
    uint8_t mangled[6000];
    memcpy(mangled, dst, clen);
    memset(mangled + 12, 0xff, clen - 12);
    assert_int_equal(rd_zstd_decompress(z, mangled, clen, back, sizeof back), -RD_ECORRUPT);

    /* Trailing bytes after the frame. */
    memcpy(mangled, dst, clen);
    memcpy(mangled + clen, "junk", 4);
    assert_int_equal(rd_zstd_decompress(z, mangled, clen + 4, back, sizeof back),
                     -RD_ECORRUPT);

    /* The context still works after all these failures. */
    assert_int_equal(rd_zstd_decompress(z, dst, clen, back, sizeof back), 0);
    assert_memory_equal(src, back, sizeof src);
    rd_zstd_free(z);
}

static void test_frame_without_content_size_is_corrupt(void **state)
{
    (void)state;
    /* A streamed frame carries no content size; radiant never writes one and
     * must not trust one. */
    uint8_t src[1000], dst[2000], back[1000];
    fill(src, sizeof src, 3);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_outBuffer out = { dst, sizeof dst, 0 };
    ZSTD_inBuffer in = { src, sizeof src, 0 };
    size_t left = ZSTD_compressStream2(c, &out, &in, ZSTD_e_continue);
    assert_false(ZSTD_isError(left));
    left = ZSTD_compressStream2(c, &out, &in, ZSTD_e_end);
    assert_int_equal(left, 0);
    ZSTD_freeCCtx(c);
    assert_true(ZSTD_getFrameContentSize(dst, out.pos) == ZSTD_CONTENTSIZE_UNKNOWN);

    rd_zstd *z = rd_zstd_new(3);
    assert_int_equal(rd_zstd_decompress(z, dst, out.pos, back, sizeof back), -RD_ECORRUPT);
    rd_zstd_free(z);
}

/* A large body is cut into one frame per core (up to 4 MiB each at least);
 * the frames read back as one, and losing the last frame is damage. */
static void test_frames_round_trip(void **state)
{
    (void)state;
    static const char prefix[] = "object header";
    size_t len = 9u << 20, plen = sizeof prefix;
    uint8_t *src = rd_malloc(len), *back = rd_malloc(plen + len);
    fill(src, len, 4);
    size_t cap = rd_zstd_bound_frames(plen, len), clen = 0;
    uint8_t *dst = rd_malloc(cap);
    rd_zstd *z = rd_zstd_new(1);
    rd_zstd_set_min_match(z, 5);
    rd_zstd_set_checksum(z, true);
    assert_int_equal(rd_zstd_compress2_frames(z, prefix, plen, src, len, dst, cap, &clen), 0);
    assert_true(clen > 0 && clen <= cap);

    size_t frames = 0, last = 0;
    for (size_t at = 0; at < clen; frames++) {
        last = at;
        size_t n = ZSTD_findFrameCompressedSize(dst + at, clen - at);
        assert_false(ZSTD_isError(n));
        at += n;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(frames, cores >= 2 ? 2 : 1);

    assert_int_equal(rd_zstd_check_size(dst, clen, plen + len), 0);
    assert_int_equal(rd_zstd_decompress(z, dst, clen, back, plen + len), 0);
    assert_memory_equal(back, prefix, plen);
    assert_memory_equal(back + plen, src, len);
    if (frames > 1) {
        assert_int_equal(rd_zstd_check_size(dst, last, plen + len), -RD_ECORRUPT);
        assert_int_equal(rd_zstd_decompress(z, dst, last, back, plen + len), -RD_ECORRUPT);
        /* Damage inside the last frame, which another thread decompresses. */
        dst[last + (clen - last) / 2] ^= 0x55;
        assert_int_equal(rd_zstd_decompress(z, dst, clen, back, plen + len), -RD_ECORRUPT);
    }
    /* A small body stays one frame. */
    assert_int_equal(rd_zstd_compress2_frames(z, prefix, plen, src, 1000, dst, cap, &clen), 0);
    assert_int_equal(ZSTD_findFrameCompressedSize(dst, clen), clen);
    rd_zstd_free(z);
    free(src);
    free(dst);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sizes_and_levels),
        cmocka_unit_test(test_compressible_data_shrinks),
        cmocka_unit_test(test_too_small_output_fails),
        cmocka_unit_test(test_wrong_expected_size_is_corrupt),
        cmocka_unit_test(test_garbage_and_truncation_are_corrupt),
        cmocka_unit_test(test_frame_without_content_size_is_corrupt),
        cmocka_unit_test(test_frames_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
