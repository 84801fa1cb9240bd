/* Clusters in the catalog (table clusters, migration 2), identifier rules and
 * the event journal of clusters (describe-events, source type "db-cluster").
 *
 * The repos column holds the [repo NAME]s of a cluster joined by commas;
 * repository names cannot contain one (config.c, valid_name). */
#include "pg/pg.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"

#define CLUSTER_COLUMNS "id, port, data_dir, socket_dir, repos, backup_retention_period, " \
                        "preferred_backup_window, deletion_protection, storage_encrypted, " \
                        "status, created_us, managed, restored_from, synchronous_streaming"

char *pgc_repos_join(char *const *repos, size_t n)
{
    rd_buf b = RD_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            rd_buf_append_u8(&b, ',');
        rd_buf_append(&b, repos[i], strlen(repos[i]));
    }
    rd_buf_append_u8(&b, 0);
    return (char *)b.data;
}

void pgc_cluster_free(pgc_cluster *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->data_dir);
    free(c->socket_dir);
    for (size_t i = 0; i < c->n_repos; i++)
        free(c->repos[i]);
    free(c->repos);
    free(c->preferred_backup_window);
    free(c->status);
    free(c->restored_from);
    free(c);
}

static char *column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? rd_strdup((const char *)t) : NULL;
}

static void split_repos(const char *text, pgc_cluster *c)
{
    for (const char *p = text; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len) {
            c->repos = rd_realloc(c->repos, (c->n_repos + 1) * sizeof *c->repos);
            c->repos[c->n_repos++] = rd_asprintf("%.*s", (int)len, p);
        }
        p = comma ? comma + 1 : p + len;
    }
}

static pgc_cluster *cluster_from_row(sqlite3_stmt *st)
{
    pgc_cluster *c = rd_calloc(1, sizeof *c);
    c->id = column_text(st, 0);
    c->port = sqlite3_column_int(st, 1);
    c->data_dir = column_text(st, 2);
    c->socket_dir = column_text(st, 3);
    split_repos((const char *)sqlite3_column_text(st, 4), c);
    c->backup_retention_period = sqlite3_column_int(st, 5);
    c->preferred_backup_window = column_text(st, 6);
    c->deletion_protection = sqlite3_column_int(st, 7) != 0;
    c->storage_encrypted = sqlite3_column_int(st, 8) != 0;
    c->status = column_text(st, 9);
    c->created_us = sqlite3_column_int64(st, 10);
    c->managed = sqlite3_column_int(st, 11) != 0;
    c->restored_from = column_text(st, 12);
    c->synchronous_streaming = sqlite3_column_int(st, 13) != 0;
    return c;
}

static int prepare(rd_catalog *cat, const char *sql, sqlite3_stmt **st)
{
    sqlite3 *db = rd_catalog_db(cat);
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(db));
    return 0;
}

int pgc_cluster_get(rd_catalog *cat, const char *id, pgc_cluster **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int rc = prepare(cat, "SELECT " CLUSTER_COLUMNS " FROM clusters WHERE id = ?", &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *out = cluster_from_row(st);
    else if (step == SQLITE_DONE)
        rc = rd_fail(RD_ENOENT, "no DB cluster %s; 'radiant db describe-db-clusters' lists "
                     "them", id);
    else
        rc = rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(rd_catalog_db(cat)));
    sqlite3_finalize(st);
    return rc;
}

int pgc_cluster_list(rd_catalog *cat, pgc_cluster ***out, size_t *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    int rc = prepare(cat, "SELECT " CLUSTER_COLUMNS " FROM clusters ORDER BY id", &st);
    if (rc < 0)
        return rc;
    pgc_cluster **list = NULL;
    size_t count = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        list = rd_realloc(list, (count + 1) * sizeof *list);
        list[count++] = cluster_from_row(st);
    }
    if (step != SQLITE_DONE) {
        rc = rd_fail(RD_EIO, "catalog: %s", sqlite3_errmsg(rd_catalog_db(cat)));
        pgc_cluster_list_free(list, count);
    } else {
        *out = list;
        *n = count;
    }
    sqlite3_finalize(st);
    return rc;
}

void pgc_cluster_list_free(pgc_cluster **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pgc_cluster_free(list[i]);
    free(list);
}

int pgc_cluster_save(rd_catalog *cat, const pgc_cluster *c)
{
    sqlite3_stmt *st;
    int rc = prepare(cat, "INSERT OR REPLACE INTO clusters(" CLUSTER_COLUMNS ") "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st);
    if (rc < 0)
        return rc;
    char *repos = pgc_repos_join(c->repos, c->n_repos);
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, c->port);
    sqlite3_bind_text(st, 3, c->data_dir, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->socket_dir ? c->socket_dir : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, repos, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, c->backup_retention_period);
    sqlite3_bind_text(st, 7, c->preferred_backup_window ? c->preferred_backup_window : "",
                      -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, c->deletion_protection);
    sqlite3_bind_int(st, 9, c->storage_encrypted);
    sqlite3_bind_text(st, 10, c->status ? c->status : "creating", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, c->created_us);
    sqlite3_bind_int(st, 12, c->managed);
    if (c->restored_from)
        sqlite3_bind_text(st, 13, c->restored_from, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 13);
    sqlite3_bind_int(st, 14, c->synchronous_streaming);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = rd_fail(RD_EIO, "catalog: cannot save DB cluster %s: %s", c->id,
                     sqlite3_errmsg(rd_catalog_db(cat)));
    sqlite3_finalize(st);
    free(repos);
    return rc;
}

/* Runs an UPDATE/DELETE on one cluster; -RD_ENOENT when no row matched. */
static int change_one(rd_catalog *cat, const char *sql, const char *id, const char *text)
{
    sqlite3_stmt *st;
    int rc = prepare(cat, sql, &st);
    if (rc < 0)
        return rc;
    int idx = 1;
    if (text)
        sqlite3_bind_text(st, idx++, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, idx, id, -1, SQLITE_STATIC);
    sqlite3 *db = rd_catalog_db(cat);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = rd_fail(RD_EIO, "catalog: DB cluster %s: %s", id, sqlite3_errmsg(db));
    else if (sqlite3_changes(db) == 0)
        rc = rd_fail(RD_ENOENT, "no DB cluster %s; 'radiant db describe-db-clusters' lists "
                     "them", id);
    sqlite3_finalize(st);
    return rc;
}

int pgc_cluster_set_status(rd_catalog *cat, const char *id, const char *status)
{
    return change_one(cat, "UPDATE clusters SET status = ? WHERE id = ?", id, status);
}

int pgc_cluster_remove(rd_catalog *cat, const char *id)
{
    return change_one(cat, "DELETE FROM clusters WHERE id = ?", id, NULL);
}

/* RDS DBClusterIdentifier constraints (CreateDBCluster API reference). Lower
 * and upper case are both accepted; RDS folds to lower case, radiant keeps the
 * name as given so that it matches the config section and the directories. */
int pgc_identifier_check(const char *id, const char *what)
{
    const char *why = NULL;
    size_t len = id ? strlen(id) : 0;
    if (len == 0)
        why = "is empty";
    else if (len > 63)
        why = "is longer than 63 characters";
    else if (!isalpha((unsigned char)id[0]) || !isascii((unsigned char)id[0]))
        why = "must start with a letter";
    else if (id[len - 1] == '-')
        why = "must not end with a hyphen";
    else if (strstr(id, "--"))
        why = "must not contain two consecutive hyphens";
    for (size_t i = 0; !why && i < len; i++)
        if (!isascii((unsigned char)id[i]) ||
            (!isalnum((unsigned char)id[i]) && id[i] != '-'))
            why = "may contain only letters, digits and hyphens";
    if (!why)
        return 0;
    return rd_fail(RD_EUSAGE, "%s '%s' %s (1-63 letters, digits and hyphens, starting with a "
                   "letter, no trailing or double hyphen)", what ? what : "identifier",
                   id ? id : "", why);
}

int pgc_event(rd_catalog *cat, const char *cluster, const char *category, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rd_catalog_event_add(cat, "db-cluster", cluster, category, msg);
}

/* ----------------------------------------------------------------- ports -- */

#define FIRST_PORT 5432

/* True when something listens on 127.0.0.1:port (or on every address). */
static bool port_bound(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool bound = bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno == EADDRINUSE;
    close(fd);
    return bound;
}

/* -RD_EEXIST when another cluster of the catalog has the port, or something
 * already listens on it. */
int pgc_port_check(rd_catalog *cat, const char *self, int port)
{
    pgc_cluster **list;
    size_t n;
    int rc = pgc_cluster_list(cat, &list, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (list[i]->port == port && strcmp(list[i]->id, self) != 0)
            rc = rd_fail(RD_EEXIST, "port %d is already used by DB cluster %s; choose another "
                         "--port", port, list[i]->id);
    pgc_cluster_list_free(list, n);
    if (rc == 0 && port_bound(port))
        rc = rd_fail(RD_EEXIST, "port %d is in use on 127.0.0.1; choose another --port", port);
    return rc;
}

int pgc_port_pick(rd_catalog *cat, const char *self, int *port)
{
    pgc_cluster **list;
    size_t n;
    int rc = pgc_cluster_list(cat, &list, &n);
    if (rc < 0)
        return rc;
    rc = rd_fail(RD_EEXIST, "no free port from %d up; choose one with --port", FIRST_PORT);
    for (int p = FIRST_PORT; p <= 65535; p++) {
        bool taken = false;
        for (size_t i = 0; i < n && !taken; i++)
            taken = list[i]->port == p && strcmp(list[i]->id, self) != 0;
        if (!taken && !port_bound(p)) {
            *port = p;
            rc = 0;
            break;
        }
    }
    pgc_cluster_list_free(list, n);
    return rc;
}
