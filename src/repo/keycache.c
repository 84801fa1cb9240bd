/* The key cache: the unwrapped data key of an encrypted repository, kept in
 * STATE/key-cache/REPO-ID so that short-lived processes (`radiant wal push`
 * and `wal fetch`, one per WAL segment as archive_command and
 * restore_command) do not each pay scrypt (~0.1 s, 32 MiB) to unwrap it.
 *
 * Threat reasoning. The passphrase that unwraps the data key is already on
 * this machine, readable by the same user: passphrase-file (mode 0600, owned
 * by the run-as user) or passphrase-env (in the environment of that user's
 * processes). Whoever can read the cache file can read the passphrase, and
 * the key files are in the repository, so the cache gives an attacker on
 * this machine nothing new. It is kept to the same protection: a directory
 * of mode 0700 and files of mode 0600, owned by the run-as user (chowned
 * when radiant runs as root), opened with O_NOFOLLOW, and ignored unless it
 * is a regular file owned by this user (or read by root) with no group or
 * other permission bits. It never leaves the machine: the repository, which
 * may be remote or copied elsewhere, holds only wrapped keys. `key-cache =
 * off` in [repo NAME] disables it for an operator who does not want the
 * unwrapped key on disk at all.
 *
 * Validity. A cached key is used only when, at every open:
 *  - its MAC (HMAC-SHA256 under the cached key, over every field) checks:
 *    a torn or altered file is ignored (it is written by rename, unsynced:
 *    a cache lost in a crash costs one scrypt);
 *  - the key passes the repository's key_check (HMAC of the repository id
 *    under the data key, in the repository's config): a key from another
 *    repository, or a forged one, cannot pass it;
 *  - it was unwrapped with the passphrase configured now: the file holds
 *    HMAC(key, passphrase), so a changed passphrase-file or -env means
 *    scrypt again (and a wrong passphrase fails as it would without the
 *    cache). This is no oracle for guessing the passphrase beyond what the
 *    cached key itself gives: computing it needs the data key;
 *  - the key file it was unwrapped from (keys/ID) still exists in the
 *    repository with the same bytes (SHA-256): `repo change-passphrase`
 *    writes a new key file and removes the old ones, which invalidates
 *    every machine's cache of that repository. change-passphrase also removes
 *    this machine's cache file at once.
 * Any failure means the cache is not used, and scrypt runs as before. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "repo/internal.h"

#define CACHE_MAGIC "radiant key cache 1"
#define CACHE_MAX 4096

char *repo_key_cache_path(const rd_config *cfg, const char *repo_id)
{
    return rd_asprintf("%s/key-cache/%s", rd_config_state_dir(cfg), repo_id);
}

static void pass_mac(const uint8_t *key, const char *pass, char out[2 * RD_SHA256_LEN + 1])
{
    static const char prefix[] = "radiant key cache passphrase";
    size_t plen = strlen(pass);
    uint8_t *msg = rd_malloc(sizeof prefix + plen);
    memcpy(msg, prefix, sizeof prefix);       /* with its NUL as separator */
    memcpy(msg + sizeof prefix, pass, plen);
    uint8_t mac[RD_SHA256_LEN];
    rd_hmac_sha256(key, RD_AEAD_KEY_LEN, msg, sizeof prefix + plen, mac);
    memset(msg, 0, sizeof prefix + plen);
    free(msg);
    rd_hex_encode(mac, sizeof mac, out);
}

/* The text of a cache file without its MAC line. */
static char *cache_body(const char *repo_id, const char *keyfile, const char *keyfile_sum,
                        const char *pmac, const char *key_hex)
{
    return rd_asprintf("%s\n%s\n%s\n%s\n%s\n%s\n", CACHE_MAGIC, repo_id, keyfile, keyfile_sum,
                       pmac, key_hex);
}

static void body_mac(const uint8_t *key, const char *body, char out[2 * RD_SHA256_LEN + 1])
{
    uint8_t mac[RD_SHA256_LEN];
    rd_hmac_sha256(key, RD_AEAD_KEY_LEN, body, strlen(body), mac);
    rd_hex_encode(mac, sizeof mac, out);
}

static int keyfile_sum(repo *r, const char *keyfile, char out[2 * RD_SHA256_LEN + 1])
{
    rd_buf text = RD_BUF_INIT;
    int rc = repo_storage_get(r->st, keyfile, 0, 0, &text);
    if (rc == 0) {
        uint8_t sum[RD_SHA256_LEN];
        rd_sha256(text.data, text.len, sum);
        rd_hex_encode(sum, sizeof sum, out);
    }
    rd_buf_free(&text);
    return rc;
}

/* Reads the cache file, refusing anything but a private regular file. */
static int read_private(const char *path, char *out, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) == 0 &&
        (st.st_uid == geteuid() || geteuid() == 0) && st.st_size > 0 &&
        (size_t)st.st_size < max) {
        ssize_t n = read(fd, out, (size_t)st.st_size);
        if (n == st.st_size) {
            out[n] = '\0';
            *len = (size_t)n;
            rc = 0;
        }
    } else if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        RD_WARN("ignoring key cache %s: not a private file of this user", path);
    }
    close(fd);
    return rc;
}

int repo_key_cache_load(repo *r, const char *path, const char *pass)
{
    char text[CACHE_MAX];
    size_t len = 0;
    if (read_private(path, text, sizeof text, &len) < 0)
        return -1;
    char *lines[7] = { NULL };
    size_t n = 0;
    for (char *p = text, *nl; n < 7 && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        lines[n++] = p;
    }
    int rc = -1;
    uint8_t key[RD_AEAD_KEY_LEN];
    char check[2 * RD_SHA256_LEN + 1], want[2 * RD_SHA256_LEN + 1];
    if (n != 7 || strcmp(lines[0], CACHE_MAGIC) != 0 || strcmp(lines[1], r->id_hex) != 0 ||
        strncmp(lines[2], "keys/", 5) != 0 || strchr(lines[2] + 5, '/') ||
        strlen(lines[3]) != 2 * RD_SHA256_LEN || strlen(lines[4]) != 2 * RD_SHA256_LEN ||
        strlen(lines[6]) != 2 * RD_SHA256_LEN ||
        rd_hex_decode(lines[5], key, sizeof key) != 0)
        goto out;
    char *body = cache_body(lines[1], lines[2], lines[3], lines[4], lines[5]);
    body_mac(key, body, check);
    free(body);
    if (rd_memeq_ct(check, lines[6], sizeof check - 1) != 0)
        goto out;
    /* the repository's own proof that this is its key */
    uint8_t mac[RD_SHA256_LEN];
    char *msg = rd_asprintf("radiant key check %s", r->id_hex);
    rd_hmac_sha256(key, sizeof key, msg, strlen(msg), mac);
    free(msg);
    rd_hex_encode(mac, sizeof mac, check);
    if (rd_memeq_ct(check, r->key_check_hex, sizeof check - 1) != 0)
        goto out;
    pass_mac(key, pass, check);
    if (rd_memeq_ct(check, lines[4], sizeof check - 1) != 0)
        goto out;
    if (keyfile_sum(r, lines[2], want) != 0 || strcmp(want, lines[3]) != 0)
        goto out;
    memcpy(r->key, key, sizeof key);
    rc = 0;
out:
    memset(key, 0, sizeof key);
    memset(text, 0, sizeof text);
    if (rc < 0)
        RD_DEBUG("key cache %s not used; unlocking with the passphrase", path);
    return rc;
}

/* The run-as user when running as root (the cache must be readable by the
 * archive_command and restore_command that run as it); -1 when not root. */
static int cache_owner(const rd_config *cfg, uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0)
        return -1;
    const rd_config_section *s = rd_config_find(cfg, "radiant", NULL);
    const char *user = s ? rd_config_get(s, "run-as") : NULL;
    struct passwd *pw = getpwnam(user ? user : "postgres");
    if (!pw)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

void repo_key_cache_store(const rd_config *cfg, repo *r, const char *path, const char *keyfile,
                          const char *pass)
{
    char sum[2 * RD_SHA256_LEN + 1], pmac[2 * RD_SHA256_LEN + 1], mac[2 * RD_SHA256_LEN + 1];
    char key_hex[2 * RD_AEAD_KEY_LEN + 1];
    if (keyfile_sum(r, keyfile, sum) != 0)
        return;
    pass_mac(r->key, pass, pmac);
    rd_hex_encode(r->key, sizeof r->key, key_hex);
    char *body = cache_body(r->id_hex, keyfile, sum, pmac, key_hex);
    body_mac(r->key, body, mac);
    char *text = rd_asprintf("%s%s\n", body, mac);
    memset(body, 0, strlen(body));
    free(body);
    memset(key_hex, 0, sizeof key_hex);

    char *dir = rd_strdup(path);
    *strrchr(dir, '/') = '\0';
    char *tmp = rd_asprintf("%s.%ld.tmp", path, (long)getpid());
    uid_t uid;
    gid_t gid;
    bool root = cache_owner(cfg, &uid, &gid) == 0;
    int fd = -1;
    bool ok = (mkdir(dir, 0700) == 0 || errno == EEXIST) &&
              (!root || chown(dir, uid, gid) == 0) &&
              (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) >= 0 &&
              (!root || fchown(fd, uid, gid) == 0) &&
              rd_fs_write_full(fd, text, strlen(text)) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    /* Not fsynced: a cache lost or torn in a crash fails its MAC and costs
     * one scrypt. */
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        RD_DEBUG("no key cache at %s: %s", path, strerror(errno));
        rd_error_clear();
    }
    memset(text, 0, strlen(text));
    free(text);
    free(tmp);
    free(dir);
}
