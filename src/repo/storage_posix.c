/* POSIX directory storage driver: the default, embedded repository location.
 * put() writes a temporary file beside the target, fsyncs it, renames it into
 * place and fsyncs the directory, so objects appear whole or not at all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/crypto.h"
#include "repo/storage.h"

struct posix_drv {
    char *root;
};

static char *full_path(struct posix_drv *d, const char *path)
{
    return rd_path_join(d->root, path);
}

static int posix_init(void *drv)
{
    struct posix_drv *d = drv;
    return rd_fs_mkdir_p(d->root, 0700);
}

static int posix_get(void *drv, const char *path, uint64_t off, uint64_t len, rd_buf *out)
{
    char *full = full_path(drv, path);
    int rc = 0;
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? rd_fail(RD_ENOENT, "%s does not exist", full)
                             : rd_fail_errno(RD_EIO, "cannot open %s", full);
        goto out;
    }
    if (len == 0) {
        struct stat st;
        if (fstat(fd, &st) != 0) {
            rc = rd_fail_errno(RD_EIO, "cannot stat %s", full);
            goto out_close;
        }
        if ((uint64_t)st.st_size < off) {
            rc = rd_fail(RD_ECORRUPT, "%s is shorter than expected", full);
            goto out_close;
        }
        len = (uint64_t)st.st_size - off;
    }
    rd_buf_reset(out);
    rd_buf_reserve(out, (size_t)len);
    rc = rd_fs_pread_full(fd, out->data, (size_t)len, off);
    if (rc < 0)
        rc = rd_fail(RD_ECORRUPT, "%s is shorter than expected (wanted %llu bytes at %llu)",
                     full, (unsigned long long)len, (unsigned long long)off);
    else
        out->len = (size_t)len;
out_close:
    close(fd);
out:
    free(full);
    return rc;
}

static int posix_put(void *drv, const char *path, const void *data, size_t len)
{
    char *full = full_path(drv, path);
    char *slash = strrchr(full, '/');
    *slash = '\0';
    int rc = rd_fs_mkdir_p(full, 0700);
    *slash = '/';
    if (rc == 0) {
        /* A random temporary name: several threads or processes may write. */
        uint8_t rnd[8];
        char hex[17];
        rc = rd_random_bytes(rnd, sizeof rnd);
        rd_hex_encode(rnd, sizeof rnd, hex);
        char *tmp = rd_asprintf("%s.%s.tmp", full, hex);
        int fd = rc < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (rc == 0 && fd < 0)
            rc = rd_fail_errno(RD_EIO, "cannot create %s", tmp);
        if (rc == 0)
            rc = rd_fs_write_full(fd, data, len);
        if (rc == 0 && fsync(fd) != 0)
            rc = rd_fail_errno(RD_EIO, "cannot fsync %s", tmp);
        if (fd >= 0 && close(fd) != 0 && rc == 0)
            rc = rd_fail_errno(RD_EIO, "cannot close %s", tmp);
        if (rc == 0 && rename(tmp, full) != 0)
            rc = rd_fail_errno(RD_EIO, "cannot rename %s", tmp);
        if (rc < 0)
            unlink(tmp);
        else
            rc = rd_fs_fsync_parent(full);
        free(tmp);
    }
    free(full);
    return rc;
}

static int list_dir(const char *base, const char *rel, repo_storage_list_cb cb, void *arg)
{
    char *dirpath = rel[0] ? rd_path_join(base, rel) : rd_strdup(base);
    DIR *dir = opendir(dirpath);
    int rc = 0;
    if (!dir) {
        rc = errno == ENOENT ? 0 : rd_fail_errno(RD_EIO, "cannot list %s", dirpath);
        free(dirpath);
        return rc;
    }
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp"))
            continue;
        char *child = rel[0] ? rd_asprintf("%s/%s", rel, e->d_name) : rd_strdup(e->d_name);
        char *full = rd_path_join(base, child);
        struct stat st;
        if (lstat(full, &st) != 0) {
            if (errno != ENOENT)
                rc = rd_fail_errno(RD_EIO, "cannot stat %s", full);
        } else if (S_ISDIR(st.st_mode)) {
            rc = list_dir(base, child, cb, arg);
        } else if (S_ISREG(st.st_mode)) {
            rc = cb(arg, child, (uint64_t)st.st_size);
        }
        free(full);
        free(child);
    }
    closedir(dir);
    free(dirpath);
    return rc;
}

static int posix_list(void *drv, const char *dir, repo_storage_list_cb cb, void *arg)
{
    char *base = full_path(drv, dir);
    int rc = list_dir(base, "", cb, arg);
    free(base);
    return rc;
}

/* Temporary files are "<name>.<16 hex>.tmp"; a crash between create and
 * rename leaves them behind. */
static int clean_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : rd_fail_errno(RD_EIO, "cannot list %s", dir);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *full = rd_path_join(dir, e->d_name);
        size_t n = strlen(e->d_name);
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
            rc = clean_dir(full);
        else if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0 && unlink(full) != 0 &&
                 errno != ENOENT)
            rc = rd_fail_errno(RD_EIO, "cannot remove %s", full);
        free(full);
    }
    closedir(d);
    return rc;
}

static int posix_clean(void *drv)
{
    return clean_dir(((struct posix_drv *)drv)->root);
}

static int posix_remove(void *drv, const char *path)
{
    char *full = full_path(drv, path);
    int rc = 0;
    if (unlink(full) != 0 && errno != ENOENT)
        rc = rd_fail_errno(RD_EIO, "cannot remove %s", full);
    else
        rc = rd_fs_fsync_parent(full);
    if (rc < 0 && errno == ENOENT)
        rc = 0;
    free(full);
    return rc;
}

static int posix_stat(void *drv, const char *path, uint64_t *size)
{
    char *full = full_path(drv, path);
    struct stat st;
    int rc = 0;
    if (stat(full, &st) != 0)
        rc = errno == ENOENT ? rd_fail(RD_ENOENT, "%s does not exist", full)
                             : rd_fail_errno(RD_EIO, "cannot stat %s", full);
    else
        *size = (uint64_t)st.st_size;
    free(full);
    return rc;
}

static const char *posix_location(void *drv)
{
    return ((struct posix_drv *)drv)->root;
}

static void posix_free(void *drv)
{
    struct posix_drv *d = drv;
    if (!d)
        return;
    free(d->root);
    free(d);
}

static const struct repo_storage_ops posix_ops = {
    .name = "posix",
    .init = posix_init,
    .get = posix_get,
    .put = posix_put,
    .list = posix_list,
    .remove = posix_remove,
    .stat = posix_stat,
    .clean = posix_clean,
    .location = posix_location,
    .free = posix_free,
};

int repo_storage_posix_new(const char *root, repo_storage **out)
{
    if (!root || !*root)
        return rd_fail(RD_ECONFIG, "a posix repository needs a path");
    struct posix_drv *d = rd_calloc(1, sizeof *d);
    d->root = rd_strdup(root);
    size_t n = strlen(d->root);
    while (n > 1 && d->root[n - 1] == '/')
        d->root[--n] = '\0';
    return repo_storage_new(&posix_ops, d, out);
}
