/* Recovery objectives ([targets], else the guide's table) and the verdicts a
 * drill gets against them. The rule that matters most lives here: a drill
 * whose recovery failed, or that lost or corrupted data, is FAILED whatever
 * its times were, and never ticks what it did not verify. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "drill/drill.h"
#include "drill/internal.h"

void drill_targets_default(drill_targets *out)
{
    out->rto_target_s = DRILL_DEFAULT_RTO_TARGET_S;
    out->rto_maximum_s = DRILL_DEFAULT_RTO_MAXIMUM_S;
    out->rpo_target_s = DRILL_DEFAULT_RPO_TARGET_S;
    out->rpo_maximum_s = DRILL_DEFAULT_RPO_MAXIMUM_S;
}

static int read_key(const rd_config *cfg, const rd_config_section *sec, const char *key,
                    int64_t *value)
{
    const char *text = sec ? rd_config_get(sec, key) : NULL;
    if (!text)
        return 0;
    /* The loader validated the value already; this guards configurations
     * built some other way. */
    if (rd_duration_parse(text, value) < 0)
        return rd_fail(RD_ECONFIG, "%s:%d: %s: expected a duration such as 90s, 5m, 1h, not "
                       "'%s'", rd_config_path(cfg), rd_config_line(sec, key), key, text);
    return 0;
}

static int check_order(const rd_config *cfg, const rd_config_section *sec, const char *what,
                       int64_t target, int64_t maximum)
{
    if (target <= maximum)
        return 0;
    char key[32], t[48], m[48];
    snprintf(key, sizeof key, "%s-target", what);
    drill_fmt_duration((double)target, t, sizeof t);
    drill_fmt_duration((double)maximum, m, sizeof m);
    /* When only one of the pair is set, the other is the guide's default;
     * saying so avoids a puzzling message about a key the file lacks. */
    char max_key[32];
    snprintf(max_key, sizeof max_key, "%s-maximum", what);
    bool max_default = !sec || !rd_config_get(sec, max_key);
    return rd_fail(RD_ECONFIG, "%s:%d: %s (%s) is longer than %s (%s%s)", rd_config_path(cfg),
                   sec ? rd_config_line(sec, key) : 0, key, t, max_key, m,
                   max_default ? ", the default" : "");
}

int drill_targets_from_config(const rd_config *cfg, drill_targets *out)
{
    drill_targets t;
    drill_targets_default(&t);
    const rd_config_section *sec = cfg ? rd_config_find(cfg, "targets", NULL) : NULL;
    int rc = 0;
    if (sec) {
        rc = read_key(cfg, sec, "rto-target", &t.rto_target_s);
        if (rc == 0)
            rc = read_key(cfg, sec, "rto-maximum", &t.rto_maximum_s);
        if (rc == 0)
            rc = read_key(cfg, sec, "rpo-target", &t.rpo_target_s);
        if (rc == 0)
            rc = read_key(cfg, sec, "rpo-maximum", &t.rpo_maximum_s);
        if (rc == 0)
            rc = check_order(cfg, sec, "rto", t.rto_target_s, t.rto_maximum_s);
        if (rc == 0)
            rc = check_order(cfg, sec, "rpo", t.rpo_target_s, t.rpo_maximum_s);
    }
    if (rc == 0)
        *out = t;
    return rc;
}

enum drill_verdict drill_verdict(double value_s, int64_t target_s, int64_t maximum_s)
{
    if (!(value_s >= 0) || !isfinite(value_s))   /* unmeasured or NaN */
        return DRILL_FAILED;
    if (value_s <= (double)target_s)
        return DRILL_WITHIN_TARGET;
    if (value_s <= (double)maximum_s)
        return DRILL_WITHIN_MAXIMUM;
    return DRILL_FAILED;
}

static void reason_add(rd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason_add(rd_buf *b, const char *fmt, ...)
{
    if (b->len)
        rd_buf_puts(b, "; ");
    va_list ap;
    va_start(ap, fmt);
    char *msg = rd_vasprintf(fmt, ap);
    va_end(ap);
    rd_buf_puts(b, msg);
    free(msg);
}

static void metric_reason(rd_buf *b, const char *name, double v, enum drill_verdict verdict,
                          int64_t maximum_s, bool recovered)
{
    if (verdict != DRILL_FAILED)
        return;
    if (!(v >= 0)) {
        /* A failed recovery already explains why nothing was measured. */
        if (recovered)
            reason_add(b, "%s was not measured", name);
        return;
    }
    char got[48], max[48];
    drill_fmt_duration(v, got, sizeof got);
    drill_fmt_duration((double)maximum_s, max, sizeof max);
    reason_add(b, "%s %s exceeds the maximum %s", name, got, max);
}

/* Checklist items that only a working recovery can verify. */
static bool needs_recovery(enum drill_check c)
{
    return c == DRILL_CHECK_PITR || c == DRILL_CHECK_S3_RECOVERY ||
           c == DRILL_CHECK_LAMBDA_ROLLBACK || c == DRILL_CHECK_DNS_FAILOVER;
}

static void untick(drill_result *r, enum drill_check c, const char *why)
{
    if (!r->checklist[c].verified)
        return;
    r->checklist[c].verified = false;
    free(r->checklist[c].note);
    r->checklist[c].note = rd_asprintf("not verified: %s", why);
}

/* Events recorded by several threads (workload, monitor, runbook) may
 * arrive slightly out of order; the reports read the timeline in time order.
 * Insertion sort: stable, and the list is nearly sorted already. */
static void sort_events(drill_result *r)
{
    for (size_t i = 1; i < r->n_events; i++) {
        drill_event e = r->events[i];
        size_t j = i;
        for (; j > 0 && r->events[j - 1].time_us > e.time_us; j--)
            r->events[j] = r->events[j - 1];
        r->events[j] = e;
    }
}

void drill_evaluate(drill_result *r, const drill_targets *t)
{
    sort_events(r);
    r->targets = *t;
    r->rto_verdict = drill_verdict(r->rto_s, t->rto_target_s, t->rto_maximum_s);
    r->rpo_verdict = drill_verdict(r->rpo_s, t->rpo_target_s, t->rpo_maximum_s);

    rd_buf why = RD_BUF_INIT;
    bool recovery_failed = !r->recovered || r->failure;
    if (r->failure)
        reason_add(&why, "%s", r->failure);
    else if (!r->recovered)
        reason_add(&why, "the recovered system never answered a verified read and accepted a "
                   "write");
    for (size_t i = 0; i < r->n_steps; i++) {
        const drill_step *s = &r->steps[i];
        if (s->status != DRILL_STEP_FAILED)
            continue;
        if (s->end_us == 0)
            reason_add(&why, "runbook step '%s' never finished", s->name);
        else
            reason_add(&why, "runbook step '%s' failed%s%s", s->name, s->message ? ": " : "",
                       s->message ? s->message : "");
    }
    bool data_failed = r->writes_lost || r->writes_extra || r->integrity_mismatches;
    if (r->writes_lost)
        reason_add(&why, "%llu acknowledged write%s lost", (unsigned long long)r->writes_lost,
                   r->writes_lost == 1 ? "" : "s");
    if (r->integrity_mismatches)
        reason_add(&why, "%llu write%s present with another content hash",
                   (unsigned long long)r->integrity_mismatches,
                   r->integrity_mismatches == 1 ? "" : "s");
    if (r->writes_extra)
        reason_add(&why, "%llu write%s present that should not be",
                   (unsigned long long)r->writes_extra, r->writes_extra == 1 ? "" : "s");
    metric_reason(&why, "RTO", r->rto_s, r->rto_verdict, t->rto_maximum_s, !recovery_failed);
    metric_reason(&why, "RPO", r->rpo_s, r->rpo_verdict, t->rpo_maximum_s, !recovery_failed);

    enum drill_verdict overall = r->rto_verdict > r->rpo_verdict ? r->rto_verdict
                                                                  : r->rpo_verdict;
    if (why.len)
        overall = DRILL_FAILED;
    r->verdict = overall;
    free(r->failure_reason);
    r->failure_reason = NULL;
    if (overall == DRILL_FAILED) {
        rd_buf_puts(&why, "");   /* NUL-terminates even when empty */
        r->failure_reason = why.len ? rd_strdup((const char *)why.data)
                                    : rd_strdup("the drill failed");
    }
    rd_buf_free(&why);

    if (recovery_failed || data_failed) {
        const char *cause = recovery_failed ? "the recovery failed" : "data was lost or altered";
        for (int c = 0; c < DRILL_CHECK_COUNT; c++)
            if (needs_recovery((enum drill_check)c))
                untick(r, (enum drill_check)c, cause);
    }
    if (!(r->rto_s >= 0) || recovery_failed)
        untick(r, DRILL_CHECK_RECOVERY_TIME, "no recovery time was measured");
}

int drill_result_status(const drill_result *r)
{
    if (r->verdict != DRILL_FAILED)
        return 0;
    return rd_fail(RD_ECORRUPT, "drill %s FAILED: %s", r->id,
                   r->failure_reason ? r->failure_reason : "the drill failed");
}

const char *drill_trend(const double *values, size_t n)
{
    double sum = 0, newest = -1;
    size_t used = 0;
    /* Unmeasured runs (failed recoveries) carry no time to compare. */
    for (size_t i = n; i-- > 0;) {
        if (!(values[i] >= 0))
            continue;
        if (newest < 0) {
            newest = values[i];
            continue;
        }
        sum += values[i];
        used++;
    }
    if (newest < 0 || used == 0)
        return "unknown";
    double mean = sum / (double)used;
    if (newest < mean * 0.95)
        return "improving";
    if (newest > mean * 1.05)
        return "worsening";
    return "steady";
}

/* --------------------------------------------------------------- helpers -- */

void drill_fmt_duration(double s, char *out, size_t len)
{
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(out, len, "not measured");
    } else if (s < 60) {
        snprintf(out, len, "%.1f s", s);
    } else if (s < 3600) {
        long long whole = (long long)llround(s);
        snprintf(out, len, "%lld min %02lld s", whole / 60, whole % 60);
    } else {
        long long whole = (long long)llround(s);
        long long h = whole / 3600, m = whole % 3600 / 60, sec = whole % 60;
        if (sec)
            snprintf(out, len, "%lld h %02lld min %02lld s", h, m, sec);
        else
            snprintf(out, len, "%lld h %02lld min", h, m);
    }
}

void drill_fmt_time_us(int64_t us, char *out, size_t len)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
}

int drill_parse_time_us(const char *text, int64_t *us)
{
    int64_t secs;
    if (!text || rd_time_parse(text, &secs) < 0)
        return -1;
    int64_t frac = 0;
    const char *dot = strchr(text, '.');
    if (dot) {
        int digits = 0;
        for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++) {
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
        }
        for (; digits < 6; digits++)
            frac *= 10;
    }
    *us = secs * 1000000 + frac;
    return 0;
}



