/* The object-recovery runbook: dr-guide Scenario 4, Accidental Deletion
 * ("Restore deleted S3 objects"), step by step against a versioned bucket on
 * any S3 endpoint, with the plans of `radiant s3 undelete` and `radiant s3
 * restore-to-time` (src/s3client/recover.c) and the endpoint and credentials
 * resolved as `radiant s3` resolves them (os3_target_resolve).
 *
 *   guide                                           step here
 *   (--bucket radiant-storage-production)           resolve: endpoint, credentials,
 *                                                   the bucket exists and is versioned
 *   aws s3api list-object-versions --prefix P       list-object-versions
 *     --query 'DeleteMarkers[?IsLatest==`true`]'    plan: the keys to bring back
 *   aws s3api delete-object --key K --version-id M  apply: every latest marker removed
 *                                                   (restore-to-time: copies and markers)
 *   (the guide trusts the delete)                   verify: listed again, the plan holds
 *
 * Without --time it undeletes; with --time T it makes the prefix look as it
 * did at T, keeping all history. Nothing removes a data version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "objstore/objstore.h"
#include "runbook/runbook.h"
#include "s3client/s3client.h"

#define KEYS_SHOWN 10                  /* keys named in an output, then "and N more" */
#define KEYS_CHARS 900                 /* outputs are at most 1023 characters */

/* What the steps share (ctx->state). */
struct objr {
    const char *bucket, *prefix;
    const char *time;                  /* --time as given; NULL: undelete */
    int64_t time_ms;
    bool dry_run;
    char *endpoint;
    s3_client *client;
    s3_version_list listing;           /* step 2's; the plan borrows its strings */
    bool planned;
    s3_plan plan;
};

static int objr_check(const rb_args *args)
{
    const char *bucket = rb_args_get(args, "bucket");
    const char *when = rb_args_get(args, "time");
    int64_t ms;
    if (!bucket || !*bucket)
        return rd_fail(RD_EUSAGE, "--bucket needs a bucket name");
    if (when && s3_time_parse_ms(when, &ms) != 0)
        return rd_fail(RD_EUSAGE, "--time must be an ISO 8601 time with a zone such as "
                       "2024-12-24T10:30:00Z or 2024-12-24T10:30:00.250+01:00, not '%s'", when);
    return 0;
}

static const char *mode(const struct objr *o)
{
    return o->time ? "restore-to-time" : "undelete";
}

/* Step 1: where to, as whom, and whether the bucket can be recovered at all. */
static int step_resolve(rb_context *ctx)
{
    struct objr *o = ctx->state;
    const rb_args *a = ctx->args;
    o->bucket = rb_args_get(a, "bucket");
    o->prefix = rb_args_get(a, "prefix");
    o->time = rb_args_get(a, "time");
    o->dry_run = rb_args_get(a, "dry-run") != NULL;
    if (o->time)
        s3_time_parse_ms(o->time, &o->time_ms);
    rb_output_str(ctx, "Bucket", "%s", o->bucket);
    rb_output_str(ctx, "Prefix", "%s", o->prefix);
    rb_output_str(ctx, "Mode", "%s", mode(o));
    if (o->time)
        rb_output_str(ctx, "RestoreToTime", "%s", o->time);
    rb_output_str(ctx, "DryRun", "%s", o->dry_run ? "true" : "false");

    os3_target t;
    os3_target_args ta = { .endpoint_url = rb_args_get(a, "endpoint-url"),
                           .access_key_id = rb_args_get(a, "access-key-id"),
                           .region = rb_args_get(a, "region") };
    int rc = os3_target_resolve(ctx->cfg, ctx->config_path, &ta, &t);
    if (rc == 0)
        rc = os3_target_client(&t, o->bucket, true, &o->client);
    if (rc == 0) {
        o->endpoint = rd_strdup(t.endpoint);
        rb_output_str(ctx, "Endpoint", "%s", t.endpoint);
    }
    char key_id[128];
    snprintf(key_id, sizeof key_id, "%s", t.access_key_id ? t.access_key_id : "");
    bool own = t.own;
    os3_target_free(&t);
    if (rc < 0)
        return rc;

    char *status = NULL;
    rc = s3_get_bucket_versioning(o->client, &status);
    if (rc == -RD_ENOENT)
        rc = rd_fail_wrap(rc, "bucket %s not found at %s", o->bucket, o->endpoint);
    else if (rc < 0)
        rc = rd_fail_wrap(rc, "checking the versioning of bucket %s at %s", o->bucket,
                          o->endpoint);
    else
        rb_output_str(ctx, "Versioning", "%s", *status ? status : "Disabled");
    /* Without versioning a delete removes the data: there is no version to
     * bring back and no history to restore from. Suspended keeps the
     * versions written before, but new deletes overwrite the "null" version,
     * so a recovery would be partial at best and is refused as well. */
    if (rc == 0 && strcmp(status, "Enabled") != 0)
        rc = rd_fail(RD_EUSAGE, "bucket %s cannot be recovered: its versioning is %s, and "
                     "only a bucket with versioning Enabled keeps deleted and overwritten "
                     "objects (enable it, e.g. versioning = enabled in [bucket %s], to protect "
                     "what is written from now on)", o->bucket,
                     *status ? status : "not enabled (never set)", o->bucket);
    if (rc == 0)
        rb_message(ctx, "s3://%s/%s at %s (%s) as %s, versioning Enabled; %s%s%s%s", o->bucket,
                   o->prefix, o->endpoint, own ? "radiant's own server" : "endpoint given",
                   key_id, mode(o), o->time ? " to " : "", o->time ? o->time : "",
                   o->dry_run ? " (dry run)" : "");
    free(status);
    return rc;
}

/* Counts of a listing: data versions, delete markers, keys, and keys whose
 * latest entry is a delete marker (the guide's DeleteMarkers[?IsLatest]). */
struct counts {
    size_t versions, markers, keys, deleted;
};

static void count(const s3_version_list *l, struct counts *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < l->n; i++) {
        const s3_version *v = &l->v[i];
        if (v->delete_marker)
            c->markers++;
        else
            c->versions++;
        if (v->is_latest) {
            c->keys++;
            if (v->delete_marker)
                c->deleted++;
        }
    }
}

/* Step 2: aws s3api list-object-versions --prefix P, every page. */
static int step_list(rb_context *ctx)
{
    struct objr *o = ctx->state;
    int rc = s3_list_object_versions(o->client, o->prefix, &o->listing);
    if (rc < 0)
        return rd_fail_wrap(rc, "listing the versions of s3://%s/%s", o->bucket, o->prefix);
    struct counts c;
    count(&o->listing, &c);
    rb_output_int(ctx, "Versions", (int64_t)c.versions);
    rb_output_int(ctx, "DeleteMarkers", (int64_t)c.markers);
    rb_output_int(ctx, "Keys", (int64_t)c.keys);
    rb_output_int(ctx, "LatestDeleteMarkers", (int64_t)c.deleted);
    rb_message(ctx, "%zu version%s and %zu delete marker%s of %zu key%s under s3://%s/%s; "
               "%zu key%s deleted (a delete marker is the latest)", c.versions,
               c.versions == 1 ? "" : "s", c.markers, c.markers == 1 ? "" : "s", c.keys,
               c.keys == 1 ? "" : "s", o->bucket, o->prefix, c.deleted,
               c.deleted == 1 ? "" : "s");
    return 0;
}

static size_t count_action(const s3_plan *p, enum s3_plan_action a)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->items[i].action == a;
    return n;
}

/* Step 3: what to do per key, decided from the whole listing. */
static int step_plan(rb_context *ctx)
{
    struct objr *o = ctx->state;
    int rc = o->time ? s3_plan_restore_to_time(&o->listing, o->time_ms, &o->plan)
                     : s3_plan_undelete(&o->listing, &o->plan);
    if (rc < 0)
        return rc;
    o->planned = true;
    if (o->time) {
        size_t restore = count_action(&o->plan, S3_PLAN_RESTORE);
        size_t del = count_action(&o->plan, S3_PLAN_DELETE);
        rb_output_int(ctx, "ToRestore", (int64_t)restore);
        rb_output_int(ctx, "ToDelete", (int64_t)del);
        rb_output_int(ctx, "Unchanged", (int64_t)o->plan.unchanged);
        rb_message(ctx, "restore-to-time %s: %zu key%s to restore (copy the version current "
                   "at T), %zu to delete (did not exist at T), %zu unchanged", o->time,
                   restore, restore == 1 ? "" : "s", del, o->plan.unchanged);
    } else {
        size_t undelete = count_action(&o->plan, S3_PLAN_UNDELETE);
        size_t skip = count_action(&o->plan, S3_PLAN_SKIP);
        size_t markers = 0;
        for (size_t i = 0; i < o->plan.n; i++)
            markers += o->plan.items[i].n_markers;
        rb_output_int(ctx, "ToUndelete", (int64_t)undelete);
        rb_output_int(ctx, "Skipped", (int64_t)skip);
        rb_message(ctx, "undelete: %zu key%s to bring back (%zu delete marker%s to remove), "
                   "%zu skipped (only delete markers, no version to bring back)", undelete,
                   undelete == 1 ? "" : "s", markers, markers == 1 ? "" : "s", skip);
    }
    return 0;
}

/* Step 4: aws s3api delete-object --version-id (restore-to-time: copies
 * and markers). Every action is tried; the failures are named after. */
static int step_apply(rb_context *ctx)
{
    struct objr *o = ctx->state;
    if (o->dry_run) {
        rb_message(ctx, "dry run: nothing sent (--dry-run)");
        return 0;
    }
    size_t todo = o->plan.n - count_action(&o->plan, S3_PLAN_SKIP);
    size_t failed = s3_plan_execute(o->client, &o->plan);
    rb_output_int(ctx, "Failed", (int64_t)failed);
    if (failed)
        return s3_plan_result(&o->plan);
    rb_message(ctx, "%zu action%s done on s3://%s/%s", todo, todo == 1 ? "" : "s", o->bucket,
               o->prefix);
    return 0;
}

/* The latest entry of key in l (NULL when the key has none). */
static const s3_version *latest(const s3_version_list *l, const char *key)
{
    const s3_version *found = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const s3_version *v = &l->v[i];
        if (strcmp(v->key, key) != 0)
            continue;
        if (v->is_latest)
            return v;
        /* A server that does not mark IsLatest: the newest one. */
        if (!found || v->last_modified_ms > found->last_modified_ms)
            found = v;
    }
    return found;
}

static const s3_version *find_version(const s3_version_list *l, const char *key,
                                      const char *version_id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, key) == 0 && strcmp(l->v[i].version_id, version_id) == 0)
            return &l->v[i];
    return NULL;
}

/* "a, b, c and 7 more" within KEYS_SHOWN names and KEYS_CHARS characters. */
static void keys_output(rb_context *ctx, const char *name, const s3_plan *p,
                        enum s3_plan_action action)
{
    rd_buf b = RD_BUF_INIT;
    size_t total = count_action(p, action), shown = 0;
    for (size_t i = 0; i < p->n; i++) {
        const s3_plan_item *it = &p->items[i];
        if (it->action != action)
            continue;
        size_t len = strlen(it->key);
        if (shown == KEYS_SHOWN || b.len + len + 2 > KEYS_CHARS)
            break;
        if (shown++)
            rd_buf_append(&b, ", ", 2);
        rd_buf_append(&b, it->key, len);
    }
    char more[64] = "";
    if (shown < total)
        snprintf(more, sizeof more, "%s%zu more", shown ? " and " : "", total - shown);
    rd_buf_append_u8(&b, '\0');
    rb_output_str(ctx, name, "%s%s", (const char *)b.data, more);
    rd_buf_free(&b);
}

/* Step 5: list again and check that what the plan meant now holds. */
static int step_verify(rb_context *ctx)
{
    struct objr *o = ctx->state;
    s3_version_list now = { 0 };
    int rc = s3_list_object_versions(o->client, o->prefix, &now);
    if (rc < 0) {
        rc = rd_fail_wrap(rc, "listing the versions of s3://%s/%s again", o->bucket,
                          o->prefix);
        goto out;
    }
    if (o->dry_run) {
        /* Nothing may have changed: every entry listed before is still there
         * and nothing was added by this run (a concurrent writer would show
         * up here too, and that is worth saying). */
        size_t missing = 0;
        for (size_t i = 0; i < o->listing.n; i++)
            missing += !find_version(&now, o->listing.v[i].key, o->listing.v[i].version_id);
        if (missing || now.n != o->listing.n) {
            rc = rd_fail(RD_EIO, "dry run, yet the listing of s3://%s/%s changed: %zu entries "
                         "before, %zu now, %zu gone (another writer?)", o->bucket, o->prefix,
                         o->listing.n, now.n, missing);
            goto out;
        }
        rb_output_int(ctx, o->time ? "Restored" : "Undeleted", 0);
        if (o->time)
            rb_output_int(ctx, "Deleted", 0);
        rb_message(ctx, "dry run: the %zu entries under s3://%s/%s are as they were", now.n,
                   o->bucket, o->prefix);
        goto out;
    }

    for (size_t i = 0; i < o->plan.n && rc == 0; i++) {
        const s3_plan_item *it = &o->plan.items[i];
        const s3_version *cur = latest(&now, it->key);
        switch (it->action) {
        case S3_PLAN_UNDELETE:
            if (!cur || cur->delete_marker || strcmp(cur->version_id, it->version_id) != 0)
                rc = rd_fail(RD_EIO, "%s is not back: its current entry is %s%s, not version "
                             "%s", it->key, !cur ? "none" : cur->delete_marker
                                                 ? "a delete marker " : "version ",
                             cur ? cur->version_id : "", it->version_id);
            break;
        case S3_PLAN_RESTORE: {
            const s3_version *want = find_version(&o->listing, it->key, it->version_id);
            if (!cur || cur->delete_marker || !want || !want->etag || !cur->etag ||
                strcmp(cur->etag, want->etag) != 0 || cur->size != want->size)
                rc = rd_fail(RD_EIO, "%s is not as it was at %s: its current %s%s has ETag "
                             "%s, the version current at T (%s) %s", it->key, o->time,
                             cur && cur->delete_marker ? "entry is a delete marker" :
                             "version ", cur && !cur->delete_marker ? cur->version_id : "",
                             cur && cur->etag ? cur->etag : "none", it->version_id,
                             want && want->etag ? want->etag : "none");
            break;
        }
        case S3_PLAN_DELETE:
            if (cur && !cur->delete_marker)
                rc = rd_fail(RD_EIO, "%s did not exist at %s, yet version %s is current",
                             it->key, o->time, cur->version_id);
            break;
        case S3_PLAN_SKIP:
            break;
        }
    }
    /* Restore-to-time: the whole prefix, not only what was touched, must be
     * as at T; planned again from the new listing, nothing is left to do. */
    if (rc == 0 && o->time) {
        s3_plan again;
        s3_plan_restore_to_time(&now, o->time_ms, &again);
        if (again.n)
            rc = rd_fail(RD_EIO, "s3://%s/%s is not as it was at %s: %zu key%s still differ%s, "
                         "first %s", o->bucket, o->prefix, o->time, again.n,
                         again.n == 1 ? "" : "s", again.n == 1 ? "s" : "", again.items[0].key);
        s3_plan_free(&again);
    }
    if (rc < 0)
        goto out;
    if (o->time) {
        size_t restored = count_action(&o->plan, S3_PLAN_RESTORE);
        size_t deleted = count_action(&o->plan, S3_PLAN_DELETE);
        rb_output_int(ctx, "Restored", (int64_t)restored);
        keys_output(ctx, "RestoredKeys", &o->plan, S3_PLAN_RESTORE);
        rb_output_int(ctx, "Deleted", (int64_t)deleted);
        keys_output(ctx, "DeletedKeys", &o->plan, S3_PLAN_DELETE);
        rb_message(ctx, "s3://%s/%s is as it was at %s: %zu restored (content ETag as at T), "
                   "%zu deleted (absent), %zu unchanged", o->bucket, o->prefix, o->time,
                   restored, deleted, o->plan.unchanged);
    } else {
        size_t undeleted = count_action(&o->plan, S3_PLAN_UNDELETE);
        rb_output_int(ctx, "Undeleted", (int64_t)undeleted);
        keys_output(ctx, "UndeletedKeys", &o->plan, S3_PLAN_UNDELETE);
        rb_message(ctx, "%zu key%s current again with the expected version", undeleted,
                   undeleted == 1 ? "" : "s");
    }
out:
    s3_version_list_free(&now);
    return rc;
}

static void objr_finish(rb_context *ctx)
{
    struct objr *o = ctx->state;
    if (o->planned)
        s3_plan_free(&o->plan);
    s3_version_list_free(&o->listing);
    s3_client_free(o->client);
    free(o->endpoint);
}

static const rb_param params[] = {
    { "bucket", "B", "the versioned bucket", true },
    { "prefix", "P", "the keys to recover (\"\" for the whole bucket)", true, true },
    { "time", "T", "restore-to-time: make the prefix as it was at T (ISO 8601 with a zone); "
      "without it: undelete", false },
    { "endpoint-url", "URL", "S3 endpoint (else $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else "
      "radiant's own [objectstore] listen)", false },
    { "access-key-id", "ID", "else $AWS_ACCESS_KEY_ID, else the first [access-key] for "
      "radiant's own server", false },
    { "region", "R", "signing region (else $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)",
      false },
    { "dry-run", NULL, "plan only: change nothing", false },
    { NULL, NULL, NULL, false },
};

static const rb_step steps[] = {
    { "resolve", "the endpoint and credentials; the bucket exists and has versioning "
      "Enabled", step_resolve },
    { "list-object-versions", "every version and delete marker under the prefix",
      step_list },
    { "plan", "what to do per key: undelete, or restore the state at --time", step_plan },
    { "apply", "remove the delete markers (restore-to-time: copy versions, add markers)",
      step_apply },
    { "verify", "list again: every key is as planned", step_verify },
};

const rb_runbook rb_object_recovery = {
    .name = "object-recovery",
    .summary = "bring back deleted objects of a versioned bucket, or restore a prefix to a "
               "point in time",
    .params = params,
    .steps = steps,
    .n_steps = sizeof steps / sizeof steps[0],
    .flags = RB_OPTIONAL_CONFIG,
    .state_size = sizeof(struct objr),
    .check = objr_check,
    .finish = objr_finish,
};
