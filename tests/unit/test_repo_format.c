/* Unit tests for the repository's metadata formats (src/repo/format.c): the
 * id map, the sealed envelope (plain and encrypted), index and manifest
 * bodies, and the rejection of damaged or hostile input as -RD_ECORRUPT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "repo/internal.h"

static void make_id(uint8_t id[REPO_ID_LEN], uint32_t n)
{
    rd_sha256(&n, sizeof n, id);
}

static void test_idmap(void **state)
{
    (void)state;
    repo_idmap m = { 0 };
    uint8_t id[REPO_ID_LEN];
    for (uint32_t i = 0; i < 10000; i++) {
        make_id(id, i);
        assert_true(repo_idmap_put(&m, id, i));
    }
    make_id(id, 77);
    assert_false(repo_idmap_put(&m, id, 1));     /* present: value kept */
    for (uint32_t i = 0; i < 10000; i++) {
        make_id(id, i);
        uint32_t *v = repo_idmap_get(&m, id);
        assert_non_null(v);
        assert_int_equal(*v, i);
    }
    make_id(id, 10001);
    assert_null(repo_idmap_get(&m, id));
    assert_int_equal(m.len, 10000);
    repo_idmap_free(&m);
}

static void envelope_round_trip(const uint8_t *key)
{
    const char body[] = "an index body, an index body, an index body";
    rd_buf sealed = RD_BUF_INIT, out = RD_BUF_INIT;
    assert_int_equal(repo_envelope_seal(key, REPO_FILE_INDEX, (const uint8_t *)body,
                                        sizeof body, &sealed), 0);
    assert_int_equal(repo_envelope_open(key, REPO_FILE_INDEX, sealed.data, sealed.len, &out), 0);
    assert_int_equal(out.len, sizeof body);
    assert_memory_equal(out.data, body, sizeof body);
    /* Wrong type, every flipped byte and every truncation are damage. */
    assert_int_equal(repo_envelope_open(key, REPO_FILE_MANIFEST, sealed.data, sealed.len, &out),
                     -RD_ECORRUPT);
    for (size_t i = 0; i < sealed.len; i++) {
        sealed.data[i] ^= 0x10;
        assert_int_equal(repo_envelope_open(key, REPO_FILE_INDEX, sealed.data, sealed.len, &out),
                         -RD_ECORRUPT);
        sealed.data[i] ^= 0x10;
    }
    for (size_t len = 0; len < sealed.len; len++)
        assert_int_equal(repo_envelope_open(key, REPO_FILE_INDEX, sealed.data, len, &out),
                         -RD_ECORRUPT);
    rd_buf_free(&sealed);
    rd_buf_free(&out);
}

static void test_envelope_plain_and_encrypted(void **state)
{
    (void)state;
    uint8_t key[RD_AEAD_KEY_LEN], other[RD_AEAD_KEY_LEN];
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    envelope_round_trip(NULL);
    envelope_round_trip(key);
    /* A plain file in an encrypted repository is refused, and vice versa. */
    rd_buf sealed = RD_BUF_INIT, out = RD_BUF_INIT;
    assert_int_equal(repo_envelope_seal(NULL, REPO_FILE_INDEX, (const uint8_t *)"x", 1,
                                        &sealed), 0);
    assert_int_equal(repo_envelope_open(key, REPO_FILE_INDEX, sealed.data, sealed.len, &out),
                     -RD_ECORRUPT);
    assert_int_equal(repo_envelope_seal(key, REPO_FILE_INDEX, (const uint8_t *)"x", 1,
                                        &sealed), 0);
    assert_int_equal(repo_envelope_open(NULL, REPO_FILE_INDEX, sealed.data, sealed.len, &out),
                     -RD_ECORRUPT);
    assert_int_equal(repo_envelope_open(other, REPO_FILE_INDEX, sealed.data, sealed.len, &out),
                     -RD_ECORRUPT);
    rd_buf_free(&sealed);
    rd_buf_free(&out);
}

static void test_pack_list_round_trip_and_damage(void **state)
{
    (void)state;
    repo_pack_desc packs[2] = { 0 };
    for (int p = 0; p < 2; p++) {
        make_id(packs[p].id, 1000 + (uint32_t)p);
        packs[p].n = 3;
        packs[p].blobs = rd_calloc(3, sizeof *packs[p].blobs);
        uint32_t off = 0;
        for (uint32_t i = 0; i < 3; i++) {
            make_id(packs[p].blobs[i].id, (uint32_t)p * 10 + i);
            packs[p].blobs[i].offset = off;
            packs[p].blobs[i].length = 100 + i;
            packs[p].blobs[i].raw_len = 200 + i;
            off += 100 + i;
        }
    }
    rd_buf body = RD_BUF_INIT;
    repo_packs_encode(packs, 2, &body);
    repo_pack_desc *back = NULL;
    size_t n = 0;
    assert_int_equal(repo_packs_decode(body.data, body.len, &back, &n), 0);
    assert_int_equal(n, 2);
    for (int p = 0; p < 2; p++) {
        assert_memory_equal(back[p].id, packs[p].id, REPO_ID_LEN);
        assert_int_equal(back[p].n, 3);
        assert_memory_equal(back[p].blobs, packs[p].blobs, 3 * sizeof *packs[p].blobs);
        repo_pack_desc_free(&back[p]);
    }
    free(back);
    /* Truncated anywhere, or with trailing bytes: damage, never a crash. */
    for (size_t len = 0; len < body.len; len++)
        assert_int_equal(repo_packs_decode(body.data, len, &back, &n), -RD_ECORRUPT);
    rd_buf_append_u8(&body, 0);
    assert_int_equal(repo_packs_decode(body.data, body.len, &back, &n), -RD_ECORRUPT);
    /* Overlapping blobs are impossible in a real pack. */
    packs[0].blobs[1].offset = 50;
    rd_buf_reset(&body);
    repo_packs_encode(packs, 2, &body);
    assert_int_equal(repo_packs_decode(body.data, body.len, &back, &n), -RD_ECORRUPT);
    /* A huge count in a short body is refused before anything is allocated. */
    uint8_t huge[8] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
    assert_int_equal(repo_packs_decode(huge, sizeof huge, &back, &n), -RD_ECORRUPT);
    rd_buf_free(&body);
    for (int p = 0; p < 2; p++)
        repo_pack_desc_free(&packs[p]);
}

static void test_manifest_round_trip(void **state)
{
    (void)state;
    repo_manifest m = { 0 };
    snprintf(m.info.id, sizeof m.info.id, "20261126T021500Z-0123abcd");
    m.info.label = "label";
    m.info.kind = "dir";
    m.info.source = "/src";
    m.info.hostname = "host";
    m.info.start_us = 1;
    m.info.end_us = 2;
    m.info.stats.files = 1;
    char *keys[] = { "pg.start_lsn" }, *values[] = { "0/2000028" };
    m.info.n_meta = 1;
    m.info.meta_keys = keys;
    m.info.meta_values = values;
    repo_chunk_ref chunks[2];
    make_id(chunks[0].id, 1);
    make_id(chunks[1].id, 2);
    chunks[0].len = 10;
    chunks[1].len = 5;
    repo_entry entries[3] = {
        { .type = REPO_ENTRY_DIR, .path = ".", .mode = 0700, .link_target = "" },
        { .type = REPO_ENTRY_FILE, .path = "a b/\xc3\xbc\nx", .mode = 0600, .size = 15,
          .mtime_sec = -5, .mtime_nsec = 999999999, .link_target = "", .n_chunks = 2,
          .chunks = chunks },
        { .type = REPO_ENTRY_SYMLINK, .path = "l", .mode = 0777, .link_target = "a b" },
    };
    m.entries = entries;
    m.n_entries = 3;
    rd_buf body = RD_BUF_INIT;
    repo_manifest_encode(&m, &body);
    repo_manifest *back = NULL;
    assert_int_equal(repo_manifest_decode(body.data, body.len, &back), 0);
    assert_string_equal(back->info.id, m.info.id);
    assert_string_equal(repo_backup_info_meta(&back->info, "pg.start_lsn"), "0/2000028");
    assert_int_equal(back->n_entries, 3);
    assert_string_equal(back->entries[1].path, "a b/\xc3\xbc\nx");
    assert_int_equal(back->entries[1].mtime_sec, -5);
    assert_memory_equal(back->entries[1].chunks, chunks, sizeof chunks);
    assert_string_equal(back->entries[2].link_target, "a b");
    repo_manifest_free(back);
    for (size_t len = 0; len < body.len; len++)
        assert_int_equal(repo_manifest_decode(body.data, len, &back), -RD_ECORRUPT);
    rd_buf_free(&body);

    /* Chunks that do not add up to the size, and escaping paths, are damage. */
    entries[1].size = 16;
    repo_manifest_encode(&m, &body);
    assert_int_equal(repo_manifest_decode(body.data, body.len, &back), -RD_ECORRUPT);
    entries[1].size = 15;
    entries[1].path = "../etc/passwd";
    rd_buf_reset(&body);
    repo_manifest_encode(&m, &body);
    assert_int_equal(repo_manifest_decode(body.data, body.len, &back), -RD_ECORRUPT);
    rd_buf_free(&body);
}

static void test_path_check(void **state)
{
    (void)state;
    assert_int_equal(repo_path_check("."), 0);
    assert_int_equal(repo_path_check("a/b c/d"), 0);
    assert_int_equal(repo_path_check(".hidden/x..y"), 0);
    const char *bad[] = { "", "/abs", "a//b", "a/", "./a", "a/./b", "..", "a/../b", "a/.." };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(repo_path_check(bad[i]), -RD_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idmap),
        cmocka_unit_test(test_envelope_plain_and_encrypted),
        cmocka_unit_test(test_pack_list_round_trip_and_damage),
        cmocka_unit_test(test_manifest_round_trip),
        cmocka_unit_test(test_path_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
