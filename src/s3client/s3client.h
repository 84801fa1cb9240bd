/* A small S3 client: AWS Signature Version 4 signing and object requests over
 * libcurl, against any S3-compatible endpoint (AWS, Ceph RGW, MinIO, radiant's
 * own object store). Path-style ("http://host/bucket/key") or virtual-host
 * style ("http://bucket.host/key") addressing. */
#ifndef RD_S3CLIENT_H
#define RD_S3CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct s3_client s3_client;

typedef struct s3_client_options {
    const char *endpoint;          /* "http://127.0.0.1:9000" */
    const char *region;            /* "us-east-1" when NULL */
    const char *bucket;
    const char *access_key_id;
    const char *secret_access_key;
    bool path_style;               /* true: endpoint/bucket/key */
    bool verify_tls;
    long timeout_seconds;          /* per request; 0 means 300 */
} s3_client_options;

int s3_client_new(const s3_client_options *opts, s3_client **out);
void s3_client_free(s3_client *c);

/* Object operations. Keys are raw (unencoded) object keys. Errors: -RD_ENOENT
 * for NoSuchKey/404, -RD_ENET for transport failures and other S3 errors, with
 * the S3 error code and message in rd_error(). Safe from several threads. */
int s3_get_object(s3_client *c, const char *key, uint64_t off, uint64_t len, rd_buf *out);
int s3_put_object(s3_client *c, const char *key, const void *data, size_t len);
int s3_head_object(s3_client *c, const char *key, uint64_t *size);
int s3_delete_object(s3_client *c, const char *key);
/* Lists every key under prefix (ListObjectsV2, following continuation tokens). */
int s3_list_objects(s3_client *c, const char *prefix,
                    int (*cb)(void *arg, const char *key, uint64_t size), void *arg);
int s3_head_bucket(s3_client *c);

/* ------------------------------------------------ versions (recovery) -- */

/* GetBucketVersioning: *status receives "Enabled", "Suspended" or "" for a
 * bucket whose versioning was never set (caller frees). -RD_ENOENT for
 * NoSuchBucket. */
int s3_get_bucket_versioning(s3_client *c, char **status);
/* Parses a VersioningConfiguration document into *status as above; -RD_ENET
 * for any other document. Pure, for the unit tests. */
int s3_bucket_versioning_parse(const void *xml, size_t len, char **status);


/* One entry of ListObjectVersions: a data version or a delete marker. */
typedef struct s3_version {
    char *key;
    char *version_id;          /* "null" for an object written while unversioned */
    char *etag;                /* NULL for delete markers */
    bool is_latest;
    bool delete_marker;
    int64_t last_modified_ms;  /* milliseconds since the epoch */
    uint64_t size;             /* 0 for delete markers */
} s3_version;

/* Entries in the order the server listed them (per key, newest first). */
typedef struct s3_version_list {
    s3_version *v;
    size_t n, cap;
} s3_version_list;

void s3_version_list_free(s3_version_list *l);
/* Parses one ListVersionsResult page and appends its Version and
 * DeleteMarker entries to out in document order. When the page is truncated,
 * *next_key and *next_version receive NextKeyMarker and NextVersionIdMarker
 * (caller frees; *next_version may be NULL); otherwise both are NULL.
 * -RD_ENET for a document that is not a valid ListVersionsResult. Pure: no
 * network, exposed for the unit tests. */
int s3_list_versions_parse(const void *xml, size_t len, s3_version_list *out, char **next_key,
                           char **next_version);
/* Lists every version and delete marker under prefix (ListObjectVersions,
 * following key-marker/version-id-marker), appending to out. */
int s3_list_object_versions(s3_client *c, const char *prefix, s3_version_list *out);
/* DeleteObject of one version (a data version or a delete marker): removes
 * it for good. */
int s3_delete_object_version(s3_client *c, const char *key, const char *version_id);
/* DeleteObject without a version id that also reports the version id of the
 * delete marker a versioned bucket creates (NULL when none; caller frees). */
int s3_delete_object_marker(s3_client *c, const char *key, char **marker_version_id);
/* CopyObject of version_id of src_key onto dst_key in the same bucket: a new
 * version, metadata copied. size is the source's size: a single CopyObject is
 * limited to 5 GiB (larger needs UploadPartCopy, not implemented), refused
 * with -RD_EUSAGE before any request. *new_version_id receives the version
 * id of the copy when the server reports one (NULL otherwise; caller frees;
 * new_version_id may be NULL). */
int s3_copy_object_version(s3_client *c, const char *dst_key, const char *src_key,
                           const char *version_id, uint64_t size, char **new_version_id);
#define S3_COPY_MAX_BYTES (5ULL << 30)

/* Parses the timestamps S3 writes ("2024-12-24T10:30:00.123Z", any ISO 8601
 * rd_time_parse accepts) into milliseconds since the epoch; digits beyond
 * the millisecond are dropped. -1 when invalid. */
int s3_time_parse_ms(const char *text, int64_t *ms);

/* ------------------------------------------------- recovery planning -- */

/* Plans of `radiant s3 undelete` and `radiant s3 restore-to-time`
 * (src/s3client/recover.c; dr-guide Scenario 4). Planning is pure: it reads
 * a complete version listing of a prefix and decides, per key, what to do;
 * s3_plan_execute then performs it. A plan borrows the strings of the
 * listing it was made from: keep the listing until the plan is freed. */
enum s3_plan_action {
    S3_PLAN_UNDELETE,   /* remove markers[]: version_id becomes current again */
    S3_PLAN_SKIP,       /* undelete: only delete markers, nothing to bring back */
    S3_PLAN_RESTORE,    /* copy version_id onto the key as a new version */
    S3_PLAN_DELETE,     /* put a delete marker: the key did not exist at T */
};

typedef struct s3_plan_item {
    enum s3_plan_action action;
    const char *key;
    const char *version_id;    /* UNDELETE/RESTORE: the version that becomes current */
    uint64_t size;             /* of that version */
    const char **markers;      /* UNDELETE: delete markers to remove, newest first */
    size_t n_markers;
    /* Filled by s3_plan_execute. */
    int result;                /* 0 or -RD_E* */
    char *error;               /* message when result < 0 */
    char *new_version_id;      /* RESTORE: the copy; DELETE: the new marker (when known) */
} s3_plan_item;

typedef struct s3_plan {
    s3_plan_item *items;       /* in key order */
    size_t n;
    size_t unchanged;          /* restore-to-time: keys already as they were at T */
} s3_plan;

/* For each key whose latest entries are delete markers: remove all those
 * consecutive markers, so that the newest data version under them is current
 * again. Keys without such a data version are SKIP items. */
int s3_plan_undelete(const s3_version_list *l, s3_plan *out);
/* For each key, the entry current at t_ms is the newest one with
 * LastModified <= t_ms (a version written in the very millisecond of T
 * counts as existing at T; of a version and a delete marker of the same
 * millisecond the marker is taken as the newer, other ties keep the
 * server's newest-first order). A data version that is not the current
 * latest one, nor identical to it (same ETag and size: what an earlier
 * restore's copy is), is RESTOREd; a key that did not exist at T (or whose
 * delete marker was current at T) but exists now is DELETEd; the rest is
 * counted unchanged. */
int s3_plan_restore_to_time(const s3_version_list *l, int64_t t_ms, s3_plan *out);
/* Performs every UNDELETE, RESTORE and DELETE item, going on after a
 * failure; fills each item's result. Returns the number of failed items. */
size_t s3_plan_execute(s3_client *c, s3_plan *p);
void s3_plan_free(s3_plan *p);
/* After s3_plan_execute: 0 when every item succeeded, else the first
 * failure's code with rd_error() "N of M action(s) failed: KEY (error); ..."
 * naming up to three keys. What `radiant s3` and the object-recovery runbook
 * report. */
int s3_plan_result(const s3_plan *p);


/* SigV4 pieces, exposed for unit tests against AWS's published examples. */
/* Signs a request: fills `authorization` (the Authorization header value).
 * headers are "name:value" pairs already lowercase-trimmed, sorted by name. */
int s3_sigv4_sign(const char *method, const char *canonical_uri, const char *canonical_query,
                  const char *const *headers, size_t n_headers, const char *payload_sha256_hex,
                  const char *amz_date, const char *region, const char *service,
                  const char *access_key_id, const char *secret_access_key,
                  char *authorization, size_t authorization_len);
/* The pieces of s3_sigv4_sign, shared with the object store's verifier
 * (src/objstore/sigv4.c) so that signing and verifying are one computation. */
/* Derives the signing key of the scope date8/region/service/aws4_request. */
void s3_sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                          const char *service, uint8_t key[32]);
/* Computes the hex signature of a request: builds the canonical request from
 * its parts (headers as for s3_sigv4_sign, in the order given), the string to
 * sign with amz_date and scope ("20130524/us-east-1/s3/aws4_request"), and
 * signs it with signing_key. signed_headers receives "host;range;..." (reset
 * first, NUL-terminated). Fails only on a header without ':'. */
int s3_sigv4_signature(const char *method, const char *canonical_uri, const char *canonical_query,
                       const char *const *headers, size_t n_headers,
                       const char *payload_sha256_hex, const char *amz_date, const char *scope,
                       const uint8_t signing_key[32], rd_buf *signed_headers,
                       char signature_hex[65]);
/* Signature of one chunk of an aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
 * body, chained on the previous chunk's signature (the seed signature of the
 * request for the first chunk). */
void s3_sigv4_chunk_signature(const uint8_t signing_key[32], const char *amz_date,
                              const char *scope, const char *previous_signature_hex,
                              const uint8_t chunk_sha256[32], char signature_hex[65]);
/* RFC 3986 encoding as SigV4 wants it; '/' kept when keep_slash. */
void s3_uri_encode(const char *in, bool keep_slash, rd_buf *out);

#endif
