/* libFuzzer target for the aws-chunked decoder. The first input byte picks the
 * mode (signed chunks of the AWS example request, or the unsigned trailer
 * variant with a crc32 trailer) and the split size; the rest is the body, fed
 * in pieces of that size. Invariants: the sink never receives more than the
 * declared length, decoded() equals what the sink got, and a failure is
 * sticky and names an S3 error. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "objstore/chunked.h"
#include "s3client/s3client.h"

static int sink(void *arg, const uint8_t *data, size_t len)
{
    uint64_t *n = arg;
    (void)data;
    *n += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    os3_auth a;
    memset(&a, 0, sizeof a);
    a.error = OS3_OK;
    const char *trailer = NULL;
    if (mode & 1) {
        a.payload = OS3_PAYLOAD_STREAMING_SIGNED;
        a.decoded_content_length = 66560;
        /* The chunked example of the AWS documentation: date, scope and seed. */
        strcpy(a.amz_date, "20130524T000000Z");
        strcpy(a.scope, "20130524/us-east-1/s3/aws4_request");
        strcpy(a.seed_signature,
               "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
        s3_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524",
                             "us-east-1", "s3", a.signing_key);
    } else {
        a.payload = OS3_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
        a.decoded_content_length = (mode & 2) ? -1 : 64;
        trailer = (mode & 4) ? "x-amz-checksum-crc32" : NULL;
    }
    size_t step = (size_t)(mode >> 3) + 1;
    uint64_t got = 0;
    os3_chunked *c;
    enum os3_error err;
    if (os3_chunked_new(&a, trailer, sink, &got, &c, &err) != 0)
        __builtin_trap();
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0; off += step)
        rc = os3_chunked_feed(c, data + off, size - off < step ? size - off : step);
    if (rc == 0)
        rc = os3_chunked_finish(c);
    if (os3_chunked_decoded(c) != got)
        __builtin_trap();
    if (a.decoded_content_length >= 0 && got > (uint64_t)a.decoded_content_length)
        __builtin_trap();
    if (rc != 0 && (os3_chunked_error(c) == OS3_OK || os3_chunked_feed(c, "x", 1) == 0 ||
                    os3_chunked_finish(c) == 0))
        __builtin_trap();
    os3_chunked_free(c);
    return 0;
}
