/* PostgreSQL settings of a cluster: postgresql.auto.conf while the server is
 * down, ALTER SYSTEM over libpq while it runs, and the commands PostgreSQL
 * runs to call radiant back (archive_command).
 *
 * radiant writes its settings into postgresql.auto.conf rather than a file of
 * its own: it is read after postgresql.conf, so radiant's values win over the
 * defaults, and it is the file ALTER SYSTEM rewrites, so an operator who runs
 * ALTER SYSTEM and radiant never disagree about which value is in force. */
#include "pg/pg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"

#define AUTO_CONF "postgresql.auto.conf"
#define AUTO_CONF_MAX (1024 * 1024)

/* ------------------------------------------------------------- quoting -- */

char *pgc_shell_quote(const char *s)
{
    rd_buf b = RD_BUF_INIT;
    rd_buf_append_u8(&b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            rd_buf_append(&b, "'\\''", 4);
        else
            rd_buf_append_u8(&b, (uint8_t)*p);
    }
    rd_buf_append(&b, "'", 2);
    return (char *)b.data;
}

/* A string value in a PostgreSQL configuration file: single-quoted, quotes
 * doubled, and backslashes doubled because the file's scanner treats them as
 * escapes (guc-file.l, GUC_scanstr). */
static void append_conf_value(rd_buf *b, const char *value)
{
    rd_buf_append_u8(b, '\'');
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            rd_buf_append_u8(b, (uint8_t)*p);
        rd_buf_append_u8(b, (uint8_t)*p);
    }
    rd_buf_append_u8(b, '\'');
}

char *pgc_archive_command(const char *self, const char *config_path, const char *cluster)
{
    /* PostgreSQL runs it through /bin/sh -c, so the paths are shell-quoted;
     * the identifier passed pgc_identifier_check and needs no quoting. */
    char *q_self = pgc_shell_quote(self);
    char *q_config = pgc_shell_quote(config_path);
    char *cmd = rd_asprintf("%s --config %s wal push --db-cluster-identifier %s %%p", q_self,
                            q_config, cluster);
    free(q_self);
    free(q_config);
    return cmd;
}

/* The path of radiant_archive.so next to self when it is there, else NULL. */
static char *archive_module(const char *self)
{
    const char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    char *path = rd_asprintf("%.*s/" PGC_ARCHIVE_MODULE, (int)(slash - self), self);
    if (access(path, R_OK) == 0)
        return path;
    free(path);
    return NULL;
}

void pgc_archive_settings_make(pgc_archive_settings *s, const char *self,
                               const char *config_path, const char *cluster)
{
    memset(s, 0, sizeof *s);
    s->names[0] = "archive_library";
    s->names[1] = "radiant.config";
    s->names[2] = "radiant.cluster";
    s->names[3] = "archive_command";
    s->module = archive_module(self);
    if (!config_path)
        return;
    if (s->module) {
        s->values[0] = rd_strdup(s->module);
        s->values[1] = rd_strdup(config_path);
        s->values[2] = rd_strdup(cluster);
    } else {
        s->values[3] = pgc_archive_command(self, config_path, cluster);
    }
}

void pgc_archive_settings_free(pgc_archive_settings *s)
{
    for (size_t i = 0; i < PGC_ARCHIVE_SETTINGS; i++)
        free(s->values[i]);
    free(s->module);
    memset(s, 0, sizeof *s);
}

int pgc_archive_settings_alter(PGconn *conn, const pgc_archive_settings *s)
{
    int rc = 0;
    if (s->module) {
        char *literal = PQescapeLiteral(conn, s->module, strlen(s->module));
        char *sql = literal ? rd_asprintf("LOAD %s", literal) : NULL;
        char *ignored = NULL;
        rc = sql ? pgc_query_value(conn, sql, &ignored)
                 : rd_fail(RD_EINTERNAL, "cannot quote %s: %s", s->module, PQerrorMessage(conn));
        if (rc < 0)
            rc = rd_fail_wrap(rc, "loading the archive module %s into PostgreSQL", s->module);
        free(ignored);
        free(sql);
        PQfreemem(literal);
    }
    for (size_t i = 0; rc == 0 && i < PGC_ARCHIVE_SETTINGS; i++) {
        /* Without the module, radiant.* are unknown to the server and
         * cannot be reset; they are not set either. */
        if (!s->module && strncmp(s->names[i], "radiant.", 8) == 0)
            continue;
        rc = pgc_alter_system(conn, s->names[i], s->values[i]);
    }
    return rc;
}

/* ---------------------------------------------------- postgresql.auto.conf -- */

/* Length of the setting name a line assigns, 0 when it assigns none. */
static size_t line_key(const char *line, size_t len, const char **key)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t start = i;
    while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == '.'))
        i++;
    size_t end = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (end == start || i >= len || line[i] != '=')
        return 0;
    *key = line + start;
    return end - start;
}

int pgc_auto_conf_get(const char *data_dir, const char *name, char **out)
{
    *out = NULL;
    char *path = rd_path_join(data_dir, AUTO_CONF);
    rd_buf text = RD_BUF_INIT;
    int rc = rd_fs_read_file(path, AUTO_CONF_MAX, &text);
    if (rc == -RD_ENOENT)
        rc = 0;
    for (size_t pos = 0; rc == 0 && pos < text.len;) {
        const char *line = (const char *)text.data + pos;
        const char *nl = memchr(line, '\n', text.len - pos);
        size_t len = nl ? (size_t)(nl - line) : text.len - pos;
        pos += len + 1;
        const char *key;
        size_t klen = line_key(line, len, &key);
        if (klen != strlen(name) || strncasecmp(key, name, klen) != 0)
            continue;
        const char *v = strchr(key, '=') + 1;
        const char *end = line + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        rd_buf val = RD_BUF_INIT;
        if (v < end && *v == '\'') {
            for (v++; v < end; v++) {
                if (*v == '\'' && v + 1 < end && v[1] == '\'')
                    v++;
                else if (*v == '\\' && v + 1 < end)
                    v++;
                else if (*v == '\'')
                    break;
                rd_buf_append_u8(&val, (uint8_t)*v);
            }
        } else {
            while (v < end && *v != '#' && *v != ' ' && *v != '\t' && *v != '\r')
                rd_buf_append_u8(&val, (uint8_t)*v++);
        }
        rd_buf_append_u8(&val, 0);
        free(*out);
        *out = (char *)val.data;    /* the last assignment wins, as in PostgreSQL */
    }
    if (rc < 0)
        rd_fail_wrap(rc, "cannot read the settings of %s", data_dir);
    rd_buf_free(&text);
    free(path);
    return rc;
}

int pgc_auto_conf_set(const rd_config *cfg, const char *data_dir, const char *const names[],
                      const char *const values[], size_t n)
{
    char *path = rd_path_join(data_dir, AUTO_CONF);
    rd_buf text = RD_BUF_INIT, out = RD_BUF_INIT;
    bool *done = rd_calloc(n ? n : 1, sizeof *done);
    int rc = rd_fs_read_file(path, AUTO_CONF_MAX, &text);
    if (rc == -RD_ENOENT) {
        static const char header[] = "# Do not edit this file manually!\n"
                                     "# It will be overwritten by the ALTER SYSTEM command.\n";
        rd_buf_append(&text, header, sizeof header - 1);
        rc = 0;
    }
    for (size_t pos = 0; rc == 0 && pos < text.len;) {
        const char *line = (const char *)text.data + pos;
        const char *nl = memchr(line, '\n', text.len - pos);
        size_t len = nl ? (size_t)(nl - line) : text.len - pos;
        pos += len + 1;
        const char *key;
        size_t klen = line_key(line, len, &key);
        size_t i = 0;
        while (i < n && !(klen == strlen(names[i]) && strncasecmp(key, names[i], klen) == 0))
            i++;
        if (i < n && (done[i] || !values[i])) {
            done[i] = true;          /* drop later duplicates, and what is removed */
            continue;
        }
        if (i < n) {
            rd_buf_append(&out, names[i], strlen(names[i]));
            rd_buf_append(&out, " = ", 3);
            append_conf_value(&out, values[i]);
            done[i] = true;
        } else {
            rd_buf_append(&out, line, len);
        }
        rd_buf_append_u8(&out, '\n');
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (done[i] || !values[i])
            continue;
        rd_buf_append(&out, names[i], strlen(names[i]));
        rd_buf_append(&out, " = ", 3);
        append_conf_value(&out, values[i]);
        rd_buf_append_u8(&out, '\n');
    }
    if (rc == 0)
        rc = rd_fs_write_atomic(path, out.data, out.len, 0600);
    /* Written as root, it must still be readable by the server and rewritable
     * by ALTER SYSTEM. */
    if (rc == 0)
        rc = pgc_chown_run_as(cfg, path);
    if (rc < 0)
        rd_fail_wrap(rc, "cannot write the settings of %s", data_dir);
    free(done);
    rd_buf_free(&text);
    rd_buf_free(&out);
    free(path);
    return rc;
}

/* ---------------------------------------------------------------- libpq -- */

/* The first line of a libpq message; libpq ends them with newlines. */
static const char *first_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg ? msg : "");
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

int pgc_connect(const pgc_cluster *c, PGconn **out)
{
    char *conninfo = pgc_conninfo(c);
    PGconn *conn = PQconnectdb(conninfo);
    free(conninfo);
    int rc = 0;
    if (!conn)
        rc = rd_fail(RD_ENOMEM, "cannot connect to DB cluster %s: out of memory", c->id);
    else if (PQstatus(conn) != CONNECTION_OK) {
        char line[512];
        rc = rd_fail(RD_ENET, "cannot connect to DB cluster %s on port %d: %s", c->id, c->port,
                     first_line(PQerrorMessage(conn), line, sizeof line));
        PQfinish(conn);
        conn = NULL;
    }
    *out = conn;
    return rc;
}

int pgc_query_value(PGconn *conn, const char *sql, char **out)
{
    *out = NULL;
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char line[512];
        rc = rd_fail(RD_ENET, "PostgreSQL refused \"%.80s\": %s", sql,
                     first_line(PQresultErrorMessage(res), line, sizeof line));
    } else if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
               !PQgetisnull(res, 0, 0)) {
        *out = rd_strdup(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

int pgc_alter_system(PGconn *conn, const char *name, const char *value)
{
    char *ident = PQescapeIdentifier(conn, name, strlen(name));
    char *literal = value ? PQescapeLiteral(conn, value, strlen(value)) : NULL;
    if (!ident || (value && !literal)) {
        PQfreemem(ident);
        PQfreemem(literal);
        return rd_fail(RD_EINTERNAL, "cannot quote setting %s: %s", name, PQerrorMessage(conn));
    }
    char *sql = value ? rd_asprintf("ALTER SYSTEM SET %s = %s", ident, literal)
                      : rd_asprintf("ALTER SYSTEM RESET %s", ident);
    char *ignored = NULL;
    int rc = pgc_query_value(conn, sql, &ignored);
    free(ignored);
    free(sql);
    PQfreemem(ident);
    PQfreemem(literal);
    return rc;
}
