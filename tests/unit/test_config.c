/* Unit tests for src/core/config: the DESIGN.md section 3 example, every kind
 * of error (each must name file:line and the key), path resolution, comments,
 * and the places where our line reader must agree with libinih. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"

#define NAME "/etc/radiant/test.conf"

/* DESIGN.md section 3, verbatim. Line numbers below refer to this text. */
static const char design_example[] =
    "[radiant]\n"                                                                 /*  1 */
    "state-dir = /var/lib/radiant        ; catalog, cluster data, object data\n"
    "run-as = postgres                   ; user for PostgreSQL work when run as root\n"
    "\n"
    "[repo local]                        ; a backup repository\n"                 /*  5 */
    "type = posix                        ; posix | s3\n"
    "path = /var/lib/radiant/repo\n"
    "passphrase-file = /etc/radiant/repo.pass   ; encrypted when set\n"
    "\n"
    "[repo dr]\n"                                                                 /* 10 */
    "type = s3\n"
    "endpoint = http://127.0.0.1:9000\n"
    "region = us-west-2\n"
    "bucket = radiant-backups-dr\n"
    "access-key-id = AKEXAMPLE\n"                                                 /* 15 */
    "secret-access-key-file = /etc/radiant/dr.secret\n"
    "\n"
    "[cluster radiant-production]        ; a protected PostgreSQL cluster\n"
    "port = 5432\n"
    "repos = local, dr\n"                                                         /* 20 */
    "backup-retention-period = 35\n"
    "preferred-backup-window = 03:00-04:00\n"
    "deletion-protection = true\n"
    "\n"
    "[objectstore]\n"                                                             /* 25 */
    "listen = 127.0.0.1:9000\n"
    "\n"
    "[access-key AKEXAMPLE]\n"
    "secret-access-key-file = /etc/radiant/ak.secret\n"
    "\n"                                                                          /* 30 */
    "[bucket radiant-storage-production]\n"
    "versioning = enabled\n"
    "noncurrent-version-expiration-days = 90\n"
    "\n"
    "[targets]\n"                                                                 /* 35 */
    "rto-target = 1h\n"
    "rto-maximum = 4h\n"
    "rpo-target = 5m\n"
    "rpo-maximum = 1h\n";

/* ------------------------------------------------------------- helpers -- */

static rd_config *parse_ok_named(const char *text, const char *name)
{
    rd_config *cfg = NULL;
    int rc = rd_config_parse(text, strlen(text), name, &cfg);
    if (rc != 0)
        fail_msg("rejected valid config: %s\n--- text ---\n%s", rd_error(), text);
    assert_non_null(cfg);
    return cfg;
}

static rd_config *parse_ok(const char *text)
{
    return parse_ok_named(text, NAME);
}

/* Asserts that text is rejected with -RD_ECONFIG and a message holding
 * "NAME:line:" and, when given, each of the fragments (the key, usually). */
static void parse_fails_at(const char *text, size_t len, int line, const char *frag1,
                           const char *frag2)
{
    rd_config *cfg = NULL;
    rd_error_clear();
    int rc = rd_config_parse(text, len, NAME, &cfg);
    if (rc != -RD_ECONFIG)
        fail_msg("expected -RD_ECONFIG, got %d for:\n%s", rc, text);
    assert_null(cfg);
    char where[256];
    snprintf(where, sizeof where, "%s:%d: ", NAME, line);
    const char *msg = rd_error();
    if (strncmp(msg, where, strlen(where)) != 0)
        fail_msg("message '%s' does not start with '%s'", msg, where);
    if (frag1 && !strstr(msg, frag1))
        fail_msg("message '%s' does not mention '%s'", msg, frag1);
    if (frag2 && !strstr(msg, frag2))
        fail_msg("message '%s' does not mention '%s'", msg, frag2);
}

static void parse_fails(const char *text, int line, const char *frag1, const char *frag2)
{
    parse_fails_at(text, strlen(text), line, frag1, frag2);
}

/* ------------------------------------------------------------ valid files -- */

static void test_design_example(void **state)
{
    (void)state;
    rd_config *cfg = parse_ok(design_example);
    assert_string_equal(rd_config_path(cfg), NAME);
    assert_string_equal(rd_config_state_dir(cfg), "/var/lib/radiant");

    const rd_config_section *s = rd_config_find(cfg, "radiant", NULL);
    assert_non_null(s);
    assert_null(rd_config_section_name(s));
    assert_string_equal(rd_config_get(s, "run-as"), "postgres");
    assert_int_equal(rd_config_line(s, "run-as"), 3);

    assert_int_equal(rd_config_count(cfg, "repo"), 2);
    s = rd_config_at(cfg, "repo", 0);
    assert_string_equal(rd_config_section_name(s), "local");
    assert_int_equal(rd_config_section_line(s), 5);
    assert_string_equal(rd_config_get(s, "type"), "posix");     /* inline comment gone */
    assert_string_equal(rd_config_get(s, "path"), "/var/lib/radiant/repo");
    assert_string_equal(rd_config_get(s, "passphrase-file"), "/etc/radiant/repo.pass");
    assert_int_equal(rd_config_line(s, "path"), 7);

    s = rd_config_at(cfg, "repo", 1);
    assert_ptr_equal(s, rd_config_find(cfg, "repo", "dr"));
    assert_string_equal(rd_config_get(s, "type"), "s3");
    assert_string_equal(rd_config_get(s, "endpoint"), "http://127.0.0.1:9000");
    assert_string_equal(rd_config_get(s, "region"), "us-west-2");
    assert_string_equal(rd_config_get(s, "bucket"), "radiant-backups-dr");
    assert_string_equal(rd_config_get(s, "access-key-id"), "AKEXAMPLE");
    assert_string_equal(rd_config_get(s, "secret-access-key-file"), "/etc/radiant/dr.secret");
    assert_null(rd_config_get(s, "prefix"));
    assert_int_equal(rd_config_line(s, "prefix"), 10);          /* unset: section line */
    assert_null(rd_config_at(cfg, "repo", 2));

    s = rd_config_find(cfg, "cluster", "radiant-production");
    assert_non_null(s);
    assert_int_equal(rd_config_get_int(s, "port", 0), 5432);
    assert_string_equal(rd_config_get(s, "repos"), "local, dr");
    assert_int_equal(rd_config_get_int(s, "backup-retention-period", 7), 35);
    assert_string_equal(rd_config_get(s, "preferred-backup-window"), "03:00-04:00");
    assert_true(rd_config_get_bool(s, "deletion-protection", false));
    assert_false(rd_config_get_bool(s, "storage-encrypted", false));
    assert_true(rd_config_get_bool(s, "storage-encrypted", true));
    assert_int_equal(rd_config_line(s, "deletion-protection"), 23);

    s = rd_config_find(cfg, "objectstore", NULL);
    assert_string_equal(rd_config_get(s, "listen"), "127.0.0.1:9000");
    s = rd_config_find(cfg, "access-key", "AKEXAMPLE");
    assert_string_equal(rd_config_get(s, "secret-access-key-file"), "/etc/radiant/ak.secret");
    s = rd_config_find(cfg, "bucket", "radiant-storage-production");
    assert_string_equal(rd_config_get(s, "versioning"), "enabled");
    assert_int_equal(rd_config_get_int(s, "noncurrent-version-expiration-days", 0), 90);

    s = rd_config_find(cfg, "targets", NULL);
    assert_int_equal(rd_config_section_line(s), 35);
    assert_string_equal(rd_config_get(s, "rto-target"), "1h");
    assert_string_equal(rd_config_get(s, "rpo-target"), "5m");
    assert_int_equal(rd_config_line(s, "rpo-maximum"), 39);

    assert_null(rd_config_find(cfg, "cluster", "other"));
    assert_null(rd_config_find(cfg, "bucket", "other"));
    assert_int_equal(rd_config_count(cfg, "nothing"), 0);
    rd_config_free(cfg);
}

static void test_empty_file_and_defaults(void **state)
{
    (void)state;
    rd_config *cfg = parse_ok("");
    assert_string_equal(rd_config_state_dir(cfg), RD_CONFIG_DEFAULT_STATE_DIR);
    assert_int_equal(rd_config_count(cfg, "repo"), 0);
    assert_null(rd_config_find(cfg, "radiant", NULL));
    rd_config_free(cfg);

    cfg = parse_ok("; only a comment\n# and another\n\n   \n");
    assert_string_equal(rd_config_state_dir(cfg), RD_CONFIG_DEFAULT_STATE_DIR);
    rd_config_free(cfg);

    /* [radiant] without state-dir still gives the default. */
    cfg = parse_ok("[radiant]\nrun-as = pg\n");
    assert_string_equal(rd_config_state_dir(cfg), RD_CONFIG_DEFAULT_STATE_DIR);
    rd_config_free(cfg);

    rd_config_free(NULL);
}

static void test_empty_sections_are_kept(void **state)
{
    (void)state;
    rd_config *cfg = parse_ok("[objectstore]\n\n[targets]\n[cluster a]\n[cluster b]\n"
                              "; trailing comment\n");
    assert_int_equal(rd_config_count(cfg, "objectstore"), 1);
    assert_int_equal(rd_config_count(cfg, "targets"), 1);
    assert_int_equal(rd_config_count(cfg, "cluster"), 2);
    assert_int_equal(rd_config_section_line(rd_config_find(cfg, "targets", NULL)), 3);
    assert_int_equal(rd_config_section_line(rd_config_find(cfg, "cluster", "b")), 5);
    assert_null(rd_config_get(rd_config_find(cfg, "cluster", "a"), "port"));
    assert_int_equal(rd_config_get_int(rd_config_find(cfg, "cluster", "a"), "port", 7), 7);
    rd_config_free(cfg);
}

static void test_comments(void **state)
{
    (void)state;
    rd_config *cfg = parse_ok("; leading comment\n"
                              "# hash comment\n"
                              "[cluster c] ; comment after a header\n"
                              "port = 5433 ; comment after a value\n"
                              "  ; indented comment\n"
                              "data-dir = /pg;data\n"     /* no blank before ';' */
                              "[radiant]\n"
                              "run-as = pg\t; tab before the comment\n");
    const rd_config_section *s = rd_config_find(cfg, "cluster", "c");
    assert_non_null(s);
    assert_string_equal(rd_config_get(s, "port"), "5433");
    assert_string_equal(rd_config_get(s, "data-dir"), "/pg;data");
    assert_int_equal(rd_config_line(s, "data-dir"), 6);
    assert_string_equal(rd_config_get(rd_config_find(cfg, "radiant", NULL), "run-as"), "pg");
    rd_config_free(cfg);
}

static void test_line_endings_bom_and_separators(void **state)
{
    (void)state;
    /* CRLF, as written by Windows editors. */
    rd_config *cfg = parse_ok("[radiant]\r\nrun-as = pg\r\n\r\n[cluster c]\r\nport = 1\r\n");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "radiant", NULL), "run-as"), "pg");
    assert_int_equal(rd_config_line(rd_config_find(cfg, "cluster", "c"), "port"), 5);
    rd_config_free(cfg);

    /* A UTF-8 byte order mark before the first section header. */
    cfg = parse_ok("\xEF\xBB\xBF[radiant]\nrun-as = pg\n");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "radiant", NULL), "run-as"), "pg");
    rd_config_free(cfg);

    /* No newline at the end, and ':' as libinih's other separator. */
    cfg = parse_ok("[radiant]\nrun-as: pg");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "radiant", NULL), "run-as"), "pg");
    rd_config_free(cfg);

    /* An indented first key (nothing to continue yet) and an indented header
     * after a section with no keys are fine. */
    cfg = parse_ok("[radiant]\n  run-as = pg\n[objectstore]\n  [targets]\n  rto-target = 1h\n");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "radiant", NULL), "run-as"), "pg");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "targets", NULL), "rto-target"), "1h");
    rd_config_free(cfg);
}

static void test_valid_edge_values(void **state)
{
    (void)state;
    rd_config *cfg = parse_ok("[repo a]\n"
                              "path = /r\n"
                              "compress-level = -7\n"
                              "threads = 64\n"
                              "verify-tls = off\n"
                              "uri-style = host\n"
                              "passphrase-env = RADIANT_PASS\n"
                              "[repo b]\n"
                              "type = s3\n"
                              "endpoint = https://s3.example.com\n"
                              "bucket = b\n"
                              "compress-level = 19\n"
                              "[cluster c]\n"
                              "port = 65535\n"
                              "preferred-backup-window = 23:30-00:30\n"
                              "repos = a\n"
                              "deletion-protection = No\n"
                              "backup-retention-period = 3650\n"
                              "[cluster d]\n"
                              "port = 1\n"
                              "[objectstore]\n"
                              "listen = [::1]:65535\n"
                              "[bucket a.b_c-d]\n"
                              "versioning = suspended\n"
                              "noncurrent-version-expiration-days = 36500\n"
                              "[targets]\n"
                              "rto-target = 0\n"
                              "rpo-target = 90\n"
                              "rpo-maximum = 35d\n");
    const rd_config_section *a = rd_config_find(cfg, "repo", "a");
    assert_int_equal(rd_config_get_int(a, "compress-level", 3), -7);
    assert_false(rd_config_get_bool(a, "verify-tls", true));
    assert_string_equal(rd_config_get(a, "passphrase-env"), "RADIANT_PASS");
    const rd_config_section *c = rd_config_find(cfg, "cluster", "c");
    assert_false(rd_config_get_bool(c, "deletion-protection", true));
    assert_int_equal(rd_config_get_int(c, "port", 0), 65535);
    assert_non_null(rd_config_find(cfg, "bucket", "a.b_c-d"));
    rd_config_free(cfg);
}

static void test_parse_bool_spellings(void **state)
{
    (void)state;
    static const char *const yes[] = { "true", "TRUE", "True", "yes", "on", "1" };
    static const char *const no[] = { "false", "FALSE", "no", "off", "Off", "0" };
    static const char *const bad[] = { "", "2", "y", "n", "truee", "enabled", " true" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(rd_config_parse_bool(yes[i]), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(rd_config_parse_bool(no[i]), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rd_config_parse_bool(bad[i]), -1);
}

/* ----------------------------------------------------------------- paths -- */

static void test_relative_paths_resolve_against_config_dir(void **state)
{
    (void)state;
    static const char text[] = "[radiant]\n"
                               "state-dir = state\n"
                               "run-as = postgres\n"
                               "[repo a]\n"
                               "path = ../repo\n"
                               "passphrase-file = /abs/pass\n"
                               "[access-key AK]\n"
                               "secret-access-key-file = keys/ak.secret\n";
    rd_config *cfg = parse_ok(text);
    assert_string_equal(rd_config_state_dir(cfg), "/etc/radiant/state");
    const rd_config_section *s = rd_config_find(cfg, "repo", "a");
    assert_string_equal(rd_config_get(s, "path"), "/etc/radiant/../repo");
    assert_string_equal(rd_config_get(s, "passphrase-file"), "/abs/pass");
    s = rd_config_find(cfg, "access-key", "AK");
    assert_string_equal(rd_config_get(s, "secret-access-key-file"),
                        "/etc/radiant/keys/ak.secret");
    /* Only paths are resolved. */
    s = rd_config_find(cfg, "radiant", NULL);
    assert_string_equal(rd_config_get(s, "run-as"), "postgres");
    rd_config_free(cfg);

    /* A file named without a directory resolves against the current one. */
    cfg = parse_ok_named(text, "radiant.conf");
    assert_string_equal(rd_config_state_dir(cfg), "./state");
    rd_config_free(cfg);

    /* A file in the root directory gives "/state", not "//state". */
    cfg = parse_ok_named(text, "/radiant.conf");
    assert_string_equal(rd_config_state_dir(cfg), "/state");
    rd_config_free(cfg);
}

static void test_load_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/radiant-test-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = rd_path_join(dir, "radiant.conf");
    static const char text[] = "[radiant]\nstate-dir = state\n[repo local]\npath = repo\n";
    assert_int_equal(rd_fs_write_atomic(path, text, strlen(text), 0600), 0);

    rd_config *cfg = NULL;
    assert_int_equal(rd_config_load(path, &cfg), 0);
    assert_string_equal(rd_config_path(cfg), path);
    char *expect = rd_path_join(dir, "state");
    assert_string_equal(rd_config_state_dir(cfg), expect);
    free(expect);
    expect = rd_path_join(dir, "repo");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "repo", "local"), "path"), expect);
    free(expect);
    rd_config_free(cfg);

    /* An error in a loaded file names that file. */
    static const char bad[] = "[radiant]\nstate-dir = state\nbogus = 1\n";
    assert_int_equal(rd_fs_write_atomic(path, bad, strlen(bad), 0600), 0);
    cfg = NULL;
    assert_int_equal(rd_config_load(path, &cfg), -RD_ECONFIG);
    assert_null(cfg);
    char *where = rd_asprintf("%s:3: ", path);
    assert_non_null(strstr(rd_error(), where));
    assert_non_null(strstr(rd_error(), "bogus"));
    free(where);

    /* An empty file is a valid (empty) configuration. */
    assert_int_equal(rd_fs_write_atomic(path, "", 0, 0600), 0);
    assert_int_equal(rd_config_load(path, &cfg), 0);
    rd_config_free(cfg);

    /* A directory is not a configuration file. */
    cfg = NULL;
    assert_int_equal(rd_config_load(dir, &cfg), -RD_ECONFIG);
    assert_null(cfg);

    free(path);
    assert_int_equal(rd_fs_remove_tree(dir), 0);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    rd_config *cfg = NULL;
    int rc = rd_config_load("/nonexistent-radiant-dir/radiant.conf", &cfg);
    assert_int_equal(rc, -RD_ECONFIG);
    assert_null(cfg);
    assert_non_null(strstr(rd_error(), "/nonexistent-radiant-dir/radiant.conf"));
    assert_int_equal(rd_exit_code(rc), 3);
}

/* ---------------------------------------------------------------- errors -- */

static void test_unknown_section(void **state)
{
    (void)state;
    parse_fails("[radiant]\nrun-as = pg\n[bogus]\n", 3, "bogus", "unknown section");
    parse_fails("[radiant]\n\n[region us-east-1]\nfoo = bar\n", 3, "region", NULL);
    parse_fails("[Radiant]\n", 1, "Radiant", NULL);   /* section types are case-sensitive */
    parse_fails("[]\n", 1, "unknown section", NULL);
}

static void test_bad_section_headers(void **state)
{
    (void)state;
    parse_fails("[repo]\npath = /r\n", 1, "[repo NAME]", NULL);
    parse_fails("[repo a b]\npath = /r\n", 1, "repo a b", NULL);
    parse_fails("[repo a/b]\npath = /r\n", 1, "a/b", NULL);
    parse_fails("[cluster a$]\n", 1, "a$", NULL);
    parse_fails("[radiant extra]\n", 1, "takes no name", NULL);
    parse_fails("[targets x]\n", 1, "takes no name", NULL);
    parse_fails("[radiant]\nrun-as = pg\n[repo a\n", 3, "']'", NULL);
    /* Names are limited to 63 characters. */
    char text[200];
    snprintf(text, sizeof text, "[cluster %.63s]\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    rd_config *cfg = parse_ok(text);
    rd_config_free(cfg);
    snprintf(text, sizeof text, "[cluster %.64s]\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    parse_fails(text, 1, "cluster", NULL);
}

static void test_unknown_key(void **state)
{
    (void)state;
    parse_fails("[cluster c]\nport = 5432\nprot = 5433\n", 3, "'prot'", "unknown key");
    parse_fails("[radiant]\nstate_dir = /x\n", 2, "'state_dir'", NULL);
    /* A key valid in another section is still unknown here. */
    parse_fails("[objectstore]\nversioning = enabled\n", 2, "'versioning'", NULL);
    /* At the end of a long file, the line number is still exact. */
    char *text = rd_asprintf("%srpo-maximal = 1h\n", design_example);
    parse_fails(text, 40, "'rpo-maximal'", NULL);
    free(text);
}

static void test_bad_values(void **state)
{
    (void)state;
    /* Each is "[section]\nkey = value": the error is on line 2 and names the key. */
    static const struct { const char *section, *key, *value; } cases[] = {
        { "radiant", "log-level", "loud" },
        { "radiant", "state-dir", "" },
        { "radiant", "run-as", "" },
        { "repo a", "type", "ftp" },
        { "repo a", "type", "POSIX" },
        { "repo a", "endpoint", "ftp://host" },
        { "repo a", "endpoint", "http://" },
        { "repo a", "endpoint", "127.0.0.1:9000" },
        { "repo a", "verify-tls", "maybe" },
        { "repo a", "uri-style", "virtual" },
        { "repo a", "compress-level", "20" },
        { "repo a", "compress-level", "-8" },
        { "repo a", "compress-level", "abc" },
        { "repo a", "compress-level", "5x" },
        { "repo a", "compress-level", "" },
        { "repo a", "threads", "0" },
        { "repo a", "threads", "65" },
        { "cluster c", "port", "0" },
        { "cluster c", "port", "65536" },
        { "cluster c", "port", "-1" },
        { "cluster c", "port", "5432x" },
        { "cluster c", "port", "0x10" },
        { "cluster c", "backup-retention-period", "0" },
        { "cluster c", "backup-retention-period", "3651" },
        { "cluster c", "backup-retention-period", "99999999999999999999999" },
        { "cluster c", "backup-retention-period", "35 days" },
        { "cluster c", "preferred-backup-window", "25:00-04:00" },
        { "cluster c", "preferred-backup-window", "03:00-03:00" },
        { "cluster c", "preferred-backup-window", "3:00-4:00" },
        { "cluster c", "preferred-backup-window", "03:00-04:60" },
        { "cluster c", "preferred-backup-window", "03:00 04:00" },
        { "cluster c", "preferred-backup-window", "03:00-04:00x" },
        { "cluster c", "preferred-backup-window", "03:00" },
        { "cluster c", "preferred-backup-window", "" },
        { "cluster c", "deletion-protection", "enabled" },
        { "cluster c", "storage-encrypted", "" },
        { "cluster c", "repos", ",local" },
        { "cluster c", "repos", "local," },
        { "cluster c", "repos", "" },
        { "cluster c", "data-dir", "" },
        { "objectstore", "listen", "9000" },
        { "objectstore", "listen", ":9000" },
        { "objectstore", "listen", "host:-1" },
        { "objectstore", "listen", "host:65536" },
        { "objectstore", "listen", "host:" },
        { "objectstore", "listen", "host:http" },
        { "access-key AK", "secret-access-key-file", "" },
        { "bucket b", "versioning", "on" },
        { "bucket b", "noncurrent-version-expiration-days", "0" },
        { "bucket b", "noncurrent-version-expiration-days", "36501" },
        { "targets", "rto-target", "1 hour" },
        { "targets", "rto-maximum", "-1h" },
        { "targets", "rpo-target", "1w" },
        { "targets", "rpo-maximum", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = rd_asprintf("[%s]\n%s = %s\n", cases[i].section, cases[i].key,
                                 cases[i].value);
        char *key = rd_asprintf("'%s'", cases[i].key);
        parse_fails(text, 2, key, "bad value");
        free(key);
        free(text);
    }
    /* The message says what was expected. */
    parse_fails("[repo a]\ntype = ftp\n", 2, "posix|s3", NULL);
    parse_fails("[cluster c]\nbackup-retention-period = 0\n", 2, "1 to 3650", NULL);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    parse_fails("[radiant]\nrun-as = a\nrun-as = b\n", 3, "'run-as'", "line 2");
    parse_fails("[cluster c]\nport = 1\n; comment\n\nport = 1\n", 5, "'port'", "line 2");
    /* The same key in two sections is not a duplicate. */
    rd_config *cfg = parse_ok("[cluster a]\nport = 1\n[cluster b]\nport = 2\n");
    assert_int_equal(rd_config_get_int(rd_config_find(cfg, "cluster", "b"), "port", 0), 2);
    rd_config_free(cfg);
}

static void test_duplicate_sections(void **state)
{
    (void)state;
    parse_fails("[repo a]\npath = /x\n[repo a]\npath = /y\n", 3, "repo a", "line 1");
    parse_fails("[targets]\n[radiant]\n[targets]\n", 3, "targets", "line 1");
    parse_fails("[radiant]\nrun-as = pg\n\n[radiant]\nstate-dir = /x\n", 4, "radiant",
                "line 1");
    /* The same name for sections of different types is fine. */
    rd_config *cfg = parse_ok("[repo a]\npath = /x\n[cluster a]\n[bucket a]\n");
    rd_config_free(cfg);
}

static void test_key_before_section(void **state)
{
    (void)state;
    parse_fails("state-dir = /x\n[radiant]\n", 1, "'state-dir'", "before any section");
    parse_fails("; comment\n\nrun-as = pg\n[radiant]\n", 3, "'run-as'", NULL);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    parse_fails("[radiant]\nrun-as = pg\njust some words\n", 3, "syntax error", NULL);
    parse_fails("[radiant]\n= pg\n", 2, NULL, NULL);

    /* libinih reads lines of at most 199 bytes; longer ones are an error, not
     * silently split into two lines. */
    char *text = rd_asprintf("[radiant]\nrun-as = %0250d\n", 7);
    parse_fails(text, 2, "longer", NULL);
    free(text);
    text = rd_asprintf("[radiant]\n; %0250d\nrun-as = pg\n", 7);
    parse_fails(text, 2, "longer", NULL);
    free(text);

    /* NUL bytes never make it into a value. */
    static const char nul[] = "[radiant]\nrun-as = p\0g\n";
    parse_fails_at(nul, sizeof nul - 1, 2, "NUL", NULL);
    static const char nul_header[] = "[radi\0ant]\n";
    parse_fails_at(nul_header, sizeof nul_header - 1, 1, "NUL", NULL);
}

static void test_indented_continuation_rejected(void **state)
{
    (void)state;
    /* libinih would append this line to state-dir's value (multi-line values);
     * radiant has none, so it is an error that says why. */
    parse_fails("[radiant]\nstate-dir = /a\n  /b\n", 3, "'state-dir'", "indent");
    parse_fails("[radiant]\nrun-as = pg\n\tstate-dir = /x\n", 3, "'run-as'", "indent");
    /* An indented header after a key would be a continuation too, not a section. */
    parse_fails("[radiant]\nrun-as = pg\n  [targets]\nrto-target = 1h\n", 3, "indent",
                NULL);
}

static void test_header_after_other_whitespace(void **state)
{
    (void)state;
    /* libinih skips any isspace() before '[', so "\v[objectstore]" opens
     * [objectstore]. The line reader must see the same section, or the keys
     * that follow would be stored in the previous one. */
    rd_config *cfg = parse_ok("[radiant]\n\v[objectstore]\nlisten = h:1\n[targets]\n"
                              "\f[access-key AK]\nsecret-access-key-file = /k\n");
    assert_string_equal(rd_config_get(rd_config_find(cfg, "objectstore", NULL), "listen"),
                        "h:1");
    assert_non_null(rd_config_get(rd_config_find(cfg, "access-key", "AK"),
                                  "secret-access-key-file"));
    assert_int_equal(rd_config_section_line(rd_config_find(cfg, "access-key", "AK")), 5);
    rd_config_free(cfg);
    parse_fails("[radiant]\n\v[objectstore]\nrun-as = pg\n", 3, "'run-as'", "unknown key");
}

static void test_section_rules(void **state)
{
    (void)state;
    /* Errors found after the whole file is read point at the section. */
    parse_fails("[radiant]\nrun-as = pg\n[repo a]\ntype = posix\n", 3, "repo a", "'path'");
    parse_fails("[repo a]\n", 1, "'path'", NULL);
    parse_fails("[repo b]\ntype = s3\nendpoint = http://h:1\n", 1, "repo b", "'bucket'");
    parse_fails("[repo b]\ntype = s3\nbucket = x\n", 1, "'endpoint'", NULL);
    parse_fails("[repo a]\npath = /r\npassphrase-file = /p\npassphrase-env = P\n", 1,
                "passphrase-file", "passphrase-env");
}

static void test_failed_parse_leaves_out_alone(void **state)
{
    (void)state;
    rd_config *cfg = (rd_config *)0x1;   /* never dereferenced */
    assert_int_equal(rd_config_parse("[bogus]\n", 8, NAME, &cfg), -RD_ECONFIG);
    assert_ptr_equal(cfg, (rd_config *)0x1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_empty_file_and_defaults),
        cmocka_unit_test(test_empty_sections_are_kept),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_line_endings_bom_and_separators),
        cmocka_unit_test(test_valid_edge_values),
        cmocka_unit_test(test_parse_bool_spellings),
        cmocka_unit_test(test_relative_paths_resolve_against_config_dir),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_bad_section_headers),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_duplicate_sections),
        cmocka_unit_test(test_key_before_section),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_indented_continuation_rejected),
        cmocka_unit_test(test_header_after_other_whitespace),
        cmocka_unit_test(test_section_rules),
        cmocka_unit_test(test_failed_parse_leaves_out_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
