/* libFuzzer target: the header at the end of a pack file. The input is a
 * whole pack: blobs, sealed header, u32 header length, "RDPK". */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "repo/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < REPO_PACK_TRAILER)
        return 0;
    uint32_t hlen = rd_get_u32(data + size - REPO_PACK_TRAILER);
    if (memcmp(data + size - 4, REPO_PACK_MAGIC, 4) != 0 || hlen > size - REPO_PACK_TRAILER)
        return 0;
    repo_pack_desc desc = { 0 };
    const uint8_t *hdr = data + size - REPO_PACK_TRAILER - hlen;
    if (repo_pack_header_parse(NULL, hdr, hlen, size, &desc) == 0)
        repo_pack_desc_free(&desc);
    return 0;
}
