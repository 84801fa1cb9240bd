/* Base backups of PostgreSQL clusters (snapshots) and the restorable window.
 *
 * A base backup is an online, non-exclusive backup (PostgreSQL 15,
 * "Making a Base Backup Using the Low Level API"): pg_backup_start() on a
 * session that stays open, the data directory walked into every repository
 * of the cluster, then pg_backup_stop(wait_for_archive => false), whose label
 * file is added to each backup as backup_label. The backup needs the WAL up
 * to the stop LSN: pg_backup_stop switches to a new segment, and radiant
 * waits until the segment holding the last byte before the stop LSN is in
 * every repository of the backup (wait_wal_archived). PostgreSQL's own wait
 * (wait_for_archive => true) polls once a second, which made every backup,
 * even an unchanged one, last a second more than its work. Backups are
 * committed only after that wait, so a committed backup is always restorable,
 * and a crash anywhere before leaves nothing that claims to be a backup.
 *
 * The walk leaves out what PostgreSQL's own base backups leave out
 * (src/backend/backup/basebackup.c: excludeDirContents, excludeFiles,
 * temporary relations, unlogged relations but their init fork), cuts relation
 * files at fixed offsets, and reuses the chunks of files unchanged since the
 * previous backup of the cluster in the same repository. */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "pg/pg.h"
#include "repo/repo.h"

/* ------------------------------------------------------ cluster repos -- */

/* Every [repo NAME] of the configuration, in file order. */
static void all_repos(const rd_config *cfg, char ***repos, size_t *n)
{
    size_t count = rd_config_count(cfg, "repo");
    *repos = rd_calloc(count ? count : 1, sizeof **repos);
    for (*n = 0; *n < count; (*n)++)
        (*repos)[*n] = rd_strdup(rd_config_section_name(rd_config_at(cfg, "repo", *n)));
}

int pgc_cluster_repos(const rd_config *cfg, rd_catalog *cat, const char *cluster, char ***repos,
                      size_t *n)
{
    *repos = NULL;
    *n = 0;
    pgc_cluster *c = NULL;
    bool known = (cat && pgc_cluster_get(cat, cluster, &c) == 0) ||
                 rd_config_find(cfg, "cluster", cluster);
    pgc_cluster_free(c);
    if (known)
        return pgc_wal_repos(cfg, cat, cluster, repos, n);
    /* A cluster deleted since: its backups and WAL are wherever they are. */
    all_repos(cfg, repos, n);
    if (*n == 0)
        return rd_fail(RD_ECONFIG, "no [repo NAME] section in %s: DB cluster %s has nowhere to "
                       "keep its backups", rd_config_path(cfg), cluster);
    return 0;
}

/* ----------------------------------------------------------- the walk -- */

/* A relation file's name: RELFILENODE[_fsm|_vm|_init][.SEGNO]. */
static bool is_relation_name(const char *p)
{
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    static const char *const forks[] = { "_fsm", "_vm", "_init" };
    for (size_t i = 0; i < sizeof forks / sizeof forks[0]; i++) {
        if (strncmp(p, forks[i], strlen(forks[i])) == 0) {
            p += strlen(forks[i]);
            break;
        }
    }
    if (*p == '.' && isdigit((unsigned char)p[1]))
        for (p++; isdigit((unsigned char)*p);)
            p++;
    return *p == '\0';
}

/* Whether rel lies where relation files live: base/, global/, tablespaces. */
static bool in_relation_dir(const char *rel)
{
    return strncmp(rel, "base/", 5) == 0 || strncmp(rel, "global/", 7) == 0 ||
           strncmp(rel, "pg_tblspc/", 10) == 0;
}

/* A temporary relation's file name, tBACKENDID_RELATION...: PostgreSQL's base
 * backups leave them out (looks_like_temp_rel_name() in its basebackup.c);
 * they mean nothing after a restore. */
static bool is_temp_relation_name(const char *p)
{
    if (*p++ != 't' || !isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    return *p == '_' && is_relation_name(p + 1);
}

/* A fork other than the init fork of an unlogged relation in a database
 * directory (rel, whose last component is the relation file name `name`):
 * PostgreSQL's base backups leave these out (sendDir() in its basebackup.c),
 * since recovery rebuilds the main fork from the init fork and their content
 * is thrown away at any crash. */
static bool is_unlogged_fork(const char *data_dir, const char *rel, const char *name)
{
    if (!data_dir || strncmp(rel, "global/", 7) == 0)
        return false;
    size_t node = strspn(name, "0123456789");
    if (strncmp(name + node, "_init", 5) == 0)
        return false;
    char *init = rd_asprintf("%s/%.*s%.*s_init", data_dir, (int)(name - rel), rel, (int)node,
                             name);
    struct stat st;
    bool unlogged = lstat(init, &st) == 0;
    free(init);
    return unlogged;
}

/* Relation files are paged: PostgreSQL changes them in place, 8 kB page by
 * page, and never shifts their content, so chunks cut at fixed offsets
 * deduplicate at least as well as content-defined ones, for about 30 % less CPU
 * per backup (no boundary search, no copy; bench/README.md). */
enum repo_walk_filter pgc_data_dir_filter(void *data_dir, const char *rel, bool is_dir)
{
    static const char *const empty_dirs[] = {
        "pg_wal", "pg_dynshmem", "pg_notify", "pg_replslot", "pg_serial", "pg_snapshots",
        "pg_stat_tmp", "pg_subtrans",
    };
    static const char *const skip_files[] = {
        "postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map",
        "current_logfiles", "postgresql.auto.conf.tmp", "recovery.signal", "standby.signal",
    };
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (strncmp(base, "pgsql_tmp", 9) == 0 || strcmp(base, "pg_internal.init") == 0)
        return REPO_WALK_SKIP;
    for (size_t i = 0; is_dir && i < sizeof empty_dirs / sizeof empty_dirs[0]; i++)
        if (strcmp(rel, empty_dirs[i]) == 0)
            return REPO_WALK_EMPTY;
    for (size_t i = 0; !is_dir && i < sizeof skip_files / sizeof skip_files[0]; i++)
        if (strcmp(rel, skip_files[i]) == 0)
            return REPO_WALK_SKIP;
    if (is_dir || !in_relation_dir(rel))
        return REPO_WALK_KEEP;
    if (is_temp_relation_name(base))
        return REPO_WALK_SKIP;
    if (!is_relation_name(base))
        return REPO_WALK_KEEP;
    return is_unlogged_fork(data_dir, rel, base) ? REPO_WALK_SKIP : REPO_WALK_PAGED;
}

struct mem_reader {
    const char *data;
    size_t left;
};

static ssize_t mem_read(void *arg, void *buf, size_t len)
{
    struct mem_reader *m = arg;
    if (len > m->left)
        len = m->left;
    memcpy(buf, m->data, len);
    m->data += len;
    m->left -= len;
    return (ssize_t)len;
}

static int add_file_from_memory(repo_backup *b, const char *path, const char *text)
{
    repo_entry e = { .type = REPO_ENTRY_FILE, .path = (char *)path, .mode = 0600,
                     .mtime_sec = rd_clock_now() };
    struct mem_reader m = { text, strlen(text) };
    return repo_backup_add(b, &e, mem_read, &m);
}

/* ----------------------------------------------------------- sessions -- */

static int query_value(PGconn *conn, const char *sql, const char *param, char **out)
{
    const char *params[1] = { param };
    PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
        rc = rd_fail(RD_EIO, "%s failed: %s", sql, PQerrorMessage(conn));
    else
        *out = rd_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

struct repo_run {
    repo *r;
    repo_backup *b;
    repo_manifest *parent;
};

#define ARCHIVE_POLL_MS 10
#define ARCHIVE_WARN_S 60

/* Waits until the WAL segment holding the byte before stop_lsn is stored in
 * every repository of runs, as pg_backup_stop(wait_for_archive => true)
 * would wait for the archiver (src/backend/access/transam/xlog.c,
 * do_pg_backup_stop: XLByteToPrevSeg of the stop point), but polling every
 * 10 ms instead of every second. Like PostgreSQL it waits for as long as
 * archiving takes, warning every minute. */
static int wait_wal_archived(PGconn *conn, const pgc_cluster *c, const struct repo_run *runs,
                             size_t n_runs, const char *stop_lsn)
{
    char *segment = NULL;
    int rc = query_value(conn, "SELECT pg_walfile_name($1::pg_lsn - 1)", stop_lsn, &segment);
    char *object = rc == 0 ? pgc_wal_object(c->id, segment) : NULL;
    int64_t started = rd_mono_ns(), warned = started;
    for (size_t i = 0; rc == 0 && i < n_runs;) {
        int have = repo_object_exists(runs[i].r, object);
        if (have < 0) {
            rc = rd_fail_wrap(have, "waiting for WAL %s in repository %s", segment,
                              repo_name(runs[i].r));
        } else if (have) {
            i++;
        } else {
            if (rd_mono_ns() - warned >= (int64_t)ARCHIVE_WARN_S * 1000000000) {
                warned = rd_mono_ns();
                RD_WARN("the backup of DB cluster %s has waited %.0f s for WAL %s to be archived "
                        "into repository %s; check archive_command and pg_stat_archiver", c->id,
                        (warned - started) / 1e9, segment, repo_name(runs[i].r));
            }
            struct timespec ts = { 0, ARCHIVE_POLL_MS * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    free(object);
    free(segment);
    return rc;
}

static void runs_close(struct repo_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        repo_backup_abort(runs[i].b);
        repo_manifest_free(runs[i].parent);
        repo_close(runs[i].r);
    }
    free(runs);
}

static int snapshot_exists(const rd_config *cfg, rd_catalog *cat, const char *snapshot_id)
{
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = pgc_snapshot_list(cfg, cat, NULL, snapshot_id, &list, &n);
    pgc_snapshot_list_free(list, n);
    if (rc == 0 && n > 0)
        return rd_fail(RD_EEXIST, "DB cluster snapshot %s already exists", snapshot_id);
    return rc;
}

int pgc_snapshot_create(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                        const char *snapshot_id, const char *kind, repo_progress *progress)
{
    /* Automated snapshots are named as RDS names them: rds:ID-YYYY-MM-DD-HH-MM. */
    const char *name = snapshot_id;
    if (strcmp(kind, "automated") == 0 && strncmp(name, "rds:", 4) == 0)
        name += 4;
    int rc = pgc_identifier_check(name, "DB cluster snapshot identifier");
    if (rc == 0)
        rc = snapshot_exists(cfg, cat, snapshot_id);
    if (rc < 0)
        return rc;
    char *conninfo = pgc_conninfo(c);
    PGconn *conn = PQconnectdb(conninfo);
    free(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        rc = rd_fail(RD_EIO, "cannot connect to DB cluster %s: %s", c->id, PQerrorMessage(conn));
        PQfinish(conn);
        return rc;
    }
    char *source = rd_asprintf("pg:%s", c->id);
    struct repo_run *runs = rd_calloc(c->n_repos ? c->n_repos : 1, sizeof *runs);
    size_t n_runs = 0;
    char *start_lsn = NULL, *timeline = NULL, *version = NULL, *stop_lsn = NULL, *label = NULL;
    char *spcmap = NULL;
    int64_t start = rd_clock_now();
    int64_t t_begin = rd_mono_ns();
    rc = query_value(conn, "SELECT current_setting('server_version')", NULL, &version);
    if (rc == 0)
        rc = query_value(conn, "SELECT pg_backup_start($1, true)::text", snapshot_id, &start_lsn);
    if (rc == 0)
        rc = query_value(conn, "SELECT timeline_id::text FROM pg_control_checkpoint()", NULL,
                         &timeline);
    char *size = NULL;
    /* The databases' size, once per repository: near enough to the data
     * directory's for an ETA. */
    if (rc == 0 && progress &&
        query_value(conn, "SELECT sum(pg_database_size(oid))::bigint::text FROM pg_database",
                    NULL, &size) == 0 && size)
        progress->total = strtoull(size, NULL, 10) * (c->n_repos ? c->n_repos : 1);
    free(size);
    int64_t t_started = rd_mono_ns();
    for (size_t i = 0; rc == 0 && i < c->n_repos; i++) {
        struct repo_run *run = &runs[n_runs++];
        rc = repo_open(cfg, c->repos[i], &run->r);
        if (rc == 0)
            repo_prefer_compression(run->r, PGC_COMPRESS_LEVEL, PGC_COMPRESS_MIN_MATCH);
        if (rc == 0)
            rc = repo_lock(run->r, false);
        if (rc == 0)
            rc = repo_manifest_load_parent(run->r, source, kind, &run->parent);
        repo_backup_options opts = { .label = snapshot_id, .kind = kind, .source = source,
                                     .progress = progress };
        if (rc == 0)
            rc = repo_backup_begin(run->r, &opts, &run->b);
        repo_dir_options dopts = { .filter = pgc_data_dir_filter,
                                   .filter_arg = (void *)c->data_dir,
                                   .parent = run->parent };
        if (rc == 0)
            rc = repo_backup_add_tree(run->b, c->data_dir, &dopts);
        if (rc < 0)
            rd_fail_wrap(rc, "backup of DB cluster %s into repository %s", c->id, c->repos[i]);
    }
    int64_t t_copied = rd_mono_ns();
    /* Always end the backup mode, even after a failure: the session would. */
    if (start_lsn) {
        PGresult *res = PQexec(conn, "SELECT lsn::text, labelfile, spcmapfile "
                                     "FROM pg_backup_stop(false)");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            stop_lsn = rd_strdup(PQgetvalue(res, 0, 0));
            label = rd_strdup(PQgetvalue(res, 0, 1));
            spcmap = rd_strdup(PQgetvalue(res, 0, 2));
        } else if (rc == 0) {
            rc = rd_fail(RD_EIO, "pg_backup_stop failed on DB cluster %s: %s", c->id,
                         PQerrorMessage(conn));
        }
        PQclear(res);
    }
    if (rc == 0)
        rc = wait_wal_archived(conn, c, runs, n_runs, stop_lsn);
    /* The consistent point is the earliest restorable moment: round up, so
     * that a restore to this second never stops before it. */
    int64_t stop = (rd_clock_now_us() + 999999) / 1000000;
    int64_t t_stopped = rd_mono_ns();
    char start_text[32], stop_text[32];
    rd_time_format(start, start_text, sizeof start_text);
    rd_time_format(stop, stop_text, sizeof stop_text);
    for (size_t i = 0; rc == 0 && i < n_runs; i++) {
        repo_backup *b = runs[i].b;
        rc = add_file_from_memory(b, "backup_label", label);
        if (rc == 0 && spcmap && *spcmap)
            rc = add_file_from_memory(b, "tablespace_map", spcmap);
        repo_backup_set_meta(b, PGC_META_CLUSTER, c->id);
        repo_backup_set_meta(b, PGC_META_SNAPSHOT, snapshot_id);
        repo_backup_set_meta(b, PGC_META_START_LSN, start_lsn);
        repo_backup_set_meta(b, PGC_META_STOP_LSN, stop_lsn);
        repo_backup_set_meta(b, PGC_META_START_TIME, start_text);
        repo_backup_set_meta(b, PGC_META_STOP_TIME, stop_text);
        repo_backup_set_meta(b, PGC_META_TIMELINE, timeline);
        repo_backup_set_meta(b, PGC_META_VERSION, version);
        repo_backup_info info;
        if (rc == 0) {
            runs[i].b = NULL;
            rc = repo_backup_commit(b, &info);
        }
        if (rc == 0) {
            RD_INFO("snapshot %s of %s: backup %s in repository %s", snapshot_id, c->id, info.id,
                    c->repos[i]);
            repo_backup_info_free(&info);
        }
    }
    if (rc == 0)
        RD_INFO("snapshot %s of %s: pg_backup_start %.2f s, files %.2f s, pg_backup_stop "
                "and WAL archived %.2f s, commit %.2f s", snapshot_id, c->id,
                (t_started - t_begin) / 1e9, (t_copied - t_started) / 1e9,
                (t_stopped - t_copied) / 1e9, (rd_mono_ns() - t_stopped) / 1e9);
    if (rc == 0)
        pgc_event(cat, c->id, "backup", "%s backup %s completed (%s to %s, LSN %s to %s)",
                  strcmp(kind, "automated") == 0 ? "automated" : "manual", snapshot_id,
                  start_text, stop_text, start_lsn, stop_lsn);
    else
        pgc_event(cat, c->id, "failure", "backup %s failed: %s", snapshot_id, rd_error());
    runs_close(runs, n_runs);
    PQfinish(conn);
    free(source);
    free(start_lsn);
    free(stop_lsn);
    free(timeline);
    free(version);
    free(label);
    free(spcmap);
    return rc;
}

/* ---------------------------------------------------------- listing -- */

void pgc_snapshot_clear(pgc_snapshot *s)
{
    free(s->snapshot_id);
    free(s->cluster);
    free(s->repo);
    free(s->backup_id);
    free(s->kind);
    free(s->start_lsn);
    free(s->stop_lsn);
    memset(s, 0, sizeof *s);
}

void pgc_snapshot_list_free(pgc_snapshot *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pgc_snapshot_clear(&list[i]);
    free(list);
}

static int64_t meta_time(const repo_backup_info *b, const char *key)
{
    const char *v = repo_backup_info_meta(b, key);
    int64_t t = 0;
    return v && rd_time_parse(v, &t) == 0 ? t : 0;
}

static int cmp_snapshot(const void *a, const void *b)
{
    const pgc_snapshot *x = a, *y = b;
    if (x->stop_time != y->stop_time)
        return x->stop_time < y->stop_time ? -1 : 1;
    return strcmp(x->backup_id, y->backup_id);
}

/* Appends the cluster backups of one repository. */
static int list_repo(const rd_config *cfg, const char *name, const char *cluster,
                     const char *snapshot_id, pgc_snapshot **out, size_t *n)
{
    repo *r = NULL;
    repo_backup_info *list = NULL;
    size_t count = 0;
    int rc = repo_open(cfg, name, &r);
    if (rc == 0)
        rc = repo_backup_list(r, &list, &count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const repo_backup_info *b = &list[i];
        const char *cl = repo_backup_info_meta(b, PGC_META_CLUSTER);
        const char *snap = repo_backup_info_meta(b, PGC_META_SNAPSHOT);
        if (!cl || !snap || (cluster && strcmp(cl, cluster) != 0) ||
            (snapshot_id && strcmp(snap, snapshot_id) != 0))
            continue;
        *out = rd_realloc(*out, (*n + 1) * sizeof **out);
        pgc_snapshot *s = &(*out)[(*n)++];
        memset(s, 0, sizeof *s);
        s->snapshot_id = rd_strdup(snap);
        s->cluster = rd_strdup(cl);
        s->repo = rd_strdup(name);
        s->backup_id = rd_strdup(b->id);
        s->kind = rd_strdup(b->kind);
        s->start_time = meta_time(b, PGC_META_START_TIME);
        s->stop_time = meta_time(b, PGC_META_STOP_TIME);
        const char *v;
        s->start_lsn = rd_strdup((v = repo_backup_info_meta(b, PGC_META_START_LSN)) ? v : "");
        s->stop_lsn = rd_strdup((v = repo_backup_info_meta(b, PGC_META_STOP_LSN)) ? v : "");
        s->timeline = (v = repo_backup_info_meta(b, PGC_META_TIMELINE)) ? atoi(v) : 0;
        s->logical_bytes = b->stats.logical_bytes;
    }
    repo_backup_list_free(list, count);
    repo_close(r);
    return rc;
}

int pgc_snapshot_list(const rd_config *cfg, rd_catalog *cat, const char *cluster,
                      const char *snapshot_id, pgc_snapshot **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char **repos = NULL;
    size_t n_repos = 0;
    int rc = 0;
    if (cluster)
        rc = pgc_cluster_repos(cfg, cat, cluster, &repos, &n_repos);
    else
        all_repos(cfg, &repos, &n_repos);
    /* A repository that cannot be read (deleted, unreachable, wrong
     * passphrase) leaves its backups out, and says so: the others still
     * list, and restore, theirs. Only when none can be read is it an error. */
    size_t unreadable = 0;
    char first[1024] = "";
    for (size_t i = 0; rc == 0 && i < n_repos; i++) {
        if (list_repo(cfg, repos[i], cluster, snapshot_id, out, n) == 0)
            continue;
        if (unreadable++ == 0)
            snprintf(first, sizeof first, "repository %s: %s", repos[i], rd_error());
        RD_WARN("repository %s cannot be read, so the %s%s in it are left out: %s", repos[i],
                cluster ? "backups of DB cluster " : "snapshots", cluster ? cluster : "",
                rd_error());
    }
    if (rc == 0 && n_repos > 0 && unreadable == n_repos)
        rc = rd_fail(RD_EIO, "no repository of %s%s can be read (%s)",
                     cluster ? "DB cluster " : "the configuration", cluster ? cluster : "",
                     first);
    pgc_wal_repos_free(repos, n_repos);
    if (rc < 0) {
        pgc_snapshot_list_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_snapshot);
    return 0;
}

int pgc_snapshot_delete(const rd_config *cfg, rd_catalog *cat, const char *snapshot_id)
{
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = pgc_snapshot_list(cfg, cat, NULL, snapshot_id, &list, &n);
    if (rc == 0 && n == 0)
        rc = rd_fail(RD_ENOENT, "DB cluster snapshot %s not found", snapshot_id);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        repo *r = NULL;
        rc = repo_open(cfg, list[i].repo, &r);
        if (rc == 0)
            rc = repo_lock(r, false);
        if (rc == 0)
            rc = repo_forget(r, list[i].backup_id);
        repo_close(r);
    }
    if (rc == 0 && n > 0)
        pgc_event(cat, list[0].cluster, "deletion", "snapshot %s deleted", snapshot_id);
    pgc_snapshot_list_free(list, n);
    return rc;
}

/* ------------------------------------------------ the restorable window -- */

int pgc_restorable_window_id(const rd_config *cfg, rd_catalog *cat, const char *cluster,
                             int64_t *earliest, int64_t *latest)
{
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = pgc_snapshot_list(cfg, cat, cluster, NULL, &list, &n);
    if (rc == 0)
        rc = pgc_restorable_window_of(cat, cluster, list, n, earliest, latest);
    pgc_snapshot_list_free(list, n);
    return rc;
}

int pgc_restorable_window_of(rd_catalog *cat, const char *cluster, const pgc_snapshot *list,
                             size_t n, int64_t *earliest, int64_t *latest)
{
    if (n == 0)
        return rd_fail(RD_ENOENT, "DB cluster %s has no backup yet, so nothing is restorable; "
                       "create one with create-db-cluster-snapshot", cluster);
    *earliest = list[0].stop_time;
    *latest = list[n - 1].stop_time;
    unsigned hi = 0, lo = 0;
    if (!list[n - 1].start_lsn || sscanf(list[n - 1].start_lsn, "%X/%X", &hi, &lo) != 2)
        hi = lo = 0;
    /* WAL archived after the newest backup extends the window: every commit
     * in a segment happened before the segment was archived. So does WAL
     * streamed without a hole after it (src/pg/stream.c, invariant 2). */
    int64_t pushed = 0, streamed = 0;
    if (cat && pgc_wal_last_pushed(cat, cluster, &pushed) == 0 && pushed > *latest)
        *latest = pushed;
    if (cat && pgc_stream_latest(cat, cluster, (uint64_t)hi << 32 | lo, &streamed) == 0 &&
        streamed > *latest)
        *latest = streamed;
    return 0;
}

int pgc_restorable_window(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                          int64_t *earliest, int64_t *latest)
{
    return pgc_restorable_window_id(cfg, cat, c->id, earliest, latest);
}
