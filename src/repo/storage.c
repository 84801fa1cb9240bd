/* The storage interface's constructor, validation and thin call wrappers. */
#include "repo/storage.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

int repo_storage_new(const struct repo_storage_ops *ops, void *drv, repo_storage **out)
{
    if (!ops || !ops->name || !ops->init || !ops->get || !ops->put || !ops->list ||
        !ops->remove || !ops->stat || !ops->location || !ops->free)
        return rd_fail(RD_EINTERNAL, "storage driver %s lacks a required operation",
                       ops && ops->name ? ops->name : "(unnamed)");
    repo_storage *st = rd_calloc(1, sizeof *st);
    st->ops = ops;
    st->drv = drv;
    *out = st;
    return 0;
}

void repo_storage_free(repo_storage *st)
{
    if (!st)
        return;
    st->ops->free(st->drv);
    free(st);
}

int repo_storage_from_config(const rd_config_section *sec, repo_storage **out)
{
    const char *type = rd_config_get(sec, "type");
    if (type && strcmp(type, "s3") == 0)
        return repo_storage_s3_new(sec, out);
    return repo_storage_posix_new(rd_config_get(sec, "path"), out);
}

int repo_storage_init(repo_storage *st) { return st->ops->init(st->drv); }

int repo_storage_get(repo_storage *st, const char *path, uint64_t off, uint64_t len, rd_buf *out)
{
    RD_DEBUG("storage get %s [%llu,+%llu]", path, (unsigned long long)off,
             (unsigned long long)len);
    return st->ops->get(st->drv, path, off, len, out);
}

int repo_storage_put(repo_storage *st, const char *path, const void *data, size_t len)
{
    RD_DEBUG("storage put %s (%zu bytes)", path, len);
    return st->ops->put(st->drv, path, data, len);
}

int repo_storage_list(repo_storage *st, const char *dir, repo_storage_list_cb cb, void *arg)
{
    return st->ops->list(st->drv, dir, cb, arg);
}

int repo_storage_remove(repo_storage *st, const char *path)
{
    RD_DEBUG("storage remove %s", path);
    return st->ops->remove(st->drv, path);
}

int repo_storage_stat(repo_storage *st, const char *path, uint64_t *size)
{
    return st->ops->stat(st->drv, path, size);
}

const char *repo_storage_location(repo_storage *st) { return st->ops->location(st->drv); }

int repo_storage_clean(repo_storage *st)
{
    return st->ops->clean ? st->ops->clean(st->drv) : 0;
}
