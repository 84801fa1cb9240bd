/* WAL archiving to and from the repositories: what PostgreSQL's
 * archive_command (`radiant wal push %p`) and restore_command (`radiant wal
 * fetch %f %p`) do, and the prefetch spool that keeps replay, not fetching,
 * the limit of a restore.
 *
 * Invariants
 *  1. push returns 0 only when the file is durable in every repository of the
 *     cluster (repo_object_put is atomic and durable in every driver).
 *  2. A name once archived is never overwritten with different content, in
 *     any repository (exclusive puts); PostgreSQL retrying after a partial
 *     failure stores the same bytes again, which is success.
 *  3. Only the process holding the flock of STATE/spool/ID/.lock (one
 *     prefetcher at a time) creates or removes NAME.tmp files in the spool,
 *     and a spooled NAME appears by rename, whole. It is not fsynced: the
 *     spool is a cache, and after a crash of the machine a renamed file may
 *     have lost its data. So the spool is trusted only in the boot that
 *     wrote it: spool/.boot holds the kernel's boot id
 *     (/proc/sys/kernel/random/boot_id, new at every boot), written by the
 *     prefetcher after it has emptied a spool of another boot, and a fetch
 *     takes spooled segments only while .boot is this boot's. Within one
 *     boot the page cache is the truth, and a file that appeared by rename
 *     after its last write is whole even if a process died.
 *  5. What fetch writes to DEST is not fsynced either (renamed into place,
 *     whole): PostgreSQL reads it and removes it (RECOVERYXLOG), or, as a
 *     standby, renames it durably itself (durable_rename), and it calls
 *     restore_command again for anything it needs after a crash.
 *  4. The foreground fetch never waits on the network for a segment that is
 *     not its own, and returns as soon as its segment is delivered.
 *
 * fetch of segment N (pgc_wal_fetch_from):
 *
 *      spool/N exists? --yes--> rename to dest (copy across file systems) --+
 *           | no                                                              |
 *      spool/N.tmp exists and a prefetcher holds the lock?                   |
 *           | yes: poll until spool/N appears (then as above) or .tmp goes   |
 *           | no                                                              |
 *      fetch N from the first repository that has a sound copy -> dest -----+
 *                                                                             |
 *      N a segment, prefetch > 0, one of N+1..N+k not spooled?  <-------------+
 *           | yes: write N to spool/.want
 *      a prefetcher holds the lock? --yes--> return 0 (it reads .want next)
 *           | no: fork; the child calls setsid() and forks the prefetcher,
 *           |     which takes the lock (or exits: another one won), then in a
 *           |     loop removes spooled segments up to N and .tmp debris,
 *           |     fetches the missing ones of N+1..N+k with up to 4 threads
 *           |     into NAME.tmp, renames each into place, and starts over
 *           |     with the segment in .want until that is the one it just
 *           |     did; then exits (prefetch_run).
 *      return 0
 */
#include "pg/pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "repo/repo.h"

/* History files and .backup labels are a few hundred bytes; anything near a
 * segment's size is not one of them. */
#define WAL_SMALL_FILE_MAX PGC_WAL_SEGMENT_SIZE
/* Two threads at nice 10: on a 2-core machine the prefetcher must keep
 * ahead of replay, not take a core from it (the startup process replays on
 * one core, restore_command and the machine's other work use the other). */
#define PREFETCH_THREADS 2
#define PREFETCH_NICE 10
/* How long a foreground fetch waits for the prefetcher to finish the segment
 * it is already fetching before fetching it itself. */
#define SPOOL_WAIT_MS 60000
/* A spooled segment older than this is not trusted: it may belong to an
 * earlier cluster under the same identifier. */
#define SPOOL_MAX_AGE_S 3600
#define SPOOL_LOCK ".lock"
#define SPOOL_LOG "prefetch.log"
#define SPOOL_WANT ".want"
#define SPOOL_BOOT ".boot"
#define BOOT_ID_LEN 36

/* ---------------------------------------------------------------- names -- */

static bool hex_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

static uint32_t hex_u32(const char *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v * 16 + (uint32_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'A' + 10);
    return v;
}

char *pgc_wal_object(const char *cluster, const char *file)
{
    return rd_asprintf("wal/%s/%s", cluster, file);
}

bool pgc_wal_is_segment(const char *file)
{
    return strlen(file) == PGC_WAL_SEGMENT_NAME_LEN &&
           hex_upper(file, PGC_WAL_SEGMENT_NAME_LEN) && hex_u32(file) != 0;
}

/* Names as PostgreSQL's xlog_internal.h recognises them (IsXLogFileName,
 * IsTLHistoryFileName, IsPartialXLogFileName, IsBackupHistoryFileName),
 * except that timeline 0, which PostgreSQL never uses, is refused. */
bool pgc_wal_name_valid(const char *file)
{
    size_t len = strlen(file);
    const size_t seg = PGC_WAL_SEGMENT_NAME_LEN;
    if (len < 8 || !hex_upper(file, 8) || hex_u32(file) == 0)
        return false;
    if (len == 8 + strlen(".history"))
        return strcmp(file + 8, ".history") == 0;
    if (len < seg || !hex_upper(file, seg))
        return false;
    if (len == seg)
        return true;
    if (len == seg + strlen(".partial"))
        return strcmp(file + seg, ".partial") == 0;
    if (len == seg + 1 + 8 + strlen(".backup"))
        return file[seg] == '.' && hex_upper(file + seg + 1, 8) &&
               strcmp(file + seg + 9, ".backup") == 0;
    return false;
}

uint32_t pgc_wal_timeline(const char *file)
{
    return pgc_wal_name_valid(file) ? hex_u32(file) : 0;
}

int pgc_wal_segment_parse(const char *file, uint32_t *timeline, uint64_t *segno)
{
    if (!pgc_wal_is_segment(file))
        return rd_fail(RD_EUSAGE, "'%s' is not a WAL segment name (24 uppercase hex digits)",
                       file);
    uint32_t seg = hex_u32(file + 16);
    if (seg >= PGC_WAL_SEGMENTS_PER_LOG)
        return rd_fail(RD_EUSAGE, "'%s' is not the name of a 16 MiB WAL segment; radiant "
                       "supports only initdb --wal-segsize=16", file);
    *timeline = hex_u32(file);
    *segno = (uint64_t)hex_u32(file + 8) * PGC_WAL_SEGMENTS_PER_LOG + seg;
    return 0;
}

void pgc_wal_segment_name(uint32_t timeline, uint64_t segno, char *out)
{
    snprintf(out, PGC_WAL_SEGMENT_NAME_LEN + 1, "%08X%08X%08X", timeline,
             (uint32_t)(segno / PGC_WAL_SEGMENTS_PER_LOG),
             (uint32_t)(segno % PGC_WAL_SEGMENTS_PER_LOG));
}

int pgc_wal_segment_next(const char *file, uint32_t n, char *out)
{
    uint32_t tli;
    uint64_t segno;
    int rc = pgc_wal_segment_parse(file, &tli, &segno);
    if (rc < 0)
        return rc;
    const uint64_t last = (uint64_t)UINT32_MAX * PGC_WAL_SEGMENTS_PER_LOG +
                          (PGC_WAL_SEGMENTS_PER_LOG - 1);
    if (n > last - segno)
        return rd_fail(RD_EUSAGE, "no WAL segment follows %s", file);
    pgc_wal_segment_name(tli, segno + n, out);
    return 0;
}

/* ------------------------------------------------------------ repositories -- */

void pgc_wal_repos_free(char **repos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(repos[i]);
    free(repos);
}

/* Splits "a, b ,c" into names. */
static void split_list(const char *text, char ***out, size_t *n)
{
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len) {
            *out = rd_realloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = rd_asprintf("%.*s", (int)len, p);
        }
        p += len;
        while (*p && *p != ',')
            p++;
    }
}

int pgc_wal_repos(const rd_config *cfg, rd_catalog *cat, const char *cluster, char ***repos,
                  size_t *n)
{
    *repos = NULL;
    *n = 0;
    if (cat) {
        pgc_cluster *c = NULL;
        int rc = pgc_cluster_get(cat, cluster, &c);
        if (rc == 0) {
            for (size_t i = 0; i < c->n_repos; i++) {
                *repos = rd_realloc(*repos, (*n + 1) * sizeof **repos);
                (*repos)[(*n)++] = rd_strdup(c->repos[i]);
            }
            pgc_cluster_free(c);
            if (*n == 0)
                return rd_fail(RD_ECONFIG, "DB cluster %s has no repositories in the catalog; "
                               "give it some with 'radiant db modify-db-cluster --repos'", cluster);
            return 0;
        }
        if (rc != -RD_ENOENT)
            return rc;
    }
    const rd_config_section *sec = rd_config_find(cfg, "cluster", cluster);
    const char *list = sec ? rd_config_get(sec, "repos") : NULL;
    if (list)
        split_list(list, repos, n);
    if (*n == 0)
        return rd_fail(RD_ECONFIG, "no repositories for DB cluster %s: it is not in the catalog "
                       "(%s/catalog.db) and %s has no [cluster %s] section with 'repos = NAME, "
                       "...'", cluster, rd_config_state_dir(cfg), rd_config_path(cfg), cluster);
    return 0;
}

/* -------------------------------------------------------------------- push -- */

/* A file PostgreSQL asks to archive, as bytes in memory: a 16 MiB segment is
 * mapped (its pages are in the page cache already; reading it into fresh
 * memory cost a fifth of a push here, most of it in first-touch page
 * faults), anything smaller is read. PostgreSQL neither writes nor recycles
 * a segment before archive_command has succeeded on it, so the mapping
 * cannot change under us. */
struct wal_file {
    const uint8_t *data;
    size_t len;
    void *map;                   /* data when mapped, else NULL */
    rd_buf small;                /* data when read */
};

static void wal_file_close(struct wal_file *f)
{
    if (f->map)
        munmap(f->map, f->len);
    rd_buf_free(&f->small);
    memset(f, 0, sizeof *f);
}

static int wal_file_load(struct wal_file *f, int fd, const char *path, size_t size)
{
    if (size == PGC_WAL_SEGMENT_SIZE) {
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map == MAP_FAILED)
            return rd_fail_errno(RD_EIO, "cannot map %s", path);
        f->map = map;
        f->data = map;
        f->len = size;
        return 0;
    }
    rd_buf_reserve(&f->small, size);
    int rc = rd_fs_read_full(fd, f->small.data, size);
    if (rc < 0)
        return rd_fail_wrap(rc, "reading %s", path);
    f->small.len = size;
    f->data = f->small.data;
    f->len = size;
    return 0;
}

/* Opens a file PostgreSQL asks to archive, refusing what cannot be a WAL
 * file of a 16 MiB-segment cluster. */
static int wal_file_open(const char *path, const char *name, struct wal_file *f)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? rd_fail(RD_ENOENT, "WAL file %s does not exist", path)
                               : rd_fail_errno(RD_EIO, "cannot open WAL file %s", path);
    struct stat st;
    int rc = 0;
    bool full_segment = pgc_wal_is_segment(name) || strstr(name, ".partial");
    if (fstat(fd, &st) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot stat %s", path);
    else if (!S_ISREG(st.st_mode))
        rc = rd_fail(RD_EUSAGE, "%s is not a regular file", path);
    else if (full_segment && st.st_size != (off_t)PGC_WAL_SEGMENT_SIZE)
        rc = rd_fail(RD_EUSAGE, "WAL segment %s is %lld bytes, not 16 MiB; radiant supports "
                     "only clusters created with the default initdb --wal-segsize=16",
                     path, (long long)st.st_size);
    else if (!full_segment && st.st_size > (off_t)WAL_SMALL_FILE_MAX)
        rc = rd_fail(RD_EUSAGE, "%s is %lld bytes, too large for a WAL history or backup "
                     "label file", path, (long long)st.st_size);
    if (rc == 0)
        rc = wal_file_load(f, fd, path, (size_t)st.st_size);
    close(fd);
    if (rc < 0)
        wal_file_close(f);
    return rc;
}

/* One repository's part of a push, in two phases run in parallel over all
 * repositories: look (open, read what is stored under the name), then store
 * where nothing is. Different content anywhere stops the push before the
 * second phase, so a refused file is written to no repository at all. */
struct push_job {
    const rd_config *cfg;
    const char *repo_name;
    const char *object;
    const struct wal_file *data;
    repo *r;
    bool stored;                 /* holds the same bytes already */
    int rc;
    char error[1024];
};

static void push_job_fail(struct push_job *j, int rc)
{
    if (rc != -RD_EEXIST)
        rc = rd_fail_wrap(rc, "repository %s", j->repo_name);
    j->rc = rc;
    snprintf(j->error, sizeof j->error, "%s", rd_error());
}

static void *push_look(void *arg)
{
    struct push_job *j = arg;
    rd_buf old = RD_BUF_INIT;
    int rc = repo_open(j->cfg, j->repo_name, &j->r);
    if (rc == 0)
        repo_prefer_compression(j->r, PGC_COMPRESS_LEVEL, PGC_COMPRESS_MIN_MATCH);
    if (rc == 0)
        rc = repo_object_get(j->r, j->object, &old);
    if (rc == 0) {
        j->stored = old.len == j->data->len && memcmp(old.data, j->data->data, old.len) == 0;
        if (!j->stored)
            rc = rd_fail(RD_EEXIST, "%s is already in repository %s with different content; "
                         "refusing to overwrite it", j->object, j->repo_name);
    } else if (rc == -RD_ENOENT && j->r) {
        rc = 0;
    }
    /* A damaged stored copy fails here too: it is not silently replaced. */
    if (rc < 0)
        push_job_fail(j, rc);
    rd_buf_free(&old);
    return NULL;
}

static void *push_store(void *arg)
{
    struct push_job *j = arg;
    /* Exclusive still: another process may have stored the name meanwhile. */
    int rc = repo_object_put(j->r, j->object, j->data->data, j->data->len, true);
    if (rc < 0)
        push_job_fail(j, rc);
    return NULL;
}

/* Runs fn on every job that wants it, all at once: the slowest repository,
 * not the sum of them, is what archiving waits for. */
static void push_run(struct push_job *jobs, size_t n, void *(*fn)(void *), bool store)
{
    pthread_t *threads = rd_calloc(n, sizeof *threads);
    bool *started = rd_calloc(n, sizeof *started);
    size_t wanted = 0;
    for (size_t i = 0; i < n; i++)
        wanted += store ? (jobs[i].rc == 0 && !jobs[i].stored) : 1;
    for (size_t i = 0; i < n; i++) {
        if (store && (jobs[i].rc < 0 || jobs[i].stored))
            continue;
        if (wanted > 1 && pthread_create(&threads[i], NULL, fn, &jobs[i]) == 0)
            started[i] = true;
        else
            fn(&jobs[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (started[i])
            pthread_join(threads[i], NULL);
    free(started);
    free(threads);
}

int pgc_wal_last_pushed(rd_catalog *cat, const char *cluster, int64_t *seconds)
{
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    *seconds = 0;
    if (sqlite3_prepare_v2(db, "SELECT max(pushed_us) FROM wal_archive WHERE cluster_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0
             : rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    if (rc == 0 && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *seconds = sqlite3_column_int64(st, 0) / 1000000;
    sqlite3_finalize(st);
    return rc;
}

/* The wal_archive row only informs (LatestRestorableTime, `db describe`):
 * what archive_command acknowledges is the WAL file, durable in every
 * repository before this runs (one fsync of the object, one of its
 * directory). So this connection commits with synchronous=NORMAL, keeps
 * SQLite's -wal file (not deleted and re-created, with a directory fsync,
 * by every process) and leaves checkpoints to SQLite's automatic ones
 * instead of one per process at close: the push then does no fsync of its
 * own for the catalog. In WAL mode NORMAL keeps the catalog consistent; a
 * crash of the machine can lose the last rows, which makes the restorable
 * window lag until the next push is recorded, while the WAL itself is
 * safely archived (and PostgreSQL pushes again whatever it had not marked
 * done). */
static void catalog_relax(sqlite3 *db)
{
    int on = 1;
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
}

static int record_push(rd_catalog *cat, const char *cluster, const char *name, size_t size)
{
    sqlite3 *db = rd_catalog_db(cat);
    sqlite3_stmt *st;
    catalog_relax(db);
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO wal_archive(cluster_id, name, pushed_us, "
                           "size) VALUES (?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, rd_clock_now_us());
    sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0
             : rd_fail(RD_EIO, "catalog: recording WAL %s of %s: %s", name, cluster,
                       sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int pgc_wal_push_to(const rd_config *cfg, rd_catalog *cat, const char *cluster,
                    char *const *repos, size_t n_repos, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (!pgc_wal_name_valid(name))
        return rd_fail(RD_EUSAGE, "'%s' is not the name of a WAL file (a segment, .history, "
                       ".partial or .backup file); archive_command must pass %%p", name);
    if (n_repos == 0)
        return rd_fail(RD_ECONFIG, "no repositories to archive WAL of DB cluster %s to", cluster);
    struct wal_file data;
    int rc = wal_file_open(path, name, &data);
    if (rc < 0)
        return rc;
    char *object = pgc_wal_object(cluster, name);
    struct push_job *jobs = rd_calloc(n_repos, sizeof *jobs);
    bool refused = false;
    for (size_t i = 0; i < n_repos; i++)
        jobs[i] = (struct push_job){ cfg, repos[i], object, &data, NULL, false, 0, "" };
    push_run(jobs, n_repos, push_look, false);
    for (size_t i = 0; i < n_repos; i++)
        refused |= jobs[i].rc == -RD_EEXIST;
    if (!refused)
        push_run(jobs, n_repos, push_store, true);
    for (size_t i = 0; i < n_repos; i++)
        repo_close(jobs[i].r);

    /* Different content wins over other failures: it needs a person. */
    size_t failed = 0, first = n_repos;
    for (size_t i = 0; i < n_repos; i++) {
        if (jobs[i].rc == 0)
            continue;
        failed++;
        if (first == n_repos || (jobs[i].rc == -RD_EEXIST && jobs[first].rc != -RD_EEXIST))
            first = i;
    }
    for (size_t i = 0; i < n_repos && failed > 1; i++)
        if (jobs[i].rc < 0 && i != first)
            RD_ERROR("wal push %s: %s", name, jobs[i].error);
    if (failed) {
        refused = jobs[first].rc == -RD_EEXIST;
        rc = rd_fail(-jobs[first].rc, "%s%s%s", jobs[first].error,
                     failed > 1 ? " (more repositories failed, logged above)" : "",
                     refused ? "; is another cluster archiving under this identifier? check "
                     "--db-cluster-identifier in its archive_command" : "");
        if (refused && cat) {
            char saved[1100];
            snprintf(saved, sizeof saved, "%s", rd_error());
            if (pgc_event(cat, cluster, "failure", "WAL archiving refused %s: %s", name,
                          saved) < 0)
                RD_WARN("could not record the event in the catalog: %s", rd_error());
            rd_fail(RD_EEXIST, "%s", saved);
        }
    } else if (cat) {
        rc = record_push(cat, cluster, name, data.len);
    }
    if (rc == 0)
        RD_INFO("archived %s of DB cluster %s (%zu bytes) in %zu repositories", name, cluster,
                data.len, n_repos);
    free(jobs);
    free(object);
    wal_file_close(&data);
    return rc;
}

int pgc_wal_push(const rd_config *cfg, rd_catalog *cat, const char *cluster, const char *path)
{
    char **repos = NULL;
    size_t n = 0;
    int rc = pgc_wal_repos(cfg, cat, cluster, &repos, &n);
    if (rc == 0)
        rc = pgc_wal_push_to(cfg, cat, cluster, repos, n, path);
    pgc_wal_repos_free(repos, n);
    return rc;
}

/* ------------------------------------------------------------------- fetch -- */

/* Repositories opened on first use, shared by the threads of a prefetcher
 * (repository handles are safe to use from several threads). */
struct source {
    const rd_config *cfg;
    char *const *names;
    size_t n;
    repo **repos;
    int *open_rc;                /* 0 not tried yet, 1 open, < 0 failed */
    char **open_error;           /* why it failed */
    pthread_mutex_t mu;
};

static void source_init(struct source *s, const rd_config *cfg, char *const *names, size_t n)
{
    s->cfg = cfg;
    s->names = names;
    s->n = n;
    s->repos = rd_calloc(n, sizeof *s->repos);
    s->open_rc = rd_calloc(n, sizeof *s->open_rc);
    s->open_error = rd_calloc(n, sizeof *s->open_error);
    pthread_mutex_init(&s->mu, NULL);
}

static void source_clear(struct source *s)
{
    for (size_t i = 0; i < s->n; i++) {
        repo_close(s->repos[i]);
        free(s->open_error[i]);
    }
    free(s->repos);
    free(s->open_rc);
    free(s->open_error);
    pthread_mutex_destroy(&s->mu);
}

/* Opens repository i on first use; the failure, and its message, stick. */
static int source_repo(struct source *s, size_t i, repo **out)
{
    pthread_mutex_lock(&s->mu);
    if (s->open_rc[i] == 0) {
        int rc = repo_open(s->cfg, s->names[i], &s->repos[i]);
        s->open_rc[i] = rc == 0 ? 1 : rc;
        if (rc < 0)
            s->open_error[i] = rd_strdup(rd_error());
    }
    int rc = s->open_rc[i] == 1 ? 0 : s->open_rc[i];
    *out = s->repos[i];
    if (rc < 0)
        rd_fail(-rc, "%s", s->open_error[i]);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Reads a WAL file from the first repository with a sound copy. -RD_ENOENT
 * only when every repository answered that it has none: otherwise absence
 * cannot be told from a failure, and the failure is returned. */
static int source_get(struct source *s, const char *cluster, const char *file, rd_buf *out)
{
    char *object = pgc_wal_object(cluster, file);
    int rc = -RD_ENOENT;
    char failure[1024] = "";
    int failure_rc = 0;
    for (size_t i = 0; i < s->n; i++) {
        repo *r = NULL;
        int one = source_repo(s, i, &r);
        if (one == 0)
            one = repo_object_get(r, object, out);
        if (one == 0) {
            rc = 0;
            break;
        }
        if (one == -RD_ENOENT && r)
            continue;
        if (i + 1 < s->n)
            RD_WARN("WAL %s of DB cluster %s: repository %s: %s; trying the next repository",
                    file, cluster, s->names[i], rd_error());
        if (!failure_rc) {
            failure_rc = one;
            snprintf(failure, sizeof failure, "repository %s: %s", s->names[i], rd_error());
        }
    }
    if (rc == -RD_ENOENT && failure_rc)
        rc = rd_fail(-failure_rc, "WAL %s of DB cluster %s: %s", file, cluster, failure);
    else if (rc == -RD_ENOENT)
        rc = rd_fail(RD_ENOENT, "WAL %s of DB cluster %s is not in %s", file, cluster,
                     s->n == 1 ? "its repository" : "any of its repositories");
    free(object);
    return rc;
}

/* ------------------------------------------------------------------- spool -- */

static char *spool_dir(const rd_config *cfg, const char *cluster)
{
    return rd_asprintf("%s/spool/%s", rd_config_state_dir(cfg), cluster);
}

int pgc_wal_spool_remove(const rd_config *cfg, const char *cluster)
{
    char *dir = spool_dir(cfg, cluster);
    int rc = rd_fs_remove_tree(dir);
    free(dir);
    return rc;
}

/* File modification times are real time; the radiant clock may be shifted by
 * tests (RADIANT_CLOCK_OFFSET), so ages are measured against the real one. */
static bool spool_fresh(const struct stat *st)
{
    return time(NULL) - st->st_mtime < SPOOL_MAX_AGE_S;
}

/* This boot's id (36 characters); false when the kernel does not say. */
static bool boot_id(char out[BOOT_ID_LEN + 1])
{
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, BOOT_ID_LEN);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return n == BOOT_ID_LEN;
}

/* True when spool/.boot says the spool was written in this boot (invariant
 * 3): only then may its segments be trusted. */
static bool spool_this_boot(const char *spool)
{
    char now[BOOT_ID_LEN + 1], was[BOOT_ID_LEN + 1];
    char *path = rd_path_join(spool, SPOOL_BOOT);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, was, BOOT_ID_LEN);
    close(fd);
    was[n > 0 ? n : 0] = '\0';
    return n == BOOT_ID_LEN && boot_id(now) && strcmp(now, was) == 0;
}

/* True while a prefetcher holds the spool lock. */
static bool prefetcher_running(const char *spool)
{
    char *path = rd_path_join(spool, SPOOL_LOCK);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    bool busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);   /* releases the probe's lock, if it got it */
    return busy;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* dest via dest.tmp.PID and a rename, so that PostgreSQL never sees a part
 * of it; not fsynced (invariant 5). */
static int write_dest(const char *dest, const void *data, size_t len)
{
    char *tmp = rd_asprintf("%s.tmp.%ld", dest, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = rd_fail_errno(RD_EIO, "cannot create %s", tmp);
    if (rc == 0)
        rc = rd_fs_write_full(fd, data, len);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = rd_fail_errno(RD_EIO, "cannot close %s", tmp);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot rename %s to %s", tmp, dest);
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Moves spool/file to dest when a prefetcher fetched it (waiting for one
 * that is fetching it right now). *taken says whether dest was written. */
static int spool_take(const char *spool, const char *file, const char *dest, bool *taken)
{
    *taken = false;
    char *path = rd_path_join(spool, file);
    char *tmp = rd_asprintf("%s.tmp", path);
    struct stat st;
    int rc = 0;
    if (!spool_this_boot(spool)) {
        free(tmp);
        free(path);
        return 0;   /* empty, or from before a reboot: not to be trusted */
    }
    bool have = stat(path, &st) == 0;
    for (int waited = 0; !have && waited < SPOOL_WAIT_MS; waited += 5) {
        if (access(tmp, F_OK) != 0 || !prefetcher_running(spool))
            break;
        sleep_ms(5);
        have = stat(path, &st) == 0;
    }
    if (have && !spool_fresh(&st)) {
        RD_INFO("ignoring %s, spooled too long ago", path);
        unlink(path);
        have = false;
    }
    /* Not fsynced (invariant 5). */
    if (have && rename(path, dest) == 0) {
        *taken = true;
    } else if (have && errno == EXDEV) {
        rd_buf data = RD_BUF_INIT;
        rc = rd_fs_read_file(path, PGC_WAL_SEGMENT_SIZE, &data);
        if (rc == 0)
            rc = write_dest(dest, data.data, data.len);
        rd_buf_free(&data);
        *taken = rc == 0;
        if (rc == 0)
            unlink(path);
    } else if (have) {
        RD_WARN("cannot move %s to %s (%s); fetching it again", path, dest, strerror(errno));
    }
    if (rc < 0 && !*taken) {
        RD_WARN("%s; fetching %s again", rd_error(), file);
        rc = 0;
    }
    free(tmp);
    free(path);
    return rc;
}

/* The segments N+1..N+k that are not spooled yet, into names[] (k entries of
 * PGC_WAL_SEGMENT_NAME_LEN + 1 bytes); returns how many. */
static size_t spool_missing(const char *spool, const char *file, int k, char (*names)[32])
{
    size_t n = 0;
    for (int i = 1; i <= k; i++) {
        char next[32];
        if (pgc_wal_segment_next(file, (uint32_t)i, next) < 0)
            break;
        char *path = rd_path_join(spool, next);
        if (access(path, F_OK) != 0)
            snprintf(names[n++], 32, "%s", next);
        free(path);
    }
    return n;
}

/* The segment PostgreSQL asked for last, left in spool/.want by every fetch
 * that wants prefetching, so that a prefetcher already at work continues
 * after its batch instead of the fetch starting a second one. */
static void spool_want_write(const char *spool, const char *file)
{
    char *path = rd_path_join(spool, SPOOL_WANT);
    char *tmp = rd_asprintf("%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && rd_fs_write_full(fd, file, strlen(file)) == 0;
    if (fd >= 0)
        close(fd);
    /* Not fsynced: after a crash a lost wish costs one prefetch batch. */
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
    free(tmp);
    free(path);
}

static bool spool_want_read(const char *spool, char *out)
{
    char *path = rd_path_join(spool, SPOOL_WANT);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, PGC_WAL_SEGMENT_NAME_LEN + 1);
    close(fd);
    if (n != PGC_WAL_SEGMENT_NAME_LEN)
        return false;
    out[n] = '\0';
    uint32_t tli;
    uint64_t segno;
    return pgc_wal_segment_parse(out, &tli, &segno) == 0;
}

/* Removes, under the lock, segments PostgreSQL has gone past (up to and
 * including `file`, on any timeline), .tmp files of a prefetcher that died,
 * and spooled files too old to trust. */
static void spool_clean(const char *spool, const char *file, bool all)
{
    uint32_t tli;
    uint64_t upto;
    if (pgc_wal_segment_parse(file, &tli, &upto) < 0)
        return;
    if (all)
        upto = UINT64_MAX;
    DIR *d = opendir(spool);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        bool stale = len > 4 && strcmp(n + len - 4, ".tmp") == 0;
        uint64_t segno;
        char *path = rd_path_join(spool, n);
        struct stat st;
        if (!stale && pgc_wal_is_segment(n) && pgc_wal_segment_parse(n, &tli, &segno) == 0)
            stale = segno <= upto || (stat(path, &st) == 0 && !spool_fresh(&st));
        if (stale && unlink(path) != 0 && errno != ENOENT)
            RD_WARN("cannot remove %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
}

struct prefetch {
    const rd_config *cfg;
    struct source *src;
    const char *cluster;
    const char *spool;
    char (*names)[32];
    size_t n;
    size_t next;                 /* next index to fetch */
    size_t stop;                 /* first index found in no repository */
    pthread_mutex_t mu;
};

/* Fetches one segment into the spool. NAME.tmp is created before the
 * repository is asked, so that a foreground fetch of the same segment waits
 * for it instead of fetching it a second time (spool_take). */
static int spool_fetch(struct prefetch *p, const char *name, rd_buf *data)
{
    char *path = rd_path_join(p->spool, name);
    char *tmp = rd_asprintf("%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = rd_fail_errno(RD_EIO, "cannot create %s", tmp);
    if (rc == 0)
        rc = source_get(p->src, p->cluster, name, data);
    if (rc == 0 && data->len != PGC_WAL_SEGMENT_SIZE)
        rc = rd_fail(RD_ECORRUPT, "WAL %s in the repository is %zu bytes, not 16 MiB", name,
                     data->len);
    /* Not fsynced: the spool is trusted only in this boot (invariant 3). */
    if (rc == 0)
        rc = rd_fs_write_full(fd, data->data, data->len);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = rd_fail_errno(RD_EIO, "cannot close %s", tmp);
    if (rc == 0) {
        pthread_mutex_lock(&p->mu);   /* getpwnam() is not thread-safe */
        rc = pgc_chown_run_as(p->cfg, tmp);
        pthread_mutex_unlock(&p->mu);
    }
    if (rc == 0 && rename(tmp, path) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot rename %s", tmp);
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static void *prefetch_worker(void *arg)
{
    struct prefetch *p = arg;
    rd_buf data = RD_BUF_INIT;   /* one segment at a time per thread */
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->stop ? p->next++ : p->n;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            break;
        int rc = spool_fetch(p, p->names[i], &data);
        if (rc == -RD_ENOENT) {
            /* Not archived yet: the ones after it are not either. */
            pthread_mutex_lock(&p->mu);
            if (i < p->stop)
                p->stop = i;
            pthread_mutex_unlock(&p->mu);
        } else if (rc < 0) {
            RD_WARN("prefetch of %s: %s", p->names[i], rd_error());
        }
        rd_buf_reset(&data);
    }
    rd_buf_free(&data);
    return NULL;
}

/* The body of the detached prefetcher process. Never returns. */
static _Noreturn void prefetch_run(const rd_config *cfg, const char *cluster,
                                   char *const *repos, size_t n_repos, const char *spool,
                                   const char *file, int k)
{
    /* Nothing of the caller's stays open: PostgreSQL's log, a test's pipes
     * and the catalog must not be held by a process that outlives it. */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
    }
    close_range(3, ~0U, 0);
    char *lock_path = rd_path_join(spool, SPOOL_LOCK);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lock_path);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
        _exit(0);   /* another prefetcher is at work; the next fetch starts one */
    char *log_path = rd_path_join(spool, SPOOL_LOG);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    /* Run by root, what it creates must stay usable by the run-as user. */
    pgc_chown_run_as(cfg, log_path);
    lock_path = rd_path_join(spool, SPOOL_LOCK);
    pgc_chown_run_as(cfg, lock_path);
    free(lock_path);
    free(log_path);
    if (log_fd >= 0) {
        dup2(log_fd, STDERR_FILENO);
        close(log_fd);
    }
    /* Behind replay for the CPU (PREFETCH_NICE); errors do not matter. */
    if (nice(PREFETCH_NICE) == -1)
        RD_DEBUG("nice: %s", strerror(errno));
    /* A spool of another boot (or of none) is emptied before it is marked
     * as this boot's (invariant 3). */
    char boot[BOOT_ID_LEN + 1];
    bool boot_known = boot_id(boot);
    if (!spool_this_boot(spool)) {
        spool_clean(spool, file, true);
        char *bpath = rd_path_join(spool, SPOOL_BOOT);
        char *btmp = rd_asprintf("%s.%ld", bpath, (long)getpid());
        int bfd = boot_known ? open(btmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
        bool ok = bfd >= 0 && rd_fs_write_full(bfd, boot, BOOT_ID_LEN) == 0;
        if (bfd >= 0)
            close(bfd);
        if (ok)
            pgc_chown_run_as(cfg, btmp);
        if (!ok || rename(btmp, bpath) != 0) {
            unlink(btmp);
            _exit(0);   /* nothing spooled could be trusted: no prefetching */
        }
        free(btmp);
        free(bpath);
    }
    char (*names)[32] = rd_calloc((size_t)k, sizeof *names);
    struct source src;
    source_init(&src, cfg, repos, n_repos);
    char current[32];
    snprintf(current, sizeof current, "%s", file);
    /* One batch after `current`, then another after the newest segment a
     * fetch asked for meanwhile (spool_want_read), until none is newer. */
    for (;;) {
        spool_clean(spool, current, false);
        size_t n = spool_missing(spool, current, k, names);
        struct prefetch p = { cfg, &src, cluster, spool, names, n, 0, n,
                              PTHREAD_MUTEX_INITIALIZER };
        size_t n_threads = n < PREFETCH_THREADS ? n : PREFETCH_THREADS;
        pthread_t threads[PREFETCH_THREADS];
        size_t started = 0;
        for (size_t i = 0; i < n_threads; i++)
            if (pthread_create(&threads[started], NULL, prefetch_worker, &p) == 0)
                started++;
        if (started == 0 && n > 0)
            prefetch_worker(&p);
        for (size_t i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&p.mu);
        RD_DEBUG("prefetched after %s: %zu segment(s) wanted", current, n);
        char want[32];
        if (!spool_want_read(spool, want) || strcmp(want, current) == 0)
            break;
        snprintf(current, sizeof current, "%s", want);
    }
    source_clear(&src);
    free(names);
    _exit(0);
}

/* The repositories of a fetch: given, or found by a callback only when
 * needed, because a segment taken from the spool needs none (no catalog, no
 * repository opened: restore_command runs once per segment). */
struct fetch_repos {
    char *const *repos;
    size_t n;
    pgc_wal_repos_fn fn;
    void *arg;
    char **owned;                /* what fn returned, freed at the end */
};

static int fetch_repos_get(struct fetch_repos *f)
{
    if (f->repos || !f->fn)
        return 0;
    int rc = f->fn(f->arg, &f->owned, &f->n);
    f->repos = f->owned;
    return rc;
}

/* Starts a detached prefetcher when a segment after `file` is not spooled. */
static void prefetch_start(const rd_config *cfg, const char *cluster, struct fetch_repos *fr,
                           const char *spool, const char *file, int k)
{
    char (*names)[32] = rd_calloc((size_t)k, sizeof *names);
    size_t missing = spool_missing(spool, file, k, names);
    free(names);
    if (missing == 0)
        return;
    int rc = rd_fs_mkdir_p(spool, 0700);
    /* Created by root (a manual fetch), it must stay usable by the run-as
     * user that restore_command runs as. */
    char *parent = rd_asprintf("%s/spool", rd_config_state_dir(cfg));
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, parent);
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, spool);
    free(parent);
    if (rc < 0) {
        RD_WARN("no prefetch: %s", rd_error());
        return;
    }
    spool_want_write(spool, file);
    if (prefetcher_running(spool))
        return;   /* it reads .want when its batch is done */
    if (fetch_repos_get(fr) < 0 || fr->n == 0) {
        RD_WARN("no prefetch: %s", rd_error());
        return;
    }
    char *const *repos = fr->repos;
    size_t n_repos = fr->n;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        RD_WARN("no prefetch: cannot fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* The intermediate child: a new session, then the prefetcher, so that
         * it is nobody's child to wait for and no terminal's to signal. */
        setsid();
        pid_t grandchild = fork();
        if (grandchild == 0)
            prefetch_run(cfg, cluster, repos, n_repos, spool, file, k);
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static int fetch_impl(const rd_config *cfg, const char *cluster, struct fetch_repos *fr,
                      const char *file, const char *dest, int prefetch)
{
    if (!pgc_wal_name_valid(file))
        return rd_fail(RD_EUSAGE, "'%s' is not the name of a WAL file (a segment, .history, "
                       ".partial or .backup file); restore_command must pass %%f", file);
    if (prefetch < 0 || prefetch > PGC_WAL_PREFETCH_MAX)
        return rd_fail(RD_EUSAGE, "prefetch must be 0 to %d, not %d", PGC_WAL_PREFETCH_MAX,
                       prefetch);
    bool segment = pgc_wal_is_segment(file);
    uint32_t tli;
    uint64_t segno;
    if (segment && pgc_wal_segment_parse(file, &tli, &segno) < 0)
        segment = false;   /* a name radiant could not have prefetched */
    char *spool = spool_dir(cfg, cluster);
    bool done = false;
    int rc = segment ? spool_take(spool, file, dest, &done) : 0;
    if (rc == 0 && done)
        RD_DEBUG("WAL %s of DB cluster %s from the spool", file, cluster);
    if (rc == 0 && !done) {
        rc = fetch_repos_get(fr);
        if (rc == 0 && fr->n == 0)
            rc = rd_fail(RD_ECONFIG, "no repositories to fetch WAL of DB cluster %s from",
                         cluster);
        if (rc < 0) {
            free(spool);
            return rc;
        }
        struct source src;
        rd_buf data = RD_BUF_INIT;
        source_init(&src, cfg, fr->repos, fr->n);
        rc = source_get(&src, cluster, file, &data);
        source_clear(&src);
        /* Not archived (yet): what `radiant serve` streamed, up to the last
         * byte the server had sent. */
        if (rc == -RD_ENOENT && segment && pgc_stream_fetch(cfg, cluster, file, dest) == 0) {
            RD_INFO("WAL %s of DB cluster %s from the stream", file, cluster);
            rd_buf_free(&data);
            free(spool);
            return 0;
        }
        if (rc == 0 && (segment || strstr(file, ".partial")) &&
            data.len != PGC_WAL_SEGMENT_SIZE)
            rc = rd_fail(RD_ECORRUPT, "WAL %s of DB cluster %s in the repository is %zu bytes, "
                         "not 16 MiB", file, cluster, data.len);
        if (rc == 0)
            rc = write_dest(dest, data.data, data.len);
        rd_buf_free(&data);
        done = rc == 0;
    }
    if (done && segment && prefetch > 0)
        prefetch_start(cfg, cluster, fr, spool, file, prefetch);
    free(spool);
    return rc;
}

int pgc_wal_fetch_from(const rd_config *cfg, const char *cluster, char *const *repos,
                       size_t n_repos, const char *file, const char *dest, int prefetch)
{
    if (n_repos == 0)
        return rd_fail(RD_ECONFIG, "no repositories to fetch WAL of DB cluster %s from",
                       cluster);
    struct fetch_repos fr = { repos, n_repos, NULL, NULL, NULL };
    return fetch_impl(cfg, cluster, &fr, file, dest, prefetch);
}

int pgc_wal_fetch_lazy(const rd_config *cfg, const char *cluster, pgc_wal_repos_fn fn,
                       void *arg, const char *file, const char *dest, int prefetch)
{
    struct fetch_repos fr = { NULL, 0, fn, arg, NULL };
    int rc = fetch_impl(cfg, cluster, &fr, file, dest, prefetch);
    pgc_wal_repos_free(fr.owned, fr.n);
    return rc;
}

int pgc_wal_fetch(const rd_config *cfg, rd_catalog *cat, const char *cluster, const char *file,
                  const char *dest, int prefetch)
{
    char **repos = NULL;
    size_t n = 0;
    int rc = pgc_cluster_repos(cfg, cat, cluster, &repos, &n);
    if (rc == 0)
        rc = pgc_wal_fetch_from(cfg, cluster, repos, n, file, dest, prefetch);
    pgc_wal_repos_free(repos, n);
    return rc;
}
