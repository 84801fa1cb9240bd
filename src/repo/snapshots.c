/* Backups as listed in snapshots/: loading manifests by id, unique prefix or
 * "latest", listing them, and forgetting one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "repo/internal.h"

int repo_manifest_load_path(repo *r, const char *id, repo_manifest **out)
{
    char *path = rd_asprintf("snapshots/%s", id);
    rd_buf raw = RD_BUF_INIT, body = RD_BUF_INIT;
    int rc = repo_storage_get(r->st, path, 0, 0, &raw);
    if (rc == -RD_ENOENT)
        rc = rd_fail(RD_ENOENT, "backup %s does not exist in repository %s", id, r->name);
    if (rc == 0)
        rc = repo_envelope_open(repo_key_or_null(r), REPO_FILE_MANIFEST, raw.data, raw.len,
                                &body);
    if (rc == 0)
        rc = repo_manifest_decode(body.data, body.len, out);
    if (rc == 0 && strcmp((*out)->info.id, id) != 0) {
        repo_manifest_free(*out);
        rc = rd_fail(RD_ECORRUPT, "manifest %s names itself %s", path, (*out)->info.id);
    } else if (rc < 0 && rc != -RD_ENOENT) {
        rd_fail_wrap(rc, "manifest %s", path);
    }
    rd_buf_free(&raw);
    rd_buf_free(&body);
    free(path);
    return rc;
}

/* Resolves a full id, a unique prefix, or "latest" to a full id. */
static int resolve_id(repo *r, const char *want, char **out)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = repo_snapshot_ids(r, &ids, &n);
    if (rc < 0)
        return rc;
    const char *found = NULL;
    size_t matches = 0;
    if (strcmp(want, "latest") == 0 && n > 0) {
        found = ids[n - 1];   /* ids sort by creation time */
        matches = 1;
    }
    for (size_t i = 0; i < n && strcmp(want, "latest") != 0; i++) {
        if (strcmp(ids[i], want) == 0) {
            found = ids[i];
            matches = 1;
            break;
        }
        if (*want && strncmp(ids[i], want, strlen(want)) == 0) {
            found = ids[i];
            matches++;
        }
    }
    if (matches == 0)
        rc = rd_fail(RD_ENOENT, "backup %s does not exist in repository %s; see 'radiant repo "
                     "list --repo %s'", want, r->name, r->name);
    else if (matches > 1)
        rc = rd_fail(RD_EUSAGE, "backup id prefix %s matches %zu backups; give more of the id",
                     want, matches);
    else
        *out = rd_strdup(found);
    repo_strv_free(ids, n);
    return rc;
}

int repo_manifest_load(repo *r, const char *id, repo_manifest **out)
{
    char *full = NULL;
    int rc = resolve_id(r, id, &full);
    if (rc == 0)
        rc = repo_manifest_load_path(r, full, out);
    free(full);
    return rc;
}

int repo_manifest_load_parent(repo *r, const char *source, const char *kind,
                              repo_manifest **out)
{
    repo_backup_info *list = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = repo_backup_list(r, &list, &n);
    if (rc < 0)
        return rc;
    for (size_t i = n; i-- > 0;) {
        if (strcmp(list[i].source, source) == 0 && strcmp(list[i].kind, kind) == 0) {
            rc = repo_manifest_load_path(r, list[i].id, out);
            break;
        }
    }
    repo_backup_list_free(list, n);
    return rc;
}

int repo_backup_list(repo *r, repo_backup_info **out, size_t *n_out)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = repo_snapshot_ids(r, &ids, &n);
    if (rc < 0)
        return rc;
    repo_backup_info *list = rd_calloc(n, sizeof *list);
    size_t got = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        repo_manifest *m = NULL;
        rc = repo_manifest_load_path(r, ids[i], &m);
        if (rc < 0)
            break;
        list[got++] = m->info;
        memset(&m->info, 0, sizeof m->info);
        repo_manifest_free(m);
    }
    repo_strv_free(ids, n);
    if (rc < 0) {
        repo_backup_list_free(list, got);
        return rc;
    }
    *out = list;
    *n_out = got;
    return 0;
}

void repo_backup_list_free(repo_backup_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        repo_backup_info_free(&list[i]);
    free(list);
}

int repo_forget(repo *r, const char *id)
{
    char *full = NULL;
    int rc = resolve_id(r, id, &full);
    if (rc < 0)
        return rc;
    char *path = rd_asprintf("snapshots/%s", full);
    rc = repo_storage_remove(r->st, path);
    free(path);
    free(full);
    return rc;
}
