#ifndef BERTH_CLINUXSHIM_H
#define BERTH_CLINUXSHIM_H
#include <stdint.h>
#include <spawn.h>

/// sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE): start writeback of dirty pages.
/// Glibc's Swift module does not export it (it needs _GNU_SOURCE).
int berth_start_writeback(int fd, int64_t offset, int64_t count);

/// readahead(fd, offset, count): reads the range into the page cache, returning when it is there.
/// Glibc's Swift module does not export it (it needs _GNU_SOURCE).
int berth_read_ahead(int fd, int64_t offset, int64_t count);

/// A new pseudo-terminal pair (posix_openpt, grantpt, unlockpt, ptsname_r, open), both
/// close-on-exec; the XSI pty calls are not exported by Glibc's Swift module.
/// Returns 0, or -1 with errno set.
int berth_open_pty(int *master, int *slave);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the child closes every descriptor from
/// `lowest` up, so supervisors and containers never inherit the caller's stray descriptors.
int berth_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
