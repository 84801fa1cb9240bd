/* Running PostgreSQL: its server binaries (initdb, pg_ctl, pg_controldata),
 * as the [radiant] run-as user when radiant runs as root, and the start and
 * stop of a cluster with the status changes and events that go with them.
 *
 * PostgreSQL refuses to run as root, and the files it creates must belong to
 * the user the server runs as; so every binary is started through pgc_exec(),
 * which forks, drops to the run-as user (initgroups, setgid, setuid, in that
 * order: the group changes need root) and execs argv directly, never through a
 * shell, so no path or identifier is ever parsed as shell syntax.
 *
 * Status changes of pgc_start and pgc_stop (RDS status names):
 *
 *     stopped/failed --pgc_start--> starting --ready--> available
 *                                            --error--> failed
 *     available --pgc_stop--> stopping --stopped--> stopped
 *                                      --error----> (previous status)
 */
#include "pg/pg.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

#define PGC_BINDIR "/usr/lib/postgresql/15/bin"
#define PGC_DEFAULT_RUN_AS "postgres"
/* pg_ctl -t: how long start and stop may take. */
#define PGC_CTL_TIMEOUT "60"

/* ------------------------------------------------------------ run-as user -- */

const char *pgc_run_as(const rd_config *cfg)
{
    if (geteuid() != 0)
        return NULL;
    const rd_config_section *s = rd_config_find(cfg, "radiant", NULL);
    const char *user = s ? rd_config_get(s, "run-as") : NULL;
    return user ? user : PGC_DEFAULT_RUN_AS;
}

static int lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return errno ? rd_fail_errno(RD_ECONFIG, "cannot look up run-as user %s", user)
                     : rd_fail(RD_ECONFIG, "run-as user %s does not exist; create it (install "
                               "postgresql-15) or set [radiant] run-as", user);
    if (pw->pw_uid == 0)
        return rd_fail(RD_ECONFIG, "[radiant] run-as user %s is root; PostgreSQL never runs "
                       "as root, name an unprivileged user", user);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int pgc_chown_run_as(const rd_config *cfg, const char *path)
{
    const char *user = pgc_run_as(cfg);
    if (!user)
        return 0;
    uid_t uid;
    gid_t gid;
    int rc = lookup_user(user, &uid, &gid);
    if (rc == 0 && chown(path, uid, gid) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot give %s to the run-as user %s", path, user);
    return rc;
}

/* Gives the state directory and the catalog's files, those that exist, to
 * the run-as user. */
static int chown_catalog(const rd_config *cfg)
{
    /* archive_command (`radiant wal push`) runs as the run-as user and
     * records every segment in the catalog. SQLite needs to create its -wal
     * and -shm files next to the database, so the directory must be the
     * user's too; the files that root creates later SQLite itself gives to the
     * database's owner (os_unix.c, robustFchown). */
    static const char *const files[] = { "", "/catalog.db", "/catalog.db-wal",
                                         "/catalog.db-shm" };
    const char *state = rd_config_state_dir(cfg);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof files / sizeof files[0]; i++) {
        char *path = rd_asprintf("%s%s", state, files[i]);
        if (access(path, F_OK) == 0)
            rc = pgc_chown_run_as(cfg, path);
        free(path);
    }
    return rc;
}

int pgc_become_run_as(const rd_config *cfg)
{
    const char *user = pgc_run_as(cfg);
    if (!user)
        return 0;
    uid_t uid;
    gid_t gid;
    int rc = lookup_user(user, &uid, &gid);
    /* The state directory is shared with the repo commands run as root:
     * create it now, while we can, and make it the user's. The catalog is
     * created only after the switch, by the user: a catalog file root
     * created and had not yet given away would open read-only in another
     * process that already runs as the user (two commands starting at once). */
    const char *state = rd_config_state_dir(cfg);
    if (rc == 0)
        rc = rd_fs_mkdir_p(state, 0750);
    if (rc == 0)
        rc = chown_catalog(cfg);
    if (rc == 0 && (initgroups(user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
        rc = rd_fail_errno(RD_EIO, "cannot become the run-as user %s", user);
    rd_catalog *cat = NULL;
    if (rc == 0)
        rc = pgc_catalog_open(cfg, &cat);
    rd_catalog_close(cat);
    return rc;
}

/* ----------------------------------------------------------------- exec -- */

/* What a child reports through its close-on-exec pipe when it could not exec:
 * the step that failed and errno. Nothing arrives when exec succeeded. */
struct child_failure {
    int step;
    int err;
};

enum { STEP_LOG, STEP_STDIN, STEP_INITGROUPS, STEP_SETGID, STEP_SETUID, STEP_STILL_ROOT,
       STEP_CHDIR, STEP_EXEC };

static const char *const step_names[] = {
    [STEP_LOG] = "open the log file", [STEP_STDIN] = "open /dev/null",
    [STEP_INITGROUPS] = "set the groups of", [STEP_SETGID] = "set the group of",
    [STEP_SETUID] = "switch to", [STEP_STILL_ROOT] = "drop root for",
    [STEP_CHDIR] = "change directory to /", [STEP_EXEC] = "execute",
};

static _Noreturn void child_fail(int fd, int step)
{
    struct child_failure f = { step, errno };
    ssize_t n = write(fd, &f, sizeof f);
    (void)n;
    _exit(127);
}

/* In the child: become the user, set up stdio, exec. Never returns. */
static _Noreturn void child_run(char *const argv[], const char *log_path, const char *user,
                                uid_t uid, gid_t gid, int report_fd)
{
    /* Nothing radiant holds open (catalog, repository locks, sockets) may
     * live on in PostgreSQL: the postmaster outlives this process. */
    for (int fd = 3; fd < 1024; fd++)
        if (fd != report_fd)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (user) {
        if (initgroups(user, gid) != 0)
            child_fail(report_fd, STEP_INITGROUPS);
        if (setgid(gid) != 0)
            child_fail(report_fd, STEP_SETGID);
        if (setuid(uid) != 0)
            child_fail(report_fd, STEP_SETUID);
        if (setuid(0) == 0) {
            errno = EPERM;
            child_fail(report_fd, STEP_STILL_ROOT);
        }
        struct passwd *pw = getpwuid(uid);
        if (pw) {
            setenv("HOME", pw->pw_dir, 1);
            setenv("USER", pw->pw_name, 1);
            setenv("LOGNAME", pw->pw_name, 1);
        }
    }
    /* The log is opened as the user the program runs as, so that the server,
     * which appends to the same file later, can write it too. */
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, STDIN_FILENO) < 0)
        child_fail(report_fd, STEP_STDIN);
    if (log_path) {
        int out = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0640);
        if (out < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
            child_fail(report_fd, STEP_LOG);
    }
    /* PostgreSQL programs warn when they cannot return to the directory they
     * were started in (root's home is closed to postgres). */
    if (chdir("/") != 0)
        child_fail(report_fd, STEP_CHDIR);
    execv(argv[0], argv);
    child_fail(report_fd, STEP_EXEC);
}

int pgc_exec(const rd_config *cfg, char *const argv[], const char *log_path, int *status)
{
    const char *user = pgc_run_as(cfg);
    uid_t uid = 0;
    gid_t gid = 0;
    int rc = user ? lookup_user(user, &uid, &gid) : 0;
    if (rc < 0)
        return rc;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return rd_fail_errno(RD_EIO, "cannot run %s: pipe", argv[0]);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return rd_fail_errno(RD_EIO, "cannot run %s: fork", argv[0]);
    }
    if (pid == 0) {
        close(pipefd[0]);
        child_run(argv, log_path, user, uid, gid, pipefd[1]);
    }
    close(pipefd[1]);
    struct child_failure f;
    ssize_t n;
    do
        n = read(pipefd[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return rd_fail_errno(RD_EIO, "cannot wait for %s", argv[0]);
    }
    if (n == (ssize_t)sizeof f) {
        errno = f.err;
        const char *what = step_names[f.step];
        if (f.step == STEP_LOG)
            return rd_fail_errno(RD_EIO, "cannot run %s: cannot open the log file %s%s%s",
                                 argv[0], log_path, user ? " as " : "", user ? user : "");
        if (f.step >= STEP_INITGROUPS && f.step <= STEP_STILL_ROOT)
            return rd_fail_errno(RD_EIO, "cannot run %s: cannot %s user %s", argv[0], what,
                                 user);
        return rd_fail_errno(RD_EIO, "cannot run %s: cannot %s", argv[0],
                             f.step == STEP_EXEC ? "execute it" : what);
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return 0;
}

const char *pgc_bin(const char *name, char *buf, size_t len)
{
    /* RADIANT_PG_BINDIR is for distributions that put PostgreSQL 15 elsewhere. */
    const char *dir = getenv("RADIANT_PG_BINDIR");
    if (!dir || !*dir)
        dir = PGC_BINDIR;
    snprintf(buf, len, "%s/%s", dir, name);
    if (access(buf, X_OK) != 0) {
        rd_fail(RD_ECONFIG, "PostgreSQL 15 server binaries not found in %s (no executable "
                "%s); install postgresql-15", dir, name);
        return NULL;
    }
    return buf;
}

const char *pgc_self_path(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0 || (size_t)n >= len - 1) {
        rd_fail_errno(RD_EIO, "cannot find the path of the radiant binary in /proc/self/exe");
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

char *pgc_cluster_dir(const rd_config *cfg, const char *id)
{
    return rd_asprintf("%s/clusters/%s", rd_config_state_dir(cfg), id);
}

int pgc_catalog_open(const rd_config *cfg, rd_catalog **out)
{
    int rc = rd_catalog_open(rd_config_state_dir(cfg), out);
    if (rc < 0 || !pgc_run_as(cfg))
        return rc;
    rc = chown_catalog(cfg);
    if (rc < 0) {
        rd_catalog_close(*out);
        *out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- libpq -- */

/* libpq conninfo values: single-quoted, with \ and ' escaped (libpq docs,
 * "Connection Strings", Keyword/Value form). */
static void append_quoted(rd_buf *b, const char *key, const char *value)
{
    rd_buf_append(b, key, strlen(key));
    rd_buf_append(b, "='", 2);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '\'')
            rd_buf_append_u8(b, '\\');
        rd_buf_append_u8(b, (uint8_t)*p);
    }
    rd_buf_append(b, "' ", 2);
}

char *pgc_conninfo(const pgc_cluster *c)
{
    rd_buf b = RD_BUF_INIT;
    append_quoted(&b, "host", c->socket_dir && *c->socket_dir ? c->socket_dir : "127.0.0.1");
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    append_quoted(&b, "port", port);
    append_quoted(&b, "user", "postgres");
    append_quoted(&b, "dbname", "postgres");
    append_quoted(&b, "connect_timeout", "5");
    append_quoted(&b, "application_name", "radiant");
    b.data[b.len - 1] = '\0';
    return (char *)b.data;
}

bool pgc_reachable(const pgc_cluster *c)
{
    char *conninfo = pgc_conninfo(c);
    bool ok = PQping(conninfo) == PQPING_OK;
    free(conninfo);
    return ok;
}

int pgc_wait_ready(const pgc_cluster *c, int timeout_s)
{
    char *conninfo = pgc_conninfo(c);
    int64_t deadline = rd_mono_ns() + (int64_t)timeout_s * 1000000000;
    PGPing last;
    for (;;) {
        last = PQping(conninfo);
        if (last == PQPING_OK || rd_mono_ns() >= deadline)
            break;
        nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
    }
    free(conninfo);
    if (last == PQPING_OK)
        return 0;
    return rd_fail(RD_ENET, "DB cluster %s does not accept connections on port %d after %d s "
                   "(%s)", c->id, c->port, timeout_s,
                   last == PQPING_REJECT ? "the server is starting up or shutting down"
                   : last == PQPING_NO_RESPONSE ? "no server answers" : "bad connection "
                   "parameters");
}

/* aws rds wait db-cluster-available: succeeds when the status is available
 * (and, here, the server answers); fails at once on a status it cannot leave
 * by itself (botocore waiters-2.json, DBClusterAvailable acceptors). */
int pgc_wait_available(rd_catalog *cat, const char *id, int64_t timeout_s)
{
    int64_t deadline = rd_mono_ns() + timeout_s * 1000000000;
    char last[32] = "unknown";
    for (;;) {
        pgc_cluster *c = NULL;
        int rc = pgc_cluster_get(cat, id, &c);
        if (rc < 0)
            return rc;
        snprintf(last, sizeof last, "%s", c->status);
        bool ready = strcmp(c->status, "available") == 0 && pgc_reachable(c);
        bool dead = strcmp(c->status, "failed") == 0 || strcmp(c->status, "deleting") == 0;
        pgc_cluster_free(c);
        if (ready)
            return 0;
        if (dead)
            return rd_fail(RD_EIO, "DB cluster %s is %s and will not become available; see "
                           "'radiant db describe-events --source-identifier %s'", id, last, id);
        if (rd_mono_ns() >= deadline)
            break;
        nanosleep(&(struct timespec){ 0, 500 * 1000 * 1000 }, NULL);
    }
    return rd_fail(RD_ENET, "DB cluster %s is not available after %lld s (status %s%s); raise "
                   "--timeout or see describe-events", id, (long long)timeout_s, last,
                   strcmp(last, "available") == 0 ? ", not accepting connections" : "");
}

/* --------------------------------------------------------- start, stop -- */

void pgc_log_tail(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fseek(f, -4096, SEEK_END) != 0)
        rewind(f);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n)
            snprintf(out, len, "%s", line);
    }
    fclose(f);
}

static void set_status(rd_catalog *cat, pgc_cluster *c, const char *status)
{
    free(c->status);
    c->status = rd_strdup(status);
    if (pgc_cluster_set_status(cat, c->id, status) < 0)
        RD_WARN("could not record status %s of DB cluster %s: %s", status, c->id, rd_error());
}

static void event(rd_catalog *cat, const pgc_cluster *c, const char *category, const char *msg)
{
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", rd_error());
    if (pgc_event(cat, c->id, category, "%s", msg) < 0)
        RD_WARN("could not record an event of DB cluster %s: %s", c->id, rd_error());
    rd_fail(RD_EINTERNAL, "%s", saved);
}

/* Makes STATE/clusters/ID (for server.log), owned by the run-as user. */
static int cluster_dir_prepare(const rd_config *cfg, const char *id, char **log_path)
{
    char *dir = pgc_cluster_dir(cfg, id);
    int rc = rd_fs_mkdir_p(dir, 0750);
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, dir);
    *log_path = rc == 0 ? rd_path_join(dir, "server.log") : NULL;
    free(dir);
    return rc;
}

/* pg_ctl status: 0 running, 3 not running, 4 no accessible data directory. */
static int server_state(const rd_config *cfg, const pgc_cluster *c, int *state)
{
    char bin[512];
    if (!pgc_bin("pg_ctl", bin, sizeof bin))
        return -RD_ECONFIG;
    char *argv[] = { bin, "status", "-D", c->data_dir, NULL };
    return pgc_exec(cfg, argv, "/dev/null", state);
}

/* pg_ctl start, then waits until the server answers; nothing recorded. */
static int start_server(const rd_config *cfg, const pgc_cluster *c, const char *log_path)
{
    char bin[512];
    if (!pgc_bin("pg_ctl", bin, sizeof bin))
        return -RD_ECONFIG;
    int status = 0;
    char *argv[] = { bin, "-D", c->data_dir, "-l", (char *)log_path, "-w", "-t",
                     PGC_CTL_TIMEOUT, "start", NULL };
    int rc = pgc_exec(cfg, argv, log_path, &status);
    if (rc == 0 && status != 0) {
        char last[512];
        pgc_log_tail(log_path, last, sizeof last);
        rc = rd_fail(RD_EIO, "DB cluster %s did not start (pg_ctl exit %d): %s; see %s", c->id,
                     status, last[0] ? last : "no message", log_path);
    }
    if (rc == 0)
        rc = pgc_wait_ready(c, 30);
    return rc;
}

/* pg_ctl stop -m fast; nothing recorded. */
static int stop_server(const rd_config *cfg, const pgc_cluster *c, const char *log_path)
{
    char bin[512];
    if (!pgc_bin("pg_ctl", bin, sizeof bin))
        return -RD_ECONFIG;
    int status = 0;
    char *argv[] = { bin, "-D", c->data_dir, "-w", "-t", PGC_CTL_TIMEOUT, "stop", "-m", "fast",
                     NULL };
    int rc = pgc_exec(cfg, argv, log_path, &status);
    if (rc == 0 && status != 0) {
        char last[512];
        pgc_log_tail(log_path, last, sizeof last);
        rc = rd_fail(RD_EIO, "DB cluster %s did not stop (pg_ctl exit %d): %s; see %s", c->id,
                     status, last[0] ? last : "no message", log_path);
    }
    return rc;
}

int pgc_server_start(const rd_config *cfg, const pgc_cluster *c)
{
    char *log_path = NULL;
    int rc = cluster_dir_prepare(cfg, c->id, &log_path);
    if (rc == 0)
        rc = start_server(cfg, c, log_path);
    free(log_path);
    return rc;
}

int pgc_server_stop(const rd_config *cfg, const pgc_cluster *c)
{
    char *log_path = NULL;
    int rc = cluster_dir_prepare(cfg, c->id, &log_path);
    if (rc == 0)
        rc = stop_server(cfg, c, log_path);
    free(log_path);
    return rc;
}

int pgc_start(const rd_config *cfg, rd_catalog *cat, pgc_cluster *c)
{
    if (pgc_reachable(c)) {
        if (strcmp(c->status, "available") != 0)
            set_status(cat, c, "available");
        return 0;
    }
    char *log_path = NULL;
    int rc = cluster_dir_prepare(cfg, c->id, &log_path);
    if (rc < 0)
        return rc;
    set_status(cat, c, "starting");
    rc = start_server(cfg, c, log_path);
    if (rc < 0) {
        set_status(cat, c, "failed");
        char msg[1100];
        snprintf(msg, sizeof msg, "DB cluster failed to start: %s", rd_error());
        event(cat, c, "failure", msg);
    } else {
        set_status(cat, c, "available");
        event(cat, c, "notification", "DB cluster started");
    }
    free(log_path);
    return rc;
}

int pgc_stop(const rd_config *cfg, rd_catalog *cat, pgc_cluster *c)
{
    int state = 0;
    int rc = server_state(cfg, c, &state);
    if (rc < 0)
        return rc;
    if (state == 4)
        return rd_fail(RD_ENOENT, "data directory %s of DB cluster %s is missing or not "
                       "accessible", c->data_dir, c->id);
    if (state == 3) {
        if (strcmp(c->status, "stopped") != 0)
            set_status(cat, c, "stopped");
        return 0;
    }
    char bin[512];
    char *log_path = NULL;
    if (!pgc_bin("pg_ctl", bin, sizeof bin))
        return -RD_ECONFIG;
    rc = cluster_dir_prepare(cfg, c->id, &log_path);
    if (rc < 0)
        return rc;
    char *previous = rd_strdup(c->status);
    set_status(cat, c, "stopping");
    rc = stop_server(cfg, c, log_path);
    if (rc < 0) {
        set_status(cat, c, previous);
        char msg[1100];
        snprintf(msg, sizeof msg, "DB cluster failed to stop: %s", rd_error());
        event(cat, c, "failure", msg);
    } else {
        set_status(cat, c, "stopped");
        event(cat, c, "notification", "DB cluster stopped");
    }
    free(previous);
    free(log_path);
    return rc;
}
