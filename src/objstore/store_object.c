/* Object versions: the versioning rules that decide which version is current
 * (S3 "Using versioning in S3 buckets": null versions, delete markers), and
 * the operations on them: streaming PUT (and UploadPart, which shares the
 * writer), GET/HEAD with ranges, DELETE and server-side COPY. */
#include "objstore/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/fs.h"
#include "core/log.h"

/* ======================================================================
 * The versioning core (callers hold st->mu and a transaction)
 * ====================================================================== */

int os3__version_read(sqlite3_stmt *s, int c, os3_object *obj, char blob[OS3_BLOB_ID_LEN + 1])
{
    obj->key = os3__col_strdup(s, c + 0);
    snprintf(obj->version_id, sizeof obj->version_id, "%s", sqlite3_column_text(s, c + 1));
    obj->is_delete_marker = sqlite3_column_int(s, c + 3) != 0;
    obj->mtime_us = sqlite3_column_int64(s, c + 4);
    obj->is_latest = sqlite3_column_type(s, c + 5) == SQLITE_NULL;
    obj->size = (uint64_t)sqlite3_column_int64(s, c + 6);
    const unsigned char *etag = sqlite3_column_text(s, c + 7);
    if (etag)
        os3__etag_quote((const char *)etag, obj->etag);
    if (blob) {
        const unsigned char *b = sqlite3_column_text(s, c + 8);
        snprintf(blob, OS3_BLOB_ID_LEN + 1, "%s", b ? (const char *)b : "");
    }
    obj->parts_count = sqlite3_column_int(s, c + 9);
    return os3__meta_read(s, c + 10, &obj->meta);
}

int os3__version_find(os3_store *st, const char *bucket, const char *key, const char *vid,
                      os3_object *obj, char blob[OS3_BLOB_ID_LEN + 1])
{
    int rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s;
    rc = os3__prepare(st, vid
                      ? "SELECT " OS3_VERSION_COLS " FROM versions WHERE bucket = ? AND key = ? "
                        "AND version_id = ?"
                      : "SELECT " OS3_VERSION_COLS " FROM versions WHERE bucket = ? AND key = ? "
                        "AND noncurrent_us IS NULL", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    if (vid)
        sqlite3_bind_text(s, 3, vid, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = os3__version_read(s, 0, obj, blob);
    else if (step != SQLITE_DONE)
        rc = os3__sql_fail(st, "reading a version");
    else if (vid)
        rc = rd_fail(OS3_RC_NO_SUCH_VERSION, "%s/%s has no version %s", bucket, key, vid);
    else
        rc = rd_fail(OS3_RC_NO_SUCH_KEY, "%s/%s does not exist", bucket, key);
    sqlite3_finalize(s);
    if (rc == 0 && obj->is_delete_marker)
        rc = vid ? rd_fail(OS3_RC_METHOD_NOT_ALLOWED, "%s/%s version %s is a delete marker",
                           bucket, key, vid)
                 : rd_fail(OS3_RC_NO_SUCH_KEY, "%s/%s is deleted (its latest version is a "
                           "delete marker)", bucket, key);
    return rc;
}

static int step_done(os3_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : os3__sql_fail(st, what);
    sqlite3_finalize(s);
    return rc;
}

int os3__version_remove(os3_store *st, const char *bucket, const char *key, const char *vid,
                        bool *found, bool *was_marker, char **blob_out)
{
    *found = false;
    *blob_out = NULL;
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT is_marker, blob, noncurrent_us IS NULL FROM versions "
                          "WHERE bucket = ? AND key = ? AND version_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, vid, -1, SQLITE_STATIC);
    bool was_latest = false;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *found = true;
        if (was_marker)
            *was_marker = sqlite3_column_int(s, 0) != 0;
        *blob_out = os3__col_strdup(s, 1);
        was_latest = sqlite3_column_int(s, 2) != 0;
    } else if (step != SQLITE_DONE) {
        rc = os3__sql_fail(st, "reading a version");
    }
    sqlite3_finalize(s);
    if (rc < 0 || !*found)
        return rc;
    rc = os3__prepare(st, "DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
                      &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, vid, -1, SQLITE_STATIC);
        rc = step_done(st, s, "removing a version");
    }
    /* The next newest becomes current again: removing the latest delete
     * marker is how S3 users undelete an object. */
    if (rc == 0 && was_latest) {
        rc = os3__prepare(st, "UPDATE versions SET noncurrent_us = NULL WHERE bucket = ?1 "
                          "AND key = ?2 AND seq = (SELECT max(seq) FROM versions "
                          "WHERE bucket = ?1 AND key = ?2)", &s);
        if (rc == 0) {
            sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
            rc = step_done(st, s, "promoting the previous version");
        }
    }
    if (rc < 0) {
        free(*blob_out);
        *blob_out = NULL;
    }
    return rc;
}

int os3__version_add(os3_store *st, const os3__newver *nv, enum os3_versioning vs,
                     char vid_out[OS3_VERSION_ID_MAX], int64_t *mtime_out,
                     char **replaced_blob)
{
    *replaced_blob = NULL;
    int64_t seq = os3__next_seq(st);
    int64_t now = rd_clock_now_us();
    int rc = vs == OS3_VERSIONING_ENABLED ? os3__version_id_new(seq, vid_out) : 0;
    /* The current version is retired before the null version is removed:
     * removing a current null version first would promote its predecessor
     * and the retirement would then restart that version's noncurrent
     * clock, which lifecycle rules count from. */
    sqlite3_stmt *s;
    if (rc == 0)
        rc = os3__prepare(st, "UPDATE versions SET noncurrent_us = ? WHERE bucket = ? "
                          "AND key = ? AND noncurrent_us IS NULL", &s);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_text(s, 2, nv->bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, nv->key, -1, SQLITE_STATIC);
        rc = step_done(st, s, "retiring the current version");
    }
    if (rc == 0 && vs != OS3_VERSIONING_ENABLED) {
        /* Unversioned or Suspended: the write is the "null" version and
         * replaces the previous null version wherever it is in the stack;
         * other versions stay. */
        snprintf(vid_out, OS3_VERSION_ID_MAX, "%s", OS3_NULL_VERSION);
        bool found;
        rc = os3__version_remove(st, nv->bucket, nv->key, OS3_NULL_VERSION, &found, NULL,
                                 replaced_blob);
    }
    if (rc == 0)
        rc = os3__prepare(st, "INSERT INTO versions(bucket, key, version_id, seq, is_marker, "
                          "mtime_us, size, etag, blob, parts_count, " OS3_META_COLS ") VALUES "
                          "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, nv->bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, nv->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, vid_out, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, seq);
        sqlite3_bind_int(s, 5, nv->is_marker);
        sqlite3_bind_int64(s, 6, now);
        sqlite3_bind_int64(s, 7, (int64_t)nv->size);
        if (nv->etag)
            sqlite3_bind_text(s, 8, nv->etag, -1, SQLITE_STATIC);
        if (nv->blob)
            sqlite3_bind_text(s, 9, nv->blob, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 10, nv->parts_count);
        os3__meta_bind(s, 11, nv->meta);
        rc = step_done(st, s, "adding a version");
    }
    if (rc == 0 && mtime_out)
        *mtime_out = now;
    if (rc < 0) {
        free(*replaced_blob);
        *replaced_blob = NULL;
    }
    return rc;
}

/* Commits a new version whose blob (if any) is already durable in blobs/.
 * On failure the caller still owns (and removes) the blob. */
static int version_commit(os3_store *st, const os3__newver *nv, os3_put_result *res)
{
    char *replaced = NULL;
    enum os3_versioning vs = OS3_VERSIONING_OFF;
    os3__lock(st);
    int rc = os3__begin(st);
    if (rc == 0)
        rc = os3__bucket_versioning(st, nv->bucket, &vs);
    if (rc == 0)
        rc = os3__version_add(st, nv, vs, res->version_id, &res->mtime_us, &replaced);
    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0) {
        os3__rollback(st);
        free(replaced);
        replaced = NULL;
    }
    os3__unlock(st);
    /* Invariant 3: metadata gone first, then the data. */
    os3__blob_unlink(st, replaced);
    free(replaced);
    return rc;
}

/* ======================================================================
 * Streaming writes
 * ====================================================================== */

struct os3_put {
    os3_store *st;
    char *bucket;
    char *key;
    os3_meta meta;
    char *upload_id;       /* parts only */
    int part_number;
    char *tmp_path;
    int fd;
    os3__md5 *md5;
    uint64_t size;
    bool failed;
};

static int put_new(os3_store *st, const char *bucket, const char *key, os3_put **out)
{
    os3_put *p = rd_calloc(1, sizeof *p);
    p->st = st;
    p->fd = -1;
    p->bucket = rd_strdup(bucket);
    p->key = rd_strdup(key);
    p->md5 = os3__md5_new();
    int rc = os3__tmp_create(st, &p->tmp_path, &p->fd);
    if (rc < 0) {
        os3_put_abort(p);
        return rc;
    }
    *out = p;
    return 0;
}

int os3_put_begin(os3_store *st, const char *bucket, const char *key, const os3_meta *meta,
                  os3_put **out)
{
    *out = NULL;
    int rc = os3__key_check(bucket, key);
    if (rc < 0)
        return rc;
    os3__lock(st);
    rc = os3__bucket_versioning(st, bucket, NULL);
    os3__unlock(st);
    if (rc == 0)
        rc = put_new(st, bucket, key, out);
    if (rc == 0)
        os3__meta_copy(&(*out)->meta, meta);
    return rc;
}

int os3_part_begin(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                   int part_number, os3_put **out)
{
    *out = NULL;
    if (part_number < 1 || part_number > OS3_PART_NUMBER_MAX)
        return rd_fail(OS3_RC_INVALID_ARGUMENT, "%s/%s: part number %d is not between 1 and %d",
                       bucket, key, part_number, OS3_PART_NUMBER_MAX);
    os3__lock(st);
    int rc = os3__upload_find(st, bucket, key, upload_id, NULL);
    os3__unlock(st);
    if (rc == 0)
        rc = put_new(st, bucket, key, out);
    if (rc == 0) {
        (*out)->upload_id = rd_strdup(upload_id);
        (*out)->part_number = part_number;
    }
    return rc;
}

int os3_put_write(os3_put *p, const void *data, size_t len)
{
    if (p->failed)
        return rd_fail(RD_EINTERNAL, "objstore: write after a failed write to %s/%s",
                       p->bucket, p->key);
    if (p->size + len > OS3_PUT_MAX) {
        p->failed = true;
        return rd_fail(OS3_RC_ENTITY_TOO_LARGE, "%s/%s: a single upload cannot exceed %llu bytes",
                       p->bucket, p->key, (unsigned long long)OS3_PUT_MAX);
    }
    int rc = rd_fs_write_full(p->fd, data, len);
    if (rc < 0) {
        p->failed = true;
        return rd_fail_wrap(rc, "writing %s/%s", p->bucket, p->key);
    }
    os3__md5_update(p->md5, data, len);
    p->size += len;
    return 0;
}

void os3_put_abort(os3_put *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    if (p->tmp_path)
        unlink(p->tmp_path);
    free(p->tmp_path);
    os3__md5_free(p->md5);
    os3__meta_clear(&p->meta);
    free(p->bucket);
    free(p->key);
    free(p->upload_id);
    free(p);
}

/* Part files carry a random suffix: two uploads of the same part number may
 * race, and each row must name the file holding exactly its data. */
static int part_commit(os3_put *p, const char *etag, os3_put_result *res)
{
    os3_store *st = p->st;
    uint8_t rnd[8];
    char hex[17];
    int rc = rd_random_bytes(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    rd_hex_encode(rnd, sizeof rnd, hex);
    char *file = rd_asprintf("%05d-%s", p->part_number, hex);
    char *dir = os3__upload_dir(st, p->upload_id);
    char *path = rd_path_join(dir, file);
    if (rename(p->tmp_path, path) != 0)
        rc = errno == ENOENT
             ? rd_fail(OS3_RC_NO_SUCH_UPLOAD, "%s/%s: multipart upload %s was aborted",
                       p->bucket, p->key, p->upload_id)
             : rd_fail_errno(RD_EIO, "cannot rename %s to %s", p->tmp_path, path);
    else
        rc = rd_fs_fsync_dir(dir);
    bool renamed = rc == 0 || access(path, F_OK) == 0;
    if (renamed) {
        free(p->tmp_path);
        p->tmp_path = NULL;
    }
    char *old_file = NULL;
    int64_t now = rd_clock_now_us();
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    if (rc == 0)
        rc = os3__begin(st);
    if (rc == 0)
        rc = os3__upload_find(st, p->bucket, p->key, p->upload_id, NULL);
    if (rc == 0)
        rc = os3__prepare(st, "SELECT file FROM parts WHERE upload_id = ? AND part_number = ?",
                          &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, p->upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, p->part_number);
        if (sqlite3_step(s) == SQLITE_ROW)
            old_file = os3__col_strdup(s, 0);
        sqlite3_finalize(s);
        rc = os3__prepare(st, "INSERT OR REPLACE INTO parts(upload_id, part_number, size, "
                          "etag, file, mtime_us) VALUES (?,?,?,?,?,?)", &s);
    }
    if (rc == 0) {
        sqlite3_bind_text(s, 1, p->upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, p->part_number);
        sqlite3_bind_int64(s, 3, (int64_t)p->size);
        sqlite3_bind_text(s, 4, etag, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, file, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, now);
        rc = step_done(st, s, "recording a part");
    }
    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0)
        os3__rollback(st);
    os3__unlock(st);
    if (rc < 0 && renamed) {
        unlink(path);
    } else if (rc == 0 && old_file) {
        char *old_path = rd_path_join(dir, old_file);
        unlink(old_path);
        free(old_path);
    }
    if (rc == 0) {
        os3__etag_quote(etag, res->etag);
        res->mtime_us = now;
        res->size = p->size;
    }
    free(old_file);
    free(file);
    free(dir);
    free(path);
    return rc;
}

static int object_commit(os3_put *p, const char *etag, os3_put_result *res)
{
    char id[OS3_BLOB_ID_LEN + 1];
    os3__blob_id_new(id);
    int rc = os3__blob_install(p->st, p->tmp_path, id);
    if (rc < 0)
        return rc;
    free(p->tmp_path);
    p->tmp_path = NULL;
    os3__newver nv = { .bucket = p->bucket, .key = p->key, .size = p->size, .etag = etag,
                       .blob = id, .meta = &p->meta };
    rc = version_commit(p->st, &nv, res);
    if (rc < 0) {
        os3__blob_unlink(p->st, id);
        return rc;
    }
    os3__etag_quote(etag, res->etag);
    res->size = p->size;
    return 0;
}

int os3_put_commit(os3_put *p, const uint8_t *content_md5, os3_put_result *res)
{
    memset(res, 0, sizeof *res);
    uint8_t md5[16];
    char etag[33];
    int rc = 0;
    if (p->failed)
        rc = rd_fail(RD_EINTERNAL, "objstore: commit after a failed write to %s/%s",
                     p->bucket, p->key);
    if (rc == 0) {
        os3__md5_final(p->md5, md5);
        p->md5 = NULL;
        rd_hex_encode(md5, 16, etag);
        if (content_md5 && memcmp(content_md5, md5, 16) != 0)
            rc = rd_fail(OS3_RC_BAD_DIGEST, "%s/%s: the Content-MD5 does not match the data "
                         "received", p->bucket, p->key);
    }
    if (rc == 0 && fsync(p->fd) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot fsync %s", p->tmp_path);
    if (rc == 0) {
        int fd = p->fd;
        p->fd = -1;
        if (close(fd) != 0)
            rc = rd_fail_errno(RD_EIO, "cannot close %s", p->tmp_path);
    }
    if (rc == 0)
        rc = p->upload_id ? part_commit(p, etag, res) : object_commit(p, etag, res);
    os3_put_abort(p);   /* frees; the temp file is gone unless something failed */
    return rc;
}

/* ======================================================================
 * Reading
 * ====================================================================== */

void os3_object_clear(os3_object *obj)
{
    if (!obj)
        return;
    if (obj->fd > 0)
        close(obj->fd);
    free(obj->key);
    os3__meta_clear(&obj->meta);
    memset(obj, 0, sizeof *obj);
    obj->fd = -1;
}

static int object_read(os3_store *st, const char *bucket, const char *key, const char *vid,
                       const os3_range *range, bool open_blob, os3_object *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    int rc = os3__key_check(bucket, key);
    if (rc < 0)
        return rc;
    char blob[OS3_BLOB_ID_LEN + 1];
    os3__lock(st);
    rc = os3__version_find(st, bucket, key, vid, out, blob);
    /* Opened under the lock: a concurrent delete commits its metadata under
     * the same lock before unlinking, so a row seen here still has its file,
     * and the open descriptor keeps the data readable afterwards. */
    if (rc == 0 && open_blob) {
        char *path = os3__blob_path(st, blob);
        out->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (out->fd < 0)
            rc = rd_fail_errno(RD_ECORRUPT, "%s/%s version %s: cannot open its data %s",
                               bucket, key, out->version_id, path);
        free(path);
    }
    os3__unlock(st);
    if (rc == 0)
        rc = os3__range_apply(range, out->size, &out->ranged, &out->offset, &out->length);
    if (rc < 0 && out->fd >= 0) {
        close(out->fd);
        out->fd = -1;
    }
    return rc;
}

int os3_object_get(os3_store *st, const char *bucket, const char *key, const char *version_id,
                   const os3_range *range, os3_object *out)
{
    return object_read(st, bucket, key, version_id, range, true, out);
}

int os3_object_head(os3_store *st, const char *bucket, const char *key,
                    const char *version_id, const os3_range *range, os3_object *out)
{
    return object_read(st, bucket, key, version_id, range, false, out);
}

/* ======================================================================
 * Deleting
 * ====================================================================== */

int os3_object_delete(os3_store *st, const char *bucket, const char *key, const char *vid_in,
                      os3_delete_result *out)
{
    /* Copied first: callers naturally pass out->version_id back in. */
    char vid_buf[OS3_VERSION_ID_MAX];
    const char *version_id = NULL;
    if (vid_in) {
        snprintf(vid_buf, sizeof vid_buf, "%s", vid_in);
        version_id = vid_buf;
    }
    memset(out, 0, sizeof *out);
    int rc = os3__key_check(bucket, key);
    if (rc < 0)
        return rc;
    char *blob = NULL;
    enum os3_versioning vs = OS3_VERSIONING_OFF;
    os3__lock(st);
    rc = os3__begin(st);
    if (rc == 0)
        rc = os3__bucket_versioning(st, bucket, &vs);
    if (rc == 0 && version_id) {
        bool found = false;
        rc = os3__version_remove(st, bucket, key, version_id, &found, &out->delete_marker,
                                 &blob);
        if (rc == 0 && found)
            snprintf(out->version_id, sizeof out->version_id, "%s", version_id);
    } else if (rc == 0 && vs == OS3_VERSIONING_OFF) {
        bool found = false;
        rc = os3__version_remove(st, bucket, key, OS3_NULL_VERSION, &found, NULL, &blob);
    } else if (rc == 0) {
        /* Enabled: a new marker on top; Suspended: a null marker that
         * replaces the null version (os3__version_add does both). */
        os3__newver nv = { .bucket = bucket, .key = key, .is_marker = true };
        rc = os3__version_add(st, &nv, vs, out->version_id, NULL, &blob);
        out->delete_marker = rc == 0;
    }
    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0) {
        os3__rollback(st);
        free(blob);
        blob = NULL;
        memset(out, 0, sizeof *out);
    }
    os3__unlock(st);
    os3__blob_unlink(st, blob);
    free(blob);
    return rc;
}

/* ======================================================================
 * Copying
 * ====================================================================== */

int os3__copy_source_open(os3_store *st, const char *bucket, const char *key, const char *vid,
                          os3_object *src, char blob[OS3_BLOB_ID_LEN + 1])
{
    memset(src, 0, sizeof *src);
    src->fd = -1;
    int rc = os3__key_check(bucket, key);
    if (rc < 0)
        return rc;
    os3__lock(st);
    rc = os3__version_find(st, bucket, key, vid, src, blob);
    if (rc == -OS3_RC_METHOD_NOT_ALLOWED)
        rc = rd_fail(OS3_RC_INVALID_REQUEST, "the copy source %s/%s version %s is a delete "
                     "marker", bucket, key, vid);
    if (rc == 0) {
        char *path = os3__blob_path(st, blob);
        src->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (src->fd < 0)
            rc = rd_fail_errno(RD_ECORRUPT, "%s/%s version %s: cannot open its data %s",
                               bucket, key, src->version_id, path);
        free(path);
    }
    os3__unlock(st);
    return rc;
}

/* A new blob with the source's bytes: a hard link to the immutable source
 * blob when possible (no data copied, already durable), else a copy through
 * tmp/ made durable as every blob. */
static int blob_clone(os3_store *st, const char *src_blob, int src_fd, uint64_t size,
                      char id[OS3_BLOB_ID_LEN + 1])
{
    os3__blob_id_new(id);
    int rc = os3__blob_dir_ready(st, id);
    if (rc < 0)
        return rc;
    char *src_path = os3__blob_path(st, src_blob);
    char *dst_path = os3__blob_path(st, id);
    if (link(src_path, dst_path) == 0) {
        rc = rd_fs_fsync_parent(dst_path);
    } else {
        char *tmp = NULL;
        int fd = -1;
        rc = os3__tmp_create(st, &tmp, &fd);
        if (rc == 0)
            rc = os3__copy_range(src_fd, 0, size, fd, NULL);
        if (rc == 0 && fsync(fd) != 0)
            rc = rd_fail_errno(RD_EIO, "cannot fsync %s", tmp);
        if (fd >= 0)
            close(fd);
        if (rc == 0)
            rc = os3__blob_install(st, tmp, id);
        if (rc < 0 && tmp)
            unlink(tmp);
        free(tmp);
    }
    free(src_path);
    free(dst_path);
    return rc;
}

int os3_object_copy(os3_store *st, const char *src_bucket, const char *src_key,
                    const char *src_version_id, const char *dst_bucket, const char *dst_key,
                    const os3_meta *replace, os3_put_result *out)
{
    memset(out, 0, sizeof *out);
    int rc = os3__key_check(dst_bucket, dst_key);
    if (rc < 0)
        return rc;
    os3__lock(st);
    rc = os3__bucket_versioning(st, dst_bucket, NULL);
    os3__unlock(st);
    if (rc < 0)
        return rc;
    os3_object src;
    char src_blob[OS3_BLOB_ID_LEN + 1];
    rc = os3__copy_source_open(st, src_bucket, src_key, src_version_id, &src, src_blob);
    if (rc == 0 && !replace && src.is_latest && strcmp(src_bucket, dst_bucket) == 0 &&
        strcmp(src_key, dst_key) == 0)
        rc = rd_fail(OS3_RC_INVALID_REQUEST, "copying %s/%s onto itself needs its metadata "
                     "replaced", src_bucket, src_key);
    char id[OS3_BLOB_ID_LEN + 1];
    bool have_blob = false;
    if (rc == 0) {
        rc = blob_clone(st, src_blob, src.fd, src.size, id);
        have_blob = true;   /* a failure may leave the name behind */
    }
    if (rc == 0) {
        char etag[OS3_ETAG_MAX];
        size_t n = strlen(src.etag);
        snprintf(etag, sizeof etag, "%.*s", n >= 2 ? (int)n - 2 : 0, src.etag + 1);
        os3__newver nv = { .bucket = dst_bucket, .key = dst_key, .size = src.size,
                           .etag = etag, .blob = id, .parts_count = src.parts_count,
                           .meta = replace ? replace : &src.meta };
        rc = version_commit(st, &nv, out);
        if (rc == 0) {
            snprintf(out->etag, sizeof out->etag, "%s", src.etag);
            snprintf(out->source_version_id, sizeof out->source_version_id, "%s",
                     src.version_id);
            out->size = src.size;
        }
    }
    if (rc < 0 && have_blob)
        os3__blob_unlink(st, id);
    if (rc < 0)
        rc = rd_fail_wrap(rc, "copying %s/%s to %s/%s", src_bucket, src_key, dst_bucket,
                          dst_key);
    os3_object_clear(&src);
    return rc;
}
