/* Scenario accidental-deletion (dr-guide Scenario 4, "Accidental Deletion"):
 * every object under a prefix deleted at a seeded moment, several of them
 * with many versions; recovery is the object-recovery runbook (`radiant
 * runbook run object-recovery --bucket B --prefix P`), the guide's
 * list-object-versions / delete-object --version-id of the delete markers.
 *
 * The objects live under PREFIX "data/" (PREFIX is "" in a sandbox,
 * "radiant-drill/ID/" in a real bucket, so nothing else is ever deleted).
 * Baseline: each of the workload's keys uploaded once, the hot ones ten
 * times. The workload keeps uploading throughout; the injection takes the
 * upload lock, so no upload straddles the fault, and from then on the
 * workload writes under live/ (the application goes on; the deleted prefix
 * is left to the recovery, whose verify would otherwise see strangers).
 *
 * Measurement: for each key, the expected content is its last acknowledged
 * upload (uploads of a key are sequential, from one thread); a key that does
 * not read back with that hash is lost (absent) or an integrity mismatch
 * (other content). RPO = T - the acknowledgement of the newest upload before
 * T whose key came back.
 *
 * The transactions of the database workload, which runs throughout as well,
 * are checked by stores.c against the source cluster, which the fault does
 * not touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "drill/orchestrate.h"

#define HOT_VERSIONS 10

static char *data_prefix(const drill_ctx *c) { return rd_asprintf("%sdata/", c->sb.prefix); }

static int obj_baseline(drill_ctx *c)
{
    uint64_t rng = c->r->seed ^ 0xBA5E11EULL;
    int rc = 0;
    size_t uploads = 0;
    /* Every key once, the hot ones (obj-000..003) HOT_VERSIONS times, two
     * more three times. */
    for (int k = 0; rc == 0 && k < 24; k++) {
        int versions = k < 4 ? HOT_VERSIONS : k < 6 ? 3 : 1;
        for (int v = 0; rc == 0 && v < versions; v++) {
            char key[64];
            snprintf(key, sizeof key, "data/obj-%03d", k);
            rc = drill_object_put(c, key, &rng, false);
            uploads++;
        }
    }
    if (rc < 0)
        return rd_fail_wrap(rc, "baseline upload to %s", c->sb.endpoint);
    drill_say(c, "baseline: %zu uploads of 24 objects under %sdata/ in bucket %s (4 with %d "
              "versions)", uploads, c->sb.prefix, c->sb.bucket, HOT_VERSIONS);
    return 0;
}

struct keys {
    char **v;
    size_t n;
};

static int collect(void *arg, const char *key, uint64_t size)
{
    (void)size;
    struct keys *k = arg;
    k->v = rd_realloc(k->v, (k->n + 1) * sizeof *k->v);
    k->v[k->n++] = rd_strdup(key);
    return 0;
}

static void keys_free(struct keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
}

static int obj_inject(drill_ctx *c)
{
    char *prefix = data_prefix(c);
    struct keys k = { 0 };
    pthread_mutex_lock(&c->obj_mu);
    c->injected_us = rd_clock_now_us();
    int rc = s3_list_objects(c->s3, prefix, collect, &k);
    size_t deleted = 0;
    for (size_t i = 0; rc == 0 && i < k.n; i++) {
        rc = s3_delete_object(c->s3, k.v[i]);
        if (rc == 0)
            deleted++;
    }
    pthread_mutex_unlock(&c->obj_mu);
    c->fault_rows = (int64_t)deleted;
    if (rc == 0)
        drill_say(c, "inject: deleted all %zu objects under %s (delete markers)", deleted,
                  prefix);
    char obs[32];
    snprintf(obs, sizeof obs, "%zu", deleted);
    drill_result_observe(c->r, "objects deleted by the fault", obs);
    free(prefix);
    keys_free(&k);
    return rc;
}

/* Monitoring's view: a listing of the prefix misses the objects. */
static int obj_detect(drill_ctx *c)
{
    char *prefix = data_prefix(c);
    int rc = 0;
    for (int i = 0;; i++) {
        struct keys k = { 0 };
        pthread_mutex_lock(&c->obj_mu);
        rc = s3_list_objects(c->s3, prefix, collect, &k);
        pthread_mutex_unlock(&c->obj_mu);
        size_t n = k.n;
        keys_free(&k);
        if (rc < 0)
            break;
        if ((int64_t)n < c->fault_rows || c->fault_rows == 0) {
            c->detected_us = rd_clock_now_us();
            drill_say(c, "detect: listing %s shows %zu of %lld objects", prefix, n,
                      (long long)c->fault_rows);
            break;
        }
        if (i > 600) {
            rc = rd_fail(RD_EINTERNAL, "the deletion was not detected under %s", prefix);
            break;
        }
        rc = drill_sleep_ms(100);
        if (rc < 0)
            break;
    }
    free(prefix);
    return rc;
}

static char **obj_runbook_args(drill_ctx *c)
{
    char **v = rd_calloc(6, sizeof *v);
    v[0] = rd_strdup("--bucket");
    v[1] = rd_strdup(c->sb.bucket);
    v[2] = rd_strdup("--prefix");
    v[3] = data_prefix(c);
    return v;
}

/* The newest upload acknowledged before the fault. */
static const drill_write *newest_before(drill_ctx *c)
{
    const drill_write *best = NULL;
    for (size_t i = 0; i < c->journal.n; i++) {
        const drill_write *w = &c->journal.w[i];
        if (w->kind == DRILL_WRITE_OBJECT && w->ack_us && w->ack_us <= c->injected_us &&
            (!best || w->ack_us > best->ack_us))
            best = w;
    }
    return best;
}

/* The last acknowledged upload of key (the journal is in upload order). */
static const drill_write *latest_of(drill_ctx *c, const char *key)
{
    const drill_write *best = NULL;
    for (size_t i = 0; i < c->journal.n; i++) {
        const drill_write *w = &c->journal.w[i];
        if (w->kind == DRILL_WRITE_OBJECT && w->ack_us && strcmp(w->key, key) == 0)
            best = w;
    }
    return best;
}

static int read_hash(drill_ctx *c, const char *key, char out[65])
{
    rd_buf b = RD_BUF_INIT;
    int rc = s3_get_object(c->s3, key, 0, 0, &b);
    if (rc == 0)
        drill_sha256_hex(b.data, b.len, out);
    rd_buf_free(&b);
    return rc;
}

static int obj_verify(drill_ctx *c)
{
    pthread_mutex_lock(&c->journal.mu);
    const drill_write *w = newest_before(c);
    char key[512] = "", want[65] = "";
    if (w) {
        const drill_write *last = latest_of(c, w->key);
        snprintf(key, sizeof key, "%s", w->key);
        memcpy(want, last->sha256, sizeof want);
    }
    pthread_mutex_unlock(&c->journal.mu);
    char got[65];
    int rc = 0;
    if (key[0]) {
        pthread_mutex_lock(&c->obj_mu);   /* no upload of the key between the two reads */
        pthread_mutex_lock(&c->journal.mu);
        const drill_write *last = latest_of(c, key);
        memcpy(want, last->sha256, sizeof want);
        pthread_mutex_unlock(&c->journal.mu);
        rc = read_hash(c, key, got);
        pthread_mutex_unlock(&c->obj_mu);
        if (rc == -RD_ENOENT)
            return rd_fail(RD_ECORRUPT, "%s is still missing after recovery", key);
        if (rc == 0 && strcmp(got, want) != 0)
            return rd_fail(RD_ECORRUPT, "%s reads back another content than its last upload",
                           key);
    }
    char *probe = rd_asprintf("%srecovery-probe", c->sb.prefix);
    if (rc == 0)
        rc = s3_put_object(c->s3, probe, "recovered\n", 10);
    free(probe);
    if (rc == 0) {
        c->recovered_us = rd_clock_now_us();
        drill_say(c, "verify: %s reads back its last upload, a write was accepted", key);
    }
    return rc;
}

static int obj_measure(drill_ctx *c)
{
    drill_result *r = c->r;
    /* Distinct keys, with their expected (last acknowledged) upload. */
    struct keys k = { 0 };
    for (size_t i = 0; i < c->journal.n; i++) {
        const drill_write *w = &c->journal.w[i];
        if (w->kind != DRILL_WRITE_OBJECT)
            continue;
        if (w->ack_us)
            r->writes_acknowledged++;
        bool seen = false;
        for (size_t j = 0; j < k.n && !seen; j++)
            seen = strcmp(k.v[j], w->key) == 0;
        if (!seen)
            collect(&k, w->key, 0);
    }
    int rc = 0;
    size_t lost_keys = 0;
    int64_t newest = 0;
    for (size_t i = 0; rc == 0 && i < k.n; i++) {
        drill_write *want = (drill_write *)latest_of(c, k.v[i]);
        if (!want)
            continue;
        char got[65];
        int g = read_hash(c, k.v[i], got);
        if (g < 0 && g != -RD_ENOENT) {
            rc = g;
            break;
        }
        want->present = g == -RD_ENOENT ? 0 : strcmp(got, want->sha256) == 0 ? 1 : 2;
        if (want->present == 0)
            lost_keys++;
        else if (want->present == 2)
            r->integrity_mismatches++;
        if (want->present != 1)
            continue;
        /* Every upload of this key before the fault is accounted for. */
        for (size_t j = 0; j < c->journal.n; j++) {
            const drill_write *w = &c->journal.w[j];
            if (w->kind == DRILL_WRITE_OBJECT && w->ack_us && w->ack_us <= c->injected_us &&
                strcmp(w->key, k.v[i]) == 0 && w->ack_us > newest)
                newest = w->ack_us;
        }
    }
    size_t n_keys = k.n;
    keys_free(&k);
    if (rc < 0)
        return rc;
    r->writes_lost += lost_keys;
    r->rpo_s = newest ? (double)(c->injected_us - newest) / 1e6 : DRILL_UNMEASURED;
    char obs[128];
    snprintf(obs, sizeof obs, "%zu (lost %zu, other content %llu)", n_keys, lost_keys,
             (unsigned long long)r->integrity_mismatches);
    drill_result_observe(r, "objects checked against their last upload", obs);
    drill_say(c, "measure: %zu objects, %zu lost, %llu with other content", n_keys, lost_keys,
              (unsigned long long)r->integrity_mismatches);
    if (!lost_keys && !r->integrity_mismatches) {
        char *note = rd_asprintf("all %zu objects deleted under %sdata/ came back through "
                                 "runbook object-recovery, each with the hash of its last "
                                 "acknowledged upload", n_keys, c->sb.prefix);
        drill_result_check(r, DRILL_CHECK_S3_RECOVERY, note);
        free(note);
    }
    return 0;
}

const drill_scenario drill_scenario_objects = {
    .name = "accidental-deletion",
    .summary = "every object under a prefix deleted; delete markers removed by the "
               "object-recovery runbook",
    .store = DRILL_STORE_OBJECTS,
    .runbook = "object-recovery",
    .baseline = obj_baseline,
    .inject = obj_inject,
    .detect = obj_detect,
    .before_recovery = NULL,
    .runbook_args = obj_runbook_args,
    .verify = obj_verify,
    .measure = obj_measure,
    .cleanup = NULL,            /* stores.c removes the drill's prefix */
};
