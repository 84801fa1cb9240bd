/* Progress on a terminal for long commands (backup, restore, WAL replay): a
 * thread redraws one line of stderr four times a second from counters the work
 * updates atomically, and clears it at the end. Nothing is drawn when stderr
 * is not a terminal (scripts, CI), so output stays quiet there. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/clock.h"

struct cli_progress {
    const char *what;
    const repo_progress *bytes;
    const int64_t *replay_at;        /* seconds; 0 until replay starts */
    int64_t replay_target;           /* 0: to the end of the archive */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void draw_bytes(const cli_progress *p, int64_t start_ns)
{
    uint64_t done = __atomic_load_n(&p->bytes->done, __ATOMIC_RELAXED);
    uint64_t total = __atomic_load_n(&p->bytes->total, __ATOMIC_RELAXED);
    double secs = (double)(rd_mono_ns() - start_ns) / 1e9;
    double rate = secs > 0 ? (double)done / secs : 0;
    char d[32], t[32];
    cli_format_bytes((double)done, d, sizeof d);
    if (total && done <= total) {
        cli_format_bytes((double)total, t, sizeof t);
        double eta = rate > 0 ? (double)(total - done) / rate : 0;
        fprintf(stderr, "\r%s: %s of %s (%.0f%%), %.1f MB/s, ETA %.0f s      ", p->what, d, t,
                100.0 * (double)done / (double)total, rate / 1e6, eta);
    } else {
        fprintf(stderr, "\r%s: %s, %.1f MB/s      ", p->what, d, rate / 1e6);
    }
}

static void draw_replay(const cli_progress *p, int64_t *first_at, int64_t *first_ns)
{
    int64_t at = __atomic_load_n(p->replay_at, __ATOMIC_RELAXED);
    if (!at)
        return;
    if (!*first_at) {
        *first_at = at;
        *first_ns = rd_mono_ns();
    }
    char when[32];
    rd_time_format(at, when, sizeof when);
    if (!p->replay_target) {
        fprintf(stderr, "\rreplaying WAL: at %s, to the end of the archive      ", when);
        return;
    }
    int64_t left = p->replay_target - at;
    double secs = (double)(rd_mono_ns() - *first_ns) / 1e9;
    double speed = secs > 1 ? (double)(at - *first_at) / secs : 0;   /* history s per s */
    if (speed > 0 && left > 0)
        fprintf(stderr, "\rreplaying WAL: at %s, %lld s of history to the target, ETA %.0f s"
                "      ", when, (long long)left, (double)left / speed);
    else
        fprintf(stderr, "\rreplaying WAL: at %s, %lld s of history to the target      ", when,
                (long long)(left > 0 ? left : 0));
}

static void *ticker(void *arg)
{
    cli_progress *p = arg;
    int64_t start = rd_mono_ns(), first_at = 0, first_ns = 0;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &until);
        if (p->stop)
            break;
        if (p->replay_at && __atomic_load_n(p->replay_at, __ATOMIC_RELAXED))
            draw_replay(p, &first_at, &first_ns);
        else if (p->bytes)
            draw_bytes(p, start);
        fflush(stderr);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cli_progress *cli_progress_start(const cli_ctx *ctx, const char *what,
                                 const repo_progress *bytes, const int64_t *replay_at,
                                 int64_t replay_target)
{
    if (!ctx->progress)
        return NULL;
    cli_progress *p = rd_calloc(1, sizeof *p);
    p->what = what;
    p->bytes = bytes;
    p->replay_at = replay_at;
    p->replay_target = replay_target;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, ticker, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    return p;
}

void cli_progress_stop(cli_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
