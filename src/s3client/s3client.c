/* The S3 client: AWS Signature Version 4 over libcurl easy handles.
 *
 * Design notes
 *  - Every request is signed just before each attempt (the signature covers
 *    x-amz-date, so a retry after a backoff must not reuse an old one).
 *  - What we sign is exactly what we send: the Host header is set explicitly,
 *    the URL path is the canonical URI, the query string is the canonical query.
 *  - Easy handles are kept in a small pool under a mutex so that connections
 *    are reused; one handle is only ever used by one thread at a time.
 *    CURLOPT_NOSIGNAL is set because timeouts must not raise SIGALRM in a
 *    multi-threaded process.
 *  - Response bodies of failed requests (S3 XML error documents) go to a
 *    separate buffer so a caller's output buffer never holds an error page.
 *  - XML is parsed with libxml2 without network access and without entity
 *    substitution or DTD loading; a document carrying a DTD is refused outright,
 *    S3 never sends one.
 *
 * References: "Authenticating Requests (AWS Signature Version 4)" and
 * "Signature Calculations for the Authorization Header: Transferring Payload in
 * a Single Chunk" in the Amazon S3 API reference; ListObjectsV2 for listings. */
#include "s3client/s3client.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"

#define S3_POOL_MAX 8
#define S3_RETRIES 3                   /* retries after the first attempt */
#define S3_ERR_BODY_MAX (64 * 1024)    /* an S3 error document is small */
#define S3_LIST_BODY_MAX (32 * 1024 * 1024)

static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct s3_client {
    char *endpoint;       /* as configured, for messages */
    char *scheme;         /* "http" or "https" */
    char *host;           /* host[:port] of the endpoint */
    char *region;
    char *bucket;
    char *access_key_id;
    char *secret_access_key;
    bool path_style;
    bool verify_tls;
    long timeout_seconds;

    pthread_mutex_t lock;           /* guards pool */
    CURL *pool[S3_POOL_MAX];
    size_t n_pool;
};

/* ------------------------------------------------------------- globals -- */

static pthread_once_t s3_global_once = PTHREAD_ONCE_INIT;
static int s3_global_rc;

/* curl_global_init and xmlInitParser are not thread safe themselves; both must
 * run once before any thread uses the libraries. */
static void s3_global_init(void)
{
    s3_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
    xmlInitParser();
}

/* ---------------------------------------------------------------- SigV4 -- */

void s3_uri_encode(const char *in, bool keep_slash, rd_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        unsigned char c = *p;
        /* The unreserved set of RFC 3986; SigV4 encodes everything else,
         * including '+', '*', '$' and bytes of UTF-8 sequences. */
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                     c == '~' || (c == '/' && keep_slash);
        if (plain) {
            rd_buf_append_u8(out, c);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            rd_buf_append(out, esc, 3);
        }
    }
    /* Keep the buffer usable as a C string without counting the NUL. */
    rd_buf_reserve(out, 1);
    out->data[out->len] = '\0';
}

static void hmac(const void *key, size_t keylen, const char *msg, uint8_t out[RD_SHA256_LEN])
{
    rd_hmac_sha256(key, keylen, msg, strlen(msg), out);
}

void s3_sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                          const char *service, uint8_t key[RD_SHA256_LEN])
{
    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
     * "aws4_request"): the key depends only on the scope, so a verifier can
     * keep it for the chunk signatures of a streaming upload. */
    char *secret = rd_asprintf("AWS4%s", secret_access_key);
    uint8_t k1[RD_SHA256_LEN], k2[RD_SHA256_LEN];
    hmac(secret, strlen(secret), date8, k1);
    hmac(k1, sizeof k1, region, k2);
    hmac(k2, sizeof k2, service, k1);
    hmac(k1, sizeof k1, "aws4_request", key);
    explicit_bzero(secret, strlen(secret));
    explicit_bzero(k1, sizeof k1);
    explicit_bzero(k2, sizeof k2);
    free(secret);
}

int s3_sigv4_signature(const char *method, const char *canonical_uri, const char *canonical_query,
                       const char *const *headers, size_t n_headers,
                       const char *payload_sha256_hex, const char *amz_date, const char *scope,
                       const uint8_t signing_key[RD_SHA256_LEN], rd_buf *signed_headers,
                       char signature_hex[2 * RD_SHA256_LEN + 1])
{
    rd_buf creq = RD_BUF_INIT;
    int rc = 0;
    rd_buf_reset(signed_headers);
    for (size_t i = 0; i < n_headers; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon) {
            rc = rd_fail(RD_EINTERNAL, "sigv4: header '%s' has no ':'", headers[i]);
            goto out;
        }
        if (i > 0)
            rd_buf_append_u8(signed_headers, ';');
        rd_buf_append(signed_headers, headers[i], (size_t)(colon - headers[i]));
    }
    rd_buf_append_u8(signed_headers, '\0');
    signed_headers->len--;     /* a C string; the NUL is not counted */

    /* CanonicalRequest: method, URI, query, headers (each "name:value\n"),
     * an empty line ending the headers, signed header names, payload hash. */
    const char *parts[] = { method, "\n", canonical_uri, "\n",
                            canonical_query ? canonical_query : "", "\n" };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        rd_buf_append(&creq, parts[i], strlen(parts[i]));
    for (size_t i = 0; i < n_headers; i++) {
        rd_buf_append(&creq, headers[i], strlen(headers[i]));
        rd_buf_append_u8(&creq, '\n');
    }
    rd_buf_append_u8(&creq, '\n');
    rd_buf_append(&creq, signed_headers->data, signed_headers->len);
    rd_buf_append_u8(&creq, '\n');
    rd_buf_append(&creq, payload_sha256_hex, strlen(payload_sha256_hex));

    uint8_t digest[RD_SHA256_LEN];
    char creq_hex[2 * RD_SHA256_LEN + 1];
    rd_sha256(creq.data, creq.len, digest);
    rd_hex_encode(digest, sizeof digest, creq_hex);

    char *sts = rd_asprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hex);
    hmac(signing_key, RD_SHA256_LEN, sts, digest);
    rd_hex_encode(digest, sizeof digest, signature_hex);
    free(sts);
out:
    rd_buf_free(&creq);
    return rc;
}

void s3_sigv4_chunk_signature(const uint8_t signing_key[RD_SHA256_LEN], const char *amz_date,
                              const char *scope, const char *previous_signature_hex,
                              const uint8_t chunk_sha256[RD_SHA256_LEN],
                              char signature_hex[2 * RD_SHA256_LEN + 1])
{
    char chunk_hex[2 * RD_SHA256_LEN + 1];
    rd_hex_encode(chunk_sha256, RD_SHA256_LEN, chunk_hex);
    /* "Signature Calculations for the Authorization Header: Transferring
     * Payload in Multiple Chunks": the middle hash is that of the empty string. */
    char *sts = rd_asprintf("AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", amz_date, scope,
                            previous_signature_hex, EMPTY_SHA256, chunk_hex);
    uint8_t mac[RD_SHA256_LEN];
    hmac(signing_key, RD_SHA256_LEN, sts, mac);
    rd_hex_encode(mac, sizeof mac, signature_hex);
    free(sts);
}

int s3_sigv4_sign(const char *method, const char *canonical_uri, const char *canonical_query,
                  const char *const *headers, size_t n_headers, const char *payload_sha256_hex,
                  const char *amz_date, const char *region, const char *service,
                  const char *access_key_id, const char *secret_access_key,
                  char *authorization, size_t authorization_len)
{
    if (!amz_date || strlen(amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z')
        return rd_fail(RD_EINTERNAL, "sigv4: bad x-amz-date '%s'", amz_date ? amz_date : "");
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';

    char *scope = rd_asprintf("%s/%s/%s/aws4_request", date8, region, service);
    uint8_t key[RD_SHA256_LEN];
    s3_sigv4_signing_key(secret_access_key, date8, region, service, key);
    rd_buf signed_headers = RD_BUF_INIT;
    char sig_hex[2 * RD_SHA256_LEN + 1];
    int rc = s3_sigv4_signature(method, canonical_uri, canonical_query, headers, n_headers,
                                payload_sha256_hex, amz_date, scope, key, &signed_headers,
                                sig_hex);
    explicit_bzero(key, sizeof key);
    if (rc == 0) {
        int n = snprintf(authorization, authorization_len,
                         "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s",
                         access_key_id, scope, (const char *)signed_headers.data, sig_hex);
        if (n < 0 || (size_t)n >= authorization_len)
            rc = rd_fail(RD_EINTERNAL, "sigv4: authorization buffer of %zu bytes is too small",
                         authorization_len);
    }
    free(scope);
    rd_buf_free(&signed_headers);
    return rc;
}

/* ----------------------------------------------------------- construction -- */

int s3_client_new(const s3_client_options *opts, s3_client **out)
{
    *out = NULL;
    pthread_once(&s3_global_once, s3_global_init);
    if (s3_global_rc < 0)
        return rd_fail(RD_EINTERNAL, "cannot initialise libcurl");
    if (!opts->endpoint || !opts->bucket || !*opts->bucket || !opts->access_key_id ||
        !opts->secret_access_key)
        return rd_fail(RD_ECONFIG, "an S3 client needs an endpoint, a bucket and credentials");

    const char *ep = opts->endpoint;
    const char *rest;
    const char *scheme;
    if (rd_str_starts_with(ep, "http://")) {
        scheme = "http";
        rest = ep + 7;
    } else if (rd_str_starts_with(ep, "https://")) {
        scheme = "https";
        rest = ep + 8;
    } else {
        return rd_fail(RD_ECONFIG, "s3 endpoint %s must start with http:// or https://", ep);
    }
    size_t hostlen = strcspn(rest, "/?#");
    /* A path after the host would have to be part of every canonical URI;
     * no S3 implementation we target needs it, so it is refused rather than
     * half supported. */
    if (hostlen == 0 || (rest[hostlen] && strcmp(rest + hostlen, "/") != 0))
        return rd_fail(RD_ECONFIG, "s3 endpoint %s must be scheme://host[:port] without a path",
                       ep);
    if (strchr(opts->bucket, '/'))
        return rd_fail(RD_ECONFIG, "s3 bucket name '%s' must not contain '/'", opts->bucket);

    s3_client *c = rd_calloc(1, sizeof *c);
    c->endpoint = rd_asprintf("%s://%.*s", scheme, (int)hostlen, rest);
    c->scheme = rd_strdup(scheme);
    c->host = rd_asprintf("%.*s", (int)hostlen, rest);
    c->region = rd_strdup(opts->region && *opts->region ? opts->region : "us-east-1");
    c->bucket = rd_strdup(opts->bucket);
    c->access_key_id = rd_strdup(opts->access_key_id);
    c->secret_access_key = rd_strdup(opts->secret_access_key);
    c->path_style = opts->path_style;
    c->verify_tls = opts->verify_tls;
    c->timeout_seconds = opts->timeout_seconds > 0 ? opts->timeout_seconds : 300;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return 0;
}

void s3_client_free(s3_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_pool; i++)
        curl_easy_cleanup(c->pool[i]);
    pthread_mutex_destroy(&c->lock);
    explicit_bzero(c->secret_access_key, strlen(c->secret_access_key));
    free(c->secret_access_key);
    free(c->access_key_id);
    free(c->bucket);
    free(c->region);
    free(c->host);
    free(c->scheme);
    free(c->endpoint);
    free(c);
}

static CURL *handle_acquire(s3_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->n_pool > 0)
        h = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->lock);
    if (!h)
        h = curl_easy_init();
    if (!h)
        rd_oom();
    return h;
}

/* curl_easy_reset keeps the handle's live connections, so pooled handles
 * still save the TCP (and TLS) handshakes. */
static void handle_release(s3_client *c, CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&c->lock);
    if (c->n_pool < S3_POOL_MAX) {
        c->pool[c->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h)
        curl_easy_cleanup(h);
}

/* -------------------------------------------------------------- requests -- */

struct s3_call {
    const char *method;      /* GET, PUT, HEAD, DELETE */
    const char *key;         /* raw object key; NULL for a bucket request */
    const char *query;       /* canonical query string, or NULL */
    const char *range;       /* Range header value, or NULL */
    const char *copy_source; /* x-amz-copy-source value (already encoded), or NULL */
    const uint8_t *body;     /* PUT payload */
    size_t body_len;
    rd_buf *out;             /* 2xx response body is appended here (NULL: dropped) */
    size_t out_max;          /* 0: unbounded */
    /* results */
    long status;
    int64_t content_length;  /* from the response headers, -1 when absent */
    char *err_code;          /* S3 error Code, when the answer had one */
    char *err_message;
    char *version_id;        /* x-amz-version-id of the answer, when it had one */
};

struct xfer {
    struct s3_call *call;
    CURL *h;
    size_t body_off;
    long status;             /* known once the first body byte arrives */
    rd_buf err;              /* non-2xx response body */
    bool overflow;
};

static size_t xfer_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    if (x->status == 0)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status >= 200 && x->status < 300) {
        rd_buf *out = x->call->out;
        if (!out)
            return n;
        if (x->call->out_max && out->len + n > x->call->out_max) {
            x->overflow = true;
            return 0;          /* makes curl abort with CURLE_WRITE_ERROR */
        }
        rd_buf_append(out, ptr, n);
    } else if (x->err.len < S3_ERR_BODY_MAX) {
        size_t room = S3_ERR_BODY_MAX - x->err.len;
        rd_buf_append(&x->err, ptr, n < room ? n : room);
    }
    return n;
}

static size_t xfer_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    size_t room = size * nitems;
    size_t left = x->call->body_len - x->body_off;
    size_t n = left < room ? left : room;
    if (n)
        memcpy(buf, x->call->body + x->body_off, n);
    x->body_off += n;
    return n;
}

/* curl rewinds the upload when it must resend (e.g. on a reused connection
 * the server closed). */
static int xfer_seek(void *arg, curl_off_t offset, int origin)
{
    struct xfer *x = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->call->body_len)
        return CURL_SEEKFUNC_FAIL;
    x->body_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Keeps x-amz-version-id: the version a PUT, copy or DELETE created is only
 * ever reported in that response header. */
static size_t xfer_header(char *ptr, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nitems;
    static const char name[] = "x-amz-version-id:";
    if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        const char *v = ptr + sizeof name - 1;
        const char *end = ptr + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        free(x->call->version_id);
        x->call->version_id = rd_asprintf("%.*s", (int)(end - v), v);
    }
    return n;
}

/* The first child element named `name` (namespace ignored), or NULL. */
static xmlNode *xml_child(xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
    return NULL;
}

/* Text of that child as a new string, or NULL when there is none. */
static char *xml_child_text(xmlNode *parent, const char *name)
{
    xmlNode *n = xml_child(parent, name);
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    char *s = rd_strdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

/* Parses an S3 response document: no network, no entities, no DTD. */
static xmlDoc *xml_parse(const uint8_t *data, size_t len)
{
    if (len == 0 || len > INT32_MAX)
        return NULL;
    xmlDoc *doc = xmlReadMemory((const char *)data, (int)len, "s3-response.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc && doc->intSubset) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* Messages are one line: control characters from the server become spaces. */
static void one_line(char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static void parse_error_doc(struct s3_call *call, const rd_buf *body)
{
    xmlDoc *doc = xml_parse(body->data, body->len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root && strcmp((const char *)root->name, "Error") == 0) {
        call->err_code = xml_child_text(root, "Code");
        call->err_message = xml_child_text(root, "Message");
        one_line(call->err_code);
        one_line(call->err_message);
    }
    xmlFreeDoc(doc);
}

static const char *status_text(long status)
{
    switch (status) {
    case 301: return "Moved Permanently (wrong region or addressing style?)";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 403: return "Forbidden (wrong credentials, or no permission)";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 416: return "Range Not Satisfiable";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "unexpected HTTP status";
    }
}

static bool curl_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

static bool status_transient(long status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

/* The wall clock, deliberately not rd_clock_now(): tests shift radiant's clock
 * by days, and a server rejects signatures more than 15 minutes off. */
static void amz_now(char out[17])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* One attempt. Returns the CURLcode; fills call->status. */
static CURLcode call_attempt(s3_client *c, CURL *h, struct s3_call *call, const char *url,
                             const char *host, const char *canonical_uri,
                             const char *payload_hash, struct xfer *x, char *errbuf)
{
    char amz_date[17];
    amz_now(amz_date);
    char *h_host = rd_asprintf("host:%s", host);
    char *h_range = call->range ? rd_asprintf("range:%s", call->range) : NULL;
    char *h_sha = rd_asprintf("x-amz-content-sha256:%s", payload_hash);
    char *h_date = rd_asprintf("x-amz-date:%s", amz_date);
    /* S3 requires every x-amz-* header it receives to be signed. */
    char *h_copy = call->copy_source ? rd_asprintf("x-amz-copy-source:%s", call->copy_source)
                                     : NULL;
    /* Sorted by name, as SigV4 requires. */
    const char *signed_hdrs[5];
    size_t n = 0;
    signed_hdrs[n++] = h_host;
    if (h_range)
        signed_hdrs[n++] = h_range;
    signed_hdrs[n++] = h_sha;
    if (h_copy)
        signed_hdrs[n++] = h_copy;
    signed_hdrs[n++] = h_date;

    char auth[1024];
    CURLcode cc = CURLE_OK;
    struct curl_slist *hl = NULL;
    if (s3_sigv4_sign(call->method, canonical_uri, call->query, signed_hdrs, n, payload_hash,
                      amz_date, c->region, "s3", c->access_key_id, c->secret_access_key,
                      auth, sizeof auth) < 0) {
        cc = CURLE_ABORTED_BY_CALLBACK;
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", rd_error());
        goto out;
    }

    char *lines[] = {
        rd_asprintf("Host: %s", host),
        call->range ? rd_asprintf("Range: %s", call->range) : NULL,
        rd_asprintf("x-amz-content-sha256: %s", payload_hash),
        call->copy_source ? rd_asprintf("x-amz-copy-source: %s", call->copy_source) : NULL,
        rd_asprintf("x-amz-date: %s", amz_date),
        rd_asprintf("Authorization: %s", auth),
        rd_strdup("Expect:"),       /* no 100-continue round trip */
        rd_strdup("Content-Type:"), /* never let curl invent one */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i])
            continue;
        struct curl_slist *nl = curl_slist_append(hl, lines[i]);
        free(lines[i]);
        if (!nl)
            rd_oom();
        hl = nl;
    }

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_seconds);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout_seconds < 30 ? c->timeout_seconds : 30L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, xfer_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (strcmp(call->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, xfer_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, xfer_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)call->body_len);
    } else if (strcmp(call->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(call->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    }

    errbuf[0] = '\0';
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &call->status);
        curl_off_t cl = -1;
        curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        call->content_length = cl;
    }
out:
    curl_slist_free_all(hl);
    free(h_host);
    free(h_range);
    free(h_sha);
    free(h_date);
    free(h_copy);
    return cc;
}

static void backoff(int attempt)
{
    /* 100 ms, 200 ms, 400 ms: long enough for a restarting server's accept
     * queue, short enough that a dead endpoint fails within a second. */
    long ms = 100L << attempt;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Performs a request with retries and turns every failure into an error code
 * and message. 2xx -> 0; 404 -> -RD_ENOENT; others -> -RD_ENET. call->status
 * is left set so callers can treat particular statuses (416) themselves. */
static int s3_call_run(s3_client *c, struct s3_call *call)
{
    rd_buf path = RD_BUF_INIT;
    if (c->path_style) {
        rd_buf_append_u8(&path, '/');
        s3_uri_encode(c->bucket, false, &path);
    }
    if (call->key) {
        rd_buf_append_u8(&path, '/');
        s3_uri_encode(call->key, true, &path);
    } else if (!c->path_style) {
        rd_buf_append_u8(&path, '/');
    }
    rd_buf_append_u8(&path, '\0');
    const char *canonical_uri = (const char *)path.data;
    char *host = c->path_style ? rd_strdup(c->host) : rd_asprintf("%s.%s", c->bucket, c->host);
    char *url = rd_asprintf("%s://%s%s%s%s", c->scheme, host, canonical_uri,
                            call->query && *call->query ? "?" : "",
                            call->query ? call->query : "");
    char *name = call->key ? rd_asprintf("%s/%s", c->bucket, call->key) : rd_strdup(c->bucket);

    char payload_hash[2 * RD_SHA256_LEN + 1];
    if (call->body_len) {
        uint8_t d[RD_SHA256_LEN];
        rd_sha256(call->body, call->body_len, d);
        rd_hex_encode(d, sizeof d, payload_hash);
    } else {
        memcpy(payload_hash, EMPTY_SHA256, sizeof payload_hash);
    }

    size_t out_start = call->out ? call->out->len : 0;
    char errbuf[CURL_ERROR_SIZE];
    int rc = 0;
    CURL *h = handle_acquire(c);
    for (int attempt = 0;; attempt++) {
        struct xfer x = { .call = call, .h = h };
        if (call->out)
            call->out->len = out_start;
        call->status = 0;
        call->content_length = -1;
        free(call->err_code);
        free(call->err_message);
        free(call->version_id);
        call->err_code = call->err_message = call->version_id = NULL;

        CURLcode cc = call_attempt(c, h, call, url, host, canonical_uri, payload_hash, &x,
                                   errbuf);
        bool again = attempt < S3_RETRIES;
        if (cc != CURLE_OK) {
            if (again && curl_transient(cc)) {
                RD_DEBUG("s3 %s %s: %s; retrying", call->method, name,
                         errbuf[0] ? errbuf : curl_easy_strerror(cc));
                rd_buf_free(&x.err);
                curl_easy_reset(h);
                backoff(attempt);
                continue;
            }
            if (x.overflow)
                rc = rd_fail(RD_ENET, "s3 %s %s: answer from %s is larger than %zu bytes",
                             call->method, name, c->endpoint, call->out_max);
            else
                rc = rd_fail(RD_ENET, "s3 %s %s: cannot reach %s: %s", call->method, name,
                             c->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(cc));
            rd_buf_free(&x.err);
            break;
        }
        if (call->status >= 200 && call->status < 300) {
            rd_buf_free(&x.err);
            break;
        }
        parse_error_doc(call, &x.err);
        rd_buf_free(&x.err);
        if (again && status_transient(call->status)) {
            RD_DEBUG("s3 %s %s: HTTP %ld; retrying", call->method, name, call->status);
            curl_easy_reset(h);
            backoff(attempt);
            continue;
        }
        int code = call->status == 404 ? RD_ENOENT : RD_ENET;
        if (call->err_code && call->err_message && *call->err_message)
            rc = rd_fail(code, "s3 %s %s: %ld %s: %.300s", call->method, name, call->status,
                         call->err_code, call->err_message);
        else if (call->err_code)
            rc = rd_fail(code, "s3 %s %s: %ld %s", call->method, name, call->status,
                         call->err_code);
        else
            rc = rd_fail(code, "s3 %s %s: %ld %s", call->method, name, call->status,
                         status_text(call->status));
        break;
    }
    if (rc < 0 && call->out)
        call->out->len = out_start;
    handle_release(c, h);
    free(name);
    free(url);
    free(host);
    rd_buf_free(&path);
    return rc;
}

static void s3_call_clear(struct s3_call *call)
{
    free(call->err_code);
    free(call->err_message);
    free(call->version_id);
}

/* ------------------------------------------------------------- objects -- */

int s3_get_object(s3_client *c, const char *key, uint64_t off, uint64_t len, rd_buf *out)
{
    char range[64];
    bool ranged = off > 0 || len > 0;
    if (len > 0)
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
                 (unsigned long long)(off + len - 1));
    else
        snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)off);
    rd_buf_reset(out);
    struct s3_call call = { .method = "GET", .key = key, .range = ranged ? range : NULL,
                            .out = out };
    int rc = s3_call_run(c, &call);
    if (rc < 0 && call.status == 416) {
        /* S3 refuses a range that starts at the end, yet "everything from
         * the end" of an object of exactly that size is validly empty. */
        uint64_t size = 0;
        if (len == 0 && s3_head_object(c, key, &size) == 0 && size == off)
            rc = 0;
        else
            rc = rd_fail(RD_ECORRUPT, "s3 GET %s/%s: object is shorter than %llu bytes",
                         c->bucket, key, (unsigned long long)(off + (len ? len : 1)));
    } else if (rc == 0 && ranged && call.status == 200) {
        /* The server ignored Range and sent the whole object: cut it here. */
        size_t total = out->len;
        size_t from = off < total ? (size_t)off : total;
        size_t n = total - from;
        if (len > 0 && len < n)
            n = (size_t)len;
        memmove(out->data, out->data + from, n);
        out->len = n;
    }
    s3_call_clear(&call);
    return rc;
}

int s3_put_object(s3_client *c, const char *key, const void *data, size_t len)
{
    struct s3_call call = { .method = "PUT", .key = key, .body = data, .body_len = len };
    int rc = s3_call_run(c, &call);
    s3_call_clear(&call);
    return rc;
}

int s3_head_object(s3_client *c, const char *key, uint64_t *size)
{
    struct s3_call call = { .method = "HEAD", .key = key };
    int rc = s3_call_run(c, &call);
    if (rc == 0 && call.content_length < 0)
        rc = rd_fail(RD_ENET, "s3 HEAD %s/%s: answer has no Content-Length", c->bucket, key);
    else if (rc == 0)
        *size = (uint64_t)call.content_length;
    s3_call_clear(&call);
    return rc;
}

int s3_delete_object(s3_client *c, const char *key)
{
    struct s3_call call = { .method = "DELETE", .key = key };
    int rc = s3_call_run(c, &call);
    s3_call_clear(&call);
    return rc;
}

int s3_head_bucket(s3_client *c)
{
    struct s3_call call = { .method = "HEAD" };
    int rc = s3_call_run(c, &call);
    s3_call_clear(&call);
    return rc;
}

int s3_bucket_versioning_parse(const void *xml, size_t len, char **status)
{
    *status = NULL;
    pthread_once(&s3_global_once, s3_global_init);
    xmlDoc *doc = xml_parse(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;
    if (!root || strcmp((const char *)root->name, "VersioningConfiguration") != 0) {
        rc = rd_fail(RD_ENET, "s3 get bucket versioning: the answer is not a "
                     "VersioningConfiguration%s%s", root ? " but a " : "",
                     root ? (const char *)root->name : "");
    } else {
        /* A bucket whose versioning was never set has no Status at all. */
        char *s = xml_child_text(root, "Status");
        one_line(s);
        *status = s ? s : rd_strdup("");
    }
    xmlFreeDoc(doc);
    return rc;
}

int s3_get_bucket_versioning(s3_client *c, char **status)
{
    *status = NULL;
    rd_buf body = RD_BUF_INIT;
    struct s3_call call = { .method = "GET", .query = "versioning=", .out = &body,
                            .out_max = S3_ERR_BODY_MAX };
    int rc = s3_call_run(c, &call);
    s3_call_clear(&call);
    if (rc == 0)
        rc = s3_bucket_versioning_parse(body.data, body.len, status);
    rd_buf_free(&body);
    return rc;
}

/* Reports the Contents of one ListObjectsV2 page and returns the next
 * continuation token in *next (NULL when the listing is complete). */
static int list_page(s3_client *c, const rd_buf *body,
                     int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
                     char **next)
{
    *next = NULL;
    xmlDoc *doc = xml_parse(body->data, body->len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;
    if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
        rc = rd_fail(RD_ENET, "s3 list %s: %s did not answer with a ListBucketResult",
                     c->bucket, c->endpoint);
        goto out;
    }
    for (xmlNode *n = root->children; n && rc == 0; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "Contents") != 0)
            continue;
        char *key = xml_child_text(n, "Key");
        char *size = xml_child_text(n, "Size");
        char *end = NULL;
        unsigned long long v = size && *size ? strtoull(size, &end, 10) : 0;
        if (!key || !*key || !size || !end || *end || size[0] == '-')
            rc = rd_fail(RD_ENET, "s3 list %s: entry without a valid Key and Size", c->bucket);
        else
            rc = cb(arg, key, (uint64_t)v);
        free(key);
        free(size);
    }
    if (rc == 0) {
        char *trunc = xml_child_text(root, "IsTruncated");
        if (trunc && strcmp(trunc, "true") == 0) {
            *next = xml_child_text(root, "NextContinuationToken");
            if (!*next || !**next) {
                free(*next);
                *next = NULL;
                rc = rd_fail(RD_ENET, "s3 list %s: truncated answer without a "
                             "NextContinuationToken", c->bucket);
            }
        }
        free(trunc);
    }
out:
    xmlFreeDoc(doc);
    return rc;
}

int s3_list_objects(s3_client *c, const char *prefix,
                    int (*cb)(void *arg, const char *key, uint64_t size), void *arg)
{
    char *token = NULL;
    rd_buf body = RD_BUF_INIT;
    rd_buf query = RD_BUF_INIT;
    int rc = 0;
    do {
        /* Canonical query: names sorted, names and values encoded with '/'. */
        rd_buf_reset(&query);
        if (token) {
            rd_buf_append(&query, "continuation-token=", 19);
            s3_uri_encode(token, false, &query);
            rd_buf_append_u8(&query, '&');
        }
        rd_buf_append(&query, "list-type=2&prefix=", 19);
        s3_uri_encode(prefix ? prefix : "", false, &query);

        rd_buf_reset(&body);
        struct s3_call call = { .method = "GET", .query = (const char *)query.data,
                                .out = &body, .out_max = S3_LIST_BODY_MAX };
        rc = s3_call_run(c, &call);
        s3_call_clear(&call);
        free(token);
        token = NULL;
        if (rc == 0)
            rc = list_page(c, &body, cb, arg, &token);
    } while (rc == 0 && token);
    free(token);
    rd_buf_free(&query);
    rd_buf_free(&body);
    return rc;
}

/* ------------------------------------------------------------ versions -- */

int s3_time_parse_ms(const char *text, int64_t *ms)
{
    int64_t seconds;
    if (!text || rd_time_parse(text, &seconds) != 0)
        return -1;
    /* rd_time_parse validated the shape, so a fraction can only start right
     * after "YYYY-MM-DDTHH:MM:SS". */
    int64_t frac = 0;
    if (text[19] == '.' || text[19] == ',') {
        int digits = 0;
        for (const char *p = text + 20; *p >= '0' && *p <= '9'; p++)
            if (digits < 3) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
        for (; digits < 3; digits++)
            frac *= 10;
    }
    *ms = seconds * 1000 + frac;
    return 0;
}

void s3_version_list_free(s3_version_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].version_id);
        free(l->v[i].etag);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int version_entry(xmlNode *n, bool marker, s3_version_list *out)
{
    char *key = xml_child_text(n, "Key");
    char *vid = xml_child_text(n, "VersionId");
    char *latest = xml_child_text(n, "IsLatest");
    char *lm = xml_child_text(n, "LastModified");
    char *size = marker ? NULL : xml_child_text(n, "Size");
    int rc = 0;
    int64_t lm_ms = 0;
    unsigned long long sz = 0;
    if (!key || !*key || !vid || !*vid || !latest || !lm || s3_time_parse_ms(lm, &lm_ms) != 0 ||
        (strcmp(latest, "true") != 0 && strcmp(latest, "false") != 0)) {
        rc = rd_fail(RD_ENET, "s3 list versions: a %s without a valid Key, VersionId, IsLatest "
                     "and LastModified", marker ? "DeleteMarker" : "Version");
    } else if (!marker) {
        char *end = NULL;
        sz = size && *size && size[0] != '-' ? strtoull(size, &end, 10) : 0;
        if (!end || *end)
            rc = rd_fail(RD_ENET, "s3 list versions: version %s of %.200s has no valid Size",
                         vid, key);
    }
    if (rc == 0) {
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 64;
            out->v = rd_realloc(out->v, out->cap * sizeof *out->v);
        }
        s3_version *v = &out->v[out->n++];
        *v = (s3_version){ .key = key, .version_id = vid,
                           .etag = marker ? NULL : xml_child_text(n, "ETag"),
                           .is_latest = strcmp(latest, "true") == 0, .delete_marker = marker,
                           .last_modified_ms = lm_ms, .size = sz };
        key = vid = NULL;
    }
    free(key);
    free(vid);
    free(latest);
    free(lm);
    free(size);
    return rc;
}

int s3_list_versions_parse(const void *xml, size_t len, s3_version_list *out, char **next_key,
                           char **next_version)
{
    *next_key = *next_version = NULL;
    pthread_once(&s3_global_once, s3_global_init);
    xmlDoc *doc = xml_parse(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;
    if (!root || strcmp((const char *)root->name, "ListVersionsResult") != 0) {
        /* A server without versioning support often answers ?versions with
         * an ordinary listing: say so rather than report no versions. */
        rc = rd_fail(RD_ENET, "s3 list versions: the answer is not a ListVersionsResult%s%s",
                     root ? " but a " : "", root ? (const char *)root->name : "");
        goto out;
    }
    for (xmlNode *n = root->children; n && rc == 0; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, "Version") == 0)
            rc = version_entry(n, false, out);
        else if (strcmp((const char *)n->name, "DeleteMarker") == 0)
            rc = version_entry(n, true, out);
    }
    if (rc == 0) {
        char *trunc = xml_child_text(root, "IsTruncated");
        if (trunc && strcmp(trunc, "true") == 0) {
            *next_key = xml_child_text(root, "NextKeyMarker");
            *next_version = xml_child_text(root, "NextVersionIdMarker");
            if (!*next_key || !**next_key) {
                free(*next_key);
                free(*next_version);
                *next_key = *next_version = NULL;
                rc = rd_fail(RD_ENET, "s3 list versions: truncated answer without a "
                             "NextKeyMarker");
            } else if (*next_version && !**next_version) {
                free(*next_version);
                *next_version = NULL;
            }
        }
        free(trunc);
    }
out:
    xmlFreeDoc(doc);
    return rc;
}

int s3_list_object_versions(s3_client *c, const char *prefix, s3_version_list *out)
{
    char *key_marker = NULL, *version_marker = NULL;
    rd_buf body = RD_BUF_INIT;
    rd_buf query = RD_BUF_INIT;
    int rc = 0;
    do {
        /* Canonical query: names sorted ("version-id-marker" < "versions"). */
        rd_buf_reset(&query);
        if (key_marker) {
            rd_buf_append(&query, "key-marker=", 11);
            s3_uri_encode(key_marker, false, &query);
            rd_buf_append_u8(&query, '&');
        }
        rd_buf_append(&query, "prefix=", 7);
        s3_uri_encode(prefix ? prefix : "", false, &query);
        if (version_marker) {
            rd_buf_append(&query, "&version-id-marker=", 19);
            s3_uri_encode(version_marker, false, &query);
        }
        rd_buf_append(&query, "&versions=", 10);
        rd_buf_append_u8(&query, '\0');

        rd_buf_reset(&body);
        struct s3_call call = { .method = "GET", .query = (const char *)query.data,
                                .out = &body, .out_max = S3_LIST_BODY_MAX };
        rc = s3_call_run(c, &call);
        s3_call_clear(&call);
        char *prev_key = key_marker, *prev_version = version_marker;
        key_marker = version_marker = NULL;
        if (rc == 0)
            rc = s3_list_versions_parse(body.data, body.len, out, &key_marker, &version_marker);
        /* A server that hands back the markers it was given would loop forever. */
        if (rc == 0 && key_marker && prev_key && strcmp(key_marker, prev_key) == 0 &&
            ((!version_marker && !prev_version) ||
             (version_marker && prev_version && strcmp(version_marker, prev_version) == 0)))
            rc = rd_fail(RD_ENET, "s3 list versions %s: %s repeats the same page marker",
                         c->bucket, c->endpoint);
        free(prev_key);
        free(prev_version);
    } while (rc == 0 && key_marker);
    free(key_marker);
    free(version_marker);
    rd_buf_free(&query);
    rd_buf_free(&body);
    return rc;
}

int s3_delete_object_version(s3_client *c, const char *key, const char *version_id)
{
    rd_buf query = RD_BUF_INIT;
    rd_buf_append(&query, "versionId=", 10);
    s3_uri_encode(version_id, false, &query);
    struct s3_call call = { .method = "DELETE", .key = key, .query = (const char *)query.data };
    int rc = s3_call_run(c, &call);
    s3_call_clear(&call);
    rd_buf_free(&query);
    return rc;
}

int s3_delete_object_marker(s3_client *c, const char *key, char **marker_version_id)
{
    *marker_version_id = NULL;
    struct s3_call call = { .method = "DELETE", .key = key };
    int rc = s3_call_run(c, &call);
    if (rc == 0 && call.version_id) {
        *marker_version_id = call.version_id;
        call.version_id = NULL;
    }
    s3_call_clear(&call);
    return rc;
}

int s3_copy_object_version(s3_client *c, const char *dst_key, const char *src_key,
                           const char *version_id, uint64_t size, char **new_version_id)
{
    if (new_version_id)
        *new_version_id = NULL;
    if (size > S3_COPY_MAX_BYTES)
        return rd_fail(RD_EUSAGE, "s3 copy %s/%s version %s: %llu bytes is more than the 5 GiB "
                       "a single CopyObject can copy; a multipart copy (UploadPartCopy) is "
                       "needed and radiant does not do it yet", c->bucket, src_key, version_id,
                       (unsigned long long)size);
    /* "/bucket/key?versionId=V": the key URL-encoded ('/' kept), as S3
     * decodes it before looking the source up. */
    rd_buf src = RD_BUF_INIT;
    rd_buf_append_u8(&src, '/');
    s3_uri_encode(c->bucket, false, &src);
    rd_buf_append_u8(&src, '/');
    s3_uri_encode(src_key, true, &src);
    rd_buf_append(&src, "?versionId=", 11);
    s3_uri_encode(version_id, false, &src);
    rd_buf body = RD_BUF_INIT;
    struct s3_call call = { .method = "PUT", .key = dst_key, .copy_source = (const char *)src.data,
                            .out = &body, .out_max = S3_ERR_BODY_MAX };
    int rc = s3_call_run(c, &call);
    if (rc == 0) {
        /* CopyObject can fail after the 200 status has been sent: the error
         * is then the body ("Error") instead of a CopyObjectResult. */
        xmlDoc *doc = xml_parse(body.data, body.len);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (root && strcmp((const char *)root->name, "Error") == 0) {
            char *code = xml_child_text(root, "Code");
            char *msg = xml_child_text(root, "Message");
            one_line(code);
            one_line(msg);
            rc = rd_fail(RD_ENET, "s3 copy %s/%s version %s: %s: %.300s", c->bucket, src_key,
                         version_id, code ? code : "Error", msg ? msg : "");
            free(code);
            free(msg);
        } else if (!root || strcmp((const char *)root->name, "CopyObjectResult") != 0) {
            rc = rd_fail(RD_ENET, "s3 copy %s/%s version %s: %s did not answer with a "
                         "CopyObjectResult", c->bucket, src_key, version_id, c->endpoint);
        }
        xmlFreeDoc(doc);
    }
    if (rc == 0 && new_version_id && call.version_id) {
        *new_version_id = call.version_id;
        call.version_id = NULL;
    }
    s3_call_clear(&call);
    rd_buf_free(&body);
    rd_buf_free(&src);
    return rc;
}
