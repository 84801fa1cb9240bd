/* radiant serve: everything continuous (DESIGN.md section 2). For now, for
 * PostgreSQL clusters: a WAL receiver each, and the scheduler (one automated
 * backup a day inside each cluster's preferred backup window, and the
 * retention sweep). Prefix daemon_. */
#ifndef RD_DAEMON_H
#define RD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

typedef struct daemon_pass_report {
    unsigned clusters;               /* clusters looked at */
    unsigned backups_taken, backups_failed;
    uint64_t backups_expired, wal_expired;
} daemon_pass_report;

/* One pass over every available cluster, at rd_clock_now(). Failures of one
 * cluster are logged and recorded as events; the pass goes on with the next. */
int daemon_pass(const rd_config *cfg, daemon_pass_report *report);

/* Runs a WAL receiver per available cluster, and passes every interval_s
 * seconds, until SIGTERM or SIGINT; then stops the receivers and returns 0
 * (a pass in progress is finished first). */
int daemon_serve(const rd_config *cfg, int interval_s);

#endif
