/* Blobs and pack files.
 *
 * A blob is one chunk as stored: a flag byte (0 raw, 1 zstd) and the data,
 * sealed with AES-256-GCM under the chunk id as associated data in encrypted
 * repositories. Whatever the repository, a decoded chunk is checked against
 * its SHA-256 id before anyone sees it.
 *
 * A pack is blobs back to back, then a sealed header listing them (the same
 * record as in an index), then the header's length and "RDPK". Packs are named
 * by the SHA-256 of their bytes, so `check --read-data` can verify them whole,
 * and the header lets an index be rebuilt from the packs alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compress.h"
#include "core/error.h"
#include "repo/internal.h"

#define BLOB_RAW 0
#define BLOB_ZSTD 1

const uint8_t *repo_key_or_null(const repo *r)
{
    return r->encrypted ? r->key : NULL;
}

int repo_blob_encode(repo *r, void *zstd, const uint8_t id[REPO_ID_LEN], const uint8_t *data,
                     size_t len, rd_buf *scratch, rd_buf *out, size_t *blob_len)
{
    size_t bound = 1 + rd_zstd_bound(len);
    rd_buf_reserve(out, bound + RD_AEAD_OVERHEAD);
    /* Compress straight into the output when it is stored as is. */
    uint8_t *pt = out->data + out->len;
    if (r->encrypted) {
        rd_buf_reserve(scratch, bound);
        pt = scratch->data;
    }
    size_t clen = 0;
    int rc = rd_zstd_compress(zstd, data, len, pt + 1, bound - 1, &clen);
    if (rc < 0)
        return rc;
    /* Keep the raw bytes when compression saves under 3%. */
    bool raw = clen + clen / 32 >= len;
    static const uint8_t flag_raw = BLOB_RAW;
    pt[0] = raw ? BLOB_RAW : BLOB_ZSTD;
    size_t n;
    if (!r->encrypted) {
        if (raw)
            memcpy(pt + 1, data, len);
        n = 1 + (raw ? len : clen);
    } else if (raw) {
        rc = rd_aead_seal2(r->key, id, REPO_ID_LEN, &flag_raw, 1, data, len,
                           out->data + out->len);
        n = 1 + len + RD_AEAD_OVERHEAD;
    } else {
        rc = rd_aead_seal(r->key, id, REPO_ID_LEN, pt, 1 + clen, out->data + out->len);
        n = 1 + clen + RD_AEAD_OVERHEAD;
    }
    if (rc < 0)
        return rc;
    out->len += n;
    *blob_len = n;
    return 0;
}

static char *id_hex(const uint8_t id[REPO_ID_LEN], char out[2 * REPO_ID_LEN + 1])
{
    rd_hex_encode(id, REPO_ID_LEN, out);
    return out;
}

int repo_blob_decode(repo *r, void *zstd, const uint8_t id[REPO_ID_LEN], uint8_t *blob,
                     size_t len, uint32_t raw_len, uint8_t *out, const uint8_t **data)
{
    char hex[2 * REPO_ID_LEN + 1];
    const uint8_t *pt = blob;
    size_t ptlen = len;
    if (r->encrypted) {
        if (len < RD_AEAD_OVERHEAD + 1)
            return rd_fail(RD_ECORRUPT, "chunk %s is truncated", id_hex(id, hex));
        /* GCM decrypts in place: the plaintext lands where the ciphertext was. */
        uint8_t *ct = blob + RD_AEAD_NONCE_LEN;
        if (rd_aead_open(r->key, id, REPO_ID_LEN, blob, len, ct) < 0)
            return rd_fail(RD_ECORRUPT, "chunk %s failed authentication", id_hex(id, hex));
        pt = ct;
        ptlen = len - RD_AEAD_OVERHEAD;
    }
    int rc = 0;
    if (ptlen < 1) {
        rc = rd_fail(RD_ECORRUPT, "chunk %s is empty", id_hex(id, hex));
    } else if (pt[0] == BLOB_RAW) {
        if (ptlen - 1 != raw_len)
            rc = rd_fail(RD_ECORRUPT, "chunk %s has the wrong length", id_hex(id, hex));
        *data = pt + 1;
    } else if (pt[0] == BLOB_ZSTD) {
        rc = rd_zstd_decompress(zstd, pt + 1, ptlen - 1, out, raw_len);
        if (rc < 0)
            rc = rd_fail(RD_ECORRUPT, "chunk %s does not decompress", id_hex(id, hex));
        *data = out;
    } else {
        rc = rd_fail(RD_ECORRUPT, "chunk %s has unknown encoding %d", id_hex(id, hex), pt[0]);
    }
    if (rc == 0) {
        uint8_t sum[RD_SHA256_LEN];
        rd_sha256(*data, raw_len, sum);
        if (memcmp(sum, id, REPO_ID_LEN) != 0)
            rc = rd_fail(RD_ECORRUPT, "chunk %s does not match its hash", id_hex(id, hex));
    }
    return rc;
}

void repo_pack_path(const uint8_t id[REPO_ID_LEN], char out[80])
{
    char hex[2 * REPO_ID_LEN + 1];
    rd_hex_encode(id, REPO_ID_LEN, hex);
    snprintf(out, 80, "data/%.2s/%s", hex, hex);
}

int repo_pack_id_from_path(const char *rel, uint8_t id[REPO_ID_LEN])
{
    /* rel is "XX/<64 hex>" relative to data/ */
    if (strlen(rel) != 3 + 2 * REPO_ID_LEN || rel[2] != '/' || strncmp(rel, rel + 3, 2) != 0)
        return -1;
    return rd_hex_decode(rel + 3, id, REPO_ID_LEN);
}

void repo_pack_builder_note(repo_pack_builder *pb, const uint8_t id[REPO_ID_LEN], size_t len,
                            uint32_t raw_len)
{
    if (pb->desc.n == pb->cap_blobs) {
        pb->cap_blobs = pb->cap_blobs ? 2 * pb->cap_blobs : 64;
        pb->desc.blobs = rd_realloc(pb->desc.blobs, pb->cap_blobs * sizeof *pb->desc.blobs);
    }
    repo_blob_loc *b = &pb->desc.blobs[pb->desc.n++];
    memcpy(b->id, id, REPO_ID_LEN);
    b->offset = (uint32_t)(pb->data.len - len);
    b->length = (uint32_t)len;
    b->raw_len = raw_len;
}

void repo_pack_builder_add(repo_pack_builder *pb, const uint8_t id[REPO_ID_LEN],
                           const uint8_t *blob, size_t len, uint32_t raw_len)
{
    rd_buf_append(&pb->data, blob, len);
    repo_pack_builder_note(pb, id, len, raw_len);
}

int repo_pack_builder_finish(repo *r, repo_pack_builder *pb, repo_pack_desc *out)
{
    rd_buf body = RD_BUF_INIT, sealed = RD_BUF_INIT;
    /* The header is a one-pack index body with a zero pack id (the id is the
     * hash of the whole file and cannot be inside it). */
    repo_pack_desc tmp = pb->desc;
    memset(tmp.id, 0, REPO_ID_LEN);
    repo_packs_encode(&tmp, 1, &body);
    int rc = repo_envelope_seal(repo_key_or_null(r), REPO_FILE_PACKHDR, body.data, body.len,
                                &sealed);
    if (rc == 0) {
        rd_buf_append(&pb->data, sealed.data, sealed.len);
        rd_buf_append_u32(&pb->data, (uint32_t)sealed.len);
        rd_buf_append(&pb->data, REPO_PACK_MAGIC, 4);
        rd_sha256(pb->data.data, pb->data.len, pb->desc.id);
        char path[80];
        repo_pack_path(pb->desc.id, path);
        rc = repo_storage_put(r->st, path, pb->data.data, pb->data.len);
    }
    rd_buf_free(&body);
    rd_buf_free(&sealed);
    if (rc < 0)
        return rc;
    *out = pb->desc;
    memset(&pb->desc, 0, sizeof pb->desc);
    pb->cap_blobs = 0;
    rd_buf_reset(&pb->data);
    return 0;
}

void repo_pack_builder_free(repo_pack_builder *pb)
{
    rd_buf_free(&pb->data);
    repo_pack_desc_free(&pb->desc);
    pb->cap_blobs = 0;
}

int repo_pack_header_parse(const uint8_t *key, const uint8_t *sealed, size_t len,
                           uint64_t pack_size, repo_pack_desc *out)
{
    rd_buf body = RD_BUF_INIT;
    repo_pack_desc *packs = NULL;
    size_t n = 0;
    int rc = repo_envelope_open(key, REPO_FILE_PACKHDR, sealed, len, &body);
    if (rc == 0)
        rc = repo_packs_decode(body.data, body.len, &packs, &n);
    rd_buf_free(&body);
    if (rc < 0)
        return rc;
    uint64_t blobs_end = 0;
    if (n == 1 && packs[0].n)
        blobs_end = (uint64_t)packs[0].blobs[packs[0].n - 1].offset +
                    packs[0].blobs[packs[0].n - 1].length;
    if (n != 1)
        rc = rd_fail(RD_ECORRUPT, "header lists %zu packs", n);
    else if (blobs_end + len + REPO_PACK_TRAILER != pack_size)
        rc = rd_fail(RD_ECORRUPT, "header does not match the pack's size");
    if (rc == 0) {
        *out = packs[0];
        packs[0].blobs = NULL;
    }
    for (size_t i = 0; i < n; i++)
        repo_pack_desc_free(&packs[i]);
    free(packs);
    return rc;
}

int repo_pack_read_header(repo *r, const char *path, uint64_t size, repo_pack_desc *out)
{
    if (size < REPO_PACK_TRAILER)
        return rd_fail(RD_ECORRUPT, "pack %s is too short to be a pack", path);
    rd_buf buf = RD_BUF_INIT;
    int rc = repo_storage_get(r->st, path, size - REPO_PACK_TRAILER, REPO_PACK_TRAILER, &buf);
    uint32_t hlen = rc == 0 ? rd_get_u32(buf.data) : 0;
    if (rc == 0 && (memcmp(buf.data + 4, REPO_PACK_MAGIC, 4) != 0 ||
                    hlen > size - REPO_PACK_TRAILER))
        rc = rd_fail(RD_ECORRUPT, "damaged trailer");
    if (rc == 0)
        rc = repo_storage_get(r->st, path, size - REPO_PACK_TRAILER - hlen, hlen, &buf);
    if (rc == 0)
        rc = repo_pack_header_parse(repo_key_or_null(r), buf.data, buf.len, size, out);
    if (rc < 0)
        rd_fail_wrap(rc, "pack %s", path);
    rd_buf_free(&buf);
    return rc;
}

int repo_chunk_read(repo *r, void *zstd, const uint8_t id[REPO_ID_LEN], uint8_t *out,
                    uint32_t expect_len, rd_buf *scratch, const uint8_t **data)
{
    char hex[2 * REPO_ID_LEN + 1];
    const repo_chunk_loc *loc = repo_index_find(r->index, id);
    if (!loc)
        return rd_fail(RD_ECORRUPT, "chunk %s is in no index (repository damaged; run "
                       "'radiant repo check')", id_hex(id, hex));
    if (loc->raw_len != expect_len)
        return rd_fail(RD_ECORRUPT, "chunk %s has length %u in the index, %u in the manifest",
                       id_hex(id, hex), loc->raw_len, expect_len);
    char path[80];
    repo_pack_path(r->index->pack_ids[loc->pack], path);
    int rc = repo_storage_get(r->st, path, loc->offset, loc->length, scratch);
    if (rc == -RD_ENOENT)
        return rd_fail(RD_ECORRUPT, "pack %s holding chunk %s is missing", path,
                       id_hex(id, hex));
    if (rc < 0)
        return rc;
    rc = repo_blob_decode(r, zstd, id, scratch->data, scratch->len, loc->raw_len, out, data);
    if (rc < 0)
        return rd_fail_wrap(rc, "pack %s", path);
    return 0;
}
