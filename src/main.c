/* radiant: parses the global options and hands the rest to src/cli. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"

/* Global options may appear anywhere; they are removed from argv in place.
 * Returns the new argc, or -1 after printing a usage error. */
static int take_global_options(cli_ctx *ctx, int argc, char **argv, int *done)
{
    int out = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        const char *name = NULL;
        static const char *const with_value[] = { "--config", "--output", "--log-level" };
        for (size_t k = 0; k < 3; k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(a, with_value[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                name = with_value[k];
                if (a[n] == '=')
                    value = a + n + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return rd_fail(RD_EUSAGE, "%s needs a value; see 'radiant --help'", name);
            }
        }
        if (!name) {
            if (out == 0 && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
                cli_print_overview();
                *done = 1;
                return 0;
            }
            if (out == 0 && strcmp(a, "--version") == 0) {
                printf("radiant %s\n", RADIANT_VERSION);
                *done = 1;
                return 0;
            }
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(name, "--config") == 0) {
            ctx->config_path = value;
        } else if (strcmp(name, "--output") == 0) {
            if (strcmp(value, "json") == 0)
                ctx->output = CLI_OUTPUT_JSON;
            else if (strcmp(value, "text") == 0)
                ctx->output = CLI_OUTPUT_TEXT;
            else
                return rd_fail(RD_EUSAGE, "--output must be 'text' or 'json', not '%s'", value);
        } else {
            int level = rd_log_level_parse(value);
            if (level < 0)
                return rd_fail(RD_EUSAGE, "--log-level must be debug, info, warn, error or "
                               "quiet, not '%s'", value);
            rd_log_set_level((enum rd_log_level)level);
            ctx->log_level_given = true;
        }
    }
    return out;
}

int main(int argc, char **argv)
{
    /* Chunks (up to 2 MiB) and packs (16 MiB) are allocated and freed all the
     * time. Above glibc's default mmap threshold each one would be a fresh
     * mmap, page faults and munmap; keep them in the heap and do not trim it. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    cli_ctx ctx = { .config_path = getenv("RADIANT_CONFIG"), .output = CLI_OUTPUT_TEXT };
    if (!ctx.config_path || !*ctx.config_path)
        ctx.config_path = RD_CONFIG_DEFAULT_PATH;
    ctx.progress = isatty(STDERR_FILENO) && !getenv("CI");

    int done = 0;
    int rc = take_global_options(&ctx, argc - 1, argv + 1, &done);
    if (rc >= 0 && !done) {
        int n = rc;
        if (n == 0) {
            cli_print_overview();
            rc = rd_fail(RD_EUSAGE, "no command given");
        } else {
            rc = cli_dispatch(&ctx, n, argv + 1);
        }
    }
    if (rc < 0 && !ctx.error_reported) {
        if (ctx.output == CLI_OUTPUT_JSON) {
            json_t *err = json_pack("{s:{s:s,s:s,s:i}}", "error", "code", rd_err_name(rc),
                                    "message", rd_error(), "exit", rd_exit_code(rc));
            char *text = json_dumps(err, JSON_COMPACT);
            fprintf(stderr, "%s\n", text ? text : "");
            free(text);
            json_decref(err);
        } else {
            fprintf(stderr, "radiant: %s\n", rd_error());
        }
    }
    rd_config_free(ctx.cfg);
    return rc < 0 ? rd_exit_code(rc) : 0;
}
