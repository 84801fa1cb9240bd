/* Access keys of the object store: [access-key ID] sections of the
 * configuration (secret in secret-access-key-file) and keys made by
 * `radiant s3 create-access-key`, kept in the catalog (table access_keys) in
 * clear: SigV4 is symmetric, so the server needs the secret itself to verify
 * a signature. Protect the state directory accordingly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/fs.h"
#include "objstore/objstore.h"

#define SECRET_FILE_MAX 4096

/* Uniform characters from alphabet: bytes at or above the largest multiple
 * of its size are drawn again, so no character is likelier than another. */
static int random_text(const char *alphabet, char *out, size_t n)
{
    size_t size = strlen(alphabet), limit = 256 - 256 % size;
    for (size_t i = 0; i < n;) {
        uint8_t b[64];
        int rc = rd_random_bytes(b, sizeof b);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < sizeof b && i < n; j++)
            if (b[j] < limit)
                out[i++] = alphabet[b[j] % size];
    }
    out[n] = '\0';
    return 0;
}

int os3_access_key_create(rd_catalog *cat, os3_access_key *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, "AKIA", 4);
    int rc = random_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", out->id + 4,
                         OS3_ACCESS_KEY_ID_LEN - 4);
    if (rc == 0)
        rc = random_text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                         out->secret, OS3_SECRET_KEY_LEN);
    if (rc < 0)
        return rc;
    out->created_us = rd_clock_now_us();
    out->source = "catalog";
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO access_keys(id, secret, created_us) VALUES (?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, out->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, out->secret, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, out->created_us);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0
         : rd_fail(RD_EIO, "catalog: recording access key %s: %s", out->id, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int os3_access_key_delete(const rd_config *cfg, rd_catalog *cat, const char *id)
{
    if (rd_config_find(cfg, "access-key", id))
        return rd_fail(RD_EUSAGE, "access key %s comes from [access-key %s] in %s; remove it "
                       "there", id, id, rd_config_path(cfg));
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM access_keys WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_changes(db) == 0)
        rc = rd_fail(RD_ENOENT, "no access key %s", id);
    return rc;
}

int os3_access_key_list(const rd_config *cfg, rd_catalog *cat, os3_access_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t count = rd_config_count(cfg, "access-key");
    for (size_t i = 0; i < count; i++) {
        const char *name = rd_config_section_name(rd_config_at(cfg, "access-key", i));
        *out = rd_realloc(*out, (*n + 1) * sizeof **out);
        os3_access_key *k = &(*out)[(*n)++];
        memset(k, 0, sizeof *k);
        snprintf(k->id, sizeof k->id, "%s", name ? name : "");
        k->source = "config";
    }
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT id, created_us FROM access_keys ORDER BY created_us, id",
                           -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        *out = rd_realloc(*out, (*n + 1) * sizeof **out);
        os3_access_key *k = &(*out)[(*n)++];
        memset(k, 0, sizeof *k);
        snprintf(k->id, sizeof k->id, "%s", (const char *)sqlite3_column_text(st, 0));
        k->created_us = sqlite3_column_int64(st, 1);
        k->source = "catalog";
    }
    int rc = step == SQLITE_DONE ? 0 : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int os3_access_key_secret(const rd_config *cfg, rd_catalog *cat, const char *id, char *secret,
                          size_t len)
{
    const rd_config_section *sec = rd_config_find(cfg, "access-key", id);
    const char *file = sec ? rd_config_get(sec, "secret-access-key-file") : NULL;
    if (sec && !file)
        return rd_fail(RD_ECONFIG, "[access-key %s] has no secret-access-key-file", id);
    if (sec) {
        char *text = NULL;
        int rc = rd_fs_read_secret(file, SECRET_FILE_MAX, &text);
        if (rc == 0 && strlen(text) >= len)
            rc = rd_fail(RD_ECONFIG, "the secret of [access-key %s] is too long", id);
        if (rc == 0)
            memcpy(secret, text, strlen(text) + 1);
        if (text)
            explicit_bzero(text, strlen(text));
        free(text);
        return rc < 0 ? rd_fail_wrap(rc, "[access-key %s] secret-access-key-file", id) : 0;
    }
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT secret FROM access_keys WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? 0
             : step == SQLITE_DONE ? rd_fail(RD_ENOENT, "no access key %s", id)
                                   : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    if (rc == 0) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (strlen(text) >= len)
            rc = rd_fail(RD_EINTERNAL, "the secret of access key %s is too long", id);
        else
            memcpy(secret, text, strlen(text) + 1);
    }
    sqlite3_finalize(st);
    return rc;
}
