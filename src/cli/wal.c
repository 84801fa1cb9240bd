/* radiant wal: what PostgreSQL's archive_command and restore_command run
 * (src/pg/wal.c). Both are quiet on success so that the server log stays
 * readable; `wal fetch` of a file no repository has is normal at the end of
 * recovery and says so in at most one line, at log level info. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "pg/pg.h"

struct wal_args {
    const char *cluster;
    const char *repos;           /* --repo a,b: instead of the cluster's */
    int prefetch;
    char **pos;                  /* positional arguments */
    int n_pos;
};

enum { OPT_CLUSTER = 256, OPT_PREFETCH, OPT_REPO };

static const struct option wal_options[] = {
    { "db-cluster-identifier", required_argument, NULL, OPT_CLUSTER },
    { "prefetch", required_argument, NULL, OPT_PREFETCH },
    { "repo", required_argument, NULL, OPT_REPO },
    { NULL, 0, NULL, 0 },
};

static int parse_args(const char *cmd, int argc, char **argv, bool fetch, int n_pos,
                      const char *pos_names, struct wal_args *a)
{
    memset(a, 0, sizeof *a);
    a->prefetch = PGC_WAL_PREFETCH_DEFAULT;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":", wal_options, NULL);
        if (c == -1)
            break;
        if (c == '?')
            return cli_usage("wal", cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage("wal", cmd, "option '%s' needs a value", argv[optind - 1]);
        if (c == OPT_CLUSTER) {
            a->cluster = optarg;
        } else if (c == OPT_REPO) {
            a->repos = optarg;
        } else if (!fetch) {
            return cli_usage("wal", cmd, "option '--prefetch' does not apply here");
        } else {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 0 || v > PGC_WAL_PREFETCH_MAX)
                return cli_usage("wal", cmd, "--prefetch must be 0 to %d, not '%s'",
                                 PGC_WAL_PREFETCH_MAX, optarg);
            a->prefetch = (int)v;
        }
    }
    if (argc - optind != n_pos)
        return cli_usage("wal", cmd, "expected %s, got %d argument(s)", pos_names,
                         argc - optind);
    a->pos = argv + optind;
    a->n_pos = n_pos;
    if (!a->cluster) {
        const char *env = getenv("RADIANT_CLUSTER");
        a->cluster = env && *env ? env : NULL;
    }
    if (!a->cluster)
        return cli_usage("wal", cmd, "--db-cluster-identifier ID (or $RADIANT_CLUSTER) is "
                         "required");
    return pgc_identifier_check(a->cluster, "--db-cluster-identifier");
}

/* The repositories to use: --repo, else the cluster's (catalog, then config). */
static int wal_repos(const char *cmd, const rd_config *cfg, rd_catalog *cat,
                     const struct wal_args *a, char ***repos, size_t *n)
{
    *repos = NULL;
    *n = 0;
    /* fetch also finds the WAL of a cluster deleted since (restores from the
     * repositories alone); push archives only for a known cluster */
    if (!a->repos)
        return strcmp(cmd, "fetch") == 0 ? pgc_cluster_repos(cfg, cat, a->cluster, repos, n)
                                         : pgc_wal_repos(cfg, cat, a->cluster, repos, n);
    for (const char *p = a->repos; *p;) {
        size_t len = strcspn(p, ",");
        if (len) {
            *repos = rd_realloc(*repos, (*n + 1) * sizeof **repos);
            (*repos)[(*n)++] = rd_asprintf("%.*s", (int)len, p);
        }
        p += len + (p[len] == ',');
    }
    return *n ? 0 : cli_usage("wal", cmd, "--repo needs at least one repository name");
}

static json_t *repos_json(char *const *repos, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(repos[i]));
    return arr;
}

static int cmd_push(cli_ctx *ctx, int argc, char **argv)
{
    struct wal_args a;
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    char **repos = NULL;
    size_t n = 0;
    int rc = parse_args("push", argc, argv, false, 1, "PATH", &a);
    if (rc == 0)
        rc = cli_config(ctx, &cfg);
    /* The catalog is required: the push is recorded there (wal_archive). */
    if (rc == 0)
        rc = pgc_catalog_open(cfg, &cat);
    if (rc == 0)
        rc = wal_repos("push", cfg, cat, &a, &repos, &n);
    if (rc == 0)
        rc = pgc_wal_push_to(cfg, cat, a.cluster, repos, n, a.pos[0]);
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON) {
        const char *slash = strrchr(a.pos[0], '/');
        cli_print_json(json_pack("{s:{s:s,s:s,s:o}}", "wal", "cluster", a.cluster, "file",
                                 slash ? slash + 1 : a.pos[0], "repos", repos_json(repos, n)));
    }
    pgc_wal_repos_free(repos, n);
    rd_catalog_close(cat);
    return rc;
}

struct fetch_ctx {
    const rd_config *cfg;
    const struct wal_args *a;
};

/* The repositories of a fetch, asked for only when the spool does not have
 * the segment (or a prefetcher must be started). A catalog that cannot be
 * opened leaves the configuration to name them: recovery should not depend
 * on it. Closed before fetching, so that the prefetcher does not inherit
 * it. */
static int fetch_repos(void *arg, char ***repos, size_t *n)
{
    struct fetch_ctx *f = arg;
    rd_catalog *cat = NULL;
    if (!f->a->repos && pgc_catalog_open(f->cfg, &cat) < 0)
        RD_WARN("%s; looking for [cluster %s] in the configuration", rd_error(), f->a->cluster);
    int rc = wal_repos("fetch", f->cfg, cat, f->a, repos, n);
    rd_catalog_close(cat);
    return rc;
}

static int cmd_fetch(cli_ctx *ctx, int argc, char **argv)
{
    struct wal_args a;
    const rd_config *cfg = NULL;
    int rc = parse_args("fetch", argc, argv, true, 2, "FILE DEST", &a);
    if (rc == 0)
        rc = cli_config(ctx, &cfg);
    struct fetch_ctx f = { cfg, &a };
    if (rc == 0)
        rc = pgc_wal_fetch_lazy(cfg, a.cluster, fetch_repos, &f, a.pos[0], a.pos[1],
                                a.prefetch);
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON)
        cli_print_json(json_pack("{s:{s:s,s:s,s:s}}", "wal", "cluster", a.cluster, "file",
                                 a.pos[0], "dest", a.pos[1]));
    if (rc == -RD_ENOENT && ctx->output == CLI_OUTPUT_TEXT) {
        /* PostgreSQL asks for files past the end of the archive as a matter
         * of course; a non-zero exit is its answer, not an error. */
        RD_INFO("%s", rd_error());
        ctx->error_reported = true;
    }
    return rc;
}

static const cli_command wal_commands[] = {
    { "push", "archive a WAL file in every repository of the cluster (archive_command)",
      "[--db-cluster-identifier ID] [--repo NAME,...] PATH\n\n"
      "  archive_command = 'radiant wal push --db-cluster-identifier ID %p'\n\n"
      "  Succeeds only when the file is durable in every repository of the cluster (the\n"
      "  catalog's, else 'repos' of [cluster ID] in the configuration). Pushing the same\n"
      "  file again succeeds; different content under an archived name is refused (exit\n"
      "  10), recorded as an event, and never overwritten. WAL segments must be 16 MiB.\n\n"
      "  --db-cluster-identifier ID  the cluster (else $RADIANT_CLUSTER)\n"
      "  --repo NAME,...             these repositories instead of the cluster's",
      cmd_push },
    { "fetch", "restore a WAL file from the repositories (restore_command)",
      "[--db-cluster-identifier ID] [--repo NAME,...] [--prefetch N] FILE DEST\n\n"
      "  restore_command = 'radiant wal fetch --db-cluster-identifier ID %f %p'\n\n"
      "  Writes FILE to DEST from the first repository with a sound copy. Exits 4,\n"
      "  printing nothing below --log-level info, when no repository has it (normal at\n"
      "  the end of recovery). After a segment, the next N are fetched in the background\n"
      "  into STATE/spool/ID/, where the following calls find them.\n\n"
      "  --db-cluster-identifier ID  the cluster whose WAL this is (else $RADIANT_CLUSTER)\n"
      "  --repo NAME,...             these repositories, in this order, instead of the\n"
      "                              cluster's (to restore a cluster that was deleted)\n"
      "  --prefetch N                segments to prefetch, 0 to 64 (default 8; 0 disables)",
      cmd_fetch },
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_wal_group = {
    "wal", "WAL archiving for PostgreSQL: push (archive_command), fetch (restore_command)",
    wal_commands,
    true,
};
