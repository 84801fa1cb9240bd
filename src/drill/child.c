/* The drill's child processes: radiant commands run the way an operator
 * runs them (`radiant --config SANDBOX runbook run ... --output json`), each
 * in its own process group so that the drill, not the terminal, decides when
 * they stop, and never waited for past an interruption or a timeout. Also
 * the interrupt flag every wait of the drill polls. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "drill/orchestrate.h"

volatile sig_atomic_t drill_interrupted;

int drill_check_interrupt(void)
{
    return drill_interrupted ? rd_fail(RD_EINTERNAL, "interrupted (signal %d)",
                                       (int)drill_interrupted)
                             : 0;
}

int drill_sleep_ms(int64_t ms)
{
    int64_t end = rd_mono_ns() + ms * 1000000;
    for (;;) {
        int rc = drill_check_interrupt();
        if (rc < 0)
            return rc;
        int64_t left = end - rd_mono_ns();
        if (left <= 0)
            return 0;
        if (left > 50000000)
            left = 50000000;
        struct timespec ts = { 0, (long)left };
        nanosleep(&ts, NULL);
    }
}

static char **full_argv(const char *self, const char *config, char *const args[], bool json)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **v = calloc(n + 6, sizeof *v);
    size_t k = 0;
    v[k++] = (char *)self;
    v[k++] = "--config";
    v[k++] = (char *)config;
    if (json) {
        v[k++] = "--output";
        v[k++] = "json";
    }
    for (size_t i = 0; i < n; i++)
        v[k++] = args[i];
    return v;
}

/* In the child: own process group, stdin from /dev/null, stderr (and stdout
 * when out_fd < 0) to the log, then exec. */
static void exec_child(char **argv, int out_fd, const char *log_path)
{
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDWR);
    int log = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    if (log < 0)
        log = devnull;
    dup2(devnull, STDIN_FILENO);
    dup2(out_fd >= 0 ? out_fd : log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(argv[0], argv);
    _exit(127);
}

int drill_child_spawn(const char *self, const drill_sandbox *sb, char *const args[], pid_t *pid)
{
    char **argv = full_argv(self, sb->config_path, args, false);
    pid_t p = fork();
    if (p == 0)
        exec_child(argv, -1, sb->log_path);
    free(argv);
    if (p < 0)
        return rd_fail_errno(RD_EIO, "cannot start %s", self);
    setpgid(p, p);
    *pid = p;
    return 0;
}

void drill_child_stop(pid_t pid, int grace_s)
{
    if (pid <= 0)
        return;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
        return;
    kill(pid, SIGTERM);
    int64_t end = rd_mono_ns() + (int64_t)grace_s * 1000000000;
    while (rd_mono_ns() < end) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD))
            return;
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* The last non-empty line of the log written since offset. */
static void last_line(const char *log_path, long from, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = log_path ? fopen(log_path, "r") : NULL;
    if (!f)
        return;
    fseek(f, from, SEEK_SET);
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n)
            continue;
        /* --output json: the error is {"error": {"message": ...}} */
        json_t *doc = json_loads(line, 0, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"),
                                                            "message"));
        snprintf(out, len, "%s", msg ? msg : line);
        json_decref(doc);
    }
    fclose(f);
}

static long file_size(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n < 0 ? 0 : n;
}

int drill_child_run(const char *self, const drill_sandbox *sb, char *const args[],
                    int timeout_s, rd_buf *out, int *status)
{
    const char *log_path = sb->log_path;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return rd_fail_errno(RD_EIO, "pipe");
    long log_from = file_size(log_path);
    char **argv = full_argv(self, sb->config_path, args, true);
    pid_t p = fork();
    if (p == 0) {
        close(fds[0]);
        exec_child(argv, fds[1], log_path);
    }
    free(argv);
    close(fds[1]);
    if (p > 0)
        drill_sandbox_record_pid(sb, p);
    if (p < 0) {
        close(fds[0]);
        return rd_fail_errno(RD_EIO, "cannot start %s", self);
    }
    setpgid(p, p);
    int64_t deadline = rd_mono_ns() + (int64_t)timeout_s * 1000000000;
    int rc = 0;
    bool eof = false;
    while (!eof) {
        if (drill_interrupted || rd_mono_ns() > deadline) {
            rc = drill_interrupted ? drill_check_interrupt()
                                   : rd_fail(RD_ENET, "'radiant %s %s' did not finish within "
                                             "%d s", args[0], args[1] ? args[1] : "",
                                             timeout_s);
            break;
        }
        struct pollfd pfd = { fds[0], POLLIN, 0 };
        int n = poll(&pfd, 1, 100);
        if (n <= 0)
            continue;
        char buf[8192];
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got > 0 && out)
            rd_buf_append(out, buf, (size_t)got);
        else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
            eof = true;
    }
    close(fds[0]);
    if (rc < 0) {
        char saved[512];
        snprintf(saved, sizeof saved, "%s", rd_error());
        drill_child_stop(p, 5);
        *status = -1;
        return rd_fail(-rc, "%s", saved);
    }
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (out) {
        rd_buf_append(out, "", 1);
        out->len--;
    }
    if (*status != 0) {
        char line[1024];
        last_line(log_path, log_from, line, sizeof line);
        rd_fail(RD_EINTERNAL, "%s", line[0] ? line : "(no message)");
    }
    return 0;
}

int drill_child_json(const char *self, const drill_sandbox *sb, char *const args[],
                     json_t **doc)
{
    rd_buf out = RD_BUF_INIT;
    int status;
    int rc = drill_child_run(self, sb, args, 600, &out, &status);
    if (rc == 0 && status != 0)
        rc = rd_fail(status == 4 ? RD_ENOENT : RD_EIO, "radiant %s %s failed (exit %d): %s",
                     args[0], args[1], status, rd_error());
    if (rc == 0 && doc) {
        *doc = json_loads(out.data ? (const char *)out.data : "", 0, NULL);
        if (!*doc)
            rc = rd_fail(RD_EINTERNAL, "radiant %s %s printed no JSON", args[0], args[1]);
    }
    rd_buf_free(&out);
    return rc;
}
