/* File helpers with the durability rules of DESIGN.md section 3: whole-file
 * writes go to a temporary file that is fsynced, renamed over the target, and
 * the directory fsynced, so a crash leaves either the old or the new file. */
#ifndef RD_CORE_FS_H
#define RD_CORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

int rd_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Creates path exclusively (O_EXCL), writes, fsyncs file and directory.
 * Returns -RD_EEXIST when it exists. */
int rd_fs_write_exclusive(const char *path, const void *data, size_t len, mode_t mode);
int rd_fs_fsync_dir(const char *dir);
/* fsyncs the directory that contains path. */
int rd_fs_fsync_parent(const char *path);
int rd_fs_mkdir_p(const char *path, mode_t mode);
/* Reads a whole file, refusing files over max bytes. -RD_ENOENT when missing. */
int rd_fs_read_file(const char *path, size_t max, rd_buf *out);
/* A secret (key, passphrase) kept in a file: its text without the trailing
 * newline editors and echo leave, NUL-terminated in *out (caller wipes and
 * frees). -RD_ECONFIG when the file is empty or holds a NUL byte. */
int rd_fs_read_secret(const char *path, size_t max, char **out);
int rd_fs_read_full(int fd, void *buf, size_t len);   /* short read -> -RD_EIO */
int rd_fs_write_full(int fd, const void *buf, size_t len);
int rd_fs_pread_full(int fd, void *buf, size_t len, uint64_t off);
int rd_fs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* Removes a file or a whole tree; a missing path is not an error. */
int rd_fs_remove_tree(const char *path);
/* lchown of path and everything below it (symlinks themselves, never
 * followed). */
int rd_fs_chown_tree(const char *path, uid_t uid, gid_t gid);
/* True when path is a directory with at least one entry; -1 on error (errno). */
int rd_fs_dir_nonempty(const char *path);
char *rd_path_join(const char *a, const char *b);

#endif
