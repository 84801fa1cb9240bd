/* POSIX directory storage driver: the default, embedded repository location.
 * put() writes a temporary file beside the target, fsyncs it, renames it into
 * place and fsyncs the directory, so objects appear whole or not at all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdbool.h>
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
    int rc = rd_fs_mkdir_p(d->root, 0700);
    return rc == 0 ? rd_fs_fsync_parent(d->root) : rc;
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

/* Creates the directory of a new object. A directory created here is made
 * durable in its parent at once: otherwise a crash could lose the entry of a
 * directory whose files were all fsynced. */
static int ensure_parent_dir(struct posix_drv *d, const char *full)
{
    char *dir = rd_strdup(full);
    *strrchr(dir, '/') = '\0';
    int rc = 0;
    if (mkdir(dir, 0700) == 0) {
        rc = rd_fs_fsync_parent(dir);
    } else if (errno == ENOENT) {
        /* repository root or data/ itself is missing: create the chain */
        rc = rd_fs_mkdir_p(dir, 0700);
        if (rc == 0)
            rc = rd_fs_fsync_parent(dir);
        if (rc == 0 && strcmp(dir, d->root) != 0)
            rc = rd_fs_fsync_parent(d->root);
    } else if (errno != EEXIST) {
        rc = rd_fail_errno(RD_EIO, "cannot create directory %s", dir);
    }
    free(dir);
    return rc;
}

#define DIRECT_ALIGN 4096
#define DIRECT_MIN (1024 * 1024)

/* Writes len bytes with O_DIRECT: the page cache is bypassed, which on
 * virtual machines costs several times less CPU than buffered writes (see
 * bench/README.md). Direct I/O wants aligned memory and whole blocks: an
 * unaligned buffer goes through an aligned copy, the last partial block is
 * padded and the file truncated back to len. Returns -1 (errno EINVAL) when
 * the file system refuses direct I/O, so the caller can write buffered. */
static int write_direct(int fd, const uint8_t *data, size_t len)
{
    size_t whole = len / DIRECT_ALIGN * DIRECT_ALIGN, tail = len - whole;
    uint8_t *bounce = NULL;
    const uint8_t *src = data;
    if ((uintptr_t)data % DIRECT_ALIGN != 0) {
        bounce = rd_alloc_direct(whole + DIRECT_ALIGN);
        memcpy(bounce, data, whole);
        src = bounce;
    }
    int rc = 0;
    size_t done = 0;
    while (rc == 0 && done < whole) {
        ssize_t n = pwrite(fd, src + done, whole - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            done += (size_t)n;
    }
    if (rc == 0 && tail) {
        uint8_t *last = bounce;
        if (!last)
            last = rd_alloc_direct(DIRECT_ALIGN);
        memcpy(last, data + whole, tail);
        memset(last + tail, 0, DIRECT_ALIGN - tail);
        ssize_t n;
        do
            n = pwrite(fd, last, DIRECT_ALIGN, (off_t)whole);
        while (n < 0 && errno == EINTR);
        if (n != DIRECT_ALIGN)
            rc = -1;
        if (last != bounce)
            free(last);
    }
    free(bounce);
    if (rc == 0 && ftruncate(fd, (off_t)len) != 0)
        rc = -1;
    return rc;
}

/* Writes a temporary file beside the target and renames it into place.
 * With sync, the file is fsynced before the rename and the directory after
 * it; without, the caller makes it durable later with posix_sync(). */
static int posix_write(struct posix_drv *d, const char *path, const void *data, size_t len,
                       bool sync)
{
    char *full = full_path(d, path);
    int rc = ensure_parent_dir(d, full);
    if (rc == 0) {
        /* A random temporary name: several threads or processes may write. */
        uint8_t rnd[8];
        char hex[17];
        rc = rd_random_bytes(rnd, sizeof rnd);
        rd_hex_encode(rnd, sizeof rnd, hex);
        char *tmp = rd_asprintf("%s.%s.tmp", full, hex);
        int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
        bool direct = !sync && len >= DIRECT_MIN;
        int fd = rc < 0 ? -1 : open(tmp, flags | (direct ? O_DIRECT : 0), 0600);
        if (rc == 0 && fd < 0 && direct && errno == EINVAL) {
            direct = false;   /* tmpfs and friends */
            fd = open(tmp, flags, 0600);
        }
        if (rc == 0 && fd < 0)
            rc = rd_fail_errno(RD_EIO, "cannot create %s", tmp);
        if (rc == 0 && direct && write_direct(fd, data, len) < 0) {
            if (errno != EINVAL)
                rc = rd_fail_errno(RD_EIO, "cannot write %s", tmp);
            else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) != 0 ||
                     ftruncate(fd, 0) != 0)
                rc = rd_fail_errno(RD_EIO, "cannot write %s", tmp);
            else
                direct = false;
        }
        if (rc == 0 && !direct)
            rc = rd_fs_write_full(fd, data, len);
        if (rc == 0 && sync && fsync(fd) != 0)
            rc = rd_fail_errno(RD_EIO, "cannot fsync %s", tmp);
        if (fd >= 0 && close(fd) != 0 && rc == 0)
            rc = rd_fail_errno(RD_EIO, "cannot close %s", tmp);
        if (rc == 0 && rename(tmp, full) != 0)
            rc = rd_fail_errno(RD_EIO, "cannot rename %s", tmp);
        if (rc < 0)
            unlink(tmp);
        else if (sync)
            rc = rd_fs_fsync_parent(full);
        free(tmp);
    }
    free(full);
    return rc;
}

static int posix_put(void *drv, const char *path, const void *data, size_t len)
{
    return posix_write(drv, path, data, len, true);
}

static int posix_put_deferred(void *drv, const char *path, const void *data, size_t len)
{
    return posix_write(drv, path, data, len, false);
}

/* One journal commit for every deferred write, instead of two per pack. */
static int posix_sync(void *drv)
{
    struct posix_drv *d = drv;
    int fd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot open %s", d->root);
    int rc = syncfs(fd) == 0 ? 0 : rd_fail_errno(RD_EIO, "cannot sync %s", d->root);
    close(fd);
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
    .put_deferred = posix_put_deferred,
    .sync = posix_sync,
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
