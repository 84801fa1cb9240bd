/* S3 operations on one object: PutObject and UploadPart (their body is
 * streamed by server.c into the write opened here), GetObject and HeadObject
 * (ranges, conditional requests, the body sent from the blob's descriptor
 * with sendfile), DeleteObject and CopyObject. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/error.h"
#include "objstore/http.h"

/* ------------------------------------------------------------------ helpers -- */

int os3_parse_range(const char *h, os3_range *out)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return -1;
    const char *p = h + 6;
    if (strchr(p, ','))
        return -1;          /* several ranges: S3 sends the whole object */
    char *end;
    if (*p == '-') {
        if (p[1] < '0' || p[1] > '9')
            return -1;
        long long n = strtoll(p + 1, &end, 10);
        if (*end || n <= 0)
            return -1;
        out->first = -1;
        out->last = n;
        return 0;
    }
    if (*p < '0' || *p > '9')
        return -1;
    long long a = strtoll(p, &end, 10);
    if (*end != '-')
        return -1;
    p = end + 1;
    if (!*p) {
        out->first = a;
        out->last = -1;
        return 0;
    }
    if (*p < '0' || *p > '9')
        return -1;
    long long b = strtoll(p, &end, 10);
    if (*end || b < a)
        return -1;
    out->first = a;
    out->last = b;
    return 0;
}

int os3_parse_copy_source(os3_req *r, char **bucket, char **key, char **version_id)
{
    *bucket = *key = *version_id = NULL;
    const char *src = os3_req_header(r, "x-amz-copy-source");
    if (*src == '/')
        src++;
    /* The header is URL-encoded; a literal '?' starts the versionId. */
    const char *q = strchr(src, '?');
    char *path;
    if (os3_url_decode(src, q ? (size_t)(q - src) : strlen(src), &path) < 0)
        return os3_send_error(r, OS3_INVALID_ARGUMENT, "x-amz-copy-source has a bad %-escape"),
               -1;
    char *slash = strchr(path, '/');
    if (!slash || slash == path || !slash[1]) {
        free(path);
        return os3_send_error(r, OS3_INVALID_ARGUMENT,
                              "x-amz-copy-source must be BUCKET/KEY[?versionId=ID]"), -1;
    }
    if (q) {
        if (strncmp(q + 1, "versionId=", 10) != 0 ||
            os3_url_decode(q + 11, strlen(q + 11), version_id) < 0) {
            free(path);
            return os3_send_error(r, OS3_INVALID_ARGUMENT,
                                  "x-amz-copy-source: only ?versionId=ID may follow the key"),
                   -1;
        }
    }
    *bucket = strndup(path, (size_t)(slash - path));
    *key = rd_strdup(slash + 1);
    free(path);
    return 0;
}

/* x-amz-meta-* and the other stored headers of an object. */
static void add_object_headers(os3_req *r, struct MHD_Response *resp, const os3_object *o)
{
    char date[32];
    os3_format_http_date(o->mtime_us, date);
    MHD_add_response_header(resp, "Last-Modified", date);
    MHD_add_response_header(resp, "ETag", o->etag);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    os3_add_version_header(resp, "x-amz-version-id", o->version_id);
    const os3_meta *m = &o->meta;
    struct { const char *header, *param, *value; } std[] = {
        { "Content-Type", "response-content-type",
          m->content_type ? m->content_type : "binary/octet-stream" },
        { "Content-Encoding", "response-content-encoding", m->content_encoding },
        { "Content-Disposition", "response-content-disposition", m->content_disposition },
        { "Cache-Control", "response-cache-control", m->cache_control },
        { "Expires", "response-expires", m->expires },
        { "Content-Language", "response-content-language", m->content_language },
    };
    for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
        /* GetObject's response-* parameters override the stored values. */
        const char *v = os3_req_param(r, std[i].param);
        if (!v)
            v = std[i].value;
        if (v)
            MHD_add_response_header(resp, std[i].header, v);
    }
    if (m->storage_class && strcmp(m->storage_class, "STANDARD") != 0)
        MHD_add_response_header(resp, "x-amz-storage-class", m->storage_class);
    for (size_t i = 0; i < m->n_user; i++) {
        char name[300];
        snprintf(name, sizeof name, "x-amz-meta-%s", m->user[i].name);
        MHD_add_response_header(resp, name, m->user[i].value);
    }
    if (o->parts_count > 0 && os3_req_has_param(r, "partNumber")) {
        char n[16];
        snprintf(n, sizeof n, "%d", o->parts_count);
        MHD_add_response_header(resp, "x-amz-mp-parts-count", n);
    }
}

/* ------------------------------------------------------------------- writes -- */

int os3_op_put_begin(os3_req *r)
{
    if (os3_req_has_param(r, "uploadId")) {
        long pn = os3_req_param_int(r, "partNumber");
        if (pn < 1 || pn > OS3_PART_NUMBER_MAX)
            return rd_fail(RD_OK, "Part number must be an integer between 1 and 10000"),
                   -OS3_RC_INVALID_ARGUMENT;
        return os3_part_begin(r->srv->st, r->bucket, r->key, os3_req_param(r, "uploadId"),
                              (int)pn, &r->put);
    }
    os3_meta meta;
    os3_req_meta(r, &meta);
    int rc = os3_put_begin(r->srv->st, r->bucket, r->key, &meta, &r->put);
    os3_req_meta_free(&meta);
    return rc;
}

int os3_op_put_finish(os3_req *r)
{
    const char *md5h = os3_req_header(r, "Content-MD5");
    uint8_t *md5 = NULL;
    size_t len = 0;
    if (md5h && (os3_base64_decode(md5h, &md5, &len) < 0 || len != 16)) {
        free(md5);
        return os3_send_error(r, OS3_INVALID_DIGEST, "The Content-MD5 you specified is not "
                              "valid base64 of 16 bytes");
    }
    os3_put_result res = { 0 };
    os3_put *p = r->put;
    r->put = NULL;          /* commit frees it whatever happens */
    int rc = os3_put_commit(p, md5, &res);
    free(md5);
    if (rc < 0)
        return os3_send_rc(r, rc);
    struct MHD_Response *resp = os3_response(r, NULL, 0);
    MHD_add_response_header(resp, "ETag", res.etag);
    os3_add_version_header(resp, "x-amz-version-id", res.version_id);
    return os3_queue(r, 200, resp);
}

/* ------------------------------------------------------------------- reads -- */

static bool etag_in(const char *list, const char *etag)
{
    const char *e = etag[0] == '"' ? etag + 1 : etag;
    size_t elen = strlen(e);
    if (elen && e[elen - 1] == '"')
        elen--;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        const char *t = p;
        if (n >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2, n -= 2;
        if (n == 1 && *t == '*')
            return true;
        if (n >= 2 && t[0] == '"' && t[n - 1] == '"')
            t++, n -= 2;
        if (n == elen && memcmp(t, e, n) == 0)
            return true;
        p += end ? (size_t)(end - p) + 1 : strlen(p);
    }
    return false;
}

/* RFC 9110 section 13.2.2's order, which is also S3's documented precedence:
 * If-Match, else If-Unmodified-Since (412); then If-None-Match, else
 * If-Modified-Since (304 for GET and HEAD). A date that does not parse is
 * ignored, as the RFC requires. */
static enum os3_error preconditions(os3_req *r, const os3_object *o)
{
    const char *im = os3_req_header(r, "If-Match");
    const char *ius = os3_req_header(r, "If-Unmodified-Since");
    const char *inm = os3_req_header(r, "If-None-Match");
    const char *ims = os3_req_header(r, "If-Modified-Since");
    int64_t mtime = o->mtime_us / 1000000, t;
    if (im) {
        if (!etag_in(im, o->etag))
            return OS3_PRECONDITION_FAILED;
    } else if (ius && rd_http_date_parse(ius, &t) == 0 && mtime > t) {
        return OS3_PRECONDITION_FAILED;
    }
    if (inm) {
        if (etag_in(inm, o->etag))
            return OS3_NOT_MODIFIED;
    } else if (ims && rd_http_date_parse(ims, &t) == 0 && mtime <= t) {
        return OS3_NOT_MODIFIED;
    }
    return OS3_OK;
}

static bool conditional(os3_req *r)
{
    return os3_req_header(r, "If-Match") || os3_req_header(r, "If-None-Match") ||
           os3_req_header(r, "If-Modified-Since") || os3_req_header(r, "If-Unmodified-Since");
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static int answer_marker(os3_req *r, int rc, const os3_object *o)
{
    enum os3_error e = os3_rc_error(rc);
    struct MHD_Response *resp = os3_error_response(r, e, rd_error());
    MHD_add_response_header(resp, "x-amz-delete-marker", "true");
    if (o->version_id[0])
        MHD_add_response_header(resp, "x-amz-version-id", o->version_id);
    if (o->mtime_us) {
        char date[32];
        os3_format_http_date(o->mtime_us, date);
        MHD_add_response_header(resp, "Last-Modified", date);
    }
    return os3_queue(r, (unsigned)os3_error_status(e), resp);
}

int os3_op_get_object(os3_req *r)
{
    if (os3_req_has_param(r, "partNumber"))
        return os3_send_error(r, OS3_NOT_IMPLEMENTED, "GetObject by partNumber is not "
                              "supported; use a Range");
    const char *vid = os3_req_param(r, "versionId");
    os3_range range, *rp = NULL;
    /* An unparsable Range is ignored (RFC 9110 section 14.2): the whole object. */
    if (os3_parse_range(os3_req_header(r, "Range"), &range) == 0)
        rp = &range;
    os3_object o = { 0 };
    o.fd = -1;
    int rc = r->head ? os3_object_head(r->srv->st, r->bucket, r->key, vid, rp, &o)
                     : os3_object_get(r->srv->st, r->bucket, r->key, vid, rp, &o);
    if (rc == -OS3_RC_INVALID_RANGE && conditional(r)) {
        /* Preconditions come before the range (RFC 9110 section 13.2.2). */
        os3_object h = { 0 };
        h.fd = -1;
        if (os3_object_head(r->srv->st, r->bucket, r->key, vid, NULL, &h) == 0) {
            enum os3_error e = preconditions(r, &h);
            os3_object_clear(&h);
            if (e != OS3_OK) {
                os3_object_clear(&o);
                return os3_send_error(r, e, NULL);
            }
        }
        os3_object_clear(&h);
        rd_fail(RD_OK, "The requested range is not satisfiable");
    }
    if (rc < 0) {
        if ((rc == -OS3_RC_NO_SUCH_KEY || rc == -OS3_RC_METHOD_NOT_ALLOWED) &&
            o.is_delete_marker) {
            answer_marker(r, rc, &o);
        } else if (rc == -OS3_RC_INVALID_RANGE) {
            struct MHD_Response *resp = os3_error_response(r, OS3_INVALID_RANGE, rd_error());
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)o.size);
            MHD_add_response_header(resp, "Content-Range", cr);
            os3_queue(r, 416, resp);
        } else {
            os3_send_rc(r, rc);
        }
        os3_object_clear(&o);
        return 0;
    }
    enum os3_error pe = preconditions(r, &o);
    if (pe != OS3_OK) {
        struct MHD_Response *resp = os3_error_response(r, pe, NULL);
        if (pe == OS3_NOT_MODIFIED) {
            char date[32];
            os3_format_http_date(o.mtime_us, date);
            MHD_add_response_header(resp, "ETag", o.etag);
            MHD_add_response_header(resp, "Last-Modified", date);
        }
        os3_queue(r, (unsigned)os3_error_status(pe), resp);
        os3_object_clear(&o);
        return 0;
    }
    struct MHD_Response *resp;
    if (r->head) {
        /* libmicrohttpd sends a HEAD response's headers only, with the
         * Content-Length of the body it would have sent. */
        resp = MHD_create_response_from_callback(o.length, 4096, no_body, NULL, NULL);
    } else if (o.length == 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        /* libmicrohttpd owns the descriptor from here and closes it. */
        resp = MHD_create_response_from_fd_at_offset64(o.length, o.fd, o.offset);
        if (resp)
            o.fd = -1;
    }
    if (!resp) {
        os3_object_clear(&o);
        return os3_send_error(r, OS3_INTERNAL_ERROR, NULL);
    }
    MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
    MHD_add_response_header(resp, "x-amz-id-2", r->request_id);
    MHD_add_response_header(resp, "Server", "radiant");
    add_object_headers(r, resp, &o);
    unsigned status = 200;
    if (o.ranged) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)o.offset,
                 (unsigned long long)(o.offset + o.length - 1), (unsigned long long)o.size);
        MHD_add_response_header(resp, "Content-Range", cr);
        status = 206;
    }
    os3_object_clear(&o);
    return os3_queue(r, status, resp);
}

int os3_op_delete_object(os3_req *r)
{
    os3_delete_result res = { 0 };
    int rc = os3_object_delete(r->srv->st, r->bucket, r->key, os3_req_param(r, "versionId"),
                               &res);
    if (rc < 0)
        return os3_send_rc(r, rc);
    struct MHD_Response *resp = os3_response(r, NULL, 0);
    if (res.delete_marker)
        MHD_add_response_header(resp, "x-amz-delete-marker", "true");
    if (res.version_id[0])
        MHD_add_response_header(resp, "x-amz-version-id", res.version_id);
    return os3_queue(r, 204, resp);
}

int os3_op_copy_object(os3_req *r)
{
    char *sb, *sk, *sv;
    if (os3_parse_copy_source(r, &sb, &sk, &sv) < 0)
        return 0;
    const char *dir = os3_req_header(r, "x-amz-metadata-directive");
    if (dir && strcmp(dir, "COPY") != 0 && strcmp(dir, "REPLACE") != 0) {
        free(sb), free(sk), free(sv);
        return os3_send_error(r, OS3_INVALID_ARGUMENT,
                              "Unknown metadata directive (COPY or REPLACE)");
    }
    os3_meta meta;
    os3_req_meta(r, &meta);
    bool replace = dir && strcmp(dir, "REPLACE") == 0;
    os3_put_result res = { 0 };
    int rc = os3_object_copy(r->srv->st, sb, sk, sv, r->bucket, r->key,
                             replace ? &meta : NULL, &res);
    os3_req_meta_free(&meta);
    free(sb), free(sk), free(sv);
    if (rc < 0)
        return os3_send_rc(r, rc);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "CopyObjectResult");
    os3_xmlw_time(&w, "LastModified", res.mtime_us);
    os3_xmlw_text(&w, "ETag", res.etag);
    struct MHD_Response *resp = os3_xml_response(r, &w);
    os3_add_version_header(resp, "x-amz-version-id", res.version_id);
    os3_add_version_header(resp, "x-amz-copy-source-version-id", res.source_version_id);
    return os3_queue(r, 200, resp);
}
