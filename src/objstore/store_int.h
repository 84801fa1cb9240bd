/* Internals shared by the files of the object store (store*.c, lifecycle.c):
 * the store struct, SQL helpers, blob files and the version-writing core.
 * Nothing outside those files includes this. Names with a double underscore
 * after the prefix are internal. */
#ifndef RD_OBJSTORE_STORE_INT_H
#define RD_OBJSTORE_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "objstore/store.h"

#define OS3_BLOB_ID_LEN 32   /* hex characters of a blob's random name */
/* Leaf directories of blobs/: two levels of 256 (blobs/ab/cd/). */
#define OS3_LEAF_DIRS 65536

struct os3_store {
    char *dir;
    char *blobs_dir;
    char *tmp_dir;
    char *mp_dir;
    int lock_fd;
    /* One connection behind one mutex rather than a connection per call:
     * every metadata change is a short transaction and SQLite admits one
     * writer at a time anyway, so a pool would only add SQLITE_BUSY retries;
     * what takes long (receiving, hashing and fsyncing data) happens outside
     * the mutex. It also makes "read the row, then open its blob" atomic with
     * respect to deletions (see os3_object_get). */
    pthread_mutex_t mu;
    sqlite3 *db;
    int64_t last_seq;                 /* under mu */
    /* Leaf directories whose entry in their parent is known durable in this
     * process; a set bit saves fsyncing the parent again on every write. */
    _Atomic uint64_t leaf_synced[OS3_LEAF_DIRS / 64];
};

/* ---- locking and SQL (callers of the sql helpers hold st->mu) ---- */
void os3__lock(os3_store *st);
void os3__unlock(os3_store *st);
int os3__sql_fail(os3_store *st, const char *what);
int os3__exec(os3_store *st, const char *sql);
int os3__prepare(os3_store *st, const char *sql, sqlite3_stmt **out);
int os3__begin(os3_store *st);        /* BEGIN IMMEDIATE */
int os3__commit(os3_store *st);
void os3__rollback(os3_store *st);
/* A new sequence number: time-based (microseconds) and strictly increasing
 * in this store, whatever the clock does. */
int64_t os3__next_seq(os3_store *st);
/* Version ids sort lexicographically newest first: hex of (2^64-1 - seq) and
 * a random suffix, 24 characters. */
int os3__version_id_new(int64_t seq, char out[OS3_VERSION_ID_MAX]);
/* Reads the bucket's versioning state; OS3_RC_NO_SUCH_BUCKET when missing. */
int os3__bucket_versioning(os3_store *st, const char *bucket, enum os3_versioning *out);
int os3__key_check(const char *bucket, const char *key);
char *os3__col_strdup(sqlite3_stmt *s, int col);   /* NULL for SQL NULL */

/* ---- metadata columns shared by versions and uploads ---- */
#define OS3_META_COLS "content_type, content_encoding, content_disposition, cache_control, " \
                      "expires, content_language, storage_class, user_meta"
#define OS3_META_NCOLS 8
void os3__meta_bind(sqlite3_stmt *s, int first, const os3_meta *m);
int os3__meta_read(sqlite3_stmt *s, int first, os3_meta *m);
void os3__meta_copy(os3_meta *dst, const os3_meta *src);
void os3__meta_clear(os3_meta *m);

/* ---- versions ---- */
#define OS3_VERSION_COLS "key, version_id, seq, is_marker, mtime_us, noncurrent_us, size, " \
                         "etag, blob, parts_count, " OS3_META_COLS
#define OS3_VERSION_NCOLS (10 + OS3_META_NCOLS)
/* Fills obj (not fd/offset/length) from a row selected with OS3_VERSION_COLS
 * starting at column first; the blob id goes to blob (may be NULL). */
int os3__version_read(sqlite3_stmt *s, int first, os3_object *obj,
                      char blob[OS3_BLOB_ID_LEN + 1]);
/* The version (latest when vid is NULL) under the lock; errors as os3_object_get. */
int os3__version_find(os3_store *st, const char *bucket, const char *key, const char *vid,
                      os3_object *obj, char blob[OS3_BLOB_ID_LEN + 1]);

typedef struct os3__newver {
    const char *bucket;
    const char *key;
    bool is_marker;
    uint64_t size;
    const char *etag;             /* unquoted hex, or hex-N */
    const char *blob;             /* NULL for markers */
    int parts_count;
    const os3_meta *meta;         /* may be NULL */
} os3__newver;

/* Inside a transaction: adds a version as the key's latest, following the
 * bucket's versioning state (a null version replaces the previous null
 * version, whose blob id is returned in *replaced_blob to be unlinked after
 * the commit; free()). Writes the new id and mtime. */
int os3__version_add(os3_store *st, const os3__newver *nv, enum os3_versioning vs,
                     char vid_out[OS3_VERSION_ID_MAX], int64_t *mtime_out,
                     char **replaced_blob);
/* Inside a transaction: removes exactly (bucket, key, vid); when it was the
 * latest, the next newest becomes current. *found false when absent. */
int os3__version_remove(os3_store *st, const char *bucket, const char *key, const char *vid,
                        bool *found, bool *was_marker, char **blob_out);

/* The source of a copy (latest when vid is NULL) with its data opened in
 * src->fd; a delete marker named by id is OS3_RC_INVALID_REQUEST. */
int os3__copy_source_open(os3_store *st, const char *bucket, const char *key, const char *vid,
                          os3_object *src, char blob[OS3_BLOB_ID_LEN + 1]);

/* ---- blobs and files ---- */
/* Creates a file in tmp/ (O_EXCL); *path is malloc()ed. */
int os3__tmp_create(os3_store *st, char **path, int *fd);
void os3__blob_id_new(char id[OS3_BLOB_ID_LEN + 1]);
char *os3__blob_path(const os3_store *st, const char *id);
/* Makes blobs/ab/cd/ exist with a durable entry, for the blob id. */
int os3__blob_dir_ready(os3_store *st, const char *id);
/* Renames a complete, fsynced file to the blob's place and fsyncs the directory. */
int os3__blob_install(os3_store *st, const char *tmp_path, const char *id);
/* Removes a blob whose metadata is gone; failure is only logged (recovery
 * would remove it at the next open). Accepts NULL. */
void os3__blob_unlink(const os3_store *st, const char *id);
/* Copies len bytes of src_fd from off to the end of dst_fd (copy_file_range,
 * falling back to read/write), updating md5 when not NULL. */
typedef struct os3__md5 os3__md5;
int os3__copy_range(int src_fd, uint64_t off, uint64_t len, int dst_fd, os3__md5 *md5);

/* ---- MD5 (ETags are MD5 by S3's definition, not by choice) ---- */
os3__md5 *os3__md5_new(void);
void os3__md5_update(os3__md5 *m, const void *data, size_t len);
void os3__md5_final(os3__md5 *m, uint8_t out[16]);   /* and frees m */
void os3__md5_free(os3__md5 *m);
void os3__etag_quote(const char *etag, char out[OS3_ETAG_MAX]);

/* ---- ranges ---- */
int os3__range_apply(const os3_range *r, uint64_t size, bool *ranged, uint64_t *off,
                     uint64_t *len);

/* ---- multipart (store_multipart.c), used by bucket delete and lifecycle ---- */
/* Removes the upload's rows (in the caller's transaction). */
int os3__upload_remove_rows(os3_store *st, const char *upload_id);
char *os3__upload_dir(const os3_store *st, const char *upload_id);

/* Successor of a prefix in byte order (strings starting with p are < it);
 * NULL when there is none (all 0xff). */
char *os3__prefix_successor(const char *p);

/* Under the lock: the multipart upload's row (OS3_RC_NO_SUCH_UPLOAD when
 * there is none, OS3_RC_NO_SUCH_BUCKET), its metadata read into meta when
 * not NULL. */
int os3__upload_find(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                     os3_meta *meta);

#endif
