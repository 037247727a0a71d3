/*
 * The container's filesystem view, built in the container process (PID 1 of the new pid
 * namespace, so that /proc is that namespace's): private propagation, the root (overlay
 * or bind), /proc, /dev, /sys, user bind mounts, runc's masked and read-only paths,
 * pivot_root, the working directory and the read-only root.
 *
 * Every destination inside the root is resolved with openat2(RESOLVE_IN_ROOT), so a
 * symlink or ".." in an image cannot point a mount at the host; the mount then targets
 * /proc/self/fd/N, the way runc mounts onto already-resolved fds.
 */
#define _GNU_SOURCE
#include "container_init_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Newer syscalls are called raw: glibc 2.36 lacks some wrappers, and its <sys/mount.h>
 * clashes with <linux/mount.h>. These numbers are shared by all architectures except
 * alpha since the syscall tables were unified (Linux 5.1). Constants are from
 * <linux/openat2.h>, <linux/mount.h> and <linux/fcntl.h>, prefixed to avoid clashes. */
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

struct ci_open_how { uint64_t flags, mode, resolve; };
#define CI_RESOLVE_NO_MAGICLINKS 0x02
#define CI_RESOLVE_IN_ROOT 0x10
struct ci_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#define CI_MOUNT_ATTR_RDONLY 0x1
#define CI_AT_RECURSIVE 0x8000
#define CI_FSOPEN_CLOEXEC 0x1
#define CI_FSCONFIG_SET_STRING 1
#define CI_FSCONFIG_SET_FD 5
#define CI_FSCONFIG_CMD_CREATE 6
#define CI_FSMOUNT_CLOEXEC 0x1
#define CI_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define CI_FSCONFIG_STRING_MAX 255 /* fsconfig copies at most 256 bytes with the NUL */

enum ci_kind { CI_EXISTING, CI_DIR, CI_FILE };

struct ci_fdpath { char s[32]; }; /* "/proc/self/fd/" + an int: always fits */

static struct ci_fdpath fdpath(int fd) {
    struct ci_fdpath p;
    snprintf(p.s, sizeof p.s, "/proc/self/fd/%d", fd);
    return p;
}

/* ---------------------------------------------------------------- safe resolution */

/* Kernels before 5.6 lack openat2: walk one component at a time and refuse symlinks
 * and "..", the other option the OCI runtimes use. Returns -1 with errno set. */
static int open_in_root_walk(int root, const char *path) {
    char *copy = strdup(path);
    if (copy == NULL)
        ci_die(CI_EXIT_SETUP, ENOMEM, "strdup");
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); cur >= 0 && c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        int next = -1;
        struct stat st;
        if (!strcmp(c, ".."))
            errno = EXDEV;
        else if ((next = openat(cur, c, O_PATH | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
                 fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(next);
            next = -1;
            errno = ELOOP;
        }
        int e = errno;
        close(cur);
        cur = next;
        errno = e;
    }
    free(copy);
    return cur;
}

/* O_PATH fd for `path` inside `root`, resolved as if `root` were "/". -1 and errno. */
static int open_in_root(int root, const char *path) {
    static int no_openat2;
    if (!no_openat2) {
        struct ci_open_how how = {
            .flags = O_PATH | O_CLOEXEC,
            .resolve = CI_RESOLVE_IN_ROOT | CI_RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root, path, &how, sizeof how);
        if (fd >= 0 || errno != ENOSYS)
            return (int)fd;
        no_openat2 = 1;
    }
    return open_in_root_walk(root, path);
}

/* Like open_in_root, but creates what is missing (as runc does for mount destinations):
 * directories for every component, and for the last a directory or an empty file. Each
 * new entry is made inside its already-resolved parent, never by host path. */
static int resolve(int root, const char *path, enum ci_kind kind) {
    int fd = open_in_root(root, path);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT || kind == CI_EXISTING)
        ci_fail("open(%s in the container)", path);

    size_t len = strlen(path);
    char *copy = ci_xmalloc(len + 1), *prefix = ci_xmalloc(len + 2);
    memcpy(copy, path, len + 1);
    prefix[0] = '\0';
    size_t plen = 0;
    int parent = fcntl(root, F_DUPFD_CLOEXEC, 0);
    if (parent < 0)
        ci_fail("fcntl(F_DUPFD_CLOEXEC)");
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        plen += (size_t)sprintf(prefix + plen, "/%s", c); /* bounded: prefix <= path */
        int last = save == NULL || save[strspn(save, "/")] == '\0';
        fd = open_in_root(root, prefix);
        if (fd < 0) {
            if (errno != ENOENT)
                ci_fail("open(%s in the container)", prefix);
            if (last && kind == CI_FILE) {
                int f = openat(parent, c, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0)
                    ci_fail("create(%s in the container)", prefix);
                close(f);
            } else if (mkdirat(parent, c, 0755) < 0) {
                if (errno == EEXIST) /* it exists but does not resolve: a dangling symlink */
                    ci_die(CI_EXIT_SETUP, 0, "mkdir(%s in the container): dangling symlink, refusing to create through it", prefix);
                ci_fail("mkdir(%s in the container)", prefix);
            }
            fd = open_in_root(root, prefix);
            if (fd < 0)
                ci_fail("open(%s in the container)", prefix);
        }
        close(parent);
        parent = fd;
    }
    free(copy);
    free(prefix);
    return parent;
}

/* ---------------------------------------------------------------- mount helpers */

/* Resolve dst (creating it as `kind`) and mount there. */
static void mount_in(int root, const char *dst, enum ci_kind kind, const char *src,
                     const char *type, unsigned long flags, const char *data) {
    int fd = resolve(root, dst, kind);
    if (mount(src, fdpath(fd).s, type, flags, data) < 0)
        ci_fail("mount(%s on %s)", type ? type : src, dst);
    close(fd);
}

/* Make the mount at fd read-only (per-mount flag; the filesystem stays rw underneath). */
static void readonly_fd(int fd, int recursive, const char *what) {
    struct ci_mount_attr a = {.attr_set = CI_MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? CI_AT_RECURSIVE : 0),
                &a, sizeof a) == 0)
        return;
    if (errno != ENOSYS)
        ci_fail("mount_setattr(%s, MOUNT_ATTR_RDONLY)", what);
    /* Before Linux 5.12 (and then not recursive): a bind remount replaces the per-mount
     * flags, so restate the ones already set or they would be cleared (runc does too). */
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        ci_fail("statvfs(%s)", what);
    unsigned long keep = 0;
    if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
    if (mount(NULL, fdpath(fd).s, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
        ci_fail("mount(remount read-only %s)", what);
}

/* Re-resolve after mounting: an fd opened before the mount still points underneath it. */
static void readonly_in(int root, const char *dst) {
    int fd = resolve(root, dst, CI_EXISTING);
    readonly_fd(fd, 1, dst);
    close(fd);
}

/* ---------------------------------------------------------------- root filesystem */

/* The kernel log of a failed fs context says which option it disliked ("e overlay: ..."). */
static noreturn void fsconfig_fail(int fs, const char *what) {
    int e = errno;
    char log[512];
    ssize_t n = read(fs, log, sizeof log - 1);
    while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' '))
        n--;
    if (n > 0) {
        log[n] = '\0';
        ci_die(CI_EXIT_SETUP, e, "%s [%s]", what, log);
    }
    ci_die(CI_EXIT_SETUP, e, "%s", what);
}

/* One path parameter of an overlay fs context. Relative paths resolve against our cwd. */
static void fsconfig_path(int fs, const char *key, const char *dir, const char *path, int first) {
    if (strlen(path) <= CI_FSCONFIG_STRING_MAX) {
        if (syscall(SYS_fsconfig, fs, CI_FSCONFIG_SET_STRING, key, path, 0) < 0) {
            /* EINVAL on the very first lowerdir+ is a kernel that does not know the key */
            char *what = ci_xasprintf("fsconfig(overlay %s=%s)%s", key, path,
                errno == EINVAL && first ? " (lowerdir+ needs Linux 6.8)" : "");
            fsconfig_fail(fs, what);
        }
        return;
    }
    /* Too long for a string value: pass the directory as an fd (Linux 6.13+). */
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        ci_fail("open(%s, below %s)", path, dir);
    if (syscall(SYS_fsconfig, fs, CI_FSCONFIG_SET_FD, key, NULL, fd) < 0) {
        char *what = ci_xasprintf("fsconfig(overlay %s by fd, for a path over %d bytes%s)", key,
            CI_FSCONFIG_STRING_MAX, errno == EINVAL ? ", needs Linux 6.13" : "");
        fsconfig_fail(fs, what);
    }
    close(fd);
}

/* The layers one by one through the new mount API: no limit on the total, and a failure
 * comes with the kernel's reason. Returns -1 only for ENOSYS (kernel before 5.2) so the
 * caller can report the mount(2) attempt instead; every other failure is fatal. */
static int overlay_fsconfig(const struct ci_config *c, const char *const *rel, const char *dir) {
    int fs = (int)syscall(SYS_fsopen, "overlay", CI_FSOPEN_CLOEXEC);
    if (fs < 0 && errno == ENOSYS)
        return -1;
    if (fs < 0)
        ci_fail("fsopen(overlay)");
    for (size_t i = 0; i < c->lowers.n; i++)
        fsconfig_path(fs, "lowerdir+", dir, rel[i], i == 0);
    if (c->upper) {
        fsconfig_path(fs, "upperdir", dir, c->upper, 0);
        fsconfig_path(fs, "workdir", dir, c->work, 0);
    }
    if (syscall(SYS_fsconfig, fs, CI_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        fsconfig_fail(fs, "fsconfig(overlay, create)");
    /* nodev: device nodes shipped in an image's layers must not open host devices
     * (the container's /dev is a separate tmpfs). 0x4 is MOUNT_ATTR_NODEV. */
    int mnt = (int)syscall(SYS_fsmount, fs, CI_FSMOUNT_CLOEXEC, 0x4);
    if (mnt < 0)
        fsconfig_fail(fs, "fsmount(overlay)");
    if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, c->rootfs, CI_MOVE_MOUNT_F_EMPTY_PATH) < 0)
        ci_fail("move_mount(overlay to %s)", c->rootfs);
    close(mnt);
    close(fs);
    return 0;
}

/*
 * The mount(2) option string is limited to one page, and every layer costs its path
 * plus a colon. Like Docker (which chdirs into its overlay2 directory and uses short
 * names), lower paths are made relative to their longest common parent directory, and we
 * chdir there: overlayfs resolves relative layer paths against the caller's cwd. When
 * even that does not fit (100 layers named by 64-hex chain IDs do not), or mount(2)
 * fails, the layers go one by one through fsconfig(2) "lowerdir+" (Linux 6.8+), which
 * has no total limit and whose failures carry the kernel's reason.
 */
static void mount_overlay(const struct ci_config *c) {
    size_t n = c->lowers.n;
    const char *first = c->lowers.v[0];
    size_t plen = (size_t)(strrchr(first, '/') - first); /* dirname of the first layer */
    for (size_t i = 0; i < n; i++) {
        const char *l = c->lowers.v[i];
        if (l[0] != '/' || l[1] == '\0')
            ci_die(CI_EXIT_SETUP, 0, "lower=%s: must be an absolute path below /", l);
        /* shrink to the previous '/' of `first` until l lies strictly below it */
        while (plen > 0 && !(strncmp(l, first, plen) == 0 && l[plen] == '/' && l[plen + 1] != '\0')) {
            plen--;
            while (plen > 0 && first[plen] != '/')
                plen--;
        }
    }
    char *dir = plen ? strndup(first, plen) : strdup("/");
    if (dir == NULL)
        ci_die(CI_EXIT_SETUP, ENOMEM, "strndup");
    if (chdir(dir) < 0)
        ci_fail("chdir(%s)", dir);

    const char **rel = ci_xmalloc(n * sizeof *rel);
    size_t need = strlen("lowerdir=") + 1;
    int special = 0; /* ',' '\' ':' would need mount(2) option escaping */
    for (size_t i = 0; i < n; i++) {
        rel[i] = c->lowers.v[i] + plen + 1;
        need += strlen(rel[i]) + 1;
        special |= strpbrk(rel[i], ",:\\") != NULL;
    }
    if (c->upper) {
        need += strlen(",upperdir=,workdir=") + strlen(c->upper) + strlen(c->work);
        special |= strpbrk(c->upper, ",:\\") || strpbrk(c->work, ",:\\");
    }
    long page = sysconf(_SC_PAGESIZE);
    int mount_errno = 0;
    if (!special && page > 0 && need <= (size_t)page) {
        char *opts = ci_xmalloc(need), *p = opts;
        p += sprintf(p, "lowerdir=");
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s%s", i ? ":" : "", rel[i]);
        if (c->upper)
            sprintf(p, ",upperdir=%s,workdir=%s", c->upper, c->work);
        if (mount("overlay", c->rootfs, "overlay", MS_NODEV, opts) < 0)
            mount_errno = errno;
        free(opts);
        if (mount_errno == 0)
            goto done;
    }
    if (overlay_fsconfig(c, rel, dir) < 0) { /* ENOSYS */
        if (mount_errno)
            ci_die(CI_EXIT_SETUP, mount_errno, "mount(overlay on %s, %zu lowers below %s)", c->rootfs, n, dir);
        ci_die(CI_EXIT_SETUP, 0, "overlay: %zu layers need %zu bytes of mount options, more than "
               "the %ld-byte page, and this kernel has no fsopen(2)", n, need, page);
    }
done:
    free(rel);
    free(dir);
}

/* runc's defaults (libcontainer/specconv Example + docker's oci defaults). */
static const char *const masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* runc binds the console pty over /dev/console. Ours was opened by the parent in the
 * host's mount namespace, and a bind source must be a mount of ours (mount(2) EINVAL),
 * so bind our copy of its path, after checking that it is the same inode. */
static void bind_console(int root) {
    char path[64]; /* "/dev/pts/N"; anything longer is not a devpts slave we can use */
    struct stat st0, stp;
    ssize_t n = readlink("/proc/self/fd/0", path, sizeof path);
    if (n <= 0 || (size_t)n >= sizeof path || fstat(0, &st0) < 0 || !isatty(0))
        return; /* no usable tty on stdin: nothing to show as console */
    path[n] = '\0';
    if (stat(path, &stp) < 0 || stp.st_rdev != st0.st_rdev || stp.st_dev != st0.st_dev)
        return; /* the pty is not reachable by path here (another devpts instance) */
    mount_in(root, "/dev/console", CI_FILE, path, NULL, MS_BIND, NULL);
}

static void setup_dev(int root, const struct ci_config *c) {
    /* runc's /dev: a small tmpfs with the OCI default devices (runtime-spec config-linux.md) */
    mount_in(root, "/dev", CI_DIR, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    int dev = resolve(root, "/dev", CI_EXISTING);
    static const struct { const char *name; unsigned maj, min; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
        if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
            ci_fail("mknod(/dev/%s)", nodes[i].name);
    static const struct { const char *target, *name; } links[] = {
        {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
    };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++)
        if (symlinkat(links[i].target, dev, links[i].name) < 0)
            ci_fail("symlink(/dev/%s)", links[i].name);
    close(dev);
    mount_in(root, "/dev/pts", CI_DIR, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mount_in(root, "/dev/shm", CI_DIR, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    mount_in(root, "/dev/mqueue", CI_DIR, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    if (c->tty)
        bind_console(root);
}

static void setup_masks(int root) {
    for (size_t i = 0; i < sizeof masked_paths / sizeof *masked_paths; i++) {
        const char *p = masked_paths[i];
        int fd = open_in_root(root, p);
        if (fd < 0 && errno == ENOENT)
            continue; /* not on this kernel */
        if (fd < 0)
            ci_fail("open(%s in the container)", p);
        struct stat st;
        if (fstat(fd, &st) < 0)
            ci_fail("fstat(%s)", p);
        /* runc maskPath: an empty read-only tmpfs over directories, /dev/null over files */
        int r = S_ISDIR(st.st_mode) ? mount("tmpfs", fdpath(fd).s, "tmpfs", MS_RDONLY, NULL)
                                    : mount("/dev/null", fdpath(fd).s, NULL, MS_BIND, NULL);
        if (r < 0)
            ci_fail("mount(mask %s)", p);
        close(fd);
    }
    for (size_t i = 0; i < sizeof readonly_paths / sizeof *readonly_paths; i++) {
        const char *p = readonly_paths[i];
        int fd = open_in_root(root, p);
        if (fd < 0 && errno == ENOENT)
            continue;
        if (fd < 0)
            ci_fail("open(%s in the container)", p);
        if (mount(fdpath(fd).s, fdpath(fd).s, NULL, MS_BIND | MS_REC, NULL) < 0)
            ci_fail("mount(bind %s on itself)", p);
        close(fd);
        readonly_in(root, p);
    }
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the
 * container's tree without needing a put_old directory (runc's pivotRoot). */
static void pivot(int root, const char *rootfs) {
    if (fchdir(root) < 0)
        ci_fail("chdir(%s)", rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        ci_fail("pivot_root(%s)", rootfs);
    /* Everything is already private; rslave is runc's belt and braces so the detach
     * can never propagate to the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        ci_fail("mount(make old root rslave)");
    if (umount2(".", MNT_DETACH) < 0)
        ci_fail("umount2(old root, MNT_DETACH)");
    if (chdir("/") < 0)
        ci_fail("chdir(/)");
}

void ci_setup_rootfs(const struct ci_config *c) {
    umask(0); /* modes below are meant literally (devices 0666, dirs 0755) */
    /* unshare(CLONE_NEWNS) copied the host's shared mounts into peer groups with the
     * host's: without this, our mounts would propagate back (mount_namespaces(7)). */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        ci_fail("mount(make / rprivate)");
    if (c->lowers.n > 0)
        mount_overlay(c);
    else if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        ci_fail("mount(bind %s on itself)", c->rootfs); /* pivot_root needs a mount point */
    int root = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        ci_fail("open(%s)", c->rootfs);

    mount_in(root, "/proc", CI_DIR, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    setup_dev(root, c);
    if (strcmp(c->net, "host")) {
        mount_in(root, "/sys", CI_DIR, "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    } else {
        /* sysfs shows the network devices of the mounter's net namespace: with the host's
         * namespace, runc binds the host's /sys (read-only) instead of a fresh instance. */
        mount_in(root, "/sys", CI_DIR, "/sys", NULL, MS_BIND | MS_REC, NULL);
        readonly_in(root, "/sys");
    }
    for (size_t i = 0; i < c->n_mounts; i++) {
        const struct ci_mount *m = &c->mounts[i];
        struct stat st;
        if (stat(m->src, &st) < 0)
            ci_fail("stat(%s)", m->src);
        mount_in(root, m->dst, S_ISDIR(st.st_mode) ? CI_DIR : CI_FILE, m->src, NULL, MS_BIND | MS_REC, NULL);
        if (m->readonly)
            readonly_in(root, m->dst);
    }
    setup_masks(root); /* last, so no mount above can uncover a masked path */

    pivot(root, c->rootfs);
    close(root);

    /* runc creates a missing cwd, before the root turns read-only. */
    root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        ci_fail("open(/)");
    close(resolve(root, c->cwd, CI_DIR));
    if (c->readonly)
        readonly_fd(root, 0, "/"); /* not recursive: /proc, /dev and binds keep their own */
    close(root);
    /* As root, before the credentials change: like runc, a cwd the user cannot search
     * still works (runc retries after setuid only if this fails). */
    if (chdir(c->cwd) < 0)
        ci_fail("chdir(%s)", c->cwd);
}
