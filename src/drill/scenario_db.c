/* Scenario db-corruption (dr-guide Scenario 2, "Database Corruption"): a
 * table dropped and journal rows deleted at a seeded moment; recovery is the
 * guide's point-in-time restore to the last whole second before the fault,
 * into a new cluster, through the database-recovery runbook.
 *
 * Everything the drill creates lives in a schema of its own,
 * radiant_drill_YYYYMMDD_HHMMSS_xxxx, in the source cluster: journal (the
 * workload's rows: id, payload, sha256; made by stores.c, as is the base
 * backup of a sandbox) and orders (the table the fault drops). Outside a sandbox the fault therefore only ever drops and deletes
 * the drill's own objects, and cleanup drops the schema and the restored
 * cluster.
 *
 * Measurement, with RP the restore point (a whole second, UTC) and T the
 * injection:
 *   - must be present: every write acknowledged at or before RP (its commit
 *     is at or before RP); absent = lost, another hash = integrity mismatch;
 *   - must be absent: every write sent after RP; present = extra;
 *   - writes sent before and acknowledged after RP may be either;
 *   - RPO = T - the acknowledgement of the newest journaled write present;
 *   - the dropped table must be back with the digest it had at baseline.
 * The uploads of the object workload, which runs throughout as well, are
 * checked by stores.c against the bucket, which the fault does not touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "drill/orchestrate.h"
#include "pg/pg.h"

#define ORDERS_ROWS 200
#define RESTORABLE_WAIT_S 60

static int child_json(drill_ctx *c, char *const args[], json_t **doc)
{
    return drill_child_json(c->self, &c->sb, args, doc);
}

static int connect_source(drill_ctx *c, PGconn **conn)
{
    return drill_connect_source(c, conn);
}

static int query_text(PGconn *conn, const char *sql, char *out, size_t len)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The first line: libpq adds LINE and a caret after it. */
        const char *msg = PQresultErrorMessage(res);
        rc = rd_fail(RD_ENET, "%.*s", (int)strcspn(msg, "\n"), msg);
    }
    else
        snprintf(out, len, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return rc;
}

static void orders_digest_sql(const drill_ctx *c, char *sql, size_t len)
{
    snprintf(sql, len, "SELECT encode(sha256(convert_to(coalesce(string_agg(id || ':' || item "
             "|| ':' || qty, ',' ORDER BY id), ''), 'UTF8')), 'hex') FROM %s.orders",
             c->sb.schema);
}

static int db_baseline(drill_ctx *c)
{
    PGconn *conn = NULL;
    int rc = connect_source(c, &conn);
    char sql[1024];
    snprintf(sql, sizeof sql, "CREATE TABLE %s.orders (id int PRIMARY KEY, item text NOT "
             "NULL, qty int NOT NULL); INSERT INTO %s.orders SELECT g, 'item-' || (g * 7919 "
             "%% 1000), 1 + g %% 9 FROM generate_series(1, %d) g", c->sb.schema, c->sb.schema,
             ORDERS_ROWS);
    if (rc == 0)
        rc = drill_pg_exec(conn, sql);
    orders_digest_sql(c, sql, sizeof sql);
    if (rc == 0)
        rc = query_text(conn, sql, c->baseline_digest, sizeof c->baseline_digest);
    if (conn)
        PQfinish(conn);
    if (rc < 0)
        return rc;
    drill_say(c, "baseline: %s.orders (%d rows)", c->sb.schema, ORDERS_ROWS);
    if (c->pgbench_scale > 0) {
        /* Size for the benchmark: the base backup and the restore grow with it. */
        char bin[512], scale[16], port[16];
        pgc_bin("pgbench", bin, sizeof bin);
        snprintf(scale, sizeof scale, "%d", c->pgbench_scale);
        snprintf(port, sizeof port, "%d", c->sb.cluster_port);
        char *argv[] = { bin, "-i", "-q", "-s", scale, "-h", "127.0.0.1", "-p", port, "-U",
                         "postgres", "postgres", NULL };
        int status = 0;
        int64_t t0 = rd_mono_ns();
        rc = pgc_exec(c->sb.cfg, argv, "/dev/null", &status);
        if (rc == 0 && status != 0)
            rc = rd_fail(RD_EIO, "pgbench -i -s %d failed (exit %d)", c->pgbench_scale,
                         status);
        if (rc < 0)
            return rc;
        drill_say(c, "baseline: pgbench -i -s %d in %.1f s", c->pgbench_scale,
                  (double)(rd_mono_ns() - t0) / 1e9);
        char obs[16];
        snprintf(obs, sizeof obs, "%d", c->pgbench_scale);
        drill_result_observe(c->r, "pgbench scale", obs);
    }
    return 0;
}

static int db_inject(drill_ctx *c)
{
    PGconn *conn = NULL;
    int rc = connect_source(c, &conn);
    if (rc < 0)
        return rc;
    int mod = 3 + (int)(drill_rand(c) % 5);
    int rem = (int)(drill_rand(c) % (uint64_t)mod);
    char sql[512];
    snprintf(sql, sizeof sql, "DROP TABLE %s.orders", c->sb.schema);
    c->injected_us = rd_clock_now_us();
    rc = drill_pg_exec(conn, sql);
    snprintf(sql, sizeof sql, "DELETE FROM %s.journal WHERE id %% %d = %d", c->sb.schema, mod,
             rem);
    PGresult *res = rc == 0 ? PQexec(conn, sql) : NULL;
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK)
        c->fault_rows = strtoll(PQcmdTuples(res), NULL, 10);
    else if (res)
        rc = rd_fail(RD_ENET, "%s", PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(conn);
    if (rc < 0)
        return rc;
    /* Restore to the second: the last whole second before the fault. */
    c->restore_point_us = (c->injected_us - 1) / 1000000 * 1000000;
    drill_say(c, "inject: DROP TABLE %s.orders; DELETE FROM %s.journal WHERE id %% %d = %d "
              "(%lld rows)", c->sb.schema, c->sb.schema, mod, rem, (long long)c->fault_rows);
    char obs[64];
    snprintf(obs, sizeof obs, "%lld", (long long)c->fault_rows);
    drill_result_observe(c->r, "journal rows deleted by the fault", obs);
    return 0;
}

/* Monitoring's view: the application's read of orders fails. */
static int db_detect(drill_ctx *c)
{
    PGconn *conn = NULL;
    int rc = connect_source(c, &conn);
    char sql[256], out[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.orders", c->sb.schema);
    for (int i = 0; rc == 0; i++) {
        if (query_text(conn, sql, out, sizeof out) < 0) {
            c->detected_us = rd_clock_now_us();
            drill_say(c, "detect: %s", rd_error());
            break;
        }
        if (i > 600)
            rc = rd_fail(RD_EINTERNAL, "the fault was not detected: %s.orders still answers",
                         c->sb.schema);
        else
            rc = drill_sleep_ms(100);
    }
    if (conn)
        PQfinish(conn);
    return rc;
}

/* The restore point must be restorable: LatestRestorableTime (what serve's
 * WAL receiver holds, within a second) at or past it. */
static int db_before_recovery(drill_ctx *c)
{
    int64_t rp = c->restore_point_us / 1000000;
    int64_t deadline = rd_mono_ns() + (int64_t)RESTORABLE_WAIT_S * 1000000000;
    char *args[] = { "db", "describe-db-clusters", "--db-cluster-identifier", c->sb.cluster,
                     NULL };
    for (;;) {
        json_t *doc = NULL;
        int rc = child_json(c, args, &doc);
        if (rc < 0)
            return rc;
        const char *latest = json_string_value(json_object_get(
            json_array_get(json_object_get(doc, "DBClusters"), 0), "LatestRestorableTime"));
        int64_t t = 0;
        bool ok = latest && rd_time_parse(latest, &t) == 0 && t >= rp;
        char seen[40];
        snprintf(seen, sizeof seen, "%s", latest ? latest : "none");
        json_decref(doc);
        if (ok) {
            drill_say(c, "recover: LatestRestorableTime %s covers the restore point", seen);
            return 0;
        }
        if (rd_mono_ns() > deadline)
            return rd_fail(RD_ERANGE, "the restore point is not restorable after %d s: "
                           "LatestRestorableTime of %s is %s", RESTORABLE_WAIT_S, c->sb.cluster,
                           seen);
        rc = drill_sleep_ms(200);
        if (rc < 0)
            return rc;
    }
}

static char **db_runbook_args(drill_ctx *c)
{
    char when[32];
    rd_time_format(c->restore_point_us / 1000000, when, sizeof when);
    if (!c->sb.restored_cluster)
        c->sb.restored_cluster = c->sb.ephemeral ? rd_strdup("drill-restored")
                                                 : rd_asprintf("radiant-%s", c->r->id);
    int port = 0;
    drill_free_port(&port);
    c->recovered_port = port;
    char **v = rd_calloc(12, sizeof *v);
    size_t k = 0;
    v[k++] = rd_strdup("--source-db-cluster-identifier");
    v[k++] = rd_strdup(c->sb.cluster);
    v[k++] = rd_strdup("--restore-to-time");
    v[k++] = rd_strdup(when);
    v[k++] = rd_strdup("--db-cluster-identifier");
    v[k++] = rd_strdup(c->sb.restored_cluster);
    v[k++] = rd_strdup("--port");
    v[k++] = rd_asprintf("%d", port);
    char obs[64];
    snprintf(obs, sizeof obs, "%s", when);
    drill_result_observe(c->r, "restore point", obs);
    return v;
}

/* The newest write acknowledged at or before the restore point. */
static const drill_write *newest_before(drill_ctx *c, int64_t limit_us)
{
    const drill_write *best = NULL;
    for (size_t i = 0; i < c->journal.n; i++) {
        const drill_write *w = &c->journal.w[i];
        if (w->kind == DRILL_WRITE_DB && w->ack_us && w->ack_us <= limit_us &&
            (!best || w->ack_us > best->ack_us))
            best = w;
    }
    return best;
}

static int connect_restored(drill_ctx *c, PGconn **conn)
{
    char err[512];
    *conn = drill_pg_connect(c->recovered_port, err, sizeof err);
    return *conn ? 0 : rd_fail(RD_ENET, "cannot connect to the restored cluster %s on port "
                               "%d: %s", c->sb.restored_cluster, c->recovered_port, err);
}

/* A verified read (the dropped table back with its digest, the newest row
 * before the restore point with its hash) and an accepted write. */
static int db_verify(drill_ctx *c)
{
    PGconn *conn = NULL;
    int rc = connect_restored(c, &conn);
    char sql[512], got[128];
    orders_digest_sql(c, sql, sizeof sql);
    if (rc == 0)
        rc = query_text(conn, sql, got, sizeof got);
    if (rc == 0 && strcmp(got, c->baseline_digest) != 0)
        rc = rd_fail(RD_ECORRUPT, "%s.orders on the restored cluster differs from the "
                     "baseline (digest %.12s, expected %.12s)", c->sb.schema, got,
                     c->baseline_digest);
    pthread_mutex_lock(&c->journal.mu);
    const drill_write *w = newest_before(c, c->restore_point_us);
    int64_t id = w ? w->id : 0;
    char want[65] = "";
    if (w)
        memcpy(want, w->sha256, sizeof want);
    pthread_mutex_unlock(&c->journal.mu);
    if (rc == 0 && id) {
        snprintf(sql, sizeof sql, "SELECT encode(sha256(convert_to(payload, 'UTF8')), 'hex') "
                 "FROM %s.journal WHERE id = %lld", c->sb.schema, (long long)id);
        rc = query_text(conn, sql, got, sizeof got);
        if (rc == 0 && strcmp(got, want) != 0)
            rc = rd_fail(RD_ECORRUPT, "journal row %lld on the restored cluster is %s, "
                         "expected its hash %.12s", (long long)id,
                         got[0] ? "another content" : "missing", want);
    }
    snprintf(sql, sizeof sql, "INSERT INTO %s.journal VALUES (-1, 'written after recovery', "
             "'-')", c->sb.schema);
    if (rc == 0)
        rc = drill_pg_exec(conn, sql);
    if (rc == 0) {
        c->recovered_us = rd_clock_now_us();
        drill_say(c, "verify: %s.orders digest matches, journal row %lld matches its hash, "
                  "a write was accepted", c->sb.schema, (long long)id);
    }
    if (conn)
        PQfinish(conn);
    return rc;
}

static int db_measure(drill_ctx *c)
{
    PGconn *conn = NULL;
    int rc = connect_restored(c, &conn);
    if (rc < 0)
        return rc;
    uint64_t unknown;
    rc = drill_db_mark_present(c, conn, "the restored cluster", &unknown);
    PQfinish(conn);
    if (rc < 0)
        return rc;
    drill_result *r = c->r;
    int64_t rp = c->restore_point_us, newest = 0;
    uint64_t must = 0, must_not = 0;
    for (size_t i = 0; i < c->journal.n; i++) {
        drill_write *w = &c->journal.w[i];
        if (w->kind != DRILL_WRITE_DB)
            continue;
        if (w->ack_us)
            r->writes_acknowledged++;
        if (w->ack_us && w->ack_us <= rp) {
            must++;
            if (w->present == 0)
                r->writes_lost++;
        } else if (w->sent_us > rp) {
            must_not++;
            if (w->present)
                r->writes_extra++;
        }
        if (w->present == 2)
            r->integrity_mismatches++;
        if (w->present && w->ack_us && w->ack_us > newest)
            newest = w->ack_us;
    }
    r->writes_extra += unknown;
    r->rpo_s = newest ? (double)(c->injected_us - newest) / 1e6 : DRILL_UNMEASURED;
    char obs[128];
    snprintf(obs, sizeof obs, "%llu (all present: %s)", (unsigned long long)must,
             r->writes_lost ? "no" : "yes");
    drill_result_observe(r, "writes acknowledged by the restore point", obs);
    snprintf(obs, sizeof obs, "%llu (all absent: %s)", (unsigned long long)must_not,
             r->writes_extra ? "no" : "yes");
    drill_result_observe(r, "writes sent after the restore point", obs);
    drill_result_observe(r, "restored cluster", c->sb.restored_cluster);
    drill_say(c, "measure: %llu writes acknowledged by the restore point, %llu lost; %llu sent "
              "after it, %llu present; %llu integrity mismatches", (unsigned long long)must,
              (unsigned long long)r->writes_lost, (unsigned long long)must_not,
              (unsigned long long)r->writes_extra,
              (unsigned long long)r->integrity_mismatches);
    if (!r->writes_lost && !r->writes_extra && !r->integrity_mismatches) {
        char when[32];
        rd_time_format(rp / 1000000, when, sizeof when);
        char *note = rd_asprintf("restored to %s into %s: the dropped table is back with its "
                                 "digest and all %llu journaled writes acknowledged by then "
                                 "match their hash, none sent later is there", when,
                                 c->sb.restored_cluster, (unsigned long long)must);
        drill_result_check(r, DRILL_CHECK_PITR, note);
        free(note);
    }
    return 0;
}

/* Outside a sandbox: the restored cluster goes (stores.c drops the
 * drill's schema on the source); nothing else is touched. */
static void db_cleanup(drill_ctx *c)
{
    if (c->sb.ephemeral)
        return;
    if (c->sb.restored_cluster) {
        char *mod[] = { "db", "modify-db-cluster", "--db-cluster-identifier",
                        c->sb.restored_cluster, "--no-deletion-protection", NULL };
        char *del[] = { "db", "delete-db-cluster", "--db-cluster-identifier",
                        c->sb.restored_cluster, "--skip-final-snapshot", NULL };
        int status;
        if (drill_child_run(c->self, &c->sb, mod, 120, NULL, &status) == 0 && status == 4)
            return;      /* never created */
        if (drill_child_run(c->self, &c->sb, del, 300, NULL, &status) < 0 || status != 0)
            fprintf(stderr, "radiant: warning: cannot delete the restored cluster %s: %s\n",
                    c->sb.restored_cluster, rd_error());
        else
            drill_say(c, "teardown: deleted the restored cluster %s", c->sb.restored_cluster);
    }
}

const drill_scenario drill_scenario_db = {
    .name = "db-corruption",
    .summary = "a table dropped and rows deleted; point-in-time restore into a new cluster",
    .store = DRILL_STORE_DB,
    .runbook = "database-recovery",
    .baseline = db_baseline,
    .inject = db_inject,
    .detect = db_detect,
    .before_recovery = db_before_recovery,
    .runbook_args = db_runbook_args,
    .verify = db_verify,
    .measure = db_measure,
    .cleanup = db_cleanup,
};
