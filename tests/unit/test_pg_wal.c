/* Unit tests for src/pg/wal.c: WAL file names, segment arithmetic (16 MiB
 * segments, rollover into the next log id), timelines, which repositories a
 * cluster's WAL goes to, and push/fetch through two POSIX repositories (one
 * encrypted) without PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/catalog.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "pg/pg.h"
#include "repo/repo.h"

/* ---------------------------------------------------------------- names -- */

static void test_names(void **state)
{
    (void)state;
    static const char *const good[] = {
        "000000010000000000000001", "00000002000000A1000000FF", "FFFFFFFFFFFFFFFFFFFFFFFF",
        "00000002.history", "0000000A.history", "000000010000000000000003.partial",
        "000000010000000000000002.00000028.backup",
    };
    static const char *const bad[] = {
        "", "00000001000000000000001", "0000000100000000000000011",
        "000000010000000000000001 ", "00000001000000000000000a", "000000010000000000000001/",
        "../000000010000000000000001", "000000000000000000000001", "00000000.history",
        "0000001.history", "00000001.History", "00000001.history.tmp", "0000000G.history",
        "000000010000000000000001.partia", "000000010000000000000001.partial.x",
        "000000010000000000000002.0000028.backup", "000000010000000000000002.00000028.backup2",
        "000000010000000000000002-00000028.backup", "000000010000000000000002.0000002g.backup",
        "RECOVERYXLOG", "archive_status",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!pgc_wal_name_valid(good[i]))
            fail_msg("'%s' should be valid", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pgc_wal_name_valid(bad[i]))
            fail_msg("'%s' should be invalid", bad[i]);
    }
    assert_true(pgc_wal_is_segment("000000010000000000000001"));
    assert_false(pgc_wal_is_segment("000000010000000000000001.partial"));
    assert_false(pgc_wal_is_segment("00000002.history"));

    char *obj = pgc_wal_object("radiant-production", "00000002.history");
    assert_string_equal(obj, "wal/radiant-production/00000002.history");
    free(obj);
}

static void test_timeline(void **state)
{
    (void)state;
    assert_int_equal(pgc_wal_timeline("000000010000000000000001"), 1);
    assert_int_equal(pgc_wal_timeline("0000000A0000000100000002"), 10);
    assert_int_equal(pgc_wal_timeline("00000003.history"), 3);
    assert_int_equal(pgc_wal_timeline("000000FF0000000000000003.partial"), 255);
    assert_int_equal(pgc_wal_timeline("FFFFFFFF0000000000000002.00000028.backup"), 0xFFFFFFFFu);
    assert_int_equal(pgc_wal_timeline("nonsense"), 0);
    assert_int_equal(pgc_wal_timeline("00000000.history"), 0);

    uint32_t tli;
    uint64_t segno;
    assert_int_equal(pgc_wal_segment_parse("0000000200000003000000A0", &tli, &segno), 0);
    assert_int_equal(tli, 2);
    assert_int_equal(segno, 3 * 256 + 0xA0);
    /* A segment number past 0xFF belongs to a cluster with smaller segments. */
    assert_int_equal(pgc_wal_segment_parse("000000010000000000000100", &tli, &segno),
                     -RD_EUSAGE);
    assert_non_null(strstr(rd_error(), "16 MiB"));
    assert_int_equal(pgc_wal_segment_parse("00000001.history", &tli, &segno), -RD_EUSAGE);
}

static void test_next(void **state)
{
    (void)state;
    char out[PGC_WAL_SEGMENT_NAME_LEN + 1];
    assert_int_equal(pgc_wal_segment_next("000000010000000000000001", 1, out), 0);
    assert_string_equal(out, "000000010000000000000002");
    assert_int_equal(pgc_wal_segment_next("00000001000000000000000F", 1, out), 0);
    assert_string_equal(out, "000000010000000000000010");
    /* Rollover into the next log id: 256 segments of 16 MiB are 4 GiB. */
    assert_int_equal(pgc_wal_segment_next("0000000100000000000000FF", 1, out), 0);
    assert_string_equal(out, "000000010000000100000000");
    assert_int_equal(pgc_wal_segment_next("0000000100000000000000FE", 3, out), 0);
    assert_string_equal(out, "000000010000000100000001");
    assert_int_equal(pgc_wal_segment_next("00000003000000AB000000FF", 257, out), 0);
    assert_string_equal(out, "00000003000000AD00000000");
    /* The timeline stays. */
    assert_int_equal(pgc_wal_segment_next("0000000A00000001000000FF", 1, out), 0);
    assert_string_equal(out, "0000000A0000000200000000");
    /* The very last segment has no successor. */
    assert_int_equal(pgc_wal_segment_next("00000001FFFFFFFF000000FF", 1, out), -RD_EUSAGE);
    assert_int_equal(pgc_wal_segment_next("00000001FFFFFFFF000000FE", 1, out), 0);
    assert_string_equal(out, "00000001FFFFFFFF000000FF");
    assert_int_equal(pgc_wal_segment_next("00000001.history", 1, out), -RD_EUSAGE);

    pgc_wal_segment_name(7, 0x1234 * 256ULL + 0x56, out);
    assert_string_equal(out, "000000070000123400000056");
}

/* ------------------------------------------------- repositories, push, fetch -- */

struct fixture {
    char *dir;
    rd_config *cfg;
    rd_catalog *cat;
};

static int setup(void **state)
{
    struct fixture *f = rd_calloc(1, sizeof *f);
    f->dir = rd_strdup("/tmp/radiant-test-pgw-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char *pass = rd_path_join(f->dir, "pass");
    if (rd_fs_write_atomic(pass, "secret\n", 7, 0600) < 0)
        return -1;
    char *text = rd_asprintf("[radiant]\nstate-dir = %s/state\n\n"
                             "[repo a]\ntype = posix\npath = %s/a\n\n"
                             "[repo b]\ntype = posix\npath = %s/b\npassphrase-file = %s\n\n"
                             "[cluster c1]\nrepos = a , b\n\n"
                             "[cluster c2]\nport = 5433\n",
                             f->dir, f->dir, f->dir, pass);
    int rc = rd_config_parse(text, strlen(text), "test.conf", &f->cfg);
    free(text);
    free(pass);
    if (rc < 0 || repo_init(f->cfg, "a") < 0 || repo_init(f->cfg, "b") < 0)
        return -1;
    if (rd_catalog_open(rd_config_state_dir(f->cfg), &f->cat) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rd_catalog_close(f->cat);
    rd_config_free(f->cfg);
    int rc = rd_fs_remove_tree(f->dir);
    free(f->dir);
    free(f);
    return rc;
}

static void test_repos(void **state)
{
    struct fixture *f = *state;
    char **repos;
    size_t n;
    /* From the configuration when the catalog does not know the cluster. */
    assert_int_equal(pgc_wal_repos(f->cfg, f->cat, "c1", &repos, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(repos[0], "a");
    assert_string_equal(repos[1], "b");
    pgc_wal_repos_free(repos, n);
    assert_int_equal(pgc_wal_repos(f->cfg, NULL, "c1", &repos, &n), 0);
    pgc_wal_repos_free(repos, n);

    /* Neither: the message names both places. */
    assert_int_equal(pgc_wal_repos(f->cfg, f->cat, "c2", &repos, &n), -RD_ECONFIG);
    assert_non_null(strstr(rd_error(), "catalog"));
    assert_non_null(strstr(rd_error(), "[cluster c2]"));
    pgc_wal_repos_free(repos, n);
    assert_int_equal(pgc_wal_repos(f->cfg, f->cat, "nowhere", &repos, &n), -RD_ECONFIG);
    pgc_wal_repos_free(repos, n);

    /* The catalog wins over the configuration. */
    char *repo_b = rd_strdup("b");
    pgc_cluster c = { .id = "c1", .port = 5432, .data_dir = "/d", .socket_dir = "/s",
                      .repos = &repo_b, .n_repos = 1, .backup_retention_period = 7,
                      .preferred_backup_window = "03:00-04:00", .status = "available" };
    assert_int_equal(pgc_cluster_save(f->cat, &c), 0);
    assert_int_equal(pgc_wal_repos(f->cfg, f->cat, "c1", &repos, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(repos[0], "b");
    pgc_wal_repos_free(repos, n);
    free(repo_b);
}

static char *write_segment(struct fixture *f, const char *name, size_t len, uint8_t seed)
{
    char *path = rd_asprintf("%s/pg_wal/%s", f->dir, name);
    char *dir = rd_asprintf("%s/pg_wal", f->dir);
    assert_int_equal(rd_fs_mkdir_p(dir, 0700), 0);
    free(dir);
    uint8_t *data = rd_malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(seed + i * 31 + (i >> 12));
    assert_int_equal(rd_fs_write_atomic(path, data, len, 0600), 0);
    free(data);
    return path;
}

static int64_t archived_size(struct fixture *f, const char *name)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(rd_catalog_db(f->cat), "SELECT size FROM wal_archive "
                                        "WHERE cluster_id = 'c1' AND name = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t size = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return size;
}

static void assert_same_file(const char *a, const char *b)
{
    rd_buf x = RD_BUF_INIT, y = RD_BUF_INIT;
    assert_int_equal(rd_fs_read_file(a, 64 << 20, &x), 0);
    assert_int_equal(rd_fs_read_file(b, 64 << 20, &y), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    rd_buf_free(&x);
    rd_buf_free(&y);
}

static void test_push_fetch(void **state)
{
    struct fixture *f = *state;
    const char *name = "000000010000000000000001";
    char *seg = write_segment(f, name, PGC_WAL_SEGMENT_SIZE, 1);
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", seg), 0);
    assert_int_equal(archived_size(f, name), PGC_WAL_SEGMENT_SIZE);
    /* The same bytes again: success. */
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", seg), 0);

    /* Both repositories hold it. */
    char *object = pgc_wal_object("c1", name);
    for (const char *const *r = (const char *const[]){ "a", "b", NULL }; *r; r++) {
        repo *h;
        rd_buf got = RD_BUF_INIT;
        assert_int_equal(repo_open(f->cfg, *r, &h), 0);
        assert_int_equal(repo_object_get(h, object, &got), 0);
        assert_int_equal(got.len, PGC_WAL_SEGMENT_SIZE);
        rd_buf_free(&got);
        repo_close(h);
    }

    /* Different content under the name: refused, recorded, not overwritten. */
    char *other_dir = rd_asprintf("%s/other", f->dir);
    assert_int_equal(rd_fs_mkdir_p(other_dir, 0700), 0);
    char *other = rd_asprintf("%s/%s", other_dir, name);
    rd_buf data = RD_BUF_INIT;
    assert_int_equal(rd_fs_read_file(seg, 64 << 20, &data), 0);
    data.data[12345] ^= 1;
    assert_int_equal(rd_fs_write_atomic(other, data.data, data.len, 0600), 0);
    rd_buf_free(&data);
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", other), -RD_EEXIST);
    assert_non_null(strstr(rd_error(), "different content"));
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(rd_catalog_db(f->cat), "SELECT count(*) FROM events "
                                        "WHERE source_id = 'c1' AND category = 'failure'", -1,
                                        &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);

    char *dest = rd_asprintf("%s/RECOVERYXLOG", f->dir);
    assert_int_equal(pgc_wal_fetch(f->cfg, f->cat, "c1", name, dest, 0), 0);
    assert_same_file(seg, dest);

    /* Not archived: -RD_ENOENT and no file. */
    unlink(dest);
    assert_int_equal(pgc_wal_fetch(f->cfg, f->cat, "c1", "000000010000000000000002", dest, 0),
                     -RD_ENOENT);
    assert_int_equal(access(dest, F_OK), -1);

    /* Fetch from the second repository when the first lacks it. */
    char *only_a[] = { "a" };
    repo *ra;
    assert_int_equal(repo_open(f->cfg, "a", &ra), 0);
    assert_int_equal(repo_object_remove(ra, object), 0);
    repo_close(ra);
    assert_int_equal(pgc_wal_fetch(f->cfg, f->cat, "c1", name, dest, 0), 0);
    assert_same_file(seg, dest);
    unlink(dest);
    assert_int_equal(pgc_wal_fetch_from(f->cfg, "c1", only_a, 1, name, dest, 0), -RD_ENOENT);

    free(dest);
    free(other);
    free(other_dir);
    free(object);
    free(seg);
}

static void test_push_refuses(void **state)
{
    struct fixture *f = *state;
    /* A segment that is not 16 MiB. */
    char *seg = write_segment(f, "000000010000000000000005", 1 << 20, 2);
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", seg), -RD_EUSAGE);
    assert_non_null(strstr(rd_error(), "16 MiB"));
    free(seg);
    /* A name that is not a WAL file. */
    char *junk = write_segment(f, "RECOVERYXLOG", PGC_WAL_SEGMENT_SIZE, 3);
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", junk), -RD_EUSAGE);
    free(junk);
    /* A missing file. */
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", "/nonexistent/000000010000000000000001"),
                     -RD_ENOENT);
    /* A history file round trip (small files are fine). */
    char *hist = write_segment(f, "00000002.history", 42, 4);
    assert_int_equal(pgc_wal_push(f->cfg, f->cat, "c1", hist), 0);
    char *dest = rd_asprintf("%s/RECOVERYHISTORY", f->dir);
    assert_int_equal(pgc_wal_fetch(f->cfg, f->cat, "c1", "00000002.history", dest, 8), 0);
    assert_same_file(hist, dest);
    /* Names are checked before anything is read. */
    assert_int_equal(pgc_wal_fetch(f->cfg, f->cat, "c1", "../x", dest, 0), -RD_EUSAGE);
    assert_int_equal(pgc_wal_fetch(f->cfg, f->cat, "c1", "00000002.history", dest, 65),
                     -RD_EUSAGE);
    free(dest);
    free(hist);
}

int main(void)
{
    rd_log_set_level(RD_LOG_QUIET);   /* the refused push logs by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_next),
        cmocka_unit_test_setup_teardown(test_repos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_refuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
