/* The object store's foundation: opening the directory and its metadata
 * database, crash recovery, buckets and versioning state, and the helpers the
 * other store files share (SQL, sequence numbers and ids, blob files, MD5).
 *
 * Durability invariants (DESIGN.md section 3), relied on by recovery:
 *  1. A blob reaches blobs/ only complete: written in tmp/, fsynced, renamed,
 *     its directory fsynced; blobs are never modified afterwards.
 *  2. Metadata naming a blob is committed only after 1; so after a crash
 *     every listed version has its data, and a blob no row names is garbage.
 *  3. Removing a version commits the metadata removal first, then unlinks
 *     the blob; a crash in between leaves an unnamed blob, never a dangling row.
 *  4. Parts follow the same order in multipart/<upload-id>/.
 * os3_store_recover() removes what 1-4 allow to be left behind. */
#include "objstore/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/fs.h"
#include "core/log.h"

#define OS3_BUSY_MS 30000

/* Append-only: never edit a migration that has shipped, add the next one. */
static const char *const migrations[] = {
    /* 1: buckets, versions (objects and delete markers), multipart uploads,
     * lifecycle rules. Keys are TEXT under SQLite's BINARY collation, which
     * compares with memcmp: S3's byte order. noncurrent_us is NULL exactly
     * for the latest version of a key and otherwise the moment its successor
     * was written, which NoncurrentVersionExpiration counts from. */
    "CREATE TABLE buckets ("
    "  name TEXT PRIMARY KEY,"
    "  created_us INTEGER NOT NULL,"
    "  versioning INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE versions ("
    "  bucket TEXT NOT NULL REFERENCES buckets(name),"
    "  key TEXT NOT NULL,"
    "  version_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  is_marker INTEGER NOT NULL,"
    "  mtime_us INTEGER NOT NULL,"
    "  noncurrent_us INTEGER,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  etag TEXT,"
    "  blob TEXT,"
    "  parts_count INTEGER NOT NULL DEFAULT 0,"
    "  content_type TEXT, content_encoding TEXT, content_disposition TEXT,"
    "  cache_control TEXT, expires TEXT, content_language TEXT, storage_class TEXT,"
    "  user_meta BLOB,"
    "  PRIMARY KEY (bucket, key, version_id));"
    "CREATE INDEX versions_by_seq ON versions(bucket, key, seq);"
    "CREATE INDEX versions_current ON versions(bucket, key) WHERE noncurrent_us IS NULL;"
    "CREATE INDEX versions_blob ON versions(blob) WHERE blob IS NOT NULL;"
    "CREATE TABLE uploads ("
    "  upload_id TEXT PRIMARY KEY,"
    "  bucket TEXT NOT NULL REFERENCES buckets(name),"
    "  key TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  initiated_us INTEGER NOT NULL,"
    "  content_type TEXT, content_encoding TEXT, content_disposition TEXT,"
    "  cache_control TEXT, expires TEXT, content_language TEXT, storage_class TEXT,"
    "  user_meta BLOB);"
    "CREATE INDEX uploads_by_key ON uploads(bucket, key, seq);"
    "CREATE TABLE parts ("
    "  upload_id TEXT NOT NULL REFERENCES uploads(upload_id) ON DELETE CASCADE,"
    "  part_number INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL,"
    "  file TEXT NOT NULL,"
    "  mtime_us INTEGER NOT NULL,"
    "  PRIMARY KEY (upload_id, part_number));"
    "CREATE TABLE lifecycle_rules ("
    "  bucket TEXT NOT NULL REFERENCES buckets(name),"
    "  position INTEGER NOT NULL,"
    "  id TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  prefix TEXT NOT NULL,"
    "  expiration_days INTEGER NOT NULL,"
    "  expiration_date INTEGER NOT NULL,"
    "  expired_object_delete_marker INTEGER NOT NULL,"
    "  noncurrent_days INTEGER NOT NULL,"
    "  newer_noncurrent_versions INTEGER NOT NULL,"
    "  abort_incomplete_days INTEGER NOT NULL,"
    "  PRIMARY KEY (bucket, position));",
};

/* ======================================================================
 * Errors
 * ====================================================================== */

enum os3_error os3_rc_error(int rc)
{
    if (rc == 0)
        return OS3_OK;
    int e = -rc - OS3_ERR_FIRST;
    return e > OS3_OK && e < OS3_ERROR_COUNT ? (enum os3_error)e : OS3_INTERNAL_ERROR;
}

/* ======================================================================
 * SQL helpers
 * ====================================================================== */

void os3__lock(os3_store *st) { pthread_mutex_lock(&st->mu); }
void os3__unlock(os3_store *st) { pthread_mutex_unlock(&st->mu); }

int os3__sql_fail(os3_store *st, const char *what)
{
    return rd_fail(RD_EIO, "objstore %s/meta.db: %s: %s", st->dir, what, sqlite3_errmsg(st->db));
}

int os3__exec(os3_store *st, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        int rc = rd_fail(RD_EIO, "objstore %s/meta.db: %s", st->dir,
                         err ? err : sqlite3_errmsg(st->db));
        sqlite3_free(err);
        return rc;
    }
    return 0;
}

int os3__prepare(os3_store *st, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK)
        return os3__sql_fail(st, "prepare");
    return 0;
}

int os3__begin(os3_store *st) { return os3__exec(st, "BEGIN IMMEDIATE"); }
int os3__commit(os3_store *st) { return os3__exec(st, "COMMIT"); }

void os3__rollback(os3_store *st)
{
    /* Not os3__exec: its message would replace the one that matters. */
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t os3__next_seq(os3_store *st)
{
    int64_t now = rd_clock_now_us();
    st->last_seq = now > st->last_seq ? now : st->last_seq + 1;
    return st->last_seq;
}

int os3__version_id_new(int64_t seq, char out[OS3_VERSION_ID_MAX])
{
    uint32_t rnd;
    int rc = rd_random_bytes(&rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    snprintf(out, OS3_VERSION_ID_MAX, "%016" PRIx64 "%08" PRIx32, UINT64_MAX - (uint64_t)seq, rnd);
    return 0;
}

char *os3__col_strdup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? rd_strdup((const char *)t) : NULL;
}

int os3__bucket_versioning(os3_store *st, const char *bucket, enum os3_versioning *out)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT versioning FROM buckets WHERE name = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        if (out)
            *out = (enum os3_versioning)sqlite3_column_int(s, 0);
    } else if (step == SQLITE_DONE) {
        rc = rd_fail(OS3_RC_NO_SUCH_BUCKET, "bucket %s does not exist", bucket);
    } else {
        rc = os3__sql_fail(st, "reading a bucket");
    }
    sqlite3_finalize(s);
    return rc;
}

int os3__key_check(const char *bucket, const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0)
        return rd_fail(OS3_RC_KEY_TOO_LONG, "bucket %s: an object key cannot be empty", bucket);
    if (n > OS3_KEY_MAX)
        return rd_fail(OS3_RC_KEY_TOO_LONG, "bucket %s: key of %zu bytes is longer than %d",
                       bucket, n, OS3_KEY_MAX);
    return 0;
}

char *os3__prefix_successor(const char *p)
{
    size_t n = strlen(p);
    char *s = rd_strdup(p);
    while (n > 0 && (unsigned char)s[n - 1] == 0xff)
        n--;
    if (n == 0) {
        free(s);
        return NULL;
    }
    s[n - 1] = (char)((unsigned char)s[n - 1] + 1);
    s[n] = '\0';
    return s;
}

/* ======================================================================
 * Metadata columns
 * ====================================================================== */

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* User metadata as one BLOB: u32 count, then length-prefixed name and value. */
void os3__meta_bind(sqlite3_stmt *s, int first, const os3_meta *m)
{
    static const os3_meta none;
    if (!m)
        m = &none;
    bind_opt(s, first + 0, m->content_type);
    bind_opt(s, first + 1, m->content_encoding);
    bind_opt(s, first + 2, m->content_disposition);
    bind_opt(s, first + 3, m->cache_control);
    bind_opt(s, first + 4, m->expires);
    bind_opt(s, first + 5, m->content_language);
    bind_opt(s, first + 6, m->storage_class);
    if (m->n_user == 0) {
        sqlite3_bind_null(s, first + 7);
        return;
    }
    rd_buf b = RD_BUF_INIT;
    rd_buf_append_u32(&b, (uint32_t)m->n_user);
    for (size_t i = 0; i < m->n_user; i++) {
        rd_buf_append_str(&b, m->user[i].name ? m->user[i].name : "");
        rd_buf_append_str(&b, m->user[i].value ? m->user[i].value : "");
    }
    sqlite3_bind_blob(s, first + 7, b.data, (int)b.len, SQLITE_TRANSIENT);
    rd_buf_free(&b);
}

int os3__meta_read(sqlite3_stmt *s, int first, os3_meta *m)
{
    m->content_type = os3__col_strdup(s, first + 0);
    m->content_encoding = os3__col_strdup(s, first + 1);
    m->content_disposition = os3__col_strdup(s, first + 2);
    m->cache_control = os3__col_strdup(s, first + 3);
    m->expires = os3__col_strdup(s, first + 4);
    m->content_language = os3__col_strdup(s, first + 5);
    m->storage_class = os3__col_strdup(s, first + 6);
    const void *blob = sqlite3_column_blob(s, first + 7);
    if (!blob)
        return 0;
    rd_reader r;
    rd_reader_init(&r, blob, (size_t)sqlite3_column_bytes(s, first + 7));
    uint32_t n = rd_read_u32(&r);
    if (r.bad || n > r.left / 8)
        return rd_fail(RD_ECORRUPT, "objstore: user metadata record is damaged");
    m->user = rd_calloc(n ? n : 1, sizeof *m->user);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        m->user[i].name = rd_read_str(&r, 1u << 16);
        m->user[i].value = rd_read_str(&r, 1u << 16);
        m->n_user = i + 1;
    }
    return r.bad ? rd_fail(RD_ECORRUPT, "objstore: user metadata record is damaged") : 0;
}

static char *dup_opt(const char *s) { return s ? rd_strdup(s) : NULL; }

void os3__meta_copy(os3_meta *dst, const os3_meta *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src)
        return;
    dst->content_type = dup_opt(src->content_type);
    dst->content_encoding = dup_opt(src->content_encoding);
    dst->content_disposition = dup_opt(src->content_disposition);
    dst->cache_control = dup_opt(src->cache_control);
    dst->expires = dup_opt(src->expires);
    dst->content_language = dup_opt(src->content_language);
    dst->storage_class = dup_opt(src->storage_class);
    if (src->n_user) {
        dst->user = rd_calloc(src->n_user, sizeof *dst->user);
        for (size_t i = 0; i < src->n_user; i++) {
            dst->user[i].name = dup_opt(src->user[i].name);
            dst->user[i].value = dup_opt(src->user[i].value);
        }
        dst->n_user = src->n_user;
    }
}

void os3__meta_clear(os3_meta *m)
{
    free(m->content_type);
    free(m->content_encoding);
    free(m->content_disposition);
    free(m->cache_control);
    free(m->expires);
    free(m->content_language);
    free(m->storage_class);
    for (size_t i = 0; i < m->n_user; i++) {
        free(m->user[i].name);
        free(m->user[i].value);
    }
    free(m->user);
    memset(m, 0, sizeof *m);
}

/* ======================================================================
 * MD5, ranges
 * ====================================================================== */

struct os3__md5 {
    EVP_MD_CTX *ctx;
};

os3__md5 *os3__md5_new(void)
{
    os3__md5 *m = rd_calloc(1, sizeof *m);
    m->ctx = EVP_MD_CTX_new();
    if (!m->ctx || EVP_DigestInit_ex(m->ctx, EVP_md5(), NULL) != 1)
        rd_oom();
    return m;
}

void os3__md5_update(os3__md5 *m, const void *data, size_t len)
{
    EVP_DigestUpdate(m->ctx, data, len);
}

void os3__md5_final(os3__md5 *m, uint8_t out[16])
{
    unsigned int n = 16;
    EVP_DigestFinal_ex(m->ctx, out, &n);
    os3__md5_free(m);
}

void os3__md5_free(os3__md5 *m)
{
    if (!m)
        return;
    EVP_MD_CTX_free(m->ctx);
    free(m);
}

void os3__etag_quote(const char *etag, char out[OS3_ETAG_MAX])
{
    snprintf(out, OS3_ETAG_MAX, "\"%s\"", etag ? etag : "");
}

/* RFC 9110 section 14.1.2 as S3 applies it: a range starting at or past the
 * end cannot be satisfied (416); one whose last byte is past the end is cut
 * there; a syntactically backwards range is ignored (the whole object). */
int os3__range_apply(const os3_range *r, uint64_t size, bool *ranged, uint64_t *off,
                     uint64_t *len)
{
    *ranged = false;
    *off = 0;
    *len = size;
    if (!r)
        return 0;
    if (r->first < 0) {
        if (r->last <= 0 || size == 0)
            return rd_fail(OS3_RC_INVALID_RANGE, "the range bytes=-%" PRId64 " cannot be "
                           "satisfied for %" PRIu64 " bytes", r->last, size);
        uint64_t n = (uint64_t)r->last < size ? (uint64_t)r->last : size;
        *ranged = true;
        *off = size - n;
        *len = n;
        return 0;
    }
    if (r->last >= 0 && r->last < r->first)
        return 0;
    if ((uint64_t)r->first >= size)
        return rd_fail(OS3_RC_INVALID_RANGE, "the range starting at byte %" PRId64 " cannot be "
                       "satisfied for %" PRIu64 " bytes", r->first, size);
    uint64_t last = r->last < 0 || (uint64_t)r->last >= size ? size - 1 : (uint64_t)r->last;
    *ranged = true;
    *off = (uint64_t)r->first;
    *len = last - *off + 1;
    return 0;
}

/* ======================================================================
 * Blob files
 * ====================================================================== */

int os3__tmp_create(os3_store *st, char **path, int *fd)
{
    uint8_t rnd[12];
    char hex[sizeof rnd * 2 + 1];
    int rc = rd_random_bytes(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    rd_hex_encode(rnd, sizeof rnd, hex);
    *path = rd_asprintf("%s/%s.tmp", st->tmp_dir, hex);
    *fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (*fd < 0) {
        rc = rd_fail_errno(RD_EIO, "cannot create %s", *path);
        free(*path);
        *path = NULL;
        return rc;
    }
    return 0;
}

void os3__blob_id_new(char id[OS3_BLOB_ID_LEN + 1])
{
    uint8_t rnd[OS3_BLOB_ID_LEN / 2];
    if (rd_random_bytes(rnd, sizeof rnd) < 0)
        rd_oom();   /* no entropy source: nothing in radiant can work */
    rd_hex_encode(rnd, sizeof rnd, id);
}

char *os3__blob_path(const os3_store *st, const char *id)
{
    return rd_asprintf("%s/%.2s/%.2s/%s", st->blobs_dir, id, id + 2, id);
}

static int leaf_index(const char *id)
{
    uint8_t b[2];
    char hex[5] = { id[0], id[1], id[2], id[3], 0 };
    if (rd_hex_decode(hex, b, 2) < 0)
        return -1;
    return b[0] << 8 | b[1];
}

int os3__blob_dir_ready(os3_store *st, const char *id)
{
    int idx = leaf_index(id);
    if (idx < 0)
        return rd_fail(RD_EINTERNAL, "objstore: bad blob id %s", id);
    uint64_t bit = 1ULL << (idx % 64);
    if (atomic_load(&st->leaf_synced[idx / 64]) & bit)
        return 0;
    /* The first-level directories are made and synced at open. The leaf's
     * entry is fsynced even when another thread created it: that thread may
     * not have synced it yet, and this write must not be acknowledged first. */
    char *leaf = rd_asprintf("%s/%.2s/%.2s", st->blobs_dir, id, id + 2);
    char *parent = rd_asprintf("%s/%.2s", st->blobs_dir, id);
    int rc = 0;
    if (mkdir(leaf, 0750) != 0 && errno != EEXIST)
        rc = rd_fail_errno(RD_EIO, "cannot create %s", leaf);
    if (rc == 0)
        rc = rd_fs_fsync_dir(parent);
    if (rc == 0)
        atomic_fetch_or(&st->leaf_synced[idx / 64], bit);
    free(leaf);
    free(parent);
    return rc;
}

int os3__blob_install(os3_store *st, const char *tmp_path, const char *id)
{
    int rc = os3__blob_dir_ready(st, id);
    if (rc < 0)
        return rc;
    char *path = os3__blob_path(st, id);
    if (rename(tmp_path, path) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot rename %s to %s", tmp_path, path);
    else
        rc = rd_fs_fsync_parent(path);
    free(path);
    return rc;
}

void os3__blob_unlink(const os3_store *st, const char *id)
{
    if (!id)
        return;
    char *path = os3__blob_path(st, id);
    if (unlink(path) != 0 && errno != ENOENT)
        RD_WARN("objstore: cannot remove %s: %s", path, strerror(errno));
    free(path);
}

int os3__copy_range(int src_fd, uint64_t off, uint64_t len, int dst_fd, os3__md5 *md5)
{
    /* With no hash to compute the kernel copies (and may share extents). */
    loff_t in_off = (loff_t)off;
    while (!md5 && len > 0) {
        ssize_t n = copy_file_range(src_fd, &in_off, dst_fd, NULL, len, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                      errno == EINVAL))
            break;   /* fall back to read/write below */
        if (n < 0)
            return rd_fail_errno(RD_EIO, "objstore: copying data");
        if (n == 0)
            return rd_fail(RD_EIO, "objstore: source data is shorter than its metadata says");
        len -= (uint64_t)n;
    }
    off = (uint64_t)in_off;
    enum { CHUNK = 1 << 16 };
    uint8_t *buf = len ? rd_malloc(CHUNK) : NULL;
    int rc = 0;
    while (len > 0 && rc == 0) {
        size_t n = len < CHUNK ? (size_t)len : CHUNK;
        rc = rd_fs_pread_full(src_fd, buf, n, off);
        if (rc < 0) {
            rc = rd_fail_wrap(rc, "objstore: reading source data");
            break;
        }
        if (md5)
            os3__md5_update(md5, buf, n);
        rc = rd_fs_write_full(dst_fd, buf, n);
        off += n;
        len -= n;
    }
    free(buf);
    return rc;
}

/* ======================================================================
 * Opening, closing
 * ====================================================================== */

static int read_user_version(os3_store *st, int *v)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "PRAGMA user_version", &s);
    if (rc < 0)
        return rc;
    if (sqlite3_step(s) == SQLITE_ROW)
        *v = sqlite3_column_int(s, 0);
    else
        rc = os3__sql_fail(st, "reading the schema version");
    sqlite3_finalize(s);
    return rc;
}

/* The store is open in one process only (LOCK), so unlike the catalog no
 * other process can be migrating at the same moment. */
static int migrate(os3_store *st)
{
    int latest = (int)(sizeof migrations / sizeof migrations[0]);
    int version = 0;
    int rc = read_user_version(st, &version);
    if (rc == 0 && version > latest)
        return rd_fail(RD_ECONFIG, "objstore %s/meta.db schema version %d is newer than "
                       "this radiant knows (%d); upgrade radiant", st->dir, version, latest);
    while (rc == 0 && version < latest) {
        char *sql = rd_asprintf("BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;",
                                migrations[version], version + 1);
        rc = os3__exec(st, sql);
        free(sql);
        if (rc < 0) {
            os3__rollback(st);
            return rd_fail_wrap(rc, "migration %d", version + 1);
        }
        version++;
    }
    return rc;
}

static int make_dirs(os3_store *st)
{
    int rc = rd_fs_mkdir_p(st->dir, 0750);
    const char *dirs[] = { st->blobs_dir, st->tmp_dir, st->mp_dir };
    for (size_t i = 0; i < 3 && rc == 0; i++)
        if (mkdir(dirs[i], 0750) != 0 && errno != EEXIST)
            rc = rd_fail_errno(RD_EIO, "cannot create %s", dirs[i]);
    if (rc == 0)
        rc = rd_fs_fsync_dir(st->dir);
    /* All 256 first-level blob directories exist from the start, so a write
     * only ever has to make (and sync the entry of) its leaf directory. */
    for (int i = 0; i < 256 && rc == 0; i++) {
        char *d = rd_asprintf("%s/%02x", st->blobs_dir, i);
        if (mkdir(d, 0750) != 0 && errno != EEXIST)
            rc = rd_fail_errno(RD_EIO, "cannot create %s", d);
        free(d);
    }
    if (rc == 0)
        rc = rd_fs_fsync_dir(st->blobs_dir);
    return rc;
}

static int load_last_seq(os3_store *st)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT max(coalesce((SELECT max(seq) FROM versions), 0), "
                          "coalesce((SELECT max(seq) FROM uploads), 0))", &s);
    if (rc < 0)
        return rc;
    if (sqlite3_step(s) == SQLITE_ROW)
        st->last_seq = sqlite3_column_int64(s, 0);
    else
        rc = os3__sql_fail(st, "reading the last sequence number");
    sqlite3_finalize(s);
    return rc;
}

int os3_store_open(const char *dir, os3_store **out)
{
    *out = NULL;
    os3_store *st = rd_calloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    st->lock_fd = -1;
    st->dir = rd_strdup(dir);
    st->blobs_dir = rd_path_join(dir, "blobs");
    st->tmp_dir = rd_path_join(dir, "tmp");
    st->mp_dir = rd_path_join(dir, "multipart");
    char *lock_path = rd_path_join(dir, "LOCK");
    char *db_path = rd_path_join(dir, "meta.db");
    int rc = make_dirs(st);
    if (rc == 0) {
        st->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (st->lock_fd < 0)
            rc = rd_fail_errno(RD_EIO, "cannot open %s", lock_path);
        else if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0)
            rc = errno == EWOULDBLOCK
                 ? rd_fail(RD_ELOCKED, "object store %s is open in another process", dir)
                 : rd_fail_errno(RD_EIO, "cannot lock %s", lock_path);
    }
    if (rc == 0 && sqlite3_open_v2(db_path, &st->db, SQLITE_OPEN_READWRITE |
                                   SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        rc = rd_fail(RD_EIO, "cannot open %s: %s", db_path,
                     st->db ? sqlite3_errmsg(st->db) : "out of memory");
    if (rc == 0) {
        sqlite3_busy_timeout(st->db, OS3_BUSY_MS);
        /* synchronous=FULL: a COMMIT returns only once the WAL is fsynced,
         * which is what lets a PUT be acknowledged right after it. */
        rc = os3__exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "PRAGMA foreign_keys=ON;");
    }
    if (rc == 0)
        rc = migrate(st);
    if (rc == 0)
        rc = load_last_seq(st);
    if (rc == 0)
        rc = os3_store_recover(st, NULL);
    free(lock_path);
    free(db_path);
    if (rc < 0) {
        os3_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void os3_store_close(os3_store *st)
{
    if (!st)
        return;
    if (st->db)
        sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd);   /* releases the flock */
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st->blobs_dir);
    free(st->tmp_dir);
    free(st->mp_dir);
    free(st);
}

/* ======================================================================
 * Recovery
 * ====================================================================== */

static bool row_exists(os3_store *st, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *s;
    if (os3__prepare(st, sql, &s) < 0)
        return true;   /* when in doubt keep the data */
    sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    return step != SQLITE_DONE;
}

static int remove_file(const char *dir, const char *name, unsigned *count)
{
    char *p = rd_path_join(dir, name);
    int rc = 0;
    if (unlink(p) != 0 && errno != ENOENT)
        rc = rd_fail_errno(RD_EIO, "objstore recovery: cannot remove %s", p);
    else
        (*count)++;
    free(p);
    return rc;
}

static int sweep_tmp(os3_store *st, os3_recover_stats *stats)
{
    DIR *d = opendir(st->tmp_dir);
    if (!d)
        return rd_fail_errno(RD_EIO, "cannot open %s", st->tmp_dir);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)))
        if (e->d_name[0] != '.')
            rc = remove_file(st->tmp_dir, e->d_name, &stats->tmp_removed);
    closedir(d);
    return rc;
}

/* Blob names no version row mentions: their metadata commit never happened
 * (invariant 2) or their removal was interrupted (invariant 3). */
static int sweep_blobs(os3_store *st, os3_recover_stats *stats)
{
    int rc = 0;
    for (int i = 0; i < 256 && rc == 0; i++) {
        char *l1 = rd_asprintf("%s/%02x", st->blobs_dir, i);
        DIR *d1 = opendir(l1);
        struct dirent *e1;
        while (d1 && rc == 0 && (e1 = readdir(d1))) {
            if (e1->d_name[0] == '.')
                continue;
            char *leaf = rd_path_join(l1, e1->d_name);
            DIR *d2 = opendir(leaf);
            struct dirent *e2;
            while (d2 && rc == 0 && (e2 = readdir(d2))) {
                if (e2->d_name[0] == '.')
                    continue;
                if (!row_exists(st, "SELECT 1 FROM versions WHERE blob = ?", e2->d_name, NULL))
                    rc = remove_file(leaf, e2->d_name, &stats->blobs_removed);
            }
            if (d2)
                closedir(d2);
            free(leaf);
        }
        if (d1)
            closedir(d1);
        free(l1);
    }
    return rc;
}

static int sweep_multipart(os3_store *st, os3_recover_stats *stats)
{
    DIR *d = opendir(st->mp_dir);
    if (!d)
        return rd_fail_errno(RD_EIO, "cannot open %s", st->mp_dir);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *updir = rd_path_join(st->mp_dir, e->d_name);
        if (!row_exists(st, "SELECT 1 FROM uploads WHERE upload_id = ?", e->d_name, NULL)) {
            rc = rd_fs_remove_tree(updir);
            stats->uploads_removed++;
        } else {
            DIR *pd = opendir(updir);
            struct dirent *pe;
            while (pd && rc == 0 && (pe = readdir(pd)))
                if (pe->d_name[0] != '.' &&
                    !row_exists(st, "SELECT 1 FROM parts WHERE upload_id = ? AND file = ?",
                                e->d_name, pe->d_name))
                    rc = remove_file(updir, pe->d_name, &stats->parts_removed);
            if (pd)
                closedir(pd);
        }
        free(updir);
    }
    closedir(d);
    return rc;
}

/* Rows whose blob is missing cannot come from a crash (invariants 1-3); they
 * mean the disk lost data, which is reported, not papered over. */
static int check_blobs(os3_store *st, os3_recover_stats *stats)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT bucket, key, version_id, blob FROM versions "
                          "WHERE blob IS NOT NULL", &s);
    if (rc < 0)
        return rc;
    while (sqlite3_step(s) == SQLITE_ROW) {
        char *p = os3__blob_path(st, (const char *)sqlite3_column_text(s, 3));
        if (access(p, F_OK) != 0) {
            RD_ERROR("objstore: %s/%s version %s has lost its data (%s)",
                     sqlite3_column_text(s, 0), sqlite3_column_text(s, 1),
                     sqlite3_column_text(s, 2), p);
            stats->missing_blobs++;
        }
        free(p);
    }
    sqlite3_finalize(s);
    return 0;
}

int os3_store_recover(os3_store *st, os3_recover_stats *stats)
{
    os3_recover_stats local = { 0 };
    os3__lock(st);
    int rc = sweep_tmp(st, &local);
    if (rc == 0)
        rc = sweep_blobs(st, &local);
    if (rc == 0)
        rc = sweep_multipart(st, &local);
    if (rc == 0)
        rc = check_blobs(st, &local);
    os3__unlock(st);
    if (rc == 0 && (local.tmp_removed || local.blobs_removed || local.parts_removed ||
                    local.uploads_removed))
        RD_INFO("objstore %s: recovery removed %u temporary files, %u orphan blobs, "
                "%u orphan parts, %u orphan uploads", st->dir, local.tmp_removed,
                local.blobs_removed, local.parts_removed, local.uploads_removed);
    if (stats)
        *stats = local;
    return rc;
}

/* ======================================================================
 * Buckets
 * ====================================================================== */

static bool looks_like_ipv4(const char *s)
{
    int dots = 0, digits = 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (digits == 0 || digits > 3)
                return false;
            dots++;
            digits = 0;
        } else if (*s >= '0' && *s <= '9') {
            digits++;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0 && digits <= 3;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html */
int os3_bucket_name_check(const char *name)
{
    const char *why = NULL;
    size_t n = name ? strlen(name) : 0;
    if (n < 3 || n > 63)
        why = "must be 3 to 63 characters long";
    for (size_t i = 0; !why && i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            why = "may contain only lowercase letters, digits, dots and hyphens";
        else if (c == '.' && i > 0 && name[i - 1] == '.')
            why = "must not contain two adjacent dots";
    }
    if (!why && (name[0] == '.' || name[0] == '-' || name[n - 1] == '.' || name[n - 1] == '-'))
        why = "must begin and end with a letter or digit";
    if (!why && looks_like_ipv4(name))
        why = "must not be formatted as an IP address";
    if (!why && (rd_str_starts_with(name, "xn--") || rd_str_starts_with(name, "sthree-") ||
                 ends_with(name, "-s3alias") || ends_with(name, "--ol-s3")))
        why = "uses a reserved prefix or suffix";
    if (why)
        return rd_fail(OS3_RC_INVALID_BUCKET_NAME, "bucket name \"%s\" %s", name ? name : "", why);
    return 0;
}

int os3_bucket_create(os3_store *st, const char *name)
{
    int rc = os3_bucket_name_check(name);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    rc = os3__prepare(st, "INSERT INTO buckets(name, created_us) VALUES (?, ?)", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, rd_clock_now_us());
        int step = sqlite3_step(s);
        if (step == SQLITE_CONSTRAINT)
            rc = rd_fail(OS3_RC_BUCKET_EXISTS, "bucket %s already exists", name);
        else if (step != SQLITE_DONE)
            rc = os3__sql_fail(st, "creating a bucket");
    }
    sqlite3_finalize(s);
    os3__unlock(st);
    return rc;
}

static void bucket_info_read(sqlite3_stmt *s, os3_bucket_info *out)
{
    snprintf(out->name, sizeof out->name, "%s", sqlite3_column_text(s, 0));
    out->created_us = sqlite3_column_int64(s, 1);
    out->versioning = (enum os3_versioning)sqlite3_column_int(s, 2);
}

int os3_bucket_head(os3_store *st, const char *name, os3_bucket_info *out)
{
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    int rc = os3__prepare(st, "SELECT name, created_us, versioning FROM buckets "
                          "WHERE name = ?", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW && out)
            bucket_info_read(s, out);
        else if (step == SQLITE_DONE)
            rc = rd_fail(OS3_RC_NO_SUCH_BUCKET, "bucket %s does not exist", name);
        else if (step != SQLITE_ROW)
            rc = os3__sql_fail(st, "reading a bucket");
    }
    sqlite3_finalize(s);
    os3__unlock(st);
    return rc;
}

int os3_bucket_list(os3_store *st, os3_bucket_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    os3__lock(st);
    int rc = os3__prepare(st, "SELECT name, created_us, versioning FROM buckets "
                          "ORDER BY name", &s);
    int step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = rd_realloc(*out, cap * sizeof **out);
        }
        bucket_info_read(s, &(*out)[(*n)++]);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = os3__sql_fail(st, "listing buckets");
    sqlite3_finalize(s);
    os3__unlock(st);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int count_rows(os3_store *st, const char *sql, const char *arg, int64_t *count)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, sql, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        *count = sqlite3_column_int64(s, 0);
    else
        rc = os3__sql_fail(st, "counting");
    sqlite3_finalize(s);
    return rc;
}

int os3_bucket_delete(os3_store *st, const char *name)
{
    int64_t versions = 0, uploads = 0;
    os3__lock(st);
    int rc = os3__begin(st);
    if (rc == 0)
        rc = os3__bucket_versioning(st, name, NULL);
    if (rc == 0)
        rc = count_rows(st, "SELECT count(*) FROM (SELECT 1 FROM versions WHERE bucket = ? "
                        "LIMIT 1)", name, &versions);
    if (rc == 0)
        rc = count_rows(st, "SELECT count(*) FROM (SELECT 1 FROM uploads WHERE bucket = ? "
                        "LIMIT 1)", name, &uploads);
    if (rc == 0 && (versions || uploads))
        rc = rd_fail(OS3_RC_BUCKET_NOT_EMPTY, "bucket %s is not empty: it holds %s", name,
                     versions ? "object versions or delete markers" : "multipart uploads");
    sqlite3_stmt *s = NULL;
    if (rc == 0)
        rc = os3__prepare(st, "DELETE FROM lifecycle_rules WHERE bucket = ?", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = os3__sql_fail(st, "deleting a bucket's lifecycle");
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc == 0)
        rc = os3__prepare(st, "DELETE FROM buckets WHERE name = ?", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = os3__sql_fail(st, "deleting a bucket");
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0)
        os3__rollback(st);
    os3__unlock(st);
    return rc;
}

int os3_bucket_versioning_set(os3_store *st, const char *name, enum os3_versioning v)
{
    if (v != OS3_VERSIONING_ENABLED && v != OS3_VERSIONING_SUSPENDED)
        return rd_fail(OS3_RC_INVALID_ARGUMENT, "bucket %s: versioning can only be set to "
                       "Enabled or Suspended", name);
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    int rc = os3__prepare(st, "UPDATE buckets SET versioning = ? WHERE name = ?", &s);
    if (rc == 0) {
        sqlite3_bind_int(s, 1, (int)v);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = os3__sql_fail(st, "setting versioning");
        else if (sqlite3_changes(st->db) == 0)
            rc = rd_fail(OS3_RC_NO_SUCH_BUCKET, "bucket %s does not exist", name);
    }
    sqlite3_finalize(s);
    os3__unlock(st);
    return rc;
}

int os3_bucket_versioning_get(os3_store *st, const char *name, enum os3_versioning *out)
{
    os3__lock(st);
    int rc = os3__bucket_versioning(st, name, out);
    os3__unlock(st);
    return rc;
}
