/* Unit tests of the aws-chunked decoder (src/objstore/chunked.c): AWS's
 * published chunked-upload example ("Signature Calculations for the
 * Authorization Header: Transferring Payload in Multiple Chunks", 64 KiB and
 * 1 KiB chunks of 'a') fed in every kind of split, the unsigned-trailer
 * variant botocore sends with a checksum algorithm, and damaged bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "objstore/chunked.h"
#include "objstore/sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T0 1369353600LL
#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

static int lookup(void *arg, const char *akid, char *secret, size_t len)
{
    (void)arg;
    (void)akid;
    snprintf(secret, len, "%s", SK);
    return 0;
}

/* The example request of the AWS page, verified to get the seed signature. */
static os3_auth example_auth(void)
{
    os3_header h[] = {
        { "Host", "s3.amazonaws.com" },
        { "x-amz-date", "20130524T000000Z" },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
        { "Authorization", "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/"
          "aws4_request,SignedHeaders=content-encoding;content-length;host;"
          "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
          "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9" },
        { "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" },
        { "Content-Encoding", "aws-chunked" },
        { "x-amz-decoded-content-length", "66560" },
        { "Content-Length", "66824" },
    };
    os3_request r = { "PUT", "/examplebucket/chunkObject.txt", NULL, h, 8 };
    os3_auth_config c = { .secret = lookup, .now = T0 };
    os3_auth a;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), 0);
    return a;
}

static void example_body(rd_buf *b)
{
    static uint8_t as[65536];
    memset(as, 'a', sizeof as);
    const char *h1 = "10000;chunk-signature=" SIG1 "\r\n";
    rd_buf_append(b, h1, strlen(h1));
    rd_buf_append(b, as, 65536);
    const char *h2 = "\r\n400;chunk-signature=" SIG2 "\r\n";
    rd_buf_append(b, h2, strlen(h2));
    rd_buf_append(b, as, 1024);
    const char *h3 = "\r\n0;chunk-signature=" SIG3 "\r\n\r\n";
    rd_buf_append(b, h3, strlen(h3));
}

struct sink {
    uint64_t n;
    bool all_a;
    int fail_after;    /* calls before failing; <0 never */
    int calls;
};

static int sink_fn(void *arg, const uint8_t *data, size_t len)
{
    struct sink *s = arg;
    if (s->fail_after >= 0 && s->calls++ >= s->fail_after)
        return rd_fail(RD_EIO, "disk full");
    for (size_t i = 0; i < len; i++)
        if (data[i] != 'a')
            s->all_a = false;
    s->n += len;
    return 0;
}

static char last_msg[512];   /* rd_error() of the last decode() */

/* Feeds body in pieces of `step` bytes (0: all at once); returns finish()'s
 * rc, or the first failing feed's. */
static int decode(const os3_auth *a, const char *trailer, const uint8_t *body, size_t len,
                  size_t step, struct sink *s, enum os3_error *err)
{
    os3_chunked *c = NULL;
    enum os3_error e;
    int rc = os3_chunked_new(a, trailer, sink_fn, s, &c, &e);
    if (rc != 0) {
        *err = e;
        return rc;
    }
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        rc = os3_chunked_feed(c, body + off, n);
        off += n;
    }
    if (rc == 0)
        rc = os3_chunked_finish(c);
    *err = os3_chunked_error(c);
    snprintf(last_msg, sizeof last_msg, "%s", rd_error());
    assert_int_equal(os3_chunked_decoded(c), s->n);
    if (rc != 0) {
        /* Sticky: nothing more is accepted. */
        assert_int_not_equal(os3_chunked_feed(c, "x", 1), 0);
        assert_int_not_equal(os3_chunked_finish(c), 0);
        assert_int_equal(os3_chunked_error(c), *err);
    }
    os3_chunked_free(c);
    return rc;
}

static void test_aws_example_any_split(void **state)
{
    (void)state;
    os3_auth a = example_auth();
    rd_buf body = RD_BUF_INIT;
    example_body(&body);
    assert_int_equal(body.len, 66824);   /* the example's Content-Length */
    size_t steps[] = { 0, 1, 2, 3, 7, 64, 85, 86, 87, 1000, 65536, 65621, 66823 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct sink s = { 0, true, -1, 0 };
        enum os3_error e;
        int rc = decode(&a, NULL, body.data, body.len, steps[i], &s, &e);
        if (rc != 0)
            fail_msg("step %zu: %s: %s", steps[i], os3_error_code(e), last_msg);
        assert_int_equal(e, OS3_OK);
        assert_int_equal(s.n, 66560);
        assert_true(s.all_a);
    }
    /* Random splits. */
    srand(4);
    for (int round = 0; round < 20; round++) {
        struct sink s = { 0, true, -1, 0 };
        os3_chunked *c;
        enum os3_error e;
        assert_int_equal(os3_chunked_new(&a, NULL, sink_fn, &s, &c, &e), 0);
        for (size_t off = 0; off < body.len;) {
            size_t n = (size_t)rand() % 300;
            if (n > body.len - off)
                n = body.len - off;
            assert_int_equal(os3_chunked_feed(c, body.data + off, n), 0);
            off += n;
        }
        assert_int_equal(os3_chunked_finish(c), 0);
        os3_chunked_free(c);
        assert_int_equal(s.n, 66560);
    }
    rd_buf_free(&body);
}

struct damage {
    const char *name;
    size_t at;             /* byte to change, or SIZE_MAX for none */
    uint8_t to;
    size_t cut;            /* keep only this many bytes (0: all) */
    const char *append;    /* bytes added at the end */
    enum os3_error want;
};

static void test_damaged_bodies(void **state)
{
    (void)state;
    os3_auth a = example_auth();
    rd_buf body = RD_BUF_INIT;
    example_body(&body);
    /* The first chunk header, "10000;chunk-signature=" + 64 + CRLF, is 88 bytes. */
    static const struct damage cases[] = {
        { "data byte", 88 + 100, 'b', 0, NULL, OS3_SIGNATURE_DOES_NOT_MATCH },
        { "last data byte", 88 + 65535, 'b', 0, NULL, OS3_SIGNATURE_DOES_NOT_MATCH },
        { "signature digit", 30, 'f', 0, NULL, OS3_SIGNATURE_DOES_NOT_MATCH },
        { "signature not hex", 30, 'g', 0, NULL, OS3_INVALID_REQUEST },
        { "size digit", 4, '1', 0, NULL, OS3_SIGNATURE_DOES_NOT_MATCH },
        { "size beyond declared", 0, '2', 0, NULL, OS3_INCOMPLETE_BODY },
        { "size not hex", 0, 'x', 0, NULL, OS3_INVALID_REQUEST },
        { "extension name", 7, 'k', 0, NULL, OS3_INVALID_REQUEST },
        { "CR of header", 86, 'x', 0, NULL, OS3_INVALID_REQUEST },
        { "LF of header", 87, 'x', 0, NULL, OS3_INVALID_REQUEST },
        { "CR after data", 88 + 65536, 'x', 0, NULL, OS3_INVALID_REQUEST },
        { "LF after data", 88 + 65537, 'x', 0, NULL, OS3_INVALID_REQUEST },
        { "final signature", 66824 - 10, '0', 0, NULL, OS3_SIGNATURE_DOES_NOT_MATCH },
        { "final CRLF", 66824 - 2, 'x', 0, NULL, OS3_INVALID_REQUEST },
        { "cut in data", SIZE_MAX, 0, 1000, NULL, OS3_INCOMPLETE_BODY },
        { "cut in header", SIZE_MAX, 0, 50, NULL, OS3_INCOMPLETE_BODY },
        { "cut before final chunk", SIZE_MAX, 0, 88 + 65536 + 2 + 86 + 1024 + 2, NULL,
          OS3_INCOMPLETE_BODY },
        { "cut before final CRLF", SIZE_MAX, 0, 66822, NULL, OS3_INCOMPLETE_BODY },
        { "data after the end", SIZE_MAX, 0, 0, "x", OS3_INVALID_REQUEST },
        { "another chunk after the end", SIZE_MAX, 0, 0, "0;chunk-signature=" SIG3 "\r\n\r\n",
          OS3_INVALID_REQUEST },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rd_buf b = RD_BUF_INIT;
        rd_buf_append(&b, body.data, cases[i].cut ? cases[i].cut : body.len);
        if (cases[i].at != SIZE_MAX)
            b.data[cases[i].at] = cases[i].to;
        if (cases[i].append)
            rd_buf_append(&b, cases[i].append, strlen(cases[i].append));
        for (size_t step = 0; step <= 1; step++) {
            struct sink s = { 0, true, -1, 0 };
            enum os3_error e;
            int rc = decode(&a, NULL, b.data, b.len, step, &s, &e);
            if (rc == 0 || e != cases[i].want)
                fail_msg("%s (step %zu): rc %d, %s: %s", cases[i].name, step, rc,
                         os3_error_code(e), last_msg);
        }
        rd_buf_free(&b);
    }
    rd_buf_free(&body);
}

static void test_chain_order_and_lengths(void **state)
{
    (void)state;
    os3_auth a = example_auth();
    char as[1024];
    memset(as, 'a', sizeof as);
    /* The 1 KiB chunk first: its signature was chained on the 64 KiB one. */
    rd_buf b = RD_BUF_INIT;
    const char *h = "400;chunk-signature=" SIG2 "\r\n";
    rd_buf_append(&b, h, strlen(h));
    rd_buf_append(&b, as, 1024);
    struct sink s = { 0, true, -1, 0 };
    enum os3_error e;
    assert_int_not_equal(decode(&a, NULL, b.data, b.len, 0, &s, &e), 0);
    assert_int_equal(e, OS3_SIGNATURE_DOES_NOT_MATCH);
    rd_buf_free(&b);

    /* More than x-amz-decoded-content-length fails at the chunk header,
     * before any of its data reaches the sink. */
    rd_buf body = RD_BUF_INIT;
    example_body(&body);
    os3_auth small = a;
    small.decoded_content_length = 66559;
    s = (struct sink){ 0, true, -1, 0 };
    assert_int_not_equal(decode(&small, NULL, body.data, body.len, 0, &s, &e), 0);
    assert_int_equal(e, OS3_INCOMPLETE_BODY);
    assert_int_equal(s.n, 65536);
    small.decoded_content_length = 1000;
    s = (struct sink){ 0, true, -1, 0 };
    assert_int_not_equal(decode(&small, NULL, body.data, body.len, 0, &s, &e), 0);
    assert_int_equal(s.n, 0);
    /* Less than declared fails at the end. */
    small.decoded_content_length = 66561;
    s = (struct sink){ 0, true, -1, 0 };
    assert_int_not_equal(decode(&small, NULL, body.data, body.len, 0, &s, &e), 0);
    assert_int_equal(e, OS3_INCOMPLETE_BODY);

    /* A failing sink stops decoding. */
    s = (struct sink){ 0, true, 1, 0 };
    assert_int_equal(decode(&a, NULL, body.data, body.len, 1000, &s, &e), -RD_EINTERNAL);
    assert_int_equal(e, OS3_INTERNAL_ERROR);
    assert_non_null(strstr(last_msg, "disk full"));
    rd_buf_free(&body);
}

static void test_header_line_limits(void **state)
{
    (void)state;
    os3_auth a = example_auth();
    struct { const char *body; enum os3_error want; } cases[] = {
        { "", OS3_INCOMPLETE_BODY },
        { "\r\n", OS3_INVALID_REQUEST },
        { "\n", OS3_INVALID_REQUEST },
        { ";chunk-signature=" SIG1 "\r\n", OS3_INVALID_REQUEST },
        { "10000000000000000;chunk-signature=" SIG1 "\r\n", OS3_INVALID_REQUEST },
        { "ffffffffffffffff;chunk-signature=" SIG1 "\r\n", OS3_INCOMPLETE_BODY },
        { "10000;chunk-signature=" SIG1 "0\r\n", OS3_INVALID_REQUEST },
        { "10000;chunk-signature=" SIG1 ";x=y\r\n", OS3_INVALID_REQUEST },
        { "10000\r\n", OS3_INVALID_REQUEST },
        { "10000;chunk-signature=" SIG1 "\r\r\n", OS3_INVALID_REQUEST },
        { "1\0;chunk-signature=", OS3_INVALID_REQUEST },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sink s = { 0, true, -1, 0 };
        enum os3_error e;
        size_t len = i == 10 ? 20 : strlen(cases[i].body);
        int rc = decode(&a, NULL, (const uint8_t *)cases[i].body, len, 0, &s, &e);
        if (rc == 0 || e != cases[i].want)
            fail_msg("case %zu: %s: %s", i, os3_error_code(e), last_msg);
    }
    /* A header line without end is cut off at a bound, not buffered. */
    rd_buf b = RD_BUF_INIT;
    rd_buf_append(&b, "1", 1);
    for (int i = 0; i < 5000; i++)
        rd_buf_append_u8(&b, '0');
    struct sink s = { 0, true, -1, 0 };
    enum os3_error e;
    assert_int_not_equal(decode(&a, NULL, b.data, b.len, 1, &s, &e), 0);
    assert_int_equal(e, OS3_INVALID_REQUEST);
    rd_buf_free(&b);
}

static os3_auth trailer_auth(int64_t decoded_len)
{
    os3_auth a;
    memset(&a, 0, sizeof a);
    a.error = OS3_OK;
    a.payload = OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    a.decoded_content_length = decoded_len;
    return a;
}

static int decode_text(const os3_auth *a, const char *trailer, const char *body, size_t step,
                       rd_buf *out, enum os3_error *e)
{
    struct sink s = { 0, true, -1, 0 };
    (void)out;
    return decode(a, trailer, (const uint8_t *)body, strlen(body), step, &s, e);
}

/* What botocore's AwsChunkedWrapper sends: "HEX\r\nDATA\r\n" chunks, then
 * "0\r\nx-amz-checksum-NAME:BASE64\r\n\r\n". */
static void test_unsigned_trailer(void **state)
{
    (void)state;
    os3_auth a = trailer_auth(9);
    enum os3_error e;
    const char *crc32 = "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n";
    const char *crc32c = "4\r\n1234\r\n5\r\n56789\r\n0\r\nx-amz-checksum-crc32c:4waSgw==\r\n\r\n";
    const char *sha = "9\r\n123456789\r\n0\r\n"
        "X-Amz-Checksum-Sha256: FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=\r\n\r\n";
    for (size_t step = 0; step < 4; step++) {
        assert_int_equal(decode_text(&a, "x-amz-checksum-crc32", crc32, step, NULL, &e), 0);
        assert_int_equal(decode_text(&a, "x-amz-checksum-crc32c", crc32c, step, NULL, &e), 0);
        assert_int_equal(decode_text(&a, "X-Amz-Checksum-SHA256", sha, step, NULL, &e), 0);
    }
    /* Without a declared length the body bounds itself. */
    os3_auth any = trailer_auth(-1);
    assert_int_equal(decode_text(&any, "x-amz-checksum-crc32", crc32, 0, NULL, &e), 0);
    /* No trailer announced: none may come. */
    assert_int_equal(decode_text(&a, NULL, "9\r\n123456789\r\n0\r\n\r\n", 0, NULL, &e), 0);

    struct { const char *trailer, *body; enum os3_error want; } bad[] = {
        { "x-amz-checksum-crc32", "9\r\n123456780\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n",
          OS3_BAD_DIGEST },
        { "x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jw==\r\n\r\n",
          OS3_BAD_DIGEST },
        { "x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\n\r\n", OS3_INVALID_REQUEST },
        { "x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32c:4waSgw==\r\n\r\n",
          OS3_INVALID_REQUEST },
        { "x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n"
          "x-amz-checksum-crc32:y/Q5Jg==\r\n\r\n", OS3_INVALID_REQUEST },
        { "x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nno colon\r\n\r\n", OS3_INVALID_REQUEST },
        { "x-amz-checksum-crc32", "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n",
          OS3_INCOMPLETE_BODY },
        { NULL, "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n",
          OS3_INVALID_REQUEST },
        { NULL, "9;chunk-signature=" SIG1 "\r\n123456789\r\n0\r\n\r\n", OS3_INVALID_REQUEST },
        { NULL, "8\r\n123456789\r\n0\r\n\r\n", OS3_INVALID_REQUEST },
        { NULL, "a\r\n123456789\r\n0\r\n\r\n", OS3_INCOMPLETE_BODY },
        { NULL, "8\r\n12345678\r\n0\r\n\r\n", OS3_INCOMPLETE_BODY },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode_text(&a, bad[i].trailer, bad[i].body, 1, NULL, &e);
        if (rc == 0 || e != bad[i].want)
            fail_msg("case %zu: %s: %s", i, os3_error_code(e), last_msg);
    }
}

static void test_new_refuses(void **state)
{
    (void)state;
    os3_chunked *c = (os3_chunked *)1;
    enum os3_error e;
    os3_auth a = trailer_auth(9);
    assert_int_equal(os3_chunked_new(&a, "x-amz-checksum-sha1", sink_fn, NULL, &c, &e),
                     -RD_EUSAGE);
    assert_null(c);
    assert_int_equal(e, OS3_NOT_IMPLEMENTED);
    assert_int_equal(os3_chunked_new(&a, "x-amz-meta-foo", sink_fn, NULL, &c, &e), -RD_EUSAGE);
    assert_int_equal(e, OS3_INVALID_REQUEST);
    a.payload = OS3_PAYLOAD_UNSIGNED;
    assert_int_equal(os3_chunked_new(&a, NULL, sink_fn, NULL, &c, &e), -RD_EUSAGE);
    a = example_auth();
    assert_int_equal(os3_chunked_new(&a, "x-amz-checksum-crc32", sink_fn, NULL, &c, &e),
                     -RD_EUSAGE);
    assert_int_equal(e, OS3_NOT_IMPLEMENTED);
    a.error = OS3_ACCESS_DENIED;
    assert_int_equal(os3_chunked_new(&a, NULL, sink_fn, NULL, &c, &e), -RD_EUSAGE);
    os3_chunked_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_example_any_split),
        cmocka_unit_test(test_damaged_bodies),
        cmocka_unit_test(test_chain_order_and_lengths),
        cmocka_unit_test(test_header_line_limits),
        cmocka_unit_test(test_unsigned_trailer),
        cmocka_unit_test(test_new_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
