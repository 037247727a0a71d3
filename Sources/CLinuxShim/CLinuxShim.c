#define _GNU_SOURCE
#include <fcntl.h>
#include "CLinuxShim.h"

int berth_start_writeback(int fd, int64_t offset, int64_t count) {
    return sync_file_range(fd, (off_t)offset, (off_t)count, SYNC_FILE_RANGE_WRITE);
}
