/* Repair: rebuilds what an index file said from the packs themselves. Every
 * pack carries its own header (pack.c), so when an index file is damaged or
 * lost, the packs no sound index names are read back, their headers checked,
 * and one new index file written for them; only then are the damaged index
 * files removed. A crash at any point leaves the repository no worse. Runs
 * under the exclusive lock: a running backup's packs are unindexed too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "repo/internal.h"

struct repair {
    repo *r;
    char **bad_files;
    size_t n_bad;
    repo_pack_desc *rescued;
    size_t n_rescued;
    repo_repair_stats *stats;
};

static void note_bad_index(void *arg, const char *file, const char *msg)
{
    struct repair *rp = arg;
    RD_WARN("index %s is damaged: %s", file, msg);
    rp->bad_files = rd_realloc(rp->bad_files, (rp->n_bad + 1) * sizeof *rp->bad_files);
    rp->bad_files[rp->n_bad++] = rd_strdup(file);
}

static int rescue_pack(void *arg, const char *path, uint64_t size)
{
    struct repair *rp = arg;
    uint8_t id[REPO_ID_LEN];
    if (repo_pack_id_from_path(path, id) < 0 || repo_idmap_get(&rp->r->index->pack_map, id))
        return 0;
    char full[80];
    repo_pack_path(id, full);
    repo_pack_desc desc = { 0 };
    if (repo_pack_read_header(rp->r, full, size, &desc) < 0) {
        RD_WARN("cannot re-index %s: %s", full, rd_error());
        rp->stats->packs_unreadable++;
        return 0;
    }
    memcpy(desc.id, id, REPO_ID_LEN);
    rp->rescued = rd_realloc(rp->rescued, (rp->n_rescued + 1) * sizeof *rp->rescued);
    rp->rescued[rp->n_rescued++] = desc;
    rp->stats->packs_reindexed++;
    return 0;
}

int repo_repair(repo *r, repo_repair_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!r->lock_path || !r->lock_exclusive)
        return rd_fail(RD_EINTERNAL, "repair needs the exclusive lock");
    struct repair rp = { .r = r, .stats = stats };
    repo_index_free(r->index);
    r->index = rd_calloc(1, sizeof *r->index);
    int rc = repo_index_load(r, r->index, note_bad_index, &rp);
    if (rc == 0)
        rc = repo_storage_list(r->st, "data", rescue_pack, &rp);
    if (rc == 0 && rp.n_rescued)
        rc = repo_index_write(r, rp.rescued, rp.n_rescued, NULL);
    for (size_t i = 0; rc == 0 && i < rp.n_bad; i++) {
        rc = repo_storage_remove(r->st, rp.bad_files[i]);
        if (rc == 0)
            stats->indexes_removed++;
    }
    for (size_t i = 0; i < rp.n_rescued; i++)
        repo_pack_desc_free(&rp.rescued[i]);
    free(rp.rescued);
    repo_strv_free(rp.bad_files, rp.n_bad);
    repo_index_free(r->index);
    r->index = NULL;
    return rc;
}
