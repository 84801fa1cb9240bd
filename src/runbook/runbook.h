/* Runbooks (dr-guide "Recovery Procedures"): recovery written down as ordered,
 * timed steps that radiant executes itself, so that an operator at 3 a.m., a
 * quarterly drill and a test all run the same procedure and get the same
 * record of it. Prefix rb_.
 *
 * A runbook is a const table: a name, a summary, the parameters it takes
 * (flags such as --source-db-cluster-identifier, parsed here so that a new
 * runbook needs no change in the CLI), and its steps. Running it gives an
 * rb_run: each step's wall-clock start and end, its monotonic duration, its
 * result code and a one-line message, and the named outputs steps set
 * (DBClusterIdentifier, Endpoint, Port, ...). The first failing step stops
 * the run; the steps after it are recorded as skipped.
 *
 * Adding a runbook (object-recovery, AZ failover, region failover, security
 * breach...) is one file defining a `const rb_runbook` plus one line in
 * registry.c; the engine does not change. Steps keep what they share in the
 * runbook's own state (state_size bytes), and `finish` releases it.
 */
#ifndef RD_RUNBOOK_H
#define RD_RUNBOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* ----------------------------------------------------------- arguments -- */

/* A parameter of a runbook: --NAME VALUE, or --NAME alone when value is NULL. */
typedef struct rb_param {
    const char *name;                /* without "--": "source-db-cluster-identifier" */
    const char *value;               /* placeholder for help ("ID", "TIME"); NULL: a flag */
    const char *help;                /* one line */
    bool required;
    bool empty_ok;                   /* "" is a value ("--prefix ''": the whole bucket) */
} rb_param;

typedef struct rb_arg {
    char *name;
    char *value;                     /* "" for a flag */
} rb_arg;

/* The arguments of one run, by parameter name. Owns its strings. */
typedef struct rb_args {
    rb_arg *items;
    size_t n;
} rb_args;

void rb_args_clear(rb_args *a);
/* Adds name=value (value NULL for a flag); -RD_EUSAGE when given twice. */
int rb_args_set(rb_args *a, const char *name, const char *value);
/* The value of a parameter, "" for a flag given, NULL when absent. */
const char *rb_args_get(const rb_args *a, const char *name);

/* --------------------------------------------------------------- steps -- */

typedef struct rb_run rb_run;
typedef struct rb_runbook rb_runbook;

/* What a step function sees. */
typedef struct rb_context {
    const rb_runbook *runbook;
    const rd_config *cfg;            /* NULL unless RB_NEEDS_CONFIG (or RB_OPTIONAL_CONFIG
                                        and the file exists) */
    const char *config_path;         /* absolute when cfg (restore_command names it), else
                                        the path looked at, for messages; may be NULL */
    const rb_args *args;             /* checked by rb_args_check */
    void *state;                     /* runbook->state_size zeroed bytes, shared by its steps */
    rb_run *run;                     /* the record being written */
    size_t step;                     /* index of the running step */
} rb_context;

typedef struct rb_step {
    const char *name;                /* short, stable: "resolve", "verify" */
    const char *description;         /* one line for people */
    /* 0 or -RD_E* with rd_error() set; the error becomes the step's message. */
    int (*run)(rb_context *ctx);
} rb_step;

/* Flags of a runbook. */
#define RB_NEEDS_CONFIG 0x1u         /* steps use ctx->cfg */
#define RB_POSTGRES 0x2u             /* PostgreSQL work: run as [radiant] run-as (root drops) */
#define RB_OPTIONAL_CONFIG 0x4u      /* ctx->cfg when the configuration file exists, else
                                        NULL (an invalid file is still an error); work that
                                        may target another machine's services */

struct rb_runbook {
    const char *name;                /* "database-recovery" */
    const char *summary;             /* one line, for `radiant runbook list` */
    const rb_param *params;          /* terminated by a NULL name; may be NULL */
    const rb_step *steps;
    size_t n_steps;
    unsigned flags;                  /* RB_* */
    size_t state_size;               /* bytes of ctx->state */
    /* Optional: checks argument values before anything runs (formats, flags
     * that exclude each other); -RD_EUSAGE with a message naming the flag. */
    int (*check)(const rb_args *args);
    /* Optional: called once after the last step whatever happened (ctx->run
     * is complete but for its end time): records the outcome where the
     * runbook wants it and releases what the steps left in ctx->state. */
    void (*finish)(rb_context *ctx);
};

/* The current step's one-line message (newlines become spaces). */
void rb_message(rb_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets (or replaces) a named output of the run. */
void rb_output_str(rb_context *ctx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rb_output_int(rb_context *ctx, const char *name, int64_t value);

/* ---------------------------------------------------------------- runs -- */

enum rb_status { RB_PENDING, RB_RUNNING, RB_OK, RB_FAILED, RB_SKIPPED };

typedef struct rb_step_result {
    const char *name;                /* the runbook table's (static) */
    const char *description;
    enum rb_status status;
    int64_t start_us, end_us;        /* rd_clock_now_us(); 0 when not run */
    int64_t duration_ns;             /* monotonic (rd_mono_ns), 0 when not run */
    int rc;                          /* 0 or -RD_E* */
    char *message;                   /* one line, owned; "" when none */
} rb_step_result;

typedef struct rb_output {
    char *name;
    char *value;
    bool number;                     /* value is an integer: a JSON number */
} rb_output;

struct rb_run {
    const char *runbook;             /* name (static) */
    enum rb_status status;           /* RB_OK or RB_FAILED once done */
    int64_t start_us, end_us;
    int64_t duration_ns;
    rb_step_result *steps;           /* n_steps, in the runbook's order */
    size_t n_steps;
    int rc;                          /* 0 or the failing step's -RD_E* */
    long failed_step;                /* index, -1 when none failed */
    char *error;                     /* the failing step's message, NULL when ok */
    rb_output *outputs;              /* in the order first set */
    size_t n_outputs;
};

void rb_run_clear(rb_run *r);
/* A named output's value, NULL when no step set it. */
const char *rb_run_output(const rb_run *r, const char *name);
/* "ok", "failed", "skipped", "pending", "running". */
const char *rb_status_name(enum rb_status s);

/* {"Runbook", "Status": "succeeded"|"failed", "Start", "End", "Seconds",
 *  "Steps": [{"Name", "Description", "Start", "End", "Seconds",
 *             "Status": "ok"|"failed"|"skipped", "Message"}],
 *  "Outputs": {NAME: VALUE}, "Error": {"Step", "Message", "Code", "Exit"}}
 * Times are ISO 8601 UTC with milliseconds (null for a step not run); Error
 * only when failed. New reference, for the CLI and drill reports. */
json_t *rb_run_json(const rb_run *r);

/* Progress, as each step starts and ends (and the run itself), so that the
 * CLI can print a line and a drill timestamp each step. step is the index
 * for the STEP events, 0 otherwise; run is the record so far. */
enum rb_event { RB_EVENT_RUN_START, RB_EVENT_STEP_START, RB_EVENT_STEP_END, RB_EVENT_RUN_END };
typedef void (*rb_observer)(void *arg, enum rb_event ev, const rb_run *run, size_t step);

typedef struct rb_env {
    const rd_config *cfg;            /* required with RB_NEEDS_CONFIG */
    const char *config_path;
    rb_observer observer;            /* optional */
    void *observer_arg;
} rb_env;

/* Checks args against the runbook: every name a parameter, flags without a
 * value and the others with one, required ones present, then rb->check.
 * -RD_EUSAGE naming the flag. */
int rb_args_check(const rb_runbook *rb, const rb_args *args);
/* Parses "--name value", "--name=value" and "--flag" into out (cleared
 * first), then rb_args_check. */
int rb_args_parse(const rb_runbook *rb, int argc, char *const argv[], rb_args *out);

/* Runs the steps in order and fills *out (cleared first; rb_run_clear it
 * afterwards in every case). Returns out->rc: 0, or the first failing step's
 * code with rd_error() "RUNBOOK, step NAME: message". args must have passed
 * rb_args_check. A runbook with RB_NEEDS_CONFIG and no env->cfg runs no step:
 * -RD_EINTERNAL. */
int rb_execute(const rb_runbook *rb, const rb_args *args, const rb_env *env, rb_run *out);

/* ------------------------------------------------------------ registry -- */

/* The runbooks radiant ships, by name; NULL when unknown. */
const rb_runbook *rb_find(const char *name);
/* All of them in the order `radiant runbook list` shows; *n set. */
const rb_runbook *const *rb_list(size_t *n);

#endif
