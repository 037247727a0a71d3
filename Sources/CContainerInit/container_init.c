/*
 * Container init for `berth run` / `berth exec`, in the manner of runc's nsexec: a
 * constructor that runs before the Swift runtime starts, because unshare(CLONE_NEWNS),
 * setns(CLONE_NEWNS) and a predictable fork need a single-threaded process
 * (see unshare(2), setns(2): EINVAL "the caller is multithreaded").
 *
 * Protocol on the socket named by $_BERTH_INIT_FD (the parent holds the other end):
 *   parent -> init  NUL-terminated "key=value" strings, then one empty string (a lone
 *                   NUL). At most 1 MiB. Keys may repeat. Unknown keys are an error.
 *   init -> parent  lines:
 *     E<message>\n  fatal error; the process then _exit(125), or 126/127 when execve
 *                   failed (permission / not found, as docker). No X follows an E.
 *     N<pid>\n      namespaces exist (pid = this process, host pid namespace). The init
 *                   then reads one byte: 'G' continues; anything else or EOF -> _exit(125)
 *                   silently.
 *     P<pid>\n      host pid of the container process, right after the fork.
 *     R\n           the container process has executed its command (exec succeeded).
 *     X<code>\n     the container process ended: exit status, or 128+signal. The init
 *                   (now the "intermediate") then _exit(code).
 */
#define _GNU_SOURCE
#include "CContainerInit.h"
#include "container_init_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CI_CONFIG_MAX (1u << 20)
#define CI_MESSAGE_MAX 4000 /* longer messages are cut; they are one line for a human */

/* Where ci_die reports: the parent socket (before the fork) or the pipe to the
 * intermediate (in the container process, which no longer holds the socket). */
static int g_err_fd = -1;
static int g_err_is_pipe;
/* The container process, while the intermediate supervises it (0 otherwise). */
static volatile sig_atomic_t g_child;

int berth_container_init_linked(void) { return 1; }

/* ---------------------------------------------------------------- messages */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        /* MSG_NOSIGNAL: a parent that died must not kill us with SIGPIPE mid-report. */
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Lines are the framing of the protocol: a path or strerror with a newline in it must not
 * start a bogus message. */
static void one_line(char *s) {
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

static void send_line(int fd, char tag, const char *text) {
    size_t n = strlen(text);
    char *buf = malloc(n + 3);
    if (buf == NULL)
        _exit(CI_EXIT_SETUP);
    buf[0] = tag;
    memcpy(buf + 1, text, n);
    buf[n + 1] = '\0';
    one_line(buf + 1);
    buf[n + 1] = '\n';
    (void)write_all(fd, buf, n + 2);
    free(buf);
}

static void send_number(int fd, char tag, long v) {
    char buf[32]; /* a long never needs more */
    snprintf(buf, sizeof buf, "%ld", v);
    send_line(fd, tag, buf);
}

noreturn void ci_die(int code, int err, const char *fmt, ...) {
    char msg[CI_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && err != 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
    one_line(msg);
    /* The intermediate failing must not leave an unsupervised container behind. */
    if (g_child > 0)
        kill(g_child, SIGKILL);
    if (g_err_fd < 0) {
        fprintf(stderr, "berth init: %s\n", msg);
    } else if (g_err_is_pipe) {
        /* The intermediate turns this into the E line: first byte is the exit code. */
        char c = (char)code;
        (void)write_all(g_err_fd, &c, 1);
        (void)write_all(g_err_fd, msg, strlen(msg));
    } else {
        send_line(g_err_fd, 'E', msg);
    }
    _exit(code);
}

void *ci_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        ci_die(CI_EXIT_SETUP, ENOMEM, "malloc(%zu)", n);
    return p;
}

char *ci_xasprintf(const char *fmt, ...) {
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        ci_die(CI_EXIT_SETUP, ENOMEM, "vasprintf");
    return s;
}

/* ---------------------------------------------------------------- config */

static void list_add(struct ci_list *l, char *s) {
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            ci_die(CI_EXIT_SETUP, ENOMEM, "realloc");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
}

static void *grow(void *p, size_t count, size_t size) {
    /* count+1 elements; count is bounded by the 1 MiB config, no overflow possible */
    void *q = realloc(p, (count + 1) * size);
    if (q == NULL)
        ci_die(CI_EXIT_SETUP, ENOMEM, "realloc");
    return q;
}

static unsigned long long parse_uint(const char *key, const char *v, unsigned long long max) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > max)
        ci_die(CI_EXIT_SETUP, 0, "config: %s=%s: not a number in 0...%llu", key, v, max);
    return n;
}

static int parse_bool(const char *key, const char *v) {
    if (!strcmp(v, "1") || !strcmp(v, "true"))
        return 1;
    if (!strcmp(v, "0") || !strcmp(v, "false") || !*v)
        return 0;
    ci_die(CI_EXIT_SETUP, 0, "config: %s=%s: expected 1 or 0", key, v);
}

static rlim_t parse_rlim(const char *v) {
    if (!strcmp(v, "unlimited") || !strcmp(v, "-1"))
        return RLIM_INFINITY;
    return (rlim_t)parse_uint("rlimit", v, ULLONG_MAX - 1);
}

/* mount=SRC:DST:ro|rw and file=SRC:DST. Split from the right so that SRC (a host path
 * chosen by berth) may contain ':'; DST may not. */
static void add_mount(struct ci_config *c, char *v, int is_file, const char *key) {
    struct ci_mount m = {0};
    if (!is_file) {
        char *mode = strrchr(v, ':');
        if (mode == NULL)
            ci_die(CI_EXIT_SETUP, 0, "config: %s=%s: expected SRC:DST:ro|rw", key, v);
        *mode++ = '\0';
        if (!strcmp(mode, "ro"))
            m.readonly = 1;
        else if (strcmp(mode, "rw"))
            ci_die(CI_EXIT_SETUP, 0, "config: %s: mode %s is not ro or rw", key, mode);
    } else {
        /* docker makes /etc/hosts & co. writable exactly when the root is (moby
         * container.NetworkMounts: Writable = !ReadonlyRootfs); decided in the fs code. */
        m.readonly = -1;
    }
    char *dst = strrchr(v, ':');
    if (dst == NULL || dst == v || dst[1] != '/')
        ci_die(CI_EXIT_SETUP, 0, "config: %s=%s: expected SRC:/DST", key, v);
    *dst++ = '\0';
    m.src = v;
    m.dst = dst;
    c->mounts = grow(c->mounts, c->n_mounts, sizeof *c->mounts);
    c->mounts[c->n_mounts++] = m;
}

static void set_key(struct ci_config *c, char *key, char *v) {
    if (!strcmp(key, "mode")) {
        if (!strcmp(v, "exec"))
            c->exec_mode = 1;
        else if (strcmp(v, "run"))
            ci_die(CI_EXIT_SETUP, 0, "config: mode=%s: expected run or exec", v);
    } else if (!strcmp(key, "rootfs")) c->rootfs = v;
    else if (!strcmp(key, "lower")) list_add(&c->lowers, v);
    else if (!strcmp(key, "upper")) c->upper = v;
    else if (!strcmp(key, "work")) c->work = v;
    else if (!strcmp(key, "hostname")) c->hostname = v;
    else if (!strcmp(key, "cwd")) c->cwd = v;
    else if (!strcmp(key, "net")) c->net = v;
    else if (!strcmp(key, "env")) list_add(&c->env, v);
    else if (!strcmp(key, "arg")) list_add(&c->args, v);
    else if (!strcmp(key, "readonly")) c->readonly = parse_bool(key, v);
    else if (!strcmp(key, "tty")) c->tty = parse_bool(key, v);
    else if (!strcmp(key, "nonewprivs")) c->nonewprivs = parse_bool(key, v);
    else if (!strcmp(key, "uid")) c->uid = (uid_t)parse_uint(key, v, UINT32_MAX - 1);
    else if (!strcmp(key, "gid")) c->gid = (gid_t)parse_uint(key, v, UINT32_MAX - 1);
    else if (!strcmp(key, "pid")) c->pid = (pid_t)parse_uint(key, v, INT_MAX);
    else if (!strcmp(key, "mount")) add_mount(c, v, 0, key);
    else if (!strcmp(key, "file")) add_mount(c, v, 1, key);
    else if (!strcmp(key, "cap")) {
        /* "cap=" (empty) says "the set is given" without adding one: drop everything. */
        c->caps_set = 1;
        if (*v)
            c->caps |= 1ull << parse_uint(key, v, 63);
    } else if (!strcmp(key, "groups")) {
        c->groups_set = 1;
        for (char *tok, *save = NULL, *s = v; (tok = strtok_r(s, ",", &save)); s = NULL) {
            c->groups = grow(c->groups, c->n_groups, sizeof *c->groups);
            c->groups[c->n_groups++] = (gid_t)parse_uint(key, tok, UINT32_MAX - 1);
        }
    } else if (!strcmp(key, "rlimit")) {
        /* NAME:soft:hard */
        char *soft = strchr(v, ':'), *hard = soft ? strchr(soft + 1, ':') : NULL;
        if (hard == NULL)
            ci_die(CI_EXIT_SETUP, 0, "config: rlimit=%s: expected NAME:soft:hard", v);
        *soft++ = '\0';
        *hard++ = '\0';
        struct ci_rlimit r = {ci_rlimit_by_name(v), parse_rlim(soft), parse_rlim(hard)};
        if (r.resource < 0)
            ci_die(CI_EXIT_SETUP, 0, "config: rlimit %s: unknown resource", v);
        c->rlimits = grow(c->rlimits, c->n_rlimits, sizeof *c->rlimits);
        c->rlimits[c->n_rlimits++] = r;
    } else {
        ci_die(CI_EXIT_SETUP, 0, "config: unknown key %s", key);
    }
}

/* Reads up to and including the terminating empty string. The parent sends nothing else
 * before our N line, so bytes after the terminator are a protocol error, not data to keep. */
static void read_config(int fd, struct ci_config *c) {
    size_t cap = 64 * 1024, len = 0, scanned = 0, end = 0;
    char *buf = ci_xmalloc(cap);
    int found = 0;
    while (!found) {
        if (len == cap) {
            if (cap >= CI_CONFIG_MAX)
                ci_die(CI_EXIT_SETUP, 0, "config: larger than %u bytes", CI_CONFIG_MAX);
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL)
                ci_die(CI_EXIT_SETUP, ENOMEM, "realloc");
            buf = nb;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ci_fail("read(config from fd %d)", fd);
        if (r == 0)
            ci_die(CI_EXIT_SETUP, 0, "config: end of stream before the terminating empty string");
        len += (size_t)r;
        /* A NUL at the start of a string (offset 0 or right after another NUL) ends it. */
        for (; scanned < len; scanned++) {
            if (buf[scanned] == '\0' && (scanned == 0 || buf[scanned - 1] == '\0')) {
                found = 1;
                end = scanned;
                break;
            }
        }
    }
    if (end + 1 != len)
        ci_die(CI_EXIT_SETUP, 0, "config: %zu unexpected bytes after the terminator", len - end - 1);
    for (size_t off = 0; off < end;) {
        char *kv = buf + off;
        off += strlen(kv) + 1;
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            ci_die(CI_EXIT_SETUP, 0, "config: entry without '=': %.200s", kv);
        *eq = '\0';
        set_key(c, kv, eq + 1);
    }
    /* buf stays allocated: the config's strings point into it until execve. */
}

static void validate_config(struct ci_config *c) {
    if (c->args.n == 0)
        ci_die(CI_EXIT_SETUP, 0, "config: no arg= (command) given");
    if (c->env.v == NULL) { /* no env= at all: an empty (NULL-terminated) environment */
        c->env.v = ci_xmalloc(sizeof *c->env.v);
        c->env.v[0] = NULL;
    }
    if (c->cwd == NULL)
        c->cwd = "/";
    if (c->cwd[0] != '/')
        ci_die(CI_EXIT_SETUP, 0, "config: cwd=%s is not absolute", c->cwd);
    if (!c->groups_set) {
        c->groups = grow(NULL, 0, sizeof *c->groups);
        c->groups[0] = c->gid;
        c->n_groups = 1;
    }
    if (c->exec_mode) {
        if (c->pid <= 0)
            ci_die(CI_EXIT_SETUP, 0, "config: mode=exec needs pid=");
        return;
    }
    if (c->rootfs == NULL || c->rootfs[0] != '/')
        ci_die(CI_EXIT_SETUP, 0, "config: rootfs= must be an absolute path");
    if ((c->upper == NULL) != (c->work == NULL))
        ci_die(CI_EXIT_SETUP, 0, "config: upper= and work= go together");
    if (c->upper && c->lowers.n == 0)
        ci_die(CI_EXIT_SETUP, 0, "config: upper= without lower=");
    for (size_t i = 0; i < c->n_mounts; i++)
        if (c->mounts[i].readonly < 0)
            c->mounts[i].readonly = c->readonly;
    if (c->net == NULL)
        c->net = "new";
    if (strcmp(c->net, "new") && strcmp(c->net, "host") && c->net[0] != '/')
        ci_die(CI_EXIT_SETUP, 0, "config: net=%s: expected new, host or a namespace path", c->net);
}

/* ---------------------------------------------------------------- supervision */

static const int g_forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static void forward_signal(int sig) {
    int saved = errno;
    if (g_child > 0)
        kill(g_child, sig);
    errno = saved;
}

static void wait_for_go(int sock) {
    char b;
    ssize_t r;
    do
        r = read(sock, &b, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1 || b != 'G')
        _exit(CI_EXIT_SETUP);
}

/*
 * Fork the container process and become its supervisor ("intermediate"). The child
 * reports setup and execve errors through a CLOEXEC pipe (runc does the same with its
 * sync pipe): EOF without data means execve succeeded.
 */
static noreturn void run_child(const struct ci_config *c);
static noreturn void exec_child(const struct ci_config *c);

static noreturn void supervise(const struct ci_config *c, int sock) {
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        ci_fail("pipe2");
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        ci_fail("open(/dev/null)");

    /* Block the forwarded signals across the fork: one arriving before the handler is
     * installed stays pending and is forwarded as soon as we unblock. */
    sigset_t fwd, old;
    sigemptyset(&fwd);
    for (size_t i = 0; i < sizeof g_forwarded / sizeof *g_forwarded; i++)
        sigaddset(&fwd, g_forwarded[i]);
    if (sigprocmask(SIG_BLOCK, &fwd, &old) < 0)
        ci_fail("sigprocmask");
    /* SIG_IGN survives execve: inherited for SIGCHLD, children would be reaped by the
     * kernel and waitpid would fail with ECHILD (wait(2)). */
    if (signal(SIGCHLD, SIG_DFL) == SIG_ERR)
        ci_fail("signal(SIGCHLD, SIG_DFL)");

    pid_t pid = fork();
    if (pid < 0)
        ci_fail("fork");
    if (pid == 0) {
        close(errpipe[0]);
        close(devnull);
        close(sock);
        g_err_fd = errpipe[1];
        g_err_is_pipe = 1;
        /* both unblock signals right before execve */
        if (c->exec_mode)
            exec_child(c);
        run_child(c);
    }

    close(errpipe[1]);
    g_child = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof g_forwarded / sizeof *g_forwarded; i++)
        if (sigaction(g_forwarded[i], &sa, NULL) < 0)
            ci_fail("sigaction(%d)", g_forwarded[i]);
    if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
        ci_fail("sigprocmask");
    /* Let go of the container's stdio (a pty slave must reach EOF/EIO when the
     * container's processes are gone, not when we are), keeping fds 0-2 occupied. */
    for (int fd = 0; fd <= 2; fd++)
        if (dup2(devnull, fd) < 0)
            ci_fail("dup2(/dev/null, %d)", fd);
    close(devnull);

    send_number(sock, 'P', pid);

    size_t cap = 256, len = 0;
    char *err = ci_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > CI_MESSAGE_MAX * 2)
                break; /* ci_die bounds it; never trust more */
            cap *= 2;
            char *ne = realloc(err, cap);
            if (ne == NULL)
                break;
            err = ne;
        }
        ssize_t r = read(errpipe[0], err + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(errpipe[0]);
    /* EOF without an errno: execve succeeded (the pipe is close-on-exec). */
    if (len == 0)
        send_line(sock, 'R', "");

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            /* ECHILD: cannot happen now that SIGCHLD is not ignored. */
            ci_fail("waitpid(%d)", (int)pid);
        }
    }
    g_child = 0;

    if (len > 0) {
        err[len] = '\0';
        int code = (unsigned char)err[0];
        if (code == 0)
            code = CI_EXIT_SETUP;
        send_line(sock, 'E', len > 1 ? err + 1 : "container process failed during setup");
        _exit(code);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : CI_EXIT_SETUP;
    send_number(sock, 'X', code);
    _exit(code);
}

/* ---------------------------------------------------------------- run */

/* A new network namespace has only a down "lo"; runc and docker bring it up. */
static void loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        ci_fail("socket(AF_INET) for lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        ci_fail("ioctl(lo, SIOCGIFFLAGS)");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        ci_fail("ioctl(lo, SIOCSIFFLAGS IFF_UP)");
    close(s);
}

static noreturn void run_child(const struct ci_config *c) {
    ci_setup_rootfs(c); /* ends inside the new root, cwd set */
    ci_finalize_and_exec(c);
}

static noreturn void run_mode(const struct ci_config *c, int sock) {
    int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID;
    if (!strcmp(c->net, "new")) {
        flags |= CLONE_NEWNET;
    } else if (strcmp(c->net, "host")) {
        int nsfd = open(c->net, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
            ci_fail("open(%s)", c->net);
        if (setns(nsfd, CLONE_NEWNET) < 0)
            ci_fail("setns(%s, CLONE_NEWNET)", c->net);
        close(nsfd);
    }
    if (unshare(flags) < 0)
        ci_fail("unshare(NEWNS|NEWUTS|NEWIPC|NEWPID%s)", (flags & CLONE_NEWNET) ? "|NEWNET" : "");
    if (flags & CLONE_NEWNET)
        loopback_up();
    if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
        ci_fail("sethostname(%s)", c->hostname);

    send_number(sock, 'N', getpid());
    wait_for_go(sock);
    /* Only now: the parent has moved us into the container's cgroups, and a cgroup
     * namespace takes the caller's current cgroups as its root (cgroup_namespaces(7)). */
    if (unshare(CLONE_NEWCGROUP) < 0)
        ci_fail("unshare(CLONE_NEWCGROUP)");
    supervise(c, sock);
}

/* ---------------------------------------------------------------- exec */

static noreturn void exec_child(const struct ci_config *c) {
    /* setns(CLONE_NEWNS) put our root and cwd at the namespace root, i.e. the
     * container's "/" (setns(2)); unlike run, a missing cwd is an error (runc exec). */
    if (chdir(c->cwd) < 0)
        ci_fail("chdir(%s)", c->cwd);
    ci_finalize_and_exec(c);
}

static noreturn void exec_mode(const struct ci_config *c, int sock) {
    /* mnt last: after it, paths (and /proc) are the container's. The pid namespace only
     * applies to children, hence the fork in supervise(). */
    static const struct { const char *name; int type; } ns[] = {
        {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
        {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
    };
    enum { NNS = sizeof ns / sizeof *ns };
    int fds[NNS];
    char procdir[32];
    snprintf(procdir, sizeof procdir, "/proc/%d", (int)c->pid);
    /* Open every namespace through one directory fd so they all belong to the same
     * process even if the pid is recycled meanwhile. */
    int dirfd = open(procdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        ci_fail("open(%s)", procdir);
    for (size_t i = 0; i < NNS; i++) {
        char rel[16], self[32];
        struct stat them, us;
        snprintf(rel, sizeof rel, "ns/%s", ns[i].name);
        snprintf(self, sizeof self, "/proc/self/ns/%s", ns[i].name);
        fds[i] = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            ci_fail("open(%s/%s)", procdir, rel);
        if (fstat(fds[i], &them) < 0)
            ci_fail("fstat(%s/%s)", procdir, rel);
        /* A container sharing the host's namespace (net=host): joining our own is a
         * no-op at best, so skip it. */
        if (stat(self, &us) == 0 && us.st_dev == them.st_dev && us.st_ino == them.st_ino) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    close(dirfd);
    for (size_t i = 0; i < NNS; i++) {
        if (fds[i] < 0)
            continue;
        if (setns(fds[i], ns[i].type) < 0)
            ci_fail("setns(%s/ns/%s)", procdir, ns[i].name);
        close(fds[i]);
    }
    send_number(sock, 'N', getpid());
    wait_for_go(sock);
    supervise(c, sock);
}

/* ---------------------------------------------------------------- entry */

__attribute__((constructor)) static void berth_container_init(void) {
    const char *s = getenv(BERTH_INIT_FD_ENV);
    if (s == NULL)
        return;
    char *end;
    errno = 0;
    long fd = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || fd < 0 || fd > INT_MAX ||
        fcntl((int)fd, F_GETFD) < 0) {
        fprintf(stderr, "berth init: %s=%s is not an open file descriptor\n", BERTH_INIT_FD_ENV, s);
        _exit(CI_EXIT_SETUP);
    }
    int sock = (int)fd;
    /* Nothing we execute may inherit the control socket. */
    if (fcntl(sock, F_SETFD, FD_CLOEXEC) < 0) {
        perror("berth init: fcntl(FD_CLOEXEC)");
        _exit(CI_EXIT_SETUP);
    }
    g_err_fd = sock;

    static struct ci_config c; /* static: zeroed, and lives until execve */
    read_config(sock, &c);
    validate_config(&c);
    if (c.exec_mode)
        exec_mode(&c, sock);
    run_mode(&c, sock);
}
