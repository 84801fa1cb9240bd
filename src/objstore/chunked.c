/* The aws-chunked body decoder.
 *
 * Format ("Signature Calculations for the Authorization Header: Transferring
 * Payload in Multiple Chunks", Amazon S3 API reference):
 *
 *   signed:    HEX;chunk-signature=SIG\r\n DATA \r\n ... 0;chunk-signature=SIG\r\n \r\n
 *   trailer:   HEX\r\n DATA \r\n ... 0\r\n x-amz-checksum-crc32:BASE64\r\n \r\n
 *
 * A chunk's signature is HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date
 * "\n" scope "\n" previous signature "\n" sha256("") "\n" sha256(DATA)), the
 * previous signature of the first chunk being the request's seed signature
 * (computed by s3_sigv4_chunk_signature, shared with the client side).
 *
 * States, one byte or one run of data at a time (feed()):
 *
 *   LINE --hex size > 0--> DATA --size bytes--> DATA_CR -'\r'-> DATA_LF -'\n'-> LINE
 *     |                      (chunk signature checked when DATA ends)
 *     +--size 0 (final chunk, signature checked)--> TRAILER --empty line--> DONE
 *   any --bad byte, bad signature, too much data, sink failure--> FAILED (sticky)
 *
 * Invariants
 *  1. Memory is O(1) in the body size: LINE and TRAILER lines are bounded by
 *     LINE_MAX, data is never buffered.
 *  2. The decoded total never exceeds x-amz-decoded-content-length: a chunk
 *     size that would pass it fails at its header, before any of its data.
 *  3. finish() returns 0 only in DONE with the decoded total equal to the
 *     declared length and every signature and the trailer checksum verified. */
#include "objstore/chunked.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/error.h"
#include "s3client/s3client.h"

#define LINE_MAX 1024
/* Without x-amz-decoded-content-length (allowed for the trailer variant) the
 * largest single PUT S3 accepts bounds the body. */
#define BODY_MAX ((uint64_t)5 << 30)

enum state { S_LINE, S_DATA, S_DATA_CR, S_DATA_LF, S_TRAILER, S_DONE, S_FAILED };

enum checksum { CK_NONE, CK_CRC32, CK_CRC32C, CK_SHA256 };

struct os3_chunked {
    enum state state;
    enum os3_error error;
    bool signed_chunks;
    os3_chunked_sink sink;
    void *sink_arg;

    char line[LINE_MAX + 1];
    size_t line_len;

    uint64_t remaining;            /* data bytes left in the current chunk */
    uint64_t decoded;              /* data bytes passed to the sink */
    int64_t declared;              /* x-amz-decoded-content-length or -1 */

    /* signed chunks */
    uint8_t signing_key[RD_SHA256_LEN];
    char amz_date[17];
    char scope[OS3_SCOPE_MAX + 1];
    char prev_sig[2 * RD_SHA256_LEN + 1];
    char chunk_sig[2 * RD_SHA256_LEN + 1];
    rd_sha256_ctx *chunk_hash;

    /* trailer checksum */
    enum checksum checksum;
    char trailer_name[64];
    bool trailer_seen;
    uint32_t crc;
    uint32_t crc_table[256];
    rd_sha256_ctx *body_hash;
};

static int fail(os3_chunked *c, enum os3_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(os3_chunked *c, enum os3_error e, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->state = S_FAILED;
    c->error = e;
    return rd_fail(e == OS3_INTERNAL_ERROR ? RD_EINTERNAL
                   : e == OS3_SIGNATURE_DOES_NOT_MATCH ? RD_EPASS : RD_ECORRUPT,
                   "aws-chunked body: %s", msg);
}

/* ------------------------------------------------------------ checksums -- */

static void crc_table_init(uint32_t table[256], uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i;
        for (int k = 0; k < 8; k++)
            r = (r >> 1) ^ (poly & (0u - (r & 1)));
        table[i] = r;
    }
}

static void checksum_update(os3_chunked *c, const uint8_t *p, size_t n)
{
    if (c->checksum == CK_CRC32 || c->checksum == CK_CRC32C) {
        uint32_t r = c->crc;
        for (size_t i = 0; i < n; i++)
            r = c->crc_table[(r ^ p[i]) & 0xff] ^ (r >> 8);
        c->crc = r;
    } else if (c->checksum == CK_SHA256) {
        rd_sha256_update(c->body_hash, p, n);
    }
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The trailer value as S3 writes it: base64 of the big-endian digest. */
static void checksum_final(os3_chunked *c, char *out /* >= 45 */)
{
    if (c->checksum == CK_SHA256) {
        uint8_t d[RD_SHA256_LEN];
        rd_sha256_final(c->body_hash, d);
        base64(d, sizeof d, out);
    } else {
        uint32_t v = ~c->crc;
        uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
        base64(b, 4, out);
    }
}

/* ------------------------------------------------------------ lifecycle -- */

int os3_chunked_new(const os3_auth *auth, const char *trailer, os3_chunked_sink sink,
                    void *sink_arg, os3_chunked **out, enum os3_error *err)
{
    *out = NULL;
    *err = OS3_INVALID_REQUEST;
    if (auth->error != OS3_OK || (auth->payload != OS3_PAYLOAD_STREAMING_SIGNED &&
                                  auth->payload != OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER))
        return rd_fail(RD_EUSAGE, "the request does not carry an aws-chunked body");
    bool is_signed = auth->payload == OS3_PAYLOAD_STREAMING_SIGNED;
    enum checksum ck = CK_NONE;
    if (trailer && *trailer) {
        if (is_signed) {
            *err = OS3_NOT_IMPLEMENTED;
            return rd_fail(RD_EUSAGE, "trailing headers need "
                                      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, which is "
                                      "not implemented");
        }
        if (strcasecmp(trailer, "x-amz-checksum-crc32") == 0) {
            ck = CK_CRC32;
        } else if (strcasecmp(trailer, "x-amz-checksum-crc32c") == 0) {
            ck = CK_CRC32C;
        } else if (strcasecmp(trailer, "x-amz-checksum-sha256") == 0) {
            ck = CK_SHA256;
        } else if (rd_str_starts_with(trailer, "x-amz-checksum-")) {
            *err = OS3_NOT_IMPLEMENTED;
            return rd_fail(RD_EUSAGE, "trailer %s is not implemented", trailer);
        } else {
            *err = OS3_INVALID_REQUEST;
            return rd_fail(RD_EUSAGE, "x-amz-trailer %s is not a checksum S3 accepts", trailer);
        }
    }
    os3_chunked *c = rd_calloc(1, sizeof *c);
    c->state = S_LINE;
    c->signed_chunks = is_signed;
    c->sink = sink;
    c->sink_arg = sink_arg;
    c->declared = auth->decoded_content_length;
    if (is_signed) {
        memcpy(c->signing_key, auth->signing_key, sizeof c->signing_key);
        snprintf(c->amz_date, sizeof c->amz_date, "%s", auth->amz_date);
        snprintf(c->scope, sizeof c->scope, "%s", auth->scope);
        snprintf(c->prev_sig, sizeof c->prev_sig, "%s", auth->seed_signature);
        c->chunk_hash = rd_sha256_new();
    }
    c->checksum = ck;
    if (ck != CK_NONE) {
        for (size_t i = 0; trailer[i] && i + 1 < sizeof c->trailer_name; i++)
            c->trailer_name[i] = (char)tolower((unsigned char)trailer[i]);
        c->crc = 0xffffffffu;
        if (ck == CK_CRC32)
            crc_table_init(c->crc_table, 0xEDB88320u);
        else if (ck == CK_CRC32C)
            crc_table_init(c->crc_table, 0x82F63B78u);
        else
            c->body_hash = rd_sha256_new();
    }
    *err = OS3_OK;
    *out = c;
    return 0;
}

void os3_chunked_free(os3_chunked *c)
{
    if (!c)
        return;
    explicit_bzero(c->signing_key, sizeof c->signing_key);
    rd_sha256_free(c->chunk_hash);
    rd_sha256_free(c->body_hash);
    free(c);
}

enum os3_error os3_chunked_error(const os3_chunked *c)
{
    return c->error;
}

uint64_t os3_chunked_decoded(const os3_chunked *c)
{
    return c->decoded;
}

/* ------------------------------------------------------------- decoding -- */

static int hexdigit(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Checks the signature of the chunk just ended (its hash is in chunk_hash,
 * or the empty string's for the final chunk) and advances the chain. */
static int verify_chunk(os3_chunked *c)
{
    uint8_t digest[RD_SHA256_LEN];
    rd_sha256_final(c->chunk_hash, digest);
    rd_sha256_free(c->chunk_hash);
    c->chunk_hash = rd_sha256_new();
    char want[2 * RD_SHA256_LEN + 1];
    s3_sigv4_chunk_signature(c->signing_key, c->amz_date, c->scope, c->prev_sig, digest, want);
    if (rd_memeq_ct(want, c->chunk_sig, 64) != 0)
        return fail(c, OS3_SIGNATURE_DOES_NOT_MATCH,
                    "the signature of the chunk ending at decoded byte %llu does not match",
                    (unsigned long long)c->decoded);
    memcpy(c->prev_sig, want, sizeof want);
    return 0;
}

/* "HEX;chunk-signature=SIG" (signed) or "HEX" (trailer variant). */
static int chunk_header(os3_chunked *c)
{
    const char *p = c->line;
    uint64_t size = 0;
    int digits = 0;
    for (; hexdigit((unsigned char)*p) >= 0; p++) {
        if (++digits > 16)
            return fail(c, OS3_INVALID_REQUEST, "chunk size has too many digits");
        size = size << 4 | (uint64_t)hexdigit((unsigned char)*p);
    }
    if (digits == 0)
        return fail(c, OS3_INVALID_REQUEST, "chunk header does not start with a hex size");
    if (c->signed_chunks) {
        static const char ext[] = ";chunk-signature=";
        if (strncmp(p, ext, sizeof ext - 1) != 0)
            return fail(c, OS3_INVALID_REQUEST, "chunk header has no chunk-signature");
        p += sizeof ext - 1;
        if (strlen(p) != 64)
            return fail(c, OS3_INVALID_REQUEST, "chunk-signature is not 64 hex digits");
        for (int i = 0; i < 64; i++) {
            if (hexdigit((unsigned char)p[i]) < 0)
                return fail(c, OS3_INVALID_REQUEST, "chunk-signature is not 64 hex digits");
            c->chunk_sig[i] = (char)tolower((unsigned char)p[i]);
        }
        c->chunk_sig[64] = '\0';
    } else if (*p) {
        return fail(c, OS3_INVALID_REQUEST, "unexpected text after the chunk size");
    }
    uint64_t limit = c->declared >= 0 ? (uint64_t)c->declared : BODY_MAX;
    if (size > limit - c->decoded)
        return fail(c, OS3_INCOMPLETE_BODY, "chunks carry more than the %llu bytes declared "
                                            "in x-amz-decoded-content-length",
                    (unsigned long long)limit);
    c->remaining = size;
    if (size > 0) {
        c->state = S_DATA;
        return 0;
    }
    if (c->signed_chunks && verify_chunk(c) != 0)
        return -RD_EPASS;
    c->state = S_TRAILER;
    return 0;
}

static int trailer_line(os3_chunked *c)
{
    if (c->line_len == 0) {
        if (c->checksum != CK_NONE && !c->trailer_seen)
            return fail(c, OS3_INVALID_REQUEST, "the body ended without the %s trailer",
                        c->trailer_name);
        c->state = S_DONE;
        return 0;
    }
    if (c->signed_chunks || c->checksum == CK_NONE)
        return fail(c, OS3_INVALID_REQUEST, "unexpected trailer after the final chunk");
    char *colon = strchr(c->line, ':');
    if (!colon)
        return fail(c, OS3_INVALID_REQUEST, "trailer line is not NAME:VALUE");
    *colon = '\0';
    for (char *q = c->line; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    if (strcmp(c->line, c->trailer_name) != 0)
        return fail(c, OS3_INVALID_REQUEST, "trailer %s was not announced in x-amz-trailer",
                    c->line);
    if (c->trailer_seen)
        return fail(c, OS3_INVALID_REQUEST, "trailer %s appears twice", c->line);
    c->trailer_seen = true;
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    char want[64];
    checksum_final(c, want);
    if (vl != strlen(want) || memcmp(v, want, vl) != 0)
        return fail(c, OS3_BAD_DIGEST, "%s %.*s does not match the calculated %s",
                    c->trailer_name, (int)(vl > 60 ? 60 : vl), v, want);
    return 0;
}

/* Collects a CRLF-terminated line; returns 1 when one is complete. */
static int line_byte(os3_chunked *c, uint8_t ch)
{
    if (ch == '\n') {
        if (c->line_len == 0 || c->line[c->line_len - 1] != '\r')
            return fail(c, OS3_INVALID_REQUEST, "line not terminated by CRLF");
        c->line[--c->line_len] = '\0';
        return 1;
    }
    if (c->line_len >= LINE_MAX)
        return fail(c, OS3_INVALID_REQUEST, "line longer than %d bytes", LINE_MAX);
    if (ch == '\0' || (ch == '\r' && c->line_len > 0 && c->line[c->line_len - 1] == '\r'))
        return fail(c, OS3_INVALID_REQUEST, "stray control byte in a chunk header");
    c->line[c->line_len++] = (char)ch;
    return 0;
}

int os3_chunked_feed(os3_chunked *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    const uint8_t *end = p + len;
    while (p < end) {
        switch (c->state) {
        case S_FAILED:
            return rd_fail(RD_EUSAGE, "aws-chunked body: already failed (%s)",
                           os3_error_code(c->error));
        case S_DONE:
            return fail(c, OS3_INVALID_REQUEST, "data after the final chunk");
        case S_DATA: {
            size_t n = (size_t)(end - p) < c->remaining ? (size_t)(end - p)
                                                        : (size_t)c->remaining;
            if (c->signed_chunks)
                rd_sha256_update(c->chunk_hash, p, n);
            checksum_update(c, p, n);
            int rc = c->sink ? c->sink(c->sink_arg, p, n) : 0;
            if (rc != 0)
                return fail(c, OS3_INTERNAL_ERROR, "%s", rd_error());
            c->decoded += n;
            c->remaining -= n;
            p += n;
            if (c->remaining == 0) {
                if (c->signed_chunks && verify_chunk(c) != 0)
                    return -RD_EPASS;
                c->state = S_DATA_CR;
            }
            break;
        }
        case S_DATA_CR:
        case S_DATA_LF: {
            uint8_t want = c->state == S_DATA_CR ? '\r' : '\n';
            if (*p++ != want)
                return fail(c, OS3_INVALID_REQUEST, "chunk data not followed by CRLF");
            c->state = c->state == S_DATA_CR ? S_DATA_LF : S_LINE;
            break;
        }
        case S_LINE:
        case S_TRAILER: {
            int rc = line_byte(c, *p++);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                rc = c->state == S_LINE ? chunk_header(c) : trailer_line(c);
                c->line_len = 0;
                if (rc != 0)
                    return rc;
            }
            break;
        }
        }
    }
    return 0;
}

int os3_chunked_finish(os3_chunked *c)
{
    if (c->state == S_FAILED)
        return rd_fail(RD_EUSAGE, "aws-chunked body: already failed (%s)",
                       os3_error_code(c->error));
    if (c->state != S_DONE)
        return fail(c, OS3_INCOMPLETE_BODY, "the body ended before the final chunk");
    if (c->declared >= 0 && c->decoded != (uint64_t)c->declared)
        return fail(c, OS3_INCOMPLETE_BODY,
                    "decoded %llu bytes, x-amz-decoded-content-length says %lld",
                    (unsigned long long)c->decoded, (long long)c->declared);
    return 0;
}
