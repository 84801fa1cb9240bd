/* The radiant configuration file (DESIGN.md section 3): INI sections such as
 * [radiant], [repo NAME] and [cluster NAME], parsed with libinih and validated
 * against a schema. Any unknown section or key, and any bad value, is an error
 * that names the file, the line and the key. Relative paths are resolved
 * against the directory of the configuration file. */
#ifndef RD_CORE_CONFIG_H
#define RD_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rd_config rd_config;
typedef struct rd_config_section rd_config_section;

#define RD_CONFIG_DEFAULT_PATH "/etc/radiant/radiant.conf"
#define RD_CONFIG_DEFAULT_STATE_DIR "/var/lib/radiant"

/* Loads and validates a file. -RD_ECONFIG with a file:line message on error. */
int rd_config_load(const char *path, rd_config **out);
/* Parses text as if it were the file `name` (used by tests and the fuzzer). */
int rd_config_parse(const char *text, size_t len, const char *name, rd_config **out);
void rd_config_free(rd_config *cfg);

const char *rd_config_path(const rd_config *cfg);
/* [radiant] state-dir, or the default. */
const char *rd_config_state_dir(const rd_config *cfg);

/* Sections of a type ("repo", "cluster", ...), in file order. */
size_t rd_config_count(const rd_config *cfg, const char *type);
const rd_config_section *rd_config_at(const rd_config *cfg, const char *type, size_t index);
/* NULL when there is no such section; name is NULL for unnamed sections. */
const rd_config_section *rd_config_find(const rd_config *cfg, const char *type,
                                        const char *name);

const char *rd_config_section_name(const rd_config_section *sec);
int rd_config_section_line(const rd_config_section *sec);
/* The value of key, or NULL when unset. Values were validated at load. */
const char *rd_config_get(const rd_config_section *sec, const char *key);
bool rd_config_get_bool(const rd_config_section *sec, const char *key, bool fallback);
int64_t rd_config_get_int(const rd_config_section *sec, const char *key, int64_t fallback);
/* Line of key within the file, or the section's line when unset. */
int rd_config_line(const rd_config_section *sec, const char *key);

/* Parses the boolean spellings the config accepts; -1 when none matches. */
int rd_config_parse_bool(const char *text);

#endif
