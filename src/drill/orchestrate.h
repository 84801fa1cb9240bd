/* What the files of `drill run` share (run.c, sandbox.c, child.c, journal.c,
 * scenario_*.c); not part of src/drill's interface (drill.h is).
 *
 * The pieces:
 *   - drill_sandbox: where the drill works. Ephemeral: a temporary directory
 *     with its own configuration, PostgreSQL cluster, repository and `radiant
 *     serve` (object store and WAL streaming). Otherwise: the main
 *     configuration, a source cluster and a bucket named by the caller, and
 *     only objects under the drill's prefix and a schema of the drill's own.
 *   - drill_journal: every write of both workloads (transactions into the
 *     cluster, uploads into the bucket) with its id, content hash, send and
 *     acknowledgement times, shared by the workload threads.
 *   - the stores (stores.c): the cluster and the bucket every drill writes
 *     to, whatever its scenario; the scenario breaks one of them, and the
 *     drill proves the other lost nothing.
 *   - drill_scenario: one fault and its recovery, a const table of functions
 *     (scenario_db.c, scenario_objects.c). AZ failure, region failure and
 *     security breach are new files filling the same table plus one line in
 *     run.c's list; the state machine does not change.
 */
#ifndef RD_DRILL_ORCHESTRATE_H
#define RD_DRILL_ORCHESTRATE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/buf.h"
#include "core/config.h"
#include "drill/drill.h"
#include "s3client/s3client.h"

/* ------------------------------------------------------------ interrupt -- */

/* Set by SIGINT/SIGTERM (run.c installs the handlers for the drill's life);
 * every wait of the drill polls it and gives up with -RD_EINTERNAL "interrupted". */
extern volatile sig_atomic_t drill_interrupted;
int drill_check_interrupt(void);
/* Sleeps ms milliseconds unless interrupted; -RD_EINTERNAL when interrupted. */
int drill_sleep_ms(int64_t ms);

/* ------------------------------------------------------------- sandbox -- */

typedef struct drill_sandbox {
    bool ephemeral;
    char *dir;                     /* ephemeral: /tmp/radiant-drill-XXXXXX; else NULL */
    char *config_path;             /* the configuration children get (absolute) */
    rd_config *cfg;                /* loaded from config_path (ephemeral), else borrowed */
    bool cfg_owned;
    int lock_fd;                   /* flock held for the drill's life (ephemeral) */
    pid_t serve_pid;               /* 0 when not started by the drill */
    char *log_path;                /* stderr of the radiant children */
    /* The object store. */
    char *endpoint;                /* http://127.0.0.1:PORT */
    char *bucket;
    char *prefix;                  /* "" ephemeral, "radiant-drill/ID/" otherwise */
    char *access_key, *secret_key;
    /* The protected cluster. */
    char *cluster;                 /* source cluster id */
    int cluster_port;
    char *schema;                  /* the drill's own schema in it */
    /* Recovery's leftovers (non-ephemeral: removed at teardown unless kept). */
    char *restored_cluster;
} drill_sandbox;

/* ----------------------------------------------------- child processes -- */

/* Runs `radiant --config CONFIG --output json ARGS...` (self is the binary,
 * CONFIG the sandbox's) as a child in its own process group, its pid recorded
 * in the sandbox; its stdout into *out (may be NULL), its stderr appended to
 * the sandbox's log (NULL: discarded). Waits at most timeout_s; on
 * interruption or timeout the child is terminated (SIGTERM, then SIGKILL
 * after 5 s). *status is its exit code (-1 when killed). Returns 0 when it
 * ran (whatever its exit code), -RD_E* otherwise. When the exit code is not
 * 0, rd_error() holds the child's last stderr line. */
int drill_child_run(const char *self, const drill_sandbox *sb, char *const args[],
                    int timeout_s, rd_buf *out, int *status);
/* Starts `radiant --config CONFIG ARGS...` in the background, output to the
 * sandbox's log; *pid set. */
int drill_child_spawn(const char *self, const drill_sandbox *sb, char *const args[], pid_t *pid);
/* drill_child_run with a 600 s timeout; an exit code other than 0 is
 * -RD_EIO (-RD_ENOENT for 4) naming the command; *doc (may be NULL) the
 * parsed stdout (caller decrefs). */
int drill_child_json(const char *self, const drill_sandbox *sb, char *const args[],
                     json_t **doc);
/* Appends pid to the sandbox's pids file (no-op outside an ephemeral
 * sandbox), so a later drill can stop what this one left running. */
void drill_sandbox_record_pid(const drill_sandbox *sb, pid_t pid);
/* SIGTERM, wait up to grace_s, then SIGKILL; reaps it. */
void drill_child_stop(pid_t pid, int grace_s);



#define DRILL_SANDBOX_GLOB "/tmp/radiant-drill-*"
#define DRILL_SANDBOX_TEMPLATE "/tmp/radiant-drill-XXXXXX"

/* Creates the ephemeral sandbox: directory, lock, configuration (the main
 * configuration's [targets] copied when main is not NULL), repository init
 * (a child `repo init`), owned by the run-as user when run as root. */
int drill_sandbox_create(drill_sandbox *sb, const rd_config *main, const char *self,
                         FILE *progress);
/* Starts `radiant serve` of the sandbox and waits until its S3 API answers. */
int drill_sandbox_start_serve(drill_sandbox *sb, const char *self);
/* Stops what the sandbox runs (serve by its pid, every PostgreSQL cluster
 * under its state directory with pg_ctl -m immediate) and removes it, unless
 * keep: then processes stay running and a file `kept` marks the directory. */
void drill_sandbox_teardown(drill_sandbox *sb, bool keep, FILE *progress);
/* Frees the strings (teardown first). */
void drill_sandbox_clear(drill_sandbox *sb);
/* Reclaims the sandboxes of drills that are gone (lock not held): stops
 * their PostgreSQL clusters by data directory and their serve by recorded
 * pid (only when /proc/PID/cmdline names that sandbox), then removes the
 * directory. Kept sandboxes are left alone unless include_kept. Returns how
 * many were reclaimed. Never touches a sandbox whose drill is alive. */
int drill_sandbox_reclaim(bool include_kept, FILE *progress);
/* A free loopback TCP port (bind port 0, read it, close). */
int drill_free_port(int *port);
/* An S3 client of the sandbox's bucket. */
int drill_sandbox_s3(const drill_sandbox *sb, s3_client **out);

/* ------------------------------------------------------------- journal -- */

enum drill_write_kind { DRILL_WRITE_DB, DRILL_WRITE_OBJECT };

typedef struct drill_write {
    enum drill_write_kind kind;
    int64_t id;                    /* DB row id, or object write number */
    char *key;                     /* object key; NULL for DB rows */
    char sha256[65];
    int64_t sent_us, ack_us;       /* ack_us 0: never acknowledged */
    bool faulted;                  /* its store is the one the scenario's fault hits */
    /* Set by the measurement. */
    int present;                   /* 1 present with its hash, 0 absent, 2 other hash; -1 unknown */
} drill_write;

typedef struct drill_journal {
    pthread_mutex_t mu;
    drill_write *w;
    size_t n, cap;
} drill_journal;

void drill_journal_init(drill_journal *j);
void drill_journal_free(drill_journal *j);
/* Appends a copy (key copied); returns its index. Thread-safe. */
size_t drill_journal_add(drill_journal *j, const drill_write *w);
/* Writes one JSON line per write (its store as "kind": "db" or "object",
 * and "faulted": whether the scenario's fault hit that store), then the events given (name, time) as
 * {"event": NAME, "time_us": T}; atomically. */
int drill_journal_save(drill_journal *j, const char *path, const char *const *event_names,
                       const int64_t *event_times, size_t n_events);

/* --------------------------------------------------------- the run state -- */

typedef struct drill_scenario drill_scenario;

typedef struct drill_ctx {
    const drill_scenario *sc;
    const char *self;              /* the radiant binary */
    drill_sandbox sb;
    unsigned stores;               /* DRILL_STORE_* in play: both in a sandbox, else
                                    * what --db-cluster-identifier/--bucket name */
    drill_result *r;
    drill_journal journal;
    FILE *progress;
    uint64_t rng;                  /* seeded: splitmix64 state */
    int duration_s;
    int pgbench_scale;             /* 0: none */

    /* Times (wall clock, us). */
    int64_t workload_start_us, inject_at_us;
    int64_t injected_us, detected_us, recovered_us;
    int64_t restore_point_us;      /* db: the second restored to; 0 when none */

    /* The workload: threads run until stop is set or the duration is over. */
    volatile int workload_stop;
    pthread_t db_thread, obj_thread;
    bool db_running, obj_running;
    pthread_mutex_t obj_mu;        /* held by each upload; taken by injection */
    s3_client *s3;
    int64_t next_object;           /* write number, under obj_mu */
    char *db_error, *obj_error;    /* why a workload thread stopped early */

    /* The recovery: what the runbook produced. */
    char baseline_digest[65];      /* db: digest of the table the fault drops */
    int64_t fault_rows;            /* db: rows deleted; objects: objects deleted */
    json_t *runbook_run;           /* the RUN document (runbook.h), or NULL */
    char *recovered_endpoint;      /* db: the restored cluster's port as text */
    int recovered_port;
} drill_ctx;

/* Seeded randomness (splitmix64): the same seed gives the same workload
 * payloads, keys and injection moment. */
uint64_t drill_rand(drill_ctx *c);
/* Progress line: "[drill] phase: message". */
void drill_say(drill_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Workload threads (journal.c), one per store in c->stores. The DB writer
 * inserts into SCHEMA.journal of the source cluster; the object writer
 * uploads under PREFIX "data/". */
int drill_workload_start(drill_ctx *c);
/* Waits for the threads; stop_now ends them at once, else at the end of
 * the duration. */
void drill_workload_join(drill_ctx *c, bool stop_now);
/* One upload of seeded content to PREFIX+key, journaled (thread-safe). A
 * workload upload after the injection of a fault on the object store goes
 * to live/ instead of data/. */
int drill_object_put(drill_ctx *c, const char *key, uint64_t *rng, bool workload);
/* A workload key: "data/obj-NNN", skewed to a few hot keys. */
void drill_object_key(uint64_t *rng, char *out, size_t len);

/* The stores: the protected cluster and the versioned bucket. */
#define DRILL_STORE_DB 0x1u
#define DRILL_STORE_OBJECTS 0x2u

/* stores.c: what every drill does with both stores, whatever the scenario.
 * Ephemeral: creates the sandbox's cluster drill-source (serve runs). */
int drill_stores_start(drill_ctx *c);
/* The drill's schema with its journal table in the cluster (when in play). */
int drill_stores_baseline(drill_ctx *c);
/* Ephemeral: the cluster's base backup (after the scenario's baseline, so
 * that it holds what the scenario loaded). */
int drill_stores_base_backup(drill_ctx *c);
/* The scenario's measure, then the store the fault did not touch against
 * the ORIGINAL system: every acknowledged write there with its hash, its
 * lost writes and mismatches counted into the result; per-store
 * observations. */
int drill_stores_measure(drill_ctx *c);
/* Outside a sandbox: the drill's schema and objects under its prefix go. */
void drill_stores_cleanup(drill_ctx *c);
/* A connection to the source cluster, -RD_ENET naming it. */
int drill_connect_source(drill_ctx *c, PGconn **conn);
/* Reads the drill's journal table over conn (what names the cluster in
 * errors) and sets present on every DB write of the journal: 0 missing,
 * 1 with its hash, 2 with another; *unknown counts rows no write names. */
int drill_db_mark_present(drill_ctx *c, PGconn *conn, const char *what, uint64_t *unknown);

/* One fault and its recovery. Every function returns 0 or -RD_E* with
 * rd_error() set; run.c turns a failure into the report's reason. */
struct drill_scenario {
    const char *name;              /* the CLI's and the report's: "db-corruption" */
    const char *summary;
    unsigned store;                /* DRILL_STORE_*: the one the fault breaks (required;
                                    * the other runs its workload too and is checked
                                    * for zero loss by stores.c) */
    const char *runbook;           /* the runbook recovery runs */
    /* baseline: tables, first objects; before the workload (the drill's
     * schema and journal table exist; the base backup follows) */
    int (*baseline)(drill_ctx *c);
    /* the fault, at c->inject_at_us; sets c->injected_us */
    int (*inject)(drill_ctx *c);
    /* notices the fault the way monitoring would; sets c->detected_us */
    int (*detect)(drill_ctx *c);
    /* anything the runbook needs ready (db: the restore point archived) */
    int (*before_recovery)(drill_ctx *c);
    /* the runbook's arguments after "runbook run NAME" (NULL-terminated, new) */
    char **(*runbook_args)(drill_ctx *c);
    /* a verified read and an accepted write on the recovered system; sets
     * c->recovered_us */
    int (*verify)(drill_ctx *c);
    /* compares the journal with the recovered system: fills the result's
     * counts, RPO and observations, ticks the checklist items it verified */
    int (*measure)(drill_ctx *c);
    /* removes what the scenario made outside the sandbox beyond the drill's
     * schema and prefix, which stores.c removes (non-ephemeral) */
    void (*cleanup)(drill_ctx *c);
};

extern const drill_scenario drill_scenario_db;
extern const drill_scenario drill_scenario_objects;

/* libpq helpers for the scenarios. */
PGconn *drill_pg_connect(int port, char *err, size_t errlen);
/* Runs sql (no result needed); -RD_ENET with the server's message. */
int drill_pg_exec(PGconn *conn, const char *sql);

void drill_sha256_hex(const void *data, size_t len, char out[65]);

#endif
