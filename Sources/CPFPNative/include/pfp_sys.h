#ifndef PFP_SYS_H
#define PFP_SYS_H
#include <stddef.h>
/// Atomically swaps two paths (renameat2 RENAME_EXCHANGE). 0 on success, -1 with errno set.
int pfp_rename_exchange(const char *a, const char *b);

/// Adds O_DIRECT to an open file's flags (writes then go from this process's
/// buffers to the disk, past the page cache). 0 on success, -1 with errno set
/// where the system or the file system has no O_DIRECT.
int pfp_set_direct(int fd, int on);

/// Starts writing a written range of a file to the disk without waiting for it
/// (sync_file_range SYNC_FILE_RANGE_WRITE; nothing where the system has none): the
/// fsync that ends the file then waits only for the last of it. 0 on success.
int pfp_start_writeback(int fd, long long offset, long long count);

/// Returns the heap memory malloc keeps free to the system (glibc malloc_trim).
void pfp_release_free_memory(void);

/// Large blocks (1 MiB and more) always mapped on their own, so they go back to the
/// system when freed (glibc would otherwise raise that limit as the program frees
/// large blocks, and keep them in its heap).
void pfp_tune_malloc(void);

/// While on, large blocks come from malloc's heap and freed memory stays there
/// for the next allocation (no fresh pages to clear); off goes back to
/// pfp_tune_malloc's settings.
void pfp_reuse_freed_memory(int on);

/// Asks the CPU to bring the cache line at p in (a hint: no fault, no effect on
/// results). For lookups at random in tables far larger than the caches: issued a
/// few lookups ahead, the misses overlap instead of coming one after another.
static inline void pfp_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// Adds 1 to *counter atomically and returns the value before: the next
/// iteration for whichever worker asks first (Parallel.forEach).
static inline long pfp_take_next(long *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }
#endif
/// Blocks smaller than `below` bytes come from the heap and, freed, stay in it
/// for the next allocation (until more than `trimAbove` bytes are free at its
/// top); larger ones are mapped and unmapped. `pfp_reuse_freed_memory(0)` restores
/// the usual settings.
void pfp_hold_freed_blocks(long below, long trimAbove);
