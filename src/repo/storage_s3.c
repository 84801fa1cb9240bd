/* S3 storage driver: a repository kept in a bucket of any S3-compatible store,
 * under an optional key prefix ("backups/prod" -> "backups/prod/data/ab/..").
 *
 * How it keeps the contract of storage.h:
 *  - put() is one PutObject. S3 never exposes a partial object and acknowledges
 *    a PUT only once the object is stored ("Amazon S3 never adds partial
 *    objects; if you receive a success response, Amazon S3 added the entire
 *    object", PutObject in the S3 API reference), so no temp-and-rename dance.
 *  - get() with a range checks that exactly len bytes came back; a short
 *    answer means the object is shorter than the caller expected.
 *  - remove() succeeds on a missing key (S3 DeleteObject does anyway).
 *  - The s3 client is safe from several threads, and the driver holds no other
 *    mutable state. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "repo/storage.h"
#include "s3client/s3client.h"

#define S3_SECRET_FILE_MAX 4096

struct s3_drv {
    s3_client *client;
    char *repo;          /* section name, for messages */
    char *endpoint;
    char *bucket;
    char *prefix;        /* without leading or trailing '/'; "" when none */
    char *location;
};

/* The object key of a repository path. */
static char *object_key(struct s3_drv *d, const char *path)
{
    while (*path == '/')
        path++;
    return d->prefix[0] ? rd_asprintf("%s/%s", d->prefix, path) : rd_strdup(path);
}

static int s3drv_init(void *drv)
{
    struct s3_drv *d = drv;
    int rc = s3_head_bucket(d->client);
    if (rc == -RD_ENOENT)
        return rd_fail(RD_ENOENT, "[repo %s] bucket %s does not exist at %s; create it first",
                       d->repo, d->bucket, d->endpoint);
    if (rc < 0)
        return rd_fail_wrap(rc, "[repo %s] bucket %s is not reachable at %s", d->repo,
                            d->bucket, d->endpoint);
    return 0;
}

static int s3drv_get(void *drv, const char *path, uint64_t off, uint64_t len, rd_buf *out)
{
    struct s3_drv *d = drv;
    char *key = object_key(d, path);
    int rc = s3_get_object(d->client, key, off, len, out);
    if (rc == 0 && len > 0 && out->len != len)
        rc = rd_fail(RD_ECORRUPT, "s3://%s/%s is shorter than expected "
                     "(wanted %llu bytes at %llu, got %zu)", d->bucket, key,
                     (unsigned long long)len, (unsigned long long)off, out->len);
    if (rc < 0)
        rd_buf_reset(out);
    free(key);
    return rc;
}

static int s3drv_put(void *drv, const char *path, const void *data, size_t len)
{
    struct s3_drv *d = drv;
    char *key = object_key(d, path);
    int rc = s3_put_object(d->client, key, data, len);
    free(key);
    return rc;
}

struct list_ctx {
    const char *prefix;          /* the listed key prefix, ending in '/' or "" */
    size_t skip;                 /* its length */
    repo_storage_list_cb cb;
    void *arg;
};

static int list_one(void *arg, const char *key, uint64_t size)
{
    struct list_ctx *lc = arg;
    size_t n = strlen(key);
    if (n < lc->skip || strncmp(key, lc->prefix, lc->skip) != 0)
        return rd_fail(RD_ENET, "s3 list: the server answered key %s for prefix '%s'", key,
                       lc->prefix);
    /* Keys ending in '/' are "folder" markers some tools create; they are not
     * repository files. */
    if (n == lc->skip || key[n - 1] == '/')
        return 0;
    return lc->cb(lc->arg, key + lc->skip, size);
}

static int s3drv_list(void *drv, const char *dir, repo_storage_list_cb cb, void *arg)
{
    struct s3_drv *d = drv;
    while (*dir == '/')
        dir++;
    size_t n = strlen(dir);
    while (n > 0 && dir[n - 1] == '/')
        n--;
    char *prefix;
    if (n == 0)
        prefix = d->prefix[0] ? rd_asprintf("%s/", d->prefix) : rd_strdup("");
    else if (d->prefix[0])
        prefix = rd_asprintf("%s/%.*s/", d->prefix, (int)n, dir);
    else
        prefix = rd_asprintf("%.*s/", (int)n, dir);
    struct list_ctx lc = { .prefix = prefix, .skip = strlen(prefix), .cb = cb, .arg = arg };
    int rc = s3_list_objects(d->client, prefix, list_one, &lc);
    free(prefix);
    return rc;
}

static int s3drv_remove(void *drv, const char *path)
{
    struct s3_drv *d = drv;
    char *key = object_key(d, path);
    int rc = s3_delete_object(d->client, key);
    if (rc == -RD_ENOENT)
        rc = 0;
    free(key);
    return rc;
}

static int s3drv_stat(void *drv, const char *path, uint64_t *size)
{
    struct s3_drv *d = drv;
    char *key = object_key(d, path);
    int rc = s3_head_object(d->client, key, size);
    free(key);
    return rc;
}

static const char *s3drv_location(void *drv)
{
    return ((struct s3_drv *)drv)->location;
}

static void s3drv_free(void *drv)
{
    struct s3_drv *d = drv;
    if (!d)
        return;
    s3_client_free(d->client);
    free(d->repo);
    free(d->endpoint);
    free(d->bucket);
    free(d->prefix);
    free(d->location);
    free(d);
}

static const struct repo_storage_ops s3_ops = {
    .name = "s3",
    .init = s3drv_init,
    .get = s3drv_get,
    .put = s3drv_put,
    .list = s3drv_list,
    .remove = s3drv_remove,
    .stat = s3drv_stat,
    .location = s3drv_location,
    .free = s3drv_free,
};

/* Reads the secret access key from the file or environment variable the
 * section names. *secret is a new allocation the caller wipes and frees. */
static int read_secret(const rd_config_section *sec, const char *repo, char **secret)
{
    const char *file = rd_config_get(sec, "secret-access-key-file");
    const char *env = rd_config_get(sec, "secret-access-key-env");
    *secret = NULL;
    if (file && env)
        return rd_fail(RD_ECONFIG, "[repo %s] sets both secret-access-key-file and "
                       "secret-access-key-env; keep one", repo);
    if (env) {
        const char *v = getenv(env);
        if (!v || !*v)
            return rd_fail(RD_ECONFIG, "[repo %s] secret-access-key-env names %s, which is "
                           "not set", repo, env);
        *secret = rd_strdup(v);
        return 0;
    }
    rd_buf b = RD_BUF_INIT;
    int rc = rd_fs_read_file(file, S3_SECRET_FILE_MAX, &b);
    if (rc < 0) {
        rd_buf_free(&b);
        return rd_fail_wrap(rc == -RD_ENOENT ? -RD_ECONFIG : rc,
                            "[repo %s] cannot read secret-access-key-file", repo);
    }
    /* Editors and `echo` leave a trailing newline; it is not part of the key. */
    size_t n = b.len;
    while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
        n--;
    if (n == 0 || memchr(b.data, '\0', n)) {
        rc = rd_fail(RD_ECONFIG, "[repo %s] secret-access-key-file %s holds no usable key",
                     repo, file);
    } else {
        *secret = rd_asprintf("%.*s", (int)n, (const char *)b.data);
    }
    explicit_bzero(b.data, b.cap);
    rd_buf_free(&b);
    return rc;
}

int repo_storage_s3_new(const rd_config_section *sec, repo_storage **out)
{
    const char *repo = rd_config_section_name(sec) ? rd_config_section_name(sec) : "";
    const char *endpoint = rd_config_get(sec, "endpoint");
    const char *bucket = rd_config_get(sec, "bucket");
    const char *akid = rd_config_get(sec, "access-key-id");
    const char *style = rd_config_get(sec, "uri-style");
    const char *prefix = rd_config_get(sec, "prefix");
    *out = NULL;

    if (!endpoint || !bucket)
        return rd_fail(RD_ECONFIG, "[repo %s] of type s3 needs endpoint and bucket", repo);
    if (!akid || (!rd_config_get(sec, "secret-access-key-file") &&
                  !rd_config_get(sec, "secret-access-key-env")))
        return rd_fail(RD_ECONFIG, "[repo %s] needs access-key-id and secret-access-key-file "
                       "or secret-access-key-env", repo);
    char *secret = NULL;
    int rc = read_secret(sec, repo, &secret);
    if (rc < 0)
        return rc;

    s3_client_options opts = {
        .endpoint = endpoint,
        .region = rd_config_get(sec, "region"),
        .bucket = bucket,
        .access_key_id = akid,
        .secret_access_key = secret,
        .path_style = !style || strcmp(style, "path") == 0,
        .verify_tls = rd_config_get_bool(sec, "verify-tls", true),
    };
    s3_client *client = NULL;
    rc = s3_client_new(&opts, &client);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    if (rc < 0)
        return rd_fail_wrap(rc, "[repo %s]", repo);

    struct s3_drv *d = rd_calloc(1, sizeof *d);
    d->client = client;
    d->repo = rd_strdup(repo);
    d->endpoint = rd_strdup(endpoint);
    d->bucket = rd_strdup(bucket);
    const char *p = prefix ? prefix : "";
    while (*p == '/')
        p++;
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    d->prefix = rd_asprintf("%.*s", (int)n, p);
    d->location = d->prefix[0] ? rd_asprintf("s3://%s/%s at %s", bucket, d->prefix, endpoint)
                               : rd_asprintf("s3://%s at %s", bucket, endpoint);
    rc = repo_storage_new(&s3_ops, d, out);
    if (rc < 0)
        s3drv_free(d);
    return rc;
}
