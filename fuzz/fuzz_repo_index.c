/* libFuzzer target: index files (envelope, then the pack list inside). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/buf.h"
#include "repo/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_buf body = RD_BUF_INIT;
    repo_pack_desc *packs = NULL;
    size_t n = 0;
    /* The sealed file as stored, and a raw body as if it had been unsealed. */
    if (repo_envelope_open(NULL, REPO_FILE_INDEX, data, size, &body) == 0 &&
        repo_packs_decode(body.data, body.len, &packs, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            repo_pack_desc_free(&packs[i]);
        free(packs);
    }
    rd_buf_free(&body);
    if (repo_packs_decode(data, size, &packs, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            repo_pack_desc_free(&packs[i]);
        free(packs);
    }
    return 0;
}
