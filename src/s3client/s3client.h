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
