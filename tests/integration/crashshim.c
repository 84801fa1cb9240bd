/* Test-only LD_PRELOAD shim for the crash-safety tests of tests/integration:
 * it interposes write/pwrite, fsync/fdatasync and rename so a test can kill
 * (or stop, or slow down) radiant at an exact I/O call. It is compiled by the
 * test session (cc -shared -fPIC -o crashshim.so crashshim.c -ldl) and is never
 * linked into radiant.
 *
 * Environment:
 *   CRASH_PREFIX=DIR       only calls on paths under DIR count (the repository);
 *                          unset: every call counts
 *   CRASH_MATCH=TEXT       additionally, only paths containing TEXT count
 *   CRASH_AT=KIND:N        on the Nth counted call of KIND (write, fsync,
 *                          rename, unlink), raise CRASH_SIGNAL before doing
 *                          the call
 *   CRASH_SIGNAL=KILL|STOP KILL (default) or STOP (the test sends SIGCONT)
 *   CRASH_PARTIAL=1        for write:N, write the first half of the buffer
 *                          before the signal (a torn write)
 *   CRASH_COUNT_FILE=FILE  append "KIND N PATH" for every counted call
 *   SHIM_SLEEP_MS=KIND:MS  sleep MS milliseconds before every counted KIND call
 *
 * write/pwrite count as "write", fsync/fdatasync as "fsync", rename/renameat
 * as "rename", unlink/unlinkat as "unlink". Counters are per kind, start at 1 and are shared by threads. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum kind { K_WRITE, K_FSYNC, K_RENAME, K_UNLINK, K_COUNT };
static const char *const kind_names[K_COUNT] = { "write", "fsync", "rename", "unlink" };

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);

static const char *prefix, *match, *count_file;
static size_t prefix_len;
static int crash_kind = -1;
static long crash_n;
static int crash_sig = SIGKILL;
static int partial;
static int sleep_kind = -1;
static long sleep_ms;
static long counters[K_COUNT];
static int initialised;

static int kind_from(const char *text, size_t len)
{
    for (int k = 0; k < K_COUNT; k++)
        if (strlen(kind_names[k]) == len && strncmp(text, kind_names[k], len) == 0)
            return k;
    return -1;
}

static void shim_init(void)
{
    if (__atomic_load_n(&initialised, __ATOMIC_ACQUIRE))
        return;
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_renameat = dlsym(RTLD_NEXT, "renameat");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    prefix = getenv("CRASH_PREFIX");
    if (prefix && !*prefix)
        prefix = NULL;
    prefix_len = prefix ? strlen(prefix) : 0;
    match = getenv("CRASH_MATCH");
    if (match && !*match)
        match = NULL;
    count_file = getenv("CRASH_COUNT_FILE");
    const char *at = getenv("CRASH_AT");
    if (at && *at) {
        const char *colon = strchr(at, ':');
        if (colon) {
            crash_kind = kind_from(at, (size_t)(colon - at));
            crash_n = atol(colon + 1);
        }
    }
    const char *sig = getenv("CRASH_SIGNAL");
    if (sig && strcmp(sig, "STOP") == 0)
        crash_sig = SIGSTOP;
    const char *p = getenv("CRASH_PARTIAL");
    partial = p && *p == '1';
    const char *sl = getenv("SHIM_SLEEP_MS");
    if (sl && *sl) {
        const char *colon = strchr(sl, ':');
        if (colon) {
            sleep_kind = kind_from(sl, (size_t)(colon - sl));
            sleep_ms = atol(colon + 1);
        }
    }
    __atomic_store_n(&initialised, 1, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void shim_ctor(void) { shim_init(); }

static int fd_path(int fd, char *out, size_t len)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, len - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static int counted(const char *path)
{
    if (prefix && strncmp(path, prefix, prefix_len) != 0)
        return 0;
    if (match && !strstr(path, match))
        return 0;
    return 1;
}

static void log_call(int kind, long n, const char *path)
{
    if (!count_file)
        return;
    int saved = errno;
    int fd = open(count_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        char line[PATH_MAX + 64];
        int len = snprintf(line, sizeof line, "%s %ld %s\n", kind_names[kind], n, path);
        if (len > 0)
            real_write(fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
        close(fd);
    }
    errno = saved;
}

/* Returns 1 when the call is the crash point (the caller raises the signal,
 * after a torn write when asked). */
static int on_call(int kind, const char *path)
{
    if (!path || !counted(path))
        return 0;
    if (kind == sleep_kind && sleep_ms > 0) {
        struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    long n = __atomic_add_fetch(&counters[kind], 1, __ATOMIC_SEQ_CST);
    log_call(kind, n, path);
    return kind == crash_kind && n == crash_n;
}

static void crash(void)
{
    raise(crash_sig);
}

static const char *fd_path_or_null(int fd, char *buf, size_t len)
{
    /* Without a filter there is no need to resolve the path. */
    if (!prefix && !match && !count_file)
        return "";
    return fd_path(fd, buf, len) == 0 ? buf : NULL;
}

static int needs_work(void)
{
    return crash_kind >= 0 || count_file || sleep_kind >= 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    shim_init();
    if (needs_work() && fd > 2) {
        char path[PATH_MAX];
        if (on_call(K_WRITE, fd_path_or_null(fd, path, sizeof path))) {
            if (partial && len > 1)
                real_write(fd, buf, len / 2);
            crash();
        }
    }
    return real_write(fd, buf, len);
}

static ssize_t do_pwrite(ssize_t (*real)(int, const void *, size_t, off_t), int fd,
                         const void *buf, size_t len, off_t off)
{
    if (needs_work() && fd > 2) {
        char path[PATH_MAX];
        if (on_call(K_WRITE, fd_path_or_null(fd, path, sizeof path))) {
            if (partial && len > 1)
                real(fd, buf, len / 2, off);
            crash();
        }
    }
    return real(fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    shim_init();
    return do_pwrite(real_pwrite, fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    shim_init();
    return do_pwrite(real_pwrite64 ? real_pwrite64 : real_pwrite, fd, buf, len, off);
}

int fsync(int fd)
{
    shim_init();
    if (needs_work()) {
        char path[PATH_MAX];
        if (on_call(K_FSYNC, fd_path_or_null(fd, path, sizeof path)))
            crash();
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    shim_init();
    if (needs_work()) {
        char path[PATH_MAX];
        if (on_call(K_FSYNC, fd_path_or_null(fd, path, sizeof path)))
            crash();
    }
    return real_fdatasync(fd);
}

/* Renames are matched on the destination, made absolute when relative. */
static const char *abs_path(int dirfd, const char *path, char *buf, size_t len)
{
    if (path[0] == '/')
        return path;
    char dir[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (!getcwd(dir, sizeof dir))
            return path;
    } else if (fd_path(dirfd, dir, sizeof dir) != 0) {
        return path;
    }
    snprintf(buf, len, "%s/%s", dir, path);
    return buf;
}

int rename(const char *from, const char *to)
{
    shim_init();
    if (needs_work()) {
        char buf[PATH_MAX * 2];
        if (on_call(K_RENAME, abs_path(AT_FDCWD, to, buf, sizeof buf)))
            crash();
    }
    return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    shim_init();
    if (needs_work()) {
        char buf[PATH_MAX * 2];
        if (on_call(K_RENAME, abs_path(tofd, to, buf, sizeof buf)))
            crash();
    }
    return real_renameat(fromfd, from, tofd, to);
}

int unlink(const char *path)
{
    shim_init();
    if (needs_work()) {
        char buf[PATH_MAX * 2];
        if (on_call(K_UNLINK, abs_path(AT_FDCWD, path, buf, sizeof buf)))
            crash();
    }
    return real_unlink(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    shim_init();
    if (needs_work()) {
        char buf[PATH_MAX * 2];
        if (on_call(K_UNLINK, abs_path(dirfd, path, buf, sizeof buf)))
            crash();
    }
    return real_unlinkat(dirfd, path, flags);
}
