/* radiant serve: everything continuous (DESIGN.md section 2). For now, for
 * PostgreSQL clusters: a WAL receiver each, and the scheduler (one automated
 * backup a day inside each cluster's preferred backup window, and the
 * retention sweep); the S3 API of the object store ([objectstore]) and its
 * lifecycle sweep. Prefix daemon_. */
#ifndef RD_DAEMON_H
#define RD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "objstore/objstore.h"

typedef struct daemon_pass_report {
    unsigned clusters;               /* clusters looked at */
    unsigned backups_taken, backups_failed;
    uint64_t backups_expired, wal_expired;
    bool objstore;                   /* the object store was swept */
    os3_sweep_report sweep;          /* its lifecycle sweep */
} daemon_pass_report;

/* One pass over every available cluster, at rd_clock_now(). Failures of one
 * cluster are logged and recorded as events; the pass goes on with the next.
 * Then the object store's lifecycle sweep, when the configuration has an
 * [objectstore] or a [bucket NAME] section: through objstore when serve runs
 * the server, else by opening the store for the sweep (serve --once). */
int daemon_pass(const rd_config *cfg, os3_server *objstore, daemon_pass_report *report);

/* Starts the object store's S3 server when the configuration has an
 * [objectstore] section (failing at once when it cannot), runs a WAL
 * receiver per available cluster, and passes every interval_s seconds,
 * until SIGTERM or SIGINT; then stops the receivers and the server and
 * returns 0 (a pass in progress is finished first). */
int daemon_serve(const rd_config *cfg, int interval_s);

#endif
