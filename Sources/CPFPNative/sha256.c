// SHA-256 (FIPS 180-4). Two block functions: a portable one and, on x86-64
// CPUs that have them, the SHA extensions (SHA-NI). The choice is made once at
// run time; both are tested against the same known vectors.
#include "pfp_sha256.h"
#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
    0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
    0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
    0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
    0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
    0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
    0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
    0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_portable(uint32_t s[8], const uint8_t *p, size_t nblocks) {
    while (nblocks--) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
            w[i] = ((uint32_t)p[4*i] << 24) | ((uint32_t)p[4*i+1] << 16) | ((uint32_t)p[4*i+2] << 8) | p[4*i+3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3);
            uint32_t s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
            w[i] = w[i-16] + s0 + w[i-7] + s1;
        }
        uint32_t a=s[0],b=s[1],c=s[2],d=s[3],e=s[4],f=s[5],g=s[6],h=s[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROR(e,6) ^ ROR(e,11) ^ ROR(e,25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ROR(a,2) ^ ROR(a,13) ^ ROR(a,22)) + ((a & b) ^ (a & c) ^ (b & c));
            h=g; g=f; f=e; e=d+t1; d=c; c=b; b=a; a=t1+t2;
        }
        s[0]+=a; s[1]+=b; s[2]+=c; s[3]+=d; s[4]+=e; s[5]+=f; s[6]+=g; s[7]+=h;
        p += 64;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_SHANI_PATH 1

__attribute__((target("sha,sse4.1")))
static void blocks_shani(uint32_t s[8], const uint8_t *p, size_t nblocks) {
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i TMP = _mm_loadu_si128((const __m128i *)&s[0]);
    __m128i STATE1 = _mm_loadu_si128((const __m128i *)&s[4]);
    TMP = _mm_shuffle_epi32(TMP, 0xB1);          /* CDAB */
    STATE1 = _mm_shuffle_epi32(STATE1, 0x1B);    /* EFGH */
    __m128i STATE0 = _mm_alignr_epi8(TMP, STATE1, 8);    /* ABEF */
    STATE1 = _mm_blend_epi16(STATE1, TMP, 0xF0);         /* CDGH */

    while (nblocks--) {
        __m128i ABEF_SAVE = STATE0, CDGH_SAVE = STATE1, MSG, M0, M1, M2, M3;
        M0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), MASK);
        M1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), MASK);
        M2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), MASK);
        M3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), MASK);

#define ROUNDS4(Mi, k)                                                        \
        MSG = _mm_add_epi32(Mi, _mm_loadu_si128((const __m128i *)&K[k]));    \
        STATE1 = _mm_sha256rnds2_epu32(STATE1, STATE0, MSG);                  \
        MSG = _mm_shuffle_epi32(MSG, 0x0E);                                   \
        STATE0 = _mm_sha256rnds2_epu32(STATE0, STATE1, MSG);
/* Message schedule: Wa = sha256msg2(sha256msg1(Wa, Wb) + alignr(Wd, Wc, 4), Wd) */
#define SCHED(Wa, Wb, Wc, Wd)                                                 \
        Wa = _mm_sha256msg1_epu32(Wa, Wb);                                    \
        Wa = _mm_add_epi32(Wa, _mm_alignr_epi8(Wd, Wc, 4));                   \
        Wa = _mm_sha256msg2_epu32(Wa, Wd);

        ROUNDS4(M0, 0)  ROUNDS4(M1, 4)  ROUNDS4(M2, 8)  ROUNDS4(M3, 12)
        SCHED(M0, M1, M2, M3) ROUNDS4(M0, 16)
        SCHED(M1, M2, M3, M0) ROUNDS4(M1, 20)
        SCHED(M2, M3, M0, M1) ROUNDS4(M2, 24)
        SCHED(M3, M0, M1, M2) ROUNDS4(M3, 28)
        SCHED(M0, M1, M2, M3) ROUNDS4(M0, 32)
        SCHED(M1, M2, M3, M0) ROUNDS4(M1, 36)
        SCHED(M2, M3, M0, M1) ROUNDS4(M2, 40)
        SCHED(M3, M0, M1, M2) ROUNDS4(M3, 44)
        SCHED(M0, M1, M2, M3) ROUNDS4(M0, 48)
        SCHED(M1, M2, M3, M0) ROUNDS4(M1, 52)
        SCHED(M2, M3, M0, M1) ROUNDS4(M2, 56)
        SCHED(M3, M0, M1, M2) ROUNDS4(M3, 60)
#undef ROUNDS4
#undef SCHED
        STATE0 = _mm_add_epi32(STATE0, ABEF_SAVE);
        STATE1 = _mm_add_epi32(STATE1, CDGH_SAVE);
        p += 64;
    }
    TMP = _mm_shuffle_epi32(STATE0, 0x1B);       /* FEBA */
    STATE1 = _mm_shuffle_epi32(STATE1, 0xB1);    /* DCHG */
    STATE0 = _mm_blend_epi16(TMP, STATE1, 0xF0); /* DCBA */
    STATE1 = _mm_alignr_epi8(STATE1, TMP, 8);    /* ABEF */
    _mm_storeu_si128((__m128i *)&s[0], STATE0);
    _mm_storeu_si128((__m128i *)&s[4], STATE1);
}
#endif

static int force_portable = 0;

int pfp_sha256_uses_shani(void) {
#ifdef HAVE_SHANI_PATH
    static int cached = -1;   /* a benign race: every thread computes the same answer */
    if (force_portable) return 0;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
    }
    return cached;
#else
    return 0;
#endif
}

void pfp_sha256_force_portable(int on) { force_portable = on; }

static void blocks(uint32_t s[8], const uint8_t *p, size_t n) {
#ifdef HAVE_SHANI_PATH
    if (pfp_sha256_uses_shani()) { blocks_shani(s, p, n); return; }
#endif
    blocks_portable(s, p, n);
}

void pfp_sha256_init(pfp_sha256_ctx *c) {
    static const uint32_t H0[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,
                                   0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
    memcpy(c->state, H0, sizeof H0);
    c->length = 0;
    c->buffered = 0;
}

void pfp_sha256_update(pfp_sha256_ctx *c, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data;
    c->length += len;
    if (c->buffered) {
        size_t take = 64 - c->buffered;
        if (take > len) take = len;
        memcpy(c->buffer + c->buffered, p, take);
        c->buffered += take; p += take; len -= take;
        if (c->buffered < 64) return;
        blocks(c->state, c->buffer, 1);
        c->buffered = 0;
    }
    if (len >= 64) {
        size_t n = len / 64;
        blocks(c->state, p, n);
        p += n * 64; len -= n * 64;
    }
    if (len) { memcpy(c->buffer, p, len); c->buffered = len; }
}

void pfp_sha256_final(pfp_sha256_ctx *c, uint8_t out[32]) {
    uint64_t bits = c->length * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (c->buffered < 56) ? (56 - c->buffered) : (120 - c->buffered);
    uint8_t lenbe[8];
    for (int i = 0; i < 8; i++) lenbe[i] = (uint8_t)(bits >> (56 - 8 * i));
    uint64_t saved = c->length;
    pfp_sha256_update(c, pad, padlen);
    pfp_sha256_update(c, lenbe, 8);
    c->length = saved;
    for (int i = 0; i < 8; i++) {
        out[4*i] = (uint8_t)(c->state[i] >> 24); out[4*i+1] = (uint8_t)(c->state[i] >> 16);
        out[4*i+2] = (uint8_t)(c->state[i] >> 8); out[4*i+3] = (uint8_t)c->state[i];
    }
}
