/* Verifying a repository: every index file decodes, every pack it names
 * exists with a header that matches the index, every manifest decodes and
 * every chunk it uses is indexed in a sound pack. With read_data, every pack
 * is read whole and checked against its name (SHA-256), and every chunk is
 * decoded and checked against its id. Each problem names the damaged piece;
 * the backups that can no longer be restored whole are listed by id. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compress.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/internal.h"

struct check {
    repo *r;
    repo_index *ix;
    repo_check_report_fn report;
    void *arg;
    repo_check_result *res;
    repo_idmap present;         /* pack id -> 1 for packs in storage */
    uint64_t *sizes;            /* per present pack, parallel to present values */
    size_t n_sizes, cap_sizes;
    repo_idmap bad_packs;       /* ids of packs that are damaged */
    repo_idmap bad_chunks;      /* chunk ids that failed to decode */
};

static void problem(struct check *c, const char *piece, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct check *c, const char *piece, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->res->n_problems++;
    if (c->report)
        c->report(c->arg, piece, msg);
}

static void bad_index(void *arg, const char *file, const char *msg)
{
    struct check *c = arg;
    problem(c, file, "index is damaged: %s", msg);
}

static int note_pack(void *arg, const char *path, uint64_t size)
{
    struct check *c = arg;
    uint8_t id[REPO_ID_LEN];
    if (repo_pack_id_from_path(path, id) < 0)
        return 0;   /* not a pack name; ignore strays */
    if (c->n_sizes == c->cap_sizes) {
        c->cap_sizes = c->cap_sizes ? 2 * c->cap_sizes : 256;
        c->sizes = rd_realloc(c->sizes, c->cap_sizes * sizeof *c->sizes);
    }
    if (repo_idmap_put(&c->present, id, (uint32_t)c->n_sizes))
        c->sizes[c->n_sizes++] = size;
    return 0;
}

static void mark_bad_pack(struct check *c, uint32_t pack_no)
{
    repo_idmap_put(&c->bad_packs, c->ix->pack_ids[pack_no], 1);
}

/* Reads the header of one pack; a damaged one marks the pack bad. */
static void check_pack_header(struct check *c, uint32_t pack_no, const char *path,
                              uint64_t size, repo_pack_desc *hdr_out)
{
    repo_pack_desc hdr = { 0 };
    if (repo_pack_read_header(c->r, path, size, &hdr) < 0) {
        problem(c, path, "pack header is damaged: %s", rd_error());
        mark_bad_pack(c, pack_no);
        return;
    }
    *hdr_out = hdr;
}

static void check_pack_data(struct check *c, uint32_t pack_no, const char *path,
                            const repo_pack_desc *hdr, rd_zstd *z)
{
    rd_buf data = RD_BUF_INIT;
    if (repo_storage_get(c->r->st, path, 0, 0, &data) < 0) {
        problem(c, path, "cannot read pack: %s", rd_error());
        mark_bad_pack(c, pack_no);
        rd_buf_free(&data);
        return;
    }
    uint8_t sum[RD_SHA256_LEN];
    rd_sha256(data.data, data.len, sum);
    if (memcmp(sum, c->ix->pack_ids[pack_no], REPO_ID_LEN) != 0) {
        /* Which chunks this hurts is decided blob by blob below. */
        problem(c, path, "pack content does not match its name (SHA-256)");
    }
    uint8_t *out = rd_malloc(c->r->chunk_max);
    for (size_t i = 0; i < hdr->n; i++) {
        const repo_blob_loc *b = &hdr->blobs[i];
        c->res->chunks_checked++;
        const uint8_t *plain;
        int rc = (uint64_t)b->offset + b->length > data.len || b->raw_len > c->r->chunk_max
                 ? rd_fail(RD_ECORRUPT, "blob lies outside the pack")
                 : repo_blob_decode(c->r, z, b->id, data.data + b->offset, b->length,
                                    b->raw_len, out, &plain);
        if (rc < 0) {
            char hex[2 * REPO_ID_LEN + 1];
            rd_hex_encode(b->id, REPO_ID_LEN, hex);
            problem(c, path, "chunk %s is damaged: %s", hex, rd_error());
            repo_idmap_put(&c->bad_chunks, b->id, 1);
        }
    }
    free(out);
    rd_buf_free(&data);
}

static void check_packs(struct check *c, bool read_data)
{
    rd_zstd *z = rd_zstd_new(1);
    for (uint32_t p = 0; p < c->ix->n_packs; p++) {
        char path[80];
        repo_pack_path(c->ix->pack_ids[p], path);
        c->res->packs++;
        uint32_t *slot = repo_idmap_get(&c->present, c->ix->pack_ids[p]);
        if (!slot) {
            problem(c, path, "pack is missing (named by an index)");
            mark_bad_pack(c, p);
            continue;
        }
        repo_pack_desc hdr = { 0 };
        check_pack_header(c, p, path, c->sizes[*slot], &hdr);
        if (repo_idmap_get(&c->bad_packs, c->ix->pack_ids[p])) {
            repo_pack_desc_free(&hdr);
            continue;
        }
        /* The index must agree with the header about every chunk it places here. */
        for (size_t i = 0; i < hdr.n; i++) {
            const repo_chunk_loc *l = repo_index_find(c->ix, hdr.blobs[i].id);
            if (l && l->pack == p && (l->offset != hdr.blobs[i].offset ||
                                      l->length != hdr.blobs[i].length ||
                                      l->raw_len != hdr.blobs[i].raw_len)) {
                problem(c, path, "index and pack header disagree about a chunk");
                mark_bad_pack(c, p);
                break;
            }
        }
        if (read_data && !repo_idmap_get(&c->bad_packs, c->ix->pack_ids[p]))
            check_pack_data(c, p, path, &hdr, z);
        repo_pack_desc_free(&hdr);
    }
    rd_zstd_free(z);
}

/* Returns true when every chunk of the backup is indexed in a sound pack. */
static bool check_manifest_chunks(struct check *c, const repo_manifest *m, const char *path)
{
    for (size_t i = 0; i < m->n_entries; i++) {
        const repo_entry *e = &m->entries[i];
        for (uint32_t k = 0; k < e->n_chunks; k++) {
            const repo_chunk_loc *l = repo_index_find(c->ix, e->chunks[k].id);
            char hex[2 * REPO_ID_LEN + 1];
            rd_hex_encode(e->chunks[k].id, REPO_ID_LEN, hex);
            if (!l) {
                problem(c, path, "file %s needs chunk %s, which no index lists", e->path, hex);
                return false;
            }
            char pack[80];
            repo_pack_path(c->ix->pack_ids[l->pack], pack);
            if (repo_idmap_get(&c->bad_packs, c->ix->pack_ids[l->pack])) {
                problem(c, path, "file %s needs chunk %s in damaged pack %s", e->path, hex, pack);
                return false;
            }
            if (repo_idmap_get(&c->bad_chunks, e->chunks[k].id)) {
                problem(c, path, "file %s needs damaged chunk %s in pack %s", e->path, hex, pack);
                return false;
            }
            if (l->raw_len != e->chunks[k].len) {
                problem(c, path, "file %s: chunk %s has a different length in the index",
                        e->path, hex);
                return false;
            }
        }
    }
    return true;
}

static void damaged_backup(struct check *c, const char *id)
{
    repo_check_result *res = c->res;
    res->damaged = rd_realloc(res->damaged, (res->n_damaged + 1) * sizeof(char *));
    res->damaged[res->n_damaged++] = rd_strdup(id);
}

static int check_manifests(struct check *c)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = repo_snapshot_ids(c->r, &ids, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char *path = rd_asprintf("snapshots/%s", ids[i]);
        repo_manifest *m = NULL;
        c->res->manifests++;
        if (repo_manifest_load_path(c->r, ids[i], &m) < 0) {
            problem(c, path, "manifest is damaged: %s", rd_error());
            damaged_backup(c, ids[i]);
        } else if (!check_manifest_chunks(c, m, path)) {
            damaged_backup(c, ids[i]);
        }
        repo_manifest_free(m);
        free(path);
    }
    repo_strv_free(ids, n);
    return 0;
}

int repo_check(repo *r, const repo_check_options *opts, repo_check_report_fn report,
               void *arg, repo_check_result *result)
{
    memset(result, 0, sizeof *result);
    struct check c = { .r = r, .report = report, .arg = arg, .res = result };
    c.ix = rd_calloc(1, sizeof *c.ix);
    int rc = repo_index_load(r, c.ix, bad_index, &c);
    result->indexes = c.ix->n_files;
    if (rc == 0)
        rc = repo_storage_list(r->st, "data", note_pack, &c);
    if (rc == 0) {
        check_packs(&c, opts && opts->read_data);
        rc = check_manifests(&c);
    }
    if (rc == 0) {
        uint64_t unindexed = 0;
        for (size_t i = 0; i < c.present.cap; i++)
            if (c.present.used[i] && !repo_idmap_get(&c.ix->pack_map, c.present.keys[i]))
                unindexed++;
        if (unindexed)
            RD_INFO("%llu pack(s) are not in any index (left by an interrupted backup); "
                    "'radiant repo prune' removes them", (unsigned long long)unindexed);
    }
    repo_idmap_free(&c.present);
    repo_idmap_free(&c.bad_packs);
    repo_idmap_free(&c.bad_chunks);
    free(c.sizes);
    repo_index_free(c.ix);
    if (rc == 0 && result->n_problems > 0)
        rc = rd_fail(RD_ECORRUPT, "repository %s has %zu problem(s); %zu backup(s) damaged",
                     r->name, result->n_problems, result->n_damaged);
    return rc;
}

void repo_check_result_free(repo_check_result *result)
{
    repo_strv_free(result->damaged, result->n_damaged);
    memset(result, 0, sizeof *result);
}
