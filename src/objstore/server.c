/* The HTTP front of radiant's object store: a libmicrohttpd daemon (a thread
 * per connection, so the store's blocking calls never hold up other clients)
 * that authenticates every request with SigV4, routes it to an S3 operation
 * (ops_bucket.c, ops_object.c, ops_multipart.c) and streams request bodies
 * into the store as they arrive. Also the configuration's [bucket NAME]
 * sections, applied at start, and the lifecycle sweep serve's passes run.
 *
 * A request goes through the access handler at least twice: once with the
 * headers (authenticate, route, open the streaming write), once per body
 * fragment, and once at the end (check the payload hash, run the operation).
 * Errors found before the body are answered after it has been read unless
 * the client waits for "100 Continue": closing a connection with unread data
 * makes the kernel send a reset, and most clients then never see the error
 * document. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "objstore/http.h"

/* ------------------------------------------------------------- encoding -- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int os3_url_decode(const char *in, size_t len, char **out)
{
    char *o = rd_malloc(len + 1);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            int a = i + 1 < len ? hexval(in[i + 1]) : -1;
            int b = i + 2 < len ? hexval(in[i + 2]) : -1;
            int h = a < 0 || b < 0 ? -1 : a * 16 + b;
            if (h < 0) {
                free(o);
                *out = NULL;
                return -1;
            }
            o[j++] = (char)h;
            i += 2;
        } else {
            o[j++] = in[i];
        }
    }
    o[j] = '\0';
    *out = o;
    return 0;
}

char *os3_url_encode(const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(in);
    char *o = rd_malloc(3 * n + 1), *p = o;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return o;
}

char *os3_base64_encode(const void *data, size_t len)
{
    char *o = rd_malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)o, data, (int)len);
    return o;
}

int os3_base64_decode(const char *in, uint8_t **out, size_t *outlen)
{
    size_t n = strlen(in);
    *out = NULL;
    if (n == 0 || n % 4 != 0 || n > (1 << 20))
        return -1;
    uint8_t *o = rd_malloc(n / 4 * 3 + 1);
    int got = EVP_DecodeBlock(o, (const unsigned char *)in, (int)n);
    if (got < 0) {
        free(o);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as data. */
    if (in[n - 1] == '=')
        got--;
    if (in[n - 2] == '=')
        got--;
    o[got] = '\0';
    *out = o;
    *outlen = (size_t)got;
    return 0;
}

void os3_format_http_date(int64_t us, char out[32])
{
    rd_http_date_format(us / 1000000, out, 32);
}

/* ----------------------------------------------------- request inspection -- */

const char *os3_req_header(const os3_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

const char *os3_req_param(const os3_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

bool os3_req_has_param(const os3_req *r, const char *name)
{
    return os3_req_param(r, name) != NULL;
}

long os3_req_param_int(const os3_req *r, const char *name)
{
    const char *v = os3_req_param(r, name);
    if (!v)
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || errno)
        return -2;
    return n > 1000000000 ? 1000000000 : n;
}

void os3_req_meta(const os3_req *r, os3_meta *m)
{
    memset(m, 0, sizeof *m);
    m->content_type = (char *)os3_req_header(r, "Content-Type");
    m->content_disposition = (char *)os3_req_header(r, "Content-Disposition");
    m->cache_control = (char *)os3_req_header(r, "Cache-Control");
    m->expires = (char *)os3_req_header(r, "Expires");
    m->content_language = (char *)os3_req_header(r, "Content-Language");
    m->storage_class = (char *)os3_req_header(r, "x-amz-storage-class");
    if (m->storage_class && strcmp(m->storage_class, "STANDARD") == 0)
        m->storage_class = NULL;
    /* aws-chunked is how the body travelled, not how the object is encoded
     * (S3: "Amazon S3 ... removes aws-chunked from the stored value"). */
    const char *ce = os3_req_header(r, "Content-Encoding");
    if (ce && strcmp(ce, "aws-chunked") != 0)
        m->content_encoding = (char *)ce;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *n = r->headers[i].name;
        if (strncasecmp(n, "x-amz-meta-", 11) != 0 || !n[11])
            continue;
        m->user = rd_realloc(m->user, (m->n_user + 1) * sizeof *m->user);
        char *low = rd_strdup(n + 11);
        for (char *p = low; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        m->user[m->n_user].name = low;
        m->user[m->n_user++].value = (char *)r->headers[i].value;
    }
}

void os3_req_meta_free(os3_meta *m)
{
    for (size_t i = 0; i < m->n_user; i++)
        free(m->user[i].name);
    free(m->user);
    memset(m, 0, sizeof *m);
}

/* -------------------------------------------------------------- responses -- */

struct MHD_Response *os3_response(os3_req *r, const void *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
    MHD_add_response_header(resp, "x-amz-id-2", r->request_id);
    MHD_add_response_header(resp, "Server", "radiant");
    return resp;
}

int os3_queue(os3_req *r, unsigned status, struct MHD_Response *resp)
{
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
        RD_WARN("s3: %s %s: could not queue the %u response", r->method, r->resource, status);
    MHD_destroy_response(resp);
    r->responded = true;
    return 0;
}

struct MHD_Response *os3_error_response(os3_req *r, enum os3_error e, const char *message)
{
    /* HEAD and 304 answers carry no body (RFC 9110 sections 9.3.2, 15.4.5). */
    if (r->head || e == OS3_NOT_MODIFIED)
        return os3_response(r, NULL, 0);
    rd_buf doc = { 0 };
    os3_xml_error(e, message, r->resource, r->request_id, &doc);
    struct MHD_Response *resp = os3_response(r, doc.data, doc.len);
    MHD_add_response_header(resp, "Content-Type", "application/xml");
    rd_buf_free(&doc);
    return resp;
}

int os3_send_error(os3_req *r, enum os3_error e, const char *message)
{
    if (r->put) {
        os3_put_abort(r->put);
        r->put = NULL;
    }
    RD_DEBUG("s3: %s %s -> %s: %s", r->method, r->resource, os3_error_code(e),
             message ? message : os3_error_message(e));
    return os3_queue(r, (unsigned)os3_error_status(e), os3_error_response(r, e, message));
}

int os3_send_rc(os3_req *r, int rc)
{
    enum os3_error e = os3_rc_error(rc);
    if (e == OS3_INTERNAL_ERROR) {
        RD_ERROR("s3: %s %s failed: %s", r->method, r->resource, rd_error());
        return os3_send_error(r, e, NULL);
    }
    return os3_send_error(r, e, rd_error());
}

struct MHD_Response *os3_xml_response(os3_req *r, os3_xmlw *w)
{
    rd_buf doc = { 0 };
    os3_xmlw_finish(w, &doc);
    struct MHD_Response *resp = os3_response(r, doc.data, doc.len);
    MHD_add_response_header(resp, "Content-Type", "application/xml");
    rd_buf_free(&doc);
    os3_xmlw_free(w);
    return resp;
}

int os3_send_xml(os3_req *r, os3_xmlw *w)
{
    return os3_queue(r, 200, os3_xml_response(r, w));
}

void os3_add_version_header(struct MHD_Response *resp, const char *header,
                            const char *version_id)
{
    if (version_id[0] && strcmp(version_id, OS3_NULL_VERSION) != 0)
        MHD_add_response_header(resp, header, version_id);
}

int os3_send_empty(os3_req *r, unsigned status)
{
    return os3_queue(r, status, os3_response(r, NULL, 0));
}

void os3_write_owner(os3_xmlw *w, const char *element)
{
    os3_xmlw_begin(w, element);
    os3_xmlw_text(w, "ID", "radiant");
    os3_xmlw_text(w, "DisplayName", "radiant");
    os3_xmlw_end(w);
}

/* ---------------------------------------------------------------- parsing -- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    os3_req *r = cls;
    if (!key)
        return MHD_YES;
    /* SigV4 signs a repeated header as its values joined with ','. */
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, key) == 0) {
            char *joined = rd_asprintf("%s,%s", r->headers[i].value, value ? value : "");
            free((char *)r->headers[i].value);
            r->headers[i].value = joined;
            return MHD_YES;
        }
    r->headers = rd_realloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
    r->headers[r->n_headers].name = rd_strdup(key);
    r->headers[r->n_headers++].value = rd_strdup(value ? value : "");
    return MHD_YES;
}

static int parse_query(os3_req *r)
{
    if (!r->raw_query || !*r->raw_query)
        return 0;
    const char *p = r->raw_query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            char *name, *value;
            if (os3_url_decode(p, nlen, &name) < 0)
                return -1;
            if (os3_url_decode(eq ? eq + 1 : "", eq ? len - nlen - 1 : 0, &value) < 0) {
                free(name);
                return -1;
            }
            r->params = rd_realloc(r->params, (r->n_params + 1) * sizeof *r->params);
            r->params[r->n_params].name = name;
            r->params[r->n_params++].value = value;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
}

static bool is_ip_literal(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1 ||
           host[0] == '[';
}

/* Virtual-host-style addressing: the bucket is what precedes the server's
 * own name in Host ("bucket.localhost:9000", "bucket.s3.example.net" when
 * listen names s3.example.net). Otherwise, for a host name (never an IP
 * address) whose first label is an existing bucket, that bucket: clients
 * configured with a DNS wildcard for the server send exactly that. */
static char *vhost_bucket(os3_req *r)
{
    const char *h = os3_req_header(r, "Host");
    if (!h || !*h || h[0] == '[')
        return NULL;
    char host[256];
    snprintf(host, sizeof host, "%s", h);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    if (is_ip_literal(host))
        return NULL;
    const char *suffixes[] = { r->srv->listen_host, "localhost" };
    for (size_t i = 0; i < 2; i++) {
        size_t hl = strlen(host), sl = strlen(suffixes[i]);
        if (sl && hl > sl + 1 && host[hl - sl - 1] == '.' &&
            strcasecmp(host + hl - sl, suffixes[i]) == 0) {
            host[hl - sl - 1] = '\0';
            return rd_strdup(host);
        }
    }
    char *dot = strchr(host, '.');
    if (!dot)
        return NULL;
    *dot = '\0';
    if (os3_bucket_name_check(host) == 0 && os3_bucket_head(r->srv->st, host, NULL) == 0)
        return rd_strdup(host);
    return NULL;
}

static int parse_target(os3_req *r)
{
    const char *uri = r->raw_uri ? r->raw_uri : "/";
    /* absolute-form (RFC 9112 section 3.2.2): drop scheme and authority */
    if (strncasecmp(uri, "http://", 7) == 0 || strncasecmp(uri, "https://", 8) == 0) {
        const char *slash = strchr(strstr(uri, "//") + 2, '/');
        uri = slash ? slash : "/";
    }
    const char *q = strchr(uri, '?');
    r->raw_path = q ? strndup(uri, (size_t)(q - uri)) : rd_strdup(uri);
    r->raw_query = q ? rd_strdup(q + 1) : NULL;
    if (parse_query(r) < 0)
        return -1;
    char *path;
    if (os3_url_decode(r->raw_path, strlen(r->raw_path), &path) < 0)
        return -1;
    char *vb = vhost_bucket(r);
    const char *p = path[0] == '/' ? path + 1 : path;
    if (vb) {
        r->bucket = vb;
        if (*p)
            r->key = rd_strdup(p);
    } else if (*p) {
        const char *slash = strchr(p, '/');
        r->bucket = slash ? strndup(p, (size_t)(slash - p)) : rd_strdup(p);
        if (slash && slash[1])
            r->key = rd_strdup(slash + 1);
    }
    r->resource = r->bucket ? rd_asprintf("/%s%s%s", r->bucket, r->key ? "/" : "",
                                          r->key ? r->key : "")
                            : rd_strdup("/");
    free(path);
    return 0;
}

/* ---------------------------------------------------------------- routing -- */

/* Query parameters radiant understands; any other is a subresource (acl,
 * policy, tagging, ...) or an option it does not implement, and S3 clients
 * must learn that rather than get an answer to a different question. */
static bool known_param(const char *n)
{
    static const char *const known[] = {
        "versionId", "partNumber", "uploadId", "uploads", "delete", "versioning", "lifecycle",
        "location", "versions", "list-type", "prefix", "delimiter", "marker", "max-keys",
        "encoding-type", "continuation-token", "start-after", "fetch-owner", "key-marker",
        "version-id-marker", "upload-id-marker", "max-uploads", "max-parts",
        "part-number-marker", "x-id", "response-content-type", "response-content-language",
        "response-expires", "response-cache-control", "response-content-disposition",
        "response-content-encoding", NULL,
    };
    if (strncmp(n, "X-Amz-", 6) == 0 || strncmp(n, "x-amz-", 6) == 0)
        return true;
    for (size_t i = 0; known[i]; i++)
        if (strcmp(n, known[i]) == 0)
            return true;
    return false;
}

/* Chooses the operation; sets r->op and r->body. Returns the operation to
 * run now (before the body) or NULL. */
static enum os3_error route(os3_req *r, const char **unsupported)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (!known_param(r->params[i].name)) {
            *unsupported = r->params[i].name;
            return OS3_NOT_IMPLEMENTED;
        }
    const char *m = r->method;
    bool get = strcmp(m, "GET") == 0 || r->head, put = strcmp(m, "PUT") == 0,
         del = strcmp(m, "DELETE") == 0, post = strcmp(m, "POST") == 0;
    r->body = OS3_BODY_DISCARD;
    if (!r->bucket) {
        if (get && !r->head) {
            r->op = os3_op_list_buckets;
            return OS3_OK;
        }
        return OS3_METHOD_NOT_ALLOWED;
    }
    if (!r->key) {
        bool vers = os3_req_has_param(r, "versioning"), lc = os3_req_has_param(r, "lifecycle");
        if (put) {
            r->body = OS3_BODY_BUFFER;
            r->op = vers ? os3_op_put_versioning : lc ? os3_op_put_lifecycle
                                                      : os3_op_create_bucket;
        } else if (r->head) {
            r->op = os3_op_head_bucket;
        } else if (get) {
            r->op = vers ? os3_op_get_versioning
                    : lc ? os3_op_get_lifecycle
                    : os3_req_has_param(r, "location") ? os3_op_get_location
                    : os3_req_has_param(r, "versions") ? os3_op_list_versions
                    : os3_req_has_param(r, "uploads") ? os3_op_list_uploads
                                                      : os3_op_list_objects;
        } else if (del) {
            r->op = lc ? os3_op_delete_lifecycle : os3_op_delete_bucket;
        } else if (post && os3_req_has_param(r, "delete")) {
            r->body = OS3_BODY_BUFFER;
            r->op = os3_op_delete_objects;
        } else {
            return post ? OS3_NOT_IMPLEMENTED : OS3_METHOD_NOT_ALLOWED;
        }
        return OS3_OK;
    }
    bool upload = os3_req_has_param(r, "uploadId");
    const char *copy = os3_req_header(r, "x-amz-copy-source");
    if (put) {
        if (upload != os3_req_has_param(r, "partNumber")) {
            *unsupported = upload ? "uploadId without partNumber" : "partNumber without uploadId";
            return OS3_INVALID_REQUEST;
        }
        if (copy) {
            r->op = upload ? os3_op_upload_part_copy : os3_op_copy_object;
        } else {
            r->body = OS3_BODY_PUT;
            r->op = os3_op_put_finish;
        }
    } else if (get) {
        r->op = upload && !r->head ? os3_op_list_parts : os3_op_get_object;
    } else if (del) {
        r->op = upload ? os3_op_abort_upload : os3_op_delete_object;
    } else if (post && os3_req_has_param(r, "uploads")) {
        r->op = os3_op_create_upload;
    } else if (post && upload) {
        r->body = OS3_BODY_BUFFER;
        r->op = os3_op_complete_upload;
    } else {
        return post ? OS3_NOT_IMPLEMENTED : OS3_METHOD_NOT_ALLOWED;
    }
    return OS3_OK;
}

/* ------------------------------------------------------------------ auth -- */

static int secret_lookup(void *arg, const char *id, char *secret, size_t len)
{
    os3_server *s = arg;
    pthread_mutex_lock(&s->cat_mu);
    int rc = os3_access_key_secret(s->cfg, s->cat, id, secret, len);
    pthread_mutex_unlock(&s->cat_mu);
    if (rc < 0 && rc != -RD_ENOENT)
        RD_ERROR("s3: looking up access key %s: %s", id, rd_error());
    return rc;
}

/* ------------------------------------------------------------------- body -- */

static int body_sink(void *arg, const uint8_t *data, size_t len)
{
    os3_req *r = arg;
    if (r->body == OS3_BODY_BUFFER) {
        if (r->buf.len + len > OS3_XML_MAX)
            r->too_big = true;
        else
            rd_buf_append(&r->buf, data, len);
    } else if (r->body == OS3_BODY_PUT && r->put && r->put_rc == 0) {
        int rc = os3_put_write(r->put, data, len);
        if (rc < 0) {
            r->put_rc = rc;
            snprintf(r->put_error, sizeof r->put_error, "%s", rd_error());
        }
    }
    return 0;
}

static void fail_early(os3_req *r, enum os3_error e, const char *msg)
{
    if (r->err != OS3_OK)
        return;
    r->err = e;
    r->err_msg = msg ? rd_strdup(msg) : NULL;
    r->body = OS3_BODY_DISCARD;
}

static void body_feed(os3_req *r, const char *data, size_t len)
{
    if (r->err != OS3_OK)
        return;
    if (r->chunked) {
        if (os3_chunked_feed(r->chunked, data, len) < 0)
            fail_early(r, os3_chunked_error(r->chunked), rd_error());
        return;
    }
    if (r->sha)
        rd_sha256_update(r->sha, data, len);
    body_sink(r, (const uint8_t *)data, len);
}

/* True when the request has no body, or its client waits for our go-ahead:
 * then an early error can be answered at once. */
static bool can_answer_now(os3_req *r)
{
    const char *expect = os3_req_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return true;
    const char *cl = os3_req_header(r, "Content-Length");
    return !os3_req_header(r, "Transfer-Encoding") && (!cl || strcmp(cl, "0") == 0);
}

static void request_start(os3_req *r, const char *method)
{
    uint8_t id[8];
    if (rd_random_bytes(id, sizeof id) < 0)
        memset(id, 0, sizeof id);
    rd_hex_encode(id, sizeof id, r->request_id);
    for (char *p = r->request_id; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    r->method = method;
    r->head = strcmp(method, "HEAD") == 0;
    r->auth.decoded_content_length = -1;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, r);
    if (parse_target(r) < 0) {
        if (!r->resource)
            r->resource = rd_strdup("/");
        fail_early(r, OS3_INVALID_ARGUMENT, "the request target has an invalid %-escape");
        return;
    }
    os3_request req = { method, r->raw_path, r->raw_query, r->headers, r->n_headers };
    os3_auth_config ac = { secret_lookup, r->srv, NULL, rd_clock_now() };
    if (os3_sigv4_verify(&req, &ac, &r->auth) < 0) {
        fail_early(r, r->auth.error, rd_error());
        return;
    }
    const char *what = NULL;
    enum os3_error e = route(r, &what);
    if (e != OS3_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%s%s", os3_error_message(e), what ? ": " : "",
                 what ? what : "");
        fail_early(r, e, msg);
        return;
    }
    if (r->auth.payload == OS3_PAYLOAD_STREAMING_SIGNED ||
        r->auth.payload == OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER) {
        enum os3_error ce = OS3_OK;
        if (os3_chunked_new(&r->auth, os3_req_header(r, "x-amz-trailer"), body_sink, r,
                            &r->chunked, &ce) < 0) {
            fail_early(r, ce, rd_error());
            return;
        }
    } else if (r->auth.payload == OS3_PAYLOAD_SHA256) {
        r->sha = rd_sha256_new();
    }
    if (r->body == OS3_BODY_PUT) {
        /* Before the body: a missing bucket or upload fails without it. */
        int rc = os3_op_put_begin(r);
        if (rc < 0) {
            enum os3_error pe = os3_rc_error(rc);
            if (pe == OS3_INTERNAL_ERROR)
                RD_ERROR("s3: %s %s failed: %s", r->method, r->resource, rd_error());
            fail_early(r, pe, pe == OS3_INTERNAL_ERROR ? NULL : rd_error());
        }
    }
}

static void request_finish(os3_req *r)
{
    if (r->err == OS3_OK && r->chunked && os3_chunked_finish(r->chunked) < 0)
        fail_early(r, os3_chunked_error(r->chunked), rd_error());
    if (r->err == OS3_OK && r->sha) {
        uint8_t d[RD_SHA256_LEN];
        rd_sha256_final(r->sha, d);
        rd_sha256_free(r->sha);
        r->sha = NULL;
        enum os3_error pe = OS3_OK;
        if (os3_payload_verify(&r->auth, d, &pe) < 0)
            fail_early(r, pe, rd_error());
    }
    if (r->err == OS3_OK && r->too_big)
        fail_early(r, OS3_MALFORMED_XML, "the request body is larger than 1 MiB");
    if (r->err == OS3_OK && r->put_rc < 0) {
        enum os3_error pe = os3_rc_error(r->put_rc);
        if (pe == OS3_INTERNAL_ERROR)
            RD_ERROR("s3: %s %s failed: %s", r->method, r->resource, r->put_error);
        fail_early(r, pe, pe == OS3_INTERNAL_ERROR ? NULL : r->put_error);
    }
    if (r->err != OS3_OK) {
        os3_send_error(r, r->err, r->err_msg);
        return;
    }
    rd_error_clear();
    r->op(r);
    if (!r->responded)
        os3_send_error(r, OS3_INTERNAL_ERROR, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    os3_req *r = *con_cls;
    if (!r) {
        r = rd_calloc(1, sizeof *r);
        r->srv = cls;
        r->raw_uri = rd_strdup(url);
        *con_cls = r;
    }
    r->conn = conn;
    if (!r->started) {
        r->started = true;
        request_start(r, method);
        if (r->err != OS3_OK && can_answer_now(r))
            os3_send_error(r, r->err, r->err_msg);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->responded)
            body_feed(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->responded)
        request_finish(r);
    return MHD_YES;
}

/* The raw request target, before libmicrohttpd decodes it: SigV4 signs the
 * encoded form, and a decoded path loses "%2F" versus "/". */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    os3_req *r = rd_calloc(1, sizeof *r);
    r->srv = cls;
    r->conn = conn;
    r->raw_uri = rd_strdup(uri ? uri : "/");
    return r;
}

static void request_free(os3_req *r)
{
    os3_put_abort(r->put);
    os3_chunked_free(r->chunked);
    if (r->sha)
        rd_sha256_free(r->sha);
    os3_auth_clear(&r->auth);
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    free(r->raw_uri);
    free(r->raw_path);
    free(r->raw_query);
    free(r->bucket);
    free(r->key);
    free(r->resource);
    free(r->err_msg);
    rd_buf_free(&r->buf);
    free(r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    os3_req *r = *con_cls;
    if (!r)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->put)
        RD_INFO("s3: %s %s: the client went away; nothing was stored", r->method,
                r->resource);
    request_free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    RD_DEBUG("s3: libmicrohttpd: %s", msg);
}

/* ---------------------------------------------------------- configuration -- */

#define CONFIG_RULE_ID "radiant-config-noncurrent-version-expiration"

/* [bucket NAME] noncurrent-version-expiration-days becomes one lifecycle rule
 * with a fixed id, merged into what clients configured with
 * PutBucketLifecycleConfiguration (their rules stay; ours is replaced). */
static int apply_lifecycle(os3_store *st, const char *name, int days)
{
    os3_lifecycle cur = { 0 };
    int rc = os3_lifecycle_get(st, name, &cur);
    if (rc < 0 && rc != -OS3_RC_NO_SUCH_LIFECYCLE)
        return rc;
    os3_lifecycle next = { rd_calloc(cur.n_rules + 1, sizeof *next.rules), 0 };
    bool had = false;
    for (size_t i = 0; i < cur.n_rules; i++) {
        if (cur.rules[i].id && strcmp(cur.rules[i].id, CONFIG_RULE_ID) == 0) {
            had = true;
            if (cur.rules[i].enabled && cur.rules[i].noncurrent_days == days && days)
                days = -1;      /* unchanged */
            continue;
        }
        next.rules[next.n_rules++] = cur.rules[i];
    }
    if (days > 0) {
        os3_lifecycle_rule *rule = &next.rules[next.n_rules++];
        memset(rule, 0, sizeof *rule);
        rule->id = CONFIG_RULE_ID;
        rule->enabled = true;
        rule->noncurrent_days = days;
    }
    rc = 0;
    if (days >= 0 && (days > 0 || had))
        rc = next.n_rules ? os3_lifecycle_put(st, name, &next) : os3_lifecycle_delete(st, name);
    free(next.rules);
    os3_lifecycle_clear(&cur);
    return rc;
}

static int apply_buckets(const rd_config *cfg, os3_store *st)
{
    size_t n = rd_config_count(cfg, "bucket");
    for (size_t i = 0; i < n; i++) {
        const rd_config_section *sec = rd_config_at(cfg, "bucket", i);
        const char *name = rd_config_section_name(sec);
        int rc = os3_bucket_create(st, name);
        if (rc < 0 && rc != -OS3_RC_BUCKET_EXISTS)
            return rd_fail_wrap(rc == -OS3_RC_INVALID_BUCKET_NAME ? -RD_ECONFIG : rc,
                                "%s:%d: [bucket %s]", rd_config_path(cfg),
                                rd_config_section_line(sec), name);
        const char *v = rd_config_get(sec, "versioning");
        enum os3_versioning cur = OS3_VERSIONING_OFF;
        rc = os3_bucket_versioning_get(st, name, &cur);
        if (rc == 0 && v && strcmp(v, "enabled") == 0 && cur != OS3_VERSIONING_ENABLED)
            rc = os3_bucket_versioning_set(st, name, OS3_VERSIONING_ENABLED);
        else if (rc == 0 && v && strcmp(v, "suspended") == 0 && cur != OS3_VERSIONING_SUSPENDED)
            rc = os3_bucket_versioning_set(st, name, OS3_VERSIONING_SUSPENDED);
        else if (rc == 0 && v && strcmp(v, "disabled") == 0 && cur != OS3_VERSIONING_OFF)
            /* S3 has no way back to never-versioned: say so, change nothing. */
            RD_WARN("[bucket %s] versioning = disabled, but the bucket has had versioning "
                    "enabled; S3 can only suspend it (versioning = suspended)", name);
        if (rc == 0)
            rc = apply_lifecycle(st, name,
                                 (int)rd_config_get_int(sec, "noncurrent-version-expiration-days",
                                                        0));
        if (rc < 0)
            return rd_fail_wrap(rc, "applying [bucket %s]", name);
    }
    return 0;
}

static int store_open(const rd_config *cfg, os3_store **out)
{
    char *dir = rd_path_join(rd_config_state_dir(cfg), "objstore");
    int rc = os3_store_open(dir, out);
    if (rc < 0)
        rc = rd_fail_wrap(rc, "object store %s", dir);
    free(dir);
    if (rc == 0 && (rc = apply_buckets(cfg, *out)) < 0) {
        os3_store_close(*out);
        *out = NULL;
    }
    return rc;
}

/* ----------------------------------------------------------------- server -- */

static int listen_socket(const char *where, char **host_out, int *fd_out)
{
    const char *colon = strrchr(where, ':');
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - where), where);
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &ai);
    if (g != 0)
        return rd_fail(RD_ECONFIG, "[objectstore] listen = %s: %s", where, gai_strerror(g));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return rd_fail_errno(RD_EIO, "[objectstore] listen = %s: socket", where);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = 0;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        rc = rd_fail_errno(errno == EADDRINUSE ? RD_EEXIST : RD_EIO,
                           "the object store cannot listen on %s", where);
    else if (listen(fd, 128) != 0)
        rc = rd_fail_errno(RD_EIO, "the object store cannot listen on %s", where);
    freeaddrinfo(ai);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *host_out = rd_strdup(host);
    *fd_out = fd;
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

int os3_server_start(const rd_config *cfg, os3_server **out)
{
    *out = NULL;
    const rd_config_section *sec = rd_config_find(cfg, "objectstore", NULL);
    const char *listen_at = sec ? rd_config_get(sec, "listen") : NULL;
    if (!listen_at)
        return rd_fail(RD_ECONFIG, "%s: the object store needs [objectstore] listen = HOST:PORT",
                       rd_config_path(cfg));
    os3_server *s = rd_calloc(1, sizeof *s);
    s->cfg = cfg;
    pthread_mutex_init(&s->cat_mu, NULL);
    int fd = -1;
    int rc = rd_catalog_open(rd_config_state_dir(cfg), &s->cat);
    if (rc == 0)
        rc = store_open(cfg, &s->st);
    if (rc == 0)
        rc = listen_socket(listen_at, &s->listen_host, &fd);
    if (rc == 0) {
        s->port = bound_port(fd);
        /* One MHD_OPTION_ARRAY: the form src/core/libmicrohttpd_lazy.c forwards.
         * Two-argument options carry the first in value (as intptr_t). */
        struct MHD_OptionItem options[] = {
            { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
            { MHD_OPTION_LISTEN_SOCKET, fd, NULL },
            { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logger, s },
            { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s },
            /* larger fragments mean fewer write() calls per upload */
            { MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL },
            { MHD_OPTION_CONNECTION_TIMEOUT, 300, NULL },
            { MHD_OPTION_END, 0, NULL },
        };
        s->mhd = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, s, MHD_OPTION_ARRAY, options,
            MHD_OPTION_END);
        if (!s->mhd) {
            close(fd);
            rc = rd_fail(RD_EIO, "the object store cannot start serving on %s", listen_at);
        }
    }
    if (rc < 0) {
        os3_server_stop(s);
        return rc;
    }
    RD_INFO("object store: S3 API on %s (port %d)", listen_at, s->port);
    *out = s;
    return 0;
}

void os3_server_stop(os3_server *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);   /* joins the connection threads */
    os3_store_close(s->st);
    rd_catalog_close(s->cat);
    pthread_mutex_destroy(&s->cat_mu);
    free(s->listen_host);
    free(s);
}

int os3_server_port(const os3_server *s)
{
    return s ? s->port : -1;
}

static void report_from(const os3_sweep_stats *st, os3_sweep_report *report)
{
    if (!report)
        return;
    report->current_expired = st->current_expired;
    report->noncurrent_removed = st->noncurrent_removed;
    report->markers_removed = st->markers_removed;
    report->uploads_aborted = st->uploads_aborted;
}

int os3_server_sweep(os3_server *s, int64_t now, os3_sweep_report *report)
{
    os3_sweep_stats st = { 0 };
    int rc = os3_lifecycle_sweep(s->st, now, &st);
    report_from(&st, report);
    return rc;
}

int os3_sweep_once(const rd_config *cfg, int64_t now, os3_sweep_report *report)
{
    os3_store *st = NULL;
    int rc = store_open(cfg, &st);
    if (rc < 0)
        return rc;
    os3_sweep_stats stats = { 0 };
    rc = os3_lifecycle_sweep(st, now, &stats);
    report_from(&stats, report);
    os3_store_close(st);
    return rc;
}
