/* Writing a backup.
 *
 * The caller's thread reads each file, cuts it into content-defined chunks,
 * hashes them and looks them up; only chunks the repository does not have yet
 * go, through a bounded queue, to worker threads that compress and encrypt
 * them and append them to the open pack. A worker that fills the pack takes it
 * and writes it while the others go on with a new one. Memory is bounded by
 * the queue length, the read buffer and the packs in flight, whatever the size
 * of the data:
 *
 *   reader (caller) --chunks--> [queue, 2*threads+2] --> workers --> pack --> storage
 *
 * Commit drains the queue, writes the last pack, then one index file naming
 * every pack written, then the manifest: packs before index before manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/compress.h"
#include "core/error.h"
#include "core/log.h"
#include "repo/internal.h"

struct chunk_job {
    uint8_t id[REPO_ID_LEN];
    uint8_t *data;
    uint32_t len;
};

struct repo_backup {
    repo *r;
    repo_manifest *m;
    repo_chunker chunker;
    repo_idmap seen;                /* chunks known or queued; reader thread only */
    uint8_t *buf;
    size_t buf_cap;

    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t can_push, can_pop;
    struct chunk_job *queue;
    size_t q_cap, q_head, q_len;
    bool closing;
    int error;
    char error_msg[1024];
    repo_pack_builder pack;
    repo_pack_desc *written;
    size_t n_written, cap_written;
    repo_backup_stats stats;

    pthread_t *workers;
    int n_workers;
};

static void set_error(repo_backup *b, int rc)
{
    /* called with mu held */
    if (b->error == 0) {
        b->error = rc;
        snprintf(b->error_msg, sizeof b->error_msg, "%s", rd_error());
        pthread_cond_broadcast(&b->can_push);
        pthread_cond_broadcast(&b->can_pop);
    }
}

static int current_error(repo_backup *b)
{
    pthread_mutex_lock(&b->mu);
    int rc = b->error;
    if (rc)
        rd_fail(rc, "%s", b->error_msg);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Writes a full pack outside the lock and records it. */
static void write_pack(repo_backup *b, repo_pack_builder *pb)
{
    repo_pack_desc desc;
    uint64_t size = pb->data.len;
    int rc = repo_pack_builder_finish(b->r, pb, &desc);
    pthread_mutex_lock(&b->mu);
    if (rc < 0) {
        set_error(b, rc);
    } else {
        if (b->n_written == b->cap_written) {
            b->cap_written = b->cap_written ? 2 * b->cap_written : 16;
            b->written = rd_realloc(b->written, b->cap_written * sizeof *b->written);
        }
        b->written[b->n_written++] = desc;
        b->stats.packs_written++;
        (void)size;
    }
    pthread_mutex_unlock(&b->mu);
}

static void *worker_main(void *arg)
{
    repo_backup *b = arg;
    rd_zstd *z = rd_zstd_new(b->r->compress_level);
    rd_buf blob = RD_BUF_INIT;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (b->q_len == 0 && !b->closing && !b->error)
            pthread_cond_wait(&b->can_pop, &b->mu);
        if (b->q_len == 0 || b->error) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        struct chunk_job job = b->queue[b->q_head];
        b->q_head = (b->q_head + 1) % b->q_cap;
        b->q_len--;
        pthread_cond_signal(&b->can_push);
        pthread_mutex_unlock(&b->mu);

        int rc = repo_blob_encode(b->r, z, job.id, job.data, job.len, &blob);
        free(job.data);
        repo_pack_builder full = { 0 };
        bool have_full = false;
        pthread_mutex_lock(&b->mu);
        if (rc < 0) {
            set_error(b, rc);
        } else if (!b->error) {
            repo_pack_builder_add(&b->pack, job.id, blob.data, blob.len, job.len);
            b->stats.new_stored_bytes += blob.len;
            if (b->pack.data.len >= REPO_PACK_TARGET) {
                full = b->pack;
                memset(&b->pack, 0, sizeof b->pack);
                have_full = true;
            }
        }
        pthread_mutex_unlock(&b->mu);
        if (have_full) {
            write_pack(b, &full);
            repo_pack_builder_free(&full);
        }
    }
    rd_buf_free(&blob);
    rd_zstd_free(z);
    return NULL;
}

static void backup_id(char *out, size_t len)
{
    uint8_t rnd[4];
    char hex[9];
    if (rd_random_bytes(rnd, sizeof rnd) < 0)
        memset(rnd, 0, sizeof rnd);
    rd_hex_encode(rnd, sizeof rnd, hex);
    char when[32];
    int64_t now = rd_clock_now();
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, len, "%s-%s", when, hex);
}

int repo_backup_begin(repo *r, const repo_backup_options *opts, repo_backup **out)
{
    int rc = repo_index_ensure(r);
    if (rc < 0)
        return rc;
    repo_backup *b = rd_calloc(1, sizeof *b);
    b->r = r;
    b->m = rd_calloc(1, sizeof *b->m);
    repo_backup_info *in = &b->m->info;
    backup_id(in->id, sizeof in->id);
    in->label = rd_strdup(opts && opts->label ? opts->label : "");
    in->kind = rd_strdup(opts && opts->kind ? opts->kind : "manual");
    in->source = rd_strdup(opts && opts->source ? opts->source : "");
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    in->hostname = rd_strdup(host);
    in->start_us = rd_clock_now_us();
    repo_chunker_init(&b->chunker, r->chunk_min, r->chunk_avg, r->chunk_max);
    b->buf_cap = 4 * (size_t)r->chunk_max;
    b->buf = rd_malloc(b->buf_cap);

    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->can_push, NULL);
    pthread_cond_init(&b->can_pop, NULL);
    b->n_workers = r->threads;
    b->q_cap = 2 * (size_t)r->threads + 2;
    b->queue = rd_calloc(b->q_cap, sizeof *b->queue);
    b->workers = rd_calloc((size_t)b->n_workers, sizeof *b->workers);
    for (int i = 0; i < b->n_workers; i++) {
        if (pthread_create(&b->workers[i], NULL, worker_main, b) != 0) {
            b->n_workers = i;
            repo_backup_abort(b);
            return rd_fail(RD_EINTERNAL, "cannot start worker threads");
        }
    }
    *out = b;
    return 0;
}

static void stop_workers(repo_backup *b)
{
    pthread_mutex_lock(&b->mu);
    b->closing = true;
    pthread_cond_broadcast(&b->can_pop);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_workers; i++)
        pthread_join(b->workers[i], NULL);
    b->n_workers = 0;
}

static void backup_free(repo_backup *b)
{
    stop_workers(b);
    for (size_t i = 0; i < b->q_len; i++)
        free(b->queue[(b->q_head + i) % b->q_cap].data);
    free(b->queue);
    free(b->workers);
    repo_pack_builder_free(&b->pack);
    for (size_t i = 0; i < b->n_written; i++)
        repo_pack_desc_free(&b->written[i]);
    free(b->written);
    repo_idmap_free(&b->seen);
    free(b->buf);
    repo_manifest_free(b->m);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->can_push);
    pthread_cond_destroy(&b->can_pop);
    free(b);
}

void repo_backup_abort(repo_backup *b)
{
    if (b)
        backup_free(b);
}

const repo_backup_stats *repo_backup_progress(const repo_backup *b)
{
    return &b->stats;
}

static int submit_chunk(repo_backup *b, const uint8_t id[REPO_ID_LEN], const uint8_t *data,
                        uint32_t len)
{
    struct chunk_job job;
    memcpy(job.id, id, REPO_ID_LEN);
    job.data = rd_malloc(len);
    memcpy(job.data, data, len);
    job.len = len;
    pthread_mutex_lock(&b->mu);
    while (b->q_len == b->q_cap && !b->error)
        pthread_cond_wait(&b->can_push, &b->mu);
    int rc = b->error;
    if (rc) {
        rd_fail(rc, "%s", b->error_msg);
        free(job.data);
    } else {
        b->queue[(b->q_head + b->q_len) % b->q_cap] = job;
        b->q_len++;
        b->stats.new_chunks++;
        b->stats.new_raw_bytes += len;
        pthread_cond_signal(&b->can_pop);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static repo_entry *append_entry(repo_manifest *m, const repo_entry *meta)
{
    if (m->n_entries == m->cap_entries) {
        m->cap_entries = m->cap_entries ? 2 * m->cap_entries : 256;
        m->entries = rd_realloc(m->entries, m->cap_entries * sizeof *m->entries);
    }
    repo_entry *e = &m->entries[m->n_entries++];
    *e = *meta;
    e->path = rd_strdup(meta->path);
    e->link_target = rd_strdup(meta->type == REPO_ENTRY_SYMLINK ? meta->link_target : "");
    e->n_chunks = 0;
    e->chunks = NULL;
    e->mode &= 07777;
    if (e->type != REPO_ENTRY_FILE)
        e->size = 0;
    return e;
}

static int add_chunk(repo_backup *b, repo_entry *e, size_t *cap, const uint8_t *data, size_t len)
{
    uint8_t id[REPO_ID_LEN];
    rd_sha256(data, len, id);
    if (e->n_chunks == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        e->chunks = rd_realloc(e->chunks, *cap * sizeof *e->chunks);
    }
    memcpy(e->chunks[e->n_chunks].id, id, REPO_ID_LEN);
    e->chunks[e->n_chunks++].len = (uint32_t)len;
    b->stats.chunks++;
    /* The first sighting in this backup decides; the index answers for the
     * chunks of earlier backups. */
    if (!repo_idmap_put(&b->seen, id, 0))
        return 0;
    if (repo_index_find(b->r->index, id))
        return 0;
    return submit_chunk(b, id, data, (uint32_t)len);
}

static int add_file_content(repo_backup *b, repo_entry *e, repo_read_fn read, void *arg)
{
    size_t start = 0, end = 0, cap = 0;
    bool eof = false;
    uint64_t total = 0;
    int rc = 0;
    while (rc == 0) {
        if (!eof && end - start < b->chunker.max) {
            if (end == b->buf_cap) {
                memmove(b->buf, b->buf + start, end - start);
                end -= start;
                start = 0;
            }
            ssize_t n = read(arg, b->buf + end, b->buf_cap - end);
            if (n < 0) {
                rc = (int)n;
                break;
            }
            if (n == 0)
                eof = true;
            end += (size_t)n;
            total += (uint64_t)n;
            continue;
        }
        if (end == start)
            break;
        size_t cut = repo_chunker_next(&b->chunker, b->buf + start, end - start, eof);
        rc = add_chunk(b, e, &cap, b->buf + start, cut);
        start += cut;
    }
    e->size = total;
    if (rc == 0) {
        b->stats.files++;
        b->stats.logical_bytes += total;
    }
    return rc;
}

int repo_backup_add(repo_backup *b, const repo_entry *meta, repo_read_fn read, void *arg)
{
    int rc = current_error(b);
    if (rc < 0)
        return rc;
    rc = repo_path_check(meta->path);
    if (rc < 0)
        return rc;
    if (meta->type == REPO_ENTRY_SYMLINK && (!meta->link_target || !*meta->link_target))
        return rd_fail(RD_EUSAGE, "symlink %s has no target", meta->path);
    if (meta->type != REPO_ENTRY_FILE && meta->type != REPO_ENTRY_DIR &&
        meta->type != REPO_ENTRY_SYMLINK)
        return rd_fail(RD_EUSAGE, "entry %s has an unknown type", meta->path);
    repo_entry *e = append_entry(b->m, meta);
    if (e->type == REPO_ENTRY_DIR)
        b->stats.dirs++;
    else if (e->type == REPO_ENTRY_SYMLINK)
        b->stats.symlinks++;
    else
        rc = add_file_content(b, e, read, arg);
    if (rc < 0) {
        /* Keep the manifest consistent: the entry is dropped, not half-listed. */
        repo_entry_clear(e);
        b->m->n_entries--;
    }
    return rc;
}

int repo_backup_set_meta(repo_backup *b, const char *key, const char *value)
{
    repo_backup_info *in = &b->m->info;
    for (size_t i = 0; i < in->n_meta; i++) {
        if (strcmp(in->meta_keys[i], key) == 0) {
            free(in->meta_values[i]);
            in->meta_values[i] = rd_strdup(value);
            return 0;
        }
    }
    in->meta_keys = rd_realloc(in->meta_keys, (in->n_meta + 1) * sizeof(char *));
    in->meta_values = rd_realloc(in->meta_values, (in->n_meta + 1) * sizeof(char *));
    in->meta_keys[in->n_meta] = rd_strdup(key);
    in->meta_values[in->n_meta++] = rd_strdup(value);
    return 0;
}

static void info_copy(repo_backup_info *dst, const repo_backup_info *src)
{
    *dst = *src;
    dst->label = rd_strdup(src->label);
    dst->kind = rd_strdup(src->kind);
    dst->source = rd_strdup(src->source);
    dst->hostname = rd_strdup(src->hostname);
    dst->meta_keys = rd_calloc(src->n_meta, sizeof(char *));
    dst->meta_values = rd_calloc(src->n_meta, sizeof(char *));
    for (size_t i = 0; i < src->n_meta; i++) {
        dst->meta_keys[i] = rd_strdup(src->meta_keys[i]);
        dst->meta_values[i] = rd_strdup(src->meta_values[i]);
    }
}

static int write_manifest(repo *r, repo_manifest *m)
{
    rd_buf body = RD_BUF_INIT, sealed = RD_BUF_INIT;
    repo_manifest_encode(m, &body);
    int rc = repo_envelope_seal(repo_key_or_null(r), REPO_FILE_MANIFEST, body.data, body.len,
                                &sealed);
    rd_buf_free(&body);
    if (rc == 0) {
        char *path = rd_asprintf("snapshots/%s", m->info.id);
        rc = repo_storage_put(r->st, path, sealed.data, sealed.len);
        free(path);
    }
    rd_buf_free(&sealed);
    return rc;
}

int repo_backup_commit(repo_backup *b, repo_backup_info *info)
{
    stop_workers(b);
    int rc = current_error(b);
    if (rc == 0 && b->pack.desc.n > 0) {
        repo_pack_builder last = b->pack;
        memset(&b->pack, 0, sizeof b->pack);
        write_pack(b, &last);
        repo_pack_builder_free(&last);
        rc = current_error(b);
    }
    if (rc == 0 && b->n_written > 0)
        rc = repo_index_write(b->r, b->written, b->n_written, NULL);
    if (rc == 0) {
        b->m->info.end_us = rd_clock_now_us();
        b->m->info.stats = b->stats;
        rc = write_manifest(b->r, b->m);
    }
    if (rc == 0) {
        for (size_t i = 0; i < b->n_written; i++)
            repo_index_add_pack(b->r->index, &b->written[i]);
        if (info)
            info_copy(info, &b->m->info);
    }
    backup_free(b);
    return rc;
}
