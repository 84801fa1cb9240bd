/* Prune: remove what no backup references, and statistics over the whole
 * repository.
 *
 * Prune runs under the exclusive lock and refuses to touch anything when an
 * index or manifest cannot be read (it could not know what is still needed).
 * It deletes packs with no live chunk, repacks packs whose live part is small
 * (under REPACK_LIVE of their bytes), and deletes packs no index names (left
 * by interrupted backups) and the temporary files of interrupted writes. Order, so that a crash at any step leaves a
 * repository where every indexed chunk is readable:
 *   1. write the repacked chunks into new packs
 *   2. write one new index naming every kept and new pack
 *   3. delete the old index files
 *   4. delete the packs that are no longer needed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compress.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/internal.h"

#define REPACK_LIVE 0.5

struct stored_pack {
    uint8_t id[REPO_ID_LEN];
    uint64_t size;
};

struct pack_list {
    struct stored_pack *v;
    size_t n, cap;
};

static int collect_pack(void *arg, const char *path, uint64_t size)
{
    struct pack_list *l = arg;
    uint8_t id[REPO_ID_LEN];
    if (repo_pack_id_from_path(path, id) < 0)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = rd_realloc(l->v, l->cap * sizeof *l->v);
    }
    memcpy(l->v[l->n].id, id, REPO_ID_LEN);
    l->v[l->n++].size = size;
    return 0;
}

/* Marks every chunk used by any backup. Fails if a manifest is unreadable. */
static int used_chunks(repo *r, repo_idmap *used, uint64_t *logical, uint64_t *backups)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = repo_snapshot_ids(r, &ids, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        repo_manifest *m = NULL;
        rc = repo_manifest_load_path(r, ids[i], &m);
        if (rc < 0)
            break;
        for (size_t e = 0; e < m->n_entries; e++)
            for (uint32_t k = 0; k < m->entries[e].n_chunks; k++)
                repo_idmap_put(used, m->entries[e].chunks[k].id, 1);
        if (logical)
            *logical += m->info.stats.logical_bytes;
        repo_manifest_free(m);
    }
    if (backups)
        *backups = n;
    repo_strv_free(ids, n);
    return rc;
}

/* Per indexed pack: bytes of live blobs, all blobs, and whether stored. */
struct pack_use {
    uint64_t live, total;
    size_t n_live;
    bool present;
    uint64_t size;
};

static int repack(repo *r, const repo_idmap *used, const bool *selected, repo_pack_desc **out,
                  size_t *n_out)
{
    repo_index *ix = r->index;
    repo_pack_builder pb = { 0 };
    repo_pack_desc *written = NULL;
    size_t n_written = 0;
    rd_buf blob = RD_BUF_INIT;
    rd_zstd *z = rd_zstd_new(1);
    uint8_t *raw = rd_malloc(r->chunk_max);
    repo_idmap copied = { 0 };
    int rc = 0;
    for (size_t i = 0; i < ix->chunks.cap && rc == 0; i++) {
        if (!ix->chunks.used[i])
            continue;
        const uint8_t *id = ix->chunks.keys[i];
        const repo_chunk_loc *l = &ix->locs[ix->chunks.values[i]];
        if (!selected[l->pack] || !repo_idmap_get(used, id) || !repo_idmap_put(&copied, id, 1))
            continue;
        char path[80];
        repo_pack_path(ix->pack_ids[l->pack], path);
        rc = repo_storage_get(r->st, path, l->offset, l->length, &blob);
        if (rc == 0 && l->raw_len > r->chunk_max)
            rc = rd_fail(RD_ECORRUPT, "chunk in %s is larger than the repository allows", path);
        /* The sealed blob is copied as it is, then verified (decoding works in
         * place): prune must never spread damage. */
        const uint8_t *plain;
        if (rc == 0) {
            repo_pack_builder_add(&pb, id, blob.data, blob.len, l->raw_len);
            rc = repo_blob_decode(r, z, id, blob.data, blob.len, l->raw_len, raw, &plain);
        }
        if (rc < 0) {
            rd_fail_wrap(rc, "repacking %s (run 'radiant repo check --read-data')", path);
            break;
        }
        if (pb.data.len >= REPO_PACK_TARGET) {
            written = rd_realloc(written, (n_written + 1) * sizeof *written);
            rc = repo_pack_builder_finish(r, &pb, &written[n_written]);
            if (rc == 0)
                n_written++;
        }
    }
    if (rc == 0 && pb.desc.n > 0) {
        written = rd_realloc(written, (n_written + 1) * sizeof *written);
        rc = repo_pack_builder_finish(r, &pb, &written[n_written]);
        if (rc == 0)
            n_written++;
    }
    repo_pack_builder_free(&pb);
    repo_idmap_free(&copied);
    free(raw);
    rd_zstd_free(z);
    rd_buf_free(&blob);
    if (rc < 0) {
        for (size_t i = 0; i < n_written; i++)
            repo_pack_desc_free(&written[i]);
        free(written);
        return rc;
    }
    *out = written;
    *n_out = n_written;
    return 0;
}

/* Rebuilds the full description (all blobs) of indexed pack p. */
static void describe_pack(const repo_index *ix, uint32_t p, repo_pack_desc *d)
{
    memcpy(d->id, ix->pack_ids[p], REPO_ID_LEN);
    d->n = 0;
    d->blobs = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < ix->chunks.cap; i++) {
        if (!ix->chunks.used[i])
            continue;
        const repo_chunk_loc *l = &ix->locs[ix->chunks.values[i]];
        if (l->pack != p)
            continue;
        if (d->n == cap) {
            cap = cap ? 2 * cap : 64;
            d->blobs = rd_realloc(d->blobs, cap * sizeof *d->blobs);
        }
        repo_blob_loc *b = &d->blobs[d->n++];
        memcpy(b->id, ix->chunks.keys[i], REPO_ID_LEN);
        b->offset = l->offset;
        b->length = l->length;
        b->raw_len = l->raw_len;
    }
}

static int cmp_blob_offset(const void *a, const void *b)
{
    const repo_blob_loc *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int repo_prune(repo *r, repo_prune_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!r->lock_path || !r->lock_exclusive)
        return rd_fail(RD_EINTERNAL, "prune needs the exclusive lock");
    /* Reload: the index must reflect every index file; a damaged one stops
     * prune, which could not know what that index still protects. */
    repo_index_free(r->index);
    r->index = rd_calloc(1, sizeof *r->index);
    int rc = repo_index_load(r, r->index, NULL, NULL);
    if (rc < 0) {
        repo_index_free(r->index);
        r->index = NULL;
        return rd_fail_wrap(rc, "prune refuses to run while an index is unreadable (run "
                            "'radiant repo repair')");
    }
    repo_idmap used = { 0 };
    rc = used_chunks(r, &used, NULL, NULL);
    if (rc < 0) {
        repo_idmap_free(&used);
        return rd_fail_wrap(rc, "prune refuses to run while a manifest is unreadable");
    }
    struct pack_list stored = { 0 };
    rc = repo_storage_list(r->st, "data", collect_pack, &stored);

    repo_index *ix = r->index;
    struct pack_use *use = rd_calloc(ix->n_packs ? ix->n_packs : 1, sizeof *use);
    for (size_t i = 0; i < ix->chunks.cap; i++) {
        if (!ix->chunks.used[i])
            continue;
        const repo_chunk_loc *l = &ix->locs[ix->chunks.values[i]];
        use[l->pack].total += l->length;
        if (repo_idmap_get(&used, ix->chunks.keys[i])) {
            use[l->pack].live += l->length;
            use[l->pack].n_live++;
        } else {
            stats->chunks_removed++;
        }
    }
    for (size_t i = 0; i < stored.n; i++) {
        uint32_t *p = repo_idmap_get(&ix->pack_map, stored.v[i].id);
        if (p) {
            use[*p].present = true;
            use[*p].size = stored.v[i].size;
        }
    }
    for (uint32_t p = 0; p < ix->n_packs && rc == 0; p++) {
        if (!use[p].present && use[p].n_live) {
            char path[80];
            repo_pack_path(ix->pack_ids[p], path);
            rc = rd_fail(RD_ECORRUPT, "pack %s is missing but backups need it; prune refuses to "
                         "run (see 'radiant repo check')", path);
        }
    }
    /* Decide: keep, repack (mostly dead), delete (all dead). */
    bool *repack_it = rd_calloc(ix->n_packs ? ix->n_packs : 1, sizeof *repack_it);
    for (uint32_t p = 0; p < ix->n_packs; p++) {
        if (!use[p].present || use[p].n_live == 0)
            continue;
        if ((double)use[p].live < REPACK_LIVE * (double)use[p].total) {
            repack_it[p] = true;
            stats->packs_repacked++;
        }
    }
    repo_pack_desc *fresh = NULL;
    size_t n_fresh = 0;
    if (rc == 0 && stats->packs_repacked)
        rc = repack(r, &used, repack_it, &fresh, &n_fresh);

    /* 2. one index for everything that stays */
    repo_pack_desc *keep = NULL;
    size_t n_keep = 0;
    char *new_index = NULL;
    if (rc == 0) {
        keep = rd_calloc(ix->n_packs + n_fresh + 1, sizeof *keep);
        for (uint32_t p = 0; p < ix->n_packs; p++) {
            if (!use[p].present || use[p].n_live == 0 || repack_it[p])
                continue;
            describe_pack(ix, p, &keep[n_keep]);
            qsort(keep[n_keep].blobs, keep[n_keep].n, sizeof *keep[n_keep].blobs,
                  cmp_blob_offset);
            n_keep++;
        }
        stats->packs_kept = n_keep;
        for (size_t i = 0; i < n_fresh; i++)
            keep[n_keep++] = fresh[i];
        free(fresh);
        fresh = NULL;
        rc = repo_index_write(r, keep, n_keep, &new_index);
    }
    /* 3. old index files */
    for (size_t i = 0; rc == 0 && i < ix->n_files; i++)
        rc = repo_storage_remove(r->st, ix->files[i]);
    /* 4. packs no index names any more */
    repo_idmap kept_ids = { 0 };
    for (size_t i = 0; i < n_keep; i++)
        repo_idmap_put(&kept_ids, keep[i].id, 1);
    for (size_t i = 0; rc == 0 && i < stored.n; i++) {
        if (repo_idmap_get(&kept_ids, stored.v[i].id))
            continue;
        char path[80];
        repo_pack_path(stored.v[i].id, path);
        rc = repo_storage_remove(r->st, path);
        if (rc == 0) {
            stats->packs_deleted++;
            stats->bytes_freed += stored.v[i].size;
        }
    }
    repo_idmap_free(&kept_ids);
    if (rc == 0)
        rc = repo_storage_clean(r->st);
    for (size_t i = 0; i < n_keep; i++)
        repo_pack_desc_free(&keep[i]);
    free(keep);
    free(new_index);
    free(repack_it);
    free(use);
    free(stored.v);
    repo_idmap_free(&used);
    /* The in-memory index no longer matches storage: reload on next use. */
    repo_index_free(r->index);
    r->index = NULL;
    return rc;
}

int repo_get_stats(repo *r, repo_stats *out)
{
    memset(out, 0, sizeof *out);
    int rc = repo_index_ensure(r);
    if (rc < 0)
        return rc;
    repo_idmap used = { 0 };
    rc = used_chunks(r, &used, &out->logical_bytes, &out->backups);
    repo_idmap_free(&used);
    if (rc < 0)
        return rc;
    const repo_index *ix = r->index;
    for (size_t i = 0; i < ix->n_locs; i++)
        out->unique_raw_bytes += ix->locs[i].raw_len;
    out->chunks = ix->n_locs;
    struct pack_list stored = { 0 };
    rc = repo_storage_list(r->st, "data", collect_pack, &stored);
    for (size_t i = 0; i < stored.n; i++)
        out->stored_bytes += stored.v[i].size;
    out->packs = stored.n;
    free(stored.v);
    return rc;
}
