/* Unit tests of the S3 client's ListObjectVersions parser and timestamps:
 * documents shaped like AWS's (interleaved Version and DeleteMarker, page
 * markers), malformed answers, and the refusal of DTDs and entities; and
 * the GetBucketVersioning answer the object-recovery runbook checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "s3client/s3client.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
             "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" \
             "<Name>b</Name><Prefix>p/</Prefix><KeyMarker></KeyMarker>" \
             "<VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys>"

static int parse(const char *xml, s3_version_list *l, char **nk, char **nv)
{
    return s3_list_versions_parse(xml, strlen(xml), l, nk, nv);
}

static void test_parse_versions_and_markers(void **state)
{
    (void)state;
    const char *xml = HEAD "<IsTruncated>false</IsTruncated>"
        "<DeleteMarker><Key>p/a &amp; b.txt</Key><VersionId>m2</VersionId>"
        "<IsLatest>true</IsLatest><LastModified>2024-12-24T10:30:00.250Z</LastModified>"
        "<Owner><ID>x</ID></Owner></DeleteMarker>"
        "<Version><Key>p/a &amp; b.txt</Key><VersionId>v1</VersionId>"
        "<IsLatest>false</IsLatest><LastModified>2024-12-24T10:29:59.000Z</LastModified>"
        "<ETag>\"abc\"</ETag><Size>12345678901</Size><StorageClass>STANDARD</StorageClass>"
        "</Version>"
        "<Version><Key>p/c</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2024-12-24T10:30:00Z</LastModified><ETag>\"e\"</ETag><Size>0</Size>"
        "</Version></ListVersionsResult>";
    s3_version_list l = { 0 };
    char *nk, *nv;
    assert_int_equal(parse(xml, &l, &nk, &nv), 0);
    assert_null(nk);
    assert_null(nv);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].key, "p/a & b.txt");
    assert_string_equal(l.v[0].version_id, "m2");
    assert_true(l.v[0].delete_marker);
    assert_true(l.v[0].is_latest);
    assert_null(l.v[0].etag);
    assert_int_equal(l.v[0].last_modified_ms, 1735036200250LL);
    assert_false(l.v[1].delete_marker);
    assert_false(l.v[1].is_latest);
    assert_string_equal(l.v[1].etag, "\"abc\"");
    assert_int_equal(l.v[1].size, 12345678901ULL);
    assert_int_equal(l.v[1].last_modified_ms, 1735036199000LL);
    assert_string_equal(l.v[2].version_id, "null");
    assert_int_equal(l.v[2].last_modified_ms, 1735036200000LL);
    s3_version_list_free(&l);
}

static void test_parse_pages_append(void **state)
{
    (void)state;
    const char *p1 = HEAD "<IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>"
        "<NextVersionIdMarker>v2</NextVersionIdMarker>"
        "<Version><Key>k</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2024-01-01T00:00:02.000Z</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>";
    const char *p2 = HEAD "<IsTruncated>false</IsTruncated>"
        "<Version><Key>k</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>"
        "<LastModified>2024-01-01T00:00:01.000Z</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>";
    s3_version_list l = { 0 };
    char *nk, *nv;
    assert_int_equal(parse(p1, &l, &nk, &nv), 0);
    assert_string_equal(nk, "k");
    assert_string_equal(nv, "v2");
    free(nk);
    free(nv);
    assert_int_equal(parse(p2, &l, &nk, &nv), 0);
    assert_null(nk);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[1].version_id, "v1");
    s3_version_list_free(&l);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* an ordinary listing: the server ignored ?versions */
        "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        "not xml at all",
        "",
        /* truncated without a marker to continue from */
        HEAD "<IsTruncated>true</IsTruncated></ListVersionsResult>",
        /* missing VersionId, bad IsLatest, bad time, bad size */
        HEAD "<Version><Key>k</Key><IsLatest>true</IsLatest>"
        "<LastModified>2024-01-01T00:00:00Z</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>",
        HEAD "<Version><Key>k</Key><VersionId>v</VersionId><IsLatest>yes</IsLatest>"
        "<LastModified>2024-01-01T00:00:00Z</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>",
        HEAD "<DeleteMarker><Key>k</Key><VersionId>v</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>yesterday</LastModified></DeleteMarker></ListVersionsResult>",
        HEAD "<Version><Key>k</Key><VersionId>v</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2024-01-01T00:00:00Z</LastModified><Size>-1</Size></Version>"
        "</ListVersionsResult>",
        /* a DTD (and with it any entity) is refused outright */
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
        "<ListVersionsResult><Version><Key>&e;</Key><VersionId>v</VersionId>"
        "<IsLatest>true</IsLatest><LastModified>2024-01-01T00:00:00Z</LastModified>"
        "<Size>1</Size></Version></ListVersionsResult>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s3_version_list l = { 0 };
        char *nk = (char *)1, *nv = (char *)1;
        int rc = s3_list_versions_parse(bad[i], strlen(bad[i]), &l, &nk, &nv);
        if (rc != -RD_ENET)
            fail_msg("document %zu: rc %d", i, rc);
        assert_null(nk);
        assert_null(nv);
        s3_version_list_free(&l);
    }
}

static void test_time_parse_ms(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(s3_time_parse_ms("1970-01-01T00:00:01.5Z", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(s3_time_parse_ms("1970-01-01T00:00:01.123999Z", &ms), 0);
    assert_int_equal(ms, 1123);
    assert_int_equal(s3_time_parse_ms("1970-01-01T01:00:00+01:00", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(s3_time_parse_ms("2024-12-24", &ms), -1);
    assert_int_equal(s3_time_parse_ms("2024-12-24T10:30:00", &ms), -1);
    assert_int_equal(s3_time_parse_ms(NULL, &ms), -1);
}

/* GetBucketVersioning answers: Enabled, Suspended, and none at all for a
 * bucket whose versioning was never set; anything else is not an answer. */
static void test_bucket_versioning_parse(void **state)
{
    (void)state;
    static const struct { const char *xml; const char *status; } good[] = {
        { "<?xml version=\"1.0\"?><VersioningConfiguration xmlns=\"http://s3.amazonaws.com/"
          "doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>", "Enabled" },
        { "<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete>"
          "</VersioningConfiguration>", "Suspended" },
        { "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>", "" },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *status = NULL;
        assert_int_equal(s3_bucket_versioning_parse(good[i].xml, strlen(good[i].xml), &status),
                         0);
        assert_string_equal(status, good[i].status);
        free(status);
    }
    static const char *const bad[] = {
        "", "not xml", "<ListBucketResult/>",
        ("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"Enabled\">]>"
         "<VersioningConfiguration><Status>&e;</Status></VersioningConfiguration>"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *status = (char *)1;
        if (s3_bucket_versioning_parse(bad[i], strlen(bad[i]), &status) != -RD_ENET)
            fail_msg("document %zu accepted", i);
        assert_null(status);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_versions_and_markers),
        cmocka_unit_test(test_parse_pages_append),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_time_parse_ms),
        cmocka_unit_test(test_bucket_versioning_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
