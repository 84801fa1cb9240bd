/* zstd block compression with reusable per-thread contexts. */
#include "core/compress.h"

#include <stdlib.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/error.h"

struct rd_zstd {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level;
};

rd_zstd *rd_zstd_new(int level)
{
    rd_zstd *z = rd_calloc(1, sizeof *z);
    z->cctx = ZSTD_createCCtx();
    z->dctx = ZSTD_createDCtx();
    if (!z->cctx || !z->dctx)
        rd_oom();
    z->level = level;
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_contentSizeFlag, 1);
    return z;
}

void rd_zstd_free(rd_zstd *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    free(z);
}

void rd_zstd_set_min_match(rd_zstd *z, int min_match)
{
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_minMatch, min_match);
}

void rd_zstd_set_checksum(rd_zstd *z, bool on)
{
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, on ? 1 : 0);
}

size_t rd_zstd_bound(size_t len) { return ZSTD_compressBound(len); }

int rd_zstd_compress(rd_zstd *z, const void *src, size_t len, void *dst, size_t cap,
                     size_t *outlen)
{
    size_t n = ZSTD_compress2(z->cctx, dst, cap, src, len);
    if (ZSTD_isError(n))
        return rd_fail(RD_EINTERNAL, "zstd compression failed: %s", ZSTD_getErrorName(n));
    *outlen = n;
    return 0;
}

int rd_zstd_compress2(rd_zstd *z, const void *a, size_t a_len, const void *b, size_t b_len,
                      void *dst, size_t cap, size_t *outlen)
{
    ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only);
    size_t rc = ZSTD_CCtx_setPledgedSrcSize(z->cctx, (unsigned long long)a_len + b_len);
    ZSTD_outBuffer out = { dst, cap, 0 };
    ZSTD_inBuffer in = { a, a_len, 0 };
    while (!ZSTD_isError(rc) && in.pos < in.size)
        rc = ZSTD_compressStream2(z->cctx, &out, &in, ZSTD_e_continue);
    in = (ZSTD_inBuffer){ b, b_len, 0 };
    do {
        if (!ZSTD_isError(rc))
            rc = ZSTD_compressStream2(z->cctx, &out, &in, ZSTD_e_end);
    } while (!ZSTD_isError(rc) && rc != 0 && out.pos < out.size);
    if (ZSTD_isError(rc))
        return rd_fail(RD_EINTERNAL, "zstd compression failed: %s", ZSTD_getErrorName(rc));
    if (rc != 0)
        return rd_fail(RD_EINTERNAL, "zstd compression failed: output buffer too small");
    *outlen = out.pos;
    return 0;
}

int rd_zstd_check_size(const void *src, size_t len, size_t expect)
{
    if (ZSTD_getFrameContentSize(src, len) != expect)
        return rd_fail(RD_ECORRUPT, "compressed block has the wrong size");
    return 0;
}

int rd_zstd_decompress(rd_zstd *z, const void *src, size_t len, void *dst, size_t expect)
{
    int rc = rd_zstd_check_size(src, len, expect);
    if (rc < 0)
        return rc;
    size_t n = ZSTD_decompressDCtx(z->dctx, dst, expect, src, len);
    if (ZSTD_isError(n) || n != expect)
        return rd_fail(RD_ECORRUPT, "compressed block is damaged");
    return 0;
}
