/* radiant db: PostgreSQL clusters protected by radiant, with the commands and
 * JSON names of the AWS RDS CLI (aws rds ...) so that a runbook written for
 * it translates line by line (dr-guide "Database Recovery Runbook").
 * JSON fields are a contract (docs/cli.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "pg/pg.h"
#include "repo/repo.h"

#define DEFAULT_RETENTION_DAYS 35
#define DEFAULT_BACKUP_WINDOW "03:00-04:00"
#define DEFAULT_WAIT_S 1800           /* aws rds wait: 60 checks 30 s apart */
#define DEFAULT_EVENT_MINUTES 60

/* ------------------------------------------------------------ options -- */

/* Every option of the group; each command accepts its own subset. Tri-state
 * flags are -1 when not given. */
struct db_args {
    const char *id, *window, *repos, *data_dir, *socket_dir, *final_snapshot;
    const char *source_id, *source_type;
    const char *snapshot_id, *source_cluster, *restore_time, *snapshot_type;
    bool use_latest;
    int port, retention;
    int window_start, window_end;     /* parsed --preferred-backup-window */
    int deletion_protection, storage_encrypted, synchronous;
    bool apply_immediately, skip_final_snapshot;
    int64_t timeout_s, duration_min;
    const char *positional;
};

enum { OPT_ID = 256, OPT_PORT, OPT_RETENTION, OPT_WINDOW, OPT_PROTECT, OPT_NO_PROTECT,
       OPT_ENCRYPTED, OPT_NO_ENCRYPTED, OPT_REPOS, OPT_DATA_DIR, OPT_SOCKET_DIR, OPT_APPLY,
       OPT_SKIP_FINAL, OPT_FINAL, OPT_TIMEOUT, OPT_SOURCE_ID, OPT_SOURCE_TYPE, OPT_DURATION,
       OPT_SNAPSHOT_ID, OPT_SNAPSHOT, OPT_SOURCE_CLUSTER, OPT_RESTORE_TIME, OPT_LATEST,
       OPT_SNAPSHOT_TYPE, OPT_SYNC, OPT_NO_SYNC };

static const struct option all_options[] = {
    { "db-cluster-identifier", required_argument, NULL, OPT_ID },
    { "port", required_argument, NULL, OPT_PORT },
    { "backup-retention-period", required_argument, NULL, OPT_RETENTION },
    { "preferred-backup-window", required_argument, NULL, OPT_WINDOW },
    { "deletion-protection", no_argument, NULL, OPT_PROTECT },
    { "no-deletion-protection", no_argument, NULL, OPT_NO_PROTECT },
    { "storage-encrypted", no_argument, NULL, OPT_ENCRYPTED },
    { "no-storage-encrypted", no_argument, NULL, OPT_NO_ENCRYPTED },
    { "repos", required_argument, NULL, OPT_REPOS },
    { "data-dir", required_argument, NULL, OPT_DATA_DIR },
    { "socket-dir", required_argument, NULL, OPT_SOCKET_DIR },
    { "apply-immediately", no_argument, NULL, OPT_APPLY },
    { "skip-final-snapshot", no_argument, NULL, OPT_SKIP_FINAL },
    { "final-db-snapshot-identifier", required_argument, NULL, OPT_FINAL },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "source-identifier", required_argument, NULL, OPT_SOURCE_ID },
    { "source-type", required_argument, NULL, OPT_SOURCE_TYPE },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "db-cluster-snapshot-identifier", required_argument, NULL, OPT_SNAPSHOT_ID },
    { "snapshot-identifier", required_argument, NULL, OPT_SNAPSHOT },
    { "source-db-cluster-identifier", required_argument, NULL, OPT_SOURCE_CLUSTER },
    { "restore-to-time", required_argument, NULL, OPT_RESTORE_TIME },
    { "use-latest-restorable-time", no_argument, NULL, OPT_LATEST },
    { "snapshot-type", required_argument, NULL, OPT_SNAPSHOT_TYPE },
    { "synchronous-wal-streaming", no_argument, NULL, OPT_SYNC },
    { "no-synchronous-wal-streaming", no_argument, NULL, OPT_NO_SYNC },
    { NULL, 0, NULL, 0 },
};

static bool parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !*text || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Parses argv allowing only the options named in `allowed` (space separated);
 * positional arguments only when `positional` is true (one). */
static int parse_args(const char *cmd, int argc, char **argv, const char *allowed,
                      bool positional, struct db_args *a)
{
    memset(a, 0, sizeof *a);
    a->deletion_protection = a->storage_encrypted = a->synchronous = -1;
    optind = 1;
    opterr = 0;
    char padded[512];
    snprintf(padded, sizeof padded, " %s ", allowed);
    for (;;) {
        int c = getopt_long(argc, argv, ":", all_options, NULL);
        if (c == -1)
            break;
        if (c == '?')
            return cli_usage("db", cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage("db", cmd, "option '%s' needs a value", argv[optind - 1]);
        const char *name = all_options[c - OPT_ID].name;
        char word[64];
        snprintf(word, sizeof word, " %s ", name);
        if (!strstr(padded, word))
            return cli_usage("db", cmd, "option '--%s' does not apply here", name);
        long v;
        switch (c) {
        case OPT_ID: a->id = optarg; break;
        case OPT_PORT:
            if (!parse_long(optarg, 1, 65535, &v))
                return cli_usage("db", cmd, "--port must be a port number 1-65535, not '%s'",
                                 optarg);
            a->port = (int)v;
            break;
        case OPT_RETENTION:
            if (!parse_long(optarg, 1, 3650, &v))
                return cli_usage("db", cmd, "--backup-retention-period must be 1 to 3650 days, "
                                 "not '%s'", optarg);
            a->retention = (int)v;
            break;
        case OPT_WINDOW:
            if (rd_window_parse(optarg, &a->window_start, &a->window_end) != 0)
                return cli_usage("db", cmd, "--preferred-backup-window must be HH:MM-HH:MM in "
                                 "UTC such as 03:00-04:00, not '%s'", optarg);
            a->window = optarg;
            break;
        case OPT_PROTECT:
        case OPT_NO_PROTECT:
            if (a->deletion_protection >= 0)
                return cli_usage("db", cmd, "give --deletion-protection or "
                                 "--no-deletion-protection once");
            a->deletion_protection = c == OPT_PROTECT;
            break;
        case OPT_ENCRYPTED:
        case OPT_NO_ENCRYPTED:
            if (a->storage_encrypted >= 0)
                return cli_usage("db", cmd, "give --storage-encrypted or "
                                 "--no-storage-encrypted once");
            a->storage_encrypted = c == OPT_ENCRYPTED;
            break;
        case OPT_SYNC:
        case OPT_NO_SYNC:
            if (a->synchronous >= 0)
                return cli_usage("db", cmd, "give --synchronous-wal-streaming or "
                                 "--no-synchronous-wal-streaming once");
            a->synchronous = c == OPT_SYNC;
            break;
        case OPT_REPOS: a->repos = optarg; break;
        case OPT_DATA_DIR: a->data_dir = optarg; break;
        case OPT_SOCKET_DIR: a->socket_dir = optarg; break;
        case OPT_APPLY: a->apply_immediately = true; break;
        case OPT_SKIP_FINAL: a->skip_final_snapshot = true; break;
        case OPT_FINAL: a->final_snapshot = optarg; break;
        case OPT_TIMEOUT:
            if (rd_duration_parse(optarg, &a->timeout_s) != 0 || a->timeout_s <= 0)
                return cli_usage("db", cmd, "--timeout must be a duration such as 600, 90s, "
                                 "15m or 1h, not '%s'", optarg);
            break;
        case OPT_SOURCE_ID: a->source_id = optarg; break;
        case OPT_SNAPSHOT_ID:
        case OPT_SNAPSHOT: a->snapshot_id = optarg; break;
        case OPT_SOURCE_CLUSTER: a->source_cluster = optarg; break;
        case OPT_RESTORE_TIME: a->restore_time = optarg; break;
        case OPT_LATEST: a->use_latest = true; break;
        case OPT_SNAPSHOT_TYPE:
            if (strcmp(optarg, "manual") != 0 && strcmp(optarg, "automated") != 0)
                return cli_usage("db", cmd, "--snapshot-type must be manual or automated, not "
                                 "'%s'", optarg);
            a->snapshot_type = optarg;
            break;
        case OPT_SOURCE_TYPE: a->source_type = optarg; break;
        case OPT_DURATION:
            if (!parse_long(optarg, 1, 100L * 366 * 24 * 60, &v))
                return cli_usage("db", cmd, "--duration must be a number of minutes (at least "
                                 "1), not '%s'", optarg);
            a->duration_min = v;
            break;
        }
    }
    if (positional && optind < argc)
        a->positional = argv[optind++];
    if (optind < argc)
        return cli_usage("db", cmd, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static int require_id(const char *cmd, const struct db_args *a)
{
    if (!a->id)
        return cli_usage("db", cmd, "--db-cluster-identifier ID is required");
    return pgc_identifier_check(a->id, "--db-cluster-identifier");
}

/* ------------------------------------------------------------- helpers -- */

/* A manual snapshot, with a progress line on a terminal. */
static int snapshot_with_progress(cli_ctx *ctx, const rd_config *cfg, rd_catalog *cat,
                                  const pgc_cluster *c, const char *snapshot_id)
{
    repo_progress progress = { 0 };
    cli_progress *shown = cli_progress_start(ctx, "snapshot", &progress, NULL, 0);
    int rc = pgc_snapshot_create(cfg, cat, c, snapshot_id, "manual", &progress);
    cli_progress_stop(shown);
    return rc;
}

static int open_catalog(cli_ctx *ctx, const rd_config **cfg, rd_catalog **cat)
{
    *cat = NULL;
    int rc = cli_config(ctx, cfg);
    if (rc == 0)
        rc = pgc_catalog_open(*cfg, cat);
    return rc;
}

/* Records an event; a failure to record is a warning (cf. cli_event) and
 * keeps the message of the command's own error. */
static void note(rd_catalog *cat, const char *id, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void note(rd_catalog *cat, const char *id, const char *category, const char *fmt, ...)
{
    char msg[1024], saved[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(saved, sizeof saved, "%s", rd_error());
    if (pgc_event(cat, id, category, "%s", msg) < 0)
        RD_WARN("could not record an event of DB cluster %s: %s", id, rd_error());
    rd_fail(RD_EINTERNAL, "%s", saved);
}

static void iso_time(int64_t seconds, char out[32])
{
    rd_time_format(seconds, out, 32);
}

/* -RD_EEXIST when the catalog already has a cluster of that identifier. */
static int check_new_id(rd_catalog *cat, const char *id)
{
    pgc_cluster *existing = NULL;
    int rc = pgc_cluster_get(cat, id, &existing);
    pgc_cluster_free(existing);
    if (rc == 0)
        return rd_fail(RD_EEXIST, "DB cluster %s already exists; choose another "
                       "--db-cluster-identifier", id);
    if (rc == -RD_ENOENT) {
        rd_error_clear();
        return 0;
    }
    return rc;
}


static void repos_add(pgc_cluster *c, const char *name, size_t len)
{
    while (len && (*name == ' ' || *name == '\t'))
        name++, len--;
    while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    if (!len)
        return;
    for (size_t i = 0; i < c->n_repos; i++)
        if (strlen(c->repos[i]) == len && strncmp(c->repos[i], name, len) == 0)
            return;
    c->repos = rd_realloc(c->repos, (c->n_repos + 1) * sizeof *c->repos);
    c->repos[c->n_repos++] = rd_asprintf("%.*s", (int)len, name);
}

static void repos_split(pgc_cluster *c, const char *list)
{
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        repos_add(c, p, len);
        p += len + (comma != NULL);
    }
}

/* Opens each repository of c (named in `from`, for the message): each must
 * exist and open. *plain is the first unencrypted one, NULL when none is. */
static int repos_check(const rd_config *cfg, const char *id, const pgc_cluster *c,
                       const char *from, const char **plain)
{
    *plain = NULL;
    for (size_t i = 0; i < c->n_repos; i++) {
        repo *r = NULL;
        int rc = repo_open(cfg, c->repos[i], &r);
        if (rc < 0)
            return rd_fail_wrap(rc, "repository %s (from %s) of DB cluster %s", c->repos[i],
                                from, id);
        if (!repo_encrypted(r) && !*plain)
            *plain = c->repos[i];
        repo_close(r);
    }
    return 0;
}

/* Fills the settings of a new cluster from the flags, else the [cluster ID]
 * section of the config, else the defaults, and checks its repositories:
 * each must exist and open, and all be encrypted when storage encryption is
 * asked for. */
static int settings_resolve(const rd_config *cfg, const char *cmd, const struct db_args *a,
                            pgc_cluster *c)
{
    const rd_config_section *sec = rd_config_find(cfg, "cluster", a->id);
    c->port = a->port ? a->port : sec ? (int)rd_config_get_int(sec, "port", 0) : 0;
    c->backup_retention_period = a->retention ? a->retention
        : sec ? (int)rd_config_get_int(sec, "backup-retention-period", DEFAULT_RETENTION_DAYS)
              : DEFAULT_RETENTION_DAYS;
    const char *window = a->window ? a->window
                       : sec && rd_config_get(sec, "preferred-backup-window")
                       ? rd_config_get(sec, "preferred-backup-window") : DEFAULT_BACKUP_WINDOW;
    c->preferred_backup_window = rd_strdup(window);
    c->deletion_protection = a->deletion_protection >= 0 ? a->deletion_protection == 1
                           : sec ? rd_config_get_bool(sec, "deletion-protection", false) : false;
    c->synchronous_streaming = a->synchronous >= 0 ? a->synchronous == 1
        : sec ? rd_config_get_bool(sec, "synchronous-wal-streaming", false) : false;
    const char *data_dir = a->data_dir ? a->data_dir : sec ? rd_config_get(sec, "data-dir") : NULL;
    if (data_dir)
        c->data_dir = rd_strdup(data_dir);

    const char *from = "the configuration";
    if (a->repos) {
        repos_split(c, a->repos);
        from = "--repos";
    } else if (sec && rd_config_get(sec, "repos")) {
        repos_split(c, rd_config_get(sec, "repos"));
    } else {
        for (size_t i = 0; i < rd_config_count(cfg, "repo"); i++) {
            const char *name = rd_config_section_name(rd_config_at(cfg, "repo", i));
            repos_add(c, name, strlen(name));
        }
    }
    if (c->n_repos == 0)
        return a->repos ? cli_usage("db", cmd, "--repos names no repository")
                        : rd_fail(RD_ECONFIG, "%s has no [repo NAME] section; a DB cluster's "
                                  "backups and WAL need at least one repository",
                                  rd_config_path(cfg));
    const char *plain = NULL;
    int rc = repos_check(cfg, a->id, c, from, &plain);
    if (rc < 0)
        return rc;
    bool all_encrypted = plain == NULL;
    c->storage_encrypted = all_encrypted;
    bool want = a->storage_encrypted == 1 ||
                (a->storage_encrypted < 0 && sec &&
                 rd_config_get_bool(sec, "storage-encrypted", false));
    if (want && !all_encrypted) {
        if (a->storage_encrypted == 1)
            return cli_usage("db", cmd, "--storage-encrypted needs every repository of the DB "
                             "cluster encrypted, and repository %s is not (use an encrypted "
                             "repository in --repos, or drop --storage-encrypted)", plain);
        return rd_fail(RD_ECONFIG, "%s:%d: [cluster %s] sets storage-encrypted, but repository "
                       "%s is not encrypted; use encrypted repositories in 'repos'",
                       rd_config_path(cfg), rd_config_line(sec, "storage-encrypted"), a->id,
                       plain);
    }
    return 0;
}

/* Absolute path of the configuration in use, for archive_command, which
 * PostgreSQL runs from its data directory. Caller frees. */
static char *config_abs(cli_ctx *ctx)
{
    char *abs = realpath(ctx->config_path, NULL);
    return abs ? abs : rd_strdup(ctx->config_path);
}

/* archive_command runs as the run-as user: warn now when it will not be able
 * to read the configuration or run radiant, rather than let WAL pile up. */
static void check_run_as_access(const rd_config *cfg, const char *config_path, const char *self)
{
    const char *user = pgc_run_as(cfg);
    if (!user)
        return;
    struct { const char *flag, *path, *what; } checks[] = {
        { "-r", config_path, "read the configuration" },
        { "-x", self, "execute the radiant binary" },
    };
    for (size_t i = 0; i < 2; i++) {
        char *argv[] = { "/usr/bin/test", (char *)checks[i].flag, (char *)checks[i].path, NULL };
        int status = 0;
        if (pgc_exec(cfg, argv, NULL, &status) == 0 && status != 0)
            RD_WARN("the run-as user %s cannot %s %s; archive_command (radiant wal push) "
                    "fails until it can", user, checks[i].what, checks[i].path);
    }
}

/* ----------------------------------------------------------- describing -- */

static char *engine_version(const pgc_cluster *c, bool reachable)
{
    char *version = NULL;
    if (reachable) {
        PGconn *conn = NULL;
        if (pgc_connect(c, &conn) == 0)
            pgc_query_value(conn, "SHOW server_version", &version);
        PQfinish(conn);
    }
    if (!version) {
        char *path = rd_path_join(c->data_dir, "PG_VERSION");
        rd_buf b = RD_BUF_INIT;
        if (rd_fs_read_file(path, 64, &b) == 0 && b.len) {
            rd_buf_append_u8(&b, 0);
            version = rd_strdup((const char *)b.data);
        }
        rd_buf_free(&b);
        free(path);
    }
    if (!version)
        version = rd_strdup("15");
    version[strcspn(version, " \r\n")] = '\0';   /* "15.10 (Debian 15.10-0+deb12u1)" */
    return version;
}

/* The port in postgresql.auto.conf when it differs from the catalog's: a
 * modify-db-cluster --port waiting for the next restart. 0 when none. */
static int pending_port(const pgc_cluster *c)
{
    if (!c->managed)
        return 0;
    char *value = NULL;
    long port = 0;
    if (pgc_auto_conf_get(c->data_dir, "port", &value) < 0 ||
        !value || !parse_long(value, 1, 65535, &port) || port == c->port)
        port = 0;
    free(value);
    return (int)port;
}

struct cluster_view {
    bool reachable;
    char *version;
    int64_t earliest, latest;
    int pending_port;
};

static void view_load(const rd_config *cfg, rd_catalog *cat, const pgc_cluster *c,
                      struct cluster_view *v)
{
    memset(v, 0, sizeof *v);
    v->reachable = pgc_reachable(c);
    v->version = engine_version(c, v->reachable);
    v->pending_port = pending_port(c);
    int rc = pgc_restorable_window(cfg, cat, c, &v->earliest, &v->latest);
    if (rc < 0 && rc != -RD_ENOENT)   /* -RD_ENOENT: no backup yet, nothing restorable */
        RD_WARN("DB cluster %s: cannot tell its restorable window: %s", c->id, rd_error());
    if (rc < 0)
        v->earliest = v->latest = 0;
}

static json_t *cluster_json(const pgc_cluster *c, const struct cluster_view *v)
{
    char created[32];
    iso_time(c->created_us / 1000000, created);
    json_t *repos = json_array();
    for (size_t i = 0; i < c->n_repos; i++)
        json_array_append_new(repos, json_string(c->repos[i]));
    json_t *o = json_object();
    json_object_set_new(o, "DBClusterIdentifier", json_string(c->id));
    json_object_set_new(o, "Status", json_string(c->status));
    json_object_set_new(o, "Reachable", json_boolean(v->reachable));
    json_object_set_new(o, "Engine", json_string("postgres"));
    json_object_set_new(o, "EngineVersion", json_string(v->version ? v->version : "15"));
    json_object_set_new(o, "Endpoint", json_string("127.0.0.1"));
    json_object_set_new(o, "Port", json_integer(c->port));
    json_object_set_new(o, "DataDir", json_string(c->data_dir));
    json_object_set_new(o, "SocketDir", json_string(c->socket_dir ? c->socket_dir : ""));
    json_object_set_new(o, "Managed", json_boolean(c->managed));
    json_object_set_new(o, "BackupRetentionPeriod", json_integer(c->backup_retention_period));
    json_object_set_new(o, "PreferredBackupWindow", json_string(c->preferred_backup_window));
    json_object_set_new(o, "DeletionProtection", json_boolean(c->deletion_protection));
    json_object_set_new(o, "StorageEncrypted", json_boolean(c->storage_encrypted));
    json_object_set_new(o, "SynchronousWalStreaming", json_boolean(c->synchronous_streaming));
    json_object_set_new(o, "ClusterCreateTime", json_string(created));
    json_object_set_new(o, "Repos", repos);
    if (c->restored_from)
        json_object_set_new(o, "RestoredFrom", json_string(c->restored_from));
    if (v->earliest && v->latest) {
        char t[32];
        iso_time(v->earliest, t);
        json_object_set_new(o, "EarliestRestorableTime", json_string(t));
        iso_time(v->latest, t);
        json_object_set_new(o, "LatestRestorableTime", json_string(t));
    }
    if (v->pending_port)
        json_object_set_new(o, "PendingModifiedValues",
                            json_pack("{s:i}", "Port", v->pending_port));
    return o;
}

static void print_table_header(void)
{
    printf("%-28s %-10s %-5s %5s %9s %-11s %-9s %-9s %-20s %s\n", "DB CLUSTER", "STATUS", "UP",
           "PORT", "RETENTION", "WINDOW", "PROTECTED", "ENCRYPTED", "LATEST RESTORABLE",
           "REPOS");
}

static void print_table_row(const pgc_cluster *c, const struct cluster_view *v)
{
    char latest[32] = "-", retention[16];
    if (v->latest)
        iso_time(v->latest, latest);
    snprintf(retention, sizeof retention, "%d days", c->backup_retention_period);
    char *repos = pgc_repos_join(c->repos, c->n_repos);
    printf("%-28s %-10s %-5s %5d %9s %-11s %-9s %-9s %-20s %s\n", c->id, c->status,
           v->reachable ? "yes" : "no", c->port, retention, c->preferred_backup_window,
           c->deletion_protection ? "yes" : "no", c->storage_encrypted ? "yes" : "no", latest,
           repos);
    free(repos);
}

/* Prints {"DBCluster": {...}} or a one-line summary after a change. */
static void print_cluster_result(cli_ctx *ctx, const rd_config *cfg, rd_catalog *cat,
                                 const pgc_cluster *c, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void print_cluster_result(cli_ctx *ctx, const rd_config *cfg, rd_catalog *cat,
                                 const pgc_cluster *c, const char *fmt, ...)
{
    struct cluster_view v;
    view_load(cfg, cat, c, &v);
    if (ctx->output == CLI_OUTPUT_JSON) {
        cli_print_json(json_pack("{s:o}", "DBCluster", cluster_json(c, &v)));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
    }
    free(v.version);
}

/* ------------------------------------------------------- create, register -- */

/* initdb's --locale: C.UTF-8 where the C library has it (glibc 2.35 and
 * later build it in), else C. */
static const char *initdb_locale(void)
{
    locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (!l)
        return "C";
    freelocale(l);
    return "C.UTF-8";
}

/* mkdir (0 when created, -RD_EEXIST when it was there) and give it to the
 * run-as user. */
static int mkdir_owned(const rd_config *cfg, const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0)
        return errno == EEXIST ? rd_fail(RD_EEXIST, "%s already exists", path)
                               : rd_fail_errno(RD_EIO, "cannot create directory %s", path);
    if (chmod(path, mode) != 0)                      /* not narrowed by the umask */
        return rd_fail_errno(RD_EIO, "cannot set the mode of %s", path);
    return pgc_chown_run_as(cfg, path);
}

/* Lays out the data and socket directories under dir (STATE/clusters/ID, made
 * by the caller), runs initdb as the run-as user, writes the settings radiant
 * depends on and starts the server. */
static int cluster_build(cli_ctx *ctx, const rd_config *cfg, rd_catalog *cat, pgc_cluster *c,
                         const char *dir, bool *made_data_dir)
{
    char initdb[512], self[4096];
    if (!pgc_bin("initdb", initdb, sizeof initdb))
        return -RD_ECONFIG;
    if (!pgc_self_path(self, sizeof self))
        return -RD_EIO;
    int rc = rd_fs_dir_nonempty(c->data_dir);
    if (rc == 1)
        return rd_fail(RD_EEXIST, "data directory %s of DB cluster %s is not empty; empty it "
                       "or choose another data-dir", c->data_dir, c->id);
    if (rc < 0 && errno != ENOENT)
        return rd_fail_errno(RD_EIO, "cannot read data directory %s", c->data_dir);
    if (rc < 0) {
        rc = mkdir_owned(cfg, c->data_dir, 0700);
        *made_data_dir = rc == 0;
    } else {
        rc = chmod(c->data_dir, 0700) == 0 ? pgc_chown_run_as(cfg, c->data_dir)
             : rd_fail_errno(RD_EIO, "cannot set the mode of %s", c->data_dir);
    }
    if (rc == 0)
        rc = mkdir_owned(cfg, c->socket_dir, 0750);
    if (rc < 0)
        return rc;

    char *log = rd_path_join(dir, "initdb.log");
    char *argv[] = { initdb, "-D", c->data_dir, "-U", "postgres", "--auth=trust",
                     "--encoding=UTF8", (char *)(strcmp(initdb_locale(), "C") == 0
                     ? "--locale=C" : "--locale=C.UTF-8"), "--data-checksums", NULL };
    int status = 0;
    rc = pgc_exec(cfg, argv, log, &status);
    if (rc == 0 && status != 0) {
        char last[512];
        pgc_log_tail(log, last, sizeof last);
        rc = rd_fail(RD_EIO, "initdb failed for DB cluster %s (exit %d): %s", c->id, status,
                     last[0] ? last : "no message");
    }
    free(log);
    if (rc < 0)
        return rc;

    char *config = config_abs(ctx);
    pgc_archive_settings archive;
    pgc_archive_settings_make(&archive, self, config, c->id);
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    const char *names[] = { "listen_addresses", "port", "unix_socket_directories", "wal_level",
                            "archive_mode", "archive_timeout", "max_wal_senders",
                            "synchronous_standby_names", archive.names[0], archive.names[1],
                            archive.names[2], archive.names[3] };
    const char *values[] = { "127.0.0.1", port, c->socket_dir, "replica", "on", "60", "10",
                             c->synchronous_streaming ? "radiant" : NULL, archive.values[0],
                             archive.values[1], archive.values[2], archive.values[3] };
    _Static_assert(PGC_ARCHIVE_SETTINGS == 4, "the archive settings are listed one by one");
    rc = pgc_auto_conf_set(cfg, c->data_dir, names, values, sizeof names / sizeof names[0]);
    if (rc == 0)
        check_run_as_access(cfg, config, self);
    pgc_archive_settings_free(&archive);
    free(config);
    if (rc == 0)
        rc = pgc_start(cfg, cat, c);
    return rc;
}

/* Undoes a create that failed after claiming STATE/clusters/ID: nothing of
 * the cluster may stay behind, so that the same command can simply be rerun.
 * Returns rc with its message. */
static int create_undo(const rd_config *cfg, rd_catalog *cat, pgc_cluster *c, const char *dir,
                       bool made_data_dir, bool external_data_dir, int rc)
{
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", rd_error());
    char *pid = rd_path_join(c->data_dir, "postmaster.pid");
    if (access(pid, F_OK) == 0 && pgc_stop(cfg, cat, c) < 0)
        RD_WARN("could not stop the half-created DB cluster %s: %s", c->id, rd_error());
    free(pid);
    if (external_data_dir) {
        if (rd_fs_remove_tree(c->data_dir) < 0)
            RD_WARN("%s", rd_error());
        else if (!made_data_dir && mkdir_owned(cfg, c->data_dir, 0700) < 0)
            RD_WARN("%s", rd_error());
    }
    if (rd_fs_remove_tree(dir) < 0)
        RD_WARN("%s", rd_error());
    if (pgc_cluster_remove(cat, c->id) < 0)
        RD_WARN("%s", rd_error());
    note(cat, c->id, "failure", "DB cluster creation failed: %s", saved);
    return rd_fail(rc, "%s", saved);
}

static int cmd_create(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    pgc_cluster *c = rd_calloc(1, sizeof *c);
    char *dir = NULL;
    int rc = parse_args("create-db-cluster", argc, argv,
                        "db-cluster-identifier port backup-retention-period "
                        "preferred-backup-window deletion-protection no-deletion-protection "
                        "storage-encrypted no-storage-encrypted repos data-dir synchronous-wal-streaming "
                        "no-synchronous-wal-streaming", false, &a);
    if (rc == 0)
        rc = require_id("create-db-cluster", &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = check_new_id(cat, a.id);
    char bin[512];
    if (rc == 0 && (!pgc_bin("initdb", bin, sizeof bin) || !pgc_bin("pg_ctl", bin, sizeof bin)))
        rc = -RD_ECONFIG;
    if (rc == 0)
        rc = settings_resolve(cfg, "create-db-cluster", &a, c);
    if (rc == 0)
        rc = c->port ? pgc_port_check(cat, a.id, c->port) : pgc_port_pick(cat, a.id, &c->port);
    if (rc < 0)
        goto out;

    /* STATE/clusters/ID is the claim on the identifier: mkdir is atomic, so
     * of two concurrent creates one fails here before touching anything. */
    char *clusters = rd_asprintf("%s/clusters", rd_config_state_dir(cfg));
    rc = rd_fs_mkdir_p(clusters, 0750);
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, clusters);
    free(clusters);
    dir = pgc_cluster_dir(cfg, a.id);
    if (rc == 0)
        rc = mkdir_owned(cfg, dir, 0750);
    if (rc == -RD_EEXIST) {
        rc = rd_fail(RD_EEXIST, "%s exists but the catalog has no DB cluster %s (left by an "
                     "interrupted create or delete?); remove that directory and retry", dir, a.id);
        goto out;
    }
    if (rc < 0)
        goto out;
    bool external = c->data_dir != NULL, made_data_dir = false;
    if (!c->data_dir)
        c->data_dir = rd_path_join(dir, "data");
    c->id = rd_strdup(a.id);
    c->socket_dir = rd_path_join(dir, "run");
    c->status = rd_strdup("creating");
    c->created_us = rd_clock_now_us();
    c->managed = true;
    rc = pgc_cluster_save(cat, c);
    if (rc < 0) {
        rd_fs_remove_tree(dir);
        goto out;
    }
    note(cat, c->id, "creation", "Creating DB cluster on port %d", c->port);
    rc = cluster_build(ctx, cfg, cat, c, dir, &made_data_dir);
    if (rc < 0) {
        rc = create_undo(cfg, cat, c, dir, made_data_dir, external, rc);
        goto out;
    }
    note(cat, c->id, "creation", "DB cluster created");
    print_cluster_result(ctx, cfg, cat, c, "created DB cluster %s: %s on 127.0.0.1:%d, data "
                         "directory %s", c->id, c->status, c->port, c->data_dir);
out:
    free(dir);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    return rc;
}

/* synchronous_standby_names = 'radiant' (the application_name of radiant
 * serve's receiver) while the option is on: every commit then waits until
 * the receiver has its WAL durable (synchronous_commit = on, the default),
 * so a commit acknowledged to a client is never lost -- and commits wait
 * while radiant serve is down. Reset when off. Applied at once: ALTER SYSTEM
 * and a reload on a running server, its settings file otherwise. */
static int synchronous_apply(const rd_config *cfg, const pgc_cluster *c)
{
    const char *value = c->synchronous_streaming ? "radiant" : NULL;
    if (!pgc_reachable(c)) {
        const char *names[] = { "synchronous_standby_names" };
        return pgc_auto_conf_set(cfg, c->data_dir, names, &value, 1);
    }
    PGconn *conn = NULL;
    char *ignored = NULL;
    int rc = pgc_connect(c, &conn);
    if (rc == 0)
        rc = pgc_alter_system(conn, "synchronous_standby_names", value);
    if (rc == 0)
        rc = pgc_query_value(conn, "SELECT pg_reload_conf()", &ignored);
    free(ignored);
    PQfinish(conn);
    return rc;
}

/* Points archive_command of a running server at radiant. Sets *restart when
 * a setting that needs a restart (archive_mode, wal_level) had to change. */
static int register_archiving(cli_ctx *ctx, const pgc_cluster *c, const char *data_dir,
                              bool *restart)
{
    char self[4096];
    if (!pgc_self_path(self, sizeof self))
        return -RD_EIO;
    PGconn *conn = NULL;
    char *served = NULL, *mode = NULL, *level = NULL;
    int rc = pgc_connect(c, &conn);
    if (rc < 0) {
        rc = rd_fail_wrap(rc, "register-db-cluster needs the server running and accepting "
                          "connections as postgres");
        goto out;
    }
    rc = pgc_query_value(conn, "SHOW data_directory", &served);
    char *real = NULL;
    if (rc == 0 && served && (real = realpath(served, NULL)) != NULL &&
        strcmp(real, data_dir) != 0)
        rc = rd_fail(RD_EUSAGE, "the server on port %d uses data directory %s, not %s; check "
                     "--port and --data-dir", c->port, served, data_dir);
    free(real);
    if (rc == 0)
        rc = pgc_query_value(conn, "SHOW archive_mode", &mode);
    if (rc == 0)
        rc = pgc_query_value(conn, "SHOW wal_level", &level);
    if (rc < 0)
        goto out;
    bool mode_off = !mode || strcmp(mode, "off") == 0;
    bool level_minimal = !level || strcmp(level, "minimal") == 0;
    *restart = mode_off || level_minimal;
    char *config = config_abs(ctx);
    pgc_archive_settings archive;
    pgc_archive_settings_make(&archive, self, config, c->id);
    if (mode_off)
        rc = pgc_alter_system(conn, "archive_mode", "on");
    if (rc == 0 && level_minimal)
        rc = pgc_alter_system(conn, "wal_level", "replica");
    if (rc == 0)
        rc = pgc_archive_settings_alter(conn, &archive);
    if (rc == 0)
        rc = pgc_alter_system(conn, "archive_timeout", "60");
    char *ignored = NULL;
    if (rc == 0)
        rc = pgc_query_value(conn, "SELECT pg_reload_conf()", &ignored);
    free(ignored);
    pgc_archive_settings_free(&archive);
    free(config);
    if (rc < 0)
        rd_fail_wrap(rc, "cannot set up WAL archiving of DB cluster %s", c->id);
out:
    free(served);
    free(mode);
    free(level);
    PQfinish(conn);
    return rc;
}

static int cmd_register(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    pgc_cluster *c = rd_calloc(1, sizeof *c);
    char *data_dir = NULL, *socket_dir = NULL;
    int rc = parse_args("register-db-cluster", argc, argv,
                        "db-cluster-identifier data-dir port socket-dir backup-retention-period "
                        "preferred-backup-window deletion-protection no-deletion-protection "
                        "storage-encrypted no-storage-encrypted repos synchronous-wal-streaming "
                        "no-synchronous-wal-streaming", false, &a);
    if (rc == 0)
        rc = require_id("register-db-cluster", &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = check_new_id(cat, a.id);
    if (rc == 0)
        rc = settings_resolve(cfg, "register-db-cluster", &a, c);
    if (rc == 0 && !c->data_dir)
        rc = cli_usage("db", "register-db-cluster", "--data-dir DIR is required (or data-dir "
                       "in [cluster %s])", a.id);
    if (rc == 0 && !c->port)
        rc = cli_usage("db", "register-db-cluster", "--port PORT is required (or port in "
                       "[cluster %s])", a.id);
    if (rc == 0 && !(data_dir = realpath(c->data_dir, NULL)))
        rc = errno == ENOENT ? rd_fail(RD_ENOENT, "data directory %s does not exist", c->data_dir)
                             : rd_fail_errno(RD_EIO, "cannot resolve data directory %s",
                                             c->data_dir);
    if (rc == 0 && a.socket_dir && !(socket_dir = realpath(a.socket_dir, NULL)))
        rc = errno == ENOENT ? rd_fail(RD_ENOENT, "socket directory %s does not exist",
                                       a.socket_dir)
                             : rd_fail_errno(RD_EIO, "cannot resolve socket directory %s",
                                             a.socket_dir);
    if (rc < 0)
        goto out;
    /* The port is the registered server's own; only another cluster of the
     * catalog on it is a conflict. */
    pgc_cluster **list;
    size_t n;
    rc = pgc_cluster_list(cat, &list, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (list[i]->port == c->port)
            rc = rd_fail(RD_EEXIST, "port %d is already used by DB cluster %s", c->port,
                         list[i]->id);
    pgc_cluster_list_free(list, n);
    if (rc < 0)
        goto out;
    c->id = rd_strdup(a.id);
    free(c->data_dir);
    c->data_dir = data_dir;
    data_dir = NULL;
    c->socket_dir = socket_dir ? socket_dir : rd_strdup("");
    socket_dir = NULL;
    c->status = rd_strdup("available");
    c->created_us = rd_clock_now_us();
    c->managed = false;
    bool restart = false;
    rc = register_archiving(ctx, c, c->data_dir, &restart);
    if (rc == 0 && c->synchronous_streaming)
        rc = synchronous_apply(cfg, c);
    if (rc == 0)
        rc = pgc_cluster_save(cat, c);
    if (rc < 0)
        goto out;
    note(cat, c->id, "creation", "DB cluster registered (data directory %s)", c->data_dir);
    if (restart) {
        RD_WARN("DB cluster %s: archive_mode was off (or wal_level minimal); restart the server "
                "before its WAL is archived", c->id);
        note(cat, c->id, "notification", "Restart needed for archive_mode and wal_level");
    }
    char self[4096], *config = config_abs(ctx);
    if (pgc_self_path(self, sizeof self))
        check_run_as_access(cfg, config, self);
    free(config);
    print_cluster_result(ctx, cfg, cat, c, "registered DB cluster %s on port %d, data directory "
                         "%s%s", c->id, c->port, c->data_dir,
                         restart ? " (restart it to start archiving WAL)" : "");
out:
    free(data_dir);
    free(socket_dir);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    return rc;
}

/* ---------------------------------------------------- describe, start, stop -- */

static int cmd_describe(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    pgc_cluster **list = NULL;
    size_t n = 0;
    int rc = parse_args("describe-db-clusters", argc, argv, "db-cluster-identifier", false, &a);
    if (rc == 0 && a.id)
        rc = pgc_identifier_check(a.id, "--db-cluster-identifier");
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0 && a.id) {
        list = rd_calloc(1, sizeof *list);
        rc = pgc_cluster_get(cat, a.id, &list[0]);
        n = rc == 0;
    } else if (rc == 0) {
        rc = pgc_cluster_list(cat, &list, &n);
    }
    if (rc == 0) {
        json_t *arr = json_array();
        if (ctx->output == CLI_OUTPUT_TEXT)
            print_table_header();
        for (size_t i = 0; i < n; i++) {
            struct cluster_view v;
            view_load(cfg, cat, list[i], &v);
            if (ctx->output == CLI_OUTPUT_TEXT)
                print_table_row(list[i], &v);
            else
                json_array_append_new(arr, cluster_json(list[i], &v));
            free(v.version);
        }
        if (ctx->output == CLI_OUTPUT_JSON)
            cli_print_json(json_pack("{s:o}", "DBClusters", arr));
        else
            json_decref(arr);
    }
    pgc_cluster_list_free(list, n);
    rd_catalog_close(cat);
    return rc;
}

/* Statuses in which another radiant process is working on the cluster. */
static int check_not_busy(const pgc_cluster *c, const char *action)
{
    if (strcmp(c->status, "creating") == 0 || strcmp(c->status, "restoring") == 0 ||
        strcmp(c->status, "deleting") == 0)
        return rd_fail(RD_EUSAGE, "DB cluster %s is %s; cannot %s it now (radiant db wait "
                       "db-cluster-available --db-cluster-identifier %s)", c->id, c->status,
                       action, c->id);
    return 0;
}

/* A port change made while the server ran takes effect at this restart. */
static int apply_pending_port(rd_catalog *cat, pgc_cluster *c)
{
    int port = pending_port(c);
    if (!port)
        return 0;
    int rc = pgc_port_check(cat, c->id, port);
    if (rc < 0)
        return rd_fail_wrap(rc, "the pending port change of DB cluster %s", c->id);
    note(cat, c->id, "configuration change", "Port changed from %d to %d", c->port, port);
    c->port = port;
    return pgc_cluster_save(cat, c);
}

static int cmd_start_stop(cli_ctx *ctx, int argc, char **argv, bool start)
{
    const char *cmd = start ? "start-db-cluster" : "stop-db-cluster";
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    pgc_cluster *c = NULL;
    int rc = parse_args(cmd, argc, argv, "db-cluster-identifier", false, &a);
    if (rc == 0)
        rc = require_id(cmd, &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_cluster_get(cat, a.id, &c);
    if (rc == 0)
        rc = check_not_busy(c, start ? "start" : "stop");
    if (rc == 0 && start)
        rc = apply_pending_port(cat, c);
    if (rc == 0)
        rc = start ? pgc_start(cfg, cat, c) : pgc_stop(cfg, cat, c);
    if (rc == 0)
        print_cluster_result(ctx, cfg, cat, c, "%s DB cluster %s (%s)",
                             start ? "started" : "stopped", c->id, c->status);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    return rc;
}

static int cmd_start(cli_ctx *ctx, int argc, char **argv)
{
    return cmd_start_stop(ctx, argc, argv, true);
}

static int cmd_stop(cli_ctx *ctx, int argc, char **argv)
{
    return cmd_start_stop(ctx, argc, argv, false);
}

/* --------------------------------------------------------------- modify -- */

/* Sets the port of a managed cluster in its settings: through ALTER SYSTEM
 * while it runs (the file is the server's then), in the file otherwise. */
static int port_write(const rd_config *cfg, const pgc_cluster *c, int port, bool running)
{
    char value[16];
    snprintf(value, sizeof value, "%d", port);
    if (!running) {
        const char *names[] = { "port" };
        const char *values[] = { value };
        return pgc_auto_conf_set(cfg, c->data_dir, names, values, 1);
    }
    PGconn *conn = NULL;
    int rc = pgc_connect(c, &conn);
    if (rc == 0)
        rc = pgc_alter_system(conn, "port", value);
    PQfinish(conn);
    return rc;
}

/* modify-db-cluster --repos, first part: next gets the named repositories,
 * which must open, and be encrypted when the cluster has storage encryption.
 * Nothing is changed yet. */
static int repos_prepare(const rd_config *cfg, const pgc_cluster *c, const char *list,
                         pgc_cluster *next)
{
    next->id = c->id;
    repos_split(next, list);
    if (next->n_repos == 0)
        return cli_usage("db", "modify-db-cluster", "--repos names no repository");
    const char *plain = NULL;
    int rc = repos_check(cfg, c->id, next, "--repos", &plain);
    if (rc == 0 && c->storage_encrypted && plain)
        rc = cli_usage("db", "modify-db-cluster", "DB cluster %s has storage encryption, and "
                       "repository %s is not encrypted; name encrypted repositories in --repos",
                       c->id, plain);
    return rc;
}

/* Second part: the repositories are saved at once, so WAL pushes and backups
 * use them from then on. Leaving a repository out gives up what only it
 * holds, and that is said: the restorable window before and after. next gets
 * the old list. */
static int repos_apply(const rd_config *cfg, rd_catalog *cat, pgc_cluster *c, pgc_cluster *next,
                       rd_buf *changes)
{
    char *was = pgc_repos_join(c->repos, c->n_repos);
    char *now = pgc_repos_join(next->repos, next->n_repos);
    int rc = 0;
    if (strcmp(was, now) != 0) {
        int64_t e0 = 0, l0 = 0, e1 = 0, l1 = 0;
        bool had = pgc_restorable_window(cfg, cat, c, &e0, &l0) == 0;
        char **repos = c->repos;
        size_t n = c->n_repos;
        c->repos = next->repos;
        c->n_repos = next->n_repos;
        next->repos = repos;
        next->n_repos = n;
        rc = pgc_cluster_save(cat, c);
        char *part = rd_asprintf("; repositories %s -> %s", was, now);
        rd_buf_append(changes, part, strlen(part));
        free(part);
        char from[32], to[32];
        rd_time_format(e0, from, sizeof from);
        bool has = rc == 0 && had && pgc_restorable_window(cfg, cat, c, &e1, &l1) == 0;
        rd_time_format(e1, to, sizeof to);
        if (rc == 0 && had && !has)
            RD_WARN("DB cluster %s: no backup is left in repositories %s, so nothing is "
                    "restorable (it was from %s) until the next create-db-cluster-snapshot",
                    c->id, now, from);
        else if (has && e1 > e0)
            RD_WARN("DB cluster %s: the repositories left out held its oldest backups: "
                    "EarliestRestorableTime moves from %s to %s", c->id, from, to);
    }
    free(was);
    free(now);
    return rc;
}

static int cmd_modify(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    pgc_cluster *c = NULL;
    const char *cmd = "modify-db-cluster";
    int rc = parse_args(cmd, argc, argv, "db-cluster-identifier backup-retention-period "
                        "preferred-backup-window deletion-protection no-deletion-protection port "
                        "apply-immediately synchronous-wal-streaming no-synchronous-wal-streaming "
                        "repos", false, &a);
    if (rc == 0)
        rc = require_id(cmd, &a);
    if (rc == 0 && !a.retention && !a.window && a.deletion_protection < 0 && !a.port &&
        a.synchronous < 0 && !a.repos)
        rc = cli_usage("db", cmd, "nothing to change; give --backup-retention-period, "
                       "--preferred-backup-window, --[no-]deletion-protection, "
                       "--[no-]synchronous-wal-streaming, --port or --repos");
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_cluster_get(cat, a.id, &c);
    pgc_cluster next = { 0 };
    if (rc == 0 && a.repos)
        rc = repos_prepare(cfg, c, a.repos, &next);
    if (rc < 0)
        goto out;
    rd_buf changes = RD_BUF_INIT;
    char part[256];
    if (a.retention && a.retention < c->backup_retention_period) {
        /* A shorter window gives up restore points: say which. */
        int64_t earliest = 0, latest = 0;
        char from[32], to[32];
        int64_t new_start = rd_clock_now() - (int64_t)a.retention * 86400;
        if (pgc_restorable_window(cfg, cat, c, &earliest, &latest) == 0 &&
            earliest < new_start) {
            rd_time_format(earliest, from, sizeof from);
            rd_time_format(new_start, to, sizeof to);
            RD_WARN("a %d-day retention period gives up restore points: at the next retention "
                    "pass of radiant serve, EarliestRestorableTime of DB cluster %s moves from "
                    "%s to about %s (manual snapshots stay restorable)", a.retention, c->id,
                    from, to);
        }
    }
    if (a.retention && a.retention != c->backup_retention_period) {
        snprintf(part, sizeof part, "; backup retention period %d -> %d days",
                 c->backup_retention_period, a.retention);
        rd_buf_append(&changes, part, strlen(part));
        c->backup_retention_period = a.retention;
    }
    if (a.window && strcmp(a.window, c->preferred_backup_window) != 0) {
        snprintf(part, sizeof part, "; preferred backup window %s -> %s",
                 c->preferred_backup_window, a.window);
        rd_buf_append(&changes, part, strlen(part));
        free(c->preferred_backup_window);
        c->preferred_backup_window = rd_strdup(a.window);
    }
    if (a.deletion_protection >= 0 && (a.deletion_protection == 1) != c->deletion_protection) {
        c->deletion_protection = a.deletion_protection == 1;
        snprintf(part, sizeof part, "; deletion protection %s",
                 c->deletion_protection ? "on" : "off");
        rd_buf_append(&changes, part, strlen(part));
    }
    if (a.synchronous >= 0 && (a.synchronous == 1) != c->synchronous_streaming) {
        c->synchronous_streaming = a.synchronous == 1;
        rc = synchronous_apply(cfg, c);
        snprintf(part, sizeof part, "; synchronous WAL streaming %s",
                 c->synchronous_streaming ? "on" : "off");
        rd_buf_append(&changes, part, strlen(part));
    }
    bool pending = false;
    if (rc == 0 && a.port && a.port != c->port) {
        if (!c->managed) {
            rc = cli_usage("db", cmd, "DB cluster %s was registered, not created by radiant; "
                           "change its port in its own configuration, then register it again",
                           c->id);
        } else {
            rc = check_not_busy(c, "modify");
            if (rc == 0)
                rc = pgc_port_check(cat, c->id, a.port);
        }
        bool running = rc == 0 && pgc_reachable(c);
        if (rc == 0 && running && a.apply_immediately)
            rc = pgc_stop(cfg, cat, c);
        if (rc == 0)
            rc = port_write(cfg, c, a.port, running && !a.apply_immediately);
        if (rc == 0) {
            snprintf(part, sizeof part, "; port %d -> %d%s", c->port, a.port,
                     running && !a.apply_immediately ? " (at the next restart)" : "");
            rd_buf_append(&changes, part, strlen(part));
            pending = running && !a.apply_immediately;
            if (!pending)
                c->port = a.port;
        }
        if (rc == 0 && running && a.apply_immediately) {
            rc = pgc_cluster_save(cat, c);
            if (rc == 0)
                rc = pgc_start(cfg, cat, c);
        }
    }
    if (rc == 0 && a.repos)
        rc = repos_apply(cfg, cat, c, &next, &changes);
    if (rc == 0)
        rc = pgc_cluster_save(cat, c);
    if (rc == 0 && changes.len) {
        rd_buf_append_u8(&changes, 0);
        note(cat, c->id, "configuration change", "Modified DB cluster: %s",
             (const char *)changes.data + 2);
    }
    if (rc == 0 && pending)
        RD_WARN("DB cluster %s: the port changes to %d when it restarts (stop-db-cluster, then "
                "start-db-cluster), or now with --apply-immediately", c->id, a.port);
    if (rc == 0)
        print_cluster_result(ctx, cfg, cat, c, "modified DB cluster %s%s%s", c->id,
                             changes.len ? ": " : " (nothing changed)",
                             changes.len ? (const char *)changes.data + 2 : "");
    rd_buf_free(&changes);
out:
    for (size_t i = 0; i < next.n_repos; i++)
        free(next.repos[i]);
    free(next.repos);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    return rc;
}

/* --------------------------------------------------------------- delete -- */

/* A registered cluster keeps running after radiant forgets it: stop it from
 * calling `radiant wal push` for a cluster that no longer exists. */
static void unregister_archiving(const pgc_cluster *c)
{
    char self[4096];
    pgc_archive_settings archive;
    pgc_archive_settings_make(&archive, pgc_self_path(self, sizeof self) ? self : "", NULL,
                              c->id);
    PGconn *conn = NULL;
    int rc = pgc_connect(c, &conn);
    if (rc == 0)
        rc = pgc_archive_settings_alter(conn, &archive);
    if (rc == 0)
        rc = pgc_alter_system(conn, "archive_mode", NULL);
    if (rc == 0)
        rc = pgc_alter_system(conn, "archive_timeout", NULL);
    char *ignored = NULL;
    if (rc == 0)
        rc = pgc_query_value(conn, "SELECT pg_reload_conf()", &ignored);
    free(ignored);
    PQfinish(conn);
    pgc_archive_settings_free(&archive);
    if (rc < 0)
        RD_WARN("DB cluster %s: could not reset archive_command (%s); reset it yourself, or "
                "WAL accumulates in pg_wal", c->id, rd_error());
    else
        RD_WARN("DB cluster %s: archive settings reset; restart the server so that "
                "archive_mode=off takes effect (until then WAL accumulates in pg_wal)", c->id);
}

static int cmd_delete(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    pgc_cluster *c = NULL;
    char *dir = NULL;
    const char *cmd = "delete-db-cluster";
    int rc = parse_args(cmd, argc, argv, "db-cluster-identifier skip-final-snapshot "
                        "final-db-snapshot-identifier", false, &a);
    if (rc == 0)
        rc = require_id(cmd, &a);
    if (rc == 0 && a.skip_final_snapshot == (a.final_snapshot != NULL))
        rc = cli_usage("db", cmd, "give exactly one of --skip-final-snapshot and "
                       "--final-db-snapshot-identifier NAME");
    if (rc == 0 && a.final_snapshot)
        rc = pgc_identifier_check(a.final_snapshot, "--final-db-snapshot-identifier");
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_cluster_get(cat, a.id, &c);
    if (rc == 0 && c->deletion_protection)
        rc = rd_fail(RD_EUSAGE, "DB cluster %s has deletion protection on; run 'radiant db "
                     "modify-db-cluster --db-cluster-identifier %s --no-deletion-protection' "
                     "first", c->id, c->id);
    if (rc < 0)
        goto out;
    if (a.final_snapshot) {
        /* The final snapshot is a base backup: the server must run. */
        if (c->managed && !pgc_reachable(c))
            rc = pgc_start(cfg, cat, c);
        if (rc == 0)
            rc = snapshot_with_progress(ctx, cfg, cat, c, a.final_snapshot);
        if (rc < 0) {
            rc = rd_fail_wrap(rc, "final snapshot %s of DB cluster %s failed; nothing was "
                              "deleted", a.final_snapshot, c->id);
            goto out;
        }
        note(cat, c->id, "backup", "Final snapshot %s created", a.final_snapshot);
    }
    note(cat, c->id, "deletion", "Deleting DB cluster");
    if (c->managed) {
        rc = pgc_stop(cfg, cat, c);
        /* No data directory (a create killed before initdb finished): there
         * is no server to stop, and deleting is how to clean up. */
        if (rc == -RD_ENOENT) {
            RD_INFO("%s; nothing to stop", rd_error());
            rc = 0;
        }
    }
    if (rc == 0) {
        free(c->status);
        c->status = rd_strdup("deleting");
        rc = pgc_cluster_set_status(cat, c->id, "deleting");
    }
    if (rc < 0) {
        rd_fail_wrap(rc, "cannot delete DB cluster %s", c->id);
        note(cat, c->id, "failure", "DB cluster deletion failed: %s", rd_error());
        goto out;
    }
    if (rc == 0 && !c->managed) {
        if (pgc_reachable(c))
            unregister_archiving(c);
        else
            RD_WARN("DB cluster %s is not running; before starting it again, remove "
                    "archive_command and archive_mode from %s/postgresql.auto.conf (radiant "
                    "no longer archives its WAL)", c->id, c->data_dir);
    }
    dir = pgc_cluster_dir(cfg, c->id);
    if (rc == 0 && c->managed) {
        /* A data directory outside STATE/clusters/ID came from data-dir in the
         * config; remove only what initdb made there. */
        char *pgv = rd_path_join(c->data_dir, "PG_VERSION");
        char *inside = rd_asprintf("%s/", dir);
        if (!rd_str_starts_with(c->data_dir, inside) && access(pgv, F_OK) == 0)
            rc = rd_fs_remove_tree(c->data_dir);
        free(inside);
        free(pgv);
    }
    if (rc == 0)
        rc = rd_fs_remove_tree(dir);
    /* A new cluster under the same identifier must never replay segments
     * prefetched for this one. */
    if (rc == 0)
        rc = pgc_wal_spool_remove(cfg, c->id);
    if (rc == 0)
        rc = pgc_stream_remove(cfg, cat, c->id);
    if (rc == 0)
        rc = pgc_cluster_remove(cat, c->id);
    if (rc < 0) {
        note(cat, c->id, "failure", "DB cluster deletion failed: %s", rd_error());
        goto out;
    }
    note(cat, c->id, "deletion", "DB cluster deleted");
    if (ctx->output == CLI_OUTPUT_JSON) {
        struct cluster_view v = { .version = NULL };
        cli_print_json(json_pack("{s:o}", "DBCluster", cluster_json(c, &v)));
    } else {
        printf("deleted DB cluster %s%s%s; its backups and WAL stay in the repositories\n",
               c->id, a.final_snapshot ? " after final snapshot " : "",
               a.final_snapshot ? a.final_snapshot : "");
    }
out:
    free(dir);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    return rc;
}

/* ----------------------------------------------------------------- wait -- */

static int cmd_wait(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    int rc = parse_args("wait", argc, argv, "db-cluster-identifier timeout", true, &a);
    if (rc == 0 && !a.positional)
        rc = cli_usage("db", "wait", "name a waiter: db-cluster-available");
    if (rc == 0 && strcmp(a.positional, "db-cluster-available") != 0)
        rc = cli_usage("db", "wait", "unknown waiter '%s'; the one waiter is "
                       "db-cluster-available", a.positional);
    if (rc == 0)
        rc = require_id("wait", &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_wait_available(cat, a.id, a.timeout_s ? a.timeout_s : DEFAULT_WAIT_S);
    rd_catalog_close(cat);
    return rc;
}

/* ------------------------------------------------------------- events -- */

static bool source_type_valid(const char *t)
{
    if (!*t || strlen(t) > 32)
        return false;
    for (const char *p = t; *p; p++)
        if ((*p < 'a' || *p > 'z') && *p != '-')
            return false;
    return true;
}

static int cmd_events(cli_ctx *ctx, int argc, char **argv)
{
    struct db_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    sqlite3_stmt *st = NULL;
    int rc = parse_args("describe-events", argc, argv, "source-identifier source-type duration",
                        false, &a);
    const char *type = a.source_type ? a.source_type : "db-cluster";
    if (rc == 0 && !source_type_valid(type))
        rc = cli_usage("db", "describe-events", "--source-type must be a name such as "
                       "db-cluster, not '%s'", type);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0 && sqlite3_prepare_v2(rd_catalog_db(cat),
                                      "SELECT time_us, source_id, category, message FROM events "
                                      "WHERE source_type = ?1 AND (?2 IS NULL OR source_id = ?2)"
                                      " AND time_us >= ?3 ORDER BY time_us, id", -1, &st,
                                      NULL) != SQLITE_OK)
        rc = rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(rd_catalog_db(cat)));
    if (rc < 0)
        goto out;
    int64_t minutes = a.duration_min ? a.duration_min : DEFAULT_EVENT_MINUTES;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    if (a.source_id)
        sqlite3_bind_text(st, 2, a.source_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, rd_clock_now_us() - minutes * 60 * 1000000);
    json_t *events = json_array();
    if (ctx->output == CLI_OUTPUT_TEXT)
        printf("%-20s %-28s %-20s %s\n", "DATE", "SOURCE", "CATEGORY", "MESSAGE");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char date[32];
        iso_time(sqlite3_column_int64(st, 0) / 1000000, date);
        const char *source = (const char *)sqlite3_column_text(st, 1);
        const char *category = (const char *)sqlite3_column_text(st, 2);
        const char *message = (const char *)sqlite3_column_text(st, 3);
        if (ctx->output == CLI_OUTPUT_TEXT)
            printf("%-20s %-28s %-20s %s\n", date, source, category, message);
        else
            json_array_append_new(events, json_pack("{s:s,s:s,s:s,s:s,s:[s]}",
                                                    "SourceIdentifier", source, "SourceType",
                                                    type, "Date", date, "Message", message,
                                                    "EventCategories", category));
    }
    if (step != SQLITE_DONE) {
        rc = rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(rd_catalog_db(cat)));
        json_decref(events);
    } else if (ctx->output == CLI_OUTPUT_JSON) {
        cli_print_json(json_pack("{s:o}", "Events", events));
    } else {
        json_decref(events);
    }
out:
    sqlite3_finalize(st);
    rd_catalog_close(cat);
    return rc;
}

/* ------------------------------------------------------------ commands -- */

#define RDS_SETTINGS \
    "  --backup-retention-period DAYS     days of point-in-time recovery (default 35)\n" \
    "  --preferred-backup-window HH:MM-HH:MM  daily backup window in UTC (default 03:00-04:00)\n" \
    "  --[no-]deletion-protection         refuse delete-db-cluster while on (default off)\n" \
    "  --[no-]storage-encrypted           require every repository to be encrypted\n" \
    "  --repos A,B                        [repo NAME]s for backups and WAL (default: all)\n" \
    "  --[no-]synchronous-wal-streaming   commits wait until radiant serve holds their WAL\n" \
    "                                     (no acknowledged commit lost; default off)\n" \
    "Values not given come from [cluster ID] in the configuration, else the defaults."

/* ---------------------------------------------------- snapshots, restores -- */

static json_t *snapshot_json(const pgc_snapshot *s, const char *status)
{
    char created[32], consistent[32];
    rd_time_format(s->start_time, created, sizeof created);
    rd_time_format(s->stop_time, consistent, sizeof consistent);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s}",
                     "DBClusterSnapshotIdentifier", s->snapshot_id,
                     "DBClusterIdentifier", s->cluster,
                     "SnapshotCreateTime", created,
                     "ConsistentTime", consistent,
                     "SnapshotType", s->kind,
                     "Status", status,
                     "Engine", "postgres",
                     "StartLSN", s->start_lsn,
                     "StopLSN", s->stop_lsn,
                     "Repository", s->repo,
                     "Timeline", s->timeline,
                     "AllocatedStorage", (json_int_t)s->logical_bytes,
                     "BackupId", s->backup_id);
}

static void print_snapshots(cli_ctx *ctx, const char *wrapper, pgc_snapshot *list, size_t n,
                            const char *status)
{
    if (ctx->output == CLI_OUTPUT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, snapshot_json(&list[i], status));
        if (strcmp(wrapper, "DBClusterSnapshots") == 0)
            cli_print_json(json_pack("{s:o}", wrapper, arr));
        else {
            cli_print_json(json_pack("{s:O}", wrapper, n ? json_array_get(arr, 0) : json_null()));
            json_decref(arr);
        }
        return;
    }
    printf("%-32s %-20s %-10s %-20s %-12s %s\n", "SNAPSHOT", "CLUSTER", "TYPE", "CONSISTENT",
           "REPO", "SIZE");
    for (size_t i = 0; i < n; i++) {
        char when[32], size[32];
        rd_time_format(list[i].stop_time, when, sizeof when);
        cli_format_bytes((double)list[i].logical_bytes, size, sizeof size);
        printf("%-32s %-20s %-10s %-20s %-12s %s\n", list[i].snapshot_id, list[i].cluster,
               list[i].kind, when, list[i].repo, size);
    }
}

static int require_snapshot_id(const char *cmd, const struct db_args *a, const char *flag)
{
    if (!a->snapshot_id)
        return cli_usage("db", cmd, "%s NAME is required", flag);
    return pgc_identifier_check(a->snapshot_id, flag);
}

static int cmd_snapshot_create(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "create-db-cluster-snapshot";
    struct db_args a;
    const rd_config *cfg = NULL;
    rd_catalog *cat = NULL;
    pgc_cluster *c = NULL;
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = parse_args(cmd, argc, argv, "db-cluster-identifier db-cluster-snapshot-identifier",
                        false, &a);
    if (rc == 0)
        rc = require_id(cmd, &a);
    if (rc == 0)
        rc = require_snapshot_id(cmd, &a, "--db-cluster-snapshot-identifier");
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_cluster_get(cat, a.id, &c);
    if (rc == 0)
        rc = check_not_busy(c, "snapshot");
    if (rc == 0 && !pgc_reachable(c))
        rc = rd_fail(RD_ENET, "DB cluster %s is not running; start it with start-db-cluster "
                     "first", a.id);
    if (rc == 0)
        rc = snapshot_with_progress(ctx, cfg, cat, c, a.snapshot_id);
    if (rc == 0)
        rc = pgc_snapshot_list(cfg, cat, a.id, a.snapshot_id, &list, &n);
    if (rc == 0)
        print_snapshots(ctx, "DBClusterSnapshot", list, n, "available");
    pgc_snapshot_list_free(list, n);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    return rc;
}

static int cmd_snapshots_describe(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "describe-db-cluster-snapshots";
    struct db_args a;
    const rd_config *cfg = NULL;
    rd_catalog *cat = NULL;
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = parse_args(cmd, argc, argv, "db-cluster-identifier db-cluster-snapshot-identifier "
                        "snapshot-type", false, &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_snapshot_list(cfg, cat, a.id, a.snapshot_id, &list, &n);
    /* One snapshot may be in several repositories: list it once (the first). */
    size_t kept = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = strcmp(list[j].snapshot_id, list[i].snapshot_id) == 0;
        if (dup || (a.snapshot_type && strcmp(list[i].kind, a.snapshot_type) != 0)) {
            pgc_snapshot_clear(&list[i]);
            continue;
        }
        pgc_snapshot tmp = list[i];
        list[i] = list[kept];
        list[kept++] = tmp;
    }
    if (rc == 0 && a.snapshot_id && kept == 0)
        rc = rd_fail(RD_ENOENT, "DB cluster snapshot %s not found", a.snapshot_id);
    if (rc == 0)
        print_snapshots(ctx, "DBClusterSnapshots", list, kept, "available");
    pgc_snapshot_list_free(list, n);
    rd_catalog_close(cat);
    return rc;
}

static int cmd_snapshot_delete(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "delete-db-cluster-snapshot";
    struct db_args a;
    const rd_config *cfg = NULL;
    rd_catalog *cat = NULL;
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = parse_args(cmd, argc, argv, "db-cluster-snapshot-identifier", false, &a);
    if (rc == 0)
        rc = require_snapshot_id(cmd, &a, "--db-cluster-snapshot-identifier");
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_snapshot_list(cfg, cat, NULL, a.snapshot_id, &list, &n);
    if (rc == 0)
        rc = pgc_snapshot_delete(cfg, cat, a.snapshot_id);
    if (rc == 0)
        print_snapshots(ctx, "DBClusterSnapshot", list, n ? 1 : 0, "deleted");
    pgc_snapshot_list_free(list, n);
    rd_catalog_close(cat);
    return rc;
}

static int restore_common(cli_ctx *ctx, const struct db_args *a, pgc_restore_options *o)
{
    const rd_config *cfg = NULL;
    rd_catalog *cat = NULL;
    pgc_cluster *c = NULL;
    char *config_path = config_abs(ctx);
    o->target = a->id;
    o->port = a->port;
    o->config_path = config_path;
    repo_progress progress = { 0 };
    int64_t replay_at = 0;
    o->progress = &progress;
    o->replay_at = &replay_at;
    int rc = open_catalog(ctx, &cfg, &cat);
    cli_progress *shown = rc == 0 ? cli_progress_start(ctx, "restoring the base backup",
                                                       &progress, &replay_at,
                                                       o->latest || o->snapshot_id ? 0 : o->time)
                                  : NULL;
    if (rc == 0)
        rc = pgc_restore(cfg, cat, o, &c);
    cli_progress_stop(shown);
    if (rc == 0)
        print_cluster_result(ctx, cfg, cat, c, "restored DB cluster %s from %s; accepting "
                             "writes on 127.0.0.1:%d", c->id, c->restored_from, c->port);
    pgc_cluster_free(c);
    rd_catalog_close(cat);
    free(config_path);
    return rc;
}

static int cmd_restore_pitr(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "restore-db-cluster-to-point-in-time";
    struct db_args a;
    int rc = parse_args(cmd, argc, argv, "source-db-cluster-identifier db-cluster-identifier "
                        "restore-to-time use-latest-restorable-time port", false, &a);
    pgc_restore_options o = { 0 };
    if (rc == 0 && !a.source_cluster)
        rc = cli_usage("db", cmd, "--source-db-cluster-identifier ID is required");
    if (rc == 0)
        rc = pgc_identifier_check(a.source_cluster, "--source-db-cluster-identifier");
    if (rc == 0)
        rc = require_id(cmd, &a);
    if (rc == 0 && !!a.restore_time == a.use_latest)
        rc = cli_usage("db", cmd, "give exactly one of --restore-to-time TIME and "
                       "--use-latest-restorable-time");
    if (rc == 0 && a.restore_time && rd_time_parse(a.restore_time, &o.time) != 0)
        rc = cli_usage("db", cmd, "--restore-to-time must be an ISO 8601 time such as "
                       "2024-12-24T10:30:00Z, not '%s'", a.restore_time);
    if (rc < 0)
        return rc;
    o.source = a.source_cluster;
    o.latest = a.use_latest;
    return restore_common(ctx, &a, &o);
}

static int cmd_restore_snapshot(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "restore-db-cluster-from-snapshot";
    struct db_args a;
    const rd_config *cfg = NULL;
    rd_catalog *cat = NULL;
    pgc_snapshot *list = NULL;
    size_t n = 0;
    int rc = parse_args(cmd, argc, argv, "snapshot-identifier db-cluster-identifier port", false,
                        &a);
    if (rc == 0)
        rc = require_snapshot_id(cmd, &a, "--snapshot-identifier");
    if (rc == 0)
        rc = require_id(cmd, &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = pgc_snapshot_list(cfg, cat, NULL, a.snapshot_id, &list, &n);
    if (rc == 0 && n == 0)
        rc = rd_fail(RD_ENOENT, "DB cluster snapshot %s not found; see "
                     "describe-db-cluster-snapshots", a.snapshot_id);
    rd_catalog_close(cat);
    if (rc == 0) {
        /* WAL up to the snapshot's consistent point comes from its cluster. */
        pgc_restore_options o = { .source = list[0].cluster, .snapshot_id = a.snapshot_id };
        rc = restore_common(ctx, &a, &o);
    }
    pgc_snapshot_list_free(list, n);
    return rc;
}

static const cli_command db_commands[] = {
    { "create-db-cluster", "create, start and protect a new PostgreSQL 15 cluster",
      "--db-cluster-identifier ID [--port P] [--data-dir DIR] [settings]\n\n"
      "  --port P        default: the first free port from 5432 up\n"
      "  --data-dir DIR  default: STATE/clusters/ID/data\n" RDS_SETTINGS, cmd_create },
    { "register-db-cluster", "protect an existing, running PostgreSQL cluster",
      "--db-cluster-identifier ID --data-dir DIR --port P [--socket-dir DIR] [settings]\n\n"
      "Sets archive_mode and archive_command with ALTER SYSTEM; a restart is needed when\n"
      "archive_mode was off.\n" RDS_SETTINGS, cmd_register },
    { "describe-db-clusters", "status, settings and restorable window of clusters",
      "[--db-cluster-identifier ID]", cmd_describe },
    { "start-db-cluster", "start a stopped cluster", "--db-cluster-identifier ID", cmd_start },
    { "stop-db-cluster", "stop a cluster (pg_ctl stop -m fast)", "--db-cluster-identifier ID",
      cmd_stop },
    { "modify-db-cluster", "change retention, backup window, deletion protection, port or "
      "repositories",
      "--db-cluster-identifier ID [--backup-retention-period DAYS]\n"
      "    [--preferred-backup-window HH:MM-HH:MM] [--deletion-protection | "
      "--no-deletion-protection]\n"
      "    [--synchronous-wal-streaming | --no-synchronous-wal-streaming]\n"
      "    [--port P [--apply-immediately]] [--repos A,B]\n\n"
      "A new port of a running cluster takes effect at its next restart, or at once (a\n"
      "restart now) with --apply-immediately. New repositories are used at once, by the\n"
      "next WAL push and backup; what only a left-out one holds is no longer restorable.",
      cmd_modify },
    { "delete-db-cluster", "delete a cluster; its backups and WAL stay in the repositories",
      "--db-cluster-identifier ID (--skip-final-snapshot | --final-db-snapshot-identifier NAME)"
      "\n\nRefused while deletion protection is on. A registered cluster is only forgotten.",
      cmd_delete },
    { "wait", "wait until a cluster is available (aws rds wait)",
      "db-cluster-available --db-cluster-identifier ID [--timeout DURATION]\n\n"
      "  --timeout DURATION  default 30m; 90, 90s, 15m, 1h", cmd_wait },
    { "describe-events", "events of clusters in the last minutes",
      "[--source-identifier ID] [--source-type db-cluster] [--duration MINUTES]\n\n"
      "  --duration MINUTES  default 60", cmd_events },
    { "create-db-cluster-snapshot", "take a manual base backup, kept until deleted",
      "--db-cluster-identifier ID --db-cluster-snapshot-identifier NAME", cmd_snapshot_create },
    { "describe-db-cluster-snapshots", "list base backups (snapshots) of clusters",
      "[--db-cluster-identifier ID] [--db-cluster-snapshot-identifier NAME]\n"
      "    [--snapshot-type manual|automated]", cmd_snapshots_describe },
    { "delete-db-cluster-snapshot", "delete a snapshot (prune frees its data)",
      "--db-cluster-snapshot-identifier NAME", cmd_snapshot_delete },
    { "restore-db-cluster-to-point-in-time", "restore a cluster as it was at a time into a "
      "new cluster",
      "--source-db-cluster-identifier SRC --db-cluster-identifier NEW\n"
      "    (--restore-to-time 2024-12-24T10:30:00Z | --use-latest-restorable-time) [--port P]\n\n"
      "The time must lie in the source's restorable window (describe-db-clusters:\n"
      "EarliestRestorableTime, LatestRestorableTime); exit 11 otherwise. Works from the\n"
      "repositories alone: the source may have been deleted.", cmd_restore_pitr },
    { "restore-db-cluster-from-snapshot", "restore a snapshot into a new cluster",
      "--snapshot-identifier NAME --db-cluster-identifier NEW [--port P]", cmd_restore_snapshot },
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_db_group = {
    "db", "PostgreSQL clusters: create, describe, modify, delete, wait, events (aws rds)",
    db_commands,
    true,
};
