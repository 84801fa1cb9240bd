/* Unit tests of the object store's SigV4 verifier (src/objstore/sigv4.c):
 * AWS's published S3 examples ("Signature Calculations for the Authorization
 * Header: Transferring Payload in a Single Chunk": GET object with Range, PUT
 * object, GET bucket lifecycle, GET bucket list objects; "Authenticating
 * Requests: Using Query Parameters": the presigned examplebucket/test.txt URL;
 * the seed signature of the chunked-upload example), requests signed by
 * s3client's signer, and every kind of malformed or hostile request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/error.h"
#include "objstore/errors.h"
#include "objstore/sigv4.h"
#include "s3client/s3client.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define T0 1369353600LL   /* 2013-05-24T00:00:00Z */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CRED AK "/20130524/us-east-1/s3/aws4_request"

static int lookup(void *arg, const char *akid, char *secret, size_t len)
{
    (void)arg;
    if (strcmp(akid, "BROKEN") == 0)
        return rd_fail(RD_EIO, "catalog is unreadable");
    if (strcmp(akid, AK) != 0)
        return -RD_ENOENT;
    snprintf(secret, len, "%s", SK);
    return 0;
}

static os3_auth_config config(int64_t now)
{
    os3_auth_config c = { .secret = lookup, .now = now };
    return c;
}

/* ------------------------------------------------------ AWS examples -- */

#define GET_AUTH "AWS4-HMAC-SHA256 Credential=" CRED \
    ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," \
    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"

static int verify_get(const char *authz, const char *date, int64_t now, os3_auth *auth)
{
    os3_header h[] = {
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "Range", "bytes=0-9" },
        { "x-amz-content-sha256", EMPTY_SHA },
        { "x-amz-date", date },
        { "Authorization", authz },
        { "User-Agent", "not signed, and that is fine" },
    };
    os3_request r = { "GET", "/test.txt", NULL, h, 6 };
    os3_auth_config c = config(now);
    return os3_sigv4_verify(&r, &c, auth);
}

static void test_get_object_example(void **state)
{
    (void)state;
    os3_auth a;
    assert_int_equal(verify_get(GET_AUTH, DATE, T0, &a), 0);
    assert_int_equal(a.error, OS3_OK);
    assert_false(a.anonymous);
    assert_false(a.presigned);
    assert_string_equal(a.access_key_id, AK);
    assert_int_equal(a.payload, OS3_PAYLOAD_SHA256);
    assert_string_equal(a.payload_sha256, EMPTY_SHA);
    assert_string_equal(a.scope, "20130524/us-east-1/s3/aws4_request");
    assert_string_equal(a.amz_date, DATE);
    assert_string_equal(a.seed_signature,
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_int_equal(a.decoded_content_length, -1);

    uint8_t d[RD_SHA256_LEN];
    enum os3_error e;
    rd_sha256("", 0, d);
    assert_int_equal(os3_payload_verify(&a, d, &e), 0);
    assert_int_equal(e, OS3_OK);
    rd_sha256("x", 1, d);
    assert_int_equal(os3_payload_verify(&a, d, &e), -RD_ECORRUPT);
    assert_int_equal(e, OS3_X_AMZ_CONTENT_SHA256_MISMATCH);
    assert_int_equal(os3_error_status(e), 400);
    assert_non_null(strstr(rd_error(), EMPTY_SHA));
    os3_auth_clear(&a);
    os3_auth_clear(NULL);
}

static void test_clock_skew(void **state)
{
    (void)state;
    os3_auth a;
    assert_int_equal(verify_get(GET_AUTH, DATE, T0 + 900, &a), 0);
    assert_int_equal(verify_get(GET_AUTH, DATE, T0 - 900, &a), 0);
    assert_int_equal(verify_get(GET_AUTH, DATE, T0 + 901, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_REQUEST_TIME_TOO_SKEWED);
    assert_int_equal(os3_error_status(a.error), 403);
    assert_int_equal(verify_get(GET_AUTH, DATE, T0 - 901, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_REQUEST_TIME_TOO_SKEWED);
    /* A date that is no date at all. */
    assert_int_equal(verify_get(GET_AUTH, "20130524T250000Z", T0, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_ACCESS_DENIED);
    assert_int_equal(verify_get(GET_AUTH, "2013-05-24T00:00:00Z", T0, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_ACCESS_DENIED);
    /* The credential scope's date must be x-amz-date's. */
    assert_int_equal(verify_get(GET_AUTH, "20130525T000000Z", T0 + 86400, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_AUTHORIZATION_HEADER_MALFORMED);
}

static void test_put_object_example(void **state)
{
    (void)state;
    const char *sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    const char *authz = "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=date;host;"
        "x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
    os3_header h[] = {
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
        { "Authorization", authz },
        { "x-amz-date", DATE },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
        { "x-amz-content-sha256", sha },
    };
    os3_auth_config c = config(T0);
    os3_auth a;
    /* The key "test$file.text" as encoded by the client, and sent raw. */
    const char *paths[] = { "/test%24file.text", "/test$file.text", "/test%24file%2Etext" };
    for (size_t i = 0; i < 3; i++) {
        os3_request r = { "PUT", paths[i], NULL, h, 6 };
        assert_int_equal(os3_sigv4_verify(&r, &c, &a), 0);
        assert_string_equal(a.payload_sha256, sha);
    }
    uint8_t d[RD_SHA256_LEN];
    enum os3_error e;
    rd_sha256("Welcome to Amazon S3.", 21, d);
    assert_int_equal(os3_payload_verify(&a, d, &e), 0);

    /* Another method, path, header value or payload is another signature. */
    os3_request r = { "POST", "/test%24file.text", NULL, h, 6 };
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_SIGNATURE_DOES_NOT_MATCH);
    r.method = "PUT";
    r.path = "/test%24file.txt";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_SIGNATURE_DOES_NOT_MATCH);
    r.path = "/test%24file.text";
    h[4].value = "STANDARD";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EPASS);
    h[4].value = "REDUCED_REDUNDANCY";
    h[5].value = EMPTY_SHA;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_SIGNATURE_DOES_NOT_MATCH);
    assert_int_equal(os3_error_status(a.error), 403);
}

static int verify_bucket_get(const char *query, const char *sig)
{
    char authz[512];
    snprintf(authz, sizeof authz, "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;"
             "x-amz-content-sha256;x-amz-date,Signature=%s", sig);
    os3_header h[] = {
        { "host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-date", DATE },
        { "x-amz-content-sha256", EMPTY_SHA },
        { "authorization", authz },
    };
    os3_request r = { "GET", "/", query, h, 4 };
    os3_auth_config c = config(T0);
    os3_auth a;
    return os3_sigv4_verify(&r, &c, &a);
}

static void test_lifecycle_and_list_examples(void **state)
{
    (void)state;
    const char *lc = "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543";
    assert_int_equal(verify_bucket_get("lifecycle", lc), 0);
    assert_int_equal(verify_bucket_get("lifecycle=", lc), 0);
    assert_int_equal(verify_bucket_get("versioning", lc), -RD_EPASS);
    const char *ls = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
    assert_int_equal(verify_bucket_get("max-keys=2&prefix=J", ls), 0);
    /* The canonical query is sorted, whatever order the client sent. */
    assert_int_equal(verify_bucket_get("prefix=J&max-keys=2", ls), 0);
    assert_int_equal(verify_bucket_get("prefix=%4A&max-keys=2", ls), 0);
    assert_int_equal(verify_bucket_get("prefix=K&max-keys=2", ls), -RD_EPASS);
    assert_int_equal(verify_bucket_get("max-keys=2&prefix=J&x", ls), -RD_EPASS);
    assert_int_equal(verify_bucket_get("max-keys=2&prefix=%zz", ls), -RD_EUSAGE);
}

#define PRESIGNED_QUERY "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE" \
    "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400" \
    "&X-Amz-SignedHeaders=host&X-Amz-Signature=" \
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

static int verify_presigned(const char *query, int64_t now, os3_auth *a)
{
    os3_header h[] = { { "Host", "examplebucket.s3.amazonaws.com" } };
    os3_request r = { "GET", "/test.txt", query, h, 1 };
    os3_auth_config c = config(now);
    return os3_sigv4_verify(&r, &c, a);
}

static void test_presigned_example(void **state)
{
    (void)state;
    os3_auth a;
    assert_int_equal(verify_presigned(PRESIGNED_QUERY, T0, &a), 0);
    assert_true(a.presigned);
    assert_string_equal(a.access_key_id, AK);
    assert_int_equal(a.payload, OS3_PAYLOAD_UNSIGNED);
    assert_int_equal(verify_presigned(PRESIGNED_QUERY, T0 + 86400, &a), 0);
    /* A presigned URL is good from (nearly) its date until it expires. */
    assert_int_equal(verify_presigned(PRESIGNED_QUERY, T0 + 86401, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_ACCESS_DENIED);
    assert_string_equal(rd_error(), "Request has expired");
    assert_int_equal(verify_presigned(PRESIGNED_QUERY, T0 - 900, &a), 0);
    assert_int_equal(verify_presigned(PRESIGNED_QUERY, T0 - 901, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_ACCESS_DENIED);
    assert_string_equal(rd_error(), "Request is not valid yet");
    /* Extra parameters are signed too. */
    assert_int_equal(verify_presigned(PRESIGNED_QUERY "&versionId=1", T0, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_SIGNATURE_DOES_NOT_MATCH);
    /* The expiry is part of what is signed: stretching it breaks the signature. */
    char q[1024];
    snprintf(q, sizeof q, "%s", PRESIGNED_QUERY);
    char *e = strstr(q, "86400");
    memcpy(e, "86401", 5);
    assert_int_equal(verify_presigned(q, T0, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_SIGNATURE_DOES_NOT_MATCH);
}

struct presign_case {
    const char *find, *replace;
    enum os3_error want;
};

static void test_presigned_malformed(void **state)
{
    (void)state;
    static const struct presign_case cases[] = {
        { "X-Amz-Expires=86400", "X-Amz-Expires=0", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Expires=86400", "X-Amz-Expires=604801",
          OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Expires=86400", "X-Amz-Expires=-1", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Expires=86400", "X-Amz-Expires=1e3", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Expires=86400", "X-Amz-Expires=", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Expires=86400", "X-Amz-Expiresx=1", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "%2Fus-east-1", "", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "%2Fs3%2F", "%2Fec2%2F", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "%2F20130524", "%2F2013052", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130524",
          OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z",
          OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "SignedHeaders=host", "SignedHeaders=Host", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "SignedHeaders=host", "SignedHeaders=range", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "SignedHeaders=host", "SignedHeaders=host%3A", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "Signature=aeeed9", "Signature=zeeed9", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "Signature=aeeed9", "Signature=aeeed", OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR },
        { "Signature=aeeed9", "Signature=beeed9", OS3_SIGNATURE_DOES_NOT_MATCH },
        { "AKIAIOSFODNN7EXAMPLE", "AKIDUNKNOWN", OS3_INVALID_ACCESS_KEY_ID },
        { "AKIAIOSFODNN7EXAMPLE", "BROKEN", OS3_INTERNAL_ERROR },
        { "%2Faws4_request", "%2Faws4_request%zz", OS3_INVALID_ARGUMENT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char q[1024];
        const char *at = strstr(PRESIGNED_QUERY, cases[i].find);
        assert_non_null(at);
        snprintf(q, sizeof q, "%.*s%s%s", (int)(at - PRESIGNED_QUERY), PRESIGNED_QUERY,
                 cases[i].replace, at + strlen(cases[i].find));
        os3_auth a;
        int rc = verify_presigned(q, T0, &a);
        if (a.error != cases[i].want)
            fail_msg("case %zu (%s): got %s: %s", i, q, os3_error_code(a.error), rd_error());
        assert_true(rc < 0);
        assert_true(rd_error()[0] != '\0');
    }
}

/* "Example: PUT Object" of the chunked-upload page: its seed signature. */
static void test_chunked_seed_example(void **state)
{
    (void)state;
    os3_header h[] = {
        { "Host", "s3.amazonaws.com" },
        { "x-amz-date", DATE },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
        { "Authorization", "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders="
          "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
          "x-amz-decoded-content-length;x-amz-storage-class,Signature="
          "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9" },
        { "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" },
        { "Content-Encoding", "aws-chunked" },
        { "x-amz-decoded-content-length", "66560" },
        { "Content-Length", "66824" },
    };
    os3_request r = { "PUT", "/examplebucket/chunkObject.txt", NULL, h, 8 };
    os3_auth_config c = config(T0);
    os3_auth a;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), 0);
    assert_int_equal(a.payload, OS3_PAYLOAD_STREAMING_SIGNED);
    assert_int_equal(a.decoded_content_length, 66560);
    assert_string_equal(a.seed_signature,
                        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    /* The streaming mode needs the decoded length. */
    h[6].name = "x-decoded-content-length";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_MISSING_CONTENT_LENGTH);
    h[6].name = "x-amz-decoded-content-length";
    h[6].value = "66560x";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_INVALID_ARGUMENT);
}

/* ------------------------------------ requests signed by s3client's signer -- */

/* Signs with s3_sigv4_sign from the canonical header lines, then verifies a
 * request whose headers are given as a client might send them. */
static int sign_and_verify(const char *method, const char *canon_uri, const char *canon_query,
                           const char *const *lines, size_t n_lines, const char *payload,
                           const char *path, const char *query, os3_header *h, size_t n,
                           const os3_auth_config *c, os3_auth *a)
{
    char authz[1024];
    assert_int_equal(s3_sigv4_sign(method, canon_uri, canon_query, lines, n_lines, payload, DATE,
                                   "us-east-1", "s3", AK, SK, authz, sizeof authz), 0);
    os3_header *all = calloc(n + 1, sizeof *all);
    memcpy(all, h, n * sizeof *h);
    all[n].name = "Authorization";
    all[n].value = authz;
    os3_request r = { method, path, query, all, n + 1 };
    int rc = os3_sigv4_verify(&r, c, a);
    free(all);
    return rc;
}

static void test_header_canonicalisation(void **state)
{
    (void)state;
    const char *lines[] = {
        "host:h:9000",
        "x-amz-content-sha256:UNSIGNED-PAYLOAD",
        ("x-amz-date:" DATE),
        "x-amz-meta-a:one two,three",
    };
    /* Blanks trimmed and collapsed, repeated headers joined with ',', names
     * in any case, query and path encoded differently from the canonical form. */
    os3_header h[] = {
        { "HOST", "  h:9000 " },
        { "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD" },
        { "X-AMZ-DATE", DATE },
        { "x-amz-meta-a", "one   \t two" },
        { "X-Amz-Meta-A", "three" },
    };
    os3_auth_config c = config(T0);
    os3_auth a;
    assert_int_equal(sign_and_verify("GET", "/b/a%20b/c~d%2Be", "list-type=2&prefix=a%2Fb%20c",
                                     lines, 4, "UNSIGNED-PAYLOAD", "/b/a%20b/c%7ed+e",
                                     "prefix=a/b%20c&list-type=2", h, 5, &c, &a), 0);
    assert_int_equal(a.payload, OS3_PAYLOAD_UNSIGNED);
    /* A different order of the repeated header is a different value. */
    h[3].value = "three";
    h[4].value = "one two";
    assert_int_equal(sign_and_verify("GET", "/b/a%20b/c~d%2Be", "list-type=2&prefix=a%2Fb%20c",
                                     lines, 4, "UNSIGNED-PAYLOAD", "/b/a%20b/c%7ed+e",
                                     "prefix=a/b%20c&list-type=2", h, 5, &c, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_SIGNATURE_DOES_NOT_MATCH);
}

static void test_unsigned_amz_header_refused(void **state)
{
    (void)state;
    const char *lines[] = { "host:h", "x-amz-content-sha256:" EMPTY_SHA, "x-amz-date:" DATE };
    os3_header h[] = {
        { "host", "h" },
        { "x-amz-content-sha256", EMPTY_SHA },
        { "x-amz-date", DATE },
        { "x-amz-copy-source", "/other/secret" },
    };
    os3_auth_config c = config(T0);
    os3_auth a;
    assert_int_equal(sign_and_verify("PUT", "/b/k", "", lines, 3, EMPTY_SHA, "/b/k", NULL, h, 4,
                                     &c, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_ACCESS_DENIED);
    assert_non_null(strstr(rd_error(), "x-amz-copy-source"));
    assert_int_equal(sign_and_verify("PUT", "/b/k", "", lines, 3, EMPTY_SHA, "/b/k", NULL, h, 3,
                                     &c, &a), 0);
}

static void test_payload_modes(void **state)
{
    (void)state;
    struct { const char *value; int rc; enum os3_error err; enum os3_payload mode; } cases[] = {
        { EMPTY_SHA, 0, OS3_OK, OS3_PAYLOAD_SHA256 },
        { "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 0, OS3_OK,
          OS3_PAYLOAD_SHA256 },
        { "UNSIGNED-PAYLOAD", 0, OS3_OK, OS3_PAYLOAD_UNSIGNED },
        { "STREAMING-UNSIGNED-PAYLOAD-TRAILER", 0, OS3_OK,
          OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER },
        { "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", -RD_EUSAGE, OS3_NOT_IMPLEMENTED, 0 },
        { "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", -RD_EUSAGE, OS3_NOT_IMPLEMENTED, 0 },
        { "unsigned-payload", -RD_EUSAGE, OS3_INVALID_ARGUMENT, 0 },
        { "e3b0c442", -RD_EUSAGE, OS3_INVALID_ARGUMENT, 0 },
        { "", -RD_EUSAGE, OS3_INVALID_ARGUMENT, 0 },
    };
    os3_auth_config c = config(T0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "x-amz-content-sha256:%s", cases[i].value);
        const char *lines[] = { "host:h", line, "x-amz-date:" DATE };
        os3_header h[] = {
            { "host", "h" },
            { "x-amz-content-sha256", cases[i].value },
            { "x-amz-date", DATE },
        };
        os3_auth a;
        int rc = sign_and_verify("PUT", "/b/k", "", lines, 3, cases[i].value, "/b/k", NULL, h,
                                 3, &c, &a);
        if (rc != cases[i].rc || a.error != cases[i].err)
            fail_msg("case %s: rc %d, %s: %s", cases[i].value, rc, os3_error_code(a.error),
                     rd_error());
        if (rc == 0) {
            assert_int_equal(a.payload, cases[i].mode);
            if (a.payload == OS3_PAYLOAD_SHA256)
                assert_string_equal(a.payload_sha256, EMPTY_SHA);
            else
                assert_int_equal(a.decoded_content_length, -1);
        }
    }
    /* Missing entirely. */
    const char *lines[] = { "host:h", "x-amz-date:" DATE };
    os3_header h[] = { { "host", "h" }, { "x-amz-date", DATE } };
    os3_auth a;
    assert_int_equal(sign_and_verify("GET", "/", "", lines, 2, EMPTY_SHA, "/", NULL, h, 2, &c, &a),
                     -RD_EUSAGE);
    assert_int_equal(a.error, OS3_MISSING_SECURITY_HEADER);
}

static void test_region_and_scope(void **state)
{
    (void)state;
    os3_auth a;
    os3_header h[] = {
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "Range", "bytes=0-9" },
        { "x-amz-content-sha256", EMPTY_SHA },
        { "x-amz-date", DATE },
        { "Authorization", GET_AUTH },
    };
    os3_request r = { "GET", "/test.txt", NULL, h, 5 };
    os3_auth_config c = config(T0);
    c.region = "us-east-1";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), 0);
    c.region = "eu-west-1";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_AUTHORIZATION_HEADER_MALFORMED);
    assert_non_null(strstr(rd_error(), "expecting 'eu-west-1'"));
    /* Without a secret lookup, every key is unknown. */
    c.region = NULL;
    c.secret = NULL;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EPASS);
    assert_int_equal(a.error, OS3_INVALID_ACCESS_KEY_ID);
}

/* ---------------------------------------------------- malformed headers -- */

struct authz_case {
    const char *value;
    enum os3_error want;
};

static void test_authorization_malformed(void **state)
{
    (void)state;
    static const struct authz_case cases[] = {
        { "", OS3_INVALID_ARGUMENT },
        { "AWS4-HMAC-SHA256", OS3_INVALID_ARGUMENT },
        { "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", OS3_INVALID_REQUEST },
        { "Bearer xyz", OS3_INVALID_ARGUMENT },
        { "AWS4-HMAC-SHA256 ", OS3_INVALID_ARGUMENT },  /* trimmed: no parameters */
        { "AWS4-HMAC-SHA256  ,", OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host", OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host,Signature=abc",
          OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host,Signature=" EMPTY_SHA
          ",Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",Credential=" CRED ",SignedHeaders=host,Signature="
          EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host,Signature=" EMPTY_SHA ",Foo=1",
          OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host,Signature",
          OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=,Signature=" EMPTY_SHA,
          OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;;x-amz-date,Signature="
          EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=Host,Signature=" EMPTY_SHA,
          OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=range,Signature=" EMPTY_SHA,
          OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3,SignedHeaders=host,Signature="
          EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request/x,SignedHeaders="
          "host,Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws5_request,SignedHeaders="
          "host,Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request,SignedHeaders="
          "host,Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AK "/2013052x/us-east-1/s3/aws4_request,SignedHeaders="
          "host,Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AK "/20130524//s3/aws4_request,SignedHeaders="
          "host,Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/iam/aws4_request,SignedHeaders="
          "host,Signature=" EMPTY_SHA, OS3_AUTHORIZATION_HEADER_MALFORMED },
        /* Well-formed but wrong. */
        { "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;range;x-amz-content-sha256;"
          "x-amz-date,Signature=" EMPTY_SHA, OS3_SIGNATURE_DOES_NOT_MATCH },
        { "AWS4-HMAC-SHA256 Credential=NOBODY/20130524/us-east-1/s3/aws4_request,SignedHeaders="
          "host;range;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA,
          OS3_INVALID_ACCESS_KEY_ID },
        { "AWS4-HMAC-SHA256 Credential=BROKEN/20130524/us-east-1/s3/aws4_request,SignedHeaders="
          "host;range;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, OS3_INTERNAL_ERROR },
        /* Spaces after commas, components in another order, uppercase hex. */
        { "AWS4-HMAC-SHA256 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
          "Signature=F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41, "
          "Credential=" CRED, OS3_OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        os3_auth a;
        int rc = verify_get(cases[i].value, DATE, T0, &a);
        if (a.error != cases[i].want)
            fail_msg("case %zu (%s): got %s: %s", i, cases[i].value, os3_error_code(a.error),
                     rd_error());
        assert_int_equal(rc == 0, cases[i].want == OS3_OK);
        if (rc != 0) {
            assert_true(rd_error()[0] != '\0');
            /* A failed verification leaves no key behind. */
            static const uint8_t zero[RD_SHA256_LEN];
            assert_memory_equal(a.signing_key, zero, sizeof zero);
        }
    }
}

static void test_anonymous_and_mixed(void **state)
{
    (void)state;
    os3_header h[] = { { "Host", "h" }, { "Authorization", GET_AUTH } };
    os3_request r = { "GET", "/b/k", NULL, h, 1 };
    os3_auth_config c = config(T0);
    os3_auth a;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EPASS);
    assert_true(a.anonymous);
    assert_int_equal(a.error, OS3_ACCESS_DENIED);
    r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
    r.n_headers = 2;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_INVALID_ARGUMENT);
    assert_false(a.anonymous);
    r.query = "%";
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_INVALID_ARGUMENT);
    /* Incomplete presigned parameters. */
    r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" EMPTY_SHA;
    r.n_headers = 1;
    assert_int_equal(os3_sigv4_verify(&r, &c, &a), -RD_EUSAGE);
    assert_int_equal(a.error, OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR);
    assert_true(a.presigned);
}

/* ------------------------------------------------------ canonical forms -- */

static void check_query(const char *raw, bool drop, int rc, const char *want)
{
    rd_buf b = RD_BUF_INIT;
    assert_int_equal(os3_sigv4_canonical_query(raw, drop, &b), rc);
    if (rc == 0)
        assert_string_equal((const char *)b.data, want);
    rd_buf_free(&b);
}

static void check_uri(const char *raw, int rc, const char *want)
{
    rd_buf b = RD_BUF_INIT;
    assert_int_equal(os3_sigv4_canonical_uri(raw, &b), rc);
    if (rc == 0)
        assert_string_equal((const char *)b.data, want);
    rd_buf_free(&b);
}

static void test_canonical_forms(void **state)
{
    (void)state;
    check_query(NULL, false, 0, "");
    check_query("", false, 0, "");
    check_query("acl", false, 0, "acl=");
    check_query("b=2&a=1&&a=0", false, 0, "a=0&a=1&b=2");
    check_query("prefix=a/b c+d~", false, 0, "prefix=a%2Fb%20c%2Bd~");
    check_query("k%2f=%7e%41", false, 0, "k%2F=~A");
    check_query("x=a=b", false, 0, "x=a%3Db");
    check_query("X-Amz-Signature=abc&b=1", true, 0, "b=1");
    check_query("X-Amz-Signature=abc&b=1", false, 0, "X-Amz-Signature=abc&b=1");
    check_query("a=%", false, -RD_EUSAGE, NULL);
    check_query("a=%4", false, -RD_EUSAGE, NULL);
    check_query("a=%g0", false, -RD_EUSAGE, NULL);
    check_query("a=%00", false, -RD_EUSAGE, NULL);
    check_query("%zz=1", false, -RD_EUSAGE, NULL);
    check_uri(NULL, 0, "/");
    check_uri("", 0, "/");
    check_uri("/", 0, "/");
    check_uri("/b/a b/./../c", 0, "/b/a%20b/./../c");   /* not normalised */
    check_uri("//b//k", 0, "//b//k");
    check_uri("/b/%c3%a9t%C3%A9", 0, "/b/%C3%A9t%C3%A9");
    check_uri("/b/a%2Fb", 0, "/b/a/b");
    check_uri("/b/%", -RD_EUSAGE, NULL);
    check_uri("/b/%00", -RD_EUSAGE, NULL);

    /* Too many parameters is refused, not allocated without bound. */
    rd_buf big = RD_BUF_INIT;
    for (int i = 0; i < 300; i++)
        rd_buf_append(&big, "a=1&", 4);
    rd_buf_append_u8(&big, '\0');
    check_query((const char *)big.data, false, -RD_EUSAGE, NULL);
    rd_buf_free(&big);
}

static void test_error_table(void **state)
{
    (void)state;
    struct { enum os3_error e; const char *code; int status; } t[] = {
        { OS3_NO_SUCH_BUCKET, "NoSuchBucket", 404 },
        { OS3_NO_SUCH_KEY, "NoSuchKey", 404 },
        { OS3_NO_SUCH_VERSION, "NoSuchVersion", 404 },
        { OS3_NO_SUCH_UPLOAD, "NoSuchUpload", 404 },
        { OS3_SIGNATURE_DOES_NOT_MATCH, "SignatureDoesNotMatch", 403 },
        { OS3_ACCESS_DENIED, "AccessDenied", 403 },
        { OS3_INVALID_ACCESS_KEY_ID, "InvalidAccessKeyId", 403 },
        { OS3_INVALID_ARGUMENT, "InvalidArgument", 400 },
        { OS3_MALFORMED_XML, "MalformedXML", 400 },
        { OS3_INVALID_RANGE, "InvalidRange", 416 },
        { OS3_ENTITY_TOO_SMALL, "EntityTooSmall", 400 },
        { OS3_INVALID_PART, "InvalidPart", 400 },
        { OS3_INVALID_PART_ORDER, "InvalidPartOrder", 400 },
        { OS3_BUCKET_NOT_EMPTY, "BucketNotEmpty", 409 },
        { OS3_BUCKET_ALREADY_OWNED_BY_YOU, "BucketAlreadyOwnedByYou", 409 },
        { OS3_BUCKET_ALREADY_EXISTS, "BucketAlreadyExists", 409 },
        { OS3_INVALID_BUCKET_NAME, "InvalidBucketName", 400 },
        { OS3_METHOD_NOT_ALLOWED, "MethodNotAllowed", 405 },
        { OS3_PRECONDITION_FAILED, "PreconditionFailed", 412 },
        { OS3_NOT_MODIFIED, "NotModified", 304 },
        { OS3_BAD_DIGEST, "BadDigest", 400 },
        { OS3_INVALID_DIGEST, "InvalidDigest", 400 },
        { OS3_X_AMZ_CONTENT_SHA256_MISMATCH, "XAmzContentSHA256Mismatch", 400 },
        { OS3_MISSING_CONTENT_LENGTH, "MissingContentLength", 411 },
        { OS3_NO_SUCH_LIFECYCLE_CONFIGURATION, "NoSuchLifecycleConfiguration", 404 },
        { OS3_NOT_IMPLEMENTED, "NotImplemented", 501 },
        { OS3_INTERNAL_ERROR, "InternalError", 500 },
        { OS3_REQUEST_TIME_TOO_SKEWED, "RequestTimeTooSkewed", 403 },
        { OS3_AUTHORIZATION_HEADER_MALFORMED, "AuthorizationHeaderMalformed", 400 },
        { OS3_MISSING_SECURITY_HEADER, "MissingSecurityHeader", 400 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_string_equal(os3_error_code(t[i].e), t[i].code);
        assert_int_equal(os3_error_status(t[i].e), t[i].status);
        assert_int_equal(os3_error_from_code(t[i].code), t[i].e);
    }
    /* Every entry is filled in. */
    for (int e = 1; e < OS3_ERROR_COUNT; e++) {
        assert_true(strlen(os3_error_code((enum os3_error)e)) > 0);
        assert_true(strlen(os3_error_message((enum os3_error)e)) > 0);
        assert_true(os3_error_status((enum os3_error)e) >= 300);
    }
    assert_string_equal(os3_error_code(OS3_ERROR_COUNT), "InternalError");
    assert_string_equal(os3_error_code((enum os3_error)-1), "InternalError");
    assert_int_equal(os3_error_status(OS3_ERROR_COUNT), 500);
    assert_int_equal(os3_error_from_code("NoSuchThing"), OS3_INTERNAL_ERROR);
    assert_int_equal(os3_error_from_code(NULL), OS3_INTERNAL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_object_example),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_put_object_example),
        cmocka_unit_test(test_lifecycle_and_list_examples),
        cmocka_unit_test(test_presigned_example),
        cmocka_unit_test(test_presigned_malformed),
        cmocka_unit_test(test_chunked_seed_example),
        cmocka_unit_test(test_header_canonicalisation),
        cmocka_unit_test(test_unsigned_amz_header_refused),
        cmocka_unit_test(test_payload_modes),
        cmocka_unit_test(test_region_and_scope),
        cmocka_unit_test(test_authorization_malformed),
        cmocka_unit_test(test_anonymous_and_mixed),
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_error_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
