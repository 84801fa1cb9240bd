/* Unit tests for the catalog part of src/pg (cluster.c): rows round-trip with
 * every field, list order, status changes, removal, unknown ids, identifier
 * rules and events. Each test works in its own /tmp state directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/catalog.h"
#include "core/error.h"
#include "core/fs.h"
#include "pg/pg.h"

struct fixture {
    char *dir;
    rd_catalog *cat;
};

static int setup(void **state)
{
    struct fixture *f = rd_calloc(1, sizeof *f);
    f->dir = rd_strdup("/tmp/radiant-test-pgc-XXXXXX");
    if (!mkdtemp(f->dir) || rd_catalog_open(f->dir, &f->cat) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rd_catalog_close(f->cat);
    int rc = rd_fs_remove_tree(f->dir);
    free(f->dir);
    free(f);
    return rc;
}

static pgc_cluster *sample(const char *id, int port)
{
    pgc_cluster *c = rd_calloc(1, sizeof *c);
    c->id = rd_strdup(id);
    c->port = port;
    c->data_dir = rd_asprintf("/var/lib/radiant/clusters/%s/data", id);
    c->socket_dir = rd_asprintf("/var/lib/radiant/clusters/%s/run", id);
    c->n_repos = 2;
    c->repos = rd_calloc(2, sizeof *c->repos);
    c->repos[0] = rd_strdup("local");
    c->repos[1] = rd_strdup("dr");
    c->backup_retention_period = 35;
    c->preferred_backup_window = rd_strdup("03:00-04:00");
    c->deletion_protection = true;
    c->storage_encrypted = true;
    c->status = rd_strdup("available");
    c->created_us = 1764123456789012;
    c->managed = true;
    return c;
}

static void test_save_get(void **state)
{
    struct fixture *f = *state;
    pgc_cluster *c = sample("radiant-production", 5432);
    c->restored_from = rd_strdup("src@2024-12-24T10:30:00Z");
    assert_int_equal(pgc_cluster_save(f->cat, c), 0);
    pgc_cluster *g = NULL;
    assert_int_equal(pgc_cluster_get(f->cat, "radiant-production", &g), 0);
    assert_string_equal(g->id, c->id);
    assert_int_equal(g->port, 5432);
    assert_string_equal(g->data_dir, c->data_dir);
    assert_string_equal(g->socket_dir, c->socket_dir);
    assert_int_equal(g->n_repos, 2);
    assert_string_equal(g->repos[0], "local");
    assert_string_equal(g->repos[1], "dr");
    assert_int_equal(g->backup_retention_period, 35);
    assert_string_equal(g->preferred_backup_window, "03:00-04:00");
    assert_true(g->deletion_protection);
    assert_true(g->storage_encrypted);
    assert_string_equal(g->status, "available");
    assert_int_equal(g->created_us, c->created_us);
    assert_true(g->managed);
    assert_string_equal(g->restored_from, "src@2024-12-24T10:30:00Z");
    pgc_cluster_free(g);

    /* Replacing keeps one row; NULL restored_from reads back as NULL. */
    free(c->restored_from);
    c->restored_from = NULL;
    c->port = 5433;
    c->managed = false;
    assert_int_equal(pgc_cluster_save(f->cat, c), 0);
    assert_int_equal(pgc_cluster_get(f->cat, "radiant-production", &g), 0);
    assert_int_equal(g->port, 5433);
    assert_false(g->managed);
    assert_null(g->restored_from);
    pgc_cluster_free(g);
    pgc_cluster_free(c);
}

static void test_list_status_remove(void **state)
{
    struct fixture *f = *state;
    pgc_cluster **list;
    size_t n;
    assert_int_equal(pgc_cluster_list(f->cat, &list, &n), 0);
    assert_int_equal(n, 0);
    pgc_cluster_list_free(list, n);

    const char *ids[] = { "zeta", "alpha", "mid-1" };
    for (size_t i = 0; i < 3; i++) {
        pgc_cluster *c = sample(ids[i], 5432 + (int)i);
        assert_int_equal(pgc_cluster_save(f->cat, c), 0);
        pgc_cluster_free(c);
    }
    assert_int_equal(pgc_cluster_list(f->cat, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0]->id, "alpha");
    assert_string_equal(list[1]->id, "mid-1");
    assert_string_equal(list[2]->id, "zeta");
    pgc_cluster_list_free(list, n);

    assert_int_equal(pgc_cluster_set_status(f->cat, "alpha", "stopped"), 0);
    pgc_cluster *g;
    assert_int_equal(pgc_cluster_get(f->cat, "alpha", &g), 0);
    assert_string_equal(g->status, "stopped");
    pgc_cluster_free(g);

    assert_int_equal(pgc_cluster_remove(f->cat, "alpha"), 0);
    assert_int_equal(pgc_cluster_get(f->cat, "alpha", &g), -RD_ENOENT);
    assert_null(g);
    assert_non_null(strstr(rd_error(), "no DB cluster alpha"));
    assert_int_equal(pgc_cluster_remove(f->cat, "alpha"), -RD_ENOENT);
    assert_int_equal(pgc_cluster_set_status(f->cat, "nope", "available"), -RD_ENOENT);
}

static void test_identifier(void **state)
{
    (void)state;
    const char *good[] = { "a", "radiant-production", "Radiant-DR-202412241030",
                           "a123456789012345678901234567890123456789012345678901234567890bc" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(pgc_identifier_check(good[i], "--db-cluster-identifier"), 0);
    const char *bad[] = { "", "1abc", "-abc", "abc-", "a--b", "a_b", "a.b", "a b", "ab/c",
                          "caf\xc3\xa9",
                          "a1234567890123456789012345678901234567890123456789012345678901bc" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pgc_identifier_check(bad[i], "--db-cluster-identifier"), -RD_EUSAGE);
        assert_non_null(strstr(rd_error(), "--db-cluster-identifier"));
    }
    assert_int_equal(pgc_identifier_check(NULL, NULL), -RD_EUSAGE);
}

static void test_event(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pgc_event(f->cat, "radiant-production", "creation", "DB cluster %s %s",
                               "radiant-production", "created"), 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(rd_catalog_db(f->cat), "SELECT source_type, "
                                        "source_id, category, message FROM events", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "db-cluster");
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "radiant-production");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "creation");
    assert_string_equal((const char *)sqlite3_column_text(st, 3),
                        "DB cluster radiant-production created");
    sqlite3_finalize(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_status_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
