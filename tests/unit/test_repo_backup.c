/* Unit tests for paged content in backups (repo_backup_add_paged in
 * src/repo/backup.c) on a real POSIX repository in a temporary directory:
 * cuts at fixed offsets whatever the reads return, a round trip, one changed
 * page storing one new chunk, empty and exact-multiple files, and a failing
 * read failing the backup. */
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
#include "core/error.h"
#include "core/fs.h"
#include "repo/internal.h"
#include "repo/repo.h"

struct fixture {
    char dir[64];
    rd_config *cfg;
    repo *r;
};

static int setup(void **state)
{
    struct fixture *f = rd_calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/radiant-backuptest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *text = rd_asprintf("[repo t]\npath = %s/repo\n", f->dir);
    char *name = rd_path_join(f->dir, "radiant.conf");
    assert_int_equal(rd_config_parse(text, strlen(text), name, &f->cfg), 0);
    assert_int_equal(repo_init(f->cfg, "t"), 0);
    assert_int_equal(repo_open(f->cfg, "t", &f->r), 0);
    assert_int_equal(repo_lock(f->r, false), 0);
    free(text);
    free(name);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_unlock(f->r);
    repo_close(f->r);
    rd_config_free(f->cfg);
    rd_fs_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Content served in short, uneven reads, as a pipe or a busy disk may;
 * fail_at (when nonzero) makes the read that reaches it fail. */
struct source {
    const uint8_t *data;
    size_t len, pos, fail_at;
};

static ssize_t source_read(void *arg, void *buf, size_t len)
{
    struct source *s = arg;
    size_t n = s->len - s->pos;
    size_t most = 70001 + s->pos % 3;
    if (n > most)
        n = most;
    if (n > len)
        n = len;
    if (s->fail_at && s->pos + n >= s->fail_at)
        return rd_fail(RD_EIO, "read failed: disk on fire");
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

static uint8_t *random_data(size_t len)
{
    uint8_t *d = rd_malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d[i] = (uint8_t)x;
    }
    return d;
}

/* Backs data up as one paged file; returns the commit's result, fills stats. */
static int backup_paged(struct fixture *f, const uint8_t *data, size_t len, size_t fail_at,
                        repo_backup_info *info)
{
    repo_backup *b = NULL;
    assert_int_equal(repo_backup_begin(f->r, NULL, &b), 0);
    repo_entry e = { .type = REPO_ENTRY_FILE, .path = "base/1/16384", .mode = 0600 };
    struct source src = { .data = data, .len = len, .fail_at = fail_at };
    int rc = repo_backup_add_paged(b, &e, source_read, &src);
    if (rc < 0) {
        repo_backup_abort(b);
        return rc;
    }
    return repo_backup_commit(b, info);
}

static int collect(void *arg, const void *buf, size_t len)
{
    rd_buf_append(arg, buf, len);
    return 0;
}

/* Loads the newest backup and checks its one file: chunk lengths and content. */
static void check_latest(struct fixture *f, const uint8_t *data, size_t len)
{
    repo_manifest *m = NULL;
    assert_int_equal(repo_manifest_load(f->r, "latest", &m), 0);
    assert_int_equal(repo_manifest_count(m), 1);
    const repo_entry *e = repo_manifest_entry(m, 0);
    uint32_t avg = f->r->chunk_avg;
    assert_int_equal(e->size, len);
    assert_int_equal(e->n_chunks, (len + avg - 1) / avg);
    for (uint32_t i = 0; i < e->n_chunks; i++)
        assert_int_equal(e->chunks[i].len, i + 1 < e->n_chunks ? avg : len - (size_t)i * avg);
    rd_buf out = RD_BUF_INIT;
    assert_int_equal(repo_restore_entry(f->r, e, collect, &out), 0);
    assert_int_equal(out.len, len);
    if (len)
        assert_memory_equal(out.data, data, len);
    rd_buf_free(&out);
    repo_manifest_free(m);
}

static void test_fixed_cuts_and_one_changed_page(void **state)
{
    struct fixture *f = *state;
    uint32_t avg = f->r->chunk_avg;
    size_t len = 3 * (size_t)avg + avg / 2;
    uint8_t *data = random_data(len);
    repo_backup_info info;
    assert_int_equal(backup_paged(f, data, len, 0, &info), 0);
    assert_int_equal(info.stats.chunks, 4);
    assert_int_equal(info.stats.new_chunks, 4);
    assert_int_equal(info.stats.logical_bytes, len);
    repo_backup_info_free(&info);
    check_latest(f, data, len);

    /* PostgreSQL rewrites a page in place: only the chunk around it is new */
    memset(data + avg + 8192, 0x5a, 8192);
    assert_int_equal(backup_paged(f, data, len, 0, &info), 0);
    assert_int_equal(info.stats.chunks, 4);
    assert_int_equal(info.stats.new_chunks, 1);
    assert_int_equal(info.stats.new_raw_bytes, avg);
    repo_backup_info_free(&info);
    check_latest(f, data, len);
    free(data);
}

static void test_empty_and_exact_multiple(void **state)
{
    struct fixture *f = *state;
    repo_backup_info info;
    static const uint8_t nothing[1];
    assert_int_equal(backup_paged(f, nothing, 0, 0, &info), 0);
    assert_int_equal(info.stats.files, 1);
    assert_int_equal(info.stats.chunks, 0);
    repo_backup_info_free(&info);
    check_latest(f, nothing, 0);

    size_t len = 2 * (size_t)f->r->chunk_avg;
    uint8_t *data = random_data(len);
    assert_int_equal(backup_paged(f, data, len, 0, &info), 0);
    assert_int_equal(info.stats.chunks, 2);   /* no empty chunk at the end */
    repo_backup_info_free(&info);
    check_latest(f, data, len);
    free(data);
}

static void test_failing_read_fails_the_backup(void **state)
{
    struct fixture *f = *state;
    size_t len = 3 * (size_t)f->r->chunk_avg;
    uint8_t *data = random_data(len);
    assert_int_equal(backup_paged(f, data, len, len / 2, NULL), -RD_EIO);
    assert_non_null(strstr(rd_error(), "disk on fire"));
    repo_manifest *m = NULL;
    assert_int_equal(repo_manifest_load(f->r, "latest", &m), -RD_ENOENT);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fixed_cuts_and_one_changed_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_exact_multiple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_read_fails_the_backup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
