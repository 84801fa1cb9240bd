/* Unit tests for named objects (src/repo/object.c) on a real POSIX
 * repository in a temporary directory, plain and encrypted: round trips,
 * exclusive puts (identical content accepted, different refused), listing,
 * damage detection (a flipped byte, an object moved to another name), and
 * objects of format version 1 (with a SHA-256 of the data) still read. */
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
#include "core/crypto.h"
#include "core/error.h"
#include "core/fs.h"
#include "repo/internal.h"
#include "repo/repo.h"

struct fixture {
    char dir[64];
    rd_config *cfg;
    repo *r;
};

static int setup(void **state, bool encrypted)
{
    struct fixture *f = rd_calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/radiant-objtest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *pass = rd_path_join(f->dir, "pass");
    assert_int_equal(rd_fs_write_atomic(pass, "secret\n", 7, 0600), 0);
    char *text = rd_asprintf("[repo t]\npath = %s/repo\n%s%s\n", f->dir,
                             encrypted ? "passphrase-file = " : "", encrypted ? pass : "");
    char *name = rd_path_join(f->dir, "radiant.conf");
    assert_int_equal(rd_config_parse(text, strlen(text), name, &f->cfg), 0);
    assert_int_equal(repo_init(f->cfg, "t"), 0);
    assert_int_equal(repo_open(f->cfg, "t", &f->r), 0);
    free(pass);
    free(text);
    free(name);
    *state = f;
    return 0;
}

static int setup_plain(void **state) { return setup(state, false); }
static int setup_encrypted(void **state) { return setup(state, true); }

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_close(f->r);
    rd_config_free(f->cfg);
    rd_fs_remove_tree(f->dir);
    free(f);
    return 0;
}

static int count(void *arg, const char *name, uint64_t size)
{
    (void)size;
    assert_true(strncmp(name, "wal/", 4) == 0);
    (*(int *)arg)++;
    return 0;
}

static void test_round_trip_and_exclusive(void **state)
{
    struct fixture *f = *state;
    size_t len = 16u * 1024 * 1024;
    uint8_t *seg = rd_malloc(len);
    for (size_t i = 0; i < len; i++)
        seg[i] = (uint8_t)(i * 7 + i / 8192);
    const char *name = "wal/000000010000000000000001";
    assert_int_equal(repo_object_put(f->r, name, seg, len, true), 0);
    rd_buf out = RD_BUF_INIT;
    assert_int_equal(repo_object_get(f->r, name, &out), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, seg, len);
    /* The same segment again is fine; a different one under its name is not. */
    assert_int_equal(repo_object_put(f->r, name, seg, len, true), 0);
    seg[100] ^= 1;
    assert_int_equal(repo_object_put(f->r, name, seg, len, true), -RD_EEXIST);
    assert_int_equal(repo_object_get(f->r, name, &out), 0);
    assert_int_not_equal(memcmp(out.data, seg, len), 0);
    assert_int_equal(repo_object_put(f->r, "wal/00000002.history", "1\t0/3000000\tx\n", 14, true), 0);
    int n = 0;
    assert_int_equal(repo_object_list(f->r, "wal", count, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(repo_object_get(f->r, "wal/000000010000000000000009", &out), -RD_ENOENT);
    assert_int_equal(repo_object_get(f->r, "../config", &out), -RD_EUSAGE);
    assert_int_equal(repo_object_remove(f->r, name), 0);
    assert_int_equal(repo_object_get(f->r, name, &out), -RD_ENOENT);
    rd_buf_free(&out);
    free(seg);
}

static void test_damage_is_detected(void **state)
{
    struct fixture *f = *state;
    const char *a = "wal/000000010000000000000001", *b = "wal/000000010000000000000002";
    assert_int_equal(repo_object_put(f->r, a, "segment one", 11, true), 0);
    char *pa = rd_asprintf("%s/repo/objects/%s", f->dir, a);
    char *pb = rd_asprintf("%s/repo/objects/%s", f->dir, b);
    /* Moved to another name: refused even though its bytes are intact. */
    assert_int_equal(rename(pa, pb), 0);
    rd_buf out = RD_BUF_INIT;
    assert_int_equal(repo_object_get(f->r, b, &out), -RD_ECORRUPT);
    /* A flipped byte anywhere: refused, and an exclusive put does not paper over it. */
    rd_buf raw = RD_BUF_INIT;
    assert_int_equal(rd_fs_read_file(pb, 1 << 20, &raw), 0);
    for (size_t i = 0; i < raw.len; i++) {
        raw.data[i] ^= 0x40;
        assert_int_equal(rd_fs_write_atomic(pa, raw.data, raw.len, 0600), 0);
        assert_int_equal(repo_object_get(f->r, a, &out), -RD_ECORRUPT);
        raw.data[i] ^= 0x40;
    }
    assert_int_equal(repo_object_put(f->r, a, "segment one", 11, true), -RD_ECORRUPT);
    rd_buf_free(&raw);
    rd_buf_free(&out);
    free(pa);
    free(pb);
}

/* Writes NAME as a version 1 object would have been: u32 1, the name, the
 * SHA-256 of the data (here of `hashed`), u64 length, the data. */
static void put_v1(struct fixture *f, const char *name, const char *data, const char *hashed)
{
    rd_buf body = RD_BUF_INIT, sealed = RD_BUF_INIT;
    uint8_t sum[RD_SHA256_LEN];
    rd_sha256(hashed, strlen(hashed), sum);
    rd_buf_append_u32(&body, 1);
    rd_buf_append_str(&body, name);
    rd_buf_append(&body, sum, sizeof sum);
    rd_buf_append_u64(&body, strlen(data));
    rd_buf_append(&body, data, strlen(data));
    assert_int_equal(repo_envelope_seal(repo_key_or_null(f->r), REPO_FILE_OBJECT, body.data,
                                        body.len, &sealed), 0);
    char *path = rd_asprintf("%s/repo/objects/%s", f->dir, name);
    assert_int_equal(rd_fs_write_atomic(path, sealed.data, sealed.len, 0600), 0);
    free(path);
    rd_buf_free(&sealed);
    rd_buf_free(&body);
}

static void test_version_1_objects_read(void **state)
{
    struct fixture *f = *state;
    char *dir = rd_asprintf("%s/repo/objects/wal", f->dir);
    assert_int_equal(rd_fs_mkdir_p(dir, 0700), 0);
    put_v1(f, "wal/000000010000000000000001", "old segment", "old segment");
    rd_buf out = RD_BUF_INIT;
    assert_int_equal(repo_object_get(f->r, "wal/000000010000000000000001", &out), 0);
    assert_int_equal(out.len, 11);
    assert_memory_equal(out.data, "old segment", 11);
    /* its hash is still checked */
    put_v1(f, "wal/000000010000000000000002", "old segment", "another one");
    assert_int_equal(repo_object_get(f->r, "wal/000000010000000000000002", &out), -RD_ECORRUPT);
    /* and a push of the same bytes over it is accepted, of others refused */
    assert_int_equal(repo_object_put(f->r, "wal/000000010000000000000001", "old segment", 11,
                                     true), 0);
    assert_int_equal(repo_object_put(f->r, "wal/000000010000000000000001", "new segment", 11,
                                     true), -RD_EEXIST);
    rd_buf_free(&out);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_and_exclusive, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_and_exclusive, setup_encrypted, teardown),
        cmocka_unit_test_setup_teardown(test_damage_is_detected, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_damage_is_detected, setup_encrypted, teardown),
        cmocka_unit_test_setup_teardown(test_version_1_objects_read, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_version_1_objects_read, setup_encrypted, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
