/* Private definitions shared by the files of src/repo. Nothing outside the
 * module includes this; the public API is repo.h. */
#ifndef RD_REPO_INTERNAL_H
#define RD_REPO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "repo/repo.h"
#include "repo/storage.h"

#define REPO_FORMAT_VERSION 1
/* Metadata files (index, manifest, pack header) never exceed this when decoded. */
#define REPO_META_MAX (1024u * 1024 * 1024)
#define REPO_PATH_MAX 4096
/* Packs close at this size; with one open pack per worker and a few waiting
 * for the writer, this bounds most of a backup's memory. */
#define REPO_PACK_TARGET (8u * 1024 * 1024)

/* ------------------------------------------------------------- id map -- */

/* Open-addressing hash map from 32-byte ids (already uniformly distributed
 * SHA-256 values, so their first bytes are the hash) to uint32 values. */
typedef struct repo_idmap {
    uint8_t (*keys)[REPO_ID_LEN];
    uint32_t *values;
    uint8_t *used;
    size_t cap, len;
} repo_idmap;

void repo_idmap_free(repo_idmap *m);
/* Returns true when inserted, false when the id was present (value kept). */
bool repo_idmap_put(repo_idmap *m, const uint8_t id[REPO_ID_LEN], uint32_t value);
/* Returns a pointer to the value or NULL. */
uint32_t *repo_idmap_get(const repo_idmap *m, const uint8_t id[REPO_ID_LEN]);

/* -------------------------------------------------------------- index -- */

/* Where a chunk lives. Offsets are within the pack; packs stay under 4 GiB. */
typedef struct repo_blob_loc {
    uint8_t id[REPO_ID_LEN];
    uint32_t offset, length, raw_len;
} repo_blob_loc;

typedef struct repo_pack_desc {
    uint8_t id[REPO_ID_LEN];
    size_t n;
    repo_blob_loc *blobs;
} repo_pack_desc;

typedef struct repo_chunk_loc {
    uint32_t pack;              /* index into repo_index.packs */
    uint32_t offset, length, raw_len;
} repo_chunk_loc;

typedef struct repo_index {
    repo_idmap chunks;          /* chunk id -> index into locs */
    repo_chunk_loc *locs;
    size_t n_locs, cap_locs;
    repo_idmap pack_map;        /* pack id -> index into pack_ids */
    uint8_t (*pack_ids)[REPO_ID_LEN];
    size_t n_packs, cap_packs;
    char **files;               /* index files loaded */
    size_t n_files;
} repo_index;

void repo_index_free(repo_index *ix);
void repo_index_add_pack(repo_index *ix, const repo_pack_desc *pack);
const repo_chunk_loc *repo_index_find(const repo_index *ix, const uint8_t id[REPO_ID_LEN]);
/* Loads every index file; damaged ones are reported through bad() and skipped
 * when bad is non-NULL, or fail the load when it is NULL. */
int repo_index_load(repo *r, repo_index *ix,
                    void (*bad)(void *arg, const char *file, const char *msg), void *arg);
/* Writes one index file naming these packs; returns its path in *path_out. */
int repo_index_write(repo *r, const repo_pack_desc *packs, size_t n, char **path_out);

/* ------------------------------------------------------------ formats -- */

enum repo_file_type { REPO_FILE_INDEX = 'I', REPO_FILE_MANIFEST = 'M', REPO_FILE_PACKHDR = 'P',
                      REPO_FILE_OBJECT = 'O' };

/* Wraps body as a metadata file: zstd-compressed, then AES-256-GCM sealed
 * (encrypted repositories) or followed by a SHA-256 (plain ones). */
int repo_envelope_seal(const uint8_t *key, enum repo_file_type type, const uint8_t *body,
                       size_t len, rd_buf *out);
/* The same at a chosen zstd level (metadata uses 3). */
int repo_envelope_seal_level(const uint8_t *key, enum repo_file_type type, const uint8_t *body,
                             size_t len, int level, rd_buf *out);
/* The same envelope for the body prefix || data, compressed without copying
 * them together (16 MiB WAL segments; a large body as one zstd frame per
 * core, rd_zstd_compress2_frames), and with zstd's content checksum in every
 * frame, which opening it verifies. */
int repo_envelope_seal_parts(const uint8_t *key, enum repo_file_type type,
                             const uint8_t *prefix, size_t prefix_len, const uint8_t *data,
                             size_t len, int level, int min_match, rd_buf *out);
/* Verifies and unwraps; key NULL for plain repositories. -RD_ECORRUPT on damage. */
int repo_envelope_open(const uint8_t *key, enum repo_file_type type, const uint8_t *data,
                       size_t len, rd_buf *body);

void repo_pack_desc_free(repo_pack_desc *p);
void repo_packs_encode(const repo_pack_desc *packs, size_t n, rd_buf *body);
/* Parses an index body: an array of packs. */
int repo_packs_decode(const uint8_t *body, size_t len, repo_pack_desc **packs, size_t *n);

/* Manifest bodies. The manifest owns its info and entries. */
struct repo_manifest {
    repo_backup_info info;
    repo_entry *entries;
    size_t n_entries, cap_entries;
};
void repo_manifest_encode(const repo_manifest *m, rd_buf *body);
int repo_manifest_decode(const uint8_t *body, size_t len, repo_manifest **out);
void repo_entry_clear(repo_entry *e);

/* --------------------------------------------------------------- packs -- */

/* Pack file: blob || blob || ... || sealed header || u32 header length || "RDPK" */
#define REPO_PACK_MAGIC "RDPK"
#define REPO_PACK_TRAILER 8

/* Encodes one chunk as a blob (compressed when it helps, sealed when
 * encrypted) and appends it to out; scratch is working space. */
int repo_blob_encode(repo *r, void *zstd, const uint8_t id[REPO_ID_LEN], const uint8_t *data,
                     size_t len, rd_buf *scratch, rd_buf *out, size_t *blob_len);
/* Decodes and verifies a blob against its id. The blob is decrypted in
 * place (its bytes are clobbered); *data then points at the raw_len verified
 * bytes, either inside the blob or in out (raw_len bytes of room).
 * In an encrypted repository, AES-GCM authenticates the blob together with its
 * id (the associated data), which is the verification; the SHA-256 of the
 * plaintext is checked as well only with verify_hash (check --read-data). In
 * a plain repository the SHA-256 is the only check and always runs. */
int repo_blob_decode(repo *r, void *zstd, const uint8_t id[REPO_ID_LEN], uint8_t *blob,
                     size_t len, uint32_t raw_len, uint8_t *out, const uint8_t **data,
                     bool verify_hash);

/* Builds a pack in memory. */
typedef struct repo_pack_builder {
    rd_buf data;
    repo_pack_desc desc;
    size_t cap_blobs;
} repo_pack_builder;

/* Copies a blob into the pack. */
void repo_pack_builder_add(repo_pack_builder *pb, const uint8_t id[REPO_ID_LEN],
                           const uint8_t *blob, size_t len, uint32_t raw_len);
/* Records a blob already appended to pb->data (its last len bytes). */
void repo_pack_builder_note(repo_pack_builder *pb, const uint8_t id[REPO_ID_LEN], size_t len,
                            uint32_t raw_len);
/* Appends the header, names the pack by its hash and stores it. The pack is
 * durable only after repo_storage_sync(), which the caller must run before
 * writing an index that names it. On success pb->desc describes the pack
 * (caller takes it); pb is reset. */
int repo_pack_builder_finish(repo *r, repo_pack_builder *pb, repo_pack_desc *out);
void repo_pack_builder_free(repo_pack_builder *pb);

/* Opens and validates a sealed pack header of a pack of pack_size bytes. */
int repo_pack_header_parse(const uint8_t *key, const uint8_t *sealed, size_t len,
                           uint64_t pack_size, repo_pack_desc *out);
/* Reads and decodes the header at the end of a pack whose size is known. */
int repo_pack_read_header(repo *r, const char *path, uint64_t size, repo_pack_desc *out);
/* A pack's id: the SHA-256 of its sealed header and trailer (the last
 * header_len + REPO_PACK_TRAILER bytes). */
void repo_pack_name(const uint8_t *pack, size_t len, size_t header_len,
                    uint8_t id[REPO_ID_LEN]);
void repo_pack_path(const uint8_t id[REPO_ID_LEN], char out[80]);
int repo_pack_id_from_path(const char *rel, uint8_t id[REPO_ID_LEN]);
/* Reads, decodes and verifies one chunk; *data as for repo_blob_decode. */
int repo_chunk_read(repo *r, void *zstd, const uint8_t id[REPO_ID_LEN], uint8_t *out,
                    uint32_t expect_len, rd_buf *scratch, const uint8_t **data);

/* ------------------------------------------------------------- chunker -- */

typedef struct repo_chunker {
    uint64_t gear[256];
    uint32_t min, avg, max;
    uint64_t mask_small, mask_large;
} repo_chunker;

void repo_chunker_init(repo_chunker *c, uint32_t min, uint32_t avg, uint32_t max);
/* Length of the next chunk at the start of data. With fewer than max bytes
 * available and more to come (eof false), returns 0: read more first. */
size_t repo_chunker_next(const repo_chunker *c, const uint8_t *data, size_t len, bool eof);

/* ---------------------------------------------------------- repository -- */

struct repo {
    char *name;
    repo_storage *st;
    bool encrypted;
    uint8_t key[RD_AEAD_KEY_LEN];
    char id_hex[2 * REPO_ID_LEN + 1];
    char key_check_hex[2 * RD_SHA256_LEN + 1];
    uint32_t chunk_min, chunk_avg, chunk_max;
    int compress_level;
    bool compress_level_set;     /* compress-level given in [repo NAME] */
    int compress_min_match;      /* zstd's minimum match length, 0: the level's */
    int threads;
    repo_index *index;           /* loaded on first use */
    /* Held lock and the thread that keeps it fresh. */
    char *lock_path;
    bool lock_exclusive;
    pthread_t lock_thread;
    bool lock_thread_running;
    pthread_mutex_t lock_mu;
    pthread_cond_t lock_cv;
    bool lock_stop;
    char *key_cache;             /* STATE/key-cache/ID, NULL when not used */
};

/* src/repo/keycache.c: the unwrapped data key cached for short-lived
 * processes. load: 0 and r->key set when the cache at path is valid for r
 * and pass. store: best effort (never fails the caller). */
char *repo_key_cache_path(const rd_config *cfg, const char *repo_id);
int repo_key_cache_load(repo *r, const char *path, const char *pass);
void repo_key_cache_store(const rd_config *cfg, repo *r, const char *path, const char *keyfile,
                          const char *pass);

/* A key file (keys/ID): scrypt parameters, salt and the sealed data key. */
typedef struct repo_keyfile {
    uint64_t n;
    uint32_t r, p;
    uint8_t salt[32];
    uint8_t wrapped[RD_AEAD_KEY_LEN + RD_AEAD_OVERHEAD];
} repo_keyfile;

/* Parses and validates a key file; -RD_ECORRUPT when malformed. */
int repo_keyfile_parse(const uint8_t *text, size_t len, repo_keyfile *out);

int repo_index_ensure(repo *r);
/* This machine's name (for locks and backup listings), "unknown" if none. */
void repo_host_name(char *out, size_t len);
/* Lists the object names under dir (relative to it), sorted. */
int repo_list_sorted(repo *r, const char *dir, char ***out, size_t *n);
/* Lists backup ids (the names under snapshots/), sorted. */
int repo_snapshot_ids(repo *r, char ***ids, size_t *n);
void repo_strv_free(char **v, size_t n);
int repo_manifest_load_path(repo *r, const char *id, repo_manifest **out);
/* Adds a file whose chunks are already known (unchanged since the parent
 * backup); they must all be in the index. */
int repo_backup_add_known(repo_backup *b, const repo_entry *meta, const repo_chunk_ref *chunks,
                          uint32_t n_chunks);
const uint8_t *repo_key_or_null(const repo *r);

#endif
