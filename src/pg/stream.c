/* The streaming WAL receiver that `radiant serve` runs per cluster, so that
 * the RPO is the time to fsync a few kilobytes, not archive_timeout. It is a
 * physical replication client (PostgreSQL docs, "Streaming Replication
 * Protocol") on the slot "radiant", writing what it receives to
 * STATE/stream/ID/:
 *
 *   SEGMENT.partial   the segment being received, data up to its length
 *   SEGMENT           a completed segment, until archive_command has
 *                     archived it (then removed here)
 *
 * Invariants:
 *   1. A flush position is reported to the server (and so may release a
 *      synchronous commit, or let the slot drop WAL) only after the bytes up
 *      to it are fdatasync'ed in the directory above.
 *   2. wal_stream.caught_up_us (catalog) is a server time by which every
 *      commit the server had flushed is durable here: the send time of a
 *      message whose end of WAL is held, less a margin for what the server
 *      flushed while composing it (DATA_MARGIN_US, KEEPALIVE_MARGIN_US),
 *      recorded after the fsync; so LatestRestorableTime never claims a commit
 *      this machine lacks.
 *   3. Resuming never leaves a hole: streaming restarts at the start of the
 *      newest segment held (rewriting identical bytes), which the slot keeps
 *      on the server because only flushed positions are ever reported.
 *
 * States of the receiver thread:
 *
 *   connect --> identify, create slot --> START_REPLICATION --> stream
 *      ^                                                          |
 *      +---- wait (1 s, doubling to 10 s) <--- error or end ------+
 *   any state --(pgc_stream_stop)--> closed
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "pg/pg.h"

#define STREAM_SLOT "radiant"
#define STATUS_INTERVAL_NS (1000LL * 1000 * 1000)     /* ask for a keepalive */
#define CATALOG_INTERVAL_NS (200LL * 1000 * 1000)     /* record caught_up_us */
#define CLEAN_INTERVAL_NS (10LL * 1000 * 1000 * 1000) /* drop archived segments */
/* How far before a message's send time its end of WAL is known to hold every
 * flushed commit. A data message reads the flush position a few microseconds
 * before stamping its send time; a keepalive reports what was sent before the
 * walsender woke up, which may miss a commit flushed during the wakeup. */
#define DATA_MARGIN_US (100 * 1000)
#define KEEPALIVE_MARGIN_US (1000 * 1000)
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 10000
/* PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC. */
#define PG_EPOCH_UNIX_US (946684800LL * 1000000)

struct pgc_stream {
    pthread_t thread;
    atomic_bool stop;
    const rd_config *cfg;
    char *cluster;
    char *conninfo;
    char *dir;
    rd_catalog *cat;
    char last_error[256];            /* logged once until it changes */

    /* One connection's state. */
    PGconn *conn;
    char system_id[32];
    uint32_t timeline;
    uint64_t first;                  /* start of the continuous WAL held */
    uint64_t received;               /* end of what is written */
    uint64_t flushed;                /* end of what is fdatasync'ed */
    uint64_t server_end;             /* the server's end of WAL, last heard */
    int64_t server_time_us;          /* what holding server_end proves (below) */
    int64_t caught_up_us;            /* invariant 2 */
    int fd;                          /* SEGMENT.partial being written, or -1 */
    uint64_t fd_segno;
    int64_t last_status_ns, last_catalog_ns, last_clean_ns;
    uint64_t recorded_flush;         /* what the catalog row says */
    int64_t recorded_caught_up_us;
};

/* ----------------------------------------------------------- helpers -- */

static uint64_t get_be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

static void put_be64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static int parse_lsn(const char *text, uint64_t *lsn)
{
    unsigned hi, lo;
    if (!text || sscanf(text, "%X/%X", &hi, &lo) != 2)
        return rd_fail(RD_ENET, "the server sent '%s', not an LSN", text ? text : "nothing");
    *lsn = (uint64_t)hi << 32 | lo;
    return 0;
}

char *pgc_stream_dir(const rd_config *cfg, const char *cluster)
{
    return rd_asprintf("%s/stream/%s", rd_config_state_dir(cfg), cluster);
}

static char *segment_path(const struct pgc_stream *s, uint64_t segno, bool partial)
{
    char name[PGC_WAL_SEGMENT_NAME_LEN + 1];
    pgc_wal_segment_name(s->timeline, segno, name);
    return rd_asprintf("%s/%s%s", s->dir, name, partial ? ".partial" : "");
}

/* Logs a failure once until a different one happens, so that a cluster that
 * is down for an hour gives one line, not 360. */
static void note_failure(struct pgc_stream *s, const char *what)
{
    char msg[sizeof s->last_error];
    snprintf(msg, sizeof msg, "%s: %s", what, rd_error());
    /* libpq's messages span lines ("...\n\tIs the server running...?"). */
    size_t out = 0;
    for (size_t i = 0; msg[i]; i++) {
        char ch = msg[i] == '\n' || msg[i] == '\t' ? ' ' : msg[i];
        if (ch != ' ' || (out > 0 && msg[out - 1] != ' '))
            msg[out++] = ch;
    }
    while (out > 0 && msg[out - 1] == ' ')
        out--;
    msg[out] = '\0';
    if (strcmp(msg, s->last_error) == 0) {
        RD_DEBUG("WAL streaming of DB cluster %s: %s", s->cluster, msg);
        return;
    }
    memcpy(s->last_error, msg, sizeof msg);
    RD_WARN("WAL streaming of DB cluster %s: %s (retrying)", s->cluster, msg);
}

/* ----------------------------------------------------------- catalog -- */

static int catalog_record(struct pgc_stream *s)
{
    sqlite3 *db = rd_catalog_db(s->cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO wal_stream(cluster_id, system_id, "
                           "timeline, first_lsn, flush_lsn, caught_up_us, updated_us) "
                           "VALUES (?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, s->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->system_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->timeline);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)s->first);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)s->flushed);
    sqlite3_bind_int64(st, 6, s->caught_up_us);
    sqlite3_bind_int64(st, 7, rd_clock_now_us());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: recording the WAL stream of %s: %s", s->cluster,
                       sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* The stream recorded for the cluster. *found false when there is none. */
struct recorded {
    char system_id[32];
    uint32_t timeline;
    uint64_t first;
    int64_t caught_up_us;
};

static int catalog_load(struct pgc_stream *s, struct recorded *r, bool *found)
{
    sqlite3 *db = rd_catalog_db(s->cat);
    sqlite3_stmt *st;
    *found = false;
    if (sqlite3_prepare_v2(db, "SELECT system_id, timeline, first_lsn, caught_up_us FROM "
                           "wal_stream WHERE cluster_id = ?", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, s->cluster, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        snprintf(r->system_id, sizeof r->system_id, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        r->timeline = (uint32_t)sqlite3_column_int64(st, 1);
        r->first = (uint64_t)sqlite3_column_int64(st, 2);
        r->caught_up_us = sqlite3_column_int64(st, 3);
        *found = true;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static bool archived(struct pgc_stream *s, const char *name)
{
    sqlite3 *db = rd_catalog_db(s->cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM wal_archive WHERE cluster_id = ? AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, s->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

/* ----------------------------------------------------- segment files -- */

/* Removes the segments (whole or partial) that archive_command has archived:
 * from then on the repositories hold them. */
static void clean_archived(struct pgc_stream *s)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return;
    bool removed = false;
    for (struct dirent *e; (e = readdir(d));) {
        char name[PGC_WAL_SEGMENT_NAME_LEN + 1];
        size_t len = strlen(e->d_name);
        if (len != PGC_WAL_SEGMENT_NAME_LEN && strcmp(e->d_name + PGC_WAL_SEGMENT_NAME_LEN,
                                                      ".partial") != 0)
            continue;
        snprintf(name, sizeof name, "%.*s", PGC_WAL_SEGMENT_NAME_LEN, e->d_name);
        if (!pgc_wal_is_segment(name) || !archived(s, name))
            continue;
        if (s->fd >= 0 && len > PGC_WAL_SEGMENT_NAME_LEN) {
            uint32_t tli;
            uint64_t segno;
            if (pgc_wal_segment_parse(name, &tli, &segno) == 0 && tli == s->timeline &&
                segno == s->fd_segno)
                continue;   /* still being written: its end is not archived yet */
        }
        char *path = rd_path_join(s->dir, e->d_name);
        if (unlink(path) == 0)
            removed = true;
        free(path);
    }
    closedir(d);
    if (removed)
        rd_fs_fsync_dir(s->dir);
}

/* The newest segment held on the timeline: *segno and whether it is partial.
 * *found false when none. */
static void newest_held(const struct pgc_stream *s, uint64_t *segno, bool *partial, bool *found)
{
    *found = false;
    DIR *d = opendir(s->dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char name[PGC_WAL_SEGMENT_NAME_LEN + 1];
        size_t len = strlen(e->d_name);
        bool part = len == PGC_WAL_SEGMENT_NAME_LEN + 8 &&
                    strcmp(e->d_name + PGC_WAL_SEGMENT_NAME_LEN, ".partial") == 0;
        if (len != PGC_WAL_SEGMENT_NAME_LEN && !part)
            continue;
        snprintf(name, sizeof name, "%.*s", PGC_WAL_SEGMENT_NAME_LEN, e->d_name);
        uint32_t tli;
        uint64_t n;
        if (pgc_wal_segment_parse(name, &tli, &n) < 0 || tli != s->timeline)
            continue;
        if (!*found || n > *segno || (n == *segno && !part)) {
            *segno = n;
            *partial = part;
            *found = true;
        }
    }
    closedir(d);
}

static int segment_close(struct pgc_stream *s)
{
    int rc = 0;
    if (s->fd >= 0 && close(s->fd) != 0)
        rc = rd_fail_errno(RD_EIO, "closing a streamed WAL segment of %s", s->cluster);
    s->fd = -1;
    return rc;
}

/* A segment is complete: durable, then renamed to its final name. */
static int segment_complete(struct pgc_stream *s)
{
    int rc = 0;
    if (fdatasync(s->fd) != 0)
        rc = rd_fail_errno(RD_EIO, "fsync of a streamed WAL segment of %s", s->cluster);
    int crc = segment_close(s);
    if (rc == 0)
        rc = crc;
    char *from = segment_path(s, s->fd_segno, true), *to = segment_path(s, s->fd_segno, false);
    if (rc == 0 && rename(from, to) != 0)
        rc = rd_fail_errno(RD_EIO, "renaming %s", from);
    if (rc == 0)
        rc = rd_fs_fsync_dir(s->dir);
    free(from);
    free(to);
    return rc;
}

static int segment_open(struct pgc_stream *s, uint64_t segno)
{
    if (s->fd >= 0 && s->fd_segno == segno)
        return 0;
    int rc = 0;
    if (s->fd >= 0) {
        /* Written before a position the server skipped ahead from: keep it
         * durable, but it is not complete. */
        if (fdatasync(s->fd) != 0)
            rc = rd_fail_errno(RD_EIO, "fsync of a streamed WAL segment of %s", s->cluster);
        segment_close(s);
        if (rc < 0)
            return rc;
    }
    char *path = segment_path(s, segno, true);
    struct stat st;
    bool existed = stat(path, &st) == 0;
    s->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0)
        rc = rd_fail_errno(RD_EIO, "cannot create %s", path);
    else if (!existed)
        rc = rd_fs_fsync_dir(s->dir);
    s->fd_segno = segno;
    free(path);
    return rc;
}

/* Writes WAL bytes [start, start + len) to the segments they belong to. */
static int write_wal(struct pgc_stream *s, uint64_t start, const char *data, size_t len)
{
    if (start > s->received)
        return rd_fail(RD_ENET, "the server sent WAL from %X/%X, leaving a hole after %X/%X",
                       (unsigned)(start >> 32), (unsigned)start,
                       (unsigned)(s->received >> 32), (unsigned)s->received);
    while (len > 0) {
        uint64_t segno = start / PGC_WAL_SEGMENT_SIZE, off = start % PGC_WAL_SEGMENT_SIZE;
        size_t n = len < PGC_WAL_SEGMENT_SIZE - off ? len : (size_t)(PGC_WAL_SEGMENT_SIZE - off);
        int rc = segment_open(s, segno);
        if (rc == 0)
            rc = rd_fs_pwrite_full(s->fd, data, n, off);
        if (rc < 0)
            return rc;
        start += n;
        data += n;
        len -= n;
        if (start > s->received)
            s->received = start;
        if (off + n == PGC_WAL_SEGMENT_SIZE) {
            rc = segment_complete(s);
            if (rc < 0)
                return rc;
            if (start > s->flushed)
                s->flushed = start;
        }
    }
    return 0;
}

/* ---------------------------------------------------------- protocol -- */

/* The standby status update ('r'): written = flushed = s->flushed
 * (invariant 1), applied unknown. */
static int send_status(struct pgc_stream *s, bool reply_requested)
{
    char msg[1 + 8 * 4 + 1];
    int64_t now_pg = rd_clock_now_us() - PG_EPOCH_UNIX_US;
    msg[0] = 'r';
    put_be64(msg + 1, s->flushed);
    put_be64(msg + 9, s->flushed);
    put_be64(msg + 17, 0);
    put_be64(msg + 25, (uint64_t)now_pg);
    msg[33] = reply_requested ? 1 : 0;
    if (PQputCopyData(s->conn, msg, sizeof msg) <= 0 || PQflush(s->conn) != 0)
        return rd_fail(RD_ENET, "sending the flush position: %s", PQerrorMessage(s->conn));
    s->last_status_ns = rd_mono_ns();
    return 0;
}

/* Makes everything received durable, tells the server, and records the
 * caught-up time when nothing the server had is missing. */
static int flush(struct pgc_stream *s)
{
    if (s->received > s->flushed) {
        if (s->fd >= 0 && fdatasync(s->fd) != 0)
            return rd_fail_errno(RD_EIO, "fsync of a streamed WAL segment of %s", s->cluster);
        s->flushed = s->received;
        int rc = send_status(s, false);
        if (rc < 0)
            return rc;
    }
    if (s->flushed >= s->server_end && s->server_time_us > s->caught_up_us)
        s->caught_up_us = s->server_time_us;
    int64_t now = rd_mono_ns();
    bool changed = s->flushed != s->recorded_flush ||
                   s->caught_up_us != s->recorded_caught_up_us;
    if (changed && now - s->last_catalog_ns >= CATALOG_INTERVAL_NS) {
        int rc = catalog_record(s);
        if (rc < 0)
            return rc;
        s->last_catalog_ns = now;
        s->recorded_flush = s->flushed;
        s->recorded_caught_up_us = s->caught_up_us;
    }
    return 0;
}

static int handle_message(struct pgc_stream *s, const char *buf, int len)
{
    if (len >= 25 && buf[0] == 'w') {
        uint64_t start = get_be64(buf + 1);
        s->server_end = get_be64(buf + 9);
        s->server_time_us = (int64_t)get_be64(buf + 17) + PG_EPOCH_UNIX_US - DATA_MARGIN_US;
        return write_wal(s, start, buf + 25, (size_t)len - 25);
    }
    if (len >= 18 && buf[0] == 'k') {
        uint64_t end = get_be64(buf + 1);
        if (end > s->server_end)
            s->server_end = end;
        s->server_time_us = (int64_t)get_be64(buf + 9) + PG_EPOCH_UNIX_US - KEEPALIVE_MARGIN_US;
        return buf[17] ? send_status(s, false) : 0;
    }
    return rd_fail(RD_ENET, "unexpected replication message '%c' of %d bytes", buf[0], len);
}

/* Runs one replication command; *out the result (PQclear it). */
static int command(struct pgc_stream *s, const char *sql, ExecStatusType want, PGresult **out)
{
    PGresult *res = PQexec(s->conn, sql);
    if (PQresultStatus(res) != want) {
        int rc = rd_fail(RD_ENET, "%s: %s", sql, PQerrorMessage(s->conn));
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

static int identify(struct pgc_stream *s, uint64_t *server_pos)
{
    PGresult *res;
    int rc = command(s, "IDENTIFY_SYSTEM", PGRES_TUPLES_OK, &res);
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1 || PQnfields(res) < 3) {
        PQclear(res);
        return rd_fail(RD_ENET, "IDENTIFY_SYSTEM gave an unexpected answer");
    }
    snprintf(s->system_id, sizeof s->system_id, "%s", PQgetvalue(res, 0, 0));
    s->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    rc = parse_lsn(PQgetvalue(res, 0, 2), server_pos);
    PQclear(res);
    if (rc == 0 && s->timeline == 0)
        rc = rd_fail(RD_ENET, "IDENTIFY_SYSTEM gave timeline 0");
    return rc;
}

/* Creates the slot unless it exists; *restart is where it keeps WAL from. */
static int slot_ensure(struct pgc_stream *s, uint64_t *restart)
{
    PGresult *res = PQexec(s->conn, "CREATE_REPLICATION_SLOT " STREAM_SLOT " PHYSICAL "
                           "RESERVE_WAL");
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK && !(state && strcmp(state, "42710") == 0))
        rc = rd_fail(RD_ENET, "creating the replication slot '" STREAM_SLOT "': %s",
                     PQerrorMessage(s->conn));
    else if (PQresultStatus(res) == PGRES_TUPLES_OK)
        RD_INFO("DB cluster %s: replication slot '" STREAM_SLOT "' created", s->cluster);
    PQclear(res);
    if (rc < 0)
        return rc;
    rc = command(s, "READ_REPLICATION_SLOT " STREAM_SLOT, PGRES_TUPLES_OK, &res);
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1 || PQnfields(res) < 2 || PQgetisnull(res, 0, 1))
        rc = rd_fail(RD_ENET, "the replication slot '" STREAM_SLOT "' reserves no WAL");
    else
        rc = parse_lsn(PQgetvalue(res, 0, 1), restart);
    PQclear(res);
    return rc;
}

/* Empties the directory of another system's segments (a cluster deleted and
 * created again under the same identifier). */
static void forget_other_system(struct pgc_stream *s)
{
    struct recorded r;
    bool found;
    if (catalog_load(s, &r, &found) < 0 || !found || strcmp(r.system_id, s->system_id) == 0)
        return;
    RD_WARN("DB cluster %s is a new system (%s, was %s): discarding its old streamed WAL",
            s->cluster, s->system_id, r.system_id);
    rd_fs_remove_tree(s->dir);
    rd_fs_mkdir_p(s->dir, 0700);
    s->caught_up_us = 0;
    s->recorded_caught_up_us = -1;
}

/* Where to stream from: the start of the newest partial segment held (it is
 * rewritten with identical bytes) or after the newest whole one; else where
 * the slot keeps WAL from. Sets s->first. */
static void choose_start(struct pgc_stream *s, uint64_t slot_restart, uint64_t *start)
{
    uint64_t segno = 0;
    bool partial = false, found = false;
    newest_held(s, &segno, &partial, &found);
    uint64_t held = (partial ? segno : segno + 1) * (uint64_t)PGC_WAL_SEGMENT_SIZE;
    uint64_t slot_seg = slot_restart - slot_restart % PGC_WAL_SEGMENT_SIZE;
    struct recorded r;
    bool recorded = false;
    bool same = catalog_load(s, &r, &recorded) == 0 && recorded &&
                strcmp(r.system_id, s->system_id) == 0 && r.timeline == s->timeline;
    if (same && r.caught_up_us > s->caught_up_us)
        s->caught_up_us = r.caught_up_us;
    if (found && held >= slot_seg) {
        *start = held;
        s->first = same && r.first <= held ? r.first : held;
    } else {
        *start = slot_seg;
        s->first = slot_seg;
    }
}

static int stream_connect(struct pgc_stream *s)
{
    s->conn = PQconnectdb(s->conninfo);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return rd_fail(RD_ENET, "cannot connect for replication: %s", PQerrorMessage(s->conn));
    uint64_t server_pos = 0, slot_restart = 0, start = 0;
    int rc = identify(s, &server_pos);
    if (rc == 0) {
        forget_other_system(s);
        rc = slot_ensure(s, &slot_restart);
    }
    if (rc < 0)
        return rc;
    choose_start(s, slot_restart, &start);
    s->received = s->flushed = start;
    s->server_end = 0;
    s->server_time_us = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "START_REPLICATION SLOT " STREAM_SLOT " PHYSICAL %X/%X TIMELINE %u",
             (unsigned)(start >> 32), (unsigned)start, s->timeline);
    PGresult *res;
    rc = command(s, sql, PGRES_COPY_BOTH, &res);
    if (rc < 0)
        return rc;
    PQclear(res);
    RD_INFO("DB cluster %s: streaming WAL from %X/%X on timeline %u into %s", s->cluster,
            (unsigned)(start >> 32), (unsigned)start, s->timeline, s->dir);
    s->last_error[0] = '\0';
    s->last_catalog_ns = 0;
    s->recorded_caught_up_us = -1;   /* record the first known state */
    return 0;
}

/* Receives until an error, the end of the stream or stop. */
static int stream_run(struct pgc_stream *s)
{
    int rc = 0;
    while (rc == 0 && !atomic_load(&s->stop)) {
        struct pollfd p = { .fd = PQsocket(s->conn), .events = POLLIN };
        if (poll(&p, 1, 200) < 0 && errno != EINTR)
            return rd_fail_errno(RD_EIO, "poll");
        if (!PQconsumeInput(s->conn))
            return rd_fail(RD_ENET, "connection lost: %s", PQerrorMessage(s->conn));
        for (;;) {
            char *buf = NULL;
            int len = PQgetCopyData(s->conn, &buf, 1);
            if (len == 0)
                break;
            if (len == -1) {
                PGresult *res = PQgetResult(s->conn);
                rc = rd_fail(RD_ENET, "the server ended the stream: %s",
                             PQresultErrorMessage(res));
                PQclear(res);
                break;
            }
            if (len < 0) {
                rc = rd_fail(RD_ENET, "connection lost: %s", PQerrorMessage(s->conn));
                break;
            }
            rc = handle_message(s, buf, len);
            PQfreemem(buf);
            if (rc < 0)
                break;
        }
        if (rc == 0)
            rc = flush(s);
        int64_t now = rd_mono_ns();
        if (rc == 0 && now - s->last_status_ns >= STATUS_INTERVAL_NS)
            rc = send_status(s, true);
        if (now - s->last_clean_ns >= CLEAN_INTERVAL_NS) {
            clean_archived(s);
            s->last_clean_ns = now;
        }
    }
    return rc;
}

static void stream_disconnect(struct pgc_stream *s)
{
    if (s->fd >= 0) {
        fdatasync(s->fd);
        segment_close(s);
    }
    PQfinish(s->conn);
    s->conn = NULL;
}

static void wait_retry(struct pgc_stream *s, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&s->stop); waited += 100)
        nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
}

static void *stream_thread(void *arg)
{
    struct pgc_stream *s = arg;
    int retry_ms = RETRY_MIN_MS;
    while (!atomic_load(&s->stop)) {
        int rc = stream_connect(s);
        if (rc == 0) {
            retry_ms = RETRY_MIN_MS;
            rc = stream_run(s);
        }
        if (rc < 0 && !atomic_load(&s->stop))
            note_failure(s, "receiving");
        stream_disconnect(s);
        wait_retry(s, retry_ms);
        retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
    }
    return NULL;
}

/* ------------------------------------------------------------- public -- */

int pgc_stream_start(const rd_config *cfg, const pgc_cluster *c, pgc_stream **out)
{
    struct pgc_stream *s = calloc(1, sizeof *s);
    if (!s)
        return rd_fail(RD_ENOMEM, "out of memory");
    s->cfg = cfg;
    s->fd = -1;
    s->cluster = strdup(c->id);
    char *base = pgc_conninfo(c);
    s->conninfo = rd_asprintf("%s replication=true", base);
    free(base);
    s->dir = pgc_stream_dir(cfg, c->id);
    int rc = rd_fs_mkdir_p(s->dir, 0700);
    if (rc == 0)
        rc = pgc_catalog_open(cfg, &s->cat);
    if (rc == 0 && pthread_create(&s->thread, NULL, stream_thread, s) != 0)
        rc = rd_fail(RD_EINTERNAL, "cannot start the WAL receiver of %s", c->id);
    if (rc < 0) {
        rd_catalog_close(s->cat);
        free(s->cluster);
        free(s->conninfo);
        free(s->dir);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *pgc_stream_cluster(const pgc_stream *s)
{
    return s->cluster;
}

void pgc_stream_stop(pgc_stream *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    rd_catalog_close(s->cat);
    free(s->cluster);
    free(s->conninfo);
    free(s->dir);
    free(s);
}

/* ------------------------------------------------ restore and window -- */

int pgc_stream_fetch(const rd_config *cfg, const char *cluster, const char *file,
                     const char *dest)
{
    if (!pgc_wal_is_segment(file))
        return rd_fail(RD_ENOENT, "WAL %s of DB cluster %s was not streamed", file, cluster);
    char *dir = pgc_stream_dir(cfg, cluster);
    char *whole = rd_path_join(dir, file);
    char *partial = rd_asprintf("%s.partial", whole);
    rd_buf data = RD_BUF_INIT;
    int rc = rd_fs_read_file(whole, PGC_WAL_SEGMENT_SIZE, &data);
    if (rc == -RD_ENOENT)
        rc = rd_fs_read_file(partial, PGC_WAL_SEGMENT_SIZE, &data);
    /* A partial segment ends where streaming stopped; zeros after it read
     * as the end of WAL, as in a segment PostgreSQL was still writing. */
    if (rc == 0 && data.len < PGC_WAL_SEGMENT_SIZE) {
        size_t have = data.len;
        rd_buf_reserve(&data, PGC_WAL_SEGMENT_SIZE - have);
        memset(data.data + have, 0, PGC_WAL_SEGMENT_SIZE - have);
        data.len = PGC_WAL_SEGMENT_SIZE;
    }
    if (rc == 0)
        rc = rd_fs_write_atomic(dest, data.data, data.len, 0600);
    if (rc == -RD_ENOENT)
        rc = rd_fail(RD_ENOENT, "WAL %s of DB cluster %s was not streamed", file, cluster);
    rd_buf_free(&data);
    free(partial);
    free(whole);
    free(dir);
    return rc;
}

int pgc_stream_latest(rd_catalog *cat, const char *cluster, uint64_t backup_start_lsn,
                      int64_t *seconds)
{
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    *seconds = 0;
    if (sqlite3_prepare_v2(db, "SELECT timeline, first_lsn, caught_up_us FROM wal_stream "
                           "WHERE cluster_id = ?", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    uint32_t tli = 0;
    uint64_t first = 0;
    int64_t caught_up = 0;
    if (step == SQLITE_ROW) {
        tli = (uint32_t)sqlite3_column_int64(st, 0);
        first = (uint64_t)sqlite3_column_int64(st, 1);
        caught_up = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc < 0 || step != SQLITE_ROW || caught_up <= 0)
        return rc;
    /* The stream counts only when nothing lies between the archive (or the
     * backup) and its first byte. */
    uint64_t first_seg = first / PGC_WAL_SEGMENT_SIZE;
    bool joined = first <= backup_start_lsn;
    if (!joined && first_seg > 0) {
        char prev[PGC_WAL_SEGMENT_NAME_LEN + 1];
        pgc_wal_segment_name(tli, first_seg - 1, prev);
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM wal_archive WHERE cluster_id = ? AND "
                               "name = ?", -1, &st, NULL) != SQLITE_OK)
            return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
        sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, prev, -1, SQLITE_STATIC);
        joined = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (joined)
        *seconds = caught_up / 1000000;
    return 0;
}

int pgc_stream_remove(const rd_config *cfg, rd_catalog *cat, const char *cluster)
{
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM wal_stream WHERE cluster_id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    char *dir = pgc_stream_dir(cfg, cluster);
    if (rc == 0)
        rc = rd_fs_remove_tree(dir);
    free(dir);
    return rc;
}
