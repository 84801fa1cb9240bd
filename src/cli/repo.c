/* radiant repo: create, back up to, restore from, verify and prune backup
 * repositories. JSON fields are a contract (docs/cli.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "repo/repo.h"

/* Options every repo command may take; each command picks its own subset. */
struct repo_args {
    const char *repo, *path, *label, *backup, *target, *file, *new_pass_file;
    bool force, read_data, skip_unreadable, no_owner, read_all;
    int threads;
};

enum { OPT_REPO = 256, OPT_PATH, OPT_LABEL, OPT_BACKUP, OPT_TARGET, OPT_FILE, OPT_NEWPASS,
       OPT_FORCE, OPT_READ_DATA, OPT_SKIP, OPT_NO_OWNER, OPT_THREADS, OPT_READ_ALL };

static const struct option all_options[] = {
    { "repo", required_argument, NULL, OPT_REPO },
    { "path", required_argument, NULL, OPT_PATH },
    { "label", required_argument, NULL, OPT_LABEL },
    { "backup", required_argument, NULL, OPT_BACKUP },
    { "target", required_argument, NULL, OPT_TARGET },
    { "file", required_argument, NULL, OPT_FILE },
    { "new-passphrase-file", required_argument, NULL, OPT_NEWPASS },
    { "force", no_argument, NULL, OPT_FORCE },
    { "read-data", no_argument, NULL, OPT_READ_DATA },
    { "skip-unreadable", no_argument, NULL, OPT_SKIP },
    { "no-owner", no_argument, NULL, OPT_NO_OWNER },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "read-all", no_argument, NULL, OPT_READ_ALL },
    { NULL, 0, NULL, 0 },
};

/* Parses argv allowing only the options named in `allowed` (space separated). */
static int parse_args(const char *cmd, int argc, char **argv, const char *allowed,
                      struct repo_args *a)
{
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    for (;;) {
        int idx = -1;
        int c = getopt_long(argc, argv, ":", all_options, &idx);
        if (c == -1)
            break;
        if (c == '?')
            return cli_usage("repo", cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return cli_usage("repo", cmd, "option '%s' needs a value", argv[optind - 1]);
        const char *name = all_options[c - OPT_REPO].name;
        char word[64];
        snprintf(word, sizeof word, " %s ", name);
        char padded[256];
        snprintf(padded, sizeof padded, " %s ", allowed);
        if (!strstr(padded, word))
            return cli_usage("repo", cmd, "option '--%s' does not apply here", name);
        switch (c) {
        case OPT_REPO: a->repo = optarg; break;
        case OPT_PATH: a->path = optarg; break;
        case OPT_LABEL: a->label = optarg; break;
        case OPT_BACKUP: a->backup = optarg; break;
        case OPT_TARGET: a->target = optarg; break;
        case OPT_FILE: a->file = optarg; break;
        case OPT_NEWPASS: a->new_pass_file = optarg; break;
        case OPT_FORCE: a->force = true; break;
        case OPT_READ_DATA: a->read_data = true; break;
        case OPT_SKIP: a->skip_unreadable = true; break;
        case OPT_NO_OWNER: a->no_owner = true; break;
        case OPT_READ_ALL: a->read_all = true; break;
        case OPT_THREADS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 64)
                return cli_usage("repo", cmd, "--threads must be 1 to 64, not '%s'", optarg);
            a->threads = (int)v;
            break;
        }
        }
    }
    if (optind < argc)
        return cli_usage("repo", cmd, "unexpected argument '%s'", argv[optind]);
    if (!a->repo)
        return cli_usage("repo", cmd, "--repo NAME is required");
    return 0;
}

static int require(const char *cmd, const char *value, const char *flag)
{
    return value ? 0 : cli_usage("repo", cmd, "%s is required", flag);
}

static int open_repo(cli_ctx *ctx, const struct repo_args *a, repo **out)
{
    const rd_config *cfg;
    int rc = cli_config(ctx, &cfg);
    if (rc == 0)
        rc = repo_open(cfg, a->repo, out);
    if (rc == 0 && a->threads)
        repo_set_threads(*out, a->threads);
    return rc;
}

static void time_iso(int64_t us, char out[32])
{
    rd_time_format(us / 1000000, out, 32);
}

static json_t *backup_json(const repo_backup_info *b)
{
    char start[32], end[32];
    time_iso(b->start_us, start);
    time_iso(b->end_us, end);
    json_t *meta = json_object();
    for (size_t i = 0; i < b->n_meta; i++)
        json_object_set_new(meta, b->meta_keys[i], json_string(b->meta_values[i]));
    const repo_backup_stats *s = &b->stats;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:o}",
                     "id", b->id, "label", b->label, "kind", b->kind, "source", b->source,
                     "hostname", b->hostname, "start_time", start, "end_time", end,
                     "files", (json_int_t)s->files, "dirs", (json_int_t)s->dirs,
                     "symlinks", (json_int_t)s->symlinks,
                     "logical_bytes", (json_int_t)s->logical_bytes,
                     "chunks", (json_int_t)s->chunks, "new_chunks", (json_int_t)s->new_chunks,
                     "new_raw_bytes", (json_int_t)s->new_raw_bytes,
                     "new_stored_bytes", (json_int_t)s->new_stored_bytes,
                     "packs_written", (json_int_t)s->packs_written,
                     "duration_seconds", (double)(b->end_us - b->start_us) / 1e6, "meta", meta);
}

static double rate_mb_s(uint64_t bytes, double seconds)
{
    return seconds > 0 ? (double)bytes / 1e6 / seconds : 0;
}

static void print_backup_text(const repo_backup_info *b)
{
    char logical[32], fresh[32], stored[32];
    double secs = (double)(b->end_us - b->start_us) / 1e6;
    cli_format_bytes((double)b->stats.logical_bytes, logical, sizeof logical);
    cli_format_bytes((double)b->stats.new_raw_bytes, fresh, sizeof fresh);
    cli_format_bytes((double)b->stats.new_stored_bytes, stored, sizeof stored);
    printf("backup %s%s%s\n  %llu files, %llu dirs, %llu symlinks, %s in %.1f s (%.1f MB/s)\n"
           "  new data %s, stored as %s in %llu pack(s)\n", b->id, b->label[0] ? " " : "",
           b->label, (unsigned long long)b->stats.files, (unsigned long long)b->stats.dirs,
           (unsigned long long)b->stats.symlinks, logical, secs,
           rate_mb_s(b->stats.logical_bytes, secs), fresh, stored,
           (unsigned long long)b->stats.packs_written);
}

static json_t *repo_json(repo *r)
{
    return json_pack("{s:{s:s,s:s,s:b,s:s}}", "repo", "name", repo_name(r), "location",
                     repo_location(r), "encrypted", repo_encrypted(r), "id", repo_id(r));
}

/* ------------------------------------------------------------ commands -- */

static int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    const rd_config *cfg;
    int rc = parse_args("init", argc, argv, "repo", &a);
    if (rc == 0)
        rc = cli_config(ctx, &cfg);
    if (rc == 0)
        rc = repo_init(cfg, a.repo);
    repo *r = NULL;
    if (rc == 0)
        rc = repo_open(cfg, a.repo, &r);
    if (rc < 0)
        return rc;
    if (ctx->output == CLI_OUTPUT_JSON)
        cli_print_json(repo_json(r));
    else
        printf("initialized %s repository %s at %s\n",
               repo_encrypted(r) ? "encrypted" : "unencrypted", repo_name(r), repo_location(r));
    repo_close(r);
    return 0;
}

static int finish_backup(cli_ctx *ctx, repo *r, repo_backup *b, int rc)
{
    if (rc < 0) {
        repo_backup_abort(b);
        cli_event(ctx, "repository", repo_name(r), "failure", "backup failed: %s", rd_error());
        return rc;
    }
    repo_backup_info info;
    rc = repo_backup_commit(b, &info);
    if (rc < 0)
        return rc;
    char size[32];
    cli_format_bytes((double)info.stats.logical_bytes, size, sizeof size);
    cli_event(ctx, "repository", repo_name(r), "backup", "backup %s of %s completed: %s, "
              "%llu files", info.id, info.source, size, (unsigned long long)info.stats.files);
    if (ctx->output == CLI_OUTPUT_JSON)
        cli_print_json(json_pack("{s:o}", "backup", backup_json(&info)));
    else
        print_backup_text(&info);
    repo_backup_info_free(&info);
    return 0;
}

static int cmd_backup_dir(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    int rc = parse_args("backup-dir", argc, argv,
                        "repo path label skip-unreadable threads read-all", &a);
    if (rc == 0)
        rc = require("backup-dir", a.path, "--path DIR");
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_lock(r, false);
    if (rc < 0) {
        repo_close(r);
        return rc;
    }
    char *source = realpath(a.path, NULL);
    repo_progress progress = { 0 };
    repo_backup_options opts = { .label = a.label, .kind = "dir",
                                 .source = source ? source : a.path, .progress = &progress };
    repo_backup *b = NULL;
    repo_manifest *parent = NULL;
    if (!a.read_all)
        rc = repo_manifest_load_parent(r, opts.source, opts.kind, &parent);
    if (rc == 0)
        rc = repo_backup_begin(r, &opts, &b);
    if (rc == 0) {
        repo_dir_options dopts = { .skip_unreadable = a.skip_unreadable, .parent = parent };
        cli_progress *shown = cli_progress_start(ctx, "backup", &progress, NULL, 0);
        rc = repo_backup_add_tree(b, a.path, &dopts);
        cli_progress_stop(shown);
        rc = finish_backup(ctx, r, b, rc);
    }
    repo_manifest_free(parent);
    free(source);
    repo_close(r);
    return rc;
}

static int cmd_backup_tar(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    int rc = parse_args("backup-tar", argc, argv, "repo file label threads", &a);
    int fd = STDIN_FILENO;
    if (rc == 0 && a.file && strcmp(a.file, "-") != 0) {
        fd = open(a.file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            rc = errno == ENOENT ? rd_fail(RD_ENOENT, "%s does not exist", a.file)
                                 : rd_fail_errno(RD_EIO, "cannot open %s", a.file);
    }
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_lock(r, false);
    repo_backup *b = NULL;
    repo_backup_options opts = { .label = a.label, .kind = "tar",
                                 .source = a.file ? a.file : "stdin" };
    if (rc == 0)
        rc = repo_backup_begin(r, &opts, &b);
    if (rc == 0)
        rc = finish_backup(ctx, r, b, repo_backup_add_tar(b, fd, NULL));
    if (fd != STDIN_FILENO && fd >= 0)
        close(fd);
    repo_close(r);
    return rc;
}

static int cmd_restore_dir(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_manifest *m = NULL;
    int rc = parse_args("restore-dir", argc, argv, "repo backup target force no-owner threads",
                        &a);
    if (rc == 0)
        rc = require("restore-dir", a.backup, "--backup ID");
    if (rc == 0)
        rc = require("restore-dir", a.target, "--target DIR");
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_manifest_load(r, a.backup, &m);
    repo_restore_stats st = { 0 };
    int64_t t0 = rd_mono_ns();
    if (rc == 0) {
        repo_progress progress = { 0 };
        repo_restore_options opts = { .force = a.force, .no_owner = a.no_owner,
                                      .progress = &progress };
        cli_progress *shown = cli_progress_start(ctx, "restore", &progress, NULL, 0);
        rc = repo_restore_dir(r, m, a.target, &opts, &st);
        cli_progress_stop(shown);
    }
    double secs = (double)(rd_mono_ns() - t0) / 1e9;
    if (m)
        cli_event(ctx, "repository", a.repo, rc == 0 ? "restore" : "failure",
                  "restore of backup %s into %s %s", repo_manifest_info(m)->id, a.target,
                  rc == 0 ? "completed" : rd_error());
    if (rc == 0) {
        const char *id = repo_manifest_info(m)->id;
        if (ctx->output == CLI_OUTPUT_JSON) {
            cli_print_json(json_pack("{s:{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f}}", "restore",
                                     "backup", id, "target", a.target,
                                     "files", (json_int_t)st.files, "dirs", (json_int_t)st.dirs,
                                     "symlinks", (json_int_t)st.symlinks,
                                     "bytes", (json_int_t)st.bytes, "duration_seconds", secs,
                                     "rate_mb_s", rate_mb_s(st.bytes, secs)));
        } else {
            char size[32];
            cli_format_bytes((double)st.bytes, size, sizeof size);
            printf("restored backup %s into %s\n  %llu files, %llu dirs, %llu symlinks, %s in "
                   "%.1f s (%.1f MB/s)\n", id, a.target, (unsigned long long)st.files,
                   (unsigned long long)st.dirs, (unsigned long long)st.symlinks, size, secs,
                   rate_mb_s(st.bytes, secs));
        }
    }
    repo_manifest_free(m);
    repo_close(r);
    return rc;
}

static int cmd_dump(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_manifest *m = NULL;
    int rc = parse_args("dump", argc, argv, "repo backup", &a);
    if (rc == 0)
        rc = require("dump", a.backup, "--backup ID");
    if (rc == 0 && isatty(STDOUT_FILENO))
        rc = rd_fail(RD_EUSAGE, "radiant repo dump writes a tar stream; redirect stdout to a "
                     "file or a pipe");
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_manifest_load(r, a.backup, &m);
    if (rc == 0)
        rc = repo_restore_tar(r, m, STDOUT_FILENO);
    repo_manifest_free(m);
    repo_close(r);
    return rc;
}

static int cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_backup_info *list = NULL;
    size_t n = 0;
    int rc = parse_args("list", argc, argv, "repo", &a);
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_backup_list(r, &list, &n);
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, backup_json(&list[i]));
        cli_print_json(json_pack("{s:o}", "backups", arr));
    } else if (rc == 0) {
        printf("%-33s %-10s %-20s %10s %12s  %s\n", "ID", "KIND", "STARTED", "FILES", "SIZE",
               "LABEL");
        for (size_t i = 0; i < n; i++) {
            char start[32], size[32];
            time_iso(list[i].start_us, start);
            cli_format_bytes((double)list[i].stats.logical_bytes, size, sizeof size);
            printf("%-33s %-10s %-20s %10llu %12s  %s\n", list[i].id, list[i].kind, start,
                   (unsigned long long)list[i].stats.files, size, list[i].label);
        }
    }
    repo_backup_list_free(list, n);
    repo_close(r);
    return rc;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0;
}

static int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_stats s;
    int rc = parse_args("stats", argc, argv, "repo", &a);
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_get_stats(r, &s);
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON) {
        cli_print_json(json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f}}", "stats",
                                 "backups", (json_int_t)s.backups,
                                 "logical_bytes", (json_int_t)s.logical_bytes,
                                 "unique_raw_bytes", (json_int_t)s.unique_raw_bytes,
                                 "stored_bytes", (json_int_t)s.stored_bytes,
                                 "chunks", (json_int_t)s.chunks, "packs", (json_int_t)s.packs,
                                 "dedup_ratio", ratio(s.logical_bytes, s.unique_raw_bytes),
                                 "compression_ratio", ratio(s.unique_raw_bytes, s.stored_bytes),
                                 "total_ratio", ratio(s.logical_bytes, s.stored_bytes)));
    } else if (rc == 0) {
        char logical[32], unique[32], stored[32];
        cli_format_bytes((double)s.logical_bytes, logical, sizeof logical);
        cli_format_bytes((double)s.unique_raw_bytes, unique, sizeof unique);
        cli_format_bytes((double)s.stored_bytes, stored, sizeof stored);
        printf("repository %s at %s\n  backups           %llu\n  logical size      %s\n"
               "  unique data       %s (dedup ratio %.2fx)\n  stored size       %s "
               "(compression ratio %.2fx)\n  overall ratio     %.2fx\n  chunks, packs     "
               "%llu, %llu\n", repo_name(r), repo_location(r), (unsigned long long)s.backups,
               logical, unique, ratio(s.logical_bytes, s.unique_raw_bytes), stored,
               ratio(s.unique_raw_bytes, s.stored_bytes), ratio(s.logical_bytes, s.stored_bytes),
               (unsigned long long)s.chunks, (unsigned long long)s.packs);
    }
    repo_close(r);
    return rc;
}

struct check_out {
    json_t *problems;
    bool text;
};

static void on_problem(void *arg, const char *piece, const char *message)
{
    struct check_out *o = arg;
    if (o->text)
        printf("DAMAGED %s: %s\n", piece, message);
    json_array_append_new(o->problems, json_pack("{s:s,s:s}", "piece", piece, "message",
                                                 message));
}

static int cmd_check(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    int rc = parse_args("check", argc, argv, "repo read-data", &a);
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc < 0)
        return rc;
    struct check_out o = { json_array(), ctx->output == CLI_OUTPUT_TEXT };
    repo_check_result res;
    repo_check_options opts = { .read_data = a.read_data };
    rc = repo_check(r, &opts, on_problem, &o, &res);
    if (rc == -RD_ECORRUPT)
        cli_event(ctx, "repository", a.repo, "failure", "check found %zu problem(s), %zu "
                  "damaged backup(s)", res.n_problems, res.n_damaged);
    if (rc == 0 || rc == -RD_ECORRUPT) {
        if (ctx->output == CLI_OUTPUT_JSON) {
            json_t *damaged = json_array();
            for (size_t i = 0; i < res.n_damaged; i++)
                json_array_append_new(damaged, json_string(res.damaged[i]));
            cli_print_json(json_pack("{s:{s:b,s:I,s:I,s:I,s:I,s:O,s:o}}", "check", "ok", rc == 0,
                                     "packs", (json_int_t)res.packs,
                                     "indexes", (json_int_t)res.indexes,
                                     "manifests", (json_int_t)res.manifests,
                                     "chunks_checked", (json_int_t)res.chunks_checked,
                                     "problems", o.problems, "damaged_backups", damaged));
        } else {
            for (size_t i = 0; i < res.n_damaged; i++)
                printf("DAMAGED backup %s cannot be restored whole\n", res.damaged[i]);
            printf("checked %llu packs, %llu index files, %llu backups%s: %s\n",
                   (unsigned long long)res.packs, (unsigned long long)res.indexes,
                   (unsigned long long)res.manifests,
                   a.read_data ? ", all data read" : "", rc == 0 ? "no problems" : "DAMAGED");
        }
    }
    json_decref(o.problems);
    repo_check_result_free(&res);
    repo_close(r);
    return rc;
}

static int cmd_forget(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_manifest *m = NULL;
    int rc = parse_args("forget", argc, argv, "repo backup", &a);
    if (rc == 0)
        rc = require("forget", a.backup, "--backup ID");
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_lock(r, false);
    if (rc == 0)
        rc = repo_manifest_load(r, a.backup, &m);
    char id[64] = "";
    if (rc == 0) {
        snprintf(id, sizeof id, "%s", repo_manifest_info(m)->id);
        rc = repo_forget(r, id);
    }
    if (rc == 0)
        cli_event(ctx, "repository", a.repo, "expiry", "backup %s forgotten", id);
    if (rc == 0) {
        if (ctx->output == CLI_OUTPUT_JSON)
            cli_print_json(json_pack("{s:s}", "forgotten", id));
        else
            printf("forgot backup %s; 'radiant repo prune' frees its data\n", id);
    }
    repo_manifest_free(m);
    repo_close(r);
    return rc;
}

static int cmd_prune(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_prune_stats s;
    int rc = parse_args("prune", argc, argv, "repo", &a);
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_lock(r, true);
    if (rc == 0)
        rc = repo_prune(r, &s);
    if (rc == 0)
        cli_event(ctx, "repository", a.repo, "prune", "prune deleted %llu pack(s), repacked "
                  "%llu, freed %llu bytes", (unsigned long long)s.packs_deleted,
                  (unsigned long long)s.packs_repacked, (unsigned long long)s.bytes_freed);
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON) {
        cli_print_json(json_pack("{s:{s:I,s:I,s:I,s:I,s:I}}", "prune",
                                 "packs_deleted", (json_int_t)s.packs_deleted,
                                 "packs_repacked", (json_int_t)s.packs_repacked,
                                 "packs_kept", (json_int_t)s.packs_kept,
                                 "bytes_freed", (json_int_t)s.bytes_freed,
                                 "chunks_removed", (json_int_t)s.chunks_removed));
    } else if (rc == 0) {
        char freed[32];
        cli_format_bytes((double)s.bytes_freed, freed, sizeof freed);
        printf("pruned repository %s: %llu pack(s) deleted, %llu repacked, %llu kept; %s freed\n",
               repo_name(r), (unsigned long long)s.packs_deleted,
               (unsigned long long)s.packs_repacked, (unsigned long long)s.packs_kept, freed);
    }
    repo_close(r);
    return rc;
}

static int cmd_repair(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    repo_repair_stats s;
    int rc = parse_args("repair", argc, argv, "repo", &a);
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0)
        rc = repo_lock(r, true);
    if (rc == 0)
        rc = repo_repair(r, &s);
    if (rc == 0)
        cli_event(ctx, "repository", a.repo, "repair", "repair re-indexed %llu pack(s), removed "
                  "%llu damaged index file(s)", (unsigned long long)s.packs_reindexed,
                  (unsigned long long)s.indexes_removed);
    if (rc == 0 && ctx->output == CLI_OUTPUT_JSON) {
        cli_print_json(json_pack("{s:{s:I,s:I,s:I}}", "repair",
                                 "indexes_removed", (json_int_t)s.indexes_removed,
                                 "packs_reindexed", (json_int_t)s.packs_reindexed,
                                 "packs_unreadable", (json_int_t)s.packs_unreadable));
    } else if (rc == 0) {
        printf("repaired repository %s: %llu pack(s) re-indexed from their headers, %llu "
               "damaged index file(s) removed, %llu pack(s) unreadable\n", repo_name(r),
               (unsigned long long)s.packs_reindexed, (unsigned long long)s.indexes_removed,
               (unsigned long long)s.packs_unreadable);
    }
    repo_close(r);
    return rc;
}

static int cmd_change_passphrase(cli_ctx *ctx, int argc, char **argv)
{
    struct repo_args a;
    repo *r = NULL;
    rd_buf pass = RD_BUF_INIT;
    int rc = parse_args("change-passphrase", argc, argv, "repo new-passphrase-file", &a);
    if (rc == 0)
        rc = require("change-passphrase", a.new_pass_file, "--new-passphrase-file FILE");
    if (rc == 0 && rd_fs_read_file(a.new_pass_file, 4096, &pass) < 0)
        rc = rd_fail(RD_EUSAGE, "cannot read --new-passphrase-file: %s", rd_error());
    while (rc == 0 && pass.len && (pass.data[pass.len - 1] == '\n' ||
                                   pass.data[pass.len - 1] == '\r'))
        pass.len--;
    if (rc == 0 && (pass.len == 0 || memchr(pass.data, '\0', pass.len)))
        rc = rd_fail(RD_EUSAGE, "new passphrase file %s is empty or not text", a.new_pass_file);
    if (rc == 0)
        rc = open_repo(ctx, &a, &r);
    if (rc == 0) {
        rd_buf_append_u8(&pass, 0);
        rc = repo_change_passphrase(r, (const char *)pass.data);
        memset(pass.data, 0, pass.len);
    }
    if (rc == 0) {
        if (ctx->output == CLI_OUTPUT_JSON)
            cli_print_json(repo_json(r));
        else
            printf("changed the passphrase of repository %s; update passphrase-file or "
                   "passphrase-env in [repo %s]\n", repo_name(r), repo_name(r));
    }
    rd_buf_free(&pass);
    repo_close(r);
    return rc;
}

static const cli_command repo_commands[] = {
    { "init", "create the repository named in the config",
      "--repo NAME", cmd_init },
    { "backup-dir", "back up a directory tree",
      "--repo NAME --path DIR [--label TEXT] [--skip-unreadable] [--read-all] [--threads N]\n\n"
      "  --skip-unreadable  warn about files that cannot be read instead of failing\n"
      "  --read-all         read every file, even those whose size, times and inode are\n"
      "                     unchanged since the previous backup of the same directory",
      cmd_backup_dir },
    { "backup-tar", "back up the files of a tar stream (stdin or --file)",
      "--repo NAME [--file FILE] [--label TEXT] [--threads N]", cmd_backup_tar },
    { "restore-dir", "restore a backup into a directory",
      "--repo NAME --backup ID|latest --target DIR [--force] [--no-owner] [--threads N]\n\n"
      "  --force     restore into a non-empty directory, replacing what is there\n"
      "  --no-owner  do not restore file owners (they are restored when run as root)",
      cmd_restore_dir },
    { "dump", "write a backup as a tar stream to stdout",
      "--repo NAME --backup ID|latest > backup.tar", cmd_dump },
    { "list", "list the backups in a repository", "--repo NAME", cmd_list },
    { "stats", "sizes, deduplication and compression of a repository", "--repo NAME",
      cmd_stats },
    { "check", "verify a repository; exit 6 when anything is damaged",
      "--repo NAME [--read-data]\n\n"
      "  --read-data  also read every pack and verify every chunk", cmd_check },
    { "forget", "remove a backup (its data is freed by prune)", "--repo NAME --backup ID",
      cmd_forget },
    { "prune", "remove data no backup references; repack mostly-dead packs", "--repo NAME",
      cmd_prune },
    { "repair", "rebuild damaged or lost index files from the packs' own headers",
      "--repo NAME", cmd_repair },
    { "change-passphrase", "re-wrap the repository key under a new passphrase",
      "--repo NAME --new-passphrase-file FILE", cmd_change_passphrase },
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_repo_group = {
    "repo", "backup repositories: init, backup-dir, restore-dir, list, check, prune",
    repo_commands,
};
