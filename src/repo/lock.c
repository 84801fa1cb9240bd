/* Repository locks: one small JSON file per holder under locks/.
 *
 * Backups take shared locks and run side by side: each writes its own packs,
 * index and manifest under fresh names. Prune takes an exclusive lock because
 * it deletes packs that no index names, which is exactly what a running backup
 * has written but not yet indexed.
 *
 * Protocol: write our lock, then list the others. A conflicting live lock makes
 * us remove ours and fail, so two racing lockers may both back off but never
 * both proceed. A lock is dead when its host is this host and its pid is gone
 * or belongs to a newer process (start time differs); locks of other hosts are
 * dead when not refreshed for REFRESH_STALE seconds. A background thread
 * rewrites our lock every REFRESH_EVERY seconds while we hold it. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/internal.h"

#define REFRESH_EVERY 300
#define REFRESH_STALE 1800

/* Process start time in clock ticks since boot (field 22 of /proc/PID/stat),
 * which tells a live process from a later one that reuses its pid. */
static unsigned long long proc_start_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the command name may contain spaces */
    if (!p)
        return 0;
    unsigned long long start = 0;
    /* after ')' come fields 3..; start time is field 22 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
               "%*d %llu", &start) != 1)
        return 0;
    return start;
}

void repo_host_name(char *out, size_t len)
{
    if (gethostname(out, len) != 0)
        snprintf(out, len, "unknown");
    out[len - 1] = '\0';
}

static char *lock_document(bool exclusive)
{
    char host[256], when[32];
    repo_host_name(host, sizeof host);
    rd_time_format(rd_clock_now(), when, sizeof when);
    json_t *doc = json_pack("{s:s,s:I,s:I,s:s,s:I,s:b}", "hostname", host, "pid",
                            (json_int_t)getpid(), "start_ticks",
                            (json_int_t)proc_start_ticks(getpid()), "time", when, "time_unix",
                            (json_int_t)rd_clock_now(), "exclusive", exclusive);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

struct lock_info {
    char host[256];
    long long pid, start_ticks, time_unix;
    bool exclusive;
    char when[32];
};

static int lock_read(repo *r, const char *path, struct lock_info *li)
{
    rd_buf text = RD_BUF_INIT;
    int rc = repo_storage_get(r->st, path, 0, 0, &text);
    if (rc < 0) {
        rd_buf_free(&text);
        return rc;
    }
    json_t *doc = json_loadb((const char *)text.data, text.len, 0, NULL);
    rd_buf_free(&text);
    const char *host = NULL, *when = NULL;
    json_int_t pid = 0, ticks = 0, tu = 0;
    int excl = 0;
    if (!doc || json_unpack(doc, "{s:s,s:I,s:I,s:s,s:I,s:b}", "hostname", &host, "pid", &pid,
                            "start_ticks", &ticks, "time", &when, "time_unix", &tu,
                            "exclusive", &excl) != 0) {
        json_decref(doc);
        return rd_fail(RD_ECORRUPT, "lock %s is damaged", path);
    }
    snprintf(li->host, sizeof li->host, "%s", host);
    snprintf(li->when, sizeof li->when, "%s", when);
    li->pid = pid;
    li->start_ticks = ticks;
    li->time_unix = tu;
    li->exclusive = excl;
    json_decref(doc);
    return 0;
}

static bool lock_is_dead(const struct lock_info *li)
{
    char host[256];
    repo_host_name(host, sizeof host);
    if (strcmp(host, li->host) != 0)
        return rd_clock_now() - li->time_unix > REFRESH_STALE;
    if (li->pid <= 0 || (kill((pid_t)li->pid, 0) != 0 && errno == ESRCH))
        return true;
    unsigned long long start = proc_start_ticks((long)li->pid);
    return start != 0 && li->start_ticks != 0 && start != (unsigned long long)li->start_ticks;
}

static void *lock_refresher(void *arg)
{
    repo *r = arg;
    pthread_mutex_lock(&r->lock_mu);
    while (!r->lock_stop) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += REFRESH_EVERY;
        pthread_cond_timedwait(&r->lock_cv, &r->lock_mu, &deadline);
        if (r->lock_stop)
            break;
        char *text = lock_document(r->lock_exclusive);
        if (repo_storage_put(r->st, r->lock_path, text, strlen(text)) < 0)
            RD_WARN("cannot refresh lock %s: %s", r->lock_path, rd_error());
        free(text);
    }
    pthread_mutex_unlock(&r->lock_mu);
    return NULL;
}

static int check_others(repo *r, bool exclusive)
{
    char **names = NULL;
    size_t n = 0;
    int rc = repo_list_sorted(r, "locks", &names, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = rd_asprintf("locks/%s", names[i]);
        struct lock_info li;
        if (strcmp(path, r->lock_path) == 0) {
            free(path);
            continue;
        }
        int lrc = lock_read(r, path, &li);
        if (lrc == -RD_ENOENT) {
            /* released meanwhile */
        } else if (lrc < 0) {
            rc = rd_fail(RD_ELOCKED, "repository %s has an unreadable lock %s; if no radiant "
                         "is running against it, remove that file", r->name, path);
        } else if (lock_is_dead(&li)) {
            RD_WARN("removing stale lock %s of pid %lld on %s (since %s)", path, li.pid,
                    li.host, li.when);
            repo_storage_remove(r->st, path);
        } else if (exclusive || li.exclusive) {
            rc = rd_fail(RD_ELOCKED, "repository %s is locked %s by pid %lld on %s since %s; "
                         "retry when it finishes", r->name,
                         li.exclusive ? "exclusively (prune)" : "by a backup", li.pid, li.host,
                         li.when);
        }
        free(path);
    }
    repo_strv_free(names, n);
    return rc;
}

int repo_lock(repo *r, bool exclusive)
{
    if (r->lock_path)
        return rd_fail(RD_EINTERNAL, "repository %s is already locked by this process", r->name);
    uint8_t rnd[16];
    char hex[33];
    int rc = rd_random_bytes(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    rd_hex_encode(rnd, sizeof rnd, hex);
    r->lock_path = rd_asprintf("locks/%s", hex);
    r->lock_exclusive = exclusive;
    char *text = lock_document(exclusive);
    rc = repo_storage_put(r->st, r->lock_path, text, strlen(text));
    free(text);
    if (rc == 0)
        rc = check_others(r, exclusive);
    if (rc < 0) {
        repo_storage_remove(r->st, r->lock_path);
        free(r->lock_path);
        r->lock_path = NULL;
        return rc;
    }
    r->lock_stop = false;
    if (pthread_create(&r->lock_thread, NULL, lock_refresher, r) == 0)
        r->lock_thread_running = true;
    return 0;
}

void repo_unlock(repo *r)
{
    if (!r->lock_path)
        return;
    if (r->lock_thread_running) {
        pthread_mutex_lock(&r->lock_mu);
        r->lock_stop = true;
        pthread_cond_signal(&r->lock_cv);
        pthread_mutex_unlock(&r->lock_mu);
        pthread_join(r->lock_thread, NULL);
        r->lock_thread_running = false;
    }
    if (repo_storage_remove(r->st, r->lock_path) < 0)
        RD_WARN("cannot remove lock %s: %s", r->lock_path, rd_error());
    free(r->lock_path);
    r->lock_path = NULL;
}
