/* Durable file writes (temp, fsync, rename, fsync dir) and small I/O helpers. */
#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

char *rd_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la && a[la - 1] == '/')
        return rd_asprintf("%s%s", a, b);
    return rd_asprintf("%s/%s", a, b);
}

int rd_fs_read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rd_fail_errno(RD_EIO, "read failed");
        if (n == 0)
            return rd_fail(RD_EIO, "unexpected end of file");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rd_fs_write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rd_fail_errno(RD_EIO, "write failed");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rd_fs_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rd_fail_errno(RD_EIO, "read failed");
        if (n == 0)
            return rd_fail(RD_EIO, "unexpected end of file");
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int rd_fs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rd_fail_errno(RD_EIO, "write failed");
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int rd_fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot open directory %s", dir);
    int rc = 0;
    if (fsync(fd) != 0)
        rc = rd_fail_errno(RD_EIO, "cannot fsync directory %s", dir);
    close(fd);
    return rc;
}

int rd_fs_fsync_parent(const char *path)
{
    char *copy = rd_strdup(path);
    int rc = rd_fs_fsync_dir(dirname(copy));
    free(copy);
    return rc;
}

static int write_fd_synced(int fd, const char *path, const void *data, size_t len)
{
    int rc = rd_fs_write_full(fd, data, len);
    if (rc < 0)
        return rd_fail_wrap(rc, "%s", path);
    if (fsync(fd) != 0)
        return rd_fail_errno(RD_EIO, "cannot fsync %s", path);
    return 0;
}

int rd_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = rd_asprintf("%s.tmp.%ld", path, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = rd_fail_errno(RD_EIO, "cannot create %s", tmp);
        goto out;
    }
    rc = write_fd_synced(fd, tmp, data, len);
    if (close(fd) != 0 && rc == 0)
        rc = rd_fail_errno(RD_EIO, "cannot close %s", tmp);
    if (rc < 0)
        goto out_unlink;
    if (rename(tmp, path) != 0) {
        rc = rd_fail_errno(RD_EIO, "cannot rename %s to %s", tmp, path);
        goto out_unlink;
    }
    rc = rd_fs_fsync_parent(path);
    goto out;
out_unlink:
    unlink(tmp);
out:
    free(tmp);
    return rc;
}

int rd_fs_write_exclusive(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST)
        return rd_fail(RD_EEXIST, "%s already exists", path);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot create %s", path);
    int rc = write_fd_synced(fd, path, data, len);
    close(fd);
    if (rc < 0) {
        unlink(path);
        return rc;
    }
    return rd_fs_fsync_parent(path);
}

int rd_fs_mkdir_p(const char *path, mode_t mode)
{
    char *copy = rd_strdup(path);
    int rc = 0;
    /* Start past a leading '/', but never past the end of "". */
    for (char *p = copy + (copy[0] != '\0');; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, mode) != 0) {
            /* EEXIST also means a file (or a dangling link) is in the way; the
             * caller asked for a directory, so only a directory will do. */
            int err = errno;
            struct stat st;
            if (err != EEXIST || stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
                errno = err == EEXIST ? ENOTDIR : err;
                rc = rd_fail_errno(RD_EIO, "cannot create directory %s", copy);
                break;
            }
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(copy);
    return rc;
}

int rd_fs_read_file(const char *path, size_t max, rd_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return rd_fail(RD_ENOENT, "%s does not exist", path);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot open %s", path);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = rd_fail_errno(RD_EIO, "cannot stat %s", path);
    } else if ((uint64_t)st.st_size > max) {
        rc = rd_fail(RD_ECORRUPT, "%s is %lld bytes, larger than the %zu allowed", path,
                     (long long)st.st_size, max);
    } else {
        rd_buf_reset(out);
        rd_buf_reserve(out, (size_t)st.st_size);
        rc = rd_fs_read_full(fd, out->data, (size_t)st.st_size);
        if (rc < 0)
            rc = rd_fail_wrap(rc, "%s", path);
        else
            out->len = (size_t)st.st_size;
    }
    close(fd);
    return rc;
}

int rd_fs_read_secret(const char *path, size_t max, char **out)
{
    rd_buf b = RD_BUF_INIT;
    *out = NULL;
    int rc = rd_fs_read_file(path, max, &b);
    size_t n = b.len;
    while (rc == 0 && n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
        n--;
    if (rc == 0 && (n == 0 || memchr(b.data, '\0', n)))
        rc = rd_fail(RD_ECONFIG, "%s is empty or not text", path);
    if (rc == 0) {
        *out = rd_malloc(n + 1);
        memcpy(*out, b.data, n);
        (*out)[n] = '\0';
    }
    if (b.data)
        explicit_bzero(b.data, b.cap);
    rd_buf_free(&b);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int rd_fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : rd_fail_errno(RD_EIO, "cannot stat %s", path);
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return rd_fail_errno(RD_EIO, "cannot remove %s", path);
    return 0;
}

int rd_fs_chown_tree(const char *path, uid_t uid, gid_t gid)
{
    if (lchown(path, uid, gid) != 0)
        return rd_fail_errno(RD_EIO, "cannot give %s to uid %u", path, (unsigned)uid);
    struct stat st;
    if (lstat(path, &st) != 0)
        return rd_fail_errno(RD_EIO, "cannot stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return rd_fail_errno(RD_EIO, "cannot open %s", path);
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = rd_path_join(path, e->d_name);
        rc = rd_fs_chown_tree(child, uid, gid);
        free(child);
    }
    closedir(d);
    return rc;
}

int rd_fs_dir_nonempty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            found = 1;
            break;
        }
    }
    closedir(d);
    return found;
}
