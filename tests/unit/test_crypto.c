/* Unit tests for src/core/crypto: published known-answer vectors for SHA-256
 * (FIPS 180-2), HMAC-SHA-256 (RFC 4231), AES-256-GCM (McGrew & Viega, the GCM
 * specification) and scrypt (RFC 7914), plus the sealed-message format and the
 * ways authentication must fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/error.h"

static void assert_hex(const uint8_t *bytes, size_t len, const char *hex)
{
    char *got = rd_malloc(2 * len + 1);
    rd_hex_encode(bytes, len, got);
    assert_string_equal(got, hex);
    free(got);
}

/* ---------------------------------------------------------------- SHA-256 -- */

static void test_sha256_fips180_vectors(void **state)
{
    (void)state;
    uint8_t md[RD_SHA256_LEN];
    rd_sha256("abc", 3, md);
    assert_hex(md, sizeof md,
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    rd_sha256("", 0, md);
    assert_hex(md, sizeof md,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rd_sha256(two_blocks, strlen(two_blocks), md);
    assert_hex(md, sizeof md,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_streaming_million_a(void **state)
{
    (void)state;
    /* One million 'a' in uneven pieces must equal the one-shot digest. */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    static const char expect[] =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    uint8_t md[RD_SHA256_LEN];
    rd_sha256(a, sizeof a, md);
    assert_hex(md, sizeof md, expect);

    rd_sha256_ctx *ctx = rd_sha256_new();
    size_t off = 0, step = 1;
    while (off < sizeof a) {
        size_t n = step < sizeof a - off ? step : sizeof a - off;
        rd_sha256_update(ctx, a + off, n);
        off += n;
        step = step * 3 + 1;
    }
    rd_sha256_update(ctx, "", 0);
    rd_sha256_final(ctx, md);
    assert_hex(md, sizeof md, expect);
    rd_sha256_free(ctx);
    rd_sha256_free(NULL);
}

/* ------------------------------------------------------------ HMAC-SHA-256 -- */

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    uint8_t key[131], data[152], mac[RD_SHA256_LEN];

    /* Test case 1 */
    memset(key, 0x0b, 20);
    rd_hmac_sha256(key, 20, "Hi There", 8, mac);
    assert_hex(mac, sizeof mac,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* Test case 2: a key shorter than the output */
    static const char what[] = "what do ya want for nothing?";
    rd_hmac_sha256("Jefe", 4, what, strlen(what), mac);
    assert_hex(mac, sizeof mac,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* Test case 3 */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    rd_hmac_sha256(key, 20, data, 50, mac);
    assert_hex(mac, sizeof mac,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    /* Test case 4 */
    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    rd_hmac_sha256(key, 25, data, 50, mac);
    assert_hex(mac, sizeof mac,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    /* Test case 6: a key larger than the block size */
    memset(key, 0xaa, 131);
    static const char big_key[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    rd_hmac_sha256(key, 131, big_key, strlen(big_key), mac);
    assert_hex(mac, sizeof mac,
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* Test case 7: key and data larger than the block size */
    static const char big_both[] =
        "This is a test using a larger than block-size key and a larger than block-size "
        "data. The key needs to be hashed before being used by the HMAC algorithm.";
    rd_hmac_sha256(key, 131, big_both, strlen(big_both), mac);
    assert_hex(mac, sizeof mac,
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* ----------------------------------------------------------- AES-256-GCM -- */

static void test_aead_known_answer(void **state)
{
    (void)state;
    /* GCM specification test cases 13 and 14: K = 0^256, IV = 0^96. Our sealed
     * format is nonce || ciphertext || tag, so the published values open. */
    static const uint8_t zero_key[RD_AEAD_KEY_LEN] = { 0 };
    uint8_t msg[RD_AEAD_OVERHEAD + 16], pt[16];

    memset(msg, 0, RD_AEAD_NONCE_LEN);
    assert_int_equal(rd_hex_decode("530f8afbc74536b9a963b4f1c4cb738b",
                                   msg + RD_AEAD_NONCE_LEN, 16), 0);
    assert_int_equal(rd_aead_open(zero_key, NULL, 0, msg, RD_AEAD_OVERHEAD, pt), 0);

    memset(msg, 0, RD_AEAD_NONCE_LEN);
    assert_int_equal(rd_hex_decode("cea7403d4d606b6e074ec5d3baf39d18"
                                   "d0d1c8a799996bf0265b98b5d48ab919",
                                   msg + RD_AEAD_NONCE_LEN, 32), 0);
    memset(pt, 0xff, sizeof pt);
    assert_int_equal(rd_aead_open(zero_key, NULL, 0, msg, sizeof msg, pt), 0);
    static const uint8_t zeros[16] = { 0 };
    assert_memory_equal(pt, zeros, 16);
}

static void test_aead_round_trip(void **state)
{
    (void)state;
    uint8_t key[RD_AEAD_KEY_LEN];
    assert_int_equal(rd_random_bytes(key, sizeof key), 0);
    static const size_t sizes[] = { 0, 1, 15, 16, 17, 4096, 1 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        uint8_t *pt = rd_malloc(len), *sealed = rd_malloc(len + RD_AEAD_OVERHEAD);
        uint8_t *back = rd_malloc(len);
        for (size_t j = 0; j < len; j++)
            pt[j] = (uint8_t)(j * 7 + i);
        static const char aad[] = "pack 0001";
        assert_int_equal(rd_aead_seal(key, aad, sizeof aad, pt, len, sealed), 0);
        assert_int_equal(rd_aead_open(key, aad, sizeof aad, sealed, len + RD_AEAD_OVERHEAD,
                                      back), 0);
        assert_memory_equal(pt, back, len);
        /* And without associated data. */
        assert_int_equal(rd_aead_seal(key, NULL, 0, pt, len, sealed), 0);
        assert_int_equal(rd_aead_open(key, NULL, 0, sealed, len + RD_AEAD_OVERHEAD, back), 0);
        assert_memory_equal(pt, back, len);
        free(pt);
        free(sealed);
        free(back);
    }
}

static void test_aead_nonce_is_fresh(void **state)
{
    (void)state;
    uint8_t key[RD_AEAD_KEY_LEN] = { 1 };
    uint8_t a[RD_AEAD_OVERHEAD + 5], b[RD_AEAD_OVERHEAD + 5];
    assert_int_equal(rd_aead_seal(key, NULL, 0, "hello", 5, a), 0);
    assert_int_equal(rd_aead_seal(key, NULL, 0, "hello", 5, b), 0);
    assert_memory_not_equal(a, b, RD_AEAD_NONCE_LEN);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_aead_tampering_fails(void **state)
{
    (void)state;
    uint8_t key[RD_AEAD_KEY_LEN], other[RD_AEAD_KEY_LEN];
    assert_int_equal(rd_random_bytes(key, sizeof key), 0);
    memcpy(other, key, sizeof key);
    other[31] ^= 0x01;
    static const char pt[] = "the backup manifest";
    enum { LEN = sizeof pt, TOTAL = LEN + RD_AEAD_OVERHEAD };
    uint8_t sealed[TOTAL], copy[TOTAL], out[LEN];
    static const char aad[] = "manifest 42";
    assert_int_equal(rd_aead_seal(key, aad, sizeof aad - 1, pt, LEN, sealed), 0);

    /* Every single flipped bit, in nonce, ciphertext or tag, is caught. */
    for (size_t bit = 0; bit < 8 * TOTAL; bit++) {
        memcpy(copy, sealed, TOTAL);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rd_error_clear();
        if (rd_aead_open(key, aad, sizeof aad - 1, copy, TOTAL, out) != -RD_ECORRUPT)
            fail_msg("flipped bit %zu was not detected", bit);
        assert_non_null(strstr(rd_error(), "authentication"));
    }
    /* Wrong, missing or extra associated data. */
    assert_int_equal(rd_aead_open(key, "manifest 43", 11, sealed, TOTAL, out), -RD_ECORRUPT);
    assert_int_equal(rd_aead_open(key, NULL, 0, sealed, TOTAL, out), -RD_ECORRUPT);
    assert_int_equal(rd_aead_open(key, aad, sizeof aad, sealed, TOTAL, out), -RD_ECORRUPT);
    /* Wrong key. */
    assert_int_equal(rd_aead_open(other, aad, sizeof aad - 1, sealed, TOTAL, out),
                     -RD_ECORRUPT);
    /* Truncated or extended messages. */
    assert_int_equal(rd_aead_open(key, aad, sizeof aad - 1, sealed, TOTAL - 1, out),
                     -RD_ECORRUPT);
    for (size_t n = 0; n < RD_AEAD_OVERHEAD; n++)
        assert_int_equal(rd_aead_open(key, aad, sizeof aad - 1, sealed, n, out), -RD_ECORRUPT);
    /* Still opens when untouched. */
    assert_int_equal(rd_aead_open(key, aad, sizeof aad - 1, sealed, TOTAL, out), 0);
    assert_memory_equal(out, pt, LEN);
}

/* ----------------------------------------------------------------- scrypt -- */

static void test_scrypt_rfc7914(void **state)
{
    (void)state;
    uint8_t dk[64];
    assert_int_equal(rd_scrypt("", 0, "", 0, 16, 1, 1, dk, sizeof dk), 0);
    assert_hex(dk, sizeof dk,
               "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
               "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");

    assert_int_equal(rd_scrypt("password", 8, "NaCl", 4, 1024, 8, 16, dk, sizeof dk), 0);
    assert_hex(dk, sizeof dk,
               "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
               "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

static void test_scrypt_bad_parameters(void **state)
{
    (void)state;
    uint8_t dk[32];
    /* N must be a power of two greater than 1. */
    assert_true(rd_scrypt("pw", 2, "salt", 4, 1000, 8, 1, dk, sizeof dk) < 0);
    assert_non_null(strstr(rd_error(), "N=1000"));
    assert_true(rd_scrypt("pw", 2, "salt", 4, 1, 8, 1, dk, sizeof dk) < 0);
    /* More memory than the 1 GiB ceiling. */
    assert_true(rd_scrypt("pw", 2, "salt", 4, 1ull << 40, 8, 1, dk, sizeof dk) < 0);
}

/* ------------------------------------------------------------------ misc -- */

static void test_random_and_memeq(void **state)
{
    (void)state;
    uint8_t a[32] = { 0 }, b[32] = { 0 };
    assert_int_equal(rd_random_bytes(a, sizeof a), 0);
    assert_int_equal(rd_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(rd_random_bytes(a, 0), 0);

    assert_int_equal(rd_memeq_ct(a, a, sizeof a), 0);
    memcpy(b, a, sizeof a);
    assert_int_equal(rd_memeq_ct(a, b, sizeof a), 0);
    b[31] ^= 0x80;
    assert_int_not_equal(rd_memeq_ct(a, b, sizeof a), 0);
    assert_int_equal(rd_memeq_ct(a, b, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips180_vectors),
        cmocka_unit_test(test_sha256_streaming_million_a),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_aead_known_answer),
        cmocka_unit_test(test_aead_round_trip),
        cmocka_unit_test(test_aead_nonce_is_fresh),
        cmocka_unit_test(test_aead_tampering_fails),
        cmocka_unit_test(test_scrypt_rfc7914),
        cmocka_unit_test(test_scrypt_bad_parameters),
        cmocka_unit_test(test_random_and_memeq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
