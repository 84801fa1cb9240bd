/* Unit tests of the recovery plans (src/s3client/recover.c): undelete with
 * stacked delete markers and keys that never had data; restore-to-time with
 * keys recreated, created or deleted around T, ties on T, and listings that
 * arrive in pages or out of order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "s3client/s3client.h"

/* Appends one entry; t in ms; each version's ETag is its id (distinct content). Entries are given newest first per key, as a
 * server lists them. */
static void add(s3_version_list *l, const char *key, const char *vid, bool marker, bool latest,
                int64_t t)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = rd_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (s3_version){ .key = rd_strdup(key), .version_id = rd_strdup(vid),
                                 .etag = marker ? NULL : rd_asprintf("\"%s\"", vid),
                                 .is_latest = latest, .delete_marker = marker,
                                 .last_modified_ms = t, .size = marker ? 0 : 10 };
}
#define V(l, k, id, latest, t) add(l, k, id, false, latest, t)
#define M(l, k, id, latest, t) add(l, k, id, true, latest, t)

static const s3_plan_item *find(const s3_plan *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return &p->items[i];
    return NULL;
}

static void test_undelete_stacked_markers(void **state)
{
    (void)state;
    s3_version_list l = { 0 };
    /* a: v1, deleted, v2, deleted twice more -> v2 comes back, both top markers go */
    M(&l, "a", "m3", true, 6000);
    M(&l, "a", "m2", false, 5000);
    V(&l, "a", "v2", false, 4000);
    M(&l, "a", "m1", false, 3000);
    V(&l, "a", "v1", false, 1000);
    /* b: live, untouched; c: only markers -> skipped; d: one marker */
    V(&l, "b", "vb", true, 1000);
    M(&l, "c", "mc2", true, 2000);
    M(&l, "c", "mc1", false, 1000);
    M(&l, "d", "md", true, 2000);
    V(&l, "d", "vd", false, 1000);
    s3_plan p;
    assert_int_equal(s3_plan_undelete(&l, &p), 0);
    assert_int_equal(p.n, 3);
    const s3_plan_item *a = find(&p, "a");
    assert_int_equal(a->action, S3_PLAN_UNDELETE);
    assert_string_equal(a->version_id, "v2");
    assert_int_equal(a->n_markers, 2);
    assert_string_equal(a->markers[0], "m3");
    assert_string_equal(a->markers[1], "m2");
    assert_null(find(&p, "b"));
    assert_int_equal(find(&p, "c")->action, S3_PLAN_SKIP);
    assert_null(find(&p, "c")->version_id);
    assert_int_equal(find(&p, "d")->n_markers, 1);
    assert_string_equal(find(&p, "d")->version_id, "vd");
    /* keys in order */
    assert_string_equal(p.items[0].key, "a");
    assert_string_equal(p.items[1].key, "c");
    assert_string_equal(p.items[2].key, "d");
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

static void test_undelete_nothing_deleted(void **state)
{
    (void)state;
    s3_version_list l = { 0 };
    s3_plan p;
    assert_int_equal(s3_plan_undelete(&l, &p), 0);
    assert_int_equal(p.n, 0);
    s3_plan_free(&p);
    V(&l, "x", "v2", true, 2000);
    M(&l, "x", "m1", false, 1500);   /* a marker under a version: not "latest" */
    V(&l, "x", "v1", false, 1000);
    assert_int_equal(s3_plan_undelete(&l, &p), 0);
    assert_int_equal(p.n, 0);
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

static void test_restore_cases(void **state)
{
    (void)state;
    const int64_t T = 10000;
    s3_version_list l = { 0 };
    /* overwritten after T -> restore the version of T */
    V(&l, "over", "o2", true, 12000);
    V(&l, "over", "o1", false, 9000);
    /* deleted after T -> restore (a copy over the marker) */
    M(&l, "del", "dm", true, 11000);
    V(&l, "del", "d1", false, 5000);
    /* deleted before T and recreated after -> delete marker */
    V(&l, "recreated", "r2", true, 15000);
    M(&l, "recreated", "rm", false, 8000);
    V(&l, "recreated", "r1", false, 1000);
    /* created after T -> delete marker */
    V(&l, "new", "n1", true, 20000);
    /* deleted before T and still deleted -> unchanged */
    M(&l, "gone", "gm", true, 7000);
    V(&l, "gone", "g1", false, 2000);
    /* untouched since before T -> unchanged */
    V(&l, "same", "s1", true, 3000);
    /* created after T and deleted again -> unchanged (does not exist now) */
    M(&l, "brief", "bm", true, 13000);
    V(&l, "brief", "b1", false, 12000);
    s3_plan p;
    assert_int_equal(s3_plan_restore_to_time(&l, T, &p), 0);
    assert_int_equal(p.unchanged, 3);
    assert_int_equal(p.n, 4);
    assert_int_equal(find(&p, "over")->action, S3_PLAN_RESTORE);
    assert_string_equal(find(&p, "over")->version_id, "o1");
    assert_int_equal(find(&p, "del")->action, S3_PLAN_RESTORE);
    assert_string_equal(find(&p, "del")->version_id, "d1");
    assert_int_equal(find(&p, "recreated")->action, S3_PLAN_DELETE);
    assert_int_equal(find(&p, "new")->action, S3_PLAN_DELETE);
    assert_null(find(&p, "gone"));
    assert_null(find(&p, "same"));
    assert_null(find(&p, "brief"));
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

static void test_restore_ties(void **state)
{
    (void)state;
    s3_version_list l = { 0 };
    /* Written exactly at T: counts as existing at T (inclusive). */
    V(&l, "k", "v2", true, 10000);
    V(&l, "k", "v1", false, 9000);
    /* Two entries in the same millisecond at T: the server's newest-first
     * order decides, so the marker listed first is what was current. */
    M(&l, "t", "tm", true, 10000);
    V(&l, "t", "t1", false, 10000);
    s3_plan p;
    assert_int_equal(s3_plan_restore_to_time(&l, 10000, &p), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.unchanged, 2);
    s3_plan_free(&p);
    /* One millisecond earlier, v1 was current and t did not exist yet. */
    assert_int_equal(s3_plan_restore_to_time(&l, 9999, &p), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.unchanged, 1);
    assert_string_equal(find(&p, "k")->version_id, "v1");
    assert_null(find(&p, "t"));   /* did not exist at T and is deleted now */
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

static void test_pages_and_order_merge(void **state)
{
    (void)state;
    /* Pages concatenated as they arrived, one key split over two pages, and
     * a second key whose entries a server listed oldest first. */
    s3_version_list l = { 0 };
    M(&l, "a", "am", true, 3000);      /* page 1 */
    V(&l, "a", "a2", false, 2000);     /* page 2 */
    V(&l, "a", "a1", false, 1000);
    V(&l, "b", "b1", false, 1000);     /* oldest first */
    M(&l, "b", "bm", true, 3000);
    s3_plan p;
    assert_int_equal(s3_plan_undelete(&l, &p), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(find(&p, "a")->version_id, "a2");
    assert_string_equal(find(&p, "b")->version_id, "b1");
    assert_string_equal(find(&p, "b")->markers[0], "bm");
    s3_plan_free(&p);
    assert_int_equal(s3_plan_restore_to_time(&l, 1500, &p), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(find(&p, "a")->version_id, "a1");
    assert_string_equal(find(&p, "b")->version_id, "b1");
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

static void test_versions_listed_before_markers(void **state)
{
    (void)state;
    /* A server that lists every Version before every DeleteMarker and keeps
     * whole seconds: put, delete, delete in one second. Both markers must go. */
    s3_version_list l = { 0 };
    V(&l, "k", "v1", false, 5000);
    M(&l, "k", "m2", true, 5000);
    M(&l, "k", "m1", false, 5000);
    s3_plan p;
    assert_int_equal(s3_plan_undelete(&l, &p), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.items[0].n_markers, 2);
    assert_string_equal(p.items[0].markers[0], "m2");
    assert_string_equal(p.items[0].version_id, "v1");
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

static void test_restore_is_idempotent(void **state)
{
    (void)state;
    /* A first restore copied o1 onto the key as o3 (same ETag and size). */
    s3_version_list l = { 0 };
    V(&l, "o", "o3", true, 30000);
    V(&l, "o", "o2", false, 20000);
    V(&l, "o", "o1", false, 5000);
    free(l.v[0].etag);
    l.v[0].etag = rd_strdup("\"o1\"");
    s3_plan p;
    assert_int_equal(s3_plan_restore_to_time(&l, 10000, &p), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.unchanged, 1);
    s3_plan_free(&p);
    /* Different content now: restored. */
    free(l.v[0].etag);
    l.v[0].etag = rd_strdup("\"other\"");
    assert_int_equal(s3_plan_restore_to_time(&l, 10000, &p), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].version_id, "o1");
    s3_plan_free(&p);
    s3_version_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_undelete_stacked_markers),
        cmocka_unit_test(test_undelete_nothing_deleted),
        cmocka_unit_test(test_restore_cases),
        cmocka_unit_test(test_restore_ties),
        cmocka_unit_test(test_pages_and_order_merge),
        cmocka_unit_test(test_versions_listed_before_markers),
        cmocka_unit_test(test_restore_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
