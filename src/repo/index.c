/* The in-memory index (chunk id -> pack, offset, length) and the index files
 * it is loaded from. Each backup writes one index file naming the packs it
 * added; prune replaces them all by one. The same chunk may be listed more than
 * once (concurrent backups, an interrupted prune); the first location wins and
 * every listed location is valid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "repo/internal.h"

void repo_index_free(repo_index *ix)
{
    if (!ix)
        return;
    repo_idmap_free(&ix->chunks);
    repo_idmap_free(&ix->pack_map);
    free(ix->locs);
    free(ix->pack_ids);
    repo_strv_free(ix->files, ix->n_files);
    free(ix);
}

void repo_index_add_pack(repo_index *ix, const repo_pack_desc *pack)
{
    uint32_t pack_no = (uint32_t)ix->n_packs;
    if (!repo_idmap_put(&ix->pack_map, pack->id, pack_no)) {
        pack_no = *repo_idmap_get(&ix->pack_map, pack->id);
    } else {
        if (ix->n_packs == ix->cap_packs) {
            ix->cap_packs = ix->cap_packs ? 2 * ix->cap_packs : 64;
            ix->pack_ids = rd_realloc(ix->pack_ids, ix->cap_packs * REPO_ID_LEN);
        }
        memcpy(ix->pack_ids[ix->n_packs++], pack->id, REPO_ID_LEN);
    }
    for (size_t i = 0; i < pack->n; i++) {
        const repo_blob_loc *b = &pack->blobs[i];
        if (!repo_idmap_put(&ix->chunks, b->id, (uint32_t)ix->n_locs))
            continue;
        if (ix->n_locs == ix->cap_locs) {
            ix->cap_locs = ix->cap_locs ? 2 * ix->cap_locs : 1024;
            ix->locs = rd_realloc(ix->locs, ix->cap_locs * sizeof *ix->locs);
        }
        ix->locs[ix->n_locs++] = (repo_chunk_loc){ pack_no, b->offset, b->length, b->raw_len };
    }
}

const repo_chunk_loc *repo_index_find(const repo_index *ix, const uint8_t id[REPO_ID_LEN])
{
    uint32_t *v = repo_idmap_get(&ix->chunks, id);
    return v ? &ix->locs[*v] : NULL;
}

struct name_list {
    char **names;
    size_t n, cap;
};

static int collect_name(void *arg, const char *path, uint64_t size)
{
    (void)size;
    struct name_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->names = rd_realloc(l->names, l->cap * sizeof *l->names);
    }
    l->names[l->n++] = rd_strdup(path);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void repo_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int repo_list_sorted(repo *r, const char *dir, char ***out, size_t *n)
{
    struct name_list l = { 0 };
    int rc = repo_storage_list(r->st, dir, collect_name, &l);
    if (rc < 0) {
        repo_strv_free(l.names, l.n);
        return rc;
    }
    if (l.n)
        qsort(l.names, l.n, sizeof *l.names, cmp_str);
    *out = l.names;
    *n = l.n;
    return 0;
}

int repo_snapshot_ids(repo *r, char ***ids, size_t *n)
{
    return repo_list_sorted(r, "snapshots", ids, n);
}

static int load_index_file(repo *r, repo_index *ix, const char *name)
{
    char *path = rd_asprintf("index/%s", name);
    rd_buf raw = RD_BUF_INIT, body = RD_BUF_INIT;
    repo_pack_desc *packs = NULL;
    size_t n = 0;
    int rc = repo_storage_get(r->st, path, 0, 0, &raw);
    if (rc == 0)
        rc = repo_envelope_open(repo_key_or_null(r), REPO_FILE_INDEX, raw.data, raw.len, &body);
    if (rc == 0)
        rc = repo_packs_decode(body.data, body.len, &packs, &n);
    for (size_t i = 0; i < n; i++) {
        repo_index_add_pack(ix, &packs[i]);
        repo_pack_desc_free(&packs[i]);
    }
    free(packs);
    rd_buf_free(&raw);
    rd_buf_free(&body);
    free(path);
    return rc;
}

int repo_index_load(repo *r, repo_index *ix,
                    void (*bad)(void *arg, const char *file, const char *msg), void *arg)
{
    char **names = NULL;
    size_t n = 0;
    int rc = repo_list_sorted(r, "index", &names, &n);
    if (rc < 0)
        return rc;
    ix->files = rd_calloc(n, sizeof *ix->files);
    for (size_t i = 0; i < n; i++) {
        int frc = load_index_file(r, ix, names[i]);
        char *path = rd_asprintf("index/%s", names[i]);
        if (frc < 0 && !bad) {
            rc = rd_fail_wrap(frc, "index %s", path);
            free(path);
            break;
        }
        if (frc < 0)
            bad(arg, path, rd_error());
        ix->files[ix->n_files++] = path;
    }
    repo_strv_free(names, n);
    return rc;
}

static void warn_bad_index(void *arg, const char *file, const char *msg)
{
    repo *r = arg;
    RD_WARN("index %s of repository %s is damaged and was skipped (%s); the backups that "
            "need it are reported by 'radiant repo check', and 'radiant repo repair' rebuilds "
            "it from the packs", file, r->name, msg);
}

/* Readers and backups get along without a damaged index: the backups that do
 * not need it stay restorable, and new backups store again what it listed. */
int repo_index_ensure(repo *r)
{
    if (r->index)
        return 0;
    repo_index *ix = rd_calloc(1, sizeof *ix);
    int rc = repo_index_load(r, ix, warn_bad_index, r);
    if (rc < 0) {
        repo_index_free(ix);
        return rc;
    }
    r->index = ix;
    return 0;
}

int repo_index_write(repo *r, const repo_pack_desc *packs, size_t n, char **path_out)
{
    rd_buf body = RD_BUF_INIT, sealed = RD_BUF_INIT;
    repo_packs_encode(packs, n, &body);
    int rc = repo_envelope_seal(repo_key_or_null(r), REPO_FILE_INDEX, body.data, body.len,
                                &sealed);
    uint8_t rnd[16];
    char hex[33];
    if (rc == 0)
        rc = rd_random_bytes(rnd, sizeof rnd);
    char *path = NULL;
    if (rc == 0) {
        rd_hex_encode(rnd, sizeof rnd, hex);
        path = rd_asprintf("index/%s", hex);
        rc = repo_storage_put(r->st, path, sealed.data, sealed.len);
    }
    rd_buf_free(&body);
    rd_buf_free(&sealed);
    if (rc == 0 && path_out)
        *path_out = path;
    else
        free(path);
    return rc;
}
