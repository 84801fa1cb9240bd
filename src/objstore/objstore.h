/* radiant's S3-compatible object store (dr-guide "S3 Backups", Scenario 4:
 * Accidental Deletion): the HTTP server `radiant serve` runs on
 * [objectstore] listen, and the access keys it accepts. The module's only
 * public header (DESIGN.md section 4); store.h, sigv4.h, chunked.h, xml.h
 * and errors.h are private to src/objstore. Prefix os3_. */
#ifndef RD_OBJSTORE_H
#define RD_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/config.h"

/* ------------------------------------------------------------- server -- */

typedef struct os3_server os3_server;

/* Opens the store under STATE/objstore, applies the [bucket NAME] sections
 * of the configuration (creating missing buckets, setting versioning and the
 * noncurrent-version-expiration-days lifecycle rule) and starts serving the
 * S3 API on [objectstore] listen. -RD_ECONFIG when there is no
 * [objectstore] section or no listen key; -RD_EEXIST when the address is in
 * use; -RD_ELOCKED when another process has the store open. */
int os3_server_start(const rd_config *cfg, os3_server **out);
/* Stops accepting, finishes or aborts requests in flight, closes the store.
 * NULL is fine. */
void os3_server_stop(os3_server *s);
/* The port actually bound (useful with listen = 127.0.0.1:0). */
int os3_server_port(const os3_server *s);

typedef struct os3_sweep_report {
    unsigned current_expired, noncurrent_removed, markers_removed, uploads_aborted;
} os3_sweep_report;

/* Applies every bucket's lifecycle configuration as of now (rd_clock_now()
 * in serve's passes; tests move the clock, never sleep). */
int os3_server_sweep(os3_server *s, int64_t now, os3_sweep_report *report);
/* The same without a server (`radiant serve --once`): opens the store,
 * applies the [bucket NAME] sections, sweeps and closes it. -RD_ELOCKED
 * while a running server has the store open. */
int os3_sweep_once(const rd_config *cfg, int64_t now, os3_sweep_report *report);

/* -------------------------------------------------------- access keys -- */

#define OS3_ACCESS_KEY_ID_LEN 20      /* "AKIA" + 16 uppercase letters and digits */
#define OS3_SECRET_KEY_LEN 40         /* base64-alphabet characters, as AWS's */

typedef struct os3_access_key {
    char id[OS3_ACCESS_KEY_ID_LEN + 1];
    char secret[OS3_SECRET_KEY_LEN + 1];   /* empty in listings */
    int64_t created_us;
    const char *source;                    /* "config" or "catalog" (static) */
} os3_access_key;

/* radiant s3 create-access-key: a new random key pair recorded in the
 * catalog (table access_keys); the secret is shown only now. */
int os3_access_key_create(rd_catalog *cat, os3_access_key *out);
/* radiant s3 delete-access-key: -RD_ENOENT when the catalog has no such key;
 * keys from the configuration are refused (-RD_EUSAGE: edit the config). */
int os3_access_key_delete(const rd_config *cfg, rd_catalog *cat, const char *id);
/* Keys of the configuration ([access-key ID] with secret-access-key-file)
 * and of the catalog, without secrets. Caller frees *out. */
int os3_access_key_list(const rd_config *cfg, rd_catalog *cat, os3_access_key **out, size_t *n);
/* The secret of an access key id, from the configuration first, then the
 * catalog; -RD_ENOENT when unknown. What the server's SigV4 check calls. */
int os3_access_key_secret(const rd_config *cfg, rd_catalog *cat, const char *id, char *secret,
                          size_t len);

#endif
