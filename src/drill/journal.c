/* The drill's workload and its journal: transactions into PostgreSQL and
 * uploads into the bucket, each recorded with its id, the SHA-256 of its
 * content, when it was sent and when it was acknowledged. The measurement
 * (scenario_*.c) judges the recovered system against this journal only: a
 * write acknowledged before the point recovery promises must be there with
 * the same hash, a write sent after it must not.
 *
 * Both workloads run in every drill whose stores are in play (c->stores:
 * both in a sandbox), whatever the scenario breaks: the store the fault
 * leaves alone must lose nothing either (stores.c checks it). Each journaled
 * write says which store it went to ("kind") and whether the fault hit that
 * store ("faulted").
 *
 * Two threads, each with its own connection and its own seeded generator
 * (so a seed replays the same payloads and keys): the DB writer commits one
 * row at a time (autocommit: the acknowledgement is the commit), the object
 * writer uploads one object at a time under obj_mu, which the injection of
 * accidental-deletion takes so that no upload straddles the fault. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/fs.h"
#include "drill/internal.h"
#include "drill/orchestrate.h"

#define DB_INTERVAL_MS 20          /* ~50 commits a second */
#define OBJ_INTERVAL_MS 40         /* ~25 uploads a second */
#define OBJ_KEYS 24                /* keys under data/; the first 4 are hot */
#define OBJ_HOT 4

/* -------------------------------------------------------------- helpers -- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t drill_rand(drill_ctx *c) { return splitmix(&c->rng); }

void drill_say(drill_ctx *c, const char *fmt, ...)
{
    if (!c->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->progress, "[drill] ");
    vfprintf(c->progress, fmt, ap);
    fprintf(c->progress, "\n");
    fflush(c->progress);
    va_end(ap);
}

void drill_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t d[RD_SHA256_LEN];
    rd_sha256(data, len, d);
    rd_hex_encode(d, sizeof d, out);
}

/* NOTICEs ("drop cascades to ...") are not for the drill's output. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *drill_pg_connect(int port, char *err, size_t errlen)
{
    char info[160];
    snprintf(info, sizeof info, "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "connect_timeout=5 application_name=radiant-drill", port);
    PGconn *conn = PQconnectdb(info);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(conn));
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            err[--n] = '\0';
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    return conn;
}

int drill_pg_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            msg[--n] = '\0';
        rc = rd_fail(RD_ENET, "%s", msg);
    }
    PQclear(res);
    return rc;
}

/* -------------------------------------------------------------- journal -- */

void drill_journal_init(drill_journal *j)
{
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
}

void drill_journal_free(drill_journal *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->w[i].key);
    free(j->w);
    pthread_mutex_destroy(&j->mu);
    memset(j, 0, sizeof *j);
}

size_t drill_journal_add(drill_journal *j, const drill_write *w)
{
    pthread_mutex_lock(&j->mu);
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 256;
        j->w = rd_realloc(j->w, j->cap * sizeof *j->w);
    }
    size_t idx = j->n++;
    j->w[idx] = *w;
    j->w[idx].key = w->key ? rd_strdup(w->key) : NULL;
    j->w[idx].present = -1;
    pthread_mutex_unlock(&j->mu);
    return idx;
}

int drill_journal_save(drill_journal *j, const char *path, const char *const *event_names,
                       const int64_t *event_times, size_t n_events)
{
    rd_buf b = RD_BUF_INIT;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n; i++) {
        const drill_write *w = &j->w[i];
        json_t *o = json_pack("{s:s,s:b,s:I,s:s?,s:s,s:I,s:o,s:o}", "kind",
                              w->kind == DRILL_WRITE_DB ? "db" : "object", "faulted",
                              (int)w->faulted, "id",
                              (json_int_t)w->id, "key", w->key, "sha256", w->sha256,
                              "sent_us", (json_int_t)w->sent_us, "ack_us",
                              w->ack_us ? json_integer(w->ack_us) : json_null(),
                              "measured", w->present == 1   ? json_string("present")
                                          : w->present == 0 ? json_string("absent")
                                          : w->present == 2 ? json_string("other-content")
                                                            : json_null());
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        rd_buf_puts(&b, line);
        rd_buf_append(&b, "\n", 1);
        free(line);
        json_decref(o);
    }
    pthread_mutex_unlock(&j->mu);
    for (size_t i = 0; i < n_events; i++) {
        if (!event_times[i])
            continue;
        json_t *o = json_pack("{s:s,s:I}", "event", event_names[i], "time_us",
                              (json_int_t)event_times[i]);
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        rd_buf_puts(&b, line);
        rd_buf_append(&b, "\n", 1);
        free(line);
        json_decref(o);
    }
    int rc = rd_fs_write_atomic(path, b.data ? (const char *)b.data : "", b.len, 0644);
    rd_buf_free(&b);
    return rc;
}

/* ----------------------------------------------------------- DB writer -- */

static bool time_is_up(drill_ctx *c)
{
    return c->workload_stop || drill_interrupted ||
           rd_clock_now_us() >= c->workload_start_us + (int64_t)c->duration_s * 1000000;
}

static void nap(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static void *db_writer(void *arg)
{
    drill_ctx *c = arg;
    uint64_t rng = c->r->seed ^ 0xDB0DB0DB0ULL;
    char err[512] = "";
    PGconn *conn = NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO %s.journal (id, payload, sha256) VALUES ($1, $2, "
             "$3)", c->sb.schema);
    for (int64_t id = 1; !time_is_up(c); id++) {
        if (!conn && !(conn = drill_pg_connect(c->sb.cluster_port, err, sizeof err))) {
            nap(200);
            id--;
            continue;
        }
        char payload[1100];
        size_t len = 64 + splitmix(&rng) % 448;
        for (size_t i = 0; i < len; i += 16) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)splitmix(&rng));
            memcpy(payload + i, hex, len - i < 16 ? len - i : 16);
        }
        payload[len] = '\0';
        drill_write w = { .kind = DRILL_WRITE_DB, .id = id,
                          .faulted = c->sc->store == DRILL_STORE_DB };
        drill_sha256_hex(payload, len, w.sha256);
        char idtext[32];
        snprintf(idtext, sizeof idtext, "%lld", (long long)id);
        const char *values[3] = { idtext, payload, w.sha256 };
        w.sent_us = rd_clock_now_us();
        PGresult *res = PQexecParams(conn, sql, 3, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            w.ack_us = rd_clock_now_us();
        else
            snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
        PQclear(res);
        drill_journal_add(&c->journal, &w);
        if (PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            conn = NULL;
        }
        nap(DB_INTERVAL_MS);
    }
    if (conn)
        PQfinish(conn);
    return NULL;
}

/* ------------------------------------------------------- object writer -- */

int drill_object_put(drill_ctx *c, const char *key, uint64_t *rng, bool workload)
{
    size_t len = 256 + splitmix(rng) % 3840;
    uint8_t *data = rd_malloc(len);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(rng);
        memcpy(data + i, &v, len - i < 8 ? len - i : 8);
    }
    char full[512];
    pthread_mutex_lock(&c->obj_mu);
    /* Once the fault is in the bucket, the application writes on elsewhere
     * (live/): the deleted prefix is left to the recovery, as an operator
     * would quarantine it, so the runbook's verify sees only its own work. */
    bool faulted = c->sc->store == DRILL_STORE_OBJECTS;
    if (workload && faulted && c->injected_us && strncmp(key, "data/", 5) == 0)
        snprintf(full, sizeof full, "%slive/%s", c->sb.prefix, key + 5);
    else
        snprintf(full, sizeof full, "%s%s", c->sb.prefix, key);
    drill_write w = { .kind = DRILL_WRITE_OBJECT, .id = ++c->next_object, .key = full,
                      .faulted = faulted };
    drill_sha256_hex(data, len, w.sha256);
    w.sent_us = rd_clock_now_us();
    int rc = s3_put_object(c->s3, full, data, len);
    if (rc == 0)
        w.ack_us = rd_clock_now_us();
    drill_journal_add(&c->journal, &w);
    pthread_mutex_unlock(&c->obj_mu);
    free(data);
    return rc;
}

/* data/obj-NNN; half of the uploads go to the first OBJ_HOT keys, which so
 * gather many versions. */
void drill_object_key(uint64_t *rng, char *out, size_t len)
{
    uint64_t r = splitmix(rng);
    unsigned k = (r & 1) ? (unsigned)((r >> 1) % OBJ_HOT) : (unsigned)((r >> 1) % OBJ_KEYS);
    snprintf(out, len, "data/obj-%03u", k);
}

static void *obj_writer(void *arg)
{
    drill_ctx *c = arg;
    uint64_t rng = c->r->seed ^ 0x0B7EC7ULL;
    while (!time_is_up(c)) {
        char key[64];
        drill_object_key(&rng, key, sizeof key);
        drill_object_put(c, key, &rng, true);
        nap(OBJ_INTERVAL_MS);
    }
    return NULL;
}

int drill_workload_start(drill_ctx *c)
{
    c->workload_stop = 0;
    if (c->stores & DRILL_STORE_DB) {
        if (pthread_create(&c->db_thread, NULL, db_writer, c) != 0)
            return rd_fail(RD_EINTERNAL, "cannot start the database workload");
        c->db_running = true;
    }
    if (c->stores & DRILL_STORE_OBJECTS) {
        if (pthread_create(&c->obj_thread, NULL, obj_writer, c) != 0)
            return rd_fail(RD_EINTERNAL, "cannot start the object workload");
        c->obj_running = true;
    }
    return 0;
}

void drill_workload_join(drill_ctx *c, bool stop_now)
{
    if (stop_now)
        c->workload_stop = 1;
    if (c->db_running)
        pthread_join(c->db_thread, NULL);
    if (c->obj_running)
        pthread_join(c->obj_thread, NULL);
    c->db_running = c->obj_running = false;
}
