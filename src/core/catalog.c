/* SQLite catalog with numbered migrations. Migrations are append-only: never
 * edit one that has shipped, add the next number instead. */
#include "core/catalog.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"

struct rd_catalog {
    sqlite3 *db;
    int version;
};

static const char *const migrations[] = {
    /* 1: events, the journal behind describe-events. */
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  time_us INTEGER NOT NULL,"
    "  source_type TEXT NOT NULL,"
    "  source_id TEXT NOT NULL,"
    "  category TEXT NOT NULL,"
    "  message TEXT NOT NULL);"
    "CREATE INDEX events_source ON events(source_type, source_id, time_us);",
};

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        int rc = rd_fail(RD_EIO, "catalog: %s", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return rc;
    }
    return 0;
}

static int migrate(rd_catalog *cat)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(cat->db));
    cat->version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    int latest = (int)(sizeof migrations / sizeof migrations[0]);
    if (cat->version > latest)
        return rd_fail(RD_ECONFIG, "catalog schema version %d is newer than this radiant "
                       "knows (%d); upgrade radiant", cat->version, latest);
    while (cat->version < latest) {
        int next = cat->version + 1;
        char *sql = rd_asprintf("BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;",
                                migrations[next - 1], next);
        int rc = exec_sql(cat->db, sql);
        free(sql);
        if (rc < 0) {
            exec_sql(cat->db, "ROLLBACK");
            return rd_fail_wrap(rc, "migration %d", next);
        }
        cat->version = next;
    }
    return 0;
}

int rd_catalog_open(const char *state_dir, rd_catalog **out)
{
    int rc = rd_fs_mkdir_p(state_dir, 0750);
    if (rc < 0)
        return rc;
    char *path = rd_path_join(state_dir, "catalog.db");
    rd_catalog *cat = rd_calloc(1, sizeof *cat);
    if (sqlite3_open_v2(path, &cat->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        rc = rd_fail(RD_EIO, "cannot open catalog %s: %s", path,
                     cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(cat->db, 30000);
    rc = exec_sql(cat->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                           "PRAGMA foreign_keys=ON;");
    if (rc == 0)
        rc = migrate(cat);
    if (rc < 0)
        goto fail;
    free(path);
    *out = cat;
    return 0;
fail:
    rd_fail_wrap(rc, "%s", path);
    free(path);
    rd_catalog_close(cat);
    return rc;
}

void rd_catalog_close(rd_catalog *cat)
{
    if (!cat)
        return;
    sqlite3_close(cat->db);
    free(cat);
}

sqlite3 *rd_catalog_db(rd_catalog *cat) { return cat->db; }
int rd_catalog_schema_version(rd_catalog *cat) { return cat->version; }

int rd_catalog_event_add(rd_catalog *cat, const char *source_type, const char *source_id,
                         const char *category, const char *message)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "INSERT INTO events(time_us, source_type, source_id, "
                           "category, message) VALUES (?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(cat->db));
    sqlite3_bind_int64(st, 1, rd_clock_now_us());
    sqlite3_bind_text(st, 2, source_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, source_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, category, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, message, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(cat->db));
    sqlite3_finalize(st);
    return rc;
}
