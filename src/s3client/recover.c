/* Client-side recovery of a versioned bucket (dr-guide Scenario 4, Accidental
 * Deletion): the plans behind `radiant s3 undelete` and `radiant s3
 * restore-to-time`, and their execution with plain S3 requests, so they work
 * against any S3 endpoint (AWS, Ceph RGW, MinIO, radiant's own).
 *
 * Planning is pure and works on a complete listing: nothing is decided from
 * a partial view of a key, and the unit tests feed it listings directly.
 * Nothing in a plan ever removes a data version: undelete removes only delete
 * markers, restore-to-time only adds versions and markers, so every step can
 * itself be undone from the history. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "s3client/s3client.h"

/* Sorting context for qsort, which has none of its own. Planning runs on one
 * thread per plan; the thread-local keeps two plans on two threads apart. */
static _Thread_local const s3_version *sort_base;

/* Keys in byte order; within a key newest first. AWS lists in that order,
 * but other servers do not always (some list every Version before every
 * DeleteMarker), so the order is rebuilt: IsLatest first, then LastModified
 * descending. Within one timestamp (servers that keep whole seconds make
 * this common) a delete marker is taken as newer than a data version: a PUT
 * then DELETE is what happens in practice, and it makes undelete remove
 * every marker that could be on top. Remaining ties keep the server's
 * order. */
static int by_key_newest_first(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const s3_version *va = &sort_base[ia], *vb = &sort_base[ib];
    int c = strcmp(va->key, vb->key);
    if (c)
        return c;
    if (va->is_latest != vb->is_latest)
        return va->is_latest ? -1 : 1;
    if (va->last_modified_ms != vb->last_modified_ms)
        return va->last_modified_ms > vb->last_modified_ms ? -1 : 1;
    if (va->delete_marker != vb->delete_marker)
        return va->delete_marker ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

static size_t *sorted_index(const s3_version_list *l)
{
    size_t *idx = rd_malloc((l->n ? l->n : 1) * sizeof *idx);
    for (size_t i = 0; i < l->n; i++)
        idx[i] = i;
    sort_base = l->v;
    qsort(idx, l->n, sizeof *idx, by_key_newest_first);
    sort_base = NULL;
    return idx;
}

static s3_plan_item *add_item(s3_plan *p, enum s3_plan_action action, const s3_version *v)
{
    p->items = rd_realloc(p->items, (p->n + 1) * sizeof *p->items);
    s3_plan_item *it = &p->items[p->n++];
    memset(it, 0, sizeof *it);
    it->action = action;
    it->key = v->key;
    return it;
}

int s3_plan_undelete(const s3_version_list *l, s3_plan *out)
{
    memset(out, 0, sizeof *out);
    size_t *idx = sorted_index(l);
    for (size_t i = 0; i < l->n;) {
        size_t end = i;
        while (end < l->n && strcmp(l->v[idx[end]].key, l->v[idx[i]].key) == 0)
            end++;
        /* Only the markers on top count: a marker under a data version was
         * already overwritten and removing it would change nothing visible. */
        size_t m = i;
        while (m < end && l->v[idx[m]].delete_marker)
            m++;
        if (m > i) {
            const s3_version *first = &l->v[idx[i]];
            s3_plan_item *it = add_item(out, m < end ? S3_PLAN_UNDELETE : S3_PLAN_SKIP, first);
            if (m < end) {
                it->version_id = l->v[idx[m]].version_id;
                it->size = l->v[idx[m]].size;
                it->n_markers = m - i;
                it->markers = rd_malloc(it->n_markers * sizeof *it->markers);
                for (size_t k = i; k < m; k++)
                    it->markers[k - i] = l->v[idx[k]].version_id;
            }
        }
        i = end;
    }
    free(idx);
    return 0;
}

int s3_plan_restore_to_time(const s3_version_list *l, int64_t t_ms, s3_plan *out)
{
    memset(out, 0, sizeof *out);
    size_t *idx = sorted_index(l);
    for (size_t i = 0; i < l->n;) {
        size_t end = i;
        while (end < l->n && strcmp(l->v[idx[end]].key, l->v[idx[i]].key) == 0)
            end++;
        const s3_version *now = &l->v[idx[i]];
        const s3_version *at_t = NULL;
        for (size_t k = i; k < end && !at_t; k++)
            if (l->v[idx[k]].last_modified_ms <= t_ms)
                at_t = &l->v[idx[k]];
        bool existed = at_t && !at_t->delete_marker;
        bool exists = !now->delete_marker;
        /* A copy gets a new version id but keeps the content and its ETag:
         * without this a second run would copy again, forever. */
        bool same_content = existed && exists && at_t->etag && now->etag &&
                            strcmp(at_t->etag, now->etag) == 0 && at_t->size == now->size;
        if (existed && at_t != now && !same_content) {
            /* Also when `now` is a marker: the copy is what undeletes it, and
             * the marker stays in the history. */
            s3_plan_item *it = add_item(out, S3_PLAN_RESTORE, now);
            it->version_id = at_t->version_id;
            it->size = at_t->size;
        } else if (!existed && exists) {
            add_item(out, S3_PLAN_DELETE, now);
        } else {
            out->unchanged++;
        }
        i = end;
    }
    free(idx);
    return 0;
}

static void item_failed(s3_plan_item *it, int rc)
{
    it->result = rc;
    it->error = rd_strdup(rd_error());
}

size_t s3_plan_execute(s3_client *c, s3_plan *p)
{
    size_t failed = 0;
    for (size_t i = 0; i < p->n; i++) {
        s3_plan_item *it = &p->items[i];
        int rc = 0;
        switch (it->action) {
        case S3_PLAN_UNDELETE:
            /* Newest first: should one removal fail, the key is left with
             * fewer markers on top but still deleted, never half restored
             * under an older marker. */
            for (size_t k = 0; k < it->n_markers && rc == 0; k++)
                rc = s3_delete_object_version(c, it->key, it->markers[k]);
            break;
        case S3_PLAN_RESTORE:
            rc = s3_copy_object_version(c, it->key, it->key, it->version_id, it->size,
                                        &it->new_version_id);
            break;
        case S3_PLAN_DELETE:
            rc = s3_delete_object_marker(c, it->key, &it->new_version_id);
            break;
        case S3_PLAN_SKIP:
            break;
        }
        if (rc < 0) {
            item_failed(it, rc);
            failed++;
        }
    }
    return failed;
}

int s3_plan_result(const s3_plan *p)
{
    rd_buf msg = RD_BUF_INIT;
    int code = 0;
    size_t failed = 0;
    for (size_t i = 0; i < p->n; i++) {
        const s3_plan_item *it = &p->items[i];
        if (it->result >= 0)
            continue;
        if (!code)
            code = -it->result;
        if (failed++ < 3) {
            char *part = rd_asprintf("%s%s (%s)", failed > 1 ? "; " : "", it->key,
                                     it->error ? it->error : "failed");
            rd_buf_append(&msg, part, strlen(part));
            free(part);
        }
    }
    int rc = 0;
    if (failed) {
        rd_buf_append_u8(&msg, '\0');
        rc = rd_fail(code, "%zu of %zu action(s) failed: %s%s", failed, p->n,
                     (const char *)msg.data, failed > 3 ? "; ..." : "");
    }
    rd_buf_free(&msg);
    return rc;
}

void s3_plan_free(s3_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].markers);
        free(p->items[i].error);
        free(p->items[i].new_version_id);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}
