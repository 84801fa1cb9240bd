/* radiant runbook: the guide's recovery runbooks as commands (dr-guide
 * "Recovery Procedures"). The runbooks themselves, their parameters and steps
 * live in src/runbook; this file only lists them, parses a run's flags
 * against the runbook's own parameter table and shows the run as it goes:
 * a line per step start and end (the guide's echo lines), or the rb_run JSON.
 * JSON fields are a contract (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "runbook/runbook.h"

static int unknown_runbook(const char *name)
{
    size_t n;
    const rb_runbook *const *all = rb_list(&n);
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                 all[i]->name);
    return rd_fail(RD_EUSAGE, "unknown runbook '%s'; the runbooks are: %s (see 'radiant "
                   "runbook list')", name, names);
}

static json_t *runbook_json(const rb_runbook *rb)
{
    json_t *params = json_array();
    for (const rb_param *p = rb->params; p && p->name; p++)
        json_array_append_new(params, json_pack("{s:s, s:s?, s:b, s:s}", "Name", p->name,
                                                "Value", p->value, "Required", p->required,
                                                "Description", p->help));
    json_t *steps = json_array();
    for (size_t i = 0; i < rb->n_steps; i++)
        json_array_append_new(steps, json_pack("{s:s, s:s}", "Name", rb->steps[i].name,
                                               "Description", rb->steps[i].description));
    return json_pack("{s:s, s:s, s:o, s:o}", "Name", rb->name, "Summary", rb->summary,
                     "Parameters", params, "Steps", steps);
}

static int cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage("runbook", "list", "unexpected argument '%s'", argv[1]);
    size_t n;
    const rb_runbook *const *all = rb_list(&n);
    if (ctx->output == CLI_OUTPUT_JSON) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, runbook_json(all[i]));
        cli_print_json(json_pack("{s:o}", "Runbooks", list));
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        printf("%-20s %s\n", all[i]->name, all[i]->summary);
    return 0;
}

static int cmd_describe(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("runbook", "describe", "name a runbook (see 'radiant runbook list')");
    if (argc > 2)
        return cli_usage("runbook", "describe", "unexpected argument '%s'", argv[2]);
    const rb_runbook *rb = rb_find(argv[1]);
    if (!rb)
        return unknown_runbook(argv[1]);
    if (ctx->output == CLI_OUTPUT_JSON) {
        cli_print_json(json_pack("{s:o}", "Runbook", runbook_json(rb)));
        return 0;
    }
    printf("runbook %s: %s\n\nusage: radiant runbook run %s", rb->name, rb->summary, rb->name);
    for (const rb_param *p = rb->params; p && p->name; p++)
        printf(" %s--%s%s%s%s", p->required ? "" : "[", p->name, p->value ? " " : "",
               p->value ? p->value : "", p->required ? "" : "]");
    printf("\n\n");
    for (const rb_param *p = rb->params; p && p->name; p++) {
        char flag[96];
        snprintf(flag, sizeof flag, "--%s%s%s", p->name, p->value ? " " : "",
                 p->value ? p->value : "");
        printf("  %-36s %s\n", flag, p->help);
    }
    printf("\nSteps:\n");
    for (size_t i = 0; i < rb->n_steps; i++)
        printf("  %zu. %-36s %s\n", i + 1, rb->steps[i].name, rb->steps[i].description);
    return 0;
}

/* Text mode: the guide's echo lines, one as each step starts and ends. */
static void print_progress(void *arg, enum rb_event ev, const rb_run *run, size_t i)
{
    const rb_runbook *rb = arg;
    const rb_step_result *s = i < run->n_steps ? &run->steps[i] : NULL;
    switch (ev) {
    case RB_EVENT_RUN_START:
        printf("Starting runbook %s: %s\n", rb->name, rb->summary);
        break;
    case RB_EVENT_STEP_START:
        printf("[%zu/%zu] %s: %s...\n", i + 1, run->n_steps, s->name, s->description);
        break;
    case RB_EVENT_STEP_END:
        printf("[%zu/%zu] %s: %s in %.2f s%s%s\n", i + 1, run->n_steps, s->name,
               rb_status_name(s->status), (double)s->duration_ns / 1e9,
               s->message && s->message[0] ? ": " : "", s->message ? s->message : "");
        break;
    case RB_EVENT_RUN_END:
        for (size_t k = 0; k < run->n_steps; k++)
            if (run->steps[k].status == RB_SKIPPED)
                printf("[%zu/%zu] %s: skipped\n", k + 1, run->n_steps, run->steps[k].name);
        if (run->status == RB_OK) {
            printf("Runbook %s succeeded in %.2f s\n", rb->name, (double)run->duration_ns / 1e9);
            for (size_t k = 0; k < run->n_outputs; k++)
                printf("   %s: %s\n", run->outputs[k].name, run->outputs[k].value);
        } else {
            printf("Runbook %s failed at step %s after %.2f s\n", rb->name,
                   run->steps[run->failed_step].name, (double)run->duration_ns / 1e9);
        }
        break;
    }
    fflush(stdout);
}

static int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || strncmp(argv[1], "--", 2) == 0)
        return cli_usage("runbook", "run", "name a runbook (see 'radiant runbook list')");
    const rb_runbook *rb = rb_find(argv[1]);
    if (!rb)
        return unknown_runbook(argv[1]);
    rb_args args = { 0 };
    int rc = rb_args_parse(rb, argc - 2, argv + 2, &args);
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rd_error());
        return rd_fail(RD_EUSAGE, "radiant runbook run %s: %s; see 'radiant runbook describe "
                       "%s'", rb->name, msg, rb->name);
    }
    rb_env env = { .observer_arg = (void *)rb };
    if (ctx->output == CLI_OUTPUT_TEXT)
        env.observer = print_progress;
    char *config_path = NULL;
    if (rb->flags & RB_POSTGRES)
        rc = cli_become_run_as(ctx);
    if (rc == 0 && (rb->flags & (RB_NEEDS_CONFIG | RB_POSTGRES)))
        rc = cli_config(ctx, &env.cfg);
    else if (rc == 0 && (rb->flags & RB_OPTIONAL_CONFIG))
        rc = cli_config_optional(ctx, &env.cfg);
    if (rc == 0 && env.cfg) {
        /* restore_command and archive_command run from the data directory. */
        config_path = realpath(ctx->config_path, NULL);
        env.config_path = config_path ? config_path : ctx->config_path;
    } else if (rc == 0) {
        env.config_path = ctx->config_path;   /* named in messages */
    }
    if (rc == 0) {
        rb_run run;
        rc = rb_execute(rb, &args, &env, &run);
        /* The record is the command's output even when a step failed: the
         * operator and the drill need to know what ran and for how long;
         * the error line on stderr and the exit code follow. */
        if (ctx->output == CLI_OUTPUT_JSON)
            cli_print_json(rb_run_json(&run));
        rb_run_clear(&run);
    }
    free(config_path);
    rb_args_clear(&args);
    return rc;
}

static const cli_command runbook_commands[] = {
    { "list", "the runbooks radiant can run", "", cmd_list },
    { "describe", "a runbook's options and steps", "NAME", cmd_describe },
    { "run", "run a runbook, each step timed",
      "NAME [OPTIONS]\n\n"
      "Runs the runbook's steps in order, printing each as it starts and ends with its\n"
      "duration, and stops at the first step that fails (the later ones are skipped);\n"
      "the exit code is that step's. --output json prints the run's record.\n"
      "'radiant runbook list' names the runbooks, 'radiant runbook describe NAME' shows\n"
      "the options and steps of one. For example:\n"
      "  radiant runbook run database-recovery --source-db-cluster-identifier ID\n"
      "      [--restore-to-time TIME | --use-latest-restorable-time] [--db-cluster-identifier NEW]\n"
      "  radiant runbook run object-recovery --bucket B --prefix P [--time T] [--dry-run]",
      cmd_run },
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_runbook_group = {
    "runbook", "recovery runbooks run as timed steps (database-recovery, object-recovery)",
    runbook_commands,
    false,   /* `run` drops to the run-as user itself, for runbooks doing PostgreSQL work */
};
