/* Unit tests for src/core/fs: atomic and exclusive writes (no temp files left
 * behind), mkdir -p, bounded whole-file reads, tree removal and the small
 * full-read/write helpers. Each test works in its own directory under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"

static int setup_dir(void **state)
{
    char *dir = rd_strdup("/tmp/radiant-test-fs-XXXXXX");
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
    return rc;
}

/* Number of entries in dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void assert_file_is(const char *path, const char *content)
{
    rd_buf b = RD_BUF_INIT;
    assert_int_equal(rd_fs_read_file(path, 1 << 20, &b), 0);
    assert_int_equal(b.len, strlen(content));
    assert_memory_equal(b.data, content, b.len);
    rd_buf_free(&b);
}

/* ------------------------------------------------------------ atomic write -- */

static void test_write_atomic_creates_and_replaces(void **state)
{
    const char *dir = *state;
    char *path = rd_path_join(dir, "manifest");
    mode_t old_umask = umask(022);

    assert_int_equal(rd_fs_write_atomic(path, "first", 5, 0640), 0);
    assert_file_is(path, "first");
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_mode & 0777, 0640);
    assert_int_equal(count_entries(dir), 1);   /* no temp file left behind */

    assert_int_equal(rd_fs_write_atomic(path, "second, longer", 14, 0640), 0);
    assert_file_is(path, "second, longer");
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_ino != st2.st_ino);     /* replaced by rename, not rewritten */
    assert_int_equal(count_entries(dir), 1);

    /* Shorter content replaces, never leaves a tail of the old. */
    assert_int_equal(rd_fs_write_atomic(path, "3", 1, 0640), 0);
    assert_file_is(path, "3");
    assert_int_equal(rd_fs_write_atomic(path, "", 0, 0640), 0);
    assert_file_is(path, "");
    assert_int_equal(count_entries(dir), 1);

    umask(old_umask);
    free(path);
}

static void test_write_atomic_failure_leaves_nothing(void **state)
{
    const char *dir = *state;
    /* Into a directory that does not exist. */
    char *path = rd_asprintf("%s/missing/file", dir);
    rd_error_clear();
    assert_int_equal(rd_fs_write_atomic(path, "x", 1, 0600), -RD_EIO);
    assert_non_null(strstr(rd_error(), "missing/file"));
    free(path);
    assert_int_equal(count_entries(dir), 0);

    /* Over a non-empty directory: rename fails, the temp file is removed and
     * the directory is untouched. */
    path = rd_path_join(dir, "sub");
    assert_int_equal(rd_fs_mkdir_p(path, 0700), 0);
    char *inner = rd_path_join(path, "keep");
    assert_int_equal(rd_fs_write_atomic(inner, "k", 1, 0600), 0);
    assert_int_equal(rd_fs_write_atomic(path, "x", 1, 0600), -RD_EIO);
    assert_int_equal(count_entries(dir), 1);
    assert_file_is(inner, "k");
    free(inner);
    free(path);
}

/* --------------------------------------------------------- exclusive write -- */

static void test_write_exclusive_refuses_existing(void **state)
{
    const char *dir = *state;
    char *path = rd_path_join(dir, "lock");
    assert_int_equal(rd_fs_write_exclusive(path, "mine", 4, 0600), 0);
    assert_file_is(path, "mine");
    rd_error_clear();
    assert_int_equal(rd_fs_write_exclusive(path, "yours", 5, 0600), -RD_EEXIST);
    assert_non_null(strstr(rd_error(), path));
    assert_file_is(path, "mine");
    assert_int_equal(rd_exit_code(-RD_EEXIST), 10);

    /* A directory or a dangling symlink in the way counts as existing too. */
    char *link = rd_path_join(dir, "dangling");
    assert_int_equal(symlink("/nonexistent-radiant-target", link), 0);
    assert_int_equal(rd_fs_write_exclusive(link, "x", 1, 0600), -RD_EEXIST);
    assert_int_equal(access("/nonexistent-radiant-target", F_OK), -1);
    assert_int_equal(rd_fs_write_exclusive(dir, "x", 1, 0600), -RD_EEXIST);
    free(link);

    char *missing = rd_asprintf("%s/no/such/dir", dir);
    assert_int_equal(rd_fs_write_exclusive(missing, "x", 1, 0600), -RD_EIO);
    free(missing);
    free(path);
}

/* ----------------------------------------------------------------- mkdir -p -- */

static void test_mkdir_p(void **state)
{
    const char *dir = *state;
    char *deep = rd_asprintf("%s/a/b/c/d", dir);
    assert_int_equal(rd_fs_mkdir_p(deep, 0750), 0);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* Existing is fine, as are trailing and doubled slashes. */
    assert_int_equal(rd_fs_mkdir_p(deep, 0750), 0);
    char *slashes = rd_asprintf("%s//a/b//e/", dir);
    assert_int_equal(rd_fs_mkdir_p(slashes, 0750), 0);
    char *e = rd_asprintf("%s/a/b/e", dir);
    assert_int_equal(stat(e, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(rd_fs_mkdir_p("/", 0750), 0);
    free(e);
    free(slashes);
    free(deep);
}

static void test_mkdir_p_refuses_file_in_the_way(void **state)
{
    const char *dir = *state;
    char *file = rd_path_join(dir, "file");
    assert_int_equal(rd_fs_write_atomic(file, "x", 1, 0600), 0);
    /* The file itself: EEXIST from mkdir must not pass for a directory. */
    rd_error_clear();
    assert_int_equal(rd_fs_mkdir_p(file, 0750), -RD_EIO);
    assert_non_null(strstr(rd_error(), file));
    /* Below the file. */
    char *below = rd_path_join(file, "sub");
    assert_int_equal(rd_fs_mkdir_p(below, 0750), -RD_EIO);
    free(below);
    /* A symlink to a directory is a directory. */
    char *target = rd_path_join(dir, "real");
    char *link = rd_path_join(dir, "link");
    assert_int_equal(rd_fs_mkdir_p(target, 0750), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(rd_fs_mkdir_p(link, 0750), 0);
    free(link);
    free(target);
    free(file);
    assert_true(rd_fs_mkdir_p("", 0750) < 0);
}

/* --------------------------------------------------------------- read_file -- */

static void test_read_file_max(void **state)
{
    const char *dir = *state;
    char *path = rd_path_join(dir, "data");
    static const char content[] = "0123456789";
    assert_int_equal(rd_fs_write_atomic(path, content, 10, 0600), 0);

    rd_buf b = RD_BUF_INIT;
    rd_buf_append(&b, "stale", 5);   /* replaced, not appended to */
    assert_int_equal(rd_fs_read_file(path, 10, &b), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, content, 10);

    rd_error_clear();
    assert_int_equal(rd_fs_read_file(path, 9, &b), -RD_ECORRUPT);
    assert_non_null(strstr(rd_error(), path));
    assert_int_equal(rd_fs_read_file(path, 0, &b), -RD_ECORRUPT);

    char *missing = rd_path_join(dir, "missing");
    assert_int_equal(rd_fs_read_file(missing, 100, &b), -RD_ENOENT);
    assert_non_null(strstr(rd_error(), missing));
    free(missing);

    char *empty = rd_path_join(dir, "empty");
    assert_int_equal(rd_fs_write_atomic(empty, "", 0, 0600), 0);
    assert_int_equal(rd_fs_read_file(empty, 0, &b), 0);
    assert_int_equal(b.len, 0);
    free(empty);

    rd_buf_free(&b);
    free(path);
}

/* ------------------------------------------------------------- remove_tree -- */

static void test_remove_tree(void **state)
{
    const char *dir = *state;
    char *root = rd_path_join(dir, "tree");
    char *deep = rd_asprintf("%s/x/y/z", root);
    assert_int_equal(rd_fs_mkdir_p(deep, 0700), 0);
    char *f1 = rd_path_join(deep, "f1"), *f2 = rd_asprintf("%s/x/f2", root);
    assert_int_equal(rd_fs_write_atomic(f1, "1", 1, 0600), 0);
    assert_int_equal(rd_fs_write_atomic(f2, "2", 1, 0400), 0);
    /* A symlink to something outside the tree: the link goes, the target stays. */
    char *outside = rd_path_join(dir, "outside");
    assert_int_equal(rd_fs_mkdir_p(outside, 0700), 0);
    char *precious = rd_path_join(outside, "precious");
    assert_int_equal(rd_fs_write_atomic(precious, "p", 1, 0600), 0);
    char *link = rd_asprintf("%s/x/link", root);
    assert_int_equal(symlink(outside, link), 0);

    assert_int_equal(rd_fs_remove_tree(root), 0);
    struct stat st;
    assert_int_equal(lstat(root, &st), -1);
    assert_file_is(precious, "p");

    /* Missing is not an error; a single file is removed. */
    assert_int_equal(rd_fs_remove_tree(root), 0);
    assert_int_equal(rd_fs_remove_tree(precious), 0);
    assert_int_equal(lstat(precious, &st), -1);
    assert_int_equal(count_entries(dir), 1);

    free(link);
    free(precious);
    free(outside);
    free(f1);
    free(f2);
    free(deep);
    free(root);
}

/* ------------------------------------------------------------ dir_nonempty -- */

static void test_dir_nonempty(void **state)
{
    const char *dir = *state;
    assert_int_equal(rd_fs_dir_nonempty(dir), 0);
    char *hidden = rd_path_join(dir, ".hidden");
    assert_int_equal(rd_fs_write_atomic(hidden, "", 0, 0600), 0);
    assert_int_equal(rd_fs_dir_nonempty(dir), 1);
    assert_int_equal(rd_fs_dir_nonempty(hidden), -1);     /* not a directory */
    char *missing = rd_path_join(dir, "missing");
    assert_int_equal(rd_fs_dir_nonempty(missing), -1);
    free(missing);
    free(hidden);
}

/* ------------------------------------------------------------ small helpers -- */

static void test_path_join(void **state)
{
    (void)state;
    char *p = rd_path_join("/var/lib", "radiant");
    assert_string_equal(p, "/var/lib/radiant");
    free(p);
    p = rd_path_join("/var/lib/", "radiant");
    assert_string_equal(p, "/var/lib/radiant");
    free(p);
    p = rd_path_join("/", "etc");
    assert_string_equal(p, "/etc");
    free(p);
}

static void test_full_reads_and_writes(void **state)
{
    const char *dir = *state;
    char *path = rd_path_join(dir, "io");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13);
    assert_int_equal(rd_fs_write_full(fd, data, sizeof data), 0);
    assert_int_equal(rd_fs_pwrite_full(fd, "HEAD", 4, 0), 0);

    static uint8_t back[200000];
    assert_int_equal(rd_fs_pread_full(fd, back, sizeof back, 0), 0);
    assert_memory_equal(back, "HEAD", 4);
    assert_memory_equal(back + 4, data + 4, sizeof data - 4);
    assert_int_equal(rd_fs_pread_full(fd, back, 10, sizeof data - 10), 0);
    assert_memory_equal(back, data + sizeof data - 10, 10);

    /* Reading past the end is a short read, which is an error. */
    rd_error_clear();
    assert_int_equal(rd_fs_pread_full(fd, back, 11, sizeof data - 10), -RD_EIO);
    assert_non_null(strstr(rd_error(), "end of file"));
    assert_int_equal(lseek(fd, (off_t)sizeof data - 3, SEEK_SET), (off_t)sizeof data - 3);
    assert_int_equal(rd_fs_read_full(fd, back, 4), -RD_EIO);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(rd_fs_read_full(fd, back, 4), 0);
    assert_memory_equal(back, "HEAD", 4);
    close(fd);

    /* A closed descriptor is an error with errno text, not a crash. */
    assert_int_equal(rd_fs_read_full(fd, back, 1), -RD_EIO);
    assert_int_equal(rd_fs_write_full(fd, back, 1), -RD_EIO);

    assert_int_equal(rd_fs_fsync_dir(dir), 0);
    assert_int_equal(rd_fs_fsync_parent(path), 0);
    char *missing = rd_path_join(dir, "missing");
    assert_int_equal(rd_fs_fsync_dir(missing), -RD_EIO);
    free(missing);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_atomic_creates_and_replaces, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_atomic_failure_leaves_nothing, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_exclusive_refuses_existing, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_mkdir_p, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mkdir_p_refuses_file_in_the_way, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_read_file_max, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_remove_tree, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dir_nonempty, setup_dir, teardown_dir),
        cmocka_unit_test(test_path_join),
        cmocka_unit_test_setup_teardown(test_full_reads_and_writes, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
