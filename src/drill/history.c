/* The drill history in the catalog (table drills, migration 5). A row keeps
 * the columns `drill history` sorts, filters and trends on, and the whole
 * JSON report, so `drill report ID` re-renders exactly what the drill wrote. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "drill/drill.h"

static int db_fail(rd_catalog *cat, const char *what)
{
    return rd_fail(RD_EIO, "catalog: %s: %s", what, sqlite3_errmsg(rd_catalog_db(cat)));
}

int drill_save(rd_catalog *cat, const drill_result *r)
{
    json_t *doc;
    int rc = drill_report_json(r, &doc);
    if (rc < 0)
        return rc;
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return rd_fail(RD_EINTERNAL, "drill %s: cannot serialise the report", r->id);
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO drills (id, scenario, started_us, finished_us, "
                           "verdict, rto_s, rpo_s, lost, json) VALUES (?,?,?,?,?,?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK) {
        free(text);
        return db_fail(cat, "recording a drill");
    }
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->scenario, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->started_us);
    sqlite3_bind_int64(st, 4, r->finished_us);
    sqlite3_bind_text(st, 5, drill_verdict_name(r->verdict), -1, SQLITE_STATIC);
    /* NULL, not a sentinel, for a time that was never measured: averages and
     * trends computed in SQL then skip it. */
    if (r->rto_s >= 0)
        sqlite3_bind_double(st, 6, r->rto_s);
    if (r->rpo_s >= 0)
        sqlite3_bind_double(st, 7, r->rpo_s);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->writes_lost);
    sqlite3_bind_text(st, 9, text, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = 0;
    else if (step == SQLITE_CONSTRAINT)
        rc = rd_fail(RD_EEXIST, "drill %s is already recorded in the catalog", r->id);
    else
        rc = db_fail(cat, "recording a drill");
    sqlite3_finalize(st);
    free(text);
    return rc;
}

static double column_seconds(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? DRILL_UNMEASURED
                                                       : sqlite3_column_double(st, col);
}

int drill_list(rd_catalog *cat, const char *scenario, size_t limit, drill_summary **out,
               size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(rd_catalog_db(cat),
                           "SELECT id, scenario, started_us, finished_us, verdict, rto_s, rpo_s,"
                           " lost FROM drills WHERE (?1 IS NULL OR scenario = ?1) "
                           "ORDER BY started_us DESC, id DESC LIMIT ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(cat, "listing drills");
    if (scenario)
        sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    drill_summary *list = NULL;
    size_t count = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        list = rd_realloc(list, (count + 1) * sizeof *list);
        drill_summary *s = &list[count++];
        s->id = rd_strdup((const char *)sqlite3_column_text(st, 0));
        s->scenario = rd_strdup((const char *)sqlite3_column_text(st, 1));
        s->started_us = sqlite3_column_int64(st, 2);
        s->finished_us = sqlite3_column_int64(st, 3);
        /* A verdict this radiant does not know cannot be shown as a pass. */
        int v = drill_verdict_parse((const char *)sqlite3_column_text(st, 4));
        s->verdict = v < 0 ? DRILL_FAILED : (enum drill_verdict)v;
        s->rto_s = column_seconds(st, 5);
        s->rpo_s = column_seconds(st, 6);
        sqlite3_int64 lost = sqlite3_column_int64(st, 7);
        s->lost = lost > 0 ? (uint64_t)lost : 0;
    }
    int rc = step == SQLITE_DONE ? 0 : db_fail(cat, "listing drills");
    sqlite3_finalize(st);
    if (rc < 0) {
        drill_summaries_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

void drill_summaries_free(drill_summary *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].id);
        free(s[i].scenario);
    }
    free(s);
}

int drill_get(rd_catalog *cat, const char *id, char **json)
{
    *json = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(rd_catalog_db(cat), "SELECT json FROM drills WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(cat, "reading a drill");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW)
        *json = rd_strdup((const char *)sqlite3_column_text(st, 0));
    else if (step == SQLITE_DONE)
        rc = rd_fail(RD_ENOENT, "no drill %s in the catalog; 'radiant drill history' lists "
                     "them", id);
    else
        rc = db_fail(cat, "reading a drill");
    sqlite3_finalize(st);
    return rc;
}
