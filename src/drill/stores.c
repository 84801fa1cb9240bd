/* The drill's two stores, whatever its scenario: the protected PostgreSQL
 * cluster (the drill's schema with its journal table) and the versioned
 * bucket (objects under the drill's prefix). The guide's drill runs "a
 * workload throughout", so both workloads write from the workload's start
 * to its end in every drill; the scenario breaks one store, and a recovery
 * that repairs that one while the other silently lost writes is no
 * recovery. So after the scenario's own measurement the other store is
 * checked against the ORIGINAL system, which the fault never touched:
 *
 *   - database untouched (accidental-deletion): every acknowledged
 *     transaction is in SCHEMA.journal of the source cluster with its hash;
 *     a write never acknowledged may be either;
 *   - objects untouched (db-corruption): every key reads back from the
 *     bucket as its last acknowledged upload (uploads of a key are
 *     sequential, from one thread, so that is its current version).
 *
 * Absent counts as lost, another hash as an integrity mismatch, both into
 * the result's counts (a loss in the untouched store fails the drill). RPO
 * stays the scenario's. Per store an observation "database workload" /
 * "object workload" says what was checked where; outside a sandbox a store
 * that was not named (--db-cluster-identifier, --bucket) is not invented:
 * its workload is skipped and the observation says so.
 *
 * Ephemeral: the sandbox's cluster drill-source is created at START (after
 * serve, which streams its WAL) and its base backup is taken at the end of
 * BASELINE, whatever the scenario. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "drill/orchestrate.h"

int drill_connect_source(drill_ctx *c, PGconn **conn)
{
    char err[512];
    *conn = drill_pg_connect(c->sb.cluster_port, err, sizeof err);
    return *conn ? 0 : rd_fail(RD_ENET, "cannot connect to DB cluster %s on port %d: %s",
                               c->sb.cluster, c->sb.cluster_port, err);
}

int drill_stores_start(drill_ctx *c)
{
    if (!c->sb.ephemeral || !(c->stores & DRILL_STORE_DB))
        return 0;
    int rc = drill_free_port(&c->sb.cluster_port);
    if (rc < 0)
        return rc;
    char port[16];
    snprintf(port, sizeof port, "%d", c->sb.cluster_port);
    c->sb.cluster = rd_strdup("drill-source");
    char *args[] = { "db", "create-db-cluster", "--db-cluster-identifier", c->sb.cluster,
                     "--port", port, NULL };
    drill_say(c, "start: radiant db create-db-cluster --db-cluster-identifier %s --port %s",
              c->sb.cluster, port);
    return drill_child_json(c->self, &c->sb, args, NULL);
}

int drill_stores_baseline(drill_ctx *c)
{
    if (!(c->stores & DRILL_STORE_DB))
        return 0;
    PGconn *conn = NULL;
    int rc = drill_connect_source(c, &conn);
    if (rc < 0)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s; CREATE TABLE %s.journal (id bigint PRIMARY "
             "KEY, payload text NOT NULL, sha256 text NOT NULL)", c->sb.schema, c->sb.schema);
    rc = drill_pg_exec(conn, sql);
    PQfinish(conn);
    if (rc == 0)
        drill_say(c, "baseline: schema %s with the workload's journal table in DB cluster %s",
                  c->sb.schema, c->sb.cluster);
    return rc;
}

int drill_stores_base_backup(drill_ctx *c)
{
    /* Outside a sandbox the cluster's own backups and WAL cover the schema. */
    if (!c->sb.ephemeral || !(c->stores & DRILL_STORE_DB))
        return 0;
    char *snap = rd_asprintf("%s-base", c->sb.cluster);
    char *args[] = { "db", "create-db-cluster-snapshot", "--db-cluster-identifier",
                     c->sb.cluster, "--db-cluster-snapshot-identifier", snap, NULL };
    int64_t t0 = rd_mono_ns();
    int rc = drill_child_json(c->self, &c->sb, args, NULL);
    if (rc == 0)
        drill_say(c, "baseline: base backup %s in %.1f s", snap,
                  (double)(rd_mono_ns() - t0) / 1e9);
    free(snap);
    return rc;
}

/* ------------------------------------------------------------- measure -- */

struct counts {
    uint64_t acknowledged, lost, mismatches, extra, checked;
};

int drill_db_mark_present(drill_ctx *c, PGconn *conn, const char *what, uint64_t *unknown)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, encode(sha256(convert_to(payload, 'UTF8')), 'hex') "
             "FROM %s.journal WHERE id > 0", c->sb.schema);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);
        int rc = rd_fail(RD_ENET, "reading the journal of %s: %.*s", what,
                         (int)strcspn(msg, "\n"), msg);
        PQclear(res);
        return rc;
    }
    /* Journal ids are 1..n: index the rows found by id. */
    int64_t max_id = 0;
    for (size_t i = 0; i < c->journal.n; i++)
        if (c->journal.w[i].kind == DRILL_WRITE_DB && c->journal.w[i].id > max_id)
            max_id = c->journal.w[i].id;
    const char **hash = rd_calloc((size_t)max_id + 1, sizeof *hash);
    *unknown = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        long long id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (id >= 1 && id <= max_id)
            hash[id] = PQgetvalue(res, i, 1);
        else
            (*unknown)++;
    }
    for (size_t i = 0; i < c->journal.n; i++) {
        drill_write *w = &c->journal.w[i];
        if (w->kind == DRILL_WRITE_DB) {
            const char *h = hash[w->id];
            w->present = !h ? 0 : strcmp(h, w->sha256) == 0 ? 1 : 2;
        }
    }
    free(hash);
    PQclear(res);
    return 0;
}

/* Every acknowledged transaction in the source cluster with its hash. */
static int check_db_source(drill_ctx *c, struct counts *n)
{
    PGconn *conn = NULL;
    int rc = drill_connect_source(c, &conn);
    if (rc < 0)
        return rc;
    char what[160];
    snprintf(what, sizeof what, "DB cluster %s", c->sb.cluster);
    uint64_t unknown;
    rc = drill_db_mark_present(c, conn, what, &unknown);
    PQfinish(conn);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < c->journal.n; i++) {
        drill_write *w = &c->journal.w[i];
        if (w->kind != DRILL_WRITE_DB || !w->ack_us)
            continue;          /* never acknowledged: may be either */
        n->acknowledged++;
        n->checked++;
        if (w->present == 0)
            n->lost++;
        else if (w->present == 2)
            n->mismatches++;
    }
    return 0;
}

/* The last acknowledged upload of each key reads back from the bucket
 * (walked newest first: a key already seen was superseded). */
static int check_objects_bucket(drill_ctx *c, struct counts *n)
{
    int rc = 0;
    const char **seen = NULL;
    size_t n_seen = 0;
    for (size_t i = c->journal.n; i-- > 0;) {
        drill_write *w = &c->journal.w[i];
        if (w->kind != DRILL_WRITE_OBJECT || !w->ack_us)
            continue;
        n->acknowledged++;
        bool superseded = false;
        for (size_t j = 0; j < n_seen && !superseded; j++)
            superseded = strcmp(seen[j], w->key) == 0;
        if (superseded || rc < 0)
            continue;
        seen = rd_realloc(seen, (n_seen + 1) * sizeof *seen);
        seen[n_seen++] = w->key;
        rd_buf b = RD_BUF_INIT;
        int g = s3_get_object(c->s3, w->key, 0, 0, &b);
        char got[65] = "";
        if (g == 0)
            drill_sha256_hex(b.data, b.len, got);
        rd_buf_free(&b);
        if (g < 0 && g != -RD_ENOENT) {
            rc = rd_fail_wrap(g, "reading %s back from bucket %s", w->key, c->sb.bucket);
            continue;
        }
        n->checked++;
        w->present = g == -RD_ENOENT ? 0 : strcmp(got, w->sha256) == 0 ? 1 : 2;
        if (w->present == 0)
            n->lost++;
        else if (w->present == 2)
            n->mismatches++;
    }
    free(seen);
    return rc;
}

static void observe(drill_ctx *c, unsigned store, const char *text)
{
    drill_result_observe(c->r, store == DRILL_STORE_DB ? "database workload"
                                                       : "object workload", text);
}

int drill_stores_measure(drill_ctx *c)
{
    drill_result *r = c->r;
    int rc = c->sc->measure(c);
    if (rc < 0)
        return rc;
    /* The scenario's own store: what its measure counted so far. */
    unsigned faulted = c->sc->store;
    char *text = rd_asprintf(
        "faulted store, checked on %s: %llu writes acknowledged, %llu lost, %llu other "
        "content, %llu extra", faulted == DRILL_STORE_DB ? "the restored cluster at the "
        "restore point" : "the bucket after the object-recovery runbook",
        (unsigned long long)r->writes_acknowledged, (unsigned long long)r->writes_lost,
        (unsigned long long)r->integrity_mismatches, (unsigned long long)r->writes_extra);
    observe(c, faulted, text);
    free(text);

    unsigned other = faulted == DRILL_STORE_DB ? DRILL_STORE_OBJECTS : DRILL_STORE_DB;
    if (!(c->stores & other))
        return 0;          /* skipped; PREPARE observed why */
    struct counts n = { 0 };
    rc = other == DRILL_STORE_DB ? check_db_source(c, &n) : check_objects_bucket(c, &n);
    if (rc < 0)
        return rd_fail_wrap(rc, "the untouched %s", other == DRILL_STORE_DB ? "database"
                                                                            : "bucket");
    r->writes_acknowledged += n.acknowledged;
    r->writes_lost += n.lost;
    r->integrity_mismatches += n.mismatches;
    if (other == DRILL_STORE_DB)
        text = rd_asprintf("untouched store, checked on the source cluster %s: %llu "
                           "transactions acknowledged, %llu lost, %llu other content",
                           c->sb.cluster, (unsigned long long)n.acknowledged,
                           (unsigned long long)n.lost, (unsigned long long)n.mismatches);
    else
        text = rd_asprintf("untouched store, checked on bucket %s: %llu uploads acknowledged, "
                           "the last of each of %llu keys read back: %llu lost, %llu other "
                           "content", c->sb.bucket, (unsigned long long)n.acknowledged,
                           (unsigned long long)n.checked, (unsigned long long)n.lost,
                           (unsigned long long)n.mismatches);
    observe(c, other, text);
    free(text);
    drill_say(c, "measure: untouched %s: %llu acknowledged, %llu lost, %llu other content",
              other == DRILL_STORE_DB ? "database" : "bucket",
              (unsigned long long)n.acknowledged, (unsigned long long)n.lost,
              (unsigned long long)n.mismatches);
    return 0;
}

/* ------------------------------------------------------------- cleanup -- */

void drill_stores_cleanup(drill_ctx *c)
{
    if (c->sb.ephemeral)
        return;
    PGconn *conn = NULL;
    if ((c->stores & DRILL_STORE_DB) && c->sb.schema && c->sb.cluster &&
        drill_connect_source(c, &conn) == 0) {
        char sql[256];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", c->sb.schema);
        if (drill_pg_exec(conn, sql) < 0)
            fprintf(stderr, "radiant: warning: cannot drop the drill's schema %s: %s\n",
                    c->sb.schema, rd_error());
        PQfinish(conn);
    }
    /* Every version under the drill's prefix goes (never the empty prefix). */
    if ((c->stores & DRILL_STORE_OBJECTS) && c->s3 && c->sb.prefix && c->sb.prefix[0]) {
        s3_version_list l = { 0 };
        if (s3_list_object_versions(c->s3, c->sb.prefix, &l) == 0)
            for (size_t i = 0; i < l.n; i++)
                s3_delete_object_version(c->s3, l.v[i].key, l.v[i].version_id);
        drill_say(c, "teardown: removed %zu versions under %s", l.n, c->sb.prefix);
        s3_version_list_free(&l);
    }
}
