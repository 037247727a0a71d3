/* Internal declarations shared by layer_unpack.c and layer_fs.c (not part of the public API). */
#ifndef BERTH_LAYER_INTERNAL_H
#define BERTH_LAYER_INTERNAL_H
#include <stddef.h>
#include <time.h>
#include <archive.h>
#include <archive_entry.h>

/* A directory whose times are applied once every entry has been written. */
struct bu_dir_times {
    char *path;                 /* normalized, "" for the destination itself */
    struct timespec ts[2];      /* atime, mtime (UTIME_OMIT when unknown) */
};

typedef struct bu_unpacker {
    int root_fd;                /* the destination directory */
    int is_root;                /* geteuid() == 0: ownership errors are fatal */
    char *error;                /* caller's buffer (may be NULL) */
    size_t error_len;
    const char *entry_name;     /* raw name of the entry being unpacked, for messages */
    const char *role;           /* "" or "hard link target: " while resolving a link target */
    struct bu_dir_times *dirs;
    size_t ndirs, dirs_cap;
    int cache_fd;               /* the directory last opened by bu_open_dir, or -1 */
    char *cache_path;           /* its normalized path */
    size_t cache_len;
} bu_unpacker;

/* Walk flags. */
#define BU_CREATE 1     /* create missing directories (0755), replace 0:0 whiteout devices */
#define BU_NOCACHE 2    /* return a new descriptor; the cached one stays as it is */

/* Errors: all return -1. bu_fail writes the message as is; bu_refuse prefixes
 * `refused entry "NAME": `, bu_entry_fail prefixes `entry "NAME": ` and bu_entry_errno also
 * appends `: strerror(err)`. */
int bu_fail(bu_unpacker *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bu_refuse(bu_unpacker *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bu_entry_fail(bu_unpacker *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bu_entry_errno(bu_unpacker *u, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes `s` into out (size outlen >= 8) with control characters, '"' and '\' escaped and
 * truncated with "..." when long. */
void bu_quote(char *out, size_t outlen, const char *s, size_t slen);

/* Normalizes an archive path: drops "." and empty components (so "./a//b/" -> "a/b", "./" -> "").
 * Returns 0 and a malloc'ed string, or 1 absolute, 2 ".." component, 3 too long, -1 no memory. */
int bu_normalize(const char *raw, char **out);

/* Opens the directory `path` (first `len` bytes of a normalized path; len 0 = destination)
 * beneath the destination without following any symlink. Returns an fd usable as a dirfd (maybe
 * O_PATH), or -1 with the error set. Unless BU_NOCACHE, the fd is the unpacker's cached one: it
 * stays valid until the next bu_open_dir or bu_forget_dir; consecutive entries of one directory
 * resolve it once. Give every returned fd back with bu_release_dir. */
int bu_open_dir(bu_unpacker *u, const char *path, size_t len, int flags);
void bu_release_dir(bu_unpacker *u, int fd);
/* Drops the cached directory: called whenever a directory is removed. */
void bu_forget_dir(bu_unpacker *u);
/* Opens the parent directory of normalized non-empty `path`; *leaf points at its last component. */
int bu_open_parent(bu_unpacker *u, const char *path, int flags, const char **leaf);
/* Makes room for a new entry `leaf` in `pfd`: returns 0 when nothing is (any longer) there,
 * 1 when it is a directory and keep_dir is set (left alone), -1 on error. */
int bu_clear_slot(bu_unpacker *u, int pfd, const char *leaf, int keep_dir);

/* Metadata. `fd` is an open (non-O_PATH) descriptor of the object, or -1 to address it as
 * `leaf` in `pfd` without following it. Order: owner, xattrs, mode (unless symlink), times
 * (unless with_times is 0). */
int bu_apply_metadata(bu_unpacker *u, struct archive_entry *e, int fd, int pfd, const char *leaf,
                      int is_symlink, int with_times);
void bu_entry_times(struct archive_entry *e, struct timespec ts[2]);
int bu_defer_dir_times(bu_unpacker *u, const char *path, struct archive_entry *e);
/* Applies the deferred directory times; directories that vanished are skipped. */
int bu_finish_dir_times(bu_unpacker *u);

#endif
