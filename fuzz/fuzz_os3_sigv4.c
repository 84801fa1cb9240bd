/* libFuzzer target for the SigV4 verifier's parsers: the input is split at
 * its first two newlines into an Authorization header value, a raw query
 * string and a raw path. The header is parsed on its own (authz_parse), the
 * query and path are canonicalised, and the whole is run through
 * os3_sigv4_verify both as a header-signed and as a presigned request, with a
 * known access key so that verification reaches the signature computation.
 * Invariants checked: a failure always names an S3 error and leaves no signing
 * key behind; a success (the seeds include AWS's presigned example, which
 * verifies) reports OK and the one access key that has a secret. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "objstore/sigv4.h"

static int lookup(void *arg, const char *akid, char *secret, size_t len)
{
    (void)arg;
    if (strcmp(akid, "AKIAIOSFODNN7EXAMPLE") != 0)
        return -3;   /* -RD_ENOENT */
    snprintf(secret, len, "%s", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    return 0;
}

static void check_result(int rc, const os3_auth *a)
{
    static const uint8_t zero[RD_SHA256_LEN];
    if (rc == 0) {
        if (a->error != OS3_OK || strcmp(a->access_key_id, "AKIAIOSFODNN7EXAMPLE") != 0)
            __builtin_trap();
    } else if (a->error == OS3_OK || memcmp(a->signing_key, zero, sizeof zero) != 0) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *authz = text, *query = "", *path = "/";
    char *nl = strchr(text, '\n');
    if (nl) {
        *nl = '\0';
        query = nl + 1;
        nl = strchr(query, '\n');
        if (nl) {
            *nl = '\0';
            path = nl + 1;
        }
    }

    os3_sigv4_authz z;
    enum os3_error err;
    if (os3_sigv4_authz_parse(authz, &z, &err) == 0) {
        if (!z.access_key_id || !z.signed_headers || !z.signature || strlen(z.signature) != 64)
            __builtin_trap();
        os3_sigv4_authz_free(&z);
    } else if (err == OS3_OK) {
        __builtin_trap();
    }

    rd_buf b = RD_BUF_INIT;
    os3_sigv4_canonical_query(query, true, &b);
    os3_sigv4_canonical_uri(path, &b);
    rd_buf_free(&b);

    os3_header h[] = {
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-date", "20130524T000000Z" },
        { "x-amz-content-sha256", "UNSIGNED-PAYLOAD" },
        { "Authorization", authz },
    };
    os3_auth_config cfg = { .secret = lookup, .now = 1369353600 };
    os3_auth a;
    os3_request r = { "GET", path, query, h, 4 };
    check_result(os3_sigv4_verify(&r, &cfg, &a), &a);
    r.n_headers = 3;
    check_result(os3_sigv4_verify(&r, &cfg, &a), &a);
    free(text);
    return 0;
}
