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
#include "s3client/s3client.h"

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

/* ------------------------------------------------- client endpoints -- */

/* The S3 endpoint and credentials a radiant command acting as a client uses
 * (`radiant s3 undelete`/`restore-to-time`, the object-recovery runbook):
 * one resolution for all of them (src/objstore/target.c, docs/cli.md
 * "radiant s3", ENDPOINT). */
typedef struct os3_target_args {
    const char *endpoint_url;      /* --endpoint-url; NULL when not given */
    const char *access_key_id;     /* --access-key-id; NULL when not given */
    const char *region;            /* --region; NULL when not given */
} os3_target_args;

typedef struct os3_target {
    char *endpoint;                /* "http://127.0.0.1:9000" */
    char *access_key_id;
    char *secret;                  /* wiped by os3_target_free */
    char *region;
    bool own;                      /* radiant's own server ([objectstore] listen) */
    bool hint;                     /* the failure was a missing endpoint or credentials:
                                      a usage error the CLI points to its help for */
} os3_target;

/* Endpoint: a->endpoint_url, $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else
 * radiant's own server (os3_own_endpoint). Region: a->region, $AWS_REGION,
 * $AWS_DEFAULT_REGION, else us-east-1. Credentials: a->access_key_id (its
 * secret from $AWS_SECRET_ACCESS_KEY when $AWS_ACCESS_KEY_ID is unset or the
 * same id, else radiant's own keys), else $AWS_ACCESS_KEY_ID +
 * $AWS_SECRET_ACCESS_KEY, else, for radiant's own server, the first
 * [access-key] of the configuration. cfg may be NULL (no configuration on
 * this machine); config_path names it in messages. Empty variables count as
 * unset. -RD_EUSAGE when there is no endpoint or no credentials, -RD_ENOENT
 * for an --access-key-id radiant does not know. os3_target_free *t in every
 * case. */
int os3_target_resolve(const rd_config *cfg, const char *config_path, const os3_target_args *a,
                       os3_target *t);
void os3_target_free(os3_target *t);
/* http://HOST:PORT of [objectstore] listen (a wildcard address is reached
 * over loopback); NULL when cfg is NULL or has none. Caller frees. */
char *os3_own_endpoint(const rd_config *cfg);
/* A path-style client of bucket at t (60 s per request). */
int os3_target_client(const os3_target *t, const char *bucket, bool verify_tls,
                      s3_client **out);

#endif
