/* Unit tests for src/core/catalog: creation under the state directory, numbered
 * migrations (version, idempotent reopen, refusing newer catalogs, concurrent
 * first opens) and event insertion. Each test works in its own /tmp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"

static int setup_dir(void **state)
{
    char *dir = rd_strdup("/tmp/radiant-test-catalog-XXXXXX");
    if (!mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    char *dir = *state;
    int rc = rd_fs_remove_tree(dir);
    free(dir);
    rd_clock_set_offset(0);
    return rc;
}

static int64_t query_int(rd_catalog *cat, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(rd_catalog_db(cat), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void set_user_version(const char *path, int version)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *sql = rd_asprintf("PRAGMA user_version = %d", version);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    sqlite3_close(db);
}

static void test_open_creates_catalog(void **state)
{
    const char *dir = *state;
    char *state_dir = rd_asprintf("%s/var/lib/radiant", dir);   /* created as needed */
    rd_catalog *cat = NULL;
    assert_int_equal(rd_catalog_open(state_dir, &cat), 0);
    assert_non_null(cat);
    assert_non_null(rd_catalog_db(cat));

    char *path = rd_path_join(state_dir, "catalog.db");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(stat(state_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* WAL mode, as DESIGN.md section 3 requires. */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(rd_catalog_db(cat), "PRAGMA journal_mode", -1, &q,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    assert_int_equal(query_int(cat, "PRAGMA foreign_keys"), 1);

    rd_catalog_close(cat);
    rd_catalog_close(NULL);
    free(path);
    free(state_dir);
}

static void test_schema_version_is_latest_migration(void **state)
{
    const char *dir = *state;
    rd_catalog *cat = NULL;
    assert_int_equal(rd_catalog_open(dir, &cat), 0);
    int version = rd_catalog_schema_version(cat);
    assert_true(version >= 1);
    assert_int_equal(query_int(cat, "PRAGMA user_version"), version);
    /* Migration 1 made the events table. */
    assert_int_equal(query_int(cat, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                    "AND name = 'events'"), 1);
    rd_catalog_close(cat);

    /* `version` is the number of migrations: every one from 1 was applied to
     * the empty file, and one more than it is refused as newer than known. */
    char *path = rd_path_join(dir, "catalog.db");
    set_user_version(path, version + 1);
    cat = NULL;
    rd_error_clear();
    assert_int_equal(rd_catalog_open(dir, &cat), -RD_ECONFIG);
    assert_null(cat);
    assert_non_null(strstr(rd_error(), "newer"));
    assert_non_null(strstr(rd_error(), path));
    set_user_version(path, version);
    assert_int_equal(rd_catalog_open(dir, &cat), 0);
    rd_catalog_close(cat);
    free(path);
}

static void test_reopen_is_idempotent(void **state)
{
    const char *dir = *state;
    rd_catalog *cat = NULL;
    assert_int_equal(rd_catalog_open(dir, &cat), 0);
    int version = rd_catalog_schema_version(cat);
    assert_int_equal(rd_catalog_event_add(cat, "repository", "local", "backup", "first"), 0);
    int64_t tables = query_int(cat, "SELECT count(*) FROM sqlite_master");
    rd_catalog_close(cat);

    for (int i = 0; i < 3; i++) {
        cat = NULL;
        assert_int_equal(rd_catalog_open(dir, &cat), 0);
        assert_int_equal(rd_catalog_schema_version(cat), version);
        assert_int_equal(query_int(cat, "SELECT count(*) FROM sqlite_master"), tables);
        assert_int_equal(query_int(cat, "SELECT count(*) FROM events"), 1);
        rd_catalog_close(cat);
    }

    /* Two handles open at once in one process, as serve and a one-shot would be. */
    rd_catalog *a = NULL, *b = NULL;
    assert_int_equal(rd_catalog_open(dir, &a), 0);
    assert_int_equal(rd_catalog_open(dir, &b), 0);
    assert_int_equal(rd_catalog_event_add(a, "db-cluster", "c", "backup", "from a"), 0);
    assert_int_equal(query_int(b, "SELECT count(*) FROM events"), 2);
    rd_catalog_close(a);
    rd_catalog_close(b);
}

static void test_concurrent_first_open(void **state)
{
    const char *dir = *state;
    /* Several processes open a brand-new catalog at the same moment (serve
     * starting while PostgreSQL already calls `radiant wal push`). Each must
     * see the migrations applied exactly once, never "table already exists". */
    enum { PROCS = 6, ROUNDS = 8 };
    for (int round = 0; round < ROUNDS; round++) {
        char *state_dir = rd_asprintf("%s/round-%d", dir, round);
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(go[1]);
                char c;
                if (read(go[0], &c, 1) != 0)     /* released when the pipe closes */
                    _exit(3);
                rd_catalog *cat = NULL;
                int rc = rd_catalog_open(state_dir, &cat);
                if (rc < 0) {
                    fprintf(stderr, "child %d: %s\n", i, rd_error());
                    _exit(1);
                }
                rc = rd_catalog_event_add(cat, "test", "child", "open", "ok");
                rd_catalog_close(cat);
                _exit(rc < 0 ? 2 : 0);
            }
        }
        close(go[0]);
        close(go[1]);
        int failures = 0;
        for (int i = 0; i < PROCS; i++) {
            int status;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            failures += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
        if (failures)
            fail_msg("round %d: %d of %d concurrent first opens failed", round, failures,
                     PROCS);
        rd_catalog *cat = NULL;
        assert_int_equal(rd_catalog_open(state_dir, &cat), 0);
        assert_int_equal(query_int(cat, "SELECT count(*) FROM events"), PROCS);
        rd_catalog_close(cat);
        free(state_dir);
    }
}

static void test_event_insert(void **state)
{
    const char *dir = *state;
    rd_catalog *cat = NULL;
    assert_int_equal(rd_catalog_open(dir, &cat), 0);

    /* The event time comes from the shiftable clock. */
    rd_clock_set_offset(-86400);
    int64_t before = rd_clock_now_us();
    assert_int_equal(rd_catalog_event_add(cat, "db-cluster", "radiant-production", "backup",
                                          "Backing up cluster; it's \"quoted\" — ünïcode"), 0);
    int64_t after = rd_clock_now_us();
    rd_clock_set_offset(0);

    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(rd_catalog_db(cat),
                                        "SELECT id, time_us, source_type, source_id, category, "
                                        "message FROM events", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_int64(st, 0) >= 1);
    int64_t t = sqlite3_column_int64(st, 1);
    assert_true(t >= before && t <= after);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "db-cluster");
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "radiant-production");
    assert_string_equal((const char *)sqlite3_column_text(st, 4), "backup");
    assert_string_equal((const char *)sqlite3_column_text(st, 5),
                        "Backing up cluster; it's \"quoted\" — ünïcode");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    for (int i = 0; i < 100; i++)
        assert_int_equal(rd_catalog_event_add(cat, "repository", "dr", "failure", "x"), 0);
    assert_int_equal(query_int(cat, "SELECT count(*) FROM events"), 101);
    assert_int_equal(query_int(cat, "SELECT count(DISTINCT id) FROM events"), 101);

    /* NOT NULL columns reject a missing value with an error, not a crash. */
    rd_error_clear();
    assert_int_equal(rd_catalog_event_add(cat, "repository", NULL, "failure", "x"), -RD_EIO);
    assert_non_null(strstr(rd_error(), "catalog"));
    rd_catalog_close(cat);
}

static void test_open_errors(void **state)
{
    const char *dir = *state;
    /* The state directory is a file. */
    char *file = rd_path_join(dir, "file");
    assert_int_equal(rd_fs_write_atomic(file, "x", 1, 0600), 0);
    rd_catalog *cat = NULL;
    assert_true(rd_catalog_open(file, &cat) < 0);
    assert_null(cat);

    /* catalog.db is not a database: an error naming it, never a crash. */
    char *sub = rd_path_join(dir, "garbage");
    assert_int_equal(rd_fs_mkdir_p(sub, 0700), 0);
    char *db = rd_path_join(sub, "catalog.db");
    static char junk[8192];
    memset(junk, 0xa5, sizeof junk);
    assert_int_equal(rd_fs_write_atomic(db, junk, sizeof junk, 0600), 0);
    rd_error_clear();
    assert_int_equal(rd_catalog_open(sub, &cat), -RD_EIO);
    assert_null(cat);
    assert_non_null(strstr(rd_error(), db));
    free(db);
    free(sub);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_catalog, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_schema_version_is_latest_migration, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_reopen_is_idempotent, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_event_insert, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_open_errors, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
