/* On-storage formats of the repository's metadata: the sealed envelope around
 * every metadata file, index bodies (packs and their blobs) and manifest
 * bodies (backup info and file tree). All parsers take untrusted bytes and
 * return -RD_ECORRUPT on anything malformed; they are fuzzed (fuzz/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compress.h"
#include "core/error.h"
#include "repo/internal.h"

/* ------------------------------------------------------------- id map -- */

static size_t idmap_slot(const uint8_t id[REPO_ID_LEN], size_t cap)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)(h & (cap - 1));
}

static void idmap_grow(repo_idmap *m)
{
    repo_idmap bigger = { 0 };
    bigger.cap = m->cap ? m->cap * 2 : 1024;
    bigger.keys = rd_malloc(bigger.cap * REPO_ID_LEN);
    bigger.values = rd_malloc(bigger.cap * sizeof *bigger.values);
    bigger.used = rd_calloc(bigger.cap, 1);
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i])
            repo_idmap_put(&bigger, m->keys[i], m->values[i]);
    repo_idmap_free(m);
    *m = bigger;
}

bool repo_idmap_put(repo_idmap *m, const uint8_t id[REPO_ID_LEN], uint32_t value)
{
    if ((m->len + 1) * 4 > m->cap * 3)
        idmap_grow(m);
    for (size_t i = idmap_slot(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->used[i]) {
            m->used[i] = 1;
            memcpy(m->keys[i], id, REPO_ID_LEN);
            m->values[i] = value;
            m->len++;
            return true;
        }
        if (memcmp(m->keys[i], id, REPO_ID_LEN) == 0)
            return false;
    }
}

uint32_t *repo_idmap_get(const repo_idmap *m, const uint8_t id[REPO_ID_LEN])
{
    if (!m->cap)
        return NULL;
    for (size_t i = idmap_slot(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->used[i])
            return NULL;
        if (memcmp(m->keys[i], id, REPO_ID_LEN) == 0)
            return &m->values[i];
    }
}

void repo_idmap_free(repo_idmap *m)
{
    free(m->keys);
    free(m->values);
    free(m->used);
    memset(m, 0, sizeof *m);
}

/* ----------------------------------------------------------- envelope -- */

/* Header: "RDF1" | type u8 | flags u8 | 0 u16 | body length u64. The header is
 * authenticated (AAD of the seal, or inside the SHA-256 of plain files). */
#define ENV_MAGIC "RDF1"
#define ENV_HEADER 16
#define ENV_ENCRYPTED 1
#define ENV_ZSTD 2

int repo_envelope_seal(const uint8_t *key, enum repo_file_type type, const uint8_t *body,
                       size_t len, rd_buf *out)
{
    return repo_envelope_seal_level(key, type, body, len, 3, out);
}

int repo_envelope_seal_level(const uint8_t *key, enum repo_file_type type, const uint8_t *body,
                             size_t len, int level, rd_buf *out)
{
    rd_zstd *z = rd_zstd_new(level);
    rd_buf packed = RD_BUF_INIT;
    rd_buf_reserve(&packed, rd_zstd_bound(len));
    size_t clen = 0;
    int rc = rd_zstd_compress(z, body, len, packed.data, packed.cap, &clen);
    rd_zstd_free(z);
    if (rc < 0) {
        rd_buf_free(&packed);
        return rc;
    }
    packed.len = clen;

    uint8_t hdr[ENV_HEADER] = { 0 };
    memcpy(hdr, ENV_MAGIC, 4);
    hdr[4] = (uint8_t)type;
    hdr[5] = ENV_ZSTD | (key ? ENV_ENCRYPTED : 0);
    rd_put_u64(hdr + 8, len);
    rd_buf_reset(out);
    rd_buf_append(out, hdr, sizeof hdr);
    if (key) {
        rd_buf_reserve(out, packed.len + RD_AEAD_OVERHEAD);
        rc = rd_aead_seal(key, hdr, sizeof hdr, packed.data, packed.len, out->data + out->len);
        if (rc == 0)
            out->len += packed.len + RD_AEAD_OVERHEAD;
    } else {
        rd_buf_append(out, packed.data, packed.len);
        uint8_t sum[RD_SHA256_LEN];
        rd_sha256(out->data, out->len, sum);
        rd_buf_append(out, sum, sizeof sum);
    }
    rd_buf_free(&packed);
    return rc;
}

int repo_envelope_seal_parts(const uint8_t *key, enum repo_file_type type,
                             const uint8_t *prefix, size_t prefix_len, const uint8_t *data,
                             size_t len, int level, int min_match, rd_buf *out)
{
    size_t total = prefix_len + len;
    size_t bound = rd_zstd_bound_frames(prefix_len, len);
    uint8_t hdr[ENV_HEADER] = { 0 };
    memcpy(hdr, ENV_MAGIC, 4);
    hdr[4] = (uint8_t)type;
    hdr[5] = ENV_ZSTD | (key ? ENV_ENCRYPTED : 0);
    rd_put_u64(hdr + 8, total);
    rd_buf_reset(out);
    rd_buf packed = RD_BUF_INIT;
    /* Plain: compressed straight after the header in out, no copy. */
    uint8_t *dst;
    if (key) {
        rd_buf_reserve(out, ENV_HEADER);
        rd_buf_reserve(&packed, bound);
        dst = packed.data;
    } else {
        rd_buf_reserve(out, ENV_HEADER + bound + RD_SHA256_LEN);
        dst = out->data + ENV_HEADER;
    }
    rd_zstd *z = rd_zstd_new(level);
    rd_zstd_set_min_match(z, min_match);
    rd_zstd_set_checksum(z, true);
    size_t clen = 0;
    int rc = rd_zstd_compress2_frames(z, prefix, prefix_len, data, len, dst, bound, &clen);
    rd_zstd_free(z);
    memcpy(out->data, hdr, sizeof hdr);
    out->len = sizeof hdr;
    if (rc == 0 && key) {
        rd_buf_reserve(out, clen + RD_AEAD_OVERHEAD);
        rc = rd_aead_seal(key, hdr, sizeof hdr, packed.data, clen, out->data + out->len);
        if (rc == 0)
            out->len += clen + RD_AEAD_OVERHEAD;
    } else if (rc == 0) {
        out->len += clen;
        uint8_t sum[RD_SHA256_LEN];
        rd_sha256(out->data, out->len, sum);
        rd_buf_append(out, sum, sizeof sum);
    }
    rd_buf_free(&packed);
    return rc;
}

int repo_envelope_open(const uint8_t *key, enum repo_file_type type, const uint8_t *data,
                       size_t len, rd_buf *body)
{
    if (len < ENV_HEADER || memcmp(data, ENV_MAGIC, 4) != 0)
        return rd_fail(RD_ECORRUPT, "not a radiant repository file (bad magic)");
    if (data[4] != (uint8_t)type)
        return rd_fail(RD_ECORRUPT, "file holds a '%c' record where '%c' was expected",
                       data[4] >= 32 && data[4] < 127 ? data[4] : '?', (char)type);
    uint8_t flags = data[5];
    uint64_t raw_len = rd_get_u64(data + 8);
    if (data[6] || data[7] || (flags & ~(ENV_ENCRYPTED | ENV_ZSTD)))
        return rd_fail(RD_ECORRUPT, "unknown flags in file header");
    if (!!(flags & ENV_ENCRYPTED) != !!key)
        return rd_fail(RD_ECORRUPT, key ? "file is not encrypted in an encrypted repository"
                                        : "file is encrypted in a plain repository");
    if (raw_len > REPO_META_MAX)
        return rd_fail(RD_ECORRUPT, "file claims %llu bytes, over the limit",
                       (unsigned long long)raw_len);

    const uint8_t *payload = data + ENV_HEADER;
    size_t plen = len - ENV_HEADER;
    rd_buf opened = RD_BUF_INIT;
    int rc = 0;
    if (key) {
        if (plen < RD_AEAD_OVERHEAD)
            return rd_fail(RD_ECORRUPT, "file is truncated");
        rd_buf_reserve(&opened, plen);
        rc = rd_aead_open(key, data, ENV_HEADER, payload, plen, opened.data);
        if (rc < 0) {
            rd_buf_free(&opened);
            return rd_fail(RD_ECORRUPT, "file failed authentication (damaged or truncated)");
        }
        opened.len = plen - RD_AEAD_OVERHEAD;
        payload = opened.data;
        plen = opened.len;
    } else {
        if (plen < RD_SHA256_LEN)
            return rd_fail(RD_ECORRUPT, "file is truncated");
        uint8_t sum[RD_SHA256_LEN];
        plen -= RD_SHA256_LEN;
        rd_sha256(data, ENV_HEADER + plen, sum);
        if (memcmp(sum, payload + plen, RD_SHA256_LEN) != 0)
            return rd_fail(RD_ECORRUPT, "file checksum mismatch (damaged or truncated)");
    }
    rd_buf_reset(body);
    if (!(flags & ENV_ZSTD)) {
        if (plen != raw_len)
            rc = rd_fail(RD_ECORRUPT, "file body has the wrong length");
        else
            rd_buf_append(body, payload, plen);
    } else if ((rc = rd_zstd_check_size(payload, plen, (size_t)raw_len)) == 0) {
        /* The frame's own size is checked before allocating for raw_len, so a
         * damaged header cannot make us reserve up to REPO_META_MAX for nothing. */
        rd_buf_reserve(body, raw_len);
        rd_zstd *z = rd_zstd_new(1);
        rc = rd_zstd_decompress(z, payload, plen, body->data, (size_t)raw_len);
        rd_zstd_free(z);
        if (rc == 0)
            body->len = (size_t)raw_len;
    }
    rd_buf_free(&opened);
    return rc;
}

/* ------------------------------------------------------ index bodies -- */

void repo_pack_desc_free(repo_pack_desc *p)
{
    if (!p)
        return;
    free(p->blobs);
    p->blobs = NULL;
    p->n = 0;
}

void repo_packs_encode(const repo_pack_desc *packs, size_t n, rd_buf *body)
{
    rd_buf_append_u32(body, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        rd_buf_append(body, packs[i].id, REPO_ID_LEN);
        rd_buf_append_u32(body, (uint32_t)packs[i].n);
        for (size_t j = 0; j < packs[i].n; j++) {
            const repo_blob_loc *b = &packs[i].blobs[j];
            rd_buf_append(body, b->id, REPO_ID_LEN);
            rd_buf_append_u32(body, b->offset);
            rd_buf_append_u32(body, b->length);
            rd_buf_append_u32(body, b->raw_len);
        }
    }
}

#define BLOB_RECORD (REPO_ID_LEN + 12)

int repo_packs_decode(const uint8_t *body, size_t len, repo_pack_desc **packs_out, size_t *n_out)
{
    rd_reader rd;
    rd_reader_init(&rd, body, len);
    uint32_t n = rd_read_u32(&rd);
    if (rd.bad || n > rd.left / (REPO_ID_LEN + 4))
        return rd_fail(RD_ECORRUPT, "pack list is truncated");
    repo_pack_desc *packs = rd_calloc(n, sizeof *packs);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rd_read_raw(&rd, packs[i].id, REPO_ID_LEN);
        uint32_t nb = rd_read_u32(&rd);
        if (rd.bad || nb > rd.left / BLOB_RECORD) {
            rc = rd_fail(RD_ECORRUPT, "pack list is truncated");
            break;
        }
        packs[i].n = nb;
        packs[i].blobs = rd_calloc(nb, sizeof *packs[i].blobs);
        uint64_t end = 0;
        for (uint32_t j = 0; j < nb; j++) {
            repo_blob_loc *b = &packs[i].blobs[j];
            rd_read_raw(&rd, b->id, REPO_ID_LEN);
            b->offset = rd_read_u32(&rd);
            b->length = rd_read_u32(&rd);
            b->raw_len = rd_read_u32(&rd);
            /* Blobs are laid out back to back; anything else is damage. */
            if (b->offset != end || b->length == 0 || b->raw_len > 64u * 1024 * 1024) {
                rc = rd_fail(RD_ECORRUPT, "pack list has an impossible blob location");
                break;
            }
            end += b->length;
            if (end > UINT32_MAX) {
                rc = rd_fail(RD_ECORRUPT, "pack list has an impossible blob location");
                break;
            }
        }
    }
    if (rc == 0 && (rd.bad || rd.left != 0))
        rc = rd_fail(RD_ECORRUPT, "pack list has %zu trailing bytes", rd.left);
    if (rc < 0) {
        for (uint32_t i = 0; i < n; i++)
            repo_pack_desc_free(&packs[i]);
        free(packs);
        return rc;
    }
    *packs_out = packs;
    *n_out = n;
    return 0;
}

/* --------------------------------------------------------- manifests -- */

#define MANIFEST_VERSION 1
#define STR_MAX 65536

int repo_path_check(const char *path)
{
    if (strcmp(path, ".") == 0)
        return 0;   /* the root directory of a backup */
    size_t len = strlen(path);
    if (len == 0 || len >= REPO_PATH_MAX || path[0] == '/' || path[len - 1] == '/')
        return rd_fail(RD_EUSAGE, "invalid path '%s' in backup", path);
    for (const char *p = path; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return rd_fail(RD_EUSAGE, "invalid path '%s' in backup", path);
        if (!slash)
            break;
        p = slash + 1;
    }
    return 0;
}

void repo_entry_clear(repo_entry *e)
{
    free(e->path);
    free(e->link_target);
    free(e->chunks);
    memset(e, 0, sizeof *e);
}

void repo_backup_info_free(repo_backup_info *info)
{
    if (!info)
        return;
    free(info->label);
    free(info->kind);
    free(info->source);
    free(info->hostname);
    for (size_t i = 0; i < info->n_meta; i++) {
        free(info->meta_keys[i]);
        free(info->meta_values[i]);
    }
    free(info->meta_keys);
    free(info->meta_values);
    memset(info, 0, sizeof *info);
}

const char *repo_backup_info_meta(const repo_backup_info *info, const char *key)
{
    for (size_t i = 0; i < info->n_meta; i++)
        if (strcmp(info->meta_keys[i], key) == 0)
            return info->meta_values[i];
    return NULL;
}

void repo_manifest_encode(const repo_manifest *m, rd_buf *body)
{
    const repo_backup_info *in = &m->info;
    rd_buf_append_u32(body, MANIFEST_VERSION);
    rd_buf_append_str(body, in->id);
    rd_buf_append_str(body, in->label);
    rd_buf_append_str(body, in->kind);
    rd_buf_append_str(body, in->source);
    rd_buf_append_str(body, in->hostname);
    rd_buf_append_u64(body, (uint64_t)in->start_us);
    rd_buf_append_u64(body, (uint64_t)in->end_us);
    const repo_backup_stats *s = &in->stats;
    uint64_t stats[] = { s->files, s->dirs, s->symlinks, s->logical_bytes, s->chunks,
                         s->new_chunks, s->new_raw_bytes, s->new_stored_bytes, s->packs_written };
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        rd_buf_append_u64(body, stats[i]);
    rd_buf_append_u32(body, (uint32_t)in->n_meta);
    for (size_t i = 0; i < in->n_meta; i++) {
        rd_buf_append_str(body, in->meta_keys[i]);
        rd_buf_append_str(body, in->meta_values[i]);
    }
    rd_buf_append_u64(body, m->n_entries);
    for (size_t i = 0; i < m->n_entries; i++) {
        const repo_entry *e = &m->entries[i];
        rd_buf_append_u8(body, (uint8_t)e->type);
        rd_buf_append_str(body, e->path);
        rd_buf_append_u32(body, e->mode);
        rd_buf_append_u32(body, e->uid);
        rd_buf_append_u32(body, e->gid);
        rd_buf_append_u64(body, (uint64_t)e->mtime_sec);
        rd_buf_append_u32(body, e->mtime_nsec);
        rd_buf_append_u64(body, e->size);
        rd_buf_append_u64(body, e->ino);
        rd_buf_append_u64(body, (uint64_t)e->ctime_sec);
        rd_buf_append_u32(body, e->ctime_nsec);
        rd_buf_append_str(body, e->link_target);
        rd_buf_append_u32(body, e->n_chunks);
        for (uint32_t c = 0; c < e->n_chunks; c++) {
            rd_buf_append(body, e->chunks[c].id, REPO_ID_LEN);
            rd_buf_append_u32(body, e->chunks[c].len);
        }
    }
}

static int decode_entry(rd_reader *rd, repo_entry *e)
{
    e->type = (enum repo_entry_type)rd_read_u8(rd);
    e->path = rd_read_str(rd, REPO_PATH_MAX);
    e->mode = rd_read_u32(rd);
    e->uid = rd_read_u32(rd);
    e->gid = rd_read_u32(rd);
    e->mtime_sec = (int64_t)rd_read_u64(rd);
    e->mtime_nsec = rd_read_u32(rd);
    e->size = rd_read_u64(rd);
    e->ino = rd_read_u64(rd);
    e->ctime_sec = (int64_t)rd_read_u64(rd);
    e->ctime_nsec = rd_read_u32(rd);
    e->link_target = rd_read_str(rd, REPO_PATH_MAX);
    e->n_chunks = rd_read_u32(rd);
    if (rd->bad)
        return rd_fail(RD_ECORRUPT, "manifest entry is truncated");
    if (e->type != REPO_ENTRY_FILE && e->type != REPO_ENTRY_DIR && e->type != REPO_ENTRY_SYMLINK)
        return rd_fail(RD_ECORRUPT, "manifest entry has unknown type %d", (int)e->type);
    if (repo_path_check(e->path) < 0 || e->mode > 07777 || e->mtime_nsec >= 1000000000u ||
        e->ctime_nsec >= 1000000000u)
        return rd_fail(RD_ECORRUPT, "manifest entry '%s' is invalid", e->path);
    if ((e->type != REPO_ENTRY_FILE && e->n_chunks) || (e->type == REPO_ENTRY_SYMLINK &&
                                                        !e->link_target[0]))
        return rd_fail(RD_ECORRUPT, "manifest entry '%s' is inconsistent", e->path);
    if (e->n_chunks > rd->left / (REPO_ID_LEN + 4))
        return rd_fail(RD_ECORRUPT, "manifest entry '%s' is truncated", e->path);
    e->chunks = e->n_chunks ? rd_malloc(e->n_chunks * sizeof *e->chunks) : NULL;
    uint64_t total = 0;
    for (uint32_t c = 0; c < e->n_chunks; c++) {
        rd_read_raw(rd, e->chunks[c].id, REPO_ID_LEN);
        e->chunks[c].len = rd_read_u32(rd);
        total += e->chunks[c].len;
    }
    if (rd->bad || (e->type == REPO_ENTRY_FILE && total != e->size))
        return rd_fail(RD_ECORRUPT, "manifest entry '%s' has chunks that do not add up to its "
                       "size", e->path);
    return 0;
}

int repo_manifest_decode(const uint8_t *body, size_t len, repo_manifest **out)
{
    rd_reader rd;
    rd_reader_init(&rd, body, len);
    repo_manifest *m = rd_calloc(1, sizeof *m);
    repo_backup_info *in = &m->info;
    int rc = 0;
    uint32_t version = rd_read_u32(&rd);
    char *id = rd_read_str(&rd, sizeof in->id - 1);
    if (id)
        snprintf(in->id, sizeof in->id, "%s", id);
    free(id);
    in->label = rd_read_str(&rd, STR_MAX);
    in->kind = rd_read_str(&rd, STR_MAX);
    in->source = rd_read_str(&rd, STR_MAX);
    in->hostname = rd_read_str(&rd, STR_MAX);
    in->start_us = (int64_t)rd_read_u64(&rd);
    in->end_us = (int64_t)rd_read_u64(&rd);
    repo_backup_stats *s = &in->stats;
    uint64_t *stats[] = { &s->files, &s->dirs, &s->symlinks, &s->logical_bytes, &s->chunks,
                          &s->new_chunks, &s->new_raw_bytes, &s->new_stored_bytes,
                          &s->packs_written };
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        *stats[i] = rd_read_u64(&rd);
    uint32_t n_meta = rd_read_u32(&rd);
    if (rd.bad || version != MANIFEST_VERSION || n_meta > rd.left / 8 || !in->id[0]) {
        rc = rd_fail(RD_ECORRUPT, rd.bad ? "manifest is truncated"
                                 : "manifest has an unknown version or bad header");
        goto out;
    }
    in->meta_keys = rd_calloc(n_meta, sizeof(char *));
    in->meta_values = rd_calloc(n_meta, sizeof(char *));
    for (uint32_t i = 0; i < n_meta && !rd.bad; i++) {
        in->meta_keys[i] = rd_read_str(&rd, STR_MAX);
        in->meta_values[i] = rd_read_str(&rd, STR_MAX);
        in->n_meta++;
    }
    uint64_t n = rd_read_u64(&rd);
    /* Each entry takes at least 65 bytes: a count beyond that is damage. */
    if (rd.bad || n > rd.left / 65) {
        rc = rd_fail(RD_ECORRUPT, "manifest is truncated");
        goto out;
    }
    m->entries = rd_calloc((size_t)n, sizeof *m->entries);
    m->cap_entries = (size_t)n;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        rc = decode_entry(&rd, &m->entries[i]);
        m->n_entries++;
    }
    if (rc == 0 && rd.left != 0)
        rc = rd_fail(RD_ECORRUPT, "manifest has %zu trailing bytes", rd.left);
out:
    if (rc < 0) {
        repo_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void repo_manifest_free(repo_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_entries; i++)
        repo_entry_clear(&m->entries[i]);
    free(m->entries);
    repo_backup_info_free(&m->info);
    free(m);
}

const repo_backup_info *repo_manifest_info(const repo_manifest *m) { return &m->info; }
size_t repo_manifest_count(const repo_manifest *m) { return m->n_entries; }
const repo_entry *repo_manifest_entry(const repo_manifest *m, size_t i)
{
    return i < m->n_entries ? &m->entries[i] : NULL;
}
