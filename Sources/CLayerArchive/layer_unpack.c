/* berth_unpack_layer: one decompression pass feeds both the diff_id hash and the tar reader. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <dirent.h>

#include <archive.h>
#include <archive_entry.h>

#include "CLayerArchive.h"
#include "layer_internal.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META_PREFIX ".wh..wh."

/* ---- the uncompressed stream ----------------------------------------------------------------- */

/* Archive `src` (filters + raw format) decompresses; its blocks are handed to the observer and
 * then to the tar reader through this read callback. */
struct bu_stream {
    struct archive *src;
    berth_layer_bytes_fn on_bytes;
    void *ctx;
    int eof;
    int failed;
    char err[512];
};

static la_ssize_t stream_read(struct archive *a, void *client, const void **buf) {
    struct bu_stream *s = client;
    *buf = NULL;
    if (s->eof || s->failed) return s->failed ? -1 : 0;
    for (;;) {
        const void *block;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(s->src, &block, &size, &offset);
        if (r == ARCHIVE_EOF) { s->eof = 1; return 0; }
        if (r < ARCHIVE_WARN) {
            const char *m = archive_error_string(s->src);
            snprintf(s->err, sizeof s->err, "%s", m ? m : "cannot decompress the layer");
            s->failed = 1;
            archive_set_error(a, EIO, "%s", s->err);
            return -1;
        }
        if (size == 0) continue;
        if (s->on_bytes != NULL) s->on_bytes(s->ctx, block, size);
        *buf = block;   /* stays valid until the next call, as libarchive requires */
        return (la_ssize_t)size;
    }
}

/* ---- entries --------------------------------------------------------------------------------- */

static int write_file_data(bu_unpacker *u, struct archive *tar, struct archive_entry *e, int fd) {
    la_int64_t end = 0;
    for (;;) {
        const void *block;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(tar, &block, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            const char *m = archive_error_string(tar);
            return bu_entry_fail(u, "%s", m ? m : "cannot read data");
        }
        if (offset < 0 || size > (size_t)INT64_MAX || offset > INT64_MAX - (la_int64_t)size)
            return bu_entry_fail(u, "invalid data offset");
        if (offset + (la_int64_t)size > end) end = offset + (la_int64_t)size;
        const char *p = block;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, (off_t)offset);
            if (n < 0) {
                if (errno == EINTR) continue;
                return bu_entry_errno(u, errno, "write");
            }
            p += n;
            offset += n;
            size -= (size_t)n;
        }
    }
    /* Sparse files may end in a hole. */
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
        ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
        return bu_entry_errno(u, errno, "truncate");
    return 0;
}

/* `dir/.wh.NAME` or `dir/.wh..wh..opq` (leaf starts with ".wh."). */
static int unpack_whiteout(bu_unpacker *u, const char *path, const char *leaf) {
    size_t dirlen = leaf == path ? 0 : (size_t)(leaf - path - 1);
    if (strcmp(leaf, WH_OPAQUE) == 0) {
        int fd = bu_open_dir(u, path, dirlen, BU_CREATE);
        if (fd < 0) return -1;
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bu_release_dir(u, fd);
        if (dfd < 0) return bu_entry_errno(u, errno, "open directory");
        int r = fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0);
        int e = errno;
        close(dfd);
        if (r < 0) return bu_entry_errno(u, e, "setxattr trusted.overlay.opaque");
        return 0;
    }
    if (strncmp(leaf, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0)
        return 0;   /* other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): ignored, as Docker does */
    const char *name = leaf + strlen(WH_PREFIX);
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return bu_refuse(u, "invalid whiteout name");

    const char *ignored;
    int pfd = bu_open_parent(u, path, BU_CREATE, &ignored);
    if (pfd < 0) return -1;
    int r = 0;
    /* EEXIST: a real entry of this same layer (or a duplicate whiteout), which wins. */
    if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0 && errno != EEXIST)
        r = bu_entry_errno(u, errno, "create whiteout device");
    bu_release_dir(u, pfd);
    return r;
}

static int unpack_hardlink(bu_unpacker *u, const char *path, const char *raw_target) {
    char *target = NULL;
    int r = bu_normalize(raw_target, &target);
    if (r == 1 || r == 2) return bu_refuse(u, "hard link target escapes the layer");
    if (r == 3) return bu_refuse(u, "hard link target is too long");
    if (r < 0) return bu_fail(u, "out of memory");
    if (target[0] == '\0') { free(target); return bu_refuse(u, "hard link to the layer root"); }
    if (strcmp(target, path) == 0) { free(target); return 0; }   /* link to itself: no-op */

    const char *tleaf, *leaf;
    int tpfd = -1, pfd = -1;
    struct stat st;
    r = -1;
    u->role = "hard link target: ";
    tpfd = bu_open_parent(u, target, BU_NOCACHE, &tleaf);
    u->role = NULL;
    if (tpfd < 0) goto out;
    if (fstatat(tpfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        bu_entry_errno(u, errno, "hard link target not found in the layer");
        goto out;
    }
    if (S_ISDIR(st.st_mode)) { bu_refuse(u, "hard link to a directory"); goto out; }
    pfd = bu_open_parent(u, path, BU_CREATE, &leaf);
    if (pfd < 0) goto out;
    /* flags 0: a symlink target is linked itself, never followed. */
    int l = linkat(tpfd, tleaf, pfd, leaf, 0);
    if (l < 0 && errno == EEXIST) {   /* an earlier entry of the same name: replace it */
        if (bu_clear_slot(u, pfd, leaf, 0) < 0) goto out;
        l = linkat(tpfd, tleaf, pfd, leaf, 0);
    }
    if (l < 0) {
        bu_entry_errno(u, errno, "link");
        goto out;
    }
    r = 0;
out:
    bu_release_dir(u, tpfd);
    bu_release_dir(u, pfd);
    free(target);
    return r;
}

static int unpack_dir(bu_unpacker *u, struct archive_entry *e, const char *path) {
    const char *leaf;
    int pfd = bu_open_parent(u, path, BU_CREATE, &leaf);
    if (pfd < 0) return -1;
    int r = 0;
    if (mkdirat(pfd, leaf, 0700) < 0) {
        /* Taken: an earlier directory is kept (metadata updated), anything else replaced. */
        r = errno == EEXIST ? bu_clear_slot(u, pfd, leaf, 1) : bu_entry_errno(u, errno, "mkdir");
        if (r == 0 && mkdirat(pfd, leaf, 0700) < 0) r = bu_entry_errno(u, errno, "mkdir");
    }
    if (r >= 0) {
        int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            r = bu_entry_errno(u, errno, "open directory");
        } else {
            r = bu_apply_metadata(u, e, fd, -1, NULL, 0, 0);
            close(fd);
        }
    }
    bu_release_dir(u, pfd);
    if (r < 0) return -1;
    return bu_defer_dir_times(u, path, e);
}

static int unpack_root(bu_unpacker *u, struct archive_entry *e) {
    if (archive_entry_hardlink(e) != NULL || archive_entry_filetype(e) != AE_IFDIR)
        return bu_refuse(u, "the layer root must be a directory");
    int fd = openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return bu_entry_errno(u, errno, "open destination");
    int r = bu_apply_metadata(u, e, fd, -1, NULL, 0, 0);
    close(fd);
    if (r < 0) return -1;
    return bu_defer_dir_times(u, "", e);
}

/* Creates `leaf` in `pfd` with make(); when an earlier entry has the name, replaces it once. */
static int create_node(bu_unpacker *u, struct archive_entry *e, int pfd, const char *leaf,
                       unsigned type) {
    for (int attempt = 0;; attempt++) {
        int r;
        const char *what;
        if (type == AE_IFLNK) {
            const char *target = archive_entry_symlink(e);
            if (target == NULL) return bu_entry_fail(u, "symlink without a target");
            /* The target is stored verbatim: harmless as long as it is never followed. */
            r = symlinkat(target, pfd, leaf);
            what = "symlink";
        } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
            mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
            dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e),
                                                       archive_entry_rdevminor(e));
            r = mknodat(pfd, leaf, kind | 0600, dev);
            what = "mknod";
        } else {
            r = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            what = "create";
        }
        if (r >= 0) return r;
        if (errno != EEXIST || attempt > 0) return bu_entry_errno(u, errno, "%s", what);
        if (bu_clear_slot(u, pfd, leaf, 0) < 0) return -1;
    }
}

static int unpack_other(bu_unpacker *u, struct archive *tar, struct archive_entry *e,
                        const char *path, unsigned type) {
    const char *leaf;
    int pfd = bu_open_parent(u, path, BU_CREATE, &leaf);
    if (pfd < 0) return -1;
    int r = create_node(u, e, pfd, leaf, type);
    if (r < 0) {
        /* error set */
    } else if (type == AE_IFLNK) {
        r = bu_apply_metadata(u, e, -1, pfd, leaf, 1, 1);
    } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
        r = bu_apply_metadata(u, e, -1, pfd, leaf, 0, 1);
    } else {   /* regular file, including contiguous/sparse and unknown types */
        int fd = r;
        r = write_file_data(u, tar, e, fd);
        if (r == 0) r = bu_apply_metadata(u, e, fd, -1, NULL, 0, 1);
        if (close(fd) < 0 && r == 0) r = bu_entry_errno(u, errno, "close");
    }
    bu_release_dir(u, pfd);
    return r < 0 ? -1 : 0;
}

/* Whether a directory component of `path` (before `leaf`) starts with ".wh.". */
static int has_whiteout_parent(const char *path, const char *leaf) {
    for (const char *p = path; p < leaf; ) {
        if (strncmp(p, WH_PREFIX, strlen(WH_PREFIX)) == 0) return 1;
        const char *slash = strchr(p, '/');
        if (slash == NULL || slash >= leaf) break;
        p = slash + 1;
    }
    return 0;
}

static int unpack_entry(bu_unpacker *u, struct archive *tar, struct archive_entry *e) {
    char *path = NULL;
    int r = bu_normalize(u->entry_name, &path);
    if (r == 1 || r == 2) return bu_refuse(u, "path escapes the layer");
    if (r == 3) return bu_refuse(u, "path is too long");
    if (r < 0) return bu_fail(u, "out of memory");

    if (path[0] == '\0') {
        r = unpack_root(u, e);
    } else {
        const char *slash = strrchr(path, '/');
        const char *leaf = slash ? slash + 1 : path;
        const char *link = archive_entry_hardlink(e);
        unsigned type = archive_entry_filetype(e);
        if (has_whiteout_parent(path, leaf))
            r = bu_refuse(u, "a parent directory has a reserved whiteout name (.wh.*)");
        else if (strncmp(leaf, WH_PREFIX, strlen(WH_PREFIX)) == 0)
            r = unpack_whiteout(u, path, leaf);
        else if (link != NULL)
            r = unpack_hardlink(u, path, link);
        else if (type == AE_IFDIR)
            r = unpack_dir(u, e, path);
        else if (type == AE_IFSOCK)
            r = 0;   /* sockets cannot be restored from a tar; skipped */
        else
            r = unpack_other(u, tar, e, path, type);
    }
    free(path);
    return r;
}

/* ---- driver ---------------------------------------------------------------------------------- */

static int check_empty(bu_unpacker *u, const char *dest_dir) {
    int fd = openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        if (fd >= 0) close(fd);
        return bu_fail(u, "cannot list %s: %s", dest_dir, strerror(e));
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            r = bu_fail(u, "destination %s is not empty", dest_dir);
            break;
        }
    }
    closedir(d);
    return r;
}

static int unpack(bu_unpacker *u, const char *archive_path, berth_layer_bytes_fn on_tar_bytes,
                  void *ctx) {
    struct bu_stream s;
    memset(&s, 0, sizeof s);
    s.on_bytes = on_tar_bytes;
    s.ctx = ctx;
    struct archive *tar = NULL;
    int r = -1;

    s.src = archive_read_new();
    if (s.src == NULL) return bu_fail(u, "out of memory");
    /* OCI layers are plain, gzip or zstd; bzip2 and xz are cheap extras. No filter_all: it
     * would also accept formats decoded by running external programs. */
    archive_read_support_filter_gzip(s.src);
    archive_read_support_filter_zstd(s.src);
    archive_read_support_filter_bzip2(s.src);
    archive_read_support_filter_xz(s.src);
    archive_read_support_format_raw(s.src);
    struct archive_entry *raw_entry;
    if (archive_read_open_filename(s.src, archive_path, 128 * 1024) != ARCHIVE_OK ||
        archive_read_next_header(s.src, &raw_entry) < ARCHIVE_WARN) {
        const char *m = archive_error_string(s.src);
        bu_fail(u, "cannot read %s: %s", archive_path, m ? m : "unknown error");
        goto out;
    }

    tar = archive_read_new();
    if (tar == NULL) { bu_fail(u, "out of memory"); goto out; }
    archive_read_support_format_tar(tar);   /* ustar, pax, GNU; no filters: the stream is raw */
    if (archive_read_open(tar, &s, NULL, stream_read, NULL) != ARCHIVE_OK) {
        const char *m = s.failed ? s.err : archive_error_string(tar);
        bu_fail(u, "cannot read %s: %s", archive_path, m ? m : "unknown error");
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int h = archive_read_next_header(tar, &e);
        if (h == ARCHIVE_EOF) break;
        if (h < ARCHIVE_WARN) {
            const char *m = s.failed ? s.err : archive_error_string(tar);
            bu_fail(u, "invalid layer %s: %s", archive_path, m ? m : "unknown error");
            goto out;
        }
        u->entry_name = archive_entry_pathname(e);
        if (u->entry_name == NULL) u->entry_name = archive_entry_pathname_utf8(e);
        if (u->entry_name == NULL) { bu_fail(u, "entry without a usable name"); goto out; }
        if (unpack_entry(u, tar, e) < 0) goto out;
        u->entry_name = NULL;
    }
    /* Hash the trailer and anything after it, up to the end of the decompressed stream. */
    const void *ignored;
    la_ssize_t n;
    while ((n = stream_read(tar, &s, &ignored)) > 0) {}
    if (n < 0) { bu_fail(u, "cannot read %s: %s", archive_path, s.err); goto out; }
    r = bu_finish_dir_times(u);
out:
    if (tar != NULL) archive_read_free(tar);
    archive_read_free(s.src);
    return r;
}

int berth_unpack_layer(const char *archive_path, const char *dest_dir,
                       berth_layer_bytes_fn on_tar_bytes, void *ctx,
                       char *error, size_t error_len) {
    bu_unpacker u;
    memset(&u, 0, sizeof u);
    u.error = error;
    u.error_len = error_len;
    u.is_root = geteuid() == 0;
    u.cache_fd = -1;
    if (error != NULL && error_len > 0) error[0] = '\0';
    if (archive_path == NULL || dest_dir == NULL) return bu_fail(&u, "missing path");

    u.root_fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (u.root_fd < 0) return bu_fail(&u, "cannot open %s: %s", dest_dir, strerror(errno));
    if (check_empty(&u, dest_dir) < 0) { close(u.root_fd); return -1; }

    /* libarchive converts UTF-8 pax names to the thread's locale: make that UTF-8 so that
     * non-ASCII names keep their bytes (thread-local, so other threads are unaffected). */
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t previous = utf8 != (locale_t)0 ? uselocale(utf8) : (locale_t)0;

    int r = unpack(&u, archive_path, on_tar_bytes, ctx);

    if (utf8 != (locale_t)0) {
        uselocale(previous);
        freelocale(utf8);
    }
    for (size_t i = 0; i < u.ndirs; i++) free(u.dirs[i].path);
    free(u.dirs);
    bu_forget_dir(&u);
    close(u.root_fd);
    if (r == 0 && error != NULL && error_len > 0) error[0] = '\0';
    return r;
}
