#ifndef BERTH_CLINUXSHIM_H
#define BERTH_CLINUXSHIM_H
#include <stdint.h>

/// sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE): start writeback of dirty pages.
/// Glibc's Swift module does not export it (it needs _GNU_SOURCE).
int berth_start_writeback(int fd, int64_t offset, int64_t count);

#endif
