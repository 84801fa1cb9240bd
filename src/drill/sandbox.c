/* The drill's sandbox (`drill run --ephemeral`): a temporary directory
 * /tmp/radiant-drill-XXXXXX holding everything a drill may break and nothing
 * else.
 *
 *   radiant.conf     [radiant] state-dir = state, run-as = postgres; [repo drill]
 *                    encrypted; [objectstore] on a free loopback port; one
 *                    [access-key]; [bucket radiant-drill] versioned; the main
 *                    configuration's [targets]
 *   repo.pass, ak.secret   random secrets
 *   state/           catalog, clusters (data directories: drill-source, made by
 *                    stores.c in every scenario, and what recovery restores),
 *                    object store (the bucket, served by the sandbox's serve)
 *   repo/            the repository
 *   drill.lock       flock()ed by the drill for its whole life; holds its pid
 *   pids             one line per child the drill started (serve, runbooks)
 *   kept             present when the drill ran with --keep
 *   radiant.log      stderr of the radiant children
 *
 * The lock is what tells a live drill's sandbox from a stale one: the kernel
 * releases it when the drill dies however it dies (kill -9 included), so the
 * next `drill run` reclaims a sandbox whose lock it can take. Reclaiming stops
 * processes only through what the sandbox itself records: PostgreSQL by
 * `pg_ctl -m immediate` on each data directory under state/clusters, other
 * children by their recorded pid after /proc/PID/cmdline has shown that the
 * process belongs to this sandbox (pids are reused). Never by process name.
 *
 * The directory is given to the run-as user when the drill runs as root, so
 * that PostgreSQL (which never runs as root) can use it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/fs.h"
#include "drill/internal.h"
#include "drill/orchestrate.h"
#include "pg/pg.h"

#define SANDBOX_BUCKET "radiant-drill"

void drill_sandbox_record_pid(const drill_sandbox *sb, pid_t pid)
{
    if (!sb->dir || pid <= 0)
        return;
    char *path = rd_path_join(sb->dir, "pids");
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%d\n", (int)pid);
        fclose(f);
    }
    free(path);
}

int drill_free_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "socket");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot find a free loopback port");
    else
        *port = ntohs(a.sin_port);
    close(fd);
    return rc;
}

static void random_hex(char *out, size_t bytes)
{
    uint8_t b[64];
    if (bytes > sizeof b)
        bytes = sizeof b;
    if (rd_random_bytes(b, bytes) != 0)
        for (size_t i = 0; i < bytes; i++)
            b[i] = (uint8_t)(rand() & 0xff);
    rd_hex_encode(b, bytes, out);
}

/* Gives the tree to the run-as user when running as root. */
static int chown_tree(const rd_config *cfg, const char *dir)
{
    const char *user = pgc_run_as(cfg);
    if (!user)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return rd_fail(RD_ECONFIG, "the run-as user %s does not exist", user);
    int rc = rd_fs_chown_tree(dir, pw->pw_uid, pw->pw_gid);
    return rc < 0 ? rd_fail_wrap(rc, "the sandbox for the run-as user %s", user) : 0;
}

static int write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *p = rd_path_join(dir, name);
    int rc = rd_fs_write_atomic(p, text, strlen(text), mode);
    free(p);
    return rc;
}

int drill_sandbox_create(drill_sandbox *sb, const rd_config *main, const char *self,
                         FILE *progress)
{
    char tmpl[] = DRILL_SANDBOX_TEMPLATE;
    if (!mkdtemp(tmpl))
        return rd_fail_errno(RD_EIO, "cannot create the drill's sandbox under /tmp");
    sb->ephemeral = true;
    sb->dir = rd_strdup(tmpl);
    sb->lock_fd = -1;
    chmod(sb->dir, 0755);

    char *lock = rd_path_join(sb->dir, "drill.lock");
    sb->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(lock);
    if (sb->lock_fd < 0 || flock(sb->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return rd_fail_errno(RD_EIO, "cannot lock the sandbox %s", sb->dir);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (write(sb->lock_fd, pid, (size_t)n) != n)
        return rd_fail_errno(RD_EIO, "cannot write the lock of %s", sb->dir);

    int s3_port;
    int rc = drill_free_port(&s3_port);
    if (rc < 0)
        return rc;
    char pass[65], secret[65], key[17];
    random_hex(pass, 32);
    random_hex(secret, 20);
    random_hex(key, 6);
    for (char *k = key; *k; k++)
        if (*k >= 'a' && *k <= 'f')
            *k = (char)(*k - 'a' + 'A');
    sb->access_key = rd_asprintf("AKDRILL%s", key);
    sb->secret_key = rd_strdup(secret);
    sb->endpoint = rd_asprintf("http://127.0.0.1:%d", s3_port);
    sb->bucket = rd_strdup(SANDBOX_BUCKET);
    sb->prefix = rd_strdup("");

    rd_buf conf = RD_BUF_INIT;
    char *text = rd_asprintf(
        "; the sandbox of one `radiant drill run --ephemeral`; removed when it ends\n"
        "[radiant]\nstate-dir = state\nrun-as = %s\n\n"
        "[repo drill]\npath = repo\npassphrase-file = repo.pass\n\n"
        "[objectstore]\nlisten = 127.0.0.1:%d\n\n"
        "[access-key %s]\nsecret-access-key-file = ak.secret\n\n"
        "[bucket %s]\nversioning = enabled\n\n",
        main && pgc_run_as(main) ? pgc_run_as(main) : "postgres", s3_port, sb->access_key,
        sb->bucket);
    rd_buf_puts(&conf, text);
    free(text);
    const rd_config_section *t = main ? rd_config_find(main, "targets", NULL) : NULL;
    if (t) {
        static const char *const keys[] = { "rto-target", "rto-maximum", "rpo-target",
                                            "rpo-maximum" };
        rd_buf_puts(&conf, "; copied from the main configuration\n[targets]\n");
        for (size_t i = 0; i < 4; i++) {
            const char *v = rd_config_get(t, keys[i]);
            if (v) {
                char *line = rd_asprintf("%s = %s\n", keys[i], v);
                rd_buf_puts(&conf, line);
                free(line);
            }
        }
    }
    sb->config_path = rd_path_join(sb->dir, "radiant.conf");
    sb->log_path = rd_path_join(sb->dir, "radiant.log");
    char *pass_line = rd_asprintf("%s\n", pass), *secret_line = rd_asprintf("%s\n", secret);
    rc = write_text(sb->dir, "radiant.conf", (const char *)conf.data, 0644);
    if (rc == 0)
        rc = write_text(sb->dir, "repo.pass", pass_line, 0600);
    if (rc == 0)
        rc = write_text(sb->dir, "ak.secret", secret_line, 0600);
    free(pass_line);
    free(secret_line);
    rd_buf_free(&conf);
    if (rc == 0)
        rc = rd_config_load(sb->config_path, &sb->cfg);
    sb->cfg_owned = true;
    if (rc == 0)
        rc = chown_tree(sb->cfg, sb->dir);
    if (rc == 0) {
        char *args[] = { "repo", "init", "--repo", "drill", NULL };
        int status;
        rc = drill_child_run(self, sb, args, 120, NULL, &status);
        if (rc == 0 && status != 0)
            rc = rd_fail(RD_EIO, "repo init in the sandbox failed: %s", rd_error());
    }
    if (rc == 0)
        rc = chown_tree(sb->cfg, sb->dir);
    if (rc == 0 && progress)
        fprintf(progress, "[drill] sandbox: %s (object store %s)\n", sb->dir, sb->endpoint);
    return rc;
}

int drill_sandbox_s3(const drill_sandbox *sb, s3_client **out)
{
    s3_client_options o = {
        .endpoint = sb->endpoint, .bucket = sb->bucket, .access_key_id = sb->access_key,
        .secret_access_key = sb->secret_key, .path_style = true, .timeout_seconds = 30,
    };
    return s3_client_new(&o, out);
}

int drill_sandbox_start_serve(drill_sandbox *sb, const char *self)
{
    char *args[] = { "serve", "--interval", "3600", NULL };
    int rc = drill_child_spawn(self, sb, args, &sb->serve_pid);
    if (rc < 0)
        return rc;
    drill_sandbox_record_pid(sb, sb->serve_pid);
    s3_client *c = NULL;
    rc = drill_sandbox_s3(sb, &c);
    /* Up when the bucket of the configuration answers (serve creates it). */
    int64_t deadline = rd_mono_ns() + 30 * 1000000000LL;
    while (rc == 0) {
        if (s3_head_bucket(c) == 0)
            break;
        int st;
        if (waitpid(sb->serve_pid, &st, WNOHANG) == sb->serve_pid) {
            sb->serve_pid = 0;
            rc = rd_fail(RD_EIO, "radiant serve of the sandbox exited at start; see %s",
                         sb->log_path);
        } else if (rd_mono_ns() > deadline) {
            rc = rd_fail(RD_ENET, "radiant serve of the sandbox did not answer on %s within "
                         "30 s; see %s", sb->endpoint, sb->log_path);
        } else {
            rc = drill_sleep_ms(50);
        }
    }
    s3_client_free(c);
    return rc;
}

/* ------------------------------------------------------------ teardown -- */

/* pg_ctl stop -m immediate on every data directory under STATE/clusters
 * that has a postmaster.pid: the clusters of the sandbox, whatever the
 * catalog says (a restore killed midway left no row). */
static void stop_clusters(const char *dir, const rd_config *cfg)
{
    char *pattern = rd_asprintf("%s/state/clusters/*/data/postmaster.pid", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0) {
        char pg_ctl[512];
        pgc_bin("pg_ctl", pg_ctl, sizeof pg_ctl);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *data = rd_strdup(g.gl_pathv[i]);
            *strrchr(data, '/') = '\0';
            char *argv[] = { pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop",
                             NULL };
            int status;
            if (pgc_exec(cfg, argv, "/dev/null", &status) < 0)
                fprintf(stderr, "radiant: warning: cannot stop the cluster in %s: %s\n", data,
                        rd_error());
            free(data);
        }
        globfree(&g);
    }
    free(pattern);
}

/* True when /proc/PID/cmdline mentions dir: the pid still is a process of
 * this sandbox (and not a reused pid). */
static bool pid_belongs(pid_t pid, const char *dir)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, dir) != NULL;
}

/* Stops the children recorded in DIR/pids that still belong to the sandbox
 * (they are not our children after a restart: poll instead of waitpid). */
static void stop_recorded(const char *dir)
{
    char *p = rd_path_join(dir, "pids");
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
        if (pid <= 1 || !pid_belongs(pid, dir))
            continue;
        kill(pid, SIGTERM);
        for (int i = 0; i < 100 && pid_belongs(pid, dir); i++) {
            int st;
            waitpid(pid, &st, WNOHANG);
            struct timespec ts = { 0, 50000000 };
            nanosleep(&ts, NULL);
        }
        if (pid_belongs(pid, dir)) {
            kill(pid, SIGKILL);
            int st;
            waitpid(pid, &st, WNOHANG);
        }
    }
    fclose(f);
}

void drill_sandbox_teardown(drill_sandbox *sb, bool keep, FILE *progress)
{
    if (!sb->ephemeral || !sb->dir)
        return;
    if (keep) {
        write_text(sb->dir, "kept", "kept by `radiant drill run --keep`; remove with "
                   "`radiant drill cleanup`\n", 0644);
        if (progress)
            fprintf(progress, "[drill] teardown: kept %s (its processes run; `radiant drill "
                    "cleanup` stops and removes it)\n", sb->dir);
        return;
    }
    if (sb->serve_pid > 0)
        drill_child_stop(sb->serve_pid, 10);
    sb->serve_pid = 0;
    stop_recorded(sb->dir);
    stop_clusters(sb->dir, sb->cfg);
    if (rd_fs_remove_tree(sb->dir) < 0)
        fprintf(stderr, "radiant: warning: cannot remove the sandbox %s: %s\n", sb->dir,
                rd_error());
    else if (progress)
        fprintf(progress, "[drill] teardown: stopped and removed %s\n", sb->dir);
}

void drill_sandbox_clear(drill_sandbox *sb)
{
    if (sb->lock_fd > 0)
        close(sb->lock_fd);
    if (sb->cfg_owned)
        rd_config_free(sb->cfg);
    free(sb->dir);
    free(sb->config_path);
    free(sb->log_path);
    free(sb->endpoint);
    free(sb->bucket);
    free(sb->prefix);
    free(sb->access_key);
    free(sb->secret_key);
    free(sb->cluster);
    free(sb->schema);
    free(sb->restored_cluster);
    memset(sb, 0, sizeof *sb);
    sb->lock_fd = -1;
}

int drill_sandbox_reclaim(bool include_kept, FILE *progress)
{
    glob_t g;
    int reclaimed = 0;
    if (glob(DRILL_SANDBOX_GLOB, GLOB_ONLYDIR, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *dir = g.gl_pathv[i];
        struct stat st;
        /* Only directories: a sandbox is never a symlink planted in /tmp. */
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        char *lock = rd_path_join(dir, "drill.lock");
        int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        free(lock);
        if (fd < 0)
            continue;            /* not a sandbox (or one still being created) */
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);           /* its drill is alive */
            continue;
        }
        char *kept = rd_path_join(dir, "kept");
        bool is_kept = access(kept, F_OK) == 0;
        free(kept);
        if (is_kept && !include_kept) {
            close(fd);
            continue;
        }
        char *conf = rd_path_join(dir, "radiant.conf");
        rd_config *cfg = NULL;
        if (rd_config_load(conf, &cfg) < 0)
            cfg = NULL;
        free(conf);
        stop_recorded(dir);
        if (cfg)
            stop_clusters(dir, cfg);
        rd_config_free(cfg);
        if (rd_fs_remove_tree(dir) == 0) {
            reclaimed++;
            if (progress)
                fprintf(progress, "[drill] reclaimed the sandbox of an earlier drill: %s\n",
                        dir);
        }
        close(fd);
    }
    globfree(&g);
    return reclaimed;
}
