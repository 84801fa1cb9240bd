/* Disaster-recovery drills (the guide's "Quarterly DR Drill" and "DR Test
 * Checklist"): what a drill measured, how it compares with the recovery
 * objectives of [targets], the reports a person reads (JSON, Markdown, a
 * self-contained HTML page with a timeline) and the history kept in the
 * catalog.
 *
 * The orchestrator (sandbox, workload, fault injection, runbooks) fills a
 * drill_result through the functions below, calls drill_evaluate() once the
 * recovery is over, then drill_save() and drill_report_write(). Nothing here
 * knows a scenario: a scenario is a name, its timeline, its runbook steps, its
 * measurements and the checklist items it really verified, so database
 * corruption, AZ failure, region failure and security breach all fit the same
 * record. */
#ifndef RD_DRILL_H
#define RD_DRILL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/catalog.h"
#include "core/config.h"

/* A metric that was not measured (recovery never completed) is negative. */
#define DRILL_UNMEASURED (-1.0)

/* Defaults when [targets] or one of its keys is absent: the guide's
 * "Recovery Objectives" table. */
#define DRILL_DEFAULT_RTO_TARGET_S (60 * 60)
#define DRILL_DEFAULT_RTO_MAXIMUM_S (4 * 60 * 60)
#define DRILL_DEFAULT_RPO_TARGET_S (5 * 60)
#define DRILL_DEFAULT_RPO_MAXIMUM_S (60 * 60)

enum drill_event_kind {
    DRILL_EV_INJECTION,     /* the fault was injected: RTO and RPO count from here */
    DRILL_EV_DETECTION,     /* monitoring (or the operator) noticed */
    DRILL_EV_STEP_START,    /* a runbook step began (step names it) */
    DRILL_EV_STEP_END,
    DRILL_EV_RECOVERED,     /* a verified read answered and a write was accepted */
    DRILL_EV_OTHER,
};

enum drill_step_status { DRILL_STEP_OK, DRILL_STEP_FAILED, DRILL_STEP_SKIPPED };

/* Ordered from best to worst so that the overall verdict is the maximum. */
enum drill_verdict { DRILL_WITHIN_TARGET, DRILL_WITHIN_MAXIMUM, DRILL_FAILED };

/* The guide's DR test checklist, in its order. */
enum drill_check {
    DRILL_CHECK_PITR,               /* Database point-in-time recovery tested */
    DRILL_CHECK_S3_RECOVERY,        /* S3 object recovery tested */
    DRILL_CHECK_SECRET_ROTATION,    /* Secret rotation tested */
    DRILL_CHECK_LAMBDA_ROLLBACK,    /* Lambda rollback tested */
    DRILL_CHECK_DNS_FAILOVER,       /* DNS failover tested */
    DRILL_CHECK_COMMUNICATION,      /* Communication plan executed */
    DRILL_CHECK_RECOVERY_TIME,      /* Recovery time recorded */
    DRILL_CHECK_POSTMORTEM,         /* Post-mortem completed */
    DRILL_CHECK_COUNT
};

typedef struct drill_targets {
    int64_t rto_target_s, rto_maximum_s;
    int64_t rpo_target_s, rpo_maximum_s;
} drill_targets;

typedef struct drill_event {
    enum drill_event_kind kind;
    int64_t time_us;            /* wall clock, microseconds since the epoch */
    char *label;
    char *step;                 /* the step's name for step-start/step-end, else NULL */
} drill_event;

typedef struct drill_step {
    char *name;
    int64_t start_us, end_us;   /* end_us 0: the step never ended */
    enum drill_step_status status;
    char *message;              /* why it failed or was skipped; may be NULL */
} drill_step;

typedef struct drill_check_item {
    bool verified;
    char *note;                 /* what verified it, or why it was not */
} drill_check_item;

/* A scenario-specific measurement the report shows as it is ("old access key
 * rejected": "yes", "replica lag at failover": "0.4 s"). */
typedef struct drill_observation {
    char *name;
    char *value;
} drill_observation;

/* Owns every string and array it points to; drill_result_free releases all. */
typedef struct drill_result {
    char *id;                   /* drill-YYYYMMDD-HHMMSS-xxxx */
    char *scenario;             /* "database-corruption", "az-failure", ... */
    uint64_t seed;              /* of the workload and the fault, to replay a drill */
    bool ephemeral;             /* ran in a throw-away sandbox */
    int64_t started_us, finished_us;

    drill_event *events;
    size_t n_events;
    drill_step *steps;
    size_t n_steps;
    drill_observation *observations;
    size_t n_observations;

    /* Measurements, set by the orchestrator. */
    bool recovered;             /* the recovered system answered a verified read and took a write */
    double rto_s;               /* injection -> recovered; DRILL_UNMEASURED when not recovered */
    double rpo_s;               /* injection -> newest acknowledged write present afterwards */
    uint64_t writes_acknowledged;
    uint64_t writes_lost;       /* acknowledged, should survive, missing */
    uint64_t writes_extra;      /* present but should not be (after the restore point, unacknowledged) */
    uint64_t integrity_mismatches;  /* present with another content hash */
    char *failure;              /* the orchestrator's reason the recovery failed, or NULL */

    drill_check_item checklist[DRILL_CHECK_COUNT];

    /* Set by drill_evaluate(). */
    drill_targets targets;
    enum drill_verdict rto_verdict, rpo_verdict, verdict;
    char *failure_reason;       /* NULL unless verdict is DRILL_FAILED */
} drill_result;

/* One row of the history. */
typedef struct drill_summary {
    char *id;
    char *scenario;
    int64_t started_us, finished_us;
    enum drill_verdict verdict;
    double rto_s, rpo_s;        /* DRILL_UNMEASURED when not measured */
    uint64_t lost;
} drill_summary;

typedef struct drill_report_paths {
    char *json, *markdown, *html;
} drill_report_paths;

/* ------------------------------------------------------------- names -- */

const char *drill_event_kind_name(enum drill_event_kind k);       /* "injection", "step-start" */
const char *drill_step_status_name(enum drill_step_status s);     /* "ok", "failed", "skipped" */
const char *drill_verdict_name(enum drill_verdict v);             /* "within-target", ... */
const char *drill_verdict_title(enum drill_verdict v);            /* "WITHIN TARGET", ... */
const char *drill_check_title(enum drill_check c);                /* the guide's wording */
int drill_event_kind_parse(const char *s);                        /* -1 when unknown */
int drill_step_status_parse(const char *s);
int drill_verdict_parse(const char *s);

/* ------------------------------------------------------------ result -- */

/* A new result with a fresh id from started_us (UTC) and 4 random hex digits. */
drill_result *drill_result_new(const char *scenario, uint64_t seed, bool ephemeral,
                               int64_t started_us);
void drill_result_free(drill_result *r);

void drill_result_add_event(drill_result *r, enum drill_event_kind kind, int64_t time_us,
                            const char *label);
/* A runbook step begins; adds the step-start event and returns the step's index. */
size_t drill_step_begin(drill_result *r, const char *name, int64_t time_us);
/* Ends step idx with its status (message may be NULL); adds the step-end event. */
void drill_step_end(drill_result *r, size_t idx, int64_t time_us,
                    enum drill_step_status status, const char *message);
/* A step the runbook did not run (an earlier one failed, or the scenario skips it). */
void drill_step_skip(drill_result *r, const char *name, int64_t time_us, const char *reason);
void drill_result_observe(drill_result *r, const char *name, const char *value);
/* Ticks a checklist item; call only once the drill really verified it. The
 * note says how ("restored to 10:30:00 and every journaled row matched"). */
void drill_result_check(drill_result *r, enum drill_check item, const char *note);
/* Records that the recovery failed and why (the first reason given is kept). */
void drill_result_fail(drill_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ----------------------------------------------------------- verdict -- */

/* [targets] of the configuration (cfg may be NULL), each absent key from the
 * guide's table. -RD_ECONFIG (file:line) when a target exceeds its maximum. */
int drill_targets_from_config(const rd_config *cfg, drill_targets *out);
void drill_targets_default(drill_targets *out);

/* One metric: at or under target, at or under maximum, else (or unmeasured)
 * failed. Pure. */
enum drill_verdict drill_verdict(double value_s, int64_t target_s, int64_t maximum_s);

/* Judges r against t: per-metric and overall verdicts (overall is the worst)
 * and the reason of a failure. A recovery that did not complete, a failed
 * runbook step, a lost write, a write that should not be there and an
 * integrity mismatch each make the drill FAILED whatever its times; a failed
 * recovery also unticks the checklist items that depend on it. Puts the
 * timeline in time order (stable). Idempotent. */
void drill_evaluate(drill_result *r, const drill_targets *t);

/* 0 for a drill that passed (within target or maximum); -RD_ECORRUPT with
 * "drill ID FAILED: reason" otherwise, so `drill run` exits non-zero (6, as
 * `repo check` does when verification fails) after printing its report. */
int drill_result_status(const drill_result *r);

/* ----------------------------------------------------------- reports -- */

/* The report as JSON (field names in docs/cli.md, "radiant drill"). *out is new. */
int drill_report_json(const drill_result *r, json_t **out);
/* Reads a report back (for `drill report` from the catalog) and re-judges it
 * against the targets it records, so a stored report can never claim a pass
 * its own measurements contradict. -RD_ECORRUPT naming the bad field. */
int drill_result_from_json(const json_t *doc, drill_result **out);
int drill_report_markdown(const drill_result *r, rd_buf *out);
/* One self-contained page: inline CSS and SVG, no script, no external
 * resource; every text HTML-escaped. The verdict is #verdict, the timeline
 * svg#timeline with one rect.step per runbook step. */
int drill_report_html(const drill_result *r, rd_buf *out);
/* Writes report.json, report.md and report.html into dir (created when
 * missing), each atomically. paths may be NULL; else free with
 * drill_report_paths_free. -RD_EUSAGE when dir is not a directory, -RD_EIO
 * when it cannot be written; the message names the directory. */
int drill_report_write(const drill_result *r, const char *dir, drill_report_paths *paths);
void drill_report_paths_free(drill_report_paths *p);

/* ----------------------------------------------------------- history -- */

/* Records an evaluated result in the catalog (table drills, migration 5).
 * -RD_EEXIST when its id is already recorded. */
int drill_save(rd_catalog *cat, const drill_result *r);
/* Drills newest first, of one scenario (NULL: all), at most limit (0: all). */
int drill_list(rd_catalog *cat, const char *scenario, size_t limit, drill_summary **out,
               size_t *n);
void drill_summaries_free(drill_summary *s, size_t n);
/* The stored JSON report of id (caller frees). -RD_ENOENT when unknown. */
int drill_get(rd_catalog *cat, const char *id, char **json);

/* Trend of a metric over runs given oldest first: "improving", "worsening",
 * "steady", or "unknown" with fewer than two measured runs. The newest run
 * is compared with the mean of the ones before it; 5% either way is steady. */
const char *drill_trend(const double *values, size_t n);

/* --------------------------------------------------------------- run -- */

/* `radiant drill run` (run.c): a fault injected into a system under a
 * journaled workload, recovered through a runbook, measured against the
 * journal. See run.c for the state machine. */
typedef struct drill_run_options {
    const char *scenario;         /* drill_scenario_name() */
    const rd_config *cfg;         /* the main configuration (required) */
    const char *config_path;      /* its path */
    const char *self;             /* the radiant binary, for the children */
    bool ephemeral;               /* a sandbox of its own */
    bool keep;                    /* ephemeral: leave the sandbox running */
    uint64_t seed;
    int duration_s;               /* of the workload */
    const char *report_dir;       /* NULL: STATE/drills/ID of cfg */
    const char *db_cluster;       /* not ephemeral: the source cluster */
    const char *bucket;           /* not ephemeral: the bucket */
    int pgbench_scale;            /* ephemeral db: pgbench -i -s N before the base backup */
    FILE *progress;               /* a line per phase; may be NULL */
} drill_run_options;

#define DRILL_DEFAULT_DURATION_S 20

/* The i-th scenario `drill run` knows, in the order help lists them; NULL
 * past the last. */
const char *drill_scenario_name(size_t i);
/* Checks what can be checked before anything is built (scenario, the
 * non-ephemeral cluster or bucket, the report directory): -RD_EUSAGE,
 * -RD_ENOENT (4) or -RD_EIO naming the culprit. */
int drill_run_check(const drill_run_options *o);
/* Runs the drill. Returns 0 with *out (evaluated, saved in cfg's catalog,
 * its reports and journal.jsonl written to *report_dir, which is new) once a
 * drill ran, passed or FAILED (drill_result_status tells); -RD_E* without a
 * result when it could not start or was interrupted (SIGINT, SIGTERM: then
 * everything it built is removed and nothing is recorded). */
int drill_run(const drill_run_options *o, drill_result **out, char **report_dir);
/* The signal that interrupted the last drill_run, 0 when none. */
int drill_was_interrupted(void);
/* Stops and removes the sandboxes of drills that are no longer running,
 * kept ones included (`radiant drill cleanup`); the number removed. */
int drill_cleanup(FILE *progress);

#endif
