/* Content-defined chunking (FastCDC, Xia et al., USENIX ATC 2016): a gear
 * rolling hash over the last 64 bytes decides chunk boundaries, so an insert
 * shifts only the chunk it lands in and later boundaries fall where they did.
 *
 * Normalized chunking: below the average size a stricter mask (two more bits)
 * makes a cut less likely, above it a looser one more likely, which narrows the
 * size distribution. The first `min` bytes of a chunk are skipped unhashed. The
 * masks use the top bits of the hash, which depend on all of the last 64 bytes
 * (bit k of a gear hash depends only on the last k+1 bytes). */
#include "repo/internal.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t top_mask(int bits)
{
    return ((1ull << bits) - 1) << (64 - bits);
}

void repo_chunker_init(repo_chunker *c, uint32_t min, uint32_t avg, uint32_t max)
{
    /* The gear table is fixed forever: changing it would stop deduplication
     * against every chunk already stored. */
    uint64_t seed = 0x72616469616e7463ull;   /* "radiantc" */
    for (int i = 0; i < 256; i++)
        c->gear[i] = splitmix64(&seed);
    c->min = min;
    c->avg = avg;
    c->max = max;
    int bits = 0;
    while ((1u << (bits + 1)) <= avg)
        bits++;
    c->mask_small = top_mask(bits + 2);
    c->mask_large = top_mask(bits - 2);
}

size_t repo_chunker_next(const repo_chunker *c, const uint8_t *data, size_t len, bool eof)
{
    if (len <= c->min)
        return eof ? len : 0;
    if (len < c->max && !eof)
        return 0;
    size_t end = len < c->max ? len : c->max;
    size_t normal = end < c->avg ? end : c->avg;
    uint64_t h = 0;
    size_t i = c->min;
    for (; i < normal; i++) {
        h = (h << 1) + c->gear[data[i]];
        if (!(h & c->mask_small))
            return i + 1;
    }
    for (; i < end; i++) {
        h = (h << 1) + c->gear[data[i]];
        if (!(h & c->mask_large))
            return i + 1;
    }
    return end;
}
