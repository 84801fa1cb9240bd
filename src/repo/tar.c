/* Tar streams in and out of the repository: PostgreSQL's BASE_BACKUP sends
 * ustar (with pax or GNU long names for long paths), and `repo dump` writes pax
 * so any tar can read it back. Reading uses only the public backup API, one
 * entry at a time, so memory stays bounded whatever the stream's size.
 * Format reference: POSIX.1-2017 pax, "ustar Interchange Format". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "repo/internal.h"

#define BLOCK 512

struct tar_in {
    int fd;
    uint64_t offset;            /* stream position, for messages */
    uint64_t left;              /* content bytes of the current entry not yet read */
};

static int read_exact(struct tar_in *t, void *buf, size_t len)
{
    int rc = rd_fs_read_full(t->fd, buf, len);
    if (rc < 0)
        return rd_fail(RD_EUSAGE, "tar stream ends or fails at byte %llu: %s",
                       (unsigned long long)t->offset, rd_error());
    t->offset += len;
    return 0;
}

static int skip(struct tar_in *t, uint64_t len)
{
    uint8_t buf[BLOCK * 16];
    while (len) {
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        int rc = read_exact(t, buf, n);
        if (rc < 0)
            return rc;
        len -= n;
    }
    return 0;
}

static ssize_t content_read(void *arg, void *buf, size_t len)
{
    struct tar_in *t = arg;
    if (t->left == 0)
        return 0;
    if (len > t->left)
        len = (size_t)t->left;
    int rc = read_exact(t, buf, len);
    if (rc < 0)
        return rc;
    t->left -= len;
    return (ssize_t)len;
}

/* Numeric fields: octal, or base-256 with the high bit set (GNU, star). */
static int parse_number(const uint8_t *f, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80)
            return -1;   /* negative numbers have no use here */
        for (size_t i = 1; i < len; i++) {
            if (v >> 56)
                return -1;
            v = (v << 8) | f[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return -1;
    *out = v;
    return 0;
}

static bool checksum_ok(const uint8_t *h)
{
    uint64_t want;
    if (parse_number(h + 148, 8, &want) < 0)
        return false;
    uint64_t sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == want;
}

static char *field_str(const uint8_t *f, size_t len)
{
    size_t n = strnlen((const char *)f, len);
    char *s = rd_malloc(n + 1);
    memcpy(s, f, n);
    s[n] = '\0';
    return s;
}

/* Overrides collected from pax 'x' records and GNU 'L'/'K' entries. */
struct overrides {
    char *path, *link;
    bool has_size, has_mtime;
    uint64_t size;
    int64_t mtime;
    uint32_t mtime_nsec;
};

static void overrides_clear(struct overrides *o)
{
    free(o->path);
    free(o->link);
    memset(o, 0, sizeof *o);
}

static int read_blob(struct tar_in *t, uint64_t size, char **out)
{
    if (size > 1024 * 1024)
        return rd_fail(RD_EUSAGE, "tar extended header at byte %llu is too large",
                       (unsigned long long)t->offset);
    char *buf = rd_malloc((size_t)size + 1);
    int rc = read_exact(t, buf, (size_t)size);
    if (rc == 0)
        rc = skip(t, (BLOCK - size % BLOCK) % BLOCK);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *out = buf;
    return 0;
}

/* pax records: "LEN key=value\n", LEN counting the whole record. */
static int parse_pax(const char *data, size_t len, struct overrides *o)
{
    size_t pos = 0;
    while (pos < len) {
        char *end;
        unsigned long rec = strtoul(data + pos, &end, 10);
        if (end == data + pos || *end != ' ' || rec == 0 || rec > len - pos ||
            data[pos + rec - 1] != '\n')
            return rd_fail(RD_EUSAGE, "tar stream has a malformed pax header");
        const char *kv = end + 1, *stop = data + pos + rec - 1;
        const char *eq = memchr(kv, '=', (size_t)(stop - kv));
        if (!eq)
            return rd_fail(RD_EUSAGE, "tar stream has a malformed pax record");
        size_t klen = (size_t)(eq - kv), vlen = (size_t)(stop - eq - 1);
        char *value = rd_malloc(vlen + 1);
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        if (klen == 4 && memcmp(kv, "path", 4) == 0) {
            free(o->path);
            o->path = value;
            value = NULL;
        } else if (klen == 8 && memcmp(kv, "linkpath", 8) == 0) {
            free(o->link);
            o->link = value;
            value = NULL;
        } else if (klen == 4 && memcmp(kv, "size", 4) == 0) {
            o->size = strtoull(value, NULL, 10);
            o->has_size = true;
        } else if (klen == 5 && memcmp(kv, "mtime", 5) == 0) {
            char *frac;
            o->mtime = strtoll(value, &frac, 10);
            o->has_mtime = true;
            if (*frac == '.') {
                char digits[10] = "000000000";
                size_t nd = strspn(frac + 1, "0123456789");
                memcpy(digits, frac + 1, nd > 9 ? 9 : nd);
                o->mtime_nsec = (uint32_t)strtoul(digits, NULL, 10);
            }
        }
        free(value);
        pos += rec;
    }
    return 0;
}

/* Normalises "./a/b/", "a//b" into "a/b"; the root becomes ".". */
static char *clean_path(const char *prefix, const char *raw)
{
    char *joined = prefix && *prefix ? rd_asprintf("%s/%s", prefix, raw) : rd_strdup(raw);
    char *out = rd_malloc(strlen(joined) + 2);
    size_t n = 0;
    for (char *p = joined; *p;) {
        char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len && !(len == 1 && p[0] == '.')) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    out[n] = '\0';
    if (n == 0)
        strcpy(out, ".");
    free(joined);
    return out;
}

int repo_backup_add_tar(repo_backup *b, int fd, const char *prefix)
{
    struct tar_in t = { .fd = fd };
    struct overrides o = { 0 };
    uint8_t h[BLOCK];
    int rc = 0, zero_blocks = 0;
    while (rc == 0) {
        ssize_t got = 0;
        /* a clean end of stream is allowed between entries */
        while (got < BLOCK) {
            ssize_t n = read(fd, h + got, (size_t)(BLOCK - got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return rd_fail_errno(RD_EIO, "cannot read the tar stream");
            if (n == 0)
                break;
            got += n;
        }
        if (got == 0 && zero_blocks == 0 && t.offset > 0)
            break;
        if (got == 0 && zero_blocks > 0)
            break;
        if (got < BLOCK) {
            rc = rd_fail(RD_EUSAGE, "tar stream is truncated at byte %llu",
                         (unsigned long long)t.offset);
            break;
        }
        t.offset += BLOCK;
        static const uint8_t zeros[BLOCK];
        if (memcmp(h, zeros, BLOCK) == 0) {
            if (++zero_blocks == 2)
                break;
            continue;
        }
        zero_blocks = 0;
        if (!checksum_ok(h)) {
            rc = rd_fail(RD_EUSAGE, "tar header at byte %llu has a bad checksum (not a tar "
                         "stream, or damaged)", (unsigned long long)(t.offset - BLOCK));
            break;
        }
        uint64_t size, mode, uid, gid, mtime;
        if (parse_number(h + 124, 12, &size) || parse_number(h + 100, 8, &mode) ||
            parse_number(h + 108, 8, &uid) || parse_number(h + 116, 8, &gid) ||
            parse_number(h + 136, 12, &mtime)) {
            rc = rd_fail(RD_EUSAGE, "tar header at byte %llu has a bad number",
                         (unsigned long long)(t.offset - BLOCK));
            break;
        }
        char type = (char)h[156];
        if (o.has_size)
            size = o.size;
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            char *data = NULL;
            rc = read_blob(&t, size, &data);
            if (rc < 0)
                break;
            if (type == 'x')
                rc = parse_pax(data, (size_t)size, &o);
            else if (type == 'L')
                free(o.path), o.path = rd_strdup(data);
            else if (type == 'K')
                free(o.link), o.link = rd_strdup(data);
            free(data);
            continue;
        }
        char *name;
        if (o.path) {
            name = rd_strdup(o.path);
        } else {
            char *base = field_str(h, 100);
            bool ustar = memcmp(h + 257, "ustar", 5) == 0;
            char *pre = ustar ? field_str(h + 345, 155) : rd_strdup("");
            name = *pre ? rd_asprintf("%s/%s", pre, base) : rd_strdup(base);
            free(base);
            free(pre);
        }
        char *path = clean_path(prefix, name);
        free(name);
        char *link = o.link ? rd_strdup(o.link) : field_str(h + 157, 100);
        repo_entry e = { 0 };
        e.path = path;
        e.mode = (uint32_t)(mode & 07777);
        e.uid = (uint32_t)uid;
        e.gid = (uint32_t)gid;
        e.mtime_sec = o.has_mtime ? o.mtime : (int64_t)mtime;
        e.mtime_nsec = o.has_mtime ? o.mtime_nsec : 0;
        e.size = size;
        uint64_t pad = (BLOCK - size % BLOCK) % BLOCK;
        if (type == '0' || type == '\0' || type == '7') {
            e.type = REPO_ENTRY_FILE;
            t.left = size;
            rc = repo_backup_add(b, &e, content_read, &t);
            if (rc == 0 && t.left)
                rc = rd_fail(RD_EUSAGE, "tar entry %s is truncated", path);
            if (rc == 0)
                rc = skip(&t, pad);
        } else if (type == '5') {
            e.type = REPO_ENTRY_DIR;
            e.size = 0;
            rc = repo_backup_add(b, &e, NULL, NULL);
        } else if (type == '2') {
            e.type = REPO_ENTRY_SYMLINK;
            e.size = 0;
            e.link_target = link;
            rc = repo_backup_add(b, &e, NULL, NULL);
        } else {
            RD_WARN("leaving out tar entry %s of type '%c' (not a file, directory or symlink)",
                    path, type >= 32 && type < 127 ? type : '?');
            rc = skip(&t, size + pad);
        }
        free(path);
        free(link);
        overrides_clear(&o);
    }
    overrides_clear(&o);
    return rc;
}

/* ---------------------------------------------------------------- writer -- */

struct tar_out {
    int fd;
    uint64_t written;
};

static int out_write(void *arg, const void *buf, size_t len)
{
    struct tar_out *t = arg;
    int rc = rd_fs_write_full(t->fd, buf, len);
    if (rc < 0)
        return rd_fail_wrap(rc, "writing the tar stream");
    t->written += len;
    return 0;
}

static void put_octal(uint8_t *f, size_t len, uint64_t v)
{
    snprintf((char *)f, len, "%0*llo", (int)len - 1, (unsigned long long)v);
}

static void finish_header(uint8_t *h)
{
    memset(h + 148, ' ', 8);
    uint64_t sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06llo", (unsigned long long)sum);
    h[155] = ' ';
}

static void pax_record(rd_buf *b, const char *key, const char *value)
{
    size_t base = strlen(key) + strlen(value) + 3;   /* ' ' '=' '\n' */
    size_t len = base + 1;
    for (;;) {
        char digits[24];
        size_t n = (size_t)snprintf(digits, sizeof digits, "%zu", len);
        if (base + n == len)
            break;
        len = base + n;
    }
    char *rec = rd_asprintf("%zu %s=%s\n", len, key, value);
    rd_buf_append(b, rec, strlen(rec));
    free(rec);
}

static int write_pad(struct tar_out *t, uint64_t size)
{
    static const uint8_t zeros[BLOCK];
    uint64_t pad = (BLOCK - size % BLOCK) % BLOCK;
    return pad ? out_write(t, zeros, (size_t)pad) : 0;
}

static int write_entry_header(struct tar_out *t, const repo_entry *e)
{
    const char *name = strcmp(e->path, ".") == 0 ? "./" : e->path;
    char *dirname = e->type == REPO_ENTRY_DIR && strcmp(e->path, ".") != 0
                    ? rd_asprintf("%s/", name) : rd_strdup(name);
    rd_buf pax = RD_BUF_INIT;
    if (strlen(dirname) >= 100)
        pax_record(&pax, "path", dirname);
    if (e->type == REPO_ENTRY_SYMLINK && strlen(e->link_target) >= 100)
        pax_record(&pax, "linkpath", e->link_target);
    if (e->size > 077777777777ull) {
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)e->size);
        pax_record(&pax, "size", num);
    }
    if (e->mtime_nsec || e->mtime_sec < 0 || e->mtime_sec > 077777777777ll) {
        char num[48];
        snprintf(num, sizeof num, "%lld.%09u", (long long)e->mtime_sec, e->mtime_nsec);
        pax_record(&pax, "mtime", num);
    }
    int rc = 0;
    uint8_t h[BLOCK];
    if (pax.len) {
        memset(h, 0, sizeof h);
        snprintf((char *)h, 100, "PaxHeaders/%.80s", e->path);
        put_octal(h + 100, 8, 0644);
        put_octal(h + 108, 8, 0);
        put_octal(h + 116, 8, 0);
        put_octal(h + 124, 12, pax.len);
        put_octal(h + 136, 12, 0);
        h[156] = 'x';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        finish_header(h);
        rc = out_write(t, h, BLOCK);
        if (rc == 0)
            rc = out_write(t, pax.data, pax.len);
        if (rc == 0)
            rc = write_pad(t, pax.len);
    }
    memset(h, 0, sizeof h);
    memcpy(h, dirname, strlen(dirname) < 100 ? strlen(dirname) : 100);
    put_octal(h + 100, 8, e->mode);
    put_octal(h + 108, 8, e->uid <= 07777777 ? e->uid : 0);
    put_octal(h + 116, 8, e->gid <= 07777777 ? e->gid : 0);
    put_octal(h + 124, 12, e->size <= 077777777777ull ? e->size : 0);
    put_octal(h + 136, 12, e->mtime_sec >= 0 && e->mtime_sec <= 077777777777ll
                           ? (uint64_t)e->mtime_sec : 0);
    h[156] = e->type == REPO_ENTRY_DIR ? '5' : e->type == REPO_ENTRY_SYMLINK ? '2' : '0';
    if (e->type == REPO_ENTRY_SYMLINK)
        memcpy(h + 157, e->link_target,
               strlen(e->link_target) < 100 ? strlen(e->link_target) : 100);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    finish_header(h);
    if (rc == 0)
        rc = out_write(t, h, BLOCK);
    rd_buf_free(&pax);
    free(dirname);
    return rc;
}

int repo_restore_tar(repo *r, const repo_manifest *m, int fd)
{
    struct tar_out t = { .fd = fd };
    int rc = 0;
    for (size_t i = 0; i < m->n_entries && rc == 0; i++) {
        const repo_entry *e = &m->entries[i];
        rc = write_entry_header(&t, e);
        if (rc == 0 && e->type == REPO_ENTRY_FILE) {
            rc = repo_restore_entry(r, e, out_write, &t);
            if (rc == 0)
                rc = write_pad(&t, e->size);
        }
    }
    if (rc == 0) {
        static const uint8_t end[2 * BLOCK];
        rc = out_write(&t, end, sizeof end);
    }
    return rc;
}
