/* Creating and opening repositories: the config file, key files (a random data
 * key wrapped under a scrypt-derived key, one key file per passphrase), and the
 * passphrase sources a [repo NAME] section may name. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "repo/internal.h"

#define CHUNK_MIN (128u * 1024)
#define CHUNK_AVG (512u * 1024)
#define CHUNK_MAX (2u * 1024 * 1024)
/* scrypt cost: 2^15 * 8 * 128 bytes = 32 MiB of memory, ~0.1 s. */
#define SCRYPT_N 32768
#define SCRYPT_R 8
#define SCRYPT_P 1
#define KEY_AAD "radiant data key"

int repo_passphrase_from_config(const rd_config_section *sec, char **out)
{
    const char *file = rd_config_get(sec, "passphrase-file");
    const char *env = rd_config_get(sec, "passphrase-env");
    const char *name = rd_config_section_name(sec);
    *out = NULL;
    if (env) {
        const char *v = getenv(env);
        if (!v || !*v)
            return rd_fail(RD_ECONFIG, "environment variable %s (passphrase-env of [repo %s]) "
                           "is not set", env, name);
        *out = rd_strdup(v);
        return 0;
    }
    if (!file)
        return 0;
    rd_buf b = RD_BUF_INIT;
    int rc = rd_fs_read_file(file, 4096, &b);
    if (rc < 0) {
        rd_buf_free(&b);
        return rd_fail(RD_ECONFIG, "cannot read passphrase-file %s of [repo %s]: %s", file, name,
                       rd_error());
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.len--;
    if (b.len == 0 || memchr(b.data, '\0', b.len)) {
        rd_buf_free(&b);
        return rd_fail(RD_ECONFIG, "passphrase-file %s of [repo %s] is empty or not text", file,
                       name);
    }
    *out = rd_malloc(b.len + 1);
    memcpy(*out, b.data, b.len);
    (*out)[b.len] = '\0';
    rd_buf_free(&b);
    return 0;
}

static const rd_config_section *repo_section(const rd_config *cfg, const char *name)
{
    const rd_config_section *sec = rd_config_find(cfg, "repo", name);
    if (!sec)
        rd_fail(RD_ECONFIG, "no [repo %s] section in %s", name, rd_config_path(cfg));
    return sec;
}

static char *hex_of(const uint8_t *data, size_t len)
{
    char *out = rd_malloc(2 * len + 1);
    rd_hex_encode(data, len, out);
    return out;
}

/* Wraps the data key under passphrase and stores keys/<random id>. */
static int key_file_write(repo *r, const char *passphrase, char **path_out)
{
    uint8_t salt[32], kek[RD_AEAD_KEY_LEN], wrapped[RD_AEAD_KEY_LEN + RD_AEAD_OVERHEAD], kid[16];
    int rc = rd_random_bytes(salt, sizeof salt);
    if (rc == 0)
        rc = rd_random_bytes(kid, sizeof kid);
    if (rc == 0)
        rc = rd_scrypt(passphrase, strlen(passphrase), salt, sizeof salt, SCRYPT_N, SCRYPT_R,
                       SCRYPT_P, kek, sizeof kek);
    if (rc == 0)
        rc = rd_aead_seal(kek, KEY_AAD, strlen(KEY_AAD), r->key, sizeof r->key, wrapped);
    if (rc < 0)
        return rc;
    char *salt_hex = hex_of(salt, sizeof salt), *wrapped_hex = hex_of(wrapped, sizeof wrapped);
    char *kid_hex = hex_of(kid, sizeof kid);
    char created[32];
    rd_time_format(rd_clock_now(), created, sizeof created);
    json_t *doc = json_pack("{s:i,s:s,s:s,s:I,s:i,s:i,s:s,s:s}", "version", 1, "created", created,
                            "kdf", "scrypt", "n", (json_int_t)SCRYPT_N, "r", SCRYPT_R,
                            "p", SCRYPT_P, "salt", salt_hex, "data_key", wrapped_hex);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *path = rd_asprintf("keys/%s", kid_hex);
    rc = repo_storage_put(r->st, path, text, strlen(text));
    free(text);
    json_decref(doc);
    free(salt_hex);
    free(wrapped_hex);
    free(kid_hex);
    if (rc == 0 && path_out)
        *path_out = path;
    else
        free(path);
    return rc;
}

/* Proves a data key belongs to this repository: a key file left by an
 * interrupted init, or copied from another repository, unwraps with the right
 * passphrase but fails this check. */
static void key_check(const repo *r, char out[2 * RD_SHA256_LEN + 1])
{
    uint8_t mac[RD_SHA256_LEN];
    char *msg = rd_asprintf("radiant key check %s", r->id_hex);
    rd_hmac_sha256(r->key, sizeof r->key, msg, strlen(msg), mac);
    free(msg);
    rd_hex_encode(mac, sizeof mac, out);
}

static int write_config(repo *r, bool encrypted)
{
    char created[32];
    rd_time_format(rd_clock_now(), created, sizeof created);
    json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s,s:i,s:i,s:i}}", "version",
                            REPO_FORMAT_VERSION, "id", r->id_hex, "created", created,
                            "encryption", encrypted ? "aes-256-gcm" : "none",
                            "compression", "zstd", "chunker", "algorithm", "fastcdc-gear64",
                            "min", (int)r->chunk_min, "avg", (int)r->chunk_avg,
                            "max", (int)r->chunk_max);
    if (encrypted) {
        char check[2 * RD_SHA256_LEN + 1];
        key_check(r, check);
        json_object_set_new(doc, "key_check", json_string(check));
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = repo_storage_put(r->st, "config", text, strlen(text));
    free(text);
    json_decref(doc);
    return rc;
}

static int count_object(void *arg, const char *path, uint64_t size)
{
    (void)path, (void)size;
    (*(size_t *)arg)++;
    return 0;
}

/* A location with repository data but no config is a damaged repository, not
 * an empty one: a new key would make all of it unreadable. */
static int refuse_leftovers(repo_storage *st)
{
    static const char *const dirs[] = { "data", "index", "snapshots" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        size_t n = 0;
        int rc = repo_storage_list(st, dirs[i], count_object, &n);
        if (rc < 0)
            return rc;
        if (n)
            return rd_fail(RD_EEXIST, "%s holds repository data (%s/) but no config; refusing "
                           "to create a new repository over it", repo_storage_location(st),
                           dirs[i]);
    }
    return 0;
}

static repo *repo_alloc(const rd_config_section *sec, repo_storage *st)
{
    repo *r = rd_calloc(1, sizeof *r);
    r->name = rd_strdup(rd_config_section_name(sec));
    r->st = st;
    r->chunk_min = CHUNK_MIN;
    r->chunk_avg = CHUNK_AVG;
    r->chunk_max = CHUNK_MAX;
    /* zstd fast level 1: on PostgreSQL-like pages it stores 2-3% more than level 1
     * for 25% less CPU, which decides whether a backup keeps up with the disk
     * on two cores (bench/README.md). compress-level sets it per repository. */
    r->compress_level = (int)rd_config_get_int(sec, "compress-level", -1);
    r->compress_level_set = rd_config_get(sec, "compress-level") != NULL;
    /* Three workers on two cores: the reader and the pack writer (backup), or
     * the O_DIRECT writer (restore), leave a core idle part of the time, and a
     * third worker fills it (bench/README.md: about 6% faster backups, 10%
     * faster restores on the 2-core machine). */
    r->threads = (int)rd_config_get_int(sec, "threads", 3);
    pthread_mutex_init(&r->lock_mu, NULL);
    pthread_cond_init(&r->lock_cv, NULL);
    return r;
}

/* The repository object of a section, with its storage driver and the
 * passphrase (*pass, NULL when none is configured; the caller wipes it). */
static int repo_new(const rd_config_section *sec, repo **out, char **pass)
{
    int rc = repo_passphrase_from_config(sec, pass);
    if (rc < 0)
        return rc;
    repo_storage *st = NULL;
    rc = repo_storage_from_config(sec, &st);
    if (rc < 0) {
        free(*pass);
        *pass = NULL;
        return rc;
    }
    *out = repo_alloc(sec, st);
    return 0;
}

int repo_init(const rd_config *cfg, const char *name)
{
    const rd_config_section *sec = repo_section(cfg, name);
    if (!sec)
        return -RD_ECONFIG;
    char *pass = NULL;
    repo *r = NULL;
    int rc = repo_new(sec, &r, &pass);
    if (rc < 0)
        return rc;
    repo_storage *st = r->st;
    uint64_t size;
    rc = repo_storage_init(st);
    if (rc == 0 && repo_storage_stat(st, "config", &size) == 0)
        rc = rd_fail(RD_EEXIST, "a repository already exists at %s", repo_storage_location(st));
    if (rc == 0)
        rc = refuse_leftovers(st);
    uint8_t id[REPO_ID_LEN];
    if (rc == 0)
        rc = rd_random_bytes(id, sizeof id);
    if (rc == 0)
        rd_hex_encode(id, sizeof id, r->id_hex);
    if (rc == 0 && pass) {
        r->encrypted = true;
        rc = rd_random_bytes(r->key, sizeof r->key);
        /* The key file first: a config without a key would be unopenable. */
        if (rc == 0)
            rc = key_file_write(r, pass, NULL);
    }
    if (rc == 0)
        rc = write_config(r, pass != NULL);
    if (pass) {
        memset(pass, 0, strlen(pass));
        free(pass);
    }
    repo_close(r);
    return rc;
}

static int parse_config(repo *r, const rd_buf *text)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)text->data, text->len, 0, &jerr);
    int rc = 0;
    json_int_t version = 0, min = 0, avg = 0, max = 0;
    const char *id = NULL, *enc = NULL;
    if (!doc || json_unpack_ex(doc, &jerr, 0, "{s:I,s:s,s:s,s:{s:I,s:I,s:I}}", "version",
                               &version, "id", &id, "encryption", &enc, "chunker", "min", &min,
                               "avg", &avg, "max", &max) != 0) {
        rc = rd_fail(RD_ECORRUPT, "repository config at %s is damaged: %s",
                     repo_storage_location(r->st), jerr.text);
    } else if (version != REPO_FORMAT_VERSION) {
        rc = rd_fail(RD_ECORRUPT, "repository at %s has format version %lld; this radiant "
                     "reads version %d", repo_storage_location(r->st), (long long)version,
                     REPO_FORMAT_VERSION);
    } else if (strlen(id) != 2 * REPO_ID_LEN || min < 4096 || avg <= min || max <= avg ||
               max > 16 * 1024 * 1024 ||
               (strcmp(enc, "none") != 0 && strcmp(enc, "aes-256-gcm") != 0)) {
        rc = rd_fail(RD_ECORRUPT, "repository config at %s has invalid values",
                     repo_storage_location(r->st));
    } else {
        snprintf(r->id_hex, sizeof r->id_hex, "%s", id);
        r->encrypted = strcmp(enc, "aes-256-gcm") == 0;
        const char *check = json_string_value(json_object_get(doc, "key_check"));
        if (r->encrypted && (!check || strlen(check) != 2 * RD_SHA256_LEN)) {
            json_decref(doc);
            return rd_fail(RD_ECORRUPT, "repository config at %s lacks its key check",
                           repo_storage_location(r->st));
        }
        if (check)
            snprintf(r->key_check_hex, sizeof r->key_check_hex, "%s", check);
        r->chunk_min = (uint32_t)min;
        r->chunk_avg = (uint32_t)avg;
        r->chunk_max = (uint32_t)max;
    }
    json_decref(doc);
    return rc;
}

int repo_keyfile_parse(const uint8_t *text, size_t len, repo_keyfile *out)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_int_t n = 0, kr = 0, kp = 0;
    const char *salt_hex = NULL, *wrapped_hex = NULL, *kdf = NULL;
    int ok = doc && json_unpack(doc, "{s:s,s:I,s:I,s:I,s:s,s:s}", "kdf", &kdf, "n", &n, "r", &kr,
                                "p", &kp, "salt", &salt_hex, "data_key", &wrapped_hex) == 0 &&
             strcmp(kdf, "scrypt") == 0 && n >= 2 && n <= (1 << 22) && !(n & (n - 1)) &&
             kr >= 1 && kr <= 64 && kp >= 1 && kp <= 16 &&
             rd_hex_decode(salt_hex, out->salt, sizeof out->salt) == 0 &&
             rd_hex_decode(wrapped_hex, out->wrapped, sizeof out->wrapped) == 0;
    json_decref(doc);
    if (!ok)
        return rd_fail(RD_ECORRUPT, "key file is damaged");
    out->n = (uint64_t)n;
    out->r = (uint32_t)kr;
    out->p = (uint32_t)kp;
    return 0;
}

/* Tries one key file; -RD_EPASS when the passphrase does not open it. */
static int key_file_try(repo *r, const char *path, const char *pass)
{
    rd_buf text = RD_BUF_INIT;
    repo_keyfile kf;
    uint8_t kek[RD_AEAD_KEY_LEN];
    int rc = repo_storage_get(r->st, path, 0, 0, &text);
    if (rc == 0 && repo_keyfile_parse(text.data, text.len, &kf) < 0)
        rc = rd_fail(RD_ECORRUPT, "key file %s is damaged", path);
    rd_buf_free(&text);
    if (rc == 0)
        rc = rd_scrypt(pass, strlen(pass), kf.salt, sizeof kf.salt, kf.n, kf.r, kf.p, kek,
                       sizeof kek);
    if (rc == 0 && rd_aead_open(kek, KEY_AAD, strlen(KEY_AAD), kf.wrapped, sizeof kf.wrapped,
                                r->key) < 0)
        rc = -RD_EPASS;
    memset(kek, 0, sizeof kek);
    char check[2 * RD_SHA256_LEN + 1];
    if (rc == 0) {
        key_check(r, check);
        if (rd_memeq_ct(check, r->key_check_hex, sizeof check - 1) != 0) {
            RD_WARN("key file %s does not belong to repository %s (left by an interrupted "
                    "init?); ignoring it", path, r->name);
            rc = -RD_EPASS;
        }
    }
    return rc;
}

static int unlock(repo *r, const char *pass, const rd_config *cfg, const char *cache)
{
    /* src/repo/keycache.c: a key unwrapped by an earlier process, when it is
     * still valid for this repository, key file and passphrase */
    if (cache && repo_key_cache_load(r, cache, pass) == 0)
        return 0;
    char **names = NULL;
    size_t n = 0;
    int rc = repo_list_sorted(r, "keys", &names, &n);
    if (rc < 0)
        return rc;
    if (n == 0)
        rc = rd_fail(RD_ECORRUPT, "encrypted repository at %s has no key file",
                     repo_storage_location(r->st));
    int last = -RD_EPASS;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = rd_asprintf("keys/%s", names[i]);
        last = key_file_try(r, path, pass);
        if (last == 0 && cache)
            repo_key_cache_store(cfg, r, cache, path, pass);
        free(path);
        if (last == 0)
            break;
    }
    if (rc == 0 && last == -RD_EPASS)
        rc = rd_fail(RD_EPASS, "the passphrase does not unlock repository %s at %s; check "
                     "passphrase-file or passphrase-env in [repo %s]", r->name,
                     repo_storage_location(r->st), r->name);
    else if (rc == 0)
        rc = last;
    repo_strv_free(names, n);
    return rc;
}

static int repo_open_section(const rd_config *cfg, const rd_config_section *sec, repo **out)
{
    char *pass = NULL;
    repo *r = NULL;
    int rc = repo_new(sec, &r, &pass);
    if (rc < 0)
        return rc;
    repo_storage *st = r->st;
    rd_buf text = RD_BUF_INIT;
    rc = repo_storage_get(st, "config", 0, 0, &text);
    if (rc == -RD_ENOENT)
        rc = rd_fail(RD_ENOENT, "no repository at %s; create it with 'radiant repo init --repo "
                     "%s'", repo_storage_location(st), r->name);
    if (rc == 0)
        rc = parse_config(r, &text);
    rd_buf_free(&text);
    if (rc == 0 && r->encrypted && !pass)
        rc = rd_fail(RD_ECONFIG, "repository %s is encrypted; set passphrase-file or "
                     "passphrase-env in [repo %s]", r->name, r->name);
    if (rc == 0 && !r->encrypted && pass)
        RD_WARN("repository %s is not encrypted; its passphrase setting is ignored", r->name);
    char *cache = NULL;
    if (rc == 0 && r->encrypted && cfg && rd_config_get_bool(sec, "key-cache", true))
        cache = repo_key_cache_path(cfg, r->id_hex);
    if (cache)
        r->key_cache = rd_strdup(cache);
    if (rc == 0 && r->encrypted)
        rc = unlock(r, pass, cfg, cache);
    free(cache);
    if (pass) {
        memset(pass, 0, strlen(pass));
        free(pass);
    }
    if (rc < 0) {
        repo_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int repo_open(const rd_config *cfg, const char *name, repo **out)
{
    const rd_config_section *sec = repo_section(cfg, name);
    if (!sec)
        return -RD_ECONFIG;
    return repo_open_section(cfg, sec, out);
}

int repo_change_passphrase(repo *r, const char *new_passphrase)
{
    if (!r->encrypted)
        return rd_fail(RD_EUSAGE, "repository %s is not encrypted; there is no passphrase to "
                       "change", r->name);
    if (!new_passphrase || !*new_passphrase)
        return rd_fail(RD_EUSAGE, "the new passphrase is empty");
    char **names = NULL;
    size_t n = 0;
    int rc = repo_list_sorted(r, "keys", &names, &n);
    char *new_path = NULL;
    /* New key first, then the old ones go: a crash in between leaves both
     * passphrases working, never neither. */
    if (rc == 0)
        rc = key_file_write(r, new_passphrase, &new_path);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = rd_asprintf("keys/%s", names[i]);
        if (strcmp(path, new_path) != 0)
            rc = repo_storage_remove(r->st, path);
        free(path);
    }
    /* Every cached copy of the key is now invalid (its key file is gone);
     * this machine's goes at once. */
    if (rc == 0 && r->key_cache && unlink(r->key_cache) != 0 && errno != ENOENT)
        RD_WARN("cannot remove the key cache %s: %s", r->key_cache, strerror(errno));
    free(new_path);
    repo_strv_free(names, n);
    return rc;
}

void repo_close(repo *r)
{
    if (!r)
        return;
    repo_unlock(r);
    repo_index_free(r->index);
    repo_storage_free(r->st);
    memset(r->key, 0, sizeof r->key);
    pthread_mutex_destroy(&r->lock_mu);
    pthread_cond_destroy(&r->lock_cv);
    free(r->key_cache);
    free(r->name);
    free(r);
}

const char *repo_name(const repo *r) { return r->name; }
const char *repo_location(const repo *r) { return repo_storage_location(r->st); }
bool repo_encrypted(const repo *r) { return r->encrypted; }
const char *repo_id(const repo *r) { return r->id_hex; }

void repo_prefer_compression(repo *r, int level, int min_match)
{
    if (r->compress_level_set)
        return;
    r->compress_level = level;
    r->compress_min_match = min_match;
}

void repo_set_threads(repo *r, int threads)
{
    r->threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
}
