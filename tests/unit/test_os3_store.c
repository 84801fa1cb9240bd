/* Unit tests for src/objstore/store: buckets, streaming PUT/GET with ranges
 * and metadata, versioning (null versions, delete markers, suspended
 * buckets), copies, listings and their pagination, multipart uploads and
 * their errors and ETag, lifecycle sweeps with a moved clock, crash recovery
 * and concurrent uploads. Each test works in its own /tmp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "objstore/store.h"

typedef struct fixture {
    char *dir;        /* the temp dir */
    char *store_dir;  /* dir/objstore */
    os3_store *st;
} fixture;

static int setup(void **state)
{
    fixture *f = rd_calloc(1, sizeof *f);
    f->dir = rd_strdup("/tmp/radiant-os3-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->store_dir = rd_path_join(f->dir, "objstore");
    if (os3_store_open(f->store_dir, &f->st) < 0) {
        fprintf(stderr, "open: %s\n", rd_error());
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    os3_store_close(f->st);
    int rc = rd_fs_remove_tree(f->dir);
    free(f->store_dir);
    free(f->dir);
    free(f);
    rd_clock_set_offset(0);
    return rc;
}

static void reopen(fixture *f)
{
    os3_store_close(f->st);
    f->st = NULL;
    assert_int_equal(os3_store_open(f->store_dir, &f->st), 0);
}

/* ---- helpers ---- */

static void md5_hex(const void *data, size_t len, char out[33])
{
    uint8_t d[16];
    unsigned n = 16;
    EVP_Digest(data, len, d, &n, EVP_md5(), NULL);
    rd_hex_encode(d, 16, out);
}

/* Puts data in pieces of at most chunk bytes; returns the store's rc. */
static int put_chunked(os3_store *st, const char *bucket, const char *key, const void *data,
                       size_t len, size_t chunk, const os3_meta *meta, os3_put_result *res)
{
    os3_put *p;
    int rc = os3_put_begin(st, bucket, key, meta, &p);
    if (rc < 0)
        return rc;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = os3_put_write(p, (const uint8_t *)data + off, n);
        if (rc < 0) {
            os3_put_abort(p);
            return rc;
        }
    }
    return os3_put_commit(p, NULL, res);
}

static void put_str(os3_store *st, const char *bucket, const char *key, const char *data,
                    char vid[OS3_VERSION_ID_MAX])
{
    os3_put_result res;
    int rc = put_chunked(st, bucket, key, data, strlen(data), 3, NULL, &res);
    if (rc < 0)
        fail_msg("put %s/%s: %s", bucket, key, rd_error());
    if (vid)
        memcpy(vid, res.version_id, OS3_VERSION_ID_MAX);
}

/* Reads the object (or its range) into a new string; returns the rc. */
static int get_str(os3_store *st, const char *bucket, const char *key, const char *vid,
                   const os3_range *range, char **out)
{
    os3_object obj;
    *out = NULL;
    int rc = os3_object_get(st, bucket, key, vid, range, &obj);
    if (rc == 0) {
        *out = rd_malloc(obj.length + 1);
        assert_int_equal(rd_fs_pread_full(obj.fd, *out, obj.length, obj.offset), 0);
        (*out)[obj.length] = '\0';
    }
    os3_object_clear(&obj);
    return rc;
}

static void assert_get(os3_store *st, const char *bucket, const char *key, const char *vid,
                       const char *want)
{
    char *got;
    int rc = get_str(st, bucket, key, vid, NULL, &got);
    if (rc < 0)
        fail_msg("get %s/%s: %s", bucket, key, rd_error());
    assert_string_equal(got, want);
    free(got);
}

static int files_counted;
static int count_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)sb, (void)ftw;
    if (flag == FTW_F)
        files_counted++;
    return 0;
}

static int count_files(const char *store_dir, const char *sub)
{
    char *p = rd_path_join(store_dir, sub);
    files_counted = 0;
    nftw(p, count_file, 16, FTW_PHYS);
    free(p);
    return files_counted;
}

static void list_versions_all(os3_store *st, const char *bucket, os3_list_result *r)
{
    os3_list_params lp = { .max_keys = -1 };
    assert_int_equal(os3_list_versions(st, bucket, &lp, NULL, r), 0);
}

/* ======================================================================
 * Buckets
 * ====================================================================== */

static void test_bucket_names(void **state)
{
    (void)state;
    const char *good[] = { "abc", "my-bucket.logs", "a1b2c3", "123" };
    const char *bad[] = { "ab", "ABC", "my_bucket", "-abc", "abc-", ".abc", "a..b",
                          "192.168.1.1", "xn--abc", "sthree-x", "abc-s3alias", "abc--ol-s3",
                          "a-very-long-bucket-name-that-goes-on-and-on-past-sixty-three-chars" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(os3_bucket_name_check(good[i]), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(os3_bucket_name_check(bad[i]), -OS3_RC_INVALID_BUCKET_NAME);
}

static void test_buckets(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "Bad_Name"), -OS3_RC_INVALID_BUCKET_NAME);
    assert_int_equal(os3_bucket_create(st, "beta"), 0);
    assert_int_equal(os3_bucket_create(st, "alpha"), 0);
    assert_int_equal(os3_bucket_create(st, "alpha"), -OS3_RC_BUCKET_EXISTS);
    assert_non_null(strstr(rd_error(), "alpha"));

    os3_bucket_info info;
    assert_int_equal(os3_bucket_head(st, "alpha", &info), 0);
    assert_string_equal(info.name, "alpha");
    assert_int_equal(info.versioning, OS3_VERSIONING_OFF);
    assert_true(info.created_us > 0);
    assert_int_equal(os3_bucket_head(st, "gamma", NULL), -OS3_RC_NO_SUCH_BUCKET);

    os3_bucket_info *list;
    size_t n;
    assert_int_equal(os3_bucket_list(st, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alpha");
    assert_string_equal(list[1].name, "beta");
    free(list);

    enum os3_versioning v;
    assert_int_equal(os3_bucket_versioning_set(st, "alpha", OS3_VERSIONING_OFF),
                     -OS3_RC_INVALID_ARGUMENT);
    assert_int_equal(os3_bucket_versioning_set(st, "alpha", OS3_VERSIONING_ENABLED), 0);
    assert_int_equal(os3_bucket_versioning_get(st, "alpha", &v), 0);
    assert_int_equal(v, OS3_VERSIONING_ENABLED);
    assert_int_equal(os3_bucket_versioning_set(st, "alpha", OS3_VERSIONING_SUSPENDED), 0);
    assert_int_equal(os3_bucket_versioning_get(st, "alpha", &v), 0);
    assert_int_equal(v, OS3_VERSIONING_SUSPENDED);
    assert_int_equal(os3_bucket_versioning_set(st, "nope", OS3_VERSIONING_ENABLED),
                     -OS3_RC_NO_SUCH_BUCKET);

    /* Not empty while an object, only a delete marker, or an upload exists. */
    assert_int_equal(os3_bucket_versioning_set(st, "beta", OS3_VERSIONING_ENABLED), 0);
    char vid[OS3_VERSION_ID_MAX];
    put_str(st, "beta", "k", "data", vid);
    assert_int_equal(os3_bucket_delete(st, "beta"), -OS3_RC_BUCKET_NOT_EMPTY);
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "beta", "k", vid, &dr), 0);
    assert_int_equal(os3_object_delete(st, "beta", "k", NULL, &dr), 0);   /* a lone marker */
    assert_true(dr.delete_marker);
    assert_int_equal(os3_bucket_delete(st, "beta"), -OS3_RC_BUCKET_NOT_EMPTY);
    assert_int_equal(os3_object_delete(st, "beta", "k", dr.version_id, &dr), 0);
    char upload[OS3_UPLOAD_ID_MAX];
    assert_int_equal(os3_mpu_create(st, "beta", "m", NULL, upload), 0);
    assert_int_equal(os3_bucket_delete(st, "beta"), -OS3_RC_BUCKET_NOT_EMPTY);
    assert_int_equal(os3_mpu_abort(st, "beta", "m", upload), 0);
    assert_int_equal(os3_bucket_delete(st, "beta"), 0);
    assert_int_equal(os3_bucket_delete(st, "beta"), -OS3_RC_NO_SUCH_BUCKET);
}

/* ======================================================================
 * Objects
 * ====================================================================== */

static void test_put_get_metadata(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "b1-bucket"), 0);

    os3_kv user[] = { { "color", "blue" }, { "owner", "ops team" } };
    os3_meta meta = { .content_type = "text/plain", .content_encoding = "identity",
                      .content_disposition = "attachment; filename=\"x.txt\"",
                      .cache_control = "max-age=60", .expires = "Thu, 01 Dec 2094 16:00:00 GMT",
                      .content_language = "en", .storage_class = "STANDARD_IA",
                      .user = user, .n_user = 2 };
    const char *body = "hello world, streamed in small pieces";
    os3_put_result res;
    assert_int_equal(put_chunked(st, "b1-bucket", "dir/hello.txt", body, strlen(body), 5, &meta,
                                 &res), 0);
    char hex[33], quoted[40];
    md5_hex(body, strlen(body), hex);
    snprintf(quoted, sizeof quoted, "\"%s\"", hex);
    assert_string_equal(res.etag, quoted);
    assert_string_equal(res.version_id, "null");
    assert_int_equal(res.size, strlen(body));

    os3_object obj;
    assert_int_equal(os3_object_head(st, "b1-bucket", "dir/hello.txt", NULL, NULL, &obj), 0);
    assert_int_equal(obj.fd, -1);
    assert_string_equal(obj.etag, quoted);
    assert_int_equal(obj.size, strlen(body));
    assert_true(obj.is_latest);
    assert_false(obj.is_delete_marker);
    assert_string_equal(obj.meta.content_type, "text/plain");
    assert_string_equal(obj.meta.content_encoding, "identity");
    assert_string_equal(obj.meta.content_disposition, "attachment; filename=\"x.txt\"");
    assert_string_equal(obj.meta.cache_control, "max-age=60");
    assert_string_equal(obj.meta.expires, "Thu, 01 Dec 2094 16:00:00 GMT");
    assert_string_equal(obj.meta.content_language, "en");
    assert_string_equal(obj.meta.storage_class, "STANDARD_IA");
    assert_int_equal(obj.meta.n_user, 2);
    assert_string_equal(obj.meta.user[1].name, "owner");
    assert_string_equal(obj.meta.user[1].value, "ops team");
    os3_object_clear(&obj);
    os3_object_clear(&obj);   /* clearing twice is harmless */

    assert_get(st, "b1-bucket", "dir/hello.txt", NULL, body);

    /* Overwriting in an unversioned bucket replaces the one null version. */
    put_str(st, "b1-bucket", "dir/hello.txt", "second", NULL);
    assert_get(st, "b1-bucket", "dir/hello.txt", NULL, "second");
    assert_get(st, "b1-bucket", "dir/hello.txt", "null", "second");
    assert_int_equal(count_files(f->store_dir, "blobs"), 1);
    assert_int_equal(count_files(f->store_dir, "tmp"), 0);

    /* Empty objects work. */
    put_str(st, "b1-bucket", "empty", "", NULL);
    assert_get(st, "b1-bucket", "empty", NULL, "");

    /* Errors name the bucket and key and come before any data is taken. */
    os3_put *p;
    assert_int_equal(os3_put_begin(st, "nobucket", "k", NULL, &p), -OS3_RC_NO_SUCH_BUCKET);
    assert_null(p);
    assert_int_equal(os3_put_begin(st, "b1-bucket", "", NULL, &p), -OS3_RC_KEY_TOO_LONG);
    char longkey[OS3_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(os3_put_begin(st, "b1-bucket", longkey, NULL, &p), -OS3_RC_KEY_TOO_LONG);
    char *got;
    assert_int_equal(get_str(st, "b1-bucket", "missing", NULL, NULL, &got), -OS3_RC_NO_SUCH_KEY);
    assert_non_null(strstr(rd_error(), "b1-bucket/missing"));
    assert_int_equal(get_str(st, "nobucket", "k", NULL, NULL, &got), -OS3_RC_NO_SUCH_BUCKET);

    /* A Content-MD5 mismatch stores nothing. */
    assert_int_equal(os3_put_begin(st, "b1-bucket", "digest", NULL, &p), 0);
    assert_int_equal(os3_put_write(p, "abc", 3), 0);
    uint8_t wrong[16] = { 0 };
    assert_int_equal(os3_put_commit(p, wrong, &res), -OS3_RC_BAD_DIGEST);
    assert_int_equal(get_str(st, "b1-bucket", "digest", NULL, NULL, &got), -OS3_RC_NO_SUCH_KEY);
    uint8_t right[16];
    unsigned n = 16;
    EVP_Digest("abc", 3, right, &n, EVP_md5(), NULL);
    assert_int_equal(os3_put_begin(st, "b1-bucket", "digest", NULL, &p), 0);
    assert_int_equal(os3_put_write(p, "abc", 3), 0);
    assert_int_equal(os3_put_commit(p, right, &res), 0);

    /* An aborted put leaves nothing behind. */
    assert_int_equal(os3_put_begin(st, "b1-bucket", "aborted", NULL, &p), 0);
    assert_int_equal(os3_put_write(p, "abc", 3), 0);
    os3_put_abort(p);
    os3_put_abort(NULL);
    assert_int_equal(count_files(f->store_dir, "tmp"), 0);
    assert_int_equal(get_str(st, "b1-bucket", "aborted", NULL, NULL, &got), -OS3_RC_NO_SUCH_KEY);
}

static void test_ranges(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "b1-bucket"), 0);
    put_str(st, "b1-bucket", "digits", "0123456789", NULL);
    struct { os3_range r; const char *want; } cases[] = {
        { { 2, 5 }, "2345" },
        { { 7, -1 }, "789" },
        { { -1, 3 }, "789" },
        { { -1, 50 }, "0123456789" },     /* suffix longer than the object */
        { { 8, 100 }, "89" },             /* last byte past the end is cut */
        { { 0, 0 }, "0" },
        { { 5, 2 }, "0123456789" },       /* backwards: ignored */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got;
        assert_int_equal(get_str(st, "b1-bucket", "digits", NULL, &cases[i].r, &got), 0);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    os3_object obj;
    os3_range r = { 3, 4 };
    assert_int_equal(os3_object_get(st, "b1-bucket", "digits", NULL, &r, &obj), 0);
    assert_true(obj.ranged);
    assert_int_equal(obj.offset, 3);
    assert_int_equal(obj.length, 2);
    assert_int_equal(obj.size, 10);
    os3_object_clear(&obj);
    r = (os3_range){ 10, -1 };
    assert_int_equal(os3_object_get(st, "b1-bucket", "digits", NULL, &r, &obj), -OS3_RC_INVALID_RANGE);
    assert_int_equal(obj.fd, -1);
    os3_object_clear(&obj);
    r = (os3_range){ -1, 0 };
    assert_int_equal(os3_object_head(st, "b1-bucket", "digits", NULL, &r, &obj), -OS3_RC_INVALID_RANGE);
    os3_object_clear(&obj);
}

/* ======================================================================
 * Versioning
 * ====================================================================== */

static void test_versioning_enabled(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "vb-bucket"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "vb-bucket", OS3_VERSIONING_ENABLED), 0);
    char v1[OS3_VERSION_ID_MAX], v2[OS3_VERSION_ID_MAX];
    put_str(st, "vb-bucket", "k", "one", v1);
    put_str(st, "vb-bucket", "k", "two", v2);
    assert_string_not_equal(v1, v2);
    assert_string_not_equal(v1, "null");
    assert_true(strcmp(v2, v1) < 0);   /* ids sort newest first */
    assert_get(st, "vb-bucket", "k", NULL, "two");
    assert_get(st, "vb-bucket", "k", v1, "one");

    /* Delete without an id: a marker; the key disappears from GET and lists. */
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "vb-bucket", "k", NULL, &dr), 0);
    assert_true(dr.delete_marker);
    assert_string_not_equal(dr.version_id, "");
    char marker[OS3_VERSION_ID_MAX];
    memcpy(marker, dr.version_id, sizeof marker);

    os3_object obj;
    assert_int_equal(os3_object_get(st, "vb-bucket", "k", NULL, NULL, &obj), -OS3_RC_NO_SUCH_KEY);
    assert_true(obj.is_delete_marker);
    assert_string_equal(obj.version_id, marker);
    assert_int_equal(obj.fd, -1);
    os3_object_clear(&obj);
    assert_int_equal(os3_object_head(st, "vb-bucket", "k", marker, NULL, &obj),
                     -OS3_RC_METHOD_NOT_ALLOWED);
    assert_true(obj.is_delete_marker);
    assert_true(obj.mtime_us > 0);
    os3_object_clear(&obj);
    assert_int_equal(os3_object_head(st, "vb-bucket", "k", "00000000000000000000beef", NULL, &obj),
                     -OS3_RC_NO_SUCH_VERSION);
    os3_object_clear(&obj);
    assert_get(st, "vb-bucket", "k", v2, "two");   /* old versions stay readable */

    os3_list_result lr;
    os3_list_params lp = { .max_keys = -1 };
    assert_int_equal(os3_list_objects(st, "vb-bucket", &lp, &lr), 0);
    assert_int_equal(lr.n_entries, 0);
    os3_list_result_clear(&lr);

    list_versions_all(st, "vb-bucket", &lr);
    assert_int_equal(lr.n_entries, 3);
    assert_string_equal(lr.entries[0].version_id, marker);
    assert_true(lr.entries[0].is_delete_marker);
    assert_true(lr.entries[0].is_latest);
    assert_string_equal(lr.entries[1].version_id, v2);
    assert_false(lr.entries[1].is_latest);
    assert_string_equal(lr.entries[2].version_id, v1);
    os3_list_result_clear(&lr);

    /* A second delete adds a second marker. */
    assert_int_equal(os3_object_delete(st, "vb-bucket", "k", NULL, &dr), 0);
    char marker2[OS3_VERSION_ID_MAX];
    memcpy(marker2, dr.version_id, sizeof marker2);
    /* Removing the latest marker exposes the older marker; removing that too
     * restores "two". */
    assert_int_equal(os3_object_delete(st, "vb-bucket", "k", marker2, &dr), 0);
    assert_true(dr.delete_marker);
    assert_string_equal(dr.version_id, marker2);
    char *got;
    assert_int_equal(get_str(st, "vb-bucket", "k", NULL, NULL, &got), -OS3_RC_NO_SUCH_KEY);
    assert_int_equal(os3_object_delete(st, "vb-bucket", "k", marker, &dr), 0);
    assert_get(st, "vb-bucket", "k", NULL, "two");

    /* Deleting a specific (latest) version for good makes the older current. */
    int blobs = count_files(f->store_dir, "blobs");
    assert_int_equal(os3_object_delete(st, "vb-bucket", "k", v2, &dr), 0);
    assert_false(dr.delete_marker);
    assert_int_equal(count_files(f->store_dir, "blobs"), blobs - 1);
    assert_get(st, "vb-bucket", "k", NULL, "one");
    assert_int_equal(get_str(st, "vb-bucket", "k", v2, NULL, &got), -OS3_RC_NO_SUCH_VERSION);
    /* Deleting what does not exist succeeds with nothing to report. */
    assert_int_equal(os3_object_delete(st, "vb-bucket", "k", v2, &dr), 0);
    assert_string_equal(dr.version_id, "");
    assert_int_equal(os3_object_delete(st, "vb-bucket", "other", v2, &dr), 0);
}

static void test_versioning_suspended(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "sb-bucket"), 0);
    /* A null version written before versioning was ever enabled survives
     * enabling, as a noncurrent version. */
    put_str(st, "sb-bucket", "k", "original", NULL);
    assert_int_equal(os3_bucket_versioning_set(st, "sb-bucket", OS3_VERSIONING_ENABLED), 0);
    char v1[OS3_VERSION_ID_MAX];
    put_str(st, "sb-bucket", "k", "enabled", v1);
    assert_get(st, "sb-bucket", "k", "null", "original");

    /* Suspended: a write is the null version and replaces the old null
     * version wherever it was, keeping v1. */
    assert_int_equal(os3_bucket_versioning_set(st, "sb-bucket", OS3_VERSIONING_SUSPENDED), 0);
    char vid[OS3_VERSION_ID_MAX];
    put_str(st, "sb-bucket", "k", "suspended-1", vid);
    assert_string_equal(vid, "null");
    put_str(st, "sb-bucket", "k", "suspended-2", vid);
    os3_list_result lr;
    list_versions_all(st, "sb-bucket", &lr);
    assert_int_equal(lr.n_entries, 2);
    assert_string_equal(lr.entries[0].version_id, "null");
    assert_true(lr.entries[0].is_latest);
    assert_string_equal(lr.entries[1].version_id, v1);
    os3_list_result_clear(&lr);
    assert_get(st, "sb-bucket", "k", NULL, "suspended-2");
    assert_int_equal(count_files(f->store_dir, "blobs"), 2);

    /* Delete: a null delete marker replaces the null version. */
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "sb-bucket", "k", NULL, &dr), 0);
    assert_true(dr.delete_marker);
    assert_string_equal(dr.version_id, "null");
    list_versions_all(st, "sb-bucket", &lr);
    assert_int_equal(lr.n_entries, 2);
    assert_true(lr.entries[0].is_delete_marker);
    assert_string_equal(lr.entries[0].version_id, "null");
    assert_string_equal(lr.entries[1].version_id, v1);
    os3_list_result_clear(&lr);
    assert_int_equal(count_files(f->store_dir, "blobs"), 1);

    /* Removing the null marker brings v1 back. */
    assert_int_equal(os3_object_delete(st, "sb-bucket", "k", "null", &dr), 0);
    assert_get(st, "sb-bucket", "k", NULL, "enabled");

    /* Unversioned delete removes the object for good, no marker. */
    assert_int_equal(os3_bucket_create(st, "ub-bucket"), 0);
    put_str(st, "ub-bucket", "k", "x", NULL);
    assert_int_equal(os3_object_delete(st, "ub-bucket", "k", NULL, &dr), 0);
    assert_false(dr.delete_marker);
    list_versions_all(st, "ub-bucket", &lr);
    assert_int_equal(lr.n_entries, 0);
    os3_list_result_clear(&lr);
}

/* ======================================================================
 * Copy
 * ====================================================================== */

static void test_copy(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "src"), 0);
    assert_int_equal(os3_bucket_create(st, "dst"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "dst", OS3_VERSIONING_ENABLED), 0);
    os3_kv user[] = { { "a", "1" } };
    os3_meta meta = { .content_type = "application/x-one", .user = user, .n_user = 1 };
    os3_put_result pr;
    assert_int_equal(put_chunked(st, "src", "o", "payload", 7, 7, &meta, &pr), 0);

    os3_put_result cr;
    assert_int_equal(os3_object_copy(st, "src", "o", NULL, "dst", "c", NULL, &cr), 0);
    assert_string_equal(cr.etag, pr.etag);
    assert_string_equal(cr.source_version_id, "null");
    assert_string_not_equal(cr.version_id, "null");
    os3_object obj;
    assert_int_equal(os3_object_head(st, "dst", "c", NULL, NULL, &obj), 0);
    assert_string_equal(obj.meta.content_type, "application/x-one");
    assert_int_equal(obj.meta.n_user, 1);
    os3_object_clear(&obj);

    /* REPLACE, as a second version of the destination. */
    os3_meta repl = { .content_type = "text/x-two" };
    char first[OS3_VERSION_ID_MAX];
    memcpy(first, cr.version_id, sizeof first);
    assert_int_equal(os3_object_copy(st, "src", "o", "null", "dst", "c", &repl, &cr), 0);
    assert_string_not_equal(cr.version_id, first);
    assert_int_equal(os3_object_head(st, "dst", "c", NULL, NULL, &obj), 0);
    assert_string_equal(obj.meta.content_type, "text/x-two");
    assert_int_equal(obj.meta.n_user, 0);
    os3_object_clear(&obj);

    /* The copy survives the source's deletion (shared data, own name). */
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "src", "o", NULL, &dr), 0);
    assert_get(st, "dst", "c", NULL, "payload");
    assert_get(st, "dst", "c", first, "payload");

    /* Errors. */
    assert_int_equal(os3_object_copy(st, "src", "o", NULL, "dst", "x", NULL, &cr),
                     -OS3_RC_NO_SUCH_KEY);
    assert_int_equal(os3_object_copy(st, "dst", "c", NULL, "dst", "c", NULL, &cr),
                     -OS3_RC_INVALID_REQUEST);
    assert_int_equal(os3_object_copy(st, "dst", "c", NULL, "dst", "c", &repl, &cr), 0);
    assert_int_equal(os3_object_copy(st, "dst", "c", NULL, "nobucket", "x", NULL, &cr),
                     -OS3_RC_NO_SUCH_BUCKET);
    assert_int_equal(os3_object_delete(st, "dst", "c", NULL, &dr), 0);
    assert_int_equal(os3_object_copy(st, "dst", "c", dr.version_id, "dst", "y", NULL, &cr),
                     -OS3_RC_INVALID_REQUEST);
    assert_int_equal(os3_object_copy(st, "dst", "c", NULL, "dst", "y", NULL, &cr),
                     -OS3_RC_NO_SUCH_KEY);
    assert_int_equal(count_files(f->store_dir, "tmp"), 0);
}

/* ======================================================================
 * Listings
 * ====================================================================== */

static void check_keys(const os3_list_result *r, const char *const *keys, size_t nk,
                       const char *const *prefixes, size_t np)
{
    assert_int_equal(r->n_entries, nk);
    for (size_t i = 0; i < nk; i++)
        assert_string_equal(r->entries[i].key, keys[i]);
    assert_int_equal(r->n_prefixes, np);
    for (size_t i = 0; i < np; i++)
        assert_string_equal(r->prefixes[i], prefixes[i]);
}

static void test_list_objects(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "lb-bucket"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "lb-bucket", OS3_VERSIONING_ENABLED), 0);
    const char *keys[] = { "a", "b/1", "b/2", "b/3/x", "c/x/y", "d", "d/e", "\xc3\xa9t\xc3\xa9",
                           "Z" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put_str(st, "lb-bucket", keys[i], keys[i], NULL);
    put_str(st, "lb-bucket", "gone", "x", NULL);
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "lb-bucket", "gone", NULL, &dr), 0);

    os3_list_result r;
    os3_list_params p = { .max_keys = -1 };
    assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
    /* Byte order: uppercase before lowercase, UTF-8 after ASCII. */
    const char *all[] = { "Z", "a", "b/1", "b/2", "b/3/x", "c/x/y", "d", "d/e",
                          "\xc3\xa9t\xc3\xa9" };
    check_keys(&r, all, 9, NULL, 0);
    assert_false(r.truncated);
    assert_null(r.next_marker);
    assert_int_equal(r.entries[1].size, 1);
    assert_true(r.entries[1].etag[0] == '"');
    os3_list_result_clear(&r);

    p = (os3_list_params){ .delimiter = "/", .max_keys = -1 };
    assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
    const char *top[] = { "Z", "a", "d", "\xc3\xa9t\xc3\xa9" };
    const char *topp[] = { "b/", "c/", "d/" };
    check_keys(&r, top, 4, topp, 3);
    os3_list_result_clear(&r);

    p = (os3_list_params){ .prefix = "b/", .delimiter = "/", .max_keys = -1 };
    assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
    const char *bk[] = { "b/1", "b/2" };
    const char *bp[] = { "b/3/" };
    check_keys(&r, bk, 2, bp, 1);
    os3_list_result_clear(&r);

    p = (os3_list_params){ .prefix = "nothing", .max_keys = -1 };
    assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
    check_keys(&r, NULL, 0, NULL, 0);
    os3_list_result_clear(&r);

    /* Pages of 2 with a delimiter, resuming from next_marker (a common
     * prefix as marker skips the whole prefix). */
    const char *seq[] = { "Z", "a", "b/", "c/", "d", "d/", "\xc3\xa9t\xc3\xa9" };
    size_t seen = 0;
    char *marker = NULL;
    for (int page = 0; page < 10; page++) {
        p = (os3_list_params){ .delimiter = "/", .max_keys = 2, .start_after = marker };
        assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
        assert_true(r.n_entries + r.n_prefixes <= 2);
        /* merge the page in order */
        size_t ie = 0, ip = 0;
        while (ie < r.n_entries || ip < r.n_prefixes) {
            const char *next;
            if (ip >= r.n_prefixes ||
                (ie < r.n_entries && strcmp(r.entries[ie].key, r.prefixes[ip]) < 0))
                next = r.entries[ie++].key;
            else
                next = r.prefixes[ip++];
            assert_true(seen < 7);
            assert_string_equal(next, seq[seen++]);
        }
        free(marker);
        marker = r.next_marker ? rd_strdup(r.next_marker) : NULL;
        bool more = r.truncated;
        os3_list_result_clear(&r);
        if (!more)
            break;
        assert_non_null(marker);
    }
    free(marker);
    assert_int_equal(seen, 7);

    /* start-after (v2) and max-keys 0. */
    p = (os3_list_params){ .start_after = "b/2", .max_keys = 3 };
    assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
    const char *after[] = { "b/3/x", "c/x/y", "d" };
    check_keys(&r, after, 3, NULL, 0);
    assert_true(r.truncated);
    assert_string_equal(r.next_marker, "d");
    os3_list_result_clear(&r);
    p = (os3_list_params){ .max_keys = 0 };
    assert_int_equal(os3_list_objects(st, "lb-bucket", &p, &r), 0);
    assert_int_equal(r.n_entries, 0);
    os3_list_result_clear(&r);
    assert_int_equal(os3_list_objects(st, "nobucket", &p, &r), -OS3_RC_NO_SUCH_BUCKET);
}

static void test_list_versions_pagination(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "pv-bucket"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "pv-bucket", OS3_VERSIONING_ENABLED), 0);
    const char *keys[] = { "k1", "k2", "k3" };
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 3; k++)
            put_str(st, "pv-bucket", keys[k], "v", NULL);
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "pv-bucket", "k2", NULL, &dr), 0);

    os3_list_result full;
    list_versions_all(st, "pv-bucket", &full);
    assert_int_equal(full.n_entries, 10);
    /* by key, newest first; exactly one latest per key */
    for (size_t i = 1; i < full.n_entries; i++) {
        int c = strcmp(full.entries[i - 1].key, full.entries[i].key);
        assert_true(c <= 0);
        if (c == 0) {
            assert_false(full.entries[i].is_latest);
            assert_true(strcmp(full.entries[i - 1].version_id, full.entries[i].version_id) < 0);
        } else {
            assert_true(full.entries[i].is_latest);
        }
    }
    assert_true(full.entries[3].is_delete_marker);   /* k2's newest */

    for (int page_size = 1; page_size <= 4; page_size++) {
        size_t got = 0;
        char *km = NULL, *vm = NULL;
        for (int page = 0; page < 20; page++) {
            os3_list_params p = { .max_keys = page_size, .start_after = km };
            os3_list_result r;
            assert_int_equal(os3_list_versions(st, "pv-bucket", &p, vm, &r), 0);
            for (size_t i = 0; i < r.n_entries; i++, got++) {
                assert_string_equal(r.entries[i].key, full.entries[got].key);
                assert_string_equal(r.entries[i].version_id, full.entries[got].version_id);
                assert_int_equal(r.entries[i].is_latest, full.entries[got].is_latest);
            }
            free(km);
            free(vm);
            km = r.next_marker ? rd_strdup(r.next_marker) : NULL;
            vm = r.next_version_id_marker ? rd_strdup(r.next_version_id_marker) : NULL;
            bool more = r.truncated;
            os3_list_result_clear(&r);
            if (!more)
                break;
        }
        free(km);
        free(vm);
        assert_int_equal(got, full.n_entries);
    }

    /* key-marker alone skips every version of that key. */
    os3_list_params p = { .start_after = "k2", .max_keys = -1 };
    os3_list_result r;
    assert_int_equal(os3_list_versions(st, "pv-bucket", &p, NULL, &r), 0);
    assert_int_equal(r.n_entries, 3);
    assert_string_equal(r.entries[0].key, "k3");
    os3_list_result_clear(&r);
    /* prefix and delimiter */
    p = (os3_list_params){ .prefix = "k", .delimiter = "2", .max_keys = -1 };
    assert_int_equal(os3_list_versions(st, "pv-bucket", &p, NULL, &r), 0);
    assert_int_equal(r.n_entries, 6);
    assert_int_equal(r.n_prefixes, 1);
    assert_string_equal(r.prefixes[0], "k2");
    os3_list_result_clear(&r);
    /* a version-id-marker needs a key-marker and must exist */
    p = (os3_list_params){ .max_keys = -1 };
    assert_int_equal(os3_list_versions(st, "pv-bucket", &p, full.entries[0].version_id, &r),
                     -OS3_RC_INVALID_ARGUMENT);
    p.start_after = "k1";
    assert_int_equal(os3_list_versions(st, "pv-bucket", &p, "nope", &r), -OS3_RC_INVALID_ARGUMENT);
    os3_list_result_clear(&full);
}

/* ======================================================================
 * Multipart
 * ====================================================================== */

static int upload_part(os3_store *st, const char *bucket, const char *key, const char *upload,
                       int number, const void *data, size_t len, os3_put_result *res)
{
    os3_put *p;
    int rc = os3_part_begin(st, bucket, key, upload, number, &p);
    if (rc < 0)
        return rc;
    for (size_t off = 0; off < len; off += 1 << 20) {
        size_t n = len - off < (1u << 20) ? len - off : 1u << 20;
        rc = os3_put_write(p, (const uint8_t *)data + off, n);
        if (rc < 0) {
            os3_put_abort(p);
            return rc;
        }
    }
    return os3_put_commit(p, NULL, res);
}

static void test_multipart(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "mp-bucket"), 0);
    os3_meta meta = { .content_type = "video/mp4" };
    char up[OS3_UPLOAD_ID_MAX];
    assert_int_equal(os3_mpu_create(st, "mp-bucket", "big", &meta, up), 0);
    assert_true(strlen(up) > 0);

    size_t n1 = OS3_PART_MIN + 17;
    uint8_t *d1 = rd_malloc(n1);
    for (size_t i = 0; i < n1; i++)
        d1[i] = (uint8_t)(i * 7);
    const char *d2 = "the last part may be small";
    os3_put_result r1, r2, r3;
    assert_int_equal(upload_part(st, "mp-bucket", "big", up, 2, "to be replaced", 14, &r2), 0);
    assert_int_equal(upload_part(st, "mp-bucket", "big", up, 2, d2, strlen(d2), &r2), 0);
    assert_int_equal(upload_part(st, "mp-bucket", "big", up, 1, d1, n1, &r1), 0);
    assert_int_equal(upload_part(st, "mp-bucket", "big", up, 3, "x", 1, &r3), 0);
    assert_int_equal(count_files(f->store_dir, "multipart"), 3);   /* replaced part is gone */
    assert_string_equal(r1.version_id, "");

    os3_put *p;
    assert_int_equal(os3_part_begin(st, "mp-bucket", "big", up, 0, &p), -OS3_RC_INVALID_ARGUMENT);
    assert_int_equal(os3_part_begin(st, "mp-bucket", "big", up, 10001, &p), -OS3_RC_INVALID_ARGUMENT);
    assert_int_equal(os3_part_begin(st, "mp-bucket", "big", "nope", 1, &p), -OS3_RC_NO_SUCH_UPLOAD);
    assert_int_equal(os3_part_begin(st, "mp-bucket", "other", up, 1, &p), -OS3_RC_NO_SUCH_UPLOAD);

    /* ListParts with pagination. */
    os3_parts_result pl;
    assert_int_equal(os3_mpu_list_parts(st, "mp-bucket", "big", up, 0, 2, &pl), 0);
    assert_int_equal(pl.n_parts, 2);
    assert_true(pl.truncated);
    assert_int_equal(pl.next_part_marker, 2);
    assert_int_equal(pl.parts[0].part_number, 1);
    assert_int_equal(pl.parts[0].size, n1);
    assert_string_equal(pl.parts[1].etag, r2.etag);
    os3_parts_result_clear(&pl);
    assert_int_equal(os3_mpu_list_parts(st, "mp-bucket", "big", up, 2, 2, &pl), 0);
    assert_int_equal(pl.n_parts, 1);
    assert_false(pl.truncated);
    assert_int_equal(pl.parts[0].part_number, 3);
    os3_parts_result_clear(&pl);

    /* Complete's errors. */
    os3_put_result res;
    os3_part_ref none[1];
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, none, 0, &res), -OS3_RC_MALFORMED_XML);
    os3_part_ref order[] = { { 2, r2.etag }, { 1, r1.etag } };
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, order, 2, &res),
                     -OS3_RC_INVALID_PART_ORDER);
    os3_part_ref missing[] = { { 1, r1.etag }, { 4, r2.etag } };
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, missing, 2, &res),
                     -OS3_RC_INVALID_PART);
    os3_part_ref badtag[] = { { 1, r1.etag }, { 2, "\"00000000000000000000000000000000\"" } };
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, badtag, 2, &res), -OS3_RC_INVALID_PART);
    os3_part_ref small[] = { { 2, r2.etag }, { 3, r3.etag } };
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, small, 2, &res),
                     -OS3_RC_ENTITY_TOO_SMALL);
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", "nope", small, 2, &res),
                     -OS3_RC_NO_SUCH_UPLOAD);

    /* Success, leaving part 3 out; ETags unquoted are accepted. */
    char bare[OS3_ETAG_MAX];
    snprintf(bare, sizeof bare, "%.*s", (int)strlen(r2.etag) - 2, r2.etag + 1);
    os3_part_ref ok[] = { { 1, r1.etag }, { 2, bare } };
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, ok, 2, &res), 0);
    /* S3's ETag: md5(md5(p1) || md5(p2)) "-2". */
    uint8_t both[32];
    unsigned n = 16;
    EVP_Digest(d1, n1, both, &n, EVP_md5(), NULL);
    EVP_Digest(d2, strlen(d2), both + 16, &n, EVP_md5(), NULL);
    char hex[33], want[OS3_ETAG_MAX];
    md5_hex(both, 32, hex);
    snprintf(want, sizeof want, "\"%s-2\"", hex);
    assert_string_equal(res.etag, want);
    assert_int_equal(res.size, n1 + strlen(d2));
    assert_int_equal(count_files(f->store_dir, "multipart"), 0);

    os3_object obj;
    assert_int_equal(os3_object_get(st, "mp-bucket", "big", NULL, NULL, &obj), 0);
    assert_int_equal(obj.size, n1 + strlen(d2));
    assert_string_equal(obj.etag, want);
    assert_int_equal(obj.parts_count, 2);
    assert_string_equal(obj.meta.content_type, "video/mp4");
    uint8_t *back = rd_malloc(obj.size);
    assert_int_equal(rd_fs_pread_full(obj.fd, back, obj.size, 0), 0);
    assert_memory_equal(back, d1, n1);
    assert_memory_equal(back + n1, d2, strlen(d2));
    free(back);
    os3_object_clear(&obj);
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "big", up, ok, 2, &res), -OS3_RC_NO_SUCH_UPLOAD);

    /* UploadPartCopy with a range, then abort. */
    assert_int_equal(os3_mpu_create(st, "mp-bucket", "copied", NULL, up), 0);
    os3_range rg = { (int64_t)n1, (int64_t)n1 + 3 };
    assert_int_equal(os3_mpu_part_copy(st, "mp-bucket", "copied", up, 1, "mp-bucket", "big", NULL, &rg, &r1),
                     0);
    assert_string_equal(r1.source_version_id, "null");
    md5_hex("the ", 4, hex);
    snprintf(want, sizeof want, "\"%s\"", hex);
    assert_string_equal(r1.etag, want);
    rg = (os3_range){ 0, (int64_t)(n1 + strlen(d2)) };
    assert_int_equal(os3_mpu_part_copy(st, "mp-bucket", "copied", up, 2, "mp-bucket", "big", NULL, &rg, &r2),
                     -OS3_RC_INVALID_RANGE);
    os3_part_ref one[] = { { 1, r1.etag } };
    assert_int_equal(os3_mpu_complete(st, "mp-bucket", "copied", up, one, 1, &res), 0);
    assert_get(st, "mp-bucket", "copied", NULL, "the ");

    assert_int_equal(os3_mpu_create(st, "mp-bucket", "dropped", NULL, up), 0);
    assert_int_equal(upload_part(st, "mp-bucket", "dropped", up, 1, "abc", 3, &r1), 0);
    assert_int_equal(os3_mpu_abort(st, "mp-bucket", "dropped", up), 0);
    assert_int_equal(os3_mpu_abort(st, "mp-bucket", "dropped", up), -OS3_RC_NO_SUCH_UPLOAD);
    assert_int_equal(count_files(f->store_dir, "multipart"), 0);
    assert_int_equal(os3_mpu_create(st, "nobucket", "k", NULL, up), -OS3_RC_NO_SUCH_BUCKET);
    free(d1);
}

static void test_list_uploads(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "lu-bucket"), 0);
    char ids[5][OS3_UPLOAD_ID_MAX];
    const char *keys[] = { "a", "a", "b", "dir/x", "dir/y" };
    for (int i = 0; i < 5; i++)
        assert_int_equal(os3_mpu_create(st, "lu-bucket", keys[i], NULL, ids[i]), 0);

    os3_list_params p = { .max_keys = -1 };
    os3_uploads_result r;
    assert_int_equal(os3_mpu_list_uploads(st, "lu-bucket", &p, NULL, &r), 0);
    assert_int_equal(r.n_uploads, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.uploads[i].key, keys[i]);
        assert_string_equal(r.uploads[i].upload_id, ids[i]);
    }
    os3_uploads_result_clear(&r);

    p = (os3_list_params){ .max_keys = 1 };
    assert_int_equal(os3_mpu_list_uploads(st, "lu-bucket", &p, NULL, &r), 0);
    assert_true(r.truncated);
    assert_string_equal(r.next_key_marker, "a");
    assert_string_equal(r.next_upload_id_marker, ids[0]);
    os3_uploads_result_clear(&r);
    p = (os3_list_params){ .max_keys = 2, .start_after = "a" };
    assert_int_equal(os3_mpu_list_uploads(st, "lu-bucket", &p, ids[0], &r), 0);
    assert_int_equal(r.n_uploads, 2);
    assert_string_equal(r.uploads[0].upload_id, ids[1]);
    assert_string_equal(r.uploads[1].key, "b");
    os3_uploads_result_clear(&r);

    p = (os3_list_params){ .delimiter = "/", .max_keys = -1 };
    assert_int_equal(os3_mpu_list_uploads(st, "lu-bucket", &p, NULL, &r), 0);
    assert_int_equal(r.n_uploads, 3);
    assert_int_equal(r.n_prefixes, 1);
    assert_string_equal(r.prefixes[0], "dir/");
    os3_uploads_result_clear(&r);
    p = (os3_list_params){ .prefix = "dir/", .max_keys = -1 };
    assert_int_equal(os3_mpu_list_uploads(st, "lu-bucket", &p, NULL, &r), 0);
    assert_int_equal(r.n_uploads, 2);
    os3_uploads_result_clear(&r);
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

#define DAYS(n) ((int64_t)(n) * 86400)

static void test_lifecycle_config(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "lc-bucket"), 0);
    os3_lifecycle got;
    assert_int_equal(os3_lifecycle_get(st, "lc-bucket", &got), -OS3_RC_NO_SUCH_LIFECYCLE);
    os3_lifecycle_clear(&got);

    os3_lifecycle_rule rules[] = {
        { .id = "old-versions", .enabled = true, .noncurrent_days = 90,
          .newer_noncurrent_versions = 2 },
        { .id = "logs", .enabled = false, .prefix = "logs/", .expiration_days = 30,
          .abort_incomplete_days = 7 },
        { .id = "markers", .enabled = true, .expired_object_delete_marker = true,
          .expiration_date = 0 },
    };
    os3_lifecycle lc = { rules, 3 };
    assert_int_equal(os3_lifecycle_put(st, "lc-bucket", &lc), 0);
    assert_int_equal(os3_lifecycle_get(st, "lc-bucket", &got), 0);
    assert_int_equal(got.n_rules, 3);
    assert_string_equal(got.rules[0].id, "old-versions");
    assert_int_equal(got.rules[0].noncurrent_days, 90);
    assert_int_equal(got.rules[0].newer_noncurrent_versions, 2);
    assert_false(got.rules[1].enabled);
    assert_string_equal(got.rules[1].prefix, "logs/");
    assert_int_equal(got.rules[1].expiration_days, 30);
    assert_int_equal(got.rules[1].abort_incomplete_days, 7);
    assert_true(got.rules[2].expired_object_delete_marker);
    os3_lifecycle_clear(&got);

    /* Invalid configurations. */
    os3_lifecycle empty = { NULL, 0 };
    assert_int_equal(os3_lifecycle_put(st, "lc-bucket", &empty), -OS3_RC_MALFORMED_XML);
    os3_lifecycle_rule bad[][1] = {
        { { .id = "x", .enabled = true } },
        { { .id = "x", .enabled = true, .expiration_days = -1 } },
        { { .id = "x", .enabled = true, .expiration_days = 1, .expiration_date = 100 } },
        { { .id = "x", .enabled = true, .expiration_days = 1,
            .expired_object_delete_marker = true } },
        { { .id = "x", .enabled = true, .newer_noncurrent_versions = 3,
            .abort_incomplete_days = 1 } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        os3_lifecycle b = { bad[i], 1 };
        assert_int_equal(os3_lifecycle_put(st, "lc-bucket", &b), -OS3_RC_INVALID_ARGUMENT);
    }
    os3_lifecycle_rule dup[] = { { .id = "same", .enabled = true, .expiration_days = 1 },
                                 { .id = "same", .enabled = true, .expiration_days = 2 } };
    os3_lifecycle d = { dup, 2 };
    assert_int_equal(os3_lifecycle_put(st, "lc-bucket", &d), -OS3_RC_INVALID_ARGUMENT);
    assert_int_equal(os3_lifecycle_put(st, "nobucket", &lc), -OS3_RC_NO_SUCH_BUCKET);

    assert_int_equal(os3_lifecycle_delete(st, "lc-bucket"), 0);
    assert_int_equal(os3_lifecycle_get(st, "lc-bucket", &got), -OS3_RC_NO_SUCH_LIFECYCLE);
    /* Deleting a bucket drops its configuration. */
    assert_int_equal(os3_lifecycle_put(st, "lc-bucket", &lc), 0);
    assert_int_equal(os3_bucket_delete(st, "lc-bucket"), 0);
    assert_int_equal(os3_bucket_create(st, "lc-bucket"), 0);
    assert_int_equal(os3_lifecycle_get(st, "lc-bucket", &got), -OS3_RC_NO_SUCH_LIFECYCLE);
}

static size_t count_versions(os3_store *st, const char *bucket, const char *key)
{
    os3_list_result r;
    os3_list_params p = { .prefix = key, .max_keys = -1 };
    assert_int_equal(os3_list_versions(st, bucket, &p, NULL, &r), 0);
    size_t n = 0;
    for (size_t i = 0; i < r.n_entries; i++)
        n += strcmp(r.entries[i].key, key) == 0;
    os3_list_result_clear(&r);
    return n;
}

static void test_lifecycle_noncurrent(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "prod"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "prod", OS3_VERSIONING_ENABLED), 0);
    os3_lifecycle_rule rule = { .id = "90d", .enabled = true, .noncurrent_days = 90,
                                .expired_object_delete_marker = true };
    os3_lifecycle lc = { &rule, 1 };
    assert_int_equal(os3_lifecycle_put(st, "prod", &lc), 0);

    /* day 0: "doc" v1 then v2 (v1 noncurrent from day 0); "old" written
     * on day 0 but replaced only on day 100; "gone" deleted on day 0. */
    char v1[OS3_VERSION_ID_MAX], v2[OS3_VERSION_ID_MAX];
    put_str(st, "prod", "doc", "v1", v1);
    put_str(st, "prod", "doc", "v2", v2);
    put_str(st, "prod", "old", "first", NULL);
    put_str(st, "prod", "gone", "x", NULL);
    os3_delete_result dr;
    assert_int_equal(os3_object_delete(st, "prod", "gone", NULL, &dr), 0);

    os3_sweep_stats ss;
    rd_clock_set_offset(DAYS(89));
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.noncurrent_removed, 0);
    assert_int_equal(count_versions(st, "prod", "doc"), 2);

    rd_clock_set_offset(DAYS(100));
    put_str(st, "prod", "old", "second", NULL);

    rd_clock_set_offset(DAYS(91));
    /* (time may also go backwards for the sweep: the argument rules) */
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now() + DAYS(60), &ss), 0);
    /* day 151: doc v1 (noncurrent 151 days) and gone's x go; the marker of
     * "gone" is then the only version and goes too; "old" first has been
     * noncurrent only 51 days and stays; current versions are untouched. */
    assert_int_equal(ss.noncurrent_removed, 2);
    assert_int_equal(ss.markers_removed, 1);
    assert_int_equal(ss.current_expired, 0);
    assert_int_equal(count_versions(st, "prod", "doc"), 1);
    assert_get(st, "prod", "doc", NULL, "v2");
    char *got;
    assert_int_equal(get_str(st, "prod", "doc", v1, NULL, &got), -OS3_RC_NO_SUCH_VERSION);
    assert_int_equal(count_versions(st, "prod", "old"), 2);
    assert_int_equal(count_versions(st, "prod", "gone"), 0);

    rd_clock_set_offset(DAYS(191));
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.noncurrent_removed, 1);
    assert_int_equal(count_versions(st, "prod", "old"), 1);
    assert_get(st, "prod", "old", NULL, "second");
    assert_int_equal(count_files(f->store_dir, "blobs"), 2);

    /* A sweep with nothing due changes nothing. */
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.noncurrent_removed + ss.markers_removed + ss.current_expired, 0);
}

static void test_lifecycle_newer_and_expiration(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "keep"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "keep", OS3_VERSIONING_ENABLED), 0);
    for (int i = 0; i < 5; i++) {
        char data[8];
        snprintf(data, sizeof data, "v%d", i);
        put_str(st, "keep", "k", data, NULL);
    }
    put_str(st, "keep", "logs/a", "log", NULL);
    os3_lifecycle_rule rules[] = {
        { .id = "keep2", .enabled = true, .noncurrent_days = 1,
          .newer_noncurrent_versions = 2 },
        { .id = "logs", .enabled = true, .prefix = "logs/", .expiration_days = 30 },
    };
    os3_lifecycle lc = { rules, 2 };
    assert_int_equal(os3_lifecycle_put(st, "keep", &lc), 0);
    os3_sweep_stats ss;
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now() + DAYS(3), &ss), 0);
    /* 4 noncurrent, the 2 newest kept. */
    assert_int_equal(ss.noncurrent_removed, 2);
    assert_int_equal(count_versions(st, "keep", "k"), 3);
    os3_list_result r;
    os3_list_params p = { .prefix = "k", .max_keys = -1 };
    assert_int_equal(os3_list_versions(st, "keep", &p, NULL, &r), 0);
    assert_int_equal(r.n_entries, 3);
    os3_list_result_clear(&r);
    assert_get(st, "keep", "k", NULL, "v4");
    assert_int_equal(ss.current_expired, 0);

    /* Expiration of a current version in a versioned bucket: a marker. */
    rd_clock_set_offset(DAYS(31));
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.current_expired, 1);
    char *got;
    assert_int_equal(get_str(st, "keep", "logs/a", NULL, NULL, &got), -OS3_RC_NO_SUCH_KEY);
    assert_int_equal(count_versions(st, "keep", "logs/a"), 2);
    assert_get(st, "keep", "k", NULL, "v4");   /* outside the prefix */
    /* and it is not expired twice */
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.current_expired, 0);

    /* In an unversioned bucket Expiration removes the object. */
    assert_int_equal(os3_bucket_create(st, "plain"), 0);
    put_str(st, "plain", "tmp/x", "x", NULL);
    put_str(st, "plain", "keep/y", "y", NULL);
    os3_lifecycle_rule er = { .id = "tmp", .enabled = true, .prefix = "tmp/",
                              .expiration_days = 1 };
    os3_lifecycle elc = { &er, 1 };
    assert_int_equal(os3_lifecycle_put(st, "plain", &elc), 0);
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now() + DAYS(2), &ss), 0);
    assert_int_equal(count_versions(st, "plain", "tmp/x"), 0);
    assert_int_equal(count_versions(st, "plain", "keep/y"), 1);

    /* Expiration by date, and a disabled rule does nothing. */
    put_str(st, "plain", "tmp/z", "z", NULL);
    er.expiration_days = 0;
    er.expiration_date = rd_clock_now() + DAYS(10);
    er.enabled = false;
    assert_int_equal(os3_lifecycle_put(st, "plain", &elc), 0);
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now() + DAYS(11), &ss), 0);
    assert_int_equal(count_versions(st, "plain", "tmp/z"), 1);
    er.enabled = true;
    assert_int_equal(os3_lifecycle_put(st, "plain", &elc), 0);
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now() + DAYS(9), &ss), 0);
    assert_int_equal(count_versions(st, "plain", "tmp/z"), 1);
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now() + DAYS(10), &ss), 0);
    assert_int_equal(count_versions(st, "plain", "tmp/z"), 0);
}

/* Replacing a current null version (Suspended) must not restart the
 * noncurrent clock of the version below it. */
static void test_lifecycle_suspended_keeps_noncurrent_time(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "susp-bucket"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "susp-bucket", OS3_VERSIONING_ENABLED), 0);
    char v1[OS3_VERSION_ID_MAX];
    put_str(st, "susp-bucket", "k", "v1", v1);
    assert_int_equal(os3_bucket_versioning_set(st, "susp-bucket", OS3_VERSIONING_SUSPENDED), 0);
    put_str(st, "susp-bucket", "k", "null-a", NULL);          /* v1 noncurrent from day 0 */
    rd_clock_set_offset(DAYS(50));
    put_str(st, "susp-bucket", "k", "null-b", NULL);          /* replaces null-a */
    os3_delete_result dr;
    rd_clock_set_offset(DAYS(60));
    assert_int_equal(os3_object_delete(st, "susp-bucket", "k", NULL, &dr), 0);   /* null marker */
    assert_string_equal(dr.version_id, "null");
    os3_lifecycle_rule rule = { .id = "nc", .enabled = true, .noncurrent_days = 90 };
    os3_lifecycle lc = { &rule, 1 };
    assert_int_equal(os3_lifecycle_put(st, "susp-bucket", &lc), 0);
    os3_sweep_stats ss;
    rd_clock_set_offset(DAYS(91));
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.noncurrent_removed, 1);
    char *got;
    assert_int_equal(get_str(st, "susp-bucket", "k", v1, NULL, &got), -OS3_RC_NO_SUCH_VERSION);
    assert_int_equal(count_versions(st, "susp-bucket", "k"), 1);   /* the null marker */
}

static void test_lifecycle_abort_uploads(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "up-bucket"), 0);
    char old[OS3_UPLOAD_ID_MAX], fresh[OS3_UPLOAD_ID_MAX];
    assert_int_equal(os3_mpu_create(st, "up-bucket", "a", NULL, old), 0);
    os3_put_result pr;
    assert_int_equal(upload_part(st, "up-bucket", "a", old, 1, "abc", 3, &pr), 0);
    rd_clock_set_offset(DAYS(5));
    assert_int_equal(os3_mpu_create(st, "up-bucket", "b", NULL, fresh), 0);
    os3_lifecycle_rule r = { .id = "mpu", .enabled = true, .abort_incomplete_days = 7 };
    os3_lifecycle lc = { &r, 1 };
    assert_int_equal(os3_lifecycle_put(st, "up-bucket", &lc), 0);
    os3_sweep_stats ss;
    rd_clock_set_offset(DAYS(8));
    assert_int_equal(os3_lifecycle_sweep(st, rd_clock_now(), &ss), 0);
    assert_int_equal(ss.uploads_aborted, 1);
    os3_list_params p = { .max_keys = -1 };
    os3_uploads_result ur;
    assert_int_equal(os3_mpu_list_uploads(st, "up-bucket", &p, NULL, &ur), 0);
    assert_int_equal(ur.n_uploads, 1);
    assert_string_equal(ur.uploads[0].upload_id, fresh);
    os3_uploads_result_clear(&ur);
    assert_int_equal(count_files(f->store_dir, "multipart"), 0);
}

/* ======================================================================
 * Recovery
 * ====================================================================== */

static void write_file(const char *path, const char *data)
{
    assert_int_equal(rd_fs_write_atomic(path, data, strlen(data), 0640), 0);
}

static void test_recovery(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "rb-bucket"), 0);
    put_str(st, "rb-bucket", "kept", "still here", NULL);
    char up[OS3_UPLOAD_ID_MAX];
    assert_int_equal(os3_mpu_create(st, "rb-bucket", "m", NULL, up), 0);
    os3_put_result pr;
    assert_int_equal(upload_part(st, "rb-bucket", "m", up, 1, "part", 4, &pr), 0);

    /* What a crash can leave: a half-written temp file, a blob renamed into
     * place whose metadata never committed, an upload directory whose row
     * never committed (or whose abort was cut short), and a part file of a
     * live upload that was never recorded. */
    char *p;
    p = rd_asprintf("%s/tmp/deadbeef.tmp", f->store_dir);
    write_file(p, "partial");
    free(p);
    p = rd_asprintf("%s/blobs/ab/cd", f->store_dir);
    assert_int_equal(rd_fs_mkdir_p(p, 0750), 0);
    free(p);
    p = rd_asprintf("%s/blobs/ab/cd/abcd0000000000000000000000000000", f->store_dir);
    write_file(p, "orphan blob");
    free(p);
    p = rd_asprintf("%s/multipart/0000000000000000ffff", f->store_dir);
    assert_int_equal(rd_fs_mkdir_p(p, 0750), 0);
    free(p);
    p = rd_asprintf("%s/multipart/0000000000000000ffff/00001-aa", f->store_dir);
    write_file(p, "orphan upload");
    free(p);
    p = rd_asprintf("%s/multipart/%s/00001-unrecorded", f->store_dir, up);
    write_file(p, "orphan part");
    free(p);
    assert_int_equal(count_files(f->store_dir, "blobs"), 2);
    assert_int_equal(count_files(f->store_dir, "multipart"), 3);

    os3_recover_stats rs;
    assert_int_equal(os3_store_recover(st, &rs), 0);
    assert_int_equal(rs.tmp_removed, 1);
    assert_int_equal(rs.blobs_removed, 1);
    assert_int_equal(rs.uploads_removed, 1);
    assert_int_equal(rs.parts_removed, 1);
    assert_int_equal(rs.missing_blobs, 0);
    assert_int_equal(count_files(f->store_dir, "tmp"), 0);
    assert_int_equal(count_files(f->store_dir, "blobs"), 1);
    assert_int_equal(count_files(f->store_dir, "multipart"), 1);
    assert_get(st, "rb-bucket", "kept", NULL, "still here");
    os3_part_ref parts[] = { { 1, pr.etag } };
    assert_int_equal(os3_mpu_complete(st, "rb-bucket", "m", up, parts, 1, &pr), 0);
    assert_get(st, "rb-bucket", "m", NULL, "part");

    /* A second process cannot open the store while this one has it. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        os3_store *other;
        _exit(os3_store_open(f->store_dir, &other) == -RD_ELOCKED ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A process killed with SIGKILL in the middle of uploads: after reopening
 * the acknowledged object is intact and no trace of the others remains. */
static void test_crash_during_put(void **state)
{
    fixture *f = *state;
    assert_int_equal(os3_bucket_create(f->st, "cb-bucket"), 0);
    os3_store_close(f->st);
    f->st = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        os3_store *st;
        if (os3_store_open(f->store_dir, &st) < 0)
            _exit(1);
        os3_put *p;
        os3_put_result res;
        if (os3_put_begin(st, "cb-bucket", "acked", NULL, &p) < 0 || os3_put_write(p, "ok", 2) < 0 ||
            os3_put_commit(p, NULL, &res) < 0)
            _exit(2);
        char up[OS3_UPLOAD_ID_MAX];
        if (os3_mpu_create(st, "cb-bucket", "m", NULL, up) < 0 ||
            os3_part_begin(st, "cb-bucket", "m", up, 1, &p) < 0 || os3_put_write(p, "zz", 2) < 0)
            _exit(3);
        os3_put *q;
        if (os3_put_begin(st, "cb-bucket", "never", NULL, &q) < 0 || os3_put_write(q, "lost", 4) < 0)
            _exit(4);
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(count_files(f->store_dir, "tmp"), 2);
    assert_int_equal(os3_store_open(f->store_dir, &f->st), 0);
    assert_int_equal(count_files(f->store_dir, "tmp"), 0);
    assert_get(f->st, "cb-bucket", "acked", NULL, "ok");
    char *got;
    assert_int_equal(get_str(f->st, "cb-bucket", "never", NULL, NULL, &got), -OS3_RC_NO_SUCH_KEY);
    /* The upload itself was created and is still there, without parts. */
    os3_list_params lp = { .max_keys = -1 };
    os3_uploads_result ur;
    assert_int_equal(os3_mpu_list_uploads(f->st, "cb-bucket", &lp, NULL, &ur), 0);
    assert_int_equal(ur.n_uploads, 1);
    os3_parts_result pr;
    assert_int_equal(os3_mpu_list_parts(f->st, "cb-bucket", "m", ur.uploads[0].upload_id, 0, 0, &pr),
                     0);
    assert_int_equal(pr.n_parts, 0);
    os3_parts_result_clear(&pr);
    os3_uploads_result_clear(&ur);
    reopen(f);   /* and a clean store reopens with nothing to do */
}

/* SIGKILL at arbitrary moments of a stream of PUTs and deletes: the child
 * reports each acknowledged write through a pipe, the parent kills it after
 * a few, reopens, and checks the durability contract: everything
 * acknowledged is listed with its data, everything listed has intact data
 * (ETag = MD5 of what is read back), and recovery leaves no unnamed blob. */
static void child_writer(const char *dir, int round, int out)
{
    os3_store *st;
    if (os3_store_open(dir, &st) < 0)
        _exit(1);
    for (int i = 0;; i++) {
        char key[32], body[64];
        snprintf(key, sizeof key, "r%d-k%03d", round, i % 7);
        snprintf(body, sizeof body, "%s:%d:%0*d", key, i, 8 + i % 20, i);
        os3_put_result res;
        int rc = put_chunked(st, "crash-bucket", key, body, strlen(body), 4, NULL, &res);
        if (rc == 0 && i % 5 == 4) {
            os3_delete_result dr;
            rc = os3_object_delete(st, "crash-bucket", key, NULL, &dr);
        }
        if (rc < 0)
            _exit(2);
        uint32_t n = (uint32_t)i;
        if (write(out, &n, sizeof n) != sizeof n)
            _exit(3);
    }
}

static void test_kill9_anywhere(void **state)
{
    fixture *f = *state;
    assert_int_equal(os3_bucket_create(f->st, "crash-bucket"), 0);
    assert_int_equal(os3_bucket_versioning_set(f->st, "crash-bucket", OS3_VERSIONING_ENABLED), 0);
    os3_store_close(f->st);
    f->st = NULL;
    for (int round = 0; round < 6; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_writer(f->store_dir, round, fds[1]);
        }
        close(fds[1]);
        uint32_t acked = 0, n;
        for (int i = 0; i < 8 + round * 3 && read(fds[0], &n, sizeof n) == sizeof n; i++)
            acked = n + 1;
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(fds[0]);
        assert_true(acked >= 8);

        assert_int_equal(os3_store_open(f->store_dir, &f->st), 0);
        os3_recover_stats rs;
        assert_int_equal(os3_store_recover(f->st, &rs), 0);   /* open already swept */
        assert_int_equal(rs.tmp_removed + rs.blobs_removed + rs.missing_blobs, 0);
        assert_int_equal(count_files(f->store_dir, "tmp"), 0);

        os3_list_result r;
        list_versions_all(f->st, "crash-bucket", &r);
        size_t blobs = 0;
        for (size_t i = 0; i < r.n_entries; i++) {
            if (r.entries[i].is_delete_marker)
                continue;
            blobs++;
            char *data;
            assert_int_equal(get_str(f->st, "crash-bucket", r.entries[i].key,
                                     r.entries[i].version_id, NULL, &data), 0);
            char hex[33], quoted[OS3_ETAG_MAX];
            md5_hex(data, strlen(data), hex);
            snprintf(quoted, sizeof quoted, "\"%s\"", hex);
            assert_string_equal(quoted, r.entries[i].etag);
            assert_true(rd_str_starts_with(data, r.entries[i].key));
            free(data);
        }
        /* every acknowledged write of this round is there (7 keys cycle) */
        char key[32];
        snprintf(key, sizeof key, "r%d-", round);
        size_t round_versions = 0;
        for (size_t i = 0; i < r.n_entries; i++)
            round_versions += rd_str_starts_with(r.entries[i].key, key);
        assert_true(round_versions >= acked + acked / 5);
        os3_list_result_clear(&r);
        assert_int_equal(count_files(f->store_dir, "blobs"), (int)blobs);
        os3_store_close(f->st);
        f->st = NULL;
    }
    assert_int_equal(os3_store_open(f->store_dir, &f->st), 0);
}

/* ======================================================================
 * Concurrency
 * ====================================================================== */

#define UPLOADERS 50

typedef struct uploader {
    os3_store *st;
    int n;
    int rc;
    char err[256];
} uploader;

static void *upload_thread(void *arg)
{
    uploader *u = arg;
    char key[32];
    snprintf(key, sizeof key, "obj-%02d", u->n);
    uint8_t buf[4096];
    memset(buf, 'a' + u->n % 26, sizeof buf);
    os3_put *p;
    os3_put_result res;
    u->rc = os3_put_begin(u->st, "cc-bucket", key, NULL, &p);
    for (int i = 0; u->rc == 0 && i < 16; i++)
        u->rc = os3_put_write(p, buf, sizeof buf);
    if (u->rc == 0)
        u->rc = os3_put_commit(p, NULL, &res);
    else
        os3_put_abort(p);
    /* and everyone also writes versions of one shared key */
    if (u->rc == 0)
        u->rc = put_chunked(u->st, "cc-bucket", "shared", buf, 10, 10, NULL, &res);
    if (u->rc < 0)
        snprintf(u->err, sizeof u->err, "%s", rd_error());
    return NULL;
}

static void test_concurrent_uploads(void **state)
{
    fixture *f = *state;
    os3_store *st = f->st;
    assert_int_equal(os3_bucket_create(st, "cc-bucket"), 0);
    assert_int_equal(os3_bucket_versioning_set(st, "cc-bucket", OS3_VERSIONING_ENABLED), 0);
    pthread_t th[UPLOADERS];
    uploader u[UPLOADERS];
    for (int i = 0; i < UPLOADERS; i++) {
        u[i] = (uploader){ .st = st, .n = i };
        assert_int_equal(pthread_create(&th[i], NULL, upload_thread, &u[i]), 0);
    }
    for (int i = 0; i < UPLOADERS; i++) {
        pthread_join(th[i], NULL);
        if (u[i].rc != 0)
            fail_msg("uploader %d: %s", i, u[i].err);
    }
    os3_list_params p = { .max_keys = -1 };
    os3_list_result r;
    assert_int_equal(os3_list_objects(st, "cc-bucket", &p, &r), 0);
    assert_int_equal(r.n_entries, UPLOADERS + 1);
    for (int i = 0; i < UPLOADERS; i++)
        assert_int_equal(r.entries[i].size, 16 * 4096);
    os3_list_result_clear(&r);
    assert_int_equal(count_versions(st, "cc-bucket", "shared"), UPLOADERS);
    os3_object obj;
    assert_int_equal(os3_object_get(st, "cc-bucket", "obj-07", NULL, NULL, &obj), 0);
    uint8_t b;
    assert_int_equal(rd_fs_pread_full(obj.fd, &b, 1, 65535), 0);
    assert_int_equal(b, 'a' + 7);
    os3_object_clear(&obj);
}

static const char *s3_code(int rc, int *status)
{
    enum os3_error e = os3_rc_error(rc);
    if (status)
        *status = os3_error_status(e);
    return os3_error_code(e);
}

static void test_error_mapping(void **state)
{
    (void)state;
    int status;
    assert_int_equal(os3_rc_error(0), OS3_OK);
    assert_string_equal(s3_code(-OS3_RC_NO_SUCH_KEY, &status), "NoSuchKey");
    assert_int_equal(status, 404);
    assert_string_equal(s3_code(-OS3_RC_BUCKET_EXISTS, &status), "BucketAlreadyOwnedByYou");
    assert_int_equal(status, 409);
    assert_string_equal(s3_code(-OS3_RC_INVALID_RANGE, &status), "InvalidRange");
    assert_int_equal(status, 416);
    assert_string_equal(s3_code(-OS3_RC_METHOD_NOT_ALLOWED, &status), "MethodNotAllowed");
    assert_int_equal(status, 405);
    assert_string_equal(s3_code(-RD_EIO, &status), "InternalError");
    assert_int_equal(status, 500);
    for (int e = OS3_OK + 1; e < OS3_ERROR_COUNT; e++)
        assert_int_equal(os3_rc_error(-OS3_RC(e)), e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versioning_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versioning_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_versions_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_noncurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_newer_and_expiration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_suspended_keeps_noncurrent_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_abort_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_during_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_uploads, setup, teardown),
    };
    return cmocka_run_group_tests_name("os3_store", tests, NULL, NULL);
}
