/*
 * The last steps before execve, shared by run and exec: resource limits, session and
 * controlling tty, credentials, capabilities, no_new_privs, fd and signal hygiene, and a
 * PATH search inside the container.
 */
#define _GNU_SOURCE
#include "container_init_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define CI_CLOSE_RANGE_CLOEXEC (1u << 2) /* <linux/close_range.h>, Linux 5.11 */

#define CI_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---------------------------------------------------------------- rlimits */

static const struct { const char *name; int resource; } rlimit_names[] = {
    {"CPU", RLIMIT_CPU}, {"FSIZE", RLIMIT_FSIZE}, {"DATA", RLIMIT_DATA},
    {"STACK", RLIMIT_STACK}, {"CORE", RLIMIT_CORE}, {"RSS", RLIMIT_RSS},
    {"NPROC", RLIMIT_NPROC}, {"NOFILE", RLIMIT_NOFILE}, {"MEMLOCK", RLIMIT_MEMLOCK},
    {"AS", RLIMIT_AS}, {"LOCKS", RLIMIT_LOCKS}, {"SIGPENDING", RLIMIT_SIGPENDING},
    {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"NICE", RLIMIT_NICE}, {"RTPRIO", RLIMIT_RTPRIO},
    {"RTTIME", RLIMIT_RTTIME},
};

/* "NOFILE", "nofile" or "RLIMIT_NOFILE" (docker's --ulimit uses lower case). */
int ci_rlimit_by_name(const char *name) {
    if (strncasecmp(name, "RLIMIT_", 7) == 0)
        name += 7;
    for (size_t i = 0; i < sizeof rlimit_names / sizeof *rlimit_names; i++)
        if (strcasecmp(name, rlimit_names[i].name) == 0)
            return rlimit_names[i].resource;
    return -1;
}

static const char *rlimit_name(int resource) {
    for (size_t i = 0; i < sizeof rlimit_names / sizeof *rlimit_names; i++)
        if (rlimit_names[i].resource == resource)
            return rlimit_names[i].name;
    return "?";
}

static void apply_rlimits(const struct ci_config *c) {
    /* Docker's default daemon config gives containers NOFILE 1048576. */
    static const struct ci_rlimit dflt = {RLIMIT_NOFILE, 1048576, 1048576};
    const struct ci_rlimit *l = c->n_rlimits ? c->rlimits : &dflt;
    size_t n = c->n_rlimits ? c->n_rlimits : 1;
    for (size_t i = 0; i < n; i++) {
        struct rlimit want = {.rlim_cur = l[i].soft, .rlim_max = l[i].hard};
        if (want.rlim_cur > want.rlim_max)
            want.rlim_cur = want.rlim_max;
        if (setrlimit(l[i].resource, &want) == 0)
            continue;
        /* Raising a hard limit needs CAP_SYS_RESOURCE (NOFILE also fs.nr_open), which
         * root lacks in many sandboxes, this machine included: clamp instead of failing. */
        struct rlimit cur;
        if (errno != EPERM || getrlimit(l[i].resource, &cur) < 0)
            ci_fail("setrlimit(%s)", rlimit_name(l[i].resource));
        if (want.rlim_max > cur.rlim_max)
            want.rlim_max = cur.rlim_max;
        if (want.rlim_cur > want.rlim_max)
            want.rlim_cur = want.rlim_max;
        if (setrlimit(l[i].resource, &want) < 0)
            ci_fail("setrlimit(%s, %llu, %llu)", rlimit_name(l[i].resource),
                    (unsigned long long)want.rlim_cur, (unsigned long long)want.rlim_max);
    }
}

/* ---------------------------------------------------------------- credentials */

/* runc's default set (libcontainer/specconv.Example), which docker also uses. */
static const uint64_t default_caps =
    1ull << CAP_CHOWN | 1ull << CAP_DAC_OVERRIDE | 1ull << CAP_FSETID | 1ull << CAP_FOWNER |
    1ull << CAP_MKNOD | 1ull << CAP_NET_RAW | 1ull << CAP_SETGID | 1ull << CAP_SETUID |
    1ull << CAP_SETFCAP | 1ull << CAP_SETPCAP | 1ull << CAP_NET_BIND_SERVICE |
    1ull << CAP_SYS_CHROOT | 1ull << CAP_KILL | 1ull << CAP_AUDIT_WRITE;

/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability; unlike
 * /proc/sys/kernel/cap_last_cap it needs no /proc. */
static int last_cap(void) {
    int cap = 0;
    while (cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0)
        cap++;
    return cap - 1;
}

/*
 * Order matters (capabilities(7)): drop from the bounding set while we still have
 * CAP_SETPCAP; keep the permitted set across setuid with PR_SET_KEEPCAPS; change ids
 * while CAP_SETUID/SETGID are still effective; only then capset the final sets.
 */
static void set_credentials(const struct ci_config *c) {
    int last = last_cap();
    uint64_t keep = c->caps_set ? c->caps : default_caps;
    if (last < 63)
        keep &= (1ull << (last + 1)) - 1; /* numbers this kernel does not know */
    for (int cap = 0; cap <= last; cap++)
        if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            ci_fail("prctl(PR_CAPBSET_DROP, %d)", cap);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        ci_fail("prctl(PR_SET_KEEPCAPS)");
    if (setgroups(c->n_groups, c->groups) < 0)
        ci_fail("setgroups(%zu groups)", c->n_groups);
    if (setresgid(c->gid, c->gid, c->gid) < 0)
        ci_fail("setresgid(%u)", (unsigned)c->gid);
    if (setresuid(c->uid, c->uid, c->uid) < 0)
        ci_fail("setresuid(%u)", (unsigned)c->uid);

    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    /* Inheritable stays empty (CVE-2022-24769) and nothing is made ambient: as with docker,
     * a non-root user keeps the bounding set but loses every capability at execve, so
     * `-u 1000` cannot override file permissions or change its uid. */
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        data[i].effective = data[i].permitted = (uint32_t)(keep >> (32 * i));
    if (syscall(SYS_capset, &hdr, data) < 0)
        ci_fail("capset");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        ci_fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)"); /* EINVAL: kernel before 4.3, none to clear */
    (void)last;
}

/* ---------------------------------------------------------------- hygiene */

/* Nothing but stdio may reach the container. CLOEXEC rather than close: the error pipe
 * must stay usable until execve succeeds. */
static void cloexec_from_3(void) {
    if (syscall(SYS_close_range, 3, ~0u, CI_CLOSE_RANGE_CLOEXEC) == 0)
        return;
    if (errno != ENOSYS && errno != EINVAL)
        ci_fail("close_range(3, ~0, CLOSE_RANGE_CLOEXEC)");
    DIR *d = opendir("/proc/self/fd"); /* kernels before 5.11 */
    if (d == NULL)
        ci_fail("opendir(/proc/self/fd)");
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dirfd(d) && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
            ci_fail("fcntl(%d, F_SETFD, FD_CLOEXEC)", fd);
    }
    closedir(d);
}

/* execve keeps ignored signals ignored and the signal mask as is (signal(7)); the Swift
 * parent ignores SIGPIPE and supervise() blocked the forwarded ones. A container starts
 * from defaults, as under docker. */
static void reset_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &sa, NULL); /* EINVAL for glibc's reserved RT signals */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        ci_fail("sigprocmask");
}

/* ---------------------------------------------------------------- exec */

/* docker: 127 when the command is not found, 126 when it cannot be invoked. */
static int exec_exit_code(int err) {
    switch (err) {
    case ENOENT: case ENOTDIR:
        return CI_EXIT_NOTFOUND;
    case EACCES: case EPERM: case ENOEXEC: case EISDIR: case ETXTBSY: case ELIBBAD:
        return CI_EXIT_NOEXEC;
    default:
        return CI_EXIT_SETUP;
    }
}

/* The PATH search of execvpe(3), but with the PATH of the container's environment
 * (execvpe would use ours) and without its /bin/sh fallback on ENOEXEC. */
static noreturn void do_exec(const struct ci_config *c) {
    char *const *argv = c->args.v, *const *envp = c->env.v;
    const char *file = argv[0];
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        int e = errno;
        ci_die(exec_exit_code(e), e, "execve(%s)", file);
    }
    if (*file == '\0')
        ci_die(CI_EXIT_NOTFOUND, ENOENT, "execve(\"\")");
    const char *path = CI_DEFAULT_PATH;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    size_t flen = strlen(file);
    int saw_eacces = 0;
    for (const char *p = path;;) {
        const char *colon = strchrnul(p, ':');
        size_t dlen = (size_t)(colon - p);
        char *cand = ci_xmalloc(dlen + flen + 2);
        if (dlen == 0) { /* an empty element is the current directory */
            memcpy(cand, file, flen + 1);
        } else {
            memcpy(cand, p, dlen);
            cand[dlen] = '/';
            memcpy(cand + dlen + 1, file, flen + 1);
        }
        execve(cand, argv, envp);
        switch (errno) {
        case EACCES:
            saw_eacces = 1;
            break;
        case ENOENT: case ENOTDIR: case ESTALE: case ELOOP: case ENAMETOOLONG: case ENODEV: case ETIMEDOUT:
            break; /* try the next directory, as execvpe does */
        default: {
            int e = errno;
            ci_die(exec_exit_code(e), e, "execve(%s)", cand);
        }
        }
        free(cand);
        if (*colon == '\0')
            break;
        p = colon + 1;
    }
    if (saw_eacces)
        ci_die(CI_EXIT_NOEXEC, EACCES, "execve(%s)", file);
    ci_die(CI_EXIT_NOTFOUND, 0, "execve(%s): executable file not found in $PATH", file);
}

noreturn void ci_finalize_and_exec(const struct ci_config *c) {
    apply_rlimits(c); /* before setuid: raising needs privilege */
    /* A new session detaches from the parent's terminal; with a tty, its slave on fd 0
     * becomes the controlling terminal (runc does the same for its console). */
    if (setsid() < 0)
        ci_fail("setsid");
    if (c->tty && ioctl(0, TIOCSCTTY, 0) < 0)
        ci_fail("ioctl(stdin, TIOCSCTTY)");
    set_credentials(c);
    if (c->nonewprivs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        ci_fail("prctl(PR_SET_NO_NEW_PRIVS)");
    umask(022); /* runc's default umask for the container process */
    cloexec_from_3();
    reset_signals();
    do_exec(c);
}
