/* The storage and metadata layer of radiant's S3-compatible object store: the
 * C API the HTTP operations call. Buckets, versioned objects with delete
 * markers, listings, multipart uploads and lifecycle rules, kept in one
 * directory (the server passes STATE/objstore):
 *
 *   meta.db     SQLite (WAL, synchronous=FULL): buckets, versions, uploads,
 *               parts, lifecycle rules; numbered migrations applied at open
 *   blobs/ab/cd/<id>   one immutable file per object version with data
 *   multipart/<upload-id>/<part>-<rand>   parts of uploads in progress
 *   tmp/        files being written; anything here after a crash is garbage
 *   LOCK        flock()ed by the one process that has the store open
 *
 * Private to src/objstore (DESIGN.md section 4). Every function returns 0 or a
 * negative code: -RD_E* (core/error.h) for environment failures (I/O, memory),
 * -OS3_RC_* below for what S3 reports to the client; os3_rc_error() maps
 * both to the S3 error (errors.h: code and HTTP status). rd_error() names the bucket and key.
 *
 * Threads: every function may be called from any thread at the same time,
 * except os3_store_recover() (see there). Data is read and written outside
 * the store's lock; only metadata transactions are serialised.
 *
 * Strings the caller passes are borrowed for the call. Results are written to
 * caller-provided structs that own their strings and must be released with
 * their _clear/_free function, which accepts zeroed or already-cleared structs. */
#ifndef RD_OBJSTORE_STORE_H
#define RD_OBJSTORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "objstore/errors.h"

/* Return codes beyond core's RD_E* range: -(OS3_ERR_FIRST + e) for the S3
 * error e (objstore/errors.h) the client is to get. */
#define OS3_ERR_FIRST 100
#define OS3_RC(e) (OS3_ERR_FIRST + (int)(e))
#define OS3_RC_NO_SUCH_BUCKET OS3_RC(OS3_NO_SUCH_BUCKET)
#define OS3_RC_NO_SUCH_KEY OS3_RC(OS3_NO_SUCH_KEY)
#define OS3_RC_NO_SUCH_VERSION OS3_RC(OS3_NO_SUCH_VERSION)
#define OS3_RC_NO_SUCH_UPLOAD OS3_RC(OS3_NO_SUCH_UPLOAD)
#define OS3_RC_NO_SUCH_LIFECYCLE OS3_RC(OS3_NO_SUCH_LIFECYCLE_CONFIGURATION)
#define OS3_RC_BUCKET_EXISTS OS3_RC(OS3_BUCKET_ALREADY_OWNED_BY_YOU)
#define OS3_RC_BUCKET_NOT_EMPTY OS3_RC(OS3_BUCKET_NOT_EMPTY)
#define OS3_RC_INVALID_BUCKET_NAME OS3_RC(OS3_INVALID_BUCKET_NAME)
#define OS3_RC_KEY_TOO_LONG OS3_RC(OS3_KEY_TOO_LONG)
#define OS3_RC_INVALID_ARGUMENT OS3_RC(OS3_INVALID_ARGUMENT)
#define OS3_RC_INVALID_REQUEST OS3_RC(OS3_INVALID_REQUEST)
#define OS3_RC_MALFORMED_XML OS3_RC(OS3_MALFORMED_XML)
#define OS3_RC_INVALID_PART OS3_RC(OS3_INVALID_PART)
#define OS3_RC_INVALID_PART_ORDER OS3_RC(OS3_INVALID_PART_ORDER)
#define OS3_RC_ENTITY_TOO_SMALL OS3_RC(OS3_ENTITY_TOO_SMALL)
#define OS3_RC_ENTITY_TOO_LARGE OS3_RC(OS3_ENTITY_TOO_LARGE)
#define OS3_RC_BAD_DIGEST OS3_RC(OS3_BAD_DIGEST)
#define OS3_RC_INVALID_RANGE OS3_RC(OS3_INVALID_RANGE)
#define OS3_RC_METHOD_NOT_ALLOWED OS3_RC(OS3_METHOD_NOT_ALLOWED)

/* The S3 error of any return code of this API: OS3_OK for 0, the error of an
 * OS3_RC code, OS3_INTERNAL_ERROR for RD_E* failures. */
enum os3_error os3_rc_error(int rc);

/* S3 limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). */
#define OS3_KEY_MAX 1024                          /* bytes of a key */
#define OS3_LIFECYCLE_RULES_MAX 1000
#define OS3_PUT_MAX (5ULL << 30)                   /* single PUT / one part */
#define OS3_OBJECT_MAX (5ULL << 40)                /* a completed multipart object */
#define OS3_PART_MIN (5ULL << 20)                  /* every part but the last */
#define OS3_PART_NUMBER_MAX 10000
#define OS3_LIST_MAX 1000                          /* max-keys cap */

#define OS3_ETAG_MAX 48        /* "\"" + 32 hex + "-10000" + "\"" + NUL fits */
#define OS3_VERSION_ID_MAX 32  /* "null" or 24 characters */
#define OS3_UPLOAD_ID_MAX 48
#define OS3_NULL_VERSION "null"

typedef struct os3_store os3_store;

/* ---- the store ----------------------------------------------------------- */

/* Opens (creating when needed) the store in dir, migrates meta.db and runs
 * os3_store_recover(). Only one process may have a store open: a second open
 * fails with -RD_ELOCKED. */
int os3_store_open(const char *dir, os3_store **out);
void os3_store_close(os3_store *st);

typedef struct os3_recover_stats {
    unsigned tmp_removed;      /* files in tmp/ (writes a crash interrupted) */
    unsigned blobs_removed;    /* blobs whose metadata commit never happened */
    unsigned parts_removed;    /* part files no upload row names */
    unsigned uploads_removed;  /* upload directories with no upload row */
    unsigned missing_blobs;    /* versions whose blob is gone (damage; logged) */
} os3_recover_stats;

/* Removes data that no metadata names, so a crash at any moment leaves no
 * garbage behind. Run by os3_store_open; callable again only while no other
 * operation is in flight (a PUT between its blob rename and its metadata
 * commit would lose its blob). It visits every blob and version, so its cost
 * grows with the store. stats may be NULL. */
int os3_store_recover(os3_store *st, os3_recover_stats *stats);

/* ---- buckets --------------------------------------------------------------- */

enum os3_versioning {
    OS3_VERSIONING_OFF = 0,    /* never enabled: GetBucketVersioning has no Status */
    OS3_VERSIONING_ENABLED,
    OS3_VERSIONING_SUSPENDED,
};

typedef struct os3_bucket_info {
    char name[64];
    int64_t created_us;
    enum os3_versioning versioning;
} os3_bucket_info;

/* 0 when name follows S3's bucket naming rules, else -OS3_INVALID_BUCKET_NAME. */
int os3_bucket_name_check(const char *name);
int os3_bucket_create(os3_store *st, const char *name);        /* OS3_BUCKET_EXISTS */
int os3_bucket_head(os3_store *st, const char *name, os3_bucket_info *out); /* out may be NULL */
/* Fails with OS3_BUCKET_NOT_EMPTY while any version, delete marker or
 * multipart upload exists. Removes the bucket's lifecycle configuration. */
int os3_bucket_delete(os3_store *st, const char *name);
/* All buckets by name; *out is an array of *n entries the caller free()s. */
int os3_bucket_list(os3_store *st, os3_bucket_info **out, size_t *n);
/* Only ENABLED and SUSPENDED can be set (S3 has no way back to never-enabled). */
int os3_bucket_versioning_set(os3_store *st, const char *name, enum os3_versioning v);
int os3_bucket_versioning_get(os3_store *st, const char *name, enum os3_versioning *out);

/* ---- object metadata -------------------------------------------------------- */

/* One x-amz-meta-* header: name without the prefix, lowercased by the caller. */
typedef struct os3_kv {
    char *name;
    char *value;
} os3_kv;

/* The headers S3 stores with an object and returns on GET/HEAD. NULL fields
 * are absent (storage_class NULL means STANDARD). As input the strings are
 * borrowed; inside an os3_object they are owned by it. */
typedef struct os3_meta {
    char *content_type;
    char *content_encoding;
    char *content_disposition;
    char *cache_control;
    char *expires;             /* the header's text, stored as given */
    char *content_language;
    char *storage_class;
    os3_kv *user;
    size_t n_user;
} os3_meta;

/* What a write acknowledges: ETag header value (quoted), x-amz-version-id
 * ("null" when the bucket is not versioning-enabled), Last-Modified. */
typedef struct os3_put_result {
    char etag[OS3_ETAG_MAX];
    char version_id[OS3_VERSION_ID_MAX];
    int64_t mtime_us;
    uint64_t size;
    /* copies only: the source version read (x-amz-copy-source-version-id) */
    char source_version_id[OS3_VERSION_ID_MAX];
} os3_put_result;

/* ---- streaming writes (PutObject and UploadPart) ------------------------------ */

/* A write in progress: data goes to a file in tmp/ as it arrives, hashed
 * (MD5) and counted on the way, so memory stays bounded at any size. Owned
 * by the caller until os3_put_commit or os3_put_abort, which free it; it may
 * move between threads but must not be used by two at once. */
typedef struct os3_put os3_put;

/* Starts a PutObject. Fails at once (before any data) on an invalid key or a
 * missing bucket. meta may be NULL. */
int os3_put_begin(os3_store *st, const char *bucket, const char *key, const os3_meta *meta,
                  os3_put **out);
/* Starts an UploadPart; part_number 1..10000, else OS3_INVALID_ARGUMENT. */
int os3_part_begin(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                   int part_number, os3_put **out);
/* Appends data; OS3_ENTITY_TOO_LARGE past 5 GiB. After a failure the only
 * valid call is os3_put_abort. */
int os3_put_write(os3_put *p, const void *data, size_t len);
/* Makes the write durable and visible, then frees p (also on failure).
 * content_md5 (16 raw bytes, from Content-MD5) is checked when not NULL:
 * OS3_BAD_DIGEST. Returns 0 only after the blob and its metadata are durable.
 * For a part, result->version_id is empty. */
int os3_put_commit(os3_put *p, const uint8_t *content_md5, os3_put_result *result);
/* Drops the write and frees p; accepts NULL. */
void os3_put_abort(os3_put *p);

/* ---- reading ----------------------------------------------------------------- */

/* A byte range as in an HTTP Range header: bytes=first-last, first- (last =
 * -1), or the suffix -n (first = -1, last = n). */
typedef struct os3_range {
    int64_t first;
    int64_t last;
} os3_range;

/* One object version as GET/HEAD return it. After a successful get, fd is an
 * open descriptor on the blob positioned nowhere in particular: read length
 * bytes from offset with pread()/sendfile(). The fd stays valid even if the
 * version is deleted meanwhile. Released with os3_object_clear. */
typedef struct os3_object {
    char *key;
    char version_id[OS3_VERSION_ID_MAX];
    bool is_delete_marker;      /* x-amz-delete-marker: true */
    bool is_latest;
    int64_t mtime_us;
    uint64_t size;              /* the whole object (Content-Range total) */
    char etag[OS3_ETAG_MAX];    /* quoted */
    int parts_count;            /* 0 for single PUTs (x-amz-mp-parts-count) */
    os3_meta meta;
    int fd;                     /* -1 for HEAD */
    bool ranged;                /* a range was applied: 206 + Content-Range */
    uint64_t offset;            /* first byte to send */
    uint64_t length;            /* bytes to send (Content-Length) */
} os3_object;

/* GetObject / HeadObject. version_id NULL means the latest. range may be NULL.
 *  - no such key, or the latest is a delete marker: OS3_NO_SUCH_KEY; in the
 *    marker case out->is_delete_marker and out->version_id are set, so the
 *    HTTP layer can add x-amz-delete-marker and x-amz-version-id;
 *  - version_id names a delete marker: OS3_METHOD_NOT_ALLOWED, with
 *    out->is_delete_marker, version_id and mtime_us set (Last-Modified);
 *  - unknown version_id: OS3_NO_SUCH_VERSION;
 *  - range starting at or past the end: OS3_INVALID_RANGE (out->size set).
 * out must be os3_object_clear()ed whatever the result. */
int os3_object_get(os3_store *st, const char *bucket, const char *key, const char *version_id,
                   const os3_range *range, os3_object *out);
/* Like get without opening the blob (out->fd stays -1). */
int os3_object_head(os3_store *st, const char *bucket, const char *key, const char *version_id,
                    const os3_range *range, os3_object *out);
void os3_object_clear(os3_object *obj);

/* ---- deleting and copying ---------------------------------------------------- */

typedef struct os3_delete_result {
    bool delete_marker;                      /* x-amz-delete-marker */
    char version_id[OS3_VERSION_ID_MAX];     /* x-amz-version-id; empty when none */
} os3_delete_result;

/* DeleteObject. Without version_id: unversioned bucket -> the object is
 * removed; Enabled -> a delete marker is added (its id returned); Suspended ->
 * a "null" delete marker replaces the null version. With version_id: exactly
 * that version or marker is removed for good; when it was the latest, the
 * next newest becomes current (deleting the latest marker restores the
 * object). Deleting what does not exist succeeds, as in S3. */
int os3_object_delete(os3_store *st, const char *bucket, const char *key, const char *version_id,
                      os3_delete_result *out);

/* CopyObject: a new version of dst from the source version (latest when
 * src_version_id is NULL). replace NULL copies the source's metadata
 * (x-amz-metadata-directive: COPY), else replace is stored (REPLACE). The
 * data is shared (hard link) when possible; the source may be deleted while
 * the copy runs. A delete-marker source: OS3_NO_SUCH_KEY (latest) or
 * OS3_INVALID_REQUEST (by id); copying an object onto itself without
 * replacing metadata: OS3_INVALID_REQUEST. */
int os3_object_copy(os3_store *st, const char *src_bucket, const char *src_key,
                    const char *src_version_id, const char *dst_bucket, const char *dst_key,
                    const os3_meta *replace, os3_put_result *out);

/* ---- listings ---------------------------------------------------------------- */

/* Keys are ordered by their bytes (UTF-8 binary order, as S3). max_keys is
 * capped at 1000; a negative value means 1000; 0 returns no entries, with
 * truncated set when there would have been some. */
typedef struct os3_list_params {
    const char *prefix;         /* NULL or "" for all */
    const char *delimiter;      /* NULL or "" for none */
    /* Listing starts strictly after this key. ListObjects: marker.
     * ListObjectsV2: the decoded continuation token, else start-after.
     * A value that is a CommonPrefix already returned skips that prefix. */
    const char *start_after;
    int max_keys;
} os3_list_params;

typedef struct os3_list_entry {
    char *key;
    int64_t mtime_us;
    uint64_t size;
    char etag[OS3_ETAG_MAX];
    char *storage_class;        /* NULL: STANDARD */
    /* ListObjectVersions only */
    char version_id[OS3_VERSION_ID_MAX];
    bool is_latest;
    bool is_delete_marker;
} os3_list_entry;

typedef struct os3_list_result {
    os3_list_entry *entries;    /* Contents, or Versions and DeleteMarkers interleaved */
    size_t n_entries;
    char **prefixes;            /* CommonPrefixes */
    size_t n_prefixes;
    bool truncated;
    /* The last key or CommonPrefix returned, when truncated: NextMarker
     * (v1) and, encoded, NextContinuationToken (v2); NextKeyMarker for versions. */
    char *next_marker;
    /* ListObjectVersions: NextVersionIdMarker (NULL when the last item was a prefix). */
    char *next_version_id_marker;
} os3_list_result;

/* ListObjects / ListObjectsV2: current versions that are not delete markers. */
int os3_list_objects(os3_store *st, const char *bucket, const os3_list_params *params,
                     os3_list_result *out);
/* ListObjectVersions: every version and delete marker, by key then newest
 * first. params->start_after is the key-marker; version_id_marker (needs a
 * key-marker, else OS3_INVALID_ARGUMENT) resumes after that version of it. */
int os3_list_versions(os3_store *st, const char *bucket, const os3_list_params *params,
                      const char *version_id_marker, os3_list_result *out);
void os3_list_result_clear(os3_list_result *r);

/* ---- multipart uploads ------------------------------------------------------- */

/* CreateMultipartUpload; the metadata is that of the object to be. */
int os3_mpu_create(os3_store *st, const char *bucket, const char *key, const os3_meta *meta,
                   char upload_id[OS3_UPLOAD_ID_MAX]);
/* UploadPartCopy: part part_number from the source version, a range of it
 * when range is not NULL (bytes=first-last, both within the source, else
 * OS3_INVALID_RANGE). result->etag is the part's, source_version_id set. */
int os3_mpu_part_copy(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                      int part_number, const char *src_bucket, const char *src_key,
                      const char *src_version_id, const os3_range *range,
                      os3_put_result *result);

typedef struct os3_part_ref {
    int part_number;
    const char *etag;           /* quoted or not */
} os3_part_ref;

/* CompleteMultipartUpload: parts in ascending order (OS3_INVALID_PART_ORDER),
 * each uploaded with that ETag (OS3_INVALID_PART), all but the last at least
 * 5 MiB (OS3_ENTITY_TOO_SMALL). The object's ETag is S3's: MD5 of the
 * concatenated binary part MD5s, hex, then "-N". Parts not listed are dropped. */
int os3_mpu_complete(os3_store *st, const char *bucket, const char *key, const char *upload_id,
                     const os3_part_ref *parts, size_t n_parts, os3_put_result *result);
int os3_mpu_abort(os3_store *st, const char *bucket, const char *key, const char *upload_id);

typedef struct os3_part_info {
    int part_number;
    uint64_t size;
    char etag[OS3_ETAG_MAX];
    int64_t mtime_us;
} os3_part_info;

typedef struct os3_parts_result {
    os3_part_info *parts;
    size_t n_parts;
    bool truncated;
    int next_part_marker;
    char *storage_class;        /* the upload's, NULL: STANDARD */
} os3_parts_result;

/* ListParts: parts numbered above part_marker, at most max_parts (<= 0: 1000). */
int os3_mpu_list_parts(os3_store *st, const char *bucket, const char *key,
                       const char *upload_id, int part_marker, int max_parts,
                       os3_parts_result *out);
void os3_parts_result_clear(os3_parts_result *r);

typedef struct os3_upload_info {
    char *key;
    char upload_id[OS3_UPLOAD_ID_MAX];
    int64_t initiated_us;
    char *storage_class;
} os3_upload_info;

typedef struct os3_uploads_result {
    os3_upload_info *uploads;   /* by key, then initiation time */
    size_t n_uploads;
    char **prefixes;
    size_t n_prefixes;
    bool truncated;
    char *next_key_marker;
    char *next_upload_id_marker;
} os3_uploads_result;

/* ListMultipartUploads: params->start_after is key-marker; upload_id_marker
 * resumes after that upload of the key-marker. */
int os3_mpu_list_uploads(os3_store *st, const char *bucket, const os3_list_params *params,
                         const char *upload_id_marker, os3_uploads_result *out);
void os3_uploads_result_clear(os3_uploads_result *r);

/* ---- lifecycle --------------------------------------------------------------- */

/* One rule of a bucket's lifecycle configuration. Zero means "not set" for
 * every number. Filters by prefix only (tags are not supported). */
typedef struct os3_lifecycle_rule {
    char *id;
    bool enabled;
    char *prefix;                       /* NULL or "": every key */
    int expiration_days;                /* Expiration/Days */
    int64_t expiration_date;            /* Expiration/Date, seconds since the epoch */
    bool expired_object_delete_marker;  /* Expiration/ExpiredObjectDeleteMarker */
    int noncurrent_days;                /* NoncurrentVersionExpiration/NoncurrentDays */
    int newer_noncurrent_versions;      /* .../NewerNoncurrentVersions */
    int abort_incomplete_days;          /* AbortIncompleteMultipartUpload/DaysAfterInitiation */
} os3_lifecycle_rule;

typedef struct os3_lifecycle {
    os3_lifecycle_rule *rules;
    size_t n_rules;
} os3_lifecycle;

/* PutBucketLifecycleConfiguration: replaces the whole configuration. Rules
 * need an action, non-negative numbers and distinct ids (OS3_INVALID_ARGUMENT). */
int os3_lifecycle_put(os3_store *st, const char *bucket, const os3_lifecycle *lc);
/* OS3_NO_SUCH_LIFECYCLE when the bucket has none. Release with _clear. */
int os3_lifecycle_get(os3_store *st, const char *bucket, os3_lifecycle *out);
int os3_lifecycle_delete(os3_store *st, const char *bucket);
void os3_lifecycle_clear(os3_lifecycle *lc);

typedef struct os3_sweep_stats {
    unsigned current_expired;       /* current versions removed or hidden by a marker */
    unsigned noncurrent_removed;
    unsigned markers_removed;
    unsigned uploads_aborted;
} os3_sweep_stats;

/* Applies every bucket's enabled rules as of now (seconds since the epoch;
 * callers pass rd_clock_now()). As S3, an action is due at the first UTC
 * midnight at or after start + days, where start is the creation time for
 * Expiration and AbortIncompleteMultipartUpload and the moment a version
 * became noncurrent (its successor was written) for NoncurrentVersion-
 * Expiration. stats may be NULL. */
int os3_lifecycle_sweep(os3_store *st, int64_t now, os3_sweep_stats *stats);

#endif
