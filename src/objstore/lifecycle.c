/* Bucket lifecycle configurations (stored as rows of lifecycle_rules) and the
 * sweep that applies them. The sweep reads time only from its argument, so
 * `radiant serve` passes rd_clock_now() and tests move the clock instead of
 * sleeping. Rules follow S3 (https://docs.aws.amazon.com/AmazonS3/latest/
 * userguide/intro-lifecycle-rules.html):
 *  - Expiration (Days/Date) acts on current versions that are not delete
 *    markers: an unversioned bucket loses the object, an Enabled one gets a
 *    delete marker on top, a Suspended one a null delete marker (replacing
 *    the null version);
 *  - NoncurrentVersionExpiration counts from the moment a version became
 *    noncurrent, and keeps the NewerNoncurrentVersions newest noncurrent
 *    versions whatever their age;
 *  - ExpiredObjectDeleteMarker removes a delete marker that is the only
 *    version left of its key (checked after the noncurrent expiration of
 *    the same sweep, so both can happen in one pass);
 *  - AbortIncompleteMultipartUpload counts from the upload's initiation.
 * Days are rounded as S3 does: due at the first UTC midnight at or after
 * start + days. Each key is handled in its own transaction; a crash in the
 * middle of a sweep leaves the remaining work to the next sweep. */
#include "objstore/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"

#define DAY 86400

/* ======================================================================
 * Configuration
 * ====================================================================== */

static bool rule_has_action(const os3_lifecycle_rule *r)
{
    return r->expiration_days || r->expiration_date || r->expired_object_delete_marker ||
           r->noncurrent_days || r->abort_incomplete_days;
}

static int rules_check(const char *bucket, const os3_lifecycle *lc)
{
    if (!lc || lc->n_rules == 0)
        return rd_fail(OS3_RC_MALFORMED_XML, "bucket %s: a lifecycle configuration needs a rule",
                       bucket);
    if (lc->n_rules > OS3_LIFECYCLE_RULES_MAX)
        return rd_fail(OS3_RC_INVALID_ARGUMENT, "bucket %s: at most %d lifecycle rules", bucket,
                       OS3_LIFECYCLE_RULES_MAX);
    for (size_t i = 0; i < lc->n_rules; i++) {
        const os3_lifecycle_rule *r = &lc->rules[i];
        const char *id = r->id ? r->id : "";
        const char *why = NULL;
        if (strlen(id) > 255)
            why = "has an ID longer than 255 characters";
        else if (!rule_has_action(r))
            why = "has no action";
        else if (r->expiration_days < 0 || r->noncurrent_days < 0 ||
                 r->newer_noncurrent_versions < 0 || r->abort_incomplete_days < 0 ||
                 r->expiration_date < 0)
            why = "has a negative number";
        else if (r->expiration_days && r->expiration_date)
            why = "sets both Expiration Days and Date";
        else if (r->expired_object_delete_marker && (r->expiration_days || r->expiration_date))
            why = "sets ExpiredObjectDeleteMarker with Expiration Days or Date";
        else if (r->newer_noncurrent_versions && !r->noncurrent_days)
            why = "sets NewerNoncurrentVersions without NoncurrentDays";
        for (size_t j = 0; !why && *id && j < i; j++)
            if (lc->rules[j].id && strcmp(lc->rules[j].id, id) == 0)
                why = "has the ID of another rule";
        if (why)
            return rd_fail(OS3_RC_INVALID_ARGUMENT, "bucket %s: lifecycle rule %zu \"%s\" %s",
                           bucket, i + 1, id, why);
    }
    return 0;
}

static int rules_delete(os3_store *st, const char *bucket)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "DELETE FROM lifecycle_rules WHERE bucket = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = os3__sql_fail(st, "removing lifecycle rules");
    sqlite3_finalize(s);
    return rc;
}

int os3_lifecycle_put(os3_store *st, const char *bucket, const os3_lifecycle *lc)
{
    int rc = rules_check(bucket, lc);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = NULL;
    os3__lock(st);
    rc = os3__begin(st);
    if (rc == 0)
        rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc == 0)
        rc = rules_delete(st, bucket);
    if (rc == 0)
        rc = os3__prepare(st, "INSERT INTO lifecycle_rules(bucket, position, id, enabled, "
                          "prefix, expiration_days, expiration_date, "
                          "expired_object_delete_marker, noncurrent_days, "
                          "newer_noncurrent_versions, abort_incomplete_days) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?)", &s);
    for (size_t i = 0; rc == 0 && i < lc->n_rules; i++) {
        const os3_lifecycle_rule *r = &lc->rules[i];
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, (int)i);
        sqlite3_bind_text(s, 3, r->id ? r->id : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, r->enabled);
        sqlite3_bind_text(s, 5, r->prefix ? r->prefix : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 6, r->expiration_days);
        sqlite3_bind_int64(s, 7, r->expiration_date);
        sqlite3_bind_int(s, 8, r->expired_object_delete_marker);
        sqlite3_bind_int(s, 9, r->noncurrent_days);
        sqlite3_bind_int(s, 10, r->newer_noncurrent_versions);
        sqlite3_bind_int(s, 11, r->abort_incomplete_days);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = os3__sql_fail(st, "storing a lifecycle rule");
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0)
        os3__rollback(st);
    os3__unlock(st);
    return rc;
}

/* Under the lock. */
static int rules_load(os3_store *st, const char *bucket, os3_lifecycle *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT id, enabled, prefix, expiration_days, expiration_date, "
                          "expired_object_delete_marker, noncurrent_days, "
                          "newer_noncurrent_versions, abort_incomplete_days "
                          "FROM lifecycle_rules WHERE bucket = ? ORDER BY position", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        out->rules = rd_realloc(out->rules, (out->n_rules + 1) * sizeof *out->rules);
        os3_lifecycle_rule *r = &out->rules[out->n_rules++];
        r->id = os3__col_strdup(s, 0);
        r->enabled = sqlite3_column_int(s, 1) != 0;
        r->prefix = os3__col_strdup(s, 2);
        r->expiration_days = sqlite3_column_int(s, 3);
        r->expiration_date = sqlite3_column_int64(s, 4);
        r->expired_object_delete_marker = sqlite3_column_int(s, 5) != 0;
        r->noncurrent_days = sqlite3_column_int(s, 6);
        r->newer_noncurrent_versions = sqlite3_column_int(s, 7);
        r->abort_incomplete_days = sqlite3_column_int(s, 8);
    }
    if (step != SQLITE_DONE)
        rc = os3__sql_fail(st, "reading lifecycle rules");
    sqlite3_finalize(s);
    if (rc < 0)
        os3_lifecycle_clear(out);
    return rc;
}

int os3_lifecycle_get(os3_store *st, const char *bucket, os3_lifecycle *out)
{
    memset(out, 0, sizeof *out);
    os3__lock(st);
    int rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc == 0)
        rc = rules_load(st, bucket, out);
    os3__unlock(st);
    if (rc == 0 && out->n_rules == 0)
        rc = rd_fail(OS3_RC_NO_SUCH_LIFECYCLE, "bucket %s has no lifecycle configuration", bucket);
    return rc;
}

int os3_lifecycle_delete(os3_store *st, const char *bucket)
{
    os3__lock(st);
    int rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc == 0)
        rc = rules_delete(st, bucket);
    os3__unlock(st);
    return rc;
}

void os3_lifecycle_clear(os3_lifecycle *lc)
{
    if (!lc)
        return;
    for (size_t i = 0; i < lc->n_rules; i++) {
        free(lc->rules[i].id);
        free(lc->rules[i].prefix);
    }
    free(lc->rules);
    memset(lc, 0, sizeof *lc);
}

/* ======================================================================
 * The sweep
 * ====================================================================== */

static int64_t due_at(int64_t start_s, int days)
{
    int64_t t = start_s + (int64_t)days * DAY;
    return (t + DAY - 1) / DAY * DAY;
}

typedef struct vrow {
    char vid[OS3_VERSION_ID_MAX];
    bool marker;
    bool latest;
    int64_t mtime_us;
    int64_t noncurrent_us;
} vrow;

/* The key's versions, newest first. */
static int versions_load(os3_store *st, const char *bucket, const char *key, vrow **rows,
                         size_t *n)
{
    free(*rows);
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *s;
    int rc = os3__prepare(st, "SELECT version_id, is_marker, noncurrent_us IS NULL, mtime_us, "
                          "noncurrent_us FROM versions WHERE bucket = ? AND key = ? "
                          "ORDER BY seq DESC", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        *rows = rd_realloc(*rows, (*n + 1) * sizeof **rows);
        vrow *r = &(*rows)[(*n)++];
        snprintf(r->vid, sizeof r->vid, "%s", sqlite3_column_text(s, 0));
        r->marker = sqlite3_column_int(s, 1) != 0;
        r->latest = sqlite3_column_int(s, 2) != 0;
        r->mtime_us = sqlite3_column_int64(s, 3);
        r->noncurrent_us = sqlite3_column_int64(s, 4);
    }
    if (step != SQLITE_DONE)
        rc = os3__sql_fail(st, "reading versions");
    sqlite3_finalize(s);
    return rc;
}

typedef struct blob_list {
    char **ids;
    size_t n;
} blob_list;

static void blob_list_add(blob_list *b, char *id)
{
    if (!id)
        return;
    b->ids = rd_realloc(b->ids, (b->n + 1) * sizeof *b->ids);
    b->ids[b->n++] = id;
}

static int remove_version(os3_store *st, const char *bucket, const char *key, const char *vid,
                          blob_list *blobs)
{
    bool found;
    char *blob = NULL;
    int rc = os3__version_remove(st, bucket, key, vid, &found, NULL, &blob);
    blob_list_add(blobs, blob);
    return rc;
}

/* One key under one rule, in one transaction. */
static int sweep_key(os3_store *st, const char *bucket, const char *key,
                     const os3_lifecycle_rule *rule, int64_t now, os3_sweep_stats *stats)
{
    vrow *rows = NULL;
    size_t n = 0;
    blob_list blobs = { 0 };
    enum os3_versioning vs = OS3_VERSIONING_OFF;
    os3__lock(st);
    int rc = os3__begin(st);
    if (rc == 0)
        rc = os3__bucket_versioning(st, bucket, &vs);
    if (rc == 0)
        rc = versions_load(st, bucket, key, &rows, &n);

    if (rc == 0 && n > 0 && rows[0].latest && !rows[0].marker &&
        (rule->expiration_days || rule->expiration_date)) {
        int64_t due = rule->expiration_days
                      ? due_at(rows[0].mtime_us / 1000000, rule->expiration_days)
                      : rule->expiration_date;
        if (now >= due) {
            if (vs == OS3_VERSIONING_OFF) {
                rc = remove_version(st, bucket, key, rows[0].vid, &blobs);
            } else {
                os3__newver nv = { .bucket = bucket, .key = key, .is_marker = true };
                char vid[OS3_VERSION_ID_MAX];
                char *replaced = NULL;
                rc = os3__version_add(st, &nv, vs, vid, NULL, &replaced);
                blob_list_add(&blobs, replaced);
            }
            stats->current_expired += rc == 0;
            if (rc == 0)
                rc = versions_load(st, bucket, key, &rows, &n);
        }
    }

    if (rc == 0 && rule->noncurrent_days) {
        int kept = 0;
        bool changed = false;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (rows[i].latest)
                continue;
            if (kept < rule->newer_noncurrent_versions) {
                kept++;
                continue;
            }
            if (now >= due_at(rows[i].noncurrent_us / 1000000, rule->noncurrent_days)) {
                rc = remove_version(st, bucket, key, rows[i].vid, &blobs);
                stats->noncurrent_removed += rc == 0;
                changed = true;
            }
        }
        if (rc == 0 && changed)
            rc = versions_load(st, bucket, key, &rows, &n);
    }

    if (rc == 0 && rule->expired_object_delete_marker && n == 1 && rows[0].marker) {
        rc = remove_version(st, bucket, key, rows[0].vid, &blobs);
        stats->markers_removed += rc == 0;
    }

    if (rc == 0)
        rc = os3__commit(st);
    if (rc < 0)
        os3__rollback(st);
    os3__unlock(st);
    for (size_t i = 0; i < blobs.n; i++) {
        if (rc == 0)
            os3__blob_unlink(st, blobs.ids[i]);
        free(blobs.ids[i]);
    }
    free(blobs.ids);
    free(rows);
    return rc;
}

/* The next batch of distinct keys under the prefix after *cursor. */
static int keys_next(os3_store *st, const char *bucket, const char *prefix, const char *cursor,
                     char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    sqlite3_stmt *s;
    os3__lock(st);
    int rc = os3__prepare(st, cursor
                          ? "SELECT DISTINCT key FROM versions WHERE bucket = ?1 AND key > ?2 "
                            "ORDER BY key LIMIT 256"
                          : "SELECT DISTINCT key FROM versions WHERE bucket = ?1 AND key >= ?2 "
                            "ORDER BY key LIMIT 256", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, cursor ? cursor : prefix, -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(s, 0);
            if (!rd_str_starts_with(k, prefix))
                break;
            *keys = rd_realloc(*keys, (*n + 1) * sizeof **keys);
            (*keys)[(*n)++] = rd_strdup(k);
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = os3__sql_fail(st, "listing keys");
        sqlite3_finalize(s);
    }
    os3__unlock(st);
    return rc;
}

static bool rule_touches_versions(const os3_lifecycle_rule *r)
{
    return r->expiration_days || r->expiration_date || r->expired_object_delete_marker ||
           r->noncurrent_days;
}

static int sweep_versions(os3_store *st, const char *bucket, const os3_lifecycle_rule *rule,
                          int64_t now, os3_sweep_stats *stats)
{
    const char *prefix = rule->prefix ? rule->prefix : "";
    char *cursor = NULL;
    int rc = 0;
    for (;;) {
        char **keys;
        size_t n;
        rc = keys_next(st, bucket, prefix, cursor, &keys, &n);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                rc = sweep_key(st, bucket, keys[i], rule, now, stats);
            if (i + 1 == n) {
                free(cursor);
                cursor = keys[i];
            } else {
                free(keys[i]);
            }
        }
        free(keys);
        if (rc < 0 || n < 256)
            break;
    }
    free(cursor);
    return rc;
}

static int sweep_uploads(os3_store *st, const char *bucket, const os3_lifecycle_rule *rule,
                         int64_t now, os3_sweep_stats *stats)
{
    const char *prefix = rule->prefix ? rule->prefix : "";
    /* Collected first (ids and keys only), then aborted one by one through
     * the ordinary abort, which re-checks each under the lock. */
    char **ids = NULL, **keys = NULL;
    size_t n = 0;
    sqlite3_stmt *s;
    os3__lock(st);
    int rc = os3__prepare(st, "SELECT upload_id, key, initiated_us FROM uploads "
                          "WHERE bucket = ? AND key >= ? ORDER BY key, seq", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, prefix, -1, SQLITE_STATIC);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *key = (const char *)sqlite3_column_text(s, 1);
            if (!rd_str_starts_with(key, prefix))
                break;
            int64_t initiated = sqlite3_column_int64(s, 2) / 1000000;
            if (now < due_at(initiated, rule->abort_incomplete_days))
                continue;
            ids = rd_realloc(ids, (n + 1) * sizeof *ids);
            keys = rd_realloc(keys, (n + 1) * sizeof *keys);
            ids[n] = os3__col_strdup(s, 0);
            keys[n++] = rd_strdup(key);
        }
        sqlite3_finalize(s);
    }
    os3__unlock(st);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            int arc = os3_mpu_abort(st, bucket, keys[i], ids[i]);
            if (arc == 0)
                stats->uploads_aborted++;
            else if (arc != -OS3_RC_NO_SUCH_UPLOAD)   /* completed or aborted meanwhile */
                rc = arc;
        }
        free(ids[i]);
        free(keys[i]);
    }
    free(ids);
    free(keys);
    return rc;
}

int os3_lifecycle_sweep(os3_store *st, int64_t now, os3_sweep_stats *stats)
{
    os3_sweep_stats local = { 0 };
    char **buckets = NULL;
    size_t nb = 0;
    sqlite3_stmt *s;
    os3__lock(st);
    int rc = os3__prepare(st, "SELECT DISTINCT bucket FROM lifecycle_rules WHERE enabled = 1 "
                          "ORDER BY bucket", &s);
    if (rc == 0) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            buckets = rd_realloc(buckets, (nb + 1) * sizeof *buckets);
            buckets[nb++] = os3__col_strdup(s, 0);
        }
        sqlite3_finalize(s);
    }
    os3__unlock(st);
    for (size_t b = 0; b < nb; b++) {
        os3_lifecycle lc = { 0 };
        int brc = rc == 0 ? os3_lifecycle_get(st, buckets[b], &lc) : 0;
        if (brc == -OS3_RC_NO_SUCH_LIFECYCLE || brc == -OS3_RC_NO_SUCH_BUCKET)
            brc = 0;   /* removed since the list was read */
        for (size_t i = 0; brc == 0 && i < lc.n_rules; i++) {
            const os3_lifecycle_rule *r = &lc.rules[i];
            if (!r->enabled)
                continue;
            if (rule_touches_versions(r))
                brc = sweep_versions(st, buckets[b], r, now, &local);
            if (brc == 0 && r->abort_incomplete_days)
                brc = sweep_uploads(st, buckets[b], r, now, &local);
        }
        if (brc < 0 && rc == 0)
            rc = rd_fail_wrap(brc, "lifecycle of bucket %s", buckets[b]);
        os3_lifecycle_clear(&lc);
        free(buckets[b]);
    }
    free(buckets);
    if (local.current_expired || local.noncurrent_removed || local.markers_removed ||
        local.uploads_aborted)
        RD_INFO("objstore lifecycle: %u current versions expired, %u noncurrent versions and "
                "%u delete markers removed, %u uploads aborted", local.current_expired,
                local.noncurrent_removed, local.markers_removed, local.uploads_aborted);
    if (stats)
        *stats = local;
    return rc;
}
