/* zstd compression of single blocks (chunks and metadata files). Contexts are
 * per thread: make one with rd_zstd_new() for each worker. */
#ifndef RD_CORE_COMPRESS_H
#define RD_CORE_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rd_zstd rd_zstd;

rd_zstd *rd_zstd_new(int level);
void rd_zstd_free(rd_zstd *z);
/* zstd's minimum match length (ZSTD_c_minMatch, 3 to 7; 0: the level's
 * own). PostgreSQL's WAL and updated pages compress up to a fifth smaller
 * with 5 than with level 1's 6, at about the same speed
 * (PGC_COMPRESS_MIN_MATCH). */
void rd_zstd_set_min_match(rd_zstd *z, int min_match);
/* Ends each frame with zstd's content checksum (XXH64 of the uncompressed
 * data), which rd_zstd_decompress() then verifies. */
void rd_zstd_set_checksum(rd_zstd *z, bool on);
size_t rd_zstd_bound(size_t len);
/* Compresses src into dst (capacity cap >= rd_zstd_bound(len)). */
int rd_zstd_compress(rd_zstd *z, const void *src, size_t len, void *dst, size_t cap,
                     size_t *outlen);
/* Compresses a then b as if they were one buffer, without copying them
 * together, into dst (capacity rd_zstd_bound_frames()). A small b makes one
 * frame; a large one is cut into up to one frame per core (at most 4, each
 * of 4 MiB or more), compressed at once by as many threads and concatenated.
 * A 16 MiB WAL segment's compression takes 19-23 ms instead of 36-39 ms on
 * two cores, for a few bytes more. rd_zstd_decompress() reads the result as
 * it reads one frame. */
size_t rd_zstd_bound_frames(size_t a_len, size_t b_len);
int rd_zstd_compress2_frames(rd_zstd *z, const void *a, size_t a_len, const void *b,
                             size_t b_len, void *dst, size_t cap, size_t *outlen);
/* Decompresses one frame, or several concatenated, whose content sizes must
 * add up to exactly `expect` bytes; anything else is -RD_ECORRUPT. */
int rd_zstd_decompress(rd_zstd *z, const void *src, size_t len, void *dst, size_t expect);
/* 0 when src holds frames whose headers declare exactly `expect` bytes in
 * all, else -RD_ECORRUPT: lets a caller refuse a lying header before
 * allocating for it. */
int rd_zstd_check_size(const void *src, size_t len, size_t expect);

#endif
