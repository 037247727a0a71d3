#ifndef BERTH_CCONTAINERINIT_H
#define BERTH_CCONTAINERINIT_H

/// Container setup that must run before the Swift runtime exists (like runc's nsexec).
///
/// A constructor in this target runs when the `berth` executable is loaded. If the
/// environment variable named by `BERTH_INIT_FD_ENV` is absent it returns at once and
/// costs nothing. If it is present, its value is the number of an inherited
/// SOCK_STREAM socketpair end; the constructor then reads a container configuration from
/// it, builds the namespaces, mounts and credentials, and never returns: it ends in
/// execve(2) or _exit(2). The protocol spoken on that socket is described at the top of
/// container_init.c.

/// Name of the environment variable that switches the constructor into init mode.
#define BERTH_INIT_FD_ENV "_BERTH_INIT_FD"

/// Always returns 1. The constructor lives in the same object file, so referencing this
/// function from Swift guarantees that object is linked into `berth` even if this target
/// is ever packaged as a static archive (unreferenced archive members are not linked).
int berth_container_init_linked(void);

#endif
