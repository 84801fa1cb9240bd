/* Storage drivers: the one interface through which the repository reaches its
 * files, wherever they live (DESIGN.md section 3). Private to src/repo.
 *
 * Paths are '/'-separated and relative to the repository root ("config",
 * "data/ab/ab12...", "index/..."). Contracts every driver keeps:
 *  - put() is atomic and durable: when it returns 0 a reader sees the whole new
 *    content, even after a crash; before that, the old content or nothing.
 *  - get() with len 0 reads the whole object; otherwise exactly [off, off+len)
 *    or -RD_ECORRUPT when the object is shorter. A missing object is -RD_ENOENT.
 *  - list() reports every object whose path starts with dir + "/", recursively,
 *    with the path relative to dir, in no particular order.
 *  - remove() of a missing object succeeds.
 * Drivers are used from several threads at once and must be safe for that. */
#ifndef RD_REPO_STORAGE_H
#define RD_REPO_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"

typedef int (*repo_storage_list_cb)(void *arg, const char *path, uint64_t size);

struct repo_storage_ops {
    const char *name;
    /* Creates what the storage needs (directory, bucket check). */
    int (*init)(void *drv);
    int (*get)(void *drv, const char *path, uint64_t off, uint64_t len, rd_buf *out);
    int (*put)(void *drv, const char *path, const void *data, size_t len);
    int (*list)(void *drv, const char *dir, repo_storage_list_cb cb, void *arg);
    int (*remove)(void *drv, const char *path);
    int (*stat)(void *drv, const char *path, uint64_t *size);
    /* Optional: removes the debris of writes interrupted by a crash (POSIX
     * temporary files). Only called under the exclusive lock. */
    int (*clean)(void *drv);
    /* Human-readable location for messages ("/srv/repo", "s3://bucket/prefix"). */
    const char *(*location)(void *drv);
    void (*free)(void *drv);
};

typedef struct repo_storage {
    const struct repo_storage_ops *ops;
    void *drv;
} repo_storage;

/* Creates the driver named by a [repo NAME] config section. */
int repo_storage_from_config(const rd_config_section *sec, repo_storage **out);
/* Takes ownership of drv; validates that ops has every required member. */
int repo_storage_new(const struct repo_storage_ops *ops, void *drv, repo_storage **out);
void repo_storage_free(repo_storage *st);

int repo_storage_posix_new(const char *root, repo_storage **out);
int repo_storage_s3_new(const rd_config_section *sec, repo_storage **out);

/* Thin wrappers: every caller goes through these (one place to trace). */
int repo_storage_init(repo_storage *st);
int repo_storage_get(repo_storage *st, const char *path, uint64_t off, uint64_t len, rd_buf *out);
int repo_storage_put(repo_storage *st, const char *path, const void *data, size_t len);
int repo_storage_list(repo_storage *st, const char *dir, repo_storage_list_cb cb, void *arg);
int repo_storage_remove(repo_storage *st, const char *path);
int repo_storage_stat(repo_storage *st, const char *path, uint64_t *size);
const char *repo_storage_location(repo_storage *st);
int repo_storage_clean(repo_storage *st);

#endif
