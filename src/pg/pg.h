/* PostgreSQL clusters protected by radiant (dr-guide "Database Backups",
 * "Point-in-Time Recovery", Scenario 2): their lifecycle, WAL archiving into
 * the repositories, base backups (snapshots) and point-in-time restores into
 * new clusters. Prefix pgc_.
 *
 * A cluster lives in the catalog (table clusters, migration 2) and, when
 * radiant created it, under STATE/clusters/ID/ (data/, the Unix socket
 * directory run/, and server.log). Everything PostgreSQL does runs as the
 * [radiant] run-as user (default postgres) when radiant runs as root.
 *
 * What the repositories hold for a cluster, so that it can be restored from
 * them alone (source cluster deleted, data directory wiped):
 *   objects/wal/ID/SEGMENT           every archived WAL segment and history file
 *   snapshots/BACKUPID               base backups, kind "manual" or "automated",
 *                                    meta pg.* (see PGC_META_*)
 * and, on this machine, what `radiant serve` streamed but PostgreSQL has not
 * archived yet: STATE/stream/ID/ (see pgc_stream_start).
 */
#ifndef RD_PG_H
#define RD_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/config.h"
#include "repo/repo.h"

/* ------------------------------------------------------------- clusters -- */

typedef struct pgc_cluster {
    char *id;                        /* db-cluster-identifier */
    int port;
    char *data_dir;
    char *socket_dir;                /* unix_socket_directories */
    char **repos;                    /* [repo NAME]s its backups and WAL go to */
    size_t n_repos;
    int backup_retention_period;     /* days */
    char *preferred_backup_window;   /* "03:00-04:00", UTC */
    bool deletion_protection;
    bool storage_encrypted;          /* every repo is encrypted */
    char *status;                    /* creating, available, starting, stopping,
                                        stopped, restoring, deleting, failed */
    int64_t created_us;
    bool managed;                    /* created by radiant (false: registered) */
    char *restored_from;             /* "SRC@TIME" or "snapshot NAME"; NULL */
    bool synchronous_streaming;      /* commits wait for radiant's receiver */
} pgc_cluster;

void pgc_cluster_free(pgc_cluster *c);
/* Repository names joined by commas, as --repos and the catalog take them.
 * Caller frees. */
char *pgc_repos_join(char *const *repos, size_t n);
/* -RD_ENOENT with "no DB cluster ID" when unknown. */
int pgc_cluster_get(rd_catalog *cat, const char *id, pgc_cluster **out);
int pgc_cluster_list(rd_catalog *cat, pgc_cluster ***out, size_t *n);
void pgc_cluster_list_free(pgc_cluster **list, size_t n);
/* Inserts or replaces the catalog row. */
int pgc_cluster_save(rd_catalog *cat, const pgc_cluster *c);
int pgc_cluster_set_status(rd_catalog *cat, const char *id, const char *status);
int pgc_cluster_remove(rd_catalog *cat, const char *id);

/* Validates an identifier the way RDS does: 1-63 letters, digits and hyphens,
 * starting with a letter, no trailing or double hyphen. */
int pgc_identifier_check(const char *id, const char *what);

/* Records an event for describe-events (source type "db-cluster"). */
int pgc_event(rd_catalog *cat, const char *cluster, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------- running PostgreSQL -- */

/* The run-as user ([radiant] run-as, default postgres) when running as root;
 * NULL otherwise (run as ourselves). */
const char *pgc_run_as(const rd_config *cfg);
/* When running as root, gives path to the run-as user; a no-op otherwise. */
int pgc_chown_run_as(const rd_config *cfg, const char *path);
/* When running as root, becomes the run-as user for good (after giving it
 * the state directory), so that everything radiant writes for PostgreSQL --
 * catalog, spool, repository files of backups and WAL -- is that user's, as
 * archive_command, which runs as that user, needs. No-op otherwise. */
int pgc_become_run_as(const rd_config *cfg);
/* Opens the catalog of the state directory. When running as root, the state
 * directory and the catalog files are given to the run-as user, because
 * archive_command (`radiant wal push`) runs as that user and writes there. */
int pgc_catalog_open(const rd_config *cfg, rd_catalog **out);
/* STATE/clusters/ID: data/, run/ (socket) and server.log of a cluster radiant
 * created; server.log only for a registered one. Caller frees. */
char *pgc_cluster_dir(const rd_config *cfg, const char *id);
/* Runs argv (argv[0] a path) as the run-as user; returns its exit status or
 * -RD_E*. Output goes to log_path when not NULL (appended). */
int pgc_exec(const rd_config *cfg, char *const argv[], const char *log_path, int *status);
/* The last non-empty line of a log file (empty when there is none), for
 * one-line error messages. */
void pgc_log_tail(const char *path, char *out, size_t len);
/* Path of a PostgreSQL 15 server binary ("initdb", "pg_ctl", ...) in
 * /usr/lib/postgresql/15/bin (or $RADIANT_PG_BINDIR); NULL with an
 * -RD_ECONFIG message ("install postgresql-15") when it is missing. */
const char *pgc_bin(const char *name, char *buf, size_t len);
/* libpq connection string for the cluster's socket and port, as user
 * postgres, database postgres. Caller frees. */
char *pgc_conninfo(const pgc_cluster *c);
/* True when the server accepts connections now (PQping). */
bool pgc_reachable(const pgc_cluster *c);
/* Waits until the cluster accepts connections, up to timeout_s; -RD_ENET. */
int pgc_wait_ready(const pgc_cluster *c, int timeout_s);
/* aws rds wait db-cluster-available: polls every half second until the
 * catalog says available and the server accepts connections. -RD_EIO at once
 * when the status is failed or deleting (it cannot leave them by itself),
 * -RD_ENOENT when the cluster is unknown, -RD_ENET after timeout_s. Shared by
 * `radiant db wait` and the database-recovery runbook. */
int pgc_wait_available(rd_catalog *cat, const char *id, int64_t timeout_s);
/* pg_ctl start / stop -m fast (-w -t 60), logging to STATE/clusters/ID/server.log.
 * Update c->status and the catalog row (starting -> available or failed,
 * stopping -> stopped) and record events. Starting a cluster that answers and
 * stopping one that is not running succeed without doing anything. */
int pgc_start(const rd_config *cfg, rd_catalog *cat, pgc_cluster *c);
int pgc_stop(const rd_config *cfg, rd_catalog *cat, pgc_cluster *c);
/* The zstd level of PostgreSQL base backups and WAL in a repository whose
 * section does not set compress-level. Level 1, not the repository default
 * fast level 1 (-1): PostgreSQL pages with text (pgbench_accounts.filler)
 * need entropy coding, which the negative levels skip: 22 % smaller on such
 * pages for about 1.8x the compression CPU, while backups stay
 * several times faster than the disk-bound targets need (bench/README.md,
 * bench/pg.sh). */
#define PGC_COMPRESS_LEVEL 1
/* zstd's minimum match length for the same: 5 instead of level 1's 6.
 * PostgreSQL's tuples and WAL records repeat many 5-byte runs (headers,
 * small integers): pgbench's WAL is 18-21 % smaller, its tables after a
 * pgbench run 24 % smaller, freshly loaded ones about the same, for 4-10 %
 * more compression time (level 3 takes 1.5x the time for less). */
#define PGC_COMPRESS_MIN_MATCH 5
/* pg_ctl start (waiting until it answers) / stop -m fast, with no status
 * change and no event: for a restore, whose cluster stays "restoring" until
 * it is durable (src/pg/restore.c). */
int pgc_server_start(const rd_config *cfg, const pgc_cluster *c);
int pgc_server_stop(const rd_config *cfg, const pgc_cluster *c);

/* -RD_EEXIST when another cluster of the catalog (not self) has the port, or
 * something already listens on it at 127.0.0.1. */
int pgc_port_check(rd_catalog *cat, const char *self, int port);
/* The first port from 5432 up that passes pgc_port_check. */
int pgc_port_pick(rd_catalog *cat, const char *self, int *port);
/* Path of the radiant binary itself, for archive_command/restore_command. */
const char *pgc_self_path(char *buf, size_t len);

/* ------------------------------------------------------------ settings -- */

/* s in single quotes for /bin/sh, which runs archive_command and
 * restore_command. Caller frees. */
char *pgc_shell_quote(const char *s);
/* "'SELF' --config 'CONFIG' wal push --db-cluster-identifier ID %p";
 * config_path absolute. Caller frees. */
char *pgc_archive_command(const char *self, const char *config_path, const char *cluster);

/* How PostgreSQL archives WAL through radiant. When the archive module
 * radiant_archive.so is installed next to the radiant binary, through it
 * (archive_library; src/pg/module/radiant_archive.c): the archiver stores
 * each file itself instead of starting a process for it. Otherwise through
 * archive_command. The settings of the way not taken are NULL (removed), so
 * that a cluster switches cleanly either way. */
#define PGC_ARCHIVE_MODULE "radiant_archive.so"
#define PGC_ARCHIVE_SETTINGS 4
typedef struct pgc_archive_settings {
    const char *names[PGC_ARCHIVE_SETTINGS];
    char *values[PGC_ARCHIVE_SETTINGS];
    char *module;                /* path of radiant_archive.so, or NULL */
} pgc_archive_settings;

/* config_path NULL makes every value NULL: applied, the settings stop
 * archiving through radiant. */
void pgc_archive_settings_make(pgc_archive_settings *s, const char *self,
                               const char *config_path, const char *cluster);
void pgc_archive_settings_free(pgc_archive_settings *s);
/* Applies the settings to a running server with ALTER SYSTEM (the module is
 * loaded into the session first: PostgreSQL 15 accepts radiant.* only once
 * the module has defined them); pg_reload_conf() makes them take effect. */
int pgc_archive_settings_alter(PGconn *conn, const pgc_archive_settings *s);
/* Sets names[i] = values[i] (strings, quoted here) in DATA/postgresql.auto.conf,
 * replacing earlier assignments (a NULL value removes the setting: PostgreSQL
 * counts even an empty recovery target as one) and keeping every other line; the file stays
 * the run-as user's. Only while the server is down: a running server is
 * changed with pgc_alter_system. */
int pgc_auto_conf_set(const rd_config *cfg, const char *data_dir, const char *const names[],
                      const char *const values[], size_t n);
/* The value of name in DATA/postgresql.auto.conf, unquoted; *out NULL when it
 * is not set there. Caller frees. */
int pgc_auto_conf_get(const char *data_dir, const char *name, char **out);

/* Connects as postgres to database postgres (pgc_conninfo); -RD_ENET with
 * libpq's message. Close with PQfinish. */
int pgc_connect(const pgc_cluster *c, PGconn **out);
/* Runs sql; *out is the first column of the first row, NULL when there is
 * none. -RD_ENET with the server's message when it fails. Caller frees. */
int pgc_query_value(PGconn *conn, const char *sql, char **out);
/* ALTER SYSTEM SET name = 'value' (RESET when value is NULL); takes effect
 * with pg_reload_conf(), or at the next restart for postmaster settings. */
int pgc_alter_system(PGconn *conn, const char *name, const char *value);

/* ---------------------------------------------------------------- WAL -- */

/* What PostgreSQL's archive_command and restore_command call (src/pg/wal.c):
 *
 *   archive_command = 'radiant wal push --db-cluster-identifier ID %p'
 *   restore_command = 'radiant wal fetch --db-cluster-identifier ID %f %p'
 *
 * radiant assumes PostgreSQL's default WAL segment size of 16 MiB (initdb
 * --wal-segsize=16): segment names advance through 256 segments per log id
 * (0000000100000000000000FF -> 000000010000000100000000), and push refuses a
 * segment file of any other size rather than archive something restore could
 * not follow. */
#define PGC_WAL_SEGMENT_SIZE (16u * 1024 * 1024)
#define PGC_WAL_SEGMENTS_PER_LOG 256u        /* 4 GiB of WAL per log id */
#define PGC_WAL_SEGMENT_NAME_LEN 24
/* Default number of segments `wal fetch` prefetches into the spool. */
#define PGC_WAL_PREFETCH_DEFAULT 8
#define PGC_WAL_PREFETCH_MAX 64

/* Object name of a WAL file of a cluster: "wal/ID/FILE". Caller frees. */
char *pgc_wal_object(const char *cluster, const char *file);
/* True for names PostgreSQL archives: 24 uppercase hex digits (a segment),
 * NNNNNNNN.history, SEGMENT.partial, SEGMENT.XXXXXXXX.backup. */
bool pgc_wal_name_valid(const char *file);
/* True for a plain segment name (24 uppercase hex digits). */
bool pgc_wal_is_segment(const char *file);
/* Timeline of a segment, .partial, .backup or .history name; 0 when the
 * name is not valid (timeline 0 does not exist). */
uint32_t pgc_wal_timeline(const char *file);
/* Splits a segment name into its timeline and segment number (log id * 256
 * + segment). -RD_EUSAGE when it is not the name of a 16 MiB segment. */
int pgc_wal_segment_parse(const char *file, uint32_t *timeline, uint64_t *segno);
/* Formats a segment name into out (PGC_WAL_SEGMENT_NAME_LEN + 1 bytes). */
void pgc_wal_segment_name(uint32_t timeline, uint64_t segno, char *out);
/* The segment after file on the same timeline, n segments on (n >= 1). */
int pgc_wal_segment_next(const char *file, uint32_t n, char *out);

/* The [repo NAME]s a cluster's WAL goes to, in order: the catalog row's repos
 * when the cluster is in the catalog (cat may be NULL), else `repos` of a
 * [cluster ID] section of the configuration; -RD_ECONFIG naming both when
 * neither has it. Free with pgc_wal_repos_free. */
int pgc_wal_repos(const rd_config *cfg, rd_catalog *cat, const char *cluster, char ***repos,
                  size_t *n);
void pgc_wal_repos_free(char **repos, size_t n);
/* When the newest WAL file of the cluster was archived (seconds, rounded
 * down; 0 when none is recorded in the catalog). */
int pgc_wal_last_pushed(rd_catalog *cat, const char *cluster, int64_t *seconds);

/* archive_command: stores the file at path under wal/ID/NAME in every one of
 * repos (in parallel) and succeeds only when it is durable in all of them.
 * An identical copy already stored is success; different content under the
 * name in any repository is -RD_EEXIST, recorded as a "failure" event of the
 * cluster, and the file is then written to none of them (never overwritten). Records the push in the catalog (table wal_archive) when cat
 * is not NULL. Takes no repository lock and loads no index. */
int pgc_wal_push_to(const rd_config *cfg, rd_catalog *cat, const char *cluster,
                    char *const *repos, size_t n_repos, const char *path);
/* pgc_wal_push_to the repositories of pgc_wal_repos(). */
int pgc_wal_push(const rd_config *cfg, rd_catalog *cat, const char *cluster, const char *path);

/* restore_command: writes WAL file `file` of the cluster to dest atomically
 * (dest.tmp.PID, rename; not fsynced: PostgreSQL fetches again what it needs
 * after a crash), from the spool when a prefetcher already
 * fetched it, else from the first of repos that has a sound copy (a damaged or
 * unreachable repository is a warning, then the next is tried). -RD_ENOENT
 * when no repository has it, which is normal at the end of recovery.
 *
 * For a segment, the next `prefetch` segments (0 disables) are then fetched
 * into STATE/spool/ID/ by a detached background process while PostgreSQL
 * replays this one; history and .partial files are never prefetched. */
int pgc_wal_fetch_from(const rd_config *cfg, const char *cluster, char *const *repos,
                       size_t n_repos, const char *file, const char *dest, int prefetch);
/* pgc_wal_fetch_from with the repositories found by fn(arg, &repos, &n)
 * (freed with pgc_wal_repos_free) only when they are needed: a segment the
 * prefetcher spooled is delivered without opening the catalog or any
 * repository. */
typedef int (*pgc_wal_repos_fn)(void *arg, char ***repos, size_t *n);
int pgc_wal_fetch_lazy(const rd_config *cfg, const char *cluster, pgc_wal_repos_fn fn,
                       void *arg, const char *file, const char *dest, int prefetch);
/* pgc_wal_fetch_from the repositories of pgc_wal_repos(). */
int pgc_wal_fetch(const rd_config *cfg, rd_catalog *cat, const char *cluster, const char *file,
                  const char *dest, int prefetch);
/* Removes the prefetch spool of a cluster (when it is deleted, so that a new
 * cluster under the same identifier never sees its segments). */
int pgc_wal_spool_remove(const rd_config *cfg, const char *cluster);

/* ------------------------------------------------------- WAL streaming -- */

/* The receiver `radiant serve` runs per available cluster (src/pg/stream.c):
 * a physical replication connection on the slot "radiant" (application_name
 * "radiant", the name synchronous_standby_names uses), writing WAL durably
 * to STATE/stream/ID/ before reporting it flushed, and recording in the
 * catalog (table wal_stream) the server time up to which it holds every
 * byte. It reconnects by itself after failures. */
typedef struct pgc_stream pgc_stream;

/* Starts the receiver thread of cluster c; cfg must outlive it. */
int pgc_stream_start(const rd_config *cfg, const pgc_cluster *c, pgc_stream **out);
/* Stops the thread (within about 200 ms), flushing what it received. NULL ok. */
void pgc_stream_stop(pgc_stream *s);
const char *pgc_stream_cluster(const pgc_stream *s);
/* STATE/stream/ID. Caller frees. */
char *pgc_stream_dir(const rd_config *cfg, const char *cluster);
/* Writes segment `file` as streamed (a partial one padded with zeros to
 * 16 MiB) to dest atomically; -RD_ENOENT when it was not streamed. */
int pgc_stream_fetch(const rd_config *cfg, const char *cluster, const char *file,
                     const char *dest);
/* The server time (seconds) up to which the stream holds every commit, when
 * it continues the archive without a hole (or starts at or before
 * backup_start_lsn); 0 otherwise. */
int pgc_stream_latest(rd_catalog *cat, const char *cluster, uint64_t backup_start_lsn,
                      int64_t *seconds);
/* Forgets the stream of a cluster (directory and catalog row), when it is
 * deleted: a new cluster under the same identifier starts afresh. */
int pgc_stream_remove(const rd_config *cfg, rd_catalog *cat, const char *cluster);

/* -------------------------------------------------- backups and restores -- */

/* The [repo NAME]s that hold a cluster's backups and WAL: pgc_wal_repos()
 * for a cluster in the catalog or the config, else every [repo] of the
 * config (a deleted cluster's backups and WAL are still found). Free with
 * pgc_wal_repos_free. */
int pgc_cluster_repos(const rd_config *cfg, rd_catalog *cat, const char *cluster, char ***repos,
                      size_t *n);

/* A base backup of a cluster as found in one repository. */
typedef struct pgc_snapshot {
    char *snapshot_id;               /* db-cluster-snapshot-identifier */
    char *cluster;                   /* db-cluster-identifier it was taken of */
    char *repo;                      /* [repo NAME] it is in */
    char *backup_id;                 /* repository backup id */
    char *kind;                      /* "manual" or "automated" */
    int64_t start_time, stop_time;   /* seconds; restorable from stop_time on */
    char *start_lsn, *stop_lsn;
    int timeline;
    uint64_t logical_bytes;
} pgc_snapshot;

/* Takes an online base backup (pg_backup_start/pg_backup_stop, the data
 * directory walked into every repository of the cluster, backup_label added)
 * named snapshot_id, kind "manual" or "automated". progress (optional) counts
 * the bytes read, its total the databases' size times the repositories. */
int pgc_snapshot_create(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                        const char *snapshot_id, const char *kind, repo_progress *progress);
/* How a base backup walks a data directory (repo_dir_options.filter, with the
 * data directory's path as filter_arg): what PostgreSQL 15's base backups leave
 * out is skipped or kept empty (temporary files and relations, the forks of
 * unlogged relations but their init fork), and relation files are kept paged
 * (repo_backup_add_paged). */
enum repo_walk_filter pgc_data_dir_filter(void *data_dir, const char *rel, bool is_dir);
/* Snapshots of cluster (NULL: all) named snapshot_id (NULL: all), oldest
 * first; one entry per repository holding it. A repository that cannot be
 * read is left out with a warning; -RD_EIO when none of them can be. */
int pgc_snapshot_list(const rd_config *cfg, rd_catalog *cat, const char *cluster,
                      const char *snapshot_id, pgc_snapshot **out, size_t *n);
void pgc_snapshot_list_free(pgc_snapshot *list, size_t n);
void pgc_snapshot_clear(pgc_snapshot *s);
/* Forgets a snapshot in every repository that holds it (prune frees data). */
int pgc_snapshot_delete(const rd_config *cfg, rd_catalog *cat, const char *snapshot_id);

/* [EarliestRestorableTime, LatestRestorableTime] in seconds: from the
 * oldest backup's consistent point to the newest archived WAL. -RD_ENOENT
 * when the cluster has no backup yet. */
int pgc_restorable_window(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                          int64_t *earliest, int64_t *latest);
/* The same by identifier, for clusters that no longer exist. */
int pgc_restorable_window_id(const rd_config *cfg, rd_catalog *cat, const char *cluster,
                             int64_t *earliest, int64_t *latest);
/* The same from the cluster's snapshots as pgc_snapshot_list gave them, for a
 * caller that has listed them already. */
int pgc_restorable_window_of(rd_catalog *cat, const char *cluster, const pgc_snapshot *list,
                             size_t n, int64_t *earliest, int64_t *latest);

#define PGC_META_CLUSTER "pg.cluster"
#define PGC_META_START_LSN "pg.start_lsn"
#define PGC_META_STOP_LSN "pg.stop_lsn"
#define PGC_META_START_TIME "pg.start_time"   /* ISO 8601, pg_backup_start() */
#define PGC_META_STOP_TIME "pg.stop_time"     /* ISO 8601, consistent from here on */
#define PGC_META_TIMELINE "pg.timeline"
#define PGC_META_SNAPSHOT "pg.snapshot"       /* db-cluster-snapshot-identifier */
#define PGC_META_VERSION "pg.version"

/* ------------------------------------------- schedule and retention -- */

/* True when now lies in the cluster's preferred backup window (UTC,
 * "HH:MM-HH:MM", may wrap midnight) and none of its snapshots list[0..n) (as
 * pgc_snapshot_list gives them) is an automated backup started in this
 * occurrence of the window. */
int pgc_backup_due(const pgc_cluster *c, const pgc_snapshot *list, size_t n, int64_t now,
                   bool *due);

typedef struct pgc_retention_stats {
    uint64_t backups_expired;        /* automated backups forgotten */
    uint64_t wal_expired;            /* WAL files removed */
} pgc_retention_stats;

/* Applies the backup retention period in every repository of the cluster:
 * automated backups older than the newest backup that is at or before the
 * start of the window (now - retention) are forgotten, and WAL that neither
 * a kept backup nor the window needs is removed; manual snapshots stay. So
 * every second of the window stays restorable. Then prunes the repository.
 * list[0..n) are the cluster's snapshots as pgc_snapshot_list gives them. */
int pgc_retention_apply(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                        const pgc_snapshot *list, size_t n, int64_t now,
                        pgc_retention_stats *stats);

/* A point-in-time restore into a new cluster (restore-db-cluster-to-point-
 * in-time, restore-db-cluster-from-snapshot). */
typedef struct pgc_restore_options {
    const char *source;              /* source db-cluster-identifier */
    const char *target;              /* new db-cluster-identifier */
    int64_t time;                    /* restore to this second ... */
    bool latest;                     /* ... or to the end of the archived WAL */
    const char *snapshot_id;         /* or: a snapshot, recovered to its consistent point */
    int port;                        /* 0: the first free one from 5432 up */
    const char *config_path;         /* absolute, for restore_command/archive_command */
    repo_progress *progress;         /* optional: bytes of the base backup restored */
    int64_t *replay_at;              /* optional: set to the last replayed commit time */
} pgc_restore_options;

/* Restores the chosen base backup into STATE/clusters/TARGET/data, replays
 * archived WAL up to the target, promotes, registers the new cluster and
 * returns once it accepts writes. A time outside the restorable window is
 * -RD_ERANGE with both bounds in the message. */
int pgc_restore(const rd_config *cfg, rd_catalog *cat, const pgc_restore_options *opts,
                pgc_cluster **out);

#endif
