/* `radiant drill run`: the guide's Quarterly DR Drill ("Simulate failure
 * scenario, Execute recovery procedures, Measure RTO/RPO, Verify data
 * integrity, Record actual RTO/RPO") as one explicit state machine.
 *
 *        PREPARE ---> START ---> BASELINE ---> WORKLOAD ---> INJECT ---> DETECT
 *   (sandbox or    (serve of   (drill schema, (both:       (sleep to the  (sc->detect)
 *    main config,   the         sc->baseline,  DB and       seeded moment,     |
 *    reclaim;       sandbox,    base backup    object       sc->inject)        v
 *    the stores     its         of a sandbox)  threads,                    RECOVER
 *    in play)       cluster)                   journal)
 *                                                (sc->before_recovery, then the runbook
 *                                                 as a child: `radiant --config CONFIG
 *                                                 runbook run NAME ARGS --output json`,
 *                                                 its steps copied with their times)
 *                                                                              |
 *        TEARDOWN <--- REPORT <--- MEASURE <--- (workload ends) <--- VERIFY <--'
 *     (sc->cleanup,  (evaluate,  (sc->measure                     (sc->verify: a verified
 *      drill schema   journal,    against the                      read and an accepted
 *      and prefix,    reports,    journal, then                    write = recovered)
 *      sandbox        catalog)    the untouched
 *      stopped and                store against
 *      removed)                   the original)
 *
 *   Failure in any state from BASELINE on: the reason is recorded
 *   (drill_result_fail), the states up to MEASURE are skipped, REPORT and
 *   TEARDOWN still run: the drill is FAILED, never passed.
 *   Failure in PREPARE or START: no drill ran; TEARDOWN, then the error.
 *   SIGINT/SIGTERM in any state: TEARDOWN at once (the workload stopped,
 *   children terminated), nothing recorded, -RD_EINTERNAL "interrupted".
 *
 * Invariants:
 *   1. RTO and RPO count from c->injected_us, taken just before the fault's
 *      first statement or request.
 *   2. A drill that did not verify a read and a write on the recovered system
 *      has no RTO (DRILL_UNMEASURED) and is FAILED (drill_evaluate).
 *   3. Outside a sandbox nothing is written but the drill's schema, the
 *      restored cluster and objects under the drill's prefix; TEARDOWN removes
 *      them unless --keep.
 *   4. Both workloads (transactions and uploads) run from WORKLOAD to the end
 *      of VERIFY in every scenario whose stores are in play (a sandbox has
 *      both; outside one, what --db-cluster-identifier and --bucket name,
 *      the scenario's own store required); the store the fault did not touch
 *      is measured against the original system and must have lost nothing.
 *
 * A scenario is a drill_scenario table (orchestrate.h); the state machine
 * only calls its functions, so AZ failure, region failure and security breach
 * are new scenario files and one line in `scenarios` below. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "drill/internal.h"
#include "drill/orchestrate.h"
#include "pg/pg.h"
#include "runbook/runbook.h"

static const drill_scenario *const scenarios[] = {
    &drill_scenario_db,
    &drill_scenario_objects,
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

const char *drill_scenario_name(size_t i)
{
    return i < N_SCENARIOS ? scenarios[i]->name : NULL;
}

static const drill_scenario *find_scenario(const char *name)
{
    for (size_t i = 0; name && i < N_SCENARIOS; i++)
        if (strcmp(scenarios[i]->name, name) == 0)
            return scenarios[i];
    return NULL;
}

enum phase { P_PREPARE, P_START, P_BASELINE, P_WORKLOAD, P_INJECT, P_DETECT, P_RECOVER,
             P_VERIFY, P_MEASURE, P_REPORT, P_TEARDOWN, P_DONE };

static const char *const phase_names[] = { "prepare", "start", "baseline", "workload",
                                           "inject", "detect", "recover", "verify",
                                           "measure", "report", "teardown", "done" };

/* ------------------------------------------------------------- checks -- */

/* The report directory must be a directory we can write, created if need be. */
static int check_report_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return rd_fail(RD_EUSAGE, "--report-dir %s is not a directory", dir);
    if (rd_fs_mkdir_p(dir, 0755) < 0)
        return rd_fail(RD_EIO, "cannot create the report directory %s: %s", dir, rd_error());
    char *probe = rd_asprintf("%s/.radiant-drill-probe-%d", dir, (int)getpid());
    int rc = rd_fs_write_atomic(probe, "", 0, 0644);
    if (rc < 0)
        rc = rd_fail(RD_EIO, "cannot write into the report directory %s: %s", dir,
                     strerror(errno));
    unlink(probe);
    free(probe);
    return rc;
}

static const rd_config_section *first_access_key(const rd_config *cfg)
{
    return rd_config_count(cfg, "access-key") ? rd_config_at(cfg, "access-key", 0) : NULL;
}

int drill_run_check(const drill_run_options *o)
{
    const drill_scenario *sc = find_scenario(o->scenario);
    if (!sc) {
        char list[256] = "";
        for (size_t i = 0; drill_scenario_name(i); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     drill_scenario_name(i));
        return rd_fail(RD_EUSAGE, "unknown drill scenario '%s'; the scenarios are: %s",
                       o->scenario ? o->scenario : "", list);
    }
    if (o->duration_s < 5 || o->duration_s > 3600)
        return rd_fail(RD_EUSAGE, "--duration must be 5 to 3600 seconds, not %d",
                       o->duration_s);
    if (o->pgbench_scale && (!o->ephemeral || sc->store != DRILL_STORE_DB))
        return rd_fail(RD_EUSAGE, "--scale fills the sandbox's own cluster: it needs "
                       "--ephemeral and a database scenario");
    if (o->report_dir) {
        int rc = check_report_dir(o->report_dir);
        if (rc < 0)
            return rc;
    }
    if (o->ephemeral)
        return 0;
    if (sc->store == DRILL_STORE_DB && !o->db_cluster)
        return rd_fail(RD_EUSAGE, "drill %s without --ephemeral needs "
                       "--db-cluster-identifier: the cluster to drill on (it is not harmed)",
                       sc->name);
    if (sc->store == DRILL_STORE_OBJECTS && !o->bucket)
        return rd_fail(RD_EUSAGE, "drill %s without --ephemeral needs --bucket: the bucket "
                       "to drill on (only objects under radiant-drill/ID/ are touched)",
                       sc->name);
    /* The other store, when named, must be as usable as the scenario's. */
    if (o->db_cluster) {
        rd_catalog *cat = NULL;
        pgc_cluster *c = NULL;
        int rc = pgc_catalog_open(o->cfg, &cat);
        if (rc == 0 && pgc_cluster_get(cat, o->db_cluster, &c) < 0)
            rc = rd_fail(RD_ENOENT, "DB cluster %s not found; see 'radiant db "
                         "describe-db-clusters' (or run the drill with --ephemeral)",
                         o->db_cluster);
        if (rc == 0 && strcmp(c->status, "available") != 0)
            rc = rd_fail(RD_EUSAGE, "DB cluster %s is %s, not available", o->db_cluster,
                         c->status);
        pgc_cluster_free(c);
        rd_catalog_close(cat);
        if (rc < 0)
            return rc;
    }
    if (o->bucket) {
        if (!rd_config_find(o->cfg, "bucket", o->bucket))
            return rd_fail(RD_ENOENT, "bucket %s is not a [bucket] of %s", o->bucket,
                           o->config_path);
        if (!rd_config_find(o->cfg, "objectstore", NULL) || !first_access_key(o->cfg))
            return rd_fail(RD_ECONFIG, "%s has no [objectstore] or no [access-key]: the drill "
                           "cannot reach bucket %s", o->config_path, o->bucket);
    }
    return 0;
}

/* ------------------------------------------------------------ signals -- */

static void on_signal(int sig) { drill_interrupted = sig; }

struct saved_signals {
    struct sigaction intr, term, pipe;
};

static void signals_install(struct saved_signals *s)
{
    drill_interrupted = 0;
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &s->intr);
    sigaction(SIGTERM, &sa, &s->term);
    struct sigaction ign = { 0 };
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &s->pipe);
}

static void signals_restore(const struct saved_signals *s)
{
    sigaction(SIGINT, &s->intr, NULL);
    sigaction(SIGTERM, &s->term, NULL);
    sigaction(SIGPIPE, &s->pipe, NULL);
}

/* ------------------------------------------------------------ prepare -- */

/* Not ephemeral: the main configuration, the named cluster and bucket. */
static int prepare_main(drill_ctx *c, const drill_run_options *o)
{
    drill_sandbox *sb = &c->sb;
    sb->ephemeral = false;
    sb->cfg = (rd_config *)o->cfg;
    char *abs = realpath(o->config_path, NULL);
    sb->config_path = abs ? abs : rd_strdup(o->config_path);
    sb->log_path = rd_strdup("/dev/null");
    sb->prefix = rd_asprintf("radiant-drill/%s/", c->r->id);
    if (o->db_cluster) {
        rd_catalog *cat = NULL;
        pgc_cluster *cl = NULL;
        int rc = pgc_catalog_open(o->cfg, &cat);
        if (rc == 0)
            rc = pgc_cluster_get(cat, o->db_cluster, &cl);
        if (rc == 0) {
            sb->cluster = rd_strdup(cl->id);
            sb->cluster_port = cl->port;
        }
        pgc_cluster_free(cl);
        rd_catalog_close(cat);
        if (rc < 0)
            return rc;
    }
    if (o->bucket) {
        const rd_config_section *os = rd_config_find(o->cfg, "objectstore", NULL);
        const rd_config_section *ak = first_access_key(o->cfg);
        const char *listen = os ? rd_config_get(os, "listen") : NULL;
        const char *file = ak ? rd_config_get(ak, "secret-access-key-file") : NULL;
        if (!listen || !file)
            return rd_fail(RD_ECONFIG, "%s: [objectstore] listen and [access-key] "
                           "secret-access-key-file are needed to reach bucket %s",
                           o->config_path, o->bucket);
        char *secret = NULL;
        int rc = rd_fs_read_secret(file, 4096, &secret);
        if (rc < 0)
            return rc;
        const char *colon = strrchr(listen, ':');
        const char *host = strncmp(listen, "0.0.0.0:", 8) == 0 ? "127.0.0.1" : NULL;
        sb->endpoint = host ? rd_asprintf("http://%s%s", host, colon)
                            : rd_asprintf("http://%s", listen);
        sb->bucket = rd_strdup(o->bucket);
        sb->access_key = rd_strdup(rd_config_section_name(ak));
        sb->secret_key = secret;
    }
    return 0;
}

static int phase_prepare(drill_ctx *c, const drill_run_options *o)
{
    int n = drill_sandbox_reclaim(false, c->progress);
    (void)n;
    c->sb.schema = rd_asprintf("radiant_%s", c->r->id);
    for (char *p = c->sb.schema; *p; p++)
        if (*p == '-')
            *p = '_';
    if (o->ephemeral) {
        c->stores = DRILL_STORE_DB | DRILL_STORE_OBJECTS;
        return drill_sandbox_create(&c->sb, o->cfg, c->self, c->progress);
    }
    /* Not invented: a store the configuration does not name is skipped. */
    c->stores = (o->db_cluster ? DRILL_STORE_DB : 0) | (o->bucket ? DRILL_STORE_OBJECTS : 0);
    if (!o->db_cluster)
        drill_result_observe(c->r, "database workload", "skipped: no "
                             "--db-cluster-identifier given, no cluster to write to");
    if (!o->bucket)
        drill_result_observe(c->r, "object workload", "skipped: no --bucket given, no "
                             "bucket to upload to");
    return prepare_main(c, o);
}

/* ------------------------------------------------------------ recover -- */

/* The runbook's RUN document: its steps become the drill's, with their own
 * times, so the report's timeline shows where recovery time went. */
static void copy_steps(drill_ctx *c, const json_t *run)
{
    const json_t *steps = json_object_get(run, "Steps");
    size_t i;
    const json_t *s;
    json_array_foreach(steps, i, s) {
        const char *name = json_string_value(json_object_get(s, "Name"));
        const char *status = json_string_value(json_object_get(s, "Status"));
        const char *msg = json_string_value(json_object_get(s, "Message"));
        int64_t start = 0, end = 0;
        drill_parse_time_us(json_string_value(json_object_get(s, "Start")), &start);
        drill_parse_time_us(json_string_value(json_object_get(s, "End")), &end);
        char label[160];
        snprintf(label, sizeof label, "%s: %s", c->sc->runbook, name ? name : "?");
        if (!status || strcmp(status, "skipped") == 0 || !start) {
            drill_step_skip(c->r, label, end ? end : rd_clock_now_us(),
                            msg && *msg ? msg : "an earlier step failed");
            continue;
        }
        size_t idx = drill_step_begin(c->r, label, start);
        drill_step_end(c->r, idx, end ? end : start,
                       strcmp(status, "ok") == 0 ? DRILL_STEP_OK : DRILL_STEP_FAILED,
                       msg && *msg ? msg : NULL);
    }
}

static void free_argv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int phase_recover(drill_ctx *c)
{
    int64_t t0 = rd_clock_now_us();
    size_t wait_idx = drill_step_begin(c->r, "drill: recovery prerequisites", t0);
    int rc = c->sc->before_recovery ? c->sc->before_recovery(c) : 0;
    drill_step_end(c->r, wait_idx, rd_clock_now_us(), rc == 0 ? DRILL_STEP_OK
                                                              : DRILL_STEP_FAILED,
                   rc == 0 ? NULL : rd_error());
    if (rc < 0)
        return rc;
    if (!rb_find(c->sc->runbook)) {
        drill_step_skip(c->r, c->sc->runbook, rd_clock_now_us(), "not in this build");
        return rd_fail(RD_ENOENT, "runbook %s is not available in this build",
                       c->sc->runbook);
    }
    char **extra = c->sc->runbook_args(c);
    size_t n = 0;
    while (extra[n])
        n++;
    char **args = rd_calloc(n + 4, sizeof *args);
    args[0] = "runbook";
    args[1] = "run";
    args[2] = (char *)c->sc->runbook;
    rd_buf line = RD_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        args[3 + i] = extra[i];
        rd_buf_puts(&line, " ");
        rd_buf_puts(&line, extra[i]);
    }
    rd_buf_puts(&line, "");
    drill_say(c, "recover: radiant runbook run %s%s --output json", c->sc->runbook,
              (const char *)line.data);
    rd_buf_free(&line);
    rd_buf out = RD_BUF_INIT;
    int status = 0;
    rc = drill_child_run(c->self, &c->sb, args, 1800, &out, &status);
    char err[1024];
    snprintf(err, sizeof err, "%s", rd_error());
    free(args);
    free_argv(extra);
    if (rc < 0) {
        rd_buf_free(&out);
        return rc;
    }
    c->runbook_run = json_loads(out.data ? (const char *)out.data : "", 0, NULL);
    rd_buf_free(&out);
    if (c->runbook_run)
        copy_steps(c, c->runbook_run);
    if (status == 2 && !c->runbook_run)
        return rd_fail(RD_ENOENT, "runbook %s is not available in this build: %s",
                       c->sc->runbook, err);
    if (status != 0) {
        const json_t *e = json_object_get(c->runbook_run, "Error");
        const char *step = json_string_value(json_object_get(e, "Step"));
        const char *msg = json_string_value(json_object_get(e, "Message"));
        return rd_fail(RD_EIO, "runbook %s failed%s%s (exit %d): %s", c->sc->runbook,
                       step ? " at step " : "", step ? step : "", status, msg ? msg : err);
    }
    const char *secs = NULL;
    json_t *sj = json_object_get(c->runbook_run, "Seconds");
    char buf[32];
    if (json_is_number(sj)) {
        snprintf(buf, sizeof buf, "%.2f", json_number_value(sj));
        secs = buf;
    }
    drill_say(c, "recover: runbook %s succeeded in %s s", c->sc->runbook, secs ? secs : "?");
    return 0;
}

/* ------------------------------------------------------------- report -- */

static int phase_report(drill_ctx *c, const drill_run_options *o, char **report_dir)
{
    drill_result *r = c->r;
    r->finished_us = rd_clock_now_us();
    r->recovered = c->recovered_us > 0;
    if (r->recovered) {
        r->rto_s = (double)(c->recovered_us - c->injected_us) / 1e6;
        char note[160], d[48];
        drill_fmt_duration(r->rto_s, d, sizeof d);
        snprintf(note, sizeof note, "RTO %s from the injection to a verified read and an "
                 "accepted write on the recovered system", d);
        drill_result_check(r, DRILL_CHECK_RECOVERY_TIME, note);
    } else {
        r->rto_s = DRILL_UNMEASURED;
    }
    if (!r->recovered && !r->failure)
        drill_result_fail(r, "the recovered system never answered a verified read and a "
                          "write");
    drill_targets t;
    int rc = drill_targets_from_config(o->cfg, &t);
    if (rc < 0)
        return rc;
    drill_evaluate(r, &t);

    *report_dir = o->report_dir ? rd_strdup(o->report_dir)
                                : rd_asprintf("%s/drills/%s", rd_config_state_dir(o->cfg), r->id);
    rc = check_report_dir(*report_dir);
    char *journal = rc == 0 ? rd_path_join(*report_dir, "journal.jsonl") : NULL;
    static const char *const ev_names[] = { "workload-start", "injection", "detection",
                                            "restore-point", "recovered" };
    int64_t ev_times[] = { c->workload_start_us, c->injected_us, c->detected_us,
                           c->restore_point_us, c->recovered_us };
    if (rc == 0)
        rc = drill_journal_save(&c->journal, journal, ev_names, ev_times, 5);
    if (rc == 0)
        drill_result_observe(r, "journal", journal);
    free(journal);
    if (rc == 0)
        rc = drill_report_write(r, *report_dir, NULL);
    rd_catalog *cat = NULL;
    if (rc == 0)
        rc = rd_catalog_open(rd_config_state_dir(o->cfg), &cat);
    if (rc == 0)
        rc = drill_save(cat, r);
    rd_catalog_close(cat);
    return rc;
}

/* ----------------------------------------------------------- the run -- */

static void ctx_free(drill_ctx *c)
{
    s3_client_free(c->s3);
    json_decref(c->runbook_run);
    drill_journal_free(&c->journal);
    pthread_mutex_destroy(&c->obj_mu);
    drill_sandbox_clear(&c->sb);
    free(c->db_error);
    free(c->obj_error);
    free(c->recovered_endpoint);
}

int drill_run(const drill_run_options *o, drill_result **out, char **report_dir)
{
    *out = NULL;
    *report_dir = NULL;
    int rc = drill_run_check(o);
    if (rc < 0)
        return rc;
    struct saved_signals saved;
    signals_install(&saved);

    drill_ctx c;
    memset(&c, 0, sizeof c);
    c.sc = find_scenario(o->scenario);
    c.self = o->self;
    c.progress = o->progress;
    c.duration_s = o->duration_s;
    c.pgbench_scale = o->pgbench_scale;
    c.sb.lock_fd = -1;
    drill_journal_init(&c.journal);
    pthread_mutex_init(&c.obj_mu, NULL);
    c.r = drill_result_new(c.sc->name, o->seed, o->ephemeral, rd_clock_now_us());
    c.rng = o->seed;
    /* The fault lands between 40% and 70% of the workload, drawn from the seed. */
    double frac = 0.4 + 0.3 * (double)(drill_rand(&c) % 1000) / 1000.0;

    drill_say(&c, "%s %s, seed %llu, workload %d s%s", c.r->id, c.sc->name,
              (unsigned long long)o->seed, o->duration_s,
              o->ephemeral ? ", ephemeral sandbox" : "");
    int setup_rc = 0;         /* PREPARE/START failed: no drill ran */
    enum phase ph = P_PREPARE;
    while (ph != P_DONE) {
        if (drill_interrupted && ph < P_TEARDOWN) {
            drill_say(&c, "interrupted (signal %d) in %s: tearing down",
                      (int)drill_interrupted, phase_names[ph]);
            drill_workload_join(&c, true);
            ph = P_TEARDOWN;
            continue;
        }
        int prc = 0;
        enum phase next = (enum phase)(ph + 1);
        switch (ph) {
        case P_PREPARE:
            prc = phase_prepare(&c, o);
            break;
        case P_START:
            if (c.sb.ephemeral)
                prc = drill_sandbox_start_serve(&c.sb, c.self);
            if (prc == 0 && (c.stores & DRILL_STORE_OBJECTS))
                prc = drill_sandbox_s3(&c.sb, &c.s3);
            if (prc == 0 && c.sb.ephemeral)
                drill_say(&c, "start: radiant serve (pid %d): S3 API %s, WAL streaming",
                          (int)c.sb.serve_pid, c.sb.endpoint);
            if (prc == 0)
                prc = drill_stores_start(&c);
            break;
        case P_BASELINE:
            prc = drill_stores_baseline(&c);
            if (prc == 0)
                prc = c.sc->baseline(&c);
            if (prc == 0)
                prc = drill_stores_base_backup(&c);
            break;
        case P_WORKLOAD:
            c.workload_start_us = rd_clock_now_us();
            c.inject_at_us = c.workload_start_us + (int64_t)(frac * o->duration_s * 1e6);
            prc = drill_workload_start(&c);
            drill_say(&c, "workload: %s%s%s for %d s; the fault at +%.1f s",
                      (c.stores & DRILL_STORE_DB) ? "transactions" : "",
                      (c.stores & DRILL_STORE_DB) && (c.stores & DRILL_STORE_OBJECTS)
                          ? " and " : "",
                      (c.stores & DRILL_STORE_OBJECTS) ? "uploads" : "", o->duration_s,
                      frac * o->duration_s);
            break;
        case P_INJECT:
            prc = drill_sleep_ms((c.inject_at_us - rd_clock_now_us()) / 1000);
            if (prc == 0)
                prc = c.sc->inject(&c);
            if (c.injected_us)
                drill_result_add_event(c.r, DRILL_EV_INJECTION, c.injected_us,
                                       c.sc->summary);
            break;
        case P_DETECT:
            prc = c.sc->detect(&c);
            if (prc == 0)
                drill_result_add_event(c.r, DRILL_EV_DETECTION, c.detected_us,
                                       "the fault was noticed");
            break;
        case P_RECOVER:
            prc = phase_recover(&c);
            break;
        case P_VERIFY: {
            int64_t t0 = rd_clock_now_us();
            size_t idx = drill_step_begin(c.r, "drill: verified read and accepted write", t0);
            prc = c.sc->verify(&c);
            drill_step_end(c.r, idx, rd_clock_now_us(),
                           prc == 0 ? DRILL_STEP_OK : DRILL_STEP_FAILED,
                           prc == 0 ? NULL : rd_error());
            if (prc == 0)
                drill_result_add_event(c.r, DRILL_EV_RECOVERED, c.recovered_us,
                                       "a verified read answered and a write was accepted");
            /* The journal must be complete before it is compared. */
            drill_workload_join(&c, false);
            {
                size_t n_db = 0;
                for (size_t i = 0; i < c.journal.n; i++)
                    n_db += c.journal.w[i].kind == DRILL_WRITE_DB;
                drill_say(&c, "workload: ended, %zu writes journaled (%zu transactions, %zu "
                          "uploads)", c.journal.n, n_db, c.journal.n - n_db);
            }
            break;
        }
        case P_MEASURE:
            prc = drill_stores_measure(&c);
            break;
        case P_REPORT:
            drill_workload_join(&c, true);
            prc = phase_report(&c, o, report_dir);
            if (prc < 0)
                setup_rc = prc;
            break;
        case P_TEARDOWN:
            drill_workload_join(&c, true);
            if (c.sc->cleanup && (!o->keep || drill_interrupted))
                c.sc->cleanup(&c);
            if (!o->keep || drill_interrupted)
                drill_stores_cleanup(&c);
            drill_sandbox_teardown(&c.sb, o->keep && !drill_interrupted, c.progress);
            break;
        case P_DONE:
            break;
        }
        if (prc < 0 && ph < P_REPORT) {
            if (drill_interrupted)
                continue;      /* the loop's head tears down */
            if (ph <= P_START) {
                setup_rc = rd_fail_wrap(prc, "drill %s could not start (%s)", c.r->id,
                                        phase_names[ph]);
                drill_say(&c, "%s", rd_error());
                next = P_TEARDOWN;
            } else {
                drill_result_fail(c.r, "%s: %s", phase_names[ph], rd_error());
                drill_say(&c, "FAILED in %s: %s", phase_names[ph], rd_error());
                drill_workload_join(&c, true);
                next = P_REPORT;
            }
        }
        ph = next;
    }

    if (drill_interrupted) {
        int sig = (int)drill_interrupted;
        ctx_free(&c);
        drill_result_free(c.r);
        free(*report_dir);
        *report_dir = NULL;
        signals_restore(&saved);
        return rd_fail(RD_EINTERNAL, "drill interrupted by signal %d; its sandbox was "
                       "removed and nothing was recorded", sig);
    }
    char err[1024];
    snprintf(err, sizeof err, "%s", rd_error());
    ctx_free(&c);
    signals_restore(&saved);
    if (setup_rc < 0) {
        drill_result_free(c.r);
        free(*report_dir);
        *report_dir = NULL;
        return rd_fail(-setup_rc, "%s", err);
    }
    *out = c.r;
    return 0;
}

int drill_was_interrupted(void) { return (int)drill_interrupted; }

int drill_cleanup(FILE *progress) { return drill_sandbox_reclaim(true, progress); }
