/* Multipart uploads: create, part copy, complete, abort and ListParts (parts
 * themselves arrive through os3_part_begin and the streaming writer, and
 * ListMultipartUploads lives with the other listings). Parts are files in
 * multipart/<upload-id>/ named by the parts table; completing concatenates
 * the listed parts into one new blob, so a completed object reads like any
 * other (one fd, sendfile-able). */
#include "objstore/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/fs.h"
#include "core/log.h"

char *os3__upload_dir(const os3_store *st, const char *upload_id)
{
    return rd_path_join(st->mp_dir, upload_id);
}

int os3__upload_remove_rows(os3_store *st, const char *upload_id)
{
    static const char *const sql[] = {
        "DELETE FROM parts WHERE upload_id = ?",
        "DELETE FROM uploads WHERE upload_id = ?",
    };
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        sqlite3_stmt *s;
        rc = os3__prepare(st, sql[i], &s);
        if (rc < 0)
            break;
        sqlite3_bind_text(s, 1, upload_id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = os3__sql_fail(st, "removing an upload");
        sqlite3_finalize(s);
    }
    return rc;
}

int os3__upload_find(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                       os3_meta *meta)
{
    int rc = os3__bucket_versioning(st, bucket, NULL);
    sqlite3_stmt *s;
    if (rc == 0)
        rc = os3__prepare(st, "SELECT " OS3_META_COLS " FROM uploads WHERE upload_id = ? "
                          "AND bucket = ? AND key = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && meta)
        rc = os3__meta_read(s, 0, meta);
    else if (step == SQLITE_DONE)
        rc = rd_fail(OS3_RC_NO_SUCH_UPLOAD, "%s/%s has no multipart upload %s", bucket, key,
                     upload_id);
    else if (step != SQLITE_ROW)
        rc = os3__sql_fail(st, "reading an upload");
    sqlite3_finalize(s);
    return rc;
}

int os3_mpu_create(os3_store *st, const char *bucket, const char *key, const os3_meta *meta,
                   char upload_id[OS3_UPLOAD_ID_MAX])
{
    upload_id[0] = '\0';
    int rc = os3__key_check(bucket, key);
    if (rc < 0)
        return rc;
    uint8_t rnd[8];
    char hex[17];
    rc = rd_random_bytes(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    rd_hex_encode(rnd, sizeof rnd, hex);
    os3__lock(st);
    int64_t seq = os3__next_seq(st);
    os3__unlock(st);
    char id[OS3_UPLOAD_ID_MAX];
    snprintf(id, sizeof id, "%016" PRIx64 "%s", (uint64_t)seq, hex);
    /* The directory first, so parts always have somewhere to go; one with
     * no row (a crash before the commit) is removed by recovery. */
    char *dir = os3__upload_dir(st, id);
    if (mkdir(dir, 0750) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot create %s", dir);
    else
        rc = rd_fs_fsync_dir(st->mp_dir);
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    if (rc == 0)
        rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc == 0)
        rc = os3__prepare(st, "INSERT INTO uploads(upload_id, bucket, key, seq, initiated_us, "
                          OS3_META_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, seq);
        sqlite3_bind_int64(s, 5, rd_clock_now_us());
        os3__meta_bind(s, 6, meta);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = os3__sql_fail(st, "creating an upload");
    }
    sqlite3_finalize(s);
    os3__unlock(st);
    if (rc < 0)
        rd_fs_remove_tree(dir);
    else
        snprintf(upload_id, OS3_UPLOAD_ID_MAX, "%s", id);
    free(dir);
    return rc;
}

int os3_mpu_abort(os3_store *st, const char *bucket, const char *key, const char *upload_id)
{
    os3__lock(st);
    int rc = os3__begin(st);
    if (rc == 0)
        rc = os3__upload_find(st, bucket, key, upload_id, NULL);
    if (rc == 0)
        rc = os3__upload_remove_rows(st, upload_id);
    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0)
        os3__rollback(st);
    os3__unlock(st);
    if (rc == 0) {
        /* Metadata first, then the data; recovery finishes this if we crash. */
        char *dir = os3__upload_dir(st, upload_id);
        if (rd_fs_remove_tree(dir) < 0)
            RD_WARN("objstore: %s", rd_error());
        free(dir);
    }
    return rc;
}

/* ======================================================================
 * UploadPartCopy
 * ====================================================================== */

int os3_mpu_part_copy(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                      int part_number, const char *src_bucket, const char *src_key,
                      const char *src_version_id, const os3_range *range,
                      os3_put_result *result)
{
    memset(result, 0, sizeof *result);
    os3_object src = { .fd = -1 };
    char blob[OS3_BLOB_ID_LEN + 1];
    os3_put *p = NULL;
    int rc = os3_part_begin(st, bucket, key, upload_id, part_number, &p);
    if (rc == 0)
        rc = os3__copy_source_open(st, src_bucket, src_key, src_version_id, &src, blob);
    uint64_t off = 0, len = src.size;
    /* x-amz-copy-source-range must be bytes=first-last inside the source. */
    if (rc == 0 && range) {
        if (range->first < 0 || range->last < range->first ||
            (uint64_t)range->last >= src.size)
            rc = rd_fail(OS3_RC_INVALID_RANGE, "%s/%s: the copy range %" PRId64 "-%" PRId64
                         " is not inside the %" PRIu64 " byte source", src_bucket, src_key,
                         range->first, range->last, src.size);
        off = (uint64_t)range->first;
        len = (uint64_t)(range->last - range->first) + 1;
    }
    /* Through the part writer, so the part is hashed and committed exactly
     * like an uploaded one. */
    enum { CHUNK = 1 << 16 };
    uint8_t *buf = rc == 0 ? rd_malloc(CHUNK) : NULL;
    while (rc == 0 && len > 0) {
        size_t n = len < CHUNK ? (size_t)len : CHUNK;
        rc = rd_fs_pread_full(src.fd, buf, n, off);
        if (rc == 0)
            rc = os3_put_write(p, buf, n);
        off += n;
        len -= n;
    }
    free(buf);
    if (rc == 0) {
        rc = os3_put_commit(p, NULL, result);
        p = NULL;
    }
    os3_put_abort(p);
    if (rc == 0)
        snprintf(result->source_version_id, sizeof result->source_version_id, "%s",
                 src.version_id);
    os3_object_clear(&src);
    return rc;
}

/* ======================================================================
 * CompleteMultipartUpload
 * ====================================================================== */

typedef struct chosen_part {
    char *file;
    uint64_t size;
    uint8_t md5[16];
} chosen_part;

/* Compares ETags ignoring quotes and hex case, as clients send either. */
static bool etag_matches(const char *given, const char *stored)
{
    size_t n = strlen(given);
    if (n >= 2 && given[0] == '"' && given[n - 1] == '"') {
        given++;
        n -= 2;
    }
    return n == strlen(stored) && strncasecmp(given, stored, n) == 0;
}

/* Under the lock: checks the list against the parts table (S3's rules and
 * error codes) and returns what to concatenate. */
static int parts_choose(os3_store *st, const char *bucket, const char *key,
                        const char *upload_id, const os3_part_ref *parts, size_t n,
                        chosen_part *out)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT size, etag, file FROM parts WHERE upload_id = ? "
                          "AND part_number = ?", &s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, parts[i].part_number);
        int step = sqlite3_step(s);
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = os3__sql_fail(st, "reading a part");
            break;
        }
        const char *etag = step == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 1) : NULL;
        if (!etag || !parts[i].etag || !etag_matches(parts[i].etag, etag)) {
            rc = rd_fail(OS3_RC_INVALID_PART, "%s/%s upload %s: part %d %s", bucket, key,
                         upload_id, parts[i].part_number,
                         etag ? "has a different ETag" : "was not uploaded");
            break;
        }
        out[i].size = (uint64_t)sqlite3_column_int64(s, 0);
        out[i].file = os3__col_strdup(s, 2);
        if (rd_hex_decode(etag, out[i].md5, 16) < 0)
            rc = rd_fail(RD_ECORRUPT, "%s/%s upload %s: part %d has a damaged ETag", bucket,
                         key, upload_id, parts[i].part_number);
        else if (i + 1 < n && out[i].size < OS3_PART_MIN)
            rc = rd_fail(OS3_RC_ENTITY_TOO_SMALL, "%s/%s upload %s: part %d is %" PRIu64
                         " bytes; all parts but the last must be at least %llu", bucket, key,
                         upload_id, parts[i].part_number, out[i].size,
                         (unsigned long long)OS3_PART_MIN);
    }
    sqlite3_finalize(s);
    return rc;
}

/* True when the part rows still name the files chosen (no part was
 * re-uploaded while the object was being assembled). */
static int parts_unchanged(os3_store *st, const char *upload_id, const os3_part_ref *parts,
                           size_t n, const chosen_part *chosen, bool *same)
{
    *same = true;
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT file FROM parts WHERE upload_id = ? AND part_number = ?",
                          &s);
    for (size_t i = 0; i < n && rc == 0 && *same; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, parts[i].part_number);
        *same = sqlite3_step(s) == SQLITE_ROW &&
                strcmp((const char *)sqlite3_column_text(s, 0), chosen[i].file) == 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int assemble(os3_store *st, const char *upload_id, const chosen_part *parts, size_t n,
                    const char *id)
{
    char *tmp = NULL;
    int fd = -1;
    char *dir = os3__upload_dir(st, upload_id);
    int rc = os3__tmp_create(st, &tmp, &fd);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = rd_path_join(dir, parts[i].file);
        int pfd = open(path, O_RDONLY | O_CLOEXEC);
        if (pfd < 0) {
            rc = errno == ENOENT
                 ? rd_fail(OS3_RC_NO_SUCH_UPLOAD, "upload %s was aborted or changed while "
                           "completing", upload_id)
                 : rd_fail_errno(RD_EIO, "cannot open %s", path);
        } else {
            rc = os3__copy_range(pfd, 0, parts[i].size, fd, NULL);
            close(pfd);
        }
        free(path);
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot fsync %s", tmp);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = rd_fail_errno(RD_EIO, "cannot close %s", tmp);
    if (rc == 0)
        rc = os3__blob_install(st, tmp, id);
    if (rc < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/* result is filled only at the end: callers may pass ETags that live in it. */
static int mpu_complete(os3_store *st, const char *bucket, const char *key,
                        const char *upload_id, const os3_part_ref *parts, size_t n_parts,
                        os3_put_result *result)
{
    if (n_parts == 0)
        return rd_fail(OS3_RC_MALFORMED_XML, "%s/%s upload %s: completing needs at least one part",
                       bucket, key, upload_id);
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].part_number < 1 || parts[i].part_number > OS3_PART_NUMBER_MAX)
            return rd_fail(OS3_RC_INVALID_PART, "%s/%s upload %s: part number %d is invalid",
                           bucket, key, upload_id, parts[i].part_number);
        if (i > 0 && parts[i].part_number <= parts[i - 1].part_number)
            return rd_fail(OS3_RC_INVALID_PART_ORDER, "%s/%s upload %s: parts must be listed in "
                           "ascending order (%d after %d)", bucket, key, upload_id,
                           parts[i].part_number, parts[i - 1].part_number);
    }
    chosen_part *chosen = rd_calloc(n_parts, sizeof *chosen);
    os3_meta meta = { 0 };
    os3__lock(st);
    int rc = os3__upload_find(st, bucket, key, upload_id, &meta);
    if (rc == 0)
        rc = parts_choose(st, bucket, key, upload_id, parts, n_parts, chosen);
    os3__unlock(st);

    /* S3's multipart ETag: MD5 over the parts' binary MD5s, then "-N". */
    uint64_t total = 0;
    char etag[OS3_ETAG_MAX];
    if (rc == 0) {
        os3__md5 *m = os3__md5_new();
        for (size_t i = 0; i < n_parts; i++) {
            os3__md5_update(m, chosen[i].md5, 16);
            total += chosen[i].size;
        }
        uint8_t md5[16];
        char hex[33];
        os3__md5_final(m, md5);
        rd_hex_encode(md5, 16, hex);
        snprintf(etag, sizeof etag, "%s-%zu", hex, n_parts);
        if (total > OS3_OBJECT_MAX)
            rc = rd_fail(OS3_RC_ENTITY_TOO_LARGE, "%s/%s: %" PRIu64 " bytes is more than an "
                         "object may hold", bucket, key, total);
    }
    char id[OS3_BLOB_ID_LEN + 1];
    bool installed = false;
    if (rc == 0) {
        os3__blob_id_new(id);
        rc = assemble(st, upload_id, chosen, n_parts, id);
        installed = rc == 0;
    }
    char *replaced = NULL;
    if (rc == 0) {
        enum os3_versioning vs = OS3_VERSIONING_OFF;
        bool same = false;
        os3__lock(st);
        rc = os3__begin(st);
        if (rc == 0)
            rc = os3__upload_find(st, bucket, key, upload_id, NULL);
        if (rc == 0)
            rc = parts_unchanged(st, upload_id, parts, n_parts, chosen, &same);
        if (rc == 0 && !same)
            rc = rd_fail(OS3_RC_INVALID_PART, "%s/%s upload %s: a part was uploaded again while "
                         "completing", bucket, key, upload_id);
        if (rc == 0)
            rc = os3__bucket_versioning(st, bucket, &vs);
        os3__newver nv = { .bucket = bucket, .key = key, .size = total, .etag = etag,
                           .blob = id, .parts_count = (int)n_parts, .meta = &meta };
        if (rc == 0)
            rc = os3__version_add(st, &nv, vs, result->version_id, &result->mtime_us,
                                  &replaced);
        if (rc == 0)
            rc = os3__upload_remove_rows(st, upload_id);
        if (rc == 0)
            rc = os3__commit(st);
        if (rc < 0) {
            os3__rollback(st);
            free(replaced);
            replaced = NULL;
        }
        os3__unlock(st);
    }
    if (rc == 0) {
        os3__etag_quote(etag, result->etag);
        result->size = total;
        char *dir = os3__upload_dir(st, upload_id);
        if (rd_fs_remove_tree(dir) < 0)
            RD_WARN("objstore: %s", rd_error());
        free(dir);
        os3__blob_unlink(st, replaced);
    } else if (installed) {
        os3__blob_unlink(st, id);
    }
    free(replaced);
    for (size_t i = 0; i < n_parts; i++)
        free(chosen[i].file);
    free(chosen);
    os3__meta_clear(&meta);
    return rc;
}

int os3_mpu_complete(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                     const os3_part_ref *parts, size_t n_parts, os3_put_result *result)
{
    os3_put_result local = { 0 };
    int rc = mpu_complete(st, bucket, key, upload_id, parts, n_parts, &local);
    *result = local;
    return rc;
}

/* ======================================================================
 * ListParts
 * ====================================================================== */

void os3_parts_result_clear(os3_parts_result *r)
{
    if (!r)
        return;
    free(r->parts);
    free(r->storage_class);
    memset(r, 0, sizeof *r);
}

int os3_mpu_list_parts(os3_store *st, const char *bucket, const char *key,
                       const char *upload_id, int part_marker, int max_parts,
                       os3_parts_result *out)
{
    memset(out, 0, sizeof *out);
    if (max_parts <= 0 || max_parts > OS3_LIST_MAX)
        max_parts = OS3_LIST_MAX;
    os3_meta meta = { 0 };
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    int rc = os3__upload_find(st, bucket, key, upload_id, &meta);
    if (rc == 0)
        rc = os3__prepare(st, "SELECT part_number, size, etag, mtime_us FROM parts "
                          "WHERE upload_id = ? AND part_number > ? ORDER BY part_number "
                          "LIMIT ?", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, part_marker);
        sqlite3_bind_int(s, 3, max_parts + 1);   /* one more tells whether it is truncated */
        out->parts = rd_calloc((size_t)max_parts, sizeof *out->parts);
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            if (out->n_parts == (size_t)max_parts) {
                out->truncated = true;
                break;
            }
            os3_part_info *p = &out->parts[out->n_parts++];
            p->part_number = sqlite3_column_int(s, 0);
            p->size = (uint64_t)sqlite3_column_int64(s, 1);
            os3__etag_quote((const char *)sqlite3_column_text(s, 2), p->etag);
            p->mtime_us = sqlite3_column_int64(s, 3);
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = os3__sql_fail(st, "listing parts");
    }
    sqlite3_finalize(s);
    os3__unlock(st);
    if (rc == 0) {
        if (out->truncated)
            out->next_part_marker = out->parts[out->n_parts - 1].part_number;
        out->storage_class = meta.storage_class;
        meta.storage_class = NULL;
    } else {
        os3_parts_result_clear(out);
    }
    os3__meta_clear(&meta);
    return rc;
}
