/* Private to the HTTP front of the object store (server.c, ops_*.c): the
 * per-request state libmicrohttpd carries between the calls of one request,
 * and the helpers the operations answer with. The operations run once the
 * request is authenticated and its body (if any) is complete; only PutObject
 * and UploadPart stream their body, which server.c drives. */
#ifndef RD_OBJSTORE_HTTP_H
#define RD_OBJSTORE_HTTP_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "objstore/chunked.h"
#include "objstore/errors.h"
#include "objstore/objstore.h"
#include "objstore/sigv4.h"
#include "objstore/store.h"
#include "objstore/xml.h"

struct os3_server {
    struct MHD_Daemon *mhd;
    os3_store *st;
    const rd_config *cfg;
    char *listen_host;           /* for virtual-host addressing: BUCKET.listen_host */
    int port;
    /* rd_catalog is one SQLite connection: used by one thread at a time. */
    pthread_mutex_t cat_mu;
    rd_catalog *cat;
};

typedef struct os3_param {
    char *name;                  /* percent-decoded */
    char *value;                 /* percent-decoded; "" for "?uploads" */
} os3_param;

/* What a request's body is for. */
enum os3_body {
    OS3_BODY_DISCARD,            /* none expected, or the request already failed */
    OS3_BODY_BUFFER,             /* an XML document, at most OS3_XML_MAX bytes */
    OS3_BODY_PUT,                /* PutObject / UploadPart: streamed into put */
};

typedef struct os3_req os3_req;
typedef int (*os3_op_fn)(os3_req *r);

struct os3_req {
    os3_server *srv;
    struct MHD_Connection *conn;
    char *raw_uri;               /* the request target as received */
    char *raw_path, *raw_query;  /* split out of raw_uri (still encoded) */
    const char *method;
    bool head;
    os3_header *headers;         /* owned copies, duplicates joined with ',' */
    size_t n_headers;
    os3_param *params;
    size_t n_params;
    char *bucket;                /* NULL for the service (ListBuckets) */
    char *key;                   /* NULL for bucket operations */
    char *resource;              /* /bucket/key, for error documents */
    char request_id[17];
    os3_auth auth;
    bool started;                /* the first call (headers only) is done */
    bool responded;              /* a response is queued */

    /* body */
    enum os3_body body;
    rd_buf buf;
    bool too_big;
    os3_chunked *chunked;
    rd_sha256_ctx *sha;
    os3_put *put;
    int put_rc;                  /* first failure of os3_put_write */
    char put_error[512];         /* its rd_error(), which is per-thread */
    os3_op_fn op;                /* runs when the body is complete */

    /* error decided early (before the body), answered after it */
    enum os3_error err;
    char *err_msg;
};

/* ---- request inspection ---- */
const char *os3_req_header(const os3_req *r, const char *name);  /* any case; NULL */
const char *os3_req_param(const os3_req *r, const char *name);   /* NULL when absent */
bool os3_req_has_param(const os3_req *r, const char *name);
/* Integer parameter: -1 when absent, -2 when not a non-negative integer. */
long os3_req_param_int(const os3_req *r, const char *name);
/* The object metadata of the request headers (Content-Type, x-amz-meta-*,
 * ...); strings are borrowed from r. Release with os3_req_meta_free. */
void os3_req_meta(const os3_req *r, os3_meta *m);
void os3_req_meta_free(os3_meta *m);

/* ---- responses: each returns 0 so that operations can `return os3_send...` ---- */
/* The S3 error document with e's status; message NULL: the generic one. */
int os3_send_error(os3_req *r, enum os3_error e, const char *message);
/* A store return code: its S3 error with rd_error() as message, InternalError
 * (logged) for environment failures. */
int os3_send_rc(os3_req *r, int rc);
/* The error response without queueing it, for operations that add headers
 * (x-amz-delete-marker on 404/405, Content-Range on 416). */
struct MHD_Response *os3_error_response(os3_req *r, enum os3_error e, const char *message);
/* Creates a response with body (copied) and the common headers; the caller
 * adds headers and queues it with os3_queue. */
struct MHD_Response *os3_response(os3_req *r, const void *body, size_t len);
int os3_queue(os3_req *r, unsigned status, struct MHD_Response *resp);
/* A finished XML document (w is freed): as a response to add headers to,
 * or sent at once with status 200. */
struct MHD_Response *os3_xml_response(os3_req *r, os3_xmlw *w);
int os3_send_xml(os3_req *r, os3_xmlw *w);
/* Adds header (x-amz-version-id, x-amz-copy-source-version-id) unless the
 * version is empty or "null": S3 names no version of unversioned writes. */
void os3_add_version_header(struct MHD_Response *resp, const char *header,
                            const char *version_id);
int os3_send_empty(os3_req *r, unsigned status);

/* ---- encoding ---- */
/* Percent-decodes; -1 on a bad escape. '+' stays '+'. */
int os3_url_decode(const char *in, size_t len, char **out);
/* Encodes for encoding-type=url (unreserved characters and '/' kept). */
char *os3_url_encode(const char *in);
char *os3_base64_encode(const void *data, size_t len);
/* -1 when invalid; *out NUL-terminated, *outlen bytes. */
int os3_base64_decode(const char *in, uint8_t **out, size_t *outlen);
void os3_format_http_date(int64_t us, char out[32]);

/* "bytes=a-b", "bytes=a-", "bytes=-n" into r; -1 for anything else
 * (several ranges included). */
int os3_parse_range(const char *header, os3_range *out);
/* x-amz-copy-source ("/bucket/key?versionId=v", URL-encoded) into owned
 * strings (*version_id NULL when absent); on failure answers the request and
 * returns -1. */
int os3_parse_copy_source(os3_req *r, char **bucket, char **key, char **version_id);

/* ---- operations (ops_*.c) ---- */
int os3_op_list_buckets(os3_req *r);
int os3_op_create_bucket(os3_req *r);
int os3_op_head_bucket(os3_req *r);
int os3_op_delete_bucket(os3_req *r);
int os3_op_get_location(os3_req *r);
int os3_op_put_versioning(os3_req *r);
int os3_op_get_versioning(os3_req *r);
int os3_op_put_lifecycle(os3_req *r);
int os3_op_get_lifecycle(os3_req *r);
int os3_op_delete_lifecycle(os3_req *r);
int os3_op_list_objects(os3_req *r);    /* v1 and v2 */
int os3_op_list_versions(os3_req *r);
int os3_op_delete_objects(os3_req *r);

/* PutObject / UploadPart: opens r->put before the body; the body then goes
 * into it, and os3_op_put_finish answers when it is complete. */
int os3_op_put_begin(os3_req *r);
int os3_op_put_finish(os3_req *r);
int os3_op_get_object(os3_req *r);      /* GET and HEAD */
int os3_op_delete_object(os3_req *r);
int os3_op_copy_object(os3_req *r);

int os3_op_create_upload(os3_req *r);
int os3_op_upload_part_copy(os3_req *r);
int os3_op_complete_upload(os3_req *r);
int os3_op_abort_upload(os3_req *r);
int os3_op_list_parts(os3_req *r);
int os3_op_list_uploads(os3_req *r);

/* The owner every listing shows: radiant has one account. */
void os3_write_owner(os3_xmlw *w, const char *element);

#endif
