/* SQLite catalog with numbered migrations. Migrations are append-only: never
 * edit one that has shipped, add the next number instead. */
#include "core/catalog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

/* How long to wait for another process's lock before giving up. */
#define RD_CATALOG_BUSY_MS 30000

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
    /* 2: PostgreSQL clusters and the WAL archived for them. */
    "CREATE TABLE clusters ("
    "  id TEXT PRIMARY KEY,"
    "  port INTEGER NOT NULL,"
    "  data_dir TEXT NOT NULL,"
    "  socket_dir TEXT NOT NULL,"
    "  repos TEXT NOT NULL,"
    "  backup_retention_period INTEGER NOT NULL,"
    "  preferred_backup_window TEXT NOT NULL,"
    "  deletion_protection INTEGER NOT NULL,"
    "  storage_encrypted INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL,"
    "  managed INTEGER NOT NULL,"
    "  restored_from TEXT);"
    "CREATE TABLE wal_archive ("
    "  cluster_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  pushed_us INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  PRIMARY KEY (cluster_id, name));",
    /* 3: WAL streaming (src/pg/stream.c) and its synchronous option. */
    "ALTER TABLE clusters ADD COLUMN synchronous_streaming INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE wal_stream ("
    "  cluster_id TEXT PRIMARY KEY,"
    "  system_id TEXT NOT NULL,"
    "  timeline INTEGER NOT NULL,"
    "  first_lsn INTEGER NOT NULL,"
    "  flush_lsn INTEGER NOT NULL,"
    "  caught_up_us INTEGER NOT NULL,"
    "  updated_us INTEGER NOT NULL);",
    /* 4: access keys of the object store made by `radiant s3 create-access-key`. */
    "CREATE TABLE access_keys ("
    "  id TEXT PRIMARY KEY,"
    "  secret TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL);",
    /* 5: disaster-recovery drills (src/drill): the columns history sorts and
     * trends on, and the whole JSON report. rto_s and rpo_s are NULL when the
     * recovery never completed. */
    "CREATE TABLE drills ("
    "  id TEXT PRIMARY KEY,"
    "  scenario TEXT NOT NULL,"
    "  started_us INTEGER NOT NULL,"
    "  finished_us INTEGER NOT NULL,"
    "  verdict TEXT NOT NULL,"
    "  rto_s REAL,"
    "  rpo_s REAL,"
    "  lost INTEGER NOT NULL,"
    "  json TEXT NOT NULL);"
    "CREATE INDEX drills_scenario ON drills(scenario, started_us);",
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

static int read_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        rc = rd_fail(RD_EIO, "catalog: cannot read the schema version: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* Several processes may open a new catalog at the same moment (serve starting
 * while PostgreSQL already runs `radiant wal push`), so the version that
 * decides whether a migration runs is read again under the write lock that
 * the migration holds; reading it before BEGIN would let two processes both
 * apply migration N, and the second fail with "table already exists". */
static int migrate(rd_catalog *cat)
{
    int latest = (int)(sizeof migrations / sizeof migrations[0]);
    int rc = read_version(cat->db, &cat->version);
    while (rc == 0 && cat->version < latest) {
        rc = exec_sql(cat->db, "BEGIN IMMEDIATE");
        if (rc < 0)
            break;
        rc = read_version(cat->db, &cat->version);
        int next = cat->version + 1;
        bool apply = rc == 0 && cat->version < latest;   /* else another process did */
        if (apply) {
            char *sql = rd_asprintf("%s PRAGMA user_version = %d;", migrations[next - 1], next);
            rc = exec_sql(cat->db, sql);
            free(sql);
            if (rc < 0)
                rc = rd_fail_wrap(rc, "migration %d", next);
        }
        if (rc == 0)
            rc = exec_sql(cat->db, "COMMIT");
        if (rc < 0) {
            /* Not exec_sql: its message would replace the one that matters. */
            sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
            break;
        }
        if (apply)
            cat->version = next;
    }
    if (rc == 0 && cat->version > latest)
        rc = rd_fail(RD_ECONFIG, "catalog schema version %d is newer than this radiant "
                     "knows (%d); upgrade radiant", cat->version, latest);
    return rc;
}

/* Switching a new database to WAL upgrades the pragma's read lock to a write
 * lock, and SQLite then answers SQLITE_BUSY at once instead of calling the
 * busy handler (waiting could deadlock). Concurrent first opens therefore
 * retry here, for as long as the busy timeout would have waited. */
static int set_wal_mode(sqlite3 *db)
{
    for (int waited_ms = 0;; waited_ms += 10) {
        int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= RD_CATALOG_BUSY_MS)
            return rc == SQLITE_OK ? 0 : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
        sqlite3_sleep(10);
    }
}

/* root shares the state directory with the unprivileged user PostgreSQL work
 * runs as: files root creates there (the database and SQLite's -wal and -shm
 * companions) go to the directory's owner, or that user could no longer
 * write the catalog. */
static void give_to_dir_owner(const char *state_dir, const char *db_path)
{
    struct stat st;
    if (geteuid() != 0 || stat(state_dir, &st) != 0 || st.st_uid == 0)
        return;
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < 3; i++) {
        char *p = rd_asprintf("%s%s", db_path, suffixes[i]);
        if (chown(p, st.st_uid, st.st_gid) != 0 && errno != ENOENT)
            RD_WARN("cannot give %s to the owner of %s: %s", p, state_dir, strerror(errno));
        free(p);
    }
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
    sqlite3_busy_timeout(cat->db, RD_CATALOG_BUSY_MS);
    rc = set_wal_mode(cat->db);
    if (rc == 0)
        rc = exec_sql(cat->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (rc == 0)
        rc = migrate(cat);
    if (rc < 0)
        goto fail;
    give_to_dir_owner(state_dir, path);
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
