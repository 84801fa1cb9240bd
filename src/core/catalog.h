/* The catalog: one SQLite database under the state directory (catalog.db) in
 * WAL mode, holding what radiant knows about clusters, backups, events and the
 * rest. Its schema is a list of numbered migrations applied when it is opened,
 * each in its own transaction, so any radiant can open any older catalog. */
#ifndef RD_CORE_CATALOG_H
#define RD_CORE_CATALOG_H

#include <sqlite3.h>
#include <stdint.h>

typedef struct rd_catalog rd_catalog;

/* Opens (creating when needed) state_dir/catalog.db and migrates it. */
int rd_catalog_open(const char *state_dir, rd_catalog **out);
void rd_catalog_close(rd_catalog *cat);
sqlite3 *rd_catalog_db(rd_catalog *cat);
/* Number of the newest migration applied. */
int rd_catalog_schema_version(rd_catalog *cat);

/* Records an event (describe-events): source type ("repository", "db-cluster"),
 * source id, a category ("backup", "restore", "failure", ...) and a message. */
int rd_catalog_event_add(rd_catalog *cat, const char *source_type, const char *source_id,
                         const char *category, const char *message);

#endif
