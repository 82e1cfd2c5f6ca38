#ifndef PFP_SYS_H
#define PFP_SYS_H
/// Atomically swaps two paths (renameat2 RENAME_EXCHANGE). 0 on success, -1 with errno set.
int pfp_rename_exchange(const char *a, const char *b);
#endif
