#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include "pfp_sys.h"

int pfp_rename_exchange(const char *a, const char *b) {
#if defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int pfp_set_direct(int fd, int on) {
#if defined(O_DIRECT)
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (fl | O_DIRECT) : (fl & ~O_DIRECT));
#else
    (void)fd; (void)on;
    errno = EINVAL;
    return -1;
#endif
}

int pfp_start_writeback(int fd, long long offset, long long count) {
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    return sync_file_range(fd, (off_t)offset, (off_t)count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    return 0;
#endif
}

void pfp_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

void pfp_tune_malloc(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

void pfp_reuse_freed_memory(int on) {
#if defined(__GLIBC__)
    if (on) {
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    } else {
        mallopt(M_MMAP_MAX, 65536);
        mallopt(M_TRIM_THRESHOLD, 128 * 1024);
        pfp_tune_malloc();
    }
#else
    (void)on;
#endif
}

void pfp_hold_freed_blocks(long below, long trimAbove) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 65536);
    mallopt(M_MMAP_THRESHOLD, (int)below);
    mallopt(M_TRIM_THRESHOLD, (int)trimAbove);
#else
    (void)below;
    (void)trimAbove;
#endif
}
