/* Backing up a directory tree: a depth-first walk with openat() relative to
 * the directory's descriptor (so a renamed parent cannot redirect us), names
 * sorted for a stable manifest order, and O_NOFOLLOW everywhere: symlinks are
 * recorded as symlinks, never followed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "repo/internal.h"

struct walk {
    repo_backup *b;
    const char *root;
    const repo_dir_options *opts;
    uint64_t skipped;
    /* Regular files of the parent backup by path: open addressing on a
     * string hash, values are entry indexes. */
    size_t *parent_slots;
    size_t parent_cap;
};

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void parent_map_build(struct walk *w)
{
    const repo_manifest *p = w->opts ? w->opts->parent : NULL;
    if (!p)
        return;
    w->parent_cap = 16;
    while (w->parent_cap < 2 * repo_manifest_count(p))
        w->parent_cap *= 2;
    w->parent_slots = rd_malloc(w->parent_cap * sizeof *w->parent_slots);
    for (size_t i = 0; i < w->parent_cap; i++)
        w->parent_slots[i] = SIZE_MAX;
    for (size_t i = 0; i < repo_manifest_count(p); i++) {
        const repo_entry *e = repo_manifest_entry(p, i);
        if (e->type != REPO_ENTRY_FILE)
            continue;
        size_t k = (size_t)path_hash(e->path) & (w->parent_cap - 1);
        while (w->parent_slots[k] != SIZE_MAX)
            k = (k + 1) & (w->parent_cap - 1);
        w->parent_slots[k] = i;
    }
}

/* The parent's entry for rel when the file is unchanged since, else NULL. */
static const repo_entry *parent_unchanged(struct walk *w, const char *rel, const struct stat *st)
{
    if (!w->parent_slots)
        return NULL;
    const repo_manifest *p = w->opts->parent;
    for (size_t k = (size_t)path_hash(rel) & (w->parent_cap - 1);
         w->parent_slots[k] != SIZE_MAX; k = (k + 1) & (w->parent_cap - 1)) {
        const repo_entry *e = repo_manifest_entry(p, w->parent_slots[k]);
        if (strcmp(e->path, rel) != 0)
            continue;
        bool same = e->size == (uint64_t)st->st_size && e->ino == (uint64_t)st->st_ino &&
                    e->mtime_sec == st->st_mtim.tv_sec &&
                    e->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
                    e->ctime_sec == st->st_ctim.tv_sec &&
                    e->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec;
        return same ? e : NULL;
    }
    return NULL;
}

static ssize_t fd_read(void *arg, void *buf, size_t len)
{
    int fd = *(int *)arg;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return rd_fail_errno(RD_EIO, "read failed");
    }
}

static void entry_from_stat(repo_entry *e, const char *path, const struct stat *st)
{
    memset(e, 0, sizeof *e);
    e->path = (char *)path;
    e->mode = st->st_mode & 07777;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->mtime_sec = st->st_mtim.tv_sec;
    e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    e->size = (uint64_t)st->st_size;
    e->ino = (uint64_t)st->st_ino;
    e->ctime_sec = st->st_ctim.tv_sec;
    e->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

/* An entry we could not read: fatal unless the user asked to skip them. */
static int unreadable(struct walk *w, const char *rel, int err)
{
    errno = err;
    if (!w->opts || !w->opts->skip_unreadable)
        return rd_fail_errno(RD_EIO, "cannot read %s/%s (fix its permissions, or pass "
                             "--skip-unreadable to leave it out)", w->root, rel);
    RD_WARN("skipping unreadable %s/%s: %s", w->root, rel, strerror(err));
    w->skipped++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, int dirfd, const char *rel);

static int walk_one(struct walk *w, int dirfd, const char *name, const char *rel)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            RD_INFO("%s/%s vanished during the backup", w->root, rel);
            return 0;
        }
        return unreadable(w, rel, errno);
    }
    enum repo_walk_filter verdict = REPO_WALK_KEEP;
    if (w->opts && w->opts->filter)
        verdict = w->opts->filter(w->opts->filter_arg, rel, S_ISDIR(st.st_mode));
    if (verdict == REPO_WALK_SKIP)
        return 0;
    repo_entry e;
    entry_from_stat(&e, rel, &st);
    if (S_ISDIR(st.st_mode) && verdict == REPO_WALK_EMPTY) {
        e.type = REPO_ENTRY_DIR;
        return repo_backup_add(w->b, &e, NULL, NULL);
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT ? 0 : unreadable(w, rel, errno);
        e.type = REPO_ENTRY_DIR;
        int rc = repo_backup_add(w->b, &e, NULL, NULL);
        if (rc == 0)
            rc = walk_dir(w, fd, rel);   /* closes fd */
        else
            close(fd);
        return rc;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[REPO_PATH_MAX];
        ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
        if (n <= 0)
            return errno == ENOENT ? 0 : unreadable(w, rel, errno);
        target[n] = '\0';
        e.type = REPO_ENTRY_SYMLINK;
        e.link_target = target;
        return repo_backup_add(w->b, &e, NULL, NULL);
    }
    if (!S_ISREG(st.st_mode)) {
        RD_INFO("leaving out %s/%s: not a regular file, directory or symlink", w->root, rel);
        return 0;
    }
    e.type = REPO_ENTRY_FILE;
    const repo_entry *prev = parent_unchanged(w, rel, &st);
    if (prev) {
        int rc = repo_backup_add_known(w->b, &e, prev->chunks, prev->n_chunks);
        if (rc != -RD_ENOENT)
            return rc;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? 0 : unreadable(w, rel, errno);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    int rc = verdict == REPO_WALK_PAGED ? repo_backup_add_paged(w->b, &e, fd_read, &fd)
                                        : repo_backup_add(w->b, &e, fd_read, &fd);
    close(fd);
    if (rc < 0)
        rd_fail_wrap(rc, "%s/%s", w->root, rel);
    return rc;
}

/* Takes ownership of fd. */
static int walk_dir(struct walk *w, int fd, const char *rel)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int err = errno;
        close(fd);
        return unreadable(w, rel, err);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *d;
    errno = 0;
    while ((d = readdir(dir)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = rd_realloc(names, cap * sizeof *names);
        }
        names[n++] = rd_strdup(d->d_name);
    }
    int rc = 0;
    if (errno != 0)
        rc = unreadable(w, rel, errno);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *child = strcmp(rel, ".") == 0 ? rd_strdup(names[i])
                                            : rd_asprintf("%s/%s", rel, names[i]);
        if (strlen(child) >= REPO_PATH_MAX)
            rc = rd_fail(RD_EIO, "path %s/%s is too long", w->root, child);
        else
            rc = walk_one(w, dirfd(dir), names[i], child);
        free(child);
    }
    repo_strv_free(names, n);
    closedir(dir);
    return rc;
}

int repo_backup_add_tree(repo_backup *b, const char *dir, const repo_dir_options *opts)
{
    struct walk w = { .b = b, .root = dir, .opts = opts };
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return rd_fail(RD_ENOENT, "directory %s does not exist", dir);
    if (fd < 0 && errno == ENOTDIR)
        return rd_fail(RD_EUSAGE, "%s is not a directory", dir);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot open directory %s", dir);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return rd_fail_errno(RD_EIO, "cannot stat %s", dir);
    }
    repo_entry root;
    entry_from_stat(&root, ".", &st);
    root.type = REPO_ENTRY_DIR;
    int rc = repo_backup_add(b, &root, NULL, NULL);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    parent_map_build(&w);
    rc = walk_dir(&w, fd, ".");
    free(w.parent_slots);
    return rc;
}
