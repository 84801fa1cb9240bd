/* The backup repository: the one format every backup, snapshot and WAL segment
 * of radiant is kept in (DESIGN.md section 3).
 *
 * A repository is a set of files behind a storage driver (POSIX directory or
 * S3 bucket):
 *
 *   config              repository id, format version, chunker parameters
 *   keys/KEYID          data key wrapped by a scrypt-derived key (encrypted repos)
 *   data/XX/PACKID      pack files: many compressed+encrypted chunks, with their
 *                       own header at the end; PACKID is the SHA-256 of the file
 *   index/ID            which chunk lives in which pack at which offset
 *   snapshots/ID        one manifest per backup: file tree, metadata, chunk ids
 *   locks/ID            shared (backup) and exclusive (prune) locks
 *
 * Files are deduplicated at the level of content-defined chunks (FastCDC), or
 * of fixed-size ones for content that changes in place (database pages), so
 * every backup is complete on its own and expiring one never breaks another.
 * Writes are ordered: packs are durable before the index that names them, and
 * the index before the manifest, so a crash at any moment leaves a consistent
 * repository whose only debris is unreferenced packs that prune removes.
 *
 * Ownership: every _open/_begin/_load has a matching _close/_abort/_free that
 * accepts NULL. Functions return 0 or -RD_E* with rd_error() set. */
#ifndef RD_REPO_H
#define RD_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/config.h"

#define REPO_ID_LEN 32

typedef struct repo repo;
typedef struct repo_manifest repo_manifest;

/* ---------------------------------------------------------- open, init -- */

/* Reads the passphrase for [repo NAME] from passphrase-file or passphrase-env.
 * *out is NULL (and 0 returned) when the repository has none configured. */
int repo_passphrase_from_config(const rd_config_section *sec, char **out);

/* Creates a new repository at the location of [repo NAME]; encrypted when a
 * passphrase is configured. -RD_EEXIST when one is already there. */
int repo_init(const rd_config *cfg, const char *name);
/* Opens [repo NAME]. -RD_ENOENT when nothing is there, -RD_EPASS when the
 * passphrase does not unlock it, -RD_ECORRUPT when its config is damaged. */
int repo_open(const rd_config *cfg, const char *name, repo **out);
void repo_close(repo *r);

const char *repo_name(const repo *r);
const char *repo_location(const repo *r);
bool repo_encrypted(const repo *r);
/* Hex id of the repository, fixed at init. */
const char *repo_id(const repo *r);
/* Worker threads used for hashing/compression/encryption and restore. */
void repo_set_threads(repo *r, int threads);
/* The zstd level and minimum match length (0: the level's own) for what
 * this handle writes next, unless the repository's section sets
 * compress-level (which always wins, with the level's own match length). */
void repo_prefer_compression(repo *r, int level, int min_match);

/* Replaces the wrapping of the data key: nothing else is rewritten. */
int repo_change_passphrase(repo *r, const char *new_passphrase);

/* ----------------------------------------------------------------- locks -- */

/* Shared locks let backups run side by side; an exclusive lock (prune) waits
 * for none and is refused while any other live lock exists. Locks left by dead
 * processes on this host are recognised (pid and process start time) and
 * removed. -RD_ELOCKED names the holder. */
int repo_lock(repo *r, bool exclusive);
void repo_unlock(repo *r);

/* --------------------------------------------------------------- entries -- */

enum repo_entry_type { REPO_ENTRY_FILE = 1, REPO_ENTRY_DIR = 2, REPO_ENTRY_SYMLINK = 3 };

typedef struct repo_chunk_ref {
    uint8_t id[REPO_ID_LEN];
    uint32_t len;
} repo_chunk_ref;

/* One file, directory or symlink of a backup. Paths are relative,
 * '/'-separated, without "." or ".." components. */
typedef struct repo_entry {
    enum repo_entry_type type;
    char *path;
    uint32_t mode;               /* permission bits, 07777 */
    uint32_t uid, gid;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    uint64_t size;
    /* Change detection against the previous backup of the same tree; zero
     * when the source has no such notion (tar streams). */
    uint64_t ino;
    int64_t ctime_sec;
    uint32_t ctime_nsec;
    char *link_target;           /* symlinks */
    uint32_t n_chunks;
    repo_chunk_ref *chunks;
} repo_entry;

/* Rejects absolute paths, empty components, "." and "..": -RD_EUSAGE. */
int repo_path_check(const char *path);

/* -------------------------------------------------------------- progress -- */

/* Bytes done so far of a long operation, for a progress display. The worker
 * threads add with __atomic_fetch_add, readers read with __atomic_load_n
 * (relaxed: a display needs no ordering). */
typedef struct repo_progress {
    uint64_t done;
    uint64_t total;              /* 0 when not known in advance */
} repo_progress;

/* ---------------------------------------------------------------- backup -- */

typedef struct repo_backup repo_backup;

typedef struct repo_backup_options {
    const char *label;           /* free text, may be NULL */
    const char *kind;            /* "manual", "automated", "dir"...; NULL = "manual" */
    const char *source;          /* what was backed up, for listings */
    repo_progress *progress;     /* optional: logical bytes read */
} repo_backup_options;

typedef struct repo_backup_stats {
    uint64_t files, dirs, symlinks;
    uint64_t logical_bytes;      /* sum of file sizes */
    uint64_t chunks, new_chunks;
    uint64_t new_raw_bytes;      /* bytes of chunks not in the repository before */
    uint64_t new_stored_bytes;   /* what those took in packs */
    uint64_t packs_written;
} repo_backup_stats;

typedef struct repo_backup_info {
    char id[64];
    char *label, *kind, *source, *hostname;
    int64_t start_us, end_us;
    repo_backup_stats stats;
    /* Free-form metadata (PostgreSQL LSNs and times, ...). */
    size_t n_meta;
    char **meta_keys, **meta_values;
} repo_backup_info;

void repo_backup_info_free(repo_backup_info *info);
/* Value of a metadata key, or NULL. */
const char *repo_backup_info_meta(const repo_backup_info *info, const char *key);

/* Reads file content; returns bytes read (0 at end) or -RD_E*. */
typedef ssize_t (*repo_read_fn)(void *arg, void *buf, size_t len);

/* Starts a backup. The caller holds a shared lock. */
int repo_backup_begin(repo *r, const repo_backup_options *opts, repo_backup **out);
/* Adds entries one at a time, from any source (directory walk, tar stream).
 * For files, `meta` gives everything but the chunks; content comes from read()
 * until it returns 0, and meta->size is replaced with the bytes read. */
int repo_backup_add(repo_backup *b, const repo_entry *meta, repo_read_fn read, void *arg);
/* The same for content that changes in place, page by page, and never shifts
 * (database relation files): it is cut at fixed offsets, every `avg` bytes of
 * the chunker, so a changed page changes exactly one chunk and no boundary is
 * searched for. */
int repo_backup_add_paged(repo_backup *b, const repo_entry *meta, repo_read_fn read, void *arg);
int repo_backup_set_meta(repo_backup *b, const char *key, const char *value);
/* Flushes packs, writes the index and then the manifest. Fills info (owned by
 * the caller, free with repo_backup_info_free) and frees b in all cases. */
int repo_backup_commit(repo_backup *b, repo_backup_info *info);
/* Drops an unfinished backup; packs it wrote are left for prune. */
void repo_backup_abort(repo_backup *b);
const repo_backup_stats *repo_backup_progress(const repo_backup *b);

enum repo_walk_filter {
    REPO_WALK_KEEP = 0,          /* back it up */
    REPO_WALK_SKIP = 1,          /* leave it out */
    REPO_WALK_EMPTY = 2,         /* a directory kept empty: its entry, not its contents */
    REPO_WALK_PAGED = 3,         /* a file kept with repo_backup_add_paged() */
};

typedef struct repo_dir_options {
    bool skip_unreadable;        /* warn and continue instead of failing */
    /* Optional: decides per path (relative, '/'-separated) what is kept. */
    enum repo_walk_filter (*filter)(void *arg, const char *rel, bool is_dir);
    void *filter_arg;
    /* The previous backup of the same tree, or NULL. A regular file whose
     * size, mtime, ctime and inode are unchanged since then is not read
     * again: its chunks are taken from the parent (when all still exist). */
    const repo_manifest *parent;
} repo_dir_options;

/* Walks a directory tree into b: regular files, directories, symlinks.
 * Unreadable files fail the backup (naming them) unless skip_unreadable. */
int repo_backup_add_tree(repo_backup *b, const char *dir, const repo_dir_options *opts);

/* Reads a ustar/pax tar stream from fd into b (PostgreSQL's BASE_BACKUP). */
int repo_backup_add_tar(repo_backup *b, int fd, const char *prefix);

/* ------------------------------------------------------ listing, manifests -- */

/* The newest backup whose source and kind match, for repo_dir_options.parent;
 * *out is NULL (and 0 returned) when there is none. */
int repo_manifest_load_parent(repo *r, const char *source, const char *kind,
                              repo_manifest **out);

/* All backups, oldest first. */
int repo_backup_list(repo *r, repo_backup_info **out, size_t *n);
void repo_backup_list_free(repo_backup_info *list, size_t n);

/* id may be a unique prefix of a backup id, or "latest". */
int repo_manifest_load(repo *r, const char *id, repo_manifest **out);
void repo_manifest_free(repo_manifest *m);
const repo_backup_info *repo_manifest_info(const repo_manifest *m);
size_t repo_manifest_count(const repo_manifest *m);
const repo_entry *repo_manifest_entry(const repo_manifest *m, size_t i);

/* --------------------------------------------------------------- restore -- */

typedef struct repo_restore_stats {
    uint64_t files, dirs, symlinks, bytes;
} repo_restore_stats;

typedef struct repo_restore_options {
    bool force;                  /* restore into a non-empty directory */
    bool no_owner;               /* do not chown even when running as root */
    repo_progress *progress;     /* optional: bytes written of the backup's total */
} repo_restore_options;

/* Restores a backup into dir, in parallel, then makes it durable (syncfs).
 * Every chunk is verified against its hash before it is written. */
int repo_restore_dir(repo *r, const repo_manifest *m, const char *dir,
                     const repo_restore_options *opts, repo_restore_stats *stats);
/* Writes one file's content to write(), in order, verified. */
typedef int (*repo_write_fn)(void *arg, const void *buf, size_t len);
int repo_restore_entry(repo *r, const repo_entry *e, repo_write_fn write, void *arg);
/* Writes the whole backup as a pax tar stream to fd. */
int repo_restore_tar(repo *r, const repo_manifest *m, int fd);

/* ------------------------------------------------ check, stats, forget, prune -- */

typedef struct repo_check_options {
    bool read_data;              /* read every pack and verify every chunk */
} repo_check_options;

/* Called once per problem found: `piece` names what is damaged ("pack
 * data/ab/ab12..", "index index/..", "manifest snapshots/.."), message says how. */
typedef void (*repo_check_report_fn)(void *arg, const char *piece, const char *message);

typedef struct repo_check_result {
    uint64_t packs, indexes, manifests, chunks_checked;
    size_t n_problems;
    size_t n_damaged;            /* backups that cannot be restored whole */
    char **damaged;              /* their ids */
} repo_check_result;

/* Returns 0 when everything is sound, -RD_ECORRUPT when anything is damaged;
 * fills result either way (free with repo_check_result_free). */
int repo_check(repo *r, const repo_check_options *opts, repo_check_report_fn report,
               void *arg, repo_check_result *result);
void repo_check_result_free(repo_check_result *result);

typedef struct repo_stats {
    uint64_t backups;
    uint64_t logical_bytes;      /* sum over backups of their file sizes */
    uint64_t unique_raw_bytes;   /* distinct chunk bytes before compression */
    uint64_t stored_bytes;       /* bytes of all packs */
    uint64_t chunks, packs;
} repo_stats;

int repo_get_stats(repo *r, repo_stats *out);

/* Removes a backup's manifest; its data stays until prune. */
int repo_forget(repo *r, const char *id);

typedef struct repo_prune_stats {
    uint64_t packs_deleted, packs_repacked, packs_kept;
    uint64_t bytes_freed;
    uint64_t chunks_removed;
} repo_prune_stats;

/* Removes data no backup references; repacks packs that are mostly dead.
 * Needs the exclusive lock. */
int repo_prune(repo *r, repo_prune_stats *stats);

/* ------------------------------------------------------- named objects -- */

/* Objects stored whole under a caller's name, such as WAL segments and
 * timeline history files ("wal/000000010000000000000001"): compressed,
 * encrypted in encrypted repositories, bound to their name and verified when
 * read. Names follow repo_path_check(). */

/* Stores an object durably. With exclusive, an object already stored under
 * the name is kept: identical content is success, different content is
 * -RD_EEXIST (never overwritten). */
int repo_object_put(repo *r, const char *name, const void *data, size_t len, bool exclusive);
/* Reads and verifies an object. -RD_ENOENT when there is none. */
int repo_object_get(repo *r, const char *name, rd_buf *out);
/* Lists objects whose names start with dir + "/", with their stored sizes. */
int repo_object_list(repo *r, const char *dir,
                     int (*cb)(void *arg, const char *name, uint64_t stored_size), void *arg);
int repo_object_remove(repo *r, const char *name);
/* 1 when an object is stored under name, 0 when none is, -RD_E* when the
 * storage cannot tell. Nothing is read: a damaged object counts as stored. */
int repo_object_exists(repo *r, const char *name);

typedef struct repo_repair_stats {
    uint64_t indexes_removed;    /* damaged index files dropped */
    uint64_t packs_reindexed;    /* packs no sound index named, indexed again */
    uint64_t packs_unreadable;   /* packs whose own header is damaged too */
} repo_repair_stats;

/* Rebuilds the index of packs that no sound index file names, from the
 * packs' own headers, then removes damaged index files. Needs the exclusive
 * lock. */
int repo_repair(repo *r, repo_repair_stats *stats);

#endif
