/* Point-in-time restore into a new cluster (dr-guide Scenario 2: "Restore to
 * point before corruption"; aws rds restore-db-cluster-to-point-in-time).
 *
 *   choose backup --> restore files --> recovery settings --> start -->
 *   replay archived WAL to the target --> promote --> accepts writes --> register
 *
 * The backup is the newest whose consistent point (pg.stop_time) is not after
 * the target. WAL comes back through `radiant wal fetch` of the SOURCE cluster
 * (restore_command), while the new cluster archives its own WAL under its own
 * name from the moment it is promoted, on a new timeline. Everything needed
 * is in the repositories: the source cluster may be gone.
 *
 * A target time after the last commit in the archive cannot be "reached"
 * (PostgreSQL stops at the first commit after the target and fails when there
 * is none: "recovery ended before configured recovery target was reached").
 * Then every commit up to the target is in the archive already, so the
 * restore is redone to the end of the archived WAL, which is the same state.
 *
 * Replay tuned for speed, made durable before "available"
 * -------------------------------------------------------
 * The recovery run has settings of its own (RECOVERY_SPEED below): fsync =
 * off and synchronous_commit = off, so that neither restartpoints nor the
 * end-of-recovery checkpoint wait for the disk, with full_page_writes left
 * as it is (the WAL must stay usable for the new cluster's own recovery and
 * backups). A crash of the machine during that run can leave anything in the
 * data directory; that is acceptable only because the cluster is not
 * available yet: its catalog status stays "restoring" (the server is started
 * and stopped here without pgc_start's status changes), and a restore that
 * does not finish is one to run again.
 *
 * PostgreSQL's documentation of fsync: "For reliable recovery when changing
 * fsync off to on, it is necessary to force all modified buffers in the
 * kernel to durable storage. This can be done while the cluster is shutdown
 * or while fsync is on by running initdb --sync-only, running sync,
 * unmounting the file system, or rebooting the server." A CHECKPOINT after
 * turning fsync back on is not enough: the sync requests of files written
 * while fsync was off were dropped by the checkpoints that ran meanwhile
 * (sync.c skips them while !enableFsync), so those files would never be
 * fsynced. And a reload is asynchronous: there is no way to know when every
 * process of a running server has fsync on again. So once promoted:
 *
 *   1. postgresql.auto.conf gets its own settings back (the source's values,
 *      or none), written atomically and fsynced;
 *   2. the server stops (pg_ctl stop -m fast: a shutdown checkpoint; nothing
 *      writes afterwards);
 *   3. syncfs() of the file system of the data directory, of pg_wal and of
 *      each tablespace (what PostgreSQL's SyncDataDirectory does with
 *      recovery_init_sync_method = syncfs): every page replay, the
 *      checkpoints and pg_control wrote with fsync off is on disk now;
 *   4. the server starts with its normal settings (fsync on), answers a
 *      write, and only then is the cluster recorded "available".
 *
 * A crash before 4 leaves "restoring"; after it, the cluster is durable and
 * runs as any other. Stopping and starting costs about a second; the syncfs
 * writes what the end-of-recovery checkpoint would have had to fsync anyway. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "pg/pg.h"
#include "repo/repo.h"

#define PROMOTE_TIMEOUT_S 3600

/* Settings of the recovery run only (see the top of the file); the cluster
 * gets the backup's own values back before it is declared available.
 * maintenance_io_concurrency is how far ahead recovery_prefetch reads
 * blocks that replay will need. */
static const char *const RECOVERY_SPEED[][2] = {
    { "fsync", "off" },
    { "synchronous_commit", "off" },
    { "recovery_prefetch", "on" },
    { "maintenance_io_concurrency", "64" },
    { "wal_decode_buffer_size", "4MB" },
};
#define N_RECOVERY_SPEED (sizeof RECOVERY_SPEED / sizeof RECOVERY_SPEED[0])

static void format_pg_time(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/* The new cluster archives into every repository of its source, as the
 * source did. One that cannot be read (lost with a region, say) stops its
 * archiving until it is back or left out: say so, with the command. */
static void warn_unreadable_repos(const rd_config *cfg, const pgc_cluster *c)
{
    char **readable = rd_calloc(c->n_repos ? c->n_repos : 1, sizeof *readable);
    size_t n = 0;
    for (size_t i = 0; i < c->n_repos; i++) {
        repo *r = NULL;
        if (repo_open(cfg, c->repos[i], &r) == 0)
            readable[n++] = c->repos[i];
        repo_close(r);
    }
    if (n > 0 && n < c->n_repos) {
        char *list = pgc_repos_join(readable, n);
        RD_WARN("DB cluster %s archives into every repository of its source, and %zu of them "
                "cannot be read: its WAL archiving waits until they are back, or until "
                "'radiant db modify-db-cluster --db-cluster-identifier %s --repos %s' leaves "
                "them out", c->id, c->n_repos - n, c->id, list);
        free(list);
    }
    free(readable);
}

/* Picks the snapshot to restore and the recovery target. */
static int choose_backup(const rd_config *cfg, rd_catalog *cat, const pgc_restore_options *o,
                         pgc_snapshot *chosen, const char **target_name, char *target_value,
                         size_t len)
{
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = pgc_snapshot_list(cfg, cat, o->snapshot_id ? NULL : o->source, o->snapshot_id,
                               &list, &n);
    if (rc < 0)
        return rc;
    ssize_t pick = -1;
    if (o->snapshot_id) {
        if (n == 0)
            rc = rd_fail(RD_ENOENT, "DB cluster snapshot %s not found", o->snapshot_id);
        pick = 0;
        *target_name = "recovery_target";
        snprintf(target_value, len, "immediate");
    } else {
        int64_t earliest = 0, latest = 0;
        rc = pgc_restorable_window_of(cat, o->source, list, n, &earliest, &latest);
        char e[32], l[32], t[32];
        rd_time_format(earliest, e, sizeof e);
        rd_time_format(latest, l, sizeof l);
        rd_time_format(o->time, t, sizeof t);
        if (rc == 0 && !o->latest && (o->time < earliest || o->time > latest))
            rc = rd_fail(RD_ERANGE, "%s is outside the restorable window of DB cluster %s: "
                         "EarliestRestorableTime %s, LatestRestorableTime %s", t, o->source, e,
                         l);
        int64_t when = o->latest ? latest : o->time;
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (list[i].stop_time <= when)
                pick = (ssize_t)i;
        if (rc == 0 && pick < 0)
            rc = rd_fail(RD_ERANGE, "no backup of DB cluster %s is consistent by %s", o->source,
                         t);
        *target_name = o->latest ? NULL : "recovery_target_time";
        format_pg_time(o->time, target_value, len);
    }
    if (rc == 0) {
        *chosen = list[pick];
        memset(&list[pick], 0, sizeof list[pick]);
    }
    pgc_snapshot_list_free(list, n);
    return rc;
}


/* The settings that turn the restored copy into a new cluster recovering
 * from the source's archive, replacing the source's own that came with the
 * backup (port, socket directory, WAL archiving). */
static int write_recovery_settings(const rd_config *cfg, const pgc_cluster *c,
                                   const pgc_restore_options *o, const char *target_name,
                                   const char *target_value)
{
    char self[4096];
    pgc_self_path(self, sizeof self);
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    pgc_archive_settings archive;
    pgc_archive_settings_make(&archive, self, o->config_path, c->id);
    char *q_self = pgc_shell_quote(self), *q_config = pgc_shell_quote(o->config_path);
    char *restore = rd_asprintf("%s --config %s wal fetch --db-cluster-identifier %s %%f %%p",
                                q_self, q_config, o->source);
    /* The source's synchronous_standby_names would make the new cluster's
     * commits wait for a receiver it has not asked for. The recovery target
     * comes last. */
    const char *names[] = { "listen_addresses", "port", "unix_socket_directories",
                            "archive_mode", "restore_command", "recovery_target_action",
                            "recovery_target_timeline", "synchronous_standby_names",
                            archive.names[0], archive.names[1], archive.names[2],
                            archive.names[3], "recovery_target", "recovery_target_time" };
    const char *values[] = { "127.0.0.1", port, c->socket_dir, "on", restore, "promote",
                             "latest", NULL, archive.values[0], archive.values[1],
                             archive.values[2], archive.values[3], NULL, NULL };
    _Static_assert(PGC_ARCHIVE_SETTINGS == 4, "the archive settings are listed one by one");
    size_t n = sizeof names / sizeof names[0];
    for (size_t i = n - 2; i < n; i++)
        if (target_name && strcmp(names[i], target_name) == 0)
            values[i] = target_value;
    int rc = pgc_auto_conf_set(cfg, c->data_dir, names, values, n);
    char *signal = rd_path_join(c->data_dir, "recovery.signal");
    if (rc == 0)
        rc = rd_fs_write_atomic(signal, "", 0, 0600);
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, signal);
    free(signal);
    free(restore);
    free(q_self);
    free(q_config);
    pgc_archive_settings_free(&archive);
    return rc;
}

/* The backup's own values of the RECOVERY_SPEED settings (NULL: not set in
 * postgresql.auto.conf), read before they are overridden. */
static int speed_settings_save(const pgc_cluster *c, char *saved[N_RECOVERY_SPEED])
{
    for (size_t i = 0; i < N_RECOVERY_SPEED; i++) {
        saved[i] = NULL;
        int rc = pgc_auto_conf_get(c->data_dir, RECOVERY_SPEED[i][0], &saved[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* speed: the recovery run's values; else the saved ones back. */
static int speed_settings_write(const rd_config *cfg, const pgc_cluster *c, bool speed,
                                char *const saved[N_RECOVERY_SPEED])
{
    const char *names[N_RECOVERY_SPEED], *values[N_RECOVERY_SPEED];
    for (size_t i = 0; i < N_RECOVERY_SPEED; i++) {
        names[i] = RECOVERY_SPEED[i][0];
        values[i] = speed ? RECOVERY_SPEED[i][1] : saved[i];
    }
    return pgc_auto_conf_set(cfg, c->data_dir, names, values, N_RECOVERY_SPEED);
}

/* syncfs() of the file system that holds path (following symlinks). */
static int sync_fs_of(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot open %s", path);
    int rc = syncfs(fd) == 0 ? 0 : rd_fail_errno(RD_EIO, "cannot sync the file system of %s",
                                                 path);
    close(fd);
    return rc;
}

/* Everything a stopped server wrote with fsync off, on disk: the data
 * directory, pg_wal and every tablespace, which may be other file systems. */
static int sync_cluster(const pgc_cluster *c)
{
    int rc = sync_fs_of(c->data_dir);
    char *wal = rd_path_join(c->data_dir, "pg_wal");
    if (rc == 0)
        rc = sync_fs_of(wal);
    free(wal);
    char *tblspc = rd_path_join(c->data_dir, "pg_tblspc");
    DIR *d = rc == 0 ? opendir(tblspc) : NULL;
    struct dirent *e;
    while (d && rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *link = rd_path_join(tblspc, e->d_name);
        rc = sync_fs_of(link);
        free(link);
    }
    if (d)
        closedir(d);
    free(tblspc);
    return rc;
}

/* Steps 1-4 of the top of the file: the promoted server gets its normal
 * settings back and everything it wrote with fsync off is made durable
 * before the restore may say "available". */
static int make_durable(const rd_config *cfg, const pgc_cluster *c,
                        char *const saved[N_RECOVERY_SPEED])
{
    int64_t t0 = rd_mono_ns();
    int rc = speed_settings_write(cfg, c, false, saved);
    if (rc == 0)
        rc = pgc_server_stop(cfg, c);
    int64_t t1 = rd_mono_ns();
    if (rc == 0)
        rc = sync_cluster(c);
    int64_t t2 = rd_mono_ns();
    if (rc == 0)
        rc = pgc_server_start(cfg, c);
    if (rc == 0)
        RD_INFO("DB cluster %s made durable: stop %.2f s, syncfs %.2f s, start %.2f s", c->id,
                (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
                (double)(rd_mono_ns() - t2) / 1e9);
    else
        rd_fail_wrap(rc, "making DB cluster %s durable after recovery", c->id);
    return rc;
}

static bool log_says(const pgc_cluster *c, const char *needle)
{
    char *log = rd_asprintf("%s/../server.log", c->data_dir);
    rd_buf b = RD_BUF_INIT;
    bool found = rd_fs_read_file(log, 64u * 1024 * 1024, &b) == 0 && b.len &&
                 memmem(b.data, b.len, needle, strlen(needle)) != NULL;
    rd_buf_free(&b);
    free(log);
    return found;
}

/* Polls until recovery is over; 1 when promoted, 0 when the server went
 * away, -RD_E* on timeout. */
static int wait_promoted(const pgc_cluster *c, int64_t *replay_at)
{
    char *conninfo = pgc_conninfo(c);
    int64_t deadline = rd_mono_ns() + (int64_t)PROMOTE_TIMEOUT_S * 1000000000;
    int rc = rd_fail(RD_EIO, "DB cluster %s did not finish recovery within %d s", c->id,
                     PROMOTE_TIMEOUT_S);
    int failures = 0;
    while (rd_mono_ns() < deadline) {
        PGconn *conn = PQconnectdb(conninfo);
        if (PQstatus(conn) == CONNECTION_OK) {
            failures = 0;
            PGresult *res = PQexec(conn, "SELECT pg_is_in_recovery(), "
                                         "extract(epoch FROM pg_last_xact_replay_timestamp())");
            bool done = PQresultStatus(res) == PGRES_TUPLES_OK &&
                        strcmp(PQgetvalue(res, 0, 0), "f") == 0;
            if (replay_at && PQresultStatus(res) == PGRES_TUPLES_OK && !done &&
                !PQgetisnull(res, 0, 1))
                __atomic_store_n(replay_at, (int64_t)atof(PQgetvalue(res, 0, 1)),
                                 __ATOMIC_RELAXED);
            PQclear(res);
            if (done) {
                /* "accepts a write": taking a transaction id needs a primary */
                res = PQexec(conn, "SELECT txid_current()");
                done = PQresultStatus(res) == PGRES_TUPLES_OK;
                PQclear(res);
            }
            PQfinish(conn);
            if (done) {
                rc = 1;
                break;
            }
        } else {
            PQfinish(conn);
            if (PQping(conninfo) == PQPING_NO_RESPONSE && ++failures >= 10) {
                rc = 0;   /* the server stopped */
                break;
            }
        }
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    free(conninfo);
    return rc;
}

static int make_dirs(const rd_config *cfg, pgc_cluster *c)
{
    char *base = rd_asprintf("%s/clusters/%s", rd_config_state_dir(cfg), c->id);
    struct stat st;
    int rc = 0;
    if (lstat(base, &st) == 0)
        rc = rd_fail(RD_EEXIST, "%s already exists; remove it or choose another "
                     "--db-cluster-identifier", base);
    if (rc == 0)
        rc = rd_fs_mkdir_p(c->socket_dir, 0700);
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, base);
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, c->socket_dir);
    free(base);
    return rc;
}

static int restore_files(const rd_config *cfg, const pgc_snapshot *snap, const char *data_dir,
                         repo_progress *progress)
{
    repo *r = NULL;
    repo_manifest *m = NULL;
    int rc = repo_open(cfg, snap->repo, &r);
    if (rc == 0)
        rc = repo_manifest_load(r, snap->backup_id, &m);
    repo_restore_stats st;
    repo_restore_options ro = { .progress = progress };
    if (rc == 0)
        rc = repo_restore_dir(r, m, data_dir, &ro, &st);
    if (rc == 0)
        RD_INFO("restored backup %s (%llu files, %llu bytes) into %s", snap->backup_id,
                (unsigned long long)st.files, (unsigned long long)st.bytes, data_dir);
    repo_manifest_free(m);
    repo_close(r);
    return rc;
}

int pgc_restore(const rd_config *cfg, rd_catalog *cat, const pgc_restore_options *o,
                pgc_cluster **out)
{
    int rc = pgc_identifier_check(o->target, "DB cluster identifier");
    pgc_cluster *existing = NULL;
    if (rc == 0 && pgc_cluster_get(cat, o->target, &existing) == 0)
        rc = rd_fail(RD_EEXIST, "DB cluster %s already exists", o->target);
    pgc_cluster_free(existing);
    if (rc < 0)
        return rc;
    pgc_snapshot snap = { 0 };
    const char *target_name = NULL;
    char target_value[64] = "";
    rc = choose_backup(cfg, cat, o, &snap, &target_name, target_value, sizeof target_value);
    if (rc < 0)
        return rc;

    pgc_cluster *c = rd_calloc(1, sizeof *c);
    c->id = rd_strdup(o->target);
    c->data_dir = rd_asprintf("%s/clusters/%s/data", rd_config_state_dir(cfg), o->target);
    c->socket_dir = rd_asprintf("%s/clusters/%s/run", rd_config_state_dir(cfg), o->target);
    c->port = o->port;
    rc = c->port ? pgc_port_check(cat, c->id, c->port) : pgc_port_pick(cat, c->id, &c->port);
    char **repos = NULL;
    size_t n_repos = 0;
    if (rc == 0)
        rc = pgc_cluster_repos(cfg, cat, o->source, &repos, &n_repos);
    c->repos = repos;
    c->n_repos = n_repos;
    if (rc == 0)
        warn_unreadable_repos(cfg, c);
    pgc_cluster *src = NULL;
    if (pgc_cluster_get(cat, o->source, &src) == 0) {
        c->backup_retention_period = src->backup_retention_period;
        c->preferred_backup_window = rd_strdup(src->preferred_backup_window);
        c->storage_encrypted = src->storage_encrypted;
    } else {
        c->backup_retention_period = 35;
        c->preferred_backup_window = rd_strdup("03:00-04:00");
    }
    pgc_cluster_free(src);
    c->status = rd_strdup("restoring");
    c->created_us = rd_clock_now_us();
    c->managed = true;
    char when[32];
    rd_time_format(o->latest ? rd_clock_now() : o->time, when, sizeof when);
    c->restored_from = o->snapshot_id ? rd_asprintf("snapshot %s", o->snapshot_id)
                                      : rd_asprintf("%s@%s", o->source, o->latest ? "latest"
                                                                                  : when);
    if (rc == 0)
        rc = make_dirs(cfg, c);
    if (rc == 0)
        rc = pgc_cluster_save(cat, c);
    if (rc == 0)
        pgc_event(cat, c->id, "restoration", "restoring from %s, backup %s in repository %s",
                  c->restored_from, snap.backup_id, snap.repo);
    if (rc == 0)
        rc = restore_files(cfg, &snap, c->data_dir, o->progress);
    if (rc == 0)
        rc = write_recovery_settings(cfg, c, o, target_name, target_value);
    char *saved[N_RECOVERY_SPEED] = { NULL };
    bool speed_written = false;
    if (rc == 0)
        rc = speed_settings_save(c, saved);
    if (rc == 0)
        rc = speed_settings_write(cfg, c, true, saved);
    speed_written = rc == 0;
    int promoted = 0;
    bool started = false;
    if (rc == 0) {
        rc = pgc_server_start(cfg, c);
        started = true;
    }
    if (started) {
        /* Recovery may end before pg_ctl sees the server ready, too. */
        if (rc == 0)
            promoted = wait_promoted(c, o->replay_at);
        if ((rc < 0 || promoted == 0) && target_name &&
            log_says(c, "recovery ended before configured recovery target was reached")) {
            /* The archive ends before the target: restore to its end instead. */
            RD_INFO("no commit after %s in the archive: recovering to its end", when);
            promoted = 0;
            rc = write_recovery_settings(cfg, c, o, NULL, NULL);
            if (rc == 0)
                rc = pgc_server_start(cfg, c);
            if (rc == 0)
                promoted = wait_promoted(c, o->replay_at);
        }
        if (rc == 0 && promoted < 0)
            rc = promoted;
        else if (rc == 0 && promoted == 0)
            rc = rd_fail(RD_EIO, "DB cluster %s stopped during recovery; see %s/../server.log",
                         c->id, c->data_dir);
    }
    if (rc == 0)
        rc = make_durable(cfg, c, saved);
    if (rc < 0 && speed_written) {
        /* A failed restore must not keep, or later start with, fsync off:
         * its server is stopped and its own settings go back. */
        char reason[1024];
        snprintf(reason, sizeof reason, "%s", rd_error());
        if (pgc_reachable(c) && pgc_server_stop(cfg, c) < 0)
            RD_WARN("%s", rd_error());
        if (speed_settings_write(cfg, c, false, saved) < 0)
            RD_WARN("%s", rd_error());
        rd_fail(-rc, "%s", reason);
    }
    for (size_t i = 0; i < N_RECOVERY_SPEED; i++)
        free(saved[i]);
    if (rc == 0) {
        rc = pgc_cluster_set_status(cat, c->id, "available");
        free(c->status);
        c->status = rd_strdup("available");
        pgc_event(cat, c->id, "restoration", "restored from %s; accepting writes on port %d",
                  c->restored_from, c->port);
        pgc_event(cat, o->source, "restoration", "restored into new DB cluster %s (%s)", c->id,
                  c->restored_from);
    } else {
        pgc_cluster_set_status(cat, c->id, "failed");
        pgc_event(cat, c->id, "failure", "restore from %s failed: %s", c->restored_from,
                  rd_error());
    }
    pgc_snapshot_clear(&snap);
    if (rc == 0)
        *out = c;
    else
        pgc_cluster_free(c);
    return rc;
}
