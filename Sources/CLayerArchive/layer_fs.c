/* File-system side of the layer unpacker: path normalization, symlink-free resolution beneath
 * the destination, replacement of earlier entries, metadata. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer_internal.h"

/* Deepest directory tree removed when a later entry replaces a directory (fds stay open). */
#define BU_MAX_REMOVE_DEPTH 256

/* ---- errors ---------------------------------------------------------------------------------- */

void bu_quote(char *out, size_t outlen, const char *s, size_t slen) {
    size_t o = 0;
    for (size_t i = 0; i < slen; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        size_t n;
        if (c == '"' || c == '\\') { tmp[0] = '\\'; tmp[1] = (char)c; n = 2; }
        else if (c == '\n') { memcpy(tmp, "\\n", 2); n = 2; }
        else if (c < 0x20 || c == 0x7f) { n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c); }
        else { tmp[0] = (char)c; n = 1; }
        if (o + n + 4 > outlen) { /* room for "..." and NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
}

static int vfail(bu_unpacker *u, const char *prefix, int err, const char *fmt, va_list ap) {
    if (u->error == NULL || u->error_len == 0) return -1;
    size_t off = 0;
    if (prefix != NULL) {
        char q[256];
        const char *name = u->entry_name ? u->entry_name : "";
        bu_quote(q, sizeof q, name, strlen(name));
        int n = snprintf(u->error, u->error_len, "%s \"%s\": ", prefix, q);
        off = n < 0 ? 0 : (size_t)n;
        if (off >= u->error_len) return -1;
    }
    int n = vsnprintf(u->error + off, u->error_len - off, fmt, ap);
    if (n >= 0) off += (size_t)n;
    if (err != 0 && off < u->error_len)
        snprintf(u->error + off, u->error_len - off, ": %s", strerror(err));
    return -1;
}

int bu_fail(bu_unpacker *u, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vfail(u, NULL, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int bu_refuse(bu_unpacker *u, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vfail(u, "refused entry", 0, fmt, ap);
    va_end(ap);
    return -1;
}

int bu_entry_fail(bu_unpacker *u, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vfail(u, "entry", 0, fmt, ap);
    va_end(ap);
    return -1;
}

int bu_entry_errno(bu_unpacker *u, int err, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vfail(u, "entry", err, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- paths ----------------------------------------------------------------------------------- */

int bu_normalize(const char *raw, char **out) {
    *out = NULL;
    if (raw[0] == '/') return 1;
    size_t n = strlen(raw);
    char *o = malloc(n + 1);
    if (o == NULL) return -1;
    size_t len = 0;
    const char *p = raw;
    while (*p != '\0') {
        const char *q = strchrnul(p, '/');
        size_t cl = (size_t)(q - p);
        if (cl == 2 && p[0] == '.' && p[1] == '.') { free(o); return 2; }
        if (!(cl == 0 || (cl == 1 && p[0] == '.'))) {
            if (len > 0) o[len++] = '/';
            memcpy(o + len, p, cl);
            len += cl;
        }
        p = *q != '\0' ? q + 1 : q;
    }
    o[len] = '\0';
    if (len >= PATH_MAX) { free(o); return 3; }
    *out = o;
    return 0;
}

/* Opens `name` in `dirfd` as a directory we may create entries in and chmod, never following. */
static int open_dir_rw(int dirfd, const char *name) {
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* mkdir 0755 regardless of the umask; returns the new directory's fd or -1 (errno). */
static int make_implicit_dir(int dirfd, const char *name) {
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST) return -1;
    int fd = open_dir_rw(dirfd, name);
    if (fd < 0) return -1;
    if (fchmod(fd, 0755) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

void bu_forget_dir(bu_unpacker *u) {
    if (u->cache_fd >= 0) close(u->cache_fd);
    u->cache_fd = -1;
    free(u->cache_path);
    u->cache_path = NULL;
    u->cache_len = 0;
}

void bu_release_dir(bu_unpacker *u, int fd) {
    if (fd >= 0 && fd != u->cache_fd && fd != u->root_fd) close(fd);
}

static int resolve_dir(bu_unpacker *u, char *buf, int flags);

int bu_open_dir(bu_unpacker *u, const char *path, size_t len, int flags) {
    if (len == 0) return u->root_fd;
    int cache = !(flags & BU_NOCACHE);
    if (cache && u->cache_fd >= 0 && u->cache_len == len && memcmp(u->cache_path, path, len) == 0)
        return u->cache_fd;
    char *buf = strndup(path, len);
    if (buf == NULL) return bu_fail(u, "out of memory");
    int fd = resolve_dir(u, buf, flags);
    if (fd < 0 || !cache) { free(buf); return fd; }
    bu_forget_dir(u);
    u->cache_fd = fd;
    u->cache_path = buf;
    u->cache_len = len;
    return fd;
}

/* Resolves the relative path in `buf` (which it may modify). */
static int resolve_dir(bu_unpacker *u, char *buf, int flags) {
    /* Fast path: one openat2 confined beneath the destination, refusing every symlink. */
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    long r = syscall(SYS_openat2, u->root_fd, buf, &how, sizeof how);
    if (r >= 0) return (int)r;

    /* Slow path, one component at a time: creates what is missing, explains what is wrong. */
    int cur = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0) return bu_entry_errno(u, errno, "dup");
    char *p = buf;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash != NULL) *slash = '\0';
        /* buf now holds the path up to and including the current component p. */
        int next = openat(cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            int e = errno;
            struct stat st;
            char q[256];
            if (e == ENOENT && (flags & BU_CREATE)) {
                next = make_implicit_dir(cur, p);
                if (next < 0) e = errno;
            } else if (e == ENOTDIR || e == ELOOP) {
                if (fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                    e = errno;
                } else if (S_ISLNK(st.st_mode)) {
                    bu_quote(q, sizeof q, buf, strlen(buf));
                    close(cur);
                    return bu_refuse(u, "%sparent \"%s\" is a symlink, which is never followed",
                                     u->role ? u->role : "", q);
                } else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) &&
                           (flags & BU_CREATE)) {
                    /* A whiteout of this layer yields to a real directory of the same layer. */
                    if (unlinkat(cur, p, 0) == 0) next = make_implicit_dir(cur, p);
                    if (next < 0) e = errno;
                } else if (!S_ISDIR(st.st_mode)) {
                    bu_quote(q, sizeof q, buf, strlen(buf));
                    close(cur);
                    return bu_refuse(u, "%sparent \"%s\" is not a directory",
                                     u->role ? u->role : "", q);
                }
            }
            if (next < 0) {
                bu_quote(q, sizeof q, buf, strlen(buf));
                close(cur);
                return bu_entry_errno(u, e, "%scannot open directory \"%s\"",
                                      u->role ? u->role : "", q);
            }
        }
        close(cur);
        cur = next;
        if (slash == NULL) break;
        *slash = '/';
        p = slash + 1;
    }
    return cur;
}

int bu_open_parent(bu_unpacker *u, const char *path, int flags, const char **leaf) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        *leaf = path;
        return bu_open_dir(u, path, 0, flags);
    }
    *leaf = slash + 1;
    return bu_open_dir(u, path, (size_t)(slash - path), flags);
}

/* Removes `name` in `dirfd`, recursively when it is a directory; never follows symlinks. */
static int remove_tree(int pfd, const char *name, int depth) {
    if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT) return 0;
    if (errno != EISDIR) return -1;
    if (unlinkat(pfd, name, AT_REMOVEDIR) == 0) return 0;
    if (errno != ENOTEMPTY && errno != EEXIST) return -1;
    if (depth >= BU_MAX_REMOVE_DEPTH) { errno = ELOOP; return -1; }
    int fd = open_dir_rw(pfd, name);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (d == NULL) { int e = errno; close(fd); errno = e; return -1; }
    int removed;
    do {   /* rescan until empty, as removing while reading may skip names */
        removed = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            if (remove_tree(dirfd(d), de->d_name, depth + 1) < 0) {
                int e = errno; closedir(d); errno = e; return -1;
            }
            removed++;
        }
        rewinddir(d);
    } while (removed > 0);
    closedir(d);
    return unlinkat(pfd, name, AT_REMOVEDIR);
}

int bu_clear_slot(bu_unpacker *u, int pfd, const char *leaf, int keep_dir) {
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return 0;
        return bu_entry_errno(u, errno, "stat");
    }
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir) return 1;
        /* The cached directory may be inside the tree, unless it is `pfd` itself. */
        if (pfd != u->cache_fd) bu_forget_dir(u);
        if (remove_tree(pfd, leaf, 0) < 0)
            return bu_entry_errno(u, errno, "cannot replace the earlier directory");
        return 0;
    }
    if (unlinkat(pfd, leaf, 0) < 0)
        return bu_entry_errno(u, errno, "cannot replace the earlier entry");
    return 0;
}

/* ---- metadata -------------------------------------------------------------------------------- */

static long clamp_nsec(long ns) { return ns < 0 ? 0 : ns > 999999999L ? 999999999L : ns; }

void bu_entry_times(struct archive_entry *e, struct timespec ts[2]) {
    ts[0].tv_sec = 0; ts[0].tv_nsec = UTIME_OMIT;
    ts[1] = ts[0];
    if (archive_entry_mtime_is_set(e)) {
        ts[1].tv_sec = (time_t)archive_entry_mtime(e);
        ts[1].tv_nsec = clamp_nsec(archive_entry_mtime_nsec(e));
        ts[0] = ts[1];   /* ustar has no atime: use the mtime, as Docker does */
    }
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = (time_t)archive_entry_atime(e);
        ts[0].tv_nsec = clamp_nsec(archive_entry_atime_nsec(e));
    }
}

static int is_overlay_xattr(const char *name) {
    return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0;
}

int bu_apply_metadata(bu_unpacker *u, struct archive_entry *e, int fd, int pfd, const char *leaf,
                      int is_symlink, int with_times) {
    la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    /* 4294967295 means "unchanged" to chown (the entry stays root's), as with Docker/containerd. */
    if (uid < 0 || uid > (la_int64_t)UINT32_MAX || gid < 0 || gid > (la_int64_t)UINT32_MAX)
        return bu_refuse(u, "invalid uid/gid %lld:%lld", (long long)uid, (long long)gid);

    /* Owner first: chown clears setuid/setgid bits and security.capability. */
    int r = fd >= 0 ? fchown(fd, (uid_t)uid, (gid_t)gid)
                    : fchownat(pfd, leaf, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
    if (r < 0 && (u->is_root || (errno != EPERM && errno != EINVAL)))
        return bu_entry_errno(u, errno, "chown %lld:%lld", (long long)uid, (long long)gid);

    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (name == NULL || name[0] == '\0' || is_overlay_xattr(name)) continue;
        if (value == NULL) value = "";
        if (fd >= 0) {
            r = fsetxattr(fd, name, value, size, 0);
        } else {
            char proc[64 + NAME_MAX];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d/%s", pfd, leaf);
            r = lsetxattr(proc, name, value, size, 0);
        }
        if (r < 0 && errno != EOPNOTSUPP) {
            char q[128];
            bu_quote(q, sizeof q, name, strlen(name));
            return bu_entry_errno(u, errno, "setxattr \"%s\"", q);
        }
    }

    if (!is_symlink) {
        mode_t mode = (mode_t)(archive_entry_mode(e) & 07777);
        r = fd >= 0 ? fchmod(fd, mode) : fchmodat(pfd, leaf, mode, 0);
        if (r < 0) return bu_entry_errno(u, errno, "chmod %04o", (unsigned)mode);
    }

    if (with_times) {
        struct timespec ts[2];
        bu_entry_times(e, ts);
        r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
        if (r < 0) return bu_entry_errno(u, errno, "set times");
    }
    return 0;
}

int bu_defer_dir_times(bu_unpacker *u, const char *path, struct archive_entry *e) {
    if (u->ndirs == u->dirs_cap) {
        size_t cap = u->dirs_cap ? u->dirs_cap * 2 : 64;
        struct bu_dir_times *d = realloc(u->dirs, cap * sizeof *d);
        if (d == NULL) return bu_fail(u, "out of memory");
        u->dirs = d;
        u->dirs_cap = cap;
    }
    char *p = strdup(path);
    if (p == NULL) return bu_fail(u, "out of memory");
    u->dirs[u->ndirs].path = p;
    bu_entry_times(e, u->dirs[u->ndirs].ts);
    u->ndirs++;
    return 0;
}

int bu_finish_dir_times(bu_unpacker *u) {
    for (size_t i = 0; i < u->ndirs; i++) {
        struct bu_dir_times *d = &u->dirs[i];
        u->entry_name = d->path;
        int fd = bu_open_dir(u, d->path, strlen(d->path), BU_NOCACHE);
        if (fd < 0) continue;   /* replaced by a later entry of the layer */
        int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bu_release_dir(u, fd);
        if (rfd < 0) return bu_entry_errno(u, errno, "open directory");
        int r = futimens(rfd, d->ts);
        int e = errno;
        close(rfd);
        if (r < 0) return bu_entry_errno(u, e, "set directory times");
    }
    u->entry_name = NULL;
    return 0;
}
