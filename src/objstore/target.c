/* Where a radiant command that is an S3 *client* talks to, and as whom:
 * `radiant s3 undelete` / `restore-to-time` and the object-recovery runbook
 * resolve their endpoint and credentials here, so that the two cannot drift
 * apart. The aws CLI's flags and variables come first (recovery must work
 * against any S3 endpoint, on a machine without a radiant configuration);
 * radiant's own server and keys are the fallback, which is why this lives
 * with the object store rather than in the generic client. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "objstore/objstore.h"
#include "pg/pg.h"

#define DEFAULT_REGION "us-east-1"

/* An empty variable counts as unset, as the aws CLI does. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void os3_target_free(os3_target *t)
{
    if (!t)
        return;
    free(t->endpoint);
    free(t->access_key_id);
    if (t->secret)
        explicit_bzero(t->secret, strlen(t->secret));
    free(t->secret);
    free(t->region);
    memset(t, 0, sizeof *t);
}

char *os3_own_endpoint(const rd_config *cfg)
{
    const rd_config_section *os = cfg ? rd_config_find(cfg, "objectstore", NULL) : NULL;
    const char *listen = os ? rd_config_get(os, "listen") : NULL;
    if (!listen)
        return NULL;
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return rd_asprintf("http://%s", listen);
    size_t hostlen = (size_t)(colon - listen);
    if ((hostlen == 7 && strncmp(listen, "0.0.0.0", 7) == 0) || hostlen == 0)
        return rd_asprintf("http://127.0.0.1%s", colon);
    if (hostlen == 4 && strncmp(listen, "[::]", 4) == 0)
        return rd_asprintf("http://[::1]%s", colon);
    return rd_asprintf("http://%s", listen);
}

/* The secret of a radiant access key: [access-key ID] of the configuration,
 * else the catalog (keys of create-access-key). The catalog is opened as
 * `radiant serve` opens it, so that run as root it stays the run-as user's. */
static int radiant_secret(const rd_config *cfg, const char *id, char **secret)
{
    char buf[4096];
    rd_catalog *cat = NULL;
    int rc = 0;
    if (!rd_config_find(cfg, "access-key", id))
        rc = pgc_catalog_open(cfg, &cat);
    if (rc == 0)
        rc = os3_access_key_secret(cfg, cat, id, buf, sizeof buf);
    rd_catalog_close(cat);
    if (rc == 0)
        *secret = rd_strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static int credentials(const rd_config *cfg, const char *config_path,
                       const os3_target_args *a, os3_target *t)
{
    const char *env_id = env("AWS_ACCESS_KEY_ID"), *env_secret = env("AWS_SECRET_ACCESS_KEY");
    if (a->access_key_id) {
        t->access_key_id = rd_strdup(a->access_key_id);
        /* The environment's secret belongs to the environment's key id. */
        if (env_secret && (!env_id || strcmp(env_id, a->access_key_id) == 0)) {
            t->secret = rd_strdup(env_secret);
            return 0;
        }
        if (!cfg)
            return rd_fail(RD_EUSAGE, "no secret for access key %s: set AWS_SECRET_ACCESS_KEY "
                           "(no radiant configuration at %s to look it up in)",
                           a->access_key_id, config_path ? config_path : "?");
        int rc = radiant_secret(cfg, a->access_key_id, &t->secret);
        if (rc == -RD_ENOENT)
            return rd_fail(RD_ENOENT, "no secret for access key %s: it is neither a radiant "
                           "access key nor given in AWS_SECRET_ACCESS_KEY", a->access_key_id);
        return rc;
    }
    if (env_id || env_secret) {
        if (!env_id || !env_secret)
            return rd_fail(RD_EUSAGE, "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                           "or neither");
        t->access_key_id = rd_strdup(env_id);
        t->secret = rd_strdup(env_secret);
        return 0;
    }
    const rd_config_section *key = t->own ? rd_config_at(cfg, "access-key", 0) : NULL;
    if (!key) {
        t->hint = true;
        return rd_fail(RD_EUSAGE, "no credentials: give --access-key-id ID or set "
                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY%s",
                       t->own ? " (the configuration has no [access-key ID] section)" : "");
    }
    t->access_key_id = rd_strdup(rd_config_section_name(key));
    return radiant_secret(cfg, t->access_key_id, &t->secret);
}

int os3_target_resolve(const rd_config *cfg, const char *config_path, const os3_target_args *a,
                       os3_target *t)
{
    memset(t, 0, sizeof *t);
    const char *ep = a->endpoint_url ? a->endpoint_url : env("AWS_ENDPOINT_URL_S3");
    if (!ep)
        ep = env("AWS_ENDPOINT_URL");
    if (ep) {
        t->endpoint = rd_strdup(ep);
    } else {
        t->endpoint = os3_own_endpoint(cfg);
        t->own = t->endpoint != NULL;
        if (!t->own) {
            t->hint = true;
            return rd_fail(RD_EUSAGE, "no S3 endpoint: give --endpoint-url URL (or set "
                           "AWS_ENDPOINT_URL), or configure [objectstore] listen in %s",
                           config_path ? config_path : "the configuration");
        }
    }
    const char *region = a->region ? a->region : env("AWS_REGION");
    if (!region)
        region = env("AWS_DEFAULT_REGION");
    t->region = rd_strdup(region ? region : DEFAULT_REGION);
    return credentials(cfg, config_path, a, t);
}

int os3_target_client(const os3_target *t, const char *bucket, bool verify_tls,
                      s3_client **out)
{
    s3_client_options o = { .endpoint = t->endpoint, .region = t->region, .bucket = bucket,
                            .access_key_id = t->access_key_id,
                            .secret_access_key = t->secret, .path_style = true,
                            .verify_tls = verify_tls, .timeout_seconds = 60 };
    return s3_client_new(&o, out);
}
