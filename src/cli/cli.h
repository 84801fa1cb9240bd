/* Shared pieces of the command-line interface: the context every command gets,
 * option parsing helpers, output in text or JSON, and the command tables. */
#ifndef RD_CLI_H
#define RD_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "core/config.h"
#include "repo/repo.h"

enum cli_output { CLI_OUTPUT_TEXT, CLI_OUTPUT_JSON };

typedef struct cli_ctx {
    const char *config_path;     /* --config, $RADIANT_CONFIG or the default */
    rd_config *cfg;              /* loaded on first use by cli_config() */
    enum cli_output output;
    bool progress;               /* stderr is a terminal: show progress */
    bool log_level_given;        /* --log-level wins over [radiant] log-level */
    bool error_reported;         /* the command reported its failure itself */
} cli_ctx;

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;           /* synopsis and option list, printed by help */
    int (*run)(cli_ctx *ctx, int argc, char **argv);
} cli_command;

typedef struct cli_group {
    const char *name;
    const char *summary;
    const cli_command *commands;  /* terminated by a NULL name */
    bool as_run_as_user;          /* PostgreSQL work: drop root for the run-as user */
} cli_group;

extern const cli_group cli_repo_group;
extern const cli_group cli_db_group;
extern const cli_group cli_wal_group;
extern const cli_group cli_s3_group;
extern const cli_group cli_runbook_group;
extern const cli_group cli_drill_group;

/* For PostgreSQL work: loads the configuration and, when running as root,
 * becomes its run-as user for good (pgc_become_run_as). */
int cli_become_run_as(cli_ctx *ctx);
/* Loads the configuration once; -RD_ECONFIG when it is missing or invalid. */
int cli_config(cli_ctx *ctx, const rd_config **out);
/* The configuration only when its file exists (*out NULL otherwise), for
 * commands that also work on a machine without one (S3 recovery against
 * another endpoint); a file that exists but is invalid is still an error. */
int cli_config_optional(cli_ctx *ctx, const rd_config **out);
/* Returns -RD_EUSAGE with "radiant GROUP CMD: message; see 'radiant help GROUP CMD'". */
int cli_usage(const char *group, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints obj as one JSON document on stdout and releases it. */
void cli_print_json(json_t *obj);
/* Prints the help of a group, or of one command in it. */
int cli_help(const char *group, const char *cmd);
void cli_print_overview(void);
/* radiant serve [--once] [--interval S] (src/cli/serve.c). */
int cli_serve(cli_ctx *ctx, int argc, char **argv);
/* Runs argv[0] (a group or "help") with the rest of argv. */
int cli_dispatch(cli_ctx *ctx, int argc, char **argv);
int cli_group_run(cli_ctx *ctx, const cli_group *g, int argc, char **argv);

/* Records an event in the catalog under the state directory (the journal
 * behind describe-events). Failing to record is a warning, never a failure of
 * the command that already succeeded. */
void cli_event(cli_ctx *ctx, const char *source_type, const char *source_id,
               const char *category, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A progress line on stderr (redrawn 4 times a second) while it is a terminal (NULL otherwise): bytes
 * (with an ETA when their total is known) or, once *replay_at is set, the
 * WAL replay position against replay_target (0: the end of the archive). */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const cli_ctx *ctx, const char *what,
                                 const repo_progress *bytes, const int64_t *replay_at,
                                 int64_t replay_target);
void cli_progress_stop(cli_progress *p);

/* Human-readable sizes and rates: "1.5 GiB", "380.2 MB/s". */
void cli_format_bytes(double bytes, char *out, size_t len);

#endif
