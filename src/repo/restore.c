/* Restoring a backup into a directory.
 *
 * 1. The tree is laid out by the calling thread: directories, symlinks, and
 *    every file created empty and extended to its size.
 * 2. Fill threads prepare the data: each job is a run of chunks of one file
 *    (large files are split, so one big file still uses every core); a chunk is
 *    read from its pack, authenticated (AES-GCM with its id) or checked against
 *    its SHA-256 id (plain repositories), and decompressed into the job's
 *    aligned buffer. A writer thread writes the filled buffers with O_DIRECT,
 *    in the order they were filled, while the fill threads go on with the
 *    next jobs: the disk is never left waiting for a decompression (when each
 *    thread wrote its own buffer, no write was in flight 13-19 % of the time).
 *    All-zero blocks are not written, so sparse files stay sparse. A file
 *    with a damaged chunk is removed: a failed restore never leaves a file
 *    with silently wrong content.
 * 3. Ownership, modes and times are applied (directories last, deepest first,
 *    so their mtimes survive), then syncfs() makes the whole tree durable. */
#include <assert.h>
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

/* A filled buffer waiting for its direct write: [off, off + len) of path. */
struct pending_write {
    uint8_t *buf;
    int dfd;
    uint64_t off, len;
    char *path;
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
    /* Job buffers, under mu: free ones on a stack, filled ones in a FIFO for
     * the writer. `changed` is signalled whenever either moves or the last
     * fill thread ends. */
    pthread_cond_t changed;
    uint8_t **free_bufs;
    size_t n_free;
    struct pending_write *queue;
    size_t q_head, q_len, q_cap;
    int fillers_running;
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
 * gathered in an aligned buffer, left in *w for the writer to write with
 * O_DIRECT (w->len 0: nothing to write, or failed): on virtual
 * machines page-cache writes cost several times the CPU of the rest of the
 * restore (bench/README.md). The partial blocks at either end, which the
 * neighbouring runs share, go through the page cache; direct and buffered
 * writes never touch the same block. */
static int run_job(struct restore *rs, const struct restore_job *job, void *zstd,
                   rd_buf *scratch, uint8_t *chunk_buf, uint8_t *block_buf,
                   struct pending_write *w)
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
        *w = (struct pending_write){ block_buf, dfd, as, ae - as, path };
        dfd = -1;
        path = NULL;
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

/* Keeps the first error, except that a damaged chunk gives way to an I/O
 * error: the restore goes on after a damaged chunk (so that every damaged
 * file is found and removed) and stops at the first I/O error. */
static void note_error(struct restore *rs, int rc)
{
    pthread_mutex_lock(&rs->mu);
    if (!rs->error || (rs->error == -RD_ECORRUPT && rc != -RD_ECORRUPT)) {
        rs->error = rc;
        snprintf(rs->error_msg, sizeof rs->error_msg, "%s", rd_error());
    }
    pthread_mutex_unlock(&rs->mu);
}

/* Under mu. */
static bool stopping(const struct restore *rs)
{
    return rs->error && rs->error != -RD_ECORRUPT;
}

static void give_buffer(struct restore *rs, uint8_t *buf)
{
    pthread_mutex_lock(&rs->mu);
    rs->free_bufs[rs->n_free++] = buf;
    pthread_cond_broadcast(&rs->changed);
    pthread_mutex_unlock(&rs->mu);
}

/* A free buffer and the next job for it, or false when there is no job left
 * (or the restore is stopping). */
static bool take_job(struct restore *rs, uint8_t **buf, size_t *job)
{
    pthread_mutex_lock(&rs->mu);
    while (rs->n_free == 0 && !stopping(rs) && rs->next_job < rs->n_jobs)
        pthread_cond_wait(&rs->changed, &rs->mu);
    bool ok = !stopping(rs) && rs->next_job < rs->n_jobs;
    if (ok) {
        *buf = rs->free_bufs[--rs->n_free];
        *job = rs->next_job++;
    }
    pthread_mutex_unlock(&rs->mu);
    return ok;
}

static void queue_write(struct restore *rs, const struct pending_write *w)
{
    pthread_mutex_lock(&rs->mu);
    /* The queue holds as many entries as there are buffers: never full. */
    assert(rs->q_len < rs->q_cap);
    rs->queue[(rs->q_head + rs->q_len++) % rs->q_cap] = *w;
    pthread_cond_broadcast(&rs->changed);
    pthread_mutex_unlock(&rs->mu);
}

/* Writes one filled buffer (unless the restore is stopping) and gives the
 * buffer back. */
static void write_pending(struct restore *rs, struct pending_write *w, bool skip)
{
    int rc = skip ? 0 : write_blocks(w->dfd, w->buf, w->len, w->off);
    if (rc < 0)
        note_error(rs, rd_fail_wrap(rc, "%s", w->path));
    close(w->dfd);
    free(w->path);
    give_buffer(rs, w->buf);
}

/* Fills job buffers until no job is left, leaving each to the writer thread,
 * or writing it at once when there is none (write_inline). */
static void fill_loop(struct restore *rs, bool write_inline)
{
    rd_zstd *z = rd_zstd_new(1);
    rd_buf scratch = RD_BUF_INIT;
    uint8_t *chunk_buf = rd_malloc(rs->r->chunk_max);
    uint8_t *buf;
    size_t j;
    while (take_job(rs, &buf, &j)) {
        struct pending_write w = { 0 };
        int rc = run_job(rs, &rs->jobs[j], z, &scratch, chunk_buf, buf, &w);
        if (rc < 0)
            note_error(rs, rc);
        if (w.len && write_inline)
            write_pending(rs, &w, false);
        else if (w.len)
            queue_write(rs, &w);
        else
            give_buffer(rs, buf);
    }
    free(chunk_buf);
    rd_buf_free(&scratch);
    rd_zstd_free(z);
}

static void *fill_worker(void *arg)
{
    struct restore *rs = arg;
    fill_loop(rs, false);
    pthread_mutex_lock(&rs->mu);
    rs->fillers_running--;
    pthread_cond_broadcast(&rs->changed);
    pthread_mutex_unlock(&rs->mu);
    return NULL;
}

/* Writes the filled buffers in order until the fill threads are done and
 * the queue is empty. After an I/O error the rest is dropped, not written. */
static void *write_worker(void *arg)
{
    struct restore *rs = arg;
    for (;;) {
        pthread_mutex_lock(&rs->mu);
        while (rs->q_len == 0 && rs->fillers_running > 0)
            pthread_cond_wait(&rs->changed, &rs->mu);
        if (rs->q_len == 0) {
            pthread_mutex_unlock(&rs->mu);
            return NULL;
        }
        struct pending_write w = rs->queue[rs->q_head];
        rs->q_head = (rs->q_head + 1) % rs->q_cap;
        rs->q_len--;
        bool skip = stopping(rs);
        pthread_mutex_unlock(&rs->mu);
        write_pending(rs, &w, skip);
    }
}

/* Runs `fillers` fill threads and one writer over the planned jobs, with two
 * job buffers more than fill threads: one being written, one filled and
 * waiting for the writer. Restores of 2.2 GB (bench/README.md) took 5-10 %
 * less time than with each thread writing its own buffer; a second writer,
 * a third spare buffer or jobs of 8 MiB instead of 16 gained nothing (the
 * last lost 10 %: one writer's direct writes need to be large). */
static void fill_files(struct restore *rs, int fillers)
{
    size_t n_bufs = (size_t)fillers + 2;
    /* a job spans at most JOB_BYTES plus one chunk */
    size_t buf_len = JOB_BYTES + rs->r->chunk_max + DIRECT_BLOCK;
    rs->free_bufs = rd_calloc(n_bufs, sizeof *rs->free_bufs);
    rs->queue = rd_calloc(n_bufs, sizeof *rs->queue);
    rs->q_cap = n_bufs;
    for (size_t i = 0; i < n_bufs; i++)
        rs->free_bufs[rs->n_free++] = rd_alloc_direct(buf_len);
    pthread_t *th = rd_calloc((size_t)fillers, sizeof *th), writer;
    int started = 0;
    /* Counted before it starts, so that the writer never sees zero while a
     * fill thread that may still queue a write is running. */
    for (; started < fillers; started++) {
        pthread_mutex_lock(&rs->mu);
        rs->fillers_running++;
        pthread_mutex_unlock(&rs->mu);
        if (pthread_create(&th[started], NULL, fill_worker, rs) == 0)
            continue;
        pthread_mutex_lock(&rs->mu);
        rs->fillers_running--;
        pthread_mutex_unlock(&rs->mu);
        break;
    }
    /* Fewer threads than asked (out of resources): without a writer thread
     * this one writes; with no thread at all, it fills and writes in turn. */
    bool writer_started = started > 0 && pthread_create(&writer, NULL, write_worker, rs) == 0;
    if (started == 0)
        fill_loop(rs, true);
    else if (!writer_started)
        write_worker(rs);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (writer_started)
        pthread_join(writer, NULL);
    free(th);
    for (size_t i = 0; i < rs->n_free; i++)
        free(rs->free_bufs[i]);
    free(rs->free_bufs);
    free(rs->queue);
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
    pthread_cond_init(&rs.changed, NULL);
    int64_t t_begin = rd_mono_ns();
    rc = lay_out(&rs, force, stats);
    int64_t t_laid_out = rd_mono_ns();
    if (rc == 0) {
        plan_jobs(&rs);
        fill_files(&rs, r->threads);
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
    pthread_cond_destroy(&rs.changed);
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
