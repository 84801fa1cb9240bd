/* zstd block compression with reusable per-thread contexts, and large
 * bodies compressed as several frames at once. */
#include "core/compress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/error.h"

struct rd_zstd {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level, min_match;
    bool checksum;
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
    z->min_match = min_match;
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_minMatch, min_match);
}

void rd_zstd_set_checksum(rd_zstd *z, bool on)
{
    z->checksum = on;
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

/* a then b as one frame (content size a_len + b_len in its header). */
static int compress2(rd_zstd *z, const void *a, size_t a_len, const void *b, size_t b_len,
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

/* ---------------------------------------------- frames in parallel -- */

/* Below this much data per frame a thread costs more than it saves. */
#define FRAME_MIN (4u << 20)
#define FRAMES_MAX 4

struct frame_job {
    rd_zstd *z;                  /* own context, same settings as the caller's */
    const uint8_t *src;
    size_t len;
    uint8_t *dst;
    size_t cap, outlen;
    int rc;
    char error[256];
};

static void *frame_run(void *arg)
{
    struct frame_job *j = arg;
    j->rc = rd_zstd_compress(j->z, j->src, j->len, j->dst, j->cap, &j->outlen);
    if (j->rc < 0)
        snprintf(j->error, sizeof j->error, "%s", rd_error());
    return NULL;
}

static int frame_count(size_t b_len)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = b_len / FRAME_MIN;
    if (cores > 0 && n > (size_t)cores)
        n = (size_t)cores;
    if (n > FRAMES_MAX)
        n = FRAMES_MAX;
    return n < 1 ? 1 : (int)n;
}

size_t rd_zstd_bound_frames(size_t a_len, size_t b_len)
{
    int n = frame_count(b_len);
    return rd_zstd_bound(a_len + b_len) + (size_t)(n - 1) * rd_zstd_bound(0);
}

int rd_zstd_compress2_frames(rd_zstd *z, const void *a, size_t a_len, const void *b,
                             size_t b_len, void *dst, size_t cap, size_t *outlen)
{
    int n = frame_count(b_len);
    if (n == 1)
        return compress2(z, a, a_len, b, b_len, dst, cap, outlen);
    /* Frame 0 is a plus the first share of b, compressed by this thread;
     * frames 1..n-1 split the rest of b, each compressed by its own thread
     * into its own stretch of dst, then moved down behind the one before. */
    struct frame_job jobs[FRAMES_MAX];
    pthread_t threads[FRAMES_MAX];
    bool started[FRAMES_MAX] = { false };
    size_t share = b_len / (size_t)n, first = b_len - share * (size_t)(n - 1);
    size_t first_cap = rd_zstd_bound(a_len + first), used = first_cap;
    uint8_t *out = dst;
    for (int i = 1; i < n; i++) {
        struct frame_job *j = &jobs[i];
        size_t jcap = rd_zstd_bound(share);
        *j = (struct frame_job){ .src = (const uint8_t *)b + first + share * (size_t)(i - 1),
                                 .len = share, .dst = out + used, .cap = jcap };
        used += jcap;
        if (used > cap)
            return rd_fail(RD_EINTERNAL, "zstd compression failed: output buffer too small");
    }
    for (int i = 1; i < n; i++) {
        jobs[i].z = rd_zstd_new(z->level);
        rd_zstd_set_min_match(jobs[i].z, z->min_match);
        rd_zstd_set_checksum(jobs[i].z, z->checksum);
        started[i] = pthread_create(&threads[i], NULL, frame_run, &jobs[i]) == 0;
    }
    size_t len = 0;
    int rc = compress2(z, a, a_len, b, first, out, first_cap, &len);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        else
            frame_run(&jobs[i]);
        if (rc == 0 && jobs[i].rc < 0)
            rc = rd_fail(jobs[i].rc, "%s", jobs[i].error);
        if (rc == 0) {
            memmove(out + len, jobs[i].dst, jobs[i].outlen);
            len += jobs[i].outlen;
        }
        rd_zstd_free(jobs[i].z);
    }
    if (rc == 0)
        *outlen = len;
    return rc;
}

/* The content sizes of every frame in src added up, or ZSTD_CONTENTSIZE_ERROR
 * when a frame is damaged or does not declare its size. */
static unsigned long long frames_content_size(const uint8_t *src, size_t len)
{
    unsigned long long total = 0;
    do {
        unsigned long long n = ZSTD_getFrameContentSize(src, len);
        size_t frame_len = ZSTD_findFrameCompressedSize(src, len);
        if (n >= ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(frame_len) || total + n < total)
            return ZSTD_CONTENTSIZE_ERROR;
        total += n;
        src += frame_len;
        len -= frame_len;
    } while (len > 0);
    return total;
}

int rd_zstd_check_size(const void *src, size_t len, size_t expect)
{
    if (frames_content_size(src, len) != expect)
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
