/* S3 operations on the service and on buckets: ListBuckets, Create/Head/
 * DeleteBucket, GetBucketLocation, bucket versioning and lifecycle
 * configuration, the listings (ListObjects v1 and v2, ListObjectVersions)
 * and DeleteObjects. Element names and order follow the Amazon S3 API
 * reference for each operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "objstore/http.h"

int os3_op_list_buckets(os3_req *r)
{
    os3_bucket_info *list = NULL;
    size_t n = 0;
    int rc = os3_bucket_list(r->srv->st, &list, &n);
    if (rc < 0)
        return os3_send_rc(r, rc);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "ListAllMyBucketsResult");
    os3_write_owner(&w, "Owner");
    os3_xmlw_begin(&w, "Buckets");
    for (size_t i = 0; i < n; i++) {
        os3_xmlw_begin(&w, "Bucket");
        os3_xmlw_text(&w, "Name", list[i].name);
        os3_xmlw_time(&w, "CreationDate", list[i].created_us);
        os3_xmlw_end(&w);
    }
    free(list);
    return os3_send_xml(r, &w);
}

int os3_op_create_bucket(os3_req *r)
{
    char *location = NULL;
    enum os3_error e = OS3_OK;
    if (os3_xml_parse_create_bucket(r->buf.data, r->buf.len, &location, &e) < 0)
        return os3_send_error(r, e, rd_error());
    /* radiant serves one region per listener: any LocationConstraint is it. */
    free(location);
    int rc = os3_bucket_create(r->srv->st, r->bucket);
    if (rc < 0)
        return os3_send_rc(r, rc);
    struct MHD_Response *resp = os3_response(r, NULL, 0);
    char loc[128];
    snprintf(loc, sizeof loc, "/%s", r->bucket);
    MHD_add_response_header(resp, "Location", loc);
    return os3_queue(r, 200, resp);
}

int os3_op_head_bucket(os3_req *r)
{
    int rc = os3_bucket_head(r->srv->st, r->bucket, NULL);
    if (rc < 0)
        return os3_send_rc(r, rc);
    struct MHD_Response *resp = os3_response(r, NULL, 0);
    MHD_add_response_header(resp, "x-amz-bucket-region", "us-east-1");
    return os3_queue(r, 200, resp);
}

int os3_op_delete_bucket(os3_req *r)
{
    int rc = os3_bucket_delete(r->srv->st, r->bucket);
    return rc < 0 ? os3_send_rc(r, rc) : os3_send_empty(r, 204);
}

int os3_op_get_location(os3_req *r)
{
    int rc = os3_bucket_head(r->srv->st, r->bucket, NULL);
    if (rc < 0)
        return os3_send_rc(r, rc);
    /* An empty LocationConstraint means us-east-1 (GetBucketLocation). */
    static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<LocationConstraint xmlns=\"" OS3_XML_NS "\"/>";
    struct MHD_Response *resp = os3_response(r, doc, sizeof doc - 1);
    MHD_add_response_header(resp, "Content-Type", "application/xml");
    return os3_queue(r, 200, resp);
}

int os3_op_put_versioning(os3_req *r)
{
    enum os3_versioning v;
    enum os3_error e = OS3_OK;
    if (os3_xml_parse_versioning(r->buf.data, r->buf.len, &v, &e) < 0)
        return os3_send_error(r, e, rd_error());
    int rc = v == OS3_VERSIONING_OFF ? os3_bucket_head(r->srv->st, r->bucket, NULL)
                                     : os3_bucket_versioning_set(r->srv->st, r->bucket, v);
    return rc < 0 ? os3_send_rc(r, rc) : os3_send_empty(r, 200);
}

int os3_op_get_versioning(os3_req *r)
{
    enum os3_versioning v;
    int rc = os3_bucket_versioning_get(r->srv->st, r->bucket, &v);
    if (rc < 0)
        return os3_send_rc(r, rc);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "VersioningConfiguration");
    if (v != OS3_VERSIONING_OFF)
        os3_xmlw_text(&w, "Status", v == OS3_VERSIONING_ENABLED ? "Enabled" : "Suspended");
    return os3_send_xml(r, &w);
}

int os3_op_put_lifecycle(os3_req *r)
{
    os3_lifecycle *lc = NULL;
    enum os3_error e = OS3_OK;
    if (os3_xml_parse_lifecycle(r->buf.data, r->buf.len, &lc, &e) < 0)
        return os3_send_error(r, e, rd_error());
    /* S3 names a rule sent without ID itself. */
    for (size_t i = 0; i < lc->n_rules; i++)
        if (!lc->rules[i].id) {
            uint8_t b[8];
            char hex[17];
            if (rd_random_bytes(b, sizeof b) < 0)
                memset(b, (int)i, sizeof b);
            rd_hex_encode(b, sizeof b, hex);
            lc->rules[i].id = rd_strdup(hex);
        }
    int rc = os3_lifecycle_put(r->srv->st, r->bucket, lc);
    os3_lifecycle_free(lc);
    return rc < 0 ? os3_send_rc(r, rc) : os3_send_empty(r, 200);
}

int os3_op_get_lifecycle(os3_req *r)
{
    os3_lifecycle lc = { 0 };
    int rc = os3_lifecycle_get(r->srv->st, r->bucket, &lc);
    if (rc < 0) {
        os3_lifecycle_clear(&lc);
        return os3_send_rc(r, rc);
    }
    rd_buf doc = { 0 };
    os3_xml_write_lifecycle(&lc, &doc);
    os3_lifecycle_clear(&lc);
    struct MHD_Response *resp = os3_response(r, doc.data, doc.len);
    MHD_add_response_header(resp, "Content-Type", "application/xml");
    rd_buf_free(&doc);
    return os3_queue(r, 200, resp);
}

int os3_op_delete_lifecycle(os3_req *r)
{
    int rc = os3_lifecycle_delete(r->srv->st, r->bucket);
    if (rc == -OS3_RC_NO_SUCH_LIFECYCLE)
        rc = 0;             /* S3 answers 204 whether or not there was one */
    return rc < 0 ? os3_send_rc(r, rc) : os3_send_empty(r, 204);
}

/* ---------------------------------------------------------------- listings -- */

/* encoding-type=url: S3 encodes keys and prefixes in the answer so that
 * characters XML 1.0 cannot carry survive (ListObjectsV2, "EncodingType"). */
static bool url_encoding(os3_req *r, bool *bad)
{
    const char *e = os3_req_param(r, "encoding-type");
    *bad = e && strcmp(e, "url") != 0;
    return e && strcmp(e, "url") == 0;
}

static void text_enc(os3_xmlw *w, const char *name, const char *v, bool enc)
{
    if (!enc) {
        os3_xmlw_text(w, name, v ? v : "");
        return;
    }
    char *e = os3_url_encode(v ? v : "");
    os3_xmlw_text(w, name, e);
    free(e);
}

static int max_keys(os3_req *r, const char *name, int *out)
{
    long n = os3_req_param_int(r, name);
    if (n == -2)
        return os3_send_error(r, OS3_INVALID_ARGUMENT, "max-keys must be a non-negative integer"),
               -1;
    *out = n < 0 || n > OS3_LIST_MAX ? OS3_LIST_MAX : (int)n;
    return 0;
}

static void write_prefixes(os3_xmlw *w, const os3_list_result *res, bool enc)
{
    for (size_t i = 0; i < res->n_prefixes; i++) {
        os3_xmlw_begin(w, "CommonPrefixes");
        text_enc(w, "Prefix", res->prefixes[i], enc);
        os3_xmlw_end(w);
    }
}

int os3_op_list_objects(os3_req *r)
{
    bool bad, enc = url_encoding(r, &bad);
    if (bad)
        return os3_send_error(r, OS3_INVALID_ARGUMENT, "Invalid Encoding Method specified");
    const char *lt = os3_req_param(r, "list-type");
    bool v2 = lt && strcmp(lt, "2") == 0;
    if (lt && !v2)
        return os3_send_error(r, OS3_INVALID_ARGUMENT, "list-type must be 2");
    os3_list_params p = { os3_req_param(r, "prefix"), os3_req_param(r, "delimiter"), NULL, 0 };
    if (max_keys(r, "max-keys", &p.max_keys) < 0)
        return 0;
    const char *token = os3_req_param(r, "continuation-token");
    const char *start_after = os3_req_param(r, "start-after");
    uint8_t *decoded = NULL;
    if (v2 && token) {
        size_t len;
        if (os3_base64_decode(token, &decoded, &len) < 0 || strlen((char *)decoded) != len)
            return free(decoded), os3_send_error(r, OS3_INVALID_ARGUMENT,
                                                 "The continuation token provided is incorrect");
        p.start_after = (const char *)decoded;
    } else if (v2) {
        p.start_after = start_after;
    } else {
        p.start_after = os3_req_param(r, "marker");
    }
    os3_list_result res = { 0 };
    int rc = os3_list_objects(r->srv->st, r->bucket, &p, &res);
    if (rc < 0) {
        free(decoded);
        os3_list_result_clear(&res);
        return os3_send_rc(r, rc);
    }
    const char *fo = os3_req_param(r, "fetch-owner");
    bool owner = !v2 || (fo && strcmp(fo, "true") == 0);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "ListBucketResult");
    os3_xmlw_text(&w, "Name", r->bucket);
    text_enc(&w, "Prefix", p.prefix, enc);
    if (v2) {
        if (token)
            os3_xmlw_text(&w, "ContinuationToken", token);
        if (start_after)
            text_enc(&w, "StartAfter", start_after, enc);
        os3_xmlw_int(&w, "KeyCount", (int64_t)(res.n_entries + res.n_prefixes));
    } else {
        text_enc(&w, "Marker", p.start_after, enc);
    }
    os3_xmlw_int(&w, "MaxKeys", p.max_keys);
    if (p.delimiter)
        text_enc(&w, "Delimiter", p.delimiter, enc);
    if (enc)
        os3_xmlw_text(&w, "EncodingType", "url");
    os3_xmlw_bool(&w, "IsTruncated", res.truncated);
    if (res.truncated && res.next_marker) {
        if (v2) {
            char *t = os3_base64_encode(res.next_marker, strlen(res.next_marker));
            os3_xmlw_text(&w, "NextContinuationToken", t);
            free(t);
        } else {
            text_enc(&w, "NextMarker", res.next_marker, enc);
        }
    }
    for (size_t i = 0; i < res.n_entries; i++) {
        const os3_list_entry *e = &res.entries[i];
        os3_xmlw_begin(&w, "Contents");
        text_enc(&w, "Key", e->key, enc);
        os3_xmlw_time(&w, "LastModified", e->mtime_us);
        os3_xmlw_text(&w, "ETag", e->etag);
        os3_xmlw_int(&w, "Size", (int64_t)e->size);
        if (owner)
            os3_write_owner(&w, "Owner");
        os3_xmlw_text(&w, "StorageClass", e->storage_class ? e->storage_class : "STANDARD");
        os3_xmlw_end(&w);
    }
    write_prefixes(&w, &res, enc);
    os3_list_result_clear(&res);
    free(decoded);
    return os3_send_xml(r, &w);
}

int os3_op_list_versions(os3_req *r)
{
    bool bad, enc = url_encoding(r, &bad);
    if (bad)
        return os3_send_error(r, OS3_INVALID_ARGUMENT, "Invalid Encoding Method specified");
    os3_list_params p = { os3_req_param(r, "prefix"), os3_req_param(r, "delimiter"),
                          os3_req_param(r, "key-marker"), 0 };
    if (max_keys(r, "max-keys", &p.max_keys) < 0)
        return 0;
    const char *vim = os3_req_param(r, "version-id-marker");
    if (vim && !*vim)
        vim = NULL;
    os3_list_result res = { 0 };
    int rc = os3_list_versions(r->srv->st, r->bucket, &p, vim, &res);
    if (rc < 0) {
        os3_list_result_clear(&res);
        return os3_send_rc(r, rc);
    }
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "ListVersionsResult");
    os3_xmlw_text(&w, "Name", r->bucket);
    text_enc(&w, "Prefix", p.prefix, enc);
    text_enc(&w, "KeyMarker", p.start_after, enc);
    os3_xmlw_text(&w, "VersionIdMarker", vim ? vim : "");
    os3_xmlw_int(&w, "MaxKeys", p.max_keys);
    if (p.delimiter)
        text_enc(&w, "Delimiter", p.delimiter, enc);
    if (enc)
        os3_xmlw_text(&w, "EncodingType", "url");
    os3_xmlw_bool(&w, "IsTruncated", res.truncated);
    if (res.truncated && res.next_marker) {
        text_enc(&w, "NextKeyMarker", res.next_marker, enc);
        if (res.next_version_id_marker)
            os3_xmlw_text(&w, "NextVersionIdMarker", res.next_version_id_marker);
    }
    for (size_t i = 0; i < res.n_entries; i++) {
        const os3_list_entry *e = &res.entries[i];
        os3_xmlw_begin(&w, e->is_delete_marker ? "DeleteMarker" : "Version");
        text_enc(&w, "Key", e->key, enc);
        os3_xmlw_text(&w, "VersionId", e->version_id);
        os3_xmlw_bool(&w, "IsLatest", e->is_latest);
        os3_xmlw_time(&w, "LastModified", e->mtime_us);
        if (!e->is_delete_marker) {
            os3_xmlw_text(&w, "ETag", e->etag);
            os3_xmlw_int(&w, "Size", (int64_t)e->size);
            os3_xmlw_text(&w, "StorageClass", e->storage_class ? e->storage_class : "STANDARD");
        }
        os3_write_owner(&w, "Owner");
        os3_xmlw_end(&w);
    }
    write_prefixes(&w, &res, enc);
    os3_list_result_clear(&res);
    return os3_send_xml(r, &w);
}

int os3_op_delete_objects(os3_req *r)
{
    os3_delete_request *req = NULL;
    enum os3_error e = OS3_OK;
    if (os3_xml_parse_delete(r->buf.data, r->buf.len, &req, &e) < 0)
        return os3_send_error(r, e, rd_error());
    int rc = os3_bucket_head(r->srv->st, r->bucket, NULL);
    if (rc < 0) {
        os3_delete_request_free(req);
        return os3_send_rc(r, rc);
    }
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "DeleteResult");
    for (size_t i = 0; i < req->n_objects; i++) {
        const os3_delete_object *o = &req->objects[i];
        os3_delete_result res = { 0 };
        rc = os3_object_delete(r->srv->st, r->bucket, o->key, o->version_id, &res);
        if (rc < 0) {
            enum os3_error de = os3_rc_error(rc);
            os3_xmlw_begin(&w, "Error");
            os3_xmlw_text(&w, "Key", o->key);
            if (o->version_id)
                os3_xmlw_text(&w, "VersionId", o->version_id);
            os3_xmlw_text(&w, "Code", os3_error_code(de));
            os3_xmlw_text(&w, "Message", de == OS3_INTERNAL_ERROR ? os3_error_message(de)
                                                                   : rd_error());
            os3_xmlw_end(&w);
            continue;
        }
        if (req->quiet)
            continue;
        os3_xmlw_begin(&w, "Deleted");
        os3_xmlw_text(&w, "Key", o->key);
        if (o->version_id)
            os3_xmlw_text(&w, "VersionId", o->version_id);
        if (res.delete_marker) {
            os3_xmlw_bool(&w, "DeleteMarker", true);
            if (res.version_id[0])
                os3_xmlw_text(&w, "DeleteMarkerVersionId", res.version_id);
        }
        os3_xmlw_end(&w);
    }
    os3_delete_request_free(req);
    return os3_send_xml(r, &w);
}
