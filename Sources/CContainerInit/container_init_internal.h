/* Private declarations shared by the files of CContainerInit (not part of the module). */
#ifndef BERTH_CONTAINER_INIT_INTERNAL_H
#define BERTH_CONTAINER_INIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Nothing here is part of the program's symbol interface. */
#pragma GCC visibility push(hidden)

/* Exit codes, as docker uses them: 125 the runtime failed, 126 the command could not be
 * invoked, 127 the command was not found. */
enum { CI_EXIT_SETUP = 125, CI_EXIT_NOEXEC = 126, CI_EXIT_NOTFOUND = 127 };

struct ci_list {
    char **v; /* always NULL-terminated (execve wants that) */
    size_t n, cap;
};

struct ci_mount {
    char *src, *dst;
    int readonly;
};

struct ci_rlimit {
    int resource;
    rlim_t soft, hard;
};

struct ci_config {
    int exec_mode;
    /* run */
    const char *rootfs, *upper, *work, *hostname, *net;
    struct ci_list lowers;
    struct ci_mount *mounts; /* mount= and file= in config order */
    size_t n_mounts;
    int readonly;
    /* exec */
    pid_t pid;
    /* both */
    const char *cwd;
    struct ci_list env, args;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t n_groups;
    int groups_set, tty, nonewprivs;
    uint64_t caps;
    int caps_set;
    struct ci_rlimit *rlimits;
    size_t n_rlimits;
};

/* Report "E<message>" through the current error channel and _exit(code). When err is
 * not 0, ": strerror(err)" is appended. Before the fork the channel is the parent's
 * socket; in the container process it is the CLOEXEC pipe to the intermediate. */
noreturn void ci_die(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Shorthand for the common case: a failed call, exit 125, errno appended. */
#define ci_fail(...) ci_die(CI_EXIT_SETUP, errno, __VA_ARGS__)

void *ci_xmalloc(size_t n);
char *ci_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* container_fs.c: everything from making / private to pivot_root and the read-only root. */
void ci_setup_rootfs(const struct ci_config *c);

/* container_exec.c: rlimits, session/tty, credentials, capabilities, no_new_privs, fd
 * hygiene, signal reset and execve with a PATH search. Run with cwd already set. */
noreturn void ci_finalize_and_exec(const struct ci_config *c);
int ci_rlimit_by_name(const char *name);

#pragma GCC visibility pop

#endif
