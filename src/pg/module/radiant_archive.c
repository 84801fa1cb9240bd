/* radiant_archive.so: `radiant wal push` as a PostgreSQL 15 archive module
 * (archive_library), so that the archiver stores each WAL file itself
 * instead of starting a process for it.
 *
 *   archive_library = '/usr/lib/radiant/radiant_archive.so'
 *   radiant.config  = '/etc/radiant/radiant.conf'
 *   radiant.cluster = 'radiant-production'
 *
 * A push through the module is pgc_wal_push(), the same code and the same
 * guarantees as the command: the callback returns true only once the file
 * is durable in every repository of the cluster, an identical copy already
 * stored is success, and different content under the name is refused and
 * logged. What it saves is the per-file cost of a new process: exec, page
 * faults, OpenSSL's start-up, reading the configuration and opening the
 * catalog (about 5 ms of a 16 MiB segment's 25, bench/README.md).
 *
 * The archiver runs at the bottom of PostgreSQL's exception stack, where an
 * ERROR becomes FATAL and restarts the process (PostgreSQL 15,
 * src/backend/postmaster/pgarch.c), so failures are reported as WARNING and
 * returned as false; the archiver then retries, as for archive_command.
 *
 * This file alone includes PostgreSQL's server headers; it is built as its
 * own shared library and exports only the module's entry points. */
#include "postgres.h"

#include <signal.h>
#include <sys/stat.h>

#include "fmgr.h"
#include "postmaster/pgarch.h"
#include "utils/guc.h"

#include "core/catalog.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "pg/pg.h"

PG_MODULE_MAGIC;

void _PG_init(void);
void _PG_archive_module_init(ArchiveModuleCallbacks *cb);

static char *config_path_guc;
static char *cluster_guc;

/* What a push needs, kept between files while the configuration file and
 * the settings are unchanged. The archiver is one thread, so one static
 * cache is enough. */
struct push_state {
    char *config_path;
    struct stat config_stat;
    rd_config *cfg;
    rd_catalog *cat;
};

static struct push_state state;

static void state_reset(void)
{
    rd_catalog_close(state.cat);
    rd_config_free(state.cfg);
    free(state.config_path);
    memset(&state, 0, sizeof state);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Loads the configuration and opens the catalog, unless the ones loaded
 * still match the file. */
static int state_load(void)
{
    struct stat st;
    if (stat(config_path_guc, &st) != 0)
        return rd_fail_errno(RD_ECONFIG, "radiant.config: cannot read %s", config_path_guc);
    if (state.cfg && strcmp(state.config_path, config_path_guc) == 0 &&
        same_file(&st, &state.config_stat))
        return 0;
    state_reset();
    int rc = rd_config_load(config_path_guc, &state.cfg);
    if (rc == 0) {
        const rd_config_section *general = rd_config_find(state.cfg, "radiant", NULL);
        const char *level = general ? rd_config_get(general, "log-level") : NULL;
        rd_log_set_level(level ? (enum rd_log_level)rd_log_level_parse(level) : RD_LOG_WARN);
        rc = pgc_catalog_open(state.cfg, &state.cat);
    }
    if (rc < 0) {
        state_reset();
        return rc;
    }
    state.config_path = strdup(config_path_guc);
    state.config_stat = st;
    return 0;
}

static bool archive_configured(void)
{
    if (config_path_guc && *config_path_guc && cluster_guc && *cluster_guc)
        return true;
    ereport(WARNING, (errmsg("radiant_archive: radiant.config and radiant.cluster must be set"),
                      errhint("Set them next to archive_library, as `radiant db "
                              "create-db-cluster` does.")));
    return false;
}

static bool archive_file(const char *file, const char *path)
{
    /* The push runs threads (one per repository, one per zstd frame).
     * PostgreSQL's signal handlers must run on this thread only, so every
     * signal waits until the push is over; it lasts milliseconds. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pgc_identifier_check(cluster_guc, "radiant.cluster");
    if (rc == 0)
        rc = state_load();
    if (rc == 0)
        rc = pgc_wal_push(state.cfg, state.cat, cluster_guc, path);
    if (rc < 0 && rc != -RD_EEXIST)
        state_reset();          /* reload everything on the next try */
    char message[1100];
    snprintf(message, sizeof message, "%s", rc < 0 ? rd_error() : "");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        return true;
    ereport(WARNING, (errmsg("radiant: archiving \"%s\" failed: %s", file, message)));
    return false;
}

static void archive_shutdown(void)
{
    state_reset();
}

void _PG_init(void)
{
    DefineCustomStringVariable("radiant.config", "radiant's configuration file.", NULL,
                               &config_path_guc, "/etc/radiant/radiant.conf", PGC_SIGHUP, 0,
                               NULL, NULL, NULL);
    DefineCustomStringVariable("radiant.cluster",
                               "The DB cluster identifier this server archives WAL as.", NULL,
                               &cluster_guc, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
    MarkGUCPrefixReserved("radiant");
}

void _PG_archive_module_init(ArchiveModuleCallbacks *cb)
{
    cb->check_configured_cb = archive_configured;
    cb->archive_file_cb = archive_file;
    cb->shutdown_cb = archive_shutdown;
}
