/* radiant s3: access keys of radiant's object store, and recovery of a
 * versioned bucket after an accidental deletion (dr-guide Scenario 4) against
 * any S3 endpoint: undelete (remove the latest delete markers under a
 * prefix) and restore-to-time (make what was current at T current again, as
 * new versions). Flags follow the aws CLI (--endpoint-url, --region,
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). JSON fields are a contract
 * (docs/cli.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/error.h"
#include "objstore/objstore.h"
#include "pg/pg.h"
#include "s3client/s3client.h"

/* ------------------------------------------------------------ options -- */

struct s3_args {
    const char *bucket, *prefix, *time, *endpoint, *access_key_id, *region;
    bool dry_run, no_verify_ssl;
    int64_t time_ms;
};

enum { OPT_BUCKET = 256, OPT_PREFIX, OPT_TIME, OPT_DRY_RUN, OPT_ENDPOINT, OPT_KEY_ID,
       OPT_REGION, OPT_NO_VERIFY };

static const struct option all_options[] = {
    { "bucket", required_argument, NULL, OPT_BUCKET },
    { "prefix", required_argument, NULL, OPT_PREFIX },
    { "time", required_argument, NULL, OPT_TIME },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "endpoint-url", required_argument, NULL, OPT_ENDPOINT },
    { "access-key-id", required_argument, NULL, OPT_KEY_ID },
    { "region", required_argument, NULL, OPT_REGION },
    { "no-verify-ssl", no_argument, NULL, OPT_NO_VERIFY },
    { NULL, 0, NULL, 0 },
};

/* Parses argv allowing only the options named in `allowed` (space separated). */
static int parse_args(const char *cmd, int argc, char **argv, const char *allowed,
                      struct s3_args *a)
{
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    char padded[256];
    snprintf(padded, sizeof padded, " %s ", allowed);
    for (int c; (c = getopt_long(argc, argv, ":", all_options, NULL)) != -1;) {
        if (c == '?')
            return cli_usage("s3", cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage("s3", cmd, "option '%s' needs a value", argv[optind - 1]);
        const char *name = all_options[c - OPT_BUCKET].name;
        char word[64];
        snprintf(word, sizeof word, " %s ", name);
        if (!strstr(padded, word))
            return cli_usage("s3", cmd, "option '--%s' does not apply here", name);
        switch (c) {
        case OPT_BUCKET: a->bucket = optarg; break;
        case OPT_PREFIX: a->prefix = optarg; break;
        case OPT_TIME:
            if (s3_time_parse_ms(optarg, &a->time_ms) != 0)
                return cli_usage("s3", cmd, "--time must be an ISO 8601 time with a zone such "
                                 "as 2024-12-24T10:30:00Z or 2024-12-24T10:30:00.250+01:00, "
                                 "not '%s'", optarg);
            a->time = optarg;
            break;
        case OPT_DRY_RUN: a->dry_run = true; break;
        case OPT_ENDPOINT: a->endpoint = optarg; break;
        case OPT_KEY_ID: a->access_key_id = optarg; break;
        case OPT_REGION: a->region = optarg; break;
        case OPT_NO_VERIFY: a->no_verify_ssl = true; break;
        }
    }
    if (optind < argc)
        return cli_usage("s3", cmd, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* ---------------------------------------------------------- endpoint -- */

/* The endpoint and credentials (os3_target_resolve, shared with the
 * object-recovery runbook). The configuration only when it is there:
 * recovery against another endpoint must work on a machine without one. */
static int resolve_target(cli_ctx *ctx, const char *cmd, const struct s3_args *a,
                          os3_target *t)
{
    memset(t, 0, sizeof *t);
    const rd_config *cfg;
    int rc = cli_config_optional(ctx, &cfg);
    if (rc < 0)
        return rc;
    os3_target_args ta = { .endpoint_url = a->endpoint, .access_key_id = a->access_key_id,
                           .region = a->region };
    rc = os3_target_resolve(cfg, ctx->config_path, &ta, t);
    if (rc < 0 && t->hint) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rd_error());
        rc = cli_usage("s3", cmd, "%s", msg);
    }
    return rc;
}

/* Connects and lists every version under the prefix. */
static int load_versions(cli_ctx *ctx, const char *cmd, const struct s3_args *a,
                         s3_client **client, s3_version_list *l)
{
    *client = NULL;
    if (!a->bucket || !*a->bucket)
        return cli_usage("s3", cmd, "--bucket NAME is required");
    if (!a->prefix)
        return cli_usage("s3", cmd, "--prefix P is required (--prefix \"\" for the whole "
                         "bucket)");
    os3_target t;
    int rc = resolve_target(ctx, cmd, a, &t);
    if (rc == 0)
        rc = os3_target_client(&t, a->bucket, !a->no_verify_ssl, client);
    os3_target_free(&t);
    if (rc == 0) {
        rc = s3_list_object_versions(*client, a->prefix, l);
        if (rc < 0)
            rc = rd_fail_wrap(rc, "listing the versions of s3://%s/%s", a->bucket, a->prefix);
    }
    if (rc < 0) {
        s3_client_free(*client);
        *client = NULL;
    }
    return rc;
}

static json_t *failed_json(const s3_plan *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const s3_plan_item *it = &p->items[i];
        if (it->result < 0)
            json_array_append_new(arr, json_pack("{s:s,s:s?,s:s}", "Key", it->key, "VersionId",
                                                 it->version_id, "Error", it->error));
    }
    return arr;
}

static void print_failed_text(const s3_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].result < 0)
            printf("failed %s: %s\n", p->items[i].key, p->items[i].error);
}

/* ------------------------------------------------------------ undelete -- */

static int cmd_undelete(cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    int rc = parse_args("undelete", argc, argv,
                        "bucket prefix dry-run endpoint-url access-key-id region no-verify-ssl",
                        &a);
    if (rc < 0)
        return rc;
    s3_client *c;
    s3_version_list l = { 0 };
    rc = load_versions(ctx, "undelete", &a, &c, &l);
    if (rc < 0)
        return rc;
    s3_plan p;
    s3_plan_undelete(&l, &p);
    size_t failed = a.dry_run ? 0 : s3_plan_execute(c, &p);

    if (ctx->output == CLI_OUTPUT_JSON) {
        json_t *undeleted = json_array(), *skipped = json_array();
        for (size_t i = 0; i < p.n; i++) {
            const s3_plan_item *it = &p.items[i];
            if (it->action == S3_PLAN_SKIP) {
                json_array_append_new(skipped, json_pack("{s:s,s:s}", "Key", it->key, "Reason",
                                                         "only delete markers"));
            } else if (it->result == 0) {
                json_t *markers = json_array();
                for (size_t k = 0; k < it->n_markers; k++)
                    json_array_append_new(markers, json_string(it->markers[k]));
                json_array_append_new(undeleted,
                                      json_pack("{s:s,s:s,s:o}", "Key", it->key, "VersionId",
                                                it->version_id, "DeleteMarkersRemoved",
                                                markers));
            }
        }
        cli_print_json(json_pack("{s:o,s:o,s:o,s:b}", "Undeleted", undeleted, "Skipped",
                                 skipped, "Failed", failed_json(&p), "DryRun", a.dry_run));
    } else {
        for (size_t i = 0; i < p.n; i++) {
            const s3_plan_item *it = &p.items[i];
            if (it->action == S3_PLAN_SKIP)
                printf("skipped %s: only delete markers, no version to bring back\n", it->key);
            else if (it->result == 0)
                printf("%s %s (version %s, %zu delete marker%s removed)\n",
                       a.dry_run ? "would undelete" : "undeleted", it->key, it->version_id,
                       it->n_markers, it->n_markers == 1 ? "" : "s");
        }
        print_failed_text(&p);
        if (p.n == 0)
            printf("nothing to undelete under s3://%s/%s\n", a.bucket, a.prefix);
    }
    rc = failed ? s3_plan_result(&p) : 0;
    s3_plan_free(&p);
    s3_version_list_free(&l);
    s3_client_free(c);
    return rc;
}

/* ----------------------------------------------------- restore-to-time -- */

static int cmd_restore_to_time(cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    int rc = parse_args("restore-to-time", argc, argv,
                        "bucket prefix time dry-run endpoint-url access-key-id region "
                        "no-verify-ssl", &a);
    if (rc == 0 && !a.time)
        rc = cli_usage("s3", "restore-to-time", "--time T is required (ISO 8601, such as "
                       "2024-12-24T10:30:00Z)");
    if (rc < 0)
        return rc;
    s3_client *c;
    s3_version_list l = { 0 };
    rc = load_versions(ctx, "restore-to-time", &a, &c, &l);
    if (rc < 0)
        return rc;
    s3_plan p;
    s3_plan_restore_to_time(&l, a.time_ms, &p);
    size_t failed = a.dry_run ? 0 : s3_plan_execute(c, &p);

    if (ctx->output == CLI_OUTPUT_JSON) {
        json_t *restored = json_array(), *deleted = json_array();
        for (size_t i = 0; i < p.n; i++) {
            const s3_plan_item *it = &p.items[i];
            if (it->result < 0)
                continue;
            if (it->action == S3_PLAN_RESTORE)
                json_array_append_new(restored, json_pack("{s:s,s:s,s:s?}", "Key", it->key,
                                                          "VersionId", it->version_id,
                                                          "NewVersionId", it->new_version_id));
            else
                json_array_append_new(deleted, json_pack("{s:s,s:s?}", "Key", it->key,
                                                         "DeleteMarkerVersionId",
                                                         it->new_version_id));
        }
        cli_print_json(json_pack("{s:o,s:o,s:I,s:o,s:b}", "Restored", restored, "Deleted",
                                 deleted, "Unchanged", (json_int_t)p.unchanged, "Failed",
                                 failed_json(&p), "DryRun", a.dry_run));
    } else {
        for (size_t i = 0; i < p.n; i++) {
            const s3_plan_item *it = &p.items[i];
            if (it->result < 0)
                continue;
            if (it->action == S3_PLAN_RESTORE)
                printf("%s %s (version %s)\n", a.dry_run ? "would restore" : "restored",
                       it->key, it->version_id);
            else
                printf("%s %s (did not exist at %s)\n", a.dry_run ? "would delete" : "deleted",
                       it->key, a.time);
        }
        print_failed_text(&p);
        printf("%zu key%s unchanged since %s\n", p.unchanged, p.unchanged == 1 ? "" : "s",
               a.time);
    }
    rc = failed ? s3_plan_result(&p) : 0;
    s3_plan_free(&p);
    s3_version_list_free(&l);
    s3_client_free(c);
    return rc;
}

/* -------------------------------------------------------- access keys -- */

/* The catalog as `radiant serve` opens it: run as root, radiant works as the
 * run-as user, so the catalog (and a key created here) stays readable by
 * the server. */
static int open_catalog(cli_ctx *ctx, const rd_config **cfg, rd_catalog **cat)
{
    *cat = NULL;
    int rc = cli_become_run_as(ctx);
    if (rc == 0)
        rc = cli_config(ctx, cfg);
    if (rc == 0)
        rc = pgc_catalog_open(*cfg, cat);
    return rc;
}

static void create_date(int64_t us, char out[32])
{
    rd_time_format(us / 1000000, out, 32);
}

static int cmd_create_key(cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    int rc = parse_args("create-access-key", argc, argv, "", &a);
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    os3_access_key k;
    if (rc == 0)
        rc = os3_access_key_create(cat, &k);
    rd_catalog_close(cat);
    if (rc < 0)
        return rc;
    char date[32];
    create_date(k.created_us, date);
    if (ctx->output == CLI_OUTPUT_JSON)
        cli_print_json(json_pack("{s:{s:s,s:s,s:s,s:s}}", "AccessKey", "AccessKeyId", k.id,
                                 "SecretAccessKey", k.secret, "Status", "Active", "CreateDate",
                                 date));
    else
        printf("AccessKeyId     %s\nSecretAccessKey %s\n"
               "(the secret is shown only now; radiant serve accepts the key at once)\n",
               k.id, k.secret);
    explicit_bzero(k.secret, sizeof k.secret);
    return 0;
}

static int cmd_delete_key(cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    int rc = parse_args("delete-access-key", argc, argv, "access-key-id", &a);
    if (rc == 0 && !a.access_key_id)
        rc = cli_usage("s3", "delete-access-key", "--access-key-id ID is required");
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = os3_access_key_delete(cfg, cat, a.access_key_id);
    rd_catalog_close(cat);
    if (rc < 0)
        return rc;
    if (ctx->output == CLI_OUTPUT_JSON)
        cli_print_json(json_pack("{s:{s:s,s:s}}", "AccessKey", "AccessKeyId", a.access_key_id,
                                 "Status", "Deleted"));
    else
        printf("deleted access key %s\n", a.access_key_id);
    return 0;
}

static int cmd_list_keys(cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    int rc = parse_args("list-access-keys", argc, argv, "", &a);
    const rd_config *cfg;
    rd_catalog *cat = NULL;
    os3_access_key *keys = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = open_catalog(ctx, &cfg, &cat);
    if (rc == 0)
        rc = os3_access_key_list(cfg, cat, &keys, &n);
    rd_catalog_close(cat);
    if (rc < 0) {
        free(keys);
        return rc;
    }
    json_t *arr = ctx->output == CLI_OUTPUT_JSON ? json_array() : NULL;
    if (!arr)
        printf("%-20s  %-7s  %-20s  %s\n", "ACCESS KEY ID", "SOURCE", "CREATED", "STATUS");
    for (size_t i = 0; i < n; i++) {
        char date[32] = "";
        if (keys[i].created_us)
            create_date(keys[i].created_us, date);
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s?,s:s}", "AccessKeyId",
                                                 keys[i].id, "Status", "Active", "CreateDate",
                                                 *date ? date : NULL, "Source", keys[i].source));
        else
            printf("%-20s  %-7s  %-20s  Active\n", keys[i].id, keys[i].source,
                   *date ? date : "-");
    }
    if (arr)
        cli_print_json(json_pack("{s:o}", "AccessKeyMetadata", arr));
    free(keys);
    return 0;
}

/* ------------------------------------------------------------- table -- */

#define ENDPOINT_HELP                                                                     \
    "  --endpoint-url URL  S3 endpoint (else $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else\n" \
    "                      radiant's own server at [objectstore] listen); path-style\n"        \
    "  --access-key-id ID  secret from $AWS_SECRET_ACCESS_KEY, else radiant's own keys\n"      \
    "                      (else $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else the first\n"  \
    "                      [access-key] of the configuration for radiant's own server)\n"     \
    "  --region R          signing region (else $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)\n" \
    "  --no-verify-ssl     do not verify the endpoint's TLS certificate\n"                     \
    "  --dry-run           print the plan, change nothing\n"

static const cli_command s3_commands[] = {
    { "undelete", "remove the latest delete markers under a prefix: deleted objects come back",
      "--bucket B --prefix P [--dry-run] [endpoint options]\n\n"
      "For each key under P whose latest entries are delete markers, removes all of those\n"
      "markers (by version id), so the newest data version under them is current again.\n"
      "Keys with nothing but delete markers are reported as skipped. --prefix \"\" is the\n"
      "whole bucket.\n\n" ENDPOINT_HELP, cmd_undelete },
    { "restore-to-time", "make the versions current at T current again, keeping all history",
      "--bucket B --prefix P --time T [--dry-run] [endpoint options]\n\n"
      "For each key under P: the version current at T (the newest entry with LastModified\n"
      "<= T; T is inclusive, to the millisecond) is copied onto the key as a new version\n"
      "when it is not the current one; a key that did not exist at T (or was deleted) but\n"
      "exists now gets a delete marker. Nothing is removed: the history keeps every version.\n"
      "T is ISO 8601 with a zone: 2024-12-24T10:30:00Z, 2024-12-24T10:30:00.250+01:00.\n\n"
      ENDPOINT_HELP, cmd_restore_to_time },
    { "create-access-key", "a new access key for radiant's object store (secret shown once)",
      "\n\nRecords a random key pair in the catalog; `radiant serve` accepts it at once.\n",
      cmd_create_key },
    { "delete-access-key", "delete an access key made by create-access-key",
      "--access-key-id ID\n\nKeys of [access-key ID] sections are refused: remove them from "
      "the configuration.\n", cmd_delete_key },
    { "list-access-keys", "access keys of the configuration and of the catalog",
      "\n", cmd_list_keys },
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_s3_group = {
    "s3", "object storage: access keys; undelete and restore-to-time of versioned buckets",
    s3_commands,
    false,   /* recovery may run anywhere; the key commands drop root themselves */
};
