/* The backup schedule and retention of a cluster (dr-guide "Automated
 * Backups": retention 35 days, preferred window 03:00-04:00 UTC), applied by
 * `radiant serve`.
 *
 * Retention never creates a gap. Let W = now - retention period. The anchor
 * is the newest backup (automated or manual) whose consistent point is at or
 * before W: restoring to W needs it and the WAL after its start. Automated
 * backups older than the anchor go; manual snapshots stay until deleted, with
 * the WAL from their start to their consistent point, which they need to be
 * restorable themselves. Every other WAL segment before the anchor's start
 * goes. Without an anchor (the cluster is younger than its retention period)
 * nothing expires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "pg/pg.h"
#include "repo/repo.h"

/* ------------------------------------------------------------ schedule -- */

int pgc_backup_due(const pgc_cluster *c, const pgc_snapshot *list, size_t n, int64_t now,
                   bool *due)
{
    *due = false;
    int start = 0, end = 0;
    if (rd_window_parse(c->preferred_backup_window, &start, &end) != 0)
        return rd_fail(RD_ECONFIG, "preferred backup window '%s' of DB cluster %s is not "
                       "HH:MM-HH:MM", c->preferred_backup_window ? c->preferred_backup_window
                                                                 : "", c->id);
    int64_t day = now - now % 86400, minute = (now % 86400) / 60;
    bool inside = start < end ? minute >= start && minute < end
                              : minute >= start || minute < end;   /* wraps midnight */
    if (!inside)
        return 0;
    /* the start of this occurrence of the window */
    int64_t opened = day + (int64_t)start * 60;
    if (opened > now)
        opened -= 86400;
    bool taken = false;
    for (size_t i = 0; i < n; i++)
        taken = taken || (strcmp(list[i].kind, "automated") == 0 && list[i].start_time >= opened);
    *due = !taken;
    return 0;
}

/* ----------------------------------------------------------- retention -- */

/* Segment number of an LSN "X/Y" with 16 MiB segments. */
static uint64_t lsn_segno(const char *lsn)
{
    unsigned long long hi = 0, lo = 0;
    if (!lsn || sscanf(lsn, "%llx/%llx", &hi, &lo) != 2)
        return 0;
    return ((hi << 32) | lo) / PGC_WAL_SEGMENT_SIZE;
}

struct wal_ranges {
    uint64_t keep_from;              /* every segment from here on stays */
    uint64_t (*ranges)[2];           /* [start, stop] segments of older kept backups */
    size_t n;
};

static bool wal_needed(const struct wal_ranges *w, uint64_t segno)
{
    if (segno >= w->keep_from)
        return true;
    for (size_t i = 0; i < w->n; i++)
        if (segno >= w->ranges[i][0] && segno <= w->ranges[i][1])
            return true;
    return false;
}

struct wal_sweep {
    repo *r;
    const struct wal_ranges *keep;
    char **doomed;
    size_t n;
};

static int collect_doomed(void *arg, const char *name, uint64_t size)
{
    (void)size;
    struct wal_sweep *s = arg;
    const char *file = strrchr(name, '/');
    file = file ? file + 1 : name;
    uint32_t tli;
    uint64_t segno;
    /* Segments, .partial and .backup files carry a segment number; history
     * files are tiny and every later timeline needs them: they stay. */
    if (strlen(file) < PGC_WAL_SEGMENT_NAME_LEN || strstr(file, ".history"))
        return 0;
    char seg[PGC_WAL_SEGMENT_NAME_LEN + 1];
    memcpy(seg, file, PGC_WAL_SEGMENT_NAME_LEN);
    seg[PGC_WAL_SEGMENT_NAME_LEN] = '\0';
    if (pgc_wal_segment_parse(seg, &tli, &segno) < 0 || wal_needed(s->keep, segno))
        return 0;
    s->doomed = rd_realloc(s->doomed, (s->n + 1) * sizeof *s->doomed);
    s->doomed[s->n++] = rd_strdup(name);
    return 0;
}

/* Retention in one repository, whose backups of the cluster are list[0..n). */
static int apply_in_repo(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                         const char *repo_name, pgc_snapshot *list, size_t n, int64_t w_start,
                         pgc_retention_stats *stats)
{
    ssize_t anchor = -1;
    for (size_t i = 0; i < n; i++)
        if (list[i].stop_time <= w_start)
            anchor = (ssize_t)i;            /* list is oldest first */
    if (anchor < 0)
        return 0;
    repo *r = NULL;
    int rc = repo_open(cfg, repo_name, &r);
    if (rc == 0)
        rc = repo_lock(r, false);
    struct wal_ranges keep = { .keep_from = lsn_segno(list[anchor].start_lsn) };
    size_t expired = 0;
    for (size_t i = 0; rc == 0 && i < (size_t)anchor; i++) {
        if (strcmp(list[i].kind, "automated") != 0) {
            keep.ranges = rd_realloc(keep.ranges, (keep.n + 1) * sizeof *keep.ranges);
            keep.ranges[keep.n][0] = lsn_segno(list[i].start_lsn);
            keep.ranges[keep.n++][1] = lsn_segno(list[i].stop_lsn);
            continue;
        }
        rc = repo_forget(r, list[i].backup_id);
        if (rc == 0) {
            expired++;
            stats->backups_expired++;
            char when[32];
            rd_time_format(list[i].stop_time, when, sizeof when);
            pgc_event(cat, c->id, "backup", "automated backup %s (consistent at %s) expired "
                      "from repository %s: older than the %d-day retention period",
                      list[i].snapshot_id, when, repo_name, c->backup_retention_period);
        }
    }
    char *dir = rd_asprintf("wal/%s", c->id);
    struct wal_sweep sweep = { .r = r, .keep = &keep };
    if (rc == 0)
        rc = repo_object_list(r, dir, collect_doomed, &sweep);
    for (size_t i = 0; rc == 0 && i < sweep.n; i++)
        rc = repo_object_remove(r, sweep.doomed[i]);
    if (rc == 0 && sweep.n) {
        stats->wal_expired += sweep.n;
        pgc_event(cat, c->id, "backup", "%zu WAL file(s) no kept backup needs removed from "
                  "repository %s", sweep.n, repo_name);
    }
    for (size_t i = 0; i < sweep.n; i++)
        free(sweep.doomed[i]);
    free(sweep.doomed);
    free(dir);
    free(keep.ranges);
    /* Free the space now when nothing else holds the repository; else the
     * next pass does. */
    if (rc == 0 && expired) {
        repo_unlock(r);
        repo_prune_stats ps;
        if (repo_lock(r, true) == 0 && repo_prune(r, &ps) < 0)
            RD_WARN("prune of repository %s after retention failed: %s", repo_name, rd_error());
    }
    repo_close(r);
    return rc;
}

int pgc_retention_apply(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                        const pgc_snapshot *list, size_t n, int64_t now,
                        pgc_retention_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    int rc = 0;
    int64_t w_start = now - (int64_t)c->backup_retention_period * 86400;
    for (size_t r = 0; rc == 0 && r < c->n_repos; r++) {
        /* this repository's backups, still oldest first */
        pgc_snapshot *mine = rd_calloc(n ? n : 1, sizeof *mine);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(list[i].repo, c->repos[r]) == 0)
                mine[m++] = list[i];
        rc = apply_in_repo(cfg, cat, c, c->repos[r], mine, m, w_start, stats);
        free(mine);   /* the entries belong to list */
    }
    return rc;
}
