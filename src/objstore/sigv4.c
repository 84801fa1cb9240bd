/* Verification of AWS Signature Version 4 on requests to radiant's S3 server.
 *
 * Design notes
 *  - Verification recomputes the signature with s3client's signer
 *    (s3_sigv4_signing_key, s3_sigv4_signature) from the request as received,
 *    so the server and radiant's own client cannot disagree on the math.
 *  - Everything the client controls is validated before use; nothing here is
 *    asserted. Limits (OS3_AKID_MAX, OS3_REGION_MAX, header count) bound what a
 *    hostile request can make us allocate.
 *  - Errors carry the S3 code and the message S3 itself gives, so that SDKs
 *    that match on the message (clock-skew correction in botocore looks at
 *    RequestTimeTooSkewed) behave as against AWS.
 *
 * References (Amazon S3 API reference): "Authenticating Requests (AWS
 * Signature Version 4)", "Signature Calculations for the Authorization Header",
 * "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)",
 * "Common Request Headers" (x-amz-content-sha256, x-amz-date). */
#include "objstore/sigv4.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "s3client/s3client.h"

#define MAX_SIGNED_HEADERS 64
#define MAX_QUERY_PARAMS 256

static const char ALGORITHM[] = "AWS4-HMAC-SHA256";

/* Sets auth->error and the message; returns the RD code for its class. */
static int deny(os3_auth *auth, enum os3_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int deny(os3_auth *auth, enum os3_error e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    auth->error = e;
    int code;
    switch (os3_error_status(e)) {
    case 403: code = RD_EPASS; break;
    case 500: code = RD_EINTERNAL; break;
    default: code = RD_EUSAGE; break;
    }
    return rd_fail(code, "%s", msg);
}

/* ------------------------------------------------------- canonical forms -- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes in[0..len) into out as a C string. A decoded NUL could never
 * be part of a key or parameter we act on, so it is refused with bad escapes. */
static int pct_decode(const char *in, size_t len, rd_buf *out)
{
    rd_buf_reset(out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (unsigned char)(h << 4 | l);
            i += 2;
        }
        if (c == '\0')
            return -1;
        rd_buf_append_u8(out, c);
    }
    rd_buf_reserve(out, 1);
    out->data[out->len] = '\0';
    return 0;
}

int os3_sigv4_canonical_uri(const char *raw_path, rd_buf *out)
{
    rd_buf dec = RD_BUF_INIT;
    rd_buf_reset(out);
    int rc = 0;
    if (!raw_path || !*raw_path)
        raw_path = "/";
    if (pct_decode(raw_path, strlen(raw_path), &dec) != 0) {
        rc = rd_fail(RD_EUSAGE, "invalid percent-encoding in the request path");
        goto out;
    }
    /* S3 signs the path without normalisation: decode once, encode once
     * ("Do not normalize URI paths for requests to Amazon S3"). */
    s3_uri_encode((const char *)dec.data, true, out);
out:
    rd_buf_free(&dec);
    return rc;
}

struct qparam {
    char *key;      /* encoded */
    char *value;    /* encoded */
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Calls fn for every key=value of a raw query, decoded. A missing '=' gives
 * an empty value ("?acl" is "acl="). Empty pieces ("a&&b") are skipped. */
static int query_each(const char *raw, int (*fn)(void *arg, const char *k, const char *v),
                      void *arg)
{
    rd_buf k = RD_BUF_INIT, v = RD_BUF_INIT;
    int rc = 0;
    const char *p = raw ? raw : "";
    while (*p) {
        size_t n = strcspn(p, "&");
        if (n > 0) {
            const char *eq = memchr(p, '=', n);
            size_t kl = eq ? (size_t)(eq - p) : n;
            if (pct_decode(p, kl, &k) != 0 ||
                pct_decode(eq ? eq + 1 : p + n, eq ? n - kl - 1 : 0, &v) != 0) {
                rc = rd_fail(RD_EUSAGE, "invalid percent-encoding in the query string");
                break;
            }
            rc = fn(arg, (const char *)k.data, (const char *)v.data);
            if (rc != 0)
                break;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    rd_buf_free(&k);
    rd_buf_free(&v);
    return rc;
}

struct qlist {
    struct qparam *items;
    size_t n;
    bool drop_signature;
};

static int qlist_add(void *arg, const char *k, const char *v)
{
    struct qlist *l = arg;
    if (l->drop_signature && strcmp(k, "X-Amz-Signature") == 0)
        return 0;
    if (l->n >= MAX_QUERY_PARAMS)
        return rd_fail(RD_EUSAGE, "more than %d query parameters", MAX_QUERY_PARAMS);
    rd_buf ek = RD_BUF_INIT, ev = RD_BUF_INIT;
    s3_uri_encode(k, false, &ek);
    s3_uri_encode(v, false, &ev);
    l->items = rd_realloc(l->items, (l->n + 1) * sizeof *l->items);
    /* s3_uri_encode leaves a NUL after the data, so the buffers are strings. */
    l->items[l->n].key = (char *)ek.data;
    l->items[l->n].value = (char *)ev.data;
    l->n++;
    return 0;
}

int os3_sigv4_canonical_query(const char *raw_query, bool drop_signature, rd_buf *out)
{
    struct qlist l = { NULL, 0, drop_signature };
    rd_buf_reset(out);
    int rc = query_each(raw_query, qlist_add, &l);
    if (rc == 0) {
        /* Sorted by encoded name, then value ("CanonicalQueryString"). */
        if (l.n > 1)   /* qsort(NULL, 0, ...) is undefined behaviour */
            qsort(l.items, l.n, sizeof *l.items, qparam_cmp);
        for (size_t i = 0; i < l.n; i++) {
            if (i > 0)
                rd_buf_append_u8(out, '&');
            rd_buf_append(out, l.items[i].key, strlen(l.items[i].key));
            rd_buf_append_u8(out, '=');
            rd_buf_append(out, l.items[i].value, strlen(l.items[i].value));
        }
    }
    rd_buf_reserve(out, 1);
    out->data[out->len] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        free(l.items[i].key);
        free(l.items[i].value);
    }
    free(l.items);
    return rc;
}

/* The canonical value of header `name` (lowercase): every occurrence trimmed,
 * runs of blanks collapsed to one space, joined with ','. false if absent. */
static bool header_value(const os3_request *req, const char *name, rd_buf *out)
{
    bool found = false;
    rd_buf_reset(out);
    for (size_t i = 0; i < req->n_headers; i++) {
        const os3_header *h = &req->headers[i];
        if (!h->name || !h->value || strcasecmp(h->name, name) != 0)
            continue;
        if (found)
            rd_buf_append_u8(out, ',');
        found = true;
        const char *v = h->value;
        bool blank = false;
        while (*v == ' ' || *v == '\t')
            v++;
        for (; *v; v++) {
            if (*v == ' ' || *v == '\t') {
                blank = true;
                continue;
            }
            if (blank)
                rd_buf_append_u8(out, ' ');
            blank = false;
            rd_buf_append_u8(out, (uint8_t)*v);
        }
    }
    rd_buf_reserve(out, 1);
    out->data[out->len] = '\0';
    return found;
}

/* --------------------------------------------------------------- parsing -- */

struct query_find {
    const char *name;
    rd_buf *value;
    int count;
};

static int query_find_fn(void *arg, const char *k, const char *v)
{
    struct query_find *f = arg;
    if (strcmp(k, f->name) == 0) {
        if (f->count++ == 0) {
            rd_buf_reset(f->value);
            rd_buf_append(f->value, v, strlen(v) + 1);
            f->value->len--;
        }
    }
    return 0;
}

/* The decoded value of query parameter name: 1 found, 0 absent, <0 bad. */
static int query_get(const char *raw, const char *name, rd_buf *value)
{
    struct query_find f = { name, value, 0 };
    int rc = query_each(raw, query_find_fn, &f);
    return rc < 0 ? rc : f.count > 0;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* "20130524T000000Z" to seconds; -1 when malformed. */
static int parse_amz_date(const char *s, int64_t *out)
{
    if (strlen(s) != 16 || !all_digits(s, 8) || s[8] != 'T' || !all_digits(s + 9, 6) ||
        s[15] != 'Z')
        return -1;
    char iso[32];
    snprintf(iso, sizeof iso, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", s, s + 4, s + 6, s + 9,
             s + 11, s + 13);
    return rd_time_parse(iso, out);
}

/* Splits "AK/20130524/us-east-1/s3/aws4_request" in place. */
static int parse_credential(char *cred, os3_sigv4_authz *a, const char **why)
{
    char *part[5];
    int n = 0;
    for (char *p = cred;; p++) {
        if (n == 5) {
            *why = "the Credential has more than five '/'-separated parts";
            return -1;
        }
        part[n++] = p;
        p = strchr(p, '/');
        if (!p)
            break;
        *p = '\0';
    }
    if (n != 5) {
        *why = "the Credential must be ACCESS-KEY/DATE/REGION/SERVICE/aws4_request";
        return -1;
    }
    if (!*part[0] || strlen(part[0]) > OS3_AKID_MAX) {
        *why = "the access key id in the Credential is empty or too long";
        return -1;
    }
    if (strlen(part[1]) != 8 || !all_digits(part[1], 8)) {
        *why = "the date in the Credential must be YYYYMMDD";
        return -1;
    }
    if (!*part[2] || strlen(part[2]) > OS3_REGION_MAX) {
        *why = "the region in the Credential is empty or too long";
        return -1;
    }
    if (strcmp(part[4], "aws4_request") != 0) {
        *why = "the Credential must end in aws4_request";
        return -1;
    }
    a->access_key_id = part[0];
    a->date = part[1];
    a->region = part[2];
    a->service = part[3];
    return 0;
}

/* Header names in SignedHeaders: lowercase tokens separated by ';'. A ':'
 * would split the "name:value" lines the signer builds in the wrong place. */
static bool signed_headers_valid(const char *s)
{
    if (!*s || strlen(s) > 4096)
        return false;
    bool empty = true;
    for (const char *p = s;; p++) {
        if (*p == ';' || *p == '\0') {
            if (empty)
                return false;
            if (*p == '\0')
                return true;
            empty = true;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.'))
            return false;
        empty = false;
    }
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (hexval((unsigned char)s[i]) < 0)
            return false;
    return true;
}

void os3_sigv4_authz_free(os3_sigv4_authz *a)
{
    if (!a)
        return;
    free(a->copy);
    memset(a, 0, sizeof *a);
}

int os3_sigv4_authz_parse(const char *value, os3_sigv4_authz *out, enum os3_error *err)
{
    memset(out, 0, sizeof *out);
    *err = OS3_AUTHORIZATION_HEADER_MALFORMED;
    const char *why = NULL;
    size_t alen = strlen(ALGORITHM);
    if (strncmp(value, "AWS ", 4) == 0) {
        *err = OS3_INVALID_REQUEST;
        return rd_fail(RD_EUSAGE, "The authorization mechanism you have provided is not "
                                  "supported. Please use AWS4-HMAC-SHA256.");
    }
    if (strncmp(value, ALGORITHM, alen) != 0 || value[alen] != ' ') {
        *err = OS3_INVALID_ARGUMENT;
        return rd_fail(RD_EUSAGE, "Unsupported Authorization Type");
    }
    out->copy = rd_strdup(value + alen + 1);
    char *cred = NULL;
    /* Components are separated by ',' and optional spaces, in any order. */
    for (char *p = out->copy; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end = p + strcspn(p, ",");
        if (*end)
            *end++ = '\0';
        char *sp = p + strlen(p);
        while (sp > p && sp[-1] == ' ')
            *--sp = '\0';
        char *eq = strchr(p, '=');
        if (!eq) {
            why = "a component is not NAME=VALUE";
            goto bad;
        }
        *eq = '\0';
        const char **slot = NULL;
        if (strcmp(p, "Credential") == 0) {
            if (cred) {
                why = "Credential appears twice";
                goto bad;
            }
            cred = eq + 1;
        } else if (strcmp(p, "SignedHeaders") == 0) {
            slot = &out->signed_headers;
        } else if (strcmp(p, "Signature") == 0) {
            slot = &out->signature;
        } else {
            why = "unknown component";
            goto bad;
        }
        if (slot) {
            if (*slot) {
                why = "a component appears twice";
                goto bad;
            }
            *slot = eq + 1;
        }
        p = end;
    }
    if (!cred || !out->signed_headers || !out->signature) {
        why = "Credential, SignedHeaders and Signature are all required";
        goto bad;
    }
    if (parse_credential(cred, out, &why) != 0)
        goto bad;
    if (!signed_headers_valid(out->signed_headers)) {
        why = "SignedHeaders must be lowercase header names separated by ';'";
        goto bad;
    }
    if (!is_hex64(out->signature)) {
        why = "Signature must be 64 hexadecimal digits";
        goto bad;
    }
    *err = OS3_OK;
    return 0;
bad:
    os3_sigv4_authz_free(out);
    return rd_fail(RD_EUSAGE, "The authorization header is malformed; %s", why);
}

/* ---------------------------------------------------------- verification -- */

static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ";");
        if (l == n && strncmp(p, name, n) == 0)
            return true;
        p += l;
        if (*p)
            p++;
    }
    return false;
}

static int parse_payload(os3_auth *auth, const char *v, bool presigned)
{
    if (is_hex64(v)) {
        auth->payload = OS3_PAYLOAD_SHA256;
        for (int i = 0; i < 64; i++)
            auth->payload_sha256[i] = (char)tolower((unsigned char)v[i]);
        auth->payload_sha256[64] = '\0';
    } else if (strcmp(v, "UNSIGNED-PAYLOAD") == 0) {
        auth->payload = OS3_PAYLOAD_UNSIGNED;
    } else if (!presigned && strcmp(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0) {
        auth->payload = OS3_PAYLOAD_STREAMING_SIGNED;
    } else if (!presigned && strcmp(v, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0) {
        auth->payload = OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    } else if (!presigned && rd_str_starts_with(v, "STREAMING-")) {
        /* The signed-trailer and ECDSA (SigV4a) variants are valid S3 values
         * that no client we target sends by default; refusing them is honest. */
        return deny(auth, OS3_NOT_IMPLEMENTED, "x-amz-content-sha256 %s is not implemented", v);
    } else {
        return deny(auth, OS3_INVALID_ARGUMENT,
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER "
                    "or a valid sha256 value.");
    }
    return 0;
}

/* What both forms share once their parameters are known. */
struct sig_input {
    const char *access_key_id, *date, *region, *service;
    const char *signed_headers;
    const char *signature;
    const char *amz_date;
    const char *payload;            /* the string that ends the canonical request */
    bool presigned;
};

static int check_scope(os3_auth *auth, const os3_auth_config *cfg, const struct sig_input *in,
                       enum os3_error malformed)
{
    if (strncmp(in->date, in->amz_date, 8) != 0)
        return deny(auth, malformed, "Invalid credential date \"%s\". This date is not the "
                                     "same as X-Amz-Date: \"%.8s\".", in->date, in->amz_date);
    if (strcmp(in->service, "s3") != 0)
        return deny(auth, malformed, "The authorization header is malformed; incorrect "
                                     "service \"%s\". This endpoint belongs to \"s3\".",
                    in->service);
    if (cfg->region && strcmp(in->region, cfg->region) != 0)
        return deny(auth, malformed, "The authorization header is malformed; the region "
                                     "'%s' is wrong; expecting '%s'", in->region, cfg->region);
    if (!list_has(in->signed_headers, "host"))
        return deny(auth, malformed, "The authorization header is malformed; the host "
                                     "header must be signed");
    return 0;
}

static int compute_and_compare(const os3_request *req, const os3_auth_config *cfg,
                               const struct sig_input *in, os3_auth *auth)
{
    rd_buf uri = RD_BUF_INIT, query = RD_BUF_INIT, val = RD_BUF_INIT, sh = RD_BUF_INIT;
    char *lines[MAX_SIGNED_HEADERS] = { 0 };
    size_t n_lines = 0;
    char secret[OS3_SECRET_MAX + 1] = "";
    int rc = 0;

    if (os3_sigv4_canonical_uri(req->path, &uri) != 0 ||
        os3_sigv4_canonical_query(req->query, in->presigned, &query) != 0) {
        rc = deny(auth, OS3_INVALID_ARGUMENT, "%s", rd_error());
        goto out;
    }
    for (const char *p = in->signed_headers; *p;) {
        size_t l = strcspn(p, ";");
        if (n_lines == MAX_SIGNED_HEADERS) {
            rc = deny(auth, in->presigned ? OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR
                                          : OS3_AUTHORIZATION_HEADER_MALFORMED,
                      "more than %d signed headers", MAX_SIGNED_HEADERS);
            goto out;
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(l < 255 ? l : 255), p);
        /* A signed header that is absent is signed as empty, as S3 does: the
         * signature then fails to match, which is the right answer. */
        header_value(req, name, &val);
        lines[n_lines++] = rd_asprintf("%s:%s", name, (const char *)val.data);
        p += l;
        if (*p)
            p++;
    }

    int lrc = cfg->secret ? cfg->secret(cfg->secret_arg, in->access_key_id, secret,
                                        sizeof secret)
                          : -RD_ENOENT;
    if (lrc == -RD_ENOENT) {
        rc = deny(auth, OS3_INVALID_ACCESS_KEY_ID,
                  "The AWS access key Id you provided does not exist in our records.");
        goto out;
    }
    if (lrc != 0) {
        rc = deny(auth, OS3_INTERNAL_ERROR, "cannot look up access key %s: %s",
                  in->access_key_id, rd_error());
        goto out;
    }
    secret[OS3_SECRET_MAX] = '\0';

    snprintf(auth->amz_date, sizeof auth->amz_date, "%s", in->amz_date);
    snprintf(auth->scope, sizeof auth->scope, "%s/%s/%s/aws4_request", in->date, in->region,
             in->service);
    s3_sigv4_signing_key(secret, in->date, in->region, in->service, auth->signing_key);
    char sig[2 * RD_SHA256_LEN + 1];
    if (s3_sigv4_signature(req->method, (const char *)uri.data, (const char *)query.data,
                           (const char *const *)lines, n_lines, in->payload, in->amz_date,
                           auth->scope, auth->signing_key, &sh, sig) != 0) {
        rc = deny(auth, OS3_INTERNAL_ERROR, "%s", rd_error());
        goto out;
    }
    char given[65];
    for (int i = 0; i < 64; i++)
        given[i] = (char)tolower((unsigned char)in->signature[i]);
    given[64] = '\0';
    if (rd_memeq_ct(sig, given, 64) != 0) {
        rc = deny(auth, OS3_SIGNATURE_DOES_NOT_MATCH,
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.");
        goto out;
    }
    memcpy(auth->seed_signature, sig, sizeof sig);
    snprintf(auth->access_key_id, sizeof auth->access_key_id, "%s", in->access_key_id);
out:
    explicit_bzero(secret, sizeof secret);
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    rd_buf_free(&uri);
    rd_buf_free(&query);
    rd_buf_free(&val);
    rd_buf_free(&sh);
    return rc;
}

static int verify_header(const os3_request *req, const os3_auth_config *cfg, const char *authz,
                         os3_auth *auth)
{
    os3_sigv4_authz a;
    enum os3_error err;
    rd_buf date = RD_BUF_INIT, sha = RD_BUF_INIT, len = RD_BUF_INIT;
    int rc = os3_sigv4_authz_parse(authz, &a, &err);
    if (rc != 0)
        return deny(auth, err, "%s", rd_error());

    int64_t t;
    if (!header_value(req, "x-amz-date", &date) ||
        parse_amz_date((const char *)date.data, &t) != 0) {
        rc = deny(auth, OS3_ACCESS_DENIED,
                  "AWS authentication requires a valid Date or x-amz-date header");
        goto out;
    }
    struct sig_input in = {
        .access_key_id = a.access_key_id, .date = a.date, .region = a.region,
        .service = a.service, .signed_headers = a.signed_headers, .signature = a.signature,
        .amz_date = (const char *)date.data, .presigned = false,
    };
    rc = check_scope(auth, cfg, &in, OS3_AUTHORIZATION_HEADER_MALFORMED);
    if (rc != 0)
        goto out;
    if (t > cfg->now + OS3_MAX_SKEW_SECONDS || t < cfg->now - OS3_MAX_SKEW_SECONDS) {
        rc = deny(auth, OS3_REQUEST_TIME_TOO_SKEWED,
                  "The difference between the request time and the current time is too large.");
        goto out;
    }
    if (!header_value(req, "x-amz-content-sha256", &sha)) {
        rc = deny(auth, OS3_MISSING_SECURITY_HEADER,
                  "Your request is missing a required header: x-amz-content-sha256");
        goto out;
    }
    rc = parse_payload(auth, (const char *)sha.data, false);
    if (rc != 0)
        goto out;
    in.payload = (const char *)sha.data;

    /* S3 refuses x-amz-* headers that the signature does not cover: they
     * change what a request does (ACLs, copy sources, storage class). */
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *n = req->headers[i].name;
        if (!n || strncasecmp(n, "x-amz-", 6) != 0)
            continue;
        char lower[256];
        size_t l = strlen(n);
        if (l >= sizeof lower)
            l = sizeof lower - 1;
        for (size_t j = 0; j < l; j++)
            lower[j] = (char)tolower((unsigned char)n[j]);
        lower[l] = '\0';
        if (!list_has(a.signed_headers, lower)) {
            rc = deny(auth, OS3_ACCESS_DENIED,
                      "There were headers present in the request which were not signed: %s",
                      lower);
            goto out;
        }
    }

    if (auth->payload == OS3_PAYLOAD_STREAMING_SIGNED ||
        auth->payload == OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER) {
        if (header_value(req, "x-amz-decoded-content-length", &len)) {
            const char *s = (const char *)len.data;
            char *end;
            unsigned long long v = strtoull(s, &end, 10);
            if (!all_digits(s, strlen(s)) || *end || strlen(s) > 15) {
                rc = deny(auth, OS3_INVALID_ARGUMENT,
                          "x-amz-decoded-content-length must be a decimal number");
                goto out;
            }
            auth->decoded_content_length = (int64_t)v;
        } else if (auth->payload == OS3_PAYLOAD_STREAMING_SIGNED) {
            rc = deny(auth, OS3_MISSING_CONTENT_LENGTH,
                      "You must provide the x-amz-decoded-content-length header.");
            goto out;
        }
    }
    rc = compute_and_compare(req, cfg, &in, auth);
out:
    os3_sigv4_authz_free(&a);
    rd_buf_free(&date);
    rd_buf_free(&sha);
    rd_buf_free(&len);
    return rc;
}

enum { QP_ALGORITHM, QP_CREDENTIAL, QP_DATE, QP_EXPIRES, QP_SIGNED_HEADERS, QP_SIGNATURE,
       QP_COUNT };
static const char *const qp_names[QP_COUNT] = {
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature",
};

static int verify_presigned(const os3_request *req, const os3_auth_config *cfg, os3_auth *auth)
{
    const enum os3_error qerr = OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR;
    rd_buf qp[QP_COUNT], sha = RD_BUF_INIT;
    os3_sigv4_authz a = { 0 };
    const char *why = NULL;
    int rc = 0;
    for (int i = 0; i < QP_COUNT; i++)
        qp[i] = (rd_buf)RD_BUF_INIT;
    auth->presigned = true;
    for (int i = 0; i < QP_COUNT; i++) {
        int found = query_get(req->query, qp_names[i], &qp[i]);
        if (found < 0) {
            rc = deny(auth, OS3_INVALID_ARGUMENT, "%s", rd_error());
            goto out;
        }
        if (!found) {
            rc = deny(auth, qerr, "Query-string authentication version 4 requires the "
                                  "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
                                  "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires "
                                  "parameters.");
            goto out;
        }
    }
    const char *v[QP_COUNT];
    for (int i = 0; i < QP_COUNT; i++)
        v[i] = (const char *)qp[i].data;
    if (strcmp(v[QP_ALGORITHM], ALGORITHM) != 0) {
        rc = deny(auth, qerr, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        goto out;
    }
    a.copy = rd_strdup(v[QP_CREDENTIAL]);
    if (parse_credential(a.copy, &a, &why) != 0) {
        rc = deny(auth, qerr, "Error parsing the X-Amz-Credential parameter; %s", why);
        goto out;
    }
    int64_t t;
    if (parse_amz_date(v[QP_DATE], &t) != 0) {
        rc = deny(auth, qerr, "X-Amz-Date must be in the ISO8601 Long Format "
                              "\"yyyyMMdd'T'HHmmss'Z'\"");
        goto out;
    }
    const char *e = v[QP_EXPIRES];
    if (!all_digits(e, strlen(e)) || strlen(e) > 7) {
        rc = deny(auth, qerr, "X-Amz-Expires should be a number");
        goto out;
    }
    long expires = strtol(e, NULL, 10);
    if (expires < 1 || expires > OS3_PRESIGN_MAX_EXPIRES) {
        rc = deny(auth, qerr, expires < 1 ? "X-Amz-Expires must be non-negative"
                                          : "X-Amz-Expires must be less than a week (in "
                                            "seconds) that is 604800");
        goto out;
    }
    if (!signed_headers_valid(v[QP_SIGNED_HEADERS])) {
        rc = deny(auth, qerr, "X-Amz-SignedHeaders must be lowercase header names "
                              "separated by ';'");
        goto out;
    }
    if (!is_hex64(v[QP_SIGNATURE])) {
        rc = deny(auth, qerr, "X-Amz-Signature must be 64 hexadecimal digits");
        goto out;
    }
    struct sig_input in = {
        .access_key_id = a.access_key_id, .date = a.date, .region = a.region,
        .service = a.service, .signed_headers = v[QP_SIGNED_HEADERS],
        .signature = v[QP_SIGNATURE], .amz_date = v[QP_DATE], .presigned = true,
        .payload = "UNSIGNED-PAYLOAD",
    };
    rc = check_scope(auth, cfg, &in, qerr);
    if (rc != 0)
        goto out;
    if (t > cfg->now + OS3_MAX_SKEW_SECONDS) {
        rc = deny(auth, OS3_ACCESS_DENIED, "Request is not valid yet");
        goto out;
    }
    if (cfg->now > t + expires) {
        rc = deny(auth, OS3_ACCESS_DENIED, "Request has expired");
        goto out;
    }
    /* A presigned URL signs UNSIGNED-PAYLOAD unless the signer put a body
     * hash into the query (some SDKs do for PUT). */
    int found = query_get(req->query, "X-Amz-Content-Sha256", &sha);
    if (found > 0)
        in.payload = (const char *)sha.data;
    rc = parse_payload(auth, in.payload, true);
    if (rc != 0)
        goto out;
    rc = compute_and_compare(req, cfg, &in, auth);
out:
    for (int i = 0; i < QP_COUNT; i++)
        rd_buf_free(&qp[i]);
    rd_buf_free(&sha);
    free(a.copy);
    return rc;
}

int os3_sigv4_verify(const os3_request *req, const os3_auth_config *cfg, os3_auth *auth)
{
    rd_buf authz = RD_BUF_INIT, alg = RD_BUF_INIT;
    memset(auth, 0, sizeof *auth);
    auth->decoded_content_length = -1;
    auth->payload = OS3_PAYLOAD_UNSIGNED;
    int rc;
    bool has_header = header_value(req, "authorization", &authz);
    int has_query = query_get(req->query, "X-Amz-Algorithm", &alg);
    if (has_query < 0) {
        rc = deny(auth, OS3_INVALID_ARGUMENT, "%s", rd_error());
    } else if (has_header && has_query) {
        rc = deny(auth, OS3_INVALID_ARGUMENT,
                  "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                  "Signature query string parameter or the Authorization header should be "
                  "specified");
    } else if (has_header) {
        rc = verify_header(req, cfg, (const char *)authz.data, auth);
    } else if (has_query) {
        rc = verify_presigned(req, cfg, auth);
    } else {
        auth->anonymous = true;
        rc = deny(auth, OS3_ACCESS_DENIED, "Access Denied");
    }
    if (rc != 0)
        explicit_bzero(auth->signing_key, sizeof auth->signing_key);
    rd_buf_free(&authz);
    rd_buf_free(&alg);
    return rc;
}

void os3_auth_clear(os3_auth *auth)
{
    if (auth)
        explicit_bzero(auth->signing_key, sizeof auth->signing_key);
}

int os3_payload_verify(const os3_auth *auth, const uint8_t sha256[RD_SHA256_LEN],
                       enum os3_error *err)
{
    *err = OS3_OK;
    if (auth->payload != OS3_PAYLOAD_SHA256)
        return 0;
    char hex[2 * RD_SHA256_LEN + 1];
    rd_hex_encode(sha256, RD_SHA256_LEN, hex);
    if (strcmp(hex, auth->payload_sha256) == 0)
        return 0;
    *err = OS3_X_AMZ_CONTENT_SHA256_MISMATCH;
    return rd_fail(RD_ECORRUPT, "The provided 'x-amz-content-sha256' header does not match "
                                "what was computed: header %s, body %s",
                   auth->payload_sha256, hex);
}
