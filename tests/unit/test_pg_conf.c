/* Unit tests for src/pg/conf.c: shell and configuration-file quoting, the
 * archive settings radiant installs (module or command), and
 * postgresql.auto.conf updates that keep other lines, replace earlier
 * assignments and read back what they wrote. */
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
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "pg/pg.h"

static void test_shell_quote(void **state)
{
    (void)state;
    char *q = pgc_shell_quote("/a b/it's");
    assert_string_equal(q, "'/a b/it'\\''s'");
    free(q);
    char *cmd = pgc_archive_command("/usr/bin/radiant", "/etc/radiant/my conf", "prod-1");
    assert_string_equal(cmd, "'/usr/bin/radiant' --config '/etc/radiant/my conf' wal push "
                        "--db-cluster-identifier prod-1 %p");
    free(cmd);
}

/* The module is chosen when radiant_archive.so is next to the binary; the
 * settings of the other way are NULL so that applying them removes them. */
static void test_archive_settings(void **state)
{
    (void)state;
    char dir[] = "/tmp/radiant-test-archive-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *self = rd_path_join(dir, "radiant");
    char *module = rd_path_join(dir, "radiant_archive.so");

    pgc_archive_settings s;
    pgc_archive_settings_make(&s, self, "/etc/r.conf", "prod-1");
    assert_null(s.module);
    assert_string_equal(s.names[3], "archive_command");
    char *quoted = pgc_shell_quote(self);
    assert_memory_equal(s.values[3], quoted, strlen(quoted));
    free(quoted);
    assert_non_null(strstr(s.values[3], "wal push --db-cluster-identifier prod-1 %p"));
    assert_null(s.values[0]);
    assert_null(s.values[1]);
    assert_null(s.values[2]);
    pgc_archive_settings_free(&s);

    assert_int_equal(rd_fs_write_atomic(module, "", 0, 0644), 0);
    pgc_archive_settings_make(&s, self, "/etc/r.conf", "prod-1");
    assert_string_equal(s.module, module);
    assert_string_equal(s.names[0], "archive_library");
    assert_string_equal(s.values[0], module);
    assert_string_equal(s.names[1], "radiant.config");
    assert_string_equal(s.values[1], "/etc/r.conf");
    assert_string_equal(s.names[2], "radiant.cluster");
    assert_string_equal(s.values[2], "prod-1");
    assert_null(s.values[3]);
    pgc_archive_settings_free(&s);

    /* without a configuration: everything removed, the module still found
     * (it must be loaded to reset radiant.*) */
    pgc_archive_settings_make(&s, self, NULL, "prod-1");
    assert_string_equal(s.module, module);
    for (size_t i = 0; i < PGC_ARCHIVE_SETTINGS; i++)
        assert_null(s.values[i]);
    pgc_archive_settings_free(&s);

    assert_int_equal(unlink(module), 0);
    assert_int_equal(rmdir(dir), 0);
    free(module);
    free(self);
}

static void test_auto_conf(void **state)
{
    (void)state;
    char dir[] = "/tmp/radiant-test-pgconf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    rd_config *cfg;
    const char text[] = "[radiant]\nstate-dir = /tmp\n";
    assert_int_equal(rd_config_parse(text, sizeof text - 1, "t.conf", &cfg), 0);

    char *v = (char *)1;
    assert_int_equal(pgc_auto_conf_get(dir, "port", &v), 0);
    assert_null(v);

    const char *names[] = { "port", "archive_command" };
    const char *values[] = { "5433", "'/x y/radiant' --config 'c\\d' wal push %p" };
    assert_int_equal(pgc_auto_conf_set(cfg, dir, names, values, 2), 0);
    assert_int_equal(pgc_auto_conf_get(dir, "archive_command", &v), 0);
    assert_string_equal(v, values[1]);
    free(v);

    /* A line an operator's ALTER SYSTEM wrote stays; ours are replaced once. */
    char *path = rd_path_join(dir, "postgresql.auto.conf");
    rd_buf b = RD_BUF_INIT;
    assert_int_equal(rd_fs_read_file(path, 1 << 20, &b), 0);
    rd_buf_append(&b, "work_mem = '64MB'\nport = '9999'\n", 32);
    assert_int_equal(rd_fs_write_atomic(path, b.data, b.len, 0600), 0);
    const char *n2[] = { "port" };
    const char *v2[] = { "6000" };
    assert_int_equal(pgc_auto_conf_set(cfg, dir, n2, v2, 1), 0);
    assert_int_equal(pgc_auto_conf_get(dir, "port", &v), 0);
    assert_string_equal(v, "6000");
    free(v);
    assert_int_equal(pgc_auto_conf_get(dir, "work_mem", &v), 0);
    assert_string_equal(v, "64MB");
    free(v);
    rd_buf_reset(&b);
    assert_int_equal(rd_fs_read_file(path, 1 << 20, &b), 0);
    rd_buf_append_u8(&b, 0);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "port = '6000'\n"));
    assert_null(strstr(strstr(s, "port = ") + 1, "port = "));
    assert_non_null(strstr(s, "archive_command = '''/x y/radiant'' --config ''c\\\\d'' wal "
                           "push %p'\n"));
    rd_buf_free(&b);
    free(path);
    rd_config_free(cfg);
    assert_int_equal(rd_fs_remove_tree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shell_quote),
        cmocka_unit_test(test_archive_settings),
        cmocka_unit_test(test_auto_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
