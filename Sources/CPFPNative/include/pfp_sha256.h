#ifndef PFP_SHA256_H
#define PFP_SHA256_H
#include <stddef.h>
#include <stdint.h>

/// Streaming SHA-256 state. Feed any number of bytes with pfp_sha256_update.
typedef struct {
    uint32_t state[8];
    uint64_t length;      /* bytes hashed so far */
    uint8_t buffer[64];
    size_t buffered;
} pfp_sha256_ctx;

void pfp_sha256_init(pfp_sha256_ctx *ctx);
void pfp_sha256_update(pfp_sha256_ctx *ctx, const void *data, size_t len);
void pfp_sha256_final(pfp_sha256_ctx *ctx, uint8_t out[32]);

/// 1 when the SHA-NI path is in use on this CPU, 0 for the portable one.
int pfp_sha256_uses_shani(void);
/// Force the portable path (tests compare both paths on the same input).
void pfp_sha256_force_portable(int on);

#endif
