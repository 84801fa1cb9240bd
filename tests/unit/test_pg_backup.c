/* Unit tests for how a base backup walks a data directory (src/pg/backup.c):
 * what PostgreSQL 15's base backups leave out or keep empty (temporary
 * relations and the forks of unlogged ones among them), and which files are
 * relation files, kept paged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>

#include "core/fs.h"
#include "pg/pg.h"
#include "repo/repo.h"

static enum repo_walk_filter file_verdict(const char *rel)
{
    return pgc_data_dir_filter(NULL, rel, false);
}

static void test_relation_files_are_paged(void **state)
{
    (void)state;
    static const char *const paged[] = {
        "base/1/1259", "base/16384/16385", "base/16384/16385.1", "base/16384/16385.12",
        "base/16384/16385_fsm", "base/16384/16385_vm", "base/16384/16385_init",
        "base/16384/16385_fsm.3", "global/1262", "global/1262_vm",
        "pg_tblspc/16390/PG_15_202209061/16384/16391",
    };
    static const char *const whole[] = {
        "base/16384/PG_VERSION", "base/16384/pg_filenode.map", "global/pg_control",
        "global/pg_filenode.map", "base/16384/16385.", "base/16384/16385_fs",
        "base/16384/16385_vm_fsm", "base/16384/16385.1a", "base/16384/16385x",
        "base/16384/t3", "base/16384/t3_", "base/16384/t_16400", "base/16384/t3_16400x",
        "pg_xact/t3_16400", "pg_xact/0000", "pg_multixact/offsets/0000", "PG_VERSION",
        "postgresql.conf", "pg_logical/replorigin_checkpoint", "16385", "base_1/16385",
    };
    for (size_t i = 0; i < sizeof paged / sizeof paged[0]; i++)
        assert_int_equal(file_verdict(paged[i]), REPO_WALK_PAGED);
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        assert_int_equal(file_verdict(whole[i]), REPO_WALK_KEEP);
    /* a directory named like a relation is walked, not paged */
    assert_int_equal(pgc_data_dir_filter(NULL, "base/16384", true), REPO_WALK_KEEP);
}

static void test_left_out_and_kept_empty(void **state)
{
    (void)state;
    static const char *const skipped[] = {
        "postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map",
        "current_logfiles", "recovery.signal", "standby.signal", "base/16384/pg_internal.init",
        "base/pgsql_tmp/pgsql_tmp123.0", "base/16384/t3_16400", "base/16384/t12_16400_fsm",
        "base/16384/t3_16400.1", "pg_tblspc/16390/PG_15_202209061/16384/t5_16401",
    };
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        assert_int_equal(file_verdict(skipped[i]), REPO_WALK_SKIP);
    assert_int_equal(pgc_data_dir_filter(NULL, "base/pgsql_tmp", true), REPO_WALK_SKIP);
    assert_int_equal(pgc_data_dir_filter(NULL, "pg_wal", true), REPO_WALK_EMPTY);
    assert_int_equal(pgc_data_dir_filter(NULL, "pg_replslot", true), REPO_WALK_EMPTY);
}

static void touch(const char *dir, const char *rel)
{
    char *path = rd_path_join(dir, rel);
    assert_int_equal(rd_fs_write_atomic(path, "", 0, 0600), 0);
    free(path);
}

/* Every fork of an unlogged relation but its init fork is left out of a
 * database directory, as PostgreSQL's base backups do; global/ has none. */
static void test_unlogged_relations(void **state)
{
    (void)state;
    char dir[] = "/tmp/radiant-test-pgbackup-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *db = rd_path_join(dir, "base/16384");
    char *global = rd_path_join(dir, "global");
    assert_int_equal(rd_fs_mkdir_p(db, 0700), 0);
    assert_int_equal(rd_fs_mkdir_p(global, 0700), 0);
    touch(dir, "base/16384/16400_init");
    touch(dir, "global/1300_init");
    static const char *const skipped[] = {
        "base/16384/16400", "base/16384/16400.1", "base/16384/16400_fsm",
        "base/16384/16400_vm",
    };
    static const char *const paged[] = {
        "base/16384/16400_init", "base/16384/16401", "base/16384/164000",
        "base/16384/1640", "global/1300",
    };
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        assert_int_equal(pgc_data_dir_filter(dir, skipped[i], false), REPO_WALK_SKIP);
    for (size_t i = 0; i < sizeof paged / sizeof paged[0]; i++)
        assert_int_equal(pgc_data_dir_filter(dir, paged[i], false), REPO_WALK_PAGED);
    /* without the data directory nothing can be known to be unlogged */
    assert_int_equal(file_verdict("base/16384/16400"), REPO_WALK_PAGED);
    assert_int_equal(rd_fs_remove_tree(dir), 0);
    free(db);
    free(global);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relation_files_are_paged),
        cmocka_unit_test(test_left_out_and_kept_empty),
        cmocka_unit_test(test_unlogged_relations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
