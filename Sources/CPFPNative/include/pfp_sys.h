#ifndef PFP_SYS_H
#define PFP_SYS_H
#include <stddef.h>
/// Atomically swaps two paths (renameat2 RENAME_EXCHANGE). 0 on success, -1 with errno set.
int pfp_rename_exchange(const char *a, const char *b);

/// Copies up to len bytes from fd in to fd out at their file positions, in the
/// kernel (copy_file_range). Bytes copied, or -1 with errno set (ENOSYS, EXDEV...).
long pfp_copy_file_range(int in, int out, size_t len);

/// Returns the heap memory malloc keeps free to the system (glibc malloc_trim).
void pfp_release_free_memory(void);

/// Large blocks (1 MiB and more) always mapped on their own, so they go back to the
/// system when freed (glibc would otherwise raise that limit as the program frees
/// large blocks, and keep them in its heap).
void pfp_tune_malloc(void);
#endif
