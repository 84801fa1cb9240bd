/* SigV4 verification for radiant's S3 server (private to src/objstore): given a
 * request as the HTTP layer received it, decide whether it carries a valid AWS
 * Signature Version 4, in the Authorization header or as a presigned URL, and
 * hand back what later stages need (the access key, how the payload is to be
 * checked, the signing key for aws-chunked chunk signatures). Pure functions:
 * no I/O, time comes in as an argument. The canonical request and signature
 * are computed by s3client's signer (s3_sigv4_signature), the same code that
 * signs radiant's outgoing requests. */
#ifndef RD_OBJSTORE_SIGV4_H
#define RD_OBJSTORE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "objstore/errors.h"

#define OS3_AKID_MAX 128           /* longest access key id accepted */
#define OS3_SECRET_MAX 128         /* longest secret access key */
#define OS3_REGION_MAX 64
#define OS3_SCOPE_MAX (8 + 1 + OS3_REGION_MAX + 1 + 2 + 1 + 12)
#define OS3_MAX_SKEW_SECONDS (15 * 60)  /* RequestTimeTooSkewed beyond this */
#define OS3_PRESIGN_MAX_EXPIRES 604800  /* seven days */

typedef struct os3_header {
    const char *name;      /* any case */
    const char *value;     /* as received; repeated names are joined with ',' */
} os3_header;

/* A request as the HTTP layer sees it.
 *
 * The query is the *raw* query string (the bytes after '?', still
 * percent-encoded) rather than libmicrohttpd's decoded arguments: the canonical
 * query must be rebuilt from the keys and values exactly as the client encoded
 * them, and decoding loses whether "a+b" meant a '+'. Every key and value is
 * percent-decoded once and re-encoded with s3_uri_encode, so clients that
 * encode more or less than RFC 3986's minimum still verify; '+' is a literal
 * plus (SigV4 clients send a space as %20). The path is likewise the raw path,
 * decoded and re-encoded with '/' kept: S3 does not normalise paths ("." and
 * ".." segments and repeated slashes are part of the key). */
typedef struct os3_request {
    const char *method;            /* "GET" */
    const char *path;              /* "/bucket/key%20name"; "" means "/" */
    const char *query;             /* "prefix=a&max-keys=2" or NULL */
    const os3_header *headers;
    size_t n_headers;
} os3_request;

/* Looks up the secret of an access key id. Copies it NUL-terminated into
 * secret (secret_len bytes) and returns 0; returns -RD_ENOENT when the key is
 * unknown (InvalidAccessKeyId) or another negative RD code on failure
 * (InternalError). */
typedef int (*os3_secret_fn)(void *arg, const char *access_key_id, char *secret,
                             size_t secret_len);

typedef struct os3_auth_config {
    os3_secret_fn secret;
    void *secret_arg;
    /* The region this server answers for; NULL accepts any region in the
     * credential scope (clients default to us-east-1, but users configure
     * others, and radiant serves one region per listener anyway). */
    const char *region;
    int64_t now;                   /* seconds since the epoch, rd_clock_now() */
} os3_auth_config;

/* How the body of an authenticated request must be checked. */
enum os3_payload {
    OS3_PAYLOAD_SHA256,            /* x-amz-content-sha256 is the body's hex SHA-256 */
    OS3_PAYLOAD_UNSIGNED,          /* UNSIGNED-PAYLOAD (and every presigned URL) */
    OS3_PAYLOAD_STREAMING_SIGNED,  /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked */
    OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER, /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

typedef struct os3_auth {
    enum os3_error error;          /* OS3_OK when verified */
    bool anonymous;                /* no signature at all (error is AccessDenied) */
    bool presigned;                /* authenticated by query parameters */
    char access_key_id[OS3_AKID_MAX + 1];
    enum os3_payload payload;
    char payload_sha256[2 * RD_SHA256_LEN + 1];  /* OS3_PAYLOAD_SHA256: lowercase hex */
    /* x-amz-decoded-content-length for the streaming modes, else -1. */
    int64_t decoded_content_length;
    /* What aws-chunked chunk signatures chain on. Secret: os3_auth_clear. */
    uint8_t signing_key[RD_SHA256_LEN];
    char amz_date[17];             /* "20130524T000000Z" */
    char scope[OS3_SCOPE_MAX + 1]; /* "20130524/us-east-1/s3/aws4_request" */
    char seed_signature[2 * RD_SHA256_LEN + 1];
} os3_auth;

/* Verifies req. Returns 0 with auth->error == OS3_OK when the signature is
 * valid. Otherwise sets auth->error to the S3 error to answer with, rd_error()
 * to its Message, and returns -RD_EPASS when the client failed to authenticate
 * (403: AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
 * RequestTimeTooSkewed), -RD_EUSAGE when the request is malformed (400:
 * AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
 * InvalidArgument, InvalidRequest, MissingSecurityHeader), -RD_EINTERNAL when
 * the secret lookup failed (InternalError) or NotImplemented for a payload mode
 * radiant does not decode. A request with no signature at all gets
 * AccessDenied with auth->anonymous set: radiant has no public buckets. */
int os3_sigv4_verify(const os3_request *req, const os3_auth_config *cfg, os3_auth *auth);

/* Wipes the signing key; call when the request is done. Takes NULL. */
void os3_auth_clear(os3_auth *auth);

/* Builds the canonical URI (decode once, re-encode keeping '/') and the
 * canonical query (decode, re-encode, sort, drop X-Amz-Signature when
 * presigned) into NUL-terminated buffers. -RD_EUSAGE on a bad %-escape.
 * Exposed for the fuzzer and tests. */
struct rd_buf;
int os3_sigv4_canonical_uri(const char *raw_path, struct rd_buf *out);
int os3_sigv4_canonical_query(const char *raw_query, bool drop_signature, struct rd_buf *out);

/* Parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
 * Pointers are into a private copy; free with os3_sigv4_authz_free. */
typedef struct os3_sigv4_authz {
    char *copy;
    const char *access_key_id, *date, *region, *service;  /* from Credential */
    const char *signed_headers;    /* "host;x-amz-date" */
    const char *signature;         /* 64 hex digits */
} os3_sigv4_authz;
/* Returns 0, or -RD_EUSAGE with *err set (AuthorizationHeaderMalformed, or
 * InvalidRequest for another algorithm such as AWS signature version 2). */
int os3_sigv4_authz_parse(const char *value, os3_sigv4_authz *out, enum os3_error *err);
void os3_sigv4_authz_free(os3_sigv4_authz *a);

/* The end-of-body check of OS3_PAYLOAD_SHA256: the HTTP layer hashes the body
 * as it streams (rd_sha256_update) and compares here. Returns 0 when it
 * matches, and for the modes that carry no body hash; otherwise -RD_ECORRUPT
 * with *err = XAmzContentSHA256Mismatch and a message naming both values. */
int os3_payload_verify(const os3_auth *auth, const uint8_t sha256[RD_SHA256_LEN],
                       enum os3_error *err);

#endif
