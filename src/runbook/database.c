/* The database-recovery runbook: dr-guide "Database Recovery Runbook"
 * (database-recovery.sh) step by step on radiant clusters. Restore the source
 * cluster as it was at a time into a new cluster, wait until it is available,
 * check that it reads and writes, and give its endpoint.
 *
 *   guide                                        step here
 *   CLUSTER_ID, RESTORE_TIME, NEW_CLUSTER_ID      resolve
 *   aws rds restore-db-cluster-to-point-in-time   restore-db-cluster-to-point-in-time
 *   aws rds wait db-cluster-available             wait db-cluster-available
 *   aws rds create-db-instance, wait db-instance-available
 *                                                 (none: a radiant cluster is its own
 *                                                 instance, a PostgreSQL server that
 *                                                 accepts connections once restored)
 *   (set -e trusts the waiter)                    verify
 *   describe-db-clusters --query Endpoint         endpoint
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "pg/pg.h"
#include "runbook/runbook.h"

#define DEFAULT_AGO_S 3600             /* RESTORE_TIME="${1:-$(date -d '1 hour ago')}" */
#define DEFAULT_WAIT_S 1800            /* as `radiant db wait` */

/* What the steps share (ctx->state). */
struct dbr {
    rd_catalog *cat;
    const char *source;
    char target[64];
    int64_t time;                      /* the restore time, seconds */
    bool latest;                       /* --use-latest-restorable-time */
    int port;                          /* 0: the first free one */
    int64_t timeout_s;
    bool touched_target;               /* the restore began: events go to the new cluster */
    pgc_cluster *cluster;              /* the restored cluster, once restored */
};

static int parse_port(const char *text, int *port)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* Formats and flags that exclude each other are usage errors (exit 2)
 * before anything runs; whether the source and the time exist is step 1's. */
static int dbr_check(const rb_args *args)
{
    const char *source = rb_args_get(args, "source-db-cluster-identifier");
    const char *target = rb_args_get(args, "db-cluster-identifier");
    const char *when = rb_args_get(args, "restore-to-time");
    const char *port = rb_args_get(args, "port");
    const char *timeout = rb_args_get(args, "timeout");
    int64_t t;
    int p;
    int rc = pgc_identifier_check(source, "--source-db-cluster-identifier");
    if (rc == 0 && target)
        rc = pgc_identifier_check(target, "--db-cluster-identifier");
    if (rc == 0 && when && rb_args_get(args, "use-latest-restorable-time"))
        rc = rd_fail(RD_EUSAGE, "give at most one of --restore-to-time and "
                     "--use-latest-restorable-time");
    if (rc == 0 && when && rd_time_parse(when, &t) != 0)
        rc = rd_fail(RD_EUSAGE, "--restore-to-time must be an ISO 8601 time such as "
                     "2024-12-24T10:30:00Z, not '%s'", when);
    if (rc == 0 && port && parse_port(port, &p) != 0)
        rc = rd_fail(RD_EUSAGE, "--port must be a port number 1-65535, not '%s'", port);
    if (rc == 0 && timeout && (rd_duration_parse(timeout, &t) != 0 || t <= 0))
        rc = rd_fail(RD_EUSAGE, "--timeout must be a duration such as 600, 90s, 15m or 1h, "
                     "not '%s'", timeout);
    return rc;
}

/* Step 1: the guide's variables, checked before anything is created. */
static int step_resolve(rb_context *ctx)
{
    struct dbr *d = ctx->state;
    const rb_args *a = ctx->args;
    d->source = rb_args_get(a, "source-db-cluster-identifier");
    d->latest = rb_args_get(a, "use-latest-restorable-time") != NULL;
    const char *when = rb_args_get(a, "restore-to-time");
    const char *target = rb_args_get(a, "db-cluster-identifier");
    const char *port = rb_args_get(a, "port");
    const char *timeout = rb_args_get(a, "timeout");
    d->timeout_s = DEFAULT_WAIT_S;
    if (timeout)
        rd_duration_parse(timeout, &d->timeout_s);
    if (port)
        parse_port(port, &d->port);
    int64_t now = rd_clock_now();
    if (when)
        rd_time_parse(when, &d->time);
    else
        d->time = now - DEFAULT_AGO_S;
    if (target) {
        snprintf(d->target, sizeof d->target, "%s", target);
    } else {
        /* NEW_CLUSTER_ID="radiant-dr-$(date +%Y%m%d%H%M)", in UTC here so
         * that two hosts name the same minute alike. */
        time_t tt = (time_t)now;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(d->target, sizeof d->target, "radiant-dr-%Y%m%d%H%M", &tm);
    }
    rb_output_str(ctx, "SourceDBClusterIdentifier", "%s", d->source);
    rb_output_str(ctx, "DBClusterIdentifier", "%s", d->target);

    int rc = pgc_catalog_open(ctx->cfg, &d->cat);
    if (rc < 0)
        return rc;
    /* A deleted source is still restorable from its repositories: the
     * catalog is not the judge of whether it exists, its backups are. */
    pgc_cluster *src = NULL;
    bool in_catalog = pgc_cluster_get(d->cat, d->source, &src) == 0;
    pgc_cluster_free(src);
    int64_t earliest = 0, latest = 0;
    rc = pgc_restorable_window_id(ctx->cfg, d->cat, d->source, &earliest, &latest);
    if (rc == -RD_ENOENT && !in_catalog)
        return rd_fail(RD_ENOENT, "DB cluster %s not found: it is not in the catalog and the "
                       "repositories hold no backup of it; see 'radiant db "
                       "describe-db-clusters'", d->source);
    if (rc < 0)
        return rc;
    char e[32], l[32], t[32];
    rd_time_format(earliest, e, sizeof e);
    rd_time_format(latest, l, sizeof l);
    if (d->latest)
        d->time = latest;
    rd_time_format(d->time, t, sizeof t);
    rb_output_str(ctx, "EarliestRestorableTime", "%s", e);
    rb_output_str(ctx, "LatestRestorableTime", "%s", l);
    rb_output_str(ctx, "RestoreToTime", "%s", t);
    if (!d->latest && (d->time < earliest || d->time > latest))
        return rd_fail(RD_ERANGE, "%s%s is outside the restorable window of DB cluster %s: "
                       "EarliestRestorableTime %s, LatestRestorableTime %s%s", t,
                       when ? "" : " (the default, 1 hour ago)", d->source, e, l,
                       when ? "" : "; give --restore-to-time or --use-latest-restorable-time");

    pgc_cluster *existing = NULL;
    if (pgc_cluster_get(d->cat, d->target, &existing) == 0) {
        pgc_cluster_free(existing);
        return rd_fail(RD_EEXIST, "DB cluster %s already exists; choose another "
                       "--db-cluster-identifier", d->target);
    }
    rd_error_clear();
    if (d->port && (rc = pgc_port_check(d->cat, d->target, d->port)) < 0)
        return rc;
    rb_message(ctx, "source %s (%s), restore time %s%s, window %s to %s, new cluster %s",
               d->source, in_catalog ? "in the catalog" : "deleted: from its repositories", t,
               d->latest ? " (latest restorable)" : when ? "" : " (1 hour ago)", e, l,
               d->target);
    return 0;
}

/* Step 2: aws rds restore-db-cluster-to-point-in-time. */
static int step_restore(rb_context *ctx)
{
    struct dbr *d = ctx->state;
    char t[32];
    rd_time_format(d->time, t, sizeof t);
    d->touched_target = true;
    pgc_event(d->cat, d->target, "notification", "runbook %s started: restoring %s to %s",
              ctx->runbook->name, d->source, d->latest ? "the latest restorable time" : t);
    pgc_restore_options o = {
        .source = d->source, .target = d->target, .time = d->time, .latest = d->latest,
        .port = d->port, .config_path = ctx->config_path,
    };
    int rc = pgc_restore(ctx->cfg, d->cat, &o, &d->cluster);
    if (rc < 0)
        return rc;
    rb_output_int(ctx, "Port", d->cluster->port);
    rb_message(ctx, "restored %s into %s on port %d", d->cluster->restored_from, d->target,
               d->cluster->port);
    return 0;
}

/* Step 3: aws rds wait db-cluster-available. pgc_restore returns once the
 * server accepts writes, so this is quick; it is kept because it is the
 * guide's check, done the way `radiant db wait` does it. */
static int step_wait(rb_context *ctx)
{
    struct dbr *d = ctx->state;
    int rc = pgc_wait_available(d->cat, d->target, d->timeout_s);
    if (rc == 0)
        rb_message(ctx, "DB cluster %s is available and accepts connections", d->target);
    return rc;
}

/* Step 4: a read and a write. txid_current() assigns a transaction id,
 * which a server still in recovery (or read-only) refuses; a rolled-back
 * temporary table would prove nothing about the data directory. */
static int step_verify(rb_context *ctx)
{
    struct dbr *d = ctx->state;
    PGconn *conn = NULL;
    char *one = NULL, *recovery = NULL, *xid = NULL;
    int rc = pgc_connect(d->cluster, &conn);
    if (rc == 0)
        rc = pgc_query_value(conn, "SELECT 1", &one);
    if (rc == 0 && (!one || strcmp(one, "1") != 0))
        rc = rd_fail(RD_EIO, "DB cluster %s answered SELECT 1 with '%s'", d->target,
                     one ? one : "nothing");
    if (rc == 0)
        rc = pgc_query_value(conn, "SELECT pg_is_in_recovery()", &recovery);
    if (rc == 0 && (!recovery || strcmp(recovery, "f") != 0))
        rc = rd_fail(RD_EIO, "DB cluster %s is still in recovery; it was not promoted",
                     d->target);
    if (rc == 0)
        rc = pgc_query_value(conn, "SELECT txid_current()", &xid);
    if (rc == 0)
        rb_message(ctx, "read: SELECT 1; write: txid_current() assigned transaction %s",
                   xid ? xid : "?");
    free(one);
    free(recovery);
    free(xid);
    if (conn)
        PQfinish(conn);
    return rc;
}

/* Step 5: describe-db-clusters --query 'DBClusters[0].Endpoint'. Read back
 * from the catalog, as describe would, rather than trusted from step 2. */
static int step_endpoint(rb_context *ctx)
{
    struct dbr *d = ctx->state;
    pgc_cluster *c = NULL;
    int rc = pgc_cluster_get(d->cat, d->target, &c);
    if (rc < 0)
        return rc;
    rb_output_str(ctx, "Endpoint", "127.0.0.1");
    rb_output_int(ctx, "Port", c->port);
    rb_output_str(ctx, "Status", "%s", c->status);
    rb_message(ctx, "Endpoint: 127.0.0.1:%d (DB cluster %s, %s)", c->port, c->id, c->status);
    pgc_cluster_free(c);
    return 0;
}

static void dbr_finish(rb_context *ctx)
{
    struct dbr *d = ctx->state;
    const rb_run *r = ctx->run;
    if (d->cat && d->touched_target) {
        int64_t total_ns = 0;
        for (size_t i = 0; i < r->n_steps; i++)
            total_ns += r->steps[i].duration_ns;
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", rd_error());
        int rc;
        if (r->rc == 0)
            rc = pgc_event(d->cat, d->target, "notification", "runbook %s succeeded in %.1f s; "
                           "endpoint 127.0.0.1:%d", ctx->runbook->name, (double)total_ns / 1e9,
                           d->cluster ? d->cluster->port : 0);
        else
            rc = pgc_event(d->cat, d->target, "failure", "runbook %s failed at step %s: %s",
                           ctx->runbook->name, r->steps[r->failed_step].name,
                           r->error ? r->error : "");
        if (rc < 0)
            RD_WARN("could not record the end of runbook %s: %s", ctx->runbook->name,
                    rd_error());
        rd_fail(RD_EINTERNAL, "%s", saved);
    }
    pgc_cluster_free(d->cluster);
    rd_catalog_close(d->cat);
}

static const rb_param params[] = {
    { "source-db-cluster-identifier", "ID", "the cluster to recover (may have been deleted)",
      true },
    { "restore-to-time", "TIME", "ISO 8601, e.g. 2024-12-24T09:00:00Z (default: 1 hour ago)",
      false },
    { "use-latest-restorable-time", NULL, "restore everything archived instead", false },
    { "db-cluster-identifier", "NEW", "the new cluster (default: radiant-dr-YYYYMMDDHHMM, UTC)",
      false },
    { "port", "P", "port of the new cluster (default: the first free one from 5432 up)",
      false },
    { "timeout", "DURATION", "how long to wait for the cluster to be available (default 30m)",
      false },
    { NULL, NULL, NULL, false },
};

static const rb_step steps[] = {
    { "resolve", "check the source, the restore time and the new identifier", step_resolve },
    { "restore-db-cluster-to-point-in-time", "restore the source as it was at the time into "
      "the new cluster", step_restore },
    { "wait db-cluster-available", "wait until the new cluster is available and accepts "
      "connections", step_wait },
    { "verify", "a read and a write on the new cluster", step_verify },
    { "endpoint", "the new cluster's endpoint (describe-db-clusters)", step_endpoint },
};

const rb_runbook rb_database_recovery = {
    .name = "database-recovery",
    .summary = "restore a DB cluster to a point in time into a new cluster, verify it, give "
               "its endpoint",
    .params = params,
    .steps = steps,
    .n_steps = sizeof steps / sizeof steps[0],
    .flags = RB_NEEDS_CONFIG | RB_POSTGRES,
    .state_size = sizeof(struct dbr),
    .check = dbr_check,
    .finish = dbr_finish,
};
