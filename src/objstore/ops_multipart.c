/* S3 multipart uploads: CreateMultipartUpload, UploadPartCopy,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts and
 * ListMultipartUploads (UploadPart itself streams through ops_object.c's
 * PutObject path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "objstore/http.h"

int os3_op_create_upload(os3_req *r)
{
    os3_meta meta;
    os3_req_meta(r, &meta);
    char id[OS3_UPLOAD_ID_MAX];
    int rc = os3_mpu_create(r->srv->st, r->bucket, r->key, &meta, id);
    os3_req_meta_free(&meta);
    if (rc < 0)
        return os3_send_rc(r, rc);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "InitiateMultipartUploadResult");
    os3_xmlw_text(&w, "Bucket", r->bucket);
    os3_xmlw_text(&w, "Key", r->key);
    os3_xmlw_text(&w, "UploadId", id);
    return os3_send_xml(r, &w);
}

int os3_op_upload_part_copy(os3_req *r)
{
    long pn = os3_req_param_int(r, "partNumber");
    if (pn < 1 || pn > OS3_PART_NUMBER_MAX)
        return os3_send_error(r, OS3_INVALID_ARGUMENT,
                              "Part number must be an integer between 1 and 10000");
    os3_range range, *rp = NULL;
    const char *rh = os3_req_header(r, "x-amz-copy-source-range");
    if (rh) {
        /* UploadPartCopy takes bytes=first-last only. */
        if (os3_parse_range(rh, &range) < 0 || range.first < 0 || range.last < 0)
            return os3_send_error(r, OS3_INVALID_ARGUMENT, "The x-amz-copy-source-range value "
                                  "must be of the form bytes=first-last");
        rp = &range;
    }
    char *sb, *sk, *sv;
    if (os3_parse_copy_source(r, &sb, &sk, &sv) < 0)
        return 0;
    os3_put_result res = { 0 };
    int rc = os3_mpu_part_copy(r->srv->st, r->bucket, r->key, os3_req_param(r, "uploadId"),
                               (int)pn, sb, sk, sv, rp, &res);
    free(sb), free(sk), free(sv);
    if (rc < 0)
        return os3_send_rc(r, rc);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "CopyPartResult");
    os3_xmlw_time(&w, "LastModified", res.mtime_us);
    os3_xmlw_text(&w, "ETag", res.etag);
    struct MHD_Response *resp = os3_xml_response(r, &w);
    os3_add_version_header(resp, "x-amz-copy-source-version-id", res.source_version_id);
    return os3_queue(r, 200, resp);
}

int os3_op_complete_upload(os3_req *r)
{
    os3_complete_request *req = NULL;
    enum os3_error e = OS3_OK;
    if (os3_xml_parse_complete(r->buf.data, r->buf.len, &req, &e) < 0)
        return os3_send_error(r, e, rd_error());
    os3_part_ref *refs = rd_calloc(req->n_parts, sizeof *refs);
    for (size_t i = 0; i < req->n_parts; i++) {
        refs[i].part_number = req->parts[i].part_number;
        refs[i].etag = req->parts[i].etag;
    }
    os3_put_result res = { 0 };
    int rc = os3_mpu_complete(r->srv->st, r->bucket, r->key, os3_req_param(r, "uploadId"), refs,
                              req->n_parts, &res);
    free(refs);
    os3_complete_request_free(req);
    if (rc < 0)
        return os3_send_rc(r, rc);
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "CompleteMultipartUploadResult");
    const char *host = os3_req_header(r, "Host");
    char *loc = rd_asprintf("http://%s/%s/%s", host ? host : "localhost", r->bucket, r->key);
    os3_xmlw_text(&w, "Location", loc);
    free(loc);
    os3_xmlw_text(&w, "Bucket", r->bucket);
    os3_xmlw_text(&w, "Key", r->key);
    os3_xmlw_text(&w, "ETag", res.etag);
    struct MHD_Response *resp = os3_xml_response(r, &w);
    os3_add_version_header(resp, "x-amz-version-id", res.version_id);
    return os3_queue(r, 200, resp);
}

int os3_op_abort_upload(os3_req *r)
{
    int rc = os3_mpu_abort(r->srv->st, r->bucket, r->key, os3_req_param(r, "uploadId"));
    return rc < 0 ? os3_send_rc(r, rc) : os3_send_empty(r, 204);
}

int os3_op_list_parts(os3_req *r)
{
    long marker = os3_req_param_int(r, "part-number-marker");
    long max = os3_req_param_int(r, "max-parts");
    if (marker == -2 || max == -2)
        return os3_send_error(r, OS3_INVALID_ARGUMENT,
                              "part-number-marker and max-parts must be non-negative integers");
    if (max < 0 || max > 1000)
        max = 1000;
    const char *id = os3_req_param(r, "uploadId");
    os3_parts_result res = { 0 };
    int rc = os3_mpu_list_parts(r->srv->st, r->bucket, r->key, id, marker < 0 ? 0 : (int)marker,
                                max == 0 ? -1 : (int)max, &res);
    if (rc < 0) {
        os3_parts_result_clear(&res);
        return os3_send_rc(r, rc);
    }
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "ListPartsResult");
    os3_xmlw_text(&w, "Bucket", r->bucket);
    os3_xmlw_text(&w, "Key", r->key);
    os3_xmlw_text(&w, "UploadId", id);
    os3_write_owner(&w, "Initiator");
    os3_write_owner(&w, "Owner");
    os3_xmlw_text(&w, "StorageClass", res.storage_class ? res.storage_class : "STANDARD");
    os3_xmlw_int(&w, "PartNumberMarker", marker < 0 ? 0 : marker);
    if (res.truncated)
        os3_xmlw_int(&w, "NextPartNumberMarker", res.next_part_marker);
    os3_xmlw_int(&w, "MaxParts", max);
    os3_xmlw_bool(&w, "IsTruncated", res.truncated);
    for (size_t i = 0; i < res.n_parts; i++) {
        os3_xmlw_begin(&w, "Part");
        os3_xmlw_int(&w, "PartNumber", res.parts[i].part_number);
        os3_xmlw_time(&w, "LastModified", res.parts[i].mtime_us);
        os3_xmlw_text(&w, "ETag", res.parts[i].etag);
        os3_xmlw_int(&w, "Size", (int64_t)res.parts[i].size);
        os3_xmlw_end(&w);
    }
    os3_parts_result_clear(&res);
    return os3_send_xml(r, &w);
}

int os3_op_list_uploads(os3_req *r)
{
    os3_list_params p = { os3_req_param(r, "prefix"), os3_req_param(r, "delimiter"),
                          os3_req_param(r, "key-marker"), 0 };
    long max = os3_req_param_int(r, "max-uploads");
    if (max == -2)
        return os3_send_error(r, OS3_INVALID_ARGUMENT, "max-uploads must be a non-negative "
                              "integer");
    p.max_keys = max < 0 || max > 1000 ? 1000 : (int)max;
    const char *uim = os3_req_param(r, "upload-id-marker");
    if (uim && !*uim)
        uim = NULL;
    os3_uploads_result res = { 0 };
    int rc = os3_mpu_list_uploads(r->srv->st, r->bucket, &p, uim, &res);
    if (rc < 0) {
        os3_uploads_result_clear(&res);
        return os3_send_rc(r, rc);
    }
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "ListMultipartUploadsResult");
    os3_xmlw_text(&w, "Bucket", r->bucket);
    os3_xmlw_text(&w, "KeyMarker", p.start_after ? p.start_after : "");
    os3_xmlw_text(&w, "UploadIdMarker", uim ? uim : "");
    if (res.truncated) {
        os3_xmlw_text(&w, "NextKeyMarker", res.next_key_marker ? res.next_key_marker : "");
        os3_xmlw_text(&w, "NextUploadIdMarker",
                      res.next_upload_id_marker ? res.next_upload_id_marker : "");
    }
    os3_xmlw_text(&w, "Prefix", p.prefix ? p.prefix : "");
    if (p.delimiter)
        os3_xmlw_text(&w, "Delimiter", p.delimiter);
    os3_xmlw_int(&w, "MaxUploads", p.max_keys);
    os3_xmlw_bool(&w, "IsTruncated", res.truncated);
    for (size_t i = 0; i < res.n_uploads; i++) {
        const os3_upload_info *u = &res.uploads[i];
        os3_xmlw_begin(&w, "Upload");
        os3_xmlw_text(&w, "Key", u->key);
        os3_xmlw_text(&w, "UploadId", u->upload_id);
        os3_write_owner(&w, "Initiator");
        os3_write_owner(&w, "Owner");
        os3_xmlw_text(&w, "StorageClass", u->storage_class ? u->storage_class : "STANDARD");
        os3_xmlw_time(&w, "Initiated", u->initiated_us);
        os3_xmlw_end(&w);
    }
    for (size_t i = 0; i < res.n_prefixes; i++) {
        os3_xmlw_begin(&w, "CommonPrefixes");
        os3_xmlw_text(&w, "Prefix", res.prefixes[i]);
        os3_xmlw_end(&w);
    }
    os3_uploads_result_clear(&res);
    return os3_send_xml(r, &w);
}
