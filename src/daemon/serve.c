/* The serve loop: a pass over the clusters, then a wait that SIGTERM or
 * SIGINT ends. The signals are blocked and taken with sigtimedwait(), so
 * there is no handler and no global flag, and a pass is never cut short:
 *
 *   start --> sync receivers --> pass, when due --> wait(1 s) --timeout--+
 *                 ^                                     |                 |
 *                 +-------------------------------------)-----------------+
 *                                                SIGTERM/SIGINT --> stop receivers,
 *                                                                   return 0
 *
 * Receivers (WAL streaming, src/pg/stream.c) are threads that follow the
 * catalog: one per available cluster, started and stopped within a second of
 * a change of status. The object store's S3 server (src/objstore) runs its
 * own threads from start to stop; the signals are blocked before it starts
 * so that they inherit the mask and only this loop takes SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/catalog.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "pg/pg.h"

static void backup_cluster(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                           const pgc_snapshot *list, size_t n, int64_t now,
                           daemon_pass_report *report)
{
    bool due = false;
    if (pgc_backup_due(c, list, n, now, &due) < 0) {
        RD_WARN("DB cluster %s: cannot tell whether a backup is due: %s", c->id, rd_error());
        return;
    }
    if (!due)
        return;
    char name[128], stamp[32];
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d-%H-%M", &tm);
    snprintf(name, sizeof name, "rds:%s-%s", c->id, stamp);
    if (pgc_snapshot_create(cfg, cat, c, name, "automated", NULL) < 0) {
        RD_ERROR("automated backup of DB cluster %s failed: %s", c->id, rd_error());
        report->backups_failed++;
        return;
    }
    RD_INFO("automated backup %s of DB cluster %s taken", name, c->id);
    report->backups_taken++;
}

/* The object store's lifecycle (noncurrent versions, expired delete markers,
 * abandoned uploads), as of the same clock the backups use. */
static void sweep_objstore(const rd_config *cfg, os3_server *srv, int64_t now,
                           daemon_pass_report *report)
{
    if (!srv && !rd_config_find(cfg, "objectstore", NULL) && rd_config_count(cfg, "bucket") == 0)
        return;
    int rc = srv ? os3_server_sweep(srv, now, &report->sweep)
                 : os3_sweep_once(cfg, now, &report->sweep);
    if (rc < 0) {
        RD_ERROR("object store lifecycle sweep failed: %s", rd_error());
        return;
    }
    report->objstore = true;
    const os3_sweep_report *s = &report->sweep;
    if (s->current_expired || s->noncurrent_removed || s->markers_removed || s->uploads_aborted)
        RD_INFO("object store lifecycle: %u current version(s) expired, %u noncurrent "
                "version(s) and %u delete marker(s) removed, %u upload(s) aborted",
                s->current_expired, s->noncurrent_removed, s->markers_removed,
                s->uploads_aborted);
}

int daemon_pass(const rd_config *cfg, os3_server *objstore, daemon_pass_report *report)
{
    memset(report, 0, sizeof *report);
    rd_catalog *cat = NULL;
    pgc_cluster **list = NULL;
    size_t n = 0;
    int rc = pgc_catalog_open(cfg, &cat);
    if (rc == 0)
        rc = pgc_cluster_list(cat, &list, &n);
    int64_t now = rd_clock_now();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const pgc_cluster *c = list[i];
        if (strcmp(c->status, "available") != 0)
            continue;
        report->clusters++;
        /* One listing serves both: a backup taken now is newer than the window
         * start, so retention decides the same without it. */
        pgc_snapshot *snaps = NULL;
        size_t n_snaps = 0;
        if (pgc_snapshot_list(cfg, cat, c->id, NULL, &snaps, &n_snaps) < 0) {
            RD_ERROR("cannot list the backups of DB cluster %s: %s", c->id, rd_error());
            pgc_event(cat, c->id, "failure", "cannot list backups: %s", rd_error());
            continue;
        }
        backup_cluster(cfg, cat, c, snaps, n_snaps, now, report);
        pgc_retention_stats rs;
        int rrc = pgc_retention_apply(cfg, cat, c, snaps, n_snaps, now, &rs);
        pgc_snapshot_list_free(snaps, n_snaps);
        if (rrc < 0) {
            RD_ERROR("retention of DB cluster %s failed: %s", c->id, rd_error());
            pgc_event(cat, c->id, "failure", "retention failed: %s", rd_error());
            continue;
        }
        report->backups_expired += rs.backups_expired;
        report->wal_expired += rs.wal_expired;
    }
    pgc_cluster_list_free(list, n);
    rd_catalog_close(cat);
    sweep_objstore(cfg, objstore, now, report);
    return rc;
}

/* The WAL receivers, one per available cluster (src/pg/stream.c). */
struct receivers {
    pgc_stream **list;
    size_t n;
};

static bool cluster_available(pgc_cluster **list, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->id, id) == 0)
            return strcmp(list[i]->status, "available") == 0;
    return false;
}

/* Stops the receivers of clusters that are no longer available (stopped,
 * deleted) and starts one for each available cluster that has none. */
static void receivers_sync(const rd_config *cfg, rd_catalog *cat, struct receivers *r)
{
    pgc_cluster **list = NULL;
    size_t n = 0;
    if (pgc_cluster_list(cat, &list, &n) < 0) {
        RD_ERROR("cannot list the DB clusters: %s", rd_error());
        return;
    }
    for (size_t i = 0; i < r->n;) {
        if (cluster_available(list, n, pgc_stream_cluster(r->list[i]))) {
            i++;
            continue;
        }
        RD_INFO("DB cluster %s is not available: WAL streaming stopped",
                pgc_stream_cluster(r->list[i]));
        pgc_stream_stop(r->list[i]);
        r->list[i] = r->list[--r->n];
    }
    for (size_t i = 0; i < n; i++) {
        bool running = false;
        for (size_t j = 0; j < r->n && !running; j++)
            running = strcmp(pgc_stream_cluster(r->list[j]), list[i]->id) == 0;
        if (running || strcmp(list[i]->status, "available") != 0)
            continue;
        pgc_stream *s = NULL;
        if (pgc_stream_start(cfg, list[i], &s) < 0) {
            RD_ERROR("cannot start WAL streaming of DB cluster %s: %s", list[i]->id, rd_error());
            continue;
        }
        r->list = rd_realloc(r->list, (r->n + 1) * sizeof *r->list);
        r->list[r->n++] = s;
    }
    pgc_cluster_list_free(list, n);
}

static void receivers_stop(struct receivers *r)
{
    for (size_t i = 0; i < r->n; i++)
        pgc_stream_stop(r->list[i]);
    free(r->list);
    r->list = NULL;
    r->n = 0;
}

int daemon_serve(const rd_config *cfg, int interval_s)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (sigprocmask(SIG_BLOCK, &stop, NULL) != 0)
        return rd_fail_errno(RD_EINTERNAL, "cannot block SIGTERM and SIGINT");
    rd_catalog *cat = NULL;
    int rc = pgc_catalog_open(cfg, &cat);
    if (rc < 0)
        return rc;
    os3_server *objstore = NULL;
    if (rd_config_find(cfg, "objectstore", NULL) && (rc = os3_server_start(cfg, &objstore)) < 0) {
        rd_catalog_close(cat);
        return rc;
    }
    RD_INFO("radiant serve: a pass every %d s, WAL streaming of every available DB cluster; "
            "SIGTERM or SIGINT stops it", interval_s);
    struct receivers receivers = { NULL, 0 };
    int64_t next_pass = rd_mono_ns();
    for (;;) {
        receivers_sync(cfg, cat, &receivers);
        if (rd_mono_ns() >= next_pass) {
            daemon_pass_report report;
            if (daemon_pass(cfg, objstore, &report) < 0)
                RD_ERROR("serve pass failed: %s", rd_error());
            next_pass = rd_mono_ns() + (int64_t)interval_s * 1000000000;
        }
        /* Receivers follow clusters within a second of a change. */
        struct timespec wait = { 1, 0 };
        int sig = sigtimedwait(&stop, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            RD_INFO("radiant serve: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            rc = rd_fail_errno(RD_EINTERNAL, "waiting for the next pass failed");
            break;
        }
    }
    receivers_stop(&receivers);
    os3_server_stop(objstore);
    rd_catalog_close(cat);
    return rc;
}
