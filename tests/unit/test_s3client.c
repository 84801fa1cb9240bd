/* Unit tests of the S3 client: SigV4 against the examples AWS publishes in
 * "Signature Calculations for the Authorization Header: Transferring Payload
 * in a Single Chunk" (S3 API reference), URI encoding, and request handling
 * against a scripted local HTTP server that checks the bytes we send and
 * answers with canned responses (errors, retries, ranges, listings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/error.h"
#include "s3client/s3client.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ------------------------------------------------------ AWS examples -- */

static void test_sigv4_get_object_example(void **state)
{
    (void)state;
    const char *headers[] = {
        "host:examplebucket.s3.amazonaws.com",
        "range:bytes=0-9",
        "x-amz-content-sha256:" EMPTY_SHA,
        "x-amz-date:" DATE,
    };
    char auth[512];
    assert_int_equal(s3_sigv4_sign("GET", "/test.txt", "", headers, 4, EMPTY_SHA, DATE,
                                   "us-east-1", "s3", AK, SK, auth, sizeof auth), 0);
    assert_string_equal(auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_sigv4_put_object_example(void **state)
{
    (void)state;
    const char body[] = "Welcome to Amazon S3.";
    uint8_t d[RD_SHA256_LEN];
    char hash[2 * RD_SHA256_LEN + 1];
    rd_sha256(body, strlen(body), d);
    rd_hex_encode(d, sizeof d, hash);
    assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");

    /* The key has a '$', which the canonical URI must carry as %24. */
    rd_buf uri = RD_BUF_INIT;
    rd_buf_append_u8(&uri, '/');
    s3_uri_encode("test$file.text", true, &uri);
    assert_string_equal((const char *)uri.data, "/test%24file.text");

    char sha_hdr[128];
    snprintf(sha_hdr, sizeof sha_hdr, "x-amz-content-sha256:%s", hash);
    const char *headers[] = {
        "date:Fri, 24 May 2013 00:00:00 GMT",
        "host:examplebucket.s3.amazonaws.com",
        sha_hdr,
        "x-amz-date:" DATE,
        "x-amz-storage-class:REDUCED_REDUNDANCY",
    };
    char auth[512];
    assert_int_equal(s3_sigv4_sign("PUT", (const char *)uri.data, "", headers, 5, hash, DATE,
                                   "us-east-1", "s3", AK, SK, auth, sizeof auth), 0);
    assert_string_equal(auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    rd_buf_free(&uri);
}

/* "Example: GET Bucket (List Objects)": a canonical query string. */
static void test_sigv4_list_objects_example(void **state)
{
    (void)state;
    const char *headers[] = {
        "host:examplebucket.s3.amazonaws.com",
        "x-amz-content-sha256:" EMPTY_SHA,
        "x-amz-date:" DATE,
    };
    char auth[512];
    assert_int_equal(s3_sigv4_sign("GET", "/", "max-keys=2&prefix=J", headers, 3, EMPTY_SHA,
                                   DATE, "us-east-1", "s3", AK, SK, auth, sizeof auth), 0);
    assert_non_null(strstr(auth, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db66"
                                 "70ed5711ef69dc6f7"));
}

static void test_sigv4_rejects_bad_input(void **state)
{
    (void)state;
    const char *headers[] = { "host:h" };
    char auth[512];
    assert_int_equal(s3_sigv4_sign("GET", "/", "", headers, 1, EMPTY_SHA, "2013-05-24",
                                   "us-east-1", "s3", AK, SK, auth, sizeof auth), -RD_EINTERNAL);
    assert_int_equal(s3_sigv4_sign("GET", "/", "", headers, 1, EMPTY_SHA, DATE, "us-east-1",
                                   "s3", AK, SK, auth, 40), -RD_EINTERNAL);
    const char *bad[] = { "host" };
    assert_int_equal(s3_sigv4_sign("GET", "/", "", bad, 1, EMPTY_SHA, DATE, "us-east-1", "s3",
                                   AK, SK, auth, sizeof auth), -RD_EINTERNAL);
}

static void check_encode(const char *in, bool keep_slash, const char *want)
{
    rd_buf b = RD_BUF_INIT;
    s3_uri_encode(in, keep_slash, &b);
    assert_string_equal((const char *)b.data, want);
    rd_buf_free(&b);
}

static void test_uri_encode(void **state)
{
    (void)state;
    check_encode("", true, "");
    check_encode("A-Za-z0-9-._~", false, "A-Za-z0-9-._~");
    check_encode("data/ab/ab12", true, "data/ab/ab12");
    check_encode("data/ab/ab12", false, "data%2Fab%2Fab12");
    check_encode("a b+c", true, "a%20b%2Bc");
    check_encode("100%", true, "100%25");
    check_encode("=&?#*$!'()", true, "%3D%26%3F%23%2A%24%21%27%28%29");
    check_encode("\xc3\xa9t\xc3\xa9", true, "%C3%A9t%C3%A9");   /* "été" in UTF-8 */
    /* Appends to what is there. */
    rd_buf b = RD_BUF_INIT;
    rd_buf_append(&b, "x=", 2);
    s3_uri_encode("a/b", false, &b);
    assert_int_equal(b.len, 7);
    assert_string_equal((const char *)b.data, "x=a%2Fb");
    rd_buf_free(&b);
}

static void test_client_new_validates_endpoint(void **state)
{
    (void)state;
    s3_client *c = NULL;
    s3_client_options o = { .endpoint = "ftp://h", .bucket = "b", .access_key_id = "a",
                            .secret_access_key = "s" };
    assert_int_equal(s3_client_new(&o, &c), -RD_ECONFIG);
    o.endpoint = "http://h:9000/some/path";
    assert_int_equal(s3_client_new(&o, &c), -RD_ECONFIG);
    assert_non_null(strstr(rd_error(), "without a path"));
    o.endpoint = "http://h:9000/";
    o.bucket = "a/b";
    assert_int_equal(s3_client_new(&o, &c), -RD_ECONFIG);
    o.bucket = "b";
    assert_int_equal(s3_client_new(&o, &c), 0);
    s3_client_free(c);
    s3_client_free(NULL);
}

/* ----------------------------------------------------- scripted server -- */

#define MAX_STEPS 8

struct script {
    int listen_fd;
    int port;
    int n_steps;
    char *responses[MAX_STEPS];         /* full HTTP responses, one per connection (owned) */
    char *requests[MAX_STEPS];          /* what arrived, headers and body */
    int served;
    pthread_t thread;
};

static char *read_request(int fd)
{
    rd_buf b = RD_BUF_INIT;
    char tmp[4096];
    size_t body_want = 0;
    size_t hdr_len = 0;     /* headers and the blank line, once seen */
    for (;;) {
        if (hdr_len && b.len >= hdr_len + body_want)
            break;
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0)
            break;
        rd_buf_append(&b, tmp, (size_t)n);
        rd_buf_reserve(&b, 1);
        b.data[b.len] = '\0';
        const char *end = hdr_len ? NULL : strstr((const char *)b.data, "\r\n\r\n");
        if (end) {
            hdr_len = (size_t)(end - (const char *)b.data) + 4;
            const char *cl = strcasestr((const char *)b.data, "\r\nContent-Length:");
            if (cl && cl < end)
                body_want = strtoul(cl + 17, NULL, 10);
        }
    }
    rd_buf_append_u8(&b, '\0');
    return (char *)b.data;
}

static void *script_main(void *arg)
{
    struct script *s = arg;
    for (int i = 0; i < s->n_steps; i++) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            break;
        s->requests[i] = read_request(fd);
        size_t len = strlen(s->responses[i]);
        ssize_t w = write(fd, s->responses[i], len);
        (void)w;
        shutdown(fd, SHUT_WR);
        close(fd);
        s->served++;
    }
    return NULL;
}

static void script_start(struct script *s)
{
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->listen_fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->listen_fd, 8), 0);
    socklen_t sl = sizeof sa;
    getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.sin_port);
    pthread_create(&s->thread, NULL, script_main, s);
}

/* Waits until every scripted response was served; requests stay readable. */
static void script_finish(struct script *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static void script_free(struct script *s)
{
    for (int i = 0; i < MAX_STEPS; i++) {
        free(s->requests[i]);
        free(s->responses[i]);
    }
}

/* A complete response that closes the connection; status is "200 OK" etc. */
static char *resp(const char *status, const char *headers, const char *body)
{
    return rd_asprintf("HTTP/1.1 %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
                       status, strlen(body), headers, body);
}

/* Virtual-host addressing puts the bucket in the host name; curl resolves
 * every *.localhost name to the loopback address itself (RFC 6761). */
static s3_client *script_client(struct script *s, bool path_style)
{
    char ep[64];
    snprintf(ep, sizeof ep, "http://%s:%d", path_style ? "127.0.0.1" : "localhost", s->port);
    s3_client_options o = { .endpoint = ep, .region = "us-west-2", .bucket = "radiant-backups",
                            .access_key_id = "AKTEST", .secret_access_key = "secret",
                            .path_style = path_style, .timeout_seconds = 10 };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&o, &c), 0);
    return c;
}

static void test_put_sends_signed_payload_hash(void **state)
{
    (void)state;
    struct script s = { .n_steps = 1, .responses = { resp("200 OK", "", "") } };
    script_start(&s);
    s3_client *c = script_client(&s, true);
    const char body[] = "Welcome to Amazon S3.";
    assert_int_equal(s3_put_object(c, "data/a b$", body, strlen(body)), 0);
    script_finish(&s);
    const char *req = s.requests[0];
    assert_true(rd_str_starts_with(req, "PUT /radiant-backups/data/a%20b%24 HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b"
                                "4b4e99e42034a8b803f8b072\r\n"));
    assert_non_null(strstr(req, "Authorization: AWS4-HMAC-SHA256 Credential=AKTEST/"));
    assert_non_null(strstr(req, "/us-west-2/s3/aws4_request,SignedHeaders=host;"
                                "x-amz-content-sha256;x-amz-date,Signature="));
    assert_null(strstr(req, "Expect:"));
    assert_non_null(strstr(req, "\r\n\r\nWelcome to Amazon S3."));
    script_free(&s);
    s3_client_free(c);
}

static void test_error_document_becomes_message(void **state)
{
    (void)state;
    struct script s = { .n_steps = 2, .responses = {
        resp("403 Forbidden", "Content-Type: application/xml\r\n",
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch"
             "</Code><Message>The request signature we calculated\ndoes not match.</Message>"
             "</Error>"),
        resp("404 Not Found", "",
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
             "<Message>The key does not exist.</Message></Error>"),
    } };
    script_start(&s);
    s3_client *c = script_client(&s, true);
    assert_int_equal(s3_put_object(c, "data/ab/x", "x", 1), -RD_ENET);
    assert_string_equal(rd_error(), "s3 PUT radiant-backups/data/ab/x: 403 SignatureDoesNotMatch: "
                                    "The request signature we calculated does not match.");
    rd_buf out = RD_BUF_INIT;
    rd_buf_append(&out, "stale", 5);
    assert_int_equal(s3_get_object(c, "nope", 0, 0, &out), -RD_ENOENT);
    assert_string_equal(rd_error(), "s3 GET radiant-backups/nope: 404 NoSuchKey: "
                                    "The key does not exist.");
    assert_int_equal(out.len, 0);
    script_finish(&s);
    rd_buf_free(&out);
    script_free(&s);
    s3_client_free(c);
}

static void test_retries_503_then_ranged_get(void **state)
{
    (void)state;
    struct script s = { .n_steps = 3, .responses = {
        resp("503 Slow Down", "", ""),
        resp("500 Internal Server Error", "", ""),
        resp("206 Partial Content", "Content-Range: bytes 2-5/10\r\n", "2345"),
    } };
    script_start(&s);
    s3_client *c = script_client(&s, false);
    rd_buf out = RD_BUF_INIT;
    assert_int_equal(s3_get_object(c, "k", 2, 4, &out), 0);
    script_finish(&s);
    assert_int_equal(s.served, 3);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "2345", 4);
    /* Virtual-host addressing: the bucket is in the Host header, not the path. */
    assert_true(rd_str_starts_with(s.requests[2], "GET /k HTTP/1.1\r\n"));
    assert_non_null(strstr(s.requests[2], "Host: radiant-backups.localhost:"));
    assert_non_null(strstr(s.requests[2], "Range: bytes=2-5\r\n"));
    assert_non_null(strstr(s.requests[2], "SignedHeaders=host;range;x-amz-content-sha256;"
                                          "x-amz-date,"));
    rd_buf_free(&out);
    script_free(&s);
    s3_client_free(c);
}

static void test_whole_object_answer_to_range_is_cut(void **state)
{
    (void)state;
    struct script s = { .n_steps = 1, .responses = {
        resp("200 OK", "", "0123456789"),
    } };
    script_start(&s);
    s3_client *c = script_client(&s, true);
    rd_buf out = RD_BUF_INIT;
    assert_int_equal(s3_get_object(c, "k", 7, 0, &out), 0);
    script_finish(&s);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "789", 3);
    assert_non_null(strstr(s.requests[0], "Range: bytes=7-\r\n"));
    rd_buf_free(&out);
    script_free(&s);
    s3_client_free(c);
}

struct listed {
    char keys[8][64];
    uint64_t sizes[8];
    int n;
};

static int collect(void *arg, const char *key, uint64_t size)
{
    struct listed *l = arg;
    if (l->n >= 8)
        return -RD_EINTERNAL;
    snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
    l->sizes[l->n++] = size;
    return 0;
}

#define LIST1 \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" \
    "<Name>radiant-backups</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>" \
    "<IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=1</NextContinuationToken>" \
    "<Contents><Key>p/a</Key><Size>3</Size></Contents>" \
    "<Contents><Key>p/b &amp; c</Key><Size>0</Size></Contents></ListBucketResult>"
#define LIST2 \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<ListBucketResult><IsTruncated>false</IsTruncated>" \
    "<Contents><Key>p/d/e</Key><Size>12345678901</Size></Contents></ListBucketResult>"

static void test_list_follows_continuation(void **state)
{
    (void)state;
    struct script s = { .n_steps = 2,
                        .responses = { resp("200 OK", "", LIST1), resp("200 OK", "", LIST2) } };
    script_start(&s);
    s3_client *c = script_client(&s, true);
    struct listed l = { .n = 0 };
    assert_int_equal(s3_list_objects(c, "p/", collect, &l), 0);
    script_finish(&s);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.keys[0], "p/a");
    assert_int_equal(l.sizes[0], 3);
    assert_string_equal(l.keys[1], "p/b & c");
    assert_string_equal(l.keys[2], "p/d/e");
    assert_true(l.sizes[2] == 12345678901ULL);
    assert_true(rd_str_starts_with(s.requests[0],
                                   "GET /radiant-backups?list-type=2&prefix=p%2F HTTP/1.1\r\n"));
    assert_true(rd_str_starts_with(s.requests[1],
                                   "GET /radiant-backups?continuation-token=tok%2B%2F%3D1&"
                                   "list-type=2&prefix=p%2F HTTP/1.1\r\n"));
    script_free(&s);
    s3_client_free(c);
}

/* An entity-laden document is refused, never expanded. */
static void test_list_refuses_dtd(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>"
                      "<ListBucketResult><IsTruncated>false</IsTruncated>"
                      "<Contents><Key>&a;</Key><Size>1</Size></Contents></ListBucketResult>";
    struct script s = { .n_steps = 1, .responses = { resp("200 OK", "", doc) } };
    script_start(&s);
    s3_client *c = script_client(&s, true);
    struct listed l = { .n = 0 };
    assert_int_equal(s3_list_objects(c, "", collect, &l), -RD_ENET);
    assert_int_equal(l.n, 0);
    script_finish(&s);
    script_free(&s);
    s3_client_free(c);
}

static void test_head_reports_size_and_missing(void **state)
{
    (void)state;
    struct script s = { .n_steps = 2, .responses = {
        rd_asprintf("HTTP/1.1 200 OK\r\nContent-Length: 4242\r\nConnection: close\r\n\r\n"),
        resp("404 Not Found", "", ""),
    } };
    script_start(&s);
    s3_client *c = script_client(&s, true);
    uint64_t size = 0;
    assert_int_equal(s3_head_object(c, "k", &size), 0);
    assert_int_equal(size, 4242);
    assert_int_equal(s3_head_bucket(c), -RD_ENOENT);
    assert_string_equal(rd_error(), "s3 HEAD radiant-backups: 404 Not Found");
    script_finish(&s);
    assert_true(rd_str_starts_with(s.requests[1], "HEAD /radiant-backups HTTP/1.1\r\n"));
    script_free(&s);
    s3_client_free(c);
}

static void test_unreachable_endpoint(void **state)
{
    (void)state;
    /* A port that was just free: nothing listens there. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    s3_client_options o = { .endpoint = ep, .bucket = "b", .access_key_id = "a",
                            .secret_access_key = "s", .path_style = true, .timeout_seconds = 5 };
    s3_client *c = NULL;
    assert_int_equal(s3_client_new(&o, &c), 0);
    assert_int_equal(s3_delete_object(c, "k"), -RD_ENET);
    assert_non_null(strstr(rd_error(), "s3 DELETE b/k: cannot reach http://127.0.0.1:"));
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_get_object_example),
        cmocka_unit_test(test_sigv4_put_object_example),
        cmocka_unit_test(test_sigv4_list_objects_example),
        cmocka_unit_test(test_sigv4_rejects_bad_input),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_client_new_validates_endpoint),
        cmocka_unit_test(test_put_sends_signed_payload_hash),
        cmocka_unit_test(test_error_document_becomes_message),
        cmocka_unit_test(test_retries_503_then_ranged_get),
        cmocka_unit_test(test_whole_object_answer_to_range_is_cut),
        cmocka_unit_test(test_list_follows_continuation),
        cmocka_unit_test(test_list_refuses_dtd),
        cmocka_unit_test(test_head_reports_size_and_missing),
        cmocka_unit_test(test_unreachable_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
