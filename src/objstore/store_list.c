/* Listings: ListObjects (v1 and v2), ListObjectVersions and
 * ListMultipartUploads. All three walk keys in byte order from a marker,
 * fold keys that contain the delimiter after the prefix into CommonPrefixes,
 * and stop after max-keys entries (objects and prefixes together), which is
 * the part they share (struct scan). Memory is bounded by max-keys. */
#include "objstore/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* ======================================================================
 * The shared walk
 * ====================================================================== */

typedef struct scan scan;
/* Turns the current row (column 0 is the key) into an entry. */
typedef void (*scan_emit_fn)(scan *sc, sqlite3_stmt *s);

struct scan {
    const char *prefix;
    size_t plen;
    const char *delim;        /* NULL when none */
    size_t dlen;
    /* CommonPrefixes that sort at or before this were returned by an
     * earlier page (the marker was one of them, or a key inside one). */
    const char *marker;
    size_t max;
    size_t count;
    bool truncated;
    bool done;
    char *last;               /* the last key or prefix returned */
    char *last_id;            /* version or upload id of the last entry, NULL for a prefix */
    char **prefixes;
    size_t n_prefixes;
    scan_emit_fn emit;
    void *out;                /* the result the emit function fills */
};

static void scan_init(scan *sc, const os3_list_params *p, scan_emit_fn emit, void *out)
{
    memset(sc, 0, sizeof *sc);
    sc->prefix = p->prefix ? p->prefix : "";
    sc->plen = strlen(sc->prefix);
    sc->delim = p->delimiter && *p->delimiter ? p->delimiter : NULL;
    sc->dlen = sc->delim ? strlen(sc->delim) : 0;
    sc->marker = p->start_after && *p->start_after ? p->start_after : NULL;
    sc->max = p->max_keys < 0 || p->max_keys > OS3_LIST_MAX ? OS3_LIST_MAX : (size_t)p->max_keys;
    sc->emit = emit;
    sc->out = out;
}

static void scan_free(scan *sc)
{
    free(sc->last);
    free(sc->last_id);
    for (size_t i = 0; i < sc->n_prefixes; i++)
        free(sc->prefixes[i]);
    free(sc->prefixes);
}

static void set_last(scan *sc, const char *key, const char *id)
{
    free(sc->last);
    free(sc->last_id);
    sc->last = rd_strdup(key);
    sc->last_id = id ? rd_strdup(id) : NULL;
}

/* Handles one row; sets *restart (malloc()ed) when the walk must jump past
 * a common prefix, or sc->done when it is over. */
static void scan_row(scan *sc, sqlite3_stmt *s, char **restart)
{
    const char *key = (const char *)sqlite3_column_text(s, 0);
    if (strncmp(key, sc->prefix, sc->plen) != 0) {
        sc->done = true;   /* rows come in key order: past the prefix, past everything */
        return;
    }
    const char *d = sc->delim ? strstr(key + sc->plen, sc->delim) : NULL;
    if (d) {
        size_t n = (size_t)(d - key) + sc->dlen;
        char *cp = rd_malloc(n + 1);
        memcpy(cp, key, n);
        cp[n] = '\0';
        if (!sc->marker || strcmp(cp, sc->marker) > 0) {
            if (sc->count == sc->max) {
                sc->truncated = true;
                sc->done = true;
                free(cp);
                return;
            }
            sc->prefixes = rd_realloc(sc->prefixes, (sc->n_prefixes + 1) * sizeof *sc->prefixes);
            sc->prefixes[sc->n_prefixes++] = rd_strdup(cp);
            set_last(sc, cp, NULL);
            sc->count++;
        }
        *restart = os3__prefix_successor(cp);
        if (!*restart)
            sc->done = true;
        free(cp);
        return;
    }
    if (sc->count == sc->max) {
        sc->truncated = true;
        sc->done = true;
        return;
    }
    sc->emit(sc, s);
    sc->count++;
}

/* Walks rows of sql_gt / sql_ge (?1 bucket, ?2 the key to start after / at),
 * re-querying after each common prefix so a prefix holding a million keys
 * costs one row, not a million. */
static int scan_run(os3_store *st, scan *sc, const char *sql_gt, const char *sql_ge,
                    const char *bucket, const char *from, bool inclusive)
{
    char *cur = rd_strdup(from);
    int rc = 0;
    while (rc == 0 && !sc->done) {
        sqlite3_stmt *s;
        rc = os3__prepare(st, inclusive ? sql_ge : sql_gt, &s);
        if (rc < 0)
            break;
        sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, cur, -1, SQLITE_STATIC);
        char *restart = NULL;
        int step;
        while (!sc->done && !restart && (step = sqlite3_step(s)) == SQLITE_ROW)
            scan_row(sc, s, &restart);
        if (!sc->done && !restart) {
            if (step == SQLITE_DONE)
                sc->done = true;
            else
                rc = os3__sql_fail(st, "listing");
        }
        sqlite3_finalize(s);
        if (restart) {
            free(cur);
            cur = restart;
            inclusive = true;
        }
    }
    free(cur);
    return rc;
}

/* Where the walk starts: after the marker when it sorts at or after the
 * prefix, else at the prefix itself. */
static void scan_start(const scan *sc, const char **from, bool *inclusive)
{
    if (sc->marker && strcmp(sc->marker, sc->prefix) >= 0) {
        *from = sc->marker;
        *inclusive = false;
    } else {
        *from = sc->prefix;
        *inclusive = true;
    }
}

static void scan_finish(scan *sc, char ***prefixes, size_t *n_prefixes, bool *truncated,
                        char **next, char **next_id)
{
    *prefixes = sc->prefixes;
    *n_prefixes = sc->n_prefixes;
    sc->prefixes = NULL;
    sc->n_prefixes = 0;
    *truncated = sc->truncated;
    if (sc->truncated) {
        *next = sc->last;
        sc->last = NULL;
        if (next_id) {
            *next_id = sc->last_id;
            sc->last_id = NULL;
        }
    }
}

/* ======================================================================
 * ListObjects, ListObjectVersions
 * ====================================================================== */

static os3_list_entry *entry_add(os3_list_result *r)
{
    r->entries = rd_realloc(r->entries, (r->n_entries + 1) * sizeof *r->entries);
    os3_list_entry *e = &r->entries[r->n_entries++];
    memset(e, 0, sizeof *e);
    return e;
}

static void emit_object(scan *sc, sqlite3_stmt *s)
{
    os3_list_entry *e = entry_add(sc->out);
    e->key = os3__col_strdup(s, 0);
    e->mtime_us = sqlite3_column_int64(s, 1);
    e->size = (uint64_t)sqlite3_column_int64(s, 2);
    os3__etag_quote((const char *)sqlite3_column_text(s, 3), e->etag);
    e->storage_class = os3__col_strdup(s, 4);
    e->is_latest = true;
    set_last(sc, e->key, NULL);
}

void os3_list_result_clear(os3_list_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_entries; i++) {
        free(r->entries[i].key);
        free(r->entries[i].storage_class);
    }
    free(r->entries);
    for (size_t i = 0; i < r->n_prefixes; i++)
        free(r->prefixes[i]);
    free(r->prefixes);
    free(r->next_marker);
    free(r->next_version_id_marker);
    memset(r, 0, sizeof *r);
}

int os3_list_objects(os3_store *st, const char *bucket, const os3_list_params *params,
                     os3_list_result *out)
{
    memset(out, 0, sizeof *out);
    scan sc;
    scan_init(&sc, params, emit_object, out);
    const char *from;
    bool incl;
    scan_start(&sc, &from, &incl);
#define OBJ_SQL(op) "SELECT key, mtime_us, size, etag, storage_class FROM versions " \
                    "WHERE bucket = ?1 AND key " op " ?2 AND noncurrent_us IS NULL " \
                    "AND is_marker = 0 ORDER BY key"
    os3__lock(st);
    int rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc == 0)
        rc = scan_run(st, &sc, OBJ_SQL(">"), OBJ_SQL(">="), bucket, from, incl);
    os3__unlock(st);
#undef OBJ_SQL
    if (rc == 0)
        scan_finish(&sc, &out->prefixes, &out->n_prefixes, &out->truncated,
                    &out->next_marker, NULL);
    scan_free(&sc);
    if (rc < 0)
        os3_list_result_clear(out);
    return rc;
}

static void emit_version(scan *sc, sqlite3_stmt *s)
{
    os3_list_entry *e = entry_add(sc->out);
    e->key = os3__col_strdup(s, 0);
    snprintf(e->version_id, sizeof e->version_id, "%s", sqlite3_column_text(s, 1));
    e->is_delete_marker = sqlite3_column_int(s, 2) != 0;
    e->is_latest = sqlite3_column_int(s, 3) != 0;
    e->mtime_us = sqlite3_column_int64(s, 4);
    e->size = (uint64_t)sqlite3_column_int64(s, 5);
    if (!e->is_delete_marker)
        os3__etag_quote((const char *)sqlite3_column_text(s, 6), e->etag);
    e->storage_class = os3__col_strdup(s, 7);
    set_last(sc, e->key, e->version_id);
}

#define VER_COLS "SELECT key, version_id, is_marker, noncurrent_us IS NULL, mtime_us, size, " \
                 "etag, storage_class FROM versions "

static int lookup_seq(os3_store *st, const char *sql, const char *bucket, const char *key,
                      const char *id, int64_t *seq)
{
    sqlite3_stmt *s;
    int rc = os3__prepare(st, sql, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    else if (step == SQLITE_DONE)
        rc = rd_fail(OS3_RC_INVALID_ARGUMENT, "%s: the marker %s of key %s does not exist",
                     bucket, id, key);
    else
        rc = os3__sql_fail(st, "reading a marker");
    sqlite3_finalize(s);
    return rc;
}

/* The rest of the marker key's entries, after the marker's own (phase one
 * of a resumed listing), unless that key was folded into a common prefix. */
static int scan_marker_key(os3_store *st, scan *sc, const char *sql, const char *bucket,
                           int64_t seq)
{
    const char *key = sc->marker;
    if (strncmp(key, sc->prefix, sc->plen) != 0 ||
        (sc->delim && strstr(key + sc->plen, sc->delim)))
        return 0;
    sqlite3_stmt *s;
    int rc = os3__prepare(st, sql, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, seq);
    char *restart = NULL;
    int step;
    while (!sc->done && (step = sqlite3_step(s)) == SQLITE_ROW)
        scan_row(sc, s, &restart);
    if (!sc->done && step != SQLITE_DONE)
        rc = os3__sql_fail(st, "listing");
    sqlite3_finalize(s);
    free(restart);   /* cannot happen: the key has no delimiter */
    return rc;
}

/* A listing that pages by key, then by an id within the marker key
 * (ListObjectVersions' version-id-marker, ListMultipartUploads'
 * upload-id-marker): its SQL. */
struct paged_sql {
    const char *seq_of_id;           /* seq of (bucket ?, key ?, id ?) */
    const char *rest_of_marker_key;  /* ?1 bucket, ?2 key, ?3 seq: entries after the id */
    const char *after_key;           /* ?1 bucket, ?2 key: entries of later keys */
    const char *from_key;            /* the same, the key included */
};

/* Runs a paged listing under the store's lock. An id marker without a key
 * marker is ignored, as S3 ignores an upload-id-marker alone (a lone
 * version-id-marker is refused before). */
static int scan_paged(os3_store *st, scan *sc, const char *bucket, const char *id_marker,
                      const struct paged_sql *q)
{
    const char *from;
    bool incl;
    scan_start(sc, &from, &incl);
    os3__lock(st);
    int rc = os3__bucket_versioning(st, bucket, NULL);
    if (rc == 0 && sc->marker && id_marker && *id_marker) {
        int64_t seq = 0;
        rc = lookup_seq(st, q->seq_of_id, bucket, sc->marker, id_marker, &seq);
        if (rc == 0)
            rc = scan_marker_key(st, sc, q->rest_of_marker_key, bucket, seq);
    }
    if (rc == 0)
        rc = scan_run(st, sc, q->after_key, q->from_key, bucket, from, incl);
    os3__unlock(st);
    return rc;
}

int os3_list_versions(os3_store *st, const char *bucket, const os3_list_params *params,
                      const char *version_id_marker, os3_list_result *out)
{
    memset(out, 0, sizeof *out);
    if (version_id_marker && *version_id_marker &&
        !(params->start_after && *params->start_after))
        return rd_fail(OS3_RC_INVALID_ARGUMENT, "%s: a version-id-marker needs a key-marker",
                       bucket);
    scan sc;
    scan_init(&sc, params, emit_version, out);
    static const struct paged_sql q = {
        "SELECT seq FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
        VER_COLS "WHERE bucket = ?1 AND key = ?2 AND seq < ?3 ORDER BY seq DESC",
        VER_COLS "WHERE bucket = ?1 AND key > ?2 ORDER BY key, seq DESC",
        VER_COLS "WHERE bucket = ?1 AND key >= ?2 ORDER BY key, seq DESC",
    };
    int rc = scan_paged(st, &sc, bucket, version_id_marker, &q);
    if (rc == 0)
        scan_finish(&sc, &out->prefixes, &out->n_prefixes, &out->truncated,
                    &out->next_marker, &out->next_version_id_marker);
    scan_free(&sc);
    if (rc < 0)
        os3_list_result_clear(out);
    return rc;
}

/* ======================================================================
 * ListMultipartUploads
 * ====================================================================== */

static void emit_upload(scan *sc, sqlite3_stmt *s)
{
    os3_uploads_result *r = sc->out;
    r->uploads = rd_realloc(r->uploads, (r->n_uploads + 1) * sizeof *r->uploads);
    os3_upload_info *u = &r->uploads[r->n_uploads++];
    memset(u, 0, sizeof *u);
    u->key = os3__col_strdup(s, 0);
    snprintf(u->upload_id, sizeof u->upload_id, "%s", sqlite3_column_text(s, 1));
    u->initiated_us = sqlite3_column_int64(s, 2);
    u->storage_class = os3__col_strdup(s, 3);
    set_last(sc, u->key, u->upload_id);
}

void os3_uploads_result_clear(os3_uploads_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_uploads; i++) {
        free(r->uploads[i].key);
        free(r->uploads[i].storage_class);
    }
    free(r->uploads);
    for (size_t i = 0; i < r->n_prefixes; i++)
        free(r->prefixes[i]);
    free(r->prefixes);
    free(r->next_key_marker);
    free(r->next_upload_id_marker);
    memset(r, 0, sizeof *r);
}

#define UPL_COLS "SELECT key, upload_id, initiated_us, storage_class FROM uploads "

int os3_mpu_list_uploads(os3_store *st, const char *bucket, const os3_list_params *params,
                         const char *upload_id_marker, os3_uploads_result *out)
{
    memset(out, 0, sizeof *out);
    scan sc;
    scan_init(&sc, params, emit_upload, out);
    static const struct paged_sql q = {
        "SELECT seq FROM uploads WHERE bucket = ? AND key = ? AND upload_id = ?",
        UPL_COLS "WHERE bucket = ?1 AND key = ?2 AND seq > ?3 ORDER BY seq",
        UPL_COLS "WHERE bucket = ?1 AND key > ?2 ORDER BY key, seq",
        UPL_COLS "WHERE bucket = ?1 AND key >= ?2 ORDER BY key, seq",
    };
    int rc = scan_paged(st, &sc, bucket, upload_id_marker, &q);
    if (rc == 0)
        scan_finish(&sc, &out->prefixes, &out->n_prefixes, &out->truncated,
                    &out->next_key_marker, &out->next_upload_id_marker);
    scan_free(&sc);
    if (rc < 0)
        os3_uploads_result_clear(out);
    return rc;
}
