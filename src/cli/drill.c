/* radiant drill: running a disaster-recovery drill (`drill run`, the
 * orchestrator in src/drill/run.c), the history of drills kept in the
 * catalog and their reports (src/drill). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/fs.h"
#include "core/error.h"
#include "drill/drill.h"
#include "pg/pg.h"

#define HISTORY_DEFAULT_LIMIT 20
/* Runs of a scenario the trend line looks at. */
#define TREND_RUNS 5

enum { OPT_SCENARIO = 256, OPT_LIMIT, OPT_FORMAT, OPT_REPORT_DIR };

static const struct option drill_options[] = {
    { "scenario", required_argument, NULL, OPT_SCENARIO },
    { "limit", required_argument, NULL, OPT_LIMIT },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "report-dir", required_argument, NULL, OPT_REPORT_DIR },
    { NULL, 0, NULL, 0 },
};

struct drill_args {
    const char *scenario;
    size_t limit;
    const char *format;
    const char *report_dir;
    char **pos;
    int n_pos;
};

/* allowed: the options (OPT_*) this command takes, as a bit set. */
static int parse_args(const char *cmd, int argc, char **argv, unsigned allowed, int n_pos,
                      const char *pos_names, struct drill_args *a)
{
    memset(a, 0, sizeof *a);
    a->limit = HISTORY_DEFAULT_LIMIT;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":", drill_options, NULL);
        if (c == -1)
            break;
        if (c == '?')
            return cli_usage("drill", cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage("drill", cmd, "option '%s' needs a value", argv[optind - 1]);
        if (!(allowed & (1u << (c - OPT_SCENARIO))))
            return cli_usage("drill", cmd, "option '%s' does not apply here", argv[optind - 1]);
        if (c == OPT_SCENARIO) {
            a->scenario = optarg;
        } else if (c == OPT_LIMIT) {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 1000000)
                return cli_usage("drill", cmd, "--limit must be a number from 1, not '%s'",
                                 optarg);
            a->limit = (size_t)v;
        } else if (c == OPT_FORMAT) {
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "markdown") != 0 &&
                strcmp(optarg, "html") != 0)
                return cli_usage("drill", cmd, "--format must be json, markdown or html, not "
                                 "'%s'", optarg);
            a->format = optarg;
        } else {
            a->report_dir = optarg;
        }
    }
    if (argc - optind != n_pos)
        return cli_usage("drill", cmd, "expected %s, got %d argument(s)", pos_names,
                         argc - optind);
    a->pos = argv + optind;
    a->n_pos = n_pos;
    return 0;
}

#define ALLOW(o) (1u << ((o) - OPT_SCENARIO))

static int open_catalog(cli_ctx *ctx, rd_catalog **cat)
{
    const rd_config *cfg;
    int rc = cli_config(ctx, &cfg);
    return rc < 0 ? rc : rd_catalog_open(rd_config_state_dir(cfg), cat);
}

static void iso_time(int64_t us, char *out, size_t len)
{
    rd_time_format(us / 1000000, out, len);
}

static json_t *seconds_json(double s) { return s >= 0 ? json_real(s) : json_null(); }

static void short_duration(double s, char *out, size_t len)
{
    if (!(s >= 0))
        snprintf(out, len, "-");
    else if (s < 60)
        snprintf(out, len, "%.1fs", s);
    else if (s < 3600)
        snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)s % 3600 / 60);
}

/* The last TREND_RUNS measured times of one scenario, oldest first. */
struct trend {
    const char *scenario;
    drill_summary *runs;      /* newest first, as drill_list returns them */
    size_t n;
    double rto[TREND_RUNS], rpo[TREND_RUNS];
};

static int load_trend(rd_catalog *cat, const char *scenario, struct trend *t)
{
    memset(t, 0, sizeof *t);
    t->scenario = scenario;
    int rc = drill_list(cat, scenario, TREND_RUNS, &t->runs, &t->n);
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        t->rto[i] = t->runs[t->n - 1 - i].rto_s;
        t->rpo[i] = t->runs[t->n - 1 - i].rpo_s;
    }
    return rc;
}

static json_t *series_json(const double *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, seconds_json(v[i]));
    return arr;
}

static void print_series(const char *name, const double *v, size_t n)
{
    printf("%s ", name);
    for (size_t i = 0; i < n; i++) {
        char d[32];
        short_duration(v[i], d, sizeof d);
        printf("%s%s", i ? " -> " : "", d);
    }
    printf(" (%s)", drill_trend(v, n));
}

static int cmd_history(cli_ctx *ctx, int argc, char **argv)
{
    struct drill_args a;
    rd_catalog *cat = NULL;
    drill_summary *list = NULL;
    size_t n = 0;
    int rc = parse_args("history", argc, argv, ALLOW(OPT_SCENARIO) | ALLOW(OPT_LIMIT), 0,
                        "no argument", &a);
    if (rc == 0)
        rc = open_catalog(ctx, &cat);
    if (rc == 0)
        rc = drill_list(cat, a.scenario, a.limit, &list, &n);

    /* One trend per scenario shown, in the order they first appear. */
    struct trend *trends = NULL;
    size_t n_trends = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < n_trends; k++)
            seen = seen || strcmp(trends[k].scenario, list[i].scenario) == 0;
        if (seen)
            continue;
        trends = rd_realloc(trends, (n_trends + 1) * sizeof *trends);
        rc = load_trend(cat, list[i].scenario, &trends[n_trends]);
        n_trends++;
    }

    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON) {
        json_t *drills = json_array();
        for (size_t i = 0; i < n; i++) {
            char s[32], f[32];
            iso_time(list[i].started_us, s, sizeof s);
            iso_time(list[i].finished_us, f, sizeof f);
            json_array_append_new(drills, json_pack(
                "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:I}", "id", list[i].id, "scenario",
                list[i].scenario, "started", s, "finished", f, "verdict",
                drill_verdict_name(list[i].verdict), "rto_seconds",
                seconds_json(list[i].rto_s), "rpo_seconds", seconds_json(list[i].rpo_s),
                "lost_writes", (json_int_t)list[i].lost));
        }
        json_t *tr = json_array();
        for (size_t k = 0; k < n_trends; k++) {
            const struct trend *t = &trends[k];
            json_array_append_new(tr, json_pack(
                "{s:s,s:I,s:o,s:o,s:s,s:s}", "scenario", t->scenario, "runs",
                (json_int_t)t->n, "rto_seconds", series_json(t->rto, t->n), "rpo_seconds",
                series_json(t->rpo, t->n), "rto_trend", drill_trend(t->rto, t->n),
                "rpo_trend", drill_trend(t->rpo, t->n)));
        }
        cli_print_json(json_pack("{s:o,s:o}", "Drills", drills, "Trends", tr));
    } else if (rc == 0) {
        if (!n) {
            if (a.scenario)
                printf("No drill of scenario '%s' is recorded.\n", a.scenario);
            else
                printf("No drill is recorded yet.\n");
        } else {
            printf("%-28s %-22s %-20s %-9s %-9s %6s  %s\n", "ID", "SCENARIO", "DATE", "RTO",
                   "RPO", "LOST", "VERDICT");
        }
        for (size_t i = 0; i < n; i++) {
            char date[32], rto[32], rpo[32];
            iso_time(list[i].started_us, date, sizeof date);
            short_duration(list[i].rto_s, rto, sizeof rto);
            short_duration(list[i].rpo_s, rpo, sizeof rpo);
            printf("%-28s %-22s %-20s %-9s %-9s %6llu  %s\n", list[i].id, list[i].scenario,
                   date, rto, rpo, (unsigned long long)list[i].lost,
                   drill_verdict_title(list[i].verdict));
        }
        if (n_trends)
            printf("\nTrends (last %d runs of each scenario, oldest first):\n", TREND_RUNS);
        for (size_t k = 0; k < n_trends; k++) {
            printf("  %s: ", trends[k].scenario);
            print_series("RTO", trends[k].rto, trends[k].n);
            printf("; ");
            print_series("RPO", trends[k].rpo, trends[k].n);
            printf("\n");
        }
    }
    for (size_t k = 0; k < n_trends; k++)
        drill_summaries_free(trends[k].runs, trends[k].n);
    free(trends);
    drill_summaries_free(list, n);
    rd_catalog_close(cat);
    return rc;
}

static int load_result(rd_catalog *cat, const char *id, drill_result **out)
{
    char *text = NULL;
    int rc = drill_get(cat, id, &text);
    if (rc < 0)
        return rc;
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    free(text);
    if (!doc)
        return rd_fail(RD_ECORRUPT, "drill %s: the report stored in the catalog is not JSON: "
                       "%s", id, err.text);
    rc = drill_result_from_json(doc, out);
    json_decref(doc);
    return rc;
}

static int cmd_report(cli_ctx *ctx, int argc, char **argv)
{
    struct drill_args a;
    rd_catalog *cat = NULL;
    drill_result *r = NULL;
    int rc = parse_args("report", argc, argv, ALLOW(OPT_FORMAT) | ALLOW(OPT_REPORT_DIR), 1,
                        "ID", &a);
    if (rc == 0 && a.format && a.report_dir)
        rc = cli_usage("drill", "report", "--report-dir writes all three formats; leave out "
                       "--format");
    /* --output json promises one JSON document on stdout. */
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON && a.format && strcmp(a.format, "json") != 0)
        rc = cli_usage("drill", "report", "--format %s is not JSON; leave out --output json",
                       a.format);
    if (rc == 0)
        rc = open_catalog(ctx, &cat);
    if (rc == 0)
        rc = load_result(cat, a.pos[0], &r);
    if (rc == 0 && a.report_dir) {
        drill_report_paths p;
        rc = drill_report_write(r, a.report_dir, &p);
        if (rc == 0 && ctx->output == CLI_OUTPUT_JSON)
            cli_print_json(json_pack("{s:{s:s,s:s,s:s,s:s}}", "DrillReport", "id", r->id,
                                     "json", p.json, "markdown", p.markdown, "html", p.html));
        else if (rc == 0)
            printf("%s\n%s\n%s\n", p.json, p.markdown, p.html);
        if (rc == 0)
            drill_report_paths_free(&p);
    } else if (rc == 0) {
        const char *format = a.format ? a.format
                                      : ctx->output == CLI_OUTPUT_JSON ? "json" : "markdown";
        if (strcmp(format, "json") == 0) {
            json_t *doc;
            rc = drill_report_json(r, &doc);
            if (rc == 0)
                cli_print_json(ctx->output == CLI_OUTPUT_JSON ? json_pack("{s:o}", "Drill", doc)
                                                              : doc);
        } else {
            rd_buf out = RD_BUF_INIT;
            rc = strcmp(format, "html") == 0 ? drill_report_html(r, &out)
                                             : drill_report_markdown(r, &out);
            if (rc == 0)
                fwrite(out.data, 1, out.len, stdout);
            rd_buf_free(&out);
        }
    }
    drill_result_free(r);
    rd_catalog_close(cat);
    return rc;
}

/* ----------------------------------------------------------------- run -- */

enum { RUN_EPHEMERAL = 300, RUN_KEEP, RUN_YES, RUN_SEED, RUN_DURATION, RUN_REPORT_DIR,
       RUN_CLUSTER, RUN_BUCKET, RUN_SCALE };

static const struct option run_options[] = {
    { "ephemeral", no_argument, NULL, RUN_EPHEMERAL },
    { "keep", no_argument, NULL, RUN_KEEP },
    { "yes", no_argument, NULL, RUN_YES },
    { "seed", required_argument, NULL, RUN_SEED },
    { "duration", required_argument, NULL, RUN_DURATION },
    { "report-dir", required_argument, NULL, RUN_REPORT_DIR },
    { "db-cluster-identifier", required_argument, NULL, RUN_CLUSTER },
    { "bucket", required_argument, NULL, RUN_BUCKET },
    { "scale", required_argument, NULL, RUN_SCALE },
    { NULL, 0, NULL, 0 },
};

/* Outside a sandbox the drill works next to production: a person confirms. */
static int confirm(const drill_run_options *o)
{
    if (!isatty(STDIN_FILENO))
        return rd_fail(RD_EUSAGE, "radiant drill run: a drill without --ephemeral works on "
                       "%s%s%s%s; confirm with --yes (no terminal to ask on)",
                       o->db_cluster ? "DB cluster " : "", o->db_cluster ? o->db_cluster : "",
                       o->db_cluster && o->bucket ? " and bucket " : o->bucket ? "bucket " : "",
                       o->bucket ? o->bucket : "");
    fprintf(stderr, "Drill %s on %s%s%s%s: it restores into a new cluster and works only in its "
            "own schema and prefix, but it runs next to production. Continue? [y/N] ",
            o->scenario, o->db_cluster ? "DB cluster " : "", o->db_cluster ? o->db_cluster : "",
            o->db_cluster && o->bucket ? " and bucket " : o->bucket ? "bucket " : "",
            o->bucket ? o->bucket : "");
    char line[16] = "";
    if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y'))
        return rd_fail(RD_EUSAGE, "radiant drill run: not confirmed; nothing was done");
    return 0;
}

static int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
    drill_run_options o = { .duration_s = DRILL_DEFAULT_DURATION_S };
    bool yes = false, seed_given = false;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":", run_options, NULL);
        if (c == -1)
            break;
        if (c == '?')
            return cli_usage("drill", "run", "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage("drill", "run", "option '%s' needs a value", argv[optind - 1]);
        char *end;
        switch (c) {
        case RUN_EPHEMERAL: o.ephemeral = true; break;
        case RUN_KEEP: o.keep = true; break;
        case RUN_YES: yes = true; break;
        case RUN_SEED:
            errno = 0;
            o.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-')
                return cli_usage("drill", "run", "--seed must be a number, not '%s'", optarg);
            seed_given = true;
            break;
        case RUN_DURATION: {
            int64_t s;
            if (rd_duration_parse(optarg, &s) != 0 || s < 5 || s > 3600)
                return cli_usage("drill", "run", "--duration must be 5 to 3600 seconds (90, "
                                 "90s, 2m), not '%s'", optarg);
            o.duration_s = (int)s;
            break;
        }
        case RUN_REPORT_DIR: o.report_dir = optarg; break;
        case RUN_CLUSTER: o.db_cluster = optarg; break;
        case RUN_BUCKET: o.bucket = optarg; break;
        case RUN_SCALE: {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 10000)
                return cli_usage("drill", "run", "--scale must be a pgbench scale 1-10000, "
                                 "not '%s'", optarg);
            o.pgbench_scale = (int)v;
            break;
        }
        }
    }
    if (argc - optind != 1)
        return cli_usage("drill", "run", "name one scenario (db-corruption or "
                         "accidental-deletion), got %d argument(s)", argc - optind);
    o.scenario = argv[optind];
    if (o.keep && !o.ephemeral)
        return cli_usage("drill", "run", "--keep applies to --ephemeral drills");
    if (o.ephemeral && (o.db_cluster || o.bucket))
        return cli_usage("drill", "run", "--ephemeral builds its own cluster and bucket; leave "
                         "out --db-cluster-identifier and --bucket");
    if (!seed_given) {
        uint64_t s = 0;
        rd_random_bytes(&s, sizeof s);
        o.seed = s % 1000000;
    }
    char self[4096];
    o.self = pgc_self_path(self, sizeof self);
    o.config_path = ctx->config_path;
    o.progress = ctx->output == CLI_OUTPUT_JSON ? stderr : stdout;
    int rc = cli_config(ctx, &o.cfg);
    if (rc == 0)
        rc = drill_run_check(&o);
    if (rc == 0 && !o.ephemeral && !yes)
        rc = confirm(&o);
    drill_result *r = NULL;
    char *dir = NULL;
    if (rc == 0)
        rc = drill_run(&o, &r, &dir);
    if (rc < 0 && drill_was_interrupted()) {
        /* As a shell reports a command a signal ended: 128 + the signal. */
        fprintf(stderr, "radiant: %s\n", rd_error());
        exit(128 + drill_was_interrupted());
    }
    if (rc < 0)
        return rc;
    char *json = rd_path_join(dir, "report.json"), *md = rd_path_join(dir, "report.md"),
         *html = rd_path_join(dir, "report.html"), *journal = rd_path_join(dir, "journal.jsonl");
    if (ctx->output == CLI_OUTPUT_JSON) {
        json_t *doc = NULL;
        if (drill_report_json(r, &doc) == 0)
            cli_print_json(json_pack("{s:o,s:{s:s,s:s,s:s,s:s}}", "Drill", doc, "Files",
                                     "json", json, "markdown", md, "html", html, "journal",
                                     journal));
    } else {
        char rto[32], rpo[32];
        short_duration(r->rto_s, rto, sizeof rto);
        short_duration(r->rpo_s, rpo, sizeof rpo);
        printf("\n%-22s %-9s %-9s %6s  %s\n", "SCENARIO", "RTO", "RPO", "LOST", "VERDICT");
        printf("%-22s %-9s %-9s %6llu  %s\n", r->scenario, rto, rpo,
               (unsigned long long)r->writes_lost, drill_verdict_title(r->verdict));
        if (r->failure_reason)
            printf("reason: %s\n", r->failure_reason);
        printf("\nreport: %s\n        %s\n        %s\njournal: %s\n", html, md, json, journal);
    }
    fflush(stdout);
    free(json);
    free(md);
    free(html);
    free(journal);
    free(dir);
    rc = drill_result_status(r);
    drill_result_free(r);
    return rc;
}

static int cmd_cleanup(cli_ctx *ctx, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage("drill", "cleanup", "unexpected argument '%s'", argv[1]);
    int n = drill_cleanup(ctx->output == CLI_OUTPUT_JSON ? stderr : stdout);
    if (ctx->output == CLI_OUTPUT_JSON)
        cli_print_json(json_pack("{s:i}", "SandboxesRemoved", n));
    else
        printf("%d sandbox%s removed\n", n, n == 1 ? "" : "es");
    return 0;
}

static const cli_command drill_commands[] = {
    { "history", "past drills with their RTO, RPO and verdict, and the trend per scenario",
      "[--scenario NAME] [--limit N]\n\n"
      "Lists the drills recorded in the catalog, newest first (default the last 20),\n"
      "then for each scenario shown the RTO and RPO of its last 5 runs and whether\n"
      "they improve.\n"
      "  --scenario NAME  only drills of this scenario\n"
      "  --limit N        at most N drills (default 20)\n",
      cmd_history },
    { "report", "print a recorded drill's report, or write its three files",
      "ID [--format json|markdown|html] [--report-dir DIR]\n\n"
      "Prints the report of drill ID from the catalog (default Markdown; JSON with\n"
      "--output json), or with --report-dir writes report.json, report.md and\n"
      "report.html into DIR. An unknown ID exits 4.\n"
      "  --format F        json, markdown or html\n"
      "  --report-dir DIR  write the three files into DIR (created when missing)\n",
      cmd_report },
    { "run", "run a drill: fault, runbook recovery, RTO/RPO measured against a journal",
      "db-corruption|accidental-deletion [--ephemeral [--keep]] [--seed N] [--duration S]\n"
      "       [--report-dir DIR] [--db-cluster-identifier ID] [--bucket B] [--yes] [--scale N]\n\n"
      "Both workloads write throughout (transactions into the cluster, uploads into the\n"
      "bucket) and journal each write; at a moment drawn from the seed the fault is\n"
      "injected into one store; the scenario's runbook recovers; RTO (injection to a\n"
      "verified read and an accepted write) and RPO (injection to the newest write present\n"
      "afterwards) are measured, every journaled write is checked (the store the fault did\n"
      "not touch must have lost nothing), and the report (JSON, Markdown, HTML,\n"
      "journal.jsonl) is written and recorded in the catalog.\n"
      "  db-corruption        a table dropped, rows deleted; database-recovery to the second\n"
      "                       before\n"
      "  accidental-deletion  every object under a prefix deleted; object-recovery\n"
      "  --ephemeral          a sandbox of its own in /tmp/radiant-drill-*: cluster,\n"
      "                       repository, radiant serve with a versioned bucket; removed after\n"
      "  --keep               leave the sandbox running (`radiant drill cleanup` removes it)\n"
      "  --seed N             replay a drill: same payloads, keys and fault moment\n"
      "  --duration S         of the workload (default 20 s)\n"
      "  --report-dir DIR     default STATE/drills/ID of the configuration\n"
      "  --scale N            db-corruption --ephemeral: pgbench -i -s N into the cluster\n"
      "                       before its base backup (bench/drill.sh)\n"
      "  --db-cluster-identifier ID, --bucket B  without --ephemeral: what to drill on (the\n"
      "                       scenario's store required, the other's workload skipped when\n"
      "                       not given); it restores into a new cluster and uses its own\n"
      "                       schema and prefix radiant-drill/ID/ (asks unless --yes)\n"
      "Exit 0 when within the targets, 6 when FAILED, 128+signal when interrupted.\n",
      cmd_run },
    { "cleanup", "stop and remove the sandboxes of drills no longer running (kept ones too)",
      "\n\nStops the processes a sandbox recorded and its PostgreSQL clusters, removes the\n"
      "directory; a sandbox whose drill is running is left alone.\n", cmd_cleanup },
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_drill_group = {
    .name = "drill",
    .summary = "disaster-recovery drills: run them, their history and reports, RTO/RPO "
               "against targets",
    .commands = drill_commands,
};
