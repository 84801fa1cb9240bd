/* Schema-validated INI configuration on top of libinih.
 *
 * libinih reports neither line numbers nor empty sections to its handler, so
 * the file is fed to ini_parse_stream() through our own line reader, which
 * counts lines and sees every section header as it goes by. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"

/* ---------------------------------------------------------------- schema -- */

enum value_kind { V_STRING, V_PATH, V_BOOL, V_INT, V_PORT, V_ENUM, V_DURATION, V_WINDOW,
                  V_LIST, V_URL, V_HOSTPORT };

struct key_spec {
    const char *key;
    enum value_kind kind;
    int64_t min, max;        /* V_INT */
    const char *choices;     /* V_ENUM: "a|b|c" */
};

struct section_spec {
    const char *type;
    bool named;
    const struct key_spec *keys;
};

static const struct key_spec radiant_keys[] = {
    { "state-dir", V_PATH, 0, 0, NULL },
    { "run-as", V_STRING, 0, 0, NULL },
    { "log-level", V_ENUM, 0, 0, "debug|info|warn|error|quiet" },
    { NULL, 0, 0, 0, NULL },
};

static const struct key_spec repo_keys[] = {
    { "type", V_ENUM, 0, 0, "posix|s3" },
    { "path", V_PATH, 0, 0, NULL },
    { "passphrase-file", V_PATH, 0, 0, NULL },
    { "passphrase-env", V_STRING, 0, 0, NULL },
    { "endpoint", V_URL, 0, 0, NULL },
    { "region", V_STRING, 0, 0, NULL },
    { "bucket", V_STRING, 0, 0, NULL },
    { "prefix", V_STRING, 0, 0, NULL },
    { "access-key-id", V_STRING, 0, 0, NULL },
    { "secret-access-key-file", V_PATH, 0, 0, NULL },
    { "secret-access-key-env", V_STRING, 0, 0, NULL },
    { "uri-style", V_ENUM, 0, 0, "path|host" },
    { "verify-tls", V_BOOL, 0, 0, NULL },
    { "compress-level", V_INT, -7, 19, NULL },
    { "threads", V_INT, 1, 64, NULL },
    { "key-cache", V_BOOL, 0, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

static const struct key_spec cluster_keys[] = {
    { "port", V_PORT, 0, 0, NULL },
    { "data-dir", V_PATH, 0, 0, NULL },
    { "repos", V_LIST, 0, 0, NULL },
    { "backup-retention-period", V_INT, 1, 3650, NULL },
    { "preferred-backup-window", V_WINDOW, 0, 0, NULL },
    { "deletion-protection", V_BOOL, 0, 0, NULL },
    { "synchronous-wal-streaming", V_BOOL, 0, 0, NULL },
    { "storage-encrypted", V_BOOL, 0, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

static const struct key_spec objectstore_keys[] = {
    { "listen", V_HOSTPORT, 0, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

static const struct key_spec access_key_keys[] = {
    { "secret-access-key-file", V_PATH, 0, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

static const struct key_spec bucket_keys[] = {
    { "versioning", V_ENUM, 0, 0, "enabled|suspended|disabled" },
    { "noncurrent-version-expiration-days", V_INT, 1, 36500, NULL },
    { NULL, 0, 0, 0, NULL },
};

static const struct key_spec targets_keys[] = {
    { "rto-target", V_DURATION, 0, 0, NULL },
    { "rto-maximum", V_DURATION, 0, 0, NULL },
    { "rpo-target", V_DURATION, 0, 0, NULL },
    { "rpo-maximum", V_DURATION, 0, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

static const struct section_spec sections[] = {
    { "radiant", false, radiant_keys },
    { "repo", true, repo_keys },
    { "cluster", true, cluster_keys },
    { "objectstore", false, objectstore_keys },
    { "access-key", true, access_key_keys },
    { "bucket", true, bucket_keys },
    { "targets", false, targets_keys },
};

/* ----------------------------------------------------------------- model -- */

struct entry {
    char *key;
    char *value;
    int line;
};

struct rd_config_section {
    const struct section_spec *spec;
    char *name;
    int line;
    struct entry *entries;
    size_t n_entries;
};

struct rd_config {
    char *path;
    char *dir;                      /* for resolving relative paths */
    rd_config_section *sections;
    size_t n_sections;
};

struct parse_state {
    rd_config *cfg;
    const char *text;
    size_t len, pos;
    int line;
    int rc;                         /* first error */
    /* libinih treats an indented line after a key as a continuation of that
     * key's value; the line reader must know when that applies (see below). */
    bool after_key;
    char prev_key[64];
};

static int parse_error(struct parse_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int parse_error(struct parse_state *st, const char *fmt, ...)
{
    if (st->rc < 0)
        return 0;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st->rc = rd_fail(RD_ECONFIG, "%s:%d: %s", st->cfg->path, st->line, msg);
    return 0;
}

int rd_config_parse_bool(const char *text)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) return 1;
        if (strcasecmp(text, no[i]) == 0) return 0;
    }
    return -1;
}

static bool parse_int(const char *text, int64_t *out)
{
    if (!*text)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool enum_has(const char *choices, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/* Returns NULL when the value is valid, else what was expected. */
static const char *check_value(const struct key_spec *k, const char *v)
{
    int64_t n;
    int a, b;
    switch (k->kind) {
    case V_STRING:
    case V_PATH:
        return *v ? NULL : "a non-empty value";
    case V_BOOL:
        return rd_config_parse_bool(v) >= 0 ? NULL : "true or false";
    case V_INT:
        return parse_int(v, &n) && n >= k->min && n <= k->max ? NULL : "an integer in range";
    case V_PORT:
        return parse_int(v, &n) && n >= 1 && n <= 65535 ? NULL : "a port number 1-65535";
    case V_ENUM:
        return enum_has(k->choices, v) ? NULL : k->choices;
    case V_DURATION:
        return rd_duration_parse(v, &n) == 0 ? NULL : "a duration such as 90s, 5m, 1h or 35d";
    case V_WINDOW:
        return rd_window_parse(v, &a, &b) == 0 ? NULL : "a window HH:MM-HH:MM in UTC";
    case V_LIST:
        return *v && v[strlen(v) - 1] != ',' && *v != ',' ? NULL : "a comma-separated list";
    case V_URL:
        return (rd_str_starts_with(v, "http://") || rd_str_starts_with(v, "https://")) &&
               strlen(v) > 8 ? NULL : "an http:// or https:// URL";
    case V_HOSTPORT: {
        const char *colon = strrchr(v, ':');
        /* Port 0 asks the kernel for a free port (tests; serve logs the one bound). */
        return colon && colon != v && parse_int(colon + 1, &n) && n >= 0 && n <= 65535
               ? NULL : "HOST:PORT (port 0 to 65535)";
    }
    }
    return "a valid value";
}

static const char *range_text(const struct key_spec *k, char *buf, size_t len)
{
    if (k->kind == V_INT)
        snprintf(buf, len, " (%lld to %lld)", (long long)k->min, (long long)k->max);
    else if (k->kind == V_ENUM)
        snprintf(buf, len, " (one of %s)", k->choices);
    else
        buf[0] = '\0';
    return buf;
}

static bool valid_name(const char *name)
{
    if (!*name || strlen(name) > 63)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

/* Called by the line reader for every "[...]" line, including empty sections. */
static void open_section(struct parse_state *st, const char *header)
{
    char type[128] = "", name[128] = "", extra[8] = "";
    int n = sscanf(header, "%127s %127s %7s", type, name, extra);
    const struct section_spec *spec = NULL;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(sections[i].type, type) == 0)
            spec = &sections[i];
    if (!spec) {
        parse_error(st, "unknown section [%s]; known sections are [radiant], [repo NAME], "
                    "[cluster NAME], [objectstore], [access-key ID], [bucket NAME], [targets]",
                    header);
        return;
    }
    if (spec->named && (n != 2 || !valid_name(name))) {
        parse_error(st, "section [%s] needs one name of letters, digits, '-', '_' or '.', "
                    "as in [%s NAME]", header, type);
        return;
    }
    if (!spec->named && n != 1) {
        parse_error(st, "section [%s] takes no name", header);
        return;
    }
    rd_config *cfg = st->cfg;
    for (size_t i = 0; i < cfg->n_sections; i++) {
        rd_config_section *s = &cfg->sections[i];
        if (s->spec == spec && (!spec->named || strcmp(s->name, name) == 0)) {
            parse_error(st, "section [%s] is already defined at line %d", header, s->line);
            return;
        }
    }
    cfg->sections = rd_realloc(cfg->sections, (cfg->n_sections + 1) * sizeof *cfg->sections);
    rd_config_section *s = &cfg->sections[cfg->n_sections++];
    memset(s, 0, sizeof *s);
    s->spec = spec;
    s->name = spec->named ? rd_strdup(name) : NULL;
    s->line = st->line;
}

static char *line_reader(char *out, int size, void *arg)
{
    struct parse_state *st = arg;
    if (st->pos >= st->len)
        return NULL;
    const char *start = st->text + st->pos;
    const char *nl = memchr(start, '\n', st->len - st->pos);
    size_t linelen = nl ? (size_t)(nl - start) + 1 : st->len - st->pos;
    st->pos += linelen;
    st->line++;
    if (linelen >= (size_t)size) {
        parse_error(st, "line is longer than %d bytes", size - 1);
        linelen = (size_t)size - 1;
    }
    memcpy(out, start, linelen);
    out[linelen] = '\0';
    if (memchr(start, '\0', linelen))
        parse_error(st, "line contains a NUL byte");

    /* Decide what libinih will make of this line with libinih's own rules
     * (ini.c, ini_parse_stream): skip a UTF-8 BOM on line 1, skip isspace()
     * (not only blanks: "\v[objectstore]" is a section header to libinih),
     * and an indented line after a key continues that key's value. Diverging
     * from libinih here attributes keys to the wrong section. */
    const char *p = out;
    if (st->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    const char *text_start = p;
    while (isspace((unsigned char)*p))
        p++;
    bool comment = *p == '\0' || *p == ';' || *p == '#';
    if (!comment && p > text_start && st->after_key) {
        /* radiant has no multi-line values; say so instead of letting libinih
         * report a confusing duplicate of the previous key. */
        parse_error(st, "indented line would continue the value of '%s'; remove the "
                    "indentation (multi-line values are not supported)", st->prev_key);
    } else if (*p == '[') {
        st->after_key = false;
        const char *close = strchr(p, ']');
        if (!close) {
            parse_error(st, "section header has no closing ']'");
        } else {
            char header[256];
            size_t hl = (size_t)(close - p - 1);
            if (hl >= sizeof header)
                hl = sizeof header - 1;
            memcpy(header, p + 1, hl);
            header[hl] = '\0';
            open_section(st, header);
        }
    }
    return out;
}

static int config_ini_handler(void *arg, const char *section, const char *key, const char *value)
{
    struct parse_state *st = arg;
    rd_config *cfg = st->cfg;
    st->after_key = true;
    snprintf(st->prev_key, sizeof st->prev_key, "%s", key);
    if (st->rc < 0)
        return 1;
    if (!*section || cfg->n_sections == 0)
        return parse_error(st, "key '%s' appears before any section", key);
    rd_config_section *s = &cfg->sections[cfg->n_sections - 1];
    const struct key_spec *k = s->spec->keys;
    while (k->key && strcmp(k->key, key) != 0)
        k++;
    if (!k->key)
        return parse_error(st, "unknown key '%s' in section [%s]", key, section);
    for (size_t i = 0; i < s->n_entries; i++)
        if (strcmp(s->entries[i].key, key) == 0)
            return parse_error(st, "key '%s' is already set at line %d", key,
                               s->entries[i].line);
    const char *expected = check_value(k, value);
    if (expected) {
        char range[128];
        return parse_error(st, "bad value '%s' for key '%s': expected %s%s", value, key,
                           expected, range_text(k, range, sizeof range));
    }
    char *stored;
    /* rd_path_join, not "%s/%s": a file in / has dir "/", and "//x" is not "/x". */
    if (k->kind == V_PATH && value[0] != '/')
        stored = rd_path_join(cfg->dir, value);
    else
        stored = rd_strdup(value);
    s->entries = rd_realloc(s->entries, (s->n_entries + 1) * sizeof *s->entries);
    s->entries[s->n_entries++] = (struct entry){ rd_strdup(key), stored, st->line };
    return 1;
}

/* Keys that only make sense together. */
static int check_sections(struct parse_state *st)
{
    rd_config *cfg = st->cfg;
    for (size_t i = 0; i < cfg->n_sections && st->rc == 0; i++) {
        rd_config_section *s = &cfg->sections[i];
        if (strcmp(s->spec->type, "repo") != 0)
            continue;
        const char *type = rd_config_get(s, "type");
        st->line = s->line;
        if (!type || strcmp(type, "posix") == 0) {
            if (!rd_config_get(s, "path"))
                parse_error(st, "[repo %s] of type posix needs 'path'", s->name);
        } else if (!rd_config_get(s, "endpoint") || !rd_config_get(s, "bucket")) {
            parse_error(st, "[repo %s] of type s3 needs 'endpoint' and 'bucket'", s->name);
        }
        if (rd_config_get(s, "passphrase-file") && rd_config_get(s, "passphrase-env"))
            parse_error(st, "[repo %s] sets both 'passphrase-file' and 'passphrase-env'; "
                        "keep one", s->name);
    }
    return st->rc;
}

/* dir: where relative paths in the file are anchored. */
static int config_parse_in(const char *text, size_t len, const char *name, const char *dir,
                           rd_config **out)
{
    rd_config *cfg = rd_calloc(1, sizeof *cfg);
    cfg->path = rd_strdup(name);
    cfg->dir = rd_strdup(dir);
    struct parse_state st = { .cfg = cfg, .text = text, .len = len };
    int line = ini_parse_stream(line_reader, &st, config_ini_handler, &st);
    if (st.rc == 0 && line != 0) {
        st.line = line;
        parse_error(&st, "syntax error: expected [section] or key = value");
    }
    if (st.rc == 0)
        check_sections(&st);
    if (st.rc < 0) {
        rd_config_free(cfg);
        return st.rc;
    }
    *out = cfg;
    return 0;
}

int rd_config_parse(const char *text, size_t len, const char *name, rd_config **out)
{
    const char *slash = strrchr(name, '/');
    char *dir = !slash ? rd_strdup(".") : slash == name ? rd_strdup("/")
              : rd_asprintf("%.*s", (int)(slash - name), name);
    int rc = config_parse_in(text, len, name, dir, out);
    free(dir);
    return rc;
}

int rd_config_load(const char *path, rd_config **out)
{
    rd_buf text = RD_BUF_INIT;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rd_fail_errno(RD_ECONFIG, "cannot read config file %s (set --config FILE or "
                             "RADIANT_CONFIG)", path);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rd_buf_append(&text, chunk, n);
        if (text.len > 4 * 1024 * 1024)
            break;
    }
    int err = ferror(f);
    fclose(f);
    int rc;
    if (err)
        rc = rd_fail(RD_ECONFIG, "cannot read config file %s", path);
    else if (text.len > 4 * 1024 * 1024)
        rc = rd_fail(RD_ECONFIG, "config file %s is larger than 4 MiB", path);
    else {
        /* Relative paths in the file are relative to where the file is,
         * wherever radiant was started from. */
        char *abs = realpath(path, NULL);
        char *slash = abs ? strrchr(abs, '/') : NULL;
        if (slash)
            slash == abs ? (void)(abs[1] = '\0') : (void)(*slash = '\0');
        const char *data = text.len ? (const char *)text.data : "";
        rc = abs ? config_parse_in(data, text.len, path, abs, out)
                 : rd_config_parse(data, text.len, path, out);
        free(abs);
    }
    rd_buf_free(&text);
    return rc;
}

void rd_config_free(rd_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_sections; i++) {
        rd_config_section *s = &cfg->sections[i];
        for (size_t j = 0; j < s->n_entries; j++) {
            free(s->entries[j].key);
            free(s->entries[j].value);
        }
        free(s->entries);
        free(s->name);
    }
    free(cfg->sections);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

/* -------------------------------------------------------------- accessors -- */

const char *rd_config_path(const rd_config *cfg) { return cfg->path; }

const char *rd_config_state_dir(const rd_config *cfg)
{
    const rd_config_section *s = rd_config_find(cfg, "radiant", NULL);
    const char *dir = s ? rd_config_get(s, "state-dir") : NULL;
    return dir ? dir : RD_CONFIG_DEFAULT_STATE_DIR;
}

size_t rd_config_count(const rd_config *cfg, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_sections; i++)
        n += strcmp(cfg->sections[i].spec->type, type) == 0;
    return n;
}

const rd_config_section *rd_config_at(const rd_config *cfg, const char *type, size_t index)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        if (strcmp(cfg->sections[i].spec->type, type) == 0 && index-- == 0)
            return &cfg->sections[i];
    return NULL;
}

const rd_config_section *rd_config_find(const rd_config *cfg, const char *type,
                                        const char *name)
{
    for (size_t i = 0; i < cfg->n_sections; i++) {
        const rd_config_section *s = &cfg->sections[i];
        if (strcmp(s->spec->type, type) != 0)
            continue;
        if (!name || (s->name && strcmp(s->name, name) == 0))
            return s;
    }
    return NULL;
}

const char *rd_config_section_name(const rd_config_section *sec) { return sec->name; }
int rd_config_section_line(const rd_config_section *sec) { return sec->line; }

static const struct entry *find_entry(const rd_config_section *sec, const char *key)
{
    for (size_t i = 0; i < sec->n_entries; i++)
        if (strcmp(sec->entries[i].key, key) == 0)
            return &sec->entries[i];
    return NULL;
}

const char *rd_config_get(const rd_config_section *sec, const char *key)
{
    const struct entry *e = find_entry(sec, key);
    return e ? e->value : NULL;
}

bool rd_config_get_bool(const rd_config_section *sec, const char *key, bool fallback)
{
    const char *v = rd_config_get(sec, key);
    return v ? rd_config_parse_bool(v) == 1 : fallback;
}

int64_t rd_config_get_int(const rd_config_section *sec, const char *key, int64_t fallback)
{
    const char *v = rd_config_get(sec, key);
    int64_t n;
    return v && parse_int(v, &n) ? n : fallback;
}

int rd_config_line(const rd_config_section *sec, const char *key)
{
    const struct entry *e = find_entry(sec, key);
    return e ? e->line : sec->line;
}
