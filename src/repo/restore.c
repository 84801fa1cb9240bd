/* Restoring a backup into a directory.
 *
 * 1. The tree is laid out by the calling thread: directories, symlinks, and
 *    every file created empty and extended to its size.
 * 2. Worker threads fill the files: each job is a run of chunks of one file
 *    (large files are split, so one big file still uses every core); a chunk is
 *    read from its pack, authenticated (AES-GCM with its id) or checked against
 *    its SHA-256 id (plain repositories), and decompressed before pwrite().
 *    All-zero chunks are not written, so sparse files stay sparse. A file
 *    with a damaged chunk is removed: a failed restore never leaves a file
 *    with silently wrong content.
 * 3. Ownership, modes and times are applied (directories last, deepest first,
 *    so their mtimes survive), then syncfs() makes the whole tree durable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/compress.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "repo/internal.h"

#define JOB_BYTES (16u * 1024 * 1024)
#define DIRECT_BLOCK 4096

struct restore_job {
    size_t entry;
    uint32_t first, count;     /* chunks */
    uint64_t offset;           /* file offset of the first chunk */
};

struct restore {
    repo *r;
    repo_progress *progress;
    const repo_manifest *m;
    const char *dir;
    struct restore_job *jobs;
    size_t n_jobs, next_job;
    bool *damaged;             /* per entry */
    pthread_mutex_t mu;
    int error;
    char error_msg[1024];
    uint64_t bytes;
};

static char *target_path(const char *dir, const char *rel)
{
    return strcmp(rel, ".") == 0 ? rd_strdup(dir) : rd_path_join(dir, rel);
}

static bool all_zero(const uint8_t *p, size_t len)
{
    static const uint8_t zeros[4096];
    while (len >= sizeof zeros) {
        if (memcmp(p, zeros, sizeof zeros) != 0)
            return false;
        p += sizeof zeros;
        len -= sizeof zeros;
    }
    return memcmp(p, zeros, len) == 0;
}

/* Writes [buf, buf+len) at off with the direct descriptor, leaving out every
 * all-zero 4 KiB block (sparse files stay sparse). */
static int write_blocks(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && all_zero(buf + i, DIRECT_BLOCK))
            i += DIRECT_BLOCK;
        size_t run = i;
        while (run < len && !all_zero(buf + run, DIRECT_BLOCK))
            run += DIRECT_BLOCK;
        if (run > i) {
            int rc = rd_fs_pwrite_full(fd, buf + i, run - i, off + i);
            if (rc < 0)
                return rc;
        }
        i = run;
    }
    return 0;
}

/* Restores one run of chunks of a file. The whole 4 KiB blocks of the run are
 * gathered in an aligned buffer and written with O_DIRECT: on virtual
 * machines page-cache writes cost several times the CPU of the rest of the
 * restore (bench/README.md). The partial blocks at either end, which the
 * neighbouring runs share, go through the page cache; direct and buffered
 * writes never touch the same block. */
static int run_job(struct restore *rs, const struct restore_job *job, void *zstd,
                   rd_buf *scratch, uint8_t *chunk_buf, uint8_t *block_buf)
{
    const repo_entry *e = &rs->m->entries[job->entry];
    char *path = target_path(rs->dir, e->path);
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        rc = rd_fail_errno(RD_EIO, "cannot open %s", path);
    uint64_t start = job->offset, end = start;
    for (uint32_t i = 0; i < job->count; i++)
        end += e->chunks[job->first + i].len;
    uint64_t as = (start + DIRECT_BLOCK - 1) / DIRECT_BLOCK * DIRECT_BLOCK;
    uint64_t ae = end / DIRECT_BLOCK * DIRECT_BLOCK;
    int dfd = -1;
    if (rc == 0 && ae > as) {
        dfd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECT);
        if (dfd < 0 && errno != EINVAL)
            rc = rd_fail_errno(RD_EIO, "cannot open %s", path);
        if (dfd < 0)
            as = ae = start;   /* no direct I/O here (tmpfs): all through the cache */
    }
    uint64_t off = start;
    for (uint32_t i = 0; rc == 0 && i < job->count; i++) {
        const repo_chunk_ref *c = &e->chunks[job->first + i];
        const uint8_t *data = NULL;
        uint64_t cend = off + c->len;
        /* A chunk wholly inside the direct-I/O span decompresses straight
         * into its place in block_buf: one copy of the data less. */
        uint8_t *out = off >= as && cend <= ae ? block_buf + (off - as) : chunk_buf;
        if (c->len > rs->r->chunk_max)
            rc = rd_fail(RD_ECORRUPT, "a chunk of %s is larger than the repository allows",
                         e->path);
        else
            rc = repo_chunk_read(rs->r, zstd, c->id, out, c->len, scratch, &data);
        if (rc < 0) {
            rd_fail_wrap(rc, "restoring %s", e->path);
            pthread_mutex_lock(&rs->mu);
            rs->damaged[job->entry] = true;
            pthread_mutex_unlock(&rs->mu);
            break;
        }
        /* [off, off+len) split into: before as, inside [as, ae), after ae */
        uint64_t in_lo = off > as ? off : as, in_hi = cend < ae ? cend : ae;
        bool in_place = out != chunk_buf && data == out;
        if (in_hi > in_lo && !in_place)
            memcpy(block_buf + (in_lo - as), data + (in_lo - off), in_hi - in_lo);
        uint64_t head_hi = cend < as ? cend : as;
        if (head_hi > off && !all_zero(data, head_hi - off))
            rc = rd_fs_pwrite_full(fd, data, head_hi - off, off);
        uint64_t tail_lo = off > ae ? off : ae;
        if (rc == 0 && cend > tail_lo && !all_zero(data + (tail_lo - off), cend - tail_lo))
            rc = rd_fs_pwrite_full(fd, data + (tail_lo - off), cend - tail_lo, tail_lo);
        if (rc < 0)
            rd_fail_wrap(rc, "%s", path);
        if (rs->progress)
            __atomic_fetch_add(&rs->progress->done, c->len, __ATOMIC_RELAXED);
        off = cend;
    }
    if (rc == 0 && ae > as) {
        rc = write_blocks(dfd, block_buf, ae - as, as);
        if (rc < 0)
            rd_fail_wrap(rc, "%s", path);
    }
    if (dfd >= 0)
        close(dfd);
    if (fd >= 0)
        close(fd);
    free(path);
    pthread_mutex_lock(&rs->mu);
    rs->bytes += off - job->offset;
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

static void *restore_worker(void *arg)
{
    struct restore *rs = arg;
    rd_zstd *z = rd_zstd_new(1);
    rd_buf scratch = RD_BUF_INIT;
    uint8_t *chunk_buf = rd_malloc(rs->r->chunk_max);
    /* a job spans at most JOB_BYTES plus one chunk */
    void *block_buf = NULL;
    if (posix_memalign(&block_buf, DIRECT_BLOCK, JOB_BYTES + rs->r->chunk_max + DIRECT_BLOCK))
        rd_oom();
    for (;;) {
        pthread_mutex_lock(&rs->mu);
        /* Keep going after a damaged chunk so that every damaged file is
         * found and removed; stop at the first I/O error. */
        bool stop = rs->error && rs->error != -RD_ECORRUPT;
        size_t j = stop ? rs->n_jobs : rs->next_job++;
        pthread_mutex_unlock(&rs->mu);
        if (j >= rs->n_jobs)
            break;
        int rc = run_job(rs, &rs->jobs[j], z, &scratch, chunk_buf, block_buf);
        if (rc < 0) {
            pthread_mutex_lock(&rs->mu);
            if (!rs->error || (rs->error == -RD_ECORRUPT && rc != -RD_ECORRUPT)) {
                rs->error = rc;
                snprintf(rs->error_msg, sizeof rs->error_msg, "%s", rd_error());
            }
            pthread_mutex_unlock(&rs->mu);
        }
    }
    free(chunk_buf);
    free(block_buf);
    rd_buf_free(&scratch);
    rd_zstd_free(z);
    return NULL;
}

static void add_job(struct restore *rs, size_t *cap, struct restore_job job)
{
    if (rs->n_jobs == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        rs->jobs = rd_realloc(rs->jobs, *cap * sizeof *rs->jobs);
    }
    rs->jobs[rs->n_jobs++] = job;
}

static void plan_jobs(struct restore *rs)
{
    size_t cap = 0;
    for (size_t i = 0; i < rs->m->n_entries; i++) {
        const repo_entry *e = &rs->m->entries[i];
        struct restore_job job = { i, 0, 0, 0 };
        uint64_t bytes = 0, off = 0;
        for (uint32_t c = 0; c < e->n_chunks; c++) {
            job.count++;
            bytes += e->chunks[c].len;
            off += e->chunks[c].len;
            if (bytes >= JOB_BYTES) {
                add_job(rs, &cap, job);
                job = (struct restore_job){ i, c + 1, 0, off };
                bytes = 0;
            }
        }
        if (job.count)
            add_job(rs, &cap, job);
    }
}

/* Tar streams may list a file before (or without) its directory. */
static void make_parent(const char *path)
{
    char *copy = rd_strdup(path);
    char *slash = strrchr(copy, '/');
    if (slash && slash != copy) {
        *slash = '\0';
        rd_fs_mkdir_p(copy, 0700);
    }
    free(copy);
}

/* Creates every directory, symlink and (empty, sized) file. */
static int lay_out(struct restore *rs, bool force, repo_restore_stats *stats)
{
    for (size_t i = 0; i < rs->m->n_entries; i++) {
        const repo_entry *e = &rs->m->entries[i];
        char *path = target_path(rs->dir, e->path);
        int rc = 0;
        struct stat st;
        if (e->type == REPO_ENTRY_DIR) {
            if (mkdir(path, 0700) != 0 && errno == ENOENT)
                make_parent(path);
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                rc = rd_fail_errno(RD_EIO, "cannot create directory %s", path);
            else if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
                rc = rd_fail(RD_EEXIST, "%s exists and is not a directory", path);
            stats->dirs++;
        } else {
            if (force && lstat(path, &st) == 0) {
                if (S_ISDIR(st.st_mode))
                    rc = rd_fs_remove_tree(path);
                else if (unlink(path) != 0)
                    rc = rd_fail_errno(RD_EIO, "cannot replace %s", path);
            }
            if (rc == 0 && e->type == REPO_ENTRY_SYMLINK) {
                if (symlink(e->link_target, path) != 0 && errno == ENOENT)
                    make_parent(path);
                if (lstat(path, &st) != 0 && symlink(e->link_target, path) != 0)
                    rc = rd_fail_errno(RD_EIO, "cannot create symlink %s", path);
                stats->symlinks++;
            } else if (rc == 0) {
                int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
                int fd = open(path, flags, 0600);
                if (fd < 0 && errno == ENOENT) {
                    make_parent(path);
                    fd = open(path, flags, 0600);
                }
                if (fd < 0)
                    rc = rd_fail_errno(RD_EIO, "cannot create %s", path);
                else if (ftruncate(fd, (off_t)e->size) != 0)
                    rc = rd_fail_errno(RD_EIO, "cannot size %s", path);
                if (fd >= 0)
                    close(fd);
                stats->files++;
            }
        }
        free(path);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int apply_meta(const char *path, const repo_entry *e, bool chown_too)
{
    if (chown_too && lchown(path, e->uid, e->gid) != 0)
        return rd_fail_errno(RD_EIO, "cannot set the owner of %s", path);
    if (e->type != REPO_ENTRY_SYMLINK && chmod(path, e->mode) != 0)
        return rd_fail_errno(RD_EIO, "cannot set the mode of %s", path);
    struct timespec times[2] = { { e->mtime_sec, e->mtime_nsec },
                                 { e->mtime_sec, e->mtime_nsec } };
    if (utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0)
        return rd_fail_errno(RD_EIO, "cannot set the times of %s", path);
    return 0;
}

static int finish_meta(struct restore *rs, bool chown_too)
{
    int rc = 0;
    for (size_t i = 0; i < rs->m->n_entries && rc == 0; i++) {
        const repo_entry *e = &rs->m->entries[i];
        if (e->type == REPO_ENTRY_DIR || rs->damaged[i])
            continue;
        char *path = target_path(rs->dir, e->path);
        rc = apply_meta(path, e, chown_too);
        free(path);
    }
    for (size_t i = rs->m->n_entries; i-- > 0 && rc == 0;) {
        const repo_entry *e = &rs->m->entries[i];
        if (e->type != REPO_ENTRY_DIR)
            continue;
        char *path = target_path(rs->dir, e->path);
        rc = apply_meta(path, e, chown_too);
        free(path);
    }
    return rc;
}

static int remove_damaged(struct restore *rs)
{
    size_t n = 0;
    for (size_t i = 0; i < rs->m->n_entries; i++) {
        if (!rs->damaged[i])
            continue;
        char *path = target_path(rs->dir, rs->m->entries[i].path);
        unlink(path);
        RD_ERROR("removed %s: its data in the repository is damaged", path);
        free(path);
        n++;
    }
    return (int)n;
}

static int sync_tree(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rd_fail_errno(RD_EIO, "cannot open %s", dir);
    int rc = syncfs(fd) == 0 ? 0 : rd_fail_errno(RD_EIO, "cannot sync %s", dir);
    close(fd);
    return rc;
}

int repo_restore_dir(repo *r, const repo_manifest *m, const char *dir,
                     const repo_restore_options *opts, repo_restore_stats *stats)
{
    repo_restore_stats local = { 0 };
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    bool force = opts && opts->force;
    int nonempty = rd_fs_dir_nonempty(dir);
    if (nonempty < 0 && errno != ENOENT)
        return rd_fail_errno(RD_EIO, "cannot read target %s", dir);
    if (nonempty < 0) {
        struct stat st;
        if (lstat(dir, &st) == 0)
            return rd_fail(RD_EEXIST, "target %s exists and is not a directory", dir);
    }
    if (nonempty > 0 && !force)
        return rd_fail(RD_EEXIST, "target directory %s is not empty; pass --force to restore "
                       "into it", dir);
    int rc = repo_index_ensure(r);
    if (rc == 0)
        rc = rd_fs_mkdir_p(dir, 0700);
    if (rc < 0)
        return rc;

    struct restore rs = { .r = r, .m = m, .dir = dir, .progress = opts ? opts->progress : NULL };
    if (rs.progress)
        rs.progress->total = m->info.stats.logical_bytes;
    rs.damaged = rd_calloc(m->n_entries ? m->n_entries : 1, sizeof *rs.damaged);
    pthread_mutex_init(&rs.mu, NULL);
    int64_t t_begin = rd_mono_ns();
    rc = lay_out(&rs, force, stats);
    int64_t t_laid_out = rd_mono_ns();
    if (rc == 0) {
        plan_jobs(&rs);
        /* One worker more than the repository's threads: each waits for its
         * direct writes part of the time, and the spare keeps the disk busy
         * meanwhile (restores of 2.2 GB took 10-20 % less time with 4 workers
         * than with 3 on 2 cores; 6 gained a little more for 125 MB of RSS,
         * too near the 150 MB that a restore may use). */
        int n = r->threads + 1;
        pthread_t *th = rd_calloc((size_t)n, sizeof *th);
        int started = 0;
        for (; started < n; started++)
            if (pthread_create(&th[started], NULL, restore_worker, &rs) != 0)
                break;
        if (started == 0)
            restore_worker(&rs);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        free(th);
        if (rs.error) {
            rc = rd_fail(rs.error, "%s", rs.error_msg);
            int n_bad = remove_damaged(&rs);
            if (n_bad > 0)
                rd_fail_wrap(rc, "%d file(s) could not be restored and were removed", n_bad);
        }
    }
    int64_t t_filled = rd_mono_ns();
    if (rc == 0)
        rc = finish_meta(&rs, geteuid() == 0 && !(opts && opts->no_owner));
    int64_t t_meta = rd_mono_ns();
    if (rc == 0)
        rc = sync_tree(dir);
    if (rc == 0)
        RD_DEBUG("restore into %s: lay out %.2f s, fill %.2f s, metadata %.2f s, syncfs %.2f s",
                 dir, (t_laid_out - t_begin) / 1e9, (t_filled - t_laid_out) / 1e9,
                 (t_meta - t_filled) / 1e9, (rd_mono_ns() - t_meta) / 1e9);
    stats->bytes = rs.bytes;
    free(rs.jobs);
    free(rs.damaged);
    pthread_mutex_destroy(&rs.mu);
    return rc;
}

int repo_restore_entry(repo *r, const repo_entry *e, repo_write_fn write, void *arg)
{
    int rc = repo_index_ensure(r);
    if (rc < 0)
        return rc;
    rd_zstd *z = rd_zstd_new(1);
    rd_buf scratch = RD_BUF_INIT;
    uint8_t *buf = rd_malloc(r->chunk_max);
    for (uint32_t i = 0; i < e->n_chunks && rc == 0; i++) {
        if (e->chunks[i].len > r->chunk_max) {
            rc = rd_fail(RD_ECORRUPT, "chunk of %s is larger than the repository allows",
                         e->path);
            break;
        }
        const uint8_t *data;
        rc = repo_chunk_read(r, z, e->chunks[i].id, buf, e->chunks[i].len, &scratch, &data);
        if (rc == 0)
            rc = write(arg, data, e->chunks[i].len);
    }
    free(buf);
    rd_buf_free(&scratch);
    rd_zstd_free(z);
    return rc;
}
