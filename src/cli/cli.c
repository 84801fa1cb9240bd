/* Command dispatch, help text and output helpers shared by every command group. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/catalog.h"
#include "core/error.h"
#include "core/log.h"
#include "pg/pg.h"

static const cli_group *const groups[] = { &cli_repo_group, &cli_db_group,
                                            &cli_wal_group, &cli_s3_group,
                                            &cli_runbook_group, &cli_drill_group };

int cli_config(cli_ctx *ctx, const rd_config **out)
{
    if (!ctx->cfg) {
        int rc = rd_config_load(ctx->config_path, &ctx->cfg);
        if (rc < 0)
            return rc;
        const rd_config_section *general = rd_config_find(ctx->cfg, "radiant", NULL);
        const char *level = general ? rd_config_get(general, "log-level") : NULL;
        if (level && !ctx->log_level_given)
            rd_log_set_level((enum rd_log_level)rd_log_level_parse(level));
    }
    *out = ctx->cfg;
    return 0;
}

int cli_config_optional(cli_ctx *ctx, const rd_config **out)
{
    *out = NULL;
    if (!ctx->cfg && access(ctx->config_path, F_OK) != 0)
        return 0;
    return cli_config(ctx, out);
}

int cli_become_run_as(cli_ctx *ctx)
{
    const rd_config *cfg;
    int rc = cli_config(ctx, &cfg);
    return rc < 0 ? rc : pgc_become_run_as(cfg);
}

int cli_usage(const char *group, const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rd_fail(RD_EUSAGE, "radiant %s %s: %s; see 'radiant help %s %s'", group, cmd, msg,
                   group, cmd);
}

void cli_print_json(json_t *obj)
{
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
        puts(text);
        free(text);
    }
    json_decref(obj);
}

void cli_event(cli_ctx *ctx, const char *source_type, const char *source_id,
               const char *category, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The command's own error message must survive a failure here. */
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", rd_error());
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    int rc = cli_config(ctx, &cfg);
    if (rc == 0)
        rc = rd_catalog_open(rd_config_state_dir(cfg), &cat);
    if (rc == 0)
        rc = rd_catalog_event_add(cat, source_type, source_id, category, msg);
    if (rc < 0) {
        RD_WARN("could not record the event in the catalog: %s", rd_error());
        rd_fail(RD_EINTERNAL, "%s", saved);
    }
    rd_catalog_close(cat);
}

void cli_format_bytes(double bytes, char *out, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    int u = 0;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%.0f B", bytes);
    else
        snprintf(out, len, "%.1f %s", bytes, units[u]);
}

static const cli_group *find_group(const char *name)
{
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(groups[i]->name, name) == 0)
            return groups[i];
    return NULL;
}

void cli_print_overview(void)
{
    printf("usage: radiant [--config FILE] [--output text|json] [--log-level LEVEL] "
           "COMMAND ...\n\n"
           "radiant is a self-hosted disaster-recovery platform: backups with\n"
           "point-in-time restore, snapshots, versioned object storage and drills.\n\n"
           "Global options (anywhere on the line):\n"
           "  --config FILE       configuration file (else $RADIANT_CONFIG, else %s)\n"
           "  --output text|json  output format; json is stable for scripts (docs/cli.md)\n"
           "  --log-level LEVEL   debug, info, warn (default), error or quiet\n"
           "  --help, --version\n\n"
           "Commands:\n", RD_CONFIG_DEFAULT_PATH);
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        printf("  %-8s %s\n", groups[i]->name, groups[i]->summary);
        for (const cli_command *c = groups[i]->commands; c->name; c++)
            printf("    %-20s %s\n", c->name, c->summary);
    }
    printf("  serve    WAL streaming, automated backups in each cluster's window, retention\n");
    printf("  help     help COMMAND [SUBCOMMAND] shows the options of a command\n");
}

int cli_help(const char *group, const char *cmd)
{
    if (strcmp(group, "serve") == 0 && !cmd) {
        printf("radiant serve: runs everything continuous until SIGTERM or SIGINT\n\n"
               "usage: radiant serve [--once] [--interval SECONDS]\n\n"
               "Every interval (default 60 s): one automated backup a day of each available\n"
               "DB cluster inside its preferred backup window, then retention (automated\n"
               "backups and WAL older than the window need are removed).\n"
               "Continuously: a WAL receiver per available DB cluster (replication slot\n"
               "'radiant'), so that LatestRestorableTime trails the last commit by under a\n"
               "second; and, with an [objectstore] section, the S3-compatible object store\n"
               "on its listen address (lifecycle rules applied at every pass).\n"
               "  --once  run one pass and exit (for cron and tests; no streaming)\n");
        return 0;
    }
    const cli_group *g = find_group(group);
    if (!g)
        return rd_fail(RD_EUSAGE, "no command '%s'; run 'radiant --help' for the list", group);
    if (!cmd) {
        printf("radiant %s: %s\n\n", g->name, g->summary);
        for (const cli_command *c = g->commands; c->name; c++)
            printf("  %-20s %s\n", c->name, c->summary);
        printf("\nRun 'radiant help %s COMMAND' for its options.\n", g->name);
        return 0;
    }
    for (const cli_command *c = g->commands; c->name; c++) {
        if (strcmp(c->name, cmd) == 0) {
            printf("radiant %s %s: %s\n\nusage: radiant %s %s %s\n", g->name, c->name,
                   c->summary, g->name, c->name, c->usage);
            return 0;
        }
    }
    return rd_fail(RD_EUSAGE, "no command '%s %s'; run 'radiant help %s' for the list",
                   group, cmd, group);
}

int cli_group_run(cli_ctx *ctx, const cli_group *g, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return argc < 2 ? rd_fail(RD_EUSAGE, "radiant %s needs a command; run 'radiant help "
                                  "%s' for the list", g->name, g->name)
                        : cli_help(g->name, NULL);
    for (const cli_command *c = g->commands; c->name; c++) {
        if (strcmp(c->name, argv[1]) != 0)
            continue;
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                return cli_help(g->name, c->name);
        if (g->as_run_as_user) {
            int rc = cli_become_run_as(ctx);
            if (rc < 0)
                return rc;
        }
        return c->run(ctx, argc - 1, argv + 1);
    }
    return rd_fail(RD_EUSAGE, "unknown command 'radiant %s %s'; run 'radiant help %s' for "
                   "the list", g->name, argv[1], g->name);
}

int cli_dispatch(cli_ctx *ctx, int argc, char **argv)
{
    if (strcmp(argv[0], "help") == 0) {
        if (argc < 2) {
            cli_print_overview();
            return 0;
        }
        return cli_help(argv[1], argc > 2 ? argv[2] : NULL);
    }
    if (strcmp(argv[0], "serve") == 0) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                return cli_help("serve", NULL);
        return cli_serve(ctx, argc, argv);
    }
    const cli_group *g = find_group(argv[0]);
    if (!g)
        return rd_fail(RD_EUSAGE, "unknown command '%s'; run 'radiant --help' for the list",
                       argv[0]);
    return cli_group_run(ctx, g, argc, argv);
}
