#ifndef PFP_CRC32C_H
#define PFP_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, the iSCSI/ext4 checksum) of n bytes, continuing from
/// crc (0 to start; pass the previous result to continue a stream). SSE4.2's
/// crc32 instruction where the CPU has it, a table otherwise: same result.
uint32_t pfp_crc32c(uint32_t crc, const void *data, size_t n);

/// 1 when the SSE4.2 path is in use on this CPU, 0 for the portable one.
int pfp_crc32c_uses_hardware(void);
/// Force the portable path (tests compare both paths on the same input).
void pfp_crc32c_force_portable(int on);

#endif
