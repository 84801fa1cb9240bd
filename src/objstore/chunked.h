/* Incremental decoder for aws-chunked request bodies (private to src/objstore):
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD, where every chunk carries a signature
 * chained on the previous one, and STREAMING-UNSIGNED-PAYLOAD-TRAILER, where
 * unsigned chunks end with a checksum trailer (x-amz-checksum-crc32 etc.).
 * The HTTP layer feeds the body in whatever fragments it receives; decoded
 * bytes go to a sink callback. No I/O.
 *
 * Memory stays bounded at any chunk size: data is hashed and passed to the
 * sink as it arrives, never buffered. The price is that the sink sees bytes
 * before the signature covering them has been checked, so the contract is:
 * nothing the sink received is good until os3_chunked_finish() returns 0.
 * The object store writes into a temporary file and makes it visible only
 * then (DESIGN.md: a PUT is acknowledged only when durable), so unverified
 * bytes are never acknowledged or served. */
#ifndef RD_OBJSTORE_CHUNKED_H
#define RD_OBJSTORE_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "objstore/errors.h"
#include "objstore/sigv4.h"

/* Receives decoded body bytes; returns 0, or a negative RD code that stops
 * decoding (os3_chunked_error then gives InternalError). */
typedef int (*os3_chunked_sink)(void *arg, const uint8_t *data, size_t len);

typedef struct os3_chunked os3_chunked;

/* Starts decoding the body of a request that os3_sigv4_verify accepted with
 * payload OS3_PAYLOAD_STREAMING_SIGNED or OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER.
 * auth is copied (the signing key too; it is wiped by _free). trailer is the
 * x-amz-trailer header ("x-amz-checksum-crc32") or NULL; the trailer variant
 * supports crc32, crc32c and sha256 checksums. Returns -RD_EUSAGE with *err
 * set (InvalidRequest, NotImplemented) when the request cannot be decoded. */
int os3_chunked_new(const os3_auth *auth, const char *trailer, os3_chunked_sink sink,
                    void *sink_arg, os3_chunked **out, enum os3_error *err);
/* Feeds the next len bytes of the body. Returns 0, or a negative RD code once
 * the body is found bad; the failure is sticky and os3_chunked_error() names
 * the S3 error: SignatureDoesNotMatch (a chunk signature), IncompleteBody
 * (more data than x-amz-decoded-content-length), InvalidRequest (framing),
 * BadDigest (trailer checksum), InternalError (the sink failed). */
int os3_chunked_feed(os3_chunked *c, const void *data, size_t len);
/* Called at the end of the body: 0 only when the final chunk (and trailer)
 * arrived, every signature and checksum matched and the decoded length equals
 * x-amz-decoded-content-length. Otherwise like os3_chunked_feed (a body cut
 * short is IncompleteBody). */
int os3_chunked_finish(os3_chunked *c);
enum os3_error os3_chunked_error(const os3_chunked *c);
/* Decoded bytes passed to the sink so far. */
uint64_t os3_chunked_decoded(const os3_chunked *c);
void os3_chunked_free(os3_chunked *c);

#endif
