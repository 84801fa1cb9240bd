/* Building a drill_result as a drill runs: events, runbook steps, observations
 * and checklist ticks, each copied so the orchestrator can pass temporaries. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "drill/drill.h"

static const char *const event_names[] = { "injection", "detection", "step-start",
                                           "step-end", "recovered", "other" };
static const char *const status_names[] = { "ok", "failed", "skipped" };
static const char *const verdict_names[] = { "within-target", "within-maximum", "failed" };
static const char *const verdict_titles[] = { "WITHIN TARGET", "WITHIN MAXIMUM", "FAILED" };
static const char *const check_titles[] = {
    "Database point-in-time recovery tested",
    "S3 object recovery tested",
    "Secret rotation tested",
    "Lambda rollback tested",
    "DNS failover tested",
    "Communication plan executed",
    "Recovery time recorded",
    "Post-mortem completed",
};

static int parse_name(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

#define N(a) (sizeof a / sizeof a[0])

const char *drill_event_kind_name(enum drill_event_kind k)
{
    return (size_t)k < N(event_names) ? event_names[k] : "other";
}
const char *drill_step_status_name(enum drill_step_status s)
{
    return (size_t)s < N(status_names) ? status_names[s] : "failed";
}
const char *drill_verdict_name(enum drill_verdict v)
{
    return (size_t)v < N(verdict_names) ? verdict_names[v] : "failed";
}
const char *drill_verdict_title(enum drill_verdict v)
{
    return (size_t)v < N(verdict_titles) ? verdict_titles[v] : "FAILED";
}
const char *drill_check_title(enum drill_check c)
{
    return (size_t)c < N(check_titles) ? check_titles[c] : "?";
}
int drill_event_kind_parse(const char *s) { return parse_name(event_names, N(event_names), s); }
int drill_step_status_parse(const char *s) { return parse_name(status_names, N(status_names), s); }
int drill_verdict_parse(const char *s) { return parse_name(verdict_names, N(verdict_names), s); }

static char *dup_or_null(const char *s) { return s ? rd_strdup(s) : NULL; }

drill_result *drill_result_new(const char *scenario, uint64_t seed, bool ephemeral,
                               int64_t started_us)
{
    drill_result *r = rd_calloc(1, sizeof *r);
    time_t secs = (time_t)(started_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    uint8_t rnd[2] = { 0, 0 };
    /* Two drills started in the same second stay apart; a failing CSPRNG
     * leaves zeros, and drill_save then refuses the duplicate. */
    (void)rd_random_bytes(rnd, sizeof rnd);
    r->id = rd_asprintf("drill-%04d%02d%02d-%02d%02d%02d-%02x%02x", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0],
                        rnd[1]);
    r->scenario = rd_strdup(scenario);
    r->seed = seed;
    r->ephemeral = ephemeral;
    r->started_us = started_us;
    r->finished_us = started_us;
    r->rto_s = DRILL_UNMEASURED;
    r->rpo_s = DRILL_UNMEASURED;
    drill_targets_default(&r->targets);
    r->verdict = r->rto_verdict = r->rpo_verdict = DRILL_FAILED;
    return r;
}

void drill_result_free(drill_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_events; i++) {
        free(r->events[i].label);
        free(r->events[i].step);
    }
    for (size_t i = 0; i < r->n_steps; i++) {
        free(r->steps[i].name);
        free(r->steps[i].message);
    }
    for (size_t i = 0; i < r->n_observations; i++) {
        free(r->observations[i].name);
        free(r->observations[i].value);
    }
    for (size_t i = 0; i < DRILL_CHECK_COUNT; i++)
        free(r->checklist[i].note);
    free(r->events);
    free(r->steps);
    free(r->observations);
    free(r->id);
    free(r->scenario);
    free(r->failure);
    free(r->failure_reason);
    free(r);
}

static void add_event(drill_result *r, enum drill_event_kind kind, int64_t time_us,
                      const char *label, const char *step)
{
    r->events = rd_realloc(r->events, (r->n_events + 1) * sizeof *r->events);
    r->events[r->n_events++] = (drill_event){ kind, time_us, rd_strdup(label ? label : ""),
                                              dup_or_null(step) };
    if (time_us > r->finished_us)
        r->finished_us = time_us;
}

void drill_result_add_event(drill_result *r, enum drill_event_kind kind, int64_t time_us,
                            const char *label)
{
    add_event(r, kind, time_us, label, NULL);
}

size_t drill_step_begin(drill_result *r, const char *name, int64_t time_us)
{
    r->steps = rd_realloc(r->steps, (r->n_steps + 1) * sizeof *r->steps);
    /* A step that never ends (the orchestrator died) is reported as failed. */
    r->steps[r->n_steps] = (drill_step){ rd_strdup(name), time_us, 0, DRILL_STEP_FAILED, NULL };
    char *label = rd_asprintf("%s started", name);
    add_event(r, DRILL_EV_STEP_START, time_us, label, name);
    free(label);
    return r->n_steps++;
}

void drill_step_end(drill_result *r, size_t idx, int64_t time_us,
                    enum drill_step_status status, const char *message)
{
    if (idx >= r->n_steps)
        return;
    drill_step *s = &r->steps[idx];
    s->end_us = time_us;
    s->status = status;
    free(s->message);
    s->message = dup_or_null(message);
    char *label = rd_asprintf("%s %s", s->name, drill_step_status_name(status));
    add_event(r, DRILL_EV_STEP_END, time_us, label, s->name);
    free(label);
}

void drill_step_skip(drill_result *r, const char *name, int64_t time_us, const char *reason)
{
    r->steps = rd_realloc(r->steps, (r->n_steps + 1) * sizeof *r->steps);
    r->steps[r->n_steps++] = (drill_step){ rd_strdup(name), time_us, time_us,
                                           DRILL_STEP_SKIPPED, dup_or_null(reason) };
}

void drill_result_observe(drill_result *r, const char *name, const char *value)
{
    r->observations = rd_realloc(r->observations,
                                 (r->n_observations + 1) * sizeof *r->observations);
    r->observations[r->n_observations++] = (drill_observation){ rd_strdup(name),
                                                                rd_strdup(value ? value : "") };
}

void drill_result_check(drill_result *r, enum drill_check item, const char *note)
{
    if ((size_t)item >= DRILL_CHECK_COUNT)
        return;
    r->checklist[item].verified = true;
    free(r->checklist[item].note);
    r->checklist[item].note = dup_or_null(note);
}

void drill_result_fail(drill_result *r, const char *fmt, ...)
{
    if (r->failure)
        return;   /* the first failure is the cause; later ones follow from it */
    va_list ap;
    va_start(ap, fmt);
    r->failure = rd_vasprintf(fmt, ap);
    va_end(ap);
}
