/* libFuzzer target for the configuration parser: any bytes go to
 * rd_config_parse(), and whatever it accepts is read back through every
 * accessor before being freed, so a value that passed validation but breaks a
 * reader, or a leak on any path, is found as well.
 *
 * Accepted input is also parsed by libinih alone, as a differential oracle:
 * config.c finds section headers with its own line reader (libinih does not
 * report empty sections), and every key libinih reports must have landed in
 * the section libinih says it belongs to. */
#include <ini.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static const char *const section_types[] = {
    "radiant", "repo", "cluster", "objectstore", "access-key", "bucket", "targets",
};

/* Every key of the schema in src/core/config.c (and one that is in none). */
static const char *const keys[] = {
    "state-dir", "run-as", "log-level", "type", "path", "passphrase-file", "passphrase-env",
    "endpoint", "region", "bucket", "prefix", "access-key-id", "secret-access-key-file",
    "secret-access-key-env", "uri-style", "verify-tls", "compress-level", "threads", "port",
    "data-dir", "repos", "backup-retention-period", "preferred-backup-window",
    "deletion-protection", "storage-encrypted", "listen", "versioning",
    "noncurrent-version-expiration-days", "rto-target", "rto-maximum", "rpo-target",
    "rpo-maximum", "no-such-key",
};

static size_t sink;   /* keeps the reads below from being optimised away */

static void read_section(const rd_config *cfg, const rd_config_section *sec, const char *type)
{
    const char *name = rd_config_section_name(sec);
    if (rd_config_find(cfg, type, name) == NULL)
        __builtin_trap();   /* a section that was listed must be found again */
    sink += (size_t)rd_config_section_line(sec) + (name ? strlen(name) : 0);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = rd_config_get(sec, keys[k]);
        sink += v ? strlen(v) : 0;
        sink += (size_t)rd_config_line(sec, keys[k]);
        sink += rd_config_get_bool(sec, keys[k], false);
        sink += (size_t)rd_config_get_int(sec, keys[k], 0);
    }
}

static int oracle_handler(void *user, const char *section, const char *key, const char *value)
{
    const rd_config *cfg = user;
    /* libinih keeps at most 49 bytes of a section header (MAX_SECTION). */
    if (strlen(section) >= 49)
        return 1;
    char type[128] = "", name[128] = "";
    if (sscanf(section, "%127s %127s", type, name) < 1)
        __builtin_trap();
    const rd_config_section *sec = rd_config_find(cfg, type, name[0] ? name : NULL);
    const char *stored = sec ? rd_config_get(sec, key) : NULL;
    if (!stored)
        __builtin_trap();   /* the key went to another section, or nowhere */
    /* Equal, or a relative path resolved against the file's directory. */
    size_t sl = strlen(stored), vl = strlen(value);
    if (strcmp(stored, value) != 0 &&
        !(sl > vl && strcmp(stored + sl - vl, value) == 0 && stored[sl - vl - 1] == '/'))
        __builtin_trap();
    return 1;
}

static void check_against_libinih(const rd_config *cfg, const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    ini_parse_string(text, oracle_handler, (void *)cfg);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_config *cfg = NULL;
    if (rd_config_parse((const char *)data, size, "/etc/radiant/fuzz.conf", &cfg) != 0)
        return 0;
    check_against_libinih(cfg, data, size);
    sink += strlen(rd_config_path(cfg)) + strlen(rd_config_state_dir(cfg));
    for (size_t t = 0; t < sizeof section_types / sizeof section_types[0]; t++) {
        size_t n = rd_config_count(cfg, section_types[t]);
        for (size_t i = 0; i < n; i++)
            read_section(cfg, rd_config_at(cfg, section_types[t], i), section_types[t]);
        if (rd_config_at(cfg, section_types[t], n) != NULL)
            __builtin_trap();
    }
    rd_config_free(cfg);
    return 0;
}
