/* libFuzzer target: manifests (envelope, then the backup info and tree). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "repo/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_buf body = RD_BUF_INIT;
    repo_manifest *m = NULL;
    if (repo_envelope_open(NULL, REPO_FILE_MANIFEST, data, size, &body) == 0 &&
        repo_manifest_decode(body.data, body.len, &m) == 0)
        repo_manifest_free(m);
    rd_buf_free(&body);
    if (repo_manifest_decode(data, size, &m) == 0) {
        /* Whatever decodes must encode back to the same bytes. */
        rd_buf again = RD_BUF_INIT;
        repo_manifest_encode(m, &again);
        if (again.len != size || memcmp(again.data, data, size) != 0)
            __builtin_trap();
        rd_buf_free(&again);
        repo_manifest_free(m);
    }
    return 0;
}
