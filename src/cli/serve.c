/* radiant serve: runs the WAL receivers, the object store's S3 API and the
 * scheduler (automated backups in each cluster's preferred window,
 * retention, the object store's lifecycle) until stopped; --once runs one
 * pass of the scheduler. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "daemon/daemon.h"

int cli_serve(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "once", no_argument, NULL, 'o' },
        { "interval", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    bool once = false;
    long interval = 60;
    optind = 1;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":", opts, NULL)) != -1;) {
        if (c == 'o') {
            once = true;
        } else if (c == 'i') {
            char *end;
            interval = strtol(optarg, &end, 10);
            if (*end || interval < 1 || interval > 86400)
                return rd_fail(RD_EUSAGE, "radiant serve: --interval must be 1 to 86400 seconds,"
                               " not '%s'", optarg);
        } else {
            return rd_fail(RD_EUSAGE, "radiant serve: unknown option or missing value '%s'; see "
                           "'radiant help serve'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return rd_fail(RD_EUSAGE, "radiant serve: unexpected argument '%s'", argv[optind]);
    const rd_config *cfg;
    int rc = cli_become_run_as(ctx);
    if (rc == 0)
        rc = cli_config(ctx, &cfg);
    if (rc < 0)
        return rc;
    if (!once)
        return daemon_serve(cfg, (int)interval);
    daemon_pass_report r;
    rc = daemon_pass(cfg, NULL, &r);
    if (rc < 0)
        return rc;
    if (ctx->output == CLI_OUTPUT_JSON) {
        json_t *o = json_pack("{s:i,s:i,s:i,s:I,s:I}", "clusters", r.clusters,
                              "backups_taken", r.backups_taken,
                              "backups_failed", r.backups_failed,
                              "backups_expired", (json_int_t)r.backups_expired,
                              "wal_expired", (json_int_t)r.wal_expired);
        if (r.objstore)
            json_object_set_new(o, "objstore", json_pack(
                "{s:i,s:i,s:i,s:i}", "current_expired", r.sweep.current_expired,
                "noncurrent_removed", r.sweep.noncurrent_removed,
                "markers_removed", r.sweep.markers_removed,
                "uploads_aborted", r.sweep.uploads_aborted));
        cli_print_json(json_pack("{s:o}", "serve", o));
    } else {
        printf("serve pass: %u cluster(s), %u automated backup(s) taken, %u failed, %llu "
               "expired, %llu WAL file(s) expired\n", r.clusters, r.backups_taken,
               r.backups_failed, (unsigned long long)r.backups_expired,
               (unsigned long long)r.wal_expired);
        if (r.objstore)
            printf("object store lifecycle: %u current version(s) expired, %u noncurrent "
                   "version(s) removed, %u delete marker(s) removed, %u upload(s) aborted\n",
                   r.sweep.current_expired, r.sweep.noncurrent_removed, r.sweep.markers_removed,
                   r.sweep.uploads_aborted);
    }
    return r.backups_failed ? rd_fail(RD_EIO, "%u automated backup(s) failed; see describe-events",
                                      r.backups_failed) : 0;
}
